/*
 * server.c - the server's event loop: wait, hand each event to its part,
 * then the turn's chores (the ready list, the memory budget, the timeouts,
 * accepting again); signals, setup and teardown. Its parts: server_conn.c
 * (connections), server_listen.c (the listening socket), server_limits.c
 * (timeouts and --max-memory), server_print.c (stats and log lines);
 * server_internal.h is what they share.
 */
#include "model.h"
#include "clock.h"
#include "fdlimit.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAX_EVENTS 512

static volatile sig_atomic_t signal_pipe_fd = -1;
/*
 * What the signals asked for. The self-pipe only wakes the loop: a byte per
 * signal is dropped when the pipe is full, and the bytes queued may all be
 * SIGUSR1, so a SIGTERM must not depend on room in it.
 */
static volatile sig_atomic_t stop_signals;  /* SIGINT/SIGTERM seen, counted up to 2 */
static volatile sig_atomic_t stats_wanted;  /* SIGUSR1 seen since the last stats line */
/*
 * A process that serves inside a blocking read (the iterative model) sees
 * a stop only if the read is interrupted, and a signal that lands between
 * two reads interrupts nothing. So there the handler itself does what the
 * stop must not wait for (both calls are async-signal-safe): it shuts the
 * listener, so new clients are refused at once, and arms a timer for the
 * grace, whose SIGALRM interrupts the read however the race fell. It also
 * notes when the stop came, from which the grace counts.
 */
static timer_t grace_timer;
static bool grace_timer_made;
static struct itimerspec grace_spec;
static volatile sig_atomic_t shut_on_stop = -1;
static volatile int64_t first_stop_ns;

/* SIGUSR2 is a reactor worker's stop, sent by its parent (server_worker_signals). */
static bool is_stop(int signo)
{
	return signo == SIGINT || signo == SIGTERM || signo == SIGUSR2 || signo == SIGQUIT;
}

static void on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;

	if (signo == SIGUSR1)
		stats_wanted = 1;
	else if (signo == SIGQUIT)	/* a reactor worker's "stop now" (server_worker_signals) */
		stop_signals = 2;
	else if (is_stop(signo) && stop_signals < 2)	/* the second: stop now */
		stop_signals++;
	if (is_stop(signo) && !first_stop_ns) {
		first_stop_ns = mono_ns();
		if (shut_on_stop != -1)
			shutdown(shut_on_stop, SHUT_RDWR);
		if (grace_timer_made)
			timer_settime(grace_timer, 0, &grace_spec, NULL);
	}
	/* SIGCHLD and SIGALRM (the models' children and deadlines) only wake the loop. */
	/* A full pipe already wakes the loop: dropping this byte loses nothing. */
	if (write(signal_pipe_fd, &b, 1) == -1) {
	}
	errno = saved;
}

/* For the models' own loops (model.c): the stop signals seen so far, and whether stats were asked for. */
int server_signal_stops(void)
{
	return stop_signals;
}

/* When the first stop signal came (monotonic seconds), 0 if none has. */
double server_signal_first_stop_s(void)
{
	return first_stop_ns ? (double)first_stop_ns / 1e9 : 0;
}

/* From now on the first stop signal shuts listen_fd and arms a SIGALRM grace_s later (see grace_timer). */
void server_stop_in_handler(int listen_fd, double grace_s)
{
	struct sigevent ev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM };

	grace_spec.it_value.tv_sec = (time_t)grace_s;
	grace_spec.it_value.tv_nsec = (long)((grace_s - (double)(time_t)grace_s) * 1e9);
	if (grace_spec.it_value.tv_sec == 0 && grace_spec.it_value.tv_nsec == 0)
		grace_spec.it_value.tv_nsec = 1;	/* zero would disarm it */
	grace_timer_made = timer_create(CLOCK_MONOTONIC, &ev, &grace_timer) == 0;
	shut_on_stop = listen_fd;
}

bool server_signal_take_stats(void)
{
	bool wanted = stats_wanted;

	stats_wanted = 0;
	return wanted;
}

static void begin_stop(struct server *s)
{
	if (s->stopping) {
		s->stop_now = true;	/* second signal: no more waiting */
		return;
	}
	s->stopping = true;
	if (s->uring)
		uring_stop_accepting(s);
	else if (s->accept_paused_until == 0)
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
void server_read_signals(struct server *s)
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

int server_wait_timeout_ms(const struct server *s)
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

/* After a loop turn: whether the duration is over, or a stop has seen every client go. */
bool server_turn_ends_loop(const struct server *s)
{
	return (s->deadline && mono_s() >= s->deadline) || (s->stopping && s->open_conns == 0);
}

static void dispatch(struct server *s, const struct mux_event *ev, int n)
{
	for (int i = 0; i < n; i++) {
		int fd = ev[i].fd;

		if (fd == s->listen_fd && s->cfg->proto->datagram)
			listener_serve_datagrams(s);
		else if (fd == s->listen_fd)
			listener_accept(s);
		else if (fd == s->sig_pipe[0])
			server_read_signals(s);
		else if ((size_t)fd < s->by_fd_cap && s->by_fd[fd])
			conn_serve(s, s->by_fd[fd], ev[i].events);
	}
}

static int run_loop(struct server *s)
{
	struct mux_event ev[MAX_EVENTS];

	while (!s->stop_now) {
		int n = mux_wait(s->mux, ev, MAX_EVENTS, server_wait_timeout_ms(s));

		if (n < 0) {
			fprintf(stderr, "muxserver: %s wait failed: %s\n",
				s->mux->ops->name, strerror(-n));
			return 1;
		}
		s->now = mono_s();
		dispatch(s, ev, n);
		ready_list_serve(s);
		limits_enforce_budget(s);
		limits_sweep_timeouts(s);
		listener_resume(s);
		server_publish(s);
		if (server_turn_ends_loop(s))
			break;
	}
	return 0;
}

/* A reactor worker (--workers N) copies its counters where the parent reads them, once a loop turn. */
void server_publish(struct server *s)
{
	const uint64_t *st = (const uint64_t *)&s->st, *m = (const uint64_t *)s->wait_stats;

	/* Word by word and atomic: the parent may be reading them for a stats line (model.c). */
	if (!s->slot)
		return;
	for (size_t i = 0; i < sizeof(s->st) / sizeof(uint64_t); i++)
		__atomic_store_n(&((uint64_t *)&s->slot->st)[i], st[i], __ATOMIC_RELAXED);
	for (size_t i = 0; i < sizeof(*s->wait_stats) / sizeof(uint64_t); i++)
		__atomic_store_n(&((uint64_t *)&s->slot->m)[i], m[i], __ATOMIC_RELAXED);
}

static void install_signals(struct server *s)
{
	static const int handled[] = { SIGINT, SIGTERM, SIGUSR1 };
	struct sigaction sa = { .sa_handler = on_signal };

	signal_pipe_fd = s->sig_pipe[1];
	stop_signals = stats_wanted = 0;
	first_stop_ns = 0;
	/* One handler at a time: stop_signals++ must not be interrupted by another. */
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaddset(&sa.sa_mask, handled[i]);
	/* No SA_RESTART: we want the wait to return so the loop sees the signal promptly. */
	for (size_t i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaction(handled[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * The models' parents (model.c) hear their children end and their
 * deadlines pass: SIGCHLD and SIGALRM only wake the loop. The single
 * reactor has neither, and keeps both signals' defaults.
 */
void server_model_signals(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
}

/* A reactor worker's SIGUSR2 and SIGQUIT count only from its parent (Ctrl-\ reaches every process). */
static void on_parent_signal(int signo, siginfo_t *si, void *ctx)
{
	(void)ctx;
	if (si->si_pid == getppid())
		on_signal(signo);
}

/*
 * A reactor worker (--workers N) stops when its parent says so, not when
 * the signal that reached the parent reaches it too (Ctrl-C signals the
 * whole group, a supervisor may signal every process): SIGINT and SIGTERM
 * are ignored, SIGUSR2 is the stop, SIGQUIT the stop now, each only from
 * the parent. The parent blocked them all across the fork
 * (server_worker_blocked), so none acts before this runs.
 */
void server_worker_signals(void)
{
	struct sigaction sa = { .sa_sigaction = on_parent_signal, .sa_flags = SA_SIGINFO };
	sigset_t theirs;

	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	sigaddset(&sa.sa_mask, SIGQUIT);
	server_worker_blocked(&theirs);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);	/* the parent prints the stats, from every worker's counters */
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGQUIT, &sa, NULL);
	sigprocmask(SIG_UNBLOCK, &theirs, NULL);
}

/*
 * The signals a reactor worker must not take before server_worker_signals:
 * its parent blocks them across the fork. A SIGINT or SIGTERM pending then
 * is dropped when they become ignored; SIGUSR2 and SIGQUIT are delivered.
 */
void server_worker_blocked(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
	sigaddset(set, SIGQUIT);
}

/*
 * What every model needs before it serves: the fd limit, the listener
 * (listen_fd, or a new one when -1), the signal pipe and handlers.
 * 0, or -1 after one line on stderr.
 */
int server_open(struct server *s, const struct server_config *cfg, int listen_fd)
{
	s->cfg = cfg;
	s->spare_fd = -1;
	s->sig_pipe[0] = s->sig_pipe[1] = -1;
	/* C10K needs more than the usual 1024 soft limit; the hard limit is ours to take. */
	fdlimit_set(cfg->nofile > 0 ? (rlim_t)cfg->nofile : RLIM_INFINITY);
	s->listen_fd = listen_fd != -1 ? listen_fd : listener_open(cfg, false);
	if (s->listen_fd == -1)
		return -1;
	if (pipe2(s->sig_pipe, O_NONBLOCK | O_CLOEXEC) == -1) {
		fprintf(stderr, "muxserver: pipe: %s\n", strerror(errno));
		return -1;
	}
	s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	install_signals(s);
	return 0;
}

/* The reactor's wait: its backend with the listener and the signal pipe, or the uring loop. */
static int reactor_setup(struct server *s)
{
	const struct server_config *cfg = s->cfg;

	if (cfg->uring)
		return uring_setup(s);
	s->backend_name = cfg->backend->name;
	s->mux = mux_create(cfg->backend, 1024);
	if (!s->mux) {
		fprintf(stderr, "muxserver: cannot create %s backend: %s\n",
			cfg->backend->name, strerror(errno));
		return -1;
	}
	if (mux_add(s->mux, s->listen_fd, listener_interest(s)) < 0 ||
	    mux_add(s->mux, s->sig_pipe[0], MUX_IN) < 0) {
		fprintf(stderr, "muxserver: cannot register the listener with %s\n",
			cfg->backend->name);
		return -1;
	}
	s->wait_stats = &s->mux->stats;
	return 0;
}

void server_close(struct server *s)
{
	for (size_t fd = 0; fd < s->by_fd_cap; fd++)
		if (s->by_fd[fd])
			conn_close(s, s->by_fd[fd]);
	if (s->uring)
		uring_teardown(s);
	free(s->by_fd);
	free(s->stage.data);
	if (s->mux)
		mux_destroy(s->mux);
	shut_on_stop = -1;	/* before the close: a signal now must not shut a reused number */
	if (s->listen_fd != -1)
		close(s->listen_fd);
	if (s->spare_fd != -1)
		close(s->spare_fd);
	signal_pipe_fd = -1;
	for (int i = 0; i < 2; i++)
		if (s->sig_pipe[i] != -1)
			close(s->sig_pipe[i]);
}

/* The first line of stdout, which scripts and tests wait for; the same for every model. */
void server_print_port(const struct server_config *cfg, int port, const char *backend)
{
	printf("port=%d host=%s backend=%s proto=%s model=%s workers=%u pid=%ld\n", port, cfg->host,
	       backend, cfg->proto->name, model_name(cfg->model), cfg->workers, (long)getpid());
	fflush(stdout);
}

/*
 * A reactor, set up on s's listener: serve until the stop, then its
 * summary, or (a worker of --workers N) its counters in its slot.
 */
int server_serve(struct server *s)
{
	const struct server_config *cfg = s->cfg;
	double started;
	int rc;

	if (reactor_setup(s) != 0)
		return 1;
	if (!s->slot)
		server_print_port(cfg, listener_port(s->listen_fd), s->backend_name);
	started = s->now = mono_s();
	if (limits_sweep_interval(cfg) > 0)
		s->next_sweep = started + limits_sweep_interval(cfg);
	if (cfg->duration_s > 0)
		s->deadline = started + cfg->duration_s;
	rc = s->uring ? uring_run_loop(s) : run_loop(s);
	if (s->slot) {
		server_publish(s);
	} else if (!cfg->quiet) {
		print_line(s, STDOUT_FILENO, "muxserver: stopped after %.2f s\n", mono_s() - started);
		print_stats(s, "summary");
	}
	return rc;
}

int server_run(const struct server_config *cfg)
{
	struct server *s;
	int rc = 1;

	if (!model_is_default(cfg))
		return model_run(cfg);
	s = calloc(1, sizeof(*s));
	if (!s) {
		fprintf(stderr, "muxserver: out of memory\n");
		return 1;
	}
	if (server_open(s, cfg, -1) == 0)
		rc = server_serve(s);
	server_close(s);
	free(s);
	return rc;
}
