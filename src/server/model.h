/*
 * model.h - the server models of the course notes and of Stevens' chapter
 * 30, beside the reactor: iterative, a process or a thread per connection,
 * process and thread pools, and N reactors. Each model is one file
 * (model_<name>.c) and one line of the registry in model.c; what they
 * share is here: the counters in memory shared across fork, the blocking
 * session every blocking model runs, and the supervising loop.
 */
#ifndef MODEL_H
#define MODEL_H

#include "server_internal.h"
#include "grow.h"

#include <pthread.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/types.h>

/*
 * One worker's counters, in memory shared across fork (model_slots): a
 * child's adds are the parent's to read. Per-connection models (fork,
 * thread) share slot 0; pools and reactor workers have one each. Adds are
 * atomic: threads, and a parent reading while a child writes.
 */
struct model_slot {
	struct server_stats st;
	struct mux_stats m;
	double cpu_user_s, cpu_sys_s;  /* the worker's own, written as it exits */
	long pid;                      /* the worker's process or thread id; 0: never started */
};

#define SLOT_ADD(slot, field, n) __atomic_fetch_add(&(slot)->st.field, (uint64_t)(n), __ATOMIC_RELAXED)

struct model_ops {
	const char *name;
	const char *summary;
	bool pool;          /* --workers N made at start */
	bool blocking;      /* blocking sockets and plain read/write: no --backend */
	/* Serve until stopped; the listener and signals are set up; returns the exit status. */
	int (*run)(struct server *s);
};

/* The registry (model.c), NULL-terminated, the default first. */
extern const struct model_ops *const model_all[];

/* What the supervising loop (model_supervise) asks of the model whose parent it runs. */
struct model_hooks {
	/* The first stop signal, instead of shutting the listener (NULL: shut it). */
	void (*stop)(struct server *s);
	/* The listener is readable (NULL: the parent does not accept; workers do). */
	void (*accept)(struct server *s);
	/* The grace is over, or a second signal came: make every worker end now. */
	void (*cut)(struct server *s);
	/* Workers or connections still running; the stop is done at 0. */
	long (*live)(struct server *s);
	/* Its workers are made at start (pools, reactors): none left before a stop is a failure. */
	bool workers_fixed;
};

/* The children a parent has running (model_workers.c): listed, signalled, reaped and counted. */
bool model_child_add(pid_t pid);
void model_children_signal(int signo);
long model_children(struct server *s, void (*gone)(struct server *s, pid_t pid, int status));
void model_children_forget(void);
void model_kill_children(struct server *s);

/* Sockets being served by threads (thread, prethread), to shut at the end of the grace. */
bool served_list(int fd);
void served_close(int fd);
long served_count(void);
void served_shut_all(void);

/* --accept-lock: set up in the parent, taken and given around each worker's accept(). */
int accept_turn_setup(struct server *s);
void accept_turn_child(void);
void accept_turn_take(void);
void accept_turn_give(void);
void accept_turn_teardown(void);

/* model.c: shared memory, the parent's loop, children, the summary. */
struct model_slot *model_slots(size_t n);
int model_supervise(struct server *s, const struct model_hooks *h);
void model_stop_listening(struct server *s);
pid_t model_fork_child(struct server *s);
void model_signals(struct server *s);
bool model_should_end(struct server *s);
bool model_fork_workers(struct server *s, void (*child)(struct server *s, size_t i));
void model_worker_gone(struct server *s, pid_t pid, int status);
void model_refuse(struct server *s, struct model_slot *slot, int fd, const char *why);
void model_slot_exit(struct model_slot *slot, int who);
void model_print(struct server *s, const char *tag);
void model_block_signals(sigset_t *old);
void model_blocking_listener(struct server *s);

/* model_session.c: one connection on a blocking socket, until EOF, error or the protocol's close. */
void session_serve(struct server *s, struct model_slot *slot, int fd);
/* UDP (iterative, thread): every datagram waiting handed to answer; one answered to its sender. */
void datagrams_drain(struct server *s, struct model_slot *slot,
		     void (*answer)(struct server *s, const char *data, size_t n,
				    const struct sockaddr_storage *from, socklen_t len));
void datagram_answer(struct server *s, struct model_slot *slot, char *data, size_t n,
		     const struct sockaddr_storage *from, socklen_t len);
/* Accepting on a blocking listener in a worker: the fd, or -1 when the listener was shut (stop). */
int session_accept(int listen_fd, struct model_slot *slot);

#endif
