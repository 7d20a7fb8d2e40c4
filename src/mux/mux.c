/*
 * mux.c - the backend registry, and the front layer every caller goes
 * through: the contract's checks and the per-fd interest table, once for
 * all backends (see include/mux.h).
 */
#include "mux.h"
#include "grow.h"
#include "cli.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

/*
 * The registry, the one list of backends, in --list-backends order: a new
 * backend is its file in src/mux/ (the Makefile takes every file there) and
 * its name in this line. Usage texts, muxdispatch's drivers and Kerrisk
 * columns, the tests and the bench scripts (through --list-backends) all
 * derive from it.
 */
#define BACKENDS(X) X(select) X(poll) X(epoll) X(epoll_et) URING_BACKENDS(X)

/* The io_uring backends are built when liburing is found (Debian liburing-dev). */
#ifdef HAVE_LIBURING
#define URING_BACKENDS(X) X(uring_poll)
#else
#define URING_BACKENDS(X)
#endif

#define DECLARE(name) extern const struct mux_ops mux_##name##_ops;
#define ENTRY(name) &mux_##name##_ops,
BACKENDS(DECLARE)
const struct mux_ops *const mux_backends[] = { BACKENDS(ENTRY) NULL };

const struct mux_ops *mux_find(const char *name)
{
	return cli_find((const void *const *)mux_backends, name);
}

const char *mux_names(void)
{
	static char names[256];

	return cli_names((const void *const *)mux_backends, names, sizeof(names));
}

const char *mux_mechanism(const struct mux_ops *ops)
{
	return ops->mechanism ? ops->mechanism : ops->name;
}

static bool valid(unsigned interest)
{
	return interest && !(interest & ~(unsigned)(MUX_IN | MUX_OUT));
}

/* An add may also ask for one waiter woken of many (MUX_EXCLUSIVE), with MUX_IN. */
static bool valid_add(unsigned interest)
{
	unsigned plain = interest & ~(unsigned)MUX_EXCLUSIVE;

	return valid(plain) && (!(interest & MUX_EXCLUSIVE) || (plain & MUX_IN));
}

unsigned mux_interest(const struct mux *m, int fd)
{
	return fd >= 0 && (size_t)fd < m->interest_cap ? m->interest[fd] : 0;
}

struct mux *mux_create(const struct mux_ops *ops, int capacity_hint)
{
	struct mux *m = ops->create(capacity_hint);

	if (m)
		m->ops = ops;	/* one create may serve several tables (epoll and epoll-et) */
	if (m && grow_array((void **)&m->interest, &m->interest_cap,
			    (size_t)(capacity_hint > 0 ? capacity_hint : 1), 1)) {
		ops->destroy(m);
		errno = ENOMEM;
		return NULL;
	}
	return m;
}

void mux_destroy(struct mux *m)
{
	free(m->interest);
	m->ops->destroy(m);
}

int mux_add(struct mux *m, int fd, unsigned interest)
{
	int err;

	if (fd < 0 || !valid_add(interest))
		return -EINVAL;
	if (mux_interest(m, fd))
		return -EEXIST;
	if (grow_array((void **)&m->interest, &m->interest_cap, (size_t)fd, 1))
		return -ENOMEM;
	err = m->ops->add(m, fd, interest);
	if (err)
		return err;
	m->interest[fd] = (unsigned char)interest;
	m->count++;
	return 0;
}

int mux_mod(struct mux *m, int fd, unsigned interest)
{
	int err;

	if (fd < 0 || !valid(interest))
		return -EINVAL;
	if (!mux_interest(m, fd))
		return -ENOENT;
	if (mux_interest(m, fd) & MUX_EXCLUSIVE)
		return -EINVAL;	/* epoll cannot change an exclusive registration: del and add */
	err = m->ops->mod(m, fd, interest);
	if (!err)
		m->interest[fd] = (unsigned char)interest;
	return err;
}

int mux_del(struct mux *m, int fd)
{
	int err;

	if (fd < 0)
		return -EINVAL;
	if (!mux_interest(m, fd))
		return -ENOENT;
	err = m->ops->del(m, fd);
	m->interest[fd] = 0;
	m->count--;
	return err;
}

int mux_wait(struct mux *m, struct mux_event *out, int max, int timeout_ms)
{
	return max > 0 ? m->ops->wait(m, out, max, timeout_ms) : -EINVAL;
}
