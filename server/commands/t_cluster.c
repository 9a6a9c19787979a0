/*
 * t_cluster.c - CLUSTER as a Redis 7.0 started without cluster-enabled answers it: every
 * subcommand Redis has is in the command table (COMMAND lists and describes them) and
 * each call gets "-ERR This instance has cluster support disabled", which is what
 * cluster-aware clients (redis-py, ioredis, Jedis) look for when they probe CLUSTER INFO
 * or CLUSTER SLOTS before falling back to a plain connection. An unknown subcommand and a
 * wrong number of arguments get the dispatcher's errors first, as in Redis.
 *
 * What it is not: cluster support. shale shards through clients that speak Redis Cluster
 * to a set of primaries, or through twemproxy (the architecture's "Scale beyond one
 * machine").
 */
#include "command.h"
#include "server.h"

void cmd_cluster(server *s, client *c)
{
    (void)s;
    const command *self = command_lookup(c->cmd.argv[0].p, c->cmd.argv[0].len);
    if (!command_sub_lookup(self, c->cmd.argv[1].p, c->cmd.argv[1].len)) {
        reply_subcommand_error(c);
        return;
    }
    resp_error(&c->out, "ERR This instance has cluster support disabled");
}
