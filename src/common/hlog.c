/* hlog.c - HdrHistogram's interval log as text: written as its tools write it, read strictly. */
#include "hlog.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LEGEND "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
#define FORMAT_VERSION "1.3"
/* HdrHistogram's reader takes timestamps more than a year before StartTime as relative. */
#define RELATIVE_BEFORE_S (365 * 24 * 3600.0)

void hlog_write_header(FILE *out, double start_epoch_s, const char *comment)
{
	time_t t = (time_t)start_epoch_s;
	char when[64];

	strftime(when, sizeof(when), "%a %b %d %H:%M:%S %Z %Y", localtime(&t));
	fprintf(out, "#[%s]\n", comment);
	fprintf(out, "#[ValueUnit: %s]\n", HLOG_UNIT);
	fprintf(out, "#[Histogram log format version %s]\n", FORMAT_VERSION);
	fprintf(out, "#[StartTime: %.3f (seconds since epoch), %s]\n", start_epoch_s, when);
	fprintf(out, "#[BaseTime: %.3f (seconds since epoch)]\n", start_epoch_s);
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

/* A '#' line: the times and the unit are kept, other comments ignored. */
static void read_comment(struct hlog_reader *r, const char *s)
{
	if (!strncmp(s, "#[StartTime: ", 13))
		r->start_epoch_s = strtod(s + 13, NULL);
	else if (!strncmp(s, "#[BaseTime: ", 12))
		r->base_epoch_s = strtod(s + 12, NULL);
	else if (!strncmp(s, "#[ValueUnit: ", 13))
		sscanf(s + 13, "%15[^]]", r->unit);
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

	iv->tag[0] = '\0';
	if (!strncmp(s, "Tag=", 4)) {
		size_t n = strcspn(s + 4, ",");

		if (s[4 + n] != ',' || n >= sizeof(iv->tag))
			return "a Tag= without its fields";
		memcpy(iv->tag, s + 4, n);
		iv->tag[n] = '\0';
		s += 4 + n + 1;
	}
	if (!(s = number_field(s, &iv->start_s)) || !(s = number_field(s, &iv->length_s)) ||
	    !(s = number_field(s, &max)))
		return "expected start,length,max,histogram";
	if (iv->length_s < 0 || max < 0)
		return "a negative interval length or max";
	why = hist_decode(s, strlen(s), iv->hist);
	if (!why)
		refine_max(iv->hist, max);
	return why;
}

/* Strip the line end; false for a line with nothing on it. */
static bool chomp(char *s, ssize_t n)
{
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return n > 0;
}

int hlog_next(struct hlog_reader *r, struct hlog_interval *iv, const char *prog)
{
	ssize_t n;

	while ((n = getline(&r->buf, &r->cap, r->in)) >= 0) {
		const char *why;

		r->line++;
		if (strlen(r->buf) != (size_t)n) {
			why = "a NUL byte in the line";
		} else if (!chomp(r->buf, n) || !strncmp(r->buf, LEGEND, 16)) {
			continue;
		} else if (r->buf[0] == '#') {
			read_comment(r, r->buf);
			continue;
		} else {
			why = parse_interval(r->buf, iv);
		}
		if (!why)
			return 1;
		fprintf(stderr, "%s: %s:%ld: %s\n", prog, r->path, r->line, why);
		return -1;
	}
	if (ferror(r->in)) {
		fprintf(stderr, "%s: %s:%ld: read error\n", prog, r->path, r->line + 1);
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
