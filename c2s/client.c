/*
 * client.c: one client connection from accept to CLOSED: the connection's
 * events, writing, stream errors and closing, and the limits that protect
 * the server from a client:
 *
 *   connections per address   refused at accept (closed without a word:
 *                             answering would cost what the limit saves)
 *   login time                connect to bound resource, else <connection-timeout/>
 *   idle time                 nothing read for <idle-timeout>: <connection-timeout/>
 *   ping                      nothing read for <ping-interval>: a XEP-0199 ping,
 *                             which a live client answers (and so stays)
 *   read rate                 a token bucket; over it, reading pauses until the
 *                             bucket has refilled (nothing is dropped)
 *   write buffer              a client that does not read what it is sent is
 *                             cut off once its queue passes the bound
 *   stanza size               the parser's limit: <policy-violation/>
 *
 * The connection's own idle timer (sb_conn_set_timeout) ticks every few
 * seconds of silence: it lets the parser hibernate and counts up to the
 * ping; the login and idle times are one deadline
 * (login first, idle once bound). A client's memory goes with CLOSED.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "ns.h"
#include "sasl.h"
#include "xmalloc.h"
#include "xml_heap.h"

/* How long a client that got a stream error may take to read it. */
#define CLOSE_FLUSH_MS		2000
/*
 * A client silent this long has its parser released (rebuilt when bytes
 * come): an idle session then costs its TLS state and little else. The
 * same tick counts the silence up to the ping. Freed parsers leave holes
 * in the heap: once TRIM_AFTER of them were released, clients_trim()
 * (every C2S_TRIM_MS) gives their whole pages back to the kernel.
 */
#define HIBERNATE_MS		5000
/* First block of a client's arena (user, JID, ids): most of it used, not 1 KiB. */
#define CLIENT_ARENA		256
#define TRIM_AFTER		64
/* Rate pauses are multiples of this (few distinct deadline lengths). */
#define RATE_STEP_MS		50
#define RATE_MAX_PAUSE_MS	1000

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

/* --- logging --- */

void
client_log(const struct client *cl, enum sb_log_level level, const char *fmt, ...)
{
	char msg[1024], who[512];
	va_list ap;

	if (!sb_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cl->jid != NULL)
		snprintf(who, sizeof(who), " %s", cl->jid);
	else if (cl->user != NULL && cl->domain != NULL)
		snprintf(who, sizeof(who), " %s@%s", cl->user, cl->domain->name);
	else
		who[0] = '\0';
	sb_log(level, "client %s%s: %s", sb_conn_peer(cl->conn), who, msg);
}

/* --- writing --- */

int
client_send(struct client *cl, const char *data, size_t len)
{
	if (cl->state == CL_CLOSING)
		return -1;
	if (sb_conn_write(cl->conn, data, len) == 0)
		return 0;
	client_error(cl, SB_LOG_WARN, SB_STERR_POLICY_VIOLATION, 1,
	    "not reading: %zu bytes queued, over the write-buffer bound of %zu; disconnected",
	    sb_conn_queued(cl->conn), cl->c2s->conf->write_buffer);
	return -1;
}

int
client_send_node(struct client *cl, const struct sb_xml_node *e)
{
	struct sb_buf *out = &cl->c2s->out;
	const char *ns = e->e.ns;
	int r;

	/* A stanza from sm (jabber:component:accept) is written as if in jabber:client. */
	if (ns == NULL || (strcmp(ns, SB_NS_COMPONENT_ACCEPT) != 0 && strcmp(ns, SB_NS_CLIENT) != 0))
		ns = SB_NS_CLIENT;
	sb_buf_clear(out);
	sb_xml_write(out, e, ns);
	r = client_send(cl, sb_buf_data(out), sb_buf_len(out));
	sb_buf_clear(out);
	if (r == 0) {
		cl->out++;
		cl->c2s->stanzas_out++;
	}
	return r;
}

/* --- ending --- */

/* No more input, no more session: what every way of ending shares. */
static void
begin_close(struct client *cl)
{
	uv_loop_t *loop = cl->c2s->loop;

	cl->state = CL_CLOSING;
	sb_xml_stream_stop(cl->xs);	/* the rest of this read is not parsed */
	sb_deadline_stop(loop, &cl->dl);
	sb_deadline_stop(loop, &cl->dl_rate);
	session_end(cl);
	bound_queue_free(cl);
}

void
client_error(struct client *cl, enum sb_log_level level, enum sb_stream_err cond, int now,
    const char *fmt, ...)
{
	struct sb_buf b = SB_BUF_INIT;
	char text[512];
	va_list ap;

	if (cl->state == CL_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	client_log(cl, level, "<%s/>: %s", sb_stream_err_name(cond), text);
	/* A stream error needs a stream around it (RFC 6120 4.9.1.1). */
	if (!cl->header_sent)
		stream_send_header(cl, NULL);
	/* Own buffer: this may run while a caller serializes into c2s->out. */
	sb_stream_write_error(&b, cond, text);
	sb_conn_write(cl->conn, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
	begin_close(cl);
	if (now)
		sb_conn_close(cl->conn);
	else
		sb_conn_close_after_flush(cl->conn, CLOSE_FLUSH_MS);
}

void
client_close_stream(struct client *cl)
{
	if (cl->state == CL_CLOSING)
		return;
	client_log(cl, SB_LOG_INFO, "closed its stream");
	sb_conn_write(cl->conn, "</stream:stream>", strlen("</stream:stream>"));
	begin_close(cl);
	sb_conn_close_after_flush(cl->conn, CLOSE_FLUSH_MS);
}

/* --- reading paused and resumed --- */

void
client_pause(struct client *cl, unsigned why)
{
	if (cl->paused == 0)
		sb_conn_pause_read(cl->conn);
	cl->paused |= why;
}

void
client_resume(struct client *cl, unsigned why)
{
	if ((cl->paused & why) == 0)
		return;
	cl->paused &= ~why;
	if (cl->paused != 0 || cl->state == CL_CLOSING)
		return;
	sb_conn_resume_read(cl->conn);
	/* Bytes the parser kept when it stopped are parsed before new ones. */
	if (cl->drain)
		client_post(cl);
}

static void
later(struct sb_post *p)
{
	struct client *cl = container_of(p, struct client, later);

	if (cl->sasl_done != NULL) {
		c2s_sasl_free(cl->sasl_done);
		cl->sasl_done = NULL;
	}
	if (cl->drain && cl->paused == 0 && cl->state != CL_CLOSING) {
		cl->drain = 0;
		stream_input(cl, NULL, 0, NULL);
	}
}

void
client_post(struct client *cl)
{
	sb_post(cl->c2s->loop, &cl->later, later);
}

/* --- limits --- */

static void
login_expired(struct sb_deadline *d)
{
	struct client *cl = container_of(d, struct client, dl);

	client_error(cl, SB_LOG_INFO, SB_STERR_CONNECTION_TIMEOUT, 0,
	    "not logged in within %lld ms", (long long)cl->c2s->conf->login_ms);
}

static void
idle_expired(struct sb_deadline *d)
{
	struct client *cl = container_of(d, struct client, dl);

	client_error(cl, SB_LOG_INFO, SB_STERR_CONNECTION_TIMEOUT, 0,
	    "nothing received for %lld ms", (long long)cl->c2s->conf->idle_ms);
}

void
client_bound(struct client *cl)
{
	sb_deadline_start(cl->c2s->loop, &cl->dl, (uint32_t)cl->c2s->conf->idle_ms, idle_expired);
}

/* Add the tokens earned since the last refill, up to the burst. */
static void
refill(struct client *cl)
{
	const struct c2s_conf *conf = cl->c2s->conf;
	uint64_t now = uv_now(cl->c2s->loop);

	if (now > cl->refilled) {
		int64_t add = (int64_t)((now - cl->refilled) * conf->rate / 1000);

		cl->tokens += add;
		if (cl->tokens > (int64_t)conf->burst)
			cl->tokens = (int64_t)conf->burst;
		/* Under a byte earned: keep counting from the last refill. */
		if (add > 0)
			cl->refilled = now;
	}
}

static void rate_wake(struct sb_deadline *d);

/* Over the rate: pause until the bucket is positive again (or for the longest pause). */
static void
rate_check(struct client *cl)
{
	const struct c2s_conf *conf = cl->c2s->conf;
	uint64_t ms;

	if (conf->rate == 0 || cl->tokens >= 0 || cl->state == CL_CLOSING)
		return;
	ms = ((uint64_t)-cl->tokens * 1000 + conf->rate - 1) / conf->rate;
	ms = (ms + RATE_STEP_MS - 1) / RATE_STEP_MS * RATE_STEP_MS;
	if (ms > RATE_MAX_PAUSE_MS)
		ms = RATE_MAX_PAUSE_MS;
	if (ms < RATE_STEP_MS)
		ms = RATE_STEP_MS;
	if ((cl->paused & PAUSE_RATE) == 0)
		client_log(cl, SB_LOG_DEBUG, "over the read rate: paused for %llu ms",
		    (unsigned long long)ms);
	client_pause(cl, PAUSE_RATE);
	sb_deadline_start(cl->c2s->loop, &cl->dl_rate, (uint32_t)ms, rate_wake);
}

static void
rate_wake(struct sb_deadline *d)
{
	struct client *cl = container_of(d, struct client, dl_rate);

	refill(cl);
	/* A reload may have turned the rate off: nothing to wait for then. */
	if (cl->tokens < 0 && cl->c2s->conf->rate != 0)
		rate_check(cl);
	else
		client_resume(cl, PAUSE_RATE);
}

/* --- connection events --- */

static void
on_data(struct client *cl, struct sb_conn_ev *ev)
{
	const struct c2s_conf *conf = cl->c2s->conf;

	if (cl->state == CL_CLOSING)
		return;
	if (cl->sess == SESS_ACTIVE)
		sb_deadline_touch(cl->c2s->loop, &cl->dl);
	cl->ping_out = 0;	/* alive: the next silence earns a new ping */
	cl->silent_ms = 0;
	if (conf->rate != 0) {
		refill(cl);
		cl->tokens -= (int64_t)ev->len;
	}
	stream_input(cl, ev->data, ev->len, &ev->used);
	rate_check(cl);
}

/* The tick of a silent client: HIBERNATE_MS, or the ping interval when shorter. */
static unsigned
tick_ms(const struct c2s_conf *conf)
{
	return conf->ping_ms != 0 && conf->ping_ms < HIBERNATE_MS ? (unsigned)conf->ping_ms :
	    HIBERNATE_MS;
}

/* Every TRIM_EVERY_MS (main.c's timer): the heap trimmed if parsers were released. */
void
clients_trim(struct c2s *c2s)
{
	if (c2s->hibernated < TRIM_AFTER)
		return;
	c2s->hibernated = 0;
	sb_xml_heap_trim();
	malloc_trim(0);
}

static void
on_timeout(struct client *cl)
{
	const struct c2s_conf *conf = cl->c2s->conf;

	if (cl->state == CL_CLOSING)
		return;
	cl->silent_ms += tick_ms(conf);
	if (sb_xml_stream_hibernate(cl->xs) == 0 && cl->silent_ms == tick_ms(conf))
		cl->c2s->hibernated++;	/* the first tick of a silence released a parser */
	if (cl->sess == SESS_ACTIVE && conf->ping_ms != 0 && !cl->ping_out &&
	    cl->silent_ms >= conf->ping_ms)
		bound_ping(cl);
}

static void
gone(struct client *cl, const char *why)
{
	struct c2s *c2s = cl->c2s;

	/* A client that just goes is routine before login; a failure (TLS) is not. */
	if (cl->state != CL_CLOSING)
		client_log(cl, cl->authed || (why != NULL &&
		    strcmp(why, "connection closed by peer") != 0) ? SB_LOG_INFO : SB_LOG_DEBUG,
		    "connection lost: %s", why != NULL ? why : "closed");
	else
		client_log(cl, SB_LOG_DEBUG, "closed: stanzas in %llu, out %llu",
		    (unsigned long long)cl->in, (unsigned long long)cl->out);
	session_end(cl);
	bound_queue_free(cl);
	sb_deadline_stop(c2s->loop, &cl->dl);
	sb_deadline_stop(c2s->loop, &cl->dl_rate);
	sb_post_cancel(c2s->loop, &cl->later);
	if (cl->sasl != NULL)
		c2s_sasl_free(cl->sasl);
	if (cl->sasl_done != NULL)
		c2s_sasl_free(cl->sasl_done);
	c2s_addrs_release(&c2s->addrs, cl->addr);
	if (cl->prev != NULL)
		cl->prev->next = cl->next;
	else
		c2s->clients = cl->next;
	if (cl->next != NULL)
		cl->next->prev = cl->prev;
	c2s->nclients--;
	sb_xml_stream_free(cl->xs);
	sb_arena_free(&cl->arena);
	sb_arena_free(&cl->qarena);
	free(cl);
}

static void
client_event(struct sb_conn *c, struct sb_conn_ev *ev, void *udata)
{
	struct client *cl = udata;

	switch (ev->type) {
	case SB_CONN_DATA:
		on_data(cl, ev);
		break;
	case SB_CONN_TLS_READY:
		stream_tls_ready(cl);
		break;
	case SB_CONN_TIMEOUT:
		on_timeout(cl);
		break;
	case SB_CONN_CLOSED:
		gone(cl, ev->error);
		break;
	case SB_CONN_ERROR:		/* CLOSED follows with the reason */
	case SB_CONN_WRITABLE:		/* past the bound a client is cut off: nothing waits */
	case SB_CONN_CONNECTED:		/* accepted connections only */
		break;
	}
}

void
client_accept(struct sb_listener *ls, struct sb_conn *c, void *arg)
{
	struct c2s *c2s = arg;
	const struct c2s_conf *conf = c2s->conf;
	struct c2s_addr *addr;
	struct client *cl;

	if (c2s->stopping) {
		sb_conn_close(c);
		return;
	}
	if ((addr = c2s_addrs_take(&c2s->addrs, sb_conn_peer(c), conf->per_address)) == NULL) {
		log_info("client %s: refused: already %d connections from this address",
		    sb_conn_peer(c), conf->per_address);
		sb_conn_close(c);
		return;
	}
	cl = xcalloc(1, sizeof(*cl));
	cl->c2s = c2s;
	cl->conn = c;
	cl->addr = addr;
	cl->direct_tls = sb_conn_tls(c) != NULL;
	cl->state = CL_HEADER;
	cl->tokens = (int64_t)conf->burst;
	cl->refilled = uv_now(c2s->loop);
	/* The session's names fit in a small first block (an idle client keeps it). */
	sb_arena_init(&cl->arena, CLIENT_ARENA);
	sb_arena_init(&cl->qarena, 0);
	cl->xs = stream_new(cl);
	cl->next = c2s->clients;
	if (c2s->clients != NULL)
		c2s->clients->prev = cl;
	c2s->clients = cl;
	c2s->nclients++;
	sb_conn_set_watermarks(c, conf->write_buffer / 4, conf->write_buffer);
	sb_conn_set_handler(c, client_event, cl);
	sb_conn_set_timeout(c, tick_ms(conf));
	sb_deadline_start(c2s->loop, &cl->dl, (uint32_t)conf->login_ms, login_expired);
	client_log(cl, SB_LOG_DEBUG, "connected%s", cl->direct_tls ? " (direct TLS)" : "");
}

/* --- every client --- */

void
clients_shutdown(struct c2s *c2s)
{
	for (struct client *cl = c2s->clients; cl != NULL; cl = cl->next)
		client_error(cl, SB_LOG_DEBUG, SB_STERR_SYSTEM_SHUTDOWN, 0, "shutting down");
}

void
clients_log_counters(struct c2s *c2s)
{
	log_notice("%zu connections, %zu sessions, %llu logins, %llu failed logins",
	    c2s->nclients, c2s->nsessions, (unsigned long long)c2s->logins,
	    (unsigned long long)c2s->login_failures);
}
