/*
 * coding.h - little-endian fixed-width and varint encodings used by every on-disk format
 * (docs/format.md). Decoders take a bounds pointer and never read past it.
 */
#ifndef SHALE_CODING_H
#define SHALE_CODING_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "slice.h"

static inline void encode_fixed16(char *p, uint16_t v)
{
    memcpy(p, &v, 2); /* the engine only builds on little-endian hosts (checked in format.h) */
}
static inline void encode_fixed32(char *p, uint32_t v)
{
    memcpy(p, &v, 4);
}
static inline void encode_fixed64(char *p, uint64_t v)
{
    memcpy(p, &v, 8);
}
static inline uint16_t decode_fixed16(const char *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}
static inline uint32_t decode_fixed32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static inline uint64_t decode_fixed64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Writes v as a varint at p (at most 5 / 10 bytes); returns the byte after it. */
char *encode_varint32(char *p, uint32_t v);
char *encode_varint64(char *p, uint64_t v);
int varint_length(uint64_t v);

/*
 * Reads a varint from [p, limit). Returns the byte after it, or NULL when the input ends
 * early or the varint is too long (corrupt input).
 */
const char *decode_varint32(const char *p, const char *limit, uint32_t *v);
const char *decode_varint64(const char *p, const char *limit, uint64_t *v);

/* Appends to a buf; 0 or -ENOMEM. */
int put_fixed32(buf *b, uint32_t v);
int put_fixed64(buf *b, uint64_t v);
int put_varint32(buf *b, uint32_t v);
int put_varint64(buf *b, uint64_t v);
/* varint length then bytes */
int put_length_prefixed(buf *b, slice s);

/* Consumes from *in; 0, or SHALE_ECORRUPT when the input is short or malformed. */
int get_varint32(slice *in, uint32_t *v);
int get_varint64(slice *in, uint64_t *v);
int get_fixed32(slice *in, uint32_t *v);
int get_fixed64(slice *in, uint64_t *v);
int get_length_prefixed(slice *in, slice *out);

#endif
