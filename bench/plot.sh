#!/bin/sh
# plot.sh DIR - gnuplot figures from DIR/medians.csv (64-byte cells), against
# idle connections, one line per backend, the median with min-max bars, the
# machine in the caption and the legend outside the data: fixed (server CPU
# per request at the fixed rate: the headline), and in closed loop rps,
# p99 and cpu, one panel per active-connection count. PNG and SVG.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
dir=$1
bench_prologue
m="$dir/medians.csv"
backends=$(awk -F, "$awk_csv"'!seen[col("backend")]++ { printf "%s ", col("backend") }' "$m")
actives=$(awk -F, "$awk_csv"'col("size") == 64 && col("rate") == 0 && !seen[col("active")]++ { printf "%s ", col("active") }' "$m")
idles=$(awk -F, "$awk_csv"'col("size") == 64 && col("rate") == 0 { print col("idle") }' "$m" | sort -n | uniq | tr '\n' ' ')
# Idle counts span 0..10000: plot them at evenly spaced positions (log-like), labelled.
xtics=$(echo $idles | awk '{ for (i = 1; i <= NF; i++) printf "%s\"%s\" %d", (i > 1 ? ", " : ""), $i, i - 1 }')
for b in $backends; do for a in $actives; do
	awk -F, -v b="$b" -v a="$a" -v idles="$idles" "$awk_csv"'
		BEGIN { n = split(idles, list, " "); for (i = 1; i <= n; i++) pos[list[i]] = i - 1 }
		col("backend") == b && col("active") == a && col("size") == 64 && col("rate") == 0 {
			print pos[col("idle")], col("idle"), col("rps_median"), col("p99_us"), col("server_cpu_us_per_req"),
				col("rps_min"), col("rps_max"), col("cpu_min"), col("cpu_max") }' \
		"$m" | sort -n > "$tmp/$b-a$a.dat"
done; done
# The fixed-rate cells (rate > 0): one per backend and idle count.
rate=$(awk -F, "$awk_csv"'col("rate") > 0 { print col("rate"); exit }' "$m")
for b in $backends; do
	awk -F, -v b="$b" -v idles="$idles" "$awk_csv"'
		BEGIN { n = split(idles, list, " "); for (i = 1; i <= n; i++) pos[list[i]] = i - 1 }
		col("backend") == b && col("size") == 64 && col("rate") > 0 {
			print pos[col("idle")], col("idle"), col("server_cpu_us_per_req"), col("cpu_min"), col("cpu_max") }' \
		"$m" | sort -n > "$tmp/$b-fixed.dat"
done
caption=$(plot_caption "$dir/bench.csv")

figure() { # name ylabel column logscale title error-columns
	{
		printf "%s\n" "set multiplot layout 1,$(echo $actives | wc -w) title \"$5\\n{/*0.8 $caption}\""
		echo "set xtics ($xtics)"
		echo "set xrange [-0.5:$(echo $idles | wc -w) - 0.5]"
		echo "set xlabel 'idle connections'"
		echo "set ylabel '$2'"
		echo "set grid"
		echo "set key outside bottom center horizontal box"
		if [ "$4" = log ]; then echo "set logscale y"; else echo "set yrange [0:*]"; fi
		for a in $actives; do
			echo "set title '$a active connection(s)'"
			printf 'plot '
			sep=""
			for b in $backends; do
				if [ -n "$6" ]; then
					printf "%s'%s/%s-a%s.dat' using 1:%d:%s with yerrorlines lw 2 title '%s'" "$sep" "$tmp" "$b" "$a" "$3" "$6" "$b"
				else
					printf "%s'%s/%s-a%s.dat' using 1:%d with linespoints lw 2 title '%s'" "$sep" "$tmp" "$b" "$a" "$3" "$b"
				fi
				sep=", "
			done
			echo
		done
		echo "unset multiplot"
	} | png_svg "$dir/$1" 1200,460
}
figure rps "requests/s (median, bars min-max)" 3 lin "Closed-loop throughput vs idle connections (64 B echo; where the client saturated this is the client's rate)" 6:7
figure p99 "p99 latency, us (median)" 4 log "Closed-loop p99 latency vs idle connections" ""
figure cpu "server CPU us per request (median, bars min-max)" 5 log "Closed-loop server CPU per request vs idle connections" 8:9
[ -z "$rate" ] || {
	printf "%s\n" "set title \"Server CPU per request at a fixed $rate requests/s (open loop, 64 B echo)\\n{/*0.8 $caption}\""
	echo "set xtics ($xtics)"
	echo "set xrange [-0.5:$(echo $idles | wc -w) - 0.5]"
	echo "set xlabel 'idle connections'"
	echo "set ylabel 'server CPU us per request (median, bars min-max)'"
	echo "set logscale y"
	echo "set grid"
	echo "set key outside right top box"
	printf 'plot '
	sep=""
	for b in $backends; do
		printf "%s'%s/%s-fixed.dat' using 1:3:4:5 with yerrorlines lw 2 title '%s'" "$sep" "$tmp" "$b" "$b"
		sep=", "
	done
	echo
} | png_svg "$dir/fixed" 1000,480
