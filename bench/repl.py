#!/usr/bin/python3
"""repl.py - replication's figures (issue 20), on one machine, in one run:

1. The primary's SET throughput (redis-benchmark -t set -c 50 -d 100, random keys) alone,
   then with two replicas attached and streaming: the ratio with/without (bar >= 0.8).
   The same for redis-server 7.0 (AOF everysec) with two redis replicas, for reference.
2. Catch-up: the primary is filled with --fill-gb of values (1 KiB SETs), then a replica
   starts empty and reaches it by full sync (time, bytes), then follows it under a
   redis-benchmark SET load: its lag in seconds, sampled every 100 ms (how long ago the
   primary was at the offset the replica reports), max and p99 (bar: within 1 s).

    bench/repl.py [--quick] [--fill-gb G] [-n N] [--rounds R] [--skip-redis] [--pin]

The throughputs are medians of R runs each (default 3), alone and with replicas in turns.

--pin (a machine of 2 cores or more): the primary and redis-benchmark run on CPU 0 and
the replicas on the other CPUs, alone and with replicas alike, so that the ratio is the
primary's own cost of feeding replicas (the tap's copies, the sender threads), not the
replicas' CPU taken from it on a machine too small to hold them apart.

Servers are stopped by their PIDs at the end. Needs redis-server, redis-benchmark.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
SERVER = os.path.join(BUILD, "shale-server")
PROCS = []
PIN = {"primary": [], "other": [], "bench": []}  # taskset prefixes (--pin)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli(port, *args, timeout=30):
    out = subprocess.run(["redis-cli", "-p", str(port)] + [str(a) for a in args],
                         capture_output=True, text=True, timeout=timeout)
    return out.stdout.strip()


def wait_ping(port):
    for _ in range(400):
        try:
            if cli(port, "ping", timeout=2) == "PONG":
                return
        except subprocess.TimeoutExpired:
            pass
        time.sleep(0.05)
    raise RuntimeError("server on %d did not start" % port)


def start(kind, work, name, replicaof=None, role="other"):
    port = free_port()
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    if kind == "shale":
        argv = [SERVER, "--port", str(port), "--dir", os.path.join(d, "data"),
                "--sync-writes", "no"]
    else:
        argv = ["redis-server", "--port", str(port), "--dir", d, "--save", "",
                "--appendonly", "yes", "--appendfsync", "everysec"]
    if replicaof:
        argv += ["--replicaof", "127.0.0.1", str(replicaof)]
    p = subprocess.Popen(PIN[role] + argv, stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(work, name + ".log"), "w"))
    PROCS.append(p)
    wait_ping(port)
    return p, port


def info(port):
    text = cli(port, "info", "replication")
    return dict(ln.split(":", 1) for ln in text.splitlines() if ":" in ln)


def offset(port):
    i = info(port)
    return int(i.get("slave_repl_offset") or i.get("master_repl_offset") or 0)


def synced(primary, replica):
    i = info(replica)
    return i.get("master_link_status") == "up" and offset(replica) >= offset(primary)


def wait_synced(primary, replicas, timeout=3600):
    end = time.time() + timeout
    while time.time() < end:
        if all(synced(primary, r) for r in replicas):
            return
        time.sleep(0.1)
    raise RuntimeError("replicas did not catch up")


def bench_set(port, n, extra=()):
    out = subprocess.run(PIN["bench"] + ["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(n),
                          "-c", "50", "-d", "100", "-r", "1000000", "-q", "--csv"] + list(extra),
                         capture_output=True, text=True)
    for line in out.stdout.splitlines():
        if line.startswith('"SET"'):
            return float(line.split(",")[1].strip('"'))
    raise RuntimeError("redis-benchmark: %s" % out.stderr)


def throughput(kind, work, n, rounds):
    """Medians of `rounds` runs alone and with replicas, taken in turns (a run of a few
    seconds on a shared machine varies by 10-20 %: one pair decides nothing)."""
    _, p = start(kind, work, kind + "-alone", role="primary")
    _, pp = start(kind, work, kind + "-primary", role="primary")
    reps = [start(kind, work, "%s-replica%d" % (kind, i), replicaof=pp)[1] for i in range(2)]
    wait_synced(pp, reps, 120)
    alone, with_reps = [], []
    for _ in range(rounds):
        alone.append(bench_set(p, n))
        with_reps.append(bench_set(pp, n))
        wait_synced(pp, reps, 600)
    return median(alone), median(with_reps), alone, with_reps


def median(xs):
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def catch_up(work, fill_gb, n):
    _, pp = start("shale", work, "fill-primary")
    keys = int(fill_gb * (1 << 30) / 1024)
    t0 = time.time()
    subprocess.run(["redis-benchmark", "-p", str(pp), "-t", "set", "-n", str(keys), "-c", "50",
                    "-P", "16", "-d", "1024", "-r", str(keys), "-q"],
                   stdout=subprocess.DEVNULL, check=True)
    fill_s = time.time() - t0
    history = []  # (time, primary offset)
    stop = threading.Event()

    def sample_primary():
        while not stop.is_set():
            history.append((time.time(), offset(pp)))
            time.sleep(0.05)

    t0 = time.time()
    _, rp = start("shale", work, "fill-replica", replicaof=pp)
    wait_synced(pp, [rp])
    sync_s = time.time() - t0
    sampler = threading.Thread(target=sample_primary, daemon=True)
    sampler.start()
    load = subprocess.Popen(["redis-benchmark", "-p", str(pp), "-t", "set", "-n", str(n),
                             "-c", "50", "-d", "100", "-r", "1000000", "-q"],
                            stdout=subprocess.DEVNULL)
    lags = []
    while load.poll() is None:
        now, ro = time.time(), offset(rp)
        at = next((t for t, po in history if po >= ro), now)
        lags.append(max(0.0, now - at))
        time.sleep(0.1)
    stop.set()
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)] if lags else 0.0
    return fill_s, sync_s, (max(lags) if lags else 0.0), p99, len(lags)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--fill-gb", type=float, default=1.0)
    ap.add_argument("-n", type=int, default=400000)
    ap.add_argument("--skip-redis", action="store_true")
    ap.add_argument("--pin", action="store_true")
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    if a.pin:
        ncpu = os.cpu_count() or 1
        if ncpu < 2 or not shutil.which("taskset"):
            print("repl.py: --pin needs 2 CPUs and taskset")
            return 2
        PIN["primary"] = PIN["bench"] = ["taskset", "-c", "0"]
        PIN["other"] = ["taskset", "-c", "1-%d" % (ncpu - 1)]
    if a.quick:
        a.n, a.fill_gb = 100000, min(a.fill_gb, 0.1)
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            print("repl.py: %s missing" % tool)
            return 2
    work = tempfile.mkdtemp(prefix="shale-bench-repl.")
    try:
        rows = []
        for kind in (["shale"] if a.skip_redis else ["shale", "redis"]):
            rows.append((kind,) + throughput(kind, work, a.n, a.rounds))
        print("| server | SET ops/s alone | with 2 replicas | ratio | runs alone / with |")
        print("| --- | --- | --- | --- | --- |")
        for kind, alone, with_reps, runs_alone, runs_with in rows:
            print("| %s | %.0f | %.0f | %.2fx | %s / %s |" % (
                kind, alone, with_reps, with_reps / alone,
                " ".join("%.0f" % x for x in runs_alone), " ".join("%.0f" % x for x in runs_with)))
        fill_s, sync_s, lag_max, lag_p99, samples = catch_up(work, a.fill_gb, a.n)
        print("\ncatch-up: %.2f GB filled in %.0f s; an empty replica reached the primary by "
              "full sync in %.1f s; under a SET load its lag was %.2f s at most, %.2f s at "
              "p99 (%d samples)" % (a.fill_gb, fill_s, sync_s, lag_max, lag_p99, samples))
        return 0
    finally:
        for p in PROCS:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in PROCS:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
