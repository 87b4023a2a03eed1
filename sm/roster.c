/*
 * roster.c: the roster (RFC 6121 section 2) with versioning (section 2.6,
 * XEP-0237): items in memory and in storage, roster pushes, and the
 * jabber:iq:roster get and set.
 *
 * Items live in the user's hash map keyed by bare JID, one allocation
 * each (struct, JID, name and groups together). A JID with only a pending
 * inbound request is in the map too (pending_in, not in_roster): RFC 6121
 * A.1 says such a contact is not a roster item until the user approves.
 * Loading reads the items (ROSTER_LOAD) while subscription.c reads the
 * pending requests; either may come back first, so both merge into
 * whatever the other left.
 *
 * Every change goes through sm_roster_commit() (roster.h): written to the
 * database in one transaction, applied in memory once committed. The
 * account's roster version counts visible changes; each item carries the
 * version of its last change and a removed item leaves a tombstone
 * (roster_removed), so a client holding version N is brought up to date
 * with one push per item changed or removed since N, in version order.
 *
 * Where RFC 6121 leaves a choice: a roster set naming a full JID is refused
 * (bad-request: items are bare JIDs, 3.1.2 treats subscriptions that way);
 * an unparsable JID gets jid-malformed; names and groups longer than
 * 1023 bytes and more than 256 groups get not-acceptable (2.3.3 leaves the
 * limits to the server); a roster full at <roster-items/> refuses new items
 * with not-allowed; 'ask' and 'approved' from the client are ignored, as is
 * any subscription value but "remove" (2.1.2.5); results and pushes always
 * carry 'ver'. A roster IQ to another user's account gets forbidden (2.3.3).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "roster.h"
#include "xmalloc.h"

#define TEXT_MAX	1023	/* bytes of a name or a group */
#define GROUPS_MAX	256	/* groups of one item */

static const char *const sub_names[4] = { "none", "to", "from", "both" };

/* --- items --- */

struct sm_roster_item *
sm_roster_item_new(const char *jid, size_t jidlen, const char *name,
    const char *const *groups, size_t ngroups)
{
	size_t size = sizeof(struct sm_roster_item) + ngroups * sizeof(char *) + jidlen + 1;
	size_t nlen = name != NULL ? strlen(name) : 0;
	struct sm_roster_item *it;
	char *p;

	if (name != NULL)
		size += nlen + 1;
	for (size_t i = 0; i < ngroups; i++)
		size += strlen(groups[i]) + 1;
	/* The group pointers follow the struct, whose size keeps them aligned. */
	it = xcalloc(1, size);
	it->groups = (char **)(void *)(it + 1);
	it->ngroups = ngroups;
	p = (char *)(it->groups + ngroups);
	it->jid = p;
	memcpy(p, jid, jidlen);
	p += jidlen;
	*p++ = '\0';
	if (name != NULL) {
		it->name = p;
		memcpy(p, name, nlen + 1);
		p += nlen + 1;
	}
	for (size_t i = 0; i < ngroups; i++) {
		size_t gl = strlen(groups[i]);

		it->groups[i] = p;
		memcpy(p, groups[i], gl + 1);
		p += gl + 1;
	}
	return it;
}

struct sm_roster_item *
sm_roster_item_copy(const struct sm_roster_item *it)
{
	struct sm_roster_item *c = sm_roster_item_new(it->jid, strlen(it->jid), it->name,
	    (const char *const *)it->groups, it->ngroups);

	c->sub = it->sub;
	c->ask = it->ask;
	c->approved = it->approved;
	c->pending_in = it->pending_in;
	c->in_roster = it->in_roster;
	c->version = it->version;
	return c;
}

void
sm_roster_item_free(struct sm_roster_item *it)
{
	free(it);
}

struct sm_roster_item *
sm_roster_find(struct sm_user *u, const char *jid, size_t len)
{
	struct sb_hmap_node *n;

	if (u->roster.items.slots == NULL)
		return NULL;
	n = sb_hmap_find(&u->roster.items, jid, len);
	return n != NULL ? SB_HMAP_ENTRY(n, struct sm_roster_item, hn) : NULL;
}

static void
item_link(struct sm_roster *r, struct sm_roster_item *it)
{
	sb_hmap_insert(&r->items, &it->hn, it->jid, strlen(it->jid));
	if (it->in_roster)
		r->nitems++;
}

static void
item_unlink(struct sm_roster *r, struct sm_roster_item *it)
{
	sb_hmap_remove(&r->items, &it->hn);
	if (it->in_roster)
		r->nitems--;
}

static int
free_one(struct sb_hmap_node *n, void *arg)
{
	struct sm_roster *r = arg;

	sb_hmap_remove(&r->items, n);
	sm_roster_item_free(SB_HMAP_ENTRY(n, struct sm_roster_item, hn));
	return 0;
}

/* Frees the items; the map's slots are the core's (users.c frees them). */
void
sm_roster_free(struct sm_roster *r)
{
	if (r->items.slots != NULL)
		sb_hmap_each(&r->items, free_one, r);
	r->nitems = 0;
}

/* --- loading --- */

static void
load_rows(struct sm_user *u, const struct sb_store_result *r)
{
	const char **groups = NULL;
	size_t cap = 0;

	for (size_t i = 0, j; i < r->nrows; i = j) {
		const char *jid = sb_store_text(r, i, 0), *name = NULL;
		struct sm_roster_item *it, *old;
		size_t ng = 0;

		if (sb_store_cell(r, i, 1)->type != SB_DB_NULL)
			name = sb_store_text(r, i, 1);
		/* One row per group, ordered by JID: the item's rows are together. */
		for (j = i; j < r->nrows && strcmp(sb_store_text(r, j, 0), jid) == 0; j++) {
			if (sb_store_cell(r, j, 6)->type == SB_DB_NULL)
				continue;
			if (ng == cap) {
				cap = cap ? 2 * cap : 8;
				groups = xrealloc(groups, cap * sizeof(*groups));
			}
			groups[ng++] = sb_store_text(r, j, 6);
		}
		it = sm_roster_item_new(jid, strlen(jid), name, groups, ng);
		it->sub = (unsigned)sb_store_int(r, i, 2) & SM_SUB_BOTH;
		it->ask = sb_store_int(r, i, 3) != 0;
		it->approved = sb_store_int(r, i, 4) != 0;
		it->version = sb_store_int(r, i, 5);
		it->in_roster = 1;
		/* subscription.c may have been first, with the pending request. */
		if ((old = sm_roster_find(u, jid, strlen(jid))) != NULL) {
			it->pending_in = old->pending_in;
			item_unlink(&u->roster, old);
			sm_roster_item_free(old);
		}
		item_link(&u->roster, it);
	}
	free(groups);
}

static void
loaded(const struct sb_store_result *r, void *arg)
{
	struct sm_user *u = arg;

	if (r->err == SB_STORE_OK)
		load_rows(u, r);
	sm_user_loaded(u, r->err);
	sm_run_ready(u->sm);
}

static void
roster_user_load(struct sm_user *u)
{
	struct sb_db_value p[2];

	p[0] = sb_db_text(u->domain->name);
	p[1] = sb_db_text(u->local);
	sb_store_query(u->sm->store, SB_Q_ROSTER_LOAD, p, loaded, u);
}

/* --- changing an item --- */

struct commit {
	struct sm_stanza	*s;
	struct sm_roster_item	*next;		/* NULL: forget the JID */
	int64_t			 version;	/* the roster's version once committed */
	int			 changed;	/* visible: bump the version, push */
	sm_roster_done		*done;
	unsigned		 arg;
	char			 jid[];
};

/* The statements of one transaction, their parameters in one array. */
struct txn {
	struct sb_store_stmt	*st;
	struct sb_db_value	*v;
	size_t			 n, nv;
};

static struct sb_db_value *
txn_add(struct txn *t, enum sb_query q, size_t nparams)
{
	struct sb_db_value *p = t->v + t->nv;

	t->st[t->n].q = q;
	t->st[t->n].params = p;
	t->n++;
	t->nv += nparams;
	return p;
}

/* Do a and b differ in what the roster shows of them? */
static int
visible_differs(const struct sm_roster_item *a, const struct sm_roster_item *b)
{
	int ain = a != NULL && a->in_roster, bin = b != NULL && b->in_roster;

	if (ain != bin)
		return 1;
	return ain && (a->sub != b->sub || a->ask != b->ask || a->approved != b->approved);
}

/* The writes that take the item from old to c->next. */
static void
commit_stmts(struct txn *t, const struct sm_user *u, const struct commit *c,
    const struct sm_roster_item *old, const char *subreq, unsigned flags)
{
	const struct sm_roster_item *next = c->next;
	int was_in = old != NULL && old->in_roster, now_in = next != NULL && next->in_roster;
	int old_pi = old != NULL && old->pending_in, new_pi = next != NULL && next->pending_in;
	struct sb_db_value *p, id = sb_db_int(u->account_id), jid = sb_db_text(c->jid);

	if (c->changed && now_in) {
		p = txn_add(t, SB_Q_ROSTER_UPSERT, 7);
		p[0] = id;
		p[1] = jid;
		p[2] = sb_db_text(next->name);
		p[3] = sb_db_int(next->sub);
		p[4] = sb_db_int(next->ask);
		p[5] = sb_db_int(next->approved);
		p[6] = sb_db_int(c->version);
	}
	if (now_in && (flags & SM_RC_GROUPS)) {
		p = txn_add(t, SB_Q_ROSTER_GROUPS_CLEAR, 2);
		p[0] = id;
		p[1] = jid;
		for (size_t i = 0; i < next->ngroups; i++) {
			p = txn_add(t, SB_Q_ROSTER_GROUP_ADD, 3);
			p[0] = id;
			p[1] = jid;
			p[2] = sb_db_text(next->groups[i]);
		}
	}
	if (now_in && !was_in) {
		p = txn_add(t, SB_Q_ROSTER_REMOVED_CLEAR, 2);
		p[0] = id;
		p[1] = jid;
	}
	if (was_in && !now_in) {
		p = txn_add(t, SB_Q_ROSTER_DELETE, 2);
		p[0] = id;
		p[1] = jid;
		p = txn_add(t, SB_Q_ROSTER_REMOVED_SET, 3);
		p[0] = id;
		p[1] = jid;
		p[2] = sb_db_int(c->version);
	}
	if (new_pi && !old_pi) {
		p = txn_add(t, SB_Q_SUBREQ_STORE, 4);
		p[0] = id;
		p[1] = jid;
		p[2] = sb_db_text(subreq != NULL ? subreq : "");
		p[3] = sb_db_int(sm_now());
	} else if (old_pi && !new_pi) {
		p = txn_add(t, SB_Q_SUBREQ_DELETE, 2);
		p[0] = id;
		p[1] = jid;
	}
	if (c->changed) {
		p = txn_add(t, SB_Q_ROSTER_SET_VERSION, 2);
		p[0] = id;
		p[1] = sb_db_int(c->version);
	}
}

/* The change takes effect in memory; then the caller's callback; then the old item goes. */
static void
commit_apply(struct commit *c)
{
	struct sm_stanza *s = c->s;
	struct sm_user *u = s->user;
	struct sm_roster_item *old = sm_roster_find(u, c->jid, strlen(c->jid));

	if (old != NULL)
		item_unlink(&u->roster, old);
	if (c->next != NULL)
		item_link(&u->roster, c->next);
	if (c->changed)
		u->roster_version = c->version;
	c->done(s, SB_STORE_OK, c->next != NULL ? c->next : old, c->changed, c->arg);
	if (old != NULL)
		sm_roster_item_free(old);
}

static void
committed(const struct sb_store_result *r, void *arg)
{
	struct commit *c = arg;
	struct sm_stanza *s = c->s;

	if (r->err != SB_STORE_OK) {
		log_warn("user %s: roster item %s not changed (%s)", s->user->bare, c->jid,
		    sb_store_err_name(r->err));
		sm_roster_item_free(c->next);
		c->done(s, r->err, NULL, 0, c->arg);
	} else {
		commit_apply(c);
	}
	free(c);
	sm_resume(s);
}

int
sm_roster_commit(struct sm_stanza *s, const char *jid, struct sm_roster_item *next,
    const char *subreq, unsigned flags, sm_roster_done *done, unsigned arg)
{
	struct sm_user *u = s->user;
	size_t jl = strlen(jid), ng;
	struct sm_roster_item *old = sm_roster_find(u, jid, jl);
	struct commit *c = xcalloc(1, sizeof(*c) + jl + 1);
	struct txn t = { 0 };

	/* An item neither in the roster nor pending is no item at all. */
	if (next != NULL && !next->in_roster && !next->pending_in) {
		sm_roster_item_free(next);
		next = NULL;
	}
	memcpy(c->jid, jid, jl + 1);
	c->s = s;
	c->next = next;
	c->done = done;
	c->arg = arg;
	c->changed = visible_differs(old, next) ||
	    (next != NULL && next->in_roster && (flags & SM_RC_BUMP));
	c->version = c->changed ? u->roster_version + 1 : u->roster_version;
	if (next != NULL && c->changed)
		next->version = c->version;

	ng = next != NULL ? next->ngroups : 0;
	t.st = xcalloc(8 + ng, sizeof(*t.st));
	t.v = xcalloc(24 + 3 * ng, sizeof(*t.v));
	commit_stmts(&t, u, c, old, subreq, flags);
	if (t.n == 0) {
		free(t.st);
		free(t.v);
		commit_apply(c);
		free(c);
		return SM_DONE;
	}
	c->s = sm_suspend(s);
	sb_store_txn(s->sm->store, t.st, t.n, committed, c);
	free(t.st);
	free(t.v);
	return SM_WAIT;
}

/* --- pushes --- */

static void
item_xml(struct sb_arena *a, struct sb_xml_node *query, const char *jid,
    const struct sm_roster_item *it)
{
	struct sb_xml_node *e = sb_xml_add(a, query, NULL, "item");

	sb_xml_set_attr(a, e, "jid", jid);
	if (it == NULL) {
		sb_xml_set_attr(a, e, "subscription", "remove");
		return;
	}
	if (it->name != NULL)
		sb_xml_set_attr(a, e, "name", it->name);
	sb_xml_set_attr(a, e, "subscription", sub_names[it->sub]);
	if (it->ask)
		sb_xml_set_attr(a, e, "ask", "subscribe");
	if (it->approved)
		sb_xml_set_attr(a, e, "approved", "true");
	for (size_t i = 0; i < it->ngroups; i++) {
		struct sb_xml_node *g = sb_xml_add(a, e, NULL, "group");

		sb_xml_add_text(a, g, it->groups[i], strlen(it->groups[i]));
	}
}

static struct sb_xml_node *
query_new(struct sb_arena *a, struct sb_xml_node *parent, int64_t ver)
{
	char v[24];
	struct sb_xml_node *q = parent != NULL ? sb_xml_add(a, parent, SB_NS_ROSTER, "query") :
	    sb_xml_new(a, SB_NS_ROSTER, "query");

	snprintf(v, sizeof(v), "%" PRId64, ver);
	sb_xml_set_attr(a, q, "ver", v);
	return q;
}

/* <iq type='set'><query ver='ver'><item/></query></iq> from the user's bare JID. */
static struct sb_xml_node *
push_iq(struct sb_arena *a, const struct sm_user *u, const char *jid,
    const struct sm_roster_item *it, int64_t ver)
{
	static uint64_t counter;
	struct sb_xml_node *iq = sb_xml_new(a, SB_NS_COMPONENT_ACCEPT, "iq");
	char id[32];

	snprintf(id, sizeof(id), "push%" PRIu64, ++counter);
	sb_xml_set_attr(a, iq, "type", "set");
	sb_xml_set_attr(a, iq, "id", id);
	sb_xml_set_attr(a, iq, "from", u->bare);
	item_xml(a, query_new(a, iq, ver), jid, it);
	return iq;
}

void
sm_roster_push(struct sm_user *u, const struct sm_roster_item *it, int removed)
{
	struct sb_xml_node *iq = NULL;
	struct sb_arena a;

	sb_arena_init(&a, 0);
	for (struct sm_session *x = u->sessions; x != NULL; x = x->next) {
		if (!x->interested)
			continue;
		if (iq == NULL)
			iq = push_iq(&a, u, it->jid, removed ? NULL : it, u->roster_version);
		sb_xml_set_attr(&a, iq, "to", x->jid.str);
		sm_send_session(u->sm, x, iq);
	}
	sb_arena_free(&a);
}

/* --- roster get (2.2, 2.6) --- */

static int
roster_full(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	struct sb_arena a;
	struct sb_xml_node *q;
	struct sb_hmap_node *n;

	sb_arena_init(&a, 0);
	q = query_new(&a, NULL, u->roster_version);
	for (size_t i = 0; i < u->roster.items.nslots; i++) {
		for (n = u->roster.items.slots[i]; n != NULL; n = n->next) {
			const struct sm_roster_item *it =
			    SB_HMAP_ENTRY(n, struct sm_roster_item, hn);

			if (it->in_roster)
				item_xml(&a, q, it->jid, it);
		}
	}
	sm_reply_result(s, q);
	sb_arena_free(&a);
	return SM_DONE;
}

/* A version as the client sent it: decimal digits only, else -1. */
static int64_t
ver_parse(const char *v)
{
	int64_t n = 0;

	if (*v == '\0' || strlen(v) > 18)
		return -1;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			return -1;
		n = n * 10 + (*v - '0');
	}
	return n;
}

struct change {
	const char			*jid;
	const struct sm_roster_item	*it;	/* NULL: removed */
	int64_t				 version;
};

static int
change_cmp(const void *a, const void *b)
{
	const struct change *x = a, *y = b;

	return x->version < y->version ? -1 : x->version > y->version;
}

/*
 * The items changed and removed since version 'since', as pushes after an
 * empty result, in version order, so the last push names the current
 * version (RFC 6121 2.6.3).
 */
static void
removed_since(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;
	struct sm_user *u = s->user;
	struct sb_xml_node *q = sb_xml_child(s->st, SB_NS_ROSTER, "query");
	int64_t since = ver_parse(sb_xml_attr(q, "ver"));
	struct change *ch;
	size_t n = 0, cap;
	struct sb_arena a;

	if (r->err != SB_STORE_OK || s->sess == NULL) {
		/* Without the removals, the whole roster is still a correct answer. */
		roster_full(s);
		sm_resume(s);
		return;
	}
	cap = r->nrows + u->roster.nitems;
	ch = xcalloc(cap ? cap : 1, sizeof(*ch));
	for (size_t i = 0; i < r->nrows; i++)
		ch[n++] = (struct change){ sb_store_text(r, i, 0), NULL, sb_store_int(r, i, 1) };
	for (size_t i = 0; i < u->roster.items.nslots; i++) {
		for (struct sb_hmap_node *h = u->roster.items.slots[i]; h != NULL; h = h->next) {
			const struct sm_roster_item *it =
			    SB_HMAP_ENTRY(h, struct sm_roster_item, hn);

			if (it->in_roster && it->version > since && n < cap)
				ch[n++] = (struct change){ it->jid, it, it->version };
		}
	}
	qsort(ch, n, sizeof(*ch), change_cmp);
	sm_reply_result(s, NULL);
	sb_arena_init(&a, 0);
	for (size_t i = 0; i < n; i++) {
		struct sb_xml_node *iq = push_iq(&a, u, ch[i].jid, ch[i].it, ch[i].version);

		sb_xml_set_attr(&a, iq, "to", s->sess->jid.str);
		sm_send_session(s->sm, s->sess, iq);
	}
	sb_arena_free(&a);
	free(ch);
	sm_resume(s);
}

static int
roster_get(struct sm_stanza *s, struct sb_xml_node *q)
{
	struct sm_user *u = s->user;
	const char *vs = sb_xml_attr(q, "ver");
	int64_t since = vs != NULL ? ver_parse(vs) : -1;
	struct sb_db_value p[2];

	/* RFC 6121 2.1.6: a session that asked for the roster gets the pushes. */
	if (s->sess != NULL)
		s->sess->interested = 1;
	/* An unknown version (garbage, another server's, the future) gets it all. */
	if (since < 0 || since > u->roster_version)
		return roster_full(s);
	if (since == u->roster_version) {
		sm_reply_result(s, NULL);
		return SM_DONE;
	}
	s = sm_suspend(s);
	p[0] = sb_db_int(u->account_id);
	p[1] = sb_db_int(since);
	sb_store_query(s->sm->store, SB_Q_ROSTER_REMOVED_SINCE, p, removed_since, s);
	return SM_WAIT;
}

/* --- roster set (2.3, 2.4, 2.5) --- */

static void
set_done(struct sm_stanza *s, enum sb_store_err err, const struct sm_roster_item *it,
    int changed, unsigned arg)
{
	if (err != SB_STORE_OK) {
		sm_reply_store_error(s, err);
		return;
	}
	sm_roster_push(s->user, it, 0);
	sm_reply_result(s, NULL);
}

static void
remove_done(struct sm_stanza *s, enum sb_store_err err, const struct sm_roster_item *it,
    int changed, unsigned arg)
{
	if (err != SB_STORE_OK) {
		sm_reply_store_error(s, err);
		return;
	}
	sm_roster_push(s->user, it, 1);
	sm_reply_result(s, NULL);
	sm_subscription_cancel(s, it);
}

static int
roster_remove(struct sm_stanza *s, const struct sb_jid *jid)
{
	const struct sm_roster_item *old = sm_roster_find(s->user, jid->str, jid->len);

	if (old == NULL || !old->in_roster) {
		sm_reply_error(s, SB_SERR_ITEM_NOT_FOUND, NULL);	/* 2.5.3 */
		return SM_DONE;
	}
	/* The pending request goes too: removing answers it with unsubscribed. */
	return sm_roster_commit(s, jid->str, NULL, NULL, 0, remove_done, 0);
}

/* The groups of an item, checked (2.3.3); 0, or -1 with an error sent. */
static int
set_groups(struct sm_stanza *s, const struct sb_xml_node *item, const char **groups,
    size_t *ngp)
{
	const struct sb_xml_node *g;
	size_t ng = 0, len;

	SB_XML_FOREACH_CHILD(g, item) {
		const char *text;

		if (!sb_xml_is(g, SB_NS_ROSTER, "group"))
			continue;
		text = sb_xml_text(s->arena, g, &len);
		if (len == 0) {
			sm_reply_error(s, SB_SERR_NOT_ACCEPTABLE, "a group name is empty");
			return -1;
		}
		if (len > TEXT_MAX || ng == GROUPS_MAX) {
			sm_reply_error(s, SB_SERR_NOT_ACCEPTABLE, len > TEXT_MAX ?
			    "a group name is too long" : "too many groups");
			return -1;
		}
		for (size_t i = 0; i < ng; i++) {
			if (strcmp(groups[i], text) == 0) {
				sm_reply_error(s, SB_SERR_BAD_REQUEST, "a group is named twice");
				return -1;
			}
		}
		groups[ng++] = text;
	}
	*ngp = ng;
	return 0;
}

static int
roster_set(struct sm_stanza *s, struct sb_xml_node *q)
{
	struct sm_user *u = s->user;
	const struct sb_xml_node *c, *item = NULL;
	const char *jtext, *name, *sub, *why, *groups[GROUPS_MAX];
	const struct sm_roster_item *old;
	struct sm_roster_item *next;
	char buf[SB_JID_BUFSIZE];
	struct sb_jid jid;
	size_t ng, nitems = 0;

	SB_XML_FOREACH_CHILD(c, q) {
		if (sb_xml_is(c, SB_NS_ROSTER, "item") && nitems++ == 0)
			item = c;
	}
	if (nitems != 1) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, "a roster set holds exactly one item");
		return SM_DONE;
	}
	if ((jtext = sb_xml_attr(item, "jid")) == NULL) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, "the item has no jid");
		return SM_DONE;
	}
	if (sb_jid_parse(&jid, buf, sizeof(buf), jtext, strlen(jtext), &why) == -1) {
		sm_reply_error(s, SB_SERR_JID_MALFORMED, why);
		return SM_DONE;
	}
	if (!sb_jid_is_bare(&jid)) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, "a roster item is a bare JID");
		return SM_DONE;
	}
	if ((sub = sb_xml_attr(item, "subscription")) != NULL && strcmp(sub, "remove") == 0)
		return roster_remove(s, &jid);
	if ((name = sb_xml_attr(item, "name")) != NULL && strlen(name) > TEXT_MAX) {
		sm_reply_error(s, SB_SERR_NOT_ACCEPTABLE, "the name is too long");
		return SM_DONE;
	}
	if (name != NULL && *name == '\0')
		name = NULL;
	if (set_groups(s, item, groups, &ng) == -1)
		return SM_DONE;
	old = sm_roster_find(u, jid.str, jid.len);
	if ((old == NULL || !old->in_roster) &&
	    u->roster.nitems >= (size_t)s->sm->conf->roster_max) {
		sm_reply_error(s, SB_SERR_NOT_ALLOWED, "the roster is full");
		return SM_DONE;
	}
	/* Only the name and the groups are the client's (2.1.2): the state stays. */
	next = sm_roster_item_new(jid.str, jid.len, name, groups, ng);
	if (old != NULL) {
		next->sub = old->sub;
		next->ask = old->ask;
		next->approved = old->approved;
		next->pending_in = old->pending_in;
	}
	next->in_roster = 1;
	return sm_roster_commit(s, jid.str, next, NULL, SM_RC_BUMP | SM_RC_GROUPS, set_done, 0);
}

/* Someone else's roster is none of the sender's business (2.3.3). */
static int
roster_other(struct sm_stanza *s, struct sb_xml_node *q)
{
	sm_reply_error(s, SB_SERR_FORBIDDEN, NULL);
	return SM_DONE;
}

static const struct sm_iq_handler iqs[] = {
	{ SB_NS_ROSTER, "query", SM_IQ_SELF, roster_get, roster_set },
	{ SB_NS_ROSTER, "query", SM_IQ_ACCOUNT, roster_other, roster_other },
	{ NULL, NULL, 0, NULL, NULL },
};

const struct sm_module sm_mod_roster = {
	.name = "roster",
	.iqs = iqs,
	.user_load = roster_user_load,
};
