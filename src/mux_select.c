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

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>

#define WORD_BITS (sizeof(unsigned long) * CHAR_BIT)

struct mux_select {
	struct mux base;
	unsigned char *interest;   /* per fd: MUX_IN|MUX_OUT, 0 = not registered */
	size_t interest_cap;
	/*
	 * The wanted sets are the master copy; select() overwrites the sets it
	 * is given with the ready ones, so each wait works on fresh copies.
	 */
	unsigned long *want_in, *want_out, *got_in, *got_out;
	size_t words;
	int max_fd;                /* highest registered fd, -1 if none */
	int count;                 /* registered fds */
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
		if (mux_grow((void **)sets[i], &cap, need, sizeof(unsigned long)))
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
	s->base.ops = &mux_select_ops;
	s->max_fd = -1;
	if (grow_sets(s, hint) ||
	    mux_grow((void **)&s->interest, &s->interest_cap, (size_t)hint, 1)) {
		select_destroy(&s->base);
		errno = ENOMEM;
		return NULL;
	}
	return &s->base;
}

static bool valid(unsigned interest)
{
	return interest && !(interest & ~(unsigned)(MUX_IN | MUX_OUT));
}

static unsigned registered(struct mux_select *s, int fd)
{
	return (size_t)fd < s->interest_cap ? s->interest[fd] : 0;
}

static void set_bits(struct mux_select *s, int fd, unsigned interest)
{
	bit_put(s->want_in, fd, interest & MUX_IN);
	bit_put(s->want_out, fd, interest & MUX_OUT);
	s->interest[fd] = (unsigned char)interest;
}

static int select_add(struct mux *m, int fd, unsigned interest)
{
	struct mux_select *s = to_select(m);

	if (fd < 0 || !valid(interest))
		return -EINVAL;
	if (registered(s, fd))
		return -EEXIST;
	if (grow_sets(s, fd) ||
	    mux_grow((void **)&s->interest, &s->interest_cap, (size_t)fd, 1))
		return -ENOMEM;
	set_bits(s, fd, interest);
	s->count++;
	if (fd > s->max_fd)
		s->max_fd = fd;
	return 0;
}

static int select_mod(struct mux *m, int fd, unsigned interest)
{
	struct mux_select *s = to_select(m);

	if (fd < 0 || !valid(interest))
		return -EINVAL;
	if (!registered(s, fd))
		return -ENOENT;
	set_bits(s, fd, interest);
	return 0;
}

static int select_del(struct mux *m, int fd)
{
	struct mux_select *s = to_select(m);

	if (fd < 0)
		return -EINVAL;
	if (!registered(s, fd))
		return -ENOENT;
	bit_put(s->want_in, fd, false);
	bit_put(s->want_out, fd, false);
	s->interest[fd] = 0;
	s->count--;
	/* Amortised: each fd is walked past at most once per time it was max. */
	while (s->max_fd >= 0 && !s->interest[s->max_fd])
		s->max_fd--;
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
	m->stats.scanned += (uint64_t)s->count;
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
	free(s->interest);
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
