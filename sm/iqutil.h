/*
 * iqutil.h: what the IQ modules (disco.c, vcard.c, private.c, last.c)
 * share: who is asking about an account, and XML elements kept as text in
 * storage (vCards, private XML).
 */
#ifndef SM_IQUTIL_H
#define SM_IQUTIL_H

#include "sm.h"

/* Is the requester (s->from) the account itself, from any of its resources? */
int	 sm_iq_from_owner(const struct sm_stanza *s);
/*
 * May the requester see the account's presence: the account itself, or a
 * contact the user has a subscription 'from' or 'both' with (RFC 6121). The
 * test XEP-0030 (disco of a bare JID) and XEP-0012 (last activity) ask for.
 */
int	 sm_iq_sees_presence(const struct sm_stanza *s);
/* A handler that answers forbidden: another user's data that only its owner may touch. */
int	 sm_iq_forbidden(struct sm_stanza *s, struct sb_xml_node *payload);

/*
 * Parse XML text written by sb_xml_write() (with no default namespace) back
 * into elements: each top-level element of text is appended to parent,
 * allocated in a. Returns the number of elements, or -1 when the text is
 * not well-formed XML (a broken row: the caller logs it; parent may then
 * hold the elements before the damage).
 */
int	 sm_xml_parse_text(struct sb_arena *a, struct sb_xml_node *parent, const char *text,
	     size_t len);

#endif
