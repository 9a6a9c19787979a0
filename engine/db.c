/*
 * db.c - the database handle: open and recovery, the write path (group commit into the
 * WAL, then the memtable), write stalls, point reads, snapshots, and close.
 * Background flushing is in flush.c, compaction in compaction.c, iterators in db_iter.c,
 * statistics in stats.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <lz4.h>

#include "bloom.h"
#include "db_impl.h"
#include "file.h"
#include "format.h"
#include "sync_point.h"
#include "vlog.h"

/* ---- small helpers ---- */

uint64_t db_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t db_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    return ms + (uint64_t)sync_point_clock_shift_ms(); /* tests step the clock */
}

void db_log(shale_db *db, const char *fmt, ...)
{
    if (!db->info_log)
        return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    localtime_r(&ts.tv_sec, &tm);
    char line[1024];
    int n = (int)strftime(line, sizeof line, "%Y/%m/%d-%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%06ld ", ts.tv_nsec / 1000);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs per line: stdio's lock keeps lines whole across threads. */
    fputs(line, db->info_log);
    fputc('\n', db->info_log);
    fflush(db->info_log);
}

static void timespec_after_us(struct timespec *ts, uint64_t us)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += (time_t)(us / 1000000u);
    ts->tv_nsec += (long)(us % 1000000u) * 1000;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* ---- super versions ---- */

super_version *db_sv_acquire(shale_db *db)
{
    /* sv_lock, not mu: readers must not queue behind the write path's use of mu. */
    pthread_spin_lock(&db->sv_lock);
    super_version *sv = db->sv;
    atomic_fetch_add_explicit(&sv->refs, 1, memory_order_relaxed);
    pthread_spin_unlock(&db->sv_lock);
    return sv;
}

void db_sv_release(super_version *sv)
{
    if (!sv || atomic_fetch_sub_explicit(&sv->refs, 1, memory_order_acq_rel) != 1)
        return;
    memtable_unref(sv->mem);
    for (int i = 0; i < sv->n_imm; i++)
        memtable_unref(sv->imm[i]);
    version_unref(sv->v);
    free(sv);
}

int db_sv_install(shale_db *db)
{
    super_version *sv = calloc(1, sizeof *sv);
    if (!sv)
        return -ENOMEM;
    atomic_init(&sv->refs, 1);
    sv->mem = db->mem;
    memtable_ref(sv->mem);
    for (int i = db->n_imm - 1; i >= 0; i--) {
        sv->imm[sv->n_imm++] = db->imm[i];
        memtable_ref(db->imm[i]);
    }
    sv->v = db->vs->current;
    version_ref(sv->v);
    pthread_spin_lock(&db->sv_lock);
    super_version *old = db->sv;
    db->sv = sv;
    pthread_spin_unlock(&db->sv_lock);
    db_sv_release(old);
    return 0;
}

uint64_t db_smallest_snapshot(shale_db *db)
{
    if (db->snapshots.next != &db->snapshots)
        return db->snapshots.next->seq;
    return atomic_load_explicit(&db->last_seq, memory_order_acquire);
}

int db_l0_count(shale_db *db)
{
    return db->vs->current->nfiles[0];
}

/* ---- WAL files ---- */

static void wal_file_unref(wal_file *wf)
{
    if (!wf || atomic_fetch_sub_explicit(&wf->refs, 1, memory_order_acq_rel) != 1)
        return;
    wal_writer_close(wf->w);
    free(wf);
}

static uint64_t memtable_log_reserve(shale_db *db);

#define WAL_BUFFER_SIZE (1u << 20) /* manual_wal_flush: records buffered between flushes */

static int wal_file_open(shale_db *db, uint64_t number, wal_file **out)
{
    char path[PATH_MAX];
    *out = NULL;
    int rc = file_name_log(path, sizeof path, db->dir, number);
    if (rc < 0)
        return rc;
    wal_file *wf = calloc(1, sizeof *wf);
    if (!wf)
        return -ENOMEM;
    /* Appends within the preallocated region never grow the file (cheaper syncs). */
    rc = wal_writer_open(path, number, memtable_log_reserve(db), &wf->w);
    if (rc == 0 && db->opts.manual_wal_flush) {
        rc = wal_writer_set_buffer(wf->w, WAL_BUFFER_SIZE);
        if (rc)
            wal_writer_close(wf->w);
    }
    if (rc) {
        free(wf);
        return rc;
    }
    atomic_init(&wf->refs, 1);
    atomic_init(&wf->dir_synced, false);
    wf->number = number;
    *out = wf;
    return 0;
}

/* Puts logs back at the head of the list of logs still to sync, oldest first (a later
   log is never durable before them). mu not held. */
static void requeue_logs(shale_db *db, wal_file *old)
{
    if (!old)
        return;
    pthread_mutex_lock(&db->mu);
    wal_file **tail = &old;
    while (*tail)
        tail = &(*tail)->next;
    *tail = db->old_wals;
    db->old_wals = old;
    pthread_mutex_unlock(&db->mu);
}

/*
 * A new log's name must be durable before anything in it is acknowledged, or a power cut
 * takes the whole file (RocksDB syncs the WAL directory once per new log). One directory
 * sync covers every log created before it began.
 */
static int sync_log_dir(shale_db *db, wal_file *old, wal_file *cur)
{
    bool need = cur && !atomic_load(&cur->dir_synced);
    for (wal_file *f = old; f && !need; f = f->next)
        need = !atomic_load(&f->dir_synced);
    if (!need)
        return 0;
    int rc = file_sync_dir(db->dir);
    if (rc)
        return rc;
    for (wal_file *f = old; f; f = f->next)
        atomic_store(&f->dir_synced, true);
    if (cur)
        atomic_store(&cur->dir_synced, true);
    return 0;
}

/*
 * Makes every WAL byte written so far durable, older logs first, so that what survives a
 * crash is always a prefix of what was written. Called without mu.
 */
int db_wal_sync_all(shale_db *db)
{
    pthread_mutex_lock(&db->sync_mu);
    pthread_mutex_lock(&db->mu);
    wal_file *old = db->old_wals;
    db->old_wals = NULL;
    wal_file *cur = db->wal;
    if (cur)
        atomic_fetch_add_explicit(&cur->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&db->mu);

    int rc = sync_log_dir(db, old, cur);
    if (rc) {
        requeue_logs(db, old);
        old = NULL;
    }
    while (old) {
        wal_file *next = old->next;
        rc = wal_writer_sync(old->w);
        atomic_fetch_add_explicit(&db->stats.wal_syncs, 1, memory_order_relaxed);
        if (rc) {
            /* This log and the ones after it stay listed for the next syncer or
               shale_resume. */
            requeue_logs(db, old);
            break;
        }
        wal_file_unref(old);
        old = next;
    }
    if (cur) {
        uint64_t size = wal_writer_size(cur->w);
        if (!rc && size != __atomic_load_n(&cur->synced, __ATOMIC_ACQUIRE)) {
            uint64_t t0 = db_now_us();
            rc = wal_writer_sync(cur->w);
            atomic_fetch_add_explicit(&db->stats.wal_sync_micros, db_now_us() - t0,
                                      memory_order_relaxed);
            atomic_fetch_add_explicit(&db->stats.wal_syncs, 1, memory_order_relaxed);
            if (!rc)
                __atomic_store_n(&cur->synced, size, __ATOMIC_RELEASE);
        }
        wal_file_unref(cur);
    }
    pthread_mutex_unlock(&db->sync_mu);
    return rc;
}

static void *sync_thread_main(void *arg)
{
    shale_db *db = arg;
    pthread_mutex_lock(&db->mu);
    while (!db->closing) {
        uint32_t ms = __atomic_load_n(&db->opts.sync_interval_ms, __ATOMIC_RELAXED);
        struct timespec ts;
        timespec_after_us(&ts, (uint64_t)(ms ? ms : 1000) * 1000u);
        pthread_cond_timedwait(&db->work_cv, &db->mu, &ts);
        if (db->closing)
            break;
        if (ms == 0 || __atomic_load_n(&db->opts.sync_writes, __ATOMIC_RELAXED))
            continue;
        pthread_mutex_unlock(&db->mu);
        int rc = db_wal_sync_all(db);
        pthread_mutex_lock(&db->mu);
        if (rc && !atomic_load(&db->bg_error)) {
            atomic_store(&db->bg_error, rc);
            db_log(db,
                   "background WAL sync failed: %s; refusing writes until shale_resume or a reopen",
                   shale_strerror(rc));
        }
    }
    pthread_mutex_unlock(&db->mu);
    return NULL;
}

/* ---- write stalls ---- */

static void stall_record(shale_db *db, enum stall_cause cause, uint64_t start_us)
{
    atomic_fetch_add_explicit(&db->stats.stall_count[cause], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&db->stats.stall_micros[cause], db_now_us() - start_us,
                              memory_order_relaxed);
}

/*
 * Delays a write when L0 is past the slowdown trigger: the allowed rate starts at
 * delayed_write_rate and falls linearly towards a twentieth of it as L0 approaches the
 * stop trigger (a slope, not a cliff). Called by the leader with mu held.
 */
static void delay_write(shale_db *db, int l0, size_t bytes)
{
    int slow = __atomic_load_n(&db->opts.l0_slowdown_trigger, __ATOMIC_RELAXED);
    int stop = __atomic_load_n(&db->opts.l0_stop_trigger, __ATOMIC_RELAXED);
    double rate = (double)db_opt_u64(&db->opts.delayed_write_rate);
    if (stop > slow) {
        double frac = (double)(l0 - slow) / (double)(stop - slow);
        rate *= 1.0 - 0.95 * (frac > 1 ? 1 : frac);
    }
    uint64_t now = db_now_us();
    if (db->delay_next_us < now)
        db->delay_next_us = now;
    db->delay_next_us += (uint64_t)((double)bytes * 1e6 / rate);
    /* Sleep only when at least a millisecond is owed, so small writes batch up credit. */
    if (db->delay_next_us > now + 1000) {
        uint64_t wait = db->delay_next_us - now;
        pthread_mutex_unlock(&db->mu);
        struct timespec ts = {(time_t)(wait / 1000000u), (long)(wait % 1000000u) * 1000};
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&db->mu);
        stall_record(db, STALL_L0_SLOWDOWN, now);
    }
}

/* Room for a full memtable's records plus framing, preallocated in its log. */
static uint64_t memtable_log_reserve(shale_db *db)
{
    uint64_t msize = __atomic_load_n(&db->opts.memtable_size, __ATOMIC_RELAXED);
    return msize + msize / 8;
}

/* Starts a new log (the old one lives on as a value-log segment or is deleted once its
   memtables are flushed). mu held. */
static int roll_log(shale_db *db)
{
    uint64_t number = version_set_new_file_number(db->vs);
    wal_file *wf;
    int rc = wal_file_open(db, number, &wf);
    if (rc)
        return rc;
    wal_file *old = db->wal;
    /* Buffered records of the old log reach its file before any of the new log's: what
       survives a crash stays a prefix of what was written. Its preallocated tail goes. */
    int frc = wal_writer_finish(old->w);
    if (frc && !atomic_load(&db->bg_error)) {
        atomic_store(&db->bg_error, frc);
        db_log(db, "WAL write failed: %s; refusing writes until shale_resume or a reopen",
               shale_strerror(frc));
    }
    if (wal_writer_size(old->w) != __atomic_load_n(&old->synced, __ATOMIC_ACQUIRE)) {
        /* Unsynced bytes: the next syncer syncs it before the new log. */
        wal_file **p = &db->old_wals;
        while (*p)
            p = &(*p)->next;
        old->next = NULL;
        *p = old;
    } else {
        wal_file_unref(old);
    }
    db->wal = wf;
    return 0;
}

/*
 * Whether the next memtable continues the current log (mu held). A log whose memtables may
 * leave pointers into it goes on, so that it becomes a value-log segment of useful size.
 * One that cannot (every value in it shorter than value_threshold, or no pointers at all:
 * threshold 0, fifo) rolls at every switch: once its memtable is flushed nothing needs
 * it and flush_one deletes it, instead of keeping up to vlog_file_size of flushed records
 * on disk until the next open. A threshold lowered later is no danger: a log a flush does
 * point into is listed as a segment, which keeps its file (maybe_delete_log). The answer
 * is remembered in the log (may_hold_pointers): once it may hold pointers, it goes on.
 */
static bool log_keeps_going(shale_db *db)
{
    size_t threshold = __atomic_load_n(&db->opts.value_threshold, __ATOMIC_RELAXED);
    if (threshold && db->opts.compaction_style != SHALE_COMPACTION_FIFO &&
        memtable_max_logged_value(db->mem) >= threshold)
        db->wal->may_hold_pointers = true;
    return db->wal->may_hold_pointers;
}

/*
 * Switches to a new memtable (mu held). With roll, when the log has reached
 * vlog_file_size, or when nothing in the log can become a value-log segment
 * (log_keeps_going), the new memtable starts a new log; otherwise it continues the
 * current log from its end, so a log holds whole memtables and is a segment of useful
 * size.
 */
static int switch_memtable(shale_db *db, bool roll)
{
    memtable *m;
    int rc = memtable_new(&m);
    if (rc)
        return rc;
    if (!roll && !log_keeps_going(db))
        roll = true;
    if (memtable_num_entries(db->mem) == 0) {
        /* Nothing to flush: only the log moves on. */
        memtable_unref(m);
        rc = roll_log(db);
        if (rc == 0)
            memtable_set_log_position(db->mem, db->wal->number, 0, db->alloc_seq);
        return rc;
    }
    if (roll) {
        rc = roll_log(db);
    } else {
        wal_writer *w = db->wal->w;
        rc = wal_writer_flush(w);
        if (rc == 0)
            rc = wal_writer_reserve(w, wal_writer_size(w) + memtable_log_reserve(db));
    }
    if (rc) {
        memtable_unref(m);
        return rc;
    }
    memtable_set_log_position(m, db->wal->number, wal_writer_size(db->wal->w), db->alloc_seq);
    db->imm[db->n_imm++] = db->mem;
    db->mem = m;
    rc = db_sv_install(db);
    pthread_cond_broadcast(&db->work_cv);
    return rc;
}

/*
 * Makes room for a write of `bytes` (leader, mu held): delays or waits on stalls, and
 * switches the memtable when it is full. force switches even when not full (flush).
 */
static int make_room(shale_db *db, size_t bytes, bool force)
{
    bool delayed = false;
    uint64_t stall_start = 0;
    enum stall_cause cause = STALL_MEMTABLE;
    uint32_t timeout_ms = __atomic_load_n(&db->opts.write_stall_timeout_ms, __ATOMIC_RELAXED);
    int rc = 0;
    for (;;) {
        int err = atomic_load(&db->bg_error);
        if (err) {
            rc = SHALE_EFAILED;
            break;
        }
        if (db->closing) {
            rc = SHALE_ECLOSING;
            break;
        }
        int l0 = db_l0_count(db);
        int slow = __atomic_load_n(&db->opts.l0_slowdown_trigger, __ATOMIC_RELAXED);
        int stop = __atomic_load_n(&db->opts.l0_stop_trigger, __ATOMIC_RELAXED);
        size_t limit = __atomic_load_n(&db->opts.memtable_size, __ATOMIC_RELAXED);
        bool fifo = db->opts.compaction_style == SHALE_COMPACTION_FIFO;
        if (!delayed && !fifo && l0 >= slow && l0 < stop) {
            delayed = true;
            delay_write(db, l0, bytes);
            continue;
        }
        uint64_t log_size = wal_writer_size(db->wal->w);
        bool roll = log_size > 0 &&
                    log_size + bytes + WAL_HEADER_SIZE > db_opt_u64(&db->opts.vlog_file_size);
        bool empty = memtable_num_entries(db->mem) == 0;
        /* A batch larger than a memtable goes into an empty one. */
        if (!force && !roll && (empty || memtable_memory_usage(db->mem) + bytes <= limit))
            break;
        if (force && !roll && empty)
            break;
        if (roll && empty) {
            rc = switch_memtable(db, true);
            if (rc)
                break;
            continue;
        }
        bool mem_full = db->n_imm + 1 >= db->opts.num_memtables;
        bool l0_full = !fifo && l0 >= stop;
        if (mem_full && db->flush_failing) {
            /* No room and flushes failing (a full disk, say): an error now, not a stall
               that ends in SHALE_ESTALL. The flush thread keeps retrying. */
            rc = db->flush_error;
            break;
        }
        if (mem_full || l0_full) {
            enum stall_cause c = mem_full ? STALL_MEMTABLE : STALL_L0_STOP;
            uint64_t now = db_now_us();
            if (!stall_start) {
                stall_start = now;
                cause = c;
                db_log(db, "write stall (%s): %d immutable memtables, %d L0 tables",
                       c == STALL_MEMTABLE ? "memtable" : "l0", db->n_imm, l0);
            }
            if (timeout_ms && now - stall_start >= (uint64_t)timeout_ms * 1000u) {
                atomic_fetch_add_explicit(&db->stats.stall_timeouts, 1, memory_order_relaxed);
                if (cause == STALL_MEMTABLE)
                    atomic_fetch_add_explicit(&db->stats.stall_timeouts_memtable, 1,
                                              memory_order_relaxed);
                rc = SHALE_ESTALL;
                break;
            }
            db_maybe_schedule_compaction(db);
            pthread_cond_broadcast(&db->work_cv);
            struct timespec ts;
            uint64_t wait = 100000; /* re-check at least every 100 ms */
            if (timeout_ms) {
                uint64_t left = (uint64_t)timeout_ms * 1000u - (now - stall_start);
                if (left < wait)
                    wait = left;
            }
            timespec_after_us(&ts, wait);
            pthread_cond_timedwait(&db->bg_cv, &db->mu, &ts);
            continue;
        }
        rc = switch_memtable(db, roll);
        if (rc)
            break;
        force = false;
    }
    if (stall_start)
        stall_record(db, cause, stall_start);
    return rc;
}

/* ---- the write path ---- */

/*
 * Group commit with many synchronous writers: right after a group's sync, its members are
 * not yet back in the queue, so a leader that starts at once gathers only the writers
 * that queued during the sync, and groups alternate between small and large. Waiting a
 * fraction of a sync for the writers seen last time gathers them all again: fewer syncs
 * for the same work. A lone writer never waits (it was alone last time).
 */
static void wait_for_group(shale_db *db)
{
    int want = db->sync_writers_active;
    if (want <= 1 || db->n_queued >= want)
        return;
    uint64_t budget = __atomic_load_n(&db->last_sync_us, __ATOMIC_RELAXED) / 4;
    if (budget > 500)
        budget = 500;
    if (budget < 20)
        return;
    struct timespec ts;
    timespec_after_us(&ts, budget);
    uint64_t start = db_now_us();
    while (db->n_queued < want) {
        if (pthread_cond_timedwait(&db->queue_cv, &db->mu, &ts) != 0)
            break;
    }
    atomic_fetch_add_explicit(&db->stats.group_wait_micros, db_now_us() - start,
                              memory_order_relaxed);
}

/* The leader's scratch buffers kept between writes: room for the largest group. */
#define WRITE_SCRATCH_KEEP (2u << 20)

/* Largest group a leader gathers (bytes); small writes gather less so latency stays low. */
static size_t max_group_bytes(size_t first)
{
    size_t max = 1u << 20;
    if (first <= (128u << 10))
        max = first + (128u << 10);
    return max;
}

/*
 * Queues w (mu held) and waits until it leads the queue (true) or a leader has written it
 * as part of its group (false; w->status holds the result). The leader alone appends to
 * the log, so holding the head of the queue excludes every other log writer.
 */
static bool writer_wait_turn(shale_db *db, writer *w)
{
    w->done = false;
    w->status = 0;
    w->next = NULL;
    if (db->w_tail)
        db->w_tail->next = w;
    else
        db->w_head = w;
    db->w_tail = w;
    db->n_queued++;
    if (db->n_queued == db->sync_writers_active)
        pthread_cond_signal(&db->queue_cv); /* a leader may be waiting for a full group */
    while (!w->done && db->w_head != w)
        pthread_cond_wait(&w->cv, &db->mu);
    return !w->done;
}

/* The leader hands rc to its group (the queue from the head up to last) and leadership
   to the next writer. mu held. */
static void writer_finish_group(shale_db *db, writer *leader, writer *last, int rc)
{
    for (;;) {
        writer *r = db->w_head;
        db->n_queued--;
        db->w_head = r->next;
        if (!db->w_head)
            db->w_tail = NULL;
        if (r != leader) {
            r->status = rc;
            r->done = true;
            pthread_cond_signal(&r->cv);
        }
        if (r == last)
            break;
    }
    if (db->w_head)
        pthread_cond_signal(&db->w_head->cv);
}

/* A write_at leader's check: its first sequence is above every one handed out (mu held,
   leader). */
static int check_write_at(shale_db *db, const shale_batch *batch)
{
    uint64_t first;
    uint32_t count;
    int rc = batch_rep_header(batch_rep(batch), &first, &count);
    if (rc == 0 && first <= db->alloc_seq)
        rc = SHALE_ESEQ;
    return rc;
}

/* Appends a skip record for the sequences from first to last (a write_at record's gap).
   The leader, mu not held. */
static int append_skip(shale_db *db, wal_file *wf, uint64_t first, uint64_t last)
{
    char skip[BATCH_SKIP_SIZE];
    batch_encode_skip(skip, first, last);
    slice part = slice_make(skip, sizeof skip);
    int rc = wal_writer_append(wf->w, &part, 1);
    if (rc == 0)
        atomic_fetch_add_explicit(&db->stats.wal_bytes, sizeof skip + WAL_HEADER_SIZE,
                                  memory_order_relaxed);
    return rc;
}

static int db_write_ex(shale_db *db, const shale_batch *batch, bool force_switch,
                       db_write_filter filter, void *filter_arg, bool at)
{
    writer w;
    w.batch = batch;
    w.filtered = filter != NULL;
    w.at = at;
    w.sync = __atomic_load_n(&db->opts.sync_writes, __ATOMIC_RELAXED) != 0;
    pthread_cond_init(&w.cv, NULL);

    pthread_mutex_lock(&db->mu);
    if (!writer_wait_turn(db, &w)) {
        pthread_mutex_unlock(&db->mu);
        pthread_cond_destroy(&w.cv);
        return w.status;
    }

    /* Leader. */
    size_t bytes = batch ? shale_batch_size(batch) : 0;
    int rc = make_room(db, bytes, force_switch);
    if (rc == 0 && w.sync && batch && !filter && !at)
        wait_for_group(db);
    if (rc == 0 && at)
        rc = check_write_at(db, batch);
    writer *last = &w;
    const shale_batch *payload = batch;
    bool sync = w.sync;
    if (rc == 0 && filter) {
        /* Every earlier write is in the memtables now and no later one can start while
           this leader holds the queue: the filter sees the store as this batch will. */
        super_version *sv = db_sv_acquire(db);
        pthread_mutex_unlock(&db->mu);
        rc = filter(db, sv, (shale_batch *)batch, filter_arg);
        db_sv_release(sv);
        pthread_mutex_lock(&db->mu);
    }
    uint32_t count = batch ? batch->count : 0;
    if (rc == 0 && batch && !filter && !at) {
        /* Gather followers into one group (one WAL record, one sync). */
        size_t max = max_group_bytes(bytes), total = bytes;
        bool merged = false;
        for (writer *f = w.next; f; f = f->next) {
            if (!f->batch || (f->sync && !sync) || f->filtered || f->at)
                break; /* a sync follower needs its own sync; a NULL batch is a flush;
                          a filtered batch goes alone, and so does one with its own
                          sequences */
            if (total + shale_batch_size(f->batch) > max)
                break;
            if (!merged) {
                shale_batch_clear(&db->group);
                if (batch_append(&db->group, batch))
                    break;
                merged = true;
            }
            if (batch_append(&db->group, f->batch))
                break;
            total += shale_batch_size(f->batch);
            count += f->batch->count;
            last = f;
        }
        if (merged)
            payload = &db->group;
    }

    if (rc == 0 && payload && count > 0) {
        uint64_t prev_seq = db->alloc_seq;
        uint64_t seq = prev_seq + 1;
        if (at) /* its own sequences, above prev_seq (check_write_at) */
            batch_rep_header(batch_rep(batch), &seq, &count);
        db->alloc_seq = seq + count - 1;
        wal_file *wf = db->wal;
        memtable *mem = db->mem;
        pthread_mutex_unlock(&db->mu);

        /* The group's batch is the leader's or db->group; only the leader touches either. */
        shale_batch *pb = (shale_batch *)payload;
        if (!at) /* (a write_at batch is the caller's and holds its sequence already) */
            batch_set_seq(pb, seq);
        slice rep = batch_rep(pb);
        size_t user_len = rep.len;
        /* Large values go to the log (the value log) lz4-compressed where that pays. */
        size_t threshold = __atomic_load_n(&db->opts.value_threshold, __ATOMIC_RELAXED);
        /* (a batch smaller than the threshold holds no value to compress: no scan) */
        if (db->opts.compression == SHALE_COMPRESSION_LZ4 && threshold &&
            rep.len - BATCH_HEADER_SIZE >= threshold) {
            if (!db->wal_lz4)
                db->wal_lz4 = LZ4_createStream(); /* NULL: compress without it */
            int n = batch_rep_compress(rep, threshold, db->wal_lz4, &db->wal_rep);
            if (n > 0)
                rep = buf_slice(&db->wal_rep);
            else if (n < 0)
                rc = n;
        }
        /* Sequences a write_at record skips are recorded first, so that recovery tells
           them from lost records. */
        bool skipped = false;
        if (rc == 0 && seq > prev_seq + 1) {
            rc = append_skip(db, wf, prev_seq + 1, seq - 1);
            skipped = rc == 0;
        }
        /* The leader is the log's only appender: the record starts at the current size. */
        uint64_t rep_pos = wal_writer_size(wf->w) + WAL_HEADER_SIZE;
        bool appended = false;
        if (rc == 0) {
            rc = wal_writer_append(wf->w, &rep, 1);
            appended = rc == 0;
        }
        uint64_t sync_start = sync ? db_now_us() : 0;
        if (rc == 0 && sync)
            rc = db_wal_sync_all(db);
        if (sync) /* read by the next leader under mu */
            __atomic_store_n(&db->last_sync_us, db_now_us() - sync_start, __ATOMIC_RELAXED);
        if (rc == 0 && db->opts.commit_tap) {
            /* In the log (durable with sync) and not yet visible: the tap sees records in
               sequence order, never one that a reopen would not bring back. */
            slice tapped = batch_rep(pb);
            db->opts.commit_tap(db->opts.commit_tap_ctx, tapped.data, tapped.len);
        }
        if (rc == 0) {
            /* values from the batch as written, positions from the log's copy */
            rc = rep.data == batch_rep(pb).data
                     ? batch_rep_insert(rep, mem, rep_pos)
                     : batch_rep_insert_stored(batch_rep(pb), rep, mem, rep_pos);
            if (rc == -ENOMEM) {
                /* In the WAL but not the memtable: refuse further writes until a reopen
                   replays the log (shale_resume cannot undo this one). */
                db_log(db, "memtable insert failed: out of memory");
                db->bg_error_needs_reopen = true;
            }
        }
        /* The log's copy of one huge batch (up to SHALE_MAX_VALUE_SIZE and more) must not
           stay allocated for the life of the store; groups never pass a MiB (see
           max_group_bytes), so db->group needs no such care. */
        if (db->wal_rep.cap > WRITE_SCRATCH_KEEP)
            buf_free(&db->wal_rep);
        atomic_store_explicit(&db->stats.write_scratch_bytes, db->wal_rep.cap + db->group.rep.cap,
                              memory_order_relaxed);
        atomic_fetch_add_explicit(&db->stats.wal_bytes, rep.len + WAL_HEADER_SIZE,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&db->stats.user_bytes_written, user_len - BATCH_HEADER_SIZE,
                                  memory_order_relaxed);
        atomic_fetch_add_explicit(&db->stats.num_writes, count, memory_order_relaxed);
        atomic_fetch_add_explicit(&db->stats.num_write_groups, 1, memory_order_relaxed);

        pthread_mutex_lock(&db->mu);
        if (rc && !appended) {
            /* These numbers never reached the log: the next write takes them, so the log's
               sequence stays without gaps (recovery reads a gap as lost records). A skip
               record that did reach it moved the sequence on by itself. */
            db->alloc_seq = skipped ? seq - 1 : prev_seq;
            if (skipped)
                atomic_store_explicit(&db->last_seq, seq - 1, memory_order_release);
        }
        if (rc) {
            if (!atomic_load(&db->bg_error)) {
                atomic_store(&db->bg_error, rc);
                db_log(db, "WAL write failed: %s; refusing writes until shale_resume or a reopen",
                       shale_strerror(rc));
            }
        } else {
            atomic_store_explicit(&db->last_seq, seq + count - 1, memory_order_release);
        }
    } else if (rc == 0 && !batch && sync) {
        pthread_mutex_unlock(&db->mu);
        rc = db_wal_sync_all(db);
        pthread_mutex_lock(&db->mu);
    }

    /* Hand results to the group and pass leadership on. */
    if (sync && batch) {
        /* This group and everyone queued behind it: the next leader waits (briefly) for
           this group's members to come back. */
        db->sync_writers_active = db->n_queued;
    }
    writer_finish_group(db, &w, last, rc);
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

int db_write_barrier(shale_db *db, int (*fn)(shale_db *db, void *arg), void *arg)
{
    writer w = {0}; /* no batch: a leader gathering followers stops before it */
    pthread_cond_init(&w.cv, NULL);
    pthread_mutex_lock(&db->mu);
    int rc = 0;
    if (writer_wait_turn(db, &w)) {
        rc = fn(db, arg);
        writer_finish_group(db, &w, &w, rc);
    } else {
        rc = w.status; /* not reached: nobody gathers a writer without a batch */
    }
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

static int db_write(shale_db *db, const shale_batch *batch, bool force_switch)
{
    return db_write_ex(db, batch, force_switch, NULL, NULL, false);
}

int db_write_filtered(shale_db *db, shale_batch *batch, db_write_filter filter, void *arg)
{
    if (batch->count == 0)
        return 0;
    return db_write_ex(db, batch, false, filter, arg, false);
}

int db_write_at(shale_db *db, const shale_batch *batch)
{
    return db_write_ex(db, batch, false, NULL, NULL, true);
}

/* After a failed log write or sync: the first error sticks and writes are refused
   (SHALE_EFAILED) until the store is reopened. mu not held. */
static void refuse_writes(shale_db *db, int rc, const char *what)
{
    if (atomic_load(&db->bg_error))
        return;
    pthread_mutex_lock(&db->mu);
    if (!atomic_load(&db->bg_error)) {
        atomic_store(&db->bg_error, rc);
        db_log(db, "%s failed: %s; refusing writes until shale_resume or a reopen", what,
               shale_strerror(rc));
    }
    pthread_mutex_unlock(&db->mu);
}

int shale_background_error(shale_db *db)
{
    return db ? atomic_load(&db->bg_error) : -EINVAL;
}

/* Makes every log with a failed write whole again. The leader calls it with mu held
   (held again on return); sync_mu keeps syncers off the logs (taken before mu, as they
   do). The I/O is short: a truncate and at most a buffer's worth of records per log. */
static int recover_logs(shale_db *db)
{
    pthread_mutex_unlock(&db->mu);
    pthread_mutex_lock(&db->sync_mu);
    pthread_mutex_lock(&db->mu);
    int rc = 0;
    for (wal_file *f = db->old_wals; f && !rc; f = f->next)
        rc = wal_writer_recover(f->w);
    if (!rc && db->wal)
        rc = wal_writer_recover(db->wal->w);
    pthread_mutex_unlock(&db->mu);
    pthread_mutex_unlock(&db->sync_mu);
    pthread_mutex_lock(&db->mu);
    return rc;
}

int shale_resume(shale_db *db)
{
    if (!db)
        return -EINVAL;
    if (!atomic_load(&db->bg_error))
        return 0;
    writer w = {.batch = NULL, .sync = false};
    pthread_cond_init(&w.cv, NULL);
    pthread_mutex_lock(&db->mu);
    /* As the leader: no write is in flight and none starts until this returns. */
    writer_wait_turn(db, &w);
    int err = atomic_load(&db->bg_error);
    int rc = 0;
    if (err && db->bg_error_needs_reopen) {
        rc = SHALE_EFAILED;
    } else if (err) {
        rc = recover_logs(db);
        if (rc == 0) {
            atomic_store(&db->bg_error, 0);
            db_log(db, "writes accepted again (the log was made whole after: %s)",
                   shale_strerror(err));
        }
    }
    writer_finish_group(db, &w, &w, rc);
    pthread_mutex_unlock(&db->mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

int shale_flush_wal(shale_db *db)
{
    if (!db)
        return -EINVAL;
    pthread_mutex_lock(&db->mu);
    wal_file *cur = db->wal;
    if (cur)
        atomic_fetch_add_explicit(&cur->refs, 1, memory_order_relaxed);
    pthread_mutex_unlock(&db->mu);
    int rc = cur ? wal_writer_flush(cur->w) : 0;
    if (cur)
        wal_file_unref(cur);
    if (rc)
        refuse_writes(db, rc, "WAL write");
    return rc;
}

int shale_sync(shale_db *db)
{
    if (!db)
        return -EINVAL;
    if (atomic_load(&db->bg_error))
        return SHALE_EFAILED;
    int rc = db_wal_sync_all(db);
    if (rc)
        refuse_writes(db, rc, "WAL sync");
    return rc;
}

int shale_write(shale_db *db, const shale_batch *b)
{
    if (!db || !b)
        return -EINVAL;
    if (b->count == 0)
        return 0;
    return db_write(db, b, false);
}

/* Single-entry writes encode into a stack batch to avoid malloc on the hot path: room for
   a 4 KiB value (a malloc, a realloc and a free cost about as much as copying 1 KiB). */
#define WRITE_ONE_STACK 4608

static int write_one(shale_db *db, int kind, const void *key, size_t klen, const void *val,
                     size_t vlen, uint64_t expire_at_ms)
{
    if (!db || klen == 0 || klen > SHALE_MAX_KEY_SIZE || vlen > SHALE_MAX_VALUE_SIZE ||
        (!key && klen) || (!val && vlen))
        return -EINVAL;
    char stack[WRITE_ONE_STACK];
    shale_batch b;
    size_t need = BATCH_HEADER_SIZE + 1 + 5 + klen + 5 + 8 + vlen;
    if (need <= sizeof stack) {
        b.rep.data = stack;
        b.rep.cap = sizeof stack;
        b.rep.len = BATCH_HEADER_SIZE;
        b.count = 0;
        memset(stack, 0, BATCH_HEADER_SIZE);
    } else {
        int rc = batch_init(&b);
        if (rc)
            return rc;
    }
    int rc = kind == KIND_DELETE ? shale_batch_delete(&b, key, klen)
                                 : shale_batch_put(&b, key, klen, val, vlen, expire_at_ms);
    if (rc == 0)
        rc = db_write(db, &b, false);
    if (b.rep.data != stack)
        batch_destroy(&b);
    return rc;
}

int shale_put(shale_db *db, const void *key, size_t klen, const void *val, size_t vlen,
              uint64_t expire_at_ms)
{
    return write_one(db, KIND_VALUE, key, klen, val, vlen, expire_at_ms);
}

int shale_delete(shale_db *db, const void *key, size_t klen)
{
    return write_one(db, KIND_DELETE, key, klen, NULL, 0, 0);
}

int shale_delete_range(shale_db *db, const void *begin, size_t blen, const void *end, size_t elen)
{
    if (!db)
        return -EINVAL;
    shale_batch b;
    int rc = batch_init(&b);
    if (rc)
        return rc;
    rc = shale_batch_delete_range(&b, begin, blen, end, elen);
    if (rc == 0 && b.count > 0)
        rc = db_write(db, &b, false);
    batch_destroy(&b);
    return rc;
}

/* ---- reads ---- */

/* Copies v into a malloc'ed NUL-terminated buffer for the caller. */
static int copy_out(slice v, void **val)
{
    char *p = malloc(v.len + 1);
    if (!p)
        return -ENOMEM;
    if (v.len)
        memcpy(p, v.data, v.len);
    p[v.len] = '\0';
    *val = p;
    return 0;
}

bool db_vptr_reclaimed(const version *v, const vptr *p)
{
    return p->expire_at_ms && !version_segment(v, p->segment);
}

int db_read_pointer(shale_db *db, const version *v, slice raw, char **out, size_t *len)
{
    vptr p;
    int rc = vptr_decode(raw, &p);
    if (rc == 0 && db_vptr_reclaimed(v, &p))
        return SHALE_ENOTFOUND;
    vlog_segment *s = rc ? NULL : version_segment(v, p.segment);
    if (rc == 0 && !s)
        rc = SHALE_ECORRUPT;
    if (rc == 0)
        rc = vlog_segment_read(s, db->tc, &p, out);
    if (rc == SHALE_ECORRUPT)
        db_log(db,
               "value log: bad value at segment %06" PRIu64 " offset %" PRIu64 " length %u (%s)",
               p.segment, p.offset, p.len, s ? "checksum or length mismatch" : "no such segment");
    if (rc == 0)
        *len = p.len;
    return rc;
}

/* Turns a found entry into the caller's answer; pointers are read from v's value log. */
static int resolve_entry(shale_db *db, const version *v, int kind, slice raw, bool include_expired,
                         void **val, size_t *vlen, uint64_t *expire_at_ms)
{
    uint64_t expire = entry_expiry(kind, raw);
    if (kind == KIND_DELETE)
        return SHALE_ENOTFOUND;
    if (kind == KIND_EXPIRING && raw.len < 8)
        return SHALE_ECORRUPT;
    if (kind > KIND_MAX)
        return SHALE_ECORRUPT;
    if (expire && !include_expired && expire <= db_now_ms()) /* the clock only when needed */
        return SHALE_ENOTFOUND;
    slice payload = kind == KIND_EXPIRING ? expiring_value_payload(raw) : raw;
    size_t len = payload.len;
    int rc = 0;
    if (kind == KIND_VPTR) {
        vptr p;
        rc = vptr_decode(raw, &p);
        len = p.len;
        if (rc == 0 && db_vptr_reclaimed(v, &p))
            return SHALE_ENOTFOUND; /* expired by an earlier clock: GC took the value */
        if (rc == 0 && val) {
            char *out;
            rc = db_read_pointer(db, v, raw, &out, &len);
            if (rc == 0)
                *val = out;
        }
    } else if (val) {
        rc = copy_out(payload, val);
    }
    if (rc)
        return rc;
    if (vlen)
        *vlen = len;
    if (expire_at_ms)
        *expire_at_ms = expire;
    return 0;
}

/*
 * The newest entry of key at seq in m, range tombstones applied: 1 with its kind and raw
 * value (KIND_DELETE when a tombstone of m at or below seq is newer than it, or when
 * such a tombstone covers the key and m holds no entry of it: every older source's
 * entries are older than m's tombstones), 0 when m says nothing about the key.
 * Errors: -ENOMEM.
 */
static int memtable_lookup(memtable *m, slice key, uint64_t hash, uint64_t seq, int *kind,
                           slice *raw)
{
    uint64_t eseq = 0;
    bool hit = memtable_get_hashed(m, key, hash, seq, kind, raw, &eseq);
    uint64_t cover;
    int rc = memtable_range_cover(m, key, seq, &cover);
    if (rc)
        return rc;
    if (cover && (!hit || eseq < cover)) {
        *kind = KIND_DELETE;
        *raw = slice_make("", 0);
        return 1;
    }
    return hit;
}

/* A point read's first cache misses are independent: the hash bucket of each memtable and
   the filter block of each L0 table. Issued together they overlap instead of queueing. */
static void prefetch_first_misses(super_version *sv, uint64_t hash)
{
    memtable_prefetch(sv->mem, hash);
    for (int i = 0; i < sv->n_imm; i++)
        memtable_prefetch(sv->imm[i], hash);
    version_prefetch(sv->v, hash);
}

int shale_get_ex(shale_db *db, const shale_read_options *ro, const void *key, size_t klen,
                 void **val, size_t *vlen, uint64_t *expire_at_ms)
{
    if (val)
        *val = NULL;
    if (vlen)
        *vlen = 0;
    if (expire_at_ms)
        *expire_at_ms = 0;
    if (!db || !key || klen == 0 || klen > SHALE_MAX_KEY_SIZE)
        return -EINVAL;
    atomic_fetch_add_explicit(&db->stats.num_gets, 1, memory_order_relaxed);
    slice ukey = slice_make(key, klen);
    /* The super-version first, then the sequence (as RocksDB's GetImpl): a sequence taken
       first may be older than every version a flush and compaction in between left of the
       key. Taken after, it sees at least what sv holds, and sv pins those versions. */
    super_version *sv = db_sv_acquire(db);
    SYNC_POINT("shale_get_ex:view");
    uint64_t seq = ro && ro->snapshot ? ro->snapshot->seq
                                      : atomic_load_explicit(&db->last_seq, memory_order_acquire);
    bool fill = ro ? ro->fill_cache != 0 : true;
    bool include_expired = ro && ro->include_expired;
    int kind;
    slice raw;
    int rc;
    uint64_t hash = bloom_hash(ukey); /* the memtables' hash too */
    prefetch_first_misses(sv, hash);
    for (int i = -1; i < sv->n_imm; i++) {
        memtable *m = i < 0 ? sv->mem : sv->imm[i];
        int hit = memtable_lookup(m, ukey, hash, seq, &kind, &raw);
        if (hit < 0) {
            rc = hit;
            goto out;
        }
        if (hit) {
            rc = resolve_entry(db, sv->v, kind, raw, include_expired, val, vlen, expire_at_ms);
            goto out;
        }
    }
    {
        buf value = {0};
        int found = 0;
        rc = version_get(sv->v, db->tc, ukey, hash, seq, fill, &found, &kind, &value);
        if (rc == 0 && !found)
            rc = SHALE_ENOTFOUND;
        if (rc == 0 && kind == KIND_VALUE && buf_reserve(&value, 1) == 0) {
            /* Hand the buffer over instead of copying it again. */
            value.data[value.len] = '\0';
            if (vlen)
                *vlen = value.len;
            if (val) {
                *val = value.data;
                value.data = NULL;
            }
        } else if (rc == 0) {
            rc = resolve_entry(db, sv->v, kind, buf_slice(&value), include_expired, val, vlen,
                               expire_at_ms);
        }
        buf_free(&value);
    }
out:
    db_sv_release(sv);
    return rc;
}

int db_get_newest(shale_db *db, super_version *sv, slice key, int *kind, buf *value)
{
    uint64_t seq = atomic_load_explicit(&db->last_seq, memory_order_acquire);
    slice raw;
    value->len = 0;
    uint64_t hash = bloom_hash(key);
    int hit = 0;
    for (int i = -1; hit == 0 && i < sv->n_imm; i++)
        hit = memtable_lookup(i < 0 ? sv->mem : sv->imm[i], key, hash, seq, kind, &raw);
    if (hit < 0)
        return hit;
    if (hit)
        return buf_set(value, raw.data, raw.len) ? -ENOMEM : 1;
    int found = 0;
    int rc = version_get(sv->v, db->tc, key, bloom_hash(key), seq, false, &found, kind, value);
    return rc ? rc : found;
}

int shale_get(shale_db *db, const void *key, size_t klen, void **val, size_t *vlen)
{
    return shale_get_ex(db, NULL, key, klen, val, vlen, NULL);
}

/* ---- snapshots ---- */

int shale_snapshot_new(shale_db *db, const shale_snapshot **out)
{
    *out = NULL;
    shale_snapshot *s = malloc(sizeof *s);
    if (!s)
        return -ENOMEM;
    pthread_mutex_lock(&db->mu);
    s->seq = atomic_load_explicit(&db->last_seq, memory_order_acquire);
    s->next = &db->snapshots;
    s->prev = db->snapshots.prev;
    s->prev->next = s;
    db->snapshots.prev = s;
    pthread_mutex_unlock(&db->mu);
    *out = s;
    return 0;
}

void shale_snapshot_release(shale_db *db, const shale_snapshot *snap)
{
    if (!snap)
        return;
    shale_snapshot *s = (shale_snapshot *)snap;
    pthread_mutex_lock(&db->mu);
    s->prev->next = s->next;
    s->next->prev = s->prev;
    pthread_mutex_unlock(&db->mu);
    free(s);
    db_vlog_gc_reap(db); /* a segment GC emptied may have waited for this snapshot */
}

/* ---- flush (API) ---- */

int shale_flush(shale_db *db)
{
    if (!db)
        return -EINVAL;
    /* A NULL-batch write switches the memtable in queue order. */
    int rc = db_write(db, NULL, true);
    if (rc)
        return rc;
    pthread_mutex_lock(&db->mu);
    uint64_t failures = db->flush_failures;
    while (db->n_imm > 0 && !db->closing && !atomic_load(&db->bg_error) &&
           db->flush_failures == failures) {
        pthread_cond_broadcast(&db->work_cv);
        pthread_cond_wait(&db->bg_cv, &db->mu);
    }
    if (atomic_load(&db->bg_error))
        rc = SHALE_EFAILED;
    else if (db->flush_failures != failures)
        rc = db->flush_error; /* the flush thread retries on its own */
    else if (db->n_imm > 0)
        rc = SHALE_ECLOSING;
    pthread_mutex_unlock(&db->mu);
    return rc;
}

/* ---- recovery ---- */

typedef struct log_list {
    uint64_t *numbers;
    int n, cap;
    uint64_t *tables;
    int nt, capt;
} log_list;

static int push_u64(uint64_t **a, int *n, int *cap, uint64_t v)
{
    if (*n == *cap) {
        int c = *cap ? *cap * 2 : 16;
        uint64_t *p = realloc(*a, (size_t)c * sizeof *p);
        if (!p)
            return -ENOMEM;
        *a = p;
        *cap = c;
    }
    (*a)[(*n)++] = v;
    return 0;
}

static int collect_files(const char *name, void *arg)
{
    log_list *l = arg;
    uint64_t number;
    switch (file_name_parse(name, &number)) {
    case FILE_LOG:
        return push_u64(&l->numbers, &l->n, &l->cap, number);
    case FILE_TABLE:
        return push_u64(&l->tables, &l->nt, &l->capt, number);
    default:
        return 0;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Flushes a recovered memtable to a new L0 table recorded in edit. */
static int recover_flush(shale_db *db, memtable *m, version_edit *edit)
{
    if (memtable_num_entries(m) == 0)
        return 0;
    file_meta *f = file_meta_new();
    if (!f)
        return -ENOMEM;
    f->number = version_set_new_file_number(db->vs);
    vlog_delta d;
    int rc = db_write_l0_table(db, m, 0, f, &d);
    if (rc == 0 && f->file_size > 0)
        rc = edit_add_file(edit, 0, f);
    if (rc == 0 && d.pointed)
        rc = edit_vlog_add(edit, &d);
    file_meta_unref(f, NULL);
    return rc;
}

/*
 * Replays log `number` from offset `from` into L0 tables recorded in edit, then cuts the
 * log after its last whole record and syncs it: the new tables may point into it.
 */
static int replay_log(shale_db *db, uint64_t number, uint64_t from, version_edit *edit,
                      uint64_t *max_seq, uint64_t *next_seq, bool *gap, char *why, size_t whylen)
{
    char path[PATH_MAX];
    int rc = file_name_log(path, sizeof path, db->dir, number);
    if (rc < 0)
        return rc;
    wal_reader *r;
    rc = wal_reader_open(path, number, &r);
    if (rc)
        return rc;
    memtable *m;
    rc = memtable_new(&m);
    if (rc) {
        wal_reader_close(r);
        return rc;
    }
    memtable_set_log_position(m, number, from, *next_seq - 1);
    wal_reader_skip_to(r, from);
    slice rec;
    uint64_t records = 0;
    uint64_t gap_at = 0;
    for (;;) {
        int n = wal_reader_next(r, &rec);
        if (n == 0)
            break;
        if (n < 0) {
            rc = n;
            snprintf(why, whylen, "%s: %s in WAL record at offset %" PRIu64, path,
                     shale_strerror(rc), wal_reader_offset(r));
            break;
        }
        uint64_t off = wal_reader_offset(r);
        uint64_t seq;
        uint32_t count;
        rc = batch_rep_header(rec, &seq, &count);
        if (rc == 0 && seq > *next_seq) {
            /* Records are missing before this one: an earlier log lost its tail (writeback
               made this log durable before that tail) or vanished. What was written after
               a hole must not come back without it, so recovery stops here, as RocksDB's
               point-in-time recovery does; later logs are dropped. */
            db_log(db,
                   "%s: the record at offset %" PRIu64 " has sequence %" PRIu64 ", %" PRIu64
                   " was expected: records before it were lost; recovery stops here",
                   path, off, seq, *next_seq);
            *gap = true;
            gap_at = off;
            break;
        }
        /* a skip record (write_at's gap) moves the sequence on without entries */
        uint64_t last = seq + count - 1;
        int skip = rc == 0 && count == 0 ? batch_rep_skip(rec, &last) : 0;
        if (skip < 0)
            rc = skip;
        if (rc == 0 && !skip)
            rc = batch_rep_insert(rec, m, off + WAL_HEADER_SIZE);
        if (rc) {
            snprintf(why, whylen, "%s: undecodable write batch at offset %" PRIu64, path, off);
            break;
        }
        records++;
        if ((count || skip) && last > *max_seq)
            *max_seq = last;
        if (count || skip)
            *next_seq = last + 1;
        if (memtable_memory_usage(m) > __atomic_load_n(&db->opts.memtable_size, __ATOMIC_RELAXED)) {
            rc = recover_flush(db, m, edit);
            memtable_unref(m);
            m = NULL;
            if (rc == 0)
                rc = memtable_new(&m);
            if (rc)
                break;
            memtable_set_log_position(m, number, off, last);
        }
    }
    uint64_t valid_end = *gap ? gap_at : wal_reader_valid_end(r);
    if (rc == 0 && wal_reader_had_torn_tail(r))
        db_log(db, "%s: dropped a torn tail after offset %" PRIu64, path, valid_end);
    wal_reader_close(r);
    if (rc == 0 && m)
        rc = recover_flush(db, m, edit);
    memtable_unref(m);
    if (rc == 0) {
        int fd;
        rc = file_open_rw(path, &fd);
        if (rc == 0) {
            uint64_t size = 0;
            rc = file_size(fd, &size);
            if (rc == 0 && size > valid_end)
                rc = file_truncate(fd, valid_end);
            if (rc == 0)
                rc = file_fdatasync(fd);
            file_close(fd);
        }
        if (rc)
            snprintf(why, whylen, "%s: cannot cut or sync the replayed log: %s", path,
                     shale_strerror(rc));
    }
    if (rc == 0)
        db_log(db, "recovered %" PRIu64 " records from %s", records, path);
    return rc;
}

/* Replays the WALs not yet flushed, then starts a fresh WAL and memtable. */
static int recover(shale_db *db, char *why, size_t whylen)
{
    log_list l = {0};
    int rc = file_list_dir(db->dir, collect_files, &l);
    if (rc)
        goto out;
    if (l.n > 1)
        qsort(l.numbers, (size_t)l.n, sizeof(uint64_t), cmp_u64);

    version_edit edit;
    edit_init(&edit);
    uint64_t max_seq = db->vs->last_seq;
    /* The manifest's last sequence is the last one before its log position (stores
       written before that was exact hold a larger one, which only weakens the check). */
    uint64_t next_seq = db->vs->last_seq + 1;
    bool gap = false;
    for (int i = 0; i < l.n && rc == 0; i++) {
        if (l.numbers[i] >= db->vs->next_file_number)
            db->vs->next_file_number = l.numbers[i] + 1;
        if (l.numbers[i] < db->vs->log_number)
            continue;
        if (gap) {
            db_log(db, "dropping log %06" PRIu64 ": it follows lost records", l.numbers[i]);
            continue; /* not replayed; deleted below with the replayed logs */
        }
        uint64_t from = l.numbers[i] == db->vs->log_number ? db->vs->log_offset : 0;
        rc = replay_log(db, l.numbers[i], from, &edit, &max_seq, &next_seq, &gap, why, whylen);
    }
    for (int i = 0; i < l.nt; i++)
        if (l.tables[i] >= db->vs->next_file_number)
            db->vs->next_file_number = l.tables[i] + 1;
    if (rc) {
        edit_destroy(&edit);
        goto out;
    }

    uint64_t number = version_set_new_file_number(db->vs);
    rc = wal_file_open(db, number, &db->wal);
    if (rc == 0)
        rc = memtable_new(&db->mem);
    if (rc) {
        edit_destroy(&edit);
        goto out;
    }
    memtable_set_log_position(db->mem, number, 0, max_seq);
    db->vs->last_seq = max_seq;
    db->alloc_seq = max_seq;
    atomic_store(&db->last_seq, max_seq);

    edit.has_log_number = true;
    edit.log_number = number;
    edit.log_offset = 0;
    edit.has_last_seq = true;
    edit.last_seq = max_seq;
    /* Every open starts a new manifest from the recovered state plus this edit. */
    version *nv;
    pthread_mutex_lock(&db->mu);
    rc = version_apply(db->vs, db->vs->current, &edit, &nv);
    if (rc == 0) {
        version_apply_vlog_counters(nv, &edit);
        version_unref(db->vs->current);
        db->vs->current = nv;
        db->vs->log_number = number;
        db->vs->log_offset = 0;
        rc = version_set_write_snapshot(db->vs);
        if (rc == 0) /* the directory sync after CURRENT's rename covered the new log */
            atomic_store(&db->wal->dir_synced, true);
    }
    pthread_mutex_unlock(&db->mu);
    edit_destroy(&edit);
    if (rc)
        goto out;

    /* Logs before the new one are flushed now and, unless tables point into them, no
       longer needed; tables not in the version are leftovers of an interrupted flush or
       compaction. */
    char path[PATH_MAX];
    for (int i = 0; i < l.n; i++)
        if (l.numbers[i] < number && !version_segment(db->vs->current, l.numbers[i]) &&
            file_name_log(path, sizeof path, db->dir, l.numbers[i]) > 0)
            file_unlink(path);
    for (int i = 0; i < l.nt; i++)
        if (!version_has_file(db->vs->current, l.tables[i]) &&
            file_name_table(path, sizeof path, db->dir, l.tables[i]) > 0) {
            db_log(db, "removing table %06" PRIu64 " that no version references", l.tables[i]);
            file_unlink(path);
        }
out:
    free(l.numbers);
    free(l.tables);
    return rc;
}

/* ---- open and close ---- */

/* Stops value-log GC's thread. GC writes through the log as users do (it may be the write
   leader at any moment), so close stops it before it flushes, cuts and syncs the log. */
static void stop_gc_thread(shale_db *db)
{
    SYNC_POINT("db:stop_background");
    pthread_mutex_lock(&db->mu);
    __atomic_store_n(&db->gc_stopping, true, __ATOMIC_RELAXED); /* GC polls it unlocked */
    pthread_cond_broadcast(&db->work_cv);
    pthread_mutex_unlock(&db->mu);
    if (db->gc_thread_started)
        pthread_join(db->gc_thread, NULL);
    db->gc_thread_started = false;
}

static void stop_threads(shale_db *db)
{
    stop_gc_thread(db);
    pthread_mutex_lock(&db->mu);
    __atomic_store_n(&db->closing, true, __ATOMIC_RELAXED); /* compactions poll it unlocked */
    pthread_cond_broadcast(&db->work_cv);
    pthread_cond_broadcast(&db->bg_cv);
    pthread_mutex_unlock(&db->mu);
    if (db->sync_thread_started)
        pthread_join(db->sync_thread, NULL);
    if (db->flush_thread_started)
        pthread_join(db->flush_thread, NULL);
    for (int i = 0; i < db->n_compact_threads; i++)
        pthread_join(db->compact_threads[i], NULL);
    db->sync_thread_started = db->flush_thread_started = false;
    db->n_compact_threads = 0;
}

static void db_free(shale_db *db)
{
    db_sv_release(db->sv);
    memtable_unref(db->mem);
    for (int i = 0; i < db->n_imm; i++)
        memtable_unref(db->imm[i]);
    while (db->old_wals) {
        wal_file *n = db->old_wals->next;
        wal_file_unref(db->old_wals);
        db->old_wals = n;
    }
    wal_file_unref(db->wal);
    version_set_free(db->vs);
    table_cache_free(db->tc);
    block_cache_free(db->bc);
    batch_destroy(&db->group);
    buf_free(&db->wal_rep);
    LZ4_freeStream(db->wal_lz4);
    free(db->compact_threads);
    if (db->lock_fd >= 0)
        file_unlock(db->lock_fd);
    if (db->info_log)
        fclose(db->info_log);
    pthread_mutex_destroy(&db->mu);
    pthread_mutex_destroy(&db->sync_mu);
    pthread_mutex_destroy(&db->rl_mu);
    pthread_mutex_destroy(&db->gc_mu);
    free(db->gc_pending);
    free(db->deferred_logs);
    pthread_spin_destroy(&db->sv_lock);
    pthread_cond_destroy(&db->bg_cv);
    pthread_cond_destroy(&db->work_cv);
    pthread_cond_destroy(&db->queue_cv);
    free(db->dir);
    free(db);
}

static int start_threads(shale_db *db)
{
    if (pthread_create(&db->sync_thread, NULL, sync_thread_main, db))
        return -EAGAIN;
    db->sync_thread_started = true;
    if (pthread_create(&db->flush_thread, NULL, db_flush_thread, db))
        return -EAGAIN;
    db->flush_thread_started = true;
    if (pthread_create(&db->gc_thread, NULL, db_vlog_gc_thread, db))
        return -EAGAIN;
    db->gc_thread_started = true;
    db->compact_threads = calloc((size_t)db->opts.num_compactors, sizeof(pthread_t));
    if (!db->compact_threads)
        return -ENOMEM;
    for (int i = 0; i < db->opts.num_compactors; i++) {
        if (pthread_create(&db->compact_threads[i], NULL, db_compact_thread, db))
            return -EAGAIN;
        db->n_compact_threads++;
    }
    return 0;
}

int shale_open(const char *path, const shale_options *opts, shale_db **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!path || !*path)
        return -EINVAL;
    shale_options o;
    if (opts)
        o = *opts;
    else
        shale_options_default(&o);
    const char *why = NULL;
    int rc = options_validate(&o, &why);
    if (rc)
        return rc;

    shale_db *db = calloc(1, sizeof *db);
    if (!db)
        return -ENOMEM;
    db->opts = o;
    db->lock_fd = -1;
    db->dir = strdup(path);
    pthread_mutex_init(&db->mu, NULL);
    pthread_mutex_init(&db->sync_mu, NULL);
    pthread_mutex_init(&db->rl_mu, NULL);
    pthread_mutex_init(&db->gc_mu, NULL);
    pthread_spin_init(&db->sv_lock, PTHREAD_PROCESS_PRIVATE);
    pthread_cond_init(&db->bg_cv, NULL);
    pthread_cond_init(&db->work_cv, NULL);
    pthread_cond_init(&db->queue_cv, NULL);
    db->snapshots.next = db->snapshots.prev = &db->snapshots;
    if (!db->dir || batch_init(&db->group)) {
        db_free(db);
        return -ENOMEM;
    }

    char p[PATH_MAX];
    bool exists = false;
    rc = file_name_current(p, sizeof p, path);
    if (rc >= 0) {
        rc = file_exists(p);
        exists = rc == 1;
        if (rc == -ENOENT || rc == -ENOTDIR || rc >= 0)
            rc = 0;
    }
    if (rc == 0 && !exists && !o.create_if_missing)
        rc = -ENOENT;
    if (rc == 0 && exists && o.error_if_exists)
        rc = -EEXIST;
    if (rc == 0 && !exists)
        rc = file_mkdir(path);
    if (rc == 0)
        rc = file_name_lock(p, sizeof p, path) < 0 ? -ENAMETOOLONG : file_lock(p, &db->lock_fd);
    if (rc) {
        db_free(db);
        return rc;
    }
    snprintf(p, sizeof p, "%s/LOG", path);
    db->info_log = fopen(p, "a");
    db_log(db, "opening shale %s in %s", SHALE_VERSION_STRING, path);

    rc = block_cache_new(o.block_cache_size, 4, &db->bc);
    if (rc == 0)
        rc = table_cache_new(path, o.max_open_files, db->bc, &db->tc);
    if (rc == 0)
        rc = version_set_new(path, &db->opts, &db->vs);
    char whybuf[512] = "";
    if (rc == 0 && exists) {
        rc = version_set_recover(db->vs, whybuf, sizeof whybuf);
        if (rc == -ENOENT)
            snprintf(whybuf, sizeof whybuf, "%s: CURRENT vanished", path);
    }
    if (rc == 0)
        rc = recover(db, whybuf, sizeof whybuf);
    if (rc == 0) {
        pthread_mutex_lock(&db->mu);
        rc = db_sv_install(db);
        pthread_mutex_unlock(&db->mu);
    }
    if (rc == 0)
        rc = start_threads(db);
    if (rc) {
        db_log(db, "open failed: %s%s%s", shale_strerror(rc), whybuf[0] ? ": " : "", whybuf);
        if (whybuf[0] && getenv("SHALE_DEBUG"))
            fprintf(stderr, "shale: %s\n", whybuf);
        stop_threads(db);
        db_free(db);
        return rc;
    }
    pthread_mutex_lock(&db->mu);
    db_maybe_schedule_compaction(db);
    pthread_mutex_unlock(&db->mu);
    db_delete_obsolete(db);
    *out = db;
    return 0;
}

int shale_close(shale_db *db)
{
    if (!db)
        return 0;
    /* Every background thread stops before the log is cut and synced: GC writes through
       it, the sync thread and flushes sync it. GC goes first; the flush below still
       needs the flush thread, and stop_threads ends the others after it. */
    stop_gc_thread(db);
    bool healthy = !atomic_load(&db->bg_error);
    int rc = 0, frc = 0;
    if (healthy) {
        /* As RocksDB does by default: flush what the memtables hold, so the next open
           replays nothing and the logs can go (their unsynced pages need never reach
           the disk). When the flush cannot finish, the WAL is made durable instead. */
        pthread_mutex_lock(&db->mu);
        bool dirty = memtable_num_entries(db->mem) > 0 || db->n_imm > 0;
        pthread_mutex_unlock(&db->mu);
        frc = dirty ? shale_flush(db) : 0;
        if (frc)
            db_log(db, "flush at close failed: %s; syncing the WAL instead", shale_strerror(frc));
    }
    stop_threads(db);
    if (healthy) {
        if (frc == 0) {
            wal_file *old = db->old_wals; /* all flushed: their files are deleted */
            db->old_wals = NULL;
            while (old) {
                wal_file *n = old->next;
                wal_file_unref(old);
                old = n;
            }
        }
        /* The log may live on as a value-log segment: without its preallocated zeros. */
        SYNC_POINT("shale_close:wal");
        rc = wal_writer_finish(db->wal->w);
        if (rc == 0)
            rc = db_wal_sync_all(db);
        SYNC_POINT("shale_close:wal_done");
    }
    db_delete_obsolete(db);
    db_log(db, "closed%s%s", rc ? ": " : "", rc ? shale_strerror(rc) : "");
    db_free(db);
    return rc;
}

static int destroy_one(const char *name, void *arg)
{
    const char *dir = arg;
    uint64_t number;
    enum file_type t = file_name_parse(name, &number);
    if (t == FILE_UNKNOWN && strcmp(name, "LOG") != 0)
        return 0;
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    file_unlink(p);
    return 0;
}

int shale_destroy(const char *path)
{
    char p[PATH_MAX];
    if (file_name_lock(p, sizeof p, path) < 0)
        return -ENAMETOOLONG;
    int rc = file_exists(path);
    if (rc <= 0)
        return rc == 0 ? 0 : rc;
    int fd = -1;
    rc = file_lock(p, &fd);
    if (rc)
        return rc;
    rc = file_list_dir(path, destroy_one, (void *)path);
    file_unlock(fd);
    rmdir(path);
    return rc;
}

/* ---- run-time options ---- */

static bool below_min(uint64_t v, uint64_t min)
{
    return v < min;
}

int shale_set_option(shale_db *db, const char *name, const char *value)
{
    if (!db || !name || !value)
        return -EINVAL;
    uint64_t v;
    int b;
#define SET_SIZE(field, min)                                                                       \
    if (strcmp(name, #field) == 0) {                                                               \
        if (options_parse_size(value, &v) || below_min(v, (min)))                                  \
            return -EINVAL;                                                                        \
        __atomic_store_n(&db->opts.field, (__typeof__(db->opts.field))v, __ATOMIC_RELAXED);        \
        goto changed;                                                                              \
    }
    SET_SIZE(memtable_size, 64 * 1024)
    SET_SIZE(delayed_write_rate, 1024)
    SET_SIZE(write_stall_timeout_ms, 0)
    SET_SIZE(compaction_rate_limit, 0)
    SET_SIZE(sync_interval_ms, 0)
    SET_SIZE(fifo_max_size, 1)
    SET_SIZE(value_threshold, 0)
    SET_SIZE(vlog_file_size, 1 << 20)
    SET_SIZE(vlog_gc_interval_s, 0)
    SET_SIZE(tombstone_compaction_min_entries, 0)
    SET_SIZE(iter_skip_compaction_trigger, 0)
#undef SET_SIZE
    if (strcmp(name, "tombstone_compaction_ratio") == 0) {
        if (options_parse_size(value, &v) || v > 100)
            return -EINVAL;
        __atomic_store_n(&db->opts.tombstone_compaction_ratio, (int)v, __ATOMIC_RELAXED);
        goto changed;
    }
    if (strcmp(name, "vlog_gc_discard_ratio") == 0) {
        char *end;
        double r = strtod(value, &end);
        if (end == value || *end || !(r > 0 && r < 1))
            return -EINVAL;
        pthread_mutex_lock(&db->mu); /* the GC thread reads it under mu */
        db->opts.vlog_gc_discard_ratio = r;
        pthread_mutex_unlock(&db->mu);
        goto changed;
    }
    if (strcmp(name, "l0_compaction_trigger") == 0 || strcmp(name, "l0_slowdown_trigger") == 0 ||
        strcmp(name, "l0_stop_trigger") == 0) {
        if (options_parse_size(value, &v) || v < 1 || v > 100000)
            return -EINVAL;
        pthread_mutex_lock(&db->mu);
        shale_options o = db->opts;
        if (name[3] == 'c')
            o.l0_compaction_trigger = (int)v;
        else if (name[4] == 'l')
            o.l0_slowdown_trigger = (int)v;
        else
            o.l0_stop_trigger = (int)v;
        const char *why;
        int rc = options_validate(&o, &why);
        if (rc == 0) {
            __atomic_store_n(&db->opts.l0_compaction_trigger, o.l0_compaction_trigger,
                             __ATOMIC_RELAXED);
            __atomic_store_n(&db->opts.l0_slowdown_trigger, o.l0_slowdown_trigger,
                             __ATOMIC_RELAXED);
            __atomic_store_n(&db->opts.l0_stop_trigger, o.l0_stop_trigger, __ATOMIC_RELAXED);
        }
        pthread_mutex_unlock(&db->mu);
        if (rc)
            return rc;
        goto changed;
    }
    if (strcmp(name, "sync_writes") == 0) {
        if (options_parse_bool(value, &b))
            return -EINVAL;
        __atomic_store_n(&db->opts.sync_writes, b, __ATOMIC_RELAXED);
        goto changed;
    }
    if (strcmp(name, "vlog_gc_rewrite") == 0) {
        if (options_parse_bool(value, &b))
            return -EINVAL;
        __atomic_store_n(&db->opts.vlog_gc_rewrite, b, __ATOMIC_RELAXED);
        goto changed;
    }
    if (strcmp(name, "block_cache_size") == 0) {
        if (options_parse_size(value, &v))
            return -EINVAL;
        __atomic_store_n(&db->opts.block_cache_size, (size_t)v, __ATOMIC_RELAXED);
        block_cache_set_capacity(db->bc, (size_t)v);
        goto changed;
    }
    return -ENOENT;
changed:
    db_log(db, "option %s set to %s", name, value);
    pthread_mutex_lock(&db->mu);
    db_maybe_schedule_compaction(db);
    pthread_cond_broadcast(&db->bg_cv); /* stalled writers re-check the triggers */
    pthread_mutex_unlock(&db->mu);
    return 0;
}

int shale_property(shale_db *db, const char *name, char **out)
{
    *out = NULL;
    if (!db || !name)
        return -EINVAL;
    return db_property(db, name, out);
}

int shale_property_int(shale_db *db, const char *name, uint64_t *out)
{
    *out = 0;
    if (!db || !name)
        return -EINVAL;
    return db_property_int(db, name, out);
}

int shale_compact_range(shale_db *db, const void *begin, size_t blen, const void *end, size_t elen)
{
    if (!db)
        return -EINVAL;
    int rc = shale_flush(db);
    if (rc)
        return rc;
    slice b = slice_make(begin, blen), e = slice_make(end, elen);
    return db_compact_range(db, begin ? &b : NULL, end ? &e : NULL);
}
