/*
 * model_workers.c - what the models' workers share: forking a child that
 * serves, the set of children to signal and reap, the sockets threads are
 * serving (to shut at the cut), the accept locks (--accept-lock), and the
 * signal mask of worker threads.
 */
#include "model.h"
#include "grow.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

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

/*
 * The children running (fork's per connection, a pool's or the reactors'
 * workers): one list for every model, to signal them and to count them
 * without /proc. Only the parent's supervising thread touches it.
 */
static struct {
	pid_t *pids;
	size_t n, cap;
} children;

bool model_child_add(pid_t pid)
{
	if (grow_array((void **)&children.pids, &children.cap, children.n, sizeof(*children.pids)))
		return false;
	children.pids[children.n++] = pid;
	return true;
}

/* false: not one of ours (a child of a helper we did not start) */
static bool child_remove(pid_t pid)
{
	for (size_t i = 0; i < children.n; i++) {
		if (children.pids[i] == pid) {
			children.pids[i] = children.pids[--children.n];
			return true;
		}
	}
	return false;
}

void model_children_signal(int signo)
{
	for (size_t i = 0; i < children.n; i++)
		kill(children.pids[i], signo);
}

/*
 * Reap every child that has exited (no zombie outlives a turn of the
 * loop), telling gone (may be NULL) about each of ours; the children still
 * running.
 */
long model_children(struct server *s, void (*gone)(struct server *s, pid_t pid, int status))
{
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (child_remove(pid) && gone)
			gone(s, pid, status);
	return (long)children.n;
}

/* A cut hook (fork, prefork): the children still running are killed; their clients see the close. */
void model_kill_children(struct server *s)
{
	(void)s;
	model_children_signal(SIGKILL);
}

void model_children_forget(void)
{
	free(children.pids);
	children.pids = NULL;
	children.n = children.cap = 0;
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
 * made; those made are among the children.
 */
bool model_fork_workers(struct server *s, void (*child)(struct server *s, size_t i))
{
	for (size_t i = 0; i < s->nslots; i++) {
		pid_t pid = model_fork_child(s);

		if (pid == 0)
			child(s, i);
		if (pid == -1 || !model_child_add(pid)) {
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

/* A worker process reaped: said in a line when it ended before the stop, or badly. */
void model_worker_gone(struct server *s, pid_t pid, int status)
{
	char line[128];

	if (s->stopping && (status == 0 || s->stop_now))
		return;
	/* Not restarted: the rest serve on with one worker fewer, and say so. */
	snprintf(line, sizeof(line), "worker %ld ended %s (%s %d)", (long)pid,
		 s->stopping ? "badly" : "before the stop", WIFSIGNALED(status) ? "signal" : "status",
		 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	print_log(s, line);
}

/* Worker threads take no process signals: the main thread handles them all. */
void model_block_signals(sigset_t *old)
{
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, old);
}
