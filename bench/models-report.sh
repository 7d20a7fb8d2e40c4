#!/bin/sh
# models-report.sh DIR - the server models' section of a results README,
# from DIR/models-*.csv (bench/models.sh): medians [min-max] of the
# repetitions, and the plot DIR/models.png (and .svg). Prints markdown.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
dir=$1
s="$dir/models-stevens.csv" i="$dir/models-idle.csv" w="$dir/models-workers.csv"

# stats FILE KEYCOLS VALUECOL: per key (KEYCOLS, columns joined by ' '), in order of first
# appearance: "key median min max n", over the rows where VALUECOL is not empty.
stats() {
	awk -F, -v keys="$2" -v val="$3" "$awk_csv"'
	col(val) != "" {
		nk = split(keys, kc, " "); k = ""
		for (j = 1; j <= nk; j++) k = k (j > 1 ? " " : "") col(kc[j])
		if (!(k in n)) order[++no] = k
		v[k, ++n[k]] = col(val) + 0
	}
	END {
		for (o = 1; o <= no; o++) {
			k = order[o]; c = n[k]
			for (a = 1; a <= c; a++) for (b = a + 1; b <= c; b++) if (v[k, b] < v[k, a]) { t = v[k, a]; v[k, a] = v[k, b]; v[k, b] = t }
			med = c % 2 ? v[k, (c + 1) / 2] : (v[k, c / 2] + v[k, c / 2 + 1]) / 2
			print k, med, v[k, 1], v[k, c], c
		}
	}' "$1"
}

echo "## Server models (bench/models.sh)"
echo
echo "Machine: $(plot_caption "$s"). Medians of $(csv_get "$s" rep "$(($(wc -l < "$s") - 1))") repetitions"
echo "interleaved over the models, [min-max] beside them."
echo
echo "**Stevens' table, today** (UNP 3rd ed., ch. 30): $(csv_get "$s" connections) connections, each one"
echo "request of $(csv_get "$s" bytes) bytes echoed, by 4 clients at once (\`muxload --reconnect\`); server CPU is user +"
echo "system of the parent and all its children over the server's whole life."
echo
echo "| model | wall s | server CPU s | CPU us per connection | vs reactor |"
echo "|---|---|---|---|---|"
base=$(stats "$s" model cpu_us_per_conn | awk '$1 == "reactor" { print $2 }')
wall=$(stats "$s" model wall_s)
stats "$s" model cpu_us_per_conn | while read -r name med lo hi _n; do
	printf '%s\n' "$wall" | awk -v name="$name" -v med="$med" -v lo="$lo" -v hi="$hi" -v base="$base" -v cpu="$(stats "$s" model server_cpu_s | awk -v m="$name" '$1 == m { print $2 }')" '
		$1 == name { printf "| %s | %.3f [%.3f-%.3f] | %.3f | %.1f [%.1f-%.1f] | %.2fx |\n", name, $2, $3, $4, cpu, med, lo, hi, (base > 0 ? med / base : 0) }'
done
echo
echo "**64 active clients beside idle ones.** Requests/s and p99 are muxload's (closed loop, 64 B, 2 s),"
echo "CPU per request is the busy time of the server's core (all of it is the server's: children and"
echo "threads however many, connecting the 64 included) over the requests; PSS is the server's processes'"
echo "proportional set size (\`/proc/PID/smaps_rollup\`, threads' stacks included), and per idle"
echo "connection its rise over the 0-idle server, divided by the idle count."
echo
echo "| model | idle | requests/s | p99 us | CPU us/request | PSS KiB | KiB per idle connection |"
echo "|---|---|---|---|---|---|---|"
rps=$(stats "$i" "model idle" rps); p99=$(stats "$i" "model idle" p99_us)
cpu=$(stats "$i" "model idle" core_cpu_us_per_req); pss=$(stats "$i" "model idle" pss_kib)
per=$(stats "$i" "model idle" pss_kib_per_idle)
awk -F, "$awk_csv"'{ k = col("model") " " col("idle"); if (!(k in seen)) { seen[k] = 1; print k "|" col("note") } }' "$i" |
while IFS='|' read -r key note; do
	if [ -n "$note" ]; then
		printf '| %s | %s | %s | | | | |\n' "${key% *}" "${key#* }" "$(printf '%s' "$note" | tr -d '"')"
		continue
	fi
	g() { printf '%s\n' "$1" | awk -v k="$key" -v f="$2" '$1 " " $2 == k { printf f, $3, $4, $5 }'; }
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${key% *}" "${key#* }" "$(g "$rps" '%.0f [%.0f-%.0f]')" \
		"$(g "$p99" '%.0f')" "$(g "$cpu" '%.2f [%.2f-%.2f]')" "$(g "$pss" '%.0f')" "$(g "$per" '%.1f')"
done
echo
echo "**One worker or two.** Server and client share both cores here (pinning two workers to one"
echo "core would measure nothing), so the rates say little; the spread of connections among"
echo "workers (their accepted counts) is the figure."
echo
echo "| model | requests/s | CPU us/request | workers | accepted per worker, min-max (first repetition) |"
echo "|---|---|---|---|---|"
wr=$(stats "$w" model rps); wc_=$(stats "$w" model server_cpu_us_per_req)
awk -F, "$awk_csv"'{ print col("model"), col("workers"), col("accepted_min"), col("accepted_max") }' "$w" |
awk '!seen[$1]++' | while read -r name n lo hi; do
	printf '| %s | %s | %s | %s | %s-%s |\n' "$name" \
		"$(printf '%s\n' "$wr" | awk -v m="$name" '$1 == m { printf "%.0f [%.0f-%.0f]", $2, $3, $4 }')" \
		"$(printf '%s\n' "$wc_" | awk -v m="$name" '$1 == m { printf "%.2f [%.2f-%.2f]", $2, $3, $4 }')" "$n" "$lo" "$hi"
done
echo
if command -v gnuplot >/dev/null 2>&1; then
	tmp=$(mktemp -d)
	stats "$s" model cpu_us_per_conn > "$tmp/stevens.dat"
	stats "$i" "model idle" pss_kib_per_idle | awk '$2 == 5000 { print $1, $3, $4, $5 }' > "$tmp/pss.dat"
	{
		printf '%s\n' "set multiplot layout 1,2 title \"Server models\\n$(plot_caption "$s")\""
		echo "set style fill solid 0.6; set boxwidth 0.7; set grid ytics; set xtics rotate by -40"
		echo "set title 'CPU per connection, $(csv_get "$s" connections) connections x 4000 B'"
		echo "set ylabel 'server CPU us per connection (median, bars min-max)'"
		echo "plot '$tmp/stevens.dat' using 0:2:xtic(1) with boxes notitle, '' using 0:2:3:4 with yerrorbars notitle lc rgb 'black'"
		echo "set title 'Memory per idle connection, at 5000 idle'"
		echo "set ylabel 'PSS KiB per idle connection (median)'"
		echo "plot '$tmp/pss.dat' using 0:2:xtic(1) with boxes notitle"
		echo "unset multiplot"
	} | png_svg "$dir/models" 1200,480
	rm -rf "$tmp"
	echo "![models](models.png)"
	echo
fi
