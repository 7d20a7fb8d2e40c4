/* testutil.c - see testutil.h. */
#include "testutil.h"
#include "cli.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

void fill_random(unsigned char *buf, size_t n, uint32_t seed)
{
	uint32_t x = seed ? seed : 1;

	for (size_t i = 0; i < n; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;	/* xorshift32 */
		buf[i] = (unsigned char)x;
	}
}

/* Whether $MUX_BACKENDS (a comma-separated list; unset or empty: all) names it. */
static bool wanted(const char *name)
{
	const char *want = getenv("MUX_BACKENDS"), *p = want;
	size_t len = strlen(name);

	if (!want || !*want)
		return true;
	while ((p = strstr(p, name)) &&
	       !((p == want || p[-1] == ',') && (p[len] == ',' || p[len] == 0)))
		p += len;
	return p != NULL;
}

size_t test_backends(const struct mux_ops **out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; mux_backends[i] && n < max; i++)
		if (wanted(mux_backends[i]->name))
			out[n++] = mux_backends[i];
	return n;
}

/*
 * muxserver's completion-mode loop, in the server suites' matrices beside
 * the mux backends: no mux of its own (create is NULL), so whether it runs
 * here is asked of the server binary (--list-backends).
 */
static const struct mux_ops server_uring_loop = {
	.name = "uring",
	.summary = "muxserver's completion-mode loop (--backend uring)",
};
static bool with_server_loops;

double json_number(const char *json, const char *within, const char *key)
{
	const char *p = json;
	char pat[64];

	if (within) {
		snprintf(pat, sizeof(pat), "\"%s\":", within);
		p = strstr(p, pat);
		if (!p)
			fail_msg("no %s in: %s", within, json);
	}
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(p, pat);
	if (!p)
		fail_msg("no %s in: %s", key, json);
	return strtod(p + strlen(pat), NULL);
}

const char *tool_path(const char *env, const char *fallback)
{
	const char *p = getenv(env);

	return p && *p ? p : fallback;
}

static const char *server_path(void)
{
	return tool_path("MUXSERVER", "build/muxserver");
}

/* argv = [$MUXSERVER_WRAP words when wrap,] prog, args. */
static char **build_argv(const char *prog, bool wrap, char **args, int nargs)
{
	static char words[512];
	char **argv = calloc((size_t)nargs + 32, sizeof(char *));
	const char *w = getenv("MUXSERVER_WRAP");
	int n = 0;

	assert_non_null(argv);
	if (wrap && w && *w) {
		snprintf(words, sizeof(words), "%s", w);
		for (char *tok = strtok(words, " "); tok && n < 24; tok = strtok(NULL, " "))
			argv[n++] = tok;
	}
	argv[n++] = (char *)prog;
	for (int i = 0; i < nargs; i++)
		argv[n++] = args[i];
	return argv;
}

static pid_t spawn(char **argv, int out_fd, int err_fd)
{
	pid_t pid = fork();

	assert_true(pid != -1);
	if (pid == 0) {
		if (out_fd != -1)
			dup2(out_fd, 1);
		if (err_fd != -1)
			dup2(err_fd, 2);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Read one line from fd into buf within guard_s; false on EOF or timeout. */
static bool read_line(int fd, char *buf, size_t len, double guard_s)
{
	double end = mono_s() + guard_s;
	size_t n = 0;

	while (n + 1 < len) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)((end - mono_s()) * 1000);

		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		if (read(fd, buf + n, 1) != 1)
			break;
		if (buf[n] == '\n') {
			buf[n] = 0;
			return true;
		}
		n++;
	}
	buf[n] = 0;
	return false;
}

static int collect_args(char **args, int max, va_list ap)
{
	int n = 0;
	char *a;

	while ((a = va_arg(ap, char *)) && n < max)
		args[n++] = a;
	return n;
}

/*
 * Every child a test started: its stderr file and how it ended. The file is
 * kept until the teardown, so that a test which fails (and so leaves its
 * server running, or saw it exit non-zero) shows the server's last words.
 */
static struct tracked {
	pid_t pid;                 /* 0: free slot */
	int out_fd;                /* our end of its stdout pipe; -1 once closed */
	bool running;
	int status;                /* exit status once !running */
	char err_path[64];
} tracked[64];

static struct tracked *track(pid_t pid, const char *err_path)
{
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
		if (!tracked[i].pid) {
			tracked[i] = (struct tracked){ .pid = pid, .out_fd = -1, .running = true };
			snprintf(tracked[i].err_path, sizeof(tracked[i].err_path), "%s", err_path);
			return &tracked[i];
		}
	fail_msg("more than %zu children in one test", sizeof(tracked) / sizeof(tracked[0]));
	return NULL;
}

static struct tracked *tracked_of(pid_t pid)
{
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++)
		if (tracked[i].pid == pid)
			return &tracked[i];
	return NULL;
}

/* The last lines of a child's stderr, indented, on stdout beside cmocka's messages. */
static void print_stderr_tail(const struct tracked *t, const char *why)
{
	enum { TAIL = 2048 };
	char buf[TAIL + 1];
	int fd = open(t->err_path, O_RDONLY);
	off_t size = fd >= 0 ? lseek(fd, 0, SEEK_END) : 0;
	ssize_t n = size > 0 ? pread(fd, buf, TAIL, size > TAIL ? size - TAIL : 0) : 0;

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	print_message("  child %ld %s; the last of its stderr:\n", (long)t->pid, why);
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		print_message("  | %s\n", line);
}

static void *scratch[16];

void *test_alloc(size_t n)
{
	for (size_t i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++)
		if (!scratch[i]) {
			scratch[i] = calloc(1, n);
			assert_non_null(scratch[i]);
			return scratch[i];
		}
	fail_msg("more than %zu test_alloc blocks in one test", sizeof(scratch) / sizeof(scratch[0]));
	return NULL;
}

/* Kill what is still running; in a teardown, say what was left or went wrong. */
static void reap_all(bool report)
{
	for (size_t i = 0; i < sizeof(tracked) / sizeof(tracked[0]); i++) {
		struct tracked *t = &tracked[i];

		if (!t->pid)
			continue;
		if (t->running) {
			kill(t->pid, SIGKILL);
			waitpid(t->pid, NULL, 0);
		}
		if (report && (t->running || t->status != 0))
			print_stderr_tail(t, t->running ? "was still running at the end of the test"
							: "had exited with a non-zero status");
		if (t->out_fd >= 0)
			close(t->out_fd);
		unlink(t->err_path);
		t->pid = 0;
	}
}

int children_reap(void **state)
{
	(void)state;
	reap_all(false);
	return 0;
}

int test_teardown(void **state)
{
	(void)state;
	reap_all(true);
	for (size_t i = 0; i < sizeof(scratch) / sizeof(scratch[0]); i++) {
		free(scratch[i]);
		scratch[i] = NULL;
	}
	return 0;
}

/* Start argv, read its "port=N" first line. */
static void child_spawn(struct child *c, char **argv)
{
	static unsigned serial;
	int pipefd[2], err_fd;

	memset(c, 0, sizeof(*c));
	snprintf(c->err_path, sizeof(c->err_path), "/tmp/muxlab-test-%ld-%u.err", (long)getpid(), serial++);
	/* CLOEXEC: no later child inherits another's pipe (dup2 clears it on fd 1 and 2). */
	err_fd = open(c->err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(pipe2(pipefd, O_CLOEXEC) == 0);
	c->pid = spawn(argv, pipefd[1], err_fd);
	track(c->pid, c->err_path)->out_fd = pipefd[0];
	close(pipefd[1]);
	close(err_fd);
	c->out_fd = pipefd[0];
	/* Slow under valgrind: the guard is generous on purpose. */
	if (!read_line(c->out_fd, c->line, sizeof(c->line), 60) ||
	    sscanf(c->line, "port=%d", &c->port) != 1)
		fail_msg("%s did not print its port line (got '%s')", argv[0], c->line);
}

void child_start(struct child *c, const char *backend, ...)
{
	char *args[40] = { "--port", "0", "--backend", (char *)backend };
	char **argv;
	int n = 4;
	va_list ap;

	va_start(ap, backend);
	n += collect_args(args + 4, 30, ap);
	va_end(ap);
	argv = build_argv(server_path(), true, args, n);
	child_spawn(c, argv);
	free(argv);
}

void child_start_prog(struct child *c, const char *prog, ...)
{
	char *args[40], **argv;
	int n;
	va_list ap;

	va_start(ap, prog);
	n = collect_args(args, 38, ap);
	va_end(ap);
	argv = build_argv(prog, false, args, n);
	child_spawn(c, argv);
	free(argv);
}

void child_start_args(struct child *c, const char *prog, const char *const *args)
{
	int n = 0;
	char **argv;

	while (args[n])
		n++;
	argv = build_argv(prog, false, (char **)args, n);
	child_spawn(c, argv);
	free(argv);
}

/* Read a whole temporary file into buf (NUL-terminated), then remove it. */
static void slurp(int fd, const char *path, char *buf, size_t len)
{
	ssize_t got = buf ? pread(fd, buf, len - 1, 0) : 0;

	if (buf)
		buf[got > 0 ? got : 0] = 0;
	close(fd);
	unlink(path);
}

/* A hang guard for programs run to completion; generous for valgrind-wrapped runs. */
#define RUN_GUARD_S 300

static int run_argv(char **argv, char *out, size_t outlen, char *err, size_t errlen)
{
	char out_path[64], err_path[64];
	int out_fd, err_fd, status;
	pid_t pid;

	snprintf(out_path, sizeof(out_path), "/tmp/muxlab-run-%ld.out", (long)getpid());
	snprintf(err_path, sizeof(err_path), "/tmp/muxlab-run-%ld.err", (long)getpid());
	out_fd = open(out_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	err_fd = open(err_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(out_fd >= 0 && err_fd >= 0);
	pid = spawn(argv, out_fd, err_fd);
	for (double end = mono_s() + RUN_GUARD_S; waitpid(pid, &status, WNOHANG) != pid; sleep_s(0.005))
		if (mono_s() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			slurp(out_fd, out_path, NULL, 0);
			slurp(err_fd, err_path, NULL, 0);
			fail_msg("%s did not finish within %d s", argv[0], RUN_GUARD_S);
		}
	slurp(out_fd, out_path, out, outlen);
	slurp(err_fd, err_path, err, errlen);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int run_va(const char *prog, bool wrap, char *out, size_t outlen, char *err, size_t errlen,
		  va_list ap)
{
	char *args[40], **argv;
	int rc, n = collect_args(args, 38, ap);

	argv = build_argv(prog, wrap, args, n);
	rc = run_argv(argv, out, outlen, err, errlen);
	free(argv);
	return rc;
}

int run_muxserver(char *out, size_t outlen, char *err, size_t errlen, ...)
{
	va_list ap;
	int rc;

	va_start(ap, errlen);
	rc = run_va(server_path(), true, out, outlen, err, errlen, ap);
	va_end(ap);
	return rc;
}

int run_prog(char *out, size_t outlen, char *err, size_t errlen, const char *prog, ...)
{
	va_list ap;
	int rc;

	va_start(ap, prog);
	rc = run_va(prog, false, out, outlen, err, errlen, ap);
	va_end(ap);
	return rc;
}

bool child_read_line(struct child *c, double guard_s)
{
	return read_line(c->out_fd, c->line, sizeof(c->line), guard_s);
}

void child_stats(struct child *c)
{
	assert_int_equal(kill(c->pid, SIGUSR1), 0);
	child_next_stats(c);
}

void child_next_stats(struct child *c)
{
	do {
		if (!read_line(c->out_fd, c->line, sizeof(c->line), 30))
			fail_msg("no stats line from muxserver (pid %ld)", (long)c->pid);
	} while (strncmp(c->line, "stats ", 6) != 0);
}

uint64_t child_stat(const struct child *c, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(c->line, pat);
	if (!p)
		fail_msg("no '%s' in '%s'", key, c->line);
	return strtoull(p + strlen(pat), NULL, 10);
}

int child_stop(struct child *c, double guard_s)
{
	kill(c->pid, SIGTERM);
	return child_wait_exit(c, guard_s);
}

int child_wait_exit(struct child *c, double guard_s)
{
	struct tracked *t = tracked_of(c->pid);
	double end = mono_s() + guard_s;
	int status;

	for (;;) {
		pid_t r = waitpid(c->pid, &status, WNOHANG);

		if (r == c->pid)
			break;
		if (mono_s() > end)	/* the teardown kills it and shows its stderr */
			fail_msg("muxserver (pid %ld) did not exit within %.0f s",
				 (long)c->pid, guard_s);
		sleep_s(0.01);
	}
	status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (t) {
		t->running = false;
		t->status = status;
		t->out_fd = -1;	/* closed below */
	}
	/* Keep the last line of stdout (the summary) for the caller. */
	while (read_line(c->out_fd, c->line, sizeof(c->line), 1) && strncmp(c->line, "summary ", 8))
		;
	close(c->out_fd);
	return status;
}

long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int tcp_connect(const char *host, int port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	if (!cli_sockaddr(host, port, &ss, &len))
		return -1;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

bool fd_ready(int fd, short events, double guard_s)
{
	struct pollfd p = { .fd = fd, .events = events };

	return poll(&p, 1, (int)(guard_s * 1000)) == 1;
}

/* Wait until fd is ready for `events` or the deadline passes. */
static bool wait_fd(int fd, short events, double end)
{
	struct pollfd p = { .fd = fd, .events = events };
	int left = (int)((end - mono_s()) * 1000);

	return left > 0 && poll(&p, 1, left) == 1;
}

bool write_all(int fd, const void *buf, size_t n, double guard_s)
{
	double end = mono_s() + guard_s;
	const char *p = buf;

	while (n) {
		ssize_t w;

		if (!wait_fd(fd, POLLOUT, end))
			return false;
		w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return false;
		p += w;
		n -= (size_t)w;
	}
	return true;
}

bool read_exact(int fd, void *buf, size_t n, double guard_s)
{
	double end = mono_s() + guard_s;
	char *p = buf;

	while (n) {
		ssize_t r;

		if (!wait_fd(fd, POLLIN, end))
			return false;
		r = recv(fd, p, n, MSG_DONTWAIT);
		if (r == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0)
			return false;
		p += r;
		n -= (size_t)r;
	}
	return true;
}

bool echo_once(int fd, double guard_s)
{
	char out[32], in[32];

	snprintf(out, sizeof(out), "ping %d %ld", fd, (long)(mono_s() * 1e6) % 100000);
	return write_all(fd, out, sizeof(out), guard_s) &&
	       read_exact(fd, in, sizeof(in), guard_s) && memcmp(in, out, sizeof(out)) == 0;
}

ssize_t read_to_close(int fd, char *buf, size_t len, double guard_s)
{
	double end = mono_s() + guard_s;
	size_t got = 0;

	for (;;) {
		ssize_t r;

		if (!wait_fd(fd, POLLIN, end))
			return -1;
		r = recv(fd, buf + got, len - got, MSG_DONTWAIT);
		if (r == 0 || (r == -1 && errno == ECONNRESET))
			return (ssize_t)got;
		if (r == -1 && errno != EAGAIN && errno != EINTR)
			return -1;
		if (r > 0 && (got += (size_t)r) == len)
			return -1;	/* more than the caller expected: not the reply we wanted */
	}
}

bool sees_close(int fd, double guard_s)
{
	double end = mono_s() + guard_s;
	char b[256];

	for (;;) {
		ssize_t r;

		if (!wait_fd(fd, POLLIN, end))
			return false;
		r = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (r == 0 || (r == -1 && errno == ECONNRESET))
			return true;
		if (r == -1 && errno != EAGAIN && errno != EINTR)
			return false;
	}
}

const char *pump_echo(const int *fds, int n, const unsigned char *data, size_t len, double guard_s)
{
	static char why[160];
	struct pollfd *p = calloc((size_t)n, sizeof(*p));
	size_t *sent = calloc((size_t)n, sizeof(size_t)), *got = calloc((size_t)n, sizeof(size_t));
	unsigned char buf[65536];
	double end = mono_s() + guard_s;
	int done = 0;
	const char *err = NULL;

	assert_true(p && sent && got);
	while (done < n && !err) {
		int left = (int)((end - mono_s()) * 1000);

		for (int i = 0; i < n; i++) {
			p[i].fd = got[i] < len ? fds[i] : -1;
			p[i].events = (short)(POLLIN | (sent[i] < len ? POLLOUT : 0));
		}
		if (left <= 0 || poll(p, (nfds_t)n, left) <= 0) {
			snprintf(why, sizeof(why), "timed out with %d of %d connections done", done, n);
			err = why;
			break;
		}
		for (int i = 0; i < n && !err; i++) {
			if ((p[i].revents & POLLOUT) && sent[i] < len) {
				ssize_t w = send(fds[i], data + sent[i], len - sent[i], MSG_DONTWAIT | MSG_NOSIGNAL);

				if (w > 0)
					sent[i] += (size_t)w;
			}
			if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t r = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT);

				if (r <= 0 && !(r == -1 && errno == EAGAIN)) {
					snprintf(why, sizeof(why), "connection %d closed after %zu of %zu bytes",
						 i, got[i], len);
					err = why;
				} else if (r > 0 && (got[i] + (size_t)r > len ||
						     memcmp(buf, data + got[i], (size_t)r) != 0)) {
					snprintf(why, sizeof(why), "connection %d: wrong bytes at offset %zu", i, got[i]);
					err = why;
				} else if (r > 0) {
					got[i] += (size_t)r;
					done += got[i] == len;
				}
			}
		}
	}
	free(p);
	free(sent);
	free(got);
	return err;
}

/* Cells in one suite at most; cmocka passes over the zeroed ones left unused. */
#define MATRIX_MAX 512

/* Why each backend of the matrix cannot run here, by its index in mux_backends (the uring loop: the last). */
static char unavailable[17][160];

static size_t registry_index(const struct mux_ops *ops)
{
	size_t i = 0;

	while (mux_backends[i] && mux_backends[i] != ops)
		i++;
	return i < 16 ? i : 16;
}

/* The server's own word on its uring loop: its --list-backends line. */
static bool server_loop_available(const struct mux_ops *ops, char *why, size_t len)
{
	char out[4096], err[512], want[32];
	const char *line;
	int n;

	run_muxserver(out, sizeof(out), err, sizeof(err), "--list-backends", NULL);
	n = snprintf(want, sizeof(want), "%-10s ", ops->name);
	line = strstr(out, want);
	if (line && strncmp(line + n, "OK ", 3) == 0)
		return true;
	snprintf(why, len, "%.*s", line ? (int)strcspn(line, "\n") : 40, line ? line : "no line for it in --list-backends");
	return false;
}

/* A backend this kernel refuses (io_uring disabled, say): each of its cells is skipped with the reason. */
static void skip_unavailable(void **state)
{
	const struct mux_ops *ops = *state;

	skip_because("%s cannot run here: %s", ops->name, unavailable[registry_index(ops)]);
}

/* Records in unavailable[] whether the kernel lets the backend be created. */
static bool backend_available(const struct mux_ops *ops)
{
	char *why = unavailable[registry_index(ops)];
	struct mux *m;

	if (!ops->create)
		return server_loop_available(ops, why, sizeof(unavailable[0]));
	m = mux_create(ops, 16);
	if (m) {
		mux_destroy(m);
		return true;
	}
	snprintf(why, sizeof(unavailable[0]), "creating it fails with %s", strerror(errno));
	return false;
}

int run_backend_matrix(const char *group, const struct backend_test *tests, size_t ntests,
		       int (*setup)(void **), int (*teardown)(void **),
		       const struct CMUnitTest *once, size_t nonce)
{
	static struct CMUnitTest cells[MATRIX_MAX];
	static char names[MATRIX_MAX][64];
	const struct mux_ops *backends[17];
	size_t nb = test_backends(backends, 16), n = 0;

	if (with_server_loops && wanted(server_uring_loop.name))
		backends[nb++] = &server_uring_loop;

	if (nb == 0 || nb * ntests + nonce > MATRIX_MAX) {
		fprintf(stderr, "%s: %zu backends x %zu tests (MUX_BACKENDS=%s): none, or over %d cells\n",
			group, nb, ntests, getenv("MUX_BACKENDS") ? getenv("MUX_BACKENDS") : "", MATRIX_MAX);
		return 1;
	}
	for (size_t b = 0; b < nb; b++) {
		bool ok = backend_available(backends[b]);

		for (size_t t = 0; t < ntests; t++, n++) {
			snprintf(names[n], sizeof(names[n]), "%s/%s", backends[b]->name, tests[t].name);
			cells[n] = (struct CMUnitTest){
				.name = names[n], .test_func = ok ? tests[t].fn : skip_unavailable,
				.setup_func = ok ? setup : NULL, .teardown_func = ok ? teardown : NULL,
				.initial_state = (void *)backends[b],
			};
		}
	}
	for (size_t i = 0; i < nonce; i++)
		cells[n++] = once[i];
	/* cmocka 1.1 has the call but does not read the variable itself. */
	if (getenv("CMOCKA_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CMOCKA_TEST_FILTER"));
	return cmocka_run_group_tests_name(group, cells, NULL, NULL) ? 1 : 0;
}

const char *backend_of(void **state)
{
	return ((const struct mux_ops *)*state)->name;
}

void close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

void connect_many(int *fds, int n, int port)
{
	for (int i = 0; i < n; i++) {
		fds[i] = tcp_connect("127.0.0.1", port);
		if (fds[i] < 0)
			fail_msg("connect #%d to port %d: %s", i, port, strerror(errno));
	}
}

void expect_clean_stop(struct child *c)
{
	int rc = child_stop(c, 30);

	if (rc != 0)	/* the teardown shows its stderr */
		fail_msg("muxserver exited with status %d", rc);
	assert_non_null(strstr(c->line, "summary "));
}

long open_fds(pid_t pid)
{
	char path[64];
	DIR *d;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/fd", (long)pid);
	d = opendir(path);
	if (!d)
		return -1;
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

int run_server_matrix(const char *group, const struct backend_test *tests, size_t ntests,
		      int (*setup)(void **), int (*teardown)(void **),
		      const struct CMUnitTest *once, size_t nonce)
{
	with_server_loops = true;
	return run_backend_matrix(group, tests, ntests, setup, teardown, once, nonce);
}
