/*
 * load_echo.c - the echo protocol for muxload, and the exact-reply checker the
 * binary protocols share (the registry is load_proto.c). Request (conn, seq) is
 * `size` bytes of a keyed pseudo-random stream; the reply must be the same
 * bytes. Checking regenerates the expected bytes, so a reply from another
 * connection, a stale or reordered reply and a flipped bit all fail.
 */
#include "load.h"
#include "cli.h"

#include <string.h>

/* splitmix64's finaliser: a cheap, well-mixed 64-bit hash. */
static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Byte off of request (conn, seq): word off/8 of its stream. */
void load_pattern(uint8_t *out, size_t off, size_t n, uint32_t conn, uint64_t seq)
{
	uint64_t key = mix(((uint64_t)conn << 40) ^ seq);

	while (n) {
		uint64_t word = mix(key + off / 8);
		size_t in_word = off % 8, take = 8 - in_word;

		if (take > n)
			take = n;
		memcpy(out, (const uint8_t *)&word + in_word, take);
		out += take;
		off += take;
		n -= take;
	}
}

ssize_t load_consume_exact(struct reply_parse *rp, const uint8_t *data, size_t n, size_t size,
			   uint32_t conn, uint64_t seq, bool *done, load_expect_fn *expect)
{
	uint8_t want[256];
	size_t take = size - rp->off < n ? size - rp->off : n;

	for (size_t checked = 0; checked < take;) {
		size_t chunk = take - checked < sizeof(want) ? take - checked : sizeof(want);

		expect(want, rp->off + checked, chunk, size, conn, seq);
		if (memcmp(want, data + checked, chunk) != 0)
			return -1;
		checked += chunk;
	}
	rp->off += take;
	*done = rp->off == size;
	if (*done)
		rp->off = 0;
	return (ssize_t)take;
}

static void echo_expect(uint8_t *out, size_t off, size_t n, size_t size, uint32_t conn, uint64_t seq)
{
	(void)size;
	load_pattern(out, off, n, conn, seq);
}

static size_t echo_request(uint8_t *buf, size_t size, uint32_t conn, uint64_t seq)
{
	load_pattern(buf, 0, size, conn, seq);
	return size;
}

static ssize_t echo_consume(struct reply_parse *rp, const uint8_t *data, size_t n,
			    size_t size, uint32_t conn, uint64_t seq, bool *done)
{
	return load_consume_exact(rp, data, n, size, conn, seq, done, echo_expect);
}

const struct load_proto load_echo_proto = {
	.name = "echo",
	.summary = "every reply checked byte for byte",
	.min_size = 1,
	.max_size = 16 << 20,
	.request = echo_request,
	.consume = echo_consume,
};
