/*
 * sockperf.c - sockperf's TCP wire format, so the sockperf client can drive
 * any backend. Each message starts with a 14-byte big-endian header:
 * u64 sequence number, u16 flags, u32 length of the whole message (header
 * included), as seen on the wire from sockperf 3.7. Only messages flagged
 * PONG_REQUEST are answered: the same bytes with the CLIENT flag cleared.
 * TCP may split or coalesce messages; a partial one waits for more bytes.
 */
#include "proto.h"

#include <stdint.h>

#define HEADER 14
#define FLAG_CLIENT 0x1
#define FLAG_PONG_REQUEST 0x2
/* sockperf's largest message; anything longer is not sockperf talking. */
#define MAX_MESSAGE (1 << 20)

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static long sockperf_input(void *state, char *in, size_t n, struct proto_out *out,
			   const struct proto_config *cfg)
{
	size_t used = 0;

	(void)state;
	(void)cfg;
	while (n - used >= HEADER && proto_room(out)) {
		unsigned char *msg = (unsigned char *)in + used;
		uint32_t len = be32(msg + 10);

		if (len < HEADER || len > MAX_MESSAGE)
			return -1;	/* garbage: no way to find the next message */
		if (n - used < len)
			break;
		if (msg[9] & FLAG_PONG_REQUEST) {
			msg[9] &= (unsigned char)~FLAG_CLIENT;
			proto_emit(out, (char *)msg, len);
		}
		used += len;
	}
	return (long)used;
}

const struct proto_ops proto_sockperf_ops = {
	.name = "sockperf",
	.summary = "sockperf's TCP framing: answer PONG_REQUEST messages with CLIENT cleared",
	.input = sockperf_input,
};
