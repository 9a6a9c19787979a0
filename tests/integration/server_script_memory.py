#!/usr/bin/python3
"""server_script_memory.py - lua-memory-limit: a script growing the Lua heap past the
limit fails with its own error (table growth, string doubling, a compile), the server
answers on, the heap is collected after such a run, the next scripts run (one that
catches the memory error with pcall too), and CONFIG SET changes the limit (0: none).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.harness import check, run_checks, run_main, start_server  # noqa: E402

LIMIT = 16 * 1024 * 1024
# about 70 MB of Lua strings and table slots when nothing stops it (short strings: Lua
# 5.1 hashes a long one by a sample of its bytes, and long ones differing only at the
# end would all collide)
GROW_TABLE = "local t = {} for i = 1, 1000000 do t[i] = i .. 'abcdefghijklmnopqrst' end return #t"
GROW_STRING = "local s = 'x' for i = 1, 28 do s = s .. s end return #s"
CAUGHT = """
local ok = pcall(function() local t = {} for i = 1, 1000000 do t[i] = i .. 'abcdefghijklmnopqrst' end end)
return ok and 'finished' or 'caught'
"""


def lua_memory(c):
    t, info = c.call("info", "memory")
    for line in info.decode().split("\r\n"):
        if line.startswith("used_memory_lua:"):
            return int(line.split(":")[1])
    raise AssertionError("no used_memory_lua in INFO")


def is_memory_error(r):
    return (r[0] == b"-" and r[1].startswith(b"ERR Error running script")
            and b"lua-memory-limit (%d bytes)" % LIMIT in r[1])


def check_limit():
    p, port, c = start_server("mem", "--lua-memory-limit", str(LIMIT))
    for body in (GROW_TABLE, GROW_STRING):
        r = c.call("eval", body, "0")
        check(is_memory_error(r), "past the limit: %r" % (r,))
        check(c.call("ping") == (b"+", b"PONG"), "the server answers after it")
        used = lua_memory(c)
        check(used < LIMIT // 2, "the heap was not collected after the refused run: %d" % used)
        check(c.call("eval", "return 1 + 1", "0") == (b":", b"2"), "the next script runs")
    r = c.call("eval", CAUGHT, "0")
    check(r == (b"$", b"caught"), "a script catching the memory error goes on: %r" % (r,))
    # a compile that needs more than the limit (a 20 MB string literal)
    body = "return #'" + "x" * (20 * 1024 * 1024) + "'"
    r = c.call("script", "load", body)
    check(r[0] == b"-" and b"not enough memory" in r[1], "a compile past the limit: %r" % (r[:2],))
    check(c.call("config", "get", "lua-memory-limit") == (b"*", [(b"$", b"lua-memory-limit"),
                                                                (b"$", str(LIMIT).encode())]),
          "CONFIG GET lua-memory-limit")
    check(c.call("config", "set", "lua-memory-limit", "0") == (b"+", b"OK"), "CONFIG SET 0")
    r = c.call("eval", GROW_TABLE, "0")
    check(r == (b":", b"1000000"), "without a limit the same script finishes: %r" % (r[:2],))
    p.kill()
    p.wait()


def main():
    return run_checks([("limit", check_limit)])


if __name__ == "__main__":
    run_main(main)
