/*
 * in.c: incoming server streams (RFC 6120, jabber:server), from the
 * initiating server's side of view the receiving end:
 *
 *   HEADER --header--> OPEN: our header (a fresh id each time) and features
 *     no TLS yet   <starttls><required/></starttls> (only that while
 *                  <tls require='yes'/>, the default); <proceed/>, the
 *                  parser stopped, the rest of the read to TLS (TLS), a
 *                  new header expected
 *     TLS          SASL EXTERNAL when the certificate is valid for the
 *                  header's 'from' (XEP-0178), dialback (XEP-0220), and
 *                  XEP-0288 bidi; <success/> restarts the stream
 *     SASL done    no more features but bidi; stanzas flow
 *
 * The header's 'to' must be a name served here (<host-unknown/>), its
 * 'from' a domain (<invalid-from/>) that policy does not deny
 * (<policy-violation/>). Every stanza needs a 'from' whose domain this
 * stream authenticated (by SASL, or a dialback pair verified for it and
 * the 'to' domain), else <invalid-from/>, and a 'to' served here, else
 * <host-unknown/>; stanzas without both are <improper-addressing/>.
 *
 * With bidi on, an authenticated stream also carries our stanzas back to
 * the peer's domain: the route for the reverse pair uses it (route.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "jid.h"
#include "s2s.h"
#include "xmalloc.h"

static void
by_id_remove(struct s2s_stream *st)
{
	if (st->in_id) {
		sb_hmap_remove(&st->s2s->by_id, &st->hn);
		st->in_id = 0;
	}
}

void
in_accept(struct sb_listener *l, struct sb_conn *c, void *arg)
{
	struct s2s *s2s = arg;
	struct s2s_stream *st;

	if (s2s->stopping) {
		sb_conn_close(c);
		return;
	}
	st = stream_new(s2s, 0);
	stream_attach(st, c);
	/* A direct TLS listener started TLS at accept. */
	st->direct_tls = sb_conn_tls(c) != NULL;
	stream_log(st, SB_LOG_DEBUG, "connected%s", st->direct_tls ? " (direct TLS)" : "");
}

/* --- features --- */

static void
send_features(struct s2s_stream *st)
{
	const struct s2s_conf *conf = st->s2s->conf;
	struct sb_buf *b = &st->s2s->out;
	int tls = st->tls || st->direct_tls;

	sb_buf_clear(b);
	sb_buf_append_str(b, "<stream:features>");
	if (!tls) {
		sb_buf_printf(b, "<starttls xmlns='" SB_NS_XMPP_TLS "'>%s</starttls>",
		    conf->require_tls ? "<required/>" : "");
	}
	if (!st->sasl_ok && (tls || !conf->require_tls)) {
		stream_check_cert(st);
		if (tls && st->cert_ok)
			sb_buf_append_str(b, "<mechanisms xmlns='" SB_NS_XMPP_SASL "'>"
			    "<mechanism>EXTERNAL</mechanism></mechanisms>");
		/* Dialback stays open: with a valid certificate it needs no callback. */
		sb_buf_append_str(b, "<dialback xmlns='" SB_NS_FEATURE_DIALBACK "'><errors/></dialback>");
	}
	if (conf->bidi && !st->bidi && (tls || !conf->require_tls))
		sb_buf_append_str(b, "<bidi xmlns='" SB_NS_FEATURE_BIDI "'/>");
	sb_buf_append_str(b, "</stream:features>");
	stream_write_buf(st, b);
}

/* --- the header --- */

void
in_header(struct s2s_stream *st, const struct sb_xml_node *hdr, const char *content_ns)
{
	struct s2s *s2s = st->s2s;
	const char *to = sb_xml_attr(hdr, "to"), *from = sb_xml_attr(hdr, "from");
	char tbuf[SB_JID_PART_BUFSIZE], fbuf[SB_JID_PART_BUFSIZE];

	st->header_sent = 0;
	by_id_remove(st);
	sb_stream_make_id(st->id);
	sb_hmap_insert(&s2s->by_id, &st->hn, st->id, strlen(st->id));
	st->in_id = 1;

	if (to == NULL || s2s_domain(to, tbuf, sizeof(tbuf)) == -1 || !s2s_is_local(s2s, tbuf)) {
		stream_error(st, SB_LOG_INFO, SB_STERR_HOST_UNKNOWN,
		    "'%s' is not a domain served here", to != NULL ? to : "(no 'to')");
		return;
	}
	if (st->local != NULL && strcmp(st->local, tbuf) != 0) {
		stream_error(st, SB_LOG_INFO, SB_STERR_HOST_UNKNOWN,
		    "restarted stream to '%s', the stream was to '%s'", tbuf, st->local);
		return;
	}
	if (st->local == NULL)
		st->local = xstrdup(tbuf);
	if (from != NULL) {
		if (s2s_domain(from, fbuf, sizeof(fbuf)) == -1) {
			stream_error(st, SB_LOG_INFO, SB_STERR_INVALID_FROM,
			    "'%s' is not a domain", from);
			return;
		}
		if (st->remote != NULL && strcmp(st->remote, fbuf) != 0) {
			stream_error(st, SB_LOG_INFO, SB_STERR_INVALID_FROM,
			    "restarted stream from '%s', the stream was from '%s'", fbuf, st->remote);
			return;
		}
		if (st->remote == NULL)
			st->remote = xstrdup(fbuf);
	} else if (st->sasl_ok) {
		stream_error(st, SB_LOG_INFO, SB_STERR_INVALID_FROM,
		    "restarted stream without 'from'");
		return;
	}
	if (st->remote != NULL && s2s_conf_policy(s2s->conf, st->remote) == S2S_POLICY_DENY) {
		stream_error(st, SB_LOG_INFO, SB_STERR_POLICY_VIOLATION,
		    "federation with %s is not allowed here", st->remote);
		return;
	}
	stream_send_header(st, st->local, st->remote);
	st->state = SS_OPEN;
	send_features(st);
	/* After SASL the restarted stream is ready: with bidi it carries our stanzas too. */
	if (st->sasl_ok && st->bidi)
		route_ready(s2s, route_get(s2s, st->local, st->remote, 1), st);
}

void
in_tls_ready(struct s2s_stream *st)
{
	st->tls = 1;
	if (st->state == SS_TLS)
		st->state = SS_HEADER;
	stream_log(st, SB_LOG_DEBUG, "TLS: %s", sb_tls_version(sb_conn_tls(st->conn)));
}

/* --- STARTTLS and SASL EXTERNAL --- */

static void
starttls(struct s2s_stream *st, struct sb_xml_node *el)
{
	static const char proceed[] = "<proceed xmlns='" SB_NS_XMPP_TLS "'/>";

	if (st->tls || st->direct_tls) {
		stream_error(st, SB_LOG_INFO, SB_STERR_POLICY_VIOLATION,
		    "<starttls/> on a stream that is already encrypted");
		return;
	}
	stream_write(st, proceed, sizeof(proceed) - 1);
	stream_starttls(st, st->s2s->tls_server, NULL);
}

static void
sasl_reply(struct s2s_stream *st, const char *what, const char *cond, const char *text)
{
	struct sb_buf *b = &st->s2s->out;

	sb_buf_clear(b);
	if (cond == NULL) {
		sb_buf_printf(b, "<%s xmlns='" SB_NS_XMPP_SASL "'/>", what);
	} else {
		sb_buf_printf(b, "<failure xmlns='" SB_NS_XMPP_SASL "'><%s/>", cond);
		if (text != NULL) {
			sb_buf_append_str(b, "<text xml:lang='en'>");
			sb_xml_escape_text(b, text, strlen(text));
			sb_buf_append_str(b, "</text>");
		}
		sb_buf_append_str(b, "</failure>");
	}
	stream_write_buf(st, b);
}

/* The authorization identity: none ("" or "="), or the stream's own domain. */
static int
authzid_ok(struct s2s_stream *st, struct sb_xml_node *el)
{
	char dec[SB_JID_PART_BUFSIZE], canon[SB_JID_PART_BUFSIZE];
	const char *text = sb_xml_text(&st->s2s->scratch, el, NULL);
	size_t n;

	if (*text == '\0' || strcmp(text, "=") == 0)
		return 1;
	if (sb_base64_decode(text, strlen(text), (unsigned char *)dec, sizeof(dec) - 1, &n) == -1)
		return 0;
	dec[n] = '\0';
	return strlen(dec) == n && s2s_domain(dec, canon, sizeof(canon)) == 0 &&
	    strcmp(canon, st->remote) == 0;
}

static void
sasl_auth(struct s2s_stream *st, struct sb_xml_node *el)
{
	const char *mech = sb_xml_attr(el, "mechanism");
	struct s2s *s2s = st->s2s;

	if (!st->tls && !st->direct_tls) {
		sasl_reply(st, "failure", "encryption-required", "STARTTLS first");
		return;
	}
	if (mech == NULL || strcmp(mech, "EXTERNAL") != 0) {
		sasl_reply(st, "failure", "invalid-mechanism", "only EXTERNAL is offered");
		return;
	}
	if (st->sasl_ok) {
		stream_error(st, SB_LOG_INFO, SB_STERR_POLICY_VIOLATION, "SASL after success");
		return;
	}
	if (st->remote == NULL) {
		sasl_reply(st, "failure", "not-authorized", "the stream header names no 'from'");
		return;
	}
	stream_check_cert(st);
	if (!st->cert_ok) {
		s2s->n.auth_failed++;
		stream_log(st, SB_LOG_INFO, "SASL EXTERNAL refused: %s", st->cert_err);
		sasl_reply(st, "failure", "not-authorized", st->cert_err);
		return;
	}
	if (!authzid_ok(st, el)) {
		s2s->n.auth_failed++;
		stream_log(st, SB_LOG_INFO, "SASL EXTERNAL refused: authorization identity");
		sasl_reply(st, "failure", "invalid-authzid", "the identity is not the stream's 'from'");
		return;
	}
	sasl_reply(st, "success", NULL, NULL);
	st->sasl_ok = 1;
	s2s->n.auth_sasl++;
	stream_set_up(st);
	stream_log(st, SB_LOG_INFO, "authenticated by SASL EXTERNAL (%s)",
	    sb_tls_version(sb_conn_tls(st->conn)));
	/* RFC 6120 6.4.6: a new stream follows. */
	sb_xml_stream_restart(st->xs);
	st->state = SS_HEADER;
}

static void
bidi(struct s2s_stream *st, struct sb_xml_node *el)
{
	if (!st->s2s->conf->bidi) {
		stream_error(st, SB_LOG_INFO, SB_STERR_UNSUPPORTED_STANZA_TYPE,
		    "bidi was not offered");
		return;
	}
	st->bidi = 1;
	stream_log(st, SB_LOG_DEBUG, "bidi on (XEP-0288)");
	/* Pairs already verified can carry our stanzas now. */
	for (struct s2s_pair *p = st->pairs; p != NULL; p = p->next)
		if (p->state == PAIR_VALID)
			route_ready(st->s2s, route_get(st->s2s, p->local, p->remote, 1), st);
}

/* --- dialback pairs --- */

int
in_authorized(const struct s2s_stream *st, const char *remote, const char *local)
{
	if (st->sasl_ok)
		return strcmp(remote, st->remote) == 0;
	for (const struct s2s_pair *p = st->pairs; p != NULL; p = p->next)
		if (p->state == PAIR_VALID && strcmp(p->remote, remote) == 0 &&
		    strcmp(p->local, local) == 0)
			return 1;
	return 0;
}

void
in_pair_result(struct s2s_stream *st, const char *remote, const char *local, const char *type)
{
	struct s2s_pair **pp, *p;
	struct sb_buf *b = &st->s2s->out;

	for (pp = &st->pairs; (p = *pp) != NULL; pp = &p->next)
		if (p->state == PAIR_PENDING && strcmp(p->remote, remote) == 0 &&
		    strcmp(p->local, local) == 0)
			break;
	if (p == NULL || st->state == SS_CLOSING)
		return;
	sb_buf_clear(b);
	sb_buf_append_str(b, "<db:result");
	sb_xml_write_attr(b, "from", local);
	sb_xml_write_attr(b, "to", remote);
	if (strcmp(type, "valid") == 0) {
		sb_buf_append_str(b, " type='valid'/>");
		p->state = PAIR_VALID;
		st->s2s->n.auth_dialback++;
		stream_set_up(st);
		stream_log(st, SB_LOG_INFO, "%s authenticated by dialback", remote);
	} else if (strcmp(type, "invalid") == 0) {
		sb_buf_append_str(b, " type='invalid'/>");
		st->s2s->n.auth_failed++;
		stream_log(st, SB_LOG_INFO, "dialback for %s: the key is not valid", remote);
	} else {
		sb_buf_append_str(b, " type='error'><error type='cancel'>"
		    "<remote-connection-failed xmlns='" SB_NS_XMPP_STANZAS "'/></error></db:result>");
		st->s2s->n.auth_failed++;
		stream_log(st, SB_LOG_INFO, "dialback for %s: %s could not be asked", remote,
		    remote);
	}
	stream_write_buf(st, b);
	if (p->state == PAIR_VALID) {
		if (st->bidi)
			route_ready(st->s2s, route_get(st->s2s, local, remote, 1), st);
		return;
	}
	*pp = p->next;
	free(p->remote);
	free(p->local);
	free(p);
}

static void
db_result(struct s2s_stream *st, struct sb_xml_node *el)
{
	if (sb_xml_attr(el, "type") != NULL) {
		/* Answers travel on our own outgoing streams; here it is out of place. */
		stream_log(st, SB_LOG_DEBUG, "ignoring a db:result with a type");
		return;
	}
	dialback_request(st, el);
}

static void
db_verify(struct s2s_stream *st, struct sb_xml_node *el)
{
	if (sb_xml_attr(el, "type") != NULL) {
		stream_error(st, SB_LOG_INFO, SB_STERR_UNSUPPORTED_STANZA_TYPE,
		    "a db:verify answer on an incoming stream");
		return;
	}
	dialback_answer(st, el);
}

/* --- stanzas --- */

static void
stanza(struct s2s_stream *st, struct sb_xml_node *el)
{
	stream_stanza_in(st, el, in_authorized);
}

/* --- elements by state --- */

typedef void element_fn(struct s2s_stream *, struct sb_xml_node *);

struct element {
	const char	*ns;
	const char	*name;
	element_fn	*fn;
	int		 need_tls;	/* only after TLS when TLS is required */
};

static const struct element elements[] = {
	{ SB_NS_XMPP_TLS, "starttls", starttls, 0 },
	{ SB_NS_XMPP_SASL, "auth", sasl_auth, 0 },
	{ SB_NS_DIALBACK, "result", db_result, 1 },
	{ SB_NS_DIALBACK, "verify", db_verify, 1 },
	{ SB_NS_BIDI, "bidi", bidi, 1 },
	{ SB_NS_SERVER, "message", stanza, 1 },
	{ SB_NS_SERVER, "presence", stanza, 1 },
	{ SB_NS_SERVER, "iq", stanza, 1 },
	{ NULL, NULL, NULL, 0 }
};

void
in_element(struct s2s_stream *st, struct sb_xml_node *el)
{
	const struct element *e;

	if (st->state != SS_OPEN) {
		sb_xml_stream_stop(st->xs);
		return;
	}
	for (e = elements; e->name != NULL; e++)
		if (sb_xml_is(el, e->ns, e->name))
			break;
	if (e->name == NULL) {
		stream_error(st, SB_LOG_INFO, SB_STERR_UNSUPPORTED_STANZA_TYPE,
		    "<%s xmlns='%s'/>", el->e.name, el->e.ns != NULL ? el->e.ns : "");
		return;
	}
	if (e->need_tls && !st->tls && !st->direct_tls && st->s2s->conf->require_tls) {
		stream_error(st, SB_LOG_INFO, SB_STERR_POLICY_VIOLATION,
		    "<%s/> before STARTTLS: TLS is required", el->e.name);
		return;
	}
	e->fn(st, el);
}

void
in_closed(struct s2s_stream *st)
{
	by_id_remove(st);
	/* Routes that used it for bidi forget it. */
	if (st->bidi && st->local != NULL && st->remote != NULL) {
		struct route *r = route_get(st->s2s, st->local, st->remote, 0);

		if (r != NULL)
			route_detach(st->s2s, r, st);
	}
	for (struct s2s_pair *p = st->pairs; p != NULL; p = p->next) {
		struct route *r;

		if (p->state == PAIR_VALID && st->bidi &&
		    (r = route_get(st->s2s, p->local, p->remote, 0)) != NULL)
			route_detach(st->s2s, r, st);
	}
}
