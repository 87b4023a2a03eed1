/*
 * iqutil.c: what the IQ modules share (see iqutil.h): the checks on who
 * is asking about an account, and reading back XML that was stored as
 * text.
 */
#include <string.h>

#include "iqutil.h"

int
sm_iq_from_owner(const struct sm_stanza *s)
{
	return s->from.len != 0 && sb_jid_eq_bare(&s->from, &s->user->jid);
}

int
sm_iq_sees_presence(const struct sm_stanza *s)
{
	const struct sm_roster_item *item;

	if (sm_iq_from_owner(s))
		return 1;
	if (s->from.len == 0 || s->user->state != SM_USER_READY)
		return 0;
	item = sm_roster_find(s->user, s->from.str, sb_jid_bare_len(&s->from));
	return item != NULL && (item->sub & SM_SUB_FROM) != 0;
}

/* --- stored XML --- */

/*
 * The text is parsed by the stream parser, behind a stream header that
 * binds no default namespace: sb_xml_write() with no default namespace
 * declared every element's namespace, so the elements come back as they
 * were written.
 */
static const char stored_header[] =
    "<stream:stream xmlns:stream='" SB_NS_STREAMS "'>";
static const char stored_footer[] = "</stream:stream>";

struct parse_ctx {
	struct sb_arena		*arena;
	struct sb_xml_node	*parent;
	int			 n;
};

static void
parsed_element(void *arg, struct sb_xml_node *e)
{
	struct parse_ctx *p = arg;

	/* The stream's arena is reset after this returns: keep a copy. */
	sb_xml_append(p->parent, sb_xml_copy(p->arena, e));
	p->n++;
}

static const struct sb_xml_stream_cb parse_cb = { NULL, parsed_element, NULL };

int
sm_xml_parse_text(struct sb_arena *a, struct sb_xml_node *parent, const char *text,
    size_t len)
{
	/*
	 * The text passed the c2s stanza limits when it was stored; these only
	 * keep a damaged row from costing much.
	 */
	struct sb_xml_limits lim = { len + 1, 128, 256 };
	struct parse_ctx p = { a, parent, 0 };
	struct sb_xml_stream *xs = sb_xml_stream_new(&parse_cb, &p, &lim);
	enum sb_xml_status st;

	st = sb_xml_stream_feed(xs, stored_header, sizeof(stored_header) - 1);
	if (st == SB_XML_OK)
		st = sb_xml_stream_feed(xs, text, len);
	/* Closing the stream proves the last element was complete. */
	if (st == SB_XML_OK)
		st = sb_xml_stream_feed(xs, stored_footer, sizeof(stored_footer) - 1);
	sb_xml_stream_free(xs);
	return st == SB_XML_CLOSED ? p.n : -1;
}

int
sm_iq_forbidden(struct sm_stanza *s, struct sb_xml_node *payload)
{
	sm_reply_error(s, SB_SERR_FORBIDDEN, NULL);
	return SM_DONE;
}
