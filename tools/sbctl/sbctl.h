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
#include "paths.h"	/* SB_SYSCONFDIR, from the Makefile */

/* --- launcher.c: the <launcher> section of switchboard.xml --- */

#define SBCTL_MAX_PROCS		64
#define SBCTL_PROC_NAME		32

/* A server program: sb-NAME; shared: it takes -s switchboard.xml. */
struct sbctl_program {
	const char	*name;
	int		 shared;
};

/* One process the launcher runs. */
struct sbctl_proc {
	char				 name[SBCTL_PROC_NAME];	/* "c2s", "c2s2" */
	const struct sbctl_program	*prog;
	char				*config;		/* absolute */
};

struct sbctl_launcher {
	int			 loaded;
	char			*switchboard;	/* switchboard.xml, absolute */
	char			*env_path;	/* KEY=VALUE lines for every process */
	char			*run_dir;	/* pid file, status files */
	char			*log_path;	/* the output of a background start */
	char			*bindir;	/* where sb-* are: beside sbctl */
	char			 pid_path[4096];
	int64_t			 restart_min_ms, restart_max_ms;
	int64_t			 start_ms;	/* to become ready */
	int64_t			 stop_ms;	/* to exit after SIGTERM, then SIGKILL */
	struct sbctl_proc	 procs[SBCTL_MAX_PROCS];
	size_t			 nprocs;
};

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
	struct sbctl_launcher	 launcher;
};

/* Verb flags: what main() prepares before calling the verb. */
#define VERB_STORE	0x01	/* open the store */
#define VERB_CREATE	0x02	/* the database may be created (db init, db migrate) */
#define VERB_SCHEMA	0x04	/* the schema must be current (account verbs) */
#define VERB_ABSENT_OK	0x08	/* a missing SQLite file is an answer, not an error */
#define VERB_LAUNCHER	0x10	/* the <launcher> section, and its environment file if any */
#define VERB_ENV	0x20	/* the environment file must exist */

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

/* --- launcher.c --- */

const struct sbctl_program *sbctl_program_find(const char *name);
/* The <launcher> section (defaults without one): 0, or -1 after a message. */
int	 sbctl_launcher_load(struct sbctl *ctx);
void	 sbctl_launcher_free(struct sbctl_launcher *L);
/* path made absolute and without . and .. (lexically), allocated. */
char	*sbctl_path_clean(const char *path);
/* BINDIR/sb-PROGRAM, allocated. */
char	*sbctl_proc_binary(const struct sbctl_launcher *L, const struct sbctl_proc *p);
/* KEY=VALUE lines into the environment: 0, 1 when the file is absent, -1 after a message. */
int	 sbctl_env_load(struct sbctl *ctx, const char *path);
/* The launcher's environment file, which must exist: 0, or -1 after a message. */
int	 sbctl_env_require(struct sbctl *ctx);

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
sbctl_verb_fn	sbctl_setup;
sbctl_verb_fn	sbctl_start, sbctl_start_foreground, sbctl_stop, sbctl_restart, sbctl_reload,
		sbctl_status;
sbctl_verb_fn	sbctl_component_add, sbctl_component_del, sbctl_component_list;

/* --- control.c --- */

/* mkdir -p path: 0, or -1 after a message. */
int	 sbctl_mkdirs(const struct sbctl *ctx, const char *path, unsigned mode);

/* --- supervise.c --- */

/*
 * Run the launcher's processes until stopped; report_fd, when not -1,
 * gets "ok\n" once all are ready or "fail REASON\n" (then it is closed).
 * log_file: the output goes to the launcher's log, opened again on SIGHUP.
 * Returns the exit code.
 */
int	 sbctl_supervise(struct sbctl *ctx, int report_fd, int log_file);

#endif
