/*
 * dispatch_mux.c - muxdispatch drives our backends through include/mux.h
 * exactly as the server does: add each fd for MUX_IN, wait, act on what
 * came back. fd numbers map back to pairs through a table. One driver per
 * entry of mux_backends, listed at run time: a new backend needs no edit here.
 */
#include "dispatch.h"
#include "mux.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/*
 * Events per wait. Not the server's batch (512: MAX_EVENTS in src/server/server.c);
 * 1024 since the first runs, so that figures stay comparable with them.
 */
#define BATCH 1024

struct ours {
	const struct mux_ops *ops;
	struct mux *mux;
	struct dispatch_world *w;
	int *pair_of_fd;
	struct mux_event ev[BATCH];
};

static void ours_teardown(void *ctx)
{
	struct ours *o = ctx;

	if (o->mux) {
		/* del before close, as include/mux.h asks; the pairs outlive the driver. */
		for (int i = 0; i < o->w->pairs; i++)
			mux_del(o->mux, o->w->rd[i]);
		mux_destroy(o->mux);
	}
	free(o->pair_of_fd);
	free(o);
}

static void *ours_setup(const struct dispatch_driver *d, struct dispatch_world *w, const char **why)
{
	const struct mux_ops *ops = d->choice;
	struct ours *o = calloc(1, sizeof(*o));
	int max_fd = 0, rc = 0;

	for (int i = 0; i < w->pairs; i++)
		if (w->rd[i] > max_fd)
			max_fd = w->rd[i];
	if (!o || !(o->pair_of_fd = calloc((size_t)max_fd + 1, sizeof(int)))) {
		free(o);
		*why = "out of memory";
		return NULL;
	}
	o->ops = ops;
	o->w = w;
	o->mux = mux_create(ops, w->pairs);
	if (!o->mux)
		rc = -errno;
	for (int i = 0; rc == 0 && i < w->pairs; i++) {
		o->pair_of_fd[w->rd[i]] = i;
		rc = mux_add(o->mux, w->rd[i], MUX_IN);
	}
	if (rc < 0) {
		*why = strerror(-rc);
		ours_teardown(o);
		return NULL;
	}
	return o;
}

static bool ours_round(void *ctx)
{
	struct ours *o = ctx;
	int n = mux_wait(o->mux, o->ev, BATCH, 0);

	for (int i = 0; i < n; i++)
		dispatch_readable(o->w, o->pair_of_fd[o->ev[i].fd], o->ops->edge_triggered);
	return n >= 0;
}

static void ours_counters(void *ctx, struct dispatch_counters *out)
{
	const struct ours *o = ctx;

	out->waits = o->mux->stats.waits;
	out->scanned = o->mux->stats.scanned;
}

static bool ours_list(struct dispatch_list *l)
{
	for (size_t i = 0; mux_backends[i]; i++)
		if (!dispatch_list_add(l, &dispatch_muxlab, mux_backends[i]->name, mux_mechanism(mux_backends[i]),
				       mux_backends[i]))
			return false;
	return true;
}

const struct dispatch_library dispatch_muxlab = {
	.name = "muxlab",
	.list = ours_list,
	.setup = ours_setup,
	.round = ours_round,
	.counters = ours_counters,
	.teardown = ours_teardown,
};
