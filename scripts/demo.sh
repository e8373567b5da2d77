#!/usr/bin/env bash
# The demo: a local 3-node cluster from config/cluster.ini, a client sending
# requests to random nodes, the election and every relay visible. It ends by
# itself after a short session and stops everything it started; --keep leaves
# the cluster running until Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
keep=0
count=40
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    --count=*) count=${arg#--count=} ;;
    -h|--help) echo "usage: scripts/demo.sh [--keep] [--count=N]"; exit 0 ;;
    *) echo "demo: unknown argument $arg" >&2; exit 2 ;;
  esac
done

bash "$root/scripts/build.sh"
bin=${RELAY_BUILD_DIR:-$root/build}
config=$root/config/cluster.ini

# The monitor starts first, so it sees the first election, and records the
# session for a report. On a terminal its screen is the demo and the nodes'
# and the client's own output go to files; otherwise its lines are
# interleaved with theirs.
session=$bin/demo-session.jsonl
quiet=0
if [[ -t 1 ]]; then
  quiet=1
  "$bin/relay-monitor" --config "$config" --record "$session" &
  monitor=$!
  exec 3>&1 >"$bin/demo-output.txt" 2>&1
else
  "$bin/relay-monitor" --config "$config" --record "$session" > >(sed -u 's/^/[monitor] /') &
  monitor=$!
fi
stop_monitor() {
  kill -INT $monitor 2>/dev/null && wait $monitor 2>/dev/null || true
  if ((quiet)); then exec 1>&3 2>&1; fi
}

"$bin/relay-cluster" --config "$config" &
cluster=$!
trap 'kill -TERM $cluster 2>/dev/null; wait $cluster 2>/dev/null || true; stop_monitor' EXIT

echo "== waiting for the nodes to elect a leader"
for _ in $(seq 100); do
  if "$bin/relay-client" --config "$config" status --json 2>/dev/null | grep -q '"role":"leader"'; then break; fi
  sleep 0.1
done
echo "== cluster status"
"$bin/relay-client" --config "$config" status
echo "== $count requests, each to a random node; followers relay them to the leader"
"$bin/relay-client" --config "$config" send "hello from the demo" --count "$count" --interval-ms 100 || true
echo "== cluster status after the run"
"$bin/relay-client" --config "$config" status
if ((quiet && !keep)); then sleep 2; fi  # a last look at the monitor's screen
if ((!keep)); then
  stop_monitor
  if ((quiet)); then
    echo "== the nodes' and the client's output: $bin/demo-output.txt"
    tail -n 6 "$bin/demo-output.txt"
  fi
  "$bin/relay-monitor" report "$session" -o "$bin/demo-report.html" >/dev/null &&
    echo "== the session, drawn: $bin/demo-report.html (replay it: $bin/relay-monitor replay $session)"
fi

if ((keep)); then
  echo "== the cluster keeps running; try: $bin/relay-client --config $config send hi   (Ctrl-C stops it)"
  wait $cluster
fi
