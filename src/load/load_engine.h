/*
 * load_engine.h - what the engine's three files share, private to them:
 * load_engine.c drives the connections, load_setup.c opens them,
 * load_run.c runs the threads and merges their results.
 */
#ifndef LOAD_ENGINE_H
#define LOAD_ENGINE_H

#include "load.h"

#include <pthread.h>
#include <sys/socket.h>

/* Open loop: requests one connection may have due but unanswered before it stops taking more. */
#define OPEN_LOOP_RING 4096
#define IDLE_TAG (1ULL << 63)   /* epoll data of an idle connection: tag | fd */

struct lconn {
	int fd;
	uint32_t id;
	bool dead, want_out;
	bool connecting;           /* --reconnect: connect() in progress since dial_ns */
	int64_t dial_ns;
	uint64_t assigned, written, answered;
	size_t tx_len, tx_off;     /* the request being written */
	uint8_t *tx;
	struct reply_parse rp;
	int64_t *t_intended, *t_sent;   /* ring, indexed by seq & mask */
};

struct shared {
	const struct load_config *cfg;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	pthread_barrier_t connected, go;
	int64_t start_ns, warm_ns, end_ns;
	int stop;                  /* atomic */
	uint64_t measured;         /* atomic: completed after warm-up, all threads (--requests) */
	int64_t reached_ns;        /* atomic: when --requests was reached */
	struct hlog_run *hlog;     /* --hlog: the log being written (load_hlog.c), or NULL */
};

struct lthread {
	struct shared *sh;
	pthread_t tid;
	int ep;
	struct lconn *conns;
	long nconns, nidle;
	uint32_t first_id;
	uint64_t mask;
	double rate;               /* open loop: this thread's share, requests/s */
	uint64_t scheduled;        /* open loop: requests assigned so far */
	uint64_t completed_all;    /* atomic, for progress: including warm-up */
	int64_t cpu0_ns, wall0_ns;
	struct load_result r;
	struct hist *interval;     /* --hlog: this interval's latencies (atomic pointer, swapped by main) */
	struct hist *spare;        /* --hlog: the clean one main swaps in next */
	uint64_t rec_begun, rec_ended;   /* --hlog: records into *interval begun and ended (atomic) */
	uint8_t rx[65536];
};

/* Read on every turn of the loops: inline, so the split into files costs no call. */
static inline bool stopping(const struct shared *sh)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
}

/* load_engine.c */
/* Count an error of this kind; the thread's first one is kept for the report. */
void note_error(struct lthread *t, enum load_error kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The thread's epoll loop, from the go barrier until the end or --requests. */
void run_loop(struct lthread *t);

/* load_setup.c */
int preflight(const struct load_config *cfg, struct shared *sh);
bool threads_init(struct shared *sh, struct lthread *ts, long n);
/* Run in the thread, idle first: a connection that fails is counted, not fatal. */
void open_idle(struct lthread *t);
void open_active(struct lthread *t);
/* A socket connected (wait) or connecting (not) to the server; -1 with the error noted. */
int dial(struct lthread *t, bool wait);
/* Count a failed connect (errno value err) under its kind, with a line for the user. */
void note_connect_error(struct lthread *t, int err);
void thread_free(struct lthread *t);

/* load_hlog.c: --hlog. Every function does nothing without it. */
bool hlog_prepare(struct shared *sh, struct lthread *ts, long n);
/* The header, once warm_ns is known: the log's time 0 is the measured interval's start. */
void hlog_start(struct shared *sh);
/* When the open interval should be closed (INT64_MAX without --hlog). */
int64_t hlog_due(const struct shared *sh);
void hlog_tick(struct shared *sh, struct lthread *ts, long n, int64_t until);
/* The last interval up to end, then free; -1 (said on stderr) when the log is not whole. */
int hlog_finish(struct shared *sh, struct lthread *ts, long n, int64_t end);
/* Engine thread: a measured latency into the open interval. */
void interval_record(struct lthread *t, int64_t us);

#endif
