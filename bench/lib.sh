# lib.sh - helpers sourced by the bench scripts (POSIX sh).

# wait_port FILE PID: wait for muxserver's "port=N" first line in FILE and
# print N. If PID dies first, print its output and fail instead of waiting
# forever.
wait_port() {
	while :; do
		p=$(sed -n 's/^port=\([0-9]*\).*/\1/p' "$1")
		[ -z "$p" ] || { echo "$p"; return 0; }
		kill -0 "$2" 2>/dev/null || { echo "muxserver (pid $2) exited before listening:" >&2; cat "$1" >&2; return 1; }
		sleep 0.05
	done
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago (for servers
# that cannot pick their own, such as nginx and sockperf).
free_port() {
	build/muxserver --port 0 --duration 0.01 --quiet | sed -n 's/^port=\([0-9]*\).*/\1/p'
}

# bench_prologue: $tmp (a scratch directory removed at exit), $spid (a server
# to kill at exit once set) and $cpu_client (the client's core: 1, or 0 on a
# single-core machine, where pinning apart is impossible).
bench_prologue() {
	tmp=$(mktemp -d)
	spid=""
	trap '[ -z "$spid" ] || kill $spid 2>/dev/null; rm -rf "$tmp"' EXIT
	cpu_client=1
	[ "$(nproc)" -ge 2 ] || cpu_client=0
}

# nginx_conf DIR PORT [DIRECTIVE] - DIR/nginx.conf for the peer we measure:
# one worker, no access log, `return 200` with muxserver's 13-byte body on
# 127.0.0.1:PORT, plus an optional top-level DIRECTIVE.
nginx_conf() {
	mkdir -p "$1/logs"
	cat > "$1/nginx.conf" <<EOF
daemon off;
${3:-}
worker_processes 1;
pid $1/nginx.pid;
error_log $1/logs/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	keepalive_requests 100000000;
	server {
		listen 127.0.0.1:$2;
		location / { return 200 "Hello, World!"; }
	}
}
EOF
}
