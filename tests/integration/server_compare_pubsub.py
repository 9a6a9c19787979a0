#!/usr/bin/python3
"""server_compare_pubsub.py - pub/sub against redis-server 7.0 as the oracle, byte for
byte, in RESP2 and RESP3: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE PUBLISH SSUBSCRIBE
SUNSUBSCRIBE SPUBLISH PUBSUB, the confirmations and their counts, the unsubscribe-all
forms (from nothing too), messages and pattern messages as arrays (RESP2) or pushes
(RESP3) in the order each subscriber gets them, several subscribers on their own
connections, the subscribed-mode rule of RESP2 and its errors (PING's ["pong", ""]),
RESET leaving every subscription, shard channels as a non-cluster Redis has them, and
INFO's pubsub_* lines.

Each scenario runs on fresh connections to both servers (same steps): a step sends a
command on one connection (or nothing) and reads a number of frames there (replies and
pushes, in order); each frame is compared. Where Redis's order is its hash tables' (an
UNSUBSCRIBE of every channel, PUBSUB CHANNELS) the frames are compared as a set. At the
end of a scenario each connection answers a PING, so that a stray message shows.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import time
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, canon, oracle_exit, run_oracle  # noqa: E402

# A step: (connection, command or None, frames to read, mode). frames may be a pair
# (RESP2, RESP3) where they differ; mode "" exact, "set" the frames as a set (and a
# reply's array as a set), "all" the confirmations of an unsubscribe from everything
# (Redis goes through its hash table: the names as a set, the counts as a set).
SCENARIOS = {
    "subscribe, publish, unsubscribe": [
        (0, "subscribe ch1 ch2", 2, ""),
        (1, "publish ch1 hello", 1, ""),
        (0, None, 1, ""),
        (1, "publish nobody x", 1, ""),
        (1, "publish ch2 ''", 1, ""),
        (0, None, 1, ""),
        (0, "subscribe ch1", 1, ""),
        (0, "unsubscribe ch1", 1, ""),
        (0, "unsubscribe ch1 nope", 2, ""),
        (0, "unsubscribe", 1, ""),
        (0, "unsubscribe", 1, ""),
        (1, "publish ch2 gone", 1, ""),
        (0, "ping", 1, ""),
    ],
    "unsubscribe all, from nothing": [
        (0, "unsubscribe", 1, ""),
        (0, "punsubscribe", 1, ""),
        (0, "sunsubscribe", 1, ""),
        (0, "unsubscribe a b", 2, ""),
        (0, "punsubscribe a*", 1, ""),
        (0, "sunsubscribe s", 1, ""),
        (0, "subscribe a b c d", 4, ""),
        (0, "psubscribe p1 p2", 2, ""),
        (0, "unsubscribe", 4, "all"),
        (0, "punsubscribe", 2, ""),
        (0, "punsubscribe", 1, ""),
        (0, "subscribe x x", 2, ""),
        (0, "psubscribe y y", 2, ""),
        (0, "unsubscribe x", 1, ""),
        (0, "punsubscribe", 1, ""),
    ],
    "patterns": [
        (0, "psubscribe h* news.[ab] \\\\*", 3, ""),
        (1, "publish hello m1", 1, ""),
        (0, None, 1, ""),
        (1, "publish news.a m2", 1, ""),
        (1, "publish news.c m3", 1, ""),
        (0, None, 1, ""),
        (0, "subscribe hello", 1, ""),
        (1, "publish hello m4", 1, ""),
        (0, None, 2, ""),
        (1, "publish * star", 1, ""),
        (0, None, 1, ""),
        (0, "punsubscribe h*", 1, ""),
        (1, "publish hello m5", 1, ""),
        (0, None, 1, ""),
        (0, "punsubscribe", 2, ""),
        (0, "unsubscribe", 1, ""),
    ],
    "several subscribers, order": [
        (0, "subscribe c", 1, ""),
        (1, "subscribe c", 1, ""),
        (2, "psubscribe c*", 1, ""),
        (3, "publish c m1", 1, ""),
        (3, "publish c m2", 1, ""),
        (3, "publish cc m3", 1, ""),
        (3, "publish c m4", 1, ""),
        (0, None, 3, ""),
        (1, None, 3, ""),
        (2, None, 4, ""),
        (3, "pubsub numsub c cc", 1, ""),
        (3, "pubsub numpat", 1, ""),
        (1, "unsubscribe c", 1, ""),
        (3, "publish c m5", 1, ""),
        (0, None, 1, ""),
        (2, None, 1, ""),
    ],
    "subscribed mode": [
        (0, "subscribe x", 1, ""),
        (0, "get k", 1, ""),
        (0, "set k v", 1, ""),
        (0, "ping", 1, ""),
        (0, "ping hi", 1, ""),
        (0, "config get maxmemory", 1, ""),
        (0, "client id", (1, 1), "shape"),
        (0, "pubsub numsub x", 1, ""),
        (0, "publish x self", (1, 2), ""),
        (0, "hello 2", (1, 1), "shape"),
        (0, "echo e", 1, ""),
        (0, "subscribe", 1, ""),
        (0, "nosuchcommand a", 1, ""),
        (0, "get", 1, ""),
        (0, "psubscribe p", 1, ""),
        (0, "unsubscribe x", 1, ""),
        (0, "get k", 1, ""),
        (0, "punsubscribe", 1, ""),
        (0, "get k", 1, ""),
        (0, "ssubscribe s", 1, ""),
        (0, "get k", 1, ""),
        (0, "sunsubscribe", 1, ""),
        (0, "get k", 1, ""),
    ],
    "reset leaves everything": [
        (0, "subscribe a", 1, ""),
        (0, "psubscribe b*", 1, ""),
        (0, "ssubscribe c", 1, ""),
        (1, "pubsub numsub a", 1, ""),
        (0, "reset", 1, ""),
        (0, "get k", 1, ""),
        (1, "pubsub numsub a", 1, ""),
        (1, "pubsub numpat", 1, ""),
        (1, "pubsub shardnumsub c", 1, ""),
        (1, "publish a x", 1, ""),
    ],
    "shard channels": [
        (0, "ssubscribe s1 s2 s1", 3, ""),
        (0, "psubscribe s*", 1, ""),
        (1, "spublish s1 m1", 1, ""),
        (0, None, 1, ""),
        (1, "publish s1 m2", 1, ""),
        (0, None, 1, ""),
        (1, "spublish nobody m", 1, ""),
        (2, "ssubscribe s2", 1, ""),
        (1, "spublish s2 m3", 1, ""),
        (0, None, 1, ""),
        (2, None, 1, ""),
        (1, "pubsub shardchannels", 1, "set"),
        (1, "pubsub shardchannels *1", 1, ""),
        (1, "pubsub shardnumsub s1 s2 s3", 1, ""),
        (1, "pubsub shardnumsub", 1, ""),
        (1, "pubsub channels", 1, ""),
        (0, "sunsubscribe s1", 1, ""),
        (0, "sunsubscribe", 1, ""),
        (0, "sunsubscribe", 1, ""),
        (0, "punsubscribe", 1, ""),
        (2, "sunsubscribe s2 s9", 2, ""),
    ],
    "pubsub introspection": [
        (0, "subscribe news.a news.b other", 3, ""),
        (1, "subscribe news.a", 1, ""),
        (2, "psubscribe n* n* x?", 2, ""),
        (3, "pubsub channels", 1, "set"),
        (3, "pubsub channels news.*", 1, "set"),
        (3, "pubsub channels nomatch*", 1, ""),
        (3, "pubsub numsub news.a news.b other none", 1, ""),
        (3, "pubsub numsub", 1, ""),
        (3, "pubsub numpat", 1, ""),
        (3, "pubsub help", 1, ""),
        (3, "PUBSUB Numpat", 1, ""),
        (3, "pubsub numpat x", 1, ""),
        (3, "pubsub help x", 1, ""),
        (3, "pubsub channels a b", 1, ""),
        (3, "pubsub shardchannels a b", 1, ""),
        (3, "pubsub nosuch", 1, ""),
        (3, "pubsub", 1, ""),
        (3, "publish", 1, ""),
        (3, "publish a", 1, ""),
        (3, "publish a b c", 1, ""),
        (3, "spublish a", 1, ""),
        (3, "psubscribe", 1, ""),
        (3, "ssubscribe", 1, ""),
        (0, "unsubscribe", 3, "all"),
        (3, "pubsub channels", 1, "set"),
        (3, "pubsub numsub news.a news.b", 1, ""),
    ],
    "client reply off and skip": [
        (0, "client reply off", 0, ""),
        (0, "subscribe a", 1, ""),
        (1, "publish a m", 1, ""),
        (0, None, 1, ""),
        (0, "get k", 0, ""),
        (0, "subscribe", 0, ""),
        (0, "unsubscribe", 1, ""),
        (0, "client reply on", 1, ""),
        (0, "client reply skip", 0, ""),
        (0, "psubscribe p*", 1, ""),
        (0, "punsubscribe", 1, ""),
    ],
    "binary channel and message": [
        (0, "subscribe 'a\\x00b'", 1, ""),
        (0, "psubscribe 'a?b'", 1, ""),
        (1, "publish 'a\\x00b' 'x\\r\\ny'", 1, ""),
        (0, None, 2, ""),
        (1, "publish " + "c" * 300 + " " + "m" * 70000, 1, ""),
    ],
}


def words(cmd):
    """The arguments of a step's command: shell-like words, '...' may hold \\x00 \\r \\n."""
    import re
    import shlex
    esc = {"r": "\r", "n": "\n"}
    out = []
    for w in shlex.split(cmd, posix=True):
        w = re.sub(r"\\(x[0-9a-f]{2}|r|n)",
                   lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] == "x" else esc[m.group(1)],
                   w)
        out.append(w.encode("latin-1"))
    return out


def frames(conn, n):
    return [conn.reply() for _ in range(n)]


def run_scenario(name, steps, shale, redis, proto):
    """Runs one scenario on new connections of both servers; the differences."""
    sport, rport = shale.s.getpeername()[1], redis.s.getpeername()[1]
    nconn = 1 + max(s[0] for s in steps)
    conns = []
    for _ in range(nconn):
        pair = (Conn(sport), Conn(rport))
        if proto == 3:
            for c in pair:
                c.call("hello", "3")
        conns.append(pair)
    diffs = 0
    for i, (ci, cmd, n, mode) in enumerate(steps):
        if isinstance(n, tuple):
            n = n[proto - 2]
        got = []
        for c in conns[ci]:
            if cmd is not None:
                c.s.sendall(encode_words(words(cmd)))
            fr = frames(c, n)
            got.append([canon(f, mode) for f in fr])
        if mode == "set":
            got = [sorted(map(repr, g)) for g in got]
        if mode == "all":  # unsubscribe-all: names in hash order, counts each step down
            got = [(sorted(repr(f[1][1]) for f in g), sorted(repr(f[1][2]) for f in g),
                    [f[0] for f in g]) for g in got]
        if got[0] != got[1]:
            diffs += 1
            print("DIFF RESP%d [%s] step %d conn %d %r\n  shale %r\n  redis %r" %
                  (proto, name, i, ci, cmd, got[0], got[1]))
    for ci, pair in enumerate(conns):  # nothing left unread on either side
        got = [canon(c.call("ping"), "") for c in pair]
        if got[0] != got[1]:
            diffs += 1
            print("DIFF RESP%d [%s] final ping conn %d\n  shale %r\n  redis %r" %
                  (proto, name, ci, got[0], got[1]))
        for c in pair:
            c.s.close()
    return diffs


def encode_words(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def info_lines(conn):
    t, v = conn.call("info", "stats")
    return [ln for ln in v.split(b"\r\n") if ln.startswith(b"pubsub")]


def compare_info(sp, rp):
    """INFO stats' pubsub_channels, pubsub_patterns, pubsubshard_channels."""
    diffs = 0
    subs = []
    for port in (sp, rp):
        c = Conn(port)
        c.s.sendall(encode_words([b"subscribe", b"a", b"b"]))
        frames(c, 2)
        c.s.sendall(encode_words([b"psubscribe", b"p*"]))
        frames(c, 1)
        c.s.sendall(encode_words([b"ssubscribe", b"s1", b"s2", b"s3"]))
        frames(c, 3)
        subs.append(c)
    time.sleep(0.2)  # the scenarios' connections are gone on both
    got = [info_lines(Conn(p)) for p in (sp, rp)]
    if got[0] != got[1] or len(got[0]) != 3:
        diffs += 1
        print("DIFF INFO stats pubsub lines\n  shale %r\n  redis %r" % tuple(got))
    for c in subs:
        c.s.close()
    return diffs


def per_proto(shale, redis, proto):
    diffs = 0
    for name, steps in SCENARIOS.items():
        diffs += run_scenario(name, steps, shale, redis, proto)
    return diffs


def main():
    diffs = run_oracle(per_proto, compare_info)
    return oracle_exit(diffs, "%d pub/sub scenarios" % len(SCENARIOS))


if __name__ == "__main__":
    sys.exit(main())
