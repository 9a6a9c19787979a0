#!/usr/bin/python3
"""server_repl_fullsync.py - full syncs (docs/server.md, "Replication"): a replica whose
position the primary's backlog no longer holds gets a checkpoint of the primary's files,
then the records after it.

- fresh_replica_after_backlog: a primary with a 16 KiB backlog and tables, value-log
  segments and every kind of key; a new replica reaches it by full sync (its log says
  so), then follows it: equal content (SCAN + DUMP + PTTL of every database, DBSIZE,
  INFO keyspace), equal offsets.
- under_writes: the same while a writer keeps writing during the transfer; every write
  acknowledged is on the replica once it caught up.
- replica_back_after_backlog: a replica killed with -9, the primary writing past its
  backlog meanwhile: it resyncs in full on restart and keeps the files it had
  (`REPLCONF have`: the primary's log counts them).
- primary_went_back: a primary restarted on an older copy of its data directory (repl-id
  file included, as a restore or a power cut with sync-writes no can leave it) while its
  replica holds records the primary no longer has; the primary then writes past that
  point. The replica's PSYNC names a point that is not in the primary's history any
  more: it must be fully resynced (its tail dropped), never continued on top of it.
- killed_mid_sync: a replica killed with -9 while a full sync's files arrive restarts,
  syncs again and ends equal; nothing half-received is left beside its data directory.
- fifo_not_copied: fifo databases are not replicated (docs/server.md), so a full sync
  must not copy them either: a copy would never see the primary's later writes and a
  replica (or, after a failover, the new primary) would serve values the primary has
  since overwritten or deleted. The replica's fifo database is empty and stays so while
  the primary's is written; it is a fifo database still, and a promoted replica writes
  to it; every other database is equal. The old primary then follows the promoted one
  (a partial sync): its fifo database is emptied too.
- swap_waits_for_busy_script: a full sync that arrives while a read-only script runs
  past busy-reply-threshold on the replica is swapped in after the script, not under it.
"""
import glob
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.harness import TMP, check, run_checks, run_main, start_server  # noqa: E402
from lib.repl import (caught_up, info, link_up, same_content, start_replica,  # noqa: E402
                      wait_for, workload)

SMALL = ("--repl-backlog-size", "16384", "--memtable-size", "262144", "--sync-writes", "no")


def log_of(name):
    with open(os.path.join(TMP, name + ".log"), errors="replace") as f:
        return f.read()


def fill(c, rnd, rounds=8):
    for _ in range(rounds):
        workload(c, rnd, 400)
    for i in range(3000):  # tables and value-log segments, far past the backlog
        c.call("set", "fill:%d" % i, os.urandom(700 if i % 3 == 0 else 40))


def primary(name):
    pp, port, c = start_server(name, *SMALL)
    return pp, port, c


def fresh_replica_after_backlog():
    rnd = random.Random(1)
    _, port, p = primary("p1")
    fill(p, rnd)
    _, _, r = start_replica("r1", port, *SMALL[2:])
    wait_for(lambda: link_up(r) and caught_up(p, [r]), "the replica caught up", 60)
    check("full sync" in log_of("r1").lower(), "the replica's log tells no full sync")
    workload(p, rnd, 300)  # then the stream
    wait_for(lambda: caught_up(p, [r]), "caught up after the full sync", 30)
    same_content(p, [r])


def under_writes():
    rnd = random.Random(2)
    _, port, p = primary("p2")
    fill(p, rnd)
    acked, stop = [], threading.Event()

    def writer():
        from server_compare import Conn
        w = Conn(port)
        n = 0
        while not stop.is_set():
            n += 1
            if w.call("set", "w:%d" % n, os.urandom(300)) == (b"+", b"OK"):
                acked.append(n)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    _, _, r = start_replica("r2", port, *SMALL[2:])
    wait_for(lambda: link_up(r), "the link up", 60)
    time.sleep(0.5)
    stop.set()
    t.join(10)
    wait_for(lambda: caught_up(p, [r]), "caught up", 60)
    missing = [n for n in acked if r.call("exists", "w:%d" % n) != (b":", b"1")]
    check(not missing, "%d acknowledged writes missing on the replica, e.g. %r" %
          (len(missing), missing[:5]))
    check(len(acked) > 100, "only %d writes during the sync" % len(acked))
    same_content(p, [r])


def replica_back_after_backlog():
    rnd = random.Random(3)
    _, port, p = primary("p3")
    fill(p, rnd, 2)
    rp, rport, r = start_replica("r3", port, *SMALL[2:])
    wait_for(lambda: link_up(r) and caught_up(p, [r]), "first sync", 60)
    rp.kill()
    rp.wait()
    for i in range(2000):  # past the 16 KiB backlog
        p.call("set", "after:%d" % i, os.urandom(100))
    before = log_of("p3").count("full sync")
    _, _, r = start_replica("r3", port, *SMALL[2:], port=rport)
    wait_for(lambda: link_up(r) and caught_up(p, [r]), "resynced", 60)
    check(log_of("p3").count("full sync") > before, "no full sync after the backlog moved on")
    kept = log_of("p3").split("full sync")[-1]
    check("listed 0 files" not in kept, "the replica listed no file to keep")
    same_content(p, [r])


def primary_went_back():
    import shutil
    from server_compare import Conn
    pp, port, p = primary("p5")
    rp, rport, r = start_replica("r5", port, *SMALL[2:])
    for i in range(200):
        p.call("set", "a:%d" % i, "1")
    wait_for(lambda: link_up(r) and caught_up(p, [r]), "first sync", 60)
    try:
        p.call("shutdown")
    except (OSError, EOFError):
        pass  # (SHUTDOWN closes the connection)
    pp.wait()
    older = os.path.join(TMP, "p5.older")
    shutil.copytree(os.path.join(TMP, "p5"), older)
    pp, _, p = start_server("p5", *SMALL, port=port)
    wait_for(lambda: link_up(r), "link back", 30)
    for i in range(200):
        p.call("set", "b:%d" % i, "1")  # the records the primary will lose
    wait_for(lambda: caught_up(p, [r]), "b caught up", 60)
    rp.kill()
    rp.wait()
    pp.kill()
    pp.wait()
    shutil.rmtree(os.path.join(TMP, "p5"))
    shutil.copytree(older, os.path.join(TMP, "p5"))
    pp, _, p = start_server("p5", *SMALL, port=port)
    for i in range(600):  # past where the replica is
        p.call("set", "c:%d" % i, "1")
    _, _, r = start_replica("r5", port, *SMALL[2:], port=rport)
    wait_for(lambda: link_up(r) and caught_up(p, [r]), "synced again", 60)
    check(Conn(rport).call("exists", "b:0") == (b":", b"0"), "the replica kept the lost tail")
    same_content(p, [r])


def killed_mid_sync():
    rnd = random.Random(4)
    _, port, p = primary("p4")
    fill(p, rnd, 4)
    for i in range(20000):  # some 40 MB to send: the transfer lasts long enough to be cut
        p.call("set", "bulk:%d" % i, os.urandom(2000))
    rport, cut = None, False
    for _ in range(3):  # until a kill lands while the files arrive
        rp, rport, r = start_replica("r4", port, *SMALL[2:], **({"port": rport} if rport else {}))
        end = time.time() + 30
        while time.time() < end and not cut:
            state = info(r)
            if state.get("master_sync_in_progress") == "1":
                cut = True
            elif state.get("master_link_status") == "up":
                break
        rp.kill()
        rp.wait()
        if cut:
            break
    check(cut, "no kill landed during a full sync's transfer")
    _, _, r = start_replica("r4", port, *SMALL[2:], port=rport)
    wait_for(lambda: link_up(r) and caught_up(p, [r]), "synced after the kill", 90)
    same_content(p, [r])
    data = os.path.join(TMP, "r4")
    left = [d for d in glob.glob(data + ".*") if not d.endswith(".log")]
    check(not left, "left beside the data directory: %r" % left)


def fifo_not_copied():
    rnd = random.Random(5)
    _, port, p = primary("p6")
    check(p.call("config", "set", "db3-compaction-style", "fifo")[0] == b"+", "db3 fifo")
    p.call("select", "3")
    for i in range(200):
        p.call("set", "cache:%d" % i, "old%d" % i)
    p.call("select", "0")
    fill(p, rnd, 2)
    _, _, r = start_replica("r6", port, *SMALL[2:])
    wait_for(lambda: link_up(r) and caught_up(p, [r]), "the replica caught up", 60)
    check("full sync" in log_of("r6").lower(), "the replica's log tells no full sync")
    p.call("select", "3")
    p.call("set", "cache:1", "new1")
    p.call("del", "cache:2")
    p.call("select", "0")
    workload(p, rnd, 100)
    wait_for(lambda: caught_up(p, [r]), "caught up", 30)
    r.call("select", "3")
    for k in ("cache:0", "cache:1", "cache:2"):
        got = r.call("get", k)[1]
        check(got is None, "the replica serves %s=%r from a fifo database's copy" % (k, got))
    check(int(r.call("dbsize")[1]) == 0, "the replica's fifo database is not empty")
    r.call("select", "0")
    style = r.call("config", "get", "db3-compaction-style")[1]
    check(style[1][1] == b"fifo", "db3 on the replica: %r" % (style,))
    same_content(p, [r], skip_dbs=(3,))
    check(r.call("replicaof", "no", "one")[0] == b"+", "promotion")
    r.call("select", "3")
    check(r.call("set", "cache:9", "x")[0] == b"+", "a write to the promoted fifo database")
    check(r.call("get", "cache:9")[1] == b"x", "read back")
    r.call("select", "0")
    # the old primary follows the promoted replica, by partial sync (nothing diverged):
    # its own fifo copy would go stale as well, so a node that becomes a replica empties
    # its fifo databases
    rport = int(info(r, "server")["tcp_port"])
    check(p.call("replicaof", "127.0.0.1", str(rport))[0] == b"+", "the old primary follows")
    wait_for(lambda: link_up(p) and caught_up(r, [p]), "the old primary caught up", 60)
    check("partial sync with primary" in log_of("p6"), "the old primary synced in full")
    p.call("select", "3")
    got = p.call("get", "cache:0")[1]
    check(got is None, "the old primary, now a replica, serves cache:0=%r" % (got,))
    check(int(p.call("dbsize")[1]) == 0, "the old primary's fifo database is not empty")
    p.call("select", "0")


def swap_waits_for_busy_script():
    """A full sync's swap closes the store: not while a script runs past
    busy-reply-threshold on the replica (it lends the lock to serve -BUSY, and its reads
    would meet a closed engine, or the new data midway). A primary's data is written and
    the primary stopped; the replica is started towards its port, a read-only script
    spins on it for 4 s, and the primary starts again on that data meanwhile: the
    replica's full sync arrives during the script. The script's two reads agree, the
    replica lives and ends equal to the primary."""
    pp, pport, p = primary("p7")
    p.call("set", "k", "v")
    fill(p, random.Random(7), 1)
    pp.terminate()
    pp.wait()
    _, _, r = start_replica("r7", pport, *SMALL[2:], "--busy-reply-threshold", "100")
    spin = ("local a = redis.call('get', KEYS[1]) "
            "local t = redis.call('time') local start = t[1] * 1000 + t[2] / 1000 "
            "repeat redis.call('get', KEYS[1]) t = redis.call('time') "
            "until t[1] * 1000 + t[2] / 1000 - start > 4000 "
            "return {a, redis.call('get', KEYS[1])}")
    out = []
    t = threading.Thread(target=lambda: out.append(r.call("eval_ro", spin, "1", "k")))
    t.start()
    time.sleep(0.3)
    _, _, p = start_server("p7", *SMALL, port=pport)
    t.join()
    check(out and out[0][1][0] == out[0][1][1],
          "the script saw the full sync land midway: %r" % (out,))
    wait_for(lambda: link_up(r) and caught_up(p, [r]), "the replica caught up", 60)
    log = log_of("r7")
    check("full sync" in log.lower(), "no full sync")
    check(log.index("slow script detected") < log.index("swapping it in"), "the order")
    same_content(p, [r])


def main():
    return run_checks([
        ("fresh_replica_after_backlog", fresh_replica_after_backlog),
        ("under_writes", under_writes),
        ("replica_back_after_backlog", replica_back_after_backlog),
        ("primary_went_back", primary_went_back),
        ("killed_mid_sync", killed_mid_sync),
        ("fifo_not_copied", fifo_not_copied),
        ("swap_waits_for_busy_script", swap_waits_for_busy_script),
    ], sys.argv[1] if len(sys.argv) > 1 else None)


if __name__ == "__main__":
    run_main(main)
