#!/bin/sh
# report.sh DIR MODE - the README.md of a results directory, from its files:
# the machine, the command, the medians table, the headline ratios, the plots.
set -eu
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
dir=$1; mode=${2:-default}
m="$dir/medians.csv"
kernel=$(csv_get "$dir/bench.csv" kernel); cpu=$(csv_get "$dir/bench.csv" cpu)
cores=$(csv_get "$dir/bench.csv" cores); commit=$(csv_get "$dir/bench.csv" commit)
case $mode in full) cmd="make bench FULL=1" ;; smoke) cmd="make bench-smoke" ;; *) cmd="make bench" ;; esac

# grid FILE EXPR: a markdown table, a row per backend and a column per idle
# count, of the awk expression EXPR evaluated on each row of FILE.
grid() {
	awk -F, "$awk_csv"'
		{ b = col("backend"); i = col("idle") + 0; v[b, i] = '"$2"'
		  if (!seenb[b]++) order[++nb] = b; if (!seeni[i]++) idl[++ni] = i }
		END {
			printf "| backend |"; for (j = 1; j <= ni; j++) printf " %d idle |", idl[j]; printf "\n|---|"
			for (j = 1; j <= ni; j++) printf "---|"; print ""
			for (x = 1; x <= nb; x++) {
				printf "| %s |", order[x]
				for (j = 1; j <= ni; j++) printf " %s |", v[order[x], idl[j]]
				print ""
			}
		}' "$1"
}

echo "# muxlab sweep: $(basename "$dir")"
echo
version=$(cat "$dir/version.txt" 2>/dev/null || echo "not recorded (a run before --version)")
echo "Machine: $cpu, $cores cores, Linux $kernel. Commit $commit, muxlab $version. Command: \`$cmd\`."
echo "Servers pinned to core 0, muxload to core 1; one server per backend and idle count; medians of"
echo "at least $(awk -F, "$awk_csv"'NR == 2 || col("reps") + 0 < m { m = col("reps") + 0 } END { print m }' "$m") repetitions in rounds over all cells, more (up to the cap) while a cell's"
echo "(max - min) / median stayed over the threshold (min and max in brackets)."
[ ! -f "$dir/run.txt" ] || echo "The whole run took $(awk -F= '$1 == "took_s" { printf "%d min %d s", $2 / 60, $2 % 60 }' "$dir/run.txt")."
echo "Server CPU and syscalls per request come from the server's own counters (getrusage; its"
echo "syscalls= count: read, write, wait and ctl calls, or for uring its io_uring_enter calls), read in"
echo "the middle of each repetition: after muxload has"
echo "connected and warmed up, before it closes; idle connections are opened by a muxload of their own"
echo "when the server starts. So neither connecting nor closing is ever counted."
echo
echo "## Headline: what the server alone decides"
echo
rate=$(awk -F, "$awk_csv"'col("rate") > 0 { print col("rate"); exit }' "$m")
if [ -n "$rate" ]; then
	echo "**Server CPU per request at a fixed $rate requests/s** (open loop, 64 active connections, 64 B"
	echo "echo; unless RATE set it, a probe chose the highest rate at which every backend's server was busy"
	echo "at most half the time at the most idle connections). Median [min-max] of the repetitions, in us; the last"
	echo "column is the ratio of the medians at the most idle connections to 0 idle, with the range of"
	echo "ratios the repetitions allow."
	echo
	awk -F, -v rate="$rate" "$awk_csv"'
		col("rate") == rate && col("size") == 64 {
			b = col("backend"); i = col("idle") + 0
			med[b, i] = col("server_cpu_us_per_req"); lo[b, i] = col("cpu_min"); hi[b, i] = col("cpu_max")
			noisy[b, i] = col("noisy"); if (!seenb[b]++) order[++nb] = b; if (!seeni[i]++) idl[++ni] = i }
		END {
			for (j = 2; j <= ni; j++) for (k = j; k > 1 && idl[k - 1] > idl[k]; k--) { t = idl[k]; idl[k] = idl[k - 1]; idl[k - 1] = t }
			printf "| backend |"; for (j = 1; j <= ni; j++) printf " %d idle |", idl[j]
			printf " %d idle / 0 idle |\n|---|", idl[ni]; for (j = 1; j <= ni + 1; j++) printf "---|"; print ""
			for (x = 1; x <= nb; x++) {
				b = order[x]; printf "| %s |", b
				for (j = 1; j <= ni; j++) printf " %.2f [%.2f-%.2f]%s |", med[b, idl[j]], lo[b, idl[j]], hi[b, idl[j]], noisy[b, idl[j]] ? " (noisy)" : ""
				z = idl[1]; e = idl[ni]
				printf " %.2f [%.2f-%.2f] |\n", med[b, e] / med[b, z], lo[b, e] / hi[b, z], hi[b, e] / lo[b, z]
			}
		}' "$m"
	echo
fi
if [ -f "$dir/sustainable.csv" ]; then
	slo=$(csv_get "$dir/sustainable.csv" slo_us)
	echo "**Sustainable rate**: the highest offered rate (open loop, 64 active connections) whose p99"
	echo "(coordinated-omission corrected) stayed under $slo us with the rate reached and no errors;"
	echo "each step of \`bench/curve.sh\` judged by the median p99 of its runs; in brackets what limited the"
	echo "first failing step of the knee (\`client\`: muxload's thread was saturated there, so the"
	echo "figure is a lower bound; \`none\`: even 115% of the closed-loop maximum held). The knee is two"
	echo "failing steps in a row; a failing step with a higher one holding after it was a stall of the host"
	echo "(counted as *stalls*). *floor*: the median p99 of the lowest step, about 10% load: how close this"
	echo "machine's own stalls come to the SLO."
	echo
	grid "$dir/sustainable.csv" '(col("sustainable_rps") + 0 ? col("sustainable_rps") : "no rate held") " (" col("limited_by") ")" \
		(col("floor_p99_us") != "" ? "; floor " col("floor_p99_us") " us" : "") \
		(col("noisy_steps") + 0 > 0 ? "; stalls " col("noisy_steps") : "")'
	echo
fi
if [ -f "$dir/rss.csv" ]; then
	echo "**Memory**: each server's resident set in KiB (VmRSS) at the end of the sweep, its idle"
	echo "connections still held (\`rss.csv\`; the uring loop's includes the pages of its provided buffers that data has reached)."
	echo
	grid "$dir/rss.csv" 'col("rss_kib")'
	echo
fi
[ ! -f "$dir/syscalls.txt" ] || { echo "**Syscalls per request** by \`strace -c -f\` (\`bench/syscalls.sh\`; its first line says how many ping-pong connections), beside the server's own count:"; echo; echo '```'; cat "$dir/syscalls.txt"; echo '```'; echo; }
noisy=$(awk -F, "$awk_csv"'col("noisy") == 1 { printf "%s%s %s active %s idle %s", (n++ ? "; " : ""), col("backend"), col("active"), col("idle"), (col("rate") > 0 ? "at " col("rate") "/s" : "closed loop") }' "$m")
sat=$(awk -F, "$awk_csv"'col("rate") == 0 && col("saturated_reps") > 0 { n++ } END { print n + 0 }' "$m")
echo "Cells whose spread stayed over the threshold after the most repetitions (noisy): ${noisy:-none}."
echo "Closed-loop cells where the client saturated in at least one repetition: $sat of"
echo "$(awk -F, "$awk_csv"'col("rate") == 0 { n++ } END { print n + 0 }' "$m") (their requests/s is the client's rate, not the server's)."
echo
[ ! -f "$dir/models.md" ] || cat "$dir/models.md"
echo "## Plots"
echo
for f in fixed curve-idle0 curve-idle1000 curve-idle5000 curve-idle10000 rps p99 cpu; do
	[ -f "$dir/$f.png" ] && echo "![$f]($f.png)" && echo
done
echo "## Medians"
echo
echo "| backend | active | idle | size | rate | reps | requests/s [min-max] | p50 us | p99 us | server CPU us/req | syscalls/req | waits/req | errors | client saturated (reps) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F, "$awk_csv"'{ printf "| %s | %d | %d | %d | %s | %d%s | %d [%d-%d] | %d | %d | %.2f | %.3f | %.4f | %d | %d/%d |\n",
	col("backend"), col("active"), col("idle"), col("size"), col("rate") == 0 ? "closed" : col("rate"),
	col("reps"), col("noisy") ? " noisy" : "", col("rps_median"), col("rps_min"), col("rps_max"), col("p50_us"), col("p99_us"), col("server_cpu_us_per_req"),
	col("syscalls_per_req"), col("waits_per_req"), col("errors"), col("saturated_reps"), col("reps") }' "$m"
echo
echo "Files: \`bench.csv\` (one row per repetition), \`bench.json\` (the same with the parameters),"
echo "\`curve.csv\` and \`sustainable.csv\` (bench/curve.sh), compared across runs by \`bench/compare.sh\`;"
echo "\`medians.csv\`, \`rps\`, \`p99\`, \`cpu\` plots in PNG and SVG."
