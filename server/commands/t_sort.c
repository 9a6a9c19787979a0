/*
 * t_sort.c - SORT and SORT_RO: BY (a pattern, `*->field` for a hash's field, or a
 * constant for no sort), LIMIT, GET (#, patterns, several), ASC/DESC, ALPHA, with Redis
 * 7.0's replies and errors. The elements come from the key's type through
 * sort_sources[] (types/ files' functions; this file never builds an engine key), BY and
 * GET values from strings and hash fields.
 *
 * ALPHA compares bytes (Redis: strcoll, which is the same in the C locale Redis runs in
 * by default). Elements with equal sort values keep the order they came in (a stable
 * sort, as glibc's qsort in Redis is): a list's order, a sorted set's, a set's own.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "hash.h"
#include "keyspace.h"
#include "list.h"
#include "notify.h"
#include "server.h"
#include "set.h"
#include "zset.h"

/* ---- where the elements come from ---- */

/* Every element of the key to sort, in its type's own order, through emit. */
typedef int (*sort_elements_fn)(keyspace *ks, int dbi, const set_ref *key, set_emit_fn emit,
                                void *ctx);

static int set_elements(keyspace *ks, int dbi, const set_ref *key, set_emit_fn emit, void *ctx)
{
    /* as Redis iterates a set: an intset by value, a hashtable in its own order */
    set_list l = {0};
    int rc = set_members(ks, dbi, key, set_list_emit, &l);
    rc = rc ? rc : set_list_intset_order(&l);
    for (size_t i = 0; rc == 0 && i < l.n; i++) {
        size_t len;
        const char *p = set_list_at(&l, i, &len);
        rc = emit(ctx, p, len);
    }
    set_list_free(&l);
    return rc;
}

/* A set_emit_fn called through the list and sorted-set readers' callbacks. */
typedef struct emit_through {
    set_emit_fn emit;
    void *ctx;
} emit_through;

static int through_list(void *ctx, const void *v, size_t vl)
{
    emit_through *t = ctx;
    return t->emit(t->ctx, v, vl);
}

static int through_zset(void *ctx, const char *member, size_t len, double score)
{
    (void)score;
    emit_through *t = ctx;
    return t->emit(t->ctx, member, len);
}

static int list_elements(keyspace *ks, int dbi, const set_ref *key, set_emit_fn emit, void *ctx)
{
    list l = {0};
    int rc = list_open(&l, ks, dbi, key->key, key->klen, key->m);
    emit_through t = {emit, ctx};
    rc = rc ? rc : list_read(&l, 0, list_len(&l), false, through_list, &t);
    list_close(&l);
    return rc;
}

static int zset_elements(keyspace *ks, int dbi, const set_ref *key, set_emit_fn emit, void *ctx)
{
    if (!key->m->size)
        return 0;
    zset_ref z = {.ks = ks, .dbi = dbi, .key = key->key, .klen = key->klen, .m = key->m};
    emit_through t = {emit, ctx};
    return zset_range_rank(&z, 0, key->m->size - 1, false, through_zset, &t);
}

/* The sortable types. ordered: the type has an order of its own, which BY without a
   star keeps (reversed by DESC); a set's is kept as it is. A list gives its elements
   head to tail, a sorted set its members by score (then member). */
static const struct sort_source {
    int type;
    sort_elements_fn elements;
    bool ordered;
} sort_sources[] = {
    {KS_TYPE_SET, set_elements, false},
    {KS_TYPE_LIST, list_elements, true},
    {KS_TYPE_ZSET, zset_elements, true},
};

static const struct sort_source *source_of(int type)
{
    for (size_t i = 0; i < sizeof sort_sources / sizeof sort_sources[0]; i++)
        if (sort_sources[i].type == type)
            return &sort_sources[i];
    return NULL;
}

/* ---- options ---- */

typedef struct sort_opts {
    bool desc, alpha, dontsort;
    long long limit_start, limit_count;
    const resp_arg *by;    /* a pattern with a star, or NULL: the elements themselves */
    const resp_arg **gets; /* GET patterns, in order */
    int ngets;
    const resp_arg *store; /* STORE's destination, or NULL */
} sort_opts;

/* Parses argv[2..]; false with the error replied. */
static bool parse_opts(client *c, bool readonly, sort_opts *o)
{
    memset(o, 0, sizeof *o);
    o->limit_count = -1;
    o->gets = calloc((size_t)c->cmd.argc, sizeof *o->gets);
    if (!o->gets) {
        reply_engine_error(c, -ENOMEM);
        return false;
    }
    resp_arg *a = c->cmd.argv;
    for (int j = 2; j < c->cmd.argc; j++) {
        int left = c->cmd.argc - j - 1;
        if (arg_is(&a[j], "asc")) {
            o->desc = false;
        } else if (arg_is(&a[j], "desc")) {
            o->desc = true;
        } else if (arg_is(&a[j], "alpha")) {
            o->alpha = true;
        } else if (arg_is(&a[j], "limit") && left >= 2) {
            if (!arg_ll(&a[j + 1], &o->limit_start) || !arg_ll(&a[j + 2], &o->limit_count)) {
                resp_error(&c->out, "ERR value is not an integer or out of range");
                return false;
            }
            j += 2;
        } else if (arg_is(&a[j], "by") && left >= 1) {
            o->by = &a[++j];
            /* a constant pattern: nothing to sort (and, as in Redis, for good) */
            if (!memchr(o->by->p, '*', strnlen(o->by->p, o->by->len)))
                o->dontsort = true;
        } else if (arg_is(&a[j], "get") && left >= 1) {
            o->gets[o->ngets++] = &a[++j];
        } else if (arg_is(&a[j], "store") && left >= 1 && !readonly) {
            o->store = &a[++j];
        } else {
            resp_error(&c->out, "ERR syntax error");
            return false;
        }
    }
    return true;
}

/* ---- BY and GET patterns ---- */

/* A value found through a pattern: *found, and its bytes in *val (malloc'ed). */
typedef struct found_value {
    bool found;
    char *p;
    size_t len;
} found_value;

static int keep_copy(found_value *v, const void *p, size_t len)
{
    v->p = malloc(len ? len : 1);
    if (!v->p)
        return -ENOMEM;
    memcpy(v->p, p, len);
    v->len = len;
    v->found = true;
    return 0;
}

/*
 * The value pattern pat names for element e, as Redis's lookupKeyByPattern: "#" is the
 * element; otherwise the first star is replaced by the element to make a key, whose
 * string value it is, or with "->field" after the star the hash's field. A pattern
 * without a star, a missing key or one of another type: not found. False with an error
 * replied (a read that failed).
 */
static bool lookup_pattern(server *s, client *c, const resp_arg *pat, const char *e, size_t el,
                           found_value *v)
{
    memset(v, 0, sizeof *v);
    size_t plen = strnlen(pat->p, pat->len); /* Redis reads the pattern as a C string */
    if (plen == 1 && pat->p[0] == '#') {
        if (keep_copy(v, e, el) == 0)
            return true;
        reply_engine_error(c, -ENOMEM);
        return false;
    }
    const char *star = memchr(pat->p, '*', plen);
    if (!star)
        return true;
    const char *end = pat->p + plen, *field = NULL;
    for (const char *f = star + 1; f + 2 <= end; f++)
        if (f[0] == '-' && f[1] == '>') {
            field = f + 2 < end ? f : NULL;
            break;
        }
    size_t pre = (size_t)(star - pat->p), post = (size_t)((field ? field : end) - star - 1);
    char *key = malloc(pre + el + post + 1);
    if (!key) {
        reply_engine_error(c, -ENOMEM);
        return false;
    }
    memcpy(key, pat->p, pre);
    memcpy(key + pre, e, el);
    memcpy(key + pre + el, star + 1, post);
    resp_arg k = {.p = key, .len = pre + el + post};
    ks_meta m;
    bool ok = read_key(s, c, c->db, &k, 0, true, &m);
    int rc = 0;
    if (ok && field && m.type == KS_TYPE_HASH) {
        void *val = NULL;
        size_t vl = 0;
        rc = hash_get_field(&s->ks, c->db, k.p, k.len, &m, field + 2, (size_t)(end - field - 2),
                            &val, &vl);
        rc = rc == 0 ? keep_copy(v, val, vl) : rc == SHALE_ENOTFOUND ? 0 : rc;
        shale_free(val);
    } else if (ok && !field && m.type == KS_TYPE_STRING) {
        rc = keep_copy(v, m.val, m.vlen);
    }
    if (ok)
        ks_meta_free(&m);
    free(key);
    if (rc) {
        reply_read_error(c, rc);
        return false;
    }
    return ok;
}

/* ---- the sort ---- */

typedef struct sort_item {
    const char *p; /* the element */
    size_t len;
    double score;   /* numeric sort */
    found_value by; /* ALPHA with BY: the value compared */
} sort_item;

typedef struct sort_ctx {
    const sort_opts *o;
    bool by_pattern;
} sort_ctx;

static int bytes_cmp(const char *a, size_t al, const char *b, size_t bl)
{
    int c = memcmp(a, b, al < bl ? al : bl);
    return c ? c : (al > bl) - (al < bl);
}

/* Redis's sortCompare: scores, ties by the elements' bytes; ALPHA by the BY values
   (missing first) or the elements; DESC reverses. */
static int item_cmp(const sort_ctx *x, const sort_item *a, const sort_item *b)
{
    int c;
    if (!x->o->alpha) {
        c = a->score > b->score   ? 1
            : a->score < b->score ? -1
                                  : bytes_cmp(a->p, a->len, b->p, b->len);
    } else if (x->by_pattern) {
        if (!a->by.found || !b->by.found)
            c = a->by.found == b->by.found ? 0 : a->by.found ? 1 : -1;
        else
            c = bytes_cmp(a->by.p, a->by.len, b->by.p, b->by.len);
    } else {
        c = bytes_cmp(a->p, a->len, b->p, b->len);
    }
    return x->o->desc ? -c : c;
}

/* A stable merge sort of v[0..n) (tmp: room for n). */
static void merge_sort(const sort_ctx *x, sort_item *v, sort_item *tmp, size_t n)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(x, v, tmp, h);
    merge_sort(x, v + h, tmp, n - h);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = item_cmp(x, &v[j], &v[i]) < 0 ? v[j++] : v[i++];
    while (i < h)
        tmp[k++] = v[i++];
    memcpy(v, tmp, k * sizeof *v);
}

/* strtod as Redis applies it: the bytes up to a NUL, all of them a number, not NaN,
   not out of range. */
static bool to_score(const char *p, size_t len, double *out)
{
    char small[64], *buf = len < sizeof small ? small : malloc(len + 1);
    if (!buf)
        return false;
    memcpy(buf, p, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    *out = strtod(buf, &end);
    bool ok = *end == '\0' && errno != ERANGE && !isnan(*out);
    if (buf != small)
        free(buf);
    return ok;
}

/* Gives each item what it sorts by; false with an error replied. *bad: a score that is
   not a number (Redis goes on and answers that error after sorting). */
static bool load_sort_values(server *s, client *c, const sort_opts *o, sort_item *v, size_t n,
                             bool *bad)
{
    if (o->alpha && !o->by)
        return true; /* the elements themselves are compared */
    for (size_t j = 0; j < n; j++) {
        found_value by = {.found = true, .p = (char *)v[j].p, .len = v[j].len};
        if (o->by && !lookup_pattern(s, c, o->by, v[j].p, v[j].len, &by))
            return false;
        if (o->alpha) {
            v[j].by = by; /* kept for the comparisons (missing ones sort first) */
            continue;
        }
        if (by.found && !to_score(by.p, by.len, &v[j].score))
            *bad = true;
        if (o->by)
            free(by.p);
    }
    return true;
}

static int push_element(void *ctx, const char *p, size_t len)
{
    return set_list_push(ctx, p, len);
}

/* Writes items [start, end] (or their GET values) as the reply, or an error when a
   GET's read fails. */
static void reply_items(server *s, client *c, const sort_opts *o, const sort_item *v,
                        long long start, long long end)
{
    resp_out body = {0};
    long long n = end - start + 1;
    for (long long j = start; j <= end; j++) {
        if (!o->ngets)
            resp_bulk(&body, v[j].p, v[j].len);
        for (int g = 0; g < o->ngets; g++) {
            found_value val;
            if (!lookup_pattern(s, c, o->gets[g], v[j].p, v[j].len, &val)) {
                resp_out_free(&body); /* the error is the reply */
                return;
            }
            if (val.found)
                resp_bulk(&body, val.p, val.len);
            else
                resp_null(&body, c->proto);
            free(val.p);
        }
    }
    if (body.err) {
        reply_engine_error(c, body.err);
    } else {
        resp_array(&c->out, o->ngets ? o->ngets * n : n);
        resp_raw(&c->out, body.data, body.len);
    }
    resp_out_free(&body);
}

/* STORE: items [start, end] (or their GET values, a missing one as an empty string)
   replace dst as a list, or delete it when there are none; replies their count. */
static void store_items(server *s, client *c, const sort_opts *o, const sort_item *v,
                        long long start, long long end)
{
    ks_meta old;
    if (!read_key(s, c, c->db, o->store, 0, false, &old))
        return;
    ks_meta none = {0};
    list l = {0};
    ks_begin(&s->ks);
    int rc = ks_del_key(&s->ks, c->db, o->store->p, o->store->len, &old);
    rc = rc ? rc : list_open(&l, &s->ks, c->db, o->store->p, o->store->len, &none);
    for (long long j = start; rc == 0 && j <= end; j++) {
        if (!o->ngets)
            rc = list_push(&l, false, v[j].p, v[j].len);
        for (int g = 0; rc == 0 && g < o->ngets; g++) {
            found_value val;
            if (!lookup_pattern(s, c, o->gets[g], v[j].p, v[j].len, &val)) {
                ks_abort(&s->ks); /* the error is the reply */
                goto out;
            }
            rc = list_push(&l, false, val.found ? val.p : "", val.found ? val.len : 0);
            free(val.p);
        }
    }
    rc = rc ? rc : list_save(&l);
    notify_stored(s, NOTIFY_LIST, "sortstore", c->db, o->store, list_len(&l), old.type != 0);
    if (ks_finish(s, c, rc))
        resp_integer(&c->out, (long long)list_len(&l));
out:
    list_close(&l);
    ks_meta_free(&old);
}

static void sort_generic(server *s, client *c, bool readonly)
{
    sort_opts o;
    if (!parse_opts(c, readonly, &o)) {
        free(o.gets);
        return;
    }
    resp_arg *key = &c->cmd.argv[1];
    ks_meta m;
    if (!read_key(s, c, c->db, key, 0, true, &m)) {
        free(o.gets);
        return;
    }
    const struct sort_source *src = m.type ? source_of(m.type) : NULL;
    if (m.type && !src) {
        resp_error(&c->out, WRONGTYPE_ERR);
        ks_meta_free(&m);
        free(o.gets);
        return;
    }
    /* As Redis: a set's own order is no order, so what is stored, or returned to a
       script, is sorted (ALPHA, by the elements) to be the same wherever it runs. */
    if (o.dontsort && m.type == KS_TYPE_SET && (o.store || c->in_script)) {
        o.dontsort = false;
        o.alpha = true;
        o.by = NULL;
    }
    set_list elems = {0};
    set_ref ref = {.key = key->p, .klen = key->len, .m = &m};
    int rc = src ? src->elements(&s->ks, c->db, &ref, push_element, &elems) : 0;
    size_t n = elems.n;
    sort_item *v = calloc(n ? n : 1, sizeof *v), *tmp = NULL;
    if (rc || !v) {
        reply_read_error(c, rc ? rc : -ENOMEM);
        goto out;
    }
    for (size_t j = 0; j < n; j++)
        v[j].p = set_list_at(&elems, src && src->ordered && o.dontsort && o.desc ? n - 1 - j : j,
                             &v[j].len);
    /* LIMIT as Redis clamps it */
    long long len = (long long)n, start, end, count;
    start = o.limit_start < 0 ? 0 : o.limit_start > len ? len : o.limit_start;
    count = o.limit_count < -1 ? -1 : o.limit_count > len ? len : o.limit_count;
    end = count < 0 ? len - 1 : start + count - 1;
    if (start >= len) {
        start = len - 1;
        end = len - 2;
    }
    if (end >= len)
        end = len - 1;
    bool bad = false;
    if (!o.dontsort) {
        sort_ctx x = {.o = &o, .by_pattern = o.by != NULL};
        tmp = malloc((n ? n : 1) * sizeof *tmp);
        if (!tmp) {
            reply_engine_error(c, -ENOMEM);
            goto out;
        }
        if (!load_sort_values(s, c, &o, v, n, &bad))
            goto out;
        merge_sort(&x, v, tmp, n);
    }
    if (bad)
        resp_error(&c->out, "ERR One or more scores can't be converted into double");
    else if (o.store)
        store_items(s, c, &o, v, start, end);
    else
        reply_items(s, c, &o, v, start, end);
out:
    for (size_t j = 0; v && j < n; j++)
        free(v[j].by.p);
    free(v);
    free(tmp);
    set_list_free(&elems);
    ks_meta_free(&m);
    free(o.gets);
}

void cmd_sort(server *s, client *c)
{
    sort_generic(s, c, false);
}

void cmd_sort_ro(server *s, client *c)
{
    sort_generic(s, c, true);
}
