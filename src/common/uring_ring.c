/* uring_ring.c - see include/uring_ring.h. */
#include "uring_ring.h"

#ifdef HAVE_LIBURING
#include <errno.h>

int uring_ring_init(struct io_uring *ring, unsigned entries)
{
	struct io_uring_params p = {
		.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
	};
	int err = io_uring_queue_init_params(entries, ring, &p);

	if (err == -EINVAL)
		err = io_uring_queue_init(entries, ring, 0);
	return err;
}

int uring_ring_enter(struct io_uring *ring, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000, .tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int err;

	if (io_uring_cq_ready(ring)) {
		if (!io_uring_sq_ready(ring) && !(ring->flags & IORING_SETUP_DEFER_TASKRUN))
			return 0;	/* the kernel posts completions by itself: nothing to ask for */
		err = io_uring_submit_and_get_events(ring);
	} else {
		err = io_uring_submit_and_wait_timeout(ring, &cqe, 1, timeout_ms < 0 ? NULL : &ts, NULL);
	}
	if (err < 0 && err != -ETIME && err != -EINTR && err != -EAGAIN && err != -EBUSY)
		return err;
	return 1;
}
#endif
