#!/usr/bin/python3
"""server_move.py - MOVE between databases that live in different engines (issue 15 #22).

server_compare.py checks MOVE's replies against Redis 7.0 between databases of the main
engine. Here database 1 is a fifo database (an engine of its own), so a MOVE between 0 and
1 cannot be one batch: a string with a TTL and a hash go to the fifo database and back,
keeping their values, fields and TTLs, DBSIZE follows, and everything is still in place
after a restart.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.harness import check, run_main, start_server  # noqa: E402


def expect(c, args, want):
    got = c.call(*args)
    check(got == want, "%s: %r, expected %r" % (" ".join(map(str, args)), got, want))


def state(c, db):
    """(dbsize, value of s, ttl of s > 0, fields of h) in database db."""
    c.call("select", str(db))
    size = int(c.call("dbsize")[1])
    val = c.call("get", "s")[1]
    ttl = int(c.call("ttl", "s")[1])
    fields = sorted(x[1] for x in c.call("hgetall", "h")[1])
    c.call("select", "0")
    return size, val, ttl, fields


def main():
    p, port, c = start_server("m", "--sync-writes", "yes")
    expect(c, ("config", "set", "db1-compaction-style", "fifo", "db1-fifo-max-size", "8mb"),
           (b"+", b"OK"))
    expect(c, ("set", "s", "v", "ex", "1000"), (b"+", b"OK"))
    expect(c, ("hset", "h", "a", "1", "b", "2"), (b":", b"2"))
    expect(c, ("move", "s", "1"), (b":", b"1"))
    expect(c, ("move", "h", "1"), (b":", b"1"))
    expect(c, ("move", "s", "1"), (b":", b"0"))  # gone from 0
    a, b = state(c, 0), state(c, 1)
    check(a[0] == 0 and a[1] is None and a[3] == [], "database 0 after MOVE: %r" % (a,))
    check(b[0] == 2 and b[1] == b"v" and 900 < b[2] <= 1000 and b[3] == [b"1", b"2", b"a", b"b"],
          "fifo database 1 after MOVE: %r" % (b,))
    # back into the main engine, one of them
    c.call("select", "1")
    expect(c, ("move", "h", "0"), (b":", b"1"))
    c.call("select", "0")
    expect(c, ("set", "s", "other"), (b"+", b"OK"))
    c.call("select", "1")
    expect(c, ("move", "s", "0"), (b":", b"0"))  # the destination holds it: stays
    c.call("select", "0")
    before = (state(c, 0), state(c, 1))
    check(before[0][0] == 2 and before[0][1] == b"other" and before[0][3] == [b"1", b"2", b"a", b"b"]
          and before[1][0] == 1 and before[1][1] == b"v" and before[1][3] == [],
          "after moving back: %r" % (before,))
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)
    p, port, c = start_server("m", "--sync-writes", "yes")
    after = (state(c, 0), state(c, 1))
    check(after[0][:2] == before[0][:2] and after[0][3] == before[0][3] and
          after[1][:2] == before[1][:2] and after[1][3] == before[1][3] and
          900 < after[1][2] <= 1000, "after a restart: %r, before %r" % (after, before))
    print("MOVE between the main engine and a fifo database: ok")
    return 0


if __name__ == "__main__":
    run_main(main)
