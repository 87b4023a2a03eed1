/*
 * signals.h: signal handlers run from the loop (uv_signal_t), never from
 * the signal context, so they may do anything a loop callback may.
 *
 * sb_signals_init() is what a process calls once at start-up: it ignores
 * SIGPIPE (a peer that went away shows up as a write error instead) and
 * sends SIGINT, SIGTERM, SIGHUP and SIGUSR1 to one callback. Signal
 * handlers do not keep the loop alive by themselves (uv_unref), and
 * sb_loop_shutdown() (conn.h) closes them through sb_signals_close_all().
 */
#ifndef SB_SIGNALS_H
#define SB_SIGNALS_H

#include <uv.h>

struct sb_signal;

typedef void sb_signal_cb(struct sb_signal *s, int signum, void *arg);

/* SIGPIPE ignored; SIGINT, SIGTERM, SIGHUP, SIGUSR1 to cb. 0, or -1. */
int	 sb_signals_init(uv_loop_t *loop, sb_signal_cb *cb, void *arg);
void	 sb_signals_ignore_sigpipe(void);
/* One handler for one signal; NULL if libuv refuses the signal. */
struct sb_signal *sb_signal_on(uv_loop_t *loop, int signum, sb_signal_cb *cb, void *arg);
void	 sb_signal_free(struct sb_signal *s);
void	 sb_signals_close_all(uv_loop_t *loop);

#endif
