/*
 * hist_codec.c - a histogram to and from HdrHistogram's V2 compressed
 * encoding in base64 (the layout is described in hlog.h). Our bucket layout
 * is HdrHistogram's for 3 significant digits from 1, so bucket index i here
 * is counts index i there and no translation is needed.
 */
#include "hlog.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* The cookie's low nibble of its second byte says "LEB128 words"; the base ignores it. */
#define V2_COOKIE 0x1c849313
#define V2_COMPRESSED_COOKIE 0x1c849314
#define COOKIE_BASE(c) ((uint32_t)(c) & ~0xf0u)
#define HEADER_BYTES 40
#define LEB128_MAX 9                      /* a 64-bit ZigZag value in at most 9 bytes */
#define PRECISION_DIGITS 3
#define MAX_PAYLOAD (HEADER_BYTES + (size_t)HIST_COUNTS * LEB128_MAX)

static const char b64_digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static uint8_t *put_be(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		*p++ = (uint8_t)(v >> (8 * i));
	return p;
}

static uint64_t get_be(const uint8_t *p, int bytes)
{
	uint64_t v = 0;

	for (int i = 0; i < bytes; i++)
		v = v << 8 | p[i];
	return v;
}

static uint8_t *put_zigzag(uint8_t *p, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);

	/* Seven bits a byte with a continuation bit; the ninth byte carries eight. */
	for (int i = 0; i < LEB128_MAX - 1 && z >= 0x80; i++, z >>= 7)
		*p++ = (uint8_t)(z | 0x80);
	*p++ = (uint8_t)z;
	return p;
}

/* The next ZigZag value from [*p, end); false when it runs past end. */
static bool get_zigzag(const uint8_t **p, const uint8_t *end, int64_t *v)
{
	uint64_t z = 0;

	for (int i = 0; i < LEB128_MAX; i++) {
		uint8_t b;

		if (*p >= end)
			return false;
		b = *(*p)++;
		if (i == LEB128_MAX - 1) {
			z |= (uint64_t)b << 56;
			break;
		}
		z |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			break;
	}
	*v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
	return true;
}

/* The uncompressed V2 form: header, then counts up to max's bucket, runs of empties as -n. */
static size_t encode_v2(const struct hist *h, uint8_t *out)
{
	int limit = hist_index(h->total ? h->max : 0) + 1;
	uint8_t *p = out + HEADER_BYTES;
	double one = 1.0;
	uint64_t ratio_bits;
	size_t n;

	for (int i = 0; i < limit;) {
		int zeros = 0;

		while (i + zeros < limit && !h->counts[i + zeros])
			zeros++;
		if (zeros > 1) {
			p = put_zigzag(p, -(int64_t)zeros);
			i += zeros;
		} else {
			p = put_zigzag(p, (int64_t)h->counts[i++]);
		}
	}
	memcpy(&ratio_bits, &one, sizeof(one));
	n = (size_t)(p - out);
	p = put_be(out, V2_COOKIE, 4);
	p = put_be(p, n - HEADER_BYTES, 4);           /* payload length */
	p = put_be(p, 0, 4);                          /* normalizing index offset: none */
	p = put_be(p, PRECISION_DIGITS, 4);
	p = put_be(p, 1, 8);                          /* lowest discernible value */
	p = put_be(p, HIST_HIGHEST, 8);               /* highest trackable value */
	put_be(p, ratio_bits, 8);                     /* integer to double ratio: 1.0 */
	return n;
}

char *base64_encode(const uint8_t *in, size_t n)
{
	char *out = malloc((n + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
			     (i + 2 < n ? in[i + 2] : 0);

		*o++ = b64_digits[w >> 18];
		*o++ = b64_digits[w >> 12 & 63];
		*o++ = i + 1 < n ? b64_digits[w >> 6 & 63] : '=';
		*o++ = i + 2 < n ? b64_digits[w & 63] : '=';
	}
	*o = '\0';
	return out;
}

char *hist_encode(const struct hist *h)
{
	uint8_t *raw = malloc(MAX_PAYLOAD);
	uLongf zlen = compressBound(MAX_PAYLOAD);
	uint8_t *z = malloc(8 + zlen);
	char *text = NULL;

	if (raw && z) {
		size_t n = encode_v2(h, raw);

		if (compress2(z + 8, &zlen, raw, n, Z_DEFAULT_COMPRESSION) == Z_OK) {
			put_be(put_be(z, V2_COMPRESSED_COOKIE, 4), zlen, 4);
			text = base64_encode(z, 8 + zlen);
		}
	}
	free(raw);
	free(z);
	return text;
}

static int b64_value(char c)
{
	const char *at = c ? strchr(b64_digits, c) : NULL;

	return at ? (int)(at - b64_digits) : -1;
}

/* Strict base64 (padded, no white space) into out; the decoded length, or -1. */
long base64_decode(const char *in, size_t len, uint8_t *out)
{
	long n = 0;

	if (len % 4)
		return -1;
	for (size_t i = 0; i < len; i += 4) {
		int pad = (in[i + 3] == '=') + (in[i + 2] == '=');
		int d[4];
		uint32_t w = 0;

		if (pad && i + 4 != len)
			return -1;
		for (int k = 0; k < 4; k++) {
			d[k] = k >= 4 - pad ? 0 : b64_value(in[i + k]);
			if (d[k] < 0)
				return -1;
			w = w << 6 | (uint32_t)d[k];
		}
		for (int k = 0; k < 3 - pad; k++)
			out[n++] = (uint8_t)(w >> (16 - 8 * k));
	}
	return n;
}

/* Counts from the V2 payload into h; NULL or why not. */
static const char *decode_counts(const uint8_t *p, const uint8_t *end, struct hist *h)
{
	int64_t index = 0;
	uint64_t total = 0;

	while (p < end) {
		int64_t v;

		if (!get_zigzag(&p, end, &v))
			return "a count runs past the payload's end";
		if (v < 0) {
			if (v < -(int64_t)HIST_COUNTS)
				return "a run of empty buckets longer than the histogram";
			index += -v;
			continue;
		}
		if (index >= HIST_COUNTS)
			return "values beyond muxload's histogram (its last bucket ends at 67.1 s)";
		total += (uint64_t)v;
		if ((uint64_t)v > HLOG_MAX_TOTAL || total > HLOG_MAX_TOTAL)
			return "more than 2^53 samples in one histogram";
		h->counts[index++] = (uint64_t)v;
	}
	return NULL;
}

/* total, min, max, and the sums for mean and deviation, from the counts alone. */
static void derive_totals(struct hist *h)
{
	for (int i = 0; i < HIST_COUNTS; i++) {
		int64_t low = hist_value_at(i), high, mid;

		if (!h->counts[i])
			continue;
		high = hist_highest_equivalent(low);
		mid = low + (high - low + 1) / 2;
		if (!h->total)
			h->min = low;
		h->max = high;
		h->total += h->counts[i];
		h->sum += (double)h->counts[i] * (double)mid;
		h->sum_sq += (double)h->counts[i] * (double)mid * (double)mid;
	}
}

/* The 40-byte V2 header: NULL when its precision is ours, or why not. */
static const char *check_header(const uint8_t *raw, size_t n, size_t *payload)
{
	uint64_t ratio_bits;
	double ratio;

	if (n < HEADER_BYTES || COOKIE_BASE(get_be(raw, 4)) != COOKIE_BASE(V2_COOKIE))
		return "not a V2 histogram inside";
	*payload = get_be(raw + 4, 4);
	if (*payload > n - HEADER_BYTES)
		return "the payload is shorter than its header says";
	ratio_bits = get_be(raw + 32, 8);
	memcpy(&ratio, &ratio_bits, sizeof(ratio));
	if (get_be(raw + 8, 4) != 0)
		return "a shifted (normalizing index offset) histogram";
	if (get_be(raw + 12, 4) != PRECISION_DIGITS || get_be(raw + 16, 8) != 1)
		return "a different precision: muxload's histograms have 3 significant digits from 1";
	if (ratio != 1.0)
		return "a DoubleHistogram (integer-to-double ratio other than 1)";
	return NULL;
}

static const char *inflate_v2(const uint8_t *z, size_t zn, uint8_t *raw, size_t *n)
{
	uLongf len = MAX_PAYLOAD;
	uint64_t cookie, zlen;
	int rc;

	if (zn < 8)
		return "too short for a histogram";
	cookie = get_be(z, 4);
	zlen = get_be(z + 4, 4);
	if (COOKIE_BASE(cookie) != COOKIE_BASE(V2_COMPRESSED_COOKIE))
		return "not a V2 compressed histogram (HdrHistogram's V0/V1 and uncompressed forms are not read)";
	if (zlen > zn - 8)
		return "the compressed histogram is cut short";
	rc = uncompress(raw, &len, z + 8, zlen);
	if (rc == Z_BUF_ERROR)
		return "the histogram inflates beyond any of muxload's precision";
	if (rc != Z_OK)
		return "the compressed histogram is corrupt (zlib)";
	*n = len;
	return NULL;
}

const char *hist_decode(const char *b64, size_t len, struct hist *h)
{
	uint8_t *z = malloc(len / 4 * 3 + 3), *raw = malloc(MAX_PAYLOAD);
	const char *why = "out of memory";
	long zn;
	size_t n, payload;

	hist_init(h);
	if (!z || !raw)
		goto out;
	why = "not base64 (a line cut short?)";
	zn = base64_decode(b64, len, z);
	if (zn < 0)
		goto out;
	why = inflate_v2(z, (size_t)zn, raw, &n);
	if (!why)
		why = check_header(raw, n, &payload);
	if (!why)
		why = decode_counts(raw + HEADER_BYTES, raw + HEADER_BYTES + payload, h);
	if (!why)
		derive_totals(h);
out:
	free(z);
	free(raw);
	return why;
}
