/*
 * route.c: where sm's stanzas go.
 *
 * To a session: an envelope to the c2s link that holds it, with the
 * session's sid (the stanza declares jabber:component:accept inside it, so
 * c2s can hand it on as it is).
 *
 * To a JID: a local user this shard owns is handled here, as an inbound
 * job of that user, without going back through the router; a stanza to one
 * of our domains (no localpart) goes to the server's handlers; anything
 * else (other domains, components, users another shard owns) goes to the
 * router. Ownership follows the router's rule: rendezvous hashing of the
 * bare JID over the holders of the domain (rendezvous.h), which link.c
 * keeps from the router's announces.
 *
 * A tree handed to a local user is not copied when the user runs it at
 * once; a message is lent (message.c copes when it must suspend), other
 * stanzas are copied into an arena the handler may adopt, so their nodes
 * stay valid across sm_suspend().
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "complink.h"
#include "rendezvous.h"
#include "sm.h"

int64_t
sm_now(void)
{
	return (int64_t)time(NULL);
}

void
sm_stamp(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int
sm_owns(const struct sm *sm, const struct sm_domain *d, const char *bare, size_t len)
{
	uint64_t kh, mine;

	if (d->nholders == 0)
		return 1;
	kh = sb_rendezvous_hash(bare, len);
	mine = sb_rendezvous_weight(kh, sm->name_hash);
	for (size_t i = 0; i < d->nholders; i++)
		if (sb_rendezvous_weight(kh, d->holder_hashes[i]) > mine)
			return 0;
	return 1;
}

/* A stanza to a session, as a tree or as bytes that declare their namespace. */
static int
session_send(struct sm *sm, struct sm_session *sess, const struct sb_xml_node *st,
    const char *bytes)
{
	struct sb_buf *b = &sm->out;
	int r;

	sb_buf_clear(b);
	sb_complink_write_envelope_open(b, sess->c2s, strlen(sess->c2s), sm->conf->name,
	    sess->sid);
	/* Written with no namespace in scope, the stanza declares its own. */
	if (st != NULL)
		sb_xml_write(b, st, NULL);
	else
		sb_buf_append_str(b, bytes);
	sb_buf_append_str(b, "</route>");
	if ((r = sb_complink_send_raw(sm->link, sb_buf_data(b), sb_buf_len(b))) == -1)
		log_warn("router link: queue full: a stanza for %s dropped", sess->jid.str);
	else
		sm->n_out++;
	sb_buf_clear(b);
	return r;
}

void
sm_send_session(struct sm *sm, struct sm_session *sess, const struct sb_xml_node *st)
{
	session_send(sm, sess, st, NULL);
}

int
sm_send_session_raw(struct sm *sm, struct sm_session *sess, const char *stanza)
{
	return session_send(sm, sess, NULL, stanza);
}

void
sm_send_command(struct sm *sm, const char *c2s, const char *action, const char *sid,
    const char *jid, const char *condition)
{
	struct sb_buf *b = &sm->out;

	sb_buf_clear(b);
	sb_complink_write_envelope_open(b, c2s, strlen(c2s), sm->conf->name, NULL);
	sb_buf_append_str(b, "<session xmlns='" SB_NS_SESSION "'");
	sb_xml_write_attr(b, "action", action);
	sb_xml_write_attr(b, "sid", sid);
	sb_xml_write_attr(b, "id", sid);
	sb_xml_write_attr(b, "jid", jid);
	sb_xml_write_attr(b, "condition", condition);
	sb_buf_append_str(b, "/></route>");
	if (sb_complink_send_raw(sm->link, sb_buf_data(b), sb_buf_len(b)) == -1)
		log_warn("router link: queue full: session '%s' for %s of %s dropped", action,
		    sid, c2s);
	sb_buf_clear(b);
}

static void
to_router(struct sm *sm, const struct sb_xml_node *st)
{
	if (sb_complink_send(sm->link, st) == -1)
		log_warn("router link: queue full: <%s/> to %s dropped", st->e.name,
		    sb_xml_attr(st, "to"));
	else
		sm->n_out++;
}

void
sm_route(struct sm *sm, struct sb_xml_node *st)
{
	const char *to = sb_xml_attr(st, "to"), *from = sb_xml_attr(st, "from"), *why;
	char tbuf[SB_JID_BUFSIZE], fbuf[SB_JID_BUFSIZE];
	struct sm_stanza s = { .sm = sm, .dir = SM_IN, .st = st };
	struct sm_domain *d;
	struct sb_arena own;
	size_t dlen;
	const char *dom;

	if (to == NULL || sb_jid_parse(&s.to, tbuf, sizeof(tbuf), to, strlen(to), &why) == -1) {
		log_warn("<%s/> from %s to '%s' (%s): dropped", st->e.name, from ? from : "-",
		    to ? to : "", to ? why : "no address");
		return;
	}
	dom = sb_jid_domain(&s.to, &dlen);
	d = sm_conf_domain(sm->conf, dom, dlen);
	if (d == NULL || (s.to.local_len > 0 &&
	    !sm_owns(sm, d, s.to.str, sb_jid_bare_len(&s.to)))) {
		to_router(sm, st);
		return;
	}
	if (from != NULL && sb_jid_parse(&s.from, fbuf, sizeof(fbuf), from, strlen(from),
	    NULL) == -1)
		s.from.len = 0;
	s.kind = sb_stanza_kind(st);
	s.type = sb_stanza_type(st);
	sm->n_local++;
	if (s.kind == SB_STANZA_MESSAGE && s.to.local_len > 0) {
		s.arena = NULL;
		s.arena_kind = SM_ARENA_BORROWED;
		sm_submit(sm_user_get(sm, &s.to), &s);
		return;
	}
	sb_arena_init(&own, 0);
	s.arena = &own;
	s.arena_kind = SM_ARENA_OWNED;
	s.st = sb_xml_copy(&own, st);
	s.type = sb_stanza_type(s.st);
	if (s.to.local_len > 0)
		sm_submit(sm_user_get(sm, &s.to), &s);
	else
		sm_dispatch_server(&s);
	sb_arena_free(&own);
}

/* Replies to a stanza from a session go straight back to it. */
static void
reply_send(struct sm_stanza *s, struct sb_xml_node *reply)
{
	if (s->dir == SM_OUT && s->sess != NULL)
		sm_send_session(s->sm, s->sess, reply);
	else
		sm_route(s->sm, reply);
}

/* The arena to build a reply in: the stanza's, or tmp when it has none (lent). */
static struct sb_arena *
reply_arena(struct sm_stanza *s, struct sb_arena *tmp)
{
	if (s->arena != NULL)
		return s->arena;
	sb_arena_init(tmp, 0);
	return tmp;
}

void
sm_reply_error(struct sm_stanza *s, enum sb_stanza_err cond, const char *text)
{
	struct sb_arena tmp, *a = reply_arena(s, &tmp);
	struct sb_xml_node *reply;

	if ((reply = sb_stanza_error_reply(a, s->st, cond, text)) != NULL) {
		s->sm->n_bounced++;
		reply_send(s, reply);
	}
	if (a == &tmp)
		sb_arena_free(&tmp);
}

void
sm_reply_store_error(struct sm_stanza *s, enum sb_store_err err)
{
	sm_reply_error(s, sb_store_err_is_transient(err) ? SB_SERR_RESOURCE_CONSTRAINT :
	    SB_SERR_INTERNAL_SERVER_ERROR, NULL);
}

void
sm_reply_result(struct sm_stanza *s, struct sb_xml_node *payload)
{
	struct sb_arena tmp, *a = reply_arena(s, &tmp);
	struct sb_xml_node *reply = sb_stanza_iq_result(a, s->st);

	if (payload != NULL) {
		if (payload->parent != NULL)
			sb_xml_remove(payload);
		sb_xml_append(reply, payload);
	}
	reply_send(s, reply);
	if (a == &tmp)
		sb_arena_free(&tmp);
}

void
sm_reply_stored(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;

	if (r->err != SB_STORE_OK)
		sm_reply_store_error(s, r->err);
	else
		sm_reply_result(s, NULL);
	sm_resume(s);
}
