#!/bin/sh
# compare.sh - compare two results directories (two kernels, two commits, two
# machines), in the spirit of Go's benchstat.
#
# Usage: bench/compare.sh [OPTIONS] RUN_A RUN_B
#   --metric NAME   only this metric (may repeat)
#   --file NAME     only this CSV file (may repeat)
#   --changed       only the rows marked * (default: every row, as benchstat)
#   --csv           machine-readable rows instead of tables:
#                   file,cell,metric,a_median,b_median,ratio,ci_lo,ci_hi,changed
#                   (changed: 1, 0, or empty for too few reps); the machine
#                   lines and notes then go to stderr
#   --resamples N   bootstrap resamples per row (default 2000)
#   --seed N        seed of the resampling (default 1)
#   --help          this text
#
# For each CSV file it reads (FILES below) that both runs have, each cell (the
# values of the key columns) that both have, and each metric column: the
# median of A's repetitions, of B's, the ratio B/A, and a 95% bootstrap
# interval of that ratio: A's and B's repetitions are resampled independently
# with replacement N times, and the 2.5th and 97.5th percentiles (nearest
# rank) of the N ratios of medians are the bounds. A row is marked * when the
# interval excludes 1, ~ (no difference shown) otherwise. A cell with fewer
# than 2 repetitions on either side gets its ratio and "too few reps", no
# interval. With 3 repetitions a side, the interval is in effect
# [min B / max A, max B / min A]: a row is marked when the two sets of
# repetitions do not overlap, which two runs of one and the same thing do by
# chance in 1 row in 10 (2 orders out of the 20 ways to split 6 values in 3
# and 3). Each row's resampling is seeded by --seed and the row's own name,
# so the same call prints the same, with mawk or gawk, whatever the filters.
# Values that are not numbers (n/a) are left out; a metric with no number on
# one side is not printed.
#
# Exit status: 2 for bad usage (unknown option, missing directory, a
# directory with no CSV it reads, nothing in common), 0 otherwise, whatever
# changed. AWK=gawk (or mawk) picks the awk; the default is awk.
set -eu
export LC_ALL=C	# "." as the decimal point, bytes as characters
# shellcheck source=SCRIPTDIR/lib.sh
. "$(dirname "$0")/lib.sh"
AWK=${AWK:-awk}

# --- What compare.sh knows: the one list to extend --------------------------
# Columns are told apart by name, never by position: a run written by another
# commit may order or add them differently.
#
# FILES: the CSV files read, each with one row per repetition (kerrisk.csv
# holds one row per cell, so its cells are "too few reps"; bench.csv holds
# the fixed-rate cells beside the closed-loop ones (rate > 0); curve.csv's
# steps are fractions of each run's own closed-loop maximum, so two runs
# share its cells by step, not rate). The *medians.csv files are left out on
# purpose: their rows are already medians.
FILES="bench.csv curve.csv sustainable.csv rss.csv peers.csv sockperf.csv dispatch.csv socketpair.csv kerrisk.csv"
# KEYS: the columns that name a cell (what was run). Rows with equal values in
# all of them are repetitions of one cell.
KEYS="backend proto active idle size rate step slo_us fds writes ops mode server client peer driver library mechanism source"
# NOT_KEYS: FILE:COLUMN, a key column that does not name cells in that file:
# curve.csv's offered rate is its step times each run's own maximum.
NOT_KEYS="curve.csv:rate"
# METRICS: the columns that were measured.
METRICS="rps achieved p50_us p99_us p999_us avg_us server_cpu_us_per_req client_cpu_us_per_req
server_user_us_per_req server_sys_us_per_req syscalls_per_req waits_per_req scanned_per_wait
events_per_wait us_per_event seconds client_cpu_pct sustainable_rps closed_max_rps floor_p99_us rss_kib"
# IGNORED: neither key nor metric. rep numbers the repetitions; the machine
# columns are printed once at the top; errors and client_saturated qualify a
# row; dispatch.csv's events and waits are counts (0 where a library does not
# count them); noisy_steps counts a curve's stalls. status: a row whose status is not "ok" (a crashed dispatch
# cell) is left out. A column in no list is ignored with a warning on stderr,
# so that a new key cannot silently merge cells.
IGNORED="rep kernel cpu cores commit errors client_saturated events waits status limited_by noisy_steps"
# MACHINE: the columns of each run's machine line, taken from its first row.
MACHINE="cpu cores kernel commit"

# --- Arguments ----------------------------------------------------------------

usage() {
	sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"
}

# die MESSAGE: one line on stderr, exit 2 (every way to call it wrongly).
die() {
	echo "compare.sh: $*" >&2
	exit 2
}

# flat LIST: the words of LIST on one line (some awks refuse a newline in -v).
flat() {
	# shellcheck disable=SC2086 # splitting is the point
	echo $1
}

# among WORD LIST: whether WORD is one of the words of LIST.
among() {
	case " $(flat "$2") " in *" $1 "*) return 0 ;; esac
	return 1
}

# count VALUE OPTION: VALUE must be a whole number from 0 (a seed) or 1 up.
count() {
	case $1 in '' | *[!0-9]*) die "$2 needs a whole number, not '$1'" ;; esac
	[ ${#1} -le 15 ] || die "$2 $1 is too large"
}

want="" files="" changed=0 csv=0 resamples=2000 seed=1 run_a="" run_b=""
while [ $# -gt 0 ]; do
	case $1 in
	--metric=* | --file=* | --resamples=* | --seed=*)
		_o=${1%%=*} _v=${1#*=}
		shift
		set -- "$_o" "$_v" "$@"
		continue ;;
	--metric | --file | --resamples | --seed)
		[ $# -ge 2 ] || die "$1 needs a value (try --help)" ;;
	esac
	case $1 in
	--metric) among "$2" "$METRICS" || die "unknown metric '$2' (known: $(flat "$METRICS"))"
		want="$want $2"; shift ;;
	--file) among "$2" "$FILES" || die "unknown file '$2' (known: $FILES)"
		among "$2" "$files" || files="$files $2"; shift ;;
	--resamples) count "$2" "$1"; [ "$2" -ge 1 ] || die "--resamples needs at least 1"
		resamples=$2; shift ;;
	--seed) count "$2" "$1"; seed=$2; shift ;;
	--changed) changed=1 ;;
	--csv) csv=1 ;;
	--help | -h) usage; exit 0 ;;
	--) shift; break ;;
	-?*) die "unknown option '$1' (try --help)" ;;
	*) if [ -z "$run_a" ]; then run_a=$1; elif [ -z "$run_b" ]; then run_b=$1
	   else die "two results directories expected, not a third: '$1'"; fi ;;
	esac
	shift
done
for _r in "$@"; do	# after --
	if [ -z "$run_a" ]; then run_a=$_r; elif [ -z "$run_b" ]; then run_b=$_r
	else die "two results directories expected, not a third: '$_r'"; fi
done
[ -n "$run_b" ] || die "two results directories expected: RUN_A RUN_B (try --help)"
files=${files:-$FILES}

# --- The runs -----------------------------------------------------------------

# readable DIR: the files of FILES that DIR has, with a header at least.
readable() {
	for _f in $FILES; do [ ! -s "$1/$_f" ] || printf '%s ' "$_f"; done
}

# machine DIR: "cpu ..., cores ..., kernel ..., commit ..." from the first row
# of the first file that has any of the MACHINE columns.
machine() {
	for _f in $(readable "$1"); do
		_m=$($AWK -F, -v names="$MACHINE" '
			{ sub(/\r$/, "") }
			NR == 1 { for (i = 1; i <= NF; i++) at[$i] = i; next }
			{	n = split(names, w, " ")
				for (i = 1; i <= n; i++) if (w[i] in at) s = s (s == "" ? "" : ", ") w[i] " " $at[w[i]]
				print s; exit }' "$1/$_f")
		[ -z "$_m" ] || { echo "$_m"; return 0; }
	done
	echo "no $(echo "$MACHINE" | tr ' ' ,) column in its CSVs"
}

for _d in "$run_a" "$run_b"; do
	[ -d "$_d" ] || die "$_d: no such directory"
	[ -n "$(readable "$_d")" ] || die "$_d: no CSV file that compare.sh reads ($FILES)"
done
# Both runs' files, pairwise as awk's arguments (A's then B's), and the notes
# on the files only one run has. "./" keeps awk from taking a directory named
# like x=1 for an assignment.
case $run_a in /*) pa=$run_a ;; *) pa=./$run_a ;; esac
case $run_b in /*) pb=$run_b ;; *) pb=./$run_b ;; esac
set --
onlya="" onlyb=""
for _f in $files; do
	_ina=0 _inb=0
	! among "$_f" "$(readable "$run_a")" || _ina=1
	! among "$_f" "$(readable "$run_b")" || _inb=1
	case $_ina$_inb in
	11) set -- "$@" "$pa/$_f" "$pb/$_f" ;;
	10) onlya="$onlya $_f" ;;
	01) onlyb="$onlyb $_f" ;;
	esac
done
[ $# -gt 0 ] || die "no CSV file in both runs to compare (A: $(flat "$(readable "$run_a")"); B: $(flat "$(readable "$run_b")"))"

# The machine lines go where the notes go: above the tables, or to stderr
# beside --csv's rows.
{
	echo "A  $run_a: $(machine "$run_a")"
	echo "B  $run_b: $(machine "$run_b")"
	[ "$csv" = 1 ] || echo
} | if [ "$csv" = 1 ]; then cat >&2; else cat; fi

# --- The comparison (one awk over every file pair) --------------------------

# Reading: each file's rows are kept by side (A, B) until END, since the key
# and metric columns of a file are those both sides' headers name.
awk_read='
{ sub(/\r$/, "") }
FNR == 1 {
	side = side == "A" ? "B" : "A"
	if (side == "A") { nf++; fname[nf] = FILENAME; sub(/.*\//, "", fname[nf]) }
	ncol[nf, side] = NF
	for (i = 1; i <= NF; i++) { head[nf, side, i] = $i; col[nf, side, $i] = i }
	next
}
{ row[nf, side, ++nrow[nf, side]] = $0 }
'

# Words and warnings.
awk_util='
function words(s, set,    w, n, i) { n = split(s, w, " "); for (i = 1; i <= n; i++) set[w[i]] = 1; return n }
function warn(s) { if (!(s in warned)) print "compare.sh: " s > "/dev/stderr"; warned[s] = 1 }
function note(s) { if (csv) print s > "/dev/stderr"; else print s }
function ceil(x,    k) { k = int(x); return k < x ? k + 1 : k }
function howmany(n) { return n == 1 ? "1 cell" : n " cells" }
'

# The resampling. A Lehmer generator (48271 x mod 2^31-1) rather than rand():
# its products stay below 2^53, so every awk computes the same numbers, and
# each row seeds it from --seed and its own name (file, cell, metric), so a
# row draws the same whatever other rows are printed.
awk_boot='
function rng_seed(tag,    h, i) {
	h = seed % LEHMER
	for (i = 1; i <= length(tag); i++) h = (h * 131 + ord[substr(tag, i, 1)]) % LEHMER
	rng = h ? h : 1
}
function draw(n) { rng = (rng * 48271) % LEHMER; return int(rng / LEHMER * n) + 1 }
# A ratio of medians: equal medians (0 and 0 too) give 1, a zero base infinity.
function ratio(b, a) { return a + 0 == b + 0 ? 1 : a + 0 == 0 ? INF : b / a }
# boot(A, NA, B, NB, TAG): sets lo and hi, the interval of the ratio of medians.
function boot(a, na, b, nb, tag,    s, i, x, ma, rs) {
	rng_seed(tag)
	for (s = 1; s <= N; s++) {
		for (i = 1; i <= na; i++) x[i] = a[draw(na)]
		ma = median(x, na)
		for (i = 1; i <= nb; i++) x[i] = b[draw(nb)]
		rs[s] = ratio(median(x, nb), ma)
	}
	hsort(rs, N)
	# Nearest rank, from integer products: 2.5% of 2000 is 50, not 50.000001.
	lo = rs[N >= 40 ? ceil(N * 25 / 1000) : 1]
	hi = rs[ceil(N * 975 / 1000)]
}
# hsort(V, N): heapsort of V[1..N], numbers (2000 of them per row).
function hsort(v, n,    i, t) {
	for (i = int(n / 2); i >= 1; i--) sift(v, i, n)
	for (i = n; i > 1; i--) { t = v[1]; v[1] = v[i]; v[i] = t; sift(v, 1, i - 1) }
}
function sift(v, i, n,    c, t) {
	while ((c = 2 * i) <= n) {
		if (c < n && v[c + 1] > v[c]) c++
		if (v[i] >= v[c]) return
		t = v[i]; v[i] = v[c]; v[c] = t; i = c
	}
}
'

# One file: its columns, its cells, its rows, printed.
awk_file='
# columns(F): key[1..nkey] and met[1..nmet], the key and wanted metric columns
# both sides name, in A order; warnings for the columns no list knows and for
# keys only one side has (their cells are merged on the other).
function columns(f,    i, s, side, other, name) {
	nkey = nmet = 0
	for (i = 1; i <= ncol[f, "A"]; i++) {
		name = head[f, "A", i]
		if (!((f, "B", name) in col)) continue
		if ((name in iskey) && !((fname[f] ":" name) in notkey)) key[++nkey] = name
		else if ((name in ismetric) && (nwant == 0 || (name in wanted))) met[++nmet] = name
	}
	for (s = 0; s < 2; s++) {
		side = s ? "B" : "A"; other = s ? "A" : "B"
		for (i = 1; i <= ncol[f, side]; i++) {
			name = head[f, side, i]
			if ((fname[f] ":" name) in notkey)
				continue
			if (!((name in iskey) || (name in ismetric) || (name in ignored)))
				warn(fname[f] ": column \"" name "\" is in no list of compare.sh: ignored")
			else if ((name in iskey) && !((f, other, name) in col))
				warn(fname[f] ": key column \"" name "\" only in " side ": compared as if it were not there")
		}
	}
}
# group(F, SIDE): each row of SIDE into its cell: ncell[SIDE, cell] rows,
# val[SIDE, cell, j, 1..nval[...]] the numbers of metric j; cells in order of
# first appearance; keyval[cell, k] for the labels; varies[k] when key k
# takes more than one value in the file.
function group(f, side,    r, v, c, k, j, x, st, rp) {
	st = ((f, side, "status") in col) ? col[f, side, "status"] : 0
	rp = ((f, side, "rep") in col) ? col[f, side, "rep"] : 0
	for (r = 1; r <= nrow[f, side]; r++) {
		split(row[f, side, r], v, ",")
		if (st && v[st] != "ok") continue
		c = nkey ? "" : "(all rows)"
		for (k = 1; k <= nkey; k++) {
			x = v[col[f, side, key[k]]]
			c = c (k > 1 ? " " : "") key[k] "=" x
			if (!(k in first)) first[k] = x
			else if (first[k] != x && !(k in varies)) { varies[k] = 1; nvaries++ }
		}
		if (!((side, c) in ncell)) {
			order[side, ++norder[side]] = c
			for (k = 1; k <= nkey; k++) keyval[c, k] = v[col[f, side, key[k]]]
		}
		ncell[side, c]++
		if (rp && ((side, c, v[rp]) in seenrep))
			warn(fname[f] ": two rows of " c " are rep " v[rp] " in " side ": is a key column missing from KEYS?")
		seenrep[side, c, v[rp]] = 1
		for (j = 1; j <= nmet; j++) {
			x = v[col[f, side, met[j]]]
			if (x ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) val[side, c, j, ++nval[side, c, j]] = x
		}
	}
}
# label(C): the cell without the keys that are the same in every row.
function label(c,    k, s) {
	for (k = 1; k <= nkey; k++) if (k in varies) s = s (s == "" ? "" : " ") key[k] "=" keyval[c, k]
	return s == "" ? c : s
}
# measure(F, C, J): one output row for metric J of cell C, if both sides have numbers.
function measure(f, c, j,    na, nb, i, a, b, am, bm, n) {
	na = nval["A", c, j] + 0; nb = nval["B", c, j] + 0
	if (!na || !nb) return
	for (i = 1; i <= na; i++) a[i] = val["A", c, j, i]
	for (i = 1; i <= nb; i++) b[i] = val["B", c, j, i]
	am = median(a, na); if (na % 2 == 0) am = sprintf("%.10g", am)
	bm = median(b, nb); if (nb % 2 == 0) bm = sprintf("%.10g", bm)
	n = ++nout
	ocell[n] = c; olabel[n] = label(c); omet[n] = met[j]; oa[n] = am; ob[n] = bm
	oratio[n] = ratio(bm, am)
	if (na < 2 || nb < 2) { olo[n] = ohi[n] = ""; ochanged[n] = ""; return }
	boot(a, na, b, nb, fname[f] "\t" c "\t" met[j])
	olo[n] = lo; ohi[n] = hi; ochanged[n] = lo > 1 || hi < 1 ? 1 : 0
}
function compare(f,    i, c, j, mina, maxa, minb, maxb, ncommon) {
	split("", key); split("", met); split("", first); split("", varies); split("", order)
	split("", norder); split("", ncell); split("", keyval); split("", seenrep)
	split("", val); split("", nval); nout = nvaries = 0
	columns(f)
	if (!nmet && nwant) return	# --metric named none of its metrics
	group(f, "A"); group(f, "B")
	for (i = 1; i <= norder["A"]; i++) {
		c = order["A", i]
		if (!(("B", c) in ncell)) { cellsa++; continue }
		ncommon++
		if (mina == "" || ncell["A", c] < mina) mina = ncell["A", c]
		if (maxa == "" || ncell["A", c] > maxa) maxa = ncell["A", c]
		if (minb == "" || ncell["B", c] < minb) minb = ncell["B", c]
		if (maxb == "" || ncell["B", c] > maxb) maxb = ncell["B", c]
		for (j = 1; j <= nmet; j++) measure(f, c, j)
	}
	for (i = 1; i <= norder["B"]; i++) if (!(("A", order["B", i]) in ncell)) cellsb++
	if (csv) print_csv(f)
	else print_table(f, ncommon + 0, span(mina, maxa), span(minb, maxb))
}
function span(lo, hi) { return lo == hi ? lo : lo "-" hi }
'

# Printing: aligned tables, or CSV rows.
awk_print='
# rfmt(X, D): a ratio with D decimals; "inf" over a zero median.
function rfmt(x, d) { return x >= INF ? "inf" : sprintf("%." d "f", x) }
# decimals(N): 2, or more when 2 would print a marked interval as touching 1.00.
function decimals(n,    d) {
	for (d = 2; d < 6 && ochanged[n] == 1; d++)
		if (rfmt(olo[n], d) + 0 != 1 && rfmt(ohi[n], d) + 0 != 1) break
	return d
}
function shown(n) { return !changed || ochanged[n] == 1 }
function print_csv(f,    n) {
	for (n = 1; n <= nout; n++) {
		if (!shown(n)) continue
		printf "%s,%s,%s,%s,%s,%s,%s,%s,%s\n", fname[f], ocell[n], omet[n], oa[n], ob[n],
			rfmt(oratio[n], 4), (olo[n] == "" ? "" : rfmt(olo[n], 4)), (ohi[n] == "" ? "" : rfmt(ohi[n], 4)), ochanged[n]
	}
}
function print_table(f, ncommon, repsa, repsb,    n, k, d, s, same, t, w, fmt, m) {
	for (k = 1; k <= nkey; k++) if (!(k in varies) && ncommon) same = same " " key[k] "=" first[k]
	if (!nvaries) same = ""	# every key fixed: the cells say it
	s = "== " fname[f] ": " howmany(ncommon) " in both"
	if (same != "") s = s ", each with" same
	if (ncommon) s = s "; reps A " repsa ", B " repsb
	print s
	split("cell metric A_median B_median ratio 95%_CI", t, " ")
	for (k = 1; k <= 6; k++) { gsub(/_/, " ", t[k]); w[k] = length(t[k]) }
	for (n = 1; n <= nout; n++) {
		if (!shown(n)) continue
		m++
		d = decimals(n)
		cells[n, 1] = olabel[n]; cells[n, 2] = omet[n]; cells[n, 3] = oa[n]; cells[n, 4] = ob[n]
		cells[n, 5] = rfmt(oratio[n], d)
		cells[n, 6] = olo[n] == "" ? "too few reps" : "[" rfmt(olo[n], d) ", " rfmt(ohi[n], d) "]"
		cells[n, 7] = ochanged[n] == "" ? "" : ochanged[n] ? "*" : "~"
		for (k = 1; k <= 6; k++) if (length(cells[n, k]) > w[k]) w[k] = length(cells[n, k])
	}
	if (!m) { print changed ? "(no row marked)" : "(no row: no metric with numbers on both sides)"; print ""; return }
	fmt = "%-" w[1] "s  %-" w[2] "s  %" w[3] "s  %" w[4] "s  %" w[5] "s  %-" w[6] "s  %s"
	line(sprintf(fmt, t[1], t[2], t[3], t[4], t[5], t[6], ""))
	for (n = 1; n <= nout; n++)
		if (shown(n)) line(sprintf(fmt, cells[n, 1], cells[n, 2], cells[n, 3], cells[n, 4], cells[n, 5], cells[n, 6], cells[n, 7]))
	print ""
}
function line(s) { sub(/ +$/, "", s); print s }	# no padding after the last word
'

awk_main='
BEGIN {
	FS = ","
	LEHMER = 2147483647
	INF = 1e300
	words(keys, iskey); words(metrics, ismetric); words(ignoredcols, ignored); words(notkeys, notkey)
	nwant = words(want, wanted)
	for (i = 1; i < 128; i++) ord[sprintf("%c", i)] = i
	if (csv) print "file,cell,metric,a_median,b_median,ratio,ci_lo,ci_hi,changed"
}
END {
	for (f = 1; f <= nf; f++) compare(f)
	note("note: " howmany(cellsa + 0) " only in A, " cellsb + 0 " only in B: not compared.")
	if (filesa != "") note("note: only in A, not compared:" filesa)
	if (filesb != "") note("note: only in B, not compared:" filesb)
	note("ratio = B median / A median; 95% CI: bootstrap of the ratio of medians, " N " resamples, seed " seed \
		"; * = the interval excludes 1, ~ = no difference shown.")
}
'

# shellcheck disable=SC2154 # awk_median comes from lib.sh
$AWK -v keys="$(flat "$KEYS")" -v notkeys="$(flat "$NOT_KEYS")" -v metrics="$(flat "$METRICS")" -v ignoredcols="$(flat "$IGNORED")" -v want="$want" \
	-v N="$resamples" -v seed="$seed" -v csv="$csv" -v changed="$changed" -v filesa="$onlya" -v filesb="$onlyb" \
	"$awk_median$awk_util$awk_boot$awk_file$awk_print$awk_read$awk_main" "$@"
