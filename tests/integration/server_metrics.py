#!/usr/bin/python3
"""server_metrics.py - the Prometheus endpoint (metrics-port) and the hit/miss counters.

A random read/write load whose hits and misses the test counts itself: INFO stats and
the endpoint must give exactly those counts; per-command counters must equal the
commands sent; `promtool check metrics` (Debian's prometheus package) must accept the
exposition; HTTP details: 404 and 405, a request arriving byte by byte, HEAD, and
scrapes that neither count as clients nor leak connections.
"""
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, free_port  # noqa: E402

BUILD = os.environ.get("SHALE_BUILD", "build")
SERVER = os.path.join(BUILD, "shale-server")
SEED = int(os.environ.get("SEED", str(int(time.time()))))


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def http(port, request, chunk=None):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if chunk:
        for i in range(0, len(request), chunk):
            s.sendall(request[i:i + chunk])
            time.sleep(0.001)
    else:
        s.sendall(request)
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    head, _, body = out.partition(b"\r\n\r\n")
    return head.decode(), body


def scrape(port):
    head, body = http(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    check(head.startswith("HTTP/1.1 200"), "scrape: %s" % head[:40])
    return body.decode()


def sample(text, name):
    for line in text.split("\n"):
        if line.startswith(name + " "):
            return float(line.split(" ")[1])
    raise AssertionError("no sample %s" % name)


def info_int(c, section, name):
    text = c.call("info", section)[1].decode()
    return int(text.split(name + ":")[1].split("\r\n")[0])


def main():
    tmp = tempfile.mkdtemp()
    port, mport = free_port(), free_port()
    proc = subprocess.Popen([SERVER, "--port", str(port), "--metrics-port", str(mport),
                             "--dir", os.path.join(tmp, "d")], stderr=open(tmp + "/log", "w"))
    try:
        for _ in range(100):
            try:
                c = Conn(port)
                if c.call("ping") == (b"+", b"PONG"):
                    break
            except (OSError, EOFError):
                time.sleep(0.05)
        rnd = random.Random(SEED)
        present, hits, misses, gets, sets = set(), 0, 0, 0, 0
        for _ in range(3000):
            k = "k%d" % rnd.randrange(500)
            if rnd.random() < 0.3:
                c.call("set", k, "v")
                present.add(k)
                sets += 1
            else:
                r = c.call("get", k)
                gets += 1
                if k in present:
                    hits += 1
                    check(r == (b"$", b"v"), "GET %s" % k)
                else:
                    misses += 1
                    check(r == (b"$", None), "GET %s" % k)
        check((info_int(c, "stats", "keyspace_hits"), info_int(c, "stats", "keyspace_misses"))
              == (hits, misses), "INFO hits/misses differ from the client's count %d/%d"
              % (hits, misses))
        text = scrape(mport)
        check(sample(text, "shale_keyspace_hits_total") == hits, "metrics hits")
        check(sample(text, "shale_keyspace_misses_total") == misses, "metrics misses")
        check(sample(text, 'shale_commands_total{cmd="get"}') == gets, "get count")
        check(sample(text, 'shale_commands_total{cmd="set"}') == sets, "set count")
        check(sample(text, 'shale_command_duration_seconds_count{cmd="get"}') == gets,
              "get histogram count")
        check(sample(text, 'shale_command_duration_seconds_bucket{cmd="get",le="+Inf"}') == gets,
              "get +Inf bucket")
        check(abs(sample(text, "shale_keyspace_hit_ratio") - hits / (hits + misses)) < 1e-9,
              "hit ratio")
        print("ok   %d hits and %d misses counted exactly (INFO and metrics), seed %d"
              % (hits, misses, SEED))
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                               capture_output=True)
            check(p.returncode == 0, "promtool check metrics: %s%s"
                  % (p.stdout.decode(), p.stderr.decode()))
            print("ok   promtool check metrics accepts the exposition")
        else:
            print("promtool missing (Debian package prometheus): exposition not linted")
            return 1
        head, _ = http(mport, b"GET / HTTP/1.1\r\n\r\n")
        check(head.startswith("HTTP/1.1 404"), "GET /: %s" % head[:30])
        head, _ = http(mport, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        check(head.startswith("HTTP/1.1 405"), "POST: %s" % head[:30])
        head, body = http(mport, b"HEAD /metrics HTTP/1.1\r\n\r\n")
        check(head.startswith("HTTP/1.1 200") and body == b"", "HEAD")
        head, body = http(mport, b"GET /metrics HTTP/1.0\r\nUser-Agent: t\r\n\r\n", chunk=1)
        check(head.startswith("HTTP/1.1 200") and b"shale_uptime_seconds" in body, "byte by byte")
        print("ok   HTTP: 404, 405, HEAD, a request fed byte by byte")
        fds = len(os.listdir("/proc/%d/fd" % proc.pid))
        for _ in range(200):
            scrape(mport)
        time.sleep(0.2)
        check(len(os.listdir("/proc/%d/fd" % proc.pid)) <= fds + 2, "scrapes leak descriptors")
        check(info_int(c, "clients", "connected_clients") == 1, "scrapes counted as clients")
        print("ok   200 scrapes: no descriptor kept, not counted as clients")
        return 0
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
