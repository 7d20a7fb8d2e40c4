#!/bin/sh
# demo.sh - make demo: the C10K effect in about 20 seconds. The same server,
# at a fixed 2000 requests/s from 16 active connections, with 0 idle
# connections and then with 5000 more held open and silent: the server's CPU
# per request on select, poll and epoll. select and poll look at every
# connection on every wait; epoll hears only of the ready ones. select's
# fd_set ends at fd 1023, so it gets 900 idle connections, not 5000.
# The server runs on core 0, muxload on core 1; one 2-second repetition a
# cell, so the figures are a first look, not a measurement (make bench is).
# Usage: bench/demo.sh   (IDLE=N and RATE=R change the two numbers)
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
idle=${IDLE:-5000} rate=${RATE:-2000}
build_tools build/muxserver build/muxload
bench_prologue
echo "demo: $rate requests/s from 16 connections, beside 0 and then $idle idle ones (select: at most 900)," \
	"server CPU per request; about 20 s" >&2
printf '%-8s %6s %14s %8s\n' backend idle cpu_us_per_req p99_us | tee "$tmp/table"
for b in select poll epoll; do
	for i in 0 "$idle"; do
		n=$i
		[ "$b" != select ] || [ "$n" -le 900 ] || n=900
		start_server "$tmp/server.out" build/muxserver --backend "$b" --port 0
		hold_idle "$tmp/server.out" "$n"
		row=$(measure_rep "$tmp/server.out" 0.5 2 --connections 16 --rate "$rate")
		bench_stop
		printf '%-8s %6s %14s %8s\n' "$b" "$n" "$(measure_get "$row" server_cpu_us_per_req)" \
			"$(measure_get "$row" p99_us)" | tee -a "$tmp/table"
	done
done
# The one line: what idle connections cost each mechanism, each against its own 0-idle figure;
# the moral only when the figures show it (twice poll's cost, epoll's within a half).
awk -v idle="$idle" 'NR > 1 { cpu[$1, $2 > 0] = $3 }
	END {
		p = cpu["poll", 1] / cpu["poll", 0]; s = cpu["select", 1] / cpu["select", 0]
		e = cpu["epoll", 1] / cpu["epoll", 0]
		printf "demo: %d idle connections made poll spend %.1fx its CPU per request (%.1f us against %.1f), " \
			"select %.1fx at only 900, epoll %.1fx", idle, p, cpu["poll", 1], cpu["poll", 0], s, e
		if (p >= 2 && e < 1.5)
			print ": poll and select pay for every connection on every wait, epoll only for the ready ones."
		else
			print ": not the expected effect this time (a noisy machine? run make bench for the measurement)."
	}' "$tmp/table"
