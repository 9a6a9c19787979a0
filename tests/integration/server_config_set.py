#!/usr/bin/python3
"""server_config_set.py - CONFIG SET and CONFIG REWRITE against what Redis 7.0 does:

- #15.16 CONFIG REWRITE quotes what needs quoting and the loader reads quoted arguments
  back (sdssplitargs): a value with newlines cannot inject directives (bind, dir) into
  the file, a password with a space survives a restart;
- #15.21 CONFIG SET client-output-buffer-limit answers as redis-server does ("" is OK,
  not uninitialized stack bytes);
- #15.25 CONFIG SET of several options is all or nothing: an engine option given before
  a pair that fails is not applied (the engine keeps its value), duplicates and unknown
  names are refused first, and the l0 triggers may be raised together.
- #17 the replication and client-eviction options shale reports (repl-backlog-size,
  replicaof, maxmemory-clients) survive CONFIG REWRITE and a restart (REPLICAOF's address
  too: the node restarts as a replica), a replicaof with a bad port refuses to start,
  replica-read-only no is refused;
- #17 every option CONFIG GET * reports can be set to the value it reports, as Redis's
  own "CONFIG sanity" test asks (except the options Redis cannot change either), and the
  encoding thresholds and their old names answer as Redis's.

Exit 0, 1 on a failure, 77 without redis-server.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import free_port  # noqa: E402
from lib.harness import (SERVER, TMP, check, run_checks, run_main, spawn,  # noqa: E402
                         start_redis, start_server, wait_up)


def info_field(c, section, name):
    text = c.call("info", section)[1].decode()
    return text.split(name + ":")[1].split("\r\n")[0]


def config_get(c, name):
    r = c.call("config", "get", name)[1]
    return r[1][1] if len(r) == 2 else None


def test_outbuf_replies(s, r):
    """#15.21: the same replies as redis-server, "" included (it was stack garbage)."""
    for v in ["", "  ", "normal 1 2", "bogus 1 2 3", "normal x 2 3", "normal 1 2 3 ",
              "normal 1mb 2mb 60 " * 6 + "bogus 1 2 3", "normal 0 0 0"]:
        a = s.call("config", "set", "client-output-buffer-limit", v)
        b = r.call("config", "set", "client-output-buffer-limit", v)
        check(a == b, "CONFIG SET client-output-buffer-limit %r: %r, redis %r" % (v, a, b))


def test_all_or_nothing(s, r):
    """#15.25: nothing of a failed CONFIG SET reaches the engine or the configuration."""
    cap = info_field(s, "memory", "block_cache_capacity")
    for pairs in (["block-cache-size", "1mb", "maxmemory-policy", "bogus"],
                  ["block-cache-size", "1mb", "db3-fifo-max-size", "8mb"],
                  ["block-cache-size", "1mb", "l0-slowdown-trigger", "99999"],
                  ["block-cache-size", "1mb", "bogus", "1"],
                  ["block-cache-size", "1mb", "port", "1"]):
        got = s.call("config", "set", *pairs)
        check(got[0] == b"-", "CONFIG SET %r: %r" % (pairs, got))
        check(info_field(s, "memory", "block_cache_capacity") == cap,
              "CONFIG SET %r failed (%r) but the engine's block cache is now %s (was %s)"
              % (pairs, got[1], info_field(s, "memory", "block_cache_capacity"), cap))
        check(config_get(s, "block-cache-size") == cap.encode(),
              "CONFIG GET block-cache-size after a failed CONFIG SET: %r"
              % config_get(s, "block-cache-size"))
    # the errors Redis gives, checked before anything is set
    for pairs in (["maxmemory", "10mb", "MAXMEMORY", "20mb"], ["maxmemory", "10mb", "bogus", "1"],
                  ["maxmemory", "10mb", "maxmemory-policy", "bogus"],
                  ["save", "900 1\ndir /etc/x\nbind 0.0.0.0"], ["save", "900 1 300"],
                  ["save", "0 1"], ["save", "900 1  300 10"]):
        a, b = s.call("config", "set", *pairs), r.call("config", "set", *pairs)
        check(a == b, "CONFIG SET %r: %r, redis %r" % (pairs, a, b))
        check(config_get(s, "maxmemory") == b"0", "maxmemory changed by a failed CONFIG SET")
    check(s.call("config", "set", "save", "900 1 300 10") == (b"+", b"OK"), "save 900 1 300 10")
    # the l0 triggers move together: each step alone would break their order
    check(s.call("config", "set", "l0-slowdown-trigger", "50", "l0-stop-trigger", "60") ==
          (b"+", b"OK"), "raising l0-slowdown-trigger and l0-stop-trigger together")
    check(s.call("config", "set", "l0-stop-trigger", "3", "l0-slowdown-trigger", "2",
                 "l0-compaction-trigger", "1") == (b"+", b"OK"), "lowering the three together")
    got = s.call("config", "set", "l0-compaction-trigger", "5")
    check(got[0] == b"-" and config_get(s, "l0-compaction-trigger") == b"1",
          "l0-compaction-trigger above l0-slowdown-trigger: %r" % (got,))
    check(s.call("config", "set", "l0-compaction-trigger", "4", "l0-slowdown-trigger", "20",
                 "l0-stop-trigger", "36") == (b"+", b"OK"), "the l0 triggers back")


# what Redis's CONFIG sanity test skips (options it cannot set either), as shale has them
SANITY_SKIP = {"daemonize", "unixsocket", "databases", "io-threads", "logfile",
               "unixsocketperm", "requirepass", "enable-debug-command", "dir", "backup-dir", "replicaof",
               "slaveof"}


def test_set_to_own_value(s):
    """#17: CONFIG SET name <CONFIG GET's value> succeeds for every option and changes
    nothing (port, bind and shale's own fixed options included)."""
    before = s.call("config", "get", "*")[1]
    pairs = [(before[i][1], before[i + 1][1]) for i in range(0, len(before), 2)]
    for name, value in pairs:
        if name.decode() in SANITY_SKIP:
            continue
        got = s.call("config", "set", name, value)
        check(got == (b"+", b"OK"), "CONFIG SET %s %r: %r" % (name.decode(), value, got))
    check(s.call("config", "get", "*")[1] == before, "CONFIG GET * changed")
    got = s.call("config", "set", "port", "1")
    check(got == (b"-", b"ERR CONFIG SET failed (possibly related to argument 'port') - "
                        b"can't set immutable config"), "CONFIG SET port 1: %r" % (got,))


def test_tombstone_options(s):
    """#17: the engine's tombstone-density triggers are server options: on the command
    line, in CONFIG GET, set live with their ranges checked."""
    _, _, t = start_server("tomb", "--tombstone-compaction-ratio", "30",
                           "--iter-skip-compaction-trigger", "0")
    check(t.call("config", "get", "tombstone-compaction-ratio")[1][1][1] == b"30",
          "the command line's tombstone-compaction-ratio")
    check(t.call("config", "get", "iter-skip-compaction-trigger")[1][1][1] == b"0",
          "the command line's iter-skip-compaction-trigger")
    for name, good, bad in (("tombstone-compaction-ratio", "0", "101"),
                            ("tombstone-compaction-min-entries", "10", "-1"),
                            ("iter-skip-compaction-trigger", "5000", "-1")):
        got = s.call("config", "set", name, good)
        check(got == (b"+", b"OK"), "CONFIG SET %s %s: %r" % (name, good, got))
        check(s.call("config", "get", name)[1][1][1] == good.encode(), "CONFIG GET %s" % name)
        got = s.call("config", "set", name, bad)
        check(got[0] == b"-", "CONFIG SET %s %s refused: %r" % (name, bad, got))


def test_encoding_options(s, r):
    """#17: Redis's encoding thresholds and their old ziplist names, as redis-server."""
    cases = [["get", "hash-max-ziplist-entries"], ["set", "hash-max-ziplist-entries", "77"],
             ["get", "hash-max-listpack-entries"], ["set", "hash-max-listpack-value", "1kb"],
             ["get", "hash-max-ziplist-value"], ["set", "hash-max-listpack-value", "1k"],
             ["set", "hash-max-listpack-value", "-1"], ["set", "hash-max-listpack-entries", "1kb"],
             ["set", "hash-max-listpack-entries", "-1"], ["set", "list-max-listpack-size", "-5"],
             ["get", "list-max-ziplist-size"], ["set", "list-max-ziplist-size", "2147483648"],
             ["set", "list-compress-depth", "-1"], ["set", "list-compress-depth", "3"],
             ["set", "stream-node-max-entries", "1k"], ["set", "stream-node-max-bytes", "8kb"],
             ["set", "hll-sparse-max-bytes", "x"], ["set", "set-max-intset-entries", "5"],
             ["set", "hash-max-listpack-entries", "1", "hash-max-ziplist-entries", "2"],
             ["get", "hash-max-listpack-entries"],
             ["set", "hash-max-listpack-entries", "1", "HASH-MAX-LISTPACK-ENTRIES", "2"],
             ["set", "zset-max-ziplist-entries", "5", "zset-max-listpack-value", "10", "maxmemory",
              "1mb", "zset-max-listpack-entries", "x"], ["get", "maxmemory"],
             ["get", "zset-max-listpack-value"], ["set", "dir", "/tmp"],
             ["set", "daemonize", "no"], ["set", "databases", "16"],
             ["set", "hash-max-listpack-entries", "512", "hash-max-listpack-value", "64",
              "list-max-listpack-size", "-2", "zset-max-listpack-entries", "128",
              "zset-max-listpack-value", "64", "set-max-intset-entries", "512",
              "list-compress-depth", "0", "stream-node-max-entries", "100",
              "stream-node-max-bytes", "4096", "hll-sparse-max-bytes", "3000"]]
    for pattern in ("hash-max-*", "*ziplist*", "*listpack*", "zset-*", "stream-node-*", "hll*",
                    "set-max*", "list-*"):
        cases.append(["get", pattern])
    for case in cases:
        a, b = s.call("config", *case), r.call("config", *case)
        if case[0] == "get":  # Redis's order is its hash table's
            pairs = lambda v: sorted(zip(v[1][0::2], v[1][1::2]))
            a, b = pairs(a), pairs(b)
        check(a == b, "CONFIG %s: %r, redis %r" % (" ".join(case), a, b))


def test_replication_options():
    """#17: replicaof host port starts a replica (a bad port refuses to start, saying
    why), "no one" a primary; the options go through CONFIG REWRITE and back, REPLICAOF's
    address too."""
    p = spawn([SERVER, "--port", str(free_port()), "--dir", os.path.join(TMP, "repl"),
               "--replicaof", "127.0.0.1", "0x"], "repl.log")
    check(p.wait(timeout=20) != 0, "--replicaof 127.0.0.1 0x started a server")
    check("Invalid master port" in open(os.path.join(TMP, "repl.log")).read(),
          "--replicaof refused without saying why")
    conf = os.path.join(TMP, "repl.conf")
    port = free_port()
    with open(conf, "w") as f:
        f.write("port %d\ndir %s\nreplicaof no one\nrepl-backlog-size 1\n"
                % (port, os.path.join(TMP, "repl-data")))
    p, c = start_with_file(conf, port, log="repl.log")
    check(config_get(c, "repl-backlog-size") == b"1", "a file's repl-backlog-size is kept")
    check(config_get(c, "replicaof") == b"", "replicaof no one: %r" % config_get(c, "replicaof"))
    check(c.call("config", "set", "repl-backlog-size", "1000", "maxmemory-clients", "7%") ==
          (b"+", b"OK"), "CONFIG SET repl-backlog-size maxmemory-clients")
    check(config_get(c, "repl-backlog-size") == b"16384", "CONFIG SET raises the backlog to 16k")
    check(c.call("config", "set", "replica-read-only", "no")[0] == b"-",
          "replica-read-only no is refused")
    check(c.call("config", "rewrite") == (b"+", b"OK"), "CONFIG REWRITE")
    p, c = restart(p, c, conf, port, None)
    for name, value in (("repl-backlog-size", b"16384"), ("maxmemory-clients", b"7%"),
                        ("replicaof", b""), ("slaveof", b"")):
        check(config_get(c, name) == value, "%s after a rewrite and restart: %r"
              % (name, config_get(c, name)))
    nowhere = free_port()  # a primary that is not there: the replica waits for it
    check(c.call("replicaof", "127.0.0.1", str(nowhere)) == (b"+", b"OK"), "REPLICAOF")
    check(c.call("config", "rewrite") == (b"+", b"OK"), "CONFIG REWRITE of a replica")
    p, c = restart(p, c, conf, port, None)
    addr = b"127.0.0.1 %d" % nowhere
    check(config_get(c, "replicaof") == addr, "replicaof kept: %r" % config_get(c, "replicaof"))
    check(c.call("role")[1][0] == (b"$", b"slave"), "a replica after the restart")
    p.terminate()
    p.wait(timeout=20)


def start_with_file(conf, port, password=None, log="conf.log"):
    p = spawn([SERVER, conf], log)
    return p, wait_up(port, password, log=log)


def restart(p, c, conf, port, password):
    c.s.sendall(b"*1\r\n$8\r\nshutdown\r\n")
    check(p.wait(timeout=20) == 0, "SHUTDOWN exits 0")
    return start_with_file(conf, port, password)


def test_rewrite_round_trip():
    """#15.16: values that need quoting survive REWRITE and a restart, and inject nothing."""
    conf = os.path.join(TMP, "shale.conf")
    port = free_port()
    data = os.path.join(TMP, "data dir")  # a space: dir itself needs quoting
    with open(conf, "w") as f:
        f.write("port %d\ndir \"%s\"\nbind 127.0.0.1\nsync-writes no\n"
                "# sdssplitargs quoting, as redis.conf has it\nlatency-tracking-info-percentiles '50 99'\n"
                % (port, data))
    p, c = start_with_file(conf, port)
    check(config_get(c, "dir").endswith(b"data dir"), "dir with a space: %r" % config_get(c, "dir"))
    check(config_get(c, "latency-tracking-info-percentiles") == b"50 99", "single quotes read")
    evil = b"s p\"a'c\\e\ndir /tmp/evil\nbind 0.0.0.0\x01\xff#"
    for password in (evil, b"my secret"):
        check(c.call("config", "set", "requirepass", password) == (b"+", b"OK"), "set requirepass")
        c.call("auth", password)
        check(c.call("config", "rewrite") == (b"+", b"OK"), "CONFIG REWRITE")
        p, c = restart(p, c, conf, port, password)
        check(c.call("ping") == (b"+", b"PONG"), "requirepass %r after a restart: AUTH failed"
              % password)
        check(config_get(c, "bind") == b"127.0.0.1", "bind after a restart: %r (file:\n%s)"
              % (config_get(c, "bind"), open(conf).read()))
        check(config_get(c, "dir").endswith(b"data dir"), "dir after a restart: %r"
              % config_get(c, "dir"))
        check(config_get(c, "requirepass") == password,
              "requirepass read back: %r" % config_get(c, "requirepass"))
    p.terminate()
    p.wait(timeout=20)


def main():
    if not shutil.which("redis-server"):
        print("skip: redis-server missing")
        return 77
    _, _, s = start_server("d", "--sync-writes", "no", log="shale.log")
    _, _, r = start_redis()
    s.call("select", "3")
    s.call("set", "k", "v")  # db3 holds a key: its style cannot change
    s.call("select", "0")
    return run_checks([
        ("#15.21 client-output-buffer-limit replies", lambda: test_outbuf_replies(s, r)),
        ("#15.25 CONFIG SET all or nothing", lambda: test_all_or_nothing(s, r)),
        ("#15.16 CONFIG REWRITE quoting and restart", test_rewrite_round_trip),
        ("#17 CONFIG SET of every option to its own value", lambda: test_set_to_own_value(s)),
        ("#17 encoding thresholds as Redis's", lambda: test_encoding_options(s, r)),
        ("#17 tombstone-density triggers", lambda: test_tombstone_options(s)),
        ("#17 replication and client-eviction options", test_replication_options)])


if __name__ == "__main__":
    run_main(main)
