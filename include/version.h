/* version.h - the one version string of all three programs, fixed at build time. */
#ifndef VERSION_H
#define VERSION_H

#include <stdio.h>

/* "0.9.0 (git 5a477f3)": the release, and what `git describe --always --dirty` said at build time. */
extern const char muxlab_version[];

/* --version: "PROG VERSION" on out. */
void version_print(FILE *out, const char *prog);

#endif
