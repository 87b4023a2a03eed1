/*
 * signals.c: signal handlers from the loop (see signals.h).
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "signals.h"
#include "xmalloc.h"

struct sb_signal {
	uv_signal_t	 uv;	/* first: a handle pointer is the handler */
	sb_signal_cb	*cb;
	void		*arg;
};

/* uv handle data of our signal handlers: tells them apart in uv_walk(). */
static const char signal_tag;

static const int standard_signals[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1 };

void
sb_signals_ignore_sigpipe(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGPIPE, &sa, NULL);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct sb_signal *s = (struct sb_signal *)h;

	s->cb(s, signum, s->arg);
}

static void
on_close(uv_handle_t *h)
{
	free(h);
}

struct sb_signal *
sb_signal_on(uv_loop_t *loop, int signum, sb_signal_cb *cb, void *arg)
{
	struct sb_signal *s = xcalloc(1, sizeof(*s));

	uv_signal_init(loop, &s->uv);
	s->uv.data = (void *)&signal_tag;
	s->cb = cb;
	s->arg = arg;
	if (uv_signal_start(&s->uv, on_signal, signum) < 0) {
		uv_close((uv_handle_t *)&s->uv, on_close);
		return NULL;
	}
	/* A process stays up for its sockets, not for its signal handlers. */
	uv_unref((uv_handle_t *)&s->uv);
	return s;
}

void
sb_signal_free(struct sb_signal *s)
{
	if (!uv_is_closing((uv_handle_t *)&s->uv))
		uv_close((uv_handle_t *)&s->uv, on_close);
}

int
sb_signals_init(uv_loop_t *loop, sb_signal_cb *cb, void *arg)
{
	size_t i;

	sb_signals_ignore_sigpipe();
	for (i = 0; i < sizeof(standard_signals) / sizeof(standard_signals[0]); i++)
		if (sb_signal_on(loop, standard_signals[i], cb, arg) == NULL)
			return -1;
	return 0;
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	if (h->data == &signal_tag)
		sb_signal_free((struct sb_signal *)h);
}

void
sb_signals_close_all(uv_loop_t *loop)
{
	uv_walk(loop, close_walk, NULL);
}
