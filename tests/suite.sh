#!/bin/sh
# suite.sh TALLY NAME COMMAND... - run one suite, show its output, and append
# "NAME passed failed skipped SECONDSs" to TALLY for tests/summary.sh (the
# seconds, so that the 10-minute budget of make test can be kept suite by suite).
# Counts come from cmocka's closing lines ("[  PASSED  ] N test(s).") or from
# a plain "N passed, N failed[, N skipped]" line; a suite that printed neither
# (crashed, hung, not built) counts as one failure. Skip reasons printed by the
# suites ("skipped: ...") are kept beside TALLY for the summary.
# Exit status: the suite's own.
set -u
tally=$1 name=$2; shift 2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
"$@" > "$log" 2>&1
rc=$?
secs=$(($(date +%s) - start))
cat "$log"
awk -v name="$name" -v rc="$rc" -v secs="$secs" '
	/^\[  PASSED  \] [0-9]+ test/  { p += $4; seen = 1 }
	/^\[  FAILED  \] [0-9]+ test/  { f += $4; seen = 1 }
	/^\[  SKIPPED \] [0-9]+ test/  { s += $4; seen = 1 }
	/^([A-Za-z-]+: )?[0-9]+ passed, [0-9]+ failed/ {
		sub(/^[A-Za-z-]+: /, "")
		p += $1; f += $3; if ($5 ~ /^[0-9]+$/) s += $5; seen = 1
	}
	END {
		if (!seen || (rc != 0 && f == 0)) f += 1	# no count, or a failure the counts miss
		print name, p + 0, f + 0, s + 0, secs "s"
	}' "$log" >> "$tally"
grep -E '^ *skipped: ' "$log" | sed "s|^ *|$name: |" >> "$tally.skips"
exit "$rc"
