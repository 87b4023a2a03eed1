/*
 * store.c: how sbctl finds its configuration and its database, runs
 * storage requests to completion on its own loop, reports their failures,
 * and closes everything again.
 *
 * The configuration is the servers' own switchboard.xml, so sbctl always
 * works on the database the servers use.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "sbctl.h"
#include "xmalloc.h"

/* Tried in order when neither -c nor SB_CONFIG names a file. */
static const char *const default_configs[] = {
	"./etc/switchboard.xml",	/* running from the source tree */
	SB_SYSCONFDIR "/switchboard/switchboard.xml",
};
#define NDEFAULTS (sizeof(default_configs) / sizeof(default_configs[0]))

static int
config_locate(struct sbctl *ctx, const char *opt_path)
{
	const char *env = getenv("SB_CONFIG");

	if (opt_path != NULL || (env != NULL && *env != '\0')) {
		ctx->config_path = opt_path != NULL ? opt_path : env;
		ctx->config_from = opt_path != NULL ? "-c" : "SB_CONFIG";
		if (access(ctx->config_path, F_OK) == 0)
			return 0;
		sbctl_err(ctx, "no configuration found: %s (from %s): %s; -c FILE or "
		    "SB_CONFIG=FILE selects the configuration", ctx->config_path,
		    ctx->config_from, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < NDEFAULTS; i++) {
		if (access(default_configs[i], F_OK) == 0) {
			ctx->config_path = default_configs[i];
			return 0;
		}
	}
	sbctl_err(ctx, "no configuration found (tried %s and %s); -c FILE or SB_CONFIG=FILE "
	    "selects one", default_configs[0], default_configs[1]);
	return -1;
}

int
sbctl_config_load(struct sbctl *ctx, const char *opt_path)
{
	const struct sb_config_node *storage;
	char err[1024];

	if (config_locate(ctx, opt_path) == -1)
		return -1;
	if (sb_config_load(&ctx->cfg, ctx->config_path, err, sizeof(err)) == -1) {
		sbctl_err(ctx, "%s", err);
		return -1;
	}
	storage = sb_config_child(sb_config_root(ctx->cfg), "storage");
	if (storage == NULL) {
		sbctl_err(ctx, "%s: no <storage> section: say where the database is (see the "
		    "example etc/switchboard.xml)", ctx->config_path);
		return -1;
	}
	if (sb_store_conf_load(storage, &ctx->conf, err, sizeof(err)) == -1) {
		sbctl_err(ctx, "%s", err);
		return -1;
	}
	ctx->conf_loaded = 1;
	return 0;
}

/* An SQLite file that does not exist yet (a database server is never "absent"). */
static int
store_absent(const struct sbctl *ctx)
{
	struct stat sb;

	return ctx->conf.driver == SB_STORE_SQLITE && stat(ctx->conf.sqlite_path, &sb) == -1 &&
	    errno == ENOENT;
}

/* db init on a new host: the data directory may not exist yet (./var). */
static int
make_parent_dir(const struct sbctl *ctx, const char *path)
{
	char *dir = xstrdup(path), *slash = strrchr(dir, '/');
	int r = 0;

	if (slash != NULL && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0750) == -1 && errno != EEXIST) {
			sbctl_err(ctx, "cannot create the database directory %s: %s (check <path> "
			    "in <storage> of %s)", dir, strerror(errno), ctx->config_path);
			r = -1;
		}
	}
	free(dir);
	return r;
}

int
sbctl_store_open(struct sbctl *ctx, unsigned flags)
{
	char err[512];

	if (store_absent(ctx)) {
		/* Only db init and db migrate may create a database file. */
		if (flags & VERB_ABSENT_OK)
			return 0;
		if (!(flags & VERB_CREATE)) {
			sbctl_err(ctx, "no database at %s: run `sbctl db init` to create it (or fix "
			    "<storage> in %s)", ctx->conf.sqlite_path, ctx->config_path);
			return -1;
		}
		if (make_parent_dir(ctx, ctx->conf.sqlite_path) == -1)
			return -1;
	}
	uv_loop_init(&ctx->loop);
	ctx->loop_open = 1;
	ctx->st = sb_store_open(&ctx->loop, &ctx->conf, err, sizeof(err));
	if (ctx->st == NULL) {
		sbctl_err(ctx, "cannot open the database: %s (check <storage> in %s)", err,
		    ctx->config_path);
		return -1;
	}
	return 0;
}

static void
store_closed(void *arg)
{
	*(int *)arg = 1;
}

void
sbctl_cleanup(struct sbctl *ctx)
{
	int closed = 0;

	if (ctx->st != NULL) {
		sb_store_close(ctx->st, store_closed, &closed);
		while (!closed)
			uv_run(&ctx->loop, UV_RUN_ONCE);
		ctx->st = NULL;
	}
	if (ctx->loop_open) {
		/* Close callbacks of the drivers' handles still have to run. */
		uv_run(&ctx->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&ctx->loop) != 0)
			sbctl_err(ctx, "internal: the loop still has handles at exit");
		ctx->loop_open = 0;
	}
	if (ctx->conf_loaded)
		sb_store_conf_free(&ctx->conf);
	ctx->conf_loaded = 0;
	sbctl_launcher_free(&ctx->launcher);
	sb_config_free(ctx->cfg);
	ctx->cfg = NULL;
}

/*
 * The account verbs' precondition. Reachability is asked first so that a
 * database that is down gets sbctl's hint; the verdict on the version and
 * its message (run `sbctl db init` / `sbctl db migrate`) are the servers'.
 */
int
sbctl_schema_check(struct sbctl *ctx)
{
	struct sbctl_wait w = { 0 };
	char err[512];

	sb_store_schema_version(ctx->st, sbctl_wait_cb, &w);
	if (sbctl_wait(ctx, &w) == -1) {
		sbctl_store_error(ctx, "cannot read the schema version", w.err, w.errmsg);
		return -1;
	}
	if (sb_store_check_schema(ctx->st, err, sizeof(err)) == -1) {
		sbctl_err(ctx, "%s", err);
		return -1;
	}
	return 0;
}

/* --- one request at a time --- */

void
sbctl_wait_cb(const struct sb_store_result *r, void *arg)
{
	struct sbctl_wait *w = arg;

	w->done = 1;
	w->err = r->err;
	snprintf(w->errmsg, sizeof(w->errmsg), "%s", r->errmsg);
	w->nrows = r->nrows;
	w->changes = r->changes;
	if (r->err == SB_STORE_OK && r->nrows > 0 && r->ncols > 0 &&
	    sb_store_cell(r, 0, 0)->type == SB_DB_INT)
		w->first_int = sb_store_int(r, 0, 0);
	if (r->err == SB_STORE_OK && w->rows != NULL)
		w->rows(r, w->rows_arg);
}

int
sbctl_wait(struct sbctl *ctx, struct sbctl_wait *w)
{
	while (!w->done)
		uv_run(&ctx->loop, UV_RUN_ONCE);
	return w->err == SB_STORE_OK ? 0 : -1;
}

int
sbctl_query(struct sbctl *ctx, enum sb_query q, const struct sb_db_value *params,
    struct sbctl_wait *w)
{
	w->done = 0;
	sb_store_query(ctx->st, q, params, sbctl_wait_cb, w);
	return sbctl_wait(ctx, w);
}

/* What to look at first, by driver and error class. */
static const char *
error_hint(const struct sbctl *ctx, enum sb_store_err err)
{
	switch (err) {
	case SB_STORE_E_UNAVAILABLE:
	case SB_STORE_E_INTERNAL:
		if (ctx->conf.driver == SB_STORE_SQLITE)
			return "check that this user may read and write the database file and "
			    "its directory";
		return err == SB_STORE_E_UNAVAILABLE ?
		    "check that the database server is running and reachable" :
		    "check that the database user may read and write the tables";
	case SB_STORE_E_TIMEOUT:
		return "check what else holds the database busy";
	case SB_STORE_E_FULL:
		return "free some disk space";
	default:
		return "check the database";
	}
}

void
sbctl_store_error(const struct sbctl *ctx, const char *what, enum sb_store_err err,
    const char *msg)
{
	sbctl_err(ctx, "%s: %s (%s; configuration: %s)", what, msg, error_hint(ctx, err),
	    ctx->config_path);
}
