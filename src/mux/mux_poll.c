/*
 * mux_poll.c - poll(2) with O(1) add, mod and del.
 *
 * The pollfd array is dense (the kernel copies and scans all of it on every
 * call, so holes would cost), and slot_of[fd] finds an fd's entry without a
 * search. del moves the last entry into the hole.
 */
#include "mux.h"
#include "grow.h"
#include "poll_bits.h"

#include <errno.h>
#include <stdlib.h>

struct mux_poll {
	struct mux base;
	struct pollfd *pfds;
	size_t pfds_cap;
	size_t count;
	size_t *slot_of;           /* per fd: index into pfds + 1; 0 = not registered */
	size_t slot_cap;
	size_t next;               /* the slot the next scan of revents begins at */
};

static struct mux_poll *to_poll(struct mux *m)
{
	return (struct mux_poll *)m;
}

static void poll_destroy(struct mux *m)
{
	struct mux_poll *p = to_poll(m);

	free(p->pfds);
	free(p->slot_of);
	free(p);
}

static struct mux *poll_create(int capacity_hint)
{
	struct mux_poll *p = calloc(1, sizeof(*p));
	size_t hint = capacity_hint > 0 ? (size_t)capacity_hint : 1;

	if (!p)
		return NULL;
	if (grow_array((void **)&p->pfds, &p->pfds_cap, hint, sizeof(struct pollfd)) ||
	    grow_array((void **)&p->slot_of, &p->slot_cap, hint, sizeof(size_t))) {
		poll_destroy(&p->base);
		errno = ENOMEM;
		return NULL;
	}
	return &p->base;
}

/* A registered fd's pollfd. */
static struct pollfd *entry(struct mux_poll *p, int fd)
{
	return &p->pfds[p->slot_of[fd] - 1];
}

static int poll_add(struct mux *m, int fd, unsigned interest)
{
	struct mux_poll *p = to_poll(m);

	if (grow_array((void **)&p->slot_of, &p->slot_cap, (size_t)fd, sizeof(size_t)) ||
	    grow_array((void **)&p->pfds, &p->pfds_cap, p->count, sizeof(struct pollfd)))
		return -ENOMEM;
	p->pfds[p->count] = (struct pollfd){ .fd = fd, .events = to_poll_events(interest) };
	p->slot_of[fd] = ++p->count;
	return 0;
}

static int poll_mod(struct mux *m, int fd, unsigned interest)
{
	entry(to_poll(m), fd)->events = to_poll_events(interest);
	return 0;
}

static int poll_del(struct mux *m, int fd)
{
	struct mux_poll *p = to_poll(m);
	struct pollfd *e = entry(p, fd), *last = &p->pfds[p->count - 1];

	*e = *last;
	p->slot_of[e->fd] = (size_t)(e - p->pfds) + 1;
	p->slot_of[fd] = 0;
	p->count--;
	return 0;
}

static int poll_wait(struct mux *m, struct mux_event *out, int max, int timeout_ms)
{
	struct mux_poll *p = to_poll(m);
	size_t start = p->next < p->count ? p->next : 0;
	int ready, n = 0;

	m->stats.waits++;
	m->stats.scanned += p->count;
	ready = poll(p->pfds, p->count, timeout_ms);
	if (ready == -1)
		return errno == EINTR ? 0 : -errno;
	/*
	 * Begin after the last slot a full batch reported, wrapping round: a
	 * scan from slot 0 every time would hand back the same first max ready
	 * fds forever while more than max stay busy, and starve the rest. (del
	 * moving the last slot into a hole can delay that fd by one round.)
	 * poll returns how many entries have revents set: stop once all are found.
	 */
	for (size_t k = 0; k < p->count && n < ready && n < max; k++) {
		size_t i = start + k < p->count ? start + k : start + k - p->count;

		if (!p->pfds[i].revents)
			continue;
		out[n].fd = p->pfds[i].fd;
		out[n].events = from_revents((unsigned short)p->pfds[i].revents);
		if (++n == max)
			p->next = i + 1;
	}
	m->stats.events += (uint64_t)n;
	return n;
}

const struct mux_ops mux_poll_ops = {
	.name = "poll",
	.summary = "poll(2), level-triggered; O(n) copy and scan per call; O(1) add/mod/del",
	.edge_triggered = false,
	.create = poll_create,
	.add = poll_add,
	.mod = poll_mod,
	.del = poll_del,
	.wait = poll_wait,
	.destroy = poll_destroy,
};
