/* load.h - muxload's engine: threads, connections, the pluggable request/reply protocol. */
#ifndef LOAD_H
#define LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "hist.h"

/* Where a connection is in reading one reply; protocols keep their parse state here. */
struct reply_parse {
	size_t off;                /* reply bytes consumed so far */
	size_t body_left;          /* http: body bytes still to come */
	bool in_body;              /* http: the header has been read */
	size_t hdr_len;            /* http: header bytes kept while it arrives in pieces */
	char hdr[1024];
};

/*
 * A protocol: how request number seq on connection conn is written, and how
 * its reply is recognised and checked. The payload is a pure function of
 * (conn, seq), so any reply can be checked without keeping a copy.
 */
struct load_proto {
	const char *name;
	const char *summary;       /* one line for --help */
	size_t min_size, max_size; /* --size bounds: header bytes, datagram limit */
	/*
	 * Datagram protocols (udp) send each request as one datagram over a
	 * connected UDP socket. consume is unused: datagram_seq checks a whole
	 * reply and returns its sequence number (-1 when its bytes are wrong),
	 * and the engine counts loss, reordering and duplicates by number.
	 */
	bool datagram;
	long long (*datagram_seq)(const uint8_t *data, size_t n, size_t size, uint32_t conn);
	/* Write the request into buf (size bytes, the --size value); returns its length. */
	size_t (*request)(uint8_t *buf, size_t size, uint32_t conn, uint64_t seq);
	/*
	 * Consume reply bytes for that request. Returns how many of data[0..n)
	 * belong to it and sets *done when the reply is complete; -1 when the
	 * bytes are wrong.
	 */
	ssize_t (*consume)(struct reply_parse *rp, const uint8_t *data, size_t n,
			   size_t size, uint32_t conn, uint64_t seq, bool *done);
};

/* Requests never exceed --size + this many bytes (http's request line and headers). */
#define LOAD_REQUEST_SLACK 256

/* NULL-terminated table of every protocol, in --help order. */
extern const struct load_proto *const load_protos[];
const struct load_proto *load_proto_find(const char *name);
const char *load_proto_names(void);   /* "echo, http, ..." */

/* Bytes [off, off+n) of request (conn, seq)'s keyed pseudo-random payload. */
void load_pattern(uint8_t *out, size_t off, size_t n, uint32_t conn, uint64_t seq);
/* Writes bytes [off, off+n) of the reply expected for (conn, seq). */
typedef void load_expect_fn(uint8_t *out, size_t off, size_t n, size_t size, uint32_t conn, uint64_t seq);
/* consume() for replies of exactly `size` bytes that expect() can regenerate. */
ssize_t load_consume_exact(struct reply_parse *rp, const uint8_t *data, size_t n, size_t size,
			   uint32_t conn, uint64_t seq, bool *done, load_expect_fn *expect);

enum load_error {
	LERR_REFUSED,          /* connect: ECONNREFUSED */
	LERR_PORTS,            /* connect: EADDRNOTAVAIL, ephemeral ports exhausted */
	LERR_CONNECT,          /* connect: anything else (EMFILE, ETIMEDOUT, ...) */
	LERR_MISMATCH,         /* a reply's bytes differ from what was sent */
	LERR_CLOSED,           /* the server closed an active connection (EOF) */
	LERR_RESET,            /* ECONNRESET / EPIPE */
	LERR_TIMEOUT,          /* no reply within --timeout */
	LERR_IDLE_CLOSED,      /* the server closed one of the silent idle connections */
	LERR_LOST,             /* udp: no reply within --timeout, or a later one came first */
	LERR_REORDERED,        /* udp: a reply counted lost arrived after a later one */
	LERR_DUPLICATE,        /* udp: a reply arrived twice */
	LERR_KINDS
};
extern const char *const load_error_names[LERR_KINDS];

struct load_config {
	const char *host;
	int port;
	const struct load_proto *proto;
	long connections, idle, threads;
	double duration_s;         /* 0 when --requests is used */
	long requests;             /* 0 when --duration is used */
	double warmup_s;
	long size, pipeline;
	double rate;               /* 0: closed loop */
	double timeout_s;
	bool progress;
	long mark_pid;             /* 0, or a pid sent SIGUSR1 at the measured interval's start and end */
	bool reconnect;            /* a new connection for every request (closed loop, TCP) */
	FILE *hlog;                /* NULL, or where the interval log goes (--hlog) */
	double hlog_interval_s;
};

struct load_result {
	double measured_s;
	uint64_t requests, bytes;  /* completed in the measured interval */
	uint64_t errors[LERR_KINDS];
	uint64_t errors_total;
	long established, failed;  /* connections, active and idle */
	struct hist latency;       /* us; open loop: from the intended send time */
	struct hist uncorrected;   /* us; from the actual send time */
	uint64_t connects;         /* --reconnect: connections completed in the measured interval */
	struct hist connect;       /* --reconnect: us from connect() to the socket writable */
	double busiest_thread_pct;
	char first_error[256];     /* the first error's one-line description, for the user */
	bool hlog_failed;          /* --hlog could not be written whole (said on stderr) */
};

/* Run the load. Returns 0, or -1 after load_fail's one line when nothing could start. */
int load_run(const struct load_config *cfg, struct load_result *res);
/* Why the run (or the merge) could not start: one line on stderr, kept for load_failure (--json reports it). */
void load_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *load_failure(void);

#endif
