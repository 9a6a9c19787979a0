/* repl.c - the replication state a client sees (repl.h). */
#include "repl.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/random.h>

#include "keyspace.h"
#include "repl_failover.h"
#include "repl_internal.h"
#include "repl_primary.h"
#include "repl_replica.h"
#include "resp.h"


/* 40 random hex digits (Redis's getRandomHexChars; /dev/urandom through getrandom). */
void repl_random_hex(char out[41])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char raw[20];
    size_t got = 0;
    while (got < sizeof raw) {
        ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
        if (n > 0)
            got += (size_t)n;
        else if (n < 0 && errno != EINTR)
            break;
    }
    for (; got < sizeof raw; got++) /* no entropy source: still distinct per process */
        raw[got] = (unsigned char)(rand() ^ (int)got);
    for (size_t i = 0; i < sizeof raw; i++) {
        out[2 * i] = digits[raw[i] >> 4];
        out[2 * i + 1] = digits[raw[i] & 15];
    }
    out[40] = '\0';
}

uint64_t repl_now_ms(void)
{
    return ks_now_ms();
}

int repl_init(server *s)
{
    repl_state *r = calloc(1, sizeof *r);
    if (!r)
        return -ENOMEM;
    repl_random_hex(r->run_id);
    repl_random_hex(r->replid);
    memset(r->replid2, '0', 40);
    r->replid2[40] = '\0';
    r->second_offset = -1;
    r->backlog = repl_backlog_new(s->cfg.repl_backlog_size);
    s->repl = r;
    if (!r->backlog || repl_primary_init(s)) {
        repl_free(s);
        return -ENOMEM;
    }
    return 0;
}

void repl_free(server *s)
{
    if (!s->repl)
        return;
    repl_failover_stop(s);
    repl_primary_free(s);
    repl_backlog_free(s->repl->backlog);
    free(s->repl);
    s->repl = NULL;
}

void repl_config_changed(server *s)
{
    repl_backlog_set_limit(s->repl->backlog, s->cfg.repl_backlog_size);
}

bool repl_can_serve_replicas(server *s)
{
    return !repl_is_replica(s) || repl_replica_link_up(s);
}

long long repl_peers_visit(server *s, repl_peer_fn fn, void *arg)
{
    if (!s->repl)
        return 0; /* (a server without replication: unit tests) */
    return repl_replica_visit(s, fn, arg) + repl_primary_visit(s, fn, arg);
}

/* ---- the ids on disk: dir/repl-id ---- */

static void ids_path(const server *s, char *path, size_t cap, bool tmp)
{
    snprintf(path, cap, "%s/repl-id%s", s->cfg.dir, tmp ? ".tmp" : "");
}

static int sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) ? -errno : 0;
    close(fd);
    return rc;
}

int repl_save_ids(server *s)
{
    repl_state *r = s->repl;
    char path[4200], tmp[4200], line[160];
    ids_path(s, path, sizeof path, false);
    ids_path(s, tmp, sizeof tmp, true);
    int n = snprintf(line, sizeof line, "%s %s %lld\n", r->replid, r->replid2, r->second_offset);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = write(fd, line, (size_t)n) == n ? 0 : -EIO;
    if (rc == 0 && fsync(fd))
        rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path))
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    return sync_dir(s->cfg.dir);
}

static bool hex40(const char *p)
{
    if (strlen(p) != 40)
        return false;
    for (; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
    return true;
}

int repl_load_ids(server *s)
{
    repl_state *r = s->repl;
    char path[4200], a[64], b[64];
    long long off;
    ids_path(s, path, sizeof path, false);
    FILE *f = fopen(path, "r");
    if (!f)
        return errno == ENOENT ? repl_save_ids(s) : -errno;
    int got = fscanf(f, "%63s %63s %lld", a, b, &off);
    fclose(f);
    if (got != 3 || !hex40(a) || !hex40(b)) {
        fprintf(stderr, "shale-server: %s is damaged: a new replication history starts\n", path);
        return repl_save_ids(s);
    }
    memcpy(r->replid, a, 41);
    memcpy(r->replid2, b, 41);
    r->second_offset = off;
    if (s->cfg.replicaof[0])
        return 0; /* a replica's store is a prefix of its primary's history: it goes on */
    /* A primary starts a new history that continues the old one up to what its store
       holds now: a replica ahead of that (records this store lost to a power cut with
       sync-writes no, or an older copy of the directory put back) is then fully
       resynced instead of continuing on top of records the primary no longer has. */
    memcpy(r->replid2, r->replid, 41);
    r->second_offset = (long long)shale_last_seq(s->ks.db);
    repl_random_hex(r->replid);
    return repl_save_ids(s);
}

repl_backlog *repl_backlog_of(server *s)
{
    return s->repl->backlog;
}

const char *repl_replid(const server *s)
{
    return s->repl->replid;
}

/* Whether (replid, seq) names a point of this node's history: its own id, or the id it
   continues up to where that one ended here. */
static bool in_history(const repl_state *r, const char *replid, long long seq)
{
    if (strcmp(replid, r->replid) == 0)
        return true;
    return r->second_offset >= 0 && strcmp(replid, r->replid2) == 0 && seq <= r->second_offset;
}

bool repl_psync_continues(server *s, const char *replid, long long seq)
{
    repl_state *r = s->repl;
    uint64_t last = repl_offset(s);
    if (strcmp(replid, "?") == 0) /* an empty replica: continues a primary from its start */
        return seq <= 0 && repl_backlog_can_continue(r->backlog, 0, last);
    if (seq < 0 || (uint64_t)seq > last || !in_history(r, replid, seq))
        return false;
    return repl_backlog_can_continue(r->backlog, (uint64_t)seq, last);
}

const char *repl_run_id(const server *s)
{
    return s->repl->run_id;
}

uint64_t repl_offset(server *s)
{
    return shale_last_seq(s->ks.db);
}

static bool min_replicas_on(const server *s)
{
    return s->cfg.min_replicas_to_write > 0 && s->cfg.min_replicas_max_lag > 0;
}

bool repl_enough_good_replicas(server *s)
{
    if (!min_replicas_on(s))
        return true;
    s->repl->good_replicas = repl_count_good(s, s->cfg.min_replicas_max_lag);
    return s->repl->good_replicas >= s->cfg.min_replicas_to_write;
}

void repl_info(server *s, resp_out *o)
{
    repl_state *r = s->repl;
    server_out_printf(o, "# Replication\r\n");
    if (r->replica)
        repl_replica_info(s, o);
    else
        server_out_printf(o, "role:master\r\n");
    server_out_printf(o, "connected_slaves:%d\r\n", repl_count_replicas(s));
    if (min_replicas_on(s)) {
        r->good_replicas = repl_count_good(s, s->cfg.min_replicas_max_lag);
        server_out_printf(o, "min_slaves_good_slaves:%d\r\n", r->good_replicas);
    }
    repl_primary_info(s, o);
    uint64_t n, first, bytes, last = repl_offset(s);
    repl_backlog_stats(r->backlog, &n, &first, &bytes);
    /* the backlog always collects (a replica's too); an empty one starts after the last
       sequence, as Redis's starts at master_repl_offset + 1 */
    server_out_printf(o,
                      "master_failover_state:%s\r\nmaster_replid:%s\r\n"
                      "master_replid2:%s\r\nmaster_repl_offset:%llu\r\n"
                      "second_repl_offset:%lld\r\nrepl_backlog_active:1\r\n"
                      "repl_backlog_size:%llu\r\nrepl_backlog_first_byte_offset:%llu\r\n"
                      "repl_backlog_histlen:%llu\r\n\r\n",
                      repl_failover_state(s), r->replid, r->replid2, (unsigned long long)last, r->second_offset,
                      (unsigned long long)s->cfg.repl_backlog_size,
                      (unsigned long long)(n ? first : last + 1), (unsigned long long)bytes);
}

void repl_role(server *s, client *c)
{
    if (s->repl->replica) {
        repl_replica_role(s, &c->out);
        return;
    }
    resp_array(&c->out, 3);
    resp_bulk_cstr(&c->out, "master");
    resp_integer(&c->out, (long long)repl_offset(s));
    repl_primary_role(s, &c->out);
}
