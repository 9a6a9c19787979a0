/*
 * t_zset_block.c - the blocking sorted-set pops BZPOPMIN BZPOPMAX BZMPOP (blocking.h):
 * ZPOPMIN/ZPOPMAX/ZMPOP's pop and reply (t_zset.c's zset_pop_reply) on the first
 * non-empty key, or a wait on every key until a write makes one a non-empty sorted set.
 * The pop itself is types/zset.c's; this file never builds an engine key.
 */
#include "args.h"
#include "blocking.h"
#include "zset_args.h"

/*
 * Pops from the first non-empty sorted set of keys[0..n) and replies as
 * zset_pop_reply(emitkey, nested) does: true when it replied (a pop or an error: a key
 * of another type stops the search with WRONGTYPE, as Redis 7.0's
 * blockingGenericZpopCommand), false when every key is absent. A client woken for one of
 * its keys looks at that key only.
 */
static bool zpop_first(server *s, client *c, const resp_arg *keys, int n, bool max,
                       long long count, bool nested)
{
    for (int i = 0; i < n; i++) {
        if (!blocking_may_serve(c, &keys[i]))
            continue;
        if (zset_pop_reply(s, c, &keys[i], 1, max, count, true, nested) != 0)
            return true;
    }
    return false;
}

/* BZPOPMIN/BZPOPMAX key [key ...] timeout: the timeout is checked before any key; the
   reply is [key, member, score] (the score a double in RESP3). */
static void bzpop_generic(server *s, client *c, bool max, command_fn self)
{
    uint64_t deadline;
    if (!blocking_parse_timeout(c, &c->cmd.argv[c->cmd.argc - 1], &deadline))
        return;
    int nkeys = c->cmd.argc - 2;
    if (!zpop_first(s, c, &c->cmd.argv[1], nkeys, max, -1, false))
        blocking_wait(s, c, 1, nkeys, KS_TYPE_ZSET, deadline, self);
}

void cmd_bzpopmin(server *s, client *c)
{
    bzpop_generic(s, c, false, cmd_bzpopmin);
}

void cmd_bzpopmax(server *s, client *c)
{
    bzpop_generic(s, c, true, cmd_bzpopmax);
}

/* BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]: the other arguments are
   checked before the timeout, as Redis does; the reply is ZMPOP's, [key, [[member,
   score], ...]] in both protocols. */
void cmd_bzmpop(server *s, client *c)
{
    zmpop_args a;
    uint64_t deadline;
    if (!zmpop_parse(c, 2, &a) || !blocking_parse_timeout(c, &c->cmd.argv[1], &deadline))
        return;
    if (!zpop_first(s, c, a.keys, a.nkeys, a.max, a.count, true))
        blocking_wait(s, c, (int)(a.keys - c->cmd.argv), a.nkeys, KS_TYPE_ZSET, deadline,
                      cmd_bzmpop);
}
