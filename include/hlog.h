/*
 * hlog.h - HdrHistogram's interval log, so that HdrHistogram's own tools
 * (HistogramLogProcessor, HdrHistogram_c, HdrHistogram.js ...) read what
 * muxload writes, and muxload merges logs exactly.
 *
 * A histogram travels as HdrHistogram's V2 encoding: a 40-byte big-endian
 * header (cookie, payload length, normalizing offset, significant digits,
 * lowest discernible and highest trackable value, integer-to-double ratio)
 * and the counts as ZigZag LEB128 numbers, a negative one standing for a run
 * of empty buckets; that, deflated by zlib behind an 8-byte header, in base64.
 *
 * The log is text: '#' comment lines (among them #[StartTime: ...] and
 * #[BaseTime: ...], seconds since the epoch), one legend line, then one line
 * per interval: [Tag=T,]start,length,max,histogram - start relative to the
 * base time, start and length in seconds, max divided by HLOG_MAX_RATIO.
 * Our own header adds #[ValueUnit: us]: the log format itself has no unit,
 * and logs of different units must not be merged.
 */
#ifndef HLOG_H
#define HLOG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "hist.h"

#define HLOG_UNIT "us"              /* what muxload records: microseconds */
#define HLOG_MAX_RATIO 1000.0       /* Interval_Max in milliseconds, as HdrHistogram's tools write it */
/* Beyond 2^53 samples a double no longer counts them one by one (ranks, rates): refused. */
#define HLOG_MAX_TOTAL (1ULL << 53)

/* h's compressed V2 encoding in base64, NUL-terminated and malloc'd; NULL when out of memory. */
char *hist_encode(const struct hist *h);
/*
 * Decode one base64 histogram into h (initialised here). NULL on success,
 * otherwise why it was refused: not base64, not a V2 compressed histogram,
 * a precision other than muxload's (3 significant digits from 1), values
 * beyond the last bucket, more than 2^53 samples. min is the lowest value of the first bucket used and
 * max the top of the last (the line's Interval_Max may refine it); the mean
 * counts each bucket at its middle, as HdrHistogram does.
 */
const char *hist_decode(const char *b64, size_t len, struct hist *h);
/* The base64 of hist_encode, exposed for tests that forge encodings: malloc'd text; bytes or -1. */
char *base64_encode(const uint8_t *in, size_t n);
long base64_decode(const char *in, size_t len, uint8_t *out);

/*
 * Header: our comment and unit, the intervals' planned length (their actual
 * lengths carry the writer's wake-up lateness), the format version, start and
 * base time, the legend. What the file held before is dropped (hlog_restart).
 */
void hlog_write_header(FILE *out, double start_epoch_s, double interval_s, const char *comment);
/* Empty the file behind out and write from its start (outputs are opened without truncating). */
void hlog_restart(FILE *out);
/* One interval line; start relative to the header's base time. Returns -1 when out of memory. */
int hlog_write_interval(FILE *out, double start_s, double length_s, const struct hist *h);

/* A log being read, line by line. */
struct hlog_reader {
	FILE *in;
	const char *path;
	long line;                  /* number of the line just read */
	double start_epoch_s;       /* #[StartTime: ], or NAN before it */
	double base_epoch_s;        /* #[BaseTime: ], or NAN before it */
	char unit[16];              /* #[ValueUnit: ], or "" when the log states none */
	double interval_s;          /* #[IntervalLength: ], or NAN */
	char error[512];            /* "PATH:LINE: why", when hlog_next refused a line */
	char *buf;
	size_t cap;
};

struct hlog_interval {
	bool tagged;                /* a Tag= line (HdrHistogram's readers tell "Tag=" from none) */
	double start_s, length_s;   /* start as written: relative to the base time */
	struct hist *hist;          /* the caller's, filled by hlog_next */
};

bool hlog_open(struct hlog_reader *r, const char *path);
/*
 * The next interval line. 1: read into iv; 0: end of the log; -1: the line
 * is refused, r->error says "PATH:LINE: why".
 */
int hlog_next(struct hlog_reader *r, struct hlog_interval *iv);
void hlog_close(struct hlog_reader *r);
/* iv's start in seconds since the epoch, by the base time as HdrHistogram's reader finds it. */
double hlog_epoch_start(const struct hlog_reader *r, const struct hlog_interval *iv);

#endif
