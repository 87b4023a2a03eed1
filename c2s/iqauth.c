/*
 * iqauth.c: XEP-0078 non-SASL authentication, for the domains whose
 * <legacy-auth>yes</legacy-auth> is set, and only inside TLS (stream.c
 * accepts nothing but STARTTLS before it), so the plaintext password
 * travels encrypted:
 *
 *   get  the fields: username, password, resource (no <digest/>: the
 *        server stores SCRAM secrets, never a password)
 *   set  username, password and resource: the password is checked by the
 *        SASL module's PLAIN (sasl.h: the same preparation, PBKDF2 on the
 *        thread pool, throttling per address and per account), then the
 *        resource is bound through the same session start as RFC 6120
 *        binding, and the IQ gets its (empty) result when sm says
 *        'started' (bound.c). Reading pauses while the password is checked,
 *        as during SASL.
 *
 * Errors (XEP-0078 section 3): a missing field <not-acceptable/>; a wrong
 * password, an unknown or disabled account <not-authorized/>; a resource
 * that is not a valid resourcepart <not-acceptable/>; sm refusing the
 * resource: the condition sm names (<conflict/> for a resource in use);
 * an address or account throttled after failures <resource-constraint/>
 * (type wait); legacy-auth off: <service-unavailable/>. Failures count
 * towards <auth-failures/> as SASL failures do. After sm refused the
 * resource the client is not authenticated and may try again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "base64.h"
#include "c2s.h"
#include "jid.h"
#include "ns.h"
#include "sasl.h"
#include "xmalloc.h"

void
iqauth_feature(struct client *cl, struct sb_buf *b)
{
	if (cl->tls && cl->domain != NULL && cl->domain->legacy_auth)
		sb_buf_append_str(b, "<auth xmlns='" SB_NS_FEATURE_IQAUTH "'/>");
}

/* The exchange is over: freed on the next loop turn, never in its callback. */
static void
settle(struct client *cl, struct c2s_sasl *s)
{
	if (s == NULL)
		return;
	if (cl->sasl_done != NULL)
		c2s_sasl_free(cl->sasl_done);
	cl->sasl_done = s;
	if (cl->sasl == s)
		cl->sasl = NULL;
	client_post(cl);
}

static void
legacy_success(struct client *cl, const struct c2s_sasl_answer *a)
{
	const char *res = cl->jid, *why, *user;
	struct sb_jid j;
	size_t len;

	cl->jid = NULL;
	if (a->username == NULL || sb_jid_prepare_arena(SB_JID_LOCAL, &cl->arena, a->username,
	    strlen(a->username), &user, &len, &why) == -1) {
		c2s_iq_error(cl, cl->bind_id, SB_SERR_INTERNAL_SERVER_ERROR, NULL);
		return;
	}
	if (sb_jid_build_arena(&j, &cl->arena, user, len, cl->domain->name,
	    strlen(cl->domain->name), res, strlen(res), &why) == -1) {
		c2s_iq_error(cl, cl->bind_id, SB_SERR_NOT_ACCEPTABLE, why);
		return;
	}
	cl->user = user;
	cl->authed = 1;
	cl->legacy = 1;
	cl->c2s->logins++;
	client_log(cl, SB_LOG_INFO, "authenticated (XEP-0078)");
	cl->jid = j.str;
	cl->bare_len = sb_jid_bare_len(&j);
	session_start(cl);
}

static void
legacy_failure(struct client *cl, const struct c2s_sasl_answer *a)
{
	const char *cond = a->condition != NULL ? a->condition : "not-authorized";
	enum sb_stanza_err e = SB_SERR_NOT_AUTHORIZED;

	cl->jid = NULL;
	if (strcmp(cond, "temporary-auth-failure") == 0)
		e = SB_SERR_RESOURCE_CONSTRAINT;
	c2s_iq_error(cl, cl->bind_id, e, e == SB_SERR_NOT_AUTHORIZED ? NULL : a->text);
	cl->c2s->login_failures++;
	client_log(cl, SB_LOG_INFO, "authentication (XEP-0078)%s%s failed: %s%s%s",
	    a->username != NULL ? " as " : "", a->username != NULL ? a->username : "", cond,
	    a->text != NULL ? ": " : "", a->text != NULL ? a->text : "");
	if (c2s_sasl_failure_counts(a) && ++cl->sasl_failures >= cl->c2s->conf->auth_failures)
		client_error(cl, SB_LOG_INFO, SB_STERR_POLICY_VIOLATION, 0,
		    "%d failed authentication attempts", cl->sasl_failures);
}

/* PLAIN's answer: now (inside c2s_sasl_start) or later, with reading paused. */
static void
answer(const struct c2s_sasl_answer *a, void *arg)
{
	struct client *cl = arg;
	int later = (cl->paused & PAUSE_SASL) != 0;

	cl->sasl_wait = 0;
	c2s_sasl_throttle_answer(cl->c2s->sasl, c2s_addr_name(cl->addr), a);
	if (cl->state != CL_CLOSING) {
		if (a->status == C2S_SASL_SUCCESS)
			legacy_success(cl, a);
		else
			legacy_failure(cl, a);
	}
	if (later) {
		settle(cl, cl->sasl);
		client_resume(cl, PAUSE_SASL);
	}
}

static void
iqauth_set(struct client *cl, const struct sb_xml_node *q, const char *id)
{
	struct sb_arena *a = &cl->c2s->scratch;
	const char *user = sb_xml_child_text(a, q, SB_NS_IQAUTH, "username");
	const char *pw = sb_xml_child_text(a, q, SB_NS_IQAUTH, "password");
	const char *res = sb_xml_child_text(a, q, SB_NS_IQAUTH, "resource");
	size_t ulen, plen, mlen;
	char *msg, *b64;
	struct c2s_sasl *s;
	uint64_t ms;

	if (user == NULL || *user == '\0' || pw == NULL || *pw == '\0' || res == NULL ||
	    *res == '\0') {
		c2s_iq_error(cl, id, SB_SERR_NOT_ACCEPTABLE,
		    "username, password and resource are required");
		return;
	}
	if ((ms = c2s_sasl_throttle_check(cl->c2s->sasl, c2s_addr_name(cl->addr), NULL)) > 0) {
		client_log(cl, SB_LOG_INFO, "authentication (XEP-0078) refused: throttled");
		c2s_iq_error(cl, id, SB_SERR_RESOURCE_CONSTRAINT,
		    "too many failed attempts; try again later");
		return;
	}
	/* The PLAIN message: NUL username NUL password, in base64. */
	ulen = strlen(user);
	plen = strlen(pw);
	mlen = ulen + plen + 2;
	msg = xmalloc(mlen);
	msg[0] = '\0';
	memcpy(msg + 1, user, ulen);
	msg[ulen + 1] = '\0';
	memcpy(msg + ulen + 2, pw, plen);
	b64 = xmalloc(sb_base64_encoded_len(mlen) + 1);
	sb_base64_encode(msg, mlen, b64);
	gnutls_memset(msg, 0, mlen);
	free(msg);

	cl->bind_id = sb_arena_strdup(&cl->arena, id);
	cl->jid = sb_arena_strdup(&cl->arena, res);	/* the resource, until success */
	cl->sasl_wait = 1;
	s = c2s_sasl_start(cl->c2s->sasl, cl->domain->name, "PLAIN", b64, sb_conn_tls(cl->conn),
	    1, answer, cl);
	gnutls_memset(b64, 0, strlen(b64));
	free(b64);
	if (cl->sasl_wait && cl->state != CL_CLOSING) {
		cl->sasl = s;
		sb_xml_stream_stop(cl->xs);	/* the parser keeps what follows */
		cl->drain = 1;
		client_pause(cl, PAUSE_SASL);
		return;
	}
	settle(cl, s);
}

int
iqauth_preauth(struct client *cl, struct sb_xml_node *st)
{
	const struct sb_xml_node *q;
	const char *id, *type = sb_stanza_type(st);

	if (!sb_xml_is(st, SB_NS_CLIENT, "iq") ||
	    (q = sb_xml_child(st, SB_NS_IQAUTH, "query")) == NULL)
		return 0;
	if ((id = sb_xml_attr(st, "id")) == NULL) {
		client_error(cl, SB_LOG_INFO, SB_STERR_INVALID_XML, 0, "an IQ without an id");
		return 1;
	}
	if (!cl->domain->legacy_auth) {
		c2s_iq_error(cl, id, SB_SERR_SERVICE_UNAVAILABLE, NULL);
		return 1;
	}
	if (strcmp(type, "get") == 0) {
		c2s_iq_result(cl, id, "<query xmlns='" SB_NS_IQAUTH "'>"
		    "<username/><password/><resource/></query>");
	} else if (strcmp(type, "set") == 0) {
		if (cl->sasl != NULL) {
			/* Like a new <auth/>: it replaces a SASL exchange given up on. */
			c2s_sasl_free(cl->sasl);
			cl->sasl = NULL;
		}
		iqauth_set(cl, q, id);
	} else if (strcmp(type, "error") != 0) {
		c2s_iq_error(cl, id, SB_SERR_BAD_REQUEST, "a get or a set is expected");
	}
	return 1;
}
