/*
 * dispatch_libevent.c - the peer: libevent 2 with one method forced. The
 * other methods are avoided through event_config_avoid_method, the
 * environment is ignored, and event_base_get_method confirms the choice, so
 * a row labelled libevent-poll never silently measures epoll.
 */
#include "dispatch.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

struct levent;

struct slot {               /* what a callback needs: its pair and the world */
	struct levent *l;
	int idx;
	struct event *ev;
};

struct levent {
	struct event_base *base;
	struct dispatch_world *w;
	struct slot *slots;
	int n;                  /* events created */
};

static void levent_teardown(void *ctx)
{
	struct levent *l = ctx;

	for (int i = 0; i < l->n; i++)
		event_free(l->slots[i].ev);
	free(l->slots);
	if (l->base)
		event_base_free(l->base);
	free(l);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct slot *s = arg;

	(void)fd;
	(void)what;
	dispatch_readable(s->l->w, s->idx, false);
}

/* A base that uses `method` and nothing else; NULL when libevent will not. */
static struct event_base *base_with(const char *method)
{
	static const char *const all[] = { "epoll", "poll", "select", "devpoll", "kqueue", "evport", "win32" };
	struct event_config *cfg = event_config_new();
	struct event_base *base;

	if (!cfg)
		return NULL;
	event_config_set_flag(cfg, EVENT_BASE_FLAG_IGNORE_ENV);
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (strcmp(all[i], method) != 0)
			event_config_avoid_method(cfg, all[i]);
	base = event_base_new_with_config(cfg);
	event_config_free(cfg);
	if (base && strcmp(event_base_get_method(base), method) != 0) {
		event_base_free(base);
		return NULL;
	}
	return base;
}

static void *levent_setup(const struct dispatch_driver *d, struct dispatch_world *w, const char **why)
{
	const char *method = d->choice;
	struct levent *l = calloc(1, sizeof(*l));

	if (!l || !(l->slots = calloc((size_t)w->pairs, sizeof(*l->slots)))) {
		free(l);
		*why = "out of memory";
		return NULL;
	}
	l->w = w;
	l->base = base_with(method);
	if (!l->base) {
		*why = "libevent would not use this method";
		levent_teardown(l);
		return NULL;
	}
	for (; l->n < w->pairs; l->n++) {
		struct slot *s = &l->slots[l->n];

		s->l = l;
		s->idx = l->n;
		s->ev = event_new(l->base, w->rd[l->n], EV_READ | EV_PERSIST, on_read, s);
		if (!s->ev || event_add(s->ev, NULL) == -1) {
			if (s->ev)
				l->n++;	/* free it too */
			*why = "event_add failed at this many fds";
			levent_teardown(l);
			return NULL;
		}
	}
	return l;
}

static bool levent_round(void *ctx)
{
	struct levent *l = ctx;

	return event_base_loop(l->base, EVLOOP_ONCE | EVLOOP_NONBLOCK) != -1;
}

static void levent_counters(void *ctx, struct dispatch_counters *out)
{
	(void)ctx;
	out->waits = out->scanned = 0;	/* libevent does not count them */
}

static bool levent_list(struct dispatch_list *l)
{
	static const char *const methods[] = { "select", "poll", "epoll" };

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!dispatch_list_add(l, &dispatch_libevent, NULL, methods[i], methods[i]))
			return false;
	return true;
}

const struct dispatch_library dispatch_libevent = {
	.name = "libevent",
	.list = levent_list,
	.setup = levent_setup,
	.round = levent_round,
	.counters = levent_counters,
	.teardown = levent_teardown,
};
