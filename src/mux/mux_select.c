/*
 * mux_select.c - select(2) without the FD_SETSIZE ceiling.
 *
 * glibc's fd_set holds 1024 bits, FD_SET on a larger fd is undefined, and
 * with _FORTIFY_SOURCE glibc aborts for fd >= 1024 even when the memory
 * behind the set is big enough. The kernel itself takes any nfds and reads
 * nfds bits from each set, laid out as an array of unsigned long. So we own
 * the bit arrays, size them to the highest fd, and set the bits ourselves.
 */
#include "mux.h"
#include "grow.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#define WORD_BITS (sizeof(unsigned long) * CHAR_BIT)

struct mux_select {
	struct mux base;
	/*
	 * The wanted sets are the master copy; select() overwrites the sets it
	 * is given with the ready ones, so each wait works on fresh copies.
	 */
	unsigned long *want_in, *want_out, *got_in, *got_out;
	size_t words;
	int max_fd;                /* highest registered fd, -1 if none */
	int next_fd;               /* where the next scan of the ready sets begins */
};

static struct mux_select *to_select(struct mux *m)
{
	return (struct mux_select *)m;
}

static void bit_put(unsigned long *set, int fd, bool on)
{
	unsigned long bit = 1UL << (fd % WORD_BITS);

	if (on)
		set[fd / WORD_BITS] |= bit;
	else
		set[fd / WORD_BITS] &= ~bit;
}

static bool bit_get(const unsigned long *set, int fd)
{
	return set[fd / WORD_BITS] >> (fd % WORD_BITS) & 1;
}

/* Make room for fd in all four bit arrays. */
static int grow_sets(struct mux_select *s, int fd)
{
	size_t need = (size_t)fd / WORD_BITS + 1, cap = s->words;
	unsigned long **sets[] = { &s->want_in, &s->want_out, &s->got_in, &s->got_out };

	if (need <= s->words)
		return 0;
	for (size_t i = 0; i < 4; i++) {
		cap = s->words;
		if (grow_array((void **)sets[i], &cap, need, sizeof(unsigned long)))
			return -ENOMEM;
	}
	s->words = cap;
	return 0;
}

static void select_destroy(struct mux *m);

static struct mux *select_create(int capacity_hint)
{
	struct mux_select *s = calloc(1, sizeof(*s));
	int hint = capacity_hint > 0 ? capacity_hint : 1;

	if (!s)
		return NULL;
	s->max_fd = -1;
	if (grow_sets(s, hint)) {
		select_destroy(&s->base);
		errno = ENOMEM;
		return NULL;
	}
	return &s->base;
}

static void set_bits(struct mux_select *s, int fd, unsigned interest)
{
	bit_put(s->want_in, fd, interest & MUX_IN);
	bit_put(s->want_out, fd, interest & MUX_OUT);
}

static int select_add(struct mux *m, int fd, unsigned interest)
{
	struct mux_select *s = to_select(m);

	if (grow_sets(s, fd))
		return -ENOMEM;
	set_bits(s, fd, interest);
	if (fd > s->max_fd)
		s->max_fd = fd;
	return 0;
}

static int select_mod(struct mux *m, int fd, unsigned interest)
{
	set_bits(to_select(m), fd, interest);
	return 0;
}

static int select_del(struct mux *m, int fd)
{
	struct mux_select *s = to_select(m);

	set_bits(s, fd, 0);
	/*
	 * fd is still in the front layer's table until we return, so the walk
	 * down starts below it. Amortised: each fd is walked past at most once
	 * per time it was max.
	 */
	if (fd == s->max_fd)
		do
			s->max_fd--;
		while (s->max_fd >= 0 && !mux_interest(m, s->max_fd));
	return 0;
}

/* Ready fds in [from, to) appended to out[n..max); returns the new n. */
static int collect(struct mux_select *s, int from, int to, struct mux_event *out, int n, int max)
{
	for (size_t w = (size_t)from / WORD_BITS; w * WORD_BITS < (size_t)to && n < max; w++) {
		unsigned long bits = s->got_in[w] | s->got_out[w];

		if (w == (size_t)from / WORD_BITS)
			bits &= ~0UL << (from % WORD_BITS);
		for (; bits && n < max; bits &= bits - 1) {
			int fd = (int)(w * WORD_BITS) + __builtin_ctzl(bits);

			if (fd >= to)
				return n;
			out[n].fd = fd;
			out[n].events = (bit_get(s->got_in, fd) ? MUX_IN : 0) |
					(bit_get(s->got_out, fd) ? MUX_OUT : 0);
			n++;
		}
	}
	return n;
}

static int select_wait(struct mux *m, struct mux_event *out, int max, int timeout_ms)
{
	struct mux_select *s = to_select(m);
	int nfds = s->max_fd + 1, start = s->next_fd < nfds ? s->next_fd : 0, n, ready;
	size_t nwords = ((size_t)nfds + WORD_BITS - 1) / WORD_BITS;
	struct timeval tv, *tvp = NULL;

	if (timeout_ms >= 0) {
		tv.tv_sec = timeout_ms / 1000;
		tv.tv_usec = (timeout_ms % 1000) * 1000;
		tvp = &tv;
	}
	memcpy(s->got_in, s->want_in, nwords * sizeof(unsigned long));
	memcpy(s->got_out, s->want_out, nwords * sizeof(unsigned long));
	m->stats.waits++;
	m->stats.scanned += (uint64_t)m->count;
	/* The casts are the point: the kernel reads nfds bits, not sizeof(fd_set). */
	ready = select(nfds, (fd_set *)s->got_in, (fd_set *)s->got_out, NULL, tvp);
	if (ready == -1)
		return errno == EINTR ? 0 : -errno;
	if (ready == 0)
		return 0;
	/*
	 * Resume after the last fd a full batch reported, wrapping round: a
	 * scan from fd 0 every time would hand back the same first max ready
	 * fds forever while more than max stay busy, and starve the rest.
	 */
	n = collect(s, start, nfds, out, 0, max);
	n = collect(s, 0, start, out, n, max);
	if (n > 0 && n == max)
		s->next_fd = out[n - 1].fd + 1;
	m->stats.events += (uint64_t)n;
	return n;
}

static void select_destroy(struct mux *m)
{
	struct mux_select *s = to_select(m);

	free(s->want_in);
	free(s->want_out);
	free(s->got_in);
	free(s->got_out);
	free(s);
}

const struct mux_ops mux_select_ops = {
	.name = "select",
	.summary = "select(2), level-triggered; O(n) copy and scan per call; own bit arrays past FD_SETSIZE",
	.edge_triggered = false,
	.create = select_create,
	.add = select_add,
	.mod = select_mod,
	.del = select_del,
	.wait = select_wait,
	.destroy = select_destroy,
};
