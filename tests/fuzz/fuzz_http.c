/*
 * fuzz_http.c - libFuzzer target: the HTTP responder on arbitrary bytes,
 * fed in two pieces split where the input says, as TCP would deliver them.
 * ASan catches over-reads; the asserts catch a parser that consumes more
 * than it was given or answers a request twice.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "proto.h"

struct proto_out {
	size_t bytes, replies, limit;
};

void proto_emit(struct proto_out *o, const char *data, size_t n)
{
	assert(n > 0 && data);
	o->bytes += n;
	o->replies++;
}

size_t proto_room(const struct proto_out *o)
{
	return o->bytes < o->limit ? o->limit - o->bytes : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct proto_config cfg = { .body_size = 13 };
	struct http_parse_state st = { 0 };
	/* The last byte sets the output room, so stopping at --max-pending is fuzzed too. */
	struct proto_out out = { .limit = 1 + (size ? data[size - 1] : 0) * 256u };
	size_t split = size ? data[0] % size : 0, held_len = 0;
	char *held = malloc(size + 1);

	for (size_t pos = 0, round = 0; round < 2 && held; round++) {
		size_t take = round == 0 ? split : size - pos;
		long used;

		memcpy(held + held_len, data + pos, take);
		held_len += take;
		pos += take;
		used = proto_http_ops.input(&st, held, held_len, &out, &cfg);
		if (used < 0)
			break;
		assert((size_t)used <= held_len);
		memmove(held, held + used, held_len - (size_t)used);
		held_len -= (size_t)used;
	}
	/* No request is shorter than "G / HTTP/1.0\n\n" (14 bytes): replies are bounded by input. */
	assert(out.replies <= size / 14 + 1);
	free(held);
	return 0;
}
