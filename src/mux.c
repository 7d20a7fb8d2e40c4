/* mux.c - the backend registry and helpers shared by the backends. */
#include "mux.h"

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
	for (size_t i = 0; mux_backends[i]; i++)
		if (strcmp(mux_backends[i]->name, name) == 0)
			return mux_backends[i];
	return NULL;
}

const char *mux_names(void)
{
	static char names[256];

	if (names[0])
		return names;
	for (size_t i = 0; mux_backends[i]; i++) {
		if (i)
			strcat(names, ", ");
		strcat(names, mux_backends[i]->name);
	}
	return names;
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
