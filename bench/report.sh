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

echo "# muxlab sweep: $(basename "$dir")"
echo
echo "Machine: $cpu, $cores cores, Linux $kernel. Commit $commit. Command: \`$cmd\`."
echo "Server pinned to core 0, muxload to core 1; a fresh server per cell; medians of"
echo "$(csv_get "$m" reps) repetitions (min and max of requests/s in brackets)."
echo "Server CPU and syscalls per request come from the server's own counters (getrusage;"
echo "read + write + wait + epoll_ctl calls), over each whole repetition."
echo
echo "## Headline"
echo
awk -F, "$awk_csv"'
	BEGIN { maxidle = 0; maxact = 0 }
	col("size") == 64 && col("rate") == 0 {
		b = col("backend"); a = col("active"); i = col("idle")
		rps[b, a, i] = col("rps_median"); cpu[b, a, i] = col("server_cpu_us_per_req")
		if (i + 0 > maxidle) maxidle = i; if (a + 0 > maxact) maxact = a
		if (!seenb[b]++) order[++nb] = b }
	END {
		a = maxact
		if (!(("epoll", a, 0) in rps)) exit
		printf "At %d active connections, share of epoll'"'"'s requests/s kept by each backend:\n\n", a
		printf "| backend | 0 idle | %d idle | CPU us/request at 0 idle | at %d idle |\n|---|---|---|---|---|\n", maxidle, maxidle
		for (i = 1; i <= nb; i++) {
			b = order[i]
			printf "| %s | %.2f | %.2f | %.2f | %.2f |\n", b, rps[b, a, 0] / rps["epoll", a, 0],
				rps[b, a, maxidle] / rps["epoll", a, maxidle], cpu[b, a, 0], cpu[b, a, maxidle]
		}
	}' "$m"
echo
echo "## Plots"
echo
for f in rps p99 cpu; do
	[ -f "$dir/$f.png" ] && echo "![$f]($f.png)" && echo
done
echo "## Medians"
echo
echo "| backend | active | idle | size | rate | requests/s [min-max] | p50 us | p99 us | server CPU us/req | syscalls/req | waits/req | errors | client saturated (reps) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F, "$awk_csv"'{ printf "| %s | %d | %d | %d | %s | %d [%d-%d] | %d | %d | %.2f | %.3f | %.4f | %d | %d/%d |\n",
	col("backend"), col("active"), col("idle"), col("size"), col("rate") == 0 ? "closed" : col("rate"),
	col("rps_median"), col("rps_min"), col("rps_max"), col("p50_us"), col("p99_us"), col("server_cpu_us_per_req"),
	col("syscalls_per_req"), col("waits_per_req"), col("errors"), col("saturated_reps"), col("reps") }' "$m"
echo
echo "Files: \`bench.csv\` (one row per repetition), \`bench.json\` (the same with the parameters),"
echo "\`medians.csv\`, \`rps\`, \`p99\`, \`cpu\` plots in PNG and SVG."
