/*
 * version.c - the version string. MUXLAB_VERSION comes from the Makefile
 * (the release, and `git describe --always --dirty` when built inside git);
 * only this file is rebuilt when it changes.
 */
#include "version.h"

#ifndef MUXLAB_VERSION
#define MUXLAB_VERSION "unknown"
#endif

const char muxlab_version[] = MUXLAB_VERSION;

void version_print(FILE *out, const char *prog)
{
	fprintf(out, "%s %s\n", prog, muxlab_version);
}
