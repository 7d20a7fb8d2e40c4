/* muxload.c - command line and reports of the load generator. */
#include "cli.h"
#include "hlog.h"
#include "load.h"
#include "load_merge.h"
#include "version.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio_ext.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "muxload"
/* A thread this busy may be what limits the run, not the server. */
#define SATURATED_PCT 90.0
/* Open loop: below this share of the target rate we say the target was missed. */
#define RATE_REACHED 0.97

static void usage(FILE *out)
{
	fprintf(out,
"Usage: muxload [options]\n"
"  or:  muxload --merge [--json] [--hgrm FILE] [--hlog FILE [--hlog-interval S]] LOG...\n"
"Load generator for muxserver: many connections, verified replies, honest latency.\n"
"\n"
"  -H, --host ADDR        numeric IPv4/IPv6 address (default 127.0.0.1)\n"
"  -p, --port N           (default 7000)\n"
"  -c, --connections N    active connections (default 10)\n"
"  -i, --idle M           extra connections opened first and held silent (default 0)\n"
"  -t, --threads T        threads, each with its own epoll loop (default 1)\n"
"  -d, --duration S       measured seconds (default 10)\n"
"  -n, --requests N       stop after N measured requests instead of a duration\n"
"  -w, --warmup S         seconds excluded from every figure (default 1)\n"
"  -s, --size BYTES       message size (default 64; " CLI_SIZE_SUFFIXES " suffixes)\n"
"      --pipeline D       requests in flight per connection (default 1)\n"
"      --proto NAME       the protocol (default echo; list below)\n"
"  -R, --rate R           open loop: R requests/s in total; latency counts from each\n"
"                         request's intended send time (coordinated omission corrected)\n"
"      --reconnect        a new connection for every request, closed by muxload once the\n"
"                         reply is in (as ab without -k): latency includes the connect;\n"
"                         connections/s and connect latency are reported (TCP, closed loop,\n"
"                         --pipeline 1)\n"
"      --timeout S        a request without a reply after S seconds is an error (default 10)\n"
"      --json             one JSON object on stdout instead of the summary\n"
"      --csv FILE         append one row per run (header when the file is new)\n"
"      --hgrm FILE        write the latency percentile spectrum (HdrHistogram .hgrm format)\n"
"      --hlog FILE        write an HdrHistogram interval log of the measured latencies (the\n"
"                         corrected ones in open loop): one line per interval, values in us;\n"
"                         HdrHistogram's own tools read it, --merge adds several exactly\n"
"      --hlog-interval S  the log's interval (default 1)\n"
"      --merge            add the interval logs LOG... (e.g. one per client host) bucket by\n"
"                         bucket and report the sum as a run does: the percentiles of every\n"
"                         sample together; with --hlog, write the merged log, interval by\n"
"                         interval. A line a log cannot hold stops it with FILE:LINE: why;\n"
"                         Tag= intervals are skipped and counted\n"
"      --progress         one line per second on stderr (default when stderr is a terminal)\n"
"      --no-progress      none, even on a terminal\n"
"      --mark-pid PID     send PID a SIGUSR1 when the measured interval starts and when it\n"
"                         ends (muxserver prints its counters), so that the server's counters\n"
"                         cover exactly what muxload measured\n"
"  -h, --help             this text\n"
"      --version          the version, and the git commit built from\n"
"\n"
"Exit status: 0 all answered correctly (--merge: added), 1 an error or no start\n"
"(--merge: a log refused), 2 bad flags; the details in muxload(1).\n"
"\n"
"Protocols (--size bounds):\n");
	for (size_t i = 0; load_protos[i]; i++)
		fprintf(out, "  %-9s %s (%zu..%zu)\n", load_protos[i]->name, load_protos[i]->summary,
			load_protos[i]->min_size, load_protos[i]->max_size);
}

enum {
	OPT_PIPELINE = 256, OPT_PROTO, OPT_TIMEOUT, OPT_JSON, OPT_CSV, OPT_HGRM, OPT_PROGRESS, OPT_MARK_PID,
	OPT_RECONNECT, OPT_HLOG, OPT_HLOG_INTERVAL, OPT_MERGE, OPT_NO_PROGRESS, OPT_VERSION
};

static const struct option options[] = {
	{ "host", required_argument, NULL, 'H' },
	{ "port", required_argument, NULL, 'p' },
	{ "connections", required_argument, NULL, 'c' },
	{ "idle", required_argument, NULL, 'i' },
	{ "threads", required_argument, NULL, 't' },
	{ "duration", required_argument, NULL, 'd' },
	{ "requests", required_argument, NULL, 'n' },
	{ "warmup", required_argument, NULL, 'w' },
	{ "size", required_argument, NULL, 's' },
	{ "pipeline", required_argument, NULL, OPT_PIPELINE },
	{ "proto", required_argument, NULL, OPT_PROTO },
	{ "rate", required_argument, NULL, 'R' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "hgrm", required_argument, NULL, OPT_HGRM },
	{ "progress", no_argument, NULL, OPT_PROGRESS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "mark-pid", required_argument, NULL, OPT_MARK_PID },
	{ "reconnect", no_argument, NULL, OPT_RECONNECT },
	{ "hlog", required_argument, NULL, OPT_HLOG },
	{ "hlog-interval", required_argument, NULL, OPT_HLOG_INTERVAL },
	{ "merge", no_argument, NULL, OPT_MERGE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

struct outputs {
	bool json;
	const char *csv, *hgrm, *hlog;
	bool hlog_interval_set;
	bool progress_set;         /* --progress or --no-progress: the terminal does not decide */
	bool merge;
	char run_flag[32];         /* the first flag given that only a run reads, for --merge's refusal */
	char **logs;               /* --merge: the logs, nlogs of them */
	int nlogs;
};

static bool parse_flag(int c, struct load_config *cfg, struct outputs *o, bool *duration_set)
{
	long v;

	switch (c) {
	case 'H': cfg->host = optarg; return true;
	case 'p': return cli_long(PROG, "port", optarg, 1, 65535, &v) && (cfg->port = (int)v, true);
	case 'c': return cli_long(PROG, "connections", optarg, 1, 1000000, &cfg->connections);
	case 'i': return cli_long(PROG, "idle", optarg, 0, 1000000, &cfg->idle);
	case 't': return cli_long(PROG, "threads", optarg, 1, 1024, &cfg->threads);
	case 'd':
		*duration_set = true;
		return cli_double(PROG, "duration", optarg, 0.01, 1e6, &cfg->duration_s);
	case 'n': return cli_long(PROG, "requests", optarg, 1, 1L << 50, &cfg->requests);
	case 'w': return cli_double(PROG, "warmup", optarg, 0, 3600, &cfg->warmup_s);
	case 's': return cli_size(PROG, "size", optarg, 1, 16L << 20, &cfg->size);
	case OPT_PIPELINE: return cli_long(PROG, "pipeline", optarg, 1, 1024, &cfg->pipeline);
	case OPT_PROTO:
		cfg->proto = load_proto_find(optarg);
		if (!cfg->proto)
			fprintf(stderr, PROG ": --proto: unknown protocol '%s' (valid: %s)\n", optarg,
				load_proto_names());
		return cfg->proto != NULL;
	case 'R': return cli_double(PROG, "rate", optarg, 0.001, 1e9, &cfg->rate);
	case OPT_TIMEOUT: return cli_double(PROG, "timeout", optarg, 0.001, 3600, &cfg->timeout_s);
	case OPT_JSON: o->json = true; return true;
	case OPT_CSV: o->csv = optarg; return true;
	case OPT_HGRM: o->hgrm = optarg; return true;
	case OPT_PROGRESS:
	case OPT_NO_PROGRESS:
		cfg->progress = c == OPT_PROGRESS;
		o->progress_set = true;
		return true;
	case OPT_MARK_PID: return cli_long(PROG, "mark-pid", optarg, 1, INT32_MAX, &cfg->mark_pid);
	case OPT_RECONNECT: cfg->reconnect = true; return true;
	case OPT_HLOG: o->hlog = optarg; return true;
	case OPT_HLOG_INTERVAL:
		o->hlog_interval_set = true;
		return cli_double(PROG, "hlog-interval", optarg, 0.01, 86400, &cfg->hlog_interval_s);
	case OPT_MERGE: o->merge = true; return true;
	}
	return false;
}

/* The first flag seen that only describes a run, by its long name: --merge refuses it rather than ignore it. */
static void note_run_flag(int c, struct outputs *o)
{
	if (o->run_flag[0] || c == OPT_JSON || c == OPT_HGRM || c == OPT_HLOG || c == OPT_HLOG_INTERVAL ||
	    c == OPT_MERGE)
		return;
	for (const struct option *opt = options; opt->name; opt++)
		if (opt->val == c)
			snprintf(o->run_flag, sizeof(o->run_flag), "--%s", opt->name);
}

/* The flags one by one. 0: all read; 2: a bad one (reported); -1: --help printed. */
static int read_flags(int argc, char **argv, struct load_config *cfg, struct outputs *o, bool *duration_set)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":H:p:c:i:t:d:n:w:s:R:h", options, NULL)) != -1) {
		if (c == 'h' || c == OPT_VERSION) {
			if (c == 'h')
				usage(stdout);
			else
				version_print(stdout, PROG);
			return -1;
		}
		if (c == ':') {
			fprintf(stderr, PROG ": %s needs a value (see --help)\n", argv[optind - 1]);
			return 2;
		}
		if (c == '?') {
			fprintf(stderr, PROG ": unknown option '%s' (see --help)\n", argv[optind - 1]);
			return 2;
		}
		if (!parse_flag(c, cfg, o, duration_set))
			return 2;
		note_run_flag(c, o);
	}
	o->logs = argv + optind;
	o->nlogs = argc - optind;
	if (o->nlogs && !o->merge) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	return 0;
}

static bool same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return !stat(a, &sa) && !stat(b, &sb) && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* Two outputs naming one file: the second write would destroy the first. false after one line. */
static bool outputs_apart(const struct outputs *o)
{
	const char *const path[] = { o->hlog, o->hgrm, o->csv };
	const char *const flag[] = { "--hlog", "--hgrm", "--csv" };

	for (int i = 0; i < 3; i++)
		for (int k = 0; k < i; k++)
			if (path[i] && path[k] && (!strcmp(path[i], path[k]) || same_file(path[i], path[k]))) {
				fprintf(stderr, PROG ": %s and %s name the same file (%s)\n", flag[k], flag[i], path[i]);
				return false;
			}
	return true;
}

/* --merge and the flags beside it. false after one line. */
static bool merge_flags_agree(const struct outputs *o)
{
	if (o->run_flag[0])
		fprintf(stderr, PROG ": --merge adds logs and runs nothing: %s has no meaning with it\n",
			o->run_flag);
	else if (!o->nlogs)
		fprintf(stderr, PROG ": --merge needs the logs to add (muxload --merge A.hlog B.hlog ...)\n");
	else if (o->hlog_interval_set && !o->hlog)
		fprintf(stderr, PROG ": --hlog-interval sets the merged log's interval: give --hlog FILE too\n");
	else
		return true;
	return false;
}

/* What no single flag can check: the flags together. false after one line. */
static bool flags_agree(const struct load_config *cfg, const struct outputs *o, bool duration_set)
{
	if (o->hlog_interval_set && !o->hlog) {
		fprintf(stderr, PROG ": --hlog-interval without --hlog: there is no log to write\n");
		return false;
	}
	if (!cli_sockaddr(cfg->host, 0, NULL, NULL)) {
		fprintf(stderr, PROG ": --host: expected a numeric IPv4 or IPv6 address, got '%s'\n", cfg->host);
		return false;
	}
	if (duration_set && cfg->requests) {
		fprintf(stderr, PROG ": use --duration or --requests, not both\n");
		return false;
	}
	if (cfg->threads > cfg->connections) {
		fprintf(stderr, PROG ": --threads (%ld) must not exceed --connections (%ld)\n",
			cfg->threads, cfg->connections);
		return false;
	}
	if (cfg->size < (long)cfg->proto->min_size || cfg->size > (long)cfg->proto->max_size) {
		fprintf(stderr, PROG ": --size %ld: --proto %s needs %zu to %zu bytes\n", cfg->size,
			cfg->proto->name, cfg->proto->min_size, cfg->proto->max_size);
		return false;
	}
	if (cfg->reconnect && (cfg->rate > 0 || cfg->pipeline > 1 || cfg->proto->datagram)) {
		fprintf(stderr, PROG ": --reconnect opens a TCP connection per request in closed loop: "
			"not with %s\n", cfg->rate > 0 ? "--rate" : cfg->pipeline > 1 ? "--pipeline above 1" :
			"a datagram protocol");
		return false;
	}
	if (cfg->proto->datagram && cfg->idle) {
		fprintf(stderr, PROG ": --idle holds TCP connections open; it has no meaning for --proto %s\n",
			cfg->proto->name);
		return false;
	}
	return true;
}

/* 0: run; 2: bad flags (reported); -1: --help printed. */
static int parse(int argc, char **argv, struct load_config *cfg, struct outputs *o)
{
	bool duration_set = false;
	int rc = read_flags(argc, argv, cfg, o, &duration_set);

	if (rc)
		return rc;
	if (!outputs_apart(o))
		return 2;
	if (o->merge)
		return merge_flags_agree(o) ? 0 : 2;
	if (!flags_agree(cfg, o, duration_set))
		return 2;
	if (cfg->requests)
		cfg->duration_s = 0;
	if (!o->progress_set)
		cfg->progress = isatty(2) && !o->json;
	return 0;
}

static const double percentiles[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const percentile_keys[] = { "p50", "p90", "p99", "p99_9", "p99_99" };
#define NPCT 5

/* A JSON string: quotes, backslashes and control characters escaped. */
static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_latency(FILE *f, const char *key, const struct hist *h)
{
	fprintf(f, "\"%s\":{\"min\":%lld,\"mean\":%.3f", key,
		(long long)(h->total ? h->min : 0), hist_mean(h));
	for (int i = 0; i < NPCT; i++)
		fprintf(f, ",\"%s\":%lld", percentile_keys[i], (long long)hist_percentile(h, percentiles[i]));
	fprintf(f, ",\"max\":%lld}", (long long)(h->total ? h->max : 0));
}

static double rps(const struct load_result *r)
{
	return r->measured_s > 0 ? (double)r->requests / r->measured_s : 0;
}

static bool saturated(const struct load_result *r)
{
	return r->busiest_thread_pct >= SATURATED_PCT;
}

/* key:value, or key:null for what was not asked (one way of saying "unset" in all the JSON). */
static void json_or_null(FILE *f, const char *key, bool set, double v)
{
	if (set)
		fprintf(f, "\"%s\":%.15g,", key, v);
	else
		fprintf(f, "\"%s\":null,", key);
}

static void print_json(FILE *f, const struct load_config *cfg, const struct load_result *r)
{
	fprintf(f, "{\"params\":{\"version\":");
	json_string(f, muxlab_version);
	fprintf(f, ",\"host\":\"%s\",\"port\":%d,\"proto\":\"%s\",\"connections\":%ld,"
		"\"idle\":%ld,\"threads\":%ld,", cfg->host, cfg->port, cfg->proto->name, cfg->connections,
		cfg->idle, cfg->threads);
	json_or_null(f, "duration_s", cfg->duration_s > 0, cfg->duration_s);
	json_or_null(f, "requests", cfg->requests > 0, (double)cfg->requests);
	fprintf(f, "\"warmup_s\":%g,\"size\":%ld,\"pipeline\":%ld,", cfg->warmup_s, cfg->size, cfg->pipeline);
	json_or_null(f, "rate", cfg->rate > 0, cfg->rate);
	fprintf(f, "\"timeout_s\":%g,\"reconnect\":%s},", cfg->timeout_s, cfg->reconnect ? "true" : "false");
	fprintf(f, "\"duration_s\":%.6f,\"requests\":%llu,\"errors\":%llu,\"errors_by_kind\":{",
		r->measured_s, (unsigned long long)r->requests, (unsigned long long)r->errors_total);
	for (int k = 0; k < LERR_KINDS; k++)
		fprintf(f, "%s\"%s\":%llu", k ? "," : "", load_error_names[k], (unsigned long long)r->errors[k]);
	fprintf(f, "},\"throughput_rps\":%.3f,\"mb_per_s\":%.6f,", rps(r),
		r->measured_s > 0 ? (double)r->bytes / r->measured_s / 1e6 : 0);
	json_latency(f, "latency_us", &r->latency);
	fputc(',', f);
	/* From the actual send: beside the corrected figure (open loop) or the one with the connect (--reconnect). */
	if (cfg->rate > 0 || cfg->reconnect) {
		json_latency(f, "latency_uncorrected_us", &r->uncorrected);
		fputc(',', f);
	} else {
		fprintf(f, "\"latency_uncorrected_us\":null,");
	}
	if (cfg->rate > 0)
		fprintf(f, "\"rate_target\":%g,\"rate_achieved\":%.3f,\"rate_reached\":%s,",
			cfg->rate, rps(r), rps(r) >= RATE_REACHED * cfg->rate ? "true" : "false");
	else
		fprintf(f, "\"rate_target\":null,\"rate_achieved\":null,\"rate_reached\":null,");
	if (cfg->reconnect) {
		json_latency(f, "connect_us", &r->connect);
		fprintf(f, ",\"connects\":%llu,\"connects_per_s\":%.3f,", (unsigned long long)r->connects,
			r->measured_s > 0 ? (double)r->connects / r->measured_s : 0);
	} else {
		fprintf(f, "\"connect_us\":null,\"connects\":null,\"connects_per_s\":null,");
	}
	fprintf(f, "\"latency_clamped\":%llu,\"connections\":{\"requested\":%ld,\"established\":%ld,"
		"\"failed\":%ld},\"client_cpu\":{\"busiest_thread_pct\":%.1f,\"saturated\":%s}}\n",
		(unsigned long long)r->latency.clamped, cfg->connections + cfg->idle, r->established,
		r->failed, r->busiest_thread_pct, saturated(r) ? "true" : "false");
}

static void print_latency_row(const char *label, const struct hist *h)
{
	printf("  %-12s %8lld %9.1f", label, (long long)(h->total ? h->min : 0), hist_mean(h));
	for (int i = 0; i < NPCT; i++)
		printf(" %8lld", (long long)hist_percentile(h, percentiles[i]));
	printf(" %9lld\n", (long long)(h->total ? h->max : 0));
}

static void print_human(const struct load_config *cfg, const struct load_result *r)
{
	printf("muxload: %s port %d, proto %s, %ld connections + %ld idle, %ld thread%s, %s, %ld B",
	       cfg->host, cfg->port, cfg->proto->name, cfg->connections, cfg->idle, cfg->threads,
	       cfg->threads == 1 ? "" : "s", cfg->rate > 0 ? "open loop" : "closed loop", cfg->size);
	if (cfg->pipeline > 1)
		printf(", pipeline %ld", cfg->pipeline);
	if (cfg->reconnect)
		printf(", a connection per request");
	printf(", warm-up %g s\n", cfg->warmup_s);
	printf("  %-12s %8s %9s %8s %8s %8s %8s %8s %9s\n", "latency (us)", "min", "mean",
	       "p50", "p90", "p99", "p99.9", "p99.99", "max");
	print_latency_row(cfg->rate > 0 ? "corrected" : cfg->reconnect ? "from connect" : "", &r->latency);
	if (cfg->rate > 0)
		print_latency_row("uncorrected", &r->uncorrected);
	if (cfg->reconnect) {
		print_latency_row("from send", &r->uncorrected);
		print_latency_row("connect", &r->connect);
	}
	printf("  %llu requests in %.2f s: %.0f requests/s, %.2f MB/s each way\n",
	       (unsigned long long)r->requests, r->measured_s, rps(r),
	       r->measured_s > 0 ? (double)r->bytes / r->measured_s / 1e6 : 0);
	if (cfg->rate > 0)
		printf("  target rate %g/s: achieved %.0f/s (%s)\n", cfg->rate, rps(r),
		       rps(r) >= RATE_REACHED * cfg->rate ? "reached" : "NOT reached");
	printf("  connections: %ld requested, %ld established, %ld failed\n",
	       cfg->connections + cfg->idle, r->established, r->failed);
	if (cfg->reconnect)
		printf("  reconnect: %llu connections in %.2f s: %.0f connections/s\n",
		       (unsigned long long)r->connects, r->measured_s,
		       r->measured_s > 0 ? (double)r->connects / r->measured_s : 0);
	printf("  errors: %llu", (unsigned long long)r->errors_total);
	for (int k = 0; k < LERR_KINDS; k++)
		if (r->errors[k])
			printf(", %s %llu", load_error_names[k], (unsigned long long)r->errors[k]);
	printf("\n  client cpu: busiest thread %.0f%%\n", r->busiest_thread_pct);
}

/* The output files, opened before anything is measured or read: a bad path costs nothing. */
struct files {
	FILE *csv, *hgrm, *hlog;
	bool hlog_said;            /* --hlog failed during the run, and said so */
};

static void append_csv(FILE *f, const struct load_config *cfg, const struct load_result *r)
{
	struct stat st;

	if (!fstat(fileno(f), &st) && st.st_size == 0)
		fprintf(f, "time,host,port,proto,connections,idle,threads,size,pipeline,rate,duration_s,"
			"requests,throughput_rps,min_us,mean_us,p50_us,p90_us,p99_us,p999_us,p9999_us,"
			"max_us,errors,busiest_thread_pct,saturated\n");
	fprintf(f, "%ld,%s,%d,%s,%ld,%ld,%ld,%ld,%ld,%g,%.3f,%llu,%.1f,%lld,%.2f", (long)time(NULL),
		cfg->host, cfg->port, cfg->proto->name, cfg->connections, cfg->idle, cfg->threads,
		cfg->size, cfg->pipeline, cfg->rate, r->measured_s, (unsigned long long)r->requests,
		rps(r), (long long)(r->latency.total ? r->latency.min : 0), hist_mean(&r->latency));
	for (int i = 0; i < NPCT; i++)
		fprintf(f, ",%lld", (long long)hist_percentile(&r->latency, percentiles[i]));
	fprintf(f, ",%lld,%llu,%.1f,%d\n", (long long)(r->latency.total ? r->latency.max : 0),
		(unsigned long long)r->errors_total, r->busiest_thread_pct, saturated(r));
}


/*
 * Opened, not truncated: a run or a merge that fails must not empty a file it
 * would have rewritten. Rewriting starts with output_restart; --csv appends.
 */
static bool open_one(FILE **f, const char *path, int flags, const char *flag)
{
	int fd;

	if (!path)
		return true;
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0666);
	*f = fd == -1 ? NULL : fdopen(fd, flags & O_APPEND ? "a" : "w");
	if (!*f) {
		load_fail("%s %s: %s", flag, path, strerror(errno));
		if (fd != -1)
			close(fd);
	}
	return *f != NULL;
}

/* Every output given, or false after one line (those opened are closed by close_outputs). */
static bool open_outputs(const struct outputs *o, struct files *f)
{
	return open_one(&f->csv, o->csv, O_APPEND, "--csv") && open_one(&f->hgrm, o->hgrm, 0, "--hgrm") &&
	       open_one(&f->hlog, o->hlog, 0, "--hlog");
}

/* Close them; false (said) when one could not be written whole. */
static bool close_outputs(const struct outputs *o, struct files *f)
{
	FILE *const all[] = { f->csv, f->hgrm, f->hlog };
	const char *const path[] = { o->csv, o->hgrm, o->hlog }, *const flag[] = { "--csv", "--hgrm", "--hlog" };
	bool ok = !f->hlog_said;

	for (int i = 0; i < 3; i++) {
		int failed_before = all[i] ? ferror(all[i]) : 0, closed = all[i] ? fclose(all[i]) : 0;

		if (!failed_before && !closed)
			continue;
		/* The log's own failure was said when it happened (load_hlog.c). */
		if (!(i == 2 && f->hlog_said))
			fprintf(stderr, PROG ": %s %s: %s\n", flag[i], path[i],
				closed ? strerror(errno) : "could not be written whole");
		ok = false;
	}
	memset(f, 0, sizeof(*f));
	return ok;
}

/* Why a run or a merge could not even start: one line on stderr already; with --json, on stdout too. */
static void failed_json(const struct outputs *o, const char *why)
{
	if (!o->json)
		return;
	printf("{\"error\":");
	json_string(stdout, why);
	printf("}\n");
}

/* An output that would overwrite a log to merge, or a log given twice (added twice): one line. */
static bool merge_files_clash(const struct outputs *o)
{
	for (int i = 0; i < o->nlogs; i++) {
		const char *out = o->hlog && same_file(o->hlog, o->logs[i]) ? "--hlog" :
				  o->hgrm && same_file(o->hgrm, o->logs[i]) ? "--hgrm" : NULL;

		if (out) {
			load_fail("%s %s is one of the logs to merge: it would be overwritten", out, o->logs[i]);
			return true;
		}
		for (int k = 0; k < i; k++)
			if (same_file(o->logs[k], o->logs[i])) {
				load_fail("--merge: %s is given twice: its samples would count twice", o->logs[i]);
				return true;
			}
	}
	return false;
}

static void print_merge_json(const struct outputs *o, const struct merge_report *m, const struct hist *h)
{
	printf("{\"params\":{\"version\":");
	json_string(stdout, muxlab_version);
	printf(",\"merge\":[");
	for (int i = 0; i < o->nlogs; i++) {
		if (i)
			putchar(',');
		json_string(stdout, o->logs[i]);
	}
	printf("]},\"duration_s\":%.6f,\"requests\":%llu,\"throughput_rps\":%.3f,", m->span_s,
	       (unsigned long long)h->total, m->span_s > 0 ? (double)h->total / m->span_s : 0);
	json_latency(stdout, "latency_us", h);
	printf(",\"intervals_read\":%ld,\"intervals\":%ld,\"interval_s\":%g,\"tagged_skipped\":%ld}\n",
	       m->intervals_read, m->cells, m->interval_s, m->tagged_skipped);
}

static void print_merge_human(const struct outputs *o, const struct merge_report *m, const struct hist *h)
{
	printf("muxload: merged %d log%s: %ld intervals into %ld of %g s, %.2f s in all\n", o->nlogs,
	       o->nlogs == 1 ? "" : "s", m->intervals_read, m->cells, m->interval_s, m->span_s);
	printf("  %-12s %8s %9s %8s %8s %8s %8s %8s %9s\n", "latency (us)", "min", "mean",
	       "p50", "p90", "p99", "p99.9", "p99.99", "max");
	print_latency_row("", h);
	printf("  %llu requests in %.2f s: %.0f requests/s\n", (unsigned long long)h->total, m->span_s,
	       m->span_s > 0 ? (double)h->total / m->span_s : 0);
}

/*
 * Truncate an output that is a regular file; never remove anything (it may be
 * /dev/stdout or a link). What the stream still buffers is dropped first, or
 * fclose would write it back after the truncation.
 */
static void empty_if_file(FILE *f)
{
	__fpurge(f);
	hlog_restart(f);
}

/* muxload --merge: 0 when the logs were added and reported, 1 otherwise. */
static int merge_main(const struct load_config *cfg, const struct outputs *o)
{
	struct load_result *r = calloc(1, sizeof(*r));
	struct files f = { 0 };
	struct merge_report m;
	int rc = 1;

	if (!r || merge_files_clash(o) || !open_outputs(o, &f)) {
		failed_json(o, r ? load_failure() : "out of memory");
		goto done;
	}
	if (load_merge(o->logs, o->nlogs, o->hlog_interval_set ? cfg->hlog_interval_s : 0, f.hlog,
		       &r->latency, &m)) {
		/* Half a merged log would read as a whole one; a file not yet rewritten stays as it was. */
		if (f.hlog && m.log_begun)
			empty_if_file(f.hlog);
		failed_json(o, load_failure());
		goto done;
	}
	if (o->json)
		print_merge_json(o, &m, &r->latency);
	else
		print_merge_human(o, &m, &r->latency);
	if (m.tagged_skipped)
		fprintf(stderr, PROG ": --merge: %ld Tag= intervals skipped: only untagged ones are added\n",
			m.tagged_skipped);
	if (f.hgrm) {
		hlog_restart(f.hgrm);
		hist_write_hgrm(&r->latency, f.hgrm);
	}
	rc = 0;
done:
	if (!close_outputs(o, &f))
		rc = 1;
	free(r);
	return rc;
}

/* A run's report and outputs; 0 when every request was answered correctly, 1 otherwise. */
static int report(const struct load_config *cfg, const struct outputs *o, const struct files *f,
		  const struct load_result *r)
{
	if (o->json)
		print_json(stdout, cfg, r);
	else
		print_human(cfg, r);
	if (saturated(r))
		fprintf(stderr, PROG ": warning: a client thread was %.0f%% busy: the client may be the "
			"bottleneck; add --threads or pin it to its own core\n", r->busiest_thread_pct);
	if (r->errors_total)
		fprintf(stderr, PROG ": %llu errors; first: %s\n",
			(unsigned long long)r->errors_total, r->first_error);
	else if (r->requests == 0)
		fprintf(stderr, PROG ": no request completed in the measured interval\n");
	if (f->csv)
		append_csv(f->csv, cfg, r);
	if (f->hgrm) {
		hlog_restart(f->hgrm);
		hist_write_hgrm(&r->latency, f->hgrm);
	}
	return r->errors_total || r->requests == 0 || r->hlog_failed ? 1 : 0;
}

/* A run, its outputs opened before anything is measured. */
static int run_main(struct load_config *cfg, const struct outputs *o)
{
	struct load_result *r = malloc(sizeof(*r));
	struct files f = { 0 };
	int rc = 1;

	if (!r)
		failed_json(o, "out of memory");
	else if (!open_outputs(o, &f))
		failed_json(o, load_failure());
	else if ((cfg->hlog = f.hlog, load_run(cfg, r)))
		failed_json(o, load_failure());
	else
		rc = report(cfg, o, &f, r);
	f.hlog_said = r && r->hlog_failed;
	if (!close_outputs(o, &f))
		rc = 1;
	free(r);
	return rc;
}

int main(int argc, char **argv)
{
	struct load_config cfg = {
		.host = "127.0.0.1", .port = 7000, .proto = load_protos[0],
		.connections = 10, .threads = 1, .duration_s = 10, .warmup_s = 1,
		.size = 64, .pipeline = 1, .timeout_s = 10, .hlog_interval_s = 1,
	};
	struct outputs o = { 0 };
	int rc = parse(argc, argv, &cfg, &o);

	if (rc)
		return rc < 0 ? 0 : rc;
	return o.merge ? merge_main(&cfg, &o) : run_main(&cfg, &o);
}
