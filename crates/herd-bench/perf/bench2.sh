#!/bin/bash
# usage: bench2.sh LABEL MODE [bench args...] — MODE all|procs; prints server CPU (user/sys s) beside herd-bench's report.
# The servers' logs (logs-LABEL) are removed after the run unless KEEP_LOGS=1.
# SERVER_ARGS are passed to every herd-server (e.g. SERVER_ARGS="--threads 2").
set -u
B=${BIN:-target/release}
label=$1; mode=$2; shift 2
rm -rf logs-$label; pids=()
if [ $mode = all ]; then
  $B/herd-server --herd ${HERD:-crates/herd-bench/perf/herd.toml} --all --log-dir logs-$label ${SERVER_ARGS:-} 2>server-$label.err & pids+=($!)
else
  for n in Riley Jaquez Juzang Campbell Bernard; do
    $B/herd-server --herd ${HERD:-crates/herd-bench/perf/herd.toml} $n --log-dir logs-$label ${SERVER_ARGS:-} 2>>server-$label.err & pids+=($!)
  done
fi
sleep 1.5
cpu() { for p in "${pids[@]}"; do awk '{print $14, $15}' /proc/$p/stat; done | awk '{u+=$1; s+=$2} END {print u, s}'; }
read u0 s0 < <(cpu)
$B/herd-bench --herd ${HERD:-crates/herd-bench/perf/herd.toml} "$@" --json run-$label.json > bench-$label.out 2>&1
read u1 s1 < <(cpu)
tck=$(getconf CLK_TCK)
printf "server CPU during the bench: user %d.%02d s, system %d.%02d s\n" $(( (u1-u0)/tck )) $(( (u1-u0)%tck )) $(( (s1-s0)/tck )) $(( (s1-s0)%tck ))
kill -TERM "${pids[@]}"; wait
echo "logs: $(du -sh logs-$label | cut -f1)"
# A closed-loop run writes about 700 MB of logs; keep them only when asked (KEEP_LOGS=1).
[ "${KEEP_LOGS:-0}" = 1 ] || rm -rf logs-$label
grep -E "Requests|Rate|IAMAT all|convergence |Bench CPU|Probes|floor|warning" bench-$label.out
