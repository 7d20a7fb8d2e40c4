/* dispatch_run.h - running muxdispatch's measurements (dispatch.c). */
#ifndef DISPATCH_RUN_H
#define DISPATCH_RUN_H

#include "dispatch.h"

/* One timed run: events dispatched and what the driver counted while it ran. */
struct dispatch_sample {
	double seconds;
	uint64_t events, waits, scanned;
};

/* How a run ended: measured; not possible here (the driver could not register); or wrong. */
enum dispatch_outcome { DISPATCH_OK, DISPATCH_NA, DISPATCH_BROKEN };

/* `pairs` non-blocking sources; false with *why ("too many open files", ...). */
bool world_open(struct dispatch_world *w, enum dispatch_source source, int pairs, const char **why);
void world_close(struct dispatch_world *w);

/*
 * The dispatch benchmark: active bytes seeded evenly across the pairs, each
 * read passes one on until `writes` have been made; timed from the first
 * round to the last byte read. Checks every byte was read exactly once.
 */
enum dispatch_outcome dispatch_measure(const struct dispatch_driver *d, struct dispatch_world *w, int active,
				       long writes, struct dispatch_sample *out, const char **why);

/*
 * Kerrisk's measurement: `ops` monitoring operations, each with one
 * randomly chosen pair made ready (one byte written) and waited for.
 */
enum dispatch_outcome dispatch_kerrisk(const struct dispatch_driver *d, struct dispatch_world *w, long ops,
				       double *seconds, const char **why);

#endif
