#!/usr/bin/env bash
# Installs what is needed, checks formatting, builds, starts a throwaway
# PostgreSQL (own data directory, unprivileged user, loopback only) and runs
# every test with ctest; then the same under ASan+UBSan (skip that with
# OMNICHAT_SANITIZERS=0). Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

scripts/install-deps.sh

echo "== formatting (clang-format)"
git ls-files '*.cpp' '*.hpp' '*.h' '*.c' | xargs clang-format --dry-run --Werror

echo "== build"
scripts/build.sh

echo "== throwaway PostgreSQL"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
pguser=$(id -un)
if [ "$(id -u)" -eq 0 ]; then
  # PostgreSQL refuses to run as root.
  pguser=omnichat-test
  id "$pguser" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pguser"
fi
as_pguser() { if [ "$(id -un)" = "$pguser" ]; then "$@"; else runuser -u "$pguser" -- "$@"; fi; }
pgdata=$(mktemp -d /tmp/omnichat-pg.XXXXXX)
chown "$pguser" "$pgdata"
pgport=${OMNICHAT_TEST_PG_PORT:-55432}
stop_pg() { as_pguser "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true; rm -rf "$pgdata"; }
trap stop_pg EXIT
as_pguser "$pgbin/initdb" -D "$pgdata" -U omnichat --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
as_pguser "$pgbin/pg_ctl" -D "$pgdata" -w -l "$pgdata/server.log" \
  -o "-p $pgport -c listen_addresses=127.0.0.1 -k $pgdata -c max_connections=200" start >/dev/null
as_pguser "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U omnichat omnichat_test
export OMNICHAT_TEST_DATABASE_URL="postgresql://omnichat@127.0.0.1:$pgport/omnichat_test"

echo "== tests"
ctest --test-dir build --output-on-failure -j 2

if [ "${OMNICHAT_SANITIZERS:-1}" != 0 ]; then
  echo "== tests under ASan+UBSan"
  as_pguser "$pgbin/dropdb" -h 127.0.0.1 -p "$pgport" -U omnichat omnichat_test
  as_pguser "$pgbin/createdb" -h 127.0.0.1 -p "$pgport" -U omnichat omnichat_test
  BUILD_DIR=build-asan BUILD_TYPE=Debug scripts/build.sh -DOMNICHAT_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    LSAN_OPTIONS=suppressions=$root/tests/sanitizers/lsan.supp:print_suppressions=0 \
    ctest --test-dir build-asan --output-on-failure -j 2
fi
