/* repl_primary.c - a primary's replicas and their sender threads (repl_primary.h). */
#include "repl_primary.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "args.h"
#include "blocking.h"
#include "repl_fullsync.h"
#include "repl_internal.h"
#include "resp.h"

/* A silent link gets a ping after this long (docs/server.md, the link). */
#define PING_MS 1000
/* A replica's input is read at least this often while records are sent (ms). */
#define READ_MS 10
/* Records gathered into one send, at most. */
#define SEND_CHUNK (1u << 20)
/* Records taken from the backlog under one lock, at most. */
#define SEND_BATCH 256
/* A sender that just sent waits this long before it looks again (us), so that the
   records of the commits meanwhile go in one send: under load, a wake-up and a send per
   commit and replica would cost the primary's CPU more than the sends themselves. A
   sender that found nothing waits on the backlog's wake-up instead, so that a write
   after a quiet time (a WAIT's) goes out at once. */
#define COALESCE_US 1000
/* The replica's input kept at most (acks are a few dozen bytes each). */
#define INPUT_MAX (1u << 20)

enum { STATE_SEND_BULK = 1, STATE_ONLINE = 2 };

typedef struct replica {
    server *s;
    repl_backlog *backlog;
    int fd;
    repl_waiter wait; /* its eventfd: the tap's wake-up while it waits in poll */
    repl_link *link;
    char ip[256];
    long long port;
    /* the client it was, as CLIENT LIST shows it (repl_primary_visit) */
    uint64_t id;
    char addr[64], laddr[64];
    uint64_t created_ms;
    long long timeout_ms; /* repl-timeout when it connected */
    char *prefix;         /* replies of its client not yet sent when it was handed over */
    size_t prefix_len;
    char *in; /* input not yet parsed */
    size_t in_len, in_cap;
    resp_cmd cmd;
    uint64_t pos;          /* the last sequence sent */
    bool holding;          /* its full sync holds the backlog until it has caught up */
    uint64_t last_input_ms; /* atomic (CLIENT LIST's idle) */
    int acked;       /* atomic: an ack came (CLIENT LIST's cmd: replconf, else psync) */
    uint64_t ack;    /* atomic: the last sequence it acknowledged */
    uint64_t ack_ms; /* atomic: when (Unix ms) */
    int state;       /* atomic: 0 before its sync starts */
    int stop;        /* atomic: asked to end */
    int done;        /* atomic: the thread ended (it joins in reap) */
    pthread_t thread;
    struct replica *next;
} replica;

struct repl_replicas {
    pthread_mutex_t mu;
    replica *list; /* newest last, as Redis lists its slaves */
};

/* ---- REPLCONF's state ---- */

repl_link *repl_link_of(client *c)
{
    if (!c->repl_link)
        c->repl_link = calloc(1, sizeof *c->repl_link);
    return c->repl_link;
}

void repl_link_free(repl_link *l)
{
    if (!l)
        return;
    repl_files_free(&l->have);
    free(l);
}

/* ---- the registry ---- */

int repl_primary_init(server *s)
{
    struct repl_replicas *rs = calloc(1, sizeof *rs);
    if (!rs)
        return -ENOMEM;
    pthread_mutex_init(&rs->mu, NULL);
    s->repl->replicas = rs;
    return 0;
}

static void replica_free(replica *r)
{
    if (r->fd >= 0)
        close(r->fd);
    if (r->wait.fd >= 0)
        close(r->wait.fd);
    repl_link_free(r->link);
    free(r->prefix);
    free(r->in);
    resp_cmd_free(&r->cmd);
    free(r);
}

/* Joins and frees the replicas whose thread ended. rs->mu held. */
static void reap(struct repl_replicas *rs)
{
    for (replica **p = &rs->list; *p;) {
        replica *r = *p;
        if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE)) {
            *p = r->next;
            pthread_join(r->thread, NULL);
            replica_free(r);
        } else {
            p = &r->next;
        }
    }
}

/* Asks r's thread to end: its socket is shut down (its wait is woken by the caller,
   repl_backlog_wake). rs->mu held. */
static void stop_one(replica *r)
{
    __atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
    shutdown(r->fd, SHUT_RDWR);
}

/* Asks every replica's thread to end. */
static void stop_all(server *s)
{
    struct repl_replicas *rs = s->repl->replicas;
    pthread_mutex_lock(&rs->mu);
    for (replica *r = rs->list; r; r = r->next)
        stop_one(r);
    pthread_mutex_unlock(&rs->mu);
    repl_backlog_wake(s->repl->backlog);
}

void repl_primary_drop_all(server *s)
{
    stop_all(s);
}

void repl_primary_free(server *s)
{
    struct repl_replicas *rs = s->repl ? s->repl->replicas : NULL;
    if (!rs)
        return;
    stop_all(s);
    pthread_mutex_lock(&rs->mu);
    while (rs->list) {
        replica *r = rs->list;
        rs->list = r->next;
        pthread_join(r->thread, NULL);
        replica_free(r);
    }
    pthread_mutex_unlock(&rs->mu);
    pthread_mutex_destroy(&rs->mu);
    free(rs);
    s->repl->replicas = NULL;
}

/* ---- the link: writing ---- */

/* Reads what the replica sent (its acks); false when it closed or failed. */
static bool read_input(replica *r);

/* Writes all n bytes; while the socket is full, reads the replica's acks (it must not
   block on a full socket of its own). False when the link failed, the replica stopped
   reading for repl-timeout, or the thread is asked to stop. */
static bool send_all(replica *r, const char *p, size_t n)
{
    uint64_t progress_ms = repl_now_ms();
    while (n) {
        if (__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
            return false;
        ssize_t w = send(r->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            progress_ms = repl_now_ms();
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            return false;
        if (repl_now_ms() - progress_ms > (uint64_t)r->timeout_ms)
            return false;
        if (!repl_backlog_holds_after(r->backlog, r->pos)) {
            /* what it lacks after this send is gone: better now than after the send */
            fprintf(stderr, "shale-server: replica %s:%lld fell out of the backlog after "
                            "sequence %llu: dropped (it syncs again)\n",
                    r->ip, r->port, (unsigned long long)r->pos);
            return false;
        }
        struct pollfd pf = {.fd = r->fd, .events = POLLOUT | POLLIN};
        if (poll(&pf, 1, PING_MS) > 0 && (pf.revents & POLLIN) && !read_input(r))
            return false;
    }
    return true;
}

/* Appends `*2 $3 rec $<len> <batch>` for rec to out. -ENOMEM. */
static int frame_record(resp_out *o, const repl_record *rec)
{
    resp_array(o, 2);
    resp_bulk(o, "rec", 3);
    resp_bulk(o, rec->rep, rec->len);
    return o->err;
}

/* Sends the records after r->pos the backlog holds now, gathered into sends of up to
   SEND_CHUNK bytes. 1 when it sent any, 0 when there were none, -1 when the link failed
   or the replica fell out of the backlog. */
static int send_records(replica *r, resp_out *o)
{
    int sent = 0;
    for (;;) {
        o->len = 0;
        repl_record *recs[SEND_BATCH];
        int n = repl_backlog_next(r->backlog, r->pos, recs, SEND_BATCH, SEND_CHUNK);
        if (n < 0) {
            fprintf(stderr, "shale-server: replica %s:%lld fell out of the backlog after "
                            "sequence %llu: dropped (it syncs again)\n",
                    r->ip, r->port, (unsigned long long)r->pos);
            return -1;
        }
        int frc = 0;
        for (int i = 0; i < n; i++) {
            frc = frc ? frc : frame_record(o, recs[i]);
            if (!frc)
                r->pos = recs[i]->last;
            repl_record_unref(recs[i]);
        }
        if (frc)
            return -1;
        if (o->len == 0)
            return sent;
        if (!send_all(r, o->data, o->len))
            return -1;
        sent = 1;
    }
}

/* ---- the link: reading acks ---- */

static void on_ack(replica *r, uint64_t seq)
{
    __atomic_store_n(&r->acked, 1, __ATOMIC_RELAXED);
    uint64_t old = __atomic_load_n(&r->ack, __ATOMIC_ACQUIRE);
    if (seq > old)
        __atomic_store_n(&r->ack, seq, __ATOMIC_RELEASE);
    __atomic_store_n(&r->ack_ms, repl_now_ms(), __ATOMIC_RELEASE);
    if (seq > old)
        blocking_acks_changed(r->s); /* WAIT's waiters look again */
}

/* Handles one command from the replica: REPLCONF ACK <seq>; others are ignored (a
   replica sends nothing else on the link). */
static void on_command(replica *r)
{
    resp_arg *a = r->cmd.argv;
    long long seq;
    if (r->cmd.argc >= 3 && arg_is(&a[0], "replconf") && arg_is(&a[1], "ack") &&
        arg_ll(&a[2], &seq) && seq >= 0)
        on_ack(r, (uint64_t)seq);
}

/* Runs the complete commands of the input; false on a protocol error. */
static bool parse_input(replica *r)
{
    size_t off = 0;
    while (off < r->in_len) {
        size_t used;
        const char *err;
        int rc = resp_parse(r->in + off, r->in_len - off, 1 << 20, &r->cmd, &used, &err);
        if (rc == 0)
            break;
        if (rc < 0)
            return false;
        off += used;
        on_command(r);
    }
    memmove(r->in, r->in + off, r->in_len - off);
    r->in_len -= off;
    return true;
}

static bool take_input(replica *r, const char *p, size_t n)
{
    if (r->in_cap - r->in_len < n) {
        size_t cap = r->in_cap ? r->in_cap : 4096;
        while (cap - r->in_len < n)
            cap *= 2;
        if (cap > INPUT_MAX)
            return false;
        char *in = realloc(r->in, cap);
        if (!in)
            return false;
        r->in = in;
        r->in_cap = cap;
    }
    memcpy(r->in + r->in_len, p, n);
    r->in_len += n;
    __atomic_store_n(&r->last_input_ms, repl_now_ms(), __ATOMIC_RELAXED);
    return parse_input(r);
}

static bool read_input(replica *r)
{
    for (;;) {
        char buf[4096];
        ssize_t n = recv(r->fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            if (!take_input(r, buf, (size_t)n))
                return false;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

/* ---- the sender thread ---- */

/* Empties the wake-up counter (nonblocking: one already read is fine). */
static void drain_wakeups(replica *r)
{
    uint64_t drained;
    ssize_t n = read(r->wait.fd, &drained, sizeof drained);
    (void)n;
}

/* Waits until a record comes, the replica writes, or the ping is due. Whether the
   replica wrote (its input is to be read). */
static bool wait_for_work(replica *r, uint64_t last_send_ms)
{
    uint64_t now = repl_now_ms();
    int ms = now - last_send_ms >= PING_MS ? 0 : (int)(PING_MS - (now - last_send_ms));
    if (ms == 0 || !repl_backlog_arm(r->backlog, r->pos, &r->wait))
        return false;
    struct pollfd pf[2] = {{.fd = r->fd, .events = POLLIN}, {.fd = r->wait.fd, .events = POLLIN}};
    poll(pf, 2, ms);
    repl_backlog_disarm(r->backlog, &r->wait);
    if (pf[1].revents & POLLIN)
        drain_wakeups(r);
    return pf[0].revents != 0;
}

/* The pause after a send, while the next records gather: COALESCE_US, or less when
   repl_primary_hurry woke it (a WAIT waits). */
static void gather(replica *r)
{
    struct pollfd pf = {.fd = r->wait.fd, .events = POLLIN};
    struct timespec nap = {0, COALESCE_US * 1000L};
    if (ppoll(&pf, 1, &nap, NULL) > 0)
        drain_wakeups(r);
}

/* Starts the stream: +CONTINUE, or the full sync (the seam). False when it failed. */
static bool start_stream(replica *r)
{
    if (r->prefix_len && !send_all(r, r->prefix, r->prefix_len))
        return false;
    if (r->link->full) {
        __atomic_store_n(&r->state, STATE_SEND_BULK, __ATOMIC_RELEASE);
        uint64_t seq = 0;
        int rc = repl_fullsync_send(r->s, r->fd, r->link, &seq);
        if (rc) {
            const char *why = shale_strerror(rc);
            char msg[256];
            int n = snprintf(msg, sizeof msg, "-ERR full sync failed: %s\r\n", why);
            fprintf(stderr, "shale-server: replica %s:%lld needs a full sync, which failed: %s\n",
                    r->ip, r->port, why);
            send_all(r, msg, (size_t)n);
            return false;
        }
        r->pos = seq;
        r->holding = true;
    } else {
        char line[64];
        int n = snprintf(line, sizeof line, "+CONTINUE %s\r\n", r->link->replid);
        if (!send_all(r, line, (size_t)n))
            return false;
        r->pos = r->link->start;
    }
    __atomic_store_n(&r->ack, r->pos, __ATOMIC_RELEASE);
    __atomic_store_n(&r->ack_ms, repl_now_ms(), __ATOMIC_RELEASE);
    __atomic_store_n(&r->state, STATE_ONLINE, __ATOMIC_RELEASE);
    return true;
}

static void *sender_main(void *arg)
{
    replica *r = arg;
    resp_out o = {0};
    __atomic_store_n(&r->last_input_ms, repl_now_ms(), __ATOMIC_RELAXED);
    bool ok = start_stream(r) && (r->in_len == 0 || parse_input(r));
    if (ok)
        fprintf(stderr, "shale-server: replica %s:%lld online from sequence %llu\n", r->ip,
                r->port, (unsigned long long)r->pos);
    uint64_t last_send_ms = repl_now_ms(), last_read_ms = 0;
    bool readable = true;
    while (ok && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
        /* its input when poll said so, and while records keep it from polling, every
           READ_MS (a read that finds nothing is a system call per record saved) */
        if (readable || repl_now_ms() - last_read_ms >= READ_MS) {
            if (!read_input(r))
                break;
            last_read_ms = repl_now_ms();
            readable = false;
        }
        if (repl_now_ms() - __atomic_load_n(&r->last_input_ms, __ATOMIC_RELAXED) >
            (uint64_t)r->timeout_ms) {
            fprintf(stderr, "shale-server: replica %s:%lld silent for %lld s: dropped\n",
                    r->ip, r->port, r->timeout_ms / 1000);
            break;
        }
        int rc = send_records(r, &o);
        if (rc < 0)
            break;
        if (rc == 0 && r->holding) { /* caught up since its full sync */
            repl_backlog_release(r->backlog);
            r->holding = false;
        }
        uint64_t now = repl_now_ms();
        if (rc > 0) {
            last_send_ms = now;
            gather(r);
            readable = true; /* (the acks to what it sent came meanwhile) */
            continue;
        }
        if (now - last_send_ms >= PING_MS) {
            static const char ping[] = "*1\r\n$4\r\nping\r\n";
            if (!send_all(r, ping, sizeof ping - 1))
                break;
            last_send_ms = now;
        }
        readable = wait_for_work(r, last_send_ms);
    }
    resp_out_free(&o);
    if (r->holding)
        repl_backlog_release(r->backlog);
    shutdown(r->fd, SHUT_RDWR);
    __atomic_store_n(&r->state, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    blocking_acks_changed(r->s); /* (a WAIT counts one replica fewer) */
    return NULL;
}

/* The replica's address for INFO: REPLCONF ip-address, else the peer's (addr "ip:port"). */
static void replica_ip(replica *r, const char *addr)
{
    if (r->link->ip[0]) {
        snprintf(r->ip, sizeof r->ip, "%s", r->link->ip);
        return;
    }
    snprintf(r->ip, sizeof r->ip, "%s", addr);
    char *colon = strrchr(r->ip, ':');
    if (colon)
        *colon = '\0';
}

static bool copy_bytes(char **dst, const char *src, size_t n)
{
    if (!n)
        return true;
    *dst = malloc(n);
    if (*dst)
        memcpy(*dst, src, n);
    return *dst != NULL;
}

/* Who the replica was as a client (CLIENT LIST). */
static void take_identity(replica *r, const client *c)
{
    r->id = c->id;
    snprintf(r->addr, sizeof r->addr, "%s", c->addr);
    snprintf(r->laddr, sizeof r->laddr, "%s", c->laddr);
    r->created_ms = c->created_ms;
}

void repl_primary_adopt(server *s, const client *c, int fd, repl_link *link,
                        const char *pending, size_t n, const char *input, size_t in_n)
{
    struct repl_replicas *rs = s->repl->replicas;
    replica *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        repl_link_free(link);
        return;
    }
    r->s = s;
    r->backlog = s->repl->backlog;
    r->fd = fd;
    r->link = link;
    r->port = link->listening_port;
    r->timeout_ms = link->timeout_s * 1000;
    r->wait.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    replica_ip(r, c->addr);
    take_identity(r, c);
    bool ok = r->wait.fd >= 0 && copy_bytes(&r->prefix, pending, n) &&
              copy_bytes(&r->in, input, in_n);
    r->prefix_len = n;
    r->in_len = r->in_cap = in_n;
    pthread_mutex_lock(&rs->mu);
    reap(rs);
    ok = ok && pthread_create(&r->thread, NULL, sender_main, r) == 0;
    if (ok) {
        replica **p = &rs->list;
        while (*p)
            p = &(*p)->next;
        *p = r;
    }
    pthread_mutex_unlock(&rs->mu);
    if (!ok) {
        fprintf(stderr, "shale-server: cannot start a replica's sender: out of resources\n");
        replica_free(r);
    }
}

/* ---- what clients see ---- */

void repl_primary_hurry(server *s)
{
    if (!s->repl)
        return;
    struct repl_replicas *rs = s->repl->replicas;
    pthread_mutex_lock(&rs->mu);
    for (replica *r = rs->list; r; r = r->next) {
        uint64_t one = 1;
        ssize_t n = write(r->wait.fd, &one, sizeof one);
        (void)n; /* (a full counter wakes it all the same) */
    }
    pthread_mutex_unlock(&rs->mu);
}

long long repl_primary_visit(server *s, repl_peer_fn fn, void *arg)
{
    struct repl_replicas *rs = s->repl->replicas;
    long long dropped = 0;
    pthread_mutex_lock(&rs->mu);
    for (replica *r = rs->list; r; r = r->next) {
        if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) ||
            __atomic_load_n(&r->stop, __ATOMIC_ACQUIRE))
            continue; /* (dropped already: Redis's list has it no more) */
        repl_peer p = {.id = r->id,
                       .addr = r->addr,
                       .laddr = r->laddr,
                       .fd = r->fd,
                       .created_ms = r->created_ms,
                       .last_ms = __atomic_load_n(&r->last_input_ms, __ATOMIC_RELAXED),
                       .cmd = __atomic_load_n(&r->acked, __ATOMIC_RELAXED) ? "replconf" : "psync"};
        if (fn(&p, arg)) {
            stop_one(r);
            dropped++;
        }
    }
    pthread_mutex_unlock(&rs->mu);
    if (dropped)
        repl_backlog_wake(s->repl->backlog);
    return dropped;
}

static bool online(const replica *r)
{
    return !__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) &&
           __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) == STATE_ONLINE;
}

long long repl_count_acked(server *s, uint64_t seq)
{
    if (!s->repl)
        return 0; /* (a server without replication: unit tests) */
    struct repl_replicas *rs = s->repl->replicas;
    long long n = 0;
    pthread_mutex_lock(&rs->mu);
    for (replica *r = rs->list; r; r = r->next)
        if (online(r) && __atomic_load_n(&r->ack, __ATOMIC_ACQUIRE) >= seq)
            n++;
    pthread_mutex_unlock(&rs->mu);
    return n;
}

int repl_count_good(server *s, long long max_lag_s)
{
    if (!s->repl)
        return 0; /* (a server without replication: unit tests) */
    struct repl_replicas *rs = s->repl->replicas;
    uint64_t now = repl_now_ms();
    int n = 0;
    pthread_mutex_lock(&rs->mu);
    for (replica *r = rs->list; r; r = r->next) {
        uint64_t at = __atomic_load_n(&r->ack_ms, __ATOMIC_ACQUIRE);
        if (online(r) && (now - at) / 1000 <= (uint64_t)max_lag_s)
            n++;
    }
    pthread_mutex_unlock(&rs->mu);
    return n;
}

int repl_count_replicas(server *s)
{
    if (!s->repl)
        return 0; /* (a server without replication: unit tests) */
    struct repl_replicas *rs = s->repl->replicas;
    int n = 0;
    pthread_mutex_lock(&rs->mu);
    reap(rs);
    for (replica *r = rs->list; r; r = r->next)
        n += __atomic_load_n(&r->state, __ATOMIC_ACQUIRE) != 0;
    pthread_mutex_unlock(&rs->mu);
    return n;
}

void repl_primary_info(server *s, resp_out *o)
{
    struct repl_replicas *rs = s->repl->replicas;
    uint64_t now = repl_now_ms();
    int i = 0;
    pthread_mutex_lock(&rs->mu);
    for (replica *r = rs->list; r; r = r->next) {
        int state = __atomic_load_n(&r->state, __ATOMIC_ACQUIRE);
        if (!state || __atomic_load_n(&r->done, __ATOMIC_ACQUIRE))
            continue;
        uint64_t at = __atomic_load_n(&r->ack_ms, __ATOMIC_ACQUIRE);
        server_out_printf(o, "slave%d:ip=%s,port=%lld,state=%s,offset=%llu,lag=%llu\r\n", i++,
                          r->ip, r->port, state == STATE_ONLINE ? "online" : "send_bulk",
                          (unsigned long long)__atomic_load_n(&r->ack, __ATOMIC_ACQUIRE),
                          (unsigned long long)(now > at ? (now - at) / 1000 : 0));
    }
    pthread_mutex_unlock(&rs->mu);
}

void repl_primary_role(server *s, resp_out *o)
{
    struct repl_replicas *rs = s->repl->replicas;
    pthread_mutex_lock(&rs->mu);
    long long n = 0;
    for (replica *r = rs->list; r; r = r->next)
        n += online(r);
    resp_array(o, n);
    for (replica *r = rs->list; r; r = r->next) {
        if (!online(r))
            continue;
        char port[32], off[32];
        snprintf(port, sizeof port, "%lld", r->port);
        snprintf(off, sizeof off, "%llu",
                 (unsigned long long)__atomic_load_n(&r->ack, __ATOMIC_ACQUIRE));
        resp_array(o, 3);
        resp_bulk_cstr(o, r->ip);
        resp_bulk_cstr(o, port);
        resp_bulk_cstr(o, off);
    }
    pthread_mutex_unlock(&rs->mu);
}

/* ---- FAILOVER's choice of a replica ---- */

int repl_primary_find(server *s, const char *host, long long port, uint64_t *ack)
{
    struct repl_replicas *rs = s->repl->replicas;
    int found = -1;
    pthread_mutex_lock(&rs->mu);
    for (replica *r = rs->list; r && found < 0; r = r->next) {
        if (__atomic_load_n(&r->done, __ATOMIC_ACQUIRE) || r->port != port ||
            strcasecmp(r->ip, host) != 0)
            continue;
        found = online(r);
        *ack = __atomic_load_n(&r->ack, __ATOMIC_ACQUIRE);
    }
    pthread_mutex_unlock(&rs->mu);
    return found;
}

bool repl_primary_caught_up(server *s, uint64_t seq, char *host, size_t cap, long long *port)
{
    struct repl_replicas *rs = s->repl->replicas;
    bool found = false;
    pthread_mutex_lock(&rs->mu);
    for (replica *r = rs->list; r && !found; r = r->next) {
        if (!online(r) || __atomic_load_n(&r->ack, __ATOMIC_ACQUIRE) < seq)
            continue;
        snprintf(host, cap, "%s", r->ip);
        *port = r->port;
        found = true;
    }
    pthread_mutex_unlock(&rs->mu);
    return found;
}
