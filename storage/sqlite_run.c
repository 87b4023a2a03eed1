/*
 * sqlite_run.c: running storage requests on one SQLite connection, for the
 * worker threads of driver_sqlite.c. Nothing here touches the loop or any
 * state shared between threads, except the atomics the driver hands in:
 * results and errors go into each request (its res and its own arena), and
 * the loop thread delivers them.
 *
 * A connection is opened on its first use, in the thread that uses it, with
 * WAL, synchronous=FULL, foreign keys on and the busy timeout set; each
 * catalogue query is prepared on it once, checked against queries.h, and
 * kept.
 *
 * Group commit. The writer runs a batch of requests as one transaction
 * (BEGIN IMMEDIATE ... COMMIT: one fsync for the lot), each request inside
 * its own SAVEPOINT: a request that fails is rolled back to its savepoint
 * and gets its own error, the others commit. When an error makes SQLite
 * abandon the whole transaction (I/O, disk full, an interrupted write), the
 * request that hit it fails and the others run again in a new one.
 * Migrations (req->script) run alone in a transaction of their own.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sqlite3.h>

#include "driver.h"
#include "sqlite_int.h"
#include "xmalloc.h"

#define MAX_PARAMS	32	/* per statement; the catalogue's longest has 11 */
#define PROGRESS_OPS	1000	/* VM steps between two looks at the clock */

/* Transaction control, prepared once per connection like the queries. */
enum ctl {
	CTL_BEGIN,
	CTL_BEGIN_READ,
	CTL_COMMIT,
	CTL_ROLLBACK,
	CTL_SAVEPOINT,
	CTL_RELEASE,
	CTL_ROLLBACK_TO,
	CTL_COUNT
};

static const char *const ctl_sql[CTL_COUNT] = {
	[CTL_BEGIN] = "BEGIN IMMEDIATE",	/* the write lock at once: no upgrade deadlock */
	[CTL_BEGIN_READ] = "BEGIN",
	[CTL_COMMIT] = "COMMIT",
	[CTL_ROLLBACK] = "ROLLBACK",
	[CTL_SAVEPOINT] = "SAVEPOINT req",
	[CTL_RELEASE] = "RELEASE req",
	[CTL_ROLLBACK_TO] = "ROLLBACK TO req",
};

/* A catalogue query prepared on one connection. */
struct pstmt {
	sqlite3_stmt	*s;
	int		 pidx[MAX_PARAMS];	/* bind index of $1, $2, ... */
	int		 nparams;
	int		 ncols;
	int		 readonly;
	int		 is_insert;
	int		 returns_id;		/* RETURNING id: last_id from the rows */
};

struct sb_sqlite_conn {
	sqlite3		*db;		/* NULL until first used, or after a failed open */
	struct pstmt	 stmts[SB_Q_COUNT];
	sqlite3_stmt	*ctl[CTL_COUNT];
	uint64_t	 deadline;	/* uv_hrtime() of the statement timeout; 0: none */
	char		*path;
	int64_t		 busy_ms;
	uint64_t	 timeout_ns;
	int		 reader;
	_Atomic unsigned char *readonly;	/* per query: 1 once known read-only */
	atomic_int	*not_wal;
};

/* --- errors: they go into the request; the loop thread logs them --- */

enum hint {
	HINT_NONE,
	HINT_PATH,	/* say which file */
	HINT_LOCK,	/* say which file, and how long we waited */
	HINT_TIME,	/* our statement timeout */
};

static const struct {
	int			 code;	/* primary result code */
	enum sb_store_err	 err;
	enum hint		 hint;
} err_classes[] = {
	{ SQLITE_CONSTRAINT,	SB_STORE_E_CONSTRAINT,	HINT_NONE },
	{ SQLITE_FULL,		SB_STORE_E_FULL,	HINT_PATH },
	{ SQLITE_BUSY,		SB_STORE_E_TIMEOUT,	HINT_LOCK },
	{ SQLITE_LOCKED,	SB_STORE_E_TIMEOUT,	HINT_LOCK },
	{ SQLITE_INTERRUPT,	SB_STORE_E_TIMEOUT,	HINT_TIME },
	{ SQLITE_CANTOPEN,	SB_STORE_E_UNAVAILABLE,	HINT_PATH },
	{ SQLITE_IOERR,		SB_STORE_E_UNAVAILABLE,	HINT_PATH },
	{ SQLITE_NOTADB,	SB_STORE_E_UNAVAILABLE,	HINT_PATH },
	{ SQLITE_CORRUPT,	SB_STORE_E_UNAVAILABLE,	HINT_PATH },
};

static void
res_reset(struct sb_store_req *req)
{
	req->res.err = SB_STORE_OK;
	req->res.errmsg = "";
	req->res.nrows = 0;
	req->res.ncols = 0;
	req->res.cells = NULL;
	req->res.changes = 0;
	req->res.last_id = 0;
	req->rows_cap = 0;
}

static void
req_error(struct sb_store_req *req, enum sb_store_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
req_error(struct sb_store_req *req, enum sb_store_err err, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	res_reset(req);
	req->res.err = err;
	req->res.errmsg = sb_arena_strdup(&req->arena, buf);
}

/*
 * Record SQLite's error rc on req; what prefixes the message. Call it
 * before anything else runs on the connection, which would replace
 * sqlite3_errmsg().
 */
static void
db_error(struct sb_sqlite_conn *c, struct sb_store_req *req, int rc, const char *what)
{
	const char *msg = c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc);
	enum sb_store_err err = SB_STORE_E_INTERNAL;
	enum hint hint = HINT_NONE;

	for (size_t i = 0; i < sizeof(err_classes) / sizeof(err_classes[0]); i++) {
		if (err_classes[i].code == (rc & 0xff)) {
			err = err_classes[i].err;
			hint = err_classes[i].hint;
			break;
		}
	}
	switch (hint) {
	case HINT_NONE:
		req_error(req, err, "%s%s", what, msg);
		break;
	case HINT_PATH:
		req_error(req, err, "%s%s: %s", what, c->path, msg);
		break;
	case HINT_LOCK:
		req_error(req, err, "%s%s: %s (waited %lld ms)", what, c->path, msg,
		    (long long)c->busy_ms);
		break;
	case HINT_TIME:
		req_error(req, err, "%sstatement ran longer than %llu ms", what,
		    (unsigned long long)(c->timeout_ns / 1000000));
		break;
	}
}

static void
db_error_all(struct sb_sqlite_conn *c, struct sb_store_req **reqs, size_t n, int rc,
    const char *what)
{
	for (size_t i = 0; i < n; i++)
		db_error(c, reqs[i], rc, what);
}

/* The query's name as a message prefix when the request has several statements. */
static const char *
stmt_label(const struct sb_store_req *req, enum sb_query q, char *buf, size_t len)
{
	if (req->nstmts <= 1 && req->script == NULL)
		return "";
	snprintf(buf, len, "%s: ", sb_query_info[q].name);
	return buf;
}

/* --- connections --- */

struct sb_sqlite_conn *
sb_sqlite_conn_new(const char *path, int64_t busy_ms, int64_t timeout_ms, int reader,
    _Atomic unsigned char *readonly, atomic_int *not_wal)
{
	struct sb_sqlite_conn *c = xcalloc(1, sizeof(*c));

	c->path = xstrdup(path);
	c->busy_ms = busy_ms;
	c->timeout_ns = (uint64_t)timeout_ms * 1000000;
	c->reader = reader;
	c->readonly = readonly;
	c->not_wal = not_wal;
	return c;
}

static void
conn_close(struct sb_sqlite_conn *c)
{
	for (size_t i = 0; i < SB_Q_COUNT; i++)
		sqlite3_finalize(c->stmts[i].s);
	for (size_t i = 0; i < CTL_COUNT; i++)
		sqlite3_finalize(c->ctl[i]);
	memset(c->stmts, 0, sizeof(c->stmts));
	memset(c->ctl, 0, sizeof(c->ctl));
	sqlite3_close(c->db);
	c->db = NULL;
}

void
sb_sqlite_conn_free(struct sb_sqlite_conn *c)
{
	if (c == NULL)
		return;
	conn_close(c);
	free(c->path);
	free(c);
}

static int
on_progress(void *arg)
{
	const struct sb_sqlite_conn *c = arg;

	return c->deadline != 0 && uv_hrtime() > c->deadline;
}

/* WAL lets readers run beside the writer; without it we still work, slower. */
static int
set_wal(struct sb_sqlite_conn *c)
{
	sqlite3_stmt *s;
	int rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &s, NULL);

	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *mode = (const char *)sqlite3_column_text(s, 0);

		if (mode == NULL || strcasecmp(mode, "wal") != 0)
			atomic_store(c->not_wal, 1);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(s);
	return rc;
}

static int
conn_setup(struct sb_sqlite_conn *c)
{
	int rc;

	sqlite3_extended_result_codes(c->db, 1);
	/* First, so that the pragmas below wait for other processes too. */
	sqlite3_busy_timeout(c->db, c->busy_ms > INT_MAX ? INT_MAX : (int)c->busy_ms);
	sqlite3_progress_handler(c->db, PROGRESS_OPS, on_progress, c);
	if ((rc = set_wal(c)) != SQLITE_OK)
		return rc;
	/* FULL: a committed offline message survives a power cut. */
	rc = sqlite3_exec(c->db, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON", NULL, NULL,
	    NULL);
	/* A reader handed a write by mistake fails instead of taking the lock. */
	if (rc == SQLITE_OK && c->reader)
		rc = sqlite3_exec(c->db, "PRAGMA query_only=ON", NULL, NULL, NULL);
	return rc;
}

/* Open the connection if it is not: on failure every request fails. */
static int
conn_ensure(struct sb_sqlite_conn *c, struct sb_store_req **reqs, size_t n)
{
	int rc;

	if (c->db != NULL)
		return 0;
	rc = sqlite3_open_v2(c->path, &c->db,
	    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = conn_setup(c);
	if (rc == SQLITE_OK)
		return 0;
	db_error_all(c, reqs, n, rc, "");
	conn_close(c);		/* and try again with the next batch */
	return -1;
}

static int
ctl(struct sb_sqlite_conn *c, enum ctl which)
{
	sqlite3_stmt **s = &c->ctl[which];
	int rc;

	if (*s == NULL) {
		rc = sqlite3_prepare_v3(c->db, ctl_sql[which], -1, SQLITE_PREPARE_PERSISTENT, s, NULL);
		if (rc != SQLITE_OK)
			return rc;
	}
	c->deadline = 0;	/* never interrupt a COMMIT or a ROLLBACK */
	rc = sqlite3_step(*s);
	sqlite3_reset(*s);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int
in_txn(struct sb_sqlite_conn *c)
{
	return !sqlite3_get_autocommit(c->db);
}

/* --- statements --- */

static int
is_blank(const char *s)
{
	while (*s != '\0' && isspace((unsigned char)*s))
		s++;
	return *s == '\0';
}

static int
starts_with_word(const char *s, const char *word)
{
	while (isspace((unsigned char)*s))
		s++;
	return strncasecmp(s, word, strlen(word)) == 0;
}

/*
 * Does the prepared statement take the parameters and return the columns
 * the catalogue declares? Fills the $N -> bind index map. 0, or -1 with
 * req failed INTERNAL: sqlite.sql and queries.h disagree.
 */
static int
stmt_check(struct pstmt *ps, enum sb_query q, struct sb_store_req *req)
{
	const char *name = sb_query_info[q].name;
	int np = (int)strlen(sb_query_params(q)), nc = (int)strlen(sb_query_cols(q));
	char var[16];

	if (np > MAX_PARAMS || sqlite3_bind_parameter_count(ps->s) != np) {
		req_error(req, SB_STORE_E_INTERNAL, "sqlite.sql: %s takes %d parameters, "
		    "queries.h says %d", name, sqlite3_bind_parameter_count(ps->s), np);
		return -1;
	}
	if (sqlite3_column_count(ps->s) != nc) {
		req_error(req, SB_STORE_E_INTERNAL, "sqlite.sql: %s returns %d columns, "
		    "queries.h says %d", name, sqlite3_column_count(ps->s), nc);
		return -1;
	}
	for (int k = 0; k < np; k++) {
		snprintf(var, sizeof(var), "$%d", k + 1);
		if ((ps->pidx[k] = sqlite3_bind_parameter_index(ps->s, var)) == 0) {
			req_error(req, SB_STORE_E_INTERNAL, "sqlite.sql: %s does not use %s",
			    name, var);
			return -1;
		}
	}
	ps->nparams = np;
	ps->ncols = nc;
	return 0;
}

/* The query prepared on this connection (once, then cached), or NULL with req failed. */
static struct pstmt *
stmt_get(struct sb_sqlite_conn *c, enum sb_query q, struct sb_store_req *req)
{
	struct pstmt *ps = &c->stmts[q];
	const char *tail = NULL;
	char label[64];
	int rc;

	if (ps->s != NULL)
		return ps;
	rc = sqlite3_prepare_v3(c->db, sb_sql_sqlite[q], -1, SQLITE_PREPARE_PERSISTENT, &ps->s,
	    &tail);
	if (rc != SQLITE_OK) {
		db_error(c, req, rc, stmt_label(req, q, label, sizeof(label)));
		return NULL;
	}
	if (ps->s == NULL || !is_blank(tail)) {
		req_error(req, SB_STORE_E_INTERNAL, "sqlite.sql: %s must be exactly one statement",
		    sb_query_info[q].name);
	} else if (stmt_check(ps, q, req) == 0) {
		ps->readonly = sqlite3_stmt_readonly(ps->s);
		ps->is_insert = starts_with_word(sb_sql_sqlite[q], "INSERT") ||
		    starts_with_word(sb_sql_sqlite[q], "REPLACE");
		ps->returns_id = !ps->readonly && ps->ncols > 0 &&
		    strcasecmp(sqlite3_column_name(ps->s, 0), "id") == 0;
		if (ps->readonly)
			atomic_store_explicit(&c->readonly[q], 1, memory_order_relaxed);
		return ps;
	}
	/* Not cached: every request of this query fails with the same message. */
	sqlite3_finalize(ps->s);
	ps->s = NULL;
	return NULL;
}

static int
bind_one(sqlite3_stmt *s, int idx, const struct sb_db_value *v)
{
	switch (v->type) {
	case SB_DB_INT:
		return sqlite3_bind_int64(s, idx, v->i);
	case SB_DB_TEXT:
		/* The values live in the request's arena until the statement is reset. */
		return sqlite3_bind_text64(s, idx, v->p, v->len, SQLITE_STATIC, SQLITE_UTF8);
	case SB_DB_BLOB:
		return sqlite3_bind_blob64(s, idx, v->p != NULL ? v->p : "", v->len, SQLITE_STATIC);
	default:
		return sqlite3_bind_null(s, idx);
	}
}

static int
bind_params(struct pstmt *ps, const struct sb_db_value *params)
{
	int rc;

	for (int k = 0; k < ps->nparams; k++)
		if ((rc = bind_one(ps->s, ps->pidx[k], &params[k])) != SQLITE_OK)
			return rc;
	return SQLITE_OK;
}

/* One result row, typed by the catalogue's column letters. */
static void
read_row(struct sb_store_req *req, struct pstmt *ps, const char *cols)
{
	struct sb_db_value *row = sb_store_add_row(req, (size_t)ps->ncols);

	for (int i = 0; i < ps->ncols; i++) {
		const void *p;

		if (sqlite3_column_type(ps->s, i) == SQLITE_NULL) {
			row[i] = sb_db_null();
			continue;
		}
		switch (tolower((unsigned char)cols[i])) {
		case 'i':
			row[i] = sb_db_int(sqlite3_column_int64(ps->s, i));
			break;
		case 't':
			p = sqlite3_column_text(ps->s, i);
			sb_store_set_text(req, &row[i], p != NULL ? p : "",
			    (size_t)sqlite3_column_bytes(ps->s, i));
			break;
		default:
			p = sqlite3_column_blob(ps->s, i);
			sb_store_set_blob(req, &row[i], p != NULL ? p : "",
			    (size_t)sqlite3_column_bytes(ps->s, i));
			break;
		}
	}
}

static void
set_counts(struct sb_sqlite_conn *c, struct sb_store_req *req, const struct pstmt *ps)
{
	struct sb_store_result *r = &req->res;

	/* sqlite3_changes() keeps the last write's count: a read changed nothing. */
	r->changes = ps->readonly ? 0 : sqlite3_changes64(c->db);
	if (ps->is_insert && r->changes > 0)
		r->last_id = sqlite3_last_insert_rowid(c->db);
	if (ps->returns_id && r->nrows > 0) {
		const struct sb_db_value *v = sb_store_cell(r, r->nrows - 1, 0);

		if (v->type == SB_DB_INT)
			r->last_id = v->i;
	}
}

/* Run statement i of req; the last one's rows and counts become the result. */
static int
run_stmt(struct sb_sqlite_conn *c, struct sb_store_req *req, size_t i)
{
	const struct sb_store_stmt *sm = &req->stmts[i];
	int last = i + 1 == req->nstmts;
	const char *cols = sb_query_cols(sm->q);
	struct pstmt *ps;
	char label[64];
	int rc;

	if ((ps = stmt_get(c, sm->q, req)) == NULL)
		return -1;
	if ((rc = bind_params(ps, sm->params)) == SQLITE_OK) {
		if (last) {
			res_reset(req);
			req->res.ncols = (size_t)ps->ncols;
		}
		c->deadline = uv_hrtime() + c->timeout_ns;
		while ((rc = sqlite3_step(ps->s)) == SQLITE_ROW)
			if (last)
				read_row(req, ps, cols);
		c->deadline = 0;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_OK) {
		db_error(c, req, rc, stmt_label(req, sm->q, label, sizeof(label)));
		sqlite3_reset(ps->s);
		return -1;
	}
	if (last)
		set_counts(c, req, ps);
	sqlite3_reset(ps->s);
	return 0;
}

static int
run_stmts(struct sb_sqlite_conn *c, struct sb_store_req *req)
{
	if (req->nstmts == 0)
		res_reset(req);
	for (size_t i = 0; i < req->nstmts; i++)
		if (run_stmt(c, req, i) == -1)
			return -1;
	return 0;
}

/* --- reads --- */

/*
 * Single read-only statements. A batch shares one read transaction: one
 * snapshot and one round of WAL and file locking instead of one per
 * request. Every request of the batch was submitted before the batch was
 * taken, so the snapshot holds every write whose callback had run by then.
 */
void
sb_sqlite_run_reads(struct sb_sqlite_conn *c, struct sb_store_req **reqs, size_t n)
{
	int txn;

	if (conn_ensure(c, reqs, n) == -1)
		return;
	txn = n > 1 && ctl(c, CTL_BEGIN_READ) == SQLITE_OK;
	for (size_t i = 0; i < n; i++)
		run_stmts(c, reqs[i]);
	if (txn && in_txn(c))
		ctl(c, CTL_COMMIT);
}

/* --- writes --- */

/* req in its own savepoint: 0, or -1 with req failed and its work undone. */
static int
run_in_savepoint(struct sb_sqlite_conn *c, struct sb_store_req *req)
{
	int rc;

	if ((rc = ctl(c, CTL_SAVEPOINT)) != SQLITE_OK) {
		db_error(c, req, rc, "savepoint: ");
		return -1;
	}
	if (run_stmts(c, req) == 0) {
		if ((rc = ctl(c, CTL_RELEASE)) == SQLITE_OK)
			return 0;
		db_error(c, req, rc, "release: ");
	}
	/* Unless SQLite already rolled the whole transaction back. */
	if (in_txn(c)) {
		ctl(c, CTL_ROLLBACK_TO);
		ctl(c, CTL_RELEASE);
	}
	return -1;
}

/*
 * One pass of a group commit over reqs[0..*n): those that succeed move to
 * the front and *n counts them. Returns 1, stopping early, when a failure
 * took the whole transaction with it: the successes so far must run again,
 * followed by the requests after the failure, which move up to join them
 * (*n counts both).
 */
static int
group_pass(struct sb_sqlite_conn *c, struct sb_store_req **reqs, size_t *n)
{
	size_t ok = 0;

	for (size_t i = 0; i < *n; i++) {
		if (run_in_savepoint(c, reqs[i]) == 0) {
			reqs[ok++] = reqs[i];
		} else if (!in_txn(c)) {
			memmove(&reqs[ok], &reqs[i + 1], (*n - i - 1) * sizeof(*reqs));
			*n = ok + (*n - i - 1);
			return 1;
		}
	}
	*n = ok;
	return 0;
}

/* reqs[0..n) as one transaction, each request with its rows or its own error. */
static void
write_group(struct sb_sqlite_conn *c, struct sb_store_req **reqs, size_t n)
{
	int rc, lost = 1;

	while (n > 0 && lost) {
		if ((rc = ctl(c, CTL_BEGIN)) != SQLITE_OK) {
			db_error_all(c, reqs, n, rc, "");
			return;
		}
		lost = group_pass(c, reqs, &n);
	}
	if (n == 0) {
		if (in_txn(c))
			ctl(c, CTL_ROLLBACK);	/* all failed: nothing to commit */
		return;
	}
	if ((rc = ctl(c, CTL_COMMIT)) != SQLITE_OK) {
		db_error_all(c, reqs, n, rc, "commit: ");
		if (in_txn(c))
			ctl(c, CTL_ROLLBACK);
	}
}

/*
 * A migration: its script, then its statements (the version update), in
 * one transaction. Not timed: a migration of a big database may take long,
 * and stopping it halfway only wastes the work.
 */
static void
write_script(struct sb_sqlite_conn *c, struct sb_store_req *req)
{
	int rc;

	if ((rc = ctl(c, CTL_BEGIN)) != SQLITE_OK) {
		db_error(c, req, rc, "");
		return;
	}
	c->deadline = 0;
	if ((rc = sqlite3_exec(c->db, req->script, NULL, NULL, NULL)) != SQLITE_OK) {
		db_error(c, req, rc, "migration script: ");
	} else if (run_stmts(c, req) == 0) {
		if ((rc = ctl(c, CTL_COMMIT)) == SQLITE_OK)
			return;
		db_error(c, req, rc, "commit: ");
	}
	if (in_txn(c))
		ctl(c, CTL_ROLLBACK);
}

/*
 * Everything the writer took at once: consecutive requests as one group
 * commit, a migration alone. reqs is scratch (reordered).
 */
void
sb_sqlite_run_writes(struct sb_sqlite_conn *c, struct sb_store_req **reqs, size_t n)
{
	size_t start = 0;

	if (conn_ensure(c, reqs, n) == -1)
		return;
	for (size_t i = 0; i < n; i++) {
		if (reqs[i]->script == NULL)
			continue;
		write_group(c, &reqs[start], i - start);
		write_script(c, reqs[i]);
		start = i + 1;
	}
	write_group(c, &reqs[start], n - start);
}
