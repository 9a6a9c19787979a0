/*
 * client_internal.h - what the client library's files share and users do not see.
 */
#ifndef SHALE_CLIENT_INTERNAL_H
#define SHALE_CLIENT_INTERNAL_H

/* Frees the memory of a reply tree (its top-level reply's owner_). NULL: no-op. */
void client_arena_free(void *owner);

#endif
