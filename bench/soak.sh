#!/bin/sh
# soak.sh [SECONDS] [BACKEND] [OUTDIR] - connection churn at 5000 concurrent
# connections for SECONDS (default 600) on BACKEND (default epoll): muxload
# runs back to back, each opening 5000 connections (50 echoing, 4950 idle),
# holding them CYCLE seconds (default 10) and closing them all. Once per
# cycle (about every 10 s), while the connections are up, the server's RSS,
# open fds and open connections are sampled into OUTDIR/soak.csv (default
# results/soak-<time>). At the end it compares the first minute with the
# last (first and last sample when the run is shorter than two minutes):
# the growth should be ~0. Exit 1 when any muxload run had errors or the
# server died.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
secs=${1:-600}
backend=${2:-epoll}
out=${3:-results/soak-$(stamp)}
conns=${CONNS:-5000}
cycle=${CYCLE:-10}
build_tools build/muxserver build/muxload
mkdir -p "$out"
bench_prologue

start_server "$tmp/server.out" build/muxserver --backend "$backend" --port 0 -q
server=$spid
echo "t_s,rss_kib,fds,open_conns,requests,errors" > "$out/soak.csv"
start=$(date +%s)
errors=0
while [ $(($(date +%s) - start)) -lt "$secs" ]; do
	taskset -c $cpu_client build/muxload --port "$port" --connections 50 --idle $((conns - 50)) \
		--duration "$cycle" --warmup 0 --json > "$tmp/load.json" 2> "$tmp/load.err" &
	lpid=$!
	spid="$server $lpid"
	sleep $((cycle / 2 + 1))
	bench_alive "$server" || { echo "soak.sh: the server died" >&2; exit 1; }
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$server/status")
	fds=$(ls "/proc/$server/fd" | wc -l)
	kill -USR1 "$server"
	sleep 0.2
	open=$(field "$(grep '^stats ' "$tmp/server.out" | tail -n 1)" open)
	wait "$lpid" || true
	spid=$server
	req=$(json_num "$tmp/load.json" requests)
	err=$(json_num "$tmp/load.json" errors)
	[ -n "$req" ] && [ -n "$err" ] || { echo "soak.sh: muxload failed: $(cat "$tmp/load.err")" >&2; exit 1; }
	errors=$((errors + err))
	echo "$(($(date +%s) - start)),$rss,$fds,$open,$req,$err" | tee -a "$out/soak.csv"
done
bench_stop
awk -F, -v secs="$secs" -v backend="$backend" -v conns="$conns" "$awk_csv"'
	{ n++; t[n] = col("t_s"); rss[n] = col("rss_kib"); fds[n] = col("fds") }
	END {
		last = t[n]
		for (i = 1; i <= n; i++) {
			if (t[i] <= 60 || i == 1) { r0 += rss[i]; f0 += fds[i]; k0++ }
			if (t[i] >= last - 60 || i == n) { r1 += rss[i]; f1 += fds[i]; k1++ }
		}
		if (last < 120) { r0 = rss[1]; f0 = fds[1]; k0 = 1; r1 = rss[n]; f1 = fds[n]; k1 = 1 }
		printf "soak: %s, %d s, %d concurrent connections, %d samples\n", backend, secs, conns, n
		printf "  RSS  first %s: %.0f KiB, last %s: %.0f KiB, growth %+.0f KiB\n",
			(last < 120 ? "sample" : "minute"), r0 / k0, (last < 120 ? "sample" : "minute"), r1 / k1, r1 / k1 - r0 / k0
		printf "  fds  first: %.0f, last: %.0f, growth %+.0f\n", f0 / k0, f1 / k1, f1 / k1 - f0 / k0
	}' "$out/soak.csv" | tee "$out/soak.txt"
echo "  muxload errors: $errors" | tee -a "$out/soak.txt"
[ "$errors" -eq 0 ]
