/*
 * login_load.c: login benchmark for c2s. Not a test.
 *
 *   login_load [options] C2S_PORT ROUTER_PORT SECRET C2S_PID ROUTER_PID
 *   login_load -x [options] PORT SERVER_PID
 *     -d DOMAIN    the served domain (localhost)
 *     -a M         accounts bench1..benchM, password "bench" (1000)
 *     -n N         concurrent client slots (20)
 *     -t SECONDS   measured time (10), after a warm-up of -w SECONDS (2)
 *     -2           SCRAM-SHA-256 instead of SCRAM-SHA-1
 *     -p PRIORITY  the client's gnutls priority string (CLIENT_PRIORITY)
 *     -x           no session manager: no router link, for any XMPP server
 *                  on PORT (ejabberd: tools/bench/login-ejabberd.sh); the
 *                  CPU measured is SERVER_PID's
 *
 * Each slot logs in again and again, one connection after the other, as
 * a client does: stream header, STARTTLS, a full TLS handshake (no
 * resumption; the certificate is not verified, it is self-signed), SASL
 * SCRAM with the account's SaltedPassword from a cache (computed once per
 * account, as real clients keep it), bind, initial <presence/>, then
 * </stream:stream> and the wait for the server to close. Prints logins per
 * second, failures by reason, the login latency (connect to bind result)
 * and the CPU time c2s and the router spent per login, read from
 * /proc/PID/stat.
 *
 * The same process plays the session manager: it links to the router as
 * the internal component sm1, binds the domain (shared) and answers every
 * <session action='start'/> with 'started', so that bind completes without
 * an sm process. Its cost is the load generator's, not the server's.
 * With -x it does not: the server binds on its own.
 *
 * Every connection comes from 127.0.0.1 (sb_conn_connect() cannot bind a
 * source address). The server closes first, so TIME_WAIT stays on its side
 * and the client's ephemeral ports are not used up (about 8,000 TIME_WAIT
 * sockets after a 10 s run, all on the c2s port).
 *
 * The warm-up ends once every account has its SaltedPassword cached and
 * the warm-up time has passed, so no PBKDF2 runs in the measured window.
 * tools/bench/login.sh sets up the servers and runs it.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "buf.h"
#include "complink.h"
#include "conn.h"
#include "log.h"
#include "ns.h"
#include "scram.h"
#include "timer.h"
#include "tls.h"
#include "xmalloc.h"
#include "xml.h"

#include "common/login.h"
#include "common/procstat.h"

#define PASSWORD	"bench"
#define IO_TIMEOUT_MS	10000	/* a step that takes longer is a failure */
#define RETRY_MS	20	/* pause of a slot after a failure */
#define MAX_REASONS	32
#define MAX_WARMUP_S	60	/* give up waiting for every account's cache */

/*
 * Groups in the order common clients offer them (OpenSSL's default puts
 * X25519 first). gnutls's broader client default (SB_TLS_DEFAULT_PRIORITY)
 * makes the client generate a P-384 key share the server never uses, and
 * the load generator is the busiest process here.
 */
#define CLIENT_PRIORITY	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1"

enum phase { WARMUP, MEASURE, DRAIN };

struct account {
	char		 name[32];
	int		 cached;
	unsigned	 iterations;
	size_t		 salt_len;
	unsigned char	 salt[SB_SCRAM_SALT_MAX];
	unsigned char	 salted[SB_SCRAM_MAX_HASH];
};

struct reason {
	char		 text[96];
	long		 count;
};

struct bench {
	uv_loop_t		*loop;
	const char		*domain;
	int			 c2s_port, router_port;
	const char		*secret;
	const char		*priority;
	long			 c2s_pid, router_pid;
	int			 nslots, naccounts;
	int			 no_sm;		/* -x: no router, no sm1 */
	double			 seconds, warmup;
	enum sb_scram_hash	 hash;
	struct sb_tls_ctx	*tls;
	struct sb_complink	*sm;
	struct sb_timer		*ticker;
	struct account		*accounts;
	unsigned		 next_account;
	struct slot		*slots;
	int			 busy;		/* slots with a connection or a retry */
	enum phase		 phase;
	double			 t_start, t_measure, t_end;
	double			 cpu_c2s, cpu_router, cpu_self, cpu_all;	/* at t_measure, then deltas */
	long			 logins, pbkdf2, sessions_started;
	double			*lat;		/* latencies of counted logins, ms */
	size_t			 nlat, caplat;
	struct reason		 reasons[MAX_REASONS];
	int			 nreasons;
	struct sb_arena		 scratch;
};

/*
 * A login is a fixed sequence of steps; each waits for one element (or a
 * connection event) and answers it. The table below says what each step
 * expects; the handler sends the next request and returns the next step.
 */
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
	ST_CLOSING,		/* our </stream:stream> sent, waiting for the server's */
	ST_CLOSED,		/* the server's </stream:stream> came: waiting for EOF */
	ST_FAILED,		/* failure counted: waiting for CLOSED */
};

struct slot {
	struct bench		*b;
	int			 id;
	enum step		 step;
	struct sb_conn		*conn;
	struct sb_xml_stream	*xs;
	struct account		*acct;
	double			 t0, t_bound;
	struct bench_scram	 scram;
};

typedef int step_fn(struct slot *s, struct sb_xml_node *el);

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

static const char *step_names[] = {
	"idle", "connect", "features (TLS)", "proceed", "TLS handshake", "features (SASL)",
	"challenge", "success", "features (bind)", "bind", "closing", "closed", "failed",
};

static void slot_start(struct slot *s);
static void slot_closed(struct slot *s, const char *why);

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void count_failure(struct bench *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "login_load: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* --- accounting --- */

/* Failures are counted by reason, in the measured window only. */
static void
count_failure(struct bench *b, const char *fmt, ...)
{
	char text[96];
	va_list ap;
	int i;

	if (b->phase != MEASURE)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	for (i = 0; i < b->nreasons; i++)
		if (strcmp(b->reasons[i].text, text) == 0)
			break;
	if (i == b->nreasons) {
		if (b->nreasons == MAX_REASONS)
			i--;		/* the last row collects the overflow */
		else
			snprintf(b->reasons[b->nreasons++].text, sizeof(text), "%s", text);
	}
	b->reasons[i].count++;
}

static void
count_login(struct bench *b, double ms)
{
	if (b->phase != MEASURE)
		return;
	b->logins++;
	if (b->nlat == b->caplat) {
		b->caplat = b->caplat ? 2 * b->caplat : 4096;
		b->lat = xrealloc(b->lat, b->caplat * sizeof(*b->lat));
	}
	b->lat[b->nlat++] = ms;
}

/* utime + stime of a process, in seconds (0 for no process: -x has no router). */
static double
cpu_of(long pid)
{
	double cpu;

	if (pid == 0)
		return 0;
	if ((cpu = bench_cpu_of(pid)) < 0)
		die("process %ld is gone", pid);
	return cpu;
}

static double
cpu_self(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* --- the protocol steps --- */

static void
send_str(struct slot *s, const char *str)
{
	sb_conn_write(s->conn, str, strlen(str));
}

static void
send_header(struct slot *s)
{
	bench_send_header(s->conn, s->b->domain);
}

static int
on_features_tls(struct slot *s, struct sb_xml_node *el)
{
	if (sb_xml_child(el, SB_NS_XMPP_TLS, "starttls") == NULL)
		return -1;
	send_str(s, "<starttls xmlns='" SB_NS_XMPP_TLS "'/>");
	return ST_PROCEED;
}

/* What follows <proceed/> is TLS: the DATA handler gives it to the layer. */
static int
on_proceed(struct slot *s, struct sb_xml_node *el)
{
	(void)el;
	sb_xml_stream_stop(s->xs);
	return ST_HANDSHAKE;
}

static int
on_features_sasl(struct slot *s, struct sb_xml_node *el)
{
	s->scram.hash = s->b->hash;
	if (bench_scram_first(&s->scram, s->conn, &s->b->scratch, el, s->acct->name) == -1)
		return -1;
	return ST_CHALLENGE;
}

/* SaltedPassword from the cache; PBKDF2 only for an account seen for the first time. */
static const unsigned char *
salted_password(struct bench *b, struct account *a, const unsigned char *salt,
    size_t salt_len, unsigned iterations)
{
	if (a->cached && a->iterations == iterations && a->salt_len == salt_len &&
	    memcmp(a->salt, salt, salt_len) == 0)
		return a->salted;
	if (salt_len > sizeof(a->salt) || sb_scram_salted_password(b->hash, PASSWORD,
	    strlen(PASSWORD), salt, salt_len, iterations, a->salted) == -1)
		return NULL;
	memcpy(a->salt, salt, salt_len);
	a->salt_len = salt_len;
	a->iterations = iterations;
	a->cached = 1;
	b->pbkdf2++;
	return a->salted;
}

static int
on_challenge(struct slot *s, struct sb_xml_node *el)
{
	char sf[512];
	unsigned char salt[SB_SCRAM_SALT_MAX];
	const unsigned char *salted;
	size_t salt_len;
	unsigned iterations;

	if (bench_scram_challenge(&s->scram, &s->b->scratch, el, sf, sizeof(sf), salt,
	    sizeof(salt), &salt_len, &iterations) == -1 ||
	    (salted = salted_password(s->b, s->acct, salt, salt_len, iterations)) == NULL)
		return -1;
	bench_scram_final(&s->scram, s->conn, sf, salted);
	return ST_SUCCESS;
}

/* The server must prove it knew ServerKey (v=), then the stream restarts. */
static int
on_success(struct slot *s, struct sb_xml_node *el)
{
	if (bench_scram_success(&s->scram, &s->b->scratch, el, s->acct->salted) == -1)
		return -1;
	sb_xml_stream_restart(s->xs);
	send_header(s);
	return ST_FEATURES_BIND;
}

static int
on_features_bind(struct slot *s, struct sb_xml_node *el)
{
	char iq[256];

	if (sb_xml_child(el, SB_NS_XMPP_BIND, "bind") == NULL)
		return -1;
	snprintf(iq, sizeof(iq), "<iq type='set' id='bind1'><bind xmlns='" SB_NS_XMPP_BIND
	    "'><resource>slot%d</resource></bind></iq>", s->id);
	send_str(s, iq);
	return ST_BOUND;
}

/* Logged in: initial presence, and the stream ends as a client quitting does. */
static int
on_bound(struct slot *s, struct sb_xml_node *el)
{
	const char *type = sb_xml_attr(el, "type"), *id = sb_xml_attr(el, "id");

	if (id == NULL || strcmp(id, "bind1") != 0 || type == NULL || strcmp(type, "result") != 0)
		return -1;
	s->t_bound = now();
	send_str(s, "<presence/></stream:stream>");
	return ST_CLOSING;
}

/* --- one slot: the XML stream --- */

/* Count the failure under "step: what" and close; the slot starts again on CLOSED. */
static void
fail(struct slot *s, const char *what)
{
	if (s->step == ST_FAILED)
		return;
	count_failure(s->b, "%s: %s", step_names[s->step], what);
	s->step = ST_FAILED;
	sb_conn_close(s->conn);
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
	struct slot *s = arg;
	char what[96];

	if (s->step == ST_FAILED)
		return;
	if (sb_xml_is(el, SB_NS_STREAMS, "error") || sb_xml_is(el, SB_NS_XMPP_SASL, "failure")) {
		struct sb_xml_node *c = sb_xml_child(el, NULL, NULL);

		snprintf(what, sizeof(what), "<%s/> <%s/>", el->e.name, c ? c->e.name : "");
		fail(s, what);
		return;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int next;

		if (steps[i].step != s->step || !sb_xml_is(el, steps[i].ns, steps[i].name))
			continue;
		if ((next = steps[i].fn(s, el)) == -1) {
			snprintf(what, sizeof(what), "<%s/> not as expected", el->e.name);
			fail(s, what);
		} else {
			s->step = (enum step)next;
		}
		sb_arena_reset(&s->b->scratch);
		return;
	}
	/*
	 * After our </stream:stream> a server may still deliver what it was
	 * sending: Prosody reflects the initial presence (RFC 6121 4.2.2).
	 */
	if (s->step == ST_CLOSING)
		return;
	/* An element this step does not expect: the login went wrong somewhere. */
	snprintf(what, sizeof(what), "unexpected <%s/>", el->e.name);
	fail(s, what);
}

static void
xs_close(void *arg)
{
	struct slot *s = arg;

	if (s->step == ST_CLOSING)
		s->step = ST_CLOSED;
	else
		fail(s, "the server closed the stream");
}

static const struct sb_xml_stream_cb xs_cb = { xs_header, xs_stanza, xs_close };

/* After <proceed/>: the rest of this read is the server's first TLS bytes. */
static void
switch_to_tls(struct slot *s, struct sb_conn_ev *ev)
{
	struct sb_buf *rest = sb_xml_stream_leftover(s->xs);

	ev->used = ev->len - sb_buf_len(rest);
	sb_buf_clear(rest);
	sb_xml_stream_restart(s->xs);
	if (sb_conn_starttls(s->conn, s->b->tls, s->b->domain) == -1)
		fail(s, "cannot start TLS");
}

static void
on_data(struct slot *s, struct sb_conn_ev *ev)
{
	enum sb_xml_status st = sb_xml_stream_feed(s->xs, ev->data, ev->len);

	/* A restart after <success/> stops the parse: what followed is parsed now. */
	while (st == SB_XML_STOPPED && s->step != ST_HANDSHAKE && s->step != ST_FAILED &&
	    sb_buf_len(sb_xml_stream_leftover(s->xs)) > 0)
		st = sb_xml_stream_feed(s->xs, "", 0);
	switch (st) {
	case SB_XML_OK:
	case SB_XML_CLOSED:
		break;
	case SB_XML_STOPPED:
		if (s->step == ST_HANDSHAKE)
			switch_to_tls(s, ev);
		break;
	case SB_XML_FAILED:
		fail(s, sb_xml_stream_error_text(s->xs));
		break;
	}
}

static void
on_conn(struct sb_conn *c, struct sb_conn_ev *ev, void *udata)
{
	struct slot *s = udata;

	(void)c;
	switch (ev->type) {
	case SB_CONN_CONNECTED:
		s->step = ST_FEATURES_TLS;
		send_header(s);
		break;
	case SB_CONN_DATA:
		on_data(s, ev);
		break;
	case SB_CONN_TLS_READY:
		s->step = ST_FEATURES_SASL;
		send_header(s);
		break;
	case SB_CONN_TIMEOUT:
		fail(s, "timeout");
		break;
	case SB_CONN_ERROR:
		fail(s, ev->error);
		break;
	case SB_CONN_WRITABLE:
		break;
	case SB_CONN_CLOSED:
		slot_closed(s, ev->error);
		break;
	}
}

/* --- one slot: the cycle --- */

static void
retry_cb(struct sb_timer *t, void *arg)
{
	struct slot *s = arg;

	(void)t;
	s->b->busy--;
	slot_start(s);
}

/*
 * The server closes first (it answers our </stream:stream> and closes), so
 * the TIME_WAIT state stays on its side and our ephemeral ports are free
 * for the next connections.
 */
static void
slot_closed(struct slot *s, const char *why)
{
	struct bench *b = s->b;
	int ok = s->step == ST_CLOSED;

	if (ok)
		count_login(b, (s->t_bound - s->t0) * 1000.0);
	else if (s->step != ST_FAILED)
		count_failure(b, "%s: closed: %s", step_names[s->step],
		    why ? why : "by us");
	sb_xml_stream_free(s->xs);
	s->xs = NULL;
	s->conn = NULL;
	s->step = ST_IDLE;
	if (ok || b->phase == DRAIN) {
		b->busy--;
		slot_start(s);
	} else {
		sb_timer_once(b->loop, RETRY_MS, retry_cb, s);	/* not a tight loop of failures */
	}
}

static void
slot_start(struct slot *s)
{
	struct bench *b = s->b;
	struct sb_xml_limits lim = SB_XML_DEFAULT_LIMITS;
	char err[256];

	if (b->phase == DRAIN)
		return;
	s->acct = &b->accounts[b->next_account++ % (unsigned)b->naccounts];
	s->t0 = now();
	s->step = ST_CONNECT;
	s->xs = sb_xml_stream_new(&xs_cb, s, &lim);
	s->conn = sb_conn_connect(b->loop, "127.0.0.1", b->c2s_port, IO_TIMEOUT_MS, on_conn, s,
	    err, sizeof(err));
	if (s->conn == NULL)
		die("%s", err);
	sb_conn_set_timeout(s->conn, IO_TIMEOUT_MS);
	b->busy++;
}

/* --- the session manager's part --- */

/* <route to=C2S from='sm1'><session action='started' sid id jid/></route> */
static void
sm_stanza(struct sb_complink *l, struct sb_xml_node *st, void *arg)
{
	struct bench *b = arg;
	struct sb_xml_node *in = sb_complink_unwrap(st);
	const char *action, *sid, *from = sb_xml_attr(st, "from");
	struct sb_buf out = SB_BUF_INIT;

	if (in == NULL || from == NULL || !sb_xml_is(in, SB_NS_SESSION, "session") ||
	    (action = sb_xml_attr(in, "action")) == NULL || strcmp(action, "start") != 0 ||
	    (sid = sb_xml_attr(in, "sid")) == NULL)
		return;		/* presence, 'end': nothing to do */
	sb_buf_append_str(&out, "<route xmlns='" SB_NS_ROUTE "'");
	sb_xml_write_attr(&out, "to", from);
	sb_buf_append_str(&out, " from='sm1'><session xmlns='" SB_NS_SESSION "' action='started'");
	sb_xml_write_attr(&out, "sid", sid);
	sb_xml_write_attr(&out, "id", sid);
	sb_xml_write_attr(&out, "jid", sb_xml_attr(in, "jid"));
	sb_buf_append_str(&out, "/></route>");
	sb_complink_send_raw(l, sb_buf_data(&out), sb_buf_len(&out));
	sb_buf_free(&out);
	b->sessions_started++;
}

static void
start_slots(struct bench *b)
{
	if (b->t_start != 0)
		return;
	b->t_start = now();
	for (int i = 0; i < b->nslots; i++)
		slot_start(&b->slots[i]);
}

static void
sm_up(struct sb_complink *l, void *arg)
{
	(void)l;
	start_slots(arg);
}

static void
sm_error(struct sb_complink *l, const char *text, void *arg)
{
	(void)l;
	(void)arg;
	die("sm1: the router refused the link: %s", text);
}

static void
sm_connect(struct bench *b)
{
	struct sb_complink_bind bind = { b->domain, 1 };
	struct sb_complink_conf conf = {
		.router_addr = "127.0.0.1", .router_port = b->router_port, .name = "sm1",
		.secret = b->secret, .binds = &bind, .nbinds = 1,
	};
	struct sb_complink_cb cb = { .up = sm_up, .error = sm_error, .stanza = sm_stanza };
	char err[256];

	if ((b->sm = sb_complink_new(b->loop, &conf, &cb, b, err, sizeof(err))) == NULL)
		die("sm1: %s", err);
}

/* --- phases and the report --- */

static int
all_cached(const struct bench *b)
{
	for (int i = 0; i < b->naccounts; i++)
		if (!b->accounts[i].cached)
			return 0;
	return 1;
}

static int
cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;

	return a < c ? -1 : a > c;
}

static double
percentile(double *v, size_t n, double p)
{
	size_t i = (size_t)ceil(p * (double)n);

	if (n == 0)
		return 0;
	return v[i == 0 ? 0 : i > n ? n - 1 : i - 1];
}

static void
report(struct bench *b)
{
	double wall = b->t_end - b->t_measure, srv = b->cpu_c2s + b->cpu_router;
	double l = b->logins > 0 ? (double)b->logins : 1;
	long failures = 0;
	double load[3] = { 0, 0, 0 }, others = b->cpu_all - srv - b->cpu_self;

	for (int i = 0; i < b->nreasons; i++)
		failures += b->reasons[i].count;
	qsort(b->lat, b->nlat, sizeof(*b->lat), cmp_double);
	getloadavg(load, 3);
	printf("login_load: %d slots, %d accounts, %s, STARTTLS (full handshakes), bind, "
	    "presence, close; %.0f s measured after %.1f s warm-up\n", b->nslots, b->naccounts,
	    sb_scram_mech_name(b->hash, 0), wall, b->t_measure - b->t_start);
	if (b->no_sm)
		printf("  sm: none (-x): the server on port %d does the whole login; its CPU is "
		    "process %ld's\n", b->c2s_port, b->c2s_pid);
	else
		printf("  sm: played by the load generator (sm1 answers 'started'; its CPU is "
		    "not the server's)\n");
	printf("  logins/s                 %9.1f  (%ld logins)\n", (double)b->logins / wall,
	    b->logins);
	printf("  failures                 %9ld\n", failures);
	for (int i = 0; i < b->nreasons; i++)
		printf("    %6ld  %s\n", b->reasons[i].count, b->reasons[i].text);
	printf("  latency p50 / p99        %9.2f / %.2f ms  (connect to bind result)\n",
	    percentile(b->lat, b->nlat, 0.50), percentile(b->lat, b->nlat, 0.99));
	printf("  server CPU per login     %9.3f ms  (c2s %.3f + router %.3f)\n",
	    srv / l * 1e3, b->cpu_c2s / l * 1e3, b->cpu_router / l * 1e3);
	printf("  server CPU use           %9.0f %%   (c2s %.0f %% + router %.0f %% of one core)\n",
	    srv / wall * 100, b->cpu_c2s / wall * 100, b->cpu_router / wall * 100);
	printf("  load generator CPU       %9.3f ms per login  (%.0f %% of one core)\n",
	    b->cpu_self / l * 1e3, b->cpu_self / wall * 100);
	printf("  sm1 sessions started     %9ld  (whole run, warm-up included)\n",
	    b->sessions_started);
	printf("  c2s RSS at the end       %9ld KiB\n", bench_status_kb(b->c2s_pid, "VmRSS"));
	printf("  PBKDF2 runs              %9ld  (all in the warm-up: SaltedPassword cached)\n",
	    b->pbkdf2);
	printf("  machine busy             %9.0f %%   of %ld cores; not ours: %.0f %% of one core\n",
	    b->cpu_all / wall * 100 / (double)sysconf(_SC_NPROCESSORS_ONLN),
	    sysconf(_SC_NPROCESSORS_ONLN), others > 0 ? others / wall * 100 : 0);
	printf("  load average at the end  %9.2f %.2f %.2f  (this run included)\n", load[0],
	    load[1], load[2]);
}

static void
shutdown_all(struct bench *b)
{
	sb_timer_free(b->ticker);
	b->ticker = NULL;
	if (b->sm != NULL)
		sb_complink_close(b->sm);
	sb_loop_shutdown(b->loop);
}

/* Every 50 ms: move from warm-up to the measure to the drain, and stop. */
static void
tick(struct sb_timer *t, void *arg)
{
	struct bench *b = arg;
	double n = now();

	(void)t;
	if (b->t_start == 0)
		return;		/* sm1 is not up yet */
	if (b->phase == WARMUP && n - b->t_start >= b->warmup &&
	    (all_cached(b) || n - b->t_start > MAX_WARMUP_S)) {
		b->phase = MEASURE;
		b->t_measure = n;
		b->cpu_c2s = cpu_of(b->c2s_pid);
		b->cpu_router = cpu_of(b->router_pid);
		b->cpu_self = cpu_self();
		b->cpu_all = bench_cpu_machine();
		b->pbkdf2 = 0;
	} else if (b->phase == MEASURE && n - b->t_measure >= b->seconds) {
		/* Snapshot first: the drain's logins are not counted. */
		b->t_end = n;
		b->cpu_c2s = cpu_of(b->c2s_pid) - b->cpu_c2s;
		b->cpu_router = cpu_of(b->router_pid) - b->cpu_router;
		b->cpu_self = cpu_self() - b->cpu_self;
		b->cpu_all = bench_cpu_machine() - b->cpu_all;
		b->phase = DRAIN;
		report(b);
	} else if (b->phase == DRAIN && (b->busy == 0 || n - b->t_end > 15)) {
		shutdown_all(b);
	}
}

/* --- set-up --- */

static void
usage(void)
{
	fprintf(stderr, "usage: login_load [-2x] [-d domain] [-a accounts] [-n slots] "
	    "[-p priority] [-t seconds] [-w warmup]\n"
	    "                  C2S_PORT ROUTER_PORT SECRET C2S_PID ROUTER_PID\n"
	    "       login_load -x [...] PORT SERVER_PID\n");
	exit(2);
}

static void
parse_args(struct bench *b, int argc, char **argv)
{
	int ch;

	while ((ch = getopt(argc, argv, "2d:a:n:p:t:w:x")) != -1) {
		switch (ch) {
		case '2': b->hash = SB_SCRAM_SHA256; break;
		case 'd': b->domain = optarg; break;
		case 'a': b->naccounts = atoi(optarg); break;
		case 'n': b->nslots = atoi(optarg); break;
		case 'p': b->priority = optarg; break;
		case 't': b->seconds = atof(optarg); break;
		case 'w': b->warmup = atof(optarg); break;
		case 'x': b->no_sm = 1; break;
		default: usage();
		}
	}
	if (argc - optind != (b->no_sm ? 2 : 5) || b->naccounts < 1 || b->nslots < 1 ||
	    b->seconds <= 0)
		usage();
	if (b->no_sm) {
		b->c2s_port = atoi(argv[optind]);
		b->c2s_pid = atol(argv[optind + 1]);
		return;
	}
	b->c2s_port = atoi(argv[optind]);
	b->router_port = atoi(argv[optind + 1]);
	b->secret = argv[optind + 2];
	b->c2s_pid = atol(argv[optind + 3]);
	b->router_pid = atol(argv[optind + 4]);
}

static void
setup(struct bench *b)
{
	char err[256];

	b->accounts = xcalloc((size_t)b->naccounts, sizeof(*b->accounts));
	for (int i = 0; i < b->naccounts; i++)
		snprintf(b->accounts[i].name, sizeof(b->accounts[i].name), "bench%d", i + 1);
	b->slots = xcalloc((size_t)b->nslots, sizeof(*b->slots));
	for (int i = 0; i < b->nslots; i++) {
		b->slots[i].b = b;
		b->slots[i].id = i;
	}
	/* No CA file: verification is off (self-signed), the trust store is never used. */
	if ((b->tls = sb_tls_ctx_client(b->priority, NULL, err, sizeof(err))) == NULL)
		die("TLS: %s", err);
	sb_arena_init(&b->scratch, 0);
	cpu_of(b->c2s_pid);		/* fail now, not after the warm-up */
	cpu_of(b->router_pid);
}

static void
cleanup(struct bench *b)
{
	for (int i = 0; i < b->nslots; i++)
		sb_buf_free(&b->slots[i].scram.auth_msg);
	free(b->slots);
	free(b->accounts);
	free(b->lat);
	sb_tls_ctx_unref(b->tls);
	sb_arena_free(&b->scratch);
}

int
main(int argc, char **argv)
{
	struct bench b = {
		.loop = uv_default_loop(), .domain = "localhost", .naccounts = 1000,
		.priority = CLIENT_PRIORITY, .nslots = 20, .seconds = 10, .warmup = 2, .hash = SB_SCRAM_SHA1,
	};

	parse_args(&b, argc, argv);
	sb_log_open("login_load", 0, SB_LOG_WARN);
	setup(&b);
	if (b.no_sm)
		start_slots(&b);
	else
		sm_connect(&b);
	b.ticker = sb_timer_every(b.loop, 50, tick, &b);
	uv_run(b.loop, UV_RUN_DEFAULT);
	cleanup(&b);
	if (uv_loop_close(b.loop) != 0)
		fprintf(stderr, "login_load: the loop still has handles open\n");
	return b.logins > 0 ? 0 : 1;
}
