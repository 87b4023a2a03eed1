/*
 * announce.c: telling internal links who holds what.
 *
 *   <announce xmlns='urn:switchboard:component:0' event='bound' name='localhost' link='sm1'/>
 *   <announce xmlns='urn:switchboard:component:0' event='unbound' default='yes' link='s2s1'/>
 *
 * 'link' is the holder's first name. An internal link, once its handshake
 * succeeds, first gets one 'bound' for every (name, holder) pair the others
 * hold, then one for every later bind anywhere else and an 'unbound' for
 * every unbind and every name of a link that goes. A link is never told
 * about its own names: it gets <bound/> and <unbound/> answers for those.
 * Nothing is announced while the router shuts down.
 *
 * Announcements are built in their own buffer: writing one may disconnect
 * a link that does not read, whose names are then announced in turn.
 */
#include <string.h>

#include "ns.h"
#include "router.h"

static void
write_announce(struct sb_buf *b, const char *event, const struct name *n,
    const struct link *holder)
{
	sb_buf_printf(b, "<announce xmlns='" SB_NS_COMPONENT "' event='%s'", event);
	if (n != NULL) {
		sb_buf_append_str(b, " name='");
		sb_xml_escape_attr(b, n->str, n->len);
		sb_buf_append_char(b, '\'');
	} else {
		sb_buf_append_str(b, " default='yes'");
	}
	sb_buf_append_str(b, " link='");
	sb_xml_escape_attr(b, holder->name, strlen(holder->name));
	sb_buf_append_str(b, "'/>");
}

static int
listens(const struct link *l, const struct link *about)
{
	return l != about && l->internal && l->state == LINK_OPEN;
}

void
announce(struct router *r, const struct link *about, const char *event, const struct name *n)
{
	struct sb_buf b = SB_BUF_INIT;

	if (r->stopping)
		return;
	for (struct link *l = r->links; l != NULL; l = l->next) {
		if (!listens(l, about))
			continue;
		if (sb_buf_len(&b) == 0)
			write_announce(&b, event, n, about);
		/* A link disconnected here stays in the list until CLOSED. */
		link_send(l, sb_buf_data(&b), sb_buf_len(&b));
	}
	sb_buf_free(&b);
}

static void
snapshot_name(struct sb_buf *b, const struct name *n, const struct link *to,
    const struct name *as)
{
	for (uint32_t i = 0; i < n->nholders; i++)
		if (n->holders[i] != to)
			write_announce(b, "bound", as, n->holders[i]);
}

void
announce_snapshot(struct router *r, struct link *to)
{
	struct sb_buf b = SB_BUF_INIT;
	const struct names *t = &r->names;

	for (uint32_t i = 0; i <= t->mask; i++)
		if (t->slots[i] != NULL)
			snapshot_name(&b, t->slots[i], to, t->slots[i]);
	snapshot_name(&b, &t->def, to, NULL);
	if (sb_buf_len(&b) > 0)
		link_send(to, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
}
