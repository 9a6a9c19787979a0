/*
 * wal.h - the write-ahead log format (also used by the manifest): a sequence of records,
 * each framed with its length, the file's log number and an XXH3 checksum (format.h).
 *
 * Writer: appends whole records. Reader: returns records in order; a torn tail (a header
 * or payload cut short by the end of the file, or a trailing region of zeros) ends the
 * log cleanly; a record whose checksum fails while data follows it is corruption.
 */
#ifndef SHALE_WAL_H
#define SHALE_WAL_H

#include <stdbool.h>
#include <stdint.h>

#include "slice.h"

typedef struct wal_writer wal_writer;

/*
 * Opens path for appending (created, truncated) as log number log_number. preallocate > 0
 * reserves that many bytes up front (fallocate; the file reads as zeros past the last
 * record, which the reader treats as the end): appends then need no file size change,
 * which makes fdatasync cheaper. Errors: -errno, -ENOMEM.
 */
int wal_writer_open(const char *path, uint64_t log_number, uint64_t preallocate, wal_writer **out);
/*
 * Appends one record made of n parts (written with one pwritev). Returns 0 or -errno; after
 * an error the writer refuses every later append with the same error (sticky).
 */
int wal_writer_append(wal_writer *w, const slice *parts, int n);
/*
 * Buffered mode (the engine's manual_wal_flush): later appends are copied into a buffer
 * of cap bytes and reach the file at wal_writer_flush, at a sync, when the buffer is full
 * or at close. Appends, flushes and syncs may then come from different threads.
 */
int wal_writer_set_buffer(wal_writer *w, size_t cap);
/* Writes buffered records to the file (no fsync). 0 or the sticky error. */
int wal_writer_flush(wal_writer *w);
/* Makes everything appended so far durable (flush, fdatasync). Sticky errors as above. */
int wal_writer_sync(wal_writer *w);
/* Extends the preallocated (zero) region to at least upto bytes, so appends up to there
   need no file size change. 0 or -errno. */
int wal_writer_reserve(wal_writer *w, uint64_t upto);
/* After the last append: writes buffered records and cuts the file at its last record
   (drops the preallocated zeros), since the log lives on as a value-log segment. */
int wal_writer_finish(wal_writer *w);
/*
 * After a failed write (a full disk, say; the cause gone): cuts whatever part of a record
 * the failed write left in the file, writes the buffered records again and clears the
 * sticky error. Not after a failed sync: the kernel may have dropped pages it could not
 * write, so only reading the file back (a reopen) tells what is there: SHALE_EFAILED.
 * 0, SHALE_EFAILED, or -errno of this attempt (the writer then stays failed).
 */
int wal_writer_recover(wal_writer *w);
/* True once an fdatasync of this log failed. */
bool wal_writer_failed_sync(const wal_writer *w);
/* Bytes appended (file size). */
uint64_t wal_writer_size(const wal_writer *w);
uint64_t wal_writer_log_number(const wal_writer *w);
/* Closes without syncing (call wal_writer_sync first if needed). NULL: no-op. */
int wal_writer_close(wal_writer *w);

typedef struct wal_reader wal_reader;

/* Opens path for reading, expecting records of log number log_number. Errors: -errno. */
int wal_reader_open(const char *path, uint64_t log_number, wal_reader **out);
/* Starts reading at offset, a record boundary (the end of a prefix already flushed:
   those records are neither read nor checked again). Before the first next only. An
   offset at or past the end of the file reads as an empty log. */
void wal_reader_skip_to(wal_reader *r, uint64_t offset);
/*
 * Reads the next record into *record (valid until the next call). Returns 1 with a
 * record, 0 at the end of the log (including a dropped torn tail), or SHALE_ECORRUPT /
 * -errno. After corruption, wal_reader_offset tells where the bad record starts.
 */
int wal_reader_next(wal_reader *r, slice *record);
/* Offset of the last record returned (or of the bad record after an error). */
uint64_t wal_reader_offset(const wal_reader *r);
/* Offset just after the last whole record (the length of the valid prefix). */
uint64_t wal_reader_valid_end(const wal_reader *r);
/* True when the log ended with a dropped torn tail. */
bool wal_reader_had_torn_tail(const wal_reader *r);
void wal_reader_close(wal_reader *r); /* NULL: no-op */

#endif
