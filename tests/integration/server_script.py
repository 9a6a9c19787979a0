#!/usr/bin/python3
"""server_script.py - what the oracle cannot show about scripts: atomicity and
durability. Scripts that move value between keys run from several clients while a reader
checks that the sum is always whole (no other command sees half a script), then the
server is killed with kill -9 (sync-writes yes): after a restart the sum is intact and
every script whose reply was received is there (its id in the log list).
"""
import os
import random
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn  # noqa: E402
from lib.harness import check, run_checks, run_main, start_server  # noqa: E402

NKEYS, START = 8, 1000
MOVE = """
local from, to, n = KEYS[1], KEYS[2], tonumber(ARGV[1])
redis.call('incrby', from, -n)
redis.call('incrby', to, n)
redis.call('rpush', 'acked', ARGV[2])
return redis.call('get', to)
"""


def total(c):
    t, vals = c.call("mget", *["k%d" % i for i in range(NKEYS)])
    return sum(int(v[1]) for v in vals)


def movers(port, stop, acked, errors):
    def run(tid):
        c = Conn(port)
        n = 0
        try:
            while not stop.is_set():
                a, b = random.sample(range(NKEYS), 2)
                ident = "%d-%d" % (tid, n)
                r = c.call("eval", MOVE, "2", "k%d" % a, "k%d" % b, str(random.randint(1, 9)), ident)
                if r[0] == b"-":
                    errors.append(r)
                    return
                acked.append(ident)
                n += 1
        except (OSError, EOFError):
            pass  # the server was killed
    return [threading.Thread(target=run, args=(t,)) for t in range(4)]


def check_atomic_and_durable():
    p, port, c = start_server("moves", "--sync-writes", "yes")
    c.call("mset", *[x for i in range(NKEYS) for x in ("k%d" % i, str(START))])
    stop, acked, errors = threading.Event(), [], []
    threads = movers(port, stop, acked, errors)
    for t in threads:
        t.start()
    reader = Conn(port)
    seen = 0
    deadline = time.time() + 2
    while time.time() < deadline:
        check(total(reader) == NKEYS * START, "a reader saw half a script")
        seen += 1
    os.kill(p.pid, signal.SIGKILL)
    p.wait()
    stop.set()
    for t in threads:
        t.join()
    check(not errors, "scripts failed: %r" % errors[:3])
    check(len(acked) > 50 and seen > 50, "too little ran (%d scripts, %d reads)" % (len(acked), seen))
    p, port, c = start_server("moves", "--sync-writes", "yes")
    check(total(c) == NKEYS * START, "the sum after kill -9")
    t, logged = c.call("lrange", "acked", "0", "-1")
    logged = {x[1].decode() for x in logged}
    lost = [a for a in acked if a not in logged]
    check(not lost, "%d acknowledged scripts lost, e.g. %r" % (len(lost), lost[:3]))
    p.kill()
    p.wait()


def check_own_set_member():
    """SISMEMBER of a member the same script (or EXEC) added to a set stored member by
    member: the lookup finds it among the transaction's writes (the server crashed there
    on a NULL value pointer, found by tests/fuzz/fuzz_script.c)."""
    p, port, c = start_server("members")
    c.call("sadd", "big", *[str(i) for i in range(300)])
    r = c.call("eval", "redis.call('sadd', KEYS[1], 'new') return {redis.call('sismember', "
               "KEYS[1], 'new'), redis.call('sismember', KEYS[1], '7'), "
               "redis.call('smismember', KEYS[1], 'new', 'none')}", "1", "big")
    check(r == (b"*", [(b":", b"1"), (b":", b"1"), (b"*", [(b":", b"1"), (b":", b"0")])]),
          "in a script: %r" % (r,))
    for cmd in (("multi",), ("sadd", "big", "other"), ("sismember", "big", "other")):
        c.call(*cmd)
    r = c.call("exec")
    check(r == (b"*", [(b":", b"1"), (b":", b"1")]), "in EXEC: %r" % (r,))
    check(c.call("ping") == (b"+", b"PONG"), "the server answers")
    p.kill()
    p.wait()


def main():
    return run_checks([("atomic_and_durable", check_atomic_and_durable),
                       ("own_set_member", check_own_set_member)])


if __name__ == "__main__":
    run_main(main)
