/*
 * repl_wire.h - blocking reads and writes on a socket with a bound on every wait, for the
 * full sync's transfer (repl_send.c, repl_recv.c). The socket is made non-blocking while
 * a wire is open and each call polls for at most timeout_ms when it cannot go on: a peer
 * that stops reading or sending gets -ETIMEDOUT instead of hanging the thread. Reads never
 * take a byte past what the caller asks for (what follows belongs to the caller).
 */
#ifndef SHALE_REPL_WIRE_H
#define SHALE_REPL_WIRE_H

#include <stddef.h>
#include <stdint.h>

typedef struct repl_wire {
    int fd;
    int timeout_ms;
    int saved_flags; /* the socket's file status flags, restored by wire_close */
    const char *pre; /* bytes read before the wire opened, consumed first */
    size_t pre_len;
} repl_wire;

/* Makes fd non-blocking for the wire's life. 0 or -errno. */
int wire_open(repl_wire *w, int fd, int timeout_ms, const void *pre, size_t pre_len);
void wire_close(repl_wire *w);

/* Writes all n bytes. 0, -ETIMEDOUT, -errno (-EPIPE: the peer left). */
int wire_write(repl_wire *w, const void *p, size_t n);
/* Reads exactly n bytes. 0, -ETIMEDOUT, -ECONNRESET (the peer closed), -errno. */
int wire_read(repl_wire *w, void *p, size_t n);
/* Reads one line up to "\r\n" (taken, not stored) into line (NUL-terminated, at most
   cap-1 bytes). -EPROTO when longer or not ended by "\r\n". */
int wire_read_line(repl_wire *w, char *line, size_t cap, size_t *len);

#endif
