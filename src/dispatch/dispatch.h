/*
 * dispatch.h - muxdispatch's measurement: the classic dispatch benchmark
 * (libevent's test/bench.c, and libev's author's rerun of it). N socketpairs
 * are registered for reading; A bytes are in flight at once; whenever a pair
 * becomes readable its callback reads one byte and, while writes remain,
 * writes one into the next pair. The cost per event is the loop's time
 * divided by the bytes read.
 *
 * A driver is one event mechanism behind one library (ours, libevent,
 * libev). The bench only asks it to register every read end, to run one
 * non-blocking round of its loop (calling dispatch_readable for each ready
 * pair), and to let go again. Drivers are listed at run time by their
 * libraries: ours from the backend registry (mux_backends), so a backend
 * added there is measured with no edit here.
 */
#ifndef DISPATCH_H
#define DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * What a registered fd is. socketpair: bench.c's, one byte per token, two
 * fds per source. eventfd (EFD_SEMAPHORE): one fd per source, each read
 * takes exactly one token, for machines whose fd limit cannot hold two fds
 * per source at the sizes asked for.
 */
enum dispatch_source { SOURCE_SOCKETPAIR, SOURCE_EVENTFD };

struct dispatch_world {
	enum dispatch_source source;
	size_t unit;            /* bytes per token: 1, or eventfd's 8 */
	int pairs;              /* registered read ends (the "fds" of the plots) */
	int *rd, *wr;           /* read and write end of each source (the same fd for eventfd) */
	long writes_left;       /* writes the callbacks may still make */
	uint64_t fired;         /* bytes written so far */
	uint64_t count;         /* bytes read so far: events dispatched */
	uint32_t *sent, *got;   /* per pair: bytes written to it and read from it */
};

/* What a driver can count of its own work; zero where it cannot. */
struct dispatch_counters {
	uint64_t waits, scanned;
};

struct dispatch_driver;
struct dispatch_list;

/* One event library as muxdispatch drives it, the same shape for ours and the peers. */
struct dispatch_library {
	const char *name;       /* muxlab, libevent, libev */
	/* Append a driver per mechanism it offers; false when the list is full. */
	bool (*list)(struct dispatch_list *l);
	/* Register every read end. NULL after setting *why (one phrase) when it cannot. */
	void *(*setup)(const struct dispatch_driver *d, struct dispatch_world *w, const char **why);
	/* One non-blocking round of the loop; false on a failure of the mechanism. */
	bool (*round)(void *ctx);
	void (*counters)(void *ctx, struct dispatch_counters *out);
	void (*teardown)(void *ctx);
};

/* One mechanism behind one library: a --backend value, a row of the tables. */
struct dispatch_driver {
	char name[32];
	const char *mechanism;  /* select, poll or epoll: what it is compared against */
	const struct dispatch_library *lib;
	/* The library's handle on the mechanism: a struct mux_ops *, libevent's method, libev's flag. */
	const void *choice;
};

#define DISPATCH_MAX_DRIVERS 32

struct dispatch_list {
	int n;
	struct dispatch_driver d[DISPATCH_MAX_DRIVERS];
};

/* Append lib's driver named name, or "<library>-<mechanism>" when NULL; false when full or too long. */
bool dispatch_list_add(struct dispatch_list *l, const struct dispatch_library *lib, const char *name,
		       const char *mechanism, const void *choice);

/* A pair is readable: read a byte (all of them, edge-triggered), pass one on per byte while writes last. */
void dispatch_readable(struct dispatch_world *w, int idx, bool drain);

/* The peers are linked in when the build found their libraries (HAVE_LIBEVENT, HAVE_LIBEV). */
extern const struct dispatch_library dispatch_muxlab, dispatch_libevent, dispatch_libev;

#endif
