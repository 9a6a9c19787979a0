#!/usr/bin/python3
"""server_caps.py - maxmemory and maxdisk with maxmemory-policy noeviction.

Over either cap, commands that add data get Redis's -OOM while reads, deletes and
CONFIG go on, and nothing written before is lost (checked again after a kill -9 and a
restart). Under maxmemory the block cache and the memtables shrink to fit the cap and
grow back when it is lifted. INFO memory reports the parts.
"""
import os
import random
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import encode, info_lines  # noqa: E402
from lib.harness import check, run_main, start_server  # noqa: E402


def info(c, section):
    return info_lines(c, section)


def fill_until_oom(c, value_size, limit, rnd, pipeline=1):
    """SETs new keys (pipeline at a time) until -OOM; returns {key: value} of the
    acknowledged ones and the error."""
    acked = {}
    i = 0
    while i < limit:
        batch = [(b"k%07d" % (i + j), rnd.randbytes(value_size)) for j in range(pipeline)]
        i += pipeline
        c.s.sendall(b"".join(encode([b"set", k, v]) for k, v in batch))
        err = None
        for k, v in batch:
            r = c.reply()
            if r[0] == b"-":
                err = err or r[1]
            else:
                check(r == (b"+", b"OK"), "SET: %r" % (r,))
                acked[k] = v
        if err:
            return acked, err
        if (i // pipeline) % 20 == 0:
            time.sleep(0.02)  # the caps are checked hz times a second
    raise AssertionError("no -OOM after %d writes" % limit)


def over_cap_behaviour(c, acked, name):
    k = next(iter(acked))
    check(c.call("get", k) == (b"$", acked[k]), "GET over %s" % name)
    r = c.call("hset", "newhash", "f", "v")
    check(r[0] == b"-" and r[1].startswith(b"OOM"), "HSET over %s: %r" % (name, r))
    check(c.call("del", "nonexistent") == (b":", b"0"), "DEL over %s" % name)
    check(c.call("expire", k, "1000") == (b":", b"1"), "EXPIRE over %s" % name)
    check(c.call("persist", k) == (b":", b"1"), "PERSIST over %s" % name)
    stats = c.call("info", "commandstats")[1]
    check(b"cmdstat_hset:calls=0" in stats or b"rejected_calls=1" in stats,
          "the refused HSET is not counted as rejected")


def restart_and_verify(p, port, name, acked, *args):
    p.send_signal(signal.SIGKILL)
    p.wait()
    p, port, c = start_server(name, *args)
    lost = [k for k, v in acked.items() if c.call("get", k) != (b"$", v)]
    check(not lost, "%d acknowledged keys lost, e.g. %r" % (len(lost), lost[:3]))
    return p, c


def main():
    rnd = random.Random(11)
    # 1. maxmemory: memtables and block cache are sized to fit under it, so what
    #    passes it is what grows with use: here a client that does not read its
    #    replies (its output buffer counts, as in Redis).
    p, port, c = start_server("mem", "--maxmemory", "4mb")
    acked, big = {}, rnd.randbytes(1 << 20)
    check(c.call("set", "big", big) == (b"+", b"OK"), "SET big")
    acked[b"big"] = big
    for i in range(100):
        k = b"small%d" % i
        check(c.call("set", k, b"v") == (b"+", b"OK"), "SET under the cap")
        acked[k] = b"v"
    slow = socket.create_connection(("127.0.0.1", port))
    slow.sendall(encode([b"get", b"big"]) * 40)  # 40 MiB of replies, never read
    deadline, r = time.time() + 10, None
    while time.time() < deadline:
        r = c.call("set", "more", "x")
        if r[0] == b"-":
            break
        acked[b"more"] = b"x"
        time.sleep(0.05)
    err = r[1]
    check(err == b"OOM command not allowed when used memory > 'maxmemory'.", "error %r" % err)
    m = info(c, "memory")
    check(int(m["used_memory"]) > 4 << 20 and int(m["used_memory_clients"]) > 2 << 20
          and m["maxmemory_human"] == "4.00M", "INFO memory over the cap: %r" % m)
    over_cap_behaviour(c, acked, "maxmemory")
    print("ok   maxmemory noeviction: a client's unread replies pass the cap, SET gets "
          "-OOM; reads, DEL, EXPIRE go on (used_memory %s, clients %s)"
          % (m["used_memory_human"], m["used_memory_clients"]))
    slow.close()
    deadline = time.time() + 10
    while c.call("set", "after", "1") != (b"+", b"OK") and time.time() < deadline:
        time.sleep(0.05)
    check(c.call("get", "after") == (b"$", b"1"), "SET once the client is gone: %r" % info(c, "memory"))
    acked[b"after"] = b"1"
    print("ok   writes accepted again once that client closed")
    p, c = restart_and_verify(p, port, "mem", acked, "--maxmemory", "4mb")
    print("ok   nothing lost: all %d acknowledged keys after kill -9 and restart" % len(acked))

    # 2. maxdisk: -OOM once tables + value log pass it; used_disk within a margin.
    p, port, c = start_server("disk", "--maxdisk", "4mb", "--memtable-size", "256kb")
    acked, err = fill_until_oom(c, 4096, 20000, rnd)
    check(err == b"OOM command not allowed when used disk > 'maxdisk'.", "error %r" % err)
    m = info(c, "memory")
    used = int(m["used_disk"])
    check(4 << 20 < used <= (4 << 20) + (1 << 20),
          "used_disk %d not within 1 MiB over maxdisk" % used)
    over_cap_behaviour(c, acked, "maxdisk")
    print("ok   maxdisk noeviction: %d SETs of 4 KiB, then -OOM at used_disk %s (cap 4.00M)"
          % (len(acked), m["used_disk_human"]))
    p, c = restart_and_verify(p, port, "disk", acked, "--maxdisk", "4mb")
    print("ok   nothing lost after kill -9 and restart")

    # 2b. With the default memtable size, the first log must be sized for the caps at
    #     open: one reserved for a 64 MiB memtable, which maxmemory then cut to 1.5 MiB,
    #     counted 72 MiB once its first memtable was flushed (-OOM for every write, and
    #     under noeviction nothing could roll it).
    p, port, c = start_server("disk-default", "--maxdisk", "32mb", "--maxmemory", "24mb")
    time.sleep(0.3)  # a caps refresh
    for i in range(0, 3000, 50):  # 3 MiB: the first log rolls (at 1 MiB) and counts
        c.s.sendall(b"".join(encode([b"set", b"k%d" % (i + j), rnd.randbytes(1024)])
                             for j in range(50)))
        for j in range(50):
            r = c.reply()
            check(r == (b"+", b"OK"), "SET %d under a 32 MiB maxdisk from start-up: %r"
                  % (i + j, r))
        time.sleep(0.02)
    time.sleep(0.3)
    used = int(info(c, "memory")["used_disk"])
    check(used < 8 << 20, "used_disk %d after 3 MiB of writes" % used)
    print("ok   maxdisk from start-up: 3000 SETs of 1 KiB accepted, used_disk %.1f MiB"
          % (used / 2**20))

    # 3. The caches give way to maxmemory and come back when it is lifted.
    p, port, c = start_server("size", "--block-cache-size", "256mb", "--memtable-size", "64mb")
    c.call("config", "set", "maxmemory", "64mb")
    time.sleep(0.3)
    m = info(c, "memory")
    cap = int(m["block_cache_capacity"])
    check(cap <= (64 << 20) - 2 * (4 << 20), "block cache %d under maxmemory 64mb" % cap)
    check(c.call("config", "get", "memtable-size")[1][1][1] == b"67108864",
          "the configured memtable-size changed")
    c.call("config", "set", "maxmemory", "0")
    time.sleep(0.3)
    check(int(info(c, "memory")["block_cache_capacity"]) == 256 << 20, "cache not restored")
    print("ok   maxmemory 64mb: block cache %d MiB, back to 256 MiB without the cap"
          % (cap >> 20))
    return 0


if __name__ == "__main__":
    run_main(main)
