/*
 * model_prefork.c - Stevens' preforked server (UNP 30.6-30.8): --workers N
 * children made at start, each blocking in accept() on the one listener
 * and serving the client it got, then accepting again. --accept-lock none
 * leaves the choice to the kernel (Linux wakes one waiter in accept), flock
 * or mutex lets one child at a time into accept().
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static void __attribute__((noreturn)) worker(struct server *s, size_t i)
{
	struct model_slot *slot = &s->slots[i];

	accept_turn_child();
	for (;;) {
		int fd;

		accept_turn_take();
		fd = session_accept(s->listen_fd, slot);
		accept_turn_give();
		if (fd == -1)
			break;	/* the listener was shut: the stop */
		session_serve(s, slot, fd);
		close(fd);
	}
	model_slot_exit(slot, RUSAGE_SELF);
	_exit(0);
}

/* A worker killed by the cut never counted its client's close: its slot says whether it had one. */
static void worker_gone(struct server *s, pid_t pid, int status)
{
	for (size_t i = 0; WIFSIGNALED(status) && i < s->nslots; i++) {
		struct model_slot *w = &s->slots[i];

		if (w->pid == pid && __atomic_load_n(&w->st.accepted, __ATOMIC_RELAXED) >
		    __atomic_load_n(&w->st.closed, __ATOMIC_RELAXED))
			SLOT_ADD(w, closed, 1);
	}
	model_worker_gone(s, pid, status);
}

static long live(struct server *s)
{
	return model_children(s, worker_gone);
}

static int run(struct server *s)
{
	static const struct model_hooks hooks = { .cut = model_kill_children, .live = live, .workers_fixed = true };
	int rc = 1;

	model_blocking_listener(s);
	if (accept_turn_setup(s) == 0 && model_fork_workers(s, worker))
		rc = model_supervise(s, &hooks);
	else
		model_kill_children(s);	/* reaped as we exit: nobody serves without the parent */
	accept_turn_teardown();
	return rc;
}

const struct model_ops model_prefork_ops = {
	.name = "prefork",
	.summary = "--workers N processes made at start, each blocking in accept (--accept-lock)",
	.pool = true,
	.blocking = true,
	.run = run,
};
