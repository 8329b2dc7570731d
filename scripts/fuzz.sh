#!/usr/bin/env bash
# Fuzzes the parsers of untrusted input with libFuzzer (clang, ASan+UBSan):
# HTTP requests as the edge reads them, request bodies, JWTs, provider event streams, their chunks, the SDK's
# JSON reader and the YAML configuration.
# Usage: scripts/fuzz.sh [SECONDS per target, default 30] [TARGET...]
# Each target starts from tests/fuzz/seeds/<target> and the inputs that once
# crashed it (tests/fuzz/regressions/<target>), with the tokens of
# tests/fuzz/dicts/<target>.dict when there is one; what it learns stays in
# build-fuzz/corpus. A crash stops the script and names the input: fix the
# bug and add the input to regressions/, which ctest replays in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(http_request request_bodies jwt sse chunk json config)
build_dir=${FUZZ_BUILD_DIR:-build-fuzz}

CC=clang CXX=clang++ cmake -S . -B "$build_dir" -DOMNICHAT_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build_dir" -j "$(nproc)" --target "${targets[@]/#/fuzz_}"

for target in "${targets[@]}"; do
  corpus=$build_dir/corpus/$target
  crashes=$build_dir/crashes/$target
  mkdir -p "$corpus" "$crashes"
  inputs=("$corpus" "tests/fuzz/seeds/$target")
  [ -d "tests/fuzz/regressions/$target" ] && inputs+=("tests/fuzz/regressions/$target")
  options=()
  [ -f "tests/fuzz/dicts/$target.dict" ] && options+=("-dict=tests/fuzz/dicts/$target.dict")
  echo "== fuzzing $target for ${seconds}s"
  if ! "$build_dir/bin/fuzz_$target" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$crashes/" "${options[@]}" "${inputs[@]}" >"$build_dir/$target.log" 2>&1; then
    tail -n 60 "$build_dir/$target.log"
    echo "fuzz_$target failed; the input is in $crashes/" >&2
    exit 1
  fi
  grep -E '^stat::(number_of_executed_units|new_units_added)' "$build_dir/$target.log" | tr '\n' ' '
  echo
done
