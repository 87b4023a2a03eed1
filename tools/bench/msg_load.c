/*
 * msg_load.c: one-to-one message throughput through the whole server
 * (client -> c2s -> router -> sm -> router -> c2s -> client), or across
 * federation with -D and -P (client -> c2s1 -> router1 -> sm1 -> router1 ->
 * s2s1 -> s2s2 -> router2 -> sm2 -> router2 -> c2s2 -> client). Not a test.
 *
 *   msg_load [options] C2S_PORT[,C2S_PORT...] NAME=PID...
 *     -I           idle: log in and send nothing; measure the server's memory per
 *                  session (below). -W, -b and -r do not apply then
 *     -d DOMAIN    the served domain (localhost); with -D, the senders'
 *     -D DOMAIN2   the receivers' domain, served by another server: the
 *                  receivers log in there as benchN@DOMAIN2 and the
 *                  senders address them there (default: DOMAIN)
 *     -P PORT2     the c2s port of DOMAIN2's server (default: C2S_PORT)
 *     -u USERS     client connections (200), even: accounts bench1..benchUSERS,
 *                  password "bench"; bench(2i-1) sends to bench(2i)
 *     -W WINDOW    messages in flight per pair (32)
 *     -b BYTES     body size (100)
 *     -t SECONDS   measured time (10), after a warm-up of -w SECONDS (2); with -I
 *                  the sessions are held -t SECONDS after -w SECONDS to settle (3)
 *     -r RATE      paced: RATE messages a second in all, each pair in turn,
 *                  instead of the closed loop (below); -W caps what a pair has
 *                  in flight
 *     -i SECONDS   a line every SECONDS of the measured window (and of the
 *                  login phase): rate, latency, errors, server RSS (below)
 *     -j JOBS      worker processes sharing the pairs (1)
 *     -n LOGINS    logins in flight per worker (50)
 *     -L SECONDS   the login phase's limit (60 + USERS / 100)
 *     -S COUNT     source addresses: client i binds 127.0.0.(2 + i % COUNT),
 *                  COUNT up to 253 (default: none bound, 127.0.0.1)
 *     -1           SCRAM-SHA-1 instead of SCRAM-SHA-256
 *     -p PRIORITY  the client's gnutls priority string (CLIENT_PRIORITY)
 *   C2S_PORT     one port, or several c2s processes' ports: client i (account
 *                  bench(i+1)) connects to the (i % n)-th, so with two or more
 *                  a sender and its receiver are on different c2s processes
 *                  and every message crosses the router twice
 *   NAME=PID       the server processes whose CPU and memory are measured
 *                  (router=123 c2s=456 sm=789), read from /proc/PID; up to
 *                  MAX_PROCS of them
 *
 * Every client logs in for real, as login_load.c does (STARTTLS, SCRAM
 * without channel binding, bind), sends initial presence (sm delivers
 * only to available resources) and then a chat message to itself, whose
 * return proves the presence was handled. With -D, each sender then
 * pings DOMAIN2 (XEP-0199, answered by its sm) and waits for the result:
 * the first ones set up the server-to-server stream, so it is up before
 * the burst (a remote domain's queue while its stream is set up is
 * small: s2s's <queue/>, 1000 stanzas by default). Once every client of every
 * worker is there, the senders send chat messages to their receiver's
 * bare JID, keeping WINDOW of them in flight per pair: each delivery lets
 * the sender send one more. The message's id is its sequence number;
 * the receiver checks the order and measures the latency from the send
 * time the pair keeps for each message in flight. After the measured time
 * the senders stop and the workers wait until every message has arrived
 * (or DRAIN_MAX_S), so "lost" is exact: sent - delivered - bounced.
 *
 * The parent process only keeps time: it forks the workers, tells them
 * "go" (warm-up), "measure" and "stop" over pipes, and reads at those
 * moments the CPU time (utime + stime of /proc/PID/stat) of the server
 * processes and of its workers, so a figure per delivered message is the
 * server's CPU in the window divided by the messages delivered in it.
 * The workers send back their counters and a latency histogram
 * (log-linear, 1/16 precision), which merge across processes. More than
 * one worker is needed only past the descriptor limit of one process
 * (about 20,000 connections here): every worker competes with the server
 * for the same cores, and the report says how much CPU they took.
 *
 * Reading the figures. The load is a closed loop, so the window decides
 * what is measured: with -W 1 every message is a TLS record and a system
 * call of its own on both client connections (the cost of sparse real
 * traffic, c2s's share dominates); with the default 32 the messages
 * travel in batches (one read, one record, one write for many), the
 * processes take turns on the batches and none of them is saturated
 * (latency = in flight / rate). pairs x window is also the burst sent at
 * "go": past about 30,000 messages in flight (fewer with a slower sm) the
 * router's queue to sm or c2s can exceed its write-buffer bound (4 MiB)
 * and the link is dropped, since nothing pushes back yet
 * (docs/ARCHITECTURE.md).
 *
 * Paced (-r). A closed loop saturates the server by construction: with
 * many pairs the latency is only what is in flight over the rate. With -r
 * the senders offer a fixed rate instead, as people typing do: every
 * PACE_MS each worker sends the messages then due at its share of RATE,
 * one per pair in turn, so a pair sends every PAIRS / RATE seconds. A pair
 * that still has WINDOW messages in flight when its turn comes skips it,
 * counted as "behind": the server does not keep up with the offered rate.
 * The latency is then what a message takes at that load. The clients'
 * XML parsers are released between reads (as in idle mode), so a client
 * costs the generator little more than its TLS session.
 *
 * Long runs. Every second of the measured window the parent reads the
 * VmRSS of the server processes; it reports per process and summed the
 * RSS at the start of the window (after the warm-up), at the end and the
 * maximum, and the drift (end - start). The verdict: memory is flat when
 * the lowest summed RSS of the window's last FLAT_SPAN_S (150 s, a third
 * of a shorter window) exceeds the lowest of its first FLAT_SPAN_S by at
 * most FLAT_PCT (2 %) of the latter or FLAT_MIN_KIB (16 MiB), whichever
 * is larger. Why the lows and not the two end points: memory swings with
 * what the server does periodically (c2s wakes a silent client's parser
 * for each ping, every <ping-interval>, 2 minutes by default, and gives
 * the pages back later), so one reading may fall on a crest; a span
 * longer than that cycle holds a trough, and a leak lifts the troughs
 * too (at 100,000 sessions the sum swings by about 65 MiB, 3 %, with
 * that cycle). Why these bounds: after the warm-up, buffers and allocator
 * arenas have grown to what the traffic needs, so what still grows is
 * what the traffic leaves behind. At 100,000 sessions (a server of about
 * 1.9 GiB) 2 % is about 0.4 KiB per session, and a leak of 10 bytes per
 * message over a 10-minute run at 8,000 messages/s (4.8 million
 * messages, 46 MiB) is caught; the 16 MiB floor is for small servers,
 * where one malloc arena growing by a few MiB is not a leak. The verdict does not
 * change the exit status; scripts read flat= in the last line.
 *
 * With -i SECONDS a line per interval shows the messages/s delivered in
 * it, p50 and p99 of those messages, the errors so far (bounced, out of
 * order, unexpected stanzas, clients disconnected) and the summed server
 * RSS; -i also prints the login phase's progress. The last line sums the
 * run up for scripts (on one line):
 *   messages: sessions=N rate=R p50_ms=A p99_ms=B errors=E lost=L behind=K
 *   rss_start_kib=S rss_end_kib=T rss_max_kib=M drift_kib=D drift_pct=P
 *   low_start_kib=L0 low_end_kib=L1 flat=yes|no per_session_kib=Q
 *   gen_rss_kib=G login_s=T server_cpu_pct=C
 * where errors counts every message not delivered and every surprise,
 * the lows are those the verdict compares, per_session_kib is (RSS at the
 * start of the window - RSS before the first login) / USERS, gen_rss_kib
 * the workers' RSS at the end, login_s the time from the first connection
 * to the last client ready and server_cpu_pct the server processes' CPU
 * over the window, in % of one core.
 *
 * Many clients. A connection's ephemeral port (32768-60999) must be
 * unique per source and destination, so from 127.0.0.1 at most about
 * 28,000 clients reach one c2s port; -S spreads the clients over source
 * addresses of 127.0.0.0/8 (never any other) with sb_conn_connect_from().
 * A worker holds at most its descriptor limit of
 * connections (about 20,000 here): use -j. A login that fails (timeout
 * IO_TIMEOUT_MS per step, a stream error) ends the run with the account,
 * the step and the reason; the whole login phase has -L SECONDS.
 *
 * Idle (-I): every client logs in as above (presence and the message to
 * itself included: its return says sm has made the session available),
 * then nobody sends anything. The parent reads the summed VmRSS (of
 * /proc/PID/status) of the server processes before the first client
 * connects (the empty server), -w SECONDS after the last login (the
 * sessions) and each second of the -t SECONDS hold, the last one the end
 * figure. Per session is (RSS with the sessions - RSS empty) / USERS, per
 * process and summed, in KiB. A server may ping idle clients (XEP-0199):
 * the clients answer, as real clients do. At the end every session must
 * still be connected: each one that is not, and each stanza nobody
 * expected, counts as an error. The last line sums it up for scripts:
 *   idle: sessions=N empty_kib=A loaded_kib=B end_kib=C per_session_kib=D
 *   errors=E per_process_kib=NAME:D1,NAME:D2,...  (on one line)
 * The generator's own memory, not measured but on the same machine, is
 * kept low: an idle client's XML parser is released (it is rebuilt for a
 * ping), and its TLS session is most of what stays.
 *
 * tools/bench/messages.sh sets up the server and runs it; tools/bench/idle.sh
 * runs the idle mode.
 */
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

#include "base64.h"
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

/* --- one worker: clients and pairs --- */

enum step {
	ST_IDLE,
	ST_CONNECT,		/* waiting for CONNECTED */
	ST_FEATURES_TLS,	/* <stream:features> offering <starttls/> */
	ST_PROCEED,		/* <proceed/> */
	ST_HANDSHAKE,		/* waiting for TLS_READY */
	ST_FEATURES_SASL,	/* <stream:features> with our mechanism */
	ST_CHALLENGE,		/* SCRAM server-first-message */
	ST_SUCCESS,		/* SCRAM server-final-message */
	ST_FEATURES_BIND,	/* <stream:features> with <bind/> */
	ST_BOUND,		/* the bind result */
	ST_PROBE,		/* presence sent: waiting for our message to ourselves */
	ST_FEDPROBE,		/* sender with -D: waiting for DOMAIN2's answer to a ping */
	ST_RUN,			/* logged in and available */
	ST_CLOSING,		/* our </stream:stream> sent */
	ST_FAILED,		/* failure counted: waiting for CLOSED */
	ST_GONE,		/* closed */
};

static const char *step_names[] = {
	"idle", "connect", "features (TLS)", "proceed", "TLS handshake", "features (SASL)",
	"challenge", "success", "features (bind)", "bind", "probe", "ping to DOMAIN2", "run",
	"closing", "failed", "gone",
};

struct worker;
struct pair;

struct client {
	struct worker		*w;
	struct pair		*pair;
	int			 account;	/* N of benchN */
	int			 sender;
	enum step		 step;
	struct sb_conn		*conn;
	struct sb_xml_stream	*xs;
	struct sb_buf		 auth_msg;	/* SCRAM AuthMessage, built step by step */
	char			 nonce[SB_SCRAM_NONCE_LEN + 1];
	unsigned char		 salted[SB_SCRAM_MAX_HASH];
};

struct pair {
	struct client		 snd, rcv;
	uint64_t		 sent, delivered, bounced;
	uint64_t		 expect;	/* the next sequence number due at the receiver */
	double			*t_sent;	/* send times, by sequence number % window */
};

struct worker {
	const struct options	*o;
	uv_loop_t		*loop;
	int			 cmd_fd, st_fd;
	uv_poll_t		 cmd;
	struct sb_tls_ctx	*tls;
	struct sb_timer		*ticker;
	struct sb_timer		*pacer;		/* -r */
	struct pair		*pairs;
	int			 npairs, first;	/* pairs first .. first + npairs - 1 */
	int			 nclients, next_login, logging_in, ready, open;
	int			 turn;		/* -r: the pair whose turn is next */
	double			 rate, credit, t_paced;	/* -r: this worker's share */
	enum phase		 phase;
	double			 t_drain, t_close;
	char			 body[4096];
	struct result		 r;
	struct interval		 iv;
	struct sb_arena		 scratch;
};

typedef int step_fn(struct client *c, struct sb_xml_node *el);

static step_fn on_features_tls, on_proceed, on_features_sasl, on_challenge, on_success,
    on_features_bind, on_bound;

static const struct {
	enum step	 step;
	const char	*ns, *name;
	step_fn		*fn;
} steps[] = {
	{ ST_FEATURES_TLS,	SB_NS_STREAMS,		"features",	on_features_tls },
	{ ST_PROCEED,		SB_NS_XMPP_TLS,		"proceed",	on_proceed },
	{ ST_FEATURES_SASL,	SB_NS_STREAMS,		"features",	on_features_sasl },
	{ ST_CHALLENGE,		SB_NS_XMPP_SASL,	"challenge",	on_challenge },
	{ ST_SUCCESS,		SB_NS_XMPP_SASL,	"success",	on_success },
	{ ST_FEATURES_BIND,	SB_NS_STREAMS,		"features",	on_features_bind },
	{ ST_BOUND,		SB_NS_CLIENT,		"iq",		on_bound },
};

static void login_next(struct worker *w);
static void fail(struct client *c, const char *what);

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The domain and c2s port a client logs in to: the receivers' differ with -D and -P. */
static const char *
rcv_domain(const struct options *o)
{
	return o->domain2 != NULL ? o->domain2 : o->domain;
}

static const char *
client_domain(const struct client *c)
{
	return c->sender ? c->w->o->domain : rcv_domain(c->w->o);
}

/* Client i is account bench(i+1): the senders are the even i, their receivers i + 1. */
static int
client_port(const struct client *c)
{
	const struct options *o = c->w->o;

	if (!c->sender && o->c2s_port2 != 0)
		return o->c2s_port2;
	return o->ports[(c->account - 1) % o->nports];
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void count_reason(struct result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void add_reason(struct result *r, const char *text, uint64_t count);

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "msg_load[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Anything unexpected is counted by reason; the last row collects the overflow. */
static void
count_reason(struct result *r, const char *fmt, ...)
{
	char text[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	add_reason(r, text, 1);
}

static void
add_reason(struct result *r, const char *text, uint64_t count)
{
	int i;

	for (i = 0; i < r->nreasons; i++)
		if (strcmp(r->reasons[i].text, text) == 0)
			break;
	if (i == r->nreasons) {
		if (r->nreasons == MAX_REASONS)
			i--;
		else
			snprintf(r->reasons[r->nreasons++].text, sizeof(r->reasons[0].text),
			    "%s", text);
	}
	r->reasons[i].count += count;
}

static int
hist_index(uint64_t us)
{
	int msb, i;

	if (us < 32)
		return (int)us;
	msb = 63 - __builtin_clzll(us);
	i = 32 + (msb - 5) * 16 + (int)((us >> (msb - 4)) & 15);
	return i < HIST_N ? i : HIST_N - 1;
}

/* The middle of bucket i, in microseconds. (No libm: the Makefile does not link it.) */
static double
hist_value(int i)
{
	int e;

	if (i < 32)
		return i;
	e = (i - 32) / 16 + 1;
	return (double)((uint64_t)(16 + (i - 32) % 16) << e) + (double)(1ULL << (e - 1));
}

/* --- the login, as login_load.c does it --- */

static void
send_str(struct client *c, const char *str)
{
	sb_conn_write(c->conn, str, strlen(str));
}

static void
send_header(struct client *c)
{
	char hdr[512];

	snprintf(hdr, sizeof(hdr), "<?xml version='1.0'?><stream:stream xmlns='" SB_NS_CLIENT
	    "' xmlns:stream='" SB_NS_STREAMS "' to='%s' version='1.0'>", client_domain(c));
	send_str(c, hdr);
}

/* <name xmlns='ns'>base64(data)</name> */
static void
send_sasl(struct client *c, const char *name, const char *mech, const char *data, size_t len)
{
	struct sb_buf out = SB_BUF_INIT;

	sb_buf_printf(&out, "<%s xmlns='" SB_NS_XMPP_SASL "'", name);
	if (mech != NULL)
		sb_buf_printf(&out, " mechanism='%s'", mech);
	sb_buf_append_char(&out, '>');
	sb_base64_encode_buf(&out, data, len);
	sb_buf_printf(&out, "</%s>", name);
	sb_conn_write(c->conn, sb_buf_data(&out), sb_buf_len(&out));
	sb_buf_free(&out);
}

/* The element's text, base64-decoded into out (NUL-ended). -1 when it is not base64. */
static int
decode_text(struct client *c, const struct sb_xml_node *el, char *out, size_t cap)
{
	size_t len, n;
	const char *t = sb_xml_text(&c->w->scratch, el, &len);

	if (sb_base64_decode(t, len, out, cap - 1, &n) == -1)
		return -1;
	out[n] = '\0';
	return 0;
}

static int
on_features_tls(struct client *c, struct sb_xml_node *el)
{
	if (sb_xml_child(el, SB_NS_XMPP_TLS, "starttls") == NULL)
		return -1;
	send_str(c, "<starttls xmlns='" SB_NS_XMPP_TLS "'/>");
	return ST_PROCEED;
}

/* What follows <proceed/> is TLS: the DATA handler gives it to the layer. */
static int
on_proceed(struct client *c, struct sb_xml_node *el)
{
	(void)el;
	sb_xml_stream_stop(c->xs);
	return ST_HANDSHAKE;
}

static int
on_features_sasl(struct client *c, struct sb_xml_node *el)
{
	const char *mech = sb_scram_mech_name(c->w->o->hash, 0);
	struct sb_xml_node *m = sb_xml_child(el, SB_NS_XMPP_SASL, "mechanisms"), *x;
	char first[128];
	int n;

	if (m == NULL)
		return -1;
	SB_XML_FOREACH_CHILD(x, m) {
		if (strcmp(sb_xml_text(&c->w->scratch, x, NULL), mech) != 0)
			continue;
		sb_scram_nonce(c->nonce, sizeof(c->nonce));
		/* gs2 header "n,,": no channel binding, no authzid. */
		n = snprintf(first, sizeof(first), "n,,n=bench%d,r=%s", c->account, c->nonce);
		sb_buf_clear(&c->auth_msg);
		sb_buf_append(&c->auth_msg, first + 3, (size_t)n - 3);
		send_sasl(c, "auth", mech, first, (size_t)n);
		return ST_CHALLENGE;
	}
	return -1;
}

/* Every account logs in once, so its PBKDF2 runs here, in the login phase. */
static int
on_challenge(struct client *c, struct sb_xml_node *el)
{
	enum sb_scram_hash h = c->w->o->hash;
	char sf[512], final[512], b64[2 * SB_SCRAM_MAX_HASH];
	const char *r, *salt_b64, *it;
	unsigned char salt[SB_SCRAM_SALT_MAX], proof[SB_SCRAM_MAX_HASH];
	size_t salt_len, rlen;
	int n;

	if (decode_text(c, el, sf, sizeof(sf)) == -1 || strncmp(sf, "r=", 2) != 0 ||
	    strncmp(sf + 2, c->nonce, strlen(c->nonce)) != 0 ||
	    (salt_b64 = strstr(sf, ",s=")) == NULL || (it = strstr(sf, ",i=")) == NULL)
		return -1;
	r = sf + 2;
	rlen = strcspn(r, ",");
	salt_b64 += 3;
	if (sb_base64_decode(salt_b64, strcspn(salt_b64, ","), salt, sizeof(salt),
	    &salt_len) == -1 || sb_scram_salted_password(h, PASSWORD, strlen(PASSWORD), salt,
	    salt_len, (unsigned)atoi(it + 3), c->salted) == -1)
		return -1;
	/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
	n = snprintf(final, sizeof(final), "c=biws,r=%.*s", (int)rlen, r);
	sb_buf_printf(&c->auth_msg, ",%s,%s", sf, final);
	sb_scram_client_proof(h, c->salted, sb_buf_data(&c->auth_msg),
	    sb_buf_len(&c->auth_msg), proof);
	sb_base64_encode(proof, sb_scram_hash_len(h), b64);
	n += snprintf(final + n, sizeof(final) - (size_t)n, ",p=%s", b64);
	send_sasl(c, "response", NULL, final, (size_t)n);
	return ST_SUCCESS;
}

/* The server must prove it knew ServerKey (v=), then the stream restarts. */
static int
on_success(struct client *c, struct sb_xml_node *el)
{
	char sfinal[256];
	unsigned char sig[SB_SCRAM_MAX_HASH];
	size_t len;

	if (decode_text(c, el, sfinal, sizeof(sfinal)) == -1 || strncmp(sfinal, "v=", 2) != 0 ||
	    sb_base64_decode(sfinal + 2, strlen(sfinal + 2), sig, sizeof(sig), &len) == -1 ||
	    sb_scram_check_server_signature(c->w->o->hash, c->salted,
	    sb_buf_data(&c->auth_msg), sb_buf_len(&c->auth_msg), sig, len) != 0)
		return -1;
	sb_buf_free(&c->auth_msg);
	sb_xml_stream_restart(c->xs);
	send_header(c);
	return ST_FEATURES_BIND;
}

static int
on_features_bind(struct client *c, struct sb_xml_node *el)
{
	if (sb_xml_child(el, SB_NS_XMPP_BIND, "bind") == NULL)
		return -1;
	send_str(c, "<iq type='set' id='bind1'><bind xmlns='" SB_NS_XMPP_BIND
	    "'><resource>" RESOURCE "</resource></bind></iq>");
	return ST_BOUND;
}

/*
 * Bound: initial presence, then a message to our own bare JID. sm runs a
 * user's stanzas in order, so it comes back only once the presence made
 * the session available (or, had it been stored offline, when the
 * presence delivers it).
 */
static int
on_bound(struct client *c, struct sb_xml_node *el)
{
	const char *type = sb_xml_attr(el, "type"), *id = sb_xml_attr(el, "id");
	char probe[256];

	if (id == NULL || strcmp(id, "bind1") != 0 || type == NULL || strcmp(type, "result") != 0)
		return -1;
	snprintf(probe, sizeof(probe), "<presence/><message to='bench%d@%s' type='chat' "
	    "id='probe'><body>probe</body></message>", c->account, client_domain(c));
	send_str(c, probe);
	return ST_PROBE;
}

/* --- messages --- */

static void
send_message(struct worker *w, struct pair *p)
{
	char buf[sizeof(w->body) + 256];
	int n;

	n = snprintf(buf, sizeof(buf), "<message to='bench%d@%s' type='chat' id='%llu'>"
	    "<body>%s</body></message>", p->rcv.account, rcv_domain(w->o),
	    (unsigned long long)p->sent, w->body);
	p->t_sent[p->sent % (uint64_t)w->o->window] = now();
	p->sent++;
	w->r.sent++;
	if (w->phase == MEASURE) {
		w->r.m_sent++;
		w->iv.sent++;
	}
	sb_conn_write(p->snd.conn, buf, (size_t)n);
}

static int
window_full(const struct worker *w, const struct pair *p)
{
	return p->sent - p->delivered - p->bounced >= (uint64_t)w->o->window;
}

/* The closed loop: each delivery (or bounce) lets the sender send one more. */
static void
fill_window(struct worker *w, struct pair *p)
{
	if (w->o->rate > 0 || (w->phase != WARMUP && w->phase != MEASURE))
		return;
	if (p->snd.step != ST_RUN || p->rcv.step != ST_RUN)
		return;
	while (!window_full(w, p))
		send_message(w, p);
}

/*
 * -r, every PACE_MS: the messages due since the last call, one per pair in
 * turn. At most 100 ms' worth is made up after a stall, so a busy
 * generator offers less (the report shows what was sent) instead of bursts.
 */
static void
pace(struct sb_timer *t, void *arg)
{
	struct worker *w = arg;
	double n = now();

	(void)t;
	if (w->phase != WARMUP && w->phase != MEASURE) {
		w->t_paced = n;
		return;
	}
	w->credit += w->rate * (n - w->t_paced);
	w->t_paced = n;
	if (w->credit > w->rate / 10)
		w->credit = w->rate / 10;
	for (int tries = 0; w->credit >= 1 && tries < w->npairs; tries++) {
		struct pair *p = &w->pairs[w->turn];

		w->turn = (w->turn + 1) % w->npairs;
		w->credit -= 1;
		if (p->snd.step != ST_RUN || p->rcv.step != ST_RUN)
			continue;	/* a pair that lost a client: counted as an error */
		if (!window_full(w, p)) {
			send_message(w, p);
		} else {
			w->r.behind++;
			if (w->phase == MEASURE)
				w->iv.behind++;
		}
	}
}

static void
delivered(struct client *c, struct sb_xml_node *el)
{
	struct worker *w = c->w;
	struct pair *p = c->pair;
	const char *id = sb_xml_attr(el, "id");
	char *end;
	unsigned long long seq;
	uint64_t us;

	if (id == NULL || (seq = strtoull(id, &end, 10), *end != '\0') || seq >= p->sent) {
		w->r.other++;
		count_reason(&w->r, "receiver: a message with id '%.40s'", id ? id : "");
		return;
	}
	if (seq != p->expect) {
		w->r.out_of_order++;
		count_reason(&w->r, "receiver: message %llu where %llu was due", seq,
		    (unsigned long long)p->expect);
	}
	p->expect = seq + 1;
	p->delivered++;
	w->r.delivered++;
	if (w->phase == MEASURE) {
		us = (uint64_t)((now() - p->t_sent[seq % (uint64_t)w->o->window]) * 1e6);
		w->r.m_delivered++;
		w->r.hist[hist_index(us)]++;
		w->iv.delivered++;
		w->iv.hist[hist_index(us)]++;
		if (us > w->r.lat_max_us)
			w->r.lat_max_us = us;
	}
	fill_window(w, p);
}

/* The defined condition of an error stanza, "?" when there is none. */
static const char *
error_condition(struct sb_xml_node *el)
{
	struct sb_xml_node *e = sb_xml_child(el, SB_NS_CLIENT, "error"), *x;

	if (e != NULL)
		SB_XML_FOREACH_CHILD(x, e)
			if (x->e.ns != NULL && strcmp(x->e.ns, SB_NS_XMPP_STANZAS) == 0 &&
			    strcmp(x->e.name, "text") != 0)
				return x->e.name;
	return "?";
}

/* A message that came back to its sender as an error: counted by condition. */
static void
bounced(struct client *c, struct sb_xml_node *el)
{
	const char *cond = error_condition(el);

	c->pair->bounced++;
	c->w->r.bounced++;
	count_reason(&c->w->r, "sender: message bounced: %s", cond);
	fill_window(c->w, c->pair);
}

/* A client logged in and available: the next login starts. */
static void
client_ready(struct client *c)
{
	struct worker *w = c->w;
	char r = MSG_READY;

	c->step = ST_RUN;
	sb_conn_set_timeout(c->conn, 0);
	w->logging_in--;
	w->ready++;
	if (w->ready == w->nclients)
		w->phase = IDLE;
	else if (w->ready % PROGRESS_STEP == 0)
		r = MSG_PROGRESS;
	else
		r = 0;
	if (r != 0 && write(w->st_fd, &r, 1) != 1)
		die("cannot write to the parent");
	login_next(w);
}

/*
 * Our message to ourselves came back: ready, except a sender across
 * federation, which first pings the receivers' domain, so that the
 * server-to-server stream is up before the burst.
 */
static void
probed(struct client *c)
{
	char ping[256];

	if (!c->sender || c->w->o->domain2 == NULL) {
		client_ready(c);
		return;
	}
	snprintf(ping, sizeof(ping), "<iq to='%s' type='get' id='fedprobe'><ping xmlns='"
	    SB_NS_PING "'/></iq>", c->w->o->domain2);
	send_str(c, ping);
	c->step = ST_FEDPROBE;
}

/* Stanzas after the bind: the probe, messages, errors, pings. */
static void
run_stanza(struct client *c, struct sb_xml_node *el)
{
	const char *type = sb_stanza_type(el), *id = sb_xml_attr(el, "id");
	char reply[256];

	if (sb_xml_is(el, SB_NS_CLIENT, "message")) {
		if (strcmp(type, "error") == 0)
			bounced(c, el);
		else if (id != NULL && strcmp(id, "probe") == 0 && c->step == ST_PROBE)
			probed(c);
		else if (!c->sender && c->step == ST_RUN)
			delivered(c, el);
		else {
			if (c->w->o->idle)
				c->w->r.other++;	/* nothing is sent: no message is due */
			count_reason(&c->w->r, "%s: an unexpected message (id '%.40s')",
			    c->w->o->idle ? "client" : c->sender ? "sender" : "receiver",
			    id ? id : "");
		}
		return;
	}
	if (sb_xml_is(el, SB_NS_CLIENT, "presence"))
		return;		/* our own presence, when sm echoes it */
	if (sb_xml_is(el, SB_NS_CLIENT, "iq") && c->step == ST_FEDPROBE && id != NULL &&
	    strcmp(id, "fedprobe") == 0) {
		if (strcmp(type, "result") == 0) {
			client_ready(c);
		} else {
			snprintf(reply, sizeof(reply), "the ping to %s: %s", rcv_domain(c->w->o),
			    error_condition(el));
			fail(c, reply);
		}
		return;
	}
	if (sb_xml_is(el, SB_NS_CLIENT, "iq") && id != NULL &&
	    (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)) {
		/*
		 * A server pings idle clients; anything else is refused, as a
		 * client would. The answer goes back to the asker ('from'), as a
		 * server that matches answers by address (ejabberd) needs.
		 */
		const char *from = sb_xml_attr(el, "from");
		int ping = sb_xml_child(el, SB_NS_PING, "ping") != NULL;
		struct sb_buf out = SB_BUF_INIT;

		sb_buf_printf(&out, "<iq type='%s'", ping ? "result" : "error");
		sb_xml_write_attr(&out, "to", from);
		sb_xml_write_attr(&out, "id", id);
		if (ping)
			sb_buf_append_str(&out, "/>");
		else
			sb_buf_append_str(&out, "><error type='cancel'><service-unavailable "
			    "xmlns='" SB_NS_XMPP_STANZAS "'/></error></iq>");
		sb_conn_write(c->conn, sb_buf_data(&out), sb_buf_len(&out));
		sb_buf_free(&out);
		c->w->r.pings += ping;
		return;
	}
	c->w->r.other++;
	count_reason(&c->w->r, "unexpected <%s type='%s'/>", el->e.name, type);
}

/* --- one client: the XML stream --- */

/*
 * During the login a failure is fatal: the benchmark needs every client.
 * Later it is counted, and the pair's messages still in flight are lost.
 */
static void
fail(struct client *c, const char *what)
{
	if (c->step == ST_FAILED)
		return;
	if (c->step <= ST_FEDPROBE)
		die("bench%d: %s: %s", c->account, step_names[c->step], what);
	count_reason(&c->w->r, "%s: %s: %s", c->w->o->idle ? "client" : c->sender ? "sender" :
	    "receiver", step_names[c->step], what);
	if (c->step == ST_RUN)
		c->w->r.disconnected++;
	c->step = ST_FAILED;
	sb_conn_close(c->conn);
}

static void
xs_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	(void)arg;
	(void)hdr;
	(void)content_ns;
}

static void
xs_stanza(void *arg, struct sb_xml_node *el)
{
	struct client *c = arg;
	char what[96];

	if (sb_xml_is(el, SB_NS_STREAMS, "error") || sb_xml_is(el, SB_NS_XMPP_SASL, "failure")) {
		struct sb_xml_node *x = sb_xml_child(el, NULL, NULL);

		snprintf(what, sizeof(what), "<%s/> <%s/>", el->e.name, x ? x->e.name : "");
		fail(c, what);
		return;
	}
	if (c->step >= ST_PROBE) {
		run_stanza(c, el);
		sb_arena_reset(&c->w->scratch);
		return;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int next;

		if (steps[i].step != c->step || !sb_xml_is(el, steps[i].ns, steps[i].name))
			continue;
		if ((next = steps[i].fn(c, el)) == -1) {
			snprintf(what, sizeof(what), "<%s/> not as expected", el->e.name);
			fail(c, what);
		} else {
			c->step = (enum step)next;
		}
		sb_arena_reset(&c->w->scratch);
		return;
	}
	snprintf(what, sizeof(what), "unexpected <%s/>", el->e.name);
	fail(c, what);
}

static void
xs_close(void *arg)
{
	struct client *c = arg;

	if (c->step != ST_CLOSING)
		fail(c, "the server closed the stream");
}

static const struct sb_xml_stream_cb xs_cb = { xs_header, xs_stanza, xs_close };

/* After <proceed/>: the rest of this read is the server's first TLS bytes. */
static void
switch_to_tls(struct client *c, struct sb_conn_ev *ev)
{
	struct sb_buf *rest = sb_xml_stream_leftover(c->xs);

	ev->used = ev->len - sb_buf_len(rest);
	sb_buf_clear(rest);
	sb_xml_stream_restart(c->xs);
	if (sb_conn_starttls(c->conn, c->w->tls, client_domain(c)) == -1)
		fail(c, "cannot start TLS");
}

static void
on_data(struct client *c, struct sb_conn_ev *ev)
{
	enum sb_xml_status st = sb_xml_stream_feed(c->xs, ev->data, ev->len);

	/* A restart after <success/> stops the parse: what followed is parsed now. */
	while (st == SB_XML_STOPPED && c->step != ST_HANDSHAKE &&
	    sb_buf_len(sb_xml_stream_leftover(c->xs)) > 0)
		st = sb_xml_stream_feed(c->xs, "", 0);
	switch (st) {
	case SB_XML_OK:
	case SB_XML_CLOSED:
		break;
	case SB_XML_STOPPED:
		if (c->step == ST_HANDSHAKE)
			switch_to_tls(c, ev);
		break;
	case SB_XML_FAILED:
		fail(c, sb_xml_stream_error_text(c->xs));
		break;
	}
	/* Idle or paced, a client reads now and then: its parser waits unallocated. */
	if (c->step == ST_RUN && (c->w->o->idle || c->w->o->rate > 0))
		sb_xml_stream_hibernate(c->xs);
}

static void
on_conn(struct sb_conn *conn, struct sb_conn_ev *ev, void *udata)
{
	struct client *c = udata;

	(void)conn;
	switch (ev->type) {
	case SB_CONN_CONNECTED:
		c->step = ST_FEATURES_TLS;
		send_header(c);
		break;
	case SB_CONN_DATA:
		on_data(c, ev);
		break;
	case SB_CONN_TLS_READY:
		c->step = ST_FEATURES_SASL;
		send_header(c);
		break;
	case SB_CONN_TIMEOUT:
		fail(c, "timeout");
		break;
	case SB_CONN_ERROR:
		fail(c, ev->error);
		break;
	case SB_CONN_WRITABLE:
		break;
	case SB_CONN_CLOSED:
		if (c->step != ST_CLOSING && c->step != ST_FAILED)
			fail(c, ev->error ? ev->error : "closed");
		sb_xml_stream_free(c->xs);
		c->xs = NULL;
		c->conn = NULL;
		c->step = ST_GONE;
		c->w->open--;
		break;
	}
}

static void
client_start(struct worker *w, struct client *c)
{
	struct sb_xml_limits lim = SB_XML_DEFAULT_LIMITS;
	char err[256], src[32];

	c->step = ST_CONNECT;
	c->xs = sb_xml_stream_new(&xs_cb, c, &lim);
	/* -S: 127.0.0.2 on, one source address after the other. */
	if (w->o->sources > 0)
		snprintf(src, sizeof(src), "127.0.0.%d", 2 + (c->account - 1) % w->o->sources);
	c->conn = sb_conn_connect_from(w->loop, w->o->sources > 0 ? src : NULL, "127.0.0.1",
	    client_port(c), IO_TIMEOUT_MS, on_conn, c, err, sizeof(err));
	if (c->conn == NULL)
		die("bench%d: %s", c->account, err);
	sb_conn_set_timeout(c->conn, IO_TIMEOUT_MS);
	w->open++;
	w->logging_in++;
}

/* Receivers first, so that every receiver is there before its sender. */
static struct client *
client_at(struct worker *w, int i)
{
	return i < w->npairs ? &w->pairs[i].rcv : &w->pairs[i - w->npairs].snd;
}

static void
login_next(struct worker *w)
{
	while (w->logging_in < w->o->logins && w->next_login < w->nclients)
		client_start(w, client_at(w, w->next_login++));
}

/* --- one worker: phases --- */

static void
close_all(struct worker *w)
{
	w->phase = CLOSING;
	w->t_close = now();
	for (int i = 0; i < w->nclients; i++) {
		struct client *c = client_at(w, i);

		if (c->conn == NULL || c->step == ST_FAILED)
			continue;
		c->step = ST_CLOSING;
		send_str(c, "</stream:stream>");
		sb_conn_close_after_flush(c->conn, CLOSE_MAX_S * 1000);
	}
}

static int
in_flight(const struct worker *w)
{
	uint64_t n = 0;

	for (int i = 0; i < w->npairs; i++) {
		const struct pair *p = &w->pairs[i];

		/* A pair whose connection went is lost, not in flight. */
		if (p->snd.step == ST_RUN && p->rcv.step == ST_RUN)
			n += p->sent - p->delivered - p->bounced;
	}
	return n > 0;
}

static void
finish(struct worker *w)
{
	sb_timer_free(w->ticker);
	w->ticker = NULL;
	if (w->pacer != NULL)
		sb_timer_free(w->pacer);
	w->pacer = NULL;
	uv_poll_stop(&w->cmd);
	uv_close((uv_handle_t *)&w->cmd, NULL);
	sb_loop_shutdown(w->loop);
}

/* Blocking: the parent is reading it. */
static void
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t k;

	for (; len > 0; p += k, len -= (size_t)k)
		if ((k = write(fd, p, len)) <= 0)
			die("cannot write to the parent");
}

/* Every 20 ms: the end of the drain, the end of the closing. */
static void
tick(struct sb_timer *t, void *arg)
{
	struct worker *w = arg;
	double n = now();

	(void)t;
	if (w->phase == DRAIN && (!in_flight(w) || n - w->t_drain > DRAIN_MAX_S)) {
		w->r.drain_s = n - w->t_drain;
		w->r.drained = !in_flight(w);
		for (int i = 0; i < w->nclients; i++)
			w->r.connected += client_at(w, i)->step == ST_RUN;
		write_all(w->st_fd, &w->r, sizeof(w->r));
		close_all(w);
	} else if (w->phase == CLOSING && (w->open == 0 || n - w->t_close > CLOSE_MAX_S + 2)) {
		finish(w);
	}
}

/* CMD_INTERVAL: this interval's counts and the errors so far; the next interval starts. */
static void
send_interval(struct worker *w)
{
	w->iv.errors = w->r.bounced + w->r.out_of_order + w->r.other + w->r.disconnected;
	write_all(w->st_fd, &w->iv, sizeof(w->iv));
	memset(&w->iv, 0, sizeof(w->iv));
}

static void
on_command(uv_poll_t *h, int status, int events)
{
	struct worker *w = h->data;
	char buf[16];
	ssize_t n = read(w->cmd_fd, buf, sizeof(buf));

	(void)status;
	(void)events;
	if (n == 0 && w->phase == CLOSING) {
		uv_poll_stop(&w->cmd);	/* the parent has our result and waits for us */
		return;
	}
	if (n == 0)
		die("the parent went away");
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		die("reading commands: %s", strerror(errno));
	}
	for (ssize_t i = 0; i < n; i++) {
		switch (buf[i]) {
		case CMD_GO:
			w->phase = WARMUP;
			for (int k = 0; k < w->npairs; k++)
				fill_window(w, &w->pairs[k]);
			break;
		case CMD_MEASURE:
			w->phase = MEASURE;
			break;
		case CMD_STOP:
			w->phase = DRAIN;
			w->t_drain = now();
			break;
		case CMD_INTERVAL:
			send_interval(w);
			break;
		}
	}
}

static void
make_body(char *out, size_t cap, int len)
{
	size_t n = sizeof(BODY_TEXT) - 1;

	if ((size_t)len >= cap)
		len = (int)cap - 1;
	for (int i = 0; i < len; i++)
		out[i] = BODY_TEXT[(size_t)i % n];
	out[len] = '\0';
}

static int
worker_main(const struct options *o, int first, int npairs, int cmd_fd, int st_fd)
{
	struct worker w = {
		.o = o, .loop = uv_default_loop(), .cmd_fd = cmd_fd, .st_fd = st_fd,
		.first = first, .npairs = npairs, .nclients = 2 * npairs, .phase = LOGIN,
	};
	char err[256];

	sb_log_open("msg_load", 0, SB_LOG_WARN);
	make_body(w.body, sizeof(w.body), o->body);
	w.pairs = xcalloc((size_t)npairs, sizeof(*w.pairs));
	for (int i = 0; i < npairs; i++) {
		struct pair *p = &w.pairs[i];

		if (!o->idle)
			p->t_sent = xcalloc((size_t)o->window, sizeof(*p->t_sent));
		p->snd = (struct client){ .w = &w, .pair = p, .sender = 1,
		    .account = 2 * (first + i) + 1 };
		p->rcv = (struct client){ .w = &w, .pair = p, .account = 2 * (first + i) + 2 };
	}
	/* No CA file: verification is off (self-signed), the trust store is never used. */
	if ((w.tls = sb_tls_ctx_client(o->priority, NULL, err, sizeof(err))) == NULL)
		die("TLS: %s", err);
	sb_arena_init(&w.scratch, 0);
	uv_poll_init(w.loop, &w.cmd, cmd_fd);
	w.cmd.data = &w;
	uv_poll_start(&w.cmd, UV_READABLE, on_command);
	w.ticker = sb_timer_every(w.loop, 20, tick, &w);
	if (o->rate > 0) {
		/* This worker's share of the rate: its share of the pairs. */
		w.rate = o->rate * npairs / (o->users / 2);
		w.t_paced = now();
		w.pacer = sb_timer_every(w.loop, PACE_MS, pace, &w);
	}
	login_next(&w);
	uv_run(w.loop, UV_RUN_DEFAULT);

	for (int i = 0; i < npairs; i++) {
		free(w.pairs[i].t_sent);
		sb_buf_free(&w.pairs[i].snd.auth_msg);
		sb_buf_free(&w.pairs[i].rcv.auth_msg);
	}
	free(w.pairs);
	sb_tls_ctx_unref(w.tls);
	sb_arena_free(&w.scratch);
	if (uv_loop_close(w.loop) != 0)
		fprintf(stderr, "msg_load: the loop still has handles open\n");
	return 0;
}

/* --- the parent: processes, time, the report --- */

struct proc {
	long		 pid;
	int		 cmd_fd, st_fd;
	int		 clients;		/* a worker's */
	double		 cpu0, cpu1;
	long		 rss0, rss1, hwm;	/* after the logins, at the end, VmHWM */
	long		 rss_empty;		/* before the first login */
	long		 win0, win_max;		/* the window's start, its maximum */
};

/* utime + stime of a process, in seconds; -1 when it is gone. */
static double
cpu_of(long pid)
{
	char path[64], line[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	/* Fields after the command name, which may hold spaces: utime is the 14th. */
	p = strrchr(line, ')') + 2;
	if (sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		die("cannot parse %s", path);
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* CPU seconds the whole machine was busy (every core, idle and iowait left out). */
static double
cpu_machine(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (f == NULL || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
	    &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		die("cannot read /proc/stat");
	fclose(f);
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) /
	    (double)sysconf(_SC_CLK_TCK);
}

/* A field of /proc/PID/status in KiB (VmRSS, VmHWM), -1 when unknown. */
static long
status_kb(long pid, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
			kb = atol(line + fl + 1);
			break;
		}
	fclose(f);
	return kb;
}

static void
sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
tell(struct proc *w, int n, char cmd)
{
	for (int i = 0; i < n; i++)
		if (write(w[i].cmd_fd, &cmd, 1) != 1)
			die("worker %ld: cannot write to it", w[i].pid);
}

static void
kill_workers(struct proc *w, int n)
{
	for (int i = 0; i < n; i++)
		kill((pid_t)w[i].pid, SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid((pid_t)w[i].pid, NULL, 0);
}

/* Read len bytes from each worker's status pipe within timeout_s. -1 when one fails. */
static int
gather(struct proc *w, int n, void *out, size_t len, double timeout_s)
{
	double deadline = now() + timeout_s;

	for (int i = 0; i < n; i++) {
		char *p = (char *)out + (size_t)i * len;
		size_t got = 0;

		while (got < len) {
			struct pollfd pfd = { .fd = w[i].st_fd, .events = POLLIN };
			double left = deadline - now();
			ssize_t k;

			if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0) {
				fprintf(stderr, "msg_load: worker %ld: no answer in %.0f s\n",
				    w[i].pid, timeout_s);
				return -1;
			}
			if ((k = read(w[i].st_fd, p + got, len - got)) <= 0) {
				fprintf(stderr, "msg_load: worker %ld failed\n", w[i].pid);
				return -1;
			}
			got += (size_t)k;
		}
	}
	return 0;
}

static void
merge(struct result *into, const struct result *r)
{
	into->sent += r->sent;
	into->delivered += r->delivered;
	into->bounced += r->bounced;
	into->m_sent += r->m_sent;
	into->m_delivered += r->m_delivered;
	into->out_of_order += r->out_of_order;
	into->other += r->other;
	into->connected += r->connected;
	into->disconnected += r->disconnected;
	into->behind += r->behind;
	into->pings += r->pings;
	if (r->lat_max_us > into->lat_max_us)
		into->lat_max_us = r->lat_max_us;
	for (int i = 0; i < HIST_N; i++)
		into->hist[i] += r->hist[i];
	if (r->drain_s > into->drain_s)
		into->drain_s = r->drain_s;
	into->drained = into->drained && r->drained;
	for (int i = 0; i < r->nreasons; i++)
		add_reason(into, r->reasons[i].text, r->reasons[i].count);
}

static double
percentile_ms(const uint64_t *hist, double q)
{
	uint64_t n = 0, want, seen = 0;

	for (int i = 0; i < HIST_N; i++)
		n += hist[i];
	if (n == 0)
		return 0;
	want = (uint64_t)(q * (double)n);
	if ((double)want < q * (double)n || want == 0)
		want++;
	for (int i = 0; i < HIST_N; i++)
		if ((seen += hist[i]) >= want)
			return hist_value(i) / 1000.0;
	return 0;
}

struct run {
	const struct options	*o;
	struct proc		 srv[MAX_PROCS];
	struct proc		*workers;
	double			 t_start, t_ready, t_measure, t_end;
	double			 machine;
	int			 gone;		/* a server process died */
	struct result		 r;
	long			 hold_min, hold_max;	/* -I: summed RSS over the hold */
	int			 hold_samples;
	long			 sum0;		/* summed RSS at the window's start */
	long			 low0, low1;	/* its lowest in the first, last FLAT_SPAN_S */
	long			 gen_kb;	/* the workers' RSS at the end */
};

static void
report(struct run *x)
{
	const struct options *o = x->o;
	struct result *r = &x->r;
	double wall = x->t_end - x->t_measure, srv = 0, gen = 0;
	double m = r->m_delivered > 0 ? (double)r->m_delivered : 1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t lost = r->sent - r->delivered - r->bounced;
	int size = snprintf(NULL, 0, "<message to='bench%d@%s' type='chat' id='%d'><body>"
	    "</body></message>", o->users, rcv_domain(o), 1000000) + o->body;

	for (int i = 0; i < o->nprocs; i++)
		srv += x->srv[i].cpu1 - x->srv[i].cpu0;
	for (int i = 0; i < o->jobs; i++)
		gen += x->workers[i].cpu1 - x->workers[i].cpu0;
	printf("msg_load: %d clients (%d sender -> receiver pairs) in %d process%s, "
	    "logged in with %s in %.1f s\n", o->users, o->users / 2, o->jobs,
	    o->jobs > 1 ? "es" : "", sb_scram_mech_name(o->hash, 0), x->t_ready - x->t_start);
	if (o->nports > 1 || o->sources > 0)
		printf("  over %d c2s port%s, from %d source address%s\n", o->nports,
		    o->nports > 1 ? "s" : "", o->sources > 0 ? o->sources : 1,
		    o->sources > 1 ? "es" : "");
	if (o->domain2 != NULL)
		printf("  across federation: senders on %s (c2s port %d), receivers on %s "
		    "(c2s port %d)\n", o->domain, o->ports[0], o->domain2,
		    o->c2s_port2 != 0 ? o->c2s_port2 : o->ports[0]);
	printf("  chat messages to the bare JID of about %d bytes, %d in flight per pair; "
	    "%.0f s measured after %.0f s warm-up\n", size, o->window, wall, o->warmup);
	printf("  delivered/s              %9.0f  (%llu delivered, %llu sent in the window)\n",
	    (double)r->m_delivered / wall, (unsigned long long)r->m_delivered,
	    (unsigned long long)r->m_sent);
	printf("  latency p50 / p90 / p99  %9.2f / %.2f / %.2f ms, max %.2f ms  "
	    "(send to delivery)\n", percentile_ms(r->hist, 0.50), percentile_ms(r->hist, 0.90),
	    percentile_ms(r->hist, 0.99), (double)r->lat_max_us / 1000.0);
	if (o->rate > 0)
		printf("  paced                    %9.0f /s offered, %.0f /s sent in the window; "
		    "behind %llu times (a pair's turn with %d in flight)\n", o->rate,
		    (double)r->m_sent / wall, (unsigned long long)r->behind, o->window);
	printf("  whole run                %9llu sent, %llu delivered, %llu bounced, %llu lost, "
	    "%llu out of order  (%s in %.2f s)\n", (unsigned long long)r->sent,
	    (unsigned long long)r->delivered, (unsigned long long)r->bounced,
	    (unsigned long long)lost, (unsigned long long)r->out_of_order,
	    r->drained ? "drained" : "NOT drained", r->drain_s);
	for (int i = 0; i < r->nreasons; i++)
		printf("    %8llu  %s\n", (unsigned long long)r->reasons[i].count,
		    r->reasons[i].text);
	if (r->disconnected > 0)
		printf("  clients disconnected     %9llu  (after their login; above by reason)\n",
		    (unsigned long long)r->disconnected);
	if (x->gone || r->m_delivered == 0) {
		printf("  server CPU and memory    not measured: %s\n", x->gone ?
		    "a server process died" : "nothing was delivered");
		return;
	}
	printf("  server CPU per message   %9.1f us  (", srv / m * 1e6);
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %.1f", i ? " + " : "", o->proc_name[i],
		    (x->srv[i].cpu1 - x->srv[i].cpu0) / m * 1e6);
	printf(")\n  server CPU use           %9.0f %%   (", srv / wall * 100);
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %.0f %%", i ? ", " : "", o->proc_name[i],
		    (x->srv[i].cpu1 - x->srv[i].cpu0) / wall * 100);
	printf(" of one core)\n  share of the server CPU  ");
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %.0f %%", i ? ", " : "      ", o->proc_name[i],
		    srv > 0 ? (x->srv[i].cpu1 - x->srv[i].cpu0) / srv * 100 : 0);
	printf("\n  RSS after logins -> end  ");
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %ld -> %ld KiB", i ? ", " : "      ", o->proc_name[i],
		    x->srv[i].rss0, x->srv[i].rss1);
	printf("\n  peak RSS (VmHWM)         ");
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %ld KiB", i ? ", " : "      ", o->proc_name[i], x->srv[i].hwm);
	printf("\n  load generator CPU       %9.1f us per message  (%.0f %% of one core); it "
	    "shares the %ld cores with the server\n", gen / m * 1e6, gen / wall * 100, ncpu);
	printf("  load generator RSS       %9ld KiB  (%.1f KiB per client)\n", x->gen_kb,
	    (double)x->gen_kb / o->users);
	printf("  machine busy             %9.0f %%   of %ld cores; not ours: %.0f %% of one "
	    "core\n", x->machine / wall * 100 / (double)ncpu, ncpu,
	    x->machine > srv + gen ? (x->machine - srv - gen) / wall * 100 : 0);
}

/* CPU (and at the end memory) of everyone; a server process that died is said so. */
static void
snapshot(struct run *x, int end)
{
	const struct options *o = x->o;

	for (int i = 0; i < o->nprocs; i++) {
		struct proc *p = &x->srv[i];
		double cpu = cpu_of(p->pid);

		if (cpu < 0 && !x->gone) {
			fprintf(stderr, "msg_load: %s (process %ld) is gone\n", o->proc_name[i],
			    p->pid);
			x->gone = 1;
		}
		if (end) {
			p->cpu1 = cpu;
			p->rss1 = status_kb(p->pid, "VmRSS");
			p->hwm = status_kb(p->pid, "VmHWM");
		} else {
			p->cpu0 = cpu;
		}
	}
	for (int i = 0; i < o->jobs; i++) {
		if (end)
			x->workers[i].cpu1 = cpu_of(x->workers[i].pid);
		else
			x->workers[i].cpu0 = cpu_of(x->workers[i].pid);
	}
	if (end)
		x->machine = cpu_machine() - x->machine;
	else
		x->machine = cpu_machine();
}

static void
start_workers(struct run *x)
{
	const struct options *o = x->o;
	int npairs = o->users / 2, first = 0;

	x->workers = xcalloc((size_t)o->jobs, sizeof(*x->workers));
	for (int i = 0; i < o->jobs; i++) {
		int cmd[2], st[2], n = npairs / o->jobs + (i < npairs % o->jobs);
		pid_t pid;

		if (pipe(cmd) == -1 || pipe(st) == -1)
			die("pipe: %s", strerror(errno));
		fflush(NULL);
		if ((pid = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			close(cmd[1]);
			close(st[0]);
			for (int k = 0; k < i; k++) {
				close(x->workers[k].cmd_fd);
				close(x->workers[k].st_fd);
			}
			exit(worker_main(o, first, n, cmd[0], st[1]));
		}
		close(cmd[0]);
		close(st[1]);
		x->workers[i] = (struct proc){ .pid = pid, .cmd_fd = cmd[1], .st_fd = st[0],
		    .clients = 2 * n };
		first += n;
	}
}

/* --- the parent: the logins, the window, memory --- */

/*
 * The login phase: each worker writes MSG_PROGRESS for every PROGRESS_STEP
 * of its clients logged in and MSG_READY once all are; with -i the count
 * so far is printed every interval. -1 when a worker fails (it has said
 * why) or the phase takes longer than -L.
 */
static int
wait_logins(struct run *x)
{
	const struct options *o = x->o;
	struct pollfd *pfd = xcalloc((size_t)o->jobs, sizeof(*pfd));
	long *in = xcalloc((size_t)o->jobs, sizeof(*in)), sum = 0;
	double deadline = x->t_start + o->login_max;
	double next = o->interval > 0 ? x->t_start + o->interval : deadline;
	int ready = 0, status = 0;

	for (int i = 0; i < o->jobs; i++)
		pfd[i] = (struct pollfd){ .fd = x->workers[i].st_fd, .events = POLLIN };
	while (ready < o->jobs && status == 0) {
		double t = now(), until = next < deadline ? next : deadline;

		if (t >= deadline) {
			fprintf(stderr, "msg_load: the logins took longer than %.0f s (-L): %ld of "
			    "%d clients logged in\n", o->login_max, sum, o->users);
			status = -1;
			break;
		}
		if (t >= next) {
			printf("  logging in %7.0f s  %ld of %d clients\n", t - x->t_start, sum,
			    o->users);
			next += o->interval;
			continue;
		}
		if (poll(pfd, (nfds_t)o->jobs, (int)((until - t) * 1000) + 1) == -1 &&
		    errno != EINTR)
			die("poll: %s", strerror(errno));
		for (int i = 0; i < o->jobs && status == 0; i++) {
			char buf[256];
			ssize_t n;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if ((n = read(pfd[i].fd, buf, sizeof(buf))) <= 0) {
				fprintf(stderr, "msg_load: worker %ld failed during the logins\n",
				    x->workers[i].pid);
				status = -1;
			}
			for (ssize_t k = 0; k < n; k++) {
				sum -= in[i];
				in[i] = buf[k] == MSG_READY ? x->workers[i].clients :
				    in[i] + PROGRESS_STEP;
				sum += in[i];
				if (buf[k] == MSG_READY) {
					pfd[i].fd = -1;
					ready++;
				}
			}
		}
	}
	free(pfd);
	free(in);
	return status;
}

/* The ends of the window whose lows the verdict compares: FLAT_SPAN_S, a third of shorter ones. */
static double
flat_span(const struct options *o)
{
	return o->seconds / 3 < FLAT_SPAN_S ? o->seconds / 3 : FLAT_SPAN_S;
}

/*
 * One reading of the server's VmRSS: each process's maximum, the summed
 * minimum and maximum, the summed lows of the window's ends, one sample
 * more. The sum, or -1 when a process is gone (said once).
 */
static long
sample_rss(struct run *x)
{
	double t = now(), span = flat_span(x->o);
	long sum = 0, kb;

	for (int i = 0; i < x->o->nprocs; i++) {
		if ((kb = status_kb(x->srv[i].pid, "VmRSS")) < 0) {
			if (!x->gone)
				fprintf(stderr, "msg_load: %s (process %ld) is gone\n",
				    x->o->proc_name[i], x->srv[i].pid);
			x->gone = 1;
			return -1;
		}
		if (kb > x->srv[i].win_max)
			x->srv[i].win_max = kb;
		sum += kb;
	}
	if (x->hold_samples == 0 || sum < x->hold_min)
		x->hold_min = sum;
	if (sum > x->hold_max)
		x->hold_max = sum;
	x->hold_samples++;
	if (t <= x->t_measure + span && (x->low0 == 0 || sum < x->low0))
		x->low0 = sum;
	if (t >= x->t_measure + x->o->seconds - span && (x->low1 == 0 || sum < x->low1))
		x->low1 = sum;
	return sum;
}

/* The workers' VmRSS summed, in KiB. */
static long
gen_rss(const struct run *x)
{
	long sum = 0, kb;

	for (int i = 0; i < x->o->jobs; i++)
		if ((kb = status_kb(x->workers[i].pid, "VmRSS")) > 0)
			sum += kb;
	return sum;
}

/* Errors of a message run: every message not delivered, every surprise. */
static uint64_t
msg_errors(const struct run *x)
{
	const struct result *r = &x->r;

	return r->sent - r->delivered + r->out_of_order + r->other + r->disconnected +
	    (uint64_t)x->gone;
}

/* CMD_INTERVAL: one line for the interval since *t_iv, which then moves on. */
static int
print_interval(struct run *x, double *t_iv, long rss)
{
	const struct options *o = x->o;
	struct interval *iv = xcalloc((size_t)o->jobs, sizeof(*iv)), sum = { 0 };
	double t = now();

	tell(x->workers, o->jobs, CMD_INTERVAL);
	if (gather(x->workers, o->jobs, iv, sizeof(*iv), 10) == -1) {
		free(iv);
		return -1;
	}
	for (int i = 0; i < o->jobs; i++) {
		sum.sent += iv[i].sent;
		sum.delivered += iv[i].delivered;
		sum.behind += iv[i].behind;
		sum.errors += iv[i].errors;
		for (int k = 0; k < HIST_N; k++)
			sum.hist[k] += iv[i].hist[k];
	}
	free(iv);
	printf("  %6.0f s  %8.0f msg/s  p50 %8.2f ms  p99 %8.2f ms  errors %llu  server RSS "
	    "%ld KiB", t - x->t_measure, (double)sum.delivered / (t - *t_iv),
	    percentile_ms(sum.hist, 0.50), percentile_ms(sum.hist, 0.99),
	    (unsigned long long)sum.errors, rss);
	if (o->rate > 0)
		printf("  behind %llu", (unsigned long long)sum.behind);
	printf("\n");
	*t_iv = t;
	return 0;
}

/*
 * The measured window: the server's RSS every second, the first reading
 * its start; with -i a line per interval (and one for a shorter last
 * one). A server process that goes away ends the window at once. -1 when
 * a worker does not answer.
 */
static int
hold_window(struct run *x)
{
	const struct options *o = x->o;
	double t_stop = x->t_measure + o->seconds, t_iv = x->t_measure;
	double t_next = o->interval > 0 ? t_iv + o->interval : t_stop + 1;
	long sum;

	if ((x->sum0 = sum = sample_rss(x)) < 0)
		return 0;
	for (int i = 0; i < o->nprocs; i++)
		x->srv[i].win0 = x->srv[i].win_max;
	if (o->interval > 0)
		printf("msg_load: measuring %.0f s; every %.0f s: messages delivered a second, "
		    "their latency, the errors so far, the server's summed RSS\n", o->seconds,
		    o->interval);
	for (double t; (t = now()) < t_stop; ) {
		double wake = t + 1 < t_stop ? t + 1 : t_stop;

		if (t_next < wake)
			wake = t_next;
		if (wake > t)
			sleep_s(wake - t);
		if ((sum = sample_rss(x)) < 0)
			return 0;
		if (now() >= t_next - 0.01) {
			if (print_interval(x, &t_iv, sum) == -1)
				return -1;
			t_next += o->interval;
		}
	}
	if (o->interval > 0 && now() - t_iv >= 1)
		return print_interval(x, &t_iv, sum);
	return 0;
}

/* Which reading of a process's RSS. */
enum rss_at { AT_EMPTY, AT_LOGGED_IN, AT_END, AT_PEAK, AT_WINDOW };

static long
rss_at(const struct proc *p, enum rss_at at)
{
	switch (at) {
	case AT_EMPTY:		return p->rss_empty;
	case AT_LOGGED_IN:	return p->rss0;
	case AT_END:		return p->rss1;
	case AT_PEAK:		return p->hwm;
	case AT_WINDOW:		return p->win0;
	}
	return -1;
}

/* (RSS at - RSS before the logins) / sessions, per process and summed: "a + b = sum". */
static void
print_per_session(const struct run *x, enum rss_at at)
{
	const struct options *o = x->o;
	long sum = 0;

	for (int i = 0; i < o->nprocs; i++) {
		long d = rss_at(&x->srv[i], at) - x->srv[i].rss_empty;

		sum += d;
		printf("%s%s %.1f", i ? " + " : "", o->proc_name[i], (double)d / o->users);
	}
	printf(" = %.1f KiB\n", (double)sum / o->users);
}

/* The bound on the summed drift: FLAT_PCT of the start or FLAT_MIN_KIB, the larger. */
static long
flat_bound(long start)
{
	long pct = (long)((double)start * FLAT_PCT / 100);

	return pct > FLAT_MIN_KIB ? pct : FLAT_MIN_KIB;
}

static double
pct_of(long part, long whole)
{
	return whole > 0 ? (double)part * 100 / (double)whole : 0;
}

/* Memory is flat when the lows of the window's ends are within the bound (the header). */
static int
flat(const struct run *x)
{
	return x->low1 - x->low0 <= flat_bound(x->low0);
}

/* The window's memory: start, end, maximum and drift per process and summed; the verdict. */
static void
report_memory(const struct run *x)
{
	const struct options *o = x->o;
	long end = 0, max, bound = flat_bound(x->low0);
	int w = 3;

	for (int i = 0; i < o->nprocs; i++) {
		end += x->srv[i].rss1;
		if ((int)strlen(o->proc_name[i]) > w)
			w = (int)strlen(o->proc_name[i]);
	}
	max = x->hold_max > end ? x->hold_max : end;
	printf("  server RSS in the window start / end / max KiB, drift = end - start  "
	    "(read %d times, once a second)\n", x->hold_samples + 1);
	for (int i = 0; i < o->nprocs; i++) {
		const struct proc *p = &x->srv[i];

		printf("    %-*s %10ld / %10ld / %10ld  %+ld KiB (%+.2f %%)\n", w,
		    o->proc_name[i], p->win0, p->rss1, p->win_max > p->rss1 ? p->win_max :
		    p->rss1, p->rss1 - p->win0, pct_of(p->rss1 - p->win0, p->win0));
	}
	printf("    %-*s %10ld / %10ld / %10ld  %+ld KiB (%+.2f %%)\n", w, "sum", x->sum0, end,
	    max, end - x->sum0, pct_of(end - x->sum0, x->sum0));
	printf("  lowest sum, first / last %.0f s  %ld / %ld KiB  %+ld KiB (%+.2f %%)\n",
	    flat_span(o), x->low0, x->low1, x->low1 - x->low0, pct_of(x->low1 - x->low0,
	    x->low0));
	printf("  memory                   %s: the lows moved %+ld KiB, %s %ld KiB (%.0f %% or "
	    "%d MiB, whichever is larger)\n", flat(x) ? "flat" : "NOT FLAT", x->low1 - x->low0,
	    flat(x) ? "within" : "over", bound, FLAT_PCT, FLAT_MIN_KIB / 1024);
	printf("  KiB per session          ");
	print_per_session(x, AT_WINDOW);
}

/* The last line, for scripts (msg_load.c's header). */
static void
report_line(const struct run *x)
{
	const struct options *o = x->o;
	const struct result *r = &x->r;
	double wall = x->t_end - x->t_measure, cpu = 0;
	long end = 0, empty = 0, drift;

	for (int i = 0; i < o->nprocs; i++) {
		end += x->srv[i].rss1;
		empty += x->srv[i].rss_empty;
		cpu += x->srv[i].cpu1 - x->srv[i].cpu0;
	}
	drift = end - x->sum0;
	if (wall <= 0)
		wall = 1;
	printf("messages: sessions=%d rate=%.0f p50_ms=%.2f p99_ms=%.2f errors=%llu lost=%llu "
	    "behind=%llu rss_start_kib=%ld rss_end_kib=%ld rss_max_kib=%ld drift_kib=%ld "
	    "drift_pct=%.2f low_start_kib=%ld low_end_kib=%ld flat=%s per_session_kib=%.1f "
	    "gen_rss_kib=%ld login_s=%.1f server_cpu_pct=%.0f\n", o->users,
	    (double)r->m_delivered / wall,
	    percentile_ms(r->hist, 0.50), percentile_ms(r->hist, 0.99),
	    (unsigned long long)msg_errors(x),
	    (unsigned long long)(r->sent - r->delivered - r->bounced),
	    (unsigned long long)r->behind, x->sum0, end, x->hold_max > end ? x->hold_max : end,
	    drift, pct_of(drift, x->sum0), x->low0, x->low1, x->gone ? "unknown" : flat(x) ?
	    "yes" : "no", (double)(x->sum0 - empty) / o->users, x->gen_kb,
	    x->t_ready - x->t_start, cpu / wall * 100);
}

static int run_idle(struct run *x);

static int
run(const struct options *o)
{
	struct run x = { .o = o, .r = { .drained = 1 } };
	struct result *rs;
	uint64_t lost;

	for (int i = 0; i < o->nprocs; i++) {
		x.srv[i].pid = o->proc_pid[i];
		if (cpu_of(o->proc_pid[i]) < 0)		/* fail now, not after the logins */
			die("%s: no process %ld", o->proc_name[i], o->proc_pid[i]);
	}
	if (o->idle)
		return run_idle(&x);
	for (int i = 0; i < o->nprocs; i++)
		x.srv[i].rss_empty = status_kb(x.srv[i].pid, "VmRSS");
	x.t_start = now();
	start_workers(&x);
	/* Logins: PBKDF2 per account on the client side, about 1 ms each. */
	if (wait_logins(&x) == -1) {
		kill_workers(x.workers, o->jobs);
		return 1;
	}
	x.t_ready = now();
	for (int i = 0; i < o->nprocs; i++)
		x.srv[i].rss0 = status_kb(x.srv[i].pid, "VmRSS");
	if (o->interval > 0)
		printf("msg_load: %d clients logged in in %.1f s; %.0f s of warm-up\n", o->users,
		    x.t_ready - x.t_start, o->warmup);
	tell(x.workers, o->jobs, CMD_GO);
	sleep_s(o->warmup);
	snapshot(&x, 0);
	x.t_measure = now();
	tell(x.workers, o->jobs, CMD_MEASURE);
	if (hold_window(&x) == -1) {
		kill_workers(x.workers, o->jobs);
		return 1;
	}
	x.gen_kb = gen_rss(&x);
	tell(x.workers, o->jobs, CMD_STOP);
	x.t_end = now();
	snapshot(&x, 1);

	rs = xcalloc((size_t)o->jobs, sizeof(*rs));
	if (gather(x.workers, o->jobs, rs, sizeof(*rs), DRAIN_MAX_S + 5) == -1) {
		kill_workers(x.workers, o->jobs);
		return 1;
	}
	for (int i = 0; i < o->jobs; i++)
		merge(&x.r, &rs[i]);
	free(rs);
	report(&x);
	if (!x.gone && x.r.m_delivered > 0)
		report_memory(&x);
	report_line(&x);
	/* The workers close their streams and go. */
	for (int i = 0; i < o->jobs; i++) {
		int status;

		close(x.workers[i].cmd_fd);
		close(x.workers[i].st_fd);
		if (waitpid((pid_t)x.workers[i].pid, &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "msg_load: worker %ld did not end well\n",
			    x.workers[i].pid);
	}
	free(x.workers);
	lost = x.r.sent - x.r.delivered - x.r.bounced;
	if (x.gone || x.r.m_delivered == 0 || lost > 0 || x.r.bounced > 0 ||
	    x.r.out_of_order > 0 || x.r.other > 0 || x.r.disconnected > 0 || !x.r.drained) {
		fprintf(stderr, "msg_load: FAILED: %s\n", x.gone ? "a server process died" :
		    x.r.m_delivered == 0 ? "nothing delivered in the window" :
		    "messages lost, bounced, out of order or unexpected, or clients "
		    "disconnected (above)");
		return 1;
	}
	return 0;
}

/* --- idle (-I): memory per session --- */

static void
print_rss(const char *label, const struct run *x, enum rss_at at)
{
	const struct options *o = x->o;
	long sum = 0;

	printf("  %-25s", label);
	for (int i = 0; i < o->nprocs; i++) {
		long kb = rss_at(&x->srv[i], at);

		sum += kb;
		printf("%s%s %ld", i ? ", " : "", o->proc_name[i], kb);
	}
	if (at == AT_PEAK)
		printf(" KiB\n");
	else
		printf("; sum %ld KiB\n", sum);
}

static uint64_t
idle_errors(const struct run *x)
{
	const struct result *r = &x->r;

	return (uint64_t)x->o->users - (r->connected < (uint64_t)x->o->users ?
	    r->connected : (uint64_t)x->o->users) + r->other;
}

static void
report_idle(const struct run *x)
{
	const struct options *o = x->o;
	const struct result *r = &x->r;
	long empty = 0, loaded = 0, end = 0;
	double hold = x->t_end - x->t_measure, cpu = 0;

	for (int i = 0; i < o->nprocs; i++) {
		empty += x->srv[i].rss_empty;
		loaded += x->srv[i].rss0;
		end += x->srv[i].rss1;
		cpu += x->srv[i].cpu1 - x->srv[i].cpu0;
	}
	printf("msg_load: %d idle sessions in %d process%s, logged in with %s in %.1f s; "
	    "measured %.0f s after the last login, then held %.0f s\n", o->users, o->jobs,
	    o->jobs > 1 ? "es" : "", sb_scram_mech_name(o->hash, 0), x->t_ready - x->t_start,
	    o->warmup, hold);
	print_rss("RSS of the empty server", x, AT_EMPTY);
	print_rss("RSS with the sessions", x, AT_LOGGED_IN);
	print_rss("RSS at the end", x, AT_END);
	print_rss("peak RSS (VmHWM)", x, AT_PEAK);
	printf("  RSS over the hold        sum %ld .. %ld KiB  (%d samples, one a second; "
	    "end - start %+ld KiB)\n", x->hold_min, x->hold_max, x->hold_samples, end - loaded);
	printf("  KiB per session          ");
	print_per_session(x, AT_LOGGED_IN);
	printf("    at the end             ");
	print_per_session(x, AT_END);
	printf("  server CPU over the hold %9.1f ms  (", cpu * 1000);
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %.1f", i ? ", " : "", o->proc_name[i],
		    (x->srv[i].cpu1 - x->srv[i].cpu0) * 1000);
	printf(")\n  sessions at the end      %9llu of %d connected; %llu server pings "
	    "answered, %llu unexpected stanzas\n", (unsigned long long)r->connected, o->users,
	    (unsigned long long)r->pings, (unsigned long long)r->other);
	for (int i = 0; i < r->nreasons; i++)
		printf("    %8llu  %s\n", (unsigned long long)r->reasons[i].count,
		    r->reasons[i].text);
	printf("  load generator RSS       %9ld KiB  (%.1f KiB per client; not measured, it "
	    "shares the machine)\n", x->gen_kb, (double)x->gen_kb / o->users);
	if (x->gone)
		printf("  server memory            not measured: a server process died\n");
	printf("idle: sessions=%d empty_kib=%ld loaded_kib=%ld end_kib=%ld per_session_kib=%.1f "
	    "errors=%llu per_process_kib=", o->users, empty, loaded, end,
	    (double)(loaded - empty) / o->users,
	    (unsigned long long)(idle_errors(x) + (uint64_t)x->gone));
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s:%.1f", i ? "," : "", o->proc_name[i],
		    (double)(x->srv[i].rss0 - x->srv[i].rss_empty) / o->users);
	printf("\n");
}

/*
 * The empty server's RSS, the logins, -w SECONDS to settle, the RSS with
 * the sessions, then the hold: the RSS each second, the last one the end.
 * The workers then say how many of their clients are still logged in.
 */
static int
run_idle(struct run *x)
{
	const struct options *o = x->o;
	struct result *rs;
	double t_stop;
	int status = 0;

	for (int i = 0; i < o->nprocs; i++)
		if ((x->srv[i].rss_empty = status_kb(x->srv[i].pid, "VmRSS")) < 0)
			die("%s: cannot read the VmRSS of process %ld", o->proc_name[i],
			    x->srv[i].pid);
	x->t_start = now();
	start_workers(x);
	if (wait_logins(x) == -1) {
		kill_workers(x->workers, o->jobs);
		return 1;
	}
	x->t_ready = now();
	sleep_s(o->warmup);
	for (int i = 0; i < o->nprocs; i++)
		x->srv[i].rss0 = status_kb(x->srv[i].pid, "VmRSS");
	snapshot(x, 0);
	x->t_measure = now();
	t_stop = x->t_measure + o->seconds;
	for (double t; sample_rss(x) >= 0 && (t = now()) < t_stop; )
		sleep_s(t_stop - t < 1 ? t_stop - t : 1);
	x->t_end = now();
	snapshot(x, 1);
	x->gen_kb = gen_rss(x);
	for (int i = 0; i < o->nprocs; i++)
		if (x->srv[i].rss0 < 0 || x->srv[i].rss1 < 0)
			x->gone = 1;
	tell(x->workers, o->jobs, CMD_STOP);

	rs = xcalloc((size_t)o->jobs, sizeof(*rs));
	if (gather(x->workers, o->jobs, rs, sizeof(*rs), DRAIN_MAX_S + 5) == -1) {
		kill_workers(x->workers, o->jobs);
		return 1;
	}
	for (int i = 0; i < o->jobs; i++)
		merge(&x->r, &rs[i]);
	free(rs);
	report_idle(x);
	for (int i = 0; i < o->jobs; i++) {
		int st;

		close(x->workers[i].cmd_fd);
		close(x->workers[i].st_fd);
		if (waitpid((pid_t)x->workers[i].pid, &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			fprintf(stderr, "msg_load: worker %ld did not end well\n",
			    x->workers[i].pid);
	}
	free(x->workers);
	if (x->gone || idle_errors(x) > 0) {
		fprintf(stderr, "msg_load: FAILED: %s\n", x->gone ? "a server process died" :
		    "sessions lost or stanzas nobody expected (above)");
		status = 1;
	}
	return status;
}

/* --- set-up --- */

static void
usage(void)
{
	fprintf(stderr, "usage: msg_load [-1I] [-d domain] [-D domain2] [-P c2s_port2] [-u users] "
	    "[-W window]\n"
	    "                [-b bytes] [-r rate] [-t seconds] [-w warmup] [-i interval]\n"
	    "                [-j jobs] [-n logins] [-L login_seconds] [-S sources] "
	    "[-p priority]\n"
	    "                C2S_PORT[,C2S_PORT...] NAME=PID...\n");
	exit(2);
}

static void
parse_args(struct options *o, int argc, char **argv)
{
	int ch, warmup = 0;
	char *port, *end;

	while ((ch = getopt(argc, argv, "1b:d:D:i:Ij:L:n:p:P:r:S:t:u:w:W:")) != -1) {
		switch (ch) {
		case '1': o->hash = SB_SCRAM_SHA1; break;
		case 'I': o->idle = 1; break;
		case 'b': o->body = atoi(optarg); break;
		case 'd': o->domain = optarg; break;
		case 'D': o->domain2 = optarg; break;
		case 'i': o->interval = atof(optarg); break;
		case 'j': o->jobs = atoi(optarg); break;
		case 'L': o->login_max = atof(optarg); break;
		case 'n': o->logins = atoi(optarg); break;
		case 'p': o->priority = optarg; break;
		case 'P': o->c2s_port2 = atoi(optarg); break;
		case 'r': o->rate = atof(optarg); break;
		case 'S': o->sources = atoi(optarg); break;
		case 't': o->seconds = atof(optarg); break;
		case 'u': o->users = atoi(optarg); break;
		case 'w': o->warmup = atof(optarg); warmup = 1; break;
		case 'W': o->window = atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind < 1 || argc - optind > MAX_PROCS + 1 || o->users < 2 ||
	    o->users % 2 != 0 || o->window < 1 || o->body < 0 || o->body > 4000 ||
	    o->jobs < 1 || o->jobs > o->users / 2 || o->logins < 1 || o->seconds <= 0 ||
	    o->warmup < 0 || o->c2s_port2 < 0 || o->rate < 0 || o->interval < 0 ||
	    o->login_max < 0 || o->sources < 0 || o->sources > MAX_SOURCES)
		usage();
	if (!warmup)		/* not given: a warm-up, or with -I time to settle */
		o->warmup = o->idle ? 3 : 2;
	if (o->login_max == 0)
		o->login_max = 60 + o->users / 100.0;
	for (port = argv[optind++]; ; port = end + 1) {
		long n = strtol(port, &end, 10);

		if (end == port || n < 1 || n > 65535 || (*end != ',' && *end != '\0') ||
		    o->nports == MAX_PORTS)
			usage();
		o->ports[o->nports++] = (int)n;
		if (*end == '\0')
			break;
	}
	for (; optind < argc; optind++) {
		char *eq = strchr(argv[optind], '=');

		if (eq == NULL || eq == argv[optind])
			usage();
		*eq = '\0';
		o->proc_name[o->nprocs] = argv[optind];
		o->proc_pid[o->nprocs++] = atol(eq + 1);
	}
}

/* Each worker holds its share of the connections: raise the descriptor limit. */
static void
raise_nofile(const struct options *o)
{
	struct rlimit rl;
	int most = 2 * ((o->users / 2 + o->jobs - 1) / o->jobs);	/* the largest share */
	rlim_t need = (rlim_t)(most + 2 + 64);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need)
		die("%d connections per process need %lu descriptors, the limit is %lu: "
		    "use more processes (-j)", most, (unsigned long)need,
		    (unsigned long)rl.rlim_cur);
}

int
main(int argc, char **argv)
{
	struct options o = {
		.domain = "localhost", .priority = CLIENT_PRIORITY, .users = 200, .window = 32,
		.body = 100, .jobs = 1, .logins = 50, .seconds = 10,
		.hash = SB_SCRAM_SHA256,
	};

	parse_args(&o, argc, argv);
	raise_nofile(&o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run(&o);
}
