/*
 * storage.h: the asynchronous storage API every process uses (sm, c2s for
 * credentials, sbctl, later muc).
 *
 * Shape: a fixed catalogue of named queries (queries.h). Each query has
 * typed parameters and typed result columns declared once in C, and its SQL
 * written once per dialect in storage/sql/<dialect>.sql, where it can be
 * read, reviewed and matched with the schema's indexes. Callers name a
 * query and pass parameter values; they never write SQL, and values are
 * always bound, never spliced into SQL text.
 *
 * Every call returns at once; the result arrives later through a callback
 * on the loop thread. SQLite does its work on libuv's thread pool, PostgreSQL
 * through libpq's asynchronous API watched by the loop: the loop never
 * blocks on the database.
 *
 * Several statements can run as one transaction (sb_store_txn): all or
 * nothing, and the callback gets the rows of the last one.
 *
 * Failures are answers: the callback always comes, exactly once, with an
 * error class the caller can turn into a stanza error (UNAVAILABLE and
 * TIMEOUT mean "wait", the others "cancel"), and the storage layer has
 * logged one line with the details. A database that went away is
 * reconnected with backoff; requests made meanwhile wait in a bounded queue,
 * then fail with UNAVAILABLE.
 */
#ifndef SB_STORAGE_H
#define SB_STORAGE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "queries.h"

struct sb_config_node;
struct sb_store;

/* --- values --- */

enum sb_db_type {
	SB_DB_NULL,
	SB_DB_INT,	/* 64-bit integer; booleans are 0/1 */
	SB_DB_TEXT,	/* UTF-8, not NUL-terminated in the value, but results add a NUL */
	SB_DB_BLOB,
};

struct sb_db_value {
	enum sb_db_type	 type;
	int64_t		 i;
	const void	*p;
	size_t		 len;
};

static inline struct sb_db_value
sb_db_int(int64_t i)
{
	return (struct sb_db_value){ SB_DB_INT, i, NULL, 0 };
}

/* s may be NULL: the value is then NULL. */
struct sb_db_value sb_db_text(const char *s);
struct sb_db_value sb_db_textn(const char *s, size_t len);
struct sb_db_value sb_db_blob(const void *p, size_t len);

static inline struct sb_db_value
sb_db_null(void)
{
	return (struct sb_db_value){ SB_DB_NULL, 0, NULL, 0 };
}

/* --- results --- */

enum sb_store_err {
	SB_STORE_OK,
	SB_STORE_E_CONSTRAINT,	/* a unique or foreign key said no: the data conflicts */
	SB_STORE_E_UNAVAILABLE,	/* the database is down or unreachable: try later */
	SB_STORE_E_TIMEOUT,	/* the statement ran out of time: try later */
	SB_STORE_E_FULL,	/* disk or quota full */
	SB_STORE_E_INTERNAL,	/* anything else: a bug, a broken schema */
};

struct sb_store_result {
	enum sb_store_err	 err;
	const char		*errmsg;	/* details, already logged; "" when OK */
	size_t			 nrows;
	size_t			 ncols;
	const struct sb_db_value *cells;	/* row-major, nrows * ncols */
	int64_t			 changes;	/* rows changed by the (last) statement */
	int64_t			 last_id;	/* id of a row inserted with a RETURNING id */
};

/* Cell (row, col); valid only during the callback. */
static inline const struct sb_db_value *
sb_store_cell(const struct sb_store_result *r, size_t row, size_t col)
{
	return &r->cells[row * r->ncols + col];
}

/* Text of a cell ("" for NULL), NUL-terminated; valid during the callback. */
const char *sb_store_text(const struct sb_store_result *r, size_t row, size_t col);
int64_t	 sb_store_int(const struct sb_store_result *r, size_t row, size_t col);

/* "ok", "constraint", "unavailable", ... */
const char *sb_store_err_name(enum sb_store_err err);
/* Should the caller tell its peer to wait (type='wait') rather than cancel? */
int	 sb_store_err_is_transient(enum sb_store_err err);

typedef void sb_store_cb(const struct sb_store_result *r, void *arg);

/* --- configuration --- */

enum sb_store_driver {
	SB_STORE_SQLITE,
	SB_STORE_PGSQL,
};

struct sb_store_conf {
	int			 driver;		/* enum sb_store_driver */
	char			*sqlite_path;		/* database file */
	int64_t			 sqlite_busy_ms;	/* wait for a lock this long */
	char			*pg_conninfo;		/* libpq connection string */
	int			 pool;			/* connections (pg) / readers (sqlite) */
	int64_t			 timeout_ms;		/* statement timeout */
	int			 queue_max;		/* requests waiting while down */
};

/*
 * Read <storage> from a config node (see etc/switchboard.xml):
 *   <storage driver='sqlite'> <path>var/switchboard.db</path> </storage>
 *   <storage driver='pgsql'> <conninfo>host=/run/postgresql dbname=sb</conninfo> </storage>
 * with optional <pool/>, <timeout/>, <busy-timeout/>, <queue/>.
 */
int	 sb_store_conf_load(const struct sb_config_node *storage, struct sb_store_conf *conf,
	     char *err, size_t errlen);
void	 sb_store_conf_free(struct sb_store_conf *conf);

/* --- the store --- */

/*
 * Open the store (connections are made in the background; a database that
 * is down is not an error here: requests wait, then fail UNAVAILABLE).
 * Returns NULL with err set when the configuration cannot work at all.
 */
struct sb_store *sb_store_open(uv_loop_t *loop, const struct sb_store_conf *conf,
		    char *err, size_t errlen);
/*
 * Close: requests still running complete (their callbacks run), new ones
 * fail; done(arg) is called once everything is released.
 */
void	 sb_store_close(struct sb_store *st, void (*done)(void *arg), void *arg);
const char *sb_store_driver_name(const struct sb_store *st);

/*
 * Run one query. params must hold exactly the query's parameter count, in
 * its order (queries.h); they are copied before this returns.
 */
void	 sb_store_query(struct sb_store *st, enum sb_query q, const struct sb_db_value *params,
	     sb_store_cb *cb, void *arg);

struct sb_store_stmt {
	enum sb_query			 q;
	const struct sb_db_value	*params;
};

/* Run statements as one transaction; the result carries the last one's rows. */
void	 sb_store_txn(struct sb_store *st, const struct sb_store_stmt *stmts, size_t n,
	     sb_store_cb *cb, void *arg);

/* --- schema --- */

/* The newest schema version this build knows. */
int	 sb_store_schema_latest(void);
/*
 * The database's schema version to the callback as one row, one int
 * column (0: empty database, no schema yet).
 */
void	 sb_store_schema_version(struct sb_store *st, sb_store_cb *cb, void *arg);
/* Apply the migrations after the database's version, each in a transaction. */
void	 sb_store_migrate(struct sb_store *st, sb_store_cb *cb, void *arg);

/*
 * For processes at start-up: run the loop until the version is known, and
 * refuse (0 / -1 with err) a database whose version is not
 * sb_store_schema_latest(), with a message that says to run
 * `sbctl db migrate`.
 */
int	 sb_store_check_schema(struct sb_store *st, char *err, size_t errlen);

/*
 * What a server process does at start-up: read <storage> from the file at
 * path (switchboard.xml), open the store into conf and *out, and check its
 * schema as above. 0, or -1 with err (nothing left open).
 */
int	 sb_store_open_file(uv_loop_t *loop, const char *path, struct sb_store_conf *conf,
	     struct sb_store **out, char *err, size_t errlen);

#endif
