"""sentinel.py - a primary, its replicas and Debian's redis-sentinel on loopback ports,
for failover tests (tests/integration/server_sentinel.py).

Nodes are shale-server by default, or redis-server 7.0 (kind "redis") to check the
harness itself against the reference. Sentinels run with Redis's own test settings
(down-after 2000 ms, failover-timeout 10000 ms, parallel-syncs 2) and SENTINEL DEBUG
periods short enough for a busy two-core machine (tilt-period 5000, info-period 1000).
Every process is started through harness.spawn, so run_main kills what still runs.
"""
import os
import re
import shutil
import signal
import subprocess
import time

from server_compare import Conn, free_port
from lib.harness import SERVER, TMP, spawn, wait_up

MASTER = "m"


def have_sentinel():
    return shutil.which("redis-sentinel") is not None


class Node:
    """One data node: shale-server (kind "shale") or redis-server (kind "redis"), on a
    fixed port and data directory so that it restarts as the same node."""

    def __init__(self, kind, name, extra=()):
        self.kind, self.name, self.extra = kind, name, list(extra)
        self.port = free_port()
        self.dir = os.path.join(TMP, name)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = None

    def start(self, replicaof=None):
        """Starts the node from its configuration file, written on the first start (with
        replicaof when given) and left to CONFIG REWRITE afterwards, as a deployment
        keeps it: a node Sentinel reconfigured restarts in its new role."""
        conf = os.path.join(TMP, self.name + ".conf")
        if not os.path.exists(conf):
            with open(conf, "w") as f:
                f.write("port %d\nbind 127.0.0.1\n" % self.port)
                if self.kind == "redis":
                    f.write('dir %s\nsave ""\nappendonly yes\n' % self.dir)
                else:
                    f.write("dir %s\n" % os.path.join(self.dir, "data"))
                if replicaof:
                    f.write("replicaof 127.0.0.1 %d\n" % replicaof)
        binary = "redis-server" if self.kind == "redis" else SERVER
        self.proc = spawn([binary, conf] + self.extra, self.name + ".log",
                          stdout=subprocess.DEVNULL)
        wait_up(self.port, log=self.name + ".log")
        return self

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def conn(self, timeout=5):
        c = Conn(self.port)
        c.s.settimeout(timeout)
        return c

    def info(self, section="replication"):
        text = self.conn().call("info", section)[1].decode()
        return dict(ln.split(":", 1) for ln in text.split("\r\n") if ":" in ln)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None


class Sentinel:
    def __init__(self, idx, master_port, quorum=2):
        self.port = free_port()
        self.conf = os.path.join(TMP, "sentinel-%d.conf" % idx)
        with open(self.conf, "w") as f:
            f.write("port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\n"
                    "sentinel resolve-hostnames no\n"
                    "sentinel monitor %s 127.0.0.1 %d %d\n"
                    "sentinel down-after-milliseconds %s 2000\n"
                    "sentinel failover-timeout %s 10000\n"
                    "sentinel parallel-syncs %s 2\n" %
                    (self.port, TMP, MASTER, master_port, quorum, MASTER, MASTER, MASTER))
        self.proc = spawn(["redis-sentinel", self.conf], "sentinel-%d.log" % idx,
                          stdout=open(os.path.join(TMP, "sentinel-%d.out" % idx), "w"))
        c = wait_up(self.port)
        c.call("sentinel", "debug", "tilt-period", "5000", "info-period", "1000",
               "publish-period", "1000")

    def conn(self, timeout=5):
        c = Conn(self.port)
        c.s.settimeout(timeout)
        return c

    def master_state(self):
        r = self.conn().call("sentinel", "master", MASTER)[1]
        vals = [v for _, v in r]
        return {vals[i].decode(): vals[i + 1].decode() for i in range(0, len(vals) - 1, 2)}

    def master_addr(self):
        t, v = self.conn().call("sentinel", "get-master-addr-by-name", MASTER)
        return None if t != b"*" or not v else (v[0][1].decode(), int(v[1][1]))


def wait_for(cond, timeout, what, step=0.2):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return
        except (OSError, EOFError, KeyError, ValueError):
            pass
        time.sleep(step)
    raise AssertionError("%s: not within %.0f s" % (what, timeout))


def replica_synced(node, primary_port):
    info = node.info()
    return (info.get("role") == "slave" and info.get("master_port") == str(primary_port)
            and info.get("master_link_status") == "up")


def offset_of(node):
    info = node.info()
    key = "slave_repl_offset" if info.get("role") == "slave" else "master_repl_offset"
    return int(info[key])


def content(node):
    """Every key of database 0 with its DUMP payload (a node's content, to compare)."""
    c = node.conn(timeout=30)
    out, cursor = {}, b"0"
    while True:
        _, (cur, keys) = c.call("scan", cursor, "count", "1000")
        for _, k in keys[1]:
            out[k] = c.call("dump", k)[1]
        cursor = cur[1]
        if cursor == b"0":
            return out


def parse_switch(msg):
    """+switch-master's payload: "m old-ip old-port new-ip new-port" -> new port."""
    m = re.match(r"\S+ \S+ (\d+) \S+ (\d+)", msg)
    return int(m.group(2)) if m else None
