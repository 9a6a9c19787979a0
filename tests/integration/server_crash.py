#!/usr/bin/python3
"""server_crash.py - kill -9 under load with sync-writes yes, then restart: every
acknowledged write must be there.

Each round starts shale-server on the same directory, runs writer threads (each on its
own connection, pipelining SET of new keys, HSET of new fields, INCR of a counter, and
LPUSH of new elements onto a list of its own with an RPOP of its oldest one every other
batch, SADD of new members to a set of its own with an SREM of an older one every other
batch, ZADD of new members with rising scores to a sorted set of its own with a ZPOPMIN
every other batch, ZINCRBY of a counter member), kills the server with SIGKILL at a
random moment, restarts it and checks every write whose reply was received: SET values
and HSET fields present, counters at least the acknowledged count (a ZINCRBY counter at
most the count sent), every acknowledged LPUSH's element in its list in order unless an
RPOP took it (at most the pops without a reply may have), no element an acknowledged
RPOP took, every acknowledged SADD's member in its set unless an SREM of it was sent, no
member an acknowledged SREM removed, every acknowledged ZADD's member with its score
unless a ZPOPMIN took it, no member an acknowledged ZPOPMIN took, DBSIZE equal to what
SCAN finds; after the last round every round's lists, sets and sorted sets again. An
error reply to any write fails the round. Rounds alternate between the two
ways a round's writes are synced (commit-pipeline no: the loop syncs; yes: the commit
thread syncs while the loop runs on), so both are killed mid-sync. ROUNDS (default 5;
make crashtest runs 100) and SEED come from the environment.
"""
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode, free_port  # noqa: E402

BUILD = os.environ.get("SHALE_BUILD", "build")
SERVER = os.path.join(BUILD, "shale-server")
ROUNDS = int(os.environ.get("ROUNDS", "5"))
SEED = int(os.environ.get("SEED", str(int(time.time()))))
WRITERS = 4
DEPTH = 8  # commands in flight per writer


class Writer(threading.Thread):
    def __init__(self, port, rnd, wid):
        super().__init__(daemon=True)
        self.port, self.rnd, self.wid = port, rnd, wid
        self.acked_sets = []    # (key, value)
        self.acked_fields = []  # (hash, field, value)
        self.acked_incrs = {}   # counter -> acknowledged INCRs
        self.sent_incrs = {}
        self.list = "r%d:l%d" % (rnd, wid)
        self.sent_pushes = []   # elements, oldest first
        self.acked_pushes = []
        self.acked_pops = []    # what each acknowledged RPOP took
        self.sent_pops = 0
        self.set = "r%d:s%d" % (rnd, wid)
        self.sent_sadds, self.acked_sadds = [], []
        self.sent_srems, self.acked_srems = set(), []  # SREM of the oldest, every other batch
        self.srem_at = 0
        self.zset = "r%d:z%d" % (rnd, wid)  # a queue: ZADD of rising scores, ZPOPMIN
        self.sent_zadds, self.acked_zadds = [], []
        self.acked_zpops = []   # what each acknowledged ZPOPMIN took
        self.sent_zpops = 0
        self.zctr = "zctr%d" % wid  # ZINCRBY of one member, across rounds like INCR's
        self.sent_zincrs = self.acked_zincrs = 0
        self.error = None       # an error reply: the round fails

    def run(self):
        try:
            c = Conn(self.port)
        except OSError:
            return
        i = 0
        while True:
            batch = []
            for _ in range(DEPTH):
                i += 1
                kind = i % 3
                if kind == 0:
                    k, v = "r%d:w%d:k%d" % (self.rnd, self.wid, i), "v%d" % i
                    batch.append((("set", k, v), ("set", k, v)))
                elif kind == 1:
                    h, f, v = "r%d:h%d" % (self.rnd, self.wid), "f%d" % i, "x%d" % i
                    batch.append((("hset", h, f, v), ("hset", h, f, v)))
                else:
                    ctr = "ctr%d" % self.wid
                    self.sent_incrs[ctr] = self.sent_incrs.get(ctr, 0) + 1
                    batch.append((("incr", ctr), ("incr", ctr)))
            e = "e%d" % i
            self.sent_pushes.append(e)
            batch.append((("lpush", self.list, e), ("lpush", e)))
            if i % (2 * DEPTH) == 0:
                self.sent_pops += 1
                batch.append((("rpop", self.list), ("rpop",)))
            m = "s%d" % i
            self.sent_sadds.append(m)
            batch.append((("sadd", self.set, m), ("sadd", m)))
            z = "z%d" % i
            self.sent_zadds.append(z)
            batch.append((("zadd", self.zset, str(i), z), ("zadd", z)))
            self.sent_zincrs += 1
            batch.append((("zincrby", self.zctr, "1", "c"), ("zincrby",)))
            if i % (2 * DEPTH) == 0:
                gone = self.sent_sadds[self.srem_at]
                self.srem_at += 1
                self.sent_srems.add(gone)
                batch.append((("srem", self.set, gone), ("srem", gone)))
                self.sent_zpops += 1
                batch.append((("zpopmin", self.zset), ("zpopmin",)))
            try:
                c.s.sendall(b"".join(encode(list(cmd)) for cmd, _ in batch))
                for cmd, what in batch:
                    r = c.reply()
                    if r[0] == b"-" or (what[0] in ("sadd", "zadd", "srem") and r != (b":", b"1")):
                        self.error = "%r to %r" % (r, cmd)
                        return
                    if what[0] == "set":
                        self.acked_sets.append((what[1], what[2]))
                    elif what[0] == "hset":
                        self.acked_fields.append((what[1], what[2], what[3]))
                    elif what[0] == "lpush":
                        self.acked_pushes.append(what[1])
                    elif what[0] == "rpop":
                        self.acked_pops.append(r[1].decode() if r[1] is not None else None)
                    elif what[0] == "sadd":
                        self.acked_sadds.append(what[1])
                    elif what[0] == "srem":
                        self.acked_srems.append(what[1])
                    elif what[0] == "zadd":
                        self.acked_zadds.append(what[1])
                    elif what[0] == "zpopmin":
                        self.acked_zpops.append(r[1][0][1].decode() if r[1] else None)
                    elif what[0] == "zincrby":
                        self.acked_zincrs += 1
                    else:
                        self.acked_incrs[what[1]] = self.acked_incrs.get(what[1], 0) + 1
            except (OSError, EOFError):
                return  # the server was killed


def start(port, datadir, log, pipeline=False):
    p = subprocess.Popen([SERVER, "--port", str(port), "--dir", datadir, "--sync-writes", "yes",
                          "--commit-pipeline", "yes" if pipeline else "no"], stderr=log)
    for _ in range(400):
        try:
            if Conn(port).call("ping") == (b"+", b"PONG"):
                return p
        except (OSError, EOFError):
            pass
        time.sleep(0.025)
    raise RuntimeError("shale-server did not start")


def verify(c, sets, fields, incrs):
    """Counts acknowledged writes that are missing, reading in pipelined batches."""
    checks = [(("get", k), v.encode()) for k, v in sets]
    checks += [(("hget", h, f), v.encode()) for h, f, v in fields]
    lost = 0
    for i in range(0, len(checks), 1000):
        part = checks[i:i + 1000]
        c.s.sendall(b"".join(encode(list(cmd)) for cmd, _ in part))
        for cmd, want in part:
            if c.reply() != (b"$", want):
                lost += 1
    for k, n in incrs.items():
        r = c.call("get", k)
        if r[1] is None or int(r[1]) < n:
            lost += 1
    return lost


def verify_list(c, w):
    """1 when writer w's list is wrong after the restart, else 0. Oldest first, it must be
    a run of the elements pushed, in order: starting after those the acknowledged RPOPs
    took (or up to the pops without a reply later: they may have taken more), ending at
    or after the last acknowledged LPUSH (later: pushes without a reply)."""
    items = [x[1].decode() for x in c.call("lrange", w.list, "0", "-1")[1]][::-1]
    p, n, sent = len(w.acked_pops), len(w.acked_pushes), w.sent_pushes
    if w.acked_pops != sent[:p]:
        print("%s: RPOP took %r, not the oldest elements" % (w.list, w.acked_pops[:5]))
        return 1
    for k in range(p, w.sent_pops + 1):
        if items == sent[k:k + len(items)] and k + len(items) >= n:
            return 0
    print("%s: acknowledged LPUSHes lost, or popped ones back: %d elements after %d "
          "acknowledged pushes and %d pops" % (w.list, len(items), n, p))
    return 1


def verify_set(c, w):
    """1 when writer w's set is wrong after the restart, else 0: every acknowledged SADD's
    member there unless an SREM of it was sent, no member an acknowledged SREM removed,
    nothing that was never added."""
    members = {x[1].decode() for x in c.call("smembers", w.set)[1]}
    lost = [m for m in w.acked_sadds if m not in w.sent_srems and m not in members]
    back = [m for m in w.acked_srems if m in members]
    alien = members - set(w.sent_sadds)
    if lost or back or alien:
        print("%s: %d acknowledged SADDs lost (%r), %d acknowledged SREMs undone (%r), "
              "%d members never added" % (w.set, len(lost), lost[:3], len(back), back[:3],
                                         len(alien)))
        return 1
    return 0


def verify_zset(c, w):
    """1 when writer w's sorted set is wrong after the restart, else 0. Lowest score first,
    it must be a run of the members added, in order, each with its score: starting after
    those the acknowledged ZPOPMINs took (or up to the pops without a reply later), ending
    at or after the last acknowledged ZADD. So an acknowledged pop's member never comes
    back and no acknowledged add is lost."""
    r = c.call("zrange", w.zset, "0", "-1", "withscores")[1]
    items = [r[j][1].decode() for j in range(0, len(r), 2)]
    bad_scores = [m for j, m in enumerate(items) if r[2 * j + 1][1].decode() != m[1:]]
    p, n, sent = len(w.acked_zpops), len(w.acked_zadds), w.sent_zadds
    if w.acked_zpops != sent[:p] or bad_scores:
        print("%s: ZPOPMIN took %r, not the lowest; wrong scores: %r" %
              (w.zset, w.acked_zpops[:5], bad_scores[:3]))
        return 1
    for k in range(p, w.sent_zpops + 1):
        if items == sent[k:k + len(items)] and k + len(items) >= n:
            return 0
    print("%s: acknowledged ZADDs lost, or popped members back: %d members after %d "
          "acknowledged adds and %d pops" % (w.zset, len(items), n, p))
    return 1


def verify_zincr(c, acked, sent):
    """The number of ZINCRBY counters whose score is below the acknowledged increments or
    above those sent."""
    wrong = 0
    for k in acked:
        r = c.call("zscore", k, "c")
        score = int(r[1]) if r[1] is not None else 0
        if not acked[k] <= score <= sent[k]:
            print("%s: score %d, %d increments acknowledged, %d sent" %
                  (k, score, acked[k], sent[k]))
            wrong += 1
    return wrong


def verify_collections(c, ws):
    return sum(verify_list(c, w) + verify_set(c, w) + verify_zset(c, w) for w in ws)


def main():
    rng = random.Random(SEED)
    tmp = tempfile.mkdtemp()
    datadir = os.path.join(tmp, "data")
    log = open(os.path.join(tmp, "server.log"), "w")
    port = free_port()
    sets, fields, incrs = [], [], {}
    zincr_acked, zincr_sent = {}, {}
    writers = []  # every round's: their collections are checked again after the last round
    failures = 0
    total_acked = 0
    try:
        for rnd in range(ROUNDS):
            p = start(port, datadir, log, pipeline=rnd % 2 == 1)
            nsets, nfields = len(sets), len(fields)
            ws = [Writer(port, rnd, w) for w in range(WRITERS)]
            for w in ws:
                w.start()
            time.sleep(rng.uniform(0.1, 0.6))
            p.send_signal(signal.SIGKILL)
            p.wait()
            for w in ws:
                w.join(timeout=10)
            p = start(port, datadir, log)
            c = Conn(port)
            list_lost = verify_collections(c, ws)
            errors = [w.error for w in ws if w.error]
            for e in errors:
                print("round %d: error reply %s" % (rnd, e))
            failures += len(errors)
            for w in ws:
                zincr_acked[w.zctr] = zincr_acked.get(w.zctr, 0) + w.acked_zincrs
                zincr_sent[w.zctr] = zincr_sent.get(w.zctr, 0) + w.sent_zincrs
            total_acked += sum(len(w.acked_pushes) + len(w.acked_pops) + len(w.acked_sadds) +
                               len(w.acked_srems) + len(w.acked_zadds) + len(w.acked_zpops) +
                               w.acked_zincrs for w in ws)
            writers += ws
            p.send_signal(signal.SIGKILL)
            p.wait()
            for w in ws:
                sets += w.acked_sets
                fields += w.acked_fields
                for k, n in w.acked_incrs.items():
                    incrs[k] = incrs.get(k, 0) + n
                total_acked += len(w.acked_sets) + len(w.acked_fields) + sum(w.acked_incrs.values())
            # restart and check this round's acknowledged writes, a sample of the earlier
            # rounds' (all of them after the last round)
            p = start(port, datadir, log)
            c = Conn(port)
            last = rnd == ROUNDS - 1
            fresh = lambda lst, n: lst if last else lst[n:] + rng.sample(lst[:n], min(n, 2000))
            lost = verify(c, fresh(sets, nsets), fresh(fields, nfields), incrs)
            lost += verify_zincr(c, zincr_acked, zincr_sent)
            if last:
                list_lost += verify_collections(c, writers)
            # DBSIZE must count exactly the keys there are
            keys, cur = set(), b"0"
            while True:
                t, (cur_r, items) = c.call("scan", cur, "count", "1000")
                keys.update(x[1] for x in items[1])
                cur = cur_r[1]
                if cur == b"0":
                    break
            dbsize = int(c.call("dbsize")[1])
            if dbsize != len(keys):
                print("round %d: DBSIZE %d but SCAN finds %d keys" % (rnd, dbsize, len(keys)))
                failures += 1
            if lost or list_lost:
                print("round %d: %d acknowledged writes lost, %d lists, sets or sorted sets "
                      "wrong" % (rnd, lost, list_lost))
                failures += 1
            p.send_signal(signal.SIGKILL)
            p.wait()
        print("%d rounds (seed %d): %d acknowledged writes, each checked after the kill -9 "
              "that followed it and all after the last; %d failures"
              % (ROUNDS, SEED, total_acked, failures))
        return 1 if failures else 0
    finally:
        log.close()
        if failures and os.environ.get("KEEP_TMP"):
            print("data and log in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
