/*
 * route.c: where a stanza or an envelope goes, and the error replies when
 * it cannot go anywhere.
 *
 * Per stanza the work is: read the top-level 'from' and 'to', prepare
 * both (sb_jid_parse, into stack buffers), check 'from' against the names
 * the link holds, one hash lookup of the 'to' domain, one write of the
 * bytes as they came (or of the serialized tree while the parser gives
 * no raw bytes). Nothing is allocated on that path.
 *
 * A link may send from a name it holds or a JID inside one; the default
 * route (s2s) also from any domain that is not one of ours, since it
 * carries stanzas from remote servers. Error replies go straight back on
 * the link the stanza came from, inside an envelope when it came in one;
 * stanzas of type 'error' are never answered.
 */
#include <stdio.h>
#include <string.h>

#include "jid.h"
#include "ns.h"
#include "router.h"

/* The error reply to st, back to the link it came from. */
static void
bounce(struct link *l, const struct sb_xml_node *env, const struct sb_xml_node *st,
    enum sb_stanza_err cond, const char *text)
{
	struct sb_arena *a = &l->r->scratch;
	struct sb_xml_node *reply, *wrap;
	const char *v;

	l->bounced++;
	l->r->bounced++;
	if ((reply = sb_stanza_error_reply(a, st, cond, text)) == NULL) {
		link_log(l, SB_LOG_DEBUG, "error stanza <%s/> not answered: %s",
		    st->e.name, sb_stanza_err_name(cond));
		return;
	}
	if (env != NULL) {
		wrap = sb_xml_new(a, SB_NS_ROUTE, "route");
		if ((v = sb_xml_attr(env, "from")) != NULL)
			sb_xml_set_attr(a, wrap, "to", v);
		if ((v = sb_xml_attr(env, "to")) != NULL)
			sb_xml_set_attr(a, wrap, "from", v);
		sb_xml_append(wrap, reply);
		reply = wrap;
	}
	link_send_node(l, reply);
}

static int
from_allowed(const struct link *l, const struct sb_jid *from)
{
	size_t dlen;
	const char *d = sb_jid_domain(from, &dlen);

	for (uint32_t i = 0; i < l->nnames; i++)
		if (l->names[i]->len == dlen && memcmp(l->names[i]->str, d, dlen) == 0)
			return 1;
	/* The default route speaks for remote domains, never for ours. */
	return l->is_default && names_find(&l->r->names, d, dlen) == NULL;
}

/*
 * Check the addresses on addr (the stanza, or its envelope) and prepare
 * 'to' into tbuf. On -1 the sender has had its error reply.
 */
static int
check_addresses(struct link *l, const struct sb_xml_node *env, const struct sb_xml_node *st,
    struct sb_jid *to, char *tbuf)
{
	const struct sb_xml_node *addr = env != NULL ? env : st;
	const char *from = sb_xml_attr(addr, "from"), *tostr = sb_xml_attr(addr, "to"), *why;
	char fbuf[SB_JID_BUFSIZE], text[256];
	struct sb_jid fj;

	if (from == NULL) {
		link_log(l, SB_LOG_INFO, "<%s/> without 'from': bad-request", addr->e.name);
		bounce(l, env, st, SB_SERR_BAD_REQUEST, "no 'from' address");
		return -1;
	}
	if (sb_jid_parse(&fj, fbuf, sizeof(fbuf), from, strlen(from), &why) == -1) {
		link_log(l, SB_LOG_INFO, "<%s/> from '%s': %s: jid-malformed", addr->e.name,
		    from, why);
		snprintf(text, sizeof(text), "'from': %s", why);
		bounce(l, env, st, SB_SERR_JID_MALFORMED, text);
		return -1;
	}
	if (!from_allowed(l, &fj)) {
		link_log(l, SB_LOG_WARN, "<%s/> from '%s', a name it does not hold: not-allowed",
		    addr->e.name, fj.str);
		bounce(l, env, st, SB_SERR_NOT_ALLOWED, "'from' is not a name this link holds");
		return -1;
	}
	if (tostr == NULL) {
		link_log(l, SB_LOG_INFO, "<%s/> without 'to': bad-request", addr->e.name);
		bounce(l, env, st, SB_SERR_BAD_REQUEST, "no 'to' address");
		return -1;
	}
	if (sb_jid_parse(to, tbuf, SB_JID_BUFSIZE, tostr, strlen(tostr), &why) == -1) {
		link_log(l, SB_LOG_INFO, "<%s/> to '%s': %s: jid-malformed", addr->e.name,
		    tostr, why);
		snprintf(text, sizeof(text), "'to': %s", why);
		bounce(l, env, st, SB_SERR_JID_MALFORMED, text);
		return -1;
	}
	return 0;
}

/*
 * The link to reach 'to', or NULL with the reason: a name of ours whose
 * holders are all gone is service-unavailable; an unknown domain goes to
 * the default route, or is remote-server-not-found without one.
 */
static struct link *
lookup(struct router *r, const struct sb_jid *to, enum sb_stanza_err *why)
{
	size_t dlen;
	const char *d = sb_jid_domain(to, &dlen);
	const struct name *n = names_find(&r->names, d, dlen);

	if (n != NULL && n->nholders > 0)
		return names_pick(n, to->str, sb_jid_bare_len(to));
	if (n != NULL) {
		*why = SB_SERR_SERVICE_UNAVAILABLE;
		return NULL;
	}
	if (r->names.def.nholders > 0)
		return names_pick(&r->names.def, to->str, sb_jid_bare_len(to));
	*why = SB_SERR_REMOTE_SERVER_NOT_FOUND;
	return NULL;
}

static void
no_route(struct link *l, const struct sb_xml_node *env, const struct sb_xml_node *st,
    const struct sb_jid *to, enum sb_stanza_err why)
{
	char text[256];
	size_t dlen;
	const char *d = sb_jid_domain(to, &dlen);

	snprintf(text, sizeof(text), "no route to '%.*s'", (int)(dlen < 200 ? dlen : 200), d);
	link_log(l, SB_LOG_DEBUG, "<%s/> to '%s': %s", st->e.name, to->str,
	    sb_stanza_err_name(why));
	bounce(l, env, st, why, text);
}

void
route_stanza(struct link *l, struct sb_xml_node *st)
{
	char tbuf[SB_JID_BUFSIZE];
	enum sb_stanza_err why;
	struct sb_jid to;
	struct link *dest;
	const char *raw;
	size_t len;

	l->in++;
	if (check_addresses(l, NULL, st, &to, tbuf) == -1)
		return;
	if ((dest = lookup(l->r, &to, &why)) == NULL) {
		no_route(l, NULL, st, &to, why);
		return;
	}
	if ((raw = link_raw(l, &len)) != NULL)
		link_send(dest, raw, len);
	else
		link_send_node(dest, st);
	dest->out++;
	l->r->routed++;
}

void
route_envelope(struct link *l, struct sb_xml_node *env)
{
	char tbuf[SB_JID_BUFSIZE];
	struct sb_xml_node *inner;
	enum sb_stanza_err why;
	struct sb_jid to;
	struct link *dest;
	const char *raw;
	size_t len;

	l->in++;
	for (inner = env->e.children; inner != NULL; inner = inner->next)
		if (inner->type == SB_XML_ELEMENT)
			break;
	if (inner == NULL) {
		l->bounced++;
		l->r->bounced++;
		link_log(l, SB_LOG_WARN, "envelope to '%s' without a stanza: dropped",
		    sb_xml_attr(env, "to") != NULL ? sb_xml_attr(env, "to") : "");
		return;
	}
	if (check_addresses(l, env, inner, &to, tbuf) == -1)
		return;
	if ((dest = lookup(l->r, &to, &why)) == NULL) {
		no_route(l, env, inner, &to, why);
		return;
	}
	/* Internal links get the envelope; plain components only what is inside. */
	if (dest->internal) {
		if ((raw = link_raw(l, &len)) != NULL)
			link_send(dest, raw, len);
		else
			link_send_node(dest, env);
	} else {
		if ((raw = link_raw_child(l, &len)) != NULL)
			link_send(dest, raw, len);
		else
			link_send_node(dest, inner);
	}
	dest->out++;
	l->r->routed++;
}
