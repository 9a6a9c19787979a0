#!/usr/bin/python3
"""gen-command-facts.py - writes server/commands/command_facts.c: what Redis 7.0 says about
each of its commands and subcommands (arity, flags, ACL categories, tips, key specs, and
for COMMAND DOCS the version, group, deprecation and argument tree with each key
argument's key spec), as data shale's command table looks up by name.

The facts are asked of a redis-server 7.0 (Debian's, the oracle the tests use) with
COMMAND INFO and COMMAND DOCS over RESP3; nothing is copied from Redis's sources. Only
interface facts are kept: no summary, complexity or history text (shale's command table
has its own summaries).

    scripts/gen-command-facts.py [--port P]   (without --port it starts redis-server)

Run it again when the oracle's version changes; the output is committed.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "server", "commands", "command_facts.c")

# Names as command_facts.h spells the bits (the order of each list is Redis's reply order,
# and the order of the enums in command_facts.h).
CMD_FLAGS = ["write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript",
             "blocking", "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast",
             "no_auth", "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys",
             "allow_busy"]
ACL_CATS = ["keyspace", "read", "write", "set", "sortedset", "list", "hash", "string",
            "bitmap", "hyperloglog", "geo", "stream", "pubsub", "admin", "fast", "slow",
            "blocking", "dangerous", "connection", "transaction", "scripting"]
KEY_FLAGS = ["RO", "RW", "OW", "RM", "access", "update", "insert", "delete", "not_key",
             "incomplete", "variable_flags"]
ARG_TYPES = ["string", "integer", "double", "key", "pattern", "unix-time", "pure-token",
             "oneof", "block"]
ARG_FLAGS = ["optional", "multiple", "multiple_token"]
DOC_FLAGS = ["deprecated", "syscmd"]


# ---- a RESP3 client, just enough for COMMAND INFO and DOCS ----

class Resp:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.buf = b""

    def call(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.reply()

    def _line(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError
            self.buf += d
        i = self.buf.index(b"\r\n")
        line, self.buf = self.buf[:i], self.buf[i + 2:]
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            d = self.s.recv(1 << 16)
            if not d:
                raise EOFError
            self.buf += d
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def reply(self):
        line = self._line()
        t, rest = line[:1], line[1:]
        if t in b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"_":
            return None
        if t in b"$=":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode()
        if t in b"*~":
            return [self.reply() for _ in range(int(rest))]
        if t == b"%":
            n = int(rest)
            return {self.reply(): self.reply() for _ in range(n)}
        raise ValueError("unexpected reply %r" % line)


def start_oracle():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    d = tempfile.mkdtemp()
    p = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly",
                          "no", "--dir", d], stdout=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return p, port
        except OSError:
            time.sleep(0.05)
    p.kill()
    sys.exit("redis-server did not start")


# ---- C output ----

def cstr(s):
    if s is None:
        return "NULL"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bits(names, table, prefix):
    out = []
    for n in names:
        if n not in table:
            sys.exit("unknown %s flag %r: add it to command_facts.h and this script" % (prefix, n))
        out.append(prefix + table[table.index(n)].upper().replace("-", "_"))
    return "|".join(out) if out else "0"


def ident(name):
    return name.replace("|", "_").replace("-", "_")


class Writer:
    def __init__(self):
        self.decls = []  # static arrays, emitted before the table

    def specs(self, name, specs):
        if not specs:
            return "0, NULL"
        rows = []
        for sp in specs:
            bs, fk = sp["begin_search"], sp["find_keys"]
            if bs["type"] == "index":
                b = "KS_BS_INDEX, %d, NULL" % bs["spec"]["index"]
            elif bs["type"] == "keyword":
                b = "KS_BS_KEYWORD, %d, %s" % (bs["spec"]["startfrom"], cstr(bs["spec"]["keyword"]))
            else:
                b = "KS_BS_UNKNOWN, 0, NULL"
            if fk["type"] == "range":
                f = "KS_FK_RANGE, {%d, %d, %d}" % (fk["spec"]["lastkey"], fk["spec"]["keystep"],
                                                   fk["spec"]["limit"])
            elif fk["type"] == "keynum":
                f = "KS_FK_KEYNUM, {%d, %d, %d}" % (fk["spec"]["keynumidx"], fk["spec"]["firstkey"],
                                                    fk["spec"]["keystep"])
            else:
                f = "KS_FK_UNKNOWN, {0, 0, 0}"
            rows.append("    {%s, %s, %s, %s}," % (bits(sp["flags"], KEY_FLAGS, "KSF_"),
                                                   cstr(sp.get("notes")), b, f))
        var = "specs_" + ident(name)
        self.decls.append("static const key_spec %s[] = {\n%s\n};" % (var, "\n".join(rows)))
        return "%d, %s" % (len(specs), var)

    def args(self, name, args):
        if not args:
            return "0, NULL"
        rows = []
        for i, a in enumerate(args):
            sub = self.args("%s_%d" % (name, i), a.get("arguments")) \
                if a["type"] in ("oneof", "block") else "0, NULL"
            if a["type"] not in ARG_TYPES:
                sys.exit("unknown argument type %r" % a["type"])
            rows.append("    {%s, ARG_%s, %d, %s, %s, %s, %s, %s}," % (
                cstr(a["name"]), a["type"].upper().replace("-", "_"), a.get("key_spec_index", -1),
                cstr(a.get("token")), cstr(a.get("since")), cstr(a.get("deprecated_since")),
                bits(a.get("flags", []), ARG_FLAGS, "ARGF_"), sub))
        var = "args_" + ident(name)
        self.decls.append("static const command_arg %s[] = {\n%s\n};" % (var, "\n".join(rows)))
        return "%d, %s" % (len(args), var)

    def fact(self, info, docs):
        name = info[0]
        tips = " ".join(info[7]) if info[7] else None
        acl = [c.lstrip("@") for c in info[6]]
        return "    {%s, %d, %s, %d, %d, %d,\n     %s,\n     %s, %s,\n     %s, %s, %s, %s, %s, %s}," % (
            cstr(name), info[1], bits(info[2], CMD_FLAGS, "CF_"), info[3], info[4], info[5],
            bits(acl, ACL_CATS, "ACL_"), cstr(tips), self.specs(name, info[8]),
            cstr(docs.get("since")), cstr(docs.get("group")),
            bits(docs.get("doc_flags", []), DOC_FLAGS, "DOCF_"), cstr(docs.get("deprecated_since")),
            cstr(docs.get("replaced_by")), self.args(name, docs.get("arguments")))


def main():
    port = None
    if len(sys.argv) == 3 and sys.argv[1] == "--port":
        port = int(sys.argv[2])
    proc = None
    if port is None:
        proc, port = start_oracle()
    try:
        r = Resp(port)
        r.call("HELLO", "3")
        version = r.call("INFO", "server").split("redis_version:")[1].split()[0]
        info = r.call("COMMAND", "INFO")
        docs = r.call("COMMAND", "DOCS")
    finally:
        if proc:
            proc.kill()
            proc.wait()
    # every command and subcommand, by name
    entries = []
    for e in info:
        entries.append((e, docs[e[0]]))
        for sub in e[9]:
            entries.append((sub, docs[e[0]]["subcommands"][sub[0]]))
    entries.sort(key=lambda x: x[0][0])
    w = Writer()
    rows = [w.fact(i, d) for i, d in entries]
    with open(OUT, "w") as f:
        f.write("/*\n * command_facts.c - GENERATED by scripts/gen-command-facts.py from redis-server "
                "%s's\n * COMMAND INFO and COMMAND DOCS; do not edit, run the script again.\n"
                " * What Redis says about each command and subcommand (command_facts.h), sorted by "
                "name.\n */\n" % version)
        f.write('#include "command_facts.h"\n\n/* clang-format off */\n')
        f.write("\n".join(w.decls))
        f.write("\n\nconst command_facts command_facts_table[] = {\n")
        f.write("\n".join(rows))
        f.write("\n};\nconst size_t command_facts_count = sizeof command_facts_table / "
                "sizeof command_facts_table[0];\n/* clang-format on */\n")
    print("wrote %s: %d commands and subcommands of Redis %s" % (OUT, len(rows), version))


if __name__ == "__main__":
    main()
