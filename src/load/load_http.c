/*
 * load_http.c - muxload's http protocol: keep-alive GET requests; a reply
 * counts when it is "HTTP/1.x 200" with a Content-Length and that many body
 * bytes. Anything else (another status, no length, a header over 1 KiB) is a
 * mismatch. The body is not checked: its content is the server's choice.
 */
#include "load.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char request[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

static size_t http_request(uint8_t *buf, size_t size, uint32_t conn, uint64_t seq)
{
	(void)size;
	(void)conn;
	(void)seq;
	memcpy(buf, request, sizeof(request) - 1);
	return sizeof(request) - 1;
}

/* Check a complete header block; sets the body length. */
static bool header_ok(const char *h, size_t n, size_t *body)
{
	const char *p = h, *end = h + n;

	if (n < 12 || memcmp(h, "HTTP/1.", 7) != 0 || memcmp(h + 8, " 200", 4) != 0)
		return false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			break;
		if (nl - p > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			char *num_end;
			long v = strtol(p + 15, &num_end, 10);

			if (v < 0 || num_end == p + 15)
				return false;
			*body = (size_t)v;
			return true;
		}
		p = nl + 1;
	}
	return false;
}

static ssize_t http_consume(struct reply_parse *rp, const uint8_t *data, size_t n,
			    size_t size, uint32_t conn, uint64_t seq, bool *done)
{
	const char *d = (const char *)data;
	size_t used = 0, take;

	(void)size;
	(void)conn;
	(void)seq;
	if (!rp->in_body) {
		const char *end;

		/* Fast path: the whole header in this read, parsed where it lies. */
		if (!rp->hdr_len && (end = memmem(d, n, "\r\n\r\n", 4))) {
			used = (size_t)(end - d) + 4;
			if (!header_ok(d, used, &rp->body_left))
				return -1;
		} else {
			while (used < n) {
				if (rp->hdr_len == sizeof(rp->hdr))
					return -1;
				rp->hdr[rp->hdr_len++] = d[used++];
				if (rp->hdr_len >= 4 && memcmp(rp->hdr + rp->hdr_len - 4, "\r\n\r\n", 4) == 0)
					break;
			}
			if (rp->hdr_len < 4 || memcmp(rp->hdr + rp->hdr_len - 4, "\r\n\r\n", 4) != 0)
				return (ssize_t)used;	/* header still arriving */
			if (!header_ok(rp->hdr, rp->hdr_len, &rp->body_left))
				return -1;
			rp->hdr_len = 0;
		}
		rp->in_body = true;
	}
	take = rp->body_left < n - used ? rp->body_left : n - used;
	rp->body_left -= take;
	used += take;
	*done = rp->body_left == 0;
	if (*done)
		rp->in_body = false;
	return (ssize_t)used;
}

const struct load_proto load_http_proto = {
	.name = "http",
	.summary = "keep-alive GETs; a reply must be 200 with a Content-Length",
	.min_size = 1,
	.max_size = 16 << 20,	/* --size does not shape a GET */
	.request = http_request,
	.consume = http_consume,
};
