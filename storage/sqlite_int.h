/*
 * sqlite_int.h: what driver_sqlite.c (threads, queues, the loop side) and
 * sqlite_run.c (what runs on one connection, on a worker thread) share.
 * Private to the SQLite driver.
 */
#ifndef SB_STORAGE_SQLITE_INT_H
#define SB_STORAGE_SQLITE_INT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "driver.h"

struct sb_sqlite_conn;

struct sb_sqlite_conn *sb_sqlite_conn_new(const char *path, int64_t busy_ms,
		    int64_t timeout_ms, int reader, _Atomic unsigned char *readonly,
		    atomic_int *not_wal);
void	 sb_sqlite_conn_free(struct sb_sqlite_conn *c);
void	 sb_sqlite_run_reads(struct sb_sqlite_conn *c, struct sb_store_req **reqs, size_t n);
void	 sb_sqlite_run_writes(struct sb_sqlite_conn *c, struct sb_store_req **reqs, size_t n);

extern const char *const sb_sql_sqlite[SB_Q_COUNT];

#endif
