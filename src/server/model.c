/*
 * model.c - the server models: the registry (a model is its file,
 * model_<name>.c, and its name in MODELS below), and what their parents
 * share: counters in memory shared across fork, the supervising loop
 * (signals, children, the grace period), the summary.
 */
#include "model.h"
#include "cli.h"
#include "clock.h"
#include "grow.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <sys/file.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
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
 * A child that serves: the parent's signal handlers and pipe are the
 * parent's. SIGINT and SIGTERM are ignored (Ctrl-C reaches the whole
 * process group; a supervisor may signal every process): the parent
 * decides when and how children stop, by shutting the listener, and
 * SIGKILL past the grace. A child whose parent
 * died is killed: nobody would count or stop it.
 */
pid_t model_fork_child(struct server *s)
{
	pid_t parent = getpid(), pid = fork();

	if (pid != 0)
		return pid;
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	close(s->sig_pipe[0]);
	close(s->sig_pipe[1]);
	s->sig_pipe[0] = s->sig_pipe[1] = -1;
	return 0;
}

bool pid_set_add(struct pid_set *set, pid_t pid)
{
	if (grow_array((void **)&set->pids, &set->cap, set->n, sizeof(*set->pids)))
		return false;
	set->pids[set->n++] = pid;
	return true;
}

/* false: not one of ours (a child of a helper we did not start) */
bool pid_set_remove(struct pid_set *set, pid_t pid)
{
	for (size_t i = 0; i < set->n; i++) {
		if (set->pids[i] == pid) {
			set->pids[i] = set->pids[--set->n];
			return true;
		}
	}
	return false;
}

void pid_set_signal(const struct pid_set *set, int signo)
{
	for (size_t i = 0; i < set->n; i++)
		kill(set->pids[i], signo);
}

/* The sockets threads are serving, by fd (thread, prethread): to shut at the stop. */
static struct {
	pthread_mutex_t lock;
	unsigned char *listed;
	size_t cap;
	long count;
} served = { .lock = PTHREAD_MUTEX_INITIALIZER };

bool served_list(int fd)
{
	bool ok;

	pthread_mutex_lock(&served.lock);
	ok = grow_array((void **)&served.listed, &served.cap, (size_t)fd, 1) == 0;
	if (ok) {
		served.listed[fd] = 1;
		served.count++;
	}
	pthread_mutex_unlock(&served.lock);
	return ok;
}

/* Unlisted and closed under the lock: the stop must never shut a reused fd number. */
void served_close(int fd)
{
	pthread_mutex_lock(&served.lock);
	served.listed[fd] = 0;
	served.count--;
	close(fd);
	pthread_mutex_unlock(&served.lock);
}

long served_count(void)
{
	long n;

	pthread_mutex_lock(&served.lock);
	n = served.count;
	pthread_mutex_unlock(&served.lock);
	return n;
}

/* Past the grace: shut every socket still served; its thread's read returns 0 and the thread ends. */
void served_shut_all(void)
{
	pthread_mutex_lock(&served.lock);
	for (size_t fd = 0; fd < served.cap; fd++)
		if (served.listed[fd])
			shutdown((int)fd, SHUT_RDWR);
	pthread_mutex_unlock(&served.lock);
}

/*
 * --accept-lock: one worker at a time in accept(), Stevens' 30.7 (a file
 * lock; flock here, each child on its own open file description, or the
 * children would share one lock) and 30.8 (a mutex in memory shared
 * across fork). Robust: a worker killed holding it does not stall the rest.
 */
static pthread_mutex_t *turn_mutex;
static int turn_fd = -1;

int accept_turn_setup(struct server *s)
{
	pthread_mutexattr_t attr;

	if (s->cfg->accept_lock == ACCEPT_FLOCK) {
		turn_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		if (turn_fd == -1)
			fprintf(stderr, "muxserver: --accept-lock flock: cannot make a file in /tmp: %s\n",
				strerror(errno));
		return turn_fd == -1 ? -1 : 0;
	}
	if (s->cfg->accept_lock != ACCEPT_MUTEX)
		return 0;
	turn_mutex = mmap(NULL, sizeof(*turn_mutex), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (turn_mutex == MAP_FAILED) {
		fprintf(stderr, "muxserver: --accept-lock mutex: %s\n", strerror(errno));
		turn_mutex = NULL;
		return -1;
	}
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(turn_mutex, &attr);
	pthread_mutexattr_destroy(&attr);
	return 0;
}

/* In a new child: its own open file description of the lock file (through /proc, as it has no name). */
void accept_turn_child(void)
{
	char path[64];
	int fd;

	if (turn_fd == -1)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", turn_fd);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd == -1) {	/* sharing the parent's would lock nothing: no worker rather than a wrong one */
		fprintf(stderr, "muxserver: --accept-lock flock: cannot reopen the lock file (%s): %s\n",
			path, strerror(errno));
		_exit(1);
	}
	close(turn_fd);
	turn_fd = fd;
}

void accept_turn_take(void)
{
	if (turn_mutex && pthread_mutex_lock(turn_mutex) == EOWNERDEAD)
		pthread_mutex_consistent(turn_mutex);
	if (turn_fd != -1)
		while (flock(turn_fd, LOCK_EX) == -1 && errno == EINTR)
			;
}

void accept_turn_give(void)
{
	if (turn_mutex)
		pthread_mutex_unlock(turn_mutex);
	if (turn_fd != -1)
		flock(turn_fd, LOCK_UN);
}

void accept_turn_teardown(void)
{
	if (turn_mutex)
		munmap(turn_mutex, sizeof(*turn_mutex));
	if (turn_fd != -1)
		close(turn_fd);
	turn_mutex = NULL;
	turn_fd = -1;
}

/* Pool workers wait in accept() itself, as Stevens' do: the shared listener becomes blocking. */
void model_blocking_listener(struct server *s)
{
	int flags = fcntl(s->listen_fd, F_GETFL);

	if (flags != -1)
		fcntl(s->listen_fd, F_SETFL, flags & ~O_NONBLOCK);
}

/*
 * The pool's or the reactors' processes, one per slot: child(s, i) in
 * each (it never returns). false, after one line, when one could not be
 * made; those made are in set.
 */
bool model_fork_workers(struct server *s, struct pid_set *set, void (*child)(struct server *s, size_t i))
{
	for (size_t i = 0; i < s->nslots; i++) {
		pid_t pid = model_fork_child(s);

		if (pid == 0)
			child(s, i);
		if (pid == -1 || !pid_set_add(set, pid)) {
			fprintf(stderr, "muxserver: cannot start worker %zu of %zu: %s\n", i, s->nslots,
				strerror(pid == -1 ? errno : ENOMEM));
			if (pid > 0)
				kill(pid, SIGKILL);
			return false;
		}
		s->slots[i].pid = pid;
	}
	return true;
}

/* A worker process reaped: unlisted; said in a line when it ended before the stop, or badly. */
void model_worker_gone(struct server *s, struct pid_set *set, pid_t pid, int status)
{
	char line[128];

	if (!pid_set_remove(set, pid) || (s->stopping && (status == 0 || s->stop_now)))
		return;
	/* Not restarted: the rest serve on with one worker fewer, and say so. */
	snprintf(line, sizeof(line), "worker %ld ended %s (%s %d)", (long)pid,
		 s->stopping ? "badly" : "before the stop", WIFSIGNALED(status) ? "signal" : "status",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	print_log(s, line);
}

/* Reap every child that has exited: no zombie outlives a turn of the loop. */
void model_reap(struct server *s, void (*gone)(struct server *s, pid_t pid, int status))
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		gone(s, pid, status);
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

/* A worker's CPU, written as it ends (who: RUSAGE_SELF for a process, RUSAGE_THREAD for a thread). */
void model_slot_exit(struct model_slot *slot, int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) == 0) {
		slot->cpu_user_s = timeval_s(ru.ru_utime);
		slot->cpu_sys_s = timeval_s(ru.ru_stime);
	}
}

/* Worker threads take no process signals: the main thread handles them all. */
void model_block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
}

/* A worker's counters as one reading: its line and the totals must agree. Workers write them atomically. */
static void snapshot(struct model_slot *to, const struct model_slot *from)
{
	const uint64_t *a = (const uint64_t *)&from->st, *b = (const uint64_t *)&from->m;

	*to = (struct model_slot){ .cpu_user_s = from->cpu_user_s, .cpu_sys_s = from->cpu_sys_s, .pid = from->pid };
	for (size_t i = 0; i < sizeof(to->st) / sizeof(uint64_t); i++)
		((uint64_t *)&to->st)[i] = __atomic_load_n(&a[i], __ATOMIC_RELAXED);
	for (size_t i = 0; i < sizeof(to->m) / sizeof(uint64_t); i++)
		((uint64_t *)&to->m)[i] = __atomic_load_n(&b[i], __ATOMIC_RELAXED);
}

static void add_slot(struct model_slot *sum, const struct model_slot *w)
{
	const uint64_t *from = (const uint64_t *)&w->st;
	uint64_t *to = (uint64_t *)&sum->st;
	uint64_t most = w->st.pending_max > sum->st.pending_max ? w->st.pending_max : sum->st.pending_max;

	/* server_stats is all uint64_t counters: summed, but pending_max is a maximum (mem_max sums the workers' maxima). */
	for (size_t i = 0; i < sizeof(w->st) / sizeof(uint64_t); i++)
		to[i] += from[i];
	sum->st.pending_max = most;
	sum->m.waits += w->m.waits;
	sum->m.events += w->m.events;
	sum->m.scanned += w->m.scanned;
	sum->m.ctl_calls += w->m.ctl_calls;
}

static void print_worker(struct server *s, size_t i, const struct model_slot *w)
{
	print_line(s, STDOUT_FILENO, "worker id=%zu pid=%ld accepted=%llu closed=%llu refused=%llu "
		   "requests=%llu bytes_in=%llu bytes_out=%llu cpu_user_s=%.6f cpu_sys_s=%.6f\n",
		   i, w->pid, (unsigned long long)w->st.accepted, (unsigned long long)w->st.closed,
		   (unsigned long long)w->st.refused, (unsigned long long)w->st.requests,
		   (unsigned long long)w->st.bytes_in, (unsigned long long)w->st.bytes_out,
		   w->cpu_user_s, w->cpu_sys_s);
}

/*
 * RUSAGE_CHILDREN counts children once reaped: a stats line taken while
 * workers (or per-connection children) still run must read theirs from
 * /proc: the children the kernel lists for our main thread, utime and
 * stime of each in clock ticks (fields 14 and 15 of /proc/PID/stat).
 */
static void add_live_children_cpu(double cpu[2])
{
	char path[64], stat[1024];
	double tick = (double)sysconf(_SC_CLK_TCK);
	FILE *list, *f;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
	if (!(list = fopen(path, "r")))
		return;
	while (fscanf(list, "%ld", &pid) == 1) {
		unsigned long long ut, st;
		const char *p;

		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (!(f = fopen(path, "r")))
			continue;
		/* After the command's closing ')': state is field 3, utime 14, stime 15. */
		if (fgets(stat, sizeof(stat), f) && (p = strrchr(stat, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
			cpu[0] += (double)ut / tick;
			cpu[1] += (double)st / tick;
		}
		fclose(f);
	}
	fclose(list);
}

/*
 * A line per worker (pools and reactor workers), then the totals: the
 * workers' counters added up, and the CPU of the parent, its reaped
 * children (RUSAGE_CHILDREN) and those still running (/proc); threads are
 * in RUSAGE_SELF.
 */
void model_print(struct server *s, const char *tag)
{
	struct model_slot sum = { 0 };
	struct rusage self, kids;
	double cpu[2];
	long open;

	for (size_t i = 0; i < s->nslots; i++) {
		struct model_slot w;

		snapshot(&w, &s->slots[i]);
		add_slot(&sum, &w);
		if (s->nslots > 1)
			print_worker(s, i, &w);
	}
	sum.st.log_dropped += s->st.log_dropped;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	cpu[0] = timeval_s(self.ru_utime) + timeval_s(kids.ru_utime);
	cpu[1] = timeval_s(self.ru_stime) + timeval_s(kids.ru_stime);
	add_live_children_cpu(cpu);
	open = (long)(sum.st.accepted - sum.st.closed);
	print_counters(s, tag, s->backend_name, open, &sum.st, &sum.m, cpu);
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
	/* Threads that outlived the cut may still count into theirs: then the exit frees them. */
	if (s->slots && !(s->hooks && s->hooks->live(s) > 0))
		munmap(s->slots, s->nslots * sizeof(struct model_slot));
	free(s);
	return rc;
}
