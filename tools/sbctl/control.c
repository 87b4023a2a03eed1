/*
 * control.c: the verbs that run the server: start (in the background or
 * in the foreground), stop, restart, reload and status.
 *
 * start checks every process's configuration first (sb-NAME -t), so a
 * typo is reported before anything runs, then hands over to the
 * supervisor (supervise.c): in this process for --foreground, in a
 * detached child otherwise, which tells the waiting `sbctl start` whether
 * every process came up. stop and reload signal the supervisor through
 * the pid in RUN_DIR/sbctl.pid, whose lock says it is alive. status reads
 * the status files the processes write (lib/status.h), so it also works
 * when systemd, not sbctl, runs them.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "sbctl.h"
#include "xmalloc.h"

/* --- small file helpers --- */

/* mkdir -p; 0, or -1 after a message. */
int
sbctl_mkdirs(const struct sbctl *ctx, const char *path, unsigned mode)
{
	char buf[4096];

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char c = *p;

		*p = '\0';
		if (mkdir(buf, (mode_t)mode) == -1 && errno != EEXIST) {
			sbctl_err(ctx, "cannot create the directory %s: %s%s", buf, strerror(errno),
			    errno == EACCES ? " (run sbctl as the user the server runs as, or "
			    "create the directory for it)" : "");
			return -1;
		}
		if ((*p = c) == '\0')
			break;
	}
	return 0;
}

/* The directory part of path, allocated. */
static char *
dirname_of(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash == NULL ? xstrdup(".") : xstrndup(path, (size_t)(slash - path));
}

/*
 * The supervisor's pid when one holds the lock on the pid file, else 0.
 * A file nobody holds is left from a supervisor that was killed.
 */
static long
supervisor_pid(const struct sbctl_launcher *L)
{
	char buf[32];
	long pid = 0;
	ssize_t n;
	int fd;

	if ((fd = open(L->pid_path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		return 0;
	}
	if ((n = read(fd, buf, sizeof(buf) - 1)) > 0) {
		buf[n] = '\0';
		pid = strtol(buf, NULL, 10);
	}
	close(fd);
	return pid;
}

/* --- start --- */

/*
 * sb-NAME -t: the configuration checked by the program that will read
 * it. 0, or -1 after printing what it said.
 */
static int
check_config(struct sbctl *ctx, const struct sbctl_proc *p)
{
	char *bin = sbctl_proc_binary(&ctx->launcher, p);
	char out[8192];
	size_t len = 0;
	int pfd[2], status;
	pid_t pid;
	ssize_t n;

	if (access(bin, X_OK) == -1) {
		sbctl_err(ctx, "%s: %s: %s (build it with make; SB_BINDIR names another "
		    "directory)", p->name, bin, strerror(errno));
		free(bin);
		return -1;
	}
	if (pipe2(pfd, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		sbctl_err(ctx, "cannot run %s: %s", bin, strerror(errno));
		free(bin);
		return -1;
	}
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(pfd[1], STDERR_FILENO);
		if (p->prog->shared)
			execl(bin, bin, "-t", "-c", p->config, "-s", ctx->launcher.switchboard,
			    (char *)NULL);
		else
			execl(bin, bin, "-t", "-c", p->config, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], out + len, sizeof(out) - 1 - len)) > 0 ||
	    (n < 0 && errno == EINTR))
		len += n > 0 ? (size_t)n : 0;
	out[len] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	free(bin);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	sbctl_err(ctx, "%s: the configuration %s has a problem:\n%s", p->name, p->config, out);
	return -1;
}

static int
start_checks(struct sbctl *ctx)
{
	struct sbctl_launcher *L = &ctx->launcher;
	long pid;

	if ((pid = supervisor_pid(L)) > 0) {
		sbctl_err(ctx, "switchboard is already running (supervisor pid %ld): `sbctl "
		    "stop` or `sbctl restart`", pid);
		return -1;
	}
	if (sbctl_mkdirs(ctx, L->run_dir, 0755) == -1)
		return -1;
	for (size_t i = 0; i < L->nprocs; i++)
		if (check_config(ctx, &L->procs[i]) == -1)
			return -1;
	return 0;
}

int
sbctl_start_foreground(struct sbctl *ctx, int argc, char **argv)
{
	if (start_checks(ctx) == -1)
		return SBCTL_FAIL;
	return sbctl_supervise(ctx, -1, 0);
}

/* The detached supervisor: its own session, output to the log file. */
static _Noreturn void
daemon_child(struct sbctl *ctx, int report_fd)
{
	const struct sbctl_launcher *L = &ctx->launcher;
	char *dir = dirname_of(L->log_path);
	int fd, rc;

	setsid();
	if (sbctl_mkdirs(ctx, dir, 0755) == -1 ||
	    (fd = open(L->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) == -1) {
		dprintf(report_fd, "fail cannot open the log %s: %s\n", L->log_path,
		    strerror(errno));
		_exit(SBCTL_FAIL);
	}
	free(dir);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
	if ((fd = open("/dev/null", O_RDONLY)) != -1) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	rc = sbctl_supervise(ctx, report_fd, 1);
	sbctl_cleanup(ctx);
	exit(rc);
}

int
sbctl_start(struct sbctl *ctx, int argc, char **argv)
{
	const struct sbctl_launcher *L = &ctx->launcher;
	char msg[4096];
	size_t len = 0;
	int pfd[2];
	pid_t pid;
	ssize_t n;

	if (start_checks(ctx) == -1)
		return SBCTL_FAIL;
	fflush(stdout);
	fflush(stderr);
	if (pipe2(pfd, O_CLOEXEC) == -1 || (pid = fork()) == -1) {
		sbctl_err(ctx, "cannot start the supervisor: %s", strerror(errno));
		return SBCTL_FAIL;
	}
	if (pid == 0) {
		close(pfd[0]);
		daemon_child(ctx, pfd[1]);
	}
	close(pfd[1]);
	while ((n = read(pfd[0], msg + len, sizeof(msg) - 1 - len)) > 0 ||
	    (n < 0 && errno == EINTR))
		len += n > 0 ? (size_t)n : 0;
	msg[len] = '\0';
	close(pfd[0]);
	if (strncmp(msg, "ok\n", 3) == 0) {
		printf("switchboard is running: %zu processes, supervised by pid %ld; log: %s\n",
		    L->nprocs, (long)pid, L->log_path);
		return SBCTL_OK;
	}
	if (len > 0 && msg[len - 1] == '\n')
		msg[len - 1] = '\0';
	if (strncmp(msg, "fail ", 5) == 0)
		sbctl_err(ctx, "%s\n(the log: %s)", msg + 5, L->log_path);
	else
		sbctl_err(ctx, "the supervisor ended without saying why; see %s", L->log_path);
	return SBCTL_FAIL;
}

/* --- stop, restart, reload --- */

/* Wait for the supervisor to let go of its pid file: 0, or -1 on timeout. */
static int
wait_gone(const struct sbctl_launcher *L, long pid, int64_t ms)
{
	struct timespec step = { 0, 50 * 1000 * 1000 };

	for (int64_t waited = 0; waited < ms; waited += 50) {
		if (supervisor_pid(L) != pid)
			return 0;
		nanosleep(&step, NULL);
	}
	return supervisor_pid(L) == pid ? -1 : 0;
}

int
sbctl_stop(struct sbctl *ctx, int argc, char **argv)
{
	const struct sbctl_launcher *L = &ctx->launcher;
	long pid = supervisor_pid(L);

	if (pid == 0) {
		printf("switchboard is not running\n");
		return SBCTL_OK;
	}
	if (kill((pid_t)pid, SIGTERM) == -1) {
		sbctl_err(ctx, "cannot signal the supervisor (pid %ld): %s%s", pid, strerror(errno),
		    errno == EPERM ? " (run sbctl as the user that started it)" : "");
		return SBCTL_FAIL;
	}
	/* Two stop timeouts: the other processes, then the router. */
	if (wait_gone(L, pid, 2 * L->stop_ms + 5000) == -1) {
		sbctl_err(ctx, "the supervisor (pid %ld) is still running; see %s", pid,
		    L->log_path);
		return SBCTL_FAIL;
	}
	printf("switchboard stopped\n");
	return SBCTL_OK;
}

int
sbctl_restart(struct sbctl *ctx, int argc, char **argv)
{
	int rc = sbctl_stop(ctx, argc, argv);

	return rc == SBCTL_OK ? sbctl_start(ctx, argc, argv) : rc;
}

/* --- status files --- */

struct proc_status {
	int		 found;		/* the file was there */
	long		 pid;
	long long	 started, updated;
	char		 counters[1024];	/* "key=value ..." */
	char		 extra[1024];		/* the launcher's own line for it */
};

/*
 * The status file a process's configuration names, allocated, or NULL;
 * why (when given) gets the reason the configuration did not load.
 */
static char *
status_path(const struct sbctl_proc *p, char *why, size_t whylen)
{
	struct sb_config *cfg;
	const char *path = NULL;
	char err[1024], *out = NULL;

	if (sb_config_load(&cfg, p->config, err, sizeof(err)) == -1) {
		if (why != NULL)
			snprintf(why, whylen, "%s", err);
		return NULL;
	}
	if (sb_config_get_path(sb_config_root(cfg), "status@file", NULL, &path, err,
	    sizeof(err)) == 0 && path != NULL)
		out = xstrdup(path);
	sb_config_free(cfg);
	return out;
}

static void
append_counter(struct proc_status *ps, const char *key, const char *value)
{
	size_t len = strlen(ps->counters);

	snprintf(ps->counters + len, sizeof(ps->counters) - len, "%s%s=%s", len ? " " : "",
	    key, value);
}

/* Read a status file: header lines into fields, "key value" lines into counters. */
static void
status_read(const char *path, struct proc_status *ps)
{
	char line[4096];
	FILE *f;

	if (path == NULL || (f = fopen(path, "re")) == NULL)
		return;
	ps->found = 1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *key = line, *value;

		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || (value = strchr(line, ' ')) == NULL)
			continue;
		*value++ = '\0';
		if (strcmp(key, "pid") == 0)
			ps->pid = strtol(value, NULL, 10);
		else if (strcmp(key, "started") == 0)
			ps->started = strtoll(value, NULL, 10);
		else if (strcmp(key, "updated") == 0)
			ps->updated = strtoll(value, NULL, 10);
		else if (strcmp(key, "process") != 0 && strchr(value, ' ') == NULL)
			append_counter(ps, key, value);
	}
	fclose(f);
}

/* The supervisor's line for name: "restarts=N state=S". */
static void
supervisor_line(const char *path, const char *name, struct proc_status *ps)
{
	char line[1024];
	size_t nlen = strlen(name);
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "proc ", 5) == 0 && strncmp(line + 5, name, nlen) == 0 &&
		    line[5 + nlen] == ' ') {
			const char *r = strstr(line, "restarts="), *s = strstr(line, "state=");

			snprintf(ps->extra, sizeof(ps->extra), "%.*s %s",
			    r != NULL ? (int)strcspn(r, " ") : 0, r != NULL ? r : "",
			    s != NULL ? s + 6 : "-");
		}
	}
	fclose(f);
}

static void
format_uptime(char *buf, size_t size, long long secs)
{
	if (secs < 0)
		secs = 0;
	if (secs >= 86400)
		snprintf(buf, size, "%lldd%02lldh", secs / 86400, secs % 86400 / 3600);
	else if (secs >= 3600)
		snprintf(buf, size, "%lldh%02lldm", secs / 3600, secs % 3600 / 60);
	else if (secs >= 60)
		snprintf(buf, size, "%lldm%02llds", secs / 60, secs % 60);
	else
		snprintf(buf, size, "%llds", secs);
}

/* The pid is a live server process (a stale file's pid may be anyone's now). */
static int
alive(long pid)
{
	char path[64], buf[512];
	FILE *f;
	int ok = 0;

	if (pid <= 0 || kill((pid_t)pid, 0) == -1)
		return pid > 0 && errno == EPERM;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "re")) == NULL)
		return 1;
	/* "pid (comm) S ...": one of our programs (sb-*), not a zombie. */
	if (fgets(buf, sizeof(buf), f) != NULL) {
		const char *lp = strchr(buf, '('), *rp = strrchr(buf, ')');

		ok = lp != NULL && rp != NULL && strncmp(lp + 1, "sb-", 3) == 0 &&
		    rp[1] == ' ' && rp[2] != 'Z';
	}
	fclose(f);
	return ok;
}

int
sbctl_status(struct sbctl *ctx, int argc, char **argv)
{
	const struct sbctl_launcher *L = &ctx->launcher;
	char sv_status[4200], up[32];
	long sv = supervisor_pid(L);
	time_t now = time(NULL);
	int down = 0;

	snprintf(sv_status, sizeof(sv_status), "%s/sbctl.status", L->run_dir);
	if (sv > 0)
		printf("supervisor: running, pid %ld (%s)\n", sv, L->pid_path);
	else
		printf("supervisor: not running (`sbctl start` starts it; under systemd, "
		    "systemctl status switchboard.target)\n");
	printf("%-*s %-7s %-8s %-8s %-9s %s\n", 10, "PROCESS", "PID", "UPTIME", "RESTARTS",
	    "STATE", "COUNTERS");
	for (size_t i = 0; i < L->nprocs; i++) {
		const struct sbctl_proc *p = &L->procs[i];
		struct proc_status ps = { 0 };
		char why[1024] = "", restarts[16] = "-", state[64];
		char *path = status_path(p, why, sizeof(why));
		const char *r;

		status_read(path, &ps);
		if (sv > 0)
			supervisor_line(sv_status, p->name, &ps);
		if ((r = strstr(ps.extra, "restarts=")) != NULL)
			snprintf(restarts, sizeof(restarts), "%d", atoi(r + 9));
		if (path == NULL) {
			snprintf(state, sizeof(state), "unknown");
		} else if (!ps.found) {
			snprintf(state, sizeof(state), "%s", sv > 0 && ps.extra[0] ?
			    strchr(ps.extra, ' ') + 1 : "stopped");
		} else if (!alive(ps.pid)) {
			snprintf(state, sizeof(state), "dead");
		} else if (now - ps.updated > 60) {
			snprintf(state, sizeof(state), "stale");
		} else {
			snprintf(state, sizeof(state), "running");
		}
		if (strcmp(state, "running") != 0)
			down = 1;
		format_uptime(up, sizeof(up), (long long)now - ps.started);
		printf("%-*s %-7ld %-8s %-8s %-9s %s\n", 10, p->name,
		    strcmp(state, "running") == 0 ? ps.pid : 0L,
		    strcmp(state, "running") == 0 ? up : "-", restarts, state,
		    strcmp(state, "running") == 0 ? ps.counters : "");
		if (path == NULL && why[0] != '\0')
			printf("    cannot read it: %s\n", why);
		else if (path == NULL)
			printf("    %s has no <status file='...'/>: add one to see this process\n",
			    p->config);
		free(path);
	}
	/* LSB: 3 means "not running". */
	return down ? 3 : SBCTL_OK;
}

int
sbctl_reload(struct sbctl *ctx, int argc, char **argv)
{
	const struct sbctl_launcher *L = &ctx->launcher;
	long sv = supervisor_pid(L);
	int n = 0;

	if (sv > 0) {
		if (kill((pid_t)sv, SIGHUP) == -1) {
			sbctl_err(ctx, "cannot signal the supervisor (pid %ld): %s", sv,
			    strerror(errno));
			return SBCTL_FAIL;
		}
		printf("asked every process to reload (through the supervisor, pid %ld); each "
		    "logs how it went (\"reloaded ...\" or \"reload: ...\")\n", sv);
		return SBCTL_OK;
	}
	/* Not ours to supervise (systemd): each process by the pid in its status file. */
	for (size_t i = 0; i < L->nprocs; i++) {
		struct proc_status ps = { 0 };
		char *path = status_path(&L->procs[i], NULL, 0);

		status_read(path, &ps);
		free(path);
		if (ps.found && alive(ps.pid) && kill((pid_t)ps.pid, SIGHUP) == 0) {
			printf("%s (pid %ld): asked to reload\n", L->procs[i].name, ps.pid);
			n++;
		}
	}
	if (n == 0) {
		sbctl_err(ctx, "no running process found (status files in %s)", L->run_dir);
		return SBCTL_FAIL;
	}
	return SBCTL_OK;
}
