/* grow.h - arrays indexed by fd number, grown on demand. */
#ifndef GROW_H
#define GROW_H

#include <stddef.h>

/*
 * Grow a zeroed array so that index `need` fits. *arr holds *cap elements of
 * elem_size bytes; new elements are zeroed. 0 or -ENOMEM. Shared by the mux
 * front layer, the backends and the server, which all keep state by fd.
 */
int grow_array(void **arr, size_t *cap, size_t need, size_t elem_size);

#endif
