/* hlog.c - HdrHistogram's interval log as text: written as its tools write it, read strictly. */
#include "hlog.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LEGEND_START "\"StartTimestamp\""
#define LEGEND LEGEND_START ",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
#define FORMAT_VERSION "1.3"
#define START_TIME "#[StartTime: "
#define BASE_TIME "#[BaseTime: "
#define VALUE_UNIT "#[ValueUnit: "
#define INTERVAL_LENGTH "#[IntervalLength: "
#define TAG "Tag="
#define STARTS_WITH(s, prefix) (strncmp((s), prefix, sizeof(prefix) - 1) == 0)
/* HdrHistogram's reader takes timestamps more than a year before StartTime as relative. */
#define RELATIVE_BEFORE_S (365 * 24 * 3600.0)
/* Times past this (year 5138) are not times: refused, so that no arithmetic on them overflows. */
#define LATEST_S 1e11
#define LONGEST_INTERVAL_S 1e7

void hlog_restart(FILE *out)
{
	/* Not a regular file (a pipe, /dev/stdout): nothing to empty, and ftruncate says so harmlessly. */
	if (fflush(out) == 0 && ftruncate(fileno(out), 0) == 0)
		rewind(out);
}

void hlog_write_header(FILE *out, double start_epoch_s, double interval_s, const char *comment)
{
	time_t t = (time_t)fmin(fmax(start_epoch_s, 0), LATEST_S);
	struct tm tm;
	char when[64] = "";

	hlog_restart(out);
	if (localtime_r(&t, &tm))
		strftime(when, sizeof(when), ", %a %b %d %H:%M:%S %Z %Y", &tm);
	fprintf(out, "#[%s]\n", comment);
	fprintf(out, VALUE_UNIT "%s]\n", HLOG_UNIT);
	fprintf(out, INTERVAL_LENGTH "%.3f s, as planned]\n", interval_s);
	fprintf(out, "#[Histogram log format version %s]\n", FORMAT_VERSION);
	fprintf(out, START_TIME "%.3f (seconds since epoch)%s]\n", start_epoch_s, when);
	fprintf(out, BASE_TIME "%.3f (seconds since epoch)]\n", start_epoch_s);
	fprintf(out, "%s\n", LEGEND);
}

int hlog_write_interval(FILE *out, double start_s, double length_s, const struct hist *h)
{
	char *b64 = hist_encode(h);

	if (!b64)
		return -1;
	fprintf(out, "%.3f,%.3f,%.3f,%s\n", start_s, length_s,
		(double)(h->total ? h->max : 0) / HLOG_MAX_RATIO, b64);
	free(b64);
	return 0;
}

bool hlog_open(struct hlog_reader *r, const char *path)
{
	memset(r, 0, sizeof(*r));
	r->path = path;
	r->start_epoch_s = NAN;
	r->base_epoch_s = NAN;
	r->interval_s = NAN;
	r->in = fopen(path, "r");
	return r->in != NULL;
}

void hlog_close(struct hlog_reader *r)
{
	if (r->in)
		fclose(r->in);
	free(r->buf);
	r->in = NULL;
	r->buf = NULL;
}

/* Seconds since the epoch at s; false unless a number from 0 to LATEST_S. */
static bool epoch_at(const char *s, double *v)
{
	char *end;

	*v = strtod(s, &end);
	return end != s && *v >= 0 && *v <= LATEST_S;
}

/* A '#' line: the times and the unit are kept, other comments ignored. NULL or why refused. */
static const char *read_comment(struct hlog_reader *r, const char *s)
{
	if (STARTS_WITH(s, START_TIME) && !epoch_at(s + sizeof(START_TIME) - 1, &r->start_epoch_s))
		return "a StartTime that is not seconds since the epoch";
	if (STARTS_WITH(s, BASE_TIME) && !epoch_at(s + sizeof(BASE_TIME) - 1, &r->base_epoch_s))
		return "a BaseTime that is not seconds since the epoch";
	if (STARTS_WITH(s, VALUE_UNIT))
		sscanf(s + sizeof(VALUE_UNIT) - 1, "%15[^]]", r->unit);
	if (STARTS_WITH(s, INTERVAL_LENGTH)) {
		char *end;

		r->interval_s = strtod(s + sizeof(INTERVAL_LENGTH) - 1, &end);
		if (end == s + sizeof(INTERVAL_LENGTH) - 1 || !(r->interval_s > 0 && r->interval_s <= LONGEST_INTERVAL_S))
			return "an IntervalLength that is not a length in seconds";
	}
	return NULL;
}

/* A number followed by a comma; NULL when there is none. */
static char *number_field(char *s, double *v)
{
	char *end;

	*v = strtod(s, &end);
	return end != s && *end == ',' && isfinite(*v) ? end + 1 : NULL;
}

/* The decoded max is its bucket's top; the line's Interval_Max narrows it when it agrees. */
static void refine_max(struct hist *h, double max_field)
{
	double exact = round(max_field * HLOG_MAX_RATIO);

	if (h->total && exact >= 1 && exact <= (double)HIST_HIGHEST &&
	    hist_index((int64_t)exact) == hist_index(h->max))
		h->max = (int64_t)exact;
}

/* One interval line into iv; NULL or why it is refused. */
static const char *parse_interval(char *s, struct hlog_interval *iv)
{
	double max;
	const char *why;

	/* Which tag does not matter: only untagged intervals are added, tagged ones counted. */
	iv->tagged = STARTS_WITH(s, TAG);
	if (iv->tagged) {
		s += sizeof(TAG) - 1;
		s += strcspn(s, ",");
		if (*s++ != ',')
			return "a Tag= without its fields";
	}
	if (!(s = number_field(s, &iv->start_s)) || !(s = number_field(s, &iv->length_s)) ||
	    !(s = number_field(s, &max)))
		return "expected start,length,max,histogram";
	if (fabs(iv->start_s) > LATEST_S || iv->length_s < 0 || iv->length_s > LONGEST_INTERVAL_S || max < 0)
		return "an interval start, length or max out of range";
	why = hist_decode(s, strlen(s), iv->hist);
	if (!why)
		refine_max(iv->hist, max);
	return why;
}

/* Strip the line end and trailing blanks (HdrHistogram's reader skips them); false for a blank line. */
static bool chomp(char *s, ssize_t n)
{
	while (n > 0 && strchr(" \t\r\n", s[n - 1]))
		s[--n] = '\0';
	return n > 0;
}

int hlog_next(struct hlog_reader *r, struct hlog_interval *iv)
{
	ssize_t n;

	while ((n = getline(&r->buf, &r->cap, r->in)) >= 0) {
		const char *why;

		r->line++;
		if (strlen(r->buf) != (size_t)n) {
			why = "a NUL byte in the line";
		} else if (!chomp(r->buf, n) || STARTS_WITH(r->buf, LEGEND_START)) {
			continue;
		} else if (r->buf[0] == '#') {
			why = read_comment(r, r->buf);
			if (!why)
				continue;
		} else {
			why = parse_interval(r->buf, iv);
		}
		if (!why)
			return 1;
		snprintf(r->error, sizeof(r->error), "%s:%ld: %s", r->path, r->line, why);
		return -1;
	}
	if (ferror(r->in)) {
		snprintf(r->error, sizeof(r->error), "%s:%ld: %s", r->path, r->line + 1, strerror(errno));
		return -1;
	}
	return 0;
}

double hlog_epoch_start(const struct hlog_reader *r, const struct hlog_interval *iv)
{
	double start = isnan(r->start_epoch_s) ? 0 : r->start_epoch_s, base = r->base_epoch_s;

	if (isnan(base))
		base = iv->start_s < start - RELATIVE_BEFORE_S ? start : 0;
	return base + iv->start_s;
}
