/*
 * sync_conn.h - a blocking outbound TCP connection with timeouts, for the one command
 * that talks to another server (MIGRATE): connect, write everything, read a reply line,
 * each bounded by a timeout in milliseconds as Redis's syncio.c bounds them. It blocks
 * the calling thread (see docs/commands.md, MIGRATE, for why that is right there); the
 * event loops' own sockets never come here.
 */
#ifndef SHALE_SYNC_CONN_H
#define SHALE_SYNC_CONN_H

#include <stdbool.h>
#include <stddef.h>

/* Buffered reads of one connection: bytes read past a line stay for the next line. */
typedef struct sync_reader {
    int fd;
    size_t off, len;
    char buf[4096];
} sync_reader;

/*
 * Starts a connection to host:port (a name is resolved, each address tried in turn until
 * one connects or is connecting) and waits up to timeout_ms for it to be writable. As
 * Redis's connBlockingConnect, a connection still pending after the wait (or refused
 * meanwhile) is returned all the same: its first write fails. 0 with *fd set (the
 * caller closes it), or -errno when no address could start a connection (a name that
 * does not resolve gives -EHOSTUNREACH).
 */
int sync_connect(const char *host, int port, long long timeout_ms, int *fd);

/* Writes all n bytes within timeout_ms. 0, -ETIMEDOUT, or the write's -errno. */
int sync_write(int fd, const void *p, size_t n, long long timeout_ms);

/*
 * Reads one line (up to \n, without \r\n) into line (cap bytes, NUL-terminated; a longer
 * line is cut there and its rest skipped), each wait for bytes bounded by timeout_ms
 * (Redis's syncReadLine bounds each byte's wait the same way). The line's length,
 * -ETIMEDOUT, -ECONNRESET when the peer closed, or the read's -errno.
 */
long sync_read_line(sync_reader *r, char *line, size_t cap, long long timeout_ms);

/* fd's peer address (peer) or its own, as "ip:port" ("/unixsocket:0" for a unix
   socket, "?:0" when unknown), into buf (cap bytes). Also the event loops' clients'
   addr and laddr, so that a link and a client read alike in CLIENT LIST. */
void sync_format_addr(int fd, bool peer, char *buf, size_t cap);

#endif
