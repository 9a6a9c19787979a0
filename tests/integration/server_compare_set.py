#!/usr/bin/python3
"""server_compare_set.py - the set commands' replies and errors, byte for byte, against
redis-server 7.0 as the oracle (same commands on both, RESP2 then RESP3), as
server_compare.py does for the other families.

Order: a set Redis holds as an intset (integers only, at most 512) replies in integer
order on both servers, so those replies are compared exactly; a hashtable set's order is
Redis's hash order (shale's is its own), so those are compared as sets ("set" mode).
Random replies (SPOP, SRANDMEMBER) are compared by shape, or exactly where they are not
random (a count covering the whole set). Also checked: OBJECT ENCODING through every
conversion, keyspace hits/misses of the set commands, DBSIZE after emptied sets, and
SSCAN walked to its end over a set larger than one call.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, canon, oracle_exit, run_oracle  # noqa: E402

BIG = " ".join(str(i) for i in range(600))  # past set-max-intset-entries
INTS = " ".join(str(i) for i in range(0, 1000, 2))  # 500 integers: an intset

# (command, mode): mode "" = bytes equal, "set", "shape", "scan"
CASES = [
    # SADD SREM SCARD, encodings
    ("sadd s1 3 1 2", ""), ("sadd s1 2 4 4 4", ""), ("scard s1", ""), ("smembers s1", ""),
    ("object encoding s1", ""), ("sadd s1 -5 9223372036854775807 -9223372036854775808", ""),
    ("smembers s1", ""), ("object encoding s1", ""), ("sadd s1 007", ""),
    ("object encoding s1", ""), ("srem s1 007", ""), ("object encoding s1", ""),
    ("smembers s1", "set"), ("sadd s2 a b c", ""), ("object encoding s2", ""),
    ("sadd s3 1 2 x", ""), ("srem s3 x", ""), ("object encoding s3", ""),
    ("sadd s4 9223372036854775808", ""), ("object encoding s4", ""),
    ("sadd s5 +1", ""), ("object encoding s5", ""), ("sadd s6 ' 1'", ""),
    ("object encoding s6", ""), ("sadd s7 -0", ""), ("object encoding s7", ""),
    ("sadd s8 0", ""), ("object encoding s8", ""), ("sadd s9 ''", ""), ("smembers s9", ""),
    ("scard s9", ""), ("sadd big " + BIG, ""), ("scard big", ""),
    ("object encoding big", ""), ("srem big " + " ".join(str(i) for i in range(200)), ""),
    ("scard big", ""), ("object encoding big", ""), ("sadd ints " + INTS, ""),
    ("object encoding ints", ""), ("smembers ints", ""), ("sadd ints 2000", ""),
    ("object encoding ints", ""), ("sadd ints " + " ".join(str(i) for i in range(1, 30, 2)), ""),
    ("object encoding ints", ""), ("srem s2 a x a", ""), ("smembers s2", "set"),
    ("srem s2 b c", ""), ("exists s2", ""), ("srem nokey a", ""), ("scard nokey", ""),
    ("sadd s1", ""), ("srem s1", ""), ("scard", ""), ("scard a b", ""),
    # membership
    ("sismember s1 1", ""), ("sismember s1 99", ""), ("sismember nokey 1", ""),
    ("smismember s1 1 99 2 1", ""), ("smismember nokey 1 2", ""), ("smismember s1", ""),
    ("sismember s1", ""), ("smembers nokey", ""),
    # wrong types
    ("set str v", ""), ("sadd str a", ""), ("srem str a", ""), ("scard str", ""),
    ("sismember str a", ""), ("smismember str a", ""), ("smembers str", ""),
    ("sinter s1 str", ""), ("sinter nokey str", ""), ("sunion str s1", ""),
    ("sdiff s1 str", ""), ("sdiff nokey str", ""), ("sinterstore d s1 str", ""),
    ("sunionstore d str", ""), ("sdiffstore d s1 str", ""), ("sintercard 2 s1 str", ""),
    ("smove str s1 a", ""), ("smove s1 str 1", ""), ("smove nokey str 1", ""),
    ("spop str", ""), ("spop str 2", ""), ("srandmember str", ""), ("srandmember str 2", ""),
    ("sscan str 0", ""), ("hset h f v", ""), ("sadd h x", ""),
    # SINTER SUNION SDIFF
    ("del a b c", ""), ("sadd a 1 2 3 4 5", ""), ("sadd b 3 4 5 6 7", ""), ("sadd c 5 6 7 x", ""),
    ("sinter a b", ""), ("sinter a b c", ""), ("sinter b a", ""), ("sinter a nokey", ""),
    ("sinter nokey a", ""), ("sinter a", ""), ("sinter a a", ""), ("sunion a b", ""),
    ("sunion a b c", "set"), ("sunion a nokey", ""), ("sunion nokey", ""), ("sdiff a b", ""),
    ("sdiff b a", ""), ("sdiff a b c", ""), ("sdiff c a b", "set"), ("sdiff a a", ""),
    ("sdiff a b a", ""), ("sdiff nokey a", ""), ("sdiff a nokey", ""), ("sdiff c", "set"),
    ("sunion big ints", "set"), ("sinter big ints", "set"), ("sdiff ints big", "set"),
    ("sinter", ""), ("sunion", ""), ("sdiff", ""),
    # STORE forms
    ("set dstr v", ""), ("expire dstr 100", ""), ("sinterstore dstr a b", ""),
    ("ttl dstr", ""), ("smembers dstr", ""), ("type dstr", ""), ("object encoding dstr", ""),
    ("sunionstore d a b c", ""), ("smembers d", "set"), ("object encoding d", ""),
    ("sdiffstore d a b", ""), ("smembers d", ""), ("object encoding d", ""),
    ("sinterstore d a nokey", ""), ("exists d", ""), ("sunionstore d nokey", ""),
    ("exists d", ""), ("sdiffstore d a a", ""), ("exists d", ""), ("sunionstore a a b", ""),
    ("smembers a", ""), ("sinterstore a a c", ""), ("smembers a", ""), ("sdiffstore b b c", ""),
    ("smembers b", ""), ("sunionstore bigd big big", ""), ("object encoding bigd", ""),
    ("scard bigd", ""), ("sinterstore d", ""), ("sunionstore d", ""), ("sdiffstore d", ""),
    ("dbsize", ""),
    # SINTERCARD
    ("del a b c", ""), ("sadd a 1 2 3 4 5", ""), ("sadd b 3 4 5 6 7", ""), ("sadd c 5 6 7 x", ""),
    ("sintercard 2 a b", ""), ("sintercard 3 a b c", ""), ("sintercard 1 a", ""),
    ("sintercard 2 a b limit 2", ""), ("sintercard 2 a b limit 0", ""),
    ("sintercard 2 a b limit 10", ""), ("sintercard 2 a nokey", ""), ("sintercard 0 a", ""),
    ("sintercard -1 a", ""), ("sintercard x a", ""), ("sintercard 3 a b", ""),
    ("sintercard 2 a b limit -1", ""), ("sintercard 2 a b limit x", ""),
    ("sintercard 2 a b limit", ""), ("sintercard 2 a b bogus 1", ""),
    ("sintercard 1 a limit 1 limit 2", ""), ("sintercard 2 a", ""), ("sintercard 1", ""),
    # SMOVE
    ("del m1 m2", ""), ("sadd m1 1 a b", ""), ("sadd m2 2 3 4", ""), ("smove m1 m2 a", ""),
    ("smembers m1", "set"), ("smembers m2", "set"), ("object encoding m2", ""),
    ("smove m1 m2 1", ""), ("smove m1 m2 nothere", ""), ("smove m1 m1 b", ""),
    ("smove m1 m1 zz", ""), ("smove m1 m3 b", ""), ("exists m1", ""), ("smembers m3", ""),
    ("object encoding m3", ""), ("smove m2 m4 2", ""), ("object encoding m4", ""),
    ("sadd m5 2", ""), ("smove m4 m5 2", ""), ("exists m4", ""), ("smembers m5", ""),
    ("smove nokey m5 2", ""), ("smove m5 m6", ""), ("dbsize", ""),
    # SPOP
    ("del p", ""), ("sadd p 1 2 3", ""), ("spop p 0", ""), ("spop p 3", ""), ("exists p", ""),
    ("sadd p 1 2 3", ""), ("spop p 10", ""), ("exists p", ""), ("sadd p 5", ""),
    ("spop p", ""), ("spop p", ""), ("spop nokey", ""), ("spop nokey 3", ""),
    ("spop nokey 0", ""), ("spop p -1", ""), ("spop p x", ""), ("spop nokey x", ""),
    ("spop p 1 2", ""), ("sadd p a b c d e", ""), ("spop p 2", "shape"), ("scard p", ""),
    ("spop p", "shape"), ("scard p", ""), ("spop p 9223372036854775807", "shape"),
    ("spop p 9223372036854775808", ""), ("sadd pb " + BIG, ""), ("spop pb 5", "shape"),
    ("scard pb", ""), ("spop pb", "shape"), ("scard pb", ""),
    # SRANDMEMBER
    ("del r", ""), ("sadd r 1 2 3", ""), ("srandmember r 3", ""), ("srandmember r 100", ""),
    ("srandmember r", "shape"), ("srandmember r 2", "shape"), ("srandmember r -5", "shape"),
    ("srandmember r 0", ""), ("srandmember nokey", ""), ("srandmember nokey 3", ""),
    ("srandmember nokey -3", ""), ("srandmember r x", ""), ("srandmember nokey x", ""),
    ("srandmember r 1 2", ""), ("srandmember r -9223372036854775808", ""),
    ("srandmember r 9223372036854775808", ""), ("srandmember r -1", "shape"), ("srandmember big 10", "shape"),
    ("srandmember big -10", "shape"), ("srandmember big 1000", "set"), ("sadd rs a b c", ""),
    ("srandmember rs 5", "set"), ("srandmember rs -2", "shape"),
    # SSCAN
    ("sadd small " + INTS, ""), ("sscan small 0", ""), ("sscan small 0 match 1*", ""),
    ("sscan small 0 count 1", ""), ("sscan small 5", ""), ("sscan ints 0 count 1000", "scan"), ("sscan big 0 count 1000", "scan"),
    ("sscan big 0 match 5* count 1000", "scan"), ("sscan nokey 0", ""),
    ("sscan nokey 0 count 0", ""), ("sscan nokey x", ""), ("sscan small x", ""),
    ("sscan small 0 count 0", ""), ("sscan small 0 count x", ""), ("sscan small 0 bogus", ""),
    ("sscan small 0 type set", ""), ("sscan small 0 match", ""), ("sscan small -1", ""),
    ("sscan rs 0 count 100", "scan"),
    # keys over sets
    ("type rs", ""), ("expire rs 100", ""), ("ttl rs", ""), ("rename rs rs2", ""),
    ("smembers rs2", "set"), ("ttl rs2", ""), ("copy rs2 rs3", ""), ("smembers rs3", "set"),
    ("object encoding rs3", ""), ("copy ints ints2", ""), ("object encoding ints2", ""),
    ("smembers ints2", "set"), ("copy small small2", ""), ("smembers small2", ""), ("move rs3 1", ""), ("select 1", ""), ("smembers rs3", "set"),
    ("select 0", ""), ("del rs2", ""), ("smembers rs2", ""), ("scan 0 type set count 1000", "scan"),
    ("dbsize", ""),
]


def run_cases(shale, redis, proto):
    diffs = 0
    for case, mode in CASES:
        args = shlex.split(case)
        a = shale.call(*args)
        b = redis.call(*args)
        if canon(a, mode) != canon(b, mode):
            diffs += 1
            print("DIFF (RESP%d) %s\n  shale: %.300r\n  redis: %.300r" % (proto, case[:200], a, b))
    return diffs


def info_field(c, section, name):
    text = c.call("info", section)[1].decode()
    return int(text.split(name + ":")[1].split("\r\n")[0])


def compare_hit_counts(shale, redis):
    """keyspace_hits/misses after the set commands: lookups by reads count, by writes
    not (Redis's lookupKeyRead in SINTERSTORE's sources counts too)."""
    seq = [("config", "resetstat"), ("sadd", "hs", "a", "b"), ("sadd", "hs2", "b"),
           ("scard", "hs"), ("scard", "nokey"), ("sismember", "hs", "a"),
           ("smismember", "nokey", "a"), ("smembers", "hs"), ("sinter", "hs", "nokey"),
           ("sunion", "hs", "hs2"), ("sdiff", "nokey", "hs"), ("sinterstore", "d", "hs", "hs2"),
           ("sintercard", "2", "hs", "hs2"), ("srandmember", "hs"), ("srandmember", "nokey", "2"),
           ("sscan", "hs", "0"), ("spop", "nokey"), ("smove", "hs", "hs2", "a"),
           ("srem", "hs", "b"), ("sadd", "hs", "z")]
    for cmd in seq:
        shale.call(*cmd)
        redis.call(*cmd)
    a = (info_field(shale, "stats", "keyspace_hits"), info_field(shale, "stats", "keyspace_misses"))
    b = (info_field(redis, "stats", "keyspace_hits"), info_field(redis, "stats", "keyspace_misses"))
    if a != b:
        print("DIFF keyspace_hits/misses: shale %r, redis %r" % (a, b))
        return 1
    return 0


def sscan_all(c, key, count):
    """Every member SSCAN returns, walking the cursor to 0."""
    cur, got, calls = b"0", [], 0
    while True:
        t, v = c.call("sscan", key, cur, "count", str(count))
        cur = v[0][1]
        got += [m[1] for m in v[1][1]]
        calls += 1
        if cur == b"0":
            return got, calls


def compare_sscan_walk(shale, redis):
    """A hashtable set scanned 7 members at a time: every member exactly once."""
    members = ["m%d" % i for i in range(1000)]
    for c in (shale, redis):
        c.call("del", "walk")
        c.call("sadd", "walk", *members)
    a, calls = sscan_all(shale, "walk", 7)
    b, _ = sscan_all(redis, "walk", 7)
    if sorted(a) != sorted(m.encode() for m in members) or len(a) != len(set(a)) or calls < 100:
        print("DIFF SSCAN walk: shale gave %d members (%d distinct) in %d calls" %
              (len(a), len(set(a)), calls))
        return 1
    if sorted(set(b)) != sorted(set(a)):
        print("DIFF SSCAN walk: members differ from redis")
        return 1
    return 0


def main():
    def after(sp, rp):
        return compare_hit_counts(Conn(sp), Conn(rp)) + compare_sscan_walk(Conn(sp), Conn(rp))

    return oracle_exit(run_oracle(run_cases, after), "%d set commands" % len(CASES))

if __name__ == "__main__":
    sys.exit(main())
