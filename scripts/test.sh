#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test: unit, simulation
# and integration (real processes on loopback), then the unit and simulation
# tests again under AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${RELAY_BUILD_DIR:-$root/build}

bash "$root/scripts/setup.sh" --tests
bash "$root/scripts/build.sh"
echo "== unit and simulation tests"
ctest --test-dir "$build" --output-on-failure -L 'unit|sim' -j2
echo "== integration tests (real processes)"
ctest --test-dir "$build" --output-on-failure -L integration

if [[ "${RELAY_SKIP_SANITIZERS:-0}" != 1 ]]; then
  echo "== unit and simulation tests under address and undefined-behaviour sanitizers"
  # Optimized (sanitizers do not need -O0, and the simulator runs ten times
  # faster with -O2); 200 seeds, as the plain build already ran 500.
  # unit_tests (tests/CMakeLists.txt) depends on every test labelled unit.
  RELAY_BUILD_DIR="$build-asan" RELAY_BUILD_TARGETS="unit_tests relay-sim" \
    bash "$root/scripts/build.sh" -DRELAY_SANITIZE=address,undefined \
    -DRELAY_SIM_CI_SEEDS=200
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    ctest --test-dir "$build-asan" --output-on-failure -L 'unit|sim' -j2
fi
echo "== all tests passed"
