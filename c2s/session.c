/*
 * session.c: the session protocol between c2s and sm over the router link
 * (docs/ARCHITECTURE.md, "Sessions between c2s and sm").
 *
 * A session id (sid) is "<prefix>-<n>": a random prefix drawn at start-up
 * and a counter, so ids are unique within a process and unlikely to repeat
 * across restarts. Sessions are found by sid in a chained hash of clients.
 *
 *   out: <route to='BARE' from='C2S'><session action='start|end' sid id jid/></route>
 *        <route to='BARE' from='C2S' sid='S'>STANZA</route>
 *   in:  <route to='C2S' from='SM'><session action='started|failed|replaced|end|deleted'
 *        sid='S'/></route>, <route to='C2S' from='SM' sid='S'>STANZA</route>
 *
 * The session element carries id=sid too: an error reply the router makes
 * when no sm is reachable keeps only the element's name and id, and the id
 * tells which bind failed.
 *
 * Where the protocol left a choice:
 *  - A session whose sm holder goes away (the router announces its names
 *    unbound) or whose router link drops is ended with the stream error
 *    <reset/>: the session's state is gone, and the client should log in
 *    again at once (another shard takes the user over); <system-shutdown/>
 *    would tell it this server is going down, which it is not.
 *  - sm's action='end' uses its condition when that is a stream error
 *    name, else <reset/>; 'deleted' ends the stream with <not-authorized/>.
 *  - 'replaced' ends the old stream with <conflict/> and sends no 'end'
 *    back (sm already moved on).
 *  - A stanza for a sid we do not know is dropped and sm is told 'end', so
 *    it forgets a session that went away while the stanza was on its way;
 *    a 'started' for a sid we do not know is answered 'end' likewise.
 *  - A bind waiting for 'started' when a holder of its domain goes away
 *    fails with service-unavailable (its start may have gone to that
 *    holder); the client may bind again.
 *  - An envelope without sid (an error the router made from a client
 *    stanza it could not route) goes to the client whose full JID is the
 *    stanza's 'to'.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "c2s.h"
#include "complink.h"
#include "jid.h"
#include "ns.h"
#include "xmalloc.h"

#define SID_SLOTS_MIN	256
#define SID_STRLEN	32

/* --- the sid table --- */

void
sessions_init(struct c2s *c2s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[4];

	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
		fatal("gnutls_rnd failed");
	for (size_t i = 0; i < sizeof(rnd); i++) {
		c2s->sid_prefix[2 * i] = hex[rnd[i] >> 4];
		c2s->sid_prefix[2 * i + 1] = hex[rnd[i] & 15];
	}
	c2s->sid_prefix[8] = '\0';
	c2s->nsids_slots = SID_SLOTS_MIN;
	c2s->sids = xcalloc(c2s->nsids_slots, sizeof(*c2s->sids));
}

void
sessions_free(struct c2s *c2s)
{
	free(c2s->sids);
	c2s->sids = NULL;
}

static size_t
slot(const struct c2s *c2s, uint64_t sid)
{
	return (size_t)(sid * 0x9e3779b97f4a7c15ULL >> 32) & (c2s->nsids_slots - 1);
}

static void
sid_grow(struct c2s *c2s)
{
	size_t n = c2s->nsids_slots;
	struct client **old = c2s->sids;

	c2s->nsids_slots = n * 2;
	c2s->sids = xcalloc(c2s->nsids_slots, sizeof(*c2s->sids));
	for (size_t i = 0; i < n; i++) {
		struct client *cl = old[i], *next;

		for (; cl != NULL; cl = next) {
			next = cl->sid_next;
			cl->sid_next = c2s->sids[slot(c2s, cl->sid)];
			c2s->sids[slot(c2s, cl->sid)] = cl;
		}
	}
	free(old);
}

static void
sid_insert(struct c2s *c2s, struct client *cl)
{
	if (c2s->nsessions >= 2 * c2s->nsids_slots)
		sid_grow(c2s);
	cl->sid_next = c2s->sids[slot(c2s, cl->sid)];
	c2s->sids[slot(c2s, cl->sid)] = cl;
	c2s->nsessions++;
}

static void
sid_remove(struct c2s *c2s, struct client *cl)
{
	for (struct client **pp = &c2s->sids[slot(c2s, cl->sid)]; *pp != NULL;
	    pp = &(*pp)->sid_next) {
		if (*pp == cl) {
			*pp = cl->sid_next;
			cl->sid_next = NULL;
			c2s->nsessions--;
			return;
		}
	}
}

void
session_sid_format(const struct c2s *c2s, uint64_t sid, char *buf, size_t len)
{
	snprintf(buf, len, "%s-%" PRIx64, c2s->sid_prefix, sid);
}

/* The client whose sid text is s, or NULL. */
static struct client *
sid_find(const struct c2s *c2s, const char *s)
{
	size_t plen = strlen(c2s->sid_prefix);
	uint64_t sid = 0;
	const char *p;

	if (s == NULL || strncmp(s, c2s->sid_prefix, plen) != 0 || s[plen] != '-')
		return NULL;
	for (p = s + plen + 1; *p != '\0'; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;

		if (d < 0 || sid >> 60 != 0)
			return NULL;
		sid = sid << 4 | (uint64_t)d;
	}
	if (p == s + plen + 1 || sid == 0)
		return NULL;
	for (struct client *cl = c2s->sids[slot(c2s, sid)]; cl != NULL; cl = cl->sid_next)
		if (cl->sid == sid)
			return cl;
	return NULL;
}

/* Forget the session, without a word to sm. */
static void
forget(struct client *cl)
{
	if (cl->sid != 0)
		sid_remove(cl->c2s, cl);
	cl->sid = 0;
	cl->sess = SESS_NONE;
	cl->holder = NULL;
}

/* --- writing to sm --- */

/* <session action='...'/> in an envelope to 'to' (a bare JID or an sm name). */
static int
send_session(struct c2s *c2s, const char *to, size_t tolen, const char *action,
    const char *sid, const char *jid)
{
	struct sb_buf *b = &c2s->out;
	int r;

	if (c2s->link == NULL)
		return -1;
	sb_buf_clear(b);
	sb_complink_write_envelope_open(b, to, tolen, sb_complink_name(c2s->link), NULL);
	sb_buf_append_str(b, "<session xmlns='" SB_NS_SESSION "'");
	sb_xml_write_attr(b, "action", action);
	sb_xml_write_attr(b, "sid", sid);
	sb_xml_write_attr(b, "id", sid);
	sb_xml_write_attr(b, "jid", jid);
	sb_buf_append_str(b, "/></route>");
	r = sb_complink_send_raw(c2s->link, sb_buf_data(b), sb_buf_len(b));
	sb_buf_clear(b);
	return r;
}

void
session_start(struct client *cl)
{
	struct c2s *c2s = cl->c2s;
	char sid[SID_STRLEN];

	cl->sid = ++c2s->next_sid;
	sid_insert(c2s, cl);
	cl->sess = SESS_STARTING;
	session_sid_format(c2s, cl->sid, sid, sizeof(sid));
	client_log(cl, SB_LOG_DEBUG, "session %s: start", sid);
	if (send_session(c2s, cl->jid, cl->bare_len, "start", sid, cl->jid) == -1) {
		forget(cl);
		bound_failed(cl, SB_SERR_RESOURCE_CONSTRAINT, "the server is busy");
	}
}

int
session_forward(struct client *cl, const struct sb_xml_node *st)
{
	static const char decl[] = " xmlns='" SB_NS_COMPONENT_ACCEPT "'";
	struct c2s *c2s = cl->c2s;
	struct sb_buf *b = &c2s->out;
	char sid[SID_STRLEN], *p;
	size_t at, n = sizeof(decl) - 1, avail;
	int r;

	if (c2s->link == NULL)
		return -1;
	session_sid_format(c2s, cl->sid, sid, sizeof(sid));
	sb_buf_clear(b);
	sb_complink_write_envelope_open(b, cl->jid, cl->bare_len, sb_complink_name(c2s->link),
	    sid);
	/*
	 * The stanza in the link's content namespace: written with its own
	 * namespace in scope it declares none, and jabber:component:accept is
	 * declared right after its name.
	 */
	at = sb_buf_len(b) + 1 + strlen(st->e.name);
	sb_xml_write(b, st, st->e.ns);
	sb_buf_space(b, n, &avail);
	sb_buf_commit(b, n);
	p = sb_buf_data(b);
	memmove(p + at + n, p + at, sb_buf_len(b) - at - n);
	memcpy(p + at, decl, n);
	sb_buf_append_str(b, "</route>");
	r = sb_complink_send_raw(c2s->link, sb_buf_data(b), sb_buf_len(b));
	sb_buf_clear(b);
	return r;
}

void
session_end(struct client *cl)
{
	char sid[SID_STRLEN];

	register_client_gone(cl);	/* XEP-0077 work finishes without the client */
	if (cl->sid == 0)
		return;
	session_sid_format(cl->c2s, cl->sid, sid, sizeof(sid));
	client_log(cl, SB_LOG_DEBUG, "session %s: end", sid);
	send_session(cl->c2s, cl->jid, cl->bare_len, "end", sid, NULL);
	forget(cl);
}

int
session_delete(struct client *cl)
{
	char sid[SID_STRLEN];

	session_sid_format(cl->c2s, cl->sid, sid, sizeof(sid));
	client_log(cl, SB_LOG_INFO, "session %s: asks to delete the account", sid);
	return send_session(cl->c2s, cl->jid, cl->bare_len, "delete", sid, NULL);
}

/* --- from sm --- */

struct command {
	const char			*action;
	const char			*sid;
	const char			*from;	/* the envelope's: the sm link */
	const struct sb_xml_node	*el;
};

static void
cmd_started(struct client *cl, const struct command *c)
{
	if (cl->sess != SESS_STARTING) {
		client_log(cl, SB_LOG_WARN, "session %s: 'started' from %s for a session "
		    "already started: ignored", c->sid, c->from);
		return;
	}
	cl->holder = sb_arena_strdup(&cl->arena, c->from);
	bound_started(cl, sb_xml_attr(c->el, "jid"));
}

static void
cmd_failed(struct client *cl, const struct command *c)
{
	const char *name = sb_xml_attr(c->el, "condition");
	enum sb_stanza_err cond = SB_SERR_INTERNAL_SERVER_ERROR;

	if (cl->sess != SESS_STARTING) {
		client_log(cl, SB_LOG_WARN, "session %s: 'failed' from %s for a session "
		    "already started: ignored", c->sid, c->from);
		return;
	}
	if (name != NULL)
		sb_stanza_err_parse(name, &cond);
	forget(cl);
	bound_failed(cl, cond, NULL);
}

static void
cmd_replaced(struct client *cl, const struct command *c)
{
	forget(cl);
	client_error(cl, SB_LOG_INFO, SB_STERR_CONFLICT, 0,
	    "replaced by a new session for the same resource");
}

static void
cmd_end(struct client *cl, const struct command *c)
{
	const char *name = sb_xml_attr(c->el, "condition");
	enum sb_stream_err cond = SB_STERR_RESET;

	if (name != NULL)
		sb_stream_err_parse(name, &cond);
	forget(cl);
	client_error(cl, SB_LOG_INFO, cond, 0, "the session manager ended the session");
}

static void
cmd_deleted(struct client *cl, const struct command *c)
{
	/* XEP-0077 cancel: the IQ's result first, then the stream ends. */
	if (cl->delete_id != NULL) {
		c2s_iq_result(cl, cl->delete_id, NULL);
		cl->delete_id = NULL;
	}
	forget(cl);
	client_error(cl, SB_LOG_INFO, SB_STERR_NOT_AUTHORIZED, 0, "the account was deleted");
}

/* XEP-0077 cancel refused by the database: the IQ gets the error, the session goes on. */
static void
cmd_delete_failed(struct client *cl, const struct command *c)
{
	const char *name = sb_xml_attr(c->el, "condition");
	enum sb_stanza_err cond = SB_SERR_INTERNAL_SERVER_ERROR;

	if (cl->delete_id == NULL)
		return;
	if (name != NULL)
		sb_stanza_err_parse(name, &cond);
	c2s_iq_error(cl, cl->delete_id, cond, "the account could not be deleted");
	cl->delete_id = NULL;
}

static const struct {
	const char	*action;
	void		(*fn)(struct client *, const struct command *);
} commands[] = {
	{ "delete-failed", cmd_delete_failed },
	{ "started",	cmd_started },
	{ "failed",	cmd_failed },
	{ "replaced",	cmd_replaced },
	{ "end",	cmd_end },
	{ "deleted",	cmd_deleted },
};

/* The router's error reply to a <session/> we sent: no sm was reachable. */
static void
session_bounced(struct c2s *c2s, const struct sb_xml_node *el)
{
	struct client *cl = sid_find(c2s, sb_xml_attr(el, "id"));
	enum sb_stanza_err cond = SB_SERR_SERVICE_UNAVAILABLE;

	if (cl == NULL || cl->sess != SESS_STARTING)
		return;
	sb_stanza_error_condition(el, &cond);
	forget(cl);
	bound_failed(cl, cond, "no session manager is reachable");
}

/*
 * sm still thinks session sid of jid is here, but its client is gone: an
 * 'end' to the user's bare JID, which reaches the sm shard that owns the
 * user (the envelope's 'from' is that shard's link name, which is no
 * address for a session command).
 */
static void
end_orphan(struct c2s *c2s, const char *jid, const char *sid)
{
	char buf[SB_JID_BUFSIZE];
	struct sb_jid j;
	size_t bare_len;

	if (jid == NULL || sb_jid_parse(&j, buf, sizeof(buf), jid, strlen(jid), NULL) == -1 ||
	    j.local_len == 0) {
		log_debug("session %s: no user JID to end it for", sid);
		return;
	}
	bare_len = sb_jid_bare_len(&j);
	send_session(c2s, j.str, bare_len, "end", sid, NULL);
}

static void
session_command(struct c2s *c2s, const struct sb_xml_node *env, const struct sb_xml_node *el)
{
	struct command c = {
		.action = sb_xml_attr(el, "action"),
		.sid = sb_xml_attr(el, "sid"),
		.from = sb_xml_attr(env, "from"),
		.el = el,
	};
	struct client *cl;

	if (sb_stanza_is_error(el)) {
		session_bounced(c2s, el);
		return;
	}
	if (c.action == NULL || c.from == NULL) {
		log_warn("session: <session/> without action or envelope 'from': ignored");
		return;
	}
	if (strcmp(c.action, "ended") == 0)
		return;		/* the answer to our 'end': nothing left to do */
	if ((cl = sid_find(c2s, c.sid)) == NULL) {
		log_debug("session %s: '%s' from %s for no session here", c.sid ? c.sid : "-",
		    c.action, c.from);
		/* A start that outlived its client (or our patience): undo it. */
		if (strcmp(c.action, "started") == 0 && c.sid != NULL)
			end_orphan(c2s, sb_xml_attr(el, "jid"), c.sid);
		return;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].action, c.action) == 0) {
			client_log(cl, SB_LOG_DEBUG, "session %s: %s from %s", c.sid, c.action,
			    c.from);
			commands[i].fn(cl, &c);
			return;
		}
	}
	client_log(cl, SB_LOG_WARN, "session %s: unknown action '%s' from %s: ignored", c.sid,
	    c.action, c.from);
}

/* An envelope without sid: an error the router made; find its client by full JID. */
static struct client *
client_by_jid(struct c2s *c2s, const char *to)
{
	char buf[SB_JID_BUFSIZE];
	struct sb_jid j;

	if (to == NULL || sb_jid_parse(&j, buf, sizeof(buf), to, strlen(to), NULL) == -1)
		return NULL;
	for (struct client *cl = c2s->clients; cl != NULL; cl = cl->next)
		if (cl->sess == SESS_ACTIVE && strcmp(cl->jid, j.str) == 0)
			return cl;
	return NULL;
}

void
session_link_stanza(struct sb_complink *l, struct sb_xml_node *st, void *arg)
{
	struct c2s *c2s = arg;
	const struct sb_xml_node *inner = sb_complink_unwrap(st);
	const char *sid = sb_xml_attr(st, "sid"), *from = sb_xml_attr(st, "from");
	struct client *cl;

	if (inner == NULL) {
		log_debug("router link: <%s/> that is not an envelope: dropped", st->e.name);
		return;
	}
	if (sb_xml_is(inner, SB_NS_SESSION, "session")) {
		session_command(c2s, st, inner);
		sb_arena_reset(&c2s->scratch);
		return;
	}
	cl = sid != NULL ? sid_find(c2s, sid) : client_by_jid(c2s, sb_xml_attr(inner, "to"));
	if (cl == NULL || cl->sess != SESS_ACTIVE) {
		log_debug("session %s: <%s/> from %s for no active session: dropped",
		    sid != NULL ? sid : "-", inner->e.name, from != NULL ? from : "-");
		/* Tell sm, so it forgets a session that went away meanwhile. */
		if (sid != NULL && cl == NULL && !sb_stanza_is_error(inner))
			end_orphan(c2s, sb_xml_attr(inner, "to"), sid);
		return;
	}
	client_send_node(cl, inner);
}

/* --- the link and the router's announcements --- */

/*
 * End sessions with <reset/>: every one (holder NULL), or those started by
 * holder when it lost name (its own name: it is gone; a domain: that
 * domain's). A bind still waiting for 'started' in a domain that lost a
 * holder may have gone to that holder and never be answered: it fails
 * (service-unavailable) and the client may bind again; a late 'started'
 * is answered 'end'.
 */
static void
end_sessions(struct c2s *c2s, const char *name, const char *holder, const char *why)
{
	for (struct client *cl = c2s->clients; cl != NULL; cl = cl->next) {
		if (cl->sid == 0)
			continue;
		if (holder != NULL && cl->sess == SESS_STARTING) {
			if (strcmp(name, cl->domain->name) == 0) {
				forget(cl);
				bound_failed(cl, SB_SERR_SERVICE_UNAVAILABLE, why);
			}
			continue;
		}
		if (holder != NULL && (cl->holder == NULL || strcmp(cl->holder, holder) != 0 ||
		    (strcmp(name, holder) != 0 && strcmp(name, cl->domain->name) != 0)))
			continue;
		forget(cl);
		client_error(cl, SB_LOG_INFO, SB_STERR_RESET, 0, "%s", why);
	}
}

void
session_link_up(struct sb_complink *l, void *arg)
{
	struct c2s *c2s = arg;

	log_notice("router link up as %s", sb_complink_name(l));
	/* Serving from now on: tell systemd or sbctl (once). */
	sb_proc_ready(&c2s->proc);
	sb_status_write(c2s->status);
}

void
session_link_down(struct sb_complink *l, const char *reason, void *arg)
{
	struct c2s *c2s = arg;

	log_warn("router link down: %s; ending %zu sessions", reason, c2s->nsessions);
	/* sm forgets this process's sessions when it goes: so must we. */
	end_sessions(c2s, NULL, NULL, "the link to the session manager was lost");
}

void
session_link_error(struct sb_complink *l, const char *text, void *arg)
{
	log_debug("router link: %s", text);
}

void
session_link_announce(struct sb_complink *l, enum sb_complink_event ev, const char *name,
    const char *holder, void *arg)
{
	struct c2s *c2s = arg;
	char why[256];

	if (ev != SB_COMPLINK_UNBOUND || name == NULL || holder == NULL)
		return;
	snprintf(why, sizeof(why), "the session manager %s went away", holder);
	end_sessions(c2s, name, holder, why);
}
