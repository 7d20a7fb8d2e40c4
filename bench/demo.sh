#!/bin/sh
# demo.sh - a short run of every backend under the same ping-pong load, with
# the server's own counters. Stands in for `make bench` until the sweep lands.
set -eu
cd "$(dirname "$0")/.."
secs=${DEMO_SECONDS:-3}
cpu_server=0; cpu_client=1
[ "$(nproc)" -ge 2 ] || cpu_client=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '%-9s %10s %9s %12s %10s\n' backend rps errors events/wait scanned/wait
for b in select poll epoll epoll-et; do
	taskset -c $cpu_server build/muxserver --backend $b --port 0 --duration $((secs + 1)) > "$tmp/s" 2>&1 &
	while ! port=$(sed -n 's/^port=\([0-9]*\).*/\1/p' "$tmp/s") || [ -z "$port" ]; do sleep 0.1; done
	taskset -c $cpu_client build/pingpong "$port" 100 64 "$secs" > "$tmp/c" || true
	wait
	rps=$(sed -n 's/.*rps=\([0-9]*\).*/\1/p' "$tmp/c")
	err=$(sed -n 's/.*errors=\([0-9]*\).*/\1/p' "$tmp/c")
	sed -n 's/^summary .* waits=\([0-9]*\) events=[0-9]* events_per_wait=\([0-9.]*\) scanned=\([0-9]*\) .*/\1 \2 \3/p' "$tmp/s" |
		{ read -r waits epw scanned; printf '%-9s %10s %9s %12s %10.1f\n' $b "$rps" "$err" "$epw" "$(echo "$scanned $waits" | awk '{print $2 ? $1/$2 : 0}')"; }
done
