#!/usr/bin/python3
"""server_failover.py - failover under Debian's redis-sentinel with redis-py's Sentinel client.

Three data nodes (one primary, two replicas) and three redis-sentinel processes on
loopback ports. A writer goes through redis-py's Sentinel client (python3-redis):
SET w:<n> then WAIT 1 1000; a write is acknowledged when WAIT says a replica has it.
Each round: kill -9 the primary; the sentinels must elect a replica with the highest
offset (+switch-master) within 15 s; the writer must resume on it; the old primary is
restarted on its directory and must rejoin as a replica of the new one (its divergent
tail dropped); every acknowledged write must be on the new primary, and every node's
content (SCAN + DUMP) must equal the primary's once their offsets meet.

Environment: SHALE_FAILOVER_ROUNDS (default 1, in make test; 10 by hand), SHALE_FAILOVER_NODES=shale|redis
(redis: the same scenario on redis-server 7.0, to check the harness itself),
SHALE_FAILOVER_CLIENT=redis-py|ioredis (ioredis: the writer is lib/failover_writer.js
under node, with ioredis 6 installed by npm into $SHALE_NPM_CACHE, default
~/.cache/shale-npm). Exit 0 passed, 1 failed, 77 when redis-sentinel, python3-redis or
(for ioredis) node/npm is missing.
"""
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn  # noqa: E402
from lib.harness import check, run_main  # noqa: E402
from lib.sentinel import (Node, Sentinel, content, have_sentinel, offset_of,  # noqa: E402
                          parse_switch, replica_synced, wait_for, MASTER)

ROUNDS = int(os.environ.get("SHALE_FAILOVER_ROUNDS", "1"))
KIND = os.environ.get("SHALE_FAILOVER_NODES", "shale")
CLIENT = os.environ.get("SHALE_FAILOVER_CLIENT", "redis-py")
NPM_CACHE = os.environ.get("SHALE_NPM_CACHE", os.path.expanduser("~/.cache/shale-npm"))
SWITCH_LIMIT = 15.0


class Writer(threading.Thread):
    """SET w:<n> n then WAIT 1 1000 through redis-py's Sentinel client, forever."""

    def __init__(self, sentinel_ports):
        super().__init__(daemon=True)
        from redis.sentinel import Sentinel as PySentinel
        self.sentinel = PySentinel([("127.0.0.1", p) for p in sentinel_ports],
                                   socket_timeout=1.0)
        self.acked, self.errors, self.n = [], 0, 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        import redis
        master = self.sentinel.master_for(MASTER, socket_timeout=1.0)
        while not self.stop.is_set():
            self.n += 1
            n = self.n
            try:
                master.set("w:%d" % n, str(n))
                if master.execute_command("WAIT", 1, 1000) >= 1:
                    with self.lock:
                        self.acked.append(n)
            except (redis.exceptions.RedisError, OSError):
                self.errors += 1
                time.sleep(0.1)

    def acked_count(self):
        with self.lock:
            return len(self.acked)


class NodeWriter(threading.Thread):
    """The same writer in node with ioredis (lib/failover_writer.js): reads its
    "ack <n>" and "err" lines."""

    def __init__(self, sentinel_ports):
        super().__init__(daemon=True)
        here = os.path.dirname(os.path.abspath(__file__))
        env = dict(os.environ, NODE_PATH=os.path.join(NPM_CACHE, "node_modules"))
        from lib.harness import spawn
        self.proc = spawn(["node", os.path.join(here, "lib", "failover_writer.js"),
                           ",".join(map(str, sentinel_ports))], "writer.log",
                          stdout=subprocess.PIPE, env=env)
        self.acked, self.errors = [], 0
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def run(self):
        for line in self.proc.stdout:
            if self.stop.is_set():
                break
            if line.startswith(b"ack "):
                with self.lock:
                    self.acked.append(int(line[4:]))
            else:
                self.errors += 1

    def join(self, timeout=None):
        self.stop.set()
        self.proc.kill()
        super().join(timeout)

    def acked_count(self):
        with self.lock:
            return len(self.acked)


def have_ioredis():
    """ioredis 6 under NPM_CACHE (installed with npm when missing)."""
    if not shutil.which("node") or not shutil.which("npm"):
        return False
    if not os.path.isdir(os.path.join(NPM_CACHE, "node_modules", "ioredis")):
        os.makedirs(NPM_CACHE, exist_ok=True)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--prefix", NPM_CACHE,
                        "ioredis@6"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=300)
    return os.path.isdir(os.path.join(NPM_CACHE, "node_modules", "ioredis"))


class Switches(threading.Thread):
    """+switch-master events of one sentinel: (time, new primary's port)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.c = Conn(port)
        self.c.call("subscribe", "+switch-master")
        self.events = []

    def run(self):
        self.c.s.settimeout(None)
        while True:
            try:
                msg = self.c.reply()
            except (OSError, EOFError):
                return
            self.events.append((time.time(), parse_switch(msg[1][2][1].decode())))


def current_primary(nodes, sentinels):
    port = sentinels[0].master_addr()[1]
    return next(n for n in nodes if n.port == port)


def wait_converged(primary, nodes, timeout=60):
    others = [n for n in nodes if n is not primary]
    wait_for(lambda: all(replica_synced(n, primary.port) for n in others), timeout,
             "replicas linked to %s" % primary.name)
    wait_for(lambda: all(offset_of(n) == offset_of(primary) for n in others), timeout,
             "replica offsets equal to the primary's")


def one_round(rnd, nodes, sentinels, writer, switches):
    primary = current_primary(nodes, sentinels)
    before = writer.acked_count()
    wait_for(lambda: writer.acked_count() > before + 20, 20, "writes acknowledged")
    replicas = [n for n in nodes if n is not primary]
    primary.kill()
    t_kill = time.time()
    time.sleep(0.5)  # the replicas' offsets stop moving with their primary gone
    best = max(offset_of(n) for n in replicas)
    wanted = [n.port for n in replicas if offset_of(n) == best]
    seen = len(switches.events)
    wait_for(lambda: len(switches.events) > seen, 40, "+switch-master")
    t_switch, new_port = switches.events[seen]
    took = t_switch - t_kill
    print("round %d: %s killed, +switch-master to %d after %.1f s" %
          (rnd, primary.name, new_port, took))
    check(took <= SWITCH_LIMIT, "+switch-master after %.1f s" % took)
    check(new_port in wanted, "promoted %d, not one with the highest offset %r" % (new_port, wanted))
    after = writer.acked_count()
    wait_for(lambda: writer.acked_count() > after + 20, 30, "the writer resumed")
    primary.start()  # the old primary, on its directory: it must rejoin as a replica
    new_primary = next(n for n in nodes if n.port == new_port)
    wait_converged(new_primary, nodes)
    return new_primary


def check_data(primary, nodes, writer):
    writer.stop.set()
    writer.join(10)
    with writer.lock:
        acked = list(writer.acked)
    wait_converged(primary, nodes)
    c = primary.conn(timeout=30)
    missing = [n for n in acked if c.call("get", "w:%d" % n) != (b"$", str(n).encode())]
    check(not missing, "%d acknowledged writes lost, e.g. %r" % (len(missing), missing[:5]))
    want = content(primary)
    for n in nodes:
        if n is not primary:
            got = content(n)
            check(got == want, "%s differs from the primary: %d keys against %d" %
                  (n.name, len(got), len(want)))
    print("%s: %d writes acknowledged, %d errors while failing over, all on the primary; "
          "%d keys equal on every node" % (CLIENT, len(acked), writer.errors, len(want)))


def main():
    try:
        import redis  # noqa: F401
    except ImportError:
        print("skip: python3-redis missing")
        return 77
    if not have_sentinel():
        print("skip: redis-sentinel missing")
        return 77
    if CLIENT == "ioredis" and not have_ioredis():
        print("skip: node, npm or ioredis missing")
        return 77
    nodes = [Node(KIND, "n%d" % i) for i in range(3)]
    nodes[0].start()
    for n in nodes[1:]:
        n.start(replicaof=nodes[0].port)
    wait_converged(nodes[0], nodes)
    sentinels = [Sentinel(i, nodes[0].port) for i in range(3)]
    wait_for(lambda: all(s.master_state().get("num-slaves") == "2" and
                         s.master_state().get("num-other-sentinels") == "2" for s in sentinels),
             60, "sentinels see 2 replicas and each other")
    switches = Switches(sentinels[0].port)
    switches.start()
    ports = [s.port for s in sentinels]
    writer = NodeWriter(ports) if CLIENT == "ioredis" else Writer(ports)
    writer.start()
    primary = nodes[0]
    for rnd in range(1, ROUNDS + 1):
        primary = one_round(rnd, nodes, sentinels, writer, switches)
    check_data(primary, nodes, writer)
    return 0


if __name__ == "__main__":
    run_main(main)
