/*
 * server_internal.h - what the files of the server share, private to
 * src/server/: the server and connection structs, the small helpers the
 * hot path inlines, and the functions one file calls in another. The
 * server runs whatever the protocol (include/proto.h) and the backend: it
 * uses only include/mux.h, and the one backend property it reads is
 * edge_triggered, which decides whether a wake-up is drained until EAGAIN.
 */
#ifndef SERVER_INTERNAL_H
#define SERVER_INTERNAL_H

#include "server.h"

#include <signal.h>
#include <stddef.h>
#include <stdlib.h>

/* One read's worth. 64 KiB lets a bulk sender fill a loopback window in few calls. */
#define READ_CHUNK (64 * 1024)
/* Buffers bigger than this are freed once drained instead of kept for reuse. */
#define KEEP_BUFFER (64 * 1024)

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
	size_t charged;            /* in.cap + out.cap + sending.cap, as last counted in st.mem */
	struct buf out;            /* replies the socket would not take yet */
	struct buf in;             /* a partial request, or requests held while output is at the cap */
	struct conn *prev, *next;  /* ready list (edge-triggered work left over); uring: the list of closed ones */
	/* uring only: the replies in flight (frozen until their send completes) and the requests in flight. */
	struct buf sending;
	unsigned inflight;
	bool recv_armed, recv_cancelled, send_armed, dirty, starved, zombie;
	bool recv_ever;            /* its multishot recv was armed once: arming again is a re-arm */
	/* The protocol's per-connection state: aligned for any struct it holds. */
	_Alignas(max_align_t) unsigned char proto_state[];
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

struct uring_loop;

struct server {
	const struct server_config *cfg;
	struct mux *mux;           /* the readiness loop's backend; NULL in the uring loop */
	struct uring_loop *uring;  /* the completion-mode loop (server_uring.c); NULL otherwise */
	const char *backend_name;
	struct mux_stats *wait_stats; /* the backend's counters, or the uring loop's */
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
	/* The models beside the single reactor (model.h). */
	const struct model_hooks *hooks;
	struct model_slot *slots;  /* every worker's counters, shared across fork */
	size_t nslots;
	struct model_slot *slot;   /* a reactor worker's own, published every loop turn */
	void *model;               /* the running model's own state */
	bool serves_inline;        /* the supervising loop serves clients itself (iterative) */
	char scratch[READ_CHUNK];
};

/* Output not yet acknowledged by the kernel: queued, and (uring) in flight. */
static inline size_t pending(const struct conn *c)
{
	return c->out.len - c->out.off + c->sending.len - c->sending.off;
}

static inline void buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf){ 0 };
}

/* Bytes queued in out: in the readiness loop, all of pending(). */
static inline size_t queued(const struct conn *c)
{
	return c->out.len - c->out.off;
}

/* Forget a drained buffer's contents; give big ones back to the allocator. */
static inline void buf_reset(struct buf *b)
{
	b->off = b->len = 0;
	if (b->cap > KEEP_BUFFER)
		buf_free(b);
}

/* Count what a connection's buffers hold now into the server-wide total. */
static inline void account(struct server *s, struct conn *c)
{
	size_t now = c->in.cap + c->out.cap + c->sending.cap;

	s->st.mem = s->st.mem - c->charged + now;
	c->charged = now;
	if (s->st.mem > s->st.mem_max)
		s->st.mem_max = s->st.mem;
}

static inline bool over_budget(const struct server *s)
{
	return s->cfg->max_memory && s->st.mem >= s->cfg->max_memory;
}

/* server_conn.c: a connection's reads, replies and buffers; the ready list. */
void conn_open(struct server *s, int fd);
void conn_close(struct server *s, struct conn *c);
void conn_discard_input(struct server *s, struct conn *c);
void conn_serve(struct server *s, struct conn *c, unsigned events);
bool conn_send_reply(struct server *s, struct conn *c, const char *data, size_t n);
void conn_settle(struct server *s, struct conn *c);
void ready_list_serve(struct server *s);
/* Shared by both loops: a new connection's struct and socket options; hand bytes to the protocol. */
struct conn *conn_new(struct server *s, int fd);
bool conn_deliver(struct server *s, struct conn *c, char *data, size_t n);
bool conn_reading_allowed(const struct server *s, const struct conn *c);
void conn_track_pause(struct server *s, struct conn *c);
bool buf_append(struct buf *b, const char *data, size_t n);

/* server_listen.c: the listening socket, TCP's accepts and UDP's datagrams. */
int listener_open(const struct server_config *cfg, bool reuseport);
int listener_port(int fd);
unsigned listener_interest(const struct server *s);
void listener_accept(struct server *s);
void listener_serve_datagrams(struct server *s);
void listener_resume(struct server *s);
void listener_shed(struct server *s);
void listener_pause(struct server *s);

/* server.c: signals, and how long the loop may sleep; what the models reuse. */
void server_read_signals(struct server *s);
int server_signal_stops(void);
bool server_signal_take_stats(void);
double server_signal_first_stop_s(void);
void server_stop_in_handler(int listen_fd, double grace_s);
void server_worker_signals(void);
void server_model_signals(void);
void server_worker_blocked(sigset_t *set);
int server_open(struct server *s, const struct server_config *cfg, int listen_fd);
void server_print_port(const struct server_config *cfg, int port, const char *backend);
int server_serve(struct server *s);
void server_close(struct server *s);
void server_publish(struct server *s);
int server_wait_timeout_ms(const struct server *s);
bool server_turn_ends_loop(const struct server *s);

/* model.c: every model but the single reactor. */
bool model_is_default(const struct server_config *cfg);
int model_run(const struct server_config *cfg);

/* server_uring.c: the completion-mode loop, and its side of the calls both loops make. */
int uring_setup(struct server *s);
int uring_run_loop(struct server *s);
void uring_teardown(struct server *s);
void uring_conn_close(struct server *s, struct conn *c);
void uring_conn_settle(struct server *s, struct conn *c);
bool uring_queue_reply(struct server *s, struct conn *c, const char *data, size_t n);
void uring_arm_accept(struct server *s);
void uring_stop_accepting(struct server *s);

/* server_limits.c: the timeouts and --max-memory, which close connections. */
double limits_sweep_interval(const struct server_config *cfg);
void limits_sweep_timeouts(struct server *s);
void limits_enforce_budget(struct server *s);

/* server_print.c: stats, summary and log lines, none of which may block the loop. */
void print_line(struct server *s, int fd, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void print_log(struct server *s, const char *msg);
void print_stats(struct server *s, const char *tag);
void print_counters(struct server *s, const char *tag, const char *backend, long open,
		    const struct server_stats *st, const struct mux_stats *m, const double cpu[2]);
struct timeval;
double timeval_s(struct timeval tv);

#endif
