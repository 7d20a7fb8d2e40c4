/* http.h - the incremental HTTP/1.x request parser behind --proto http. */
#ifndef HTTP_H
#define HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADER 8192          /* request line + headers; more is answered 431 */
#define HTTP_MAX_BODY (1024 * 1024)   /* Content-Length above this is answered 413 */

struct http_parse_state {
	size_t scanned;      /* bytes already searched for the end of the headers */
};

struct http_request {
	int minor;           /* HTTP/1.minor */
	bool keep_alive;     /* after the reply, keep the connection */
	size_t length;       /* header block + body: bytes this request occupies */
};

/*
 * Look for one complete request at in[0..n). Returns 1 and fills req when
 * one is there, 0 when more bytes are needed, or an HTTP error status
 * (400, 413, 431, 501) when the bytes can never become a valid request.
 * Bare LF line endings are accepted (RFC 9112 allows it). Byte at a time
 * input costs O(n) in total: the search resumes where it stopped.
 */
int http_parse(struct http_parse_state *st, const char *in, size_t n, struct http_request *req);

#endif
