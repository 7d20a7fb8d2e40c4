#!/bin/sh
# hosts.sh - the server on one host, muxload on K client hosts at once, their
# HdrHistogram logs merged exactly (muxload --merge): the tail of all the
# load, where averaging each host's percentiles would understate it.
#
# On one machine the hosts are network namespaces this script creates: a
# server namespace and K client namespaces, each joined by a veth pair to a
# bridge that lives in a namespace of its own, addresses 10.213.0.0/24 that
# exist only inside them. --delay MS adds a netem delay on every host's
# interface (each way: a round trip gains 2 x MS). Everything is torn down on
# exit, on Ctrl-C and on SIGTERM. The clients are launched by pdsh, whose exec
# module makes a namespace a host (pdsh -R exec -w ns[1-3] ip netns exec %h
# ...); on real machines the same muxload command goes through pdsh -R ssh
# (see the README).
#
# Usage: bench/hosts.sh [--clients K] [--rate R] [--connections C]
#          [--duration S] [--warmup S] [--delay MS] [--backend B] [--out DIR]
# --rate is the total, split evenly among the clients (0: closed loop);
# --connections is per client. Writes into OUT (default results/hosts-<UTC>-<host>):
# cN.hlog and cN.json per client, merged.hlog, merged.json, merged.hgrm,
# hosts.txt (the table printed at the end), server.txt (the server's output).
# Needs root (namespaces) and pdsh (installed when run as root).
set -eu
cd "$(dirname "$0")/.."
. bench/lib.sh

clients=3 rate=3000 conns=4 duration=5 warmup=1 delay=0 backend=epoll out=""
PDSH=${PDSH:-pdsh}
usage() { sed -n '/^# Usage/,/^# Needs root/s/^# \{0,1\}//p' "$0"; }
die() { echo "hosts.sh: $*" >&2; exit "${rc:-1}"; }
number() { printf '%s' "$2" | grep -Eq "^$3\$" || rc=2 die "$1: expected $4, got '$2'"; }
while [ $# -gt 0 ]; do
	case $1 in
	--clients) number "$1" "${2:-}" '[1-9][0-9]?' "1 to 99"; clients=$2 ;;
	--rate) number "$1" "${2:-}" '[0-9]+(\.[0-9]+)?' "a rate in requests/s"; rate=$2 ;;
	--connections) number "$1" "${2:-}" '[1-9][0-9]*' "a count"; conns=$2 ;;
	--duration) number "$1" "${2:-}" '[0-9]+(\.[0-9]+)?' "seconds"; duration=$2 ;;
	--warmup) number "$1" "${2:-}" '[0-9]+(\.[0-9]+)?' "seconds"; warmup=$2 ;;
	--delay) number "$1" "${2:-}" '[0-9]+(\.[0-9]+)?' "milliseconds"; delay=$2 ;;
	--backend) [ $# -ge 2 ] || rc=2 die "--backend needs a value"; backend=$2 ;;
	--out) [ $# -ge 2 ] || rc=2 die "--out needs a value"; out=$2 ;;
	-h|--help) usage; exit 0 ;;
	*) rc=2 die "unknown option '$1' (see --help)" ;;
	esac
	shift 2
done
# The ranges muxload itself takes, checked before anything is built.
bad=$(awk -v d="$duration" -v w="$warmup" -v r="$rate" -v k="$clients" -v c="$conns" 'BEGIN {
	if (d < 0.01 || d > 1e6) print "--duration: expected 0.01 to 1e6 seconds"
	else if (w > 3600) print "--warmup: expected 0 to 3600 seconds"
	else if (r > 0 && r / k < 0.001) print "--rate: under 0.001 requests/s a client"
	else if (c > 1000000) print "--connections: at most 1000000 a client" }')
[ -z "$bad" ] || rc=2 die "$bad"
# pdsh rewrites %h, %u, %n in every argument, and the paths go inside a quoted sh -c string.
case "$out$(pwd)" in *%* | *\'*) rc=2 die "--out and the checkout's path must not hold % or '" ;; esac
[ "$(id -u)" = 0 ] || die "needs root to create network namespaces (run it as root or with sudo)"
bench/need.sh cmd:pdsh:pdsh cmd:ip:iproute2 cmd:tc:iproute2 >&2 || exit 1
command -v "$PDSH" >/dev/null 2>&1 || die "pdsh not found ('$PDSH'): apt-get install pdsh"
build_tools build/muxserver build/muxload
build/muxserver --list-backends | awk -v b="$backend" '$1 == b && $2 == "OK" { ok = 1 } END { exit !ok }' ||
	rc=2 die "--backend $backend: not a backend that works here (build/muxserver --list-backends)"

host=$(hostname -s 2>/dev/null || hostname)
[ -n "$out" ] || out="results/hosts-$(stamp)-$host-$$"
mkdir -p "$out"
out=$(cd "$out" && pwd)
ns="mlab$$"                     # the run's prefix: the namespaces are $ns-srv, $ns-br, $ns-c1...
subnet=10.213.0
server_addr=$subnet.1
port=7000
clients_list=$(seq 1 "$clients" | sed "s/^/$ns-c/")

# netns_teardown: stop every process inside our namespaces (TERM, then KILL), then remove them.
our_netns() { ip netns list 2>/dev/null | awk -v p="$ns-" 'index($1, p) == 1 { print $1 }'; }
netns_pids() { for _n in $(our_netns); do ip netns pids "$_n" 2>/dev/null; done; }
netns_teardown() {
	_pids=$(netns_pids)
	# shellcheck disable=SC2086
	[ -z "$_pids" ] || { kill $_pids 2>/dev/null; sleep 0.5; kill -9 $(netns_pids) 2>/dev/null; } || true
	for _n in $(our_netns); do ip netns del "$_n" 2>/dev/null || true; done
}
bench_prologue
# Our teardown before lib.sh's (which kills $spid and removes $tmp), once, on every way out:
# each trap first ignores further signals, so a second Ctrl-C cannot cut the teardown short.
trap 'trap "" INT TERM; netns_teardown; bench_cleanup' EXIT
trap 'trap "" INT TERM; netns_teardown; bench_cleanup; exit 130' INT
trap 'trap "" INT TERM; netns_teardown; bench_cleanup; exit 143' TERM

# join NAME ADDR: namespace NAME on the bridge with address ADDR on its eth0.
join() {
	ip netns add "$1" 2>/dev/null || die "cannot create network namespace $1"
	ip -n "$ns-br" link add "v-${1##*-}" type veth peer name eth0 netns "$1" 2>/dev/null ||
		die "cannot create a veth pair (CONFIG_VETH)"
	ip -n "$ns-br" link set "v-${1##*-}" master br0 up
	ip -n "$1" addr add "$2/24" dev eth0
	ip -n "$1" link set eth0 up
	ip -n "$1" link set lo up
	if [ "$delay" != 0 ]; then
		tc -n "$1" qdisc add dev eth0 root netem delay "${delay}ms" 2>/dev/null ||
			die "--delay: this kernel has no netem qdisc (CONFIG_NET_SCH_NETEM): a delay cannot be emulated here"
	fi
}

ip netns add "$ns-br" 2>/dev/null || die "cannot create network namespace $ns-br"
ip -n "$ns-br" link add br0 type bridge 2>/dev/null || die "cannot create a bridge (CONFIG_BRIDGE)"
ip -n "$ns-br" link set br0 up
join "$ns-srv" "$server_addr"
i=0
for c in $clients_list; do
	i=$((i + 1))
	join "$c" "$subnet.$((10 + i))"
done

ip netns exec "$ns-srv" taskset -c "$cpu_server" build/muxserver --host "$server_addr" --port "$port" \
	--backend "$backend" > "$out/server.txt" 2>&1 &
server_pid=$!
spid=$server_pid
wait_port "$out/server.txt" "$server_pid" > /dev/null || exit 1

# Each client's share of the rate; closed loop when --rate 0.
load="--host $server_addr --port $port --connections $conns --duration $duration --warmup $warmup --json"
[ "$rate" = 0 ] || load="$load --rate $(awk -v r="$rate" -v k="$clients" 'BEGIN { printf "%.6f", r / k }')"
echo "hosts.sh: $clients client namespaces x $conns connections, rate $rate/s in all, ${duration} s" \
	"(+${warmup} s warm-up), delay ${delay} ms each way: about $(awk -v d="$duration" -v w="$warmup" \
	'BEGIN { printf "%.0f", d + w + 2 }') s" >&2
muxload=$(pwd)/build/muxload
# In the background, so that a signal's trap runs at once (sh waits for a foreground command first).
# shellcheck disable=SC2086 # $load is words on purpose
"$PDSH" -S -R exec -f "$clients" -w "$(echo "$clients_list" | paste -sd, -)" \
	ip netns exec %h taskset -c "$cpu_client" sh -c "exec '$muxload' $load --hlog '$out/%h.hlog' > '$out/%h.json'" &
spid="$spid $!"
wait $! || die "a client failed (its JSON and log are in $out)"
spid=$server_pid
# pdsh's exit status misses a client killed by a signal: each must have written its report.
for c in $clients_list; do
	grep -q '"throughput_rps"' "$out/$c.json" 2>/dev/null || die "client ${c##*-} ended without its report"
done
kill "$server_pid"
wait "$server_pid" || true
spid=""

# Per-host files by client number, then the exact merge.
for c in $clients_list; do
	mv "$out/$c.hlog" "$out/${c##*-}.hlog"
	mv "$out/$c.json" "$out/${c##*-}.json"
done
set --
for c in $clients_list; do set -- "$@" "$out/${c##*-}.hlog"; done
build/muxload --merge --json --hgrm "$out/merged.hgrm" --hlog "$out/merged.hlog" "$@" > "$out/merged.json" ||
	die "the logs could not be merged (they are in $out)"

# The table: each host, the merged sum, and what averaging the hosts' figures would have said.
row() {
	printf '%-8s %10s %8s %8s %8s %8s\n' "$1" "$(json_num "$2" requests)" "$(json_num_in "$2" latency_us p50)" \
		"$(json_num_in "$2" latency_us p99)" "$(json_num_in "$2" latency_us p99_9)" "$(json_num_in "$2" latency_us max)"
}
{
	echo "muxlab $(build/muxload --version | sed 's/^muxload //'), $clients clients, rate $rate/s in all, ${duration} s"
	printf '%-8s %10s %8s %8s %8s %8s\n' host requests p50_us p99_us p99.9_us max_us
	for c in $clients_list; do row "${c##*-}" "$out/${c##*-}.json"; done
	row merged "$out/merged.json"
	for c in $clients_list; do json_num_in "$out/${c##*-}.json" latency_us p99; done |
		awk '{ s += $1; n++ } END { printf "mean of the hosts'"'"' p99: %.1f us (not a percentile of anything)\n", s / n }'
} > "$out/hosts.txt"
cat "$out/hosts.txt"
echo "hosts.sh: results in $out" >&2
