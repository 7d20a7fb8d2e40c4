/* cli.c - strict parsing of flag values. */
#include "cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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
	char what[96], *end;
	long v, mult = 1;

	snprintf(what, sizeof(what), "a byte count from %ld to %ld (K, M, G suffixes allowed)", min, max);
	errno = 0;
	v = strtol(text, &end, 10);
	if (end != text && (*end == 'K' || *end == 'k'))
		mult = 1L << 10, end++;
	else if (end != text && (*end == 'M' || *end == 'm'))
		mult = 1L << 20, end++;
	else if (end != text && (*end == 'G' || *end == 'g'))
		mult = 1L << 30, end++;
	if (errno || end == text || *end || v < 0 || v > max / mult || v * mult < min)
		return fail(prog, flag, what, text);
	*out = v * mult;
	return true;
}
