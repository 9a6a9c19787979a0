/* repl_replica.c - a replica's link to its primary (repl_replica.h). */
#include "repl_replica.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "functions.h"
#include "keyspace.h"
#include "ks_apply.h"
#include "repl.h"
#include "repl_fullsync.h"
#include "repl_internal.h"
#include "repl_primary.h"
#include "resp.h"
#include "script.h"
#include "sync_conn.h"

#define HANDSHAKE_TIMEOUT_MS 5000
#define ACK_MS 1000
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 2000
/* records applied per hold of the server lock, at most (readers wait meanwhile) */
#define APPLY_BATCH 256
#define APPLY_BATCH_BYTES (4u << 20)
#define MAX_FRAME (1ull << 31)

/* ROLE's states of the link, as Redis names them */
enum { LINK_CONNECT, LINK_CONNECTING, LINK_HANDSHAKE, LINK_SYNC, LINK_CONNECTED };
static const char *const link_state_names[] = {"connect", "connecting", "handshake", "sync",
                                               "connected"};

typedef struct repl_follow {
    server *s;
    char host[256];
    int port;
    pthread_t thread;
    int stop;           /* atomic: retired (another REPLICAOF, promotion, shutdown) */
    int fd;             /* atomic: the socket (-1: none), shut down to stop the thread
                           (or, by CLIENT KILL, to reconnect); set to -1 under the server
                           lock before it is closed, so a command never shuts down a
                           descriptor reused meanwhile */
    int state;          /* atomic: LINK_* */
    uint64_t last_io_ms; /* atomic: the primary's last bytes */
    uint64_t read_seq;   /* atomic: the last sequence read from the link */
    bool fresh;          /* asked `PSYNC ? -1`: the primary's first record is the mapping
                            this store wrote at its creation too (skipped) */
    char *buf;           /* the stream's bytes not yet applied */
    size_t len, cap, off;
    resp_cmd cmd;
    /* the link as CLIENT LIST shows it (Redis's master client), set under the lock when
       it comes up: a new client id per connection */
    uint64_t id;
    char addr[64], laddr[64];
    uint64_t up_ms;
    struct repl_follow *next; /* s->repl->retired */
} repl_follow;

/* What the thread reads of the configuration when it connects (under the lock). */
typedef struct link_conf {
    char auth[512], user[256], announce_ip[256];
    long long port, timeout_ms;
    bool sync; /* sync-writes: acks follow a sync */
    char replid[41];
    uint64_t last_seq;
} link_conf;

static void set_state(repl_follow *f, int state)
{
    __atomic_store_n(&f->state, state, __ATOMIC_RELEASE);
}

static bool stopped(repl_follow *f)
{
    return __atomic_load_n(&f->stop, __ATOMIC_ACQUIRE);
}

/* ---- the handshake ---- */

/* Sends a command (argc words) within the handshake's timeout. */
static int send_command(int fd, int argc, const char *const *argv)
{
    resp_out o = {0};
    resp_array(&o, argc);
    for (int i = 0; i < argc; i++)
        resp_bulk_cstr(&o, argv[i]);
    int rc = o.err ? o.err : sync_write(fd, o.data, o.len, HANDSHAKE_TIMEOUT_MS);
    resp_out_free(&o);
    return rc;
}

/* Sends a command and reads its one-line reply into line. */
static int exchange(int fd, sync_reader *rd, int argc, const char *const *argv, char *line,
                    size_t cap)
{
    int rc = send_command(fd, argc, argv);
    long n = rc ? rc : sync_read_line(rd, line, cap, HANDSHAKE_TIMEOUT_MS);
    return n < 0 ? (int)n : 0;
}

/* A reply that is not +OK (the primary refused): logged, -EPROTO. */
static int expect_ok(repl_follow *f, const char *what, const char *line)
{
    if (strncmp(line, "+OK", 3) == 0)
        return 0;
    fprintf(stderr, "shale-server: primary %s:%d refused %s: %s\n", f->host, f->port, what, line);
    return -EPROTO;
}

static int handshake(repl_follow *f, int fd, sync_reader *rd, const link_conf *lc)
{
    char line[512];
    const char *ping[] = {"PING"};
    int rc = exchange(fd, rd, 1, ping, line, sizeof line);
    if (rc)
        return rc;
    if (line[0] == '-' && strncmp(line, "-NOAUTH", 7) != 0) {
        fprintf(stderr, "shale-server: primary %s:%d answered PING with %s\n", f->host, f->port,
                line);
        return -EPROTO;
    }
    if (lc->auth[0]) {
        const char *auth[] = {"AUTH", lc->user[0] ? lc->user : lc->auth, lc->auth};
        rc = exchange(fd, rd, lc->user[0] ? 3 : 2, auth, line, sizeof line);
        rc = rc ? rc : expect_ok(f, "AUTH", line);
        if (rc)
            return rc;
    }
    char port[32];
    snprintf(port, sizeof port, "%lld", lc->port);
    const char *lp[] = {"REPLCONF", "listening-port", port};
    rc = exchange(fd, rd, 3, lp, line, sizeof line);
    rc = rc ? rc : expect_ok(f, "REPLCONF listening-port", line);
    if (rc == 0 && lc->announce_ip[0]) {
        const char *ip[] = {"REPLCONF", "ip-address", lc->announce_ip};
        rc = exchange(fd, rd, 3, ip, line, sizeof line);
        rc = rc ? rc : expect_ok(f, "REPLCONF ip-address", line);
    }
    if (rc == 0) {
        const char *capa[] = {"REPLCONF", "capa", "shale"};
        rc = exchange(fd, rd, 3, capa, line, sizeof line);
        rc = rc ? rc : expect_ok(f, "REPLCONF capa shale", line);
    }
    return rc;
}

/* The files this store holds, for a full sync to keep (the seam lists them, without the
   lock: a file that goes meanwhile makes the sync fail with -ESTALE, and it is tried
   again). */
static int send_have(repl_follow *f, int fd, sync_reader *rd)
{
    char *cmd;
    size_t len;
    int rc = repl_fullsync_have(f->s, &cmd, &len);
    if (rc || !cmd)
        return rc;
    rc = sync_write(fd, cmd, len, HANDSHAKE_TIMEOUT_MS);
    free(cmd);
    char line[256];
    long got = rc ? rc : sync_read_line(rd, line, sizeof line, HANDSHAKE_TIMEOUT_MS);
    return got < 0 ? (int)got : expect_ok(f, "REPLCONF have", line);
}

/* The history the replica follows now is id (the primary's, after +CONTINUE or
   +FULLRESYNC): a new id remembers the one before up to the last sequence, as a
   replica of Redis keeps its former id as replid2, unless this store had no history of
   its own (fresh: nothing to remember). Lock held. */
static void adopt_replid(server *s, const char *id, bool fresh)
{
    repl_state *r = s->repl;
    if (strcmp(r->replid, id) == 0)
        return;
    if (fresh) {
        memset(r->replid2, '0', 40);
        r->second_offset = -1;
    } else {
        memcpy(r->replid2, r->replid, sizeof r->replid2);
        r->second_offset = (long long)shale_last_seq(s->db);
    }
    snprintf(r->replid, sizeof r->replid, "%s", id);
    int rc = repl_save_ids(s);
    if (rc)
        fprintf(stderr, "shale-server: cannot save the replication id: %s\n", shale_strerror(rc));
}

static void set_duties(server *s, bool replica);

/* PSYNC and its answer; 0 when the records follow. */
static int psync(repl_follow *f, int fd, sync_reader *rd, const link_conf *lc)
{
    char seq[32];
    f->fresh = lc->last_seq <= 1; /* a new store: only its own mapping record */
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)lc->last_seq);
    const char *argv[] = {"PSYNC", f->fresh ? "?" : lc->replid, f->fresh ? "-1" : seq};
    char line[512];
    int rc = exchange(fd, rd, 3, argv, line, sizeof line);
    if (rc)
        return rc;
    char id[64];
    unsigned long long at;
    if (sscanf(line, "+CONTINUE %63s", id) == 1 && strlen(id) == 40) {
        pthread_mutex_lock(&f->s->lock);
        adopt_replid(f->s, id, f->fresh);
        pthread_mutex_unlock(&f->s->lock);
        fprintf(stderr, "shale-server: partial sync with primary %s:%d from sequence %llu\n",
                f->host, f->port, (unsigned long long)lc->last_seq);
        return 0;
    }
    if (sscanf(line, "+FULLRESYNC %63s %llu", id, &at) == 2 && strlen(id) == 40) {
        set_state(f, LINK_SYNC);
        rc = repl_fullsync_receive(f->s, fd, rd, id, at);
        if (rc == 0) {
            script_lock_idle(f->s); /* (set_duties may empty fifo databases) */
            adopt_replid(f->s, id, true); /* the data was replaced whole */
            repl_backlog_reset(f->s->repl->backlog, at); /* its history starts there */
            set_duties(f->s, true); /* on the engine the swap opened */
            pthread_mutex_unlock(&f->s->lock);
            f->fresh = false;
        } else {
            fprintf(stderr, "shale-server: full sync from primary %s:%d failed: %s\n", f->host,
                    f->port, shale_strerror(rc));
        }
        return rc;
    }
    fprintf(stderr, "shale-server: primary %s:%d answered PSYNC with %s (trying again)\n",
            f->host, f->port, line);
    return -EPROTO;
}

/* ---- the stream ---- */

static int grow(repl_follow *f, size_t need)
{
    if (f->off && f->off == f->len)
        f->off = f->len = 0;
    if (f->cap - f->len >= need)
        return 0;
    if (f->off) { /* the applied bytes go first */
        memmove(f->buf, f->buf + f->off, f->len - f->off);
        f->len -= f->off;
        f->off = 0;
        if (f->cap - f->len >= need)
            return 0;
    }
    size_t cap = f->cap ? f->cap : 1 << 16;
    while (cap - f->len < need)
        cap *= 2;
    char *p = realloc(f->buf, cap);
    if (!p)
        return -ENOMEM;
    f->buf = p;
    f->cap = cap;
    return 0;
}

/* Reads what the primary sent, waiting up to ms. 1 read, 0 nothing yet, < 0 closed. */
static int read_some(repl_follow *f, int fd, int ms)
{
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int n = poll(&pf, 1, ms);
    if (n <= 0)
        return 0;
    int rc = grow(f, 1 << 16);
    if (rc)
        return rc;
    ssize_t got = recv(fd, f->buf + f->len, f->cap - f->len, 0);
    if (got == 0)
        return -ECONNRESET;
    if (got < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -errno;
    f->len += (size_t)got;
    __atomic_store_n(&f->last_io_ms, repl_now_ms(), __ATOMIC_RELEASE);
    return 1;
}

/* One parsed frame: a record (rep, len) or a ping (len 0). */
typedef struct frame {
    const char *rep;
    size_t len;
    size_t end; /* its end in f->buf */
} frame;

/* Parses the complete frames after f->off, up to the batch's limits. n or -EPROTO. */
static int parse_frames(repl_follow *f, frame *out, int cap)
{
    int n = 0;
    size_t at = f->off, bytes = 0;
    while (n < cap && bytes < APPLY_BATCH_BYTES && at < f->len) {
        size_t used;
        const char *err;
        int rc = resp_parse(f->buf + at, f->len - at, MAX_FRAME, &f->cmd, &used, &err);
        if (rc == 0)
            break;
        if (rc < 0)
            return -EPROTO;
        at += used;
        resp_arg *a = f->cmd.argv;
        if (f->cmd.argc == 2 && a[0].len == 3 && memcmp(a[0].p, "rec", 3) == 0 && a[1].len >= 12) {
            out[n] = (frame){a[1].p, a[1].len, at};
            bytes += a[1].len;
        } else {
            out[n] = (frame){NULL, 0, at}; /* a ping (or anything else: ignored) */
        }
        n++;
    }
    return n;
}

static uint64_t rep_last(const char *rep, size_t len)
{
    uint64_t first, last;
    return shale_batch_rep_range(rep, len, &first, &last) ? last : 0;
}

/* Applies the frames under the lock. The frames applied (f->off moves past them), or an
   error that drops the link. A write stall keeps the rest for the next try, and so does
   a busy script: it lends the lock to serve -BUSY, and a script is atomic on a replica
   too (its reads must not see a record land midway). */
static int apply_frames(repl_follow *f, const frame *fr, int n)
{
    server *s = f->s;
    int done = 0, rc = 0;
    pthread_mutex_lock(&s->lock);
    if (stopped(f)) { /* retired while it read: the node follows another history now */
        pthread_mutex_unlock(&s->lock);
        return -ECANCELED;
    }
    if (script_busy(s)) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    for (; done < n; done++) {
        if (!fr[done].rep)
            continue;
        __atomic_store_n(&f->read_seq, rep_last(fr[done].rep, fr[done].len), __ATOMIC_RELEASE);
        if (f->fresh && rep_last(fr[done].rep, fr[done].len) <= shale_last_seq(s->db))
            continue; /* the creation's mapping record, which this store has too */
        int changed = 0;
        rc = ks_apply_record(&s->ks, fr[done].rep, fr[done].len, &changed);
        if (rc)
            break;
        server_wrote(s);
        if (changed & KS_APPLIED_FUNCTIONS) {
            int frc = functions_reload(s);
            if (frc)
                fprintf(stderr, "shale-server: loading the function libraries the primary "
                                "wrote: %s\n", shale_strerror(frc));
        }
    }
    pthread_mutex_unlock(&s->lock);
    if (done)
        f->off = fr[done - 1].end;
    if (rc == SHALE_ESTALL)
        return done;
    if (rc) {
        fprintf(stderr, "shale-server: applying the primary's record failed (%s): the link is "
                        "dropped and resumes from sequence %llu\n",
                shale_strerror(rc), (unsigned long long)shale_last_seq(s->db));
        return rc;
    }
    return done;
}

/* Acknowledges what it applied. First that reaches the kernel (a crash of this process
   keeps it) or, with sync-writes yes, the disk: one sync for every record applied since
   the last ack, the replica's group commit, so that WAIT's count means durable copies. */
static int send_ack(repl_follow *f, int fd, bool sync)
{
    server *s = f->s;
    uint64_t wgen = __atomic_load_n(&s->wgen, __ATOMIC_ACQUIRE);
    int rc = sync ? ks_engines_sync(&s->ks) : ks_engines_flush_wal(&s->ks);
    if (rc) {
        fprintf(stderr, "shale-server: %s the applied records failed (%s): not acknowledged\n",
                sync ? "syncing" : "writing", shale_strerror(rc));
        return rc;
    }
    server_raise_gen(&s->flushed_gen, wgen);
    if (sync)
        server_raise_gen(&s->synced_gen, wgen);
    char seq[32];
    snprintf(seq, sizeof seq, "%llu", (unsigned long long)shale_last_seq(f->s->db));
    const char *argv[] = {"REPLCONF", "ACK", seq};
    return send_command(fd, 3, argv);
}

static int stream(repl_follow *f, int fd, long long timeout_ms, bool sync)
{
    frame fr[APPLY_BATCH];
    uint64_t last_ack = 0;
    __atomic_store_n(&f->last_io_ms, repl_now_ms(), __ATOMIC_RELEASE);
    while (!stopped(f)) {
        int n = parse_frames(f, fr, APPLY_BATCH);
        if (n < 0)
            return n;
        int applied = n ? apply_frames(f, fr, n) : 0;
        if (applied < 0)
            return applied;
        bool more = f->off < f->len && applied == n && n > 0;
        uint64_t now = repl_now_ms();
        if ((applied > 0 && !more) || now - last_ack >= ACK_MS) {
            int rc = send_ack(f, fd, sync);
            if (rc)
                return rc;
            last_ack = now;
        }
        if (more)
            continue;
        int rc = read_some(f, fd, applied < n ? 10 : 100); /* (a stall: try again soon) */
        if (rc < 0)
            return rc;
        if (repl_now_ms() - __atomic_load_n(&f->last_io_ms, __ATOMIC_ACQUIRE) > (uint64_t)timeout_ms) {
            fprintf(stderr, "shale-server: primary %s:%d silent for %lld s: the link is dropped\n",
                    f->host, f->port, timeout_ms / 1000);
            return -ETIMEDOUT;
        }
    }
    return -ECANCELED;
}

/* ---- the thread ---- */

static void read_conf(repl_follow *f, link_conf *lc)
{
    server *s = f->s;
    pthread_mutex_lock(&s->lock);
    snprintf(lc->auth, sizeof lc->auth, "%s", s->cfg.masterauth);
    snprintf(lc->user, sizeof lc->user, "%s", s->cfg.masteruser);
    snprintf(lc->announce_ip, sizeof lc->announce_ip, "%s", s->cfg.replica_announce_ip);
    lc->port = s->cfg.replica_announce_port ? s->cfg.replica_announce_port : s->cfg.port;
    lc->timeout_ms = s->cfg.repl_timeout * 1000;
    lc->sync = s->cfg.sync_writes;
    snprintf(lc->replid, sizeof lc->replid, "%s", s->repl->replid);
    lc->last_seq = shale_last_seq(s->db);
    pthread_mutex_unlock(&s->lock);
}

/* The link is up: what CLIENT LIST shows of it (a client id of its own, as Redis's
   master client has), then its state. */
static void show_link(repl_follow *f, int fd)
{
    server *s = f->s;
    pthread_mutex_lock(&s->lock);
    f->id = ++s->next_client_id;
    sync_format_addr(fd, true, f->addr, sizeof f->addr);
    sync_format_addr(fd, false, f->laddr, sizeof f->laddr);
    f->up_ms = repl_now_ms();
    set_state(f, LINK_CONNECTED);
    pthread_mutex_unlock(&s->lock);
}

/* One connection: handshake, PSYNC, the stream until it fails. Whether it was up. */
static bool run_link(repl_follow *f)
{
    link_conf lc;
    read_conf(f, &lc);
    set_state(f, LINK_CONNECTING);
    int fd;
    int rc = sync_connect(f->host, f->port, HANDSHAKE_TIMEOUT_MS, &fd);
    if (rc)
        return false;
    __atomic_store_n(&f->fd, fd, __ATOMIC_RELEASE);
    if (stopped(f)) /* (stop may have missed the descriptor) */
        shutdown(fd, SHUT_RDWR);
    set_state(f, LINK_HANDSHAKE);
    sync_reader rd = {.fd = fd};
    rc = handshake(f, fd, &rd, &lc);
    rc = rc ? rc : send_have(f, fd, &rd);
    rc = rc ? rc : psync(f, fd, &rd, &lc);
    bool up = rc == 0;
    if (up) {
        show_link(f, fd);
        f->off = f->len = 0;
        if (rd.len > rd.off && grow(f, rd.len - rd.off) == 0) { /* records read with the line */
            memcpy(f->buf, rd.buf + rd.off, rd.len - rd.off);
            f->len = rd.len - rd.off;
        }
        fprintf(stderr, "shale-server: replicating primary %s:%d\n", f->host, f->port);
        stream(f, fd, lc.timeout_ms, lc.sync);
    }
    pthread_mutex_lock(&f->s->lock);
    set_state(f, LINK_CONNECT);
    __atomic_store_n(&f->fd, -1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&f->s->lock);
    close(fd);
    if (up && !stopped(f)) {
        __atomic_store_n(&f->s->repl->down_since_ms, repl_now_ms(), __ATOMIC_RELEASE);
        fprintf(stderr, "shale-server: lost the link to primary %s:%d\n", f->host, f->port);
    }
    return up;
}

static void *follow_main(void *arg)
{
    repl_follow *f = arg;
    int backoff = BACKOFF_MIN_MS;
    while (!stopped(f)) {
        if (run_link(f))
            backoff = BACKOFF_MIN_MS;
        for (int waited = 0; waited < backoff && !stopped(f); waited += 50)
            usleep(50 * 1000);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
}

/* ---- what commands see ---- */

bool repl_is_replica(const server *s)
{
    return s->repl && s->repl->replica;
}

/* Asks the current link's thread to end (joined at shutdown). Lock held. */
static void retire(server *s)
{
    repl_state *r = s->repl;
    repl_follow *f = r->follow;
    if (!f)
        return;
    __atomic_store_n(&f->stop, 1, __ATOMIC_RELEASE);
    int fd = __atomic_load_n(&f->fd, __ATOMIC_ACQUIRE);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    f->next = r->retired;
    r->retired = f;
    r->follow = NULL;
}

/* The node's own duties that a replica leaves to its primary (expiry, sweeping, eviction,
   value-log GC's rewrites): off on a replica, on on a primary. A node that becomes a
   replica also empties its fifo databases: no record of its primary reaches them, and
   a copy kept would serve values the primary overwrites or deletes (docs/server.md). */
static void set_duties(server *s, bool replica)
{
    s->ks.replica = replica;
    int rc = shale_set_option(s->db, "vlog_gc_rewrite", replica ? "0" : "1");
    if (rc)
        fprintf(stderr, "shale-server: setting value-log GC to %s: %s\n",
                replica ? "reclaim only" : "rewrite", shale_strerror(rc));
    if (replica && s->ks.nfifo) {
        rc = ks_fifo_empty_all(&s->ks);
        fprintf(stderr, "shale-server: a replica: its %d fifo database%s emptied%s%s\n",
                s->ks.nfifo, s->ks.nfifo == 1 ? "" : "s", rc ? ", with an error: " : "",
                rc ? shale_strerror(rc) : "");
    }
}

bool repl_following(const server *s, const char *host, int port)
{
    return s->repl->replica && s->repl->master_port == port &&
           strcasecmp(s->repl->master_host, host) == 0;
}

int repl_replica_follow(server *s, const char *host, int port)
{
    repl_follow *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    f->s = s;
    f->fd = -1;
    snprintf(f->host, sizeof f->host, "%s", host);
    f->port = port;
    repl_state *r = s->repl;
    bool was_replica = r->replica;
    retire(s);
    if (pthread_create(&f->thread, NULL, follow_main, f)) {
        free(f);
        return -ENOMEM; /* (a former link stays retired: REPLICAOF again) */
    }
    r->follow = f;
    r->replica = true;
    snprintf(r->master_host, sizeof r->master_host, "%s", host);
    r->master_port = port;
    if (!was_replica) {
        r->down_since_ms = 0;
        set_duties(s, true);
    }
    repl_primary_drop_all(s); /* its replicas connect again, to the new history */
    snprintf(s->cfg.replicaof, sizeof s->cfg.replicaof, "%s %d", host, port);
    fprintf(stderr, "shale-server: replicating %s:%d from now on\n", host, port);
    return 0;
}

void repl_replica_promote(server *s)
{
    repl_state *r = s->repl;
    if (!r->replica)
        return;
    retire(s);
    r->replica = false;
    memcpy(r->replid2, r->replid, sizeof r->replid2);
    r->second_offset = (long long)shale_last_seq(s->db);
    repl_random_hex(r->replid);
    int rc = repl_save_ids(s);
    if (rc)
        fprintf(stderr, "shale-server: cannot save the replication id: %s\n", shale_strerror(rc));
    set_duties(s, false);
    s->cfg.replicaof[0] = '\0';
    repl_primary_drop_all(s); /* they continue with the new id (replid2 names the old) */
    fprintf(stderr, "shale-server: a primary now (REPLICAOF NO ONE), history %s continues %s "
                    "after sequence %lld\n",
            r->replid, r->replid2, r->second_offset);
}

bool repl_replica_link_up(server *s)
{
    repl_follow *f = s->repl->follow;
    return f && __atomic_load_n(&f->state, __ATOMIC_ACQUIRE) == LINK_CONNECTED;
}

long long repl_replica_visit(server *s, repl_peer_fn fn, void *arg)
{
    repl_follow *f = s->repl->follow;
    if (!repl_replica_link_up(s))
        return 0;
    /* (the lock keeps the link's fields and descriptor: run_link changes them under it) */
    repl_peer p = {.id = f->id,
                   .addr = f->addr,
                   .laddr = f->laddr,
                   .fd = __atomic_load_n(&f->fd, __ATOMIC_ACQUIRE),
                   .created_ms = f->up_ms,
                   .last_ms = __atomic_load_n(&f->last_io_ms, __ATOMIC_ACQUIRE),
                   .master = true};
    if (!fn(&p, arg))
        return 0;
    shutdown(p.fd, SHUT_RDWR); /* not retired: the thread connects again */
    return 1;
}

void repl_replica_info(server *s, resp_out *o)
{
    repl_state *r = s->repl;
    repl_follow *f = r->follow;
    bool up = repl_replica_link_up(s);
    uint64_t now = repl_now_ms();
    uint64_t io = f ? __atomic_load_n(&f->last_io_ms, __ATOMIC_ACQUIRE) : 0;
    int state = f ? __atomic_load_n(&f->state, __ATOMIC_ACQUIRE) : LINK_CONNECT;
    uint64_t read = f ? __atomic_load_n(&f->read_seq, __ATOMIC_ACQUIRE) : 0;
    uint64_t applied = shale_last_seq(s->db);
    server_out_printf(o,
                      "role:slave\r\nmaster_host:%s\r\nmaster_port:%d\r\n"
                      "master_link_status:%s\r\nmaster_last_io_seconds_ago:%lld\r\n"
                      "master_sync_in_progress:%d\r\nslave_read_repl_offset:%llu\r\n"
                      "slave_repl_offset:%llu\r\n",
                      r->master_host, r->master_port, up ? "up" : "down",
                      up ? (long long)((now - io) / 1000) : -1LL, state == LINK_SYNC,
                      (unsigned long long)(read > applied ? read : applied),
                      (unsigned long long)applied);
    if (!up) {
        uint64_t since = __atomic_load_n(&r->down_since_ms, __ATOMIC_ACQUIRE);
        server_out_printf(o, "master_link_down_since_seconds:%lld\r\n",
                          since ? (long long)((now - since) / 1000) : -1LL);
    }
    server_out_printf(o, "slave_priority:%lld\r\nslave_read_only:1\r\nreplica_announced:%d\r\n",
                      s->cfg.replica_priority, s->cfg.replica_announced ? 1 : 0);
}

void repl_replica_role(server *s, resp_out *o)
{
    repl_state *r = s->repl;
    repl_follow *f = r->follow;
    int state = f ? __atomic_load_n(&f->state, __ATOMIC_ACQUIRE) : LINK_CONNECT;
    resp_array(o, 5);
    resp_bulk_cstr(o, "slave");
    resp_bulk_cstr(o, r->master_host);
    resp_integer(o, r->master_port);
    resp_bulk_cstr(o, link_state_names[state]);
    resp_integer(o, state == LINK_CONNECTED ? (long long)shale_last_seq(s->db) : -1);
}

void repl_replica_stop(server *s)
{
    repl_state *r = s->repl;
    if (!r)
        return;
    pthread_mutex_lock(&s->lock);
    retire(s);
    repl_follow *list = r->retired;
    r->retired = NULL;
    pthread_mutex_unlock(&s->lock);
    while (list) {
        repl_follow *f = list;
        list = f->next;
        pthread_join(f->thread, NULL);
        free(f->buf);
        resp_cmd_free(&f->cmd);
        free(f);
    }
}
