#!/bin/sh
# ab.sh OLD_SERVER NEW_SERVER ROUNDS: interleaved A/B of two muxserver builds, same muxload (main's)
# per round, per backend, per build: fixed rate 10000/s (64 active, 1000 idle) server CPU/request,
# then closed-loop requests/s (64 active, 1000 idle)
set -eu
cd /work/wt-method
. bench/lib.sh
bench_prologue
old=$1 new=$2 rounds=$3
echo "build,backend,round,mode,$measure_cols"
for r in $(seq 1 $rounds); do for b in select poll epoll epoll-et; do for v in old new; do
	eval bin=\$$v
	for mode in fixed closed; do
		start_server "$tmp/s.out" $bin --backend $b --port 0 --quiet
		if [ $mode = fixed ]; then args="--rate 10000"; else args=""; fi
		row=$(measure_rep "$tmp/s.out" -c 64 --idle 1000 -d 2 -w 0.5 $args)
		bench_stop
		echo "$v,$b,$r,$mode,$row"
	done
done; done; done
