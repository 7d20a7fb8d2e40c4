/*
 * dispatch_libev.c - the peer: libev with one backend forced by its
 * EVBACKEND_* flag (environment ignored, EVFLAG_NOENV) and confirmed with
 * ev_backend, so a row labelled libev-poll never silently measures epoll.
 */
#include "dispatch.h"

#include <ev.h>
#include <stdlib.h>

struct watcher {
	ev_io io;               /* first: the callback gets a pointer to it */
	struct dispatch_world *w;
	int idx;
};

struct lev {
	struct ev_loop *loop;
	struct watcher *ws;
	int n;                  /* watchers started */
};

static void lev_teardown(void *ctx)
{
	struct lev *l = ctx;

	for (int i = 0; i < l->n; i++)
		ev_io_stop(l->loop, &l->ws[i].io);
	free(l->ws);
	if (l->loop)
		ev_loop_destroy(l->loop);
	free(l);
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct watcher *wt = (struct watcher *)io;

	(void)loop;
	(void)revents;
	dispatch_readable(wt->w, wt->idx, false);
}

/* libev's flag for each mechanism it is measured on. */
static const struct lev_backend {
	const char *mechanism;
	unsigned flag;
} backends[] = {
	{ "select", EVBACKEND_SELECT }, { "poll", EVBACKEND_POLL }, { "epoll", EVBACKEND_EPOLL },
};

static void *lev_setup(const struct dispatch_driver *d, struct dispatch_world *w, const char **why)
{
	unsigned backend = ((const struct lev_backend *)d->choice)->flag;
	struct lev *l = calloc(1, sizeof(*l));

	if (!l || !(l->ws = calloc((size_t)w->pairs, sizeof(*l->ws)))) {
		free(l);
		*why = "out of memory";
		return NULL;
	}
	l->loop = ev_loop_new(backend | EVFLAG_NOENV);
	if (!l->loop || ev_backend(l->loop) != backend) {
		*why = "libev would not use this backend";
		lev_teardown(l);
		return NULL;
	}
	for (; l->n < w->pairs; l->n++) {
		struct watcher *wt = &l->ws[l->n];

		wt->w = w;
		wt->idx = l->n;
		ev_io_init(&wt->io, on_read, w->rd[l->n], EV_READ);
		ev_io_start(l->loop, &wt->io);
	}
	return l;
}

static bool lev_round(void *ctx)
{
	struct lev *l = ctx;

	ev_run(l->loop, EVRUN_NOWAIT);
	return true;	/* libev aborts the process on a backend failure rather than report it */
}

static void lev_counters(void *ctx, struct dispatch_counters *out)
{
	struct lev *l = ctx;

	out->waits = ev_iteration(l->loop);
	out->scanned = 0;
}

static bool lev_list(struct dispatch_list *l)
{
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++)
		if (!dispatch_list_add(l, &dispatch_libev, NULL, backends[i].mechanism, &backends[i]))
			return false;
	return true;
}

const struct dispatch_library dispatch_libev = {
	.name = "libev",
	.list = lev_list,
	.setup = lev_setup,
	.round = lev_round,
	.counters = lev_counters,
	.teardown = lev_teardown,
};
