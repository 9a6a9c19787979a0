"""repl.py - what the replication tests share: INFO sections as dicts, waiting for a
condition, a workload of every kind of write, and a primary's content compared with its
replicas' (SCAN + DUMP + PTTL of every database, DBSIZE, INFO keyspace)."""
import os
import time

from lib.harness import start_server


def info(c, section="replication"):
    """INFO section of connection c as {field: value}."""
    out = {}
    for line in c.call("info", section)[1].decode().split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_for(fn, what, timeout=15):
    """Polls fn() until it is true; AssertionError naming `what` after timeout seconds."""
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError("timed out: " + what)


def offset(c):
    return int(info(c)["master_repl_offset"])


def caught_up(p, replicas):
    want = offset(p)
    return all(int(info(r).get("slave_repl_offset", -1)) == want for r in replicas)


def content(c):
    """Every database's keys with their DUMP and their expiry (PEXPIRETIME: the absolute
    time, the same on every node however long the reading takes), plus DBSIZE."""
    out = {}
    for db in range(16):
        c.call("select", db)
        keys, cur = set(), b"0"
        while True:
            r = c.call("scan", cur, "count", "500")
            cur = r[1][0][1]
            keys.update(k[1] for k in r[1][1][1])
            if cur == b"0":
                break
        dump = {}
        for k in sorted(keys):
            at = int(c.call("pexpiretime", k)[1])
            d = c.call("dump", k)[1]
            if d is not None:  # (an expired key SCAN still lists reads as absent)
                dump[k] = (d, at)
        out[db] = (dump, int(c.call("dbsize")[1]))
    c.call("select", 0)
    return out


def differences(p, replicas, skip_dbs=()):
    """What differs between the primary's content and the replicas' (None: nothing),
    read once the replicas have what the primary's reads may have reaped. skip_dbs: fifo
    databases, which are not replicated (docs/server.md)."""
    want = content(p)
    wait_for(lambda: caught_up(p, replicas), "caught up after reading the primary")
    for r in replicas:
        got = content(r)
        for db in (d for d in range(16) if d not in skip_dbs):
            if got[db] != want[db]:
                diff = [k for k in set(want[db][0]) | set(got[db][0])
                        if want[db][0].get(k) != got[db][0].get(k)]
                return "db %d differs: dbsize %d vs %d, keys %r" % (
                    db, want[db][1], got[db][1], diff[:5])
    skipped = ["db%d" % d for d in skip_dbs]
    ks = {k: v for k, v in info(p, "keyspace").items() if k not in skipped}
    for r in replicas:
        if {k: v for k, v in info(r, "keyspace").items() if k not in skipped} != ks:
            return "INFO keyspace: %r vs %r" % (info(r, "keyspace"), ks)
    return None


def same_content(p, replicas, skip_dbs=()):
    """Equal content, after the primary's expiry has settled (a TTL read near a second's
    edge, or a key the primary reaps meanwhile, may differ for a moment)."""
    for _ in range(10):
        why = differences(p, replicas, skip_dbs)
        if why is None:
            return
        time.sleep(0.5)
    raise AssertionError(why)


LIB = ("#!lua name=rlib\n"
       "redis.register_function('bump', function(k, a) return redis.call('incrby', k[1], a[1]) end)")


def workload(c, rnd, n=300):
    """Writes of every kind on connection c."""
    for i in range(n):
        k = "k%d" % rnd.randrange(60)
        op = rnd.randrange(16)
        if op == 0:
            c.call("set", k, "v%d" % i, "ex", str(rnd.randrange(50, 500)))
        elif op == 1:
            c.call("hset", "h" + k, "f%d" % rnd.randrange(10), "x" * rnd.randrange(1, 50))
        elif op == 2:
            c.call("rpush", "l" + k, *("e%d" % j for j in range(rnd.randrange(1, 5))))
        elif op == 3:
            c.call("lpop", "l" + k)
        elif op == 4:
            c.call("sadd", "s" + k, *("m%d" % rnd.randrange(20) for _ in range(3)))
        elif op == 5:
            c.call("zadd", "z" + k, str(rnd.random()), "m%d" % rnd.randrange(20))
        elif op == 6:
            c.call("del", k, "h" + k)
        elif op == 7:
            c.call("set", "big" + k, os.urandom(rnd.randrange(600, 3000)))  # value log
        elif op == 8:
            c.call("eval", "redis.call('incr', KEYS[1]); return redis.call('hincrby', KEYS[2], 'n', 1)",
                   "2", "cnt", "hcnt")
        elif op == 9:
            c.call("multi")
            c.call("incrby", "m" + k, "3")
            c.call("sadd", "sm", k)
            c.call("expire", "sm", "1000")
            c.call("exec")
        elif op == 10:
            c.call("select", "2")
            c.call("set", k, "in2")
            c.call("select", "0")
        elif op == 11:
            c.call("fcall", "bump", "1", "f" + k, "2")
        elif op == 12:
            c.call("set", "short" + k, "gone", "px", "50")  # the primary expires it
        elif op == 13:
            c.call("zrem", "z" + k, "m%d" % rnd.randrange(20))
        elif op == 14:
            c.call("persist", k)
        else:
            c.call("srem", "s" + k, "m%d" % rnd.randrange(20))


def start_replica(name, pport, *args, **kw):
    return start_server(name, "--sync-writes", "no", "--replicaof", "127.0.0.1", str(pport), *args,
                        **kw)


def link_up(r):
    return info(r).get("master_link_status") == "up"
