#!/usr/bin/env bash
# Configures and builds omnichat into BUILD_DIR (default build/), and puts
# Swagger UI beside it for GET /docs.
# Extra arguments go to the CMake configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-RelWithDebInfo} "$@" >/dev/null
cmake --build "$build_dir" -j "$(nproc)"
scripts/fetch-docs-ui.sh "$build_dir/share/docs"
