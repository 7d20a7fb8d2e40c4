/*
 * server_print.c - what the server prints after its port line: stats and
 * summary lines on stdout, log lines on stderr.
 */
#include "server_internal.h"

#include <errno.h>
#include <limits.h>
#include <linux/sock_diag.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * One line of output that never blocks the loop: a reader that stops
 * reading (a supervisor that only wanted the port line) must not freeze
 * every client and SIGTERM with it. A line that would block is dropped and
 * counted. For a pipe, POLLOUT means a free page, so a line of at most
 * PIPE_BUF bytes then goes in whole. fd's flags stay as they are: making it
 * O_NONBLOCK would change them for every process sharing it.
 */
void __attribute__((format(printf, 3, 4)))
print_line(struct server *s, int fd, const char *fmt, ...)
{
	char line[PIPE_BUF];
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	ssize_t w = -1;
	va_list ap;
	int len, r;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (len < 0)
		return;
	if ((size_t)len >= sizeof(line))
		len = sizeof(line) - 1;
	while ((r = poll(&p, 1, 0)) == -1 && errno == EINTR)
		;
	if (r == 1 && (p.revents & POLLOUT))
		while ((w = write(fd, line, (size_t)len)) == -1 && errno == EINTR)
			;
	if (w != len)
		s->st.log_dropped++;
}

void print_log(struct server *s, const char *msg)
{
	if (!s->cfg->quiet)
		print_line(s, STDERR_FILENO, "muxserver: %s\n", msg);
}

/*
 * udp: datagrams the kernel dropped for want of receive buffer, read when
 * stats are printed and not per datagram. It is the counter SO_RXQ_OVFL
 * would stamp on each datagram, but that stamp only arrives with the next
 * datagram queued, so drops after the last one would go unseen.
 */
static void refresh_rcv_drops(struct server *s)
{
	uint32_t mem[SK_MEMINFO_VARS];
	socklen_t len = sizeof(mem);

	if (s->cfg->proto->datagram &&
	    getsockopt(s->listen_fd, SOL_SOCKET, SO_MEMINFO, mem, &len) == 0 && len > SK_MEMINFO_DROPS * 4)
		s->st.rcv_drops = mem[SK_MEMINFO_DROPS];
}

/*
 * The stats or summary line of any model: the counters st and m, open
 * connections, CPU seconds (user, system) of everything that served. The
 * single reactor's come from its struct server; the other models' are
 * the sums of their workers' (model.c).
 */
void print_counters(struct server *s, const char *tag, const char *backend, long open,
		    const struct server_stats *st, const struct mux_stats *m, const double cpu[2])
{
	/*
	 * The syscalls of the request path. The readiness loop makes a read, a
	 * write, a wait or a ctl call each; the uring loop's reads and writes are
	 * requests on the ring, and its only calls are the io_uring_enters
	 * (waits, and ctl: extra enters for a full submission queue).
	 */
	bool uring = strcmp(backend, server_uring_name) == 0;	/* also in the parent of uring workers */
	uint64_t syscalls = m->waits + m->ctl_calls + (uring ? 0 : st->reads + st->writes);


	print_line(s, STDOUT_FILENO, "%s backend=%s open=%ld model=%s workers=%u accepted=%llu closed=%llu refused=%llu shed=%llu "
	     "bytes_in=%llu bytes_out=%llu requests=%llu reads=%llu writes=%llu "
	     "resets=%llu paused=%llu pending_max=%llu dels=%llu idle_closed=%llu header_timeouts=%llu "
	     "send_timeouts=%llu mem=%llu mem_max=%llu mem_closed=%llu "
	     "out_events=%llu truncated=%llu send_drops=%llu rcv_drops=%llu log_dropped=%llu "
	     "waits=%llu events=%llu events_per_wait=%.2f scanned=%llu ctl=%llu "
	     "sqes=%llu recv_rearms=%llu enobufs=%llu held=%llu syscalls=%llu "
	     "cpu_user_s=%.6f cpu_sys_s=%.6f\n",
	     tag, backend, open, model_name(s->cfg->model), s->cfg->workers,
	     (unsigned long long)st->accepted, (unsigned long long)st->closed,
	     (unsigned long long)st->refused, (unsigned long long)st->shed,
	     (unsigned long long)st->bytes_in, (unsigned long long)st->bytes_out,
	     (unsigned long long)st->requests, (unsigned long long)st->reads,
	     (unsigned long long)st->writes, (unsigned long long)st->resets,
	     (unsigned long long)st->paused, (unsigned long long)st->pending_max,
	     (unsigned long long)st->dels, (unsigned long long)st->idle_closed,
	     (unsigned long long)st->header_timeouts,
	     (unsigned long long)st->send_timeouts, (unsigned long long)st->mem,
	     (unsigned long long)st->mem_max, (unsigned long long)st->mem_closed,
	     (unsigned long long)st->out_events,
	     (unsigned long long)st->truncated, (unsigned long long)st->send_drops,
	     (unsigned long long)st->rcv_drops, (unsigned long long)st->log_dropped,
	     (unsigned long long)m->waits, (unsigned long long)m->events,
	     m->waits ? (double)m->events / (double)m->waits : 0.0,
	     (unsigned long long)m->scanned, (unsigned long long)m->ctl_calls,
	     (unsigned long long)st->sqes, (unsigned long long)st->recv_rearms,
	     (unsigned long long)st->enobufs, (unsigned long long)st->held, (unsigned long long)syscalls,
	     cpu[0], cpu[1]);
}

double timeval_s(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

void print_stats(struct server *s, const char *tag)
{
	struct rusage ru;
	double cpu[2];

	refresh_rcv_drops(s);
	getrusage(RUSAGE_SELF, &ru);
	cpu[0] = timeval_s(ru.ru_utime);
	cpu[1] = timeval_s(ru.ru_stime);
	print_counters(s, tag, s->backend_name, s->open_conns, &s->st, s->wait_stats, cpu);
}
