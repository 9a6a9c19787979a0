#!/usr/bin/python3
"""server_function_persist.py - function libraries persist with the data: after a clean
restart and after a kill -9 (sync-writes yes: an acknowledged FUNCTION LOAD, DELETE,
RESTORE or FLUSH is durable) the libraries are those the acknowledged commands left, and
their functions run; a library loaded inside MULTI/EXEC persists with EXEC's batch; FLUSHALL
keeps them, as Redis's does; a function's writes and the library records are one batch.
"""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.harness import check, run_checks, run_main, start_server  # noqa: E402


def lib(name, fn, body="return redis.call('incr', keys[1])"):
    return "#!lua name=%s\nredis.register_function('%s', function(keys, args) %s end)" % (
        name, fn, body)


def names(c):
    reply = c.call("function", "list")
    return sorted(entry[1][1][1].decode() for entry in reply[1])


def restart(p, name, hard):
    if hard:
        os.kill(p.pid, signal.SIGKILL)
    else:
        p.terminate()
    p.wait()
    return start_server(name, "--sync-writes", "yes")


def check_restart(hard):
    name = "kill9" if hard else "clean"
    p, port, c = start_server(name, "--sync-writes", "yes")
    for i in range(5):
        check(c.call("function", "load", lib("lib%d" % i, "f%d" % i)) == (b"$", b"lib%d" % i),
              "FUNCTION LOAD lib%d" % i)
    check(c.call("function", "delete", "lib1") == (b"+", b"OK"), "DELETE")
    check(c.call("function", "load", "replace", lib("lib2", "g2")) == (b"$", b"lib2"), "REPLACE")
    c.call("multi")
    c.call("function", "load", lib("inmulti", "m"))
    c.call("set", "k", "v")
    check(c.call("exec")[0] == b"*", "EXEC")
    check(c.call("flushall") == (b"+", b"OK"), "FLUSHALL")
    r = c.call("fcall", "f0", "1", "n")
    check(r == (b":", b"1"), "FCALL %r" % (r,))
    p, port, c = restart(p, name, hard)
    check(names(c) == ["inmulti", "lib0", "lib2", "lib3", "lib4"], "libraries after restart: %r" % names(c))
    check(c.call("fcall", "g2", "1", "n") == (b":", b"2"), "a replaced library's function runs")
    check(c.call("fcall", "f2", "1", "n")[0] == b"-", "the replaced function is gone")
    info = c.call("info", "memory")[1].decode()
    check("number_of_libraries:5\r\n" in info and "number_of_functions:5\r\n" in info, "INFO memory")
    payload = c.call("function", "dump")[1]
    check(c.call("function", "flush") == (b"+", b"OK"), "FLUSH")
    p, port, c = restart(p, name, hard)
    check(names(c) == [], "FLUSH persisted")
    check(c.call("function", "restore", payload) == (b"+", b"OK"), "RESTORE")
    p, port, c = restart(p, name, hard)
    check(names(c) == ["inmulti", "lib0", "lib2", "lib3", "lib4"], "RESTORE persisted")
    p.terminate()
    p.wait()


def check_large_library():
    """A library of 1 MB of code (its record past the value-log threshold) loads again."""
    p, port, c = start_server("large", "--sync-writes", "yes")
    code = lib("big", "bigf", "return 'big'") + "\n-- " + "x" * (1 << 20)
    check(c.call("function", "load", code) == (b"$", b"big"), "LOAD a large library")
    for hard in (False, True):
        p, port, c = restart(p, "large", hard)
        check(c.call("fcall", "bigf", "0") == (b"$", b"big"), "FCALL after restart")
        listed = c.call("function", "list", "withcode")[1][0][1][7][1]
        check(listed == code.encode(), "the code kept whole")
    p.terminate()
    p.wait()


def main():
    return run_checks([("clean_restart", lambda: check_restart(False)),
                       ("kill9", lambda: check_restart(True)),
                       ("large_library", check_large_library)], os.environ.get("SHALE_TEST_FILTER"))


if __name__ == "__main__":
    run_main(main)
