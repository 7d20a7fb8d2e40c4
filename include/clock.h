/* clock.h - the monotonic clock every program and suite times with. */
#ifndef CLOCK_H
#define CLOCK_H

#include <stdint.h>
#include <time.h>

/* Nanoseconds on `id`; clock_gettime cannot fail for the clocks we pass. */
static inline int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CLOCK_MONOTONIC: immune to wall-clock steps, so intervals never go negative. */
static inline int64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

static inline double mono_s(void)
{
	return (double)mono_ns() / 1e9;
}

#endif
