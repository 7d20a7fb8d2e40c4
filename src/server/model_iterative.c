/*
 * model_iterative.c - the loop server of the course notes: accept one
 * client, serve it until it leaves, accept the next. One process, one
 * client at a time; the others wait in the listen backlog. With --proto
 * udp, the notes' first server: each datagram answered in turn.
 */
#include "model.h"

#include <sys/socket.h>
#include <unistd.h>

static void serve_one(struct server *s)
{
	/* No SOCK_NONBLOCK: the accepted socket is blocking even though the listener is not. */
	int fd = accept4(s->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd == -1)
		return;	/* gone before we took it, or out of fds: it waits in the backlog */
	SLOT_ADD(&s->slots[0], accepted, 1);
	session_serve(s, &s->slots[0], fd);
	close(fd);
}

/* The copy a udp protocol may upper-case in place is our own read buffer. */
static void answer_here(struct server *s, const char *data, size_t n, const struct sockaddr_storage *from,
			socklen_t len)
{
	datagram_answer(s, &s->slots[0], (char *)data, n, from, len);
}

static void serve_datagrams(struct server *s)
{
	datagrams_drain(s, &s->slots[0], answer_here);
}

/* The client in hand is served in the loop's own turn: nothing else is ever running. */
static long nothing_running(struct server *s)
{
	(void)s;
	return 0;
}

static void nothing_to_cut(struct server *s)
{
	(void)s;
}

static int run(struct server *s)
{
	static const struct model_hooks hooks = {
		.accept = serve_one, .cut = nothing_to_cut, .live = nothing_running,
	};
	/* The stop leaves a UDP socket open (shut, the replies to what is queued would fail): the loop stops reading it. */
	static const struct model_hooks udp = {
		.stop = nothing_to_cut, .accept = serve_datagrams, .cut = nothing_to_cut, .live = nothing_running,
	};

	s->slots[0].pid = getpid();
	s->serves_inline = true;
	/* A TCP listener is shut by the handler itself; a UDP socket's reads never block, nothing to wake. */
	server_stop_in_handler(s->cfg->proto->datagram ? -1 : s->listen_fd, s->cfg->grace_s);
	return model_supervise(s, s->cfg->proto->datagram ? &udp : &hooks);
}

const struct model_ops model_iterative_ops = {
	.name = "iterative",
	.summary = "one process serves one client at a time, the rest wait in the backlog",
	.blocking = true,
	.run = run,
};
