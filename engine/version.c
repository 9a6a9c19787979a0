/*
 * version.c - file metadata, version edits and immutable versions: building a version
 * from a base and an edit, point lookups and iterators through a version's tables.
 * The manifest (persistence of edits) is in manifest.c.
 */
#include "version.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "range_del.h"
#include "shale.h"
#include "table_cache.h"
#include "vlog.h"

/* ---- file_meta ---- */

file_meta *file_meta_new(void)
{
    file_meta *f = calloc(1, sizeof *f);
    if (f) {
        atomic_init(&f->refs, 1);
        f->num_live_keys = UINT64_MAX;
    }
    return f;
}

void file_meta_ref(file_meta *f)
{
    atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
}

static void push_obsolete(version_set *vs, uint64_t **list, int *n, int *cap, uint64_t number)
{
    pthread_mutex_lock(&vs->obsolete_mu);
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 16;
        uint64_t *p = realloc(*list, (size_t)c * sizeof *p);
        if (!p) { /* the file stays on disk; the next open's directory sweep removes it */
            pthread_mutex_unlock(&vs->obsolete_mu);
            return;
        }
        *list = p;
        *cap = c;
    }
    (*list)[(*n)++] = number;
    pthread_mutex_unlock(&vs->obsolete_mu);
}

static void add_obsolete(version_set *vs, uint64_t number)
{
    push_obsolete(vs, &vs->obsolete, &vs->n_obsolete, &vs->cap_obsolete, number);
}

void version_set_add_obsolete_log(version_set *vs, uint64_t number)
{
    push_obsolete(vs, &vs->obsolete_logs, &vs->n_obsolete_logs, &vs->cap_obsolete_logs, number);
}

/* Drops a reference; vs (may be NULL) learns about a table nothing references any more. */
void file_meta_unref(file_meta *f, version_set *vs)
{
    if (atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel) != 1)
        return;
    table_cache_unpin(&f->pinned); /* before the file is evicted and deleted */
    if (vs)
        add_obsolete(vs, f->number);
    buf_free(&f->smallest);
    buf_free(&f->largest);
    free(f);
}

static slice fm_smallest_user(const file_meta *f)
{
    return ikey_user_key(buf_slice(&f->smallest));
}
static slice fm_largest_user(const file_meta *f)
{
    return ikey_user_key(buf_slice(&f->largest));
}

/* ---- version_edit ---- */

void edit_init(version_edit *e)
{
    memset(e, 0, sizeof *e);
}

void edit_destroy(version_edit *e)
{
    for (int i = 0; i < e->n_added; i++)
        file_meta_unref(e->added[i].f, NULL);
    free(e->added);
    free(e->deleted);
    free(e->vlog);
    free(e->vlog_deleted);
    memset(e, 0, sizeof *e);
}

int edit_vlog_add(version_edit *e, const vlog_delta *d)
{
    for (int i = 0; i < e->n_vlog; i++) {
        vlog_delta *x = &e->vlog[i];
        if (x->number != d->number)
            continue;
        x->pointed += d->pointed;
        x->discarded += d->discarded;
        x->exp_pointed += d->exp_pointed;
        x->exp_discarded += d->exp_discarded;
        if (d->exp_max > x->exp_max)
            x->exp_max = d->exp_max;
        return 0;
    }
    if (e->n_vlog == e->cap_vlog) {
        int cap = e->cap_vlog ? e->cap_vlog * 2 : 8;
        vlog_delta *p = realloc(e->vlog, (size_t)cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        e->vlog = p;
        e->cap_vlog = cap;
    }
    e->vlog[e->n_vlog++] = *d;
    return 0;
}

int edit_vlog_delete(version_edit *e, uint64_t number)
{
    if (e->n_vlog_deleted == e->cap_vlog_deleted) {
        int cap = e->cap_vlog_deleted ? e->cap_vlog_deleted * 2 : 4;
        uint64_t *p = realloc(e->vlog_deleted, (size_t)cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        e->vlog_deleted = p;
        e->cap_vlog_deleted = cap;
    }
    e->vlog_deleted[e->n_vlog_deleted++] = number;
    return 0;
}

int edit_add_file(version_edit *e, int level, file_meta *f)
{
    if (e->n_added == e->cap_added) {
        int cap = e->cap_added ? e->cap_added * 2 : 8;
        added_file *p = realloc(e->added, (size_t)cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        e->added = p;
        e->cap_added = cap;
    }
    file_meta_ref(f);
    e->added[e->n_added++] = (added_file){level, f};
    return 0;
}

int edit_delete_file(version_edit *e, int level, uint64_t number)
{
    if (e->n_deleted == e->cap_deleted) {
        int cap = e->cap_deleted ? e->cap_deleted * 2 : 8;
        deleted_file *p = realloc(e->deleted, (size_t)cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        e->deleted = p;
        e->cap_deleted = cap;
    }
    e->deleted[e->n_deleted++] = (deleted_file){level, number};
    return 0;
}

/* Manifest record tags (docs/format.md). */
enum {
    TAG_LOG_NUMBER = 1,
    TAG_NEXT_FILE = 2,
    TAG_LAST_SEQ = 3,
    TAG_DELETED_FILE = 4,
    TAG_NEW_FILE = 5,
    TAG_LOG_OFFSET = 6,
    TAG_VLOG_DELTA = 7,
    TAG_VLOG_DELETED = 8,
    /* tag 5's fields, then varint32 n and n varint64 fields (live keys, ...): written for
       tables whose newer figures are known (issue 17); readers skip fields they do not
       know */
    TAG_NEW_FILE_EX = 9, /* fields: live keys, range tombstones (0 when absent) */
};

int edit_encode(const version_edit *e, buf *out)
{
    int rc = 0;
    if (e->has_log_number) {
        rc |= put_varint32(out, TAG_LOG_NUMBER);
        rc |= put_varint64(out, e->log_number);
    }
    if (e->has_log_number && e->log_offset) {
        rc |= put_varint32(out, TAG_LOG_OFFSET);
        rc |= put_varint64(out, e->log_offset);
    }
    if (e->has_next_file) {
        rc |= put_varint32(out, TAG_NEXT_FILE);
        rc |= put_varint64(out, e->next_file_number);
    }
    if (e->has_last_seq) {
        rc |= put_varint32(out, TAG_LAST_SEQ);
        rc |= put_varint64(out, e->last_seq);
    }
    for (int i = 0; i < e->n_deleted; i++) {
        rc |= put_varint32(out, TAG_DELETED_FILE);
        rc |= put_varint32(out, (uint32_t)e->deleted[i].level);
        rc |= put_varint64(out, e->deleted[i].number);
    }
    for (int i = 0; i < e->n_added; i++) {
        const file_meta *f = e->added[i].f;
        bool ex = f->num_live_keys != UINT64_MAX || f->num_range_dels;
        rc |= put_varint32(out, ex ? TAG_NEW_FILE_EX : TAG_NEW_FILE);
        rc |= put_varint32(out, (uint32_t)e->added[i].level);
        rc |= put_varint64(out, f->number);
        rc |= put_varint64(out, f->file_size);
        rc |= put_length_prefixed(out, buf_slice(&f->smallest));
        rc |= put_length_prefixed(out, buf_slice(&f->largest));
        rc |= put_varint64(out, f->min_seq);
        rc |= put_varint64(out, f->max_seq);
        rc |= put_varint64(out, f->num_entries);
        rc |= put_varint64(out, f->num_deletes);
        rc |= put_varint64(out, f->max_expire_at_ms);
        if (ex) {
            rc |= put_varint32(out, f->num_range_dels ? 2 : 1);
            rc |= put_varint64(out, f->num_live_keys);
            if (f->num_range_dels)
                rc |= put_varint64(out, f->num_range_dels);
        }
    }
    for (int i = 0; i < e->n_vlog; i++) {
        const vlog_delta *d = &e->vlog[i];
        rc |= put_varint32(out, TAG_VLOG_DELTA);
        rc |= put_varint64(out, d->number);
        rc |= put_varint64(out, d->pointed);
        rc |= put_varint64(out, d->discarded);
        rc |= put_varint64(out, d->exp_pointed);
        rc |= put_varint64(out, d->exp_discarded);
        rc |= put_varint64(out, d->exp_max);
    }
    for (int i = 0; i < e->n_vlog_deleted; i++) {
        rc |= put_varint32(out, TAG_VLOG_DELETED);
        rc |= put_varint64(out, e->vlog_deleted[i]);
    }
    return rc ? -ENOMEM : 0;
}

/* Tag 9's extra fields: varint32 n, n varint64 (live keys, range tombstones, then any a
   newer writer added, skipped). Non-zero on a malformed record. */
static int decode_file_extra(slice *in, file_meta *f)
{
    uint32_t n;
    if (get_varint32(in, &n) || n > in->len)
        return -1;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t v;
        if (get_varint64(in, &v))
            return -1;
        if (i == 0)
            f->num_live_keys = v;
        else if (i == 1)
            f->num_range_dels = v;
    }
    return 0;
}

int edit_decode(slice in, version_edit *e)
{
    edit_init(e);
    while (in.len > 0) {
        uint32_t tag, level;
        if (get_varint32(&in, &tag))
            goto corrupt;
        switch (tag) {
        case TAG_LOG_NUMBER:
            if (get_varint64(&in, &e->log_number))
                goto corrupt;
            e->has_log_number = true;
            break;
        case TAG_LOG_OFFSET:
            if (get_varint64(&in, &e->log_offset))
                goto corrupt;
            break;
        case TAG_VLOG_DELTA: {
            vlog_delta d;
            if (get_varint64(&in, &d.number) || get_varint64(&in, &d.pointed) ||
                get_varint64(&in, &d.discarded) || get_varint64(&in, &d.exp_pointed) ||
                get_varint64(&in, &d.exp_discarded) || get_varint64(&in, &d.exp_max))
                goto corrupt;
            if (edit_vlog_add(e, &d))
                goto nomem;
            break;
        }
        case TAG_VLOG_DELETED: {
            uint64_t number;
            if (get_varint64(&in, &number))
                goto corrupt;
            if (edit_vlog_delete(e, number))
                goto nomem;
            break;
        }
        case TAG_NEXT_FILE:
            if (get_varint64(&in, &e->next_file_number))
                goto corrupt;
            e->has_next_file = true;
            break;
        case TAG_LAST_SEQ:
            if (get_varint64(&in, &e->last_seq))
                goto corrupt;
            e->has_last_seq = true;
            break;
        case TAG_DELETED_FILE: {
            uint64_t number;
            if (get_varint32(&in, &level) || get_varint64(&in, &number) ||
                level >= SHALE_MAX_LEVELS)
                goto corrupt;
            if (edit_delete_file(e, (int)level, number))
                goto nomem;
            break;
        }
        case TAG_NEW_FILE:
        case TAG_NEW_FILE_EX: {
            file_meta *f = file_meta_new();
            if (!f)
                goto nomem;
            slice sm, lg;
            if (get_varint32(&in, &level) || level >= SHALE_MAX_LEVELS ||
                get_varint64(&in, &f->number) || get_varint64(&in, &f->file_size) ||
                get_length_prefixed(&in, &sm) || get_length_prefixed(&in, &lg) ||
                sm.len < TRAILER_SIZE || lg.len < TRAILER_SIZE || get_varint64(&in, &f->min_seq) ||
                get_varint64(&in, &f->max_seq) || get_varint64(&in, &f->num_entries) ||
                get_varint64(&in, &f->num_deletes) || get_varint64(&in, &f->max_expire_at_ms) ||
                (tag == TAG_NEW_FILE_EX && decode_file_extra(&in, f))) {
                file_meta_unref(f, NULL);
                goto corrupt;
            }
            int rc = buf_set(&f->smallest, sm.data, sm.len) | buf_set(&f->largest, lg.data, lg.len);
            if (!rc)
                rc = edit_add_file(e, (int)level, f);
            file_meta_unref(f, NULL);
            if (rc)
                goto nomem;
            break;
        }
        default:
            goto corrupt;
        }
    }
    return 0;
corrupt:
    edit_destroy(e);
    return SHALE_ECORRUPT;
nomem:
    edit_destroy(e);
    return -ENOMEM;
}

/* ---- version ---- */

void version_ref(version *v)
{
    atomic_fetch_add_explicit(&v->refs, 1, memory_order_relaxed);
}

void version_unref(version *v)
{
    if (!v || atomic_fetch_sub_explicit(&v->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (int l = 0; l < v->num_levels; l++) {
        for (int i = 0; i < v->nfiles[l]; i++)
            file_meta_unref(v->files[l][i], v->vs);
        free(v->files[l]);
    }
    for (int i = 0; i < v->nsegs; i++)
        vlog_segment_unref(v->segs[i], v->vs);
    free(v->segs);
    free(v);
}

vlog_segment *version_segment(const version *v, uint64_t number)
{
    int lo = 0, hi = v->nsegs - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        uint64_t n = v->segs[mid]->number;
        if (n == number)
            return v->segs[mid];
        if (n < number)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static bool vlog_is_deleted(const version_edit *e, uint64_t number)
{
    for (int i = 0; i < e->n_vlog_deleted; i++)
        if (e->vlog_deleted[i] == number)
            return true;
    return false;
}

static int cmp_seg(const void *a, const void *b)
{
    uint64_t x = (*(vlog_segment *const *)a)->number, y = (*(vlog_segment *const *)b)->number;
    return (x > y) - (x < y);
}

/* v's segments: base's minus the deleted ones, plus the ones e points to first. */
static int apply_segments(version *v, const version *base, const version_edit *e)
{
    int n = (base ? base->nsegs : 0) + e->n_vlog;
    v->segs = malloc((size_t)(n ? n : 1) * sizeof *v->segs);
    if (!v->segs)
        return -ENOMEM;
    int k = 0;
    for (int i = 0; base && i < base->nsegs; i++) {
        if (e->n_vlog_deleted && vlog_is_deleted(e, base->segs[i]->number))
            continue;
        vlog_segment_ref(base->segs[i]);
        v->segs[k++] = base->segs[i];
    }
    v->nsegs = k; /* so version_segment sees the base's segments */
    for (int i = 0; i < e->n_vlog; i++) {
        const vlog_delta *d = &e->vlog[i];
        if (d->pointed == 0 || vlog_is_deleted(e, d->number))
            continue; /* counters only: for a segment it has (or one GC deleted) */
        bool have = false;
        for (int j = 0; j < k && !have; j++)
            have = v->segs[j]->number == d->number;
        if (have)
            continue;
        vlog_segment *s = vlog_segment_new(v->vs->dir, d->number);
        if (!s)
            return -ENOMEM;
        v->segs[k++] = s;
        v->nsegs = k;
    }
    v->nsegs = k;
    qsort(v->segs, (size_t)k, sizeof *v->segs, cmp_seg);
    return 0;
}

void version_apply_vlog_counters(version *v, const version_edit *e)
{
    for (int i = 0; i < e->n_vlog; i++) {
        const vlog_delta *d = &e->vlog[i];
        vlog_segment *s = version_segment(v, d->number);
        if (!s)
            continue;
        atomic_fetch_add(&s->pointed, d->pointed);
        atomic_fetch_add(&s->discarded, d->discarded);
        atomic_fetch_add(&s->exp_pointed, d->exp_pointed);
        atomic_fetch_add(&s->exp_discarded, d->exp_discarded);
        if (d->exp_max > atomic_load(&s->exp_max))
            atomic_store(&s->exp_max, d->exp_max);
    }
}

static int cmp_l0(const void *a, const void *b)
{
    const file_meta *x = *(file_meta *const *)a, *y = *(file_meta *const *)b;
    if (x->max_seq != y->max_seq)
        return x->max_seq > y->max_seq ? -1 : 1; /* newest first */
    return x->number > y->number ? -1 : (x->number < y->number);
}

static int cmp_by_key(const void *a, const void *b)
{
    const file_meta *x = *(file_meta *const *)a, *y = *(file_meta *const *)b;
    int r = ikey_compare(buf_slice(&x->smallest), buf_slice(&y->smallest));
    if (r)
        return r;
    return x->number < y->number ? -1 : (x->number > y->number);
}

static bool is_deleted(const version_edit *e, int level, uint64_t number)
{
    for (int i = 0; i < e->n_deleted; i++)
        if (e->deleted[i].level == level && e->deleted[i].number == number)
            return true;
    return false;
}

int version_apply(version_set *vs, version *base, const version_edit *e, version **out)
{
    *out = NULL;
    version *v = calloc(1, sizeof *v);
    if (!v)
        return -ENOMEM;
    v->vs = vs;
    atomic_init(&v->refs, 1);
    v->num_levels = vs->opts->num_levels;
    for (int l = 0; l < v->num_levels; l++) {
        int n = base ? base->nfiles[l] : 0;
        for (int i = 0; i < e->n_added; i++)
            n += e->added[i].level == l;
        v->files[l] = malloc((size_t)(n ? n : 1) * sizeof(file_meta *));
        if (!v->files[l]) {
            version_unref(v);
            return -ENOMEM;
        }
        int k = 0;
        for (int i = 0; base && i < base->nfiles[l]; i++) {
            file_meta *f = base->files[l][i];
            if (e->n_deleted && is_deleted(e, l, f->number))
                continue;
            file_meta_ref(f);
            v->files[l][k++] = f;
        }
        for (int i = 0; i < e->n_added; i++) {
            if (e->added[i].level != l)
                continue;
            file_meta_ref(e->added[i].f);
            v->files[l][k++] = e->added[i].f;
        }
        v->nfiles[l] = k;
        qsort(v->files[l], (size_t)k, sizeof(file_meta *), l == 0 ? cmp_l0 : cmp_by_key);
        uint64_t bytes = 0;
        for (int i = 0; i < k; i++) {
            bytes += v->files[l][i]->file_size;
            v->rdel_files[l] += v->files[l][i]->num_range_dels > 0;
        }
        v->level_bytes[l] = bytes;
    }
    if (apply_segments(v, base, e)) {
        version_unref(v);
        return -ENOMEM;
    }
    *out = v;
    return 0;
}

bool version_has_file(const version *v, uint64_t number)
{
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++)
            if (v->files[l][i]->number == number)
                return true;
    return false;
}

/* Index of the first file in a sorted level whose largest key >= ikey (n when none). */
static int find_file(file_meta **files, int n, slice ikey)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ikey_compare(buf_slice(&files[mid]->largest), ikey) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Same, by user key. */
static int find_file_user(file_meta **files, int n, slice user_key)
{
    int lo = 0, hi = n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (slice_compare(fm_largest_user(files[mid]), user_key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

typedef struct get_state {
    slice user_key;
    int found; /* 1: an entry for the key */
    int kind;
    uint64_t seq;
    buf *value;
    int rc;
} get_state;

static void on_found(void *arg, slice ikey, slice value)
{
    get_state *s = arg;
    parsed_ikey p;
    if (ikey_parse(ikey, &p)) {
        s->rc = SHALE_ECORRUPT;
        return;
    }
    if (!slice_equal(p.user_key, s->user_key))
        return;
    s->found = 1;
    s->kind = p.kind;
    s->seq = p.seq;
    if (buf_set(s->value, value.data, value.len))
        s->rc = -ENOMEM;
}

void version_prefetch(version *v, uint64_t hash)
{
    for (int i = 0; i < v->nfiles[0]; i++)
        table_cache_prefetch_filter(&v->files[0][i]->pinned, hash);
}

/*
 * After f's point lookup: f's range tombstones over the key (issue 17). A key's versions
 * and the tombstones over it get older from table to table as the lookup goes (a
 * compaction keeps a key's entries and the fragments over it in one table), so f's
 * newest tombstone over the key decides: an entry of f below it is deleted, and with no
 * entry in f every older one is. Returns whether the lookup is decided (s->found, with
 * kind KIND_DELETE when a tombstone won). Errors in s->rc.
 */
static bool apply_range_dels(table_cache *tc, file_meta *f, uint64_t max_seq, get_state *s)
{
    if (f->num_range_dels == 0 || s->rc)
        return s->found || s->rc;
    rdel_list *l;
    s->rc = table_cache_range_dels(tc, &f->pinned, f->number, f->file_size, &l);
    uint64_t cover = s->rc ? 0 : rdel_list_cover(l, s->user_key, max_seq);
    rdel_list_unref(l);
    if (cover && (!s->found || s->seq < cover)) {
        s->found = 1;
        s->kind = KIND_DELETE;
        s->seq = cover;
        s->value->len = 0;
    }
    return s->found || s->rc;
}

int version_get(version *v, table_cache *tc, slice user_key, uint64_t hash, uint64_t max_seq,
                bool fill_cache, int *found, int *kind, buf *value)
{
    char stackbuf[256];
    buf lookup = {0};
    slice ikey;
    *found = 0;
    if (user_key.len + TRAILER_SIZE <= sizeof stackbuf) {
        memcpy(stackbuf, user_key.data, user_key.len);
        encode_fixed64(stackbuf + user_key.len, pack_trailer(max_seq, KIND_FOR_SEEK));
        ikey = slice_make(stackbuf, user_key.len + TRAILER_SIZE);
    } else {
        if (ikey_append(&lookup, user_key, max_seq, KIND_FOR_SEEK))
            return -ENOMEM;
        ikey = buf_slice(&lookup);
    }
    get_state s = {user_key, 0, 0, 0, value, 0};
    int rc = 0;
    for (int i = 0; i < v->nfiles[0] && !s.found; i++) {
        file_meta *f = v->files[0][i];
        if (f->min_seq > max_seq)
            continue;
        if (slice_compare(user_key, fm_smallest_user(f)) < 0 ||
            slice_compare(user_key, fm_largest_user(f)) > 0)
            continue;
        rc = table_cache_get_pinned(tc, &f->pinned, f->number, f->file_size, ikey, hash, fill_cache,
                                    on_found, &s);
        if (rc || apply_range_dels(tc, f, max_seq, &s))
            goto done;
    }
    for (int l = 1; l < v->num_levels && !s.found; l++) {
        int n = v->nfiles[l];
        if (n == 0)
            continue;
        int i = find_file(v->files[l], n, ikey);
        if (i >= n)
            continue;
        file_meta *f = v->files[l][i];
        if (slice_compare(user_key, fm_smallest_user(f)) < 0)
            continue;
        rc = table_cache_get_pinned(tc, &f->pinned, f->number, f->file_size, ikey, hash, fill_cache,
                                    on_found, &s);
        if (rc || apply_range_dels(tc, f, max_seq, &s))
            goto done;
    }
done:
    buf_free(&lookup);
    if (!rc)
        rc = s.rc;
    if (!rc && s.found) {
        *found = 1;
        *kind = s.kind;
    }
    return rc;
}

int version_overlapping(const version *v, int level, const slice *begin, const slice *end,
                        file_meta ***out, int *n)
{
    *out = NULL;
    *n = 0;
    int cnt = v->nfiles[level];
    file_meta **res = malloc((size_t)(cnt ? cnt : 1) * sizeof *res);
    if (!res)
        return -ENOMEM;
    slice b = begin ? *begin : slice_make(NULL, 0);
    slice e = end ? *end : slice_make(NULL, 0);
    bool has_b = begin != NULL, has_e = end != NULL;
    int k = 0;
    for (int i = 0; i < cnt; i++) {
        file_meta *f = v->files[level][i];
        slice fs = fm_smallest_user(f), fl = fm_largest_user(f);
        if (has_b && slice_compare(fl, b) < 0)
            continue;
        if (has_e && slice_compare(fs, e) > 0)
            continue;
        res[k++] = f;
        if (level == 0) {
            /* L0 files overlap each other: widen the range and start over, as LevelDB does */
            bool widened = false;
            if (has_b && slice_compare(fs, b) < 0) {
                b = fs;
                widened = true;
            }
            if (has_e && slice_compare(fl, e) > 0) {
                e = fl;
                widened = true;
            }
            if (widened) {
                k = 0;
                i = -1;
            }
        }
    }
    *out = res;
    *n = k;
    return 0;
}

bool version_overlap_in_levels_below(const version *v, int level, slice a, slice b)
{
    for (int l = level + 1; l < v->num_levels; l++) {
        int n = v->nfiles[l];
        int i = find_file_user(v->files[l], n, a);
        if (i < n && slice_compare(fm_smallest_user(v->files[l][i]), b) <= 0)
            return true;
    }
    return false;
}

/* ---- level iterator: concatenates the sorted, disjoint tables of one level ---- */

typedef struct level_iter {
    iter base;
    table_cache *tc;
    bool fill_cache;
    file_meta **files; /* borrowed from the version, which the caller keeps alive */
    int n;
    int index; /* file of `cur`, or -1 */
    iter *cur;
    int status;
} level_iter;

static void li_open(level_iter *li, int index)
{
    if (li->index == index && li->cur)
        return;
    if (li->cur) {
        int st = iter_status(li->cur);
        if (st && !li->status)
            li->status = st;
        iter_free(li->cur);
        li->cur = NULL;
    }
    li->index = index;
    if (index < 0 || index >= li->n)
        return;
    file_meta *f = li->files[index];
    li->cur = table_cache_iter(li->tc, f->number, f->file_size, li->fill_cache);
    if (!li->cur && !li->status)
        li->status = -ENOMEM;
}

static void li_skip_forward(level_iter *li)
{
    while (li->cur && !iter_valid(li->cur)) {
        if (iter_status(li->cur))
            return;
        if (li->index + 1 >= li->n) {
            li_open(li, -1);
            return;
        }
        li_open(li, li->index + 1);
        if (li->cur)
            iter_seek_to_first(li->cur);
    }
}

static void li_skip_backward(level_iter *li)
{
    while (li->cur && !iter_valid(li->cur)) {
        if (iter_status(li->cur))
            return;
        if (li->index <= 0) {
            li_open(li, -1);
            return;
        }
        li_open(li, li->index - 1);
        if (li->cur)
            iter_seek_to_last(li->cur);
    }
}

static bool li_valid(const iter *it)
{
    const level_iter *li = (const level_iter *)it;
    return li->cur && iter_valid(li->cur);
}

static void li_seek_to_first(iter *it)
{
    level_iter *li = (level_iter *)it;
    li_open(li, 0);
    if (li->cur)
        iter_seek_to_first(li->cur);
    li_skip_forward(li);
}

static void li_seek_to_last(iter *it)
{
    level_iter *li = (level_iter *)it;
    li_open(li, li->n - 1);
    if (li->cur)
        iter_seek_to_last(li->cur);
    li_skip_backward(li);
}

static void li_seek(iter *it, slice target)
{
    level_iter *li = (level_iter *)it;
    li_open(li, find_file(li->files, li->n, target));
    if (li->cur)
        iter_seek(li->cur, target);
    li_skip_forward(li);
}

static void li_seek_for_prev(iter *it, slice target)
{
    level_iter *li = (level_iter *)it;
    int i = find_file(li->files, li->n, target);
    if (i >= li->n)
        i = li->n - 1;
    li_open(li, i);
    if (li->cur)
        iter_seek_for_prev(li->cur, target);
    li_skip_backward(li);
}

static void li_next(iter *it)
{
    level_iter *li = (level_iter *)it;
    iter_next(li->cur);
    li_skip_forward(li);
}

static void li_prev(iter *it)
{
    level_iter *li = (level_iter *)it;
    iter_prev(li->cur);
    li_skip_backward(li);
}

static slice li_key(const iter *it)
{
    return iter_key(((const level_iter *)it)->cur);
}

static slice li_value(const iter *it)
{
    return iter_value(((const level_iter *)it)->cur);
}

static int li_status(const iter *it)
{
    const level_iter *li = (const level_iter *)it;
    if (li->status)
        return li->status;
    return li->cur ? iter_status(li->cur) : 0;
}

static void li_destroy(iter *it)
{
    level_iter *li = (level_iter *)it;
    iter_free(li->cur);
    free(li);
}

static const iter_ops level_iter_ops = {
    li_valid, li_seek_to_first, li_seek_to_last, li_seek,   li_seek_for_prev, li_next,
    li_prev,  li_key,           li_value,        li_status, li_destroy};

iter *level_iter_new(table_cache *tc, file_meta **files, int n, bool fill_cache)
{
    level_iter *li = calloc(1, sizeof *li);
    if (!li)
        return NULL;
    li->base.ops = &level_iter_ops;
    li->tc = tc;
    li->fill_cache = fill_cache;
    li->files = files;
    li->n = n;
    li->index = -1;
    return &li->base;
}

int version_max_iterators(const version *v)
{
    return v->nfiles[0] + v->num_levels;
}

/* Whether f's user keys may meet [lower, upper) (a bound with NULL data is open). */
static bool file_in_bounds(const file_meta *f, slice lower, slice upper)
{
    return !(upper.data && slice_compare(fm_smallest_user(f), upper) >= 0) &&
           !(lower.data && slice_compare(fm_largest_user(f), lower) < 0);
}

/* Whether a sorted level has a file that may hold user keys in [lower, upper). */
static bool level_in_bounds(file_meta **files, int n, slice lower, slice upper)
{
    int i = lower.data ? find_file_user(files, n, lower) : 0;
    return i < n && file_in_bounds(files[i], lower, upper);
}

int version_add_iterators(version *v, table_cache *tc, bool fill_cache, slice lower,
                          slice upper, iter **its, int *n)
{
    for (int i = 0; i < v->nfiles[0]; i++) {
        file_meta *f = v->files[0][i];
        if (!file_in_bounds(f, lower, upper))
            continue;
        iter *it = table_cache_iter(tc, f->number, f->file_size, fill_cache);
        if (!it)
            return -ENOMEM;
        its[(*n)++] = it;
    }
    for (int l = 1; l < v->num_levels; l++) {
        if (v->nfiles[l] == 0 || !level_in_bounds(v->files[l], v->nfiles[l], lower, upper))
            continue;
        iter *it = level_iter_new(tc, v->files[l], v->nfiles[l], fill_cache);
        if (!it)
            return -ENOMEM;
        its[(*n)++] = it;
    }
    return 0;
}
