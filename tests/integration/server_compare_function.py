#!/usr/bin/python3
"""server_compare_function.py - FUNCTION LOAD LIST DELETE DUMP RESTORE FLUSH STATS HELP KILL,
FCALL and FCALL_RO, byte for byte, against redis-server 7.0 as the oracle (RESP2 then RESP3):
the library metadata line and its errors, redis.register_function positional and with named
arguments and every error it raises, the flags and their checks (FCALL_RO, no-writes), the
restricted globals of a load, run errors naming the function, FCALL inside MULTI/EXEC, and
FUNCTION DUMP payloads moved both ways between the two servers (RESTORE with each policy).
FUNCTION LIST's libraries are compared sorted, and only libraries of one function each are
listed: Redis lists both in its hash tables' order, which is no order shale can give.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, oracle_exit, run_oracle  # noqa: E402


def load(code, *opts):
    return ("function", "load", *opts, code)


LIB1 = "#!lua name=lib1\nredis.register_function('set1', function(keys, args) " \
       "return redis.call('set', keys[1], args[1]) end)"
LIB2 = "#!lua name=lib2\nredis.register_function{function_name='get2', callback=function(keys, " \
       "args) return redis.call('get', keys[1]) end, flags={'no-writes'}, description='reads'}"
LIB3 = "#!lua name=lib3\nredis.register_function{function_name='w3', callback=function(keys) " \
       "return redis.call('set', keys[1], 'x') end, flags={'no-writes', 'allow-oom'}}"
LIB4 = "#!lua name=lib4\nredis.register_function{function_name='f4', callback=function(keys, args) " \
       "return {keys, args, #keys, #args} end, flags={'allow-stale', 'no-cluster', " \
       "'allow-cross-slot-keys', 'ALLOW-OOM'}}"
LIB5 = "#!lua name=lib5\nlocal function helper(x) return x * 2 end\n" \
       "redis.register_function('err5', function() error('boom') end)\n" \
       "redis.register_function('tbl5', function() return redis.error_reply('MY err') end)\n" \
       "redis.register_function('dbl5', function(k, a) return helper(tonumber(a[1])) end)\n" \
       "redis.register_function('glob5', function() return nosuch end)\n" \
       "redis.register_function('call5', function() return redis.call('nosuchcmd') end)\n" \
       "redis.register_function('resp5', function() redis.setresp(3); " \
       "return redis.call('hgetall', 'h5') end)"


def reg(body):
    return load("#!lua name=bad\n" + body)


CASES = [
    ("function", "flush"),
    # the metadata line
    load("return 1"), load("#!lua\nreturn 1"), load("#!lua name=x"), load("#!lua name=x foo=bar\n"),
    load("#!lua name=x name=y\n"), load("#!lua name=\n"), load("#!lua name=a-b\n"),
    load("#!nosuch name=x\n"), load("#!LUA name=up\nredis.register_function('up', function() return 1 end)"),
    load("#!lua NAME=upn\nredis.register_function('upn', function() return 1 end)"),
    load("#!lua name=x \"unbalanced\n"), load("#! name=x\n"),
    load("#!lua name=x\nreturn +"), load("#!lua name=x\n"), load("#!lua name=x\nlocal a = 1"),
    ("function", "load"), ("function", "load", "replace"), ("function", "load", "bogus", LIB1),
    ("function", "load", "replace", "bogus", LIB1),
    # register_function
    reg("redis.register_function()"), reg("redis.register_function('a', function() end, 3)"),
    reg("redis.register_function('a', 1)"), reg("redis.register_function({}, function() end)"),
    reg("redis.register_function(1)"), reg("redis.register_function({})"),
    reg("redis.register_function{callback=function() end}"),
    reg("redis.register_function{function_name='a'}"),
    reg("redis.register_function{function_name={}, callback=function() end}"),
    reg("redis.register_function{function_name='a', callback=1}"),
    reg("redis.register_function{function_name='a', callback=function() end, flags='no-writes'}"),
    reg("redis.register_function{function_name='a', callback=function() end, flags={'nope'}}"),
    reg("redis.register_function{function_name='a', callback=function() end, flags={1}}"),
    reg("redis.register_function{function_name='a', callback=function() end, description={}}"),
    reg("redis.register_function{function_name='a', callback=function() end, other=1}"),
    reg("redis.register_function{[1]='a', callback=function() end}"),
    reg("redis.register_function('a-b', function() end)"),
    reg("redis.register_function('', function() end)"),
    reg("redis.register_function('a', function() end)\nredis.register_function('a', function() end)"),
    # the restricted globals of a load
    reg("redis.call('ping')"), reg("redis.pcall('ping')"), reg("redis.setresp(3)"),
    reg("local s = string.format('x')"), reg("local t = table.concat({})"), reg("x = 1"),
    reg("error('in load')"), reg("error({err='ERR tbl'})"), reg("local a = nosuchglobal"),
    reg("redis.log(redis.LOG_NOTICE, 'loading')\nredis.register_function('lg', function() return redis.REDIS_VERSION_NUM > 0 end)"),
    ("function", "delete", "bad"),
    # loaded libraries
    load(LIB1), load(LIB1), load(LIB1, "replace"), load(LIB1, "REPLACE"), load(LIB2), load(LIB3),
    load(LIB4), ("function", "list"), ("function", "list", "withcode"),
    ("function", "list", "libraryname", "lib1"), ("function", "list", "libraryname", "LIB*"),
    ("function", "list", "libraryname", "nomatch*"), ("function", "list", "libraryname"),
    ("function", "list", "withcode", "withcode"), ("function", "list", "bogus"),
    ("function", "list", "libraryname", "lib2", "withcode"),
    load("#!lua name=other\nredis.register_function('set1', function() end)"),
    load("#!lua name=lib1\nredis.register_function('get2', function() end)", "replace"),
    ("function", "stats"),
    # FCALL and FCALL_RO
    ("fcall", "set1", "1", "k1", "v1"), ("fcall", "get2", "1", "k1"), ("fcall_ro", "get2", "1", "k1"),
    ("fcall_ro", "set1", "1", "k1", "v"), ("fcall", "w3", "1", "k3"), ("fcall_ro", "w3", "1", "k3"),
    ("fcall", "nosuch", "0"), ("fcall", "set1", "x"), ("fcall", "set1", "3", "a"),
    ("fcall", "set1", "-1"), ("fcall", "set1"), ("fcall", "f4", "2", "a", "b", "c"),
    ("fcall", "f4", "0"), ("fcall", "SET1", "1", "k", "v"),
    load(LIB5), ("fcall", "err5", "0"), ("fcall", "tbl5", "0"), ("fcall", "dbl5", "0", "21"),
    ("fcall", "glob5", "0"), ("fcall", "call5", "0"), ("hset", "h5", "a", "1"), ("fcall", "resp5", "0"),
    ("eval", "return redis.call('fcall', 'set1', 1, 'k', 'v')", "0"),
    ("eval", "return redis.call('function', 'list')", "0"),
    ("eval", "redis.register_function('x', function() end)", "0"),
    ("multi",), ("fcall", "set1", "1", "mk", "mv"), ("fcall", "get2", "1", "mk"), ("exec",),
    # over maxmemory: LOAD and RESTORE refused (denyoom), functions by their flags
    ("config", "set", "maxmemory", "1"),
    load("#!lua name=oom\nredis.register_function('oomf', function() return 1 end)"),
    ("function", "restore", "junk"), ("fcall", "set1", "1", "ok1", "v"),
    ("fcall", "w3", "1", "ok3"), ("fcall", "get2", "1", "ok1"), ("fcall_ro", "get2", "1", "ok1"),
    ("fcall", "f4", "1", "ok4"), ("config", "set", "maxmemory", "0"),
    # DELETE, FLUSH, the rest
    ("function", "delete", "lib5"), ("function", "delete", "lib5"), ("fcall", "err5", "0"),
    ("function", "delete"), ("function", "delete", "a", "b"), ("function", "stats"),
    ("function", "stats", "x"), ("function", "kill"), ("function", "kill", "x"), ("function", "help"),
    ("function", "help", "x"), ("function", "nosuch"), ("function",), ("function", "dump", "x"),
    ("function", "flush", "bad"), ("function", "flush", "sync", "x"), ("function", "flush", "async"),
    ("function", "list"), ("fcall", "set1", "1", "k", "v"), ("function", "flush", "SYNC"),
    ("function", "restore"), ("function", "restore", "junk"), ("function", "restore", "junk", "bad"),
    ("function", "restore", "junk", "append", "x"), ("function", "restore", "0123456789ab"),
]


def unordered(args, reply):
    """FUNCTION LIST's libraries sorted: Redis lists them in its hash table's order."""
    if args[:2] == ("function", "list") and reply[0] == b"*" and isinstance(reply[1], list):
        return (reply[0], sorted(reply[1], key=repr))
    return reply


def call_both(shale, redis, args, proto):
    a, b = unordered(args, shale.call(*args)), unordered(args, redis.call(*args))
    if a != b:
        print("DIFF (RESP%d) %r\n  shale %r\n  redis %r" % (proto, args, a, b))
        return 1
    return 0


def dump_payload(conn):
    reply = conn.call("function", "dump")
    return reply[1]


def restore_cases(shale, redis, proto):
    """Payloads moved both ways: each server's DUMP restored into both, with each policy."""
    diffs = 0
    for c in (shale, redis):
        c.call("function", "flush")
        c.call("function", "load", LIB1)
        c.call("function", "load", LIB2)
    payloads = [dump_payload(shale), dump_payload(redis)]
    # (one library in the way: which one Redis names first is its hash table's order)
    steps = [("function", "delete", "lib2"), ("function", "restore", None), ("function", "restore", None, "append"),
             ("function", "restore", None, "replace"), ("function", "list"),
             ("function", "flush"), ("function", "restore", None, "flush"), ("function", "list"),
             ("fcall", "set1", "1", "rk", "rv"), ("fcall_ro", "get2", "1", "rk")]
    for payload in payloads:
        for step in steps:
            args = tuple(payload if x is None else x for x in step)
            diffs += call_both(shale, redis, args, proto)
        # a function of another library in the payload's way
        for c in (shale, redis):
            c.call("function", "flush")
            c.call("function", "load", "#!lua name=other\nredis.register_function('set1', function() end)")
        for step in (("function", "restore", payload), ("function", "restore", payload, "replace"),
                     ("function", "restore", payload[:-1] + b"x")):
            diffs += call_both(shale, redis, step, proto)
    # Redis compresses a long repetitive code (an LZF string in its payload)
    long_lib = "#!lua name=longlib\n-- " + "abcdefgh" * 200 + \
        "\nredis.register_function('lf', function() return 'long' end)"
    for c in (shale, redis):
        c.call("function", "flush")
    redis.call("function", "load", long_lib)
    payload = dump_payload(redis)
    if b"abcdefgh" * 20 in payload:
        print("the long library was not compressed by Redis")
        diffs += 1
    redis.call("function", "flush")
    for step in (("function", "restore", payload), ("function", "list", "withcode"),
                 ("fcall", "lf", "0")):
        diffs += call_both(shale, redis, step, proto)
    # an empty payload
    for c in (shale, redis):
        c.call("function", "flush")
    diffs += call_both(shale, redis, ("function", "restore", dump_payload(redis)), proto)
    diffs += call_both(shale, redis, ("function", "restore", dump_payload(shale)), proto)
    return diffs


def info_memory(conn):
    """INFO memory's scripting fields: the names in order, and the counts' values."""
    lines = conn.call("info", "memory")[1].decode().split("\r\n")
    fields = [ln.split(":")[0] for ln in lines
              if any(w in ln for w in ("lua", "script", "function", "librar", "_vm_"))]
    counts = [ln for ln in lines if ln.startswith(("number_of_functions", "number_of_libraries"))]
    return fields, counts


def info_cases(shale, redis):
    diffs = 0
    for c in (shale, redis):
        c.call("function", "flush")
        c.call("function", "load", LIB1)
        c.call("function", "load", LIB5)
    a, b = info_memory(shale), info_memory(redis)
    if a != b:
        print("DIFF INFO memory\n  shale %r\n  redis %r" % (a, b))
        diffs += 1
    return diffs


def per_proto(shale, redis, proto):
    diffs = 0
    for args in CASES:
        diffs += call_both(shale, redis, args, proto)
    return diffs + restore_cases(shale, redis, proto) + info_cases(shale, redis)


def main():
    diffs = run_oracle(per_proto)
    return oracle_exit(diffs, "%d FUNCTION/FCALL commands" % len(CASES))


if __name__ == "__main__":
    sys.exit(main())
