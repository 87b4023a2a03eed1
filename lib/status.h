/*
 * status.h: a process's status file, for sbctl status and for admins.
 *
 * A process whose configuration has <status file='...' interval='5s'/>
 * writes, every interval and on sb_status_write() (SIGUSR1), a small text
 * file of "key value" lines:
 *
 *   # switchboard c2s status
 *   process c2s
 *   pid 4121
 *   started 1763736001
 *   updated 1763736060
 *   connections 12
 *   ...
 *
 * The first five lines are written here; the rest come from the
 * process's snapshot callback (counters, one line per link, ...). The
 * snapshot is taken on the loop; the file is written on libuv's thread
 * pool (the loop never waits on the disk) under a temporary name and
 * renamed, so a reader never sees half a file. It is removed when the
 * process stops, so a file that is there belongs to a running process
 * (or to one that crashed: its pid says which).
 */
#ifndef SB_STATUS_H
#define SB_STATUS_H

#include <stdint.h>

#include <uv.h>

#include "buf.h"

struct sb_status;

/* Append the process's own lines to b. */
typedef void sb_status_fn(struct sb_buf *b, void *arg);

/* Start writing path every interval_ms (the first write at once). */
struct sb_status *sb_status_start(uv_loop_t *loop, const char *process, const char *path,
	     int64_t interval_ms, sb_status_fn *fn, void *arg);
/* Write now (a write in progress is followed by one more). NULL: nothing. */
void	 sb_status_write(struct sb_status *st);
/* Stop: the file is removed once the last write is done. NULL: nothing. */
void	 sb_status_stop(struct sb_status *st);

#endif
