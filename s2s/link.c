/*
 * link.c: s2s's side of the router link. s2s is the router's default
 * route: every stanza for a domain nobody at the router holds comes here
 * and goes out on the route for its (from domain, to domain) pair.
 *
 * The names served here are what s2s accepts streams and stanzas for:
 * the domains of s2s.xml and every name bound at the router (sm's
 * domains, components such as conference.example.org), learnt from the
 * router's announces and forgotten when the link goes down (the router
 * announces them all again when it comes back). Names without a dot are
 * left out: they are links' own names (sm1, c2s1), internal to the
 * deployment; a federated domain always has a dot.
 *
 * A stanza the router sends for one of our own names came back in a loop
 * (a name unbound a moment ago): it is bounced, not sent abroad.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "complink.h"
#include "jid.h"
#include "s2s.h"
#include "xmalloc.h"

struct local_name {
	struct sb_hmap_node	 hn;
	char			*name;
	int			 holders;
};

int
s2s_is_local(const struct s2s *s2s, const char *domain)
{
	return s2s_conf_domain(s2s->conf, domain) != NULL ||
	    sb_hmap_find(&s2s->names, domain, strlen(domain)) != NULL;
}

static int
free_name(struct sb_hmap_node *n, void *arg)
{
	struct s2s *s2s = arg;
	struct local_name *ln = SB_HMAP_ENTRY(n, struct local_name, hn);

	sb_hmap_remove(&s2s->names, n);
	free(ln->name);
	free(ln);
	return 0;
}

void
names_free(struct s2s *s2s)
{
	sb_hmap_each(&s2s->names, free_name, s2s);
	sb_hmap_free(&s2s->names);
}

void
link_up(struct sb_complink *l, void *arg)
{
	struct s2s *s2s = arg;

	log_notice("router link up: the default route for remote domains");
	/* Serving from now on: tell systemd or sbctl (once). */
	sb_proc_ready(&s2s->proc);
	sb_status_write(s2s->status);
}

void
link_down(struct sb_complink *l, const char *reason, void *arg)
{
	struct s2s *s2s = arg;

	log_warn("router link down: %s", reason);
	sb_hmap_each(&s2s->names, free_name, s2s);
}

void
link_error(struct sb_complink *l, const char *text, void *arg)
{
	log_error("router: %s", text);
}

void
link_announce(struct sb_complink *l, enum sb_complink_event ev, const char *name,
    const char *holder, void *arg)
{
	struct s2s *s2s = arg;
	struct sb_hmap_node *n;
	struct local_name *ln;

	/*
	 * Another default route; or a link's own name such as sm1 or c2s1:
	 * internal names, never a domain other servers may address.
	 */
	if (name == NULL || strchr(name, '.') == NULL)
		return;
	n = sb_hmap_find(&s2s->names, name, strlen(name));
	ln = n != NULL ? SB_HMAP_ENTRY(n, struct local_name, hn) : NULL;
	if (ev == SB_COMPLINK_BOUND) {
		if (ln == NULL) {
			ln = xcalloc(1, sizeof(*ln));
			ln->name = xstrdup(name);
			sb_hmap_insert(&s2s->names, &ln->hn, ln->name, strlen(ln->name));
			log_debug("local name %s (held by %s)", name, holder);
		}
		ln->holders++;
	} else if (ln != NULL && --ln->holders == 0) {
		log_debug("local name %s gone", name);
		free_name(&ln->hn, s2s);
	}
}

void
link_stanza(struct sb_complink *l, struct sb_xml_node *st, void *arg)
{
	struct s2s *s2s = arg;
	char from[SB_JID_PART_BUFSIZE], to[SB_JID_PART_BUFSIZE];
	struct sb_arena a;

	if (st->e.ns == NULL || strcmp(st->e.ns, SB_NS_COMPONENT_ACCEPT) != 0 ||
	    sb_stanza_kind(st) == SB_STANZA_OTHER) {
		log_info("router: ignoring <%s/>: not a stanza", st->e.name);
		return;
	}
	sb_complink_take_arena(l, &a);
	if (s2s_jid_domain(sb_xml_attr(st, "from"), from, sizeof(from)) == -1 ||
	    s2s_jid_domain(sb_xml_attr(st, "to"), to, sizeof(to)) == -1) {
		log_info("router: dropped a <%s/> without usable addresses", st->e.name);
		sb_arena_free(&a);
		return;
	}
	if (s2s_is_local(s2s, to)) {
		s2s_bounce(s2s, &a, st, SB_SERR_SERVICE_UNAVAILABLE,
		    "the domain is served here, but nothing holds it now");
		sb_arena_free(&a);
		return;
	}
	route_send(s2s, from, to, &a, st);
}

void
link_deliver(struct s2s *s2s, struct sb_xml_node *st)
{
	struct sb_arena a;
	struct sb_xml_node *copy;
	char from[SB_JID_PART_BUFSIZE], to[SB_JID_PART_BUFSIZE];

	if (sb_complink_send(s2s->link, st) == 0)
		return;
	/* The router link's queue is full: the sender hears of it. */
	if (sb_stanza_is_error(st) || s2s_jid_domain(sb_xml_attr(st, "from"), to, sizeof(to)) == -1 ||
	    s2s_jid_domain(sb_xml_attr(st, "to"), from, sizeof(from)) == -1)
		return;
	sb_arena_init(&a, 0);
	copy = sb_xml_copy(&a, st);
	if (sb_stanza_bounce(&a, copy, SB_SERR_RESOURCE_CONSTRAINT,
	    "the server is overloaded; try again later") == -1) {
		sb_arena_free(&a);
		return;
	}
	s2s->n.bounced++;
	route_send(s2s, from, to, &a, copy);
}
