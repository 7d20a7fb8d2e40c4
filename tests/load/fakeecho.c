/*
 * fakeecho.c - misbehaving echo servers for muxload's tests, one thread per
 * connection, listening on 127.0.0.1 and a port of the kernel's choosing
 * (printed as "port=N" on the first line).
 *   fakeecho corrupt N   echo, but flip one byte in every N-th chunk read
 *   fakeecho delay MS    echo every chunk MS milliseconds after it arrived
 *   fakeecho udp-drop N  udp echo that drops every N-th datagram
 *   fakeecho udp-swap N  udp echo that holds every N-th datagram back until after the
 *                        next one from the same client (so the swap is visible on its
 *                        own connection, whatever the other clients send meanwhile)
 *   fakeecho udp-dup N   udp echo that sends every N-th datagram twice
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
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

static int bound_socket(int type, struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, type, 0), one = 1;

	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)a, sizeof(*a)) || getsockname(fd, (struct sockaddr *)a, &len) ||
	    (type == SOCK_STREAM && listen(fd, 128))) {
		perror("fakeecho");
		exit(1);
	}
	printf("port=%d\n", ntohs(a->sin_port));
	fflush(stdout);
	return fd;
}

static bool same_peer(const struct sockaddr_in *a, const struct sockaddr_in *b)
{
	return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
}

/* Datagram echo that misbehaves on every n-th datagram in the way `mode` says. */
static void udp_faults(const char *mode, long n) __attribute__((noreturn));

static void udp_faults(const char *mode, long n)
{
	struct sockaddr_in a = { 0 }, from, held_from;
	char buf[65536], held[65536];
	ssize_t held_len = -1;
	int fd = bound_socket(SOCK_DGRAM, &a);

	for (long count = 1;; count++) {
		socklen_t len = sizeof(from);
		ssize_t r = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &len);
		bool faulty = count % n == 0;

		if (r < 0)
			continue;
		if (faulty && strcmp(mode, "udp-drop") == 0)
			continue;
		if (faulty && strcmp(mode, "udp-swap") == 0 && held_len < 0) {
			memcpy(held, buf, (size_t)r);
			held_len = r;
			held_from = from;
			continue;
		}
		sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, len);
		if (faulty && strcmp(mode, "udp-dup") == 0)
			sendto(fd, buf, (size_t)r, 0, (struct sockaddr *)&from, len);
		if (held_len >= 0 && same_peer(&from, &held_from)) {
			sendto(fd, held, (size_t)held_len, 0, (struct sockaddr *)&held_from, sizeof(held_from));
			held_len = -1;
		}
	}
}

int main(int argc, char **argv)
{
	static const char *const modes[] = { "corrupt", "delay", "udp-drop", "udp-swap", "udp-dup" };
	struct sockaddr_in a = { 0 };
	int lfd, one = 1;
	bool known = false;

	for (size_t i = 0; argc == 3 && i < sizeof(modes) / sizeof(modes[0]); i++)
		known |= strcmp(argv[1], modes[i]) == 0;
	if (!known || atol(argv[2]) <= 0) {
		fprintf(stderr, "usage: fakeecho corrupt N | delay MS | udp-drop N | udp-swap N | udp-dup N\n");
		return 2;
	}
	if (strncmp(argv[1], "udp-", 4) == 0)
		udp_faults(argv[1], atol(argv[2]));
	*(strcmp(argv[1], "corrupt") ? &delay_ms : &corrupt_every) = atol(argv[2]);
	lfd = bound_socket(SOCK_STREAM, &a);
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
