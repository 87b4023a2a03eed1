/*
 * sm_iqutil.c: tests for sm/iqutil.c's reading back of stored XML: what
 * sb_xml_write() wrote (vCards, private XML) parses back to equal trees,
 * several elements in one text, and damaged text is refused.
 */
#include <string.h>

#include "sm/iqutil.h"
#include "tap.h"

static struct sb_arena arena;

/* Write e as the modules store it, parse it back, compare. */
static void
round_trip(struct sb_xml_node *e, const char *what)
{
	struct sb_buf text = SB_BUF_INIT;
	struct sb_xml_node *holder = sb_xml_new(&arena, NULL, "holder");
	int n;

	sb_xml_write(&text, e, NULL);
	n = sm_xml_parse_text(&arena, holder, sb_buf_data(&text), sb_buf_len(&text));
	is_int(n, 1, "%s: one element back", what);
	ok(n == 1 && sb_xml_equal(holder->e.children, e), "%s: equal after the round trip",
	    what);
	if (n == 1 && holder->e.children->parent != holder)
		ok(0, "%s: the element hangs under the given parent", what);
	sb_buf_free(&text);
}

static int
parse_str(struct sb_xml_node *holder, const char *text)
{
	return sm_xml_parse_text(&arena, holder, text, strlen(text));
}

int
main(void)
{
	const char *desc = "<&>'\"\r\n\t \u00e9 ]]>";
	struct sb_xml_node *v, *n, *holder;

	sb_arena_init(&arena, 0);

	v = sb_xml_new(&arena, "vcard-temp", "vCard");
	n = sb_xml_add(&arena, v, NULL, "N");
	sb_xml_add_text(&arena, sb_xml_add(&arena, n, NULL, "FAMILY"), "Capulet", 7);
	sb_xml_add_text(&arena, sb_xml_add(&arena, v, NULL, "DESC"), desc, strlen(desc));
	sb_xml_set_attr(&arena, v, "version", "3.0");
	round_trip(v, "vCard with escapes");

	v = sb_xml_new(&arena, "storage:bookmarks", "storage");
	n = sb_xml_add(&arena, v, NULL, "conference");
	sb_xml_set_attr(&arena, n, "jid", "room@conference.localhost");
	sb_xml_set_attr_ns(&arena, n, "urn:example:x", "flag", "1");
	sb_xml_set_attr_ns(&arena, n, SB_NS_XML, "lang", "en");
	sb_xml_add(&arena, n, "urn:example:other", "ext");
	round_trip(v, "namespaced attributes and a child in another namespace");

	round_trip(sb_xml_new(&arena, "exodus:prefs", "exodus"), "an empty element");

	holder = sb_xml_new(&arena, NULL, "holder");
	is_int(parse_str(holder, "<a xmlns='x:1'/><b xmlns='x:1'>t</b>"), 2,
	    "two elements of one namespace in one text");
	is_str(holder->e.last != NULL ? holder->e.last->e.name : NULL, "b",
	    "the second element comes second");
	is_int(parse_str(holder, ""), 0, "empty text: no elements");
	is_int(parse_str(holder, "<a xmlns='x:1'><b></a>"), -1, "mismatched tags are refused");
	is_int(parse_str(holder, "<a xmlns='x:1'>"), -1, "a truncated element is refused");
	is_int(parse_str(holder, "<a xmlns='x:1'/><b"), -1, "a truncated second element is refused");
	is_int(parse_str(holder, "<!DOCTYPE a><a/>"), -1, "a DTD is refused");
	is_int(parse_str(holder, "<p:a/>"), -1, "an undeclared prefix is refused");

	sb_arena_free(&arena);
	return done_testing();
}
