# Sourced by scripts/test.sh and scripts/bench/run.sh: start_throwaway_pg PORT
# starts a PostgreSQL server of its own (data directory under /tmp, an
# unprivileged user since PostgreSQL refuses root, loopback only, trust auth)
# with a database omnichat_test, exports OMNICHAT_PG_URL, and stops and
# removes it all when the calling script exits.

start_throwaway_pg() {
  local port=$1
  pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  pguser=$(id -un)
  if [ "$(id -u)" -eq 0 ]; then
    pguser=omnichat-test
    id "$pguser" >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$pguser"
  fi
  pgdata=$(mktemp -d /tmp/omnichat-pg.XXXXXX)
  chown "$pguser" "$pgdata"
  trap stop_throwaway_pg EXIT
  as_pguser "$pgbin/initdb" -D "$pgdata" -U omnichat --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
  if ! as_pguser "$pgbin/pg_ctl" -D "$pgdata" -w -l "$pgdata/server.log" \
    -o "-p $port -c listen_addresses=127.0.0.1 -k $pgdata -c max_connections=300 ${PG_EXTRA_OPTIONS:-}" \
    start >/dev/null; then
    # The data directory goes when the script exits; say why first.
    echo "PostgreSQL did not start on port $port; its log:" >&2
    cat "$pgdata/server.log" >&2
    return 1
  fi
  as_pguser "$pgbin/createdb" -h 127.0.0.1 -p "$port" -U omnichat omnichat_test
  export OMNICHAT_PG_URL="postgresql://omnichat@127.0.0.1:$port/omnichat_test"
  export OMNICHAT_PG_PORT=$port
}

as_pguser() { if [ "$(id -un)" = "$pguser" ]; then "$@"; else runuser -u "$pguser" -- "$@"; fi; }

# Drops and recreates the database: a clean slate for a second test pass.
reset_throwaway_pg() {
  as_pguser "$pgbin/dropdb" -h 127.0.0.1 -p "$OMNICHAT_PG_PORT" -U omnichat omnichat_test
  as_pguser "$pgbin/createdb" -h 127.0.0.1 -p "$OMNICHAT_PG_PORT" -U omnichat omnichat_test
}

stop_throwaway_pg() {
  as_pguser "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$pgdata"
}
