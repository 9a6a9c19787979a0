#!/usr/bin/python3
"""server_tracking_evict.py - client tracking and eviction (maxdisk, allkeys-random): a
RESP3 tracking client reads 300 keys, then a writer fills the store past maxdisk so that
keys are evicted. Every key read that is gone afterwards (evicted) must have been
invalidated to the reader: eviction goes through the key layer's touch hook as writes do.
The oracle cannot compare this one (Redis evicts by memory, other keys): shale alone.
"""
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, info_lines  # noqa: E402
from server_compare_pubsub import encode_words  # noqa: E402
from lib.harness import check, run_main, start_server  # noqa: E402

CAP = 8 << 20
KEYS = 300


def drain(conn, keys):
    """Reads the pushes already sent (no command pending); adds their keys to keys."""
    while True:
        if b"\r\n" not in conn.buf:
            r, _, _ = select.select([conn.s], [], [], 0.2)
            if not r:
                return
        t, v = conn.reply()
        if t == b">" and v[0][1] == b"invalidate" and v[1][1] is not None:
            keys.update(k[1] for k in v[1][1])


def main():
    p, port, w = start_server("tracking_evict", "--memtable-size", "1mb", "--maxdisk",
                              str(CAP), "--maxmemory-policy", "allkeys-random")
    for i in range(KEYS):
        w.call("set", "read:%d" % i, "v" * 100)
    reader = Conn(port)
    reader.call("hello", "3")
    check(reader.call("client", "tracking", "on") == (b"+", b"OK"), "tracking on")
    for i in range(KEYS):
        reader.call("get", "read:%d" % i)
    big = b"x" * 4000
    evicted, t0 = 0, time.time()
    n = 0
    while time.time() - t0 < 60:  # until keys were evicted and then some
        for _ in range(200):
            w.s.sendall(encode_words([b"set", b"fill:%d" % n, big]))
            n += 1
        for _ in range(200):
            w.reply()
        evicted = int(info_lines(w, "stats")["evicted_keys"])
        if evicted > 2000:
            break
    check(evicted > 0, "keys were evicted (%d)" % evicted)
    time.sleep(0.5)
    invalidated = set()
    drain(reader, invalidated)
    gone = [b"read:%d" % i for i in range(KEYS)
            if w.call("exists", "read:%d" % i) == (b":", b"0")]
    missed = [k for k in gone if k not in invalidated]
    print("%d evicted, %d of the %d keys read gone, %d invalidated, %d gone without one"
          % (evicted, len(gone), KEYS, len(invalidated), len(missed)))
    check(gone, "some of the keys read were evicted")
    check(not missed, "every evicted key read was invalidated (missed: %r)" % missed[:5])
    return 0


if __name__ == "__main__":
    run_main(main)
