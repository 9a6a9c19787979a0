/* t_keys.c - commands on keys of any type: DEL, EXISTS. */
#include "keyspace.h"
#include "server.h"

void cmd_del(server *s, client *c)
{
    long long n = 0;
    for (int i = 1; i < c->cmd.argc; i++) {
        int existed;
        int rc = ks_delete(s->db, c->db, c->cmd.argv[i].p, c->cmd.argv[i].len, &existed);
        if (rc) {
            reply_engine_error(c, rc);
            return;
        }
        if (existed) {
            n++;
            s->wrote_this_round = true;
        }
    }
    resp_integer(&c->out, n);
}

void cmd_exists(server *s, client *c)
{
    long long n = 0;
    for (int i = 1; i < c->cmd.argc; i++) {
        int type;
        char *raw;
        const char *v;
        size_t vl;
        uint64_t exp;
        int rc = ks_lookup(s->db, c->db, c->cmd.argv[i].p, c->cmd.argv[i].len, &type, &raw, &v, &vl,
                           &exp);
        shale_free(raw);
        if (rc) {
            reply_engine_error(c, rc);
            return;
        }
        n += type != 0;
    }
    resp_integer(&c->out, n);
}
