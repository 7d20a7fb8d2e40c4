/* fdlimit.h - making room for as many fds as a run needs (RLIMIT_NOFILE). */
#ifndef FDLIMIT_H
#define FDLIMIT_H

#include <stdbool.h>
#include <sys/resource.h>

/*
 * Raise the soft limit so that `need` fds fit, up to the hard limit; with
 * raise_hard, the hard limit too when we may (root). Never lowers a limit.
 * 0 when they fit; -EMFILE when the hard limit is too low; -errno when the
 * limit cannot be read or set. *hard (may be NULL) gets the hard limit,
 * for a message naming the fix.
 */
int fdlimit_raise(rlim_t need, bool raise_hard, rlim_t *hard);

/*
 * Set the soft limit to `soft`, lowering it if it is higher (a run that
 * asks for fewer fds, as muxserver --nofile does); past the hard limit,
 * to the hard limit, so RLIM_INFINITY takes all the hard limit allows.
 * 0, or -errno when the limit cannot be read or set.
 */
int fdlimit_set(rlim_t soft);

#endif
