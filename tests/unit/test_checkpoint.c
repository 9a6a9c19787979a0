/*
 * test_checkpoint.c - shale_checkpoint: the copy holds the store as of the call while
 * writers, flushes, compactions and value-log GC run; it opens, passes shale-tool check
 * and reports the sequence it holds; a failed or interrupted checkpoint leaves no dest
 * (or a whole one) and the store goes on working.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "file.h"
#include "shale.h"
#include "sync_point.h"
#include "testutil.h"

static const char *tool_path; /* shale-tool of this build, NULL when not built */

static void ckpt_options(shale_options *o)
{
    tu_small_options(o);
    o->memtable_size = 64 * 1024;
    o->table_size = 64 * 1024;
    o->base_level_size = 128 * 1024;
    o->value_threshold = 100;
    o->vlog_file_size = 1 << 20;
    o->vlog_gc_interval_s = 0; /* the tests run GC themselves */
}

/* A test's directories: the source store's (returned) and *out for its checkpoints, with
   dest (when not NULL, PATH_MAX bytes) set to the path of one checkpoint there. */
static char *make_dirs(char **out, char *dest)
{
    char *dir = tu_tempdir("ckpt-src");
    *out = tu_tempdir("ckpt-out");
    if (dest)
        snprintf(dest, PATH_MAX, "%s/c", *out);
    return dir;
}

static void free_dirs(char *dir, char *out)
{
    tu_rmdir_free(dir);
    tu_rmdir_free(out);
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Runs shale-tool check on dir: it must find nothing wrong. */
static void tool_check(const char *dir)
{
    if (!tool_path) {
        print_message("shale-tool not built: check of %s skipped\n", dir);
        return;
    }
    char cmd[PATH_MAX * 2];
    snprintf(cmd, sizeof cmd, "%s check %s >/dev/null 2>&1", tool_path, dir);
    int st = system(cmd);
    if (st != 0) {
        snprintf(cmd, sizeof cmd, "%s check %s", tool_path, dir);
        (void)!system(cmd);
        fail_msg("shale-tool check %s failed", dir);
    }
}

/* ---- writers whose every prefix of operations is a recognisable state ---- */

#define WRITERS 2
#define KEYS_PER_WRITER 64

/* Writer t's operation g: a put of key (t, g % KEYS) with a value naming g, or a delete
   of that key every tenth operation. Values of 40..840 bytes: most go to the value log. */
static bool op_is_delete(uint64_t g)
{
    return g % 10 == 9;
}

static void op_key(int t, uint64_t g, char *k, size_t n)
{
    snprintf(k, n, "w%d:%03d", t, (int)(g % KEYS_PER_WRITER));
}

static size_t op_value(uint64_t g, char *v)
{
    size_t len = 40 + (size_t)(g * 37 % 800);
    memset(v, 'a' + (int)(g % 26), len);
    int n = snprintf(v, len, "%" PRIu64 ":", g);
    v[n] = '#';
    return len;
}

typedef struct writer_state {
    shale_db *db;
    int t;
    atomic_uint_fast64_t acked;   /* operations 0..acked-1 have returned */
    atomic_uint_fast64_t started; /* operations 0..started-1 have begun */
    atomic_bool *stop;
} writer_state;

static void *writer_main(void *arg)
{
    writer_state *w = arg;
    char k[32], v[1024];
    for (uint64_t g = 0; !atomic_load(w->stop); g++) {
        atomic_store(&w->started, g + 1);
        op_key(w->t, g, k, sizeof k);
        int rc = op_is_delete(g) ? shale_delete(w->db, k, strlen(k))
                                 : shale_put(w->db, k, strlen(k), v, op_value(g, v), 0);
        if (rc) {
            fprintf(stderr, "writer %d op %" PRIu64 ": %s\n", w->t, g, shale_strerror(rc));
            abort();
        }
        atomic_store(&w->acked, g + 1);
    }
    return NULL;
}

typedef struct churn {
    shale_db *db;
    atomic_bool *stop;
    int gc_runs, compactions;
} churn;

/* Compactions and value-log GC, over and over: files come and go under the checkpoint. */
static void *churn_main(void *arg)
{
    churn *c = arg;
    while (!atomic_load(c->stop)) {
        int rc = shale_compact_range(c->db, NULL, 0, NULL, 0);
        assert_true(rc == 0);
        c->compactions++;
        rc = shale_vlog_gc(c->db, 0.05);
        assert_true(rc == 0 || rc == SHALE_ENOREWRITE);
        c->gc_runs += rc == 0;
    }
    return NULL;
}

/* What writer t's keys hold after its operations 0..n-1. */
static bool writer_state_matches(shale_db *db, int t, uint64_t n)
{
    char k[32], v[1024];
    for (int j = 0; j < KEYS_PER_WRITER; j++) {
        /* the last operation below n on key j */
        int64_t last = -1;
        if (n > 0) {
            uint64_t g = n - 1;
            while (g % KEYS_PER_WRITER != (uint64_t)j && g > 0)
                g--;
            if (g % KEYS_PER_WRITER == (uint64_t)j)
                last = (int64_t)g;
        }
        op_key(t, (uint64_t)j, k, sizeof k);
        void *got = NULL;
        size_t len = 0;
        int rc = shale_get(db, k, strlen(k), &got, &len);
        bool ok;
        if (last < 0 || op_is_delete((uint64_t)last)) {
            ok = rc == SHALE_ENOTFOUND;
        } else {
            size_t want = op_value((uint64_t)last, v);
            ok = rc == 0 && len == want && memcmp(got, v, len) == 0;
        }
        shale_free(got);
        if (!ok)
            return false;
    }
    return true;
}

/* The checkpoint holds, per writer, exactly a prefix of its operations, at least those
   acknowledged before the call and at most those begun before it returned. */
static void verify_checkpoint(const char *dest, const uint64_t *acked_before,
                              const uint64_t *started_after, uint64_t seq)
{
    tool_check(dest);
    shale_options o;
    ckpt_options(&o);
    o.create_if_missing = false;
    shale_db *db = tu_open_ok(dest, &o);
    assert_int_equal(tu_prop(db, "shale.last-sequence"), seq);
    for (int t = 0; t < WRITERS; t++) {
        bool found = false;
        for (uint64_t n = acked_before[t]; n <= started_after[t] && !found; n++)
            found = writer_state_matches(db, t, n);
        if (!found)
            fail_msg("%s: writer %d's keys hold no prefix of %" PRIu64 "..%" PRIu64
                     " operations",
                     dest, t, acked_before[t], started_after[t]);
    }
    assert_int_equal(shale_close(db), 0);
}

static void test_checkpoint_holds_the_state_of_the_call(void **state)
{
    (void)state;
    char *out;
    char *dir = make_dirs(&out, NULL);
    shale_options o;
    ckpt_options(&o);
    shale_db *db = tu_open_ok(dir, &o);
    atomic_bool stop = false;
    writer_state ws[WRITERS];
    pthread_t wt[WRITERS], ct;
    for (int t = 0; t < WRITERS; t++) {
        ws[t] = (writer_state){.db = db, .t = t, .stop = &stop};
        assert_int_equal(pthread_create(&wt[t], NULL, writer_main, &ws[t]), 0);
    }
    churn c = {.db = db, .stop = &stop};
    assert_int_equal(pthread_create(&ct, NULL, churn_main, &c), 0);

    enum { ROUNDS = 6 };
    uint64_t before[ROUNDS][WRITERS], after[ROUNDS][WRITERS], seqs[ROUNDS];
    char dests[ROUNDS][PATH_MAX];
    for (int r = 0; r < ROUNDS; r++) {
        usleep(150 * 1000);
        snprintf(dests[r], sizeof dests[r], "%s/ckpt%d", out, r);
        for (int t = 0; t < WRITERS; t++)
            before[r][t] = atomic_load(&ws[t].acked);
        int rc = shale_checkpoint(db, dests[r], &seqs[r]);
        for (int t = 0; t < WRITERS; t++)
            after[r][t] = atomic_load(&ws[t].started);
        if (rc)
            fail_msg("checkpoint %d: %s", r, shale_strerror(rc));
    }
    atomic_store(&stop, true);
    for (int t = 0; t < WRITERS; t++)
        pthread_join(wt[t], NULL);
    pthread_join(ct, NULL);
    print_message("%d compactions, %d GC rewrites, writers at %" PRIu64 " and %" PRIu64 "\n",
                  c.compactions, c.gc_runs, (uint64_t)ws[0].acked, (uint64_t)ws[1].acked);
    assert_true(ws[0].acked > 0 && ws[1].acked > 0);

    /* The source went on and still holds its own latest state. */
    for (int t = 0; t < WRITERS; t++)
        assert_true(writer_state_matches(db, t, ws[t].acked));
    assert_int_equal(shale_close(db), 0);
    for (int r = 0; r < ROUNDS; r++)
        verify_checkpoint(dests[r], before[r], after[r], seqs[r]);
    /* A checkpoint's sequences only grow. */
    for (int r = 1; r < ROUNDS; r++)
        assert_true(seqs[r] >= seqs[r - 1]);

    /* The source reopens unharmed by the links its files share. */
    db = tu_open_ok(dir, &o);
    for (int t = 0; t < WRITERS; t++)
        assert_true(writer_state_matches(db, t, ws[t].acked));
    assert_int_equal(shale_close(db), 0);
    tool_check(dir);
    free_dirs(dir, out);
}

/* A store with tables, segments, closed logs and an active log. */
static shale_db *store_with_everything(const char *dir, uint64_t writes)
{
    shale_options o;
    ckpt_options(&o);
    shale_db *db = tu_open_ok(dir, &o);
    char k[32], v[1024];
    for (uint64_t g = 0; g < writes; g++) {
        op_key(0, g, k, sizeof k);
        int rc = op_is_delete(g) ? shale_delete(db, k, strlen(k))
                                 : shale_put(db, k, strlen(k), v, op_value(g, v), 0);
        assert_int_equal(rc, 0);
        if (g == writes / 2)
            assert_int_equal(shale_flush(db), 0);
    }
    return db;
}

/* A checkpoint is a store of its own: writes to it do not reach the source. */
static void test_checkpoint_opens_as_an_independent_store(void **state)
{
    (void)state;
    char *out, dest[PATH_MAX];
    char *dir = make_dirs(&out, dest);
    shale_options o;
    ckpt_options(&o);
    shale_db *db = store_with_everything(dir, 3000);
    uint64_t seq = 0;
    assert_int_equal(shale_checkpoint(db, dest, &seq), 0);
    assert_int_equal(seq, tu_prop(db, "shale.last-sequence"));
    assert_int_equal(shale_checkpoint(db, dest, &seq), -EEXIST);
    assert_int_equal(seq, 0);

    shale_db *copy = tu_open_ok(dest, &o);
    assert_true(writer_state_matches(copy, 0, 3000));
    assert_int_equal(shale_put(copy, "only-in-copy", 12, "1", 1, 0), 0);
    assert_int_equal(shale_compact_range(copy, NULL, 0, NULL, 0), 0);
    assert_int_equal(shale_vlog_gc(copy, 0.01) <= 0, 1);
    assert_int_equal(shale_close(copy), 0);

    void *got = NULL;
    size_t len;
    assert_int_equal(shale_get(db, "only-in-copy", 12, &got, &len), SHALE_ENOTFOUND);
    assert_true(writer_state_matches(db, 0, 3000));
    assert_int_equal(shale_close(db), 0);
    tool_check(dir);
    db = tu_open_ok(dir, &o);
    assert_true(writer_state_matches(db, 0, 3000));
    assert_int_equal(shale_close(db), 0);
    free_dirs(dir, out);
}

static void flush_now(const char *name, void *arg)
{
    (void)name;
    assert_int_equal(shale_flush(arg), 0);
}

static int count_logs(const char *dir)
{
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "ls %s | grep -c '\\.log$'", dir);
    FILE *f = popen(cmd, "r");
    int n = -1;
    assert_int_equal(fscanf(f, "%d", &n), 1);
    pclose(f);
    return n;
}

/* A flush right after the checkpoint took its moment frees the log the checkpoint must
   copy (small values: nothing points into it); the pinned deletion waits until the
   checkpoint has its copy, then happens. */
static void test_checkpoint_pins_file_deletions(void **state)
{
    (void)state;
    char *out, dest[PATH_MAX];
    char *dir = make_dirs(&out, dest);
    shale_options o;
    ckpt_options(&o);
    o.value_threshold = 0; /* no segments: a flushed log is deleted at once */
    shale_db *db = tu_open_ok(dir, &o);
    for (int i = 0; i < 500; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%04d", i);
        assert_int_equal(shale_put(db, k, strlen(k), "v", 1, 0), 0);
    }
    assert_int_equal(count_logs(dir), 1);
    sync_point_set("checkpoint:planned", flush_now, db);
    uint64_t seq;
    int rc = shale_checkpoint(db, dest, &seq);
    sync_point_clear_all();
    if (rc)
        fail_msg("checkpoint with a flush after its moment: %s", shale_strerror(rc));
    assert_int_equal(count_logs(dir), 1); /* the flushed log went after the unpin */
    assert_int_equal(shale_close(db), 0);
    tool_check(dest);
    db = tu_open_ok(dest, &o);
    for (int i = 0; i < 500; i++) {
        char k[32];
        snprintf(k, sizeof k, "k%04d", i);
        tu_expect_found(db, k);
    }
    assert_int_equal(shale_close(db), 0);
    free_dirs(dir, out);
}

/* dest after a failed or interrupted checkpoint: absent, or a whole store. */
static void expect_none_or_whole(const char *dest, uint64_t writes)
{
    if (!exists(dest))
        return;
    tool_check(dest);
    shale_options o;
    ckpt_options(&o);
    o.create_if_missing = false;
    shale_db *db = tu_open_ok(dest, &o);
    assert_true(writer_state_matches(db, 0, writes));
    assert_int_equal(shale_close(db), 0);
}

/* Every file call of the checkpoint fails in turn: each failure is returned, leaves no
   dest and no temporary directory, and the store goes on. */
static void test_checkpoint_fault_sweep(void **state)
{
    (void)state;
    char *out;
    char *dir = make_dirs(&out, NULL);
    const uint64_t writes = 2000;
    shale_db *db = store_with_everything(dir, writes);
    /* quiet: no background work takes the armed faults */
    assert_int_equal(shale_compact_range(db, NULL, 0, NULL, 0), 0);
    const enum file_op kinds[] = {FILE_OP_OPEN, FILE_OP_READ,   FILE_OP_WRITE,
                                  FILE_OP_SYNC, FILE_OP_RENAME, FILE_OP_SYNC_DIR};
    int failures = 0, attempt = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        for (uint64_t nth = 1;; nth++) {
            char dest[PATH_MAX], tmp[PATH_MAX + 32];
            snprintf(dest, sizeof dest, "%s/c%d", out, attempt++);
            snprintf(tmp, sizeof tmp, "%s.checkpoint-tmp", dest);
            uint64_t seq = 1;
            file_fault_arm(kinds[k], nth, EIO, false, false);
            int rc = shale_checkpoint(db, dest, &seq);
            file_fault_clear();
            if (rc == 0) {
                expect_none_or_whole(dest, writes);
                break;
            }
            failures++;
            assert_int_equal(rc, -EIO);
            assert_int_equal(seq, 0);
            if (kinds[k] != FILE_OP_SYNC_DIR && kinds[k] != FILE_OP_SYNC)
                assert_false(exists(dest));
            else
                expect_none_or_whole(dest, writes); /* only the parent's sync failed */
            assert_false(exists(tmp));
            assert_int_equal(shale_put(db, "after", 5, "1", 1, 0), 0);
            assert_true(nth < 1000);
        }
    }
    print_message("%d injected failures\n", failures);
    assert_true(failures > 10);
    assert_int_equal(shale_close(db), 0);
    free_dirs(dir, out);
}

static atomic_int crash_countdown;

static void crash_here(const char *name, void *arg)
{
    (void)name;
    (void)arg;
    if (atomic_fetch_sub(&crash_countdown, 1) == 1)
        _exit(0);
}

/* The process dies at each step of a checkpoint (after the plan, after each file, after
   the links, before and after the rename): dest is absent or whole, and a later
   checkpoint to the same dest clears what the crash left. */
static void test_checkpoint_crash_leaves_no_half_dest(void **state)
{
    (void)state;
    char *out;
    char *dir = make_dirs(&out, NULL);
    const uint64_t writes = 2000;
    shale_db *db = store_with_everything(dir, writes);
    assert_int_equal(shale_close(db), 0);
    const char *points[] = {"checkpoint:planned", "checkpoint:file", "checkpoint:linked",
                            "checkpoint:filled", "checkpoint:renamed"};
    int crashes = 0, whole = 0;
    for (size_t p = 0; p < sizeof points / sizeof points[0]; p++) {
        for (int nth = 1;; nth++) {
            char dest[PATH_MAX];
            snprintf(dest, sizeof dest, "%s/c-%zu-%d", out, p, nth);
            pid_t pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) {
                shale_options o;
                ckpt_options(&o);
                shale_db *cdb = NULL;
                if (shale_open(dir, &o, &cdb))
                    _exit(2);
                atomic_store(&crash_countdown, nth);
                sync_point_set(points[p], crash_here, NULL);
                uint64_t seq;
                _exit(shale_checkpoint(cdb, dest, &seq) == 0 ? 1 : 3);
            }
            int status;
            assert_int_equal(waitpid(pid, &status, 0), pid);
            assert_true(WIFEXITED(status));
            int code = WEXITSTATUS(status);
            assert_true(code == 0 || code == 1);
            expect_none_or_whole(dest, writes);
            whole += exists(dest);
            if (code == 1)
                break; /* the point was passed fewer than nth times */
            crashes++;
            if (!exists(dest)) {
                /* the next checkpoint to dest clears the crash's temporary directory */
                shale_options o;
                ckpt_options(&o);
                db = tu_open_ok(dir, &o);
                uint64_t seq;
                assert_int_equal(shale_checkpoint(db, dest, &seq), 0);
                assert_int_equal(shale_close(db), 0);
                expect_none_or_whole(dest, writes);
            }
        }
    }
    print_message("%d crashes, %d left a whole dest\n", crashes, whole);
    assert_true(crashes >= 5);
    free_dirs(dir, out);
}

int main(int argc, char **argv)
{
    (void)argc;
    static char tool[PATH_MAX];
    const char *build = getenv("SHALE_BUILD");
    if (build)
        snprintf(tool, sizeof tool, "%s/shale-tool", build);
    else { /* build/tests/test_checkpoint -> build/shale-tool */
        const char *slash = strrchr(argv[0], '/');
        int n = slash ? (int)(slash - argv[0]) : 1;
        snprintf(tool, sizeof tool, "%.*s/../shale-tool", n, slash ? argv[0] : ".");
    }
    tool_path = access(tool, X_OK) == 0 ? tool : NULL;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checkpoint_holds_the_state_of_the_call),
        cmocka_unit_test(test_checkpoint_opens_as_an_independent_store),
        cmocka_unit_test(test_checkpoint_pins_file_deletions),
        cmocka_unit_test(test_checkpoint_fault_sweep),
        cmocka_unit_test(test_checkpoint_crash_leaves_no_half_dest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
