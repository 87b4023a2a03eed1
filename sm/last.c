/*
 * last.c: last activity (XEP-0012). To a domain: how long the server has
 * been running. To a user's bare JID: 0 seconds while the user has a
 * session, else how long ago the last session ended, with the status text
 * of the unavailable presence it ended with, shown only to whom may see
 * the user's presence. When a user's last session ends, this module
 * records the time and the status (last_activity table).
 */
#include <string.h>

#include "iqutil.h"

static struct sb_xml_node *
new_query(struct sm_stanza *s, int64_t seconds)
{
	struct sb_xml_node *q = sb_xml_new(s->arena, SB_NS_LAST, "query");

	sb_xml_set_attr(s->arena, q, "seconds",
	    sb_arena_printf(s->arena, "%lld", (long long)(seconds > 0 ? seconds : 0)));
	return q;
}

/* XEP-0012 section 5: the uptime, without character data. */
static int
get_server(struct sm_stanza *s, struct sb_xml_node *payload)
{
	sm_reply_result(s, new_query(s, sm_now() - s->sm->started));
	return SM_DONE;
}

/*
 * Nothing recorded (the account has never logged out since it was made):
 * item-not-found, the account exists but its last activity does not.
 */
static void
got(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;
	struct sb_xml_node *q;
	const struct sb_db_value *status;

	if (r->err != SB_STORE_OK) {
		sm_reply_store_error(s, r->err);
	} else if (r->nrows == 0) {
		sm_reply_error(s, SB_SERR_ITEM_NOT_FOUND, "no logout recorded");
	} else {
		q = new_query(s, sm_now() - sb_store_int(r, 0, 0));
		status = sb_store_cell(r, 0, 1);
		if (status->type != SB_DB_NULL)
			sb_xml_add_text(s->arena, q, sb_store_text(r, 0, 1), status->len);
		sm_reply_result(s, q);
	}
	sm_resume(s);
}

/*
 * XEP-0012 section 3: forbidden to anyone who may not see the user's
 * presence (RFC 6121 8.5.1's service-unavailable for a missing account
 * comes first); seconds='0' while a resource is connected.
 */
static int
get_account(struct sm_stanza *s, struct sb_xml_node *payload)
{
	struct sb_db_value p[1];

	/* A missing account never gets here: the dispatcher answers service-unavailable. */
	if (!sm_iq_sees_presence(s)) {
		sm_reply_error(s, SB_SERR_FORBIDDEN, NULL);
		return SM_DONE;
	}
	if (s->user->sessions != NULL) {
		sm_reply_result(s, new_query(s, 0));
		return SM_DONE;
	}
	p[0] = sb_db_int(s->user->account_id);
	s = sm_suspend(s);
	sb_store_query(s->sm->store, SB_Q_LAST_GET, p, got, s);
	return SM_WAIT;
}

/* --- recording the last logout --- */

/*
 * The status the session ended with: the <status/> of its last presence
 * if that was unavailable (a client that says goodbye); none when the
 * session ended while available (the connection dropped).
 */
static const char *
final_status(struct sm_stanza *s, const struct sm_session *sess, size_t *len)
{
	const struct sb_xml_node *pres = sess->presence, *st;

	if (pres == NULL || strcmp(sb_stanza_type(pres), "unavailable") != 0)
		return NULL;
	if ((st = sb_xml_child(pres, NULL, "status")) == NULL)
		return NULL;
	return sb_xml_text(s->arena, st, len);
}

/* Is s the session command 'action'? */
static int
is_command(const struct sm_stanza *s, const char *action)
{
	const char *a = sb_xml_attr(s->st, "action");

	return s->dir == SM_CMD && sb_xml_is(s->st, SB_NS_SESSION, "session") && a != NULL &&
	    strcmp(a, action) == 0;
}

static void
recorded(const struct sb_store_result *r, void *arg)
{
	/* A failure is logged by the store; the logout still happened. */
	sm_resume(arg);
}

static void
recorded_at_shutdown(const struct sb_store_result *r, void *arg)
{
}

/*
 * The user's last session is ending: record when, and its status. The
 * write holds the user's next job (sm_suspend), so a last-activity query
 * that follows reads it.
 */
static void
last_session_end(struct sm_stanza *s, struct sm_session *sess)
{
	struct sm_user *u = sess->user;
	const struct sm_session *o;
	const char *status;
	size_t len = 0;
	struct sb_db_value p[3];

	for (o = u->sessions; o != NULL; o = o->next)
		if (o != sess)
			return;		/* not the last one */
	/* Replaced by a new session for the same resource: the user stays online. */
	if (is_command(s, "start"))
		return;
	/* A deleted account's rows are gone with it: nothing to record. */
	if (u->state != SM_USER_READY || u->deleted)
		return;
	status = final_status(s, sess, &len);
	p[0] = sb_db_int(u->account_id);
	p[1] = sb_db_int(sm_now());
	p[2] = status != NULL ? sb_db_textn(status, len) : sb_db_null();
	if (s->sm->stopping) {
		/*
		 * Shutdown ends every session: nothing will read this, so no
		 * job waits for it. The store completes it before it closes,
		 * and touches nothing of the user's.
		 */
		sb_store_query(s->sm->store, SB_Q_LAST_SET, p, recorded_at_shutdown, NULL);
		return;
	}
	s = sm_suspend(s);
	sb_store_query(s->sm->store, SB_Q_LAST_SET, p, recorded, s);
}

static const struct sm_iq_handler last_iqs[] = {
	{ SB_NS_LAST, "query", SM_IQ_SERVER, get_server, NULL },
	{ SB_NS_LAST, "query", SM_IQ_SELF | SM_IQ_ACCOUNT, get_account, NULL },
	{ NULL },
};

static const char *const last_features[] = { SB_NS_LAST, NULL };

const struct sm_module sm_mod_last = {
	.name = "last",
	.iqs = last_iqs,
	.server_features = last_features,
	.account_features = last_features,
	.session_end = last_session_end,
};
