#!/usr/bin/env bash
# The omnichat benchmark: one command, one machine. Starts a throwaway
# PostgreSQL, a fake OpenAI-compatible upstream (nginx: instant, delayed, or
# streaming 200 pieces 5 ms apart) and omnichat in its production
# configuration (release build, postgres storage, openai plugin), drives load
# with wrk (and omnichat-streams for streaming), measures the upstream alone
# and the storage floor (pgbench running omnichat's SQL), prints one table,
# draws a chart, and stops everything it started.
#
#   scripts/bench/run.sh [--seconds N] [--in-flight N] [--delay S] [--moonshot] [--soak MINUTES]
#                        [--only throughput,in-flight,streams,edge]
#
# Results land in build-release/bench/ (results.txt, results.dat, results.png).
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)

seconds=15          # each throughput phase
in_flight=2000      # connections held open against the delayed upstream
delay=2             # seconds the delayed upstream waits
moonshot=0
soak=0
history_cache_mb=64  # omnichat's default
only=""            # comma list of throughput,in-flight,streams,edge; empty: all (moonshot and soak: their flags)
streams=256         # concurrent streaming replies
stream_chunks=200   # pieces of text in each, 5 ms apart
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift 2 ;;
    --in-flight) in_flight=$2; shift 2 ;;
    --delay) delay=$2; shift 2 ;;
    --moonshot) moonshot=1; shift ;;
    --soak) soak=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

scripts/install-deps.sh
missing=()
for p in wrk nginx-light libnginx-mod-http-echo gnuplot-nox; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
BUILD_DIR=build-release BUILD_TYPE=Release scripts/build.sh >/dev/null

out=$root/build-release/bench
rm -rf "$out" && mkdir -p "$out"
# Thousands of connections at once, two descriptors each (client and
# upstream): raise the hard limit where allowed (root), then the soft one.
ulimit -Hn 200000 2>/dev/null || true
ulimit -n "$(ulimit -Hn)"

# --- services -------------------------------------------------------------
source scripts/lib/throwaway-pg.sh
# Ports below the kernel's ephemeral range (32768-60999): tens of thousands
# of outgoing connections would otherwise take them between phases.
start_throwaway_pg "${OMNICHAT_BENCH_PG_PORT:-25442}"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$out/nginx.pid" ] && kill "$(cat "$out/nginx.pid")" 2>/dev/null || true
  stop_throwaway_pg
}
trap cleanup EXIT

upstream_port=25443
omnichat_port=25444
reply='data: {"id":"b","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello from the bench upstream."},"finish_reason":null}]}

data: {"id":"b","object":"chat.completion.chunk","model":"bench","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: {"id":"b","object":"chat.completion.chunk","model":"bench","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":6,"total_tokens":26}}

data: [DONE]

'
cat > "$out/nginx.conf" <<NGINX
load_module /usr/lib/nginx/modules/ngx_http_echo_module.so;
worker_processes 1;
pid $out/nginx.pid;
error_log $out/nginx-error.log warn;
worker_rlimit_nofile 200000;
events { worker_connections 60000; }
http {
  access_log off;
  keepalive_requests 10000000;
  client_body_buffer_size 64k;
  server {
    listen 127.0.0.1:$upstream_port backlog=65535;
    location /instant/v1/chat/completions {
      default_type text/event-stream;
      return 200 '$reply';
    }
    location /stream-$stream_chunks/v1/chat/completions {
      default_type text/event-stream;
      echo_read_request_body;
$(for i in $(seq 0 $((stream_chunks - 1))); do
  printf "      echo -n 'data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"c%d \"},\"finish_reason\":null}]}\n\n';\n      echo_flush;\n      echo_sleep 0.005;\n" "$i"
done)
      echo -n 'data: {"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}

data: {"choices":[],"usage":{"prompt_tokens":20,"completion_tokens":$stream_chunks,"total_tokens":$((stream_chunks + 20))}}

data: [DONE]

';
    }
$(for d in "$delay" 5; do cat <<LOCATION
    location /delay-$d/v1/chat/completions {
      default_type text/event-stream;
      echo_read_request_body;
      echo_sleep $d;
      echo -n '$reply';
    }
LOCATION
done)
  }
}
NGINX
nginx -c "$out/nginx.conf" -p "$out"

start_omnichat() {  # $1: the upstream's path prefix: instant or delay-SECONDS
  local base="http://127.0.0.1:$upstream_port/$1/v1"
  cat > "$out/omnichat.yaml" <<YAML
server:
  listen: 127.0.0.1:$omnichat_port
  reactor_threads: 2
  worker_threads: 8
  queue_depth: 20000
  max_in_flight: 20000
  max_connections: 20000           # every bench client comes from one address
  max_connections_per_address: 0
auth:
  jwt_secret: bench-secret
limits:                            # one user fills the same conversations for the whole run:
  max_conversations_per_user: 0    # the per-user caps would answer 409 after a few minutes
  max_messages_per_conversation: 0 # and the run would measure refusals
  max_conversation_bytes: 0
storage:
  plugin: postgres
  options:
    url: "$OMNICHAT_PG_URL"
    pool_size: 16
  history_cache_mb: $history_cache_mb
providers:
  bench:
    plugin: openai
    options:
      api_key: sk-bench
      base_url: "$base"
      timeout_ms: 600000
chat:
  default_provider: bench
  default_model: bench
  timeouts:
    first_token_ms: 600000
    idle_ms: 600000
    total_ms: 600000
logging:
  level: error
YAML
  build-release/bin/omnichat serve --config "$out/omnichat.yaml" > "$out/omnichat.log" 2>&1 &
  omnichat_pid=$!
  pids+=("$omnichat_pid")
  for _ in $(seq 100); do grep -q listening "$out/omnichat.log" && return; sleep 0.1; done
  echo "omnichat did not start:"; cat "$out/omnichat.log"; exit 1
}
stop_omnichat() { kill "$omnichat_pid"; wait "$omnichat_pid" 2>/dev/null || true; }

# --- data -----------------------------------------------------------------
start_omnichat instant
export TOKEN=$(build-release/bin/omnichat token --sub bench --config "$out/omnichat.yaml")
echo "creating 1000 conversations, and 1000 more with 20-message histories"
for set in sends reads; do
  for _ in $(seq 1000); do
    curl -s -X POST "http://127.0.0.1:$omnichat_port/conversations?project_id=$set" -H "Authorization: Bearer $TOKEN"
    echo
  done | sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p' > "$out/$set.ids"
done
psql -q "$OMNICHAT_PG_URL" <<SQL
CREATE TABLE bench_ids (n INT PRIMARY KEY, id TEXT NOT NULL);
INSERT INTO bench_ids SELECT row_number() OVER (ORDER BY id), id FROM conversations WHERE project_id = 'sends';
CREATE TABLE bench_read_ids (n INT PRIMARY KEY, id TEXT NOT NULL);
INSERT INTO bench_read_ids SELECT row_number() OVER (ORDER BY id), id FROM conversations WHERE project_id = 'reads';
INSERT INTO messages (id, conversation_id, seq, role, content, created_at_ms)
  SELECT gen_random_uuid()::text, c.id, s, 1 + (s + 1) % 2, 'history message ' || s, 1700000000000 + s
  FROM conversations c, generate_series(1, 20) s WHERE c.project_id = 'reads';
UPDATE conversations SET message_count = 20 WHERE project_id = 'reads';
SQL

# --- measuring ------------------------------------------------------------
printf "%-28s %10s %8s %8s %8s %8s %8s %10s %9s\n" phase "req/s" errors p50ms p90ms p99ms "" "cpu_us/req" peak_MB \
  | tee "$out/results.txt"
: > "$out/results.dat"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
sample_rss() {  # the largest VmRSS of $1 while it runs, in kB, into $2
  local max=0 v
  while kill -0 "$1" 2>/dev/null; do
    v=$(awk '/VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0)
    # Renamed into place: a reader never sees the file half written.
    [ "${v:-0}" -gt "$max" ] && max=$v && echo "$max" > "$2.new" && mv "$2.new" "$2"
    sleep 0.5
  done
}
ms() {  # wrk latency ("512.00us", "1.20ms", "2.01s") in milliseconds
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'
}
# run_wrk NAME SERVER_PID WRK_ARGS...: one phase, one table row.
run_wrk() {
  local name=$1 pid=$2; shift 2
  local before=0; [ "$pid" != 0 ] && before=$(cpu_ticks "$pid")
  echo 0 > "$out/rss"
  if [ "$pid" != 0 ]; then sample_rss "$pid" "$out/rss" & local sampler=$!; fi
  wrk --latency "$@" > "$out/$name.wrk" 2>&1
  local after=0; [ "$pid" != 0 ] && after=$(cpu_ticks "$pid") && kill "$sampler" 2>/dev/null
  local rps requests errors p50 p90 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$out/$name.wrk")
  requests=$(awk '/requests in/ {print $1}' "$out/$name.wrk")
  errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out/$name.wrk")
  p50=$(ms "$(awk '$1 == "50%" {print $2}' "$out/$name.wrk")")
  p90=$(ms "$(awk '$1 == "90%" {print $2}' "$out/$name.wrk")")
  p99=$(ms "$(awk '$1 == "99%" {print $2}' "$out/$name.wrk")")
  local cpu="-" rss="-"
  if [ "$pid" != 0 ] && [ "${requests:-0}" -gt 0 ]; then
    cpu=$(( (after - before) * 1000000 / $(getconf CLK_TCK) / requests ))
    rss=$(( $(cat "$out/rss") / 1024 ))
  fi
  printf "%-28s %10s %8s %8s %8s %8s %8s %10s %9s\n" "$name" "$rps" "$errors" "$p50" "$p90" "$p99" "" "$cpu" "$rss" \
    | tee -a "$out/results.txt"
  echo "$name $rps $errors $p50 $p90 $p99" >> "$out/results.dat"
}

up="http://127.0.0.1:$upstream_port"
oc="http://127.0.0.1:$omnichat_port"
export IDS_FILE=$out/sends.ids

want() { [ -z "$only" ] || [[ ",$only," == *",$1,"* ]]; }

if want throughput; then
run_wrk direct-1conn 0 -t1 -c1 -d10s -s scripts/bench/direct.lua "$up/instant/v1/chat/completions"
run_wrk send-1conn "$omnichat_pid" -t1 -c1 -d10s -s scripts/bench/send.lua "$oc"
run_wrk direct-64conn 0 -t2 -c64 -d"${seconds}s" -s scripts/bench/direct.lua "$up/instant/v1/chat/completions"
run_wrk send-64conn "$omnichat_pid" -t2 -c64 -d"${seconds}s" -s scripts/bench/send.lua "$oc"

# pgbench_floor NAME SQL_FILE CLIENTS SECONDS: what PostgreSQL alone does
# for omnichat's SQL, as a table row (pgbench reports the mean latency only).
pgbench_floor() {
  pgbench -n -M prepared -c "$3" -j "$(( $3 < 2 ? 1 : 2 ))" -T "$4" -f "$2" "$OMNICHAT_PG_URL" > "$out/$1.pgbench" 2>&1
  local tps lat
  tps=$(awk '/^tps/ {print $3; exit}' "$out/$1.pgbench")
  lat=$(awk '/latency average/ {print $4}' "$out/$1.pgbench")
  printf "%-28s %10s %8s %8s\n" "$1" "$tps" 0 "$lat(avg)" | tee -a "$out/results.txt"
}
pgbench_floor storage-floor-1conn scripts/bench/exchange.sql 1 10
pgbench_floor storage-floor-64 scripts/bench/exchange.sql 64 "$seconds"

# Time to first token through omnichat (streaming, 20-message histories)
# beside the upstream's own. The first pass is each conversation's first
# turn since omnichat started (its whole history read from storage); the
# second is the next turn of the same conversations, as a chat goes on
# (only what was appended since is read).
ttfb_body='{"model":"bench","messages":[{"role":"user","content":"hi"}],"stream":true}'
direct_ttfb=$(build-release/bin/omnichat-ttfb "$upstream_port" /instant/v1/chat/completions "$ttfb_body" 500 Hello)
head -n 500 "$out/reads.ids" > "$out/ttfb.ids"
ttfb_pass() {
  IDS_FILE=$out/ttfb.ids build-release/bin/omnichat-ttfb "$omnichat_port" "/conversations/{id}/messages" \
    '{"content":"hi"}' 500 "event: delta" "$TOKEN"
}
cold_ttfb=$(ttfb_pass)
warm_ttfb=$(ttfb_pass)
printf "%-28s %10s %8s %8s %8s %8s\n" ttfb-direct "" 0 $direct_ttfb | tee -a "$out/results.txt"
printf "%-28s %10s %8s %8s %8s %8s\n" ttfb-omnichat-first-turn "" 0 $cold_ttfb | tee -a "$out/results.txt"
printf "%-28s %10s %8s %8s %8s %8s\n" ttfb-omnichat-next-turn "" 0 $warm_ttfb | tee -a "$out/results.txt"

IDS_FILE=$out/reads.ids run_wrk history-64conn "$omnichat_pid" -t2 -c64 -d"${seconds}s" -s scripts/bench/history.lua "$oc"
pgbench_floor history-floor-64 scripts/bench/history.sql 64 "$seconds"
fi
stop_omnichat

# Empties the send conversations again, so a phase's histories do not depend
# on what the phases before it sent.
reset_sends() {
  psql -q "$OMNICHAT_PG_URL" <<SQL
DELETE FROM messages WHERE conversation_id IN (SELECT id FROM bench_ids);
UPDATE conversations SET message_count = 0, prompt_tokens = 0, completion_tokens = 0, cost = 0
  WHERE id IN (SELECT id FROM bench_ids);
SQL
}

run_in_flight() {  # NAME CONNECTIONS DELAY DURATION
  reset_sends
  start_omnichat "delay-$3"
  run_wrk "$1" "$omnichat_pid" -t2 -c"$2" -d"$4" --timeout 30s -s scripts/bench/send.lua "$oc"
  stop_omnichat
  # The delayed upstream alone at the same concurrency: its own tail is the
  # baseline for omnichat's. After omnichat's run: its 10,000 connections
  # closing leave as many local ports in TIME_WAIT for a minute, which
  # omnichat's own connections to the upstream would then compete for.
  run_wrk "direct-$1" 0 -t2 -c"$2" -d"$4" --timeout 30s -s scripts/bench/direct.lua "$up/delay-$3/v1/chat/completions"
}
want in-flight && run_in_flight "in-flight-$in_flight" "$in_flight" "$delay" 30s

# Streaming replies: $streams at once, twice each, every one checked whole
# (omnichat-streams); time to the first text beside the upstream's own.
run_streams() {  # NAME SERVER_PID ARGS...
  local name=$1 pid=$2; shift 2
  echo 0 > "$out/rss"
  if [ "$pid" != 0 ]; then sample_rss "$pid" "$out/rss" & local sampler=$!; fi
  local result; result=$(build-release/bin/omnichat-streams "$@" || true)
  [ -n "$result" ] || result="0 $((streams * 2)) - - - -"  # the tool failed: every stream counts as lost
  [ "$pid" != 0 ] && kill "$sampler" 2>/dev/null
  read -r whole total first50 first99 end50 end99 <<< "$result"
  local rss="-"; [ "$pid" != 0 ] && rss=$(( $(cat "$out/rss") / 1024 ))
  printf "%-28s %10s %8s %8s %8s %8s %8s %10s %9s\n" "$name-first" "" $((total - whole)) "$first50" "" "$first99" "" "" "$rss" \
    | tee -a "$out/results.txt"
  printf "%-28s %10s %8s %8s %8s %8s\n" "$name-end" "" $((total - whole)) "$end50" "" "$end99" | tee -a "$out/results.txt"
}
if want streams; then
stream_body='{"model":"bench","messages":[{"role":"user","content":"hi"}],"stream":true}'
run_streams "streams-${streams}-direct" 0 "$upstream_port" "/stream-$stream_chunks/v1/chat/completions" \
  "$stream_body" "$streams" 2 "$stream_chunks"
start_omnichat "stream-$stream_chunks"
run_streams "streams-${streams}" "$omnichat_pid" "$omnichat_port" "/conversations/{id}/messages" '{"content":"hi"}' \
  "$streams" 2 "$stream_chunks" "$TOKEN"
stop_omnichat
fi
if [ "$moonshot" = 1 ]; then
  # Each client connection and each upstream connection holds a descriptor,
  # and omnichat gives each half of what its own leave (256): below
  # 2 x 10,000 + 256 some connections are answered 503 and reconnect, and
  # wrk counts every such answer as an error.
  if [ "$(ulimit -n)" -lt 20256 ]; then
    echo "in-flight-10000: descriptor limit $(ulimit -n): omnichat takes at most $((($(ulimit -n) - 256) / 2))" \
      "client connections; wrk's others are refused (503) and retried, each an error below" | tee -a "$out/results.txt"
  fi
  run_in_flight in-flight-10000 10000 5 60s
fi

# What unauthenticated clients that never finish a request cost: resident
# memory before and while 1,000 hold an 8 KiB partial head each (target: at
# most 64 MB more).
if want edge; then
  start_omnichat instant
  sleep 1
  idle_kb=$(awk '/VmRSS/ {print $2}' "/proc/$omnichat_pid/status")
  coproc partial { build-release/bin/omnichat-partial "$omnichat_port" 1000 8192; }
  read -r ready <&"${partial[0]}"
  sleep 2
  held_kb=$(awk '/VmRSS/ {print $2}' "/proc/$omnichat_pid/status")
  exec {partial[1]}>&-
  wait "$partial_PID" 2>/dev/null || true
  printf "%-28s %s: RSS %d MB idle, %d MB with them (+%d MB)\n" edge-1000-partial-heads "$ready" \
    $((idle_kb / 1024)) $((held_kb / 1024)) $(((held_kb - idle_kb) / 1024)) | tee -a "$out/results.txt"
  stop_omnichat
fi

if [ "$soak" != 0 ]; then
  start_omnichat instant
  # Mixed load on ever new conversations (scripts/bench/soak.lua), at about
  # half of what 64 connections reach: what a long day looks like.
  # Every 30 s: resident MB, descriptors, threads, the heap in use and the
  # histories held (MB, from /metrics: growth of the heap beyond the
  # histories' bound is a leak, growth of RSS alone is the allocator's);
  # growth counts from the sample after the first minute, and from the
  # first sample with the held histories at their bound.
  (while kill -0 "$omnichat_pid" 2>/dev/null; do
     echo "$(( $(awk '/VmRSS/ {print $2}' "/proc/$omnichat_pid/status") / 1024 )) $(ls "/proc/$omnichat_pid/fd" | wc -l)" \
       "$(awk '/Threads/ {print $2}' "/proc/$omnichat_pid/status")" \
       "$(curl -s "$oc/metrics" | awk '/^omnichat_heap_bytes / {heap = $2} /^omnichat_history_cache_bytes / {held = $2}
                                      END {printf "%.1f %.1f", heap / 1048576, held / 1048576}')"
     sleep 30
   done > "$out/soak-samples.txt" 2>/dev/null) &
  run_wrk "soak-${soak}min-8conn" "$omnichat_pid" -t2 -c8 -d"${soak}m" -s scripts/bench/soak.lua "$oc"
  stop_omnichat
  samples=$(awk 'NF == 5' "$out/soak-samples.txt")
  read -r rss1 fds1 threads1 heap1 held1 <<< "$(sed -n 3p <<< "$samples")"
  read -r rss2 fds2 threads2 heap2 held2 <<< "$(tail -n 1 <<< "$samples")"
  read -r rss3 _ _ heap3 held3 <<< "$(awk -v bound="$history_cache_mb" '$5 >= 0.98 * bound' <<< "$samples" | head -n 1)"
  echo "soak after the first minute -> end: RSS ${rss1} -> ${rss2} MB, heap in use ${heap1} -> ${heap2} MB" \
    "(histories held ${held1} -> ${held2} MB), descriptors ${fds1} -> ${fds2}, threads ${threads1} -> ${threads2}" |
    tee -a "$out/results.txt"
  if [ -n "${rss3:-}" ]; then
    echo "soak once the histories held reached their bound -> end: RSS ${rss3} -> ${rss2} MB," \
      "heap in use ${heap3} -> ${heap2} MB" | tee -a "$out/results.txt"
  fi
fi

echo
if [ -s "$out/results.dat" ]; then  # streams alone make no wrk rows to draw
  gnuplot -e "outdir='$out'; host='$(nproc) cores'" scripts/bench/plot.gp
  echo "table: $out/results.txt   chart: $out/results.png"
else
  echo "table: $out/results.txt"
fi
