/*
 * proto.h - what the server does with the bytes it reads. The core reads,
 * hands the protocol everything not yet consumed, and sends what the
 * protocol emits; it keeps unconsumed bytes (a partial request) for the
 * next read. Nothing in the core knows which protocol runs.
 */
#ifndef PROTO_H
#define PROTO_H

#include <stdbool.h>
#include <stddef.h>

struct proto_out;   /* the core's reply collector */

/*
 * Queue reply bytes; counted as one request answered. The first reply of a
 * call is kept by reference and sent after input() returns, so data must
 * point into `in` or static storage, never into input()'s stack.
 */
void proto_emit(struct proto_out *out, const char *data, size_t n);
/*
 * Bytes the connection may still queue before it reaches --max-pending
 * (0: at the cap). A protocol checks it before each request and stops
 * consuming when it is 0, so a reply larger than its request cannot make
 * the server buffer without bound: what it did not consume is kept and
 * offered again once the peer has read enough. One reply may overshoot.
 */
size_t proto_room(const struct proto_out *out);

struct proto_config {
	bool upper;          /* echo, udp: upper-case the reply */
	size_t body_size;    /* http: bytes of response body */
	size_t dgram_size;   /* udp: receive buffer; longer datagrams are counted, not echoed */
};

struct proto_ops {
	const char *name;
	const char *summary;
	size_t state_size;   /* per-connection state, zeroed at accept */
	bool datagram;       /* UDP: one socket, each datagram handed to input() whole */
	const char *timeout_reply;  /* sent before closing a request that timed out (NULL: none) */
	/*
	 * Consume complete requests at in[0..n) (which the protocol may modify
	 * in place) and emit their replies while proto_room() allows. Returns
	 * the bytes consumed (the rest is offered again with more data or more
	 * room), or -1 to close the connection once what was emitted has been
	 * sent.
	 */
	long (*input)(void *state, char *in, size_t n, struct proto_out *out,
		      const struct proto_config *cfg);
};

/* The two the parser tests and fuzz targets drive directly. */
extern const struct proto_ops proto_http_ops;
extern const struct proto_ops proto_sockperf_ops;

/* The registry (src/server/proto.c), NULL-terminated, the default first: usage texts derive from it. */
extern const struct proto_ops *const proto_all[];
const struct proto_ops *proto_find(const char *name);
const char *proto_names(void);

#endif
