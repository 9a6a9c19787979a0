#!/usr/bin/python3
"""server_repl_failover.py - FAILOVER on a shale primary (Redis 7.0's coordinated
failover, server/repl/repl_failover.h): under a writer doing SET + WAIT 1, FAILOVER TO r1
makes r1 the primary, the old primary its replica and r2 (which FAILOVER does not touch,
as in Redis) a replica of the old primary: a chain; every write acknowledged before,
during and after is on the new primary, the content is equal on every node. FAILOVER
without TO picks a caught-up replica. The errors and INFO's master_failover_state
compared with a redis-server pair (the oracle); a write held during the wait answered
after ABORT, and -READONLY after a hand-over; TIMEOUT with a replica stopped by SIGSTOP
aborts, and with FORCE promotes it anyway.
"""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode  # noqa: E402
from lib.repl import info, link_up, same_content, start_replica, wait_for  # noqa: E402
from lib.harness import (TMP, check, run_checks, run_main, spawn, start_redis,  # noqa: E402
                         start_server, wait_up)
from server_compare import free_port  # noqa: E402


def trio(tag):
    """A shale primary and two replicas caught up: [(proc, port, conn)] * 3."""
    p = start_server(tag + "-p", "--sync-writes", "no")
    r1 = start_replica(tag + "-r1", p[1])
    r2 = start_replica(tag + "-r2", p[1])
    wait_for(lambda: link_up(r1[2]) and link_up(r2[2]), "replicas up")
    wait_for(lambda: info(p[2])["connected_slaves"] == "2", "two replicas online")
    return p, r1, r2


def stop_all(*nodes):
    for n in nodes:
        n[0].send_signal(signal.SIGCONT)
        n[0].terminate()
        n[0].wait()


def state(c):
    return info(c)["master_failover_state"]


def role(c):
    return info(c)["role"]


def follows(c, port):
    i = info(c)
    return i["role"] == "slave" and i["master_port"] == str(port) and \
        i["master_link_status"] == "up"


def held_set(port, key):
    """A connection that sent SET key 1 whose reply has not come within 0.3 s."""
    c = Conn(port)
    c.s.sendall(encode(["set", key, "1"]))
    c.s.settimeout(0.3)
    try:
        c.s.recv(1)
        raise AssertionError("SET %s was answered during the failover's wait" % key)
    except socket.timeout:
        pass
    c.s.settimeout(10)
    return c


def failover_to_stopped(p, r, *opts):
    """Stops replica r (SIGSTOP), writes what it then lacks, sends FAILOVER TO r with
    opts: the connection of a SET held by the wait."""
    r[0].send_signal(signal.SIGSTOP)
    p[2].call("set", "behind", "1")
    check(p[2].call("failover", "to", "127.0.0.1", str(r[1]), *opts) == (b"+", b"OK"),
          "FAILOVER TO a stopped replica %r" % (opts,))
    return held_set(p[1], "held")


def redis_pair():
    """redis-server primary and replica (the oracle): (primary, replica) as start_redis."""
    rm = start_redis()
    port = free_port()
    proc = spawn(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
                  "--replicaof", "127.0.0.1", str(rm[1]), "--dir", TMP], stdout=subprocess.DEVNULL)
    rr = (proc, port, wait_up(port))
    wait_for(lambda: link_up(rr[2]), "redis replica up")
    wait_for(lambda: info(rm[2])["connected_slaves"] == "1", "redis replica online")
    return rm, rr


def main():
    def errors_like_redis():
        rm, rr = redis_pair()
        rl = start_redis()
        p, r1, r2 = trio("err")
        lone = start_server("err-lone", "--sync-writes", "no")
        try:
            def same(shale, redis, *cmd):
                a, b = shale.call(*cmd), redis.call(*cmd)
                check(a == b, "%r: shale %r, redis %r" % (cmd, a, b))
            same(r1[2], rr[2], "failover")
            same(lone[2], rl[2], "failover")
            bad = [("failover", "to", "127.0.0.1"), ("failover", "timeout", "x"),
                   ("failover", "timeout", "0"), ("failover", "timeout", "-5"),
                   ("failover", "force"), ("failover", "force", "timeout", "100"),
                   ("failover", "to", "127.0.0.1", "1", "force"),
                   ("failover", "to", "127.0.0.1", "1"), ("failover", "to", "127.0.0.1", "x"),
                   ("failover", "to", "nohost", "1", "timeout", "5"),
                   ("failover", "abort"), ("failover", "bogus"),
                   ("failover", "timeout", "5", "timeout", "6"), ("failover", "force", "force"),
                   ("failover", "abort", "timeout", "5"), ("failover", "abort", "abort")]
            for cmd in bad:
                same(p[2], rm[2], *cmd)
            check(state(p[2]) == state(rm[2]) == "no-failover", "no failover")
            # a replica stopped behind the primary: the failover waits
            for prim, rep, rport in ((p, r1, r1[1]), (rm, rr, rr[1])):
                rep[0].send_signal(signal.SIGSTOP)
                prim[2].call("set", "behind", "1")
                check(prim[2].call("failover", "to", "127.0.0.1", str(rport)) == (b"+", b"OK"),
                      "FAILOVER TO a stopped replica")
            check(state(p[2]) == state(rm[2]) == "waiting-for-sync", "waiting")
            same(p[2], rm[2], "failover")
            same(p[2], rm[2], "failover", "to", "127.0.0.1", str(r1[1]))
            same(p[2], rm[2], "replicaof", "127.0.0.1", "1")
            same(p[2], rm[2], "get", "behind")  # reads go on
            hs, hr = held_set(p[1], "held"), held_set(rm[1], "held")
            # CLIENT UNPAUSE does not end FAILOVER's pause
            same(p[2], rm[2], "client", "unpause")
            for c in (hs, hr):
                c.s.settimeout(0.3)
                try:
                    c.s.recv(1)
                    raise AssertionError("CLIENT UNPAUSE released a write held by FAILOVER")
                except socket.timeout:
                    pass
                c.s.settimeout(10)
            same(p[2], rm[2], "failover", "abort")
            check(hs.reply() == hr.reply() == (b"+", b"OK"), "the held SET ran after ABORT")
            check(state(p[2]) == state(rm[2]) == "no-failover", "aborted")
            check(role(p[2]) == role(rm[2]) == "master", "still primaries")
            same(p[2], rm[2], "failover", "abort")
            for rep in (r1, rr):
                rep[0].send_signal(signal.SIGCONT)
        finally:
            stop_all(rm, rr, rl, p, r1, r2, lone)

    def failover_under_writes():
        p, r1, r2 = trio("fo")
        stop = threading.Event()
        acked, errors, readonly = [], [], [0]

        def writer():
            c, i = Conn(p[1]), 0
            while not stop.is_set():
                r = c.call("set", "w%d" % i, "v%d" % i)
                if r[0] == b"-" and r[1].startswith(b"READONLY"):
                    readonly[0] += 1
                    c = Conn(r1[1])  # the new primary, as a client library would find it
                    continue
                if r != (b"+", b"OK"):
                    errors.append(r)
                    return
                c.call("wait", "1", "200")
                acked.append(i)
                i += 1
        t = threading.Thread(target=writer)
        try:
            t.start()
            time.sleep(0.7)
            check(p[2].call("failover", "to", "127.0.0.1", str(r1[1])) == (b"+", b"OK"),
                  "FAILOVER TO r1")
            wait_for(lambda: role(r1[2]) == "master", "r1 promoted")
            wait_for(lambda: follows(p[2], r1[1]), "the old primary follows r1")
            wait_for(lambda: follows(r2[2], p[1]), "r2 follows the old primary (a chain)")
            check(state(p[2]) == "no-failover", "over")
            time.sleep(0.7)
            stop.set()
            t.join()
            check(not errors, "writer errors: %r" % errors)
            check(len(acked) > 20, "writes acknowledged: %d" % len(acked))
            n = len(acked)
            got = r1[2].call("mget", *("w%d" % i for i in acked))[1]
            missing = [acked[j] for j in range(n) if got[j][1] != b"v%d" % acked[j]]
            check(not missing, "acknowledged writes missing on the new primary: %r"
                  % missing[:10])
            inf = info(r1[2])
            check(inf["connected_slaves"] == "1", "r1 has the old primary: %r" % inf)
            same_content(r1[2], [p[2], r2[2]])
        finally:
            stop.set()
            if t.is_alive():
                t.join()
            stop_all(p, r1, r2)

    def failover_to_any():
        p, r1, r2 = trio("any")
        try:
            for i in range(200):
                p[2].call("set", "k%d" % i, "v")
            check(p[2].call("failover") == (b"+", b"OK"), "FAILOVER")
            wait_for(lambda: role(p[2]) == "slave" and info(p[2])["master_link_status"] == "up",
                     "the old primary follows a replica")
            port = int(info(p[2])["master_port"])
            check(port in (r1[1], r2[1]), "it follows a former replica: %d" % port)
            new, other = (r1, r2) if port == r1[1] else (r2, r1)
            check(role(new[2]) == "master", "the chosen one is a primary")
            wait_for(lambda: follows(other[2], p[1]), "the other follows the old primary")
            new[2].call("set", "after", "1")
            check(new[2].call("wait", "1", "5000") == (b":", b"1"), "WAIT on the new primary")
            same_content(new[2], [p[2], other[2]])
        finally:
            stop_all(p, r1, r2)

    def timeout_aborts():
        p, r1, r2 = trio("to")
        try:
            t0 = time.time()
            held = failover_to_stopped(p, r1, "timeout", "500")
            check(held.reply() == (b"+", b"OK"), "the held SET ran after the timeout")
            check(time.time() - t0 >= 0.45, "held until the timeout")
            check(state(p[2]) == "no-failover" and role(p[2]) == "master", "aborted")
            r1[0].send_signal(signal.SIGCONT)
            wait_for(lambda: follows(r1[2], p[1]), "r1 still follows the primary")
            same_content(p[2], [r1[2], r2[2]])
        finally:
            stop_all(p, r1, r2)

    def force_promotes():
        p, r1, r2 = trio("force")
        try:
            held = failover_to_stopped(p, r1, "timeout", "300", "force")
            time.sleep(0.5)  # past the timeout: the hand-over waits for r1's answer
            check(state(p[2]) == "failover-in-progress", "in progress: %s" % state(p[2]))
            r1[0].send_signal(signal.SIGCONT)
            r = held.reply()
            check(r[0] == b"-" and r[1].startswith(b"READONLY"), "held SET: %r" % (r,))
            wait_for(lambda: role(r1[2]) == "master", "r1 promoted")
            wait_for(lambda: follows(p[2], r1[1]), "the old primary follows r1")
            wait_for(lambda: follows(r2[2], p[1]), "r2 follows the old primary")
            same_content(r1[2], [p[2], r2[2]])
        finally:
            stop_all(p, r1, r2)

    checks = [("errors_like_redis", errors_like_redis),
              ("failover_under_writes", failover_under_writes),
              ("failover_to_any", failover_to_any),
              ("timeout_aborts", timeout_aborts),
              ("force_promotes", force_promotes)]
    return run_checks(checks, os.environ.get("ONLY"))


if __name__ == "__main__":
    run_main(main)
