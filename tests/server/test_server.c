/*
 * test_server.c - muxserver end to end: the real binary ($MUXSERVER) as a
 * child on a port of its choosing, real TCP clients on loopback. Backend
 * tests run once per backend and are named "backend/test". Deadlines are
 * hang guards only; nothing here asserts speed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mux.h"
#include "../testutil.h"

#define HOST "127.0.0.1"

/* 50 connections each echo 1 MiB of random bytes at once, checked byte for byte. */
static void echo_50_by_1mib(void **state)
{
	enum { N = 50, LEN = 1 << 20 };
	unsigned char *data = test_alloc(LEN);
	struct child c;
	int fds[N];
	const char *err;

	fill_random(data, LEN, 42);
	child_start(&c, backend_of(state), NULL);
	connect_many(fds, N, c.port);
	err = pump_echo(fds, N, data, LEN, 120);
	if (err)
		fail_msg("%s: %s", backend_of(state), err);
	close_all(fds, N);
	child_stats(&c);
	assert_true(child_stat(&c, "bytes_in") == (uint64_t)N * LEN);
	expect_clean_stop(&c);
}

static void ipv6_loopback(void **state)
{
	struct child c;
	int probe = socket(AF_INET6, SOCK_STREAM, 0), fd;
	struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };

	if (probe < 0 || bind(probe, (struct sockaddr *)&a, sizeof(a)) != 0) {
		if (probe >= 0)
			close(probe);
		skip_because("no ::1 on this host");
	}
	close(probe);
	child_start(&c, backend_of(state), "--host", "::1", NULL);
	fd = tcp_connect("::1", c.port);
	assert_true(fd >= 0);
	assert_true(echo_once(fd, 10));
	close(fd);
	expect_clean_stop(&c);
}

static void upper_cases(void **state)
{
	struct child c;
	char back[16];
	int fd;

	child_start(&c, backend_of(state), "--upper", NULL);
	fd = tcp_connect(HOST, c.port);
	assert_true(write_all(fd, "hello, World 1\n", 15, 10));
	assert_true(read_exact(fd, back, 15, 10));
	assert_memory_equal(back, "HELLO, WORLD 1\n", 15);
	close(fd);
	expect_clean_stop(&c);
}

static bool have(const char *tool)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	return system(cmd) == 0;
}

/* Real HTTP clients nobody here wrote: no errors, no non-2xx answers. Not a speed test. */
static void http_wrk_and_ab(void **state)
{
	char *out = test_alloc(16384), url[64];
	struct child c;

	if (!have("wrk") || !have("ab"))
		skip_because("wrk or ab not installed (apt-get install wrk apache2-utils; make test does as root)");
	child_start(&c, backend_of(state), "--proto", "http", NULL);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", c.port);
	assert_int_equal(run_prog(out, 16384, NULL, 0, "wrk", "-t1", "-c10", "-d1", "--timeout", "30s", url, NULL), 0);
	if (!strstr(out, " requests in ") || strstr(out, "Non-2xx") || strstr(out, "Socket errors"))
		fail_msg("%s: wrk: %s", backend_of(state), out);
	for (int keepalive = 0; keepalive < 2; keepalive++) {
		assert_int_equal(run_prog(out, 16384, NULL, 0, "ab", "-q", keepalive ? "-k" : "-q",
					  "-n", "500", "-c", "5", url, NULL), 0);
		if (!strstr(out, "Complete requests:      500") || !strstr(out, "Failed requests:        0") ||
		    strstr(out, "Non-2xx"))
			fail_msg("%s: ab%s: %s", backend_of(state), keepalive ? " -k" : "", out);
	}
	child_stats(&c);
	assert_true(child_stat(&c, "requests") >= 1000);
	assert_int_equal(child_stop(&c, 30), 0);
}

/* The sockperf client drives the server: no drops, duplicates or reordering. */
static void sockperf_ping_pong_and_under_load(void **state)
{
	char *out = test_alloc(16384), port[16];
	struct child c;

	if (!have("sockperf"))
		skip_because("sockperf not installed (apt-get install sockperf; make test does as root)");
	child_start(&c, backend_of(state), "--proto", "sockperf", NULL);
	snprintf(port, sizeof(port), "%d", c.port);
	assert_int_equal(run_prog(out, 8192, out + 8192, 8192, "sockperf", "ping-pong", "--tcp", "-i",
				  "127.0.0.1", "-p", port, "-t", "1", "-m", "64", NULL), 0);
	if (!strstr(out, "# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0") ||
	    !strstr(out, "Summary: Latency"))
		fail_msg("%s: sockperf ping-pong: %s", backend_of(state), out);
	assert_int_equal(run_prog(out, 8192, out + 8192, 8192, "sockperf", "under-load", "--tcp", "-i",
				  "127.0.0.1", "-p", port, "-t", "1", "-m", "64", "--mps", "5000", NULL), 0);
	if (!strstr(out, "# dropped messages = 0; # duplicated messages = 0; # out-of-order messages = 0"))
		fail_msg("%s: sockperf under-load: %s", backend_of(state), out);
	assert_int_equal(child_stop(&c, 30), 0);
}

/* A malformed request gets 400 and a close; the server goes on serving. */
static void http_bad_request_closed(void **state)
{
	char buf[512] = { 0 };
	struct child c;
	ssize_t n;
	int fd;

	child_start(&c, backend_of(state), "--proto", "http", NULL);
	fd = tcp_connect(HOST, c.port);
	assert_true(write_all(fd, "GET  / HTTP/1.1\r\n\r\nmore", 23, 10));
	n = read_to_close(fd, buf, sizeof(buf) - 1, 10);	/* the 400, then the close */
	if (n <= 0)
		fail_msg("%s: no 400 followed by a close (got %zd bytes)", backend_of(state), n);
	assert_non_null(strstr(buf, "HTTP/1.1 400 Bad Request"));
	close(fd);
	fd = tcp_connect(HOST, c.port);
	assert_true(write_all(fd, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 37, 10));
	memset(buf, 0, sizeof(buf));
	assert_true(read_to_close(fd, buf, sizeof(buf) - 1, 10) > 0);
	assert_non_null(strstr(buf, "200 OK"));
	close(fd);
	assert_int_equal(child_stop(&c, 30), 0);
}

/* --duration: the server stops by itself and exits 0 with a summary. */
static void duration_stops(void **state)
{
	char out[4096], err[512], summary[64];

	snprintf(summary, sizeof(summary), "\nsummary backend=%s open=0 ", backend_of(state));
	assert_int_equal(run_muxserver(out, sizeof(out), err, sizeof(err), "--port", "0", "--backend",
				       backend_of(state), "--duration", "0.3", NULL), 0);
	if (strncmp(out, "port=", 5) != 0 || !strstr(out, summary))
		fail_msg("no port line, then '%s', in: %s", summary + 1, out);
}

#define ONE_LINE_EXIT(code, ...) do { \
	char err_[1024]; \
	int rc_ = run_muxserver(NULL, 0, err_, sizeof(err_), __VA_ARGS__, NULL); \
	if (rc_ != (code)) \
		fail_msg("exit %d, expected %d; stderr: %s", rc_, (code), err_); \
	assert_non_null(strstr(err_, "muxserver: ")); \
	assert_int_equal(count_lines(err_), 1); \
} while (0)

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void bad_flags_exit_2(void **state)
{
	char err[1024];

	(void)state;
	assert_int_equal(run_muxserver(NULL, 0, err, sizeof(err), "--backend", "kqueue", NULL), 2);
	assert_non_null(strstr(err, "unknown backend 'kqueue'"));
	assert_non_null(strstr(err, mux_names()));
	ONE_LINE_EXIT(2, "--port", "http");
	ONE_LINE_EXIT(2, "--port", "70000");
	ONE_LINE_EXIT(2, "--port", "-1");
	ONE_LINE_EXIT(2, "--max-pending", "0");
	ONE_LINE_EXIT(2, "--max-pending", "12Q");
	ONE_LINE_EXIT(2, "--duration", "nan");
	ONE_LINE_EXIT(2, "--no-such-flag");
	ONE_LINE_EXIT(2, "--port");
	ONE_LINE_EXIT(2, "stray-argument");
	ONE_LINE_EXIT(2, "--host", "localhost.invalid");
	ONE_LINE_EXIT(2, "--proto", "gopher");
	ONE_LINE_EXIT(2, "--body-size", "2G");
	ONE_LINE_EXIT(2, "--dgram-size", "0");
	/* Combinations that meant nothing and were taken quietly; a floor kept. */
	ONE_LINE_EXIT(2, "--upper", "--proto", "http");
	ONE_LINE_EXIT(2, "--dgram-size", "1K");
	ONE_LINE_EXIT(2, "--idle-timeout", "0.001");
	/* The documented default is a value one may give; sizes take T. */
	assert_int_equal(run_muxserver(NULL, 0, err, sizeof(err), "--port", "0", "--idle-timeout", "0",
				       "--max-pending", "1T", "--duration", "0.05", "--quiet", NULL), 0);
}

static void port_in_use_exit_1(void **state)
{
	struct child c;
	char port[16], err[1024];

	(void)state;
	child_start(&c, "epoll", NULL);
	snprintf(port, sizeof(port), "%d", c.port);
	assert_int_equal(run_muxserver(NULL, 0, err, sizeof(err), "--port", port, NULL), 1);
	assert_non_null(strstr(err, "Address already in use"));
	expect_clean_stop(&c);
}

/*
 * One line per registered backend and one for the uring loop: OK where this process can create it,
 * FAILED with the reason where it cannot (io_uring disabled, say); exit 0
 * only when every one is OK. --help names every backend.
 */
static void list_backends_all_ok(void **state)
{
	char out[4096], err[512], want[160];
	size_t n = 0;
	int failed = 0, rc;

	(void)state;
	rc = run_muxserver(out, sizeof(out), err, sizeof(err), "--list-backends", NULL);
	for (; mux_backends[n]; n++) {
		struct mux *m = mux_create(mux_backends[n], 16);

		if (m)
			snprintf(want, sizeof(want), "%-10s OK     %s\n", mux_backends[n]->name, mux_backends[n]->summary);
		else
			snprintf(want, sizeof(want), "%-10s FAILED %s (", mux_backends[n]->name, strerror(errno));
		failed += !m;
		if (m)
			mux_destroy(m);
		if (!strstr(out, want))
			fail_msg("no '%s' line in:\n%s", want, out);
	}
	/* And the server's completion-mode loop, which it checks itself. */
	if (strstr(out, "uring      FAILED "))
		failed++;
	else if (!strstr(out, "uring      OK "))
		fail_msg("no 'uring' line in:\n%s", out);
	assert_int_equal(rc, failed ? 1 : 0);
	assert_int_equal(count_lines(out), (int)n + 1);
	assert_int_equal(run_muxserver(out, sizeof(out), err, sizeof(err), "--help", NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_non_null(strstr(out, mux_backends[i]->name));
}

/*
 * Where epoll cannot be created (an LD_PRELOAD shim makes epoll_create1 fail
 * with ENOSYS), --list-backends says FAILED for both epoll backends, OK for
 * the others, and exits 1 so that a script notices.
 */
static void list_backends_failure_exits_1(void **state)
{
	const char *shim = tool_path("NOEPOLL_SO", "build/noepoll.so");
	char out[4096], err[512], shim_path[PATH_MAX], preload[PATH_MAX + 16];
	int rc;

	(void)state;
	if (access(shim, R_OK) != 0)
		fail_msg("the test shim %s is not built (make build/noepoll.so)", shim);
	assert_non_null(realpath(shim, shim_path) ? shim_path : NULL);
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", shim_path);
	/* Only the child gets the shim; ASan must accept a library loaded before its runtime. */
	rc = run_prog(out, sizeof(out), err, sizeof(err), "env", preload, "ASAN_OPTIONS=verify_asan_link_order=0",
		      tool_path("MUXSERVER", "build/muxserver"), "--list-backends", NULL);
	if (rc != 1)
		fail_msg("exit %d with epoll unavailable; stdout:\n%s", rc, out);
	assert_non_null(strstr(out, "epoll      FAILED Function not implemented ("));
	assert_non_null(strstr(out, "epoll-et   FAILED Function not implemented ("));
	assert_non_null(strstr(out, "select     OK "));
	assert_non_null(strstr(out, "poll       OK "));
}

/*
 * Where io_uring is refused (tests/server/nouring.c: io_uring_setup fails
 * with EPERM, as under kernel.io_uring_disabled=2), --list-backends says
 * FAILED with the reason for both io_uring backends and exits 1, and a
 * server asked for either exits 1 with one line naming it and the reason.
 */
static void uring_refused_one_line(void **state)
{
	const char *nouring = tool_path("NOURING", "build/nouring");
	const char *server = tool_path("MUXSERVER", "build/muxserver");
	char out[4096], err[512];
	int rc;

	(void)state;
	if (!mux_find("uring-poll"))
		skip_because("built without liburing: no io_uring backend to refuse (apt-get install liburing-dev)");
	if (access(nouring, X_OK) != 0)
		fail_msg("the test wrapper %s is not built (make build/nouring)", nouring);
	rc = run_prog(out, sizeof(out), err, sizeof(err), nouring, server, "--list-backends", NULL);
	if (rc != 1)
		fail_msg("exit %d with io_uring refused; stdout:\n%s", rc, out);
	assert_non_null(strstr(out, "uring-poll FAILED Operation not permitted ("));
	assert_non_null(strstr(out, "uring      FAILED Operation not permitted ("));
	assert_non_null(strstr(out, "epoll      OK "));
	rc = run_prog(out, sizeof(out), err, sizeof(err), nouring, server, "--backend", "uring-poll", "--port", "0", NULL);
	assert_int_equal(rc, 1);
	assert_string_equal(err, "muxserver: cannot create uring-poll backend: Operation not permitted\n");
	rc = run_prog(out, sizeof(out), err, sizeof(err), nouring, server, "--backend", "uring", "--port", "0", NULL);
	assert_int_equal(rc, 1);
	assert_string_equal(err, "muxserver: cannot create uring backend: Operation not permitted\n");
}

#define PER_BACKEND(X) \
	X(echo_50_by_1mib) X(ipv6_loopback) X(upper_cases) X(duration_stops) \
	X(http_wrk_and_ab) X(http_bad_request_closed) X(sockperf_ping_pong_and_under_load)

#define ENTRY(name) { #name, name },
static const struct backend_test per_backend[] = { PER_BACKEND(ENTRY) };

static const struct CMUnitTest once[] = {
	cmocka_unit_test_teardown(bad_flags_exit_2, test_teardown),
	cmocka_unit_test_teardown(port_in_use_exit_1, test_teardown),
	cmocka_unit_test_teardown(list_backends_all_ok, test_teardown),
	cmocka_unit_test_teardown(list_backends_failure_exits_1, test_teardown),
	cmocka_unit_test_teardown(uring_refused_one_line, test_teardown),
};

int main(void)
{
	return run_server_matrix("muxserver end to end", per_backend,
				  sizeof(per_backend) / sizeof(per_backend[0]), NULL, test_teardown,
				  once, sizeof(once) / sizeof(once[0]));
}
