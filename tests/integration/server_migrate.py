#!/usr/bin/python3
"""server_migrate.py - MIGRATE between shale and redis-server 7.0 both ways, and between
two shales, each migration compared with the oracle doing the same one (Redis -> Redis):
every reply, byte for byte, and what each side holds afterwards.

One scenario runs on each pair (source -> target): Redis -> Redis (the oracle), shale ->
Redis, Redis -> shale, shale -> shale. It covers
- AUTH to a target with requirepass: none (NOAUTH from the target), a wrong password
  (WRONGPASS), the right one with AUTH and with AUTH2 default;
- every type (strings, hashes, lists, sets, sorted sets; small ones, and ones whose
  payload passes MIGRATE's 64 KiB writes), with and without TTLs, in the single-key
  form and the KEYS form (missing keys among them), into another database: the target
  holds the same values with the remaining TTL, the source no longer holds them;
- COPY (the source keeps the key), BUSYKEY without REPLACE, COPY REPLACE;
- the KEYS form with busy keys on the target: only the acknowledged keys are deleted;
  a key named twice, with and without REPLACE;
- NOKEY (one key, several), a database the target does not have, argument errors
  (syntax, KEYS with a key, timeout and database not integers, AUTH without password);
- the connection cache: the target counts one SELECT while the database stays the same,
  a cached connection the target closed is opened anew without an error, INFO's
  migrate_cached_sockets;
- a target that never replies (a listening socket): the IOERR reading error after the
  timeout, the key kept; a port nobody listens on: the IOERR writing error;
- the slowlog shows AUTH's and AUTH2's secrets as "(redacted)"; the source's keyspace
  hits and misses (MIGRATE looks its keys up as a read does).
The source shale runs with sync-writes yes (its deletions are synced before the reply),
the target shale with no.
The argument errors, NOKEY, COMMAND GETKEYS and GETKEYSANDFLAGS of both forms, COMMAND
INFO and DOCS of MIGRATE are compared in RESP2 and RESP3. Last, a cached connection is
closed after 10 s unused (INFO migrate_cached_sockets back to 0), as Redis's.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, _docs_equal, free_port  # noqa: E402
from lib.harness import check, run_main, start_redis, start_server  # noqa: E402

HOST = "127.0.0.1"
DB = 9  # the target database the scenario migrates into
TTL_MS = 100000


def values():
    """(key, type, writer args, ttl ms or 0) for every type, small and past 64 KiB."""
    return [
        ("s1", "string", [["set", "s1", "hello"]], TTL_MS),
        ("s2", "string", [["set", "s2", "12345"]], 0),
        ("s3", "string", [["set", "s3", "x" * 100000]], TTL_MS),
        ("h1", "hash", [["hset", "h1", "a", "1", "b", "two"]], TTL_MS),
        ("h2", "hash", [["hset", "h2"] + [str(i // 2) if i % 2 else "f%d" % (i // 2)
                                           for i in range(2000)]], 0),
        ("l1", "list", [["rpush", "l1", "a", "b", "c"]], 0),
        ("l2", "list", [["rpush", "l2"] + ["item %d" % i for i in range(j, j + 1000)]
                        for j in range(0, 20000, 1000)], TTL_MS),
        ("st1", "set", [["sadd", "st1", "1", "2", "3"]], TTL_MS),
        ("st2", "set", [["sadd", "st2"] + ["m%d" % i for i in range(1000)]], 0),
        ("z1", "zset", [["zadd", "z1", "1", "a", "2.5", "b", "-inf", "c"]], 0),
        ("z2", "zset", [["zadd", "z2"] + [x for i in range(1000) for x in (str(i / 7), "m%d" % i)]],
         TTL_MS),
    ]


def write_values(c):
    for key, _, cmds, ttl in values():
        for cmd in cmds:
            c.call(*cmd)
        if ttl:
            c.call("pexpire", key, ttl)


def read_value(c, key, kind):
    """A value as comparable data."""
    if kind == "string":
        return c.call("get", key)
    if kind == "hash":
        v = c.call("hgetall", key)[1]
        return sorted(zip([x[1] for x in v[0::2]], [x[1] for x in v[1::2]]))
    if kind == "list":
        return [x[1] for x in c.call("lrange", key, 0, -1)[1]]
    if kind == "set":
        return sorted(x[1] for x in c.call("smembers", key)[1])
    return [x[1] for x in c.call("zrange", key, 0, -1, "withscores")[1]]


def ttl_class(c, key, ttl):
    """The key's TTL as 'none', 'kept' (within 10 s under what was set) or the raw PTTL."""
    pttl = int(c.call("pttl", key)[1])
    if pttl == -1:
        return "none"
    return "kept" if ttl and ttl - 10000 < pttl <= ttl else pttl


def select_calls(c):
    """The target's cmdstat_select calls (its SELECTs since CONFIG RESETSTAT)."""
    for line in c.call("info", "commandstats")[1].decode().split("\r\n"):
        if line.startswith("cmdstat_select:"):
            return int(line.split("calls=")[1].split(",")[0])
    return 0


def migrate_conn_id(c):
    """The id of the target's connection whose last command was RESTORE (MIGRATE's)."""
    for line in c.call("client", "list")[1].decode().splitlines():
        f = dict(x.split("=", 1) for x in line.split(" ") if "=" in x)
        if f.get("cmd") == "restore":
            return f["id"]
    return None


class Recorder:
    """What a scenario saw, in order: (label, observation)."""

    def __init__(self):
        self.seen = []

    def add(self, label, obs):
        self.seen.append((label, obs))


def auth_part(src, dst, port, rec):
    dst.call("config", "set", "requirepass", "pw")
    src.call("set", "a1", "v")
    m = ("migrate", HOST, port, "a1", DB, 5000)
    rec.add("no auth", src.call(*m))
    rec.add("wrong password", src.call(*m, "auth", "nope"))
    rec.add("right password", src.call(*m, "auth", "pw"))
    src.call("set", "a2", "v")
    rec.add("auth2", src.call("migrate", HOST, port, "a2", DB, 5000, "auth2", "default", "pw"))
    src.call("set", "a3", "v")
    rec.add("auth2 wrong", src.call("migrate", HOST, port, "a3", DB, 5000, "auth2", "x", "pw"))
    dst.call("config", "set", "requirepass", "")
    dst.call("select", DB)
    rec.add("auth keys left", (src.call("exists", "a1", "a2", "a3"),
                               dst.call("exists", "a1", "a2", "a3")))
    dst.call("select", 0)


def types_part(src, dst, port, rec):
    write_values(src)
    vals = values()
    for key, _, _, _ in vals[::2]:
        rec.add("migrate " + key, src.call("migrate", HOST, port, key, DB, 5000))
    rec.add("selects while the db stays", select_calls(dst))
    keys = [k for k, _, _, _ in vals[1::2]]
    rec.add("migrate keys", src.call("migrate", HOST, port, "", DB, 5000, "keys", "nokey-1",
                                     *keys, "nokey-2"))
    rec.add("source after", src.call("exists", *[k for k, _, _, _ in vals]))
    dst.call("select", DB)
    for key, kind, _, ttl in vals:
        rec.add("target " + key, (dst.call("type", key), read_value(dst, key, kind),
                                  ttl_class(dst, key, ttl)))
    dst.call("select", 0)


def copy_part(src, dst, port, rec):
    src.call("rpush", "cl", "a", "b", "c", "d")
    m = ("migrate", HOST, port, "cl", DB, 5000)
    rec.add("copy", src.call(*m, "copy"))
    rec.add("copy again", src.call(*m, "copy"))
    src.call("rpush", "cl", "e")
    rec.add("copy replace", src.call(*m, "copy", "replace"))
    rec.add("replace copy", src.call(*m, "REPLACE", "COPY"))
    dst.call("select", DB)
    rec.add("copied", (src.call("lrange", "cl", 0, -1), dst.call("lrange", "cl", 0, -1)))
    dst.call("select", 0)


def busy_part(src, dst, port, rec):
    names = ["b%d" % i for i in range(8)]
    src.call("mset", *[x for n in names for x in (n, n + "-value")])
    dst.call("select", DB)
    dst.call("mset", "b2", "_", "b5", "_")
    rec.add("busy keys", src.call("migrate", HOST, port, "", DB, 5000, "keys", *names))
    rec.add("busy left", (src.call("exists", *names), src.call("exists", "b2", "b5"),
                          dst.call("exists", *names), dst.call("get", "b2")))
    src.call("set", "twice", "1")
    rec.add("twice replace", src.call("migrate", HOST, port, "", DB, 5000, "replace", "keys",
                                      "twice", "twice"))
    src.call("set", "twice2", "2")
    rec.add("twice", src.call("migrate", HOST, port, "", DB, 5000, "keys", "twice2", "twice2"))
    rec.add("twice left", (src.call("exists", "twice", "twice2"),
                           dst.call("mget", "twice", "twice2")))
    dst.call("select", 0)


def error_part(src, dst, port, rec):
    src.call("set", "e1", "v")
    rec.add("nokey", src.call("migrate", HOST, port, "missing", DB, 5000))
    rec.add("db out of range", src.call("migrate", HOST, port, "e1", 99, 5000))
    rec.add("after bad db", src.call("migrate", HOST, port, "e1", DB, 5000, "copy", "replace"))
    dead = free_port()
    rec.add("refused", src.call("migrate", HOST, dead, "e1", DB, 500))
    rec.add("e1 kept", src.call("exists", "e1"))


def cache_part(src, dst, port, rec):
    src.call("set", "c1", "v")
    rec.add("c1", src.call("migrate", HOST, port, "c1", DB, 5000))
    cid = migrate_conn_id(dst)
    rec.add("found the connection", cid is not None)
    dst.call("client", "kill", "id", cid)
    time.sleep(0.1)
    src.call("set", "c2", "v")
    rec.add("after the target closed it", src.call("migrate", HOST, port, "c2", DB, 5000))
    n = [int(x.split(b":")[1]) for x in src.call("info", "stats")[1].split(b"\r\n")
         if x.startswith(b"migrate_cached_sockets:")]
    rec.add("cached sockets", len(n) == 1 and n[0] >= 1)  # this target's, others' too


def silent_part(src, rec):
    lsock = socket.socket()
    lsock.bind((HOST, 0))
    lsock.listen(4)  # never accepts, never replies: the connect succeeds, no reply comes
    try:
        src.call("set", "t1", "v")
        t0 = time.time()
        rec.add("silent target", src.call("migrate", HOST, lsock.getsockname()[1], "t1", 0, 300))
        took = time.time() - t0
        rec.add("waited the timeout", 0.25 <= took < 3)
        rec.add("t1 kept", src.call("exists", "t1"))
    finally:
        lsock.close()


def slowlog_part(src, port, rec):
    src.call("config", "set", "slowlog-log-slower-than", 0)
    src.call("slowlog", "reset")
    src.call("migrate", HOST, port, "", DB, 5000, "auth", "secret", "keys", "none")
    src.call("migrate", HOST, port, "", DB, 5000, "auth2", "user", "secret", "keys", "none")
    entries = src.call("slowlog", "get", 3)[1]
    port = str(port).encode()
    rec.add("slowlog", [[b"PORT" if x[1] == port else x[1] for x in e[1][3][1]]
                        for e in entries if e[1][3][1][0][1].lower() == b"migrate"])
    src.call("config", "set", "slowlog-log-slower-than", 10000)


def scenario(src_port, dst_port):
    """Runs every part from the server on src_port to the one on dst_port."""
    rec = Recorder()
    src, dst = Conn(src_port), Conn(dst_port)
    for c in (src, dst):
        c.call("flushall")
        c.call("config", "resetstat")
    auth_part(src, dst, dst_port, rec)
    types_part(src, dst, dst_port, rec)
    copy_part(src, dst, dst_port, rec)
    busy_part(src, dst, dst_port, rec)
    error_part(src, dst, dst_port, rec)
    cache_part(src, dst, dst_port, rec)
    silent_part(src, rec)
    slowlog_part(src, dst_port, rec)
    stats = src.call("info", "stats")[1].decode()
    rec.add("source lookups", [x for x in stats.split("\r\n") if x.startswith("keyspace_")])
    return rec.seen


ARG_CASES = [
    ("migrate", HOST, 1, "k"),
    ("migrate", HOST, 1, "k", 0, 100, "foo"),
    ("migrate", HOST, 1, "k", 0, 100, "auth"),
    ("migrate", HOST, 1, "k", 0, 100, "auth2", "u"),
    ("migrate", HOST, 1, "k", 0, 100, "keys", "a"),
    ("migrate", HOST, 1, "k", "x", 100),
    ("migrate", HOST, 1, "k", 0, "x"),
    ("migrate", HOST, 1, "k", 0, "1.5"),
    ("migrate", HOST, 1, "k", 0, 100, "keys"),
    ("migrate", HOST, 1, "", 0, 100, "keys", "a", "b"),
    ("migrate", HOST, 1, "k", 0, 100, "copy", "replace", "foo", "keys"),
    ("migrate", HOST, 1, "nokey", 0, 0),
    ("migrate", HOST, 1, "nokey", 0, -5, "copy", "auth", "p"),
    ("command", "getkeys", "migrate", HOST, 1, "k", 0, 100),
    ("command", "getkeys", "migrate", HOST, 1, "k", 0, 100, "copy", "auth2", "u", "p"),
    ("command", "getkeys", "migrate", HOST, 1, "", 0, 100, "auth", "keys", "keys", "a", "b"),
    ("command", "getkeys", "migrate", HOST, 1, "", 0, 100, "replace", "keys", "a", "b", "c"),
    ("command", "getkeys", "migrate", HOST, 1, "k", 0, 100, "keys", "a"),
    ("command", "getkeysandflags", "migrate", HOST, 1, "k", 0, 100, "copy"),
    ("command", "getkeysandflags", "migrate", HOST, 1, "", 0, 100, "keys", "a", "b"),
    ("command", "info", "migrate"),
]


def compare(what, ref, got):
    diffs = 0
    for (label, want), (_, have) in zip(ref, got):
        if want != have:
            diffs += 1
            print("DIFF %s, %s:\n  redis: %r\n  here:  %r" % (what, label, str(want)[:300],
                                                           str(have)[:300]))
    if len(ref) != len(got):
        diffs += 1
        print("DIFF %s: %d observations, redis %d" % (what, len(got), len(ref)))
    return diffs


def compare_args(shale_port, redis_port):
    diffs = 0
    for proto in (2, 3):
        s, r = Conn(shale_port), Conn(redis_port)
        if proto == 3:
            s.call("hello", 3)
            r.call("hello", 3)
        for case in ARG_CASES:
            a, b = r.call(*case), s.call(*case)
            if a != b:
                diffs += 1
                print("DIFF RESP%d %r:\n  redis: %r\n  shale: %r" % (proto, case, a, b))
        a, b = s.call("command", "docs", "migrate"), r.call("command", "docs", "migrate")
        diffs += _docs_equal(a[1][1], b[1][1], "migrate (RESP%d)" % proto)
    return diffs


def check_cache_expiry(port):
    """A cached connection goes after 10 s unused (the cron looks each 1/hz s)."""
    c = Conn(port)
    n = [x for x in c.call("info", "stats")[1].split(b"\r\n")
         if x.startswith(b"migrate_cached_sockets")]
    check(n and n[0] != b"migrate_cached_sockets:0", "a cached connection: %r" % n)
    deadline = time.time() + 13
    while time.time() < deadline:
        if b"migrate_cached_sockets:0\r\n" in c.call("info", "stats")[1]:
            return
        time.sleep(0.25)
    raise AssertionError("the cached connections were not closed after 10 s")


def main():
    _, r1, _ = start_redis()
    _, r2, _ = start_redis()
    _, a, _ = start_server("a", "--sync-writes", "yes")
    _, b, _ = start_server("b", "--sync-writes", "no")
    oracle = scenario(r1, r2)
    diffs = compare_args(a, r1)
    for what, src, dst in (("shale -> redis", a, r2), ("redis -> shale", r1, b),
                           ("shale -> shale", a, b)):
        t0 = time.time()
        got = scenario(src, dst)
        d = compare(what, oracle, got)
        print("%s: %d observations, %d differences (%.1fs)" % (what, len(got), d,
                                                              time.time() - t0))
        diffs += d
    # the scenario's own expectations, on the oracle's observations
    seen = dict(oracle)
    check(seen["right password"] == (b"+", b"OK"), "the oracle migrated with AUTH")
    check(seen["silent target"][0] == b"-", "the oracle timed out")
    check(seen["after the target closed it"] == (b"+", b"OK"), "the oracle reconnected")
    check_cache_expiry(a)
    check(diffs == 0, "%d differences from the oracle" % diffs)
    return 0


if __name__ == "__main__":
    run_main(main)
