#!/usr/bin/python3
"""server_compare_config.py - CONFIG, CLIENT HELP and CLUSTER replies and errors, byte for
byte, against redis-server 7.0 as the oracle (RESP2 then RESP3), as server_compare.py does.

- the replication options shale reports until it replicates (repl-backlog-size,
  replicaof and its old name slaveof: "" for a primary, immutable);
- maxmemory-clients: bytes or a percentage of maxmemory, Redis's parse and errors;
- memory options' bounds in Redis's words (client-query-buffer-limit, proto-max-bulk-len);
- CONFIG SET of several pairs: the first bad one named, nothing changed;
- CONFIG GET of several names and patterns: each option once, a plain name shown as the
  client spelled it;
- CLIENT HELP and CONFIG HELP, Redis's text;
- CLUSTER as a Redis without cluster-enabled answers it, and COMMAND's view of it.

Exit 0 when no difference, 1 otherwise (each difference printed), 77 when a tool is missing.
"""
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server_compare import _docs_equal, canon, oracle_exit, run_oracle  # noqa: E402

# (command, mode): mode "" = bytes equal, "set" = as a set (CONFIG GET's order is Redis's
# hash table's)
CASES = [
    # replication options
    ("config get repl-backlog-size", ""), ("config set repl-backlog-size 0", ""),
    ("config set repl-backlog-size -1", ""), ("config set repl-backlog-size x", ""),
    ("config set repl-backlog-size 10mb", ""), ("config get repl-backlog-size", ""),
    ("config set repl-backlog-size 1", ""), ("config get repl-backlog-size", ""),
    ("config set repl-backlog-size 1mb", ""),
    ("config get replicaof", ""), ("config get slaveof", ""), ("config get *of", "set"),
    ("config get replicaof slaveof", "set"), ("config set replicaof ''", ""),
    ("config set slaveof '127.0.0.1 6379'", ""), ("config set replicaof 'no one'", ""),
    # maxmemory-clients
    ("config get maxmemory-clients", ""), ("config set maxmemory-clients 50%", ""),
    ("config get maxmemory-clients", ""), ("config set maxmemory-clients 100%", ""),
    ("config get maxmemory-clients", ""), ("config set maxmemory-clients 0%", ""),
    ("config get maxmemory-clients", ""), ("config set maxmemory-clients 101%", ""),
    ("config set maxmemory-clients 200%", ""), ("config set maxmemory-clients %", ""),
    ("config set maxmemory-clients 01%", ""), ("config set maxmemory-clients -1%", ""),
    ("config set maxmemory-clients -1", ""), ("config set maxmemory-clients abc", ""),
    ("config set maxmemory-clients 1kb", ""), ("config get maxmemory-clients", ""),
    ("config set maxmemory-clients 18446744073709551615", ""),
    ("config get maxmemory-clients", ""),
    ("config set maxmemory-clients 9223372036854775808", ""),
    ("config set maxmemory-clients 9223372036854775807", ""),
    ("config get maxmemory-clients", ""), ("config set maxmemory-clients 0", ""),
    # memory options' bounds
    ("config set client-query-buffer-limit 1000", ""),
    ("config set client-query-buffer-limit invalid", ""),
    ("config set client-query-buffer-limit 9223372036854775808", ""),
    ("config set client-query-buffer-limit 2gb", ""), ("config get client-query-buffer-limit", ""),
    ("config set client-query-buffer-limit 1gb", ""),
    ("config set proto-max-bulk-len 1000", ""), ("config get proto-max-bulk-len", ""),
    ("config set maxmemory 18446744073709551615", ""), ("config get maxmemory", ""),
    ("config set maxmemory 0", ""),
    # several pairs: all or nothing, the first bad one named (Redis's own suite's cases)
    ("config set maxmemory 10000001 repl-backlog-size 10000002 save '3000 5'", ""),
    ("config get maxmemory", ""), ("config get repl-backlog-size", ""), ("config get save", ""),
    ("config set maxmemory 10000002", ""),
    ("config set maxmemory 10000001 maxmemory-clients 200% client-query-buffer-limit invalid", ""),
    ("config get maxmemory", ""), ("config get maxmemory-clients", ""),
    ("config get client-query-buffer-limit", ""),
    ("config set maxmemory 1 client-query-buffer-limit 10m repl-backlog-size 0", ""),
    ("config get maxmemory client-query-buffer-limit", "set"),
    ("config set maxmemory 0 repl-backlog-size 1mb save ''", ""),
    # several names and patterns: each option once, a plain name as it was written
    ("config get maxmemory-clients maxmemory-c*", "set"), ("config get MAXMEMORY", ""),
    ("config get Maxmemory maxmemory", ""), ("config get maxmemory MAXMEMORY", ""),
    ("config get MAXMEMORY maxmemor?", ""), ("config get Repl-Backlog-Size", ""),
    ("config get repl-backlog-size repl-backlog-s*", ""), ("config get SlaveOf *ICAOF", "set"),
    ("config get maxmemory-clients maxmemory-clients", ""),
    # HELP
    ("client help", ""), ("CLIENT Help", ""), ("client help x", ""), ("config help", ""),
    # CLUSTER without cluster support
    ("cluster info", ""), ("cluster slots", ""), ("cluster shards", ""), ("cluster nodes", ""),
    ("cluster myid", ""), ("cluster help", ""), ("CLUSTER Info", ""), ("cluster keyslot foo", ""),
    ("cluster countkeysinslot 1", ""), ("cluster getkeysinslot 1 1", ""),
    ("cluster addslots 1 2", ""), ("cluster setslot 1 node x", ""), ("cluster reset hard", ""),
    ("cluster foo", ""), ("cluster info x", ""), ("cluster keyslot", ""), ("cluster", ""),
    ("cluster addslotsrange 1", ""), ("cluster meet 127.0.0.1", ""),
    ("command info cluster|slots", ""), ("command info cluster|info cluster|keyslot", ""),
    ("command list filterby pattern cl*help", "set"),
    ("command list filterby pattern cluster*", "set"),
    ("command list filterby pattern client|h*", ""), ("command info client|help", ""),
    ("command getkeys cluster info", ""), ("command getkeys cluster countkeysinslot 1", ""),
]


def run(shale, redis, proto):
    diffs = 0
    for case, mode in CASES:
        args = shlex.split(case)
        a, b = shale.call(*args), redis.call(*args)
        if canon(a, mode) != canon(b, mode):
            diffs += 1
            print("DIFF (RESP%d) %s\n  shale: %r\n  redis: %r" % (proto, case[:200], a, b))
    # COMMAND DOCS without Redis's texts (summaries, complexity, history: shale's own)
    for name in ("cluster|slots", "cluster|help", "cluster|info", "client|help"):
        a, b = shale.call("command", "docs", name), redis.call("command", "docs", name)
        if len(a[1]) != 2:
            print("DIFF (RESP%d) COMMAND DOCS %s: shale has none" % (proto, name))
            diffs += 1
        else:
            diffs += _docs_equal(a[1][1], b[1][1], "%s (RESP%d)" % (name, proto))
    return diffs


def main():
    diffs = run_oracle(run)
    return oracle_exit(diffs, "%d CONFIG, CLIENT HELP and CLUSTER commands" % len(CASES))


if __name__ == "__main__":
    sys.exit(main())
