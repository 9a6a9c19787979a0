#!/usr/bin/env python3
"""pubsub_count.py - subscribers for vs-redis.sh's PUBLISH loads: opens `subs`
connections, subscribes each (RESP2) to its share of the channels, says "ready" on stdout,
then counts the messages delivered until none came for `idle` seconds, and prints
"<messages> <seconds from the first to the last> <messages/s>".

    pubsub_count.py PORT SUBS CHANNELS MSGLEN [IDLE]

CHANNELS 1: every subscriber listens to "ch" (each message reaches SUBS subscribers).
CHANNELS N > 1: the channels are ch:000000000000 .. ch:N-1 (redis-benchmark's
__rand_int__ with -r N), dealt round-robin over the subscribers (each message reaches
one). Every message of a channel has the same length, so messages are counted from the
bytes received (frame length known) without parsing: the counter costs the same whatever
the server, and little next to it.
"""
import selectors
import socket
import sys
import time


def encode(args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def frame_len(channel, msglen):
    c, m = len(channel), msglen
    return len(b"*3\r\n$7\r\nmessage\r\n") + len(b"$%d\r\n" % c) + c + 2 + len(b"$%d\r\n" % m) + m + 2


def main():
    port, nsubs, nch, msglen = (int(a) for a in sys.argv[1:5])
    idle = float(sys.argv[5]) if len(sys.argv) > 5 else 1.0
    names = [b"ch"] if nch == 1 else [b"ch:%012d" % i for i in range(nch)]
    socks = []
    for i in range(nsubs):
        s = socket.create_connection(("127.0.0.1", port))
        mine = names if nch == 1 else names[i::nsubs]
        s.sendall(encode([b"subscribe"] + mine))
        want = sum(len(b"*3\r\n$9\r\nsubscribe\r\n$%d\r\n%s\r\n:%d\r\n" % (len(n), n, k + 1))
                   for k, n in enumerate(mine))
        got = 0
        while got < want:
            got += len(s.recv(want - got))
        s.setblocking(False)
        socks.append(s)
    flen = frame_len(names[0], msglen)
    print("ready", flush=True)
    sel = selectors.DefaultSelector()
    for s in socks:
        sel.register(s, selectors.EVENT_READ)
    total, first, last = 0, None, None
    buf = bytearray(1 << 20)
    while True:
        events = sel.select(timeout=idle if first else 60)
        if not events:
            break
        now = time.monotonic()
        for key, _ in events:
            n = key.fileobj.recv_into(buf)
            if n == 0:
                sel.unregister(key.fileobj)
                continue
            total += n
            first = first or now
            last = now
    msgs = total // flen
    secs = (last - first) if first and last and last > first else 0.0
    print("%d %.3f %.0f" % (msgs, secs, msgs / secs if secs else 0), flush=True)


if __name__ == "__main__":
    main()
