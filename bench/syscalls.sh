#!/bin/sh
# syscalls.sh - syscalls per request of muxserver under a fixed ping-pong
# load (CONNS connections, 64 by default as in the sweep's busy cells; 64-byte messages), one row per backend, counted by
# strace -c -f, beside the server's own count (its summary's syscalls=, the
# request path's calls). strace slows the server down; the per-request ratio
# is what we read, not the rate. io_uring_enter is the uring backends' wait.
# Usage: bench/syscalls.sh [SECONDS] [OUTFILE]
set -eu
secs=${1:-4}
conns=${CONNS:-64}
out=${2:-/dev/stdout}
cd "$(dirname "$0")/.."
. bench/lib.sh
bench/need.sh cmd:strace:strace
build_tools build/muxserver build/pingpong
bench_prologue
{
echo "# $conns ping-pong connections, 64 B messages, $secs s under strace -c -f"
printf '%-10s %9s %9s %12s %8s %8s %8s %8s %14s\n' backend requests syscalls syscalls/req read/req write/req wait/req ctl/req counted/req
for b in $(backends); do
	start_server "$tmp/$b.out" strace -c -f -o "$tmp/$b.strace" \
		build/muxserver --backend "$b" --port 0 --duration $((secs + 1))
	taskset -c $cpu_client build/pingpong "$port" "$conns" 64 "$secs" > "$tmp/$b.client"
	bench_wait || true
	req=$(field "$(grep '^summary ' "$tmp/$b.out")" requests)
	counted=$(field "$(grep '^summary ' "$tmp/$b.out")" syscalls)
	awk -v b=$b -v req="$req" -v counted="$counted" '
		$NF ~ /^(read|write|sendto|recvfrom|select|pselect6|poll|ppoll|epoll_wait|epoll_pwait|epoll_ctl|io_uring_enter)$/ { n[$NF] = $4 }
		$NF == "total" { total = $4 }
		END {
			wait = n["select"] + n["pselect6"] + n["poll"] + n["ppoll"] + n["epoll_wait"] + n["epoll_pwait"] + n["io_uring_enter"]
			printf "%-10s %9d %9d %12.3f %8.3f %8.3f %8.3f %8.3f %14.3f\n", b, req, total, total / req,
				(n["read"] + n["recvfrom"]) / req, (n["write"] + n["sendto"]) / req, wait / req, n["epoll_ctl"] / req,
				counted / req
		}' "$tmp/$b.strace"
done
} > "$out"
[ "$out" = /dev/stdout ] || cat "$out"
