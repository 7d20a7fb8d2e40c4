#!/bin/sh
# curve.sh - latency-load curves, the wrk2 way, and the sustainable rate.
# Per backend and idle count, open-loop steps at 64 active connections from
# 10% to 115% of the backend's closed-loop maximum there (read from
# DIR/bench.csv when the sweep measured it, else a 1-second probe); latency
# is counted from each request's intended send time (coordinated omission
# corrected). The sustainable rate is the highest offered rate whose p99
# stays under SLO_US with the rate reached (95%) and no errors: the steps
# find the knee, two failing steps in a row (when even the first steps fail,
# halvings find a rate that holds), two bisections between the last rate
# that held and the first that did not narrow it. Each step is CURVE_REPS runs back to back, judged by
# the median of their p99s. One server per (backend, idle count), its idle
# connections held by a muxload of their own.
#
# Usage: bench/curve.sh [--out DIR] [--full]
#   idle counts 0 and 5000 (--full: 0, 1000, 5000 and 10000)
# Environment: SLO_US (1000), CURVE_REPS (3) runs a step, CURVE_SECS (1) a run.
# Writes DIR/curve.csv (a row per run), DIR/sustainable.csv (a row per backend
# and idle count) and the plots curve-idle<N>.png/.svg.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh

idles="0 5000"
out=""
while [ $# -gt 0 ]; do
	case $1 in
	--full) idles="0 1000 5000 10000" ;;
	--out) [ $# -ge 2 ] || { echo "curve.sh: --out needs a directory" >&2; exit 2; }; out=$2; shift ;;
	*) echo "curve.sh: unknown argument '$1' (use --out DIR, --full)" >&2; exit 2 ;;
	esac
	shift
done
[ -n "$out" ] || out="results/curve-$(stamp)"
mkdir -p "$out"
slo=${SLO_US:-1000}
reps=${CURVE_REPS:-3}
secs=${CURVE_SECS:-1}
warm=0.3
active=64
steps="0.10 0.40 0.70 0.85 1.00 1.15"

bench_prologue
backends=$(backends)
machine_facts
csv="$out/curve.csv"
sus="$out/sustainable.csv"
echo "backend,idle,rep,rate,step,$(echo "$measure_cols" | sed 's/^rps,/achieved,/'),kernel,cpu,cores,commit" > "$csv"
echo "backend,idle,slo_us,sustainable_rps,limited_by,closed_max_rps,noisy_steps,floor_p99_us,kernel,cpu,cores,commit" > "$sus"

# closed_max BACKEND IDLE: the median closed-loop requests/s at 64 active
# connections, 64 B, from the sweep's bench.csv; else a 1-second probe on the
# server already running.
closed_max() {
	_m=""
	[ ! -f "$out/bench.csv" ] || _m=$(awk -F, -v b="$1" -v i="$2" -v a="$active" "$awk_csv$awk_median"'
		col("backend") == b && col("idle") == i && col("active") == a && col("size") == 64 && col("rate") == 0 { v[++n] = col("rps") }
		END { if (n) printf "%d\n", median(v, n) }' "$out/bench.csv")
	if [ -z "$_m" ]; then
		_m=$(measure_rep "$tmp/server.out" 0.3 1 --connections "$active") || exit 1
		_m=$(measure_get "$_m" rps)
	fi
	printf '%.0f\n' "$_m"
}

# step BACKEND IDLE RATE LABEL: $reps open-loop runs back to back; appends
# them to curve.csv and succeeds when the median of their p99s held the SLO,
# with the rate reached and no errors in every run. A median, because a
# single stall of the host (milliseconds, on a shared VM) sets the p99 of
# the run it falls in: one run decides nothing. $row keeps the last run's row
# and $client_bound whether muxload was saturated in any of them.
step() {
	progress "$1 idle $2 rate $3 ($4)"
	_p99s=""; _held=1; client_bound=0
	for _q in $(seq 1 "$reps"); do
		# Called as a condition, where set -e is off: a failed run must still end the script.
		row=$(measure_rep "$tmp/server.out" "$warm" "$secs" --connections "$active" --rate "$3" --timeout 5) || exit 1
		echo "$1,$2,$_q,$3,$4,$row,$kernel,$cpu,$cores,$commit" >> "$csv"
		_p99s="$_p99s $(measure_get "$row" p99_us)"
		[ "$(measure_get "$row" client_saturated)" = 0 ] || client_bound=1
		awk -v got="$(measure_get "$row" rps)" -v rate="$3" -v errors="$(measure_get "$row" errors)" \
			'BEGIN { exit !(got >= 0.95 * rate && errors == 0) }' || _held=0
	done
	# shellcheck disable=SC2086
	step_p99=$(printf '%s\n' $_p99s | median)
	[ "$_held" = 1 ] && awk -v m="$step_p99" -v slo="$slo" 'BEGIN { exit !(m <= slo) }'
}

# limited_by: after a step that failed, "client" when muxload's thread was
# saturated in one of its runs (then the rate measures the client and the
# sustainable rate is a lower bound), else "server".
limited_by() {
	[ "$client_bound" = 1 ] && echo client || echo server
}

# One curve: the steps up to the knee, two failures in a row (a step that
# fails with a higher one holding after it was a stall of the host, not the
# knee: it is counted in noisy_steps and the scan goes on), then two
# bisections between the highest rate that held below the knee and the
# knee's first failing step; appends the sustainable rate to sustainable.csv
# with what limited that failing step (the client, when muxload was
# saturated there) and the median p99 of the lowest step (the floor this
# machine gives at 10% load: an SLO near it measures the host's stalls).
curve() { # backend idle
	start_server "$tmp/server.out" build/muxserver --backend "$1" --port 0 --quiet
	hold_idle "$tmp/server.out" "$2"
	_max=$(closed_max "$1" "$2")
	_ok=0; _bad=""; _why=none; _noisy=0; _floor=""
	for _f in $steps; do
		_r=$(awk -v m="$_max" -v f="$_f" 'BEGIN { printf "%d\n", m * f }')
		if step "$1" "$2" "$_r" "$_f"; then
			_ok=$_r
			[ -z "$_bad" ] || _noisy=$((_noisy + 1))
			_bad=""
		elif [ -z "$_bad" ]; then
			_bad=$_r; _why=$(limited_by)
		else
			break	# two failures in a row: the knee
		fi
		[ -n "$_floor" ] || _floor=$step_p99
	done
	# Nothing held (select and poll with thousands of idle connections carry a
	# small fraction of their closed-loop maximum when requests arrive one by
	# one): halve the rate until one holds, then bisect.
	_k=0	# at most 4 halvings: below 1% of the closed-loop maximum, "none held" says enough
	while [ "$_ok" = 0 ] && [ -n "$_bad" ] && [ "$_bad" -gt 20 ] && [ "$_k" -lt 4 ]; do
		_k=$((_k + 1))
		_r=$((_bad / 2))
		if step "$1" "$2" "$_r" "down$_k"; then _ok=$_r; else _bad=$_r; _why=$(limited_by); fi
	done
	for _k in 1 2; do
		[ -n "$_bad" ] || break
		_r=$(((_ok + _bad) / 2))
		if step "$1" "$2" "$_r" "bisect$_k"; then _ok=$_r; else _bad=$_r; fi
	done
	bench_stop
	echo "$1,$2,$slo,$_ok,$_why,$_max,$_noisy,$_floor,$kernel,$cpu,$cores,$commit" >> "$sus"
}

nsteps=$(echo $steps | wc -w)
progress_start $(($(echo $backends | wc -w) * $(echo $idles | wc -w) * (nsteps + 2))) \
	"latency-load curves, $reps runs a step (about; steps past a knee are skipped)"
for i in $idles; do
	for b in $backends; do
		curve "$b" "$i"
	done
done
bench/plot-curve.sh "$out"
echo "curve.sh: $csv, $sus" >&2
