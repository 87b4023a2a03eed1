/*
 * sm_subscription.c: tests for sm/subscription.c's state machine against
 * RFC 6121 Appendix A, every state and every stanza:
 *
 *   - the nine states x eight stanzas of A.2 and A.3, written out here as
 *     the RFC's tables (existing state, route or deliver?, new state),
 *     with the three rows 3.4 changes (pre-approval) marked;
 *   - the three pre-approved states: like their plain state for every
 *     stanza but the three that make, use or cancel a pre-approval;
 *   - what the table says besides the state, checked against what it must
 *     follow from: a push exactly when the roster shows a change, current
 *     presence exactly when the contact gains a subscription to the user,
 *     unavailable exactly when it loses one, each bit moved only by the
 *     stanzas that concern it;
 *   - items <-> states, and the stanza types;
 *   - both halves together: two simulated servers running the table for
 *     each other reach the states the RFC's narrative (section 3) says.
 * Also the roster item allocation (roster.c): one block, copies.
 */
#include <stdlib.h>
#include <string.h>

#include "sm/roster.h"
#include "tap.h"

static const char *const events[SM_SE_COUNT] = {
	"out subscribe", "out subscribed", "out unsubscribe", "out unsubscribed",
	"in subscribe", "in subscribed", "in unsubscribe", "in unsubscribed",
};

/*
 * RFC 6121 A.2.1-A.2.4 and A.3.1-A.3.4 as printed: route ("yes", "no", or
 * "no*": no, but the server auto-replies 'subscribed'), and the new state
 * (NULL: "no state change"). The 3.4 column gives the state pre-approval
 * makes of a row A.2.2 leaves unchanged.
 */
struct rfc_row {
	enum sm_sub_event	 ev;
	const char		*state;
	const char		*route;
	const char		*next;
	const char		*preapproval;
};

static const struct rfc_row rfc[] = {
	/* A.2.1 Subscribe */
	{ SM_SE_OUT_SUBSCRIBE, "None", "yes", "None + Pending Out", NULL },
	{ SM_SE_OUT_SUBSCRIBE, "None + Pending Out", "yes", NULL, NULL },
	{ SM_SE_OUT_SUBSCRIBE, "None + Pending In", "yes", "None + Pending Out+In", NULL },
	{ SM_SE_OUT_SUBSCRIBE, "None + Pending Out+In", "yes", NULL, NULL },
	{ SM_SE_OUT_SUBSCRIBE, "To", "yes", NULL, NULL },
	{ SM_SE_OUT_SUBSCRIBE, "To + Pending In", "yes", NULL, NULL },
	{ SM_SE_OUT_SUBSCRIBE, "From", "yes", "From + Pending Out", NULL },
	{ SM_SE_OUT_SUBSCRIBE, "From + Pending Out", "yes", NULL, NULL },
	{ SM_SE_OUT_SUBSCRIBE, "Both", "yes", NULL, NULL },
	/* A.2.2 Subscribed */
	{ SM_SE_OUT_SUBSCRIBED, "None", "no", NULL, "None, pre-approved" },
	{ SM_SE_OUT_SUBSCRIBED, "None + Pending Out", "no", NULL,
	  "None + Pending Out, pre-approved" },
	{ SM_SE_OUT_SUBSCRIBED, "None + Pending In", "yes", "From", NULL },
	{ SM_SE_OUT_SUBSCRIBED, "None + Pending Out+In", "yes", "From + Pending Out", NULL },
	{ SM_SE_OUT_SUBSCRIBED, "To", "no", NULL, "To, pre-approved" },
	{ SM_SE_OUT_SUBSCRIBED, "To + Pending In", "yes", "Both", NULL },
	{ SM_SE_OUT_SUBSCRIBED, "From", "no", NULL, NULL },
	{ SM_SE_OUT_SUBSCRIBED, "From + Pending Out", "no", NULL, NULL },
	{ SM_SE_OUT_SUBSCRIBED, "Both", "no", NULL, NULL },
	/* A.2.3 Unsubscribe */
	{ SM_SE_OUT_UNSUBSCRIBE, "None", "yes", NULL, NULL },
	{ SM_SE_OUT_UNSUBSCRIBE, "None + Pending Out", "yes", "None", NULL },
	{ SM_SE_OUT_UNSUBSCRIBE, "None + Pending In", "yes", NULL, NULL },
	{ SM_SE_OUT_UNSUBSCRIBE, "None + Pending Out+In", "yes", "None + Pending In", NULL },
	{ SM_SE_OUT_UNSUBSCRIBE, "To", "yes", "None", NULL },
	{ SM_SE_OUT_UNSUBSCRIBE, "To + Pending In", "yes", "None + Pending In", NULL },
	{ SM_SE_OUT_UNSUBSCRIBE, "From", "yes", NULL, NULL },
	{ SM_SE_OUT_UNSUBSCRIBE, "From + Pending Out", "yes", "From", NULL },
	{ SM_SE_OUT_UNSUBSCRIBE, "Both", "yes", "From", NULL },
	/* A.2.4 Unsubscribed */
	{ SM_SE_OUT_UNSUBSCRIBED, "None", "no", NULL, NULL },
	{ SM_SE_OUT_UNSUBSCRIBED, "None + Pending Out", "no", NULL, NULL },
	{ SM_SE_OUT_UNSUBSCRIBED, "None + Pending In", "yes", "None", NULL },
	{ SM_SE_OUT_UNSUBSCRIBED, "None + Pending Out+In", "yes", "None + Pending Out", NULL },
	{ SM_SE_OUT_UNSUBSCRIBED, "To", "no", NULL, NULL },
	{ SM_SE_OUT_UNSUBSCRIBED, "To + Pending In", "yes", "To", NULL },
	{ SM_SE_OUT_UNSUBSCRIBED, "From", "yes", "None", NULL },
	{ SM_SE_OUT_UNSUBSCRIBED, "From + Pending Out", "yes", "None + Pending Out", NULL },
	{ SM_SE_OUT_UNSUBSCRIBED, "Both", "yes", "To", NULL },
	/* A.3.1 Subscribe */
	{ SM_SE_IN_SUBSCRIBE, "None", "yes", "None + Pending In", NULL },
	{ SM_SE_IN_SUBSCRIBE, "None + Pending Out", "yes", "None + Pending Out+In", NULL },
	{ SM_SE_IN_SUBSCRIBE, "None + Pending In", "no", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBE, "None + Pending Out+In", "no", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBE, "To", "yes", "To + Pending In", NULL },
	{ SM_SE_IN_SUBSCRIBE, "To + Pending In", "no", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBE, "From", "no*", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBE, "From + Pending Out", "no*", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBE, "Both", "no*", NULL, NULL },
	/* A.3.2 Subscribed */
	{ SM_SE_IN_SUBSCRIBED, "None", "no", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBED, "None + Pending Out", "yes", "To", NULL },
	{ SM_SE_IN_SUBSCRIBED, "None + Pending In", "no", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBED, "None + Pending Out+In", "yes", "To + Pending In", NULL },
	{ SM_SE_IN_SUBSCRIBED, "To", "no", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBED, "To + Pending In", "no", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBED, "From", "no", NULL, NULL },
	{ SM_SE_IN_SUBSCRIBED, "From + Pending Out", "yes", "Both", NULL },
	{ SM_SE_IN_SUBSCRIBED, "Both", "no", NULL, NULL },
	/* A.3.3 Unsubscribe */
	{ SM_SE_IN_UNSUBSCRIBE, "None", "no", NULL, NULL },
	{ SM_SE_IN_UNSUBSCRIBE, "None + Pending Out", "no", NULL, NULL },
	{ SM_SE_IN_UNSUBSCRIBE, "None + Pending In", "yes", "None", NULL },
	{ SM_SE_IN_UNSUBSCRIBE, "None + Pending Out+In", "yes", "None + Pending Out", NULL },
	{ SM_SE_IN_UNSUBSCRIBE, "To", "no", NULL, NULL },
	{ SM_SE_IN_UNSUBSCRIBE, "To + Pending In", "yes", "To", NULL },
	{ SM_SE_IN_UNSUBSCRIBE, "From", "yes", "None", NULL },
	{ SM_SE_IN_UNSUBSCRIBE, "From + Pending Out", "yes", "None + Pending Out", NULL },
	{ SM_SE_IN_UNSUBSCRIBE, "Both", "yes", "To", NULL },
	/* A.3.4 Unsubscribed */
	{ SM_SE_IN_UNSUBSCRIBED, "None", "no", NULL, NULL },
	{ SM_SE_IN_UNSUBSCRIBED, "None + Pending Out", "yes", "None", NULL },
	{ SM_SE_IN_UNSUBSCRIBED, "None + Pending In", "no", NULL, NULL },
	{ SM_SE_IN_UNSUBSCRIBED, "None + Pending Out+In", "yes", "None + Pending In", NULL },
	{ SM_SE_IN_UNSUBSCRIBED, "To", "yes", "None", NULL },
	{ SM_SE_IN_UNSUBSCRIBED, "To + Pending In", "yes", "None + Pending In", NULL },
	{ SM_SE_IN_UNSUBSCRIBED, "From", "no", NULL, NULL },
	{ SM_SE_IN_UNSUBSCRIBED, "From + Pending Out", "yes", "From", NULL },
	{ SM_SE_IN_UNSUBSCRIBED, "Both", "yes", "From", NULL },
};

static int
state_named(const char *name)
{
	for (int st = 0; st < SM_SS_COUNT; st++)
		if (strcmp(sm_sub_state_name(st), name) == 0)
			return st;
	return -1;
}

/* Every row of the RFC's tables, and every base cell covered exactly once. */
static void
test_rfc_tables(void)
{
	int seen[SM_SS_COUNT][SM_SE_COUNT] = { { 0 } };
	int bad = 0;

	for (size_t i = 0; i < sizeof(rfc) / sizeof(rfc[0]); i++) {
		const struct rfc_row *row = &rfc[i];
		int st = state_named(row->state);
		int want = state_named(row->preapproval ? row->preapproval :
		    row->next ? row->next : row->state);
		const struct sm_sub_rule *r;
		int fwd = strcmp(row->route, "yes") == 0, reply = strcmp(row->route, "no*") == 0;

		if (!ok(st >= 0 && want >= 0, "%s in %s: states named in the RFC exist",
		    events[row->ev], row->state)) {
			bad++;
			continue;
		}
		seen[st][row->ev]++;
		r = sm_sub_rule(st, row->ev);
		if (!ok(r->next == want && !!(r->acts & SM_SA_FWD) == fwd &&
		    !!(r->acts & SM_SA_REPLY) == reply,
		    "%s in \"%s\": %s, %s%s", events[row->ev], row->state,
		    fwd ? "routed" : reply ? "auto-reply" : "not routed",
		    row->preapproval ? row->preapproval : row->next ? row->next :
		    "no state change", row->preapproval ? " (3.4)" : ""))
			diag("  got \"%s\", acts 0x%x", sm_sub_state_name(r->next), r->acts);
	}
	for (int st = 0; st <= SM_SS_BOTH; st++)
		for (int ev = 0; ev < SM_SE_COUNT; ev++)
			bad += seen[st][ev] != 1;
	is_int(bad, 0, "the RFC rows cover the 9 states x 8 stanzas once each");
}

/* The plain state of a pre-approved one, and back. */
static const struct {
	enum sm_sub_state	 approved, plain;
} approvals[] = {
	{ SM_SS_NONE_A, SM_SS_NONE },
	{ SM_SS_NONE_PO_A, SM_SS_NONE_PO },
	{ SM_SS_TO_A, SM_SS_TO },
};

static int
approved_form(int st)
{
	for (size_t i = 0; i < 3; i++)
		if (approvals[i].plain == (enum sm_sub_state)st)
			return approvals[i].approved;
	return -1;
}

/*
 * 3.4: a pre-approved state answers a request at once (subscribed sent,
 * the contact sees the user), ignores a second 'subscribed', loses the
 * approval on 'unsubscribed' without routing it; for the other stanzas it
 * is its plain state, keeping the approval.
 */
static void
test_preapproval(void)
{
	for (size_t i = 0; i < 3; i++) {
		enum sm_sub_state a = approvals[i].approved, p = approvals[i].plain;
		const struct sm_sub_rule *r;
		int plain_ok = 1;

		r = sm_sub_rule(a, SM_SE_IN_SUBSCRIBE);
		ok(r->acts == (SM_SA_REPLY | SM_SA_PUSH | SM_SA_PRESENCE) &&
		    r->next == sm_sub_rule(sm_sub_rule(p, SM_SE_IN_SUBSCRIBE)->next,
		    SM_SE_OUT_SUBSCRIBED)->next,
		    "\"%s\": a request is approved at once, not shown to the user",
		    sm_sub_state_name(a));
		r = sm_sub_rule(a, SM_SE_OUT_SUBSCRIBED);
		ok(r->next == a && r->acts == 0, "\"%s\": subscribed again changes nothing",
		    sm_sub_state_name(a));
		r = sm_sub_rule(a, SM_SE_OUT_UNSUBSCRIBED);
		ok(r->next == p && r->acts == SM_SA_PUSH,
		    "\"%s\": unsubscribed cancels the pre-approval, not routed",
		    sm_sub_state_name(a));
		for (int ev = 0; ev < SM_SE_COUNT; ev++) {
			const struct sm_sub_rule *pr = sm_sub_rule(p, ev);

			if (ev == SM_SE_IN_SUBSCRIBE || ev == SM_SE_OUT_SUBSCRIBED ||
			    ev == SM_SE_OUT_UNSUBSCRIBED)
				continue;
			r = sm_sub_rule(a, ev);
			if (r->next != approved_form(pr->next) || r->acts != pr->acts) {
				plain_ok = 0;
				diag("  %s: got \"%s\"/0x%x", events[ev],
				    sm_sub_state_name(r->next), r->acts);
			}
		}
		ok(plain_ok, "\"%s\": the other stanzas as in \"%s\", approval kept",
		    sm_sub_state_name(a), sm_sub_state_name(p));
	}
}

/* What a state shows and holds, read through an item. */
struct bits {
	unsigned	 sub, ask, pi, ap;
};

static struct bits
bits_of(int st)
{
	struct sm_roster_item it = { 0 };

	sm_sub_state_set(&it, st);
	return (struct bits){ it.sub, it.ask, it.pending_in, it.approved };
}

static int
is_one_of(int ev, int a, int b, int c, int d)
{
	return ev == a || ev == b || ev == c || ev == d;
}

/* The table's other columns follow from the states; each bit moves only when it may. */
static void
test_consistency(void)
{
	int push = 0, pres = 0, unav = 0, reply = 0, to = 0, from = 0, ap = 0, range = 0;

	for (int st = 0; st < SM_SS_COUNT; st++) {
		for (int ev = 0; ev < SM_SE_COUNT; ev++) {
			const struct sm_sub_rule *r = sm_sub_rule(st, ev);
			struct bits o = bits_of(st), n;
			int visible, gained, lost;

			if (r->next >= SM_SS_COUNT) {
				range++;
				continue;
			}
			n = bits_of(r->next);
			visible = o.sub != n.sub || o.ask != n.ask || o.ap != n.ap;
			gained = !(o.sub & SM_SUB_FROM) && (n.sub & SM_SUB_FROM);
			lost = (o.sub & SM_SUB_FROM) && !(n.sub & SM_SUB_FROM);
			push += visible != !!(r->acts & SM_SA_PUSH);
			pres += gained != !!(r->acts & SM_SA_PRESENCE);
			unav += lost != !!(r->acts & SM_SA_UNAVAIL);
			reply += (r->acts & SM_SA_REPLY) && ev != SM_SE_IN_SUBSCRIBE;
			/* The user's subscription to the contact: subscribe and its answers. */
			if (((o.sub & SM_SUB_TO) != (n.sub & SM_SUB_TO) || o.ask != n.ask) &&
			    !is_one_of(ev, SM_SE_OUT_SUBSCRIBE, SM_SE_OUT_UNSUBSCRIBE,
			    SM_SE_IN_SUBSCRIBED, SM_SE_IN_UNSUBSCRIBED))
				to++;
			/* The contact's subscription to the user: the other four. */
			if (((o.sub & SM_SUB_FROM) != (n.sub & SM_SUB_FROM) || o.pi != n.pi) &&
			    !is_one_of(ev, SM_SE_IN_SUBSCRIBE, SM_SE_IN_UNSUBSCRIBE,
			    SM_SE_OUT_SUBSCRIBED, SM_SE_OUT_UNSUBSCRIBED))
				from++;
			if (o.ap != n.ap && !is_one_of(ev, SM_SE_OUT_SUBSCRIBED,
			    SM_SE_OUT_UNSUBSCRIBED, SM_SE_IN_SUBSCRIBE, -1))
				ap++;
		}
	}
	is_int(range, 0, "every transition leads to a defined state");
	is_int(push, 0, "a roster push exactly when the item shows a change");
	is_int(pres, 0, "current presence exactly when the contact gains a subscription (3.1.5)");
	is_int(unav, 0, "unavailable exactly when the contact loses its subscription "
	    "(3.2.2, 3.3.3)");
	is_int(reply, 0, "auto-replies only to an inbound request");
	is_int(to, 0, "the user's side (To, ask) moves only on subscribe, unsubscribe "
	    "outbound and their answers inbound");
	is_int(from, 0, "the contact's side (From, pending in) moves only on the requests "
	    "inbound and the answers outbound");
	is_int(ap, 0, "a pre-approval is made, cancelled or used only by subscribed, "
	    "unsubscribed and an inbound request");
}

static void
test_items_and_types(void)
{
	struct sm_roster_item it;
	int round = 1, odd = 1;

	for (int st = 0; st < SM_SS_COUNT; st++) {
		memset(&it, 0, sizeof(it));
		sm_sub_state_set(&it, st);
		round &= sm_sub_state_of(&it) == (enum sm_sub_state)st;
	}
	ok(round, "each state survives item -> state -> item");
	is_int(sm_sub_state_of(NULL), SM_SS_NONE, "no item is None");
	/* Bits no state has together, read the way the RFC would. */
	memset(&it, 0, sizeof(it));
	it.sub = SM_SUB_BOTH;
	it.ask = it.pending_in = it.approved = 1;
	odd &= sm_sub_state_of(&it) == SM_SS_BOTH;
	it.sub = SM_SUB_FROM;
	odd &= sm_sub_state_of(&it) == SM_SS_FROM_PO;
	it.sub = SM_SUB_TO;
	odd &= sm_sub_state_of(&it) == SM_SS_TO_PI;
	it.sub = SM_SUB_NONE;
	odd &= sm_sub_state_of(&it) == SM_SS_NONE_POI;
	ok(odd, "impossible bit sets map to the nearest state");

	is_int(sm_sub_event_of("subscribe", 0), SM_SE_OUT_SUBSCRIBE, "outbound subscribe");
	is_int(sm_sub_event_of("unsubscribed", 0), SM_SE_OUT_UNSUBSCRIBED,
	    "outbound unsubscribed");
	is_int(sm_sub_event_of("subscribed", 1), SM_SE_IN_SUBSCRIBED, "inbound subscribed");
	is_int(sm_sub_event_of("unsubscribe", 1), SM_SE_IN_UNSUBSCRIBE, "inbound unsubscribe");
	is_int(sm_sub_event_of("probe", 1), -1, "probe is not a subscription stanza");
	is_int(sm_sub_event_of("", 0), -1, "available is not a subscription stanza");
}

/* --- two servers running the table for each other --- */

struct side {
	int	 st;		/* this side's state toward the other */
	int	 delivered;	/* stanzas its user saw */
	int	 presence;	/* presence notices sent to the other */
};

static void run_in(struct side *me, struct side *peer, int ev);

/* The user of 'me' sends a subscription stanza; the peer's server gets what is routed. */
static void
run_out(struct side *me, struct side *peer, int ev)
{
	const struct sm_sub_rule *r = sm_sub_rule(me->st, ev);

	me->st = r->next;
	if (r->acts & (SM_SA_PRESENCE | SM_SA_UNAVAIL))
		me->presence++;
	if (r->acts & SM_SA_FWD)
		run_in(peer, me, ev + SM_SE_IN_SUBSCRIBE);
}

static void
run_in(struct side *me, struct side *peer, int ev)
{
	const struct sm_sub_rule *r = sm_sub_rule(me->st, ev);

	me->st = r->next;
	if (r->acts & SM_SA_FWD)
		me->delivered++;
	if (r->acts & (SM_SA_PRESENCE | SM_SA_UNAVAIL))
		me->presence++;
	if (r->acts & SM_SA_REPLY)
		run_in(peer, me, SM_SE_IN_SUBSCRIBED);
}

static int
pair_is(const struct side *a, const struct side *b, int sa, int sb)
{
	if (a->st == sa && b->st == sb)
		return 1;
	diag("  got \"%s\" / \"%s\"", sm_sub_state_name(a->st), sm_sub_state_name(b->st));
	return 0;
}

static void
test_two_halves(void)
{
	struct side u = { SM_SS_NONE, 0, 0 }, c = { SM_SS_NONE, 0, 0 };

	run_out(&u, &c, SM_SE_OUT_SUBSCRIBE);
	ok(pair_is(&u, &c, SM_SS_NONE_PO, SM_SS_NONE_PI) && c.delivered == 1,
	    "3.1: a request leaves the user pending out, the contact pending in, delivered");
	run_out(&c, &u, SM_SE_OUT_SUBSCRIBED);
	ok(pair_is(&u, &c, SM_SS_TO, SM_SS_FROM) && u.delivered == 1 && c.presence == 1,
	    "3.1.5: approval: To / From, the approval delivered, the contact's presence sent");
	run_out(&c, &u, SM_SE_OUT_SUBSCRIBE);
	run_out(&u, &c, SM_SE_OUT_SUBSCRIBED);
	ok(pair_is(&u, &c, SM_SS_BOTH, SM_SS_BOTH), "the other way too: Both / Both");
	run_out(&u, &c, SM_SE_OUT_SUBSCRIBE);
	ok(pair_is(&u, &c, SM_SS_BOTH, SM_SS_BOTH),
	    "3.1.3: a request while subscribed is answered for the contact, nothing changes");
	run_out(&u, &c, SM_SE_OUT_UNSUBSCRIBE);
	ok(pair_is(&u, &c, SM_SS_FROM, SM_SS_TO) && c.presence == 2,
	    "3.3: unsubscribe: From / To, the contact sends unavailable");
	run_out(&u, &c, SM_SE_OUT_UNSUBSCRIBED);
	ok(pair_is(&u, &c, SM_SS_NONE, SM_SS_NONE) && u.presence == 2,
	    "3.2: cancelling the contact's subscription: None / None, unavailable sent");

	u = (struct side){ SM_SS_NONE, 0, 0 };
	c = (struct side){ SM_SS_NONE, 0, 0 };
	run_out(&u, &c, SM_SE_OUT_SUBSCRIBED);
	ok(pair_is(&u, &c, SM_SS_NONE_A, SM_SS_NONE) && c.delivered == 0,
	    "3.4: a pre-approval stays with the user's server");
	run_out(&c, &u, SM_SE_OUT_SUBSCRIBE);
	ok(pair_is(&u, &c, SM_SS_FROM, SM_SS_TO) && u.delivered == 0 && c.delivered == 1,
	    "3.4: the contact's request is approved at once, unseen by the user");

	u = (struct side){ SM_SS_NONE, 0, 0 };
	c = (struct side){ SM_SS_NONE, 0, 0 };
	run_out(&u, &c, SM_SE_OUT_SUBSCRIBE);
	run_out(&c, &u, SM_SE_OUT_UNSUBSCRIBED);
	ok(pair_is(&u, &c, SM_SS_NONE, SM_SS_NONE) && u.delivered == 1,
	    "3.2.1: a denied request: None / None, the denial delivered");
	run_out(&u, &c, SM_SE_OUT_SUBSCRIBE);
	run_out(&u, &c, SM_SE_OUT_UNSUBSCRIBE);
	ok(pair_is(&u, &c, SM_SS_NONE, SM_SS_NONE) && c.delivered == 3,
	    "a request withdrawn before the answer: None / None");
}

static void
test_item_memory(void)
{
	const char *groups[] = { "Friends", "Work" };
	struct sm_roster_item *it = sm_roster_item_new("romeo@example.net", 17, "Romeo",
	    groups, 2), *c;

	is_str(it->jid, "romeo@example.net", "an item holds its JID");
	is_str(it->name, "Romeo", "and its name");
	ok(it->ngroups == 2 && strcmp(it->groups[0], "Friends") == 0 &&
	    strcmp(it->groups[1], "Work") == 0, "and its groups");
	ok((char *)it->jid > (char *)it && (char *)it->groups[1] > it->jid,
	    "all in the item's own block");
	it->sub = SM_SUB_BOTH;
	it->approved = 1;
	it->in_roster = 1;
	it->version = 42;
	c = sm_roster_item_copy(it);
	ok(c != it && strcmp(c->jid, it->jid) == 0 && c->jid != it->jid &&
	    c->sub == SM_SUB_BOTH && c->approved && c->in_roster && c->version == 42 &&
	    c->ngroups == 2 && strcmp(c->groups[1], "Work") == 0,
	    "a copy has the strings and the flags, in its own block");
	sm_roster_item_free(it);
	sm_roster_item_free(c);
	it = sm_roster_item_new("juliet@example.com", 18, NULL, NULL, 0);
	ok(it->name == NULL && it->ngroups == 0 && !it->in_roster && !it->pending_in,
	    "an item with no name and no groups, flags clear");
	sm_roster_item_free(it);
}

int
main(void)
{
	test_rfc_tables();
	test_preapproval();
	test_consistency();
	test_items_and_types();
	test_two_halves();
	test_item_memory();
	return done_testing();
}
