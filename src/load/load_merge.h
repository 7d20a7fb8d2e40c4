/* load_merge.h - muxload --merge: several HdrHistogram interval logs added into one. */
#ifndef LOAD_MERGE_H
#define LOAD_MERGE_H

#include <stdbool.h>
#include <stdio.h>

#include "hist.h"

struct merge_report {
	double start_epoch_s;      /* the earliest interval's start */
	double span_s;             /* from it to the latest interval's end */
	double interval_s;         /* the merged grid's cell */
	long cells;                /* merged intervals written */
	long intervals_read;       /* untagged intervals added */
	long tagged_skipped;       /* Tag= intervals, not added (said on stderr by the caller) */
	bool log_begun;            /* the merged log's header was written: the file was rewritten */
};

/*
 * Add the untagged intervals of the n logs at paths into total, and when out
 * is given write the merged interval log there. interval_s <= 0: the interval
 * the logs were written with. 0, or -1 after load_fail's one line (a file that
 * cannot be read, a refused line with its file and number, different units,
 * no interval at all).
 */
int load_merge(char **paths, int n, double interval_s, FILE *out, struct hist *total, struct merge_report *m);


#endif
