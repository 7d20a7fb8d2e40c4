/*
 * model_fork.c - a process per connection: the parent accepts and forks,
 * the child serves the one client and exits; the parent reaps every child
 * on SIGCHLD (the notes' waitpid(-1, WNOHANG) loop), so no zombie stays.
 */
#include "model.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child killed by the cut never counted its close: it had one client, now closed. */
static void child_gone(struct server *s, pid_t pid, int status)
{
	(void)pid;
	if (WIFSIGNALED(status))
		SLOT_ADD(&s->slots[0], closed, 1);
}

/* Live children, after reaping those that ended: the parent's own count, no /proc needed. */
static long children(struct server *s)
{
	return model_children(s, child_gone);
}

static void spawn(struct server *s, int fd)
{
	struct model_slot *slot = &s->slots[0];
	pid_t pid;
	char why[96];

	if (s->cfg->max_conns > 0 && children(s) >= s->cfg->max_conns) {
		model_refuse(s, slot, fd, "--max-conns children running");
		return;
	}
	/* Counted before the child can close it; a refused client is not accepted, as in the reactor. */
	SLOT_ADD(slot, accepted, 1);
	pid = model_fork_child(s);
	if (pid == 0) {
		close(s->listen_fd);
		session_serve(s, slot, fd);
		_exit(0);
	}
	if (pid == -1) {	/* EAGAIN: RLIMIT_NPROC or the kernel's pid limit; ENOMEM */
		SLOT_ADD(slot, accepted, -1);
		snprintf(why, sizeof(why), "fork: %s", strerror(errno));
		model_refuse(s, slot, fd, why);
		return;
	}
	close(fd);
	if (!model_child_add(pid)) {	/* out of memory: it cannot be cut at the stop */
		kill(pid, SIGKILL);
		print_log(s, "out of memory for the children's list; a client was cut");
	}
}

static void accept_all(struct server *s)
{
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd == -1)
			return;	/* EAGAIN; out of fds: the client waits in the backlog */
		spawn(s, fd);
	}
}

static int run(struct server *s)
{
	static const struct model_hooks hooks = {
		.accept = accept_all, .cut = model_kill_children, .live = children,
	};

	s->slots[0].pid = getpid();
	return model_supervise(s, &hooks);
}

const struct model_ops model_fork_ops = {
	.name = "fork",
	.summary = "a process per connection, forked at accept and reaped on SIGCHLD",
	.blocking = true,
	.run = run,
};
