/* mux.c - the backend registry and helpers shared by the backends. */
#include "mux.h"
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

const struct mux_ops *const mux_backends[] = {
	&mux_select_ops,
	&mux_poll_ops,
	&mux_epoll_ops,
	&mux_epoll_et_ops,
	NULL,
};

const struct mux_ops *mux_find(const char *name)
{
	return cli_find((const void *const *)mux_backends, name);
}

const char *mux_names(void)
{
	static char names[256];

	return cli_names((const void *const *)mux_backends, names, sizeof(names));
}

const char *mux_mechanism(const struct mux_ops *ops)
{
	return ops->mechanism ? ops->mechanism : ops->name;
}

int mux_grow(void **arr, size_t *cap, size_t need, size_t elem_size)
{
	size_t new_cap = *cap ? *cap : 64;
	char *p;

	if (need < *cap)
		return 0;
	while (new_cap <= need)
		new_cap *= 2;
	p = realloc(*arr, new_cap * elem_size);
	if (!p)
		return -ENOMEM;
	memset(p + *cap * elem_size, 0, (new_cap - *cap) * elem_size);
	*arr = p;
	*cap = new_cap;
	return 0;
}
