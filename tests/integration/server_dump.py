#!/usr/bin/python3
"""server_dump.py - DUMP and RESTORE against redis-server 7.0 as the oracle: values of
every type move both ways and arrive equal, and shale's payloads are Redis's own bytes.

- Redis -> shale: strings (integers of each width, embstr, raw, 1 MB, binary, empty),
  hashes (small with integers, 128 and 129 fields, 512 and 513, 64- and 65-byte values,
  5000 fields, binary), lists (small, several listpack nodes, 100 000 elements, an
  element larger than a node, binary), sets (intsets up to 512 members and past it,
  int64's ends, strings that are not integers, 5000 members) and sorted sets (integer,
  fractional and infinite scores, 128 and 129 members, 64- and 65-byte members, 5000)
  are DUMPed by Redis, with LZF compression on (its default) and off, RESTOREd in shale,
  and read back equal, with Redis's TYPE and OBJECT ENCODING.
- shale -> Redis: the same values written in shale, DUMPed, RESTOREd in Redis, read back
  equal, with the same encoding as in shale; and shale's DUMP is byte for byte Redis's
  DUMP with rdbcompression no wherever Redis's bytes are deterministic (strings, lists,
  intsets, listpack hashes and sorted sets, small ones held in the big encoding after
  their large past).
- Encodings Redis keeps: a listpack written under larger listpack limits stays one when
  RESTOREd, a skiplist or hashtable payload of a few members becomes a listpack.
- Options and errors, compared reply for reply in RESP2 and RESP3, for each type:
  REPLACE (over every other type), ABSTTL, IDLETIME, FREQ, TTLs (relative, absolute,
  past, overflowing), BUSYKEY, syntax errors, bad TTL/IDLETIME/FREQ values, wrong
  checksums and versions, bad data (a member twice, a NaN score), wrong arity.
"""
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn  # noqa: E402
from lib.harness import check, run_checks, run_main, start_redis, start_server  # noqa: E402

RND = random.Random(int(os.environ.get("SEED", "17")))


def ok(r):
    return r == (b"+", b"OK")


def bulk(r):
    check(r[0] in (b"$", b"="), "a bulk reply, got %r" % (r,))
    return r[1]


def as_map(r):
    """A hash's HGETALL reply (array or map) as a dict."""
    v = r[1]
    return dict(zip([x[1] for x in v[0::2]], [x[1] for x in v[1::2]]))


def items(r):
    return [x[1] for x in r[1]]


# A value is (kind, data): "string" bytes, "hash" dict, "list" list, "set" list of
# distinct members (in the order SADD gets them), "zset" list of (member, score) pairs
# with the score as ZADD takes it.


def strings():
    """(name, value) of strings in every RDB string encoding Redis picks."""
    return [("int8", b"12"), ("int8-neg", b"-128"), ("int16", b"-1234"), ("int16-max", b"32767"),
            ("int32", b"123456789"), ("int32-min", b"-2147483648"),
            ("past-int32", b"2147483648"), ("int64", b"-9223372036854775808"),
            ("lead-zero", b"0123"), ("plus", b"+5"), ("embstr", b"hello world"),
            ("embstr-44", b"e" * 44), ("raw-45", b"r" * 45), ("empty", b""),
            ("binary", bytes(range(256)) * 3), ("text-1mb", b"0123456789abcdef" * 65536),
            ("random-1mb", bytes(RND.randrange(256) for _ in range(1 << 20)))]


def hashes():
    """(name, {field: value}) of hashes on both sides of Redis's listpack limits."""
    return [("small", {b"a": b"1", b"b": b"hello", b"c": b"-5000", b"d": b"9000000000"}),
            ("128", {b"f%03d" % i: b"%d" % (i * 7919) for i in range(128)}),
            ("129", {b"f%03d" % i: b"v%d" % i for i in range(129)}),
            ("512", {b"f%03d" % i: b"v%d" % i for i in range(512)}),
            ("513", {b"f%03d" % i: b"v%d" % i for i in range(513)}),
            ("value-64", {b"x": b"v" * 64, b"y": b"1"}),
            ("value-65", {b"x": b"v" * 65, b"y": b"1"}),
            ("5000", {b"field:%d" % i: b"value:%d" % (i * 31) for i in range(5000)}),
            ("binary", {bytes([i, 0, 255]): bytes([255 - i]) * (i % 70) for i in range(100)})]


def lists():
    """(name, [elements]) of lists of one and of many quicklist nodes."""
    return [("small", [b"a", b"1", b"-5000", b"9000000000", b"", b"hello"]),
            ("one", [b"x"]),
            ("ints", [b"%d" % (RND.randrange(-1 << 63, 1 << 63)) for _ in range(300)]),
            ("nodes", [b"element:%d" % i for i in range(3000)]),
            ("100k", [b"%d" % i for i in range(100000)]),
            ("big-element", [b"a", b"b" * 10000, b"c", b"d" * 8180, b"e"]),
            ("binary", [bytes([i, 0, 255]) * (i % 50) for i in range(256)])]


def sets():
    """(name, [members]) of intsets and hashtables."""
    return [("ints", [b"3", b"-1", b"100000", b"7"]),
            ("int64-ends", [b"9223372036854775807", b"-9223372036854775808", b"0", b"-1"]),
            ("512", [b"%d" % (i * 37 - 5000) for i in range(512)]),
            ("513", [b"%d" % i for i in range(513)]),
            ("strings", [b"a", b"b", b"hello"]),
            ("mixed", [b"1", b"2", b"x"]),
            ("not-ints", [b"0123", b"+5", b"1.5", b" 1", b"9223372036854775808"]),
            ("5000", [b"member:%d" % i for i in range(5000)])]


def zsets():
    """(name, [(member, score)]) of sorted sets on both sides of the listpack limits."""
    return [("small", [(b"a", b"1"), (b"b", b"2.5"), (b"c", b"-3"), (b"d", b"0.1")]),
            ("inf", [(b"lo", b"-inf"), (b"hi", b"+inf"), (b"mid", b"0"), (b"big", b"1e300")]),
            ("ties", [(m, b"5") for m in (b"b", b"a", b"ab", b"", b"c")]),
            ("128", [(b"m%03d" % i, b"%d" % (i * 3 - 100)) for i in range(128)]),
            ("129", [(b"m%03d" % i, b"%d.25" % i) for i in range(129)]),
            ("member-64", [(b"v" * 64, b"1"), (b"w", b"2")]),
            ("member-65", [(b"v" * 65, b"1"), (b"w", b"2")]),
            ("5000", [(b"member:%d" % i, repr(RND.uniform(-1e6, 1e6)).encode())
                      for i in range(5000)])]


def all_values():
    """(key, (kind, data)) of every value the checks move."""
    out = [("str-" + n, ("string", v)) for n, v in strings()]
    out += [("hash-" + n, ("hash", v)) for n, v in hashes()]
    out += [("list-" + n, ("list", v)) for n, v in lists()]
    out += [("set-" + n, ("set", v)) for n, v in sets()]
    out += [("zset-" + n, ("zset", v)) for n, v in zsets()]
    return out


def batches(seq, n=1000):
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def write(c, key, value):
    kind, data = value
    c.call("del", key)
    if kind == "hash":
        for f in sorted(data):  # field order: Redis's listpack bytes follow insertion order
            check(c.call("hset", key, f, data[f])[0] == b":", "HSET")
    elif kind == "list":
        for b in batches(data):
            check(c.call("rpush", key, *b)[0] == b":", "RPUSH")
    elif kind == "set":
        for b in batches(data):
            check(c.call("sadd", key, *b)[0] == b":", "SADD")
    elif kind == "zset":
        for b in batches(data):
            args = [x for m, sc in b for x in (sc, m)]
            check(c.call("zadd", key, *args)[0] == b":", "ZADD")
    else:
        check(ok(c.call("set", key, data)), "SET")


def read(c, key, value):
    """The key's contents, in a form equal to value's data when they are the same."""
    kind, data = value
    if kind == "hash":
        return as_map(c.call("hgetall", key))
    if kind == "list":
        return items(c.call("lrange", key, "0", "-1"))
    if kind == "set":
        return sorted(items(c.call("smembers", key)))
    if kind == "zset":
        r = items(c.call("zrange", key, "0", "-1", "withscores"))
        return [(m, float(sc)) for m, sc in zip(r[0::2], r[1::2])]
    return bulk(c.call("get", key))


def expected(value):
    """What read() gives for a value."""
    kind, data = value
    if kind == "set":
        return sorted(data)
    if kind == "zset":
        return sorted(((m, float(sc)) for m, sc in data), key=lambda e: (e[1], e[0]))
    return data


def deterministic(value):
    """Whether Redis's DUMP of the value written by write() is always the same bytes."""
    kind, data = value
    if kind == "hash":
        return len(data) <= 512 and all(len(f) <= 64 and len(v) <= 64 for f, v in data.items())
    if kind == "set":
        return len(data) <= 512 and all(is_int(m) for m in data)
    if kind == "zset":
        return len(data) <= 128 and all(len(m) <= 64 for m, _ in data)
    return True


def is_int(b):
    try:
        return b"%d" % int(b) == b and -(1 << 63) <= int(b) < (1 << 63)
    except ValueError:
        return False


def encoding(c, key):
    return c.call("object", "encoding", key)


def main():
    rp, rport, redis = start_redis()
    sp, sport, shale = start_server("data", "--sync-writes", "no")
    values = all_values()

    def same_value(name, value, who, where):
        check(read(who, name, value) == expected(value), "%s: value differs in %s" % (name, where))

    def redis_to_shale():
        for compression in ("yes", "no"):
            check(ok(redis.call("config", "set", "rdbcompression", compression)), "CONFIG")
            for name, value in values:
                write(redis, name, value)
                payload = bulk(redis.call("dump", name))
                shale.call("del", name)
                r = shale.call("restore", name, "0", payload)
                check(ok(r), "%s (rdbcompression %s): RESTORE gave %r" % (name, compression, r))
                same_value(name, value, shale, "shale")
                check(shale.call("ttl", name) == (b":", b"-1"), "%s: TTL" % name)
                check(shale.call("type", name) == redis.call("type", name), "%s: TYPE" % name)
                # Redis's own RESTORE of its payload decides the encoding
                check(ok(redis.call("restore", name, "0", payload, "replace")), name)
                want, got = encoding(redis, name), encoding(shale, name)
                check(want == got, "%s: OBJECT ENCODING %r, Redis %r" % (name, got, want))

    def shale_to_redis():
        for name, value in values:
            write(shale, name, value)
            payload = bulk(shale.call("dump", name))
            redis.call("del", name)
            r = redis.call("restore", name, "0", payload)
            check(ok(r), "%s: Redis's RESTORE gave %r" % (name, r))
            same_value(name, value, redis, "Redis")
            want, got = encoding(redis, name), encoding(shale, name)
            check(want == got, "%s: OBJECT ENCODING %r in shale, %r in Redis" % (name, got, want))

    def same_bytes_as_redis():
        check(ok(redis.call("config", "set", "rdbcompression", "no")), "CONFIG")
        same = 0
        for name, value in values:
            if not deterministic(value):
                continue  # a hashtable's order is Redis's own
            write(redis, name, value)
            write(shale, name, value)
            want, got = bulk(redis.call("dump", name)), bulk(shale.call("dump", name))
            check(got == want, "%s: DUMP differs\n redis %s\n shale %s" %
                  (name, want[:80].hex(), got[:80].hex()))
            same += 1
        check(same >= 37, "compared %d payloads" % same)

    def round_trip_in_shale():
        for name, value in values:
            write(shale, name, value)
            payload = bulk(shale.call("dump", name))
            check(ok(shale.call("restore", name + "-copy", "0", payload, "replace")), name)
            same_value(name + "-copy", value, shale, "shale's copy")
            check(encoding(shale, name) == encoding(shale, name + "-copy"), name + ": encoding")
            check(bulk(shale.call("dump", name + "-copy")) == payload, name + ": DUMP of copy")

    def kept_encodings():
        """What a DUMP carries of the encoding: a big encoding kept after shrinking, a
        listpack or intset made under larger limits, a big payload of a few members."""
        check(ok(redis.call("config", "set", "rdbcompression", "no")), "CONFIG")
        shrunk = [("hash", ["hset", "k"] + ["f%d" % i for i in range(600) for _ in (0, 1)],
                   ["hdel", "k"] + ["f%d" % i for i in range(3, 600)]),
                  ("hash-long", ["hset", "k", "f", "v" * 65, "g", "1"], ["hset", "k", "f", "1"]),
                  ("set", ["sadd", "k", "1", "2", "x"], ["srem", "k", "x"]),
                  ("set-600", ["sadd", "k"] + ["%d" % i for i in range(600)],
                   ["srem", "k"] + ["%d" % i for i in range(2, 600)]),
                  ("zset", ["zadd", "k"] + [x for i in range(200) for x in ("%d" % i, "m%d" % i)],
                   ["zremrangebyrank", "k", "3", "-1"]),
                  ("zset-long", ["zadd", "k", "1", "a" * 65, "2", "b"], ["zrem", "k", "a" * 65])]
        for name, build, shrink in shrunk:
            for who in (redis, shale):
                who.call("del", "k")
                who.call(*build)
                who.call(*shrink)
            want, got = bulk(redis.call("dump", "k")), bulk(shale.call("dump", "k"))
            check(encoding(shale, "k") == encoding(redis, "k"), name + ": encoding")
            if name.startswith("zset"):  # a hashtable's order is Redis's own
                check(got == want, "%s: DUMP differs\n redis %s\n shale %s" %
                      (name, want.hex(), got.hex()))
            for who in (redis, shale):  # a few members in the big encoding come back small
                check(ok(who.call("restore", "k2", "0", got, "replace")), name)
            check(encoding(shale, "k2") == encoding(redis, "k2"), name + ": restored encoding")
        big = [("hash", ["hset", "k", "f", "v" * 100, "g", "1"]),
               ("zset", ["zadd", "k", "1", "m" * 100, "2", "b"]),
               ("zset-200", ["zadd", "k"] + [x for i in range(200) for x in ("%d" % i, "m%d" % i)]),
               ("set", ["sadd", "k"] + ["%d" % i for i in range(600)])]
        limits = ["hash-max-listpack-value", "zset-max-listpack-value",
                  "zset-max-listpack-entries", "set-max-intset-entries"]
        for name, build in big:
            for lim in limits:
                check(ok(redis.call("config", "set", lim, "1000")), lim)
            redis.call("del", "k")
            redis.call(*build)
            payload = bulk(redis.call("dump", "k"))
            for lim, default in zip(limits, ("64", "64", "128", "512")):
                redis.call("config", "set", lim, default)
            for who in (redis, shale):
                check(ok(who.call("restore", "k", "0", payload, "replace")), name)
            want, got = encoding(redis, "k"), encoding(shale, "k")
            check(want == got, "%s: OBJECT ENCODING %r, Redis %r" % (name, got, want))
            check(bulk(redis.call("dump", "k")) == bulk(shale.call("dump", "k")) or
                  name == "set", name + ": DUMP after RESTORE")

    def options_and_errors():
        check(ok(redis.call("config", "set", "rdbcompression", "yes")), "CONFIG")
        write(redis, "src", ("string", b"value"))
        write(redis, "hsrc", ("hash", {b"f": b"v", b"g": b"2"}))
        p = bulk(redis.call("dump", "src"))
        hp = bulk(redis.call("dump", "hsrc"))
        bad_crc = p[:-1] + bytes([p[-1] ^ 1])
        v11 = p[:-10] + b"\x0b\x00" + p[-8:]
        garbage = crc_fixed(b"\x06\x01\x02\x03" + b"\x0a\x00")  # a module type
        bad_string = crc_fixed(b"\x00\x05abc" + b"\x0a\x00")
        coll = []
        for key, value in (("lsrc", ("list", [b"a", b"1", b"b"])),
                           ("ssrc", ("set", [b"1", b"5", b"3"])),
                           ("zsrc", ("zset", [(b"a", b"1"), (b"b", b"2.5")]))):
            write(redis, key, value)
            coll.append(bulk(redis.call("dump", key)))
        lp, sp_, zp = coll
        write(redis, "lbig", ("list", [b"e%d" % i for i in range(5000)]))
        write(redis, "zbig", ("zset", [(b"m%d" % i, b"%d" % i) for i in range(300)]))
        lbig, zbig = bulk(redis.call("dump", "lbig")), bulk(redis.call("dump", "zbig"))
        # a set member twice; a sorted set member twice; a NaN score
        set_twice = crc_fixed(b"\x02\x02\x01a\x01a" + b"\x0a\x00")
        zset_twice = crc_fixed(b"\x05\x02\x01a" + bytes(8) + b"\x01a" + bytes(8) + b"\x0a\x00")
        zset_nan = crc_fixed(b"\x05\x01\x01a" + bytes(6) + b"\xf8\x7f" + b"\x0a\x00")
        reads = [["lrange", "k", "0", "-1"], ["smembers", "k"],
                 ["zrange", "k", "0", "-1", "withscores"], ["type", "k"],
                 ["object", "encoding", "k"]]
        per_type = []
        for q in (lp, sp_, zp, lbig, zbig):
            per_type += [
                ["restore", "k", "0", q], *reads, ["restore", "k", "0", q],
                ["restore", "k", "0", q, "replace"], ["llen", "k"], ["zcard", "k"],
                ["scard", "k"], ["restore", "k", "5000", q, "replace"], ["pttl", "k"],
                ["restore", "k", "99999999999999", q, "replace", "absttl"],
                ["pexpiretime", "k"], ["restore", "k", "1", q, "replace", "absttl"],
                ["exists", "k"], ["restore", "k", "0", q, "replace", "idletime", "100"],
                ["object", "freq", "k"], ["restore", "k", "0", q, "replace", "freq", "7"],
                ["set", "k", "str"], ["restore", "k", "0", q, "replace"], *reads,
                ["hset", "k", "f", "v"], ["restore", "k", "0", q, "replace"], *reads,
                ["restore", "k", "-1", q, "replace"], ["restore", "k", "0", q, "replace", "x"],
                ["del", "k"], ["dbsize"]]
        per_type += [["restore", "k", "0", set_twice], ["restore", "k", "0", zset_twice],
                     ["restore", "k", "0", zset_nan], ["exists", "k"], ["dbsize"]]
        cases = per_type + [
            ["dump", "src"], ["dump", "nokey"], ["dump"], ["dump", "a", "b"],
            ["restore", "k"], ["restore", "k", "0"],
            ["del", "k", "h"],
            ["restore", "k", "0", p], ["get", "k"], ["restore", "k", "0", p],
            ["restore", "k", "0", p, "replace"], ["restore", "k", "0", p, "REPLACE", "replace"],
            ["restore", "k", "-1", p, "replace"], ["restore", "k", "abc", p, "replace"],
            ["restore", "k", "1.5", p, "replace"],
            ["restore", "k", "0", p, "bogus"], ["restore", "k", "0", p, "idletime"],
            ["restore", "k", "0", p, "replace", "idletime", "-1"],
            ["restore", "k", "0", p, "replace", "idletime", "x"],
            ["restore", "k", "0", p, "replace", "freq", "256"],
            ["restore", "k", "0", p, "replace", "freq", "-1"],
            ["restore", "k", "0", p, "replace", "freq", "y"],
            ["restore", "k", "0", p, "replace", "idletime", "5", "freq", "5"],
            ["restore", "k", "0", p, "replace", "freq", "5", "idletime", "5"],
            ["restore", "k", "0", p, "replace", "idletime", "5", "idletime", "6"],
            ["restore", "k", "0", p, "replace", "freq", "5", "freq", "6"],
            ["restore", "k", "0", p, "bogus", "replace"],  # options first, then the key
            ["restore", "k", "-1", p],  # BUSYKEY before the TTL is looked at
            ["restore", "n", "0", bad_crc], ["restore", "n", "0", v11],
            ["restore", "n", "0", b"short"], ["restore", "n", "0", b""],
            ["restore", "n", "0", garbage], ["restore", "n", "0", bad_string],
            ["restore", "n", "-5", bad_crc], ["restore", "n", "x", bad_crc],
            ["exists", "n"],
            ["restore", "h", "0", hp], ["hgetall", "h"], ["type", "h"],
            ["restore", "h", "0", p, "replace"], ["type", "h"], ["get", "h"],
            ["restore", "past", "1", p, "absttl"], ["exists", "past"],
            ["restore", "k", "1", p, "absttl", "replace"], ["exists", "k"],  # deletes k
            ["restore", "k", "9223372036854775807", p], ["exists", "k"],  # overflows: expired
            ["restore", "k", "0", p], ["ttl", "k"], ["persist", "k"],
            ["restore", "abs", "99999999999999", p, "absttl"], ["pexpiretime", "abs"],
            ["restore", "rel", "100000000", p], ["ttl", "rel"],
            ["restore", "hrel", "100000000", hp], ["ttl", "hrel"], ["hlen", "hrel"],
            ["restore", "idle", "0", p, "idletime", "1000"],
            ["dbsize"],
        ]
        for proto in (2, 3):
            for who in (redis, shale):
                who.call("flushall")
                who.call("hello", str(proto))
            for cmd in cases:
                want, got = redis.call(*cmd), shale.call(*cmd)
                if cmd[0] in ("ttl", "pttl") and want[0] == b":" and got[0] == b":":
                    # a second may pass between the two servers
                    slack = 1 if cmd[0] == "ttl" else 1000
                    check(abs(int(want[1]) - int(got[1])) <= slack,
                          "RESP%d %r" % (proto, cmd[:3]))
                    continue
                check(want == got, "RESP%d %r: redis %r, shale %r" % (proto, cmd[:3], want, got))
            for who in (redis, shale):
                who.call("hello", "2")

    def access_times():
        for who in (redis, shale):
            who.call("config", "set", "maxmemory-policy", "noeviction")
            check(ok(who.call("restore", "idle", "0", crc_fixed(b"\x00\x01x\x0a\x00"),
                              "replace", "idletime", "1000")), "IDLETIME")
            idle = int(who.call("object", "idletime", "idle")[1])
            check(1000 <= idle <= 1002, "OBJECT IDLETIME %d after IDLETIME 1000" % idle)
            check(ok(who.call("restore", "fresh", "0", crc_fixed(b"\x00\x01x\x0a\x00"),
                              "replace")), "RESTORE")
            check(int(who.call("object", "idletime", "fresh")[1]) <= 1, "a new key's idle time")
            who.call("config", "set", "maxmemory-policy", "allkeys-lfu")
            check(ok(who.call("restore", "hot", "0", crc_fixed(b"\x00\x01x\x0a\x00"),
                              "replace", "freq", "100")), "FREQ")
            freq = who.call("object", "freq", "hot")
            check(freq == (b":", b"100"), "OBJECT FREQ %r after FREQ 100" % (freq,))
            # IDLETIME under an LFU policy is accepted and ignored, FREQ under LRU too
            check(ok(who.call("restore", "hot", "0", crc_fixed(b"\x00\x01x\x0a\x00"),
                              "replace", "idletime", "50")), "IDLETIME under LFU")
            check(who.call("object", "freq", "hot") == (b":", b"5"), "a new key's counter")
            who.call("config", "set", "maxmemory-policy", "noeviction")

    rc = run_checks([("Redis -> shale", redis_to_shale), ("shale -> Redis", shale_to_redis),
                     ("shale's DUMP is Redis's", same_bytes_as_redis),
                     ("shale -> shale", round_trip_in_shale),
                     ("options and errors, RESP2 and RESP3", options_and_errors),
                     ("encodings Redis keeps", kept_encodings),
                     ("IDLETIME and FREQ", access_times)],
                    os.environ.get("ONLY"))
    return rc


POLY = 0x95AC9329AC4BC9B5
TABLE = []
for b in range(256):
    c = b
    for _ in range(8):
        c = (c >> 1) ^ POLY if c & 1 else c >> 1
    TABLE.append(c)


def crc64(data):
    c = 0
    for x in data:
        c = TABLE[(c ^ x) & 0xFF] ^ (c >> 8)
    return c


def crc_fixed(body):
    """A payload of body (type, value and version) with its CRC-64 footer."""
    return body + crc64(body).to_bytes(8, "little")


if __name__ == "__main__":
    run_main(main)
