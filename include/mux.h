/*
 * mux.h - the one interface every multiplexer backend implements.
 *
 * The verbs mirror epoll_ctl(2) so that select, poll and epoll can be held
 * to the same contract (tests/mux/test_mux.c). Rules every caller must accept:
 *
 *  - Readiness is a hint. A backend may report an fd that is no longer
 *    ready (another read drained it, or the fd number was closed and reused
 *    within one batch). Callers use non-blocking fds and treat EAGAIN as
 *    "nothing to do".
 *  - MUX_HUP and MUX_ERR are always reported together with MUX_IN and
 *    MUX_OUT, so a caller that only looks at IN/OUT still finds out by
 *    reading (EOF, ECONNRESET) or writing (EPIPE).
 *  - select cannot tell a hang-up from data: a closed peer shows up as
 *    MUX_IN and read() returns 0.
 *  - Edge-triggered backends (ops->edge_triggered) report a change once.
 *    The caller must read until EAGAIN or a short read, and write until
 *    EAGAIN or until nothing is left, or it will not hear about that fd again.
 *  - Call del() before close(). A closed fd left registered makes select
 *    and poll fail (EBADF / POLLNVAL) and epoll silently keep stale state.
 *  - Calls return >= 0 on success and -errno on failure: -EEXIST for a
 *    duplicate add, -ENOENT for mod/del of an unregistered fd, -EINVAL for
 *    a negative fd, an empty interest, MUX_EXCLUSIVE anywhere but in an
 *    add with MUX_IN, or a batch of max <= 0.
 *
 * Callers use the front layer, mux_create() ... mux_destroy() below. It
 * holds the contract checks and the per-fd interest table once, in front of
 * every backend (as redis's ae.c stands in front of ae_epoll.c), so that a
 * backend file contains only its kernel work.
 */
#ifndef MUX_H
#define MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	MUX_IN  = 1u << 0,
	MUX_OUT = 1u << 1,
	MUX_HUP = 1u << 2,   /* output only: peer hung up */
	MUX_ERR = 1u << 3,   /* output only: error pending on the fd */
	/*
	 * Output only, edge-triggered backends: the peer will send nothing more.
	 * A short read no longer proves the fd drained: the EOF behind the data
	 * came in the same edge and no new edge will announce it, so read on
	 * until read() returns 0.
	 */
	MUX_RDHUP = 1u << 4,
	/*
	 * Input, with MUX_IN, add only; a hint: of the loops (in any process)
	 * watching one shared fd, wake one rather than all (epoll's
	 * EPOLLEXCLUSIVE, Linux 4.5). Backends without it ignore it and may
	 * wake every loop, which a caller must take anyway (readiness is a
	 * hint). mod of an fd added so is refused (-EINVAL), as epoll refuses it.
	 */
	MUX_EXCLUSIVE = 1u << 5,
};

struct mux_event {
	int fd;
	unsigned events;
};

/*
 * Work each backend does on the caller's behalf. Counts real kernel work
 * only: "events" are fds the kernel reported ready, never fds a backend
 * merely looked at; those are "scanned".
 */
struct mux_stats {
	uint64_t waits;     /* calls into select/poll/epoll_wait */
	uint64_t events;    /* ready fds returned to the caller */
	uint64_t scanned;   /* fds copied to the kernel and scanned back (select, poll) */
	uint64_t ctl_calls; /* epoll_ctl calls (epoll) */
};

struct mux_ops;

/*
 * Every backend's state starts with this, and casts back to its own type.
 * The front layer keeps `interest`; backends only read it.
 */
struct mux {
	const struct mux_ops *ops;
	struct mux_stats stats;
	unsigned char *interest;   /* per fd: MUX_IN|MUX_OUT, 0 = not registered */
	size_t interest_cap;
	size_t count;              /* registered fds */
};

/*
 * A backend. Its add/mod/del/wait are called only by the front layer, with
 * fd >= 0, an interest of MUX_IN and/or MUX_OUT, add for an unregistered fd,
 * mod and del for a registered one, and max > 0; during mod and del,
 * m->interest[fd] still holds the interest before the call. The front layer
 * records the new interest when the call returns 0 (del forgets the fd
 * whatever it returns: the caller is about to close it).
 */
struct mux_ops {
	const char *name;        /* the --backend value */
	const char *summary;     /* one line for --list-backends */
	/* The kernel interface it drives, when that is not its name (epoll-et's is epoll); NULL otherwise. */
	const char *mechanism;
	bool edge_triggered;
	/*
	 * NULL with errno set on failure. capacity_hint: expected number of fds.
	 * mux_create() sets the result's ops, so one create may serve two tables.
	 */
	struct mux *(*create)(int capacity_hint);
	int (*add)(struct mux *, int fd, unsigned interest);
	int (*mod)(struct mux *, int fd, unsigned interest);
	int (*del)(struct mux *, int fd);
	/*
	 * Fills out[0..max) and returns how many; 0 on timeout or EINTR.
	 * timeout_ms < 0 waits forever. -errno on failure.
	 */
	int (*wait)(struct mux *, struct mux_event *out, int max, int timeout_ms);
	void (*destroy)(struct mux *);
};

/* The backend a program uses unless told otherwise. */
#define MUX_DEFAULT "epoll"

/* NULL-terminated table of every backend, in --list-backends order (the registry, src/mux/mux.c). */
extern const struct mux_ops *const mux_backends[];

/* The front layer: what every caller uses. */
struct mux *mux_create(const struct mux_ops *ops, int capacity_hint);	/* NULL, errno set */
int mux_add(struct mux *m, int fd, unsigned interest);
int mux_mod(struct mux *m, int fd, unsigned interest);
int mux_del(struct mux *m, int fd);
int mux_wait(struct mux *m, struct mux_event *out, int max, int timeout_ms);
void mux_destroy(struct mux *m);
/* The interest registered for fd; 0 when it is not registered. */
unsigned mux_interest(const struct mux *m, int fd);

/* The backend called name, or NULL. */
const struct mux_ops *mux_find(const char *name);

/* "select, poll, epoll, epoll-et": for error messages. Static storage. */
const char *mux_names(void);

/* The kernel interface ops drives: ops->mechanism, or its name. */
const char *mux_mechanism(const struct mux_ops *ops);

#endif
