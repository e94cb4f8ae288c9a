#!/usr/bin/env bash
# Throughput/latency comparison of ferrokv and redis-server with redis-benchmark.
#
# Both servers are pinned to the same CPU (SERVER_CPU, default 0) and the load
# generator to another (CLIENT_CPU, default 1). Runs are interleaved: for each
# test and pipeline depth, ferrokv then redis-server (the order flips every
# round), so background noise on a shared machine hits both alike.
#
#   benches/compare.sh                      # SET,GET,INCR,MSET at -P 1 and -P 16
#   TESTS=set,get REQUESTS=200000 CLIENTS=50 DEPTHS="1 16" ROUNDS=2 benches/compare.sh
#
# Only the two server processes this script starts are killed, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=${TESTS:-SET,GET,INCR,MSET}
REQUESTS=${REQUESTS:-100000}
CLIENTS=${CLIENTS:-50}
DEPTHS=${DEPTHS:-"1 16"}
ROUNDS=${ROUNDS:-1}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
FERRO_PORT=${FERRO_PORT:-7650}
REDIS_PORT=${REDIS_PORT:-7651}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}   # seconds, per redis-benchmark run

for tool in redis-server redis-benchmark redis-cli taskset; do
  command -v "$tool" >/dev/null || { echo "compare.sh: $tool not found" >&2; exit 1; }
done

echo "building release binary..." >&2
cargo build --release --quiet --bin ferrokv

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_ready() {
  local port=$1
  for _ in $(seq 1 200); do
    [[ "$(redis-cli -p "$port" PING 2>/dev/null)" == PONG ]] && return 0
    sleep 0.05
  done
  echo "server on port $port did not answer PING within 10 s" >&2
  exit 1
}

# No persistence on either side: a benchmark leaves no dump.rdb behind.
taskset -c "$SERVER_CPU" target/release/ferrokv --port "$FERRO_PORT" --bind 127.0.0.1 \
  --save "" --appendonly no --loglevel warning >/dev/null 2>&1 &
PIDS+=($!)
taskset -c "$SERVER_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
  --appendonly no --daemonize no --loglevel warning >/dev/null 2>&1 &
PIDS+=($!)
wait_ready "$FERRO_PORT"
wait_ready "$REDIS_PORT"

# One redis-benchmark run; prints "rps p50 p99" of the test's CSV row, the
# last one (LRANGE_* tests are preceded by the LPUSH run that fills the list).
bench() {
  local port=$1 test=$2 depth=$3
  redis-cli -p "$port" FLUSHALL >/dev/null
  timeout "$RUN_TIMEOUT" taskset -c "$CLIENT_CPU" redis-benchmark -p "$port" \
    -t "$test" -n "$REQUESTS" -c "$CLIENTS" -P "$depth" --csv -q 2>/dev/null |
    awk -F',' 'NR > 1 { for (i = 1; i <= NF; i++) gsub(/"/, "", $i); last = $2 " " $5 " " $7 }
               END { if (last != "") print last }'
}

printf '%-6s %5s %12s %12s %6s %16s %16s\n' test depth ferrokv_rps redis_rps ratio \
  "ferrokv_p50/p99" "redis_p50/p99"
IFS=',' read -ra test_list <<<"$TESTS"
for round in $(seq 1 "$ROUNDS"); do
  for test in "${test_list[@]}"; do
    for depth in $DEPTHS; do
      if (( round % 2 == 1 )); then
        read -r f_rps f_p50 f_p99 < <(bench "$FERRO_PORT" "$test" "$depth") || true
        read -r r_rps r_p50 r_p99 < <(bench "$REDIS_PORT" "$test" "$depth") || true
      else
        read -r r_rps r_p50 r_p99 < <(bench "$REDIS_PORT" "$test" "$depth") || true
        read -r f_rps f_p50 f_p99 < <(bench "$FERRO_PORT" "$test" "$depth") || true
      fi
      ratio=$(awk -v f="${f_rps:-0}" -v r="${r_rps:-0}" \
        'BEGIN { if (f > 0 && r > 0) printf "%.2f", f / r; else printf "n/a" }')
      printf '%-6s %5s %12s %12s %6s %16s %16s\n' "$test" "$depth" "${f_rps:-failed}" \
        "${r_rps:-failed}" "$ratio" "${f_p50:-?}/${f_p99:-?}" "${r_p50:-?}/${r_p99:-?}"
    done
  done
done
