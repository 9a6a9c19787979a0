#!/usr/bin/python3
"""server_dump.py - DUMP and RESTORE against redis-server 7.0 as the oracle: values move
both ways and arrive equal, and shale's payloads are Redis's own bytes.

- Redis -> shale: strings (integers of each width, embstr, raw, 1 MB, binary, empty) and
  hashes (small with integers, 128 and 129 fields, 64- and 65-byte values, 5000 fields,
  binary) are DUMPed by Redis, with LZF compression on (its default) and off, RESTOREd
  in shale, and read back equal.
- shale -> Redis: the same values written in shale, DUMPed, RESTOREd in Redis, read back
  equal; and shale's DUMP is byte for byte Redis's DUMP with rdbcompression no wherever
  Redis's bytes are deterministic (strings, and listpack hashes written in field order).
- Options and errors, compared reply for reply in RESP2 and RESP3: REPLACE, ABSTTL,
  IDLETIME, FREQ, TTLs (relative, absolute, past, overflowing), BUSYKEY, syntax errors,
  bad TTL/IDLETIME/FREQ values, wrong checksums and versions, bad data, wrong arity.
- Payloads of types shale does not hold yet (lists, sets, sorted sets) are refused with
  "ERR Bad data format" and leave nothing behind, or, once the type is wired, arrive
  equal.
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


def write(c, key, value):
    c.call("del", key)
    if isinstance(value, dict):
        for f in sorted(value):  # field order: Redis's listpack bytes follow insertion order
            check(c.call("hset", key, f, value[f])[0] == b":", "HSET")
    else:
        check(ok(c.call("set", key, value)), "SET")


def read(c, key, value):
    if isinstance(value, dict):
        return as_map(c.call("hgetall", key))
    return bulk(c.call("get", key))


def main():
    rp, rport, redis = start_redis()
    sp, sport, shale = start_server("data", "--sync-writes", "no")
    values = [("str-" + n, v) for n, v in strings()] + [("hash-" + n, v) for n, v in hashes()]

    def redis_to_shale():
        for compression in ("yes", "no"):
            check(ok(redis.call("config", "set", "rdbcompression", compression)), "CONFIG")
            for name, value in values:
                write(redis, name, value)
                payload = bulk(redis.call("dump", name))
                shale.call("del", name)
                r = shale.call("restore", name, "0", payload)
                check(ok(r), "%s (rdbcompression %s): RESTORE gave %r" % (name, compression, r))
                check(read(shale, name, value) == value, "%s: value differs" % name)
                check(shale.call("ttl", name) == (b":", b"-1"), "%s: TTL" % name)
                check(shale.call("type", name) == redis.call("type", name), "%s: TYPE" % name)

    def shale_to_redis():
        for name, value in values:
            write(shale, name, value)
            payload = bulk(shale.call("dump", name))
            redis.call("del", name)
            r = redis.call("restore", name, "0", payload)
            check(ok(r), "%s: Redis's RESTORE gave %r" % (name, r))
            check(read(redis, name, value) == value, "%s: value differs in Redis" % name)

    def same_bytes_as_redis():
        check(ok(redis.call("config", "set", "rdbcompression", "no")), "CONFIG")
        same = 0
        for name, value in values:
            ordered = not isinstance(value, dict) or (
                len(value) <= 128 and all(len(f) <= 64 and len(v) <= 64 for f, v in value.items()))
            if not ordered:
                continue  # a hashtable's order is Redis's own
            write(redis, name, value)
            write(shale, name, value)
            want, got = bulk(redis.call("dump", name)), bulk(shale.call("dump", name))
            check(got == want, "%s: DUMP differs\n redis %s\n shale %s" %
                  (name, want[:80].hex(), got[:80].hex()))
            same += 1
        check(same >= 18, "compared %d payloads" % same)

    def round_trip_in_shale():
        for name, value in values:
            write(shale, name, value)
            payload = bulk(shale.call("dump", name))
            check(ok(shale.call("restore", name + "-copy", "0", payload, "replace")), name)
            check(read(shale, name + "-copy", value) == value, "%s: copy differs" % name)

    def options_and_errors():
        check(ok(redis.call("config", "set", "rdbcompression", "yes")), "CONFIG")
        write(redis, "src", b"value")
        write(redis, "hsrc", {b"f": b"v", b"g": b"2"})
        p = bulk(redis.call("dump", "src"))
        hp = bulk(redis.call("dump", "hsrc"))
        bad_crc = p[:-1] + bytes([p[-1] ^ 1])
        v11 = p[:-10] + b"\x0b\x00" + p[-8:]
        garbage = crc_fixed(b"\x06\x01\x02\x03" + b"\x0a\x00")  # a module type
        bad_string = crc_fixed(b"\x00\x05abc" + b"\x0a\x00")
        cases = [
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
                if cmd[0] == "ttl" and want[0] == b":" and got[0] == b":":
                    # a second may pass between the two servers
                    check(abs(int(want[1]) - int(got[1])) <= 1, "RESP%d %r" % (proto, cmd[:3]))
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

    def other_types():
        redis.call("del", "l", "s", "z")
        redis.call("rpush", "l", "a", "b", "1")
        redis.call("sadd", "s", "1", "2", "x")
        redis.call("zadd", "z", "1", "a", "2.5", "b")
        for key, read_cmd in (("l", ["lrange", "l", "0", "-1"]), ("s", ["smembers", "s"]),
                              ("z", ["zrange", "z", "0", "-1", "withscores"])):
            payload = bulk(redis.call("dump", key))
            r = shale.call("restore", key, "0", payload)
            if r == (b"-", b"ERR Bad data format"):
                check(shale.call("exists", key) == (b":", b"0"), "%s left behind" % key)
                continue
            check(ok(r), "%s: RESTORE gave %r" % (key, r))
            want, got = redis.call(*read_cmd), shale.call(*read_cmd)
            if key == "s":
                want, got = sorted(want[1]), sorted(got[1])
            check(want == got, "%s: %r != %r" % (key, got, want))

    rc = run_checks([("Redis -> shale", redis_to_shale), ("shale -> Redis", shale_to_redis),
                     ("shale's DUMP is Redis's", same_bytes_as_redis),
                     ("shale -> shale", round_trip_in_shale),
                     ("options and errors, RESP2 and RESP3", options_and_errors),
                     ("IDLETIME and FREQ", access_times),
                     ("lists, sets, sorted sets", other_types)],
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
