/*
 * message.c: message delivery by RFC 6121 section 8.5.
 *
 * Outbound (from a session) a message is routed as it is; one without 'to'
 * is for the sender's own bare JID (RFC 6120 10.3.1). Inbound (to a local
 * user) the type decides:
 *
 *   to a full JID whose session exists   that session, whatever the type
 *   to a full JID with no such session   normal, chat: as to the bare JID;
 *                                        groupchat: service-unavailable;
 *                                        headline, error: dropped
 *   to the bare JID                      normal, chat: the available
 *                                        resources with the highest
 *                                        non-negative priority (all of them
 *                                        when they tie), else offline
 *                                        storage (offline.c);
 *                                        headline: every available resource
 *                                        with non-negative priority, else
 *                                        dropped; groupchat:
 *                                        service-unavailable; error: dropped
 *   to an account that does not exist    service-unavailable (8.5.1),
 *                                        errors dropped
 *
 * RFC 6121 leaves a choice for normal and chat to a bare JID between "the
 * most available resource(s)" and all non-negative resources; the
 * highest-priority set is what clients expect from the priority they set.
 * An unknown type is treated as normal (RFC 6120 8.2.3 names the five).
 */
#include <string.h>

#include "sm.h"

enum msg_type { MT_NORMAL, MT_CHAT, MT_GROUPCHAT, MT_HEADLINE, MT_ERROR };

static const struct {
	const char	*name;
	enum msg_type	 type;
} types[] = {
	{ "chat", MT_CHAT }, { "groupchat", MT_GROUPCHAT }, { "headline", MT_HEADLINE },
	{ "error", MT_ERROR }, { "normal", MT_NORMAL },
};

static enum msg_type
msg_type(const char *t)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].name, t) == 0)
			return types[i].type;
	return MT_NORMAL;
}

int
sm_message_out(struct sm_stanza *s)
{
	if (s->to_absent)
		sb_xml_set_attr(s->arena != NULL ? s->arena : &s->sm->scratch, s->st, "to",
		    s->user->bare);
	sm_route(s->sm, s->st);
	return SM_DONE;
}

/* Normal and chat to the bare JID: the top-priority available resources, or offline. */
static int
to_bare(struct sm_stanza *s)
{
	struct sm_session *x;
	int best = -1;

	for (x = s->user->sessions; x != NULL; x = x->next)
		if (sm_presence_deliverable(x) && x->priority > best)
			best = x->priority;
	if (best < 0)
		return sm_offline_store(s);
	for (x = s->user->sessions; x != NULL; x = x->next)
		if (sm_presence_deliverable(x) && x->priority == best)
			sm_send_session(s->sm, x, s->st);
	return SM_DONE;
}

static int
headline(struct sm_stanza *s)
{
	for (struct sm_session *x = s->user->sessions; x != NULL; x = x->next)
		if (sm_presence_deliverable(x))
			sm_send_session(s->sm, x, s->st);
	return SM_DONE;
}

int
sm_message_in(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	enum msg_type t = msg_type(s->type);

	if (t == MT_ERROR && (u->state != SM_USER_READY || s->to.resource_len == 0))
		return SM_DONE;
	if (u->state == SM_USER_NONE) {
		sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, NULL);
		return SM_DONE;
	}
	if (u->state == SM_USER_FAILED) {
		sm_reply_store_error(s, u->load_err);
		return SM_DONE;
	}
	if (s->to.resource_len > 0) {
		size_t rl;
		const char *res = sb_jid_resource(&s->to, &rl);
		struct sm_session *x = sm_session_by_resource(u, res, rl);

		if (x != NULL) {
			sm_send_session(s->sm, x, s->st);
			return SM_DONE;
		}
		if (t == MT_ERROR || t == MT_HEADLINE)
			return SM_DONE;
	}
	switch (t) {
	case MT_GROUPCHAT:
		sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, NULL);
		return SM_DONE;
	case MT_HEADLINE:
		return headline(s);
	case MT_ERROR:
		return SM_DONE;
	default:
		return to_bare(s);
	}
}
