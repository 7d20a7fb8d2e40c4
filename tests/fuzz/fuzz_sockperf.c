/*
 * fuzz_sockperf.c - libFuzzer target: sockperf framing on arbitrary bytes.
 * Every reply must be a whole message of the input with the CLIENT flag
 * cleared, and never more bytes out than came in.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

struct proto_out {
	size_t bytes, limit;
};

void proto_emit(struct proto_out *o, const char *data, size_t n)
{
	assert(n >= 14);
	assert(((unsigned char)data[9] & 0x3) == 0x2);	/* PONG_REQUEST kept, CLIENT cleared */
	o->bytes += n;
}

size_t proto_room(const struct proto_out *o)
{
	return o->bytes < o->limit ? o->limit - o->bytes : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct proto_config cfg = { 0 };
	/* The last byte sets the output room, so stopping at --max-pending is fuzzed too. */
	struct proto_out out = { .limit = 1 + (size ? data[size - 1] : 0) * 256u };
	char *copy = malloc(size + 1);
	long used;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	used = proto_sockperf_ops.input(NULL, copy, size, &out, &cfg);
	assert(used == -1 || (size_t)used <= size);
	assert(out.bytes <= size);
	free(copy);
	return 0;
}
