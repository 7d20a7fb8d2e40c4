/*
 * load_proto.c - the registry of muxload's protocols, in --help order. A new
 * protocol is its file in src/load/ (a const struct load_proto) and its name
 * in this line; the first is the default.
 */
#include "load.h"
#include "cli.h"

#define PROTOCOLS(X) X(echo) X(http) X(sockperf) X(udp)

#define DECLARE(name) extern const struct load_proto load_##name##_proto;
#define ENTRY(name) &load_##name##_proto,
PROTOCOLS(DECLARE)
const struct load_proto *const load_protos[] = { PROTOCOLS(ENTRY) NULL };

const struct load_proto *load_proto_find(const char *name)
{
	return cli_find((const void *const *)load_protos, name);
}

const char *load_proto_names(void)
{
	static char names[128];

	return cli_names((const void *const *)load_protos, names, sizeof(names));
}
