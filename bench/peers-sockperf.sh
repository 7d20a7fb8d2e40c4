#!/bin/sh
# peers-sockperf.sh [OUTDIR] - sockperf ping-pong (TCP, 64 B) against
# sockperf's own server with -F select|poll|epoll and against muxserver
# --proto sockperf with the matching backend, alternating, REPS rounds of
# SECS seconds; server on core 0, client on core 1. Writes
# OUTDIR/sockperf.csv and prints the median p50/p99/p99.9 side by side.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
out=${1:-results/peers-$(stamp)}
reps=${REPS:-3}
secs=${SECS:-5}
bench/need.sh cmd:sockperf:sockperf
make -s build/muxserver
mkdir -p "$out"
bench_prologue

echo "server,backend,rep,p50_us,p99_us,p999_us,avg_us" > "$out/sockperf.csv"
for rep in $(seq 1 "$reps"); do
	# sockperf's server multiplexes with -F s|p|e (select, poll, epoll) and has no
	# edge-triggered mode: a backend without a sockperf namesake has no peer.
	for b in $(backends | grep -xE 'select|poll|epoll'); do
		for server in sockperf muxserver; do
			if [ $server = sockperf ]; then
				port=$(free_port)
				echo "T:127.0.0.1:$port" > "$tmp/feed"
				start_server "$tmp/server.log" --sleep 0.5 sockperf server -f "$tmp/feed" -F "$(echo "$b" | cut -c1)"
			else
				start_server "$tmp/server.log" build/muxserver --backend "$b" --proto sockperf --port 0 -q
			fi
			taskset -c $cpu_client sockperf ping-pong --tcp -i 127.0.0.1 -p "$port" -t "$secs" -m 64 \
				> "$tmp/client.log" 2>&1
			bench_stop
			awk -v s=$server -v b=$b -v rep=$rep '
				/Summary: Latency is/ { avg = $(NF - 1) }
				/percentile 50.000/ { p50 = $NF }
				/percentile 99.000/ { p99 = $NF }
				/percentile 99.900/ { p999 = $NF }
				END { printf "%s,%s,%d,%s,%s,%s,%s\n", s, b, rep, p50, p99, p999, avg }' \
				"$tmp/client.log" >> "$out/sockperf.csv"
		done
	done
done
awk -F, "$awk_csv$awk_median"'
	{ k = col("server") "-" col("backend"); i = ++n[k]
		p50[k, i] = col("p50_us"); p99[k, i] = col("p99_us"); p999[k, i] = col("p999_us")
		if (!seen[k]++) order[++m] = k }
	END {
		printf "%-20s %9s %9s %9s\n", "server-backend", "p50 us", "p99 us", "p99.9 us"
		for (i = 1; i <= m; i++) { k = order[i]
			printf "%-20s %9.3f %9.3f %9.3f\n", k, median_of(p50, k, n[k]), median_of(p99, k, n[k]),
				median_of(p999, k, n[k]) }
	}' "$out/sockperf.csv" | tee "$out/sockperf.txt"
