#!/bin/sh
# summary.sh TALLY SUITE... - the closing lines of make test: one line per
# suite, every skip with its reason, then one line counting passed, failed and
# skipped tests across all suites. A suite named but absent from TALLY did not
# run (its build failed, or make stopped first) and counts as one failure.
# Exit status 1 when anything failed.
set -u
tally=$1; shift
touch "$tally" "$tally.skips"
echo "== summary"
for s in "$@"; do
	grep -q "^$s " "$tally" || echo "$s 0 1 0 did-not-run" >> "$tally"
done
awk '{ printf "  %-28s %4d passed, %d failed, %d skipped%s\n", $1, $2, $3, $4, ($5 ? " (" $5 ")" : "") }' "$tally"
sed 's/^/  /' "$tally.skips"
awk '{ p += $2; f += $3; s += $4 } END {
	printf "muxlab: %d passed, %d failed, %d skipped\n", p, f, s
	exit f > 0 }' "$tally"
