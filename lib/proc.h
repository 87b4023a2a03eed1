/*
 * proc.h: what every server process (sb-router, sb-c2s, sb-sm, sb-s2s)
 * does the same way: its command line, its signals, telling whoever
 * started it that it is ready, and going away with its supervisor.
 *
 *   sb-NAME [-f] [-t] [-c NAME.xml] [-s switchboard.xml]
 *
 *   -c   the process's configuration; default ./etc/NAME.xml when it
 *        exists, else SB_SYSCONFDIR/switchboard/NAME.xml
 *   -s   the shared switchboard.xml (processes that use the database);
 *        default: the one beside the -c file
 *   -t   check the configuration, say so, and exit (0 good, 1 bad)
 *   -f   the foreground, the only mode (kept for scripts)
 *
 * Signals go to three hooks, never from the signal context:
 *
 *   SIGINT, SIGTERM   stop (once; later signals are ignored)
 *   SIGHUP            reload: read the configuration again
 *   SIGUSR1           report: log the counters, write the status file
 *
 * Readiness: sb_proc_ready() says "ready" once, to systemd when
 * NOTIFY_SOCKET is set (Type=notify) and to the sbctl supervisor when
 * SB_READY_FD is set. A process started by the supervisor (SB_SUPERVISOR
 * holds its pid) is sent SIGTERM when the supervisor dies, so a killed
 * sbctl leaves no server behind.
 */
#ifndef SB_PROC_H
#define SB_PROC_H

#include <uv.h>

#include "paths.h"	/* SB_SYSCONFDIR, from the Makefile */

#define SB_PROC_SHARED	0x01	/* takes -s switchboard.xml */

struct sb_signal;

struct sb_proc {
	/* Set before sb_proc_init(). */
	const char	*name;		/* "c2s": the log tag and the default file name */
	unsigned	 flags;		/* SB_PROC_* */

	/* From the command line. */
	const char	*conf_path;	/* -c, or the default */
	char		*shared_path;	/* -s, or switchboard.xml beside conf_path */
	int		 check;		/* -t */

	/* Set before sb_proc_signals(); reload and report may be NULL. */
	void		(*stop)(void *arg);
	void		(*reload)(void *arg);
	void		(*report)(void *arg);
	void		*arg;
	int		 stopping;	/* stop was called */
	int		 ready;		/* sb_proc_ready was called */
};

/* Options (exit 2 on a usage error), the log opened, the supervisor watched. */
void	 sb_proc_init(struct sb_proc *p, int argc, char **argv);
/*
 * After the configuration has loaded: with -t, log that it is good and
 * exit 0; otherwise return.
 */
void	 sb_proc_checked(struct sb_proc *p);
/* The signal handlers; fatal when libuv refuses them. */
void	 sb_proc_signals(struct sb_proc *p, uv_loop_t *loop);
/* Tell systemd and the supervisor that the process serves; once. */
void	 sb_proc_ready(struct sb_proc *p);
void	 sb_proc_free(struct sb_proc *p);

#endif
