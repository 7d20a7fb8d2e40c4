/*
 * test_http.c - the HTTP parser and responder. Every input sits at the very
 * end of a readable page followed by a PROT_NONE page, so reading one byte
 * past it crashes the test instead of passing unnoticed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <stdint.h>

#include "http.h"
#include "proto.h"

/* Test double for the server's reply collector: keeps everything emitted. */
struct proto_out {
	char data[1 << 16];
	size_t len;
	int replies;
	size_t limit;	/* room as the server would give it; 0: all of data */
};

void proto_emit(struct proto_out *o, const char *data, size_t n)
{
	assert_true(o->len + n <= sizeof(o->data));
	memcpy(o->data + o->len, data, n);
	o->len += n;
	o->replies++;
}

size_t proto_room(const struct proto_out *o)
{
	size_t limit = o->limit ? o->limit : sizeof(o->data);

	return o->len < limit ? limit - o->len : 0;
}

static char *guarded;
static size_t guarded_size;

/* A copy of s ending right before an unreadable page. */
static char *fence(const char *s, size_t n)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t pages = (n + (size_t)page - 1) / (size_t)page + 1;

	if (guarded)
		munmap(guarded, guarded_size);
	guarded_size = (pages + 1) * (size_t)page;
	guarded = mmap(NULL, guarded_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(guarded != MAP_FAILED);
	assert_int_equal(mprotect(guarded + pages * (size_t)page, (size_t)page, PROT_NONE), 0);
	memcpy(guarded + pages * (size_t)page - n, s, n);
	return guarded + pages * (size_t)page - n;
}

static int parse(const char *s, size_t n, struct http_request *req)
{
	struct http_parse_state st = { 0 };

	return http_parse(&st, fence(s, n), n, req);
}

static int parse_str(const char *s, struct http_request *req)
{
	return parse(s, strlen(s), req);
}

static void complete_requests(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: a\r\n\r\n", &r), 1);
	assert_int_equal(r.minor, 1);
	assert_true(r.keep_alive);
	assert_int_equal(r.length, 27);
	assert_int_equal(parse_str("GET /x?y=1 HTTP/1.0\r\n\r\n", &r), 1);
	assert_false(r.keep_alive);	/* HTTP/1.0 closes unless asked not to */
	assert_int_equal(parse_str("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r), 1);
	assert_true(r.keep_alive);
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &r), 1);
	assert_false(r.keep_alive);
	assert_int_equal(parse_str("POST /p HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", &r), 1);
	assert_int_equal(r.length, 44);	/* 18 + 19 + 2 header bytes, 5 body */
	/* Bare LF line endings are accepted. */
	assert_int_equal(parse_str("GET / HTTP/1.1\nHost: a\n\n", &r), 1);
	assert_int_equal(r.length, 24);
	assert_false(r.head);
	/* Empty lines before the request line are skipped, and counted in its length. */
	assert_int_equal(parse_str("\r\n\r\n\nGET / HTTP/1.1\r\n\r\n", &r), 1);
	assert_int_equal(r.length, 23);
	assert_int_equal(parse_str("HEAD / HTTP/1.1\r\nX: caf\xc3\xa9\tok\r\n\r\n", &r), 1);
	assert_true(r.head);	/* obs-text and tabs are fine in a value */
	assert_int_equal(parse_str("HEADX / HTTP/1.1\r\n\r\n", &r), 1);
	assert_false(r.head);
}

static void partial_requests_need_more(void **state)
{
	struct http_request r;

	(void)state;
	assert_int_equal(parse_str("", &r), 0);
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: a\r\n", &r), 0);
	assert_int_equal(parse_str("GET / HTTP/1.1\r\nHost: a\r\n\r", &r), 0);
	assert_int_equal(parse_str("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhel", &r), 0);
	assert_int_equal(parse_str("\r\n\r\n", &r), 0);	/* empty lines: a request may follow */
	assert_int_equal(parse_str("\r\n\r", &r), 0);
}

static void malformed_requests(void **state)
{
	static const char *const bad[] = {
		"GET  / HTTP/1.1\r\n\r\n",           /* two spaces */
		"GET / HTTP/1.1 \r\n\r\n",           /* trailing space */
		"GET /\r\n\r\n",                     /* HTTP/0.9 */
		"GET / HTTP/2.0\r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",            /* not a token */
		"GET / HTTP/1.1\r\nHost : a\r\n\r\n", /* space before the colon */
		"GET / HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", /* obsolete line folding */
		"GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",   /* bare CR */
		"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
		"\r\n\rGET / HTTP/1.1\r\n\r\n",      /* a bare CR before the request line */
		"GET / HTTP/1.1\r\nA: b\x01c\r\n\r\n",  /* control characters in a value */
		"GET / HTTP/1.1\r\nA: \x1b[31m\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\x7f\r\n\r\n",
		"GET / HTTP/1.1\r\nA: b\vc\r\n\r\n",
	};
	static const char nul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
	struct http_request r;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse_str(bad[i], &r) != 400)
			fail_msg("accepted or misjudged: '%s'", bad[i]);
	assert_int_equal(parse(nul, sizeof(nul) - 1, &r), 400);
	assert_int_equal(parse_str("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &r), 501);
	assert_int_equal(parse_str("POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", &r), 413);
}

static void oversized_headers(void **state)
{
	char *big = malloc(HTTP_MAX_HEADER + 200);
	struct http_request r;
	size_t n;

	(void)state;
	n = (size_t)sprintf(big, "GET / HTTP/1.1\r\nX: ");
	memset(big + n, 'a', HTTP_MAX_HEADER);
	n += HTTP_MAX_HEADER;
	assert_int_equal(parse(big, n, &r), 431);	/* no end in sight, already too long */
	memcpy(big + n, "\r\n\r\n", 4);
	assert_int_equal(parse(big, n + 4, &r), 431);
	for (n = 0; n <= HTTP_MAX_HEADER; n += 2)	/* empty lines count against the limit */
		memcpy(big + n, "\r\n", 2);
	assert_int_equal(parse(big, n, &r), 431);
	free(big);
}

static const struct proto_config cfg = { .body_size = 13 };

/* Feed chunks through the responder as the server does: keep what it did not consume. */
static void run_split(const char *input, size_t split, struct proto_out *out, bool *closed)
{
	unsigned char state[64] = { 0 };
	char held[4096];
	size_t held_len = 0, len = strlen(input);

	*closed = false;
	for (size_t pos = 0; pos < len && !*closed;) {
		size_t take = split && len - pos > split ? split : len - pos;
		long used;
		char *buf;

		memcpy(held + held_len, input + pos, take);
		held_len += take;
		pos += take;
		buf = fence(held, held_len);
		used = proto_http_ops.input(state, buf, held_len, out, &cfg);
		if (used < 0) {
			*closed = true;
			break;
		}
		memmove(held, held + used, held_len - (size_t)used);
		held_len -= (size_t)used;
	}
}

/* Three pipelined requests split at every byte boundary: always three 200s, in order. */
static void pipelined_split_everywhere(void **state)
{
	static const char input[] =
		"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
		"POST /b HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
		"GET /c HTTP/1.1\nUser-Agent: t\n\n";
	struct proto_out *out = malloc(sizeof(*out));
	bool closed;

	(void)state;
	for (size_t split = 0; split < sizeof(input); split++) {
		memset(out, 0, sizeof(*out));
		run_split(input, split, out, &closed);
		assert_false(closed);
		if (out->replies != 3)
			fail_msg("split every %zu bytes: %d replies", split, out->replies);
		for (int i = 0; i < 3; i++) {
			const char *p = out->data;

			for (int k = 0; k < i; k++)
				p = strstr(p + 1, "HTTP/1.1 200 OK");
			assert_non_null(p);
			assert_memory_equal(p, "HTTP/1.1 200 OK\r\n", 17);
		}
		assert_non_null(strstr(out->data, "Content-Length: 13\r\n\r\nHello, World!"));
	}
	free(out);
}

/*
 * HEAD between GETs, after empty lines, split at every byte: HEAD gets the
 * GET's headers, Content-Length included, and no body, so the replies
 * stay framed.
 */
static void head_split_everywhere(void **state)
{
	static const char input[] = "\r\n\nHEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n\r\nHEAD /c HTTP/1.1\n\n";
	static const char head[] = "HTTP/1.1 200 OK\r\nServer: muxserver\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 13\r\n\r\n";
	struct proto_out *out = malloc(sizeof(*out));
	char want[512];
	size_t h = sizeof(head) - 1;
	bool closed;

	(void)state;
	memcpy(want, head, h);
	memcpy(want + h, head, h);
	memcpy(want + 2 * h, "Hello, World!", 13);
	memcpy(want + 2 * h + 13, head, h);
	for (size_t split = 0; split < sizeof(input); split++) {
		memset(out, 0, sizeof(*out));
		run_split(input, split, out, &closed);
		assert_false(closed);
		assert_int_equal(out->replies, 3);
		assert_int_equal(out->len, 3 * h + 13);
		assert_memory_equal(out->data, want, 3 * h + 13);
	}
	free(out);
}

static void close_after_reply(void **state)
{
	struct proto_out *out = calloc(1, sizeof(*out));
	bool closed;

	(void)state;
	run_split("GET / HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 0, out, &closed);
	assert_true(closed);
	assert_int_equal(out->replies, 1);	/* nothing after the closing request is answered */
	assert_non_null(strstr(out->data, "Connection: close"));
	memset(out, 0, sizeof(*out));
	run_split("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0, out, &closed);
	assert_true(closed);
	assert_non_null(strstr(out->data, "200 OK"));
	memset(out, 0, sizeof(*out));
	run_split("BAD REQUEST\r\n\r\n", 0, out, &closed);
	assert_true(closed);
	assert_non_null(strstr(out->data, "400 Bad Request"));
	free(out);
}

/*
 * Output at the cap (proto_room 0 after a reply): the responder stops after
 * one request and reports only it consumed; the rest is answered when
 * offered again with room, each request once.
 */
static void stops_at_output_room(void **state)
{
	static const char input[] = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n";
	struct proto_out *out = calloc(1, sizeof(*out));
	unsigned char st[64] = { 0 };
	size_t len = sizeof(input) - 1;
	long used;

	(void)state;
	out->limit = 1;
	used = proto_http_ops.input(st, fence(input, len), len, out, &cfg);
	assert_int_equal(used, 19);
	assert_int_equal(out->replies, 1);
	out->limit = 0;
	used = proto_http_ops.input(st, fence(input + 19, len - 19), len - 19, out, &cfg);
	assert_int_equal(used, len - 19);
	assert_int_equal(out->replies, 3);
	free(out);
}

/* sockperf framing: header u64 seq, u16 flags, u32 total length, big-endian. */
static size_t sockperf_msg(unsigned char *p, uint64_t seq, unsigned flags, uint32_t len)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(seq >> (56 - 8 * i));
	p[8] = (unsigned char)(flags >> 8);
	p[9] = (unsigned char)flags;
	for (int i = 0; i < 4; i++)
		p[10 + i] = (unsigned char)(len >> (24 - 8 * i));
	for (uint32_t i = 14; i < len; i++)
		p[i] = (unsigned char)(seq + i);
	return len;
}

/* Three messages (a ping, a no-reply one, a ping) split at every byte: two pongs, CLIENT cleared. */
static void sockperf_split_everywhere(void **state)
{
	unsigned char input[256], want[256];
	struct proto_out *out = malloc(sizeof(*out));
	size_t len = 0, wlen;

	(void)state;
	len += sockperf_msg(input + len, 7, 3, 20);
	len += sockperf_msg(input + len, 8, 1, 64);	/* CLIENT only: no reply expected */
	len += sockperf_msg(input + len, 9, 3, 14);
	wlen = sockperf_msg(want, 7, 2, 20);
	wlen += sockperf_msg(want + wlen, 9, 2, 14);
	for (size_t split = 1; split <= len; split++) {
		char held[256];
		size_t held_len = 0;

		memset(out, 0, sizeof(*out));
		for (size_t pos = 0; pos < len;) {
			size_t take = len - pos > split ? split : len - pos;
			long used;

			memcpy(held + held_len, input + pos, take);
			held_len += take;
			pos += take;
			used = proto_sockperf_ops.input(NULL, fence(held, held_len), held_len, out, &cfg);
			assert_true(used >= 0);
			memmove(held, held + used, held_len - (size_t)used);
			held_len -= (size_t)used;
		}
		assert_int_equal(out->replies, 2);
		assert_int_equal(out->len, wlen);
		assert_memory_equal(out->data, want, wlen);
	}
	/* A length shorter than the header cannot be framed: close. */
	sockperf_msg(input, 1, 3, 14);
	input[13] = 5;
	assert_int_equal(proto_sockperf_ops.input(NULL, fence((char *)input, 14), 14, out, &cfg), -1);
	free(out);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(sockperf_split_everywhere),
		cmocka_unit_test(complete_requests),
		cmocka_unit_test(partial_requests_need_more),
		cmocka_unit_test(malformed_requests),
		cmocka_unit_test(oversized_headers),
		cmocka_unit_test(pipelined_split_everywhere),
		cmocka_unit_test(close_after_reply),
		cmocka_unit_test(head_split_everywhere),
		cmocka_unit_test(stops_at_output_room),
	};
	int rc = cmocka_run_group_tests_name("http parser", tests, NULL, NULL);

	if (guarded)
		munmap(guarded, guarded_size);
	return rc;
}
