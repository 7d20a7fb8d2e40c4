#!/bin/sh
# plot-curve.sh DIR - from DIR/curve.csv, one figure per idle count: p99
# latency (log scale) against the offered rate, one line per backend, the
# median of the rounds with their min-max as bars, the SLO as a line and the
# machine in the caption. curve-idle<N>.png and .svg.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
dir=$1
bench_prologue
c="$dir/curve.csv"
slo=$(csv_get "$dir/sustainable.csv" slo_us)
backends=$(awk -F, "$awk_csv"'!seen[col("backend")]++ { printf "%s ", col("backend") }' "$c")
idles=$(awk -F, "$awk_csv"'!seen[col("idle")]++ { printf "%s ", col("idle") }' "$c")
for i in $idles; do
	for b in $backends; do
		# By step (bisections land on rates of their own and are left out; a
		# standalone curve.sh probes each round's maximum, so rates of one step
		# may differ): median offered rate, median p99, min, max.
		awk -F, -v b="$b" -v i="$i" "$awk_csv$awk_median"'
			col("backend") == b && col("idle") == i && col("step") !~ /^bisect/ {
				st = col("step"); if (!(st in n)) order[++k] = st; n[st]++
				v[st, n[st]] = col("p99_us"); r[st, n[st]] = col("rate") }
			END { for (j = 1; j <= k; j++) { st = order[j]; lo = hi = v[st, 1]
				for (x = 2; x <= n[st]; x++) { if (v[st, x] + 0 < lo + 0) lo = v[st, x]; if (v[st, x] + 0 > hi + 0) hi = v[st, x] }
				print median_of(r, st, n[st]), median_of(v, st, n[st]), lo, hi } }' "$c" | sort -n > "$tmp/$b-$i.dat"
	done
	{
		printf "%s\n" "set title \"Latency against offered load, 64 active + $i idle connections (open loop, 64 B echo)\\n{/*0.8 $(plot_caption "$c")}\""
		echo "set xlabel 'offered rate, requests/s (log scale)'"
		echo "set ylabel 'p99 latency, us (corrected; median of rounds, bars min-max)'"
		echo "set logscale xy"
		echo "set grid"
		echo "set key outside right top box"
		echo "set arrow from graph 0, first $slo to graph 1, first $slo nohead dashtype 2 lw 1"
		echo "set label 'SLO $slo us' at graph 0.01, first $slo offset 0,0.6"
		printf 'plot '
		sep=""
		for b in $backends; do
			printf "%s'%s/%s-%s.dat' using 1:2:3:4 with yerrorlines lw 2 title '%s'" "$sep" "$tmp" "$b" "$i" "$b"
			sep=", "
		done
		echo
	} | png_svg "$dir/curve-idle$i" 1000,520
done
