/*
 * mux_epoll.c - epoll(7), level-triggered ("epoll") and edge-triggered
 * ("epoll-et").
 *
 * Level-triggered maps each verb to one epoll_ctl call.
 *
 * Edge-triggered registers EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET once and keeps the
 * caller's interest in user space, so that dropping write interest after a
 * flush costs no syscall (HAProxy's trick). Unwanted edges are filtered out
 * in wait(). Adding interest does call EPOLL_CTL_MOD: it re-arms the fd and
 * the kernel re-checks readiness, so an edge that was filtered while nobody
 * wanted it is reported again instead of being lost.
 */
#include "mux.h"
#include "grow.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

struct mux_epoll {
	struct mux base;
	int epfd;
	struct epoll_event *ready;
	size_t ready_cap;
};

static struct mux_epoll *to_epoll(struct mux *m)
{
	return (struct mux_epoll *)m;
}

static bool is_et(struct mux *m)
{
	return m->ops->edge_triggered;
}

static void epoll_destroy(struct mux *m)
{
	struct mux_epoll *e = to_epoll(m);

	if (e->epfd != -1)
		close(e->epfd);
	free(e->ready);
	free(e);
}

/*
 * Both tables share it: mux_create() sets ops, and with it edge_triggered.
 * capacity_hint is not needed: the kernel sizes its interest list itself.
 */
static struct mux *epoll_mux_create(int capacity_hint)
{
	struct mux_epoll *e = calloc(1, sizeof(*e));
	int saved;

	(void)capacity_hint;
	if (!e)
		return NULL;
	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd == -1) {
		saved = errno;
		epoll_destroy(&e->base);
		errno = saved;
		return NULL;
	}
	return &e->base;
}

static uint32_t kernel_mask(struct mux *m, unsigned interest)
{
	/* The kernel takes EPOLLEXCLUSIVE with IN, OUT and ET only: no RDHUP (a listener has no use for it). */
	if (interest & MUX_EXCLUSIVE)
		return EPOLLIN | EPOLLEXCLUSIVE | (is_et(m) ? EPOLLET : 0u) | (interest & MUX_OUT ? EPOLLOUT : 0u);
	if (is_et(m))
		return EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
	return (interest & MUX_IN ? EPOLLIN : 0u) | (interest & MUX_OUT ? EPOLLOUT : 0u);
}

static int ctl(struct mux *m, int op, int fd, unsigned interest)
{
	struct epoll_event ev = { .events = kernel_mask(m, interest), .data.fd = fd };

	m->stats.ctl_calls++;
	return epoll_ctl(to_epoll(m)->epfd, op, fd, &ev) == -1 ? -errno : 0;
}

static int epoll_add(struct mux *m, int fd, unsigned interest)
{
	return ctl(m, EPOLL_CTL_ADD, fd, interest);
}

/* Edge-triggered: only added interest needs the kernel (a re-arm); dropped interest is filtered in wait. */
static int epoll_mod(struct mux *m, int fd, unsigned interest)
{
	if (is_et(m) && !(interest & ~mux_interest(m, fd)))
		return 0;
	return ctl(m, EPOLL_CTL_MOD, fd, interest);
}

static int epoll_del(struct mux *m, int fd)
{
	int err = ctl(m, EPOLL_CTL_DEL, fd, 0);

	/* EBADF: closed before del; the kernel already dropped it, so are we. */
	return err == -EBADF ? 0 : err;
}

/* Kernel bits to ours; HUP and ERR imply IN and OUT (see mux.h). */
static unsigned from_kernel(uint32_t k, unsigned interest)
{
	if (k & EPOLLERR)
		return MUX_ERR | MUX_IN | MUX_OUT | (k & EPOLLHUP ? MUX_HUP : 0);
	if (k & EPOLLHUP)
		return MUX_HUP | MUX_IN | MUX_OUT;
	if ((k & EPOLLRDHUP) && (interest & MUX_IN))
		return MUX_RDHUP | MUX_IN | (k & EPOLLOUT ? interest & MUX_OUT : 0u);
	return ((k & EPOLLIN ? MUX_IN : 0u) | (k & EPOLLOUT ? MUX_OUT : 0u)) & interest;
}

static int epoll_wait_ready(struct mux *m, struct mux_event *out, int max, int timeout_ms)
{
	struct mux_epoll *e = to_epoll(m);
	int got, n = 0;

	if (grow_array((void **)&e->ready, &e->ready_cap, (size_t)max - 1,
		       sizeof(struct epoll_event)))
		return -ENOMEM;
	m->stats.waits++;
	got = epoll_wait(e->epfd, e->ready, max, timeout_ms);
	if (got == -1)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < got; i++) {
		int fd = e->ready[i].data.fd;
		unsigned ev = from_kernel(e->ready[i].events, mux_interest(m, fd));

		if (!ev)
			continue;	/* an edge nobody asked for (epoll-et) */
		out[n].fd = fd;
		out[n].events = ev;
		n++;
	}
	m->stats.events += (uint64_t)n;
	return n;
}

const struct mux_ops mux_epoll_ops = {
	.name = "epoll",
	.summary = "epoll(7), level-triggered; O(ready) per wait, one epoll_ctl per interest change",
	.edge_triggered = false,
	.create = epoll_mux_create,
	.add = epoll_add,
	.mod = epoll_mod,
	.del = epoll_del,
	.wait = epoll_wait_ready,
	.destroy = epoll_destroy,
};

const struct mux_ops mux_epoll_et_ops = {
	.name = "epoll-et",
	.summary = "epoll(7), edge-triggered; registered IN|OUT once, caller drains to EAGAIN",
	.mechanism = "epoll",
	.edge_triggered = true,
	.create = epoll_mux_create,
	.add = epoll_add,
	.mod = epoll_mod,
	.del = epoll_del,
	.wait = epoll_wait_ready,
	.destroy = epoll_destroy,
};
