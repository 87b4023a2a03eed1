/*
 * roster.h: what roster.c, subscription.c and presence.c share and the
 * rest of sm does not need (sm.h has the types and the entry points the
 * core calls). RFC 6121 in three files:
 *
 *   roster.c        the items in memory and in storage: loading, the one
 *                   way to change an item (sm_roster_commit), roster pushes,
 *                   and the jabber:iq:roster IQs (section 2, XEP-0237)
 *   subscription.c  the subscription state machine (section 3, Appendix A)
 *                   as a table, pending requests, pre-approval
 *   presence.c      presence broadcast, probes, directed presence
 *                   (section 4, 8.5)
 *
 * Proposed for sm.h once it settles; kept here so the three files need no
 * change in the core.
 */
#ifndef SM_ROSTER_H
#define SM_ROSTER_H

#include "sm.h"

/* --- roster.c: items --- */

/*
 * A new item: one allocation holding the struct, the JID, the name and the
 * groups, freed with sm_roster_item_free(). Flags are zero.
 */
struct sm_roster_item *sm_roster_item_new(const char *jid, size_t jidlen, const char *name,
		    const char *const *groups, size_t ngroups);
/* A copy of it (strings and flags), not in any roster. */
struct sm_roster_item *sm_roster_item_copy(const struct sm_roster_item *it);
void	 sm_roster_item_free(struct sm_roster_item *it);

/*
 * Changing an item. The roster in memory is authoritative while the user is
 * loaded, and the database is kept in step: a change is written first (one
 * transaction: the item, its groups, the tombstone of a removed item, the
 * pending request, the account's roster version) and takes effect in memory
 * only once committed, so a failed write changes nothing.
 *
 * next is the item as it must be (ownership passes), or NULL to forget the
 * JID entirely. A change visible in the roster (in or out of it, or a
 * different subscription, ask or approved) gets the next roster version;
 * SM_RC_BUMP forces that (a roster set), SM_RC_GROUPS rewrites the groups.
 * subreq is the stanza text to keep when next->pending_in is newly set.
 *
 * done runs once, after the commit (or at once when there is nothing to
 * write) with err, the item as it now is (for a removal: the old item,
 * freed after done returns; NULL on error), whether the change was visible
 * (push it), and arg. sm_roster_commit() returns SM_WAIT when it suspended
 * s (done then gets the stable copy), SM_DONE when done already ran.
 */
#define SM_RC_BUMP	0x01
#define SM_RC_GROUPS	0x02

typedef void sm_roster_done(struct sm_stanza *s, enum sb_store_err err,
	     const struct sm_roster_item *item, int changed, unsigned arg);

int	 sm_roster_commit(struct sm_stanza *s, const char *jid, struct sm_roster_item *next,
	     const char *subreq, unsigned flags, sm_roster_done *done, unsigned arg);

/* Push the item (removed: subscription='remove') to every interested session. */
void	 sm_roster_push(struct sm_user *u, const struct sm_roster_item *it, int removed);

/* --- subscription.c: Appendix A as a table --- */

/*
 * The nine states of RFC 6121 A.1, and three more for a pre-approval
 * (section 3.4), which is only possible in None, None + Pending Out and To.
 */
enum sm_sub_state {
	SM_SS_NONE,
	SM_SS_NONE_PO,		/* None + Pending Out */
	SM_SS_NONE_PI,		/* None + Pending In */
	SM_SS_NONE_POI,		/* None + Pending Out+In */
	SM_SS_TO,
	SM_SS_TO_PI,		/* To + Pending In */
	SM_SS_FROM,
	SM_SS_FROM_PO,		/* From + Pending Out */
	SM_SS_BOTH,
	SM_SS_NONE_A,		/* None, pre-approved */
	SM_SS_NONE_PO_A,	/* None + Pending Out, pre-approved */
	SM_SS_TO_A,		/* To, pre-approved */
	SM_SS_COUNT
};

enum sm_sub_event {
	SM_SE_OUT_SUBSCRIBE,	/* A.2.1 */
	SM_SE_OUT_SUBSCRIBED,	/* A.2.2, 3.4 */
	SM_SE_OUT_UNSUBSCRIBE,	/* A.2.3 */
	SM_SE_OUT_UNSUBSCRIBED,	/* A.2.4 */
	SM_SE_IN_SUBSCRIBE,	/* A.3.1 */
	SM_SE_IN_SUBSCRIBED,	/* A.3.2 */
	SM_SE_IN_UNSUBSCRIBE,	/* A.3.3 */
	SM_SE_IN_UNSUBSCRIBED,	/* A.3.4 */
	SM_SE_COUNT
};

/* What a transition does besides changing the state. */
#define SM_SA_FWD	0x01	/* route it (outbound) / deliver it to the user (inbound) */
#define SM_SA_PUSH	0x02	/* the roster item changes: push it */
#define SM_SA_REPLY	0x04	/* answer 'subscribed' for the user (3.1.3 auto-reply, 3.4) */
#define SM_SA_PRESENCE	0x08	/* the contact now sees the user: send current presence (3.1.5) */
#define SM_SA_UNAVAIL	0x10	/* the contact no longer does: send unavailable (3.2.2, 3.3.3) */

struct sm_sub_rule {
	unsigned char	 next;		/* enum sm_sub_state */
	unsigned char	 acts;		/* SM_SA_* */
};

const struct sm_sub_rule *sm_sub_rule(enum sm_sub_state st, enum sm_sub_event ev);
/* The state of an item (NULL: none at all). */
enum sm_sub_state sm_sub_state_of(const struct sm_roster_item *it);
/* Set the item's sub, ask, approved and pending_in to state st. */
void	 sm_sub_state_set(struct sm_roster_item *it, enum sm_sub_state st);
/* "None + Pending Out" ... as Appendix A writes them ("None, approved" for ours). */
const char *sm_sub_state_name(enum sm_sub_state st);
/* "subscribe" -> SM_SE_OUT_SUBSCRIBE or SM_SE_IN_SUBSCRIBE; -1 when not a subscription type. */
int	 sm_sub_event_of(const char *type, int inbound);

/*
 * Send what removing the item implies (RFC 6121 2.5.2): unsubscribe when the
 * user is subscribed to the contact or asked to be, unsubscribed when the
 * contact is subscribed to the user or asked to be, and unavailable from
 * every available session when the contact was seeing the user. Also for
 * an account being deleted (XEP-0077 3.2).
 */
void	 sm_subscription_cancel(struct sm_stanza *s, const struct sm_roster_item *it);

/* --- presence.c --- */

/*
 * Send the contact (a bare JID) the user's presence: the last available
 * presence of every available session (available), or unavailable from each
 * of them.
 */
void	 sm_presence_to_contact(struct sm_user *u, const char *contact, int available);

#endif
