/* t_string.c - string commands: GET, SET (NX XX GET EX PX EXAT PXAT KEEPTTL). */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "keyspace.h"
#include "server.h"

static const char wrongtype[] = "WRONGTYPE Operation against a key holding the wrong kind of value";

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Redis's string2ll: the whole argument must be a base-10 integer. */
static bool parse_ll(const resp_arg *a, long long *out)
{
    if (a->len == 0 || a->len > 20)
        return false;
    char tmp[24];
    memcpy(tmp, a->p, a->len);
    tmp[a->len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (errno || *end || (tmp[0] == '0' && a->len > 1) || tmp[0] == '+' || tmp[0] == ' ')
        return false;
    *out = v;
    return true;
}

static bool arg_is(const resp_arg *a, const char *word)
{
    return strlen(word) == a->len && strncasecmp(a->p, word, a->len) == 0;
}

void cmd_get(server *s, client *c)
{
    int type;
    char *raw;
    const char *v;
    size_t vl;
    uint64_t exp;
    int rc =
        ks_lookup(s->db, c->db, c->cmd.argv[1].p, c->cmd.argv[1].len, &type, &raw, &v, &vl, &exp);
    if (rc)
        reply_engine_error(c, rc);
    else if (type == 0)
        resp_null(&c->out, c->proto);
    else if (type != KS_TYPE_STRING)
        resp_error(&c->out, wrongtype);
    else
        resp_bulk(&c->out, v, vl);
    shale_free(raw);
}

void cmd_set(server *s, client *c)
{
    enum { NONE, NX, XX } cond = NONE;
    bool get = false, keepttl = false, has_expire = false;
    uint64_t expire_at = 0;
    resp_arg *a = c->cmd.argv;
    for (int i = 3; i < c->cmd.argc; i++) {
        bool more = i + 1 < c->cmd.argc;
        if (arg_is(&a[i], "nx") && cond != XX) {
            cond = NX;
        } else if (arg_is(&a[i], "xx") && cond != NX) {
            cond = XX;
        } else if (arg_is(&a[i], "get")) {
            get = true;
        } else if (arg_is(&a[i], "keepttl") && !has_expire) {
            keepttl = true;
        } else if ((arg_is(&a[i], "ex") || arg_is(&a[i], "px") || arg_is(&a[i], "exat") ||
                    arg_is(&a[i], "pxat")) &&
                   !keepttl && !has_expire && more) {
            long long n;
            if (!parse_ll(&a[i + 1], &n)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return;
            }
            bool seconds = arg_is(&a[i], "ex") || arg_is(&a[i], "exat");
            bool absolute = a[i].len == 4;
            if (n <= 0 || (seconds && n > LLONG_MAX / 1000)) {
                resp_error(&c->out, "ERR invalid expire time in 'set' command");
                return;
            }
            uint64_t ms = (uint64_t)n * (seconds ? 1000u : 1u);
            if (!absolute && ms > (uint64_t)LLONG_MAX - now_ms()) {
                resp_error(&c->out, "ERR invalid expire time in 'set' command");
                return;
            }
            expire_at = absolute ? ms : now_ms() + ms;
            has_expire = true;
            i++;
        } else {
            resp_error(&c->out, "ERR syntax error");
            return;
        }
    }
    int type = 0;
    char *raw = NULL;
    const char *old = NULL;
    size_t oldlen = 0;
    uint64_t old_exp = 0;
    int rc = 0;
    if (cond != NONE || get || keepttl)
        rc = ks_lookup(s->db, c->db, a[1].p, a[1].len, &type, &raw, &old, &oldlen, &old_exp);
    if (rc) {
        reply_engine_error(c, rc);
        return;
    }
    if (get && type != 0 && type != KS_TYPE_STRING) {
        shale_free(raw);
        resp_error(&c->out, wrongtype);
        return;
    }
    bool apply = cond == NONE || (cond == NX && type == 0) || (cond == XX && type != 0);
    if (apply) {
        if (keepttl && type != 0)
            expire_at = old_exp;
        rc = ks_set_string(s->db, c->db, a[1].p, a[1].len, a[2].p, a[2].len, expire_at);
        if (rc) {
            shale_free(raw);
            reply_engine_error(c, rc);
            return;
        }
        s->wrote_this_round = true;
    }
    if (get) {
        if (type == 0)
            resp_null(&c->out, c->proto);
        else
            resp_bulk(&c->out, old, oldlen);
    } else if (apply) {
        resp_simple(&c->out, "OK");
    } else {
        resp_null(&c->out, c->proto);
    }
    shale_free(raw);
}
