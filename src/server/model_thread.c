/*
 * model_thread.c - a thread per connection: the main thread accepts and
 * starts a detached thread that serves the one client and ends. The
 * threads take no signals; at the end of the grace the main thread shuts
 * their sockets, which ends their blocking reads.
 */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct job {
	struct server *s;
	int fd;
};

static void *serve(void *arg)
{
	struct job job = *(struct job *)arg;

	free(arg);
	session_serve(job.s, &job.s->slots[0], job.fd);
	served_close(job.fd);
	return NULL;
}

/* A thread per socket listed: the threads running are the sockets served. */
static long live(struct server *s)
{
	(void)s;
	return served_count();
}

static void start(struct server *s, pthread_attr_t *attr, int fd)
{
	struct job *job;
	char why[96];
	pthread_t t;
	int err = ENOMEM;

	if (s->cfg->max_conns > 0 && live(s) >= s->cfg->max_conns) {
		model_refuse(s, &s->slots[0], fd, "--max-conns threads running");
		return;
	}
	/* Listed before the thread starts, so that it can unlist itself at any moment. */
	job = malloc(sizeof(*job));
	if (job && served_list(fd)) {
		*job = (struct job){ s, fd };
		SLOT_ADD(&s->slots[0], accepted, 1);	/* before the thread can close it */
		err = pthread_create(&t, attr, serve, job);
		if (err == 0)
			return;
		SLOT_ADD(&s->slots[0], accepted, -1);
		served_close(fd);	/* closes fd; model_refuse's close must not run again */
		fd = -1;
	}
	free(job);
	/* EAGAIN: RLIMIT_NPROC, kernel.threads-max, or no memory for a stack. */
	snprintf(why, sizeof(why), "cannot start a thread: %s", strerror(err));
	model_refuse(s, &s->slots[0], fd, why);
}

static void accept_all(struct server *s)
{
	pthread_attr_t attr;
	sigset_t old;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* The threads inherit this mask: every signal stays with the main thread. */
	model_block_signals(&old);
	for (;;) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd == -1)
			break;	/* EAGAIN; out of fds: the client waits in the backlog */
		start(s, &attr, fd);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

static void shut_all(struct server *s)
{
	(void)s;
	served_shut_all();
}

static int run(struct server *s)
{
	static const struct model_hooks hooks = {
		.accept = accept_all, .cut = shut_all, .live = live,
	};

	s->slots[0].pid = getpid();
	return model_supervise(s, &hooks);
}

const struct model_ops model_thread_ops = {
	.name = "thread",
	.summary = "a thread per connection, started at accept, detached",
	.blocking = true,
	.run = run,
};
