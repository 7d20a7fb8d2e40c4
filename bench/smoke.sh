#!/bin/sh
# smoke.sh - make bench-smoke: one short cell per backend into a temporary
# directory, then check the results are whole: every backend present with
# requests/s > 0 and no errors, JSON rows for each, and every plot produced;
# then a 15-second soak (bench/soak.sh, three cycles of 5 s).
# It asserts nothing about speed.
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh
bench_prologue
bench/sweep.sh --smoke --out "$tmp"
pass=0; fail=0
check() { # description, then a command that must succeed
	what=$1; shift
	if "$@" > /dev/null 2>&1; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $what" >&2; fi
}
backends=$(backends)
check "--list-backends has at least four backends OK" test "$(echo "$backends" | wc -w)" -ge 4
for b in $backends; do
	check "$b: a row with requests/s > 0" awk -F, -v b="$b" "$awk_csv"'col("backend") == b && col("rps") > 0 { ok = 1 } END { exit !ok }' "$tmp/bench.csv"
	check "$b: no errors" awk -F, -v b="$b" "$awk_csv"'col("backend") == b && col("errors") != 0 { bad = 1 } END { exit bad }' "$tmp/bench.csv"
	check "$b: in bench.json" grep -q "\"backend\":\"$b\"" "$tmp/bench.json"
	check "$b: a fixed-rate row with server CPU per request > 0" awk -F, -v b="$b" "$awk_csv"'col("backend") == b && col("rate") > 0 && col("server_cpu_us_per_req") > 0 { ok = 1 } END { exit !ok }' "$tmp/bench.csv"
done
for f in fixed rps p99 cpu; do
	check "$f.png is a PNG" sh -c "head -c 8 '$tmp/$f.png' | od -An -c | grep -q 'P   N   G'"
	check "$f.svg is an SVG" grep -q '<svg' "$tmp/$f.svg"
done
check "README.md has the medians table" grep -q '^| backend | active' "$tmp/README.md"
# The soak, 15 seconds of it (cycles of 5 s): the server survives 5000-connection churn with no client errors.
check "soak.sh 15 s: no errors, server alive" env CYCLE=5 bench/soak.sh 15 epoll "$tmp/soak"
check "soak.csv has samples" awk -F, 'END { exit NR < 3 }' "$tmp/soak/soak.csv"
cat "$tmp/soak/soak.txt" 2>/dev/null || true
echo "bench-smoke: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
