#!/usr/bin/env python3
"""RDB persistence, ferrokv against redis-server 7.0 on the same machine.

For each server: load N string keys (redis-cli --pipe), time SAVE, restart on
the dump and time the load (spawn to first PONG), then run BGSAVE under a
write load (redis-benchmark SET on the same keys) while a probe sends PING
every millisecond, reporting the slowest PING and the memory growth (RSS peak
minus RSS before, and the server's own rdb_last_cow_size).

    cargo build --release
    python3 benches/persistence.py            # 1M keys
    KEYS=200000 python3 benches/persistence.py

Runs in well under two minutes with 1M keys. Only loopback ports; every
process started here is stopped by its PID; data lives in a temp dir.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

from resp import Client

KEYS = int(os.environ.get("KEYS", "1000000"))
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FERROKV = os.path.join(ROOT, "target", "release", "ferrokv")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def info(client, field):
    text = client.cmd("INFO", "persistence").decode()
    for l in text.splitlines():
        if l.startswith(field + ":"):
            return l.split(":", 1)[1]
    return None


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    return 0


def start(kind, port, data_dir):
    if kind == "redis":
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", data_dir,
                "--loglevel", "warning"]
    else:
        argv = [FERROKV, "--port", str(port), "--bind", "127.0.0.1",
                "--save", "", "--dir", data_dir, "--loglevel", "warning"]
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = started + 60
    while time.perf_counter() < deadline:
        try:
            c = Client(port)
            if c.cmd("PING") == b"+PONG":
                return proc, c, time.perf_counter() - started
        except OSError:
            time.sleep(0.005)
            continue
        time.sleep(0.005)
    proc.kill()
    raise RuntimeError(f"{kind} did not start")


def stop(proc):
    proc.kill()
    proc.wait()


def fill(port, data_dir):
    path = os.path.join(data_dir, "load.resp")
    with open(path, "wb") as f:
        for i in range(KEYS):
            k = b"key:%d" % i
            v = b"value-%d-%s" % (i, b"x" * (i % 32))
            f.write(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(k), k, len(v), v))
    with open(path, "rb") as f:
        subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f,
                       stdout=subprocess.DEVNULL, check=True)
    os.remove(path)


def bgsave_under_load(proc, port, client):
    """Slowest PING and RSS growth while BGSAVE runs under SET traffic."""
    load = subprocess.Popen(
        ["redis-benchmark", "-p", str(port), "-t", "set", "-n", "100000000",
         "-r", str(KEYS), "-d", "40", "-c", "8", "-P", "8", "-q"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    probe = Client(port)
    base_rss = rss_kib(proc.pid)
    peak = [base_rss]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kib(proc.pid))
            # A forked child's resident pages count too (Redis's copy-on-write).
            for child in children(proc.pid):
                peak[0] = max(peak[0], rss_kib(proc.pid) + rss_kib(child))
            time.sleep(0.01)

    # The control: the same probe under the same load, without BGSAVE, so
    # the machine's own scheduling noise is visible beside BGSAVE's effect.
    idle = []
    started = time.perf_counter()
    while time.perf_counter() - started < 3:
        t = time.perf_counter()
        assert probe.cmd("PING") == b"+PONG"
        idle.append(time.perf_counter() - t)
        time.sleep(0.001)
    sampler = threading.Thread(target=sample)
    sampler.start()
    during = []
    pings = 0
    started = time.perf_counter()
    assert client.cmd("BGSAVE").startswith(b"+Background saving")
    while time.perf_counter() - started < 60:
        t = time.perf_counter()
        assert probe.cmd("PING") == b"+PONG"
        during.append(time.perf_counter() - t)
        pings += 1
        if pings % 50 == 0 and info(probe, "rdb_bgsave_in_progress") == "0":
            break
        time.sleep(0.001)
    elapsed = time.perf_counter() - started
    done.set()
    sampler.join()
    load.kill()
    load.wait()
    cow = info(probe, "rdb_last_cow_size")
    status = info(probe, "rdb_last_bgsave_status")
    latency = (percentile(idle, 99), max(idle), percentile(during, 99), max(during))
    return latency, elapsed, pings, (peak[0] - base_rss) * 1024, int(cow or 0), base_rss * 1024, status


def percentile(samples, p):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def bench(kind):
    data_dir = tempfile.mkdtemp(prefix=f"ferrokv-bench-{kind}-")
    try:
        port = free_port()
        proc, client, _ = start(kind, port, data_dir)
        fill(port, data_dir)
        assert int(client.cmd("DBSIZE")[1:]) == KEYS
        t = time.perf_counter()
        assert client.cmd("SAVE") == b"+OK"
        save_s = time.perf_counter() - t
        size = os.path.getsize(os.path.join(data_dir, "dump.rdb"))
        stop(proc)
        proc, client, load_s = start(kind, port, data_dir)
        assert int(client.cmd("DBSIZE")[1:]) == KEYS
        ping, bg_s, pings, growth, cow, base, status = bgsave_under_load(proc, port, client)
        stop(proc)
        return dict(save=save_s, load=load_s, size=size, ping=ping, bgsave=bg_s,
                    pings=pings, growth=growth, cow=cow, base=base, status=status)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def main():
    if not os.path.exists(FERROKV):
        sys.exit("build first: cargo build --release")
    results = {k: bench(k) for k in ("redis", "ferrokv")}
    r, f = results["redis"], results["ferrokv"]
    print(f"{KEYS} keys")
    print(f"{'':32}{'redis-server':>16}{'ferrokv':>16}{'ratio':>10}")

    def row(name, a, b, fmt, ratio=True):
        rat = f"{b / a:.2f}x" if ratio and a else ""
        print(f"{name:32}{fmt(a):>16}{fmt(b):>16}{rat:>10}")

    ms = lambda s: f"{s * 1000:.0f} ms"
    mib = lambda n: f"{n / 1048576:.1f} MiB"
    row("SAVE", r["save"], f["save"], ms)
    row("start-up load (to first PONG)", r["load"], f["load"], ms)
    row("dump.rdb size", r["size"], f["size"], mib)
    row("BGSAVE under SET load", r["bgsave"], f["bgsave"], ms)
    for i, name in enumerate(("PING p99, SET load only", "slowest PING, SET load only",
                              "PING p99 during BGSAVE", "slowest PING during BGSAVE")):
        row(name, r["ping"][i], f["ping"][i], lambda s: f"{s * 1000:.2f} ms")
    row("RSS before BGSAVE", r["base"], f["base"], mib)
    row("RSS growth during BGSAVE", r["growth"], f["growth"], mib)
    row("rdb_last_cow_size", r["cow"], f["cow"], mib, ratio=False)
    print(f"bgsave status: redis {r['status']}, ferrokv {f['status']}; "
          f"PINGs sent: {r['pings']} / {f['pings']}")


if __name__ == "__main__":
    main()
