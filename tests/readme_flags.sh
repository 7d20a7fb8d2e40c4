#!/bin/sh
# tests/readme_flags.sh - the README's flag tables against the programs' own
# --help: every long flag --help lists has a row in its program's table
# (## muxserver, ## muxload, ## muxdispatch), and every flag a row names is
# one --help lists. So the two cannot drift apart unnoticed.
# Ends with "readme-flags: N passed, N failed".
set -u
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
for p in muxserver muxload muxdispatch; do
	# The flag an option line starts with, not flags its description mentions.
	build/$p --help | sed -nE 's/^ +(-[a-zA-Z], )?(--[a-z][a-z-]*).*/\2/p' | sort -u > "$tmp/help"
	awk -v s="## $p" '$0 == s { on = 1; next } /^## / { on = 0 } on && /^\| `/' README.md |
		cut -d'|' -f2 | grep -oE -- '--[a-z][a-z-]*' | sort -u > "$tmp/readme"
	missing=$(comm -23 "$tmp/help" "$tmp/readme" | tr '\n' ' ')
	extra=$(comm -13 "$tmp/help" "$tmp/readme" | tr '\n' ' ')
	if [ -s "$tmp/help" ] && [ -z "$missing$extra" ]; then
		pass=$((pass + 1))
	else
		fail=$((fail + 1))
		echo "FAILED: $p: in --help, not in the README's table: ${missing:-none}; in the table, not in --help: ${extra:-none}" >&2
	fi
done
echo "readme-flags: $pass passed, $fail failed"
[ "$fail" = 0 ]
