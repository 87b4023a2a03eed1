/*
 * stanza.c: tests for stanza replies and errors (lib/stanza.c) and the
 * stream writer (lib/stream.c).
 */
#include <string.h>

#include "ns.h"
#include "stanza.h"
#include "stream.h"
#include "tap.h"

static struct sb_arena arena;

static const char *
write(const struct sb_xml_node *n)
{
	static struct sb_buf b;

	sb_buf_clear(&b);
	sb_xml_write(&b, n, SB_NS_CLIENT);
	return sb_buf_data(&b);
}

static struct sb_xml_node *
message(const char *type)
{
	struct sb_xml_node *m = sb_xml_new(&arena, SB_NS_CLIENT, "message");

	sb_xml_set_attr(&arena, m, "from", "juliet@example.com/balcony");
	sb_xml_set_attr(&arena, m, "to", "romeo@example.net");
	sb_xml_set_attr(&arena, m, "id", "m1");
	if (type != NULL)
		sb_xml_set_attr(&arena, m, "type", type);
	sb_xml_add_text(&arena, sb_xml_add(&arena, m, NULL, "body"), "hi", 2);
	return m;
}

static void
test_kinds_and_conditions(void)
{
	enum sb_stanza_err e;
	struct sb_xml_node *n = sb_xml_new(&arena, SB_NS_CLIENT, "iq");

	is_int(sb_stanza_kind(n), SB_STANZA_IQ, "iq kind");
	is_int(sb_stanza_kind(message(NULL)), SB_STANZA_MESSAGE, "message kind");
	is_int(sb_stanza_kind(sb_xml_new(&arena, SB_NS_CLIENT, "presence")), SB_STANZA_PRESENCE,
	    "presence kind");
	is_int(sb_stanza_kind(sb_xml_new(&arena, SB_NS_CLIENT, "foo")), SB_STANZA_OTHER, "other kind");
	is_str(sb_stanza_type(n), "", "missing type reads as empty");
	is_int(SB_SERR_COUNT, 22, "all 22 conditions of RFC 6120 8.3.3");
	for (int i = 0; i < SB_SERR_COUNT; i++) {
		if (sb_stanza_err_parse(sb_stanza_err_name((enum sb_stanza_err)i), &e) != 0 || (int)e != i) {
			ok(0, "condition %d round trip", i);
			return;
		}
	}
	ok(1, "every condition name parses back");
	ok(sb_stanza_err_parse("nonsense", &e) == -1, "unknown condition rejected");
	is_str(sb_stanza_err_type(SB_SERR_SERVICE_UNAVAILABLE), "cancel", "service-unavailable is cancel");
	is_str(sb_stanza_err_type(SB_SERR_NOT_AUTHORIZED), "auth", "not-authorized is auth");
	is_str(sb_stanza_err_type(SB_SERR_BAD_REQUEST), "modify", "bad-request is modify");
	is_str(sb_stanza_err_type(SB_SERR_RESOURCE_CONSTRAINT), "wait", "resource-constraint is wait");
}

static void
test_errors(void)
{
	struct sb_xml_node *m = message("chat"), *r, *iq;
	enum sb_stanza_err e;

	ok(sb_stanza_bounce(&arena, m, SB_SERR_SERVICE_UNAVAILABLE, NULL) == 0, "bounce a message");
	is_str(write(m), "<message to='juliet@example.com/balcony' from='romeo@example.net' id='m1' "
	    "type='error'><body>hi</body><error type='cancel'><service-unavailable "
	    "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>",
	    "to/from swapped, type error, payload kept, condition in the stanzas namespace");
	ok(sb_stanza_error_condition(m, &e) == 0 && e == SB_SERR_SERVICE_UNAVAILABLE,
	    "condition read back");
	ok(sb_stanza_bounce(&arena, m, SB_SERR_BAD_REQUEST, NULL) == -1, "an error is never bounced");
	ok(sb_stanza_error_reply(&arena, m, SB_SERR_BAD_REQUEST, NULL) == NULL,
	    "no error reply to an error");

	m = message(NULL);
	r = sb_stanza_error_reply(&arena, m, SB_SERR_NOT_ACCEPTABLE, "too <long>");
	is_str(write(r), "<message to='juliet@example.com/balcony' from='romeo@example.net' id='m1' "
	    "type='error'><error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
	    "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>too &lt;long&gt;</text>"
	    "</error></message>", "error reply without payload, with escaped text");
	ok(sb_stanza_error_condition(r, &e) == 0 && e == SB_SERR_NOT_ACCEPTABLE,
	    "condition found past nothing else");

	iq = sb_xml_new(&arena, SB_NS_CLIENT, "iq");
	sb_xml_set_attr(&arena, iq, "id", "q1");
	sb_xml_set_attr(&arena, iq, "type", "get");
	sb_xml_set_attr(&arena, iq, "from", "a@b/c");
	sb_xml_add(&arena, iq, "jabber:iq:version", "query");
	is_str(write(sb_stanza_iq_result(&arena, iq)), "<iq to='a@b/c' id='q1' type='result'/>",
	    "iq result: id kept, addressed back, no payload");
	sb_stanza_bounce(&arena, iq, SB_SERR_FEATURE_NOT_IMPLEMENTED, NULL);
	ok(sb_xml_attr(iq, "from") == NULL && strcmp(sb_xml_attr(iq, "to"), "a@b/c") == 0,
	    "bounce with no 'to' leaves no 'from'");
	ok(sb_stanza_error_condition(message(NULL), &e) == -1, "no condition in a normal stanza");
}

static void
test_stream_writer(void)
{
	struct sb_buf b = SB_BUF_INIT;
	struct sb_stream_header h = {
		.content_ns = SB_NS_CLIENT, .from = "example.com", .to = "j@example.com",
		.id = "a'b", .version = "1.0", .lang = "en",
	};
	enum sb_stream_err e;

	sb_stream_write_header(&b, &h);
	is_str(sb_buf_data(&b), "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams' from='example.com' to='j@example.com' "
	    "id='a&apos;b' version='1.0' xml:lang='en'>", "stream header");
	sb_buf_clear(&b);
	sb_stream_write_error(&b, SB_STERR_HOST_UNKNOWN, "no such <host>");
	is_str(sb_buf_data(&b), "<stream:error><host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
	    "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>no such &lt;host&gt;</text>"
	    "</stream:error></stream:stream>", "stream error with text, then the close");
	sb_buf_clear(&b);
	sb_stream_write_error(&b, SB_STERR_NOT_WELL_FORMED, NULL);
	is_str(sb_buf_data(&b), "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
	    "</stream:error></stream:stream>", "stream error without text");
	sb_buf_free(&b);
	is_int(SB_STERR_COUNT, 25, "all 25 stream conditions of RFC 6120 4.9.3");
	ok(sb_stream_err_parse("see-other-host", &e) == 0 && e == SB_STERR_SEE_OTHER_HOST,
	    "stream condition parses");
	is_int(sb_stream_err_from_xml(SB_XML_ERR_RESTRICTED_XML), SB_STERR_RESTRICTED_XML,
	    "restricted XML maps to <restricted-xml/>");
	is_int(sb_stream_err_from_xml(SB_XML_ERR_POLICY_VIOLATION), SB_STERR_POLICY_VIOLATION,
	    "limits map to <policy-violation/>");
	is_int(sb_stream_err_from_xml(SB_XML_ERR_NOT_WELL_FORMED), SB_STERR_NOT_WELL_FORMED,
	    "bad XML maps to <not-well-formed/>");
	is_str(sb_stream_err_name(sb_stream_err_from_xml(SB_XML_ERR_UNSUPPORTED_ENCODING)),
	    sb_xml_error_condition(SB_XML_ERR_UNSUPPORTED_ENCODING), "parser and writer agree on names");
}

int
main(void)
{
	sb_arena_init(&arena, 0);
	test_kinds_and_conditions();
	test_errors();
	test_stream_writer();
	sb_arena_free(&arena);
	return done_testing();
}
