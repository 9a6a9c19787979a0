"""harness.py - what the server integration tests share: a temporary directory, servers
started and stopped with the test, check(), and the __main__ runner.

A test uses it as

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from server_compare import Conn, encode, free_port  # the RESP client
    from lib.harness import SERVER, TMP, check, run_main, start_server

    def main():
        p, port, c = start_server("data", "--sync-writes", "no")
        check(c.call("set", "k", "v") == (b"+", b"OK"), "SET")
        return 0

    if __name__ == "__main__":
        run_main(main)

TMP is created when this module is imported; every process started through spawn(),
start_server() or start_redis() is killed by run_main() if it still runs. Not a test
itself: tests/run.sh runs only tests/integration/*.py, and running this file does nothing.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from server_compare import Conn, free_port  # noqa: E402

BUILD = os.environ.get("SHALE_BUILD", "build")
SERVER = os.path.join(BUILD, "shale-server")
TMP = tempfile.mkdtemp()
PROCS = []  # every process started here: run_main kills those still running


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def spawn(argv, log=None, **popen):
    """Starts argv (stderr appended to TMP/log when log is given; popen: more Popen
    arguments) and registers it for run_main to kill."""
    if log:
        popen["stderr"] = open(os.path.join(TMP, log), "a")
    p = subprocess.Popen(argv, **popen)
    PROCS.append(p)
    return p


def wait_up(port, password=None, wait=10, log=None):
    """A connection to the server on port once it answers PING (after AUTH password when
    given); an error reply counts, as -NOAUTH from a server with requirepass. A PING,
    not just a connect: a connect to a free local port can succeed on its own (TCP
    simultaneous open with itself). Gives up after `wait` seconds."""
    for _ in range(int(wait / 0.05)):
        try:
            c = Conn(port)
            if password is not None:
                c.call("auth", password)
            r = c.call("ping")
            if r == (b"+", b"PONG") or r[0] == b"-":
                return c
        except (OSError, EOFError):
            pass
        time.sleep(0.05)
    raise RuntimeError("server on %d did not start%s" %
                       (port, " (see %s)" % os.path.join(TMP, log) if log else ""))


def start_server(name, *args, port=None, conf=None, log=None, env=None, wait=10, **popen):
    """build/shale-server [conf] --port PORT --dir TMP/name ARGS, once it answers PING:
    (process, port, connection).

    name: the data directory, under TMP unless absolute; port: a free one unless given;
    conf: a configuration file read before the options; log: the file under TMP its
    stderr is appended to (name.log by default); env: variables added to this process's
    environment (LD_PRELOAD, ...); wait: seconds to wait for it; popen: more Popen
    arguments (preexec_fn, pass_fds)."""
    port = port or free_port()
    log = log or name + ".log"
    if env is not None:
        env = dict(os.environ, **env)
    p = spawn([SERVER] + ([conf] if conf else []) +
              ["--port", str(port), "--dir", os.path.join(TMP, name)] + list(args),
              log, env=env, **popen)
    return p, port, wait_up(port, wait=wait, log=log)


def start_redis():
    """redis-server 7.0 (the oracle) on a free port, without persistence: (process, port,
    connection)."""
    port = free_port()
    p = spawn(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
               "--dir", TMP], stdout=subprocess.DEVNULL)
    return p, port, wait_up(port)


def run_checks(checks, only=None):
    """Runs each (name, fn) of checks (only those whose name holds `only`, when given),
    printing "ok   name (seconds)" or "FAIL name: error" and going on after a failure:
    1 when any failed, else 0."""
    failed = 0
    for name, fn in checks:
        if only and only not in name:
            continue
        t0 = time.time()
        try:
            fn()
            print("ok   %s (%.1fs)" % (name, time.time() - t0))
        except Exception as e:  # noqa: BLE001 - report and go on to the next check
            failed += 1
            print("FAIL %s: %s" % (name, e))
    return 1 if failed else 0


def kill_all():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()


def run_main(main):
    """A test's __main__: runs main(), whose return value is the exit status (0 passed,
    1 failed, 77 skipped; an exception fails the test). Prints "ok" or "FAIL" (nothing on
    a skip: the test's last line says why), kills every process still running, keeps TMP
    (and prints where it is) when KEEP_TMP is set or the test failed, else removes it."""
    rc = 1
    try:
        rc = main()
        if rc == 0:
            print("ok")
        elif rc != 77:
            print("FAIL")
    except Exception as e:  # noqa: BLE001 - report
        traceback.print_exc()
        print("FAIL:", e)
        rc = 1
    finally:
        kill_all()
        if os.environ.get("KEEP_TMP") or rc not in (0, 77):
            print("logs in", TMP)
        else:
            shutil.rmtree(TMP, ignore_errors=True)
    sys.exit(rc)


if __name__ == "__main__":
    shutil.rmtree(TMP, ignore_errors=True)
    print(__doc__.split("\n")[0])
