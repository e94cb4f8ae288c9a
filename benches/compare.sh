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

CLIENT_ARGS=()
# shellcheck source=benches/side_by_side.sh
source benches/side_by_side.sh

# No persistence on either side: a benchmark leaves no dump.rdb behind.
taskset -c "$SERVER_CPU" target/release/ferrokv --port "$FERRO_PORT" --bind 127.0.0.1 \
  --save "" --appendonly no --loglevel warning >/dev/null 2>&1 &
PIDS+=($!)
taskset -c "$SERVER_CPU" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" \
  --appendonly no --daemonize no --loglevel warning >/dev/null 2>&1 &
PIDS+=($!)
wait_ready "$FERRO_PORT"
wait_ready "$REDIS_PORT"

run_rounds
