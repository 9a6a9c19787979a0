#!/usr/bin/env python3
"""tool_backup.py - shale-tool backup of a running server's directory, and restore.

online-sync-{no,yes}: a server (small memtables, so flushes and compactions run; values
on both sides of value-threshold, so there are value-log segments; database 1 set to
fifo, so there is a fifo-<id> engine) takes writes from a writer thread into both
databases, one SET after the other. `shale-tool backup` runs in the middle of it; every
SET acknowledged before the tool started must be in the backup: the backup passes
`shale-tool check`, is restored into a new directory (which passes check too), and a
second server started there serves each of those keys with its value in both databases.
The tool prints progress lines and says it copied while a server ran.

offline: a backup of a stopped server's directory (taken under its lock), restored
with --link: the same keys.

refusals: restore refuses a backup with a flipped byte in a table (exit 1, the table
named), a DIR a server holds (exit 3), a DIR that is not empty without --force (exit 4);
with --force the old contents are kept in DIR.old-<time> and the backup is in DIR.
backup refuses a DEST that exists (exit 4).
"""
import os
import shutil
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.harness import BUILD, TMP, check, run_checks, start_server  # noqa: E402

TOOL = os.path.join(BUILD, "shale-tool")
FIFO_EVERY = 5  # one write in five also goes to database 1 (fifo)


def value(i):
    """Values on both sides of value-threshold 512: pointers into the value log too."""
    return ("v%d-" % i) * (10 if i % 3 else 300)


def tool(*args):
    p = subprocess.run([TOOL] + list(args), capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


class Writer(threading.Thread):
    """SETs k<i> in database 0 (and every FIFO_EVERY-th in database 1) one after the
    other; acked is the count acknowledged so far (every k<i>, i < acked, was)."""

    def __init__(self, port):
        super().__init__(daemon=True)
        from server_compare import Conn
        self.c0, self.c1 = Conn(port), Conn(port)
        check(self.c1.call("select", "1") == (b"+", b"OK"), "SELECT 1")
        self.acked = 0
        self.stop = False
        self.error = None

    def run(self):
        try:
            i = 0
            while not self.stop:
                check(self.c0.call("set", "k%d" % i, value(i)) == (b"+", b"OK"), "SET")
                if i % FIFO_EVERY == 0:
                    check(self.c1.call("set", "k%d" % i, value(i)) == (b"+", b"OK"), "SET db1")
                i += 1
                self.acked = i
        except Exception as e:  # noqa: BLE001 - reported by the test
            self.error = e


def check_keys(dirname, n):
    """A server on TMP/dirname serves k0..k<n-1> in database 0 and the fifo ones in 1."""
    p, port, c = start_server(dirname)
    try:
        for db in (0, 1):
            c.call("select", str(db))
            for i in range(0, n, 1 if db == 0 else FIFO_EVERY):
                got = c.call("get", "k%d" % i)
                check(got == (b"$", value(i).encode()), "%s: k%d in db%d (of %d acknowledged): "
                      "%s" % (dirname, i, db, n, repr(got)[:60]))
    finally:
        p.terminate()
        p.wait()


def check_clean(path):
    rc, out = tool("check", path)
    check(rc == 0 and "DAMAGED" not in out, "check %s: exit %d\n%s" % (path, rc, out))
    check(out.count("no damage found") == 2, "check covers the fifo engine: %s" % out)


def online(sync):
    name = "online-" + sync
    p, port, c = start_server(name, "--sync-writes", sync, "--memtable-size", "256kb",
                              "--value-threshold", "512", "--vlog-file-size", "1mb")
    check(c.call("config", "set", "db1-compaction-style", "fifo",
                 "db1-fifo-max-size", "256mb") == (b"+", b"OK"), "fifo db1")
    w = Writer(port)
    w.start()
    for _ in range(400):  # enough writes for flushes and compactions, however busy the box
        if w.acked >= 3000 or w.error:
            break
        time.sleep(0.05)
    acked = w.acked  # every SET before this was acknowledged before the tool starts
    backup = os.path.join(TMP, name + ".bak")
    rc, out = tool("backup", os.path.join(TMP, name), backup)
    at_end = w.acked
    while w.acked == at_end and w.error is None and w.is_alive():
        time.sleep(0.01)  # at least one write after the backup: the writer ran throughout
    w.stop = True
    w.join()
    check(w.error is None, "writer: %r" % w.error)
    check(rc == 0, "backup: exit %d\n%s" % (rc, out))
    check("100%" in out and "while a server ran" in out, "progress and mode: %s" % out)
    check(acked >= 1000 and w.acked > acked, "writes before and during: %d, %d" % (acked, w.acked))
    check(not os.path.exists(backup + ".backup-tmp"), "the temporary directory is gone")
    check_clean(backup)
    restored = os.path.join(TMP, name + ".restored")
    rc, out = tool("restore", backup, restored)
    check(rc == 0 and "restored" in out, "restore: exit %d\n%s" % (rc, out))
    check_clean(restored)
    check_keys(name + ".restored", acked)
    p.terminate()
    p.wait()


def offline():
    p, port, c = start_server("off", "--memtable-size", "256kb", "--value-threshold", "512")
    check(c.call("config", "set", "db1-compaction-style", "fifo") == (b"+", b"OK"), "fifo")
    w = Writer(port)
    w.start()
    time.sleep(0.8)
    w.stop = True
    w.join()
    p.terminate()
    p.wait()
    backup = os.path.join(TMP, "off.bak")
    rc, out = tool("backup", os.path.join(TMP, "off"), backup)
    check(rc == 0 and "while a server ran" not in out, "offline backup: %d\n%s" % (rc, out))
    rc, out = tool("restore", "--link", backup, os.path.join(TMP, "off.restored"))
    check(rc == 0 and " linked" in out, "restore --link: %d\n%s" % (rc, out))
    check_clean(os.path.join(TMP, "off.restored"))
    check_keys("off.restored", w.acked)
    rc, out = tool("backup", os.path.join(TMP, "off"), backup)
    check(rc == 4 and "exists" in out, "backup onto an existing DEST: %d\n%s" % (rc, out))


def refusals():
    p, port, c = start_server("ref", "--memtable-size", "256kb")
    for i in range(3000):
        c.call("set", "k%d" % i, value(i))
    c.call("save")
    backup = os.path.join(TMP, "ref.bak")
    rc, out = tool("backup", os.path.join(TMP, "ref"), backup)
    check(rc == 0, "backup: %d\n%s" % (rc, out))
    rc, out = tool("restore", backup, os.path.join(TMP, "ref"))
    check(rc == 3 and "in use" in out, "restore into a running server's DIR: %d\n%s" % (rc, out))
    p.terminate()
    p.wait()

    damaged = os.path.join(TMP, "ref.damaged")
    shutil.copytree(backup, damaged)
    sst = sorted(f for f in os.listdir(damaged) if f.endswith(".sst"))[0]
    path = os.path.join(damaged, sst)
    with open(path, "r+b") as f:
        f.seek(os.path.getsize(path) // 3)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xFF]))
    target = os.path.join(TMP, "ref.target")
    rc, out = tool("restore", damaged, target)
    check(rc == 1 and ("DAMAGED " + sst) in out and "not restored" in out,
          "restore of a damaged backup: %d\n%s" % (rc, out))
    check(not os.path.exists(target), "nothing made for a damaged backup")

    os.makedirs(target)
    with open(os.path.join(target, "keep-me"), "w") as f:
        f.write("old")
    rc, out = tool("restore", backup, target)
    check(rc == 4 and "not empty" in out, "restore into a non-empty DIR: %d\n%s" % (rc, out))
    check(os.listdir(target) == ["keep-me"] or sorted(os.listdir(target)) == ["LOCK", "keep-me"],
          "DIR untouched: %r" % os.listdir(target))
    rc, out = tool("restore", "--force", backup, target)
    check(rc == 0, "restore --force: %d\n%s" % (rc, out))
    aside = [d for d in os.listdir(TMP) if d.startswith("ref.target.old-")]
    check(len(aside) == 1 and os.path.exists(os.path.join(TMP, aside[0], "keep-me")),
          "old contents set aside: %r" % os.listdir(TMP))
    check_keys_main("ref.target", 3000)


def check_keys_main(dirname, n):
    p, port, c = start_server(dirname)
    try:
        for i in range(n):
            got = c.call("get", "k%d" % i)
            check(got == (b"$", value(i).encode()), "%s: k%d: %s" % (dirname, i, repr(got)[:60]))
    finally:
        p.terminate()
        p.wait()


def main():
    if not os.path.exists(TOOL):
        print("skip: %s missing" % TOOL)
        return 77
    return run_checks([("online-sync-no", lambda: online("no")),
                       ("online-sync-yes", lambda: online("yes")),
                       ("offline", offline),
                       ("refusals", refusals)], os.environ.get("SHALE_TEST_ONLY"))


if __name__ == "__main__":
    from lib.harness import run_main
    run_main(main)
