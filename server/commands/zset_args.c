/* zset_args.c - score and range parsing, sorted-set lookups and member replies shared
   by t_zset*.c and t_geo.c (zset_args.h). */
#include "zset_args.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A NUL-terminated copy of p[0..n) in small, or malloc'ed when it does not fit (free it
   when it is not small). NULL when memory runs out. */
static char *cstr(const char *p, size_t n, char *small, size_t cap)
{
    char *s = n < cap ? small : malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

bool parse_score(const char *p, size_t n, double *out)
{
    char small[128];
    if (n == 0 || isspace((unsigned char)p[0]))
        return false;
    char *s = cstr(p, n, small, sizeof small);
    if (!s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    bool ok = (size_t)(end - s) == n && !isnan(v) &&
              !(errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || v == 0));
    if (s != small)
        free(s);
    if (ok)
        *out = v;
    return ok;
}

bool arg_score(const resp_arg *a, double *out)
{
    return parse_score(a->p, a->len, out);
}

/* One end of a score range: '(' then strtod up to the first NUL. */
static bool parse_range_end(const resp_arg *a, double *v, bool *ex)
{
    char small[128];
    *ex = a->len && a->p[0] == '(';
    char *s = cstr(a->p + *ex, a->len - *ex, small, sizeof small);
    if (!s)
        return false;
    char *end;
    *v = strtod(s, &end);
    bool ok = *end == '\0' && !isnan(*v);
    if (s != small)
        free(s);
    return ok;
}

bool parse_score_range(const resp_arg *min, const resp_arg *max, zset_score_range *r)
{
    return parse_range_end(min, &r->min, &r->minex) && parse_range_end(max, &r->max, &r->maxex);
}

/* Redis reads the argument as a C string: "+" and "-" stand alone up to its first NUL. */
static bool parse_lex_end(const resp_arg *a, zset_lex_bound *b)
{
    memset(b, 0, sizeof *b);
    if (a->len == 0)
        return false;
    switch (a->p[0]) {
    case '+':
    case '-':
        if (a->len > 1 && a->p[1] != '\0')
            return false;
        b->inf = a->p[0] == '+' ? 1 : -1;
        b->ex = true;
        return true;
    case '(':
    case '[':
        b->ex = a->p[0] == '(';
        b->p = a->p + 1;
        b->len = a->len - 1;
        return true;
    default:
        return false;
    }
}

bool parse_lex_range(const resp_arg *min, const resp_arg *max, zset_lex_range *r)
{
    return parse_lex_end(min, &r->min) && parse_lex_end(max, &r->max);
}

bool read_zset(server *s, client *c, const resp_arg *key, bool counted, ks_meta *m)
{
    return read_key(s, c, c->db, key, KS_TYPE_ZSET, counted, m);
}

zset_limits zset_limits_of(const server *s)
{
    return (zset_limits){.entries = (uint64_t)s->cfg.zset_max_listpack_entries,
                         .value = s->cfg.zset_max_listpack_value};
}

zset_ref zset_ref_of(server *s, client *c, const resp_arg *key, const ks_meta *m)
{
    return (zset_ref){.ks = &s->ks, .dbi = c->db, .key = key->p, .klen = key->len, .m = m};
}

void zreply_init(zreply *r, client *c, bool withscores)
{
    memset(r, 0, sizeof *r);
    r->withscores = withscores;
    r->proto = c->proto;
}

int zreply_emit(void *ctx, const char *member, size_t len, double score)
{
    zreply *r = ctx;
    if (r->withscores && r->proto >= 3)
        resp_array(&r->body, 2);
    resp_bulk(&r->body, member, len);
    if (r->withscores)
        resp_double(&r->body, score, r->proto);
    r->n++;
    return r->body.err;
}

void zreply_send(client *c, zreply *r, int rc)
{
    if (rc || r->body.err) {
        reply_read_error(c, rc ? rc : r->body.err);
        return;
    }
    resp_array(&c->out, r->withscores && r->proto == 2 ? 2 * r->n : r->n);
    resp_raw(&c->out, r->body.data, r->body.len);
}

void zreply_free(zreply *r)
{
    resp_out_free(&r->body);
}

size_t format_score_scan(double d, char *buf, size_t cap)
{
    if (isinf(d))
        return (size_t)snprintf(buf, cap, "%s", d > 0 ? "inf" : "-inf");
    /* Redis's double2ll bound: within it an integral score is kept as an integer */
    if (d >= -(double)(LLONG_MAX / 2) && d <= (double)(LLONG_MAX / 2) && d == (long long)d)
        return (size_t)snprintf(buf, cap, "%lld", (long long)d);
    return (size_t)snprintf(buf, cap, "%.17g", d);
}
