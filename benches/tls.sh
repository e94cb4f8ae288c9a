#!/usr/bin/env bash
# TLS throughput of ferrokv against redis-server, both with TLS only and the
# same certificate (ECDSA P-256, made here with openssl), with
# `redis-benchmark --tls`.
#
# As in compare.sh: servers pinned to SERVER_CPU, the load generator to
# CLIENT_CPU, runs interleaved (ferrokv then redis, the order flipping every
# round) so noise on a shared machine hits both alike. Prints one ratio
# (ferrokv rps / redis rps) per test and pipeline depth.
#
#   benches/tls.sh
#   TESTS=set,get REQUESTS=100000 CLIENTS=50 DEPTHS="1 16" ROUNDS=2 benches/tls.sh
#
# Only the two server processes this script starts are killed, by PID.
set -euo pipefail
cd "$(dirname "$0")/.."

TESTS=${TESTS:-SET,GET}
REQUESTS=${REQUESTS:-50000}
CLIENTS=${CLIENTS:-50}
DEPTHS=${DEPTHS:-"1 16"}
ROUNDS=${ROUNDS:-2}
SERVER_CPU=${SERVER_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
FERRO_PORT=${FERRO_PORT:-7660}
REDIS_PORT=${REDIS_PORT:-7661}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}   # seconds, per redis-benchmark run

for tool in redis-server redis-benchmark redis-cli taskset openssl; do
  command -v "$tool" >/dev/null || { echo "tls.sh: $tool not found" >&2; exit 1; }
done
redis-benchmark --help 2>&1 | grep -q -- '--tls' ||
  { echo "tls.sh: redis-benchmark was built without TLS" >&2; exit 1; }

echo "building release binary..." >&2
cargo build --release --quiet --bin ferrokv

CLIENT_ARGS=()
# shellcheck source=benches/side_by_side.sh
source benches/side_by_side.sh
CERTS=$(mktemp -d)
CLEANUP_DIRS+=("$CERTS")

# A CA and a server certificate for 127.0.0.1 signed by it.
(
  cd "$CERTS"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
  printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out server.crt -days 2 -extfile ext 2>/dev/null
)
TLS_ARGS=(--port 0 --bind 127.0.0.1 --loglevel warning --tls-auth-clients no
  --tls-cert-file "$CERTS/server.crt" --tls-key-file "$CERTS/server.key")
CLIENT_ARGS=(--tls --cacert "$CERTS/ca.crt")

taskset -c "$SERVER_CPU" target/release/ferrokv "${TLS_ARGS[@]}" --tls-port "$FERRO_PORT" \
  --save "" --appendonly no >/dev/null 2>&1 &
PIDS+=($!)
taskset -c "$SERVER_CPU" redis-server "${TLS_ARGS[@]}" --tls-port "$REDIS_PORT" --save "" \
  --appendonly no --daemonize no >/dev/null 2>&1 &
PIDS+=($!)
wait_ready "$FERRO_PORT"
wait_ready "$REDIS_PORT"

run_rounds
