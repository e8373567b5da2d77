#!/usr/bin/env bash
# The demo: a local 3-node cluster from config/cluster.ini, a client sending
# requests to random nodes, the election and every relay visible, watched by
# relay-monitor. It ends by itself after a short session and stops everything
# it started; --keep leaves the cluster running until Ctrl-C.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
keep=0
count=40
for arg in "$@"; do
  case "$arg" in
    --keep) keep=1 ;;
    --count=*) count=${arg#--count=} ;;
    -h|--help) echo "usage: scripts/demo.sh [--keep] [--count=N]"; exit 0 ;;
    *) echo "demo: unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done

# Every program of the README's table, since the README points the demo's
# user at all of them.
RELAY_BUILD_TARGETS="relay-node relay-cluster relay-client relay-monitor relay-lincheck" bash "$root/scripts/build.sh"
bin=${RELAY_BUILD_DIR:-$root/build}
config=$root/config/cluster.ini

# Somebody else's nodes on the same ports would answer in ours' place
# (relay-client status succeeds when any node answers).
if "$bin/relay-client" --config "$config" status >/dev/null 2>&1; then
  echo "demo: nodes of $config are already running (see: $bin/relay-client status); stop them first" >&2
  exit 1
fi

# The monitor starts first, so it sees the first election, and records the
# session for a report. On a terminal its screen is the demo and the nodes'
# and the client's own output go to a file; otherwise its lines are
# interleaved with theirs.
session=$bin/demo-session.jsonl
output=$bin/demo-output.txt
quiet=0
monitor=""
cluster=""
if [[ -t 1 ]]; then
  quiet=1
  "$bin/relay-monitor" --config "$config" --record "$session" &
  monitor=$!
  exec 3>&1 >"$output" 2>&1
else
  exec 3>&1
  "$bin/relay-monitor" --config "$config" --record "$session" > >(sed -u 's/^/[monitor] /') &
  monitor=$!
fi
say() { echo "$@"; if ((quiet)); then echo "$@" >&3; fi; }
stop_monitor() {
  if [[ -n "$monitor" ]]; then
    kill -INT "$monitor" 2>/dev/null || true
    wait "$monitor" 2>/dev/null || true
    monitor=""
    if ((quiet)); then exec 1>&3 2>&1; quiet=0; fi
  fi
}
cleanup() {
  set +e
  if [[ -n "$cluster" ]]; then kill -TERM "$cluster" 2>/dev/null; wait "$cluster" 2>/dev/null; fi
  stop_monitor
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$bin/relay-cluster" --config "$config" &
cluster=$!

echo "== waiting for the nodes to elect a leader"
deadline=$((SECONDS + 10))
until "$bin/relay-client" --config "$config" status --json 2>/dev/null | grep -q '"role":"leader"'; do
  if ! kill -0 "$cluster" 2>/dev/null || ((SECONDS >= deadline)); then
    stop_monitor
    echo "demo: the cluster did not elect a leader; the nodes said:" >&2
    tail -n 20 "$output" >&2 || true
    exit 1
  fi
  sleep 0.1
done
echo "== cluster status"
"$bin/relay-client" --config "$config" status
echo "== $count requests, each to a random node; followers relay them to the leader"
"$bin/relay-client" --config "$config" send "hello from the demo" --count "$count" --interval-ms 100 || true
echo "== cluster status after the run"
"$bin/relay-client" --config "$config" status

if ((keep)); then
  say "== the cluster keeps running; try: $bin/relay-client --config $config send hi   (Ctrl-C stops it)"
  wait "$cluster" || true
  exit 0
fi
if ((quiet)); then
  sleep 2  # a last look at the monitor's screen
  stop_monitor
  echo
  echo "== what the client saw (all of it: $output)"
  # relay-client's lines: one per message ("send ..."), its failures on
  # stderr ("relay-client: ..."), and the summary ("sent ..."); the first
  # eight and the last, each once.
  grep -E '^(send |sent |relay-client: )' "$output" |
    awk 'NR <= 8 { print; next } { last = $0; more++ } END { if (more > 1) print "..."; if (more) print last }' || true
fi
stop_monitor
"$bin/relay-monitor" report "$session" -o "$bin/demo-report.html" >/dev/null &&
  echo "== the session, drawn: $bin/demo-report.html (replay it: $bin/relay-monitor replay $session)"
