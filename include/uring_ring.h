/* uring_ring.h - a ring set up the one way both io_uring backends want it. */
#ifndef URING_RING_H
#define URING_RING_H

#ifdef HAVE_LIBURING
#include <liburing.h>

/*
 * One issuer and deferred task work (6.1) where the kernel has them: the
 * completions are then run when the loop enters to wait, not by
 * interrupting it. An older kernel says -EINVAL, and gets a plain ring.
 * 0 or -errno.
 */
int uring_ring_init(struct io_uring *ring, unsigned entries);

/*
 * Submit what is queued and bring completions in, in one io_uring_enter:
 * wait (up to timeout_ms; < 0: forever) only when none is visible yet.
 * When some are, it still enters, without waiting: with deferred task work
 * the kernel posts completions only when asked to (IORING_ENTER_GETEVENTS),
 * and liburing's submit-and-wait does not ask once it sees one, so a loop
 * that always has some left over would never see new ones. Returns 1 when
 * it entered, 0 when there was nothing to do, -errno on failure (a timeout
 * or a signal is no failure).
 */
int uring_ring_enter(struct io_uring *ring, int timeout_ms);
#endif

#endif
