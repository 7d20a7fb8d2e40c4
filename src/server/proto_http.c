/*
 * http.c - a minimal HTTP/1.1 responder: every well-formed request gets
 * 200 and a fixed body. Keep-alive and pipelining (several requests in one
 * read are answered in one send); HTTP/1.0 and "Connection: close" close
 * after the reply; oversized headers get 431, malformed requests 400, both
 * followed by a close. Enough for wrk and ab to drive any backend.
 */
#include "http.h"
#include "proto.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

static bool is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Bytes of empty lines (CRLF or LF) before the request line; resumes where it stopped. */
static size_t leading_empty_lines(struct http_parse_state *st, const char *in, size_t n)
{
	size_t i = st->lead;

	for (;;) {
		if (i < n && in[i] == '\n')
			i++;
		else if (i + 1 < n && in[i] == '\r' && in[i + 1] == '\n')
			i += 2;
		else
			return st->lead = i;
	}
}

/* Offset just past the blank line ending the headers, or 0 when not there yet. */
static size_t header_end(struct http_parse_state *st, const char *in, size_t n)
{
	size_t from = st->scanned > st->lead ? st->scanned : st->lead;

	for (size_t i = from; i < n; i++) {
		if (in[i] != '\n')
			continue;
		if (i + 1 < n && in[i + 1] == '\n')
			return i + 2;
		if (i + 2 < n && in[i + 1] == '\r' && in[i + 2] == '\n')
			return i + 3;
	}
	/* Resume two bytes back: the terminator may be split across reads. */
	st->scanned = n > 2 ? n - 2 : 0;
	return 0;
}

/* One line [p, end) without its CR LF; returns the start of the next line. */
static const char *next_line(const char *p, const char *limit, const char **line_end)
{
	const char *nl = memchr(p, '\n', (size_t)(limit - p));

	*line_end = nl > p && nl[-1] == '\r' ? nl - 1 : nl;
	return nl + 1;
}

static bool parse_request_line(const char *p, const char *end, struct http_request *req)
{
	const char *sp1, *sp2;

	for (sp1 = p; sp1 < end && is_tchar((unsigned char)*sp1); sp1++)
		;
	if (sp1 == p || sp1 >= end || *sp1 != ' ')
		return false;
	for (sp2 = sp1 + 1; sp2 < end && *sp2 > ' ' && *sp2 < 0x7f; sp2++)
		;
	if (sp2 == sp1 + 1 || sp2 >= end || *sp2 != ' ')
		return false;
	if (end - (sp2 + 1) != 8 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
	    (sp2[8] != '0' && sp2[8] != '1'))
		return false;
	req->minor = sp2[8] - '0';
	req->head = sp1 - p == 4 && memcmp(p, "HEAD", 4) == 0;
	return true;
}

/* Does a comma-separated header value contain token (case-insensitive)? */
static bool has_token(const char *v, const char *end, const char *token)
{
	size_t len = strlen(token);

	while (v < end) {
		const char *comma = memchr(v, ',', (size_t)(end - v)), *stop = comma ? comma : end;

		while (v < stop && (*v == ' ' || *v == '\t'))
			v++;
		while (stop > v && (stop[-1] == ' ' || stop[-1] == '\t'))
			stop--;
		if ((size_t)(stop - v) == len && strncasecmp(v, token, len) == 0)
			return true;
		v = comma ? comma + 1 : end;
	}
	return false;
}

/* A field value is visible ASCII, spaces, tabs and obs-text (RFC 9110 5.5): no CR, NUL or DEL. */
static bool field_value_ok(const char *v, const char *end)
{
	for (; v < end; v++) {
		unsigned char c = (unsigned char)*v;

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

/* Headers we act on; 0 or an error status. */
static int parse_header(const char *p, const char *end, struct http_request *req, long *length)
{
	const char *colon = p, *v;
	char *num_end;
	long n;

	while (colon < end && is_tchar((unsigned char)*colon))
		colon++;
	if (colon == p || colon >= end || *colon != ':')
		return 400;	/* no name, a space before the colon, or obsolete line folding */
	if (!field_value_ok(colon + 1, end))
		return 400;
	for (v = colon + 1; v < end && (*v == ' ' || *v == '\t'); v++)
		;
	if (colon - p == 10 && strncasecmp(p, "connection", 10) == 0) {
		if (has_token(v, end, "close"))
			req->keep_alive = false;
		else if (has_token(v, end, "keep-alive"))
			req->keep_alive = true;
	} else if (colon - p == 14 && strncasecmp(p, "content-length", 14) == 0) {
		if (v == end || *v < '0' || *v > '9')
			return 400;
		n = strtol(v, &num_end, 10);
		while (num_end < end && (*num_end == ' ' || *num_end == '\t'))
			num_end++;
		if (num_end != end || (*length >= 0 && *length != n))
			return 400;
		if (n > HTTP_MAX_BODY)
			return 413;
		*length = n;
	} else if (colon - p == 17 && strncasecmp(p, "transfer-encoding", 17) == 0) {
		return 501;
	}
	return 0;
}

int http_parse(struct http_parse_state *st, const char *in, size_t n, struct http_request *req)
{
	const char *p = in + leading_empty_lines(st, in, n), *line_end, *rl;
	size_t end = header_end(st, in, n);
	const char *limit = in + end;
	long body = -1;
	int err;

	if (!end)
		return n > HTTP_MAX_HEADER ? 431 : 0;
	if (end > HTTP_MAX_HEADER)
		return 431;
	rl = p;
	p = next_line(p, limit, &line_end);
	if (!parse_request_line(rl, line_end, req))
		return 400;
	req->keep_alive = req->minor == 1;
	while (p < limit) {
		const char *line = p;

		p = next_line(p, limit, &line_end);
		if (line_end == line)
			break;	/* the blank line */
		err = parse_header(line, line_end, req, &body);
		if (err)
			return err;
	}
	req->length = end + (size_t)(body > 0 ? body : 0);
	if (n < req->length)
		return 0;	/* the body is still coming */
	st->scanned = st->lead = 0;
	return 1;
}

/* One 200 response: head_len bytes of headers, then the body. */
struct response {
	char *data;
	size_t len, head_len;
};

/* The three 200 responses, built once for the configured body size. */
enum { KEEP, CLOSE, KEEP_10, RESPONSES };   /* HTTP/1.1, "Connection: close", HTTP/1.0 keep-alive */

static bool build(struct response *r, size_t body_size, const char *connection)
{
	static const char pattern[] = "Hello, World!";
	char head[256];
	int h = snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nServer: muxserver\r\n"
			 "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s\r\n",
			 body_size, connection);

	free(r->data);
	r->data = malloc((size_t)h + body_size);
	if (!r->data)
		return false;
	memcpy(r->data, head, (size_t)h);
	for (size_t i = 0; i < body_size; i++)
		r->data[h + i] = pattern[i % (sizeof(pattern) - 1)];
	r->head_len = (size_t)h;
	r->len = (size_t)h + body_size;
	return true;
}

/*
 * Built by the first request, under a lock: the thread models' threads
 * answer at once, and one must not see built_for set before the responses
 * are (the thread model's http test failed so). Later requests only read.
 */
static const struct response *responses_for(size_t body_size)
{
	static struct response r[RESPONSES];
	static size_t built_for = SIZE_MAX;
	static bool ok;
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

	if (__atomic_load_n(&built_for, __ATOMIC_ACQUIRE) != body_size) {
		pthread_mutex_lock(&lock);
		if (built_for != body_size) {
			ok = build(&r[KEEP], body_size, "") && build(&r[CLOSE], body_size, "Connection: close\r\n") &&
			     build(&r[KEEP_10], body_size, "Connection: keep-alive\r\n");
			__atomic_store_n(&built_for, body_size, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&lock);
	}
	return ok ? r : NULL;
}

/* HEAD gets what GET would, Content-Length included, but not the body (RFC 9110 9.3.2). */
static void emit_response(struct proto_out *out, const struct response *r, bool head)
{
	proto_emit(out, r->data, head ? r->head_len : r->len);
}

/* Static storage on purpose: proto_emit keeps a reference until the core has sent it. */
#define ERROR_REPLY(code, reason) "HTTP/1.1 " #code " " reason "\r\nServer: muxserver\r\n" \
	"Content-Length: 0\r\nConnection: close\r\n\r\n"

static void emit_error(struct proto_out *out, int status)
{
	static const char r400[] = ERROR_REPLY(400, "Bad Request");
	static const char r413[] = ERROR_REPLY(413, "Content Too Large");
	static const char r431[] = ERROR_REPLY(431, "Request Header Fields Too Large");
	static const char r501[] = ERROR_REPLY(501, "Not Implemented");
	const char *r = status == 431 ? r431 : status == 413 ? r413 : status == 501 ? r501 : r400;

	proto_emit(out, r, strlen(r));
}

static long http_input(void *state, char *in, size_t n, struct proto_out *out,
		       const struct proto_config *cfg)
{
	struct http_parse_state *st = state;
	const struct response *r = responses_for(cfg->body_size);
	size_t used = 0;

	if (!r)
		return -1;
	while (proto_room(out)) {
		struct http_request req;
		int rc = http_parse(st, in + used, n - used, &req);

		if (rc == 0)
			return (long)used;
		if (rc != 1) {
			emit_error(out, rc);
			return -1;
		}
		used += req.length;
		emit_response(out, &r[!req.keep_alive ? CLOSE : req.minor == 0 ? KEEP_10 : KEEP], req.head);
		if (!req.keep_alive)
			return -1;
	}
	return (long)used;	/* at --max-pending: the rest waits until the peer reads */
}

const struct proto_ops proto_http_ops = {
	.name = "http",
	.summary = "minimal HTTP/1.1: 200 and a fixed body; keep-alive, pipelining",
	.state_size = sizeof(struct http_parse_state),
	.timeout_reply = ERROR_REPLY(408, "Request Timeout"),
	.input = http_input,
};
