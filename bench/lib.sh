# lib.sh - helpers sourced by the bench scripts (POSIX sh). Helper-private
# variables start with an underscore: sh has no locals.

# --- Backends ------------------------------------------------------------

# backends: the backends muxserver's registry reports OK on this host, one
# name a line, in registry order. The registry (--list-backends) is the only
# list of backends; no script names them. None OK (or no build/muxserver)
# is an error.
# build_tools TARGET...: make them, unless the run that called us already
# did (make bench exports BENCH_BUILT=1): a script started halfway through a
# sweep must measure the binaries the sweep began with, not a tree edited since.
build_tools() {
	[ "${BENCH_BUILT:-}" = 1 ] || make -s "$@"
}

backends() {
	build/muxserver --list-backends | awk '$2 == "OK" { print $1; n++ }
		END { if (!n) print "bench: no backend OK in build/muxserver --list-backends" > "/dev/stderr"; exit !n }'
}

# --- Processes -----------------------------------------------------------

# bench_alive PID...: whether any of them still runs (a zombie does not: a
# dead child stays "alive" to kill -0 until its parent waits for it, and
# inside $(...) the parent is blocked on us).
bench_alive() {
	for _p in "$@"; do
		_s=$(sed -n 's/.*) \([A-Za-z]\).*/\1/p' "/proc/$_p/stat" 2>/dev/null) || continue
		case $_s in '' | Z | X) ;; *) return 0 ;; esac
	done
	return 1
}

# bench_kill PID...: end these processes and their children (a wrapper's
# server, nginx's worker): SIGTERM, up to 2 s to go, then SIGKILL; reap ours.
bench_kill() {
	[ $# -gt 0 ] || return 0
	_all="$*"
	for _p in "$@"; do _all="$_all $(pgrep -P "$_p" 2>/dev/null | tr '\n' ' ')"; done
	# shellcheck disable=SC2086
	kill $_all 2>/dev/null || true
	_n=0
	# shellcheck disable=SC2086
	while [ $_n -lt 20 ] && bench_alive $_all; do sleep 0.1; _n=$((_n + 1)); done
	for _p in $_all; do ! bench_alive "$_p" || kill -9 "$_p" 2>/dev/null || true; done
	for _p in "$@"; do wait "$_p" 2>/dev/null || true; done
}

# bench_prologue: $tmp (a scratch directory), $spid (the pids to stop at the
# end: every server or background child, added as it starts - start_server
# does - and cleared once waited for), $cpu_server (0) and $cpu_client (1, or
# 0 on a single-core machine, where pinning apart is impossible). At exit,
# and on SIGINT or SIGTERM (then exit 130 or 143), bench_cleanup runs once.
# dash runs no EXIT trap on a signal, hence the three traps.
bench_prologue() {
	tmp=$(mktemp -d)
	spid=""
	cpu_server=0
	# shellcheck disable=SC2034 # used by the scripts
	cpu_client=$(($(nproc) >= 2 ? 1 : 0))
	trap bench_cleanup EXIT
	trap 'bench_cleanup; exit 130' INT
	trap 'bench_cleanup; exit 143' TERM
}

# bench_cleanup: kill what $spid holds and remove $tmp; once (it disarms the
# traps first, so "exit 130" after it does not run it again, and a second
# Ctrl-C cannot cut it short).
bench_cleanup() {
	trap '' INT TERM
	trap - EXIT
	# shellcheck disable=SC2086
	bench_kill $spid
	spid=""
	rm -rf "$tmp"
}

# start_server OUT [--sleep S] CMD...: CMD (a server, possibly behind a
# wrapper such as strace or valgrind) in the background on core $cpu_server,
# stdout to OUT, stderr to OUT.err, its pid in $server_pid and added to $spid. Then it waits for
# muxserver's "port=N" line and sets $port; or, with --sleep (servers that do
# not print their port: nginx, sockperf), gives it S seconds. A server that
# dies before it is up ends the script with its output.
start_server() {
	_out=$1; shift
	_sleep=""
	[ "$1" != --sleep ] || { _sleep=$2; shift 2; }
	taskset -c "$cpu_server" "$@" > "$_out" 2> "$_out.err" &
	_pid=$!
	server_pid=$_pid
	spid="${spid:+$spid }$_pid"
	if [ -z "$_sleep" ]; then
		# shellcheck disable=SC2034 # used by the scripts
		port=$(wait_port "$_out" "$_pid") || { cat "$_out.err" >&2; exit 1; }
	else
		sleep "$_sleep"
		bench_alive "$_pid" || { echo "$1 exited at start:" >&2; cat "$_out" "$_out.err" >&2; exit 1; }
	fi
}

# bench_wait: wait for the processes in $spid to end by themselves, then
# clear it; fails if one of them failed.
bench_wait() {
	_rc=0
	for _p in $spid; do wait "$_p" || _rc=$?; done
	spid=""
	return $_rc
}

# bench_stop [SIGNAL]: send SIGNAL (default TERM) to the processes in $spid,
# wait for them (their exit status does not matter) and clear it.
bench_stop() {
	# shellcheck disable=SC2086
	[ -z "$spid" ] || kill -s "${1:-TERM}" $spid 2>/dev/null || true
	bench_wait || true
}

# wait_port FILE PID: wait for muxserver's "port=N" first line in FILE and
# print N. If PID dies first, print its output and fail instead of waiting
# forever. FILE may not exist yet: the background child opens it.
wait_port() {
	while :; do
		_up=""
		! bench_alive "$2" || _up=1	# before the read: a server that printed and quit is not a failure
		_port=$(sed -n 's/^port=\([0-9]*\).*/\1/p' "$1" 2>/dev/null) || _port=""
		[ -z "$_port" ] || { echo "$_port"; return 0; }
		[ -n "$_up" ] || { echo "muxserver (pid $2) exited before listening:" >&2; cat "$1" >&2; return 1; }
		sleep 0.05
	done
}

# free_port: a TCP port on 127.0.0.1 that was free a moment ago (for servers
# that cannot pick their own, such as nginx and sockperf).
free_port() {
	build/muxserver --port 0 --duration 0.01 --quiet | sed -n 's/^port=\([0-9]*\).*/\1/p'
}

# stamp: the UTC time for the name of a results directory.
stamp() {
	date -u +%Y%m%dT%H%M%SZ
}

# --- Measuring -----------------------------------------------------------

# machine_facts: $kernel, $cpu (the model name, commas dropped: it goes in
# CSV rows), $cores and $commit (short hash, "-dirty" when tracked files
# differ from it), for CSV rows and plot captions.
machine_facts() {
	kernel=$(uname -r)
	cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr -d ',')
	[ -n "$cpu" ] || cpu=$(uname -m)
	cores=$(nproc)
	commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
	[ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit-dirty"
}

# stats_count OUT: how many "stats" lines the muxserver writing to OUT has
# printed. await_stats OUT N: wait until it has printed N (it prints one on
# each SIGUSR1); ends the script, with the server's stderr, if the server
# died or 10 s pass.
stats_count() {
	grep -c '^stats ' "$1" || true
}
await_stats() {
	_w=0
	while [ "$(stats_count "$1")" -lt "$2" ]; do
		# A dead server stays a zombie while we wait inside $(...): ask /proc.
		bench_alive "$server_pid" || { echo "bench: the server died:" >&2; cat "$1.err" >&2; exit 1; }
		_w=$((_w + 1))
		[ $_w -lt 500 ] || { echo "bench: the server printed no stats line in 10 s" >&2; exit 1; }
		sleep 0.02
	done
}

# server_snapshot OUT: the newest "stats" line of the muxserver writing to
# OUT (started by start_server, pid $server_pid), after asking for a fresh
# one with SIGUSR1.
server_snapshot() {
	_n=$(stats_count "$1")
	kill -USR1 "$server_pid" 2>/dev/null || true
	await_stats "$1" $((_n + 1))
	grep '^stats ' "$1" | tail -n 1
}

# hold_idle SERVER_OUT N: N idle connections to the server on $port, opened
# by a muxload of their own (on core $cpu_client, one request a second on
# one more connection, its pid added to $spid) and held until bench_stop.
# Returns once the server has them all open. Opening them costs the server
# more the more it already holds (select and poll scan every one of them per
# accept): held apart, that cost stays out of the figures of the
# repetitions measured on top of them.
hold_idle() {
	[ "$2" -gt 0 ] || return 0
	taskset -c "$cpu_client" build/muxload --port "$port" --connections 1 --idle "$2" --rate 0.1 \
		--duration 100000 --warmup 0 > /dev/null 2> "$tmp/hold.err" &
	spid="$spid $!"
	_t=0
	while :; do
		_open=$(server_snapshot "$1") || exit 1
		_open=$(field "$_open" open)
		[ -n "$_open" ] || { echo "bench: no open= in the server's stats" >&2; exit 1; }
		[ "$_open" -le "$2" ] || break
		bench_alive $! || { echo "bench: holding $2 idle connections failed: $(head -n 1 "$tmp/hold.err")" >&2; exit 1; }
		_t=$((_t + 1))
		[ $_t -lt 600 ] || { echo "bench: $2 idle connections not open after a minute" >&2; exit 1; }
		sleep 0.1
	done
}

# measure_cols: the columns of the row measure_rep prints, in order.
measure_cols=rps,p50_us,p99_us,p999_us,server_cpu_us_per_req,syscalls_per_req,waits_per_req,scanned_per_wait,events_per_wait,errors,client_cpu_pct,client_saturated

# measure_rep SERVER_OUT WARMUP SECS MUXLOAD_ARGS...: one repetition.
# muxload --json, WARMUP then SECS measured seconds, on core $cpu_client
# against $port, with --mark-pid: it has the server print its counters when
# its measured interval starts and when it ends, so the server's CPU,
# syscalls and waits per request cover exactly that interval (no connecting,
# warm-up or closing, which cost select and poll a scan of every idle fd
# each) and nothing of ours runs during it. Prints one CSV row of
# $measure_cols; rps and latency are muxload's own (the achieved rate in open
# loop; latency coordinated-omission corrected in open loop). A muxload that
# cannot run ends the script with its error.
measure_rep() {
	_sout=$1 _warm=$2 _secs=$3; shift 3
	_n=$(stats_count "$_sout")
	taskset -c "$cpu_client" build/muxload --port "$port" --json --warmup "$_warm" --duration "$_secs" \
		--mark-pid "$server_pid" "$@" > "$tmp/measure.json" 2> "$tmp/measure.err" || true
	if ! grep -q throughput_rps "$tmp/measure.json"; then
		echo "bench: muxload $* failed: $(head -n 1 "$tmp/measure.err")" >&2
		exit 1
	fi
	await_stats "$_sout" $((_n + 2))	# muxload's two marks
	_before=$(grep '^stats ' "$_sout" | sed -n "$((_n + 1))p")
	_after=$(grep '^stats ' "$_sout" | sed -n "$((_n + 2))p")
	awk -v rps="$(json_num "$tmp/measure.json" throughput_rps)" \
	    -v p50="$(json_num_in "$tmp/measure.json" latency_us p50)" \
	    -v p99="$(json_num_in "$tmp/measure.json" latency_us p99)" \
	    -v p999="$(json_num_in "$tmp/measure.json" latency_us p99_9)" \
	    -v err="$(json_num "$tmp/measure.json" errors)" \
	    -v ccpu="$(json_num_in "$tmp/measure.json" client_cpu busiest_thread_pct)" \
	    -v sat="$(json_num_in "$tmp/measure.json" client_cpu saturated)" \
	    -v before="$_before" -v after="$_after" '
	function kv(line, a,    n, i, f, p) {	# the key=value fields of a stats line
		n = split(line, f, " ")
		for (i = 1; i <= n; i++) if ((p = index(f[i], "=")) > 0) a[substr(f[i], 1, p - 1)] = substr(f[i], p + 1)
	}
	function d(k) { return a1[k] - a0[k] }
	BEGIN {
		kv(before, a0); kv(after, a1)
		req = d("requests") > 0 ? d("requests") : 1
		waits = d("waits") > 0 ? d("waits") : 1
		printf "%.1f,%d,%d,%d,%.3f,%.3f,%.4f,%.1f,%.2f,%d,%.1f,%d\n", rps, p50, p99, p999,
			(d("cpu_user_s") + d("cpu_sys_s")) * 1e6 / req,
			("syscalls" in a1 ? d("syscalls") : d("reads") + d("writes") + d("waits") + d("ctl")) / req, d("waits") / req,
			d("scanned") / waits, d("events") / waits, err, ccpu, sat == "true"
	}'
}

# measure_get ROW NAME: the field NAME (one of $measure_cols) of a row
# measure_rep printed.
measure_get() {
	printf '%s\n' "$1" | awk -F, -v cols="$measure_cols" -v name="$2" '
		BEGIN { n = split(cols, h, ","); for (i = 1; i <= n; i++) if (h[i] == name) c = i
			if (!c) { printf "bench: no field \"%s\" in a measured row\n", name > "/dev/stderr"; exit 2 } }
		{ print $c }'
}

# unsettled CSV METRIC CONDITION: the backends (in the order of $backends)
# that need another repetition among the rows of CSV for which the awk
# CONDITION (over col()) holds: fewer than $min_reps rows, or a spread of
# METRIC - (max - min) / median - over $spread_max, unless they have
# $max_reps rows already. Empty when every cell is settled.
unsettled() {
	awk -F, -v metric="$2" -v lo="$min_reps" -v hi="$max_reps" -v limit="$spread_max" \
	    -v order="$backends" "$awk_csv$awk_median$awk_spread"'
	'"$3"' { b = col("backend"); n[b]++; v[b, n[b]] = col(metric) }
	END {
		k = split(order, list, " ")
		for (i = 1; i <= k; i++) {
			b = list[i]
			if (n[b] < lo || (n[b] < hi && spread_of(v, b, n[b]) > limit)) printf "%s ", b
		}
	}' "$1"
}

# awk_spread: awk source with spread_of(A, K, N), (max - min) / median of
# A[K, 1..N]: the figure every cell's noise is judged by (0 for one value).
awk_spread='
function spread_of(a, k, n,    i, lo, hi, m) {
	lo = hi = a[k, 1] + 0
	for (i = 2; i <= n; i++) { if (a[k, i] + 0 < lo) lo = a[k, i] + 0; if (a[k, i] + 0 > hi) hi = a[k, i] + 0 }
	m = median_of(a, k, n)
	return m > 0 ? (hi - lo) / m : 0
}
'

# Repetitions: at least MIN_REPS, more (up to MAX_REPS) while a cell's
# spread exceeds SPREAD (a fraction); cells still over it are flagged noisy.
min_reps=${MIN_REPS:-3}
max_reps=${MAX_REPS:-4}
spread_max=${SPREAD:-0.10}

# progress_start N WHAT: a phase of N runs begins (at least N: noisy cells
# add repetitions). progress LABEL: one line on stderr per run, with the
# phase's estimated time left from the runs so far.
progress_start() {
	_runs=$1; _done=0; _t0=$(date +%s)
	echo "bench: $2: at least $1 runs" >&2
}
progress() {
	_done=$((_done + 1))
	[ "$_done" -le "$_runs" ] || _runs=$_done
	_el=$(($(date +%s) - _t0))
	_eta=0
	[ "$_done" -le 1 ] || _eta=$((_el * (_runs - _done + 1) / (_done - 1)))
	printf '[%d/%d] %s  ETA %02d:%02d\n' "$_done" "$_runs" "$1" $((_eta / 60)) $((_eta % 60)) >&2
}

# --- Reading results -----------------------------------------------------

# json_num FILE KEY: the value (a number, true, false or null) of "KEY" in
# FILE, muxload's one-line --json output. Where KEY occurs twice, the last:
# muxload writes its "params" object first, so "requests" and "duration_s"
# are the results, not the parameters. Empty when KEY is missing.
json_num() {
	sed -n "s/.*\"$2\":\([-+.0-9A-Za-z]*\).*/\1/p" "$1"
}

# json_num_in FILE OBJECT KEY: the value of KEY inside the flat object
# "OBJECT":{...} in FILE (latency_us p99, client_cpu saturated).
json_num_in() {
	sed -n "s/.*\"$2\":{[^}]*\"$3\":\([-+.0-9A-Za-z]*\).*/\1/p" "$1"
}

# field LINE KEY: the value of KEY=value in LINE, one of muxserver's
# "stats ..." or "summary ..." lines.
field() {
	printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# awk_csv: awk source to put before a program run with -F, on CSV files with
# a header line. It reads each file's header (the program never sees it) and
# gives col(NAME), the current row's field in the column NAME; a name that is
# not in the header is an error, not an empty field.
# Example: awk -F, "$awk_csv"'col("rps") > 0 { n++ } END { print n }' bench.csv
awk_csv='
FNR == 1 { for (_i = 1; _i <= NF; _i++) _colnum[$_i] = _i; next }
function col(name) {
	if (!(name in _colnum)) {
		printf "awk: no column \"%s\" in %s\n", name, FILENAME > "/dev/stderr"
		exit 2
	}
	return $_colnum[name]
}
'

# csv_get FILE NAME [ROW]: the value in column NAME of data row ROW (default
# 1, the first row after the header).
csv_get() {
	awk -F, -v name="$2" -v row="${3:-1}" "$awk_csv"'FNR == row + 1 { print col(name); exit }' "$1"
}

# csv_index FILE NAME: the position of the column NAME in FILE (for sort -k).
csv_index() {
	awk -F, -v name="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) { print i; exit }
		printf "no column \"%s\" in %s\n", name, FILENAME > "/dev/stderr"; exit 2 }' "$1"
}

# awk_median: awk source with median(V, N), the median of V[1..N] (sorted in
# place; for an even N the mean of the two middle values), and
# median_of(A, K, N), the median of A[K, 1..N] (A untouched). An odd N gives
# the value as written (9470.0 stays 9470.0).
awk_median='
function median(v, n,    i, j, t) {
	for (i = 2; i <= n; i++)
		for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
	return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function median_of(a, k, n,    i, v) {
	for (i = 1; i <= n; i++) v[i] = a[k, i]
	return median(v, n)
}
'

# median: the median of the numbers on stdin, one a line (awk_median's).
median() {
	awk "$awk_median"'BEGIN { OFMT = "%.10g" } { v[++n] = $1 } END { if (n) print median(v, n) }'
}

# --- Outputs ---------------------------------------------------------------

# png_svg BASE WIDTH,HEIGHT: the gnuplot script on stdin (without terminal
# and output), run twice: BASE.png and BASE.svg.
png_svg() {
	_script=$(cat)
	for _ext in png svg; do
		case $_ext in
		png) _term="pngcairo size $2 font ',10'" ;;
		svg) _term="svg size $2 font 'sans,11'" ;;
		esac
		printf "set terminal %s\nset output '%s'\n%s\n" "$_term" "$1.$_ext" "$_script" | gnuplot
	done
}

# plot_caption CSV: "CPU, N cores, Linux K, commit C" from the first row of
# a results CSV with those columns: every plot names the machine it came from.
plot_caption() {
	printf '%s, %s cores, Linux %s, commit %s' "$(csv_get "$1" cpu)" "$(csv_get "$1" cores)" \
		"$(csv_get "$1" kernel)" "$(csv_get "$1" commit)"
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
