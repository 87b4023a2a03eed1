/*
 * storage.c: the driver test suite. The same checks run on every driver:
 *
 *   SB_TEST_STORE=sqlite:PATH      (default: a database in a temporary directory)
 *   SB_TEST_STORE=pgsql:CONNINFO   (t/storage-pgsql.t starts a server for it)
 *
 * Schema and migrations, accounts, offline messages, transactions,
 * constraint errors, many requests in flight, close with work pending.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage.h"
#include "tap.h"
#include "log.h"
#include "xmalloc.h"

extern const size_t sb_migrations_sqlite_count;
extern const size_t sb_migrations_pgsql_count;

static uv_loop_t loop;
static struct sb_store *st;

/* One finished request, copied out of the callback. */
struct answer {
	int			 done;
	enum sb_store_err	 err;
	char			 errmsg[256];
	size_t			 nrows, ncols;
	int64_t			 changes;
	int64_t			 ints[64];	/* first int columns of the first rows */
	char			 text[4][256];	/* first text cells, row-major */
	unsigned char		 blob[64];
	size_t			 blob_len;
	size_t			 big_len;	/* length of the first text cell */
};

static void
got(const struct sb_store_result *r, void *arg)
{
	struct answer *a = arg;
	size_t nint = 0, ntext = 0;

	a->done++;
	a->err = r->err;
	snprintf(a->errmsg, sizeof(a->errmsg), "%s", r->errmsg);
	a->nrows = r->nrows;
	a->ncols = r->ncols;
	a->changes = r->changes;
	for (size_t i = 0; i < r->nrows * r->ncols; i++) {
		const struct sb_db_value *v = &r->cells[i];

		if (v->type == SB_DB_INT && nint < 64)
			a->ints[nint++] = v->i;
		else if (v->type == SB_DB_TEXT && ntext < 4) {
			if (ntext == 0)
				a->big_len = v->len;
			snprintf(a->text[ntext++], 256, "%s", (const char *)v->p);
		} else if (v->type == SB_DB_BLOB && a->blob_len == 0 && v->len <= sizeof(a->blob)) {
			memcpy(a->blob, v->p, v->len);
			a->blob_len = v->len;
		}
	}
}

static void
wait_for(struct answer *a)
{
	while (!a->done)
		uv_run(&loop, UV_RUN_ONCE);
}

static void
run(enum sb_query q, const struct sb_db_value *params, struct answer *a)
{
	memset(a, 0, sizeof(*a));
	sb_store_query(st, q, params, got, a);
	wait_for(a);
}

/* The eight secret values, made distinct per account from a seed. */
struct secrets {
	unsigned char	 s1[16], k1[20], v1[20], s2[16], k2[32], v2[32];
	struct sb_db_value vals[8];
};

static void
make_secrets(struct secrets *s, int seed)
{
	for (size_t i = 0; i < sizeof(s->s1); i++)
		s->s1[i] = (unsigned char)(seed + i);
	s->s1[3] = 0;	/* a NUL inside a blob must survive */
	memset(s->k1, seed + 1, sizeof(s->k1));
	memset(s->v1, seed + 2, sizeof(s->v1));
	memset(s->s2, seed + 3, sizeof(s->s2));
	memset(s->k2, seed + 4, sizeof(s->k2));
	memset(s->v2, seed + 5, sizeof(s->v2));
	s->vals[0] = sb_db_blob(s->s1, sizeof(s->s1));
	s->vals[1] = sb_db_int(4096);
	s->vals[2] = sb_db_blob(s->k1, sizeof(s->k1));
	s->vals[3] = sb_db_blob(s->v1, sizeof(s->v1));
	s->vals[4] = sb_db_blob(s->s2, sizeof(s->s2));
	s->vals[5] = sb_db_int(8192);
	s->vals[6] = sb_db_blob(s->k2, sizeof(s->k2));
	s->vals[7] = sb_db_blob(s->v2, sizeof(s->v2));
}

static void
create_account(const char *domain, const char *user, int seed, struct answer *a)
{
	struct secrets s;
	struct sb_db_value p[11];

	make_secrets(&s, seed);
	p[0] = sb_db_text(domain);
	p[1] = sb_db_text(user);
	p[2] = sb_db_int(1700000000 + seed);
	memcpy(&p[3], s.vals, sizeof(s.vals));
	run(SB_Q_ACCOUNT_CREATE, p, a);
}

static void
test_schema(void)
{
	struct answer a;
	char err[256];

	is_int(sb_migrations_sqlite_count, sb_migrations_pgsql_count,
	    "every dialect has the same migrations");
	memset(&a, 0, sizeof(a));
	sb_store_schema_version(st, got, &a);
	wait_for(&a);
	ok(a.err == SB_STORE_OK && a.ints[0] == 0, "an empty database is at version 0 (%s)", a.errmsg);
	ok(sb_store_check_schema(st, err, sizeof(err)) == -1 && strstr(err, "sbctl db init") != NULL,
	    "the start-up check refuses an empty database and says what to run");
	memset(&a, 0, sizeof(a));
	sb_store_migrate(st, got, &a);
	wait_for(&a);
	ok(a.err == SB_STORE_OK && a.ints[0] == sb_store_schema_latest(),
	    "migrate brings it to the latest version (%s)", a.errmsg);
	ok(sb_store_check_schema(st, err, sizeof(err)) == 0, "the start-up check passes (%s)", err);
	memset(&a, 0, sizeof(a));
	sb_store_migrate(st, got, &a);
	wait_for(&a);
	ok(a.err == SB_STORE_OK && a.ints[0] == sb_store_schema_latest(), "migrating again is a no-op");
	is_int(a.done, 1, "exactly one callback");
}

static void
test_accounts(void)
{
	struct answer a;
	struct secrets s;
	struct sb_db_value key[2] = { sb_db_text("example.com"), sb_db_text("juliet") };
	struct sb_db_value upd[10];

	create_account("example.com", "juliet", 10, &a);
	ok(a.err == SB_STORE_OK && a.nrows == 1 && a.ints[0] > 0, "create returns the id (%s)", a.errmsg);
	create_account("example.com", "romeo", 20, &a);
	create_account("example.com", "j\xc3\xbcrgen", 30, &a);
	create_account("example.org", "juliet", 40, &a);
	ok(a.err == SB_STORE_OK, "the same username in another domain");
	create_account("example.com", "juliet", 50, &a);
	is_int(a.err, SB_STORE_E_CONSTRAINT, "a duplicate account is a constraint error");

	run(SB_Q_ACCOUNT_GET, key, &a);
	make_secrets(&s, 10);
	ok(a.err == SB_STORE_OK && a.nrows == 1 && a.ncols == 11, "get one row of 11 columns");
	is_int(a.ints[1], 1700000010, "created");
	is_int(a.ints[2], 0, "not disabled");
	is_int(a.ints[3], 4096, "SHA-1 iterations");
	is_int(a.ints[4], 8192, "SHA-256 iterations");
	ok(a.blob_len == 16 && memcmp(a.blob, s.s1, 16) == 0, "salt blob with a NUL inside round-trips");

	make_secrets(&s, 60);
	upd[0] = key[0];
	upd[1] = key[1];
	memcpy(&upd[2], s.vals, sizeof(s.vals));
	run(SB_Q_ACCOUNT_SET_SECRETS, upd, &a);
	ok(a.err == SB_STORE_OK && a.changes == 1, "set secrets changes one row");
	run(SB_Q_ACCOUNT_GET, key, &a);
	ok(a.blob_len == 16 && memcmp(a.blob, s.s1, 16) == 0, "new secrets stored");
	upd[1] = sb_db_text("nobody");
	run(SB_Q_ACCOUNT_SET_SECRETS, upd, &a);
	ok(a.err == SB_STORE_OK && a.changes == 0, "set secrets of a missing account changes nothing");

	{
		struct sb_db_value p[3] = { key[0], key[1], sb_db_int(1) };

		run(SB_Q_ACCOUNT_SET_DISABLED, p, &a);
		run(SB_Q_ACCOUNT_GET, key, &a);
		is_int(a.ints[2], 1, "disabled");
	}
	{
		struct sb_db_value p[1] = { sb_db_text("example.com") };

		run(SB_Q_ACCOUNT_LIST, p, &a);
		ok(a.nrows == 3 && strcmp(a.text[0], "juliet") == 0 &&
		    strcmp(a.text[1], "j\xc3\xbcrgen") == 0 && strcmp(a.text[2], "romeo") == 0,
		    "list one domain, sorted, UTF-8 intact");
		run(SB_Q_ACCOUNT_LIST_ALL, NULL, &a);
		is_int(a.nrows, 4, "list all domains");
	}
	{
		struct sb_db_value p[2] = { sb_db_text("example.org"), sb_db_text("juliet") };

		run(SB_Q_ACCOUNT_DELETE, p, &a);
		ok(a.err == SB_STORE_OK && a.changes == 1, "delete");
		run(SB_Q_ACCOUNT_GET, p, &a);
		ok(a.err == SB_STORE_OK && a.nrows == 0, "gone after delete");
	}
}

static void
store_offline(const char *user, const char *stanza, struct answer *a)
{
	struct sb_db_value p[4] = {
		sb_db_text("example.com"), sb_db_text(user), sb_db_int(1700000100), sb_db_text(stanza),
	};

	run(SB_Q_OFFLINE_STORE, p, a);
}

static void
test_offline(void)
{
	struct sb_db_value key[2] = { sb_db_text("example.com"), sb_db_text("romeo") };
	struct answer a;
	int64_t second;
	char *big;

	store_offline("romeo", "<message><body>1</body></message>", &a);
	ok(a.err == SB_STORE_OK && a.nrows == 1 && a.ints[0] > 0, "store returns the id");
	store_offline("romeo", "<message><body>\xf0\x9f\x98\x80 2</body></message>", &a);
	second = a.ints[0];
	store_offline("romeo", "<message><body>3</body></message>", &a);
	store_offline("nobody", "<message/>", &a);
	ok(a.err == SB_STORE_OK && a.nrows == 0 && a.changes == 0, "no account: nothing stored");
	run(SB_Q_OFFLINE_FETCH, key, &a);
	ok(a.nrows == 3 && strcmp(a.text[0], "<message><body>1</body></message>") == 0 &&
	    strstr(a.text[1], "\xf0\x9f\x98\x80 2") != NULL, "fetch in arrival order, UTF-8 intact");
	ok(a.ints[0] < a.ints[2] && a.ints[2] < a.ints[4], "ids ascend");
	run(SB_Q_OFFLINE_COUNT, key, &a);
	is_int(a.ints[0], 3, "count");
	{
		struct sb_db_value p[3] = { key[0], key[1], sb_db_int(second) };

		run(SB_Q_OFFLINE_DELETE, p, &a);
		is_int(a.changes, 2, "delete up to the second id");
	}
	run(SB_Q_OFFLINE_FETCH, key, &a);
	ok(a.nrows == 1 && strcmp(a.text[0], "<message><body>3</body></message>") == 0,
	    "the third is left");

	big = xmalloc(200001);
	memset(big, 'x', 200000);
	big[200000] = '\0';
	store_offline("romeo", big, &a);
	run(SB_Q_OFFLINE_FETCH, key, &a);
	ok(a.nrows == 2 && a.big_len == strlen("<message><body>3</body></message>"), "fetch after a big one");
	free(big);

	/* Deleting the account deletes its messages (ON DELETE CASCADE). */
	run(SB_Q_ACCOUNT_DELETE, key, &a);
	create_account("example.com", "romeo", 70, &a);
	run(SB_Q_OFFLINE_COUNT, key, &a);
	is_int(a.ints[0], 0, "a deleted account's messages went with it");
}

static void
test_txn(void)
{
	struct secrets s;
	struct sb_db_value p1[11], p2[11];
	struct sb_db_value key[2] = { sb_db_text("example.net"), sb_db_text("mercutio") };
	struct sb_store_stmt stmts[2];
	struct answer a;

	make_secrets(&s, 80);
	p1[0] = key[0];
	p1[1] = key[1];
	p1[2] = sb_db_int(1);
	memcpy(&p1[3], s.vals, sizeof(s.vals));
	memcpy(p2, p1, sizeof(p1));
	stmts[0] = (struct sb_store_stmt){ SB_Q_ACCOUNT_CREATE, p1 };
	stmts[1] = (struct sb_store_stmt){ SB_Q_ACCOUNT_CREATE, p2 };
	memset(&a, 0, sizeof(a));
	sb_store_txn(st, stmts, 2, got, &a);
	wait_for(&a);
	is_int(a.err, SB_STORE_E_CONSTRAINT, "a transaction whose second statement fails fails");
	run(SB_Q_ACCOUNT_GET, key, &a);
	is_int(a.nrows, 0, "and its first statement was rolled back");

	stmts[1] = (struct sb_store_stmt){ SB_Q_ACCOUNT_GET, key };
	memset(&a, 0, sizeof(a));
	sb_store_txn(st, stmts, 2, got, &a);
	wait_for(&a);
	ok(a.err == SB_STORE_OK && a.nrows == 1, "a transaction's result is its last statement's rows");
}

static void
test_errors(void)
{
	struct sb_db_value bad[2] = { sb_db_int(1), sb_db_text("x") };
	struct answer a;

	run(SB_Q_ACCOUNT_GET, bad, &a);
	is_int(a.err, SB_STORE_E_INTERNAL, "a parameter of the wrong type is refused");
	ok(strstr(a.errmsg, "parameter 1") != NULL, "and the message says which");
	ok(!sb_store_err_is_transient(SB_STORE_E_CONSTRAINT) &&
	    sb_store_err_is_transient(SB_STORE_E_UNAVAILABLE), "transient classes");
}

#define MANY 2000

static void
test_many(void)
{
	static struct answer a[MANY];
	struct sb_db_value key[2] = { sb_db_text("example.com"), sb_db_text("juliet") };
	struct sb_db_value st_p[4] = {
		sb_db_text("example.com"), sb_db_text("juliet"), sb_db_int(1), sb_db_text("<m/>"),
	};
	int all_ok = 1, once = 1, pending;

	memset(a, 0, sizeof(a));
	for (int i = 0; i < MANY; i++) {
		if (i % 2)
			sb_store_query(st, SB_Q_OFFLINE_STORE, st_p, got, &a[i]);
		else
			sb_store_query(st, SB_Q_ACCOUNT_GET, key, got, &a[i]);
	}
	do {
		uv_run(&loop, UV_RUN_ONCE);
		pending = 0;
		for (int i = 0; i < MANY; i++)
			pending += a[i].done == 0;
	} while (pending > 0);
	for (int i = 0; i < MANY; i++) {
		if (a[i].err != SB_STORE_OK || a[i].nrows != 1)
			all_ok = 0;
		if (a[i].done != 1)
			once = 0;
	}
	ok(all_ok, "%d requests in flight at once all succeed", MANY);
	ok(once, "each callback exactly once");
	{
		struct answer c;

		run(SB_Q_OFFLINE_COUNT, key, &c);
		is_int(c.ints[0], MANY / 2, "every concurrent store is there");
	}
}

static int closed;

static void
on_closed(void *arg)
{
	closed = 1;
}

static void
test_close(void)
{
	struct sb_db_value key[2] = { sb_db_text("example.com"), sb_db_text("juliet") };
	static struct answer a[50];
	int all = 1;

	memset(a, 0, sizeof(a));
	for (int i = 0; i < 50; i++)
		sb_store_query(st, SB_Q_ACCOUNT_GET, key, got, &a[i]);
	sb_store_close(st, on_closed, NULL);
	while (!closed)
		uv_run(&loop, UV_RUN_ONCE);
	for (int i = 0; i < 50; i++)
		if (a[i].done != 1)
			all = 0;
	ok(all, "requests in flight at close get their callback");
	ok(closed, "close completes");
}

static int
open_store(char *dir, size_t dirlen)
{
	const char *spec = getenv("SB_TEST_STORE");
	struct sb_store_conf conf = { 0 };
	char path[512], err[256];

	conf.pool = 4;
	conf.timeout_ms = 10000;
	if (spec != NULL && strncmp(spec, "pgsql:", 6) == 0) {
		conf.driver = SB_STORE_PGSQL;
		conf.pg_conninfo = (char *)spec + 6;
	} else if (spec != NULL && strncmp(spec, "sqlite:", 7) == 0) {
		conf.driver = SB_STORE_SQLITE;
		conf.sqlite_path = (char *)spec + 7;
	} else {
		snprintf(dir, dirlen, "/tmp/sb-storage-XXXXXX");
		if (mkdtemp(dir) == NULL)
			return -1;
		snprintf(path, sizeof(path), "%s/test.db", dir);
		conf.driver = SB_STORE_SQLITE;
		conf.sqlite_path = path;
	}
	st = sb_store_open(&loop, &conf, err, sizeof(err));
	if (!ok(st != NULL, "open a %s store (%s)", conf.driver == SB_STORE_PGSQL ? "pgsql" : "sqlite",
	    st ? "" : err))
		return -1;
	diag("driver: %s", sb_store_driver_name(st));
	return 0;
}

int
main(void)
{
	char dir[64] = "";

	sb_log_open("storage.t", 0, SB_LOG_ERROR);
	uv_loop_init(&loop);
	if (open_store(dir, sizeof(dir)) == -1)
		return done_testing();
	test_schema();
	test_accounts();
	test_offline();
	test_txn();
	test_errors();
	test_many();
	test_close();
	ok(uv_loop_close(&loop) == 0, "the loop closes with nothing left");
	if (dir[0] != '\0') {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return done_testing();
}
