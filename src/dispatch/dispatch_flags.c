/*
 * dispatch_flags.c - muxdispatch's command line: --help, --list, and the
 * flags read into struct options, with the defaults they leave open.
 */
#include "cli.h"
#include "fdlimit.h"
#include "mux.h"
#include "muxdispatch.h"
#include "version.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
	fprintf(out,
"Usage: muxdispatch [options]\n"
"The dispatch benchmark (after libevent's test/bench.c): N sources (socketpairs or\n"
"eventfds) registered for reading, A tokens in flight; each readable source reads\n"
"one token and writes one into the next until W writes are done. Prints\n"
"microseconds per event.\n"
"\n"
"  -b, --backend NAME     a backend, a comma-separated list, or all (default all)\n"
"  -n, --fds N[,N...]     sources registered (default 100,1000,10000)\n"
"  -a, --active A         tokens in flight at once (default 100, fewer when N is;\n"
"                         given, at most the smallest N)\n"
"  -w, --writes W         writes per run (default 100000)\n"
"  -r, --repeat R         runs per cell; medians, min and max are reported (default 3)\n"
"      --csv FILE         one row per run ('-' for stdout)\n"
"      --medians FILE     one row per cell: median, min, max, ratios ours/peer\n"
"      --source KIND      socketpair (as bench.c: two fds per source, one byte a token)\n"
"                         or eventfd (EFD_SEMAPHORE: one fd per source); default\n"
"                         socketpair, or eventfd when the hard fd limit cannot hold\n"
"                         two fds per source at the largest N (said on stderr)\n"
"      --kerrisk          Kerrisk's table instead: OPS monitoring operations with one\n"
"                         random fd ready each, at 10,100,1000,10000 fds (or --fds),\n"
"                         for our %s; --csv gets\n"
"                         backend,fds,ops,seconds (his figures as kerrisk2006-*)\n"
"      --ops N            monitoring operations for --kerrisk (default 100000; only\n"
"                         with it, as --active only without it)\n"
"      --list             the backends this build has\n"
"  -h, --help             this text\n"
"      --version          the version, and the git commit built from\n"
"\n"
"Backends:", mux_names());
	for (int i = 0; i < drivers.n; i++)
		fprintf(out, " %s", drivers.d[i].name);
	fprintf(out, "\n");
}

static bool add_driver(struct options *o, const char *name)
{
	o->all_drivers |= strcmp(name, "all") == 0;
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

/* Comma-separated list of names or numbers; each piece handed to take(), an empty one too ("10,,20"). */
static bool each_item(const char *list, bool (*take)(struct options *, const char *), struct options *o)
{
	char buf[256], *rest = buf, *p;

	if (snprintf(buf, sizeof(buf), "%s", list) >= (int)sizeof(buf))
		return take(o, "");
	while ((p = strsep(&rest, ",")))
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
	{ "source", required_argument, NULL, 's' }, { "version", no_argument, NULL, 'V' },
	{ "help", no_argument, NULL, 'h' }, { NULL, 0, NULL, 0 },
};

static bool parse_flag(int c, struct options *o)
{
	switch (c) {
	case 'b': return each_item(optarg, add_driver, o);
	case 'n': return each_item(optarg, add_fds, o);
	case 'a': o->active_set = true; return cli_long(PROG, "active", optarg, 1, 1000000, &o->active);
	case 'w': o->writes_set = true; return cli_long(PROG, "writes", optarg, 1, 1L << 40, &o->writes);
	case 'r': return cli_long(PROG, "repeat", optarg, 1, MAX_REPEAT, &o->repeat);
	case 'c': o->csv = optarg; return true;
	case 'm': o->medians = optarg; return true;
	case 'k': o->kerrisk = true; return true;
	case 'o': o->ops_set = true; return cli_long(PROG, "ops", optarg, 1, 1L << 40, &o->ops);
	case 's':
		o->source_set = true;
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
	if (o->kerrisk && o->all_drivers)	/* "all" there means all of ours */
		o->ndrivers = 0;
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

/* The flags together; false after one line. */
static bool flags_agree(const struct options *o)
{
	long fewest = o->fds[0];

	for (int i = 1; i < o->nfds; i++)
		fewest = o->fds[i] < fewest ? o->fds[i] : fewest;
	for (int i = 0; o->kerrisk && !o->all_drivers && i < o->ndrivers; i++)
		if (o->drivers[i]->lib != &dispatch_muxlab) {
			fprintf(stderr, PROG ": --kerrisk times our mechanisms, not a library's: --backend %s has no row "
				"there\n", o->drivers[i]->name);
			return false;
		}
	if (o->ops_set && !o->kerrisk)
		fprintf(stderr, PROG ": --ops counts --kerrisk's monitoring operations: give --kerrisk too\n");
	else if (o->kerrisk && (o->active_set || o->writes_set || o->medians))
		fprintf(stderr, PROG ": --active, --writes and --medians are the sweep's; --kerrisk times --ops "
			"operations with one ready fd each\n");
	else if (o->active_set && o->active > fewest)
		fprintf(stderr, PROG ": --active %ld: more tokens in flight than sources at --fds %ld\n", o->active,
			fewest);
	else
		return true;
	return false;
}

/*
 * Two fds a socketpair: where the hard limit cannot hold the largest size
 * that way (a 2-core VM's 20 000 against 10 000 pairs), and --source was
 * not given, eventfds (one fd a source), said once.
 */
static void fit_source(struct options *o)
{
	long most = 0;
	rlim_t hard = 0;

	for (int i = 0; i < o->nfds; i++)
		most = o->fds[i] > most ? o->fds[i] : most;
	if (o->source_set || fdlimit_raise((rlim_t)(2 * most + 64), true, &hard) != -EMFILE)
		return;
	o->source = SOURCE_EVENTFD;
	snprintf(o->source_note, sizeof(o->source_note), "%ld socketpairs need %ld fds, the hard limit is %llu: "
		 "using --source eventfd (one fd a source)", most, 2 * most + 64, (unsigned long long)hard);
}

void say_source(const struct options *o)
{
	if (o->source_note[0])
		fprintf(stderr, PROG ": %s\n", o->source_note);
}

/* 0: run; 2: bad flags (reported); -1: --help or --list printed. */
int parse(int argc, char **argv, struct options *o)
{
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":b:n:a:w:r:h", long_options, NULL)) != -1) {
		if (c == 'h' || c == 'l' || c == 'V') {
			if (c == 'h')
				usage(stdout);
			if (c == 'V')
				version_print(stdout, PROG);
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
	if (!flags_agree(o))
		return 2;
	fit_source(o);
	return 0;
}
