#!/bin/sh
# callgrind.sh [OUTDIR] - instructions per request, counted by valgrind's
# callgrind (repeatable where timings are not), for the comparisons the
# README explains with them:
#   http      nginx (1 worker) and muxserver --proto http (epoll), each under
#             callgrind, driven by wrk -t1 -c16 for 5 s: Ir / requests
#   sockperf  sockperf's server and muxserver --proto sockperf (epoll) under
#             callgrind, sockperf ping-pong --tcp -m 64 for 3 s: Ir / messages
#   dispatch  muxdispatch's timed loop (run_until_drained, inclusive) at 1000
#             eventfd sources, 20 000 writes: Ir / event, ours and the peers
# Program totals include start-up, which is small beside the load. Writes
# OUTDIR/callgrind.txt (default results/callgrind-<time>).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
out=${1:-results/callgrind-$(stamp)}
bench/need.sh cmd:valgrind:valgrind cmd:wrk:wrk cmd:nginx:nginx-light cmd:sockperf:sockperf
build_tools build/muxserver build/muxdispatch
mkdir -p "$out"
bench_prologue

total_ir() { # a callgrind output file: its program total
	callgrind_annotate "$1" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(/,/, "", $1); print $1; exit }'
}

# Each line goes to the terminal and to OUTDIR/callgrind.txt. (Not a { ... } | tee:
# the left of a pipe is a subshell, whose servers the traps would not see.)
txt="$out/callgrind.txt"
: > "$txt"
say() { printf '%s\n' "$*" | tee -a "$txt"; }

report() { # label instructions units unit-name
	awk -v l="$1" -v ir="$2" -v n="$3" -v u="$4" \
		'BEGIN { printf "  %-18s %14d Ir  %9d %-9s %8.0f Ir per %s\n", l, ir, n, u, ir / n, u }' | tee -a "$txt"
}

# measure LABEL UNIT CLIENT...: CLIENT (printing how many UNITs it drove) against
# the server start_server just started under callgrind into $tmp/cg.out, then
# the server stopped - callgrind writes its file when the server ends - and
# the instructions per UNIT reported.
measure() {
	_label=$1; _unit=$2; shift 2
	_n=$("$@")
	bench_stop INT
	report "$_label" "$(total_ir "$tmp/cg.out")" "$_n" "$_unit"
	rm -f "$tmp/cg.out"
}
wrk_requests() {
	taskset -c "$cpu_client" wrk -t1 -c16 -d5 "http://127.0.0.1:$port/" | awk '/requests in/ { print $1 }'
}
sockperf_messages() {
	taskset -c "$cpu_client" sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -m 64 -t 3 2>&1 |
		sed -n 's/.*Total Run.*ReceivedMessages=\([0-9]*\).*/\1/p'
}
cg="valgrind --tool=callgrind --callgrind-out-file=$tmp/cg.out"

say "callgrind: instructions per request ($(date -u +%Y-%m-%d), $(valgrind --version))"
say
say "http: wrk -t1 -c16 -d5 against each server under callgrind"
port=$(free_port)
nginx_conf "$tmp/nginx" "$port" "master_process off;"	# one process: the one callgrind watches
# shellcheck disable=SC2086
start_server "$tmp/nginx.out" --sleep 3 $cg nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf"
measure nginx request wrk_requests
# shellcheck disable=SC2086
start_server "$tmp/mux.out" $cg build/muxserver --proto http --port 0 -q
measure "muxserver epoll" request wrk_requests

say
say "sockperf: sockperf ping-pong --tcp -m 64 -t 3 against each server under callgrind"
port=$(free_port)
echo "T:127.0.0.1:$port" > "$tmp/feed"
# shellcheck disable=SC2086
start_server "$tmp/sps.out" --sleep 3 $cg sockperf server -f "$tmp/feed" -F e
measure "sockperf server" message sockperf_messages
# shellcheck disable=SC2086
start_server "$tmp/mux.out" $cg build/muxserver --proto sockperf --port 0 -q
measure "muxserver epoll" message sockperf_messages

say
say "dispatch: muxdispatch --fds 1000 --writes 20000 --repeat 1 --source eventfd, the timed loop"
# muxdispatch --list: NAME LIBRARY MECHANISM
for b in $(build/muxdispatch --list | awk '{ name = $1; mechanism = $3 } mechanism == "epoll" { print name }'); do
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cgd.$b.%p" build/muxdispatch --backend "$b" \
		--fds 1000 --writes 20000 --repeat 1 --source eventfd > "$tmp/d.txt" 2>/dev/null
	loop=$(for f in "$tmp"/cgd."$b".*; do
		callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
			awk '/dispatch.c:run_until_drained/ { gsub(/,/, "", $1); print $1; exit }'
	done | head -1)
	report "$b" "$loop" 20100 event	# 100 seeded tokens + 20 000 writes
done
