/* cli.c - strict parsing of flag values. */
#include "cli.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool fail(const char *prog, const char *flag, const char *what, const char *text)
{
	fprintf(stderr, "%s: --%s: expected %s, got '%s'\n", prog, flag, what, text);
	return false;
}

bool cli_long(const char *prog, const char *flag, const char *text,
	      long min, long max, long *out)
{
	char what[96], *end;
	long v;

	snprintf(what, sizeof(what), "an integer from %ld to %ld", min, max);
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		return fail(prog, flag, what, text);
	*out = v;
	return true;
}

bool cli_double(const char *prog, const char *flag, const char *text,
		double min, double max, double *out)
{
	char what[96], *end;
	double v;

	snprintf(what, sizeof(what), "a number from %g to %g", min, max);
	errno = 0;
	v = strtod(text, &end);
	/* v != v rejects "nan", which every comparison would let through. */
	if (errno || end == text || *end || v != v || v < min || v > max)
		return fail(prog, flag, what, text);
	*out = v;
	return true;
}

bool cli_size(const char *prog, const char *flag, const char *text,
	      long min, long max, long *out)
{
	static const char suffixes[] = "KMGT";
	char what[96], *end;
	const char *s;
	long v, mult = 1;

	snprintf(what, sizeof(what), "a byte count from %ld to %ld (" CLI_SIZE_SUFFIXES " suffixes allowed)",
		 min, max);
	errno = 0;
	v = strtol(text, &end, 10);
	s = end != text && *end ? strchr(suffixes, toupper((unsigned char)*end)) : NULL;
	if (s) {
		mult = 1L << (10 * (s - suffixes + 1));
		end++;
	}
	if (errno || end == text || *end || v < 0 || v > max / mult || v * mult < min)
		return fail(prog, flag, what, text);
	*out = v * mult;
	return true;
}

bool cli_sockaddr(const char *host, int port, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_storage local;
	struct sockaddr_in *in4;
	struct sockaddr_in6 *in6;

	if (!ss)
		ss = &local;
	memset(ss, 0, sizeof(*ss));
	in4 = (struct sockaddr_in *)ss;
	in6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		if (len)
			*len = sizeof(*in4);
		return true;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (len)
			*len = sizeof(*in6);
		return true;
	}
	return false;
}

/* C lets a pointer to a struct be read as a pointer to its first member. */
static const char *entry_name(const void *entry)
{
	return *(const char *const *)entry;
}

const void *cli_find(const void *const *registry, const char *name)
{
	for (size_t i = 0; registry[i]; i++)
		if (strcmp(entry_name(registry[i]), name) == 0)
			return registry[i];
	return NULL;
}

const char *cli_names(const void *const *registry, char *buf, size_t cap)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; registry[i] && used < cap; i++)
		used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", entry_name(registry[i]));
	return buf;
}
