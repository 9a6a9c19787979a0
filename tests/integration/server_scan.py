#!/usr/bin/python3
"""server_scan.py - SCAN and HSCAN cursors (#15.26). Cursors used to name slots of one
shared table of 4096: past 4096 SCAN calls by anyone a scan silently started over, so
5000 interleaved scans never finished, and a restart forgot every cursor. Checks:
5000 interleaved SCANs (and HSCANs) all finish with every key seen, over short keys
(cursors that carry the position) and long ones (positions kept in the table); a scan
goes on across a restart (over short keys without returning a key twice); cursors are
decimal numbers below 2^63 that redis-py and redis-cli --scan take.
Exit 0, or 1 on a failure.
"""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import encode, free_port  # noqa: E402
from lib.harness import check, run_main, start_server  # noqa: E402

SHORT = [b"k%03d" % i for i in range(250)]                 # separators of at most 7 bytes
LONG = [b"user:session:%08d" % i for i in range(250)]      # separators of 20 bytes
FIELDS = [b"f%02d" % i for i in range(100)] + [b"field:long:%06d" % i for i in range(100)]


def start(port):
    p, _, c = start_server("d", "--sync-writes", "no", port=port, log="log")
    return p, c


def interleaved(c, cmd, n, count, want, rounds):
    """n scans at once: each round sends one call of every unfinished scan in one
    pipeline (so n - 1 other calls come between two calls of a scan)."""
    cursors = [b"0"] * n
    seen = [set() for _ in range(n)]
    live = list(range(n))
    pairs = cmd[0] == "hscan"
    for r in range(rounds):
        if not live:
            return r
        c.s.sendall(b"".join(encode(cmd + [cursors[i], "count", count]) for i in live))
        still = []
        for i in live:
            t, v = c.reply()
            check(t == b"*", "%s: %r" % (cmd[0], (t, v)))
            cur, items = v[0][1], [x[1] for x in v[1][1]]
            check(int(cur) < 2 ** 63, "cursor %s not below 2^63" % cur)
            seen[i].update(items[0::2] if pairs else items)
            cursors[i] = cur
            if cur != b"0":
                still.append(i)
        live = still
    check(not live, "%d of %d interleaved %s calls still unfinished after %d rounds"
          % (len(live), n, cmd[0].upper(), rounds))
    for i in range(n):
        check(seen[i] == want, "%s %d saw %d of %d keys" % (cmd[0], i, len(seen[i] & want),
                                                             len(want)))
    return rounds


def scan_all(c, cursor=b"0", cmd=("scan",), count=20):
    out = []
    while True:
        t, v = c.call(*cmd, cursor, "count", count)
        cursor = v[0][1]
        out += [x[1] for x in v[1][1]]
        if cursor == b"0":
            return out


def across_restart(port, p, c, db, keys, cmd, exact):
    """A scan begun, the server restarted, the scan finished with the cursor it had."""
    got, cursor = [], b"0"
    c.call("select", db)
    for _ in range(3):
        t, v = c.call(*cmd, cursor, "count", 40)
        cursor = v[0][1]
        got += [x[1] for x in v[1][1]]
    check(cursor != b"0", "the scan ended before the restart")
    c.s.sendall(encode(["shutdown"]))
    check(p.wait(timeout=30) == 0, "SHUTDOWN")
    p, c = start(port)
    c.call("select", db)
    while cursor != b"0":
        t, v = c.call(*cmd, cursor, "count", 40)
        cursor = v[0][1]
        got += [x[1] for x in v[1][1]]
    items = got[0::2] if cmd[0] == "hscan" else got
    check(set(items) == set(keys), "%s across a restart saw %d of %d keys"
          % (cmd[0], len(set(items) & set(keys)), len(keys)))
    if exact:
        check(len(items) == len(keys), "%s across a restart went back: %d items for %d keys"
              % (cmd[0], len(items), len(keys)))
    return p, c


def main():
    port = free_port()
    p, c = start(port)
    c.s.sendall(b"".join(encode(["set", k, "v"]) for k in SHORT + LONG))
    for _ in SHORT + LONG:
        c.reply()
    c.call("hset", "h", *sum([[f, "v"] for f in FIELDS], []))
    want = set(SHORT + LONG) | {b"h"}
    got = scan_all(c)
    check(set(got) == want, "one SCAN sees every key: %d of %d, extra %r" % (len(set(got) & want), len(want), sorted(set(got) - want)[:5]))

    t0 = time.time()
    r = interleaved(c, ["scan"], 5000, 50, want, 40)
    print("ok   5000 interleaved SCANs finished in %d rounds (%.1f s)" % (r, time.time() - t0))
    t0 = time.time()
    r = interleaved(c, ["hscan", "h"], 5000, 25, set(FIELDS), 40)
    print("ok   5000 interleaved HSCANs finished in %d rounds (%.1f s)" % (r, time.time() - t0))

    info = c.call("info", "shale")[1].decode()
    check("scan_cursors_lost:0\r\n" in info, "cursors lost under 5000 scans: %s"
          % info.split("scan_cursors_lost:")[-1].split("\r\n")[0])

    # the clients' own parsers: redis-py's int() and redis-cli's strtoull
    import redis
    rp = redis.Redis(port=port)
    check(set(rp.scan_iter(count=7)) == want, "redis-py scan_iter")
    check(set(k for k, _ in rp.hscan_iter("h", count=7)) == set(FIELDS), "redis-py hscan_iter")
    if shutil.which("redis-cli"):
        out = subprocess.run(["redis-cli", "-p", str(port), "--scan"],
                             capture_output=True, timeout=60).stdout.split(b"\n")
        check(set(x for x in out if x) == want, "redis-cli --scan saw %d keys" % len(out))
    rp.close()

    # a restart: short keys resume exactly, long ones complete (a key may come twice)
    c.call("select", "1")
    c.s.sendall(b"".join(encode(["set", k, "v"]) for k in SHORT))
    for _ in SHORT:
        c.reply()
    p, c = across_restart(port, p, c, 1, SHORT, ("scan",), exact=True)
    p, c = across_restart(port, p, c, 0, list(want), ("scan",), exact=False)
    p, c = across_restart(port, p, c, 0, FIELDS, ("hscan", "h"), exact=False)
    info = c.call("info", "shale")[1].decode()
    check("scan_cursors_lost:1\r\n" in info, "the HSCAN's long position lost in the restart "
          "counted once: scan_cursors_lost:%s" % info.split("scan_cursors_lost:")[-1].split("\r\n")[0])
    print("ok   SCAN and HSCAN across a restart")
    return 0


if __name__ == "__main__":
    run_main(main)
