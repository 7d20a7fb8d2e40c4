/*
 * load_setup.c - before the run: the address, the fd limit and a probe that
 * someone answers; each thread's buffers; its connections, dialled and watched.
 */
#include "load_engine.h"
#include "cli.h"
#include "fdlimit.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

/* udp: how far back a late reply can still be told from a duplicate. */
#define DATAGRAM_RING 1024

static int resolve(const struct load_config *cfg, struct shared *sh)
{
	if (cli_sockaddr(cfg->host, cfg->port, &sh->addr, &sh->addrlen))
		return 0;
	load_fail("--host '%s' is not a numeric IPv4 or IPv6 address", cfg->host);
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
		load_fail("nothing listens on udp %s port %d (e.g. build/muxserver --proto udp "
			"--port %d)", cfg->host, cfg->port, cfg->port);
	else if (saved == ETIMEDOUT)
		load_fail("no echo from udp %s port %d within 1 s: is a udp echo server "
			"running there?", cfg->host, cfg->port);
	else if (saved)
		load_fail("udp %s port %d: %s", cfg->host, cfg->port, strerror(saved));
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
			load_fail("connection refused by %s port %d: is the server running? "
				"(e.g. build/muxserver --port %d)", cfg->host, cfg->port, cfg->port);
		else
			load_fail("cannot connect to %s port %d: %s",
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
		load_fail("cannot raise the fd limit: %s", strerror(-rc));
	else
		load_fail("too many open files: this run needs %llu file descriptors but the "
			"hard limit is %llu; raise it (as root: ulimit -Hn %llu; ulimit -n %llu) or use fewer "
			"--connections/--idle", (unsigned long long)need, (unsigned long long)hard,
			(unsigned long long)need, (unsigned long long)need);
	return -1;
}

/* Before any thread: the address, the fd limit, and someone answering. -1 after one line. */
int preflight(const struct load_config *cfg, struct shared *sh)
{
	if (resolve(cfg, sh) || ensure_fds(cfg) ||
	    (cfg->proto->datagram ? probe_datagram(cfg, sh) : probe(cfg, sh)))
		return -1;
	return 0;
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
	hist_init(&t->r.connect);
	t->ep = epoll_create1(EPOLL_CLOEXEC);
	t->conns = calloc((size_t)nconns, sizeof(*t->conns));
	if (t->ep == -1 || !t->conns)
		return false;
	for (long i = 0; i < nconns; i++)
		t->conns[i].fd = -1;	/* before any allocation can fail: cleanup closes fds != -1 */
	for (long i = 0; i < nconns; i++) {
		struct lconn *c = &t->conns[i];

		c->tx = malloc((size_t)cfg->size + LOAD_REQUEST_SLACK);
		c->t_intended = malloc(ring * sizeof(int64_t));
		c->t_sent = malloc(ring * sizeof(int64_t));
		if (!c->tx || !c->t_intended || !c->t_sent)
			return false;
	}
	return true;
}

/* Each thread's share of the connections, its epoll fd and buffers; false after one line. */
bool threads_init(struct shared *sh, struct lthread *ts, long n)
{
	const struct load_config *cfg = sh->cfg;

	/* Cleanup frees every thread, also those never set up: no fd 0 to close. */
	for (long i = 0; i < n; i++)
		ts[i].ep = -1;
	for (long i = 0, first = 0; i < n; i++) {
		/* Spread connections as evenly as possible; the first threads take the remainder. */
		long nc = cfg->connections / n + (i < cfg->connections % n);
		long ni = cfg->idle / n + (i < cfg->idle % n);

		if (!thread_init(&ts[i], sh, nc, ni, (uint32_t)first)) {
			load_fail("out of memory or fds setting up thread %ld", i);
			return false;
		}
		first += nc;
	}
	return true;
}

void note_connect_error(struct lthread *t, int err)
{
	if (err == EADDRNOTAVAIL)
		note_error(t, LERR_PORTS, "ephemeral ports exhausted (EADDRNOTAVAIL): use fewer "
			   "connections, or widen net.ipv4.ip_local_port_range");
	else if (err == ECONNREFUSED)
		note_error(t, LERR_REFUSED, "connection refused by the server (is it still running?)");
	else
		note_error(t, LERR_CONNECT, "connect: %s", strerror(err));
}

/*
 * A socket connected to the server, -1 with the error noted. wait: a
 * blocking connect, the socket made non-blocking after (setup). Otherwise
 * the connect is left under way (--reconnect; on_connected finishes it).
 */
int dial(struct lthread *t, bool wait)
{
	const struct shared *sh = t->sh;
	bool dgram = sh->cfg->proto->datagram;
	int type = (dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC | (wait ? 0 : SOCK_NONBLOCK);
	int fd = socket(sh->addr.ss_family, type, 0);
	int one = 1, saved;

	if (fd == -1) {
		note_error(t, LERR_CONNECT, "socket: %s (file descriptors: raise 'ulimit -n')", strerror(errno));
		return -1;
	}
	if (!dgram)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&sh->addr, sh->addrlen) == -1 && (wait || errno != EINPROGRESS)) {
		saved = errno;
		close(fd);
		note_connect_error(t, saved);
		return -1;
	}
	if (wait)
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

void open_idle(struct lthread *t)
{
	for (long i = 0; i < t->nidle; i++) {
		int fd = dial(t, true);
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

void open_active(struct lthread *t)
{
	for (long i = 0; i < t->nconns; i++) {
		struct lconn *c = &t->conns[i];
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		c->id = t->first_id + (uint32_t)i;
		c->fd = dial(t, true);
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

void thread_free(struct lthread *t)
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
