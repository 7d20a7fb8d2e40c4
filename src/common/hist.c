/*
 * hist.c - HdrHistogram's log-linear bucketing (Gil Tene's design), for
 * unit_magnitude 0 and 3 significant digits: bucket b covers values
 * [1024 << b, 2048 << b) in 1024 steps of 1 << b, bucket 0 also [0, 1024).
 */
#include "hist.h"

#include <math.h>
#include <string.h>

#define HALF (HIST_SUB_BUCKETS / 2)
#define HALF_MAGNITUDE 10                 /* log2(HALF) */

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = INT64_MAX;
}

static int bucket_of(int64_t v)
{
	/* Position of the highest bit above the first 2048 values. */
	return 64 - __builtin_clzll((uint64_t)v | (HIST_SUB_BUCKETS - 1)) - (HALF_MAGNITUDE + 1);
}

int hist_index(int64_t v)
{
	int b = bucket_of(v);
	int sub = (int)(v >> b);

	return ((b + 1) << HALF_MAGNITUDE) + (sub - HALF);
}

int64_t hist_value_at(int index)
{
	int b = (index >> HALF_MAGNITUDE) - 1;
	int sub = (index & (HALF - 1)) + HALF;

	if (b < 0) {
		sub -= HALF;
		b = 0;
	}
	return (int64_t)sub << b;
}

int64_t hist_highest_equivalent(int64_t v)
{
	int b = bucket_of(v);
	int64_t lowest = (v >> b) << b;

	return lowest + ((int64_t)1 << b) - 1;
}

void hist_record(struct hist *h, int64_t v)
{
	if (v < 0)
		v = 0;
	if (v > HIST_HIGHEST) {
		v = HIST_HIGHEST;
		h->clamped++;
	}
	h->counts[hist_index(v)]++;
	h->total++;
	h->sum += (double)v;
	h->sum_sq += (double)v * (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (int i = 0; i < HIST_COUNTS; i++)
		into->counts[i] += from->counts[i];
	into->total += from->total;
	into->clamped += from->clamped;
	into->sum += from->sum;
	into->sum_sq += from->sum_sq;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

/*
 * HdrHistogram's rank, so that its tools and ours give the same value for
 * the same histogram: ceil(p% of the count), p lowered by one ulp first so
 * that 99.9% of 1000 is rank 999 and not 1000 by a rounding error.
 */
int64_t hist_percentile(const struct hist *h, double p)
{
	uint64_t want, seen = 0;

	if (!h->total)
		return 0;
	p = fmin(fmax(nextafter(p, -INFINITY), 0), 100);
	want = (uint64_t)ceil(p * (double)h->total / 100);
	if (want < 1)
		want = 1;
	for (int i = 0; i < HIST_COUNTS; i++) {
		seen += h->counts[i];
		if (seen >= want) {
			int64_t v = hist_highest_equivalent(hist_value_at(i));

			/* Never report beyond what was recorded: the bucket's top may exceed max. */
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h)
{
	return h->total ? h->sum / (double)h->total : 0;
}

double hist_stddev(const struct hist *h)
{
	double m = hist_mean(h), var;

	if (!h->total)
		return 0;
	var = h->sum_sq / (double)h->total - m * m;
	return var > 0 ? sqrt(var) : 0;
}

static uint64_t count_at(const struct hist *h, double percentile)
{
	return (uint64_t)ceil(percentile / 100 * (double)h->total);
}

/*
 * Same walk as HdrHistogram's percentile iterator: report a line each time
 * the cumulative count passes the next percentile step, halving the step
 * every time the remaining tail halves (5 ticks per half distance).
 */
void hist_write_hgrm(const struct hist *h, FILE *out)
{
	const int ticks_per_half = 5;
	double next = 0;
	uint64_t seen = 0;

	fprintf(out, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount", "1/(1-Percentile)");
	for (int i = 0; i < HIST_COUNTS && seen < h->total; i++) {
		seen += h->counts[i];
		while (h->counts[i] && seen >= count_at(h, next)) {
			int64_t v = hist_highest_equivalent(hist_value_at(i));
			double ticks = ticks_per_half * pow(2, floor(log2(100 / (100 - next))) + 1);

			fprintf(out, "%12.3f %2.12f %10llu %14.2f\n", (double)(v > h->max ? h->max : v),
				next / 100, (unsigned long long)seen, 1 / (1 - next / 100));
			/* The tail: once a step needs every sample, only the 100% line is left. */
			if (count_at(h, next) >= h->total || next + 100 / ticks <= next)
				break;
			next += 100 / ticks;
		}
	}
	if (h->total)
		fprintf(out, "%12.3f %2.12f %10llu\n", (double)h->max, 1.0, (unsigned long long)h->total);
	fprintf(out, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", hist_mean(h), hist_stddev(h));
	fprintf(out, "#[Max     = %12.3f, Total count    = %12llu]\n", (double)(h->total ? h->max : 0),
		(unsigned long long)h->total);
	fprintf(out, "#[Buckets = %12d, SubBuckets     = %12d]\n", HIST_BUCKETS, HIST_SUB_BUCKETS);
}
