/*
 * link.c: what comes from the router link, and where it goes.
 *
 *   <route from='c2s1'><session/></route>     a command: a job of the user
 *                                             the envelope's 'to' names
 *   <route from='c2s1' sid='S'>STANZA</route> from a client session: an
 *                                             outbound job of its user
 *   STANZA, or <route>STANZA</route> without sid
 *                                             to a local user (inbound job)
 *                                             or to one of our domains
 *   <announce/>                               other sm shards of our
 *                                             domains (for ownership), c2s
 *                                             links that went away, and the
 *                                             components disco lists
 *
 * The stanza's arena is taken from the link at once (sm->in), so a handler
 * that suspends keeps the tree without a copy. A stanza from a session sm
 * does not know (it ended, or another shard started it before a shard
 * joined) is dropped and its c2s told 'end', so the client logs in again.
 */
#include <stdlib.h>
#include <string.h>

#include "complink.h"
#include "rendezvous.h"
#include "sm.h"
#include "xmalloc.h"

/* Parse a JID attribute into j (buf SB_JID_BUFSIZE); 0, or -1 with why. */
static int
parse_jid(const char *s, struct sb_jid *j, char *buf, const char **why)
{
	if (s == NULL) {
		*why = "no address";
		return -1;
	}
	return sb_jid_parse(j, buf, SB_JID_BUFSIZE, s, strlen(s), why);
}

static void
inbound(struct sm *sm, struct sb_xml_node *st)
{
	char tbuf[SB_JID_BUFSIZE], fbuf[SB_JID_BUFSIZE];
	struct sm_stanza s = {
		.sm = sm, .dir = SM_IN, .st = st, .arena = &sm->in,
		.arena_kind = SM_ARENA_OWNED,
		.kind = sb_stanza_kind(st), .type = sb_stanza_type(st),
	};
	const char *why, *dom;
	size_t dlen;

	if (parse_jid(sb_xml_attr(st, "from"), &s.from, fbuf, &why) == -1) {
		log_warn("router link: <%s/> with a bad 'from' (%s): dropped", st->e.name, why);
		return;
	}
	if (parse_jid(sb_xml_attr(st, "to"), &s.to, tbuf, &why) == -1) {
		log_info("router link: <%s/> from %s with a bad 'to' (%s)", st->e.name,
		    s.from.str, why);
		sm_reply_error(&s, SB_SERR_JID_MALFORMED, why);
		return;
	}
	dom = sb_jid_domain(&s.to, &dlen);
	if (sm_conf_domain(sm->conf, dom, dlen) == NULL) {
		log_warn("router link: <%s/> from %s to %s, not a domain of ours", st->e.name,
		    s.from.str, s.to.str);
		sm_reply_error(&s, SB_SERR_ITEM_NOT_FOUND, NULL);
		return;
	}
	if (s.kind == SB_STANZA_OTHER) {
		log_info("router link: <%s/> from %s is not a stanza: dropped", st->e.name,
		    s.from.str);
		return;
	}
	if (s.to.local_len == 0)
		sm_dispatch_server(&s);
	else
		sm_submit(sm_user_get(sm, &s.to), &s);
}

static void
from_session(struct sm *sm, const struct sb_xml_node *env, struct sb_xml_node *st)
{
	const char *c2s = sb_xml_attr(env, "from"), *sid = sb_xml_attr(env, "sid"), *why;
	char tbuf[SB_JID_BUFSIZE];
	struct sm_session *sess;
	struct sm_stanza s = {
		.sm = sm, .dir = SM_OUT, .st = st, .arena = &sm->in,
		.arena_kind = SM_ARENA_OWNED, .c2s = c2s, .sid = sid,
		.kind = sb_stanza_kind(st), .type = sb_stanza_type(st),
	};

	if (c2s == NULL || (sess = sm_session_find(sm, c2s, sid)) == NULL) {
		log_debug("session %s of %s: <%s/> for no session here: told to end", sid,
		    c2s ? c2s : "-", st->e.name);
		if (c2s != NULL && !sb_stanza_is_error(st))
			sm_send_command(sm, c2s, "end", sid, NULL, NULL);
		return;
	}
	s.sess = sess;
	s.from = sess->jid;		/* c2s stamped it; the session's is the same */
	if (sb_xml_attr(st, "to") == NULL) {
		s.to = sess->user->jid;
		s.to_absent = 1;
	} else if (parse_jid(sb_xml_attr(st, "to"), &s.to, tbuf, &why) == -1) {
		s.user = sess->user;
		sm_reply_error(&s, SB_SERR_JID_MALFORMED, why);
		return;
	}
	sm_submit(sess->user, &s);
}

static void
command(struct sm *sm, const struct sb_xml_node *env, struct sb_xml_node *el)
{
	char buf[SB_JID_BUFSIZE];
	const char *why, *dom;
	struct sb_jid bare;
	size_t dlen;
	struct sm_stanza s = {
		.sm = sm, .dir = SM_CMD, .st = el, .arena = &sm->in,
		.arena_kind = SM_ARENA_OWNED, .type = "",
		.c2s = sb_xml_attr(env, "from"), .sid = sb_xml_attr(el, "sid"),
	};

	if (sb_stanza_is_error(el))
		return;		/* a command to a c2s that is gone came back */
	if (s.c2s == NULL || s.sid == NULL ||
	    parse_jid(sb_xml_attr(env, "to"), &bare, buf, &why) == -1 ||
	    bare.local_len == 0 || bare.resource_len > 0) {
		log_warn("router link: a session command from %s that names no user: ignored",
		    s.c2s != NULL ? s.c2s : "-");
		return;
	}
	dom = sb_jid_domain(&bare, &dlen);
	if (sm_conf_domain(sm->conf, dom, dlen) == NULL) {
		log_warn("router link: a session command from %s for %s, not ours: ignored",
		    s.c2s, bare.str);
		return;
	}
	sm_submit(sm_user_get(sm, &bare), &s);
}

void
sm_link_stanza(struct sb_complink *l, struct sb_xml_node *st, void *arg)
{
	struct sm *sm = arg;
	struct sb_xml_node *inner;

	sb_complink_take_arena(l, &sm->in);
	if (!sb_xml_is(st, SB_NS_ROUTE, "route"))
		inbound(sm, st);
	else if ((inner = sb_complink_unwrap(st)) == NULL)
		log_info("router link: an empty envelope from %s: dropped",
		    sb_xml_attr(st, "from") ? sb_xml_attr(st, "from") : "-");
	else if (sb_xml_is(inner, SB_NS_SESSION, "session"))
		command(sm, st, inner);
	else if (sb_xml_attr(st, "sid") != NULL)
		from_session(sm, st, inner);
	else
		inbound(sm, inner);	/* e.g. the router's bounce of what we sent a c2s */
	sm_run_ready(sm);
	sb_arena_free(&sm->in);
	sb_arena_reset(&sm->scratch);
}

/* --- other holders of our domains --- */

static void
holder_add(struct sm_domain *d, const char *holder)
{
	for (size_t i = 0; i < d->nholders; i++)
		if (strcmp(d->holders[i], holder) == 0)
			return;
	d->holders = xrealloc(d->holders, (d->nholders + 1) * sizeof(*d->holders));
	d->holder_hashes = xrealloc(d->holder_hashes,
	    (d->nholders + 1) * sizeof(*d->holder_hashes));
	d->holders[d->nholders] = xstrdup(holder);
	d->holder_hashes[d->nholders] = sb_rendezvous_hash(holder, strlen(holder));
	d->nholders++;
}

static void
holder_remove(struct sm_domain *d, const char *holder)
{
	for (size_t i = 0; i < d->nholders; i++) {
		if (strcmp(d->holders[i], holder) == 0) {
			free(d->holders[i]);
			d->holders[i] = d->holders[d->nholders - 1];
			d->holder_hashes[i] = d->holder_hashes[d->nholders - 1];
			d->nholders--;
			return;
		}
	}
}

void
sm_link_announce(struct sb_complink *l, enum sb_complink_event ev, const char *name,
    const char *holder, void *arg)
{
	struct sm *sm = arg;
	struct sm_domain *d;

	if (name == NULL || holder == NULL)
		return;		/* the default route: nothing for sm */
	sm_disco_announce(sm, ev == SB_COMPLINK_BOUND, name, holder);
	d = sm_conf_domain(sm->conf, name, strlen(name));
	if (d != NULL && strcmp(holder, sm->conf->name) != 0) {
		if (ev == SB_COMPLINK_BOUND) {
			log_notice("%s holds %s too: users it now owns move there", holder, name);
			holder_add(d, holder);
			sm_users_rehome(sm);
		} else {
			log_notice("%s no longer holds %s", holder, name);
			holder_remove(d, holder);
		}
	}
	/* A link's first name unbound: the link is gone (c2s1 among them). */
	if (ev == SB_COMPLINK_UNBOUND && strcmp(name, holder) == 0)
		sm_sessions_c2s_gone(sm, holder);
}

void
sm_link_up(struct sb_complink *l, void *arg)
{
	struct sm *sm = arg;

	log_notice("router link up as %s", sb_complink_name(l));
	/* Serving from now on: tell systemd or sbctl (once). */
	sb_proc_ready(&sm->proc);
	sb_status_write(sm->status);
}

static int
end_all(struct sb_hmap_node *n, void *arg)
{
	struct sm_session *s = SB_HMAP_ENTRY(n, struct sm_session, hn);

	sm_submit_internal(s->user, s->c2s, s->sid, "end", NULL);
	return 0;
}

void
sm_link_down(struct sb_complink *l, const char *reason, void *arg)
{
	struct sm *sm = arg;

	log_warn("router link down: %s; ending %zu sessions", reason, sm->nsessions);
	/* c2s ends them too when it hears we are gone; other holders are re-announced. */
	for (size_t i = 0; i < sm->conf->ndomains; i++) {
		struct sm_domain *d = &sm->conf->domains[i];

		while (d->nholders > 0)
			holder_remove(d, d->holders[0]);
	}
	sb_hmap_each(&sm->sessions, end_all, sm);
	sm_disco_forget(sm);
	sm_run_ready(sm);
}
