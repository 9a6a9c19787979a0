#!/usr/bin/python3
"""server_script_busy.py - a script past busy-reply-threshold (lua-time-limit), as Redis
7.0: other clients get -BUSY on every io loop (the script's own included) except for what
Redis allows then (SCRIPT KILL, SHUTDOWN NOSAVE, MULTI...); SCRIPT KILL stops a script
that has not written and answers UNKILLABLE once it has; SHUTDOWN NOSAVE stops the server
without committing the script's batch (its writes are absent after a restart, sync-writes
yes); the running client's own pipelined commands wait for its script. The texts are
compared with redis-server 7.0 (the oracle); the rest is shale's.
"""
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode  # noqa: E402
from lib.harness import check, run_checks, run_main, start_redis, start_server  # noqa: E402

LOOP = "while true do end"
WRITE_LOOP = "redis.call('set', KEYS[1], 'from-script'); while true do end"


def send(c, *args):
    c.s.sendall(encode(args))


def wait_busy(port, wait=5):
    """A new connection once a PING on it answers -BUSY."""
    deadline = time.time() + wait
    while time.time() < deadline:
        c = Conn(port)
        r = c.call("ping")
        if r[0] == b"-" and r[1].startswith(b"BUSY"):
            return c
        time.sleep(0.05)
    raise AssertionError("no -BUSY within %ds" % wait)


def nothing_to_read(c, secs=0.3):
    """Whether no byte arrives on c for secs."""
    c.s.settimeout(secs)
    try:
        return not c.buf and not c.s.recv(1, socket.MSG_PEEK)
    except socket.timeout:
        return True
    finally:
        c.s.settimeout(10)


def busy_session(port):
    """What a client sees during and after a busy read-only script, and a writing one
    (the oracle must give the same): the replies in order."""
    out = []
    c = Conn(port)
    c.call("config", "set", "lua-time-limit", "50")
    c.call("set", "k", "v")
    sub = Conn(port)
    sub.call("subscribe", "ch")
    a = Conn(port)
    send(a, "eval", LOOP, "0")
    b = wait_busy(port)
    for cmd in (["get", "k"], ["set", "k", "w"], ["ping"], ["nosuchcmd", "x"], ["get"],
                ["script", "load", "return 1"], ["eval", "return 1", "0"],
                ["shutdown"], ["shutdown", "save"], ["config", "get", "x"],
                ["multi"], ["incr", "k"], ["exec"], ["discard"], ["watch", "k"],
                ["unwatch"], ["hello", "3"], ["ping"], ["get", "k"], ["hello", "2"],
                ["exec"], ["client", "setname", "x"], ["select", "1"]):
        r = b.call(*cmd)
        out.append((cmd, r[0] if cmd[0] == "hello" else r))  # (versions and ids differ)
    b.call("multi")
    out.append(("watch in multi", b.call("watch", "k")))
    out.append(("exec after", b.call("exec")))
    for cmd in (["get", "k"], ["ping"], ["subscribe", "ch2"], ["quit"]):
        out.append((cmd, sub.call(*cmd)))  # RESP2's subscribed mode is checked first
    out.append(("kill", b.call("script", "kill")))
    out.append(("caller", a.reply()))
    out.append(("kill after", b.call("script", "kill")))
    out.append(("get after", b.call("get", "k")))
    # a script that wrote cannot be killed: only SHUTDOWN NOSAVE ends it (the server too)
    send(a, "eval", WRITE_LOOP, "1", "k")
    b = wait_busy(port)
    out.append(("unkillable", b.call("script", "kill")))
    out.append(("still busy", b.call("get", "k")))
    send(b, "shutdown", "nosave")
    try:
        out.append(("shutdown", b.reply()))
    except (OSError, EOFError):
        out.append(("shutdown", "closed"))
    return out


def check_texts_vs_oracle():
    rp, rport, _ = start_redis()
    want = busy_session(rport)
    rp.wait(10)
    p, port, _ = start_server("texts")
    got = busy_session(port)
    p.wait(10)
    for w, g in zip(want, got):
        check(w == g, "%r: redis %r, shale %r" % (w[0], w[1], g[1]))
    check(len(want) == len(got), "lengths")


def check_busy_on_every_loop(threads):
    def run():
        p, port, c = start_server("loops%s" % threads, "--io-threads", threads,
                                  "--lua-time-limit", "50")
        a = Conn(port)
        send(a, "eval", LOOP, "0")
        wait_busy(port)
        # SO_REUSEPORT spreads connections over the loops: 12 reach both (but 2^-11)
        conns = [Conn(port) for _ in range(12)]
        for x in conns:
            r = x.call("get", "k")
            check(r[0] == b"-" and r[1].startswith(b"BUSY"), "not BUSY: %r" % (r,))
        check(conns[5].call("script", "kill") == (b"+", b"OK"), "SCRIPT KILL")
        r = a.reply()
        check(r[0] == b"-" and b"Script killed by user with SCRIPT KILL" in r[1], repr(r))
        for x in conns:
            check(x.call("ping") == (b"+", b"PONG"), "PING after the kill")
        p.kill()
        p.wait()
    return run


def check_own_pipeline_waits():
    """The running client's commands after its EVAL wait for it: nothing comes back to
    it while it is busy, and its PING is answered after the kill's error."""
    p, port, c = start_server("pipe", "--lua-time-limit", "50")
    a = Conn(port)
    a.s.sendall(encode(["eval", LOOP, "0"]) + encode(["ping", "next"]))
    b = wait_busy(port)
    send(a, "incr", "n")  # sent while busy: must run after the script, in order
    check(nothing_to_read(a), "the busy client got a reply before its script ended")
    check(b.call("get", "n") == (b"-", b"BUSY Redis is busy running a script. You can only "
                                 b"call SCRIPT KILL or SHUTDOWN NOSAVE."), "GET while busy")
    check(b.call("script", "kill") == (b"+", b"OK"), "SCRIPT KILL")
    r = a.reply()
    check(r[0] == b"-" and b"killed by user" in r[1], repr(r))
    check(a.reply() == (b"$", b"next"), "the pipelined PING")
    check(a.reply() == (b":", b"1"), "the INCR sent while busy")
    check(b.call("get", "n") == (b"$", b"1"), "INCR ran once")
    p.kill()
    p.wait()


def check_busy_under_load():
    """Clients on both loops keep sending while scripts go busy and are killed, five
    times over: every reply is an INCR's count or -BUSY, and no INCR is lost or doubled
    (each client checks its own counter)."""
    import threading
    p, port, c = start_server("load", "--io-threads", "2", "--lua-time-limit", "20")
    stop, errors, busy = threading.Event(), [], [0]

    def worker(i):
        w = Conn(port)
        n = 0
        while not stop.is_set():
            r = w.call("incr", "n%d" % i)
            if r[0] == b":":
                n += 1
                if int(r[1]) != n:
                    errors.append((i, n, r))
                    return
            elif r[1].startswith(b"BUSY"):
                busy[0] += 1
            else:
                errors.append((i, r))
                return

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for _ in range(5):
        a = Conn(port)
        send(a, "eval", LOOP, "0")
        k = wait_busy(port)
        time.sleep(0.1)
        check(k.call("script", "kill") == (b"+", b"OK"), "SCRIPT KILL")
        check(a.reply()[0] == b"-", "the script's error")
    stop.set()
    for t in threads:
        t.join()
    check(not errors, "bad replies: %r" % errors[:3])
    check(busy[0] > 0, "no -BUSY seen")
    p.kill()
    p.wait()


def check_round_mate_answered():
    """A client whose command ran in the same round of the loop as the script's, just
    before it, is answered while the script is busy (its SET's reply after its write is
    flushed, then -BUSY), not only when the script ends. CLIENT PAUSE puts both in one
    round: they are resumed together by the UNPAUSE."""
    p, port, c = start_server("mate", "--lua-time-limit", "50")
    c.call("client", "pause", "10000", "write")
    x, a = Conn(port), Conn(port)
    send(x, "set", "x", "1")
    time.sleep(0.1)
    send(a, "eval", LOOP, "0")
    time.sleep(0.1)
    send(c, "client", "unpause")
    time.sleep(0.3)
    x.s.settimeout(2)
    try:
        check(x.reply() == (b"+", b"OK"), "SET")
        r = x.call("ping")
        check(r[0] == b"-" and r[1].startswith(b"BUSY"), repr(r))
    finally:
        x.s.settimeout(10)
        check(Conn(port).call("script", "kill") == (b"+", b"OK"), "SCRIPT KILL")
    check(c.reply() == (b"+", b"OK"), "UNPAUSE")
    check(a.reply()[0] == b"-", "the script's error")
    p.kill()
    p.wait()


def check_shutdown_nosave_drops_the_batch():
    """A script that wrote, then loops: UNKILLABLE, and SHUTDOWN NOSAVE ends the server
    without its batch; after a restart its writes are absent and earlier ones present.
    The same for a script inside EXEC: none of EXEC's writes are there."""
    for in_exec in (False, True):
        name = "nosave%d" % in_exec
        p, port, c = start_server(name, "--sync-writes", "yes", "--lua-time-limit", "50",
                                  "--io-threads", "2")
        check(c.call("set", "before", "1") == (b"+", b"OK"), "SET")
        a = Conn(port)
        if in_exec:
            a.call("multi")
            a.call("set", "queued", "1")
            a.call("eval", WRITE_LOOP, "1", "x")
            send(a, "exec")
        else:
            send(a, "eval", WRITE_LOOP, "1", "x")
        b = wait_busy(port)
        r = b.call("script", "kill")
        check(r[0] == b"-" and r[1].startswith(b"UNKILLABLE Sorry the script already"), repr(r))
        send(b, "shutdown", "nosave")
        try:
            r = b.reply()
            check(False, "a reply to SHUTDOWN NOSAVE: %r" % (r,))
        except (OSError, EOFError):
            pass
        check(p.wait(10) == 0, "exit status")
        p, port, c = start_server(name, "--sync-writes", "yes")
        check(c.call("get", "before") == (b"$", b"1"), "an acknowledged write lost")
        check(c.call("get", "x") == (b"$", None), "the script's write survived")
        check(c.call("get", "queued") == (b"$", None), "EXEC's write survived")
        p.kill()
        p.wait()


def check_script_in_exec_killed():
    """EXEC running a busy script: SCRIPT KILL ends the script (its error in EXEC's
    array) and EXEC's other commands run, as Redis."""
    p, port, c = start_server("exec", "--lua-time-limit", "50", "--io-threads", "2")
    a = Conn(port)
    a.call("multi")
    a.call("set", "a", "1")
    a.call("eval", LOOP, "0")
    a.call("set", "b", "2")
    send(a, "exec")
    b = wait_busy(port)
    check(b.call("script", "kill") == (b"+", b"OK"), "SCRIPT KILL")
    t, items = a.reply()
    check(t == b"*" and len(items) == 3 and items[0] == (b"+", b"OK") and
          items[1][0] == b"-" and items[2] == (b"+", b"OK"), repr(items))
    check(b.call("mget", "a", "b")[1] == [(b"$", b"1"), (b"$", b"2")], "EXEC's writes")
    p.kill()
    p.wait()


def main():
    return run_checks([
        ("texts_vs_oracle", check_texts_vs_oracle),
        ("busy_one_loop", check_busy_on_every_loop("1")),
        ("busy_two_loops", check_busy_on_every_loop("2")),
        ("own_pipeline_waits", check_own_pipeline_waits),
        ("round_mate_answered", check_round_mate_answered),
        ("busy_under_load", check_busy_under_load),
        ("shutdown_nosave_drops_the_batch", check_shutdown_nosave_drops_the_batch),
        ("script_in_exec_killed", check_script_in_exec_killed),
    ], os.environ.get("SHALE_TEST_FILTER"))


if __name__ == "__main__":
    run_main(main)
