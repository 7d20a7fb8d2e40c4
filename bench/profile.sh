#!/bin/sh
# profile.sh BACKEND - a fixed workload (100 active + 1000 idle connections,
# 64 B echo, 10 s measured) with muxserver run twice: under strace -c -f,
# then under perf stat with every syscall-entry tracepoint and the software
# events. Writes results/profile/BACKEND.txt with both outputs and the
# server's own counters, and prints syscalls per request from each source.
# (perf: raw_syscalls:sys_enter for the total, syscalls:sys_enter_<name> per call.)
set -eu
backend=${1:-epoll}
secs=${PROFILE_SECONDS:-10}
cd "$(dirname "$0")/.."
. bench/lib.sh
bench/need.sh cmd:strace:strace cmd:perf:linux-perf
build_tools build/muxserver build/muxload
backends | grep -qx "$backend" || {
	echo "profile.sh: unknown backend '$backend' (valid: $(backends | tr '\n' ' '))" >&2
	exit 2
}
out=results/profile
mkdir -p "$out"
bench_prologue

# run TOOL...: the server under TOOL for the workload, then the client; server summary in $tmp/server.out.
run() {
	start_server "$tmp/server.out" "$@" build/muxserver --backend "$backend" --port 0 --duration $((secs + 4))
	taskset -c $cpu_client build/muxload --port "$port" --connections 100 --idle 1000 \
		--duration "$secs" --warmup 1 > "$tmp/load.txt" 2>&1 || true
	bench_wait
}
requests() { field "$(grep '^summary ' "$tmp/server.out")" requests; }

run strace -c -f -o "$tmp/strace.txt"
strace_req=$(requests)
strace_calls=$(awk '$NF == "total" { print $4 }' "$tmp/strace.txt")
cp "$tmp/server.out" "$tmp/server-strace.out"
cp "$tmp/load.txt" "$tmp/load-strace.txt"

# raw_syscalls:sys_enter counts every syscall with one tracepoint; enabling all
# ~350 syscalls:sys_enter_* tracepoints instead takes minutes on some VMs.
# The named ones give the breakdown.
events=raw_syscalls:sys_enter
for call in read write sendto recvfrom select pselect6 poll ppoll epoll_wait epoll_pwait epoll_ctl io_uring_enter accept4 close; do
	events="$events,syscalls:sys_enter_$call"
done
run perf stat -x, -o "$tmp/perf.csv" -e "$events" -e task-clock,context-switches,cpu-migrations,page-faults --
perf_req=$(requests)
perf_calls=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$tmp/perf.csv")

{
	echo "# muxserver --backend $backend: 100 active + 1000 idle connections, 64 B echo, ${secs} s"
	echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(uname -r), $(nproc) cores, commit $(git rev-parse --short HEAD 2>/dev/null)"
	echo "# command: make profile BACKEND=$backend"
	echo
	awk -v a="$strace_calls" -v ra="$strace_req" -v b="$perf_calls" -v rb="$perf_req" 'BEGIN {
		x = a / ra; y = b / rb
		printf "syscalls per request: strace %.3f (%d calls / %d requests), perf %.3f (%d / %d); differ by %.1f%%\n",
			x, a, ra, y, b, rb, 100 * (x > y ? x - y : y - x) / y }'
	echo
	echo "## strace -c -f (server under strace)"
	cat "$tmp/strace.txt"
	echo
	echo "## server counters (strace run)"
	grep -E '^(summary|muxserver)' "$tmp/server-strace.out"
	echo
	echo "## muxload (strace run)"
	cat "$tmp/load-strace.txt"
	echo
	echo "## perf stat: all syscalls (raw_syscalls:sys_enter), the named ones, software events (count, event)"
	awk -F, '$1 ~ /^[0-9.]+$/ && $1 + 0 > 0 { printf "%14s  %s\n", $1, $3 }' "$tmp/perf.csv" | sort -rn
	echo
	echo "## server counters (perf run)"
	grep -E '^(summary|muxserver)' "$tmp/server.out"
	echo
	echo "## muxload (perf run)"
	cat "$tmp/load.txt"
} > "$out/$backend.txt"
sed -n 5p "$out/$backend.txt"
echo "profile.sh: wrote $out/$backend.txt"
