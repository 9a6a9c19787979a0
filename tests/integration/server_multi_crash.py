#!/usr/bin/python3
"""server_multi_crash.py - WATCH/MULTI/EXEC transfers under kill -9 with sync-writes yes:
no acknowledged EXEC is lost and no EXEC is ever seen in part.

100 accounts start at 1000 each. 8 clients each loop: WATCH two accounts, GET both,
MULTI, SET both to their new balances (an amount moved from one to the other, never
below 0), SET a marker key x:<client>:<seq> = "from to amount", EXEC; a null EXEC (the
other clients moved money meanwhile) is retried. SET of values read before MULTI is only
right if WATCH catches every change in between. The server is killed with SIGKILL every
1 to 3 seconds and restarted on the same directory (commit-pipeline alternating no and
yes); after each restart:
  - every acknowledged EXEC's marker is there (none lost), and no marker of an EXEC never
    sent;
  - each account's balance is exactly 1000 plus what the markers present move in and
    minus what they move out (so the sum is unchanged, and no EXEC is half there: a
    marker without its balances, or balances without their marker, would not add up);
  - no balance is negative.
SHALE_MULTI_SECONDS (default 15) is how long it runs; SEED picks the random choices;
SHALE_SERVER_ARGS adds server options (e.g. "--io-threads 2"). A sanitizer's report in
the server's log fails the test.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn  # noqa: E402
from lib.crash import Writer, crash_main, markers  # noqa: E402

SECONDS = float(os.environ.get("SHALE_MULTI_SECONDS", "15"))
SEED = int(os.environ.get("SEED", str(int(time.time()))))
ACCOUNTS = 100
START = 1000
CLIENTS = 8


class Client(Writer):
    """sent: seq -> (from, to, amount) for an EXEC sent; acked: EXEC answered the array."""

    def step(self, c):
        a, b = self.rng.sample(range(ACCOUNTS), 2)
        ka, kb = "acct:%d" % a, "acct:%d" % b
        while True:
            if c.call("watch", ka, kb) != (b"+", b"OK"):
                raise RuntimeError("WATCH failed")
            ba = int(c.call("get", ka)[1])
            bb = int(c.call("get", kb)[1])
            amount = self.rng.randint(0, min(ba, 50))
            seq = self.seq
            self.seq += 1
            c.call("multi")
            c.call("set", ka, ba - amount)
            c.call("set", kb, bb + amount)
            c.call("set", "x:%d:%d" % (self.cid, seq), "%d %d %d" % (a, b, amount))
            self.sent[seq] = (a, b, amount)
            r = c.call("exec")
            if r[0] == b"*" and r[1] is not None:
                if [x for x in r[1] if x != (b"+", b"OK")]:
                    raise RuntimeError("EXEC replied %r" % (r,))
                self.acked.add(seq)
                return
            if r[0] not in (b"*", b"_"):
                raise RuntimeError("EXEC replied %r" % (r,))
            del self.sent[seq]  # EXEC answered nil: nothing of it ran


def check(port, sent, acked):
    """The problems found in the store against what was sent and acknowledged."""
    c = Conn(port)
    bal = [int(v[1]) for v in c.call("mget", *["acct:%d" % i for i in range(ACCOUNTS)])[1]]
    present = markers(c)
    want = [START] * ACCOUNTS
    problems = []
    for key, (k, v) in present.items():
        a, b, amount = (int(x) for x in v.split())
        if sent.get(key) != (a, b, amount):
            problems.append("marker %s = %r was never sent" % (k, v))
        want[a] -= amount
        want[b] += amount
    lost = acked - set(present)
    if lost:
        problems.append("%d acknowledged EXECs lost, e.g. %r" % (len(lost), sorted(lost)[:5]))
    if bal != want:
        bad = [i for i in range(ACCOUNTS) if bal[i] != want[i]]
        problems.append("balances differ from the markers' transfers at %d accounts (e.g. "
                        "acct:%d = %d, markers say %d); sum %d" %
                        (len(bad), bad[0], bal[bad[0]], want[bad[0]], sum(bal)))
    if min(bal) < 0:
        problems.append("a negative balance")
    return problems, len(present)


def body(run):
    run.start()
    Conn(run.port).call("mset", *[x for i in range(ACCOUNTS) for x in ("acct:%d" % i, START)])
    found = [0]

    def verify():
        problems, found[0] = check(run.port, run.sent, run.acked)
        return problems

    if not run.run(SECONDS, Client, verify):
        return 1
    print("%d kill -9 rounds (seed %d): %d EXECs acknowledged, %d committed, all there "
          "and whole" % (run.rounds, SEED, len(run.acked), found[0]))
    if run.rounds == 0 or not run.acked:
        print("FAIL: nothing was tested")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(crash_main(SEED, CLIENTS, body))
