#!/usr/bin/python3
"""server_compare.py - every command's replies and errors, byte for byte, against
redis-server 7.0 as the oracle (same commands on both, RESP2 then RESP3).

Both servers get each command as a RESP request on a raw socket; the whole reply is read
and compared. A few replies are compared as sets (field order: shale returns hash fields
in byte order, Redis in insertion order) or by shape (random or server-specific values).
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

BUILD = os.environ.get("SHALE_BUILD", "build")
SERVER = os.path.join(BUILD, "shale-server")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""

    def _fill(self):
        d = self.s.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _line(self):
        while b"\r\n" not in self.buf:
            self._fill()
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[: i + 2], self.buf[i + 2 :]
        return line

    def _exact(self, n):
        while len(self.buf) < n:
            self._fill()
        d, self.buf = self.buf[:n], self.buf[n:]
        return d

    def reply(self):
        """One whole reply as a tree of (type byte, payload or children)."""
        line = self._line()
        t, rest = line[:1], line[1:-2]
        if t in b"+-:,#_(":
            return (t, rest)
        if t in b"$=!":
            n = int(rest)
            if n < 0:
                return (t, None)
            return (t, self._exact(n + 2)[:-2])
        if t in b"*~>%|":
            n = int(rest)
            if n < 0:
                return (t, None)
            k = 2 * n if t in b"%|" else n
            return (t, [self.reply() for _ in range(k)])
        raise ValueError("bad reply line %r" % line)

    def call(self, *args):
        self.s.sendall(encode(args))
        return self.reply()


def canon(r, mode):
    """The comparable form of a reply for a comparison mode."""
    t, v = r
    if mode == "set" and isinstance(v, list):
        if t in b"%":  # maps: pairs as a set
            return (t, sorted(zip(map(repr, v[0::2]), map(repr, v[1::2]))))
        return (t, sorted(map(repr, v)))
    if mode == "shape":
        return (t, len(v) if isinstance(v, list) else None)
    if mode == "scan" and isinstance(v, list):  # [cursor, items]: items as a set
        return (t, sorted(map(repr, v[1][1])))
    return r


# (command, mode): mode "" = bytes equal, "set", "shape", "scan"
CASES = [
    # strings
    ("set k v", ""), ("get k", ""), ("get nokey", ""), ("set k v2 xx get", ""),
    ("set k v3 nx", ""), ("set n1 x nx get", ""), ("set k v ex 100", ""), ("ttl k", ""),
    ("set k v px 100000", ""), ("set k v exat 99999999999", ""), ("expiretime k", ""),
    ("set k v pxat 99999999999999", ""), ("pexpiretime k", ""), ("set k v ex 0", ""),
    ("set k v ex -5", ""), ("set k v ex abc", ""), ("set k v px 1.5", ""),
    ("set k v nx xx", ""), ("set k v ex 10 px 10", ""), ("set k v keepttl ex 10", ""),
    ("set k v keepttl", ""), ("set k v bogus", ""), ("set k", ""), ("get", ""),
    ("setnx k x", ""), ("setnx k2 x", ""), ("setex k3 100 v", ""), ("ttl k3", ""),
    ("setex k3 0 v", ""), ("setex k3 x v", ""), ("psetex k4 100000 v", ""), ("pttl k4", "shape"),
    ("psetex k4 -1 v", ""), ("getset k new", ""), ("getset nokey2 v", ""), ("getdel k", ""),
    ("getdel k", ""), ("set g v", ""), ("getex g", ""), ("getex g ex 100", ""), ("ttl g", ""),
    ("getex g persist", ""), ("ttl g", ""), ("getex g px 0", ""), ("getex g bogus", ""),
    ("getex nokey ex 10", ""), ("getex g ex 10 persist", ""), ("mget k2 nokey g k3", ""),
    ("mset a 1 b 2 c 3", ""), ("mset a 1 b", ""), ("mget a b c", ""), ("msetnx a 1 z 2", ""),
    ("msetnx y 1 z 2", ""), ("msetnx y", ""), ("incr a", ""), ("incr newctr", ""),
    ("decr newctr", ""), ("incrby a 10", ""), ("incrby a x", ""), ("decrby a 5", ""),
    ("decrby a -9223372036854775808", ""), ("set big 9223372036854775807", ""),
    ("incr big", ""), ("set neg -9223372036854775808", ""), ("decr neg", ""),
    ("set s abc", ""), ("incr s", ""), ("set sp ' 1'", ""), ("incr sp", ""),
    ("set lz 01", ""), ("incr lz", ""), ("incrbyfloat f 1.5", ""), ("incrbyfloat f 2.25", ""),
    ("incrbyfloat f -3.75", ""), ("incrbyfloat f 1e3", ""), ("incrbyfloat f abc", ""),
    ("incrbyfloat s 1", ""), ("incrbyfloat f inf", ""), ("set fl 3.0", ""),
    ("incrbyfloat fl 0.1", ""), ("append ap hello", ""), ("append ap ' world'", ""),
    ("get ap", ""), ("strlen ap", ""), ("strlen nokey", ""), ("getrange ap 0 4", ""),
    ("getrange ap -5 -1", ""), ("getrange ap 5 1", ""), ("getrange ap -1 -5", ""),
    ("getrange ap 0 100", ""), ("getrange nokey 0 1", ""), ("getrange ap a b", ""),
    ("setrange sr 5 hi", ""), ("get sr", ""), ("setrange sr 0 HELLO", ""), ("get sr", ""),
    ("setrange sr -1 x", ""), ("setrange nokey3 0 ''", ""), ("exists nokey3", ""),
    ("setrange sr 536870911 xx", ""),
    # keys
    ("del a b nokey", ""), ("unlink c", ""), ("exists a b c k2 k2", ""), ("type k2", ""),
    ("type nokey", ""), ("rename k2 k5", ""), ("get k5", ""), ("rename nokey k6", ""),
    ("rename k5 k5", ""), ("renamenx k5 k5", ""), ("set k7 v", ""), ("renamenx k5 k7", ""),
    ("renamenx k5 k8", ""), ("copy k8 k9", ""), ("copy k8 k9", ""), ("copy k8 k9 replace", ""),
    ("copy k8 k8", ""), ("copy k8 k10 db 1", ""), ("copy k8 k10 db 99", ""),
    ("copy k8 k10 db x", ""), ("copy k8 k10 bogus", ""), ("copy nokey k11", ""),
    ("expire k8 100", ""), ("ttl k8", ""), ("expire k8 100 nx", ""), ("expire k8 200 xx", ""),
    ("expire k8 50 gt", ""), ("expire k8 300 gt", ""), ("expire k8 400 lt", ""),
    ("expire k8 10 lt", ""), ("ttl k8", ""), ("expire k8 10 nx xx", ""),
    ("expire k8 10 gt lt", ""), ("expire k8 10 bogus", ""), ("expire k8 abc", ""),
    ("expire nokey 10", ""), ("pexpire k8 100000", ""), ("pttl k8", "shape"),
    ("expireat k8 99999999999", ""), ("expiretime k8", ""), ("pexpireat k8 99999999999000", ""),
    ("pexpiretime k8", ""), ("persist k8", ""), ("persist k8", ""), ("ttl k8", ""),
    ("ttl nokey", ""), ("pttl nokey", ""), ("expiretime nokey", ""), ("expiretime k9", ""),
    ("expire k9 9223372036854775807", ""), ("set k12 v", ""), ("expire k12 -1", ""),
    ("exists k12", ""), ("touch k9 nokey k9", ""), ("keys k*", "set"), ("keys 'k[0-9]'", "set"),
    ("keys nomatch*", ""), ("keys k8", ""), ("dbsize", ""), ("scan 0 count 1000", "scan"),
    ("scan 0 match 'k*' count 1000", "scan"), ("scan 0 type hash count 1000", "scan"),
    ("scan x", ""), ("scan 0 count 0", ""), ("scan 0 bogus", ""), ("randomkey", "shape"),
    # hashes
    ("hset h f1 v1 f2 v2", ""), ("hset h f1 v1b f3 v3", ""), ("hset h f1", ""),
    ("hget h f1", ""), ("hget h nof", ""), ("hget nokey f", ""), ("hmget h f1 nof f2", ""),
    ("hmget nokey a", ""), ("hmset h f4 v4", ""), ("hmset h f4", ""), ("hsetnx h f1 x", ""),
    ("hsetnx h f5 v5", ""), ("hlen h", ""), ("hlen nokey", ""), ("hexists h f1", ""),
    ("hexists h nof", ""), ("hstrlen h f1", ""), ("hstrlen h nof", ""), ("hgetall h", "set"),
    ("hkeys h", "set"), ("hvals h", "set"), ("hgetall nokey", ""), ("hkeys nokey", ""),
    ("hdel h f4 f4 nof", ""), ("hlen h", ""), ("hincrby h n 5", ""), ("hincrby h n -2", ""),
    ("hincrby h f1 1", ""), ("hincrby h n x", ""), ("hset h m 9223372036854775807", ""),
    ("hincrby h m 1", ""), ("hincrbyfloat h fl 1.5", ""), ("hincrbyfloat h fl 0.25", ""),
    ("hincrbyfloat h f1 1", ""), ("hincrbyfloat h fl x", ""), ("hscan h 0 count 100", "scan"),
    ("hscan h 0 match 'f*' count 100", "scan"), ("hscan h x", ""), ("hscan nokey 0", ""),
    ("hrandfield h", "shape"), ("hrandfield h 3", "shape"), ("hrandfield h -5", "shape"),
    ("hrandfield h 2 withvalues", "shape"), ("hrandfield h 0", ""), ("hrandfield nokey", ""),
    ("hrandfield nokey 3", ""), ("hrandfield h x", ""), ("hrandfield h 1 bogus", ""),
    ("get h", ""), ("incr h", ""), ("append h x", ""), ("hget k7 f", ""), ("hset k7 f v", ""),
    ("type h", ""), ("set h str", ""), ("type h", ""), ("hget h f1", ""), ("hset h2 a 1", ""),
    ("expire h2 100", ""), ("ttl h2", ""), ("rename h2 h3", ""), ("hgetall h3", ""),
    ("ttl h3", ""), ("copy h3 h4", ""), ("hgetall h4", ""), ("hdel h4 a", ""),
    ("exists h4", ""), ("del h3", ""), ("hget h3 a", ""), ("dbsize", ""),
    # connection and server
    ("ping", ""), ("ping hello", ""), ("ping a b", ""), ("echo hi", ""), ("echo", ""),
    ("select 1", ""), ("select 16", ""), ("select x", ""), ("swapdb 0 1", ""),
    ("swapdb 0 x", ""), ("swapdb x 0", ""), ("swapdb 0 20", ""), ("dbsize", ""),
    ("swapdb 0 1", ""), ("dbsize", ""), ("flushdb bogus", ""), ("time", "shape"),
    ("lastsave", "shape"), ("function flush", ""), ("function flush async", ""),
    ("function bogus", ""), ("wait 0 0", ""), ("wait 0 -1", ""), ("wait 0 x", ""),
    ("debug sleep 0", ""), ("client setname myname", ""), ("client getname", ""),
    ("client setname 'a b'", ""), ("client id", "shape"), ("client no-evict on", ""),
    ("client bogus", ""), ("client kill 1.2.3.4:5", ""), ("client kill id 999999", ""),
    ("client kill id 0", ""), ("config get maxclients", ""), ("config get bogus*", ""),
    ("config set bogus 1", ""), ("config set maxclients abc", "shape"),
    ("config set timeout 0", ""), ("config bogus", ""), ("config get", ""),
    ("slowlog len", "shape"), ("slowlog reset", ""), ("slowlog bogus", ""),
    ("command count", "shape"), ("command info get", ""), ("auth pass", ""),
    ("auth a b c", ""), ("hello 4", ""), ("hello x", ""), ("hello 2 bogus", ""),
    ("nosuchcommand a b", ""), ("GeT k9", ""), ("flushdb", ""), ("dbsize", ""),
    ("select 1", ""), ("dbsize", ""), ("flushall", ""), ("dbsize", ""), ("select 0", ""),
    # OBJECT and MEMORY (issue 8): encodings as Redis names them, errors, shapes
    ("set oi 12345", ""), ("set oe hello", ""), ("set or " + "r" * 60, ""),
    ("set onot 0123", ""), ("hset oh f v", ""), ("object encoding oi", ""),
    ("object encoding oe", ""), ("object encoding or", ""), ("object encoding onot", ""),
    ("object encoding oh", ""), ("object encoding nokey", ""), ("object refcount oe", "shape"),
    ("object idletime oe", "shape"), ("object freq oe", ""), ("object bogus oe", ""),
    ("object encoding", ""), ("object help", "shape"),
    ("config set maxmemory-policy allkeys-lfu", ""), ("object idletime oe", ""),
    ("object freq nokey", ""), ("config set maxmemory-policy noeviction", ""),
    ("config set maxmemory-policy bogus", ""), ("config get maxmemory-policy", ""),
    ("config get maxmemory-samples", ""), ("memory usage oe", "shape"),
    ("memory usage nokey", ""), ("memory usage oh samples 0", "shape"),
    ("memory usage oe samples x", ""), ("memory bogus", ""), ("memory help", "shape"),
    ("memory purge", ""),
    # issue 15 #22: replies that differed from Redis 7.0
    ("set et v", ""), ("pexpireat et 99999999999600", ""), ("expiretime et", ""),
    ("pexpireat et 99999999999499", ""), ("expiretime et", ""),
    ("getex nokey ex 0", ""), ("getex nokey px -1", ""), ("getex nokey ex abc", ""),
    ("getex et ex 0", ""), ("hset gh f v", ""), ("getex gh ex abc", ""), ("getex et ex", ""),
    ("object help x", ""), ("memory help x", ""), ("slowlog len x", ""), ("client id x", ""),
    ("command count x", ""), ("config set", ""), ("config set loglevel bogus", ""),
    ("config set loglevel warning", ""), ("config get loglevel", ""),
    ("config set loglevel notice", ""),
    ("set mv v", ""), ("expire mv 100", ""), ("move mv 1", ""), ("exists mv", ""),
    ("select 1", ""), ("get mv", ""), ("ttl mv", ""), ("move mv 0", ""), ("select 0", ""),
    ("ttl mv", ""), ("move mv 0", ""), ("move nokey 1", ""), ("move mv 16", ""),
    ("move mv -1", ""), ("move mv x", ""), ("move mv", ""), ("set mv2 here", ""),
    ("select 2", ""), ("set mv2 there", ""), ("hset mh f v", ""), ("select 0", ""),
    ("move mv2 2", ""), ("get mv2", ""), ("select 2", ""), ("get mv2", ""),
    ("move mh 0", ""), ("move mh 0", ""), ("select 0", ""), ("hgetall mh", ""),
    ("type mh", ""), ("persist mv", ""), ("move mv 3", ""), ("select 3", ""),
    ("ttl mv", ""), ("flushdb", ""), ("select 2", ""), ("flushdb", ""), ("select 0", ""),
    ("command info move", ""),
    # issue 17: COMMAND from the key specs of every command (command_facts.c)
    ("command getkeys get k", ""), ("command getkeys get", ""), ("command getkeys ping", ""),
    ("command getkeys nosuch a", ""), ("command getkeys config get x", ""),
    ("command getkeys config nosuch x", ""), ("command getkeys memory usage key", ""),
    ("command getkeys object encoding k", ""), ("command getkeys rename a b", ""),
    ("command getkeys del a b c", ""), ("command getkeys mset a 1 b 2", ""),
    ("command getkeys mset a 1 b", ""), ("command getkeys", ""),
    ("command getkeysandflags set k1 v1", ""), ("command getkeysandflags set k v nx get", ""),
    ("command getkeysandflags mset k1 v1 k2 v2", ""), ("command getkeysandflags rename a b", ""),
    ("command getkeysandflags copy a b db 1", ""), ("command getkeysandflags getex k", ""),
    ("command getkeysandflags del a b", ""), ("command getkeysandflags hset h f v", ""),
    ("command getkeysandflags msetnx a 1", ""), ("command getkeysandflags getdel k", ""),
    ("command list filterby pattern config*", "set"), ("command list filterby pattern 'config|*re*'", "set"),
    ("command list filterby pattern get", ""), ("command list filterby pattern non_exists*", ""),
    ("command list filterby aclcat bogus", ""), ("command list filterby aclcat hash", "set"),
    ("command list filterby module x", ""), ("command list bad", ""),
    ("command list filterby bad x", ""), ("command list filterby pattern", ""),
    ("command info get|key", ""), ("command info config|get|key", ""),
    ("command info config|get", ""), ("command info GET nosuch Config|Set", ""),
    ("command docs get nosuch", "shape"),
    ("command bogus", ""), ("command help x", ""), ("command count x", ""),
    ("config get", ""), ("config get a b", ""),
    # issue 17: CLIENT's arguments and errors as Redis 7.0 checks them
    ("client reply bogus", ""), ("client reply", ""), ("client reply on", ""),
    ("client kill", ""), ("client kill id 10 wrong_arg", ""), ("client kill id str", ""),
    ("client kill id -1", ""), ("client kill id 0", ""), ("client kill type wrong_type", ""),
    ("client kill user wrong_user", ""), ("client kill skipme yes_or_no", ""),
    ("client kill type master", ""), ("client kill type pubsub skipme no", ""),
    ("client kill addr 1.2.3.4:5 laddr 1.2.3.4:6", ""), ("client kill 1.2.3.4:5", ""),
    ("client list type wrong", ""), ("client list type master", ""),
    ("client list type replica", ""), ("client list id -1", ""), ("client list id x", ""),
    ("client list bogus", ""), ("client list type", ""), ("client no-evict maybe", ""),
    ("client no-evict off", ""),
    # SLOWLOG and LATENCY arguments
    ("slowlog get x", ""), ("slowlog get -2", ""), ("slowlog get 0", ""), ("slowlog help x", ""),
    ("latency help x", ""), ("latency bogus", ""), ("latency history", ""),
    ("latency history nosuch", ""), ("latency reset nosuch other", ""),
    ("latency graph nosuch", ""), ("latency latest", ""), ("latency histogram nosuchcmd", ""),
    ("latency doctor x", ""), ("latency help", ""), ("slowlog help", ""), ("command help", ""),
    ("config help", ""), ("config help x", ""),
    # a number with a NUL byte inside is no number (strtold stopped at the NUL)
    ("set nf 1", ""), ("setrange nf 2 2", ""), ("incrbyfloat nf 1", ""), ("get nf", ""),
    # LCS and SUBSTR
    ("set la ohmytext", ""), ("set lb mynewtext", ""), ("lcs la lb", ""), ("lcs la lb len", ""),
    ("lcs la lb idx", ""), ("lcs la lb idx withmatchlen", ""),
    ("lcs la lb idx minmatchlen 4", ""), ("lcs la lb idx minmatchlen 4 withmatchlen", ""),
    ("lcs la lb idx minmatchlen -3", ""), ("lcs la lb IDX MINMATCHLEN x", ""),
    ("lcs la lb len idx", ""), ("lcs la lb minmatchlen", ""), ("lcs la lb bogus", ""),
    ("lcs la nokey", ""), ("lcs nokey nokey2 idx", ""), ("lcs nokey la len", ""),
    ("hset lh f v", ""), ("lcs la lh", ""), ("lcs lh la bogus", ""), ("lcs la", ""),
    ("lcs la la withmatchlen", ""), ("substr la 0 3", ""), ("substr la -4 -1", ""),
    ("substr nokey 0 1", ""), ("substr la x 1", ""), ("substr lh 0 1", ""), ("substr la 1", ""),
    ("mget la lh nokey lb", ""),
    # OBJECT ENCODING of a hash by hash-max-listpack-entries (512 in 7.0.15, was 128 here)
    ("hset oh2 " + " ".join("f%d v" % i for i in range(200)), ""), ("object encoding oh2", ""),
    ("config set hash-max-listpack-entries 100", ""),
    ("hset oh3 " + " ".join("f%d v" % i for i in range(150)), ""), ("object encoding oh3", ""),
    # ... decided as the hash is written, and kept: a lower threshold changes nothing
    # until the next write, a deletion never turns it back
    ("object encoding oh2", ""), ("hset oh2 f1 v", ""), ("object encoding oh2", ""),
    ("hset oh2 newf v", ""), ("object encoding oh2", ""),
    ("config set hash-max-ziplist-entries 512 hash-max-listpack-value 10", ""),
    ("hset oh4 a 1 b 2", ""), ("object encoding oh4", ""), ("copy oh4 oh4c", ""),
    ("hset oh4 c 'a value of 24 characters'", ""), ("object encoding oh4", ""),
    ("hdel oh4 c", ""), ("object encoding oh4", ""), ("object encoding oh4c", ""),
    ("rename oh4 oh4r", ""), ("object encoding oh4r", ""),
    ("hset oh5 f 1", ""), ("hincrbyfloat oh5 f 0.123456789", ""), ("object encoding oh5", ""),
    ("hset oh6 a 1", ""), ("hsetnx oh6 a 'a value of 24 characters'", ""),
    ("object encoding oh6", ""), ("hset oh7 'a field of 24 characters' 1", ""),
    ("object encoding oh7", ""), ("hincrby oh7 x 12345678901", ""), ("object encoding oh7", ""),
    ("hset oh8 x 1", ""), ("hincrby oh8 y 12345678901", ""), ("object encoding oh8", ""),
    ("config set hash-max-listpack-value 64", ""),
    ("hincrbyfloat oh9 f +inf", ""), ("exists oh9", ""), ("hincrbyfloat oh8 x -inf", ""),
    ("hset oh9 f 1e308", ""), ("hincrbyfloat oh9 f 1e308", ""), ("hincrbyfloat oh9 f x", ""),
    ("del oh9", ""),
    ("del oh2 oh3 oh4c oh4r oh5 oh6 oh7 oh8", ""),
    # LOLWUT: art of shale's own (a bulk / verbatim string as Redis's), Redis's errors
    ("lolwut", "shape"), ("lolwut version 5", "shape"), ("lolwut version 6 20 5", "shape"),
    ("lolwut version x", ""), ("lolwut version", "shape"), ("lolwut version 5 x", ""),
    ("lolwut version 6 10 y", ""), ("lolwut x y", "shape"),
]


def run_cases(shale, redis, proto):
    import shlex
    diffs = 0
    for case, mode in CASES:
        args = shlex.split(case)
        try:
            a = shale.call(*args)
        except (EOFError, OSError) as e:
            print("shale-server failed on %r (RESP%d): %s" % (case, proto, e))
            raise
        b = redis.call(*args)
        if canon(a, mode) != canon(b, mode):
            diffs += 1
            print("DIFF (RESP%d) %s\n  shale: %r\n  redis: %r" % (proto, case, a, b))
    return diffs


def info_field(c, section, name):
    text = c.call("info", section)[1].decode()
    return int(text.split(name + ":")[1].split("\r\n")[0])


def compare_hit_counts(shale, redis):
    """keyspace_hits/misses after the same read commands on both servers."""
    seq = [("config", "resetstat"), ("set", "hk", "v"), ("hset", "hh", "f", "v"),
           ("get", "hk"), ("get", "hk"), ("get", "nokey"), ("mget", "hk", "nokey", "hk"),
           ("strlen", "hk"), ("getrange", "nokey", "0", "1"), ("hget", "hh", "f"),
           ("hget", "nokey", "f"), ("hmget", "hh", "f", "g"), ("hlen", "hh"),
           ("hgetall", "hh"), ("exists", "hk", "nokey"), ("ttl", "hk"), ("incr", "ctr"),
           ("get", "hh"), ("hget", "hk", "f")]  # wrong types count as lookups too
    for cmd in seq:
        shale.call(*cmd)
        redis.call(*cmd)
    a = (info_field(shale, "stats", "keyspace_hits"), info_field(shale, "stats", "keyspace_misses"))
    b = (info_field(redis, "stats", "keyspace_hits"), info_field(redis, "stats", "keyspace_misses"))
    if a != b:
        print("DIFF keyspace_hits/misses: shale %r, redis %r" % (a, b))
        return 1
    return 0


def info_lines(c, section):
    """INFO section as {name: value} (the header and blank lines dropped)."""
    text = c.call("info", section)[1].decode()
    return dict(l.split(":", 1) for l in text.split("\r\n") if l and not l.startswith("#"))


def compare_command_stats(shale, redis):
    """INFO commandstats (calls, rejected and failed per command), errorstats,
    total_error_replies and the latencystats lines after the same commands."""
    seq = [("config", "resetstat"), ("set", "k", "v"), ("get", "k"), ("get",),
           ("hset", "k", "f", "v"), ("incr", "k"), ("nosuchcmd", "x"), ("hset", "h", "f"),
           ("expire", "k", "x"), ("del", "k"), ("get", "k"),
           ("config", "set", "latency-tracking-info-percentiles", "50 90 99.99")]
    for cmd in seq:
        shale.call(*cmd)
        redis.call(*cmd)
    diffs = 0
    a, b = info_lines(shale, "commandstats"), info_lines(redis, "commandstats")
    strip = lambda v: ",".join(f for f in v.split(",") if not f.startswith("usec"))
    a = {k: strip(v) for k, v in a.items()}
    b = {k: strip(v) for k, v in b.items()}
    if a != b:
        print("DIFF commandstats:\n  shale: %r\n  redis: %r" % (a, b))
        diffs += 1
    for section in ("errorstats",):
        a, b = info_lines(shale, section), info_lines(redis, section)
        if a != b:
            print("DIFF %s: shale %r, redis %r" % (section, a, b))
            diffs += 1
    a = info_field(shale, "stats", "total_error_replies")
    b = info_field(redis, "stats", "total_error_replies")
    if a != b:
        print("DIFF total_error_replies: shale %r, redis %r" % (a, b))
        diffs += 1
    a, b = info_lines(shale, "latencystats"), info_lines(redis, "latencystats")
    shape = lambda d: {k: [f.split("=")[0] for f in v.split(",")] for k, v in d.items()}
    if shape(a) != shape(b) or not all(float(f.split("=")[1]) > 0 for v in a.values()
                                       for f in v.split(",")):
        print("DIFF latencystats:\n  shale: %r\n  redis: %r" % (a, b))
        diffs += 1
    for c in (shale, redis):
        c.call("config", "set", "latency-tracking-info-percentiles", "50 99 99.9")
    return diffs


def compare_command_info_all(shale, redis):
    """COMMAND INFO without names describes every command, as COMMAND does (Redis 7.0;
    the two servers' command sets differ, so each is checked against its own COMMAND)."""
    diffs = 0
    for name, c in (("shale", shale), ("redis", redis)):
        t, entries = c.call("command", "info")
        count = int(c.call("command", "count")[1])
        every = c.call("command")[1]
        if t != b"*" or len(entries) != count or sorted(map(repr, entries)) != sorted(map(repr, every)):
            print("DIFF %s: COMMAND INFO gave %s with %d entries, COMMAND %d" %
                  (name, t, len(entries) if isinstance(entries, list) else -1, len(every)))
            diffs += 1
    return diffs


def _name(entry):
    return entry[1][0][1]


def _info_equal(a, b, path):
    """COMMAND INFO entries: all but the subcommands byte for byte; then each subcommand
    shale has against Redis's of that name (Redis lists them in its own hash order, and
    has subcommands shale does not)."""
    if a[0] != b[0] or a[1][:9] != b[1][:9]:
        print("DIFF COMMAND INFO %s\n  shale: %r\n  redis: %r" % (path, a, b))
        return 1
    theirs = {_name(e): e for e in (b[1][9][1] or [])}
    diffs = 0
    for sub in a[1][9][1] or []:
        if _name(sub) in theirs:
            diffs += _info_equal(sub, theirs[_name(sub)], _name(sub).decode())
    return diffs


def _docs_map(reply):
    """A COMMAND DOCS entry as {field: value} without Redis's texts (summary, complexity,
    history: shale has its own summaries and none of the others)."""
    t, v = reply
    return {v[i][1]: v[i + 1] for i in range(0, len(v), 2)
            if v[i][1] not in (b"summary", b"complexity", b"history")}


def _docs_equal(a, b, path):
    da, db = _docs_map(a), _docs_map(b)
    subs_a, subs_b = da.pop(b"subcommands", None), db.pop(b"subcommands", None)
    if da != db or (subs_a is None) != (subs_b is None):
        print("DIFF COMMAND DOCS %s\n  shale: %r\n  redis: %r" % (path, da, db))
        return 1
    if subs_a is None:
        return 0
    theirs = {subs_b[1][i][1]: subs_b[1][i + 1] for i in range(0, len(subs_b[1]), 2)}
    diffs = 0
    for i in range(0, len(subs_a[1]), 2):
        name = subs_a[1][i][1]
        if name in theirs:
            diffs += _docs_equal(subs_a[1][i + 1], theirs[name], name.decode())
    return diffs


def compare_command_table(shale, redis):
    """COMMAND INFO and COMMAND DOCS of every command shale has (and of each of its
    subcommands by its "parent|sub" name) against Redis's, RESP2 and RESP3; a command
    Redis lacks is reported by name and skipped."""
    diffs, own = 0, []
    names = [n[1] for n in shale.call("command", "list")[1]]
    for proto in (2, 3):
        for c in (shale, redis):
            c.call("hello", str(proto))
        for name in names:
            a, b = shale.call("command", "info", name), redis.call("command", "info", name)
            if b[1][0][1] is None or b[1][0][0] == b"_":
                if proto == 2:
                    own.append(name.decode())
                continue
            diffs += _info_equal(a[1][0], b[1][0], "%s (RESP%d)" % (name.decode(), proto))
            a, b = shale.call("command", "docs", name), redis.call("command", "docs", name)
            diffs += _docs_equal(a[1][1], b[1][1], "%s (RESP%d)" % (name.decode(), proto))
    if own:
        print("commands Redis 7.0 does not have (not compared): %s" % " ".join(own))
    return diffs


def _raw_exchange(c, payload, until):
    """Sends payload and reads raw bytes until they end with `until`."""
    c.s.sendall(payload)
    data = c.buf
    c.buf = b""
    while not data.endswith(until):
        data += c.s.recv(65536)
    return data


def compare_client_reply(shale, redis):
    """CLIENT REPLY OFF / ON / SKIP: the bytes each server sends for one pipeline."""
    cmds = [("client", "reply", "off"), ("ping", "a"), ("get", "nokey"), ("nosuchcmd",),
            ("client", "reply", "on"), ("ping", "b"), ("client", "reply", "skip"),
            ("ping", "c"), ("ping", "d"), ("client", "reply", "skip"), ("client", "reply", "on"),
            ("ping", "e"), ("client", "reply", "skip"), ("client", "reply", "off"),
            ("ping", "f"), ("client", "reply", "on"), ("ping", "end")]
    payload = b"".join(encode(c) for c in cmds)
    a, b = _raw_exchange(shale, payload, b"end\r\n"), _raw_exchange(redis, payload, b"end\r\n")
    if a != b:
        print("DIFF CLIENT REPLY pipeline\n  shale: %r\n  redis: %r" % (a, b))
        return 1
    return 0


def _client_fields(line):
    return [f.split("=", 1) for f in line.decode().strip().split(" ")]


def compare_client_list(shale, redis):
    """CLIENT INFO and CLIENT LIST ID: Redis 7.0's fields in its order, and the values a
    fresh idle connection has on both (flags, db, qbuf of the running command, buffers
    empty, cmd as parent|sub, user, resp); ids, addresses, ages and sizes differ."""
    same = {"flags", "db", "sub", "psub", "ssub", "multi", "qbuf", "argv-mem", "multi-mem",
            "obl", "oll", "omem", "events", "cmd", "user", "redir", "resp", "name"}
    diffs = 0
    for cmd in (("client", "info"), ("client", "list", "id", "%s")):
        lines = []
        for c in (shale, redis):
            c.call("client", "setname", "cl1")
            my = c.call("client", "id")[1].decode()
            lines.append(c.call(*[a.replace("%s", my) for a in cmd])[1])
        fa, fb = _client_fields(lines[0]), _client_fields(lines[1])
        if [k for k, _ in fa] != [k for k, _ in fb] or \
                [(k, v) for k, v in fa if k in same] != [(k, v) for k, v in fb if k in same]:
            print("DIFF %s\n  shale: %r\n  redis: %r" % (" ".join(cmd), lines[0], lines[1]))
            diffs += 1
    return diffs


def compare_slowlog(shale, redis):
    """What the slowlog keeps of each command (the arguments: 32 at most, 128 bytes each,
    secrets redacted) and how many entries (slowlog-max-len)."""
    seq = [("config", "set", "slowlog-log-slower-than", "0"), ("slowlog", "reset"),
           ("auth", "secret"), ("auth", "user", "secret"), ("auth", "a", "b", "c"),
           ("hello", "2", "auth", "default", "secret"), ("config", "set", "requirepass", ""),
           ("config", "set", "maxclients", "100", "requirepass", "", "bogus", "1"),
           ("mset",) + tuple("k%d" % i for i in range(40)), ("echo", "x" * 200),
           ("echo", "y" * 128), ("get", "k1")]
    for cmd in seq:
        shale.call(*cmd)
        redis.call(*cmd)
    diffs = 0
    a, b = shale.call("slowlog", "get", "-1"), redis.call("slowlog", "get", "-1")
    args = lambda r: [e[1][3] for e in r[1]]
    if args(a) != args(b):
        print("DIFF SLOWLOG GET arguments\n  shale: %r\n  redis: %r" % (args(a), args(b)))
        diffs += 1
    for c in (shale, redis):
        c.call("config", "set", "slowlog-max-len", "3")
        for i in range(10):
            c.call("ping")
    a, b = shale.call("slowlog", "len"), redis.call("slowlog", "len")
    a2, b2 = shale.call("slowlog", "get", "5"), redis.call("slowlog", "get", "5")
    if a != b or args(a2) != args(b2):
        print("DIFF slowlog-max-len 3: LEN shale %r redis %r, GET shale %r redis %r" %
              (a, b, args(a2), args(b2)))
        diffs += 1
    for c in (shale, redis):
        c.call("config", "set", "slowlog-max-len", "128", "slowlog-log-slower-than", "10000")
        c.call("slowlog", "reset")
    return diffs


def compare_latency_histogram(shale, redis):
    """LATENCY HISTOGRAM's shape (commands, calls, cumulative counts ending at calls), in
    RESP2 and RESP3: the latencies themselves differ."""
    diffs = 0
    for proto in (2, 3):
        replies = []
        for c in (shale, redis):
            c.call("hello", str(proto))
            c.call("config", "resetstat")
            c.call("set", "a", "b")
            c.call("set", "c", "d")
            c.call("client", "id")
            replies.append((c.call("latency", "histogram"), c.call("latency", "histogram", "set", "nosuch", "client"),
                            c.call("latency", "histogram", "client|id")))
        def shape(r):
            t, v = r
            out = []
            for i in range(0, len(v), 2):
                m = v[i + 1][1]
                steps = m[3][1]
                counts = [int(steps[j][1]) for j in range(1, len(steps), 2)]
                out.append((v[i][1], t, v[i + 1][0], m[0][1], m[1], m[2][1], m[3][0],
                            counts == sorted(counts) and counts[-1] == int(m[1][1])))
            return sorted(out)
        for ra, rb in zip(replies[0], replies[1]):
            if shape(ra) != shape(rb):
                print("DIFF LATENCY HISTOGRAM (RESP%d)\n  shale: %r\n  redis: %r" % (proto, ra, rb))
                diffs += 1
    return diffs


def compare_latency_events(shale, redis):
    """The latency monitor after a slow command: LATEST and HISTORY in Redis's shape (the
    event, its time, latency and max in ms), GRAPH's first line, DOCTOR's reply type,
    RESET's count."""
    diffs = 0
    for proto in (2, 3):
        got = []
        for c in (shale, redis):
            c.call("hello", str(proto))
            c.call("latency", "reset")
            c.call("config", "set", "latency-monitor-threshold", "50")
            c.call("debug", "sleep", "0.12")
            latest, hist = c.call("latency", "latest"), c.call("latency", "history", "command")
            graph, doctor = c.call("latency", "graph", "command"), c.call("latency", "doctor")
            got.append((
                [(e[0], e[1][0], int(e[1][2][1]) >= 100, e[1][2][1] == e[1][3][1]) for e in latest[1]],
                [(e[0], [x[0] for x in e[1]], int(e[1][1][1]) >= 100) for e in hist[1]],
                graph[0], graph[1].split(b"\n")[0].split(b" - ")[0] if graph[1] else None,
                doctor[0], len(doctor[1]) > 0, c.call("latency", "reset"), c.call("latency", "latest")))
            c.call("config", "set", "latency-monitor-threshold", "0")
        if got[0] != got[1]:
            print("DIFF latency events (RESP%d)\n  shale: %r\n  redis: %r" % (proto, got[0], got[1]))
            diffs += 1
    return diffs


def compare_lcs_random(shale, redis):
    """LCS, LEN and IDX (with and without MINMATCHLEN, WITHMATCHLEN) of random strings
    over small alphabets (many ties in the walk back), against Redis byte for byte."""
    import random
    seed = int(os.environ.get("SHALE_SEED", random.randrange(1 << 30)))
    rnd = random.Random(seed)
    diffs = 0
    for _ in range(60):
        k = rnd.choice("ab abc abcd acgt abcdefgh".split())
        a = "".join(rnd.choice(k) for _ in range(rnd.randrange(0, 40)))
        b = "".join(rnd.choice(k) for _ in range(rnd.randrange(0, 40)))
        for c in (shale, redis):
            c.call("mset", "lcs:a", a, "lcs:b", b)
        for opts in ([], ["len"], ["idx"], ["idx", "withmatchlen"],
                     ["idx", "minmatchlen", "2", "withmatchlen"]):
            x, y = shale.call("lcs", "lcs:a", "lcs:b", *opts), redis.call("lcs", "lcs:a", "lcs:b", *opts)
            if x != y:
                print("DIFF LCS %r %r %s (SHALE_SEED=%d)\n  shale: %r\n  redis: %r" %
                      (a, b, " ".join(opts), seed, x, y))
                diffs += 1
    return diffs


def compare_idle_after_writes(shale, redis):
    """A key a write creates or overwrites is as fresh as a read one: OBJECT IDLETIME 0
    right after it (shale counted such keys idle since the server started)."""
    time.sleep(1.1)  # both servers up for more than a second
    writes = [("set", "w1", "v"), ("setnx", "w2", "v"), ("setex", "w3", "100", "v"),
              ("psetex", "w4", "100000", "v"), ("mset", "w5", "v", "w6", "v"),
              ("msetnx", "w7", "v"), ("incr", "w8"), ("incrbyfloat", "w9", "1.5"),
              ("append", "w10", "v"), ("setrange", "w11", "2", "v"), ("hset", "w12", "f", "v"),
              ("hsetnx", "w13", "f", "v"), ("hincrby", "w14", "f", "1"),
              ("hincrbyfloat", "w15", "f", "1"), ("getset", "w16", "v"), ("set", "w1", "v2")]
    diffs = 0
    for c in (shale, redis):  # with a maxmemory, Redis shares no integer objects (whose
        # access time is the server's start)
        c.call("config", "set", "maxmemory-policy", "allkeys-lru", "maxmemory", "1gb")
    for w in writes:
        a, b = [(c.call(*w), c.call("object", "idletime", w[1])) for c in (shale, redis)]
        if a != b:
            print("DIFF OBJECT IDLETIME after %s\n  shale: %r\n  redis: %r" % (" ".join(w), a, b))
            diffs += 1
    for c in (shale, redis):
        c.call("config", "set", "maxmemory-policy", "noeviction", "maxmemory", "0")
    return diffs


def run_oracle(per_proto, after=None, extra_args=()):
    """
    Starts shale-server and redis-server side by side on free ports (extra_args given to
    both), then for RESP2 and RESP3 runs per_proto(shale, redis, proto) on fresh
    connections to both, flushed first, and finally after(shale_port, redis_port). Returns
    the differences they counted; None when redis-server is missing (the test skips), or
    -1 when a connection failed (shale's log is printed). Stops both servers.
    """
    if not shutil.which("redis-server"):
        print("skip: redis-server missing")
        return None
    tmp = tempfile.mkdtemp()
    sp, rp = free_port(), free_port()
    procs = [
        subprocess.Popen([SERVER, "--port", str(sp), "--dir", tmp + "/shale", *extra_args],
                         stderr=open(tmp + "/shale.log", "w")),
        subprocess.Popen(["redis-server", "--port", str(rp), "--save", "", "--appendonly", "no",
                          *extra_args, "--dir", tmp], stdout=subprocess.DEVNULL),
    ]
    try:
        for port in (sp, rp):
            for _ in range(100):
                try:
                    if Conn(port).call("ping") == (b"+", b"PONG"):
                        break
                except (OSError, EOFError):
                    pass
                time.sleep(0.05)
        diffs = 0
        for proto in (2, 3):
            shale, redis = Conn(sp), Conn(rp)
            for c in (shale, redis):
                c.call("flushall")
                if proto == 3:
                    c.call("hello", "3")
            diffs += per_proto(shale, redis, proto)
        if after:
            diffs += after(sp, rp)
        return diffs
    except (EOFError, OSError):
        print(open(tmp + "/shale.log").read())
        return -1
    finally:
        for p in procs:
            p.kill()
            p.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def oracle_exit(diffs, what):
    """The exit status of an oracle test: 77 skipped, 1 on differences or a failure."""
    if diffs is None:
        return 77
    if diffs >= 0:
        print("%s compared in RESP2 and RESP3, %d differences" % (what, diffs))
    return 0 if diffs == 0 else 1


def main():
    def after(sp, rp):
        return (compare_command_info_all(Conn(sp), Conn(rp)) +
                compare_hit_counts(Conn(sp), Conn(rp)) +
                compare_command_stats(Conn(sp), Conn(rp)))

    diffs = run_oracle(lambda shale, redis, proto: run_cases(shale, redis, proto), after,
                       ("--enable-debug-command", "yes"))
    return oracle_exit(diffs, "%d commands" % len(CASES))


if __name__ == "__main__":
    sys.exit(main())
