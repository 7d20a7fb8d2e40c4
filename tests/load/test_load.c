/*
 * test_load.c - muxload end to end: against muxserver with each backend,
 * against misbehaving servers (tests/fakeecho.c), and with bad input. It
 * asserts what muxload reports and how it exits, never how fast anything is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mux.h"
#include "../testutil.h"

#define OUT_MAX 16384

struct run {
	int rc;
	char out[OUT_MAX], err[4096];
};

static const char *muxload(void)
{
	return tool_path("MUXLOAD", "build/muxload");
}

/*
 * A number from muxload's JSON: the first `key` after `within` (an object
 * key such as "latency_us"), searched past the "params" object so that
 * result keys are not confused with parameter names.
 */
static double json_num(const char *json, const char *within, const char *key)
{
	const char *p = strstr(json, "},");

	if (!p)
		fail_msg("no JSON object in: %s", json);
	return json_number(p, within, key);
}

static const char *port_str(const struct child *c)
{
	static char port[16];

	snprintf(port, sizeof(port), "%d", c->port);
	return port;
}

/* Run muxload against port with NULL-terminated extra args, always --json. */
#define LOAD(r, c, ...) \
	((r)->rc = run_prog((r)->out, OUT_MAX, (r)->err, sizeof((r)->err), muxload(), \
			    "--port", port_str(c), "--json", __VA_ARGS__, NULL))

static void expect_clean(const struct run *r)
{
	if (r->rc != 0 || json_num(r->out, NULL, "errors") != 0)
		fail_msg("muxload exit %d; stderr: %s; stdout: %s", r->rc, r->err, r->out);
	assert_true(json_num(r->out, NULL, "throughput_rps") > 0);
}

/* A 2-second run on every backend: requests > 0, zero errors, every reply checked. */
static void two_seconds_no_errors(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	child_start(&c, backend_of(state), NULL);
	LOAD(r, &c, "--connections", "20", "--duration", "2", "--warmup", "0.5");
	expect_clean(r);
	assert_true(json_num(r->out, NULL, "requests") > 0);
	assert_int_equal(json_num(r->out, "connections", "established"), 20);
	assert_true(json_num(r->out, "latency_us", "min") > 0);
	assert_true(json_num(r->out, "latency_us", "min") <= json_num(r->out, "latency_us", "p50"));
	assert_true(json_num(r->out, "latency_us", "p99") <= json_num(r->out, "latency_us", "max"));
	assert_int_equal(child_stop(&c, 30), 0);
}

/* Threads, pipelining and a bigger message: replies still all match. */
static void threads_pipeline_large(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	child_start(&c, backend_of(state), NULL);
	LOAD(r, &c, "--connections", "8", "--threads", "2", "--pipeline", "4", "--size", "5000",
	     "--duration", "1", "--warmup", "0.2");
	expect_clean(r);
	assert_int_equal(child_stop(&c, 30), 0);
}

/* 2000 idle connections held open beside the active ones, on the server's backend. */
static void idle_2000(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	if (fdlimit_raise(4200, true, NULL) < 0)
		skip_because("cannot raise the fd limit to 4200 (not root?)");
	child_start(&c, backend_of(state), NULL);
	LOAD(r, &c, "--connections", "10", "--idle", "2000", "--duration", "1", "--warmup", "0.2");
	expect_clean(r);
	assert_int_equal(json_num(r->out, "connections", "established"), 2010);
	child_stats(&c);
	assert_true(child_stat(&c, "accepted") >= 2010);
	assert_int_equal(child_stop(&c, 30), 0);
}

/* Open loop: never sends faster than asked; corrected latency is never below uncorrected. */
static void open_loop_rate(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	child_start(&c, backend_of(state), NULL);
	LOAD(r, &c, "--connections", "4", "--rate", "1000", "--duration", "2", "--warmup", "0.5");
	expect_clean(r);
	assert_true(json_num(r->out, NULL, "rate_achieved") <= 1000 * 1.02);
	assert_true(json_num(r->out, NULL, "requests") <= 2000 * 1.02 + 4);
	assert_true(json_num(r->out, NULL, "requests") >= 100);
	assert_true(json_num(r->out, "latency_us", "p50") >=
		    json_num(r->out, "latency_uncorrected_us", "p50"));
	assert_non_null(strstr(r->out, "\"rate_reached\":"));
	assert_int_equal(child_stop(&c, 30), 0);
}

/*
 * --reconnect: a connection per request. Every measured request but each
 * slot's first had its own connect, the server accepted at least as many,
 * and since a request's latency includes its connect, every percentile of
 * the latency is at least the connect's.
 */
static void reconnect_per_request(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	double requests, connects;
	struct child c;

	child_start(&c, backend_of(state), NULL);
	/* A count, not a duration: a fast machine could otherwise run out of ephemeral ports. */
	LOAD(r, &c, "--reconnect", "--connections", "4", "--requests", "3000", "--warmup", "0.2");
	expect_clean(r);
	requests = json_num(r->out, NULL, "requests");
	connects = json_num(r->out, NULL, "connects");
	if (connects < requests - 4 || connects > requests + 4)
		fail_msg("%.0f connects for %.0f requests over 4 connections", connects, requests);
	assert_true(json_num(r->out, NULL, "connects_per_s") > 0);
	assert_true(json_num(r->out, "connect_us", "min") > 0);
	assert_true(json_num(r->out, "latency_us", "p50") >= json_num(r->out, "connect_us", "p50"));
	assert_true(json_num(r->out, "latency_us", "p99") >= json_num(r->out, "connect_us", "p99"));
	/* Each latency is its connect plus its round trip from the send: on average, too (half, for outliers). */
	if (json_num(r->out, "latency_us", "mean") - json_num(r->out, "latency_uncorrected_us", "mean") <
	    0.5 * json_num(r->out, "connect_us", "mean"))
		fail_msg("latency does not include the connect: %s", r->out);
	child_stats(&c);
	assert_true(child_stat(&c, "accepted") >= connects);
	assert_int_equal(child_stop(&c, 30), 0);
}

/* --proto http against muxserver --proto http: every reply a 200 with its body. */
static void http_no_errors(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	child_start(&c, backend_of(state), "--proto", "http", "--body-size", "100", NULL);
	LOAD(r, &c, "--proto", "http", "--connections", "8", "--pipeline", "3", "--duration", "1",
	     "--warmup", "0.2");
	expect_clean(r);
	child_stats(&c);
	assert_true(child_stat(&c, "requests") >= json_num(r->out, NULL, "requests"));
	assert_int_equal(child_stop(&c, 30), 0);
}

/* --proto sockperf and --proto udp against the matching muxserver protocol: every reply checked. */
static void same_proto_both_ends(void **state, const char *proto, const char *size)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	child_start(&c, backend_of(state), "--proto", proto, NULL);
	LOAD(r, &c, "--proto", proto, "--connections", "6", "--pipeline", "3", "--size", size,
	     "--duration", "1", "--warmup", "0.2");
	expect_clean(r);
	child_stats(&c);
	assert_true(child_stat(&c, "requests") >= json_num(r->out, NULL, "requests"));
	assert_int_equal(child_stop(&c, 30), 0);
}

static void sockperf_and_udp_no_errors(void **state)
{
	same_proto_both_ends(state, "sockperf", "300");
	/* muxserver's uring loop serves TCP only (test_hazards checks that it says so). */
	if (strcmp(backend_of(state), "uring") != 0)
		same_proto_both_ends(state, "udp", "1000");
}

/*
 * A udp run against a server that misbehaves in one way: the errors of that
 * kind, and only those. A drop is found when a later reply overtakes it
 * (so pipeline >= 2), never by the timeout: that is far longer than the run,
 * so a stalled process on a loaded machine cannot turn a reply into a loss.
 */
static void udp_fault(struct run *r, const char *fault, const char *pipeline)
{
	struct child c;

	child_start_prog(&c, tool_path("FAKEECHO", "build/fakeecho"), fault, "40", NULL);
	LOAD(r, &c, "--proto", "udp", "--connections", "2", "--pipeline", pipeline, "--timeout", "30",
	     "--duration", "1", "--warmup", "0");
	children_reap(NULL);
	if (r->rc != 1)
		fail_msg("%s: muxload exit %d; %s", fault, r->rc, r->out);
	assert_int_equal(json_num(r->out, "errors_by_kind", "mismatch"), 0);
}

/* Dropped, reordered and duplicated datagrams are each counted as what they are. */
static void udp_loss_reorder_duplicate(void **state)
{
	struct run *r = test_alloc(sizeof(*r));

	(void)state;
	udp_fault(r, "udp-drop", "2");
	assert_true(json_num(r->out, "errors_by_kind", "lost") >= 1);
	assert_int_equal(json_num(r->out, "errors_by_kind", "reordered"), 0);
	assert_int_equal(json_num(r->out, "errors_by_kind", "duplicate"), 0);
	assert_non_null(strstr(r->err, "lost"));

	/* Held back until after that client's next: first counted lost, then found again as reordered. */
	udp_fault(r, "udp-swap", "4");
	assert_true(json_num(r->out, "errors_by_kind", "reordered") >= 1);
	assert_true(json_num(r->out, "errors_by_kind", "lost") <= 1);	/* one may be in flight at the end */
	assert_int_equal(json_num(r->out, "errors_by_kind", "duplicate"), 0);

	udp_fault(r, "udp-dup", "2");
	assert_true(json_num(r->out, "errors_by_kind", "duplicate") >= 1);
	assert_int_equal(json_num(r->out, "errors_by_kind", "lost"), 0);
	assert_int_equal(json_num(r->out, "errors_by_kind", "reordered"), 0);
}

/* No udp server: one line naming the fix, exit 1, no hang. */
static void udp_nothing_listening(void **state)
{
	struct run *r = test_alloc(sizeof(*r));

	(void)state;
	r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), muxload(), "--proto", "udp",
			 "--port", "9", "--duration", "1", NULL);
	assert_int_equal(r->rc, 1);
	assert_non_null(strstr(r->err, "udp"));
	assert_ptr_equal(strchr(r->err, '\n'), r->err + strlen(r->err) - 1);	/* one line */
}

/* An echo server is not an HTTP server: its replies are mismatches, and the exit status says so. */
static void http_against_echo_is_error(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	(void)state;
	child_start(&c, "epoll", NULL);
	LOAD(r, &c, "--proto", "http", "--connections", "2", "--duration", "0.5", "--warmup", "0");
	assert_int_equal(r->rc, 1);
	assert_true(json_num(r->out, "errors_by_kind", "mismatch") >= 1);
	assert_int_equal(child_stop(&c, 30), 0);
}

/* --requests N stops after exactly N measured requests. */
static void requests_count(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	(void)state;
	child_start(&c, "epoll", NULL);
	LOAD(r, &c, "--connections", "5", "--requests", "3000", "--warmup", "0");
	expect_clean(r);
	assert_int_equal(json_num(r->out, NULL, "requests"), 3000);
	assert_int_equal(child_stop(&c, 30), 0);
}

/* A server that flips a byte now and then is caught: mismatch counted, exit status non-zero. */
static void corrupting_server_caught(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	(void)state;
	child_start_prog(&c, tool_path("FAKEECHO", "build/fakeecho"), "corrupt", "10", NULL);
	LOAD(r, &c, "--connections", "4", "--duration", "1", "--warmup", "0");
	assert_int_equal(r->rc, 1);
	assert_true(json_num(r->out, "errors_by_kind", "mismatch") >= 1);
	assert_true(json_num(r->out, NULL, "errors") >= 1);
	assert_non_null(strstr(r->err, "mismatch") ? r->err : strstr(r->err, "differs"));
	children_reap(NULL);
}

/*
 * A server that answers every request 50 ms late is measured at 50 ms, not
 * less (min), and not more than the run itself shows: with one connection in
 * a closed loop, requests follow one another, so the median latency cannot
 * exceed the mean time per request (duration / requests) by much. That holds
 * however loaded the machine is, where a fixed ceiling on p50 would not; a
 * latency counted twice, or from the wrong start, still fails it.
 */
static void delayed_server_measured(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;
	double p50, min, per_request_us;

	(void)state;
	child_start_prog(&c, tool_path("FAKEECHO", "build/fakeecho"), "delay", "50", NULL);
	LOAD(r, &c, "--connections", "1", "--duration", "1.5", "--warmup", "0.2");
	expect_clean(r);
	p50 = json_num(r->out, "latency_us", "p50");
	min = json_num(r->out, "latency_us", "min");
	per_request_us = 1e6 / json_num(r->out, NULL, "throughput_rps");
	if (min < 50000 || p50 > 1.2 * per_request_us)
		fail_msg("a 50 ms server measured at min %.0f us, p50 %.0f us, with %.0f us per request",
			 min, p50, per_request_us);
	children_reap(NULL);
}

static void outputs_csv_and_hgrm(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	char csv[64], hgrm[64], line[512];
	struct child c;
	FILE *f;
	int lines = 0;

	(void)state;
	snprintf(csv, sizeof(csv), "/tmp/muxlab-%ld.csv", (long)getpid());
	snprintf(hgrm, sizeof(hgrm), "/tmp/muxlab-%ld.hgrm", (long)getpid());
	unlink(csv);
	child_start(&c, "epoll", NULL);
	for (int i = 0; i < 2; i++) {
		LOAD(r, &c, "--duration", "0.3", "--warmup", "0", "--csv", csv, "--hgrm", hgrm, "--no-progress");
		expect_clean(r);
		/* What was not asked is null, in params as at the top. */
		assert_non_null(strstr(r->out, "\"requests\":null,"));
		assert_non_null(strstr(r->out, "\"rate\":null,"));
		assert_non_null(strstr(r->out, "\"rate_target\":null,"));
	}
	f = fopen(csv, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		lines++;
	fclose(f);
	assert_int_equal(lines, 3);	/* one header, two rows */
	f = fopen(hgrm, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	assert_non_null(strstr(line, "Percentile"));
	fclose(f);
	unlink(csv);
	unlink(hgrm);
	assert_int_equal(child_stop(&c, 30), 0);
}

/*
 * On a terminal (script(1) gives muxload a pseudo-terminal) progress lines
 * come by default; --no-progress silences them there.
 */
static void progress_on_a_terminal(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	char cmd[512];
	struct child c;

	(void)state;
	if (access("/usr/bin/script", X_OK) != 0)
		skip_because("no /usr/bin/script (apt-get install bsdutils)");
	child_start(&c, "epoll", NULL);
	for (int quiet = 0; quiet < 2; quiet++) {
		snprintf(cmd, sizeof(cmd), "%s --port %d --duration 1.3 --warmup 0 --connections 2%s", muxload(),
			 c.port, quiet ? " --no-progress" : "");
		r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), "/usr/bin/script", "-qec", cmd, "/dev/null",
				 NULL);
		if (r->rc != 0 || (strstr(r->out, " req/s  errors") != NULL) != !quiet)
			fail_msg("%s: exit %d, output: %s", quiet ? "--no-progress" : "default", r->rc, r->out);
	}
	assert_int_equal(child_stop(&c, 30), 0);
}

/* Nobody listening: one line saying so, exit 1. */
static void refused_is_one_line(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;
	char port[16];

	(void)state;
	child_start(&c, "epoll", NULL);
	snprintf(port, sizeof(port), "%d", c.port);
	assert_int_equal(child_stop(&c, 30), 0);	/* the port is now closed */
	r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), muxload(), "--port", port, NULL);
	assert_int_equal(r->rc, 1);
	assert_non_null(strstr(r->err, "connection refused"));
	assert_int_equal(strchr(r->err, '\n') - r->err + 1, (long)strlen(r->err));
	/* --json: the same line as a JSON object on stdout, for a consumer that reads only stdout. */
	r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), muxload(), "--port", port, "--json", NULL);
	assert_int_equal(r->rc, 1);
	if (strncmp(r->out, "{\"error\":\"connection refused", strlen("{\"error\":\"connection refused")) ||
	    strcmp(r->out + strlen(r->out) - 2, "}\n"))
		fail_msg("stdout: %s", r->out);
	/* An output that cannot be written is found before connecting: its line, not the refusal. */
	r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), muxload(), "--port", port, "--json",
			 "--hgrm", "/nonexistent-dir/x.hgrm", NULL);
	assert_int_equal(r->rc, 1);
	assert_non_null(strstr(r->err, "--hgrm /nonexistent-dir/x.hgrm"));
	assert_null(strstr(r->err, "refused"));
	assert_non_null(strstr(r->out, "{\"error\":\"--hgrm /nonexistent-dir/x.hgrm"));
}

/* Too few fds and no way to raise them: one line naming the need and the fix. */
static void fd_limit_named(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;

	(void)state;
	if (access("/usr/bin/prlimit", X_OK) != 0)
		skip_because("no /usr/bin/prlimit (apt-get install util-linux)");
	child_start(&c, "epoll", NULL);
	r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), "/usr/bin/prlimit", "--nofile=64:64",
			 muxload(), "--port", port_str(&c), "--idle", "500", NULL);
	assert_int_equal(r->rc, 1);
	assert_non_null(strstr(r->err, "too many open files"));
	assert_non_null(strstr(r->err, "ulimit -n"));
	assert_int_equal(child_stop(&c, 30), 0);
}

/*
 * --mark-pid: the server prints its counters at the start and at the end of
 * muxload's measured interval, so the requests between the two lines are
 * the ones muxload counted, give or take those in flight at each mark and
 * the supervisor's 20 ms nap at the end. Bounds that hold on a loaded
 * machine, and fail when a mark is missing (no line) or misplaced (both at
 * one end: a difference near 0, or the warm-up's requests counted too).
 */
static void mark_pid_brackets_measured_interval(void **state)
{
	struct run *r = test_alloc(sizeof(*r));
	struct child c;
	char pid[16];
	double counted, between;
	uint64_t first;

	(void)state;
	child_start(&c, MUX_DEFAULT, NULL);
	snprintf(pid, sizeof(pid), "%ld", (long)c.pid);
	LOAD(r, &c, "--connections", "4", "--duration", "1", "--warmup", "1", "--mark-pid", pid);
	expect_clean(r);
	child_next_stats(&c);
	first = child_stat(&c, "requests");
	child_next_stats(&c);
	between = (double)(child_stat(&c, "requests") - first);
	counted = json_num(r->out, NULL, "requests");
	if (between < 0.5 * counted || between > 1.5 * counted + 100)
		fail_msg("server counted %.0f requests between the marks, muxload %.0f", between, counted);
	assert_int_equal(child_stop(&c, 30), 0);
}

static void bad_flags_exit_2(void **state)
{
	static const char *const bad[][3] = {
		{ "--connections", "0" }, { "--connections", "many" }, { "--threads", "0" },
		{ "--size", "0" }, { "--size", "1T" }, { "--pipeline", "0" }, { "--rate", "-5" },
		{ "--duration", "0" }, { "--warmup", "-1" }, { "--proto", "gopher" },
		{ "--port", "99999" }, { "--host", "example.invalid" }, { "--timeout", "nan" },
		{ "--bogus" }, { "--requests" }, { "--mark-pid", "0" }, { "--mark-pid", "me" },
		{ "--proto", "sockperf", "--size=13" }, { "--proto", "udp", "--idle=5" },
		{ "--proto", "udp", "--size=65508" }, { "--reconnect", "--rate=100" },
		{ "--reconnect", "--pipeline=2" }, { "--proto", "udp", "--reconnect" },
	};
	struct run *r = test_alloc(sizeof(*r));

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), muxload(),
				 bad[i][0], bad[i][1], bad[i][1] ? bad[i][2] : NULL, NULL);
		if (r->rc != 2 || !strstr(r->err, "muxload: "))
			fail_msg("%s %s: exit %d, stderr '%s'", bad[i][0], bad[i][1] ? bad[i][1] : "",
				 r->rc, r->err);
	}
	r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), muxload(),
			 "--duration", "1", "--requests", "5", NULL);
	assert_int_equal(r->rc, 2);
	r->rc = run_prog(r->out, OUT_MAX, r->err, sizeof(r->err), muxload(),
			 "--connections", "2", "--threads", "4", NULL);
	assert_int_equal(r->rc, 2);
	assert_int_equal(run_prog(r->out, OUT_MAX, NULL, 0, muxload(), "--help", NULL), 0);
	assert_non_null(strstr(r->out, "--connections"));
}

static const struct backend_test per_backend[] = {
	{ "two_seconds_no_errors", two_seconds_no_errors },
	{ "threads_pipeline_large", threads_pipeline_large },
	{ "idle_2000", idle_2000 },
	{ "open_loop_rate", open_loop_rate },
	{ "http_no_errors", http_no_errors },
	{ "reconnect_per_request", reconnect_per_request },
	{ "sockperf_and_udp_no_errors", sockperf_and_udp_no_errors },
};

static const struct CMUnitTest once[] = {
	cmocka_unit_test_teardown(requests_count, test_teardown),
	cmocka_unit_test_teardown(udp_loss_reorder_duplicate, test_teardown),
	cmocka_unit_test_teardown(udp_nothing_listening, test_teardown),
	cmocka_unit_test_teardown(http_against_echo_is_error, test_teardown),
	cmocka_unit_test_teardown(corrupting_server_caught, test_teardown),
	cmocka_unit_test_teardown(delayed_server_measured, test_teardown),
	cmocka_unit_test_teardown(outputs_csv_and_hgrm, test_teardown),
	cmocka_unit_test_teardown(progress_on_a_terminal, test_teardown),
	cmocka_unit_test_teardown(refused_is_one_line, test_teardown),
	cmocka_unit_test_teardown(fd_limit_named, test_teardown),
	cmocka_unit_test_teardown(bad_flags_exit_2, test_teardown),
	cmocka_unit_test_teardown(mark_pid_brackets_measured_interval, test_teardown),
};

int main(void)
{
	return run_server_matrix("muxload end to end", per_backend,
				  sizeof(per_backend) / sizeof(per_backend[0]), NULL, test_teardown,
				  once, sizeof(once) / sizeof(once[0]));
}
