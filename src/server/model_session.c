/*
 * model_session.c - one connection served the way the course notes and
 * Stevens serve it: a blocking socket, read(), hand the bytes to the
 * protocol, write() every reply before reading again. Every blocking model
 * (iterative, fork, thread, the pools) runs this; only who calls it, and
 * where, differs.
 */
#include "model.h"
#include "clock.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * A signal interrupted a read or write. Only where the supervising process
 * serves itself (iterative) is that the stop knocking; threads block every
 * signal and children ignore theirs, so anywhere else it is a retry.
 */
static bool stop_knocks(struct server *s)
{
	return s->serves_inline && model_should_end(s);
}

/* write() until all is sent; false when the peer is gone or a stop cut it short. */
static bool send_all(struct server *s, struct model_slot *slot, int fd, const char *data, size_t n)
{
	while (n) {
		ssize_t w = write(fd, data, n);

		SLOT_ADD(slot, writes, 1);
		if (w == -1) {
			if (errno == EINTR && !stop_knocks(s))
				continue;
			if (errno == ECONNRESET || errno == EPIPE)
				SLOT_ADD(slot, resets, 1);
			return false;	/* EAGAIN here is SO_SNDTIMEO: --send-timeout */
		}
		SLOT_ADD(slot, bytes_out, w);
		data += w;
		n -= (size_t)w;
	}
	return true;
}

/*
 * Offer `in` to the protocol and send what it emitted, again while it
 * stopped for want of room (one read's replies past --max-pending) and
 * still consumed something. false: close.
 */
static bool answer(struct server *s, struct model_slot *slot, int fd, void *state, struct buf *in,
		   struct buf *stage)
{
	for (;;) {
		struct proto_out o = { .stage = stage, .limit = s->cfg->max_pending };
		long used = s->cfg->proto->input(state, in->data, in->len, &o, &s->cfg->pcfg);

		SLOT_ADD(slot, requests, o.replies);
		if (o.failed || !send_all(s, slot, fd, o.staged ? stage->data : o.first,
					  o.staged ? stage->len : o.first_len))
			return false;
		if (o.staged)
			buf_reset(stage);
		if (used < 0)
			return false;
		memmove(in->data, in->data + used, in->len - (size_t)used);
		in->len -= (size_t)used;
		if (used == 0 || in->len == 0 || proto_room(&o))
			return true;
	}
}

/* The flags a blocking socket can honour by itself: its buffers, Nagle, and timeouts as SO_*TIMEO. */
static void configure(const struct server_config *cfg, int fd)
{
	struct timeval idle = { (time_t)cfg->idle_timeout_s,
				(suseconds_t)((cfg->idle_timeout_s - (double)(time_t)cfg->idle_timeout_s) * 1e6) };
	struct timeval stall = { (time_t)cfg->send_timeout_s,
				 (suseconds_t)((cfg->send_timeout_s - (double)(time_t)cfg->send_timeout_s) * 1e6) };
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (cfg->sndbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cfg->sndbuf, sizeof(cfg->sndbuf));
	if (cfg->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cfg->rcvbuf, sizeof(cfg->rcvbuf));
	if (cfg->idle_timeout_s > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof(idle));
	if (cfg->send_timeout_s > 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &stall, sizeof(stall));
}

/*
 * The caller closes fd: a thread must unlist it first (model_thread.c).
 * The read buffer is on the stack: a thread or process per connection pays
 * for its pages only as far as data has reached them, which is part of
 * what the memory-per-connection figures measure.
 */
void session_serve(struct server *s, struct model_slot *slot, int fd)
{
	void *state = calloc(1, s->cfg->proto->state_size + 1);
	char chunk[READ_CHUNK];
	struct buf in = { 0 }, stage = { 0 };

	configure(s->cfg, fd);
	while (state) {
		ssize_t r = read(fd, chunk, sizeof(chunk));

		SLOT_ADD(slot, reads, 1);
		if (r == -1 && errno == EINTR && !stop_knocks(s))
			continue;
		if (r == -1 && errno == EAGAIN)
			SLOT_ADD(slot, idle_closed, 1);	/* SO_RCVTIMEO: --idle-timeout */
		else if (r == -1 && errno == ECONNRESET)
			SLOT_ADD(slot, resets, 1);
		if (r <= 0)
			break;
		SLOT_ADD(slot, bytes_in, r);
		if (!buf_append(&in, chunk, (size_t)r) || !answer(s, slot, fd, state, &in, &stage))
			break;
		if (in.len == 0)
			buf_reset(&in);
	}
	free(state);
	free(in.data);
	free(stage.data);
	SLOT_ADD(slot, closed, 1);
}

/*
 * A worker's blocking accept. The parent ends the pool by shutting the
 * listener, which wakes every accept() with EINVAL on Linux: -1. Out of
 * fds, the client waits in the backlog while the worker sleeps a moment
 * (a pool worker has nothing else to do).
 */
int session_accept(int listen_fd, struct model_slot *slot)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd >= 0) {
			SLOT_ADD(slot, accepted, 1);
			return fd;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno != EMFILE && errno != ENFILE && errno != ENOBUFS && errno != ENOMEM)
			return -1;
		SLOT_ADD(slot, shed, 1);
		poll(NULL, 0, 100);
	}
}

/*
 * The datagrams waiting on the UDP socket, each answered as the notes' UDP
 * server answers it: the protocol's reply sent back to the sender. answer
 * is called for each one (it may keep nothing: the buffer is reused). A
 * datagram longer than --dgram-size is counted, not answered (MSG_TRUNC
 * gives its real length). At most 256 a call, as the reactor takes them:
 * under a steady stream the supervising loop must still see its signals.
 */
void datagrams_drain(struct server *s, struct model_slot *slot,
		     void (*answer)(struct server *s, const char *data, size_t n,
				    const struct sockaddr_storage *from, socklen_t len))
{
	size_t cap = s->cfg->pcfg.dgram_size < READ_CHUNK ? s->cfg->pcfg.dgram_size : READ_CHUNK;

	for (int taken = 0; taken < 256; taken++) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		ssize_t r = recvfrom(s->listen_fd, s->scratch, cap, MSG_TRUNC | MSG_DONTWAIT,
				     (struct sockaddr *)&from, &len);

		SLOT_ADD(slot, reads, 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return;	/* drained; or an ICMP error from an earlier sendto */
		SLOT_ADD(slot, bytes_in, r);
		if ((size_t)r > cap)
			SLOT_ADD(slot, truncated, 1);
		else
			answer(s, s->scratch, (size_t)r, &from, len);
	}
}

/* One datagram's reply, sent back to its sender; a full send buffer drops it, as UDP may. */
void datagram_answer(struct server *s, struct model_slot *slot, char *data, size_t n,
		     const struct sockaddr_storage *from, socklen_t len)
{
	struct buf stage = { 0 };
	struct proto_out o = { .stage = &stage, .limit = SIZE_MAX };

	s->cfg->proto->input(NULL, data, n, &o, &s->cfg->pcfg);
	SLOT_ADD(slot, requests, o.replies);
	SLOT_ADD(slot, writes, 1);
	if (sendto(s->listen_fd, o.first, o.first_len, 0, (const struct sockaddr *)from, len) == -1)
		SLOT_ADD(slot, send_drops, 1);
	else
		SLOT_ADD(slot, bytes_out, o.first_len);
	free(stage.data);
}
