/*
 * dispatch_flags.c - muxdispatch's command line: --help, --list, and the
 * flags read into struct options, with the defaults they leave open.
 */
#include "cli.h"
#include "mux.h"
#include "muxdispatch.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
"usage: muxdispatch [options]\n"
"The dispatch benchmark (after libevent's test/bench.c): N socketpairs registered\n"
"for reading, A bytes in flight; each readable pair reads one byte and writes one\n"
"into the next until W writes are done. Prints microseconds per event.\n"
"\n"
"  -b, --backend NAME     a backend, a comma-separated list, or all (default all)\n"
"  -n, --fds N[,N...]     socketpairs registered (default 100,1000,10000)\n"
"  -a, --active A         bytes in flight at once (default 100; at most N)\n"
"  -w, --writes W         writes per run (default 100000)\n"
"  -r, --repeat R         runs per cell; medians, min and max are reported (default 3)\n"
"      --csv FILE         one row per run ('-' for stdout)\n"
"      --medians FILE     one row per cell: median, min, max, ratios ours/peer\n"
"      --source KIND      socketpair (default, as bench.c: two fds per source) or\n"
"                         eventfd (EFD_SEMAPHORE: one fd per source, for fd limits\n"
"                         too low for two fds per source)\n"
"      --kerrisk          Kerrisk's table instead: OPS monitoring operations with one\n"
"                         random fd ready each, at 10,100,1000,10000 fds (or --fds),\n"
"                         for our %s; --csv gets\n"
"                         backend,fds,ops,seconds (his figures as kerrisk2006-*)\n"
"      --ops N            monitoring operations for --kerrisk (default 100000)\n"
"      --list             the backends this build has\n"
"  -h, --help             this text\n"
"\n"
"Backends:", mux_names());
	for (int i = 0; i < drivers.n; i++)
		fprintf(out, " %s", drivers.d[i].name);
	fprintf(out, "\n");
}

static bool add_driver(struct options *o, const char *name)
{
	for (int i = 0; i < drivers.n; i++)
		if (strcmp(name, "all") == 0 || strcmp(name, drivers.d[i].name) == 0) {
			if (o->ndrivers < DISPATCH_MAX_DRIVERS)
				o->drivers[o->ndrivers++] = &drivers.d[i];
			if (strcmp(name, "all") != 0)
				return true;
		}
	if (strcmp(name, "all") == 0)
		return true;
	fprintf(stderr, PROG ": --backend: unknown or not built: '%s' (see --list)\n", name);
	return false;
}

/* Comma-separated list of names or numbers; each piece handed to take(). */
static bool each_item(const char *list, bool (*take)(struct options *, const char *), struct options *o)
{
	char buf[256], *save = NULL;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf) || !buf[0])
		return take(o, "");
	for (char *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
		if (!take(o, p))
			return false;
	return true;
}

static bool add_fds(struct options *o, const char *text)
{
	if (o->nfds == MAX_FDS_LIST) {
		fprintf(stderr, PROG ": --fds: at most %d values\n", MAX_FDS_LIST);
		return false;
	}
	return cli_long(PROG, "fds", text, 2, 1000000, &o->fds[o->nfds++]);
}

static const struct option long_options[] = {
	{ "backend", required_argument, NULL, 'b' }, { "fds", required_argument, NULL, 'n' },
	{ "active", required_argument, NULL, 'a' }, { "writes", required_argument, NULL, 'w' },
	{ "repeat", required_argument, NULL, 'r' }, { "csv", required_argument, NULL, 'c' },
	{ "medians", required_argument, NULL, 'm' }, { "kerrisk", no_argument, NULL, 'k' },
	{ "ops", required_argument, NULL, 'o' }, { "list", no_argument, NULL, 'l' },
	{ "source", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
};

static bool parse_flag(int c, struct options *o)
{
	switch (c) {
	case 'b': return each_item(optarg, add_driver, o);
	case 'n': return each_item(optarg, add_fds, o);
	case 'a': return cli_long(PROG, "active", optarg, 1, 1000000, &o->active);
	case 'w': return cli_long(PROG, "writes", optarg, 0, 1L << 40, &o->writes);
	case 'r': return cli_long(PROG, "repeat", optarg, 1, MAX_REPEAT, &o->repeat);
	case 'c': o->csv = optarg; return true;
	case 'm': o->medians = optarg; return true;
	case 'k': o->kerrisk = true; return true;
	case 'o': return cli_long(PROG, "ops", optarg, 1, 1L << 40, &o->ops);
	case 's':
		if (strcmp(optarg, "socketpair") == 0 || strcmp(optarg, "eventfd") == 0) {
			o->source = optarg[0] == 'e' ? SOURCE_EVENTFD : SOURCE_SOCKETPAIR;
			return true;
		}
		fprintf(stderr, PROG ": --source: expected socketpair or eventfd, got '%s'\n", optarg);
		return false;
	}
	return false;
}

/* What the flags left open: the drivers and the sizes of the mode asked for. */
static void fill_defaults(struct options *o)
{
	if (o->kerrisk && o->ndrivers == 0)	/* ours: the table is about the mechanisms */
		for (int i = 0; i < drivers.n; i++)
			if (drivers.d[i].lib == &dispatch_muxlab)
				o->drivers[o->ndrivers++] = &drivers.d[i];
	if (o->ndrivers == 0)
		add_driver(o, "all");
	if (o->nfds == 0) {
		static const long sweep[] = { 100, 1000, 10000 }, table[] = { 10, 100, 1000, 10000 };
		const long *d = o->kerrisk ? table : sweep;

		o->nfds = o->kerrisk ? 4 : 3;
		memcpy(o->fds, d, (size_t)o->nfds * sizeof(long));
	}
}

/* 0: run; 2: bad flags (reported); -1: --help or --list printed. */
int parse(int argc, char **argv, struct options *o)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:n:a:w:r:h", long_options, NULL)) != -1) {
		if (c == 'h' || c == 'l') {
			if (c == 'h')
				usage(stdout);
			for (int i = 0; c == 'l' && i < drivers.n; i++)
				printf("%-16s %-8s %s\n", drivers.d[i].name, drivers.d[i].lib->name,
				       drivers.d[i].mechanism);
			return -1;
		}
		if (c == ':' || c == '?') {
			fprintf(stderr, PROG ": %s '%s' (see --help)\n",
				c == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			return 2;
		}
		if (!parse_flag(c, o))
			return 2;
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s' (see --help)\n", argv[optind]);
		return 2;
	}
	fill_defaults(o);
	return 0;
}
