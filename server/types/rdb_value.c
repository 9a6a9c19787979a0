/* rdb_value.c - the neutral value that DUMP reads a key into and RESTORE writes (rdb.h). */
#include "rdb.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void rdb_value_init(rdb_value *v, int type)
{
    memset(v, 0, sizeof *v);
    v->type = type;
}

void rdb_value_free(rdb_value *v)
{
    free(v->off);
    free(v->data);
    free(v->score);
    rdb_value_init(v, v->type);
}

/* Room for one more item of n bytes (and its score for a sorted set). */
static int reserve(rdb_value *v, size_t n)
{
    if (v->n + 2 > v->offcap) {
        size_t cap = v->offcap ? v->offcap * 2 : 16;
        size_t *off = realloc(v->off, cap * sizeof *off);
        if (!off)
            return -ENOMEM;
        v->off = off;
        if (v->type == KS_TYPE_ZSET) {
            double *sc = realloc(v->score, cap * sizeof *sc);
            if (!sc)
                return -ENOMEM;
            v->score = sc;
        }
        v->offcap = cap;
    }
    if (n > v->cap - v->len || !v->data) { /* never NULL: items may be empty */
        if (n > SIZE_MAX / 2 - v->len)
            return -ENOMEM;
        size_t cap = v->cap ? v->cap : 64;
        while (cap - v->len < n)
            cap *= 2;
        char *d = realloc(v->data, cap);
        if (!d)
            return -ENOMEM;
        v->data = d;
        v->cap = cap;
    }
    return 0;
}

int rdb_value_add(rdb_value *v, const void *p, size_t n)
{
    int rc = v->err ? v->err : reserve(v, n);
    if (rc)
        return v->err = rc;
    if (v->n == 0)
        v->off[0] = 0;
    if (n)
        memcpy(v->data + v->len, p, n);
    v->len += n;
    v->off[++v->n] = v->len;
    return 0;
}

int rdb_value_add_scored(rdb_value *v, const void *p, size_t n, double score)
{
    int rc = rdb_value_add(v, p, n);
    if (rc == 0)
        v->score[v->n - 1] = score;
    return rc;
}

const char *rdb_value_item(const rdb_value *v, size_t i, size_t *len)
{
    *len = v->off[i + 1] - v->off[i];
    return v->data + v->off[i];
}

size_t rdb_value_members(const rdb_value *v)
{
    return v->type == KS_TYPE_HASH ? v->n / 2 : v->n;
}
