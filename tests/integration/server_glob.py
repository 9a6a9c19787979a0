#!/usr/bin/python3
"""server_glob.py - glob patterns in KEYS, SCAN MATCH, HSCAN MATCH and CONFIG GET (#15.14):
the patterns that crashed (200 000 "*a": the old matcher recursed once per star) or hung
the server (Redis's keyspace test "a*a*...*b" against 40 a's) must be answered at once,
and answers must equal redis-server 7.0's. Exit 0, 1 on a failure, 77 without redis-server.
"""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn  # noqa: E402
from lib.harness import check, run_main, start_redis, start_server  # noqa: E402


def timed_call(c, *args):
    """The reply and the seconds it took; a reply that takes over 10 s fails (socket
    timeout), as does a closed connection (the server died)."""
    t0 = time.time()
    r = c.call(*args)
    return r, time.time() - t0


def as_set(r):
    return sorted(x[1] for x in r[1])


def main():
    if not shutil.which("redis-server"):
        print("skip: redis-server missing")
        return 77
    _, port, s = start_server("d", "--sync-writes", "no", log="shale.log")
    _, _, r = start_redis()
    keys = ["", "a", "ab", "hello", "hallo", "hxllo", "a" * 40, "key:1", "key:2", "k[1]",
            "*star", "?q", "back\\slash", "\x85hi"]
    for c in (s, r):
        c.call("flushall")
        for k in keys:
            c.call("set", k.encode("latin-1"), "v")
        c.call("hset", "h", *sum([[k.encode("latin-1"), "v"] for k in keys if k], []))

    # Redis's keyspace test: answered at once by Redis, minutes by the old matcher
    pat = "a*" * 20 + "b"
    got, secs = timed_call(s, "keys", pat)
    check(got == (b"*", []) and secs < 2, "KEYS %s: %r after %.1f s" % (pat, got, secs))
    got, secs = timed_call(s, "scan", "0", "match", pat, "count", "1000")
    check(got[1][1] == (b"*", []) and secs < 2, "SCAN MATCH %s: %r after %.1f s" % (pat, got, secs))

    # 200 000 "*a" against a key of 200 000 a's: the old matcher recursed once per star
    # and the server died (SIGSEGV). Redis gives up past 1000 nested stars and answers "no
    # match"; the key does match, and shale says so.
    long = b"a" * 200000
    s.call("set", long, "v")
    s.call("hset", "h", long, "v")
    deep = "*a" * 200000
    for cmd in (["scan", "0", "match", deep, "count", "1000"], ["keys", deep],
                ["hscan", "h", "0", "match", deep, "count", "1000"]):
        got, secs = timed_call(s, *cmd)
        check(secs < 5, "%s MATCH of 200000 '*a': %.1f s" % (cmd[0], secs))
        items = as_set(got[1][1] if cmd[0] != "keys" else got)
        check(items == ([long, b"v"] if cmd[0] == "hscan" else [long]),
              "%s of 200000 '*a': %d items" % (cmd[0], len(items)))
    s.call("del", long)
    s.call("hdel", "h", long)
    check(Conn(port).call("ping") == (b"+", b"PONG"), "server alive after the deep patterns")

    # answers as redis-server's, the empty key included (KEYS * returns it; KEYS ** not)
    for p in ["*", "**", "h?llo", "h[ae]llo", "h[^e]llo", "h[a-b]llo", "k\\[1]", "\\*star",
              "*\\\\*", "[\x85]hi", "[\x80-\xff]*", "[a-\xff]*", "key:*", "a*a", "?", "",
              "[", "a[", "*[", "[^"]:
        bp = p.encode("latin-1")
        a, b = s.call("keys", bp), r.call("keys", bp)
        check(as_set(a) == as_set(b), "KEYS %r: %r, redis %r" % (p, a, b))
        a = s.call("scan", "0", "match", bp, "count", "1000")
        b = r.call("scan", "0", "match", bp, "count", "1000")
        check(as_set(a[1][1]) == as_set(b[1][1]), "SCAN MATCH %r: %r, redis %r" % (p, a, b))
    got = s.call("config", "get", "MAXMEM*")
    check(sorted(x[1] for x in got[1][0::2]) == [b"maxmemory", b"maxmemory-clients",
                                                  b"maxmemory-policy", b"maxmemory-samples"],
          "CONFIG GET MAXMEM* (case-insensitive): %r" % (got,))
    print("ok   glob patterns in KEYS, SCAN, HSCAN, CONFIG GET")
    return 0


if __name__ == "__main__":
    run_main(main)
