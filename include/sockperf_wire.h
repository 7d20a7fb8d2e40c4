/*
 * sockperf_wire.h - sockperf's TCP framing as seen on the wire from sockperf
 * 3.7, shared by the server's protocol (src/server/proto_sockperf.c) and muxload's
 * (src/load/load_sockperf.c). Each message starts with a 14-byte big-endian
 * header: u64 sequence number, u16 flags, u32 length of the whole message
 * (header included).
 */
#ifndef SOCKPERF_WIRE_H
#define SOCKPERF_WIRE_H

enum {
	SOCKPERF_HEADER = 14,
	SOCKPERF_OFF_SEQ = 0,
	SOCKPERF_OFF_FLAGS = 8,
	SOCKPERF_OFF_LEN = 10,
	SOCKPERF_FLAG_CLIENT = 0x1,       /* sent by the client; a reply clears it */
	SOCKPERF_FLAG_PONG_REQUEST = 0x2, /* answer this one */
	/* sockperf's largest message; anything longer is not sockperf talking. */
	SOCKPERF_MAX_MESSAGE = 1 << 20,
};

#endif
