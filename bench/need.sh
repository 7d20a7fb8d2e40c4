#!/bin/sh
# need.sh - make sure what a make target needs is installed, before it runs.
# Usage: bench/need.sh ITEM... [--optional ITEM...]
#   lib:HEADER:LIB:PACKAGE[@WHAT]   a C header and library (-lLIB) that must compile and link
#   cmd:COMMAND:PACKAGE[@WHAT]      a program on PATH
#   file:PATH:PACKAGE[@WHAT]        a file a package ships (a jar, say)
# WHAT (optional items) names what is skipped without the package.
# As root, everything missing is installed in one apt-get call. Otherwise the
# exact command is printed on one line; a missing required item exits 1, while
# missing optional items only say what will be skipped (exit 0).
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
	file:*)
		IFS=: read -r _ path _ <<EOT
$1
EOT
		[ -r "$path" ] ;;
	*) echo "need.sh: bad item '$1'" >&2; exit 2 ;;
	esac
}

package() { p=${1%%@*}; echo "${p##*:}"; }

missing= optional= skipped= skipped_pkgs= items=
for arg in "$@"; do
	[ "$arg" = --optional ] && { optional=1; continue; }
	items="$items $arg"
	have "${arg%%@*}" && continue
	pkg=$(package "$arg")
	case " $missing $skipped_pkgs " in *" $pkg "*) ;; *)
		if [ -n "$optional" ]; then
			skipped_pkgs="$skipped_pkgs $pkg"
			case $arg in *@*)	# each skipped test named once
				note=${arg#*@}
				case ";$skipped;" in *";$note;"*) ;; *) skipped="$skipped${skipped:+;}$note" ;; esac ;;
			esac
		else
			missing="$missing $pkg"
		fi ;;
	esac
done
all="$missing$skipped_pkgs"
[ -z "$all" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	if [ -n "$missing" ]; then
		echo "muxlab needs:$all. Install with: sudo apt-get install -y$all" >&2
		exit 1
	fi
	echo "muxlab: not root, so not installing:$all (sudo apt-get install -y$all); skipped until then: $(echo "$skipped" | sed 's/;/, /g')" >&2
	exit 0
fi
echo "muxlab: installing$all with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
# shellcheck disable=SC2086
apt-get install -y -q $all >/dev/null 2>&1 ||
	{ apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $all >/dev/null; } || {
	echo "muxlab: apt-get install$all failed; run it by hand: apt-get update && apt-get install -y$all" >&2
	exit 1
}
for item in $items; do
	have "${item%%@*}" || { echo "muxlab: still missing after install: ${item%%@*}" >&2; exit 1; }
done
