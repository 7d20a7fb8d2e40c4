#!/bin/sh
# sweep.sh - make bench: the C10K sweep. Every backend x idle connections x
# active connections in closed loop; then each backend's server CPU per
# request at one fixed offered rate across the idle counts (the headline:
# what the server alone decides); then the latency-load curves
# (bench/curve.sh) and the peers. One muxserver per backend and idle count,
# its idle connections held from the start, pinned to core 0, muxload on
# core 1 (when there are two); repetitions in rounds over all cells.
# Server CPU and syscalls come from the server's own counters,
# read by SIGUSR1 before and after each repetition.
#
# Usage: bench/sweep.sh [--full] [--smoke] [--out DIR]
#   default  idle {0,1000,5000} x active {1,64}, 64 B
#   --full   adds 100 and 10000 idle and 4 KiB messages, and curves at more idle counts
#   --smoke  one short cell per backend, one repetition (the check run by make test)
# Writes DIR/bench.csv (a row per repetition), bench.json, medians.csv,
# curve.csv, plots (PNG, SVG), README.md.
# Environment: MIN_REPS (3), MAX_REPS (4), SPREAD (0.10): repetitions go on
# past MIN_REPS while a cell's (max - min) / median is over SPREAD; SECS (1.5)
# measured seconds per repetition; RATE (requests/s) sets the fixed rate.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh

idles="0 1000 5000"
actives="1 64"
sizes="64"
secs=1.5
warm=0.5
mode=default
out=""
while [ $# -gt 0 ]; do
	case $1 in
	--full) mode=full; idles="0 100 1000 5000 10000"; sizes="64 4096" ;;
	--smoke) mode=smoke; idles="0"; actives="8"; min_reps=1; max_reps=1; secs=1; warm=0.3 ;;
	--out) out=$2; shift ;;
	*) echo "sweep.sh: unknown argument '$1' (use --full, --smoke, --out DIR)" >&2; exit 2 ;;
	esac
	shift
done
secs=${SECS:-$secs}
host=$(hostname 2>/dev/null || cat /etc/hostname)
[ -n "$out" ] || out="results/$(stamp)-$host"
mkdir -p "$out"

started=$(date +%s)
bench_prologue
build_tools all
export BENCH_BUILT=1	# the scripts below measure these binaries, whatever happens to the tree meanwhile
build/muxload --version | sed 's/^muxload //' > "$out/version.txt"	# report.sh names it
backends=$(backends)
machine_facts

csv="$out/bench.csv"
echo "backend,proto,active,idle,size,rate,rep,$measure_cols,kernel,cpu,cores,commit" > "$csv"

# One server per backend and idle count for the whole sweep, its idle
# connections held from the start: opening 5000 of them costs select and poll
# a scan per accept (seconds), paid once, never inside a measured window.
# $tmp/servers: "backend idle port pid" a line.
servers_start() {
	: > "$tmp/servers"
	for _si in $idles; do for _sb in $backends; do
		echo "sweep.sh: starting $_sb with $_si idle connections" >&2
		start_server "$tmp/server-$_sb-$_si.out" build/muxserver --backend "$_sb" --port 0 --quiet
		hold_idle "$tmp/server-$_sb-$_si.out" "$_si"
		echo "$_sb $_si $port $server_pid" >> "$tmp/servers"
	done; done
}

# use_server BACKEND IDLE: $port, $server_pid and $sout of that server.
use_server() {
	port=$(awk -v b="$1" -v i="$2" '$1 == b && $2 == i { print $3 }' "$tmp/servers")
	server_pid=$(awk -v b="$1" -v i="$2" '$1 == b && $2 == i { print $4 }' "$tmp/servers")
	sout="$tmp/server-$1-$2.out"
	bench_alive "$server_pid" || { echo "sweep.sh: the $1 server with $2 idle connections died:" >&2; cat "$sout.err" >&2; exit 1; }
}

# One repetition of one cell: appends a row to bench.csv.
cell_rep() { # backend active idle size rate
	_rep=$(awk -F, -v k="$1,echo,$2,$3,$4,$5," 'index($0, k) == 1 { n++ } END { print n + 1 }' "$csv")
	_rate=""
	[ "$5" = 0 ] || _rate="--rate $5"
	progress "$1 idle $3 active $2 size $4 $( [ "$5" = 0 ] && echo closed || echo "rate $5") rep $_rep"
	use_server "$1" "$3"
	# shellcheck disable=SC2086
	_row=$(measure_rep "$sout" "$warm" "$secs" --connections "$2" --size "$4" $_rate)
	echo "$1,echo,$2,$3,$4,$5,$_rep,$_row,$kernel,$cpu,$cores,$commit" >> "$csv"
}

# Rounds over every idle count and backend, so that each repetition of a
# cell sits beside one of every other (the machine drifts between minutes):
# every cell min_reps times, then again only the cells whose spread of
# METRIC is still over spread_max, up to max_reps.
rounds() { # active size rate metric
	while :; do
		_any=""
		for _i in $idles; do
			# Assigned first: a failing unsettled must end the script, not look settled.
			_todo=$(unsettled "$csv" "$4" "col(\"active\") == $1 && col(\"idle\") == $_i && col(\"size\") == $2 && col(\"rate\") == $3")
			for _b in $_todo; do
				cell_rep "$_b" "$1" "$_i" "$2" "$3"
				_any=1
			done
		done
		[ -n "$_any" ] || break
	done
}

servers_start
nb=$(echo $backends | wc -w); ni=$(echo $idles | wc -w); na=$(echo $actives | wc -w); ns=$(echo $sizes | wc -w)
progress_start $((nb * ni * (na * ns + 1) * min_reps)) "closed-loop cells, then the fixed-rate cells"
for s in $sizes; do for a in $actives; do
	rounds "$a" "$s" 0 rps
done; done

# The fixed rate: the highest rate, from RATE_CAP down, at which every
# backend, at the most idle connections, keeps its server busy at most half
# the time (CPU per request x rate <= 0.5 s/s), by a 1-second probe per
# backend; each step down aims at 45% busy for the busiest backend, at most
# half the rate before (its CPU per request grows as the rate falls: fewer
# requests share each wake-up). Closed-loop maxima cannot choose it: there
# every wake-up serves many requests, so a select scan is shared among them;
# at a fixed rate it is paid by one or two. RATE_CAP (10000) keeps the client
# far from saturated (one muxload thread is ~40% busy at 10 000/s open loop
# on the 2-core VMs we measured). RATE=n skips the probe.
amax=$(echo $actives | tr ' ' '\n' | sort -n | tail -n 1)
imax=$(echo $idles | tr ' ' '\n' | sort -n | tail -n 1)
pick_rate() {
	_r=${RATE_CAP:-10000}
	while :; do
		_busy=0
		for _b in $backends; do
			use_server "$_b" "$imax"
			_row=$(measure_rep "$sout" 0.3 1 --connections "$amax" --rate "$_r")
			_u=$(awk -v c="$(measure_get "$_row" server_cpu_us_per_req)" -v r="$_r" 'BEGIN { print c * r / 1e6 }')
			# A saturated client would make every server look idle: count it as busy.
			[ "$(measure_get "$_row" client_saturated)" = 0 ] || _u=1
			_busy=$(awk -v b="$_busy" -v u="$_u" 'BEGIN { print (u > b ? u : b) }')
			echo "sweep.sh: probe: $_b at $_r/s with $imax idle: server busy $(awk -v u="$_u" 'BEGIN { printf "%.0f", u * 100 }')%" >&2
		done
		awk -v u="$_busy" 'BEGIN { exit !(u <= 0.5) }' && break
		if [ "$_r" -le 10 ]; then
			echo "sweep.sh: warning: no rate down to 10/s keeps every server half idle; measuring at 10/s" >&2
			break
		fi
		# 2 significant digits, at most half the last rate, aiming at 45% busy.
		_r=$(awk -v r="$_r" -v u="$_busy" 'BEGIN { x = r * 0.45 / u; if (x > r / 2) x = r / 2
			p = 1; while (x >= 100 * p) p *= 10; printf "%d\n", int(x / p) * p }')
	done
	fixed_rate=$_r
}
if [ -n "${RATE:-}" ]; then fixed_rate=$RATE; else pick_rate; fi
echo "sweep.sh: fixed rate for server CPU per request: $fixed_rate requests/s ($amax active)" >&2
rounds "$amax" 64 "$fixed_rate" server_cpu_us_per_req
# Each server's resident memory, with its idle connections still held: rss.csv.
echo "backend,idle,rss_kib,$(echo "kernel,cpu,cores,commit")" > "$out/rss.csv"
while read -r _b _i _p _pid; do
	echo "$_b,$_i,$(awk '/^VmRSS:/ { print $2 }' "/proc/$_pid/status"),$kernel,$cpu,$cores,$commit" >> "$out/rss.csv"
done < "$tmp/servers"
bench_stop

# Medians (and min, max) per cell, in the order of the sweep's keys.
sort_key() { _k=$(csv_index "$csv" "$1"); echo "-k$_k,$_k${2:-}"; }
{
	head -n 1 "$csv"
	tail -n +2 "$csv" | sort -t, "$(sort_key backend)" "$(sort_key active n)" "$(sort_key idle n)" \
		"$(sort_key size n)" "$(sort_key rate n)"
} | awk -F, -v limit="$spread_max" "$awk_csv$awk_median$awk_spread"'
	# A cell is judged by the figure its repetitions were repeated for:
	# requests/s in closed loop, server CPU per request at a fixed rate.
	function flush(    judged) {
		judged = last_rate ? "cpu" : "rps"
		printf "%s,%d,%.0f,%.0f,%.0f,%d,%d,%d,%.3f,%.3f,%.3f,%.3f,%.4f,%d,%d,%.3f,%d\n", last, n,
			median_of(v, "rps", n), lo["rps"], hi["rps"], median_of(v, "p50", n), median_of(v, "p99", n),
			median_of(v, "p999", n), median_of(v, "cpu", n), lo["cpu"], hi["cpu"], median_of(v, "sc", n),
			median_of(v, "wt", n), errs, sat, spread_of(v, judged, n), (spread_of(v, judged, n) > limit)
		n = errs = sat = 0
	}
	function keep(name, x) {
		v[name, n] = x
		if (n == 1 || x + 0 < lo[name]) lo[name] = x + 0
		if (n == 1 || x + 0 > hi[name]) hi[name] = x + 0
	}
	{ k = col("backend") "," col("active") "," col("idle") "," col("size") "," col("rate")
	  if (n && k != last) flush()
	  last = k; last_rate = col("rate") + 0; n++
	  keep("rps", col("rps")); keep("p50", col("p50_us")); keep("p99", col("p99_us")); keep("p999", col("p999_us"))
	  keep("cpu", col("server_cpu_us_per_req")); keep("sc", col("syscalls_per_req")); keep("wt", col("waits_per_req"))
	  errs += col("errors"); sat += col("client_saturated") }
	END { if (n) flush() }' > "$tmp/medians.body"
{
	echo "backend,active,idle,size,rate,reps,rps_median,rps_min,rps_max,p50_us,p99_us,p999_us,server_cpu_us_per_req,cpu_min,cpu_max,syscalls_per_req,waits_per_req,errors,saturated_reps,spread,noisy"
	cat "$tmp/medians.body"
} > "$out/medians.csv"

# bench.json: the parameters, the machine, and every row.
list() { printf '%s' "$1" | tr ' ' ','; }
awk -F, -v mode="$mode" -v reps="$min_reps" -v maxreps="$max_reps" -v spread="$spread_max" -v secs="$secs" \
    -v warm="$warm" -v idles="$(list "$idles")" -v actives="$(list "$actives")" -v sizes="$(list "$sizes")" -v rate="$fixed_rate" \
    -v cs="$cpu_server" -v cc="$cpu_client" '
	NR == 1 { for (i = 1; i <= NF; i++) col[i] = $i; nf = NF
		printf "{\"params\":{\"mode\":\"%s\",\"min_reps\":%d,\"max_reps\":%d,\"spread\":%s,\"duration_s\":%s,\"warmup_s\":%s,", mode, reps, maxreps, spread, secs, warm
		printf "\"idle\":[%s],\"active\":[%s],\"size\":[%s],\"fixed_rate\":%d,", idles, actives, sizes, rate
		printf "\"server_cpu\":%d,\"client_cpu\":%d,\"proto\":\"echo\",\"loop\":\"closed when rate is 0, open at rate\"},\"rows\":[", cs, cc
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
# The curves after the sweep's own summary is written, so that a failure there
# loses none of it; the report again with them.
if [ "$mode" != smoke ]; then
	# shellcheck disable=SC2046
	bench/curve.sh --out "$out" $( [ "$mode" = full ] && echo --full)
	bench/report.sh "$out" "$mode" > "$out/README.md"
fi
# Real peers in the same run, when they are installed (make bench-deps installs them as root).
if [ "$mode" != smoke ]; then
	if command -v wrk >/dev/null && command -v nginx >/dev/null; then
		SECS=3 bench/peers.sh "$out" >&2
	else
		echo "sweep.sh: wrk or nginx not installed: no nginx comparison (apt-get install wrk nginx-light)" >&2
	fi
	if command -v sockperf >/dev/null; then
		bench/peers-sockperf.sh "$out" >&2
	else
		echo "sweep.sh: sockperf not installed: no sockperf comparison (apt-get install sockperf)" >&2
	fi
	# Syscalls per request by strace -c -f, beside each server's own count.
	if command -v strace >/dev/null; then
		bench/syscalls.sh 3 "$out/syscalls.txt" >&2
	else
		echo "sweep.sh: strace not installed: no syscall counts (apt-get install strace)" >&2
	fi
	# Dispatch cost beside libevent and libev, and Kerrisk's table (muxdispatch says which peers it has).
	bench/dispatch.sh "$out" >&2
	bench/models.sh --out "$out" >&2
	echo "took_s=$(( $(date +%s) - started ))" > "$out/run.txt"
	bench/report.sh "$out" "$mode" > "$out/README.md"	# with the syscall counts
fi
echo "sweep.sh: results in $out" >&2
