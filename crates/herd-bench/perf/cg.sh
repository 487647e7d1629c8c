#!/bin/bash
# usage: cg.sh LABEL CONNS N  — herd-server --all under callgrind, drive CONNS*N IAMATs, stop.
set -u
B=${BIN:-target/release}
label=$1; conns=$2; n=$3
rm -rf cglogs-$label; mkdir -p cglogs-$label
valgrind --tool=callgrind --callgrind-out-file=cg-$label.out $B/herd-server --herd ${HERD:-crates/herd-bench/perf/herd.toml} --all --log-dir cglogs-$label ${SERVER_ARGS:-} 2>cg-$label.err &
pid=$!
for i in $(seq 60); do sleep 1; ss -ltn | grep -q 23104 && break; done
sleep 2
done=$(python3 crates/herd-bench/perf/drive.py 23100,23101,23102,23103,23104 $conns $n cglogs-$label)
kill -TERM $pid; wait $pid
ir=$(grep -E '^(summary|totals):' cg-$label.out | head -1 | awk '{print $2}')
echo "$label iamats=$done Ir=$ir"
