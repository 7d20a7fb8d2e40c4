/*
 * load_sockperf.c - muxload speaking sockperf's TCP framing, so it can drive
 * `muxserver --proto sockperf` and sockperf's own server alike. Request
 * (conn, seq) is one message of --size bytes: the header of
 * include/sockperf_wire.h flagged CLIENT|PONG_REQUEST, then the keyed
 * payload. The reply must be the same message with the CLIENT flag
 * cleared, checked byte for byte.
 */
#include "load.h"
#include "sockperf_wire.h"

#include <string.h>

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void header(uint8_t h[SOCKPERF_HEADER], size_t size, uint64_t seq, unsigned flags)
{
	put_be(h + SOCKPERF_OFF_SEQ, seq, 8);
	put_be(h + SOCKPERF_OFF_FLAGS, flags, 2);
	put_be(h + SOCKPERF_OFF_LEN, size, 4);
}

static size_t sockperf_request(uint8_t *buf, size_t size, uint32_t conn, uint64_t seq)
{
	header(buf, size, seq, SOCKPERF_FLAG_CLIENT | SOCKPERF_FLAG_PONG_REQUEST);
	load_pattern(buf + SOCKPERF_HEADER, 0, size - SOCKPERF_HEADER, conn, seq);
	return size;
}

/* Reply bytes [off, off+n): the header with CLIENT cleared, then the payload. */
static void sockperf_expect(uint8_t *out, size_t off, size_t n, size_t size, uint32_t conn, uint64_t seq)
{
	if (off < SOCKPERF_HEADER) {
		uint8_t h[SOCKPERF_HEADER];
		size_t take = SOCKPERF_HEADER - off < n ? SOCKPERF_HEADER - off : n;

		header(h, size, seq, SOCKPERF_FLAG_PONG_REQUEST);
		memcpy(out, h + off, take);
		out += take;
		off += take;
		n -= take;
	}
	load_pattern(out, off - SOCKPERF_HEADER, n, conn, seq);
}

static ssize_t sockperf_consume(struct reply_parse *rp, const uint8_t *data, size_t n,
				size_t size, uint32_t conn, uint64_t seq, bool *done)
{
	return load_consume_exact(rp, data, n, size, conn, seq, done, sockperf_expect);
}

const struct load_proto load_sockperf_proto = {
	.name = "sockperf",
	.summary = "sockperf's TCP framing (14-byte header, PONG_REQUEST); replies checked byte for byte",
	.min_size = SOCKPERF_HEADER,
	.max_size = SOCKPERF_MAX_MESSAGE,	/* the server side's limit for one message */
	.request = sockperf_request,
	.consume = sockperf_consume,
};
