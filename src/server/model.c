/*
 * model.c - the server models: the registry (a model is its file,
 * model_<name>.c, and its name in MODELS below), and what their parents
 * share: counters in memory shared across fork, the supervising loop
 * (signals, the grace period, the cut), refusals, model_run. Their
 * workers' shared parts are in model_workers.c, the summary in
 * model_print.c.
 */
#include "model.h"
#include "cli.h"
#include "clock.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* The registry, the one list of models, the default first: usage texts and the tests derive from it. */
#define MODELS(X) X(reactor) X(iterative) X(fork) X(thread) X(prefork) X(prethread)

#define DECLARE(name) extern const struct model_ops model_##name##_ops;
#define ENTRY(name) &model_##name##_ops,
MODELS(DECLARE)
const struct model_ops *const model_all[] = { MODELS(ENTRY) NULL };

/* After the grace: how long cut workers get to be gone before we give up on them. */
#define CUT_WAIT_S 2.0
/* While stopping, how often the loop looks at the live count (threads end without a signal). */
#define STOP_POLL_MS 20

const struct model_ops *model_find(const char *name)
{
	return cli_find((const void *const *)model_all, name);
}

const char *model_names(void)
{
	static char names[256];

	return cli_names((const void *const *)model_all, names, sizeof(names));
}

const char *model_name(const struct model_ops *m)
{
	return m ? m->name : model_all[0]->name;
}

bool model_is_pool(const struct model_ops *m)
{
	return m && m->pool;
}

bool model_is_blocking(const struct model_ops *m)
{
	return m && m->blocking;
}

void model_usage(FILE *out)
{
	for (size_t i = 0; model_all[i]; i++)
		fprintf(out, "  %-10s %s\n", model_all[i]->name, model_all[i]->summary);
}

/* The single reactor runs in server.c as it always has; every other model runs here. */
bool model_is_default(const struct server_config *cfg)
{
	return model_name(cfg->model) == model_all[0]->name && cfg->workers <= 1;
}

struct model_slot *model_slots(size_t n)
{
	void *p = mmap(NULL, n * sizeof(struct model_slot), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "muxserver: cannot map the workers' counters: %s\n", strerror(errno));
		return NULL;
	}
	return p;
}

/* SIGALRM at the deadline: a blocking read in the serving process must see it (iterative). */
static void arm_timer(const struct server *s)
{
	double left = s->deadline - mono_s();
	struct itimerval it = { 0 };

	if (!s->deadline)
		return;
	if (left < 0.001)
		left = 0.001;
	/* Rounded up: a timer a microsecond early would leave a blocking read waiting past the deadline. */
	it.it_value.tv_sec = (time_t)left;
	it.it_value.tv_usec = (suseconds_t)ceil((left - (double)(time_t)left) * 1e6);
	if (it.it_value.tv_usec >= 1000000) {
		it.it_value.tv_sec++;
		it.it_value.tv_usec = 0;
	}
	setitimer(ITIMER_REAL, &it, NULL);
}

/*
 * Shut the listener: every accept() blocked on it, in any process or
 * thread, returns EINVAL on Linux, and new clients are refused instead of
 * left in a backlog nobody reads. It is closed at the end (server_close),
 * not now: a worker thread may still be calling accept() on its number.
 */
void model_stop_listening(struct server *s)
{
	if (s->listen_fd != -1)
		shutdown(s->listen_fd, SHUT_RDWR);
}

static void begin_stop(struct server *s)
{
	double until;

	if (s->stopping) {
		s->stop_now = true;	/* second signal: no more waiting */
		return;
	}
	s->stopping = true;
	if (s->hooks && s->hooks->stop)
		s->hooks->stop(s);
	else
		model_stop_listening(s);
	/* From the signal, not from now: in the iterative model, now may be the grace timer's end. */
	until = (server_signal_first_stop_s() ? server_signal_first_stop_s() : mono_s()) + s->cfg->grace_s;
	if (s->deadline == 0 || until < s->deadline)
		s->deadline = until;
	arm_timer(s);
}

/* The pipe woke us: act on the flags the handler set (see server.c). */
void model_signals(struct server *s)
{
	unsigned char bytes[256];

	while (read(s->sig_pipe[0], bytes, sizeof(bytes)) > 0)
		;
	if (server_signal_take_stats())
		model_print(s, "stats");
	while (s->stops_taken < server_signal_stops()) {
		s->stops_taken++;
		begin_stop(s);
	}
}

/* A blocking call in the supervising process was interrupted: true when serving must end. */
bool model_should_end(struct server *s)
{
	model_signals(s);
	return s->stop_now || (s->deadline && mono_s() >= s->deadline);
}

static int wait_ms(const struct server *s)
{
	double left;

	if (!s->deadline)
		return s->stopping ? STOP_POLL_MS : -1;
	left = (s->deadline - mono_s()) * 1000;
	if (left <= 0)
		return 0;
	if (s->stopping && left > STOP_POLL_MS)
		return STOP_POLL_MS;
	return (int)left + 1;
}

/*
 * Past the grace (or the duration, or a second signal): end every worker,
 * and wait a little for them. Pool workers idle in accept end by
 * themselves once the listener is shut (and write their CPU): a moment for
 * them first.
 */
static void cut(struct server *s, const struct model_hooks *h)
{
	double until = mono_s() + CUT_WAIT_S;

	s->stop_now = true;	/* workers ending now were told to: no log line each */
	model_stop_listening(s);
	for (int i = 0; i < 10 && h->live(s) > 0; i++)
		poll(NULL, 0, 10);
	h->cut(s);
	while (h->live(s) > 0 && mono_s() < until)
		poll(NULL, 0, 10);
	if (h->live(s) > 0)
		print_log(s, "workers still running after the stop; exiting without them");
}

/*
 * The parent's loop for every model: signals, accepting when the parent
 * accepts, reaping through h->live, the grace period. Ends when a stop has
 * seen every worker go, or after the cut.
 */
int model_supervise(struct server *s, const struct model_hooks *h)
{
	s->hooks = h;
	arm_timer(s);
	/* live() every turn: it is where the process models reap their children. */
	while (h->live(s) > 0 || !s->stopping) {
		struct pollfd p[2] = { { .fd = s->sig_pipe[0], .events = POLLIN },
				       { .fd = s->listen_fd, .events = POLLIN } };
		nfds_t n = h->accept && s->listen_fd != -1 && !s->stopping ? 2 : 1;

		if (poll(p, n, wait_ms(s)) == -1 && errno != EINTR) {
			fprintf(stderr, "muxserver: poll failed: %s\n", strerror(errno));
			return 1;
		}
		if (p[0].revents)
			model_signals(s);
		if (n == 2 && (p[1].revents & POLLIN) && !s->stopping)
			h->accept(s);
		if (s->stop_now || (s->deadline && mono_s() >= s->deadline)) {
			if (!s->stopping)
				begin_stop(s);	/* the --duration's end: the stop a signal makes, then the cut */
			cut(s, h);
			break;
		}
		if (h->workers_fixed && !s->stopping && h->live(s) == 0) {
			fprintf(stderr, "muxserver: every worker ended before the stop (see the lines above)\n");
			return 1;
		}
	}
	return 0;
}

/*
 * A client the model cannot take (--max-conns, no process or thread to
 * spare): closed at once and counted, so it learns (EOF) instead of
 * waiting. One log line a second at most: a refusal storm must not become
 * a log storm.
 */
void model_refuse(struct server *s, struct model_slot *slot, int fd, const char *why)
{
	char line[160];

	close(fd);
	SLOT_ADD(slot, refused, 1);
	if (mono_s() - s->mem_logged_at < 1.0)
		return;
	s->mem_logged_at = mono_s();
	snprintf(line, sizeof(line), "refusing connections: %s (refused=%llu)", why,
		 (unsigned long long)__atomic_load_n(&slot->st.refused, __ATOMIC_RELAXED));
	print_log(s, line);
}

int model_run(const struct server_config *cfg)
{
	struct server *s = calloc(1, sizeof(*s));
	const struct model_ops *m = cfg->model;
	bool reuseport = !m->blocking && !cfg->shared_listener;
	double started;
	char why[160];
	int rc = 1, fd;

	if (!s) {
		fprintf(stderr, "muxserver: out of memory\n");
		return 1;
	}
	/* Nothing open yet: server_close must not take 0 (calloc's) for an fd of ours. */
	s->listen_fd = s->spare_fd = s->sig_pipe[0] = s->sig_pipe[1] = -1;
	s->nslots = m->pool || !m->blocking ? cfg->workers : 1;
	s->slots = model_slots(s->nslots);
	s->backend_name = m->blocking ? "blocking" : cfg->uring ? server_uring_name : cfg->backend->name;
	/* Before the port line: N reactor workers failing one by one would say it N times, after it. */
	if (cfg->uring && !server_uring_probe(why, sizeof(why))) {
		fprintf(stderr, "muxserver: --backend %s: %s\n", server_uring_name, why);
		fd = -1;
	} else {
		fd = s->slots ? listener_open(cfg, reuseport) : -1;
	}
	if (fd != -1 && server_open(s, cfg, fd) == 0) {
		server_model_signals();
		server_print_port(cfg, listener_port(s->listen_fd), s->backend_name);
		started = s->now = mono_s();
		if (cfg->duration_s > 0)
			s->deadline = started + cfg->duration_s;
		rc = m->run(s);
		if (!cfg->quiet) {
			print_line(s, STDOUT_FILENO, "muxserver: stopped after %.2f s\n", mono_s() - started);
			model_print(s, "summary");
		}
	}
	server_close(s);
	model_children_forget();
	/* Threads that outlived the cut may still count into theirs: then the exit frees them. */
	if (s->slots && !(s->hooks && s->hooks->live(s) > 0))
		munmap(s->slots, s->nslots * sizeof(struct model_slot));
	free(s);
	return rc;
}
