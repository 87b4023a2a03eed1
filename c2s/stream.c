/*
 * stream.c: the RFC 6120 negotiation of one client stream, a state machine
 * over the parser's callbacks (header, element, close) and the
 * connection's events (DATA, TLS_READY):
 *
 *   HEADER --header--> OPEN: features by what is done so far
 *     not TLS yet   <starttls><required/></starttls> and nothing else
 *                   (RFC 6120 5.3.1: TLS is mandatory-to-negotiate here);
 *                   <starttls/> -> <proceed/>, the parser stopped, the rest
 *                   of the read handed to TLS, a new header expected (TLS)
 *     TLS           SASL mechanisms (sasl.h); <auth/>, <response/>,
 *                   <abort/> go to the SASL module, reading paused while an
 *                   answer is pending; <success/> restarts the stream
 *     authenticated <bind/> and the optional <session/> (RFC 6121 app. E);
 *                   everything else is bound.c's
 *   any --</stream:stream>--> our close; any --bad XML--> the stream error
 *   the parser names (sb_stream_err_from_xml).
 *
 * Before TLS only <starttls/> is accepted; an <auth/> gets the SASL failure
 * <encryption-required/>, anything else <not-authorized/>. Before SASL
 * success anything but SASL elements and the IQs of XEP-0077 and XEP-0078
 * (register.c, iqauth.c) is <not-authorized/>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "c2s.h"
#include "jid.h"
#include "ns.h"
#include "sasl.h"
#include "tls.h"

static void	 on_header(void *, const struct sb_xml_node *, const char *);
static void	 on_element(void *, struct sb_xml_node *);
static void	 on_close(void *);

static const struct sb_xml_stream_cb stream_cb = { on_header, on_element, on_close };

struct sb_xml_stream *
stream_new(struct client *cl)
{
	struct sb_xml_limits lim = SB_XML_DEFAULT_LIMITS;

	lim.max_stanza = cl->c2s->conf->stanza_size;
	return sb_xml_stream_new(&stream_cb, cl, &lim);
}

void
stream_send_header(struct client *cl, const char *to)
{
	struct sb_stream_header h = {
		.content_ns = SB_NS_CLIENT,
		.from = cl->domain != NULL ? cl->domain->name : NULL,
		.to = to,
		.id = cl->id,
		.version = "1.0",
		.lang = "en",
	};
	struct sb_buf b = SB_BUF_INIT;

	if (cl->id[0] == '\0')
		sb_stream_make_id(cl->id);
	sb_stream_write_header(&b, &h);
	sb_conn_write(cl->conn, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
	cl->header_sent = 1;
}

/* --- features --- */

static void
send_features(struct client *cl)
{
	struct sb_buf *b = &cl->c2s->out;

	sb_buf_clear(b);
	sb_buf_append_str(b, "<stream:features>");
	if (!cl->tls) {
		sb_buf_append_str(b, "<starttls xmlns='" SB_NS_XMPP_TLS "'><required/></starttls>");
	} else if (!cl->authed) {
		c2s_sasl_features(cl->c2s->sasl, sb_conn_tls(cl->conn), 1, b);
		/* XEP-0077 and XEP-0078, when the domain allows them (register.c, iqauth.c). */
		register_feature(cl, b);
		iqauth_feature(cl, b);
	} else {
		/*
		 * sm serves roster versioning (XEP-0237) and subscription
		 * pre-approval (RFC 6121 3.4); their stream features are ours
		 * to announce.
		 */
		sb_buf_append_str(b, "<bind xmlns='" SB_NS_XMPP_BIND "'/>"
		    "<session xmlns='" SB_NS_XMPP_SESSION "'><optional/></session>"
		    "<ver xmlns='" SB_NS_FEATURE_ROSTERVER "'/>"
		    "<sub xmlns='" SB_NS_FEATURE_PREAPPROVAL "'/>");
	}
	sb_buf_append_str(b, "</stream:features>");
	client_send(cl, sb_buf_data(b), sb_buf_len(b));
	sb_buf_clear(b);
}

/* --- the header --- */

static void
on_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	struct client *cl = arg;
	const struct c2s_domain *d;
	const char *to = sb_xml_attr(hdr, "to"), *from = sb_xml_attr(hdr, "from");
	const char *version = sb_xml_attr(hdr, "version");
	char fbuf[SB_JID_BUFSIZE];
	struct sb_jid fj;

	if (cl->state == CL_CLOSING)
		return;
	/* Every stream, restarted or not, gets its own header and id. */
	cl->header_sent = 0;
	sb_stream_make_id(cl->id);
	d = to != NULL ? c2s_conf_domain(cl->c2s->conf, to) : NULL;
	if (cl->domain == NULL)
		cl->domain = d;
	if (content_ns == NULL || strcmp(content_ns, SB_NS_CLIENT) != 0) {
		client_error(cl, SB_LOG_INFO, SB_STERR_INVALID_NAMESPACE, 0,
		    "content namespace '%s', expected '" SB_NS_CLIENT "'",
		    content_ns != NULL ? content_ns : "");
		return;
	}
	if (to == NULL) {
		client_error(cl, SB_LOG_INFO, SB_STERR_HOST_UNKNOWN, 0, "stream header without 'to'");
		return;
	}
	if (d == NULL) {
		client_error(cl, SB_LOG_INFO, SB_STERR_HOST_UNKNOWN, 0,
		    "'%s' is not a domain served here", to);
		return;
	}
	/* A restarted stream (after TLS or SASL) stays with its domain. */
	if (d != cl->domain) {
		client_error(cl, SB_LOG_INFO, SB_STERR_HOST_UNKNOWN, 0,
		    "restarted stream to '%s', the stream was to '%s'", d->name, cl->domain->name);
		return;
	}
	if (!sb_stream_version_ok(version)) {
		client_error(cl, SB_LOG_INFO, SB_STERR_UNSUPPORTED_VERSION, 0,
		    "stream version '%s': 1.0 is required", version != NULL ? version : "(none)");
		return;
	}
	/* RFC 6120 4.7.2: answer to the 'from' the client gave, when it is a JID. */
	if (from != NULL && sb_jid_parse(&fj, fbuf, sizeof(fbuf), from, strlen(from), NULL) == 0)
		stream_send_header(cl, fj.str);
	else
		stream_send_header(cl, NULL);
	cl->state = CL_OPEN;
	send_features(cl);
}

/* --- STARTTLS --- */

static void
starttls(struct client *cl, struct sb_xml_node *st)
{
	if (cl->tls || cl->direct_tls) {
		client_error(cl, SB_LOG_INFO, SB_STERR_POLICY_VIOLATION, 0,
		    "<starttls/> on a stream that is already encrypted");
		return;
	}
	client_send(cl, "<proceed xmlns='" SB_NS_XMPP_TLS "'/>",
	    strlen("<proceed xmlns='" SB_NS_XMPP_TLS "'/>"));
	/* What follows <starttls/> is TLS: stream_input() hands it over. */
	cl->starttls = 1;
	sb_xml_stream_stop(cl->xs);
}

/* After the parser stopped at <starttls/>: the rest of this read is TLS. */
static void
switch_to_tls(struct client *cl, size_t len, size_t *used)
{
	struct sb_buf *rest = sb_xml_stream_leftover(cl->xs);
	size_t n = sb_buf_len(rest);

	cl->starttls = 0;
	if (used == NULL || n > len) {
		/* The parser kept bytes from an earlier read: they cannot go to TLS. */
		client_error(cl, SB_LOG_WARN, SB_STERR_INTERNAL_SERVER_ERROR, 1,
		    "STARTTLS: %zu bytes after <starttls/> are not in this read", n);
		return;
	}
	*used = len - n;
	sb_buf_clear(rest);
	if (sb_conn_starttls(cl->conn, cl->c2s->tls, NULL) == -1) {
		client_error(cl, SB_LOG_WARN, SB_STERR_INTERNAL_SERVER_ERROR, 1,
		    "STARTTLS: the connection cannot switch");
		return;
	}
	sb_xml_stream_restart(cl->xs);
	cl->state = CL_TLS;
}

void
stream_tls_ready(struct client *cl)
{
	const struct sb_tls *tls = sb_conn_tls(cl->conn);
	const char *sni = sb_tls_server_name(tls), *alpn = sb_tls_alpn(tls);

	cl->tls = 1;
	if (cl->state == CL_TLS)
		cl->state = CL_HEADER;
	client_log(cl, SB_LOG_DEBUG, "%s%s%s%s%s", sb_tls_version(tls),
	    sni != NULL ? ", SNI " : "", sni != NULL ? sni : "",
	    alpn != NULL ? ", ALPN " : "", alpn != NULL ? alpn : "");
}

/* --- SASL --- */

static void
send_sasl(struct client *cl, const char *name, const char *data)
{
	struct sb_buf *b = &cl->c2s->out;

	sb_buf_clear(b);
	if (data == NULL || *data == '\0') {
		sb_buf_printf(b, "<%s xmlns='" SB_NS_XMPP_SASL "'/>", name);
	} else {
		sb_buf_printf(b, "<%s xmlns='" SB_NS_XMPP_SASL "'>", name);
		sb_xml_escape_text(b, data, strlen(data));
		sb_buf_printf(b, "</%s>", name);
	}
	client_send(cl, sb_buf_data(b), sb_buf_len(b));
	sb_buf_clear(b);
}

static void
send_sasl_failure(struct client *cl, const char *condition, const char *text)
{
	struct sb_buf *b = &cl->c2s->out;

	sb_buf_clear(b);
	sb_buf_printf(b, "<failure xmlns='" SB_NS_XMPP_SASL "'><%s/>", condition);
	if (text != NULL && *text != '\0') {
		sb_buf_append_str(b, "<text xml:lang='en'>");
		sb_xml_escape_text(b, text, strlen(text));
		sb_buf_append_str(b, "</text>");
	}
	sb_buf_append_str(b, "</failure>");
	client_send(cl, sb_buf_data(b), sb_buf_len(b));
	sb_buf_clear(b);
}

/*
 * A finished exchange is freed on the next loop turn, never inside its own
 * callback.
 */
static void
sasl_settle(struct client *cl)
{
	if (!cl->sasl_finished || cl->sasl == NULL)
		return;
	if (cl->sasl_done != NULL)
		c2s_sasl_free(cl->sasl_done);	/* an older one, long out of its callback */
	cl->sasl_done = cl->sasl;
	cl->sasl = NULL;
	cl->sasl_finished = 0;
	client_post(cl);
}

static void
sasl_success(struct client *cl, const struct c2s_sasl_answer *a)
{
	const char *why;
	size_t len;

	if (a->username == NULL || sb_jid_prepare_arena(SB_JID_LOCAL, &cl->arena, a->username,
	    strlen(a->username), &cl->user, &len, &why) == -1) {
		client_error(cl, SB_LOG_ERROR, SB_STERR_INTERNAL_SERVER_ERROR, 0,
		    "SASL success without a usable username");
		return;
	}
	send_sasl(cl, "success", a->data);
	cl->authed = 1;
	cl->c2s->logins++;
	client_log(cl, SB_LOG_INFO, "authenticated");
	/* RFC 6120 6.4.6: a new stream follows; bytes already here belong to it. */
	sb_xml_stream_restart(cl->xs);
	cl->state = CL_HEADER;
}

static void
sasl_failure(struct client *cl, const struct c2s_sasl_answer *a)
{
	const char *cond = a->condition != NULL ? a->condition : "not-authorized";

	send_sasl_failure(cl, cond, a->text);
	if (strcmp(cond, "aborted") == 0) {
		client_log(cl, SB_LOG_DEBUG, "SASL aborted");
		return;
	}
	cl->c2s->login_failures++;
	client_log(cl, SB_LOG_INFO, "authentication%s%s failed: %s%s%s",
	    a->username != NULL ? " as " : "", a->username != NULL ? a->username : "", cond,
	    a->text != NULL ? ": " : "", a->text != NULL ? a->text : "");
	/* Only wrong credentials and broken exchanges count towards the limit. */
	if (c2s_sasl_failure_counts(a) &&
	    ++cl->sasl_failures >= cl->c2s->conf->auth_failures)
		client_error(cl, SB_LOG_INFO, SB_STERR_POLICY_VIOLATION, 0,
		    "%d failed authentication attempts", cl->sasl_failures);
}

/*
 * The SASL module's answer, now (from inside c2s_sasl_start/step, so from
 * inside the parser) or later (storage, thread pool), when reading is paused
 * and the parser holds what followed.
 */
static void
sasl_answer(const struct c2s_sasl_answer *a, void *arg)
{
	struct client *cl = arg;
	int later = (cl->paused & PAUSE_SASL) != 0;

	cl->sasl_wait = 0;
	if (a->status != C2S_SASL_CHALLENGE)
		cl->sasl_finished = 1;
	c2s_sasl_throttle_answer(cl->c2s->sasl, c2s_addr_name(cl->addr), a);
	if (cl->state != CL_CLOSING) {
		switch (a->status) {
		case C2S_SASL_CHALLENGE:
			send_sasl(cl, "challenge", a->data);
			break;
		case C2S_SASL_SUCCESS:
			sasl_success(cl, a);
			break;
		case C2S_SASL_FAILURE:
			sasl_failure(cl, a);
			break;
		}
	}
	if (later) {
		sasl_settle(cl);
		client_resume(cl, PAUSE_SASL);
	}
}

/* After a call into the SASL module: wait for its answer without reading. */
static void
sasl_called(struct client *cl, struct c2s_sasl *s)
{
	cl->sasl = s;
	if (cl->sasl_wait && cl->state != CL_CLOSING) {
		sb_xml_stream_stop(cl->xs);	/* the parser keeps what follows */
		cl->drain = 1;
		client_pause(cl, PAUSE_SASL);
		return;
	}
	sasl_settle(cl);
}

static void
sasl_auth(struct client *cl, struct sb_xml_node *st)
{
	const char *mech = sb_xml_attr(st, "mechanism"), *data;
	struct c2s_sasl *s;
	char text[128];
	uint64_t ms;
	size_t len;

	if (cl->sasl != NULL) {
		/* A new <auth/> replaces an exchange the client gave up on. */
		c2s_sasl_free(cl->sasl);
		cl->sasl = NULL;
	}
	if (mech == NULL || *mech == '\0') {
		send_sasl_failure(cl, "invalid-mechanism", "no mechanism named");
		return;
	}
	/* An address with many failures behind it waits (sasl.h, throttling). */
	if ((ms = c2s_sasl_throttle_check(cl->c2s->sasl, c2s_addr_name(cl->addr), NULL)) > 0) {
		snprintf(text, sizeof(text), "too many failed attempts; try again in %llu s",
		    (unsigned long long)(ms + 999) / 1000);
		client_log(cl, SB_LOG_INFO, "authentication refused: %s", text);
		send_sasl_failure(cl, "temporary-auth-failure", text);
		return;
	}
	data = sb_xml_text(&cl->c2s->scratch, st, &len);
	cl->sasl_wait = 1;
	cl->sasl_finished = 0;
	s = c2s_sasl_start(cl->c2s->sasl, cl->domain->name, mech, len > 0 ? data : NULL,
	    sb_conn_tls(cl->conn), 1, sasl_answer, cl);
	sasl_called(cl, s);
}

static void
sasl_response(struct client *cl, struct sb_xml_node *st)
{
	struct c2s_sasl *s = cl->sasl;
	const char *data;
	size_t len;

	if (s == NULL) {
		send_sasl_failure(cl, "malformed-request", "no authentication under way");
		return;
	}
	data = sb_xml_text(&cl->c2s->scratch, st, &len);
	cl->sasl = NULL;
	cl->sasl_wait = 1;
	c2s_sasl_step(s, data);
	sasl_called(cl, s);
}

static void
sasl_abort(struct client *cl, struct sb_xml_node *st)
{
	struct c2s_sasl *s = cl->sasl;

	if (s == NULL) {
		send_sasl_failure(cl, "aborted", NULL);
		return;
	}
	cl->sasl = NULL;
	cl->sasl_wait = 1;
	c2s_sasl_abort(s);
	sasl_called(cl, s);
}

static void
sasl_before_tls(struct client *cl, struct sb_xml_node *st)
{
	send_sasl_failure(cl, "encryption-required", "STARTTLS first");
}

/*
 * The only stanzas before SASL: XEP-0077 registration and XEP-0078 login
 * IQs (register.c, iqauth.c, which answer even when the domain has them
 * off); any other is <not-authorized/>.
 */
static void
preauth_iq(struct client *cl, struct sb_xml_node *st)
{
	if (register_preauth(cl, st) || iqauth_preauth(cl, st))
		return;
	client_error(cl, SB_LOG_INFO, SB_STERR_NOT_AUTHORIZED, 0, "<iq/> before authentication");
}

/* --- elements by state --- */

typedef void element_fn(struct client *, struct sb_xml_node *);

struct element {
	const char	*ns;
	const char	*name;
	element_fn	*fn;
};

/* Before TLS (STARTTLS listeners): TLS is required before anything else. */
static const struct element before_tls[] = {
	{ SB_NS_XMPP_TLS, "starttls", starttls },
	{ SB_NS_XMPP_SASL, "auth", sasl_before_tls },
	{ NULL, NULL, NULL }
};

/* TLS on, not authenticated: SASL. */
static const struct element before_auth[] = {
	{ SB_NS_XMPP_SASL, "auth", sasl_auth },
	{ SB_NS_XMPP_SASL, "response", sasl_response },
	{ SB_NS_XMPP_SASL, "abort", sasl_abort },
	{ SB_NS_XMPP_TLS, "starttls", starttls },
	{ SB_NS_CLIENT, "iq", preauth_iq },
	{ NULL, NULL, NULL }
};

static void
on_element(void *arg, struct sb_xml_node *st)
{
	struct client *cl = arg;
	const struct element *table;

	if (cl->state != CL_OPEN) {
		sb_xml_stream_stop(cl->xs);
		return;
	}
	if (cl->authed) {
		bound_element(cl, st);
		sb_arena_reset(&cl->c2s->scratch);
		return;
	}
	table = cl->tls ? before_auth : before_tls;
	for (; table->name != NULL; table++) {
		if (sb_xml_is(st, table->ns, table->name)) {
			table->fn(cl, st);
			sb_arena_reset(&cl->c2s->scratch);
			return;
		}
	}
	client_error(cl, SB_LOG_INFO, SB_STERR_NOT_AUTHORIZED, 0, "<%s xmlns='%s'/> before %s",
	    st->e.name, st->e.ns != NULL ? st->e.ns : "", cl->tls ? "authentication" : "STARTTLS");
	sb_arena_reset(&cl->c2s->scratch);
}

static void
on_close(void *arg)
{
	client_close_stream(arg);
}

/* --- input --- */

void
stream_input(struct client *cl, const char *data, size_t len, size_t *used)
{
	enum sb_xml_status st;

	if (cl->state == CL_CLOSING || cl->state == CL_TLS)
		return;
	st = sb_xml_stream_feed(cl->xs, data, len);
	switch (st) {
	case SB_XML_OK:
	case SB_XML_CLOSED:		/* on_close answered */
		break;
	case SB_XML_STOPPED:
		/* <starttls/>; else a SASL answer is pending or the stream ended. */
		if (cl->starttls && cl->state == CL_OPEN)
			switch_to_tls(cl, len, used);
		break;
	case SB_XML_FAILED:
		if (cl->state != CL_CLOSING)
			client_error(cl, SB_LOG_INFO,
			    sb_stream_err_from_xml(sb_xml_stream_error(cl->xs)), 0, "%s",
			    sb_xml_stream_error_text(cl->xs));
		break;
	}
}
