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

"$bin/relay-cluster" --config "$config" &
cluster=$!
trap 'kill -TERM $cluster 2>/dev/null; wait $cluster 2>/dev/null || true' EXIT

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

if ((keep)); then
  echo "== the cluster keeps running; try: $bin/relay-client --config $config send hi   (Ctrl-C stops it)"
  wait $cluster
fi
