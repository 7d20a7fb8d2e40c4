/*
 * model_prethread.c - Stevens' prethreaded server (UNP 30.11, 30.12):
 * --workers N threads made at start. With --accept-lock none or mutex each
 * thread blocks in accept() itself (the mutex lets one at a time in); with
 * main, the main thread accepts and hands each socket to a waiting thread.
 */
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* Sockets the main thread accepted, waiting for a worker (--accept-lock main). */
#define HANDOFF_MAX 1024

static struct {
	pthread_mutex_t lock;
	pthread_cond_t ready;
	int fds[HANDOFF_MAX];
	size_t head, len;
	bool closed;          /* the stop: workers end once it is empty */
	bool cut;             /* past the grace: workers end now, the queued clients are closed */
	long running;         /* worker threads not yet ended */
} pool = { .lock = PTHREAD_MUTEX_INITIALIZER, .ready = PTHREAD_COND_INITIALIZER };

struct worker_arg {
	struct server *s;
	struct model_slot *slot;
	int listen_fd;
};

/* The next handed-over socket; -1 once the stop has emptied the queue. */
static int take_handed(void)
{
	int fd = -1;

	pthread_mutex_lock(&pool.lock);
	while (!pool.len && !pool.closed)
		pthread_cond_wait(&pool.ready, &pool.lock);
	if (pool.len && !pool.cut) {
		fd = pool.fds[pool.head];
		pool.head = (pool.head + 1) % HANDOFF_MAX;
		pool.len--;
	}
	pthread_mutex_unlock(&pool.lock);
	return fd;
}

static int next_client(const struct worker_arg *w)
{
	int fd;

	if (w->s->cfg->accept_lock == ACCEPT_MAIN) {
		fd = take_handed();
		if (fd != -1)
			SLOT_ADD(w->slot, accepted, 1);	/* the worker's line counts what it served */
		return fd;
	}
	accept_turn_take();
	fd = session_accept(w->listen_fd, w->slot);
	accept_turn_give();
	return fd;
}

/* The cut sets it before shutting the listed sockets: one listed later checks it. */
static bool cut_passed(void)
{
	bool cut;

	pthread_mutex_lock(&pool.lock);
	cut = pool.cut;
	pthread_mutex_unlock(&pool.lock);
	return cut;
}

static void *worker(void *arg)
{
	struct worker_arg w = *(struct worker_arg *)arg;
	int fd;

	free(arg);
	w.slot->pid = gettid();
	while ((fd = next_client(&w)) != -1) {
		if (!served_list(fd)) {
			model_refuse(w.s, w.slot, fd, "out of memory");
			continue;
		}
		/* Listed after the cut shut the others: this one it missed, so it ends here. */
		if (!cut_passed())
			session_serve(w.s, w.slot, fd);
		else
			SLOT_ADD(w.slot, closed, 1);
		served_close(fd);
	}
	model_slot_exit(w.slot, RUSAGE_THREAD);
	pthread_mutex_lock(&pool.lock);
	pool.running--;
	pthread_mutex_unlock(&pool.lock);
	return NULL;
}

static long live(struct server *s)
{
	long n;

	(void)s;
	pthread_mutex_lock(&pool.lock);
	n = pool.running;
	pthread_mutex_unlock(&pool.lock);
	return n;
}

/* --accept-lock main: accept everything waiting and queue it; a full queue refuses. */
static void hand_over(struct server *s)
{
	int fd;

	while ((fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC)) != -1) {
		bool queued;

		pthread_mutex_lock(&pool.lock);
		queued = pool.len < HANDOFF_MAX;
		if (queued) {
			pool.fds[(pool.head + pool.len++) % HANDOFF_MAX] = fd;
			pthread_cond_signal(&pool.ready);
		}
		pthread_mutex_unlock(&pool.lock);
		if (!queued)
			model_refuse(s, &s->slots[0], fd, "every worker busy and the hand-over queue full");
	}
}

/* The stop: the listener shut (workers in accept wake), the queue closed (workers waiting on it wake). */
static void stop(struct server *s)
{
	model_stop_listening(s);
	pthread_mutex_lock(&pool.lock);
	pool.closed = true;
	pthread_cond_broadcast(&pool.ready);
	pthread_mutex_unlock(&pool.lock);
}

/* Past the grace: the sockets being served are shut, those still queued closed unserved. */
static void cut(struct server *s)
{
	stop(s);
	pthread_mutex_lock(&pool.lock);
	pool.cut = true;
	for (; pool.len; pool.len--, pool.head = (pool.head + 1) % HANDOFF_MAX) {
		close(pool.fds[pool.head]);
		SLOT_ADD(&s->slots[0], refused, 1);
	}
	pthread_mutex_unlock(&pool.lock);
	served_shut_all();
}

/* The threads, with every signal blocked (they inherit the mask); false when none could start. */
static bool start(struct server *s)
{
	pthread_attr_t attr;
	sigset_t old;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	model_block_signals(&old);
	for (size_t i = 0; i < s->nslots; i++) {
		struct worker_arg *w = malloc(sizeof(*w));
		pthread_t t;
		int err = ENOMEM;

		if (w) {
			*w = (struct worker_arg){ s, &s->slots[i], s->listen_fd };
			pthread_mutex_lock(&pool.lock);
			pool.running++;
			pthread_mutex_unlock(&pool.lock);
			err = pthread_create(&t, &attr, worker, w);
		}
		if (err) {
			fprintf(stderr, "muxserver: cannot start worker %zu of %zu: %s\n", i, s->nslots,
				strerror(err));
			if (w) {
				pthread_mutex_lock(&pool.lock);
				pool.running--;
				pthread_mutex_unlock(&pool.lock);
			}
			free(w);
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	return live(s) > 0;
}

static int run(struct server *s)
{
	static const struct model_hooks hooks = { .stop = stop, .cut = cut, .live = live, .workers_fixed = true };
	static const struct model_hooks handing = { .stop = stop, .accept = hand_over, .cut = cut, .live = live,
						    .workers_fixed = true };
	bool main_accepts = s->cfg->accept_lock == ACCEPT_MAIN;
	int rc = 1;

	if (!main_accepts)
		model_blocking_listener(s);
	if (accept_turn_setup(s) == 0 && start(s))
		rc = model_supervise(s, main_accepts ? &handing : &hooks);
	else
		cut(s);
	/* The lock stays if threads outlived the cut: they may still hold it. */
	if (live(s) == 0)
		accept_turn_teardown();
	return rc;
}

const struct model_ops model_prethread_ops = {
	.name = "prethread",
	.summary = "--workers N threads made at start; each accepts, or the main thread hands over (--accept-lock)",
	.pool = true,
	.blocking = true,
	.run = run,
};
