/*
 * test_mux.c - the backend contract. Every test below runs against every
 * registered backend (or those in $MUX_BACKENDS), on real pipes and
 * socketpairs; a failure is named "backend/test".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mux.h"
#include "../testutil.h"

#define MAX_FDS 16

struct fixture {
	const struct mux_ops *ops;
	struct mux *m;
	int fds[MAX_FDS];
	int nfds;
	struct mux_event ev[64];
};

static int setup(void **state)
{
	const struct mux_ops *ops = *state;
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->ops = ops;
	f->m = mux_create(ops, 64);
	if (!f->m) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	mux_destroy(f->m);
	for (int i = 0; i < f->nfds; i++)
		close(f->fds[i]);
	free(f);
	return 0;
}

/* Remember fds for teardown; returns fd. */
static int keep(struct fixture *f, int fd)
{
	assert_true(fd >= 0);
	assert_true(f->nfds < MAX_FDS);
	f->fds[f->nfds++] = fd;
	return fd;
}

static void make_pipe(struct fixture *f, int *r, int *w)
{
	int p[2];

	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	*r = keep(f, p[0]);
	*w = keep(f, p[1]);
}

static void make_socketpair(struct fixture *f, int *a, int *b)
{
	int s[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
	*a = keep(f, s[0]);
	*b = keep(f, s[1]);
}

/* Checked call: prints the backend and strerror on failure. */
#define OK(f, call) do { \
	int rc_ = (call); \
	if (rc_ < 0) \
		fail_msg("%s: %s = %s", (f)->ops->name, #call, strerror(-rc_)); \
} while (0)

static int wait_ms(struct fixture *f, int timeout_ms)
{
	int n = mux_wait(f->m, f->ev, 64, timeout_ms);

	if (n < 0)
		fail_msg("%s: wait failed: %s", f->ops->name, strerror(-n));
	return n;
}

/* Events reported for fd in the last wait, 0 if none. */
static unsigned events_for(struct fixture *f, int n, int fd)
{
	for (int i = 0; i < n; i++)
		if (f->ev[i].fd == fd)
			return f->ev[i].events;
	return 0;
}

static void add_mod_del_errors(void **state)
{
	struct fixture *f = *state;
	int r, w;

	make_pipe(f, &r, &w);
	assert_int_equal(mux_add(f->m, -1, MUX_IN), -EINVAL);
	assert_int_equal(mux_add(f->m, r, 0), -EINVAL);
	assert_int_equal(mux_add(f->m, r, 0x100), -EINVAL);
	assert_int_equal(mux_mod(f->m, r, MUX_IN), -ENOENT);
	assert_int_equal(mux_del(f->m, r), -ENOENT);
	OK(f, mux_add(f->m, r, MUX_IN));
	assert_int_equal(mux_add(f->m, r, MUX_IN), -EEXIST);
	OK(f, mux_mod(f->m, r, MUX_IN));
	assert_int_equal(mux_mod(f->m, r, 0), -EINVAL);
	OK(f, mux_del(f->m, r));
	assert_int_equal(mux_del(f->m, r), -ENOENT);
	/* Deleted means forgotten: it can be added again. */
	OK(f, mux_add(f->m, r, MUX_IN));
}

/*
 * MUX_EXCLUSIVE (one waiter woken of many: epoll's EPOLLEXCLUSIVE) goes with
 * MUX_IN in an add, and nowhere else; an fd added so is reported as any
 * other, and cannot be modified, only deleted. Every backend takes it.
 */
static void exclusive_add(void **state)
{
	struct fixture *f = *state;
	int r, w;

	make_pipe(f, &r, &w);
	assert_int_equal(mux_add(f->m, r, MUX_EXCLUSIVE), -EINVAL);
	assert_int_equal(mux_add(f->m, r, MUX_OUT | MUX_EXCLUSIVE), -EINVAL);
	OK(f, mux_add(f->m, r, MUX_IN | MUX_EXCLUSIVE));
	assert_int_equal(wait_ms(f, 0), 0);
	assert_int_equal(write(w, "x", 1), 1);
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_int_equal(f->ev[0].fd, r);
	assert_true(f->ev[0].events & MUX_IN);
	assert_int_equal(mux_mod(f->m, r, MUX_IN), -EINVAL);
	assert_int_equal(mux_mod(f->m, r, MUX_IN | MUX_EXCLUSIVE), -EINVAL);
	OK(f, mux_del(f->m, r));
	OK(f, mux_add(f->m, r, MUX_IN));
	assert_int_equal(mux_mod(f->m, r, MUX_IN | MUX_EXCLUSIVE), -EINVAL);
}

static void readable_reported(void **state)
{
	struct fixture *f = *state;
	int r, w, n;

	make_pipe(f, &r, &w);
	OK(f, mux_add(f->m, r, MUX_IN));
	assert_int_equal(wait_ms(f, 0), 0);
	assert_int_equal(write(w, "x", 1), 1);
	n = wait_ms(f, 5000);
	assert_int_equal(n, 1);
	assert_int_equal(f->ev[0].fd, r);
	assert_true(f->ev[0].events & MUX_IN);
	assert_false(f->ev[0].events & MUX_OUT);
}

static void writable_reported(void **state)
{
	struct fixture *f = *state;
	int a, b, n;

	make_socketpair(f, &a, &b);
	OK(f, mux_add(f->m, a, MUX_OUT));
	n = wait_ms(f, 5000);
	assert_int_equal(n, 1);
	assert_int_equal(f->ev[0].fd, a);
	assert_true(f->ev[0].events & MUX_OUT);
	assert_false(f->ev[0].events & MUX_IN);
}

/* mod changes what is reported, in both directions. */
static void mod_changes_interest(void **state)
{
	struct fixture *f = *state;
	int a, b;

	make_socketpair(f, &a, &b);
	OK(f, mux_add(f->m, a, MUX_IN));
	assert_int_equal(wait_ms(f, 50), 0);	/* writable, but nobody asked */
	OK(f, mux_mod(f->m, a, MUX_OUT));
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_true(events_for(f, 1, a) & MUX_OUT);
	OK(f, mux_mod(f->m, a, MUX_IN));
	assert_int_equal(wait_ms(f, 50), 0);
	assert_int_equal(write(b, "x", 1), 1);
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_int_equal(events_for(f, 1, a) & (MUX_IN | MUX_OUT), MUX_IN);
}

/* Level-triggered backends report an undrained fd again; edge-triggered ones do not. */
static void undrained_fd(void **state)
{
	struct fixture *f = *state;
	char buf[8];
	int r, w;

	make_pipe(f, &r, &w);
	OK(f, mux_add(f->m, r, MUX_IN));
	assert_int_equal(write(w, "ab", 2), 2);
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_int_equal(read(r, buf, 1), 1);	/* one byte left behind */
	if (f->ops->edge_triggered) {
		assert_int_equal(wait_ms(f, 100), 0);
		assert_int_equal(write(w, "c", 1), 1);	/* new data: a new edge */
		assert_int_equal(wait_ms(f, 5000), 1);
		assert_true(events_for(f, 1, r) & MUX_IN);
	} else {
		assert_int_equal(wait_ms(f, 100), 1);
		assert_true(events_for(f, 1, r) & MUX_IN);
	}
}

static void timeout_returns_zero(void **state)
{
	struct fixture *f = *state;
	double t0;
	int r, w;

	make_pipe(f, &r, &w);
	OK(f, mux_add(f->m, r, MUX_IN));
	t0 = mono_s();
	assert_int_equal(wait_ms(f, 150), 0);
	/* Not a speed check: a timed wait must not return early with nothing. */
	assert_true(mono_s() - t0 >= 0.140);
}

static void del_stops_reports(void **state)
{
	struct fixture *f = *state;
	int r, w;

	make_pipe(f, &r, &w);
	OK(f, mux_add(f->m, r, MUX_IN));
	assert_int_equal(write(w, "x", 1), 1);
	OK(f, mux_del(f->m, r));
	assert_int_equal(wait_ms(f, 100), 0);
}

/* Deleting one fd leaves the others registered and working (poll moves its last slot). */
static void del_keeps_others(void **state)
{
	struct fixture *f = *state;
	int r[3], w[3];

	for (int i = 0; i < 3; i++) {
		make_pipe(f, &r[i], &w[i]);
		OK(f, mux_add(f->m, r[i], MUX_IN));
	}
	OK(f, mux_del(f->m, r[0]));
	assert_int_equal(write(w[2], "x", 1), 1);
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_int_equal(f->ev[0].fd, r[2]);
	OK(f, mux_del(f->m, r[2]));
	assert_int_equal(write(w[1], "y", 1), 1);
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_int_equal(f->ev[0].fd, r[1]);
	assert_int_equal(mux_del(f->m, r[2]), -ENOENT);
}

/* The order the server always uses: del, then close; nothing is reported for the dead fd. */
static void del_then_close(void **state)
{
	struct fixture *f = *state;
	int p[2], other_r, other_w;

	make_pipe(f, &other_r, &other_w);
	assert_int_equal(pipe2(p, O_NONBLOCK), 0);
	OK(f, mux_add(f->m, p[0], MUX_IN));
	OK(f, mux_add(f->m, other_r, MUX_IN));
	assert_int_equal(write(p[1], "x", 1), 1);
	OK(f, mux_del(f->m, p[0]));
	close(p[0]);
	close(p[1]);
	assert_int_equal(wait_ms(f, 100), 0);
	assert_int_equal(write(other_w, "y", 1), 1);
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_int_equal(f->ev[0].fd, other_r);
}

static void peer_close_reported(void **state)
{
	struct fixture *f = *state;
	char buf[4];
	int a, b, n;

	make_socketpair(f, &a, &b);
	OK(f, mux_add(f->m, a, MUX_IN));
	shutdown(b, SHUT_RDWR);
	n = wait_ms(f, 5000);
	assert_int_equal(n, 1);
	assert_int_equal(f->ev[0].fd, a);
	assert_true(f->ev[0].events & MUX_IN);
	if (f->ev[0].events & (MUX_HUP | MUX_ERR))	/* HUP/ERR come with IN and OUT */
		assert_true(f->ev[0].events & MUX_OUT);
	assert_int_equal(read(a, buf, sizeof(buf)), 0);
}

/*
 * Data and the peer's FIN in one edge: an edge-triggered backend must say
 * so (MUX_RDHUP), or a caller that stops at a short read never sees EOF.
 */
static void data_then_eof_in_one_edge(void **state)
{
	struct fixture *f = *state;
	char buf[8];
	int a, b;

	make_socketpair(f, &a, &b);
	OK(f, mux_add(f->m, a, MUX_IN));
	assert_int_equal(write(b, "abc", 3), 3);
	shutdown(b, SHUT_WR);
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_true(f->ev[0].events & MUX_IN);
	if (f->ops->edge_triggered)
		assert_true(f->ev[0].events & MUX_RDHUP);
	assert_int_equal(read(a, buf, sizeof(buf)), 3);	/* short read, yet EOF follows */
	assert_int_equal(read(a, buf, sizeof(buf)), 0);
}

/* Beyond FD_SETSIZE: select must use its own bit arrays, never glibc's FD_SET. */
static void fd_above_1024(void **state)
{
	struct fixture *f = *state;
	int r, w, high = 1500, low_r, low_w, n;

	if (fdlimit_raise(high + 64, true, NULL) < 0)
		skip_because("the fd limit cannot be raised to %ld (hard limit too low, not root)",
			      (long)(high + 64));
	make_pipe(f, &r, &w);
	make_pipe(f, &low_r, &low_w);
	assert_int_equal(dup2(r, high), high);
	keep(f, high);
	OK(f, mux_add(f->m, high, MUX_IN));
	OK(f, mux_add(f->m, low_r, MUX_IN));
	assert_int_equal(write(w, "x", 1), 1);
	n = wait_ms(f, 5000);
	assert_int_equal(n, 1);
	assert_int_equal(f->ev[0].fd, high);
	assert_int_equal(write(low_w, "y", 1), 1);
	n = wait_ms(f, 5000);
	assert_int_equal(n, f->ops->edge_triggered ? 1 : 2);
	assert_true(events_for(f, n, low_r) & MUX_IN);
	OK(f, mux_del(f->m, high));
}

/* 5000 registered fds, every 7th readable: exactly those are reported, once each. */
static void five_thousand_fds(void **state)
{
	struct fixture *f = *state;
	enum { N = 5000 };
	int (*p)[2], n, expect = 0;
	struct mux_event *ev;
	char *seen;

	if (fdlimit_raise(2 * N + 64, true, NULL) < 0)
		skip_because("the fd limit cannot be raised to %ld (hard limit too low, not root)",
			      (long)(2 * N + 64));
	p = calloc(N, sizeof(*p));
	ev = calloc(N, sizeof(*ev));
	seen = calloc(65536, 1);
	assert_true(p && ev && seen);
	for (int i = 0; i < N; i++) {
		assert_int_equal(pipe2(p[i], O_NONBLOCK), 0);
		OK(f, mux_add(f->m, p[i][0], MUX_IN));
	}
	for (int i = 0; i < N; i += 7, expect++)
		assert_int_equal(write(p[i][1], "x", 1), 1);
	n = mux_wait(f->m, ev, N, 5000);
	assert_int_equal(n, expect);
	for (int i = 0; i < n; i++) {
		assert_true(ev[i].events & MUX_IN);
		assert_false(seen[ev[i].fd]);
		seen[ev[i].fd] = 1;
	}
	for (int i = 0; i < N; i++) {
		assert_int_equal(seen[p[i][0]], i % 7 == 0);
		OK(f, mux_del(f->m, p[i][0]));
		close(p[i][0]);
		close(p[i][1]);
	}
	free(p);
	free(ev);
	free(seen);
}

/*
 * More fds ready than one wait may return, none of them drained: every one
 * must be reported within ceil(n / max) + 1 waits, window after window. A
 * backend that scans from the same place each time hands back the same
 * first max fds forever and starves the rest (the server's 512-event batch
 * with more than 512 busy connections). Edge-triggered backends report each
 * fd once, so they are held to the first window only.
 */
static void ready_beyond_batch_all_reported(void **state)
{
	struct fixture *f = *state;
	enum { N = 300, MAX = 64, WINDOW = (N + MAX - 1) / MAX + 1, WINDOWS = 3 };
	int (*p)[2], missed = 0, window = 0;
	char *seen;

	if (fdlimit_raise(2 * N + 64, true, NULL) < 0)
		skip_because("the fd limit cannot be raised to %d (hard limit too low, not root)", 2 * N + 64);
	p = calloc(N, sizeof(*p));
	seen = calloc(65536, 1);
	assert_true(p && seen);
	for (int i = 0; i < N; i++) {
		assert_int_equal(pipe2(p[i], O_NONBLOCK), 0);
		OK(f, mux_add(f->m, p[i][0], MUX_IN));
		assert_int_equal(write(p[i][1], "x", 1), 1);
	}
	for (; window < (f->ops->edge_triggered ? 1 : WINDOWS) && !missed; window++) {
		memset(seen, 0, 65536);
		for (int w = 0; w < WINDOW; w++) {
			int n = mux_wait(f->m, f->ev, MAX, 0);

			assert_true(n >= 0 && n <= MAX);
			for (int i = 0; i < n; i++)
				seen[f->ev[i].fd] = 1;
		}
		for (int i = 0; i < N; i++)
			missed += !seen[p[i][0]];
	}
	for (int i = 0; i < N; i++) {
		OK(f, mux_del(f->m, p[i][0]));
		close(p[i][0]);
		close(p[i][1]);
	}
	free(p);
	free(seen);
	if (missed)
		fail_msg("%s: %d of %d ready fds not reported in %d waits of %d (window %d)",
			 f->ops->name, missed, N, WINDOW, MAX, window);
}

/* Counters: waits and events count what happened; select/poll scan every registered fd. */
static void counters_count_work(void **state)
{
	struct fixture *f = *state;
	struct mux_stats before;
	int r, w, r2, w2, n;

	make_pipe(f, &r, &w);
	make_pipe(f, &r2, &w2);
	OK(f, mux_add(f->m, r, MUX_IN));
	OK(f, mux_add(f->m, r2, MUX_IN));
	before = f->m->stats;
	assert_int_equal(write(w, "x", 1), 1);
	n = wait_ms(f, 5000);
	assert_int_equal(n, 1);
	assert_int_equal(f->m->stats.waits - before.waits, 1);
	assert_int_equal(f->m->stats.events - before.events, 1);
	/* An idle fd is scanned, never counted as an event. */
	if (strcmp(f->ops->name, "select") == 0 || strcmp(f->ops->name, "poll") == 0)
		assert_int_equal(f->m->stats.scanned - before.scanned, 2);
	if (strncmp(f->ops->name, "epoll", 5) == 0)
		assert_true(f->m->stats.ctl_calls >= 2);
}

/*
 * Dropping write interest stops OUT reports on a socket that stays writable;
 * adding it back reports OUT again. Edge-triggered drops it for free (no
 * epoll_ctl: the edge has passed and no new one comes), and the re-arm is
 * the one epoll_ctl that makes the kernel report the still-writable socket.
 */
static void write_interest_toggles(void **state)
{
	struct fixture *f = *state;
	uint64_t ctl;
	int a, b;

	make_socketpair(f, &a, &b);
	OK(f, mux_add(f->m, a, MUX_IN | MUX_OUT));
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_true(events_for(f, 1, a) & MUX_OUT);
	ctl = f->m->stats.ctl_calls;
	OK(f, mux_mod(f->m, a, MUX_IN));
	if (f->ops->edge_triggered)
		assert_int_equal(f->m->stats.ctl_calls, ctl);
	assert_int_equal(wait_ms(f, 50), 0);	/* writable, but nobody asked */
	ctl = f->m->stats.ctl_calls;
	OK(f, mux_mod(f->m, a, MUX_IN | MUX_OUT));
	if (f->ops->edge_triggered)
		assert_int_equal(f->m->stats.ctl_calls, ctl + 1);
	assert_int_equal(wait_ms(f, 5000), 1);	/* still writable: reported again */
	assert_true(events_for(f, 1, a) & MUX_OUT);
}

/*
 * A peer that half-closed while our output waits for room: with write
 * interest only, nothing is due until the socket drains, so waits sleep
 * out their timeouts. A wake-up or two for the FIN itself is allowed (an
 * edge-triggered backend hears its edge; io_uring adds POLLRDHUP to every
 * poll); a poll re-armed as it was would complete at once, again and
 * again: thousands of waits where a few are due. When the peer reads, OUT
 * is reported.
 */
static void half_closed_peer_waits_for_room(void **state)
{
	struct fixture *f = *state;
	static char chunk[4096], sink[65536];
	int a, b, waits = 0;
	double t0;

	make_socketpair(f, &a, &b);
	while (write(a, chunk, sizeof(chunk)) > 0)
		;
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(shutdown(b, SHUT_WR), 0);
	OK(f, mux_add(f->m, a, MUX_OUT));
	for (t0 = mono_s(); mono_s() - t0 < 0.5; waits++)
		assert_int_equal(wait_ms(f, 100), 0);
	/* At most 5 timeouts fit in 0.5 s, a slow machine only makes fewer; 3 spare for the FIN. */
	if (waits > 8)
		fail_msg("%s: %d waits in 0.5 s with 100 ms timeouts and nothing reported", f->ops->name, waits);
	while (read(b, sink, sizeof(sink)) > 0)
		;
	assert_int_equal(wait_ms(f, 5000), 1);
	assert_int_equal(f->ev[0].fd, a);
	assert_true(f->ev[0].events & MUX_OUT);
	/* Back to level-triggered: still writable, reported again. */
	if (!f->ops->edge_triggered) {
		assert_int_equal(wait_ms(f, 5000), 1);
		assert_true(events_for(f, 1, a) & MUX_OUT);
	}
}

/*
 * del and close while a wake-up is pending: the peer's data woke the fd's
 * poll, the caller read it without asking (as a server draining input before
 * a close does), then deleted and closed the fd. The fd must really close
 * (the peer sees EOF) within a wait or two. io_uring refuses to remove a poll
 * whose wake-up it has not processed yet (EALREADY), and that poll, finding
 * nothing to read, would stay armed holding the socket open for good.
 */
static void del_close_with_wakeup_pending(void **state)
{
	struct fixture *f = *state;
	int p[2];
	char c;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p), 0);
	keep(f, p[1]);
	OK(f, mux_add(f->m, p[0], MUX_IN));
	assert_int_equal(wait_ms(f, 0), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(read(p[0], &c, 1), 1);
	OK(f, mux_del(f->m, p[0]));
	close(p[0]);
	for (int i = 0; i < 3; i++)
		assert_int_equal(wait_ms(f, 20), 0);
	if (read(p[1], &c, 1) != 0)
		fail_msg("%s: the deleted, closed fd is still open (%s)", f->ops->name,
			 errno == EAGAIN ? "no EOF at its peer" : strerror(errno));
}

#define CONTRACT(X) \
	X(add_mod_del_errors) X(exclusive_add) X(readable_reported) X(writable_reported) \
	X(mod_changes_interest) X(undrained_fd) X(timeout_returns_zero) \
	X(del_stops_reports) X(del_keeps_others) X(del_then_close) X(peer_close_reported) X(data_then_eof_in_one_edge) \
	X(fd_above_1024) X(five_thousand_fds) X(ready_beyond_batch_all_reported) X(counters_count_work) \
	X(write_interest_toggles) X(half_closed_peer_waits_for_room) X(del_close_with_wakeup_pending)

#define ENTRY(name) { #name, name },
static const struct backend_test contract[] = { CONTRACT(ENTRY) };

int main(void)
{
	return run_backend_matrix("mux contract", contract, sizeof(contract) / sizeof(contract[0]),
				  setup, teardown, NULL, 0);
}
