#!/bin/sh
# tests/install.sh - make install into a temporary DESTDIR, as a packager
# would: the three programs run from there (--version, a short echo run of
# the installed server and client), each man page renders without a warning
# (mandoc -T lint), and make uninstall removes exactly what was installed.
# Needs help2man (make install installs it as root) and mandoc for the lint.
# Ends with "install: N passed, N failed, N skipped".
set -u
cd "$(dirname "$0")/.." || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; [ -z "${spid:-}" ] || kill "$spid" 2>/dev/null' EXIT
pass=0 fail=0 skip=0
check() {
	_what=$1; shift
	if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAILED: $_what" >&2; fi
}
finish() { echo "install: $pass passed, $fail failed, $skip skipped"; exit $((fail > 0)); }
progs="muxserver muxload muxdispatch"
root=$tmp/root
prefix=/opt/muxlab

if ! make -s install DESTDIR="$root" PREFIX="$prefix" > "$tmp/make.out" 2>&1; then
	if ! command -v help2man > /dev/null 2>&1 && [ "$(id -u)" != 0 ]; then
		echo "  skipped: make install needs help2man for the man pages (apt-get install help2man)"
		skip=1
		finish
	fi
	cat "$tmp/make.out" >&2
	check "make install" false
	finish
fi
bin=$root$prefix/bin man=$root$prefix/share/man/man1
for p in $progs; do
	check "$p installed, executable" [ -x "$bin/$p" ]
	check "$p --version: name and version" sh -c "'$bin/$p' --version | grep -Eq '^$p [0-9]+\.[0-9]+\.[0-9]+'"
	check "$p.1 installed" [ -s "$man/$p.1" ]
	check "$p.1 names its version" grep -q "$("$bin/$p" --version | sed 's/^[^ ]* //')" "$man/$p.1"
	for s in NAME SYNOPSIS DESCRIPTION '"EXIT STATUS"' EXAMPLES; do
		check "$p.1 has $s" grep -q "^\.SH $s" "$man/$p.1"
	done
	if command -v mandoc > /dev/null 2>&1; then
		mandoc -T lint -W warning "$man/$p.1" > "$tmp/lint" 2>&1
		check "$p.1 renders without a warning: $(head -n 1 "$tmp/lint")" [ ! -s "$tmp/lint" ]
	else
		echo "  skipped: no mandoc to lint $p.1 (apt-get install mandoc)"
		skip=$((skip + 1))
	fi
done

# The installed server and client, a short echo run.
"$bin/muxserver" --port 0 > "$tmp/server.out" 2>&1 &
spid=$!
n=0
while [ $n -lt 100 ] && ! grep -q '^port=' "$tmp/server.out" 2>/dev/null; do sleep 0.05; n=$((n + 1)); done
port=$(sed -n 's/^port=\([0-9]*\).*/\1/p' "$tmp/server.out")
"$bin/muxload" --port "${port:-1}" --duration 0.3 --warmup 0 --json > "$tmp/load.json" 2> "$tmp/load.err"
rc=$?
check "installed muxload against installed muxserver: exit 0 ($(cat "$tmp/load.err"))" [ $rc = 0 ]
check "  and its JSON names the version" grep -q '"version":"[0-9]' "$tmp/load.json"
kill "$spid"
wait "$spid"
check "installed muxserver stops cleanly on SIGTERM" [ $? = 0 ]
spid=""

# Someone else's files beside ours must survive the uninstall.
echo other > "$bin/other"
echo other > "$man/other.1"
make -s uninstall DESTDIR="$root" PREFIX="$prefix" > /dev/null 2>&1
check "make uninstall: ours gone, the others' kept" \
	[ "$(find "$root" -type f | sort | tr '\n' ' ')" = "$bin/other $man/other.1 " ]
finish
