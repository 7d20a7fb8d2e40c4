/* proto_echo.c - echo over TCP and UDP (upper-cased with --upper), and the protocol registry. */
#include "proto.h"
#include "cli.h"

#include <ctype.h>
#include <string.h>

static long echo_input(void *state, char *in, size_t n, struct proto_out *out,
		       const struct proto_config *cfg)
{
	(void)state;
	if (n > proto_room(out))
		n = proto_room(out);	/* never, as the core reads no more than the room; but the rule holds */
	if (cfg->upper)
		for (size_t i = 0; i < n; i++)
			in[i] = (char)toupper((unsigned char)in[i]);
	proto_emit(out, in, n);	/* no copy: the core sends straight from its read buffer */
	return (long)n;
}

const struct proto_ops proto_echo_ops = {
	.name = "echo",
	.summary = "bytes in, the same bytes out",
	.input = echo_input,
};

/* The course notes' first server: each datagram back to its sender. */
const struct proto_ops proto_udp_ops = {
	.name = "udp",
	.summary = "datagram echo with recvfrom/sendto",
	.datagram = true,
	.input = echo_input,
};
