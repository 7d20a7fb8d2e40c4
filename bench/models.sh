#!/bin/sh
# models.sh - the server models side by side (muxserver --model), part of
# make bench. Three tables, each a CSV in OUT:
#  models-stevens.csv  Stevens' chapter-30 shape on today's kernel: CONNS
#                      (5000) connections, one request of 4000 bytes each
#                      (muxload --reconnect, 4 clients at once), against every
#                      model: wall time, the server's CPU (user + system,
#                      parent + children) and CPU per connection.
#  models-idle.csv     64 active clients (closed loop) with 0, 1000 and 5000
#                      idle ones held open: requests/s, p99, CPU per request
#                      (core 0's busy time: see core_measure), and memory: PSS of every server process
#                      (smaps_rollup, threads' stacks included), and its rise
#                      per idle connection. Iterative serves one client, and
#                      a pool of 64 is all taken by 64 clients: those cells are
#                      rows that say so, not figures.
#  models-workers.csv  reactor, prefork and prethread with --workers 1 and 2
#                      (the reactor also with --shared-listener, with plain
#                      wake-ups and with --exclusive): requests/s
#                      and CPU per request at 64 active, and the workers'
#                      spread of connections (max/min accepted). On a 2-core
#                      machine server and client then share the cores: the
#                      spread is the figure, the rates are not a scaling test.
# Loops read here-documents, not pipes: a pipe's loop runs in a subshell and
# would lose progress's count. Repetitions interleave the models; medians and spreads are computed by report.sh.
# Usage: bench/models.sh [--out DIR]
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
out=""
[ "${1:-}" != --out ] || out=$2
host=$(hostname -s 2>/dev/null || hostname)
[ -n "$out" ] || out="results/$(stamp)-$host"
mkdir -p "$out"
build_tools build/muxserver build/muxload
bench_prologue
conns=${CONNS:-5000}
reps=${REPS:-3}
machine_facts
machine="$kernel,$cpu,$cores,$commit"
machine_cols="kernel,cpu,cores,commit"

# The variants measured: a name, then muxserver's flags.
stevens_models="reactor:--model:reactor
reactor-2:--model:reactor:--workers:2
iterative:--model:iterative
fork:--model:fork
thread:--model:thread
prefork-8:--model:prefork:--workers:8
prefork-8-flock:--model:prefork:--workers:8:--accept-lock:flock
prefork-8-mutex:--model:prefork:--workers:8:--accept-lock:mutex
prethread-8:--model:prethread:--workers:8
prethread-8-mutex:--model:prethread:--workers:8:--accept-lock:mutex
prethread-8-main:--model:prethread:--workers:8:--accept-lock:main"

flags_of() { printf '%s\n' "$1" | cut -d: -f2- | tr ':' ' '; }
name_of() { printf '%s\n' "$1" | cut -d: -f1; }

# summary_cpu OUT: user + system seconds of the server's summary line.
summary_cpu() {
	_l=$(grep '^summary ' "$1") || { echo "models.sh: the server printed no summary: $(tail -n 1 "$1.err" 2>/dev/null)" >&2; exit 1; }
	awk -v u="$(field "$_l" cpu_user_s)" -v s="$(field "$_l" cpu_sys_s)" 'BEGIN { printf "%.6f", u + s }'
}

# pss_kib PID: PSS of PID and its children, in KiB (threads are in their process's figure).
pss_kib() {
	for _p in "$1" $(pgrep -P "$1" 2>/dev/null); do
		awk '/^Pss:/ { print $2 }' "/proc/$_p/smaps_rollup" 2>/dev/null || true
	done | awk '{ t += $1 } END { print t + 0 }'
}

# core_busy: jiffies core $cpu_server has been busy (all but idle and iowait), from /proc/stat.
core_busy() {
	awk -v c="cpu$cpu_server" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat
}

# core_measure SECS: 64 active clients for SECS seconds against $port, no warm-up; prints
# "rps,p50_us,p99_us,core_cpu_us_per_req,errors". The CPU is core $cpu_server's busy time over
# the run: everything there is the server's, its children and threads included however many,
# which the server's own count cannot promise here (reading 5000 children's CPU from /proc
# while they run, on a core they keep busy, lags by seconds). Connecting the 64 clients is in
# it (for fork, 64 forks: under 2% of a 2 s run).
core_measure() {
	_b0=$(core_busy)
	taskset -c "$cpu_client" build/muxload --port "$port" --json --connections 64 --warmup 0 \
		--duration "$1" < /dev/null > "$tmp/c.json" 2> "$tmp/c.err" || true
	_b1=$(core_busy)
	grep -q throughput_rps "$tmp/c.json" || { echo "models.sh: muxload: $(head -n 1 "$tmp/c.err")" >&2; exit 1; }
	awk -v b="$((_b1 - _b0))" -v hz="$(getconf CLK_TCK)" -v n="$(json_num "$tmp/c.json" requests)" \
	    -v rps="$(json_num "$tmp/c.json" throughput_rps)" -v p50="$(json_num_in "$tmp/c.json" latency_us p50)" \
	    -v p99="$(json_num_in "$tmp/c.json" latency_us p99)" -v err="$(json_num "$tmp/c.json" errors)" \
	    'BEGIN { printf "%.1f,%d,%d,%.3f,%d", rps, p50, p99, (n > 0 ? b * 1e6 / hz / n : 0), err }'
}

# --- (1) Stevens' table ---------------------------------------------------
echo "model,rep,connections,bytes,wall_s,server_cpu_s,cpu_us_per_conn,errors,$machine_cols" > "$out/models-stevens.csv"
nmodels=$(printf '%s\n' "$stevens_models" | wc -l)
progress_start $((nmodels * reps)) "models: $conns connections x 4000 bytes"
rep=1
while [ $rep -le "$reps" ]; do
	while IFS= read -r v; do
		name=$(name_of "$v")
		rm -f "$tmp/s.out"	# wait_port must not read the last run's port line
		# shellcheck disable=SC2046
		start_server "$tmp/s.out" build/muxserver --port 0 $(flags_of "$v")
		taskset -c "$cpu_client" build/muxload --port "$port" --json --reconnect --connections 4 \
			--requests "$conns" --size 4000 --warmup 0 < /dev/null > "$tmp/s.json" 2> "$tmp/s.err" || true
		bench_stop
		grep -q throughput_rps "$tmp/s.json" || { echo "models.sh: $name: $(head -n 1 "$tmp/s.err")" >&2; exit 1; }
		scpu=$(summary_cpu "$tmp/s.out")
		echo "$name,$rep,$conns,4000,$(json_num "$tmp/s.json" duration_s),$scpu,$(awk -v c="$scpu" -v n="$conns" 'BEGIN { printf "%.1f", c * 1e6 / n }'),$(json_num "$tmp/s.json" errors),$machine" >> "$out/models-stevens.csv"
		progress "$name rep $rep"
	done <<EOF
$stevens_models
EOF
	rep=$((rep + 1))
done

# --- (2) 64 active, 0 / 1000 / 5000 idle ----------------------------------
idle_models="reactor:--model:reactor
fork:--model:fork
thread:--model:thread
prefork-64:--model:prefork:--workers:64
prethread-64:--model:prethread:--workers:64
iterative:--model:iterative"
echo "model,idle,rep,rps,p50_us,p99_us,core_cpu_us_per_req,errors,pss_kib,pss_kib_per_idle,note,$machine_cols" > "$out/models-idle.csv"
progress_start 18 "models: 64 active with 0, 1000, 5000 idle"
while IFS= read -r v; do
	name=$(name_of "$v")
	base_pss=""
	for idle in 0 1000 5000; do
		note=""
		case $name in
		iterative) note="serves one client at a time: 63 of 64 wait" ;;
		prefork-64 | prethread-64) [ "$idle" = 0 ] || note="the $idle idle clients take all 64 workers: active ones wait" ;;
		esac
		if [ -n "$note" ]; then
			# rep, the five figures and the two pss columns empty: 8 fields, then the note.
			printf '%s,%s,%s"%s",%s\n' "$name" "$idle" ",,,,,,,," "$note" "$machine" >> "$out/models-idle.csv"
			progress "$name $idle idle: not measured"
			continue
		fi
		rm -f "$tmp/i.out"
		# shellcheck disable=SC2046
		start_server "$tmp/i.out" build/muxserver --port 0 --grace 1 $(flags_of "$v")
		hold_idle "$tmp/i.out" "$idle"
		for rep in $(seq "$reps"); do
			row=$(core_measure 2)
			pss=$(pss_kib "$server_pid")
			[ "$idle" != 0 ] || base_pss=$pss
			per=$(awk -v p="$pss" -v b="$base_pss" -v i="$idle" 'BEGIN { if (i > 0 && b != "") printf "%.1f", (p - b) / i }')
			echo "$name,$idle,$rep,$row,$pss,$per,,$machine" >> "$out/models-idle.csv"
		done
		bench_stop
		progress "$name $idle idle"
	done
done <<EOF
$idle_models
EOF

# --- (3) one worker or two -------------------------------------------------
worker_models="reactor-1:--model:reactor:--workers:1
reactor-2:--model:reactor:--workers:2
reactor-2-shared:--model:reactor:--workers:2:--shared-listener
reactor-2-exclusive:--model:reactor:--workers:2:--shared-listener:--exclusive
prefork-64:--model:prefork:--workers:64
prethread-64:--model:prethread:--workers:64"
echo "model,rep,rps,server_cpu_us_per_req,workers,accepted_min,accepted_max,$machine_cols" > "$out/models-workers.csv"
progress_start $((6 * reps)) "models: --workers 1 and 2 (server and client on both cores)"
for rep in $(seq "$reps"); do
	while IFS= read -r v; do
		name=$(name_of "$v")
		# Both cores for both: the pinning of the other tables would put two workers on one core.
		rm -f "$tmp/w.out"
		# shellcheck disable=SC2046
		build/muxserver --port 0 $(flags_of "$v") > "$tmp/w.out" 2> "$tmp/w.out.err" &
		server_pid=$!
		spid="$server_pid"
		port=$(wait_port "$tmp/w.out" "$server_pid")
		build/muxload --port "$port" --json --connections 64 --warmup 0.5 --duration 2 < /dev/null > "$tmp/w.json" 2> "$tmp/w.err" || true
		bench_stop
		grep -q throughput_rps "$tmp/w.json" || { echo "models.sh: $name: $(head -n 1 "$tmp/w.err")" >&2; exit 1; }
		sum=$(grep '^summary ' "$tmp/w.out") || { echo "models.sh: $name printed no summary: $(tail -n 1 "$tmp/w.out.err")" >&2; exit 1; }
		spread=$(grep '^worker ' "$tmp/w.out" | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^accepted=/) { a = substr($i, 10) + 0
			if (n++ == 0 || a < lo) lo = a; if (a > hi) hi = a } } END { printf "%d,%d,%d", n ? n : 1, lo, hi }')
		[ "$spread" != "1,0,0" ] || spread="1,$(field "$sum" accepted),$(field "$sum" accepted)"
		echo "$name,$rep,$(json_num "$tmp/w.json" throughput_rps),$(awk -v c="$(summary_cpu "$tmp/w.out")" -v r="$(field "$sum" requests)" 'BEGIN { printf "%.3f", c * 1e6 / r }'),$spread,$machine" >> "$out/models-workers.csv"
		progress "$name rep $rep"
	done <<EOF
$worker_models
EOF
done
bench/models-report.sh "$out" > "$out/models.md"
echo "muxlab $(build/muxload --version | sed 's/^muxload //')." >> "$out/models.md"
# A run of its own (not inside make bench's directory) gets the section as its README.
[ -f "$out/bench.csv" ] || cp "$out/models.md" "$out/README.md"
echo "models.sh: results in $out/models-*.csv, $out/models.md" >&2
