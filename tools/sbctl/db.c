/*
 * db.c: the schema verbs: db init, db migrate, db version.
 *
 * The migrations themselves live in storage/ (sb_store_migrate applies
 * each in its own transaction); these verbs only decide whether to run
 * them and say what happened.
 */
#include <inttypes.h>
#include <stdio.h>

#include "sbctl.h"

/* The database's schema version into *version: 0, or -1 after a message. */
static int
schema_version(struct sbctl *ctx, int64_t *version)
{
	struct sbctl_wait w = { 0 };

	if (ctx->st == NULL) {
		/* An SQLite file that does not exist yet: empty, version 0. */
		*version = 0;
		return 0;
	}
	sb_store_schema_version(ctx->st, sbctl_wait_cb, &w);
	if (sbctl_wait(ctx, &w) == -1) {
		sbctl_store_error(ctx, "cannot read the schema version", w.err, w.errmsg);
		return -1;
	}
	*version = w.first_int;
	return 0;
}

/* Apply what is pending; *version gets the version reached. */
static int
migrate(struct sbctl *ctx, int64_t *version)
{
	struct sbctl_wait w = { 0 };

	sb_store_migrate(ctx->st, sbctl_wait_cb, &w);
	if (sbctl_wait(ctx, &w) == -1) {
		sbctl_store_error(ctx, "migration failed", w.err, w.errmsg);
		return -1;
	}
	*version = w.first_int;
	return 0;
}

/* A database from a newer build: migrating it back is not something we know how to do. */
static int
too_new(struct sbctl *ctx, int64_t version)
{
	sbctl_err(ctx, "the database's schema version %" PRId64 " is newer than this build "
	    "knows (%d): upgrade switchboard", version, sb_store_schema_latest());
	return SBCTL_FAIL;
}

int
sbctl_db_init(struct sbctl *ctx, int argc, char **argv)
{
	int64_t from, to;
	int latest = sb_store_schema_latest();

	if (schema_version(ctx, &from) == -1)
		return SBCTL_FAIL;
	if (from > latest)
		return too_new(ctx, from);
	if (from > 0) {
		printf("already initialized at schema version %" PRId64 "%s\n", from,
		    from < latest ? "; run `sbctl db migrate` to upgrade it" : "");
		return SBCTL_OK;
	}
	if (migrate(ctx, &to) == -1)
		return SBCTL_FAIL;
	printf("initialized at schema version %" PRId64 "\n", to);
	return SBCTL_OK;
}

int
sbctl_db_migrate(struct sbctl *ctx, int argc, char **argv)
{
	int64_t from, to;

	if (schema_version(ctx, &from) == -1)
		return SBCTL_FAIL;
	if (from > sb_store_schema_latest())
		return too_new(ctx, from);
	if (from == sb_store_schema_latest()) {
		printf("schema is up to date (version %" PRId64 ")\n", from);
		return SBCTL_OK;
	}
	if (migrate(ctx, &to) == -1)
		return SBCTL_FAIL;
	printf("schema version %" PRId64 " -> %" PRId64 "\n", from, to);
	return SBCTL_OK;
}

int
sbctl_db_version(struct sbctl *ctx, int argc, char **argv)
{
	int64_t version;

	if (schema_version(ctx, &version) == -1)
		return SBCTL_FAIL;
	printf("database schema version %" PRId64 "\n", version);
	printf("latest schema version %d\n", sb_store_schema_latest());
	return SBCTL_OK;
}
