#!/usr/bin/python3
"""server_admin_limits.py - administrative commands at their limits (issue 15, item 28).

- CONFIG SET timeout 4611686018427387904: refused with Redis 7.0's words (timeout is at
  most 2147483647 s); before the fix it was accepted, `timeout * 1000` wrapped to 0 and
  the next cron closed every connection. The same for tcp-keepalive.
- BGSAVE while one runs: "ERR Background save already in progress", as Redis answers;
  before the fix each BGSAVE started one more detached thread.
- SIGTERM right after BGSAVE: the save is waited for before the store closes (a
  detached thread could flush a closed store), exit 0, and the data is there.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode, free_port  # noqa: E402
from lib.harness import check, run_main, start_server  # noqa: E402


def start(port):
    p, _, c = start_server("data", "--memtable-size", "64mb", "--sync-writes", "no",
                           port=port, log="server.log", wait=20)
    return p, c


def range_error(name):
    return (b"-", b"ERR CONFIG SET failed (possibly related to argument '%s') - argument must "
            b"be between 0 and 2147483647 inclusive" % name.encode())


def test_timeout(port, c):
    idle = Conn(port)
    check(idle.call("ping") == (b"+", b"PONG"), "PING")
    for name in ("timeout", "tcp-keepalive"):
        for v in ("4611686018427387904", "2147483648", "-1"):
            r = c.call("config", "set", name, v)
            check(r == range_error(name), "CONFIG SET %s %s: %r" % (name, v, r))
    check(c.call("config", "set", "timeout", "2147483647") == (b"+", b"OK"), "the largest timeout")
    time.sleep(1.5)  # several crons: an idle connection must stay
    check(idle.call("ping") == (b"+", b"PONG"), "an idle connection was closed")
    check(c.call("config", "get", "timeout") == (b"*", [(b"$", b"timeout"), (b"$", b"2147483647")]),
          "CONFIG GET timeout")
    check(c.call("config", "set", "timeout", "0") == (b"+", b"OK"), "timeout 0")
    idle.s.close()


def fill(c, n):
    """n keys of 1 KiB in one pipeline (they stay in the memtable: a save has work)."""
    c.s.sendall(b"".join(encode(["set", "k%06d" % i, "v" * 1024]) for i in range(n)))
    for _ in range(n):
        check(c.reply() == (b"+", b"OK"), "SET")


def test_bgsave(c):
    fill(c, 20000)
    # pipelined: the second and later ones arrive while the first save runs
    c.s.sendall(encode(["bgsave"]) * 20)
    replies = [c.reply() for _ in range(20)]
    check(replies[0] == (b"+", b"Background saving started"), "BGSAVE: %r" % (replies[0],))
    busy = (b"-", b"ERR Background save already in progress")
    check(all(r == busy for r in replies[1:]), "a BGSAVE while one runs: %r" %
          [r for r in replies[1:] if r != busy][:3])
    # once it is done, another can start
    deadline = time.time() + 30
    while True:
        r = c.call("bgsave")
        if r != busy or time.time() > deadline:
            break
        time.sleep(0.05)
    check(r == (b"+", b"Background saving started"), "BGSAVE after the first ended: %r" % (r,))


def main():
    port = free_port()
    p, c = start(port)
    test_timeout(port, c)
    print("ok   CONFIG SET timeout / tcp-keepalive out of range")
    test_bgsave(c)
    print("ok   one BGSAVE at a time")
    # SIGTERM while a save runs: it is joined before the store closes
    fill(c, 20000)
    check(c.call("bgsave") == (b"+", b"Background saving started"), "BGSAVE before SIGTERM")
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60)
    check(rc == 0, "exit status %d after SIGTERM during BGSAVE" % rc)
    c.s.close()
    p, c = start(port)
    check(c.call("dbsize") == (b":", b"20000"), "keys after restart: %r" % (c.call("dbsize"),))
    c.s.close()
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=60) == 0, "second shutdown")
    print("ok   SIGTERM during BGSAVE")
    return 0


if __name__ == "__main__":
    run_main(main)
