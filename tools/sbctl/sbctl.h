/*
 * sbctl.h: what the parts of sbctl share: the context every verb runs in
 * (the configuration, the loop and the store), the helpers that run a
 * storage request to completion, and account names, passwords and
 * secrets as the account verbs and the batch import prepare them.
 *
 * Conventions: a verb returns the process's exit code (SBCTL_OK,
 * SBCTL_FAIL, SBCTL_USAGE); messages go to stderr through sbctl_err(),
 * which adds "sbctl: "; stdout carries only result lines.
 */
#ifndef SBCTL_H
#define SBCTL_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "jid.h"
#include "scram.h"
#include "storage.h"

#define SBCTL_OK	0
#define SBCTL_FAIL	1
#define SBCTL_USAGE	2

/* Longest prepared password we store secrets for (bytes). */
#define SBCTL_PASSWORD_MAX	1023

struct sb_config;

/* Where sbctl looks for switchboard.xml when neither -c nor SB_CONFIG says. */
#ifndef SB_SYSCONFDIR
#define SB_SYSCONFDIR	"/usr/local/etc"
#endif

struct sbctl {
	const char		*verb;		/* "adduser": the prefix of messages */
	const char		*config_path;	/* the file in use */
	const char		*config_from;	/* "-c", "SB_CONFIG" or NULL (a default) */
	struct sb_config	*cfg;
	struct sb_store_conf	 conf;
	int			 conf_loaded;
	uv_loop_t		 loop;
	int			 loop_open;
	struct sb_store		*st;
};

/* Verb flags: what main() prepares before calling the verb. */
#define VERB_STORE	0x01	/* open the store */
#define VERB_CREATE	0x02	/* the database may be created (db init, db migrate) */
#define VERB_SCHEMA	0x04	/* the schema must be current (account verbs) */
#define VERB_ABSENT_OK	0x08	/* a missing SQLite file is an answer, not an error */

typedef int sbctl_verb_fn(struct sbctl *ctx, int argc, char **argv);

/* "sbctl: VERB: message" on stderr (the verb part when ctx->verb is set). */
void	 sbctl_err(const struct sbctl *ctx, const char *fmt, ...)
	     __attribute__((format(printf, 2, 3)));

/* --- store.c: configuration, the store, waiting for answers --- */

int	 sbctl_config_load(struct sbctl *ctx, const char *opt_path);
/*
 * Open the store as the verb's VERB_* flags allow; with VERB_ABSENT_OK and
 * no SQLite file yet, ctx->st stays NULL (an empty database).
 */
int	 sbctl_store_open(struct sbctl *ctx, unsigned flags);
void	 sbctl_cleanup(struct sbctl *ctx);
/* The schema is the one this build knows: 0, or -1 after a message saying what to run. */
int	 sbctl_schema_check(struct sbctl *ctx);

/*
 * One request run to completion: pass sbctl_wait_cb and the struct as the
 * callback and its argument, then sbctl_wait(). rows, when set, sees the
 * result during the callback (to copy rows out).
 */
struct sbctl_wait {
	int			 done;
	enum sb_store_err	 err;
	char			 errmsg[512];
	size_t			 nrows;
	int64_t			 changes;
	int64_t			 first_int;	/* cell (0, 0) when it is an integer */
	void			(*rows)(const struct sb_store_result *r, void *arg);
	void			*rows_arg;
};

void	 sbctl_wait_cb(const struct sb_store_result *r, void *arg);
/* Run the loop until w is done: 0 when the answer is OK, -1 otherwise. */
int	 sbctl_wait(struct sbctl *ctx, struct sbctl_wait *w);
int	 sbctl_query(struct sbctl *ctx, enum sb_query q, const struct sb_db_value *params,
	     struct sbctl_wait *w);
/* Report a failed request: what failed, the storage text, and where to look. */
void	 sbctl_store_error(const struct sbctl *ctx, const char *what, enum sb_store_err err,
	     const char *msg);

/* --- account.c: names, passwords and secrets --- */

/* A user's bare JID, prepared: jid.str is "username@domain" as stored. */
struct sbctl_user {
	char		 buf[SB_JID_BUFSIZE];
	struct sb_jid	 jid;
};

/* 0, or -1 with why ("'x' is not a user JID (name@domain)"). */
int	 sbctl_user_parse(struct sbctl_user *u, const char *s, size_t len,
	     char *why, size_t whylen);
/* The key parameters (domain, username) of the ACCOUNT_* queries. */
void	 sbctl_user_key(const struct sbctl_user *u, struct sb_db_value key[2]);

/* PRECIS OpaqueString into out (SBCTL_PASSWORD_MAX + 1 bytes): 0, or -1 with why. */
int	 sbctl_password_prepare(const char *s, size_t len, char *out, size_t *outlen,
	     char *why, size_t whylen);

/* SCRAM-SHA-1 and SCRAM-SHA-256 secrets, each with its own new salt. */
struct sbctl_secrets {
	struct sb_scram_secret	 sha1;
	struct sb_scram_secret	 sha256;
};

int	 sbctl_secrets_make(struct sbctl_secrets *s, const char *prepared, size_t len);
/* The eight secret values in the order ACCOUNT_CREATE / _SET_SECRETS take them. */
void	 sbctl_secrets_params(const struct sbctl_secrets *s, struct sb_db_value out[8]);

/* --- prompt.c --- */

/*
 * Ask for a password twice on the terminal, without echo, into out (size
 * bytes, NUL-terminated). 0, or -1 after a message (no terminal, the two
 * differ, input ended).
 */
int	 sbctl_prompt_password(const struct sbctl *ctx, const char *who, char *out, size_t size);

/* --- the verbs --- */

sbctl_verb_fn	sbctl_db_init, sbctl_db_migrate, sbctl_db_version;
sbctl_verb_fn	sbctl_adduser, sbctl_adduser_batch, sbctl_deluser, sbctl_passwd, sbctl_users;

#endif
