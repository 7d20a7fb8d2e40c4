/*
 * proto.c - the registry of muxserver's protocols, in --help order. A new
 * protocol is its file in src/server/ (a const struct proto_ops) and its
 * name in this line; the first is the default.
 */
#include "proto.h"
#include "cli.h"

#define PROTOCOLS(X) X(echo) X(http) X(sockperf) X(udp)

#define DECLARE(name) extern const struct proto_ops proto_##name##_ops;
#define ENTRY(name) &proto_##name##_ops,
PROTOCOLS(DECLARE)
const struct proto_ops *const proto_all[] = { PROTOCOLS(ENTRY) NULL };

const struct proto_ops *proto_find(const char *name)
{
	return cli_find((const void *const *)proto_all, name);
}

const char *proto_names(void)
{
	static char names[128];

	return cli_names((const void *const *)proto_all, names, sizeof(names));
}
