/*
 * prompt.c: asking for a password on the controlling terminal, without
 * echo, the way passwd(1) does.
 *
 * /dev/tty rather than stdin/stdout: stdout carries results and stdin may
 * be redirected. A signal while echo is off (Ctrl-C) must not leave the
 * terminal silent, so the handlers restore it before the signal takes its
 * ordinary course.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "sbctl.h"

static const int caught[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
#define NCAUGHT (sizeof(caught) / sizeof(caught[0]))

static volatile sig_atomic_t pending_signal;

static void
on_signal(int sig)
{
	pending_signal = sig;
}

struct tty {
	int			 fd;
	struct termios		 saved;
	struct sigaction	 old[NCAUGHT];
};

static int
tty_quiet(struct tty *t)
{
	struct termios quiet;
	struct sigaction sa;

	/* Without a terminal state there is nothing to change or restore. */
	if (tcgetattr(t->fd, &t->saved) == -1)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;	/* no SA_RESTART: read() returns EINTR */
	sigemptyset(&sa.sa_mask);
	pending_signal = 0;
	for (size_t i = 0; i < NCAUGHT; i++)
		sigaction(caught[i], &sa, &t->old[i]);
	quiet = t->saved;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;	/* the Enter key still moves to the next line */
	tcsetattr(t->fd, TCSAFLUSH, &quiet);
	return 0;
}

/* Echo back on, handlers back, and a signal that came meanwhile delivered. */
static void
tty_restore(struct tty *t)
{
	tcsetattr(t->fd, TCSAFLUSH, &t->saved);
	for (size_t i = 0; i < NCAUGHT; i++)
		sigaction(caught[i], &t->old[i], NULL);
	if (pending_signal != 0)
		raise(pending_signal);
}

/* One line without its newline: length, or -1 (read error, signal, EOF, too long). */
static ssize_t
tty_read_line(int fd, char *out, size_t size)
{
	size_t n = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r <= 0 || pending_signal != 0)
			return -1;
		if (c == '\n' || c == '\r')
			break;
		if (n + 1 >= size)
			return -1;
		out[n++] = c;
	}
	out[n] = '\0';
	return (ssize_t)n;
}

static int
ask(struct tty *t, const char *prompt, char *out, size_t size)
{
	ssize_t n;

	/*
	 * Echo off before the prompt shows: TCSAFLUSH drops what was typed
	 * before, so typing must start only once the terminal is quiet.
	 */
	if (tty_quiet(t) == -1)
		return -1;
	n = write(t->fd, prompt, strlen(prompt)) < 0 ? -1 : tty_read_line(t->fd, out, size);
	tty_restore(t);
	return n < 0 ? -1 : 0;
}

int
sbctl_prompt_password(const struct sbctl *ctx, const char *who, char *out, size_t size)
{
	char prompt[SB_JID_BUFSIZE + 32], again[4096];
	struct tty t;
	int r = -1;

	if ((t.fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1) {
		sbctl_err(ctx, "no terminal to ask for the password on (%s): give the password "
		    "as an argument, or use adduser --batch", strerror(errno));
		return -1;
	}
	snprintf(prompt, sizeof(prompt), "Password for %s: ", who);
	if (ask(&t, prompt, out, size) == -1)
		sbctl_err(ctx, "no password read (too long, or input ended)");
	else if (ask(&t, "Retype the password: ", again, sizeof(again)) == -1)
		sbctl_err(ctx, "no password read (too long, or input ended)");
	else if (strcmp(out, again) != 0)
		sbctl_err(ctx, "the passwords do not match; nothing changed");
	else
		r = 0;
	explicit_bzero(again, sizeof(again));
	close(t.fd);
	return r;
}
