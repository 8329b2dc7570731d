#!/usr/bin/env bash
# Installs what is needed, checks formatting, lints the OpenAPI document, builds, starts a throwaway
# PostgreSQL (own data directory, unprivileged user, loopback only) and runs
# every test with ctest; runs the API tests again with the server under
# valgrind; fuzzes each parser briefly (OMNICHAT_FUZZ_SECONDS, default 30);
# then runs the tests under ASan+UBSan (skip that with OMNICHAT_SANITIZERS=0).
# Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test

echo "== formatting (clang-format)"
git ls-files '*.cpp' '*.hpp' '*.h' '*.c' | xargs clang-format --dry-run --Werror

echo "== OpenAPI lint (Redocly)"
scripts/lint-openapi.sh

echo "== the npm clients the tests drive (pinned)"
npm install --prefix build/npm --no-audit --no-fund --loglevel=error openai@5.23.2 >/dev/null

echo "== build"
scripts/build.sh

echo "== throwaway PostgreSQL"
source scripts/lib/throwaway-pg.sh
# Below the kernel's ephemeral range (32768-60999), where another program's
# outgoing connection could hold the port.
start_throwaway_pg "${OMNICHAT_TEST_PG_PORT:-25432}"
export OMNICHAT_TEST_DATABASE_URL=$OMNICHAT_PG_URL

echo "== tests"
ctest --test-dir build --output-on-failure -j 2

echo "== the API tests again, the server under valgrind (memcheck)"
# Every API route and streaming, on PostgreSQL. A memory error or a
# definite leak makes the server exit 99, which fails the test. Left out:
# the resilience tests, whose 400 ms first-token budget a server slowed
# down 20-50 times by valgrind cannot keep, and the metrics test (the heap
# gauge reads 0 under valgrind).
OMNICHAT_TEST_SERVER_WRAPPER="valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
  --show-leak-kinds=definite --num-callers=30" \
  ctest --test-dir build --output-on-failure -j 2 \
  -R 'Storage/(ApiTest|LargeExchangeTest)\..*/postgres|Storage/StreamTest' -E MetricsCount

echo "== fuzzing (libFuzzer)"
scripts/fuzz.sh "${OMNICHAT_FUZZ_SECONDS:-30}"

if [ "${OMNICHAT_SANITIZERS:-1}" != 0 ]; then
  echo "== tests under ASan+UBSan"
  reset_throwaway_pg
  BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DOMNICHAT_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan --output-on-failure -j 2
fi
