/*
 * supervise.c: the supervisor behind `sbctl start`. It starts the
 * launcher's processes in order, each once the one before it says it is
 * ready (lib/proc.h: SB_READY_FD), prefixes every line they print with
 * the process's name, and keeps them running:
 *
 *   a process that exits is started again after a delay that doubles
 *   from <restart min> up to <restart max> (and is back to min once the
 *   process had run for a minute); every exit and restart is logged.
 *   SIGINT, SIGTERM   stop: SIGTERM to every process but the router, then
 *                     to the router once they are gone; SIGKILL for one
 *                     that takes longer than <timeouts stop>
 *   SIGHUP, SIGUSR1   passed on to every process (reload, report); SIGHUP
 *                     also opens the log file again (logrotate)
 *
 * It holds a lock on RUN_DIR/sbctl.pid while it runs (one supervisor per
 * configuration) and writes RUN_DIR/sbctl.status (lib/status.h) with one
 * line per process, which `sbctl status` reads.
 *
 * While starting, a process that exits or does not become ready in time
 * ends the start: everything is stopped and the reason, with the
 * process's last lines and a hint, is reported (to the terminal, or to
 * the `sbctl start` that is waiting on report_fd).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sbctl.h"
#include "signals.h"
#include "status.h"
#include "xmalloc.h"

#define STABLE_MS	60000	/* a process that ran this long restarts after min again */
#define LINE_MAX_OUT	4096	/* longer output lines are cut into pieces */
#define LAST_LINES	6	/* kept per process for the failure report */

struct outbuf {
	char	 data[LINE_MAX_OUT];
	size_t	 len;
};

struct child {
	struct supervisor		*sv;
	const struct sbctl_proc		*p;
	uv_process_t			 proc;
	uv_pipe_t			 out, err, ready;
	struct outbuf			 obuf, ebuf;
	uv_timer_t			 timer;		/* restart delay, start and stop timeouts */
	int				 nopen;		/* handles of this run not yet closed */
	int				 running;	/* spawned and not yet exited */
	int				 is_ready;
	int				 kill_sent;
	int				 spawned;	/* once: later spawns are restarts */
	long				 pid;
	time_t				 since;
	uint64_t			 since_ms;
	unsigned			 restarts;
	int64_t				 backoff_ms;
	char				 last[LAST_LINES][256];
	unsigned			 nlast;
	char				 state[48];	/* for the status file */
};

enum sv_state { SV_STARTING, SV_RUNNING, SV_STOPPING };

struct supervisor {
	struct sbctl		*ctx;
	uv_loop_t		*loop;
	struct child		*children;
	size_t			 n;
	enum sv_state		 state;
	size_t			 next;		/* while starting: the one being started */
	int			 report_fd;	/* -1: report to the terminal */
	int			 log_file;	/* the output goes to the launcher's log file */
	int			 exit_code;
	int			 width;		/* of the name column */
	int			 pid_fd;
	uv_signal_t		 sigs[4];
	struct sb_status	*status;
	char			 failure[8192];
};

static struct supervisor *the_sv;	/* for the log sink */

/* --- output: every line with the name of the process it came from --- */

static void
emit(const struct supervisor *sv, const char *name, const char *line, size_t len)
{
	char buf[LINE_MAX_OUT + 64];
	int n;

	n = snprintf(buf, sizeof(buf), "%-*s | %.*s\n", sv->width, name, (int)len, line);
	if (n > (int)sizeof(buf) - 1)
		n = (int)sizeof(buf) - 1;
	/* The terminal or the log file: a plain write, never buffered behind a crash. */
	for (const char *p = buf; n > 0;) {
		ssize_t w = write(STDOUT_FILENO, p, (size_t)n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		p += w;
		n -= (int)w;
	}
}

static void
log_sink(enum sb_log_level level, const char *line, void *arg)
{
	char buf[LINE_MAX_OUT];

	sb_log_format(buf, sizeof(buf), level, line);
	emit(the_sv, "sbctl", buf, strlen(buf));
}

static void
remember(struct child *c, const char *line, size_t len)
{
	snprintf(c->last[c->nlast % LAST_LINES], sizeof(c->last[0]), "%.*s", (int)len, line);
	c->nlast++;
}

static void
take_output(struct child *c, struct outbuf *b, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl != NULL ? (size_t)(nl - data) : len;
		size_t room = sizeof(b->data) - b->len;

		if (n > room)
			n = room;
		memcpy(b->data + b->len, data, n);
		b->len += n;
		data += n;
		len -= n;
		if (nl != NULL && len > 0 && *data == '\n') {
			data++;
			len--;
		} else if (b->len < sizeof(b->data)) {
			break;		/* a partial line: wait for the rest */
		}
		emit(c->sv, c->p->name, b->data, b->len);
		remember(c, b->data, b->len);
		b->len = 0;
	}
}

static void
flush_output(struct child *c, struct outbuf *b)
{
	if (b->len > 0) {
		emit(c->sv, c->p->name, b->data, b->len);
		remember(c, b->data, b->len);
		b->len = 0;
	}
}

/* --- the status file --- */

static void
status_lines(struct sb_buf *b, void *arg)
{
	const struct supervisor *sv = arg;

	sb_buf_printf(b, "state %s\n", sv->state == SV_STARTING ? "starting" :
	    sv->state == SV_RUNNING ? "running" : "stopping");
	for (size_t i = 0; i < sv->n; i++) {
		const struct child *c = &sv->children[i];

		sb_buf_printf(b, "proc %s program=%s pid=%ld since=%lld restarts=%u ready=%d "
		    "state=%s\n", c->p->name, c->p->prog->name, c->running ? c->pid : 0L,
		    (long long)c->since, c->restarts, c->is_ready, c->state);
	}
}

static void
set_state(struct child *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
set_state(struct child *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->state, sizeof(c->state), fmt, ap);
	va_end(ap);
	sb_status_write(c->sv->status);
}

/* --- children --- */

static void	 start_next(struct supervisor *);
static void	 stop_all(struct supervisor *);
static void	 spawn(struct child *);

static void
handle_closed(uv_handle_t *h)
{
	struct child *c = h->data;

	c->nopen--;
}

static void
alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char chunk[65536];

	buf->base = chunk;
	buf->len = sizeof(chunk);
}

static void
on_output(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct child *c = s->data;
	struct outbuf *b = s == (uv_stream_t *)&c->out ? &c->obuf : &c->ebuf;

	if (n > 0) {
		take_output(c, b, buf->base, (size_t)n);
		return;
	}
	if (n < 0) {
		flush_output(c, b);
		uv_close((uv_handle_t *)s, handle_closed);
	}
}

static void
fail(struct supervisor *sv, struct child *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The start failed: say why (with the process's last lines), then stop everything. */
static void
fail(struct supervisor *sv, struct child *c, const char *fmt, ...)
{
	static const struct {
		const char	*pattern;
		const char	*hint;
	} hints[] = {
		{ "address already in use", "another program holds that port: `ss -ltnp` names "
		    "it; stop it, or change the port in the process's configuration" },
		{ "ermission denied", "the processes run as the user who ran sbctl: check the "
		    "owner and mode of the file or directory named above" },
		{ "SB_COMPONENT_SECRET", "the component secret is missing: `sbctl setup` makes "
		    "it in the launcher's environment file" },
		{ "schema", "the database schema is not the one this version knows: run "
		    "`sbctl db migrate`" },
		{ "onnection refused", "the database server (or the router) does not answer: "
		    "is it running, and does <storage> in switchboard.xml point at it?" },
		{ "certificate", "check the certificate and key files named above (`sbctl "
		    "setup` makes self-signed ones for missing files)" },
	};
	struct sb_buf b = SB_BUF_INIT;
	const char *hint = NULL;
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sb_buf_printf(&b, "%s", msg);
	if (c != NULL && c->nlast > 0) {
		unsigned first = c->nlast > LAST_LINES ? c->nlast - LAST_LINES : 0;

		sb_buf_printf(&b, "; its last lines:");
		for (unsigned i = first; i < c->nlast; i++) {
			const char *l = c->last[i % LAST_LINES];

			sb_buf_printf(&b, "\n    %s", l);
			for (size_t k = 0; hint == NULL && k < sizeof(hints) / sizeof(hints[0]); k++)
				if (strstr(l, hints[k].pattern) != NULL)
					hint = hints[k].hint;
		}
	}
	if (hint != NULL)
		sb_buf_printf(&b, "\nhint: %s", hint);
	snprintf(sv->failure, sizeof(sv->failure), "%s", sb_buf_data(&b));
	sb_buf_free(&b);
	log_error("start failed: %s", msg);
	sv->exit_code = 1;
	stop_all(sv);
}

static void
describe_exit(char *buf, size_t size, int64_t status, int sig)
{
	if (sig != 0)
		snprintf(buf, size, "was killed by signal %d (%s)", sig, strsignal(sig));
	else
		snprintf(buf, size, "exited with status %lld", (long long)status);
}

static void
on_restart_timer(uv_timer_t *t)
{
	struct child *c = t->data;

	if (c->sv->state != SV_STOPPING)
		spawn(c);
}

static void
on_exit_cb(uv_process_t *h, int64_t status, int sig)
{
	struct child *c = h->data;
	struct supervisor *sv = c->sv;
	uint64_t ran = uv_now(sv->loop) - c->since_ms;
	char how[128];
	int64_t delay;

	c->running = 0;
	uv_close((uv_handle_t *)h, handle_closed);
	uv_timer_stop(&c->timer);
	describe_exit(how, sizeof(how), status, sig);

	if (sv->state == SV_STOPPING) {
		log_notice("%s (pid %ld) %s", c->p->name, c->pid, how);
		set_state(c, "stopped");
		stop_all(sv);
		return;
	}
	if (sv->state == SV_STARTING && !c->is_ready) {
		set_state(c, "failed");
		fail(sv, c, "%s (pid %ld) %s before it was ready", c->p->name, c->pid, how);
		return;
	}
	if (ran >= STABLE_MS)
		c->backoff_ms = c->sv->ctx->launcher.restart_min_ms;
	delay = c->backoff_ms;
	c->backoff_ms *= 2;
	if (c->backoff_ms > sv->ctx->launcher.restart_max_ms)
		c->backoff_ms = sv->ctx->launcher.restart_max_ms;
	log_warn("%s (pid %ld) %s after %llus; starting it again in %lldms", c->p->name, c->pid,
	    how, (unsigned long long)(ran / 1000), (long long)delay);
	set_state(c, "restarting");
	c->is_ready = 0;
	uv_timer_start(&c->timer, on_restart_timer, (uint64_t)delay, 0);
}

static void
on_ready(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct child *c = s->data;
	struct supervisor *sv = c->sv;

	if (n == 0)
		return;
	uv_close((uv_handle_t *)s, handle_closed);
	if (n < 0 || c->is_ready)
		return;		/* closed without a word: the exit says why */
	c->is_ready = 1;
	log_notice("%s (pid %ld) is ready", c->p->name, c->pid);
	set_state(c, "running");
	if (sv->state == SV_STARTING && &sv->children[sv->next] == c) {
		uv_timer_stop(&c->timer);
		sv->next++;
		start_next(sv);
	}
}

static void
on_start_timeout(uv_timer_t *t)
{
	struct child *c = t->data;

	fail(c->sv, c, "%s (pid %ld) did not become ready within %llds", c->p->name, c->pid,
	    (long long)c->sv->ctx->launcher.start_ms / 1000);
}

/* The environment of a child: ours, and where to say "ready". */
static char **
child_env(const struct supervisor *sv)
{
	extern char **environ;
	size_t n = 0, k = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = xcalloc(n + 3, sizeof(*env));
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "SB_READY_FD=", 12) != 0 &&
		    strncmp(environ[i], "SB_SUPERVISOR=", 14) != 0 &&
		    strncmp(environ[i], "NOTIFY_SOCKET=", 14) != 0)
			env[k++] = environ[i];
	env[k++] = xasprintf("SB_SUPERVISOR=%ld", (long)getpid());
	env[k++] = xstrdup("SB_READY_FD=3");
	env[k] = NULL;
	return env;
}

static void
spawn(struct child *c)
{
	struct supervisor *sv = c->sv;
	const struct sbctl_proc *p = c->p;
	char *bin = sbctl_proc_binary(&sv->ctx->launcher, p);
	char *args[8];
	char **env = child_env(sv);
	uv_stdio_container_t stdio[4];
	uv_process_options_t o;
	size_t na = 0, nenv = 0;
	int rc;

	if (c->nopen > 0) {
		/* The last run's pipes are still closing: in a moment. */
		free(bin);
		for (nenv = 0; env[nenv] != NULL; nenv++)
			;
		free(env[nenv - 1]);
		free(env[nenv - 2]);
		free(env);
		uv_timer_start(&c->timer, on_restart_timer, 50, 0);
		return;
	}
	args[na++] = bin;
	args[na++] = "-c";
	args[na++] = p->config;
	if (p->prog->shared) {
		args[na++] = "-s";
		args[na++] = sv->ctx->launcher.switchboard;
	}
	args[na] = NULL;

	uv_pipe_init(sv->loop, &c->out, 0);
	uv_pipe_init(sv->loop, &c->err, 0);
	uv_pipe_init(sv->loop, &c->ready, 0);
	c->out.data = c->err.data = c->ready.data = c;
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[1].data.stream = (uv_stream_t *)&c->out;
	stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[2].data.stream = (uv_stream_t *)&c->err;
	stdio[3].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[3].data.stream = (uv_stream_t *)&c->ready;
	memset(&o, 0, sizeof(o));
	o.file = bin;
	o.args = args;
	o.env = env;
	o.cwd = "/";
	o.stdio = stdio;
	o.stdio_count = 4;
	o.exit_cb = on_exit_cb;
	/*
	 * A session of its own: a Ctrl-C on the terminal reaches the
	 * supervisor alone, which stops the set in order (the router last).
	 * The process still dies with the supervisor (lib/proc.c).
	 */
	o.flags = UV_PROCESS_DETACHED;
	c->proc.data = c;
	c->obuf.len = c->ebuf.len = 0;
	c->kill_sent = 0;

	rc = uv_spawn(sv->loop, &c->proc, &o);
	while (env[nenv] != NULL)
		nenv++;
	free(env[nenv - 1]);
	free(env[nenv - 2]);
	free(env);
	c->nopen += 4;
	if (rc != 0) {
		uv_close((uv_handle_t *)&c->proc, handle_closed);
		uv_close((uv_handle_t *)&c->out, handle_closed);
		uv_close((uv_handle_t *)&c->err, handle_closed);
		uv_close((uv_handle_t *)&c->ready, handle_closed);
		set_state(c, "cannot start");
		if (sv->state == SV_STARTING)
			fail(sv, NULL, "cannot run %s: %s", bin, uv_strerror(rc));
		else {
			log_error("cannot run %s: %s; trying again in %lldms", bin, uv_strerror(rc),
			    (long long)c->backoff_ms);
			uv_timer_start(&c->timer, on_restart_timer, (uint64_t)c->backoff_ms, 0);
		}
		free(bin);
		return;
	}
	free(bin);
	c->running = 1;
	c->pid = c->proc.pid;
	c->since = time(NULL);
	c->since_ms = uv_now(sv->loop);
	if (c->spawned) {
		c->restarts++;
		log_notice("%s started again (pid %ld)", p->name, c->pid);
	} else {
		log_notice("%s started (pid %ld)", p->name, c->pid);
	}
	c->spawned = 1;
	set_state(c, "starting");
	uv_read_start((uv_stream_t *)&c->out, alloc_cb, on_output);
	uv_read_start((uv_stream_t *)&c->err, alloc_cb, on_output);
	uv_read_start((uv_stream_t *)&c->ready, alloc_cb, on_ready);
}

/* --- starting and stopping the set --- */

static void
report(struct supervisor *sv, const char *msg)
{
	size_t len = strlen(msg);

	if (sv->report_fd < 0)
		return;
	if (write(sv->report_fd, msg, len) != (ssize_t)len)
		log_warn("cannot report to the starting sbctl: %s", strerror(errno));
	close(sv->report_fd);
	sv->report_fd = -1;
}

/* Why the start failed: to the waiting sbctl start, or to the terminal. */
static void
report_failure(struct supervisor *sv)
{
	char msg[sizeof(sv->failure) + 16];

	if (sv->failure[0] == '\0')
		snprintf(sv->failure, sizeof(sv->failure), "stopped before every process was up");
	if (sv->report_fd >= 0) {
		snprintf(msg, sizeof(msg), "fail %s\n", sv->failure);
		report(sv, msg);
	} else {
		sbctl_err(sv->ctx, "%s", sv->failure);
	}
	sv->exit_code = SBCTL_FAIL;
}

static void
start_next(struct supervisor *sv)
{
	struct child *c;

	if (sv->next == sv->n) {
		sv->state = SV_RUNNING;
		log_notice("switchboard is running: %zu processes", sv->n);
		sb_status_write(sv->status);
		report(sv, "ok\n");
		return;
	}
	c = &sv->children[sv->next];
	spawn(c);
	if (c->running)
		uv_timer_start(&c->timer, on_start_timeout, (uint64_t)sv->ctx->launcher.start_ms, 0);
}

static void
on_kill_timer(uv_timer_t *t)
{
	struct child *c = t->data;

	if (!c->running)
		return;
	log_warn("%s (pid %ld) did not stop within %llds: killing it", c->p->name, c->pid,
	    (long long)c->sv->ctx->launcher.stop_ms / 1000);
	uv_process_kill(&c->proc, SIGKILL);
}

static void
terminate(struct child *c)
{
	if (!c->running || c->kill_sent)
		return;
	c->kill_sent = 1;
	set_state(c, "stopping");
	uv_process_kill(&c->proc, SIGTERM);
	uv_timer_start(&c->timer, on_kill_timer, (uint64_t)c->sv->ctx->launcher.stop_ms, 0);
}

static void
close_all(struct supervisor *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		if (!uv_is_closing((uv_handle_t *)&sv->children[i].timer))
			uv_close((uv_handle_t *)&sv->children[i].timer, NULL);
	for (size_t i = 0; i < 4; i++)
		if (!uv_is_closing((uv_handle_t *)&sv->sigs[i]))
			uv_close((uv_handle_t *)&sv->sigs[i], NULL);
	sb_status_stop(sv->status);
	sv->status = NULL;
}

/*
 * Called on every event while stopping: the processes that are not the
 * router get SIGTERM first (their goodbyes go through the router), the
 * router once they are all gone; then the loop ends.
 */
static void
stop_all(struct supervisor *sv)
{
	int others = 0, any = 0;

	if (sv->state != SV_STOPPING) {
		sv->state = SV_STOPPING;
		log_notice("stopping");
		for (size_t i = 0; i < sv->n; i++) {
			struct child *c = &sv->children[i];

			if (!c->running) {
				uv_timer_stop(&c->timer);
				set_state(c, "stopped");
			}
		}
	}
	for (size_t i = 0; i < sv->n; i++) {
		struct child *c = &sv->children[i];

		if (c->running && strcmp(c->p->prog->name, "router") != 0) {
			terminate(c);
			others = 1;
		}
	}
	for (size_t i = 0; i < sv->n; i++) {
		struct child *c = &sv->children[i];

		if (!c->running)
			continue;
		any = 1;
		if (!others)
			terminate(c);
	}
	if (!any) {
		log_notice("every process has stopped");
		close_all(sv);
	}
}

/*
 * In the background the output goes to the log file: SIGHUP opens it
 * again, so that logrotate can move it away (postrotate: sbctl reload).
 */
static void
reopen_log(struct supervisor *sv)
{
	const char *path = sv->ctx->launcher.log_path;
	int fd;

	if (!sv->log_file)
		return;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)) == -1) {
		log_warn("cannot open the log %s again: %s; still writing to the old one", path,
		    strerror(errno));
		return;
	}
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct supervisor *sv = h->data;

	switch (signum) {
	case SIGINT:
	case SIGTERM:
		if (sv->state != SV_STOPPING) {
			log_notice("%s: stopping every process", strsignal(signum));
			if (sv->state == SV_STARTING)
				snprintf(sv->failure, sizeof(sv->failure), "stopped by %s while "
				    "starting", strsignal(signum));
			stop_all(sv);
		}
		break;
	case SIGHUP:
		reopen_log(sv);
		/* FALLTHROUGH */
	case SIGUSR1:
		log_notice("%s: passed on to every process", signum == SIGHUP ?
		    "SIGHUP (reload)" : "SIGUSR1 (report)");
		for (size_t i = 0; i < sv->n; i++)
			if (sv->children[i].running)
				uv_process_kill(&sv->children[i].proc, signum);
		break;
	}
}

/* --- the pid file: one supervisor per configuration --- */

static int
pid_lock(struct supervisor *sv)
{
	const char *path = sv->ctx->launcher.pid_path;
	char buf[32];
	int fd, n;

	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		snprintf(sv->failure, sizeof(sv->failure), "cannot open %s: %s%s", path,
		    strerror(errno), errno == EACCES ? " (run sbctl as the user that owns the run "
		    "directory, or change its owner)" : "");
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		n = (int)read(fd, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		snprintf(sv->failure, sizeof(sv->failure), "switchboard is already running "
		    "(supervisor pid %s, %s): `sbctl stop` or `sbctl restart`", buf, path);
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)n, 0) != n) {
		snprintf(sv->failure, sizeof(sv->failure), "cannot write %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	sv->pid_fd = fd;
	return 0;
}

int
sbctl_supervise(struct sbctl *ctx, int report_fd, int log_file)
{
	static const int signums[4] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };
	struct sbctl_launcher *L = &ctx->launcher;
	struct supervisor sv = {
		.ctx = ctx, .loop = uv_default_loop(), .report_fd = report_fd, .pid_fd = -1,
		.width = 5, .log_file = log_file,
	};
	char status_path[4200];

	the_sv = &sv;
	sb_log_set_sink(log_sink, NULL);
	sb_log_set_level(SB_LOG_INFO);
	sb_signals_ignore_sigpipe();
	for (size_t i = 0; i < L->nprocs; i++)
		if ((int)strlen(L->procs[i].name) > sv.width)
			sv.width = (int)strlen(L->procs[i].name);
	if (pid_lock(&sv) == -1) {
		sb_log_set_sink(NULL, NULL);
		report_failure(&sv);
		return SBCTL_FAIL;
	}
	sv.n = L->nprocs;
	sv.children = xcalloc(sv.n, sizeof(*sv.children));
	for (size_t i = 0; i < sv.n; i++) {
		struct child *c = &sv.children[i];

		c->sv = &sv;
		c->p = &L->procs[i];
		c->backoff_ms = L->restart_min_ms;
		uv_timer_init(sv.loop, &c->timer);
		c->timer.data = c;
		snprintf(c->state, sizeof(c->state), "waiting");
	}
	for (size_t i = 0; i < 4; i++) {
		uv_signal_init(sv.loop, &sv.sigs[i]);
		sv.sigs[i].data = &sv;
		uv_signal_start(&sv.sigs[i], on_signal, signums[i]);
	}
	snprintf(status_path, sizeof(status_path), "%s/sbctl.status", L->run_dir);
	sv.status = sb_status_start(sv.loop, "sbctl", status_path, 5000, status_lines, &sv);
	log_notice("starting %zu processes from %s", sv.n, L->switchboard);

	start_next(&sv);
	uv_run(sv.loop, UV_RUN_DEFAULT);

	sb_log_set_sink(NULL, NULL);
	if (sv.failure[0] != '\0' || sv.report_fd >= 0)
		report_failure(&sv);
	for (size_t i = 0; i < sv.n; i++)
		if (sv.children[i].nopen != 0)
			log_warn("internal: %s still has %d handles", sv.children[i].p->name,
			    sv.children[i].nopen);
	free(sv.children);
	unlink(L->pid_path);
	close(sv.pid_fd);
	if (uv_loop_close(sv.loop) != 0)
		sbctl_err(ctx, "internal: the loop still has handles at exit");
	return sv.exit_code;
}
