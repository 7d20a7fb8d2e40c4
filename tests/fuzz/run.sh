#!/bin/sh
# run.sh SECONDS FUZZER... - run each libFuzzer binary for SECONDS on its own
# corpus under build/fuzz/; a crash, leak or assertion fails that target.
# Ends with "fuzz: N passed, N failed" for make test's summary. FUZZ_SEED fixes
# libFuzzer's seed (make test uses 1, so a smoke run is repeatable; make fuzz
# leaves it random); crash files found before are replayed first.
set -u
secs=$1; shift
pass=0 fail=0
for f in "$@"; do
	name=$(basename "$f")
	corpus="build/fuzz/corpus-$name"
	mkdir -p "$corpus"
	echo "== $f ($secs s${FUZZ_SEED:+, seed $FUZZ_SEED})"
	for crash in "build/fuzz/$name-"crash-* "build/fuzz/$name-"leak-* "build/fuzz/$name-"timeout-*; do
		[ -e "$crash" ] || continue
		"$f" "$crash" > "build/fuzz/$name.replay.log" 2>&1 || {
			echo "fuzz: $f still fails on $crash (log: build/fuzz/$name.replay.log)"; fail=$((fail + 1)); continue 2; }
	done
	if "$f" ${FUZZ_SEED:+-seed="$FUZZ_SEED"} -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="build/fuzz/$name-" "$corpus" \
		> "build/fuzz/$name.log" 2>&1; then
		grep -E '^Done' "build/fuzz/$name.log"
		pass=$((pass + 1))
	else
		grep -E 'ERROR|SUMMARY|assert|Test unit written' "build/fuzz/$name.log" | head -n 5
		echo "fuzz: $f failed; full log in build/fuzz/$name.log"
		fail=$((fail + 1))
	fi
done
echo "fuzz: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
