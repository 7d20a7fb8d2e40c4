/*
 * hist.h - a latency histogram in HdrHistogram's log-linear layout:
 * 3 significant decimal digits from 1 to 60 000 000 (microseconds: 1 us
 * to 60 s), constant-time record, mergeable, fixed 136 KiB of counts.
 * Values below 2048 are recorded exactly; above, within 1 part in 1024.
 */
#ifndef HIST_H
#define HIST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define HIST_HIGHEST 60000000LL   /* 60 s in us */
#define HIST_SUB_BUCKETS 2048     /* 2 * 10^3 rounded up to a power of two */
#define HIST_BUCKETS 16           /* enough doublings of 2048 to pass HIST_HIGHEST */
#define HIST_COUNTS ((HIST_BUCKETS + 1) * (HIST_SUB_BUCKETS / 2))

struct hist {
	uint64_t total;
	uint64_t clamped;          /* values above HIST_HIGHEST, recorded as HIST_HIGHEST */
	int64_t min, max;          /* exact */
	double sum;                /* exact, for the mean */
	double sum_sq;
	uint64_t counts[HIST_COUNTS];
};

void hist_init(struct hist *h);
/* Negative values record as 0; values above HIST_HIGHEST are clamped and counted. */
void hist_record(struct hist *h, int64_t value);
void hist_merge(struct hist *into, const struct hist *from);
/* The value at percentile p (0..100]: the highest value equivalent to the bucket it falls in. */
int64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);
double hist_stddev(const struct hist *h);
/* The full percentile spectrum in HdrHistogram's .hgrm text format. */
void hist_write_hgrm(const struct hist *h, FILE *out);

/* Bucket helpers, exposed for tests. */
int hist_index(int64_t value);
int64_t hist_value_at(int index);
int64_t hist_highest_equivalent(int64_t value);

#endif
