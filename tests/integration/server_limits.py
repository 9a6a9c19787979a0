#!/usr/bin/python3
"""server_limits.py - what an unauthenticated or hostile peer can make shale-server do
(issue 15, items 17 to 20): DEBUG is refused unless enable-debug-command allows it, and
DEBUG SLEEP takes only finite sleeps; the metrics endpoint listens on 127.0.0.1 unless
metrics-bind says otherwise; a client that never authenticates and never reads cannot
make the server hold its replies; at the fd limit the accept loop backs off instead of
spinning, maxclients is clamped to what RLIMIT_NOFILE allows, and metrics-port
connections are limited and closed when idle.

Each check prints its name; exit 1 when any failed. The non-loopback checks need an
address of this machine other than 127.0.0.1 (skipped without one).
"""
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode, free_port  # noqa: E402
from lib.harness import TMP, check, run_checks, run_main, start_server  # noqa: E402

DEBUG_REFUSED = (b"ERR DEBUG command not allowed. If the enable-debug-command option is set "
                 b"to \"local\", you can run it from a local connection, otherwise you need to "
                 b"set this option in the configuration file, and then restart the server.")


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def other_address():
    """An IPv4 address of this machine that is not loopback, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a source address
        addr = s.getsockname()[0]
    except OSError:
        return None
    finally:
        s.close()
    return None if addr.startswith("127.") else addr


# ---- #20 DEBUG ----

def test_debug_command_refused_by_default():
    p, port, c = start_server("dbg-default")
    try:
        r = c.call("debug", "sleep", "0")
        check(r == (b"-", DEBUG_REFUSED), "DEBUG SLEEP 0 with the defaults: %r" % (r,))
        r = c.call("config", "get", "enable-debug-command")
        check(r == (b"*", [(b"$", b"enable-debug-command"), (b"$", b"no")]),
              "CONFIG GET enable-debug-command: %r" % (r,))
        r = c.call("config", "set", "enable-debug-command", "yes")
        check(r[0] == b"-" and b"can't set immutable config" in r[1],
              "CONFIG SET enable-debug-command: %r" % (r,))
        r = c.call("debug", "sleep", "0")
        check(r == (b"-", DEBUG_REFUSED), "still refused after the CONFIG SET: %r" % (r,))
    finally:
        stop(p)


def test_debug_command_local():
    addr = other_address()
    if not addr:
        print("     (no non-loopback address: the remote half is skipped)")
    p, port, c = start_server("dbg-local", "--enable-debug-command", "local", "--bind",
                              "127.0.0.1" + (" " + addr if addr else ""), "--protected-mode", "no")
    try:
        check(c.call("debug", "sleep", "0") == (b"+", b"OK"), "DEBUG from 127.0.0.1 (local)")
        if addr:
            remote = Conn.__new__(Conn)
            remote.s = socket.create_connection((addr, port), timeout=10)
            remote.buf = b""
            r = remote.call("debug", "sleep", "0")
            check(r == (b"-", DEBUG_REFUSED), "DEBUG from %s (local): %r" % (addr, r))
    finally:
        stop(p)


def test_debug_sleep_rejects_non_finite():
    p, port, c = start_server("dbg-yes", "--enable-debug-command", "yes")
    try:
        for bad in ("inf", "-inf", "nan", "1e300", "-1", "abc"):
            t0 = time.time()
            r = c.call("debug", "sleep", bad)
            check(r[0] == b"-" and time.time() - t0 < 2,
                  "DEBUG SLEEP %s: %r after %.1fs" % (bad, r, time.time() - t0))
        t0 = time.time()
        check(c.call("debug", "sleep", "0.2") == (b"+", b"OK"), "DEBUG SLEEP 0.2")
        check(time.time() - t0 >= 0.19, "DEBUG SLEEP 0.2 slept")
        check(Conn(port).call("ping") == (b"+", b"PONG"), "the server answers after them")
    finally:
        stop(p)


# ---- #19 the metrics endpoint's addresses ----

def http_get(addr, port):
    s = socket.create_connection((addr, port), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    out = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        out += d
    s.close()
    return out


def test_metrics_bind_loopback_by_default():
    addr = other_address()
    if not addr:
        print("     (no non-loopback address: skipped)")
        return
    mport = free_port()
    p, port, c = start_server("metrics-default", "--bind", "127.0.0.1 " + addr, "--requirepass",
                              "pw", "--metrics-port", str(mport))
    try:
        check(http_get("127.0.0.1", mport).startswith(b"HTTP/1.1 200"), "metrics on 127.0.0.1")
        try:
            got = http_get(addr, mport)
        except OSError:
            got = None
        check(got is None, "metrics served on %s (the Redis bind address): %r" %
              (addr, (got or b"")[:40]))
        c.call("auth", "pw")
        r = c.call("config", "get", "metrics-bind")
        check(r == (b"*", [(b"$", b"metrics-bind"), (b"$", b"127.0.0.1")]),
              "CONFIG GET metrics-bind: %r" % (r,))
    finally:
        stop(p)
    mport = free_port()
    p, port, c = start_server("metrics-exposed", "--metrics-port", str(mport), "--metrics-bind",
                              addr)
    try:
        check(http_get(addr, mport).startswith(b"HTTP/1.1 200"),
              "metrics on %s with metrics-bind %s" % (addr, addr))
        try:
            got = http_get("127.0.0.1", mport)
        except OSError:
            got = None
        check(got is None, "metrics on 127.0.0.1 with metrics-bind %s: %r" % (addr, got))
    finally:
        stop(p)


# ---- #17 output limits ----

def peak_rss(p):
    """The server's peak resident set (VmHWM), bytes."""
    with open("/proc/%d/status" % p.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


def clients(c):
    return int(c.call("info", "clients")[1].split(b"connected_clients:")[1].split(b"\r\n")[0])


def flood(port, payload, rcvbuf=4096):
    """Sends payload without ever reading; stops when the server closes or stops taking
    bytes for 5 s. Returns (bytes sent, the socket)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.settimeout(5)
    sent = 0
    try:
        while sent < len(payload):
            sent += s.send(payload[sent:sent + (1 << 20)])
    except (OSError, socket.timeout):
        pass
    return sent, s


def test_unauthenticated_output_bounded():
    p, port, c = start_server("unauth", "--requirepass", "pw")
    try:
        check(c.call("auth", "pw") == (b"+", b"OK"), "AUTH")
        base = peak_rss(p)
        # 12 MB of PING, never read: each gets a 34-byte -NOAUTH (29 MB of replies)
        sent, s = flood(port, encode(["ping"]) * ((12 << 20) // 14))
        time.sleep(0.5)
        grown = peak_rss(p) - base
        n = clients(c)
        s.close()
        check(n == 1, "the unauthenticated client that does not read is still connected "
              "(%d clients, %d bytes taken, peak RSS +%.1f MB)" % (n, sent, grown / 1e6))
        check(grown < 8e6, "peak RSS grew %.1f MB for an unauthenticated client's replies"
              % (grown / 1e6))
        # an authenticated client is not held to that limit
        ok = Conn(port)
        ok.call("auth", "pw")
        ok.s.sendall(encode(["ping"]) * 1000)
        for _ in range(1000):
            check(ok.reply() == (b"+", b"PONG"), "an authenticated pipeline")
    finally:
        stop(p)


def test_output_limit_checked_as_replies_are_added():
    p, port, c = start_server("obuf", "--client-output-buffer-limit", "normal 1mb 0 0")
    try:
        check(c.call("set", "big", "x" * (512 << 10)) == (b"+", b"OK"), "SET big")
        c.call("get", "big")
        base = peak_rss(p)
        # one request of 160 GETs: 80 MB of replies made in one round, before any send
        sent, s = flood(port, encode(["get", "big"]) * 160)
        time.sleep(0.5)
        grown = peak_rss(p) - base
        n = clients(c)
        s.close()
        check(n == 1, "the client over the hard limit is still connected (%d clients)" % n)
        check(grown < 20e6, "peak RSS grew %.1f MB with a 1 MB hard output limit"
              % (grown / 1e6))
    finally:
        stop(p)


# ---- #18 file descriptors ----

def cpu_seconds(p):
    """The server's user + system CPU time so far."""
    with open("/proc/%d/stat" % p.pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def config_int(c, name):
    return int(c.call("config", "get", name)[1][1][1])


def first_bytes(s, timeout):
    """What the server sent on s within timeout (b"" when it closed, None when silent)."""
    s.settimeout(timeout)
    try:
        return s.recv(200)
    except socket.timeout:
        return None
    except OSError:
        return b""


def low_fd_limit(n):
    return lambda: __import__("resource").setrlimit(__import__("resource").RLIMIT_NOFILE, (n, n))


def test_maxclients_clamped_to_fd_limit():
    p, port, c = start_server("fd-clamp", preexec_fn=low_fd_limit(200))
    extra = []
    try:
        maxclients = config_int(c, "maxclients")
        check(maxclients + 32 < 200, "maxclients %d with a limit of 200 descriptors" % maxclients)
        cpu0 = cpu_seconds(p)
        for _ in range(250):
            try:
                extra.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            except OSError:
                break
        time.sleep(2)
        busy = cpu_seconds(p) - cpu0
        refused = sum(1 for s in extra
                      if (first_bytes(s, 0.05) or b"").startswith(b"-ERR max number of clients"))
        check(busy < 1.0, "the server used %.1f s of CPU in 2 s at its fd limit" % busy)
        check(refused >= len(extra) - maxclients,
              "%d of %d connections over maxclients %d were told so" % (refused, len(extra), maxclients))
        check(c.call("ping") == (b"+", b"PONG"), "the first client is still served")
        with open(os.path.join(TMP, "fd-clamp.log")) as f:
            check("maxclients" in f.read(), "the clamp is logged")
    finally:
        for s in extra:
            s.close()
        stop(p)


def test_maxclients_raises_soft_limit():
    import resource
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 12000:
        print("     (hard limit %d: skipped)" % hard)
        return
    p, port, c = start_server("fd-raise", preexec_fn=lambda: resource.setrlimit(
        resource.RLIMIT_NOFILE, (256, hard)))
    try:
        soft = resource.prlimit(p.pid, resource.RLIMIT_NOFILE)[0]
        check(config_int(c, "maxclients") == 10000 and soft >= 10000 + 32,
              "maxclients %d, soft limit %d" % (config_int(c, "maxclients"), soft))
        if hard != resource.RLIM_INFINITY:
            r = c.call("config", "set", "maxclients", str(hard))
            check(r[0] == b"-" and b"The operating system is not able to handle the specified "
                  b"number of clients, try with" in r[1], "CONFIG SET maxclients %d: %r" % (hard, r))
    finally:
        stop(p)


def test_accept_backs_off_at_fd_limit():
    """The descriptors run out before maxclients: 150 of the 200 the server may open are
    taken by files it inherited (as from a careless parent), so accepts fail with EMFILE
    while it is still under maxclients. The loop must not spin re-arming the accept."""
    inherited = [os.open("/dev/null", os.O_RDONLY) for _ in range(150)]
    try:
        p, port, c = start_server("fd-emfile", preexec_fn=low_fd_limit(200), pass_fds=inherited)
    finally:
        for fd in inherited:
            os.close(fd)
    extra = []
    try:
        for _ in range(80):
            extra.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(0.5)
        cpu0 = cpu_seconds(p)
        time.sleep(2)
        busy = cpu_seconds(p) - cpu0
        check(busy < 0.5, "the server used %.1f s of CPU in 2 s with accept failing (EMFILE)"
              % busy)
        t0 = time.time()
        check(c.call("ping") == (b"+", b"PONG") and time.time() - t0 < 1,
              "a connected client is served at the fd limit")
        served = told = 0
        for s in extra:
            got = first_bytes(s, 0.05)
            if got is None:
                served += 1  # accepted: waits for a command
            elif got.startswith(b"-ERR max number of clients"):
                told += 1
        check(served > 0 and served + told == len(extra),
              "%d of %d connections accepted, %d refused with -ERR max number of clients "
              "reached, the rest left waiting" % (served, len(extra), told))
        for s in extra:
            s.close()
        extra = []
        time.sleep(0.5)  # the back-off ends and accepts are armed again
        check(Conn(port).call("ping") == (b"+", b"PONG"), "a new client once descriptors are free")
    finally:
        for s in extra:
            s.close()
        stop(p)


def test_metrics_connections_limited_and_closed_when_idle():
    mport = free_port()
    p, port, c = start_server("metrics-conns", "--metrics-port", str(mport))
    idle = []
    try:
        for _ in range(100):
            idle.append(socket.create_connection(("127.0.0.1", mport), timeout=5))
        time.sleep(0.5)
        kept = [s for s in idle if first_bytes(s, 0.01) is None]
        check(len(kept) <= 32, "%d idle metrics connections kept open" % len(kept))
        time.sleep(11)
        still = [s for s in kept if first_bytes(s, 0.01) is None]
        check(not still, "%d idle metrics connections open after 11 s" % len(still))
        check(http_get("127.0.0.1", mport).startswith(b"HTTP/1.1 200"), "a scrape after")
    finally:
        for s in idle:
            s.close()
        stop(p)


TESTS = [
    ("#20 DEBUG refused by default (enable-debug-command no)", test_debug_command_refused_by_default),
    ("#20 enable-debug-command local", test_debug_command_local),
    ("#20 DEBUG SLEEP refuses non-finite and overflowing times", test_debug_sleep_rejects_non_finite),
    ("#19 metrics-bind: 127.0.0.1 by default", test_metrics_bind_loopback_by_default),
    ("#17 an unauthenticated client's output is bounded", test_unauthenticated_output_bounded),
    ("#17 output limits are checked as replies are added", test_output_limit_checked_as_replies_are_added),
    ("#18 maxclients is clamped to RLIMIT_NOFILE", test_maxclients_clamped_to_fd_limit),
    ("#18 maxclients raises the soft fd limit", test_maxclients_raises_soft_limit),
    ("#18 accept backs off at the fd limit (EMFILE)", test_accept_backs_off_at_fd_limit),
    ("#18 metrics connections are limited and closed when idle",
     test_metrics_connections_limited_and_closed_when_idle),
]


def main():
    return run_checks(TESTS, only=os.environ.get("ONLY"))


if __name__ == "__main__":
    run_main(main)
