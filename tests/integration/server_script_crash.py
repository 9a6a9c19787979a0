#!/usr/bin/python3
"""server_script_crash.py - scripts and functions that move value between keys, under
kill -9 with sync-writes yes: no acknowledged call is lost and no call is ever seen in
part; a script killed while it spins past busy-reply-threshold leaves none of its writes.

100 accounts, each both a string acct:<i> and a field <i> of the hash bal, start at 100.
8 clients each loop, choosing at random EVALSHA of a script (SCRIPT LOAD once; loaded
again after each restart, since scripts do not persist, as in Redis) or FCALL of the same
code in a library (FUNCTION LOAD once; after each restart the library must still be there,
not loaded again), to move a random amount between two string accounts or two hash fields.
Inside, the call reads both balances (GET or HGET), refuses with redis.error_reply when
the amount is more than the payer has (the client counts those), writes the payer, then a
marker x:<client>:<seq> = "kind from to amount", then the payee. The server is killed
with SIGKILL every 1 to 3 seconds and restarted on the same directory (commit-pipeline
alternating no and yes; lib/crash.py); after each restart:
  - every acknowledged call's marker is there (none lost), no marker of a call never sent
    or of one refused;
  - each string and each hash field is exactly 100 plus what the markers present move in
    and minus what they move out (so both sums are unchanged, and no call is half there);
  - no balance is negative.
In some rounds one more client sets busy-reply-threshold to 200 ms, runs a script that
writes busy:* keys and moves 10^6 into acct:0 and bal[0], then loops forever; once
another connection gets -BUSY the server is killed: after the restart none of that
script's writes may be there (a script's writes are one engine batch).
SHALE_SCRIPT_CRASH_SECONDS (default 15) is how long it runs; SEED picks the random
choices; SHALE_SERVER_ARGS adds server options. A sanitizer's report in the server's log
fails the test.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode  # noqa: E402
from lib.crash import Writer, crash_main, markers  # noqa: E402

SECONDS = float(os.environ.get("SHALE_SCRIPT_CRASH_SECONDS", "15"))
SEED = int(os.environ.get("SEED", str(int(time.time()))))
ACCOUNTS = 100
START = 100
MAX_AMOUNT = 50   # balances spread out: some calls are refused
CLIENTS = 8
BUSY_EVERY = 3    # rounds 1, 4, 7... end with a busy script

# KEYS: payer, payee, marker (for a hash: the hash twice); ARGV: kind ("s" strings, "h"
# hash fields), payer field, payee field, amount, marker value. The marker is written
# between the two balances, so a call seen in part cannot add up.
MOVE = """
local kind, fa, fb, amount = ARGV[1], ARGV[2], ARGV[3], tonumber(ARGV[4])
local a, b
if kind == 'h' then
    a = tonumber(redis.call('HGET', KEYS[1], fa))
    b = tonumber(redis.call('HGET', KEYS[2], fb))
else
    a = tonumber(redis.call('GET', KEYS[1]))
    b = tonumber(redis.call('GET', KEYS[2]))
end
if a < amount then
    return redis.error_reply('LOW balance ' .. a)
end
if kind == 'h' then
    redis.call('HSET', KEYS[1], fa, a - amount)
    redis.call('SET', KEYS[3], ARGV[5])
    redis.call('HSET', KEYS[2], fb, b + amount)
else
    redis.call('SET', KEYS[1], a - amount)
    redis.call('SET', KEYS[3], ARGV[5])
    redis.call('SET', KEYS[2], b + amount)
end
return amount
"""
LIBRARY = "#!lua name=crashlib\nredis.register_function('move', function(KEYS, ARGV)\n%s\nend)" % MOVE
BUSY = """
for i = 1, 10 do redis.call('SET', 'busy:' .. ARGV[1] .. ':' .. i, 'x') end
redis.call('INCRBY', 'acct:0', 1000000)
redis.call('HINCRBY', 'bal', '0', 1000000)
while true do end
"""
REFUSED = "refused"


class Client(Writer):
    """sent: seq -> (kind, from, to, amount) for a call sent, REFUSED once it was refused;
    acked: the call answered its amount."""

    sha = None  # set by main after each SCRIPT LOAD

    def __init__(self, *args):
        super().__init__(*args)
        self.busy = 0
        self.by_way = {"evalsha": 0, "fcall": 0}

    def step(self, c):
        kind = self.rng.choice("sh")
        way = self.rng.choice(("evalsha", "fcall"))
        a, b = self.rng.sample(range(ACCOUNTS), 2)
        amount = self.rng.randint(1, MAX_AMOUNT)
        seq = self.seq
        self.seq += 1
        marker = "x:%d:%d" % (self.cid, seq)
        keys = ("bal", "bal") if kind == "h" else ("acct:%d" % a, "acct:%d" % b)
        head = ("evalsha", self.sha) if way == "evalsha" else ("fcall", "move")
        self.sent[seq] = (kind, a, b, amount)
        r = c.call(*head, "3", *keys, marker, kind, a, b, amount, "%s %d %d %d" % (kind, a, b, amount))
        if r == (b":", b"%d" % amount):
            self.acked.add(seq)
            self.by_way[way] += 1
        elif r[0] == b"-" and r[1].startswith(b"LOW balance"):
            self.sent[seq] = REFUSED
        elif r[0] == b"-" and r[1].startswith(b"BUSY"):
            del self.sent[seq]  # refused before it ran: another script is busy
            self.busy += 1
            time.sleep(0.01)
        else:
            raise RuntimeError("%s replied %r" % (way, r))


def busy_script(port, round_no, problems):
    """What runs before a busy round's kill: a script that writes, then spins; returns
    once another connection is answered -BUSY (or records a problem after 5 s)."""
    b = Conn(port)
    if b.call("config", "set", "busy-reply-threshold", "200") != (b"+", b"OK"):
        problems.append("CONFIG SET busy-reply-threshold refused")
        return
    b.s.sendall(encode(("eval", BUSY, "0", str(round_no))))
    deadline = time.time() + 5
    while time.time() < deadline:
        r = Conn(port).call("ping")
        if r[0] == b"-" and r[1].startswith(b"BUSY"):
            return
        time.sleep(0.05)
    problems.append("round %d: no -BUSY within 5 s of the spinning script" % round_no)


def balances(c):
    strings = [int(v[1]) for v in c.call("mget", *["acct:%d" % i for i in range(ACCOUNTS)])[1]]
    fields = c.call("hmget", "bal", *[str(i) for i in range(ACCOUNTS)])[1]
    return strings, [int(v[1]) for v in fields]


def compare(what, got, want):
    if got == want:
        return []
    bad = [i for i in range(ACCOUNTS) if got[i] != want[i]]
    return ["%s differ from the markers' moves at %d accounts (e.g. %d = %d, markers say %d); "
            "sum %d" % (what, len(bad), bad[0], got[bad[0]], want[bad[0]], sum(got))]


def check_store(c, sent, acked):
    """The problems found in the data against what was sent and acknowledged, and how
    many markers are there."""
    strings, fields = balances(c)
    present = markers(c)
    want = {"s": [START] * ACCOUNTS, "h": [START] * ACCOUNTS}
    problems = []
    for key, (k, v) in present.items():
        kind, a, b, amount = v.decode().split()
        a, b, amount = int(a), int(b), int(amount)
        if sent.get(key) == REFUSED:
            problems.append("marker %s = %r of a refused call" % (k, v))
        elif sent.get(key) != (kind, a, b, amount):
            problems.append("marker %s = %r was never sent" % (k, v))
        want[kind][a] -= amount
        want[kind][b] += amount
    lost = acked - set(present)
    if lost:
        problems.append("%d acknowledged calls lost, e.g. %r" % (len(lost), sorted(lost)[:5]))
    problems += compare("strings", strings, want["s"]) + compare("hash fields", fields, want["h"])
    if min(strings + fields) < 0:
        problems.append("a negative balance")
    busy = c.call("keys", "busy:*")[1]
    if busy:
        problems.append("%d writes of the script killed while busy are there, e.g. %r" %
                        (len(busy), busy[0][1]))
    return problems, len(present)


def pairs(flat):
    """A RESP2 flat [name, value, ...] list as {name: value}, values unwrapped."""
    return {flat[i][1]: flat[i + 1][1] for i in range(0, len(flat), 2)}


def check_scripts(c, sha):
    """Functions persist and scripts do not (as in Redis): the problems, and the script
    loaded again for the next round."""
    problems = []
    libs = c.call("function", "list", "libraryname", "crashlib")[1]
    names = [pairs(f[1])[b"name"] for f in pairs(libs[0][1])[b"functions"]] if len(libs) == 1 else []
    if names != [b"move"]:
        problems.append("library crashlib after the restart: %r" % (libs,))
    if c.call("script", "exists", sha) != (b"*", [(b":", b"0")]):
        problems.append("SCRIPT LOAD's script survived a restart")
    if c.call("script", "load", MOVE) != (b"$", sha.encode()):
        problems.append("SCRIPT LOAD after the restart")
    return problems


def setup(port):
    c = Conn(port)
    c.call("mset", *[x for i in range(ACCOUNTS) for x in ("acct:%d" % i, START)])
    c.call("hset", "bal", *[x for i in range(ACCOUNTS) for x in (str(i), START)])
    if c.call("function", "load", LIBRARY) != (b"$", b"crashlib"):
        raise RuntimeError("FUNCTION LOAD failed")
    Client.sha = c.call("script", "load", MOVE)[1].decode()


def body(run):
    writers = []
    busy_problems = []
    found = [0]

    def make_writer(*args):
        writers.append(Client(*args))
        return writers[-1]

    def during(round_no):
        if round_no % BUSY_EVERY == 1:
            return lambda: busy_script(run.port, round_no, busy_problems)
        return None

    def verify():
        c = Conn(run.port)
        problems = busy_problems + check_scripts(c, Client.sha)
        store, found[0] = check_store(c, run.sent, run.acked)
        return problems + store

    run.start()
    setup(run.port)
    if not run.run(SECONDS, make_writer, verify, during):
        return 1
    refused = sum(1 for v in run.sent.values() if v == REFUSED)
    by_way = {w: sum(x.by_way[w] for x in writers) for w in ("evalsha", "fcall")}
    busy_rounds = sum(1 for r in range(run.rounds) if r % BUSY_EVERY == 1)
    print("%d kill -9 rounds (seed %d), %d of them during a busy script: %d calls "
          "acknowledged (%d EVALSHA, %d FCALL), %d refused by the script, %d -BUSY, "
          "%d committed, all there and whole" %
          (run.rounds, SEED, busy_rounds, len(run.acked), by_way["evalsha"],
           by_way["fcall"], refused, sum(x.busy for x in writers), found[0]))
    if run.rounds < 2 or not busy_rounds or min(by_way.values()) == 0 or not refused:
        print("FAIL: not everything was tested")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(crash_main(SEED, CLIENTS, body))
