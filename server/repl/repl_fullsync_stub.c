/* repl_fullsync_stub.c - the full-sync seam's answers until the full sync is built
   (repl_fullsync.h): none is available, so a replica that needs one retries later. */
#include "repl_fullsync.h"

#include <errno.h>

int repl_fullsync_send(server *s, int fd, const repl_link *link, uint64_t *seq)
{
    (void)s;
    (void)fd;
    (void)link;
    *seq = 0;
    return -ENOTSUP;
}

int repl_fullsync_receive(server *s, int fd, struct sync_reader *rd, const char *replid,
                          uint64_t seq)
{
    (void)s;
    (void)fd;
    (void)rd;
    (void)replid;
    (void)seq;
    return -ENOTSUP;
}

int repl_fullsync_have(server *s, const char **argv, int cap)
{
    (void)s;
    (void)argv;
    (void)cap;
    return 0;
}
