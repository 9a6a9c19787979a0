#!/usr/bin/python3
"""server_compare_tracking.py - client tracking (client-side caching) against redis-server
7.0 as the oracle, byte for byte, in RESP2 and RESP3: CLIENT TRACKING with every option
(REDIRECT, BCAST, PREFIX, OPTIN, OPTOUT, NOLOOP) and its errors, CLIENT CACHING, CLIENT
GETREDIR, CLIENT TRACKINGINFO; invalidations as RESP3 pushes and as messages of
__redis__:invalidate to a RESP2 redirect client, in the order each connection gets them
among its replies; writes, EXEC (after the transaction's reply), FLUSHDB / FLUSHALL
(nulls), expiry (lazy and active), BCAST prefixes, the redirect client gone
(tracking-redir-broken), RESET and CLIENT TRACKING OFF, tracking-table-max-keys, INFO's
tracking fields and CLIENT LIST's flags and redir=.

Each scenario runs on fresh connections to both servers (same steps): a step sends a
command on one connection (or nothing) and reads a number of frames there (replies and
pushes, in order); each frame is compared. In a command, $0 $1 ... stand for the id of
connection 0, 1 ... on that server, and in the frames such ids are compared as those
names. Connection 0 speaks the run's protocol, the others RESP3 unless a step says HELLO
2. At the end each connection answers a PING, so that a stray message shows.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, canon, oracle_exit, run_oracle  # noqa: E402
from server_compare_pubsub import encode_words, frames, words  # noqa: E402

R3 = (0, 1)  # frames: none in RESP2 (no push, no redirect), one in RESP3

# A step: (connection, command or None, frames to read[, mode]). frames may be a pair
# (RESP2, RESP3) where they differ; mode "set": the frames as a set.
SCENARIOS = {
    "options and errors": [
        (0, "client tracking", 1),
        (0, "client tracking maybe", 1),
        (0, "client tracking on foo", 1),
        (0, "client tracking on redirect", 1),
        (0, "client tracking on redirect abc", 1),
        (0, "client tracking on redirect 999999", 1),
        (0, "client tracking on redirect 0", 1),
        (0, "client tracking on redirect $1 redirect $1", 1),
        (0, "client tracking on prefix a", 1),
        (0, "client tracking on bcast optin", 1),
        (0, "client tracking on bcast optout", 1),
        (0, "client tracking on optin optout", 1),
        (0, "client tracking on bcast prefix a prefix ab", 1),
        (0, "client tracking on bcast prefix ab prefix a", 1),
        (0, "client tracking on bcast prefix", 1),
        # Redis 7.0: an overlap found past the first prefix replies the error, and then
        # still turns tracking on and replies +OK
        (0, "client tracking on bcast prefix x prefix a prefix ab", 2),
        (0, "client trackinginfo", 1),
        (0, "client tracking off", 1),
        (0, "client tracking off redirect 999999", 1),
        (0, "client getredir", 1),
        (0, "client trackinginfo", 1),
        (0, "client tracking on optin", 1),
        (0, "client tracking on optout", 1),
        (0, "client tracking on bcast", 1),
        (0, "client tracking on optin noloop redirect $1", 1),
        (0, "client trackinginfo", 1),
        (0, "client getredir", 1),
        (0, "client caching yes", 1),
        (0, "client trackinginfo", 1),
        (0, "client caching no", 1),
        (0, "client caching maybe", 1),
        (0, "client caching", 1),
        (0, "client getredir x", 1),
        (0, "client trackinginfo x", 1),
        (0, "client tracking off", 1),
        (0, "client caching yes", 1),
        (0, "client tracking on optout", 1),
        (0, "client caching no", 1),
        (0, "client trackinginfo", 1),
        (0, "client caching yes", 1),
        (0, "client tracking off", 1),
        (0, "client tracking on bcast prefix b: prefix a:", 1),
        (0, "client tracking on bcast prefix a:x", 1),
        (0, "client tracking on bcast prefix c:", 1),
        (0, "client tracking on", 1),
        (0, "client trackinginfo", 1),
        (0, "client tracking off", 1),
        (0, "client trackinginfo", 1),
        (0, "client getredir", 1),
    ],
    "default mode: reads tracked, writes invalidate": [
        (0, "client tracking on", 1),
        (1, "mset k1 a k2 b k3 c", 1),
        (0, "get k1", 1),
        (0, "mget k2 k3 nokey", 1),
        (0, "strlen k1", 1),
        (1, "set k1 x", 1),
        (0, None, R3),
        (1, "set k1 y", 1),
        (1, "del k2 k3", 1),
        (0, None, (0, 2)),
        (1, "set nokey 1", 1),
        (0, None, R3),
        (0, "set k1 z", 1),
        (0, "get k1", 1),
        (0, "set k1 w", (1, 2)),
        (0, "hset h f 1", 1),
        (0, "hget h f", 1),
        (0, "hdel h f", (1, 2)),
        (0, "lpush l a", 1),
        (0, "lrange l 0 -1", 1),
        (1, "rpush l b", 1),
        (0, "ping", (1, 2)),
        (0, "get k1", 1),
        (1, "set k1 v", 1),
        (1, "set k1 v2", 1),
        (0, "ping", (1, 2)),
    ],
    "exec: invalidations after the transaction": [
        (0, "client tracking on", 1),
        (0, "mset a 1 b 2", 1),
        (0, "get a", 1),
        (0, "multi", 1),
        (0, "incr a", 1),
        (0, "get b", 1),
        (0, "exec", (1, 2)),
        (0, "multi", 1),
        (0, "set b 3", 1),
        (0, "get b", 1),
        (0, "exec", (1, 2)),
        (0, "multi", 1),
        (0, "get b", 1),
        (0, "set b 4", 1),
        (0, "exec", (1, 2)),
    ],
    "scripts: a read in a script tracks the keys it declared": [
        (0, "client tracking on", 1),
        (1, "mset a 1 b 2 c 3 d 4", 1),
        (0, "eval \"return redis.call('get', KEYS[1])\" 1 a", 1),
        (0, "eval \"return redis.call('get', 'b')\" 0", 1),
        (0, "eval \"return 1\" 1 c", 1),
        (0, "eval_ro \"return 1\" 1 d", 1),
        (0, "eval_ro \"return redis.call('exists', 'x')\" 1 d", 1),
        (1, "set a x", 1),
        (0, None, R3),
        (1, "mset b x c x", 1),
        (1, "set d x", 1),
        (0, None, R3),
        (0, "eval \"redis.call('get', KEYS[1]); return redis.call('set', KEYS[1], 'y')\" 1 a", (1, 2)),
        (0, "ping", 1),
    ],
    "scripts: noloop leaves out the script's own writes": [
        (0, "client tracking on noloop", 1),
        (0, "get k", 1),
        (0, "eval \"return redis.call('set', 'k', 1)\" 0", 1),
        (1, "get k", 1),
        (0, "ping", 1),
    ],
    "noloop": [
        (0, "client tracking on noloop", 1),
        (0, "mget x y", 1),
        (0, "set x 1", 1),
        (1, "set y 1", 1),
        (0, None, R3),
        (0, "ping", 1),
    ],
    "optin and optout": [
        (0, "client tracking on optin", 1),
        (0, "get a", 1),
        (1, "set a 1", 1),
        (0, "client caching yes", 1),
        (0, "get b", 1),
        (0, "get c", 1),
        (1, "mset b 1 c 1", 1),
        (0, None, R3),
        (0, "client caching yes", 1),
        (0, "client id", 1),
        (0, "get d", 1),
        (1, "set d 1", 1),
        (0, None, R3),
        (0, "client caching yes", 1),
        (0, "multi", 1),
        (0, "get e", 1),
        (0, "get f", 1),
        (0, "exec", 1),
        (1, "mset e 1 f 1", 1),
        (0, None, (0, 2)),
        (0, "client tracking off", 1),
        (0, "client tracking on optout", 1),
        (0, "get g", 1),
        (0, "client caching no", 1),
        (0, "get h", 1),
        (1, "mset g 1 h 1", 1),
        (0, None, R3),
        (0, "ping", 1),
    ],
    "redirect (RESP2: __redis__:invalidate)": [
        (1, "hello 2", 1, "count"),
        (1, "subscribe __redis__:invalidate", 1),
        (2, "hello 2", 1, "count"),
        (0, "client tracking on redirect $1", 1),
        (0, "client getredir", 1),
        (0, "get r1", 1),
        (2, "set r1 x", 1),
        (1, None, 1),
        (0, "get r1", 1),
        (0, "set r1 y", 1),
        (1, None, 1),
        (0, "get r1", 1),
        (0, "flushdb", 1),
        (1, None, 1),
        (0, "client tracking on redirect $2", 1),
        (0, "get r2", 1),
        (1, "set r2 x", 1),
        (0, "ping", 1),
        (2, "ping", 1),
    ],
    "redirect to a RESP3 client": [
        (0, "client tracking on redirect $1", 1),
        (0, "get q", 1),
        (2, "set q 1", 1),
        (1, None, 1),
        (0, "client list id $0", 1),
        (0, "client trackinginfo", 1),
    ],
    "redirect client gone": [
        (0, "client tracking on redirect $1", 1),
        (0, "get gone", 1),
        (1, "quit", 1),
        (2, "sleep", 0),  # (CLIENT KILL ID would still find it closing on shale)
        (2, "set gone 1", 1),
        (0, "ping", (1, 2)),
        (0, "client trackinginfo", 1),
        (0, "get gone", 1),
        (2, "set gone 2", 1),
        (0, "ping", (1, 2)),
    ],
    "flushdb and flushall": [
        (0, "client tracking on", 1),
        (1, "client tracking on", 1),
        (0, "get f1", 1),
        (1, "flushdb", 2),
        (0, None, R3),
        (1, "flushall", 2),
        (0, None, R3),
        (0, "flushall", (1, 2)),
        (1, None, 1),
        (0, "multi", 1),
        (0, "flushdb", 1),
        (0, "flushdb", 1),
        (0, "exec", (1, 3)),
        (1, None, 2),
        (0, "swapdb 0 1", 1),
        (0, "get f2", 1),
        (1, "swapdb 0 1", 1),
        (0, "ping", 1),
        (0, "select 1", 1),
        (0, "get f3", 1),
        (1, "set f3 1", 1),
        (0, None, R3),
    ],
    "bcast": [
        (0, "client tracking on bcast", 1),
        (1, "mset a 1 b 2 c 3", 1),
        (0, None, R3),
        (0, "client tracking off", 1),
        (0, "client tracking on bcast prefix a: prefix b:", 1),
        (1, "multi", 1),
        (1, "incr a:1", 1),
        (1, "incr a:2", 1),
        (1, "incr b:1", 1),
        (1, "incr c:1", 1),
        (1, "incr a:1", 1),
        (1, "exec", 1),
        (0, None, (0, 2)),
        (0, "client tracking on bcast prefix c:", 1),
        (1, "incr c:1234", 1),
        (0, None, R3),
        (0, "client trackinginfo", 1),
        (0, "client tracking off", 1),
        (0, "client tracking on bcast noloop", 1),
        (1, "set other 1", 1),
        (0, "set mine 1", 1),
        (1, "set other2 1", 1),
        (0, None, (0, 2)),
        (0, "mset mine 2 mine2 3", 1),
        (0, "ping", 1),
        (0, "client list id $0", 1),
    ],
    "bcast after default mode: earlier keys not sent": [
        (0, "client tracking on", 1),
        (0, "get pre", 1),
        (0, "client tracking off", 1),
        (0, "client tracking on bcast prefix z", 1),
        (1, "set pre 1", 1),
        (1, "set zed 1", 1),
        (0, None, R3),
        (0, "ping", 1),
    ],
    "reset turns tracking off": [
        (0, "client tracking on", 1),
        (0, "get rs", 1),
        (0, "reset", 1),
        (0, "client trackinginfo", 1),
        (1, "set rs 1", 1),
        (0, "ping", 1),
    ],
    "a blocked client served: its invalidation after its reply": [
        (0, "client tracking on", 1),
        (0, "rpush list2 a", 1),
        (0, "lrange list2 0 -1", 1),
        (0, "blmove list1 list2 left left 0", 0),
        (1, "rpush list1 foo", 1),
        (0, None, (1, 2)),
    ],
    "a tracking client that quits is no longer counted": [
        (0, "client tracking on", 1),
        (1, "client tracking on", 1),
        (1, "quit", 1),
        (0, "info clients", 1, "tracking_clients"),
    ],
    "lazy expiry": [
        (0, "client tracking on", 1),
        (1, "set ex 1 px 50", 1),
        (0, "get ex", 1),
        (1, "sleep", 0),
        (0, "get ex", (1, 2)),
    ],
}


def conn_ids(conns):
    """Per server (0 shale, 1 redis), the id of each connection."""
    ids = ([], [])
    for pair in conns:
        for side, c in enumerate(pair):
            ids[side].append(c.call("client", "id")[1])
    return ids


def substitute(cmd, ids):
    for i in range(len(ids) - 1, -1, -1):
        cmd = cmd.replace("$%d" % i, ids[i].decode())
    return cmd


def name_ids(r, ids):
    """A frame with connection ids (integers, id= and redir= fields) as their names."""
    t, v = r
    if isinstance(v, list):
        return (t, [name_ids(x, ids) for x in v])
    if isinstance(v, bytes):
        if t == b":" and v in ids:
            return (t, b"$%d" % ids.index(v))
        if b"id=" in v:  # CLIENT LIST: the fields that vary apart, ids named
            out = []
            for f in v.split():
                k, _, val = f.partition(b"=")
                if k in (b"id", b"redir") and val in ids:
                    val = b"$%d" % ids.index(val)
                if k in (b"id", b"redir", b"flags"):
                    out.append(k + b"=" + val)
            return (t, b" ".join(out))
    return r


def run_step(pair, ids, cmd, n):
    got = []
    for side, c in enumerate(pair):
        if cmd == "sleep":
            time.sleep(0.15)
            continue
        if cmd == "debug-free-wait":
            continue
        if cmd is not None:
            c.s.sendall(encode_words(words(substitute(cmd, ids[side]))))
        got.append([name_ids(f, ids[side]) for f in frames(c, n)])
    return got


def run_scenario(name, steps, sport, rport, proto):
    nconn = 1 + max(s[0] for s in steps)
    conns = [(Conn(sport), Conn(rport)) for _ in range(nconn)]
    for i, pair in enumerate(conns):
        if proto == 3 or i > 0:
            for c in pair:
                c.call("hello", "3")
    ids = conn_ids(conns)
    diffs = 0
    for i, step in enumerate(steps):
        ci, cmd, n = step[:3]
        mode = step[3] if len(step) > 3 else ""
        if isinstance(n, tuple):
            n = n[proto - 2]
        got = run_step(conns[ci], ids, cmd, n)
        if not got:
            continue
        if mode == "tracking_clients":  # that INFO line alone
            got = [[ln for ln in (g[0][1] or b"").split(b"\r\n")
                    if ln.startswith(b"tracking_clients")] for g in got]
            mode = "count_done"
        if mode == "count":  # HELLO: the versions differ
            got = [len(g) for g in got]
        if mode not in ("count", "count_done"):
            got = [[canon(f, mode) for f in g] for g in got]
        if mode == "set":
            got = [sorted(map(repr, g)) for g in got]
        if got[0] != got[1]:
            diffs += 1
            print("DIFF RESP%d [%s] step %d conn %d %r\n  shale %r\n  redis %r" %
                  (proto, name, i, ci, cmd, got[0], got[1]))
    for ci, pair in enumerate(conns):  # nothing left unread on either side
        try:
            got = [canon(c.call("ping"), "") for c in pair]
        except (EOFError, OSError):
            continue  # closed by the scenario
        if got[0] != got[1]:
            diffs += 1
            print("DIFF RESP%d [%s] final ping conn %d\n  shale %r\n  redis %r" %
                  (proto, name, ci, got[0], got[1]))
        for c in pair:
            c.s.close()
    return diffs


def flush(c):
    """FLUSHDB, again while shale's sweeper has too many flushed databases to reclaim."""
    for _ in range(100):
        if c.call("flushdb") == (b"+", b"OK"):
            return
        time.sleep(0.1)
    raise RuntimeError("FLUSHALL kept failing")


def per_proto(shale, redis, proto):
    sport, rport = shale.s.getpeername()[1], redis.s.getpeername()[1]
    diffs = 0
    for name, steps in SCENARIOS.items():
        for c in (shale, redis):
            flush(c)
        diffs += run_scenario(name, steps, sport, rport, proto)
    return diffs


def ask(conn, *args):
    """A command's reply, skipping the pushes before it (invalidations)."""
    conn.s.sendall(encode_words([a if isinstance(a, bytes) else str(a).encode() for a in args]))
    r = conn.reply()
    while r[0] == b">":
        r = conn.reply()
    return r


def tracking_info(conn):
    v = ask(conn, "info", "everything")[1]
    return [ln for ln in v.split(b"\r\n") if ln.startswith(b"tracking_")]


def compare_info_and_limit(sp, rp):
    """INFO's tracking fields as keys are read, BCAST prefixes added, and the table cut
    to tracking-table-max-keys (random keys: the count left compared)."""
    diffs = 0
    pairs = [(Conn(sp), Conn(rp)) for _ in range(3)]
    time.sleep(0.2)  # the scenarios' connections gone on both
    for side in (0, 1):
        reader, writer, bc = (p[side] for p in pairs)
        ask(reader, "hello", "3")
        ask(reader, "client", "tracking", "on")
        for i in range(20):
            ask(reader, "get", "key%d" % i)
        ask(writer, "hello", "3")
        ask(writer, "client", "tracking", "on")
        for i in range(5):
            ask(writer, "get", "key%d" % i)
        ask(bc, "client", "tracking", "on", "bcast", "prefix", "p:", "prefix", "q:")
    got = [tracking_info(pairs[0][s]) for s in (0, 1)]
    if got[0] != got[1]:
        diffs += 1
        print("DIFF INFO tracking fields\n  shale %r\n  redis %r" % tuple(got))
    counts = []
    for side in (0, 1):  # the limit: 20 keys down to 5, random ones
        writer = pairs[1][side]
        ask(writer, "config", "set", "tracking-table-max-keys", "5")
        time.sleep(0.5)  # a cron (and the next command) cut it
        ask(writer, "ping")
        infos = dict(ln.split(b":") for ln in tracking_info(writer))
        ask(writer, "config", "set", "tracking-table-max-keys", "1000000")
        counts.append(infos[b"tracking_total_keys"])
    if counts[0] != counts[1]:
        diffs += 1
        print("DIFF tracking_total_keys after the limit\n  shale %r\n  redis %r" % tuple(counts))
    for pair in pairs:
        for c in pair:
            c.s.close()
    return diffs


def main():
    diffs = run_oracle(per_proto, compare_info_and_limit)
    return oracle_exit(diffs, "%d tracking scenarios" % len(SCENARIOS))


if __name__ == "__main__":
    sys.exit(main())
