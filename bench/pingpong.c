/*
 * pingpong.c - the smallest useful closed-loop echo client: one thread, one
 * epoll loop, N connections each with one message in flight. It exists to
 * give the core's syscall counts a fixed load and to be the baseline muxload
 * is compared with. Usage: pingpong PORT CONNS SIZE SECONDS
 * Prints "requests=N seconds=S rps=R errors=E".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"

struct peer {
	int fd;
	size_t got;
};

static int dial(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || connect(fd, (struct sockaddr *)&a, sizeof(a)) == -1) {
		fprintf(stderr, "pingpong: connect to 127.0.0.1:%d: %s\n", port, strerror(errno));
		exit(1);
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int main(int argc, char **argv)
{
	int port, conns, ep;
	size_t size;
	double secs, start, end;
	unsigned long long requests = 0, errors = 0;
	struct peer *peers;
	char msg[65536], buf[65536];
	struct epoll_event ev[256];

	if (argc != 5 || (port = atoi(argv[1])) <= 0 || (conns = atoi(argv[2])) <= 0 ||
	    (size = (size_t)atol(argv[3])) == 0 || size > sizeof(msg) || (secs = atof(argv[4])) <= 0) {
		fprintf(stderr, "usage: pingpong PORT CONNS SIZE(1..65536) SECONDS\n");
		return 2;
	}
	memset(msg, 'm', size);
	peers = calloc((size_t)conns, sizeof(*peers));
	ep = epoll_create1(0);
	for (int i = 0; i < conns; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &peers[i] };

		peers[i].fd = dial(port);
		epoll_ctl(ep, EPOLL_CTL_ADD, peers[i].fd, &e);
		if (write(peers[i].fd, msg, size) != (ssize_t)size)
			errors++;
	}
	start = mono_s();
	end = start + secs;
	while (mono_s() < end) {
		int n = epoll_wait(ep, ev, 256, 100);

		for (int i = 0; i < n; i++) {
			struct peer *p = ev[i].data.ptr;
			ssize_t r = read(p->fd, buf, size - p->got);

			if (r <= 0) {
				errors++;
				epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
				continue;
			}
			p->got += (size_t)r;
			if (p->got < size)
				continue;
			p->got = 0;
			requests++;
			if (write(p->fd, msg, size) != (ssize_t)size)
				errors++;
		}
	}
	printf("requests=%llu seconds=%.3f rps=%.0f errors=%llu\n",
	       requests, mono_s() - start, (double)requests / (mono_s() - start), errors);
	return errors ? 1 : 0;
}
