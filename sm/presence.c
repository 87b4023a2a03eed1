/*
 * presence.c: presence (RFC 6121 section 4) and presence to local
 * accounts (section 8.5). Subscription types go to subscription.c.
 *
 * Outbound, from a session:
 *   no 'to', available     initial presence (the session was not available):
 *                          probes to the contacts the user is subscribed to,
 *                          the presence to the contacts subscribed to the
 *                          user and to the user's available sessions (the
 *                          sender too), the other sessions' presence to the
 *                          new one, then the 'available' hook (pending
 *                          requests, offline messages); later ones: the
 *                          same broadcast without the rest (4.4.2)
 *   no 'to', unavailable   the broadcast, and unavailable to everyone who
 *                          got directed presence and not the broadcast (4.5.2)
 *   'to', available or     directed presence (4.6): routed, and the address
 *   unavailable            remembered (or forgotten) for the unavailable
 *   'to', probe or error   routed
 * A session that ends without unavailable is treated as if it had sent one
 * (the session_end hook). The session keeps its last broadcast presence
 * (without 'to': the available one while sess->available, else the
 * unavailable one its client sent, or none) and the directed addresses in
 * its pres_arena, rebuilt when they change so a long session does not
 * grow it.
 *
 * Inbound, to a local user:
 *   available, unavailable to the full JID's session if there is one, else
 *                          dropped; to the bare JID: every available session
 *   probe                  a contact subscribed to the user gets each
 *                          available session's last presence; anyone else
 *                          unsubscribed (4.3.2)
 *   error                  to the full JID's session; a contact that answers
 *                          the user's presence with an error gets no more
 *                          broadcasts until it sends presence again (4.2.2)
 *   to an account that does not exist: a probe is answered unsubscribed,
 *   the rest dropped (8.5.1).
 *
 * Where RFC 6121 leaves a choice: a probe for a user with no available
 * session gets no answer (4.3.2 option b, nothing kept of the last
 * unavailable presence); a <priority/> that is not an integer in -128..127
 * is refused with bad-request, and so is a presence type RFC 6120 does not
 * define; probes go out on every initial presence, from the user's bare
 * JID, so a second session also learns its contacts' presence; presence
 * errors to the bare JID are dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "roster.h"
#include "xmalloc.h"

/* First block of a session's presence arena that starts with nothing in it. */
#define PRES_ARENA_EMPTY	256

/* --- contacts whose server answered with an error (4.2.2) --- */

/*
 * Kept per user and contact, outside the roster (sm_roster_item has no
 * bit for it): key "user's bare JID NUL contact's bare JID".
 */
struct pres_error {
	struct sb_hmap_node	 hn;
	const struct sm_user	*u;
	char			 key[];
};

static struct sb_hmap errors;

static size_t
error_key(char *buf, const struct sm_user *u, const char *contact, size_t clen)
{
	size_t ul = strlen(u->bare);

	memcpy(buf, u->bare, ul + 1);
	memcpy(buf + ul + 1, contact, clen);
	return ul + 1 + clen;
}

static struct pres_error *
error_find(const struct sm_user *u, const char *contact, size_t clen)
{
	char key[2 * SB_JID_BUFSIZE];
	struct sb_hmap_node *n;

	if (errors.slots == NULL || errors.count == 0)
		return NULL;
	n = sb_hmap_find(&errors, key, error_key(key, u, contact, clen));
	return n != NULL ? SB_HMAP_ENTRY(n, struct pres_error, hn) : NULL;
}

static void
error_mark(const struct sm_user *u, const char *contact, size_t clen)
{
	struct pres_error *e;
	size_t len;

	if (error_find(u, contact, clen) != NULL)
		return;
	if (errors.slots == NULL)
		sb_hmap_init(&errors);
	e = xcalloc(1, sizeof(*e) + strlen(u->bare) + 1 + clen);
	e->u = u;
	len = error_key(e->key, u, contact, clen);
	sb_hmap_insert(&errors, &e->hn, e->key, len);
}

static void
error_clear(const struct sm_user *u, const char *contact, size_t clen)
{
	struct pres_error *e = error_find(u, contact, clen);

	if (e != NULL) {
		sb_hmap_remove(&errors, &e->hn);
		free(e);
	}
}

static int
error_drop(struct sb_hmap_node *n, void *arg)
{
	struct pres_error *e = SB_HMAP_ENTRY(n, struct pres_error, hn);

	if (arg == NULL || e->u == arg) {
		sb_hmap_remove(&errors, n);
		free(e);
	}
	return 0;
}

static void
pres_user_free(struct sm_user *u)
{
	if (errors.slots != NULL && errors.count > 0)
		sb_hmap_each(&errors, error_drop, u);
}

static void
pres_fini(struct sm *sm)
{
	if (errors.slots != NULL) {
		sb_hmap_each(&errors, error_drop, NULL);
		sb_hmap_free(&errors);
	}
}

/* --- what a session keeps --- */

/*
 * Rebuild the session's presence arena holding presence (without 'to'; NULL:
 * none) and, when keep, the directed addresses but 'drop'.
 */
static void
pres_set(struct sm_session *sess, const struct sb_xml_node *presence, int keep,
    const char *drop)
{
	struct sm_directed *list = NULL, **tail = &list;
	size_t size = presence != NULL ? sb_xml_copy_size(presence) : 0;
	struct sb_arena a;

	/* Kept for the session's life: one block the size of what it holds. */
	for (const struct sm_directed *d = sess->directed; keep && d != NULL; d = d->next)
		size += sb_arena_round(sizeof(*d)) + sb_arena_round(strlen(d->jid) + 1);
	sb_arena_init(&a, size > 0 ? size : PRES_ARENA_EMPTY);
	for (const struct sm_directed *d = sess->directed; keep && d != NULL; d = d->next) {
		struct sm_directed *n;

		if (drop != NULL && strcmp(d->jid, drop) == 0)
			continue;
		n = sb_arena_zalloc(&a, sizeof(*n));
		n->jid = sb_arena_strdup(&a, d->jid);
		*tail = n;
		tail = &n->next;
	}
	sess->presence = NULL;
	if (presence != NULL) {
		sess->presence = sb_xml_copy(&a, presence);
		sb_xml_set_attr(&a, sess->presence, "to", NULL);
	}
	sb_arena_free(&sess->pres_arena);
	sess->pres_arena = a;
	sess->directed = list;
}

static int
directed_has(const struct sm_session *sess, const char *jid)
{
	for (const struct sm_directed *d = sess->directed; d != NULL; d = d->next)
		if (strcmp(d->jid, jid) == 0)
			return 1;
	return 0;
}

static void
directed_add(struct sm_session *sess, const char *jid)
{
	struct sm_directed *d;

	if (directed_has(sess, jid))
		return;
	d = sb_arena_zalloc(&sess->pres_arena, sizeof(*d));
	d->jid = sb_arena_strdup(&sess->pres_arena, jid);
	d->next = sess->directed;
	sess->directed = d;
}

int
sm_presence_deliverable(const struct sm_session *sess)
{
	return sess->available && sess->priority >= 0;
}

/* --- sending --- */

static struct sb_arena *
arena_of(struct sm_stanza *s)
{
	return s->arena != NULL ? s->arena : &s->sm->scratch;
}

static struct sb_xml_node *
presence_new(struct sb_arena *a, const char *type, const char *from)
{
	struct sb_xml_node *p = sb_xml_new(a, SB_NS_COMPONENT_ACCEPT, "presence");

	if (type != NULL)
		sb_xml_set_attr(a, p, "type", type);
	sb_xml_set_attr(a, p, "from", from);
	return p;
}

/* Does the contact get the user's broadcasts (subscribed, and no error since)? */
static int
gets_broadcast(const struct sm_user *u, const struct sm_roster_item *it)
{
	return it->in_roster && (it->sub & SM_SUB_FROM) &&
	    error_find(u, it->jid, strlen(it->jid)) == NULL;
}

/* st to every contact with the subscription bits 'sub' (and broadcasts allowed). */
static void
to_contacts(struct sm_user *u, struct sb_arena *a, struct sb_xml_node *st, unsigned sub)
{
	for (size_t i = 0; i < u->roster.items.nslots; i++) {
		for (struct sb_hmap_node *n = u->roster.items.slots[i]; n != NULL; n = n->next) {
			const struct sm_roster_item *it =
			    SB_HMAP_ENTRY(n, struct sm_roster_item, hn);

			if (!it->in_roster || !(it->sub & sub) ||
			    (sub == SM_SUB_FROM && !gets_broadcast(u, it)))
				continue;
			sb_xml_set_attr(a, st, "to", it->jid);
			sm_route(u->sm, st);
		}
	}
}

/* st to the user's available sessions, 'but' excepted. */
static void
to_sessions(struct sm_user *u, struct sb_arena *a, struct sb_xml_node *st,
    const struct sm_session *but)
{
	for (struct sm_session *x = u->sessions; x != NULL; x = x->next) {
		if (!x->available || x == but)
			continue;
		sb_xml_set_attr(a, st, "to", x->jid.str);
		sm_send_session(u->sm, x, st);
	}
}

void
sm_presence_to_contact(struct sm_user *u, const char *contact, int available)
{
	struct sb_arena a;

	/* A new subscription starts afresh after an old error. */
	if (available)
		error_clear(u, contact, strlen(contact));
	sb_arena_init(&a, 0);
	for (struct sm_session *x = u->sessions; x != NULL; x = x->next) {
		struct sb_xml_node *p;

		if (!x->available || (available && x->presence == NULL))
			continue;
		p = available ? sb_xml_copy(&a, x->presence) : presence_new(&a, "unavailable",
		    x->jid.str);
		sb_xml_set_attr(&a, p, "from", x->jid.str);
		sb_xml_set_attr(&a, p, "to", contact);
		sm_route(u->sm, p);
	}
	sb_arena_free(&a);
}

/* The canonical bare JID that a canonical JID starts with. */
static size_t
bare_len(const char *jid)
{
	const char *slash = strchr(jid, '/');

	return slash != NULL ? (size_t)(slash - jid) : strlen(jid);
}

/*
 * The session becomes unavailable with st: the broadcast if it was
 * available (from_client: to the session itself too), and st to each
 * directed address the broadcast missed (4.5.2, 4.6.3). The session then
 * keeps the unavailable presence its client sent as its last one (last.c
 * reads its status); one made for a session that just went keeps nothing.
 */
static void
go_unavailable(struct sm_user *u, struct sm_session *sess, struct sb_arena *a,
    struct sb_xml_node *st, int from_client)
{
	sb_xml_set_attr(a, st, "from", sess->jid.str);
	if (sess->available) {
		to_contacts(u, a, st, SM_SUB_FROM);
		to_sessions(u, a, st, from_client ? NULL : sess);
	}
	for (const struct sm_directed *d = sess->directed; d != NULL; d = d->next) {
		const struct sm_roster_item *it = sm_roster_find(u, d->jid, bare_len(d->jid));

		if (sess->available && it != NULL && bare_len(d->jid) == strlen(d->jid) &&
		    gets_broadcast(u, it))
			continue;
		sb_xml_set_attr(a, st, "to", d->jid);
		sm_route(u->sm, st);
	}
	if (from_client)
		pres_set(sess, st, 0, NULL);
	else
		pres_set(sess, sess->available ? NULL : sess->presence, 0, NULL);
	sess->available = 0;
	sess->priority = 0;
}

static void
pres_session_end(struct sm_stanza *s, struct sm_session *sess)
{
	struct sb_arena a;

	if (!sess->available && sess->directed == NULL)
		return;
	sb_arena_init(&a, 0);
	go_unavailable(sess->user, sess, &a, presence_new(&a, "unavailable", sess->jid.str), 0);
	sb_arena_free(&a);
}

/* --- outbound --- */

/* <priority/>: an integer in -128..127, 0 when absent (4.7.2.3); -1 when invalid. */
static int
priority_of(struct sb_arena *a, const struct sb_xml_node *st, int *prio)
{
	const struct sb_xml_node *p = sb_xml_child(st, st->e.ns, "priority");
	const char *t;
	char *end;
	long v;
	size_t len;

	*prio = 0;
	if (p == NULL)
		return 0;
	t = sb_xml_text(a, p, &len);
	while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
		t++;
	if (*t == '\0')
		return -1;
	v = strtol(t, &end, 10);
	while (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r')
		end++;
	if (*end != '\0' || v < -128 || v > 127)
		return -1;
	*prio = (int)v;
	return 0;
}

/* 4.2.2, 4.4.2: presence without 'to'. */
static int
broadcast(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	struct sm_session *sess = s->sess;
	struct sb_arena *a = arena_of(s);
	struct sb_xml_node *st = s->st, *probe;
	int prio, was, initial = !sess->available;

	if (priority_of(a, st, &prio) == -1) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, "the priority is an integer from -128 "
		    "to 127");
		return SM_DONE;
	}
	sb_xml_set_attr(a, st, "from", sess->jid.str);
	pres_set(sess, st, 1, NULL);
	was = sm_presence_deliverable(sess);
	sess->priority = prio;
	sess->available = 1;
	if (initial) {
		probe = presence_new(a, "probe", u->bare);
		to_contacts(u, a, probe, SM_SUB_TO);
	}
	to_contacts(u, a, st, SM_SUB_FROM);
	to_sessions(u, a, st, NULL);
	if (!initial) {
		/* A priority raised from negative: messages to the bare JID may come now. */
		if (!was && sm_presence_deliverable(sess))
			SM_HOOK(deliverable, s, sess);
		return SM_DONE;
	}
	/* The new session learns what its siblings said last. */
	for (struct sm_session *x = u->sessions; x != NULL; x = x->next) {
		struct sb_xml_node *p;

		if (x == sess || !x->available || x->presence == NULL)
			continue;
		p = sb_xml_copy(a, x->presence);
		sb_xml_set_attr(a, p, "to", sess->jid.str);
		sm_send_session(s->sm, sess, p);
	}
	sess->initial = 1;
	/* Last: a hook may suspend s. */
	SM_HOOK(available, s, sess);
	if (sm_presence_deliverable(sess))
		SM_HOOK(deliverable, s, sess);
	return SM_DONE;
}

/* 4.6: presence with 'to'. */
static int
directed(struct sm_stanza *s)
{
	struct sm_session *sess = s->sess;
	int own = sb_jid_eq_bare(&s->to, &s->user->jid);

	sb_xml_set_attr(arena_of(s), s->st, "from", sess->jid.str);
	sm_route(s->sm, s->st);
	/* Presence to the user's own account needs no unavailable later. */
	if (own)
		return SM_DONE;
	if (*s->type == '\0')
		directed_add(sess, s->to.str);
	else if (directed_has(sess, s->to.str))
		pres_set(sess, sess->presence, 1, s->to.str);
	return SM_DONE;
}

static int
out_available(struct sm_stanza *s)
{
	return s->to_absent ? broadcast(s) : directed(s);
}

static int
out_unavailable(struct sm_stanza *s)
{
	if (!s->to_absent)
		return directed(s);
	go_unavailable(s->user, s->sess, arena_of(s), s->st, 1);
	return SM_DONE;
}

/* A probe or an error from a client: to where it says. */
static int
out_route(struct sm_stanza *s)
{
	if (s->to_absent)
		return SM_DONE;
	sb_xml_set_attr(arena_of(s), s->st, "from", s->sess->jid.str);
	sm_route(s->sm, s->st);
	return SM_DONE;
}

/* --- inbound --- */

static int
in_presence(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	struct sm_session *x;
	size_t rl;
	const char *res;

	if (u->state != SM_USER_READY)
		return SM_DONE;		/* 8.5.1, or the load failed: dropped */
	/* 4.2.2: presence from the contact lifts an earlier error. */
	if (s->from.len > 0)
		error_clear(u, s->from.str, sb_jid_bare_len(&s->from));
	if (s->to.resource_len > 0) {
		res = sb_jid_resource(&s->to, &rl);
		if ((x = sm_session_by_resource(u, res, rl)) != NULL)
			sm_send_session(s->sm, x, s->st);
		return SM_DONE;		/* 8.5.3.2.1: no such resource, dropped */
	}
	for (x = u->sessions; x != NULL; x = x->next)
		if (x->available)
			sm_send_session(s->sm, x, s->st);
	return SM_DONE;
}

static void
answer_unsubscribed(struct sm_stanza *s)
{
	struct sb_arena *a = arena_of(s);
	struct sb_xml_node *p = presence_new(a, "unsubscribed", s->user->bare);

	sb_xml_set_attr(a, p, "to", sb_arena_strndup(a, s->from.str,
	    sb_jid_bare_len(&s->from)));
	sm_route(s->sm, p);
}

/* 4.3.2 */
static int
in_probe(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	struct sb_arena *a = arena_of(s);
	const struct sm_roster_item *it;

	if (s->from.len == 0)
		return SM_DONE;
	if (u->state == SM_USER_NONE) {
		answer_unsubscribed(s);		/* 8.5.1 */
		return SM_DONE;
	}
	if (u->state != SM_USER_READY)
		return SM_DONE;
	it = sm_roster_find(u, s->from.str, sb_jid_bare_len(&s->from));
	if (!sb_jid_eq_bare(&s->from, &u->jid) &&
	    (it == NULL || !it->in_roster || !(it->sub & SM_SUB_FROM))) {
		answer_unsubscribed(s);
		return SM_DONE;
	}
	for (struct sm_session *x = u->sessions; x != NULL; x = x->next) {
		struct sb_xml_node *p;

		if (!x->available || x->presence == NULL)
			continue;
		p = sb_xml_copy(a, x->presence);
		sb_xml_set_attr(a, p, "from", x->jid.str);
		sb_xml_set_attr(a, p, "to", s->from.str);
		sm_route(s->sm, p);
	}
	return SM_DONE;
}

static int
in_error(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	const struct sm_roster_item *it;
	struct sm_session *x;
	size_t rl;
	const char *res;

	if (u->state != SM_USER_READY || s->from.len == 0)
		return SM_DONE;
	it = sm_roster_find(u, s->from.str, sb_jid_bare_len(&s->from));
	if (it != NULL && it->in_roster && (it->sub & SM_SUB_FROM))
		error_mark(u, it->jid, strlen(it->jid));
	if (s->to.resource_len > 0) {
		res = sb_jid_resource(&s->to, &rl);
		if ((x = sm_session_by_resource(u, res, rl)) != NULL)
			sm_send_session(s->sm, x, s->st);
	}
	return SM_DONE;
}

/* --- dispatch by type --- */

static const struct {
	const char	*type;
	int		(*out)(struct sm_stanza *);
	int		(*in)(struct sm_stanza *);
} types[] = {
	{ "",			out_available,		in_presence },
	{ "unavailable",	out_unavailable,	in_presence },
	{ "probe",		out_route,		in_probe },
	{ "error",		out_route,		in_error },
	{ "subscribe",		sm_subscription_out,	sm_subscription_in },
	{ "subscribed",		sm_subscription_out,	sm_subscription_in },
	{ "unsubscribe",	sm_subscription_out,	sm_subscription_in },
	{ "unsubscribed",	sm_subscription_out,	sm_subscription_in },
};

int
sm_presence_out(struct sm_stanza *s)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, s->type) == 0)
			return types[i].out(s);
	sm_reply_error(s, SB_SERR_BAD_REQUEST, "unknown presence type");
	return SM_DONE;
}

int
sm_presence_in(struct sm_stanza *s)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, s->type) == 0)
			return types[i].in(s);
	log_debug("%s: presence of unknown type '%s' from %s: dropped", s->user->bare,
	    s->type, s->from.len ? s->from.str : "-");
	return SM_DONE;
}

const struct sm_module sm_mod_presence = {
	.name = "presence",
	.fini = pres_fini,
	.user_free = pres_user_free,
	.session_end = pres_session_end,
};
