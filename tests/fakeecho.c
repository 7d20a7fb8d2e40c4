/*
 * fakeecho.c - misbehaving echo servers for muxload's tests, one thread per
 * connection, listening on 127.0.0.1 and a port of the kernel's choosing
 * (printed as "port=N" on the first line).
 *   fakeecho corrupt N   echo, but flip one byte in every N-th chunk read
 *   fakeecho delay MS    echo every chunk MS milliseconds after it arrived
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long corrupt_every, delay_ms;

static void *serve(void *arg)
{
	int fd = (int)(long)arg;
	char buf[65536];
	long chunks = 0;
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (corrupt_every && ++chunks % corrupt_every == 0)
			buf[n / 2] ^= 0x20;
		if (delay_ms) {
			struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000 };

			nanosleep(&ts, NULL);
		}
		if (write(fd, buf, (size_t)n) != n)
			break;
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int lfd, one = 1;

	if (argc != 3 || (strcmp(argv[1], "corrupt") && strcmp(argv[1], "delay")) || atol(argv[2]) <= 0) {
		fprintf(stderr, "usage: fakeecho corrupt N | delay MS\n");
		return 2;
	}
	*(strcmp(argv[1], "corrupt") ? &delay_ms : &corrupt_every) = atol(argv[2]);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lfd, (struct sockaddr *)&a, sizeof(a)) || listen(lfd, 128) ||
	    getsockname(lfd, (struct sockaddr *)&a, &len)) {
		perror("fakeecho");
		return 1;
	}
	printf("port=%d\n", ntohs(a.sin_port));
	fflush(stdout);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pthread_t t;

		if (fd == -1)
			continue;
		setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
		if (pthread_create(&t, NULL, serve, (void *)(long)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
}
