/*
 * test_hlog.c - HdrHistogram interval logs: the encoding against HdrHistogram's
 * own Java tools (Debian's libhdrhistogram-java), muxload --hlog against its
 * own report, muxload --merge against the histogram of the union of the
 * samples, and bad logs refused with their file and line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "hist.h"
#include "hlog.h"
#include "../testutil.h"

#define OUT_MAX 16384
#define HDR_JAR_DEFAULT "/usr/share/java/hdrhistogram.jar"
#define JAVA_PROCESSOR "org.HdrHistogram.HistogramLogProcessor"

static const double json_percentiles[] = { 50, 90, 99, 99.9, 99.99 };
static const char *const json_keys[] = { "p50", "p90", "p99", "p99_9", "p99_99" };
#define NPCT 5

struct run {
	int rc;
	char out[OUT_MAX], err[4096];
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint64_t next_random(void)
{
	rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
	return rng;
}

static const char *muxload(void)
{
	return tool_path("MUXLOAD", "build/muxload");
}

static const char *tmp_path(const char *name)
{
	static char paths[8][128];
	static int next;
	char *p = paths[next++ % 8];

	snprintf(p, sizeof(paths[0]), "/tmp/muxlab-hlog-%ld-%s", (long)getpid(), name);
	return p;
}

static int lines_in(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Samples drawn from a few shapes: exact small values, a lognormal body, a far tail. */
static int64_t sample(int shape)
{
	double u = (double)(next_random() >> 11) / 9007199254740992.0;

	switch (shape) {
	case 0: return 1 + (int64_t)(u * 2000);
	case 1: return (int64_t)exp(4 + 1.5 * sqrt(-2 * log(u + 1e-12)) * cos(6.2831853 * u));
	default: return u < 0.999 ? 50 + (int64_t)(u * 200) : (int64_t)(u * 30000000);
	}
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/*
 * A log of `intervals` intervals of `per` samples of one shape each, its
 * start time start_epoch; every sample also recorded into union_h.
 */
static void write_log(const char *path, double start_epoch, int intervals, int per, int shape,
		      struct hist *union_h)
{
	struct hist *h = test_alloc(sizeof(*h));
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	hlog_write_header(f, start_epoch, 1, "test_hlog");
	for (int i = 0; i < intervals; i++) {
		hist_init(h);
		for (int k = 0; k < per; k++) {
			int64_t v = sample(shape);

			hist_record(h, v);
			hist_record(union_h, v);
		}
		assert_int_equal(hlog_write_interval(f, i * 1.0, 1.0, h), 0);
	}
	assert_int_equal(fclose(f), 0);
}

/* Encode, decode: the same counts, total and (with the line's max) the same max. */
static void codec_round_trip(void **state)
{
	struct hist *h = test_alloc(sizeof(*h)), *back = test_alloc(sizeof(*back));

	(void)state;
	for (int shape = 0; shape < 4; shape++) {
		char *text;

		hist_init(h);
		for (int k = 0; shape < 3 && k < 100000; k++)
			hist_record(h, sample(shape));
		if (shape == 2) {
			hist_record(h, HIST_HIGHEST);      /* the last bucket */
			h->counts[5] += 1ULL << 52;        /* ZigZag 2^53: eight LEB128 bytes */
			h->total += 1ULL << 52;
		}
		text = hist_encode(h);
		assert_non_null(text);
		assert_memory_equal(text, "HISTF", 5);   /* the V2 compressed cookie, as HdrHistogram writes it */
		assert_null(hist_decode(text, strlen(text), back));
		assert_memory_equal(back->counts, h->counts, sizeof(h->counts));
		assert_int_equal(back->total, h->total);
		if (h->total)
			assert_int_equal(hist_index(back->max), hist_index(h->max));
		free(text);
	}
	/* 2^60 in one bucket (nine LEB128 bytes) is encoded, and refused when read: past 2^53 samples. */
	hist_init(h);
	h->counts[7] = 1ULL << 60;
	h->total = 1ULL << 60;
	h->max = 7;
	{
		char *text = hist_encode(h);
		const char *why = hist_decode(text, strlen(text), back);

		free(text);
		assert_non_null(why);
		assert_non_null(strstr(why, "2^53"));
	}
}

/* The jar of Debian's libhdrhistogram-java and a java to run it; NULL (test skipped) without. */
static const char *hdr_jar(void)
{
	const char *jar = tool_path("HDRHISTOGRAM_JAR", HDR_JAR_DEFAULT);

	if (access(jar, R_OK))
		return NULL;
	if (run_prog(NULL, 0, NULL, 0, "/bin/sh", "-c", "command -v java", NULL))
		return NULL;
	return jar;
}

/*
 * HistogramLogProcessor on log: its last line's total count and total
 * percentiles (50 90 99 99.9 99.99 max), in the log's unit.
 */
static void java_totals(const char *log, double *count, double pct[6])
{
	struct run *r = test_alloc(sizeof(*r));
	const char *out = tmp_path("java");
	char path[160], *last, *t;
	FILE *f;

	r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), "java", "-cp", hdr_jar(), JAVA_PROCESSOR,
			 "-i", log, "-o", out, "-outputValueUnitRatio", "1", NULL);
	if (r->rc)
		fail_msg("HistogramLogProcessor exit %d: %s", r->rc, r->err);
	f = fopen(out, "r");
	assert_non_null(f);
	r->out[fread(r->out, 1, OUT_MAX - 1, f)] = '\0';
	fclose(f);
	unlink(out);
	snprintf(path, sizeof(path), "%s.hgrm", out);
	unlink(path);
	last = strrchr(r->out, 'T');
	assert_non_null(last);
	assert_int_equal(sscanf(last, "T:%lf ( %lf %lf %lf %lf %lf %lf )", count, &pct[0], &pct[1], &pct[2],
				&pct[3], &pct[4], &pct[5]), 7);
	t = strstr(r->out, "I:");
	assert_non_null(t);
}

/* Two values HdrHistogram counts as equivalent: the same bucket. */
static void assert_equivalent(double a, double b, const char *what)
{
	if (hist_index((int64_t)a) != hist_index((int64_t)b))
		fail_msg("%s: %.0f and %.0f are not in the same bucket", what, a, b);
}

/* Logs the library writes, extremes included, read by HdrHistogram's own Java processor. */
static void java_reads_encoding(void **state)
{
	struct hist *h = test_alloc(sizeof(*h));
	const char *log = tmp_path("enc.hlog");
	double count, pct[6];
	FILE *f;

	(void)state;
	if (!hdr_jar())
		skip_because("no java or no %s (apt-get install libhdrhistogram-java default-jre-headless)",
			     HDR_JAR_DEFAULT);
	hist_init(h);
	for (int k = 0; k < 200000; k++)
		hist_record(h, sample(k % 3));
	hist_record(h, 1);
	hist_record(h, HIST_HIGHEST);
	f = fopen(log, "w");
	assert_non_null(f);
	hlog_write_header(f, 1.8e9, 1, "test_hlog");
	assert_int_equal(hlog_write_interval(f, 0, 1, h), 0);
	assert_int_equal(fclose(f), 0);
	java_totals(log, &count, pct);
	assert_int_equal((uint64_t)count, h->total);
	for (int i = 0; i < NPCT; i++)
		assert_equivalent(pct[i], (double)hist_percentile(h, json_percentiles[i]), json_keys[i]);
	assert_equivalent(pct[5], (double)h->max, "max");
	unlink(log);
}

/* Start an echo server and run muxload with NULL-terminated extra args, --json. */
#define LOAD(r, c, ...) \
	((r)->rc = run_prog((r)->out, OUT_MAX, (r)->err, sizeof((r)->err), muxload(), "--port", port, \
			    "--json", __VA_ARGS__, NULL))

/* Merge one log alone: its totals, by muxload's reader. */
static void merged_totals(const char *log, struct run *m)
{
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--json", log, NULL);
	if (m->rc)
		fail_msg("muxload --merge %s: exit %d: %s", log, m->rc, m->err);
}

/*
 * muxload --hlog, closed loop over two threads, open loop and --requests: the
 * log's intervals add up to the run's count exactly, its percentiles are the
 * run's, and HdrHistogram's own processor reads the same count and percentiles.
 */
static void run_log_matches_report(void **state)
{
	static const char *const modes[][6] = {
		{ "--threads", "2", "--connections", "4", "--duration", "1.5" },
		{ "--rate", "2000", "--connections", "4", "--duration", "1.5" },
		{ "--requests", "20000", "--connections", "2", "--warmup", "0.2" },
	};
	struct run *r = test_alloc(sizeof(*r)), *m = test_alloc(sizeof(*m));
	const char *log = tmp_path("run.hlog");
	struct child c;
	char port[16];

	(void)state;
	child_start(&c, "epoll", NULL);
	snprintf(port, sizeof(port), "%d", c.port);
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		double count, pct[6];

		LOAD(r, &c, "--hlog", log, "--hlog-interval", "0.5", "--warmup", "0.3", modes[i][0], modes[i][1],
		     modes[i][2], modes[i][3], modes[i][4], modes[i][5]);
		if (r->rc)
			fail_msg("muxload %s: exit %d: %s", modes[i][0], r->rc, r->err);
		merged_totals(log, m);
		assert_int_equal(json_number(m->out, NULL, "requests"), json_number(strstr(r->out, "},"), NULL, "requests"));
		/* 1.5 s in intervals of 0.5: three lines (or four, when the last boundary and the end part). */
		if (strcmp(modes[i][0], "--requests"))
			assert_true(json_number(m->out, NULL, "intervals_read") >= 3);
		for (int k = 0; k < NPCT; k++)
			assert_int_equal(json_number(m->out, "latency_us", json_keys[k]),
					 json_number(r->out, "latency_us", json_keys[k]));
		if (!hdr_jar())
			continue;
		java_totals(log, &count, pct);
		assert_int_equal(count, json_number(strstr(r->out, "},"), NULL, "requests"));
		for (int k = 0; k < NPCT; k++)
			assert_equivalent(pct[k], json_number(r->out, "latency_us", json_keys[k]), json_keys[k]);
	}
	unlink(log);
	assert_int_equal(child_stop(&c, 30), 0);
	if (!hdr_jar())
		skip_because("no java or no %s: the logs were checked by muxload alone", HDR_JAR_DEFAULT);
}

/* The percentile lines of an .hgrm (up to its #[Mean line). */
static void hgrm_body(const char *text, char *out, size_t len)
{
	const char *end = strstr(text, "#[Mean");

	assert_non_null(end);
	snprintf(out, len, "%.*s", (int)(end - text), text);
}

static void read_file(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	buf[fread(buf, 1, len - 1, f)] = '\0';
	fclose(f);
}

/* The interval lines of a log begin with these "start,length," in this order, and there are no more. */
static void expect_intervals(const char *path, const char *const *want, int n)
{
	char *text = test_alloc(OUT_MAX * 4), *line;
	int i = 0;

	read_file(path, text, OUT_MAX * 4);
	for (line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		if (line[0] == '#' || line[0] == '"')
			continue;
		if (i >= n || strncmp(line, want[i], strlen(want[i])))
			fail_msg("%s: interval %d is '%.20s', expected '%s'", path, i, line, i < n ? want[i] : "none");
		i++;
	}
	assert_int_equal(i, n);
}

/* Three logs with different shapes and start times: merged = the union of their samples. */
static void merge_equals_union(void **state)
{
	struct hist *u = test_alloc(sizeof(*u));
	struct run *m = test_alloc(sizeof(*m)), *again = test_alloc(sizeof(*again));
	char *want = test_alloc(OUT_MAX * 4), *got = test_alloc(OUT_MAX * 4), *text = test_alloc(OUT_MAX * 4);
	const char *a = tmp_path("a.hlog"), *b = tmp_path("b.hlog"), *c = tmp_path("c.hlog");
	const char *hgrm = tmp_path("m.hgrm"), *merged = tmp_path("m.hlog");
	FILE *f;

	(void)state;
	hist_init(u);
	write_log(a, 1.8e9, 5, 20000, 0, u);
	write_log(b, 1.8e9 + 0.3, 4, 30000, 1, u);
	write_log(c, 1.8e9 + 1.1, 6, 10000, 2, u);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--json", "--hgrm", hgrm,
			 "--hlog", merged, a, b, c, NULL);
	if (m->rc)
		fail_msg("muxload --merge: exit %d: %s", m->rc, m->err);
	assert_int_equal(json_number(m->out, NULL, "requests"), u->total);
	assert_int_equal(json_number(m->out, NULL, "intervals_read"), 15);
	assert_int_equal(json_number(m->out, NULL, "intervals"), 7);   /* cells 0..6 of 1 s */
	for (int k = 0; k < NPCT; k++)
		assert_int_equal(json_number(m->out, "latency_us", json_keys[k]), hist_percentile(u, json_percentiles[k]));
	assert_int_equal(json_number(m->out, "latency_us", "max"), u->max);
	/* The whole spectrum: the same percentile lines as the union's own. */
	f = fmemopen(want, OUT_MAX * 4, "w");
	hist_write_hgrm(u, f);
	fclose(f);
	read_file(hgrm, text, OUT_MAX * 4);
	hgrm_body(text, got, OUT_MAX * 4);
	hgrm_body(want, text, OUT_MAX * 4);
	assert_string_equal(got, text);
	/* The merged log holds the same sum, on a grid of 1 s from the earliest start (a's). */
	merged_totals(merged, again);
	assert_int_equal(json_number(again->out, NULL, "requests"), u->total);
	assert_int_equal(json_number(again->out, "latency_us", "p99_9"), hist_percentile(u, 99.9));
	expect_intervals(merged, (const char *const[]){ "0.000,1.000,", "1.000,1.000,", "2.000,1.000,",
		"3.000,1.000,", "4.000,1.000,", "5.000,1.000,", "6.000,1.000," }, 7);
	/* A coarser grid: each interval in the cell of its middle; c's last ends at 7.1 s. */
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--json", "--hlog", merged,
			 "--hlog-interval", "2", a, b, c, NULL);
	assert_int_equal(m->rc, 0);
	expect_intervals(merged, (const char *const[]){ "0.000,2.000,", "2.000,2.000,", "4.000,2.000,",
		"6.000,1.100," }, 4);
	merged_totals(merged, again);
	assert_int_equal(json_number(again->out, NULL, "requests"), u->total);
	unlink(a), unlink(b), unlink(c), unlink(hgrm), unlink(merged);
}

/*
 * A log as muxload writes one: intervals planned at 1 s, each started a few
 * ms late by the writer's wake-up, so their lengths are 1.003, 0.997, ...
 * Merged, they keep one cell each, with or without the #[IntervalLength]
 * line; on a grid of 0.5 s they are refused (cells shorter than their data).
 */
static void merge_grid_as_planned(void **state)
{
	enum { INTERVALS = 300 };
	struct hist *h = test_alloc(sizeof(*h));
	struct run *m = test_alloc(sizeof(*m));
	const char *path = tmp_path("late.hlog");
	char *text = test_alloc(OUT_MAX * 16), *planned_line;
	FILE *f = fopen(path, "w");

	(void)state;
	assert_non_null(f);
	hlog_write_header(f, 1.8e9, 1, "test_hlog");
	hist_init(h);
	hist_record(h, 100);
	for (int k = 0; k < INTERVALS; k++) {
		double start = k + (k % 2 ? 0.003 : 0), end = k + 1 + ((k + 1) % 2 ? 0.003 : 0);

		assert_int_equal(hlog_write_interval(f, start, end - start, h), 0);
	}
	assert_int_equal(fclose(f), 0);
	for (int pass = 0; pass < 2; pass++) {
		m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--json", path, NULL);
		if (m->rc || json_number(m->out, NULL, "intervals") != INTERVALS ||
		    json_number(m->out, NULL, "interval_s") != 1)
			fail_msg("pass %d: exit %d, stdout %s, stderr %s", pass, m->rc, m->out, m->err);
		/* The second pass without the planned length: 1.000 s is read off the first interval. */
		read_file(path, text, OUT_MAX * 16);
		planned_line = strstr(text, "#[IntervalLength");
		if (planned_line)
			memmove(planned_line, strchr(planned_line, '\n') + 1, strlen(strchr(planned_line, '\n')));
		write_text(path, text);
	}
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--hlog", tmp_path("half"),
			 "--hlog-interval", "0.5", path, NULL);
	if (m->rc != 1 || !strstr(m->err, "longer than the merged grid"))
		fail_msg("a grid of 0.5 s: exit %d, stderr %s", m->rc, m->err);
	unlink(path), unlink(tmp_path("half"));
}

/* A log whose only interval line is line, the fifth. */
static void log_with_line(const char *path, const char *line)
{
	char text[8192];

	snprintf(text, sizeof(text), "#[ValueUnit: us]\n#[StartTime: 1800000000.000 (seconds since epoch)]\n"
		 "#[BaseTime: 1800000000.000 (seconds since epoch)]\n"
		 "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"\n%s\n",
		 line);
	write_text(path, text);
}

/* A histogram of `count` samples of 100 us in base64. */
static char *histogram_of(uint64_t count)
{
	struct hist *h = test_alloc(sizeof(*h));

	hist_init(h);
	hist_record(h, 100);
	h->counts[100] = count;
	h->total = count;
	return hist_encode(h);
}

/* A histogram of one value at 2 significant digits: HdrHistogram's encoding, forged. */
static char *two_digit_histogram(void)
{
	uint8_t *z = test_alloc(4096), *raw = test_alloc(1 << 20), *again = test_alloc(4096);
	uLongf rawn = 1 << 20, zn = 4096 - 8;
	char *text = histogram_of(1);
	long n;

	n = base64_decode(text, strlen(text), z);
	free(text);
	assert_true(n > 8);
	assert_int_equal(uncompress(raw, &rawn, z + 8, (uLong)n - 8), Z_OK);
	raw[15] = 2;                               /* numberOfSignificantValueDigits, big-endian int at 12 */
	assert_int_equal(compress2(again + 8, &zn, raw, rawn, 6), Z_OK);
	memcpy(again, z, 4);
	again[4] = (uint8_t)(zn >> 24), again[5] = (uint8_t)(zn >> 16), again[6] = (uint8_t)(zn >> 8);
	again[7] = (uint8_t)zn;
	return base64_encode(again, 8 + zn);
}

/* bad holding text, merged with good: exit 1 and one line on stderr holding each of the two strings. */
static void expect_refused(const char *good, const char *bad, const char *text, const char *where, const char *why)
{
	struct run *m = test_alloc(sizeof(*m));

	write_text(bad, text);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", good, bad, NULL);
	if (m->rc != 1 || lines_in(m->err) != 1 || !strstr(m->err, where) || !strstr(m->err, why))
		fail_msg("wanted '%s' and '%s': exit %d, stderr: %s", where, why, m->rc, m->err);
}

/*
 * Times that are not times and counts past 2^53 (one histogram, or the sum):
 * refused with their line, never a crash, an endless .hgrm or an empty sum.
 */
static void bad_times_and_counts(const char *good, const char *bad)
{
	char *one = histogram_of(1), *huge = histogram_of(1ULL << 60), *big = histogram_of(3ULL << 51);
	char *text = test_alloc(OUT_MAX);

	snprintf(text, OUT_MAX, "#[StartTime: inf (seconds since epoch)]\n0.000,1.000,0.100,%s\n", one);
	expect_refused(good, bad, text, "bad.hlog:1:", "StartTime");
	snprintf(text, OUT_MAX, "#[BaseTime: 1e300 (seconds since epoch)]\n0.000,1.000,0.100,%s\n", one);
	expect_refused(good, bad, text, "bad.hlog:1:", "BaseTime");
	snprintf(text, OUT_MAX, "1e17,1.000,0.100,%s\n", one);
	expect_refused(good, bad, text, "bad.hlog:1:", "out of range");
	snprintf(text, OUT_MAX, "0.000,1.000,0.100,%s\n", huge);
	expect_refused(good, bad, text, "bad.hlog:1:", "2^53");
	snprintf(text, OUT_MAX, "#[ValueUnit: us]\n0.000,1.000,0.100,%s\n1.000,1.000,0.100,%s\n", big, big);
	expect_refused(good, bad, text, "--merge", "2^53 samples in all");
	free(one), free(huge), free(big);
}

/* Each bad log: exit 1, one line on stderr naming the file (and line) and why. */
static void merge_refuses_bad_logs(void **state)
{
	struct hist *u = test_alloc(sizeof(*u));
	struct run *m = test_alloc(sizeof(*m));
	const char *good = tmp_path("good.hlog"), *bad = tmp_path("bad.hlog");
	char *two = two_digit_histogram(), line[4096], *valid;
	struct {
		const char *line, *expect;
	} cases[] = {
		{ "0.000,1.000,0.100,HISTFAAAACl4nJNpmSzMwMDAxAABzFCaEUzOmbTKHiLwzx7CYmQEAKsOBnY", "not base64" },
		{ "0.000,1.000,0.100,HISTF*AAACl4nJNpmSzMwMDAxAABzFCaEUzOmbTKHiLwzx7CYmQEAKsOBnYA", "not base64" },
		{ "0.000,1.000,0.100,SGVsbG8gd29ybGQ=", "not a V2 compressed histogram" },
		{ "0.000,1.000,HISTFAAAACl4nJNpmSzMwMDAxAABzFCaEUzOmbTKHiLwzx7CYmQEAKsOBnYA", "expected start" },
		{ "0.000,1.000", "expected start" },
		{ "Tag=x", "a Tag= without its fields" },
		{ NULL, "different precision" },
	};

	(void)state;
	hist_init(u);
	write_log(good, 1.8e9, 2, 100, 0, u);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].line) {
			log_with_line(bad, cases[i].line);
		} else {
			snprintf(line, sizeof(line), "0.000,1.000,0.100,%s", two);
			log_with_line(bad, line);
		}
		m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", good, bad, NULL);
		if (m->rc != 1 || lines_in(m->err) != 1 || !strstr(m->err, cases[i].expect) ||
		    !strstr(m->err, "bad.hlog:5:"))
			fail_msg("case %zu: exit %d, stderr: %s", i, m->rc, m->err);
	}
	free(two);
	/* With --json, the same line as a JSON object on stdout. */
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--json", good, bad, NULL);
	if (m->rc != 1 || strncmp(m->out, "{\"error\":\"", 10) || !strstr(m->out, "bad.hlog:5: a different precision"))
		fail_msg("--json: exit %d, stdout %s", m->rc, m->out);
	bad_times_and_counts(good, bad);
	/* A log in ns beside one in us; one with no intervals; one that does not exist. */
	read_file(good, line, sizeof(line));
	valid = strstr(line, "Histogram\"\n");
	assert_non_null(valid);
	snprintf(line + 2048, 2048, "#[ValueUnit: ns]\n%s", valid + strlen("Histogram\"\n"));
	write_text(bad, line + 2048);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", good, bad, NULL);
	if (m->rc != 1 || lines_in(m->err) != 1 || !strstr(m->err, "different units"))
		fail_msg("units: exit %d, stderr: %s", m->rc, m->err);
	write_text(bad, "#[ValueUnit: us]\n");
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", bad, NULL);
	assert_int_equal(m->rc, 1);
	assert_non_null(strstr(m->err, "no untagged interval"));
	unlink(bad);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", good, bad, NULL);
	if (m->rc != 1 || lines_in(m->err) != 1 || !strstr(m->err, "No such file"))
		fail_msg("missing: exit %d, stderr: %s", m->rc, m->err);
	unlink(good);
}

/* A log whose second interval starts before its first; Tag= intervals beside untagged ones. */
static void merge_order_and_tags(void **state)
{
	struct hist *u = test_alloc(sizeof(*u));
	struct run *m = test_alloc(sizeof(*m));
	const char *path = tmp_path("order.hlog");
	char *text = test_alloc(OUT_MAX), *copy = test_alloc(OUT_MAX), *first, *second;

	(void)state;
	hist_init(u);
	write_log(path, 1.8e9, 3, 100, 0, u);
	read_file(path, text, OUT_MAX);
	first = strstr(text, "\n0.000,");
	second = strstr(text, "\n1.000,");
	assert_non_null(first);
	assert_non_null(second);
	/* Tagged copies of every interval: skipped, counted, said once. */
	snprintf(copy, OUT_MAX, "%sTag=other,%.*s\n", text, (int)(strchr(first + 1, '\n') - first - 1), first + 1);
	write_text(path, copy);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--json", path, NULL);
	if (m->rc || json_number(m->out, NULL, "requests") != 300 || json_number(m->out, NULL, "tagged_skipped") != 1 ||
	    lines_in(m->err) != 1 || !strstr(m->err, "Tag= intervals skipped"))
		fail_msg("tags: exit %d, stdout %s, stderr %s", m->rc, m->out, m->err);
	/* Only tagged intervals: nothing to add, said with the count; blanks after the base64 are allowed. */
	snprintf(copy, OUT_MAX, "Tag=x,%.*s\n", (int)(strchr(first + 1, '\n') - first - 1), first + 1);
	write_text(path, copy);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", path, NULL);
	if (m->rc != 1 || !strstr(m->err, "no untagged interval") || !strstr(m->err, "1 Tag="))
		fail_msg("tag only: exit %d, stderr %s", m->rc, m->err);
	snprintf(copy, OUT_MAX, "%.*s \t\r\n", (int)(strchr(first + 1, '\n') - first - 1), first + 1);
	write_text(path, copy);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--json", path, NULL);
	if (m->rc || json_number(m->out, NULL, "requests") != 100)
		fail_msg("trailing blanks: exit %d, stdout %s, stderr %s", m->rc, m->out, m->err);
	/* Back in time: the 1.000 line again after the 2.000 one. */
	snprintf(copy, OUT_MAX, "%s%.*s", text, (int)(strchr(second + 1, '\n') - second), second + 1);
	write_text(path, copy);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", path, NULL);
	if (m->rc != 1 || lines_in(m->err) != 1 || !strstr(m->err, "not in time order") || !strstr(m->err, ":11:"))
		fail_msg("order: exit %d, stderr %s", m->rc, m->err);
	unlink(path);
}

/* Meaningless combinations: one line, exit 2; an output that would overwrite an input: exit 1. */
static void merge_flags(void **state)
{
	/* The arguments, then what the one line must name. */
	static const char *const bad[][6] = {
		{ "--merge", NULL, NULL, NULL, NULL, "needs the logs" },
		{ "--merge", "--connections", "5", "LOG", NULL, "--connections has no meaning" },
		{ "--merge", "--rate=100", "LOG", NULL, NULL, "--rate has no meaning" },
		{ "--merge", "-c5", "LOG", NULL, NULL, "--connections has no meaning" },
		{ "--merge", "--hlog-interval", "2", "LOG", NULL, "give --hlog" },
		{ "--hlog-interval", "2", NULL, NULL, NULL, "without --hlog" },
		{ "LOG", NULL, NULL, NULL, NULL, "unexpected argument" },
		{ "--hlog-interval", "0", "--hlog", "x", NULL, "hlog-interval" },
	};
	struct hist *u = test_alloc(sizeof(*u));
	struct run *m = test_alloc(sizeof(*m));
	const char *log = tmp_path("flags.hlog"), *link = tmp_path("link.hlog"), *target = tmp_path("target");
	struct stat before, after;
	char text[8192];

	(void)state;
	hist_init(u);
	write_log(log, 1.8e9, 2, 100, 0, u);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *a[5];

		for (int k = 0; k < 5; k++)
			a[k] = bad[i][k] && !strcmp(bad[i][k], "LOG") ? log : bad[i][k];
		m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), a[0], a[1], a[2], a[3], a[4]);
		if (m->rc != 2 || lines_in(m->err) != 1 || !strstr(m->err, bad[i][5]))
			fail_msg("case %zu (%s %s): exit %d, stderr: %s", i, a[0], a[1] ? a[1] : "", m->rc, m->err);
	}
	assert_int_equal(stat(log, &before), 0);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--hlog", log, log, NULL);
	assert_int_equal(m->rc, 1);
	assert_non_null(strstr(m->err, "would be overwritten"));
	assert_int_equal(stat(log, &after), 0);
	assert_int_equal(after.st_size, before.st_size);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--hgrm", log, log, NULL);
	assert_int_equal(m->rc, 1);
	assert_non_null(strstr(m->err, "--hgrm"));
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", log, log, NULL);
	assert_int_equal(m->rc, 1);
	assert_non_null(strstr(m->err, "given twice"));
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--hlog", target, "--hgrm",
			 target, log, NULL);
	if (m->rc != 2 || lines_in(m->err) != 1 || !strstr(m->err, "the same file"))
		fail_msg("--hlog and --hgrm alike: exit %d, stderr: %s", m->rc, m->err);
	/*
	 * A merge that fails at its first line leaves --hlog as it was; one that
	 * fails after the merged log began leaves it empty. Nothing is removed:
	 * here --hlog is a link to a file.
	 */
	write_text(target, "old");
	unlink(link);
	assert_int_equal(symlink(target, link), 0);
	write_text(log, "0.000,1.000\n");
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--hlog", link, log, NULL);
	assert_int_equal(m->rc, 1);
	assert_int_equal(stat(target, &after), 0);
	assert_int_equal(after.st_size, 3);
	write_log(log, 1.8e9, 2, 100, 0, u);
	read_file(log, text, sizeof(text));
	strcat(text, "2.000,1.000\n");               /* a third interval cut short */
	write_text(log, text);
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--merge", "--hlog", link, log, NULL);
	assert_int_equal(m->rc, 1);
	assert_int_equal(lstat(link, &after), 0);
	assert_true(S_ISLNK(after.st_mode));
	assert_int_equal(stat(target, &after), 0);
	assert_int_equal(after.st_size, 0);
	unlink(log), unlink(link), unlink(target);
}

/* An --hlog that cannot be written is said before anything runs (nothing listens on the port). */
static void hlog_bad_path_first(void **state)
{
	struct run *m = test_alloc(sizeof(*m));

	(void)state;
	m->rc = run_prog(m->out, OUT_MAX, m->err, sizeof(m->err), muxload(), "--port", "1", "--hlog",
			 "/nonexistent-dir/x.hlog", NULL);
	if (m->rc != 1 || lines_in(m->err) != 1 || !strstr(m->err, "--hlog /nonexistent-dir/x.hlog"))
		fail_msg("exit %d, stderr: %s", m->rc, m->err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(codec_round_trip, test_teardown),
		cmocka_unit_test_teardown(java_reads_encoding, test_teardown),
		cmocka_unit_test_teardown(run_log_matches_report, test_teardown),
		cmocka_unit_test_teardown(merge_equals_union, test_teardown),
		cmocka_unit_test_teardown(merge_refuses_bad_logs, test_teardown),
		cmocka_unit_test_teardown(merge_order_and_tags, test_teardown),
		cmocka_unit_test_teardown(merge_grid_as_planned, test_teardown),
		cmocka_unit_test_teardown(merge_flags, test_teardown),
		cmocka_unit_test_teardown(hlog_bad_path_first, test_teardown),
	};

	return cmocka_run_group_tests_name("interval logs", tests, NULL, NULL);
}
