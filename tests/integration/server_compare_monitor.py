#!/usr/bin/python3
"""server_compare_monitor.py - MONITOR, RESET, CLIENT KILL's filters and CLIENT
PAUSE/UNPAUSE's replies, byte for byte against redis-server 7.0 as the oracle (RESP2 then
RESP3), both servers with two io threads (a monitor and the client it watches may be on
different loops: several monitors are opened so that some are).

MONITOR: the lines several monitors receive for a fixed sequence of another connection's
commands (timestamps and client addresses masked): quoting of binary bytes, (redacted)
passwords, SELECT's database, the commands Redis does not feed (admin, unknown, wrong
arity, unknown subcommand); a monitor's own commands (its replies and lines
interleaved, keyspace commands refused, a second MONITOR unanswered, flag O); RESET and
QUIT ending it; a unix-socket client's lines ([db unix:path]). RESET: database, name,
protocol, CLIENT REPLY, authentication.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import SERVER, Conn, encode, free_port, oracle_exit, run_oracle  # noqa: E402

FED = [
    ("set", "a", b"b\x00\n\"\\\xc3\xa9\t\r\x07\x08 ~\x7f"), ("get", "a"), ("client", "id"),
    ("client", "list"), ("config", "get", "maxmemory"), ("select", "3"), ("auth", "x"),
    ("auth", "u", "p"), ("hello", "2", "auth", "default", "pw"), ("client", "kill", "id", "99999"),
    ("debug", "help"), ("nosuchcommand",), ("client", "nosuch"), ("get",), ("ping", "1", "2"),
    ("client", "setname", "n1"), ("echo", ""), ("select", "0"), ("incr", "ctr"),
    ("hset", "h", "f", "v"), ("client", "pause", "0"), ("client", "unpause"),
    ("lpush", "l", "x"), ("blpop", "l", "0"), ("echo", "END"),
]
SERVER_SPECIFIC = [("client", "id"), ("client", "list"), ("hello", "2")]
TS = re.compile(rb"^\d+\.\d{6} ")
ADDR = re.compile(rb"\[(\d+) [^\]]*\]")


def port_of(c):
    return c.s.getpeername()[1]


def masked(line):
    t, v = line
    if t != b"+" or not TS.match(v or b""):
        return line
    return (t, ADDR.sub(rb"[\1 ADDR]", TS.sub(b"T ", v)))


def new_conn(port, proto):
    c = Conn(port)
    if proto == 3:
        c.call("hello", "3")
    return c


def lines_until(m, end):
    out = []
    while True:
        r = m.reply()
        out.append(masked(r))
        if end in (r[1] or b""):
            return out


def nothing_pending(c, wait=0.2):
    c.s.settimeout(wait)
    try:
        return not c.s.recv(1, socket.MSG_PEEK)
    except socket.timeout:
        return True
    finally:
        c.s.settimeout(10)


def compare(what, a, b):
    if a == b:
        return 0
    print("DIFF %s\n  shale: %r\n  redis: %r" % (what, a, b))
    return 1


def monitor_feed(shale, redis, proto):
    """The lines 8 monitors get for FED, run by another connection (with two io threads
    some monitors are on the other loop but for a chance of 1 in 256)."""
    out = []
    for c in (shale, redis):
        port = port_of(c)
        mons = [new_conn(port, proto) for _ in range(8)]
        res = [m.call("monitor") for m in mons]
        w = new_conn(port, proto)
        # (ids, CLIENT LIST and HELLO's version differ between the servers: their shape)
        res += [w.call(*cmd) if cmd[:2] not in SERVER_SPECIFIC else w.call(*cmd)[0]
                for cmd in FED]
        res += [lines_until(m, b"END") for m in mons]
        out.append(res)
    return compare("MONITOR lines (RESP%d)" % proto, out[0], out[1])


def monitor_own(shale, redis, proto):
    """A monitor's own commands, MONITOR twice, RESET and QUIT."""
    out = []
    for c in (shale, redis):
        port = port_of(c)
        m = new_conn(port, proto)
        res = [m.call("monitor"), m.call("get", "a"), m.call("set", "a", "1"),
               m.call("ping")]
        res.append(masked(m.reply()))  # its own PING's line, after the +PONG
        info = m.call("client", "info")[1]
        res.append(re.search(rb"flags=(\S+)", info).group(1))
        res.append(masked(m.reply()))  # CLIENT INFO's line
        m.s.sendall(b"*1\r\n$7\r\nmonitor\r\n*1\r\n$4\r\nping\r\n")  # no reply to MONITOR
        res += [m.reply(), masked(m.reply())]
        res.append(m.call("reset"))
        w = new_conn(port, proto)
        w.call("set", "x", "1")
        res.append(m.call("ping"))
        res.append(nothing_pending(m))
        res.append(re.search(rb"flags=(\S+)", m.call("client", "info")[1]).group(1))
        q = new_conn(port, proto)
        res.append(q.call("monitor"))
        w.call("echo", "seen")
        res.append(masked(q.reply()))
        res.append(q.call("quit"))
        rest = []
        try:
            while True:
                rest.append(masked(q.reply()))
        except (EOFError, OSError):
            pass
        res.append(rest)
        out.append(res)
    return compare("MONITOR own commands (RESP%d)" % proto, out[0], out[1])


def reset_state(shale, redis, proto):
    out = []
    for c in (shale, redis):
        port = port_of(c)
        r = new_conn(port, proto)
        res = [r.call("select", "5"), r.call("client", "setname", "nm"), r.call("hello", "3")[0],
               r.call("reset"), r.call("client", "getname")]
        info = r.call("client", "info")[1]
        res.append(re.findall(rb" (db|name|resp|flags)=(\S*)", info))
        r.s.sendall(encode(("client", "reply", "off")))
        res.append(r.call("reset"))  # CLIENT REPLY OFF ended: RESET is answered
        r.s.sendall(b"*3\r\n$6\r\nclient\r\n$5\r\nreply\r\n$4\r\nskip\r\n*1\r\n$5\r\nreset\r\n"
                    b"*1\r\n$4\r\nping\r\n")
        res.append(r.reply())  # the SKIP in force silenced RESET's own reply
        res.append(r.call("config", "set", "requirepass", "pw"))
        res += [r.call("reset"), r.call("get", "x"), r.call("auth", "pw"), r.call("get", "x"),
                r.call("config", "set", "requirepass", ""), r.call("reset"), r.call("get", "x"),
                r.call("reset", "x")]
        out.append(res)
    return compare("RESET (RESP%d)" % proto, out[0], out[1])


KILL_ERRORS = [
    ("client", "kill"), ("client", "kill", "id", "10", "wrong_arg"), ("client", "kill", "id", "str"),
    ("client", "kill", "id", "-1"), ("client", "kill", "id", "0"),
    ("client", "kill", "type", "wrong_type"), ("client", "kill", "user", "wrong_user"),
    ("client", "kill", "skipme", "yes_or_no"), ("client", "kill", "1.2.3.4:5"),
    ("client", "kill", "id", "99999"), ("client", "kill", "type", "master"),
    ("client", "kill", "type", "replica"), ("client", "kill", "type", "slave"),
    ("client", "kill", "type", "pubsub"), ("client", "kill", "addr", "1.2.3.4:5", "skipme", "no"),
    ("client", "kill", "user", "default", "id", "99999"), ("client", "kill", "laddr", "x"),
    ("client", "kill", "id", "1", "type"), ("client", "kill", "TYPE", "NORMAL", "ID", "99999"),
    ("client", "list", "type", "master"), ("client", "list", "type", "replica"),
    ("client", "list", "type", "pubsub"), ("client", "list", "type", "x"),
]


def field(info, name):
    return re.search(rb"\b%s=(\S*)" % name.encode(), info).group(1).decode()


def client_kill(shale, redis, proto):
    out = []
    for c in (shale, redis):
        port = port_of(c)
        k = new_conn(port, proto)
        res = [k.call(*cmd) for cmd in KILL_ERRORS]
        v = [new_conn(port, proto) for _ in range(6)]
        infos = [x.call("client", "info")[1] for x in v]
        res.append(k.call("client", "kill", field(infos[0], "addr")))  # the old form
        res.append(k.call("client", "kill", "id", field(infos[1], "id"), "type", "normal",
                          "user", "default", "skipme", "yes"))
        res.append(k.call("client", "kill", "addr", field(infos[2], "addr"), "laddr",
                          field(infos[2], "laddr")))
        res.append(k.call("client", "kill", "addr", field(infos[3], "addr"), "type", "pubsub"))
        res.append(k.call("client", "kill", "laddr", field(infos[3], "laddr"), "id",
                          field(infos[3], "id"), "skipme", "no"))
        for x in v[:4]:
            try:
                res.append(x.call("ping"))
            except (EOFError, OSError):
                res.append("closed")
        res.append(v[4].call("ping"))
        # every other client of this test's server, monitors included (type normal)
        n = len([ln for ln in k.call("client", "list")[1].split(b"\n") if ln]) - 1
        res.append(k.call("client", "kill", "type", "normal", "skipme", "yes") == (b":", b"%d" % n))
        me = field(k.call("client", "info")[1], "id")
        res.append(k.call("client", "kill", "id", me, "skipme", "no"))  # itself: :1, then closed
        try:
            res.append(k.reply())
        except (EOFError, OSError):
            res.append("closed")
        out.append(res)
    return compare("CLIENT KILL (RESP%d)" % proto, out[0], out[1])


PAUSE_REPLIES = [
    ("client", "pause"), ("client", "pause", "abc"), ("client", "pause", "-1"),
    ("client", "pause", "1.5"), ("client", "pause", "10", "foo"), ("client", "pause", "abc", "foo"),
    ("client", "pause", "100", "write", "x"), ("client", "pause", "0"),
    ("client", "pause", "0", "write"), ("client", "pause", "0", "ALL"), ("client", "unpause"),
    ("client", "unpause", "x"), ("client", "pause", "100000", "write"), ("get", "nokey"),
    ("client", "unpause"), ("set", "p", "1"), ("client", "pause", "20", "all"),
]


def client_pause(shale, redis, proto):
    out = []
    for c in (shale, redis):
        p = new_conn(port_of(c), proto)
        out.append([p.call(*cmd) for cmd in PAUSE_REPLIES])
    return compare("CLIENT PAUSE (RESP%d)" % proto, out[0], out[1])


def per_proto(shale, redis, proto):
    return (monitor_feed(shale, redis, proto) + monitor_own(shale, redis, proto) +
            reset_state(shale, redis, proto) + client_kill(shale, redis, proto) +
            client_pause(shale, redis, proto))


def unix_socket_lines():
    """A unix-socket client's commands read [<db> unix:<socket path>] on both servers."""
    tmp = tempfile.mkdtemp()
    paths = [os.path.join(tmp, n) for n in ("shale.sock", "redis.sock")]
    sp, rp = free_port(), free_port()
    procs = [
        subprocess.Popen([SERVER, "--port", str(sp), "--dir", tmp + "/shale", "--unixsocket",
                          paths[0]], stderr=subprocess.DEVNULL),
        subprocess.Popen(["redis-server", "--port", str(rp), "--save", "", "--appendonly", "no",
                          "--dir", tmp, "--unixsocket", paths[1]], stdout=subprocess.DEVNULL),
    ]
    try:
        out = []
        for port, path in zip((sp, rp), paths):
            for _ in range(100):
                if os.path.exists(path):
                    break
                time.sleep(0.05)
            m = Conn(port)
            m.call("monitor")
            u = Conn.__new__(Conn)
            u.s, u.buf = socket.socket(socket.AF_UNIX), b""
            u.s.connect(path)
            u.s.settimeout(10)
            u.call("select", "2")
            u.call("echo", "END")
            lines = []
            while not lines or b"END" not in lines[-1]:
                lines.append(TS.sub(b"T ", m.reply()[1]).replace(path.encode(), b"PATH"))
            out.append(lines)
        return compare("MONITOR of a unix-socket client", out[0], out[1])
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    diffs = run_oracle(per_proto, extra_args=("--io-threads", "2"))
    if diffs is not None and diffs >= 0:
        diffs += unix_socket_lines()
    return oracle_exit(diffs, "MONITOR, RESET, CLIENT KILL, CLIENT PAUSE")


if __name__ == "__main__":
    sys.exit(main())
