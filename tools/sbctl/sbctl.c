/*
 * sbctl.c: the admin command's entry point: options, the table of verbs,
 * the usage text, and the set-up every verb shares (configuration, store,
 * schema check) done once here from the verb's flags.
 *
 * Verbs live in db.c (schema), accounts.c and batch.c (accounts),
 * setup.c (first run), control.c (start, stop, restart, reload, status;
 * supervise.c is the supervisor itself) and component.c (the router's
 * external components).
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sbctl.h"

struct verb {
	const char	*name;		/* first word */
	const char	*sub;		/* second word ("init", "--batch"), or NULL */
	int		 min_args;	/* arguments after the name words */
	int		 max_args;
	unsigned	 flags;		/* VERB_* */
	sbctl_verb_fn	*run;
	const char	*args;		/* for the usage text */
	const char	*help;
};

/* A verb with a second word comes before the same name without one. */
static const struct verb verbs[] = {
	{ "db", "init", 0, 0, VERB_STORE | VERB_CREATE, sbctl_db_init, "",
	    "create the database schema (all migrations)" },
	{ "db", "migrate", 0, 0, VERB_STORE | VERB_CREATE, sbctl_db_migrate, "",
	    "apply pending migrations after an upgrade" },
	{ "db", "version", 0, 0, VERB_STORE | VERB_ABSENT_OK, sbctl_db_version, "",
	    "show the database's and the latest schema version" },
	{ "adduser", "--batch", 0, 0, VERB_STORE | VERB_SCHEMA, sbctl_adduser_batch, "",
	    "create accounts from \"JID PASSWORD\" lines on stdin" },
	{ "adduser", NULL, 1, 2, VERB_STORE | VERB_SCHEMA, sbctl_adduser, "JID [PASSWORD]",
	    "create an account (asks for the password)" },
	{ "deluser", NULL, 1, 1, VERB_STORE | VERB_SCHEMA, sbctl_deluser, "JID",
	    "delete an account and all its data" },
	{ "passwd", NULL, 1, 2, VERB_STORE | VERB_SCHEMA, sbctl_passwd, "JID [PASSWORD]",
	    "set a new password (asks for it)" },
	{ "users", NULL, 0, 1, VERB_STORE | VERB_SCHEMA, sbctl_users, "[DOMAIN]",
	    "list accounts, one bare JID per line" },
	{ "setup", NULL, 0, 0, VERB_STORE | VERB_CREATE | VERB_LAUNCHER, sbctl_setup, "",
	    "make what is missing: secret, self-signed certificates, database" },
	{ "start", "--foreground", 0, 0, VERB_LAUNCHER | VERB_ENV, sbctl_start_foreground, "",
	    "start and supervise every process here, output to the terminal" },
	{ "start", NULL, 0, 0, VERB_LAUNCHER | VERB_ENV, sbctl_start, "",
	    "start and supervise every process in the background" },
	{ "stop", NULL, 0, 0, VERB_LAUNCHER, sbctl_stop, "",
	    "stop the supervisor and every process" },
	{ "restart", NULL, 0, 0, VERB_LAUNCHER | VERB_ENV, sbctl_restart, "",
	    "stop, then start in the background" },
	{ "reload", NULL, 0, 0, VERB_LAUNCHER, sbctl_reload, "",
	    "every process reads its configuration again (SIGHUP)" },
	{ "status", NULL, 0, 0, VERB_LAUNCHER, sbctl_status, "",
	    "each process: pid, uptime, restarts, counters" },
	{ "component", "add", 1, 2, VERB_LAUNCHER, sbctl_component_add, "NAME [SECRET]",
	    "let an external component connect (prints the secret)" },
	{ "component", "del", 1, 1, VERB_LAUNCHER, sbctl_component_del, "NAME",
	    "remove an external component added with component add" },
	{ "component", "list", 0, 0, VERB_LAUNCHER, sbctl_component_list, "",
	    "list the router's components" },
};
#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

void
sbctl_err(const struct sbctl *ctx, const char *fmt, ...)
{
	va_list ap;

	fputs("sbctl: ", stderr);
	if (ctx != NULL && ctx->verb != NULL)
		fprintf(stderr, "%s: ", ctx->verb);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
usage(FILE *f)
{
	char words[64];

	fputs("usage: sbctl [-c FILE] COMMAND [ARGUMENTS]\n\ncommands:\n", f);
	for (size_t i = 0; i < NVERBS; i++) {
		snprintf(words, sizeof(words), "%s%s%s%s%s", verbs[i].name,
		    verbs[i].sub ? " " : "", verbs[i].sub ? verbs[i].sub : "",
		    *verbs[i].args ? " " : "", verbs[i].args);
		fprintf(f, "  %-26s %s\n", words, verbs[i].help);
	}
	fputs("\n"
	    "A PASSWORD on the command line is visible to other users of this host\n"
	    "(ps, shell history); leave it out to be asked for it on the terminal.\n"
	    "adduser --batch: one account per line, the password is the rest of the\n"
	    "line after the JID and the blanks that follow it; empty lines and lines\n"
	    "starting with # are skipped.\n"
	    "\n"
	    "options:\n"
	    "  -c, --config FILE  the configuration (its <storage> section); default:\n"
	    "                     $SB_CONFIG, else ./etc/switchboard.xml if it exists,\n"
	    "                     else " SB_SYSCONFDIR "/switchboard/switchboard.xml\n"
	    "  -h, --help         this text\n"
	    "\n"
	    "exit status: 0 done, 1 failed, 2 usage error\n", f);
}

static int
usage_error(const char *what, const char *arg)
{
	fprintf(stderr, "sbctl: %s%s\n\n", what, arg);
	usage(stderr);
	return SBCTL_USAGE;
}

/* The verb argv names, or NULL; *nwords gets how many words its name took. */
static const struct verb *
verb_find(int argc, char **argv, int *nwords)
{
	for (size_t i = 0; i < NVERBS; i++) {
		if (strcmp(argv[0], verbs[i].name) != 0)
			continue;
		if (verbs[i].sub == NULL) {
			*nwords = 1;
			return &verbs[i];
		}
		if (argc > 1 && strcmp(argv[1], verbs[i].sub) == 0) {
			*nwords = 2;
			return &verbs[i];
		}
	}
	return NULL;
}

/* "db init", "adduser": how messages name the verb (an option like --batch is not named). */
static const char *
verb_label(const struct verb *v, char *buf, size_t size)
{
	int two = v->sub != NULL && v->sub[0] != '-';

	snprintf(buf, size, "%s%s%s", v->name, two ? " " : "", two ? v->sub : "");
	return buf;
}

/* Configuration, store and schema as the verb's flags ask; then the verb. */
static int
verb_run(struct sbctl *ctx, const struct verb *v, const char *config, int argc, char **argv)
{
	char name[64];
	int rc;

	if (sbctl_config_load(ctx, config) == -1)
		return SBCTL_FAIL;
	if ((v->flags & VERB_STORE) && sbctl_store_open(ctx, v->flags) == -1)
		return SBCTL_FAIL;
	if ((v->flags & VERB_SCHEMA) && sbctl_schema_check(ctx) == -1)
		return SBCTL_FAIL;
	if ((v->flags & VERB_LAUNCHER) && sbctl_launcher_load(ctx) == -1)
		return SBCTL_FAIL;
	if ((v->flags & VERB_ENV) && sbctl_env_require(ctx) == -1)
		return SBCTL_FAIL;
	/* Other launcher verbs read the processes' files, which may use its variables. */
	if ((v->flags & (VERB_LAUNCHER | VERB_ENV)) == VERB_LAUNCHER &&
	    access(ctx->launcher.env_path, R_OK) == 0 &&
	    sbctl_env_load(ctx, ctx->launcher.env_path) == -1)
		return SBCTL_FAIL;
	/* From here on, messages say which verb speaks ("db init: ..."). */
	ctx->verb = verb_label(v, name, sizeof(name));
	rc = v->run(ctx, argc, argv);
	ctx->verb = NULL;
	return rc;
}

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

int
main(int argc, char **argv)
{
	struct sbctl ctx = { 0 };
	const struct verb *v;
	const char *config = NULL;
	char label[64];
	int c, nwords, nargs, rc;

	sb_log_open("sbctl", 0, SB_LOG_WARN);
	/* '+': options end at the verb, so "adduser --batch" reaches the table. */
	while ((c = getopt_long(argc, argv, "+c:h", long_options, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			usage(stdout);
			return SBCTL_OK;
		default:
			usage(stderr);
			return SBCTL_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		return usage_error("no command given", "");
	if ((v = verb_find(argc, argv, &nwords)) == NULL)
		return usage_error("unknown command: ", argv[0]);
	nargs = argc - nwords;
	if (nargs < v->min_args || nargs > v->max_args)
		return usage_error("wrong number of arguments for ",
		    verb_label(v, label, sizeof(label)));
	rc = verb_run(&ctx, v, config, nargs, argv + nwords);
	sbctl_cleanup(&ctx);
	/* Results that never reached their reader are a failure (a full disk, a closed pipe). */
	if (fflush(stdout) == EOF || ferror(stdout)) {
		sbctl_err(NULL, "cannot write the output: %s", strerror(errno));
		rc = SBCTL_FAIL;
	}
	return rc;
}
