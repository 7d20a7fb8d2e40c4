/*
 * poll_bits.h - poll(2)'s event bits to and from the mux ones. poll(2) and
 * io_uring's poll requests (IORING_OP_POLL_ADD) speak the same bits, so
 * mux_poll.c and mux_uring_poll.c share one translation.
 */
#ifndef POLL_BITS_H
#define POLL_BITS_H

#include "mux.h"

#include <poll.h>

static inline short to_poll_events(unsigned interest)
{
	return (short)((interest & MUX_IN ? POLLIN : 0) | (interest & MUX_OUT ? POLLOUT : 0));
}

/* HUP and ERR imply IN and OUT (see mux.h). */
static inline unsigned from_revents(unsigned re)
{
	unsigned ev = (re & POLLIN ? MUX_IN : 0) | (re & POLLOUT ? MUX_OUT : 0);

	/* POLLNVAL means a closed fd is still registered: a caller bug, shown as an error. */
	if (re & (POLLERR | POLLNVAL))
		ev |= MUX_ERR | MUX_IN | MUX_OUT;
	if (re & POLLHUP)
		ev |= MUX_HUP | MUX_IN | MUX_OUT;
	return ev;
}

#endif
