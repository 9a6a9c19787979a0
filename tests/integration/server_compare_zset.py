#!/usr/bin/python3
"""server_compare_zset.py - sorted-set commands' replies and errors, byte for byte,
against redis-server 7.0 as the oracle (server_compare.py's method: the same commands on
both, RESP2 then RESP3). Scores print as Redis prints them (%.17g, inf, -inf; ZSCAN as
its listpack keeps them); random replies are compared by shape, ZSCAN's as sets.
Exit 0 when no difference, 1 otherwise, 77 when redis-server is missing.
"""
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, canon, oracle_exit, run_oracle  # noqa: E402

# (command, mode): mode "" = bytes equal, "set", "shape", "scan"
CASES = [
    # ZADD: options, errors, repeats, special scores
    ("zadd z 1 a 2 b 3 c", ""), ("zadd z 1 a", ""), ("zadd z ch 5 a 2 b 9 d", ""),
    ("zrange z 0 -1 withscores", ""), ("zadd z nx 100 a 7 e", ""), ("zadd z xx 100 a 8 f", ""),
    ("zadd z xx ch 101 a 3 c", ""), ("zadd z gt 50 a", ""), ("zadd z gt ch 200 a", ""),
    ("zadd z lt ch 300 a", ""), ("zadd z lt ch 1 a", ""), ("zadd z gt lt 1 a", ""),
    ("zadd z nx xx 1 a", ""), ("zadd z nx gt 1 a", ""), ("zadd z nx lt 1 a", ""),
    ("zadd z incr 1 a 2 b", ""), ("zadd z 1", ""), ("zadd z 1 a 2", ""), ("zadd z nx", ""),
    ("zadd z x a", ""), ("zadd z 1 a x b", ""), ("zadd z nan a", ""), ("zadd z ' 1' a", ""),
    ("zadd z '1 ' a", ""), ("zadd z 1e400 a", ""), ("zadd z 1e-400 a", ""), ("zadd z '' a", ""),
    ("zadd z 0x10 hex", ""), ("zscore z hex", ""), ("zadd z 1e-320 sub", ""), ("zscore z sub", ""),
    ("zadd z inf pinf -inf ninf +inf pinf2", ""), ("zscore z pinf", ""), ("zscore z ninf", ""),
    ("zadd z -0 negzero", ""), ("zscore z negzero", ""), ("zadd z 0.1 tenth", ""),
    ("zscore z tenth", ""), ("zadd z 1e17 big 1.5e300 huge -2.5 neg", ""),
    ("zmscore z big huge neg nosuch", ""), ("zadd z 1 dup 2 dup 3 dup", ""), ("zscore z dup", ""),
    ("zadd z incr 5 a", ""), ("zadd z incr -inf pinf", ""), ("zscore z pinf", ""),
    ("zadd z incr 1 newone", ""), ("zadd z xx incr 1 nosuch", ""), ("zadd z nx incr 1 a", ""),
    ("zadd z gt incr -1 a", ""), ("zadd z lt incr -1 a", ""), ("zadd z incr -0 fresh0", ""),
    ("zadd nokey xx 1 a", ""), ("exists nokey", ""), ("zadd nokey xx incr 1 a", ""),
    ("zadd z XX CH GT 1000 a", ""), ("zadd z Incr 0 a", ""),
    ("zcard z", ""), ("zcard nokey", ""),
    # ZINCRBY
    ("zincrby z 2.5 b", ""), ("zincrby z -2.5 b", ""), ("zincrby z 1 brandnew", ""),
    ("zincrby z x b", ""), ("zincrby z -inf pinf", ""), ("zincrby z nx b", ""),
    ("zincrby z -0 fresh1", ""), ("zincrby z 0.1 tenth", ""),
    # ZSCORE ZMSCORE ZRANK ZREVRANK
    ("zscore z nosuch", ""), ("zscore nokey a", ""), ("zmscore nokey a b", ""),
    ("zrank z a", ""), ("zrank z ninf", ""), ("zrevrank z a", ""), ("zrevrank z ninf", ""),
    ("zrank z nosuch", ""), ("zrank nokey a", ""), ("zrevrank nokey a", ""),
    ("zrange z 0 -1 withscores", ""), ("zrevrange z 0 -1 withscores", ""),
    # ZRANGE by rank
    ("zrange z 0 0", ""), ("zrange z -1 -1", ""), ("zrange z -3 -1 withscores", ""),
    ("zrange z 2 1", ""), ("zrange z 100 200", ""), ("zrange z -100 2", ""), ("zrange z 0 1000", ""),
    ("zrange z 0 -1 rev", ""), ("zrange z 1 3 rev withscores", ""), ("zrange z a b", ""),
    ("zrange z 0 1 limit 0 1", ""), ("zrange z 0 1 limit 0 -1", ""), ("zrange z 0 1 bogus", ""),
    ("zrange z 0 1 withscores withscores", ""), ("zrange z 0 1 rev rev", ""),
    ("zrange nokey 0 -1", ""), ("zrange z 0 1 limit 1", ""), ("zrange z 0 1 limit x 1", ""),
    ("zrevrange z 0 2", ""), ("zrevrange z 0 2 withscores", ""), ("zrevrange z 0 2 rev", ""),
    ("zrevrange z 0 2 byscore", ""),
    # ZRANGE BYSCORE
    ("zrange z -inf +inf byscore", ""), ("zrange z -inf +inf byscore withscores", ""),
    ("zrange z (1 5 byscore withscores", ""), ("zrange z 1 (5 byscore", ""),
    ("zrange z (1 (5 byscore", ""), ("zrange z 5 1 byscore", ""), ("zrange z 5 1 byscore rev", ""),
    ("zrange z +inf -inf byscore rev withscores", ""), ("zrange z 2 2 byscore", ""),
    ("zrange z (2 2 byscore", ""), ("zrange z -inf +inf byscore limit 2 3", ""),
    ("zrange z -inf +inf byscore limit 2 3 rev", ""), ("zrange z +inf -inf byscore rev limit 1 2", ""),
    ("zrange z -inf +inf byscore limit -1 3", ""), ("zrange z -inf +inf byscore limit 1 -1", ""),
    ("zrange z -inf +inf byscore limit 1 0", ""), ("zrange z -inf +inf byscore limit 100 1", ""),
    ("zrange z a 1 byscore", ""), ("zrange z 1 nan byscore", ""), ("zrange z '' '' byscore", ""),
    ("zrange z ( ( byscore", ""), ("zrange z 0 1e400 byscore", ""), ("zrange z (-inf (inf byscore", ""),
    ("zrange z 1 2 byscore bylex", ""), ("zrange z 1 2 bylex byscore", ""),
    ("zrangebyscore z -inf +inf", ""), ("zrangebyscore z -inf +inf withscores limit 1 2", ""),
    ("zrangebyscore z (0 inf limit 0 2", ""), ("zrangebyscore z 1 2 rev", ""),
    ("zrangebyscore z 1 2 byscore", ""), ("zrevrangebyscore z +inf -inf", ""),
    ("zrevrangebyscore z 5 (1 withscores", ""), ("zrevrangebyscore z 1 5", ""),
    ("zrevrangebyscore z +inf -inf limit 2 2 withscores", ""), ("zrangebyscore nokey 0 1", ""),
    ("zrangebyscore z x 1", ""), ("zrevrangebyscore z 1 x", ""),
    # ZRANGE BYLEX (one score everywhere, and a mixed set)
    ("zadd lex 0 a 0 b 0 c 0 d 0 e 0 f 0 g 0 '' 0 aa 0 ab", ""),
    ("zrange lex - + bylex", ""), ("zrange lex [b [e bylex", ""), ("zrange lex (b (e bylex", ""),
    ("zrange lex [a (b bylex", ""), ("zrange lex + - bylex", ""), ("zrange lex - - bylex", ""),
    ("zrange lex + + bylex", ""), ("zrange lex [c [c bylex", ""), ("zrange lex (c [c bylex", ""),
    ("zrange lex [ [c bylex", ""), ("zrange lex ( + bylex", ""), ("zrange lex + [c bylex rev", ""),
    ("zrange lex [e [b bylex rev", ""), ("zrange lex (e - bylex rev limit 1 2", ""),
    ("zrange lex - + bylex limit 2 3", ""), ("zrange lex - + bylex limit -1 3", ""),
    ("zrange lex - + bylex limit 0 -5", ""), ("zrange lex a c bylex", ""),
    ("zrange lex [a c bylex", ""), ("zrange lex +a + bylex", ""), ("zrange lex - + bylex withscores", ""),
    ("zrangebylex lex - +", ""), ("zrangebylex lex [b + limit 1 2", ""),
    ("zrevrangebylex lex + -", ""), ("zrevrangebylex lex [d (a limit 0 2", ""),
    ("zrangebylex lex a b", ""), ("zrangebylex nokey - +", ""), ("zlexcount lex - +", ""),
    ("zlexcount lex [b (f", ""), ("zlexcount lex (b (b", ""), ("zlexcount lex x y", ""),
    ("zlexcount nokey - +", ""),
    ("zadd lexmix 0 '' 0 a 0 aa 0 ab 0 b 0 ba 0 c 0 cc 0 d 0 e 1 a2", ""),
    ("zrangebylex lexmix [b [c", ""), ("zrangebylex lexmix [a1 +", ""),
    ("zrevrangebylex lexmix + [a1", ""), ("zlexcount lexmix [a1 +", ""),
    ("zrangebylex lexmix - [b", ""), ("zrevrangebylex lexmix [c -", ""),
    # ZCOUNT
    ("zcount z -inf +inf", ""), ("zcount z (1 5", ""), ("zcount z 1 (5", ""), ("zcount z 5 1", ""),
    ("zcount z 2 2", ""), ("zcount z x 1", ""), ("zcount nokey 0 1", ""), ("zcount z (2 2", ""),
    # ZRANGESTORE
    ("zrangestore dst z 0 2", ""), ("zrange dst 0 -1 withscores", ""),
    ("zrangestore dst z -inf +inf byscore limit 1 3", ""), ("zrange dst 0 -1 withscores", ""),
    ("zrangestore dst lex [b [d bylex", ""), ("zrange dst 0 -1", ""),
    ("zrangestore dst z 0 2 withscores", ""), ("zrangestore dst nokey 0 -1", ""), ("exists dst", ""),
    ("set strdst x", ""), ("expire strdst 100", ""), ("zrangestore strdst z 0 0", ""),
    ("type strdst", ""), ("ttl strdst", ""), ("zrangestore dst2 z 5 1", ""), ("exists dst2", ""),
    ("zrangestore z z 0 3", ""), ("zrange z 0 -1 withscores", ""), ("zrangestore dst z", ""),
    ("zrangestore dst z +inf -inf byscore rev limit 0 2", ""), ("zrange dst 0 -1 withscores", ""),
    # ZREM and the emptied key
    ("zadd r 1 a 2 b 3 c", ""), ("zrem r a a nosuch", ""), ("zrem r", ""), ("zrem nokey a", ""),
    ("zrem r b c", ""), ("exists r", ""), ("zcard r", ""),
    # ZREMRANGEBY*
    ("zadd rr 1 a 2 b 3 c 4 d 5 e 6 f", ""), ("zremrangebyrank rr 0 0", ""),
    ("zremrangebyrank rr -1 -1", ""), ("zremrangebyrank rr 5 1", ""), ("zremrangebyrank rr x 1", ""),
    ("zrange rr 0 -1", ""), ("zremrangebyscore rr (2 3", ""), ("zremrangebyscore rr x 3", ""),
    ("zremrangebyscore rr 100 200", ""), ("zadd rr 0 x 0 y 0 z", ""),
    ("zremrangebylex rr [x (z", ""), ("zremrangebylex rr x y", ""), ("zrange rr 0 -1 withscores", ""),
    ("zremrangebyrank rr 0 -1", ""), ("exists rr", ""), ("zremrangebyrank nokey 0 -1", ""),
    ("zremrangebyscore nokey 0 1", ""), ("zremrangebylex nokey - +", ""),
    # ZPOPMIN ZPOPMAX ZMPOP
    ("zadd p 1 a 2 b 3 c 4 d 5 e", ""), ("zpopmin p", ""), ("zpopmax p", ""), ("zpopmin p 2", ""),
    ("zpopmin p 0", ""), ("zpopmin p -1", ""), ("zpopmin p x", ""), ("zpopmin p 1 2", ""),
    ("zpopmax p 10", ""), ("exists p", ""), ("zpopmin p", ""), ("zpopmax nokey 3", ""),
    ("zadd p 1 a 2 b 3 c", ""), ("zmpop 1 p min", ""), ("zmpop 1 p max count 5", ""),
    ("zmpop 2 nokey p min", ""), ("zadd p 1 a 2 b 3 c", ""), ("zmpop 2 nokey p max count 2", ""),
    ("zmpop 1 nokey min", ""), ("zmpop 0 p min", ""), ("zmpop -1 p min", ""), ("zmpop x p min", ""),
    ("zmpop 1 p", ""), ("zmpop 1 p left", ""), ("zmpop 1 p min count 0", ""),
    ("zmpop 1 p min count -1", ""), ("zmpop 1 p min count x", ""), ("zmpop 1 p min count", ""),
    ("zmpop 1 p min count 1 count 1", ""), ("zmpop 1 p min bogus", ""), ("zmpop 5 p min", ""),
    ("zmpop 9223372036854775807 p min", ""), ("zmpop 9223372036854775806 p min", ""),
    ("set s str", ""), ("zmpop 2 s p min", ""), ("zmpop 2 p s min", ""), ("zpopmin s", ""),
    # BZPOPMIN BZPOPMAX BZMPOP on a non-empty key (no wait), their errors; an absent key
    # with a short timeout: the null array
    ("zadd bp 1 a 2 b 3 c 4 d 5 e -inf ninf inf pinf 1.5 f", ""), ("bzpopmin bp 0", ""),
    ("bzpopmax bp 0", ""), ("bzpopmin nokey bp 0", ""), ("bzpopmax nokey bp 0.5", ""),
    ("bzpopmin bp nokey 0", ""), ("bzpopmin bp bp 1", ""), ("bzmpop 0 1 bp min", ""),
    ("bzmpop 0 2 nokey bp max count 2", ""), ("bzmpop 1 1 bp min count 100", ""),
    ("exists bp", ""), ("bzpopmin nokey 0.01", ""), ("bzpopmax nokey nokey2 0.01", ""),
    ("bzmpop 0.01 1 nokey min", ""), ("bzmpop 0.01 2 nokey nokey2 max count 3", ""),
    ("zadd bp 1 a", ""), ("bzpopmin bp -1", ""), ("bzpopmin bp x", ""), ("bzpopmin bp ''", ""),
    ("bzpopmin bp inf", ""), ("bzpopmin bp -inf", ""), ("bzpopmin bp nan", ""),
    ("bzpopmin bp 1e400", ""), ("bzpopmin bp 0x10", ""), ("bzpopmin bp", ""), ("bzpopmax", ""),
    ("bzpopmin s bp 0", ""), ("bzpopmax nokey s 0", ""), ("bzpopmin s -1", ""),
    ("bzmpop 0 2 s bp min", ""), ("bzmpop 0 2 nokey s max", ""), ("bzmpop -1 1 bp min", ""),
    ("bzmpop x 1 bp min", ""), ("bzmpop 0 0 bp min", ""), ("bzmpop 0 -1 bp min", ""),
    ("bzmpop 0 x bp min", ""), ("bzmpop 0 2 bp min", ""), ("bzmpop 0 1 bp left", ""),
    ("bzmpop 0 1 bp min count 0", ""), ("bzmpop 0 1 bp min count -1", ""),
    ("bzmpop 0 1 bp min count x", ""), ("bzmpop 0 1 bp min count", ""),
    ("bzmpop 0 1 bp min count 1 count 1", ""), ("bzmpop 0 1 bp min bogus", ""),
    ("bzmpop -1 0 bp min", ""), ("bzmpop x 1 bp left", ""), ("bzmpop x 1 bp min count 0", ""),
    ("bzmpop 0 1 bp", ""), ("bzmpop 0 1", ""), ("bzmpop 0 9223372036854775807 bp min", ""),
    ("bzpopmin bp 0.0001", ""), ("exists bp", ""), ("bzpopmin bp 0.0001", ""),
    ("zadd bp 1 a 2 b", ""), ("expire bp 100", ""), ("bzpopmax bp 0", ""), ("ttl bp", ""),
    # ZUNION ZINTER ZDIFF and STORE forms, ZINTERCARD
    ("zadd u1 1 a 2 b 3 c", ""), ("zadd u2 10 b 20 c 30 d", ""), ("zadd u3 100 c 200 x", ""),
    ("zunion 2 u1 u2", ""), ("zunion 2 u1 u2 withscores", ""), ("zunion 3 u1 u2 u3 withscores", ""),
    ("zunion 2 u1 u2 weights 2 3 withscores", ""), ("zunion 2 u1 u2 aggregate min withscores", ""),
    ("zunion 2 u1 u2 aggregate max withscores", ""), ("zunion 2 u1 u2 aggregate bogus", ""),
    ("zunion 2 u1 u2 weights 1", ""), ("zunion 2 u1 u2 weights 1 x", ""), ("zunion 0 u1", ""),
    ("zunion -1 u1", ""), ("zunion 3 u1 u2", ""), ("zunion x u1", ""), ("zunion 2 u1 nokey withscores", ""),
    ("zunion 1 u1 weights -1 withscores", ""), ("zunion 1 u1 weights 0 withscores", ""),
    ("zunion 2 u1 s", ""), ("zunion 2 u1 u2 withscores withscores", ""), ("zunion 1 u1 bogus", ""),
    ("zinter 2 u1 u2 withscores", ""), ("zinter 3 u1 u2 u3 withscores", ""),
    ("zinter 2 u1 u2 weights 1 -1 aggregate max withscores", ""), ("zinter 2 u1 nokey", ""),
    ("zinter 2 u1 u1 withscores", ""), ("zinter 0 u1", ""),
    ("zdiff 2 u1 u2 withscores", ""), ("zdiff 2 u2 u1", ""), ("zdiff 3 u2 u1 u3", ""),
    ("zdiff 1 u1 withscores", ""), ("zdiff 2 nokey u1", ""), ("zdiff 2 u1 u2 weights 1 1", ""),
    ("zdiff 2 u1 u2 aggregate sum", ""),
    ("zunionstore ud 2 u1 u2", ""), ("zrange ud 0 -1 withscores", ""),
    ("zunionstore ud 2 u1 u2 weights 1 2 aggregate max", ""), ("zrange ud 0 -1 withscores", ""),
    ("zunionstore ud 2 u1 u2 withscores", ""), ("zinterstore ud 2 u1 u2", ""),
    ("zrange ud 0 -1 withscores", ""), ("zinterstore ud 2 u1 nokey", ""), ("exists ud", ""),
    ("zdiffstore ud 2 u1 u2", ""), ("zrange ud 0 -1 withscores", ""), ("zdiffstore ud 1 nokey", ""),
    ("exists ud", ""), ("zunionstore ud 0 u1", ""), ("zinterstore ud 0 u1", ""),
    ("zdiffstore ud 0 u1", ""), ("zunionstore u1 2 u1 u2", ""), ("zrange u1 0 -1 withscores", ""),
    ("set strd x", ""), ("expire strd 100", ""), ("zunionstore strd 1 u2", ""), ("ttl strd", ""),
    ("type strd", ""), ("zunionstore ud 1 s", ""),
    ("zadd inf1 inf a -inf b 1 c", ""), ("zadd inf2 -inf a inf b 0 c", ""),
    ("zunion 2 inf1 inf2 withscores", ""), ("zinter 2 inf1 inf2 withscores", ""),
    ("zunion 2 inf1 inf2 weights 0 1 withscores", ""),
    ("zintercard 2 u1 u2", ""), ("zintercard 3 u1 u2 u3", ""), ("zintercard 2 u1 u2 limit 1", ""),
    ("zintercard 2 u1 u2 limit 0", ""), ("zintercard 2 u1 u2 limit -1", ""),
    ("zintercard 2 u1 u2 limit x", ""), ("zintercard 2 u1 u2 withscores", ""),
    ("zintercard 0 u1", ""), ("zintercard 2 u1 nokey", ""), ("zintercard 2 u1 s", ""),
    # ZRANDMEMBER
    ("zadd rm 1 a 2 b 3 c", ""), ("zrandmember rm", "shape"), ("zrandmember rm 2", "shape"),
    ("zrandmember rm 3", ""), ("zrandmember rm 10", ""), ("zrandmember rm 10 withscores", ""),
    ("zrandmember rm -5", "shape"), ("zrandmember rm -5 withscores", "shape"),
    ("zrandmember rm 2 withscores", "shape"), ("zrandmember rm 0", ""), ("zrandmember nokey", ""),
    ("zrandmember nokey 5", ""), ("zrandmember rm x", ""), ("zrandmember rm 1 bogus", ""),
    ("zrandmember rm 1 withscores x", ""), ("zrandmember rm -9223372036854775808", ""),
    ("zrandmember rm -9223372036854770000 withscores", ""), ("zrandmember s", ""),
    # ZSCAN
    ("zscan z 0 count 1000", "scan"), ("zscan z 0 match b* count 1000", "scan"),
    ("zscan nokey 0", ""), ("zscan nokey 0 bogus", ""), ("zscan z x", ""), ("zscan nokey x", ""),
    ("zscan z 0 count 0", ""), ("zscan z 0 bogus", ""), ("zscan s 0", ""),
    ("zadd sc 1e17 big 0.1 t inf i -inf n -0 z 3 three", ""), ("zscan sc 0", "scan"),
    # wrong types
    ("zadd s 1 a", ""), ("zincrby s 1 a", ""), ("zrem s a", ""), ("zcard s", ""), ("zscore s a", ""),
    ("zmscore s a", ""), ("zrank s a", ""), ("zrange s 0 1", ""), ("zrangebyscore s 0 1", ""),
    ("zrange s x y", ""), ("zcount s 0 1", ""), ("zlexcount s - +", ""),
    ("zremrangebyrank s 0 1", ""), ("zpopmax s", ""), ("zrangestore d s 0 1", ""),
    ("hset h f v", ""), ("zunion 2 u2 h", ""), ("zinter 2 h u2 bogus", ""),
    ("get z", ""), ("hget z f", ""),
    # key commands over a sorted set
    ("type z", ""), ("object encoding z", ""), ("zadd long 1 " + "m" * 65, ""),
    ("object encoding long", ""), ("zrem long " + "m" * 65, ""), ("exists long", ""),
    ("expire u2 100", ""), ("ttl u2", ""), ("rename u2 u2r", ""), ("zrange u2r 0 -1 withscores", ""),
    ("ttl u2r", ""), ("copy u2r u2c", ""), ("zrange u2c 0 -1 withscores", ""), ("zadd u2c 5 new", ""),
    ("zcard u2r", ""), ("zcard u2c", ""), ("move u2c 1", ""), ("select 1", ""),
    ("zrange u2c 0 -1 withscores", ""), ("select 0", ""), ("del u2r", ""), ("zcard u2r", ""),
    ("dbsize", ""), ("scan 0 type zset count 1000", "scan"),
    # ZRANK / ranges on a bigger set (a skiplist in Redis)
    ("eval_big", ""),
]

BIG = 300


def big_cases():
    """A set of BIG members with repeated scores: ranks and ranges across it."""
    out = []
    args = ["zadd", "big"]
    for i in range(BIG):
        args += [str((i * 37) % 50 - 20), "m%03d" % i]
    out.append((" ".join(args), ""))
    for i in range(0, BIG, 17):
        out += [("zrank big m%03d" % i, ""), ("zrevrank big m%03d" % i, "")]
    out += [("zrange big 100 120 withscores", ""), ("zrange big -50 -40 rev withscores", ""),
            ("zrangebyscore big (3 10 withscores limit 5 7", ""),
            ("zrevrangebyscore big 10 (3 limit 5 7", ""), ("zcount big -5 5", ""),
            ("zcount big -inf 28", ""), ("zcount big (-20 (29", ""), ("zcount big 0 0", ""),
            ("zremrangebyrank big 0 9", ""), ("zpopmin big 5", ""), ("zpopmax big 5", ""),
            ("zrange big 0 4 withscores", ""), ("zrange big -5 -1 withscores", ""),
            ("zremrangebyscore big -inf -15", ""), ("zrange big 0 2 withscores", ""),
            ("zcard big", ""), ("object encoding big", ""), ("zrandmember big 300", ""),
            ("zrandmember big 10", "shape"), ("zrandmember big -10 withscores", "shape"),
            ("zunionstore bigu 2 big big weights 1 0.5", ""), ("zrange bigu 0 9 withscores", ""),
            ("zinter 2 big bigu withscores", "")]
    return out


def all_cases():
    out = []
    for case, mode in CASES:
        out += big_cases() if case == "eval_big" else [(case, mode)]
    return out


def run(shale, redis, proto):
    diffs = 0
    cases = all_cases()
    for case, mode in cases:
        args = shlex.split(case)
        a = shale.call(*args)
        b = redis.call(*args)
        if canon(a, mode) != canon(b, mode):
            diffs += 1
            print("DIFF (RESP%d) %s\n  shale: %r\n  redis: %r" % (proto, case[:200], a, b))
    return diffs, len(cases)


def main():
    count = [0]

    def per_proto(shale, redis, proto):
        diffs, count[0] = run(shale, redis, proto)
        return diffs

    diffs = run_oracle(per_proto)
    return oracle_exit(diffs, "%d sorted-set commands" % count[0])

if __name__ == "__main__":
    sys.exit(main())
