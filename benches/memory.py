#!/usr/bin/env python3
"""Resident bytes per key, ferrokv against redis-server, for issue 5's datasets.

For each dataset both servers start empty; the dataset is generated as RESP and
fed through `redis-cli --pipe`; the growth of each server's RSS is divided by
the number of keys (or elements, for the big lists). Prints one table with the
ratio ferrokv / redis (lower is better for ferrokv).

    benches/memory.py                  # every dataset
    DATASETS=strings,hashes benches/memory.py
    SCALE=0.1 benches/memory.py        # a tenth of each dataset, for a quick look

Only the server processes this script starts are stopped, by PID.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

from resp import encode as resp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCALE = float(os.environ.get("SCALE", "1"))


def n(count):
    return max(1, int(count * SCALE))


def strings_32():
    for i in range(n(1_000_000)):
        yield resp("SET", f"key:{i:08}", "v" * 32)


def strings_ttl():
    for i in range(n(1_000_000)):
        yield resp("SET", f"key:{i:08}", f"{i:010}", "EX", 86400)


def hashes():
    for i in range(n(100_000)):
        fields = []
        for f in range(10):
            fields += [f"field{f}", f"value{i % 1000}:{f}"]
        yield resp("HSET", f"hash:{i:07}", *fields)


def lists():
    per_list = n(100_000)
    for l in range(10):
        for start in range(0, per_list, 1000):
            items = [f"item:{l}:{j:07}" for j in range(start, min(start + 1000, per_list))]
            yield resp("RPUSH", f"list:{l}", *items)


def sets():
    for i in range(n(100_000)):
        yield resp("SADD", f"set:{i:07}", *[f"member:{m}" for m in range(10)])


def zsets():
    for i in range(n(10_000)):
        members = []
        for m in range(100):
            members += [m * 1.5, f"member:{m}"]
        yield resp("ZADD", f"zset:{i:06}", *members)


# name: (generator, what one unit is, units)
def stream():
    # 1M small entries in one stream, as BullMQ's event log holds them.
    for i in range(n(1_000_000)):
        yield resp("XADD", "events", "*", "event", "completed", "jobId", i)


DATASETS = {
    "strings": (strings_32, "key", lambda: n(1_000_000)),
    "strings_ttl": (strings_ttl, "key", lambda: n(1_000_000)),
    "hashes": (hashes, "key", lambda: n(100_000)),
    "lists": (lists, "element", lambda: 10 * n(100_000)),
    "sets": (sets, "key", lambda: n(100_000)),
    "zsets": (zsets, "key", lambda: n(10_000)),
    "stream": (stream, "entry", lambda: n(1_000_000)),
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_bytes(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def wait_ready(port):
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} never answered")


def used_memory(port):
    """INFO memory's used_memory: what the server counts, against RSS."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(resp("INFO", "memory"))
        reply = b""
        while not reply.endswith(b"\r\n") or reply.count(b"\r\n") < 2:
            reply += s.recv(65536)
    for line in reply.split(b"\r\n"):
        if line.startswith(b"used_memory:"):
            return int(line.split(b":")[1])
    raise RuntimeError("no used_memory in INFO")


def start(kind, port):
    if kind == "redis":
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no"]
    else:
        argv = [os.path.join(ROOT, "target/release/ferrokv"), "--port", str(port),
                "--bind", "127.0.0.1", "--save", ""]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_ready(port)
    return proc


def measure(kind, payload):
    port = free_port()
    proc = start(kind, port)
    try:
        time.sleep(0.3)
        before = rss_bytes(proc.pid)
        with open(payload, "rb") as f:
            subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                           stdout=subprocess.DEVNULL, check=True)
        time.sleep(0.5)
        return rss_bytes(proc.pid) - before, used_memory(port)
    finally:
        proc.terminate()
        proc.wait()


def main():
    wanted = os.environ.get("DATASETS")
    names = wanted.split(",") if wanted else list(DATASETS)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    print(f"{'dataset':<12} {'unit':<8} {'ferrokv B/unit':>15} {'redis B/unit':>13} {'ratio':>6}"
          f" {'used(f)':>9} {'used(r)':>9}")
    for name in names:
        generate, unit, units = DATASETS[name]
        with tempfile.NamedTemporaryFile(suffix=".resp", delete=False) as f:
            for command in generate():
                f.write(command)
            payload = f.name
        try:
            redis, redis_used = measure("redis", payload)
            ferrokv, ferrokv_used = measure("ferrokv", payload)
        finally:
            os.unlink(payload)
        redis, ferrokv = redis / units(), ferrokv / units()
        print(f"{name:<12} {unit:<8} {ferrokv:>15.1f} {redis:>13.1f} {ferrokv / redis:>6.2f}"
              f" {ferrokv_used / units():>9.1f} {redis_used / units():>9.1f}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
