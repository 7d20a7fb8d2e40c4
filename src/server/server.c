/*
 * server.c - the server's event loop, whatever the protocol (include/proto.h)
 * and the backend. Uses only include/mux.h: the one
 * backend property it reads is edge_triggered, which decides whether a
 * wake-up is drained until EAGAIN.
 */
#include "server.h"
#include "cli.h"
#include "clock.h"
#include "fdlimit.h"
#include "proto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* One read's worth. 64 KiB lets a bulk sender fill a loopback window in few calls. */
#define READ_CHUNK (64 * 1024)
/*
 * Edge-triggered: reads per connection per wake-up before we move on to
 * the others (4 x 64 KiB), so one fast sender cannot starve the rest.
 */
#define ET_READS_PER_WAKE 4
#define MAX_EVENTS 512
/* Buffers bigger than this are freed once drained instead of kept for reuse. */
#define KEEP_BUFFER (64 * 1024)
/* When the spare fd cannot be had back, stop accepting for this long. */
#define ACCEPT_PAUSE_MS 100

/* Bytes data[off .. len) of a growable buffer. */
struct buf {
	char *data;
	size_t off, len, cap;
};

struct conn {
	int fd;
	unsigned interest;
	bool peer_eof;
	bool peer_done_sending;    /* MUX_RDHUP seen: read on until EOF */
	bool closing;              /* the protocol asked to close once output is sent */
	bool held;                 /* `in` may hold requests not parsed for want of output room */
	bool in_ready_list;
	double last_active;        /* loop time of its last event, for --idle-timeout */
	double partial_since;      /* loop time the incomplete request in `in` began; 0: none */
	double paused_since;       /* loop time we stopped reading it for its output; 0: reading */
	double out_since;          /* loop time its pending output last moved, for --send-timeout */
	size_t charged;            /* in.cap + out.cap, as last counted in st.mem */
	struct buf out;            /* replies the socket would not take yet */
	struct buf in;             /* a partial request, or requests held while output is at the cap */
	struct conn *prev, *next;  /* ready list (edge-triggered work left over) */
	unsigned char proto_state[]; /* the protocol's per-connection state */
};

/* What the protocol emitted for one read: the first reply by reference, more copied. */
struct proto_out {
	struct buf *stage;
	const char *first;
	size_t first_len;
	size_t limit;              /* bytes it may emit before the connection is at --max-pending */
	bool staged, failed;
	uint64_t replies;
};

struct server {
	const struct server_config *cfg;
	struct mux *mux;
	int listen_fd;
	int spare_fd;              /* kept open so EMFILE can be answered by accept-and-close */
	int sig_pipe[2];
	struct conn **by_fd;
	size_t by_fd_cap;
	long open_conns;
	struct conn *ready_head;
	bool stopping, stop_now, shedding;
	int stops_taken;           /* stop_signals already acted on */
	double accept_paused_until, deadline;
	double now;                /* monotonic time, read once per loop turn */
	double next_sweep;         /* loop time of the next timeout sweep; 0: no timeouts set */
	double mem_logged_at;      /* loop time of the last --max-memory log line */
	struct server_stats st;
	struct buf stage;          /* replies of one read, when there is more than one */
	char scratch[READ_CHUNK];
};

static volatile sig_atomic_t signal_pipe_fd = -1;
/*
 * What the signals asked for. The self-pipe only wakes the loop: a byte per
 * signal is dropped when the pipe is full, and the bytes queued may all be
 * SIGUSR1, so a SIGTERM must not depend on room in it.
 */
static volatile sig_atomic_t stop_signals;  /* SIGINT/SIGTERM seen, counted up to 2 */
static volatile sig_atomic_t stats_wanted;  /* SIGUSR1 seen since the last stats line */


static void on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;

	if (signo == SIGUSR1)
		stats_wanted = 1;
	else if (stop_signals < 2)	/* the second means: stop now */
		stop_signals++;
	/* A full pipe already wakes the loop: dropping this byte loses nothing. */
	if (write(signal_pipe_fd, &b, 1) == -1) {
	}
	errno = saved;
}

static size_t pending(const struct conn *c)
{
	return c->out.len - c->out.off;
}

static void ready_list_remove(struct server *s, struct conn *c)
{
	if (!c->in_ready_list)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->ready_head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	c->in_ready_list = false;
}

static void ready_list_push(struct server *s, struct conn *c)
{
	if (c->in_ready_list)
		return;
	c->prev = NULL;
	c->next = s->ready_head;
	if (s->ready_head)
		s->ready_head->prev = c;
	s->ready_head = c;
	c->in_ready_list = true;
}

static void conn_close(struct server *s, struct conn *c)
{
	/*
	 * Closing with unread input makes the kernel send RST, which can destroy
	 * a final reply (a 400) before the peer reads it. Discard what is there.
	 */
	for (int i = 0; c->closing && i < 16 && read(c->fd, s->scratch, sizeof(s->scratch)) > 0; i++)
		;
	/* del before close: select and poll would otherwise fail on the dead fd. */
	if (mux_del(s->mux, c->fd) == 0)
		s->st.dels++;
	close(c->fd);
	s->by_fd[c->fd] = NULL;
	ready_list_remove(s, c);
	free(c->out.data);
	free(c->in.data);
	s->st.mem -= c->charged;
	free(c);
	s->open_conns--;
	s->st.closed++;
}

/* Append to a buffer, compacting or growing it. false when out of memory. */
static bool buf_append(struct buf *b, const char *data, size_t n)
{
	if (b->off && b->len + n > b->cap) {
		memmove(b->data, b->data + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
	}
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return false;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, n);
	b->len += n;
	return true;
}

static void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){ 0 };
}

/* Forget a drained buffer's contents; give big ones back to the allocator. */
static void buf_reset(struct buf *b)
{
	b->off = b->len = 0;
	if (b->cap > KEEP_BUFFER)
		buf_free(b);
}

void proto_emit(struct proto_out *o, const char *data, size_t n)
{
	o->replies++;
	if (!o->first && !o->staged) {
		o->first = data;
		o->first_len = n;
		return;
	}
	if (!o->staged) {
		o->stage->off = o->stage->len = 0;
		o->staged = true;
		if (!buf_append(o->stage, o->first, o->first_len))
			o->failed = true;
	}
	if (!buf_append(o->stage, data, n))
		o->failed = true;
}

size_t proto_room(const struct proto_out *o)
{
	size_t queued = o->staged ? o->stage->len : o->first_len;

	return queued < o->limit ? o->limit - queued : 0;
}

/* send() that counts; returns bytes sent, 0 on EAGAIN, -1 on a dead peer. */
static ssize_t send_some(struct server *s, int fd, const char *data, size_t n)
{
	for (;;) {
		/* MSG_NOSIGNAL: a vanished reader gives EPIPE here instead of SIGPIPE. */
		ssize_t w = send(fd, data, n, MSG_NOSIGNAL);

		s->st.writes++;
		if (w >= 0) {
			s->st.bytes_out += (uint64_t)w;
			return w;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == ECONNRESET || errno == EPIPE)
			s->st.resets++;
		return -1;
	}
}

/* Send what is buffered, until done or the socket is full. false: close it. */
static bool flush(struct server *s, struct conn *c)
{
	while (pending(c)) {
		ssize_t w = send_some(s, c->fd, c->out.data + c->out.off, pending(c));

		if (w < 0)
			return false;
		if (w == 0)
			break;
		c->out.off += (size_t)w;
		c->out_since = s->now;
	}
	if (!pending(c))
		buf_reset(&c->out);
	return true;
}

/* Send a reply directly when nothing is queued ahead of it; queue what the socket refuses. */
static bool send_reply(struct server *s, struct conn *c, const char *data, size_t n)
{
	ssize_t w = 0;

	if (!n)
		return true;
	if (!pending(c)) {
		w = send_some(s, c->fd, data, n);
		if (w < 0)
			return false;
	}
	if (!pending(c))
		c->out_since = s->now;	/* --send-timeout counts from the first byte queued */
	if ((size_t)w < n && !buf_append(&c->out, data + w, n - (size_t)w))
		return false;
	if (pending(c) > s->st.pending_max)
		s->st.pending_max = pending(c);
	return true;
}

/*
 * Hand n bytes just read (none: only what is kept) to the protocol, together
 * with any partial or held requests kept from earlier reads, and send what
 * it emits. false: close now.
 */
static bool deliver(struct server *s, struct conn *c, char *data, size_t n)
{
	size_t queued = pending(c), cap = s->cfg->max_pending;
	struct proto_out o = { .stage = &s->stage, .limit = queued < cap ? cap - queued : 0 };
	long used;

	if (c->in.len) {
		if (n && !buf_append(&c->in, data, n))
			return false;
		data = c->in.data;
		n = c->in.len;
	}
	used = s->cfg->proto->input(c->proto_state, data, n, &o, &s->cfg->pcfg);
	s->st.requests += o.replies;
	if (o.failed)
		return false;
	c->held = used >= 0 && (size_t)used < n && proto_room(&o) == 0;
	if (!send_reply(s, c, o.staged ? s->stage.data : o.first, o.staged ? s->stage.len : o.first_len))
		return false;
	if (o.staged)
		buf_reset(&s->stage);	/* one burst must not pin a big staging buffer for good */
	if (used < 0) {
		c->closing = true;	/* close once the replies are out; ignore anything after */
		buf_reset(&c->in);
		c->partial_since = 0;	/* nothing is awaited now: no 408 may follow the last reply */
		return true;
	}
	if (data == c->in.data) {
		memmove(c->in.data, c->in.data + used, n - (size_t)used);
		c->in.len = n - (size_t)used;
		if (!c->in.len)
			buf_reset(&c->in);
	} else if ((size_t)used != n && !buf_append(&c->in, data + used, n - (size_t)used)) {
		return false;
	}
	/* --header-timeout counts from a request's first byte: trickling more does not reset it. */
	if (!c->in.len)
		c->partial_since = 0;
	else if (!c->partial_since || used > 0)
		c->partial_since = s->now;
	return true;
}

/* Count what a connection's buffers hold now into the server-wide total. */
static void account(struct server *s, struct conn *c)
{
	size_t now = c->in.cap + c->out.cap;

	s->st.mem = s->st.mem - c->charged + now;
	c->charged = now;
	if (s->st.mem > s->st.mem_max)
		s->st.mem_max = s->st.mem;
}

static bool over_budget(const struct server *s)
{
	return s->cfg->max_memory && s->st.mem >= s->cfg->max_memory;
}

/* Held requests come before new bytes: reading more would only grow `in`. */
static bool reading_allowed(const struct server *s, const struct conn *c)
{
	return !c->peer_eof && !c->closing && !c->held && pending(c) < s->cfg->max_pending;
}

/*
 * Answer requests held in `in` for as long as the output has room: each
 * pass consumes at least one request or finds none complete, and `in` is
 * bounded, so this ends. false: close now.
 */
static bool serve_held(struct server *s, struct conn *c)
{
	bool was_held = c->held;

	while (c->held && !c->closing && pending(c) < s->cfg->max_pending)
		if (!deliver(s, c, NULL, 0) || (pending(c) && !flush(s, c)))
			return false;
	/* Edge-triggered: reading stopped short of EAGAIN, and no new edge may come. */
	if (was_held && s->mux->ops->edge_triggered && reading_allowed(s, c))
		ready_list_push(s, c);
	return true;
}

/*
 * Read and echo. Level-triggered: one read per wake-up (the backend will
 * report the fd again if more is there). Edge-triggered: read until EAGAIN
 * or a short read, at most ET_READS_PER_WAKE times, then queue the
 * connection on the ready list so the others get their turn.
 * false: the connection must be closed.
 */
static bool serve_input(struct server *s, struct conn *c)
{
	int reads = s->mux->ops->edge_triggered ? ET_READS_PER_WAKE : 1;

	/* Over --max-memory no one reads until the loop turn ends and the biggest are closed. */
	while (reads-- > 0 && reading_allowed(s, c) && !over_budget(s)) {
		/* Never read more than the cap leaves room for: buffered output stays <= cap. */
		size_t want = s->cfg->max_pending - pending(c);
		ssize_t r;

		if (want > READ_CHUNK)
			want = READ_CHUNK;
		r = read(c->fd, s->scratch, want);
		s->st.reads++;
		if (r > 0) {
			s->st.bytes_in += (uint64_t)r;
			if (!deliver(s, c, s->scratch, (size_t)r))
				return false;
			account(s, c);
			if ((size_t)r < want && !c->peer_done_sending)
				return true;	/* a short read proves the socket empty */
			continue;
		}
		if (r == 0) {
			c->peer_eof = true;
			return true;
		}
		if (errno == EINTR) {
			reads++;
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return true;
		if (errno == ECONNRESET)
			s->st.resets++;
		return false;
	}
	if (s->mux->ops->edge_triggered && reading_allowed(s, c))
		ready_list_push(s, c);
	return true;
}

/* Not reading or parsing because of its own output: at the cap, or requests held for room. */
static bool paused_for_output(const struct server *s, const struct conn *c)
{
	return !c->closing && (c->held || (!c->peer_eof && pending(c) >= s->cfg->max_pending));
}

/*
 * --header-timeout measures the peer, so time the server spent not reading
 * from it does not count: the clock stops at a pause and runs on from
 * where it was when reading resumes.
 */
static void track_pause(struct server *s, struct conn *c)
{
	if (paused_for_output(s, c)) {
		if (!c->paused_since)
			c->paused_since = s->now;
		return;
	}
	/* A request that began during the pause starts its clock now. */
	if (c->paused_since && c->partial_since)
		c->partial_since += s->now - (c->partial_since > c->paused_since ? c->partial_since : c->paused_since);
	c->paused_since = 0;
}

/* Ask for exactly what the connection needs now; close it when it needs nothing. */
static void settle(struct server *s, struct conn *c)
{
	unsigned want = (reading_allowed(s, c) ? MUX_IN : 0u) | (pending(c) ? MUX_OUT : 0u);

	track_pause(s, c);

	if (!want) {
		conn_close(s, c);	/* peer finished and everything was echoed */
		return;
	}
	if (want == c->interest)
		return;
	if (!(want & MUX_IN) && pending(c))
		s->st.paused++;
	if (mux_mod(s->mux, c->fd, want) < 0) {
		conn_close(s, c);
		return;
	}
	c->interest = want;
}

static void serve_conn(struct server *s, struct conn *c, unsigned events)
{
	c->last_active = s->now;
	s->st.out_events += (events & MUX_OUT) != 0;
	if (events & MUX_RDHUP)
		c->peer_done_sending = true;
	if ((events & MUX_OUT) && !flush(s, c))
		goto fail;
	if ((events & MUX_IN) && !serve_input(s, c))
		goto fail;
	if (pending(c) && !flush(s, c))
		goto fail;
	if (!serve_held(s, c))
		goto fail;
	account(s, c);
	settle(s, c);
	return;
fail:
	conn_close(s, c);
}

static void conn_open(struct server *s, int fd)
{
	struct conn *c;
	int one = 1;

	if (mux_grow((void **)&s->by_fd, &s->by_fd_cap, (size_t)fd, sizeof(*s->by_fd)) ||
	    !(c = calloc(1, sizeof(*c) + s->cfg->proto->state_size))) {
		close(fd);
		return;
	}
	/* Echo replies are small and latency-bound: do not let Nagle hold them. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->cfg->sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &s->cfg->sndbuf, sizeof(s->cfg->sndbuf));
	if (s->cfg->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &s->cfg->rcvbuf, sizeof(s->cfg->rcvbuf));
	c->fd = fd;
	c->interest = MUX_IN;
	c->last_active = s->now;
	if (mux_add(s->mux, fd, MUX_IN) < 0) {
		close(fd);
		free(c);
		return;
	}
	s->by_fd[fd] = c;
	s->open_conns++;
	s->st.accepted++;
}

/*
 * One line of output that never blocks the loop: a reader that stops
 * reading (a supervisor that only wanted the port line) must not freeze
 * every client and SIGTERM with it. A line that would block is dropped and
 * counted. For a pipe, POLLOUT means a free page, so a line of at most
 * PIPE_BUF bytes then goes in whole. fd's flags stay as they are: making it
 * O_NONBLOCK would change them for every process sharing it.
 */
static void __attribute__((format(printf, 3, 4)))
emit(struct server *s, int fd, const char *fmt, ...)
{
	char line[PIPE_BUF];
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	ssize_t w = -1;
	va_list ap;
	int len, r;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line))
		len = sizeof(line) - 1;
	while ((r = poll(&p, 1, 0)) == -1 && errno == EINTR)
		;
	if (r == 1 && (p.revents & POLLOUT))
		while ((w = write(fd, line, (size_t)len)) == -1 && errno == EINTR)
			;
	if (w != len)
		s->st.log_dropped++;
}

static void log_line(struct server *s, const char *msg)
{
	if (!s->cfg->quiet)
		emit(s, STDERR_FILENO, "muxserver: %s\n", msg);
}

/*
 * Out of fds: the pending client would sit in the backlog and the
 * level-triggered listener would wake us forever. Give the spare fd back,
 * accept the client and close it at once so it learns (EOF) instead of
 * hanging, then take the spare again. If even that fails, stop listening
 * for a moment. Returns true when a client was shed and more may wait;
 * false when the queue is empty (Linux reports EMFILE before it looks at
 * the queue, so EMFILE alone does not mean anyone is waiting).
 */
static bool shed_one(struct server *s)
{
	int fd = -1;

	if (!s->shedding)
		log_line(s, "out of file descriptors; closing new connections until some are free");
	s->shedding = true;
	if (s->spare_fd != -1) {
		close(s->spare_fd);
		fd = accept(s->listen_fd, NULL, NULL);
		if (fd != -1) {
			close(fd);
			s->st.shed++;
		}
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (s->spare_fd == -1 && s->accept_paused_until == 0) {
		mux_del(s->mux, s->listen_fd);
		s->accept_paused_until = mono_s() + ACCEPT_PAUSE_MS / 1000.0;
	}
	return fd != -1;
}

static void accept_all(struct server *s)
{
	while (!s->stopping && s->accept_paused_until == 0) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) &&
			    shed_one(s))
				continue;
			return;	/* EAGAIN, or nothing we can do now */
		}
		s->shedding = false;
		if (s->cfg->max_conns > 0 && s->open_conns >= s->cfg->max_conns) {
			close(fd);
			s->st.refused++;
			continue;
		}
		conn_open(s, fd);
	}
}

/*
 * UDP: echo every datagram waiting on the socket. MSG_TRUNC makes recvfrom
 * return a datagram's real length, so one longer than the buffer is seen,
 * counted and dropped instead of echoed cut short. Level-triggered backends
 * take at most 256 per wake-up; edge-triggered ones drain to EAGAIN.
 */
static void serve_datagrams(struct server *s)
{
	size_t cap = s->cfg->pcfg.dgram_size < READ_CHUNK ? s->cfg->pcfg.dgram_size : READ_CHUNK;

	for (int n = 0; s->mux->ops->edge_triggered || n < 256; n++) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		struct proto_out o = { .stage = &s->stage, .limit = SIZE_MAX };
		ssize_t r = recvfrom(s->listen_fd, s->scratch, cap, MSG_TRUNC, (struct sockaddr *)&from, &len);

		s->st.reads++;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return;	/* EAGAIN, or an ICMP error from an earlier sendto: nothing to do */
		}
		s->st.bytes_in += (uint64_t)r;
		if ((size_t)r > cap) {
			s->st.truncated++;
			continue;
		}
		s->cfg->proto->input(NULL, s->scratch, (size_t)r, &o, &s->cfg->pcfg);
		s->st.requests += o.replies;
		s->st.writes++;
		if (sendto(s->listen_fd, o.first, o.first_len, 0, (struct sockaddr *)&from, len) == -1)
			s->st.send_drops++;	/* a full send buffer drops the datagram, as UDP may */
		else
			s->st.bytes_out += o.first_len;
	}
}

static void resume_accepting(struct server *s)
{
	if (s->accept_paused_until == 0 || mono_s() < s->accept_paused_until)
		return;
	s->accept_paused_until = 0;
	if (s->spare_fd == -1)
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	/* Never silent: a listener that cannot be re-armed would never accept again. */
	if (mux_add(s->mux, s->listen_fd, MUX_IN) < 0) {
		log_line(s, "cannot watch the listener again; retrying shortly");
		s->accept_paused_until = mono_s() + ACCEPT_PAUSE_MS / 1000.0;
	}
}

/*
 * udp: datagrams the kernel dropped for want of receive buffer, read when
 * stats are printed and not per datagram. It is the counter SO_RXQ_OVFL
 * would stamp on each datagram, but that stamp only arrives with the next
 * datagram queued, so drops after the last one would go unseen.
 */
static void refresh_rcv_drops(struct server *s)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (s->cfg->proto->datagram &&
	    getsockopt(s->listen_fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 && len > SK_MEMINFO_DROPS * 4)
		s->st.rcv_drops = mem[SK_MEMINFO_DROPS];
}

static void print_stats(struct server *s, const char *tag)
{
	const struct mux_stats *m = &s->mux->stats;
	struct rusage ru;

	refresh_rcv_drops(s);
	getrusage(RUSAGE_SELF, &ru);
	emit(s, STDOUT_FILENO, "%s backend=%s open=%ld accepted=%llu closed=%llu refused=%llu shed=%llu "
	     "bytes_in=%llu bytes_out=%llu requests=%llu reads=%llu writes=%llu "
	     "resets=%llu paused=%llu pending_max=%llu dels=%llu idle_closed=%llu header_timeouts=%llu "
	     "send_timeouts=%llu mem=%llu mem_max=%llu mem_closed=%llu "
	     "out_events=%llu truncated=%llu send_drops=%llu rcv_drops=%llu log_dropped=%llu "
	     "waits=%llu events=%llu events_per_wait=%.2f scanned=%llu ctl=%llu "
	     "cpu_user_s=%.3f cpu_sys_s=%.3f\n",
	     tag, s->mux->ops->name, s->open_conns,
	     (unsigned long long)s->st.accepted, (unsigned long long)s->st.closed,
	     (unsigned long long)s->st.refused, (unsigned long long)s->st.shed,
	     (unsigned long long)s->st.bytes_in, (unsigned long long)s->st.bytes_out,
	     (unsigned long long)s->st.requests, (unsigned long long)s->st.reads,
	     (unsigned long long)s->st.writes, (unsigned long long)s->st.resets,
	     (unsigned long long)s->st.paused, (unsigned long long)s->st.pending_max,
	     (unsigned long long)s->st.dels, (unsigned long long)s->st.idle_closed,
	     (unsigned long long)s->st.header_timeouts,
	     (unsigned long long)s->st.send_timeouts, (unsigned long long)s->st.mem,
	     (unsigned long long)s->st.mem_max, (unsigned long long)s->st.mem_closed,
	     (unsigned long long)s->st.out_events,
	     (unsigned long long)s->st.truncated, (unsigned long long)s->st.send_drops,
	     (unsigned long long)s->st.rcv_drops, (unsigned long long)s->st.log_dropped,
	     (unsigned long long)m->waits, (unsigned long long)m->events,
	     m->waits ? (double)m->events / (double)m->waits : 0.0,
	     (unsigned long long)m->scanned, (unsigned long long)m->ctl_calls,
	     (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
	     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
}

static void begin_stop(struct server *s)
{
	if (s->stopping) {
		s->stop_now = true;	/* second signal: no more waiting */
		return;
	}
	s->stopping = true;
	if (s->accept_paused_until == 0)
		mux_del(s->mux, s->listen_fd);
	close(s->listen_fd);
	s->listen_fd = -1;
	s->accept_paused_until = 0;	/* nothing to resume: no retries (and log lines) every 100 ms */
	if (s->deadline == 0 || mono_s() + s->cfg->grace_s < s->deadline)
		s->deadline = mono_s() + s->cfg->grace_s;
}

/*
 * The pipe was reported: act on the flags, not on its bytes, which only
 * woke us. Done here, in event order, and not on every loop turn: a stats
 * line then counts what was ready before the signal (a connection accepted
 * just before SIGUSR1 is in it). Every flag set is followed by a byte or a
 * pipe already full, so the pipe is always reported after one.
 * A SIGUSR1 storm gives one stats line per loop turn.
 */
static void read_signals(struct server *s)
{
	unsigned char bytes[256];

	while (read(s->sig_pipe[0], bytes, sizeof(bytes)) > 0)
		;
	if (stats_wanted) {
		stats_wanted = 0;	/* before printing: a later SIGUSR1 gets its own line */
		print_stats(s, "stats");
	}
	while (s->stops_taken < stop_signals) {
		s->stops_taken++;
		begin_stop(s);
	}
}

/* Give each connection with edge-triggered work left one more turn. */
static void serve_ready_list(struct server *s)
{
	struct conn *c = s->ready_head, *next;

	/* Detach first: serving may push a connection back for the next round. */
	s->ready_head = NULL;
	for (struct conn *p = c; p; p = p->next)
		p->in_ready_list = false;
	for (; c; c = next) {
		next = c->next;
		c->prev = c->next = NULL;
		serve_conn(s, c, MUX_IN);
	}
}

/* Half the shortest of the timeouts set, at most 1 s; 0 when none is. */
static double sweep_interval(const struct server_config *cfg)
{
	const double t[] = { cfg->idle_timeout_s, cfg->header_timeout_s, cfg->send_timeout_s };
	double limit = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i] > 0 && (limit <= 0 || t[i] < limit))
			limit = t[i];
	return limit <= 0 ? 0 : limit < 2 ? limit / 2 : 1;
}

/*
 * A request incomplete for too long (slowloris): the same close a protocol
 * asks for after a final reply (http: 408) — the reply is sent or buffered,
 * the partial request dropped, and conn_close drains input so its FIN does
 * not turn into a reset that destroys the reply.
 */
static void request_timed_out(struct server *s, struct conn *c)
{
	const char *reply = s->cfg->proto->timeout_reply;

	s->st.header_timeouts++;
	c->closing = true;
	c->held = false;
	c->partial_since = 0;
	buf_reset(&c->in);
	if (reply && !send_reply(s, c, reply, strlen(reply))) {
		conn_close(s, c);
		return;
	}
	account(s, c);
	settle(s, c);
}

/*
 * --idle-timeout, --send-timeout and --header-timeout: one sweep over all
 * connections at most twice per timeout, O(n) a few times per second,
 * instead of a timer per connection.
 */
static void sweep_timeouts(struct server *s)
{
	const struct server_config *cfg = s->cfg;

	if (!s->next_sweep || s->now < s->next_sweep)
		return;
	for (size_t fd = 0; fd < s->by_fd_cap; fd++) {
		struct conn *c = s->by_fd[fd];

		if (!c)
			continue;
		if (cfg->idle_timeout_s > 0 && s->now - c->last_active >= cfg->idle_timeout_s) {
			conn_close(s, c);
			s->st.idle_closed++;
		} else if (cfg->send_timeout_s > 0 && pending(c) &&
			   s->now - c->out_since >= cfg->send_timeout_s) {
			conn_close(s, c);	/* the peer stopped reading: its output can only pile up */
			s->st.send_timeouts++;
		} else if (cfg->header_timeout_s > 0 && c->partial_since && !c->paused_since && !c->closing &&
			   s->now - c->partial_since >= cfg->header_timeout_s) {
			request_timed_out(s, c);
		}
	}
	s->next_sweep = s->now + sweep_interval(cfg);
}

/*
 * --max-memory: reads stop at the budget, and when the loop turn ends over
 * it the connections holding the most buffer bytes are closed until it is
 * met (as redis's maxmemory-clients does), so one client's backlog never
 * stalls the others. One log line per second of it at most.
 */
/*
 * Drained buffers are kept for reuse (up to KEEP_BUFFER) and so stay
 * charged; over the budget they are given back first, so that no idle
 * connection is closed for memory it does not use.
 */
static void release_empty_buffers(struct server *s)
{
	for (size_t fd = 0; fd < s->by_fd_cap; fd++) {
		struct conn *c = s->by_fd[fd];

		if (!c)
			continue;
		if (c->in.cap && c->in.off == c->in.len)
			buf_free(&c->in);
		if (c->out.cap && !pending(c))
			buf_free(&c->out);
		account(s, c);
	}
}

static void enforce_budget(struct server *s)
{
	char msg[128];

	if (over_budget(s))
		release_empty_buffers(s);
	if (!over_budget(s))
		return;
	if (s->now - s->mem_logged_at >= 1) {
		snprintf(msg, sizeof(msg), "--max-memory %zu reached: closing the connections that hold the most",
			 s->cfg->max_memory);
		log_line(s, msg);
		s->mem_logged_at = s->now;
	}
	while (over_budget(s)) {
		struct conn *big = NULL;

		for (size_t fd = 0; fd < s->by_fd_cap; fd++)
			if (s->by_fd[fd] && (!big || s->by_fd[fd]->charged > big->charged))
				big = s->by_fd[fd];
		if (!big)
			return;
		conn_close(s, big);
		s->st.mem_closed++;
	}
}

static int wait_timeout_ms(const struct server *s)
{
	double until = s->deadline, now;

	if (s->ready_head)
		return 0;
	if (s->next_sweep && (until == 0 || s->next_sweep < until))
		until = s->next_sweep;
	if (s->accept_paused_until && (until == 0 || s->accept_paused_until < until))
		until = s->accept_paused_until;
	if (until == 0)
		return -1;
	now = mono_s();
	return until <= now ? 0 : (int)((until - now) * 1000) + 1;
}

static void dispatch(struct server *s, const struct mux_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		int fd = ev[i].fd;

		if (fd == s->listen_fd && s->cfg->proto->datagram)
			serve_datagrams(s);
		else if (fd == s->listen_fd)
			accept_all(s);
		else if (fd == s->sig_pipe[0])
			read_signals(s);
		else if ((size_t)fd < s->by_fd_cap && s->by_fd[fd])
			serve_conn(s, s->by_fd[fd], ev[i].events);
	}
}

static int run_loop(struct server *s)
{
	struct mux_event ev[MAX_EVENTS];

	while (!s->stop_now) {
		int n = mux_wait(s->mux, ev, MAX_EVENTS, wait_timeout_ms(s));

		if (n < 0) {
			fprintf(stderr, "muxserver: %s wait failed: %s\n",
				s->mux->ops->name, strerror(-n));
			return 1;
		}
		s->now = mono_s();
		dispatch(s, ev, n);
		serve_ready_list(s);
		enforce_budget(s);
		sweep_timeouts(s);
		resume_accepting(s);
		if (s->deadline && mono_s() >= s->deadline)
			break;
		if (s->stopping && s->open_conns == 0)
			break;
	}
	return 0;
}

/* Bind and listen; -1 after printing one line naming the cause. */
static int open_listener(const struct server_config *cfg)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, saved;

	if (!cli_sockaddr(cfg->host, cfg->port, &ss, &len)) {
		/* muxserver checks --host when parsing flags; this guards other callers. */
		fprintf(stderr, "muxserver: --host '%s' is not a numeric IPv4 or IPv6 address\n", cfg->host);
		return -1;
	}
	fd = socket(ss.ss_family, (cfg->proto->datagram ? SOCK_DGRAM : SOCK_STREAM) |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (cfg->proto->datagram && cfg->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cfg->rcvbuf, sizeof(cfg->rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    (!cfg->proto->datagram && listen(fd, cfg->backlog) == -1))
		goto fail_close;
	return fd;
fail_close:
	saved = errno;
	close(fd);
	errno = saved;
fail:
	fprintf(stderr, "muxserver: cannot listen on %s port %d: %s\n",
		cfg->host, cfg->port, strerror(errno));
	return -1;
}

static int bound_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void install_signals(struct server *s)
{
	struct sigaction sa = { .sa_handler = on_signal };

	signal_pipe_fd = s->sig_pipe[1];
	stop_signals = stats_wanted = 0;
	/* One handler at a time: stop_signals++ must not be interrupted by another. */
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGINT);
	sigaddset(&sa.sa_mask, SIGTERM);
	sigaddset(&sa.sa_mask, SIGUSR1);
	/* No SA_RESTART: we want the wait to return so the loop sees the signal promptly. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGUSR1, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int setup(struct server *s, const struct server_config *cfg)
{
	s->cfg = cfg;
	s->spare_fd = -1;
	s->sig_pipe[0] = s->sig_pipe[1] = -1;
	/* C10K needs more than the usual 1024 soft limit; the hard limit is ours to take. */
	fdlimit_set(cfg->nofile > 0 ? (rlim_t)cfg->nofile : RLIM_INFINITY);
	s->listen_fd = open_listener(cfg);
	if (s->listen_fd == -1)
		return -1;
	if (pipe2(s->sig_pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		fprintf(stderr, "muxserver: pipe: %s\n", strerror(errno));
		return -1;
	}
	s->mux = mux_create(cfg->backend, 1024);
	if (!s->mux) {
		fprintf(stderr, "muxserver: cannot create %s backend: %s\n",
			cfg->backend->name, strerror(errno));
		return -1;
	}
	if (mux_add(s->mux, s->listen_fd, MUX_IN) < 0 ||
	    mux_add(s->mux, s->sig_pipe[0], MUX_IN) < 0) {
		fprintf(stderr, "muxserver: cannot register the listener with %s\n",
			cfg->backend->name);
		return -1;
	}
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	install_signals(s);
	return 0;
}

static void teardown(struct server *s)
{
	for (size_t fd = 0; fd < s->by_fd_cap; fd++)
		if (s->by_fd[fd])
			conn_close(s, s->by_fd[fd]);
	free(s->by_fd);
	free(s->stage.data);
	if (s->mux)
		mux_destroy(s->mux);
	if (s->listen_fd != -1)
		close(s->listen_fd);
	if (s->spare_fd != -1)
		close(s->spare_fd);
	signal_pipe_fd = -1;
	for (int i = 0; i < 2; i++)
		if (s->sig_pipe[i] != -1)
			close(s->sig_pipe[i]);
}

int server_run(const struct server_config *cfg)
{
	struct server *s = calloc(1, sizeof(*s));
	double started;
	int rc = 1;

	if (!s) {
		fprintf(stderr, "muxserver: out of memory\n");
		return 1;
	}
	if (setup(s, cfg) == 0) {
		printf("port=%d host=%s backend=%s proto=%s pid=%ld\n", bound_port(s->listen_fd),
		       cfg->host, cfg->backend->name, cfg->proto->name, (long)getpid());
		fflush(stdout);
		started = s->now = mono_s();
		if (sweep_interval(cfg) > 0)
			s->next_sweep = started + sweep_interval(cfg);
		if (cfg->duration_s > 0)
			s->deadline = started + cfg->duration_s;
		rc = run_loop(s);
		if (!cfg->quiet) {
			emit(s, STDOUT_FILENO, "muxserver: stopped after %.2f s\n", mono_s() - started);
			print_stats(s, "summary");
		}
	}
	teardown(s);
	free(s);
	return rc;
}
