/*
 * muxdispatch.c - the dispatch-cost micro-benchmark: our backends beside
 * libevent's and libev's in one process and one run, and Kerrisk's epoll
 * table. Here: the libraries this build has, their drivers, and main.
 * The command line is in dispatch_flags.c; each (backend, fds) cell runs in
 * a child process (dispatch_cells.c), so a peer that crashes or aborts at
 * some fd count is reported as n/a instead of taking the run with it; the
 * sweep and its reports are in dispatch_report.c, the table in
 * dispatch_kerrisk.c, the measurement itself in dispatch.c.
 */
#include "muxdispatch.h"

#include <stdio.h>

/* Ours first, then the peers this build found. */
static const struct dispatch_library *const libraries[] = {
	&dispatch_muxlab,
#ifdef HAVE_LIBEVENT
	&dispatch_libevent,
#endif
#ifdef HAVE_LIBEV
	&dispatch_libev,
#endif
};

/* Every driver of this build, in --list order; filled by list_drivers() before anything else. */
struct dispatch_list drivers;

/* Every library's drivers, ours first; a build with more than the list holds says so. */
static bool list_drivers(void)
{
	for (size_t i = 0; i < sizeof(libraries) / sizeof(libraries[0]); i++)
		if (!libraries[i]->list(&drivers)) {
			fprintf(stderr, PROG ": more than %d backends, or a name over %zu characters: "
				"raise DISPATCH_MAX_DRIVERS\n", DISPATCH_MAX_DRIVERS, sizeof(drivers.d[0].name) - 1);
			return false;
		}
	return true;
}

int main(int argc, char **argv)
{
	struct options o = { .active = 100, .writes = 100000, .repeat = 3, .ops = 100000 };
	int rc = list_drivers() ? parse(argc, argv, &o) : 2;

	if (rc)
		return rc < 0 ? 0 : rc;
	return o.kerrisk ? run_kerrisk(&o) : run_sweep(&o);
}
