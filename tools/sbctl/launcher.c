/*
 * launcher.c: the <launcher> section of switchboard.xml: which processes
 * sbctl starts, in which order, with which configuration; where the
 * environment file, the run directory and the log are; how restarts back
 * off. Also the environment file itself (KEY=VALUE lines, the format
 * systemd's EnvironmentFile= reads), loaded into sbctl's own environment
 * so that the processes' files (${SB_COMPONENT_SECRET}) expand the same
 * in sbctl as in the servers.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "sbctl.h"
#include "xmalloc.h"

/* The programs sbctl knows how to run: sb-NAME beside sbctl itself. */
static const struct sbctl_program programs[] = {
	{ "router", 0 },
	{ "sm", 1 },
	{ "c2s", 1 },
	{ "s2s", 0 },
};
#define NPROGRAMS (sizeof(programs) / sizeof(programs[0]))

/* Without a <launcher> section: the four processes, their files beside switchboard.xml. */
static const char *const default_procs[] = { "router", "sm", "c2s", "s2s" };

const struct sbctl_program *
sbctl_program_find(const char *name)
{
	for (size_t i = 0; i < NPROGRAMS; i++)
		if (strcmp(programs[i].name, name) == 0)
			return &programs[i];
	return NULL;
}

/*
 * path made absolute against the working directory and cleaned of "."
 * and ".." (lexically: the file need not exist yet), so messages name
 * /srv/xmpp/var/run rather than /srv/xmpp/etc/../var/run.
 */
char *
sbctl_path_clean(const char *path)
{
	char cwd[PATH_MAX], *full, *out, *seg, *save = NULL;
	size_t len = 0;

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		full = xstrdup(path);
	else
		full = xasprintf("%s/%s", cwd, path);
	if (full[0] != '/')
		return full;
	out = xcalloc(1, strlen(full) + 2);
	for (seg = strtok_r(full, "/", &save); seg != NULL; seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			while (len > 0 && out[--len] != '/')
				;
			out[len] = '\0';
			continue;
		}
		len += (size_t)sprintf(out + len, "/%s", seg);
	}
	if (len == 0)
		strcpy(out, "/");
	free(full);
	return out;
}

/* The directory sbctl runs from: the server binaries are beside it. */
static char *
bindir(void)
{
	const char *env = getenv("SB_BINDIR");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env != NULL && *env != '\0')
		return xstrdup(env);
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return xstrdup(".");
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')) != NULL)
		*slash = '\0';
	return xstrdup(exe);
}

static int
add_proc(struct sbctl_launcher *L, const struct sb_config_node *n, const char *name,
    const char *program, const char *config, char *err, size_t errlen)
{
	struct sbctl_proc *p;

	for (size_t i = 0; i < L->nprocs; i++)
		if (strcmp(L->procs[i].name, name) == 0)
			return sb_config_errorf(n, err, errlen, "a second process named '%s'", name);
	if (L->nprocs == SBCTL_MAX_PROCS)
		return sb_config_errorf(n, err, errlen, "more than %d processes",
		    SBCTL_MAX_PROCS);
	p = &L->procs[L->nprocs++];
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", name);
	if ((p->prog = sbctl_program_find(program)) == NULL)
		return sb_config_errorf(n, err, errlen, "program '%s' is not one of router, sm, "
		    "c2s, s2s", program);
	p->config = sbctl_path_clean(config);
	return 0;
}

static int
check_name(const struct sb_config_node *n, const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);

	if (len == 0 || len >= SBCTL_PROC_NAME)
		return sb_config_errorf(n, err, errlen, "a process name has 1 to %d characters",
		    SBCTL_PROC_NAME - 1);
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' && name[i] != '_')
			return sb_config_errorf(n, err, errlen, "process name '%s': letters, "
			    "digits, - and _ only", name);
	return 0;
}

static int
load_procs(struct sbctl_launcher *L, const struct sb_config_node *sec, const char *swpath,
    char *err, size_t errlen)
{
	const struct sb_config_node *n;

	for (const struct sb_config_node *c = sec != NULL ? sb_config_child(sec, NULL) : NULL;
	    c != NULL;
	    c = sb_config_next(c, NULL)) {
		static const char *const known[] = { "process", "environment", "run-dir", "log",
		    "restart", "timeouts" };
		size_t k;

		for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
			if (strcmp(sb_config_name(c), known[k]) == 0)
				break;
		if (k == sizeof(known) / sizeof(known[0]))
			return sb_config_errorf(c, err, errlen, "unknown element in <launcher>");
	}
	n = sec != NULL ? sb_config_child(sec, "process") : NULL;
	if (n == NULL) {
		for (size_t i = 0; i < sizeof(default_procs) / sizeof(default_procs[0]); i++) {
			char file[64], *path;
			int rc;

			snprintf(file, sizeof(file), "%s.xml", default_procs[i]);
			path = sb_config_sibling(swpath, file);
			rc = add_proc(L, sec, default_procs[i], default_procs[i], path, err, errlen);
			free(path);
			if (rc == -1)
				return -1;
		}
		return 0;
	}
	for (; n != NULL; n = sb_config_next(n, "process")) {
		const char *name, *program, *config;
		char file[SBCTL_PROC_NAME + 8];

		if (sb_config_get_str(n, "@name", NULL, &name, err, errlen) == -1)
			return -1;
		if (name == NULL)
			return sb_config_errorf(n, err, errlen, "a <process/> needs a name");
		if (check_name(n, name, err, errlen) == -1)
			return -1;
		snprintf(file, sizeof(file), "%s.xml", name);
		if (sb_config_get_str(n, "@program", name, &program, err, errlen) == -1 ||
		    sb_config_get_path(n, "@config", file, &config, err, errlen) == -1)
			return -1;
		if (add_proc(L, n, name, program, config, err, errlen) == -1)
			return -1;
	}
	return 0;
}

int
sbctl_launcher_load(struct sbctl *ctx)
{
	struct sbctl_launcher *L = &ctx->launcher;
	const struct sb_config_node *root = sb_config_root(ctx->cfg), *sec, *at;
	const char *env, *run, *log;
	char err[1024];

	if (L->loaded)
		return 0;
	/* Without the section, the defaults are read below switchboard.xml's root. */
	sec = sb_config_child(root, "launcher");
	at = sec != NULL ? sec : root;
	if (sb_config_get_path(at, "environment", "../var/switchboard.env", &env, err,
	    sizeof(err)) == -1 ||
	    sb_config_get_path(at, "run-dir", "../var/run", &run, err, sizeof(err)) == -1 ||
	    sb_config_get_path(at, "log", "../var/log/switchboard.log", &log, err,
	    sizeof(err)) == -1 ||
	    sb_config_get_duration(at, "restart@min", 1000, &L->restart_min_ms, err,
	    sizeof(err)) == -1 ||
	    sb_config_get_duration(at, "restart@max", 60000, &L->restart_max_ms, err,
	    sizeof(err)) == -1 ||
	    sb_config_get_duration(at, "timeouts@start", 30000, &L->start_ms, err,
	    sizeof(err)) == -1 ||
	    sb_config_get_duration(at, "timeouts@stop", 15000, &L->stop_ms, err,
	    sizeof(err)) == -1 ||
	    load_procs(L, sec, ctx->config_path, err, sizeof(err)) == -1) {
		sbctl_err(ctx, "%s", err);
		return -1;
	}
	if (L->restart_min_ms < 100 || L->restart_max_ms < L->restart_min_ms) {
		sbctl_err(ctx, "%s: <restart min max>: min at least 100ms, max at least min",
		    ctx->config_path);
		return -1;
	}
	L->env_path = sbctl_path_clean(env);
	L->run_dir = sbctl_path_clean(run);
	L->log_path = sbctl_path_clean(log);
	L->switchboard = sbctl_path_clean(ctx->config_path);
	L->bindir = bindir();
	snprintf(L->pid_path, sizeof(L->pid_path), "%s/sbctl.pid", L->run_dir);
	L->loaded = 1;
	return 0;
}

void
sbctl_launcher_free(struct sbctl_launcher *L)
{
	for (size_t i = 0; i < L->nprocs; i++)
		free(L->procs[i].config);
	free(L->env_path);
	free(L->run_dir);
	free(L->log_path);
	free(L->switchboard);
	free(L->bindir);
	memset(L, 0, sizeof(*L));
}

char *
sbctl_proc_binary(const struct sbctl_launcher *L, const struct sbctl_proc *p)
{
	return xasprintf("%s/sb-%s", L->bindir, p->prog->name);
}

/*
 * KEY=VALUE lines into the environment; blank lines and # comments are
 * skipped, a value may be quoted with ' or ". 0; -1 after a message. An
 * absent file is 1 (the caller decides whether that is an error).
 */
int
sbctl_env_load(struct sbctl *ctx, const char *path)
{
	char line[4096];
	FILE *f;
	int lineno = 0, rc = 0;

	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT)
			return 1;
		sbctl_err(ctx, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *p = line, *eq, *v, *end;

		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		while (isspace((unsigned char)*p))
			p++;
		if (*p == '\0' || *p == '#')
			continue;
		if ((eq = strchr(p, '=')) == NULL || eq == p) {
			sbctl_err(ctx, "%s:%d: not a KEY=VALUE line", path, lineno);
			rc = -1;
			break;
		}
		*eq = '\0';
		for (char *k = p; *k != '\0'; k++) {
			if (!isalnum((unsigned char)*k) && *k != '_') {
				sbctl_err(ctx, "%s:%d: '%s' is not a variable name", path, lineno, p);
				rc = -1;
				goto out;
			}
		}
		v = eq + 1;
		end = v + strlen(v);
		if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v) {
			v++;
			end[-1] = '\0';
		}
		setenv(p, v, 1);
	}
out:
	fclose(f);
	return rc;
}

/* The environment file; a missing one is an error naming the fix. */
int
sbctl_env_require(struct sbctl *ctx)
{
	int rc = sbctl_env_load(ctx, ctx->launcher.env_path);

	if (rc == 1) {
		sbctl_err(ctx, "%s does not exist: it holds the component secret the processes "
		    "share; `sbctl setup` makes it", ctx->launcher.env_path);
		return -1;
	}
	return rc;
}
