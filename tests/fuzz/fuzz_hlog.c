/*
 * fuzz_hlog.c - libFuzzer target: muxload's reader of HdrHistogram logs, on
 * arbitrary bytes. The first byte picks the layer: the log's text, line by
 * line (hlog_next), or a V2 histogram's payload (compressed and wrapped here,
 * so that the counts decoder sees the fuzzer's bytes, not zlib's refusals).
 * A histogram that decodes must hold what its counts say, never more than
 * 2^53 samples, and come back the same when encoded and decoded again.
 */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hlog.h"

static void check_decoded(const struct hist *h)
{
	static struct hist again;
	uint64_t sum = 0;
	char *text;

	for (int i = 0; i < HIST_COUNTS; i++)
		sum += h->counts[i];
	assert(sum == h->total && sum <= HLOG_MAX_TOTAL);
	text = hist_encode(h);
	assert(text && !hist_decode(text, strlen(text), &again));
	assert(!memcmp(again.counts, h->counts, sizeof(h->counts)));
	free(text);
}

static void fuzz_log(const uint8_t *data, size_t size)
{
	static struct hist h;
	struct hlog_interval iv = { .hist = &h };
	struct hlog_reader r;
	FILE *f = fmemopen((void *)data, size, "r");

	if (!f)
		return;
	memset(&r, 0, sizeof(r));
	r.in = f;
	r.path = "fuzz";
	r.start_epoch_s = r.base_epoch_s = 0;
	while (hlog_next(&r, &iv) == 1)
		check_decoded(&h);
	hlog_close(&r);
}

/* The bytes as a V2 payload: deflated behind the 8-byte compressed header, in base64. */
static void fuzz_payload(const uint8_t *data, size_t size)
{
	static struct hist h;
	uLongf zn = compressBound(size);
	uint8_t *z = malloc(8 + zn);
	char *text;

	if (!z || compress2(z + 8, &zn, data, size, 1) != Z_OK) {
		free(z);
		return;
	}
	memcpy(z, "\x1c\x84\x93\x14", 4);
	z[4] = (uint8_t)(zn >> 24), z[5] = (uint8_t)(zn >> 16), z[6] = (uint8_t)(zn >> 8), z[7] = (uint8_t)zn;
	text = base64_encode(z, 8 + zn);
	if (text && !hist_decode(text, strlen(text), &h))
		check_decoded(&h);
	free(text);
	free(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (data[0] & 1)
		fuzz_payload(data + 1, size - 1);
	else
		fuzz_log(data + 1, size - 1);
	return 0;
}
