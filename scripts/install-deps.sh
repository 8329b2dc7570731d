#!/usr/bin/env bash
# Installs the Debian 12 packages omnichat needs to build, run and test.
# Does nothing when they are all present. With --test, also what the tests
# need beyond that.
set -euo pipefail

packages=(
  build-essential cmake pkg-config ccache clang-format
  libpistache-dev libpoco-dev libboost-dev libyaml-cpp-dev libspdlog-dev
  nlohmann-json3-dev libgtest-dev libcurl4-openssl-dev libpq-dev libssl-dev
  postgresql
)
# The tests also load the API documentation in a browser, fuzz with clang's
# libFuzzer and run the server under valgrind.
if [ "${1:-}" = "--test" ]; then packages+=(chromium clang libclang-rt-14-dev valgrind); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
