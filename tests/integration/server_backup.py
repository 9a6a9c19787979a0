#!/usr/bin/env python3
"""server_backup.py - BGSAVE makes a checkpoint of the whole data directory in backup-dir.

A server with database 0 in the main engine and database 1 set to fifo takes writes in
both; BGSAVE runs in the background (INFO persistence shows it in Redis 7.0's fields:
rdb_bgsave_in_progress, rdb_last_bgsave_status, rdb_saves, rdb_changes_since_last_save,
rdb_last_bgsave_time_sec; LASTSAVE moves); the default backup-dir is "<dir>.backup" and
holds the main engine and a fifo-<id> directory. More writes and a second BGSAVE replace
the backup atomically. A second server started on a copy of the backup serves every
write made before the second BGSAVE, in both databases, and none made after it.
"""
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lib.harness import TMP, check, run_main, start_server  # noqa: E402


def info_persistence(c):
    r = c.call("info", "persistence")
    check(r[0] == b"$", "INFO persistence: %r" % (r,))
    out = {}
    for line in r[1].decode().splitlines():
        if ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


def bgsave(c):
    r = c.call("bgsave")
    check(r == (b"+", b"Background saving started"), "BGSAVE: %r" % (r,))
    for _ in range(400):
        p = info_persistence(c)
        if p["rdb_bgsave_in_progress"] == "0":
            return p
        time.sleep(0.05)
    raise AssertionError("BGSAVE did not finish")


def write(c, db, lo, hi, tag):
    c.call("select", str(db))
    for i in range(lo, hi):
        check(c.call("set", "k%d" % i, "%s%d" % (tag, i) * 20) == (b"+", b"OK"), "SET")


def main():
    p, port, c = start_server("data", "--sync-writes", "no", "--memtable-size", "256kb")
    check(c.call("config", "set", "db1-compaction-style", "fifo",
                 "db1-fifo-max-size", "64mb") == (b"+", b"OK"), "fifo db1")
    before = info_persistence(c)
    for f in ("rdb_changes_since_last_save", "rdb_bgsave_in_progress", "rdb_last_save_time",
              "rdb_last_bgsave_status", "rdb_last_bgsave_time_sec",
              "rdb_current_bgsave_time_sec", "rdb_saves"):
        check(f in before, "INFO persistence lacks %s" % f)
    check(before["rdb_last_bgsave_time_sec"] == "-1" and before["rdb_saves"] == "0",
          "before any save: %r" % before)
    lastsave0 = c.call("lastsave")[1]

    write(c, 0, 0, 3000, "a")
    write(c, 1, 0, 500, "f")
    check(int(info_persistence(c)["rdb_changes_since_last_save"]) >= 3500, "changes counted")
    time.sleep(1.1)  # LASTSAVE has a resolution of a second
    p1 = bgsave(c)
    check(p1["rdb_last_bgsave_status"] == "ok" and p1["rdb_saves"] == "1", "first: %r" % p1)
    check(p1["rdb_changes_since_last_save"] == "0", "changes after save: %r" % p1)
    check(int(p1["rdb_last_bgsave_time_sec"]) >= 0, "duration: %r" % p1)
    check(c.call("lastsave")[1] > lastsave0, "LASTSAVE moved")
    backup = os.path.join(TMP, "data.backup")
    check(os.path.exists(os.path.join(backup, "CURRENT")), "backup-dir holds the main engine")
    fifo = [d for d in os.listdir(backup) if d.startswith("fifo-")]
    check(len(fifo) == 1 and os.path.exists(os.path.join(backup, fifo[0], "CURRENT")),
          "backup-dir holds the fifo engine: %r" % os.listdir(backup))

    write(c, 0, 0, 1000, "b")  # overwrites
    write(c, 0, 3000, 4000, "a")
    write(c, 1, 500, 700, "f")
    p2 = bgsave(c)
    check(p2["rdb_saves"] == "2" and p2["rdb_last_bgsave_status"] == "ok", "second: %r" % p2)
    check(not os.path.exists(backup + ".tmp"), "the previous backup is gone")
    write(c, 0, 0, 10, "after")

    restored = os.path.join(TMP, "restored")
    shutil.copytree(backup, restored)
    p3, port3, c3 = start_server("restored")
    c3.call("select", "0")
    for i in range(4000):
        want = ("b%d" if i < 1000 else "a%d") % i * 20
        got = c3.call("get", "k%d" % i)
        check(got == (b"$", want.encode()), "k%d in db0: %r" % (i, got))
    c3.call("select", "1")
    for i in range(700):
        got = c3.call("get", "k%d" % i)
        check(got == (b"$", ("f%d" % i * 20).encode()), "k%d in fifo db1: %r" % (i, got))
    p3.terminate()
    p3.wait()
    p.terminate()
    p.wait()
    return 0


if __name__ == "__main__":
    run_main(main)
