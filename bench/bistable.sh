#!/bin/sh
# bistable.sh BACKEND ACTIVE "IDLES" REPS - closed-loop cells at several idle
# counts, interleaved, a fresh server per repetition, printing per run the
# requests/s, the server's wait calls and CPU per request. It is how the
# README's "0 idle slower than 100 idle" cell was taken apart: a run where
# waits/request jumps from ~0.05 to ~0.7 is the server sleeping between
# requests and being woken for nearly each one. The server's counters are
# read before and after muxload (connecting included), as they were then.
# Example: bench/bistable.sh epoll 64 "0 100" 3
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
[ $# -eq 4 ] || { echo "usage: bench/bistable.sh BACKEND ACTIVE \"IDLES\" REPS" >&2; exit 2; }
bench_prologue
b=$1 a=$2 idles=$3 reps=$4
for rep in $(seq 1 "$reps"); do for i in $idles; do
	start_server "$tmp/s.out" build/muxserver --backend "$b" --port 0 --quiet
	s0=$(server_snapshot "$tmp/s.out")
	taskset -c "$cpu_client" build/muxload --port "$port" -c "$a" --idle "$i" -d 2 -w 0.5 --json \
		> "$tmp/l.json" 2> "$tmp/l.err" || { cat "$tmp/l.err" >&2; exit 1; }
	s1=$(server_snapshot "$tmp/s.out")
	bench_stop
	awk -v b="$b" -v i="$i" -v rep="$rep" -v rps="$(json_num "$tmp/l.json" throughput_rps)" \
	    -v req="$(($(field "$s1" requests) - $(field "$s0" requests)))" \
	    -v waits="$(($(field "$s1" waits) - $(field "$s0" waits)))" \
	    -v cpu="$(field "$s1" cpu_user_s) $(field "$s1" cpu_sys_s) $(field "$s0" cpu_user_s) $(field "$s0" cpu_sys_s)" \
	    'BEGIN { split(cpu, c, " "); printf "%s idle=%s rep=%s rps=%.0f waits/req=%.3f cpu/req=%.2f us\n",
		b, i, rep, rps, waits / req, (c[1] + c[2] - c[3] - c[4]) * 1e6 / req }'
done; done
