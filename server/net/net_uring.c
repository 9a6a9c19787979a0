/*
 * net_uring.c - the network side: io-threads event loops, one io_uring each, and what
 * they hand the commit thread (commit.c).
 *
 * Each loop listens on the TCP port (SO_REUSEPORT spreads connections over the loops;
 * loop 0 also owns the unix socket), accepts with multishot accept, and receives with
 * multishot recv into a ring of provided buffers, where the kernel has them (probed at
 * start-up; single-shot operations otherwise). Commands run under the server's lock, one
 * at a time as in Redis. Replies are sent with one send per client per round.
 *
 * Durability: at the end of each round, before any reply of the round is sent, the
 * round's WAL records reach the kernel with one write. With sync-writes yes a round whose
 * replies followed any write not yet durable (its own or another loop's) waits for a
 * sync of every write so far, one of two ways (commit-pipeline, fixed at start-up):
 * - no (the default): the loop calls shale_sync itself before it sends the round's
 *   replies: group commit, one fdatasync per round for all its clients, as Redis's
 *   appendfsync always does in beforeSleep. While the loop syncs, requests queue in the
 *   kernel and the next round takes them all.
 * - yes: the round is held: its clients wait, in order, for the commit thread
 *   (commit.c) to sync, while the loop goes on receiving and running the next rounds,
 *   whose replies are held in turn. When the sync ends the thread starts the next one
 *   for the rounds held meanwhile and wakes the loop through an eventfd read armed in
 *   its ring: one sync in flight and one gathering. A held client's further input is
 *   kept and runs once its replies are released, so its replies stay in order.
 * Which wins depends on the disk (bench/RESULTS.md, issue 16): where fdatasync takes
 * 0.1-0.3 ms the loop's CPU is the limit and the hand-offs cost more than the overlap
 * gains (SET P1 c50: 49-52k inline against 37-39k pipelined, idle machine); where it
 * takes milliseconds the pipeline keeps the disk busy (2 ms syncs: 6.7-9.8k against
 * 3.7-7.6k). Either way no reply ever reveals a write that a crash could lose. A failed
 * sync or log write turns the replies that depended on it into errors and closes those
 * connections: no client is told OK for a write that may be lost.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "blocking.h"
#include "commit.h"
#include "monitor.h"
#include "pause.h"
#include "pubsub.h"
#include "repl_primary.h"
#include "script.h"
#include "server.h"
#include "sync_conn.h"

enum op {
    OP_ACCEPT = 1,
    OP_ACCEPT_UNIX = 2,
    OP_RECV = 3,
    OP_SEND = 4,
    OP_ACCEPT_HTTP = 5,
    OP_ACCEPT_RETRY = 6, /* the back-off after an accept ran out of descriptors has ended */
    OP_WAKE = 7          /* an eventfd read ended; its source rides in the upper bits */
};
#define OP_MASK 7ull
/* OP_WAKE's sources: the commit thread ended a sync this loop waits for (commit.c), or
   blocked clients of this loop have work (blocking.c: a key handed over, an unblock). */
enum wake { WAKE_SYNCED = 0, WAKE_BLOCKING = 1 };

/* metrics-port connections: Prometheus sends its request at once and reads the answer;
   more than this many at a time, or one older than the timeout, is not a scraper */
#define HTTP_MAX_CONNS 32
#define HTTP_CONN_TIMEOUT_MS 10000
#define HTTP_BUSY "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
#define MAXCLIENTS_ERR "-ERR max number of clients reached\r\n"
/* an accept that failed for want of descriptors is tried again after this long */
#define ACCEPT_BACKOFF_MS 100
/* connections refused from a listener's backlog per failed accept (see refuse_backlog) */
#define REFUSE_BATCH 64

#define RING_ENTRIES 4096
#define RECV_CHUNK (16 * 1024) /* single-shot recv size and provided buffer size */
#define NBUFS 1024             /* provided buffers per loop (a power of two) */
#define BGID 1

typedef struct io_loop {
    server *s;
    int idx;
    struct io_uring ring;
    pthread_t thread;
    int lfd[4], nlfd; /* TCP listeners (one per bind address) */
    int ufd;          /* unix socket listener (loop 0) or -1 */
    int mfd[4], nmfd; /* metrics-port listeners (loop 0) */
    int spare_fd;     /* /dev/null, given up to refuse a connection when none is left */
    uint64_t emfile_logged_ms;
    bool ms_accept, ms_recv; /* multishot operations available */
    bool deferred;           /* single issuer, deferred task work (enabled by the loop) */
    struct io_uring_buf_ring *br;
    char *bufs;
    client *round; /* clients with input this round */
    bool exposed;  /* a command of this round ran before s->unsynced_error was set: its
                      replies may show writes that are not durable */
    uint64_t net_out; /* bytes sent not yet added to s->stats (which the lock guards) */
    commit_pipe *commit;           /* the commit thread (commit-pipeline yes), or NULL */
    uint64_t wake_buf;             /* the commit thread's eventfd is read into this */
    client *held, *held_tail;      /* clients whose replies wait for a sync, oldest first */
    uint64_t asked_gen;            /* asked the commit thread for this generation and not
                                      woken since (0: nothing asked) */
    int block_fd;                  /* eventfd: another loop has blocking work for this one */
    uint64_t block_buf;            /* its read lands here */
    client *resume, *resume_tail;  /* unblocked clients whose kept input runs next */
    client *running;               /* the client whose command runs now (lock held) */
    char *stash;                   /* input `running` sent while its script was busy, */
    size_t stash_len, stash_cap;   /* kept aside to run after that command (take_stashed) */
    client *stash_for;             /* whose it is (NULL: none) */
    int rc;
} io_loop;

/* The loops, while net_run runs them (net_wake_loop reaches them from any thread). */
static io_loop *running_loops;
static int running_nloops;
/* The loop the calling thread runs (NULL on other threads). */
static _Thread_local io_loop *current_loop;

/* Loop threads waiting for the server's lock, counted so that a busy script lending the
   lock from its hook (on_script_busy) waits for them to take it. */
static int lock_waiters;

static void lock_server(server *s)
{
    __atomic_add_fetch(&lock_waiters, 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&s->lock);
    __atomic_sub_fetch(&lock_waiters, 1, __ATOMIC_RELAXED);
}

static uint64_t pack(void *p, enum op op)
{
    return (uint64_t)(uintptr_t)p | (uint64_t)op;
}

static uint64_t now_ms(void)
{
    return ks_now_ms();
}

/* ---- listening sockets ---- */

static int listen_tcp(const char *addr, int port)
{
    bool v6 = strchr(addr, ':') != NULL;
    int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int ok;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        ok = inet_pton(AF_INET6, addr, &a->sin6_addr);
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
        len = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        ok = inet_pton(AF_INET, addr, &a->sin_addr);
        len = sizeof *a;
    }
    if (ok != 1) {
        close(fd);
        return -EINVAL;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 1024)) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

static int listen_unix(const char *path, int perm)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un a = {0};
    a.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof a.sun_path) {
        close(fd);
        return -ENAMETOOLONG;
    }
    strcpy(a.sun_path, path);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&a, sizeof a) || chmod(path, (mode_t)perm) || listen(fd, 1024)) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

/* ---- submissions ---- */

static struct io_uring_sqe *get_sqe(io_loop *l)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    while (!sqe) {
        io_uring_submit(&l->ring);
        sqe = io_uring_get_sqe(&l->ring);
    }
    return sqe;
}

static void arm_accept(io_loop *l, int fd, enum op op)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    if (l->ms_accept)
        io_uring_prep_multishot_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
    else
        io_uring_prep_accept(sqe, fd, NULL, NULL, SOCK_CLOEXEC);
    /* the listener's fd rides in the pointer bits */
    io_uring_sqe_set_data64(sqe, (uint64_t)fd << 3 | (uint64_t)op);
}

/* Grows c->in so that at least `need` more bytes fit. */
static bool reserve_input(client *c, size_t need)
{
    if (c->in_cap - c->in_len >= need)
        return true;
    size_t cap = c->in_cap ? c->in_cap : RECV_CHUNK * 2;
    while (cap - c->in_len < need)
        cap *= 2;
    char *p = realloc(c->in, cap);
    if (!p)
        return false;
    c->in = p;
    c->in_cap = cap;
    return true;
}

static void arm_recv(io_loop *l, client *c)
{
    if (!l->ms_recv) {
        /* under the lock: server_memory_usage reads the buffers' sizes */
        lock_server(l->s);
        bool ok = reserve_input(c, RECV_CHUNK);
        pthread_mutex_unlock(&l->s->lock);
        if (!ok) {
            __atomic_store_n(&c->closed, true, __ATOMIC_RELAXED); /* (client_closed) */
            return;
        }
    }
    struct io_uring_sqe *sqe = get_sqe(l);
    if (l->ms_recv) {
        io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
        sqe->flags |= IOSQE_BUFFER_SELECT;
        sqe->buf_group = BGID;
    } else {
        io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    }
    io_uring_sqe_set_data64(sqe, pack(c, OP_RECV));
    c->recv_armed = true;
}

/* c->send_armed and c->sending_off change outside the lock, on c's loop only; CLIENT
   LIST on another loop reads them (atomic loads, t_conn.c), so they are stored atomically.
   This loop's own reads of them need nothing more. */
static void set_send_armed(client *c, bool armed)
{
    __atomic_store_n(&c->send_armed, armed, __ATOMIC_RELAXED);
}

static void set_sending_off(client *c, size_t off)
{
    __atomic_store_n(&c->sending_off, off, __ATOMIC_RELAXED);
}

/*
 * Sends the replies. The kernel may read a send's buffer after submission (when the
 * socket is full), so the bytes in flight live in c->sending, which nothing appends to:
 * c->out's contents move there (the two buffers swap) and new replies accumulate in
 * c->out meanwhile. Replies of a round still running stay in c->out: they go only after
 * finish_round has made their writes reach the log (and the disk, with sync-writes yes).
 */
static void arm_send(io_loop *l, client *c)
{
    if (c->send_armed)
        return;
    if (c->sending_off == c->sending.len && c->out.len > 0 && !c->in_round && !c->held) {
        /* under the lock: server_memory_usage (another loop's cron) reads both buffers */
        lock_server(l->s);
        resp_out next = c->sending; /* recycled: becomes the accumulating buffer */
        next.len = 0;
        c->sending = c->out;
        set_sending_off(c, 0);
        c->out = next;
        pthread_mutex_unlock(&l->s->lock);
    }
    if (c->sending_off == c->sending.len)
        return;
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_send(sqe, c->fd, c->sending.data + c->sending_off,
                       c->sending.len - c->sending_off, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, pack(c, OP_SEND));
    set_send_armed(c, true);
}

/* Bytes of replies not yet taken by the kernel. */
static size_t pending_output(const client *c)
{
    return c->out.len + (c->sending.len - c->sending_off);
}

/* A client that has not authenticated (requirepass set) can only be told NOAUTH, yet one
   that pipelines without reading would make the server hold every such reply (24 MB of
   PING: 142 MB of -NOAUTH). As Redis 7.2.8 (CVE-2025-21605), its replies waiting to be
   sent are held to 1 KiB and its unparsed input to 1 MiB; past either it is closed. */
#define UNAUTH_OUTPUT_LIMIT 1024
#define UNAUTH_QUERY_LIMIT (1u << 20)

/* client-output-buffer-limit: over the hard limit at once, or over the soft limit for
   longer than its seconds, as Redis applies them, with the limits of the client's class
   (pubsub while it subscribes to anything, else normal); an unauthenticated client over
   UNAUTH_OUTPUT_LIMIT. Checked as replies are added (run_commands) and at the end of a
   round, outside the lock: the limits come from s->loop_cfg (a CONFIG SET on another loop
   may change them meanwhile; a check with some old and some new values is harmless). */
static bool over_output_limit(const server *s, client *c)
{
    size_t pending = pending_output(c);
    if (!c->authenticated && !c->http && pending > UNAUTH_OUTPUT_LIMIT)
        return true;
    bool sub = pubsub_client_subscribed(c);
    const loop_config *lc = &s->loop_cfg;
    uint64_t hard = __atomic_load_n(sub ? &lc->pubsub_hard_limit : &lc->output_hard_limit,
                                    __ATOMIC_RELAXED);
    uint64_t soft = __atomic_load_n(sub ? &lc->pubsub_soft_limit : &lc->output_soft_limit,
                                    __ATOMIC_RELAXED);
    long long secs = __atomic_load_n(sub ? &lc->pubsub_soft_seconds : &lc->output_soft_seconds,
                                     __ATOMIC_RELAXED);
    if (hard && pending > hard)
        return true;
    if (!soft || pending <= soft) {
        c->soft_limit_since_ms = 0;
        return false;
    }
    uint64_t now = now_ms();
    if (!c->soft_limit_since_ms)
        c->soft_limit_since_ms = now;
    return now - c->soft_limit_since_ms > (uint64_t)secs * 1000;
}

/* ---- clients ---- */

/* Starts closing c: the socket is shut down so that the pending multishot recv ends;
   the client is freed once no operation points at it. */
static void close_client(client *c)
{
    if (!c->closed) {
        __atomic_store_n(&c->closed, true, __ATOMIC_RELAXED); /* (client_closed) */
        shutdown(c->fd, SHUT_RDWR);
    }
}

/* Releases everything a client owns (it is out of every list). */
static void client_destroy(client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    repl_link_free(c->repl_link);
    free(c->in);
    resp_cmd_free(&c->cmd);
    resp_out_free(&c->out);
    resp_out_free(&c->sending);
    free(c);
}

/* At shutdown: frees c unless a receive or send may still use its buffers (returns 1
   then; c stays allocated, its socket is closed). */
static int client_destroy_at_exit(client *c)
{
    if (c->recv_armed || c->send_armed) {
        close(c->fd);
        return 1;
    }
    client_destroy(c);
    return 0;
}

/* metrics-port connections have a list of their own, so that shutdown frees them */
static void http_list_remove(server *s, client *c)
{
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        s->http_clients = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
}

/* Hands a replica's connection to the replication module once no operation of the loop
   uses it (its receive cancelled, its replies' send done) and frees the client; returns
   whether it did. Replies not yet sent and input not yet run go with the connection. */
static bool maybe_handoff(io_loop *l, client *c)
{
    if (c->recv_armed || c->send_armed || c->in_round || c->held || c->resume_queued)
        return false;
    lock_server(l->s);
    server_client_remove(l->s, c);
    pthread_mutex_unlock(&l->s->lock);
    resp_out pending = {0};
    if (c->sending.len > c->sending_off)
        resp_raw(&pending, c->sending.data + c->sending_off, c->sending.len - c->sending_off);
    if (c->out.len)
        resp_raw(&pending, c->out.data, c->out.len);
    if (pending.err) {
        close_client(c);
    } else {
        size_t in_n = c->in_len - c->in_off;
        repl_primary_adopt(l->s, c, c->fd, c->repl_link, pending.data, pending.len,
                           in_n ? c->in + c->in_off : NULL, in_n);
        c->repl_link = NULL; /* both the replication module's now */
        c->fd = -1;
    }
    resp_out_free(&pending);
    client_destroy(c);
    return true;
}

/* After a command of c ran: a PSYNC that decided ends its receive, so that its loop can
   hand the connection over (maybe_handoff). */
static void start_handoff(io_loop *l, client *c)
{
    if (!c->handoff || !c->recv_armed || c->closed)
        return;
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_cancel64(sqe, pack(c, OP_RECV), 0);
    io_uring_sqe_set_data64(sqe, 0); /* op 0: nothing to do (the receive's own completion
                                        says when it ended) */
}

/* Frees c when it is closed and nothing refers to it any more; returns whether it did. */
static bool maybe_free(io_loop *l, client *c)
{
    if (c->handoff && !c->closed)
        return maybe_handoff(l, c);
    if (!c->closed || c->recv_armed || c->send_armed || c->in_round || c->held ||
        c->resume_queued)
        return false;
    lock_server(l->s);
    if (c->http) {
        http_list_remove(l->s, c);
        l->s->nhttp--;
    } else
        server_client_remove(l->s, c);
    pthread_mutex_unlock(&l->s->lock);
    client_destroy(c);
    return true;
}

/* Refuses a connection with a one-line error (a blocking send: the socket is new). */
static void refuse(int fd, const char *msg)
{
    ssize_t n = send(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)n;
    close(fd);
}

/* A metrics-port connection: not a Redis client (no maxclients, not in CLIENT LIST);
   it sends one HTTP request and gets one response. */
static void on_accept_http(io_loop *l, int fd)
{
    lock_server(l->s);
    bool busy = l->s->nhttp >= HTTP_MAX_CONNS;
    pthread_mutex_unlock(&l->s->lock);
    client *c = busy ? NULL : calloc(1, sizeof *c);
    if (!c) {
        refuse(fd, HTTP_BUSY);
        return;
    }
    c->fd = fd;
    c->loop = l;
    c->http = true;
    c->created_ms = c->last_ms = now_ms();
    lock_server(l->s);
    l->s->nhttp++;
    c->all_next = l->s->http_clients;
    if (c->all_next)
        c->all_next->all_prev = c;
    l->s->http_clients = c;
    pthread_mutex_unlock(&l->s->lock);
    arm_recv(l, c);
}

static void on_accept(io_loop *l, int fd, bool unix_socket)
{
    server *s = l->s;
    char addr[64];
    sync_format_addr(fd, true, addr, sizeof addr);
    bool loopback = unix_socket || strncmp(addr, "127.", 4) == 0 || strncmp(addr, "::1:", 4) == 0;
    lock_server(s);
    s->stats.connections_received++;
    bool full = s->nclients >= s->cfg.maxclients;
    bool denied = s->cfg.protected_mode && !s->cfg.requirepass[0] && !loopback;
    bool keepalive = s->cfg.tcp_keepalive > 0; /* (CONFIG SET may change it: lock held) */
    if (full || denied)
        s->stats.rejected_connections++;
    pthread_mutex_unlock(&s->lock);
    if (full) {
        refuse(fd, MAXCLIENTS_ERR);
        return;
    }
    if (denied) {
        refuse(fd, "-DENIED Running in protected mode because protected mode is enabled and no "
                   "password is set for the default user. Connect from the loopback interface, "
                   "set a password with requirepass, or disable protected mode "
                   "(CONFIG SET protected-mode no).\r\n");
        return;
    }
    client *c = calloc(1, sizeof *c);
    if (!c) {
        refuse(fd, "-ERR out of memory\r\n");
        return;
    }
    if (!unix_socket) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (keepalive)
            setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    }
    c->fd = fd;
    c->loop = l;
    c->proto = 2;
    c->unix_socket = unix_socket;
    c->created_ms = c->last_ms = now_ms();
    snprintf(c->addr, sizeof c->addr, "%s", addr);
    sync_format_addr(fd, false, c->laddr, sizeof c->laddr);
    lock_server(s);
    c->id = ++s->next_client_id;
    c->authenticated = !s->cfg.requirepass[0];
    server_client_add(s, c);
    pthread_mutex_unlock(&s->lock);
    arm_recv(l, c);
}

/* Parses and runs every complete command in data[0..len) (the client's own buffer or a
   provided buffer); returns the bytes consumed. Called with the server lock held. */
static size_t run_commands(server *s, client *c, const char *data, size_t len)
{
    size_t off = 0;
    while (!c->close_after_reply && !c->blocked && !c->paused && !c->handoff && off < len) {
        size_t used;
        const char *err;
        uint64_t max_bulk = c->authenticated ? s->cfg.proto_max_bulk_len : RESP_UNAUTHENTICATED;
        int r = resp_parse(data + off, len - off, max_bulk, &c->cmd, &used, &err);
        if (r == 0)
            break;
        if (r < 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "ERR %s", err);
            resp_error(&c->out, msg);
            c->close_after_reply = true;
            break;
        }
        c->cmd_qbuf = len - off; /* CLIENT LIST's qbuf while it runs */
        off += used;
        pubsub_flush_inbox(s, c); /* messages published before it come before its reply */
        client *outer = c->loop ? c->loop->running : NULL; /* (a busy script's, see below) */
        if (c->loop)
            c->loop->running = c;
        command_dispatch(s, c); /* a blocking command that blocks ends the loop: the
                                   commands after it wait in c->in until it is served */
        if (c->loop)
            c->loop->running = outer;
        c->cmd_qbuf = 0;
        if (c->paused) { /* held by CLIENT PAUSE: kept, to run again (pause.h) */
            off -= used;
            break;
        }
        if (over_output_limit(s, c)) {
            /* as Redis checks each reply it adds: a pipeline of large replies must not
               build up past the limit before the round ends (finish_round closes it) */
            c->close_after_reply = true;
            break;
        }
    }
    return off;
}

/* Runs the complete commands buffered in c->in and keeps the partial one. Lock held. */
static void run_buffered(server *s, client *c)
{
    c->in_off += run_commands(s, c, c->in + c->in_off, c->in_len - c->in_off);
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_off > 0) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
}

/* Takes newly received bytes: runs complete commands straight from `data` when nothing
   is buffered, and keeps any partial command in c->in. A held client's input is only
   kept: its commands run once its replies are released (release_held), so that its
   replies stay in order and each one waits only for the writes before it. Lock held. */
static void take_input(server *s, client *c, const char *data, size_t len)
{
    bool in_place = c->in && data == c->in + c->in_len; /* a single-shot recv into c->in */
    if (c->http) {
        if (!in_place && !reserve_input(c, len)) {
            c->close_after_reply = true;
            return;
        }
        if (!in_place)
            memcpy(c->in + c->in_len, data, len);
        c->in_len += len;
        metrics_http_input(s, c);
        return;
    }
    s->stats.net_input_bytes += len;
    c->last_ms = now_ms();
    if (c->in_len == c->in_off && !in_place && !c->held && !c->blocked && !c->paused) {
        c->in_len = c->in_off = 0;
        size_t used = run_commands(s, c, data, len);
        data += used;
        len -= used;
        if (len == 0 || c->close_after_reply)
            return;
    }
    if (!in_place) {
        if (!reserve_input(c, len)) {
            c->close_after_reply = true;
            return;
        }
        memcpy(c->in + c->in_len, data, len);
    }
    c->in_len += len;
    if (!c->held && !c->blocked && !c->paused)
        run_buffered(s, c);
    if (c->in_len > s->cfg.client_query_buffer_limit ||
        (!c->authenticated && c->in_len > UNAUTH_QUERY_LIMIT)) {
        resp_error(&c->out, "ERR Protocol error: client query buffer limit exceeded");
        c->close_after_reply = true;
    }
}

static void join_round(io_loop *l, client *c)
{
    if (!c->in_round) {
        c->in_round = true;
        c->round_out = c->out.len; /* replies of this round start here */
        c->round_next = l->round;
        l->round = c;
    }
}

static void return_buffer(io_loop *l, unsigned bid)
{
    io_uring_buf_ring_add(l->br, l->bufs + (size_t)bid * RECV_CHUNK, RECV_CHUNK, (unsigned short)bid,
                          io_uring_buf_ring_mask(NBUFS), 0);
    io_uring_buf_ring_advance(l->br, 1);
}

/*
 * Input of the client whose command is running a busy script, received by the loop's
 * poll from inside that script (serve_own_loop): it is kept aside, not run (its command is
 * not over, and its parser may be reading c->in), and runs after it (take_stashed), as
 * Redis keeps the running client's further pipelined commands waiting. A single-shot
 * receive is not armed again here (that may grow c->in under the parser): run_held_input
 * or on_recv arms it once the command is over.
 */
static void stash_input(io_loop *l, client *c, const char *data, size_t n)
{
    if (l->stash_cap - l->stash_len < n) {
        size_t cap = l->stash_cap ? l->stash_cap : RECV_CHUNK;
        while (cap - l->stash_len < n)
            cap *= 2;
        char *p = realloc(l->stash, cap);
        if (!p) {
            close_client(c);
            return;
        }
        l->stash = p;
        l->stash_cap = cap;
    }
    memcpy(l->stash + l->stash_len, data, n);
    l->stash_len += n;
    l->stash_for = c;
}

/* Runs the input stash_input kept for c once c's command is over (and what a busy script
   of that input keeps again meanwhile). Lock held. */
static void take_stashed(io_loop *l, client *c)
{
    if (c != l->stash_for || c == l->running)
        return;
    l->stash_for = NULL;
    while (l->stash_len && !c->closed) {
        char *data = l->stash;
        size_t n = l->stash_len;
        l->stash = NULL;
        l->stash_len = l->stash_cap = 0;
        take_input(l->s, c, data, n);
        free(data);
        l->stash_for = NULL;
    }
    l->stash_len = 0; /* (a closed client's input goes) */
}

static void on_recv(io_loop *l, client *c, struct io_uring_cqe *cqe)
{
    int res = cqe->res;
    bool more = l->ms_recv && (cqe->flags & IORING_CQE_F_MORE);
    if (!more)
        c->recv_armed = false;
    if (res > 0) {
        unsigned bid = 0;
        bool provided = cqe->flags & IORING_CQE_F_BUFFER;
        if (provided)
            bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
        const char *data = provided ? l->bufs + (size_t)bid * RECV_CHUNK : c->in + c->in_len;
        if (c == l->running) { /* polled from inside its busy script */
            stash_input(l, c, data, (size_t)res);
            if (provided)
                return_buffer(l, bid);
            if (!c->recv_armed && l->ms_recv && !c->closed)
                arm_recv(l, c);
            return;
        }
        if (!c->closed) {
            if (!c->held) /* first: the round's replies start before this input's */
                join_round(l, c);
            lock_server(l->s);
            l->s->stats.net_output_bytes += l->net_out;
            l->net_out = 0;
            if (!__atomic_load_n(&l->s->unsynced_error, __ATOMIC_RELAXED))
                l->exposed = true;
            take_input(l->s, c, data, (size_t)res);
            take_stashed(l, c);
            pthread_mutex_unlock(&l->s->lock);
            start_handoff(l, c);
        }
        if (provided)
            return_buffer(l, bid);
        if (!c->recv_armed && !c->closed && !c->close_after_reply && !c->handoff)
            arm_recv(l, c);
    } else if (c->handoff && !c->closed && (res == -ECANCELED || res == -ENOBUFS)) {
        /* its receive ended for the hand-over (maybe_handoff) */
    } else if (res == -ENOBUFS && !c->closed) {
        arm_recv(l, c); /* every buffer was in use: try again */
    } else if (res == -EINVAL && l->ms_recv && !c->closed && !c->handoff) {
        l->ms_recv = false; /* the kernel refused multishot recv: single shots from now on */
        arm_recv(l, c);
    } else {
        close_client(c); /* 0: the peer closed; < 0: a socket error */
    }
    maybe_free(l, c);
}

static void on_send(io_loop *l, client *c, int res)
{
    set_send_armed(c, false);
    if (res < 0) {
        close_client(c);
    } else {
        l->net_out += (uint64_t)res; /* into s->stats when the loop next holds the lock */
        set_sending_off(c, c->sending_off + (size_t)res);
        arm_send(l, c); /* the rest of sending, or replies added meanwhile */
        if (!c->send_armed && c->close_after_reply && !c->in_round && !c->held &&
            pending_output(c) == 0)
            close_client(c);
    }
    maybe_free(l, c);
}

/* ---- the loop ---- */

/* Ends c's part in a round: its replies go out, or become one error when the writes
   they depend on may not be durable (rc: the failed log write or sync; unsynced: with
   sync-writes yes, -MISCONF), and c closes after it. Returns whether c was freed. */
static bool release_client(io_loop *l, client *c, int rc, bool unsynced)
{
    if (!c->closed) {
        if (rc && c->out.len > c->round_out) { /* the writes may not be durable */
            /* under the lock: other loops read c->out (CLIENT LIST, used_memory) and
               close_after_reply (MONITOR, tracking) */
            lock_server(l->s);
            c->out.len = c->round_out;
            if (unsynced)
                reply_unsynced_error(c, rc);
            else
                reply_engine_error(c, rc);
            c->close_after_reply = true;
            pthread_mutex_unlock(&l->s->lock);
        }
        arm_send(l, c);
        if (over_output_limit(l->s, c))
            close_client(c); /* a reader that does not read */
        else if (c->close_after_reply && !c->send_armed)
            close_client(c);
    }
    return maybe_free(l, c);
}

/*
 * With sync-writes yes, a round whose replies depend on writes not yet durable ends
 * here: its clients are held, in order, until the commit thread has synced every write
 * up to gen (release_held), and the loop goes on with the next round meanwhile.
 */
static void hold_round(io_loop *l, uint64_t gen)
{
    while (l->round) {
        client *c = l->round;
        l->round = c->round_next;
        c->in_round = false;
        c->held = true;
        c->held_gen = gen;
        c->held_next = NULL;
        if (l->held_tail)
            l->held_tail->held_next = c;
        else
            l->held = c;
        l->held_tail = c;
    }
}

/* Runs the commands a held client sent meanwhile (it joins the current round). */
static void run_held_input(io_loop *l, client *c)
{
    join_round(l, c);
    lock_server(l->s);
    if (!__atomic_load_n(&l->s->unsynced_error, __ATOMIC_RELAXED))
        l->exposed = true;
    run_buffered(l->s, c);
    take_stashed(l, c);
    pthread_mutex_unlock(&l->s->lock);
    start_handoff(l, c);
    if (!c->recv_armed && !c->closed && !c->close_after_reply && !c->handoff)
        arm_recv(l, c); /* (a single-shot receive its busy script's poll took) */
}

/*
 * Sends the held replies whose writes are durable, oldest first, and turns into errors
 * those whose sync failed; then asks the commit thread for a sync of what the others
 * need, unless asked already (it wakes the loop through OP_WAKE when that sync ends).
 */
static void release_held(io_loop *l)
{
    for (;;) {
        while (l->held) {
            client *c = l->held;
            int rc = 0;
            bool unsynced = false;
            int state = commit_state(l->commit, c->held_gen, &rc, &unsynced);
            if (state == 0)
                break; /* and so do the ones after it */
            l->held = c->held_next;
            if (!l->held)
                l->held_tail = NULL;
            c->held = false;
            if (release_client(l, c, state < 0 ? rc : 0, unsynced) || c->closed ||
                c->close_after_reply)
                continue;
            if (c->blocked) /* a key it waits on may have been parked for it meanwhile */
                blocking_retry(l->s, c);
            else if (c->in_len > c->in_off)
                run_held_input(l, c);
        }
        if (!l->held || l->held_tail->held_gen <= l->asked_gen)
            return;
        l->asked_gen = l->held_tail->held_gen;
        if (!commit_request(l->commit, l->idx, l->asked_gen))
            return; /* a wake-up comes when the sync ends */
    }
}

/*
 * After the round's commands: make the writes the replies depend on reach the kernel
 * (and the disk, with sync-writes yes), then send.
 *
 * With sync-writes yes the round is held (hold_round) and the commit thread syncs while
 * the loop goes on; the replies go out when it is done (release_held). A failed log
 * write or sync turns the replies into errors. With sync-writes yes the writes past
 * synced_gen may then be lost by a crash, so synced_gen stays where it is and
 * s->unsynced_error is set: a round of another loop whose commands ran before that (and
 * may have read those writes) is held too and fails the same way; commands from then on
 * are refused (command.c, admit) and their rounds need no sync, until watch_disk makes
 * the writes durable (or forever, after a failed sync: the engine cannot tell what
 * reached the disk). Without sync-writes nothing was promised durable: the generations
 * move on and reads go on being served.
 */
static void finish_round(io_loop *l)
{
    server *s = l->s;
    caps_round_end(s);
    uint64_t wgen = __atomic_load_n(&s->wgen, __ATOMIC_ACQUIRE);
    bool exposed = l->exposed || !__atomic_load_n(&s->unsynced_error, __ATOMIC_ACQUIRE);
    l->exposed = false;
    bool must_sync = exposed && __atomic_load_n(&s->loop_cfg.sync_writes, __ATOMIC_RELAXED) &&
                     l->round && wgen > __atomic_load_n(&s->synced_gen, __ATOMIC_ACQUIRE);
    if (must_sync && l->commit) { /* commit-pipeline yes */
        hold_round(l, wgen);
        return;
    }
    int rc = 0;
    /* (no replies this round: nothing was acknowledged, so nothing to flush for; the
       records go with the next round's flush or sync, or at shutdown) */
    if (exposed && l->round && wgen > __atomic_load_n(&s->flushed_gen, __ATOMIC_ACQUIRE)) {
        rc = ks_engines_flush_wal(&s->ks);
        if (rc == 0)
            server_raise_gen(&s->flushed_gen, wgen);
    }
    if (rc == 0 && must_sync) { /* the loop syncs: no commit pipeline */
        rc = ks_engines_sync(&s->ks); /* covers every write that returned, of every loop */
        if (rc == 0)
            server_raise_gen(&s->synced_gen, wgen);
    }
    bool unsynced = false;
    if (rc) {
        lock_server(s);
        s->stats.sync_failures++;
        unsynced = s->cfg.sync_writes;
        if (unsynced && !s->unsynced_error)
            __atomic_store_n(&s->unsynced_error, rc, __ATOMIC_RELEASE);
        pthread_mutex_unlock(&s->lock);
        if (!unsynced) {
            server_raise_gen(&s->flushed_gen, wgen);
            server_raise_gen(&s->synced_gen, wgen);
        }
        fprintf(stderr, "shale-server: WAL write or sync failed (%s): the round's replies "
                        "become errors%s\n", shale_strerror(rc),
                unsynced ? ", and commands that read or write data are refused until the "
                           "writes are durable" : "");
    }
    while (l->round) {
        client *c = l->round;
        l->round = c->round_next;
        c->in_round = false;
        release_client(l, c, rc, unsynced);
    }
}

/* The blocked clients' work for this loop (blocking.c): keys made ready that it serves,
   unblocks, timeouts. Cheap when there is none (two atomic loads). */
static void run_blocking(io_loop *l)
{
    server *s = l->s;
    uint64_t now = now_ms();
    if (script_busy(s) || !blocking_has_work(s, l->idx, now))
        return; /* (a busy script lends the lock: nothing may pop meanwhile) */
    lock_server(s);
    if (!__atomic_load_n(&s->unsynced_error, __ATOMIC_RELAXED))
        l->exposed = true; /* a woken client's command runs */
    blocking_run(s, l->idx, now);
    pthread_mutex_unlock(&s->lock);
}

/* Moves messages published by other loops into this loop's subscribers' buffers (they
   join the round). Cheap when there are none (one atomic load). */
static void run_pubsub(io_loop *l)
{
    if (!pubsub_has_work(l->s, l->idx))
        return;
    lock_server(l->s);
    pubsub_deliver(l->s, l->idx);
    pthread_mutex_unlock(&l->s->lock);
}

/* Runs the commands that unblocked clients sent while they waited. */
static void run_resumed(io_loop *l)
{
    while (l->resume) {
        client *c = l->resume;
        l->resume = c->resume_next;
        if (!l->resume)
            l->resume_tail = NULL;
        c->resume_queued = false;
        if (!c->closed && !c->held && !c->blocked && !c->close_after_reply &&
            c->in_len > c->in_off)
            run_held_input(l, c);
    }
}

/* MONITOR lines that commands of any loop fed to this loop's monitors join the round. */
static void run_monitors(io_loop *l)
{
    if (!monitor_has_work(l->s, l->idx))
        return;
    lock_server(l->s);
    monitor_run(l->s, l->idx);
    pthread_mutex_unlock(&l->s->lock);
}

/* When CLIENT PAUSE ends (UNPAUSE on any loop, or its timeout, which this loop may be
   the first to see): this loop's held clients run their kept input again, in the order
   they were held, before anything received since (as Redis runs unblocked clients
   before it reads). */
static void run_unpaused(io_loop *l, uint64_t now)
{
    if (!pause_has_work(l->s, l->idx, now))
        return;
    lock_server(l->s);
    pause_run(l->s, l->idx, now);
    pthread_mutex_unlock(&l->s->lock);
    run_resumed(l);
}

/* Ends the round, and the rounds that held clients' kept input, blocked clients' work
   and unblocked clients' kept input make. */
static void end_rounds(io_loop *l)
{
    do {
        run_blocking(l);
        run_resumed(l);
        run_pubsub(l);
        run_monitors(l);
        finish_round(l);
        release_held(l);
    } while (l->round || l->resume ||
             (!script_busy(l->s) && blocking_has_work(l->s, l->idx, now_ms())) ||
             pubsub_has_work(l->s, l->idx) || monitor_has_work(l->s, l->idx));
}

int net_loop_index(const client *c)
{
    return c->loop ? c->loop->idx : 0;
}

void net_join_round(client *c)
{
    if (c->loop && !c->held) /* a held client's replies go out when it is released */
        join_round(c->loop, c);
}

void net_resume(client *c)
{
    io_loop *l = c->loop;
    if (!l || c->resume_queued)
        return;
    c->resume_queued = true;
    c->resume_next = NULL;
    if (l->resume_tail)
        l->resume_tail->resume_next = c;
    else
        l->resume = c;
    l->resume_tail = c;
}

bool net_on_own_loop(const client *c)
{
    return !c->loop || c->loop == current_loop;
}

void net_wake_loop(server *s, int idx)
{
    if (!running_loops || idx < 0 || idx >= running_nloops)
        return;
    uint64_t one = 1;
    ssize_t n = write(running_loops[idx].block_fd, &one, sizeof one);
    (void)n; /* a full counter already wakes the loop */
}

/* The blocking wake-up is read into l->block_buf (one read armed at a time). */
static void arm_block_wake(io_loop *l)
{
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_read(sqe, l->block_fd, &l->block_buf, sizeof l->block_buf, 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)WAKE_BLOCKING << 3 | OP_WAKE);
}

/* The commit thread's wake-up is read into l->wake_buf (one read armed at a time). */
static void arm_wake(io_loop *l)
{
    if (!l->commit)
        return; /* commit-pipeline no: the loop syncs itself */
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_read(sqe, commit_wake_fd(l->commit, l->idx), &l->wake_buf, sizeof l->wake_buf, 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)WAKE_SYNCED << 3 | OP_WAKE);
}

/* Closes clients idle longer than `timeout`, and metrics-port connections older than
   HTTP_CONN_TIMEOUT_MS whatever they do (loop 0, under the lock). */
static void close_idle(server *s)
{
    uint64_t now = now_ms();
    for (client *c = s->http_clients; c; c = c->all_next)
        if (!c->killed && now - c->created_ms > HTTP_CONN_TIMEOUT_MS) {
            c->killed = true;
            shutdown(c->fd, SHUT_RDWR);
        }
    if (s->cfg.timeout <= 0)
        return;
    /* (a blocked client, or one held by CLIENT PAUSE, is not idle, nor is a subscriber:
       it waits for messages) */
    for (client *c = s->clients; c; c = c->all_next)
        if (!c->killed && !c->blocked && !c->paused && !pubsub_client_subscribed(c) &&
            now - c->last_ms > (uint64_t)s->cfg.timeout * 1000) {
            c->killed = true;
            shutdown(c->fd, SHUT_RDWR);
        }
}

/*
 * Gives back the buffers of this loop's clients that a large request or reply grew and
 * that sit empty now (as Redis resizes idle clients' query buffers): they count in
 * used_memory. Only when the kernel is not writing into them (no single-shot recv into
 * c->in, no send from c->sending). Once a second, loop thread, lock taken here.
 */
#define KEEP_BUFFER (64u << 10)
static void shrink_idle_buffers(io_loop *l)
{
    server *s = l->s;
    lock_server(s);
    s->stats.net_output_bytes += l->net_out;
    l->net_out = 0;
    for (client *c = s->clients; c; c = c->all_next) {
        if (c->loop != l || c->in_round || c->held)
            continue;
        if (c->in_cap > KEEP_BUFFER && c->in_len == 0 && (l->ms_recv || !c->recv_armed)) {
            free(c->in);
            c->in = NULL;
            c->in_cap = c->in_off = 0;
        }
        if (c->out.cap > KEEP_BUFFER && c->out.len == 0)
            resp_out_free(&c->out);
        if (c->sending.cap > KEEP_BUFFER && !c->send_armed && c->sending_off == c->sending.len) {
            resp_out_free(&c->sending);
            set_sending_off(c, 0);
        }
    }
    pthread_mutex_unlock(&s->lock);
}

/* Operations of this loop that point into a connection's buffers (lock taken here). */
static int in_flight(io_loop *l)
{
    server *s = l->s;
    int n = 0;
    lock_server(s);
    for (client *c = s->clients; c; c = c->all_next)
        n += c->loop == l && (c->recv_armed || c->send_armed);
    for (client *c = s->http_clients; c; c = c->all_next)
        n += c->loop == l && (c->recv_armed || c->send_armed);
    pthread_mutex_unlock(&s->lock);
    return n;
}

/*
 * At shutdown, before anything is freed: ends every receive and send of this loop. The
 * kernel reads a send's buffer and fills a receive's (c->in, or a provided buffer) until
 * the operation's completion arrives, and closing the ring does not wait for that (its
 * cancellations finish in a kernel worker). So every connection is shut down (a receive
 * completes with 0, a send with an error), whatever else is pending is cancelled, and
 * completions are reaped until none is in flight, for at most 5 s (net_run then leaves
 * what is still in flight allocated). The loop thread: it alone may wait on its ring.
 */
#define DRAIN_MS 5000
static void loop_drain(io_loop *l)
{
    server *s = l->s;
    lock_server(s);
    for (client *c = s->clients; c; c = c->all_next)
        if (c->loop == l)
            shutdown(c->fd, SHUT_RDWR);
    for (client *c = s->http_clients; c; c = c->all_next)
        if (c->loop == l)
            shutdown(c->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->lock);
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY); /* -EINVAL before Linux 5.19 */
    io_uring_sqe_set_data64(sqe, 0);                         /* op 0: nothing to do */
    uint64_t deadline = now_ms() + DRAIN_MS;
    while (in_flight(l) > 0 && now_ms() < deadline) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {0, 50 * 1000 * 1000};
        int rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR)
            break;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&l->ring, head, cqe)
        {
            seen++;
            uint64_t data = io_uring_cqe_get_data64(cqe);
            client *c = (client *)(uintptr_t)(data & ~OP_MASK);
            switch ((enum op)(data & OP_MASK)) {
            case OP_RECV:
                if (!(l->ms_recv && (cqe->flags & IORING_CQE_F_MORE)))
                    c->recv_armed = false;
                break;
            case OP_SEND:
                set_send_armed(c, false);
                break;
            case OP_ACCEPT:
            case OP_ACCEPT_UNIX:
            case OP_ACCEPT_HTTP:
                if (cqe->res >= 0)
                    close(cqe->res); /* a connection that came in meanwhile */
                break;
            case OP_ACCEPT_RETRY: /* a back-off ended: no accept is armed again */
            case OP_WAKE:
                break;
            }
        }
        io_uring_cq_advance(&l->ring, seen);
    }
}

/* accept failed this way because descriptors ran out (the process's, the system's, or
   the kernel's memory for them): trying again at once fails again at once */
static bool out_of_descriptors(int res)
{
    return res == -EMFILE || res == -ENFILE || res == -ENOBUFS || res == -ENOMEM;
}

/*
 * Out of descriptors, connections wait in the listener's backlog with no answer. As Redis
 * refuses one over maxclients, tell them: the spare descriptor the loop holds is given up
 * for the time of one accept and its refusal (the trick libev and nginx use), for at most
 * REFUSE_BATCH of them. The listener is made non-blocking meanwhile, so that an empty
 * backlog ends the batch; no accept of the ring is armed on it (the failed one ended).
 */
static void refuse_backlog(io_loop *l, int lfd, enum op op)
{
    server *s = l->s;
    int flags = fcntl(lfd, F_GETFL);
    if (flags < 0 || fcntl(lfd, F_SETFL, flags | O_NONBLOCK) < 0)
        return;
    int refused = 0;
    while (refused < REFUSE_BATCH && l->spare_fd >= 0) {
        close(l->spare_fd);
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            refuse(fd, op == OP_ACCEPT_HTTP ? HTTP_BUSY : MAXCLIENTS_ERR);
            refused++;
        }
        l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            break;
    }
    fcntl(lfd, F_SETFL, flags);
    if (l->spare_fd < 0) /* taken meanwhile (by the engine): the next back-off tries again */
        l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (op != OP_ACCEPT_HTTP && refused) {
        lock_server(s);
        s->stats.connections_received += (uint64_t)refused;
        s->stats.rejected_connections += (uint64_t)refused;
        pthread_mutex_unlock(&s->lock);
    }
}

/* Arms the listener's accept again after ACCEPT_BACKOFF_MS, instead of at once: at the
   descriptor limit an accept fails as soon as it is armed, and re-arming it at once kept
   the loop at 100 % CPU. The listener and its kind ride in the timeout's data. */
static void accept_later(io_loop *l, int lfd, enum op op, int res)
{
    static struct __kernel_timespec backoff = {0, ACCEPT_BACKOFF_MS * 1000 * 1000};
    uint64_t now = now_ms();
    if (now - l->emfile_logged_ms > 10000) { /* once in 10 s, not every 100 ms */
        l->emfile_logged_ms = now;
        fprintf(stderr, "shale-server: accepting a connection: %s; connections are refused "
                        "and accepts paused %d ms at a time until descriptors are free\n",
                strerror(-res), ACCEPT_BACKOFF_MS);
    }
    refuse_backlog(l, lfd, op);
    struct io_uring_sqe *sqe = get_sqe(l);
    io_uring_prep_timeout(sqe, &backoff, 0, 0);
    io_uring_sqe_set_data64(sqe, (uint64_t)lfd << 6 | (uint64_t)op << 3 | OP_ACCEPT_RETRY);
}

/* What one completion of the loop's ring means. The completion is a copy: the ring's
   slot was handed back first, for a busy script's poll may reap the ring meanwhile. */
static void handle_cqe(io_loop *l, struct io_uring_cqe *cqe)
{
    uint64_t data = io_uring_cqe_get_data64(cqe);
    enum op op = (enum op)(data & OP_MASK);
    client *c = (client *)(uintptr_t)(data & ~OP_MASK);
    switch (op) {
    case OP_ACCEPT:
    case OP_ACCEPT_UNIX:
    case OP_ACCEPT_HTTP: {
        int lfd = (int)(data >> 3);
        if (cqe->res >= 0 && op == OP_ACCEPT_HTTP)
            on_accept_http(l, cqe->res);
        else if (cqe->res >= 0)
            on_accept(l, cqe->res, op == OP_ACCEPT_UNIX);
        else if (cqe->res == -EINVAL && l->ms_accept)
            l->ms_accept = false;
        if (l->ms_accept && (cqe->flags & IORING_CQE_F_MORE))
            break; /* the multishot accept goes on */
        if (out_of_descriptors(cqe->res))
            accept_later(l, lfd, op, cqe->res);
        else
            arm_accept(l, lfd, op);
        break;
    }
    case OP_ACCEPT_RETRY:
        arm_accept(l, (int)(data >> 6), (enum op)(data >> 3 & OP_MASK));
        break;
    case OP_RECV:
        on_recv(l, c, cqe);
        break;
    case OP_SEND:
        on_send(l, c, cqe->res);
        break;
    case OP_WAKE:
        if (data >> 3 == WAKE_BLOCKING) { /* blocking_has_work says what */
            if (cqe->res >= 0)
                arm_block_wake(l);
            break;
        }
        l->asked_gen = 0; /* the thread forgot the request: release_held asks again */
        if (cqe->res >= 0)
            arm_wake(l);
        else /* never seen; the 50 ms wait still releases held replies */
            fprintf(stderr, "shale-server: reading the commit thread's wake-up: %s\n",
                    strerror(-cqe->res));
        break;
    }
}

/* Reaps and handles every completion ready in the ring, one at a time: each is copied
   and its slot handed back before it is handled, so that a busy script's poll, from
   inside a handler, reaps the ones after it (a batch taken ahead would hide them from
   the poll until the script ends). */
static void reap(io_loop *l)
{
    struct io_uring_cqe *cqe;
    while (io_uring_peek_cqe(&l->ring, &cqe) == 0) {
        struct io_uring_cqe copy = *cqe;
        io_uring_cqe_seen(&l->ring, cqe);
        handle_cqe(l, &copy);
    }
}

/*
 * Ends the round the busy script runs in for its other clients: their commands ran
 * before the script, so their replies go now, after the writes they depend on are
 * flushed (or synced, or held for the commit thread: finish_round), not when the script
 * ends. The running client stays in the round, alone: its reply waits for its command.
 */
static void finish_round_but_running(io_loop *l)
{
    client **p = &l->round, *running = NULL;
    while (*p && *p != l->running)
        p = &(*p)->round_next;
    if (*p) { /* unlinked: it stays in_round */
        running = *p;
        *p = running->round_next;
        running->round_next = NULL;
    }
    if (l->round) {
        bool exposed = l->exposed; /* (the running client's round still needs it) */
        finish_round(l);
        l->exposed = exposed;
    }
    l->round = running;
}

/*
 * The loop's clients while its own thread runs a busy script (on_script_busy): what came
 * in is handled as usual (other clients' commands meet run_busy: -BUSY, or SCRIPT KILL
 * and the few Redis allows), but the running client's input is kept aside
 * (stash_input). The clients this poll made part of a round are released at once: their
 * replies read nothing the script wrote, nor depend on a write.
 */
static void serve_own_loop(io_loop *l)
{
    finish_round_but_running(l);
    client *round = l->round;
    l->round = NULL;
    io_uring_submit_and_get_events(&l->ring);
    reap(l);
    while (l->round) {
        client *c = l->round;
        l->round = c->round_next;
        c->in_round = false;
        release_client(l, c, 0, false);
    }
    io_uring_submit(&l->ring);
    l->round = round;
}

#define LEND_MS 2 /* at most this long the lock is lent to other loops per hook */

/*
 * The busy handler (script.h): called from inside a script past busy-reply-threshold,
 * with the lock held, every 100000 Lua instructions or so. The lock is lent: other loops
 * waiting for it take it in turn (their commands meet run_busy), and this loop's own
 * ring is polled; then the script takes it back and goes on. Nothing else that takes the
 * lock may change data meanwhile (the cron and blocked clients wait, see loop_run).
 */
static void on_script_busy(server *s)
{
    io_loop *l = current_loop;
    if (!l)
        return; /* not on a loop's thread: nothing to serve */
    pthread_mutex_unlock(&s->lock);
    serve_own_loop(l);
    uint64_t until = now_ms() + LEND_MS;
    while (__atomic_load_n(&lock_waiters, __ATOMIC_RELAXED) > 0 && now_ms() < until)
        sched_yield();
    pthread_mutex_lock(&s->lock);
}

static void *loop_run(void *arg)
{
    io_loop *l = arg;
    server *s = l->s;
    current_loop = l;
    if (l->deferred) {
        /* io_uring_enable_rings is missing from Debian's liburing 2.3 library */
        int rc = (int)syscall(__NR_io_uring_register, l->ring.ring_fd,
                              IORING_REGISTER_ENABLE_RINGS, NULL, 0);
        rc = rc < 0 ? -errno : 0;
        if (rc < 0) {
            fprintf(stderr, "shale-server: cannot enable the io_uring ring: %s\n", strerror(-rc));
            l->rc = rc;
            s->stop = 1;
            return NULL;
        }
    }
    for (int i = 0; i < l->nlfd; i++)
        arm_accept(l, l->lfd[i], OP_ACCEPT);
    if (l->ufd >= 0)
        arm_accept(l, l->ufd, OP_ACCEPT_UNIX);
    for (int i = 0; i < l->nmfd; i++)
        arm_accept(l, l->mfd[i], OP_ACCEPT_HTTP);
    arm_wake(l);
    arm_block_wake(l);
    io_uring_submit(&l->ring);
    uint64_t next_cron = now_ms(), next_shrink = next_cron + 1000;
    while (!s->stop) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {0, 50 * 1000 * 1000};
        uint64_t deadline = blocking_next_deadline(s, l->idx); /* a blocked client's timeout */
        uint64_t pause_deadline = pause_next_deadline(s); /* CLIENT PAUSE's, clients held */
        if (pause_deadline && (!deadline || pause_deadline < deadline))
            deadline = pause_deadline;
        if (deadline) {
            uint64_t now = now_ms(), ms = deadline > now ? deadline - now : 0;
            if (ms < 50)
                ts.tv_nsec = (long long)ms * 1000 * 1000;
        }
        int rc = io_uring_submit_and_wait_timeout(&l->ring, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR) {
            fprintf(stderr, "shale-server: io_uring wait failed: %s\n", strerror(-rc));
            l->rc = rc;
            s->stop = 1;
            break;
        }
        run_unpaused(l, now_ms());
        reap(l);
        end_rounds(l);
        uint64_t now = now_ms();
        if (now >= next_shrink) {
            next_shrink = now + 1000;
            shrink_idle_buffers(l);
        }
        if (l->idx == 0 && now >= next_cron) {
            lock_server(s);
            if (!script_busy(s)) { /* it lends the lock: the cron may not expire keys */
                server_cron(s);
                close_idle(s);
            }
            next_cron = now + (uint64_t)(1000 / s->cfg.hz); /* (CONFIG SET hz: lock held) */
            pthread_mutex_unlock(&s->lock);
        }
    }
    loop_drain(l);
    return NULL;
}

/* Multishot recv needs Linux 6.0 (multishot accept 5.19); older kernels get -EINVAL on
   first use, which the loop also handles, but asking uname first avoids the round trip. */
static bool kernel_at_least(int major, int minor)
{
    struct utsname u;
    int ma = 0, mi = 0;
    if (uname(&u) || sscanf(u.release, "%d.%d", &ma, &mi) != 2)
        return false;
    return ma > major || (ma == major && mi >= minor);
}

/* Listens on port at every address of `bind` ("-addr" may fail quietly, as in Redis). */
static int listen_all(const char *bind, int port, int *fds, int *n)
{
    char binds[256];
    snprintf(binds, sizeof binds, "%s", bind);
    char *save;
    for (char *a = strtok_r(binds, " ", &save); a && *n < 4; a = strtok_r(NULL, " ", &save)) {
        bool optional = a[0] == '-';
        int fd = listen_tcp(optional ? a + 1 : a, port);
        if (fd < 0 && !optional) {
            fprintf(stderr, "shale-server: cannot listen on %s:%d: %s\n", a, port, strerror(-fd));
            return fd;
        }
        if (fd >= 0)
            fds[(*n)++] = fd;
    }
    return 0;
}

static int loop_init(io_loop *l, server *s, int idx)
{
    memset(l, 0, sizeof *l);
    l->s = s;
    l->idx = idx;
    l->ufd = -1;
    l->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    l->block_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->block_fd < 0)
        return -errno;
    /* One thread submits to a ring and completions wait until it asks (Linux 6.1):
       no cross-CPU wake-ups or completion-lock contention per packet. The ring starts
       disabled so that the loop thread, which enables it, becomes its submitter. */
    int rc = io_uring_queue_init(RING_ENTRIES, &l->ring,
                                 IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                     IORING_SETUP_R_DISABLED);
    l->deferred = rc == 0;
    if (rc == -EINVAL) /* an older kernel: plain ring, cooperative task work if it can */
        rc = io_uring_queue_init(RING_ENTRIES, &l->ring, IORING_SETUP_COOP_TASKRUN);
    if (rc == -EINVAL)
        rc = io_uring_queue_init(RING_ENTRIES, &l->ring, 0);
    if (rc < 0)
        return rc;
    l->ms_accept = kernel_at_least(5, 19);
    l->ms_recv = kernel_at_least(6, 0);
    if (l->ms_recv) {
        size_t ring_bytes = NBUFS * sizeof(struct io_uring_buf);
        void *mem = mmap(NULL, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
        l->bufs = malloc((size_t)NBUFS * RECV_CHUNK);
        struct io_uring_buf_reg reg = {0};
        reg.ring_addr = (uint64_t)(uintptr_t)mem;
        reg.ring_entries = NBUFS;
        reg.bgid = BGID;
        if (mem == MAP_FAILED || !l->bufs || io_uring_register_buf_ring(&l->ring, &reg, 0)) {
            l->ms_recv = false; /* provided buffer rings are missing: single-shot recv */
            if (mem != MAP_FAILED)
                munmap(mem, ring_bytes);
            free(l->bufs);
            l->bufs = NULL;
        } else {
            l->br = mem;
            io_uring_buf_ring_init(l->br);
            for (unsigned i = 0; i < NBUFS; i++)
                io_uring_buf_ring_add(l->br, l->bufs + (size_t)i * RECV_CHUNK, RECV_CHUNK,
                                      (unsigned short)i, io_uring_buf_ring_mask(NBUFS), (int)i);
            io_uring_buf_ring_advance(l->br, NBUFS);
        }
    }
    int rc2 = listen_all(s->cfg.bind, (int)s->cfg.port, l->lfd, &l->nlfd);
    /* the metrics endpoint has no AUTH: its own addresses, loopback unless told */
    if (rc2 == 0 && idx == 0 && s->cfg.metrics_port > 0)
        rc2 = listen_all(s->cfg.metrics_bind, (int)s->cfg.metrics_port, l->mfd, &l->nmfd);
    if (rc2)
        return rc2;
    if (idx == 0 && s->cfg.unixsocket[0]) {
        l->ufd = listen_unix(s->cfg.unixsocket, (int)s->cfg.unixsocketperm);
        if (l->ufd < 0) {
            fprintf(stderr, "shale-server: cannot listen on unix socket %s: %s\n",
                    s->cfg.unixsocket, strerror(-l->ufd));
            return l->ufd;
        }
    }
    return 0;
}

static void loop_close_ring(io_loop *l)
{
    if (l->ring.ring_fd > 0)
        io_uring_queue_exit(&l->ring);
    l->ring.ring_fd = -1;
}

/* After loop_close_ring. busy: some receive may still fill a provided buffer. */
static void loop_destroy(io_loop *l, bool busy)
{
    if (l->s && l->spare_fd >= 0) /* (a loop that never started is all zeros) */
        close(l->spare_fd);
    if (l->s && l->block_fd >= 0)
        close(l->block_fd);
    free(l->stash);
    for (int i = 0; i < l->nlfd; i++)
        close(l->lfd[i]);
    for (int i = 0; i < l->nmfd; i++)
        close(l->mfd[i]);
    if (l->ufd >= 0) {
        close(l->ufd);
        unlink(l->s->cfg.unixsocket);
    }
    if (busy)
        return;
    if (l->br)
        munmap(l->br, NBUFS * sizeof(struct io_uring_buf));
    free(l->bufs);
}

void net_config_publish(server *s)
{
    loop_config *lc = &s->loop_cfg;
    const server_config *cfg = &s->cfg;
    __atomic_store_n(&lc->output_hard_limit, cfg->output_hard_limit, __ATOMIC_RELAXED);
    __atomic_store_n(&lc->output_soft_limit, cfg->output_soft_limit, __ATOMIC_RELAXED);
    __atomic_store_n(&lc->output_soft_seconds, cfg->output_soft_seconds, __ATOMIC_RELAXED);
    __atomic_store_n(&lc->pubsub_hard_limit, cfg->pubsub_hard_limit, __ATOMIC_RELAXED);
    __atomic_store_n(&lc->pubsub_soft_limit, cfg->pubsub_soft_limit, __ATOMIC_RELAXED);
    __atomic_store_n(&lc->pubsub_soft_seconds, cfg->pubsub_soft_seconds, __ATOMIC_RELAXED);
    __atomic_store_n(&lc->sync_writes, cfg->sync_writes, __ATOMIC_RELAXED);
}

int net_run(server *s)
{
    net_config_publish(s); /* before the loops start */
    int n = (int)s->cfg.io_threads;
    io_loop *loops = calloc((size_t)n, sizeof *loops);
    if (!loops)
        return -ENOMEM;
    commit_pipe commit = {0}; /* started for commit-pipeline yes only (commit_stop: no-op) */
    int rc = s->cfg.commit_pipeline ? commit_start(&commit, s, n) : 0, started = 0, inited = 0;
    if (rc)
        fprintf(stderr, "shale-server: cannot start the commit thread: %s\n", strerror(-rc));
    for (int i = 0; i < n && rc == 0; i++) {
        rc = loop_init(&loops[i], s, i);
        loops[i].commit = s->cfg.commit_pipeline ? &commit : NULL;
        inited = i + 1;
        if (rc == -ENOSYS || rc == -EPERM || (rc < 0 && loops[i].ring.ring_fd <= 0)) {
            fprintf(stderr,
                    "shale-server: io_uring is not available here (%s); shale-server needs it "
                    "(Linux 5.19 or later, not forbidden by seccomp or "
                    "kernel.io_uring_disabled)\n",
                    strerror(-rc));
        }
    }
    if (rc == 0) {
        fprintf(stderr, "shale-server: %d io thread(s), multishot accept %s, multishot recv with "
                        "provided buffers %s, deferred task work %s\n",
                n, loops[0].ms_accept ? "yes" : "no", loops[0].ms_recv ? "yes" : "no",
                loops[0].deferred ? "yes" : "no");
        running_loops = loops;
        running_nloops = n;
        script_set_busy_handler(s, on_script_busy);
        for (int i = 0; i < n; i++)
            if (pthread_create(&loops[i].thread, NULL, loop_run, &loops[i]) == 0)
                started++;
        for (int i = 0; i < started; i++)
            pthread_join(loops[i].thread, NULL);
        lock_server(s);
        running_loops = NULL; /* (net_wake_loop runs under the lock) */
        pthread_mutex_unlock(&s->lock);
        /* held replies of a stopped loop are never sent: the sync in flight ends first */
        for (int i = 0; i < n; i++)
            if (loops[i].rc)
                rc = loops[i].rc;
    }
    /* Rings first (loop_drain ended their operations), then what operations pointed
       into. A connection whose receive or send did not end within the drain keeps its
       buffers (and a loop with one, its provided buffers): leaked, never handed back
       while the kernel may still use them. */
    commit_stop(&commit);
    for (int i = 0; i < inited; i++)
        loop_close_ring(&loops[i]);
    lock_server(s);
    int busy = 0;
    while (s->clients) {
        client *c = s->clients;
        server_client_remove(s, c);
        busy += client_destroy_at_exit(c);
    }
    while (s->http_clients) {
        client *c = s->http_clients;
        http_list_remove(s, c);
        busy += client_destroy_at_exit(c);
    }
    pthread_mutex_unlock(&s->lock);
    if (busy)
        fprintf(stderr, "shale-server: %d connection(s) had a receive or send in flight at "
                        "shutdown; their buffers are left allocated\n", busy);
    for (int i = 0; i < inited; i++) /* (a loop never initialized has nothing to close) */
        loop_destroy(&loops[i], busy > 0);
    free(loops);
    return rc;
}
