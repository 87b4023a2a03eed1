/*
 * link.c: one accepted connection to the router, from its first byte to
 * CLOSED: the stream header checks (namespace jabber:component:accept, a
 * 'to' naming a configured component; 'version' is ignored), the XEP-0114
 * handshake and its timeout, dispatching each top-level element, stream
 * errors, and writing with the write-buffer bound.
 *
 * A link's memory goes with the connection's CLOSED event. Before that,
 * a link that ends (stream error, peer's </stream:stream>) is detached at
 * once: its names are released and announced, so nothing is routed to it
 * while its last bytes drain.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "jid.h"
#include "ns.h"
#include "rendezvous.h"
#include "router.h"
#include "xmalloc.h"

/* How long a link that got a stream error may take to read it. */
#define CLOSE_FLUSH_MS	2000
#define SHA1_HEX	40

#define container_of(p, type, member) ((type *)((char *)(p) - offsetof(type, member)))

static void	 on_header(void *, const struct sb_xml_node *, const char *);
static void	 on_stanza(void *, struct sb_xml_node *);
static void	 on_close(void *);

static const struct sb_xml_stream_cb stream_cb = { on_header, on_stanza, on_close };

/* --- logging --- */

void
link_log(const struct link *l, enum sb_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!sb_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sb_log(level, "link %s %s: %s", l->name != NULL ? l->name : "-",
	    sb_conn_peer(l->conn), msg);
}

void
link_log_counters(const struct link *l, enum sb_log_level level, const char *why)
{
	link_log(l, level, "%s: stanzas in %llu, out %llu, bounced %llu", why,
	    (unsigned long long)l->in, (unsigned long long)l->out,
	    (unsigned long long)l->bounced);
}

/* --- names held --- */

const struct router_component *
link_component(const struct link *l)
{
	const struct name *n;

	if (l->name == NULL)
		return NULL;
	n = names_find(&l->r->names, l->name, strlen(l->name));
	return n != NULL ? n->comp : NULL;
}

void
link_bind(struct link *l, struct name *n)
{
	if (l->nnames == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->names = xrealloc(l->names, l->cap * sizeof(*l->names));
	}
	l->names[l->nnames++] = n;
	names_add_holder(n, l);
	announce(l->r, l, "bound", n);
}

void
link_unbind(struct link *l, struct name *n)
{
	for (uint32_t i = 0; i < l->nnames; i++) {
		if (l->names[i] == n) {
			memmove(&l->names[i], &l->names[i + 1],
			    (l->nnames - i - 1) * sizeof(*l->names));
			l->nnames--;
			break;
		}
	}
	/* Announce first: the entry may be freed with its last holder. */
	announce(l->r, l, "unbound", n);
	names_remove_holder(&l->r->names, n, l);
}

void
link_detach(struct link *l)
{
	if (l->detached)
		return;
	l->detached = 1;
	if (l->is_default) {
		names_remove_holder(&l->r->names, &l->r->names.def, l);
		l->is_default = 0;
		announce(l->r, l, "unbound", NULL);
	}
	while (l->nnames > 0)
		link_unbind(l, l->names[l->nnames - 1]);
}

/* --- writing, and backpressure --- */

/*
 * Backpressure. A link whose output queue passes the high-water mark (a
 * quarter of its write-buffer bound, at most 256 KiB) is congested: while
 * any link is, the router reads from no link, so senders wait in TCP (and
 * in their own queues) instead of piling stanzas up here. Writing goes on,
 * and when the congested link's queue drains to the low-water mark reading
 * resumes everywhere. A burst of client traffic toward a busy sm thus slows
 * everyone down a little instead of costing the sm its link (which would
 * end every session). The write-buffer bound still disconnects a link that
 * gets more than that in spite of the pause, and a link that stays
 * congested for <stuck-timeout/> is taken for stuck and disconnected, so one
 * component that stops reading cannot stall the router.
 */
#define HIGH_WATER_MAX	(256 * 1024)

static void
read_all(struct router *r, int on)
{
	for (struct link *l = r->links; l != NULL; l = l->next) {
		if (l->state == LINK_CLOSING)
			continue;
		if (on)
			sb_conn_resume_read(l->conn);
		else
			sb_conn_pause_read(l->conn);
	}
}

static void
congestion_expired(struct sb_deadline *d)
{
	struct link *l = (struct link *)(void *)((char *)d - offsetof(struct link, cdl));

	link_error(l, SB_LOG_WARN, SB_STERR_POLICY_VIOLATION, 1,
	    "not reading: %zu bytes queued for %lld ms; disconnected, the queued stanzas "
	    "are dropped", sb_conn_queued(l->conn), (long long)l->r->conf->stuck_ms);
}

static void
congest(struct link *l)
{
	struct router *r = l->r;

	if (l->congested)
		return;
	l->congested = 1;
	sb_deadline_start(r->loop, &l->cdl, (uint32_t)r->conf->stuck_ms, congestion_expired);
	if (r->ncongested++ == 0) {
		link_log(l, SB_LOG_INFO, "%zu bytes queued: reading from every link paused "
		    "until it catches up", sb_conn_queued(l->conn));
		read_all(r, 0);
	}
}

static void
decongest(struct link *l)
{
	struct router *r = l->r;

	if (!l->congested)
		return;
	l->congested = 0;
	sb_deadline_stop(r->loop, &l->cdl);
	if (--r->ncongested == 0) {
		link_log(l, SB_LOG_INFO, "caught up: reading resumed");
		read_all(r, 1);
	}
}

int
link_send(struct link *l, const char *data, size_t len)
{
	size_t queued;

	if (l->state == LINK_CLOSING)
		return -1;
	if (sb_conn_write(l->conn, data, len) == 0)
		return 0;
	queued = sb_conn_queued(l->conn);
	if (queued <= l->wlimit) {
		congest(l);
		return 0;
	}
	link_error(l, SB_LOG_WARN, SB_STERR_POLICY_VIOLATION, 1,
	    "not reading: %zu bytes queued, over the write-buffer bound of %zu; "
	    "disconnected, the queued stanzas are dropped", queued, l->wlimit);
	return -1;
}

int
link_send_node(struct link *l, const struct sb_xml_node *e)
{
	struct sb_buf *out = &l->r->out;
	int r;

	sb_buf_clear(out);
	sb_xml_write(out, e, SB_NS_COMPONENT_ACCEPT);
	r = link_send(l, sb_buf_data(out), sb_buf_len(out));
	sb_buf_clear(out);
	return r;
}

const char *
link_raw(const struct link *l, size_t *len)
{
	return sb_xml_stream_raw(l->xs, len);
}

const char *
link_raw_child(const struct link *l, size_t *len)
{
	return sb_xml_stream_raw_child(l->xs, len);
}

static void
write_header(struct link *l)
{
	struct sb_stream_header h = {
		.content_ns = SB_NS_COMPONENT_ACCEPT,
		.from = l->name,
		.id = l->id[0] != '\0' ? l->id : NULL,
	};
	struct sb_buf b = SB_BUF_INIT;

	sb_stream_write_header(&b, &h);
	sb_conn_write(l->conn, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
	l->header_sent = 1;
}

/* The link ends: no more input is parsed and nothing is routed to it. */
static void
begin_close(struct link *l)
{
	l->state = LINK_CLOSING;
	sb_deadline_stop(l->r->loop, &l->dl);
	sb_xml_stream_stop(l->xs);	/* the rest of this read is not parsed */
	link_detach(l);
}

void
link_error(struct link *l, enum sb_log_level level, enum sb_stream_err cond, int now,
    const char *fmt, ...)
{
	struct sb_buf b = SB_BUF_INIT;
	char text[512];
	va_list ap;

	if (l->state == LINK_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	link_log(l, level, "<%s/>: %s", sb_stream_err_name(cond), text);
	/* A stream error needs a stream around it (RFC 6120 4.9.1.1). */
	if (!l->header_sent)
		write_header(l);
	/* Own buffer: this may run while a caller serializes into r->out. */
	sb_stream_write_error(&b, cond, cond == SB_STERR_SYSTEM_SHUTDOWN ? NULL : text);
	sb_conn_write(l->conn, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
	begin_close(l);
	decongest(l);		/* what it holds is dropped: nobody waits for it */
	if (now)
		sb_conn_close(l->conn);
	else
		sb_conn_close_after_flush(l->conn, CLOSE_FLUSH_MS);
}

/* --- the stream header --- */

static void
make_id(struct link *l)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[16];

	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
		fatal("gnutls_rnd failed");
	for (size_t i = 0; i < sizeof(rnd); i++) {
		l->id[2 * i] = hex[rnd[i] >> 4];
		l->id[2 * i + 1] = hex[rnd[i] & 15];
	}
	l->id[2 * sizeof(rnd)] = '\0';
}

static void
on_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	struct link *l = arg;
	const char *to = sb_xml_attr(hdr, "to"), *why;
	char name[SB_JID_PART_BUFSIZE];
	const struct name *n;
	size_t len;

	if (content_ns == NULL || strcmp(content_ns, SB_NS_COMPONENT_ACCEPT) != 0) {
		link_error(l, SB_LOG_WARN, SB_STERR_INVALID_NAMESPACE, 0,
		    "stream namespace '%s', expected '" SB_NS_COMPONENT_ACCEPT "'",
		    content_ns != NULL ? content_ns : "");
		return;
	}
	if (to == NULL) {
		link_error(l, SB_LOG_WARN, SB_STERR_HOST_UNKNOWN, 0,
		    "stream header without 'to'");
		return;
	}
	if (sb_jid_prepare(SB_JID_DOMAIN, to, strlen(to), name, sizeof(name), &len, &why) == -1) {
		link_error(l, SB_LOG_WARN, SB_STERR_HOST_UNKNOWN, 0,
		    "stream 'to' is not a name: %s", why);
		return;
	}
	l->name = xstrndup(name, len);
	n = names_find(&l->r->names, name, len);
	if (n == NULL || n->comp == NULL) {
		link_error(l, SB_LOG_WARN, SB_STERR_HOST_UNKNOWN, 0,
		    "no component '%s' in router.xml", l->name);
		return;
	}
	make_id(l);
	write_header(l);
	l->state = LINK_HANDSHAKE;
}

/* --- the handshake --- */

/*
 * The handshake's text. Shallow trees carry no text, so it is cut from
 * the raw bytes "<handshake ...>HEX</handshake>" when there are any.
 */
static const char *
handshake_text(struct link *l, const struct sb_xml_node *st, size_t *len)
{
	const char *raw, *start, *end;
	size_t rawlen;
	char quote = 0;

	if ((raw = link_raw(l, &rawlen)) == NULL)
		return sb_xml_text(&l->r->scratch, st, len);
	/* The end of the start tag: the first '>' outside an attribute value. */
	for (start = raw; start < raw + rawlen; start++) {
		if (quote != 0 && *start == quote)
			quote = 0;
		else if (quote == 0 && (*start == '\'' || *start == '"'))
			quote = *start;
		else if (quote == 0 && *start == '>')
			break;
	}
	if (start == raw + rawlen || start[-1] == '/') {
		*len = 0;
		return "";
	}
	start++;
	for (end = raw + rawlen; end > start && end[-1] != '<'; end--)
		;
	*len = end > start ? (size_t)(end - 1 - start) : 0;
	return start;
}

/* Compare in constant time: the time taken says nothing about the secret. */
static int
hex_equal(const char *got, size_t len, const char *want)
{
	unsigned char diff = 0;

	if (len != SHA1_HEX)
		return 0;
	for (size_t i = 0; i < SHA1_HEX; i++)
		diff |= (unsigned char)tolower((unsigned char)got[i]) ^ (unsigned char)want[i];
	return diff == 0;
}

static int
expected_digest(const struct link *l, const char *secret, char *hexout)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[20];
	struct sb_buf b = SB_BUF_INIT;
	int r;

	sb_buf_append_str(&b, l->id);
	sb_buf_append_str(&b, secret);
	r = gnutls_hash_fast(GNUTLS_DIG_SHA1, sb_buf_data(&b), sb_buf_len(&b), md);
	sb_buf_free(&b);
	if (r < 0)
		return -1;
	for (size_t i = 0; i < sizeof(md); i++) {
		hexout[2 * i] = hex[md[i] >> 4];
		hexout[2 * i + 1] = hex[md[i] & 15];
	}
	hexout[SHA1_HEX] = '\0';
	return 0;
}

/*
 * Links sharing one first name need weights of their own, or rendezvous
 * hashing would send every user to one of them. Each takes the lowest
 * instance number its namesakes leave free and is weighed as "name#N"
 * (the first one as just "name"), so an instance that comes back gets its
 * users back and the others keep theirs.
 */
static int
instance_taken(const struct link *l, uint32_t k)
{
	for (const struct link *o = l->r->links; o != NULL; o = o->next)
		if (o != l && o->state == LINK_OPEN && o->instance == k &&
		    strcmp(o->name, l->name) == 0)
			return 1;
	return 0;
}

static void
pick_instance(struct link *l)
{
	char key[SB_JID_PART_BUFSIZE + 16];
	uint32_t k = 0;
	int n;

	while (instance_taken(l, k))
		k++;
	l->instance = k;
	if (k == 0)
		n = snprintf(key, sizeof(key), "%s", l->name);
	else
		n = snprintf(key, sizeof(key), "%s#%u", l->name, k);
	l->name_hash = sb_rendezvous_hash(key, (size_t)n);
}

static void
handshake(struct link *l, struct sb_xml_node *st)
{
	struct name *n = names_find(&l->r->names, l->name, strlen(l->name));
	const struct router_component *comp = n != NULL ? n->comp : NULL;
	char want[SHA1_HEX + 1];
	const char *got;
	size_t len;

	if (comp == NULL) {
		link_error(l, SB_LOG_WARN, SB_STERR_HOST_UNKNOWN, 0,
		    "component '%s' was removed from router.xml", l->name);
		return;
	}
	got = handshake_text(l, st, &len);
	while (len > 0 && isspace((unsigned char)*got)) {
		got++;
		len--;
	}
	while (len > 0 && isspace((unsigned char)got[len - 1]))
		len--;
	if (expected_digest(l, comp->secret, want) == -1) {
		link_error(l, SB_LOG_ERROR, SB_STERR_INTERNAL_SERVER_ERROR, 0, "SHA-1 failed");
		return;
	}
	if (!hex_equal(got, len, want)) {
		link_error(l, SB_LOG_WARN, SB_STERR_NOT_AUTHORIZED, 0, "handshake failed");
		return;
	}
	if (n->nholders > 0 && !n->share) {
		link_error(l, SB_LOG_WARN, SB_STERR_CONFLICT, 0,
		    "'%s' is already connected from %s and not shared", l->name,
		    sb_conn_peer(n->holders[0]->conn));
		return;
	}
	sb_deadline_stop(l->r->loop, &l->dl);
	pick_instance(l);
	l->state = LINK_OPEN;
	l->authed = 1;
	l->internal = comp->internal ? 1 : 0;
	link_send(l, "<handshake/>", strlen("<handshake/>"));
	link_log(l, SB_LOG_NOTICE, "up%s", l->internal ? " (internal)" : "");
	if (l->instance > 0)
		link_log(l, SB_LOG_INFO, "instance %u of a shared name", l->instance);
	if (l->internal)
		announce_snapshot(l->r, l);
	link_bind(l, n);
	sb_status_write(l->r->status);	/* sbctl status sees it now, not at the next tick */
}

static void
handshake_expired(struct sb_deadline *d)
{
	struct link *l = container_of(d, struct link, dl);

	if (l->state == LINK_HEADER || l->state == LINK_HANDSHAKE)
		link_error(l, SB_LOG_INFO, SB_STERR_CONNECTION_TIMEOUT, 0,
		    "no handshake within %lld ms", (long long)l->r->conf->handshake_ms);
}

static void
handshake_again(struct link *l, struct sb_xml_node *st)
{
	link_error(l, SB_LOG_WARN, SB_STERR_NOT_AUTHORIZED, 0,
	    "a second handshake on an authenticated stream");
}

/* --- top-level elements --- */

typedef void element_fn(struct link *, struct sb_xml_node *);

/* What an authenticated link may send. */
static const struct {
	const char	*name;
	const char	*ns;
	int		 internal_only;
	element_fn	*fn;
} elements[] = {
	{ "message", SB_NS_COMPONENT_ACCEPT, 0, route_stanza },
	{ "presence", SB_NS_COMPONENT_ACCEPT, 0, route_stanza },
	{ "iq", SB_NS_COMPONENT_ACCEPT, 0, route_stanza },
	{ "route", SB_NS_ROUTE, 1, route_envelope },
	{ "bind", SB_NS_COMPONENT, 0, command_bind },
	{ "unbind", SB_NS_COMPONENT, 0, command_unbind },
	{ "handshake", SB_NS_COMPONENT_ACCEPT, 0, handshake_again },
};

static int
is(const struct sb_xml_node *e, const char *ns, const char *name)
{
	return strcmp(e->e.name, name) == 0 && e->e.ns != NULL && strcmp(e->e.ns, ns) == 0;
}

static void
on_stanza(void *arg, struct sb_xml_node *st)
{
	struct link *l = arg;

	switch (l->state) {
	case LINK_HANDSHAKE:
		if (is(st, SB_NS_COMPONENT_ACCEPT, "handshake"))
			handshake(l, st);
		else
			link_error(l, SB_LOG_WARN, SB_STERR_NOT_AUTHORIZED, 0,
			    "<%s/> before the handshake", st->e.name);
		break;
	case LINK_OPEN:
		for (size_t i = 0; i < sizeof(elements) / sizeof(elements[0]); i++) {
			if (!is(st, elements[i].ns, elements[i].name))
				continue;
			if (elements[i].internal_only && !l->internal)
				break;
			elements[i].fn(l, st);
			sb_arena_reset(&l->r->scratch);
			return;
		}
		link_error(l, SB_LOG_WARN, SB_STERR_UNSUPPORTED_STANZA_TYPE, 0,
		    "<%s xmlns='%s'/>%s", st->e.name, st->e.ns != NULL ? st->e.ns : "",
		    is(st, SB_NS_ROUTE, "route") ? " from a plain component" : "");
		break;
	default:
		break;
	}
	sb_arena_reset(&l->r->scratch);
}

static void
on_close(void *arg)
{
	struct link *l = arg;

	if (l->state == LINK_CLOSING)
		return;
	link_log(l, SB_LOG_INFO, "closed its stream");
	sb_conn_write(l->conn, "</stream:stream>", strlen("</stream:stream>"));
	begin_close(l);
	sb_conn_close_after_flush(l->conn, CLOSE_FLUSH_MS);
}

/* --- connection events --- */

static void
input(struct link *l, struct sb_conn_ev *ev)
{
	enum sb_xml_status st;

	if (l->state == LINK_CLOSING)
		return;
	st = sb_xml_stream_feed(l->xs, ev->data, ev->len);
	if (st == SB_XML_FAILED && l->state != LINK_CLOSING) {
		enum sb_xml_error err = sb_xml_stream_error(l->xs);

		link_error(l, SB_LOG_WARN, sb_stream_err_from_xml(err), 0, "%s",
		    sb_xml_stream_error_text(l->xs));
	}
}

static void
gone(struct link *l, const char *why)
{
	struct router *r = l->r;

	if (l->state != LINK_CLOSING)
		link_log(l, l->authed ? SB_LOG_NOTICE : SB_LOG_INFO, "connection lost: %s",
		    why != NULL ? why : "closed");
	link_detach(l);
	if (l->authed)
		link_log_counters(l, SB_LOG_NOTICE, "down");
	decongest(l);
	sb_deadline_stop(r->loop, &l->dl);
	if (l->prev != NULL)
		l->prev->next = l->next;
	else
		r->links = l->next;
	if (l->next != NULL)
		l->next->prev = l->prev;
	sb_xml_stream_free(l->xs);
	free(l->names);
	free(l->name);
	free(l);
	sb_status_write(r->status);
}

static void
link_event(struct sb_conn *c, struct sb_conn_ev *ev, void *udata)
{
	struct link *l = udata;

	switch (ev->type) {
	case SB_CONN_DATA:
		input(l, ev);
		break;
	case SB_CONN_CLOSED:
		gone(l, ev->error);
		break;
	case SB_CONN_WRITABLE:		/* drained to the low-water mark */
		decongest(l);
		break;
	case SB_CONN_ERROR:		/* CLOSED follows with the reason */
	case SB_CONN_TIMEOUT:		/* no idle timeout is set */
	case SB_CONN_CONNECTED:
	case SB_CONN_TLS_READY:
		break;
	}
}

void
link_accept(struct sb_listener *ls, struct sb_conn *c, void *arg)
{
	struct router *r = arg;
	struct link *l = xcalloc(1, sizeof(*l));
	struct sb_xml_limits lim = SB_XML_DEFAULT_LIMITS;

	lim.max_stanza = r->conf->stanza_size;
	l->r = r;
	l->conn = c;
	l->serial = ++r->serial;
	l->since = (int64_t)time(NULL);
	l->wlimit = r->conf->write_buffer;
	l->xs = sb_xml_stream_new(&stream_cb, l, &lim);
	/* Top-level attributes and the bytes as they came: no tree to build or write. */
	sb_xml_stream_set_shallow(l->xs, 1);
	{
		size_t high = l->wlimit / 4 < HIGH_WATER_MAX ? l->wlimit / 4 : HIGH_WATER_MAX;

		sb_conn_set_watermarks(c, high / 4, high);
	}
	l->next = r->links;
	if (r->links != NULL)
		r->links->prev = l;
	r->links = l;
	sb_conn_set_handler(c, link_event, l);
	sb_deadline_start(r->loop, &l->dl, (uint32_t)r->conf->handshake_ms, handshake_expired);
	link_log(l, SB_LOG_DEBUG, "connected");
}

/* --- every link --- */

void
links_shutdown(struct router *r)
{
	r->stopping = 1;	/* no announcements while everything goes */
	for (struct link *l = r->links; l != NULL; l = l->next)
		link_error(l, SB_LOG_DEBUG, SB_STERR_SYSTEM_SHUTDOWN, 0, "shutting down");
	sb_loop_shutdown(r->loop);
}

void
links_log_counters(struct router *r)
{
	for (struct link *l = r->links; l != NULL; l = l->next)
		if (l->authed)
			link_log_counters(l, SB_LOG_NOTICE, l->state == LINK_OPEN ? "up" : "closing");
}
