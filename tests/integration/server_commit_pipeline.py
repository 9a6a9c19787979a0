#!/usr/bin/python3
"""server_commit_pipeline.py - the commit pipeline of sync-writes yes (server/net/commit.c):
while one sync is in flight the loops run the next rounds and hold their replies.

The server runs with build/tests/libfail_fsync.so preloaded (tests/shim/fail_fsync.c),
which makes each fdatasync slower (SHALE_SLOW_FSYNC_MS) or fail (while a file exists).

- order: pipelining clients get every reply, in order, with the values the commands
  before it wrote (a held client's later commands run only after its replies go).
- reader: with a 300 ms sync, a reader on another connection never sees a write before
  the sync that makes it durable has ended: a GET sent during the sync is answered
  after it, and readers polling all along see the value only then.
- failure: 16 clients write while fdatasync starts failing: no SET sent after the
  failure was armed is acknowledged, every client gets an error, and after a restart
  every acknowledged SET is there.
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode, free_port  # noqa: E402
from lib.harness import BUILD, TMP, check, run_checks, run_main, start_server  # noqa: E402

SHIM = os.path.join(BUILD, "tests", "libfail_fsync.so")
ARM = os.path.join(TMP, "fail-fsync")


def start(name, slow_ms=0, shim=True, port=None):
    env = None
    if shim:
        env = {"LD_PRELOAD": os.path.abspath(SHIM), "SHALE_FAIL_FSYNC": ARM,
               "SHALE_SLOW_FSYNC_MS": str(slow_ms),
               "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    p, port, c = start_server(name, "--sync-writes", "yes", "--commit-pipeline", "yes",
                              "--io-threads", "2", port=port,
                              log=name + ".log", env=env, wait=20)
    return p, port, c


def stop(p, c):
    c.s.close()
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=60)


def run_threads(fns):
    errors = []

    def wrap(fn):
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)

    ts = [threading.Thread(target=wrap, args=(fn,)) for fn in fns]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    check(not errors, "a client thread failed: %r" % errors[:3])


def check_order():
    p, port, c = start("order", slow_ms=20)

    def client(i):
        conn = Conn(port)
        key = "ctr:%d" % i
        n = 0
        for _ in range(6):  # pipelines of 40 commands, sent at once
            cmds = []
            for _ in range(20):
                cmds.append(("incr", key))
                cmds.append(("get", key))
            conn.s.sendall(b"".join(encode(cmd) for cmd in cmds))
            for _ in range(20):
                n += 1
                r = conn.reply()
                check(r == (b":", str(n).encode()), "client %d: INCR reply %r, want %d" % (i, r, n))
                r = conn.reply()
                check(r == (b"$", str(n).encode()), "client %d: GET reply %r, want %d" % (i, r, n))
        conn.s.close()

    run_threads([lambda i=i: client(i) for i in range(8)])
    stop(p, c)


def check_reader():
    slow = 0.3
    p, port, c = start("reader", slow_ms=int(slow * 1000))
    check(c.call("set", "y", "1") == (b"+", b"OK"), "SET before")
    seen = []  # (sent, received, reply) of every reader GET
    stop_at = [None]

    def reader():
        conn = Conn(port)
        while stop_at[0] is None or time.time() < stop_at[0]:
            t = time.time()
            r = conn.call("get", "x")
            seen.append((t, time.time(), r))
            time.sleep(0.01)
        conn.s.close()

    ts = [threading.Thread(target=reader) for _ in range(4)]
    for t in ts:
        t.start()
    time.sleep(0.2)
    t0 = time.time()
    c.s.sendall(encode(["set", "x", "v"]))
    time.sleep(0.1)  # the SET has run: a GET now reads its value, during its sync
    late = Conn(port)
    r2 = late.call("get", "x")
    t2 = time.time()
    r = c.reply()
    t1 = time.time()
    stop_at[0] = time.time() + 0.5
    for t in ts:
        t.join(30)
    check(r == (b"+", b"OK"), "SET %r" % (r,))
    check(t1 - t0 >= slow * 0.9, "SET acknowledged after %.3f s, before its %.1f s sync"
          % (t1 - t0, slow))
    check(r2 == (b"$", b"v"), "GET during the sync: %r" % (r2,))
    check(t2 - t0 >= slow * 0.9, "GET during the sync answered after %.3f s, before the "
          "sync of the write it read ended" % (t2 - t0))
    early = [s for s in seen if s[2] == (b"$", b"v") and s[1] < t0 + slow * 0.9]
    check(not early, "a reader saw the write %.3f s after it ran, before its sync ended"
          % (early[0][1] - t0) if early else "")
    check(any(s[2] == (b"$", b"v") for s in seen), "no reader ever saw the write")
    stop(p, c)


def check_failure():
    p, port, c = start("failure", slow_ms=20)
    acked = []  # keys acknowledged with +OK
    late_ok = []  # keys sent after the failure was armed and acknowledged anyway
    errors = [0]
    armed_at = [None]
    lock = threading.Lock()

    def writer(i):
        conn = Conn(port)
        deadline = time.time() + 10
        j = 0
        while time.time() < deadline:
            key = "k:%d:%d" % (i, j)
            j += 1
            sent = time.time()
            try:
                r = conn.call("set", key, "v" * 100)
            except (OSError, EOFError):
                break
            with lock:
                if r == (b"+", b"OK"):
                    acked.append(key)
                    if armed_at[0] is not None and sent > armed_at[0]:
                        late_ok.append(key)
                else:
                    check(r[0] == b"-" and r[1].startswith(b"MISCONF"), "reply %r" % (r,))
                    errors[0] += 1
                    break
        conn.s.close()

    ts = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for t in ts:
        t.start()
    time.sleep(0.5)
    with lock:
        open(ARM, "w").close()
        armed_at[0] = time.time()
    for t in ts:
        t.join(60)
    check(not late_ok, "%d SETs sent after fdatasync started failing were acknowledged: %r"
          % (len(late_ok), late_ok[:3]))
    check(errors[0] == 16, "%d of 16 writers got an error" % errors[0])
    check(len(acked) > 16, "only %d SETs acknowledged before the failure" % len(acked))
    with open(os.path.join(TMP, "failure.log")) as f:
        check("fail_fsync: fdatasync" in f.read(), "the shim did not fail any fdatasync")
    os.unlink(ARM)
    stop(p, c)
    p, _, c = start("failure", shim=False, port=port)
    lost = [k for k in acked if c.call("exists", k) != (b":", b"1")]
    check(not lost, "%d acknowledged SETs lost after the failed sync: %r" % (len(lost), lost[:3]))
    stop(p, c)


def main():
    if not os.path.exists(SHIM):
        print("FAIL: %s missing (make builds it)" % SHIM)
        return 1
    only = sys.argv[1] if len(sys.argv) > 1 else None
    return run_checks([("order", check_order), ("reader", check_reader),
                       ("failure", check_failure)], only)


if __name__ == "__main__":
    run_main(main)
