#!/usr/bin/python3
"""server_evict_config.py - CONFIG SET maxmemory below the memory in use evicts at once,
as Redis 7.0 does (its config apply runs the eviction then, and goes on in the
background until used memory is under the cap or nothing is left to evict), rather than
waiting for the next write. Each scenario runs on shale-server and on redis-server (the
oracle) and compares what a client sees:

- allkeys-lru, maxmemory 1 (Redis's "Keyspace notifications: evicted events" test, with
  100 keys): every key is evicted, each with its `evicted` event, DBSIZE goes to 0 and a
  write is refused with -OOM; CONFIG SET maxmemory 0 lets writes in again.
- volatile-random, maxmemory 1: only the keys with a TTL go; the others stay.
- noeviction, maxmemory 1: nothing is evicted; writes get -OOM, reads and DEL go on.
"""
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn  # noqa: E402
from lib.harness import check, run_checks, run_main, start_redis, start_server  # noqa: E402

KEYS = 100


def events(sub, want, wait=5.0):
    """The `evicted` keys sub (PSUBSCRIBEd to __keyevent@*__:evicted) receives until it
    has want of them or nothing more comes for a while."""
    keys, end = [], time.time() + wait
    while len(keys) < want and time.time() < end:
        if b"\r\n" not in sub.buf:
            r, _, _ = select.select([sub.s], [], [], max(0.0, end - time.time()))
            if not r:
                break
        t, v = sub.reply()
        check(t == b"*" and v[0][1] == b"pmessage", "a pmessage: %r" % ((t, v),))
        check(v[2][1] == b"__keyevent@0__:evicted", "the evicted channel: %r" % (v[2],))
        keys.append(v[3][1])
    return keys


def scenario(port, c, policy, with_ttl):
    """Fills KEYS keys (every other one with a TTL when with_ttl), sets maxmemory 1 under
    policy and returns (evicted keys as events, DBSIZE after, SET's reply, GET's reply,
    DEL's reply, SET's reply once maxmemory is 0 again)."""
    c.call("flushall")
    c.call("config", "set", "notify-keyspace-events", "Ee")
    c.call("config", "set", "maxmemory-policy", policy)
    for i in range(KEYS):
        if with_ttl and i % 2:
            c.call("set", "k%d" % i, "v%d" % i, "EX", "10000")
        else:
            c.call("set", "k%d" % i, "v%d" % i)
    sub = Conn(port)
    check(sub.call("psubscribe", "__keyevent@*__:evicted")[0] == b"*", "PSUBSCRIBE")
    check(c.call("config", "set", "maxmemory", "1") == (b"+", b"OK"), "CONFIG SET maxmemory 1")
    want = KEYS // 2 if with_ttl else (0 if policy == "noeviction" else KEYS)
    got = events(sub, want, wait=5.0 if want else 1.0)
    dbsize = c.call("dbsize")
    set_reply = c.call("set", "after", "x")
    get_reply = c.call("get", "k0")
    del_reply = c.call("del", "k0")
    c.call("config", "set", "maxmemory", "0")
    set_again = c.call("set", "after", "y")
    c.call("config", "set", "maxmemory-policy", "noeviction")
    c.call("config", "set", "notify-keyspace-events", "")
    return sorted(got), dbsize, set_reply, get_reply, del_reply, set_again


def compare(policy, with_ttl):
    sp, sport, sc = start_server("evict_config_" + policy, "--sync-writes", "no")
    rp, rport, rc = start_redis()
    try:
        mine = scenario(sport, sc, policy, with_ttl)
        theirs = scenario(rport, rc, policy, with_ttl)
        names = ("evicted keys", "DBSIZE", "SET", "GET", "DEL", "SET after maxmemory 0")
        for name, a, b in zip(names, mine, theirs):
            check(a == b, "%s: shale %r, redis %r" % (name, a, b))
    finally:
        for p in (sp, rp):
            p.kill()
            p.wait()


def main():
    return run_checks([
        ("allkeys-lru: CONFIG SET maxmemory 1 evicts every key at once, with its event",
         lambda: compare("allkeys-lru", False)),
        ("volatile-random: CONFIG SET maxmemory 1 evicts the keys with a TTL, no other",
         lambda: compare("volatile-random", True)),
        ("noeviction: CONFIG SET maxmemory 1 evicts nothing, refuses writes",
         lambda: compare("noeviction", False)),
    ])


if __name__ == "__main__":
    run_main(main)
