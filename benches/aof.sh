#!/usr/bin/env bash
# SET throughput with the AOF on: ferrokv vs redis-server, under
# `appendfsync always` and `everysec`, interleaved (ferrokv, redis, ferrokv,
# redis...). Each server gets a fresh temp dir; both are pinned to CPU 0 and
# redis-benchmark to CPU 1. Only the server processes started here are
# killed, by PID.
#
#   benches/aof.sh                          # -n 20000 -c 50 at -P 1 and -P 16
#   REQUESTS=50000 DEPTHS="1" benches/aof.sh
set -euo pipefail
cd "$(dirname "$0")/.."

REQUESTS=${REQUESTS:-20000}
CLIENTS=${CLIENTS:-50}
DEPTHS=${DEPTHS:-"1 16"}
POLICIES=${POLICIES:-"always everysec"}
FERRO_PORT=${FERRO_PORT:-7660}
REDIS_PORT=${REDIS_PORT:-7661}

cargo build --release --quiet --bin ferrokv
WORK=$(mktemp -d)
PID=""
cleanup() {
  if [ -n "$PID" ]; then kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

start() { # name port policy
  local dir="$WORK/$1-$3"
  rm -rf "$dir"; mkdir -p "$dir"
  if [ "$1" = ferrokv ]; then
    taskset -c 0 target/release/ferrokv --port "$2" --dir "$dir" --appendonly yes \
      --appendfsync "$3" --loglevel warning >/dev/null 2>&1 &
  else
    taskset -c 0 redis-server --port "$2" --dir "$dir" --appendonly yes --appendfsync "$3" \
      --aof-use-rdb-preamble no --save "" --loglevel warning >/dev/null 2>&1 &
  fi
  PID=$!
  for _ in $(seq 200); do redis-cli -p "$2" PING >/dev/null 2>&1 && return; sleep 0.05; done
  echo "$1 did not start" >&2; exit 1
}

stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""; }

rps() { # port depth
  taskset -c 1 redis-benchmark -p "$1" -t set -n "$REQUESTS" -c "$CLIENTS" -P "$2" -r 100000 -q \
    | tr '\r' '\n' | awk '/requests per second/ {print $2}' | tail -1
}

printf "%-9s %5s %12s %12s %6s\n" policy depth ferrokv redis ratio
for policy in $POLICIES; do
  for depth in $DEPTHS; do
    start ferrokv "$FERRO_PORT" "$policy"; f=$(rps "$FERRO_PORT" "$depth"); stop
    start redis "$REDIS_PORT" "$policy"; r=$(rps "$REDIS_PORT" "$depth"); stop
    printf "%-9s %5s %12s %12s %6.2f\n" "$policy" "$depth" "$f" "$r" "$(echo "$f / $r" | bc -l)"
  done
done
