#!/usr/bin/python3
"""server_shutdown.py - SIGTERM with connections in every state (issue 15, item 27).

Idle connections (a receive armed in the kernel), one that pipelines large replies and
never reads them (a send in flight on a full socket), one with half a request sent, on
both io threads: after SIGTERM the server must end every receive and send before it frees
the buffers they point into (and only then close its rings), exit 0 promptly, and have
kept the data. Before the fix it freed the buffers of connections whose operations were
still in flight (the server logs "... in flight at shutdown" when that happens).
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode, free_port  # noqa: E402
from lib.harness import TMP, check, run_main, start_server  # noqa: E402


def start(port):
    p, _, c = start_server("data", "--io-threads", "2", port=port, log="server.log", wait=20)
    return p, c


def read_log():
    with open(os.path.join(TMP, "server.log")) as f:
        return f.read()


def main():
    port = free_port()
    p, c = start(port)
    big = b"x" * (1 << 20)
    check(c.call("set", "big", big) == (b"+", b"OK"), "SET big")
    idle = [Conn(port) for _ in range(16)]
    for o in idle:
        check(o.call("ping") == (b"+", b"PONG"), "PING")
    # a reader that does not read: 64 MiB of replies asked for, the socket fills up
    stuck = socket.create_connection(("127.0.0.1", port))
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.sendall(encode(["get", "big"]) * 64)
    # half a request
    half = socket.create_connection(("127.0.0.1", port))
    half.sendall(b"*3\r\n$3\r\nset\r\n$1\r\nh\r\n$10\r\nabc")
    time.sleep(0.5)  # the server has run what it got and is blocked on the full socket
    t0 = time.time()
    p.send_signal(signal.SIGTERM)
    rc = p.wait(timeout=60)
    took = time.time() - t0
    log = read_log()
    print("exit %d after %.2f s" % (rc, took))
    check(rc == 0, "exit status %d after SIGTERM (log: %s)" % (rc, log[-500:]))
    check("in flight at shutdown" not in log,
          "buffers freed while the kernel could still use them: %s" %
          [l for l in log.splitlines() if "in flight" in l])
    check(took < 20, "shutdown took %.1f s" % took)
    for s in [c.s, stuck, half] + [o.s for o in idle]:
        s.close()

    # restart: the data is there
    p, c = start(port)
    check(c.call("get", "big") == (b"$", big), "big after restart")
    c.s.close()
    p.send_signal(signal.SIGTERM)
    check(p.wait(timeout=60) == 0, "second shutdown")
    return 0


if __name__ == "__main__":
    run_main(main)
