/*
 * load_udp.c - muxload's udp protocol: request (conn, seq) is one datagram
 * of --size bytes, a 12-byte header (u32 connection, u64 sequence number,
 * little-endian) then the keyed payload. The echo must be the whole datagram
 * unchanged; its sequence number tells the engine what was lost, reordered
 * or duplicated.
 */
#include "load.h"

#include <string.h>

#define HEADER 12
/* The largest UDP payload over IPv4: 65535 - 20 (IP) - 8 (UDP). */
#define MAX_DATAGRAM 65507

static size_t udp_request(uint8_t *buf, size_t size, uint32_t conn, uint64_t seq)
{
	memcpy(buf, &conn, 4);
	memcpy(buf + 4, &seq, 8);
	load_pattern(buf + HEADER, 0, size - HEADER, conn, seq);
	return size;
}

static long long udp_datagram_seq(const uint8_t *data, size_t n, size_t size, uint32_t conn)
{
	uint8_t want[256];
	uint32_t c;
	uint64_t seq;

	if (n != size)
		return -1;
	memcpy(&c, data, 4);
	memcpy(&seq, data + 4, 8);
	if (c != conn || seq > (uint64_t)INT64_MAX)
		return -1;
	for (size_t off = HEADER; off < n;) {
		size_t chunk = n - off < sizeof(want) ? n - off : sizeof(want);

		load_pattern(want, off - HEADER, chunk, conn, seq);
		if (memcmp(want, data + off, chunk) != 0)
			return -1;
		off += chunk;
	}
	return (long long)seq;
}

const struct load_proto load_udp_proto = {
	.name = "udp",
	.summary = "one datagram per request; loss, reordering and duplicates counted by sequence number",
	.min_size = HEADER,
	.max_size = MAX_DATAGRAM,
	.datagram = true,
	.datagram_seq = udp_datagram_seq,
	.request = udp_request,
};
