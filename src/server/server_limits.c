/*
 * server_limits.c - what closes connections the peer or the budget will not
 * let finish: --idle-timeout, --send-timeout, --header-timeout and
 * --max-memory.
 */
#include "server_internal.h"

#include <stdio.h>
#include <string.h>

/* Half the shortest of the timeouts set, at most 1 s; 0 when none is. */
double limits_sweep_interval(const struct server_config *cfg)
{
	const double t[] = { cfg->idle_timeout_s, cfg->header_timeout_s, cfg->send_timeout_s };
	double limit = 0;

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i] > 0 && (limit <= 0 || t[i] < limit))
			limit = t[i];
	return limit <= 0 ? 0 : limit < 2 ? limit / 2 : 1;
}

/*
 * A request incomplete for too long (slowloris): the same close a protocol
 * asks for after a final reply (http: 408) — the reply is sent or buffered,
 * the partial request dropped, and conn_close drains input so its FIN does
 * not turn into a reset that destroys the reply.
 */
static void request_timed_out(struct server *s, struct conn *c)
{
	const char *reply = s->cfg->proto->timeout_reply;

	s->st.header_timeouts++;
	c->closing = true;
	c->held = false;
	c->partial_since = 0;
	buf_reset(&c->in);
	if (reply && !conn_send_reply(s, c, reply, strlen(reply))) {
		conn_close(s, c);
		return;
	}
	account(s, c);
	conn_settle(s, c);
}

/*
 * --idle-timeout, --send-timeout and --header-timeout: one sweep over all
 * connections at most twice per timeout, O(n) a few times per second,
 * instead of a timer per connection.
 */
void limits_sweep_timeouts(struct server *s)
{
	const struct server_config *cfg = s->cfg;

	if (!s->next_sweep || s->now < s->next_sweep)
		return;
	for (size_t fd = 0; fd < s->by_fd_cap; fd++) {
		struct conn *c = s->by_fd[fd];

		if (!c)
			continue;
		if (cfg->idle_timeout_s > 0 && s->now - c->last_active >= cfg->idle_timeout_s) {
			conn_close(s, c);
			s->st.idle_closed++;
		} else if (cfg->send_timeout_s > 0 && pending(c) &&
			   s->now - c->out_since >= cfg->send_timeout_s) {
			conn_close(s, c);	/* the peer stopped reading: its output can only pile up */
			s->st.send_timeouts++;
		} else if (cfg->header_timeout_s > 0 && c->partial_since && !c->paused_since && !c->closing &&
			   s->now - c->partial_since >= cfg->header_timeout_s) {
			request_timed_out(s, c);
		}
	}
	s->next_sweep = s->now + limits_sweep_interval(cfg);
}

/*
 * --max-memory: reads stop at the budget, and when the loop turn ends over
 * it the connections holding the most buffer bytes are closed until it is
 * met (as redis's maxmemory-clients does), so one client's backlog never
 * stalls the others. One log line per second of it at most.
 */
/*
 * Drained buffers are kept for reuse (up to KEEP_BUFFER) and so stay
 * charged; over the budget they are given back first, so that no idle
 * connection is closed for memory it does not use.
 */
static void release_empty_buffers(struct server *s)
{
	for (size_t fd = 0; fd < s->by_fd_cap; fd++) {
		struct conn *c = s->by_fd[fd];

		if (!c)
			continue;
		if (c->in.cap && c->in.off == c->in.len)
			buf_free(&c->in);
		if (c->out.cap && !pending(c))
			buf_free(&c->out);
		if (c->sending.cap && !pending(c) && !c->send_armed)	/* uring: no send owns it */
			buf_free(&c->sending);
		account(s, c);
	}
}

void limits_enforce_budget(struct server *s)
{
	char msg[128];

	if (over_budget(s))
		release_empty_buffers(s);
	if (!over_budget(s))
		return;
	if (s->now - s->mem_logged_at >= 1) {
		snprintf(msg, sizeof(msg), "--max-memory %zu reached: closing the connections that hold the most",
			 s->cfg->max_memory);
		print_log(s, msg);
		s->mem_logged_at = s->now;
	}
	while (over_budget(s)) {
		struct conn *big = NULL;

		for (size_t fd = 0; fd < s->by_fd_cap; fd++)
			if (s->by_fd[fd] && (!big || s->by_fd[fd]->charged > big->charged))
				big = s->by_fd[fd];
		if (!big)
			return;
		conn_close(s, big);
		s->st.mem_closed++;
	}
}
