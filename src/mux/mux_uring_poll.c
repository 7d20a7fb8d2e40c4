/*
 * mux_uring_poll.c - readiness through io_uring(7): one single-shot
 * IORING_OP_POLL_ADD per registered fd ("uring-poll").
 *
 * Level-triggered, as poll(2) is: a single-shot poll request checks the
 * fd's readiness when it is armed and completes at once if the fd is ready
 * already, so re-arming each fd the caller was told about, at the start of
 * the next wait, reports an undrained fd again. (A multishot poll posts a
 * CQE per wake-up of the socket's wait queue, not per state: edge-like,
 * and a caller that stopped reading would hear nothing more; re-arming
 * costs only an SQE, no syscall, so the level contract is kept.)
 *
 * No verb makes a syscall of its own: add and mod only note the fd for
 * arming, mod and del queue a cancel of the poll in flight, and wait
 * submits everything queued and waits in one io_uring_enter. Only a full
 * submission queue costs an extra enter (counted as a ctl call). One
 * consequence: a poll in the kernel holds a reference to its file, so a
 * socket closed after del stays open (no FIN) until the next wait submits
 * the cancel, at the start of the caller's next loop turn.
 *
 * io_uring adds POLLRDHUP (with ERR and HUP) to every poll it is asked
 * for: a peer that has half-closed completes a poll for write room at
 * once, whether there is room or not. Re-armed, that poll would complete
 * again at once, a busy loop for as long as the caller waits to write. So
 * an fd whose poll completed with nothing the caller asked for is parked:
 * armed with a multishot poll, which stays put and speaks again only when
 * the socket wakes up (room to write, say). The first CQE that carries
 * what the caller wants removes it, and single-shot re-arms resume.
 *
 * Each poll carries the fd and a generation in its user_data. del and mod
 * bump the fd's generation, so the CQE of a cancelled poll, or of one that
 * completed while its cancel was on the way, is recognised and dropped;
 * the fd's new poll, armed at the next wait, reports the current state.
 */
#ifdef HAVE_LIBURING	/* the registry lists it only then (src/mux/mux.c) */
#include "mux.h"
#include "grow.h"
#include "poll_bits.h"
#include "uring_ring.h"

#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

/* Submission queue entries: a flush costs one enter per this many SQEs. */
#define RING_ENTRIES 1024

struct uring_fd {
	uint32_t gen;   /* never 0: user_data with generation 0 marks a cancel's own CQE */
	bool armed;     /* a poll for this generation is queued or in the kernel */
	bool queued;    /* on the to_arm list */
	bool parked;    /* armed as multishot: its last poll woke for nothing asked (POLLRDHUP) */
};

struct mux_uring_poll {
	struct mux base;
	struct io_uring ring;
	bool ring_up;
	struct uring_fd *fds;
	size_t fds_cap;
	int *to_arm;    /* fds to (re-)arm at the next wait */
	size_t to_arm_len, to_arm_cap;
};

static struct mux_uring_poll *to_up(struct mux *m)
{
	return (struct mux_uring_poll *)m;
}

static uint64_t user_data(int fd, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint32_t)fd;
}

static void bump(struct uring_fd *s)
{
	if (++s->gen == 0)
		s->gen = 1;
}

static void uring_poll_destroy(struct mux *m)
{
	struct mux_uring_poll *u = to_up(m);

	if (u->ring_up)
		io_uring_queue_exit(&u->ring);
	free(u->fds);
	free(u->to_arm);
	free(u);
}

static struct mux *uring_poll_create(int capacity_hint)
{
	struct mux_uring_poll *u = calloc(1, sizeof(*u));
	size_t hint = capacity_hint > 0 ? (size_t)capacity_hint : 1;
	int err;

	if (!u)
		return NULL;
	err = uring_ring_init(&u->ring, RING_ENTRIES);
	u->ring_up = err == 0;
	if (!err && (grow_array((void **)&u->fds, &u->fds_cap, hint, sizeof(*u->fds)) ||
		     grow_array((void **)&u->to_arm, &u->to_arm_cap, hint, sizeof(int))))
		err = -ENOMEM;
	if (err) {
		uring_poll_destroy(&u->base);
		errno = -err;
		return NULL;
	}
	return &u->base;
}

/* An SQE; when the submission queue is full, what is in it goes to the kernel first. */
static struct io_uring_sqe *get_sqe(struct mux *m)
{
	struct mux_uring_poll *u = to_up(m);
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		m->stats.ctl_calls++;
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	return sqe;
}

static int note_to_arm(struct mux_uring_poll *u, int fd)
{
	if (u->fds[fd].queued)
		return 0;
	if (grow_array((void **)&u->to_arm, &u->to_arm_cap, u->to_arm_len, sizeof(int)))
		return -ENOMEM;
	u->to_arm[u->to_arm_len++] = fd;
	u->fds[fd].queued = true;
	return 0;
}

/* Cancels fd's poll in flight, if any; its CQEs, whatever they say, are dropped by generation. */
static int disarm(struct mux *m, int fd)
{
	struct uring_fd *s = &to_up(m)->fds[fd];
	uint64_t old = user_data(fd, s->gen);
	bool was_armed = s->armed;
	struct io_uring_sqe *sqe;

	bump(s);
	s->armed = false;
	s->parked = false;
	if (!was_armed)
		return 0;
	sqe = get_sqe(m);
	if (!sqe)
		return -EBUSY;	/* it stays in the kernel until it fires; its CQE is dropped */
	/*
	 * A cancel, not a POLL_REMOVE: a poll whose wake-up the kernel has not
	 * processed yet refuses removal (EALREADY), and if it then finds nothing
	 * (the caller read the data itself before closing) it stays armed for
	 * good, holding the closed socket open. A cancel marks it, and the
	 * pending wake-up ends it (del_close_with_wakeup_pending).
	 */
	io_uring_prep_cancel64(sqe, old, 0);
	io_uring_sqe_set_data64(sqe, 0);
	return 0;
}

static int uring_poll_add(struct mux *m, int fd, unsigned interest)
{
	struct mux_uring_poll *u = to_up(m);

	(void)interest;	/* read when the poll is armed */
	/* to_arm holds each fd at most once: sized now, re-arming a registered fd never needs memory. */
	if (grow_array((void **)&u->fds, &u->fds_cap, (size_t)fd, sizeof(*u->fds)) ||
	    grow_array((void **)&u->to_arm, &u->to_arm_cap, u->fds_cap - 1, sizeof(int)))
		return -ENOMEM;
	bump(&u->fds[fd]);
	return note_to_arm(u, fd);
}

static int uring_poll_mod(struct mux *m, int fd, unsigned interest)
{
	int err;

	if (interest == mux_interest(m, fd))
		return 0;
	err = disarm(m, fd);
	return err ? err : note_to_arm(to_up(m), fd);
}

static int uring_poll_del(struct mux *m, int fd)
{
	return disarm(m, fd);
}

/* Queues a poll for every noted fd still registered and not armed. */
static int arm_noted(struct mux *m)
{
	struct mux_uring_poll *u = to_up(m);

	for (size_t i = 0; i < u->to_arm_len; i++) {
		int fd = u->to_arm[i];
		struct uring_fd *s = &u->fds[fd];
		unsigned interest = mux_interest(m, fd);
		struct io_uring_sqe *sqe;

		if (!interest || s->armed) {
			s->queued = false;
			continue;
		}
		sqe = get_sqe(m);
		if (!sqe) {
			/* Those not armed yet stay noted, each once, for the next wait. */
			memmove(u->to_arm, u->to_arm + i, (u->to_arm_len - i) * sizeof(int));
			u->to_arm_len -= i;
			return -EBUSY;
		}
		s->queued = false;
		if (s->parked)
			io_uring_prep_poll_multishot(sqe, fd, (unsigned)to_poll_events(interest));
		else
			io_uring_prep_poll_add(sqe, fd, (unsigned)to_poll_events(interest));
		io_uring_sqe_set_data64(sqe, user_data(fd, s->gen));
		s->armed = true;
	}
	u->to_arm_len = 0;
	return 0;
}

/* One CQE to an event for out; false when it belongs to no live poll. */
static bool reap_one(struct mux *m, const struct io_uring_cqe *cqe, struct mux_event *ev)
{
	struct mux_uring_poll *u = to_up(m);
	uint64_t data = io_uring_cqe_get_data64(cqe);
	int fd = (int)(uint32_t)data;
	uint32_t gen = (uint32_t)(data >> 32);

	struct uring_fd *s;
	bool more = cqe->flags & IORING_CQE_F_MORE;

	if (gen == 0 || (size_t)fd >= u->fds_cap || u->fds[fd].gen != gen || !u->fds[fd].armed)
		return false;	/* a cancel's own CQE, or a poll cancelled by del or mod */
	s = &u->fds[fd];
	/* A failed poll (res < 0: the fd was closed while registered) is an error on the fd. */
	ev->fd = fd;
	ev->events = cqe->res < 0 ? MUX_ERR | MUX_IN | MUX_OUT : from_revents((unsigned)cqe->res);
	if (!(ev->events & (MUX_HUP | MUX_ERR)))
		ev->events &= mux_interest(m, fd);	/* HUP and ERR come with IN and OUT whatever was asked */
	if (!ev->events) {
		/* Woken for nothing asked (POLLRDHUP): park it, unless the parked poll is still there. */
		if (!more) {
			s->armed = false;
			s->parked = true;
			note_to_arm(u, fd);
		}
		return false;
	}
	if (more)
		disarm(m, fd);	/* what the caller waited for: back to single-shot polls */
	s->armed = false;
	s->parked = false;
	note_to_arm(u, fd);
	return true;
}

static int uring_poll_wait(struct mux *m, struct mux_event *out, int max, int timeout_ms)
{
	struct mux_uring_poll *u = to_up(m);
	struct io_uring_cqe *cqe;
	unsigned head, seen = 0;
	int err = arm_noted(m), n = 0;

	if (err)
		return err;
	/* Submit the re-arms and wait, in one io_uring_enter. */
	err = uring_ring_enter(&u->ring, timeout_ms);
	if (err < 0)
		return err;
	m->stats.waits += (uint64_t)err;
	/* What does not fit in out stays in the completion queue, in order, for the next wait. */
	io_uring_for_each_cqe(&u->ring, head, cqe) {
		if (n == max)
			break;
		seen++;
		n += reap_one(m, cqe, &out[n]);
	}
	io_uring_cq_advance(&u->ring, seen);
	m->stats.events += (uint64_t)n;
	return n;
}

const struct mux_ops mux_uring_poll_ops = {
	.name = "uring-poll",
	.summary = "io_uring(7) poll requests, level-triggered (re-armed single-shot); one io_uring_enter per wait, no syscall per interest change",
	.mechanism = "io_uring",
	.edge_triggered = false,
	.create = uring_poll_create,
	.add = uring_poll_add,
	.mod = uring_poll_mod,
	.del = uring_poll_del,
	.wait = uring_poll_wait,
	.destroy = uring_poll_destroy,
};

#endif
