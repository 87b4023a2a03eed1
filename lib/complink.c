/*
 * complink.c: the component link to the router (see complink.h).
 *
 * One link has at most one connection at a time. Its life is a small state
 * machine driven by the connection's events, the parser's callbacks and one
 * timer, which is the setup timeout while connected and the reconnect
 * backoff while not:
 *
 *   WAIT -> CONNECTING -> HEADER -> HANDSHAKE -> BINDING -> UP
 *              any of them -> DROPPING -> (CLOSED) -> WAIT
 *
 * Every way down ends in the connection's CLOSED event, and only there is
 * the next attempt scheduled, so a new connection never overlaps the old
 * one. The link is freed only from libuv callbacks (CLOSED, the timer's
 * close callback), never inside a call from its owner, so the owner may
 * close it from any callback.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "complink.h"
#include "conn.h"
#include "log.h"
#include "ns.h"
#include "stream.h"
#include "xmalloc.h"

#define STREAM_CLOSE		"</stream:stream>"
#define SCRATCH_KEEP		(64 * 1024)	/* scratch buffer kept between sends */

enum link_state {
	LS_WAIT,	/* no connection; a reconnect is scheduled unless shutting down */
	LS_CONNECTING,	/* TCP connect under way */
	LS_HEADER,	/* our header sent, waiting for the router's */
	LS_HANDSHAKE,	/* <handshake/> sent, waiting for the answer */
	LS_BINDING,	/* binds sent, waiting for every answer */
	LS_UP,
	LS_DROPPING,	/* we closed the connection, waiting for CLOSED */
};

struct link_bind {
	char		*name;		/* NULL: the default route */
	int		 share;
	int		 answered;
};

struct sb_complink {
	uv_loop_t		*loop;
	uv_timer_t		 timer;	/* setup timeout or reconnect backoff */
	struct sb_conn		*conn;
	struct sb_xml_stream	*xs;
	struct sb_complink_cb	 cb;
	void			*arg;
	enum link_state		 state;

	/* configuration: c has the defaults filled in and its own strings */
	struct sb_complink_conf	 c;
	char			*name, *secret;
	char			 router[SB_ADDR_STRLEN];	/* for log lines */
	struct link_bind	*binds;	/* the default route, if asked, is last */
	size_t			 nbinds;
	struct sb_xml_limits	 limits;

	/* this connection */
	size_t			 unanswered;	/* binds still without an answer */
	char			 why[256];	/* why we dropped it */
	int			 config_error;	/* the router refused our config */
	int			 wrote_header, up, in_stanza;

	/* across connections */
	unsigned		 backoff;	/* base of the next reconnect delay */
	unsigned		 retry_ms;
	struct sb_buf		 queue;		/* serialized stanzas kept while not up */
	size_t			 queued;
	int			 queue_full;	/* logged once per outage */
	struct sb_buf		 scratch;
	int			 closing, timer_open;
};

static void	 link_connect(struct sb_complink *);
static void	 link_drop(struct sb_complink *, int, const char *, ...)
		     __attribute__((format(printf, 3, 4)));
static void	 link_error(struct sb_complink *, const char *, ...)
		     __attribute__((format(printf, 2, 3)));
static void	 conn_handler(struct sb_conn *, struct sb_conn_ev *, void *);

/* --- configuration and life --- */

#define DEFAULT(v, def)	do { if ((v) == 0) (v) = (def); } while (0)

static int
conf_check(const struct sb_complink_conf *conf, struct sockaddr_storage *ss,
    char *err, size_t errlen)
{
	if (conf->name == NULL || *conf->name == '\0' || conf->secret == NULL) {
		snprintf(err, errlen, "component link: no name or no secret");
		return -1;
	}
	if (conf->router_addr == NULL || conf->router_port <= 0 || conf->router_port > 65535 ||
	    sb_addr_parse(conf->router_addr, conf->router_port, ss) == -1) {
		snprintf(err, errlen, "component link %s: router %s port %d: not a numeric "
		    "address and port", conf->name,
		    conf->router_addr ? conf->router_addr : "(none)", conf->router_port);
		return -1;
	}
	for (size_t i = 0; i < conf->nbinds; i++) {
		if (conf->binds[i].name == NULL || *conf->binds[i].name == '\0') {
			snprintf(err, errlen, "component link %s: a bind without a name",
			    conf->name);
			return -1;
		}
	}
	return 0;
}

static void
conf_copy(struct sb_complink *l, const struct sb_complink_conf *conf)
{
	l->c = *conf;
	l->c.router_addr = xstrdup(conf->router_addr);
	l->c.name = l->name = xstrdup(conf->name);
	l->c.secret = l->secret = xstrdup(conf->secret);
	l->c.binds = NULL;
	l->nbinds = conf->nbinds + (conf->default_route ? 1 : 0);
	l->binds = xcalloc(l->nbinds + 1, sizeof(*l->binds));
	for (size_t i = 0; i < conf->nbinds; i++) {
		l->binds[i].name = xstrdup(conf->binds[i].name);
		l->binds[i].share = conf->binds[i].share;
	}
	DEFAULT(l->c.backoff_min_ms, SB_COMPLINK_BACKOFF_MIN_MS);
	DEFAULT(l->c.backoff_max_ms, SB_COMPLINK_BACKOFF_MAX_MS);
	if (l->c.backoff_max_ms < l->c.backoff_min_ms)
		l->c.backoff_max_ms = l->c.backoff_min_ms;
	DEFAULT(l->c.connect_timeout_ms, SB_COMPLINK_CONNECT_TIMEOUT_MS);
	DEFAULT(l->c.handshake_timeout_ms, SB_COMPLINK_SETUP_TIMEOUT_MS);
	DEFAULT(l->c.bind_timeout_ms, SB_COMPLINK_SETUP_TIMEOUT_MS);
	DEFAULT(l->c.queue_max_stanzas, SB_COMPLINK_QUEUE_STANZAS);
	DEFAULT(l->c.queue_max_bytes, SB_COMPLINK_QUEUE_BYTES);
	DEFAULT(l->c.max_stanza, SB_COMPLINK_MAX_STANZA);
	/* An envelope adds one level of depth to what a client may send. */
	l->limits = (struct sb_xml_limits){ l->c.max_stanza, 64, 64 };
}

struct sb_complink *
sb_complink_new(uv_loop_t *loop, const struct sb_complink_conf *conf,
    const struct sb_complink_cb *cb, void *arg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sb_complink *l;

	if (conf_check(conf, &ss, err, errlen) == -1)
		return NULL;
	l = xcalloc(1, sizeof(*l));
	l->loop = loop;
	if (cb != NULL)
		l->cb = *cb;
	l->arg = arg;
	conf_copy(l, conf);
	sb_addr_format((struct sockaddr *)&ss, l->router, sizeof(l->router));
	l->backoff = l->c.backoff_min_ms;
	uv_timer_init(loop, &l->timer);
	l->timer.data = l;
	l->timer_open = 1;
	link_connect(l);
	return l;
}

static void
link_free(struct sb_complink *l)
{
	for (size_t i = 0; i < l->nbinds; i++)
		free(l->binds[i].name);
	free(l->binds);
	free((char *)l->c.router_addr);
	free(l->name);
	explicit_bzero(l->secret, strlen(l->secret));
	free(l->secret);
	sb_buf_free(&l->queue);
	sb_buf_free(&l->scratch);
	free(l);
}

/* Free once closing and both the connection and the timer are gone. */
static void
maybe_free(struct sb_complink *l)
{
	if (l->closing && l->conn == NULL && !l->timer_open)
		link_free(l);
}

static void
timer_closed(uv_handle_t *h)
{
	struct sb_complink *l = h->data;

	l->timer_open = 0;
	maybe_free(l);
}

void
sb_complink_close(struct sb_complink *l)
{
	if (l == NULL || l->closing)
		return;
	l->closing = 1;
	if (l->queued > 0)
		log_notice("complink %s: closing the link to router %s: %zu queued stanzas "
		    "(%zu bytes) dropped", l->name, l->router, l->queued, sb_buf_len(&l->queue));
	else
		log_info("complink %s: closing the link to router %s", l->name, l->router);
	sb_buf_free(&l->queue);
	l->queued = 0;
	uv_close((uv_handle_t *)&l->timer, timer_closed);
	if (l->conn != NULL) {
		if (l->wrote_header && l->state != LS_DROPPING)
			sb_conn_write(l->conn, STREAM_CLOSE, strlen(STREAM_CLOSE));
		/* The router answers our close with its own; CLOSED frees the rest. */
		sb_conn_close_after_flush(l->conn, 0);
	}
}

/* --- the timer: setup timeouts and reconnect backoff --- */

static void
on_timer(uv_timer_t *t)
{
	struct sb_complink *l = t->data;

	switch (l->state) {
	case LS_WAIT:
		link_connect(l);
		break;
	case LS_HEADER:
	case LS_HANDSHAKE:
		link_drop(l, 0, "no handshake answer within %u ms", l->c.handshake_timeout_ms);
		break;
	case LS_BINDING:
		link_drop(l, 0, "%zu bind(s) unanswered after %u ms", l->unanswered,
		    l->c.bind_timeout_ms);
		break;
	default:
		break;
	}
}

static void
timer_start(struct sb_complink *l, unsigned ms)
{
	if (!l->closing)
		uv_timer_start(&l->timer, on_timer, ms, 0);
}

/*
 * The next attempt; after a refusal of our config, at the longest delay.
 * Jitter (up to a quarter less) spreads links that lost the router together.
 */
static void
schedule_retry(struct sb_complink *l)
{
	uint32_t r = 0;

	if (l->config_error)
		l->backoff = l->c.backoff_max_ms;
	gnutls_rnd(GNUTLS_RND_NONCE, &r, sizeof(r));
	l->retry_ms = l->backoff - r % (l->backoff / 4 + 1);
	l->backoff = l->backoff > l->c.backoff_max_ms / 2 ? l->c.backoff_max_ms : l->backoff * 2;
	l->state = LS_WAIT;
	timer_start(l, l->retry_ms);
}

/* --- connecting, dropping, reporting --- */

static const struct sb_xml_stream_cb xs_callbacks;

static void
link_connect(struct sb_complink *l)
{
	char err[256];

	l->retry_ms = 0;
	l->why[0] = '\0';
	l->config_error = l->wrote_header = 0;
	for (size_t i = 0; i < l->nbinds; i++)
		l->binds[i].answered = 0;
	log_info("complink %s: connecting to router %s", l->name, l->router);
	l->conn = sb_conn_connect(l->loop, l->c.router_addr, l->c.router_port,
	    l->c.connect_timeout_ms, conn_handler, l, err, sizeof(err));
	if (l->conn != NULL) {
		l->xs = sb_xml_stream_new(&xs_callbacks, l, &l->limits);
		l->state = LS_CONNECTING;
	} else if (sb_loop_stopping(l->loop)) {
		l->state = LS_WAIT;
		log_info("complink %s: not connecting: %s", l->name, err);
	} else {
		schedule_retry(l);
		log_warn("complink %s: router %s: %s; retrying in %u ms", l->name,
		    l->router, err, l->retry_ms);
	}
}

/*
 * Give up on this connection: close it now; CLOSED logs the reason and
 * schedules the next attempt. The first reason given wins.
 */
static void
link_drop(struct sb_complink *l, int config_error, const char *fmt, ...)
{
	va_list ap;

	if (l->closing || l->conn == NULL || l->state == LS_DROPPING)
		return;
	va_start(ap, fmt);
	vsnprintf(l->why, sizeof(l->why), fmt, ap);
	va_end(ap);
	l->config_error |= config_error;
	uv_timer_stop(&l->timer);
	if (l->wrote_header)
		sb_conn_write(l->conn, STREAM_CLOSE, strlen(STREAM_CLOSE));
	l->state = LS_DROPPING;
	sb_conn_close(l->conn);
}

/* The router refused us: an admin must look. Log it and tell the owner. */
static void
link_error(struct sb_complink *l, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	log_error("complink %s: router %s: %s", l->name, l->router, text);
	if (l->cb.error != NULL)
		l->cb.error(l, text, l->arg);
}

static void
on_closed(struct sb_complink *l, const char *error)
{
	int was_up = l->up;
	const char *reason = l->why[0] != '\0' ? l->why
	    : error != NULL ? error : "connection closed";

	sb_xml_stream_free(l->xs);
	l->xs = NULL;
	l->conn = NULL;
	l->up = 0;
	if (l->closing) {
		maybe_free(l);
		return;
	}
	uv_timer_stop(&l->timer);
	if (sb_loop_stopping(l->loop)) {
		l->state = LS_WAIT;
		log_notice("complink %s: %s router %s: %s", l->name,
		    was_up ? "down from" : "no link to", l->router, reason);
	} else {
		schedule_retry(l);
		log_warn("complink %s: %s router %s: %s; reconnecting in %u ms", l->name,
		    was_up ? "down from" : "no link to", l->router, reason, l->retry_ms);
	}
	if (was_up && l->cb.down != NULL)
		l->cb.down(l, reason, l->arg);
}

static void
link_up(struct sb_complink *l)
{
	size_t names = l->nbinds;
	int dflt = names > 0 && l->binds[names - 1].name == NULL;

	uv_timer_stop(&l->timer);
	l->state = LS_UP;
	l->up = 1;
	l->backoff = l->c.backoff_min_ms;
	log_notice("complink %s: up on router %s (%zu more name(s) bound%s)", l->name,
	    l->router, names - (size_t)dflt, dflt ? ", default route" : "");
	if (l->queued > 0) {
		log_info("complink %s: sending %zu stanzas queued while down", l->name, l->queued);
		sb_conn_write(l->conn, sb_buf_data(&l->queue), sb_buf_len(&l->queue));
		sb_buf_free(&l->queue);
		l->queued = 0;
	}
	l->queue_full = 0;
	if (l->cb.up != NULL)
		l->cb.up(l, l->arg);
}

/* --- setup: header, handshake, binds --- */

void
sb_complink_handshake_digest(const char *id, const char *secret, char hex[41])
{
	size_t idlen = strlen(id), slen = strlen(secret);
	unsigned char md[20];
	char *in = xmalloc(idlen + slen + 1);

	memcpy(in, id, idlen);
	memcpy(in + idlen, secret, slen);
	gnutls_hash_fast(GNUTLS_DIG_SHA1, in, idlen + slen, md);
	explicit_bzero(in, idlen + slen);
	free(in);
	for (size_t i = 0; i < sizeof(md); i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
on_connected(struct sb_complink *l)
{
	struct sb_stream_header h = { .content_ns = SB_NS_COMPONENT_ACCEPT, .to = l->name };

	sb_buf_clear(&l->scratch);
	sb_stream_write_header(&l->scratch, &h);
	sb_conn_write(l->conn, sb_buf_data(&l->scratch), sb_buf_len(&l->scratch));
	l->wrote_header = 1;
	l->state = LS_HEADER;
	timer_start(l, l->c.handshake_timeout_ms);
}

static void
xs_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	struct sb_complink *l = arg;
	const char *id = sb_xml_attr(hdr, "id");
	char hex[41];

	if (l->closing || l->state != LS_HEADER)
		return;
	if (content_ns == NULL || strcmp(content_ns, SB_NS_COMPONENT_ACCEPT) != 0) {
		link_drop(l, 0, "the router's stream is not in %s", SB_NS_COMPONENT_ACCEPT);
		return;
	}
	if (id == NULL || *id == '\0')
		return;		/* a refusal, <host-unknown/>, follows: see xs_stanza() */
	sb_complink_handshake_digest(id, l->secret, hex);
	sb_buf_clear(&l->scratch);
	sb_buf_printf(&l->scratch, "<handshake>%s</handshake>", hex);
	sb_conn_write(l->conn, sb_buf_data(&l->scratch), sb_buf_len(&l->scratch));
	l->state = LS_HANDSHAKE;
}

/* Ids are "b1", "b2", ...: the bind's place in l->binds, plus one. */
static void
send_binds(struct sb_complink *l)
{
	struct sb_buf *b = &l->scratch;

	sb_buf_clear(b);
	for (size_t i = 0; i < l->nbinds; i++) {
		sb_buf_append_str(b, "<bind xmlns='" SB_NS_COMPONENT "'");
		if (l->binds[i].name != NULL)
			sb_xml_write_attr(b, "name", l->binds[i].name);
		else
			sb_buf_append_str(b, " default='yes'");
		if (l->binds[i].share)
			sb_buf_append_str(b, " share='yes'");
		sb_buf_printf(b, " id='b%zu'/>", i + 1);
	}
	sb_conn_write(l->conn, sb_buf_data(b), sb_buf_len(b));
	l->unanswered = l->nbinds;
}

static void
on_handshake_answer(struct sb_complink *l, const struct sb_xml_node *st)
{
	if (!sb_xml_is(st, SB_NS_COMPONENT_ACCEPT, "handshake")) {
		link_drop(l, 0, "expected <handshake/> from the router, got <%s/>", st->e.name);
		return;
	}
	log_debug("complink %s: handshake accepted by router %s", l->name, l->router);
	l->state = LS_BINDING;
	if (l->nbinds == 0) {
		link_up(l);
		return;
	}
	send_binds(l);
	timer_start(l, l->c.bind_timeout_ms);
}

/* --- what the router says: stream errors and router commands --- */

static void
on_stream_error(struct sb_complink *l, const struct sb_xml_node *st)
{
	const char *cond = "undefined-condition", *text;
	const struct sb_xml_node *c;
	struct sb_arena a;
	char what[300];
	int config;

	SB_XML_FOREACH_CHILD(c, st) {
		if (sb_xml_is(c, SB_NS_XMPP_STREAMS, NULL) && strcmp(c->e.name, "text") != 0) {
			cond = c->e.name;
			break;
		}
	}
	sb_arena_init(&a, 0);
	text = sb_xml_child_text(&a, st, SB_NS_XMPP_STREAMS, "text");
	snprintf(what, sizeof(what), "stream error %s%s%s", cond, text ? ": " : "",
	    text ? text : "");
	sb_arena_free(&a);
	/* Retrying soon cannot help with these: the router's config must change. */
	config = strcmp(cond, "not-authorized") == 0 || strcmp(cond, "host-unknown") == 0 ||
	    strcmp(cond, "conflict") == 0;
	if (strcmp(cond, "not-authorized") == 0)
		link_error(l, "handshake refused, is the secret for %s right? (%s)", l->name, what);
	else if (config || !l->up)
		link_error(l, "%s", what);
	link_drop(l, config, "%s", what);
}

/* The bind an answer is for: by id, else by name (or the default route). */
static struct link_bind *
bind_find(struct sb_complink *l, const struct sb_xml_node *st)
{
	const char *id = sb_xml_attr(st, "id"), *name = sb_xml_attr(st, "name");
	unsigned long i;
	char *end;

	if (id != NULL && id[0] == 'b') {
		i = strtoul(id + 1, &end, 10);
		if (end != id + 1 && *end == '\0' && i >= 1 && i <= l->nbinds)
			return &l->binds[i - 1];
	}
	for (size_t j = 0; j < l->nbinds; j++) {
		if (name == NULL ? l->binds[j].name == NULL
		    : l->binds[j].name != NULL && strcmp(l->binds[j].name, name) == 0)
			return &l->binds[j];
	}
	return NULL;
}

static void
cmd_bound(struct sb_complink *l, const struct sb_xml_node *st)
{
	struct link_bind *b = bind_find(l, st);

	if (l->state != LS_BINDING || b == NULL || b->answered) {
		log_debug("complink %s: unexpected <bound/> ignored", l->name);
		return;
	}
	b->answered = 1;
	if (--l->unanswered == 0)
		link_up(l);
}

static void
cmd_bind_error(struct sb_complink *l, const struct sb_xml_node *st)
{
	struct link_bind *b = bind_find(l, st);
	const char *cond = sb_xml_attr(st, "condition");
	const char *what = b != NULL && b->name != NULL ? b->name
	    : b != NULL ? "the default route" : "?";

	if (cond == NULL)
		cond = "undefined-condition";
	link_error(l, "bind-error %s: the router refused to bind %s", cond, what);
	link_drop(l, 1, "bind of %s refused: %s", what, cond);
}

static void
cmd_announce(struct sb_complink *l, const struct sb_xml_node *st)
{
	const char *event = sb_xml_attr(st, "event"), *name = sb_xml_attr(st, "name");
	const char *holder = sb_xml_attr(st, "link"), *dflt = sb_xml_attr(st, "default");
	enum sb_complink_event ev;

	if (event != NULL && strcmp(event, "bound") == 0)
		ev = SB_COMPLINK_BOUND;
	else if (event != NULL && strcmp(event, "unbound") == 0)
		ev = SB_COMPLINK_UNBOUND;
	else
		event = NULL;
	/* The default route has no name: default='yes' instead. */
	if (event == NULL || holder == NULL ||
	    (name == NULL) == (dflt == NULL || strcmp(dflt, "yes") != 0)) {
		log_warn("complink %s: router %s: malformed <announce/> ignored", l->name,
		    l->router);
		return;
	}
	if (l->cb.announce != NULL)
		l->cb.announce(l, ev, name, holder, l->arg);
}

static const struct {
	const char	*name;
	void		(*fn)(struct sb_complink *, const struct sb_xml_node *);
} commands[] = {
	{ "bound",	cmd_bound },
	{ "bind-error",	cmd_bind_error },
	{ "announce",	cmd_announce },
};

static void
on_command(struct sb_complink *l, const struct sb_xml_node *st)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(st->e.name, commands[i].name) == 0) {
			commands[i].fn(l, st);
			return;
		}
	}
	log_debug("complink %s: unknown router command <%s/> ignored", l->name, st->e.name);
}

/* --- the parser's callbacks and the connection's events --- */

static void
xs_stanza(void *arg, struct sb_xml_node *st)
{
	struct sb_complink *l = arg;

	if (l->closing || l->state == LS_DROPPING) {
		sb_xml_stream_stop(l->xs);
	} else if (sb_xml_is(st, SB_NS_STREAMS, "error")) {
		on_stream_error(l, st);
	} else if (l->state == LS_HEADER) {
		link_drop(l, 0, "the router's stream header has no id");
	} else if (l->state == LS_HANDSHAKE) {
		on_handshake_answer(l, st);
	} else if (sb_xml_is(st, SB_NS_COMPONENT, NULL)) {
		on_command(l, st);
	} else if (l->cb.stanza != NULL) {
		l->in_stanza = 1;
		l->cb.stanza(l, st, l->arg);
		l->in_stanza = 0;
	}
}

static void
xs_close(void *arg)
{
	link_drop(arg, 0, "the router closed the stream");
}

static const struct sb_xml_stream_cb xs_callbacks = {
	.header = xs_header,
	.stanza = xs_stanza,
	.close = xs_close,
};

static void
on_data(struct sb_complink *l, struct sb_conn_ev *ev)
{
	if (l->closing || l->state == LS_DROPPING)
		return;
	if (sb_xml_stream_feed(l->xs, ev->data, ev->len) == SB_XML_FAILED)
		link_drop(l, 0, "bad XML from the router: %s: %s",
		    sb_xml_error_condition(sb_xml_stream_error(l->xs)),
		    sb_xml_stream_error_text(l->xs));
}

static void
conn_handler(struct sb_conn *c, struct sb_conn_ev *ev, void *udata)
{
	struct sb_complink *l = udata;

	switch (ev->type) {
	case SB_CONN_CONNECTED:
		on_connected(l);
		break;
	case SB_CONN_DATA:
		on_data(l, ev);
		break;
	case SB_CONN_CLOSED:
		on_closed(l, ev->error);
		break;
	case SB_CONN_ERROR:		/* CLOSED follows with the same text */
	case SB_CONN_WRITABLE:		/* the router reads what we write: no throttle */
	case SB_CONN_TLS_READY:		/* no TLS on the internal link */
	case SB_CONN_TIMEOUT:		/* no idle timeout is set */
		break;
	}
}

/* --- sending --- */

static int
is_content_ns(const char *ns)
{
	return ns != NULL && (strcmp(ns, SB_NS_COMPONENT_ACCEPT) == 0 ||
	    strcmp(ns, SB_NS_CLIENT) == 0 || strcmp(ns, SB_NS_SERVER) == 0);
}

/*
 * Write a stanza in the link's content namespace, whatever content
 * namespace its tree has (jabber:client from c2s): written with its own
 * namespace in scope it declares none, and its children in that namespace
 * follow it. Inside an envelope it must declare jabber:component:accept
 * itself, right after its name.
 */
static void
write_content(struct sb_buf *out, const struct sb_xml_node *st, int in_envelope)
{
	static const char decl[] = " xmlns='" SB_NS_COMPONENT_ACCEPT "'";
	size_t at, n = sizeof(decl) - 1, avail;
	char *p;

	if (!is_content_ns(st->e.ns)) {
		sb_xml_write(out, st, in_envelope ? SB_NS_ROUTE : SB_NS_COMPONENT_ACCEPT);
		return;
	}
	at = sb_buf_len(out) + 1 + strlen(st->e.name);
	sb_xml_write(out, st, st->e.ns);
	if (!in_envelope)
		return;
	sb_buf_space(out, n, &avail);
	sb_buf_commit(out, n);
	p = sb_buf_data(out);
	memmove(p + at + n, p + at, sb_buf_len(out) - at - n);
	memcpy(p + at, decl, n);
}

void
sb_complink_write_envelope_open(struct sb_buf *out, const char *to, size_t tolen,
    const char *from, const char *sid)
{
	sb_buf_append_str(out, "<route xmlns='" SB_NS_ROUTE "'");
	if (to != NULL) {
		sb_buf_append_str(out, " to='");
		sb_xml_escape_attr(out, to, tolen);
		sb_buf_append_char(out, '\'');
	}
	sb_xml_write_attr(out, "from", from);
	sb_xml_write_attr(out, "sid", sid);
	sb_buf_append_char(out, '>');
}

static void
write_envelope_open(struct sb_buf *out, const char *to, const char *from)
{
	sb_complink_write_envelope_open(out, to, to != NULL ? strlen(to) : 0, from, NULL);
}

void
sb_complink_write_envelope(struct sb_buf *out, const char *to, const char *from,
    const struct sb_xml_node *st)
{
	write_envelope_open(out, to, from);
	write_content(out, st, 1);
	sb_buf_append_str(out, "</route>");
}

/* A stanza, or an envelope tree with its stanza in the content namespace. */
static void
write_stanza(struct sb_buf *out, const struct sb_xml_node *st)
{
	const struct sb_xml_node *c;

	if (!sb_xml_is(st, SB_NS_ROUTE, "route")) {
		write_content(out, st, 0);
		return;
	}
	write_envelope_open(out, sb_xml_attr(st, "to"), sb_xml_attr(st, "from"));
	SB_XML_FOREACH_CHILD(c, st)
		write_content(out, c, 1);
	sb_buf_append_str(out, "</route>");
}

static int
enqueue(struct sb_complink *l, const char *bytes, size_t len)
{
	if (l->queued + 1 > l->c.queue_max_stanzas ||
	    sb_buf_len(&l->queue) + len > l->c.queue_max_bytes) {
		if (!l->queue_full)
			log_warn("complink %s: queue full (%zu stanzas, %zu bytes) while the "
			    "link to router %s is down: refusing stanzas", l->name, l->queued,
			    sb_buf_len(&l->queue), l->router);
		l->queue_full = 1;
		return -1;
	}
	sb_buf_append(&l->queue, bytes, len);
	l->queued++;
	return 0;
}

int
sb_complink_send_raw(struct sb_complink *l, const char *bytes, size_t len)
{
	if (l->closing)
		return -1;
	if (l->state != LS_UP)
		return enqueue(l, bytes, len);
	sb_conn_write(l->conn, bytes, len);
	return 0;
}

/* Send what was written into the scratch buffer, then shrink it if it grew big. */
static int
send_scratch(struct sb_complink *l)
{
	int r = sb_complink_send_raw(l, sb_buf_data(&l->scratch), sb_buf_len(&l->scratch));

	if (l->scratch.cap > SCRATCH_KEEP)
		sb_buf_free(&l->scratch);
	else
		sb_buf_clear(&l->scratch);
	return r;
}

int
sb_complink_send(struct sb_complink *l, const struct sb_xml_node *st)
{
	sb_buf_clear(&l->scratch);
	write_stanza(&l->scratch, st);
	return send_scratch(l);
}

int
sb_complink_send_routed(struct sb_complink *l, const char *to, const char *from,
    const struct sb_xml_node *st)
{
	sb_buf_clear(&l->scratch);
	sb_complink_write_envelope(&l->scratch, to, from != NULL ? from : l->name, st);
	return send_scratch(l);
}

/* --- envelopes and accessors --- */

struct sb_xml_node *
sb_complink_wrap(struct sb_arena *a, const char *to, const char *from,
    struct sb_xml_node *st)
{
	struct sb_xml_node *env = sb_xml_new(a, SB_NS_ROUTE, "route");

	sb_xml_set_attr(a, env, "to", to);
	sb_xml_set_attr(a, env, "from", from);
	sb_xml_remove(st);
	sb_xml_append(env, st);
	return env;
}

struct sb_xml_node *
sb_complink_unwrap(const struct sb_xml_node *n)
{
	if (n == NULL || n->type != SB_XML_ELEMENT || !sb_xml_is(n, SB_NS_ROUTE, "route"))
		return NULL;
	return sb_xml_child(n, NULL, NULL);
}

void
sb_complink_take_arena(struct sb_complink *l, struct sb_arena *out)
{
	if (l->in_stanza && l->xs != NULL)
		sb_xml_stream_take_arena(l->xs, out);
}

int
sb_complink_is_up(const struct sb_complink *l)
{
	return l->state == LS_UP;
}

const char *
sb_complink_name(const struct sb_complink *l)
{
	return l->name;
}

size_t
sb_complink_queued(const struct sb_complink *l)
{
	return l->queued;
}

unsigned
sb_complink_retry_ms(const struct sb_complink *l)
{
	return l->state == LS_WAIT && !l->closing ? l->retry_ms : 0;
}
