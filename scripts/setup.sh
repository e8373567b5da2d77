#!/usr/bin/env bash
# Installs the Debian packages Relay-Raft needs to build and run it — and,
# with --tests, to test it — but only those that are missing, so a second run
# is quick and offline.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libzmq3-dev cppzmq-dev libmsgpack-cxx-dev libspdlog-dev
  doctest-dev libinih-dev libcli11-dev
  nlohmann-json3-dev  # the monitor reads its recordings back (JSON lines)
)
if [[ "${1:-}" == "--tests" ]]; then
  packages+=(
    python3 python3-zmq python3-msgpack  # integration tests: a client written from docs/protocol.md
    chromium                             # the monitor's tests render its HTML report in a real browser
    iproute2 nftables                    # fault tests: network namespaces and one-way cuts
  )
fi
if [[ "${RELAY_SETUP_EXTRA:-}" != "" ]]; then
  read -r -a extra <<<"$RELAY_SETUP_EXTRA"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [[ $(id -u) != 0 ]]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
