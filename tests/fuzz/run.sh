#!/bin/sh
# run.sh SECONDS FUZZER... - run each libFuzzer binary for SECONDS on its own
# corpus under build/fuzz/; fail on the first crash, leak or assertion.
set -u
secs=$1; shift
for f in "$@"; do
	corpus="build/fuzz/corpus-$(basename "$f")"
	mkdir -p "$corpus"
	echo "== $f ($secs s)"
	if ! "$f" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix=build/fuzz/ "$corpus" \
		> "build/fuzz/$(basename "$f").log" 2>&1; then
		grep -E 'ERROR|SUMMARY|assert|Test unit written' "build/fuzz/$(basename "$f").log" | head -n 5
		echo "fuzz: $f failed; full log in build/fuzz/$(basename "$f").log"
		exit 1
	fi
	grep -E '^Done' "build/fuzz/$(basename "$f").log"
done
