/*
 * model_thread.c - a thread per connection: the main thread accepts and
 * starts a detached thread that serves the one client and ends (with
 * --proto udp, as Python's ThreadingUDPServer: a thread per datagram). The
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

/* --proto udp: a thread per datagram, with its own copy of it, answering on the shared socket. */
struct datagram {
	struct server *s;
	struct sockaddr_storage from;
	socklen_t len;
	size_t n;
	char data[];
};

static long datagram_threads;

static void *answer_datagram(void *arg)
{
	struct datagram *d = arg;

	datagram_answer(d->s, &d->s->slots[0], d->data, d->n, &d->from, d->len);
	free(d);
	__atomic_fetch_sub(&datagram_threads, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void start_datagram(struct server *s, const char *data, size_t n, const struct sockaddr_storage *from,
			   socklen_t len)
{
	struct datagram *d = malloc(sizeof(*d) + n);
	pthread_attr_t attr;
	pthread_t t;
	sigset_t old;
	int err = ENOMEM;

	if (s->cfg->max_conns > 0 && __atomic_load_n(&datagram_threads, __ATOMIC_RELAXED) >= s->cfg->max_conns) {
		free(d);
		SLOT_ADD(&s->slots[0], refused, 1);	/* dropped: UDP may */
		return;
	}
	if (d) {
		*d = (struct datagram){ .s = s, .from = *from, .len = len, .n = n };
		memcpy(d->data, data, n);
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		model_block_signals(&old);
		__atomic_fetch_add(&datagram_threads, 1, __ATOMIC_RELAXED);
		err = pthread_create(&t, &attr, answer_datagram, d);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		pthread_attr_destroy(&attr);
	}
	if (err) {
		if (d)
			__atomic_fetch_sub(&datagram_threads, 1, __ATOMIC_RELAXED);
		free(d);
		SLOT_ADD(&s->slots[0], refused, 1);
	}
}

static void receive_all(struct server *s)
{
	datagrams_drain(s, &s->slots[0], start_datagram);
}

static long datagrams_live(struct server *s)
{
	(void)s;
	return __atomic_load_n(&datagram_threads, __ATOMIC_RELAXED);
}

static void keep_socket(struct server *s)
{
	(void)s;
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
	/*
	 * A datagram's thread ends once it has answered: nothing to cut but
	 * waiting. The stop leaves the socket open (the loop just stops reading
	 * it): shut, it would fail the replies of the threads still running.
	 */
	static const struct model_hooks udp = {
		.stop = keep_socket, .accept = receive_all, .cut = shut_all, .live = datagrams_live,
	};

	s->slots[0].pid = getpid();
	return model_supervise(s, s->cfg->proto->datagram ? &udp : &hooks);
}

const struct model_ops model_thread_ops = {
	.name = "thread",
	.summary = "a thread per connection, started at accept, detached",
	.blocking = true,
	.run = run,
};
