/*
 * schema.c: the database's schema version, migrations, and the start-up
 * check (see storage.h).
 *
 * Migrations are storage/schema/<dialect>/NNN-name.sql, embedded by
 * tools/sqlgen.sh. Each runs as one request: its script and the version
 * update in one transaction, so a database is always at a version some
 * build knows, never between two.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "driver.h"
#include "log.h"
#include "xmalloc.h"

extern const size_t sb_migrations_sqlite_count;

int
sb_store_schema_latest(void)
{
	/* Every dialect has the same migrations (t/unit/storage.c checks). */
	return (int)sb_migrations_sqlite_count;
}

/* A one-row, one-column integer result. */
static void
deliver_int(sb_store_cb *cb, void *arg, int64_t v)
{
	struct sb_db_value cell = sb_db_int(v);
	struct sb_store_result r = { SB_STORE_OK, "", 1, 1, &cell, 0, 0 };

	cb(&r, arg);
}

static void
deliver_error(sb_store_cb *cb, void *arg, enum sb_store_err err, const char *msg)
{
	struct sb_store_result r = { err, msg, 0, 0, NULL, 0, 0 };

	log_warn("storage: %s", msg);
	cb(&r, arg);
}

/* --- version --- */

struct version_op {
	struct sb_store	*st;
	sb_store_cb	*cb;
	void		*arg;
};

static void
version_got(const struct sb_store_result *r, void *arg)
{
	struct version_op *op = arg;

	if (r->err != SB_STORE_OK)
		op->cb(r, op->arg);
	else
		deliver_int(op->cb, op->arg, r->nrows ? sb_store_int(r, 0, 0) : 0);
	free(op);
}

static void
exists_got(const struct sb_store_result *r, void *arg)
{
	struct version_op *op = arg;

	if (r->err != SB_STORE_OK || r->nrows == 0 || sb_store_int(r, 0, 0) == 0) {
		/* No schema_version table: an empty database, version 0. */
		if (r->err != SB_STORE_OK)
			op->cb(r, op->arg);
		else
			deliver_int(op->cb, op->arg, 0);
		free(op);
		return;
	}
	sb_store_query(op->st, SB_Q_SCHEMA_VERSION, NULL, version_got, op);
}

void
sb_store_schema_version(struct sb_store *st, sb_store_cb *cb, void *arg)
{
	struct version_op *op = xcalloc(1, sizeof(*op));

	op->st = st;
	op->cb = cb;
	op->arg = arg;
	sb_store_query(st, SB_Q_SCHEMA_EXISTS, NULL, exists_got, op);
}

/* --- migrations --- */

struct migrate_op {
	struct sb_store	*st;
	sb_store_cb	*cb;
	void		*arg;
	int		 version;	/* the database's, as migrated so far */
};

static void migrate_next(struct migrate_op *op);

static void
migrated_one(const struct sb_store_result *r, void *arg)
{
	struct migrate_op *op = arg;
	const struct sb_migration *m = &op->st->driver->migrations[op->version];

	if (r->err != SB_STORE_OK) {
		op->cb(r, op->arg);
		free(op);
		return;
	}
	op->version = m->version;
	log_notice("storage (%s): schema migrated to version %d (%s)", op->st->driver->name,
	    m->version, m->name);
	migrate_next(op);
}

static void
migrate_next(struct migrate_op *op)
{
	const struct sb_driver *d = op->st->driver;
	const struct sb_migration *m;
	struct sb_db_value version;
	struct sb_store_stmt stmt;
	struct sb_store_req *req;

	if ((size_t)op->version >= *d->nmigrations) {
		deliver_int(op->cb, op->arg, op->version);
		free(op);
		return;
	}
	m = &d->migrations[op->version];
	version = sb_db_int(m->version);
	stmt = (struct sb_store_stmt){ SB_Q_SCHEMA_SET_VERSION, &version };
	req = sb_store_req_new(op->st, &stmt, 1, migrated_one, op);
	req->script = sb_arena_strdup(&req->arena, m->sql);
	req->txn = 1;
	sb_store_submit(req);
}

static void
migrate_from(const struct sb_store_result *r, void *arg)
{
	struct migrate_op *op = arg;
	char msg[160];

	if (r->err != SB_STORE_OK) {
		op->cb(r, op->arg);
		free(op);
		return;
	}
	op->version = (int)sb_store_int(r, 0, 0);
	if (op->version < 0 || (size_t)op->version > *op->st->driver->nmigrations) {
		snprintf(msg, sizeof(msg), "database schema version %d is newer than this "
		    "build knows (%d): upgrade switchboard", op->version, sb_store_schema_latest());
		deliver_error(op->cb, op->arg, SB_STORE_E_INTERNAL, msg);
		free(op);
		return;
	}
	migrate_next(op);
}

void
sb_store_migrate(struct sb_store *st, sb_store_cb *cb, void *arg)
{
	struct migrate_op *op = xcalloc(1, sizeof(*op));

	op->st = st;
	op->cb = cb;
	op->arg = arg;
	sb_store_schema_version(st, migrate_from, op);
}

/* --- the start-up check --- */

struct check_op {
	int		 done;
	enum sb_store_err err;
	int64_t		 version;
	char		 msg[256];
};

static void
check_got(const struct sb_store_result *r, void *arg)
{
	struct check_op *op = arg;

	op->done = 1;
	op->err = r->err;
	snprintf(op->msg, sizeof(op->msg), "%s", r->errmsg);
	if (r->err == SB_STORE_OK)
		op->version = sb_store_int(r, 0, 0);
}

int
sb_store_check_schema(struct sb_store *st, char *err, size_t errlen)
{
	struct check_op op = { 0 };
	int latest = sb_store_schema_latest();

	sb_store_schema_version(st, check_got, &op);
	while (!op.done)
		uv_run(st->loop, UV_RUN_ONCE);
	if (op.err != SB_STORE_OK) {
		snprintf(err, errlen, "cannot read the schema version (%s): %s",
		    sb_store_err_name(op.err), op.msg);
		return -1;
	}
	if (op.version == latest)
		return 0;
	if (op.version == 0)
		snprintf(err, errlen, "the database has no schema yet: run `sbctl db init`");
	else if (op.version < latest)
		snprintf(err, errlen, "database schema version %lld is older than this "
		    "server's (%d): run `sbctl db migrate`", (long long)op.version, latest);
	else
		snprintf(err, errlen, "database schema version %lld is newer than this server "
		    "knows (%d): upgrade switchboard", (long long)op.version, latest);
	return -1;
}

static void
closed_now(void *arg)
{
	(void)arg;
}

int
sb_store_open_file(uv_loop_t *loop, const char *path, struct sb_store_conf *conf,
    struct sb_store **out, char *err, size_t errlen)
{
	const struct sb_config_node *storage;
	struct sb_config *cfg;
	char why[1024];

	*out = NULL;
	if (sb_config_load(&cfg, path, err, errlen) == -1)
		return -1;
	if ((storage = sb_config_child(sb_config_root(cfg), "storage")) == NULL) {
		snprintf(err, errlen, "%s: no <storage> section", path);
		sb_config_free(cfg);
		return -1;
	}
	if (sb_store_conf_load(storage, conf, err, errlen) == -1) {
		sb_config_free(cfg);
		return -1;
	}
	sb_config_free(cfg);		/* the conf holds copies */
	if ((*out = sb_store_open(loop, conf, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "storage: %s", why);
		sb_store_conf_free(conf);
		return -1;
	}
	if (sb_store_check_schema(*out, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "storage: %s", why);
		sb_store_close(*out, closed_now, NULL);
		sb_store_conf_free(conf);
		*out = NULL;
		return -1;
	}
	return 0;
}
