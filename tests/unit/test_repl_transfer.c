/*
 * test_repl_transfer.c - a full sync's transfer of files over a socketpair (repl_sync.h):
 * a real checkpoint taken and sent while the source store takes writes arrives whole and
 * opens; files the replica has are kept, not sent; a byte changed in flight, a peer that
 * stops, a name that climbs out of the directory and a kept file that changed are each
 * refused, with nothing left marked complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <xxhash.h>

#include "repl_sync.h"
#include "shale.h"
#include "testutil.h"

#define NKEYS 3000

/* ---- a source store with a checkpoint ---- */

typedef struct source {
    char *root;
    char data[512], fifo[512], ckpt[512];
    shale_db *db, *fifo_db;
    pthread_t writer;
    volatile int stop;
    uint64_t seq;
} source;

static void key_of(int i, char *k, size_t n)
{
    snprintf(k, n, "key:%06d", i);
}

/* A value long enough for the value log, and telling which key and round wrote it. */
static void value_of(int i, int round, char *v, size_t n)
{
    memset(v, 'a' + (i + round) % 26, n - 1);
    snprintf(v, n, "%d/%d:", i, round);
    v[strlen(v)] = '-';
    v[n - 1] = '\0';
}

static void put_round(shale_db *db, int round, int n)
{
    for (int i = 0; i < n; i++) {
        char k[32], v[300];
        key_of(i, k, sizeof k);
        value_of(i, round, v, sizeof v);
        assert_int_equal(shale_put(db, k, strlen(k), v, strlen(v), 0), 0);
    }
}

/* Overwrites keys with later rounds until stopped: the store changes under the
   checkpoint and the transfer. */
static void *writer_main(void *arg)
{
    source *s = arg;
    for (int round = 100; !__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE); round++)
        put_round(s->db, round, 200);
    return NULL;
}

static void source_open(source *s)
{
    memset(s, 0, sizeof *s);
    s->root = tu_tempdir("repl-src");
    snprintf(s->data, sizeof s->data, "%s/data", s->root);
    snprintf(s->fifo, sizeof s->fifo, "%s/fifo", s->root);
    snprintf(s->ckpt, sizeof s->ckpt, "%s/ckpt", s->root);
    shale_options o;
    tu_small_options(&o);
    o.memtable_size = 64 << 10;
    o.table_size = 64 << 10;
    o.base_level_size = 128 << 10;
    o.value_threshold = 100;
    o.vlog_file_size = 1 << 20;
    s->db = tu_open(s->data, &o);
    s->fifo_db = tu_open(s->fifo, &o);
    assert_non_null(s->db);
    assert_non_null(s->fifo_db);
    put_round(s->db, 1, NKEYS);
    put_round(s->fifo_db, 2, 500);
    assert_int_equal(pthread_create(&s->writer, NULL, writer_main, s), 0);
    /* as ks_engines_checkpoint lays it out: the main engine's, then fifo-<id>/ */
    assert_int_equal(shale_checkpoint(s->db, s->ckpt, &s->seq), 0);
    char sub[600];
    uint64_t fseq;
    snprintf(sub, sizeof sub, "%s/fifo-1", s->ckpt);
    assert_int_equal(shale_checkpoint(s->fifo_db, sub, &fseq), 0);
}

static void source_close(source *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->writer, NULL);
    assert_int_equal(shale_close(s->db), 0);
    assert_int_equal(shale_close(s->fifo_db), 0);
    tu_rmdir_free(s->root);
}

/* ---- sending on a thread ---- */

typedef struct sender {
    pthread_t t;
    int fd;
    const char *dir;
    const repl_files *have;
    int timeout_ms;
    const char *trailer; /* written after the stream: the receiver must leave it */
    int rc;
} sender;

static void *sender_main(void *arg)
{
    sender *s = arg;
    s->rc = repl_send_checkpoint(s->fd, s->dir, s->have, s->timeout_ms);
    if (s->rc == 0 && s->trailer)
        (void)!write(s->fd, s->trailer, strlen(s->trailer));
    return NULL;
}

static void sender_start(sender *s, int fd, const char *dir, const repl_files *have)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    s->dir = dir;
    s->have = have;
    s->timeout_ms = 5000;
    s->trailer = "*1\r\n$4\r\nping\r\n";
    assert_int_equal(pthread_create(&s->t, NULL, sender_main, s), 0);
}

static int receive(int fd, const char *data_dir, const repl_files *have, const char *dest,
                   int timeout_ms, repl_progress *p)
{
    repl_recv_args a = {.fd = fd,
                        .data_dir = data_dir,
                        .have = have,
                        .dest = dest,
                        .timeout_ms = timeout_ms,
                        .progress = p};
    return repl_recv_checkpoint(&a);
}

/* ---- comparing directories ---- */

static void assert_same_file(const char *a, const char *b)
{
    int64_t na = tu_file_size(a), nb = tu_file_size(b);
    assert_true(na >= 0);
    assert_int_equal(na, nb);
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    assert_non_null(fa);
    assert_non_null(fb);
    int ca, cb;
    do {
        ca = fgetc(fa);
        cb = fgetc(fb);
        assert_int_equal(ca, cb);
    } while (ca != EOF);
    fclose(fa);
    fclose(fb);
}

/* Every file of a (one level of subdirectories) is in b with the same bytes, and b has
   as many. Returns the files compared. */
static int assert_same_tree(const char *a, const char *b)
{
    DIR *d = opendir(a);
    assert_non_null(d);
    int n = 0, nb = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char pa[1024], pb[1024];
        snprintf(pa, sizeof pa, "%s/%s", a, e->d_name);
        snprintf(pb, sizeof pb, "%s/%s", b, e->d_name);
        struct stat st;
        assert_int_equal(stat(pa, &st), 0);
        if (S_ISDIR(st.st_mode))
            n += assert_same_tree(pa, pb);
        else {
            assert_same_file(pa, pb);
            n++;
        }
    }
    closedir(d);
    d = opendir(b);
    assert_non_null(d);
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            nb++;
    closedir(d);
    (void)nb;
    return n;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* The checkpoint's keys as written before it: round 1 or a later round's value. */
static void assert_store_opens(const char *dir)
{
    shale_options o;
    tu_small_options(&o);
    shale_db *db = tu_open(dir, &o);
    assert_non_null(db);
    for (int i = 0; i < NKEYS; i += 97) {
        char k[32];
        key_of(i, k, sizeof k);
        void *v;
        size_t n;
        assert_int_equal(shale_get(db, k, strlen(k), &v, &n), 0);
        assert_true(n == 299);
        shale_free(v);
    }
    assert_int_equal(shale_close(db), 0);
}

static uint64_t tree_bytes(const char *dir)
{
    uint64_t sum = 0;
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[1024];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        struct stat st;
        assert_int_equal(stat(p, &st), 0);
        sum += S_ISDIR(st.st_mode) ? tree_bytes(p) : (uint64_t)st.st_size;
    }
    closedir(d);
    return sum;
}

/* After the stream, what the sender wrote next is still in the socket, whole. */
static void assert_trailer_left(int fd)
{
    char buf[64];
    const char *want = "*1\r\n$4\r\nping\r\n";
    size_t got = 0;
    while (got < strlen(want)) {
        ssize_t k = read(fd, buf + got, sizeof buf - got);
        assert_true(k > 0);
        got += (size_t)k;
    }
    assert_int_equal(got, strlen(want));
    assert_memory_equal(buf, want, got);
}

/* ---- tests ---- */

static void test_repl_transfer_checkpoint_arrives_whole(void **state)
{
    (void)state;
    source s;
    source_open(&s);
    char dest[600];
    snprintf(dest, sizeof dest, "%s/replica.sync", s.root);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sender snd;
    sender_start(&snd, sv[0], s.ckpt, NULL);
    repl_progress p = {0};
    assert_int_equal(receive(sv[1], "/nonexistent", NULL, dest, 5000, &p), 0);
    pthread_join(snd.t, NULL);
    assert_int_equal(snd.rc, 0);
    assert_trailer_left(sv[1]);
    close(sv[0]);
    close(sv[1]);
    uint64_t total, read;
    repl_progress_read(&p, &total, &read);
    assert_int_equal(total, tree_bytes(s.ckpt));
    assert_int_equal(read, total);
    assert_true(assert_same_tree(s.ckpt, dest) > 5);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", dest);
    assert_false(exists(tmp));
    assert_store_opens(dest);
    source_close(&s);
}

/* The replica has the checkpoint's files but one: only that one travels, the rest are
   linked from its data directory. */
static void test_repl_transfer_keeps_what_the_replica_has(void **state)
{
    (void)state;
    source s;
    source_open(&s);
    char replica[600], dest[600];
    snprintf(replica, sizeof replica, "%s/replica", s.root);
    snprintf(dest, sizeof dest, "%s/replica.sync", s.root);
    /* the replica's data: a copy of the checkpoint, one table and one log changed */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cp -r %s %s", s.ckpt, replica);
    assert_int_equal(system(cmd), 0);
    repl_files have = {0};
    assert_int_equal(repl_files_list_have(replica, &have), 0);
    assert_true(have.n > 3);
    bool saw_fifo = false;
    for (size_t i = 0; i < have.n; i++)
        saw_fifo |= strncmp(have.v[i].name, "fifo-1/", 7) == 0;
    assert_true(saw_fifo);
    char changed[700], changed_name[REPL_NAME_MAX + 1];
    snprintf(changed_name, sizeof changed_name, "%s", have.v[0].name);
    snprintf(changed, sizeof changed, "%s/%s", replica, have.v[0].name);
    uint64_t changed_size = have.v[0].size;
    assert_int_equal(tu_flip_byte(changed, changed_size - 1), 0);
    assert_int_equal(repl_files_list_have(replica, &have), 0);

    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    sender snd;
    sender_start(&snd, sv[0], s.ckpt, &have);
    repl_progress p = {0};
    assert_int_equal(receive(sv[1], replica, &have, dest, 5000, &p), 0);
    pthread_join(snd.t, NULL);
    assert_int_equal(snd.rc, 0);
    assert_trailer_left(sv[1]);
    close(sv[0]);
    close(sv[1]);
    uint64_t total, read;
    repl_progress_read(&p, &total, &read);
    /* the changed file and what have does not list (CURRENT, the manifests) */
    uint64_t listed = 0;
    for (size_t i = 0; i < have.n; i++)
        listed += have.v[i].size;
    assert_int_equal(total, tree_bytes(s.ckpt) - listed + changed_size);
    assert_same_tree(s.ckpt, dest);
    /* a kept file is the replica's own, linked */
    struct stat a, b;
    char kept_src[700], kept_dst[700];
    const char *kept = strcmp(have.v[0].name, changed_name) ? have.v[0].name : have.v[1].name;
    snprintf(kept_src, sizeof kept_src, "%s/%s", replica, kept);
    snprintf(kept_dst, sizeof kept_dst, "%s/%s", dest, kept);
    assert_int_equal(stat(kept_src, &a), 0);
    assert_int_equal(stat(kept_dst, &b), 0);
    assert_int_equal(a.st_ino, b.st_ino);
    assert_store_opens(dest);
    repl_files_free(&have);
    source_close(&s);
}

/* ---- a relay that changes one byte of a file's content ---- */

typedef struct relay {
    pthread_t t;
    int in, out;
} relay;

static void *relay_main(void *arg)
{
    relay *r = arg;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, cap *= 2);
        ssize_t k = read(r->in, buf + n, cap - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    /* the last byte of the first file sent in full, just before its sum */
    const char *sum = memmem(buf, n, "*2\r\n$3\r\nsum\r\n", 13);
    if (sum && sum > buf)
        buf[sum - buf - 1] ^= 0x20;
    for (size_t off = 0; off < n;) {
        ssize_t k = send(r->out, buf + off, n - off, MSG_NOSIGNAL);
        if (k <= 0)
            break;
        off += (size_t)k;
    }
    free(buf);
    close(r->out);
    return NULL;
}

static void test_repl_transfer_corrupt_byte_detected(void **state)
{
    (void)state;
    source s;
    source_open(&s);
    char dest[600], tmp[700];
    snprintf(dest, sizeof dest, "%s/replica.sync", s.root);
    snprintf(tmp, sizeof tmp, "%s.tmp", dest);
    int a[2], b[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, a), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, b), 0);
    relay r = {.in = a[1], .out = b[0]};
    assert_int_equal(pthread_create(&r.t, NULL, relay_main, &r), 0);
    sender snd;
    sender_start(&snd, a[0], s.ckpt, NULL);
    pthread_join(snd.t, NULL);
    assert_int_equal(snd.rc, 0);
    close(a[0]);
    assert_int_equal(receive(b[1], "/nonexistent", NULL, dest, 5000, NULL), SHALE_ECORRUPT);
    close(b[1]); /* the relay's writes of the rest fail */
    pthread_join(r.t, NULL);
    close(a[1]);
    assert_false(exists(dest));
    assert_false(exists(tmp));
    source_close(&s);
}

/* A receiver gets an exact stream from the test. */
static int receive_stream(const char *stream, size_t len, const char *dest, bool close_after,
                          int timeout_ms, const repl_files *have, const char *data_dir)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(write(sv[0], stream, len), (ssize_t)len);
    if (close_after)
        close(sv[0]);
    int rc = receive(sv[1], data_dir ? data_dir : "/nonexistent", have, dest, timeout_ms, NULL);
    if (!close_after)
        close(sv[0]);
    close(sv[1]);
    return rc;
}

static void test_repl_transfer_silent_peer_times_out(void **state)
{
    (void)state;
    char *root = tu_tempdir("repl-silent");
    char dest[600], tmp[700];
    snprintf(dest, sizeof dest, "%s/d.sync", root);
    snprintf(tmp, sizeof tmp, "%s.tmp", dest);
    /* half a file, then nothing: the socket stays open */
    const char *s = "*2\r\n$5\r\ntotal\r\n:10\r\n*3\r\n$4\r\nfile\r\n$4\r\nCURR\r\n:10\r\nabc";
    assert_int_equal(receive_stream(s, strlen(s), dest, false, 200, NULL, NULL), -ETIMEDOUT);
    assert_false(exists(dest));
    assert_false(exists(tmp));
    /* the same, closed: the peer left */
    assert_int_equal(receive_stream(s, strlen(s), dest, true, 200, NULL, NULL), -ECONNRESET);
    assert_false(exists(tmp));
    tu_rmdir_free(root);
}

/* A receiver that stops reading: the sender gives up after its timeout. */
static void test_repl_transfer_sender_times_out(void **state)
{
    (void)state;
    char *root = tu_tempdir("repl-stuck");
    char dir[600], file[700];
    snprintf(dir, sizeof dir, "%s/ckpt", root);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(file, sizeof file, "%s/000001.log", dir);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    for (int i = 0; i < (8 << 20) / 64; i++)
        fputs("0123456789012345678901234567890123456789012345678901234567890123", f);
    fclose(f);
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(repl_send_checkpoint(sv[0], dir, NULL, 200), -ETIMEDOUT);
    /* and one whose peer is gone */
    close(sv[1]);
    assert_int_equal(repl_send_checkpoint(sv[0], dir, NULL, 200), -EPIPE);
    close(sv[0]);
    tu_rmdir_free(root);
}

static void test_repl_transfer_refuses_bad_names(void **state)
{
    (void)state;
    char *root = tu_tempdir("repl-names");
    char dest[600], tmp[700], outside[700];
    snprintf(dest, sizeof dest, "%s/d.sync", root);
    snprintf(tmp, sizeof tmp, "%s.tmp", dest);
    snprintf(outside, sizeof outside, "%s/evil", root);
    char file_x[128], twice[300];
    snprintf(file_x, sizeof file_x,
             "*3\r\n$4\r\nfile\r\n$1\r\nA\r\n:1\r\nx*2\r\n$3\r\nsum\r\n$16\r\n%016" PRIx64 "\r\n",
             (uint64_t)XXH3_64bits("x", 1));
    snprintf(twice, sizeof twice, "*2\r\n$5\r\ntotal\r\n:2\r\n%s%s", file_x, file_x);
    const char *streams[] = {
        "*2\r\n$5\r\ntotal\r\n:1\r\n*3\r\n$4\r\nfile\r\n$7\r\n../evil\r\n:1\r\nx",
        "*2\r\n$5\r\ntotal\r\n:1\r\n*3\r\n$4\r\nfile\r\n$9\r\n/tmp/evil\r\n:1\r\nx",
        "*2\r\n$5\r\ntotal\r\n:1\r\n*3\r\n$4\r\nfile\r\n$10\r\nfifo-1/../\r\n:1\r\nx",
        "*2\r\n$5\r\ntotal\r\n:1\r\n*3\r\n$4\r\nfile\r\n$5\r\na/b/c\r\n:1\r\nx",
        "*2\r\n$5\r\ntotal\r\n:0\r\n*2\r\n$4\r\nkeep\r\n$7\r\n../evil\r\n",
        /* a keep of a file the replica never listed */
        "*2\r\n$5\r\ntotal\r\n:0\r\n*2\r\n$4\r\nkeep\r\n$10\r\n000001.sst\r\n",
        /* an unknown message; a wrong sum (then SHALE_ECORRUPT); a file sent twice */
        "*2\r\n$5\r\ntotal\r\n:0\r\n*1\r\n$4\r\nboom\r\n",
        "*2\r\n$5\r\ntotal\r\n:2\r\n*3\r\n$4\r\nfile\r\n$1\r\nA\r\n:1\r\nx*2\r\n$3\r\nsum\r\n"
        "$16\r\n0000000000000000\r\n",
        twice,
    };
    for (size_t i = 0; i < sizeof streams / sizeof *streams; i++) {
        int rc = receive_stream(streams[i], strlen(streams[i]), dest, true, 500, NULL, NULL);
        if (i == 7)
            assert_int_equal(rc, SHALE_ECORRUPT); /* a wrong sum, before any duplicate */
        else
            assert_int_equal(rc, -EPROTO);
        assert_false(exists(outside));
        assert_false(exists(dest));
        assert_false(exists(tmp));
    }
    assert_true(repl_name_valid("000001.sst", 10));
    assert_true(repl_name_valid("fifo-12/000001.log", 18));
    assert_false(repl_name_valid("..", 2));
    assert_false(repl_name_valid(".", 1));
    assert_false(repl_name_valid("a//b", 4));
    assert_false(repl_name_valid("a/", 2));
    assert_false(repl_name_valid("a\nb", 3));
    assert_false(repl_name_valid("a\0b", 3));
    assert_false(repl_name_valid("", 0));
    tu_rmdir_free(root);
}

/* A file the replica listed changed before the primary said keep: -ESTALE. */
static void test_repl_transfer_stale_keep(void **state)
{
    (void)state;
    char *root = tu_tempdir("repl-stale");
    char data[600], dest[600], file[700];
    snprintf(data, sizeof data, "%s/data", root);
    snprintf(dest, sizeof dest, "%s/data.sync", root);
    assert_int_equal(mkdir(data, 0755), 0);
    snprintf(file, sizeof file, "%s/000007.sst", data);
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    fputs("table bytes", f);
    fclose(f);
    repl_files have = {0};
    assert_int_equal(repl_files_list_have(data, &have), 0);
    assert_int_equal(have.n, 1);
    const char *s = "*2\r\n$5\r\ntotal\r\n:0\r\n*2\r\n$4\r\nkeep\r\n$10\r\n000007.sst\r\n"
                    "*1\r\n$3\r\nend\r\n";
    assert_int_equal(receive_stream(s, strlen(s), dest, true, 500, &have, data), 0);
    assert_true(exists(dest));
    assert_int_equal(tu_flip_byte(file, 3), 0);
    assert_int_equal(receive_stream(s, strlen(s), dest, true, 500, &have, data), -ESTALE);
    assert_false(exists(dest));
    unlink(file);
    assert_int_equal(receive_stream(s, strlen(s), dest, true, 500, &have, data), -ESTALE);
    repl_files_free(&have);
    tu_rmdir_free(root);
}

static void test_repl_transfer_have_round_trip(void **state)
{
    (void)state;
    repl_files f = {0};
    resp_arg args[3 * 3];
    char names[3][32], sizes[3][24], fps[3][24];
    for (int i = 0; i < 3; i++) {
        snprintf(names[i], sizeof names[i], "fifo-%d/%06d.sst", i, i);
        snprintf(sizes[i], sizeof sizes[i], "%d", 1000 * (i + 1));
        snprintf(fps[i], sizeof fps[i], "%016" PRIx64, (uint64_t)0xfedcba9876543210ull + i);
        args[3 * i] = (resp_arg){.p = names[i], .len = strlen(names[i])};
        args[3 * i + 1] = (resp_arg){.p = sizes[i], .len = strlen(sizes[i])};
        args[3 * i + 2] = (resp_arg){.p = fps[i], .len = strlen(fps[i])};
    }
    assert_int_equal(repl_have_parse(args, 9, &f), 0);
    assert_int_equal(f.n, 3);
    assert_int_equal(f.v[2].size, 3000);
    assert_int_equal(f.v[2].fingerprint, 0xfedcba9876543212ull);
    char *cmd;
    size_t len;
    assert_int_equal(repl_have_format(&f, 2, &cmd, &len), 0);
    /* the two largest, largest first */
    const char *want = "*8\r\n$8\r\nREPLCONF\r\n$4\r\nhave\r\n"
                       "$17\r\nfifo-2/000002.sst\r\n$4\r\n3000\r\n$16\r\nfedcba9876543212\r\n"
                       "$17\r\nfifo-1/000001.sst\r\n$4\r\n2000\r\n$16\r\nfedcba9876543211\r\n";
    assert_int_equal(len, strlen(want));
    assert_memory_equal(cmd, want, len);
    free(cmd);
    /* refused: not triples, a bad number, a name out of the directory */
    assert_int_equal(repl_have_parse(args, 8, &f), -EINVAL);
    resp_arg bad[3] = {args[0], args[1], {.p = "xyz", .len = 3}};
    assert_int_equal(repl_have_parse(bad, 3, &f), -EINVAL);
    resp_arg up[3] = {{.p = "../a", .len = 4}, args[1], args[2]};
    assert_int_equal(repl_have_parse(up, 3, &f), -EINVAL);
    repl_files_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_repl_transfer_checkpoint_arrives_whole),
        cmocka_unit_test(test_repl_transfer_keeps_what_the_replica_has),
        cmocka_unit_test(test_repl_transfer_corrupt_byte_detected),
        cmocka_unit_test(test_repl_transfer_silent_peer_times_out),
        cmocka_unit_test(test_repl_transfer_sender_times_out),
        cmocka_unit_test(test_repl_transfer_refuses_bad_names),
        cmocka_unit_test(test_repl_transfer_stale_keep),
        cmocka_unit_test(test_repl_transfer_have_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
