#!/bin/sh
# plot.sh DIR - gnuplot figures from DIR/medians.csv (64-byte closed-loop cells):
# requests/s, p99 latency and server CPU per request against idle connections,
# one line per backend, one panel per active-connection count. PNG and SVG.
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
			print pos[col("idle")], col("idle"), col("rps_median"), col("p99_us"), col("server_cpu_us_per_req") }' \
		"$m" | sort -n > "$tmp/$b-a$a.dat"
done; done

figure() { # name ylabel column logscale title key-position
	{
		echo "set multiplot layout 1,$(echo $actives | wc -w) title '$5'"
		echo "set xtics ($xtics)"
		echo "set xrange [-0.5:$(echo $idles | wc -w) - 0.5]"
		echo "set xlabel 'idle connections'"
		echo "set ylabel '$2'"
		echo "set grid"
		echo "set key $6 box opaque"
		if [ "$4" = log ]; then echo "set logscale y"; else echo "set yrange [0:*]"; fi
		for a in $actives; do
			echo "set title '$a active connection(s)'"
			printf 'plot '
			sep=""
			for b in $backends; do
				printf "%s'%s/%s-a%s.dat' using 1:%d with linespoints lw 2 title '%s'" "$sep" "$tmp" "$b" "$a" "$3" "$b"
				sep=", "
			done
			echo
		done
		echo "unset multiplot"
	} | png_svg "$dir/$1" 1200,460
}
figure rps "requests/s (median)" 3 lin "Throughput vs idle connections (64 B echo, closed loop)" "bottom left"
figure p99 "p99 latency, us (median)" 4 log "p99 latency vs idle connections" "top left"
figure cpu "server CPU us per request (median)" 5 log "Server CPU per request vs idle connections" "top left"
