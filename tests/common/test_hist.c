/* test_hist.c - the latency histogram against exact answers from sorted arrays. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"
#include "../testutil.h"

enum { N = 200000 };

static uint64_t rng = 88172645463325252ULL;

static double uniform01(void)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The percentile as HdrHistogram defines it: the sample of rank ceil(p% of n), at least 1. */
static int64_t exact_percentile(const int64_t *sorted, size_t n, double p)
{
	size_t rank = (size_t)ceil(nextafter(p, 0) * (double)n / 100);

	return sorted[(rank ? rank : 1) - 1];
}

/* Every reported percentile is the exact one or above it by less than 1/1000 of it. */
static void check_against_sorted(int64_t *v, size_t n)
{
	static const double ps[] = { 0.1, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100 };
	struct hist *h = malloc(sizeof(*h));
	double sum = 0;

	assert_non_null(h);
	hist_init(h);
	for (size_t i = 0; i < n; i++) {
		hist_record(h, v[i]);
		sum += (double)v[i];
	}
	qsort(v, n, sizeof(*v), cmp64);
	for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++) {
		int64_t want = exact_percentile(v, n, ps[i]), got = hist_percentile(h, ps[i]);

		if (got < want || (double)(got - want) > (double)want / 1000)
			fail_msg("p%g: histogram says %lld, exact %lld", ps[i], (long long)got, (long long)want);
	}
	assert_int_equal(h->min, v[0]);
	assert_int_equal(h->max, v[n - 1]);
	assert_int_equal(h->total, n);
	assert_true(fabs(hist_mean(h) - sum / (double)n) < 1e-6 * sum / (double)n + 1e-9);
	free(h);
}

static void uniform_samples(void **state)
{
	int64_t *v = malloc(N * sizeof(*v));

	(void)state;
	for (size_t i = 0; i < N; i++)
		v[i] = 1 + (int64_t)(uniform01() * 1e6);
	check_against_sorted(v, N);
	free(v);
}

static void bimodal_samples(void **state)
{
	int64_t *v = malloc(N * sizeof(*v));

	(void)state;
	for (size_t i = 0; i < N; i++)
		v[i] = i % 2 ? 45 + (int64_t)(uniform01() * 10) : 45000 + (int64_t)(uniform01() * 10000);
	check_against_sorted(v, N);
	free(v);
}

/* Pareto, alpha 1.2: most samples small, a tail reaching tens of seconds. */
static void heavy_tailed_samples(void **state)
{
	int64_t *v = malloc(N * sizeof(*v));

	(void)state;
	for (size_t i = 0; i < N; i++) {
		double x = 10 / pow(1 - uniform01(), 1 / 1.2);

		v[i] = x > HIST_HIGHEST ? HIST_HIGHEST : (int64_t)x;
	}
	check_against_sorted(v, N);
	free(v);
}

static void bucket_boundaries(void **state)
{
	(void)state;
	/* Exact below 2048, then steps of 2, 4, ...: each value maps into a bucket that holds it. */
	for (int64_t v = 0; v < 5000000; v += 1 + v / 3000) {
		int i = hist_index(v);

		assert_true(hist_value_at(i) <= v);
		assert_true(hist_highest_equivalent(v) >= v);
		assert_true(i < HIST_COUNTS);
	}
	assert_int_equal(hist_highest_equivalent(2047), 2047);
	assert_int_equal(hist_highest_equivalent(2048), 2049);
	assert_true(hist_index(HIST_HIGHEST) < HIST_COUNTS);
}

static void clamps_out_of_range(void **state)
{
	struct hist *h = malloc(sizeof(*h));

	(void)state;
	hist_init(h);
	hist_record(h, -5);
	hist_record(h, HIST_HIGHEST * 10);
	assert_int_equal(h->clamped, 1);
	assert_int_equal(h->min, 0);
	assert_int_equal(h->max, HIST_HIGHEST);
	assert_int_equal(hist_percentile(h, 100), HIST_HIGHEST);
	free(h);
}

static void merge_equals_union(void **state)
{
	struct hist *a = malloc(sizeof(*a)), *b = malloc(sizeof(*b)), *all = malloc(sizeof(*all));

	(void)state;
	hist_init(a);
	hist_init(b);
	hist_init(all);
	for (int i = 0; i < N; i++) {
		int64_t v = (int64_t)(10 / pow(1 - uniform01(), 1 / 1.5));

		hist_record(i % 3 ? a : b, v);
		hist_record(all, v);
	}
	hist_merge(a, b);
	assert_memory_equal(a->counts, all->counts, sizeof(a->counts));
	assert_int_equal(a->total, all->total);
	assert_int_equal(a->min, all->min);
	assert_int_equal(a->max, all->max);
	for (double p = 1; p <= 100; p += 7)
		assert_int_equal(hist_percentile(a, p), hist_percentile(all, p));
	free(a);
	free(b);
	free(all);
}

/* Parse the .hgrm text back: monotone rows, a 100% row equal to max and total, a matching footer. */
static void hgrm_parses_back(void **state)
{
	struct hist *h = malloc(sizeof(*h));
	FILE *f = tmpfile();
	char line[256];
	double value, pct, last_value = -1, last_pct = -1, mean, stddev, max;
	unsigned long long count, last_count = 0, total;
	int rows = 0;
	bool seen_mean = false, seen_max = false;

	(void)state;
	hist_init(h);
	for (int i = 0; i < N; i++)
		hist_record(h, (int64_t)(20 + uniform01() * 200 + (i % 100 == 0 ? 5000 : 0)));
	hist_write_hgrm(h, f);
	rewind(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "Percentile"));
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lf %lf %llu", &value, &pct, &count) == 3) {
			assert_true(value >= last_value && pct > last_pct && count >= last_count);
			/* Each row's value is what the histogram answers for that percentile. */
			if (pct < 1)
				assert_true(llabs(hist_percentile(h, pct * 100) - (long long)value) <= 1 + value / 1000);
			last_value = value, last_pct = pct, last_count = count;
			rows++;
		} else if (sscanf(line, "#[Mean = %lf, StdDeviation = %lf]", &mean, &stddev) == 2) {
			assert_true(fabs(mean - hist_mean(h)) < 0.001);
			seen_mean = true;
		} else if (sscanf(line, "#[Max = %lf, Total count = %llu]", &max, &total) == 2) {
			assert_int_equal((long long)max, h->max);
			assert_int_equal(total, h->total);
			seen_max = true;
		}
	}
	assert_true(rows > 20);
	assert_true(seen_mean && seen_max);	/* the footer is there, not only well-formed if present */
	assert_true(last_pct == 1.0);
	assert_int_equal(last_count, h->total);
	assert_int_equal((long long)last_value, h->max);
	fclose(f);
	free(h);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(uniform_samples),
		cmocka_unit_test(bimodal_samples),
		cmocka_unit_test(heavy_tailed_samples),
		cmocka_unit_test(bucket_boundaries),
		cmocka_unit_test(clamps_out_of_range),
		cmocka_unit_test(merge_equals_union),
		cmocka_unit_test(hgrm_parses_back),
	};

	return cmocka_run_group_tests_name("histogram", tests, NULL, NULL);
}
