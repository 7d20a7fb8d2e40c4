/*
 * muxdispatch.h - what the parts of muxdispatch share: its options, what one
 * cell reports, and the drivers of this build. main and the drivers are in
 * muxdispatch.c.
 */
#ifndef MUXDISPATCH_H
#define MUXDISPATCH_H

#include "dispatch_run.h"

#include <stdbool.h>
#include <stdio.h>

#define PROG "muxdispatch"
#define MAX_FDS_LIST 16
#define MAX_REPEAT 100

/* Every driver of this build, in --list order (muxdispatch.c). */
extern struct dispatch_list drivers;

struct options {
	const struct dispatch_driver *drivers[DISPATCH_MAX_DRIVERS];
	int ndrivers;
	long fds[MAX_FDS_LIST];
	int nfds;
	long active, writes, repeat, ops;
	enum dispatch_source source;
	bool kerrisk;
	bool active_set, ops_set, source_set, writes_set;   /* given on the command line, not defaults */
	bool all_drivers;          /* --backend all (with --kerrisk: all of ours) */
	char source_note[160];     /* why eventfd was chosen for us, said once the run starts */
	const char *csv, *medians;
};

/* What a child reports for one cell. */
struct cell {
	enum dispatch_outcome outcome;
	char why[160];
	int reps;
	struct dispatch_sample s[MAX_REPEAT];
};

/* dispatch_flags.c: the command line into *o. 0: run; 2: bad flags (reported); -1: --help or --list printed. */
int parse(int argc, char **argv, struct options *o);
/* The source chosen for the user, if it was, on stderr: once the outputs are open and the run starts. */
void say_source(const struct options *o);

/* dispatch_cells.c: one cell in a child (n/a when it dies), all of them at one size, a cell's figures. */
void run_cell(const struct options *o, const struct dispatch_driver *d, long fds, struct cell *c);
void run_interleaved(const struct options *o, long fds, struct cell *row);
double us_per_event(const struct dispatch_sample *s);
void spread(const struct options *o, const struct cell *c, double out[3]);

/* dispatch_report.c: the sweep (1 when ours failed or a peer was wrong), and text the reports share. */
int run_sweep(const struct options *o);
const char *source_name(const struct options *o);
FILE *open_out(const char *path);
void close_out(FILE *f);
const char *fig(char *buf, size_t len, double v, int decimals);
const char *outcome_text(const struct cell *c);

/* dispatch_kerrisk.c: the --kerrisk table (1 when a cell failed). */
int run_kerrisk(const struct options *o);

#endif
