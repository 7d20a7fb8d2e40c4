/* load.h - muxload's engine: threads, connections, the pluggable request/reply protocol. */
#ifndef LOAD_H
#define LOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

extern const struct load_proto load_echo_proto;
extern const struct load_proto load_http_proto;
const struct load_proto *load_proto_find(const char *name);

enum load_error {
	LERR_REFUSED,          /* connect: ECONNREFUSED */
	LERR_PORTS,            /* connect: EADDRNOTAVAIL, ephemeral ports exhausted */
	LERR_CONNECT,          /* connect: anything else (EMFILE, ETIMEDOUT, ...) */
	LERR_MISMATCH,         /* a reply's bytes differ from what was sent */
	LERR_CLOSED,           /* the server closed an active connection (EOF) */
	LERR_RESET,            /* ECONNRESET / EPIPE */
	LERR_TIMEOUT,          /* no reply within --timeout */
	LERR_IDLE_CLOSED,      /* the server closed one of the silent idle connections */
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
};

struct load_result {
	double measured_s;
	uint64_t requests, bytes;  /* completed in the measured interval */
	uint64_t errors[LERR_KINDS];
	uint64_t errors_total;
	long established, failed;  /* connections, active and idle */
	struct hist latency;       /* us; open loop: from the intended send time */
	struct hist uncorrected;   /* us; from the actual send time */
	double busiest_thread_pct;
	char first_error[256];     /* the first error's one-line description, for the user */
};

/* Run the load. Returns 0, or -1 after printing one line when nothing could start. */
int load_run(const struct load_config *cfg, struct load_result *res);

#endif
