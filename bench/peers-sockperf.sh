#!/bin/sh
# peers-sockperf.sh [OUTDIR] - sockperf ping-pong (TCP, 64 B) against
# sockperf's own server with -F select|poll|epoll and against muxserver
# --proto sockperf with the matching backend, alternating, REPS (6) rounds
# of SECS (2) seconds; server on core 0, client on core 1. Writes
# OUTDIR/sockperf.csv and sockperf.txt: the median p50/p99/p99.9 side by
# side, and per backend the p50 ratio paired by round with a verdict.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
out=${1:-results/peers-$(stamp)}
reps=${REPS:-6}
secs=${SECS:-2}
bench/need.sh cmd:sockperf:sockperf
build_tools build/muxserver
mkdir -p "$out"
bench_prologue

echo "server,backend,rep,p50_us,p99_us,p999_us,avg_us" > "$out/sockperf.csv"
for rep in $(seq 1 "$reps"); do
	# sockperf's server multiplexes with -F s|p|e (select, poll, epoll) and has no
	# edge-triggered mode: a backend without a sockperf namesake has no peer.
	for b in $(backends | grep -xE 'select|poll|epoll'); do
		# Odd rounds sockperf first, even rounds muxserver first: an order
		# effect must not pass for a difference in every round.
		order="sockperf muxserver"
		[ $((rep % 2)) = 1 ] || order="muxserver sockperf"
		for server in $order; do
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
# The comparison is paired: in each round the two servers ran one after the
# other, so their ratio in that round shares the machine's state of the
# moment. Verdict from the rounds' ratios: "differs" only when every round
# agrees on the side of 1.0 (a sign test: 6 rounds give p = 0.03); rounds
# whose ratios spread over more than 10% cannot resolve a 5% difference.
awk -F, "$awk_csv$awk_median"'
	{ k = col("server") "-" col("backend"); i = ++n[k]
		p50[k, i] = col("p50_us"); p99[k, i] = col("p99_us"); p999[k, i] = col("p999_us")
		if (!seen[k]++) order[++m] = k
		if (!seenb[col("backend")]++) bk[++nb] = col("backend") }
	END {
		printf "%-20s %9s %9s %9s\n", "server-backend", "p50 us", "p99 us", "p99.9 us"
		for (i = 1; i <= m; i++) { k = order[i]
			printf "%-20s %9.3f %9.3f %9.3f\n", k, median_of(p50, k, n[k]), median_of(p99, k, n[k]),
				median_of(p999, k, n[k]) }
		printf "\np50 muxserver / sockperf, paired by round (%d rounds):\n", n["muxserver-" bk[1]]
		for (j = 1; j <= nb; j++) {
			b = bk[j]; r = n["muxserver-" b]; lo = hi = 0
			for (x = 1; x <= r; x++) {
				q[b, x] = p50["muxserver-" b, x] / p50["sockperf-" b, x]
				if (x == 1 || q[b, x] < lo) lo = q[b, x]; if (x == 1 || q[b, x] > hi) hi = q[b, x]
			}
			med = median_of(q, b, r)
			verdict = lo > 1 ? "muxserver slower in every round" : hi < 1 ? "muxserver faster in every round" : "no difference shown: the rounds disagree"
			if (hi - lo > 0.10 * med) verdict = verdict "; these rounds cannot resolve a 5% difference"
			printf "  %-9s %.3f [%.3f-%.3f]  %s\n", b, med, lo, hi, verdict
		}
	}' "$out/sockperf.csv" | tee "$out/sockperf.txt"
