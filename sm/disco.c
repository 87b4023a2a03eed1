/*
 * disco.c: service discovery (XEP-0030) answered by the server. For each
 * of our domains: the server's identity, every module's features, the
 * contact addresses of XEP-0157, and the components the router announced
 * as items. On behalf of accounts (bare JIDs): the account's identity and
 * features, and its available resources, under the rules of XEP-0030
 * section 8, which keep both from anyone who may not see the user's
 * presence.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iqutil.h"
#include "xmalloc.h"

/* --- components, from the router's announces --- */

/*
 * One (name, holder) pair the router said is bound. A shared name, held
 * by several links, stays listed until its last holder lets it go. The
 * list is kept sorted by name, so disco#items answers in a stable order.
 *
 * The router announces every link's names: internal processes (c2s1,
 * sm2, s2s1), the sm shards' own domains, components. An admin expects
 * disco#items of a domain to show services (conference.example.org), not
 * processes, so only names that are subdomains of one of our domains are
 * kept, and a domain lists its own subdomains. Internal processes are
 * named without a dot by convention; that alone is not relied on.
 */
struct component {
	struct component	*next;
	char			*name;		/* owned */
	char			*holder;	/* owned; "" when the announce named none */
};

/* The process's one list (one sm per process); freed by fini. */
static struct component *components;

static void
component_free(struct component *c)
{
	free(c->name);
	free(c->holder);
	free(c);
}

/* Is name a subdomain of domain ("x.domain", compared case-blind)? */
static int
subdomain_of(const char *name, size_t len, const char *domain)
{
	size_t dlen = strlen(domain);

	return len > dlen + 1 && name[len - dlen - 1] == '.' &&
	    strcasecmp(name + len - dlen, domain) == 0;
}

static int
ours_to_list(const struct sm_conf *conf, const char *name)
{
	size_t len = strlen(name);

	if (sm_conf_domain(conf, name, len) != NULL)
		return 0;
	for (size_t i = 0; i < conf->ndomains; i++)
		if (subdomain_of(name, len, conf->domains[i].name))
			return 1;
	return 0;
}

void
sm_disco_announce(struct sm *sm, int bound, const char *name, const char *holder)
{
	struct component **pp, *c;

	if (name == NULL || *name == '\0' || !ours_to_list(sm->conf, name))
		return;
	if (holder == NULL)
		holder = "";
	for (pp = &components; (c = *pp) != NULL; pp = &c->next) {
		int cmp = strcmp(c->name, name);

		if (cmp > 0)
			break;
		if (cmp == 0 && strcmp(c->holder, holder) == 0) {
			if (!bound) {
				*pp = c->next;
				log_debug("disco: %s (held by %s) no longer listed", name, holder);
				component_free(c);
			}
			return;
		}
	}
	if (!bound)
		return;
	c = xmalloc(sizeof(*c));
	c->name = xstrdup(name);
	c->holder = xstrdup(holder);
	c->next = *pp;
	*pp = c;
	log_debug("disco: %s (held by %s) listed as an item", name, holder);
}

/* The router link dropped: what is bound is announced again when it is back. */
void
sm_disco_forget(struct sm *sm)
{
	struct component *c, *next;

	for (c = components; c != NULL; c = next) {
		next = c->next;
		component_free(c);
	}
	components = NULL;
}

static void
disco_fini(struct sm *sm)
{
	sm_disco_forget(sm);
}

/* --- building answers --- */

static struct sb_xml_node *
new_query(struct sm_stanza *s, const char *ns, const struct sb_xml_node *request)
{
	struct sb_xml_node *q = sb_xml_new(s->arena, ns, "query");

	/* XEP-0030 3.2: the response mirrors the request's node. */
	sb_xml_set_attr(s->arena, q, "node", sb_xml_attr(request, "node"));
	return q;
}

static void
add_identity(struct sm_stanza *s, struct sb_xml_node *q, const char *category,
    const char *type, const char *name)
{
	struct sb_xml_node *id = sb_xml_add(s->arena, q, NULL, "identity");

	sb_xml_set_attr(s->arena, id, "category", category);
	sb_xml_set_attr(s->arena, id, "type", type);
	sb_xml_set_attr(s->arena, id, "name", name);
}

static int
feature_listed(const struct sb_xml_node *q, const char *var)
{
	const struct sb_xml_node *c;

	SB_XML_FOREACH_CHILD(c, q) {
		const char *v = sb_xml_attr(c, "var");

		if (strcmp(c->e.name, "feature") == 0 && v != NULL && strcmp(v, var) == 0)
			return 1;
	}
	return 0;
}

/* Every module's server or account features, in module order, each once. */
static void
add_features(struct sm_stanza *s, struct sb_xml_node *q, int account)
{
	for (size_t i = 0; i < sm_nmodules; i++) {
		const char *const *list = account ? sm_modules[i]->account_features :
		    sm_modules[i]->server_features;

		for (; list != NULL && *list != NULL; list++)
			if (!feature_listed(q, *list))
				sb_xml_set_attr(s->arena, sb_xml_add(s->arena, q, NULL, "feature"),
				    "var", *list);
	}
}

/*
 * XEP-0157: the configured contact addresses as an XEP-0128 extension
 * form, one list-multi field per address type (in the order the types
 * first appear in sm.xml), holding that type's URIs in config order.
 */
static void
add_contacts(struct sm_stanza *s, struct sb_xml_node *q)
{
	const struct sm_conf *conf = s->sm->conf;
	struct sb_xml_node *x, *f;

	if (conf->ncontacts == 0)
		return;
	x = sb_xml_add(s->arena, q, SB_NS_DATA, "x");
	sb_xml_set_attr(s->arena, x, "type", "result");
	f = sb_xml_add(s->arena, x, NULL, "field");
	sb_xml_set_attr(s->arena, f, "var", "FORM_TYPE");
	sb_xml_set_attr(s->arena, f, "type", "hidden");
	sb_xml_add_text(s->arena, sb_xml_add(s->arena, f, NULL, "value"),
	    SB_NS_SERVERINFO, strlen(SB_NS_SERVERINFO));
	for (size_t i = 0; i < conf->ncontacts; i++) {
		const char *type = conf->contacts[i].type;
		size_t k;

		for (k = 0; k < i; k++)
			if (strcmp(conf->contacts[k].type, type) == 0)
				break;
		if (k < i)
			continue;	/* this type's field is already written */
		f = sb_xml_add(s->arena, x, NULL, "field");
		sb_xml_set_attr(s->arena, f, "var", sb_arena_printf(s->arena, "%s-addresses", type));
		sb_xml_set_attr(s->arena, f, "type", "list-multi");
		for (k = i; k < conf->ncontacts; k++)
			if (strcmp(conf->contacts[k].type, type) == 0)
				sb_xml_add_text(s->arena, sb_xml_add(s->arena, f, NULL, "value"),
				    conf->contacts[k].uri, strlen(conf->contacts[k].uri));
	}
}

/* --- our domains --- */

/* The server has no nodes: any node is one nobody knows (XEP-0030 7). */
static int
info_server(struct sm_stanza *s, struct sb_xml_node *req)
{
	struct sb_xml_node *q;

	if (sb_xml_attr(req, "node") != NULL) {
		sm_reply_error(s, SB_SERR_ITEM_NOT_FOUND, NULL);
		return SM_DONE;
	}
	q = new_query(s, SB_NS_DISCO_INFO, req);
	add_identity(s, q, "server", "im", s->sm->conf->version_name);
	add_features(s, q, 0);
	add_contacts(s, q);
	sm_reply_result(s, q);
	return SM_DONE;
}

static int
items_server(struct sm_stanza *s, struct sb_xml_node *req)
{
	const struct component *c;
	const char *domain, *last = NULL;
	size_t dlen;
	struct sb_xml_node *q;

	if (sb_xml_attr(req, "node") != NULL) {
		sm_reply_error(s, SB_SERR_ITEM_NOT_FOUND, NULL);
		return SM_DONE;
	}
	q = new_query(s, SB_NS_DISCO_ITEMS, req);
	domain = sb_jid_domain(&s->to, &dlen);
	domain = sb_arena_strndup(s->arena, domain, dlen);
	for (c = components; c != NULL; c = c->next) {
		/* Sorted by name: a shared name's holders are adjacent. */
		if (last != NULL && strcmp(last, c->name) == 0)
			continue;
		last = c->name;
		if (subdomain_of(c->name, strlen(c->name), domain))
			sb_xml_set_attr(s->arena, sb_xml_add(s->arena, q, NULL, "item"),
			    "jid", c->name);
	}
	sm_reply_result(s, q);
	return SM_DONE;
}

/* --- accounts --- */

/*
 * XEP-0030 section 8: a bare JID's disco#info is service-unavailable both
 * when the account does not exist and when the requester may not see the
 * user's presence, so the two cannot be told apart.
 */
static int
info_account(struct sm_stanza *s, struct sb_xml_node *req)
{
	struct sb_xml_node *q;

	/* A missing account never gets here: the dispatcher answers it the same. */
	if (!sm_iq_sees_presence(s)) {
		sm_reply_error(s, SB_SERR_SERVICE_UNAVAILABLE, NULL);
		return SM_DONE;
	}
	if (sb_xml_attr(req, "node") != NULL) {
		sm_reply_error(s, SB_SERR_ITEM_NOT_FOUND, NULL);
		return SM_DONE;
	}
	q = new_query(s, SB_NS_DISCO_INFO, req);
	add_identity(s, q, "account", "registered", NULL);
	add_features(s, q, 1);
	sm_reply_result(s, q);
	return SM_DONE;
}

/*
 * XEP-0030 section 8: disco#items of a bare JID is an empty result when
 * the account does not exist or the requester may not see its presence
 * (with or without a node, so a node does not tell accounts apart either).
 * Otherwise the items are the user's available resources: the ones a
 * subscriber already learns from presence.
 */
static int
items_account(struct sm_stanza *s, struct sb_xml_node *req)
{
	struct sb_xml_node *q = new_query(s, SB_NS_DISCO_ITEMS, req);
	const struct sm_session *sess;

	if (s->user->state == SM_USER_NONE || !sm_iq_sees_presence(s)) {
		sm_reply_result(s, q);
		return SM_DONE;
	}
	if (sb_xml_attr(req, "node") != NULL) {
		sm_reply_error(s, SB_SERR_ITEM_NOT_FOUND, NULL);
		return SM_DONE;
	}
	for (sess = s->user->sessions; sess != NULL; sess = sess->next)
		if (sess->available)
			sb_xml_set_attr(s->arena, sb_xml_add(s->arena, q, NULL, "item"),
			    "jid", sess->jid.str);
	sm_reply_result(s, q);
	return SM_DONE;
}

/* --- the module --- */

/* XEP-0030 section 8: disco#items of a bare JID with no account is an empty result. */
static const struct sm_iq_handler disco_iqs[] = {
	{ SB_NS_DISCO_INFO, "query", SM_IQ_SERVER, info_server, NULL },
	{ SB_NS_DISCO_INFO, "query", SM_IQ_SELF | SM_IQ_ACCOUNT, info_account, NULL },
	{ SB_NS_DISCO_ITEMS, "query", SM_IQ_SERVER, items_server, NULL },
	{ SB_NS_DISCO_ITEMS, "query", SM_IQ_SELF | SM_IQ_ACCOUNT | SM_IQ_NOUSER, items_account,
	  NULL },
	{ NULL },
};

static const char *const disco_features[] = {
	SB_NS_DISCO_INFO,
	SB_NS_DISCO_ITEMS,
	NULL
};

const struct sm_module sm_mod_disco = {
	.name = "disco",
	.iqs = disco_iqs,
	.server_features = disco_features,
	.account_features = disco_features,
	.fini = disco_fini,
};
