/*
 * load_hlog.c - --hlog: the measured latencies interval by interval, as an
 * HdrHistogram interval log. Each engine thread records into its interval
 * histogram; at every boundary the main thread swaps in a clean one, waits
 * for records already under way on the old one (the writer/reader phaser of
 * HdrHistogram's Recorder, in two counters), adds the threads' intervals and
 * writes one line. Off the hot path unless --hlog is given.
 */
#include "load_engine.h"
#include "clock.h"
#include "hlog.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

struct hlog_run {
	FILE *out;
	int64_t interval_ns;
	int64_t from_ns;           /* the open interval's start */
	int64_t next_ns;           /* its planned end */
	struct hist sum;           /* the threads' intervals, added */
	bool failed;               /* out of memory while encoding */
};

void interval_record(struct lthread *t, int64_t us)
{
	struct hist *h;

	__atomic_add_fetch(&t->rec_begun, 1, __ATOMIC_SEQ_CST);
	h = __atomic_load_n(&t->interval, __ATOMIC_SEQ_CST);
	hist_record(h, us);
	__atomic_store_n(&t->rec_ended, t->rec_ended + 1, __ATOMIC_RELEASE);
}

/*
 * Main thread: install the clean spare and return the old histogram once no
 * record is still writing to it. A record that began before the swap is
 * counted in rec_begun and waited for; one that begins after it loads the
 * new pointer (both sides are sequentially consistent).
 */
static struct hist *interval_take(struct lthread *t)
{
	struct hist *old = t->interval;
	uint64_t begun;

	__atomic_store_n(&t->interval, t->spare, __ATOMIC_SEQ_CST);
	begun = __atomic_load_n(&t->rec_begun, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&t->rec_ended, __ATOMIC_ACQUIRE) < begun)
		sched_yield();
	t->spare = old;
	return old;
}

bool hlog_prepare(struct shared *sh, struct lthread *ts, long n)
{
	if (!sh->cfg->hlog)
		return true;
	sh->hlog = calloc(1, sizeof(*sh->hlog));
	if (!sh->hlog)
		return false;
	sh->hlog->out = sh->cfg->hlog;
	sh->hlog->interval_ns = (int64_t)(sh->cfg->hlog_interval_s * 1e9);
	for (long i = 0; i < n; i++) {
		ts[i].interval = malloc(sizeof(struct hist));
		ts[i].spare = malloc(sizeof(struct hist));
		if (!ts[i].interval || !ts[i].spare)
			return false;
		hist_init(ts[i].interval);
		hist_init(ts[i].spare);
	}
	return true;
}

void hlog_start(struct shared *sh)
{
	struct hlog_run *hl = sh->hlog;
	const struct load_config *cfg = sh->cfg;
	char comment[256];
	/* The wall clock when the measured interval begins: the log's start and base time. */
	double epoch = (double)clock_ns(CLOCK_REALTIME) / 1e9 - (double)(mono_ns() - sh->warm_ns) / 1e9;

	if (!hl)
		return;
	snprintf(comment, sizeof(comment), "muxload latency log: %s port %d, proto %s, %ld connections, "
		 "%s, values in microseconds, Interval_Max in milliseconds", cfg->host, cfg->port,
		 cfg->proto->name, cfg->connections, cfg->rate > 0 ? "open loop, corrected" : "closed loop");
	hlog_write_header(hl->out, epoch, cfg->hlog_interval_s, comment);
	fflush(hl->out);
	hl->from_ns = sh->warm_ns;
	hl->next_ns = sh->warm_ns + hl->interval_ns;
}

int64_t hlog_due(const struct shared *sh)
{
	return sh->hlog ? sh->hlog->next_ns : INT64_MAX;
}

/* Close the open interval at until: every thread's part, added, one line. */
void hlog_tick(struct shared *sh, struct lthread *ts, long n, int64_t until)
{
	struct hlog_run *hl = sh->hlog;

	if (!hl)
		return;
	/*
	 * --requests can be reached a moment before a tick the supervisor had
	 * already begun: the last interval then starts after the end, and is
	 * written (length 0) rather than lose the samples recorded into it.
	 */
	if (until < hl->from_ns)
		until = hl->from_ns;
	hist_init(&hl->sum);
	for (long i = 0; i < n; i++) {
		struct hist *h = interval_take(&ts[i]);

		hist_merge(&hl->sum, h);
		hist_init(h);
	}
	if (hlog_write_interval(hl->out, (double)(hl->from_ns - sh->warm_ns) / 1e9,
				(double)(until - hl->from_ns) / 1e9, &hl->sum))
		hl->failed = true;
	fflush(hl->out);
	hl->from_ns = until;
	while (hl->next_ns <= until)
		hl->next_ns += hl->interval_ns;
}

/* Anything recorded into the open interval (no thread runs any more)? */
static bool hl_has_samples(const struct lthread *ts, long n)
{
	for (long i = 0; i < n; i++)
		if (ts[i].interval && ts[i].interval->total)
			return true;
	return false;
}

int hlog_finish(struct shared *sh, struct lthread *ts, long n, int64_t end)
{
	struct hlog_run *hl = sh->hlog;
	int rc = 0;

	if (hl) {
		if (end > hl->from_ns || hl_has_samples(ts, n))
			hlog_tick(sh, ts, n, end);
		if (hl->failed || ferror(hl->out)) {
			fprintf(stderr, "muxload: --hlog: the log could not be written whole\n");
			rc = -1;
		}
		free(hl);
		sh->hlog = NULL;
	}
	for (long i = 0; i < n; i++) {
		free(ts[i].interval);
		free(ts[i].spare);
	}
	return rc;
}
