/*
 * private.c: private XML storage (XEP-0049). A user keeps XML elements on
 * the server (bookmarks, client settings) and reads them back by their
 * namespace; nobody else can read or write them. All the elements of one
 * namespace are stored together as XML text (private_xml, one row per
 * namespace), at most <private-size/> bytes per namespace; a set replaces
 * what its namespaces held.
 */
#include <string.h>

#include "iqutil.h"

/*
 * Namespaces no element may be stored under: the ones XEP-0049 section 2
 * reserves ('jabber:...', 'http://jabber.org/...', 'vcard-temp'), which
 * also covers a child left in jabber:iq:private itself, plus XMPP's own
 * protocol namespaces and switchboard's internal ones. They name
 * protocols, not a client's data.
 */
static const struct {
	const char	*ns;
	int		 prefix;	/* 1: every namespace starting with ns */
} reserved[] = {
	{ "jabber:", 1 },
	{ "http://jabber.org/", 1 },
	{ SB_NS_VCARD, 0 },
	{ "urn:ietf:params:xml:ns:xmpp-", 1 },
	{ "http://etherx.jabber.org/", 1 },
	{ "urn:switchboard:", 1 },
};

static int
is_reserved(const char *ns)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (reserved[i].prefix ? strncmp(ns, reserved[i].ns, strlen(reserved[i].ns)) == 0 :
		    strcmp(ns, reserved[i].ns) == 0)
			return 1;
	return 0;
}

/* Has an element before e (among its siblings) the same namespace? */
static int
ns_seen_before(const struct sb_xml_node *e)
{
	const struct sb_xml_node *c;

	for (c = e->parent->e.children; c != e; c = c->next)
		if (c->type == SB_XML_ELEMENT && strcmp(c->e.ns, e->e.ns) == 0)
			return 1;
	return 0;
}

/*
 * Check the elements of a get or set query. An empty query is the XEP's
 * "Bad Format" (bad-request in RFC 6120's conditions); an element without
 * a namespace of its own or in a reserved one is not-acceptable (XEP-0049
 * section 2 and its error table). Returns 0 with the count of distinct
 * namespaces, or -1 after replying.
 */
static int
check_query(struct sm_stanza *s, const struct sb_xml_node *q, size_t *nns)
{
	const struct sb_xml_node *c;

	*nns = 0;
	SB_XML_FOREACH_CHILD(c, q) {
		if (c->e.ns == NULL) {
			sm_reply_error(s, SB_SERR_NOT_ACCEPTABLE,
			    "a stored element needs a namespace of its own");
			return -1;
		}
		if (is_reserved(c->e.ns)) {
			sm_reply_error(s, SB_SERR_NOT_ACCEPTABLE,
			    sb_arena_printf(s->arena, "namespace '%s' is reserved", c->e.ns));
			return -1;
		}
		if (!ns_seen_before(c))
			(*nns)++;
	}
	if (*nns == 0) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST,
		    "the query names no element to store or read");
		return -1;
	}
	return 0;
}

static struct sb_xml_node *
first_element(const struct sb_xml_node *e)
{
	const struct sb_xml_node *c;

	SB_XML_FOREACH_CHILD(c, e)
		return (struct sb_xml_node *)c;
	return NULL;
}

/*
 * What is stored for the namespace, or, when nothing is, the requested
 * element as it came (XEP-0049's examples: the empty element back).
 */
static void
got(const struct sb_store_result *r, void *arg)
{
	struct sm_stanza *s = arg;
	const struct sb_xml_node *req = sb_xml_child(s->st, SB_NS_PRIVATE, "query"), *c;
	struct sb_xml_node *q;

	if (r->err != SB_STORE_OK) {
		sm_reply_store_error(s, r->err);
		goto out;
	}
	q = sb_xml_new(s->arena, SB_NS_PRIVATE, "query");
	if (r->nrows == 0) {
		SB_XML_FOREACH_CHILD(c, req)
			sb_xml_append(q, sb_xml_copy(s->arena, c));
	} else if (sm_xml_parse_text(s->arena, q, sb_store_text(r, 0, 0),
	    sb_store_cell(r, 0, 0)->len) < 1) {
		log_warn("private: the stored XML of %s in '%s' does not parse", s->user->bare,
		    first_element(req)->e.ns);
		sm_reply_error(s, SB_SERR_INTERNAL_SERVER_ERROR, NULL);
		goto out;
	}
	sm_reply_result(s, q);
out:
	sm_resume(s);
}

static int
get_own(struct sm_stanza *s, struct sb_xml_node *q)
{
	struct sb_db_value p[2];
	size_t nns;

	if (check_query(s, q, &nns) == -1)
		return SM_DONE;
	/* XEP-0049 section 2: "A client MUST NOT query for more than one namespace". */
	if (nns > 1) {
		sm_reply_error(s, SB_SERR_BAD_REQUEST, "a get reads one namespace");
		return SM_DONE;
	}
	p[0] = sb_db_int(s->user->account_id);
	p[1] = sb_db_text(first_element(q)->e.ns);
	s = sm_suspend(s);
	sb_store_query(s->sm->store, SB_Q_PRIVATE_GET, p, got, s);
	return SM_WAIT;
}

/*
 * Each namespace's elements (XEP-0049 lets a set carry several of one
 * namespace) are written as one text and stored in one transaction with
 * the other namespaces of the query, so a set is all or nothing.
 */
static int
set_own(struct sm_stanza *s, struct sb_xml_node *q)
{
	size_t max = s->sm->conf->private_max, nns, i = 0, *start, *len;
	struct sb_buf text = SB_BUF_INIT;
	struct sb_store_stmt *stmts;
	struct sb_db_value *p;
	const char **ns;
	struct sb_xml_node *c, *d;

	if (check_query(s, q, &nns) == -1)
		return SM_DONE;
	ns = sb_arena_alloc(s->arena, nns * sizeof(*ns));
	start = sb_arena_alloc(s->arena, nns * sizeof(*start));
	len = sb_arena_alloc(s->arena, nns * sizeof(*len));
	SB_XML_FOREACH_CHILD(c, q) {
		if (ns_seen_before(c))
			continue;
		ns[i] = c->e.ns;
		start[i] = sb_buf_len(&text);
		for (d = c; d != NULL; d = d->next)
			if (d->type == SB_XML_ELEMENT && strcmp(d->e.ns, c->e.ns) == 0)
				sb_xml_write(&text, d, NULL);
		len[i] = sb_buf_len(&text) - start[i];
		if (len[i] > max) {
			sb_buf_free(&text);
			sm_reply_error(s, SB_SERR_NOT_ACCEPTABLE, sb_arena_printf(s->arena,
			    "at most %zu bytes may be stored under one namespace", max));
			return SM_DONE;
		}
		i++;
	}
	/* Pointers into text only now that it has stopped growing. */
	stmts = sb_arena_alloc(s->arena, nns * sizeof(*stmts));
	p = sb_arena_alloc(s->arena, 3 * nns * sizeof(*p));
	for (i = 0; i < nns; i++) {
		p[3 * i] = sb_db_int(s->user->account_id);
		p[3 * i + 1] = sb_db_text(ns[i]);
		p[3 * i + 2] = sb_db_textn(sb_buf_data(&text) + start[i], len[i]);
		stmts[i] = (struct sb_store_stmt){ SB_Q_PRIVATE_SET, &p[3 * i] };
	}
	s = sm_suspend(s);
	sb_store_txn(s->sm->store, stmts, nns, sm_reply_stored, s);
	sb_buf_free(&text);	/* the store copied the parameters */
	return SM_WAIT;
}

static const struct sm_iq_handler private_iqs[] = {
	{ SB_NS_PRIVATE, "query", SM_IQ_SELF, get_own, set_own },
	/* XEP-0049 section 2: another user's private data is forbidden, read or write. */
	{ SB_NS_PRIVATE, "query", SM_IQ_ACCOUNT, sm_iq_forbidden, sm_iq_forbidden },
	{ NULL },
};

static const char *const private_features[] = { SB_NS_PRIVATE, NULL };

const struct sm_module sm_mod_private = {
	.name = "private",
	.iqs = private_iqs,
	.server_features = private_features,
};
