/*
 * proc.c: a server process's command line, signals and readiness (see
 * proc.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "proc.h"
#include "signals.h"
#include "xmalloc.h"

static _Noreturn void
usage(const struct sb_proc *p)
{
	fprintf(stderr, "usage: sb-%s [-f] [-t] [-c %s.xml]%s\n", p->name, p->name,
	    (p->flags & SB_PROC_SHARED) ? " [-s switchboard.xml]" : "");
	exit(2);
}

/*
 * Started by sbctl: die with it. The parent may have died between its
 * fork and the prctl, so the parent is checked after the prctl too.
 */
static void
watch_supervisor(const struct sb_proc *p)
{
	const char *s = getenv("SB_SUPERVISOR");
	long pid;

	if (s == NULL || *s == '\0')
		return;
	pid = strtol(s, NULL, 10);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		log_warn("cannot ask to be stopped with the supervisor: %s", strerror(errno));
	if (pid > 0 && (long)getppid() != pid)
		fatal("the supervisor (pid %ld) is gone", pid);
	unsetenv("SB_SUPERVISOR");
}

void
sb_proc_init(struct sb_proc *p, int argc, char **argv)
{
	static char conf_default[512];
	const char *opts = (p->flags & SB_PROC_SHARED) ? "c:s:tfh" : "c:tfh";
	const char *shared = NULL;
	char local[256], sys[256];
	const char *defaults[2] = { local, sys };
	int ch;

	while ((ch = getopt(argc, argv, opts)) != -1) {
		switch (ch) {
		case 'c':
			p->conf_path = optarg;
			break;
		case 's':
			shared = optarg;
			break;
		case 't':
			p->check = 1;
			break;
		case 'f':
			break;
		default:
			usage(p);
		}
	}
	if (optind != argc)
		usage(p);
	if (p->conf_path == NULL) {
		snprintf(local, sizeof(local), "etc/%s.xml", p->name);
		snprintf(sys, sizeof(sys), SB_SYSCONFDIR "/switchboard/%s.xml", p->name);
		/* Copied: defaults[] lives on this stack. One process, one path. */
		snprintf(conf_default, sizeof(conf_default), "%s",
		    sb_config_default_path(defaults, 2));
		p->conf_path = conf_default;
	}
	if (p->flags & SB_PROC_SHARED)
		p->shared_path = shared != NULL ? xstrdup(shared) :
		    sb_config_sibling(p->conf_path, "switchboard.xml");
	sb_log_open(p->name, 0, SB_LOG_INFO);
	watch_supervisor(p);
}

void
sb_proc_checked(struct sb_proc *p)
{
	if (!p->check)
		return;
	log_notice("%s: the configuration is good", p->conf_path);
	sb_proc_free(p);
	exit(0);
}

static void
on_signal(struct sb_signal *s, int signum, void *arg)
{
	struct sb_proc *p = arg;

	if (p->stopping)
		return;
	switch (signum) {
	case SIGINT:
	case SIGTERM:
		p->stopping = 1;
		p->stop(p->arg);
		break;
	case SIGHUP:
		if (p->reload != NULL)
			p->reload(p->arg);
		else
			log_notice("SIGHUP: %s has nothing to reload", p->name);
		break;
	case SIGUSR1:
		if (p->report != NULL)
			p->report(p->arg);
		break;
	}
}

void
sb_proc_signals(struct sb_proc *p, uv_loop_t *loop)
{
	if (sb_signals_init(loop, on_signal, p) == -1)
		fatal("cannot install signal handlers");
}

/* systemd's sd_notify, without libsystemd: one datagram to NOTIFY_SOCKET. */
static void
notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd;

	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	if ((len = strlen(path)) >= sizeof(sa.sun_path))
		return;
	memcpy(sa.sun_path, path, len);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';		/* the abstract namespace */
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	if (sendto(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL, (struct sockaddr *)&sa,
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) == -1)
		log_warn("NOTIFY_SOCKET %s: %s", path, strerror(errno));
	close(fd);
}

/* The supervisor's pipe: one line, then the end of it. */
static void
notify_supervisor(void)
{
	const char *s = getenv("SB_READY_FD");
	int fd;

	if (s == NULL || *s == '\0')
		return;
	fd = atoi(s);
	unsetenv("SB_READY_FD");
	if (fd <= 2)
		return;
	if (write(fd, "ready\n", 6) != 6)
		log_warn("cannot tell the supervisor we are ready: %s", strerror(errno));
	close(fd);
}

void
sb_proc_ready(struct sb_proc *p)
{
	if (p->ready)
		return;
	p->ready = 1;
	notify_systemd("READY=1");
	notify_supervisor();
}

void
sb_proc_free(struct sb_proc *p)
{
	free(p->shared_path);
	p->shared_path = NULL;
}
