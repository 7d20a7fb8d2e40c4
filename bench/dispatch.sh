#!/bin/sh
# dispatch.sh [OUTDIR] - the dispatch-cost micro-benchmark (build/muxdispatch):
# our backends beside libevent's and libev's at FDS registered fds (default
# 100,300,1000,3000,10000), REPS runs each (default 5), pinned to one core;
# then Kerrisk's table (100 000 operations, one run per cell unless KREPS).
# Sources are socketpairs, as in libevent's bench.c, when the fd limit can hold
# two fds per source at the largest size; otherwise eventfds, and it says so.
# Writes OUTDIR/dispatch.csv (every run), dispatch-medians.csv, dispatch.txt,
# dispatch.png/.svg (log-log, us per event vs fds), kerrisk.csv, kerrisk.txt;
# with eventfds, also socketpair.* at the sizes the fd limit holds.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
out=${1:-results/dispatch-$(stamp)}
fds=${FDS:-100,300,1000,3000,10000}
reps=${REPS:-5}
kreps=${KREPS:-1}
ops=${OPS:-100000}
build_tools build/muxdispatch
mkdir -p "$out"
bench_prologue

# Kerrisk's table goes to 10000 fds whatever FDS says.
largest=$(printf '%s\n10000\n' "$fds" | tr ',' '\n' | sort -n | tail -1)
need=$((2 * largest + 64))
source=socketpair
if [ "$(ulimit -Hn)" != unlimited ] && [ "$(ulimit -Hn)" -lt $need ] &&
   ! prlimit --nofile=$need:$need true 2>/dev/null; then
	source=eventfd
	echo "dispatch.sh: the fd hard limit ($(ulimit -Hn)) cannot hold $largest socketpairs ($need fds)" \
		"and cannot be raised here: using eventfd sources (one fd each)" >&2
fi

taskset -c $cpu_client build/muxdispatch --backend all --fds "$fds" --repeat "$reps" --source $source \
	--csv "$out/dispatch.csv" --medians "$out/dispatch-medians.csv" | tee "$out/dispatch.txt"
taskset -c $cpu_client build/muxdispatch --kerrisk --ops "$ops" --repeat "$kreps" --source $source \
	--csv "$out/kerrisk.csv" | tee "$out/kerrisk.txt"

# plot MEDIANS OUTBASE SOURCE: log-log us per event vs fds, one line per backend, PNG and SVG.
# One data file per backend: NaN-filtered rows would break gnuplot's lines.
plot() {
	backends=$(awk -F, "$awk_csv"'col("status") == "ok" && !seen[col("backend")]++ { printf "%s ", col("backend") }' "$1")
	for b in $backends; do
		awk -F, -v b="$b" "$awk_csv"'col("backend") == b && col("status") == "ok" { print col("fds"), col("us_per_event_median") }' \
			"$1" | sort -n > "$tmp/$b.dat"
	done
	{
		echo "set logscale xy"
		echo "set xlabel 'registered fds ($3 sources)'"
		echo "set ylabel 'microseconds per event (median of $reps)'"
		echo "set title 'Dispatch cost: muxlab backends (solid) beside libevent (dashed) and libev (dotted)'"
		echo "set grid"
		echo "set key top left box opaque"
		printf 'plot '
		sep=""
		for b in $backends; do
			dt=1; case $b in libevent-*) dt=2 ;; libev-*) dt=3 ;; esac
			printf "%s'%s/%s.dat' using 1:2 with linespoints lw 2 dt %d title '%s'" "$sep" "$tmp" "$b" $dt "$b"
			sep=", "
		done
		echo
	} | png_svg "$2" 900,600
}
plot "$out/dispatch-medians.csv" "$out/dispatch" $source

# With eventfds forced on us, also run bench.c's socketpairs at the sizes the limit holds.
if [ $source = eventfd ]; then
	limit=$(ulimit -Hn)
	sp=$(echo "$fds" | tr ',' '\n' | awk -v l="$limit" '2 * $1 + 64 <= l' | paste -sd, -)
	top=$(( (limit - 64) / 2 / 1000 * 1000 ))
	[ $top -ge 1000 ] && sp="$sp,$top"
	taskset -c $cpu_client build/muxdispatch --backend all --fds "$sp" --repeat "$reps" --source socketpair \
		--csv "$out/socketpair.csv" --medians "$out/socketpair-medians.csv" | tee "$out/socketpair.txt"
	plot "$out/socketpair-medians.csv" "$out/socketpair" socketpair
fi
echo "dispatch.sh: results in $out" >&2
