/* server.h - the muxserver event loop, independent of the backend it runs on. */
#ifndef SERVER_H
#define SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mux.h"
#include "proto.h"

struct model_ops;

/* How a pool's workers take turns at accept() (--accept-lock). */
enum accept_lock { ACCEPT_NONE, ACCEPT_FLOCK, ACCEPT_MUTEX, ACCEPT_MAIN };

struct server_config {
	const struct model_ops *model;  /* --model: the reactor unless told otherwise */
	unsigned workers;          /* --workers: a pool's size, or the reactors' count */
	enum accept_lock accept_lock;
	bool shared_listener;      /* reactor workers: one listener for all, not one each (SO_REUSEPORT) */
	bool exclusive;            /* --exclusive: the shared listener wakes one worker (EPOLLEXCLUSIVE) */
	const char *host;          /* numeric IPv4 or IPv6 address */
	int port;                  /* 0: kernel picks one */
	const struct mux_ops *backend;  /* NULL with uring */
	bool uring;                /* --backend uring: the completion-mode loop (server_uring.c) */
	unsigned uring_buffers;    /* --uring-buffers: the loop's provided recv buffers, a power of two */
	const struct proto_ops *proto;
	struct proto_config pcfg;  /* --upper, --body-size */
	size_t max_pending;        /* per-connection unsent bytes before we stop reading */
	size_t max_memory;         /* all connections' buffers: past it the largest are closed; 0: no limit */
	long max_conns;            /* 0: no limit */
	double duration_s;         /* 0: run until a signal */
	double grace_s;            /* after SIGINT/SIGTERM: wait this long for clients */
	double idle_timeout_s;     /* close connections silent this long; 0: never */
	double header_timeout_s;   /* close a request still incomplete this long after its first byte; 0: never */
	double send_timeout_s;     /* close a connection whose pending output has not moved this long; 0: never */
	long nofile;               /* 0: raise soft RLIMIT_NOFILE to the hard limit */
	int sndbuf;                /* 0: kernel default SO_SNDBUF */
	int rcvbuf;                /* 0: kernel default SO_RCVBUF */
	int backlog;
	bool quiet;
};

struct server_stats {
	uint64_t accepted, closed, refused, shed;
	uint64_t bytes_in, bytes_out, requests, reads, writes;
	uint64_t resets, paused, dels;
	uint64_t pending_max;      /* most bytes ever buffered for one connection */
	uint64_t idle_closed;      /* connections closed by --idle-timeout */
	uint64_t header_timeouts;  /* connections closed by --header-timeout */
	uint64_t send_timeouts;    /* connections closed by --send-timeout */
	uint64_t mem, mem_max;     /* bytes of connection buffers now, and the most ever */
	uint64_t mem_closed;       /* connections closed to get back under --max-memory */
	uint64_t out_events;       /* connection events reporting MUX_OUT (write interest at work) */
	uint64_t truncated;        /* udp: datagrams longer than --dgram-size, not echoed */
	uint64_t send_drops;       /* udp: replies the socket refused (full send buffer) */
	uint64_t rcv_drops;        /* udp: datagrams the kernel dropped, receive buffer full (SO_MEMINFO) */
	uint64_t log_dropped;      /* stats and log lines dropped: their stdout/stderr was full */
	uint64_t sqes;             /* uring: submission queue entries queued */
	uint64_t recv_rearms;      /* uring: multishot recvs armed again after they ended */
	uint64_t enobufs;          /* uring: multishot recvs ended by an empty buffer ring */
	uint64_t held;             /* uring: closed connections the kernel still has requests for (now) */
};

/*
 * Listen, print "port=N ..." as the first line of stdout, serve until a
 * signal or the duration ends, print the summary unless quiet.
 * Returns the process exit status: 0 on a clean stop, 1 on a setup failure
 * (already reported on stderr in one line).
 */
int server_run(const struct server_config *cfg);

/* The models (src/server/model.c): for usage texts and --model. */
const struct model_ops *model_find(const char *name);
const char *model_names(void);
const char *model_name(const struct model_ops *m);
bool model_is_pool(const struct model_ops *m);
bool model_is_blocking(const struct model_ops *m);
void model_usage(FILE *out);

/* The completion-mode loop's line for --list-backends: true and its summary if this kernel runs it, else false and why. */
bool server_uring_probe(char *why, size_t len);
extern const char server_uring_name[], server_uring_summary[];

#endif
