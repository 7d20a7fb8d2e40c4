/* http.h - the incremental HTTP/1.x request parser behind --proto http. */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER 8192          /* request line + headers; more is answered 431 */
#define HTTP_MAX_BODY (1024 * 1024)   /* Content-Length above this is answered 413 */

struct http_parse_state {
	size_t scanned;      /* bytes already searched for the end of the headers */
	size_t lead;         /* empty lines before the request line, already skipped */
};

struct http_request {
	int minor;           /* HTTP/1.minor */
	bool head;           /* HEAD: the reply has a GET's headers and no body */
	bool keep_alive;     /* after the reply, keep the connection */
	size_t length;       /* header block + body: bytes this request occupies */
};

/*
 * Look for one complete request at in[0..n). Returns 1 and fills req when
 * one is there, 0 when more bytes are needed, or an HTTP error status
 * (400, 413, 431, 501) when the bytes can never become a valid request.
 * Bare LF line endings are accepted (RFC 9112 allows it), and so are any
 * number of empty lines before the request line (RFC 9112 2.2 says to
 * ignore at least one); they count in its length and against
 * HTTP_MAX_HEADER. Control characters (but tab) in a header value are
 * a 400. Byte at a time
 * input costs O(n) in total: the search resumes where it stopped.
 */
int http_parse(struct http_parse_state *st, const char *in, size_t n, struct http_request *req);

#endif
