/*
 * vcard.c: vcard-temp (XEP-0054). A user stores and reads their own
 * vCard; anyone may read a user's vCard (the XEP makes it world-readable);
 * only the user may change it. The <vCard/> element is stored whole as XML
 * text (vcards table), at most <private-size/> bytes of it.
 */
#include <string.h>

#include "iqutil.h"

/*
 * The stored vCard, or its absence, as the answer. Reading one's own with
 * none stored gives an empty <vCard/> (XEP-0054 3.1 allows that or
 * item-not-found; the empty element is what clients handle everywhere).
 * Reading another user's with none stored gives service-unavailable, the
 * answer for a missing account too, so the two look alike (XEP-0054 3.3).
 */
static void
answer(struct sm_stanza *s, const struct sb_store_result *r, int own)
{
	const struct sb_db_value *v;
	struct sb_xml_node *holder, *vcard;

	if (r->err != SB_STORE_OK) {
		sm_reply_store_error(s, r->err);
		return;
	}
	if (r->nrows == 0) {
		if (own)
			sm_reply_result(s, sb_xml_new(s->arena, SB_NS_VCARD, "vCard"));
		else
			sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, NULL);
		return;
	}
	v = sb_store_cell(r, 0, 0);
	holder = sb_xml_new(s->arena, NULL, "stored");
	if (sm_xml_parse_text(s->arena, holder, sb_store_text(r, 0, 0), v->len) != 1 ||
	    !sb_xml_is(holder->e.children, SB_NS_VCARD, "vCard")) {
		log_warn("vcard: the stored vCard of %s does not parse", s->user->bare);
		sm_reply_error(s, SB_SERR_INTERNAL_SERVER_ERROR, NULL);
		return;
	}
	vcard = holder->e.children;
	sb_xml_remove(vcard);
	sm_reply_result(s, vcard);
}

static void
got_own(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;

	answer(s, r, 1);
	sm_resume(s);
}

static void
got_other(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;

	answer(s, r, 0);
	sm_resume(s);
}

static int
fetch(struct sm_stanza *s, sb_store_cb *cb)
{
	struct sb_db_value p[] = { sb_db_int(s->user->account_id) };

	s = sm_suspend(s);
	sb_store_query(s->sm->store, SB_Q_VCARD_GET, p, cb, s);
	return SM_WAIT;
}

static int
get_own(struct sm_stanza *s, struct sb_xml_node *payload)
{
	return fetch(s, got_own);
}

static int
get_other(struct sm_stanza *s, struct sb_xml_node *payload)
{
	/* An account that does not exist is answered by the dispatcher (RFC 6121 8.5.1). */
	return fetch(s, got_other);
}

/*
 * The whole element replaces the stored one (XEP-0054 has no partial
 * update). Too big is not-acceptable: the request can be fixed by the
 * sender, which is what that condition's type 'modify' says.
 */
static int
set_own(struct sm_stanza *s, struct sb_xml_node *vcard)
{
	struct sb_buf text = SB_BUF_INIT;
	size_t max = s->sm->conf->private_max;
	struct sb_db_value p[3];

	sb_xml_write(&text, vcard, NULL);
	if (sb_buf_len(&text) > max) {
		sb_buf_free(&text);
		sm_reply_error(s, SB_SERR_NOT_ACCEPTABLE,
		    sb_arena_printf(s->arena, "a vCard may be at most %zu bytes", max));
		return SM_DONE;
	}
	p[0] = sb_db_int(s->user->account_id);
	p[1] = sb_db_textn(sb_buf_data(&text), sb_buf_len(&text));
	p[2] = sb_db_int(sm_now());
	s = sm_suspend(s);
	sb_store_query(s->sm->store, SB_Q_VCARD_SET, p, sm_reply_stored, s);
	sb_buf_free(&text);	/* the store copied the parameters */
	return SM_WAIT;
}

static const struct sm_iq_handler vcard_iqs[] = {
	{ SB_NS_VCARD, "vCard", SM_IQ_SELF, get_own, set_own },
	/* XEP-0054 3.2: someone else's vCard cannot be set; forbidden, as its example. */
	{ SB_NS_VCARD, "vCard", SM_IQ_ACCOUNT, get_other, sm_iq_forbidden },
	{ NULL },
};

static const char *const vcard_features[] = { SB_NS_VCARD, NULL };

const struct sm_module sm_mod_vcard = {
	.name = "vcard",
	.iqs = vcard_iqs,
	.server_features = vcard_features,
	.account_features = vcard_features,
};
