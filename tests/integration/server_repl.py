#!/usr/bin/python3
"""server_repl.py - replication between shale nodes end to end (docs/server.md,
"Replication"): a primary and two replicas (replicaof at startup) under writes of every
kind (strings with TTLs, hashes, lists, sets, sorted sets, values in the value log,
EVAL, MULTI, FLUSHDB, SWAPDB, FUNCTION LOAD, keys expired by the primary): equal offsets,
equal content key by key (SCAN + DUMP + PTTL in every database), equal DBSIZE and INFO
keyspace; WAIT counting both replicas, and woken by each ack; WATCH on a replica seeing the primary's writes,
client tracking on a replica invalidated by them;
-READONLY and INFO replication's field names compared with a redis-server replica (the
oracle); a busy read-only script on a replica not seeing the primary's records midway;
a replica killed with -9 mid-stream continuing by partial sync; REPLICAOF NO ONE
promoting a replica that its sibling then follows by partial sync; the links in CLIENT
LIST (type replica, flags=S, on the primary; type master, flags=M, on a replica) and
dropped by CLIENT KILL TYPE / ID / ADDR (they come back by partial sync), not by TYPE
normal, with the reply shapes and INFO connected_clients compared with a redis-server
primary and replica.
"""
import os
import random
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, free_port  # noqa: E402
from lib.repl import (LIB, caught_up, info, link_up, offset,  # noqa: E402
                      same_content, start_replica, wait_for, workload)
from lib.harness import (TMP, check, run_checks, run_main, spawn, start_server,  # noqa: E402
                         wait_up)




def info_names(c):
    return [line.split(":", 1)[0] for line in c.call("info", "replication")[1].decode().split("\r\n")
            if ":" in line]




def client_lines(c, *args):
    """CLIENT LIST [args] as a list of {field: value} (and the field names in order)."""
    body = c.call("client", "list", *args)[1].decode()
    return [dict(f.split("=", 1) for f in line.split(" ")) for line in body.split("\n") if line]


def field_names(c, *args):
    body = c.call("client", "list", *args)[1].decode()
    return [f.split("=", 1)[0] for f in body.split("\n")[0].split(" ")]


def partial_syncs(name):
    return open(os.path.join(TMP, name + ".log")).read().count("partial sync with primary")


def redis_pair():
    """A redis-server primary and one replica (the oracle), the link up: (primary,
    replica, primary's port)."""
    rm_port = free_port()
    spawn(["redis-server", "--port", str(rm_port), "--save", "", "--appendonly", "no",
           "--repl-diskless-sync-delay", "0", "--dir", TMP], stdout=subprocess.DEVNULL)
    rm = wait_up(rm_port)
    rr_port = free_port()
    spawn(["redis-server", "--port", str(rr_port), "--save", "", "--appendonly", "no",
           "--dir", TMP, "--replicaof", "127.0.0.1", str(rm_port)], stdout=subprocess.DEVNULL)
    rr = wait_up(rr_port)
    wait_for(lambda: info(rr).get("master_link_status") == "up", "redis replica up")
    wait_for(lambda: client_lines(rr, "type", "master"), "redis's master client")
    return rm, rr, rm_port


def main():
    rnd = random.Random(int(os.environ.get("SEED", "0")) or None)
    pp, pport, p = start_server("primary", "--sync-writes", "no", "--hz", "50")
    r1p, r1port, r1 = start_replica("r1", pport)
    r2p, r2port, r2 = start_replica("r2", pport)
    nodes = {"r1": [r1p, r1port, r1]}

    def replicas_follow():
        wait_for(lambda: link_up(r1) and link_up(r2), "links up")
        inf = info(p)
        check(inf["connected_slaves"] == "2", inf)
        ports = sorted(int(inf["slave%d" % i].split(",")[1].split("=")[1]) for i in range(2))
        check(ports == sorted([r1port, r2port]), "listening ports: %r" % inf)
        check(r1.call("role")[1][0] == (b"$", b"slave"), "ROLE slave")
        check(r1.call("role")[1][3] == (b"$", b"connected"), "ROLE connected")

    def wait_wakes_on_ack():
        # WAIT 1 0 (no timeout) after each write must end when the replica's ack comes:
        # an ack the sender read between WAIT's count and its registration was lost, and
        # the WAIT hung (until its timeout; here for ever: no later ack moves)
        w = Conn(pport)
        w.s.settimeout(5)
        for i in range(200):
            w.call("set", "wk%d" % i, "v")
            check(w.call("wait", "1", "0") in ((b":", b"1"), (b":", b"2")), "WAIT 1 0")

    def every_kind_replicated():
        check(p.call("function", "load", LIB)[0] == b"$", "FUNCTION LOAD")
        workload(p, rnd)
        p.call("select", "3")
        for i in range(20):
            p.call("set", "gone%d" % i, "x")
        p.call("flushdb")
        p.call("set", "after-flush", "1")
        p.call("select", "0")
        p.call("swapdb", "2", "4")
        workload(p, rnd, 100)
        check(p.call("wait", "2", "5000") == (b":", b"2"), "WAIT 2")
        time.sleep(0.5)  # the primary reaps what expired (hz 50)
        p.call("set", "last", "1")
        wait_for(lambda: caught_up(p, [r1, r2]), "offsets equal")
        check(r1.call("fcall_ro", "bump", "1", "x", "1")[0] == b"-", "a write function on a replica")
        check(r1.call("function", "list")[1] == p.call("function", "list")[1], "FUNCTION LIST")
        same_content(p, [r1, r2])

    def watch_on_replica():
        w = Conn(r1port)
        w.call("watch", "wk")
        p.call("set", "wk", "changed")
        wait_for(lambda: caught_up(p, [r1]), "caught up")
        w.call("multi")
        w.call("get", "wk")
        check(w.call("exec") == (b"*", None), "EXEC after the primary wrote a watched key")

    def tracking_on_replica():
        t = Conn(r1port)
        t.call("hello", "3")
        t.call("client", "tracking", "on")
        p.call("set", "tk", "1")
        wait_for(lambda: caught_up(p, [r1]), "caught up")
        check(t.call("get", "tk") == (b"$", b"1"), "GET on the replica")
        p.call("set", "tk", "2")
        t.s.settimeout(5)
        check(t.reply() == (b">", [(b"$", b"invalidate"), (b"*", [(b"$", b"tk")])]),
              "the primary's write invalidates the replica's tracked key")

    def readonly_like_redis():
        rm_port = free_port()
        spawn(["redis-server", "--port", str(rm_port), "--save", "", "--appendonly", "no",
               "--dir", TMP], stdout=subprocess.DEVNULL)
        rm = wait_up(rm_port)
        rr_port = free_port()
        spawn(["redis-server", "--port", str(rr_port), "--save", "", "--appendonly", "no",
               "--dir", TMP, "--replicaof", "127.0.0.1", str(rm_port)], stdout=subprocess.DEVNULL)
        rr = wait_up(rr_port)
        rm.call("function", "load", LIB)
        wait_for(lambda: info(rr).get("master_link_status") == "up", "redis replica up")
        wait_for(lambda: rr.call("function", "list")[1], "redis replica has the library")
        cases = [("set", "a", "1"), ("incr", "n"), ("del", "a"), ("lpush", "l", "x"),
                 ("get", "a"), ("eval", "return redis.call('set', KEYS[1], 'x')", "1", "a"),
                 ("eval", "return redis.pcall('set', KEYS[1], 'x')", "1", "a"),
                 ("eval", "#!lua\nreturn redis.call('set', KEYS[1], 'x')", "1", "a"),
                 ("eval", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "a"),
                 ("eval", "#!lua flags=no-writes\nreturn redis.call('set', KEYS[1], 'x')", "1", "a"),
                 ("eval_ro", "return redis.call('get', KEYS[1])", "1", "a"),
                 ("fcall", "bump", "1", "a", "1"), ("fcall_ro", "bump", "1", "a", "1"),
                 ("publish", "ch", "m"), ("wait", "1", "10"), ("flushall",),
                 ("config", "set", "replica-read-only", "yes")]
        for case in cases:
            a, b = r1.call(*case), rr.call(*case)
            check(a == b, "%r: shale %r, redis %r" % (case, a, b))
        for conn in (r1, rr):  # a replica ignores maxmemory (its primary evicts for it)
            check(conn.call("config", "set", "maxmemory", "1") == (b"+", b"OK"), "maxmemory 1")
        a, b = r1.call("set", "a", "1"), rr.call("set", "a", "1")
        check(a == b, "SET over maxmemory on a replica: shale %r, redis %r" % (a, b))
        for conn in (r1, rr):
            conn.call("config", "set", "maxmemory", "0")
        for conn in (r1, rr):
            conn.call("multi")
        for case in [("set", "a", "1"), ("get", "a")]:
            a, b = r1.call(*case), rr.call(*case)
            check(a == b, "in MULTI %r: shale %r, redis %r" % (case, a, b))
        a, b = r1.call("exec"), rr.call("exec")
        check(a == b, "EXEC: shale %r, redis %r" % (a, b))
        def hello_role(conn):
            r = conn.call("hello", "2")[1]
            return r[[x[1] for x in r].index(b"role") + 1]
        check(hello_role(r1) == hello_role(rr) == (b"$", b"replica"), "HELLO's role")
        names = [n for n in info_names(rr)
                 if not n.startswith("master_sync_") or n == "master_sync_in_progress"]
        mine = info_names(r1)
        check(mine == names, "INFO replication names: shale %r, redis %r" % (mine, names))
        check(r1.call("replicaof", "127.0.0.1", str(pport)) == rr.call("replicaof", "127.0.0.1", str(rm_port)),
              "REPLICAOF the same primary")
        for case in [("replicaof", "127.0.0.1", "x"), ("replicaof", "127.0.0.1", "70000"),
                     ("slaveof", "a")]:
            a, b = r1.call(*case), rr.call(*case)
            check(a == b, "%r: shale %r, redis %r" % (case, a, b))

    def busy_script_on_replica():
        # A script is atomic on a replica too: while a read-only script runs past
        # busy-reply-threshold (and lends the lock to serve -BUSY), the primary's records
        # wait; its two reads of one key see the same value.
        p.call("set", "bk", "old")
        wait_for(lambda: caught_up(p, [r2]), "caught up")
        r2.call("config", "set", "busy-reply-threshold", "100")
        spin = ("local a = redis.call('get', KEYS[1]) "
                "local t = redis.call('time') local start = t[1] * 1000 + t[2] / 1000 "
                "repeat t = redis.call('time') until t[1] * 1000 + t[2] / 1000 - start > 1500 "
                "return {a, redis.call('get', KEYS[1])}")
        s = Conn(r2port)
        out = []
        t = threading.Thread(target=lambda: out.append(s.call("eval_ro", spin, "1", "bk")))
        t.start()
        time.sleep(0.5)
        p.call("set", "bk", "new")
        t.join()
        r2.call("config", "set", "busy-reply-threshold", "5000")
        check(out[0] == (b"*", [(b"$", b"old"), (b"$", b"old")]),
              "a script on the replica saw the primary's write midway: %r" % (out,))
        wait_for(lambda: caught_up(p, [r2]), "caught up after the script")
        check(r2.call("get", "bk") == (b"$", b"new"), "the write applied after the script")

    def links_in_client_list():
        rm, rr, rm_port = redis_pair()
        wait_for(lambda: link_up(r1) and link_up(r2) and caught_up(p, [r1, r2]), "links up")
        lines = client_lines(p, "type", "replica")
        check(len(lines) == 2 and all(x["flags"] == "S" for x in lines),
              "CLIENT LIST TYPE replica on the primary: %r" % lines)
        check([x["id"] for x in client_lines(p, "type", "slave")] == [x["id"] for x in lines],
              "TYPE slave lists the same")
        masters = [client_lines(r, "type", "master") for r in (r1, r2)]
        check(all(len(m) == 1 and m[0]["flags"] == "M" and m[0]["addr"] == "127.0.0.1:%d" % pport
                  for m in masters), "CLIENT LIST TYPE master on the replicas: %r" % masters)
        check(sorted(x["addr"] for x in lines) == sorted(m[0]["laddr"] for m in masters),
              "the replicas' addresses: %r, %r" % (lines, masters))
        check(all(x["laddr"] == "127.0.0.1:%d" % pport for x in lines), lines)
        check(not [x for x in client_lines(p, "type", "normal") if x["flags"] == "S"],
              "TYPE normal lists no replica")
        check(client_lines(p, "type", "master") == [] and client_lines(r1, "type", "replica") == [],
              "a primary has no master, these replicas no replicas")
        everyone = client_lines(p)
        check(len([x for x in everyone if x["flags"] == "S"]) == 2, "CLIENT LIST: %r" % everyone)
        for name, conn, other in (("primary", p, rm), ("replica", r1, rr)):
            t = "replica" if conn is p else "master"
            a, b = field_names(conn, "type", t), field_names(other, "type", t)
            check(a == b, "%s's field names: shale %r, redis %r" % (name, a, b))
            # connected_clients: the replicas are not counted, a master link is (Redis 7.0)
            n = len(client_lines(conn)) - (2 if conn is p else 0)
            m = len(client_lines(other)) - (1 if other is rm else 0)
            check(int(info(conn, "clients")["connected_clients"]) == n and
                  int(info(other, "clients")["connected_clients"]) == m,
                  "%s's connected_clients: shale %r (%d), redis %r (%d)" % (
                      name, info(conn, "clients"), n, info(other, "clients"), m))
        # TYPE normal and pubsub (Sentinel's failover sends both) leave the links
        for t in ("normal", "pubsub"):
            a, b = p.call("client", "kill", "type", t), rm.call("client", "kill", "type", t)
            check(a[0] == b[0] == b":", "KILL TYPE %s: shale %r, redis %r" % (t, a, b))
        check([x["id"] for x in client_lines(p, "type", "replica")] == [x["id"] for x in lines],
              "the replicas stay after KILL TYPE normal")
        check(link_up(r1) and link_up(r2), "links stay up")
        check(r1.call("client", "kill", "type", "normal")[0] == b":", "KILL TYPE normal on r1")
        check(len(client_lines(r1, "type", "master")) == 1, "r1's master link stays")

        def comes_back(names, before, conns):
            wait_for(lambda: all(link_up(r) for r in conns), "links up again")
            for n, b in zip(names, before):
                wait_for(lambda: partial_syncs(n) > b, n + " back by partial sync")
            p.call("set", "after-kill", "1")
            wait_for(lambda: caught_up(p, [r1, r2]), "offsets equal after the kill")
            for n in names:
                check("full sync" not in open(os.path.join(TMP, n + ".log")).read(),
                      n + " needed no full sync")

        # TYPE replica (and slave): both dropped, both back by partial sync
        before = [partial_syncs("r1"), partial_syncs("r2")]
        a, b = p.call("client", "kill", "type", "replica"), rm.call("client", "kill", "type", "slave")
        check(a == (b":", b"2") and b == (b":", b"1"), "KILL TYPE replica: shale %r, redis %r" % (a, b))
        comes_back(["r1", "r2"], before, [r1, r2])
        wait_for(lambda: len(client_lines(p, "type", "replica")) == 2, "two replicas listed again")
        wait_for(lambda: client_lines(rr, "type", "master"), "redis's link again")
        # TYPE master on a replica: its link, back by partial sync; on a primary: none
        before = [partial_syncs("r1")]
        a, b = r1.call("client", "kill", "type", "master"), rr.call("client", "kill", "type", "master")
        check(a == b == (b":", b"1"), "KILL TYPE master: shale %r, redis %r" % (a, b))
        a, b = p.call("client", "kill", "type", "master"), rm.call("client", "kill", "type", "master")
        check(a == b == (b":", b"0"), "KILL TYPE master on a primary: shale %r, redis %r" % (a, b))
        comes_back(["r1"], before, [r1])
        wait_for(lambda: len(client_lines(r1, "type", "master")) == 1, "r1's link listed again")
        # ID: that replica only
        wait_for(lambda: len(client_lines(p, "type", "replica")) == 2, "two replicas")
        r2_addr = client_lines(r2, "type", "master")[0]["laddr"]
        one = [x for x in client_lines(p, "type", "replica") if x["addr"] == r2_addr][0]
        check([x["id"] for x in client_lines(p, "id", one["id"])] == [one["id"]], "CLIENT LIST ID")
        before = [partial_syncs("r2")]
        r1_log = partial_syncs("r1")
        check(p.call("client", "kill", "id", one["id"]) == (b":", b"1"), "KILL ID of r2's link")
        comes_back(["r2"], before, [r2])
        check(partial_syncs("r1") == r1_log, "r1 was not dropped")
        # ADDR, and the old form (+OK as Redis's)
        wait_for(lambda: len(client_lines(p, "type", "replica")) == 2, "two replicas")
        r1_addr = client_lines(r1, "type", "master")[0]["laddr"]
        before = [partial_syncs("r1")]
        check(p.call("client", "kill", "addr", r1_addr) == (b":", b"1"), "KILL ADDR of r1's link")
        comes_back(["r1"], before, [r1])
        wait_for(lambda: len(client_lines(rr, "type", "master")) == 1, "redis's link")
        wait_for(lambda: len(client_lines(p, "type", "replica")) == 2, "two replicas")
        rr_addr = client_lines(rr, "type", "master")[0]["laddr"]
        r1_addr = client_lines(r1, "type", "master")[0]["laddr"]
        before = [partial_syncs("r1")]
        a, b = p.call("client", "kill", r1_addr), rm.call("client", "kill", rr_addr)
        check(a == b == (b"+", b"OK"), "CLIENT KILL addr: shale %r, redis %r" % (a, b))
        comes_back(["r1"], before, [r1])

    def killed_replica_resumes():
        stop = threading.Event()
        w = Conn(pport)

        def writer():
            i = 0
            while not stop.is_set():
                w.call("set", "kw%d" % (i % 500), "v%d" % i)
                w.call("hset", "kh", "f%d" % (i % 50), i)
                i += 1
        t = threading.Thread(target=writer)
        t.start()
        time.sleep(0.5)
        r1p.kill()
        r1p.wait()
        time.sleep(0.5)
        np, _, nc = start_server("r1", "--sync-writes", "no", "--replicaof", "127.0.0.1",
                                 str(pport), port=r1port)
        nodes["r1"] = [np, r1port, nc]
        wait_for(lambda: link_up(nc), "r1 back")
        time.sleep(0.5)
        stop.set()
        t.join()
        wait_for(lambda: caught_up(p, [nc, r2]), "offsets equal after the restart")
        log = open(os.path.join(TMP, "r1.log")).read()
        check(log.count("partial sync with primary") >= 2, "resumed by partial sync")
        check("full sync" not in log, "no full sync")
        same_content(p, [nc, r2])

    def promotion():
        r1c = nodes["r1"][2]
        wait_for(lambda: caught_up(p, [r1c, r2]), "caught up")
        old = info(p)["master_replid"]
        pp.terminate()
        pp.wait()
        check(r1c.call("replicaof", "no", "one") == (b"+", b"OK"), "NO ONE")
        inf = info(r1c)
        check(inf["role"] == "master" and inf["master_replid2"] == old, inf)
        check(int(inf["second_repl_offset"]) == offset(r1c), inf)
        check(r2.call("replicaof", "127.0.0.1", str(r1port)) == (b"+", b"OK"), "r2 follows r1")
        wait_for(lambda: link_up(r2), "r2 up with r1")
        workload(r1c, rnd, 100)
        check(r1c.call("wait", "1", "5000") == (b":", b"1"), "WAIT on the new primary")
        wait_for(lambda: caught_up(r1c, [r2]), "r2 caught up with r1")
        check(info(r2)["master_replid"] == info(r1c)["master_replid"], "r2 follows r1's history")
        log = open(os.path.join(TMP, "r2.log")).read()
        check("full sync" not in log, "r2 continued by partial sync")
        same_content(r1c, [r2])

    checks = [("replicas_follow", replicas_follow),
              ("wait_wakes_on_ack", wait_wakes_on_ack),
              ("every_kind_replicated", every_kind_replicated),
              ("watch_on_replica", watch_on_replica),
              ("tracking_on_replica", tracking_on_replica),
              ("readonly_like_redis", readonly_like_redis),
              ("busy_script_on_replica", busy_script_on_replica),
              ("links_in_client_list", links_in_client_list),
              ("killed_replica_resumes", killed_replica_resumes),
              ("promotion", promotion)]
    return run_checks(checks, os.environ.get("ONLY"))


if __name__ == "__main__":
    run_main(main)
