/*
 * net_uring.c - the event loop on io_uring: accept, receive into each client's buffer,
 * parse and run commands, then, once per round, make the round's writes durable (one
 * shale_sync for every client of the round: group commit) and send the replies.
 *
 * This first stage runs one loop thread with single-shot accept/recv re-armed after each
 * completion; the round's sync runs on the loop (multishot operations, provided buffers,
 * several loops and a commit thread come in later stages).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "server.h"

enum op { OP_ACCEPT = 1, OP_RECV = 2, OP_SEND = 3 };
#define OP_MASK 3ull

#define RECV_CHUNK (16 * 1024)
#define QUERY_BUFFER_LIMIT (1024ull * 1024 * 1024) /* client-query-buffer-limit: 1 GB */

static uint64_t pack(void *p, enum op op)
{
    return (uint64_t)(uintptr_t)p | (uint64_t)op;
}

static int listen_tcp(const server_config *cfg)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {0};
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, cfg->bind, &addr.sin_addr) != 1) {
        close(fd);
        return -EINVAL;
    }
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) || listen(fd, 511)) {
        int rc = -errno;
        close(fd);
        return rc;
    }
    return fd;
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) {
        io_uring_submit(ring);
        sqe = io_uring_get_sqe(ring);
    }
    return sqe;
}

static void arm_accept(struct io_uring *ring, int lfd)
{
    struct io_uring_sqe *sqe = get_sqe(ring);
    io_uring_prep_accept(sqe, lfd, NULL, NULL, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, (uint64_t)OP_ACCEPT);
}

static void arm_recv(struct io_uring *ring, client *c)
{
    if (c->in_cap - c->in_len < RECV_CHUNK) {
        size_t cap = c->in_cap ? c->in_cap : RECV_CHUNK * 2;
        while (cap - c->in_len < RECV_CHUNK)
            cap *= 2;
        char *p = realloc(c->in, cap);
        if (!p) {
            c->close_after_reply = true;
            return;
        }
        c->in = p;
        c->in_cap = cap;
    }
    struct io_uring_sqe *sqe = get_sqe(ring);
    io_uring_prep_recv(sqe, c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
    io_uring_sqe_set_data64(sqe, pack(c, OP_RECV));
    c->recv_armed = true;
}

static void arm_send(struct io_uring *ring, client *c)
{
    struct io_uring_sqe *sqe = get_sqe(ring);
    io_uring_prep_send(sqe, c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent,
                       MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, pack(c, OP_SEND));
    c->send_armed = true;
}

static void client_free(client *c)
{
    close(c->fd);
    free(c->in);
    resp_cmd_free(&c->cmd);
    resp_out_free(&c->out);
    free(c);
}

/* Frees the client once no operation of the ring still points at it. */
static void maybe_free(client *c)
{
    if (c->closed && !c->recv_armed && !c->send_armed && !c->in_round)
        client_free(c);
}

/* Parses and runs every complete command in the client's input. */
static void process_input(server *s, client *c)
{
    while (!c->close_after_reply && c->in_off < c->in_len) {
        size_t used;
        const char *err;
        int r = resp_parse(c->in + c->in_off, c->in_len - c->in_off, s->cfg.proto_max_bulk_len,
                           &c->cmd, &used, &err);
        if (r == 0)
            break;
        if (r < 0) {
            char msg[256];
            snprintf(msg, sizeof msg, "ERR %s", err);
            resp_error(&c->out, msg);
            c->close_after_reply = true;
            break;
        }
        c->in_off += used;
        command_dispatch(s, c);
    }
    /* keep the unparsed tail at the front of the buffer */
    if (c->in_off == c->in_len) {
        c->in_off = c->in_len = 0;
    } else if (c->in_off > 0 && c->in_off > c->in_cap / 2) {
        memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
        c->in_len -= c->in_off;
        c->in_off = 0;
    }
    if (c->in_len - c->in_off > QUERY_BUFFER_LIMIT) {
        resp_error(&c->out, "ERR Protocol error: client query buffer limit exceeded");
        c->close_after_reply = true;
    }
}

int net_run(server *s)
{
    struct io_uring ring;
    int rc = io_uring_queue_init(4096, &ring, 0);
    if (rc < 0) {
        fprintf(stderr,
                "shale-server: io_uring is not available here (%s); this build needs it "
                "(a kernel of 5.19 or later, not forbidden by seccomp)\n",
                strerror(-rc));
        return rc;
    }
    int lfd = listen_tcp(&s->cfg);
    if (lfd < 0) {
        fprintf(stderr, "shale-server: cannot listen on %s:%d: %s\n", s->cfg.bind, s->cfg.port,
                strerror(-lfd));
        io_uring_queue_exit(&ring);
        return lfd;
    }
    arm_accept(&ring, lfd);
    io_uring_submit(&ring);
    while (!s->stop) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {0, 100 * 1000 * 1000};
        rc = io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
        if (rc == -ETIME || rc == -EINTR)
            continue;
        if (rc < 0)
            break;
        client *round = NULL;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe)
        {
            seen++;
            uint64_t data = io_uring_cqe_get_data64(cqe);
            enum op op = (enum op)(data & OP_MASK);
            client *c = (client *)(uintptr_t)(data & ~OP_MASK);
            int res = cqe->res;
            if (op == OP_ACCEPT) {
                if (res >= 0) {
                    client *nc = calloc(1, sizeof *nc);
                    if (!nc) {
                        close(res);
                    } else {
                        int one = 1;
                        setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                        nc->fd = res;
                        nc->id = ++s->next_client_id;
                        nc->proto = 2;
                        arm_recv(&ring, nc);
                    }
                }
                arm_accept(&ring, lfd);
            } else if (op == OP_RECV) {
                c->recv_armed = false;
                if (res <= 0 || c->closed) {
                    c->closed = true;
                } else {
                    c->in_len += (size_t)res;
                    process_input(s, c);
                    if (!c->in_round) {
                        c->in_round = true;
                        c->round_next = round;
                        round = c;
                    }
                }
                maybe_free(c);
            } else if (op == OP_SEND) {
                c->send_armed = false;
                if (res < 0) {
                    c->closed = true;
                } else {
                    c->out_sent += (size_t)res;
                    if (c->out_sent < c->out.len) {
                        arm_send(&ring, c);
                    } else {
                        c->out.len = c->out_sent = 0;
                        if (c->close_after_reply)
                            c->closed = true;
                        else if (!c->recv_armed)
                            arm_recv(&ring, c);
                    }
                }
                maybe_free(c);
            }
        }
        io_uring_cq_advance(&ring, seen);

        /* Group commit: one sync for every write of this round, before any reply. */
        int sync_rc = 0;
        if (s->wrote_this_round && s->cfg.sync_writes)
            sync_rc = shale_sync(s->db);
        s->wrote_this_round = false;
        while (round) {
            client *c = round;
            round = c->round_next;
            c->in_round = false;
            if (c->closed) {
                maybe_free(c);
                continue;
            }
            if (sync_rc) {
                /* The round's writes may not be durable: no client of it gets an OK. */
                c->out.len = c->out_sent = 0;
                reply_engine_error(c, sync_rc);
                c->close_after_reply = true;
            }
            if (c->out.len > c->out_sent && !c->send_armed)
                arm_send(&ring, c);
            else if (!c->send_armed && !c->recv_armed && !c->close_after_reply)
                arm_recv(&ring, c);
            else if (c->close_after_reply && !c->send_armed)
                c->closed = true;
            maybe_free(c);
        }
        io_uring_submit(&ring);
    }
    close(lfd);
    io_uring_queue_exit(&ring);
    return 0;
}
