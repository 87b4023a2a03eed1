/*
 * out.c: outgoing server streams, one per route (a local domain and a
 * remote one), from the first DNS query to the state where stanzas flow:
 *
 *   RESOLVING   a static <host/> from s2s.xml, else SRV for
 *               _xmpps-server and _xmpp-server with the A/AAAA fallback
 *               (resolve.h); the addresses are tried in that order
 *   CONNECTING  TCP, and TLS at once for an _xmpps-server target; a
 *               failure before the peer's header tries the next address
 *   HEADER      ours went out; the peer's gives the stream id
 *   OPEN        features: STARTTLS first (a peer without it is refused
 *               while TLS is required); after TLS the certificate is
 *               checked for the remote domain (RFC 6125 DNS-ID, SRV-ID):
 *               not valid and the policy requires it -> the route fails.
 *               Then bidi (XEP-0288) when offered, the dialback
 *               verifications this route carries, and authentication:
 *               SASL EXTERNAL (XEP-0178) when offered and we have a
 *               certificate for our domain, else dialback (XEP-0220),
 *               else the route fails; a failed EXTERNAL falls back to
 *               dialback when the peer offers it
 *   READY       <success/> and the restarted stream's features, or
 *               <db:result type='valid'/>: the route's queue goes out
 *
 * What the route bounces with when this fails is in st->fail_cond and
 * st->fail_why: remote-server-timeout for timeouts, else
 * remote-server-not-found.
 */
#include <stdarg.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jid.h"
#include "s2s.h"
#include "xmalloc.h"

static struct s2s_local_tls *
local_tls(struct s2s_stream *st)
{
	struct s2s *s2s = st->s2s;
	size_t i;

	for (i = 0; i < s2s->conf->ndomains; i++)
		if (strcmp(s2s->conf->domains[i].name, st->local) == 0)
			break;
	return &s2s->local_tls[i];	/* the last one has no certificate */
}

static void __attribute__((format(printf, 3, 4)))
fail(struct s2s_stream *st, enum sb_stanza_err cond, const char *fmt, ...)
{
	va_list ap;

	st->fail_cond = cond;
	va_start(ap, fmt);
	vsnprintf(st->fail_why, sizeof(st->fail_why), fmt, ap);
	va_end(ap);
	st->s2s->n.auth_failed++;
	stream_log(st, SB_LOG_INFO, "%s", st->fail_why);
	stream_close(st);
}

/* --- connecting --- */

/* 0 when a connection is under way; -1 when no address is left (fail_why says why). */
static int
connect_next(struct s2s_stream *st)
{
	struct s2s_local_tls *lt = local_tls(st);
	char err[256];

	while (st->next_addr < st->naddrs) {
		const struct sb_resolve_addr *a = &st->addrs[st->next_addr++];

		stream_log(st, SB_LOG_DEBUG, "connecting to %s [%s]:%d%s", a->host, a->ip, a->port,
		    a->direct_tls ? " (direct TLS)" : "");
		if (stream_connect(st, a, lt->direct, route_remote_ascii(st->route), err,
		    sizeof(err)) == 0)
			return 0;
		stream_why(st, "%s", err);
	}
	return -1;
}

/* Before any connection: the route fails and the stream goes. */
static void
give_up(struct s2s_stream *st)
{
	route_failed(st->s2s, st->route, st, st->fail_cond, st->fail_why);
	stream_discard(st);
}

static void
resolved(void *arg, enum sb_resolve_status status, const struct sb_resolve_result *res,
    const char *error)
{
	struct s2s_stream *st = arg;

	st->query = NULL;
	if (status != SB_RESOLVE_OK) {
		st->fail_cond = status == SB_RESOLVE_TEMPORARY ? SB_SERR_REMOTE_SERVER_TIMEOUT :
		    SB_SERR_REMOTE_SERVER_NOT_FOUND;
		stream_why(st, "DNS: %s", error);
		stream_log(st, SB_LOG_INFO, "%s", st->fail_why);
		give_up(st);
		return;
	}
	st->addrs = sb_arena_alloc(&st->arena, res->naddrs * sizeof(*st->addrs));
	for (size_t i = 0; i < res->naddrs; i++) {
		st->addrs[i] = res->addrs[i];
		st->addrs[i].host = sb_arena_strdup(&st->arena, res->addrs[i].host);
	}
	st->naddrs = res->naddrs;
	st->next_addr = 0;
	if (connect_next(st) == -1)
		give_up(st);
}

void
out_start(struct s2s *s2s, struct s2s_stream *st)
{
	const struct s2s_host *h = s2s_conf_host(s2s->conf, st->remote);

	st->state = SS_RESOLVING;
	if (h != NULL) {
		/* A static address: no DNS. */
		st->addrs = sb_arena_zalloc(&st->arena, sizeof(*st->addrs));
		snprintf(st->addrs[0].ip, sizeof(st->addrs[0].ip), "%s", h->address);
		st->addrs[0].port = h->port;
		st->addrs[0].direct_tls = h->direct_tls;
		st->addrs[0].host = st->remote;
		st->naddrs = 1;
		if (connect_next(st) == -1)
			give_up(st);
		return;
	}
	st->query = sb_resolve_xmpp_server(s2s->resolver, route_remote_ascii(st->route), 5269,
	    resolved, st);
	if (st->query == NULL) {
		stream_why(st, "DNS: the query could not be started");
		give_up(st);
	}
}

void
out_requery(struct s2s_stream *st)
{
	if (st->query == NULL)
		return;
	sb_resolve_cancel(st->query);
	st->query = sb_resolve_xmpp_server(st->s2s->resolver, route_remote_ascii(st->route), 5269,
	    resolved, st);
	if (st->query == NULL) {
		stream_why(st, "DNS: the query could not be started");
		give_up(st);
	}
}

void
out_connected(struct s2s_stream *st)
{
	stream_log(st, SB_LOG_DEBUG, "connected");
	stream_send_header(st, st->local, st->remote);
	st->state = SS_HEADER;
}

void
out_tls_ready(struct s2s_stream *st)
{
	st->tls = 1;
	if (st->state == SS_TLS) {
		/* STARTTLS: a new stream on top (RFC 6120 5.4.3.3). */
		stream_send_header(st, st->local, st->remote);
		st->state = SS_HEADER;
	}
}

/* --- the peer's header and features --- */

void
out_header(struct s2s_stream *st, const struct sb_xml_node *hdr, const char *content_ns)
{
	const char *id = sb_xml_attr(hdr, "id");

	if (id == NULL || *id == '\0' || strlen(id) > 1024) {
		st->fail_cond = SB_SERR_REMOTE_SERVER_NOT_FOUND;
		stream_error(st, SB_LOG_INFO, SB_STERR_INVALID_XML,
		    "the stream header has no usable id");
		return;
	}
	st->peer_id = sb_arena_strdup(&st->arena, id);
	/* From here on a failure is the server's answer: no other address is tried. */
	st->next_addr = st->naddrs;
	st->state = SS_OPEN;
}

static void
send_dialback(struct s2s_stream *st)
{
	struct sb_buf *b = &st->s2s->out;
	char key[65];

	dialback_key(st->s2s, st->remote, st->local, st->peer_id, key);
	sb_buf_clear(b);
	sb_buf_append_str(b, "<db:result");
	sb_xml_write_attr(b, "from", st->local);
	sb_xml_write_attr(b, "to", st->remote);
	sb_buf_printf(b, ">%s</db:result>", key);
	st->db_sent = 1;
	stream_write_buf(st, b);
}

static void
authenticate(struct s2s_stream *st)
{
	static const char external[] =
	    "<auth xmlns='" SB_NS_XMPP_SASL "' mechanism='EXTERNAL'>=</auth>";

	if (st->peer_external && !st->sasl_tried && local_tls(st)->domain != NULL) {
		stream_write(st, external, sizeof(external) - 1);
		return;
	}
	if (st->peer_db) {
		send_dialback(st);
		return;
	}
	fail(st, SB_SERR_REMOTE_SERVER_NOT_FOUND, "%s offers no way to authenticate to it "
	    "(neither SASL EXTERNAL for our certificate nor dialback)", st->remote);
}

static void
ready(struct s2s_stream *st, const char *how)
{
	struct sb_tls *tls = st->conn != NULL ? sb_conn_tls(st->conn) : NULL;

	st->state = SS_READY;
	stream_set_up(st);
	stream_log(st, SB_LOG_INFO, "ready: authenticated by %s%s%s, the peer's certificate %s",
	    how, tls != NULL ? ", " : "", tls != NULL ? sb_tls_version(tls) : "",
	    st->cert_ok ? "valid" : "not valid (dialback allowed)");
	if (strcmp(how, "dialback") == 0)
		st->s2s->n.auth_dialback++;
	else
		st->s2s->n.auth_sasl++;
	route_ready(st->s2s, st->route, st);
}

static void
features(struct s2s_stream *st, struct sb_xml_node *el)
{
	const struct s2s_conf *conf = st->s2s->conf;
	struct sb_xml_node *mechs, *m;
	int tls = st->tls || st->direct_tls;

	if (st->sasl_ok) {
		ready(st, "SASL EXTERNAL");
		return;
	}
	if (!tls && sb_xml_child(el, SB_NS_XMPP_TLS, "starttls") != NULL) {
		static const char starttls[] = "<starttls xmlns='" SB_NS_XMPP_TLS "'/>";

		stream_write(st, starttls, sizeof(starttls) - 1);
		return;
	}
	if (!tls && conf->require_tls) {
		fail(st, SB_SERR_REMOTE_SERVER_NOT_FOUND, "%s does not offer STARTTLS, and TLS is "
		    "required", st->remote);
		return;
	}
	if (tls) {
		stream_check_cert(st);
		if (!st->cert_ok && s2s_conf_policy(conf, st->remote) != S2S_POLICY_DIALBACK) {
			fail(st, SB_SERR_REMOTE_SERVER_NOT_FOUND, "certificate refused: %s",
			    st->cert_err);
			return;
		}
	}
	if (conf->bidi && !st->bidi && sb_xml_child(el, SB_NS_FEATURE_BIDI, "bidi") != NULL) {
		static const char bidi[] = "<bidi xmlns='" SB_NS_BIDI "'/>";

		stream_write(st, bidi, sizeof(bidi) - 1);
		st->bidi = 1;
	}
	st->peer_db = sb_xml_child(el, SB_NS_FEATURE_DIALBACK, "dialback") != NULL;
	st->peer_external = 0;
	if ((mechs = sb_xml_child(el, SB_NS_XMPP_SASL, "mechanisms")) != NULL)
		SB_XML_FOREACH_CHILD(m, mechs)
			if (sb_xml_is(m, SB_NS_XMPP_SASL, "mechanism") &&
			    strcmp(sb_xml_text(&st->s2s->scratch, m, NULL), "EXTERNAL") == 0)
				st->peer_external = 1;
	/* The verifications the route holds can go now. */
	dialback_flush(st->s2s, st->route, st);
	authenticate(st);
}

int
out_can_verify(const struct s2s_stream *st)
{
	return st->state == SS_READY || (st->state == SS_OPEN &&
	    (st->tls || st->direct_tls || !st->s2s->conf->require_tls) &&
	    (st->peer_db || st->peer_external || st->db_sent));
}

/* --- elements --- */

static void
proceed(struct s2s_stream *st, struct sb_xml_node *el)
{
	if (st->tls || st->direct_tls) {
		stream_error(st, SB_LOG_INFO, SB_STERR_POLICY_VIOLATION, "<proceed/> out of place");
		return;
	}
	stream_starttls(st, local_tls(st)->starttls, route_remote_ascii(st->route));
}

static void
tls_failure(struct s2s_stream *st, struct sb_xml_node *el)
{
	fail(st, SB_SERR_REMOTE_SERVER_NOT_FOUND, "%s refused STARTTLS", st->remote);
}

static void
sasl_success(struct s2s_stream *st, struct sb_xml_node *el)
{
	st->sasl_ok = 1;
	sb_xml_stream_restart(st->xs);
	stream_send_header(st, st->local, st->remote);
	st->state = SS_HEADER;
}

static void
sasl_failure(struct s2s_stream *st, struct sb_xml_node *el)
{
	struct sb_xml_node *c = el->e.children;

	while (c != NULL && c->type != SB_XML_ELEMENT)
		c = c->next;
	stream_log(st, SB_LOG_INFO, "SASL EXTERNAL failed: <%s/>%s", c != NULL ? c->e.name : "?",
	    st->peer_db ? "; trying dialback" : "");
	st->sasl_tried = 1;
	authenticate(st);
}

static void
db_result(struct s2s_stream *st, struct sb_xml_node *el)
{
	const char *type = sb_xml_attr(el, "type");

	if (!st->db_sent || type == NULL) {
		stream_error(st, SB_LOG_INFO, SB_STERR_UNSUPPORTED_STANZA_TYPE,
		    "a db:result we did not ask for");
		return;
	}
	if (strcmp(type, "valid") == 0) {
		ready(st, "dialback");
		return;
	}
	fail(st, SB_SERR_REMOTE_SERVER_NOT_FOUND, "%s refused our dialback key", st->remote);
}

static void
db_verify(struct s2s_stream *st, struct sb_xml_node *el)
{
	dialback_verified(st, el);
}

/* With bidi, our stream carries the peer's stanzas: from its domain to ours only. */
static int
bidi_allowed(const struct s2s_stream *st, const char *remote, const char *local)
{
	return strcmp(remote, st->remote) == 0 && strcmp(local, st->local) == 0;
}

static void
stanza(struct s2s_stream *st, struct sb_xml_node *el)
{
	if (!st->bidi || st->state != SS_READY) {
		stream_error(st, SB_LOG_INFO, SB_STERR_NOT_AUTHORIZED,
		    "a stanza on our outgoing stream without bidi");
		return;
	}
	stream_stanza_in(st, el, bidi_allowed);
}

typedef void element_fn(struct s2s_stream *, struct sb_xml_node *);

static const struct {
	const char	*ns;
	const char	*name;
	element_fn	*fn;
} elements[] = {
	{ SB_NS_STREAMS, "features", features },
	{ SB_NS_XMPP_TLS, "proceed", proceed },
	{ SB_NS_XMPP_TLS, "failure", tls_failure },
	{ SB_NS_XMPP_SASL, "success", sasl_success },
	{ SB_NS_XMPP_SASL, "failure", sasl_failure },
	{ SB_NS_DIALBACK, "result", db_result },
	{ SB_NS_DIALBACK, "verify", db_verify },
	{ SB_NS_SERVER, "message", stanza },
	{ SB_NS_SERVER, "presence", stanza },
	{ SB_NS_SERVER, "iq", stanza },
};

void
out_element(struct s2s_stream *st, struct sb_xml_node *el)
{
	if (st->state != SS_OPEN && st->state != SS_READY) {
		sb_xml_stream_stop(st->xs);
		return;
	}
	for (size_t i = 0; i < sizeof(elements) / sizeof(elements[0]); i++)
		if (sb_xml_is(el, elements[i].ns, elements[i].name)) {
			elements[i].fn(st, el);
			return;
		}
	stream_error(st, SB_LOG_INFO, SB_STERR_UNSUPPORTED_STANZA_TYPE, "<%s xmlns='%s'/>",
	    el->e.name, el->e.ns != NULL ? el->e.ns : "");
}

void
out_closed(struct s2s_stream *st, const char *why)
{
	if (st->fail_why[0] == '\0' && why != NULL)
		stream_why(st, "%s", why);
	if (why != NULL && strstr(why, "timed out") != NULL)
		st->fail_cond = SB_SERR_REMOTE_SERVER_TIMEOUT;
	if (st->route == NULL)
		return;
	/* No answer from this address: the next one. */
	if ((st->state == SS_CONNECTING || st->state == SS_HEADER) &&
	    st->next_addr < st->naddrs && !st->s2s->stopping && connect_next(st) == 0)
		return;
	if (st->authed)
		route_detach(st->s2s, st->route, st);
	else
		route_failed(st->s2s, st->route, st, st->fail_cond, st->fail_why);
}
