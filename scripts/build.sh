#!/usr/bin/env bash
# Configures and builds Relay-Raft into build/ (or $RELAY_BUILD_DIR), after
# installing any missing Debian package. RELAY_BUILD_TARGETS limits the build
# to some targets (the demo needs no tests); extra arguments go to CMake.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RELAY_BUILD_DIR:-$root/build}
bash "$root/scripts/setup.sh"
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
targets=()
for target in ${RELAY_BUILD_TARGETS:-}; do targets+=(--target "$target"); done
echo "build: compiling into $build (the first time takes a few minutes; log: $build/build.log)"
status=0
cmake --build "$build" -j"$(nproc)" "${targets[@]}" >"$build/build.log" 2>&1 || status=$?
if ((status != 0)); then
  grep -E 'error|Error' "$build/build.log" | head -n 40 >&2 || true
  echo "build: failed (the whole log: $build/build.log)" >&2
  exit "$status"
fi
