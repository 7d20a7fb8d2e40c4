/*
 * load_merge.c - muxload --merge: add the histograms of several interval
 * logs exactly, bucket by bucket, in total and interval by interval.
 * Percentiles of the sum are the percentiles of every sample together;
 * averaging each log's percentiles would not be (it understates the tail).
 *
 * The logs are read side by side in time order, so memory stays one
 * histogram per log however long they are. The merged intervals lie on a
 * grid from the earliest start, of --hlog-interval or else the interval the
 * logs were written with; each input interval joins the cell that holds its
 * middle.
 */
#include "load_merge.h"
#include "hlog.h"
#include "load.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define PROG "muxload"
/* The logs' times have milliseconds: a finer grid would mean nothing. */
#define MIN_CELL_S 0.001
/* An input interval may run late by this much of a cell (the writer's wake-up), not more. */
#define LONGER_THAN_CELL 1.5

/* Why the merge stopped: load_fail's one line (kept for --json), "--merge: " first. */
#define merge_fail(...) load_fail("--merge: " __VA_ARGS__)

struct source {
	struct hlog_reader r;
	struct hlog_interval iv;   /* the next untagged interval, when has_next */
	bool has_next;
	double epoch_s;            /* its start, seconds since the epoch */
};

/* Advance s to its next untagged interval. false after a line on stderr. */
static bool source_next(struct source *s, struct merge_report *m)
{
	int rc;

	while ((rc = hlog_next(&s->r, &s->iv)) == 1 && s->iv.tagged)
		m->tagged_skipped++;
	if (rc < 0) {
		merge_fail("%s", s->r.error);
		return false;
	}
	s->has_next = rc == 1;
	if (s->has_next)
		s->epoch_s = hlog_epoch_start(&s->r, &s->iv);
	return true;
}

/* Every source open, its first interval read, and the units agreeing. */
static bool sources_open(struct source *src, int n, char **paths, struct merge_report *m)
{
	for (int i = 0; i < n; i++) {
		src[i].iv.hist = malloc(sizeof(struct hist));
		if (!src[i].iv.hist) {
			merge_fail("out of memory");
			return false;
		}
		if (!hlog_open(&src[i].r, paths[i])) {
			merge_fail("%s: %s", paths[i], strerror(errno));
			return false;
		}
		if (!source_next(&src[i], m))
			return false;
		if (strcmp(src[i].r.unit, src[0].r.unit)) {
			merge_fail("%s states its values in '%s', %s in '%s': logs of "
				"different units are not added", paths[i], src[i].r.unit[0] ? src[i].r.unit :
				"(no #[ValueUnit])", paths[0], src[0].r.unit[0] ? src[0].r.unit : "(no #[ValueUnit])");
			return false;
		}
	}
	return true;
}

/* The grid cell holding an interval's middle: robust to the jitter of its start and to a coarser grid. */
static long cell_of(const struct merge_report *m, const struct source *s)
{
	return (long)floor((s->epoch_s + s->iv.length_s / 2 - m->start_epoch_s) / m->interval_s);
}

/* Two significant digits: a written length of 1.003 s was a planned 1 s. */
static double planned(double length_s)
{
	double unit = pow(10, floor(log10(length_s)) - 1);

	return round(length_s / unit) * unit;
}

/*
 * The grid: from the earliest start, cells of interval_s, or else the
 * IntervalLength the first log states, or else its first interval's length
 * as planned. false when no log has an interval.
 */
static bool grid_plan(struct source *src, int n, double interval_s, struct merge_report *m)
{
	bool any = false;

	for (int i = 0; i < n; i++) {
		if (!src[i].has_next)
			continue;
		if (!any || src[i].epoch_s < m->start_epoch_s)
			m->start_epoch_s = src[i].epoch_s;
		if (interval_s <= 0 && !isnan(src[i].r.interval_s))
			interval_s = src[i].r.interval_s;
		else if (interval_s <= 0 && src[i].iv.length_s >= MIN_CELL_S)
			interval_s = planned(src[i].iv.length_s);
		any = true;
	}
	m->interval_s = interval_s > 0 ? interval_s : 1;
	return any;
}

/* Take every interval of cell c from every source into cell; false after a line. */
static bool cell_gather(struct source *src, int n, long c, struct hist *cell, double *end_s,
			struct merge_report *m)
{
	for (int i = 0; i < n; i++) {
		struct source *s = &src[i];

		while (s->has_next && cell_of(m, s) <= c) {
			/* A cell shorter than its data would read as a higher rate, half of them empty. */
			if (s->iv.length_s > LONGER_THAN_CELL * m->interval_s) {
				merge_fail("%s:%ld: an interval of %.3f s, longer than the merged "
					"grid's %g s: choose a longer --hlog-interval", s->r.path, s->r.line,
					s->iv.length_s, m->interval_s);
				return false;
			}
			/* Cells are taken in order: one before c means the log went back in time. */
			if (cell_of(m, s) < c) {
				merge_fail("%s:%ld: an interval earlier than the one before "
					"it: the log is not in time order", s->r.path, s->r.line);
				return false;
			}
			hist_merge(cell, s->iv.hist);
			*end_s = fmax(*end_s, s->epoch_s + s->iv.length_s);
			m->intervals_read++;
			if (!source_next(s, m))
				return false;
		}
	}
	return true;
}

/* The earliest cell any source still has, or -1 when all are done. */
static long cell_next(const struct source *src, int n, const struct merge_report *m)
{
	long c = -1;

	for (int i = 0; i < n; i++)
		if (src[i].has_next && (c < 0 || cell_of(m, &src[i]) < c))
			c = cell_of(m, &src[i]);
	return c;
}

/* One merged cell: its time on the grid, its length up to the end of the data in it. */
static bool cell_write(FILE *out, const struct merge_report *m, long c, double cell_end_s, const struct hist *cell)
{
	double from = (double)c * m->interval_s;
	double length = fmin(fmax(cell_end_s - m->start_epoch_s - from, 0), m->interval_s);

	return hlog_write_interval(out, from, length, cell) == 0;
}

static bool merge_cells(struct source *src, int n, FILE *out, struct hist *total, struct merge_report *m)
{
	struct hist *cell = malloc(sizeof(*cell));
	double end_s = m->start_epoch_s;
	bool ok = cell != NULL;
	long c;

	if (out && ok) {
		hlog_write_header(out, m->start_epoch_s, m->interval_s, "muxload --merge: the sum of several logs, "
				  "values in microseconds, Interval_Max in milliseconds");
		m->log_begun = true;
	}
	while (ok && (c = cell_next(src, n, m)) >= 0) {
		double cell_end_s = m->start_epoch_s;

		hist_init(cell);
		ok = cell_gather(src, n, c, cell, &cell_end_s, m);
		if (ok && total->total + cell->total > HLOG_MAX_TOTAL) {
			merge_fail("more than 2^53 samples in all");
			ok = false;
		}
		if (ok && out && !cell_write(out, m, c, cell_end_s, cell))
			ok = false;
		hist_merge(total, cell);
		end_s = fmax(end_s, cell_end_s);
		m->cells++;
	}
	if (ok && out && (fflush(out) || ferror(out))) {
		merge_fail("the merged log could not be written");
		ok = false;
	}
	m->span_s = end_s - m->start_epoch_s;
	free(cell);
	return ok;
}

int load_merge(char **paths, int n, double interval_s, FILE *out, struct hist *total, struct merge_report *m)
{
	struct source *src = calloc((size_t)n, sizeof(*src));
	bool ok;

	memset(m, 0, sizeof(*m));
	hist_init(total);
	if (!src)
		merge_fail("out of memory");
	ok = src && sources_open(src, n, paths, m);
	if (ok && !grid_plan(src, n, interval_s, m)) {
		merge_fail("no untagged interval in any of the logs (%ld Tag= intervals "
			"skipped)", m->tagged_skipped);
		ok = false;
	}
	if (ok)
		ok = merge_cells(src, n, out, total, m);
	for (int i = 0; src && i < n; i++) {
		hlog_close(&src[i].r);
		free(src[i].iv.hist);
	}
	free(src);
	return ok ? 0 : -1;
}
