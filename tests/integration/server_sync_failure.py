#!/usr/bin/python3
"""server_sync_failure.py - with sync-writes yes, a write whose fdatasync failed is never
acknowledged, and no client sees its data afterwards (issue 15, item 12).

The server runs with build/tests/libfail_fsync.so preloaded (tests/shim/fail_fsync.c):
fdatasync and fsync fail with EIO while a file exists. With the failure armed, a SET
must get an error reply (not +OK), and the connections of every io thread must get
errors for reads (GET of the unsynced key and of older ones, DBSIZE) and PING: the
write may be lost by a crash, so no reply may show it. Other commands (INFO, CONFIG
GET) go on. The engine refuses writes until a restart after a failed sync, so the
refusal stays after the failure is lifted; after a restart every write acknowledged
before the failure is there.

Before the fix the SET got +OK (the round's replies were not turned into errors) and
a GET on any connection returned the value.
"""
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, free_port  # noqa: E402
from lib.harness import BUILD, TMP, check, run_main, start_server  # noqa: E402

SHIM = os.path.join(BUILD, "tests", "libfail_fsync.so")
ARM = os.path.join(TMP, "fail-fsync")


def start(port, shim):
    env = None
    if shim:
        env = {"LD_PRELOAD": os.path.abspath(SHIM), "SHALE_FAIL_FSYNC": ARM,
               # an ASan build wants its runtime first; the shim only wraps three calls
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    p, _, c = start_server("data", "--sync-writes", "yes", "--io-threads", "2", port=port,
                           log="server.log", env=env, wait=20)
    return p, c


def stop(p, c):
    c.s.close()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)


def is_error(r):
    return r[0] == b"-"


def main():
    if not os.path.exists(SHIM):
        print("FAIL: %s missing (make builds it)" % SHIM)
        return 1
    port = free_port()
    p, c = start(port, shim=True)
    check(c.call("set", "a", "1") == (b"+", b"OK"), "SET before the failure")
    # connections spread over both io threads (SO_REUSEPORT): reads must fail on each
    others = [Conn(port) for _ in range(8)]
    for o in others:
        check(o.call("get", "a") == (b"$", b"1"), "GET before the failure")

    open(ARM, "w").close()  # fdatasync fails from now on
    r = c.call("set", "b", "2")
    print("SET with a failing fdatasync:", r)
    check(is_error(r), "SET acknowledged although its fdatasync failed: %r" % (r,))
    check(r[1].startswith(b"MISCONF"), "SET error %r" % (r,))

    for i, o in enumerate(others):
        for cmd in (("get", "b"), ("get", "a"), ("dbsize",), ("ping",)):
            r = o.call(*cmd)
            check(is_error(r) and r[1].startswith(b"MISCONF"),
                  "connection %d: %s after the failed sync: %r" % (i, " ".join(cmd), r))
    info = others[0].call("info", "persistence")
    check(info[0] == b"$" and b"shale_sync_failures:0" not in info[1], "INFO: %r" % (info,))
    check(others[0].call("config", "get", "sync-writes")[0] == b"*", "CONFIG GET")

    os.unlink(ARM)  # the disk works again, but what the failed sync lost is unknown
    time.sleep(1.5)  # a second's resume attempt by the server's cron
    for cmd in (("get", "b"), ("set", "c", "3")):
        r = others[1].call(*cmd)
        check(is_error(r), "%s after the failure was lifted: %r" % (" ".join(cmd), r))
    with open(os.path.join(TMP, "server.log")) as f:
        log = f.read()
    check("fail_fsync: fdatasync" in log, "the shim did not fail any fdatasync")
    for o in others:
        o.s.close()
    stop(p, c)

    p, c = start(port, shim=False)
    check(c.call("get", "a") == (b"$", b"1"), "acknowledged SET lost after restart")
    check(c.call("set", "d", "4") == (b"+", b"OK"), "SET after restart")
    stop(p, c)
    return 0


if __name__ == "__main__":
    run_main(main)
