#!/usr/bin/python3
"""server_queue.py - a work queue on one list: 4 producers LPUSH unique ids, 4 consumers
BRPOP them, each on its own connection.

Steady run (sync-writes no): producers offer RATE ids/s in all for SECONDS; every id must
be delivered exactly once, every consumer must get a fair part (at least a tenth of what
an even split gives it: none starves), the list's length (sampled every 0.1 s) must stay
under one second of production, and the ids delivered per second over the last quarter
of the run (last 5 minutes in a long run) must be at least 0.8x those over the first:
popped elements leave tombstones behind the list's head, which must not slow the queue.

Crash run (sync-writes yes): the same load for a few seconds, then kill -9 of the server,
a restart on the same directory, and the consumers drain what is left. BRPOP is
at-most-once across a crash: an element whose pop was durable but whose reply never
reached its consumer is gone. So, checked: no id is delivered twice (a pop acknowledged
before the crash is durable: its id never comes back); every id whose LPUSH was
acknowledged is delivered, except at most one per consumer (the pops whose replies the
crash cut off); ids pushed without an acknowledgement may or may not come.

Long mode for the lead: SHALE_QUEUE_SECONDS=1800 (and SHALE_QUEUE_RATE=N ids/s, default
4000) tests/integration/server_queue.py; make test runs the defaults (20 s + ~8 s).
"""
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import Conn  # noqa: E402
from lib.harness import check, run_main, start_server  # noqa: E402

SECONDS = float(os.environ.get("SHALE_QUEUE_SECONDS", "20"))
RATE = float(os.environ.get("SHALE_QUEUE_RATE", "4000"))
PRODUCERS = CONSUMERS = 4
QUEUE = "queue"


class Producer(threading.Thread):
    """LPUSHes ids p<n>-<seq> at rate ids/s until stop is set or the server goes."""

    def __init__(self, port, n, rate, stop):
        super().__init__(daemon=True)
        self.port, self.n, self.rate, self.stop = port, n, rate, stop
        self.acked, self.sent = [], []
        self.max_len = 0

    def run(self):
        c = Conn(self.port)
        t0, seq = time.time(), 0
        while not self.stop.is_set():
            ahead = seq / self.rate - (time.time() - t0)
            if ahead > 0:
                time.sleep(ahead)
            v = "p%d-%d" % (self.n, seq)
            self.sent.append(v)
            try:
                r = c.call("lpush", QUEUE, v)
            except (OSError, EOFError):
                return
            if r[0] != b":":
                raise RuntimeError("LPUSH: %r" % (r,))
            self.acked.append(v)
            self.max_len = max(self.max_len, int(r[1]))
            seq += 1


class Consumer(threading.Thread):
    """BRPOPs until stop is set and the queue is drained, or the server goes."""

    def __init__(self, port, stop):
        super().__init__(daemon=True)
        self.port, self.stop = port, stop
        self.got = []  # (time, id)
        self.error = None

    def run(self):
        try:
            c = Conn(self.port)
            while True:
                r = c.call("brpop", QUEUE, "0.2")
                if r == (b"*", None):
                    if self.stop.is_set():
                        return
                    continue
                if r[0] != b"*" or r[1][0][1] != QUEUE.encode():
                    self.error = "BRPOP: %r" % (r,)
                    return
                self.got.append((time.time(), r[1][1][1].decode()))
        except (OSError, EOFError):
            return


def sample_lengths(port, stop, out):
    c = Conn(port)
    while not stop.is_set():
        try:
            out.append(int(c.call("llen", QUEUE)[1]))
        except (OSError, EOFError):
            return
        time.sleep(0.1)


def run_load(port, seconds, kill=None):
    """Runs the producers and consumers; kill: a process to SIGKILL after `seconds`
    (the clients then stop on their own). Returns (producers, consumers, lengths)."""
    stop, lengths = threading.Event(), []
    prods = [Producer(port, n, RATE / PRODUCERS, stop) for n in range(PRODUCERS)]
    cons = [Consumer(port, stop) for _ in range(CONSUMERS)]
    sampler = threading.Thread(target=sample_lengths, args=(port, stop, lengths), daemon=True)
    for t in cons + prods + [sampler]:
        t.start()
    time.sleep(seconds)
    if kill:
        kill.send_signal(signal.SIGKILL)
        kill.wait()
    stop.set()
    for t in prods + cons + [sampler]:
        t.join(timeout=30)
        check(not t.is_alive(), "a client thread hangs")
    for c in cons:
        check(c.error is None, c.error or "")
    return prods, cons, lengths


def rate_between(times, a, b):
    return sum(1 for t in times if a <= t < b) / (b - a)


def steady(port):
    t0 = time.time()
    prods, cons, lengths = run_load(port, SECONDS)
    sent = [v for p in prods for v in p.acked]
    got = [v for c in cons for _, v in c.got]
    check(len(got) == len(set(got)), "%d ids delivered twice" % (len(got) - len(set(got))))
    check(set(got) == set(sent), "%d ids never delivered, %d unknown ones" %
          (len(set(sent) - set(got)), len(set(got) - set(sent))))
    shares = [len(c.got) for c in cons]
    check(min(shares) >= len(got) / CONSUMERS / 10, "a consumer starved: %r" % shares)
    bound = max(100, RATE)
    check(max(lengths) < bound, "the list grew to %d (bound %d)" % (max(lengths), bound))
    window = min(300.0, SECONDS / 4)
    times = [t for c in cons for t, _ in c.got]
    first = rate_between(times, t0 + 1, t0 + 1 + window)  # (after a second of warm-up)
    last = rate_between(times, t0 + SECONDS - window, t0 + SECONDS)
    print("steady: %d ids in %.0f s, %.0f/s first %.0f s, %.0f/s last; shares %r; max "
          "length %d" % (len(got), SECONDS, first, window, last, shares, max(lengths)))
    check(last >= 0.8 * first, "throughput fell: %.0f/s last, %.0f/s first" % (last, first))


def crash():
    p, port, _ = start_server("crash", "--sync-writes", "yes", log="crash.log")
    prods, cons, _ = run_load(port, 4, kill=p)
    _, port2, admin = start_server("crash", "--sync-writes", "yes", port=port, log="crash.log")
    left = int(admin.call("llen", QUEUE)[1])
    before = [v for c in cons for _, v in c.got]
    # the consumers drain what the restart kept
    stop = threading.Event()
    drain = [Consumer(port2, stop) for _ in range(CONSUMERS)]
    for d in drain:
        d.start()
    end = time.time() + 30
    while int(admin.call("llen", QUEUE)[1]) and time.time() < end:
        time.sleep(0.05)
    stop.set()
    for d in drain:
        d.join(timeout=30)
    after = [v for d in drain for _, v in d.got]
    got = before + after
    acked = set(v for p in prods for v in p.acked)
    sent = set(v for p in prods for v in p.sent)
    twice = len(got) - len(set(got))
    lost = acked - set(got)
    print("crash: %d acknowledged LPUSHes, %d ids delivered before the kill -9, %d kept "
          "and delivered after; %d delivered twice, %d acknowledged ids lost (at most one "
          "pop in flight per consumer may take one)" % (len(acked), len(before), left,
                                                      twice, len(lost)))
    check(twice == 0, "ids delivered twice across the crash")
    check(set(got) <= sent, "ids nobody pushed")
    check(len(lost) <= CONSUMERS, "acknowledged ids lost: %r" % sorted(lost)[:10])
    check(len(before) > 0 and len(acked) > 0, "no load before the crash")


def main():
    _, port, _ = start_server("steady", "--sync-writes", "no")
    steady(port)
    crash()
    return 0


if __name__ == "__main__":
    run_main(main)
