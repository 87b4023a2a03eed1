/*
 * stream.c: what incoming and outgoing server streams share. A stream
 * object owns its connection (conn.h) and its parser (xml.h); the
 * connection's events and the parser's callbacks come here and go on to
 * in.c or out.c by the stream's direction:
 *
 *   CONNECTED          out_connected: our header
 *   DATA               the parser; header -> in_header/out_header,
 *                      element -> in_element/out_element (a peer's
 *                      <stream:error/> is handled here for both)
 *   TLS_READY          in_tls_ready/out_tls_ready
 *   TIMEOUT            before a stream is ready: it took too long to set
 *                      up; after: idle when no stanza went either way for
 *                      idle-timeout, else nothing
 *   CLOSED             in_closed/out_closed; an outgoing stream may go on
 *                      with a connection to the next address
 *
 * Writing goes through stream_write(), which fails the stream when its
 * peer lets more than write-buffer bytes pile up.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "s2s.h"
#include "xmalloc.h"

#define CLOSE_FLUSH_MS		2000

static void	 on_header(void *, const struct sb_xml_node *, const char *);
static void	 on_element(void *, struct sb_xml_node *);
static void	 on_close(void *);

static const struct sb_xml_stream_cb stream_cb = { on_header, on_element, on_close };

uint64_t
s2s_now_ms(const struct s2s *s2s)
{
	return uv_now(s2s->loop);
}

int
s2s_domain(const char *s, char *out, size_t size)
{
	size_t len;

	if (s == NULL || *s == '\0')
		return -1;
	return sb_jid_prepare(SB_JID_DOMAIN, s, strlen(s), out, size, &len, NULL);
}

int
s2s_jid_domain(const char *s, char *out, size_t size)
{
	char buf[SB_JID_BUFSIZE];
	struct sb_jid j;
	const char *d;
	size_t len;

	if (s == NULL || sb_jid_parse(&j, buf, sizeof(buf), s, strlen(s), NULL) == -1)
		return -1;
	d = sb_jid_domain(&j, &len);
	if (len >= size)
		return -1;
	memcpy(out, d, len);
	out[len] = '\0';
	return 0;
}

struct s2s_stream *
stream_new(struct s2s *s2s, int out)
{
	struct s2s_stream *st = xcalloc(1, sizeof(*st));

	st->s2s = s2s;
	st->out = out;
	st->state = out ? SS_RESOLVING : SS_HEADER;
	st->started_ms = st->last_ms = s2s_now_ms(s2s);
	st->fail_cond = SB_SERR_REMOTE_SERVER_NOT_FOUND;
	sb_arena_init(&st->arena, 0);
	st->next = s2s->streams;
	if (s2s->streams != NULL)
		s2s->streams->prev = st;
	s2s->streams = st;
	if (out)
		s2s->n.out_streams++;
	else
		s2s->n.in_streams++;
	return st;
}

static void
stream_free(struct s2s_stream *st)
{
	struct s2s *s2s = st->s2s;

	if (st->prev != NULL)
		st->prev->next = st->next;
	else
		s2s->streams = st->next;
	if (st->next != NULL)
		st->next->prev = st->prev;
	for (struct s2s_pair *p = st->pairs, *next; p != NULL; p = next) {
		next = p->next;
		free(p->remote);
		free(p->local);
		free(p);
	}
	if (st->query != NULL)
		sb_resolve_cancel(st->query);
	if (st->xs != NULL)
		sb_xml_stream_free(st->xs);
	sb_arena_free(&st->arena);
	free(st->local);
	free(st->remote);
	free(st);
}

void
stream_why(struct s2s_stream *st, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(st->fail_why, sizeof(st->fail_why), fmt, ap);
	va_end(ap);
}

void
stream_discard(struct s2s_stream *st)
{
	if (st->conn == NULL)
		stream_free(st);
}

void
stream_log(const struct s2s_stream *st, enum sb_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	if (!sb_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sb_log(level, "%s %s %s %s %s: %s", st->out ? "out" : "in",
	    st->conn != NULL ? sb_conn_peer(st->conn) : "-",
	    st->local != NULL ? st->local : "?", st->out ? "->" : "<-",
	    st->remote != NULL ? st->remote : "?", msg);
}

/* --- writing --- */

int
stream_write(struct s2s_stream *st, const char *data, size_t len)
{
	if (st->state == SS_CLOSING || st->conn == NULL)
		return -1;
	if (sb_conn_write(st->conn, data, len) == 0)
		return 0;
	stream_log(st, SB_LOG_WARN, "not reading: %zu bytes queued, over the write-buffer "
	    "bound of %zu; disconnected", sb_conn_queued(st->conn), st->s2s->conf->write_buffer);
	st->fail_cond = SB_SERR_REMOTE_SERVER_TIMEOUT;
	stream_why(st, "the server does not read");
	st->state = SS_CLOSING;
	sb_conn_close(st->conn);
	return -1;
}

int
stream_write_buf(struct s2s_stream *st, struct sb_buf *b)
{
	int rc = stream_write(st, sb_buf_data(b), sb_buf_len(b));

	sb_buf_clear(b);
	return rc;
}

int
stream_send_stanza(struct s2s_stream *st, const struct sb_xml_node *stanza)
{
	struct sb_buf *b = &st->s2s->out;

	sb_buf_clear(b);
	/* The tree is in the router link's namespace: write it as the stream's default. */
	sb_xml_write(b, stanza, stanza->e.ns);
	st->stanzas_out++;
	st->s2s->n.stanzas_out++;
	st->last_ms = s2s_now_ms(st->s2s);
	return stream_write_buf(st, b);
}

void
stream_send_header(struct s2s_stream *st, const char *from, const char *to)
{
	struct sb_stream_header h = {
		.content_ns = SB_NS_SERVER,
		.from = from,
		.to = to,
		.id = st->out ? NULL : st->id,
		.version = "1.0",
		.extra_ns = " xmlns:db='" SB_NS_DIALBACK "'",
	};
	struct sb_buf b = SB_BUF_INIT;

	sb_stream_write_header(&b, &h);
	stream_write(st, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
	st->header_sent = 1;
}

void
stream_error(struct s2s_stream *st, enum sb_log_level level, enum sb_stream_err cond,
    const char *fmt, ...)
{
	struct sb_buf b = SB_BUF_INIT;
	char text[512];
	va_list ap;

	if (st->state == SS_CLOSING || st->conn == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	stream_log(st, level, "<%s/>: %s", sb_stream_err_name(cond), text);
	if (st->out)
		stream_why(st, "%s", text);
	/* A stream error needs a stream around it (RFC 6120 4.9.1.1). */
	if (!st->header_sent)
		stream_send_header(st, st->local, st->remote);
	/* Own buffer: this may run while a caller writes into s2s->out. */
	sb_stream_write_error(&b, cond, text);
	sb_conn_write(st->conn, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
	st->state = SS_CLOSING;
	sb_conn_close_after_flush(st->conn, CLOSE_FLUSH_MS);
}

void
stream_close(struct s2s_stream *st)
{
	struct sb_buf b = SB_BUF_INIT;

	if (st->state == SS_CLOSING || st->conn == NULL)
		return;
	if (st->header_sent) {
		sb_stream_write_close(&b);
		sb_conn_write(st->conn, sb_buf_data(&b), sb_buf_len(&b));
		sb_buf_free(&b);
	}
	st->state = SS_CLOSING;
	sb_conn_close_after_flush(st->conn, CLOSE_FLUSH_MS);
}

/* --- TLS --- */

void
stream_check_cert(struct s2s_stream *st)
{
	struct sb_tls *tls = st->conn != NULL ? sb_conn_tls(st->conn) : NULL;

	if (st->cert_checked || st->remote == NULL)
		return;
	st->cert_checked = 1;
	st->cert_ok = 0;
	if (tls == NULL || !sb_tls_handshake_done(tls)) {
		snprintf(st->cert_err, sizeof(st->cert_err), "no TLS");
		return;
	}
	if (sb_tls_peer_verify_xmpp(tls, st->remote, SB_TLS_XMPP_SERVER, st->cert_err,
	    sizeof(st->cert_err)) == 0) {
		st->cert_ok = 1;
		st->cert_err[0] = '\0';
	}
	stream_log(st, SB_LOG_DEBUG, "%s, certificate %s%s%s", sb_tls_version(tls),
	    st->cert_ok ? "valid" : "not valid", st->cert_ok ? "" : ": ", st->cert_err);
}

static int
stream_switch_tls(struct s2s_stream *st, size_t len, size_t *used)
{
	struct sb_buf *rest = sb_xml_stream_leftover(st->xs);
	size_t n = sb_buf_len(rest);

	st->starttls = 0;
	if (used == NULL || n > len) {
		stream_error(st, SB_LOG_WARN, SB_STERR_INTERNAL_SERVER_ERROR,
		    "STARTTLS: %zu bytes after the TLS switch are not in this read", n);
		return -1;
	}
	*used = len - n;
	sb_buf_clear(rest);
	if (sb_conn_starttls(st->conn, st->switch_ctx, st->switch_sni) == -1) {
		stream_error(st, SB_LOG_WARN, SB_STERR_INTERNAL_SERVER_ERROR,
		    "STARTTLS: the connection cannot switch");
		return -1;
	}
	sb_xml_stream_restart(st->xs);
	st->state = SS_TLS;
	return 0;
}

void
stream_starttls(struct s2s_stream *st, struct sb_tls_ctx *ctx, const char *sni)
{
	st->starttls = 1;
	st->switch_ctx = ctx;
	st->switch_sni = sni;
	sb_xml_stream_stop(st->xs);
}

void
stream_set_up(struct s2s_stream *st)
{
	st->authed = 1;
	st->last_ms = s2s_now_ms(st->s2s);
	if (st->conn != NULL)
		sb_conn_set_timeout(st->conn, (unsigned)st->s2s->conf->idle_ms);
}

/* --- parser callbacks --- */

static void
on_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	struct s2s_stream *st = arg;

	if (st->state == SS_CLOSING)
		return;
	if (content_ns == NULL || strcmp(content_ns, SB_NS_SERVER) != 0) {
		stream_error(st, SB_LOG_INFO, SB_STERR_INVALID_NAMESPACE,
		    "content namespace '%s', expected '" SB_NS_SERVER "'",
		    content_ns != NULL ? content_ns : "");
		return;
	}
	if (!sb_stream_version_ok(sb_xml_attr(hdr, "version"))) {
		stream_error(st, SB_LOG_INFO, SB_STERR_UNSUPPORTED_VERSION,
		    "stream version '%s': 1.0 is required",
		    sb_xml_attr(hdr, "version") != NULL ? sb_xml_attr(hdr, "version") : "(none)");
		return;
	}
	if (st->out)
		out_header(st, hdr, content_ns);
	else
		in_header(st, hdr, content_ns);
}

/* The domainpart of a parsed JID, NUL-ended, into out (SB_JID_PART_BUFSIZE). */
static void
domain_copy(const struct sb_jid *j, char *out)
{
	size_t len;
	const char *d = sb_jid_domain(j, &len);

	memcpy(out, d, len);
	out[len] = '\0';
}

void
stream_stanza_in(struct s2s_stream *st, struct sb_xml_node *el,
    int (*allowed)(const struct s2s_stream *, const char *, const char *))
{
	struct s2s *s2s = st->s2s;
	const char *to = sb_xml_attr(el, "to"), *from = sb_xml_attr(el, "from"), *why;
	char fbuf[SB_JID_BUFSIZE], tbuf[SB_JID_BUFSIZE];
	char fdom[SB_JID_PART_BUFSIZE], tdom[SB_JID_PART_BUFSIZE];
	struct sb_jid fj, tj;

	if (to == NULL || from == NULL) {
		stream_error(st, SB_LOG_INFO, SB_STERR_IMPROPER_ADDRESSING,
		    "<%s/> without '%s'", el->e.name, to == NULL ? "to" : "from");
		return;
	}
	if (sb_jid_parse(&fj, fbuf, sizeof(fbuf), from, strlen(from), &why) == -1) {
		stream_error(st, SB_LOG_INFO, SB_STERR_INVALID_FROM, "from '%s': %s", from, why);
		return;
	}
	if (sb_jid_parse(&tj, tbuf, sizeof(tbuf), to, strlen(to), &why) == -1) {
		stream_error(st, SB_LOG_INFO, SB_STERR_IMPROPER_ADDRESSING, "to '%s': %s", to, why);
		return;
	}
	domain_copy(&fj, fdom);
	domain_copy(&tj, tdom);
	if (!s2s_is_local(s2s, tdom)) {
		stream_error(st, SB_LOG_INFO, SB_STERR_HOST_UNKNOWN,
		    "'%s' is not a domain served here", tdom);
		return;
	}
	if (!allowed(st, fdom, tdom)) {
		stream_error(st, SB_LOG_INFO, SB_STERR_INVALID_FROM,
		    "this stream is not authenticated for %s to %s", fdom, tdom);
		return;
	}
	/* Canonical addresses onward: sm compares them byte for byte. */
	sb_xml_set_attr(&s2s->scratch, el, "from", fj.str);
	sb_xml_set_attr(&s2s->scratch, el, "to", tj.str);
	st->stanzas_in++;
	s2s->n.stanzas_in++;
	st->last_ms = s2s_now_ms(s2s);
	link_deliver(s2s, el);
}

/* The peer's <stream:error/>: logged; the stream ends. */
static void
peer_stream_error(struct s2s_stream *st, struct sb_xml_node *el)
{
	struct sb_xml_node *c;
	const char *cond = "?", *text = NULL;

	SB_XML_FOREACH_CHILD(c, el) {
		if (c->e.ns == NULL || strcmp(c->e.ns, SB_NS_XMPP_STREAMS) != 0)
			continue;
		if (strcmp(c->e.name, "text") == 0)
			text = sb_xml_text(&st->s2s->scratch, c, NULL);
		else
			cond = c->e.name;
	}
	stream_log(st, SB_LOG_INFO, "stream error from the peer: <%s/>%s%s", cond,
	    text != NULL ? " " : "", text != NULL ? text : "");
	if (st->out) {
		if (strcmp(cond, "connection-timeout") == 0 ||
		    strcmp(cond, "remote-connection-failed") == 0)
			st->fail_cond = SB_SERR_REMOTE_SERVER_TIMEOUT;
		stream_why(st, "the server said <%s/>%s%s", cond,
		    text != NULL ? ": " : "", text != NULL ? text : "");
	}
	stream_close(st);
}

static void
on_element(void *arg, struct sb_xml_node *el)
{
	struct s2s_stream *st = arg;

	if (st->state == SS_CLOSING) {
		sb_xml_stream_stop(st->xs);
		return;
	}
	if (sb_xml_is(el, SB_NS_STREAMS, "error"))
		peer_stream_error(st, el);
	else if (st->out)
		out_element(st, el);
	else
		in_element(st, el);
	sb_arena_reset(&st->s2s->scratch);
}

static void
on_close(void *arg)
{
	struct s2s_stream *st = arg;

	stream_log(st, SB_LOG_DEBUG, "the peer closed the stream");
	if (st->out && st->state != SS_READY)
		stream_why(st, "the server closed the stream during setup");
	stream_close(st);
}

/* --- connection events --- */

static void
input(struct s2s_stream *st, struct sb_conn_ev *ev)
{
	switch (sb_xml_stream_feed(st->xs, ev->data, ev->len)) {
	case SB_XML_OK:
	case SB_XML_CLOSED:
		break;
	case SB_XML_STOPPED:
		/* in.c or out.c stopped at the TLS switch; the rest of the read is TLS. */
		if (st->starttls && st->state != SS_CLOSING)
			stream_switch_tls(st, ev->len, &ev->used);
		break;
	case SB_XML_FAILED:
		stream_error(st, SB_LOG_INFO, sb_stream_err_from_xml(sb_xml_stream_error(st->xs)),
		    "%s", sb_xml_stream_error_text(st->xs));
		break;
	}
}

static void
timeout(struct s2s_stream *st)
{
	const struct s2s_conf *conf = st->s2s->conf;
	uint64_t now = s2s_now_ms(st->s2s);

	if (!st->authed) {
		st->fail_cond = SB_SERR_REMOTE_SERVER_TIMEOUT;
		stream_error(st, SB_LOG_INFO, SB_STERR_CONNECTION_TIMEOUT,
		    "stream not set up after %lld ms", (long long)conf->setup_ms);
		return;
	}
	if (now - st->last_ms >= (uint64_t)conf->idle_ms) {
		stream_log(st, SB_LOG_INFO, "idle for %lld s: closing",
		    (long long)(now - st->last_ms) / 1000);
		stream_close(st);
	}
}

static void
handler(struct sb_conn *c, struct sb_conn_ev *ev, void *udata)
{
	struct s2s_stream *st = udata;

	switch (ev->type) {
	case SB_CONN_CONNECTED:
		out_connected(st);
		break;
	case SB_CONN_DATA:
		if (st->state == SS_CLOSING || st->state == SS_TLS) {
			ev->used = ev->len;
			break;
		}
		input(st, ev);
		break;
	case SB_CONN_WRITABLE:
		break;
	case SB_CONN_TLS_READY:
		if (st->out)
			out_tls_ready(st);
		else
			in_tls_ready(st);
		break;
	case SB_CONN_TIMEOUT:
		timeout(st);
		break;
	case SB_CONN_ERROR:
		stream_log(st, SB_LOG_INFO, "%s", ev->error);
		if (st->out && st->fail_why[0] == '\0')
			stream_why(st, "%s", ev->error);
		break;
	case SB_CONN_CLOSED:
		st->conn = NULL;
		if (st->out) {
			out_closed(st, ev->error);
			if (st->conn != NULL)
				break;		/* going on with the next address */
		} else {
			in_closed(st);
		}
		stream_log(st, SB_LOG_DEBUG, "closed%s%s", ev->error != NULL ? ": " : "",
		    ev->error != NULL ? ev->error : "");
		stream_free(st);
		break;
	}
}

void
stream_attach(struct s2s_stream *st, struct sb_conn *c)
{
	struct sb_xml_limits lim = SB_XML_DEFAULT_LIMITS;
	const struct s2s_conf *conf = st->s2s->conf;

	if (st->xs != NULL)
		sb_xml_stream_free(st->xs);
	lim.max_stanza = conf->stanza_size;
	st->xs = sb_xml_stream_new(&stream_cb, st, &lim);
	st->conn = c;
	st->tls = st->starttls = st->header_sent = 0;
	st->cert_checked = st->cert_ok = 0;
	sb_conn_set_watermarks(c, conf->write_buffer / 4, conf->write_buffer);
	sb_conn_set_timeout(c, (unsigned)conf->setup_ms);
	sb_conn_set_handler(c, handler, st);
}

int
stream_connect(struct s2s_stream *st, const struct sb_resolve_addr *a, struct sb_tls_ctx *tls,
    const char *sni, char *err, size_t errlen)
{
	struct sb_conn *c;

	c = sb_conn_connect(st->s2s->loop, a->ip, a->port, (unsigned)st->s2s->conf->connect_ms,
	    handler, st, err, errlen);
	if (c == NULL)
		return -1;
	stream_attach(st, c);
	st->direct_tls = a->direct_tls;
	if (a->direct_tls && sb_conn_starttls(c, tls, sni) == -1) {
		snprintf(err, errlen, "direct TLS to %s:%d: cannot start TLS", a->ip, a->port);
		sb_conn_close(c);
		return -1;
	}
	st->state = SS_CONNECTING;
	return 0;
}

/* --- all streams --- */

void
streams_shutdown(struct s2s *s2s)
{
	for (struct s2s_stream *st = s2s->streams, *next; st != NULL; st = next) {
		next = st->next;
		if (st->conn == NULL) {
			/* Still resolving: no connection will ever report CLOSED. */
			if (st->route != NULL)
				route_detach(s2s, st->route, st);
			stream_free(st);
			continue;
		}
		if (st->header_sent)
			stream_error(st, SB_LOG_DEBUG, SB_STERR_SYSTEM_SHUTDOWN, "server shutting down");
		else
			sb_conn_close(st->conn);
	}
}

void
streams_log_counters(struct s2s *s2s)
{
	size_t in = 0, out = 0, ready = 0;

	for (struct s2s_stream *st = s2s->streams; st != NULL; st = st->next) {
		if (st->out)
			out++;
		else
			in++;
		ready += st->state == SS_READY;
	}
	log_notice("streams: %zu in, %zu out (%zu ready); since start: %llu in, %llu out, "
	    "stanzas %llu in, %llu out, %llu bounced; authenticated %llu by SASL, %llu by "
	    "dialback, %llu failed", in, out, ready,
	    (unsigned long long)s2s->n.in_streams, (unsigned long long)s2s->n.out_streams,
	    (unsigned long long)s2s->n.stanzas_in, (unsigned long long)s2s->n.stanzas_out,
	    (unsigned long long)s2s->n.bounced, (unsigned long long)s2s->n.auth_sasl,
	    (unsigned long long)s2s->n.auth_dialback, (unsigned long long)s2s->n.auth_failed);
}

void
streams_status(struct sb_buf *b, void *arg)
{
	const struct s2s *s2s = arg;
	size_t in = 0, out = 0, ready = 0;

	for (const struct s2s_stream *st = s2s->streams; st != NULL; st = st->next) {
		if (st->out)
			out++;
		else
			in++;
		ready += st->state == SS_READY;
	}
	sb_buf_printf(b, "streams-in %zu\nstreams-out %zu\nstreams-ready %zu\n"
	    "stanzas-in %llu\nstanzas-out %llu\nbounced %llu\nauth-sasl %llu\n"
	    "auth-dialback %llu\nauth-failed %llu\nrouter %s\n", in, out, ready,
	    (unsigned long long)s2s->n.stanzas_in, (unsigned long long)s2s->n.stanzas_out,
	    (unsigned long long)s2s->n.bounced, (unsigned long long)s2s->n.auth_sasl,
	    (unsigned long long)s2s->n.auth_dialback, (unsigned long long)s2s->n.auth_failed,
	    s2s->link != NULL && sb_complink_is_up(s2s->link) ? "up" : "down");
}
