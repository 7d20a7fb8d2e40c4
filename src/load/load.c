/*
 * load.c - muxload's engine. Each thread owns an epoll loop (level-
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
#include "load.h"
#include "cli.h"
#include "clock.h"
#include "fdlimit.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Open loop: requests one connection may have due but unanswered before it stops taking more. */
#define OPEN_LOOP_RING 4096
#define TIMEOUT_CHECK_NS 50000000LL
#define IDLE_TAG (1ULL << 63)   /* epoll data of an idle connection: tag | fd */

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
/* udp: how far back a late reply can still be told from a duplicate. */
#define DATAGRAM_RING 1024

struct lconn {
	int fd;
	uint32_t id;
	bool dead, want_out;
	uint64_t assigned, written, answered;
	size_t tx_len, tx_off;     /* the request being written */
	uint8_t *tx;
	struct reply_parse rp;
	int64_t *t_intended, *t_sent;   /* ring, indexed by seq & mask */
};

struct shared {
	const struct load_config *cfg;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	pthread_barrier_t connected, go;
	int64_t start_ns, warm_ns, end_ns;
	int stop;                  /* atomic */
	uint64_t measured;         /* atomic: completed after warm-up, all threads (--requests) */
	int64_t reached_ns;        /* atomic: when --requests was reached */
};

struct lthread {
	struct shared *sh;
	pthread_t tid;
	int ep;
	struct lconn *conns;
	long nconns, nidle;
	uint32_t first_id;
	uint64_t mask;
	double rate;               /* open loop: this thread's share, requests/s */
	uint64_t scheduled;        /* open loop: requests assigned so far */
	uint64_t completed_all;    /* atomic, for progress: including warm-up */
	int64_t cpu0_ns, wall0_ns;
	struct load_result r;
	uint8_t rx[65536];
};

static bool stopping(const struct shared *sh)
{
	return __atomic_load_n(&sh->stop, __ATOMIC_RELAXED);
}

static void note_error(struct lthread *t, enum load_error kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void note_error(struct lthread *t, enum load_error kind, const char *fmt, ...)
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

static void on_readable(struct lthread *t, struct lconn *c)
{
	ssize_t r = recv(c->fd, t->rx, sizeof(t->rx), 0);

	if (r > 0) {
		take_reply_bytes(t, c, t->rx, (size_t)r);
		if (!c->dead && t->sh->cfg->rate == 0)
			refill(t, c);
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

static void run_loop(struct lthread *t)
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

/* Blocking connect, then non-blocking. -1 with the error noted. */
static int dial(struct lthread *t)
{
	const struct shared *sh = t->sh;
	bool dgram = sh->cfg->proto->datagram;
	int fd = socket(sh->addr.ss_family, (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
	int one = 1, saved;

	if (fd == -1) {
		note_error(t, LERR_CONNECT, "socket: %s (file descriptors: raise 'ulimit -n')", strerror(errno));
		return -1;
	}
	if (connect(fd, (const struct sockaddr *)&sh->addr, sh->addrlen) == -1) {
		saved = errno;
		close(fd);
		if (saved == EADDRNOTAVAIL)
			note_error(t, LERR_PORTS, "ephemeral ports exhausted (EADDRNOTAVAIL): use fewer "
				   "connections, or widen net.ipv4.ip_local_port_range");
		else if (saved == ECONNREFUSED)
			note_error(t, LERR_REFUSED, "connection refused by the server (is it still running?)");
		else
			note_error(t, LERR_CONNECT, "connect: %s", strerror(saved));
		return -1;
	}
	if (!dgram)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/*
 * Watch a dialled fd: fd, or -1 after noting why and closing it. An fd left
 * unwatched (ENOMEM, ENOSPC: fs.epoll.max_user_watches) would wait out
 * every --timeout or miss an idle close: an error, never a quiet number.
 */
static int watch(struct lthread *t, int fd, struct epoll_event ev)
{
	if (epoll_ctl(t->ep, EPOLL_CTL_ADD, fd, &ev) == 0)
		return fd;
	note_error(t, LERR_CONNECT, "epoll_ctl ADD: %s", strerror(errno));
	close(fd);
	return -1;
}

static void open_idle(struct lthread *t)
{
	for (long i = 0; i < t->nidle; i++) {
		int fd = dial(t);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = IDLE_TAG | (uint64_t)fd };

		if (fd != -1)
			fd = watch(t, fd, ev);
		if (fd == -1) {
			t->r.failed++;
			if (t->r.errors[LERR_PORTS] || t->r.errors[LERR_REFUSED])
				break;	/* the next ones would fail the same way */
			continue;
		}
		t->r.established++;
	}
}

static void open_active(struct lthread *t)
{
	for (long i = 0; i < t->nconns; i++) {
		struct lconn *c = &t->conns[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->id = t->first_id + (uint32_t)i;
		c->fd = dial(t);
		if (c->fd != -1)
			c->fd = watch(t, c->fd, ev);
		if (c->fd == -1) {
			c->dead = true;
			t->r.failed++;
			continue;
		}
		t->r.established++;
	}
}

static void *thread_main(void *arg)
{
	struct lthread *t = arg;
	int64_t wall1, cpu1;

	open_idle(t);
	open_active(t);
	pthread_barrier_wait(&t->sh->connected);
	pthread_barrier_wait(&t->sh->go);
	run_loop(t);
	wall1 = mono_ns();
	cpu1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (t->wall0_ns && wall1 > t->wall0_ns)
		t->r.busiest_thread_pct = 100.0 * (double)(cpu1 - t->cpu0_ns) / (double)(wall1 - t->wall0_ns);
	return NULL;
}

static int resolve(const struct load_config *cfg, struct shared *sh)
{
	if (cli_sockaddr(cfg->host, cfg->port, &sh->addr, &sh->addrlen))
		return 0;
	fprintf(stderr, "muxload: --host '%s' is not a numeric IPv4 or IPv6 address\n", cfg->host);
	return -1;
}

/* udp: does anything echo? One datagram, one second. */
static int probe_datagram(const struct load_config *cfg, const struct shared *sh)
{
	static const char hello[] = "muxload probe";
	int fd = socket(sh->addr.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), saved = 0;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char back[sizeof(hello)];

	if (fd == -1 || connect(fd, (const struct sockaddr *)&sh->addr, sh->addrlen) == -1 ||
	    send(fd, hello, sizeof(hello), 0) == -1)
		saved = errno;
	else if (poll(&p, 1, 1000) != 1)
		saved = ETIMEDOUT;
	else if (recv(fd, back, sizeof(back), 0) == -1)
		saved = errno;
	if (fd != -1)
		close(fd);
	if (saved == ECONNREFUSED)
		fprintf(stderr, "muxload: nothing listens on udp %s port %d (e.g. build/muxserver --proto udp "
			"--port %d)\n", cfg->host, cfg->port, cfg->port);
	else if (saved == ETIMEDOUT)
		fprintf(stderr, "muxload: no echo from udp %s port %d within 1 s: is a udp echo server "
			"running there?\n", cfg->host, cfg->port);
	else if (saved)
		fprintf(stderr, "muxload: udp %s port %d: %s\n", cfg->host, cfg->port, strerror(saved));
	return saved ? -1 : 0;
}

/* Is anyone listening? One clear line now beats a thousand refused connections later. */
static int probe(const struct load_config *cfg, const struct shared *sh)
{
	int fd = socket(sh->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), saved;

	if (fd == -1 || connect(fd, (const struct sockaddr *)&sh->addr, sh->addrlen) == -1) {
		saved = errno;
		if (fd != -1)
			close(fd);
		if (saved == ECONNREFUSED)
			fprintf(stderr, "muxload: connection refused by %s port %d: is the server running? "
				"(e.g. build/muxserver --port %d)\n", cfg->host, cfg->port, cfg->port);
		else
			fprintf(stderr, "muxload: cannot connect to %s port %d: %s\n",
				cfg->host, cfg->port, strerror(saved));
		return -1;
	}
	close(fd);
	return 0;
}

/* Raise the soft fd limit to what the run needs; one line naming the fix when we cannot. */
static int ensure_fds(const struct load_config *cfg)
{
	rlim_t need = (rlim_t)(cfg->connections + cfg->idle + 2 * cfg->threads + 32), hard = 0;
	/* The soft limit only: a hard limit someone set (ulimit -Hn, prlimit) is theirs to raise. */
	int rc = fdlimit_raise(need, false, &hard);

	if (rc == 0)
		return 0;
	if (rc != -EMFILE)
		fprintf(stderr, "muxload: cannot raise the fd limit: %s\n", strerror(-rc));
	else
		fprintf(stderr, "muxload: too many open files: this run needs %llu file descriptors but the "
			"hard limit is %llu; raise it (as root: ulimit -Hn %llu; ulimit -n %llu) or use fewer "
			"--connections/--idle\n", (unsigned long long)need, (unsigned long long)hard,
			(unsigned long long)need, (unsigned long long)need);
	return -1;
}

static bool thread_init(struct lthread *t, struct shared *sh, long nconns, long nidle, uint32_t first_id)
{
	const struct load_config *cfg = sh->cfg;
	uint64_t ring = cfg->rate > 0 ? OPEN_LOOP_RING : cfg->proto->datagram ? DATAGRAM_RING : 1;

	while (ring < (uint64_t)cfg->pipeline)
		ring *= 2;
	t->sh = sh;
	t->nconns = nconns;
	t->nidle = nidle;
	t->first_id = first_id;
	t->mask = ring - 1;
	t->rate = cfg->rate * (double)nconns / (double)cfg->connections;
	hist_init(&t->r.latency);
	hist_init(&t->r.uncorrected);
	t->ep = epoll_create1(EPOLL_CLOEXEC);
	t->conns = calloc((size_t)nconns, sizeof(*t->conns));
	if (t->ep == -1 || !t->conns)
		return false;
	for (long i = 0; i < nconns; i++) {
		struct lconn *c = &t->conns[i];

		c->fd = -1;
		c->tx = malloc((size_t)cfg->size + LOAD_REQUEST_SLACK);
		c->t_intended = malloc(ring * sizeof(int64_t));
		c->t_sent = malloc(ring * sizeof(int64_t));
		if (!c->tx || !c->t_intended || !c->t_sent)
			return false;
	}
	return true;
}

static void thread_free(struct lthread *t)
{
	for (long i = 0; t->conns && i < t->nconns; i++) {
		if (!t->conns[i].dead && t->conns[i].fd != -1)
			close(t->conns[i].fd);
		free(t->conns[i].tx);
		free(t->conns[i].t_intended);
		free(t->conns[i].t_sent);
	}
	free(t->conns);
	if (t->ep != -1)
		close(t->ep);	/* idle fds are closed at exit; nothing reads them after the run */
}

static void progress_line(struct lthread *ts, long n, int64_t start, int64_t *last_ns, uint64_t *last)
{
	uint64_t total = 0, errors = 0;
	int64_t now = mono_ns();

	for (long i = 0; i < n; i++) {
		total += __atomic_load_n(&ts[i].completed_all, __ATOMIC_RELAXED);
		for (int k = 0; k < LERR_KINDS; k++)
			errors += __atomic_load_n(&ts[i].r.errors[k], __ATOMIC_RELAXED);
	}
	fprintf(stderr, "muxload: %5.1f s  %10.0f req/s  errors %llu\n", (double)(now - start) / 1e9,
		(double)(total - *last) * 1e9 / (double)(now - *last_ns), (unsigned long long)errors);
	*last = total;
	*last_ns = now;
}

/* Main thread: wait for the end (or --requests), printing progress once a second. */
static void supervise(struct shared *sh, struct lthread *ts, long n)
{
	int64_t next_progress = sh->start_ns + 1000000000LL, last_ns = sh->start_ns;
	uint64_t last = 0;

	while (!stopping(sh) && mono_ns() < sh->end_ns) {
		struct timespec nap = { 0, 20000000 };

		nanosleep(&nap, NULL);
		if (sh->cfg->progress && mono_ns() >= next_progress) {
			progress_line(ts, n, sh->start_ns, &last_ns, &last);
			next_progress += 1000000000LL;
		}
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
}

static void merge(struct load_result *res, struct lthread *ts, long n)
{
	for (long i = 0; i < n; i++) {
		struct load_result *r = &ts[i].r;

		res->requests += r->requests;
		res->bytes += r->bytes;
		res->established += r->established;
		res->failed += r->failed;
		for (int k = 0; k < LERR_KINDS; k++) {
			res->errors[k] += r->errors[k];
			res->errors_total += r->errors[k];
		}
		hist_merge(&res->latency, &r->latency);
		hist_merge(&res->uncorrected, &r->uncorrected);
		if (r->busiest_thread_pct > res->busiest_thread_pct)
			res->busiest_thread_pct = r->busiest_thread_pct;
		if (!res->first_error[0] && r->first_error[0])
			memcpy(res->first_error, r->first_error, sizeof(res->first_error));
	}
}

/* Before any thread: the address, the fd limit, and someone answering. -1 after one line. */
static int preflight(const struct load_config *cfg, struct shared *sh)
{
	if (resolve(cfg, sh) || ensure_fds(cfg) ||
	    (cfg->proto->datagram ? probe_datagram(cfg, sh) : probe(cfg, sh)))
		return -1;
	return 0;
}

/* Each thread's share of the connections, its epoll fd and buffers; false after one line. */
static bool threads_init(struct shared *sh, struct lthread *ts, long n)
{
	const struct load_config *cfg = sh->cfg;

	for (long i = 0, first = 0; i < n; i++) {
		/* Spread connections as evenly as possible; the first threads take the remainder. */
		long nc = cfg->connections / n + (i < cfg->connections % n);
		long ni = cfg->idle / n + (i < cfg->idle % n);

		ts[i].ep = -1;
		if (!thread_init(&ts[i], sh, nc, ni, (uint32_t)first)) {
			fprintf(stderr, "muxload: out of memory or fds setting up thread %ld\n", i);
			return false;
		}
		first += nc;
	}
	return true;
}

static void start_threads(struct lthread *ts, long n)
{
	for (long i = 0; i < n; i++) {
		/* pthread_create returns its error; it does not set errno. */
		int err = pthread_create(&ts[i].tid, NULL, thread_main, &ts[i]);

		if (err) {
			/* Threads already started sit at a barrier we cannot release: just go. */
			fprintf(stderr, "muxload: cannot start thread %ld: %s\n", i, strerror(err));
			exit(1);
		}
	}
}

/* The clock starts once every thread has connected: connecting is not measured. */
static void run_threads(struct shared *sh, struct lthread *ts, long n)
{
	const struct load_config *cfg = sh->cfg;

	pthread_barrier_wait(&sh->connected);
	sh->start_ns = mono_ns();
	sh->warm_ns = sh->start_ns + (int64_t)(cfg->warmup_s * 1e9);
	sh->end_ns = cfg->duration_s > 0 ? sh->warm_ns + (int64_t)(cfg->duration_s * 1e9) : INT64_MAX;
	pthread_barrier_wait(&sh->go);
	supervise(sh, ts, n);
	for (long i = 0; i < n; i++)
		pthread_join(ts[i].tid, NULL);
}

/* From the warm-up's end to --requests reached, the --duration's end, or now. */
static double measured_seconds(const struct shared *sh)
{
	int64_t end = sh->reached_ns ? sh->reached_ns : (sh->cfg->duration_s > 0 ? sh->end_ns : mono_ns());

	return end > sh->warm_ns ? (double)(end - sh->warm_ns) / 1e9 : 0;
}

int load_run(const struct load_config *cfg, struct load_result *res)
{
	struct shared sh = { .cfg = cfg };
	struct lthread *ts;
	long n = cfg->threads;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	hist_init(&res->latency);
	hist_init(&res->uncorrected);
	signal(SIGPIPE, SIG_IGN);
	if (preflight(cfg, &sh))
		return -1;
	ts = calloc((size_t)n, sizeof(*ts));
	if (!ts) {
		fprintf(stderr, "muxload: out of memory\n");
		return -1;
	}
	pthread_barrier_init(&sh.connected, NULL, (unsigned)n + 1);
	pthread_barrier_init(&sh.go, NULL, (unsigned)n + 1);
	if (!threads_init(&sh, ts, n))
		goto out;
	start_threads(ts, n);
	run_threads(&sh, ts, n);
	merge(res, ts, n);
	res->measured_s = measured_seconds(&sh);
	rc = 0;
out:
	for (long i = 0; i < n; i++)
		thread_free(&ts[i]);
	pthread_barrier_destroy(&sh.connected);
	pthread_barrier_destroy(&sh.go);
	free(ts);
	return rc;
}
