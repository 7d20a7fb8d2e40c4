/*
 * server_uring.c - the completion-mode loop, "--backend uring".
 *
 * The readiness loop asks which sockets are ready and then reads and writes
 * them, a syscall each. Here the kernel does the reading and writing: one
 * multishot accept on the listener, one multishot recv per connection that
 * fills buffers the kernel picks from a provided buffer ring, and a send
 * per connection per loop turn of everything the protocol emitted in that
 * turn. Every request of a turn goes to the kernel, and every completion
 * comes back, in one io_uring_enter.
 *
 * The connections, protocols, limits and counters are the readiness loop's
 * (server_conn.c, server_limits.c, server_print.c); this file is only the
 * I/O. What it does differently, and why:
 *  - A reply is copied into the connection's `out` (the protocol's bytes
 *    point into a recv buffer that goes back to the ring at once), and a
 *    send owns `sending` until it completes: the kernel reads it then, so
 *    it must not move. pending() counts both, so --max-pending holds.
 *  - Backpressure: at --max-pending the multishot recv is cancelled, and
 *    armed again once the output drains. Bytes the kernel had already
 *    received are kept (in `in`), as the readiness loop keeps a read's.
 *  - An empty buffer ring ends a multishot recv with ENOBUFS: counted, and
 *    the recv is armed again at the end of the turn, when the buffers this
 *    turn used are back.
 *  - A closed connection's struct lives until the kernel has completed
 *    every request naming it (`inflight`); its recv is cancelled. A request
 *    holds a reference to its file, so the socket really closes when the
 *    cancel is processed, at the next enter.
 */
#include "server_internal.h"
#include "clock.h"
#include "grow.h"
#include "uring_ring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char server_uring_name[] = "uring";
const char server_uring_summary[] =
	"io_uring(7) completions: multishot accept, multishot recv into a buffer ring, sends batched; "
	"one io_uring_enter per loop turn";

#ifdef HAVE_LIBURING
#include <liburing.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>

#define RING_ENTRIES 4096
/*
 * Each provided buffer; --uring-buffers of them (default 1024: 8 MiB of
 * address space, resident as data arrives: the ring hands the buffers out in
 * turn, so a 64 B echo soon holds the first page of each, 4 MiB).
 */
#define BUF_SIZE (8 * 1024)
#define BUF_GROUP 0

/* What a completion is for: the low bits of its user_data; the rest is the connection, if any. */
enum op { OP_ACCEPT = 1, OP_LISTEN_POLL, OP_SIGNAL, OP_RECV, OP_SEND, OP_CANCEL };
#define OP_BITS 7u

struct uring_loop {
	struct io_uring ring;
	bool ring_up;
	struct io_uring_buf_ring *br;
	char *bufs;
	unsigned nbufs;            /* a power of two, as the buffer ring needs */
	unsigned bufs_back;        /* buffers given back this turn, published at its end */
	bool accept_armed, listen_poll_armed, signal_armed;
	struct conn **dirty;       /* connections to settle at the end of the turn */
	size_t ndirty, dirty_cap;
	struct conn **starved;     /* ... and before them, those whose recv found no buffer */
	size_t nstarved, starved_cap;
	struct conn *closed;       /* closed, waiting for the kernel to finish with them */
	struct mux_stats stats;    /* waits: io_uring_enter calls; events: CQEs; ctl: enters for a full queue */
	int fatal;                 /* a completion that ends the server (-errno) */
};

static uint64_t tag(struct conn *c, enum op op)
{
	return (uint64_t)(uintptr_t)c | op;
}

/* An SQE; when the submission queue is full, what is in it goes to the kernel first. */
static struct io_uring_sqe *get_sqe(struct server *s)
{
	struct uring_loop *u = s->uring;
	struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);

	if (!sqe) {
		u->stats.ctl_calls++;
		io_uring_submit(&u->ring);
		sqe = io_uring_get_sqe(&u->ring);
	}
	if (sqe)
		s->st.sqes++;
	return sqe;
}

static bool queue_cancel(struct server *s, uint64_t target)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return false;
	io_uring_prep_cancel64(sqe, target, 0);
	io_uring_sqe_set_data64(sqe, tag(NULL, OP_CANCEL));
	return true;
}

void uring_arm_accept(struct server *s)
{
	struct uring_loop *u = s->uring;
	struct io_uring_sqe *sqe;

	if (u->accept_armed || s->stopping || s->listen_fd == -1 || s->accept_paused_until)
		return;
	sqe = get_sqe(s);
	if (!sqe) {
		listener_pause(s);	/* listener_resume tries again */
		return;
	}
	io_uring_prep_multishot_accept(sqe, s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	io_uring_sqe_set_data64(sqe, tag(NULL, OP_ACCEPT));
	u->accept_armed = true;
}

/*
 * Out of fds, an accept fails with EMFILE at once, whether a client waits
 * or not (Linux takes the fd before it looks at the queue): re-armed, it
 * would spin. A poll on the listener takes no fd: it says when a client
 * waits, and then the accept is armed again (and sheds it, if still out).
 */
static void arm_listen_poll(struct server *s)
{
	struct uring_loop *u = s->uring;
	struct io_uring_sqe *sqe;

	if (u->listen_poll_armed || s->stopping || s->listen_fd == -1)
		return;
	sqe = get_sqe(s);
	if (!sqe) {
		listener_pause(s);
		return;
	}
	io_uring_prep_poll_add(sqe, s->listen_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag(NULL, OP_LISTEN_POLL));
	u->listen_poll_armed = true;
}

void uring_stop_accepting(struct server *s)
{
	struct uring_loop *u = s->uring;

	/* Each holds the listener open until its cancel is processed: clients in between are closed. */
	if (u->accept_armed && queue_cancel(s, tag(NULL, OP_ACCEPT)))
		u->accept_armed = false;
	if (u->listen_poll_armed && queue_cancel(s, tag(NULL, OP_LISTEN_POLL)))
		u->listen_poll_armed = false;
}

static void arm_signal(struct server *s)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return;
	io_uring_prep_poll_multishot(sqe, s->sig_pipe[0], POLLIN);
	io_uring_sqe_set_data64(sqe, tag(NULL, OP_SIGNAL));
	s->uring->signal_armed = true;
}

static bool arm_recv(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(s);

	if (!sqe)
		return false;
	io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUF_GROUP;
	io_uring_sqe_set_data64(sqe, tag(c, OP_RECV));
	c->recv_armed = true;
	c->recv_cancelled = false;
	c->inflight++;
	if (c->recv_ever)
		s->st.recv_rearms++;
	c->recv_ever = true;
	return true;
}

static bool cancel_recv(struct server *s, struct conn *c)
{
	if (!c->recv_armed || c->recv_cancelled)
		return true;
	c->recv_cancelled = queue_cancel(s, tag(c, OP_RECV));
	return c->recv_cancelled;
}

/* Send what is queued, unless a send is in flight: its completion sends the rest. */
static bool send_queued(struct server *s, struct conn *c)
{
	struct io_uring_sqe *sqe;

	if (c->send_armed)
		return true;
	if (c->sending.off == c->sending.len && queued(c)) {
		struct buf drained = c->sending;

		c->sending = c->out;
		c->out = drained;
		buf_reset(&c->out);
	}
	if (c->sending.off == c->sending.len)
		return true;
	sqe = get_sqe(s);
	if (!sqe)
		return false;
	io_uring_prep_send(sqe, c->fd, c->sending.data + c->sending.off,
			   c->sending.len - c->sending.off, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, tag(c, OP_SEND));
	c->send_armed = true;
	c->inflight++;
	return true;
}

/* false: out of memory, c could never be settled, so it was closed. */
static bool mark_dirty(struct server *s, struct conn *c)
{
	struct uring_loop *u = s->uring;

	if (c->dirty)
		return true;
	if (grow_array((void **)&u->dirty, &u->dirty_cap, u->ndirty, sizeof(*u->dirty))) {
		uring_conn_close(s, c);
		return false;
	}
	u->dirty[u->ndirty++] = c;
	c->dirty = true;
	return true;
}

/*
 * A recv that found the buffer ring empty is armed again before any other
 * at the end of the turn: the first requests submitted take the buffers
 * the turn gave back. In any other order the same connections would come
 * last, find no buffer, and starve, turn after turn.
 */
static void mark_starved(struct server *s, struct conn *c)
{
	struct uring_loop *u = s->uring;

	if (c->starved)
		return;
	if (grow_array((void **)&u->starved, &u->starved_cap, u->nstarved, sizeof(*u->starved))) {
		mark_dirty(s, c);
		return;
	}
	u->starved[u->nstarved++] = c;
	c->starved = true;
}

/* Both loops call conn_settle; here it waits for the end of the turn, so that a turn's replies go in one send. */
void uring_conn_settle(struct server *s, struct conn *c)
{
	mark_dirty(s, c);
}

bool uring_queue_reply(struct server *s, struct conn *c, const char *data, size_t n)
{
	if (!pending(c))
		c->out_since = s->now;	/* --send-timeout counts from the first byte queued */
	if (!buf_append(&c->out, data, n))
		return false;
	if (pending(c) > s->st.pending_max)
		s->st.pending_max = pending(c);
	return mark_dirty(s, c);
}

/*
 * A multishot recv takes whatever arrives, where the readiness loop reads
 * only when it is woken: a peer that sends faster than it reads would fill
 * `out` up to --max-pending every time. So reading also stops while a
 * send is still in flight with a read's worth waiting behind it, and
 * resumes when that send completes: TCP's window then pushes back on the
 * peer, as it does for the readiness loop.
 */
static bool output_backed_up(const struct conn *c)
{
	return c->send_armed && pending(c) >= READ_CHUNK;
}

/*
 * The end of a turn for one connection: answer held requests while there
 * is room, send, read or stop reading, close when it needs nothing more
 * (as conn_settle decides for the readiness loop). false: close it.
 */
static bool settle_one(struct server *s, struct conn *c)
{
	bool read_more;

	while (c->held && !c->closing && pending(c) < s->cfg->max_pending)
		if (!conn_deliver(s, c, NULL, 0))
			return false;
	if (!send_queued(s, c))
		return false;
	/* Not the memory budget: on_recv enforces it as bytes arrive, and a recv left unarmed here would never be armed again. */
	read_more = conn_reading_allowed(s, c) && !output_backed_up(c);
	if (read_more && !c->recv_armed && !arm_recv(s, c))
		return false;
	if (!read_more && c->recv_armed && !c->recv_cancelled) {
		if (pending(c) && !c->closing && !c->peer_eof)
			s->st.paused++;
		if (!cancel_recv(s, c))
			return false;
	}
	conn_track_pause(s, c);
	account(s, c);
	/* Nothing to read and nothing to send: done (the peer finished, or we closed it). */
	return conn_reading_allowed(s, c) || pending(c);
}

static void settle_dirty(struct server *s)
{
	struct uring_loop *u = s->uring;

	for (size_t i = 0; i < u->nstarved; i++) {
		struct conn *c = u->starved[i];

		if (!c->zombie && !settle_one(s, c))
			uring_conn_close(s, c);
		c->starved = false;
	}
	u->nstarved = 0;
	/* Settling may mark more (a reply to a held request): the list may grow while we walk it. */
	for (size_t i = 0; i < u->ndirty; i++) {
		struct conn *c = u->dirty[i];

		if (!c->zombie && !settle_one(s, c))
			uring_conn_close(s, c);
		c->dirty = false;
	}
	u->ndirty = 0;
}

void uring_conn_close(struct server *s, struct conn *c)
{
	struct uring_loop *u = s->uring;

	if (c->zombie)
		return;
	conn_discard_input(s, c);
	/*
	 * A request in flight holds the socket open (and would name a freed
	 * struct): cancel each. Without room for a cancel, shutting the socket
	 * down ends them as well.
	 */
	if (!cancel_recv(s, c) || (c->send_armed && !queue_cancel(s, tag(c, OP_SEND))))
		shutdown(c->fd, SHUT_RDWR);
	s->st.dels++;	/* taken out of the loop, as mux_del does for the readiness loop */
	s->by_fd[c->fd] = NULL;
	close(c->fd);
	c->fd = -1;
	buf_free(&c->in);
	buf_free(&c->out);
	/* `sending` stays until its send completes or is cancelled (free_closed), uncounted. */
	s->st.mem -= c->charged;
	c->charged = 0;
	s->open_conns--;
	s->st.closed++;
	c->zombie = true;
	s->st.held++;
	c->next = u->closed;
	u->closed = c;
}

/* Free the closed connections the kernel is done with (never mid-turn: the dirty list may name them). */
static void free_closed(struct server *s)
{
	struct conn **p = &s->uring->closed;

	while (*p) {
		struct conn *c = *p;

		if (c->inflight || c->dirty || c->starved) {
			p = &c->next;
			continue;
		}
		*p = c->next;
		free(c->sending.data);
		free(c);
		s->st.held--;
	}
}

static void give_back(struct uring_loop *u, unsigned bid)
{
	io_uring_buf_ring_add(u->br, u->bufs + (size_t)bid * BUF_SIZE, BUF_SIZE, (unsigned short)bid,
			      io_uring_buf_ring_mask(u->nbufs), (int)u->bufs_back++);
}

static void on_accept(struct server *s, int res, bool more)
{
	if (!more)
		s->uring->accept_armed = false;
	if (res >= 0) {
		s->shedding = false;
		if (s->stopping || (s->cfg->max_conns > 0 && s->open_conns >= s->cfg->max_conns)) {
			close(res);
			s->st.refused++;
		} else {
			conn_open(s, res);
		}
	} else if (res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM) {
		listener_shed(s);
		if (!s->uring->accept_armed)
			arm_listen_poll(s);	/* not the accept: it would fail again at once */
		return;
	} else if (res != -ECONNABORTED && res != -EPROTO && res != -EINTR && res != -EAGAIN &&
		   res != -ECANCELED) {
		/* Anything else would fail again at once: armed again after a pause, not in a spin. */
		if (!s->uring->accept_armed && !s->stopping)
			listener_pause(s);
		return;
	}
	uring_arm_accept(s);	/* when it ended; not while paused or stopping */
}

static void on_listen_poll(struct server *s)
{
	s->uring->listen_poll_armed = false;
	uring_arm_accept(s);
}

static void on_signal(struct server *s, bool more)
{
	if (!more)
		s->uring->signal_armed = false;
	server_read_signals(s);
	if (!s->uring->signal_armed)
		arm_signal(s);
}

/* A recv completion: bytes for the protocol, the peer's EOF, or the end of the multishot. */
static void on_recv(struct server *s, struct conn *c, const struct io_uring_cqe *cqe)
{
	struct uring_loop *u = s->uring;
	int res = cqe->res;
	char *data = NULL;

	if (cqe->flags & IORING_CQE_F_BUFFER)
		data = u->bufs + (size_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) * BUF_SIZE;
	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		c->recv_armed = false;
		c->inflight--;
	}
	if (!c->zombie && mark_dirty(s, c)) {
		c->last_active = s->now;
		if (res > 0 && (c->closing || c->peer_eof)) {
			/* Received before the cancel landed: the readiness loop would never have read it. */
		} else if (res > 0) {
			s->st.reads++;
			s->st.bytes_in += (uint64_t)res;
			if (!conn_deliver(s, c, data, (size_t)res))
				uring_conn_close(s, c);
			else
				account(s, c);
			/* The kernel received it whatever our budget: enforce it now, not at the end of the turn. */
			if (over_budget(s))
				limits_enforce_budget(s);
		} else if (res == 0) {
			c->peer_eof = true;
		} else if (res == -ENOBUFS) {
			s->st.enobufs++;	/* armed again, first, with this turn's buffers back */
			mark_starved(s, c);
		} else if (res == -EINVAL) {
			u->fatal = res;		/* no multishot recv: Linux before 6.0 */
		} else if (res != -ECANCELED) {
			s->st.resets += res == -ECONNRESET;
			uring_conn_close(s, c);
		}
	}
	if (data)
		give_back(u, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
}

static void on_send(struct server *s, struct conn *c, int res)
{
	c->send_armed = false;
	c->inflight--;
	if (c->zombie || !mark_dirty(s, c))
		return;
	c->last_active = s->now;
	s->st.writes++;
	if (res < 0) {
		s->st.resets += res == -EPIPE || res == -ECONNRESET;
		uring_conn_close(s, c);
		return;
	}
	s->st.bytes_out += (uint64_t)res;
	c->sending.off += (size_t)res;
	c->out_since = s->now;
	if (c->sending.off == c->sending.len)
		buf_reset(&c->sending);
}

static void on_completion(struct server *s, const struct io_uring_cqe *cqe)
{
	uint64_t data = io_uring_cqe_get_data64(cqe);
	struct conn *c = (struct conn *)(uintptr_t)(data & ~(uint64_t)OP_BITS);
	bool more = cqe->flags & IORING_CQE_F_MORE;

	switch (data & OP_BITS) {
	case OP_ACCEPT: on_accept(s, cqe->res, more); break;
	case OP_LISTEN_POLL: on_listen_poll(s); break;
	case OP_SIGNAL: on_signal(s, more); break;
	case OP_RECV: on_recv(s, c, cqe); break;
	case OP_SEND: on_send(s, c, cqe->res); break;
	default: break;	/* a cancel's own completion */
	}
}

static void reap(struct server *s)
{
	struct uring_loop *u = s->uring;
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&u->ring, head, cqe) {
		n++;
		on_completion(s, cqe);
	}
	io_uring_cq_advance(&u->ring, n);
	u->stats.events += n;
	if (u->bufs_back) {
		io_uring_buf_ring_advance(u->br, (int)u->bufs_back);
		u->bufs_back = 0;
	}
}

/* Submit the turn's requests and wait for a completion, in one io_uring_enter. 0 or -errno. */
static int enter(struct server *s)
{
	struct uring_loop *u = s->uring;
	int err = uring_ring_enter(&u->ring, server_wait_timeout_ms(s));

	if (err < 0)
		return err;
	u->stats.waits += (uint64_t)err;
	return 0;
}

int uring_run_loop(struct server *s)
{
	struct uring_loop *u = s->uring;

	arm_signal(s);
	uring_arm_accept(s);
	while (!s->stop_now) {
		int err = enter(s);

		if (err) {
			fprintf(stderr, "muxserver: io_uring_enter failed: %s\n", strerror(-err));
			return 1;
		}
		s->now = mono_s();
		reap(s);
		if (u->fatal) {
			fprintf(stderr, "muxserver: --backend uring: the kernel refused a multishot recv "
				"(Linux 6.0 or later needed): %s\n", strerror(-u->fatal));
			return 1;
		}
		settle_dirty(s);
		limits_enforce_budget(s);
		limits_sweep_timeouts(s);
		listener_resume(s);
		settle_dirty(s);
		free_closed(s);
		server_publish(s);
		if (server_turn_ends_loop(s))
			break;
	}
	return 0;
}

/* The provided buffers, registered as buffer group BUF_GROUP (5.19); -errno on failure. */
static int buffers_setup(struct uring_loop *u)
{
	size_t ring_bytes = u->nbufs * sizeof(struct io_uring_buf);
	struct io_uring_buf_reg reg = { .ring_entries = u->nbufs, .bgid = BUF_GROUP };
	void *br = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int err;

	if (br == MAP_FAILED)
		return -errno;
	u->br = br;
	u->bufs = malloc((size_t)u->nbufs * BUF_SIZE);
	if (!u->bufs)
		return -ENOMEM;
	reg.ring_addr = (uint64_t)(uintptr_t)br;
	err = io_uring_register_buf_ring(&u->ring, &reg, 0);
	if (err)
		return err;
	io_uring_buf_ring_init(u->br);
	for (unsigned i = 0; i < u->nbufs; i++)
		give_back(u, i);
	io_uring_buf_ring_advance(u->br, (int)u->bufs_back);
	u->bufs_back = 0;
	return 0;
}

/* The opcodes the loop uses, or the first this kernel lacks. */
static const char *missing_opcode(struct io_uring *ring)
{
	static const struct { int op; const char *name; } need[] = {
		{ IORING_OP_ACCEPT, "accept" }, { IORING_OP_RECV, "recv" }, { IORING_OP_SEND, "send" },
		{ IORING_OP_POLL_ADD, "poll" }, { IORING_OP_ASYNC_CANCEL, "cancel" },
	};
	struct io_uring_probe *probe = io_uring_get_probe_ring(ring);
	const char *missing = probe ? NULL : "probe";

	for (size_t i = 0; probe && !missing && i < sizeof(need) / sizeof(need[0]); i++)
		if (!io_uring_opcode_supported(probe, need[i].op))
			missing = need[i].name;
	io_uring_free_probe(probe);
	return missing;
}

/* Ring, nbufs buffers and opcodes; 0, or -errno with *what naming the step that failed. */
static int loop_create(struct uring_loop *u, unsigned nbufs, const char **what)
{
	int err = uring_ring_init(&u->ring, RING_ENTRIES);

	u->nbufs = nbufs;
	*what = "io_uring_setup";
	if (err)
		return err;
	u->ring_up = true;
	*what = "registering a buffer ring (Linux 5.19 or later)";
	err = buffers_setup(u);
	if (err)
		return err;
	*what = missing_opcode(&u->ring);
	return *what ? -EOPNOTSUPP : 0;
}

static void loop_destroy(struct uring_loop *u)
{
	if (u->ring_up)
		io_uring_queue_exit(&u->ring);
	if (u->br)
		munmap(u->br, u->nbufs * sizeof(struct io_uring_buf));
	free(u->bufs);
	free(u->dirty);
	free(u->starved);
	free(u);
}

int uring_setup(struct server *s)
{
	struct uring_loop *u = calloc(1, sizeof(*u));
	const char *what = "memory";
	int err = u ? loop_create(u, s->cfg->uring_buffers, &what) : -ENOMEM;

	s->uring = u;
	s->backend_name = server_uring_name;
	if (u)
		s->wait_stats = &u->stats;
	if (!err)
		return 0;
	/* io_uring_setup refused is the common case (io_uring_disabled): the same line as a backend's. */
	if (strcmp(what, "io_uring_setup") == 0)
		fprintf(stderr, "muxserver: cannot create %s backend: %s\n", server_uring_name, strerror(-err));
	else
		fprintf(stderr, "muxserver: cannot create %s backend: %s: %s\n", server_uring_name, what, strerror(-err));
	return -1;
}

void uring_teardown(struct server *s)
{
	struct uring_loop *u = s->uring;

	/* Exiting the ring cancels every request: no completion will name a connection after it. */
	if (u->ring_up)
		io_uring_queue_exit(&u->ring);
	u->ring_up = false;
	while (u->closed) {
		struct conn *c = u->closed;

		u->closed = c->next;
		free(c->sending.data);
		free(c);
	}
	loop_destroy(u);
	s->uring = NULL;
}

bool server_uring_probe(char *why, size_t len)
{
	struct uring_loop *u = calloc(1, sizeof(*u));
	const char *what = "memory";
	int err = u ? loop_create(u, 16, &what) : -ENOMEM;

	if (err && strcmp(what, "io_uring_setup") == 0)
		snprintf(why, len, "%s", strerror(-err));
	else if (err)
		snprintf(why, len, "%s: %s", what, strerror(-err));
	if (u)
		loop_destroy(u);
	return !err;
}

#else /* !HAVE_LIBURING */

#define NO_LIBURING "built without liburing (apt-get install liburing-dev)"

bool server_uring_probe(char *why, size_t len)
{
	snprintf(why, len, NO_LIBURING);
	return false;
}

int uring_setup(struct server *s)
{
	s->backend_name = server_uring_name;
	fprintf(stderr, "muxserver: cannot create %s backend: " NO_LIBURING "\n", server_uring_name);
	return -1;
}

/* Never called: uring_setup fails first. */
int uring_run_loop(struct server *s) { (void)s; return 1; }
void uring_teardown(struct server *s) { (void)s; }
void uring_conn_close(struct server *s, struct conn *c) { (void)s; (void)c; }
void uring_conn_settle(struct server *s, struct conn *c) { (void)s; (void)c; }
bool uring_queue_reply(struct server *s, struct conn *c, const char *d, size_t n) { (void)s; (void)c; (void)d; (void)n; return false; }
void uring_arm_accept(struct server *s) { (void)s; }
void uring_stop_accepting(struct server *s) { (void)s; }

#endif
