/*
 * subscription.c: presence subscriptions (RFC 6121 section 3) as the state
 * machine of its Appendix A, in one table: state x stanza -> new state and
 * what else happens (route or deliver the stanza, push the roster item,
 * answer for the user, send presence or unavailable to the contact).
 *
 * Each user runs its own half of a subscription: an outbound stanza at the
 * sender's user (A.2), the inbound one at the contact's (A.3), exactly as
 * between two servers, even when both are on this shard. A change of state
 * is committed to storage before anything is sent (sm_roster_commit), so
 * the contact never learns of a state the user's server could lose.
 *
 * An inbound request waits in subscription_requests (the whole stanza,
 * 3.1.3) until the user answers it; it is delivered to the available
 * resources when it comes and again to every session that sends initial
 * presence later (the 'available' hook), until approved or denied.
 *
 * Where RFC 6121 leaves a choice:
 *   - pre-approval (3.4) is supported: three more states in the table, the
 *     pre-approved forms of None, None + Pending Out and To. A pre-approved
 *     contact's request is approved at once and not shown to the user; an
 *     'unsubscribed' to a pre-approved contact cancels the pre-approval
 *     (and is not routed, the contact having nothing to cancel);
 *   - a subscription stanza to a full JID is treated as to the bare JID and
 *     outbound ones are stamped with the user's bare JID (3.1.2);
 *   - roster pushes go out only when the item shows a change (subscription,
 *     ask or approved), which also covers items created or removed;
 *   - a repeated request while one is pending is neither delivered nor
 *     stored again (the first one is kept, 3.1.3);
 *   - to an account that does not exist, subscribe is answered with
 *     unsubscribed and the other types dropped (8.5.1);
 *   - a new roster item made by a subscription stanza counts against
 *     <roster-items/> (not-allowed, like a roster set); pending requests from
 *     JIDs not in the roster are limited to the same number, more are dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "iqutil.h"
#include "roster.h"
#include "xmalloc.h"

/* --- the table --- */

#define N	SM_SS_NONE
#define NPO	SM_SS_NONE_PO
#define NPI	SM_SS_NONE_PI
#define NPOI	SM_SS_NONE_POI
#define T	SM_SS_TO
#define TPI	SM_SS_TO_PI
#define F	SM_SS_FROM
#define FPO	SM_SS_FROM_PO
#define B	SM_SS_BOTH
#define NA	SM_SS_NONE_A
#define NPOA	SM_SS_NONE_PO_A
#define TA	SM_SS_TO_A

#define FW	SM_SA_FWD
#define PU	SM_SA_PUSH
#define RE	SM_SA_REPLY
#define PR	SM_SA_PRESENCE
#define UN	SM_SA_UNAVAIL

/*
 * Columns, in enum sm_sub_event order: outbound subscribe, subscribed,
 * unsubscribe, unsubscribed (A.2.1-A.2.4, 3.4), then inbound (A.3.1-A.3.4).
 * Outbound subscribe and unsubscribe are routed in every state (A.2.1,
 * A.2.3); anything else only when it changes the state, except the
 * auto-reply to a request from a contact already subscribed (A.3.1 "no*").
 */
static const struct sm_sub_rule rules[SM_SS_COUNT][SM_SE_COUNT] = {
	/*         out subscribe   out subscribed     out unsubscribe  out unsubscribed
	 *         in subscribe    in subscribed      in unsubscribe   in unsubscribed */
	[N]    = { {NPO, FW|PU},   {NA, PU},          {N, FW},         {N, 0},
		   {NPI, FW},      {N, 0},            {N, 0},          {N, 0} },
	[NPO]  = { {NPO, FW},      {NPOA, PU},        {N, FW|PU},      {NPO, 0},
		   {NPOI, FW},     {T, FW|PU},        {NPO, 0},        {N, FW|PU} },
	[NPI]  = { {NPOI, FW|PU},  {F, FW|PU|PR},     {NPI, FW},       {N, FW},
		   {NPI, 0},       {NPI, 0},          {N, FW},         {NPI, 0} },
	[NPOI] = { {NPOI, FW},     {FPO, FW|PU|PR},   {NPI, FW|PU},    {NPO, FW},
		   {NPOI, 0},      {TPI, FW|PU},      {NPO, FW},       {NPI, FW|PU} },
	[T]    = { {T, FW},        {TA, PU},          {N, FW|PU},      {T, 0},
		   {TPI, FW},      {T, 0},            {T, 0},          {N, FW|PU} },
	[TPI]  = { {TPI, FW},      {B, FW|PU|PR},     {NPI, FW|PU},    {T, FW},
		   {TPI, 0},       {TPI, 0},          {T, FW},         {NPI, FW|PU} },
	[F]    = { {FPO, FW|PU},   {F, 0},            {F, FW},         {N, FW|PU|UN},
		   {F, RE},        {F, 0},            {N, FW|PU|UN},   {F, 0} },
	[FPO]  = { {FPO, FW},      {FPO, 0},          {F, FW|PU},      {NPO, FW|PU|UN},
		   {FPO, RE},      {B, FW|PU},        {NPO, FW|PU|UN}, {F, FW|PU} },
	[B]    = { {B, FW},        {B, 0},            {F, FW|PU},      {T, FW|PU|UN},
		   {B, RE},        {B, 0},            {T, FW|PU|UN},   {F, FW|PU} },
	/* Pre-approved (3.4): a request is approved at once. */
	[NA]   = { {NPOA, FW|PU},  {NA, 0},           {NA, FW},        {N, PU},
		   {F, RE|PU|PR},  {NA, 0},           {NA, 0},         {NA, 0} },
	[NPOA] = { {NPOA, FW},     {NPOA, 0},         {NA, FW|PU},     {NPO, PU},
		   {FPO, RE|PU|PR}, {TA, FW|PU},      {NPOA, 0},       {NA, FW|PU} },
	[TA]   = { {TA, FW},       {TA, 0},           {NA, FW|PU},     {T, PU},
		   {B, RE|PU|PR},  {TA, 0},           {TA, 0},         {NA, FW|PU} },
};

/* What each state is on a roster item. */
static const struct {
	const char	*name;
	unsigned char	 sub, ask, pending_in, approved;
} states[SM_SS_COUNT] = {
	[N]    = { "None",                   SM_SUB_NONE, 0, 0, 0 },
	[NPO]  = { "None + Pending Out",     SM_SUB_NONE, 1, 0, 0 },
	[NPI]  = { "None + Pending In",      SM_SUB_NONE, 0, 1, 0 },
	[NPOI] = { "None + Pending Out+In",  SM_SUB_NONE, 1, 1, 0 },
	[T]    = { "To",                     SM_SUB_TO,   0, 0, 0 },
	[TPI]  = { "To + Pending In",        SM_SUB_TO,   0, 1, 0 },
	[F]    = { "From",                   SM_SUB_FROM, 0, 0, 0 },
	[FPO]  = { "From + Pending Out",     SM_SUB_FROM, 1, 0, 0 },
	[B]    = { "Both",                   SM_SUB_BOTH, 0, 0, 0 },
	[NA]   = { "None, pre-approved",     SM_SUB_NONE, 0, 0, 1 },
	[NPOA] = { "None + Pending Out, pre-approved", SM_SUB_NONE, 1, 0, 1 },
	[TA]   = { "To, pre-approved",       SM_SUB_TO,   0, 0, 1 },
};

static const struct {
	const char		*type;
	enum sm_sub_event	 out;
} types[] = {
	{ "subscribe",		SM_SE_OUT_SUBSCRIBE },
	{ "subscribed",		SM_SE_OUT_SUBSCRIBED },
	{ "unsubscribe",	SM_SE_OUT_UNSUBSCRIBE },
	{ "unsubscribed",	SM_SE_OUT_UNSUBSCRIBED },
};

/* The inbound event of the same type is the outbound one shifted by this. */
#define SM_SE_IN_OFFSET	(SM_SE_IN_SUBSCRIBE - SM_SE_OUT_SUBSCRIBE)

const struct sm_sub_rule *
sm_sub_rule(enum sm_sub_state st, enum sm_sub_event ev)
{
	return &rules[st][ev];
}

const char *
sm_sub_state_name(enum sm_sub_state st)
{
	return states[st].name;
}

int
sm_sub_event_of(const char *type, int inbound)
{
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(types[i].type, type) == 0)
			return (int)types[i].out + (inbound ? SM_SE_IN_OFFSET : 0);
	return -1;
}

enum sm_sub_state
sm_sub_state_of(const struct sm_roster_item *it)
{
	unsigned sub, ask, pi, ap;

	if (it == NULL)
		return SM_SS_NONE;
	/*
	 * Bits no state has together are read as the RFC would: a contact
	 * with a subscription has nothing pending that way, a pending
	 * request outranks a pre-approval.
	 */
	sub = it->sub;
	ask = (sub & SM_SUB_TO) ? 0 : it->ask;
	pi = (sub & SM_SUB_FROM) ? 0 : it->pending_in;
	ap = (sub & SM_SUB_FROM) || pi ? 0 : it->approved;
	for (int st = 0; st < SM_SS_COUNT; st++)
		if (states[st].sub == sub && states[st].ask == ask &&
		    states[st].pending_in == pi && states[st].approved == ap)
			return (enum sm_sub_state)st;
	return SM_SS_NONE;
}

void
sm_sub_state_set(struct sm_roster_item *it, enum sm_sub_state st)
{
	it->sub = states[st].sub;
	it->ask = states[st].ask;
	it->pending_in = states[st].pending_in;
	it->approved = states[st].approved;
}

/* --- applying a rule --- */

/* Make the arg of a commit: the state before and the event. */
#define RULE_ARG(st, ev)	((unsigned)(st) << 8 | (unsigned)(ev))
#define ARG_RULE(arg)		(&rules[(arg) >> 8][(arg) & 0xff])

/* The item as the rule leaves it (NULL: there is none). */
static struct sm_roster_item *
next_item(const struct sm_roster_item *old, const char *contact,
    const struct sm_sub_rule *r)
{
	struct sm_roster_item *next;

	if (old == NULL && r->next == SM_SS_NONE)
		return NULL;
	next = old != NULL ? sm_roster_item_copy(old) :
	    sm_roster_item_new(contact, strlen(contact), NULL, NULL, 0);
	sm_sub_state_set(next, (enum sm_sub_state)r->next);
	/* Items join the roster by a visible change; pending requests do not (A.1). */
	if (r->acts & SM_SA_PUSH)
		next->in_roster = 1;
	return next;
}

/* Does applying r make a roster item that was not there? */
static int
makes_item(const struct sm_roster_item *old, const struct sm_sub_rule *r)
{
	return (old == NULL || !old->in_roster) && (r->acts & SM_SA_PUSH);
}

static struct sb_arena *
arena_of(struct sm_stanza *s)
{
	return s->arena != NULL ? s->arena : &s->sm->scratch;
}

/* <presence type='type' from='from' to='to'/>, routed. */
static void
send_sub(struct sm *sm, const char *type, const char *from, const char *to)
{
	struct sb_arena a;
	struct sb_xml_node *p;

	sb_arena_init(&a, 0);
	p = sb_xml_new(&a, SB_NS_COMPONENT_ACCEPT, "presence");
	sb_xml_set_attr(&a, p, "type", type);
	sb_xml_set_attr(&a, p, "from", from);
	sb_xml_set_attr(&a, p, "to", to);
	sm_route(sm, p);
	sb_arena_free(&a);
}

/* --- outbound (A.2) --- */

static void
out_done(struct sm_stanza *s, enum sb_store_err err, const struct sm_roster_item *it,
    int changed, unsigned arg)
{
	const struct sm_sub_rule *r = ARG_RULE(arg);
	struct sm_user *u = s->user;
	const char *contact = sb_xml_attr(s->st, "to");

	if (err != SB_STORE_OK) {
		sm_reply_store_error(s, err);
		return;
	}
	if (r->acts & SM_SA_FWD)
		sm_route(s->sm, s->st);
	if (changed)
		sm_roster_push(u, it, 0);
	if (r->acts & SM_SA_PRESENCE)
		sm_presence_to_contact(u, contact, 1);
	if (r->acts & SM_SA_UNAVAIL)
		sm_presence_to_contact(u, contact, 0);
}

int
sm_subscription_out(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	int ev = sm_sub_event_of(s->type, 0);
	const struct sm_roster_item *old;
	const struct sm_sub_rule *r;
	enum sm_sub_state st;
	struct sb_arena *a = arena_of(s);
	char *contact;

	if (ev < 0 || s->to_absent) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, "a subscription stanza needs a 'to'");
		return SM_DONE;
	}
	contact = sb_arena_strndup(a, s->to.str, sb_jid_bare_len(&s->to));
	old = sm_roster_find(u, contact, strlen(contact));
	st = sm_sub_state_of(old);
	r = &rules[st][ev];
	if (makes_item(old, r) && u->roster.nitems >= (size_t)s->sm->conf->roster_max) {
		sm_reply_error(s, SB_SERR_NOT_ALLOWED, "the roster is full");
		return SM_DONE;
	}
	/* 3.1.2: from the user's bare JID, to the contact's. */
	sb_xml_set_attr(a, s->st, "from", u->bare);
	sb_xml_set_attr(a, s->st, "to", contact);
	return sm_roster_commit(s, contact, next_item(old, contact, r), NULL, 0, out_done,
	    RULE_ARG(st, ev));
}

/* --- inbound (A.3) --- */

/* The stanza to the user's sessions: subscribe to the available, the rest to the interested. */
static void
deliver(struct sm_stanza *s, int to_available)
{
	for (struct sm_session *x = s->user->sessions; x != NULL; x = x->next)
		if (to_available ? x->available : x->interested)
			sm_send_session(s->sm, x, s->st);
}

static void
in_done(struct sm_stanza *s, enum sb_store_err err, const struct sm_roster_item *it,
    int changed, unsigned arg)
{
	const struct sm_sub_rule *r = ARG_RULE(arg);
	struct sm_user *u = s->user;
	const char *contact = sb_xml_attr(s->st, "from");

	if (err != SB_STORE_OK) {
		sm_reply_store_error(s, err);
		return;
	}
	/* 3.1.6: the approval reaches the user before the push. */
	if (r->acts & SM_SA_FWD)
		deliver(s, (arg & 0xff) == SM_SE_IN_SUBSCRIBE);
	if (r->acts & SM_SA_REPLY)
		send_sub(s->sm, "subscribed", u->bare, contact);
	if (changed)
		sm_roster_push(u, it, 0);
	if (r->acts & SM_SA_PRESENCE)
		sm_presence_to_contact(u, contact, 1);
	if (r->acts & SM_SA_UNAVAIL)
		sm_presence_to_contact(u, contact, 0);
}

int
sm_subscription_in(struct sm_stanza *s)
{
	struct sm_user *u = s->user;
	int ev = sm_sub_event_of(s->type, 1), ret;
	const struct sm_roster_item *old;
	const struct sm_sub_rule *r;
	struct sm_roster_item *next;
	struct sb_arena *a = arena_of(s);
	struct sb_buf text = SB_BUF_INIT;
	enum sm_sub_state st;
	char *contact;

	if (ev < 0 || s->from.len == 0)
		return SM_DONE;
	contact = sb_arena_strndup(a, s->from.str, sb_jid_bare_len(&s->from));
	switch (u->state) {
	case SM_USER_NONE:
		/* 8.5.1: no such user; a request is refused, the rest dropped. */
		if (ev == SM_SE_IN_SUBSCRIBE)
			send_sub(s->sm, "unsubscribed", u->bare, contact);
		return SM_DONE;
	case SM_USER_READY:
		break;
	default:
		sm_reply_store_error(s, u->load_err);
		return SM_DONE;
	}
	old = sm_roster_find(u, contact, strlen(contact));
	st = sm_sub_state_of(old);
	r = &rules[st][ev];
	if (old == NULL && r->next != SM_SS_NONE &&
	    u->roster.items.count - u->roster.nitems >= (size_t)s->sm->conf->roster_max) {
		log_info("user %s: too many pending subscription requests: %s's dropped",
		    u->bare, contact);
		return SM_DONE;
	}
	/* To the bare JID, from the contact's (3.1.3). */
	sb_xml_set_attr(a, s->st, "to", u->bare);
	sb_xml_set_attr(a, s->st, "from", contact);
	next = next_item(old, contact, r);
	if (next != NULL && next->pending_in && (old == NULL || !old->pending_in)) {
		sb_xml_write(&text, s->st, NULL);
		sb_buf_append_char(&text, '\0');
	}
	ret = sm_roster_commit(s, contact, next, sb_buf_len(&text) ? sb_buf_data(&text) : NULL,
	    0, in_done, RULE_ARG(st, ev));
	sb_buf_free(&text);
	return ret;
}

/* --- removal and account deletion (2.5.2, XEP-0077) --- */

void
sm_subscription_cancel(struct sm_stanza *s, const struct sm_roster_item *it)
{
	struct sm_user *u = s->user;

	/* The contact sees the user go before losing the subscription. */
	if (it->sub & SM_SUB_FROM)
		sm_presence_to_contact(u, it->jid, 0);
	if ((it->sub & SM_SUB_TO) || it->ask)
		send_sub(s->sm, "unsubscribe", u->bare, it->jid);
	if ((it->sub & SM_SUB_FROM) || it->pending_in)
		send_sub(s->sm, "unsubscribed", u->bare, it->jid);
}

static int
cancel_one(struct sb_hmap_node *n, void *arg)
{
	sm_subscription_cancel(arg, SB_HMAP_ENTRY(n, struct sm_roster_item, hn));
	return 0;
}

/* The account is going: every contact is told (the database rows go with it). */
static void
sub_account_delete(struct sm_stanza *s)
{
	if (s->user->roster.items.slots != NULL)
		sb_hmap_each(&s->user->roster.items, cancel_one, s);
}

/* --- pending requests --- */

static void
requests_loaded(const struct sb_store_result *r, void *arg)
{
	struct sm_user *u = arg;

	for (size_t i = 0; r->err == SB_STORE_OK && i < r->nrows; i++) {
		const char *jid = sb_store_text(r, i, 0);
		struct sm_roster_item *it = sm_roster_find(u, jid, strlen(jid));

		/* roster.c may not have loaded the item yet: it keeps this flag. */
		if (it == NULL) {
			it = sm_roster_item_new(jid, strlen(jid), NULL, NULL, 0);
			sb_hmap_insert(&u->roster.items, &it->hn, it->jid, strlen(it->jid));
		}
		it->pending_in = 1;
	}
	sm_user_loaded(u, r->err);
	sm_run_ready(u->sm);
}

static void
sub_user_load(struct sm_user *u)
{
	struct sb_db_value p[2];

	p[0] = sb_db_text(u->domain->name);
	p[1] = sb_db_text(u->local);
	sb_store_query(u->sm->store, SB_Q_SUBREQ_LOAD, p, requests_loaded, u);
}

/* A session that became available, named so it can be found again (or not). */
struct redeliver {
	struct sm_user	*u;
	char		*c2s, *sid;
};

static void
requests_read(const struct sb_store_result *r, void *arg)
{
	struct redeliver *rd = arg;
	struct sm_user *u = rd->u;
	struct sm_session *sess = sm_session_find(u->sm, rd->c2s, rd->sid);
	struct sb_arena a;

	if (r->err != SB_STORE_OK)
		log_warn("user %s: pending subscription requests not read (%s): delivered at "
		    "the next login", u->bare, sb_store_err_name(r->err));
	sb_arena_init(&a, 0);
	for (size_t i = 0; r->err == SB_STORE_OK && sess != NULL && sess->available &&
	    i < r->nrows; i++) {
		const char *jid = sb_store_text(r, i, 0), *text = sb_store_text(r, i, 1);
		const struct sm_roster_item *it = sm_roster_find(u, jid, strlen(jid));
		struct sb_xml_node *holder = sb_xml_new(&a, NULL, "requests"), *st;

		/* Answered while we read: nothing to deliver. */
		if (it == NULL || !it->pending_in)
			continue;
		if (sm_xml_parse_text(&a, holder, text, strlen(text)) != 1) {
			log_warn("user %s: the stored request of %s is damaged: not delivered",
			    u->bare, jid);
			continue;
		}
		SB_XML_FOREACH_CHILD(st, holder)
			sm_send_session(u->sm, sess, st);
	}
	sb_arena_free(&a);
	free(rd->c2s);
	free(rd->sid);
	free(rd);
	sm_user_unref(u);
}

static int
has_pending(struct sb_hmap_node *n, void *arg)
{
	int *found = arg;

	*found = SB_HMAP_ENTRY(n, struct sm_roster_item, hn)->pending_in;
	return *found;
}

/*
 * Initial presence: the requests still unanswered go to this session
 * (3.1.3). The read does not hold the user's other stanzas; whatever
 * answers a request meanwhile is seen when the rows come back.
 */
static void
sub_available(struct sm_stanza *s, struct sm_session *sess)
{
	struct sm_user *u = s->user;
	struct redeliver *rd;
	struct sb_db_value p[2];
	int found = 0;

	sb_hmap_each(&u->roster.items, has_pending, &found);
	if (!found)
		return;
	rd = xcalloc(1, sizeof(*rd));
	rd->u = u;
	rd->c2s = xstrdup(sess->c2s);
	rd->sid = xstrdup(sess->sid);
	sm_user_ref(u);
	p[0] = sb_db_text(u->domain->name);
	p[1] = sb_db_text(u->local);
	sb_store_query(u->sm->store, SB_Q_SUBREQ_LOAD, p, requests_read, rd);
}

const struct sm_module sm_mod_subscription = {
	.name = "subscription",
	.user_load = sub_user_load,
	.available = sub_available,
	.account_delete = sub_account_delete,
};
