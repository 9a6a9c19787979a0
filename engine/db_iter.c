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
#include "vlog.h"

enum direction { FORWARD, REVERSE };

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
    rc = version_add_iterators(sv->v, db->tc, fill, its, &n);
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
