/*
 * load_sockperf.c - muxload speaking sockperf's TCP framing, so it can drive
 * `muxserver --proto sockperf` and sockperf's own server alike. Request
 * (conn, seq) is one message of --size bytes: the 14-byte big-endian header
 * (u64 sequence number, u16 flags CLIENT|PONG_REQUEST, u32 whole length)
 * then the keyed payload. The reply must be the same message with the
 * CLIENT flag cleared, checked byte for byte.
 */
#include "load.h"

#include <string.h>

#define HEADER 14
#define FLAG_CLIENT 0x1
#define FLAG_PONG_REQUEST 0x2

static void put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static void header(uint8_t h[HEADER], size_t size, uint64_t seq, unsigned flags)
{
	put_be(h, seq, 8);
	put_be(h + 8, flags, 2);
	put_be(h + 10, size, 4);
}

static size_t sockperf_request(uint8_t *buf, size_t size, uint32_t conn, uint64_t seq)
{
	header(buf, size, seq, FLAG_CLIENT | FLAG_PONG_REQUEST);
	load_pattern(buf + HEADER, 0, size - HEADER, conn, seq);
	return size;
}

/* Reply bytes [off, off+n): the header with CLIENT cleared, then the payload. */
static void sockperf_expect(uint8_t *out, size_t off, size_t n, size_t size, uint32_t conn, uint64_t seq)
{
	if (off < HEADER) {
		uint8_t h[HEADER];
		size_t take = HEADER - off < n ? HEADER - off : n;

		header(h, size, seq, FLAG_PONG_REQUEST);
		memcpy(out, h + off, take);
		out += take;
		off += take;
		n -= take;
	}
	load_pattern(out, off - HEADER, n, conn, seq);
}

static ssize_t sockperf_consume(struct reply_parse *rp, const uint8_t *data, size_t n,
				size_t size, uint32_t conn, uint64_t seq, bool *done)
{
	return load_consume_exact(rp, data, n, size, conn, seq, done, sockperf_expect);
}

const struct load_proto load_sockperf_proto = {
	.name = "sockperf",
	.summary = "sockperf's TCP framing (14-byte header, PONG_REQUEST); replies checked byte for byte",
	.min_size = HEADER,
	.max_size = 1 << 20,	/* the server side's limit for one message */
	.request = sockperf_request,
	.consume = sockperf_consume,
};
