#!/bin/sh
# need.sh - make sure what a make target needs is installed.
# Usage: bench/need.sh ITEM...   where ITEM is one of
#   lib:HEADER:LIB:PACKAGE   a C header and library (-lLIB) that must compile and link
#   cmd:COMMAND:PACKAGE      a program on PATH
# As root, missing packages are installed with apt-get; otherwise the exact
# command is printed and we exit 1.
set -u
CC=${CC:-cc}

have() {
	case $1 in
	lib:*)
		IFS=: read -r _ header lib _ <<EOT
$1
EOT
		printf '#include <stdarg.h>\n#include <stddef.h>\n#include <stdint.h>\n#include <setjmp.h>\n#include <%s>\nint main(void){return 0;}\n' "$header" |
			"$CC" -x c - -l"$lib" -o /dev/null >/dev/null 2>&1 ;;
	cmd:*)
		IFS=: read -r _ cmd _ <<EOT
$1
EOT
		command -v "$cmd" >/dev/null 2>&1 ;;
	*) echo "need.sh: bad item '$1'" >&2; exit 2 ;;
	esac
}

missing=
for item in "$@"; do
	have "$item" || missing="$missing ${item##*:}"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "muxlab needs:$missing. Install with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "muxlab: installing$missing with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get install -y -q $missing >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $missing >/dev/null; } || {
	echo "muxlab: apt-get install$missing failed; run it by hand: apt-get update && apt-get install -y$missing" >&2
	exit 1
}
for item in "$@"; do
	have "$item" || { echo "muxlab: still missing after install: $item" >&2; exit 1; }
done
