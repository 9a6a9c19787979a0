/*
 * compaction.c - picking and running compactions: leveled (RocksDB level style, by
 * score), tiered (RocksDB universal: sorted runs merged by size ratio and size
 * amplification; each L0 table is a run, and so is each level below) and fifo (drop the
 * oldest or fully expired tables over a size cap). Jobs run on num_compactors threads at
 * once; a job's input tables are marked being_compacted so concurrent jobs never share a
 * table or an output key range.
 *
 * The style is not stored with the database, and every style reads what another left:
 * for all three, a key's versions get older from L0 (newest table first) down the
 * levels, each level below L0 is sorted with disjoint tables, and a compaction's
 * outputs go to a level no newer data of their keys lies below.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compaction.h"
#include "db_impl.h"
#include "vlog.h"
#include "file.h"
#include "format.h"
#include "merge_iter.h"
#include "range_del.h"
#include "table_builder.h"

typedef struct compaction {
    int level;        /* the newest input level */
    int output_level; /* the outputs' level; its inputs are rewritten with the others */
    file_meta **inputs[SHALE_MAX_LEVELS]; /* by level; below L0 in key order */
    int n_inputs[SHALE_MAX_LEVELS];
    bool trivial_move;     /* inputs[level] move to output_level without rewriting */
    bool deletion_only;    /* fifo: inputs are dropped, nothing written */
    bool bottommost;       /* nothing older below the output: tombstones can go */
    version *v;            /* the version the job was picked from (referenced) */
    buf smallest, largest; /* user key range of all inputs */
    uint64_t max_output_size;
    struct compaction *next; /* db->running list */
    const char *reason;
    bool for_tombstones; /* picked by the tombstone density (counted apart) */
} compaction;

static void compaction_free(compaction *c)
{
    if (!c)
        return;
    for (int l = 0; l < SHALE_MAX_LEVELS; l++)
        free(c->inputs[l]);
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

static uint64_t inputs_size(const compaction *c)
{
    uint64_t s = 0;
    for (int l = 0; l < SHALE_MAX_LEVELS; l++)
        s += total_size(c->inputs[l], c->n_inputs[l]);
    return s;
}

/* Grows the user key range [*lo, *hi] (empty while *n == 0) by f's. */
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

/* User key range [smallest, largest] over files. */
static void key_range(file_meta **files, int n, slice *lo, slice *hi)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        range_add(files[i], lo, hi, &k);
}

static bool any_being_compacted(file_meta **files, int n)
{
    for (int i = 0; i < n; i++)
        if (files[i]->being_compacted)
            return true;
    return false;
}

static bool version_busy(const version *v)
{
    for (int l = 0; l < v->num_levels; l++)
        if (any_being_compacted(v->files[l], v->nfiles[l]))
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

/* A job to fill with job_add and complete with job_finish. */
static compaction *job_new(int level, int out_level, const char *reason)
{
    compaction *c = calloc(1, sizeof *c);
    if (c) {
        c->level = level;
        c->output_level = out_level;
        c->reason = reason;
    }
    return c;
}

/* Sets the inputs of one level; takes ownership of files (also when c is NULL). */
static void job_add(compaction *c, int level, file_meta **files, int n)
{
    if (!c) {
        free(files);
        return;
    }
    free(c->inputs[level]);
    c->inputs[level] = files;
    c->n_inputs[level] = n;
}

/* Completes a job picked from v (mu held): its key range and whether it is bottommost.
   NULL (c freed) on ENOMEM. */
static compaction *job_finish(shale_db *db, version *v, compaction *c)
{
    if (!c)
        return NULL;
    c->v = v;
    version_ref(v);
    c->max_output_size = db->opts.table_size;
    slice lo = {0}, hi = {0};
    int k = 0;
    for (int l = 0; l < SHALE_MAX_LEVELS; l++)
        for (int i = 0; i < c->n_inputs[l]; i++)
            range_add(c->inputs[l][i], &lo, &hi, &k);
    if (buf_set(&c->smallest, lo.data, lo.len) || buf_set(&c->largest, hi.data, hi.len)) {
        compaction_free(c);
        return NULL;
    }
    /* Every style keeps what is older than a job's inputs in the levels below its
       output (#15.2: a tiered merge of the oldest L0 run once ignored L1 and below). */
    c->bottommost = !version_overlap_in_levels_below(v, c->output_level, lo, hi);
    return c;
}

/* A job merging in0 (at level) with in1 (at out_level) (mu held). Takes ownership. */
static compaction *make_job(shale_db *db, version *v, int level, int out_level, file_meta **in0,
                            int n0, file_meta **in1, int n1, const char *reason)
{
    compaction *c = job_new(level, out_level, reason);
    job_add(c, level, in0, n0);
    if (out_level != level)
        job_add(c, out_level, in1, n1);
    else
        free(in1);
    return job_finish(db, v, c);
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

static compaction *pick_l0(shale_db *db, version *v, const char *reason)
{
    int n0 = v->nfiles[0];
    if (n0 <= 0 || any_being_compacted(v->files[0], n0))
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
    compaction *c = make_job(db, v, 0, 1, in0, n0, in1, n1, reason);
    if (c && n1 == 0 && l0_disjoint(in0, n0))
        c->trivial_move = true; /* sequential loads: move the tables down unchanged */
    return c;
}

atomic_uint_fast64_t compaction_pick_compares;

static slice fm_lo(const file_meta *f)
{
    return ikey_user_key(buf_slice(&f->smallest));
}
static slice fm_hi(const file_meta *f)
{
    return ikey_user_key(buf_slice(&f->largest));
}

/*
 * Both levels are sorted with disjoint tables, so the tables of next that a table
 * overlaps are a window [a, b) that only moves right as the table does: one pass over
 * both levels, like a merge, keeping the window's bytes and busy tables as it slides
 * (#15.10: a scan of next for every table was n x m comparisons under the db mutex).
 */
void compaction_pick_in_level(shale_db *db, int next_level, file_meta **files, int n,
                              file_meta **next, int m, level_pick *out)
{
    uint64_t compares = 0, bytes = 0;
    int a = 0, b = 0, busy = 0;
    double best_ratio = 0;
    *out = (level_pick){-1, 0, 0};
    for (int i = 0; i < n; i++) {
        file_meta *f = files[i];
        slice lo = fm_lo(f), hi = fm_hi(f);
        /* a: the first table of next that does not end before f */
        for (; a < m && (compares++, slice_compare(fm_hi(next[a]), lo) < 0); a++)
            if (a < b) {
                bytes -= next[a]->file_size;
                busy -= next[a]->being_compacted;
            }
        if (b < a)
            b = a;
        /* b: the first table of next that starts after f */
        for (; b < m && (compares++, slice_compare(fm_lo(next[b]), hi) <= 0); b++) {
            bytes += next[b]->file_size;
            busy += next[b]->being_compacted;
        }
        if (f->being_compacted || busy || (db && output_range_busy(db, next_level, lo, hi)))
            continue;
        double ratio = (double)bytes / (double)(f->file_size + 1);
        if (out->index < 0 || ratio < best_ratio) {
            best_ratio = ratio;
            *out = (level_pick){i, a, b};
        }
    }
    atomic_fetch_add_explicit(&compaction_pick_compares, compares, memory_order_relaxed);
}

/* The table of `level` to compact into level + 1 (mu held). */
static compaction *pick_level(shale_db *db, version *v, int level)
{
    level_pick p;
    compaction_pick_in_level(db, level + 1, v->files[level], v->nfiles[level], v->files[level + 1],
                             v->nfiles[level + 1], &p);
    if (p.index < 0)
        return NULL;
    int n1 = p.over_to - p.over_from;
    file_meta **in0 = malloc(sizeof *in0);
    file_meta **in1 = malloc((size_t)(n1 ? n1 : 1) * sizeof *in1);
    if (!in0 || !in1) {
        free(in0);
        free(in1);
        return NULL;
    }
    in0[0] = v->files[level][p.index];
    memcpy(in1, v->files[level + 1] + p.over_from, (size_t)n1 * sizeof *in1);
    compaction *c = make_job(db, v, level, level + 1, in0, 1, in1, n1, "level size");
    if (c && n1 == 0)
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
        compaction *c = best == 0 ? pick_l0(db, v, "l0 trigger") : pick_level(db, v, best);
        if (c)
            return c;
        scores[best] = 0;
    }
    return NULL;
}

/* ---- tiered (universal) ---- */

/* A sorted run: one L0 table, or a whole level below L0. */
typedef struct sorted_run {
    int level;
    int index; /* L0: the table's index in files[0] */
    uint64_t size;
} sorted_run;

/* v's sorted runs, newest first: L0's tables (newest first), then each non-empty level
   (a level's versions of a key are older than L0's and the levels' above). */
static sorted_run *sorted_runs(const version *v, int *n)
{
    sorted_run *r = malloc((size_t)(v->nfiles[0] + v->num_levels) * sizeof *r);
    *n = 0;
    if (!r)
        return NULL;
    for (int i = 0; i < v->nfiles[0]; i++)
        r[(*n)++] = (sorted_run){0, i, v->files[0][i]->file_size};
    for (int l = 1; l < v->num_levels; l++)
        if (v->nfiles[l])
            r[(*n)++] = (sorted_run){l, 0, total_size(v->files[l], v->nfiles[l])};
    return r;
}

/*
 * Merges runs [from, to) (mu held). The merged run goes just above the next older run
 * (into the last level when the oldest run is merged), so runs stay in age order down
 * the levels, as in RocksDB's universal compaction. Unlike RocksDB it never lands in L0:
 * a run below L0 is cut into tables of table_size, so no table (and no table's index
 * and filter, which a reader keeps in memory) grows with the data (#15.11); a merge that
 * would land in L0 takes the next older run in too.
 */
static compaction *tiered_job(shale_db *db, version *v, const sorted_run *runs, int n, int from,
                              int to, const char *reason)
{
    int out;
    while ((out = to == n ? v->num_levels - 1 : runs[to].level - 1) <= 0)
        to++;
    compaction *c = job_new(runs[from].level, out, reason);
    if (!c)
        return NULL;
    int l0_from = -1, l0_to = -1;
    for (int i = from; i < to; i++) {
        if (runs[i].level == 0) {
            l0_from = l0_from < 0 ? runs[i].index : l0_from;
            l0_to = runs[i].index + 1;
            continue;
        }
        int nf = v->nfiles[runs[i].level];
        file_meta **files = malloc((size_t)nf * sizeof *files);
        if (!files) {
            compaction_free(c);
            return NULL;
        }
        memcpy(files, v->files[runs[i].level], (size_t)nf * sizeof *files);
        job_add(c, runs[i].level, files, nf);
    }
    if (l0_from >= 0) {
        int nf = l0_to - l0_from;
        file_meta **files = malloc((size_t)nf * sizeof *files);
        if (!files) {
            compaction_free(c);
            return NULL;
        }
        memcpy(files, v->files[0] + l0_from, (size_t)nf * sizeof *files);
        job_add(c, 0, files, nf);
    }
    return job_finish(db, v, c);
}

static compaction *pick_tiered(shale_db *db, version *v)
{
    int trigger = __atomic_load_n(&db->opts.l0_compaction_trigger, __ATOMIC_RELAXED);
    if (version_busy(v))
        return NULL; /* one universal job at a time keeps runs contiguous in age */
    int n;
    sorted_run *runs = sorted_runs(v, &n);
    compaction *c = NULL;
    if (!runs || n < trigger || n < 2)
        goto done;
    /* Size amplification: all newer runs against the oldest. */
    uint64_t newer = 0;
    for (int i = 0; i < n - 1; i++)
        newer += runs[i].size;
    if (newer * 100 >= runs[n - 1].size * (uint64_t)db->opts.tiered_max_size_amplification) {
        c = tiered_job(db, v, runs, n, 0, n, "size amplification");
        goto done;
    }
    /* Size ratio: from the newest, take runs while the next is not much bigger than
       what has been taken. */
    int width = db->opts.tiered_min_merge_width;
    for (int start = 0; start < n - 1; start++) {
        uint64_t acc = runs[start].size;
        int end = start + 1;
        while (end < n &&
               runs[end].size * 100 <= acc * (uint64_t)(100 + db->opts.tiered_size_ratio))
            acc += runs[end++].size;
        if (end - start >= width) {
            c = tiered_job(db, v, runs, n, start, end, "size ratio");
            goto done;
        }
    }
    /* Too many runs: merge the newest ones so reads stay bounded. */
    int take = n - trigger + 2;
    if (take < width)
        take = width;
    if (take > n)
        take = n;
    c = tiered_job(db, v, runs, n, 0, take, "run count");
done:
    free(runs);
    return c;
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

static bool range_misses(const file_meta *f, slice lo, slice hi, int n)
{
    return n == 0 || slice_compare(ikey_user_key(buf_slice(&f->largest)), lo) < 0 ||
           slice_compare(ikey_user_key(buf_slice(&f->smallest)), hi) > 0;
}

typedef struct fifo_table {
    file_meta *f;
    int level;
} fifo_table;

/* v's tables oldest first: the deepest level's, up to L1's (each level's in key order:
   a level's tables share no key, so any order is oldest first), then L0's oldest first. */
static fifo_table *fifo_tables(const version *v, int *n)
{
    int total = 0;
    for (int l = 0; l < v->num_levels; l++)
        total += v->nfiles[l];
    fifo_table *t = malloc((size_t)(total ? total : 1) * sizeof *t);
    *n = 0;
    if (!t)
        return NULL;
    for (int l = v->num_levels - 1; l >= 1; l--)
        for (int i = 0; i < v->nfiles[l]; i++)
            t[(*n)++] = (fifo_table){v->files[l][i], l};
    for (int i = v->nfiles[0] - 1; i >= 0; i--)
        t[(*n)++] = (fifo_table){v->files[0][i], 0};
    return t;
}

/* The job dropping the tables t[i] with drop[i] set (mu held). */
static compaction *fifo_job(shale_db *db, version *v, const fifo_table *t, const bool *drop, int n)
{
    compaction *c = job_new(0, 0, "fifo");
    for (int l = v->num_levels - 1; c && l >= 0; l--) {
        int m = 0;
        for (int i = 0; i < n; i++)
            m += drop[i] && t[i].level == l;
        if (m == 0)
            continue;
        file_meta **files = malloc((size_t)m * sizeof *files);
        if (!files) {
            compaction_free(c);
            return NULL;
        }
        m = 0;
        for (int i = 0; i < n; i++)
            if (drop[i] && t[i].level == l)
                files[m++] = t[i].f;
        job_add(c, l, files, m);
        c->level = l; /* the newest level with drops */
    }
    c = job_finish(db, v, c);
    if (c)
        c->deletion_only = true;
    return c;
}

/*
 * Fifo drops whole tables, and a dropped table must not uncover anything (#15.1): a
 * newer table's expired entry or tombstone hides an older version of its key, which
 * reads again once the newer table is gone. So it drops, oldest first, a prefix by age
 * (tables over the size cap, and tables all expired): nothing is older than they are.
 * After that prefix, an all-expired table goes only when no older table that stays holds
 * one of its keys; the older tables' keys are summed up as one range (conservative, and
 * linear in the number of tables). Tables below L0, which another style left, are older
 * than L0's and go first (#15.2).
 */
static compaction *pick_fifo(shale_db *db, version *v)
{
    if (version_busy(v))
        return NULL; /* one fifo job at a time: each sees what the last one left */
    int n;
    fifo_table *t = fifo_tables(v, &n);
    bool *drop = calloc((size_t)(n ? n : 1), sizeof *drop);
    compaction *c = NULL;
    if (!t || !drop || n == 0)
        goto done;
    uint64_t cap = db_opt_u64(&db->opts.fifo_max_size);
    uint64_t total = 0, now = db_now_ms();
    for (int i = 0; i < n; i++)
        total += t[i].f->file_size;
    int k = 0, i = 0;
    for (; i < n; i++) {
        if (total <= cap && !fifo_all_expired(t[i].f, now))
            break;
        drop[i] = true;
        k++;
        total -= t[i].f->file_size;
    }
    slice lo = {0}, hi = {0};
    int older = 0;
    for (; i < n; i++) {
        if (fifo_all_expired(t[i].f, now) && range_misses(t[i].f, lo, hi, older)) {
            drop[i] = true;
            k++;
        } else {
            range_add(t[i].f, &lo, &hi, &older);
        }
    }
    if (k > 0)
        c = fifo_job(db, v, t, drop, n);
done:
    free(t);
    free(drop);
    return c;
}

/* ---- tombstone density (issue 17) ----
 *
 * A queue (push at the tail, pop at the head) leaves a run of tombstones behind its head
 * that every seek from the collection's start steps over until a compaction meets the
 * values they delete, and a level under its size target is never compacted (kvrocks#494:
 * ZADD + ZREMRANGEBYRANK fell to 100 qps). So a table dense in tombstones, or one an
 * iterator found itself stepping over many hidden entries in (compact_hint), is compacted
 * on its own once no size-triggered job is due: into the level below, where its
 * tombstones meet what they delete, or, with nothing below, by itself, where they go.
 */

typedef struct dense_table {
    int level;
    int index;
    double share; /* tombstones / entries */
} dense_table;

/* Hidden entries are tombstones, and the versions below them (or below newer values)
   that a snapshot kept: a compaction meeting them with no snapshot left drops them both
   (file_meta_hidden; tables written before issue 17 count their tombstones only). */
static bool tombstone_dense(shale_db *db, const file_meta *f)
{
    uint64_t hidden = file_meta_hidden(f);
    if (f->being_compacted || hidden == 0)
        return false;
    if (f->compact_hint)
        return true;
    uint64_t ratio =
        (uint64_t)__atomic_load_n(&db->opts.tombstone_compaction_ratio, __ATOMIC_RELAXED);
    uint64_t min = db_opt_u64(&db->opts.tombstone_compaction_min_entries);
    uint64_t all = f->num_entries + f->num_range_dels;
    return ratio > 0 && all >= min && hidden * 100 >= all * ratio;
}

static int cmp_dense(const void *a, const void *b)
{
    const dense_table *x = a, *y = b;
    if (x->share != y->share)
        return x->share > y->share ? -1 : 1;
    return x->level - y->level;
}

/* v's tables dense in tombstones, densest first (malloc'ed; *n may be 0). */
static dense_table *dense_tables(shale_db *db, const version *v, int *n)
{
    int total = 0;
    for (int l = 0; l < v->num_levels; l++)
        total += v->nfiles[l];
    dense_table *d = malloc((size_t)(total ? total : 1) * sizeof *d);
    *n = 0;
    if (!d)
        return NULL;
    for (int l = 0; l < v->num_levels; l++)
        for (int i = 0; i < v->nfiles[l]; i++) {
            const file_meta *f = v->files[l][i];
            if (tombstone_dense(db, f))
                d[(*n)++] = (dense_table){l, i,
                                          (double)file_meta_hidden(f) /
                                              (double)(f->num_entries + f->num_range_dels)};
        }
    qsort(d, (size_t)*n, sizeof *d, cmp_dense);
    return d;
}

/*
 * A table with nothing older under it drops its tombstones when compacted by itself,
 * but only those every snapshot sees: one holding entries newer than the oldest snapshot
 * waits, or its output would be as dense and picked again and again (mu held).
 */
static bool bottom_ready(shale_db *db, const file_meta *f)
{
    return f->max_seq <= db_smallest_snapshot(db);
}

/* The leveled job for dense table (level, index): L0 goes down whole (its tables
   overlap), a table below into the next level, or alone at the bottom (mu held). */
static compaction *dense_job_leveled(shale_db *db, version *v, const dense_table *d)
{
    if (d->level == 0)
        return pick_l0(db, v, "tombstones");
    file_meta *f = v->files[d->level][d->index];
    slice lo = fm_lo(f), hi = fm_hi(f);
    int l = d->level;
    bool bottom = !version_overlap_in_levels_below(v, l, lo, hi);
    int out = bottom ? l : l + 1;
    if ((bottom && !bottom_ready(db, f)) || output_range_busy(db, out, lo, hi))
        return NULL;
    file_meta **in0 = malloc(sizeof *in0), **in1 = NULL;
    int n1 = 0;
    if (!in0)
        return NULL;
    in0[0] = f;
    if (!bottom && overlapping(v, out, lo, hi, &in1, &n1)) {
        free(in0);
        return NULL;
    }
    if (any_being_compacted(in1, n1)) {
        free(in0);
        free(in1);
        return NULL;
    }
    compaction *c = make_job(db, v, l, out, in0, 1, in1, n1, "tombstones");
    if (c && !bottom && n1 == 0)
        c->trivial_move = true; /* nothing to meet in the next level: move it down */
    return c;
}

/* The tiered job for a dense table: its run merged with the next older one, or alone
   into the last level when it is the oldest run (mu held, no job running). */
static compaction *dense_job_tiered(shale_db *db, version *v, const dense_table *d)
{
    int n;
    sorted_run *runs = sorted_runs(v, &n);
    compaction *c = NULL;
    int r = -1;
    for (int i = 0; runs && i < n && r < 0; i++)
        if (runs[i].level == d->level && (d->level > 0 || runs[i].index == d->index))
            r = i;
    if (r >= 0 && (r < n - 1 || bottom_ready(db, v->files[d->level][d->index])))
        c = tiered_job(db, v, runs, n, r, r + 1 < n ? r + 2 : n, "tombstones");
    free(runs);
    return c;
}

static compaction *pick_tombstones(shale_db *db, version *v)
{
    enum shale_compaction_style style = db->opts.compaction_style;
    if (style == SHALE_COMPACTION_FIFO || (style == SHALE_COMPACTION_TIERED && version_busy(v)))
        return NULL; /* fifo drops whole tables; tiered runs one job at a time */
    int n;
    dense_table *d = dense_tables(db, v, &n);
    compaction *c = NULL;
    for (int i = 0; d && i < n && !c; i++)
        c = style == SHALE_COMPACTION_TIERED ? dense_job_tiered(db, v, &d[i])
                                             : dense_job_leveled(db, v, &d[i]);
    free(d);
    if (c)
        c->for_tombstones = true;
    return c;
}

void db_note_iter_skips(shale_db *db, slice lo, const slice *hi)
{
    /* At most one report every 10 ms: a hot range is reported by its next reader. */
    _Atomic uint64_t *last = &db->iter_skip_note_us;
    uint64_t now = db_now_us(), prev = atomic_load_explicit(last, memory_order_relaxed);
    if (now - prev < 10000 || !atomic_compare_exchange_strong_explicit(
                                  last, &prev, now, memory_order_relaxed, memory_order_relaxed))
        return;
    pthread_mutex_lock(&db->mu);
    version *v = db->vs->current;
    int marked = 0;
    for (int l = 0; l < v->num_levels; l++) {
        file_meta **files;
        int nf;
        if (version_overlapping(v, l, &lo, hi, &files, &nf))
            break;
        for (int i = 0; i < nf; i++) {
            file_meta *f = files[i];
            if (file_meta_hidden(f) > 0 && !f->compact_hint && !f->being_compacted) {
                f->compact_hint = true;
                marked++;
            }
        }
        free(files);
    }
    if (marked) {
        atomic_fetch_add_explicit(&db->stats.iter_skip_hints, 1, memory_order_relaxed);
        pthread_cond_broadcast(&db->work_cv);
    }
    pthread_mutex_unlock(&db->mu);
}

/* ---- scheduling ---- */

static compaction *pick(shale_db *db)
{
    version *v = db->vs->current;
    compaction *c;
    switch (db->opts.compaction_style) {
    case SHALE_COMPACTION_TIERED:
        c = pick_tiered(db, v);
        break;
    case SHALE_COMPACTION_FIFO:
        return pick_fifo(db, v);
    default:
        c = pick_leveled(db, v);
        break;
    }
    /* Below every size-triggered job: only when none is due. */
    return c ? c : pick_tombstones(db, v);
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
    for (int l = 0; l < SHALE_MAX_LEVELS; l++)
        for (int i = 0; i < c->n_inputs[l]; i++)
            c->inputs[l][i]->being_compacted = on;
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

/* The merged inputs: each L0 table on its own (they overlap), one iterator a level below. */
static iter *job_input(shale_db *db, compaction *c)
{
    int cap = c->n_inputs[0] + SHALE_MAX_LEVELS;
    iter **its = malloc((size_t)cap * sizeof *its);
    if (!its)
        return NULL;
    int n = 0;
    for (int i = 0; i < c->n_inputs[0]; i++) {
        file_meta *f = c->inputs[0][i];
        iter *it = table_cache_iter(db->tc, f->number, f->file_size, false);
        if (!it)
            goto fail;
        its[n++] = it;
    }
    for (int l = 1; l < SHALE_MAX_LEVELS; l++) {
        if (c->n_inputs[l] == 0)
            continue;
        iter *it = level_iter_new(db->tc, c->inputs[l], c->n_inputs[l], false);
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

/* ---- range tombstones in a compaction (issue 17) ----
 *
 * The inputs' tombstones are fragmented together for the job's oldest snapshot (only the
 * newest sequence at or below it survives per fragment). They delete the point entries
 * below them that every snapshot sees; those at or below the snapshot go where nothing
 * older lies below the output (as point tombstones do at the bottom). What stays is cut
 * among the outputs at the same keys as the point entries: an output holds the part of
 * each fragment between its first key and the next output's, so a key's entries and the
 * fragments over it stay in one table at every level (what reads rely on), and the
 * outputs' key ranges (which include their fragments) do not overlap.
 */
typedef struct job_rdels {
    rdel_list *all;  /* every input tombstone, fragmented */
    rdel_list *out;  /* what the outputs keep */
    rdel_cursor cur; /* over all, for the point entries */
    int next;        /* out's first fragment not yet written whole */
    buf lower;       /* where the open output's share of out starts */
    bool has_lower;
    uint64_t dropped; /* (fragment, sequence) pairs the bottom dropped */
} job_rdels;

/* The inputs' tombstones into r (mu not held). Errors: -errno, SHALE_ECORRUPT, -ENOMEM. */
static int job_rdels_load(shale_db *db, compaction *c, uint64_t snap, job_rdels *r)
{
    int nfiles = 0, nl = 0, rc = 0;
    for (int l = 0; l < SHALE_MAX_LEVELS; l++)
        nfiles += c->n_inputs[l];
    rdel_list **lists = malloc((size_t)(nfiles ? nfiles : 1) * sizeof *lists);
    if (!lists)
        return -ENOMEM;
    size_t total = 0;
    for (int l = 0; l < SHALE_MAX_LEVELS && rc == 0; l++)
        for (int i = 0; i < c->n_inputs[l] && rc == 0; i++) {
            file_meta *f = c->inputs[l][i];
            if (f->num_range_dels == 0)
                continue;
            rc = table_cache_range_dels(db->tc, NULL, f->number, f->file_size, &lists[nl]);
            if (rc == 0 && lists[nl])
                total += lists[nl++]->entries;
        }
    range_tomb *t = rc == 0 && total ? malloc(total * sizeof *t) : NULL;
    if (rc == 0 && total && !t)
        rc = -ENOMEM;
    size_t k = 0;
    for (int i = 0; t && i < nl; i++)
        for (int j = 0; j < lists[i]->n; j++)
            for (uint32_t s = 0; s < lists[i]->frags[j].nseqs; s++)
                t[k++] = (range_tomb){lists[i]->frags[j].begin, lists[i]->frags[j].end,
                                      lists[i]->frags[j].seqs[s]};
    if (rc == 0 && k)
        rc = rdel_list_build(t, k, UINT64_MAX, snap, &r->all);
    free(t);
    t = NULL;
    /* fragmenting tombstones of several tables together can make more pairs */
    if (rc == 0 && r->all && !(t = malloc(r->all->entries * sizeof *t)))
        rc = -ENOMEM;
    k = 0;
    for (int j = 0; rc == 0 && r->all && j < r->all->n; j++) {
        const rdel_frag *f = &r->all->frags[j];
        bool base = c->bottommost ||
                    (c->output_level > 0 &&
                     !version_overlap_in_levels_below(c->v, c->output_level, f->begin, f->end));
        for (uint32_t s = 0; s < f->nseqs; s++) {
            if (base && f->seqs[s] <= snap)
                r->dropped++; /* nothing older below: it deletes nothing any more */
            else
                t[k++] = (range_tomb){f->begin, f->end, f->seqs[s]};
        }
    }
    if (rc == 0 && k)
        rc = rdel_list_build(t, k, UINT64_MAX, 0, &r->out);
    free(t);
    for (int i = 0; i < nl; i++)
        rdel_list_unref(lists[i]);
    free(lists);
    rdel_cursor_init(&r->cur, r->all);
    return rc;
}

static void job_rdels_free(job_rdels *r)
{
    rdel_list_unref(r->all);
    rdel_list_unref(r->out);
    buf_free(&r->lower);
}

/* Writes into o the part of the kept fragments below upper (NULL: all that is left),
   from the output's lower bound on; the next output starts at upper. */
static int emit_range_dels(job_rdels *r, table_output *o, const slice *upper)
{
    const rdel_list *l = r->out;
    int rc = 0;
    while (l && rc == 0 && r->next < l->n) {
        const rdel_frag *f = &l->frags[r->next];
        if (upper && slice_compare(f->begin, *upper) >= 0)
            break; /* wholly the next output's */
        slice b = f->begin, e = f->end;
        if (r->has_lower && slice_compare(b, buf_slice(&r->lower)) < 0)
            b = buf_slice(&r->lower);
        bool cut = upper && slice_compare(e, *upper) > 0;
        if (cut)
            e = *upper;
        for (uint32_t j = 0; rc == 0 && j < f->nseqs && slice_compare(b, e) < 0; j++)
            rc = table_output_add_range_del(o, b, e, f->seqs[j]);
        if (cut)
            break; /* the rest of it goes to the next output */
        r->next++;
    }
    if (rc == 0 && upper) {
        rc = buf_set(&r->lower, upper->data, upper->len) ? -ENOMEM : 0;
        r->has_lower = true;
    }
    return rc;
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
    *bytes_read = inputs_size(c);
    char tomb_value[1] = {0};
    buf tomb_key = {0}; /* reused for every expired entry turned into a tombstone */
    job_rdels rd = {0};
    uint64_t n_covered = 0;
    rc = job_rdels_load(db, c, smallest_snapshot, &rd);
    for (iter_seek_to_first(in); rc == 0 && iter_valid(in); iter_next(in)) {
        if ((++seen & 1023) == 0 && __atomic_load_n(&db->closing, __ATOMIC_RELAXED)) {
            rc = SHALE_ECLOSING;
            break;
        }
        slice key = iter_key(in), value = iter_value(in);
        parsed_ikey pk;
        rc = ikey_parse(key, &pk);
        if (rc)
            break;
        if (rd.all && rdel_cursor_cover(&rd.cur, pk.user_key, smallest_snapshot) > pk.seq) {
            /* a range tombstone every snapshot sees deletes it */
            n_covered++;
            if ((rc = count_discard(e, &pk, value)) != 0)
                break;
            continue;
        }
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
            rc = emit_range_dels(&rd, &out, &pk.user_key);
            if (rc == 0)
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
    /* the fragments past the last point entry (or a job of tombstones alone) */
    if (rc == 0 && rd.out && rd.next < rd.out->n && !open) {
        rc = table_output_open(db, 0, &out);
        open = rc == 0;
    }
    if (rc == 0 && open)
        rc = emit_range_dels(&rd, &out, NULL);
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
    n_drop_del += rd.dropped;
    job_rdels_free(&rd);
    atomic_fetch_add_explicit(&db->stats.dropped_range_deleted, n_covered, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.dropped_expired, n_drop_exp, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.dropped_tombstones, n_drop_del, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.dropped_shadowed, n_drop_shadow, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.dropped_by_filter, n_drop_filter, memory_order_relaxed);
    return rc;
}

/*
 * Fifo drops tables without reading them; but tables a previous style wrote may hold
 * value-log pointers, whose bytes become garbage in their segments when the tables go
 * (else value-log GC, which picks segments by these figures, never takes them). Read
 * only while the version has segments: fifo never writes pointers itself. mu not held.
 * Best effort: a table that cannot be read is dropped all the same (logged).
 */
static void count_dropped_pointers(shale_db *db, compaction *c, version_edit *e)
{
    if (c->v->nsegs == 0)
        return;
    iter *in = job_input(db, c);
    int rc = -ENOMEM;
    if (in) {
        rc = 0;
        for (iter_seek_to_first(in); rc == 0 && iter_valid(in); iter_next(in)) {
            parsed_ikey pk;
            rc = ikey_parse(iter_key(in), &pk);
            if (rc == 0)
                rc = count_discard(e, &pk, iter_value(in));
        }
        if (rc == 0)
            rc = iter_status(in);
        iter_free(in);
    }
    if (rc)
        db_log(db, "fifo: value-log pointers of dropped tables not all counted: %s",
               shale_strerror(rc));
}

/* "L0 (3 tables) + L5 (10 tables)" for the log. */
static void describe_inputs(const compaction *c, char *out, size_t cap)
{
    size_t len = 0;
    for (int l = 0; l < SHALE_MAX_LEVELS && len < cap; l++) {
        if (c->n_inputs[l] == 0 && !(l == c->output_level && !c->deletion_only))
            continue;
        int n = snprintf(out + len, cap - len, "%sL%d (%d tables)", len ? " + " : "", l,
                         c->n_inputs[l]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
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
    for (int l = 0; l < SHALE_MAX_LEVELS; l++)
        for (int i = 0; i < c->n_inputs[l] && !rc; i++)
            rc = edit_delete_file(&e, l, c->inputs[l][i]->number);
    if (rc == 0 && c->trivial_move) {
        for (int i = 0; i < c->n_inputs[c->level] && !rc; i++)
            rc = edit_add_file(&e, c->output_level, c->inputs[c->level][i]);
    } else if (rc == 0 && c->deletion_only && c->v->nsegs > 0) {
        pthread_mutex_unlock(&db->mu);
        count_dropped_pointers(db, c, &e);
        pthread_mutex_lock(&db->mu);
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
        if (c->for_tombstones)
            atomic_fetch_add_explicit(&db->stats.tombstone_compactions, 1, memory_order_relaxed);
        if (c->trivial_move) {
            atomic_fetch_add_explicit(&db->stats.trivial_moves, 1, memory_order_relaxed);
        } else if (c->deletion_only) {
            atomic_fetch_add_explicit(&db->stats.fifo_deleted_bytes, inputs_size(c),
                                      memory_order_relaxed);
        } else {
            atomic_fetch_add_explicit(&db->stats.compact_read_bytes[c->output_level], read,
                                      memory_order_relaxed);
            atomic_fetch_add_explicit(&db->stats.compact_write_bytes[c->output_level], written,
                                      memory_order_relaxed);
            atomic_fetch_add_explicit(&db->stats.compact_count, 1, memory_order_relaxed);
            atomic_fetch_add_explicit(&db->stats.compact_micros, us, memory_order_relaxed);
        }
        char from[SHALE_MAX_LEVELS * 24] = "";
        describe_inputs(c, from, sizeof from);
        db_log(db,
               "compacted %s -> %d tables at L%d (%s%s), "
               "%" PRIu64 " B read, %" PRIu64 " B written, %" PRIu64 " ms",
               from, outs.n, c->output_level, c->reason,
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
        /* All runs into one in the last level (a lone run too while it holds
           tombstones, which only the last level can drop). */
        version *v = db->vs->current;
        int n;
        sorted_run *runs = sorted_runs(v, &n);
        uint64_t deletes = 0;
        for (int l = 0; runs && n == 1 && l < v->num_levels; l++)
            for (int i = 0; i < v->nfiles[l]; i++)
                deletes += v->files[l][i]->num_deletes + v->files[l][i]->num_range_dels;
        if (!runs) {
            rc = -ENOMEM;
        } else if (n > 1 || deletes > 0) {
            compaction *c = tiered_job(db, v, runs, n, 0, n, "manual");
            rc = c ? manual_job(db, c) : -ENOMEM;
        }
        free(runs);
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
