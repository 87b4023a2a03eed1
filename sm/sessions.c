/*
 * sessions.c: sm's side of the session protocol with c2s
 * (docs/ARCHITECTURE.md, "Sessions between c2s and sm").
 *
 * Commands arrive as jobs of the user they concern, so they are ordered
 * with the user's stanzas: a session exists from its 'start' job to its
 * 'end' job, and a stanza queued behind an 'end' finds no session and is
 * dropped. Sessions are found by "c2s sid" (the c2s link's name and its
 * session id) in one table, and by resource in the user's short list.
 *
 *   start    the account must exist and not be disabled; a session with the
 *            same full JID is replaced (c2s ends it with <conflict/>);
 *            answered 'started', or 'failed' with a stanza error condition
 *   end      the session goes (presence.c broadcasts unavailable); no answer
 *   delete   XEP-0077 cancel: the account is deleted, then its contacts are
 *            told (presence, roster), then 'deleted' goes to the session
 *            that asked and 'end' to the others; 'delete-failed' when the
 *            database refused
 * and, made by sm itself (never accepted from a c2s):
 *   end      c2s went away: as if it had sent 'end'
 *   kick     end the session and tell c2s 'end' with a condition (shard
 *            rehoming, shutdown)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm.h"

#include "xmalloc.h"

/* First block of a session's presence arena (presence.c sizes it to the presence it keeps). */
#define SM_PRESENCE_ARENA	256

/* --- the table --- */

static const char *
key_format(struct sb_buf *b, const char *c2s, const char *sid)
{
	sb_buf_clear(b);
	sb_buf_append_str(b, c2s);
	sb_buf_append_char(b, ' ');
	sb_buf_append_str(b, sid);
	sb_buf_append_char(b, '\0');
	return sb_buf_data(b);
}

struct sm_session *
sm_session_find(struct sm *sm, const char *c2s, const char *sid)
{
	char stack[128];
	size_t cl = strlen(c2s), sl = strlen(sid);
	struct sb_hmap_node *n;
	char *key = cl + sl + 2 <= sizeof(stack) ? stack : xmalloc(cl + sl + 2);

	memcpy(key, c2s, cl);
	key[cl] = ' ';
	memcpy(key + cl + 1, sid, sl + 1);
	n = sb_hmap_find(&sm->sessions, key, cl + 1 + sl);
	if (key != stack)
		free(key);
	return n != NULL ? SB_HMAP_ENTRY(n, struct sm_session, hn) : NULL;
}

struct sm_session *
sm_session_by_resource(struct sm_user *u, const char *res, size_t len)
{
	for (struct sm_session *s = u->sessions; s != NULL; s = s->next) {
		size_t rl;
		const char *r = sb_jid_resource(&s->jid, &rl);

		if (rl == len && memcmp(r, res, len) == 0)
			return s;
	}
	return NULL;
}

static struct sm_session *
session_new(struct sm_user *u, const char *c2s, const char *sid, const struct sb_jid *jid)
{
	struct sm *sm = u->sm;
	struct sm_session *s = xcalloc(1, sizeof(*s));
	struct sb_buf b = SB_BUF_INIT;
	const char *key = key_format(&b, c2s, sid);

	/* The session's names, kept for its life: one block of their size. */
	sb_arena_init(&s->arena, sb_arena_round(strlen(key) + 1) +
	    sb_arena_round(strlen(c2s) + 1) + sb_arena_round(strlen(sid) + 1) +
	    sb_arena_round((size_t)jid->len + 1));
	sb_arena_init(&s->pres_arena, SM_PRESENCE_ARENA);
	s->user = u;
	s->key = sb_arena_strdup(&s->arena, key);
	sb_buf_free(&b);
	s->c2s = sb_arena_strdup(&s->arena, c2s);
	s->sid = sb_arena_strdup(&s->arena, sid);
	sb_jid_copy_arena(&s->jid, &s->arena, jid);
	s->started = sm_now();
	sb_hmap_insert(&sm->sessions, &s->hn, s->key, strlen(s->key));
	s->next = u->sessions;
	u->sessions = s;
	u->nsessions++;
	sm->nsessions++;
	return s;
}

/* Unlink and free, without hooks. */
static void
session_free(struct sm_session *sess)
{
	struct sm_user *u = sess->user;
	struct sm *sm = u->sm;

	for (struct sm_session **pp = &u->sessions; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == sess) {
			*pp = sess->next;
			break;
		}
	}
	u->nsessions--;
	sm->nsessions--;
	sb_hmap_remove(&sm->sessions, &sess->hn);
	sb_arena_free(&sess->pres_arena);
	sb_arena_free(&sess->arena);
	free(sess);
	sm_user_idle_check(u);
}

/* Run the session_end hooks with s as their context, then free the session. */
static void
session_end(struct sm_stanza *s, struct sm_session *sess)
{
	struct sm_session *keep = s->sess;

	s->sess = sess;
	SM_HOOK(session_end, s, sess);
	s->sess = keep == sess ? NULL : keep;
	if (sess->user->nsessions == 1)
		sess->user->last_seen = sm_now();
	session_free(sess);
}

void
sm_session_remove(struct sm_session *sess)
{
	struct sb_arena a;
	struct sm_stanza s;

	sb_arena_init(&a, 0);
	sm_command_init(&s, sess->user->sm, &a, sess->c2s, sess->sid, "end", NULL);
	s.user = sess->user;
	session_end(&s, sess);
	sb_arena_free(&a);
}

void
sm_session_kick(struct sm_session *sess, const char *condition)
{
	sm_send_command(sess->user->sm, sess->c2s, "end", sess->sid, NULL, condition);
	sm_session_remove(sess);
}

/* --- commands --- */

static void
failed(struct sm_stanza *s, const char *sid, enum sb_stanza_err cond)
{
	sm_send_command(s->sm, s->c2s, "failed", sid, NULL, sb_stanza_err_name(cond));
}

static int
cmd_start(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	const char *sid = sb_xml_attr(s->st, "sid"), *jtext = sb_xml_attr(s->st, "jid");
	char buf[SB_JID_BUFSIZE];
	struct sm_session *old, *sess;
	struct sb_jid jid;
	size_t rl;
	const char *res;

	if (jtext == NULL || sb_jid_parse(&jid, buf, sizeof(buf), jtext, strlen(jtext),
	    NULL) == -1 || jid.resource_len == 0 || !sb_jid_eq_bare(&jid, &u->jid)) {
		log_warn("session %s from %s: start with a bad jid '%s': refused", sid, s->c2s,
		    jtext != NULL ? jtext : "");
		failed(s, sid, SB_SERR_BAD_REQUEST);
		return SM_DONE;
	}
	switch (u->state) {
	case SM_USER_NONE:
		log_info("session %s: %s has no account (deleted?): refused", sid, jtext);
		failed(s, sid, SB_SERR_NOT_AUTHORIZED);
		return SM_DONE;
	case SM_USER_FAILED:
		failed(s, sid, sb_store_err_is_transient(u->load_err) ?
		    SB_SERR_RESOURCE_CONSTRAINT : SB_SERR_INTERNAL_SERVER_ERROR);
		return SM_DONE;
	default:
		break;
	}
	if (u->disabled) {
		log_info("session %s: %s is disabled: refused", sid, jtext);
		failed(s, sid, SB_SERR_NOT_ALLOWED);
		return SM_DONE;
	}
	if ((sess = sm_session_find(s->sm, s->c2s, sid)) != NULL) {
		/* A start repeated (c2s retried): the session is already there. */
		sm_send_command(s->sm, s->c2s, "started", sid, sess->jid.str, NULL);
		return SM_DONE;
	}
	res = sb_jid_resource(&jid, &rl);
	if ((old = sm_session_by_resource(u, res, rl)) != NULL) {
		log_info("session %s: %s replaces session %s of %s", sid, jtext, old->sid,
		    old->c2s);
		sm_send_command(s->sm, old->c2s, "replaced", old->sid, NULL, NULL);
		session_end(s, old);
	}
	sess = session_new(u, s->c2s, sid, &jid);
	s->sess = sess;
	SM_HOOK(session_start, s, sess);
	sm_send_command(s->sm, s->c2s, "started", sid, sess->jid.str, NULL);
	log_debug("session %s of %s: %s started", sid, s->c2s, sess->jid.str);
	return SM_DONE;
}

static int
cmd_end(struct sm_stanza *s)
{
	if (s->sess == NULL)
		return SM_DONE;
	log_debug("session %s of %s: %s ended", s->sess->sid, s->c2s, s->sess->jid.str);
	session_end(s, s->sess);
	return SM_DONE;
}

static int
cmd_kick(struct sm_stanza *s)
{
	const char *cond = sb_xml_attr(s->st, "condition");

	if (s->sess == NULL)
		return SM_DONE;
	sm_send_command(s->sm, s->c2s, "end", s->sess->sid, NULL, cond);
	session_end(s, s->sess);
	return SM_DONE;
}

static void
deleted(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;
	struct sm_user *u = s->user;

	if (r->err != SB_STORE_OK) {
		log_warn("user %s: deleting the account failed (%s)", u->bare,
		    sb_store_err_name(r->err));
		if (s->sess != NULL)
			sm_send_command(s->sm, s->c2s, "delete-failed", s->sid, NULL,
			    sb_stanza_err_name(sb_store_err_is_transient(r->err) ?
			    SB_SERR_RESOURCE_CONSTRAINT : SB_SERR_INTERNAL_SERVER_ERROR));
		sm_resume(s);
		return;
	}
	log_notice("user %s: account deleted (XEP-0077, asked by %s)", u->bare,
	    s->sess != NULL ? s->sess->jid.str : "a session that is gone");
	/*
	 * Contacts first learn the user is gone (unavailable from every
	 * session), then lose their subscriptions (roster.c), while the
	 * roster is still in memory; then the sessions end.
	 */
	u->deleted = 1;
	for (struct sm_session *x = u->sessions; x != NULL; x = x->next) {
		struct sm_session *keep = s->sess;

		s->sess = x;
		SM_HOOK(session_end, s, x);
		s->sess = keep;
	}
	SM_HOOK(account_delete, s);
	while (u->sessions != NULL) {
		struct sm_session *x = u->sessions;

		if (x == s->sess)
			sm_send_command(s->sm, x->c2s, "deleted", x->sid, NULL, NULL);
		else
			sm_send_command(s->sm, x->c2s, "end", x->sid, NULL, "not-authorized");
		session_free(x);
	}
	s->sess = NULL;
	sm_roster_free(&u->roster);
	u->state = SM_USER_NONE;
	u->offline_count = 0;
	sm_resume(s);
}

static int
cmd_delete(struct sm_stanza *s)
{
	struct sb_db_value p[2];

	if (s->sess == NULL || s->user->state != SM_USER_READY)
		return SM_DONE;
	s = sm_suspend(s);
	p[0] = sb_db_text(s->user->domain->name);
	p[1] = sb_db_text(s->user->local);
	sb_store_query(s->sm->store, SB_Q_ACCOUNT_DELETE, p, deleted, s);
	return SM_WAIT;
}

static const struct {
	const char	*action;
	int		 internal;	/* made by sm only */
	int		(*fn)(struct sm_stanza *);
} commands[] = {
	{ "start",	0, cmd_start },
	{ "end",	0, cmd_end },
	{ "delete",	0, cmd_delete },
	{ "kick",	1, cmd_kick },
};

int
sm_session_command(struct sm_stanza *s)
{
	const char *action = sb_xml_attr(s->st, "action"), *sid = sb_xml_attr(s->st, "sid");

	if (action == NULL || sid == NULL || s->c2s == NULL) {
		log_warn("session command without action, sid or c2s from %s: ignored",
		    s->c2s != NULL ? s->c2s : "-");
		return SM_DONE;
	}
	if (s->sid == NULL)
		s->sid = sid;
	if (s->sess == NULL)
		s->sess = sm_session_find(s->sm, s->c2s, sid);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].action, action) == 0 &&
		    (!commands[i].internal || s->internal))
			return commands[i].fn(s);
	log_warn("session %s from %s: unknown action '%s': ignored", sid, s->c2s, action);
	return SM_DONE;
}

/* --- a c2s went away --- */

struct gone {
	struct sm	*sm;
	const char	*c2s;
	struct sm_session **list;
	size_t		 n, cap;
};

static int
collect(struct sb_hmap_node *n, void *arg)
{
	struct gone *g = arg;
	struct sm_session *s = SB_HMAP_ENTRY(n, struct sm_session, hn);

	if (strcmp(s->c2s, g->c2s) != 0)
		return 0;
	if (g->n == g->cap) {
		g->cap = g->cap ? 2 * g->cap : 64;
		g->list = xrealloc(g->list, g->cap * sizeof(*g->list));
	}
	g->list[g->n++] = s;
	return 0;
}

void
sm_sessions_c2s_gone(struct sm *sm, const char *c2s)
{
	struct gone g = { .sm = sm, .c2s = c2s };

	sb_hmap_each(&sm->sessions, collect, &g);
	if (g.n > 0)
		log_notice("%s went away: ending its %zu sessions", c2s, g.n);
	/* As jobs, so each ends in order with its user's other work. */
	for (size_t i = 0; i < g.n; i++)
		sm_submit_internal(g.list[i]->user, g.list[i]->c2s, g.list[i]->sid, "end", NULL);
	free(g.list);
	sm_run_ready(sm);
}
