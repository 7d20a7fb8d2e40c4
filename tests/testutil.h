/* testutil.h - helpers shared by the cmocka suites: real processes, real sockets. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h"
#include "fdlimit.h"
#include "mux.h"

/* A muxserver child. out is its stdout; its stderr is kept in err_path. */
struct child {
	pid_t pid;
	int out_fd;
	int port;
	char line[4096];            /* last line read from its stdout */
	char err_path[64];
};

/* Backends to test: all, or those named in $MUX_BACKENDS (comma separated). */
size_t test_backends(const struct mux_ops **out, size_t max);

/*
 * Start $MUXSERVER (default build/muxserver) with --port 0 --backend NAME and
 * extra NULL-terminated args, and read its port line. Fails the test on error.
 */
void child_start(struct child *c, const char *backend, ...);
/* Kill every child started by child_start or child_start_prog that is still running. */
int children_reap(void **state);
/*
 * The teardown of every test that starts children or calls test_alloc. A
 * failed assertion longjmps out of a test, past its child_stop and free: this
 * kills what is left, prints the last lines of stderr of every child that was
 * still running or had exited non-zero, and frees the test_alloc blocks.
 */
int test_teardown(void **state);
/* Zeroed memory that test_teardown frees, so that a failing test leaks nothing. */
void *test_alloc(size_t n);
/*
 * Skip the running test, saying why on the line before cmocka's SKIPPED
 * (tests/suite.sh collects these): a skip without a reason hides a gap.
 * The reason is a printf format literal.
 */
#define skip_because(...) do { \
	print_message("  skipped: " __VA_ARGS__); \
	print_message("\n"); \
	skip(); \
} while (0)
/* Run muxserver with NULL-terminated args to completion; exit status, stdout and stderr (either may be NULL). */
int run_muxserver(char *out, size_t outlen, char *err, size_t errlen, ...);
/* Start another of our programs that prints "port=N" first (a test server). */
void child_start_prog(struct child *c, const char *prog, ...);
/* The same, with the args in a NULL-terminated array. */
void child_start_args(struct child *c, const char *prog, const char *const *args);
/* Run prog with NULL-terminated args; its stdout and stderr into out and err (either may be NULL). */
int run_prog(char *out, size_t outlen, char *err, size_t errlen, const char *prog, ...);
/* The number after "key": in json, from within's "within": when given; fails the test without it. */
double json_number(const char *json, const char *within, const char *key);
/* $env if set, else fallback: how suites find the binaries of their own build tree. */
const char *tool_path(const char *env, const char *fallback);
/* SIGUSR1 and read the "stats ..." line; then child_stat() reads fields from it. */
void child_stats(struct child *c);
/* Read the next "stats ..." line, asked for by someone else (muxload --mark-pid). */
void child_next_stats(struct child *c);
uint64_t child_stat(const struct child *c, const char *key);
/* The next line of its stdout into c->line; false on EOF or after guard_s. */
bool child_read_line(struct child *c, double guard_s);
/* SIGTERM, wait up to guard_s, return the exit status (fails the test on a hang); c->line is the summary. */
int child_stop(struct child *c, double guard_s);
/* The same without the SIGTERM: for a child already told to stop. */
int child_wait_exit(struct child *c, double guard_s);
/* Resident set size of a process in KiB. */
long rss_kib(pid_t pid);

/* Blocking TCP connection to host:port; -1 on failure. */
int tcp_connect(const char *host, int port);
/* Write all / read exactly n bytes with a deadline; false on error, EOF or timeout. */
bool write_all(int fd, const void *buf, size_t n, double guard_s);
bool read_exact(int fd, void *buf, size_t n, double guard_s);
/* One short round trip; true when the same bytes come back. */
bool echo_once(int fd, double guard_s);
/* Read into buf until the peer closes; bytes read, or -1 when it did not close within guard_s. */
ssize_t read_to_close(int fd, char *buf, size_t len, double guard_s);
/* True when fd is ready for poll(2) `events` within guard_s. */
bool fd_ready(int fd, short events, double guard_s);
/* Wait for EOF or reset on fd: true when the peer closed within guard_s. */
bool sees_close(int fd, double guard_s);

/*
 * Send len bytes of data on each of n connections while reading the echoes
 * back, all at once through poll(2); checks every byte. Returns NULL on
 * success or a static description of the first failure.
 */
const char *pump_echo(const int *fds, int n, const unsigned char *data, size_t len, double guard_s);

/* A test that runs once per backend; its state is the backend's const struct mux_ops *. */
struct backend_test {
	const char *name;
	void (*fn)(void **state);
};

/*
 * Run every (backend, test) cell, named "backend/test", with optional
 * per-test setup/teardown, then the `once` tests; CMOCKA_TEST_FILTER (with
 * cmocka's * and ? wildcards, e.g. "epoll/idle*") runs only the cells it
 * matches. Returns main's exit status.
 */
struct CMUnitTest;
int run_backend_matrix(const char *group, const struct backend_test *tests, size_t ntests,
		       int (*setup)(void **), int (*teardown)(void **),
		       const struct CMUnitTest *once, size_t nonce);

/* The same, with muxserver's completion-mode loop ("uring") as one more backend: for suites that only run the server. */
int run_server_matrix(const char *group, const struct backend_test *tests, size_t ntests,
		      int (*setup)(void **), int (*teardown)(void **),
		      const struct CMUnitTest *once, size_t nonce);

/* The backend a matrix cell runs (its state). */
const char *backend_of(void **state);
/* Close every fd >= 0 of fds[0..n). */
void close_all(int *fds, int n);
/* n blocking connections to 127.0.0.1:port; fails the test on any error. */
void connect_many(int *fds, int n, int port);
/* SIGTERM; the server must exit 0 with its summary line. */
void expect_clean_stop(struct child *c);
/* Open fds of a process (entries of /proc/PID/fd), -1 if unreadable. */
long open_fds(pid_t pid);

void fill_random(unsigned char *buf, size_t n, uint32_t seed);
void sleep_s(double s);

#endif
