/*
 * dispatch_report.c - muxdispatch's sweep and what it writes: the table of
 * microseconds per event on stdout, a CSV row per run (--csv) and per cell
 * (--medians); and the pieces of text the Kerrisk table shares with it.
 */
#include "muxdispatch.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *source_name(const struct options *o)
{
	return o->source == SOURCE_EVENTFD ? "eventfd" : "socketpair";
}

/* Close what open_out opened (NULL and stdout are left alone). */
void close_out(FILE *f)
{
	if (f && f != stdout)
		fclose(f);
}

FILE *open_out(const char *path)
{
	FILE *f;

	if (!path)
		return NULL;
	if (strcmp(path, "-") == 0)
		return stdout;
	f = fopen(path, "w");
	if (!f)
		fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
	return f;
}

/* A figure, or "-" when there is none. */
const char *fig(char *buf, size_t len, double v, int decimals)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f", decimals, v);
	return buf;
}

const char *outcome_text(const struct cell *c)
{
	static char buf[192];

	if (c->outcome == DISPATCH_OK)
		return "ok";
	snprintf(buf, sizeof(buf), "%s: %s", c->outcome == DISPATCH_NA ? "n/a" : "FAILED", c->why);
	/* It goes into a CSV column that scripts split on commas: none in it. */
	for (char *p = buf; (p = strpbrk(p, ",\n\"")); p++)
		*p = *p == ',' ? ';' : ' ';
	return buf;
}

/* The same mechanism in `library`, when it was measured: its median. */
static bool peer_median(const struct options *o, struct cell *row, int self, const char *library, double *out)
{
	double m[3];

	for (int i = 0; i < o->ndrivers; i++)
		if (strcmp(o->drivers[i]->lib->name, library) == 0 &&
		    strcmp(o->drivers[i]->mechanism, o->drivers[self]->mechanism) == 0 &&
		    row[i].outcome == DISPATCH_OK) {
			spread(o, &row[i], m);
			*out = m[0];
			return true;
		}
	return false;
}

static void per_run_rows(FILE *f, const struct options *o, const struct dispatch_driver *d, long fds,
			 const struct cell *c)
{
	long active = o->active < fds ? o->active : fds;

	if (c->outcome != DISPATCH_OK) {
		fprintf(f, "%s,%ld,%ld,%ld,0,n/a,%s,%s,0,0,n/a,%s,%s\n", d->name, fds, active, o->writes,
			d->lib->name, d->mechanism, source_name(o), outcome_text(c));
		return;
	}
	for (int r = 0; r < c->reps; r++) {
		const struct dispatch_sample *s = &c->s[r];

		fprintf(f, "%s,%ld,%ld,%ld,%d,%.4f,%s,%s,%llu,%llu,", d->name, fds, active, o->writes, r + 1,
			us_per_event(s), d->lib->name, d->mechanism, (unsigned long long)s->events,
			(unsigned long long)s->waits);
		if (s->waits && s->scanned)
			fprintf(f, "%.1f,", (double)s->scanned / (double)s->waits);
		else
			fprintf(f, "n/a,");
		fprintf(f, "%s,ok\n", source_name(o));
	}
}

/* One backend's line of the table, and its medians row. */
static void report_driver(const struct options *o, long fds, struct cell *row, int i, FILE *medians)
{
	long active = o->active < fds ? o->active : fds;
	const struct dispatch_driver *d = o->drivers[i];
	const struct dispatch_sample *s = &row[i].s[0];
	double m[3], peer, r_event = NAN, r_ev = NAN, scanned = NAN;
	char b[3][24];

	if (row[i].outcome != DISPATCH_OK) {
		printf("  %-16s %s\n", d->name, outcome_text(&row[i]));
		if (medians)
			fprintf(medians, "%s,%s,%s,%ld,%ld,%ld,0,n/a,n/a,n/a,n/a,n/a,n/a,%s,%s\n", d->name,
				d->lib->name, d->mechanism, fds, active, o->writes, source_name(o),
				outcome_text(&row[i]));
		return;
	}
	spread(o, &row[i], m);
	if (d->lib == &dispatch_muxlab) {
		if (peer_median(o, row, i, "libevent", &peer))
			r_event = m[0] / peer;
		if (peer_median(o, row, i, "libev", &peer))
			r_ev = m[0] / peer;
	}
	if (s->waits && s->scanned)
		scanned = (double)s->scanned / (double)s->waits;
	printf("  %-16s %9.4f %9.4f %9.4f %12s %12s %9s\n", d->name, m[0], m[1], m[2],
	       fig(b[0], 24, scanned, 1), fig(b[1], 24, r_event, 2), fig(b[2], 24, r_ev, 2));
	if (medians)
		fprintf(medians, "%s,%s,%s,%ld,%ld,%ld,%d,%.4f,%.4f,%.4f,%s,%s,%s,%s,ok\n", d->name,
			d->lib->name, d->mechanism, fds, active, o->writes, row[i].reps, m[0], m[1], m[2],
			fig(b[0], 24, scanned, 1), fig(b[1], 24, r_event, 3), fig(b[2], 24, r_ev, 3),
			source_name(o));
}

/* One fds value: the human table, and the medians rows. */
static void report_row(const struct options *o, long fds, struct cell *row, FILE *medians)
{
	long active = o->active < fds ? o->active : fds;

	printf("\nfds=%ld active=%ld writes=%ld source=%s, %ld runs: microseconds per event\n", fds, active,
	       o->writes, source_name(o), o->repeat);
	printf("  %-16s %9s %9s %9s %12s %12s %9s\n", "backend", "median", "min", "max", "scanned/wait",
	       "vs libevent", "vs libev");
	for (int i = 0; i < o->ndrivers; i++)
		report_driver(o, fds, row, i, medians);
}

int run_sweep(const struct options *o)
{
	FILE *csv = open_out(o->csv), *medians = open_out(o->medians);
	struct cell *row = calloc((size_t)o->ndrivers, sizeof(*row));
	int rc = 0;

	if ((o->csv && !csv) || (o->medians && !medians) || !row) {
		rc = 1;	/* open_out said which file; what did open is closed below */
		goto done;
	}
	say_source(o);
	if (csv)
		fprintf(csv, "backend,fds,active,writes,rep,us_per_event,library,mechanism,events,waits,"
			"scanned_per_wait,source,status\n");
	if (medians)
		fprintf(medians, "backend,library,mechanism,fds,active,writes,reps,us_per_event_median,"
			"us_per_event_min,us_per_event_max,scanned_per_wait,ratio_vs_libevent,ratio_vs_libev,source,status\n");
	for (int f = 0; f < o->nfds; f++) {
		run_interleaved(o, o->fds[f], row);
		for (int i = 0; i < o->ndrivers; i++) {
			if (csv)
				per_run_rows(csv, o, o->drivers[i], o->fds[f], &row[i]);
			/* Ours must always work; a peer may be n/a, but never wrong. */
			if (row[i].outcome == DISPATCH_BROKEN ||
			    (row[i].outcome != DISPATCH_OK && o->drivers[i]->lib == &dispatch_muxlab))
				rc = 1;
		}
		report_row(o, o->fds[f], row, medians);
		fflush(NULL);
	}
done:
	close_out(csv);
	close_out(medians);
	free(row);
	return rc;
}
