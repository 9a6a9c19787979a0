#!/usr/bin/python3
"""server_pause.py - CLIENT PAUSE and UNPAUSE as Redis 7.0 holds clients: WRITE holds
the commands that may write and lets reads run, ALL holds everything (a monitor is never
held), errors found before running (arity, unknown command) answer at once; the timeout
ends the pause, and so does UNPAUSE; held commands, and what their clients pipelined
behind them, run in arrival order afterwards; a held client shows flag b and counts in
INFO blocked_clients; expired keys are not deleted meanwhile (expired_keys unchanged, the
key reads as absent); no CPU is spent while clients are held (the loops' timers, no
polling). With one io thread and with two (held clients of several loops).
The scenarios also run on redis-server 7.0 when it is installed: their expectations are
its.

Run: tests/integration/server_pause.py [name-substring]
"""
import os
import shutil
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode  # noqa: E402
from lib.harness import check, run_checks, run_main, start_redis, start_server  # noqa: E402

PORTS = {}
PROCS = {}


def server(threads=1):
    if threads not in PORTS:
        p, port, _ = start_server("data%d" % threads, "--io-threads", str(threads),
                                  "--sync-writes", "no")
        PORTS[threads], PROCS[threads] = port, p
    return reset(Conn(PORTS[threads]))


def reset(c):
    c.call("client", "unpause")
    c.call("flushall")
    return c


def send(c, *args):
    c.s.sendall(encode(args))


def pending(c, wait=0.3):
    """Whether a reply is waiting on c (within `wait` seconds)."""
    c.s.settimeout(wait)
    try:
        return bool(c.buf) or bool(c.s.recv(1, socket.MSG_PEEK))
    except socket.timeout:
        return False
    finally:
        c.s.settimeout(10)


def info_field(c, name):
    text = c.call("info")[1].decode()
    return int(text.split(name + ":")[1].split("\r\n")[0])


def wait_blocked(c, n, timeout=5):
    end = time.time() + timeout
    while time.time() < end:
        if info_field(c, "blocked_clients") == n:
            return
        time.sleep(0.01)
    raise AssertionError("blocked_clients is %d, not %d" % (info_field(c, "blocked_clients"), n))


def write_pause_holds_writes(port_of):
    c = port_of()
    c.call("set", "k", "v")
    check(c.call("client", "pause", "100000", "write") == (b"+", b"OK"), "pause write")
    w, r = Conn(c.port), Conn(c.port)
    send(w, "set", "k", "new")
    wait_blocked(c, 1)
    check(not pending(w), "a write ran during a WRITE pause")
    check(r.call("get", "k") == (b"$", b"v"), "a read was held")
    check(r.call("ping") == (b"+", b"PONG"), "PING was held")
    check(r.call("set", "k") == (b"-", b"ERR wrong number of arguments for 'set' command"),
          "an arity error waited")
    flags = [ln for ln in r.call("client", "list")[1].decode().split("\n") if " cmd=" in ln
             and "flags=b" in ln]
    check(len(flags) == 1, "CLIENT LIST shows %d clients with flags=b" % len(flags))
    check(" cmd=set " in flags[0], "the held client's cmd: %s" % flags[0])
    check(c.call("client", "unpause") == (b"+", b"OK"), "unpause")
    check(w.reply() == (b"+", b"OK"), "the held SET did not run")
    check(r.call("get", "k") == (b"$", b"new"), "the held SET did not write")
    check(info_field(c, "blocked_clients") == 0, "still blocked")


def write_pause_holds_exec_of_writes(port_of):
    """EXEC of a queue holding a write is a write (Redis reads the queue's flags); EXEC of
    reads runs."""
    c = port_of()
    c.call("set", "k", "v")
    w, r = Conn(c.port), Conn(c.port)
    for conn, cmd in ((w, ("set", "k", "new")), (r, ("get", "k"))):
        check(conn.call("multi") == (b"+", b"OK"), "multi")
        check(conn.call(*cmd) == (b"+", b"QUEUED"), "queued")
    check(c.call("client", "pause", "100000", "write") == (b"+", b"OK"), "pause write")
    send(w, "exec")
    wait_blocked(c, 1)
    check(not pending(w), "EXEC of a SET ran during a WRITE pause")
    check(r.call("exec") == (b"*", [(b"$", b"v")]), "EXEC of a GET was held")
    check(c.call("client", "unpause") == (b"+", b"OK"), "unpause")
    check(w.reply() == (b"*", [(b"+", b"OK")]), "the held EXEC did not run")
    check(c.call("get", "k") == (b"$", b"new"), "the held EXEC did not write")


RO_BODY = "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])"
LIB = ("#!lua name=pauselib\n"
       "redis.register_function{function_name='ro', callback=function(k) "
       "return redis.call('get', k[1]) end, flags={'no-writes'}}\n"
       "redis.register_function('rw', function(k, a) return redis.call('set', k[1], a[1]) end)")


def write_pause_scripts(port_of):
    """Redis reads a script's declared flags before it runs (evalGetCommandFlags,
    fcallGetCommandFlags): a WRITE pause lets run the read-only calls (EVAL of a
    no-writes shebang, EVALSHA of a cached one, the _RO commands, FCALL of a no-writes
    function) and holds the rest: EVAL without a shebang (may replicate), a shebang
    without no-writes, an unknown SHA, FCALL of a function that may write, and EXEC of
    a queue holding any of these or a PUBLISH."""
    c = port_of()
    c.call("set", "k", "v")
    c.call("function", "load", "replace", LIB)
    ro_sha = c.call("script", "load", RO_BODY)[1]
    plain_sha = c.call("script", "load", "return redis.call('get', KEYS[1])")[1]
    writing = [("eval", "return redis.call('get', KEYS[1])", "1", "k"),
               ("eval", "#!lua\nreturn redis.call('get', KEYS[1])", "1", "k"),
               ("evalsha", plain_sha, "1", "k"),
               ("evalsha", "f" * 40, "1", "k"),
               ("fcall", "rw", "1", "w", "x")]
    queued = [[("publish", "ch", "m")], [("eval", "return 1", "0")],
              [("get", "k"), ("fcall", "rw", "1", "w", "y")]]
    tx = []
    for cmds in queued:
        t = Conn(c.port)
        t.call("multi")
        for cmd in cmds:
            check(t.call(*cmd) == (b"+", b"QUEUED"), "queued %r" % (cmd,))
        tx.append(t)
    check(c.call("client", "pause", "100000", "write") == (b"+", b"OK"), "pause write")
    r = Conn(c.port)
    v = (b"$", b"v")
    check(r.call("eval", RO_BODY, "1", "k") == v, "EVAL of a no-writes script was held")
    check(r.call("evalsha", ro_sha, "1", "k") == v, "EVALSHA of a no-writes script was held")
    check(r.call("eval_ro", "return redis.call('get', KEYS[1])", "1", "k") == v, "EVAL_RO")
    check(r.call("evalsha_ro", plain_sha, "1", "k") == v, "EVALSHA_RO was held")
    check(r.call("fcall_ro", "ro", "1", "k") == v, "FCALL_RO was held")
    check(r.call("fcall", "ro", "1", "k") == v, "FCALL of a no-writes function was held")
    ro_tx = Conn(c.port)
    ro_tx.call("multi")
    ro_tx.call("eval", RO_BODY, "1", "k")
    ro_tx.call("fcall", "ro", "1", "k")
    check(ro_tx.call("exec") == (b"*", [v, v]), "EXEC of no-writes scripts was held")
    held = []
    for cmd in writing:
        w = Conn(c.port)
        send(w, *cmd)
        held.append(w)
    for t in tx:
        send(t, "exec")
    wait_blocked(c, len(writing) + len(tx))
    check(not any(pending(w, 0.1) for w in held + tx), "a call that may write ran")
    check(c.call("client", "unpause") == (b"+", b"OK"), "unpause")
    want = [v, v, v, (b"-", b"NOSCRIPT No matching script. Please use EVAL."), (b"+", b"OK")]
    for w, cmd, exp in zip(held, writing, want):
        got = w.reply()
        check(got == exp, "held %r answered %r" % (cmd[:2], got))
    for t in tx:
        check(t.reply()[0] == b"*", "a held EXEC")


def all_pause_holds_everything(port_of):
    c = port_of()
    c.call("set", "k", "v")
    # every command is held (INFO, MONITOR, UNPAUSE too) but a monitor's
    m = Conn(c.port)
    check(m.call("monitor") == (b"+", b"OK"), "monitor")
    check(c.call("client", "pause", "100000", "all") == (b"+", b"OK"), "pause all")
    r, p = Conn(c.port), Conn(c.port)
    send(r, "get", "k")
    send(p, "ping")
    check(not pending(r, 0.5) and not pending(p), "a command ran during an ALL pause")
    unpauser = Conn(c.port)
    check(m.call("ping") == (b"+", b"PONG"), "a monitor was held")
    m.reply()  # its PING's line
    check(m.call("client", "unpause") == (b"+", b"OK"), "a monitor's unpause")
    check(r.reply() == (b"$", b"v") and p.reply() == (b"+", b"PONG"), "held commands")
    check(unpauser.call("ping") == (b"+", b"PONG"), "after the pause")


def idle_timeout_spares_held(port_of):
    """A held client is not idle (timeout closes idle clients, not waiting ones)."""
    c = port_of()
    c.call("config", "set", "timeout", "1")
    try:
        c.call("client", "pause", "100000", "write")
        w = Conn(c.port)
        send(w, "set", "k", "v")
        for _ in range(6):  # the pausing client stays active
            time.sleep(0.4)
            c.call("ping")
        c.call("client", "unpause")
        check(w.reply() == (b"+", b"OK"), "the held client was closed as idle")
    finally:
        c.call("config", "set", "timeout", "0")


def timeout_ends_pause(port_of):
    c = port_of()
    t0 = time.time()
    check(c.call("client", "pause", "400", "write") == (b"+", b"OK"), "pause")
    w = Conn(c.port)
    send(w, "set", "k", "v")
    check(w.reply() == (b"+", b"OK"), "the held SET")
    took = time.time() - t0
    check(0.35 <= took < 1.5, "the held SET answered after %.3f s of a 0.4 s pause" % took)
    check(c.call("get", "k") == (b"$", b"v"), "value")


def held_run_in_order(port_of):
    c = port_of()
    c.call("client", "pause", "100000", "write")
    clients = [Conn(c.port) for _ in range(6)]
    for i, w in enumerate(clients):
        send(w, "rpush", "order", str(i))
        wait_blocked(c, i + 1)
    # one pipelines a write, a read and another write behind the held one
    p = Conn(c.port)
    p.s.sendall(encode(("rpush", "order", "p1")) + encode(("lrange", "order", "0", "-1")) +
                encode(("rpush", "order", "p2")))
    wait_blocked(c, 7)
    check(not pending(p), "a pipelined read overtook the held write")
    c.call("client", "unpause")
    for i, w in enumerate(clients):
        check(w.reply() == (b":", str(i + 1).encode()), "client %d's RPUSH" % i)
    check(p.reply() == (b":", b"7"), "the pipeline's first RPUSH")
    check(p.reply()[0] == b"*" and p.reply() == (b":", b"8"), "the pipeline's rest")
    got = [v for _, v in c.call("lrange", "order", "0", "-1")[1]]
    want = [str(i).encode() for i in range(6)] + [b"p1", b"p2"]
    check(got == want, "order %r" % got)


def held_all_clients_resume(port_of):
    """With several loops each takes its own held clients: all of them run."""
    c = port_of()
    c.call("client", "pause", "100000", "write")
    clients = [Conn(c.port) for _ in range(12)]
    for i, w in enumerate(clients):
        send(w, "incr", "n")
    wait_blocked(c, 12)
    c.call("client", "unpause")
    got = sorted(int(w.reply()[1]) for w in clients)
    check(got == list(range(1, 13)), "INCR replies %r" % got)


def expiry_waits(port_of):
    c = port_of()
    before = info_field(c, "expired_keys")
    c.call("set", "e", "v", "px", "150")
    c.call("client", "pause", "100000", "write")
    time.sleep(0.5)  # past the TTL, through several cron cycles
    check(c.call("get", "e") == (b"$", None), "an expired key read as present")
    check(c.call("exists", "e") == (b":", b"0"), "EXISTS")
    check(info_field(c, "expired_keys") == before, "a key expired while paused")
    c.call("client", "unpause")
    c.call("get", "e")
    check(info_field(c, "expired_keys") == before + 1, "the key never expired after the pause")


def expiry_resumes_after_lapse(port_of):
    """A pause that ends by its timeout, with no command to notice, lets expiry go on."""
    c = port_of()
    before = info_field(c, "expired_keys")
    c.call("set", "e", "v", "px", "100")
    c.call("client", "pause", "200", "write")
    time.sleep(1.5)  # no command meanwhile: the cron ends the pause and expires the key
    check(info_field(c, "expired_keys") == before + 1, "the key did not expire after the pause")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def no_spin_while_held(port_of, pid):
    c = port_of()
    c.call("client", "pause", "1500", "all")
    ws = [Conn(c.port) for _ in range(4)]
    for w in ws:
        send(w, "ping")
    cpu0, t0 = cpu_seconds(pid), time.time()
    for w in ws:
        check(w.reply() == (b"+", b"PONG"), "held PING")
    cpu, wall = cpu_seconds(pid) - cpu0, time.time() - t0
    check(wall > 1.0, "the pause ended after %.2f s" % wall)
    check(cpu < 0.15, "%.2f s of CPU over %.2f s of pause" % (cpu, wall))


def make_checks():
    def on(threads):
        def port_of():
            c = server(threads)
            c.port = PORTS[threads]
            return c
        return port_of

    checks = []
    for threads in (1, 2):
        p = on(threads)
        checks += [
            ("write_pause_holds_writes_t%d" % threads, lambda p=p: write_pause_holds_writes(p)),
            ("all_pause_holds_everything_t%d" % threads, lambda p=p: all_pause_holds_everything(p)),
            ("write_pause_holds_exec_of_writes_t%d" % threads,
             lambda p=p: write_pause_holds_exec_of_writes(p)),
            ("write_pause_scripts_t%d" % threads, lambda p=p: write_pause_scripts(p)),
            ("timeout_ends_pause_t%d" % threads, lambda p=p: timeout_ends_pause(p)),
            ("idle_timeout_spares_held_t%d" % threads, lambda p=p: idle_timeout_spares_held(p)),
            ("held_all_clients_resume_t%d" % threads, lambda p=p: held_all_clients_resume(p)),
            ("expiry_waits_t%d" % threads, lambda p=p: expiry_waits(p)),
            ("expiry_resumes_after_lapse_t%d" % threads,
             lambda p=p: expiry_resumes_after_lapse(p)),
            ("no_spin_while_held_t%d" % threads,
             lambda p=p, t=threads: no_spin_while_held(p, server(t) and PROCS[t].pid)),
        ]
    # strict arrival order across clients: one loop (with two, each loop keeps its own)
    checks.append(("held_run_in_order_t1", lambda: held_run_in_order(on(1))))
    return checks


def redis_checks():
    """The same scenarios on redis-server 7.0: the expectations are its."""
    _, port, _ = start_redis()

    def port_of():
        c = reset(Conn(port))
        c.port = port
        return c

    return [("redis_" + f.__name__, lambda f=f: f(port_of)) for f in
            (write_pause_holds_writes, write_pause_holds_exec_of_writes, write_pause_scripts,
             all_pause_holds_everything, timeout_ends_pause,
             idle_timeout_spares_held,
             held_run_in_order, held_all_clients_resume, expiry_waits,
             expiry_resumes_after_lapse)]


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    checks = make_checks()
    if shutil.which("redis-server"):
        checks = redis_checks() + checks
    return run_checks(checks, only)


if __name__ == "__main__":
    run_main(main)
