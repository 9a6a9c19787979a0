#!/usr/bin/python3
"""server_compare_notify.py - keyspace notifications against redis-server 7.0 as the oracle.

A subscriber PSUBSCRIBEs __key*__:* on each server; a writer runs the same script of
commands on both (every type, expiry, MULTI/EXEC) under several notify-keyspace-events
settings, then publishes an end marker; the messages each subscriber received up to the
marker are compared in order (RESP2 and RESP3), with the writer's replies and CONFIG GET
of the setting. Then shale alone: an expired event from the expiry cycle (nobody reads the
key) and an evicted event under a small maxmemory. Exit 0 when no difference, 1
otherwise, 77 when redis-server is missing.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, canon, encode, oracle_exit, run_oracle  # noqa: E402

# notify-keyspace-events settings the script runs under (each class alone, both channel
# kinds, A with its abbreviation, and n/m that A leaves out)
SETTINGS = ["KEA", "Kg", "E$", "Kl", "Es", "Kh", "Ez", "Ex", "KEn", "Em", "KEAnm",
            "gl$shzxeKE", "Atd", "K", ""]

# (command words, sleep after) - every write of every type shale has
SCRIPT = [
    "set s1 v", "set s1 v2 ex 100", "set s1 v3 keepttl", "set s1 v4 nx", "set s2 v xx",
    "set s2 v get", "setnx s3 v", "setnx s3 v", "setex s4 100 v", "psetex s5 100000 v",
    "getset s1 w", "getdel s4", "getdel s4", "getex s5 persist", "getex s5 persist",
    "getex s5 ex 100", "getex s3 pxat 1", "mset m1 a m2 b m1 c", "msetnx m1 x m9 y",
    "msetnx n1 x n2 y", "incr i", "incrby i 5", "decr i", "decrby i 2", "incrbyfloat f 1.5",
    "append s1 xyz", "append ap new", "setrange s1 2 ZZ", "setrange sr 3 ab",
    "setrange sr 1 ''", "get nosuch", "mget s1 nosuch", "exists nosuch", "strlen nosuch",
    "del s1 nosuch s2", "expire s5 100", "expire s5 100 nx", "pexpire s5 -1", "expire nosuch 5",
    "set p v ex 100", "persist p", "persist p", "expireat p 1", "set r1 v", "rename r1 r2",
    "set r3 v", "rename r2 r3", "renamenx r3 r4", "set r5 v", "renamenx r4 r5", "rename r5 r5",
    "copy r4 c1", "copy r4 c1", "copy r4 c1 replace", "copy r4 c1 db 2", "move c1 3",
    "move nosuch 3", "move r4 2",
    "lpush l a b c", "rpush l d", "lpushx nol x", "rpushx l e", "lpop l", "rpop l 2",
    "lset l 0 Z", "linsert l before Z Y", "linsert l before nosuch Q", "lrem l 0 nosuch",
    "lrem l 1 Y", "ltrim l 0 0", "ltrim l 1 0", "rpush l2 a b c", "rpoplpush l2 l3",
    "lmove l2 l3 left right", "lmove l3 l3 left left", "lmpop 2 nol l2 left count 5",
    "blpop l3 0", "brpop l3 0", "rpush l4 x", "brpoplpush l4 l5 0", "blmove l5 l4 left left 0",
    "blmpop 0 1 l4 right", "lpop l4", "llen l4", "lrange nosuch 0 -1",
    "sadd st a b c", "sadd st a", "srem st x", "srem st a", "smove st st2 b", "smove st st2 x",
    "smove st st2 c", "sadd st a", "spop st", "sadd st a b c", "spop st 3 #set", "sadd st a",
    "spop st 1", "spop st 1", "sadd x1 a b",
    "sadd x2 b c", "sinterstore x3 x1 x2", "sunionstore x4 x1 x2", "sdiffstore x5 x1 x2",
    "sinterstore x4 x1 nosuch", "sdiffstore x6 nosuch", "smembers nosuch",
    "zadd z 1 a 2 b", "zadd z 1 a", "zadd z xx 5 c", "zadd z incr 3 a", "zincrby z 1 b",
    "zrem z nosuch", "zrem z a", "zadd z 1 a 2 b 3 c 4 d", "zremrangebyrank z 0 0",
    "zremrangebyscore z 2 2", "zremrangebylex z - +", "zadd z 1 a 2 b 3 c", "zpopmin z",
    "zpopmax z 5", "zadd z 1 a 2 b", "zmpop 1 z min", "bzpopmin z 0", "zadd za 1 a 2 b",
    "zadd zb 2 b 3 c", "zunionstore zu 2 za zb", "zinterstore zi 2 za zb", "zdiffstore zd 2 za zb",
    "zinterstore zi 2 za nosuch", "zrangestore zr za 0 -1", "zrangestore zr nosuch 0 -1",
    "bzmpop 0 1 za max", "zscore nosuch a",
    "hset h a 1 b 2", "hset h a 1", "hsetnx h a 2", "hsetnx h c 3", "hmset h d 4",
    "hdel h nosuch", "hdel h a", "hincrby h n 5", "hincrbyfloat h fl 1.5", "hdel h b c d n fl",
    "hget nosuch a",
    "geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
    "geosearchstore gs g fromlonlat 15 37 byradius 200 km asc",
    "geosearchstore gs g fromlonlat 0 0 byradius 1 km asc",
    "georadius g 15 37 200 km store gr", "georadius g 15 37 200 km storedist grd",
    "georadiusbymember g Palermo 1 km store gr",
    "rpush so 3 1 2", "sort so store sos", "sort nosuch store sos", "sort so",
    "type nosuch", "ttl nosuch", "flushdb", "set after v",
    "multi", "set t1 v", "lpush t2 a", "incr t1", "del t2", "exec",
    "watch w", "set w 1", "multi", "set t3 v", "exec",
    "multi", "set t4 v", "lpush t4 x", "incr t4n", "exec",
]


def run_script(writer, sub, setting, proto):
    """The writer's replies and the messages the subscriber got (up to the marker)."""
    replies = [canon(writer.call("config", "set", "notify-keyspace-events", setting), ""),
               canon(writer.call("config", "get", "notify-keyspace-events"), "")]
    for line in SCRIPT:
        mode = "set" if line.endswith(" #set") else ""
        words = [w if w != "''" else "" for w in line.split() if w != "#set"]
        replies.append(canon(writer.call(*words), mode))
    # a client blocked on a list, served by a push: the push's events, then the pop's
    blocked = Conn(writer.s.getpeername()[1])
    blocked.s.sendall(encode(["blpop", "bl", "0"]))
    time.sleep(0.1)
    replies.append(canon(writer.call("rpush", "bl", "x"), ""))
    replies.append(canon(blocked.reply(), ""))
    blocked.s.close()
    payload = writer.call("dump", "after")[1]
    for args in (("rs", "0", payload), ("rs", "0", payload), ("rs", "0", payload, "replace"),
                 ("rs", "1", payload, "replace", "absttl"), ("rs2", "1", payload, "absttl")):
        replies.append(canon(writer.call("restore", *args), ""))
    replies.append(canon(writer.call("set", "ex1", "v", "px", "30"), ""))
    time.sleep(0.35)  # reaped by the expiry cycle (or by the next read), on both
    replies.append(canon(writer.call("get", "ex1"), ""))
    writer.call("publish", "__keyend__:x", "end")
    got = []
    while True:
        msg = sub.reply()
        if msg[1][-1] == (b"$", b"end"):
            break
        got.append(msg)
    return replies, got


def per_proto(shale, redis, proto):
    diffs = 0
    subs = []
    for c in (shale, redis):
        sub = Conn(c.s.getpeername()[1])
        if proto == 3:
            sub.call("hello", "3")
        sub.call("psubscribe", "__key*__:*")
        subs.append(sub)
    for setting in SETTINGS:
        for c in (shale, redis):
            c.call("flushall")
        a = run_script(shale, subs[0], setting, proto)
        b = run_script(redis, subs[1], setting, proto)
        for what, x, y in (("replies", a[0], b[0]), ("messages", a[1], b[1])):
            if x != y:
                diffs += 1
                print("DIFF RESP%d setting %r %s" % (proto, setting, what))
                for i in range(max(len(x), len(y))):
                    xi = x[i] if i < len(x) else None
                    yi = y[i] if i < len(y) else None
                    if xi != yi:
                        print("  first at %d\n  shale %r\n  redis %r" % (i, xi, yi))
                        break
    for value in ("KEAq", "A ", "gKE", "$lshzxeKE", "KA", "EA", "mnAKE", "Km", "tdn"):
        got = [(canon(c.call("config", "set", "notify-keyspace-events", value), ""),
                canon(c.call("config", "get", "notify-keyspace-events"), ""))
               for c in (shale, redis)]
        if got[0] != got[1]:
            diffs += 1
            print("DIFF RESP%d CONFIG SET/GET notify-keyspace-events %r\n  shale %r\n  redis %r"
                  % (proto, value, got[0], got[1]))
    for c in (shale, redis):
        c.call("config", "set", "notify-keyspace-events", "")
    return diffs


def read_until(sub, want, seconds):
    """True when a message whose last part is want arrives within seconds."""
    sub.s.settimeout(seconds)
    try:
        while True:
            msg = sub.reply()
            if msg[1][-1] == (b"$", want):
                return True
    except OSError:
        return False
    finally:
        sub.s.settimeout(10)


def shale_only(sp, rp):
    """The expiry cycle's expired event, and an evicted event, on shale."""
    diffs = 0
    w, sub = Conn(sp), Conn(sp)
    sub.call("psubscribe", "__keyevent@*")
    w.call("config", "set", "notify-keyspace-events", "Exe")
    w.call("psetex", "active", "50", "v")  # nobody reads it: the cycle reaps it
    if not read_until(sub, b"active", 3):
        diffs += 1
        print("DIFF no expired event from the expiry cycle")
    diffs += evictions(w, sub)
    return diffs


def evictions(w, sub):
    """Writes past maxdisk under allkeys-random: one evicted event per evicted key (INFO's
    evicted_keys), each naming a key that is gone, in the database it was in."""
    w.call("flushall")
    w.call("config", "set", "maxmemory-policy", "allkeys-random")
    w.call("config", "set", "maxdisk", "8mb")
    i = 0
    while b"evicted_keys:0\r" in w.call("info", "stats")[1] and i < 20000:
        for j in range(32):
            w.call("set", "k%d" % (i + j), os.urandom(4000))
        i += 32
    w.call("config", "set", "maxdisk", "0")
    w.call("config", "set", "maxmemory-policy", "noeviction")
    info = w.call("info", "stats")[1].decode()
    evicted = int(info.split("evicted_keys:")[1].split("\r")[0])
    got = []
    sub.s.settimeout(1)
    try:
        while True:
            got.append(sub.reply()[1])
    except OSError:
        pass
    sub.s.settimeout(10)
    names = [m[3][1] for m in got if m[2][1] == b"__keyevent@0__:evicted"]
    live = [k for k in names if w.call("exists", k) != (b":", b"0")]
    if evicted == 0 or len(names) != evicted or live:
        print("DIFF evicted events: %d keys evicted, %d events, still there %r" %
              (evicted, len(names), live[:3]))
        return 1
    return 0


def main():
    diffs = run_oracle(per_proto, shale_only)
    return oracle_exit(diffs, "%d commands under %d settings" % (len(SCRIPT), len(SETTINGS)))


if __name__ == "__main__":
    sys.exit(main())
