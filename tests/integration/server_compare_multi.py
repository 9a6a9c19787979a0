#!/usr/bin/python3
"""server_compare_multi.py - MULTI EXEC DISCARD WATCH UNWATCH, byte for byte, against
redis-server 7.0 as the oracle (same steps on both, RESP2 then RESP3), as
server_compare.py does for the other families.

Each scenario is a list of steps run on two connections per server (A, the client with
the transaction; B, another client that changes keys meanwhile): queueing and its
replies, errors at queue time (EXECABORT) and at run time (in the array), nesting and
the commands refused inside MULTI, blocking commands inside EXEC, reads of the
transaction's own writes, and WATCH against a change by any command and type, expiry
(live and already-expired keys), FLUSHDB, FLUSHALL, SWAPDB, RENAME, MOVE, COPY, RESTORE,
UNWATCH, DISCARD and EXEC; CLIENT LIST's flags (x, d) and multi= field.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import shlex
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, oracle_exit, run_oracle  # noqa: E402

# A step: "A cmd" or "B cmd" (which client), or "sleep <seconds>".
SCENARIOS = {
    "basic": ["A multi", "A set a 1", "A incr a", "A get a", "A exec", "A get a"],
    "empty": ["A multi", "A exec", "A exec", "A discard", "A multi", "A discard", "A get a"],
    "nested": ["A multi", "A multi", "A set n 1", "A exec", "A get n"],
    "queue_errors": ["A multi", "A set a", "A nosuchcommand x y", "A set b 2", "A exec",
                     "A get b", "A multi", "A set b 3", "A exec"],
    "run_errors": ["A multi", "A set s str", "A lpush s x", "A incr s", "A set n 1",
                   "A incr n", "A set a b c", "A exec", "A get n", "A lrange s 0 -1"],
    "not_in_multi": ["A multi", "A watch k", "A set k 1", "A exec", "A get k",
                     "A multi", "A save", "A set k 2", "A exec", "A get k",
                     "A multi", "A shutdown", "A discard"],
    "arity_of_own": ["A multi 1", "A exec 1", "A discard 1", "A watch", "A unwatch 1"],
    "own_writes": ["A multi", "A sadd s a b c", "A scard s", "A sismember s b", "A srem s b",
                   "A sismember s b", "A hset h f v g w", "A hget h g", "A hlen h",
                   "A rpush l 1 2 3", "A lpop l", "A lrange l 0 -1", "A lindex l -1",
                   "A zadd z 1 a 2 b 3 c", "A zincrby z 5 a", "A zrange z 0 -1 withscores",
                   "A zrangebyscore z 2 10", "A zrank z a", "A dbsize", "A del s",
                   "A exists s", "A dbsize", "A set t v ex 100", "A ttl t",
                   "A persist t", "A ttl t", "A rename t t2", "A get t2", "A get t",
                   "A copy t2 t3", "A get t3", "A exec", "A dbsize",
                   "A zrange z 0 -1 withscores", "A lrange l 0 -1", "A get t3"],
    "own_writes_hash_resp3": ["A multi", "A hset h2 a 1", "A hgetall h2", "A hincrby h2 a 5",
                              "A hgetall h2", "A hrandfield h2 1", "A exec"],
    "select_inside": ["A multi", "A select 1", "A set x 1", "A exec", "A get x", "A select 0",
                      "A get x"],
    "blocking_inside": ["A multi", "A blpop empty 0", "A brpop empty 0.1",
                        "A brpoplpush empty dst 0", "A blmove empty dst left right 0",
                        "A bzpopmin ez 0", "A bzpopmax ez 0", "A blmpop 0 1 empty left",
                        "A bzmpop 0 1 ez min", "A rpush full x", "A blpop full 0",
                        "A blpop empty -1", "A exec"],
    "flush_inside": ["A set pre 1", "A multi", "A set a 1", "A flushdb", "A get a",
                     "A dbsize", "A set b 2", "A exec", "A dbsize", "A get pre", "A get b"],
    "swap_inside": ["A set a 0", "A multi", "A set a 1", "A swapdb 0 1", "A get a",
                    "A select 1", "A get a", "A select 0", "A exec", "A get a", "A select 1",
                    "A get a", "A select 0"],
    # WATCH
    "watch_untouched": ["A set k 1", "A watch k", "B get k", "B set other 1", "A multi",
                        "A incr k", "A exec"],
    "watch_own_change": ["A set k 1", "A watch k", "A set k 2", "A multi", "A incr k",
                         "A exec", "A get k"],
    "watch_absent_created": ["A watch nk", "B set nk 1", "A multi", "A ping", "A exec"],
    "watch_absent_untouched": ["A watch nk", "B del nk", "A multi", "A ping", "A exec"],
    "watch_string": ["A set k v", "A watch k", "B append k x", "A multi", "A ping", "A exec"],
    "watch_setrange": ["A set k v", "A watch k", "B setrange k 0 w", "A multi", "A ping",
                       "A exec"],
    "watch_hash_field": ["A hset h f 1 g 2", "A watch h", "B hset h f 9", "A multi",
                         "A ping", "A exec"],
    "watch_hash_incr": ["A hset h f 1", "A watch h", "B hincrby h f 1", "A multi", "A ping",
                        "A exec"],
    "watch_hash_del": ["A hset h f 1 g 2", "A watch h", "B hdel h g", "A multi", "A ping",
                       "A exec"],
    "watch_hash_read": ["A hset h f 1", "A watch h", "B hgetall h", "B hdel h nofield",
                        "A multi", "A ping", "A exec"],
    "watch_list_push": ["A rpush l a", "A watch l", "B rpush l b", "A multi", "A ping",
                        "A exec"],
    "watch_list_set": ["A rpush l a b", "A watch l", "B lset l 0 z", "A multi", "A ping",
                       "A exec"],
    "watch_list_pop_empty": ["A rpush l a", "A watch l", "B lpop l", "A multi", "A ping",
                             "A exec"],
    "watch_list_read": ["A rpush l a", "A watch l", "B lrange l 0 -1", "B lrem l 0 nothing",
                        "A multi", "A ping", "A exec"],
    "watch_set_add": ["A sadd s a", "A watch s", "B sadd s b", "A multi", "A ping", "A exec"],
    "watch_set_add_existing": ["A sadd s a", "A watch s", "B sadd s a", "B srem s zz",
                               "A multi", "A ping", "A exec"],
    "watch_set_pop": ["A sadd s a", "A watch s", "B spop s", "A multi", "A ping", "A exec"],
    "watch_set_rem": ["A sadd s a b", "A watch s", "B srem s b", "A multi", "A ping",
                      "A exec"],
    "watch_set_move": ["A sadd s a", "A watch d", "B smove s d a", "A multi", "A ping",
                       "A exec"],
    "watch_zset_score": ["A zadd z 1 a", "A watch z", "B zadd z 2 a", "A multi", "A ping",
                         "A exec"],
    "watch_zset_same_score": ["A zadd z 1 a", "A watch z", "B zadd z 1 a", "A multi",
                              "A ping", "A exec"],
    "watch_zset_incr": ["A zadd z 1 a", "A watch z", "B zincrby z 1 a", "A multi", "A ping",
                        "A exec"],
    "watch_zset_rem": ["A zadd z 1 a 2 b", "A watch z", "B zremrangebyrank z 0 0", "A multi",
                       "A ping", "A exec"],
    "watch_del": ["A set k 1", "A watch k", "B del k", "A multi", "A ping", "A exec"],
    "watch_expire": ["A set k 1", "A watch k", "B expire k 100", "A multi", "A ping",
                     "A exec"],
    "watch_persist": ["A set k 1 ex 100", "A watch k", "B persist k", "A multi", "A ping",
                      "A exec"],
    "watch_rename_to": ["A set k 1", "A set src 2", "A watch k", "B rename src k", "A multi",
                        "A ping", "A exec"],
    "watch_rename_from": ["A set k 1", "A watch k", "B rename k other", "A multi", "A ping",
                          "A exec"],
    "watch_move": ["A set k 1", "A watch k", "B move k 1", "A multi", "A ping", "A exec",
                   "A select 1", "A del k", "A select 0"],
    "watch_move_in": ["A watch k", "B select 1", "B set k 1", "B move k 0", "A multi",
                      "A ping", "A exec"],
    "watch_copy": ["A set src 1", "A watch k", "B copy src k", "A multi", "A ping", "A exec"],
    "watch_restore": ["A set src 1", "A watch k", "B del k", "A multi", "A ping", "A exec"],
    "watch_sort_store": ["A rpush l 3 1 2", "A watch dst", "B sort l store dst", "A multi",
                         "A ping", "A exec"],
    "watch_store": ["A sadd a 1 2", "A watch dst", "B sunionstore dst a", "A multi",
                    "A ping", "A exec"],
    "watch_flushdb": ["A set k 1", "A watch k", "B flushdb", "A multi", "A ping", "A exec"],
    "watch_flushdb_absent": ["A watch k", "B flushdb", "A multi", "A ping", "A exec"],
    "watch_flushall": ["A set k 1", "A watch k", "B flushall", "A multi", "A ping",
                       "A exec"],
    "watch_flushall_other_db": ["A set k 1", "A watch k", "B select 1", "B flushdb",
                                "A multi", "A ping", "A exec"],
    "watch_swapdb": ["A set k 1", "A watch k", "B swapdb 0 1", "A multi", "A ping",
                     "A exec", "B swapdb 0 1"],
    "watch_swapdb_other_has": ["A watch k", "B select 1", "B set k 1", "B swapdb 0 1",
                               "A multi", "A ping", "A exec", "B swapdb 0 1", "B del k"],
    "watch_swapdb_neither": ["A watch k", "B swapdb 0 1", "A multi", "A ping", "A exec",
                             "B swapdb 0 1"],
    "watch_other_db": ["A select 1", "A set k 1", "A watch k", "B select 1", "B set k 2",
                       "A multi", "A ping", "A exec", "A select 0"],
    "watch_same_name_other_db": ["A set k 1", "A watch k", "B select 1", "B set k 2",
                                 "A multi", "A ping", "A exec"],
    "watch_live_then_expires": ["A set k 1 px 100", "A watch k", "sleep 0.3", "A multi",
                                "A ping", "A exec"],
    "watch_stale": ["A set k 1 px 50", "sleep 0.2", "A watch k", "A multi", "A ping",
                    "A exec"],
    "watch_stale_deleted": ["A set k 1 px 50", "sleep 0.2", "A watch k", "B del k",
                            "A multi", "A ping", "A exec"],
    "watch_stale_flushdb": ["A set k 1 px 50", "sleep 0.2", "A watch k", "B flushdb",
                            "A multi", "A ping", "A exec"],
    "watch_stale_recreated": ["A set k 1 px 50", "sleep 0.2", "A watch k", "B set k 2",
                              "A multi", "A ping", "A exec"],
    "watch_many_keys": ["A watch a b c", "A watch c d", "B set d 1", "A multi", "A ping",
                        "A exec"],
    "unwatch_clears": ["A set k 1", "A watch k", "B set k 2", "A unwatch", "A multi",
                       "A ping", "A exec"],
    "discard_clears": ["A watch k", "A multi", "A discard", "B set k 1", "A multi", "A ping",
                       "A exec"],
    "exec_clears": ["A watch k", "A multi", "A exec", "B set k 1", "A multi", "A ping",
                    "A exec"],
    "watch_dirty_then_error": ["A watch k", "B set k 1", "A multi", "A set k", "A exec"],
    "watch_dirty_discard": ["A watch k", "B set k 1", "A multi", "A discard", "A multi",
                            "A ping", "A exec"],
    "reset_clears": ["A watch k", "A multi", "A set k 1", "A reset", "A exec", "A get k",
                     "B set k 2", "A multi", "A ping", "A exec"],
    "watch_key_in_exec": ["A watch k", "A multi", "A set k 1", "A exec", "A get k"],
    "blpop_watch_queue": ["A multi", "A rpush q a b", "A lpop q", "A llen q", "A exec"],
}

# Redis and shale dump differently: RESTORE gets the payload of the server it runs on.
RESTORE_SCENARIO = ["A set src 1", "A watch k", "B dump src", "B restore k 0 $DUMP",
                    "A multi", "A ping", "A exec"]


def run_steps(conns, steps):
    out = []
    dump = None
    for step in steps:
        who, _, rest = step.partition(" ")
        if who == "sleep":
            time.sleep(float(rest))
            continue
        args = shlex.split(rest)
        if "$DUMP" in args:
            args = [dump if a == "$DUMP" else a for a in args]
        r = conns[who].call(*args)
        if args[0] == "dump":
            dump = r[1]
        out.append((step, r))
    return out


def clear(c):
    """Empties databases 0 and 1 with DEL (FLUSHALL after every scenario would outrun
    shale's sweeper of dropped databases) and forgets c's watches."""
    for db in ("1", "0"):
        c.call("select", db)
        t, keys = c.call("keys", "*")
        if keys:
            c.call("del", *[k[1] for k in keys])
    c.call("unwatch")


def client_fields(conns):
    """A's flags=, multi= and whether multi-mem= is above 0 (its bytes are each server's
    own sizes) in B's CLIENT LIST: outside MULTI, watching a key, inside with two
    commands queued, with a watched key changed, after EXEC."""
    a, b = conns["A"], conns["B"]
    aid = a.call("client", "id")[1]
    out = []

    def look():
        text = b.call("client", "list")[1].decode()
        for line in text[4:].splitlines() if text.startswith("txt:") else text.splitlines():
            f = dict(x.split("=", 1) for x in line.split(" ") if "=" in x)
            if f["id"] == aid.decode():
                out.append((f["flags"], f["multi"], f["multi-mem"] != "0"))
    look()
    a.call("set", "w", "1")
    a.call("watch", "w")
    look()
    a.call("multi")
    a.call("ping")
    a.call("ping")
    look()
    b.call("set", "w", "2")
    look()
    a.call("exec")
    look()
    return out


def per_proto(shale_conns, redis_conns, proto):
    diffs = 0
    got, want = client_fields(shale_conns), client_fields(redis_conns)
    if got != want:
        diffs += 1
        print("DIFF (RESP%d) CLIENT LIST flags and multi\n  shale: %r\n  redis: %r" %
              (proto, got, want))
    scenarios = dict(SCENARIOS)
    scenarios["watch_restore_payload"] = RESTORE_SCENARIO
    for name, steps in scenarios.items():
        for conns in (shale_conns, redis_conns):
            clear(conns["A"])
            conns["B"].call("select", "0")
        got = run_steps(shale_conns, steps)
        want = run_steps(redis_conns, steps)
        for (step, a), (_, b) in zip(got, want):
            if a != b and not step.startswith("B dump"):
                diffs += 1
                print("DIFF (RESP%d) %s: %s\n  shale: %r\n  redis: %r" %
                      (proto, name, step, a, b))
    return diffs


def main():
    state = {}

    def run(shale, redis, proto):
        # a second connection per server, in the same protocol
        sb, rb = Conn(state["sp"]), Conn(state["rp"])
        if proto == 3:
            sb.call("hello", "3")
            rb.call("hello", "3")
        return per_proto({"A": shale, "B": sb}, {"A": redis, "B": rb}, proto)

    # the ports are needed for the second connections: find them from the first ones
    import server_compare
    real = server_compare.run_oracle

    def spy(per, after=None, extra_args=()):
        orig_conn = server_compare.Conn

        def wrapped(shale, redis, proto):
            state["sp"] = shale.s.getpeername()[1]
            state["rp"] = redis.s.getpeername()[1]
            return per(shale, redis, proto)
        return real(wrapped, after, extra_args) if orig_conn else None

    diffs = spy(run)
    return oracle_exit(diffs, "%d transaction scenarios" % (len(SCENARIOS) + 1))


if __name__ == "__main__":
    sys.exit(main())
