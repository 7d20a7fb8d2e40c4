#!/bin/sh
# sweep.sh - the C10K sweep: every backend x idle connections x active
# connections, a fresh muxserver per cell, REPS repetitions of muxload.
# Server pinned to core 0, load generator to core 1 (when there are two).
# Server CPU and syscalls come from the server's own counters, read by
# SIGUSR1 before and after each repetition.
#
# Usage: bench/sweep.sh [--full] [--smoke] [--out DIR]
#   default  idle {0,100,1000,5000} x active {1,64}, 64 B, closed loop, 3 reps
#   --full   adds 10000 idle, 4 KiB messages and open-loop rate steps
#   --smoke  one short cell per backend (the check run by make test)
# Writes DIR/bench.csv, bench.json, medians.csv, plots (PNG, SVG), README.md.
# REPS=n and SECS=s in the environment override repetitions and measured seconds.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh

idles="0 100 1000 5000"
actives="1 64"
sizes="64"
rates="0"
reps=3
secs=2
warm=0.5
mode=default
out=""
while [ $# -gt 0 ]; do
	case $1 in
	--full) mode=full; idles="$idles 10000"; sizes="64 4096"; rates="0 20000 50000" ;;
	--smoke) mode=smoke; idles="0"; actives="8"; reps=1; secs=1; warm=0.3 ;;
	--out) out=$2; shift ;;
	*) echo "sweep.sh: unknown argument '$1' (use --full, --smoke, --out DIR)" >&2; exit 2 ;;
	esac
	shift
done
reps=${REPS:-$reps}
secs=${SECS:-$secs}
host=$(hostname 2>/dev/null || cat /etc/hostname)
[ -n "$out" ] || out="results/$(stamp)-$host"
mkdir -p "$out"

bench_prologue
backends=$(backends)
cores=$(nproc)
kernel=$(uname -r)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr ',' ' ')
[ -n "$cpu" ] || cpu=$(uname -m)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit-dirty"

csv="$out/bench.csv"
load="$tmp/load.json"
echo "backend,proto,active,idle,size,rate,rep,rps,p50_us,p99_us,p999_us,server_cpu_us_per_req,syscalls_per_req,waits_per_req,scanned_per_wait,events_per_wait,errors,client_saturated,kernel,cpu,cores,commit" > "$csv"

# The server's newest "stats" line, after asking for a fresh one.
snapshot() {
	n=$(grep -c '^stats ' "$tmp/server.out" || true)
	kill -USR1 "$spid"
	while [ "$(grep -c '^stats ' "$tmp/server.out" || true)" -le "$n" ]; do sleep 0.02; done
	grep '^stats ' "$tmp/server.out" | tail -n 1
}

# One repetition: muxload, then the server's counter deltas; appends a CSV row.
run_rep() { # backend active idle size rate rep
	before=$(snapshot)
	rate_flag=""
	[ "$5" = 0 ] || rate_flag="--rate $5"
	# shellcheck disable=SC2086
	taskset -c $cpu_client build/muxload --port "$port" --connections "$2" --idle "$3" \
		--size "$4" $rate_flag --duration "$secs" --warmup "$warm" --json \
		> "$load" 2> "$tmp/load.err" || true
	after=$(snapshot)
	if ! grep -q throughput_rps "$load"; then
		echo "sweep.sh: muxload failed in $1 active=$2 idle=$3: $(head -n 1 "$tmp/load.err")" >&2
		exit 1
	fi
	awk -v b="$1" -v a="$2" -v i="$3" -v s="$4" -v r="$5" -v rep="$6" \
	    -v rps="$(json_num "$load" throughput_rps)" -v p50="$(json_num_in "$load" latency_us p50)" \
	    -v p99="$(json_num_in "$load" latency_us p99)" -v p999="$(json_num_in "$load" latency_us p99_9)" \
	    -v err="$(json_num "$load" errors)" -v sat="$(json_num "$load" saturated)" \
	    -v req="$(($(field "$after" requests) - $(field "$before" requests)))" \
	    -v cpu0="$(field "$before" cpu_user_s) $(field "$before" cpu_sys_s)" \
	    -v cpu1="$(field "$after" cpu_user_s) $(field "$after" cpu_sys_s)" \
	    -v sys="$(($(field "$after" reads) + $(field "$after" writes) + $(field "$after" waits) + $(field "$after" ctl) \
		- $(field "$before" reads) - $(field "$before" writes) - $(field "$before" waits) - $(field "$before" ctl)))" \
	    -v waits="$(($(field "$after" waits) - $(field "$before" waits)))" \
	    -v scanned="$(($(field "$after" scanned) - $(field "$before" scanned)))" \
	    -v events="$(($(field "$after" events) - $(field "$before" events)))" \
	    -v kernel="$kernel" -v cpu="$cpu" -v cores="$cores" -v commit="$commit" 'BEGIN {
		split(cpu0, c0, " "); split(cpu1, c1, " ")
		us = (c1[1] + c1[2] - c0[1] - c0[2]) * 1e6
		q = req > 0 ? req : 1; w = waits > 0 ? waits : 1
		printf "%s,echo,%d,%d,%d,%s,%d,%.1f,%d,%d,%d,%.3f,%.3f,%.4f,%.1f,%.2f,%d,%d,%s,%s,%d,%s\n",
			b, a, i, s, r, rep, rps, p50, p99, p999, us / q, sys / q, waits / q,
			scanned / w, events / w, err, sat == "true", kernel, cpu, cores, commit
	}' >> "$csv"
}

ncells=0
for s in $sizes; do for r in $rates; do for a in $actives; do for i in $idles; do for b in $backends; do
	[ "$r" = 0 ] || [ "$a" -ge 64 ] || continue
	ncells=$((ncells + 1))
done; done; done; done; done

cell=0
t0=$(date +%s)
for s in $sizes; do for r in $rates; do for a in $actives; do for i in $idles; do for b in $backends; do
	# Open-loop steps only at 64 active connections: one connection cannot carry 50k/s.
	[ "$r" = 0 ] || [ "$a" -ge 64 ] || continue
	cell=$((cell + 1))
	now=$(date +%s)
	eta=0
	[ $cell -le 1 ] || eta=$(( (now - t0) * (ncells - cell + 1) / (cell - 1) ))
	printf '[%d/%d] %-8s idle %-5d active %-3d size %-4d rate %-6s ETA %02d:%02d\n' \
		$cell $ncells $b $i $a $s "$r" $((eta / 60)) $((eta % 60)) >&2
	start_server "$tmp/server.out" build/muxserver --backend "$b" --port 0 --quiet
	for rep in $(seq 1 $reps); do
		run_rep $b $a $i $s $r $rep
	done
	bench_stop
done; done; done; done; done

# Medians (and min, max) per cell, in the order of the sweep's keys.
sort_key() { _k=$(csv_index "$csv" "$1"); echo "-k$_k,$_k${2:-}"; }
{
	head -n 1 "$csv"
	tail -n +2 "$csv" | sort -t, "$(sort_key backend)" "$(sort_key active n)" "$(sort_key idle n)" \
		"$(sort_key size n)" "$(sort_key rate n)"
} | awk -F, "$awk_csv$awk_median"'
	function flush(    lo, hi, k) {
		lo = hi = rps[1]
		for (k = 2; k <= n; k++) { if (rps[k] + 0 < lo + 0) lo = rps[k]; if (rps[k] + 0 > hi + 0) hi = rps[k] }
		printf "%s,%d,%.0f,%.0f,%.0f,%d,%d,%.3f,%.3f,%.4f,%d,%d\n", last, n, median(rps, n), lo, hi,
			median(p50, n), median(p99, n), median(cpu, n), median(sc, n), median(wt, n), errs, sat
		n = errs = sat = 0
	}
	{ k = col("backend") "," col("active") "," col("idle") "," col("size") "," col("rate")
	  if (n && k != last) flush()
	  last = k; n++
	  rps[n] = col("rps"); p50[n] = col("p50_us"); p99[n] = col("p99_us"); cpu[n] = col("server_cpu_us_per_req")
	  sc[n] = col("syscalls_per_req"); wt[n] = col("waits_per_req")
	  errs += col("errors"); sat += col("client_saturated") }
	END { if (n) flush() }' > "$tmp/medians.body"
{
	echo "backend,active,idle,size,rate,reps,rps_median,rps_min,rps_max,p50_us,p99_us,server_cpu_us_per_req,syscalls_per_req,waits_per_req,errors,saturated_reps"
	cat "$tmp/medians.body"
} > "$out/medians.csv"

# bench.json: the parameters, the machine, and every row.
list() { printf '%s' "$1" | tr ' ' ','; }
awk -F, -v mode="$mode" -v reps="$reps" -v secs="$secs" -v warm="$warm" -v idles="$(list "$idles")" \
    -v actives="$(list "$actives")" -v sizes="$(list "$sizes")" -v rates="$(list "$rates")" \
    -v cs="$cpu_server" -v cc="$cpu_client" '
	NR == 1 { for (i = 1; i <= NF; i++) col[i] = $i; nf = NF
		printf "{\"params\":{\"mode\":\"%s\",\"reps\":%d,\"duration_s\":%s,\"warmup_s\":%s,", mode, reps, secs, warm
		printf "\"idle\":[%s],\"active\":[%s],\"size\":[%s],\"rate\":[%s],", idles, actives, sizes, rates
		printf "\"server_cpu\":%d,\"client_cpu\":%d,\"proto\":\"echo\",\"loop\":\"closed unless rate > 0\"},\"rows\":[", cs, cc
		next }
	{ printf "%s{", (NR > 2 ? "," : "")
	  for (i = 1; i <= nf; i++) {
		v = $i
		if (col[i] !~ /^(backend|proto|kernel|cpu|commit)$/) printf "%s\"%s\":%s", (i > 1 ? "," : ""), col[i], v
		else { gsub(/"/, "", v); printf "%s\"%s\":\"%s\"", (i > 1 ? "," : ""), col[i], v }
	  }
	  printf "}" }
	END { print "]}" }' "$csv" > "$out/bench.json"

bench/plot.sh "$out"
bench/report.sh "$out" "$mode" > "$out/README.md"
# Real peers in the same run, when they are installed (make bench-deps installs them as root).
if [ "$mode" != smoke ]; then
	if command -v wrk >/dev/null && command -v nginx >/dev/null; then
		SECS=3 bench/peers.sh "$out" >&2
	else
		echo "sweep.sh: wrk or nginx not installed: no nginx comparison (apt-get install wrk nginx-light)" >&2
	fi
	if command -v sockperf >/dev/null; then
		SECS=3 bench/peers-sockperf.sh "$out" >&2
	else
		echo "sweep.sh: sockperf not installed: no sockperf comparison (apt-get install sockperf)" >&2
	fi
	# Dispatch cost beside libevent and libev, and Kerrisk's table (muxdispatch says which peers it has).
	bench/dispatch.sh "$out" >&2
fi
echo "sweep.sh: results in $out" >&2
