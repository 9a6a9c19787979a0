#!/usr/bin/python3
"""server_diskfull.py - shale-server on a disk that fills up (a small tmpfs): writes get
-MISCONF (never a lost acknowledged write, never -BUSY), reads go on, INFO says so, and
writes work again once space returns, without a restart. Then a kill -9 and restart
must find every acknowledged write.

Two ways a disk fills: under ordinary writes (the log's preallocated room runs out at a
memtable switch and flushes fail: each write gets the error until space returns), and a
write that no longer fits into the log's preallocated room (a torn record: the engine
refuses writes until shale_resume, which server_cron calls once a second, cuts it).

Needs root to mount the tmpfs; exits 77 (skip) where mounting is not allowed.
"""
import os
import random
import signal
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode, free_port  # noqa: E402
from lib.harness import TMP, check, run_main, start_server  # noqa: E402

MNT = os.path.join(TMP, "disk")
DISK_MB = 48


def start(port, sync):
    p, _, c = start_server(os.path.join(MNT, "data"), "--sync-writes", sync, "--memtable-size",
                           "1mb", "--vlog-file-size", "64mb", "--vlog-gc-interval", "0",
                           port=port, log="server-%s.log" % sync)
    return p, c


def fill(path):
    """Writes zeros into path until the disk is full; returns the bytes written."""
    n = 0
    with open(path, "wb", buffering=0) as f:
        block = b"\0" * (256 << 10)
        while True:
            try:
                n += f.write(block)
            except OSError:
                break
        # the last partial block: fill page by page
        try:
            while True:
                n += f.write(b"\0" * 4096)
        except OSError:
            pass
    return n


def set_until_ok(c, key, value, what):
    """SET until it succeeds (the server retries on its own), for at most 15 s."""
    deadline = time.time() + 15
    while True:
        r = c.call("set", key, value)
        if r == (b"+", b"OK") or time.time() > deadline:
            break
        time.sleep(0.1)
    check(r == (b"+", b"OK"), "%s: %r" % (what, r))


def info_field(c, section, name):
    r = c.call("info", section)
    for line in r[1].decode().split("\r\n"):
        if line.startswith(name + ":"):
            return line.split(":", 1)[1]
    return None


def run(sync):
    """One pass on a fresh tmpfs with sync-writes `sync`."""
    os.makedirs(MNT)
    if subprocess.call(["mount", "-t", "tmpfs", "-o", "size=%dm" % DISK_MB, "tmpfs", MNT],
                       stderr=subprocess.DEVNULL) != 0:
        print("cannot mount a tmpfs here (needs root with CAP_SYS_ADMIN)")
        return 77
    print("-- sync-writes %s" % sync)
    proc = None
    try:
        port = free_port()
        proc, c = start(port, sync)
        rnd = random.Random(7)
        acked = {}
        # Most of the disk goes to a filler file that can be given back later.
        filler = os.path.join(MNT, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * ((DISK_MB - 16) << 20))

        # 1. Ordinary writes until the disk is full.
        errors = []
        i = 0
        while len(errors) < 50 and i < 100000:
            batch = []
            for _ in range(16):
                k, v = b"k%06d" % i, rnd.randbytes(4096)
                i += 1
                batch.append((k, v))
            try:
                c.s.sendall(b"".join(encode([b"set", k, v]) for k, v in batch))
                for k, v in batch:
                    r = c.reply()
                    if r == (b"+", b"OK"):
                        acked[k] = v
                    else:
                        errors.append(r)
            except (OSError, EOFError):
                # a failed log flush closes the round's connections (their replies were
                # errors); the outcome of those writes is unknown, as after a timeout
                c = Conn(port)
        check(len(acked) > 100, "only %d writes before the disk filled" % len(acked))
        check(all(e[0] == b"-" and e[1].startswith(b"MISCONF Errors writing to disk: No space")
                  for e in errors), "writes on a full disk: %r" % errors[:3])
        print("ok   full disk under writes: %d acknowledged, then %r" % (len(acked), errors[0][1][:60]))
        check(info_field(c, "persistence", "aof_last_write_status") == "err",
              "INFO persistence does not say the last write failed")
        # reads go on
        for k in rnd.sample(sorted(acked), 50):
            check(c.call("get", k) == (b"$", acked[k]), "GET %r on a full disk" % k)
        check(c.call("dbsize")[0] == b":", "DBSIZE on a full disk")
        # a function library is written with the data: refused as a write (MISCONF, and
        # then not loaded), or written when its small record still fits
        r = c.call("function", "load",
                   "#!lua name=full\nredis.register_function('full', function() return 1 end)")
        listed = c.call("function", "list")[1]
        check((r[0] == b"-" and r[1].startswith(b"MISCONF") and listed == []) or
              (r == (b"$", b"full") and len(listed) == 1),
              "FUNCTION LOAD on a full disk: %r, then %d libraries" % (r, len(listed)))
        print("ok   reads served on a full disk")

        # 2. Space returns: writes go on without a restart.
        os.unlink(filler)
        set_until_ok(c, "after-space", "1", "writes did not come back after space returned")
        acked[b"after-space"] = b"1"
        check(info_field(c, "persistence", "aof_last_write_status") == "ok",
              "INFO still says err after a successful write")
        print("ok   writes accepted again once space returned")

        # 3. A record that no longer fits the log's preallocated room: a torn write.
        check(c.call("save") == (b"+", b"OK"), "SAVE")  # memtables flushed, a fresh log
        fill(filler)
        big = rnd.randbytes(3 << 20)
        # pipelined: the SET after the torn one runs before server_cron can resume
        c.s.sendall(encode([b"set", b"big", big]) + encode([b"set", b"small", b"1"]))
        r, r2 = c.reply(), c.reply()
        check(r[0] == b"-" and r[1].startswith(b"MISCONF"), "a 3 MiB SET on a full disk: %r" % (r[:1],))
        # Refused up front; or, when resume already ran, the cut gave back room for it.
        check(r2[0] == b"-" and r2[1].startswith(b"MISCONF") or r2 == (b"+", b"OK"),
              "a write after the torn write: %r" % (r2,))
        refused_small = r2[0] == b"-"
        if not refused_small:
            acked[b"small"] = b"1"
        for k in rnd.sample(sorted(acked), 50):
            check(c.call("get", k) == (b"$", acked[k]), "GET %r after the torn write" % k)
        check(c.call("get", "big") == (b"$", None), "the failed SET is visible")
        print("ok   a torn log write: MISCONF, the next write %s, reads go on" %
              ("refused" if refused_small else "accepted (resume had made room)"))
        os.unlink(filler)
        set_until_ok(c, "after-resume", "2", "writes did not come back after resume")
        acked[b"after-resume"] = b"2"
        check(c.call("set", "big", big) == (b"+", b"OK"), "the 3 MiB SET once space is back")
        acked[b"big"] = big
        print("ok   writes accepted again after the log was made whole (no restart)")

        # 4. kill -9 and restart: every acknowledged write is there.
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc, c = start(port, sync)
        missing = [k for k, v in acked.items() if c.call("get", k) != (b"$", v)]
        check(not missing, "%d acknowledged writes lost, e.g. %r" % (len(missing), missing[:3]))
        if refused_small:
            check(c.call("get", "small") == (b"$", None), "a refused write was applied")
        print("ok   after kill -9 and restart: all %d acknowledged writes present" % len(acked))
        proc.terminate()
        proc.wait()
        proc = None
        return 0
    finally:
        if proc:
            proc.kill()
            proc.wait()
        if os.path.exists(os.path.join(MNT, "data", "LOG")):  # the engine's log, to look at
            shutil.copy(os.path.join(MNT, "data", "LOG"), os.path.join(TMP, "LOG-" + sync))
        subprocess.call(["umount", MNT])
        os.rmdir(MNT)


def main():
    for sync in ("yes", "no"):
        rc = run(sync)
        if rc:
            return rc
    return 0


if __name__ == "__main__":
    run_main(main)
