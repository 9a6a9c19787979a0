#!/usr/bin/python3
"""server_fifo.py - a database set to compaction-style fifo with CONFIG SET.

Database 1 becomes fifo with a 4 MiB cap while database 0 stays in the main engine;
redis-benchmark then writes about 25 times the cap into database 1. Checked: the fifo
engine's directory stays within the stated margin of its cap at every sample (tables at
most the cap plus the table just flushed, the log segments of unflushed memtables),
the oldest writes are gone and the newest present, DBSIZE equals a full SCAN once the
recount after the drops has run, a hash whose older fields were dropped reports the
fields it has, database 0 loses nothing, every acknowledged write of the fifo database
survives kill -9 (sync-writes yes), the style persists (mapping record, CONFIG REWRITE),
and CONFIG SET refuses bad values and a non-empty database with Redis's error form.
"""
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import encode, info_lines  # noqa: E402
from lib.harness import TMP, check, run_main, start_server  # noqa: E402

CAP = 4 << 20
MARGIN = 2.0  # the fifo directory's peak, as a multiple of the cap (see above)


def fifo_dirs(name):
    d = os.path.join(TMP, name)
    return sorted(x for x in os.listdir(d) if x.startswith("fifo-"))


def dir_bytes(path):
    total = 0
    for f in os.listdir(path):
        try:
            total += os.path.getsize(os.path.join(path, f))
        except OSError:
            pass  # a table dropped meanwhile
    return total


def scan_count(c):
    cursor, n = b"0", 0
    while True:
        r = c.call("scan", cursor, "count", "1000")[1]
        cursor = r[0][1]
        n += len(r[1][1])
        if cursor == b"0":
            return n


def wait_dbsize_exact(c, what):
    """DBSIZE equals a full SCAN (the recount after drops runs in the background)."""
    for _ in range(100):
        n = scan_count(c)
        size = int(c.call("dbsize")[1])
        if size == n:
            return n
        time.sleep(0.1)
    raise AssertionError("%s: DBSIZE %d, SCAN %d" % (what, size, n))


def config_errors(c):
    r = c.call("config", "set", "db1-compaction-style", "lsm")
    check(r[0] == b"-" and b"argument must be one of fifo, default" in r[1], "bad style: %r" % (r,))
    r = c.call("config", "set", "db1-fifo-max-size", "10")
    check(r[0] == b"-" and b"at least 1mb" in r[1], "small cap: %r" % (r,))
    r = c.call("config", "set", "db16-compaction-style", "fifo")
    check(r[0] == b"-" and b"Unknown option" in r[1], "db16: %r" % (r,))
    r = c.call("config", "set", "db1-fifo-max-size", "8mb")
    check(r[0] == b"-" and b"not fifo" in r[1], "cap of a default db: %r" % (r,))
    c.call("select", "2")
    c.call("set", "x", "1")
    r = c.call("config", "set", "db2-compaction-style", "fifo")
    check(r[0] == b"-" and r[1].startswith(b"ERR CONFIG SET failed") and b"not empty" in r[1],
          "non-empty database: %r" % (r,))
    c.call("select", "0")


def main():
    conf = os.path.join(TMP, "shale.conf")
    with open(conf, "w") as f:
        f.write("sync-writes yes\n")
    p, port, c = start(conf)
    config_errors(c)
    check(c.call("config", "set", "db1-compaction-style", "fifo",
                 "db1-fifo-max-size", "4mb") == (b"+", b"OK"), "CONFIG SET fifo")
    got = c.call("config", "get", "db1-*")[1]
    check([x[1] for x in got] == [b"db1-compaction-style", b"fifo", b"db1-fifo-max-size",
                                  b"4194304"], "CONFIG GET db1-*: %r" % (got,))
    check(c.call("config", "get", "db0-compaction-style")[1][1][1] == b"default", "db0 default")
    dirs = fifo_dirs("f")
    check(len(dirs) == 1, "one fifo directory: %r" % dirs)
    fifo_dir = os.path.join(TMP, "f", dirs[0])

    for i in range(1000):  # the main engine's database
        c.call("set", "main:%d" % i, "v%d" % i)
    c.call("select", "1")
    c.call("set", "first", "written before the rest")
    c.call("hset", "h", *[x for i in range(20) for x in ("old%d" % i, "v")])

    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], dir_bytes(fifo_dir))
            time.sleep(0.05)
    t = threading.Thread(target=sample)
    t.start()
    bench = ["redis-benchmark", "-p", str(port), "--dbnum", "1", "-t", "set", "-r", "10000000",
             "-d", "1000", "-P", "16", "-q"]
    subprocess.run(bench + ["-n", "20000"], check=True, stdout=subprocess.DEVNULL)
    c.call("hset", "h", "new", "v")  # the hash's count now lives in a newer table
    for _ in range(300):  # until the table with the old fields is dropped, not the newer
        subprocess.run(bench + ["-n", "2000"], check=True, stdout=subprocess.DEVNULL)
        if c.call("hexists", "h", "old0") == (b":", b"0"):
            break
    for _ in range(100):  # the recount after the drop repairs the hash's count
        hlen = int(c.call("hlen", "h")[1])
        fields = c.call("hgetall", "h")[1]
        if hlen == len(fields) // 2:
            break
        time.sleep(0.1)
    check(hlen == len(fields) // 2 == 1 and fields[0][1] == b"new",
          "hash after its old fields were dropped: HLEN %d, fields %r" % (hlen, fields))
    subprocess.run(bench + ["-n", "300000"], check=True, stdout=subprocess.DEVNULL)
    c.call("set", "last", "written after the rest")
    time.sleep(1)
    done.set()
    t.join()
    end = dir_bytes(fifo_dir)
    print("fifo directory: peak %.1f MiB, end %.1f MiB, cap %.1f MiB"
          % (peak[0] / 2**20, end / 2**20, CAP / 2**20))
    check(peak[0] <= MARGIN * CAP, "fifo directory peak %d > %.1fx cap" % (peak[0], MARGIN))
    sh = info_lines(c, "shale")
    line = dict(kv.split("=") for kv in sh["fifo_db1"].split(","))
    check(int(line["dropped_bytes"]) > 0 and int(line["bytes"]) <= CAP,
          "INFO fifo_db1: %r" % (line,))

    check(c.call("exists", "first") == (b":", b"0"), "the oldest write was dropped")
    check(c.call("get", "last") == (b"$", b"written after the rest"), "the newest write is there")
    n1 = wait_dbsize_exact(c, "after drops")
    print("db1: %d keys after the drops (of about 300 000 written)" % n1)
    check(0 < n1 < 250000, "db1 keys %d" % n1)
    c.call("select", "0")
    check(int(c.call("dbsize")[1]) == 1000, "db0 untouched")
    check(c.call("get", "main:999") == (b"$", b"v999"), "db0 value")
    keyspace = info_lines(c, "keyspace")
    check(keyspace["db1"].startswith("keys=%d," % n1), "INFO keyspace db1: %r" % keyspace)

    # kill -9: every acknowledged write of the fifo database is there after a restart
    c.call("select", "1")
    for i in range(2000):
        check(c.call("set", "acked:%d" % i, "v%d" % i) == (b"+", b"OK"), "SET acked")
    p.send_signal(signal.SIGKILL)
    p.wait()
    p, port, c = start(conf)
    check(c.call("config", "get", "db1-compaction-style")[1][1][1] == b"fifo", "style persists")
    c.call("select", "1")
    lost = [i for i in range(2000) if c.call("get", "acked:%d" % i) != (b"$", b"v%d" % i)]
    check(not lost, "lost %d acknowledged writes after kill -9" % len(lost))
    wait_dbsize_exact(c, "after restart")

    # FLUSHDB: a fresh engine, the old directory removed; then back to the main engine
    check(c.call("flushdb") == (b"+", b"OK"), "FLUSHDB")
    check(int(c.call("dbsize")[1]) == 0, "empty after FLUSHDB")
    now = fifo_dirs("f")
    check(len(now) == 1 and now != dirs, "FLUSHDB replaced the directory: %r" % now)
    check(c.call("config", "set", "db1-compaction-style", "default") == (b"+", b"OK"), "default")
    check(fifo_dirs("f") == [], "no fifo directory left")
    check(c.call("config", "set", "db1-compaction-style", "fifo",
                 "db1-fifo-max-size", "2mb") == (b"+", b"OK"), "fifo again")
    check(c.call("config", "rewrite") == (b"+", b"OK"), "CONFIG REWRITE")
    text = open(conf).read()
    check("db1-compaction-style fifo" in text and "db1-fifo-max-size 2097152" in text,
          "CONFIG REWRITE writes the database's style")
    c.call("set", "k", "v")
    c.s.sendall(encode(["shutdown"]))
    p.wait(timeout=20)
    p, port, c = start(conf)
    got = c.call("config", "get", "db1-*")[1]
    check([x[1] for x in got] == [b"db1-compaction-style", b"fifo", b"db1-fifo-max-size",
                                  b"2097152"], "after restart: %r" % (got,))
    c.call("select", "1")
    check(c.call("get", "k") == (b"$", b"v"), "data after restart")
    c.s.sendall(encode(["shutdown"]))
    p.wait(timeout=20)
    print("ok   fifo database: caps, drops, counts, kill -9, persistence")
    return 0


def start(conf):
    return start_server("f", conf=conf)


if __name__ == "__main__":
    run_main(main)
