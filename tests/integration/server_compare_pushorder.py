#!/usr/bin/python3
"""server_compare_pushorder.py - where a RESP3 client's own push messages fall among its
replies, byte for byte against redis-server 7.0 as the oracle.

One RESP3 connection subscribes to every keyspace and keyevent channel (PSUBSCRIBE
__key*__:*) and runs commands itself: Redis writes a keyspace event to the client when
the command tells it, so the push comes before a SET's +OK but after an LPUSH's :1,
inside EXEC's array just before (or after) the reply of the command that caused it, a
lazily expired key's `expired` and a keymiss before the read's reply, and pushes are sent
even with CLIENT REPLY OFF. Client tracking's invalidation of a key the client itself
changes comes after the reply (after EXEC's whole array). Each step is followed by a
PING, and the raw bytes up to its +PONG are compared. Exit 0 when no difference, 1
otherwise, 77 when redis-server is missing.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import encode, oracle_exit, run_oracle  # noqa: E402

# steps: the commands of one step are sent together, then a PING
STEPS = [
    ["config set notify-keyspace-events KEAm"],
    ["psubscribe __key*__:*"],
    ["set k v"], ["set k v2 get"], ["append k x"], ["incr n"], ["incrbyfloat n 1.5"],
    ["del k nosuch"], ["set k v"], ["expire k 100"], ["persist k"], ["getdel k"],
    ["lpush l a b"], ["rpush l c"], ["lpop l"], ["rpop l 2"], ["sadd s a"], ["srem s a"],
    ["hset h f v"], ["hincrby h n 1"], ["hdel h f n"], ["zadd z 1 a"], ["zincrby z 1 a"],
    ["zrem z a"], ["zadd z 1 a 2 b 3 c"], ["zpopmin z"], ["zpopmax z 5"], ["zadd z 1 a"],
    ["zmpop 1 z min"], ["zadd za 1 a"], ["bzpopmin za 0"], ["sadd s1 a b"], ["sadd s2 b"],
    ["sinterstore s3 s1 s2"], ["sinterstore s3 s1 nosuch"], ["zadd zb 1 x"],
    ["zunionstore zu 1 zb"], ["zinterstore zu 2 zb nosuch"], ["setex e 100 v"],
    ["getex e persist"], ["set e v"], ["getset e w"], ["lpush l2 a"], ["lset l2 0 b"],
    ["rpoplpush l2 l3"], ["expire l3 -1"], ["rename n n2"], ["get nosuch"], ["mget nosuch n2 other"],
    ["exists nosuch"], ["strlen nosuch"],
    ["multi", "set a 1", "get nosuch", "incr a", "expire a 100", "lpush la x", "del a la",
     "exec"],
    ["multi", "get nosuch2", "exec"],
    ["multi", "zadd zm 1 a 2 b", "zpopmin zm", "rpush lm a", "lpop lm", "hset hm f v", "exec"],
    ["client reply off", "set r 1", "del r", "lpush rl x", "client reply on"],
    ["client reply skip", "set r 2"],
    ["multi", "set r 3", "del r", "exec"],
    # its own PUBLISH to a channel it subscribes to: the message before the count
    ["subscribe ch"], ["publish ch hi"], ["multi", "publish ch a", "set p 1", "exec"],
    # notifications turned on inside EXEC: the events of the commands after it
    ["config set notify-keyspace-events ''"],
    ["multi", "set c0 1", "config set notify-keyspace-events KEA", "set c1 1", "lpush c2 x",
     "exec"],
    # client tracking: the invalidation of its own write comes after the reply
    ["config set notify-keyspace-events ''"],
    ["client tracking on"], ["get t"], ["set t 1"], ["get t"],
    ["multi", "set t 2", "get t", "exec"],
    ["get t"], ["config set notify-keyspace-events KEA"], ["set t 3"],
    ["client tracking off"],
]


def words(line):
    return [w if w != "''" else "" for w in line.split()]


def exchange(c, lines):
    """Sends lines and a PING; the raw bytes up to and with the PING's +PONG."""
    c.s.sendall(b"".join(encode(words(l)) for l in lines) + encode(["ping"]))
    data = c.buf
    c.buf = b""
    while not data.endswith(b"+PONG\r\n"):
        data += c.s.recv(65536)
    return data


def compare(shale, redis, lines):
    a, b = exchange(shale, lines), exchange(redis, lines)
    if a == b:
        return 0
    print("DIFF %s\n  shale: %r\n  redis: %r" % (" | ".join(lines), a, b))
    return 1


def arrived(c, wait):
    """Whether bytes came unasked within wait seconds (an expiry cycle's push)."""
    c.s.settimeout(wait)
    try:
        d = c.s.recv(65536)
        c.buf += d
        return bool(d)
    except OSError:
        return False
    finally:
        c.s.settimeout(10)


def lazy_expiry(shale, redis):
    """A read of a key that expired meanwhile: its expired event before its reply. The
    expiry cycles (hz 1 on both) may reap the key first: then again with another key."""
    for attempt in range(6):
        key = "lazy%d" % attempt
        diffs = compare(shale, redis, ["set %s v" % key, "pexpire %s 20" % key])
        time.sleep(0.05)
        reaped = arrived(shale, 0.01) or arrived(redis, 0.01)
        if reaped:  # both in step again: the key read (reaped where it was not yet)
            for c in (shale, redis):
                exchange(c, ["get %s" % key])
            continue
        return diffs + compare(shale, redis, ["get %s" % key])
    print("DIFF the expiry cycle reaped every key before its read")
    return 1


def per_proto(shale, redis, proto):
    if proto != 3:
        return 0  # RESP2 has no pushes (a subscribed client runs no other command)
    diffs = compare(shale, redis, ["config set hz 1"])
    for lines in STEPS[:2]:
        diffs += compare(shale, redis, lines)
    diffs += lazy_expiry(shale, redis)
    for lines in STEPS[2:]:
        diffs += compare(shale, redis, lines)
    return diffs


def main():
    diffs = run_oracle(per_proto)
    return oracle_exit(diffs, "%d steps of push order" % len(STEPS))


if __name__ == "__main__":
    sys.exit(main())
