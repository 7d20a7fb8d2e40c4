/*
 * load_engine.c - muxload's engine. Each thread owns an epoll loop (level-
 * triggered), a share of the active connections and of the idle ones.
 * Nothing here uses the server's backends: the client must not share the
 * code it measures.
 *
 * A request moves through three counters per connection:
 *   assigned: it is due (closed loop: a reply freed a slot; open loop: its
 *             intended time passed) and its intended time is recorded;
 *   written:  its bytes are in the socket;
 *   answered: its reply was read and checked.
 * Latency is answered-time minus intended time (open loop: coordinated
 * omission corrected) and minus actual send time (uncorrected).
 */
#include "load_engine.h"
#include "clock.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#define TIMEOUT_CHECK_NS 50000000LL

const char *const load_error_names[LERR_KINDS] = {
	[LERR_REFUSED] = "connect_refused",
	[LERR_PORTS] = "ephemeral_ports_exhausted",
	[LERR_CONNECT] = "connect_other",
	[LERR_MISMATCH] = "mismatch",
	[LERR_CLOSED] = "closed_by_server",
	[LERR_RESET] = "reset",
	[LERR_TIMEOUT] = "timeout",
	[LERR_IDLE_CLOSED] = "idle_closed",
	[LERR_LOST] = "lost",
	[LERR_REORDERED] = "reordered",
	[LERR_DUPLICATE] = "duplicate",
};

/* udp: what a sent-time slot holds once its request is settled. */
#define SLOT_SKIPPED INT64_MIN          /* given up as lost; may still turn up */
#define SLOT_ANSWERED (INT64_MIN + 1)

void note_error(struct lthread *t, enum load_error kind, const char *fmt, ...)
{
	va_list ap;

	t->r.errors[kind]++;
	if (t->r.first_error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(t->r.first_error, sizeof(t->r.first_error), fmt, ap);
	va_end(ap);
}

static void conn_fail(struct lthread *t, struct lconn *c, enum load_error kind, const char *what)
{
	note_error(t, kind, "connection %u: %s", c->id, what);
	epoll_ctl(t->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->dead = true;
}

static void set_out_interest(struct lthread *t, struct lconn *c, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN | (on ? EPOLLOUT : 0u), .data.ptr = c };

	if (c->want_out == on)
		return;
	c->want_out = on;
	epoll_ctl(t->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

static enum load_error send_error_kind(int err)
{
	if (err == ECONNREFUSED)	/* udp: ICMP port unreachable, the server is gone */
		return LERR_REFUSED;
	return err == ECONNRESET || err == EPIPE ? LERR_RESET : LERR_CLOSED;
}

/* Write assigned requests until done or the socket is full. */
static void write_pending(struct lthread *t, struct lconn *c)
{
	const struct load_config *cfg = t->sh->cfg;

	if (c->connecting)
		return;	/* on_connected writes */
	while (!c->dead && (c->tx_off < c->tx_len || c->written < c->assigned)) {
		ssize_t w;

		if (c->tx_off == c->tx_len) {
			uint64_t seq = c->written;

			c->tx_len = cfg->proto->request(c->tx, (size_t)cfg->size, c->id, seq);
			c->tx_off = 0;
			c->t_sent[seq & t->mask] = mono_ns();
		}
		w = send(c->fd, c->tx + c->tx_off, c->tx_len - c->tx_off, MSG_NOSIGNAL);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			conn_fail(t, c, send_error_kind(errno), strerror(errno));
			return;
		}
		c->tx_off += (size_t)w;
		if (c->tx_off == c->tx_len)
			c->written++;
	}
	if (!c->dead)
		set_out_interest(t, c, c->tx_off < c->tx_len || c->written < c->assigned);
}

static void assign(struct lthread *t, struct lconn *c, int64_t intended)
{
	c->t_intended[c->assigned & t->mask] = intended;
	c->assigned++;
}

/* Closed loop: keep --pipeline requests outstanding. */
static void refill(struct lthread *t, struct lconn *c)
{
	int64_t now = mono_ns();

	while (!stopping(t->sh) && c->assigned - c->answered < (uint64_t)t->sh->cfg->pipeline)
		assign(t, c, now);
	write_pending(t, c);
}

static void reply_complete(struct lthread *t, struct lconn *c, int64_t now)
{
	struct shared *sh = t->sh;
	uint64_t seq = c->answered++;
	int64_t intended = c->t_intended[seq & t->mask], sent = c->t_sent[seq & t->mask];

	__atomic_store_n(&t->completed_all, t->completed_all + 1, __ATOMIC_RELAXED);
	/* Measured: asked for after the warm-up, answered before the end. */
	if (intended < sh->warm_ns || now > sh->end_ns)
		return;
	if (sh->cfg->requests) {
		/* Claim a place among the first N; replies after the N-th are not counted. */
		uint64_t k = __atomic_add_fetch(&sh->measured, 1, __ATOMIC_RELAXED);

		if (k > (uint64_t)sh->cfg->requests)
			return;
		if (k == (uint64_t)sh->cfg->requests) {
			__atomic_store_n(&sh->reached_ns, now, __ATOMIC_RELAXED);
			__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
		}
	}
	t->r.requests++;
	t->r.bytes += (uint64_t)sh->cfg->size;
	hist_record(&t->r.latency, (now - intended + 500) / 1000);
	hist_record(&t->r.uncorrected, (now - sent + 500) / 1000);
	if (sh->cfg->hlog)
		interval_record(t, (now - intended + 500) / 1000);
}

/* Feed bytes read from an active connection to its protocol. */
static void take_reply_bytes(struct lthread *t, struct lconn *c, const uint8_t *p, size_t n)
{
	const struct load_config *cfg = t->sh->cfg;
	int64_t now = mono_ns();

	while (n && !c->dead) {
		bool done = false;
		ssize_t used;

		if (c->answered == c->written) {
			conn_fail(t, c, LERR_MISMATCH, "bytes arrived that no request asked for");
			return;
		}
		used = cfg->proto->consume(&c->rp, p, n, (size_t)cfg->size, c->id, c->answered, &done);
		if (used < 0) {
			conn_fail(t, c, LERR_MISMATCH, "reply differs from the request");
			return;
		}
		p += used;
		n -= (size_t)used;
		if (done)
			reply_complete(t, c, now);
	}
}

/*
 * --reconnect: the reply is in, so this connection has done its work: close
 * it and dial the next. The next request is due from now, so its latency
 * includes the connect, as a client that connects for every request sees it.
 */
static void reconnect(struct lthread *t, struct lconn *c)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.ptr = c };
	int64_t now;

	close(c->fd);	/* which also takes it out of the epoll set */
	now = mono_ns();	/* the clock starts at connect(), not before the close */
	c->fd = stopping(t->sh) ? -1 : dial(t, false);
	if (c->fd != -1 && epoll_ctl(t->ep, EPOLL_CTL_ADD, c->fd, &ev) == -1) {
		note_error(t, LERR_CONNECT, "epoll_ctl ADD: %s", strerror(errno));
		close(c->fd);
		c->fd = -1;
	}
	if (c->fd == -1) {
		c->dead = true;
		return;
	}
	c->connecting = true;
	c->want_out = true;
	c->dial_ns = now;
	assign(t, c, now);
}

/* --reconnect: the connect ended (writable: done; an error: failed). Count it, then send. */
static void on_connected(struct lthread *t, struct lconn *c)
{
	const struct shared *sh = t->sh;
	int err = 0;
	socklen_t len = sizeof(err);
	int64_t now = mono_ns();

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1)
		err = errno;
	if (err) {
		note_connect_error(t, err);
		close(c->fd);
		c->dead = true;
		return;
	}
	c->connecting = false;
	/* Within the measured interval; with --requests it ends when the last one is answered. */
	if (c->dial_ns >= sh->warm_ns && now <= sh->end_ns && !stopping(sh)) {
		t->r.connects++;
		hist_record(&t->r.connect, (now - c->dial_ns + 500) / 1000);
	}
	write_pending(t, c);
}

static void on_readable(struct lthread *t, struct lconn *c)
{
	ssize_t r = recv(c->fd, t->rx, sizeof(t->rx), 0);

	if (r > 0) {
		take_reply_bytes(t, c, t->rx, (size_t)r);
		if (c->dead || t->sh->cfg->rate > 0)
			return;
		if (!t->sh->cfg->reconnect)
			refill(t, c);
		else if (c->answered == c->assigned)
			reconnect(t, c);
	} else if (r == 0) {
		conn_fail(t, c, LERR_CLOSED, "closed by the server");
	} else if (errno != EAGAIN && errno != EINTR) {
		conn_fail(t, c, errno == ECONNRESET ? LERR_RESET : LERR_CLOSED, strerror(errno));
	}
}

/* udp: give the oldest unanswered request up as lost. */
static void skip_lost(struct lthread *t, struct lconn *c)
{
	note_error(t, LERR_LOST, "connection %u: request %llu lost (a later reply came first, or none "
		   "within --timeout)", c->id, (unsigned long long)c->answered);
	c->t_sent[c->answered & t->mask] = SLOT_SKIPPED;
	c->answered++;
}

/* udp: a reply older than the oldest unanswered request. */
static void late_datagram(struct lthread *t, struct lconn *c, uint64_t seq)
{
	int64_t *slot = &c->t_sent[seq & t->mask];

	if (c->written - seq > t->mask + 1) {
		/* Its slot was reused: late for sure, lost-then-found or duplicate we cannot tell. */
		note_error(t, LERR_REORDERED, "connection %u: reply %llu arrived very late",
			   c->id, (unsigned long long)seq);
	} else if (*slot == SLOT_SKIPPED) {
		*slot = SLOT_ANSWERED;
		t->r.errors[LERR_LOST]--;	/* not lost after all: reordered */
		note_error(t, LERR_REORDERED, "connection %u: reply %llu arrived after a later one",
			   c->id, (unsigned long long)seq);
	} else {
		note_error(t, LERR_DUPLICATE, "connection %u: reply %llu arrived twice",
			   c->id, (unsigned long long)seq);
	}
}

/* udp: one datagram, one whole reply; its sequence number says which. */
static void on_datagram(struct lthread *t, struct lconn *c)
{
	const struct load_config *cfg = t->sh->cfg;
	ssize_t r = recv(c->fd, t->rx, sizeof(t->rx), MSG_TRUNC);
	long long seq;

	if (r < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(t, c, send_error_kind(errno), strerror(errno));
		return;
	}
	seq = (size_t)r > sizeof(t->rx) ? -1 :
	      cfg->proto->datagram_seq(t->rx, (size_t)r, (size_t)cfg->size, c->id);
	if (seq < 0 || (uint64_t)seq >= c->written) {
		note_error(t, LERR_MISMATCH, "connection %u: a datagram that matches no request", c->id);
		return;
	}
	if ((uint64_t)seq < c->answered) {
		late_datagram(t, c, (uint64_t)seq);
		return;
	}
	/* Loopback does not reorder; whatever a later reply overtook counts lost until it turns up. */
	while (c->answered < (uint64_t)seq)
		skip_lost(t, c);
	reply_complete(t, c, mono_ns());
	c->t_sent[(uint64_t)seq & t->mask] = SLOT_ANSWERED;
	if (cfg->rate == 0)
		refill(t, c);
}

static void on_idle_event(struct lthread *t, int fd)
{
	char b[256];
	ssize_t r = recv(fd, b, sizeof(b), 0);

	if (r == 0 || (r == -1 && errno != EAGAIN && errno != EINTR)) {
		note_error(t, LERR_IDLE_CLOSED, "an idle connection was closed by the server");
		epoll_ctl(t->ep, EPOLL_CTL_DEL, fd, NULL);
		close(fd);
	}
}

/* Open loop: the intended send time of the thread's next request. */
static int64_t next_due_ns(const struct lthread *t)
{
	return t->sh->start_ns + (int64_t)((double)t->scheduled * 1e9 / t->rate);
}

/* Open loop: assign every request whose intended time has come. */
static void schedule_due(struct lthread *t, int64_t now)
{
	const struct shared *sh = t->sh;

	for (;;) {
		int64_t due = next_due_ns(t);
		struct lconn *c = &t->conns[t->scheduled % (uint64_t)t->nconns];

		if (due > now || due > sh->end_ns || stopping(sh))
			return;
		/* A full ring holds the schedule back; the wait shows up as latency. */
		if (!c->dead && c->assigned - c->answered >= OPEN_LOOP_RING)
			return;
		if (!c->dead) {
			assign(t, c, due);
			write_pending(t, c);
		}
		t->scheduled++;
	}
}

static void check_timeouts(struct lthread *t, int64_t now)
{
	int64_t limit = (int64_t)(t->sh->cfg->timeout_s * 1e9);

	for (long i = 0; i < t->nconns; i++) {
		struct lconn *c = &t->conns[i];

		if (c->dead || c->answered == c->assigned ||
		    now - c->t_intended[c->answered & t->mask] <= limit)
			continue;
		if (c->connecting) {
			conn_fail(t, c, LERR_CONNECT, "connect: no answer within --timeout");
			continue;
		}
		if (!t->sh->cfg->proto->datagram) {
			conn_fail(t, c, LERR_TIMEOUT, "no reply within --timeout");
			continue;
		}
		/* A datagram may just be gone: count it and go on. */
		while (c->answered < c->written && now - c->t_intended[c->answered & t->mask] > limit)
			skip_lost(t, c);
		if (t->sh->cfg->rate == 0)
			refill(t, c);
	}
}

/* Sleep in epoll until the next thing to do, with sub-millisecond resolution. */
static int wait_events(struct lthread *t, struct epoll_event *ev, int max, int64_t until)
{
	int64_t left = until - mono_ns();
	struct timespec ts;
	int n;

	if (left < 0)
		left = 0;
	ts.tv_sec = left / 1000000000LL;
	ts.tv_nsec = left % 1000000000LL;
	n = epoll_pwait2(t->ep, ev, max, &ts, NULL);
	if (n == -1 && errno == ENOSYS)	/* kernels before 5.11: round up to a millisecond */
		n = epoll_wait(t->ep, ev, max, (int)((left + 999999) / 1000000));
	return n == -1 ? 0 : n;
}

/* Hand each ready connection to its writer and to the reader its protocol needs. */
static void handle_events(struct lthread *t, struct epoll_event *ev, int n)
{
	const struct shared *sh = t->sh;

	for (int i = 0; i < n; i++) {
		struct lconn *c = ev[i].data.ptr;

		if (ev[i].data.u64 & IDLE_TAG) {
			on_idle_event(t, (int)(ev[i].data.u64 & ~IDLE_TAG));
			continue;
		}
		if (c->connecting) {
			if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
				on_connected(t, c);
			continue;
		}
		if (!c->dead && (ev[i].events & EPOLLOUT))
			write_pending(t, c);
		if (c->dead || !(ev[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
			continue;
		if (sh->cfg->proto->datagram)
			on_datagram(t, c);
		else
			on_readable(t, c);
	}
}

void run_loop(struct lthread *t)
{
	struct shared *sh = t->sh;
	struct epoll_event ev[256];
	int64_t next_check = sh->start_ns + TIMEOUT_CHECK_NS;

	if (sh->cfg->rate == 0)
		for (long i = 0; i < t->nconns; i++)
			if (!t->conns[i].dead)
				refill(t, &t->conns[i]);
	while (!stopping(sh)) {
		int64_t now = mono_ns(), until = next_check;
		int n;

		if (now >= sh->end_ns)
			break;
		if (!t->wall0_ns && now >= sh->warm_ns) {
			t->wall0_ns = now;
			t->cpu0_ns = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		}
		if (sh->cfg->rate > 0) {
			schedule_due(t, now);
			if (next_due_ns(t) < until)
				until = next_due_ns(t);
		}
		if (sh->end_ns < until)
			until = sh->end_ns;
		if (!t->wall0_ns && sh->warm_ns < until)
			until = sh->warm_ns;
		n = wait_events(t, ev, 256, until);
		handle_events(t, ev, n);
		if (mono_ns() >= next_check) {
			check_timeouts(t, mono_ns());
			next_check = mono_ns() + TIMEOUT_CHECK_NS;
		}
	}
}
