#!/usr/bin/python3
"""server_tsan_races.py - two io loops under a load that crosses them, every reply checked;
against a ThreadSanitizer build (SHALE_BUILD=build/tsan, as `make tsan` runs the suite)
it also fails on any "WARNING: ThreadSanitizer" in the server's stderr.

The load (--io-threads 2; SO_REUSEPORT spreads the connections over both loops):
- pipelined SET/GET clients with 16 KiB values (sends that the kernel takes in parts);
- one client doing CONFIG SET of the options the loops read outside the lock
  (client-output-buffer-limit, timeout, tcp-keepalive, proto-max-bulk-len,
  client-query-buffer-limit, maxmemory-clients, hz);
- one client doing CLIENT LIST, CLIENT INFO, INFO clients and INFO memory, which read
  every client of both loops;
- two subscribers and a publisher (pub/sub delivery across loops);
- short connections (accepts on both loops), among them MONITORs and tracking clients
  with a redirect, closing while other loops' commands reach them.
Each race found by it, and its fix, is in docs/server.md ("Races between the io loops").
Under a build without TSan the same load runs and its replies are checked; races cannot
be seen there.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode  # noqa: E402
from lib.harness import TMP, check, run_main, start_server  # noqa: E402

SECONDS = 4.0
VALUE = b"v" * 16384
OK = (b"+", b"OK")


class Worker(threading.Thread):
    """Runs fn(stop) on a thread; its exception, if any, is kept for the test to raise."""

    def __init__(self, name, fn):
        super().__init__(name=name, daemon=True)
        self.fn, self.error, self.rounds = fn, None, 0

    def run(self):
        try:
            deadline = time.time() + SECONDS
            while time.time() < deadline:
                self.fn()
                self.rounds += 1
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = "%s: %r" % (self.name, e)


def data_client(port, i):
    c = Conn(port)

    def round_():
        keys = ["k%d:%d" % (i, j) for j in range(8)]
        c.s.sendall(b"".join(encode(["set", k, VALUE]) for k in keys) +
                    b"".join(encode(["get", k]) for k in keys))
        for _ in keys:
            check(c.reply() == OK, "SET")
        for _ in keys:
            check(c.reply() == (b"$", VALUE), "GET")
    return round_


CONFIGS = [
    ("client-output-buffer-limit", "normal 0 0 0 pubsub 64mb 16mb 60"),
    ("client-output-buffer-limit", "normal 256mb 128mb 60 pubsub 32mb 8mb 60"),
    ("timeout", "0"), ("timeout", "3600"),
    ("tcp-keepalive", "300"), ("tcp-keepalive", "0"),
    ("proto-max-bulk-len", "512mb"), ("proto-max-bulk-len", "256mb"),
    ("client-query-buffer-limit", "1gb"), ("client-query-buffer-limit", "512mb"),
    ("maxmemory-clients", "0"), ("maxmemory-clients", "1gb"),
    ("hz", "10"), ("hz", "50"),
]


def config_client(port):
    c = Conn(port)

    def round_():
        for name, value in CONFIGS:
            r = c.call("config", "set", name, value)
            check(r == OK, "CONFIG SET %s %s: %r" % (name, value, r))
    return round_


def admin_client(port):
    c = Conn(port)

    def round_():
        t, body = c.call("client", "list")
        check(t == b"$" and body.count(b"\n") >= 6 and b" qbuf=" in body and b" omem=" in body,
              "CLIENT LIST: %r" % ((t, body[:200]),))
        t, body = c.call("client", "info")
        check(t == b"$" and body.startswith(b"id="), "CLIENT INFO: %r" % ((t, body),))
        t, body = c.call("info", "clients")
        check(t == b"$" and b"connected_clients:" in body, "INFO clients")
        t, body = c.call("info", "memory")
        check(t == b"$" and b"used_memory:" in body, "INFO memory")
    return round_


def subscriber(port, got):
    c = Conn(port)
    check(c.call("subscribe", "ch") == (b"*", [(b"$", b"subscribe"), (b"$", b"ch"), (b":", b"1")]),
          "SUBSCRIBE")
    c.s.settimeout(SECONDS + 30)

    def round_():
        r = c.reply()
        check(r[0] == b"*" and r[1][0] == (b"$", b"message"), "a message: %r" % (r,))
        got.append(r[1][2][1])
    return round_, c


def publisher(port, sent):
    c = Conn(port)

    def round_():
        msg = b"m%d" % len(sent)
        r = c.call("publish", "ch", msg)
        check(r[0] == b":", "PUBLISH: %r" % (r,))
        sent.append(msg)
        time.sleep(0.002)
    return round_


def connector(port):
    """New connections on both loops: a PING; a MONITOR that closes while commands of
    other loops feed it; a tracking client whose redirect target closes while writes of
    other loops invalidate the key it read."""
    def round_():
        c = Conn(port)
        check(c.call("ping") == (b"+", b"PONG"), "PING on a new connection")
        c.s.close()
        m = Conn(port)
        check(m.call("monitor") == OK, "MONITOR")
        m.s.close()
        target, tracker = Conn(port), Conn(port)
        t, tid = target.call("client", "id")
        check(t == b":", "CLIENT ID")
        r = tracker.call("client", "tracking", "on", "redirect", tid)
        check(r == OK, "CLIENT TRACKING ON REDIRECT: %r" % (r,))
        check(tracker.call("get", "k0:0")[0] == b"$", "GET of a tracked key")
        target.s.close()
        time.sleep(0.005)
        tracker.s.close()
    return round_


def tsan_reports(log):
    with open(log, "rb") as f:
        text = f.read().decode("utf-8", "replace")
    return text.count("WARNING: ThreadSanitizer"), text


def main():
    p, port, c = start_server("data", "--io-threads", "2", "--sync-writes", "no",
                              log="server.log", wait=30)
    log = os.path.join(TMP, "server.log")
    got, sent = [], []
    subs = [subscriber(port, got) for _ in range(2)]
    workers = [Worker("data%d" % i, data_client(port, i)) for i in range(4)]
    workers += [Worker("config", config_client(port)), Worker("admin", admin_client(port)),
                Worker("publish", publisher(port, sent)), Worker("connect", connector(port))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    errors = [w.error for w in workers if w.error]
    check(not errors, "; ".join(errors))
    check(all(w.rounds > 0 for w in workers), "a worker ran no round")
    for read, sc in subs:  # each subscriber gets every message, in order
        got.clear()
        sc.s.settimeout(10)
        for _ in sent:
            read()
        check(got == sent, "messages out of order or lost")
    check(c.call("ping") == (b"+", b"PONG"), "the server answers after the load")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(60)
    n, text = tsan_reports(log)
    if n:
        print(text[text.index("WARNING: ThreadSanitizer"):][:20000])
    check(n == 0, "%d ThreadSanitizer report(s) in %s" % (n, log))
    check(rc == 0, "shale-server exited with %d" % rc)
    print("%d publishes, rounds: %s" % (len(sent), ", ".join("%s %d" % (w.name, w.rounds)
                                                               for w in workers)))
    return 0


if __name__ == "__main__":
    run_main(main)
