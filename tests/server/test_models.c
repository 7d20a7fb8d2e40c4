/*
 * test_models.c - muxserver --model end to end: every model (and each
 * accept-lock variant) as a real child process, real TCP clients on
 * loopback. Cells are named "variant/test"; $MUX_MODELS (comma separated
 * variant names) runs some only. Deadlines are hang guards; nothing here
 * asserts speed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../testutil.h"

#define HOST "127.0.0.1"

struct variant {
	const char *name;
	const char *args[8];   /* after --port 0, NULL-terminated */
	int clients;           /* clients it serves at once: 1 (iterative), a pool's size, or any */
	int workers;           /* lines 'worker id=' it prints; 0: none */
	bool per_connection;   /* a process or thread per client: one --max-conns for all */
	bool threads;          /* its workers are threads of the one process */
	bool accept_variant;   /* another's code but for how it accepts: the costly tests skip it */
};

static const struct variant variants[] = {
	{ "reactor-workers", { "--workers", "2" }, 50, 2, false, false, false },
	{ "reactor-shared", { "--workers", "2", "--shared-listener" }, 50, 2, false, false, true },
	{ "reactor-exclusive", { "--workers", "2", "--shared-listener", "--exclusive" }, 50, 2, false, false, true },
	{ "iterative", { "--model", "iterative" }, 1, 0, false, false, false },
	{ "fork", { "--model", "fork" }, 50, 0, true, false, false },
	{ "thread", { "--model", "thread" }, 50, 0, true, true, false },
	{ "prefork", { "--model", "prefork", "--workers", "4" }, 4, 4, false, false, false },
	{ "prefork-flock", { "--model", "prefork", "--workers", "4", "--accept-lock", "flock" }, 4, 4, false, false, true },
	{ "prefork-mutex", { "--model", "prefork", "--workers", "4", "--accept-lock", "mutex" }, 4, 4, false, false, true },
	{ "prethread", { "--model", "prethread", "--workers", "4" }, 4, 4, false, true, false },
	{ "prethread-mutex", { "--model", "prethread", "--workers", "4", "--accept-lock", "mutex" }, 4, 4, false, true, true },
	{ "prethread-main", { "--model", "prethread", "--workers", "4", "--accept-lock", "main" }, 4, 4, false, true, true },
};

static const struct variant *variant_of(void **state)
{
	return *state;
}

/* The notes serve udp iteratively and with a thread per datagram. */
static bool serves_udp(const struct variant *v)
{
	return v->args[1] && (strcmp(v->args[1], "iterative") == 0 || strcmp(v->args[1], "thread") == 0);
}

/* The tasks (threads) of a process, from /proc. */
static long tasks_of(pid_t pid)
{
	char path[64];
	DIR *d;
	long n = 0;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	d = opendir(path);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* Start the variant with extra NULL-terminated args. */
static void start(struct child *c, const struct variant *v, ...)
{
	const char *argv[24] = { "--port", "0" };
	int n = 2;
	va_list ap;

	for (int i = 0; v->args[i]; i++)
		argv[n++] = v->args[i];
	va_start(ap, v);
	for (const char *a; n < 22 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	child_start_args(c, tool_path("MUXSERVER", "build/muxserver"), argv);
}

/* 50 clients each echo 1 MiB of random bytes, checked byte for byte, as many at once as the model serves. */
static void echo_50_by_1mib(void **state)
{
	enum { N = 50, LEN = 1 << 20 };
	const struct variant *v = variant_of(state);
	unsigned char *data = test_alloc(LEN);
	struct child c;
	int fds[N];

	fill_random(data, LEN, 7);
	start(&c, v, NULL);
	for (int done = 0; done < N; done += v->clients) {
		int batch = N - done < v->clients ? N - done : v->clients;
		const char *err;

		connect_many(fds, batch, c.port);
		err = pump_echo(fds, batch, data, LEN, 120);
		if (err)
			fail_msg("%s: clients %d-%d: %s", v->name, done, done + batch - 1, err);
		close_all(fds, batch);
	}
	assert_int_equal(child_stop(&c, 30), 0);
	assert_non_null(strstr(c.line, "summary "));
	assert_true(child_stat(&c, "bytes_in") == (uint64_t)N * LEN);
	assert_true(child_stat(&c, "bytes_out") == (uint64_t)N * LEN);
	assert_int_equal(child_stat(&c, "closed"), N);
}

/* Connect until the listener refuses (or closes at once): the stop has shut it. */
static void expect_refused_soon(int port)
{
	double end = mono_s() + 20;

	for (;;) {
		int fd = tcp_connect(HOST, port);
		bool closed = fd >= 0 && sees_close(fd, 0.05);

		if (fd >= 0)
			close(fd);
		if (fd < 0 || closed)
			return;
		if (mono_s() > end)
			fail_msg("new clients still accepted 20 s after SIGTERM");
	}
}

/*
 * The children of pid (from /proc: every process whose parent it is), and
 * how many are zombies; signo: sent to each (0: none).
 */
static int children_of(pid_t pid, int *zombies, int signo)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	*zombies = 0;
	while ((e = readdir(d))) {
		char path[300], buf[512], state;
		long ppid;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !(f = fopen(path, "r")))
			continue;
		/* The command may hold spaces and parentheses: read past the last ')'. */
		if (fgets(buf, sizeof(buf), f) && strrchr(buf, ')') &&
		    sscanf(strrchr(buf, ')') + 1, " %c %ld", &state, &ppid) == 2 && ppid == pid) {
			n++;
			if (signo)
				kill((pid_t)atol(e->d_name), signo);
			*zombies += state == 'Z';
		}
		fclose(f);
	}
	closedir(d);
	return n;
}

/*
 * SIGTERM while a client is being served (to every process of the server,
 * and SIGINT too): the client is still answered, new clients are refused,
 * and once it leaves the server exits 0 at once (long before --grace ends).
 */
static void graceful_stop(void **state)
{
	const struct variant *v = variant_of(state);
	struct child c;
	int fd, zombies;

	start(&c, v, "--grace", "60", NULL);
	fd = tcp_connect(HOST, c.port);
	assert_true(fd >= 0 && echo_once(fd, 10));
	/* As Ctrl-C (the whole group) or a supervisor killing every process would: children must wait for the parent. */
	kill(c.pid, SIGTERM);
	children_of(c.pid, &zombies, SIGTERM);
	children_of(c.pid, &zombies, SIGINT);
	expect_refused_soon(c.port);
	if (!echo_once(fd, 10))
		fail_msg("%s: the client being served was not answered after SIGTERM", v->name);
	close(fd);
	/* The guard is far below --grace 60: only the client's leaving can end it in time. */
	assert_int_equal(child_wait_exit(&c, 30), 0);
	assert_non_null(strstr(c.line, "summary "));
}

/* A client that never leaves: the server ends it after --grace, exits 0, and the client sees the close. */
static void grace_cuts_clients(void **state)
{
	struct child c;
	int fd;

	start(&c, variant_of(state), "--grace", "0.3", NULL);
	fd = tcp_connect(HOST, c.port);
	assert_true(fd >= 0 && echo_once(fd, 10));
	assert_int_equal(child_stop(&c, 30), 0);
	assert_non_null(strstr(c.line, "summary "));
	assert_true(sees_close(fd, 10));
	close(fd);
}

/*
 * 10 000 connections one after another for a process or thread per
 * connection, 1000 for the rest (muxload --reconnect; $MODELS_CONNECTIONS
 * sets both). Once the server has closed them all (its count, polled as a
 * hang guard): no zombie, no child and no thread beyond the model's own.
 */
static void no_zombies_no_leaked_threads(void **state)
{
	const struct variant *v = variant_of(state);
	/* 10 000 where each connection makes a process or thread; 1000 are plenty for a fixed pool. */
	const char *conns = getenv("MODELS_CONNECTIONS") ? getenv("MODELS_CONNECTIONS") :
			    v->per_connection ? "10000" : "1000";
	long want_tasks = 1 + (v->threads ? v->workers : 0);
	int want_children = v->threads ? 0 : v->workers, children = -1, zombies = -1;
	char out[8192], err[1024], port[16];
	struct child c;
	double end;
	int rc;

	start(&c, v, NULL);
	snprintf(port, sizeof(port), "%d", c.port);
	rc = run_prog(out, sizeof(out), err, sizeof(err), tool_path("MUXLOAD", "build/muxload"),
		      "--port", port, "--reconnect", "--connections", "1", "--requests", conns, NULL);
	if (rc != 0)
		fail_msg("%s: muxload exit %d: %s", v->name, rc, err);
	for (end = mono_s() + 30;; sleep_s(0.05)) {
		child_stats(&c);
		if (child_stat(&c, "closed") >= (uint64_t)atol(conns) && child_stat(&c, "open") == 0)
			break;
		if (mono_s() > end)
			fail_msg("%s: %s connections made, %llu closed after 30 s", v->name, conns,
				 (unsigned long long)child_stat(&c, "closed"));
	}
	/* Closed by the server; reaped after the SIGCHLD that follows: a moment more, as a hang guard. */
	for (end = mono_s() + 20; mono_s() < end; sleep_s(0.02))
		if (children_of(c.pid, &zombies, 0) == want_children && zombies == 0 && tasks_of(c.pid) == want_tasks)
			break;
	children = children_of(c.pid, &zombies, 0);
	if (children != want_children || zombies != 0 || tasks_of(c.pid) != want_tasks)
		fail_msg("%s: after %s connections: %d children (want %d), %d zombies, %ld tasks (want %ld)",
			 v->name, conns, children, want_children, zombies, tasks_of(c.pid), want_tasks);
	assert_int_equal(child_stat(&c, "refused"), 0);
	expect_clean_stop(&c);
}

/* --max-conns 2: a third client is closed at once, counted as refused, the two still served. */
/*
 * Two clients served; a third closed at once; the two still served; after
 * the stop, the summary counts one refusal.
 */
static void expect_third_refused(struct child *c, const char *name)
{
	int fds[3];

	connect_many(fds, 2, c->port);
	assert_true(echo_once(fds[0], 10) && echo_once(fds[1], 10));
	fds[2] = tcp_connect(HOST, c->port);
	assert_true(fds[2] >= 0);
	if (!sees_close(fds[2], 10))
		fail_msg("%s: the third client was not closed", name);
	assert_true(echo_once(fds[0], 10) && echo_once(fds[1], 10));
	close_all(fds, 3);
	assert_int_equal(child_stop(c, 30), 0);
	assert_int_equal(child_stat(c, "refused"), 1);
}

static void max_conns_refuses(void **state)
{
	const struct variant *v = variant_of(state);
	struct child c;

	start(&c, v, "--max-conns", "2", NULL);
	expect_third_refused(&c, v->name);
}

/* Tasks (threads included) whose real user is uid: what RLIMIT_NPROC counts. */
static long tasks_of_user(long uid)
{
	DIR *d = opendir("/proc");
	long n = 0;

	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));) {
		char path[300], line[256];
		long real = -1;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%s/status", e->d_name);
		if (e->d_name[0] < '1' || e->d_name[0] > '9' || !(f = fopen(path, "r")))
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "Uid: %ld", &real) == 1)
				break;
		fclose(f);
		if (real == uid)
			n += tasks_of((pid_t)atol(e->d_name));
	}
	closedir(d);
	return n;
}

/*
 * http and sockperf, as muxload drives them (every reply checked), on a
 * model's blocking sessions; and udp where the notes serve it (iterative,
 * thread), every datagram answered (muxload counts loss as errors).
 */
static void other_protocols(void **state)
{
	const struct variant *v = variant_of(state);
	static const char *const protos[] = { "http", "sockperf", "udp" };
	bool udp = serves_udp(v);
	char out[8192], err[1024], port[16], conns[16];

	snprintf(conns, sizeof(conns), "%d", v->clients < 8 ? v->clients : 8);
	for (size_t i = 0; i < 2 + (size_t)udp; i++) {
		struct child c;
		int rc;

		start(&c, v, "--proto", protos[i], NULL);
		snprintf(port, sizeof(port), "%d", c.port);
		rc = run_prog(out, sizeof(out), err, sizeof(err), tool_path("MUXLOAD", "build/muxload"), "--port",
			      port, "--proto", protos[i], "--connections", conns, "--requests", "2000", "--warmup", "0",
			      NULL);
		if (rc != 0)
			fail_msg("%s --proto %s: muxload exit %d: %s", v->name, protos[i], rc, err);
		assert_int_equal(child_stop(&c, 30), 0);
		assert_true(child_stat(&c, "requests") >= 2000);
	}
}

/*
 * udp under a steady stream of datagrams (iterative, thread): SIGTERM still
 * ends the server, exit 0, promptly (the guard is far below --grace 60:
 * reading must not keep the loop from its signals, and there are no
 * clients to wait for).
 */
static void udp_stops_under_load(void **state)
{
	const struct variant *v = variant_of(state);
	struct child c;
	char port[16];
	pid_t load;

	start(&c, v, "--proto", "udp", "--grace", "60", NULL);
	snprintf(port, sizeof(port), "%d", c.port);
	load = fork();
	assert_true(load != -1);
	if (load == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		dup2(null, 2);
		execl(tool_path("MUXLOAD", "build/muxload"), "muxload", "--port", port, "--proto", "udp",
		      "--connections", "8", "--rate", "200000", "--duration", "20", "--warmup", "0", (char *)NULL);
		_exit(127);
	}
	sleep_s(0.5);
	if (child_stop(&c, 10) != 0)
		fail_msg("%s: udp server under load did not stop cleanly", v->name);
	kill(load, SIGKILL);
	waitpid(load, NULL, 0);
	assert_true(child_stat(&c, "requests") > 0);
}

/*
 * No process or thread to spare (RLIMIT_NPROC): the client is closed at
 * once, counted as refused and logged, and those being served go on. The
 * limit binds only an unprivileged user, so as root the server runs as
 * nobody (setpriv), from a copy of the binary nobody can execute; with a
 * limit of 3 tasks for that user, the parent and two children or threads.
 */
static void process_limit_refuses(void **state)
{
	const struct variant *v = variant_of(state);
	char dir[] = "/tmp/muxlab-nproc-XXXXXX", bin[64], cmd[256], err[4096] = "";
	char limit[64];
	const char *args[] = { "--reuid", "65534", "--regid", "65534", "--clear-groups", "prlimit",
			       limit, bin, "--port", "0", "--model", v->args[1], NULL };
	struct child c;
	FILE *f;

	if (geteuid() != 0)
		skip_because("RLIMIT_NPROC binds an unprivileged user: the test runs the server as nobody, which needs root");
	if (access("/usr/bin/setpriv", X_OK) != 0 || access("/usr/bin/prlimit", X_OK) != 0)
		skip_because("setpriv or prlimit missing (apt-get install util-linux)");
	/* The limit counts every task of the user: nobody's own daemons, if any, come on top. */
	snprintf(limit, sizeof(limit), "--nproc=%ld:%ld", 3 + tasks_of_user(65534), 3 + tasks_of_user(65534));
	assert_non_null(mkdtemp(dir));
	snprintf(bin, sizeof(bin), "%s/muxserver", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s' && chmod 755 '%s' '%s'", tool_path("MUXSERVER", "build/muxserver"),
		 bin, dir, bin);
	assert_int_equal(system(cmd), 0);
	child_start_args(&c, "setpriv", args);
	unlink(bin);	/* running: the copy is no longer needed, and nothing is left behind if we fail */
	rmdir(dir);
	expect_third_refused(&c, v->name);
	f = fopen(c.err_path, "r");
	if (f) {
		size_t n = fread(err, 1, sizeof(err) - 1, f);

		err[n] = 0;
		fclose(f);
	}
	if (!strstr(err, "refusing connections: ") || !strstr(err, "Resource temporarily unavailable"))
		fail_msg("%s: no refusal logged; stderr: %s", v->name, err);
}

/*
 * Pools and reactor workers: a 'worker id=' line each before the totals,
 * which are their sums and what the client did: 8 clients, one request each.
 */
static void worker_lines_add_up(void **state)
{
	const struct variant *v = variant_of(state);
	uint64_t accepted = 0, requests = 0;
	int lines = 0, fds[8];
	char summary[4096] = "";
	struct child c;

	start(&c, v, NULL);
	for (int i = 0; i < 8; i += v->clients < 8 ? v->clients : 8) {
		int batch = v->clients < 8 ? v->clients : 8;

		connect_many(fds, batch, c.port);
		for (int j = 0; j < batch; j++)
			assert_true(echo_once(fds[j], 10));
		close_all(fds, batch);
	}
	kill(c.pid, SIGTERM);
	while (child_read_line(&c, 30) && strncmp(c.line, "summary ", 8) != 0) {
		if (strncmp(c.line, "worker ", 7) != 0)
			continue;
		lines++;
		accepted += child_stat(&c, "accepted");
		requests += child_stat(&c, "requests");
	}
	snprintf(summary, sizeof(summary), "%s", c.line);
	assert_int_equal(child_wait_exit(&c, 30), 0);
	snprintf(c.line, sizeof(c.line), "%s", summary);
	assert_int_equal(lines, v->workers);
	assert_int_equal(child_stat(&c, "accepted"), 8);
	assert_int_equal(child_stat(&c, "requests"), 8);
	assert_int_equal(accepted, 8);
	assert_int_equal(requests, 8);
}

#define ONE_LINE_EXIT_2(...) do { \
	char err_[1024]; \
	int rc_ = run_muxserver(NULL, 0, err_, sizeof(err_), __VA_ARGS__, NULL); \
	if (rc_ != 2 || !strstr(err_, "muxserver: ") || strchr(err_, '\n') != strrchr(err_, '\n')) \
		fail_msg("exit %d, expected 2 and one line; stderr: %s", rc_, err_); \
} while (0)

/* Combinations that mean nothing: one line, exit 2. */
static void meaningless_flags_exit_2(void **state)
{
	(void)state;
	ONE_LINE_EXIT_2("--model", "kqueue");
	ONE_LINE_EXIT_2("--model", "fork", "--workers", "4");
	ONE_LINE_EXIT_2("--model", "thread", "--backend", "poll");
	ONE_LINE_EXIT_2("--model", "iterative", "--accept-lock", "mutex");
	ONE_LINE_EXIT_2("--model", "prethread", "--accept-lock", "flock");
	ONE_LINE_EXIT_2("--model", "prefork", "--accept-lock", "main");
	ONE_LINE_EXIT_2("--model", "prefork", "--accept-lock", "spin");
	ONE_LINE_EXIT_2("--model", "prefork", "--max-conns", "10");
	ONE_LINE_EXIT_2("--model", "fork", "--proto", "udp");
	ONE_LINE_EXIT_2("--model", "fork", "--header-timeout", "5");
	ONE_LINE_EXIT_2("--shared-listener");
	ONE_LINE_EXIT_2("--workers", "2", "--exclusive");
	ONE_LINE_EXIT_2("--workers", "2", "--shared-listener", "--exclusive", "--backend", "poll");
	ONE_LINE_EXIT_2("--workers", "0");
}

static bool every(const struct variant *v)
{
	(void)v;
	return true;
}

/* --max-conns is refused for the pools and iterative, and is per worker with --workers. */
static bool one_limit(const struct variant *v)
{
	return v->per_connection;
}

static bool has_workers(const struct variant *v)
{
	return v->workers > 0;
}

/* The 10 000 connections test: once per code path, not again for each way of accepting. */
static bool own_path(const struct variant *v)
{
	return !v->accept_variant;
}

/* Each test, and the variants it means something for (no cell, rather than a skip, for the rest). */
static const struct {
	const char *name;
	void (*fn)(void **state);
	bool (*applies)(const struct variant *v);
} tests[] = {
	{ "echo_50_by_1mib", echo_50_by_1mib, every },
	{ "graceful_stop", graceful_stop, every },
	{ "grace_cuts_clients", grace_cuts_clients, every },
	{ "no_zombies_no_leaked_threads", no_zombies_no_leaked_threads, own_path },
	{ "other_protocols", other_protocols, own_path },
	{ "udp_stops_under_load", udp_stops_under_load, serves_udp },
	{ "max_conns_refuses", max_conns_refuses, one_limit },
	{ "process_limit_refuses", process_limit_refuses, one_limit },
	{ "worker_lines_add_up", worker_lines_add_up, has_workers },
};

/* The variant is wanted: all, or those named in $MUX_MODELS. */
static bool wanted(const char *name)
{
	const char *list = getenv("MUX_MODELS");
	size_t len = strlen(name);

	for (const char *p = list; p && (p = strstr(p, name)); p += len)
		if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
			return true;
	return !list || !*list;
}

int main(void)
{
	enum { NV = sizeof(variants) / sizeof(variants[0]), NT = sizeof(tests) / sizeof(tests[0]) };
	static struct CMUnitTest cells[NV * NT + 1];
	static char names[NV * NT][96];
	size_t n = 0;

	for (size_t v = 0; v < NV; v++) {
		if (!wanted(variants[v].name))
			continue;
		for (size_t t = 0; t < NT; t++) {
			if (!tests[t].applies(&variants[v]))
				continue;
			snprintf(names[n], sizeof(names[n]), "%s/%s", variants[v].name, tests[t].name);
			cells[n] = (struct CMUnitTest){ .name = names[n], .test_func = tests[t].fn,
							.teardown_func = test_teardown,
							.initial_state = (void *)&variants[v] };
			n++;
		}
	}
	cells[n++] = (struct CMUnitTest){ .name = "meaningless_flags_exit_2",
					  .test_func = meaningless_flags_exit_2, .teardown_func = test_teardown };
	if (getenv("CMOCKA_TEST_FILTER"))
		cmocka_set_test_filter(getenv("CMOCKA_TEST_FILTER"));
	return cmocka_run_group_tests_name("muxserver --model", cells, NULL, NULL) ? 1 : 0;
}
