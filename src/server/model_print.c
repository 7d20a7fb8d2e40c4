/*
 * model_print.c - the models' stats and summary lines: a line per worker,
 * then the totals, from the counters the workers keep in shared memory,
 * with the CPU of the parent and of every child, reaped or running.
 */
#include "model.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* A worker's CPU, written as it ends (who: RUSAGE_SELF for a process, RUSAGE_THREAD for a thread). */
void model_slot_exit(struct model_slot *slot, int who)
{
	struct rusage ru;

	if (getrusage(who, &ru) == 0) {
		slot->cpu_user_s = timeval_s(ru.ru_utime);
		slot->cpu_sys_s = timeval_s(ru.ru_stime);
	}
}

/* A worker's counters as one reading: its line and the totals must agree. Workers write them atomically. */
static void snapshot(struct model_slot *to, const struct model_slot *from)
{
	const uint64_t *a = (const uint64_t *)&from->st, *b = (const uint64_t *)&from->m;

	*to = (struct model_slot){ .cpu_user_s = from->cpu_user_s, .cpu_sys_s = from->cpu_sys_s, .pid = from->pid };
	for (size_t i = 0; i < sizeof(to->st) / sizeof(uint64_t); i++)
		((uint64_t *)&to->st)[i] = __atomic_load_n(&a[i], __ATOMIC_RELAXED);
	for (size_t i = 0; i < sizeof(to->m) / sizeof(uint64_t); i++)
		((uint64_t *)&to->m)[i] = __atomic_load_n(&b[i], __ATOMIC_RELAXED);
}

static void add_slot(struct model_slot *sum, const struct model_slot *w)
{
	const uint64_t *from = (const uint64_t *)&w->st;
	uint64_t *to = (uint64_t *)&sum->st;
	uint64_t most = w->st.pending_max > sum->st.pending_max ? w->st.pending_max : sum->st.pending_max;

	/* server_stats is all uint64_t counters: summed, but pending_max is a maximum (mem_max sums the workers' maxima). */
	for (size_t i = 0; i < sizeof(w->st) / sizeof(uint64_t); i++)
		to[i] += from[i];
	sum->st.pending_max = most;
	sum->m.waits += w->m.waits;
	sum->m.events += w->m.events;
	sum->m.scanned += w->m.scanned;
	sum->m.ctl_calls += w->m.ctl_calls;
}

static void print_worker(struct server *s, size_t i, const struct model_slot *w)
{
	print_line(s, STDOUT_FILENO, "worker id=%zu pid=%ld accepted=%llu closed=%llu refused=%llu "
		   "requests=%llu bytes_in=%llu bytes_out=%llu cpu_user_s=%.6f cpu_sys_s=%.6f\n",
		   i, w->pid, (unsigned long long)w->st.accepted, (unsigned long long)w->st.closed,
		   (unsigned long long)w->st.refused, (unsigned long long)w->st.requests,
		   (unsigned long long)w->st.bytes_in, (unsigned long long)w->st.bytes_out,
		   w->cpu_user_s, w->cpu_sys_s);
}

/*
 * RUSAGE_CHILDREN counts children once reaped: a stats line taken while
 * workers (or per-connection children) still run must read theirs from
 * /proc: the children the kernel lists for our main thread, utime and
 * stime of each in clock ticks (fields 14 and 15 of /proc/PID/stat).
 */
static void add_live_children_cpu(double cpu[2])
{
	char path[64], stat[1024];
	double tick = (double)sysconf(_SC_CLK_TCK);
	FILE *list, *f;
	long pid;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/children", (long)getpid());
	if (!(list = fopen(path, "r")))
		return;
	while (fscanf(list, "%ld", &pid) == 1) {
		unsigned long long ut, st;
		const char *p;

		snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
		if (!(f = fopen(path, "r")))
			continue;
		/* After the command's closing ')': state is field 3, utime 14, stime 15. */
		if (fgets(stat, sizeof(stat), f) && (p = strrchr(stat, ')')) &&
		    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
			cpu[0] += (double)ut / tick;
			cpu[1] += (double)st / tick;
		}
		fclose(f);
	}
	fclose(list);
}

/*
 * A line per worker (pools and reactor workers), then the totals: the
 * workers' counters added up, and the CPU of the parent, its reaped
 * children (RUSAGE_CHILDREN) and those still running (/proc); threads are
 * in RUSAGE_SELF.
 */
void model_print(struct server *s, const char *tag)
{
	struct model_slot sum = { 0 };
	struct rusage self, kids;
	double cpu[2];
	long open;

	for (size_t i = 0; i < s->nslots; i++) {
		struct model_slot w;

		snapshot(&w, &s->slots[i]);
		add_slot(&sum, &w);
		if (s->nslots > 1)
			print_worker(s, i, &w);
	}
	sum.st.log_dropped += s->st.log_dropped;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	cpu[0] = timeval_s(self.ru_utime) + timeval_s(kids.ru_utime);
	cpu[1] = timeval_s(self.ru_stime) + timeval_s(kids.ru_stime);
	add_live_children_cpu(cpu);
	open = (long)(sum.st.accepted - sum.st.closed);
	print_counters(s, tag, s->backend_name, open, &sum.st, &sum.m, cpu);
}
