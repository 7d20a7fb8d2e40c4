/* cli.h - strict parsing of flag values, shared by muxserver and muxload. */
#ifndef CLI_H
#define CLI_H

#include <stdbool.h>
#include <sys/socket.h>

/*
 * Each parser accepts the whole of text or nothing. On failure it prints
 * "PROG: --FLAG: expected ..., got 'TEXT'" on stderr and returns false;
 * the caller exits 2.
 */
bool cli_long(const char *prog, const char *flag, const char *text,
	      long min, long max, long *out);
bool cli_double(const char *prog, const char *flag, const char *text,
		double min, double max, double *out);
/* Byte counts: a plain number or one with a suffix of CLI_SIZE_SUFFIXES (powers of 1024). */
#define CLI_SIZE_SUFFIXES "K, M, G, T"
bool cli_size(const char *prog, const char *flag, const char *text,
	      long min, long max, long *out);

/*
 * A numeric IPv4 or IPv6 address and a port into *ss and *len (either may
 * be NULL to only check the address). false when host is not numeric: the
 * tools take addresses, never names, so nothing here can block on DNS.
 */
bool cli_sockaddr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len);

/*
 * The tools' registries are NULL-terminated arrays of pointers to structs
 * whose first member is `const char *name`. cli_find returns the entry
 * called name (or NULL); cli_names joins the names into buf as "a, b, c".
 */
const void *cli_find(const void *const *registry, const char *name);
const char *cli_names(const void *const *registry, char *buf, size_t cap);

#endif
