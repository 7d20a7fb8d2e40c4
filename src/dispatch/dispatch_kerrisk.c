/*
 * dispatch_kerrisk.c - muxdispatch --kerrisk: Kerrisk's poll/select/epoll
 * table, his figures beside ours. Our columns come from the driver list,
 * and so from the backend registry: a backend added there gets its column
 * with no edit here.
 */
#include "muxdispatch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Kerrisk, LCA 2006 (and TLPI table 63-9): seconds for 100 000 operations, in his column order. */
/* His ratios are each mechanism's time over the reference's, epoll, which comes last. */
enum { HIS_MECHS = 3, HIS_REF = HIS_MECHS - 1, RATIOS = HIS_MECHS - 1 };
static const char *const his_mechanisms[HIS_MECHS] = { "poll", "select", "epoll" };
static const struct { int fds; double s[HIS_MECHS]; } kerrisk_2006[] = {
	{ 10, { 1.12, 1.28, 0.65 } }, { 100, { 6.8, 7.1, 0.68 } }, { 1000, { 157, 151, 0.89 } },
	{ 10000, { 1750, 1087, 0.97 } },
};

/* His figure for (fds, his column k), NAN where he has none. */
static double his_figure(long fds, int k)
{
	for (size_t i = 0; i < sizeof(kerrisk_2006) / sizeof(kerrisk_2006[0]); i++)
		if (kerrisk_2006[i].fds == fds)
			return kerrisk_2006[i].s[k];
	return NAN;
}

/* His column for a mechanism; HIS_MECHS when he did not measure it. */
static int his_column(const char *mechanism)
{
	int k = 0;

	while (k < HIS_MECHS && strcmp(his_mechanisms[k], mechanism) != 0)
		k++;
	return k;
}

/* Our side of the table: a column per backend of ours, derived from the driver list. */
struct our_columns {
	int n;
	const struct dispatch_driver *d[DISPATCH_MAX_DRIVERS];
	int width[DISPATCH_MAX_DRIVERS];
	const struct dispatch_driver *first[HIS_MECHS];	/* ours first on each of his mechanisms: the ratios */
};

/*
 * Ours under his columns: by his column order (poll, select, epoll), then
 * registry order; mechanisms he did not measure last. A column is 8 wide or
 * its name's length, the reference one 7: the layout the table has always had.
 */
static void our_columns(struct our_columns *c)
{
	memset(c, 0, sizeof(*c));
	for (int k = 0; k <= HIS_MECHS; k++)
		for (int i = 0; i < drivers.n; i++) {
			const struct dispatch_driver *d = &drivers.d[i];
			int len = (int)strlen(d->name);

			if (d->lib != &dispatch_muxlab || his_column(d->mechanism) != k)
				continue;
			if (k < HIS_MECHS && !c->first[k])
				c->first[k] = d;
			c->width[c->n] = len > 8 ? len : d == c->first[HIS_REF] ? 7 : 8;
			c->d[c->n++] = d;
		}
}

/* Our median for driver d, NAN when it was not measured. */
static double our_seconds(const struct options *o, const struct cell *row, const struct dispatch_driver *d)
{
	double m[3];

	for (int i = 0; d && i < o->ndrivers; i++)
		if (o->drivers[i] == d && row[i].outcome == DISPATCH_OK) {
			spread(o, &row[i], m);
			return m[0];
		}
	return NAN;
}

/* One line of the table as text, so that the column heads and the figures share one layout. */
#define CELL sizeof(drivers.d[0].name)

struct kerrisk_line {
	char fds[CELL], his[HIS_MECHS][CELL], his_ratio[RATIOS][CELL];
	char ours[DISPATCH_MAX_DRIVERS][CELL], our_ratio[RATIOS][CELL];
};

static void kerrisk_print(const struct our_columns *c, const struct kerrisk_line *l)
{
	static const int his_width[HIS_MECHS] = { 8, 8, 6 };

	printf("  %6s |", l->fds);
	for (int k = 0; k < HIS_MECHS; k++)
		printf(" %*s", his_width[k], l->his[k]);
	printf(" | %6s %6s |", l->his_ratio[0], l->his_ratio[1]);
	for (int j = 0; j < c->n; j++)
		printf(" %*s", c->width[j], l->ours[j]);
	printf(" | %7s %7s\n", l->our_ratio[0], l->our_ratio[1]);
}

static void kerrisk_heads(const struct options *o, const struct our_columns *c)
{
	static const char *const ratio[RATIOS] = { "poll/e", "sel/e" };
	struct kerrisk_line l = { .fds = "fds" };
	int ours = 0;

	for (int k = 0; k < HIS_MECHS; k++)
		snprintf(l.his[k], CELL, "%s", his_mechanisms[k]);
	for (int k = 0; k < RATIOS; k++) {
		snprintf(l.his_ratio[k], CELL, "%s", ratio[k]);
		snprintf(l.our_ratio[k], CELL, "%s", ratio[k]);
	}
	for (int j = 0; j < c->n; j++) {
		snprintf(l.ours[j], CELL, "%s", c->d[j]->name);
		ours += c->width[j] + 1;
	}
	printf("Kerrisk's measurement (LCA 2006; TLPI table 63-9): %ld monitoring operations, one randomly\n"
	       "chosen fd ready each time; seconds (ours: median of %ld runs, each op = write + wait + read,\n"
	       "sources: %s)\n\n  %6s | %-24s | %-13s | %-*s | %-15s\n", o->ops, o->repeat, source_name(o), "",
	       "Kerrisk 2006", "his ratios", ours, "muxlab, this machine", "our ratios");
	kerrisk_print(c, &l);
}

static void kerrisk_figures(const struct options *o, const struct our_columns *c, long fds, const struct cell *row)
{
	struct kerrisk_line l;
	double ref = our_seconds(o, row, c->first[HIS_REF]);

	snprintf(l.fds, CELL, "%ld", fds);
	for (int k = 0; k < HIS_MECHS; k++)
		fig(l.his[k], CELL, his_figure(fds, k), 2);
	for (int k = 0; k < RATIOS; k++) {
		fig(l.his_ratio[k], CELL, his_figure(fds, k) / his_figure(fds, HIS_REF), 1);
		fig(l.our_ratio[k], CELL, our_seconds(o, row, c->first[k]) / ref, 1);
	}
	for (int j = 0; j < c->n; j++)
		fig(l.ours[j], CELL, our_seconds(o, row, c->d[j]), 3);
	kerrisk_print(c, &l);
}

/* Every driver at one size: the CSV rows, and false when one failed (said on stderr). */
static bool kerrisk_cells(const struct options *o, long fds, struct cell *row, FILE *csv)
{
	bool ok = true;

	for (int i = 0; i < o->ndrivers; i++) {
		double m[3];

		run_cell(o, o->drivers[i], fds, &row[i]);
		if (row[i].outcome != DISPATCH_OK) {
			fprintf(stderr, PROG ": %s at %ld fds: %s\n", o->drivers[i]->name, fds, outcome_text(&row[i]));
			ok = false;
			continue;
		}
		spread(o, &row[i], m);
		if (csv)
			fprintf(csv, "%s,%ld,%ld,%.6f\n", o->drivers[i]->name, fds, o->ops, m[0]);
	}
	return ok;
}

int run_kerrisk(const struct options *o)
{
	FILE *csv = open_out(o->csv);
	struct cell *row = calloc((size_t)o->ndrivers, sizeof(*row));
	struct our_columns c;
	int rc = 0;

	if ((o->csv && !csv) || !row) {
		close_out(csv);
		free(row);
		return 1;
	}
	say_source(o);
	our_columns(&c);
	if (csv)
		fprintf(csv, "backend,fds,ops,seconds\n");
	kerrisk_heads(o, &c);
	for (int f = 0; f < o->nfds; f++) {
		if (!kerrisk_cells(o, o->fds[f], row, csv))
			rc = 1;
		kerrisk_figures(o, &c, o->fds[f], row);
		fflush(NULL);
	}
	for (size_t i = 0; csv && i < sizeof(kerrisk_2006) / sizeof(kerrisk_2006[0]); i++)
		for (int k = 0; k < HIS_MECHS; k++)
			fprintf(csv, "kerrisk2006-%s,%d,100000,%g\n", his_mechanisms[k], kerrisk_2006[i].fds,
				kerrisk_2006[i].s[k]);
	close_out(csv);
	free(row);
	return rc;
}
