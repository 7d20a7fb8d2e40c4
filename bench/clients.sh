#!/bin/sh
# clients.sh - muxload beside the minimal pingpong client, same server and
# load (muxserver epoll on core 0, client on core 1, 100 connections, 64 B,
# closed loop), alternating, REPS times. Prints one row per run and the
# medians: requests/s and client CPU microseconds per request.
# Usage: bench/clients.sh [SECONDS] [REPS]
set -eu
secs=${1:-5}; reps=${2:-3}
cd "$(dirname "$0")/.."
. bench/lib.sh
build_tools build/muxserver build/muxload build/pingpong
bench_prologue
start_server "$tmp/s" build/muxserver --port 0 -q
# The client's CPU microseconds per request: user + system time in $tmp/t over REQUESTS.
cpu_us_per_req() { awk -v req="$1" '{ printf "%.3f", ($1 + $2) * 1e6 / req }' "$tmp/t"; }
{
echo "client rep rps client_cpu_us_per_req busiest_thread_pct"
for rep in $(seq 1 "$reps"); do
	/usr/bin/time -f '%U %S' -o "$tmp/t" taskset -c $cpu_client build/muxload --port "$port" \
		--connections 100 --duration "$secs" --warmup 0 --json > "$tmp/j" 2>/dev/null || true
	rps=$(json_num "$tmp/j" throughput_rps)
	req=$(json_num "$tmp/j" requests)
	busy=$(json_num_in "$tmp/j" client_cpu busiest_thread_pct)
	echo "muxload $rep $rps $(cpu_us_per_req "$req") $busy"
	/usr/bin/time -f '%U %S' -o "$tmp/t" taskset -c $cpu_client build/pingpong "$port" 100 64 "$secs" > "$tmp/p"
	rps=$(field "$(cat "$tmp/p")" rps)
	req=$(field "$(cat "$tmp/p")" requests)
	echo "pingpong $rep $rps $(cpu_us_per_req "$req") -"
done
} > "$tmp/rows"
cat "$tmp/rows"
for c in muxload pingpong; do
	rps=$(awk -v c=$c "$awk_csv"'col("client") == c { print col("rps") }' "$tmp/rows" | median)
	cpu=$(awk -v c=$c "$awk_csv"'col("client") == c { print col("client_cpu_us_per_req") }' "$tmp/rows" | median)
	echo "median $c: $rps requests/s, $cpu client CPU us/request"
done
