#!/usr/bin/python3
"""server_robust.py - shale-server under the inputs and limits a real deployment sees:
deep pipelines, input fed byte by byte, malformed and oversize requests (compared with
redis-server's replies), 1000 connections at once, maxclients, requirepass and AUTH,
a unix socket, idle timeout, active expiry, redis-cli --pipe, CONFIG SET/REWRITE,
SHUTDOWN and restart, a write stall answered with -BUSY while reads go on, and
redis-py as a client. Each check prints its name; exit 1 on the first failure.
"""
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode, free_port  # noqa: E402
from lib.harness import (SERVER, TMP, check, run_checks, run_main, spawn,  # noqa: E402
                         start_redis, start_server, wait_up)


def start(name, *args, port=None):
    p, port, c = start_server(name, *args, port=port)
    c.s.close()
    return p, port


def raw_exchange(port, data, chunk=None, wait=0.3):
    """Sends data (in chunks of `chunk` bytes when given) and returns every byte the
    server sent until it closed or went quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if chunk:
        for i in range(0, len(data), chunk):
            s.sendall(data[i:i + chunk])
            if i % 64 == 0:
                time.sleep(0.0005)
    else:
        s.sendall(data)
    out = b""
    s.settimeout(wait)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except socket.timeout:
        pass
    s.close()
    return out


def test_pipeline_and_bytewise(port, rport):
    reqs = b"".join(encode(["set", "p%d" % i, "v%d" % i]) + encode(["get", "p%d" % i])
                    for i in range(5000))
    want = b"".join(b"+OK\r\n$%d\r\nv%d\r\n" % (len(b"v%d" % i), i) for i in range(5000))
    got = raw_exchange(port, reqs, wait=2)
    check(got == want, "10000 pipelined commands: %d of %d bytes right" % (len(got), len(want)))
    mixed = (encode(["set", "bw", "x" * 300]) + b"PING\r\n" + encode(["get", "bw"]) +
             b"echo 'inline arg'\r\n" + encode(["incr", "bwc"]) * 3)
    a = raw_exchange(port, mixed, chunk=1, wait=1)
    b = raw_exchange(rport, mixed, chunk=1, wait=1)
    check(a == b, "byte-by-byte input: %r vs redis %r" % (a, b))


MALFORMED = [
    b"*1\r\n$x\r\nPING\r\n",               # bad bulk length
    b"*x\r\n",                             # bad multibulk length
    b"*2\r\n$3\r\nGET\r\n:1\r\n",           # not a bulk string
    b"*1\r\n$-5\r\n",                      # negative bulk length
    b"*1\r\n$536870913\r\n",               # bulk over proto-max-bulk-len
    b"*2147483648\r\n",                    # too many arguments
    b"echo \"unbalanced\r\n",              # inline with unbalanced quotes
    b"x" * (70 * 1024),                    # inline request with no newline, too big
]


def test_malformed(port, rport):
    for m in MALFORMED:
        a = raw_exchange(port, encode(["ping"]) + m, wait=1)
        b = raw_exchange(rport, encode(["ping"]) + m, wait=1)
        check(a == b, "malformed %r: shale %r, redis %r" % (m[:40], a[:200], b[:200]))
    check(Conn(port).call("ping") == (b"+", b"PONG"), "server serves after malformed input")


def test_thousand_clients(port):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    conns = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(1000)]
    for i, s in enumerate(conns):
        s.sendall(encode(["set", "c%d" % i, str(i)]) + encode(["get", "c%d" % i]))
    for i, s in enumerate(conns):
        want = b"+OK\r\n$%d\r\n%d\r\n" % (len(str(i)), i)
        got = b""
        while len(got) < len(want):
            d = s.recv(4096)
            check(d, "client %d closed early" % i)
            got += d
        check(got == want, "client %d: %r" % (i, got))
    info = Conn(port).call("info", "clients")[1].decode()
    n = int(info.split("connected_clients:")[1].split("\r\n")[0])
    check(n >= 1000, "connected_clients %d with 1000 open" % n)
    for s in conns:
        s.close()


def test_output_limit(port):
    c = Conn(port)
    check(c.call("config", "set", "client-output-buffer-limit", "normal 1mb 512kb 10") ==
          (b"+", b"OK"), "config set client-output-buffer-limit")
    c.call("set", "big", "x" * 200000)
    slow = socket.create_connection(("127.0.0.1", port))
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    slow.sendall(encode(["get", "big"]) * 100)  # 20 MB of replies, and no reading
    time.sleep(1.0)
    got = 0
    slow.settimeout(5)
    try:
        while True:
            d = slow.recv(1 << 20)
            if not d:
                break
            got += len(d)
    except (socket.timeout, ConnectionResetError):
        pass
    check(got < 100 * 200000, "a client over the hard output limit is disconnected (%d bytes)"
          % got)
    check(c.call("config", "set", "client-output-buffer-limit", "normal 0 0 0") == (b"+", b"OK"),
          "limit off again")
    check(c.call("ping") == (b"+", b"PONG"), "other clients carry on")


def test_maxclients(port):
    c = Conn(port)
    before = c.call("config", "get", "maxclients")[1][1][1]  # (clamped to ulimit -n)
    check(c.call("config", "set", "maxclients", "3") == (b"+", b"OK"), "config set maxclients")
    time.sleep(0.2)  # the 1000 closed connections of the previous test go away
    extra = [socket.create_connection(("127.0.0.1", port)) for _ in range(4)]
    time.sleep(0.2)
    refused = 0
    for s in extra:
        s.settimeout(0.5)
        try:
            if s.recv(100).startswith(b"-ERR max number of clients reached"):
                refused += 1
        except socket.timeout:
            pass
    check(refused >= 2, "connections over maxclients refused (%d)" % refused)
    for s in extra:
        s.close()
    time.sleep(0.1)
    check(c.call("config", "set", "maxclients", before) == (b"+", b"OK"), "maxclients back")


def test_auth_unix_timeout():
    sock = os.path.join(TMP, "shale.sock")
    p, port = start("auth", "--requirepass", "s3cret", "--unixsocket", sock,
                    "--unixsocketperm", "700", "--timeout", "1")
    c = Conn(port)
    check(c.call("get", "a")[0] == b"-" and c.call("get", "a")[1].startswith(b"NOAUTH"),
          "NOAUTH before AUTH")
    check(c.call("auth", "wrong")[1].startswith(b"WRONGPASS"), "wrong password")
    check(raw_exchange(port, b"*11\r\n") ==
          b"-ERR Protocol error: unauthenticated multibulk length\r\n",
          "unauthenticated clients get Redis's small request limits")
    check(c.call("auth", "s3cret") == (b"+", b"OK"), "auth")
    check(c.call("set", "a", "1") == (b"+", b"OK"), "command after auth")
    h = Conn(port)
    r = h.call("hello", "3", "auth", "default", "s3cret", "setname", "me")
    check(r[0] == b"%" and (b"$", b"proto") in r[1], "HELLO 3 AUTH: %r" % (r,))
    check(h.call("client", "getname") == (b"$", b"me"), "SETNAME through HELLO")
    u = socket.socket(socket.AF_UNIX)
    u.connect(sock)
    u.sendall(encode(["auth", "s3cret"]) + encode(["get", "a"]))
    time.sleep(0.2)
    check(u.recv(100) == b"+OK\r\n$1\r\n1\r\n", "unix socket")
    check(oct(os.stat(sock).st_mode & 0o777) == "0o700", "unixsocketperm")
    idle = socket.create_connection(("127.0.0.1", port))
    time.sleep(2.5)  # timeout 1: the idle connection is closed
    idle.settimeout(1)
    try:
        closed = idle.recv(10) == b""
    except OSError:
        closed = True
    check(closed, "idle client closed after timeout")
    p.kill()
    p.wait()


def test_expiry_and_pipe(port):
    c = Conn(port)
    c.call("select", "5")
    # TTLs long enough that 102 round trips on a loaded machine finish before the first
    # expires (at 100 ms the count raced the clock and failed under load)
    for i in range(100):
        c.call("set", "e%d" % i, "v", "px", "1000")
    c.call("hset", "eh", "f", "v")
    c.call("pexpire", "eh", "1000")
    check(c.call("dbsize") == (b":", b"101"), "dbsize counts keys with a TTL")
    time.sleep(2.5)  # nothing touches them: the active expire cycle must reap them
    check(c.call("dbsize") == (b":", b"0"), "active expiry reaped every key")
    info = c.call("info", "stats")[1].decode()
    check(int(info.split("expired_keys:")[1].split("\r\n")[0]) >= 101, "expired_keys counted")
    c.call("select", "0")
    # redis-cli --pipe: mass insert
    data = b"".join(encode(["set", "pipe%d" % i, "v"]) for i in range(20000))
    r = subprocess.run(["redis-cli", "-p", str(port), "-n", "6", "--pipe"], input=data,
                       capture_output=True)
    check(b"errors: 0, replies: 20000" in r.stdout, "redis-cli --pipe: %r" % r.stdout[-200:])
    c.call("select", "6")
    check(c.call("dbsize") == (b":", b"20000"), "dbsize after --pipe")
    # SET NX PX as a lock
    check(c.call("set", "lock", "a", "nx", "px", "300") == (b"+", b"OK"), "lock taken")
    check(c.call("set", "lock", "b", "nx", "px", "300")[1] is None, "lock held")
    time.sleep(0.4)
    check(c.call("set", "lock", "b", "nx", "px", "300") == (b"+", b"OK"), "lock after expiry")


def test_config_and_shutdown():
    conf = os.path.join(TMP, "shale.conf")
    port = free_port()
    with open(conf, "w") as f:
        f.write("# test\nport %d\ndir %s\nsync-writes yes\nsave \"\"\n" %
                (port, os.path.join(TMP, "conf")))
    p = spawn([SERVER, conf], "conf.log")
    c = wait_up(port)
    check(c.call("config", "set", "write-stall-timeout-ms", "250", "slowlog-max-len", "5") ==
          (b"+", b"OK"), "config set engine option")
    check(c.call("config", "get", "write-stall-timeout-ms")[1][1] == (b"$", b"250"),
          "config get after set")
    check(c.call("config", "set", "port", "1")[1].endswith(b"can't set immutable config"),
          "immutable option")
    check(c.call("config", "rewrite") == (b"+", b"OK"), "config rewrite")
    example = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                           "shale.conf.example")
    documented = {line.split()[0] for line in open(example)
                  if line.strip() and not line.startswith("#")}
    # per-database families are documented once, as "#   db<N>-name ...", and Redis's
    # old names of options as "#   alias old = new"
    for line in open(example):
        m = re.match(r"#\s+db<N>-(\S+)", line)
        if m:
            documented |= {"db%d-%s" % (n, m.group(1)) for n in range(16)}
        m = re.match(r"#\s+alias (\S+) = (\S+)", line)
        if m and m.group(2) in documented:
            documented.add(m.group(1))
    names = set(x[1].decode() for x in c.call("config", "get", "*")[1][0::2])
    check(names <= documented, "options missing from shale.conf.example: %s"
          % sorted(names - documented))
    check("write-stall-timeout-ms 250" in open(conf).read(), "rewritten file")
    c.call("set", "persisted", "yes")
    c.call("hset", "ph", "a", "1", "b", "2")
    c.s.sendall(encode(["shutdown"]))
    check(p.wait(timeout=10) == 0, "SHUTDOWN exits 0")
    p = spawn([SERVER, conf], "conf2.log")
    c = wait_up(port)
    check(c.call("get", "persisted") == (b"$", b"yes"), "data after restart")
    check(c.call("hlen", "ph") == (b":", b"2"), "hash after restart")
    check(c.call("dbsize") == (b":", b"2"), "dbsize after restart")
    check(c.call("config", "get", "write-stall-timeout-ms")[1][1] == (b"$", b"250"),
          "rewritten option read back")
    p.terminate()
    check(p.wait(timeout=10) == 0, "SIGTERM exits 0")


def test_stall_busy():
    p, port = start("stall", "--memtable-size", "65536", "--l0-compaction-trigger", "1",
                    "--l0-slowdown-trigger", "2", "--l0-stop-trigger", "3",
                    "--compaction-rate-limit", "1024", "--write-stall-timeout-ms", "200",
                    "--sync-writes", "no")
    c = Conn(port)
    busy = None
    val = "v" * 1000
    for i in range(5000):
        r = c.call("set", "k%d" % i, val)
        if r[0] == b"-":
            busy = r[1]
            break
    check(busy is not None and busy.startswith(b"BUSY shale write stall (") and
          busy.endswith(b"), retry later"), "stalled write gets -BUSY: %r" % busy)
    check(c.call("get", "k0") == (b"$", val.encode()), "reads go on during the stall")
    info = c.call("info", "stats")[1].decode()
    check(int(info.split("write_stall_rejections:")[1].split("\r\n")[0]) >= 1, "INFO counts it")
    p.kill()
    p.wait()


def test_redis_py(port):
    try:
        import redis
    except ImportError:
        print("  (python3-redis missing: skipped)")
        return
    r = redis.Redis(port=port, decode_responses=True)
    r.select(7) if hasattr(r, "select") else None
    r = redis.Redis(port=port, db=7, decode_responses=True)
    for i in range(3000):
        r.set("s%d" % i, i)
    check(set(r.scan_iter(count=100)) == {"s%d" % i for i in range(3000)}, "scan_iter sees all")
    r.hset("user:1", mapping={"name": "ada", "cash": "10"})
    check(r.hgetall("user:1") == {"name": "ada", "cash": "10"}, "hgetall mapping")
    check(r.hincrbyfloat("user:1", "cash", 2.5) == 12.5, "hincrbyfloat")
    for i in range(500):
        r.hset("big", "f%d" % i, i)
    check(dict(r.hscan_iter("big", count=50)) == {"f%d" % i: str(i) for i in range(500)},
          "hscan_iter sees all")
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.incr("ctr")
    check(pipe.execute()[-1] == 100, "pipeline")
    check(r.info()["redis_version"] >= "7.0.0", "INFO redis_version")
    check(r.dbsize() == 3003, "dbsize %d" % r.dbsize())


def main():
    if not shutil.which("redis-server"):
        print("skip: redis-server missing")
        return 77
    p, port = start("main")
    _, rport, r = start_redis()
    r.s.close()
    tests = [("pipelines and byte-by-byte input", lambda: test_pipeline_and_bytewise(port, rport)),
             ("malformed and oversize input", lambda: test_malformed(port, rport)),
             ("1000 connections", lambda: test_thousand_clients(port)),
             ("maxclients", lambda: test_maxclients(port)),
             ("client-output-buffer-limit", lambda: test_output_limit(port)),
             ("requirepass, unix socket, timeout", test_auth_unix_timeout),
             ("active expiry, --pipe, SET NX PX lock", lambda: test_expiry_and_pipe(port)),
             ("CONFIG SET/REWRITE, SHUTDOWN, restart", test_config_and_shutdown),
             ("write stall -> -BUSY", test_stall_busy),
             ("redis-py", lambda: test_redis_py(port))]
    return run_checks(tests)


if __name__ == "__main__":
    run_main(main)
