#!/usr/bin/python3
"""server_blocking.py - blocked clients (BLPOP BRPOP BRPOPLPUSH BLMOVE BLMPOP) as Redis
7.0 serves them: waiters served in arrival order, with one or two io threads (a waiter of
another loop is handed the key); wake-ups by every kind of write that makes a key a
non-empty list (LPUSH, RPUSH, LMOVE and RPOPLPUSH destinations, BLMOVE chains, RENAME,
COPY, MOVE, SWAPDB); timeouts (fractional, RESP2 *-1 and RESP3 _); a waiter that lost the
race stays blocked in its place; CLIENT UNBLOCK TIMEOUT/ERROR; disconnects; FLUSHALL
keeps waiters; pipelined commands wait behind a blocked one; WRONGTYPE destinations;
INFO blocked_clients and CLIENT LIST flags=b; no CPU while clients wait; and with
sync-writes yes a woken pop's reply waits for its sync (a slow fdatasync shows it) and
becomes an error when the sync fails.

The sorted sets' BZPOPMIN BZPOPMAX BZMPOP the same way: fairness across the three
commands, wake-ups by every write that makes a key a non-empty sorted set (ZADD,
ZINCRBY, the STORE forms, GEOADD, GEOSEARCHSTORE, GEORADIUS* STORE, RENAME, COPY, MOVE,
SWAPDB), the writes that do not wake, list and sorted-set waiters of one key skipping
each other's type, timeouts, CLIENT UNBLOCK, disconnects, sync-writes yes. Those
scenarios run on redis-server 7.0 too when it is installed: their expectations are its.

Run: tests/integration/server_blocking.py [name-substring]
"""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode  # noqa: E402
from lib.harness import (BUILD, TMP, check, run_checks, run_main, start_redis,  # noqa: E402
                         start_server)

SHIM = os.path.join(BUILD, "tests", "libfail_fsync.so")
NULL_ARRAY = (b"*", None)
PORTS = {}


def server(threads=1):
    """The shared server with `threads` io threads (started once)."""
    if threads not in PORTS:
        _, port, _ = start_server("data%d" % threads, "--io-threads", str(threads),
                                  "--sync-writes", "no")
        PORTS[threads] = port
    c = Conn(PORTS[threads])
    c.call("flushall")
    return c


def conn(threads=1):
    return Conn(PORTS[threads])


def send(c, *args):
    c.s.sendall(encode(args))


def blocked(c):
    text = c.call("info", "clients")[1].decode()
    return int(text.split("blocked_clients:")[1].split("\r\n")[0])


def wait_blocked(c, n, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        if blocked(c) == n:
            return
        time.sleep(0.01)
    raise AssertionError("blocked_clients is %d, not %d" % (blocked(c), n))


def bulk(v):
    return (b"$", v if isinstance(v, bytes) else v.encode())


def pair(k, v):
    return (b"*", [bulk(k), bulk(v)])


def pending(c, wait=0.2):
    """Whether a reply is waiting on c (within `wait` seconds)."""
    c.s.settimeout(wait)
    try:
        return bool(c.buf) or bool(c.s.recv(1, 2))  # MSG_PEEK
    except OSError:
        return False
    finally:
        c.s.settimeout(10)


def check_fairness(threads):
    admin = server(threads)
    waiters = []
    for i in range(6):
        w = conn(threads)
        send(w, "blpop", "q", "0")
        wait_blocked(admin, i + 1)  # each in turn: arrival order is known
        waiters.append(w)
    check(admin.call("rpush", "q", "a", "b", "c") == (b":", b"3"), "RPUSH")
    for w, v in zip(waiters, "abc"):
        r = w.reply()
        check(r == pair("q", v), "waiter got %r, not %s" % (r, v))
    wait_blocked(admin, 3)  # the others lost the race: still waiting
    check(admin.call("exists", "q") == (b":", b"0"), "list emptied")
    admin.call("rpush", "q", "d")
    check(waiters[3].reply() == pair("q", "d"), "the fourth is next")
    admin.call("lpush", "q", "e", "f")  # one push of two: the next two, in order
    check(waiters[4].reply() == pair("q", "f") and waiters[5].reply() == pair("q", "e"),
          "the last two")
    wait_blocked(admin, 0)


def test_fairness():
    check_fairness(1)


def test_fairness_two_io_threads():
    for _ in range(3):  # connections land on either loop: a few rounds mix them
        check_fairness(2)


def test_brpop_and_multiple_keys():
    admin = server()
    w = conn()
    send(w, "brpop", "k1", "k2", "k2", "k3", "0")  # repeats count once
    wait_blocked(admin, 1)
    admin.call("rpush", "k3", "x", "y")
    check(w.reply() == pair("k3", "y"), "BRPOP served from the key that got elements")
    check(admin.call("lrange", "k3", "0", "-1") == (b"*", [bulk("x")]), "rest")


def test_wakeup_by_each_write():
    admin = server()
    admin.call("rpush", "src", "1", "2", "3", "4", "5", "6")
    admin.call("select", "1")
    admin.call("rpush", "other", "m")
    admin.call("select", "0")
    writes = [
        ("lpush", [("lpush", "w", "v")], "v"),
        ("rpush", [("rpush", "w", "v")], "v"),
        ("lmove", [("lmove", "src", "w", "left", "right")], "1"),
        ("rpoplpush", [("rpoplpush", "src", "w")], "6"),
        ("rename", [("rpush", "tmp", "r"), ("rename", "tmp", "w")], "r"),
        ("copy", [("rpush", "tmp2", "c"), ("copy", "tmp2", "w")], "c"),
        ("move", [("select", "1"), ("rpush", "mv", "mm"), ("rename", "mv", "w"),
                  ("move", "w", "0"), ("select", "0")], "mm"),
        ("swapdb", [("select", "1"), ("rpush", "w", "s"), ("select", "0"),
                    ("swapdb", "0", "1")], "s"),
    ]
    for name, cmds, want in writes:
        w = conn()
        send(w, "blpop", "w", "0")
        wait_blocked(admin, 1)
        for cmd in cmds:
            r = admin.call(*cmd)
            check(r[0] != b"-", "%s: %r gave %r" % (name, cmd, r))
        r = w.reply()
        check(r == pair("w", want), "%s: the waiter got %r" % (name, r))
        wait_blocked(admin, 0)
        if name == "swapdb":
            admin.call("swapdb", "0", "1")
        admin.call("del", "w")


def test_writes_that_do_not_wake():
    admin = server()
    w = conn()
    send(w, "blpop", "k", "0")
    wait_blocked(admin, 1)
    admin.call("set", "k", "str")  # not a list: stays blocked
    admin.call("hset", "h", "f", "v")
    admin.call("del", "k")
    admin.call("lpushx", "k", "x")  # nothing to push onto
    check(not pending(w), "woken by a write that made no list")
    check(blocked(admin) == 1, "still blocked")
    admin.call("flushall")  # waiters survive it
    check(blocked(admin) == 1, "FLUSHALL lost the waiter")
    admin.call("lpush", "k", "z")
    check(w.reply() == pair("k", "z"), "served after FLUSHALL")


def test_timeouts():
    admin = server()
    w = conn()
    t0 = time.time()
    r = w.call("blpop", "none", "0.2")
    dt = time.time() - t0
    check(r == NULL_ARRAY, "BLPOP timeout reply %r" % (r,))
    check(0.15 <= dt < 1.5, "a 0.2 s timeout took %.3f s" % dt)
    w.call("hello", "3")
    t0 = time.time()
    for cmd in (("brpop", "none", "0.05"), ("brpoplpush", "none", "d", "0.05"),
                ("blmove", "none", "d", "left", "right", "0.05"),
                ("blmpop", "0.05", "1", "none", "left")):
        r = w.call(*cmd)
        check(r == (b"_", b""), "RESP3 %s timeout reply %r" % (cmd[0], r))
    w.call("hello", "2")
    r = w.call("brpoplpush", "none", "d", "0.01")
    check(r == NULL_ARRAY, "BRPOPLPUSH times out with a null array, as Redis: %r" % (r,))
    # many timeouts at once, in any order of deadlines
    ws = [conn() for _ in range(20)]
    for i, c in enumerate(ws):
        send(c, "blpop", "none", "%.2f" % (0.05 + (i * 7 % 20) / 100))
    for c in ws:
        check(c.reply() == NULL_ARRAY, "timeouts")
    check(blocked(admin) == 0, "none left")
    for bad, msg in (("-1", b"ERR timeout is negative"), ("x", b"ERR timeout is not a float"),
                     ("inf", b"ERR timeout is negative")):
        r = w.call("blpop", "none", bad)
        check(r[0] == b"-" and r[1].startswith(msg), "BLPOP timeout %s: %r" % (bad, r))


def test_client_unblock():
    admin = server()
    w = conn()
    wid = int(w.call("client", "id")[1])
    send(w, "blpop", "k", "0")
    wait_blocked(admin, 1)
    line = admin.call("client", "list", "id", str(wid))[1]
    check(b"flags=b" in line and b"cmd=blpop" in line, "CLIENT LIST: %r" % line)
    check(admin.call("client", "unblock", str(wid)) == (b":", b"1"), "UNBLOCK")
    check(w.reply() == NULL_ARRAY, "UNBLOCK replies the timeout")
    check(admin.call("client", "unblock", str(wid)) == (b":", b"0"), "not blocked any more")
    send(w, "blmove", "k", "d", "left", "left", "0")
    wait_blocked(admin, 1)
    check(admin.call("client", "unblock", str(wid), "error") == (b":", b"1"), "UNBLOCK ERROR")
    check(w.reply() == (b"-", b"UNBLOCKED client unblocked via CLIENT UNBLOCK"), "the error")
    check(w.call("ping") == (b"+", b"PONG"), "the client goes on")
    r = admin.call("client", "unblock", str(wid), "bogus")
    check(r == (b"-", b"ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"), "%r" % (r,))
    check(admin.call("client", "unblock", "x")[0] == b"-", "bad id")
    check(admin.call("client", "unblock", "999999") == (b":", b"0"), "unknown id")
    admin.call("lpush", "k", "still")
    check(admin.call("lrange", "k", "0", "-1") == (b"*", [bulk("still")]), "nobody took it")


def test_client_unblock_other_loop():
    admin = server(2)
    for _ in range(6):  # whichever loops they land on
        w = conn(2)
        wid = int(w.call("client", "id")[1])
        send(w, "blpop", "k", "0")
        wait_blocked(admin, 1)
        check(admin.call("client", "unblock", str(wid), "error")[1] == b"1", "UNBLOCK")
        check(w.reply()[0] == b"-", "error reply")
        wait_blocked(admin, 0)


def test_disconnect():
    admin = server()
    gone = conn()
    send(gone, "blpop", "k", "0")
    stay = conn()
    wait_blocked(admin, 1)
    send(stay, "blpop", "k", "0")
    wait_blocked(admin, 2)
    gone.s.close()
    wait_blocked(admin, 1)
    admin.call("rpush", "k", "a", "b")
    check(stay.reply() == pair("k", "a"), "the one left got the first element")
    check(admin.call("lrange", "k", "0", "-1") == (b"*", [bulk("b")]), "nothing lost")


def test_killed_client_is_not_served():
    admin = server()
    w = conn()
    wid = w.call("client", "id")[1].decode()
    send(w, "blpop", "k", "0")
    wait_blocked(admin, 1)
    # in one packet: the kill and then the push run together, before the loop has seen
    # the killed connection close; the element must stay for the living
    admin.s.sendall(encode(("client", "kill", "id", wid)) + encode(("rpush", "k", "x")))
    check(admin.reply() == (b":", b"1") and admin.reply() == (b":", b"1"), "kill, push")
    check(admin.call("lrange", "k", "0", "-1") == (b"*", [bulk("x")]),
          "the element went to the killed client")
    wait_blocked(admin, 0)


def test_idle_timeout_spares_blocked_clients():
    admin = server()
    w, idle = conn(), conn()
    send(w, "blpop", "k", "0")
    wait_blocked(admin, 1)
    check(admin.call("config", "set", "timeout", "1") == (b"+", b"OK"), "CONFIG SET timeout")
    try:
        for _ in range(5):  # the blocked one idles past the timeout; this one does not
            time.sleep(0.5)
            admin.call("ping")
        check(blocked(admin) == 1, "the blocked client was closed as idle")
        admin.call("rpush", "k", "v")
        check(w.reply() == pair("k", "v"), "still served")
        # served, it has just interacted: the idle clock starts again there (it was once
        # closed by the next cron, its wait counted as idle time, at times before its
        # reply was read)
        time.sleep(0.5)
        try:
            alive = w.call("ping") == (b"+", b"PONG")
        except (OSError, EOFError):
            alive = False
        check(alive, "the served client was closed as idle right after its wait")
        try:
            closed = idle.call("ping") is None
        except (OSError, EOFError):
            closed = True
        check(closed, "the idle client stayed")
    finally:
        admin.call("config", "set", "timeout", "0")


def test_pipelined_commands_wait():
    admin = server()
    w = conn()
    w.s.sendall(encode(("blpop", "k", "0")) + encode(("rpush", "after", "1")) +
                encode(("ping",)))
    wait_blocked(admin, 1)
    check(not pending(w), "a reply came while blocked")
    check(admin.call("exists", "after") == (b":", b"0"), "a pipelined command ran early")
    admin.call("rpush", "k", "x")
    check(w.reply() == pair("k", "x"), "the pop")
    check(w.reply() == (b":", b"1") and w.reply() == (b"+", b"PONG"), "then the rest")


def test_blmove_chains():
    admin = server()
    c1, c2, c3 = conn(), conn(), conn()
    send(c1, "blmove", "a", "b", "right", "left", "0")
    wait_blocked(admin, 1)
    send(c2, "brpoplpush", "b", "c", "0")
    wait_blocked(admin, 2)
    send(c3, "blpop", "c", "0")
    wait_blocked(admin, 3)
    admin.call("rpush", "a", "x")
    check(c1.reply() == bulk("x") and c2.reply() == bulk("x"), "moved along")
    check(c3.reply() == pair("c", "x"), "and popped at the end")
    check(admin.call("exists", "a", "b", "c") == (b":", b"0"), "nothing left")
    # circular and self-referential
    send(c1, "brpoplpush", "l1", "l2", "0")
    wait_blocked(admin, 1)
    send(c2, "brpoplpush", "l2", "l1", "0")
    wait_blocked(admin, 2)
    admin.call("rpush", "l1", "foo")
    check(c1.reply() == bulk("foo") and c2.reply() == bulk("foo"), "circular")
    check(admin.call("lrange", "l1", "0", "-1") == (b"*", [bulk("foo")]), "back in l1")
    send(c1, "brpoplpush", "self", "self", "0")
    wait_blocked(admin, 1)
    admin.call("rpush", "self", "s")
    check(c1.reply() == bulk("s"), "self-referential")
    check(admin.call("lrange", "self", "0", "-1") == (b"*", [bulk("s")]), "kept")


def test_wrongtype_destination():
    admin = server()
    c1, c2 = conn(), conn()
    send(c1, "brpoplpush", "src", "t1", "0")
    wait_blocked(admin, 1)
    send(c2, "brpoplpush", "src", "t2", "0")
    wait_blocked(admin, 2)
    admin.call("set", "t1", "string")
    admin.call("rpush", "src", "foo")
    r = c1.reply()
    check(r[0] == b"-" and r[1].startswith(b"WRONGTYPE"), "first waiter: %r" % (r,))
    check(c2.reply() == bulk("foo"), "the second gets the element")


def test_blmpop():
    admin = server()
    w = conn()
    send(w, "blmpop", "0", "2", "m1", "m2", "right", "count", "2")
    wait_blocked(admin, 1)
    admin.call("rpush", "m2", "a", "b", "c")
    check(w.reply() == (b"*", [bulk("m2"), (b"*", [bulk("c"), bulk("b")])]), "BLMPOP")
    r = w.call("blmpop", "0", "2", "m1", "m2", "left", "count", "5")
    check(r == (b"*", [bulk("m2"), (b"*", [bulk("a")])]), "at once: %r" % (r,))


def test_no_cpu_while_blocked():
    admin = server()
    ws = []
    for _ in range(200):
        c = conn()
        send(c, "blpop", "k", "100")
        ws.append(c)
    wait_blocked(admin, 200)
    pid = int(admin.call("info", "server")[1].decode().split("process_id:")[1].split("\r\n")[0])

    def cpu():
        f = open("/proc/%d/stat" % pid).read().split(")")[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    before = cpu()
    time.sleep(2)
    used = cpu() - before
    print("     server CPU over 2 s with 200 clients blocked: %.3f s" % used)
    check(used < 0.2, "blocked clients cost CPU: %.3f s in 2 s" % used)
    for c in ws:
        c.s.close()
    wait_blocked(admin, 0)


def test_sync_writes_yes():
    if not os.path.exists(SHIM):
        raise AssertionError("%s missing (make builds it)" % SHIM)
    for pipeline in ("no", "yes"):
        _, port, admin = start_server("syncpipe" + pipeline, "--sync-writes", "yes",
                                      "--commit-pipeline", pipeline, log="sync.log",
                                      env={"LD_PRELOAD": os.path.abspath(SHIM),
                                           "SHALE_SLOW_FSYNC_MS": "300",
                                           "ASAN_OPTIONS": "verify_asan_link_order=0"},
                                      wait=20)
        w = Conn(port)
        send(w, "blpop", "k", "0")
        wait_blocked(admin, 1)
        t0 = time.time()
        send(admin, "rpush", "k", "x")
        r = w.reply()
        dt = time.time() - t0
        check(r == pair("k", "x"), "the pop: %r" % (r,))
        check(admin.reply() == (b":", b"1"), "the push")
        print("     commit-pipeline %s: woken pop replied %.3f s after the push" % (pipeline, dt))
        check(dt >= 0.25, "the pop's reply came %.3f s after the push, before its sync" % dt)
    arm = os.path.join(TMP, "fail-fsync-armed")
    _, port, admin = start_server("syncfail", "--sync-writes", "yes", log="syncfail.log",
                                  env={"LD_PRELOAD": os.path.abspath(SHIM),
                                       "SHALE_FAIL_FSYNC": arm,
                                       "ASAN_OPTIONS": "verify_asan_link_order=0"}, wait=20)
    w = Conn(port)
    send(w, "blpop", "k", "0")
    wait_blocked(admin, 1)
    open(arm, "w").close()
    admin.call("rpush", "k", "x")
    r = w.reply()
    check(r[0] == b"-" and r[1].startswith(b"MISCONF"),
          "a pop whose sync failed was acknowledged: %r" % (r,))
    os.unlink(arm)


# ---- sorted sets: BZPOPMIN BZPOPMAX BZMPOP ----
# The scenarios below run on shale and, when it is installed, on redis-server 7.0 too:
# their expectations are Redis's own.

ORACLE = {}


def oracle_port():
    """redis-server's port (started once), None when it is not installed."""
    if not shutil.which("redis-server"):
        return None
    if "port" not in ORACLE:
        ORACLE["port"] = start_redis()[1]
    return ORACLE["port"]


def on_both(scenario, threads=1):
    """scenario(port) on shale (`threads` io threads), then on redis-server if present."""
    server(threads)
    scenario(PORTS[threads])
    port = oracle_port()
    if port:
        scenario(port)


def fresh(port):
    c = Conn(port)
    c.call("flushall")
    return c


def triple(k, m, score):
    return (b"*", [bulk(k), bulk(m), bulk(score)])


def zmpop_reply(k, *pairs):
    return (b"*", [bulk(k), (b"*", [pair(m, sc) for m, sc in pairs])])


def zset_fairness(port):
    admin = fresh(port)
    cmds = [("bzpopmin", "z", "0"), ("bzpopmax", "z", "0"),
            ("bzmpop", "0", "1", "z", "min", "count", "2"), ("bzpopmin", "z", "0"),
            ("bzpopmax", "z", "0")]
    ws = []
    for i, cmd in enumerate(cmds):
        w = Conn(port)
        send(w, *cmd)
        wait_blocked(admin, i + 1)  # each in turn: arrival order is known
        ws.append(w)
    check(admin.call("zadd", "z", "1", "a", "2", "b", "3", "c", "4", "d") == (b":", b"4"), "ZADD")
    want = [triple("z", "a", "1"), triple("z", "d", "4"), zmpop_reply("z", ("b", "2"), ("c", "3"))]
    for i, (w, r) in enumerate(zip(ws, want)):
        got = w.reply()
        check(got == r, "%d: waiter %d got %r, not %r" % (port, i, got, r))
    wait_blocked(admin, 2)  # the other two lost the race: still waiting, in their places
    check(admin.call("exists", "z") == (b":", b"0"), "the emptied set is gone")
    check(not pending(ws[3], 0.05) and not pending(ws[4], 0.05), "woken without a member")
    admin.call("zadd", "z", "5", "e")
    check(ws[3].reply() == triple("z", "e", "5"), "the fourth is next")
    admin.call("zadd", "z", "7", "g", "6", "f")
    check(ws[4].reply() == triple("z", "g", "7"), "the fifth (BZPOPMAX)")
    check(admin.call("zrange", "z", "0", "-1") == (b"*", [bulk("f")]), "f left")
    wait_blocked(admin, 0)


def test_zset_fairness():
    on_both(zset_fairness)


def test_zset_fairness_two_io_threads():
    for _ in range(3):  # connections land on either loop: a few rounds mix them
        server(2)
        zset_fairness(PORTS[2])


GEO = ("13.361389", "38.115556", "Palermo", "15.087269", "37.502669", "Catania")
PALERMO = "3479099956230698"

# (name, the writes, what a BZPOPMIN on w then pops: (member, score))
ZSET_WRITES = [
    ("zadd", [("zadd", "w", "1", "v")], ("v", "1")),
    ("zadd incr", [("zadd", "w", "incr", "2.5", "v")], ("v", "2.5")),
    ("zincrby", [("zincrby", "w", "3", "v")], ("v", "3")),
    ("zunionstore", [("zunionstore", "w", "2", "s1", "s2")], ("a", "1")),
    ("zinterstore", [("zinterstore", "w", "2", "s1", "s2")], ("b", "5")),
    ("zdiffstore", [("zdiffstore", "w", "2", "s1", "s2")], ("a", "1")),
    ("zrangestore", [("zrangestore", "w", "s2", "0", "0")], ("b", "3")),
    ("geoadd", [("geoadd", "w") + GEO[:3]], ("Palermo", PALERMO)),
    ("geosearchstore", [("geosearchstore", "w", "g", "fromlonlat", "15", "37", "byradius", "200",
                         "km", "asc")], ("Palermo", PALERMO)),
    ("geosearchstore storedist", [("geosearchstore", "w", "g", "fromlonlat", "15", "37",
                                   "byradius", "200", "km", "asc", "storedist")],
     ("Catania", "56.441257870158204")),
    ("georadius store", [("georadius", "g", "15", "37", "200", "km", "store", "w")],
     ("Palermo", PALERMO)),
    ("georadiusbymember storedist", [("georadiusbymember", "g", "Palermo", "200", "km",
                                      "storedist", "w")], ("Palermo", "0")),
    ("rename", [("zadd", "tmp", "7", "r"), ("rename", "tmp", "w")], ("r", "7")),
    ("renamenx", [("zadd", "tmp", "7", "rn"), ("renamenx", "tmp", "w")], ("rn", "7")),
    ("copy", [("zadd", "tmp", "8", "c"), ("copy", "tmp", "w")], ("c", "8")),
    ("copy db", [("select", "1"), ("zadd", "cp", "9", "cd"), ("copy", "cp", "w", "db", "0"),
                 ("select", "0")], ("cd", "9")),
    ("move", [("select", "1"), ("zadd", "w", "10", "mm"), ("move", "w", "0"), ("select", "0")],
     ("mm", "10")),
    ("swapdb", [("select", "1"), ("zadd", "w", "11", "s"), ("select", "0"),
                ("swapdb", "0", "1")], ("s", "11")),
]


def zset_wakeup_by_each_write(port):
    admin = fresh(port)
    admin.call("zadd", "s1", "1", "a", "2", "b")
    admin.call("zadd", "s2", "3", "b", "4", "c")
    admin.call("geoadd", "g", *GEO)
    for name, cmds, (member, score) in ZSET_WRITES:
        w = Conn(port)
        send(w, "bzpopmin", "w", "0")
        wait_blocked(admin, 1)
        for cmd in cmds:
            r = admin.call(*cmd)
            check(r[0] != b"-", "%s: %r gave %r" % (name, cmd, r))
        r = w.reply()
        check(r == triple("w", member, score), "%d %s: the waiter got %r" % (port, name, r))
        wait_blocked(admin, 0)
        if name == "swapdb":
            admin.call("swapdb", "0", "1")
        admin.call("del", "w", "tmp")


def test_zset_wakeup_by_each_write():
    on_both(zset_wakeup_by_each_write)


def restore_wakes(port):
    """A RESTORE of a list wakes BLPOP, of a sorted set BZPOPMIN (with TTL, ABSTTL,
    REPLACE); one of another type, or one already expired, wakes nobody."""
    admin = fresh(port)
    admin.call("rpush", "l", "a", "b")
    admin.call("zadd", "z", "1", "m", "2", "n")
    admin.call("sadd", "s", "x")
    lp, zp, sp = (admin.call("dump", k)[1] for k in ("l", "z", "s"))
    cases = [("blpop", lp, (), pair("w", "a")),
             ("blpop", lp, ("100000",), pair("w", "a")),
             ("bzpopmin", zp, (), triple("w", "m", "1")),
             ("bzpopmin", zp, ("99999999999999", "absttl"), triple("w", "m", "1")),
             ("blpop", sp, (), None), ("bzpopmin", lp, (), None),
             ("blpop", lp, ("1", "absttl"), None), ("bzpopmin", zp, ("1", "absttl"), None)]
    for block, payload, opts, want in cases:
        w = Conn(port)
        wid = w.call("client", "id")[1]
        send(w, block, "w", "0")
        wait_blocked(admin, 1)
        ttl = opts[0] if opts else "0"
        r = admin.call("restore", "w", ttl, payload, "replace", *opts[1:])
        check(r == (b"+", b"OK"), "%d %s: RESTORE gave %r" % (port, block, r))
        if want is None:
            check(not pending(w), "%d %s %r: the waiter woke" % (port, block, opts))
            check(admin.call("client", "unblock", wid) == (b":", b"1"), "UNBLOCK")
            check(w.reply()[1] is None, "%d %s: a timeout's nil" % (port, block))
        else:
            r = w.reply()
            check(r == want, "%d %s %r: the waiter got %r" % (port, block, opts, r))
        wait_blocked(admin, 0)
        admin.call("del", "w")


def test_restore_wakes():
    on_both(restore_wakes)


def zset_writes_that_do_not_wake(port):
    admin = fresh(port)
    admin.call("zadd", "s1", "1", "a")
    admin.call("geoadd", "g", *GEO)
    w = Conn(port)
    send(w, "bzpopmin", "k", "0")
    wait_blocked(admin, 1)
    for cmd in (("set", "k", "str"), ("del", "k"), ("zadd", "k", "xx", "1", "a"),
                ("zadd", "k", "xx", "incr", "1", "a"), ("zinterstore", "k", "2", "s1", "nokey"),
                ("zrangestore", "k", "s1", "5", "10"), ("zrem", "k", "a"),
                ("geosearchstore", "k", "g", "fromlonlat", "0", "0", "byradius", "1", "km"),
                ("georadius", "g", "0", "0", "1", "km", "store", "k"),
                ("lpush", "k", "x"), ("del", "k"), ("sadd", "k", "m"), ("del", "k"),
                ("hset", "k", "f", "v"), ("del", "k"), ("sort", "s1", "store", "k"),
                ("del", "k"), ("zadd", "other", "1", "o"), ("select", "1"),
                ("zadd", "k", "1", "db1"), ("select", "0"), ("flushall",)):
        admin.call(*cmd)
    check(not pending(w), "%d: woken by a write that made no sorted set k" % port)
    check(blocked(admin) == 1, "still blocked (FLUSHALL keeps waiters)")
    admin.call("zadd", "k", "2", "z")
    check(w.reply() == triple("k", "z", "2"), "served at last")


def test_zset_writes_that_do_not_wake():
    on_both(zset_writes_that_do_not_wake)


def list_and_zset_waiters(port):
    """A list waiter and a sorted-set waiter on one key: a write serves the waiters of the
    key's new type and skips the others, who stay blocked in their places (Redis 7.0)."""
    admin = fresh(port)
    bl, bz = Conn(port), Conn(port)
    send(bl, "blpop", "k", "0")
    wait_blocked(admin, 1)
    send(bz, "bzpopmin", "k", "0")
    wait_blocked(admin, 2)
    admin.call("zadd", "k", "1", "a", "2", "b")
    check(bz.reply() == triple("k", "a", "1"), "%d: the sorted-set waiter behind" % port)
    check(not pending(bl, 0.05), "a list waiter woken by a sorted set")
    admin.call("del", "k")
    admin.call("rpush", "k", "x", "y")
    check(bl.reply() == pair("k", "x"), "the list waiter")
    wait_blocked(admin, 0)
    admin.call("del", "k")
    # the other way round, and a sorted-set waiter on two keys
    send(bz, "bzpopmax", "k", "k2", "0")
    wait_blocked(admin, 1)
    send(bl, "brpop", "k", "0")
    wait_blocked(admin, 2)
    admin.call("rpush", "k2", "l")  # a list: the sorted-set waiter stays
    check(not pending(bz, 0.05), "a sorted-set waiter woken by a list")
    admin.call("rpush", "k", "b")
    check(bl.reply() == pair("k", "b"), "BRPOP")
    admin.call("rename", "k2", "k")  # a list renamed onto k: skipped again
    check(not pending(bz, 0.05), "a sorted-set waiter woken by RENAME of a list")
    admin.call("del", "k")
    admin.call("zadd", "k2", "3", "c", "4", "d")
    check(bz.reply() == triple("k2", "d", "4"), "served from its second key")
    wait_blocked(admin, 0)


def test_list_and_zset_waiters():
    on_both(list_and_zset_waiters)


def zset_multiple_keys(port):
    admin = fresh(port)
    w = Conn(port)
    send(w, "bzpopmin", "k1", "k2", "k2", "k3", "0")  # repeats count once
    wait_blocked(admin, 1)
    admin.call("zadd", "k3", "1", "x", "2", "y")
    check(w.reply() == triple("k3", "x", "1"), "%d: served from the key written" % port)
    admin.call("zadd", "k1", "5", "p")
    admin.call("zadd", "k2", "1", "q")
    r = w.call("bzpopmax", "k0", "k2", "k1", "0")  # at once: the first non-empty key
    check(r == triple("k2", "q", "1"), "at once: %r" % (r,))
    r = w.call("bzmpop", "0", "3", "k0", "k1", "k3", "max", "count", "10")
    check(r == zmpop_reply("k1", ("p", "5")), "BZMPOP at once: %r" % (r,))
    send(w, "bzmpop", "0", "2", "m1", "m2", "max", "count", "2")
    wait_blocked(admin, 1)
    admin.call("zadd", "m2", "1", "a", "2", "b", "3", "c")
    check(w.reply() == zmpop_reply("m2", ("c", "3"), ("b", "2")), "BZMPOP woken")
    admin.call("set", "str", "v")
    r = w.call("bzpopmin", "nokey", "str", "k3", "0")
    check(r[0] == b"-" and r[1].startswith(b"WRONGTYPE"), "WRONGTYPE before k3: %r" % (r,))
    r = w.call("bzpopmin", "k3", "str", "0")
    check(r == triple("k3", "y", "2"), "k3 first, the string after it unread: %r" % (r,))


def test_zset_multiple_keys():
    on_both(zset_multiple_keys)


def test_zset_timeouts():
    server()
    admin = conn()
    w = conn()
    t0 = time.time()
    r = w.call("bzpopmin", "none", "0.2")
    dt = time.time() - t0
    check(r == NULL_ARRAY, "BZPOPMIN timeout reply %r" % (r,))
    check(0.15 <= dt < 1.5, "a 0.2 s timeout took %.3f s" % dt)
    check(w.call("bzmpop", "0.01", "1", "none", "min") == NULL_ARRAY, "BZMPOP timeout")
    w.call("hello", "3")
    for cmd in (("bzpopmin", "none", "0.05"), ("bzpopmax", "a", "b", "0.05"),
                ("bzmpop", "0.05", "2", "a", "b", "max", "count", "3")):
        r = w.call(*cmd)
        check(r == (b"_", b""), "RESP3 %s timeout reply %r" % (cmd[0], r))
    w.call("hello", "2")
    ws = [conn() for _ in range(12)]
    for i, c in enumerate(ws):
        send(c, "bzpopmax" if i % 2 else "bzpopmin", "none", "%.2f" % (0.05 + (i * 5 % 12) / 100))
    for c in ws:
        check(c.reply() == NULL_ARRAY, "timeouts")
    check(blocked(admin) == 0, "none left")
    for cmd, msg in ((("bzpopmin", "none", "-1"), b"ERR timeout is negative"),
                     (("bzpopmax", "none", "x"), b"ERR timeout is not a float"),
                     (("bzmpop", "inf", "1", "none", "min"), b"ERR timeout is negative"),
                     (("bzmpop", "x", "0", "none", "min"), b"ERR numkeys should be greater")):
        r = w.call(*cmd)
        check(r[0] == b"-" and r[1].startswith(msg), "%r: %r" % (cmd, r))


def test_zset_client_unblock():
    server()
    admin, w = conn(), conn()
    wid = int(w.call("client", "id")[1])
    send(w, "bzpopmin", "k", "0")
    wait_blocked(admin, 1)
    line = admin.call("client", "list", "id", str(wid))[1]
    check(b"flags=b" in line and b"cmd=bzpopmin" in line, "CLIENT LIST: %r" % line)
    check(admin.call("client", "unblock", str(wid)) == (b":", b"1"), "UNBLOCK")
    check(w.reply() == NULL_ARRAY, "UNBLOCK replies the timeout")
    send(w, "bzmpop", "0", "1", "k", "min")
    wait_blocked(admin, 1)
    check(admin.call("client", "unblock", str(wid), "error") == (b":", b"1"), "UNBLOCK ERROR")
    check(w.reply() == (b"-", b"UNBLOCKED client unblocked via CLIENT UNBLOCK"), "the error")
    admin.call("zadd", "k", "1", "still")
    check(admin.call("zcard", "k") == (b":", b"1"), "nobody took it")


def test_zset_disconnect():
    server()
    admin = conn()
    gone, stay = conn(), conn()
    send(gone, "bzpopmin", "k", "0")
    wait_blocked(admin, 1)
    send(stay, "bzpopmin", "k", "0")
    wait_blocked(admin, 2)
    gone.s.close()
    wait_blocked(admin, 1)
    admin.call("zadd", "k", "1", "a", "2", "b")
    check(stay.reply() == triple("k", "a", "1"), "the one left got the lowest")
    check(admin.call("zrange", "k", "0", "-1") == (b"*", [bulk("b")]), "nothing lost")


def test_zset_sync_writes_yes():
    if not os.path.exists(SHIM):
        raise AssertionError("%s missing (make builds it)" % SHIM)
    for pipeline in ("no", "yes"):
        _, port, admin = start_server("zsyncpipe" + pipeline, "--sync-writes", "yes",
                                      "--commit-pipeline", pipeline, log="zsync.log",
                                      env={"LD_PRELOAD": os.path.abspath(SHIM),
                                           "SHALE_SLOW_FSYNC_MS": "300",
                                           "ASAN_OPTIONS": "verify_asan_link_order=0"},
                                      wait=20)
        w = Conn(port)
        send(w, "bzmpop", "0", "1", "k", "min", "count", "2")
        wait_blocked(admin, 1)
        t0 = time.time()
        send(admin, "zadd", "k", "1", "x")
        r = w.reply()
        dt = time.time() - t0
        check(r == zmpop_reply("k", ("x", "1")), "the pop: %r" % (r,))
        check(admin.reply() == (b":", b"1"), "the add")
        print("     commit-pipeline %s: woken BZMPOP replied %.3f s after the ZADD"
              % (pipeline, dt))
        check(dt >= 0.25, "the pop's reply came %.3f s after the add, before its sync" % dt)
    arm = os.path.join(TMP, "zfail-fsync-armed")
    _, port, admin = start_server("zsyncfail", "--sync-writes", "yes", log="zsyncfail.log",
                                  env={"LD_PRELOAD": os.path.abspath(SHIM),
                                       "SHALE_FAIL_FSYNC": arm,
                                       "ASAN_OPTIONS": "verify_asan_link_order=0"}, wait=20)
    w = Conn(port)
    send(w, "bzpopmax", "k", "0")
    wait_blocked(admin, 1)
    open(arm, "w").close()
    admin.call("zadd", "k", "1", "x")
    r = w.reply()
    check(r[0] == b"-" and r[1].startswith(b"MISCONF"),
          "a pop whose sync failed was acknowledged: %r" % (r,))
    os.unlink(arm)


CHECKS = [(name[5:], fn) for name, fn in sorted(globals().items()) if name.startswith("test_")]


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    return run_checks(CHECKS, only)


if __name__ == "__main__":
    run_main(main)
