/*
 * db_iter.c - the public iterator (shale_iter): merges memtables and tables, then shows
 * each user key once, at its newest version visible at the iterator's sequence, hiding
 * tombstones and expired entries, within optional bounds, in both directions.
 * The direction logic follows LevelDB's DBIter: moving forward, the internal iterator
 * sits on the current entry; moving backward, it sits just before the current user key,
 * whose entry is kept in saved_key/saved_value.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db_impl.h"
#include "format.h"
#include "merge_iter.h"
#include "range_del.h"
#include "vlog.h"

enum direction { FORWARD, REVERSE };

/*
 * The range tombstones an iterator applies (issue 17): a source per memtable and L0
 * table that holds some, fixed when the iterator is made, and one per level below L0
 * with such tables, which loads the tombstones of the table holding the key it is asked
 * about. Cursors make the lookups of neighbouring keys cheap.
 */
typedef struct rdel_source {
    rdel_list *list; /* referenced; NULL: none here */
    rdel_cursor cur;
    file_meta **files; /* a level's tables (the iterator's version holds them); NULL: fixed */
    int nfiles;
    int file; /* the table whose list is loaded; -1: none */
} rdel_source;

struct shale_iter {
    shale_db *db;
    super_version *sv;
    iter *it; /* merged internal iterator */
    uint64_t seq;
    uint64_t now_ms; /* expiry is judged against the time the iterator was created */
    enum direction dir;
    bool valid;
    int status;
    buf saved_key;   /* reverse: current user key; forward: scratch for skipping */
    buf saved_value; /* reverse: current raw value */
    int saved_kind;
    buf lower, upper;
    bool has_lower, has_upper;
    buf seek_key;
    /* The value the last pointer read gave (vlog.h), kept while the iterator stays on
       the entry whose pointer it was. */
    char resolved_ptr[VPTR_MAX_SIZE];
    size_t resolved_ptr_len;
    char *resolved;
    size_t resolved_len;
    /* Hidden table entries stepped over by the current move (read-triggered compaction,
       db_note_iter_skips): children below n_mem of the merged iterator are memtables,
       whose tombstones no compaction removes. */
    int n_mem;
    uint64_t skipped;
    buf skip_from; /* the first hidden entry's user key of the move */
    rdel_source *rd;
    int n_rd;
};

/* Kind after expiry: an expired entry reads as a tombstone, and so does one whose value
   GC reclaimed after it expired (db_vptr_reclaimed), whatever now_ms says. */
static int effective_kind(const shale_iter *si, int kind, slice raw)
{
    if (kind == KIND_EXPIRING && raw.len < 8)
        return KIND_DELETE;
    uint64_t expiry = entry_expiry(kind, raw);
    if (expiry && expiry <= si->now_ms)
        return KIND_DELETE;
    vptr p;
    if (expiry && kind == KIND_VPTR && vptr_decode(raw, &p) == 0 &&
        db_vptr_reclaimed(si->sv->v, &p))
        return KIND_DELETE;
    return kind;
}

static bool above_upper(const shale_iter *si, slice user_key)
{
    return si->has_upper && slice_compare(user_key, buf_slice(&si->upper)) >= 0;
}

static bool below_lower(const shale_iter *si, slice user_key)
{
    return si->has_lower && slice_compare(user_key, buf_slice(&si->lower)) < 0;
}

static void set_error(shale_iter *si, int rc)
{
    if (!si->status)
        si->status = rc;
    si->valid = false;
}

static slice fm_user(const buf *ikey)
{
    return ikey_user_key(buf_slice(ikey));
}

/* Does f's key range hold key? Its largest key may be a range tombstone's exclusive end
   (range_del_sentinel_trailer), which it does not hold. */
static bool file_holds(const file_meta *f, slice key)
{
    if (slice_compare(key, fm_user(&f->smallest)) < 0)
        return false;
    int r = slice_compare(key, fm_user(&f->largest));
    return r < 0 ||
           (r == 0 && ikey_trailer(buf_slice(&f->largest)) != range_del_sentinel_trailer());
}

/* A level source on the table holding key (none when no table does). */
static int level_source_seek(shale_iter *si, rdel_source *s, slice key)
{
    if (s->file >= 0 && file_holds(s->files[s->file], key))
        return 0;
    int lo = 0, hi = s->nfiles;
    while (lo < hi) { /* the first table that ends at or after key */
        int mid = lo + (hi - lo) / 2;
        const file_meta *f = s->files[mid];
        int r = slice_compare(fm_user(&f->largest), key);
        bool before = r < 0 || (r == 0 && ikey_trailer(buf_slice(&f->largest)) ==
                                              range_del_sentinel_trailer());
        if (before)
            lo = mid + 1;
        else
            hi = mid;
    }
    int j = lo < s->nfiles && file_holds(s->files[lo], key) ? lo : -1;
    if (j == s->file)
        return 0;
    rdel_list_unref(s->list);
    s->list = NULL;
    s->file = j;
    int rc = 0;
    if (j >= 0 && s->files[j]->num_range_dels > 0) {
        file_meta *f = s->files[j];
        rc = table_cache_range_dels(si->db->tc, &f->pinned, f->number, f->file_size, &s->list);
    }
    rdel_cursor_init(&s->cur, s->list);
    return rc;
}

/* Is the entry (key, seq) deleted by a range tombstone the iterator sees? */
static bool range_deleted(shale_iter *si, slice key, uint64_t seq)
{
    for (int i = 0; i < si->n_rd; i++) {
        rdel_source *s = &si->rd[i];
        int rc = s->files ? level_source_seek(si, s, key) : 0;
        if (rc) {
            set_error(si, rc);
            return true;
        }
        if (rdel_cursor_cover(&s->cur, key, si->seq) > seq)
            return true;
    }
    return false;
}

/* The current internal entry (of user key k) is hidden: count it if a table holds it. */
static void note_hidden(shale_iter *si, slice k)
{
    if (merge_iter_child(si->it) < si->n_mem)
        return;
    if (si->skipped++ == 0 && buf_set(&si->skip_from, k.data, k.len))
        si->skip_from.len = 0; /* out of memory: the range starts at the first key */
}

static void move_begin(shale_iter *si)
{
    si->skipped = 0;
}

/* After a move: a long run of hidden table entries marks the tables under it. */
static void move_end(shale_iter *si)
{
    if (si->skipped == 0)
        return;
    shale_db *db = si->db;
    atomic_fetch_add_explicit(&db->stats.iter_skipped, si->skipped, memory_order_relaxed);
    uint64_t trigger = db_opt_u64(&db->opts.iter_skip_compaction_trigger);
    if (trigger && si->skipped >= trigger) {
        slice from = buf_slice(&si->skip_from);
        slice cur = {0};
        if (si->valid)
            cur = si->dir == FORWARD ? ikey_user_key(iter_key(si->it)) : buf_slice(&si->saved_key);
        if (si->dir == FORWARD)
            db_note_iter_skips(db, from, si->valid ? &cur : NULL);
        else
            db_note_iter_skips(db, cur, &from); /* moving back: from is the high end */
    }
    si->skipped = 0;
}

/* Forward: skip to the next user key's newest visible live entry. */
static void find_next_user_entry(shale_iter *si, bool skipping)
{
    iter *it = si->it;
    for (; iter_valid(it); iter_next(it)) {
        parsed_ikey pk;
        if (ikey_parse(iter_key(it), &pk)) {
            set_error(si, SHALE_ECORRUPT);
            return;
        }
        if (pk.seq > si->seq)
            continue;
        if (skipping && slice_compare(pk.user_key, buf_slice(&si->saved_key)) <= 0) {
            note_hidden(si, pk.user_key);
            continue;
        }
        if (above_upper(si, pk.user_key))
            break;
        int kind = effective_kind(si, pk.kind, iter_value(it));
        if (kind != KIND_DELETE && si->n_rd && range_deleted(si, pk.user_key, pk.seq)) {
            if (si->status)
                return;
            kind = KIND_DELETE;
        }
        /* Everything older of this key is hidden by this entry. */
        if (buf_set(&si->saved_key, pk.user_key.data, pk.user_key.len)) {
            set_error(si, -ENOMEM);
            return;
        }
        skipping = true;
        if (kind != KIND_DELETE) {
            si->saved_kind = kind;
            si->valid = true;
            return;
        }
        note_hidden(si, pk.user_key);
    }
    si->valid = false;
    int st = iter_status(it);
    if (st)
        set_error(si, st);
}

/* Reverse: position on the previous user key's newest visible live entry. */
static void find_prev_user_entry(shale_iter *si)
{
    iter *it = si->it;
    int kind = KIND_DELETE;
    if (iter_valid(it)) {
        do {
            parsed_ikey pk;
            if (ikey_parse(iter_key(it), &pk)) {
                set_error(si, SHALE_ECORRUPT);
                return;
            }
            if (pk.seq <= si->seq) {
                if (kind != KIND_DELETE &&
                    slice_compare(pk.user_key, buf_slice(&si->saved_key)) < 0)
                    break; /* passed the entry we hold */
                if (below_lower(si, pk.user_key) && kind == KIND_DELETE)
                    break;
                /* every entry but the one kept at the end is hidden (corrected below) */
                note_hidden(si, pk.user_key);
                slice raw = iter_value(it);
                kind = effective_kind(si, pk.kind, raw);
                if (kind != KIND_DELETE && si->n_rd && range_deleted(si, pk.user_key, pk.seq)) {
                    if (si->status)
                        return;
                    kind = KIND_DELETE;
                }
                if (kind == KIND_DELETE) {
                    si->saved_key.len = 0;
                    si->saved_value.len = 0;
                } else {
                    if (buf_set(&si->saved_key, pk.user_key.data, pk.user_key.len) ||
                        buf_set(&si->saved_value, raw.data, raw.len)) {
                        set_error(si, -ENOMEM);
                        return;
                    }
                    si->saved_kind = kind;
                }
            }
            iter_prev(it);
        } while (iter_valid(it));
    }
    int st = iter_status(it);
    if (st) {
        set_error(si, st);
        return;
    }
    if (kind == KIND_DELETE || below_lower(si, buf_slice(&si->saved_key))) {
        si->valid = false;
        si->saved_key.len = 0;
        si->saved_value.len = 0;
        si->dir = FORWARD;
    } else {
        si->valid = true;
        if (si->skipped > 0)
            si->skipped--;
    }
}

/* Adds a source (list referenced, or a level's tables). */
static int add_source(shale_iter *si, rdel_list *list, file_meta **files, int nfiles)
{
    if ((si->n_rd & (si->n_rd - 1)) == 0) { /* 0, 1, 2, 4...: grow by doubling */
        rdel_source *p = realloc(si->rd, (size_t)(si->n_rd ? 2 * si->n_rd : 4) * sizeof *p);
        if (!p) {
            rdel_list_unref(list);
            return -ENOMEM;
        }
        si->rd = p;
    }
    rdel_source *s = &si->rd[si->n_rd++];
    *s = (rdel_source){.list = list, .files = files, .nfiles = nfiles, .file = -1};
    rdel_cursor_init(&s->cur, list);
    return 0;
}

/* The sources of range tombstones the iterator's view holds. */
static int iter_range_dels(shale_iter *si)
{
    super_version *sv = si->sv;
    version *v = sv->v;
    int rc = 0;
    for (int i = -1; i < sv->n_imm && rc == 0; i++) {
        rdel_list *l[MEMTABLE_RDEL_RUNS];
        int n;
        rc = memtable_range_dels(i < 0 ? sv->mem : sv->imm[i], si->seq, l, &n);
        for (int j = 0; j < n; j++)
            if (rc == 0)
                rc = add_source(si, l[j], NULL, 0);
            else
                rdel_list_unref(l[j]);
    }
    for (int i = 0; i < v->nfiles[0] && rc == 0; i++) {
        file_meta *f = v->files[0][i];
        if (f->num_range_dels == 0 || f->min_seq > si->seq)
            continue;
        rdel_list *l;
        rc = table_cache_range_dels(si->db->tc, &f->pinned, f->number, f->file_size, &l);
        if (rc == 0 && l)
            rc = add_source(si, l, NULL, 0);
    }
    for (int lv = 1; lv < v->num_levels && rc == 0; lv++)
        if (v->rdel_files[lv])
            rc = add_source(si, NULL, v->files[lv], v->nfiles[lv]);
    return rc;
}

int shale_iter_new(shale_db *db, const shale_read_options *ro, shale_iter **out)
{
    *out = NULL;
    if (!db)
        return -EINVAL;
    shale_iter *si = calloc(1, sizeof *si);
    if (!si)
        return -ENOMEM;
    si->db = db;
    si->sv = db_sv_acquire(db);
    si->seq = ro && ro->snapshot ? ro->snapshot->seq
                                 : atomic_load_explicit(&db->last_seq, memory_order_acquire);
    si->now_ms = ro && ro->include_expired ? 0 : db_now_ms();
    bool fill = ro ? ro->fill_cache != 0 : true;
    int rc = 0;
    if (ro && ro->lower_bound) {
        si->has_lower = true;
        rc |= buf_set(&si->lower, ro->lower_bound, ro->lower_bound_len);
    }
    if (ro && ro->upper_bound) {
        si->has_upper = true;
        rc |= buf_set(&si->upper, ro->upper_bound, ro->upper_bound_len);
    }
    super_version *sv = si->sv;
    int cap = 1 + sv->n_imm + version_max_iterators(sv->v);
    iter **its = malloc((size_t)cap * sizeof *its);
    int n = 0;
    if (!its || rc) {
        rc = -ENOMEM;
        goto fail;
    }
    its[n] = memtable_iter_new(sv->mem);
    if (!its[n]) {
        rc = -ENOMEM;
        goto fail;
    }
    n++;
    for (int i = 0; i < sv->n_imm; i++) {
        its[n] = memtable_iter_new(sv->imm[i]);
        if (!its[n]) {
            rc = -ENOMEM;
            goto fail;
        }
        n++;
    }
    si->n_mem = n;
    rc = iter_range_dels(si);
    if (rc)
        goto fail;
    slice lower = si->has_lower ? buf_slice(&si->lower) : (slice){0};
    slice upper = si->has_upper ? buf_slice(&si->upper) : (slice){0};
    rc = version_add_iterators(sv->v, db->tc, fill, lower, upper, its, &n);
    if (rc)
        goto fail;
    si->it = merge_iter_new(its, n, ikey_compare);
    free(its);
    its = NULL;
    if (!si->it) {
        rc = -ENOMEM;
        goto fail;
    }
    *out = si;
    return 0;
fail:
    for (int i = 0; its && i < n; i++)
        iter_free(its[i]);
    free(its);
    shale_iter_free(si);
    return rc;
}

void shale_iter_free(shale_iter *si)
{
    if (!si)
        return;
    iter_free(si->it);
    db_sv_release(si->sv);
    buf_free(&si->saved_key);
    buf_free(&si->saved_value);
    buf_free(&si->lower);
    buf_free(&si->upper);
    buf_free(&si->seek_key);
    buf_free(&si->skip_from);
    for (int i = 0; i < si->n_rd; i++)
        rdel_list_unref(si->rd[i].list);
    free(si->rd);
    free(si->resolved);
    free(si);
}

/* Builds the internal seek key (user_key, seq, KIND_FOR_SEEK) in si->seek_key. */
static slice seek_key(shale_iter *si, slice user_key, uint64_t seq)
{
    si->seek_key.len = 0;
    if (ikey_append(&si->seek_key, user_key, seq, KIND_FOR_SEEK))
        return slice_make(NULL, 0);
    return buf_slice(&si->seek_key);
}

static void move_seek(shale_iter *si, const void *key, size_t klen)
{
    slice target = slice_make(key, klen);
    if (below_lower(si, target))
        target = buf_slice(&si->lower);
    si->dir = FORWARD;
    si->saved_value.len = 0;
    slice sk = seek_key(si, target, si->seq);
    if (!sk.data) {
        set_error(si, -ENOMEM);
        return;
    }
    iter_seek(si->it, sk);
    find_next_user_entry(si, false);
}

static void move_seek_to_first(shale_iter *si)
{
    if (si->has_lower) {
        move_seek(si, si->lower.data, si->lower.len);
        return;
    }
    si->dir = FORWARD;
    si->saved_value.len = 0;
    iter_seek_to_first(si->it);
    find_next_user_entry(si, false);
}

/* Puts the internal iterator on the last entry with user key < upper (or the very last). */
static void seek_before_upper(shale_iter *si)
{
    if (si->has_upper) {
        slice sk = seek_key(si, buf_slice(&si->upper), MAX_SEQUENCE);
        if (!sk.data) {
            set_error(si, -ENOMEM);
            return;
        }
        iter_seek(si->it, sk);
        if (iter_valid(si->it))
            iter_prev(si->it);
        else if (!iter_status(si->it))
            iter_seek_to_last(si->it);
    } else {
        iter_seek_to_last(si->it);
    }
}

static void move_seek_to_last(shale_iter *si)
{
    si->dir = REVERSE;
    si->saved_value.len = 0;
    seek_before_upper(si);
    find_prev_user_entry(si);
}

static void move_seek_for_prev(shale_iter *si, const void *key, size_t klen)
{
    slice target = slice_make(key, klen);
    si->dir = REVERSE;
    si->saved_value.len = 0;
    if (above_upper(si, target)) {
        seek_before_upper(si);
    } else {
        /* Every version of target sorts before (target, 0): land after them all. */
        slice sk = seek_key(si, target, 0);
        if (!sk.data) {
            set_error(si, -ENOMEM);
            return;
        }
        encode_fixed64((char *)sk.data + sk.len - TRAILER_SIZE, pack_trailer(0, KIND_DELETE));
        iter_seek_for_prev(si->it, sk);
    }
    find_prev_user_entry(si);
}

static void move_next(shale_iter *si)
{
    if (!si->valid)
        return;
    if (si->dir == REVERSE) {
        /* The internal iterator is before the current key: step into it, then past it. */
        si->dir = FORWARD;
        if (!iter_valid(si->it))
            iter_seek_to_first(si->it);
        else
            iter_next(si->it);
        /* saved_key holds the current user key: skip every entry up to it. */
        find_next_user_entry(si, true);
        return;
    }
    /* Forward: saved_key is the current user key; skip its older versions. */
    iter_next(si->it);
    find_next_user_entry(si, true);
}

static void move_prev(shale_iter *si)
{
    if (!si->valid)
        return;
    if (si->dir == FORWARD) {
        /* Move the internal iterator before every entry of the current key. */
        slice cur = buf_slice(&si->saved_key);
        for (;;) {
            iter_prev(si->it);
            if (!iter_valid(si->it)) {
                int st = iter_status(si->it);
                if (st) {
                    set_error(si, st);
                    return;
                }
                si->valid = false;
                si->saved_key.len = 0;
                si->saved_value.len = 0;
                return;
            }
            if (slice_compare(ikey_user_key(iter_key(si->it)), cur) < 0)
                break;
        }
        si->dir = REVERSE;
    }
    find_prev_user_entry(si);
}

/* The public moves: each counts the hidden entries it steps over (move_end). */
void shale_iter_seek(shale_iter *si, const void *key, size_t klen)
{
    move_begin(si);
    move_seek(si, key, klen);
    move_end(si);
}

void shale_iter_seek_for_prev(shale_iter *si, const void *key, size_t klen)
{
    move_begin(si);
    move_seek_for_prev(si, key, klen);
    move_end(si);
}

void shale_iter_seek_to_first(shale_iter *si)
{
    move_begin(si);
    move_seek_to_first(si);
    move_end(si);
}

void shale_iter_seek_to_last(shale_iter *si)
{
    move_begin(si);
    move_seek_to_last(si);
    move_end(si);
}

void shale_iter_next(shale_iter *si)
{
    move_begin(si);
    move_next(si);
    move_end(si);
}

void shale_iter_prev(shale_iter *si)
{
    move_begin(si);
    move_prev(si);
    move_end(si);
}

int shale_iter_valid(const shale_iter *si)
{
    return si && si->valid;
}

const void *shale_iter_key(const shale_iter *si, size_t *klen)
{
    if (!si->valid) {
        if (klen)
            *klen = 0;
        return NULL;
    }
    slice k = si->dir == FORWARD ? ikey_user_key(iter_key(si->it)) : buf_slice(&si->saved_key);
    if (klen)
        *klen = k.len;
    return k.data;
}

static slice raw_value(const shale_iter *si)
{
    return si->dir == FORWARD ? iter_value(si->it) : buf_slice(&si->saved_value);
}

const void *shale_iter_value(const shale_iter *si, size_t *vlen)
{
    if (!si->valid) {
        if (vlen)
            *vlen = 0;
        return NULL;
    }
    slice v = raw_value(si);
    if (si->saved_kind == KIND_EXPIRING)
        v = expiring_value_payload(v);
    if (si->saved_kind == KIND_VPTR) {
        /* The const is the caller's view: reading through a pointer fills a cache. */
        shale_iter *m = (shale_iter *)si;
        if (!m->resolved || v.len != m->resolved_ptr_len || v.len > VPTR_MAX_SIZE ||
            memcmp(m->resolved_ptr, v.data, v.len)) {
            free(m->resolved);
            m->resolved = NULL;
            int rc = db_read_pointer(m->db, m->sv->v, v, &m->resolved, &m->resolved_len);
            if (rc) {
                set_error(m, rc);
                if (vlen)
                    *vlen = 0;
                return NULL;
            }
            memcpy(m->resolved_ptr, v.data, v.len);
            m->resolved_ptr_len = v.len;
        }
        v = slice_make(m->resolved, m->resolved_len);
    }
    if (vlen)
        *vlen = v.len;
    return v.data;
}

uint64_t shale_iter_expire_at(const shale_iter *si)
{
    if (!si->valid)
        return 0;
    return entry_expiry(si->saved_kind, raw_value(si));
}

int shale_iter_status(const shale_iter *si)
{
    return si->status;
}
