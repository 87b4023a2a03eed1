/*
 * offline.c: offline messages (XEP-0160).
 *
 * A message that no resource can take (message.c decides) is stored with
 * a XEP-0203 <delay/> saying when the server received it, and the sender
 * hears nothing more: storage is the delivery. A user who already has
 * <offline-messages/> stored, or a server configured with 0, makes the
 * sender get service-unavailable instead (XEP-0160 section 3, RFC 6121
 * 8.5.2.2.1), and so does a database that fails (wait or cancel by the
 * kind of failure). The user's later stanzas wait while the row is
 * written, so stored messages keep their order.
 *
 * Stored messages go to a session as soon as it can take messages sent to
 * the bare JID (the 'deliverable' hook: its initial presence, or a priority
 * raised from negative), in order,
 * and are deleted only once they have been handed to the router link;
 * the count loaded with the user (USER_LOAD) spares the query when there
 * is nothing. The stanza is stored serialized with its namespace declared,
 * so delivery writes the stored bytes into the envelope without parsing
 * them again.
 */
#include <stdio.h>
#include <string.h>

#include "sm.h"

/* --- storing --- */

static void
stored(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;
	struct sm_user *u = s->user;

	if (r->err != SB_STORE_OK) {
		sm_reply_store_error(s, r->err);
	} else if (r->nrows == 0) {
		log_info("user %s: offline storage full (%d): message from %s refused", u->bare,
		    s->sm->conf->offline_max, s->from.len ? s->from.str : "-");
		sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, "offline storage is full");
	} else {
		u->offline_count++;
		s->sm->n_offline++;
	}
	sm_resume(s);
}

int
sm_offline_store(struct sm_stanza *s)
{
	struct sm *sm = s->sm;
	struct sm_user *u = s->user;
	struct sb_xml_node *delay;
	struct sb_db_value p[4];
	char stamp[32];
	int64_t now = sm_now();
	struct sb_buf b = SB_BUF_INIT;

	if (sm->conf->offline_max == 0 || u->offline_count >= sm->conf->offline_max) {
		sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, sm->conf->offline_max == 0 ?
		    NULL : "offline storage is full");
		return SM_DONE;
	}
	/* A lent message is copied here: look nothing up in the old tree after this. */
	s = sm_suspend(s);
	sm_stamp(now, stamp, sizeof(stamp));
	delay = sb_xml_add(s->arena, s->st, SB_NS_DELAY, "delay");
	sb_xml_set_attr(s->arena, delay, "from", u->domain->name);
	sb_xml_set_attr(s->arena, delay, "stamp", stamp);
	sb_xml_add_text(s->arena, delay, "Offline Storage", 15);
	sb_xml_write(&b, s->st, NULL);
	sb_buf_append_char(&b, '\0');
	p[0] = sb_db_int(u->account_id);
	p[1] = sb_db_int(now);
	p[2] = sb_db_text(sb_buf_data(&b));
	p[3] = sb_db_int(sm->conf->offline_max);
	sb_store_query(sm->store, SB_Q_OFFLINE_PUT, p, stored, s);
	sb_buf_free(&b);
	return SM_WAIT;
}

/* --- delivering --- */

static void
dropped(const struct sb_store_result *r, void *arg)
{
	struct sm_user *u = arg;

	if (r->err != SB_STORE_OK)
		log_error("user %s: offline messages delivered but not deleted (%s): they "
		    "will be delivered again", u->bare, sb_store_err_name(r->err));
	sm_user_unref(u);
}

static void
taken(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;
	struct sm_user *u = s->user;
	struct sm_session *sess = s->sess;	/* the session that became available */
	struct sm *sm = s->sm;
	int64_t last = 0;
	size_t sent = 0;

	if (r->err != SB_STORE_OK) {
		log_warn("user %s: offline messages not fetched (%s): kept for the next login",
		    u->bare, sb_store_err_name(r->err));
		sm_resume(s);
		return;
	}
	for (size_t i = 0; i < r->nrows; i++) {
		if (sm_send_session_raw(sm, sess, sb_store_text(r, i, 2)) == -1)
			break;
		last = sb_store_int(r, i, 0);
		sent++;
	}
	if (sent > 0) {
		struct sb_db_value p[2] = { sb_db_int(u->account_id), sb_db_int(last) };

		log_info("user %s: %zu offline messages delivered to %s", u->bare, sent,
		    sess->jid.str);
		sm_user_ref(u);
		sb_store_query(sm->store, SB_Q_OFFLINE_DROP, p, dropped, u);
	}
	u->offline_count = sent < r->nrows ? (int64_t)(r->nrows - sent) : 0;
	sm_resume(s);
}

static void
offline_deliverable(struct sm_stanza *s, struct sm_session *sess)
{
	struct sb_db_value p[1];

	if (s->user->offline_count == 0 || !sm_presence_deliverable(sess))
		return;
	/*
	 * The session cannot go while we wait: its end is a job of this user,
	 * and the user's jobs wait for us.
	 */
	s = sm_suspend(s);
	p[0] = sb_db_int(s->user->account_id);
	sb_store_query(s->sm->store, SB_Q_OFFLINE_TAKE, p, taken, s);
}

static const char *const features[] = { "msgoffline", NULL };

const struct sm_module sm_mod_offline = {
	.name = "offline",
	.server_features = features,
	.deliverable = offline_deliverable,
};
