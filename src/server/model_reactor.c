/*
 * model_reactor.c - the event loop of server.c, on any backend; with
 * --workers N, N of them in N processes. Each has its own SO_REUSEPORT
 * listener on the one port, among which the kernel spreads connections by
 * a hash of their addresses; or, with --shared-listener, one listener in
 * every loop: each connection wakes every loop waiting and one wins the
 * accept (the imbalance Cloudflare described in 2017 shows in the workers'
 * accepted counts). The single reactor runs in server.c directly.
 */
#include "model.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* A worker process: a reactor of its own on its listener, counting into its slot. */
static void __attribute__((noreturn)) worker(struct server *parent, size_t i, int listen_fd)
{
	struct server *s = calloc(1, sizeof(*s));
	int rc = 1;

	if (s && server_open(s, parent->cfg, listen_fd) == 0) {
		server_worker_signals();
		s->slot = &parent->slots[i];
		s->slot->pid = getpid();
		rc = server_serve(s);
		model_slot_exit(s->slot, RUSAGE_SELF);
	}
	_exit(rc);
}

static long live(struct server *s)
{
	return model_children(s, model_worker_gone);
}

/* The stop, passed on as the workers' own signals (server_worker_signals): graceful, then at once. */
static void pass_stop(struct server *s)
{
	(void)s;
	model_children_signal(SIGUSR2);
}

static void stop_now(struct server *s)
{
	(void)s;
	model_children_signal(SIGQUIT);
}

/* The listeners, one per worker (the first is s's), or s's for all; false after one line on stderr. */
static bool open_listeners(struct server *s, int *fds)
{
	struct server_config same_port = *s->cfg;

	same_port.port = listener_port(s->listen_fd);
	fds[0] = s->listen_fd;
	for (size_t i = 1; i < s->nslots; i++) {
		fds[i] = s->cfg->shared_listener ? s->listen_fd : listener_open(&same_port, true);
		if (fds[i] == -1)
			return false;
	}
	return true;
}

/*
 * Each worker keeps its own listener only: one whose worker died must close,
 * so that the kernel stops sending it connections. The parent keeps none.
 */
static void close_others(struct server *s, const int *fds, int keep)
{
	for (size_t i = 0; i < s->nslots; i++)
		if (fds[i] != keep && fds[i] != -1 && (i == 0 || fds[i] != fds[0]))
			close(fds[i]);
}

/* Worker i, on its listener (s->model: the listeners' fds), the others closed. */
static void __attribute__((noreturn)) start_worker(struct server *s, size_t i)
{
	const int *fds = s->model;

	close_others(s, fds, fds[i]);
	worker(s, i, fds[i]);
}

static int run(struct server *s)
{
	static const struct model_hooks hooks = { .stop = pass_stop, .cut = stop_now, .live = live,
						  .workers_fixed = true };
	sigset_t theirs, old;
	int *fds = malloc(s->nslots * sizeof(*fds));
	int rc = 1;
	bool ok;

	if (!fds) {
		fprintf(stderr, "muxserver: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < s->nslots; i++)
		fds[i] = -1;
	s->model = fds;
	/* Blocked across the forks (the workers unblock them): none acts before a worker's handlers are in. */
	server_worker_blocked(&theirs);
	sigprocmask(SIG_BLOCK, &theirs, &old);
	ok = open_listeners(s, fds) && model_fork_workers(s, start_worker);
	sigprocmask(SIG_SETMASK, &old, NULL);
	/* The workers have their own: the parent keeps none (s's is among fds), so one whose worker died closes. */
	close_others(s, fds, -1);
	s->listen_fd = -1;
	if (ok) {
		rc = model_supervise(s, &hooks);
	} else {
		model_children_signal(SIGKILL);
		for (int i = 0; i < 200 && live(s) > 0; i++)
			poll(NULL, 0, 10);
	}
	free(fds);
	return rc;
}

const struct model_ops model_reactor_ops = {
	.name = "reactor",
	.summary = "one event loop on --backend; --workers N: N loops in N processes (SO_REUSEPORT, --shared-listener)",
	.run = run,
};
