/*
 * server_conn.c - one connection: reading, handing its bytes to the
 * protocol, sending or buffering the replies, asking the backend for what
 * it needs next; and the ready list, where edge-triggered connections wait
 * for the turn they gave up.
 */
#include "server_internal.h"
#include "grow.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * Edge-triggered: reads per connection per wake-up before we move on to
 * the others (4 x 64 KiB), so one fast sender cannot starve the rest.
 */
#define ET_READS_PER_WAKE 4

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

/*
 * Closing with unread input makes the kernel send RST, which can destroy a
 * final reply (a 400) before the peer reads it. Both loops discard what is
 * there (a bounded amount: a peer that keeps sending gets its RST).
 */
void conn_discard_input(struct server *s, struct conn *c)
{
	for (int i = 0; c->closing && i < 16 && read(c->fd, s->scratch, sizeof(s->scratch)) > 0; i++)
		;
}

void conn_close(struct server *s, struct conn *c)
{
	if (s->uring) {
		uring_conn_close(s, c);
		return;
	}
	conn_discard_input(s, c);
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
bool buf_append(struct buf *b, const char *data, size_t n)
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
	while (queued(c)) {
		ssize_t w = send_some(s, c->fd, c->out.data + c->out.off, queued(c));

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
bool conn_send_reply(struct server *s, struct conn *c, const char *data, size_t n)
{
	ssize_t w = 0;

	if (!n)
		return true;
	if (s->uring)
		return uring_queue_reply(s, c, data, n);
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
bool conn_deliver(struct server *s, struct conn *c, char *data, size_t n)
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
	if (!conn_send_reply(s, c, o.staged ? s->stage.data : o.first, o.staged ? s->stage.len : o.first_len))
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

/* Held requests come before new bytes: reading more would only grow `in`. */
bool conn_reading_allowed(const struct server *s, const struct conn *c)
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
		if (!conn_deliver(s, c, NULL, 0) || (pending(c) && !flush(s, c)))
			return false;
	/* Edge-triggered: reading stopped short of EAGAIN, and no new edge may come. */
	if (was_held && s->mux->ops->edge_triggered && conn_reading_allowed(s, c))
		ready_list_push(s, c);
	return true;
}

/*
 * Read and answer. Level-triggered: one read per wake-up (the backend will
 * report the fd again if more is there). Edge-triggered: read until EAGAIN
 * or a short read, at most ET_READS_PER_WAKE times, then queue the
 * connection on the ready list so the others get their turn.
 * false: the connection must be closed.
 */
static bool serve_input(struct server *s, struct conn *c)
{
	int reads = s->mux->ops->edge_triggered ? ET_READS_PER_WAKE : 1;

	/* Over --max-memory no one reads until the loop turn ends and the biggest are closed. */
	while (reads-- > 0 && conn_reading_allowed(s, c) && !over_budget(s)) {
		/* Never read more than the cap leaves room for: buffered output stays <= cap. */
		size_t want = s->cfg->max_pending - pending(c);
		ssize_t r;

		if (want > READ_CHUNK)
			want = READ_CHUNK;
		r = read(c->fd, s->scratch, want);
		s->st.reads++;
		if (r > 0) {
			s->st.bytes_in += (uint64_t)r;
			if (!conn_deliver(s, c, s->scratch, (size_t)r))
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
	if (s->mux->ops->edge_triggered && conn_reading_allowed(s, c))
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
void conn_track_pause(struct server *s, struct conn *c)
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
void conn_settle(struct server *s, struct conn *c)
{
	unsigned want;

	if (s->uring) {
		uring_conn_settle(s, c);
		return;
	}
	want = (conn_reading_allowed(s, c) ? MUX_IN : 0u) | (pending(c) ? MUX_OUT : 0u);
	conn_track_pause(s, c);

	if (!want) {
		conn_close(s, c);	/* peer finished and every reply was sent */
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

void conn_serve(struct server *s, struct conn *c, unsigned events)
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
	conn_settle(s, c);
	return;
fail:
	conn_close(s, c);
}

/* A connection's struct, with its socket options set; NULL (fd closed) when out of memory. */
struct conn *conn_new(struct server *s, int fd)
{
	struct conn *c;
	int one = 1;

	if (grow_array((void **)&s->by_fd, &s->by_fd_cap, (size_t)fd, sizeof(*s->by_fd)) ||
	    !(c = calloc(1, sizeof(*c) + s->cfg->proto->state_size))) {
		close(fd);
		return NULL;
	}
	/* Replies are latency-bound: do not let Nagle hold a short one back. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (s->cfg->sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &s->cfg->sndbuf, sizeof(s->cfg->sndbuf));
	if (s->cfg->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &s->cfg->rcvbuf, sizeof(s->cfg->rcvbuf));
	c->fd = fd;
	c->interest = MUX_IN;
	c->last_active = s->now;
	return c;
}

void conn_open(struct server *s, int fd)
{
	struct conn *c = conn_new(s, fd);

	if (!c)
		return;
	if (s->uring) {
		s->by_fd[fd] = c;
		s->open_conns++;
		s->st.accepted++;
		uring_conn_settle(s, c);	/* arms its recv */
		return;
	}
	if (mux_add(s->mux, fd, MUX_IN) < 0) {
		close(fd);
		free(c);
		return;
	}
	s->by_fd[fd] = c;
	s->open_conns++;
	s->st.accepted++;
}

/* Give each connection with edge-triggered work left one more turn. */
void ready_list_serve(struct server *s)
{
	struct conn *c = s->ready_head, *next;

	/* Detach first: serving may push a connection back for the next round. */
	s->ready_head = NULL;
	for (struct conn *p = c; p; p = p->next)
		p->in_ready_list = false;
	for (; c; c = next) {
		next = c->next;
		c->prev = c->next = NULL;
		conn_serve(s, c, MUX_IN);
	}
}
