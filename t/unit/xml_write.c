/*
 * xml_write.c: tests for the tree API (lib/xml_node.c) and the serializer
 * (lib/xml_write.c): escaping, namespace declarations, round trips through
 * the parser.
 */
#include <string.h>

#include "ns.h"
#include "tap.h"
#include "xml.h"

static struct sb_arena arena;

/* Parse "<stream ...>STANZA" and return the first stanza (copied into arena). */
static struct sb_xml_node *parsed;

static void
keep(void *arg, struct sb_xml_node *st)
{
	if (parsed == NULL)
		parsed = sb_xml_copy(&arena, st);
}

static const struct sb_xml_stream_cb cb = { NULL, keep, NULL };

static struct sb_xml_node *
parse(const char *stanza)
{
	struct sb_xml_stream *s = sb_xml_stream_new(&cb, NULL, NULL);
	const char *hdr = "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams'>";

	parsed = NULL;
	sb_xml_stream_feed(s, hdr, strlen(hdr));
	sb_xml_stream_feed(s, stanza, strlen(stanza));
	sb_xml_stream_free(s);
	return parsed;
}

static const char *
write(const struct sb_xml_node *n, const char *ns)
{
	static struct sb_buf b;

	sb_buf_clear(&b);
	sb_xml_write(&b, n, ns);
	return sb_buf_data(&b);
}

static void
test_escaping(void)
{
	struct sb_buf b = SB_BUF_INIT;
	struct sb_xml_node *m, *body;

	sb_xml_escape_text(&b, "a<b>&c'\"d]]>\r\n\t", 15);
	is_str(sb_buf_data(&b), "a&lt;b&gt;&amp;c'\"d]]&gt;&#13;\n\t", "text escaping");
	sb_buf_clear(&b);
	sb_xml_escape_attr(&b, "a<b>&c'\"\r\n\t", 11);
	is_str(sb_buf_data(&b), "a&lt;b&gt;&amp;c&apos;&quot;&#13;&#10;&#9;", "attribute escaping");
	sb_buf_clear(&b);
	sb_xml_escape_text(&b, "x\x01y\x1fz\x7f", 6);
	is_str(sb_buf_data(&b), "x\xef\xbf\xbdy\xef\xbf\xbdz\x7f", "C0 controls become U+FFFD");
	sb_buf_free(&b);

	m = sb_xml_new(&arena, SB_NS_CLIENT, "message");
	sb_xml_set_attr(&arena, m, "to", "a'b@c");
	body = sb_xml_add(&arena, m, NULL, "body");
	sb_xml_add_text(&arena, body, "1 < 2 & 3 > 2", 13);
	is_str(write(m, SB_NS_CLIENT),
	    "<message to='a&apos;b@c'><body>1 &lt; 2 &amp; 3 &gt; 2</body></message>",
	    "escaped stanza");
}

static void
test_namespaces(void)
{
	struct sb_xml_node *iq, *q, *item, *f, *x;

	iq = sb_xml_new(&arena, SB_NS_CLIENT, "iq");
	q = sb_xml_add(&arena, iq, SB_NS_ROSTER, "query");
	item = sb_xml_add(&arena, q, NULL, "item");
	sb_xml_set_attr(&arena, item, "jid", "a@b");
	is_str(write(iq, SB_NS_CLIENT),
	    "<iq><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>",
	    "child namespace declared once, inherited below");
	is_str(write(iq, SB_NS_SERVER),
	    "<iq xmlns='jabber:client'><query xmlns='jabber:iq:roster'><item jid='a@b'/></query></iq>",
	    "stanza namespace declared when it differs from the stream's");
	f = sb_xml_new(&arena, SB_NS_STREAMS, "features");
	sb_xml_add(&arena, f, SB_NS_XMPP_TLS, "starttls");
	is_str(write(f, SB_NS_CLIENT),
	    "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>",
	    "stream namespace uses the stream: prefix");
	x = sb_xml_new(&arena, "urn:x", "x");
	sb_xml_set_attr_ns(&arena, x, SB_NS_XML, "lang", "de");
	sb_xml_set_attr_ns(&arena, x, "urn:y", "y", "1");
	is_str(write(x, SB_NS_CLIENT),
	    "<x xmlns='urn:x' xml:lang='de' xmlns:a0='urn:y' a0:y='1'/>",
	    "namespaced attributes get prefixes");
	x = sb_xml_new(&arena, NULL, "x");
	is_str(write(x, SB_NS_CLIENT), "<x xmlns=''/>", "no namespace under a default one");
}

static void
test_tree(void)
{
	struct sb_xml_node *m, *b, *c, *copy;
	size_t len;

	m = sb_xml_new(&arena, SB_NS_CLIENT, "message");
	sb_xml_set_attr(&arena, m, "id", "1");
	sb_xml_set_attr(&arena, m, "id", "2");
	is_str(sb_xml_attr(m, "id"), "2", "set_attr replaces");
	is_int(sb_xml_attr_count(m), 1, "one attribute");
	sb_xml_set_attr(&arena, m, "id", NULL);
	ok(sb_xml_attr(m, "id") == NULL, "NULL value deletes");
	b = sb_xml_add(&arena, m, NULL, "body");
	is_str(b->e.ns, SB_NS_CLIENT, "child inherits the namespace");
	sb_xml_add_text(&arena, b, "hel", 3);
	sb_xml_add_text(&arena, b, "lo", 2);
	is_int(b->e.children == b->e.last, 1, "adjacent text merged into one node");
	is_str(sb_xml_text(&arena, b, &len), "hello", "text");
	is_int(len, 5, "text length");
	c = sb_xml_add(&arena, m, "urn:x", "x");
	sb_xml_add(&arena, m, "urn:y", "x");
	ok(sb_xml_child(m, "urn:y", "x") != NULL && sb_xml_child(m, "urn:y", "x") != c,
	    "child by namespace and name");
	ok(sb_xml_child(m, NULL, "x") == c, "child by name, any namespace");
	ok(sb_xml_next(c, NULL, "x") != NULL, "next sibling matching");
	is_int(sb_xml_child_count(m), 3, "child count");
	is_str(sb_xml_child_text(&arena, m, NULL, "body"), "hello", "child text");
	ok(sb_xml_child_text(&arena, m, NULL, "nope") == NULL, "missing child text is NULL");
	copy = sb_xml_copy(&arena, m);
	ok(sb_xml_equal(copy, m), "copy is equal");
	sb_xml_remove(c);
	is_int(sb_xml_child_count(m), 2, "remove unlinks");
	ok(!sb_xml_equal(copy, m), "no longer equal after remove");
	sb_xml_add_text(&arena, m, "a", 1);
	sb_xml_add(&arena, m, NULL, "z");
	sb_xml_add_text(&arena, m, "b", 1);
	is_str(sb_xml_text(&arena, m, NULL), "ab", "text split by elements is joined");
}

static void
test_round_trip(void)
{
	static const char *const stanzas[] = {
		"<message to='a@b/c' type='chat' id='x'><body>a&amp;b &lt; c&gt;</body>"
		    "<active xmlns='http://jabber.org/protocol/chatstates'/></message>",
		"<presence xml:lang='en'><show>away</show><status>tab\tcr&#13;lf\n</status>"
		    "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>",
		"<iq type='set' id='1'><query xmlns='jabber:iq:private'><a xmlns='urn:a' "
		    "xmlns:p='urn:p' p:q='&apos;&quot;&#10;&#9;'><p:b/><c>mixed<d/>text</c></a></query></iq>",
		"<message><body>\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80</body></message>",
	};

	for (size_t i = 0; i < sizeof(stanzas) / sizeof(stanzas[0]); i++) {
		struct sb_xml_node *a = parse(stanzas[i]), *b;
		char *first;

		if (!ok(a != NULL, "stanza %zu parses", i))
			continue;
		first = sb_arena_strdup(&arena, write(a, SB_NS_CLIENT));
		b = parse(first);
		ok(b != NULL && sb_xml_equal(a, b), "stanza %zu: parse(write(x)) == x", i);
		is_str(write(b, SB_NS_CLIENT), first, "stanza %zu: writing is stable", i);
	}
}

int
main(void)
{
	sb_arena_init(&arena, 0);
	test_escaping();
	test_namespaces();
	test_tree();
	test_round_trip();
	sb_arena_free(&arena);
	return done_testing();
}
