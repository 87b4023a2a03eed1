/*
 * accounts.c: the single-account verbs (adduser, deluser, passwd) and the
 * account list (users). The batch import is batch.c.
 *
 * Each verb checks what it can before asking for a password (the JID, that
 * the account does (not) exist), so an admin never types a password for
 * nothing; the database still has the last word (a unique constraint, the
 * changed-row count) when two admins race.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sbctl.h"
#include "xmalloc.h"

static int
user_arg(const struct sbctl *ctx, const char *arg, struct sbctl_user *u)
{
	char why[SB_JID_BUFSIZE + 128];

	if (sbctl_user_parse(u, arg, strlen(arg), why, sizeof(why)) == -1) {
		sbctl_err(ctx, "%s", why);
		return -1;
	}
	return 0;
}

/* *exists: 1 when the account is there. 0, or -1 after a message. */
static int
account_exists(struct sbctl *ctx, const struct sbctl_user *u, int *exists)
{
	struct sb_db_value key[2];
	struct sbctl_wait w = { 0 };

	sbctl_user_key(u, key);
	if (sbctl_query(ctx, SB_Q_ACCOUNT_GET, key, &w) == -1) {
		sbctl_store_error(ctx, "cannot look the account up", w.err, w.errmsg);
		return -1;
	}
	*exists = w.nrows > 0;
	return 0;
}

/*
 * The password from the command line (argv[1]) or the terminal, prepared
 * and turned into secrets; no copy of it outlives this function.
 */
static int
secrets_for(const struct sbctl *ctx, const struct sbctl_user *u, int argc, char **argv,
    struct sbctl_secrets *sec)
{
	char typed[4096], prepared[SBCTL_PASSWORD_MAX + 1], why[128];
	const char *pw = typed;
	size_t len;
	int r = -1;

	if (argc > 1)
		pw = argv[1];
	else if (sbctl_prompt_password(ctx, u->jid.str, typed, sizeof(typed)) == -1)
		return -1;
	if (sbctl_password_prepare(pw, strlen(pw), prepared, &len, why, sizeof(why)) == -1)
		sbctl_err(ctx, "%s", why);
	else if (sbctl_secrets_make(sec, prepared, len) == -1)
		sbctl_err(ctx, "internal: cannot compute the SCRAM secrets");
	else
		r = 0;
	explicit_bzero(typed, sizeof(typed));
	explicit_bzero(prepared, sizeof(prepared));
	return r;
}

int
sbctl_adduser(struct sbctl *ctx, int argc, char **argv)
{
	struct sbctl_user u;
	struct sbctl_secrets sec;
	struct sb_db_value p[11];
	struct sbctl_wait w = { 0 };
	int exists;

	if (user_arg(ctx, argv[0], &u) == -1 || account_exists(ctx, &u, &exists) == -1)
		return SBCTL_FAIL;
	if (exists) {
		sbctl_err(ctx, "%s: account exists (passwd changes its password)", u.jid.str);
		return SBCTL_FAIL;
	}
	if (secrets_for(ctx, &u, argc, argv, &sec) == -1)
		return SBCTL_FAIL;
	sbctl_user_key(&u, p);
	p[2] = sb_db_int((int64_t)time(NULL));
	sbctl_secrets_params(&sec, &p[3]);
	if (sbctl_query(ctx, SB_Q_ACCOUNT_CREATE, p, &w) == -1) {
		if (w.err == SB_STORE_E_CONSTRAINT)
			sbctl_err(ctx, "%s: account exists", u.jid.str);
		else
			sbctl_store_error(ctx, "cannot create the account", w.err, w.errmsg);
		return SBCTL_FAIL;
	}
	printf("added %s\n", u.jid.str);
	return SBCTL_OK;
}

int
sbctl_passwd(struct sbctl *ctx, int argc, char **argv)
{
	struct sbctl_user u;
	struct sbctl_secrets sec;
	struct sb_db_value p[10];
	struct sbctl_wait w = { 0 };
	int exists;

	if (user_arg(ctx, argv[0], &u) == -1 || account_exists(ctx, &u, &exists) == -1)
		return SBCTL_FAIL;
	if (!exists) {
		sbctl_err(ctx, "%s: no such account", u.jid.str);
		return SBCTL_FAIL;
	}
	if (secrets_for(ctx, &u, argc, argv, &sec) == -1)
		return SBCTL_FAIL;
	sbctl_user_key(&u, p);
	sbctl_secrets_params(&sec, &p[2]);
	if (sbctl_query(ctx, SB_Q_ACCOUNT_SET_SECRETS, p, &w) == -1) {
		sbctl_store_error(ctx, "cannot change the password", w.err, w.errmsg);
		return SBCTL_FAIL;
	}
	if (w.changes == 0) {
		/* Deleted between the look-up and now. */
		sbctl_err(ctx, "%s: no such account", u.jid.str);
		return SBCTL_FAIL;
	}
	printf("changed the password of %s\n", u.jid.str);
	return SBCTL_OK;
}

int
sbctl_deluser(struct sbctl *ctx, int argc, char **argv)
{
	struct sbctl_user u;
	struct sb_db_value key[2];
	struct sbctl_wait w = { 0 };

	if (user_arg(ctx, argv[0], &u) == -1)
		return SBCTL_FAIL;
	sbctl_user_key(&u, key);
	/* The schema's ON DELETE CASCADE takes the account's data with it. */
	if (sbctl_query(ctx, SB_Q_ACCOUNT_DELETE, key, &w) == -1) {
		sbctl_store_error(ctx, "cannot delete the account", w.err, w.errmsg);
		return SBCTL_FAIL;
	}
	if (w.changes == 0) {
		sbctl_err(ctx, "%s: no such account", u.jid.str);
		return SBCTL_FAIL;
	}
	printf("deleted %s and all its data\n", u.jid.str);
	return SBCTL_OK;
}

/* --- users --- */

struct jid_list {
	const char	*domain;	/* ACCOUNT_LIST: the domain asked for; NULL: all */
	char		**jids;
	size_t		 n;
};

static void
list_rows(const struct sb_store_result *r, void *arg)
{
	struct jid_list *l = arg;
	size_t base = l->n;

	l->jids = xrealloc(l->jids, (l->n + r->nrows) * sizeof(*l->jids));
	for (size_t i = 0; i < r->nrows; i++) {
		const char *user = sb_store_text(r, i, l->domain ? 0 : 1);
		const char *domain = l->domain ? l->domain : sb_store_text(r, i, 0);
		size_t size = strlen(user) + strlen(domain) + 2;

		l->jids[base + i] = xmalloc(size);
		snprintf(l->jids[base + i], size, "%s@%s", user, domain);
	}
	l->n += r->nrows;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
sbctl_users(struct sbctl *ctx, int argc, char **argv)
{
	char domain[SB_JID_PART_BUFSIZE];
	struct jid_list l = { 0 };
	struct sbctl_wait w = { .rows = list_rows, .rows_arg = &l };
	struct sb_db_value p[1];
	const char *jerr;
	size_t len;
	int r;

	if (argc == 1) {
		if (sb_jid_prepare(SB_JID_DOMAIN, argv[0], strlen(argv[0]), domain,
		    sizeof(domain), &len, &jerr) == -1) {
			sbctl_err(ctx, "'%s' is not a domain: %s", argv[0], jerr);
			return SBCTL_FAIL;
		}
		l.domain = domain;
		p[0] = sb_db_text(domain);
	}
	r = sbctl_query(ctx, argc == 1 ? SB_Q_ACCOUNT_LIST : SB_Q_ACCOUNT_LIST_ALL,
	    argc == 1 ? p : NULL, &w);
	if (r == -1)
		sbctl_store_error(ctx, "cannot list the accounts", w.err, w.errmsg);
	/* Sorted here, byte by byte, so the order never depends on a database collation. */
	if (l.n > 0)
		qsort(l.jids, l.n, sizeof(*l.jids), cmp_str);
	for (size_t i = 0; i < l.n; i++) {
		if (r == 0)
			puts(l.jids[i]);
		free(l.jids[i]);
	}
	free(l.jids);
	return r == 0 ? SBCTL_OK : SBCTL_FAIL;
}
