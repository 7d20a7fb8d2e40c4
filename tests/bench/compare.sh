#!/bin/sh
# tests/bench/compare.sh - bench/compare.sh on synthetic results directories
# built in a temporary directory: the same run twice, rps doubled, noise that
# overlaps, a cell of one repetition, bad usage, determinism, columns found by
# name. Ends with "compare: N passed, N failed" (tests/suite.sh reads it).
# COMPARE=path runs another copy of the script (to see an assertion fail).
set -u
cd "$(dirname "$0")/../.." || exit 1
compare=${COMPARE:-bench/compare.sh}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 130' INT
trap 'rm -rf "$tmp"; exit 143' TERM
pass=0 fail=0

# check DESCRIPTION COMMAND...: COMMAND must succeed.
check() {
	_what=$1; shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $_what" >&2; fi
}

# --- Synthetic runs ------------------------------------------------------------

# run DIR: a results directory whose bench.csv has the header sweep.sh writes
# (or, with COLUMNS set, these columns in this order) and the rows on stdin,
# "backend active rep rps p50_us server_cpu_us_per_req"; the other columns are
# the same in every row.
run() {
	mkdir -p "$1"
	awk -v cols="${COLUMNS:-backend,proto,active,idle,size,rate,rep,rps,p50_us,p99_us,p999_us,server_cpu_us_per_req,syscalls_per_req,waits_per_req,scanned_per_wait,events_per_wait,errors,client_saturated,kernel,cpu,cores,commit}" '
		BEGIN { n = split(cols, c, ","); print cols
			fixed["proto"] = "echo"; fixed["idle"] = 0; fixed["size"] = 64; fixed["rate"] = 0
			fixed["p99_us"] = 200; fixed["p999_us"] = 400; fixed["syscalls_per_req"] = "3.000"
			fixed["waits_per_req"] = "1.0002"; fixed["scanned_per_wait"] = "3.0"; fixed["events_per_wait"] = "1.00"
			fixed["errors"] = 0; fixed["client_saturated"] = 0; fixed["kernel"] = "6.1.0-test"
			fixed["cpu"] = "Test CPU"; fixed["cores"] = 2; fixed["commit"] = "abc1234" }
		NF {	v["backend"] = $1; v["active"] = $2; v["rep"] = $3; v["rps"] = $4; v["p50_us"] = $5
			v["server_cpu_us_per_req"] = $6
			for (i = 1; i <= n; i++) printf "%s%s", (c[i] in v ? v[c[i]] : fixed[c[i]]), (i < n ? "," : "\n") }' \
		> "$1/bench.csv"
}

run "$tmp/a" <<'EOF'
select 1 1 1000 70 30.1
select 1 2 1100 75 31.5
select 1 3 950 72 29.8
epoll 64 1 200000 250 4.1
epoll 64 2 210000 240 4.3
epoll 64 3 190000 260 4.0
EOF
# rps doubled, rep by rep; the rest as in a.
run "$tmp/double" <<'EOF'
select 1 1 2000 70 30.1
select 1 2 2200 75 31.5
select 1 3 1900 72 29.8
epoll 64 1 400000 250 4.1
epoll 64 2 420000 240 4.3
epoll 64 3 380000 260 4.0
EOF
# rps inside a's range, reps in another order.
run "$tmp/noisy" <<'EOF'
select 1 1 1050 70 30.1
select 1 2 900 75 31.5
select 1 3 1150 72 29.8
epoll 64 1 185000 250 4.1
epoll 64 2 215000 240 4.3
epoll 64 3 205000 260 4.0
EOF
# select's cell with one repetition; a poll cell a lacks.
run "$tmp/few" <<'EOF'
select 1 1 1000 70 30.1
epoll 64 1 200000 250 4.1
epoll 64 2 210000 240 4.3
epoll 64 3 190000 260 4.0
poll 1 1 990 71 30.0
poll 1 2 1010 72 30.2
poll 1 3 1000 73 30.1
EOF
# a's rows with the columns in another order.
awk -F, 'NR > 1 { print $1, $3, $7, $8, $9, $12 }' "$tmp/a/bench.csv" | COLUMNS="commit,rps,rep,idle,backend,cores,p50_us,size,active,kernel,p99_us,rate,server_cpu_us_per_req,proto,cpu,p999_us,syscalls_per_req,waits_per_req,scanned_per_wait,events_per_wait,errors,client_saturated" run "$tmp/reordered"
# Seven reps a side, spread out (rps, and CPU per request = rps / 40): what
# the interval is depends on the draws.
# seven REPS...: the rows of select's cell, one rep per value of rps.
seven() {
	_i=0
	for _v in "$@"; do _i=$((_i + 1)); echo "select 1 $_i $_v 70 $((_v / 40))"; done
}
seven 900 1300 1000 1200 950 1100 1050 | run "$tmp/seven_a"
seven 1000 1400 950 1250 1150 1050 1300 | run "$tmp/seven_b"
mkdir -p "$tmp/empty"
echo "t_s,rss_kib" > "$tmp/empty/soak.csv"

# --- Reading the output ----------------------------------------------------------

# csv A B [OPTIONS]: compare.sh --csv's rows (header left out), stderr dropped.
csv() {
	_a=$1 _b=$2; shift 2
	"$compare" --csv "$@" "$tmp/$_a" "$tmp/$_b" 2>/dev/null | sed 1d
}

# rows_where N CSVROWS AWKCONDITION: there are N rows and every one meets the
# condition (fields: 1 file, 2 cell, 3 metric, 4 a_median, 5 b_median, 6 ratio,
# 7 ci_lo, 8 ci_hi, 9 changed).
rows_where() {
	printf '%s\n' "$2" | awk -F, -v want="$1" "
		NF != 9 || !($3) { bad++ } { n++ }
		END { if (bad || n != want) { printf \"  %d of %d rows (%d wanted) fail: $3\n\", bad, n, want > \"/dev/stderr\"; exit 1 } }"
}

# has TEXT REGEX: a line of TEXT matches the (basic) regular expression.
has() {
	printf '%s\n' "$1" | grep -q -- "$2"
}

# table_rows TEXT AWKCONDITION: the table's data rows (not the "== file" line,
# the column heads, blank lines or notes) all meet the condition; fields from
# the end: $NF mark, $(NF-1) "hi]", $(NF-2) "[lo,", $(NF-3) ratio. At least one row.
table_rows() {
	printf '%s\n' "$1" | awk "
		/^backend=/ { n++; if (!($2)) { bad++; print \"  row fails: \" \$0 > \"/dev/stderr\" } }
		END { exit bad || !n }"
}

# --- (1) A against A: nothing marked, every ratio 1 --------------------------------

out=$(csv a a)
check "A vs A: every ratio 1, none marked, 18 rows" rows_where 18 "$out" '$6 == "1.0000" && $9 == "0" && $7 <= 1 && $8 >= 1'
out=$("$compare" "$tmp/a" "$tmp/a" 2>&1)
check "A vs A table: every ratio 1.00, every mark ~" table_rows "$out" '$(NF-3) == "1.00" && $NF == "~"'
check "A vs A table: the machine lines" has "$out" "^A  .*: cpu Test CPU, cores 2, kernel 6.1.0-test, commit abc1234$"
check "A vs A table: bench.csv's heading names the cells and the fixed keys" \
	has "$out" "^== bench.csv: 2 cells in both, each with proto=echo idle=0 size=64 rate=0; reps A 3, B 3$"

# --- (2) rps doubled: ratio 2, interval above 1, marked; nothing else -----------

out=$(csv a double)
check "doubled: rps ratio 2 with its interval above 1, marked" \
	rows_where 2 "$(printf '%s\n' "$out" | grep ',rps,')" '$6 == "2.0000" && $7 > 1 && $8 >= 2 && $9 == "1"'
check "doubled: the other metrics unmarked" \
	rows_where 16 "$(printf '%s\n' "$out" | grep -v ',rps,')" '$6 == "1.0000" && $9 == "0"'
out=$("$compare" --changed "$tmp/a" "$tmp/double" 2>&1)
check "doubled --changed: the rps rows only, 2.00 and *" table_rows "$out" '$(NF-3) == "2.00" && $NF == "*" && $(NF-4) + 0 == 2 * $(NF-5)'
# select: reps 950..1100 against 1900..2200: with 3 reps a side the interval is
# [min B / max A, max B / min A].
check "doubled: select's interval is [1900/1100, 2200/950]" has "$(csv a double)" \
	"^bench.csv,backend=select proto=echo active=1 idle=0 size=64 rate=0,rps,1000,2000,2.0000,1.7273,2.3158,1$"

# --- (3) overlapping noise: not marked ---------------------------------------------

out=$(csv a noisy --metric rps)
check "noisy: rps unmarked, the interval holds 1" rows_where 2 "$out" '$9 == "0" && $7 < 1 && $8 > 1'
out=$("$compare" --changed "$tmp/a" "$tmp/noisy" 2>&1)
check "noisy --changed: says no row is marked" has "$out" "^(no row marked)$"
check "noisy --changed: prints no row" sh -c '! printf "%s\n" "$1" | grep -q "^backend="' - "$out"

# --- (4) one repetition: a ratio, no interval -------------------------------------

out=$("$compare" --metric rps "$tmp/a" "$tmp/few" 2>&1)
check "few: select's row says too few reps, with its ratio" has "$out" "^backend=select active=1 *rps *1000 *1000 *1.00 *too few reps$"
check "few: epoll's row still has its interval" has "$out" "^backend=epoll active=64 *rps .*\[.*\] *~$"
check "few: the cell only in B is counted, once" sh -c '[ "$(printf "%s\n" "$1" | grep -c "^note: 0 cells only in A, 1 only in B")" = 1 ]' - "$out"
out=$(csv a few --metric rps)
check "few --csv: no interval and an empty changed for select" \
	rows_where 2 "$out" '$2 !~ /select/ || ($7 == "" && $8 == "" && $9 == "" && $6 == "1.0000")'

# --- (5) bad usage: exit 2, one line on stderr, nothing on stdout -------------------

# usage_error ARGS...: compare.sh ARGS exits 2 with one line on stderr.
usage_error() {
	"$compare" "$@" > "$tmp/out" 2> "$tmp/err"
	_rc=$?
	[ $_rc = 2 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && [ ! -s "$tmp/out" ] ||
		{ echo "  exit $_rc, stderr: $(cat "$tmp/err")" >&2; return 1; }
}
check "usage: an unknown option" usage_error --bogus "$tmp/a" "$tmp/a"
check "usage: a missing directory" usage_error "$tmp/a" "$tmp/missing"
check "usage: a directory with no CSV it reads" usage_error "$tmp/empty" "$tmp/a"
check "usage: one directory" usage_error "$tmp/a"
check "usage: an unknown metric" usage_error --metric nope "$tmp/a" "$tmp/a"
check "usage: --resamples not a number" usage_error --resamples many "$tmp/a" "$tmp/a"
check "--help: exit 0 with the usage" has "$("$compare" --help)" "^Usage: bench/compare.sh"

# --- (6) seeded: the same call prints the same; another seed may not ---------------

"$compare" --resamples 50 "$tmp/seven_a" "$tmp/seven_b" > "$tmp/s1" 2>&1
"$compare" --resamples 50 "$tmp/seven_a" "$tmp/seven_b" > "$tmp/s1again" 2>&1
"$compare" --resamples 50 --seed 2 "$tmp/seven_a" "$tmp/seven_b" > "$tmp/s2" 2>&1
check "seeded: the same call twice, the same output" cmp -s "$tmp/s1" "$tmp/s1again"
# The rows only: the closing line names the seed.
check "seeded: another seed draws other intervals (so the check above means something)" \
	sh -c '[ "$(grep "^backend=" "$1")" != "$(grep "^backend=" "$2")" ]' - "$tmp/s1" "$tmp/s2"
# server_cpu_us_per_req comes after rps and p50_us: drawn after them in one stream, it would change.
check "seeded: a row's interval does not depend on the other rows printed" sh -c '
	m=server_cpu_us_per_req
	[ "$(grep " $m " "$1" | tr -s " ")" = "$("$3" --resamples 50 --metric $m "$2/seven_a" "$2/seven_b" | grep " $m " | tr -s " ")" ]' \
	- "$tmp/s1" "$tmp" "$compare"
# Seven reps: the 2.5th and 97.5th percentiles of 2000 ratios fall inside
# [min B / max A, max B / min A] = [950/1300, 1400/900], the extreme ratios.
check "seven reps: the interval is percentiles, inside the extreme ratios" rows_where 1 \
	"$(csv seven_a seven_b --metric rps)" '$7 > 950 / 1300 + 0.01 && $8 < 1400 / 900 - 0.01 && $7 < $6 && $6 < $8'

# --- (7) columns by name: another order reads the same -------------------------------

out=$(csv a reordered)
check "reordered columns against A: every ratio 1, none marked" rows_where 18 "$out" '$6 == "1.0000" && $9 == "0"'
check "reordered columns: the same cells as A" sh -c '[ "$(printf "%s\n" "$1" | cut -d, -f2 | sort -u)" = "$(printf "%s\n" "$2" | cut -d, -f2 | sort -u)" ]' - "$out" "$(csv a a)"

# --- Every awk here prints the same ----------------------------------------------
# One check whatever the number of awks, so that the count does not depend on
# the machine; with one awk (Debian's default: mawk alone) it is not made.

# same_under_awks AWK...: compare.sh prints the same under each.
same_under_awks() {
	for _a in "$@"; do
		AWK=$_a "$compare" --resamples 200 "$tmp/seven_a" "$tmp/seven_b" > "$tmp/awk-$_a" 2>&1
		cmp -s "$tmp/awk-$1" "$tmp/awk-$_a" || { echo "  AWK=$_a differs from AWK=$1" >&2; return 1; }
	done
}
awks=""
for a in mawk gawk original-awk; do ! command -v "$a" > /dev/null 2>&1 || awks="$awks $a"; done
# shellcheck disable=SC2086 # one word per awk
set -- $awks
if [ $# -ge 2 ]; then
	check "every awk here prints the same:$awks" same_under_awks "$@"
else
	echo "note: one awk here (${awks# }): that mawk and gawk print the same is not checked (apt-get install gawk)"
fi

echo "compare: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
