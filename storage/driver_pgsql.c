/*
 * driver_pgsql.c: the PostgreSQL storage driver (see driver.h).
 *
 * A pool of conf.pool connections, each driven by the loop through libpq's
 * asynchronous API (a uv_poll on PQsocket) and kept in pipeline mode, so
 * that many requests are in flight on each connection at once. A request is
 * its statements followed by a Sync; its entry waits in the connection's
 * FIFO and the results, which come back in order, are matched to it.
 *
 * Transactions: between two Syncs the server runs everything as one
 * implicit transaction, committed at the Sync, or rolled back when a
 * statement failed (the rest up to the Sync is then skipped and comes back
 * as PGRES_PIPELINE_ABORTED). That is BEGIN ... COMMIT / ROLLBACK without
 * the two extra commands, and without the "current transaction is aborted"
 * state that an explicit BEGIN would leave behind for the requests already
 * pipelined after a failed one.
 *
 * Statements are prepared once per connection, when a request first needs
 * them: Parse and Describe go out as their own small pipeline step and the
 * request waits (held on the connection) until the Describe shows that the
 * statement takes the parameters and returns the columns the catalogue
 * declares, so that a statement that does not match never runs.
 *
 * Scripts (migrations) are several statements, which only the simple query
 * protocol accepts, and it is not allowed in pipeline mode: the connection
 * takes no new work, drains, leaves pipeline mode, runs BEGIN + script,
 * the request's statements and COMMIT one after the other, and goes back.
 *
 * Connections that break or cannot be made are retried with backoff (100
 * ms doubling to 10 s); their requests in flight fail UNAVAILABLE (the
 * outcome is unknown). A server that stops answering altogether (no result
 * for statement_timeout + 5 s) counts as broken. Requests that no
 * connection can take wait in one queue, bounded by conf.queue_max and
 * conf.timeout_ms. An outage is logged once when it starts, once a minute
 * while it lasts, and once when it ends; the conninfo's password never.
 *
 * libpq's conversions and the catalogue checks are in pgsql_codec.c.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netdb.h>

#include <libpq-fe.h>

#ifndef LIBPQ_HAS_PIPELINING
#error "the pgsql driver needs libpq 14 or newer (pipeline mode)"
#endif

#include "buf.h"
#include "driver.h"
#include "log.h"
#include "pgsql_codec.h"
#include "xmalloc.h"

extern const struct sb_migration sb_migrations_pgsql[];
extern const size_t sb_migrations_pgsql_count;

#define PG_BACKOFF_MIN_MS	100
#define PG_BACKOFF_MAX_MS	10000
#define PG_CONNECT_MS		10000	/* libpq's async connect has no timeout of its own */
#define PG_STALL_GRACE_MS	5000	/* beyond statement_timeout: the server is gone */
#define PG_WATCH_MS		1000	/* how often an idle-looking pipeline is checked */
#define PG_PIPELINE_MAX		1000	/* entries in flight per connection */
#define PG_LOG_REPEAT_MS	60000	/* "still down" at most this often */

enum entry_kind {
	E_SETUP,	/* session settings after connect */
	E_PREP,		/* Parse + Describe of one query */
	E_REQ,		/* a request's statements */
	E_SCRIPT,	/* a request with a script, outside pipeline mode */
};

enum script_phase { PH_SCRIPT, PH_STMTS, PH_COMMIT, PH_ROLLBACK };
enum prep_state { PREP_NONE, PREP_PENDING, PREP_READY };
enum conn_state { C_DOWN, C_RESOLVING, C_CONNECTING, C_UP, C_CLOSED };

/* One step in a connection's pipeline; requests carry theirs in their arena. */
struct pg_entry {
	struct pg_entry		*next;
	enum entry_kind		 kind;
	struct sb_store_req	*req;		/* E_REQ, E_SCRIPT */
	enum sb_query		 q;		/* E_PREP */
	size_t			 step;		/* commands whose results are complete */
	enum script_phase	 phase;		/* E_SCRIPT */
	int			 started;	/* E_SCRIPT: its first command is sent */
	uint64_t		 queued;	/* loop time of submit */
	enum sb_store_err	 err;		/* the first error */
	char			*errmsg;	/* malloc'd */
};

/* A socket watch, freed by its close callback (it may outlive its connection). */
struct pg_poll {
	uv_poll_t		 h;
	struct pg_store		*ps;
	struct pg_conn		*conn;		/* NULL once dropped */
	int			 events;
};

/*
 * A host name lookup on libuv's thread pool (libpq would resolve it
 * synchronously, on the loop). Like a socket watch it may outlive its
 * connection, and it holds the store open until its callback has run.
 */
struct pg_lookup {
	uv_getaddrinfo_t	 req;
	struct pg_store		*ps;
	struct pg_conn		*conn;		/* NULL once dropped */
};

struct pg_conn {
	struct pg_store		*ps;
	PGconn			*pg;
	struct pg_poll		*poll;
	struct pg_lookup	*lookup;
	uv_timer_t		 timer;		/* reconnect, connect timeout, stall watch */
	enum conn_state		 state;
	int			 exclusive;	/* a script waits or runs: take nothing new */
	int			 busy;		/* our callbacks are on the stack */
	uint64_t		 backoff;
	uint64_t		 progress;	/* loop time of the last result */
	struct pg_entry		*head, *tail;	/* sent, in result order */
	size_t			 nentries;
	struct sb_store_req	*held, *held_tail;	/* waiting for a Parse */
	unsigned char		 prep[SB_Q_COUNT];	/* enum prep_state */
};

struct pg_store {
	struct sb_store		*st;
	uv_loop_t		*loop;
	char			*where;		/* host/port/dbname for logs, no secrets */
	char			*lookup_host;	/* a host name to resolve ourselves, or NULL */
	struct pg_conn		*conns;
	int			 nconns;
	struct sb_store_req	*queue, *queue_tail;	/* waiting for a connection */
	size_t			 nqueued;
	uv_timer_t		 qtimer;	/* expires the queue's head */
	int			 handles;	/* open uv handles; freed at 0 */
	int			 closing;
	int			 timers_closed;
	char			*bad[SB_Q_COUNT];	/* why a query cannot run */
	/* One log line per outage, not per retry. */
	int			 outage;
	int			 ever_up;
	uint64_t		 outage_since, logged_at;
	unsigned		 failures;
};

static void	 conn_connect(struct pg_conn *);
static void	 conn_break(struct pg_conn *, const char *);
static void	 conn_submit(struct pg_conn *, struct sb_store_req *);
static void	 conn_maybe_finish(struct pg_conn *);
static void	 store_dispatch(struct pg_store *, struct sb_store_req *);
static void	 queue_pump(struct pg_store *);
static void	 script_start(struct pg_conn *, struct pg_entry *);
static void	 script_next(struct pg_conn *, struct pg_entry *);
static void	 on_queue_timer(uv_timer_t *);

/* --- small helpers --- */

static const char *
conn_error(struct pg_conn *c, char *buf, size_t len)
{
	return sb_pgsql_first_line(c->pg != NULL ? PQerrorMessage(c->pg) : NULL, buf, len);
}

static void
entry_set_error(struct pg_entry *e, enum sb_store_err err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Keep the first error: what follows it is usually its consequence. */
static void
entry_set_error(struct pg_entry *e, enum sb_store_err err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (e->err != SB_STORE_OK)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	e->err = err;
	e->errmsg = xstrdup(msg);
}

static void
on_notice(void *arg, const char *message)
{
	char buf[256];

	log_debug("storage (pgsql): %s", sb_pgsql_first_line(message, buf, sizeof(buf)));
}

/* --- results into entries --- */

static void
entry_error_result(struct pg_conn *c, struct pg_entry *e, PGresult *r)
{
	char msg[448];
	enum sb_store_err err = sb_pgsql_error(r, PQstatus(c->pg) == CONNECTION_BAD, msg,
	    sizeof(msg));

	if (e->kind == E_PREP)
		entry_set_error(e, err, "preparing %s: %s", sb_query_info[e->q].name, msg);
	else
		entry_set_error(e, err, "%s", msg);
}

static void
entry_decode(struct pg_entry *e, PGresult *r, enum sb_query q)
{
	char msg[256];

	if (sb_pgsql_decode(e->req, r, q, msg, sizeof(msg)) == -1)
		entry_set_error(e, SB_STORE_E_INTERNAL, "%s", msg);
}

/*
 * Does the prepared statement (its Describe) match the catalogue? A
 * mismatch is a build bug, the same on every connection: the store
 * remembers it and refuses the query from then on.
 */
static void
entry_verify(struct pg_conn *c, struct pg_entry *e, PGresult *r)
{
	char msg[256];

	if (sb_pgsql_verify(r, e->q, msg, sizeof(msg)) == 0)
		return;
	entry_set_error(e, SB_STORE_E_INTERNAL, "%s", msg);
	if (c->ps->bad[e->q] == NULL)
		c->ps->bad[e->q] = xstrdup(msg);
}

static void
check_catalogue(struct pg_store *ps)
{
	char msg[256];

	for (int q = 0; q < SB_Q_COUNT; q++)
		if (sb_pgsql_check_sql(q, msg, sizeof(msg)) == -1)
			ps->bad[q] = xstrdup(msg);
}

/* --- logging connection trouble: one line per outage --- */

static void
log_down(struct pg_store *ps, const char *what, const char *msg)
{
	uint64_t now = uv_now(ps->loop);

	ps->failures++;
	if (!ps->outage) {
		ps->outage = 1;
		ps->outage_since = ps->logged_at = now;
		ps->failures = 1;
		log_warn("storage (pgsql): %s %s: %s; retrying with backoff", what, ps->where, msg);
	} else if (now - ps->logged_at >= PG_LOG_REPEAT_MS) {
		ps->logged_at = now;
		log_warn("storage (pgsql): still no connection to %s after %u attempts in %llu s: %s",
		    ps->where, ps->failures, (unsigned long long)(now - ps->outage_since) / 1000, msg);
	}
}

static void
log_up(struct pg_store *ps)
{
	if (ps->outage) {
		log_notice("storage (pgsql): connected to %s again after %llu s", ps->where,
		    (unsigned long long)(uv_now(ps->loop) - ps->outage_since) / 1000);
		ps->outage = 0;
	} else if (!ps->ever_up) {
		log_info("storage (pgsql): connected to %s", ps->where);
	}
	ps->ever_up = 1;
}

/* --- handles --- */

static void
store_free(struct pg_store *ps)
{
	struct sb_store *st = ps->st;

	for (int q = 0; q < SB_Q_COUNT; q++)
		free(ps->bad[q]);
	free(ps->conns);
	free(ps->where);
	free(ps->lookup_host);
	free(ps);
	st->driver_state = NULL;
	sb_store_closed(st);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct pg_store *ps = h->data;

	if (h->type == UV_POLL)
		free(h);
	if (--ps->handles == 0)
		store_free(ps);
}

static void
poll_drop(struct pg_conn *c)
{
	if (c->poll == NULL)
		return;
	c->poll->conn = NULL;
	uv_close((uv_handle_t *)&c->poll->h, on_handle_closed);
	c->poll = NULL;
}

static void	 on_poll(uv_poll_t *, int, int);

/*
 * Watch the connection's socket for events. During connect libpq may close
 * its socket and open another, possibly with the same number, so a fresh
 * watch is made for each step then (renew).
 */
static int
poll_set(struct pg_conn *c, int events, int renew)
{
	struct pg_poll *p;

	if (renew)
		poll_drop(c);
	if (c->poll == NULL) {
		p = xcalloc(1, sizeof(*p));
		if (uv_poll_init(c->ps->loop, &p->h, PQsocket(c->pg)) != 0) {
			free(p);
			return -1;
		}
		p->h.data = p->ps = c->ps;
		p->conn = c;
		c->ps->handles++;
		c->poll = p;
	}
	p = c->poll;
	if (p->events != events) {
		p->events = events;
		uv_poll_start(&p->h, events, on_poll);
	}
	return 0;
}

static void
conn_flush(struct pg_conn *c)
{
	char buf[256];
	int r = PQflush(c->pg);

	if (r < 0)
		conn_break(c, conn_error(c, buf, sizeof(buf)));
	else
		poll_set(c, r == 1 ? UV_READABLE | UV_WRITABLE : UV_READABLE, 0);
}

/*
 * After sending: libpq 15's PQpipelineSync has written what it could
 * already, so this only finds out whether the socket was full, and then
 * waits for it to drain.
 */
static void
conn_want_write(struct pg_conn *c)
{
	if (c->poll != NULL && !(c->poll->events & UV_WRITABLE))
		conn_flush(c);
}

/* --- entries --- */

static void
entry_append(struct pg_conn *c, struct pg_entry *e)
{
	e->next = NULL;
	if (c->tail != NULL)
		c->tail->next = e;
	else {
		c->head = e;
		c->progress = uv_now(c->ps->loop);
	}
	c->tail = e;
	c->nentries++;
}

static struct pg_entry *
entry_pop(struct pg_conn *c)
{
	struct pg_entry *e = c->head;

	c->head = e->next;
	if (c->head == NULL)
		c->tail = NULL;
	c->nentries--;
	e->next = NULL;
	return e;
}

static struct pg_entry *
entry_new(enum entry_kind kind)
{
	struct pg_entry *e = xcalloc(1, sizeof(*e));

	e->kind = kind;
	return e;
}

/* Complete a request entry: its callback runs. */
static void
req_complete(struct pg_entry *e, enum sb_store_err err, const char *msg)
{
	struct sb_store_req *req = e->req;
	char *own = e->errmsg;	/* e lives in req's arena: gone after the callback */

	if (err != SB_STORE_OK)
		sb_store_fail(req, err, "%s", msg);
	else
		sb_store_done(req);
	free(own);
}

/* --- sending --- */

static int
send_stmt(struct pg_conn *c, const struct sb_store_stmt *s, int prepared)
{
	struct sb_pgsql_params pp;

	sb_pgsql_bind(s, &pp);
	if (prepared)
		return PQsendQueryPrepared(c->pg, sb_query_info[s->q].name, pp.n, pp.values,
		    pp.lengths, pp.formats, 1);
	return PQsendQueryParams(c->pg, sb_sql_pgsql[s->q], pp.n, pp.types, pp.values,
	    pp.lengths, pp.formats, 1);
}

/* Parse + Describe + Sync for a query this connection has not prepared. */
static int
send_prepare(struct pg_conn *c, enum sb_query q)
{
	struct sb_pgsql_params pp;
	struct pg_entry *e = entry_new(E_PREP);

	sb_pgsql_param_types(q, &pp);
	e->q = q;
	entry_append(c, e);
	c->prep[q] = PREP_PENDING;
	if (!PQsendPrepare(c->pg, sb_query_info[q].name, sb_sql_pgsql[q], pp.n, pp.types) ||
	    !PQsendDescribePrepared(c->pg, sb_query_info[q].name) || !PQpipelineSync(c->pg))
		return -1;
	return 0;
}

/*
 * Are the request's statements prepared here? 0: yes; 1: not yet, Parse
 * sent, hold the request; -2: the connection broke.
 */
static int
conn_prepare(struct pg_conn *c, struct sb_store_req *req)
{
	int wait = 0;

	for (size_t i = 0; i < req->nstmts; i++) {
		enum sb_query q = req->stmts[i].q;

		if (c->prep[q] == PREP_NONE && send_prepare(c, q) == -1)
			return -2;
		wait |= c->prep[q] == PREP_PENDING;
	}
	return wait;
}

static void
conn_hold(struct pg_conn *c, struct sb_store_req *req)
{
	req->next = NULL;
	if (c->held_tail != NULL)
		c->held_tail->next = req;
	else
		c->held = req;
	c->held_tail = req;
}

/* A query whose SQL does not match the catalogue never runs: fail the request. */
static int
req_refused(struct pg_store *ps, struct sb_store_req *req)
{
	for (size_t i = 0; i < req->nstmts; i++) {
		if (ps->bad[req->stmts[i].q] != NULL) {
			sb_store_fail(req, SB_STORE_E_INTERNAL, "%s", ps->bad[req->stmts[i].q]);
			return 1;
		}
	}
	return 0;
}

static void
conn_submit(struct pg_conn *c, struct sb_store_req *req)
{
	struct pg_entry *e = req->driver_data;
	char buf[256];
	int ok = 1;

	if (req_refused(c->ps, req))
		return;
	if (c->state != C_UP || c->exclusive) {
		store_dispatch(c->ps, req);
		return;
	}
	if (e->kind == E_SCRIPT) {
		c->exclusive = 1;
		e->started = 0;
		entry_append(c, e);
		if (c->head == e)
			script_start(c, e);
		return;
	}
	switch (conn_prepare(c, req)) {
	case 1:
		conn_hold(c, req);
		conn_want_write(c);
		return;
	case -2:
		/* Held, so that conn_break sends it elsewhere: it never went out. */
		conn_hold(c, req);
		conn_break(c, conn_error(c, buf, sizeof(buf)));
		return;
	}
	entry_append(c, e);
	for (size_t i = 0; ok && i < req->nstmts; i++)
		ok = send_stmt(c, &req->stmts[i], 1);
	if (!ok || !PQpipelineSync(c->pg)) {
		conn_break(c, conn_error(c, buf, sizeof(buf)));
		return;
	}
	conn_want_write(c);
}

/* --- connections --- */

static void	 connect_failed(struct pg_conn *, const char *);

/*
 * One timer per connection, its meaning by state: down, the backoff before
 * the next attempt; connecting, the attempt's time limit; up, the watch
 * for a server that stopped answering (every statement ends within
 * statement_timeout, so a pipeline without any result for longer than
 * that is talking to a dead server or a broken network).
 */
static void
on_conn_timer(uv_timer_t *t)
{
	struct pg_conn *c = t->data;
	uint64_t now = uv_now(c->ps->loop);
	uint64_t limit = (uint64_t)c->ps->st->conf.timeout_ms + PG_STALL_GRACE_MS;
	char msg[128];

	/* While closing, only the watch: close waits for what is in flight. */
	if (c->ps->closing && c->state != C_UP)
		return;
	switch (c->state) {
	case C_DOWN:
		conn_connect(c);
		break;
	case C_RESOLVING:
	case C_CONNECTING:
		snprintf(msg, sizeof(msg), "no answer within %d ms", PG_CONNECT_MS);
		connect_failed(c, msg);
		break;
	case C_UP:
		if (c->head != NULL && now - c->progress > limit) {
			snprintf(msg, sizeof(msg), "no answer for %llu ms",
			    (unsigned long long)(now - c->progress));
			conn_break(c, msg);
		}
		break;
	case C_CLOSED:
		break;
	}
}

static void
conn_schedule(struct pg_conn *c)
{
	if (c->ps->closing)
		return;
	c->backoff = c->backoff == 0 ? PG_BACKOFF_MIN_MS : c->backoff * 2;
	if (c->backoff > PG_BACKOFF_MAX_MS)
		c->backoff = PG_BACKOFF_MAX_MS;
	uv_timer_start(&c->timer, on_conn_timer, c->backoff, 0);
}

/* Close the socket watch first: libuv must not poll a closed descriptor. */
static void
conn_reset(struct pg_conn *c)
{
	if (c->lookup != NULL) {
		/* Its callback still comes (UV_ECANCELED or a late answer) and frees it. */
		c->lookup->conn = NULL;
		uv_cancel((uv_req_t *)&c->lookup->req);
		c->lookup = NULL;
	}
	poll_drop(c);
	if (c->pg != NULL)
		PQfinish(c->pg);
	c->pg = NULL;
	c->exclusive = 0;
	memset(c->prep, PREP_NONE, sizeof(c->prep));
}

/* why: NULL for libpq's message. */
static void
connect_failed(struct pg_conn *c, const char *why)
{
	char buf[256];

	log_down(c->ps, "cannot connect to", why != NULL ? why : conn_error(c, buf, sizeof(buf)));
	conn_reset(c);
	c->state = C_DOWN;
	conn_schedule(c);
	conn_maybe_finish(c);
}

/* Start libpq's connect; with addresses, host and hostaddr lists override the conninfo's. */
static void
conn_start(struct pg_conn *c, const char *hosts, const char *addrs)
{
	const char *keys[] = { "dbname", "host", "hostaddr", NULL };
	const char *vals[] = { c->ps->st->conf.pg_conninfo, hosts, addrs, NULL };

	if (addrs == NULL)
		keys[1] = NULL;
	/* expand_dbname: the first "dbname" is the whole conninfo; later keys override it. */
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (c->pg == NULL)
		fatal("storage (pgsql): out of memory");
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		connect_failed(c, NULL);
		return;
	}
	PQsetNoticeProcessor(c->pg, on_notice, c);
	c->state = C_CONNECTING;
	/* Before the first PQconnectPoll, libpq wants to write. */
	if (poll_set(c, UV_WRITABLE, 1) == -1)
		connect_failed(c, NULL);
}

/*
 * Every address of the name, in the resolver's order, as parallel lists
 * "name,name,..." and "addr1,addr2,...": libpq tries them in turn, and
 * still checks a TLS certificate against the name.
 */
static void
start_with_addresses(struct pg_conn *c, const struct addrinfo *ai)
{
	struct sb_buf hosts = SB_BUF_INIT, addrs = SB_BUF_INIT;
	char ip[INET6_ADDRSTRLEN];
	int n = 0;

	for (; ai != NULL && n < 8; ai = ai->ai_next) {
		const void *a = ai->ai_family == AF_INET6 ?
		    (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr :
		    (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr;

		if (inet_ntop(ai->ai_family, a, ip, sizeof(ip)) == NULL)
			continue;
		sb_buf_printf(&hosts, "%s%s", n ? "," : "", c->ps->lookup_host);
		sb_buf_printf(&addrs, "%s%s", n ? "," : "", ip);
		n++;
	}
	if (n == 0)
		connect_failed(c, "the host name has no IPv4 or IPv6 address");
	else
		conn_start(c, sb_buf_data(&hosts), sb_buf_data(&addrs));
	sb_buf_free(&hosts);
	sb_buf_free(&addrs);
}

static void
on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *ai)
{
	struct pg_lookup *l = (struct pg_lookup *)req;
	struct pg_store *ps = l->ps;
	struct pg_conn *c = l->conn;
	char msg[256];

	if (c != NULL) {
		c->lookup = NULL;
		if (status < 0) {
			snprintf(msg, sizeof(msg), "cannot resolve %s: %s", ps->lookup_host,
			    uv_strerror(status));
			connect_failed(c, msg);
		} else {
			start_with_addresses(c, ai);
		}
	}
	uv_freeaddrinfo(ai);
	free(l);
	if (--ps->handles == 0)
		store_free(ps);
}

static void
conn_connect(struct pg_conn *c)
{
	static const struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct pg_lookup *l;
	char msg[160];
	int rc;

	uv_timer_start(&c->timer, on_conn_timer, PG_CONNECT_MS, 0);
	if (c->ps->lookup_host == NULL) {
		conn_start(c, NULL, NULL);
		return;
	}
	l = xcalloc(1, sizeof(*l));
	l->ps = c->ps;
	l->conn = c;
	rc = uv_getaddrinfo(c->ps->loop, &l->req, on_resolved, c->ps->lookup_host, NULL, &hints);
	if (rc != 0) {
		free(l);
		snprintf(msg, sizeof(msg), "cannot resolve %s: %s", c->ps->lookup_host,
		    uv_strerror(rc));
		connect_failed(c, msg);
		return;
	}
	c->ps->handles++;
	c->lookup = l;
	c->state = C_RESOLVING;
}

/* The session's settings go first in the pipeline; requests may follow at once. */
static void
conn_up(struct pg_conn *c)
{
	char sql[64], buf[256];
	struct pg_entry *e;

	if (PQsetnonblocking(c->pg, 1) != 0 || !PQenterPipelineMode(c->pg)) {
		connect_failed(c, NULL);
		return;
	}
	c->state = C_UP;
	uv_timer_start(&c->timer, on_conn_timer, PG_WATCH_MS, PG_WATCH_MS);
	snprintf(sql, sizeof(sql), "SET statement_timeout = %lld",
	    (long long)c->ps->st->conf.timeout_ms);
	e = entry_new(E_SETUP);
	entry_append(c, e);
	if (!PQsendQueryParams(c->pg, sql, 0, NULL, NULL, NULL, NULL, 1) ||
	    !PQsendQueryParams(c->pg, "SET client_encoding = 'UTF8'", 0, NULL, NULL, NULL, NULL, 1) ||
	    !PQpipelineSync(c->pg) || poll_set(c, UV_READABLE | UV_WRITABLE, 1) == -1) {
		conn_break(c, conn_error(c, buf, sizeof(buf)));
		return;
	}
	queue_pump(c->ps);
}

static void
connect_step(struct pg_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		if (poll_set(c, UV_READABLE, 1) == -1)
			connect_failed(c, NULL);
		break;
	case PGRES_POLLING_WRITING:
		if (poll_set(c, UV_WRITABLE, 1) == -1)
			connect_failed(c, NULL);
		break;
	case PGRES_POLLING_OK:
		conn_up(c);
		break;
	default:
		connect_failed(c, NULL);
		break;
	}
}

/*
 * Requests held for a Parse never went out: back to the front of the
 * store's queue (they are older than what waits there), and the queue's
 * timer sends them elsewhere or expires them.
 */
static void
requeue_held(struct pg_store *ps, struct sb_store_req *list)
{
	struct sb_store_req *last = NULL, *req;
	size_t n = 0;

	if (ps->closing) {
		while ((req = list) != NULL) {
			list = req->next;
			sb_store_fail(req, SB_STORE_E_UNAVAILABLE, "storage is closing");
		}
		return;
	}
	for (req = list; req != NULL; req = req->next, n++)
		last = req;
	if (last == NULL)
		return;
	last->next = ps->queue;
	if (ps->queue == NULL)
		ps->queue_tail = last;
	ps->queue = list;
	ps->nqueued += n;
	uv_timer_start(&ps->qtimer, on_queue_timer, 0, 0);
}

/*
 * The connection is gone: everything sent on it has an unknown outcome.
 * State is made consistent before any callback runs, since callbacks may
 * submit again.
 */
static void
conn_break(struct pg_conn *c, const char *why)
{
	struct pg_store *ps = c->ps;
	struct pg_entry *list = c->head, *e;
	struct sb_store_req *held = c->held;
	char msg[384];

	if (c->state != C_UP)
		return;
	log_down(ps, "lost the connection to", why);
	snprintf(msg, sizeof(msg), "the connection to %s broke (%s): the outcome is unknown",
	    ps->where, why);
	conn_reset(c);
	c->state = C_DOWN;
	c->head = c->tail = NULL;
	c->nentries = 0;
	c->held = c->held_tail = NULL;
	conn_schedule(c);
	requeue_held(ps, held);
	while ((e = list) != NULL) {
		list = e->next;
		if (e->kind == E_REQ || e->kind == E_SCRIPT)
			req_complete(e, SB_STORE_E_UNAVAILABLE, msg);
		else {
			free(e->errmsg);
			free(e);
		}
	}
	queue_pump(ps);
	conn_maybe_finish(c);
}

/* --- results --- */

static void
setup_done(struct pg_conn *c, struct pg_entry *e)
{
	char msg[300];

	if (e->err != SB_STORE_OK) {
		snprintf(msg, sizeof(msg), "setting up the session: %s", e->errmsg);
		conn_break(c, msg);
		return;
	}
	c->backoff = 0;
	log_up(c->ps);
}

static int
req_uses(const struct sb_store_req *req, enum sb_query q)
{
	for (size_t i = 0; i < req->nstmts; i++)
		if (req->stmts[i].q == q)
			return 1;
	return 0;
}

/* A Parse is answered: the requests held for it go out, or fail with its error. */
static void
prep_done(struct pg_conn *c, struct pg_entry *e)
{
	struct sb_store_req *list = c->held, *req;

	c->prep[e->q] = e->err == SB_STORE_OK ? PREP_READY : PREP_NONE;
	c->held = c->held_tail = NULL;
	while ((req = list) != NULL) {
		list = req->next;
		req->next = NULL;
		if (e->err != SB_STORE_OK && req_uses(req, e->q))
			sb_store_fail(req, e->err, "%s", e->errmsg);
		else
			conn_submit(c, req);
	}
}

static void
entry_done(struct pg_conn *c)
{
	struct pg_entry *e = entry_pop(c);
	enum entry_kind kind = e->kind;

	switch (kind) {
	case E_SETUP:
		setup_done(c, e);
		break;
	case E_PREP:
		prep_done(c, e);
		break;
	case E_REQ:
	case E_SCRIPT:
		req_complete(e, e->err, e->errmsg);
		break;
	}
	if (kind == E_SETUP || kind == E_PREP) {
		free(e->errmsg);
		free(e);
	}
	if (c->state == C_UP && c->head != NULL && c->head->kind == E_SCRIPT)
		script_start(c, c->head);
	queue_pump(c->ps);
}

/* A successful result of the entry's current command. */
static void
entry_ok(struct pg_conn *c, struct pg_entry *e, PGresult *r)
{
	struct sb_store_req *req = e->req;

	switch (e->kind) {
	case E_PREP:
		if (e->step == 1)
			entry_verify(c, e, r);
		break;
	case E_REQ:
		if (e->step == req->nstmts - 1)
			entry_decode(e, r, req->stmts[e->step].q);
		break;
	case E_SCRIPT:
		if (e->phase == PH_STMTS && e->step == req->nstmts - 1)
			entry_decode(e, r, req->stmts[e->step].q);
		break;
	case E_SETUP:
		break;
	}
}

static void
entry_result(struct pg_conn *c, struct pg_entry *e, PGresult *r)
{
	if (r == NULL) {
		/* The end of one command's results. */
		if (e->kind == E_SCRIPT)
			script_next(c, e);
		else
			e->step++;
		return;
	}
	switch (PQresultStatus(r)) {
	case PGRES_PIPELINE_SYNC:
		entry_done(c);
		break;
	case PGRES_PIPELINE_ABORTED:
		break;
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
		entry_ok(c, e, r);
		break;
	case PGRES_FATAL_ERROR:
	case PGRES_NONFATAL_ERROR:
	case PGRES_BAD_RESPONSE:
		entry_error_result(c, e, r);
		break;
	default:
		entry_set_error(e, SB_STORE_E_INTERNAL, "unexpected result: %s",
		    PQresStatus(PQresultStatus(r)));
		break;
	}
}

/* Take every result that has arrived, in order. */
static void
conn_drain(struct pg_conn *c)
{
	char buf[256];

	while (c->state == C_UP && c->head != NULL) {
		PGresult *r;

		if (PQstatus(c->pg) == CONNECTION_BAD) {
			conn_break(c, conn_error(c, buf, sizeof(buf)));
			return;
		}
		if (PQisBusy(c->pg))
			break;
		r = PQgetResult(c->pg);
		c->progress = uv_now(c->ps->loop);
		entry_result(c, c->head, r);
		PQclear(r);
	}
}

static void
conn_io(struct pg_conn *c, int status, int events)
{
	char buf[256];

	/*
	 * libuv reports a socket error (a peer that went away) as a status:
	 * libpq reads it and says what happened better than errno does.
	 */
	if (status < 0) {
		/* libuv stopped watching: take what arrived before the error first. */
		for (int i = 0; i < 16 && c->state == C_UP && PQconsumeInput(c->pg); i++)
			conn_drain(c);
		if (c->state == C_UP) {
			snprintf(buf, sizeof(buf), "socket error (%s)", uv_strerror(status));
			conn_break(c, PQstatus(c->pg) == CONNECTION_BAD ?
			    conn_error(c, buf, sizeof(buf)) : buf);
		}
		return;
	}
	if ((events & UV_READABLE) && !PQconsumeInput(c->pg)) {
		conn_break(c, conn_error(c, buf, sizeof(buf)));
		return;
	}
	conn_drain(c);
	if (c->state == C_UP)
		conn_flush(c);
}

static void
on_poll(uv_poll_t *h, int status, int events)
{
	struct pg_conn *c = ((struct pg_poll *)h)->conn;

	if (c == NULL)
		return;
	c->busy++;
	if (c->state == C_CONNECTING)
		connect_step(c);
	else if (c->state == C_UP)
		conn_io(c, status, events);
	c->busy--;
	conn_maybe_finish(c);
}

/* --- scripts: outside pipeline mode, one command at a time --- */

static int
script_send(struct pg_conn *c, const char *sql)
{
	char buf[256];

	if (!PQsendQuery(c->pg, sql)) {
		conn_break(c, conn_error(c, buf, sizeof(buf)));
		return -1;
	}
	conn_want_write(c);
	return 0;
}

/* The script's entry reached the head: nothing else is in flight here. */
static void
script_start(struct pg_conn *c, struct pg_entry *e)
{
	struct sb_store_req *req = e->req;
	char buf[256];

	if (e->started)
		return;
	e->started = 1;
	if (!PQexitPipelineMode(c->pg)) {
		entry_set_error(e, SB_STORE_E_INTERNAL, "cannot leave pipeline mode: %s",
		    conn_error(c, buf, sizeof(buf)));
		entry_pop(c);
		c->exclusive = 0;
		req_complete(e, e->err, e->errmsg);
		return;
	}
	script_send(c, sb_arena_printf(&req->arena, "BEGIN;\n%s", req->script));
}

static void
script_done(struct pg_conn *c, struct pg_entry *e)
{
	char buf[256];

	entry_pop(c);
	c->exclusive = 0;
	if (!PQenterPipelineMode(c->pg)) {
		entry_set_error(e, SB_STORE_E_INTERNAL, "cannot enter pipeline mode: %s",
		    conn_error(c, buf, sizeof(buf)));
		req_complete(e, e->err, e->errmsg);
		conn_break(c, buf);
		return;
	}
	req_complete(e, e->err, e->errmsg);
	queue_pump(c->ps);
}

/* One command of the script's transaction is done: send the next. */
static void
script_next(struct pg_conn *c, struct pg_entry *e)
{
	struct sb_store_req *req = e->req;
	char buf[256];

	if (e->phase == PH_ROLLBACK || e->phase == PH_COMMIT) {
		script_done(c, e);
		return;
	}
	if (e->err != SB_STORE_OK) {
		e->phase = PH_ROLLBACK;
		script_send(c, "ROLLBACK");
		return;
	}
	if (e->phase == PH_SCRIPT) {
		e->phase = PH_STMTS;
		e->step = 0;
	} else {
		e->step++;
	}
	if (e->step < req->nstmts) {
		if (!send_stmt(c, &req->stmts[e->step], 0))
			conn_break(c, conn_error(c, buf, sizeof(buf)));
		else
			conn_want_write(c);
		return;
	}
	e->phase = PH_COMMIT;
	script_send(c, "COMMIT");
}

/* --- the store: dispatch and the wait queue --- */

/* The connection with the least work that can take more. */
static struct pg_conn *
pick_conn(struct pg_store *ps)
{
	struct pg_conn *best = NULL;

	for (int i = 0; i < ps->nconns; i++) {
		struct pg_conn *c = &ps->conns[i];

		if (c->state != C_UP || c->exclusive || c->nentries >= PG_PIPELINE_MAX)
			continue;
		if (best == NULL || c->nentries < best->nentries)
			best = c;
	}
	return best;
}

static int
any_up(const struct pg_store *ps)
{
	for (int i = 0; i < ps->nconns; i++)
		if (ps->conns[i].state == C_UP)
			return 1;
	return 0;
}

static struct sb_store_req *
queue_pop(struct pg_store *ps)
{
	struct sb_store_req *req = ps->queue;

	ps->queue = req->next;
	if (ps->queue == NULL)
		ps->queue_tail = NULL;
	ps->nqueued--;
	req->next = NULL;
	return req;
}

static void
on_queue_timer(uv_timer_t *t)
{
	struct pg_store *ps = t->data;
	uint64_t now = uv_now(ps->loop), limit = (uint64_t)ps->st->conf.timeout_ms;

	queue_pump(ps);
	while (ps->queue != NULL) {
		struct pg_entry *e = ps->queue->driver_data;

		if (e->queued + limit > now) {
			uv_timer_start(&ps->qtimer, on_queue_timer, e->queued + limit - now, 0);
			return;
		}
		sb_store_fail(queue_pop(ps), SB_STORE_E_UNAVAILABLE, "no connection to %s "
		    "could take the request within %lld ms", ps->where, (long long)limit);
	}
}

static void
queue_push(struct pg_store *ps, struct sb_store_req *req)
{
	req->next = NULL;
	if (ps->queue_tail != NULL)
		ps->queue_tail->next = req;
	else
		ps->queue = req;
	ps->queue_tail = req;
	ps->nqueued++;
	if (!uv_is_active((uv_handle_t *)&ps->qtimer))
		uv_timer_start(&ps->qtimer, on_queue_timer, (uint64_t)ps->st->conf.timeout_ms, 0);
}

static void
queue_pump(struct pg_store *ps)
{
	struct pg_conn *c;

	while (ps->queue != NULL && (c = pick_conn(ps)) != NULL)
		conn_submit(c, queue_pop(ps));
}

static void
store_dispatch(struct pg_store *ps, struct sb_store_req *req)
{
	struct pg_conn *c = ps->queue == NULL ? pick_conn(ps) : NULL;

	if (c != NULL) {
		conn_submit(c, req);
		return;
	}
	if (ps->closing) {
		sb_store_fail(req, SB_STORE_E_UNAVAILABLE, "storage is closing");
		return;
	}
	if (ps->nqueued >= (size_t)ps->st->conf.queue_max) {
		sb_store_fail(req, SB_STORE_E_UNAVAILABLE, any_up(ps) ?
		    "all connections to %s are busy and %zu requests wait already" :
		    "no connection to %s and %zu requests wait already", ps->where, ps->nqueued);
		return;
	}
	queue_push(ps, req);
	queue_pump(ps);
}

/* --- the driver --- */

/* "host=... port=... dbname=..." from the conninfo: the password never reaches a log. */
static char *
describe_conninfo(const PQconninfoOption *opts)
{
	static const char *const keys[] = { "host", "hostaddr", "port", "dbname" };
	char buf[512] = "";
	size_t len = 0;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		for (const PQconninfoOption *o = opts; o->keyword != NULL; o++) {
			if (strcmp(o->keyword, keys[k]) != 0 || o->val == NULL || o->val[0] == '\0')
				continue;
			if (len < sizeof(buf))
				len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s=%s",
				    len ? " " : "", o->keyword, o->val);
		}
	}
	return xstrdup(len ? buf : "the default server");
}

static const char *
conninfo_value(const PQconninfoOption *opts, const char *key)
{
	for (; opts->keyword != NULL; opts++)
		if (strcmp(opts->keyword, key) == 0)
			return opts->val != NULL && opts->val[0] != '\0' ? opts->val : NULL;
	return NULL;
}

/*
 * libpq resolves a host name synchronously when a connect starts, which
 * would block the loop. A single host name without a hostaddr is resolved
 * here instead (on libuv's thread pool); unix sockets and addresses need
 * nothing. Several hosts are left to libpq, with a warning.
 */
static char *
host_to_resolve(const PQconninfoOption *opts)
{
	const char *host = conninfo_value(opts, "host");
	unsigned char bin[sizeof(struct in6_addr)];

	if (host == NULL)
		host = getenv("PGHOST");
	if (host == NULL || conninfo_value(opts, "hostaddr") != NULL || host[0] == '/' ||
	    host[0] == '@' || inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1)
		return NULL;
	if (strchr(host, ',') != NULL) {
		log_warn("storage (pgsql): several hosts in the conninfo: libpq resolves their "
		    "names while the server waits; give hostaddr= to avoid it");
		return NULL;
	}
	return xstrdup(host);
}

static int
pg_open(struct sb_store *st, char *err, size_t errlen)
{
	struct pg_store *ps;
	PQconninfoOption *opts;
	char *perr = NULL, buf[256];

	if ((opts = PQconninfoParse(st->conf.pg_conninfo, &perr)) == NULL) {
		snprintf(err, errlen, "bad PostgreSQL conninfo: %s",
		    sb_pgsql_first_line(perr != NULL ? perr : "out of memory", buf, sizeof(buf)));
		PQfreemem(perr);
		return -1;
	}
	ps = xcalloc(1, sizeof(*ps));
	ps->st = st;
	ps->loop = st->loop;
	ps->where = describe_conninfo(opts);
	ps->lookup_host = host_to_resolve(opts);
	PQconninfoFree(opts);
	check_catalogue(ps);
	ps->nconns = st->conf.pool;
	ps->conns = xcalloc((size_t)ps->nconns, sizeof(*ps->conns));
	uv_timer_init(ps->loop, &ps->qtimer);
	ps->qtimer.data = ps;
	ps->handles = 1 + ps->nconns;
	st->driver_state = ps;
	for (int i = 0; i < ps->nconns; i++) {
		struct pg_conn *c = &ps->conns[i];

		c->ps = ps;
		uv_timer_init(ps->loop, &c->timer);
		c->timer.data = c;
	}
	for (int i = 0; i < ps->nconns; i++)
		conn_connect(&ps->conns[i]);
	return 0;
}

static void
pg_submit(struct sb_store *st, struct sb_store_req *req)
{
	struct pg_store *ps = st->driver_state;
	struct pg_entry *e = sb_arena_zalloc(&req->arena, sizeof(*e));

	e->kind = req->script != NULL ? E_SCRIPT : E_REQ;
	e->req = req;
	e->queued = uv_now(ps->loop);
	req->driver_data = e;
	store_dispatch(ps, req);
}

/* Timer handles close with a pointer to the store, for on_handle_closed. */
static void
store_close_timers(struct pg_store *ps)
{
	for (int i = 0; i < ps->nconns; i++) {
		if (ps->conns[i].state != C_CLOSED)
			return;
	}
	if (ps->timers_closed)
		return;
	ps->timers_closed = 1;
	for (int i = 0; i < ps->nconns; i++) {
		ps->conns[i].timer.data = ps;
		uv_close((uv_handle_t *)&ps->conns[i].timer, on_handle_closed);
	}
	uv_close((uv_handle_t *)&ps->qtimer, on_handle_closed);
}

/* While closing: a connection with nothing left in flight goes away. */
static void
conn_maybe_finish(struct pg_conn *c)
{
	if (!c->ps->closing || c->busy || c->state == C_CLOSED || c->head != NULL ||
	    c->held != NULL)
		return;
	uv_timer_stop(&c->timer);
	conn_reset(c);
	c->state = C_CLOSED;
	store_close_timers(c->ps);
}

static void
pg_close(struct sb_store *st)
{
	struct pg_store *ps = st->driver_state;

	ps->closing = 1;
	uv_timer_stop(&ps->qtimer);
	while (ps->queue != NULL)
		sb_store_fail(queue_pop(ps), SB_STORE_E_UNAVAILABLE, "storage is closing");
	for (int i = 0; i < ps->nconns; i++)
		conn_maybe_finish(&ps->conns[i]);
}

const struct sb_driver sb_driver_pgsql = {
	.name = "pgsql",
	.sql = sb_sql_pgsql,
	.migrations = sb_migrations_pgsql,
	.nmigrations = &sb_migrations_pgsql_count,
	.open = pg_open,
	.submit = pg_submit,
	.close = pg_close,
};
