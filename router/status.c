/*
 * status.c: the router's lines in its status file (lib/status.h), for
 * sbctl status and for admins: the totals since start, then one line per
 * authenticated link with its names and counters:
 *
 *   links 3
 *   routed 120
 *   bounced 2
 *   link sm1 peer=127.0.0.1:50432 since=1763736001 internal=1 state=open in=12 out=40 bounced=0 names=sm1,localhost
 */
#include <stdio.h>

#include "router.h"

void
router_status(struct sb_buf *b, void *arg)
{
	struct router *r = arg;
	size_t nlinks = 0;

	for (const struct link *l = r->links; l != NULL; l = l->next)
		if (l->authed && l->name != NULL)
			nlinks++;
	sb_buf_printf(b, "links %zu\nrouted %llu\nbounced %llu\n", nlinks,
	    (unsigned long long)r->routed, (unsigned long long)r->bounced);
	for (const struct link *l = r->links; l != NULL; l = l->next) {
		if (!l->authed || l->name == NULL)
			continue;
		sb_buf_printf(b, "link %s peer=%s since=%lld internal=%d state=%s "
		    "in=%llu out=%llu bounced=%llu names=", l->name,
		    l->conn != NULL ? sb_conn_peer(l->conn) : "-", (long long)l->since,
		    l->internal ? 1 : 0, l->state == LINK_OPEN ? "open" : "closing",
		    (unsigned long long)l->in, (unsigned long long)l->out,
		    (unsigned long long)l->bounced);
		for (uint32_t i = 0; i < l->nnames; i++)
			sb_buf_printf(b, "%s%s", i ? "," : "", l->names[i]->str);
		if (l->is_default)
			sb_buf_printf(b, "%s(default)", l->nnames ? "," : "");
		sb_buf_append_char(b, '\n');
	}
}
