#!/usr/bin/python3
"""server_compare_sort.py - SORT and SORT_RO replies and errors, byte for byte, against
redis-server 7.0 as the oracle (RESP2 then RESP3), as server_compare.py does.

Sets are sorted here; lists and sorted sets (and SORT ... STORE, which writes a list)
are compared too once the server has LPUSH and ZADD: those cases are skipped, and said
so, while it has not.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, canon, oracle_exit, run_oracle  # noqa: E402

SETUP = [
    "sadd s 3 1 2 10 -4 2.5", "sadd t b a c B", "sadd e ''", "sadd nums 1e3 0x10 ' 7' inf -inf",
    "mset w_1 30 w_2 20 w_3 abc w_10 5 w_-4 6 w_2.5 7", "sadd s2 3 1 2 10 -4",
    "mset u_10 5 u_-4 5 u_1 5 u_2 z u_3 a", "hset h_1 f 5 g x", "hset h_2 f 1",
    "hset h_3 f 9", "mset v_a 3 v_b 2 v_c 1 v_B 0", "set str x", "sadd big " +
    " ".join(str(i) for i in range(700)), "sadd nan nan", "sadd huge 1e999",
]

# (command, mode): mode "" = bytes equal, "set" = as a set (order unspecified)
CASES = [
    ("sort s", ""), ("sort s desc", ""), ("sort s asc", ""), ("sort s alpha", ""),
    ("sort s alpha desc", ""), ("sort s limit 1 2", ""), ("sort s limit 0 0", ""),
    ("sort s limit 0 -1", ""), ("sort s limit -5 2", ""), ("sort s limit 5 10", ""),
    ("sort s limit 10 1", ""), ("sort s limit 2 -7", ""), ("sort s limit 1", ""),
    ("sort s limit x 1", ""), ("sort s limit 1 x", ""), ("sort s desc limit 0 3", ""),
    ("sort s asc desc", ""), ("sort s desc asc", ""),
    # BY
    ("sort s by nosort", "set"), ("sort big by nosort", "set"), ("sort t by nosort", "set"),
    ("sort s by w_*", ""), ("sort s by w_* desc", ""),
    ("sort s by w_* alpha", ""), ("sort s by w_* alpha desc", ""),
    ("sort s by w_* alpha limit 1 3", ""), ("sort s by nokey_*", ""),
    ("sort s by nokey_* alpha", "set"), ("sort s2 by nokey_* alpha", ""),
    ("sort s2 by nokey_* alpha desc", ""), ("sort s2 by u_* alpha", ""),
    ("sort s2 by u_* alpha desc", ""), ("sort s2 by u_* alpha limit 1 2", ""),
    ("sort s2 by nosort", ""), ("sort s2 by nosort desc", ""), ("sort s2 by nosort limit 1 2", ""), ("sort s by h_*->f", ""), ("sort s by h_*->f desc", ""),
    ("sort s by h_*->nofield", ""), ("sort s by h_*->g alpha", "set"),
    ("sort s2 by h_*->g alpha", ""), ("sort s by h_*->", ""),
    ("sort s by w_* by nosort", "set"), ("sort s by nosort by w_*", "set"),
    ("sort t by v_*", ""), ("sort t by v_* desc", ""), ("sort s by str", "set"),
    ("sort s by h_*->f limit 0 2", ""),
    # GET
    ("sort s get #", ""), ("sort s get # get w_*", ""), ("sort s get w_* get h_*->f", ""),
    ("sort s by w_* alpha get # get h_*->f", ""), ("sort s get nostar", ""),
    ("sort s get h_*->", ""), ("sort s get h_*->nofield", ""), ("sort s get str*", ""),
    ("sort s get # limit 1 2 desc", ""), ("sort s get", ""), ("sort t alpha get v_*", ""),
    ("sort s by nokey_* get # get w_*", ""),
    # numbers as strtod reads them, and errors
    ("sort nums", ""), ("sort nums desc", ""), ("sort t", ""), ("sort t alpha", ""),
    ("sort nan", ""), ("sort e", ""), ("sort big", ""),
    ("sort big desc limit 0 5", ""), ("sort big alpha limit 100 5", ""),
    ("sort nokey", ""), ("sort nokey alpha desc limit 0 1 get #", ""), ("sort str", ""),
    ("sort h_1", ""), ("sort s bogus", ""), ("sort s store", ""), ("sort", ""),
    ("sort s limit", ""), ("sort s by", ""),
    # SORT_RO
    ("sort_ro s", ""), ("sort_ro s by w_* alpha get # get h_*->f limit 0 4", ""),
    ("sort_ro s store dst", ""), ("sort_ro nokey", ""), ("sort_ro str", ""),
    # last: Redis's strtod check reads an errno it did not clear, so after an ERANGE every
    # numeric SORT fails until something clears errno (INCRBYFLOAT's string2ld does)
    ("sort huge", ""), ("incrbyfloat errno_reset 1", ""),
]

# once the server has lists and sorted sets
LIST_CASES = [
    ("rpush l 3 1 2 10", ""), ("sort l", ""), ("sort l by nosort", ""),
    ("sort l by nosort desc", ""), ("sort l by nosort limit 1 2", ""),
    ("sort l by nosort desc limit 1 2", ""), ("sort l alpha", ""),
    ("zadd z 3 a 1 b 2 c", ""), ("sort z alpha", ""), ("sort z by nosort", ""),
    ("sort z by nosort desc limit 0 2", ""), ("sort s store dst", ""), ("lrange dst 0 -1", ""),
    ("sort t by nosort store dst", ""), ("lrange dst 0 -1", ""),
    ("sort s get w_* store dst", ""), ("lrange dst 0 -1", ""), ("sort nokey store dst", ""),
    ("exists dst", ""), ("sort l store l", ""), ("lrange l 0 -1", ""),
]


def run_cases(shale, redis, proto, cases):
    diffs = 0
    for case, mode in cases:
        args = shlex.split(case)
        a = shale.call(*args)
        b = redis.call(*args)
        if canon(a, mode) != canon(b, mode):
            diffs += 1
            print("DIFF (RESP%d) %s\n  shale: %.300r\n  redis: %.300r" % (proto, case, a, b))
    return diffs


def info_field(c, section, name):
    text = c.call("info", section)[1].decode()
    return int(text.split(name + ":")[1].split("\r\n")[0])


def compare_hit_counts(shale, redis):
    """keyspace_hits/misses: the sorted key and every BY and GET lookup count."""
    seq = [("config", "resetstat"), ("sort", "s", "by", "w_*", "get", "#", "get", "h_*->f"),
           ("sort", "nokey"), ("sort", "s", "by", "nosort", "get", "nostar"),
           ("sort_ro", "t", "by", "v_*", "alpha", "limit", "0", "2", "get", "v_*")]
    for cmd in seq:
        shale.call(*cmd)
        redis.call(*cmd)
    a = (info_field(shale, "stats", "keyspace_hits"), info_field(shale, "stats", "keyspace_misses"))
    b = (info_field(redis, "stats", "keyspace_hits"), info_field(redis, "stats", "keyspace_misses"))
    if a != b:
        print("DIFF keyspace_hits/misses: shale %r, redis %r" % (a, b))
        return 1
    return 0


def main():
    chosen = []

    def per_proto(shale, redis, proto):
        if not chosen:  # COMMAND INFO of an unknown command is a nil entry
            has_lists = all(shale.call("command", "info", c)[1][0][1] is not None
                            for c in ("lpush", "zadd"))
            chosen.extend(CASES + (LIST_CASES if has_lists else []))
            if not has_lists:
                print("skip: %d list, sorted set and STORE cases (the server has no "
                      "LPUSH/ZADD)" % len(LIST_CASES))
        for c in (shale, redis):
            for line in SETUP:
                c.call(*shlex.split(line))
        return run_cases(shale, redis, proto, chosen)

    diffs = run_oracle(per_proto, lambda sp, rp: compare_hit_counts(Conn(sp), Conn(rp)))
    return oracle_exit(diffs, "%d SORT commands" % len(chosen))

if __name__ == "__main__":
    sys.exit(main())
