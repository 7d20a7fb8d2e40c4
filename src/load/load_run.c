/*
 * load_run.c - load_run: start the threads, supervise the run (progress,
 * --duration, --requests) and merge the threads' results into the report.
 */
#include "load_engine.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>

static char failure[512];

void load_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
	fprintf(stderr, "muxload: %s\n", failure);
}

const char *load_failure(void)
{
	return failure;
}

static void *thread_main(void *arg)
{
	struct lthread *t = arg;
	int64_t wall1, cpu1;

	open_idle(t);
	open_active(t);
	pthread_barrier_wait(&t->sh->connected);
	pthread_barrier_wait(&t->sh->go);
	run_loop(t);
	wall1 = mono_ns();
	cpu1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	if (t->wall0_ns && wall1 > t->wall0_ns)
		t->r.busiest_thread_pct = 100.0 * (double)(cpu1 - t->cpu0_ns) / (double)(wall1 - t->wall0_ns);
	return NULL;
}

static void progress_line(struct lthread *ts, long n, int64_t start, int64_t *last_ns, uint64_t *last)
{
	uint64_t total = 0, errors = 0;
	int64_t now = mono_ns();

	for (long i = 0; i < n; i++) {
		total += __atomic_load_n(&ts[i].completed_all, __ATOMIC_RELAXED);
		for (int k = 0; k < LERR_KINDS; k++)
			errors += __atomic_load_n(&ts[i].r.errors[k], __ATOMIC_RELAXED);
	}
	fprintf(stderr, "muxload: %5.1f s  %10.0f req/s  errors %llu\n", (double)(now - start) / 1e9,
		(double)(total - *last) * 1e9 / (double)(now - *last_ns), (unsigned long long)errors);
	*last = total;
	*last_ns = now;
}

/*
 * --mark-pid: tell the server (muxserver prints its counters on SIGUSR1)
 * that the measured interval starts or ends, so that a script reading them
 * gets the server's work over the same interval, without connecting, warm-up
 * or closing, and without waking itself during the run to ask.
 */
static void mark(const struct shared *sh)
{
	if (sh->cfg->mark_pid && kill((pid_t)sh->cfg->mark_pid, SIGUSR1) == -1)
		fprintf(stderr, "muxload: --mark-pid %ld: %s\n", sh->cfg->mark_pid, strerror(errno));
}

/*
 * Main thread: wait for the end (or --requests), printing progress once a
 * second and closing --hlog's intervals.
 */
static void supervise(struct shared *sh, struct lthread *ts, long n)
{
	int64_t next_progress = sh->start_ns + 1000000000LL, last_ns = sh->start_ns;
	uint64_t last = 0;
	bool marked = false;

	while (!stopping(sh) && mono_ns() < sh->end_ns) {
		struct timespec nap = { 0, 20000000 };
		int64_t now = mono_ns(), due;

		if (!marked && now >= sh->warm_ns) {	/* also at once with --warmup 0 */
			mark(sh);
			marked = true;
		}
		if (marked && now >= hlog_due(sh))
			hlog_tick(sh, ts, n, now < sh->end_ns ? now : sh->end_ns);
		/* Sleep to the warm-up's end or the interval's exactly when nearer than the nap. */
		due = marked ? hlog_due(sh) : sh->warm_ns;
		if (due > now && due - now < nap.tv_nsec)
			nap.tv_nsec = (long)(due - now);
		nanosleep(&nap, NULL);
		if (sh->cfg->progress && mono_ns() >= next_progress) {
			progress_line(ts, n, sh->start_ns, &last_ns, &last);
			next_progress += 1000000000LL;
		}
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	if (marked)
		mark(sh);
}

static void merge(struct load_result *res, struct lthread *ts, long n)
{
	for (long i = 0; i < n; i++) {
		struct load_result *r = &ts[i].r;

		res->requests += r->requests;
		res->bytes += r->bytes;
		res->established += r->established;
		res->failed += r->failed;
		for (int k = 0; k < LERR_KINDS; k++) {
			res->errors[k] += r->errors[k];
			res->errors_total += r->errors[k];
		}
		hist_merge(&res->latency, &r->latency);
		hist_merge(&res->uncorrected, &r->uncorrected);
		hist_merge(&res->connect, &r->connect);
		res->connects += r->connects;
		if (r->busiest_thread_pct > res->busiest_thread_pct)
			res->busiest_thread_pct = r->busiest_thread_pct;
		if (!res->first_error[0] && r->first_error[0])
			memcpy(res->first_error, r->first_error, sizeof(res->first_error));
	}
}

static void start_threads(struct lthread *ts, long n)
{
	for (long i = 0; i < n; i++) {
		/* pthread_create returns its error; it does not set errno. */
		int err = pthread_create(&ts[i].tid, NULL, thread_main, &ts[i]);

		if (err) {
			/* Threads already started sit at a barrier we cannot release: just go. */
			load_fail("cannot start thread %ld: %s", i, strerror(err));
			exit(1);
		}
	}
}

/* The clock starts once every thread has connected: connecting is not measured. */
static void run_threads(struct shared *sh, struct lthread *ts, long n)
{
	const struct load_config *cfg = sh->cfg;

	pthread_barrier_wait(&sh->connected);
	sh->start_ns = mono_ns();
	sh->warm_ns = sh->start_ns + (int64_t)(cfg->warmup_s * 1e9);
	sh->end_ns = cfg->duration_s > 0 ? sh->warm_ns + (int64_t)(cfg->duration_s * 1e9) : INT64_MAX;
	hlog_start(sh);
	pthread_barrier_wait(&sh->go);
	supervise(sh, ts, n);
	for (long i = 0; i < n; i++)
		pthread_join(ts[i].tid, NULL);
}

/* The measured interval ends when --requests was reached, at the --duration's end, or now. */
static int64_t measured_end(const struct shared *sh)
{
	return sh->reached_ns ? sh->reached_ns : (sh->cfg->duration_s > 0 ? sh->end_ns : mono_ns());
}

int load_run(const struct load_config *cfg, struct load_result *res)
{
	struct shared sh = { .cfg = cfg };
	struct lthread *ts;
	long n = cfg->threads;
	int64_t end = 0;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	hist_init(&res->latency);
	hist_init(&res->uncorrected);
	hist_init(&res->connect);
	signal(SIGPIPE, SIG_IGN);
	/*
	 * Open loop sends each request at its intended time, and the corrected
	 * latency counts from that time: the kernel's default 50 us of timer
	 * slack would make sends late and count the lateness as the server's.
	 * Set before the threads start, which inherit it.
	 */
	prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
	if (preflight(cfg, &sh))
		return -1;
	ts = calloc((size_t)n, sizeof(*ts));
	if (!ts) {
		load_fail("out of memory");
		return -1;
	}
	pthread_barrier_init(&sh.connected, NULL, (unsigned)n + 1);
	pthread_barrier_init(&sh.go, NULL, (unsigned)n + 1);
	if (!threads_init(&sh, ts, n))
		goto out;
	if (!hlog_prepare(&sh, ts, n)) {
		load_fail("out of memory");
		goto out;
	}
	start_threads(ts, n);
	run_threads(&sh, ts, n);
	merge(res, ts, n);
	end = measured_end(&sh);
	res->measured_s = end > sh.warm_ns ? (double)(end - sh.warm_ns) / 1e9 : 0;
	rc = 0;
out:
	if (hlog_finish(&sh, ts, n, end))
		res->hlog_failed = true;
	for (long i = 0; i < n; i++)
		thread_free(&ts[i]);
	pthread_barrier_destroy(&sh.connected);
	pthread_barrier_destroy(&sh.go);
	free(ts);
	return rc;
}
