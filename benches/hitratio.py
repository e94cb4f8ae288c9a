#!/usr/bin/env python3
"""Cache hit ratio, ferrokv against redis-server, with the same maxmemory.

Replays seeded cache-aside traces (GET; on a miss, SET the value) against both
servers started with the same `maxmemory` and policy, and prints the hit ratio
of each side by side. Requests go in pipelined batches: a batch's GETs, then
the SETs for its misses, identical for both servers.

Traces (the first fifth of each only warms the cache and is not counted):
  zipf0.99  key popularity Zipf(0.99) over 100k keys
  zipf0.8   Zipf(0.8): a flatter popularity, harder for any cache
  scan      a Zipf(0.99) hot set of 20k keys, interrupted every 40k requests
            by a one-pass scan over 30k cold keys (a batch job, a crawler)
  shift     Zipf(0.99) whose popular keys change every 120k requests

The last columns give the keys each server held at the end: within the same
`maxmemory`, a leaner server holds more keys, which is part of its hit ratio.

    benches/hitratio.py                          # allkeys-lru, 16mb, every trace
    POLICIES=allkeys-lru,allkeys-lfu TRACES=scan benches/hitratio.py
    MAXMEMORY=32mb REQUESTS=300000 VALUE=512 benches/hitratio.py

Both servers keep LRU stamps with one-second resolution; a replay runs faster
than real traffic, so RATE (requests per second, default 20000) paces it to
let the LRU clock tell recent from old. Only the servers this script starts
are stopped, by PID.
"""

import bisect
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

from resp import Client, encode as resp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REQUESTS = int(os.environ.get("REQUESTS", "400000"))
VALUE = b"v" * int(os.environ.get("VALUE", "256"))
MAXMEMORY = os.environ.get("MAXMEMORY", "16mb")
RATE = float(os.environ.get("RATE", "20000"))
BATCH = 50


def zipf_sampler(n, s, rng):
    cdf, total = [], 0.0
    for rank in range(1, n + 1):
        total += 1.0 / rank**s
        cdf.append(total)
    return lambda: bisect.bisect_left(cdf, rng.random() * total)


def trace_zipf(s):
    def make(rng):
        keys = list(range(100_000))
        rng.shuffle(keys)
        draw = zipf_sampler(len(keys), s, rng)
        for _ in range(REQUESTS):
            yield keys[draw()]

    return make


def trace_scan(rng):
    hot = list(range(20_000))
    rng.shuffle(hot)
    draw = zipf_sampler(len(hot), 0.99, rng)
    cold = list(range(100_000, 130_000))
    sent = 0
    while sent < REQUESTS:
        for _ in range(40_000):
            yield hot[draw()]
        for key in cold:
            yield key
        sent += 70_000


def trace_shift(rng):
    draw = zipf_sampler(100_000, 0.99, rng)
    keys = list(range(100_000))
    for i in range(REQUESTS):
        if i % 120_000 == 0:
            rng.shuffle(keys)
        yield keys[draw()]


TRACES = {
    "zipf0.99": trace_zipf(0.99),
    "zipf0.8": trace_zipf(0.8),
    "scan": trace_scan,
    "shift": trace_shift,
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(kind, port, policy, workdir):
    if kind == "ferrokv":
        binary = os.path.join(ROOT, "target", "release", "ferrokv")
    else:
        binary = "redis-server"
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", workdir, "--maxmemory", MAXMEMORY,
            "--maxmemory-policy", policy]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            c = Client(port)
            c.send(resp(b"PING"))
            if c.reply() == b"+PONG":
                return proc, c
        except OSError:
            time.sleep(0.05)
    proc.kill()
    sys.exit(f"{kind} did not start on port {port}")


def replay(conn, keys):
    """Hit ratio over the requests after the warm-up fifth."""
    warmup = REQUESTS // 5
    hits = counted = sent = 0
    started = time.time()
    batch = []
    for key in keys:
        batch.append(b"key:%d" % key)
        if len(batch) < BATCH:
            continue
        conn.send(b"".join(resp(b"GET", k) for k in batch))
        misses = [k for k in batch if conn.reply() is None]
        if misses:
            conn.send(b"".join(resp(b"SET", k, VALUE) for k in misses))
            for _ in misses:
                conn.reply()
        if sent >= warmup:
            counted += len(batch)
            hits += len(batch) - len(misses)
        sent += len(batch)
        batch = []
        ahead = sent / RATE - (time.time() - started)
        if ahead > 0:
            time.sleep(ahead)
    conn.send(resp(b"DBSIZE"))
    held = int(conn.reply()[1:])
    return (hits / counted if counted else 0.0), held


def main():
    policies = os.environ.get("POLICIES", "allkeys-lru").split(",")
    names = os.environ.get("TRACES", ",".join(TRACES)).split(",")
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    print(f"maxmemory {MAXMEMORY}, {REQUESTS} requests per trace, "
          f"{len(VALUE)}-byte values, {RATE:.0f} requests/s")
    print(f"{'trace':10} {'policy':16} {'redis':>7} {'ferrokv':>8} {'diff':>7}"
          f" {'redis keys':>11} {'ferrokv keys':>13}")
    for name in names:
        for policy in policies:
            ratios, held = {}, {}
            for kind in ("redis", "ferrokv"):
                with tempfile.TemporaryDirectory() as workdir:
                    proc, conn = start(kind, free_port(), policy, workdir)
                    try:
                        keys = TRACES[name](random.Random(f"{name}-seed"))
                        ratios[kind], held[kind] = replay(conn, keys)
                    finally:
                        proc.kill()
                        proc.wait()
            diff = ratios["ferrokv"] - ratios["redis"]
            print(f"{name:10} {policy:16} {ratios['redis']:7.3f} "
                  f"{ratios['ferrokv']:8.3f} {diff:+7.3f} {held['redis']:11} {held['ferrokv']:13}",
                  flush=True)


if __name__ == "__main__":
    main()
