/*
 * test_dispatch.c - muxdispatch end to end: every backend, ours and the
 * peers built in, dispatches every write exactly once; the Kerrisk table is
 * whole; a peer that cannot handle an fd count is reported, not fatal; bad
 * flags are one line. Nothing here looks at how fast anything is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../testutil.h"

#define OUT_MAX 65536

static const char *muxdispatch(void)
{
	return tool_path("MUXDISPATCH", "build/muxdispatch");
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = test_alloc(OUT_MAX);
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, OUT_MAX - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void temp_path(char *path, size_t len, const char *name)
{
	snprintf(path, len, "/tmp/muxdispatch-test-%d-%s", (int)getpid(), name);
}

/* Field k (0-based) of a CSV line, copied into out. */
static const char *field(const char *line, int k, char *out, size_t len)
{
	for (; k > 0 && line; k--) {
		line = strchr(line, ',');
		line = line ? line + 1 : NULL;
	}
	assert_non_null(line);
	snprintf(out, len, "%.*s", (int)strcspn(line, ",\n"), line);
	return out;
}

/* How many backends this build has (lines of --list). */
static int backends_built(char *list)
{
	int n = 0;

	assert_int_equal(run_prog(list, OUT_MAX, NULL, 0, muxdispatch(), "--list", NULL), 0);
	for (char *p = list; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/* 64 sources, 1000 writes: each backend's row is ok with exactly 64 + 1000 events. */
static void every_write_once(const char *source)
{
	char path[128], *list = test_alloc(OUT_MAX), *out = test_alloc(OUT_MAX), *csv, f[64];
	int rows = 0, built = backends_built(list);

	temp_path(path, sizeof(path), "once.csv");
	if (run_prog(out, OUT_MAX, NULL, 0, muxdispatch(), "--backend", "all", "--fds", "64", "--writes", "1000",
		     "--repeat", "2", "--source", source, "--csv", path, NULL) != 0)
		fail_msg("muxdispatch --source %s failed: %s", source, out);
	csv = slurp(path);
	assert_non_null(strchr(csv, '\n'));
	for (char *line = strchr(csv, '\n') + 1; *line; line = strchr(line, '\n') + 1) {
		if (!strchr(line, '\n'))
			fail_msg("%s: a row without its newline: %s", source, line);
		if (strcmp(field(line, 12, f, sizeof(f)), "ok") != 0)
			fail_msg("%s: row not ok: %.*s", source, (int)strcspn(line, "\n"), line);
		assert_string_equal(field(line, 8, f, sizeof(f)), "1064");
		assert_string_equal(field(line, 11, f, sizeof(f)), source);
		rows++;
	}
	assert_int_equal(rows, 2 * built);
	unlink(path);
}

static void socketpair_every_write_once(void **state)
{
	(void)state;
	every_write_once("socketpair");
}

static void eventfd_every_write_once(void **state)
{
	(void)state;
	every_write_once("eventfd");
}

/* Where the libraries are installed, the build has their backends: nothing silently left out. */
static void peers_built_when_present(void **state)
{
	char *list = test_alloc(OUT_MAX);

	(void)state;
	backends_built(list);
	bool have_libevent = system("pkg-config --exists libevent") == 0;
	bool have_libev = access("/usr/include/ev.h", R_OK) == 0;

	if (have_libevent)
		assert_non_null(strstr(list, "libevent-epoll"));
	if (have_libev)
		assert_non_null(strstr(list, "libev-epoll"));
	if (!have_libevent || !have_libev)
		skip_because("%s not installed: its backends are not tested (make test installs it as root)",
			     !have_libevent ? "libevent-dev" : "libev-dev");
}

/* --kerrisk: one row per backend and size, plus his figures. */
static void kerrisk_table(void **state)
{
	static const char *const want[] = { "select,10,300,", "poll,100,300,", "epoll,10,300,",
					    "epoll-et,100,300,", "kerrisk2006-epoll,10000,100000,0.97" };
	char path[128], *out = test_alloc(OUT_MAX), *csv;

	(void)state;
	temp_path(path, sizeof(path), "kerrisk.csv");
	assert_int_equal(run_prog(out, OUT_MAX, NULL, 0, muxdispatch(), "--kerrisk", "--fds", "10,100", "--ops",
				  "300", "--repeat", "1", "--csv", path, NULL), 0);
	assert_non_null(strstr(out, "Kerrisk"));
	csv = slurp(path);
	assert_true(strncmp(csv, "backend,fds,ops,seconds\n", 24) == 0);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (!strstr(csv, want[i]))
			fail_msg("kerrisk.csv lacks '%s':\n%s", want[i], csv);
	unlink(path);
}

/* libevent's select past FD_SETSIZE: whatever it does, the row says so and muxdispatch lives. */
static void peer_beyond_fd_setsize_reported(void **state)
{
	char path[128], *list = test_alloc(OUT_MAX), *out = test_alloc(OUT_MAX), *csv, f[192];

	(void)state;
	backends_built(list);
	if (!strstr(list, "libevent-select"))
		skip_because("muxdispatch built without libevent (apt-get install libevent-dev; make test does as root)");
	temp_path(path, sizeof(path), "setsize.csv");
	assert_int_equal(run_prog(out, OUT_MAX, NULL, 0, muxdispatch(), "--backend", "select,libevent-select",
				  "--fds", "700", "--writes", "500", "--repeat", "1", "--csv", path, NULL), 0);
	csv = slurp(path);
	assert_non_null(strstr(csv, "\nselect,700,100,500,1,"));	/* ours goes past FD_SETSIZE */
	if (!strstr(csv, "\nlibevent-select,"))
		fail_msg("no libevent-select row in:\n%s", csv);
	field(strstr(csv, "\nlibevent-select,") + 1, 12, f, sizeof(f));
	if (strcmp(f, "ok") != 0 && strncmp(f, "n/a: ", 5) != 0)
		fail_msg("libevent-select at 700 pairs: status '%s'", f);
	/* An abort carries what the child said (glibc's FD_SETSIZE check), not a bare "Aborted". */
	if (strstr(f, "Aborted") && !strstr(f, "FD_SETSIZE"))
		fail_msg("libevent-select's abort without its reason: '%s'", f);
	unlink(path);
}

/*
 * A hard fd limit too low for two fds a source at the largest size (a 2-core
 * VM's 20 000 against 10 000 pairs): with no --source, eventfds, said in one
 * line, and the run succeeds; with --source socketpair, those cells are n/a.
 */
static void low_fd_limit_takes_eventfds(void **state)
{
	char err[1024], *out = test_alloc(OUT_MAX);
	int rc;

	(void)state;
	if (access("/usr/bin/prlimit", X_OK) != 0 || access("/usr/bin/setpriv", X_OK) != 0)
		skip_because("no /usr/bin/prlimit or /usr/bin/setpriv (apt-get install util-linux)");
	/*
	 * Root loses CAP_SYS_RESOURCE first (setpriv), or it could raise the hard
	 * limit past 300; anyone else cannot anyway, and may not use setpriv so.
	 */
	rc = run_prog(out, OUT_MAX, err, sizeof(err), "/bin/sh", "-c",
		      "[ $(id -u) = 0 ] && set -- /usr/bin/setpriv --bounding-set=-sys_resource \"$@\"; exec \"$@\"",
		      "sh", "/usr/bin/prlimit", "--nofile=300:300", muxdispatch(),
		      "--backend", "epoll", "--fds", "20,200", "--writes", "1000", "--repeat", "1", NULL);
	if (rc != 0 || !strstr(err, "using --source eventfd") || !strstr(out, "source=eventfd") || strstr(out, "n/a"))
		fail_msg("exit %d, stdout '%s', stderr '%s'", rc, out, err);
	rc = run_prog(out, OUT_MAX, err, sizeof(err), "/bin/sh", "-c",
		      "[ $(id -u) = 0 ] && set -- /usr/bin/setpriv --bounding-set=-sys_resource \"$@\"; exec \"$@\"",
		      "sh", "/usr/bin/prlimit", "--nofile=300:300", muxdispatch(),
		      "--backend", "epoll", "--fds", "200", "--writes", "1000", "--repeat", "1", "--source",
		      "socketpair", NULL);
	if (rc == 0 || !strstr(out, "n/a: needs 464 fds"))
		fail_msg("--source socketpair: exit %d, stdout '%s'", rc, out);
}

static void bad_flags_one_line(void **state)
{
	static const char *const bad[][2] = {
		{ "--fds", "1" }, { "--fds", "ten" }, { "--backend", "kqueue" }, { "--repeat", "0" },
		{ "--source", "pipe" }, { "--active", "-3" }, { "--bogus", NULL },
		{ "--fds", "10,,20" }, { "--writes", "0" }, { "--ops", "5" }, { "--active=200", "--fds=100" },
		{ "--kerrisk", "--active=5" }, { "--kerrisk", "--backend=libevent-select" },
	};
	char err[1024], *out = test_alloc(OUT_MAX);

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = run_prog(out, OUT_MAX, err, sizeof(err), muxdispatch(), bad[i][0], bad[i][1], NULL);

		if (rc != 2 || strncmp(err, "muxdispatch: ", 13) != 0 || strchr(err, '\n') != err + strlen(err) - 1)
			fail_msg("%s %s: exit %d, stderr '%s'", bad[i][0], bad[i][1] ? bad[i][1] : "", rc, err);
	}
	assert_int_equal(run_prog(out, OUT_MAX, NULL, 0, muxdispatch(), "--help", NULL), 0);
	assert_non_null(strstr(out, "--kerrisk"));
}

/*
 * An output file that cannot be written is one line and exit 1, before any
 * measurement, for the sweep and for the Kerrisk table (under ASan+UBSan
 * this also holds muxdispatch to freeing what it had set up).
 */
static void unwritable_output_one_line(void **state)
{
	static const char *const modes[][4] = {
		{ "--csv", "/nonexistent-dir/x.csv", "--fds", "10" },
		{ "--medians", "/nonexistent-dir/m.csv", "--fds", "10" },
		{ "--kerrisk", "--csv", "/nonexistent-dir/k.csv", NULL },
	};
	char err[1024], *out = test_alloc(OUT_MAX);

	(void)state;
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		int rc = run_prog(out, OUT_MAX, err, sizeof(err), muxdispatch(), modes[i][0], modes[i][1],
				  modes[i][2], modes[i][3], NULL);

		if (rc != 1 || !strstr(err, "muxdispatch: cannot write /nonexistent-dir/") ||
		    strchr(err, '\n') != err + strlen(err) - 1 || out[0] != '\0')
			fail_msg("%s %s: exit %d, stdout '%.80s', stderr '%s'", modes[i][0], modes[i][1], rc, out, err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(socketpair_every_write_once, test_teardown),
		cmocka_unit_test_teardown(eventfd_every_write_once, test_teardown),
		cmocka_unit_test_teardown(peers_built_when_present, test_teardown),
		cmocka_unit_test_teardown(kerrisk_table, test_teardown),
		cmocka_unit_test_teardown(peer_beyond_fd_setsize_reported, test_teardown),
		cmocka_unit_test_teardown(bad_flags_one_line, test_teardown),
		cmocka_unit_test_teardown(low_fd_limit_takes_eventfds, test_teardown),
		cmocka_unit_test_teardown(unwritable_output_one_line, test_teardown),
	};

	return cmocka_run_group_tests_name("muxdispatch", tests, NULL, NULL);
}
