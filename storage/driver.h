/*
 * driver.h: what a storage driver implements, and what storage.c gives it.
 * Not for callers of the storage API (they use storage.h).
 *
 * storage.c turns each sb_store_query()/sb_store_txn() into a request: the
 * statements with their parameters copied into the request's arena. It
 * hands requests to the driver with submit(); the driver runs them (on a
 * worker thread, or through libpq's asynchronous API) and, back on the loop
 * thread, fills req->res (rows allocated from req->arena) and calls
 * sb_store_done(req), which runs the caller's callback and frees the
 * request. Every submitted request is completed exactly once, also when the
 * database is down (err UNAVAILABLE after the queue bound or on close).
 *
 * A request with more than one statement, or with txn set, runs as one
 * transaction: BEGIN, the statements, COMMIT; on any error ROLLBACK, and
 * the error is the result. The result rows are those of the last statement.
 *
 * Scripts (migrations) are request kind SB_REQ_SCRIPT: req->script is SQL
 * text of several statements, run in one transaction together with the
 * statements that follow it in req->stmts (the version update).
 */
#ifndef SB_STORAGE_DRIVER_H
#define SB_STORAGE_DRIVER_H

#include <stddef.h>

#include "arena.h"
#include "storage.h"

struct sb_store_req {
	struct sb_store_req	*next;		/* the driver's queues */
	struct sb_store		*store;
	struct sb_arena		 arena;		/* parameters, result rows, messages */
	const char		*script;	/* SQL script run first, or NULL */
	struct sb_store_stmt	*stmts;
	size_t			 nstmts;
	int			 txn;		/* run as a transaction even if nstmts == 1 */
	sb_store_cb		*cb;
	void			*arg;
	struct sb_store_result	 res;		/* filled by the driver */
	size_t			 rows_cap;	/* rows res.cells has room for */
	void			*driver_data;	/* the driver's per-request state */
};

struct sb_migration {
	int		 version;
	const char	*name;		/* "initial" */
	const char	*sql;
};

struct sb_driver {
	const char	*name;		/* "sqlite", "pgsql" */
	/* SQL of each query and the migrations, generated from storage/sql and storage/schema. */
	const char *const		*sql;
	const struct sb_migration	*migrations;
	const size_t			*nmigrations;	/* the generated count */
	/*
	 * Set up (st->driver_state) without blocking: connections may be made
	 * in the background. -1 with err only for a configuration that cannot
	 * work (a bad path, a malformed conninfo).
	 */
	int	(*open)(struct sb_store *st, char *err, size_t errlen);
	void	(*submit)(struct sb_store *st, struct sb_store_req *req);
	/* Complete what is queued and release everything; then call sb_store_closed(st). */
	void	(*close)(struct sb_store *st);
};

/* What storage.c keeps per store; drivers use loop, conf and driver_state. */
struct sb_store {
	uv_loop_t			*loop;
	struct sb_store_conf		 conf;
	const struct sb_driver		*driver;
	void				*driver_state;
	size_t				 inflight;
	int				 closing;
	void				(*close_done)(void *);
	void				*close_arg;
};

extern const struct sb_driver sb_driver_sqlite;
extern const struct sb_driver sb_driver_pgsql;

/* A request with copied parameters (storage.c); schema.c adds a script. */
struct sb_store_req *sb_store_req_new(struct sb_store *st, const struct sb_store_stmt *stmts,
		    size_t n, sb_store_cb *cb, void *arg);
/* Check the parameters against the catalogue and hand the request to the driver. */
void	 sb_store_submit(struct sb_store_req *req);

/* Back on the loop thread: deliver req->res to the caller and free req. */
void	 sb_store_done(struct sb_store_req *req);
/* Fail a request with an error class and a message (copied), then done. */
void	 sb_store_fail(struct sb_store_req *req, enum sb_store_err err, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));
/* The driver has released everything after close(). */
void	 sb_store_closed(struct sb_store *st);

/*
 * Result building for drivers: allocate nrows x ncols cells in the request's
 * arena (rows may be added one at a time with sb_store_add_row, which grows
 * the table), and copy text/blob bytes into the arena (text gets a NUL).
 */
struct sb_db_value *sb_store_add_row(struct sb_store_req *req, size_t ncols);
void	 sb_store_set_text(struct sb_store_req *req, struct sb_db_value *cell,
	     const void *p, size_t len);
void	 sb_store_set_blob(struct sb_store_req *req, struct sb_db_value *cell,
	     const void *p, size_t len);

/* Type letters of the query's parameters / columns (queries.h). */
const char *sb_query_params(enum sb_query q);
const char *sb_query_cols(enum sb_query q);

#endif
