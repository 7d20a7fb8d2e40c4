/*
 * sockperf.c - sockperf's TCP wire format (include/sockperf_wire.h), so the
 * sockperf client can drive any backend. Only messages flagged PONG_REQUEST
 * are answered: the same bytes with the CLIENT flag cleared. TCP may split
 * or coalesce messages; a partial one waits for more bytes.
 */
#include "proto.h"
#include "sockperf_wire.h"

#include <stdint.h>

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
	while (n - used >= SOCKPERF_HEADER && proto_room(out)) {
		unsigned char *msg = (unsigned char *)in + used;
		uint32_t len = be32(msg + SOCKPERF_OFF_LEN);
		/* The flags are a big-endian u16: both flags live in its low byte. */
		unsigned char *flags = msg + SOCKPERF_OFF_FLAGS + 1;

		if (len < SOCKPERF_HEADER || len > SOCKPERF_MAX_MESSAGE)
			return -1;	/* garbage: no way to find the next message */
		if (n - used < len)
			break;
		if (*flags & SOCKPERF_FLAG_PONG_REQUEST) {
			*flags &= (unsigned char)~SOCKPERF_FLAG_CLIENT;
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
