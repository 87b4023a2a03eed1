/*
 * stanza.h: what every process does with stanzas: tell their kind, build
 * replies, and turn them into errors (RFC 6120 section 8.3).
 */
#ifndef SB_STANZA_H
#define SB_STANZA_H

#include "xml.h"

enum sb_stanza_kind {
	SB_STANZA_OTHER,
	SB_STANZA_MESSAGE,
	SB_STANZA_PRESENCE,
	SB_STANZA_IQ,
};

/* RFC 6120 section 8.3.3, in its order. */
enum sb_stanza_err {
	SB_SERR_BAD_REQUEST,
	SB_SERR_CONFLICT,
	SB_SERR_FEATURE_NOT_IMPLEMENTED,
	SB_SERR_FORBIDDEN,
	SB_SERR_GONE,
	SB_SERR_INTERNAL_SERVER_ERROR,
	SB_SERR_ITEM_NOT_FOUND,
	SB_SERR_JID_MALFORMED,
	SB_SERR_NOT_ACCEPTABLE,
	SB_SERR_NOT_ALLOWED,
	SB_SERR_NOT_AUTHORIZED,
	SB_SERR_POLICY_VIOLATION,
	SB_SERR_RECIPIENT_UNAVAILABLE,
	SB_SERR_REDIRECT,
	SB_SERR_REGISTRATION_REQUIRED,
	SB_SERR_REMOTE_SERVER_NOT_FOUND,
	SB_SERR_REMOTE_SERVER_TIMEOUT,
	SB_SERR_RESOURCE_CONSTRAINT,
	SB_SERR_SERVICE_UNAVAILABLE,
	SB_SERR_SUBSCRIPTION_REQUIRED,
	SB_SERR_UNDEFINED_CONDITION,
	SB_SERR_UNEXPECTED_REQUEST,
	SB_SERR_COUNT
};

enum sb_stanza_kind sb_stanza_kind(const struct sb_xml_node *st);
/* The stanza's 'type' attribute, or "" when absent. */
const char *sb_stanza_type(const struct sb_xml_node *st);
int	 sb_stanza_is_error(const struct sb_xml_node *st);

/* "bad-request" etc.; parse returns -1 for an unknown name. */
const char *sb_stanza_err_name(enum sb_stanza_err cond);
int	 sb_stanza_err_parse(const char *name, enum sb_stanza_err *out);
/* The error type RFC 6120 gives for the condition: "cancel", "modify", ... */
const char *sb_stanza_err_type(enum sb_stanza_err cond);

/* Swap 'to' and 'from' (either may be absent). */
void	 sb_stanza_swap(struct sb_arena *a, struct sb_xml_node *st);
/*
 * Turn st into its own error reply, in place: to/from swapped, type='error',
 * and an <error/> with the condition and, when text is not NULL, a <text/>.
 * The original payload stays (RFC 6120 8.3.1 allows it, and it tells the
 * sender which stanza failed). Returns -1 and leaves st alone when st is
 * itself an error: errors are never answered with errors.
 */
int	 sb_stanza_bounce(struct sb_arena *a, struct sb_xml_node *st,
	     enum sb_stanza_err cond, const char *text);
/*
 * A new error reply to st without its payload (same element name and id,
 * to/from swapped). NULL when st is an error.
 */
struct sb_xml_node *sb_stanza_error_reply(struct sb_arena *a, const struct sb_xml_node *st,
		    enum sb_stanza_err cond, const char *text);
/* <iq type='result'/> answering iq: same id, to/from swapped. */
struct sb_xml_node *sb_stanza_iq_result(struct sb_arena *a, const struct sb_xml_node *iq);
/*
 * The condition of an error stanza: the first child of its <error/> in the
 * stanzas namespace. -1 when st carries no recognizable condition.
 */
int	 sb_stanza_error_condition(const struct sb_xml_node *st, enum sb_stanza_err *out);

#endif
