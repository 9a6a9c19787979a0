#!/usr/bin/python3
"""server_compare_script.py - EVAL EVALSHA EVAL_RO EVALSHA_RO SCRIPT, byte for byte, against
redis-server 7.0 as the oracle (the same calls on both, RESP2 then RESP3): every function
of the redis table, every error path Redis words (compile errors, runtime errors with
their script line, redis.call's refusals, numkeys, NOSCRIPT, read-only scripts), the
sandbox (globals, read-only tables, no bytecode, no os/io/print), and the conversions
both ways (RESP2 and RESP3 replies into Lua, Lua values into replies, redis.setresp),
scripts inside MULTI/EXEC, and reads of a script's own writes.
Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, oracle_exit, run_oracle  # noqa: E402


def ev(script, *rest):
    return ("eval", script, *[str(x) for x in rest]) if rest else ("eval", script, "0")


CASES = [
    # return values -> replies
    ev("return 1"), ev("return 3.99"), ev("return -3.99"), ev("return 'x'"),
    ev("return {1,2,3,'a',nil,5}"), ev("return {1,{2,{3}},'x'}"), ev("return true"),
    ev("return false"), ev("return nil"), ev("return {ok='fine'}"), ev("return {err='My error'}"),
    ev("return {err='-X bad\\r\\nline'}"), ev("return {ok='a\\r\\nb'}"), ev("return {}"),
    ev("return 1e300"), ev("return 0/0"), ev("return {double=3.14}"), ev("return {double=1/0}"),
    ev("return {big_number='123456789012345678901234567890'}"),
    ev("return {verbatim_string={format='txt',string='hello'}}"),
    ev("return {map={a=1}}"), ev("return {set={x=true}}"), ev("return {err=5, ok='y'}"),
    ev("return function() end"), ev("return {1, function() end, 3}"),
    ev("redis.setresp(3); return true"), ev("redis.setresp(3); return false"),
    ev("redis.setresp(3); return {true,false,nil}"),
    ev("return redis.status_reply('PONG')"), ev("return redis.error_reply('MY err')"),
    ev("return redis.error_reply('-MY err')"), ev("return redis.error_reply(1)"),
    ev("return redis.status_reply()"),
    # KEYS and ARGV
    ev("return {KEYS[1], KEYS[2], ARGV[1], ARGV[2], #KEYS, #ARGV}", 2, "k1", "k2", "a1", "a2"),
    ev("return KEYS", 0), ("eval", "return 1", "x"), ("eval", "return 1", "3", "a"),
    ("eval", "return 1", "-1"), ("eval", "return 1"), ("eval", "return 1", "1", "k"),
    # redis.call and its conversions (RESP2 replies)
    ev("return redis.call('set', KEYS[1], ARGV[1])", 1, "s", "v"),
    ev("return redis.call('get', 's')"), ev("return redis.call('get', 'nokey')"),
    ev("return type(redis.call('get', 'nokey'))"),
    ev("return redis.call('incr', 'n')"), ev("return redis.call('incrbyfloat', 'f', 1.5)"),
    ev("redis.call('rpush', 'l', 1, 2, 3); return redis.call('lrange', 'l', 0, -1)"),
    ev("redis.call('hset', 'h', 'a', 1, 'b', 2); return redis.call('hgetall', 'h')"),
    ev("return redis.call('ping')"), ev("return type(redis.call('ping'))"),
    ev("return redis.call('ping').ok"),
    ev("return redis.call('set', 'n2', 3.5)"), ev("return redis.call('get', 'n2')"),
    ev("return redis.call('set', 'n3', 1e100)"), ev("return redis.call('get', 'n3')"),
    ev("local t = redis.call('blpop', 'emptylist', 0); return type(t)"),
    ev("return redis.call('exists', 'nokey', 's')"),
    # RESP3 replies into Lua
    ev("redis.setresp(3); return redis.call('hgetall', 'h')"),
    ev("redis.setresp(3); local t = redis.call('hgetall', 'h'); return t.map.a"),
    ev("redis.setresp(3); return redis.call('get', 'nokey')"),
    ev("redis.setresp(3); return type(redis.call('get', 'nokey'))"),
    ev("redis.setresp(3); redis.call('sadd', 'st', 'm'); return redis.call('smembers', 'st')"),
    ev("redis.setresp(3); redis.call('zadd', 'z', 1.5, 'm'); return redis.call('zscore', 'z', 'm')"),
    ev("redis.setresp(3); return redis.call('zscore', 'z', 'm').double"),
    ev("redis.setresp(3); return redis.call('smismember', 'st', 'm', 'x')"),
    ev("redis.setresp(2); return redis.call('zscore', 'z', 'm')"),
    ev("redis.setresp(4)"), ev("redis.setresp()"),
    # errors from commands
    ev("return redis.call('incr', 's')"), ev("return redis.pcall('incr', 's')"),
    ev("local r = redis.pcall('incr', 's'); return r.err"),
    ev("return redis.call('nosuchcmd')"), ev("return redis.pcall('nosuchcmd')"),
    ev("return redis.call('get')"), ev("return redis.pcall('get')"),
    ev("return redis.call()"), ev("return redis.pcall()"),
    ev("return redis.call('get', {})"), ev("return redis.pcall('get', {})"),
    ev("return redis.call('multi')"), ev("return redis.call('eval', 'return 1', 0)"),
    ev("return redis.call('config', 'nosuch')"), ev("return redis.call('object')"),
    ev("return redis.call('lpush', 's', 'x')"),
    ev("redis.call('lpush', 's', 'x')\nreturn 1"),
    # Lua errors and their positions
    ev("error('boom')"), ev("\n\nerror('boom')"), ev("error({err='ERR tbl'})"),
    ev("error()"), ev("error(12)"), ev("local x = nil; return x.y"),
    ev("return 1 +"), ev("return 'unterminated"), ev("return pcall(function() error('in') end)"),
    ev("return {pcall(function() error({err='X tbl'}) end)}"),
    ev("return {pcall(function() redis.call('nosuch') end)}"),
    ev("return {redis.pcall('nosuch')}"),
    ev("local function f() return redis.call('incr', 's') end\nreturn f()"),
    # sandbox
    ev("return a"), ev("a = 10"), ev("return _G.a"), ev("rawset(_G, 'a', 1)"),
    ev("setmetatable(_G, {})"), ev("local g = getmetatable(_G); g.__index = {}"),
    ev("redis = function() return 1 end"), ev("_G = {}"), ev("redis.call = function() end"),
    ev("string.len = 1"), ev("math.x = 1"), ev("table.insert = nil"),
    ev("return loadfile('x')"), ev("return dofile('x')"), ev("return print('x')"),
    ev("return os.time()"), ev("return io.write('x')"), ev("return require('x')"),
    ev("return loadstring(string.dump(function() return 1 end))()"),
    ev("return loadstring('return 7')()"), ev("return type(load)"),
    ev("local f = loadstring('x = 1'); return f()"),
    ev("return debug"), ev("return type(coroutine)"), ev("return type(newproxy)"),
    ev("return string.upper('abc') .. ('x'):rep(3)"), ev("return math.floor(3.7)"),
    ev("return table.concat({'a','b'}, '-')"), ev("return #redis.sha1hex('x')"),
    ev("local n = 0; for k, v in pairs(string) do n = n + 1 end; return n > 5"),
    ev("local t = {}; for i, v in ipairs({1,2,3}) do t[i] = v * 2 end; return t"),
    ev("return tostring(rawget(string, 'len') ~= nil)"),
    ev("local t = {1}; setmetatable(t, {__index = function() return 5 end}); return t[9]"),
    ev("return unpack({1,2})"), ev("return select('#', 1, 2, 3)"), ev("return type(_G)"),
    ev("return _G.redis == redis"), ev("KEYS[1] = 'x'; return KEYS[1]"),
    # the redis table
    ev("return _G"), ev("return {1, _G, 3}"),
    ev("return setmetatable({}, {__index = function() error('mt') end})"),
    ev("local t = setmetatable({}, {__index = function() return redis.call('ping') end}); return t"),
    ev("return redis.sha1hex('')"), ev("return redis.sha1hex('Pizza & Mandolino')"),
    ev("return redis.sha1hex()"), ev("return redis.sha1hex(123)"),
    ev("return {redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING}"),
    ev("return redis.log(redis.LOG_WARNING, 'from a script')"), ev("return redis.log(1)"),
    ev("return redis.log('x', 'y')"), ev("return redis.log(9, 'y')"),
    ev("return {redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL}"),
    ev("return redis.set_repl(redis.REPL_ALL)"), ev("return redis.set_repl(99)"),
    ev("return redis.set_repl()"), ev("return redis.replicate_commands()"),
    ev("return redis.breakpoint()"), ev("return redis.debug('x')"),
    ev("return redis.acl_check_cmd('get', 'x')"), ev("return redis.acl_check_cmd('nosuch')"),
    ev("return type(redis.REDIS_VERSION_NUM)"),
    # SCRIPT and EVALSHA
    ("script", "load", "return 'loaded'"), ("evalsha", "2ffbf6ba6aa7f9cf15f5ba11fc74e11a8d3c3bfe", "0"),
    ("evalsha", "2FFBF6BA6AA7F9CF15F5BA11FC74E11A8D3C3BFE", "0"),
    ("script", "exists", "2ffbf6ba6aa7f9cf15f5ba11fc74e11a8d3c3bfe", "0000", "2FFBF6BA6AA7F9CF15F5BA11FC74E11A8D3C3BFE"),
    ("evalsha", "ffffffffffffffffffffffffffffffffffffffff", "0"), ("evalsha", "abc", "0"),
    ("evalsha", "abc", "x"), ("script", "load", "return +"), ("script", "load"),
    ("script", "exists"), ("script", "flush", "bad"), ("script", "flush", "sync", "x"),
    ("script", "nosuch"), ("script", "help"), ("script", "kill"),
    ("script", "flush"), ("evalsha", "2ffbf6ba6aa7f9cf15f5ba11fc74e11a8d3c3bfe", "0"),
    ("script", "flush", "async"), ("script", "flush", "SYNC"),
    # read-only variants
    ("eval_ro", "return redis.call('get', 's')", "0"),
    ("eval_ro", "return redis.call('set', 's', 1)", "0"),
    ("eval_ro", "return redis.pcall('set', 's', 1)", "0"),
    ("eval_ro", "return redis.call('publish', 'c', 1)", "0"),
    ("script", "load", "return redis.call('del', 'x')"),
    ("evalsha_ro", "0e0d1f2e9c8c7ce0d3f0b6b9d1e4d1b2a1f1a0c0", "0"),
    # own writes, atomic whole
    ev("redis.call('set', 'w', 1); redis.call('incr', 'w'); return redis.call('get', 'w')"),
    ev("redis.call('del', 'w'); return redis.call('exists', 'w')"),
    ev("redis.call('set', 'p', 1); error('after a write')"), ("get", "p"),
    ev("redis.call('select', 1); redis.call('set', 'in1', 'x'); return redis.call('get', 'in1')"),
    ("get", "in1"), ("select", "1"), ("get", "in1"), ("select", "0"),
    # MULTI and EXEC around scripts
    ("multi",), ev("return redis.call('incr', 'mx')"), ev("return redis.call('get', 'mx')"),
    ("incr", "mx"), ("exec",), ("get", "mx"),
    ("multi",), ("eval", "return 1"), ("exec",),
    # many arguments: the call's arguments leave Lua's stack before its reply is pushed
    ev("local a = {} for i = 1, 7999 do a[i] = 1 end; return redis.call('lpush', 'big', unpack(a))"),
    ev("return redis.call('llen', 'big')"),
    # the shebang: flags, errors, the line numbers kept
    ev("#!lua\nreturn 1"), ev("#!lua\nerror('on line 2')"), ev("#!lua flags=no-writes\nreturn 1"),
    ev("#!lua flags=no-writes\nreturn redis.call('set', 'x', 1)"),
    ev("#!lua flags=no-writes\nreturn redis.pcall('set', 'x', 1)"),
    ev("#!lua flags=no-writes,allow-oom,allow-stale,no-cluster,allow-cross-slot-keys\nreturn 2"),
    ev("#!lua flags=\nreturn 3"), ev("#!lua flags=bad\nreturn 1"), ev("#!lua flags=no-writes,\nreturn 1"),
    ev("#!lua name=x\nreturn 1"), ev("#!python\nreturn 1"), ev("#!lua"), ev("#!\nreturn 1"),
    ev("#!lua  flags=no-writes  \nreturn 4"), ev("#! lua\nreturn 1"),
    ("eval_ro", "#!lua\nreturn 1", "0"), ("eval_ro", "#!lua flags=no-writes\nreturn redis.call('get', 's')", "0"),
    ("script", "load", "#!lua flags=nope\nreturn 1"), ("script", "load", "#!lua\nreturn 5"),
    ("evalsha", "a0c38691e6ba4d5f9a0a6c3d4c9d1e7b5b3a7b0e", "0"),
    # SORT BY a constant of a set is sorted for scripts (its order is no order)
    ev("redis.call('sadd', 'myset', 'u', 'i', 'f', 'aa', 'd', 'z', 'b'); "
       "return redis.call('sort', 'myset', 'by', '_')"),
    ev("return redis.call('sort', 'myset', 'by', '_', 'get', '#', 'get', '_:*')"),
    ev("redis.call('rpush', 'mylist', 'c', 'a', 'b'); return redis.call('sort', 'mylist', 'by', '_')"),
    # a script's write touches a watched key (the caller's own watch too); a read does not
    ("watch", "wk"), ev("return redis.call('get', 'wk')"), ("multi",), ("ping",), ("exec",),
    ("watch", "wk"), ev("return redis.call('set', 'wk', 1)"), ("multi",), ("ping",), ("exec",),
    # the options
    ("config", "get", "lua-time-limit"), ("config", "set", "busy-reply-threshold", "100"),
    ("config", "get", "busy-reply-threshold"), ("config", "set", "lua-time-limit", "-1"),
    ("config", "set", "lua-time-limit", "5000"), ("config", "get", "lua-time-limit"),
]


def evalsha_of_del(shale, redis):
    """EVALSHA_RO of a cached writing script (the id computed by each server)."""
    diffs = 0
    body = "return redis.call('del', 'x')"
    for c in (shale, redis):
        c.call("script", "load", body)
    sha = shale.call("script", "load", body)[1].decode()
    for args in (("evalsha_ro", sha, "0"), ("evalsha", sha, "0")):
        a, b = shale.call(*args), redis.call(*args)
        if a != b:
            print("DIFF %r\n  shale %r\n  redis %r" % (args, a, b))
            diffs += 1
    return diffs


def per_proto(shale, redis, proto):
    diffs = 0
    for args in CASES:
        a, b = shale.call(*args), redis.call(*args)
        if a != b:
            print("DIFF (RESP%d) %r\n  shale %r\n  redis %r" % (proto, args, a, b))
            diffs += 1
    return diffs + evalsha_of_del(shale, redis)


def monitor_lines(port, calls):
    """MONITOR's lines (time stamps and client addresses out) and the keyspace events
    while calls run."""
    c = Conn(port)
    c.call("config", "set", "notify-keyspace-events", "KEA")
    m, sub = Conn(port), Conn(port)
    m.call("monitor")
    sub.call("psubscribe", "__key*__:*")
    for args in calls:
        c.call(*args)
    c.call("config", "set", "notify-keyspace-events", "")
    lines = [m.reply() for _ in range(7)]  # PSUBSCRIBE, 2 EVAL, their 4 commands
    events = [sub.reply() for _ in range(6)]
    canon = []
    for t, line in lines:
        stamp, _, rest = line.partition(b" [")
        where, _, cmd = rest.partition(b"] ")
        canon.append((where.split(b" ")[1] if where.endswith(b"lua") else b"client", cmd))
    return canon, events


OOM_CASES = [
    ev("return redis.call('get', 's')"), ev("return redis.call('set', 'x', 'y')"),
    ev("return redis.pcall('set', 'x', 'y')"),
    ev("local t = redis.pcall('set', 'x', 'y'); return t.err"),
    ev("redis.call('del', 'nokey'); return redis.call('set', 'x', 'y')"),
    ev("#!lua\nreturn 1"), ev("#!lua flags=no-writes\nreturn redis.call('get', 'x')"),
    ev("#!lua flags=allow-oom\nreturn redis.call('set', 'x', 'z')"),
    ("eval_ro", "return redis.call('get', 'x')", "0"),
]


def over_maxmemory(sp, rp):
    """Scripts over maxmemory: Redis's OOM rules with and without a shebang."""
    diffs = 0
    shale, redis = Conn(sp), Conn(rp)
    for c in (shale, redis):
        c.call("flushall")
        c.call("set", "s", "v")
        c.call("config", "set", "maxmemory", "1")
    for args in OOM_CASES:
        a, b = shale.call(*args), redis.call(*args)
        if a != b:
            print("DIFF (maxmemory 1) %r\n  shale %r\n  redis %r" % (args, a, b))
            diffs += 1
    for c in (shale, redis):
        c.call("config", "set", "maxmemory", "0")
    return diffs


STATS_CASES = [
    # (maxmemory, call): each after CONFIG RESETSTAT
    ("1", ev("return redis.call('set', 'x', 'y')")),
    ("1", ev("local t = redis.pcall('set', 'x', 'y'); return 1")),
    ("1", ev("return redis.pcall('set', 'x', 'y')")),
    ("0", ev("return redis.call('select', 99)")),
    ("0", ev("local t = redis.pcall('select', 99); return 1")),
    ("0", ("eval_ro", "return redis.call('set', 'x', 'y')", "0")),
    ("0", ("eval_ro", "local t = redis.pcall('set', 'x', 'y'); return 1", "0")),
    ("0", ev("return redis.call('nosuch')")), ("0", ev("error('plain')")),
    ("0", ev("return {err='OWN error'}")), ("0", ev("return redis.call('get')")),
]


def stat_lines(c):
    """INFO errorstats and total_error_replies, and commandstats without times."""
    out = []
    for section in ("errorstats", "stats", "commandstats"):
        for line in c.call("info", section)[1].decode().split("\r\n"):
            if line.startswith(("errorstat_", "total_error_replies")):
                out.append(line)
            elif line.startswith("cmdstat_"):
                name, _, fields = line.partition(":")
                kept = [f for f in fields.split(",") if f.split("=")[0] in
                        ("calls", "rejected_calls", "failed_calls")]
                out.append(name + ":" + ",".join(kept))
    return sorted(out)


def stats(sp, rp):
    """Error and command statistics of scripts' errors, as Redis counts each once."""
    diffs = 0
    shale, redis = Conn(sp), Conn(rp)
    for maxmemory, args in STATS_CASES:
        for c in (shale, redis):
            c.call("config", "set", "maxmemory", maxmemory)
            c.call("config", "resetstat")
            c.call(*args)
            c.call("config", "set", "maxmemory", "0")
        a, b = stat_lines(shale), stat_lines(redis)
        a = [x for x in a if not x.startswith("cmdstat_config")]
        b = [x for x in b if not x.startswith("cmdstat_config")]
        if a != b:
            print("DIFF stats after %r\n  shale %r\n  redis %r" % (args, a, b))
            diffs += 1
    for c in (shale, redis):
        c.call("script", "flush")
        c.call("script", "load", "return 1")
        c.call("script", "load", "return 2")
    a, b = [[line for line in c.call("info", "memory")[1].decode().split("\r\n")
             if line.startswith("number_of_cached_scripts")] for c in (shale, redis)]
    if a != b or not a:
        print("DIFF number_of_cached_scripts %r %r" % (a, b))
        diffs += 1
    return diffs


# Scripts that make redis-server 7.0 abort or answer nonsense: shale answers an error and
# goes on (not compared).
HOSTILE = [
    ev("error(setmetatable({}, {__index = function() error('x') end}))"),
    ev("error(_G)"), ev("error(redis)"), ev("error(setmetatable({}, {__newindex = function() error('y') end}))"),
    ev("return setmetatable({err = 1}, {__index = function() error('z') end})"),
]


def hostile(sp):
    """Each hostile script gets a reply (an error one with its code) and the server stays up."""
    c = Conn(sp)
    bad = 0
    for args in HOSTILE:
        r = c.call(*args)
        empty_error = r[0] == b"-" and not r[1][:1].isupper()
        if r[0] not in (b"-", b"*", b"$", b":") or empty_error or c.call("ping") != (b"+", b"PONG"):
            print("FAIL hostile %r: %r" % (args, r))
            bad += 1
    return bad


def after(sp, rp):
    return (monitor_and_events(sp, rp) + over_maxmemory(sp, rp) + stats(sp, rp) +
            hostile(sp))


def monitor_and_events(sp, rp):
    """MONITOR shows EVAL, then its commands as the lua client; events of its writes."""
    calls = [("eval", "redis.call('set','a','1'); redis.call('incr','a'); "
              "return redis.pcall('lpush','a','x')", "0"),
             ("eval", "redis.call('del', 'a')", "0")]
    a, b = monitor_lines(sp, calls), monitor_lines(rp, calls)
    if a != b:
        print("DIFF monitor/events\n  shale %r\n  redis %r" % (a, b))
        return 1
    return 0


def main():
    return oracle_exit(run_oracle(per_proto, after), "scripting (%d calls)" % len(CASES))


if __name__ == "__main__":
    sys.exit(main())
