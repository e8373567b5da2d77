#!/usr/bin/env bash
# Benchmark (not a test): Relay-Raft against etcd, side by side, on this machine.
#
# Runs one closed-loop put workload (16-byte keys from 10,000, 64-byte values;
# each client one connection, one request at a time; clients dealt out over
# all three members) with the same load generator, relay-load (bench/load.cpp), against
#   1. a 3-member etcd cluster on loopback (Debian's etcd-server, its default
#      durability: the WAL is fsynced before a write is acknowledged),
#   2. a 3-node Relay-Raft cluster with `fsync = always`,
#   3. the same with `fsync = batch` (group commit),
# at each client count, and prints throughput, p50 and p99 of each and their
# ratios to etcd. It also measures what one small synced write costs on the
# disk under the data directories, which bounds every system here.
# docs/benchmarks.md ("Against etcd") says what is measured and why.
#
# Usage:  bash bench/etcd_compare.sh [--duration S] [--warmup S] [--clients "1 16 64"]
#                                    [--only etcd|relay]
# Installs what is missing (etcd-server, etcd-client) and builds first. Every
# process it starts and every temporary directory go when it ends, Ctrl-C too.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=${RELAY_BUILD_DIR:-$root/build}
duration=10
warmup=1
clients_list="1 16 64"
only=""

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($# > 0)); do
  case "$1" in
    --duration) duration=${2:?--duration needs seconds}; shift 2 ;;
    --warmup) warmup=${2:?--warmup needs seconds}; shift 2 ;;
    --clients) clients_list=${2:?--clients needs a list like \"1 16 64\"}; shift 2 ;;
    --only) only=${2:?--only needs etcd or relay}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "etcd_compare: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$only" in "" | etcd | relay) ;; *) echo "etcd_compare: --only takes etcd or relay" >&2; exit 2 ;; esac

# ---- install and build ----
RELAY_SETUP_EXTRA="etcd-server etcd-client" bash "$root/scripts/setup.sh"
RELAY_BUILD_TARGETS="relay-load" bash "$root/scripts/build.sh"
load=$build/relay-load
relay_skip=""
if [[ "$only" != etcd ]]; then
  if ! RELAY_BUILD_TARGETS="relay-node" bash "$root/scripts/build.sh"; then
    relay_skip="relay-node does not build (see $build/build.log)"
  fi
fi

# ---- clean-up of everything started here ----
work=$(mktemp -d "${TMPDIR:-/tmp}/relay-etcd-bench.XXXXXX")
pids=()
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
cleanup() {
  stop_all
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
results=$work/results.jsonl
: >"$results"

# ---- the machine ----
# Another build or benchmark running meanwhile skews every figure below: look
# at how busy the CPUs are for one second before anything starts.
cpu_busy_percent() {
  local a b
  read -r -a a < <(head -n 1 /proc/stat)
  sleep 1
  read -r -a b < <(head -n 1 /proc/stat)
  local total=0 i
  for i in 1 2 3 4 5 6 7 8; do total=$((total + b[i] - a[i])); done
  local idle=$((b[4] - a[4] + b[5] - a[5]))
  echo $(((total - idle) * 100 / (total > 0 ? total : 1)))
}
busy=$(cpu_busy_percent)
echo "machine: CPUs ${busy}% busy before the run"
if ((busy > 20)); then
  echo "etcd_compare: warning: the CPUs are ${busy}% busy with something else; the figures need an idle machine" >&2
fi
# 1000 writes of 64 bytes, each synced (O_DSYNC: write + fdatasync), where the
# data directories live; `sync` first, so that nobody's pending writeback is
# counted.
sync
dd_line=$(dd if=/dev/zero of="$work/fsync-probe" bs=64 count=1000 oflag=dsync 2>&1 | tail -n 1)
dd_seconds=$(awk '{for (i = 1; i < NF; i++) if ($(i + 1) ~ /^s,?$/) print $i}' <<<"$dd_line" | head -n 1)
rm -f "$work/fsync-probe"
fsync_ms=$(awk -v s="$dd_seconds" 'BEGIN { printf "%.3f", s }')
fsync_note=$(awk -v s="$dd_seconds" 'BEGIN { if (s > 0) printf "%.3f ms per synced 64-byte write, at most %.0f serial syncs/s", s, 1000 / s }')
echo "disk: $fsync_note ($work)"

# run_load LABEL TARGET ENDPOINTS: the workload at every client count.
run_load() {
  local label=$1 target=$2 endpoints=$3 n
  for n in $clients_list; do
    # One load thread for every count: on a small machine a second one takes
    # a CPU from the cluster, and one loop keeps up with tens of thousands of
    # requests a second.
    if ! "$load" --target "$target" --endpoints "$endpoints" --label "$label" --clients "$n" \
      --threads 1 --duration "$duration" --warmup "$warmup" --key-bytes 16 \
      --value-bytes 64 --keyspace 10000 --json >>"$results"; then
      echo "etcd_compare: $label at $n clients failed" >&2
      return 1
    fi
    tail -n 1 "$results" | sed 's/^/  /'
  done
}

# ---- etcd ----
run_etcd() {
  local initial="" endpoints="" i
  for i in 1 2 3; do
    initial+="${initial:+,}e$i=http://127.0.0.1:2380$i"
    endpoints+="${endpoints:+,}http://127.0.0.1:2379$i"
  done
  for i in 1 2 3; do
    etcd --name "e$i" --data-dir "$work/etcd/e$i" \
      --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
      --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
      --initial-cluster "$initial" --initial-cluster-state new --initial-cluster-token relay-bench \
      --logger zap --log-outputs stderr --log-level error >"$work/etcd-e$i.log" 2>&1 &
    pids+=($!)
  done
  local healthy=""
  for _ in $(seq 100); do
    if ETCDCTL_API=3 etcdctl --endpoints "$endpoints" --command-timeout 1s endpoint health >/dev/null 2>&1; then
      healthy=yes
      break
    fi
    sleep 0.2
  done
  if [[ -z "$healthy" ]]; then
    echo "etcd_compare: etcd did not become healthy in 20 s; its logs:" >&2
    tail -n 5 "$work"/etcd-e*.log >&2
    return 1
  fi
  echo "etcd $(etcd --version | head -n 1 | awk '{print $3}'): 3 members on $endpoints"
  run_load etcd etcd "$endpoints"
  stop_all
}

# ---- Relay-Raft ----
# run_relay MODE: a fresh 3-node cluster with `fsync = MODE`.
run_relay() {
  local mode=$1
  local dir=$work/relay-$mode endpoints="" i
  mkdir -p "$dir"
  {
    echo "; generated by bench/etcd_compare.sh"
    echo "[cluster]"
    echo "heartbeat_interval_ms = 50"
    echo "election_timeout_ms = 300"
    echo "request_timeout_ms = 2000"
    echo "data_dir = $dir/data"
    echo "fsync = $mode"
    for i in 1 2 3; do
      echo "[node.$i]"
      echo "client = tcp://127.0.0.1:57${i}1"
      echo "peer = tcp://127.0.0.1:57${i}2"
      echo "election = tcp://127.0.0.1:57${i}3"
      echo "monitor = tcp://127.0.0.1:57${i}4"
      endpoints+="${endpoints:+,}tcp://127.0.0.1:57${i}1"
    done
  } >"$dir/cluster.ini"
  for i in 1 2 3; do
    "$build/relay-node" --config "$dir/cluster.ini" --id "$i" --log-level warn >"$dir/node-$i.log" 2>&1 &
    pids+=($!)
  done
  sleep 0.5
  for i in 1 2 3; do
    if ! kill -0 "${pids[$((${#pids[@]} - 4 + i))]}" 2>/dev/null; then
      relay_skip="relay-node exited at start: $(head -n 1 "$dir/node-$i.log")"
      stop_all
      return 1
    fi
  done
  echo "relay-raft fsync=$mode: 3 nodes on $endpoints"
  # relay-load waits (--ready-timeout) until every client has had an ok:
  # the election and the connections are done before the clock starts.
  run_load "relay-$mode" relay "$endpoints" || relay_skip="the relay-$mode run failed (logs were in $dir)"
  stop_all
  [[ -z "$relay_skip" ]]
}

etcd_ok=""
if [[ "$only" != relay ]]; then run_etcd && etcd_ok=yes; fi
if [[ "$only" != etcd && -z "$relay_skip" ]]; then
  run_relay always && run_relay batch || true
fi

# ---- the table ----
# relay-load's JSON lines are flat and its own: awk reads them field by field.
echo
echo "Workload: closed-loop puts, 16-byte keys (10,000), 64-byte values, ${duration} s measured after ${warmup} s warm-up; 3 members on loopback; $(nproc) CPUs, ${busy}% busy before the run."
echo "Disk: $fsync_note."
echo
case "$only" in
  etcd) systems="etcd" ;;
  relay) systems="relay-always relay-batch" ;;
  *) systems="etcd relay-always relay-batch" ;;
esac
awk -v clients_list="$clients_list" -v systems_list="$systems" '
  function field(line, key,   m) {
    if (match(line, "\"" key "\":(\"[^\"]*\"|[0-9.eE+-]+)")) {
      m = substr(line, RSTART + length(key) + 3, RLENGTH - length(key) - 3)
      gsub(/"/, "", m)
      return m
    }
    return ""
  }
  {
    s = field($0, "system"); c = field($0, "clients")
    seen[s] = 1; tput[s, c] = field($0, "throughput_ops_s")
    p50[s, c] = field($0, "p50_ms"); p99[s, c] = field($0, "p99_ms"); err[s, c] = field($0, "errors")
  }
  function ratio(a, b) { return (a != "" && b != "" && b + 0 > 0) ? sprintf("%.2f", a / b) : "—" }
  END {
    n = split(clients_list, cs, " ")
    print "| system | clients | ops/s | p50 ms | p99 ms | errors | ops/s ÷ etcd | p50 ÷ etcd | p99 ÷ etcd |"
    print "|---|---|---|---|---|---|---|---|---|"
    m = split(systems_list, systems, " ")
    for (k = 1; k <= m; k++) {
      s = systems[k]
      for (j = 1; j <= n; j++) {
        c = cs[j]
        if (!((s, c) in tput)) {
          printf "| %s | %s | pending | pending | pending | — | — | — | — |\n", s, c
          continue
        }
        printf "| %s | %s | %.0f | %.2f | %.2f | %s | %s | %s | %s |\n", s, c, tput[s, c], p50[s, c],
               p99[s, c], err[s, c], ratio(tput[s, c], tput["etcd", c]), ratio(p50[s, c], p50["etcd", c]),
               ratio(p99[s, c], p99["etcd", c])
      }
    }
  }' "$results"
echo
if [[ -n "$relay_skip" && "$only" != etcd ]]; then
  echo "Relay-Raft rows are missing: $relay_skip." >&2
fi
[[ "$only" == relay || -n "$etcd_ok" ]] || exit 1
[[ "$only" == etcd || -z "$relay_skip" ]] || exit 1
