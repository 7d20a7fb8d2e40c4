#!/bin/sh
# report.sh DIR MODE - the README.md of a results directory, from its files:
# the machine, the command, the medians table, the headline ratios, the plots.
set -eu
dir=$1; mode=${2:-default}
m="$dir/medians.csv"
row1=$(sed -n 2p "$dir/bench.csv")
kernel=$(echo "$row1" | cut -d, -f19); cpu=$(echo "$row1" | cut -d, -f20)
cores=$(echo "$row1" | cut -d, -f21); commit=$(echo "$row1" | cut -d, -f22)
case $mode in full) cmd="make bench FULL=1" ;; smoke) cmd="make bench-smoke" ;; *) cmd="make bench" ;; esac

echo "# muxlab sweep: $(basename "$dir")"
echo
echo "Machine: $cpu, $cores cores, Linux $kernel. Commit $commit. Command: \`$cmd\`."
echo "Server pinned to core 0, muxload to core 1; a fresh server per cell; medians of"
echo "$(awk -F, 'NR == 2 { print $6 }' "$m") repetitions (min and max of requests/s in brackets)."
echo "Server CPU and syscalls per request come from the server's own counters (getrusage;"
echo "read + write + wait + epoll_ctl calls), over each whole repetition."
echo
echo "## Headline"
echo
awk -F, '
	BEGIN { maxidle = 0; maxact = 0 }
	NR > 1 && $4 == 64 && $5 == 0 { rps[$1, $2, $3] = $7; cpu[$1, $2, $3] = $12; if ($3 > maxidle) maxidle = $3
		if (!seenb[$1]++) order[++nb] = $1; if ($2 > maxact) maxact = $2 }
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
awk -F, 'NR > 1 { printf "| %s | %d | %d | %d | %s | %d [%d-%d] | %d | %d | %.2f | %.3f | %.4f | %d | %d/%d |\n",
	$1, $2, $3, $4, $5 == 0 ? "closed" : $5, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $6 }' "$m"
echo
echo "Files: \`bench.csv\` (one row per repetition), \`bench.json\` (the same with the parameters),"
echo "\`medians.csv\`, \`rps\`, \`p99\`, \`cpu\` plots in PNG and SVG."
