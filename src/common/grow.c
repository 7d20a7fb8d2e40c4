/* grow.c - see include/grow.h. */
#include "grow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int grow_array(void **arr, size_t *cap, size_t need, size_t elem_size)
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
