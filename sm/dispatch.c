/*
 * dispatch.c: which code handles a stanza.
 *
 *   command            sessions.c
 *   message            message.c (outbound from a session / inbound to a user)
 *   presence           presence.c (which passes subscriptions to subscription.c)
 *   iq get/set         the modules' IQ tables, by payload namespace and name
 *                      and by where it is addressed (sm.h, SM_IQ_*); to a
 *                      full JID of a local user it is delivered to that
 *                      session (RFC 6121 8.5.3); nobody handling it gets
 *                      service-unavailable (RFC 6120 8.4)
 *   iq result/error    to a full JID: delivered; else dropped (never answered)
 *
 * An IQ of type get or set must hold exactly one payload element
 * (RFC 6120 8.2.3); anything else gets bad-request.
 */
#include <string.h>

#include "sm.h"

/* The handler for payload p addressed as 'where', or NULL. */
static const struct sm_iq_handler *
iq_find(const struct sb_xml_node *p, unsigned where, int *ns_known)
{
	*ns_known = 0;
	for (size_t i = 0; i < sm_nmodules; i++) {
		const struct sm_iq_handler *h = sm_modules[i]->iqs;

		for (; h != NULL && h->ns != NULL; h++) {
			if (p->e.ns == NULL || strcmp(h->ns, p->e.ns) != 0)
				continue;
			if (h->name != NULL && strcmp(h->name, p->e.name) != 0)
				continue;
			if ((h->where & where) != 0)
				return h;
			*ns_known = 1;
		}
	}
	return NULL;
}

/* The payload of a get or set: its one child element, or NULL (bad-request sent). */
static struct sb_xml_node *
iq_payload(struct sm_stanza *s)
{
	struct sb_xml_node *p = NULL, *c;
	int n = 0;

	SB_XML_FOREACH_CHILD(c, s->st) {
		if (n++ == 0)
			p = c;
	}
	if (n != 1) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, n == 0 ? "an IQ get or set needs a "
		    "payload" : "an IQ get or set holds exactly one payload");
		return NULL;
	}
	return p;
}

static int
iq_handle(struct sm_stanza *s, unsigned where)
{
	const struct sm_iq_handler *h;
	struct sb_xml_node *p;
	int known, get = strcmp(s->type, "get") == 0;

	if (!get && strcmp(s->type, "set") != 0) {
		if (strcmp(s->type, "result") != 0 && strcmp(s->type, "error") != 0)
			sm_reply_error(s, SB_SERR_BAD_REQUEST, "an IQ's type is get, set, "
			    "result or error");
		return SM_DONE;
	}
	if (sb_xml_attr(s->st, "id") == NULL) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, "an IQ needs an id");
		return SM_DONE;
	}
	if ((p = iq_payload(s)) == NULL)
		return SM_DONE;
	if ((h = iq_find(p, where, &known)) == NULL) {
		sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, NULL);
		return SM_DONE;
	}
	if (get && h->get == NULL) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, NULL);
		return SM_DONE;
	}
	if (!get && h->set == NULL) {
		sm_reply_error(s, SB_SERR_NOT_ALLOWED, NULL);
		return SM_DONE;
	}
	return get ? h->get(s, p) : h->set(s, p);
}

/* An IQ to a full JID of the user: that session, or an error (RFC 6121 8.5.3). */
static int
iq_to_resource(struct sm_stanza *s)
{
	size_t rl;
	const char *res = sb_jid_resource(&s->to, &rl);
	struct sm_session *sess = s->user->state == SM_USER_READY ?
	    sm_session_by_resource(s->user, res, rl) : NULL;

	if (sess != NULL) {
		sm_send_session(s->sm, sess, s->st);
		return SM_DONE;
	}
	if (strcmp(s->type, "get") == 0 || strcmp(s->type, "set") == 0)
		sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, NULL);
	return SM_DONE;
}

static int
iq_in(struct sm_stanza *s)
{
	struct sm_user *u = s->user;

	if (s->to.resource_len > 0)
		return iq_to_resource(s);
	if (u->state == SM_USER_NONE)
		return iq_handle(s, SM_IQ_NOUSER);	/* RFC 6121 8.5.1 unless claimed */
	if (u->state == SM_USER_FAILED) {
		if (strcmp(s->type, "get") == 0 || strcmp(s->type, "set") == 0)
			sm_reply_store_error(s, u->load_err);
		return SM_DONE;
	}
	/* The user's own stanzas reach here when they came back through the router. */
	if (s->from.len > 0 && sb_jid_eq_bare(&s->from, &u->jid))
		return iq_handle(s, SM_IQ_SELF);
	return iq_handle(s, SM_IQ_ACCOUNT);
}

static int
iq_out(struct sm_stanza *s)
{
	if (s->to_absent || (sb_jid_is_bare(&s->to) && sb_jid_eq_bare(&s->to, &s->user->jid)))
		return iq_handle(s, SM_IQ_SELF);
	sm_route(s->sm, s->st);
	return SM_DONE;
}

int
sm_dispatch(struct sm_stanza *s)
{
	if (s->dir == SM_CMD)
		return sm_session_command(s);
	if (s->dir == SM_OUT && s->sess == NULL) {
		log_debug("%s: <%s/> from session %s of %s, which has ended: dropped",
		    s->user->bare, s->st->e.name, s->sid ? s->sid : "-", s->c2s ? s->c2s : "-");
		return SM_DONE;
	}
	switch (s->kind) {
	case SB_STANZA_MESSAGE:
		return s->dir == SM_OUT ? sm_message_out(s) : sm_message_in(s);
	case SB_STANZA_PRESENCE:
		return s->dir == SM_OUT ? sm_presence_out(s) : sm_presence_in(s);
	case SB_STANZA_IQ:
		return s->dir == SM_OUT ? iq_out(s) : iq_in(s);
	default:
		log_info("%s: <%s/> is not a stanza: dropped", s->user->bare, s->st->e.name);
		return SM_DONE;
	}
}

int
sm_dispatch_server(struct sm_stanza *s)
{
	switch (s->kind) {
	case SB_STANZA_IQ:
		return iq_handle(s, SM_IQ_SERVER);
	case SB_STANZA_MESSAGE:
		/*
		 * Nobody reads messages sent to the server itself: say so,
		 * rather than drop them silently (headlines and errors excepted).
		 */
		if (strcmp(s->type, "headline") != 0)
			sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, NULL);
		return SM_DONE;
	default:
		return SM_DONE;		/* presence to the server: nothing to do */
	}
}
