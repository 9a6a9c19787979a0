/*
 * client_internal.h - what the client library's files share and users do not see.
 */
#ifndef SHALE_CLIENT_INTERNAL_H
#define SHALE_CLIENT_INTERNAL_H

/* Frees the memory of a reply tree (its top-level reply's owner_). NULL: no-op. */
void client_arena_free(void *owner);

struct shale_client_reader;
/* Room for at least min more bytes at the end of the reader's buffer (compacting or
   growing it), so a socket can read straight into it: *space and its size, or NULL. */
char *client_reader_space(struct shale_client_reader *r, size_t min, size_t *avail);
/* Counts n bytes written at the space as fed. */
void client_reader_commit(struct shale_client_reader *r, size_t n);

#endif
