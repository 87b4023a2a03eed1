/*
 * msg_load.h: what the parts of msg_load share (main.c says what the
 * program does): the options, what a worker reports to the parent and the
 * pipe commands between them, and the helpers both sides use.
 *
 *   main.c     the options, the shared helpers, main()
 *   worker.c   a worker process: its clients log in and exchange messages
 *   parent.c   the parent: forks the workers, keeps time, reads the server
 *              processes' CPU and memory, and the report (idle mode too)
 */
#ifndef MSG_LOAD_H
#define MSG_LOAD_H
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "buf.h"
#include "conn.h"
#include "log.h"
#include "ns.h"
#include "scram.h"
#include "stanza.h"
#include "timer.h"
#include "tls.h"
#include "xmalloc.h"
#include "xml.h"

#define PASSWORD	"bench"
#define RESOURCE	"msg"
#define IO_TIMEOUT_MS	30000	/* a login step that takes longer is a failure */
#define DRAIN_MAX_S	10	/* after "stop": wait this long for what is in flight */
#define CLOSE_MAX_S	10	/* then for the server to close every stream */
#define MAX_REASONS	16
#define MAX_PROCS	16
#define MAX_PORTS	64
#define MAX_SOURCES	253	/* 127.0.0.2 .. 127.0.0.254 */
#define PACE_MS		5	/* -r: how often a worker sends what is due */
#define PROGRESS_STEP	1000	/* a worker reports its logins in steps of this many */
#define FLAT_PCT	2.0	/* memory is flat: drift within 2 % of the start ... */
#define FLAT_MIN_KIB	(16 * 1024)	/* ... or 16 MiB, whichever is larger */
#define FLAT_SPAN_S	150	/* ... between the lows of the window's ends this long */
#define BODY_TEXT	"Wherefore art thou, Romeo? Deny thy father and refuse thy name; " \
	"or if thou wilt not, be but sworn my love, and I'll no longer be a Capulet. "

/* As login_load.c: the groups common clients offer, so the client's key share is used. */
#define CLIENT_PRIORITY	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1"

/* Latency histogram: exact below 32 us, then 16 buckets per power of two. */
#define HIST_N		(32 + 16 * 40)

/* Commands from the parent, one byte each. */
#define CMD_GO		'g'
#define CMD_MEASURE	'm'
#define CMD_STOP	's'
#define CMD_INTERVAL	'i'	/* answered with a struct interval */
#define MSG_READY	'R'
#define MSG_PROGRESS	'p'	/* PROGRESS_STEP more clients logged in */

enum phase { LOGIN, IDLE, WARMUP, MEASURE, DRAIN, CLOSING };

struct options {
	const char		*domain;
	const char		*domain2;	/* the receivers' (-D), or NULL: domain */
	const char		*priority;
	int			 ports[MAX_PORTS];	/* client i uses i % nports */
	int			 nports;
	int			 c2s_port2;	/* the receivers' (-P), or 0: ports */
	int			 users, window, body, jobs, logins;
	int			 sources;	/* -S: source addresses, 0: none bound */
	int			 idle;		/* -I */
	double			 seconds, warmup;
	double			 rate;		/* -r: messages/s in all, 0: closed loop */
	double			 interval;	/* -i: a line every interval, 0: none */
	double			 login_max;	/* -L: the login phase's limit */
	enum sb_scram_hash	 hash;
	int			 nprocs;
	const char		*proc_name[MAX_PROCS];
	long			 proc_pid[MAX_PROCS];
};

struct reason {
	char		 text[96];
	uint64_t	 count;
};

/* What a worker sends back to the parent when it has drained: plain data. */
struct result {
	uint64_t	 sent, delivered, bounced;	/* the whole run */
	uint64_t	 m_sent, m_delivered;		/* in the measured window */
	uint64_t	 out_of_order, other;		/* stanzas nobody expected */
	uint64_t	 connected;			/* clients logged in at "stop" */
	uint64_t	 disconnected;			/* clients lost after the login */
	uint64_t	 behind;			/* -r: turns skipped, window full */
	uint64_t	 pings;				/* server pings answered */
	uint64_t	 lat_max_us;
	uint64_t	 hist[HIST_N];			/* latencies in the window */
	double		 drain_s;
	int		 drained;			/* nothing left in flight */
	int		 nreasons;
	struct reason	 reasons[MAX_REASONS];
};

/* What a worker sends for CMD_INTERVAL: the interval's counts, the errors so far. */
struct interval {
	uint64_t	 sent, delivered, behind;
	uint64_t	 errors;
	uint64_t	 hist[HIST_N];
};

/* main.c */
double	 now(void);
const char *rcv_domain(const struct options *o);
void	 die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void	 count_reason(struct result *r, const char *fmt, ...)
	     __attribute__((format(printf, 2, 3)));
void	 add_reason(struct result *r, const char *text, uint64_t count);
int	 hist_index(uint64_t us);
double	 hist_value(int i);

/* worker.c: one worker, pairs first .. first + npairs - 1; its exit status. */
int	 worker_main(const struct options *o, int first, int npairs, int cmd_fd, int st_fd);

/* parent.c: the whole run (workers forked here); the exit status. */
int	 run(const struct options *o);

#endif
