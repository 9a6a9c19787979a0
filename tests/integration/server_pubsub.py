#!/usr/bin/python3
"""server_pubsub.py - pub/sub delivery on a server with two io threads: subscribers and
publishers spread over both event loops (SO_REUSEPORT), each subscriber gets every
message of every publisher, each publisher's in its order; a stalled subscriber (it never
reads) is cut at the pubsub class's output limit (hard, then soft after its seconds)
while the publisher keeps publishing and the other subscribers keep receiving;
subscribers that close (or are closed) leave every channel, pattern and shard channel;
CLIENT LIST's sub= psub= ssub= and flag P; subscribers never time out; CONFIG
SET/GET client-output-buffer-limit pubsub; the Prometheus counters.

Run: tests/integration/server_pubsub.py [name-substring]
"""
import os
import socket
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn, encode, free_port  # noqa: E402
from lib.harness import check, run_checks, run_main, start_server  # noqa: E402

STATE = {}


def server():
    """The shared server: two io threads, a metrics port."""
    if "port" not in STATE:
        STATE["mport"] = free_port()
        _, port, _ = start_server("data", "--io-threads", "2", "--sync-writes", "no",
                                  "--metrics-port", str(STATE["mport"]))
        STATE["port"] = port
    return STATE["port"]


def send(c, *args):
    c.s.sendall(encode(args))


def subscriber(port, proto, *cmd):
    """A connection subscribed with cmd (its confirmations read)."""
    c = Conn(port)
    if proto == 3:
        c.call("hello", "3")
    send(c, *cmd)
    for _ in cmd[1:]:
        r = c.reply()
        check(r[0] in (b"*", b">") and r[1][0][1].endswith(b"subscribe"), "confirmation %r" % (r,))
    return c


def wait_for(cond, what, secs=10):
    end = time.time() + secs
    while time.time() < end:
        if cond():
            return
        time.sleep(0.05)
    check(False, what)


def numsub(admin, ch):
    return int(admin.call("pubsub", "numsub", ch)[1][1][1])


def publish_many(port, prefix, channel, n, size=0, window=500):
    """Publishes n messages "prefix:i" (padded to size) with up to window in flight; the
    replies."""
    c = Conn(port)
    replies = []
    pad = b"x" * size
    sent = 0
    while sent < n or len(replies) < n:
        batch = b""
        while sent < n and sent - len(replies) < window:
            batch += encode(["publish", channel, b"%s:%d:%s" % (prefix, sent, pad)])
            sent += 1
        if batch:
            c.s.sendall(batch)
        replies.append(c.reply())
    c.s.close()
    return replies


def test_delivery_across_loops():
    port = server()
    admin = Conn(port)
    subs = [subscriber(port, 2 + i % 2, "subscribe", "ch") for i in range(8)]
    subs += [subscriber(port, 2 + i % 2, "psubscribe", "c?") for i in range(2)]
    n, pubs = 2000, 4
    results = {}
    threads = [threading.Thread(target=lambda i=i: results.__setitem__(
        i, publish_many(port, b"p%d" % i, "ch", n))) for i in range(pubs)]
    got = [[] for _ in subs]

    def read(i):
        for _ in range(n * pubs):
            t, v = subs[i].reply()
            got[i].append(v[-1][1])
    readers = [threading.Thread(target=read, args=(i,)) for i in range(len(subs))]
    for t in readers + threads:
        t.start()
    for t in threads + readers:
        t.join(120)
    for i in range(pubs):
        check(all(r == (b":", b"10") for r in results[i]),
              "PUBLISH replies: %r" % sorted(set(results[i]))[:3])
    for i, msgs in enumerate(got):
        check(len(msgs) == n * pubs, "subscriber %d got %d of %d" % (i, len(msgs), n * pubs))
        for p in range(pubs):
            seq = [int(m.split(b":")[1]) for m in msgs if m.startswith(b"p%d:" % p)]
            check(seq == list(range(n)), "subscriber %d: publisher %d's messages out of order"
                  % (i, p))
    for s in subs:
        check(s.call("ping")[0] in (b"*", b"+"), "nothing left after the messages")
        s.s.close()
    wait_for(lambda: numsub(admin, "ch") == 0, "closed subscribers left ch")
    check(admin.call("pubsub", "numpat") == (b":", b"0"), "closed subscribers left c?")


def stalled_subscriber(port, channel):
    """A subscriber with a small receive buffer that never reads after its confirmation."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(encode(["client", "id"]) + encode(["subscribe", channel]))
    time.sleep(0.2)
    data = s.recv(4096)
    cid = int(data.split(b"\r\n")[0][1:])
    return s, cid


def client_ids(admin):
    text = admin.call("client", "list")[1].decode()
    return {int(ln.split("id=")[1].split(" ")[0]) for ln in text.splitlines() if ln}


def test_stalled_subscriber_cut_at_hard_limit():
    port = server()
    admin = Conn(port)
    check(admin.call("config", "set", "client-output-buffer-limit", "pubsub 2mb 0 0")
          == (b"+", b"OK"), "CONFIG SET the pubsub class")
    stalled, cid = stalled_subscriber(port, "big")
    good = [subscriber(port, 2 + i % 2, "subscribe", "big") for i in range(2)]
    n, size = 20000, 1000  # 20 MB: far past the limit and the socket buffers
    counts = [0, 0]

    def read(i):
        for _ in range(n):
            good[i].reply()
            counts[i] += 1
    readers = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for t in readers:
        t.start()
    t0 = time.time()
    replies = publish_many(port, b"b", "big", n, size)
    dt = time.time() - t0
    for t in readers:
        t.join(60)
    check(counts == [n, n], "the other subscribers got %r of %d" % (counts, n))
    check(cid not in client_ids(admin), "the stalled subscriber was not closed")
    check(replies[-1] == (b":", b"2"), "the last PUBLISH reached %r" % (replies[-1],))
    print("     %d x %d-byte messages published in %.2f s past a stalled subscriber"
          % (n, size, dt))
    check(numsub(admin, "big") == 2, "the closed subscriber left the channel")
    stalled.close()
    for g in good:
        g.s.close()
    admin.call("config", "set", "client-output-buffer-limit", "pubsub 32mb 8mb 60")


def test_stalled_subscriber_cut_at_soft_limit():
    port = server()
    admin = Conn(port)
    admin.call("config", "set", "client-output-buffer-limit", "pubsub 0 256kb 1")
    stalled, cid = stalled_subscriber(port, "soft")
    good = subscriber(port, 2, "subscribe", "soft")
    count = [0]

    def read():
        for _ in range(8010):
            good.reply()
            count[0] += 1
    reader = threading.Thread(target=read)
    reader.start()
    # over the soft limit at once, then still over it more than a second later
    publish_many(port, b"s", "soft", 8000, 1000)
    check(cid in client_ids(admin), "closed before its soft limit's second")
    time.sleep(1.3)
    publish_many(port, b"t", "soft", 10, 10)
    wait_for(lambda: cid not in client_ids(admin), "not closed past its soft limit's second")
    reader.join(30)
    check(count[0] == 8010, "the reading subscriber got %d of 8010" % count[0])
    stalled.close()
    good.s.close()
    admin.call("config", "set", "client-output-buffer-limit", "pubsub 32mb 8mb 60")


def test_config_get_set_pubsub_class():
    port = server()
    admin = Conn(port)
    r = admin.call("config", "get", "client-output-buffer-limit")
    check(r[1][1][1] == b"normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
          "defaults %r" % (r,))
    check(admin.call("config", "set", "client-output-buffer-limit", "pubsub 1mb 512kb 5")
          == (b"+", b"OK"), "set")
    r = admin.call("config", "get", "client-output-buffer-limit")
    check(r[1][1][1].endswith(b"pubsub 1048576 524288 5"), "after set %r" % (r,))
    check(admin.call("config", "set", "client-output-buffer-limit", "pubsub 1mb")[0] == b"-",
          "a short group is refused")
    admin.call("config", "set", "client-output-buffer-limit", "pubsub 32mb 8mb 60")


def test_closed_subscribers_leave_everything():
    port = server()
    admin = Conn(port)
    subs = []
    for i in range(6):
        c = subscriber(port, 2 + i % 2, "subscribe", "a%d" % i, "shared")
        send(c, "psubscribe", "pat%d*" % i, "pat*")
        c.reply(), c.reply()
        send(c, "ssubscribe", "s%d" % i)
        c.reply()
        subs.append(c)
    info = admin.call("info", "stats")[1].decode()
    check("pubsub_channels:7\r\npubsub_patterns:7\r\npubsubshard_channels:6" in info,
          "INFO while subscribed: %s" % [ln for ln in info.split("\r\n") if "pubsub" in ln])
    # a publish queued to a subscriber of the other loop just before it goes
    send(admin, "publish", "shared", "last")
    admin.reply()
    for c in subs:
        c.s.close()
    wait_for(lambda: admin.call("pubsub", "channels") == (b"*", []), "channels left")
    check(admin.call("pubsub", "numpat") == (b":", b"0"), "patterns left")
    check(admin.call("pubsub", "shardchannels") == (b"*", []), "shard channels left")
    check(admin.call("publish", "shared", "x") == (b":", b"0"), "a publish after")
    info = admin.call("info", "stats")[1].decode()
    check("pubsub_channels:0\r\npubsub_patterns:0\r\npubsubshard_channels:0" in info,
          "INFO after")


def test_client_list_fields_and_no_timeout():
    port = server()
    admin = Conn(port)
    c = subscriber(port, 3, "subscribe", "x", "y")
    send(c, "psubscribe", "z*")
    c.reply()
    send(c, "ssubscribe", "s")
    c.reply()
    info = c.call("client", "info")[1].decode()
    check(" flags=P " in info and " sub=2 psub=1 ssub=1 " in info, "CLIENT INFO: %s" % info)
    ids = lambda t: {ln.split(" ")[0] for ln in  # noqa: E731
                     admin.call("client", "list", "type", t)[1].decode().splitlines()}
    mine = c.call("client", "info")[1].decode().split(" ")[0].replace("txt:", "")
    check(mine in ids("pubsub") and mine not in ids("normal"), "CLIENT LIST TYPE pubsub")
    check(admin.call("client", "info")[1].decode().split(" ")[0] in ids("normal"),
          "CLIENT LIST TYPE normal")
    other = subscriber(port, 2, "psubscribe", "k*")  # noqa: F841 (kept open)
    r = admin.call("client", "kill", "type", "pubsub", "skipme", "yes")
    check(r == (b":", b"2"), "CLIENT KILL TYPE pubsub: %r" % (r,))
    c = subscriber(port, 3, "subscribe", "x", "y")
    send(c, "psubscribe", "z*")
    c.reply()
    send(c, "ssubscribe", "s")
    c.reply()
    plain = Conn(port)
    check(" flags=N " in plain.call("client", "info")[1].decode() and
          " sub=0 psub=0 ssub=0 " in plain.call("client", "info")[1].decode(), "a plain client")
    admin.call("config", "set", "timeout", "1")
    time.sleep(2.5)
    try:
        plain.call("ping")
        check(False, "an idle plain client was not closed")
    except (EOFError, OSError):
        pass
    check(c.call("ping") == (b"+", b"PONG"), "a subscriber was closed by timeout")
    admin = Conn(port)
    admin.call("config", "set", "timeout", "0")
    send(c, "unsubscribe")
    c.reply(), c.reply()
    info = c.call("client", "info")[1].decode()
    check(" flags=P " in info and " sub=0 psub=1 ssub=1 " in info, "after UNSUBSCRIBE: %s" % info)
    c.s.close()


def test_metrics_counters():
    port = server()
    admin = Conn(port)

    def scrape():
        body = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % STATE["mport"],
                                      timeout=10).read().decode()
        return {ln.split(" ")[0]: float(ln.split(" ")[1]) for ln in body.splitlines()
                if ln.startswith("shale_pubsub")}
    before = scrape()
    subs = [subscriber(port, 2, "subscribe", "m") for _ in range(3)]
    for _ in range(5):
        admin.call("publish", "m", "x")
    admin.call("publish", "nobody", "x")
    after = scrape()
    check(after["shale_pubsub_published_total"] - before["shale_pubsub_published_total"] == 6,
          "published %r -> %r" % (before, after))
    check(after["shale_pubsub_delivered_total"] - before["shale_pubsub_delivered_total"] == 15,
          "delivered %r -> %r" % (before, after))
    check(after['shale_pubsub_subscriptions{kind="channel"}'] == 1, "channels %r" % after)
    for s in subs:
        s.s.close()


CHECKS = [(name[5:], fn) for name, fn in sorted(globals().items()) if name.startswith("test_")]


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None
    return run_checks(CHECKS, only)


if __name__ == "__main__":
    run_main(main)
