# Shared by compare.sh and tls.sh (sourced, not run): start-up checks, clean
# up, and the interleaved redis-benchmark rounds. The caller sets TESTS,
# REQUESTS, CLIENTS, DEPTHS, ROUNDS, CLIENT_CPU, RUN_TIMEOUT, FERRO_PORT,
# REDIS_PORT and CLIENT_ARGS (extra redis-cli/redis-benchmark options, e.g.
# TLS), and appends the servers it starts to PIDS.

PIDS=()
CLEANUP_DIRS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for dir in "${CLEANUP_DIRS[@]}"; do rm -rf "$dir"; done
}
trap cleanup EXIT

wait_ready() {
  local port=$1
  for _ in $(seq 1 200); do
    [[ "$(redis-cli "${CLIENT_ARGS[@]}" -p "$port" PING 2>/dev/null)" == PONG ]] && return 0
    sleep 0.05
  done
  echo "server on port $port did not answer PING within 10 s" >&2
  exit 1
}

# One redis-benchmark run; prints "rps p50 p99" of the test's CSV row, the
# last one (LRANGE_* tests are preceded by the LPUSH run that fills the list).
bench() {
  local port=$1 test=$2 depth=$3
  redis-cli "${CLIENT_ARGS[@]}" -p "$port" FLUSHALL >/dev/null
  timeout "$RUN_TIMEOUT" taskset -c "$CLIENT_CPU" redis-benchmark "${CLIENT_ARGS[@]}" \
    -p "$port" -t "$test" -n "$REQUESTS" -c "$CLIENTS" -P "$depth" --csv -q 2>/dev/null |
    awk -F',' 'NR > 1 { for (i = 1; i <= NF; i++) gsub(/"/, "", $i); last = $2 " " $5 " " $7 }
               END { if (last != "") print last }'
}

# Every test at every depth, ferrokv then redis-server (the order flips every
# round, so background noise hits both alike); one line each with the ratio
# ferrokv rps / redis rps. With several rounds a summary follows: per test and
# depth, the median ratio and the lowest, since one round on a shared machine
# can dip either way.
run_rounds() {
  local ratios_file
  ratios_file=$(mktemp)
  CLEANUP_DIRS+=("$ratios_file")
  printf '%-6s %5s %12s %12s %6s %16s %16s\n' test depth ferrokv_rps redis_rps ratio \
    "ferrokv_p50/p99" "redis_p50/p99"
  local test_list round test depth ratio
  local f_rps f_p50 f_p99 r_rps r_p50 r_p99
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
        echo "$test $depth $ratio" >>"$ratios_file"
      done
    done
  done
  if (( ROUNDS > 1 )); then
    echo
    printf '%-10s %5s %13s %10s\n' test depth median_ratio min_ratio
    # Keeps first-seen order; a failed round ("n/a") counts as the minimum.
    awk '{ key = $1 " " $2; if (!(key in n)) order[++keys] = key
           r[key, ++n[key]] = ($3 == "n/a" ? 0 : $3) }
         END { for (k = 1; k <= keys; k++) { key = order[k]; c = n[key]
                 for (i = 1; i <= c; i++) v[i] = r[key, i]
                 for (i = 2; i <= c; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) {
                   t = v[j]; v[j] = v[j-1]; v[j-1] = t }
                 med = (c % 2) ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
                 split(key, kd, " ")
                 printf "%-10s %5s %13.2f %10.2f\n", kd[1], kd[2], med, v[1] } }' "$ratios_file"
  fi
}
