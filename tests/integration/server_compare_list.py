#!/usr/bin/python3
"""server_compare_list.py - the list commands' replies and errors, byte for byte, against
redis-server 7.0 as the oracle (same commands on both, RESP2 then RESP3): every command
with its options, edge cases (indexes at and past the ends, LLONG_MIN/LLONG_MAX, counts
of zero, one key twice), errors in Redis's order of checks, and WRONGTYPE.

The blocking commands are compared where a reply comes without waiting (an element is
there, a timeout of a few ms, a bad timeout); waiting, wake-ups and fairness are
server_blocking.py's. Exit 0 when no difference, 1 otherwise, 77 when redis-server is
missing.
"""
import os
import shlex
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, canon  # noqa: E402
from lib.harness import check, run_main, start_redis, start_server  # noqa: E402

MAX = "9223372036854775807"
MIN = "-9223372036854775808"

# (command, mode): mode "" = bytes equal, "set", "shape" (see server_compare.canon)
CASES = [
    # pushes
    ("del l l2 l3 s z", ""), ("lpush l a", ""), ("lpush l b c d", ""), ("rpush l e f", ""),
    ("lrange l 0 -1", ""), ("llen l", ""), ("lpushx l x", ""), ("rpushx l y", ""),
    ("lpushx nol x", ""), ("rpushx nol x", ""), ("exists nol", ""), ("lpush", ""),
    ("lpush l", ""), ("rpushx l", ""), ("set s str", ""), ("lpush s x", ""),
    ("rpush s x", ""), ("lpushx s x", ""), ("rpushx s x", ""), ("type l", ""),
    ("object encoding l", ""), ("rpush l ''", ""), ("lrange l 0 -1", ""),
    # LRANGE's index arithmetic
    ("lrange l 0 0", ""), ("lrange l -1 -1", ""), ("lrange l -100 100", ""),
    ("lrange l 5 2", ""), ("lrange l 100 200", ""), ("lrange l -3 -1", ""),
    ("lrange l 0 -100", ""), ("lrange l %s %s" % (MIN, MAX), ""),
    ("lrange l %s %s" % (MAX, MAX), ""), ("lrange l %s %s" % (MIN, MIN), ""),
    ("lrange l a 1", ""), ("lrange l 0 b", ""), ("lrange l 0.5 1", ""),
    ("lrange l 99999999999999999999 1", ""), ("lrange nol 0 -1", ""), ("lrange s 0 -1", ""),
    ("lrange nol a b", ""), ("lrange l 0", ""),
    # LINDEX
    ("lindex l 0", ""), ("lindex l -1", ""), ("lindex l 3", ""), ("lindex l 100", ""),
    ("lindex l -100", ""), ("lindex l %s" % MIN, ""), ("lindex l %s" % MAX, ""),
    ("lindex l x", ""), ("lindex nol x", ""), ("lindex s x", ""), ("lindex s 0", ""),
    ("lindex nol 0", ""),
    # LLEN
    ("llen nol", ""), ("llen s", ""), ("llen l extra", ""),
    # LSET
    ("lset l 0 first", ""), ("lset l -1 last", ""), ("lset l 100 x", ""),
    ("lset l -100 x", ""), ("lset l x v", ""), ("lset nol 0 v", ""), ("lset nol x v", ""),
    ("lset s 0 v", ""), ("lset l %s v" % MIN, ""), ("lrange l 0 -1", ""),
    # LPOP / RPOP
    ("lpop l", ""), ("rpop l", ""), ("lpop l 2", ""), ("rpop l 2", ""), ("lpop l 0", ""),
    ("rpop l 0", ""), ("lpop l -1", ""), ("lpop l x", ""), ("lpop l 1.5", ""),
    ("lpop l 1 2", ""), ("rpop l 1 2 3", ""), ("lpop nol", ""), ("lpop nol 1", ""),
    ("lpop nol 0", ""), ("rpop nol 5", ""), ("lpop s", ""), ("lpop s 1", ""),
    ("lpop s x", ""), ("lpop nol x", ""), ("lrange l 0 -1", ""), ("lpop l 100", ""),
    ("exists l", ""), ("rpush l a b c", ""), ("rpop l 100", ""), ("exists l", ""),
    ("rpush l a", ""), ("lpop l 1", ""), ("exists l", ""), ("rpush l a", ""), ("rpop l", ""),
    ("exists l", ""), ("lpop l %s" % MAX, ""),
    # LINSERT
    ("rpush l a b c d e", ""), ("linsert l before c X", ""), ("linsert l after c Y", ""),
    ("linsert l before a F", ""), ("linsert l after e L", ""), ("lrange l 0 -1", ""),
    ("linsert l before zz Q", ""), ("linsert l middle c Q", ""), ("linsert nol before a b", ""),
    ("linsert nol middle a b", ""), ("linsert s before a b", ""), ("linsert s bad a b", ""),
    ("linsert l BEFORE F F2", ""), ("linsert l AfTeR L L2", ""), ("lrange l 0 -1", ""),
    ("linsert l before ''", ""), ("rpush dup x y x y x", ""), ("linsert dup after x Z", ""),
    ("linsert dup before y W", ""), ("lrange dup 0 -1", ""),
    # LREM
    ("del r", ""), ("rpush r a b a c a d a", ""), ("lrem r 2 a", ""), ("lrange r 0 -1", ""),
    ("lrem r -1 a", ""), ("lrange r 0 -1", ""), ("lrem r 0 a", ""), ("lrange r 0 -1", ""),
    ("lrem r 0 zz", ""), ("lrem r x a", ""), ("lrem nol 0 a", ""), ("lrem nol x a", ""),
    ("lrem s 0 a", ""), ("rpush r2 z z z", ""), ("lrem r2 %s z" % MIN, ""),
    ("exists r2", ""), ("rpush r2 z y z", ""), ("lrem r2 0 z", ""), ("lrange r2 0 -1", ""),
    ("lrem r2 1 y", ""), ("exists r2", ""), ("rpush r3 a b c", ""), ("lrem r3 %s b" % MAX, ""),
    ("lrange r3 0 -1", ""),
    # LTRIM
    ("del t", ""), ("rpush t 0 1 2 3 4 5 6 7 8 9", ""), ("ltrim t 1 -2", ""),
    ("lrange t 0 -1", ""), ("ltrim t 0 -1", ""), ("ltrim t -3 100", ""), ("lrange t 0 -1", ""),
    ("ltrim t 5 1", ""), ("exists t", ""), ("rpush t a b c", ""), ("ltrim t 100 200", ""),
    ("exists t", ""), ("ltrim nol 0 1", ""), ("ltrim s 0 1", ""), ("ltrim t x 1", ""),
    ("ltrim nol x 1", ""), ("ltrim t 0 y", ""), ("rpush t a b c", ""),
    ("ltrim t %s %s" % (MIN, MAX), ""), ("lrange t 0 -1", ""), ("ltrim t -1 -1", ""),
    ("lrange t 0 -1", ""),
    # LPOS
    ("del p", ""), ("rpush p a b c 1 2 3 c c", ""), ("lpos p c", ""), ("lpos p c rank 2", ""),
    ("lpos p c rank -1", ""), ("lpos p c rank -3", ""), ("lpos p c rank 4", ""),
    ("lpos p c count 0", ""), ("lpos p c count 2", ""), ("lpos p c rank -1 count 2", ""),
    ("lpos p c count 0 maxlen 3", ""), ("lpos p c maxlen 2", ""), ("lpos p c rank -1 maxlen 1", ""),
    ("lpos p zz", ""), ("lpos p zz count 0", ""), ("lpos nol a", ""), ("lpos nol a count 1", ""),
    ("lpos s a", ""), ("lpos p c rank 0", ""), ("lpos p c rank x", ""), ("lpos p c count -1", ""),
    ("lpos p c count x", ""), ("lpos p c maxlen -1", ""), ("lpos p c maxlen x", ""),
    ("lpos p c bogus", ""), ("lpos p c rank", ""), ("lpos p c count", ""),
    ("lpos p c rank %s" % MIN, ""), ("lpos p c rank %s count 1" % MIN, ""),
    ("lpos p c rank %s" % MAX, ""), ("lpos p c count 1 count 2", ""),
    ("lpos p c rank 1 rank -1", ""), ("lpos nol a rank 0", ""), ("lpos p 1", ""),
    # LMOVE / RPOPLPUSH
    ("del m1 m2", ""), ("rpush m1 a b c", ""), ("lmove m1 m2 left right", ""),
    ("lmove m1 m2 right left", ""), ("lrange m1 0 -1", ""), ("lrange m2 0 -1", ""),
    ("lmove m1 m1 left right", ""), ("lrange m1 0 -1", ""), ("lmove m1 m2 LEFT LEFT", ""),
    ("exists m1", ""), ("lmove m1 m2 left left", ""), ("lmove m2 m2 right left", ""),
    ("lrange m2 0 -1", ""), ("lmove m2 m2 up left", ""), ("lmove m2 m2 left down", ""),
    ("lmove nol m2 up left", ""), ("lmove m2 s left left", ""), ("lmove s m2 left left", ""),
    ("lmove nol s left left", ""), ("lrange m2 0 -1", ""), ("rpoplpush m2 m3", ""),
    ("rpoplpush m3 m3", ""), ("rpoplpush nol m3", ""), ("rpoplpush m3 s", ""),
    ("rpoplpush s m3", ""), ("lrange m3 0 -1", ""), ("rpush one x", ""),
    ("lmove one one right left", ""), ("lmove one one left right", ""), ("lrange one 0 -1", ""),
    ("rpoplpush one one", ""), ("llen one", ""), ("lmove one fresh left right", ""),
    ("exists one", ""), ("lrange fresh 0 -1", ""),
    # LMPOP
    ("del mp1 mp2", ""), ("rpush mp2 a b c d", ""), ("lmpop 2 mp1 mp2 left", ""),
    ("lmpop 2 mp1 mp2 right count 2", ""), ("lmpop 2 mp1 mp2 left count 10", ""),
    ("exists mp2", ""), ("lmpop 2 mp1 mp2 left", ""), ("lmpop 1 s left", ""),
    ("rpush mp2 x", ""), ("lmpop 2 s mp2 left", ""), ("lmpop 2 mp2 s left", ""),
    ("lmpop 0 mp1 left", ""), ("lmpop -1 mp1 left", ""), ("lmpop x mp1 left", ""),
    ("lmpop 3 mp1 mp2 left", ""), ("lmpop 2 mp1 mp2", ""), ("lmpop 1 mp1 up", ""),
    ("lmpop 1 mp2 left count 0", ""), ("lmpop 1 mp2 left count -1", ""),
    ("lmpop 1 mp2 left count x", ""), ("lmpop 1 mp2 left count 1 count 2", ""),
    ("lmpop 1 mp2 left bogus", ""), ("lmpop 1 mp2 left count", ""), ("lmpop 1 mp2", ""),
    ("lmpop 1 mp2 LEFT COUNT 1", ""), ("lmpop 2 mp2 mp2 right", ""),
    ("lmpop %s mp1 left" % MAX, ""),
    # keys of lists
    ("del k1 k2", ""), ("rpush k1 a b c", ""), ("rename k1 k2", ""), ("lrange k2 0 -1", ""),
    ("copy k2 k3", ""), ("lrange k3 0 -1", ""), ("rpush k3 d", ""), ("lrange k2 0 -1", ""),
    ("expire k3 100", ""), ("ttl k3", ""), ("lpush k3 z", ""), ("ttl k3", ""),
    ("lpop k3 10", ""), ("ttl k3", ""), ("type k2", ""), ("scan 0 type list count 1000", "scan"),
    ("object encoding k2", ""), ("del k2 k3", ""), ("exists k2 k3", ""),
]

# Longer lists: the shorter side of LINSERT/LREM at either end, LTRIM's copy under a new
# version, values large enough for the value log, binary values.
BIG = " ".join(str(i % 7) for i in range(300))
CASES += [
    ("del big", ""), ("rpush big " + BIG, ""), ("linsert big before 3 X", ""),
    ("lindex big 3", ""), ("linsert big after 6 Y", ""), ("lrange big 0 20", ""),
    ("lrem big 5 4", ""), ("lrem big -5 2", ""), ("lrange big 0 -1", ""), ("llen big", ""),
    ("lrem big 0 1", ""), ("lrange big 0 -1", ""), ("lpos big 5 rank -3 count 4", ""),
    ("ltrim big 100 110", ""), ("lrange big 0 -1", ""), ("llen big", ""),
    ("rpush big " + BIG, ""), ("ltrim big 0 -2", ""), ("lrange big -5 -1", ""),
    ("lpop big 7", ""), ("rpop big 7", ""), ("lrange big 100 150", ""),
    ("del v", ""), ("rpush v %s" % ("x" * 100000), ""), ("lpush v %s" % ("y" * 5000), ""),
    ("lrange v 0 -1", ""), ("lset v 1 %s" % ("z" * 70000), ""), ("lindex v 1", ""),
    ("lmove v v right left", ""), ("lpop v 2", ""),
    ("rpush bin 'a\x00b' '\xff\xfe' '' ' '", ""), ("lrange bin 0 -1", ""),
    ("lrem bin 1 ''", ""), ("lpos bin 'a\x00b'", ""), ("lrange bin 0 -1", ""),
]

# The blocking commands where they reply without waiting: an element is there, a timeout
# of 10 ms, or an error (checked in Redis's order: BLMPOP's other arguments first).
CASES += [
    ("del bl d", ""), ("rpush bl a b c d e f g h i j k l", ""), ("blpop bl 0", ""), ("brpop bl nol 0", ""),
    ("blpop nol bl 1", ""), ("blpop nol 0.01", ""), ("brpop nol nol2 0.01", ""),
    ("blpop s 0", ""), ("blpop nol s 0", ""), ("blpop bl s 0", ""), ("blpop nol -1", ""),
    ("blpop nol x", ""), ("blpop nol inf", ""), ("blpop nol 1e30", ""),
    ("blpop nol", ""), ("blpop nol ''", ""), ("blpop nol nan", ""),
    ("brpoplpush bl d 0", ""), ("brpoplpush nol d 0.01", ""), ("brpoplpush s d 0", ""),
    ("brpoplpush bl s 0", ""), ("brpoplpush bl d -1", ""), ("brpoplpush nol s 0.01", ""),
    ("blmove bl d left right 0", ""), ("blmove bl d up left 0", ""),
    ("blmove bl d left left x", ""), ("blmove nol d left left -1", ""),
    ("blmove nol s left left 0.01", ""), ("blmove bl s left left 0", ""),
    ("blmove s d left left 0", ""), ("lrange d 0 -1", ""), ("blmove bl bl right left 0", ""),
    ("blmpop 0.01 1 nol left", ""), ("blmpop 0 2 nol bl right count 2", ""),
    ("blmpop x 1 nol left", ""), ("blmpop 0 0 nol left", ""), ("blmpop -1 1 nol left", ""),
    ("blmpop 0 1 nol bogus", ""), ("blmpop 0 1 s left", ""), ("blmpop x 1 nol bogus", ""),
    ("blmpop -1 1 nol left count 0", ""), ("blmpop 0 2 nol left", ""),
    ("rpush bl z y", ""), ("blmpop 0 1 bl left count 10", ""), ("exists bl", ""), ("lrange d 0 -1", ""),
]

# COMMAND INFO's name, arity, flags and key positions (ACL categories and key specs are
# the command table's, not this family's)
COMMANDS = ("lpush rpush lpushx rpushx lpop rpop llen lrange lindex lset linsert lrem ltrim "
            "lpos rpoplpush lmove lmpop blpop brpop brpoplpush blmove blmpop").split()


def compare_command_info(shale, redis):
    diffs = 0
    for name in COMMANDS:
        a = shale.call("command", "info", name)[1][0][1][:6]
        b = redis.call("command", "info", name)[1][0][1][:6]
        if repr(a) != repr(b):
            diffs += 1
            print("DIFF COMMAND INFO %s\n  shale: %r\n  redis: %r" % (name, a, b))
    return diffs


def run(shale, redis, proto):
    diffs = 0
    for case, mode in CASES:
        args = shlex.split(case)
        print("CASE", case, flush=True) if os.environ.get("TRACE") else None
        a = shale.call(*args)
        b = redis.call(*args)
        if canon(a, mode) != canon(b, mode):
            diffs += 1
            print("DIFF (RESP%d) %s\n  shale: %r\n  redis: %r" % (proto, case, a, b))
    return diffs


def main():
    if not shutil.which("redis-server"):
        print("skip: redis-server missing")
        return 77
    _, sp, _ = start_server("shale")
    _, rp, _ = start_redis()
    diffs = 0
    for proto in (2, 3):
        shale, redis = Conn(sp), Conn(rp)
        for c in (shale, redis):
            c.call("flushall")
            if proto == 3:
                c.call("hello", "3")
        diffs += run(shale, redis, proto)
        diffs += compare_command_info(shale, redis)
    print("%d list commands compared in RESP2 and RESP3, %d differences" % (len(CASES), diffs))
    check(diffs == 0, "replies differ from redis-server")
    return 0


if __name__ == "__main__":
    run_main(main)
