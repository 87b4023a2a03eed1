/*
 * stanza.c: stanza kinds, replies and errors (see stanza.h).
 */
#include <string.h>

#include "ns.h"
#include "stanza.h"

/* RFC 6120 section 8.3.3: each condition and the type it usually carries. */
static const struct {
	const char	*name;
	const char	*type;
} conditions[SB_SERR_COUNT] = {
	[SB_SERR_BAD_REQUEST] = { "bad-request", "modify" },
	[SB_SERR_CONFLICT] = { "conflict", "cancel" },
	[SB_SERR_FEATURE_NOT_IMPLEMENTED] = { "feature-not-implemented", "cancel" },
	[SB_SERR_FORBIDDEN] = { "forbidden", "auth" },
	[SB_SERR_GONE] = { "gone", "cancel" },
	[SB_SERR_INTERNAL_SERVER_ERROR] = { "internal-server-error", "cancel" },
	[SB_SERR_ITEM_NOT_FOUND] = { "item-not-found", "cancel" },
	[SB_SERR_JID_MALFORMED] = { "jid-malformed", "modify" },
	[SB_SERR_NOT_ACCEPTABLE] = { "not-acceptable", "modify" },
	[SB_SERR_NOT_ALLOWED] = { "not-allowed", "cancel" },
	[SB_SERR_NOT_AUTHORIZED] = { "not-authorized", "auth" },
	[SB_SERR_POLICY_VIOLATION] = { "policy-violation", "modify" },
	[SB_SERR_RECIPIENT_UNAVAILABLE] = { "recipient-unavailable", "wait" },
	[SB_SERR_REDIRECT] = { "redirect", "modify" },
	[SB_SERR_REGISTRATION_REQUIRED] = { "registration-required", "auth" },
	[SB_SERR_REMOTE_SERVER_NOT_FOUND] = { "remote-server-not-found", "cancel" },
	[SB_SERR_REMOTE_SERVER_TIMEOUT] = { "remote-server-timeout", "wait" },
	[SB_SERR_RESOURCE_CONSTRAINT] = { "resource-constraint", "wait" },
	[SB_SERR_SERVICE_UNAVAILABLE] = { "service-unavailable", "cancel" },
	[SB_SERR_SUBSCRIPTION_REQUIRED] = { "subscription-required", "auth" },
	[SB_SERR_UNDEFINED_CONDITION] = { "undefined-condition", "cancel" },
	[SB_SERR_UNEXPECTED_REQUEST] = { "unexpected-request", "wait" },
};

static const struct {
	const char		*name;
	enum sb_stanza_kind	 kind;
} kinds[] = {
	{ "message", SB_STANZA_MESSAGE },
	{ "presence", SB_STANZA_PRESENCE },
	{ "iq", SB_STANZA_IQ },
};

enum sb_stanza_kind
sb_stanza_kind(const struct sb_xml_node *st)
{
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(st->e.name, kinds[i].name) == 0)
			return kinds[i].kind;
	return SB_STANZA_OTHER;
}

const char *
sb_stanza_type(const struct sb_xml_node *st)
{
	const char *t = sb_xml_attr(st, "type");

	return t != NULL ? t : "";
}

int
sb_stanza_is_error(const struct sb_xml_node *st)
{
	return strcmp(sb_stanza_type(st), "error") == 0;
}

const char *
sb_stanza_err_name(enum sb_stanza_err cond)
{
	return (unsigned)cond < SB_SERR_COUNT ? conditions[cond].name : "undefined-condition";
}

const char *
sb_stanza_err_type(enum sb_stanza_err cond)
{
	return (unsigned)cond < SB_SERR_COUNT ? conditions[cond].type : "cancel";
}

int
sb_stanza_err_parse(const char *name, enum sb_stanza_err *out)
{
	for (int i = 0; i < SB_SERR_COUNT; i++) {
		if (strcmp(conditions[i].name, name) == 0) {
			*out = (enum sb_stanza_err)i;
			return 0;
		}
	}
	return -1;
}

void
sb_stanza_swap(struct sb_arena *a, struct sb_xml_node *st)
{
	struct sb_xml_attr *at;

	/* Rename in place: attribute order and values stay as they were. */
	for (at = st->e.attrs; at != NULL; at = at->next) {
		if (at->ns != NULL)
			continue;
		if (strcmp(at->name, "to") == 0)
			at->name = "from";
		else if (strcmp(at->name, "from") == 0)
			at->name = "to";
	}
}

static void
add_error(struct sb_arena *a, struct sb_xml_node *st, enum sb_stanza_err cond, const char *text)
{
	struct sb_xml_node *err, *t;

	err = sb_xml_add(a, st, NULL, "error");
	sb_xml_set_attr(a, err, "type", sb_stanza_err_type(cond));
	sb_xml_add(a, err, SB_NS_XMPP_STANZAS, sb_stanza_err_name(cond));
	if (text != NULL && *text != '\0') {
		t = sb_xml_add(a, err, SB_NS_XMPP_STANZAS, "text");
		sb_xml_set_attr_ns(a, t, SB_NS_XML, "lang", "en");
		sb_xml_add_text(a, t, text, strlen(text));
	}
}

int
sb_stanza_bounce(struct sb_arena *a, struct sb_xml_node *st, enum sb_stanza_err cond,
    const char *text)
{
	if (sb_stanza_is_error(st))
		return -1;
	sb_stanza_swap(a, st);
	sb_xml_set_attr(a, st, "type", "error");
	add_error(a, st, cond, text);
	return 0;
}

static struct sb_xml_node *
reply_shell(struct sb_arena *a, const struct sb_xml_node *st, const char *type)
{
	struct sb_xml_node *r = sb_xml_new(a, st->e.ns, st->e.name);
	const char *v;

	if ((v = sb_xml_attr(st, "from")) != NULL)
		sb_xml_set_attr(a, r, "to", v);
	if ((v = sb_xml_attr(st, "to")) != NULL)
		sb_xml_set_attr(a, r, "from", v);
	if ((v = sb_xml_attr(st, "id")) != NULL)
		sb_xml_set_attr(a, r, "id", v);
	sb_xml_set_attr(a, r, "type", type);
	return r;
}

struct sb_xml_node *
sb_stanza_error_reply(struct sb_arena *a, const struct sb_xml_node *st,
    enum sb_stanza_err cond, const char *text)
{
	struct sb_xml_node *r;

	if (sb_stanza_is_error(st))
		return NULL;
	r = reply_shell(a, st, "error");
	add_error(a, r, cond, text);
	return r;
}

struct sb_xml_node *
sb_stanza_iq_result(struct sb_arena *a, const struct sb_xml_node *iq)
{
	return reply_shell(a, iq, "result");
}

int
sb_stanza_error_condition(const struct sb_xml_node *st, enum sb_stanza_err *out)
{
	const struct sb_xml_node *err = sb_xml_child(st, NULL, "error"), *c;

	if (err == NULL)
		return -1;
	SB_XML_FOREACH_CHILD(c, err)
		if (sb_xml_is(c, SB_NS_XMPP_STANZAS, NULL) && strcmp(c->e.name, "text") != 0)
			return sb_stanza_err_parse(c->e.name, out);
	return -1;
}
