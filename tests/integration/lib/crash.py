"""crash.py - the kill -9 loop the server crash tests share (server_multi_crash.py,
server_script_crash.py): writer threads numbered 0..N-1 send numbered operations to a
shale-server with sync-writes yes; every 1 to 3 seconds the server gets SIGKILL and is
restarted on the same directory, commit-pipeline alternating no and yes; after each
restart the test checks the store against what was sent and acknowledged.

A test subclasses Writer (step() sends one operation and records it in sent, and in acked
once answered) and exits with crash_main(seed, clients, body), where body(run) starts
the CrashRun, calls its run() and checks that something was tested. Not a test
itself: tests/run.sh runs only tests/integration/*.py.
"""
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from server_compare import Conn, free_port  # noqa: E402

BUILD = os.environ.get("SHALE_BUILD", "build")
SERVER = os.path.join(BUILD, "shale-server")


class Writer(threading.Thread):
    """One client: connect() then step() in a loop until the server is killed (a closed
    connection ends the thread quietly; a RuntimeError is kept in error and fails the
    test). Operations are numbered by seq, going on across rounds; sent maps a seq to
    what the operation does, acked holds the seqs whose reply said it was done."""

    def __init__(self, port, cid, rng, next_seq):
        super().__init__(daemon=True)
        self.port, self.cid, self.rng = port, cid, rng
        self.seq = next_seq
        self.sent = {}
        self.acked = set()
        self.error = None

    def connect(self):
        return Conn(self.port)

    def step(self, c):
        raise NotImplementedError

    def run(self):
        try:
            c = self.connect()
            while True:
                self.step(c)
        except (OSError, EOFError, ValueError):
            return  # the server was killed
        except RuntimeError as e:
            self.error = str(e)


class CrashRun:
    """A shale-server on a temporary directory (removed by close()), its stderr in one
    log, and what the writers of every round sent and had acknowledged: sent maps
    (client, seq) to the operation, acked is a set of (client, seq)."""

    def __init__(self, seed, clients):
        self.seed = seed
        self.rng = random.Random(seed)
        self.clients = clients
        self.tmp = tempfile.mkdtemp()
        self.datadir = os.path.join(self.tmp, "data")
        self.logpath = os.path.join(self.tmp, "shale.log")
        self.log = open(self.logpath, "w")
        self.port = free_port()
        self.proc = None
        self.rounds = 0
        self.sent, self.acked = {}, set()
        self.next_seq = [0] * clients

    def start(self, pipeline=False):
        """Starts the server (sync-writes yes, SHALE_SERVER_ARGS added) and waits for PING."""
        self.proc = subprocess.Popen(
            [SERVER, "--port", str(self.port), "--dir", self.datadir, "--sync-writes", "yes",
             "--commit-pipeline", "yes" if pipeline else "no",
             *os.environ.get("SHALE_SERVER_ARGS", "").split()], stderr=self.log)
        for _ in range(400):
            try:
                if Conn(self.port).call("ping") == (b"+", b"PONG"):
                    return
            except (OSError, EOFError):
                pass
            if self.proc.poll() is not None:
                raise RuntimeError("shale-server exited with %d" % self.proc.returncode)
            time.sleep(0.05)
        raise RuntimeError("shale-server did not start")

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def round(self, make_writer, during=None):
        """One round: starts the writers (make_writer(port, cid, rng, next_seq)), lets them
        run 1 to 3 seconds (then calls during(), if given, before the kill), kills the
        server, gathers what they sent and had acknowledged, and restarts the server.
        A writer's error, or None."""
        writers = [make_writer(self.port, i, random.Random(self.rng.random()), self.next_seq[i])
                   for i in range(self.clients)]
        for w in writers:
            w.start()
        time.sleep(self.rng.uniform(1.0, 3.0))
        if during:
            during()
        self.kill()
        error = None
        for w in writers:
            w.join(10)
            if w.error and not error:
                error = "client %d: %s" % (w.cid, w.error)
            self.next_seq[w.cid] = w.seq
            self.sent.update({(w.cid, s): v for s, v in w.sent.items()})
            self.acked.update((w.cid, s) for s in w.acked)
        self.rounds += 1
        self.start(self.rounds % 2 == 1)
        return error

    def run(self, seconds, make_writer, verify, during=None):
        """Rounds for `seconds`; verify() after each restart returns a list of problems.
        during(round) may return a function to call before that round's kill. True when
        every round passed (each failure printed with the seed and round)."""
        end = time.time() + seconds
        while time.time() < end:
            error = self.round(make_writer, during(self.rounds) if during else None)
            problems = ([error] if error else []) + verify()
            for p in problems:
                print("FAIL (seed %d, round %d): %s" % (self.seed, self.rounds, p))
            if problems:
                return False
        return True

    def sanitizer_report(self):
        """The end of the server's log when it holds a sanitizer's report, else None."""
        self.log.flush()
        text = open(self.logpath).read()
        if "Sanitizer" in text or "runtime error" in text:
            return text[-5000:]
        return None

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def markers(c):
    """The markers in the store: each operation of a crash test writes, with its data, a
    key x:<client>:<seq> saying what it did. A dict (client, seq) -> (key, value bytes),
    in the order KEYS listed them."""
    keys = [k[1].decode() for k in c.call("keys", "x:*")[1]]
    vals = c.call("mget", *keys)[1] if keys else []
    found = {}
    for k, v in zip(keys, vals):
        _, cid, seq = k.split(":")
        found[(int(cid), int(seq))] = (k, v[1])
    return found


def crash_main(seed, clients, body):
    """What every crash test does around its own part: returns 77 (skip) when the
    server is not built; makes a CrashRun and returns body(run), its exit code (0 when it
    passed), except that a passed run whose server log holds a sanitizer's report fails
    (1); the run is closed however it ends."""
    if not os.path.exists(SERVER):
        print("skip: %s missing" % SERVER)
        return 77
    run = CrashRun(seed, clients)
    try:
        rc = body(run)
        if rc != 0:
            return rc
        report = run.sanitizer_report()
        if report:
            print("FAIL: the server's log has a sanitizer report:\n" + report)
            return 1
        return 0
    finally:
        run.close()
