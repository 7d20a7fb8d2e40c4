/*
 * dispatch.c - the measurement behind muxdispatch: the world of socketpairs,
 * the callback every driver calls, the timed dispatch run, and the
 * Kerrisk-style monitoring run.
 */
#include "clock.h"
#include "dispatch.h"
#include "dispatch_run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

/* A loop that makes no progress for this long has lost an event. */
#define STALL_NS 2000000000LL

bool dispatch_list_add(struct dispatch_list *l, const struct dispatch_library *lib, const char *name,
		       const char *mechanism, const void *choice)
{
	struct dispatch_driver *d;
	int len;

	if (l->n == DISPATCH_MAX_DRIVERS)
		return false;
	d = &l->d[l->n];
	if (name)
		len = snprintf(d->name, sizeof(d->name), "%s", name);
	else
		len = snprintf(d->name, sizeof(d->name), "%s-%s", lib->name, mechanism);
	if (len < 0 || (size_t)len >= sizeof(d->name))
		return false;
	d->mechanism = mechanism;
	d->lib = lib;
	d->choice = choice;
	l->n++;
	return true;
}

/* One token: a byte on a socketpair, a count of 1 on an eventfd. */
static const uint64_t token = 1;

/* One token into source idx, counted; false when the write failed. */
static bool put_token(struct dispatch_world *w, int idx)
{
	if (write(w->wr[idx], &token, w->unit) != (ssize_t)w->unit)
		return false;
	w->fired++;
	w->sent[idx]++;
	return true;
}

/* Pass one token on to the pair after idx, while writes remain. */
static void pass_on(struct dispatch_world *w, int idx)
{
	if (w->writes_left > 0 && put_token(w, idx + 1 == w->pairs ? 0 : idx + 1))
		w->writes_left--;
}

/*
 * Level-triggered: one token per event, as bench.c reads one byte. Edge-
 * triggered callbacks must drain: a socketpair is read 64 bytes at a time
 * (a short read proves it empty, so no extra read to see EAGAIN); an
 * eventfd semaphore yields one token per read, so it is read to EAGAIN.
 * Every token read is one event and passes one on.
 */
void dispatch_readable(struct dispatch_world *w, int idx, bool drain)
{
	uint8_t buf[64];
	size_t want = drain && w->source == SOURCE_SOCKETPAIR ? sizeof(buf) : w->unit;
	ssize_t n;

	do {
		n = read(w->rd[idx], buf, want);
		if (n <= 0)
			return;	/* EAGAIN: readiness was a hint, or the drain is done */
		for (ssize_t t = 0; t < n / (ssize_t)w->unit; t++) {
			w->count++;
			w->got[idx]++;
			pass_on(w, idx);
		}
	} while (drain && (size_t)n == want);
}

void world_close(struct dispatch_world *w)
{
	for (int i = 0; w->rd && i < w->pairs; i++) {
		close(w->rd[i]);
		if (w->wr[i] != w->rd[i])
			close(w->wr[i]);
	}
	free(w->rd);
	free(w->wr);
	free(w->sent);
	free(w->got);
	memset(w, 0, sizeof(*w));
}

/* One source's fds; errno set on failure. */
static bool open_source(enum dispatch_source source, int *rd, int *wr)
{
	int sv[2];

	if (source == SOURCE_EVENTFD) {
		*rd = *wr = eventfd(0, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
		return *rd != -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == -1)
		return false;
	*rd = sv[0];
	*wr = sv[1];
	return true;
}

bool world_open(struct dispatch_world *w, enum dispatch_source source, int pairs, const char **why)
{
	memset(w, 0, sizeof(*w));
	w->source = source;
	w->unit = source == SOURCE_EVENTFD ? sizeof(uint64_t) : 1;
	w->rd = calloc((size_t)pairs, sizeof(int));
	w->wr = calloc((size_t)pairs, sizeof(int));
	w->sent = calloc((size_t)pairs, sizeof(uint32_t));
	w->got = calloc((size_t)pairs, sizeof(uint32_t));
	if (!w->rd || !w->wr || !w->sent || !w->got) {
		*why = "out of memory";
		world_close(w);
		return false;
	}
	for (; w->pairs < pairs; w->pairs++)
		if (!open_source(source, &w->rd[w->pairs], &w->wr[w->pairs])) {
			*why = errno == EMFILE || errno == ENFILE ? "too many open files" : strerror(errno);
			world_close(w);
			return false;
		}
	return true;
}

static void world_reset(struct dispatch_world *w, long writes)
{
	w->fired = w->count = 0;
	w->writes_left = writes;
	memset(w->sent, 0, (size_t)w->pairs * sizeof(uint32_t));
	memset(w->got, 0, (size_t)w->pairs * sizeof(uint32_t));
}

/* Run rounds until every byte written has been read; false (with *why) on failure or a stall. */
static bool run_until_drained(const struct dispatch_driver *d, void *ctx, struct dispatch_world *w,
			      const char **why)
{
	uint64_t last_count = w->count;
	int64_t last_progress = 0;

	for (unsigned long rounds = 0; w->count != w->fired; rounds++) {
		if (!d->lib->round(ctx)) {
			*why = "the event loop failed";
			return false;
		}
		if (rounds % 1024 != 1023)
			continue;
		if (w->count != last_count || !last_progress) {
			last_count = w->count;
			last_progress = mono_ns();
		} else if (mono_ns() - last_progress > STALL_NS) {
			*why = "stalled: an event was never dispatched";
			return false;
		}
	}
	return true;
}

/* Every byte written to a pair was read from it, once. */
static bool exactly_once(const struct dispatch_world *w, const char **why)
{
	for (int i = 0; i < w->pairs; i++)
		if (w->sent[i] != w->got[i]) {
			*why = "a write was dispatched twice or never";
			return false;
		}
	return true;
}

enum dispatch_outcome dispatch_measure(const struct dispatch_driver *d, struct dispatch_world *w, int active,
				       long writes, struct dispatch_sample *out, const char **why)
{
	struct dispatch_counters c0, c1;
	void *ctx = d->lib->setup(d, w, why);
	int space = w->pairs / active;
	int64_t t0, t1;
	bool ok;

	if (!ctx)
		return DISPATCH_NA;
	world_reset(w, writes);
	d->lib->round(ctx);	/* let a library apply its registrations before the clock starts */
	for (int i = 0; i < active; i++)
		put_token(w, i * space);
	d->lib->counters(ctx, &c0);
	t0 = mono_ns();
	ok = run_until_drained(d, ctx, w, why);
	t1 = mono_ns();
	d->lib->counters(ctx, &c1);
	d->lib->teardown(ctx);
	if (!ok || !exactly_once(w, why))
		return DISPATCH_BROKEN;
	out->seconds = (double)(t1 - t0) / 1e9;
	out->events = w->count;
	out->waits = c1.waits - c0.waits;
	out->scanned = c1.scanned - c0.scanned;
	return DISPATCH_OK;
}

/* xorshift64: a fixed, cheap sequence of "randomly chosen" fds, the same for every backend. */
static uint64_t next_random(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

enum dispatch_outcome dispatch_kerrisk(const struct dispatch_driver *d, struct dispatch_world *w, long ops,
				       double *seconds, const char **why)
{
	void *ctx = d->lib->setup(d, w, why);
	uint64_t rng = 0x9e3779b97f4a7c15ULL;
	int64_t t0;
	bool ok = true;

	if (!ctx)
		return DISPATCH_NA;
	world_reset(w, 0);
	d->lib->round(ctx);
	t0 = mono_ns();
	for (long op = 0; ok && op < ops; op++) {
		put_token(w, (int)(next_random(&rng) % (uint64_t)w->pairs));
		ok = run_until_drained(d, ctx, w, why);
	}
	*seconds = (double)(mono_ns() - t0) / 1e9;
	d->lib->teardown(ctx);
	return ok && exactly_once(w, why) ? DISPATCH_OK : DISPATCH_BROKEN;
}
