"""repl.py - what the replication tests share: INFO sections as dicts, and waiting for a
condition."""
import time


def info(c, section="replication"):
    """INFO section of connection c as {field: value}."""
    out = {}
    for line in c.call("info", section)[1].decode().split("\r\n"):
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v
    return out


def wait_for(fn, what, timeout=15):
    """Polls fn() until it is true; AssertionError naming `what` after timeout seconds."""
    end = time.time() + timeout
    while time.time() < end:
        if fn():
            return
        time.sleep(0.05)
    raise AssertionError("timed out: " + what)
