/* muxserver.c - command line of the server (echo, http, sockperf, udp). */
#include "cli.h"
#include "mux.h"
#include "server.h"
#include "version.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PROG "muxserver"

/* Backends and protocols come from their registries: adding one needs no edit here. */
static void usage(FILE *out)
{
	fprintf(out,
"Usage: muxserver [options]\n"
"A server (echo, HTTP, sockperf or UDP) on a multiplexer backend chosen at run time,\n"
"or as one of the classic server models (--model).\n"
"\n"
"  -m, --model NAME       how clients are served (default reactor); see Models below\n"
"  -w, --workers N        reactor: N event loops in N processes (default 1);\n"
"                         prefork, prethread: the pool's size (default 8)\n"
"      --accept-lock L    prefork: none, flock or mutex; prethread: none, mutex, or main\n"
"                         (the main thread accepts and hands over) (default none)\n"
"      --shared-listener  reactor --workers N: one listener for all loops instead of one\n"
"                         each with SO_REUSEPORT\n"
"      --exclusive        --shared-listener on epoll or epoll-et: each connection wakes one\n"
"                         loop, not all (EPOLLEXCLUSIVE)\n"
"  -b, --backend NAME     reactor: %s, %s (default %s)\n"
"      --list-backends    print each backend, OK or FAILED on this host, and a summary;\n"
"                         exit 1 if any failed\n"
"      --uring-buffers N  --backend uring: provided recv buffers of 8 KiB, a power of two\n"
"                         (default 1024); too few end multishot recvs (counted as enobufs)\n"
"  -H, --host ADDR        numeric IPv4/IPv6 address to listen on (default 127.0.0.1)\n"
"  -p, --port N           TCP port; 0 picks a free one (default 7000)\n"
"                         the first line of stdout is always 'port=N host=... backend=...\n"
"                         proto=... model=... workers=... pid=...'\n"
"      --max-pending SIZE unsent bytes per connection before the server stops reading\n"
"                         and parsing its requests until it drains (default 1M;\n"
"                         " CLI_SIZE_SUFFIXES " suffixes); one reply may go past it\n"
"      --max-memory SIZE  bytes of all connections' buffers; past it reads stop and the connections\n"
"                         holding the most are closed, counted as mem_closed (default 256M, 0: no limit)\n"
"      --max-conns N      reactor, fork, thread: connections beyond N are accepted and closed\n"
"                         at once, counted as refused (default 0: no limit)\n"
"  -d, --duration S       stop by itself after S seconds (for perf/strace sessions)\n"
"      --idle-timeout S   close connections silent for S seconds (default 0: never)\n"
"      --header-timeout S close a connection whose request is still incomplete S seconds\n"
"                         after its first byte (http: 408 first); slowloris (default 60, 0: never);\n"
"                         time the server is not reading from it (output at the cap) does not count\n"
"      --send-timeout S   close a connection whose pending output has not moved for S seconds\n"
"                         (a peer that stopped reading; counted as send_timeouts) (default 60, 0: never)\n"
"      --grace S          after SIGINT/SIGTERM, wait up to S seconds for clients to finish (default 5)\n"
"      --nofile N         set the soft fd limit to N (default: raise it to the hard limit)\n"
"      --sndbuf SIZE      SO_SNDBUF of accepted sockets (default: kernel's)\n"
"      --rcvbuf SIZE      SO_RCVBUF of accepted sockets and of the udp socket (default: kernel's)\n"
"      --backlog N        listen(2) backlog (default 4096)\n"
"      --proto NAME       the protocol served (default %s), one of the list below\n"
"      --dgram-size SIZE  udp: receive buffer (default 64K); longer datagrams are counted, not echoed\n"
"      --body-size SIZE   http: bytes of response body (default 13: 'Hello, World!')\n"
"      --upper            echo upper-cased\n"
"  -q, --quiet            no summary and no log lines (the port line is still printed)\n"
"  -h, --help             this text\n"
"      --version          the version, and the git commit built from\n"
"\n"
"Signals: SIGUSR1 prints a 'stats ...' line; SIGINT/SIGTERM stop accepting and\n"
"wait for clients (a second signal stops at once); the 'summary ...' line is printed on exit.\n"
"\n"
"Blocking models (all but reactor) serve echo, http and sockperf on blocking sockets with\n"
"plain read/write, and iterative and thread udp too (thread: a thread per datagram); of the\n"
"timeouts they keep --idle-timeout and --send-timeout (SO_RCVTIMEO, SO_SNDTIMEO). Their\n"
"summary adds the children's CPU (RUSAGE_CHILDREN); pools and reactor workers print a\n"
"'worker id=...' line each before it.\n"
"\n"
"Protocols:\n", mux_names(), server_uring_name, MUX_DEFAULT, proto_all[0]->name);
	for (size_t i = 0; proto_all[i]; i++)
		fprintf(out, "  %-9s %s\n", proto_all[i]->name, proto_all[i]->summary);
	fprintf(out, "\nModels:\n");
	model_usage(out);
}

/* Lists every backend; returns how many failed, so that a script can trust the exit status. */
static int list_backends(void)
{
	char why[160];
	int failed = 0;

	for (size_t i = 0; mux_backends[i]; i++) {
		const struct mux_ops *ops = mux_backends[i];
		struct mux *m = mux_create(ops, 16);

		/* Creating one proves the backend works on this kernel, as haproxy -vv does. */
		if (m)
			printf("%-10s OK     %s\n", ops->name, ops->summary);
		else
			printf("%-10s FAILED %s (%s)\n", ops->name, strerror(errno), ops->summary);
		if (m)
			mux_destroy(m);
		failed += !m;
	}
	/* The completion-mode loop is no mux backend: the server checks it itself. */
	if (server_uring_probe(why, sizeof(why))) {
		printf("%-10s OK     %s\n", server_uring_name, server_uring_summary);
	} else {
		printf("%-10s FAILED %s (%s)\n", server_uring_name, why, server_uring_summary);
		failed++;
	}
	return failed;
}

enum { OPT_LIST = 256, OPT_MAX_PENDING, OPT_MAX_CONNS, OPT_GRACE, OPT_NOFILE,
       OPT_SNDBUF, OPT_RCVBUF, OPT_BACKLOG, OPT_UPPER, OPT_URING_BUFFERS, OPT_PROTO, OPT_BODY_SIZE, OPT_DGRAM_SIZE, OPT_IDLE_TIMEOUT, OPT_HEADER_TIMEOUT,
       OPT_MAX_MEMORY, OPT_SEND_TIMEOUT, OPT_ACCEPT_LOCK, OPT_SHARED_LISTENER, OPT_EXCLUSIVE, OPT_VERSION,
       OPT_END };

static const struct option options[] = {
	{ "model", required_argument, NULL, 'm' },
	{ "workers", required_argument, NULL, 'w' },
	{ "accept-lock", required_argument, NULL, OPT_ACCEPT_LOCK },
	{ "shared-listener", no_argument, NULL, OPT_SHARED_LISTENER },
	{ "exclusive", no_argument, NULL, OPT_EXCLUSIVE },
	{ "backend", required_argument, NULL, 'b' },
	{ "list-backends", no_argument, NULL, OPT_LIST },
	{ "host", required_argument, NULL, 'H' },
	{ "port", required_argument, NULL, 'p' },
	{ "max-pending", required_argument, NULL, OPT_MAX_PENDING },
	{ "max-conns", required_argument, NULL, OPT_MAX_CONNS },
	{ "max-memory", required_argument, NULL, OPT_MAX_MEMORY },
	{ "duration", required_argument, NULL, 'd' },
	{ "grace", required_argument, NULL, OPT_GRACE },
	{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
	{ "header-timeout", required_argument, NULL, OPT_HEADER_TIMEOUT },
	{ "send-timeout", required_argument, NULL, OPT_SEND_TIMEOUT },
	{ "nofile", required_argument, NULL, OPT_NOFILE },
	{ "sndbuf", required_argument, NULL, OPT_SNDBUF },
	{ "rcvbuf", required_argument, NULL, OPT_RCVBUF },
	{ "backlog", required_argument, NULL, OPT_BACKLOG },
	{ "upper", no_argument, NULL, OPT_UPPER },
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "body-size", required_argument, NULL, OPT_BODY_SIZE },
	{ "uring-buffers", required_argument, NULL, OPT_URING_BUFFERS },
	{ "dgram-size", required_argument, NULL, OPT_DGRAM_SIZE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int set_backend(struct server_config *cfg)
{
	cfg->uring = strcmp(optarg, server_uring_name) == 0;
	cfg->backend = cfg->uring ? NULL : mux_find(optarg);
	if (!cfg->backend && !cfg->uring) {
		fprintf(stderr, PROG ": unknown backend '%s' (valid: %s, %s)\n",
			optarg, mux_names(), server_uring_name);
		return 2;
	}
	return 0;
}

static int set_model(struct server_config *cfg)
{
	cfg->model = model_find(optarg);
	if (!cfg->model) {
		fprintf(stderr, PROG ": unknown model '%s' (valid: %s)\n", optarg, model_names());
		return 2;
	}
	return 0;
}

static int set_accept_lock(struct server_config *cfg)
{
	static const char *const names[] = { [ACCEPT_NONE] = "none", [ACCEPT_FLOCK] = "flock",
					     [ACCEPT_MUTEX] = "mutex", [ACCEPT_MAIN] = "main" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(optarg, names[i]) == 0) {
			cfg->accept_lock = (enum accept_lock)i;
			return 0;
		}
	}
	fprintf(stderr, PROG ": unknown --accept-lock '%s' (valid: none, flock, mutex, main)\n", optarg);
	return 2;
}

static int set_proto(struct server_config *cfg)
{
	cfg->proto = proto_find(optarg);
	if (!cfg->proto) {
		fprintf(stderr, PROG ": unknown protocol '%s' (valid: %s)\n", optarg, proto_names());
		return 2;
	}
	return 0;
}

/* The flags that take a size or a count; false after cli_* reported a bad value. */
static bool set_number(int c, struct server_config *cfg)
{
	bool ok = true;
	long v;

	switch (c) {
	case 'p': ok = cli_long(PROG, "port", optarg, 0, 65535, &v); cfg->port = (int)v; break;
	case OPT_MAX_PENDING:
		ok = cli_size(PROG, "max-pending", optarg, 1, 1L << 40, &v);
		cfg->max_pending = (size_t)v;
		break;
	case OPT_MAX_MEMORY:
		ok = cli_size(PROG, "max-memory", optarg, 0, 1L << 40, &v);
		cfg->max_memory = (size_t)v;
		break;
	case OPT_MAX_CONNS: ok = cli_long(PROG, "max-conns", optarg, 0, 1L << 30, &cfg->max_conns); break;
	case 'w': ok = cli_long(PROG, "workers", optarg, 1, 4096, &v); cfg->workers = (unsigned)v; break;
	case OPT_NOFILE: ok = cli_long(PROG, "nofile", optarg, 16, 1L << 30, &cfg->nofile); break;
	case OPT_SNDBUF: ok = cli_size(PROG, "sndbuf", optarg, 1, 1L << 30, &v); cfg->sndbuf = (int)v; break;
	case OPT_RCVBUF: ok = cli_size(PROG, "rcvbuf", optarg, 1, 1L << 30, &v); cfg->rcvbuf = (int)v; break;
	case OPT_BACKLOG: ok = cli_long(PROG, "backlog", optarg, 1, 1L << 20, &v); cfg->backlog = (int)v; break;
	case OPT_DGRAM_SIZE:
		ok = cli_size(PROG, "dgram-size", optarg, 1, 65536, &v);
		cfg->pcfg.dgram_size = (size_t)v;
		break;
	case OPT_BODY_SIZE:
		ok = cli_size(PROG, "body-size", optarg, 0, 1L << 20, &v);
		cfg->pcfg.body_size = (size_t)v;
		break;
	case OPT_URING_BUFFERS:
		ok = cli_long(PROG, "uring-buffers", optarg, 1, 32768, &v);
		if (ok && (v & (v - 1))) {
			fprintf(stderr, PROG ": --uring-buffers: expected a power of two, got %ld\n", v);
			ok = false;
		}
		cfg->uring_buffers = (unsigned)v;
		break;
	}
	return ok;
}

/* 0 is the default, never (documented, once refused); a positive one keeps its 10 ms floor. */
static bool idle_timeout(const char *text, struct server_config *cfg)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	/* Written so that NaN fails too. */
	if (errno || end == text || *end || !(v == 0 || (v >= 0.01 && v <= 1e7))) {
		fprintf(stderr, PROG ": --idle-timeout: expected 0 (never) or 0.01 to 1e+07, got '%s'\n", text);
		return false;
	}
	cfg->idle_timeout_s = v;
	return true;
}

/* The flags that take seconds; false after cli_double reported a bad value. */
static bool set_seconds(int c, struct server_config *cfg)
{
	switch (c) {
	case 'd': return cli_double(PROG, "duration", optarg, 0.001, 1e7, &cfg->duration_s);
	case OPT_IDLE_TIMEOUT:
		return idle_timeout(optarg, cfg);
	case OPT_HEADER_TIMEOUT:
		return cli_double(PROG, "header-timeout", optarg, 0, 1e7, &cfg->header_timeout_s);
	case OPT_SEND_TIMEOUT:
		return cli_double(PROG, "send-timeout", optarg, 0, 1e7, &cfg->send_timeout_s);
	case OPT_GRACE: return cli_double(PROG, "grace", optarg, 0, 1e7, &cfg->grace_s);
	}
	return true;
}

/* One flag from getopt_long; returns as parse() does, 0 to go on. */
static int parse_flag(int c, char **argv, struct server_config *cfg)
{
	switch (c) {
	case 'b': return set_backend(cfg);
	case 'm': return set_model(cfg);
	case OPT_ACCEPT_LOCK: return set_accept_lock(cfg);
	case OPT_SHARED_LISTENER: cfg->shared_listener = true; return 0;
	case OPT_EXCLUSIVE: cfg->exclusive = true; return 0;
	case OPT_PROTO: return set_proto(cfg);
	case OPT_LIST: return list_backends() ? 1 : -1;
	case 'p': case OPT_MAX_PENDING: case OPT_MAX_MEMORY: case OPT_MAX_CONNS: case OPT_NOFILE:
	case OPT_SNDBUF: case OPT_RCVBUF: case OPT_BACKLOG: case OPT_DGRAM_SIZE: case OPT_BODY_SIZE:
	case OPT_URING_BUFFERS: case 'w':
		return set_number(c, cfg) ? 0 : 2;
	case 'd': case OPT_IDLE_TIMEOUT: case OPT_HEADER_TIMEOUT: case OPT_SEND_TIMEOUT: case OPT_GRACE:
		return set_seconds(c, cfg) ? 0 : 2;
	case 'H': cfg->host = optarg; return 0;
	case OPT_UPPER: cfg->pcfg.upper = true; return 0;
	case 'q': cfg->quiet = true; return 0;
	case 'h': usage(stdout); return -1;
	case OPT_VERSION: version_print(stdout, PROG); return -1;
	case ':':
		fprintf(stderr, PROG ": %s needs a value (see --help)\n", argv[optind - 1]);
		return 2;
	default:
		fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", argv[optind - 1]);
		return 2;
	}
}

/* The combinations that mean nothing for the model chosen; 0, or 2 after one line. */
static int model_flags_agree(struct server_config *cfg, const bool *seen)
{
	const char *model = model_name(cfg->model);	/* the default's when --model was not given */
	bool pool = model_is_pool(cfg->model), blocking = model_is_blocking(cfg->model);
	const char *why = NULL;

	if (seen['w'] && !pool && blocking)
		why = "--workers applies to --model reactor, prefork and prethread";
	else if (seen[OPT_ACCEPT_LOCK] && !pool)
		why = "--accept-lock applies to --model prefork and prethread";
	else if (cfg->accept_lock == ACCEPT_FLOCK && strcmp(model, "prefork") != 0)
		why = "--accept-lock flock is prefork's (threads share one open file: use mutex)";
	else if (cfg->accept_lock == ACCEPT_MAIN && strcmp(model, "prethread") != 0)
		why = "--accept-lock main is prethread's (the main thread hands sockets to the pool)";
	else if (seen[OPT_SHARED_LISTENER] && (blocking || cfg->workers < 2))
		why = "--shared-listener applies to --model reactor --workers 2 or more";
	else if (seen[OPT_EXCLUSIVE] && !seen[OPT_SHARED_LISTENER])
		why = "--exclusive applies to --shared-listener";
	else if (seen[OPT_EXCLUSIVE] && (cfg->uring || strcmp(mux_mechanism(cfg->backend), "epoll") != 0))
		why = "--exclusive needs --backend epoll or epoll-et (EPOLLEXCLUSIVE; the others would wake every loop)";
	else if (seen[OPT_MAX_CONNS] && (pool || strcmp(model, "iterative") == 0))
		why = "--max-conns means nothing here: the model's workers are its limit";
	else if (blocking && (seen['b'] || seen[OPT_URING_BUFFERS] || seen[OPT_MAX_MEMORY] ||
			      seen[OPT_HEADER_TIMEOUT]))
		why = "--backend, --uring-buffers, --max-memory and --header-timeout are the reactor's";
	else if (blocking && cfg->proto->datagram && strcmp(model, "iterative") != 0 && strcmp(model, "thread") != 0)
		why = "--proto udp is served by --model reactor, iterative and thread (a thread per datagram)";
	if (why) {
		fprintf(stderr, PROG ": %s (here --model %s)\n", why, model);
		return 2;
	}
	if (!cfg->workers)
		cfg->workers = pool ? 8 : 1;
	cfg->model = model_find(model);
	return 0;
}

/* 0: parsed; 2: bad flags (already reported); 1: a backend failed in --list-backends;
 * -1: --help or --list-backends done. */
static int parse(int argc, char **argv, struct server_config *cfg)
{
	bool seen[OPT_END] = { false };
	int c, rc;

	opterr = 0;	/* we print our own one-line errors */
	while ((c = getopt_long(argc, argv, ":b:H:p:d:m:w:qh", options, NULL)) != -1) {
		if ((rc = parse_flag(c, argv, cfg)) != 0)
			return rc;
		if (c >= 0 && c < OPT_END)
			seen[c] = true;
	}
	if (!cli_sockaddr(cfg->host, 0, NULL, NULL)) {
		fprintf(stderr, PROG ": --host: expected a numeric IPv4 or IPv6 address, got '%s'\n",
			cfg->host);
		return 2;
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	if (seen[OPT_URING_BUFFERS] && !cfg->uring) {
		fprintf(stderr, PROG ": --uring-buffers applies to --backend %s only\n", server_uring_name);
		return 2;
	}
	if (seen[OPT_UPPER] && strcmp(cfg->proto->name, "echo") && strcmp(cfg->proto->name, "udp")) {
		fprintf(stderr, PROG ": --upper upper-cases echoed bytes: --proto echo or udp only (here %s)\n",
			cfg->proto->name);
		return 2;
	}
	if (seen[OPT_DGRAM_SIZE] && !cfg->proto->datagram) {
		fprintf(stderr, PROG ": --dgram-size is udp's receive buffer: not for --proto %s\n", cfg->proto->name);
		return 2;
	}
	if (seen[OPT_BODY_SIZE] && strcmp(cfg->proto->name, "http")) {
		fprintf(stderr, PROG ": --body-size is http's response body: not for --proto %s\n", cfg->proto->name);
		return 2;
	}
	if (cfg->proto->datagram && (seen[OPT_HEADER_TIMEOUT] || seen[OPT_SEND_TIMEOUT] || seen[OPT_MAX_CONNS] ||
				     seen[OPT_IDLE_TIMEOUT])) {
		fprintf(stderr, PROG ": --header-timeout, --send-timeout, --idle-timeout and --max-conns are about "
			"connections: --proto %s has none\n", cfg->proto->name);
		return 2;
	}
	if (cfg->uring && cfg->proto->datagram) {
		fprintf(stderr, PROG ": --backend %s serves the TCP protocols only; for %s use a readiness backend\n",
			server_uring_name, cfg->proto->name);
		return 2;
	}
	return model_flags_agree(cfg, seen);
}

int main(int argc, char **argv)
{
	struct server_config cfg = {
		.host = "127.0.0.1",
		.port = 7000,
		.backend = mux_find(MUX_DEFAULT),
		.proto = proto_all[0],
		.pcfg = { .body_size = 13, .dgram_size = 65536 },
		.max_pending = 1 << 20,
		.grace_s = 5,
		.header_timeout_s = 60,	/* nginx's client_header_timeout */
		.send_timeout_s = 60,	/* nginx's send_timeout */
		.max_memory = 256 << 20,	/* 256 connections backed up to the 1M cap */
		.backlog = 4096,
		.uring_buffers = 1024,
	};
	int rc = parse(argc, argv, &cfg);

	if (rc)
		return rc < 0 ? 0 : rc;
	return server_run(&cfg);
}
