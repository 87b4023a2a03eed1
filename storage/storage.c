/*
 * storage.c: the storage API over the drivers (see storage.h, driver.h).
 *
 * Turns calls into requests (statements and copied parameters in one
 * arena per request), hands them to the configured driver, and delivers
 * results. Also the parts both drivers share: the <storage> configuration,
 * result building, error classes and their log line, and the schema
 * version and migrations.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "driver.h"
#include "log.h"
#include "xmalloc.h"

extern const char *const sb_sql_sqlite[SB_Q_COUNT];
extern const char *const sb_sql_pgsql[SB_Q_COUNT];

static const char *const err_names[] = {
	[SB_STORE_OK] = "ok",
	[SB_STORE_E_CONSTRAINT] = "constraint",
	[SB_STORE_E_UNAVAILABLE] = "unavailable",
	[SB_STORE_E_TIMEOUT] = "timeout",
	[SB_STORE_E_FULL] = "full",
	[SB_STORE_E_INTERNAL] = "internal",
};

const char *
sb_store_err_name(enum sb_store_err err)
{
	return (size_t)err < sizeof(err_names) / sizeof(err_names[0]) ? err_names[err] : "?";
}

int
sb_store_err_is_transient(enum sb_store_err err)
{
	return err == SB_STORE_E_UNAVAILABLE || err == SB_STORE_E_TIMEOUT ||
	    err == SB_STORE_E_FULL;
}

/* --- values --- */

struct sb_db_value
sb_db_textn(const char *s, size_t len)
{
	if (s == NULL)
		return sb_db_null();
	return (struct sb_db_value){ SB_DB_TEXT, 0, s, len };
}

struct sb_db_value
sb_db_text(const char *s)
{
	return sb_db_textn(s, s != NULL ? strlen(s) : 0);
}

struct sb_db_value
sb_db_blob(const void *p, size_t len)
{
	return (struct sb_db_value){ SB_DB_BLOB, 0, p != NULL ? p : "", len };
}

const char *
sb_store_text(const struct sb_store_result *r, size_t row, size_t col)
{
	const struct sb_db_value *v = sb_store_cell(r, row, col);

	return v->type == SB_DB_TEXT ? v->p : "";
}

int64_t
sb_store_int(const struct sb_store_result *r, size_t row, size_t col)
{
	const struct sb_db_value *v = sb_store_cell(r, row, col);

	return v->type == SB_DB_INT ? v->i : 0;
}

const char *
sb_query_params(enum sb_query q)
{
	return sb_query_info[q].params;
}

const char *
sb_query_cols(enum sb_query q)
{
	return sb_query_info[q].cols;
}

/* --- configuration --- */

struct conf_raw {
	int		 driver;
	const char	*path;
	const char	*conninfo;
	int		 pool;
	int64_t		 busy_ms;
	int64_t		 timeout_ms;
	int		 queue_max;
};

static const struct sb_config_enum driver_names[] = {
	{ "sqlite", SB_STORE_SQLITE },
	{ "pgsql", SB_STORE_PGSQL },
	{ "postgresql", SB_STORE_PGSQL },
	{ NULL, 0 },
};

#define F(path, type, member, ...) SB_CONFIG_FIELD(path, type, struct conf_raw, member, __VA_ARGS__)
static const struct sb_config_field conf_fields[] = {
	F("@driver", SB_CONFIG_ENUM, driver, "sqlite", .names = driver_names),
	F("path", SB_CONFIG_PATH, path, NULL),
	F("conninfo", SB_CONFIG_STR, conninfo, NULL),
	F("pool", SB_CONFIG_INT, pool, "4", .min = 1, .max = 64),
	F("busy-timeout", SB_CONFIG_DURATION, busy_ms, "5s", .min = 1, .max = 3600000),
	F("timeout", SB_CONFIG_DURATION, timeout_ms, "10s", .min = 1, .max = 3600000),
	F("queue", SB_CONFIG_INT, queue_max, "10000", .min = 1, .max = 10000000),
	SB_CONFIG_END
};
#undef F

int
sb_store_conf_load(const struct sb_config_node *n, struct sb_store_conf *conf,
    char *err, size_t errlen)
{
	struct conf_raw raw = { 0 };

	memset(conf, 0, sizeof(*conf));
	if (sb_config_apply(n, conf_fields, &raw, SB_CONFIG_STRICT, err, errlen) == -1)
		return -1;
	if (raw.driver == SB_STORE_SQLITE && raw.path == NULL) {
		sb_config_errorf(n, err, errlen, "the sqlite driver needs <path>");
		return -1;
	}
	if (raw.driver == SB_STORE_PGSQL && raw.conninfo == NULL) {
		sb_config_errorf(n, err, errlen, "the pgsql driver needs <conninfo>");
		return -1;
	}
	conf->driver = raw.driver;
	conf->sqlite_path = raw.path != NULL ? xstrdup(raw.path) : NULL;
	conf->pg_conninfo = raw.conninfo != NULL ? xstrdup(raw.conninfo) : NULL;
	conf->pool = raw.pool;
	conf->sqlite_busy_ms = raw.busy_ms;
	conf->timeout_ms = raw.timeout_ms;
	conf->queue_max = raw.queue_max;
	return 0;
}

void
sb_store_conf_free(struct sb_store_conf *conf)
{
	free(conf->sqlite_path);
	free(conf->pg_conninfo);
	conf->sqlite_path = conf->pg_conninfo = NULL;
}

static void
conf_copy(struct sb_store_conf *dst, const struct sb_store_conf *src)
{
	*dst = *src;
	dst->sqlite_path = src->sqlite_path != NULL ? xstrdup(src->sqlite_path) : NULL;
	dst->pg_conninfo = src->pg_conninfo != NULL ? xstrdup(src->pg_conninfo) : NULL;
	if (dst->pool <= 0)
		dst->pool = 4;
	if (dst->sqlite_busy_ms <= 0)
		dst->sqlite_busy_ms = 5000;
	if (dst->timeout_ms <= 0)
		dst->timeout_ms = 10000;
	if (dst->queue_max <= 0)
		dst->queue_max = 10000;
}

/* --- the store --- */

struct sb_store *
sb_store_open(uv_loop_t *loop, const struct sb_store_conf *conf, char *err, size_t errlen)
{
	struct sb_store *st = xcalloc(1, sizeof(*st));

	st->loop = loop;
	conf_copy(&st->conf, conf);
	st->driver = conf->driver == SB_STORE_PGSQL ? &sb_driver_pgsql : &sb_driver_sqlite;
	if (st->driver->open(st, err, errlen) == -1) {
		sb_store_conf_free(&st->conf);
		free(st);
		return NULL;
	}
	return st;
}

const char *
sb_store_driver_name(const struct sb_store *st)
{
	return st->driver->name;
}

void
sb_store_close(struct sb_store *st, void (*done)(void *arg), void *arg)
{
	st->closing = 1;
	st->close_done = done;
	st->close_arg = arg;
	st->driver->close(st);
}

void
sb_store_closed(struct sb_store *st)
{
	void (*done)(void *) = st->close_done;
	void *arg = st->close_arg;

	sb_store_conf_free(&st->conf);
	free(st);
	if (done != NULL)
		done(arg);
}

static void
copy_value(struct sb_arena *a, struct sb_db_value *dst, const struct sb_db_value *src)
{
	*dst = *src;
	if (src->type == SB_DB_TEXT)
		dst->p = sb_arena_strndup(a, src->p, src->len);
	else if (src->type == SB_DB_BLOB)
		dst->p = sb_arena_memdup(a, src->p, src->len);
}

/* Does the value fit the type letter? (NULL only where it is upper case.) */
static int
value_fits(const struct sb_db_value *v, char letter)
{
	static const struct {
		char		 letter;
		enum sb_db_type	 type;
	} types[] = { { 'i', SB_DB_INT }, { 't', SB_DB_TEXT }, { 'b', SB_DB_BLOB } };
	int nullable = letter >= 'A' && letter <= 'Z';
	char lower = nullable ? (char)(letter - 'A' + 'a') : letter;

	if (v->type == SB_DB_NULL)
		return nullable;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].letter == lower)
			return v->type == types[i].type;
	return 0;
}

struct sb_store_req *
sb_store_req_new(struct sb_store *st, const struct sb_store_stmt *stmts, size_t n,
    sb_store_cb *cb, void *arg)
{
	struct sb_store_req *req = xcalloc(1, sizeof(*req));

	sb_arena_init(&req->arena, 0);
	req->store = st;
	req->cb = cb;
	req->arg = arg;
	req->nstmts = n;
	req->stmts = sb_arena_alloc(&req->arena, n * sizeof(*req->stmts));
	for (size_t i = 0; i < n; i++) {
		const char *types = sb_query_params(stmts[i].q);
		size_t np = strlen(types);
		struct sb_db_value *p = sb_arena_alloc(&req->arena, (np ? np : 1) * sizeof(*p));

		req->stmts[i].q = stmts[i].q;
		req->stmts[i].params = p;
		for (size_t j = 0; j < np; j++)
			copy_value(&req->arena, &p[j], &stmts[i].params[j]);
	}
	req->res.errmsg = "";
	return req;
}

/* A caller passing a value of the wrong type is a bug: refuse it loudly. */
static int
check_params(struct sb_store_req *req)
{
	for (size_t i = 0; i < req->nstmts; i++) {
		const char *types = sb_query_params(req->stmts[i].q);

		for (size_t j = 0; types[j] != '\0'; j++) {
			if (!value_fits(&req->stmts[i].params[j], types[j])) {
				sb_store_fail(req, SB_STORE_E_INTERNAL,
				    "parameter %zu is not of type '%c'", j + 1, types[j]);
				return -1;
			}
		}
	}
	return 0;
}

void
sb_store_submit(struct sb_store_req *req)
{
	struct sb_store *st = req->store;

	if (check_params(req) == -1)
		return;
	if (st->closing) {
		sb_store_fail(req, SB_STORE_E_UNAVAILABLE, "storage is closing");
		return;
	}
	st->inflight++;
	st->driver->submit(st, req);
}

void
sb_store_query(struct sb_store *st, enum sb_query q, const struct sb_db_value *params,
    sb_store_cb *cb, void *arg)
{
	struct sb_store_stmt stmt = { q, params };

	sb_store_submit(sb_store_req_new(st, &stmt, 1, cb, arg));
}

void
sb_store_txn(struct sb_store *st, const struct sb_store_stmt *stmts, size_t n,
    sb_store_cb *cb, void *arg)
{
	struct sb_store_req *req = sb_store_req_new(st, stmts, n, cb, arg);

	req->txn = 1;
	sb_store_submit(req);
}

/* --- completion --- */

void
sb_store_done(struct sb_store_req *req)
{
	struct sb_store *st = req->store;

	if (req->cb != NULL)
		req->cb(&req->res, req->arg);
	sb_arena_free(&req->arena);
	free(req);
	if (st->inflight > 0)
		st->inflight--;
}

static const char *
req_name(const struct sb_store_req *req)
{
	if (req->script != NULL)
		return "migration";
	return req->nstmts > 0 ? sb_query_info[req->stmts[req->nstmts - 1].q].name : "?";
}

void
sb_store_fail(struct sb_store_req *req, enum sb_store_err err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	req->res.err = err;
	req->res.errmsg = sb_arena_strdup(&req->arena, msg);
	req->res.nrows = 0;
	req->res.cells = NULL;
	/* A conflict is an ordinary answer (the account exists); the rest needs a look. */
	sb_log(err == SB_STORE_E_CONSTRAINT ? SB_LOG_INFO : SB_LOG_WARN,
	    "storage (%s): %s: %s: %s", req->store->driver->name, req_name(req),
	    sb_store_err_name(err), msg);
	sb_store_done(req);
}

struct sb_db_value *
sb_store_add_row(struct sb_store_req *req, size_t ncols)
{
	struct sb_store_result *r = &req->res;

	r->ncols = ncols;
	if (r->nrows == req->rows_cap) {
		/* Double: drivers put cell text in the arena between rows. */
		size_t cap = req->rows_cap ? req->rows_cap * 2 : 8;
		struct sb_db_value *cells = sb_arena_alloc(&req->arena,
		    cap * (ncols ? ncols : 1) * sizeof(*cells));

		if (r->nrows > 0)
			memcpy(cells, r->cells, r->nrows * ncols * sizeof(*cells));
		r->cells = cells;
		req->rows_cap = cap;
	}
	r->nrows++;
	return (struct sb_db_value *)r->cells + (r->nrows - 1) * ncols;
}

void
sb_store_set_text(struct sb_store_req *req, struct sb_db_value *cell, const void *p, size_t len)
{
	*cell = (struct sb_db_value){ SB_DB_TEXT, 0, sb_arena_strndup(&req->arena, p, len), len };
}

void
sb_store_set_blob(struct sb_store_req *req, struct sb_db_value *cell, const void *p, size_t len)
{
	*cell = (struct sb_db_value){ SB_DB_BLOB, 0, sb_arena_memdup(&req->arena, p, len), len };
}
