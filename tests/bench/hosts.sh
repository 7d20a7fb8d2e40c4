#!/bin/sh
# tests/bench/hosts.sh - bench/hosts.sh in the network namespaces it creates:
# three client hosts whose merged requests are the sum of theirs and whose
# merged p99 is the union's (HdrHistogram's own Java processor on the three
# logs together), a netem delay seen in p50 (where the kernel has netem),
# nothing left behind after a normal end, SIGINT or SIGTERM, and bad input.
# Needs root; ends with "hosts: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/../.." || exit 1
. bench/lib.sh                  # json_num, json_num_in: how the bench scripts read muxload's JSON
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 130' INT
trap 'rm -rf "$tmp"; exit 143' TERM
pass=0 fail=0 skip=0
jar=${HDRHISTOGRAM_JAR:-/usr/share/java/hdrhistogram.jar}

# check DESCRIPTION COMMAND...: COMMAND must succeed. check_all DESCRIPTION 'SHELL CONDITION':
# the whole condition (a && b), evaluated as one.
check() {
	_what=$1; shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $_what" >&2; fi
}
check_all() { check "$1" eval "$2"; }
skipped() { echo "  skipped: $*"; skip=$((skip + 1)); }
finish() { echo "hosts: $pass passed, $fail failed, $skip skipped"; exit $((fail > 0)); }

# requests FILE, pct FILE KEY: from muxload's JSON (a run's or --merge's); 0 when absent.
requests() { _v=$(json_num "$1" requests 2>/dev/null); echo "${_v:-0}"; }
pct() { _v=$(json_num_in "$1" latency_us "$2" 2>/dev/null); echo "${_v:-0}"; }
# same_bucket A B: HdrHistogram counts A and B as equivalent (3 digits: exact below 2048).
same_bucket() {
	awk -v a="$1" -v b="$2" 'function bucket(v,  s) { s = 1; while (v >= 2048 * s) s *= 2; return int(v / s) " " s }
		BEGIN { exit !(a != "" && bucket(a) == bucket(b)) }'
}
# one_line RC WANT_RC FILE: exited WANT_RC having said one line on stderr.
one_line() { [ "$1" = "$2" ] && [ "$(wc -l < "$3")" = 1 ]; }
# leftovers PREFIX: namespaces of that run still there (none expected).
leftovers() { ip netns list 2>/dev/null | awk -v p="$1-" 'index($1, p) == 1' | wc -l; }

# --- Bad input, root or not --------------------------------------------------
bench/hosts.sh --clients 0 > /dev/null 2> "$tmp/err"; rc=$?
check "--clients 0: one line, exit 2" one_line $rc 2 "$tmp/err"
bench/hosts.sh --bogus > /dev/null 2> "$tmp/err"; rc=$?
check "unknown flag: one line, exit 2" one_line $rc 2 "$tmp/err"
bench/hosts.sh --rate fast > /dev/null 2> "$tmp/err"; rc=$?
check "--rate fast: one line, exit 2" one_line $rc 2 "$tmp/err"

if [ "$(id -u)" != 0 ]; then
	bench/hosts.sh --clients 1 > /dev/null 2> "$tmp/err"; rc=$?
	check "not root: one line, exit 1" one_line $rc 1 "$tmp/err"
	skipped "bench/hosts.sh creates network namespaces: run make test as root"
	finish
fi
if command -v setpriv > /dev/null 2>&1 &&
	setpriv --reuid=nobody --regid=nogroup --clear-groups test -r bench/hosts.sh 2>/dev/null; then
	setpriv --reuid=nobody --regid=nogroup --clear-groups bench/hosts.sh > /dev/null 2> "$tmp/err"; rc=$?
	check "not root: one line, exit 1" one_line $rc 1 "$tmp/err"
	check "not root: says root" grep -q root "$tmp/err"
fi
PDSH=/nonexistent/pdsh bench/hosts.sh --clients 1 > /dev/null 2> "$tmp/err"; rc=$?
check "no pdsh: one line naming it, exit 1" one_line $rc 1 "$tmp/err"
check "no pdsh: says pdsh" grep -q "pdsh" "$tmp/err"

# --- Three client hosts, merged ------------------------------------------------
run=$tmp/run
bench/hosts.sh --clients 3 --rate 3000 --duration 2 --warmup 0.5 --out "$run" > "$tmp/out" 2> "$tmp/err" &
pid=$!
wait $pid; rc=$?
[ $rc = 0 ] || { echo "bench/hosts.sh exit $rc:" >&2; cat "$tmp/err" >&2; }
check "three hosts: exit 0" [ $rc = 0 ]
check "three hosts: nothing left behind" [ "$(leftovers "mlab$pid")" = 0 ]
sum=0
for c in 1 2 3; do
	sum=$((sum + $(requests "$run/c$c.json")))
	check_all "three hosts: c$c ran (JSON and log)" '[ "$(requests "$run/c$c.json")" -gt 0 ] && [ -s "$run/c$c.hlog" ]'
done
check "merged requests = the sum of the three ($sum)" [ "$(requests "$run/merged.json")" = "$sum" ]
check "the table has the merged row" grep -Eq "^merged +$sum +[0-9]+ +[0-9]+ " "$run/hosts.txt"
lo=$(for c in 1 2 3; do pct "$run/c$c.json" p99; done | sort -n | head -n 1)
hi=$(for c in 1 2 3; do pct "$run/c$c.json" p99; done | sort -n | tail -n 1)
m99=$(pct "$run/merged.json" p99)
check_all "merged p99 ($m99) between the hosts' lowest ($lo) and highest ($hi)" '[ "$lo" -le "$m99" ] && [ "$m99" -le "$hi" ]'
# Scripts break on paths with spaces: the same run into one.
bench/hosts.sh --clients 2 --duration 0.5 --warmup 0.2 --out "$tmp/with space" > /dev/null 2> "$tmp/err"; rc=$?
check_all "--out with a space: merged" '[ $rc = 0 ] && [ "$(requests "$tmp/with space/merged.json")" -gt 0 ]'
if command -v java > /dev/null 2>&1 && [ -r "$jar" ]; then
	# The union, by an implementation not ours: HdrHistogram's processor on the logs one after another.
	cat "$run/c1.hlog" "$run/c2.hlog" "$run/c3.hlog" > "$tmp/union.hlog"
	java -cp "$jar" org.HdrHistogram.HistogramLogProcessor -i "$tmp/union.hlog" -o "$tmp/union" \
		-outputValueUnitRatio 1 > /dev/null 2>&1
	last=$(grep 'T:' "$tmp/union" | tail -n 1)
	count=$(echo "$last" | sed -n 's/.*T:\([0-9]*\).*/\1/p')
	u99=$(echo "$last" | sed 's/.*T:[0-9]* ( *//' | awk '{ printf "%d", $3 }')
	check "the union by HdrHistogram's processor: $count requests" [ "$count" = "$sum" ]
	check "merged p99 ($m99 us) = the union's ($u99 us)" same_bucket "$m99" "$u99"
else
	skipped "no java or no $jar: merged p99 not compared with HdrHistogram's own union (apt-get install libhdrhistogram-java default-jre-headless)"
fi

# --- A netem delay of 1 ms each way: p50 about 2 ms higher ---------------------------
bench/hosts.sh --clients 1 --rate 500 --duration 1 --warmup 0.3 --delay 1 --out "$tmp/delay" > /dev/null 2> "$tmp/err" &
pid=$!
wait $pid; rc=$?
check "the delay run: nothing left behind" [ "$(leftovers "mlab$pid")" = 0 ]
if [ $rc = 1 ] && grep -q "no netem" "$tmp/err"; then
	check "no netem: one line" one_line $rc 1 "$tmp/err"
	skipped "$(uname -r) has no netem qdisc (CONFIG_NET_SCH_NETEM): the delay is not checked here"
else
	bench/hosts.sh --clients 1 --rate 500 --duration 1 --warmup 0.3 --out "$tmp/plain" > /dev/null 2>&1
	rise=$(( $(pct "$tmp/delay/merged.json" p50) - $(pct "$tmp/plain/merged.json" p50) ))
	check_all "1 ms each way: p50 rose by about 2 ms (by $rise us)" '[ $rc = 0 ] && [ "$rise" -ge 1900 ] && [ "$rise" -le 12000 ]'
fi

# --- Torn down on Ctrl-C and on SIGTERM, mid-run ------------------------------
for sig in INT TERM; do
	env --default-signal=INT bench/hosts.sh --clients 2 --duration 60 --out "$tmp/$sig" > /dev/null 2>&1 &
	pid=$!
	n=0
	while [ $n -lt 100 ] && ! ls "$tmp/$sig"/*.hlog > /dev/null 2>&1; do sleep 0.1; n=$((n + 1)); done
	check "$sig: the run had started" [ "$(leftovers "mlab$pid")" -ge 3 ]
	inside=$(for n in $(ip netns list | awk -v p="mlab$pid-" 'index($1, p) == 1 { print $1 }'); do
		ip netns pids "$n"; done)
	kill -s "$sig" "$pid"
	wait "$pid"; rc=$?
	want=$([ $sig = INT ] && echo 130 || echo 143)
	check "$sig: exit $rc (want $want)" [ "$rc" = "$want" ]
	check "$sig: namespaces gone" [ "$(leftovers "mlab$pid")" = 0 ]
	alive=""
	for p in $inside; do ! kill -0 "$p" 2>/dev/null || alive="$alive $p"; done
	check "$sig: no process of the run left (server and clients:$(echo $inside | wc -w))" [ -z "$alive" ]
done
finish
