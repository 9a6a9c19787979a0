/*
 * compaction.c - picking and running compactions: leveled (RocksDB level style, by
 * score), tiered (RocksDB universal: sorted runs in L0 merged by size ratio and size
 * amplification) and fifo (drop the oldest or fully expired tables over a size cap).
 * Jobs run on num_compactors threads at once; a job's input tables are marked
 * being_compacted so concurrent jobs never share a table or an output key range.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db_impl.h"
#include "vlog.h"
#include "file.h"
#include "format.h"
#include "merge_iter.h"
#include "table_builder.h"

typedef struct compaction {
    int level;        /* input level (inputs[0]) */
    int output_level; /* inputs[1] live here too */
    file_meta **inputs[2];
    int n_inputs[2];
    bool trivial_move;     /* one table moves down a level without rewriting */
    bool deletion_only;    /* fifo: inputs are dropped, nothing written */
    bool bottommost;       /* nothing older below the output: tombstones can go */
    version *v;            /* the version the job was picked from (referenced) */
    buf smallest, largest; /* user key range of all inputs */
    uint64_t max_output_size;
    struct compaction *next; /* db->running list */
    const char *reason;
} compaction;

static void compaction_free(compaction *c)
{
    if (!c)
        return;
    free(c->inputs[0]);
    free(c->inputs[1]);
    version_unref(c->v);
    buf_free(&c->smallest);
    buf_free(&c->largest);
    free(c);
}

static uint64_t total_size(file_meta **files, int n)
{
    uint64_t s = 0;
    for (int i = 0; i < n; i++)
        s += files[i]->file_size;
    return s;
}

/* User key range [smallest, largest] over files. */
static void key_range(file_meta **files, int n, slice *lo, slice *hi)
{
    for (int i = 0; i < n; i++) {
        slice s = ikey_user_key(buf_slice(&files[i]->smallest));
        slice l = ikey_user_key(buf_slice(&files[i]->largest));
        if (i == 0 || slice_compare(s, *lo) < 0)
            *lo = s;
        if (i == 0 || slice_compare(l, *hi) > 0)
            *hi = l;
    }
}

static bool any_being_compacted(file_meta **files, int n)
{
    for (int i = 0; i < n; i++)
        if (files[i]->being_compacted)
            return true;
    return false;
}

/* True when a running job writes to `level` over a range intersecting [lo, hi]. */
static bool output_range_busy(shale_db *db, int level, slice lo, slice hi)
{
    for (compaction *c = db->running; c; c = c->next) {
        if (c->output_level != level || c->deletion_only)
            continue;
        if (slice_compare(buf_slice(&c->largest), lo) < 0 ||
            slice_compare(buf_slice(&c->smallest), hi) > 0)
            continue;
        return true;
    }
    return false;
}

static uint64_t level_target(const shale_options *o, int level)
{
    uint64_t t = o->base_level_size;
    for (int l = 1; l < level; l++)
        t *= (uint64_t)o->level_size_multiplier;
    return t;
}

/* Builds a job from the chosen inputs (mu held). Takes ownership of in0/in1. */
static compaction *make_job(shale_db *db, version *v, int level, int out_level, file_meta **in0,
                            int n0, file_meta **in1, int n1, const char *reason)
{
    compaction *c = calloc(1, sizeof *c);
    if (!c) {
        free(in0);
        free(in1);
        return NULL;
    }
    c->level = level;
    c->output_level = out_level;
    c->inputs[0] = in0;
    c->n_inputs[0] = n0;
    c->inputs[1] = in1;
    c->n_inputs[1] = n1;
    c->v = v;
    version_ref(v);
    c->reason = reason;
    c->max_output_size = db->opts.table_size;
    slice lo = {0}, hi = {0}, lo1, hi1;
    key_range(in0, n0, &lo, &hi);
    if (n1) {
        key_range(in1, n1, &lo1, &hi1);
        if (slice_compare(lo1, lo) < 0)
            lo = lo1;
        if (slice_compare(hi1, hi) > 0)
            hi = hi1;
    }
    if (buf_set(&c->smallest, lo.data, lo.len) || buf_set(&c->largest, hi.data, hi.len)) {
        compaction_free(c);
        return NULL;
    }
    c->bottommost = !version_overlap_in_levels_below(v, out_level, lo, hi);
    if (db->opts.compaction_style == SHALE_COMPACTION_TIERED) {
        /* Runs older than the inputs live further along L0, and below L0 is older still
           (tables a leveled compaction left before a restart with this style): nothing
           older only when the oldest run is among the inputs AND nothing below overlaps
           (#15.2: the L0 check alone dropped tombstones over L1's versions). */
        file_meta *oldest = v->files[0][v->nfiles[0] - 1];
        bool has_oldest = false;
        for (int i = 0; i < n0; i++)
            has_oldest |= in0[i] == oldest;
        c->bottommost = c->bottommost && has_oldest;
        c->max_output_size = UINT64_MAX; /* a sorted run is one table */
    }
    return c;
}

/* ---- leveled ---- */

static double level_score(shale_db *db, version *v, int level)
{
    if (level == 0) {
        int n = 0;
        for (int i = 0; i < v->nfiles[0]; i++)
            n += !v->files[0][i]->being_compacted;
        return (double)n / __atomic_load_n(&db->opts.l0_compaction_trigger, __ATOMIC_RELAXED);
    }
    uint64_t bytes = 0;
    for (int i = 0; i < v->nfiles[level]; i++)
        if (!v->files[level][i]->being_compacted)
            bytes += v->files[level][i]->file_size;
    return (double)bytes / (double)level_target(&db->opts, level);
}

/* Overlapping files of level for [lo, hi] (a malloc'ed array). */
static int overlapping(version *v, int level, slice lo, slice hi, file_meta ***out, int *n)
{
    return version_overlapping(v, level, &lo, &hi, out, n);
}

static int cmp_smallest(const void *a, const void *b)
{
    const file_meta *x = *(file_meta *const *)a, *y = *(file_meta *const *)b;
    return ikey_compare(buf_slice(&x->smallest), buf_slice(&y->smallest));
}

/* True when no two of the tables share a user key (sorts files by smallest key). */
static bool l0_disjoint(file_meta **files, int n)
{
    qsort(files, (size_t)n, sizeof *files, cmp_smallest);
    for (int i = 1; i < n; i++)
        if (slice_compare(ikey_user_key(buf_slice(&files[i - 1]->largest)),
                          ikey_user_key(buf_slice(&files[i]->smallest))) >= 0)
            return false;
    return true;
}

static compaction *pick_l0(shale_db *db, version *v)
{
    int n0 = v->nfiles[0];
    if (n0 == 0 || any_being_compacted(v->files[0], n0))
        return NULL; /* one L0 job at a time: L0 tables overlap each other */
    file_meta **in0 = malloc((size_t)n0 * sizeof *in0);
    if (!in0)
        return NULL;
    memcpy(in0, v->files[0], (size_t)n0 * sizeof *in0);
    slice lo = {0}, hi = {0};
    key_range(in0, n0, &lo, &hi);
    file_meta **in1;
    int n1;
    if (overlapping(v, 1, lo, hi, &in1, &n1)) {
        free(in0);
        return NULL;
    }
    if (any_being_compacted(in1, n1) || output_range_busy(db, 1, lo, hi)) {
        free(in0);
        free(in1);
        return NULL;
    }
    compaction *c = make_job(db, v, 0, 1, in0, n0, in1, n1, "l0 trigger");
    if (c && n1 == 0 && l0_disjoint(in0, n0))
        c->trivial_move = true; /* sequential loads: move the tables down unchanged */
    return c;
}

/* Picks the file of `level` whose rewrite costs least per byte moved down (RocksDB's
   kMinOverlappingRatio), among those no running job touches. */
static compaction *pick_level(shale_db *db, version *v, int level)
{
    int best = -1;
    double best_ratio = 0;
    file_meta **best_over = NULL;
    int best_n = 0;
    for (int i = 0; i < v->nfiles[level]; i++) {
        file_meta *f = v->files[level][i];
        if (f->being_compacted)
            continue;
        slice lo = ikey_user_key(buf_slice(&f->smallest));
        slice hi = ikey_user_key(buf_slice(&f->largest));
        file_meta **over;
        int n;
        if (overlapping(v, level + 1, lo, hi, &over, &n))
            continue;
        if (any_being_compacted(over, n) || output_range_busy(db, level + 1, lo, hi)) {
            free(over);
            continue;
        }
        double ratio = (double)total_size(over, n) / (double)(f->file_size + 1);
        if (best < 0 || ratio < best_ratio) {
            free(best_over);
            best = i;
            best_ratio = ratio;
            best_over = over;
            best_n = n;
        } else {
            free(over);
        }
    }
    if (best < 0)
        return NULL;
    file_meta **in0 = malloc(sizeof *in0);
    if (!in0) {
        free(best_over);
        return NULL;
    }
    in0[0] = v->files[level][best];
    compaction *c = make_job(db, v, level, level + 1, in0, 1, best_over, best_n, "level size");
    if (c && best_n == 0)
        c->trivial_move = true;
    return c;
}

static compaction *pick_leveled(shale_db *db, version *v)
{
    int nl = v->num_levels;
    double scores[SHALE_MAX_LEVELS];
    for (int l = 0; l < nl - 1; l++)
        scores[l] = level_score(db, v, l);
    /* Highest score first; each level tried once. */
    for (int tries = 0; tries < nl - 1; tries++) {
        int best = -1;
        for (int l = 0; l < nl - 1; l++)
            if (scores[l] >= 1.0 && (best < 0 || scores[l] > scores[best]))
                best = l;
        if (best < 0)
            return NULL;
        compaction *c = best == 0 ? pick_l0(db, v) : pick_level(db, v, best);
        if (c)
            return c;
        scores[best] = 0;
    }
    return NULL;
}

/* ---- tiered (universal) ---- */

static compaction *tiered_job(shale_db *db, version *v, int from, int to, const char *reason)
{
    int n = to - from;
    file_meta **in0 = malloc((size_t)n * sizeof *in0);
    if (!in0)
        return NULL;
    memcpy(in0, v->files[0] + from, (size_t)n * sizeof *in0);
    return make_job(db, v, 0, 0, in0, n, NULL, 0, reason);
}

static compaction *pick_tiered(shale_db *db, version *v)
{
    file_meta **runs = v->files[0]; /* newest first */
    int n = v->nfiles[0];
    int trigger = __atomic_load_n(&db->opts.l0_compaction_trigger, __ATOMIC_RELAXED);
    if (n < trigger || n < 2 || any_being_compacted(runs, n))
        return NULL; /* one universal job at a time keeps runs contiguous in age */
    /* Size amplification: all newer runs against the oldest. */
    uint64_t newer = total_size(runs, n - 1);
    uint64_t oldest = runs[n - 1]->file_size;
    if (newer * 100 >= oldest * (uint64_t)db->opts.tiered_max_size_amplification)
        return tiered_job(db, v, 0, n, "size amplification");
    /* Size ratio: from the newest, take runs while the next is not much bigger than
       what has been taken. */
    int width = db->opts.tiered_min_merge_width;
    for (int start = 0; start < n - 1; start++) {
        uint64_t acc = runs[start]->file_size;
        int end = start + 1;
        while (end < n &&
               runs[end]->file_size * 100 <= acc * (uint64_t)(100 + db->opts.tiered_size_ratio))
            acc += runs[end++]->file_size;
        if (end - start >= width)
            return tiered_job(db, v, start, end, "size ratio");
    }
    /* Too many runs: merge the newest ones so reads stay bounded. */
    int take = n - trigger + 2;
    if (take < width)
        take = width;
    if (take > n)
        take = n;
    return tiered_job(db, v, 0, take, "run count");
}

/* ---- fifo ---- */

/*
 * True when every entry of f has expired by now or is a tombstone: nothing in it is
 * visible, but it may still hide older versions of its keys. A table written before
 * #15.3's fix records 0 for its latest expiry even with live entries that never expire
 * (value-log pointers): that figure means nothing, so such a table is never "expired".
 */
static bool fifo_all_expired(const file_meta *f, uint64_t now)
{
    if (f->max_expire_at_ms == 0)
        return f->num_entries == f->num_deletes;
    return f->max_expire_at_ms != UINT64_MAX && f->max_expire_at_ms <= now;
}

/* Grows the user key range [*lo, *hi] (empty when *n == 0) by f's. */
static void range_add(const file_meta *f, slice *lo, slice *hi, int *n)
{
    slice s = ikey_user_key(buf_slice(&f->smallest));
    slice l = ikey_user_key(buf_slice(&f->largest));
    if (*n == 0 || slice_compare(s, *lo) < 0)
        *lo = s;
    if (*n == 0 || slice_compare(l, *hi) > 0)
        *hi = l;
    (*n)++;
}

static bool range_misses(const file_meta *f, slice lo, slice hi, int n)
{
    return n == 0 || slice_compare(ikey_user_key(buf_slice(&f->largest)), lo) < 0 ||
           slice_compare(ikey_user_key(buf_slice(&f->smallest)), hi) > 0;
}

/*
 * Fifo drops whole tables, and a dropped table must not uncover anything (#15.1): a
 * newer table's expired entry or tombstone hides an older version of its key, which
 * reads again once the newer table is gone. So it drops, oldest first, a prefix by age
 * (tables over the size cap, and tables all expired): nothing is older than they are.
 * After that prefix, an all-expired table goes only when no older table that stays holds
 * one of its keys; the older tables' keys are summed up as one range (conservative, and
 * linear in the number of tables).
 */
static compaction *pick_fifo(shale_db *db, version *v)
{
    file_meta **files = v->files[0]; /* newest first */
    int n = v->nfiles[0];
    if (n == 0 || any_being_compacted(files, n))
        return NULL; /* one fifo job at a time: each sees what the last one left */
    uint64_t cap = db_opt_u64(&db->opts.fifo_max_size);
    uint64_t total = total_size(files, n);
    uint64_t now = db_now_ms();
    file_meta **drop = malloc((size_t)n * sizeof *drop);
    if (!drop)
        return NULL;
    int k = 0;
    /* Tables below L0 (left by another compaction style) are older than all of L0. */
    slice lo = {0}, hi = {0};
    int older = 0;
    for (int l = 1; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++)
            range_add(v->files[l][i], &lo, &hi, &older);
    int i = n - 1;
    for (; i >= 0 && older == 0; i--) {
        file_meta *f = files[i];
        if (total <= cap && !fifo_all_expired(f, now))
            break;
        drop[k++] = f;
        total -= f->file_size;
    }
    for (; i >= 0; i--) {
        file_meta *f = files[i];
        if (fifo_all_expired(f, now) && range_misses(f, lo, hi, older))
            drop[k++] = f;
        else
            range_add(f, &lo, &hi, &older);
    }
    if (k == 0) {
        free(drop);
        return NULL;
    }
    compaction *c = make_job(db, v, 0, 0, drop, k, NULL, 0, "fifo");
    if (c)
        c->deletion_only = true;
    return c;
}

/* ---- scheduling ---- */

static compaction *pick(shale_db *db)
{
    version *v = db->vs->current;
    switch (db->opts.compaction_style) {
    case SHALE_COMPACTION_TIERED:
        return pick_tiered(db, v);
    case SHALE_COMPACTION_FIFO:
        return pick_fifo(db, v);
    default:
        return pick_leveled(db, v);
    }
}

double db_compaction_score(shale_db *db, int *level)
{
    version *v = db->vs->current;
    double best = 0;
    *level = 0;
    for (int l = 0; l < v->num_levels - 1; l++) {
        double s = level_score(db, v, l);
        if (s > best) {
            best = s;
            *level = l;
        }
    }
    return best;
}

void db_maybe_schedule_compaction(shale_db *db)
{
    pthread_cond_broadcast(&db->work_cv);
}

static void mark(compaction *c, bool on)
{
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < c->n_inputs[w]; i++)
            c->inputs[w][i]->being_compacted = on;
}

static void running_add(shale_db *db, compaction *c)
{
    mark(c, true);
    c->next = db->running;
    db->running = c;
    db->n_running++;
}

static void running_remove(shale_db *db, compaction *c)
{
    mark(c, false);
    for (compaction **p = &db->running; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    db->n_running--;
}

/* ---- running a job ---- */

/* Per-key check that no older data for user_key exists below the output level. */
typedef struct base_check {
    version *v;
    int output_level;
    int ptr[SHALE_MAX_LEVELS]; /* advancing file index per level, as keys increase */
} base_check;

static bool is_base_level_for_key(base_check *b, slice user_key)
{
    version *v = b->v;
    for (int l = b->output_level + 1; l < v->num_levels; l++) {
        file_meta **files = v->files[l];
        while (b->ptr[l] < v->nfiles[l]) {
            file_meta *f = files[b->ptr[l]];
            if (slice_compare(user_key, ikey_user_key(buf_slice(&f->largest))) <= 0) {
                if (slice_compare(user_key, ikey_user_key(buf_slice(&f->smallest))) >= 0)
                    return false;
                break;
            }
            b->ptr[l]++;
        }
    }
    return true;
}

static iter *job_input(shale_db *db, compaction *c)
{
    int cap = c->n_inputs[0] + 1;
    iter **its = malloc((size_t)cap * sizeof *its);
    if (!its)
        return NULL;
    int n = 0;
    if (c->level == 0) {
        for (int i = 0; i < c->n_inputs[0]; i++) {
            file_meta *f = c->inputs[0][i];
            iter *it = table_cache_iter(db->tc, f->number, f->file_size, false);
            if (!it)
                goto fail;
            its[n++] = it;
        }
    } else {
        iter *it = level_iter_new(db->tc, c->inputs[0], c->n_inputs[0], false);
        if (!it)
            goto fail;
        its[n++] = it;
    }
    if (c->n_inputs[1]) {
        iter *it = level_iter_new(db->tc, c->inputs[1], c->n_inputs[1], false);
        if (!it)
            goto fail;
        its[n++] = it;
    }
    iter *m = merge_iter_new(its, n, ikey_compare);
    free(its);
    return m;
fail:
    for (int i = 0; i < n; i++)
        iter_free(its[i]);
    free(its);
    return NULL;
}

typedef struct outputs {
    file_meta **files;
    int n, cap;
} outputs;

static int outputs_push(outputs *o, file_meta *f)
{
    if (o->n == o->cap) {
        int cap = o->cap ? o->cap * 2 : 8;
        file_meta **p = realloc(o->files, (size_t)cap * sizeof *p);
        if (!p)
            return -ENOMEM;
        o->files = p;
        o->cap = cap;
    }
    o->files[o->n++] = f;
    return 0;
}

static void outputs_drop(shale_db *db, outputs *o, bool delete_files)
{
    char path[PATH_MAX];
    for (int i = 0; i < o->n; i++) {
        if (delete_files && file_name_table(path, sizeof path, db->dir, o->files[i]->number) > 0)
            file_unlink(path);
        file_meta_unref(o->files[i], NULL);
    }
    free(o->files);
    o->files = NULL;
    o->n = o->cap = 0;
}

/* A dropped value-log pointer: its bytes become discardable in its segment. */
static int count_discard(version_edit *e, const parsed_ikey *pk, slice value)
{
    vptr p;
    if (pk->kind != KIND_VPTR || vptr_decode(value, &p))
        return 0;
    vlog_delta d = {.number = p.segment, .discarded = vptr_disk_len(&p)};
    if (p.expire_at_ms)
        d.exp_discarded = d.discarded;
    return edit_vlog_add(e, &d);
}

/* Merges the inputs into new tables (mu not held); e collects value-log discards. */
static int run_merge(shale_db *db, compaction *c, uint64_t smallest_snapshot, outputs *outs,
                     uint64_t *bytes_read, version_edit *e)
{
    iter *in = job_input(db, c);
    if (!in)
        return -ENOMEM;
    base_check bc = {.v = c->v, .output_level = c->output_level};
    drop_state ds = {0};
    table_output out;
    bool open = false;
    buf last_user = {0};
    uint64_t now = db_now_ms();
    uint64_t n_drop_exp = 0, n_drop_del = 0, n_drop_shadow = 0, n_drop_filter = 0, seen = 0;
    static atomic_uint_fast64_t jobs;
    uint64_t job = atomic_fetch_add_explicit(&jobs, 1, memory_order_relaxed) + 1;
    int rc = 0;
    *bytes_read =
        total_size(c->inputs[0], c->n_inputs[0]) + total_size(c->inputs[1], c->n_inputs[1]);
    char tomb_value[1] = {0};
    buf tomb_key = {0}; /* reused for every expired entry turned into a tombstone */
    for (iter_seek_to_first(in); iter_valid(in); iter_next(in)) {
        if ((++seen & 1023) == 0 && __atomic_load_n(&db->closing, __ATOMIC_RELAXED)) {
            rc = SHALE_ECLOSING;
            break;
        }
        slice key = iter_key(in), value = iter_value(in);
        parsed_ikey pk;
        rc = ikey_parse(key, &pk);
        if (rc)
            break;
        bool base = false;
        if (pk.kind == KIND_DELETE || entry_expiry(pk.kind, value))
            base =
                c->bottommost || (c->output_level > 0 && is_base_level_for_key(&bc, pk.user_key));
        enum entry_fate fate = entry_decide(&ds, &pk, value, smallest_snapshot, base, now);
        uint64_t expiry = entry_expiry(pk.kind, value);
        if (fate != ENTRY_KEEP && (rc = count_discard(e, &pk, value)) != 0)
            break;
        if (fate == ENTRY_DROP) {
            if (pk.kind == KIND_DELETE)
                n_drop_del++;
            else if (expiry && expiry <= now)
                n_drop_exp++;
            else
                n_drop_shadow++;
            continue;
        }
        if (fate == ENTRY_KEEP && db->opts.compaction_filter && pk.seq <= smallest_snapshot &&
            pk.kind != KIND_DELETE) {
            /* A value in the value log is not read for the filter: NULL with its length. */
            slice v = pk.kind == KIND_EXPIRING ? expiring_value_payload(value) : value;
            vptr p;
            if (pk.kind == KIND_VPTR)
                v = vptr_decode(value, &p) ? slice_make(NULL, 0) : slice_make(NULL, p.len);
            if (db->opts.compaction_filter(db->opts.compaction_filter_ctx, job, pk.user_key.data,
                                           pk.user_key.len, v.data, v.len)) {
                n_drop_filter++;
                if ((rc = count_discard(e, &pk, value)) != 0)
                    break;
                continue;
            }
        }
        if (fate == ENTRY_TOMBSTONE) {
            /* Expired but older versions may exist below: keep a tombstone, drop the bytes. */
            tomb_key.len = 0;
            if (ikey_append(&tomb_key, pk.user_key, pk.seq, KIND_DELETE)) {
                rc = -ENOMEM;
                break;
            }
            key = buf_slice(&tomb_key);
            value = slice_make(tomb_value, 0);
            n_drop_exp++;
        }
        /* Cut outputs at size, but never between versions of one user key. */
        if (open && table_output_size(&out) >= c->max_output_size &&
            !slice_equal(pk.user_key, buf_slice(&last_user))) {
            rc = table_output_finish(db, &out);
            open = false;
            if (rc == 0)
                rc = outputs_push(outs, out.f);
            if (rc)
                break;
        }
        if (!open) {
            rc = table_output_open(db, 0, &out);
            if (rc)
                break;
            open = true;
        }
        rc = table_output_add(db, &out, key, value);
        if (rc)
            break;
        if (buf_set(&last_user, pk.user_key.data, pk.user_key.len)) {
            rc = -ENOMEM;
            break;
        }
    }
    if (rc == 0)
        rc = iter_status(in);
    if (open) {
        if (rc == 0) {
            rc = table_output_finish(db, &out);
            if (rc == 0)
                rc = outputs_push(outs, out.f);
        } else {
            table_output_abandon(db, &out);
        }
    }
    iter_free(in);
    buf_free(&ds.cur_key);
    buf_free(&last_user);
    buf_free(&tomb_key);
    atomic_fetch_add_explicit(&db->stats.dropped_expired, n_drop_exp, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.dropped_tombstones, n_drop_del, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.dropped_shadowed, n_drop_shadow, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.dropped_by_filter, n_drop_filter, memory_order_relaxed);
    return rc;
}

/* Runs a picked job and installs its result (mu held; released while working). */
static int run_job(shale_db *db, compaction *c)
{
    uint64_t start = db_now_us();
    version_edit e;
    edit_init(&e);
    int rc = 0;
    outputs outs = {0};
    uint64_t read = 0, written = 0;
    for (int w = 0; w < 2; w++)
        for (int i = 0; i < c->n_inputs[w] && !rc; i++)
            rc = edit_delete_file(&e, w == 0 ? c->level : c->output_level, c->inputs[w][i]->number);
    if (rc == 0 && c->trivial_move) {
        for (int i = 0; i < c->n_inputs[0] && !rc; i++)
            rc = edit_add_file(&e, c->output_level, c->inputs[0][i]);
    } else if (rc == 0 && !c->deletion_only) {
        uint64_t snap = db_smallest_snapshot(db);
        pthread_mutex_unlock(&db->mu);
        rc = run_merge(db, c, snap, &outs, &read, &e);
        pthread_mutex_lock(&db->mu);
        for (int i = 0; i < outs.n && !rc; i++) {
            written += outs.files[i]->file_size;
            rc = edit_add_file(&e, c->output_level, outs.files[i]);
        }
    }
    bool logged = rc == 0; /* a failed manifest write may still have put the edit in the
                              file: then the outputs stay (the next open's sweep removes
                              them if the edit is not there) */
    if (rc == 0)
        rc = version_set_log_and_apply(db->vs, &e, &db->mu);
    edit_destroy(&e);
    outputs_drop(db, &outs, rc != 0 && !logged);
    if (rc == 0) {
        rc = db_sv_install(db);
        uint64_t us = db_now_us() - start;
        if (c->trivial_move) {
            atomic_fetch_add_explicit(&db->stats.trivial_moves, 1, memory_order_relaxed);
        } else if (c->deletion_only) {
            atomic_fetch_add_explicit(&db->stats.fifo_deleted_bytes,
                                      total_size(c->inputs[0], c->n_inputs[0]),
                                      memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&db->stats.compact_read_bytes[c->output_level], read,
                                      memory_order_relaxed);
            atomic_fetch_add_explicit(&db->stats.compact_write_bytes[c->output_level], written,
                                      memory_order_relaxed);
            atomic_fetch_add_explicit(&db->stats.compact_count, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&db->stats.compact_micros, us, memory_order_relaxed);
        }
        db_log(db,
               "compacted L%d (%d tables) + L%d (%d tables) -> %d tables at L%d (%s%s), "
               "%" PRIu64 " B read, %" PRIu64 " B written, %" PRIu64 " ms",
               c->level, c->n_inputs[0], c->output_level, c->n_inputs[1], outs.n, c->output_level,
               c->reason,
               c->trivial_move    ? ", moved"
               : c->deletion_only ? ", deleted"
                                  : "",
               read, written, us / 1000);
    }
    return rc;
}

void *db_compact_thread(void *arg)
{
    shale_db *db = arg;
    pthread_mutex_lock(&db->mu);
    while (!db->closing) {
        compaction *c = NULL;
        if (!db->manual_compaction && db->bg_retry_after_us <= db_now_us())
            c = pick(db);
        if (!c) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1; /* also re-checks fifo expiry and retry backoff */
            pthread_cond_timedwait(&db->work_cv, &db->mu, &ts);
            continue;
        }
        running_add(db, c);
        int rc = run_job(db, c);
        running_remove(db, c);
        compaction_free(c);
        if (rc && rc != SHALE_ECLOSING) {
            atomic_fetch_add_explicit(&db->stats.bg_errors, 1, memory_order_relaxed);
            db_log(db, "compaction failed: %s; retrying in 1 s", shale_strerror(rc));
            db->bg_retry_after_us = db_now_us() + 1000000u;
        }
        pthread_cond_broadcast(&db->bg_cv);
        pthread_cond_broadcast(&db->work_cv);
        pthread_mutex_unlock(&db->mu);
        db_delete_obsolete(db);
        pthread_mutex_lock(&db->mu);
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

/* ---- manual compaction ---- */

static int manual_job(shale_db *db, compaction *c)
{
    running_add(db, c);
    int rc = run_job(db, c);
    running_remove(db, c);
    compaction_free(c);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    db_delete_obsolete(db);
    pthread_mutex_lock(&db->mu);
    return rc;
}

int db_compact_range(shale_db *db, const slice *begin, const slice *end)
{
    pthread_mutex_lock(&db->mu);
    while (db->manual_compaction)
        pthread_cond_wait(&db->bg_cv, &db->mu);
    db->manual_compaction = true;
    while (db->n_running > 0 && !db->closing)
        pthread_cond_wait(&db->bg_cv, &db->mu);
    int rc = db->closing ? SHALE_ECLOSING : 0;
    enum shale_compaction_style style = db->opts.compaction_style;
    if (rc == 0 && style == SHALE_COMPACTION_TIERED) {
        version *v = db->vs->current;
        if (v->nfiles[0] > 1 || (v->nfiles[0] == 1 && v->files[0][0]->num_deletes > 0)) {
            compaction *c = tiered_job(db, v, 0, v->nfiles[0], "manual");
            rc = c ? manual_job(db, c) : -ENOMEM;
        }
    } else if (rc == 0 && style == SHALE_COMPACTION_FIFO) {
        compaction *c = pick_fifo(db, db->vs->current);
        if (c)
            rc = manual_job(db, c);
    } else if (rc == 0) {
        version *v = db->vs->current;
        int last = 1;
        bool wrote_last = false;
        for (int l = 1; l < v->num_levels; l++)
            if (v->nfiles[l])
                last = l;
        for (int l = 0; l < last && rc == 0; l++) {
            v = db->vs->current;
            file_meta **in0;
            int n0;
            rc = version_overlapping(v, l, begin, end, &in0, &n0);
            if (rc)
                break;
            if (n0 == 0) {
                free(in0);
                continue;
            }
            slice lo = {0}, hi = {0};
            key_range(in0, n0, &lo, &hi);
            file_meta **in1;
            int n1;
            rc = overlapping(v, l + 1, lo, hi, &in1, &n1);
            if (rc) {
                free(in0);
                break;
            }
            compaction *c = make_job(db, v, l, l + 1, in0, n0, in1, n1, "manual");
            rc = c ? manual_job(db, c) : -ENOMEM;
            wrote_last |= l + 1 == last;
        }
        /* The last level on its own too (RocksDB's bottommost_level_compaction=force):
           versions a snapshot kept when it was written, and expired entries, go now, so
           the value log's discard figures are complete after a full compaction. */
        v = db->vs->current;
        if (rc == 0 && !wrote_last && v->nfiles[last] > 0) {
            file_meta **in0;
            int n0;
            rc = version_overlapping(v, last, begin, end, &in0, &n0);
            if (rc == 0 && n0 == 0)
                free(in0);
            else if (rc == 0) {
                compaction *c = make_job(db, v, last, last, in0, n0, NULL, 0, "manual bottommost");
                rc = c ? manual_job(db, c) : -ENOMEM;
            }
        }
    }
    db->manual_compaction = false;
    pthread_cond_broadcast(&db->bg_cv);
    pthread_cond_broadcast(&db->work_cv);
    pthread_mutex_unlock(&db->mu);
    return rc;
}
