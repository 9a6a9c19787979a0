#!/usr/bin/python3
"""server_compare_repl.py - the replication surface of a primary against redis-server 7.0
as the oracle (RESP2 then RESP3): INFO server's run_id, INFO replication's fields (their
names in Redis's order; the values that do not depend on the history: role, counts,
failover state, replid2, second_repl_offset), ROLE's shape, and min-replicas-to-write
with min-replicas-max-lag (and their min-slaves-* aliases) refusing writes with
-NOREPLICAS as Redis does without enough good replicas: write commands, EXEC of a queued
write, scripts by their declared flags before they run and by their calls inside,
FCALL of a function that may write; reads, no-writes scripts and PUBLISH go on.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import oracle_exit, run_oracle  # noqa: E402

LIB = ("#!lua name=repllib\n"
       "redis.register_function('w', function(k, a) return redis.call('set', k[1], a[1]) end)\n"
       "redis.register_function{function_name='r', callback=function(k) "
       "return redis.call('get', k[1]) end, flags={'no-writes'}}\n"
       "redis.register_function{function_name='oom', callback=function(k, a) "
       "return redis.call('set', k[1], a[1]) end, flags={'allow-oom'}}")

# run with min-replicas-to-write 1 (max-lag at its default 10): no good replica
REFUSED = [
    ("config", "get", "min-replicas-to-write"), ("config", "get", "min-slaves-to-write"),
    ("config", "get", "min-replicas-max-lag"), ("config", "get", "min-slaves-max-lag"),
    ("set", "k", "v"), ("incr", "n"), ("del", "k"), ("get", "k"), ("exists", "k"),
    ("lpush", "l", "a"), ("expire", "k", "10"), ("publish", "ch", "m"), ("ping",),
    ("eval", "return redis.call('set', KEYS[1], 'x')", "1", "k"),
    ("eval", "return redis.pcall('set', KEYS[1], 'x')", "1", "k"),
    ("eval", "return redis.call('get', KEYS[1])", "1", "k"),
    ("eval", "#!lua\nreturn redis.call('get', KEYS[1])", "1", "k"),
    ("eval", "#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", "1", "k"),
    ("eval", "#!lua flags=allow-oom\nreturn 1", "0"),
    ("eval_ro", "return redis.call('get', KEYS[1])", "1", "k"),
    ("eval_ro", "#!lua\nreturn 1", "0"),
    ("fcall", "w", "1", "k", "v"), ("fcall", "r", "1", "k"), ("fcall_ro", "r", "1", "k"),
    ("fcall", "oom", "1", "k", "v"),
    ("multi",), ("set", "k", "v"), ("exec",),
    ("multi",), ("get", "k"), ("exec",),
    ("multi",), ("eval", "return 1", "0"), ("exec",),
]


def call_both(shale, redis, args, proto):
    a, b = shale.call(*args), redis.call(*args)
    if a != b:
        print("DIFF (RESP%d) %r\n  shale %r\n  redis %r" % (proto, args, a, b))
        return 1
    return 0


def info_fields(conn, section):
    text = conn.call("info", section)[1].decode()
    return [ln.split(":", 1) for ln in text.split("\r\n") if ":" in ln]


def diff(what, a, b, proto):
    if a != b:
        print("DIFF (RESP%d) %s\n  shale %r\n  redis %r" % (proto, what, a, b))
        return 1
    return 0


HIST = {"master_replid", "master_repl_offset", "repl_backlog_first_byte_offset",
        "repl_backlog_histlen", "repl_backlog_active"}


def surface_cases(shale, redis, proto):
    diffs = 0
    for c in (shale, redis):
        c.call("set", "x", "1")  # some history
    run_ids = [dict(info_fields(c, "server")).get("run_id", "") for c in (shale, redis)]
    for rid in run_ids:
        diffs += diff("run_id is 40 hex digits", bool(re.fullmatch("[0-9a-f]{40}", rid)), True,
                      proto)
    a, b = info_fields(shale, "replication"), info_fields(redis, "replication")
    diffs += diff("INFO replication's fields", [k for k, _ in a], [k for k, _ in b], proto)
    diffs += diff("INFO replication's values", [(k, v) for k, v in a if k not in HIST],
                  [(k, v) for k, v in b if k not in HIST], proto)
    replid = dict(a).get("master_replid", "")
    diffs += diff("master_replid is 40 hex digits",
                  bool(re.fullmatch("[0-9a-f]{40}", replid)), True, proto)
    roles = [c.call("role") for c in (shale, redis)]
    shapes = [(t, [e[0] for e in v], v[0], v[2]) if t == b"*" else (t, v) for t, v in roles]
    diffs += diff("ROLE's shape", shapes[0], shapes[1], proto)
    return diffs


def refused_cases(shale, redis, proto):
    diffs = 0
    for c in (shale, redis):
        c.call("function", "load", "replace", LIB)
        c.call("config", "set", "min-replicas-to-write", "1")
    for args in REFUSED:
        diffs += call_both(shale, redis, args, proto)
    a = [kv for kv in info_fields(shale, "replication") if kv[0] == "min_slaves_good_slaves"]
    b = [kv for kv in info_fields(redis, "replication") if kv[0] == "min_slaves_good_slaves"]
    diffs += diff("min_slaves_good_slaves", a, b, proto)
    for c in (shale, redis):  # max-lag 0 turns the check off, as Redis
        c.call("config", "set", "min-slaves-max-lag", "0")
    for args in (("set", "k", "v"), ("config", "get", "min-replicas-max-lag")):
        diffs += call_both(shale, redis, args, proto)
    diffs += diff("no min_slaves_good_slaves with max-lag 0",
                  [k for k, _ in info_fields(shale, "replication")],
                  [k for k, _ in info_fields(redis, "replication")], proto)
    for c in (shale, redis):
        c.call("config", "set", "min-replicas-max-lag", "10")
        c.call("config", "set", "min-replicas-to-write", "0")
    diffs += call_both(shale, redis, ("set", "k", "v2"), proto)
    return diffs


def per_proto(shale, redis, proto):
    return surface_cases(shale, redis, proto) + refused_cases(shale, redis, proto)


def main():
    diffs = run_oracle(per_proto)
    return oracle_exit(diffs, "the replication surface of a primary (%d commands)" % len(REFUSED))


if __name__ == "__main__":
    sys.exit(main())
