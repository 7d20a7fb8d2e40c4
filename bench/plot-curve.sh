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
		# The steps only (bisections land on rates of their own): rate, median p99, min, max.
		awk -F, -v b="$b" -v i="$i" "$awk_csv$awk_median"'
			col("backend") == b && col("idle") == i && col("step") !~ /^bisect/ {
				r = col("rate"); if (!(r in n)) order[++k] = r; n[r]++; v[r, n[r]] = col("p99_us") }
			END { for (j = 1; j <= k; j++) { r = order[j]; lo = hi = v[r, 1]
				for (x = 2; x <= n[r]; x++) { if (v[r, x] + 0 < lo + 0) lo = v[r, x]; if (v[r, x] + 0 > hi + 0) hi = v[r, x] }
				print r, median_of(v, r, n[r]), lo, hi } }' "$c" | sort -n > "$tmp/$b-$i.dat"
	done
	{
		printf "%s\n" "set title \"Latency against offered load, 64 active + $i idle connections (open loop, 64 B echo)\\n{/*0.8 $(plot_caption "$c")}\""
		echo "set xlabel 'offered rate, requests/s'"
		echo "set ylabel 'p99 latency, us (corrected; median of rounds, bars min-max)'"
		echo "set logscale y"
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
