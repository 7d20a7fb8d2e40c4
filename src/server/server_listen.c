/*
 * server_listen.c - the listening socket: opened, its TCP clients accepted
 * (and shed when out of fds), or, for udp, its datagrams answered.
 */
#include "server_internal.h"
#include "cli.h"
#include "clock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* When the spare fd cannot be had back, stop accepting for this long. */
#define ACCEPT_PAUSE_MS 100

/*
 * Out of fds: the pending client would sit in the backlog and the
 * level-triggered listener would wake us forever. Give the spare fd back,
 * accept the client and close it at once so it learns (EOF) instead of
 * hanging, then take the spare again. If even that fails, stop listening
 * for a moment. Returns true when a client was shed and more may wait;
 * false when the queue is empty (Linux reports EMFILE before it looks at
 * the queue, so EMFILE alone does not mean anyone is waiting).
 */
static bool shed_one(struct server *s)
{
	int fd = -1;

	if (!s->shedding)
		print_log(s, "out of file descriptors; closing new connections until some are free");
	s->shedding = true;
	if (s->spare_fd != -1) {
		close(s->spare_fd);
		fd = accept(s->listen_fd, NULL, NULL);
		if (fd != -1) {
			close(fd);
			s->st.shed++;
		}
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	if (s->spare_fd == -1 && s->accept_paused_until == 0) {
		if (s->mux)	/* the uring loop's multishot accept already ended with the error */
			mux_del(s->mux, s->listen_fd);
		listener_pause(s);
	}
	return fd != -1;
}

/* Stop accepting for ACCEPT_PAUSE_MS; listener_resume, called every loop turn, starts again. */
void listener_pause(struct server *s)
{
	s->accept_paused_until = mono_s() + ACCEPT_PAUSE_MS / 1000.0;
}

/* Out of fds (the uring loop's accept failed so): shed every client waiting, or pause. */
void listener_shed(struct server *s)
{
	while (shed_one(s))
		;
}

void listener_accept(struct server *s)
{
	while (!s->stopping && s->accept_paused_until == 0) {
		int fd = accept4(s->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
				continue;
			if ((errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) &&
			    shed_one(s))
				continue;
			return;	/* EAGAIN, or nothing we can do now */
		}
		s->shedding = false;
		if (s->cfg->max_conns > 0 && s->open_conns >= s->cfg->max_conns) {
			close(fd);
			s->st.refused++;
			continue;
		}
		conn_open(s, fd);
	}
}

/*
 * UDP: echo every datagram waiting on the socket. MSG_TRUNC makes recvfrom
 * return a datagram's real length, so one longer than the buffer is seen,
 * counted and dropped instead of echoed cut short. Level-triggered backends
 * take at most 256 per wake-up; edge-triggered ones drain to EAGAIN.
 */
void listener_serve_datagrams(struct server *s)
{
	size_t cap = s->cfg->pcfg.dgram_size < READ_CHUNK ? s->cfg->pcfg.dgram_size : READ_CHUNK;

	for (int n = 0; s->mux->ops->edge_triggered || n < 256; n++) {
		struct sockaddr_storage from;
		socklen_t len = sizeof(from);
		struct proto_out o = { .stage = &s->stage, .limit = SIZE_MAX };
		ssize_t r = recvfrom(s->listen_fd, s->scratch, cap, MSG_TRUNC, (struct sockaddr *)&from, &len);

		s->st.reads++;
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return;	/* EAGAIN, or an ICMP error from an earlier sendto: nothing to do */
		}
		s->st.bytes_in += (uint64_t)r;
		if ((size_t)r > cap) {
			s->st.truncated++;
			continue;
		}
		s->cfg->proto->input(NULL, s->scratch, (size_t)r, &o, &s->cfg->pcfg);
		s->st.requests += o.replies;
		s->st.writes++;
		if (sendto(s->listen_fd, o.first, o.first_len, 0, (struct sockaddr *)&from, len) == -1)
			s->st.send_drops++;	/* a full send buffer drops the datagram, as UDP may */
		else
			s->st.bytes_out += o.first_len;
	}
}

void listener_resume(struct server *s)
{
	if (s->accept_paused_until == 0 || mono_s() < s->accept_paused_until)
		return;
	s->accept_paused_until = 0;
	if (s->spare_fd == -1)
		s->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (s->uring) {
		uring_arm_accept(s);
		return;
	}
	/* Never silent: a listener that cannot be re-armed would never accept again. */
	if (mux_add(s->mux, s->listen_fd, listener_interest(s)) < 0) {
		print_log(s, "cannot watch the listener again; retrying shortly");
		listener_pause(s);
	}
}

/* MUX_IN, and with --exclusive one loop woken of those sharing it (reactor workers, --shared-listener). */
unsigned listener_interest(const struct server *s)
{
	return MUX_IN | (s->cfg->exclusive ? MUX_EXCLUSIVE : 0u);
}

/*
 * Bind and listen; -1 after printing one line naming the cause. reuseport:
 * one of --workers N reactors' listeners, which share the port and among
 * which the kernel spreads the connections (SO_REUSEPORT).
 */
int listener_open(const struct server_config *cfg, bool reuseport)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, saved;

	if (!cli_sockaddr(cfg->host, cfg->port, &ss, &len)) {
		/* muxserver checks --host when parsing flags; this guards other callers. */
		fprintf(stderr, "muxserver: --host '%s' is not a numeric IPv4 or IPv6 address\n", cfg->host);
		return -1;
	}
	fd = socket(ss.ss_family, (cfg->proto->datagram ? SOCK_DGRAM : SOCK_STREAM) |
		    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto fail;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		goto fail_close;
	if (cfg->proto->datagram && cfg->rcvbuf > 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &cfg->rcvbuf, sizeof(cfg->rcvbuf));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    (!cfg->proto->datagram && listen(fd, cfg->backlog) == -1))
		goto fail_close;
	return fd;
fail_close:
	saved = errno;
	close(fd);
	errno = saved;
fail:
	fprintf(stderr, "muxserver: cannot listen on %s port %d: %s\n",
		cfg->host, cfg->port, strerror(errno));
	return -1;
}

int listener_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return -1;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}
