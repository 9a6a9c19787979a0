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

Run: tests/integration/server_blocking.py [name-substring]
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode  # noqa: E402
from lib.harness import BUILD, TMP, check, run_checks, run_main, start_server  # noqa: E402

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


CHECKS = [(name[5:], fn) for name, fn in sorted(globals().items()) if name.startswith("test_")]


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    return run_checks(CHECKS, only)


if __name__ == "__main__":
    run_main(main)
