/*
 * dispatch_cells.c - running muxdispatch's cells: one (backend, fds) cell
 * in a child process, every backend's repetitions at one size interleaved,
 * and a cell's median, min and max.
 */
#include "fdlimit.h"
#include "muxdispatch.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * Room for a cell of `pairs` sources: their fds plus slack. The soft limit is
 * raised, and the hard one too when we may (root); false with *why when still short.
 */
static bool fds_fit(const struct options *o, long pairs, char *why, size_t len)
{
	rlim_t need = (rlim_t)((o->source == SOURCE_EVENTFD ? 1 : 2) * pairs + 64), hard = 0;
	int rc = fdlimit_raise(need, true, &hard);

	if (rc == -EMFILE)
		snprintf(why, len, "needs %llu fds, hard limit %llu (raise it: ulimit -Hn %llu; or --source eventfd)",
			 (unsigned long long)need, (unsigned long long)hard, (unsigned long long)need);
	else if (rc < 0)
		snprintf(why, len, "cannot raise the fd limit: %s", strerror(-rc));
	return rc == 0;
}

/* In the child: one cell, all repetitions. */
static void measure_cell(const struct options *o, const struct dispatch_driver *d, long fds, struct cell *c)
{
	struct dispatch_world w;
	const char *why = NULL;
	long active = o->active < fds ? o->active : fds;

	c->outcome = world_open(&w, o->source, (int)fds, &why) ? DISPATCH_OK : DISPATCH_NA;
	for (; c->outcome == DISPATCH_OK && c->reps < o->repeat; c->reps++) {
		struct dispatch_sample *s = &c->s[c->reps];

		if (o->kerrisk) {
			c->outcome = dispatch_kerrisk(d, &w, o->ops, &s->seconds, &why);
			s->events = (uint64_t)o->ops;
		} else {
			c->outcome = dispatch_measure(d, &w, (int)active, o->writes, s, &why);
		}
	}
	if (c->outcome != DISPATCH_OK)
		snprintf(c->why, sizeof(c->why), "%s", why ? why : "failed");
	world_close(&w);
}

/* The child's report from fd until it is whole or the child is gone: the bytes read. */
static size_t read_cell(int fd, struct cell *c)
{
	size_t got = 0;

	while (got < sizeof(*c)) {
		ssize_t r = read(fd, (char *)c + got, sizeof(*c) - got);

		if (r <= 0 && !(r == -1 && errno == EINTR))
			break;
		if (r > 0)
			got += (size_t)r;
	}
	return got;
}

/*
 * The child's stderr, read back: a dead cell's one line goes into its reason
 * (glibc's "*** bit out of range 0 - FD_SETSIZE on fd_set ***" would
 * otherwise read as if muxdispatch itself had crashed); anything longer (a
 * sanitizer's report) and a live cell's lines are passed on whole.
 */
static void child_stderr(FILE *err, bool died, char *why, size_t len)
{
	char line[512], last[256] = "";
	int lines = 0;

	if (!err)
		return;
	rewind(err);
	while (fgets(line, sizeof(line), err))
		if (line[0] != '\n') {
			snprintf(last, sizeof(last), "%.*s", (int)strcspn(line, "\n"), line);
			lines++;
		}
	if (died && last[0])
		snprintf(why + strlen(why), len - strlen(why), " (%s)", last);
	if (!died || lines > 1) {
		rewind(err);
		while (fgets(line, sizeof(line), err))
			fputs(line, stderr);
	}
	fclose(err);
}

/* Run one cell in a child; a crash or abort there becomes n/a here, with what it said. */
void run_cell(const struct options *o, const struct dispatch_driver *d, long fds, struct cell *c)
{
	int p[2], status;
	pid_t pid;
	size_t got;
	FILE *err;

	memset(c, 0, sizeof(*c));
	c->outcome = DISPATCH_NA;
	if (!fds_fit(o, fds, c->why, sizeof(c->why)))
		return;
	fflush(NULL);
	err = tmpfile();
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		snprintf(c->why, sizeof(c->why), "fork: %s", strerror(errno));
		if (err)
			fclose(err);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		if (err)
			dup2(fileno(err), 2);
		measure_cell(o, d, fds, c);
		_exit(write(p[1], c, sizeof(*c)) == (ssize_t)sizeof(*c) ? 0 : 1);
	}
	close(p[1]);
	got = read_cell(p[0], c);
	close(p[0]);
	waitpid(pid, &status, 0);
	if (got != sizeof(*c)) {
		memset(c, 0, sizeof(*c));
		c->outcome = DISPATCH_NA;	/* a peer that dies at some size is reported, not fatal */
		if (WIFSIGNALED(status))
			snprintf(c->why, sizeof(c->why), "crashed: %s", strsignal(WTERMSIG(status)));
		else
			snprintf(c->why, sizeof(c->why), "exited %d", WEXITSTATUS(status));
	}
	child_stderr(err, got != sizeof(*c), c->why, sizeof(c->why));
}

/*
 * All backends at one size, repetition by repetition: rep 1 of every
 * backend, then rep 2, ... so that a noisy spell on a shared machine lands
 * on all of them instead of on one backend's every run.
 */
void run_interleaved(const struct options *o, long fds, struct cell *row)
{
	struct options once = *o;
	struct cell one;

	once.repeat = 1;
	memset(row, 0, (size_t)o->ndrivers * sizeof(*row));
	for (int rep = 0; rep < o->repeat; rep++)
		for (int i = 0; i < o->ndrivers; i++) {
			if (rep > 0 && row[i].outcome != DISPATCH_OK)
				continue;	/* n/a or broken once is enough */
			run_cell(&once, o->drivers[i], fds, &one);
			if (one.outcome != DISPATCH_OK) {
				row[i] = one;
				continue;
			}
			row[i].s[row[i].reps++] = one.s[0];
		}
}

double us_per_event(const struct dispatch_sample *s)
{
	return s->events ? s->seconds * 1e6 / (double)s->events : 0;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median, min and max of a cell's figure (us per event, or seconds for --kerrisk). */
void spread(const struct options *o, const struct cell *c, double out[3])
{
	double v[MAX_REPEAT];

	for (int i = 0; i < c->reps; i++)
		v[i] = o->kerrisk ? c->s[i].seconds : us_per_event(&c->s[i]);
	qsort(v, (size_t)c->reps, sizeof(double), by_value);
	out[0] = c->reps % 2 ? v[c->reps / 2] : (v[c->reps / 2 - 1] + v[c->reps / 2]) / 2;
	out[1] = v[0];
	out[2] = v[c->reps - 1];
}
