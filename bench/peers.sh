#!/bin/sh
# peers.sh [OUTDIR] - wrk against nginx (1 worker, access_log off, return 200
# with a 13-byte body) and against muxserver --proto http on every backend,
# in the same run: server on core 0, wrk on core 1, 64 connections, REPS
# alternating rounds of SECS seconds. Server CPU per request comes from
# /proc/<pid>/stat (utime + stime of every process of the server).
# Also muxload --proto http against nginx beside wrk against nginx, with each
# client's CPU per request (user + system time of the client process).
# Writes OUTDIR/peers.csv (one row per run) and prints the medians with the
# ratio of each server's CPU per request to nginx's.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
out=${1:-results/peers-$(stamp)}
reps=${REPS:-3}
secs=${SECS:-5}
bench/need.sh cmd:wrk:wrk cmd:nginx:nginx-light
build_tools build/muxserver build/muxload
mkdir -p "$out"
bench_prologue
tick=$(getconf CLK_TCK)

# User and system CPU seconds so far of a process and its children (nginx's worker): "U S".
cpu_s() {
	for p in $1 $(pgrep -P "$1" || true); do cat "/proc/$p/stat"; done |
		awk -v t="$tick" '{ sub(/.*\) /, ""); u += $12; s += $13 } END { printf "%.4f %.4f", u / t, s / t }'
}

# CPU used between two cpu_s readings: "U S" seconds.
cpu_used() {
	echo "$1 $2" | awk '{ printf "%.4f %.4f", $3 - $1, $4 - $2 }'
}

start_nginx() {
	port=$(free_port)
	nginx_conf "$tmp/nginx" "$port"
	start_server "$tmp/nginx.out" --sleep 0.5 nginx -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf"
}

echo "server,rep,rps,p50_us,p99_us,server_cpu_us_per_req,errors,client_cpu_us_per_req,server_user_us_per_req,server_sys_us_per_req" > "$out/peers.csv"
for rep in $(seq 1 "$reps"); do
	for server in nginx $(backends) nginx-muxload; do
		case $server in nginx*) start_nginx ;; *) start_server "$tmp/mux.out" build/muxserver --backend "$server" --proto http --port 0 -q ;; esac
		cpu0=$(cpu_s $spid)
		if [ $server = nginx-muxload ]; then
			/usr/bin/time -f '%U %S' -o "$tmp/client.cpu" taskset -c $cpu_client build/muxload \
				--proto http --port "$port" --connections 64 --duration "$secs" --warmup 0 --json \
				> "$tmp/load.json" 2>/dev/null || true
			cpu1=$(cpu_s $spid)
			bench_stop
			load=$tmp/load.json
			req=$(json_num "$load" requests)
			[ -n "$req" ] || { echo "peers.sh: muxload failed: no nginx-muxload row for round $rep" >&2; continue; }
			awk -v rep="$rep" -v used="$(cpu_used "$cpu0" "$cpu1")" -v cc="$(cat "$tmp/client.cpu")" \
			    -v req="$req" -v err="$(json_num "$load" errors)" -v rps="$(json_num "$load" throughput_rps)" \
			    -v p50="$(json_num_in "$load" latency_us p50)" -v p99="$(json_num_in "$load" latency_us p99)" 'BEGIN {
					split(cc, u, " "); split(used, d, " ")
					printf "nginx-muxload,%d,%.0f,%d,%d,%.3f,%d,%.3f,%.3f,%.3f\n", rep, rps, p50, p99,
						(d[1] + d[2]) * 1e6 / req, err, (u[1] + u[2]) * 1e6 / req, d[1] * 1e6 / req,
						d[2] * 1e6 / req }' >> "$out/peers.csv"
			continue
		fi
		/usr/bin/time -f '%U %S' -o "$tmp/client.cpu" \
			taskset -c $cpu_client wrk -t1 -c64 -d"$secs" --latency "http://127.0.0.1:$port/" > "$tmp/wrk.txt"
		cpu1=$(cpu_s $spid)
		bench_stop
		awk -v s=$server -v rep=$rep -v used="$(cpu_used "$cpu0" "$cpu1")" -v cc="$(cat "$tmp/client.cpu")" '
			function us(v) { return v ~ /us$/ ? v + 0 : v ~ /ms$/ ? v * 1000 : v * 1e6 }
			/ requests in / { req = $1 }
			/Requests\/sec/ { rps = $2 }
			$1 == "50%" { p50 = us($2) }
			$1 == "99%" { p99 = us($2) }
			/Non-2xx|Socket errors/ { err++ }
			END { split(cc, u, " "); split(used, d, " ")
				printf "%s,%d,%.0f,%.0f,%.0f,%.3f,%d,%.3f,%.3f,%.3f\n", s, rep, rps, p50, p99,
					(d[1] + d[2]) * 1e6 / req, err, (u[1] + u[2]) * 1e6 / req, d[1] * 1e6 / req,
					d[2] * 1e6 / req }' \
			"$tmp/wrk.txt" >> "$out/peers.csv"
	done
done
awk -F, "$awk_csv$awk_median"'
	{ s = col("server"); i = ++n[s]; err[s] += col("errors")
		rps[s, i] = col("rps"); p99[s, i] = col("p99_us"); cpu[s, i] = col("server_cpu_us_per_req")
		ccpu[s, i] = col("client_cpu_us_per_req"); ucpu[s, i] = col("server_user_us_per_req")
		scpu[s, i] = col("server_sys_us_per_req")
		if (!seen[s]++) order[++k] = s }
	function med(a, s) { return median_of(a, s, n[s]) }
	END {
		base = med(cpu, "nginx")
		printf "%-14s %12s %8s %16s %14s %7s %18s %9s %9s\n", "server", "requests/s", "p99 us", "CPU us/request",
			"CPU vs nginx", "errors", "client CPU us/req", "user us", "sys us"
		for (i = 1; i <= k; i++) { s = order[i]; c = med(cpu, s)
			printf "%-14s %12.0f %8.0f %16.3f %14.2f %7d %18.3f %9.3f %9.3f\n", s, med(rps, s),
				med(p99, s), c, c / base, err[s], med(ccpu, s), med(ucpu, s), med(scpu, s) }
	}' "$out/peers.csv" | tee "$out/peers.txt"
