#!/usr/bin/python3
"""server_repl_primary.py - a primary's side of the replication link (docs/server.md,
"Replication"), against a fake replica speaking the protocol over a socket: REPLCONF's
replies and errors as redis-server 7.0's (the oracle), PSYNC refused without `REPLCONF
capa shale`, `PSYNC ? -1` continuing from a fresh primary's backlog, every record in
order (`*2 $3 rec <batch>`, first sequences contiguous, the last one master_repl_offset),
pings after a second of silence, INFO replication's slave0 line and backlog figures, ROLE's
replica list, WAIT blocking until an ack (and its timeout), a replica that falls out of
the backlog or stays silent past repl-timeout dropped, a stale position (or another
history) answered +FULLRESYNC.
"""
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode  # noqa: E402
from lib.repl import info, wait_for  # noqa: E402
from lib.harness import check, run_checks, run_main, start_redis, start_server  # noqa: E402




class FakeReplica:
    """A replica as the link sees it: the handshake, then records and pings read."""

    def __init__(self, port, capa=True, replid="?", seq=-1, listening=7777, ip=None):
        self.c = Conn(port)
        self.c.s.settimeout(10)
        check(self.c.call("ping") == (b"+", b"PONG"), "ping")
        check(self.c.call("replconf", "listening-port", listening) == (b"+", b"OK"), "port")
        if ip:
            check(self.c.call("replconf", "ip-address", ip) == (b"+", b"OK"), "ip")
        if capa:
            check(self.c.call("replconf", "capa", "eof", "capa", "shale") == (b"+", b"OK"),
                  "capa")
        self.c.s.sendall(encode(["psync", replid, seq]))
        self.first = self.c._line()
        self.pos = None

    def read_frame(self):
        """('rec', first, count, bytes) or ('ping',)."""
        r = self.c.reply()
        check(r[0] == b"*", "a frame is an array: %r" % (r,))
        name = r[1][0][1]
        if name == b"ping":
            return ("ping",)
        check(name == b"rec", "rec or ping: %r" % name)
        rep = r[1][1][1]
        first, count = struct.unpack("<QI", rep[:12])
        return ("rec", first, count, rep)

    def read_until(self, seq, timeout=10):
        """Reads records until one ends at seq; checks they are contiguous."""
        end = time.time() + timeout
        while time.time() < end:
            f = self.read_frame()
            if f[0] != "rec":
                continue
            if self.pos is not None:
                check(f[1] == self.pos + 1, "contiguous: %d after %d" % (f[1], self.pos))
            self.pos = f[1] + f[2] - 1
            if self.pos >= seq:
                return
        raise AssertionError("no record up to %d (at %r)" % (seq, self.pos))

    def ack(self, seq):
        self.c.s.sendall(encode(["replconf", "ack", seq]))

    def close(self):
        self.c.s.close()




def main():
    _, port, c = start_server("primary", "--sync-writes", "no", "--repl-backlog-size", "16kb")
    _, rport, r = start_redis()

    def replconf_like_redis():
        cases = [("replconf",), ("replconf", "listening-port"),
                 ("replconf", "listening-port", "x"), ("replconf", "listening-port", "1"),
                 ("replconf", "ip-address", "a" * 300), ("replconf", "nosuch", "1"),
                 ("replconf", "capa", "eof", "capa", "psync2"), ("replconf", "rdb-only", "2"),
                 ("replconf", "rdb-only", "x"), ("replconf", "rdb-only", "1")]
        for case in cases:
            a, b = c.call(*case), r.call(*case)
            check(a == b, "%r: shale %r, redis %r" % (case, a, b))
        for conn in (c, r):  # ACK and GETACK from a client: no reply at all
            conn.s.sendall(encode(["replconf", "ack", "5"]) + encode(["replconf", "getack", "*"]))
            check(conn.call("ping") == (b"+", b"PONG"), "no reply to ACK/GETACK")

    def psync_without_capa():
        f = FakeReplica(port, capa=False)
        check(f.first.startswith(b"-ERR shale replicates only to shale nodes"), f.first)
        f.close()

    def stream_from_start():
        f = FakeReplica(port, ip="10.1.2.3", listening=7001)
        check(f.first.startswith(b"+CONTINUE "), "continue: %r" % f.first)
        replid = f.first.split()[1].decode()
        check(replid == info(c)["master_replid"], "the primary's replid")
        for i in range(50):
            c.call("set", "k%d" % i, "v" * i)
        c.call("hset", "h", "a", "1", "b", "2")
        c.call("multi")
        c.call("incr", "n")
        c.call("lpush", "l", "x")
        c.call("exec")
        off = int(info(c)["master_repl_offset"])
        f.read_until(off)
        check(f.pos == off, "last record ends at master_repl_offset %d: %r" % (off, f.pos))
        inf = info(c)
        check(inf["connected_slaves"] == "1", inf)
        s0 = inf["slave0"]
        check(s0.startswith("ip=10.1.2.3,port=7001,state=online,offset="), s0)
        check(inf["repl_backlog_active"] == "1", inf)
        check(int(inf["repl_backlog_histlen"]) > 0, inf)
        check(inf["repl_backlog_first_byte_offset"] == "1", inf)  # 16kb holds it all yet
        role = c.call("role")
        check(role[1][2][1][0][1] == [(b"$", b"10.1.2.3"), (b"$", b"7001"), (b"$", b"0")],
              "ROLE's replica: %r" % (role,))
        # WAIT: 0 acked now; blocks until the ack, which it then counts
        check(c.call("wait", "1", "100") == (b":", b"0"), "WAIT times out with 0")
        res = []
        w = Conn(port)
        w.call("set", "mine", "1")
        t = threading.Thread(target=lambda: res.append(w.call("wait", "1", "0")))
        t.start()
        time.sleep(0.3)
        check(not res, "WAIT blocks until the replica acks")
        off = int(info(c)["master_repl_offset"])
        f.read_until(off)
        f.ack(off)
        t.join(5)
        check(res == [(b":", b"1")], "WAIT after the ack: %r" % res)
        check(info(c)["slave0"].endswith("offset=%d,lag=0" % off), info(c)["slave0"])
        check(c.call("wait", "1", "0") == (b":", b"1"), "WAIT with nothing new")
        # a second of silence: a ping
        t0 = time.time()
        check(f.read_frame() == ("ping",), "ping")
        check(time.time() - t0 > 0.5, "after about a second")
        # inside MULTI: the count at once
        c.call("multi")
        c.call("wait", "5", "0")
        ex = c.call("exec")
        check(ex[1][0][0] == b":", "WAIT in EXEC: %r" % (ex,))
        f.close()
        wait_for(lambda: info(c)["connected_slaves"] == "0", "the closed link goes")

    def continue_from_position():
        off = int(info(c)["master_repl_offset"])
        replid = info(c)["master_replid"]
        f = FakeReplica(port, replid=replid, seq=off)
        check(f.first == b"+CONTINUE %s\r\n" % replid.encode(), f.first)
        c.call("set", "after", "1")
        f.read_until(off + 1)
        check(f.pos == off + 1, "the next record: %r" % f.pos)
        f.close()

    def stale_position_resynced():
        for i in range(200):  # past the 16kb backlog
            c.call("set", "big%d" % i, "x" * 400)
        inf = info(c)
        first = int(inf["repl_backlog_first_byte_offset"])
        check(first > 1, "the backlog moved on: %r" % inf)
        check(int(inf["repl_backlog_histlen"]) <= 16384 + 600, inf)
        want = b"+FULLRESYNC " + inf["master_replid"].encode() + b" "
        f = FakeReplica(port, replid=inf["master_replid"], seq=1)
        check(f.first.startswith(want), f.first)  # a full sync, not +CONTINUE
        f.close()
        f = FakeReplica(port, replid="0" * 40, seq=5)  # another history
        check(f.first.startswith(want), f.first)
        f.close()

    def fallen_out_dropped():
        replid = info(c)["master_replid"]
        off = int(info(c)["master_repl_offset"])
        f = FakeReplica(port, replid=replid, seq=off)
        check(f.first.startswith(b"+CONTINUE"), f.first)
        f.c.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        wait_for(lambda: info(c)["connected_slaves"] == "1", "online")
        big = "y" * 8000
        for i in range(3000):  # 24 MB: the socket fills, the backlog moves past it
            c.call("set", "f%d" % (i % 50), big)
            if i % 200 == 0 and info(c)["connected_slaves"] == "0":
                break
        wait_for(lambda: info(c)["connected_slaves"] == "0", "a replica out of the backlog goes")
        f.close()

    def silent_dropped():
        c.call("config", "set", "repl-timeout", "2")
        replid = info(c)["master_replid"]
        f = FakeReplica(port, replid=replid, seq=int(info(c)["master_repl_offset"]))
        wait_for(lambda: info(c)["connected_slaves"] == "1", "online")
        t0 = time.time()
        wait_for(lambda: info(c)["connected_slaves"] == "0", "silent replica dropped", 6)
        check(time.time() - t0 > 1, "not before repl-timeout")
        c.call("config", "set", "repl-timeout", "60")
        f.close()

    checks = [("replconf_like_redis", replconf_like_redis),
              ("psync_without_capa", psync_without_capa),
              ("stream_from_start", stream_from_start),
              ("continue_from_position", continue_from_position),
              ("stale_position_resynced", stale_position_resynced),
              ("fallen_out_dropped", fallen_out_dropped),
              ("silent_dropped", silent_dropped)]
    return run_checks(checks, os.environ.get("ONLY"))


if __name__ == "__main__":
    run_main(main)
