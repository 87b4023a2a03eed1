/*
 * xml_stream.c: tests for the stream parser (lib/xml_stream.c): valid
 * streams, RFC 6120 restricted XML, well-formedness, limits, the same result
 * for every split of the input, stop/restart/hibernate.
 */
#include <stdlib.h>
#include <string.h>

#include "ns.h"
#include "tap.h"
#include "xml.h"

/* HDR0: the stream header alone; HDR: with the XML declaration before it. */
#define HDR0 "<stream:stream xmlns='jabber:client' " \
	"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
#define HDR "<?xml version='1.0'?>" HDR0

/* Everything a parse produced, as one string, so runs can be compared. */
struct transcript {
	struct sb_buf		 out;
	struct sb_xml_stream	*s;
	const char		*stop_on;	/* stanza name that stops the parse */
	const char		*restart_on;	/* stanza name that restarts the stream */
	int			 take;		/* take the arena of each stanza */
	struct sb_arena		 kept;
	struct sb_xml_node	*last;
};

static void
on_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	struct transcript *t = arg;
	const struct sb_xml_attr *at;

	sb_buf_printf(&t->out, "H[%s]", content_ns ? content_ns : "-");
	for (at = hdr->e.attrs; at != NULL; at = at->next)
		sb_buf_printf(&t->out, " %s%s=%s", at->ns ? "{ns}" : "", at->name, at->value);
	sb_buf_append_str(&t->out, "\n");
}

static int shallow_mode;	/* tr_init turns shallow mode on when set */

static void
on_stanza(void *arg, struct sb_xml_node *st)
{
	struct transcript *t = arg;
	const char *raw;
	size_t len;

	sb_buf_append_str(&t->out, "S:");
	sb_xml_write(&t->out, st, SB_NS_CLIENT);
	sb_buf_append_str(&t->out, "\n");
	if ((raw = sb_xml_stream_raw(t->s, &len)) != NULL) {
		sb_buf_append_str(&t->out, "R:");
		sb_buf_append(&t->out, raw, len);
		sb_buf_append_str(&t->out, "\n");
	}
	if ((raw = sb_xml_stream_raw_child(t->s, &len)) != NULL) {
		sb_buf_append_str(&t->out, "K:");
		sb_buf_append(&t->out, raw, len);
		sb_buf_append_str(&t->out, "\n");
	}
	if (t->stop_on != NULL && strcmp(st->e.name, t->stop_on) == 0)
		sb_xml_stream_stop(t->s);
	if (t->restart_on != NULL && strcmp(st->e.name, t->restart_on) == 0)
		sb_xml_stream_restart(t->s);
	if (t->take) {
		sb_arena_free(&t->kept);
		sb_xml_stream_take_arena(t->s, &t->kept);
		t->last = st;
	}
}

static void
on_close(void *arg)
{
	struct transcript *t = arg;

	sb_buf_append_str(&t->out, "C\n");
}

static const struct sb_xml_stream_cb callbacks = { on_header, on_stanza, on_close };

static const char *const status_names[] = { "OK", "STOPPED", "CLOSED", "FAILED" };

static void
finish(struct transcript *t, enum sb_xml_status st)
{
	sb_buf_printf(&t->out, "=%s", status_names[st]);
	if (st == SB_XML_FAILED)
		sb_buf_printf(&t->out, " %s", sb_xml_error_condition(sb_xml_stream_error(t->s)));
}

static void
tr_init(struct transcript *t, const struct sb_xml_limits *lim)
{
	memset(t, 0, sizeof(*t));
	t->s = sb_xml_stream_new(&callbacks, t, lim);
	sb_xml_stream_set_shallow(t->s, shallow_mode);
	sb_arena_init(&t->kept, 0);
}

static void
tr_free(struct transcript *t)
{
	sb_xml_stream_free(t->s);
	sb_buf_free(&t->out);
	sb_arena_free(&t->kept);
}

/* Feed in pieces of 'step' bytes (0: all at once); stop at the first non-OK. */
static char *
run_steps(const char *in, size_t len, size_t step, const struct sb_xml_limits *lim)
{
	struct transcript t;
	enum sb_xml_status st = SB_XML_OK;
	char *res;

	tr_init(&t, lim);
	if (step == 0)
		step = len ? len : 1;
	for (size_t off = 0; off < len && st == SB_XML_OK; off += step)
		st = sb_xml_stream_feed(t.s, in + off, len - off < step ? len - off : step);
	finish(&t, st);
	res = strdup(sb_buf_data(&t.out));
	tr_free(&t);
	return res;
}

/* Feed as two pieces cut at 'cut'. */
static char *
run_cut(const char *in, size_t len, size_t cut, const struct sb_xml_limits *lim)
{
	struct transcript t;
	enum sb_xml_status st;
	char *res;

	tr_init(&t, lim);
	st = sb_xml_stream_feed(t.s, in, cut);
	if (st == SB_XML_OK)
		st = sb_xml_stream_feed(t.s, in + cut, len - cut);
	finish(&t, st);
	res = strdup(sb_buf_data(&t.out));
	tr_free(&t);
	return res;
}

static char *
run(const char *in)
{
	return run_steps(in, strlen(in), 0, NULL);
}

/* The result must be the same fed whole, byte by byte, and cut anywhere. */
static int
split_invariant(const char *name, const char *in, size_t len, const struct sb_xml_limits *lim)
{
	char *whole = run_steps(in, len, 0, lim);
	char *bytes = run_steps(in, len, 1, lim);
	int same = strcmp(whole, bytes) == 0;

	if (!same)
		diag("%s: whole:\n%s\nbyte by byte:\n%s", name, whole, bytes);
	for (size_t cut = 1; same && cut < len; cut++) {
		char *c = run_cut(in, len, cut, lim);

		if (strcmp(c, whole) != 0) {
			diag("%s: cut at %zu:\n%s\nwhole:\n%s", name, cut, c, whole);
			same = 0;
		}
		free(c);
	}
	for (size_t step = 2; same && step < 40; step += 7) {
		char *c = run_steps(in, len, step, lim);

		if (strcmp(c, whole) != 0) {
			diag("%s: steps of %zu:\n%s\nwhole:\n%s", name, step, c, whole);
			same = 0;
		}
		free(c);
	}
	free(whole);
	free(bytes);
	return same;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

#define expect_end(in, suffix, ...) do {				\
	char *r_ = run(in);						\
	if (!ok(ends_with(r_, suffix), __VA_ARGS__))			\
		diag("  got: %s", r_);					\
	free(r_);							\
} while (0)

static void
test_valid(void)
{
	char *r;

	r = run(HDR "<message to='a@b' type='chat' id='1'><body>hi &amp; &lt;bye&gt; &#x41;&#66;</body></message>"
	    "<presence/> \n\t <iq type='get' id='x'><query xmlns='jabber:iq:roster'/></iq></stream:stream>");
	is_str(r, "H[jabber:client] to=example.com version=1.0\n"
	    "S:<message to='a@b' type='chat' id='1'><body>hi &amp; &lt;bye&gt; AB</body></message>\n"
	    "S:<presence/>\n"
	    "S:<iq type='get' id='x'><query xmlns='jabber:iq:roster'/></iq>\n"
	    "C\n=CLOSED", "a stream with three stanzas and a close");
	free(r);

	r = run(HDR "<message xml:lang='en' a=\"&apos;&quot;&amp;\"><b:x xmlns:b='urn:b' b:y='1'/></message>");
	is_str(r, "H[jabber:client] to=example.com version=1.0\n"
	    "S:<message xml:lang='en' a='&apos;&quot;&amp;'><x xmlns='urn:b' xmlns:a0='urn:b' a0:y='1'/></message>\n"
	    "=OK", "prefixed elements and attributes, xml:lang, quotes");
	free(r);

	r = run(HDR "<message><body><![CDATA[<not a tag> & ]]></body></message>");
	ok(strstr(r, "<body>&lt;not a tag&gt; &amp; </body>") != NULL, "CDATA arrives as text");
	free(r);

	r = run("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' "
	    "xmlns:db='jabber:server:dialback' from='a.example' xml:lang='en'>"
	    "<db:result from='a.example' to='b.example'>key</db:result>");
	ok(strstr(r, "H[jabber:server] from=a.example {ns}lang=en") != NULL, "header attributes incl. xml:lang");
	ok(strstr(r, "S:<result xmlns='jabber:server:dialback' from='a.example' to='b.example'>key</result>") != NULL,
	    "prefix declared on the stream header");
	free(r);

	r = run(HDR "<message><body>line1\r\nline2\rline3</body></message>");
	ok(strstr(r, "<body>line1\nline2\nline3</body>") != NULL, "line ends normalized");
	free(r);

	r = run("<?xml version='1.0' encoding='UTF-8'?>" HDR0);
	ok(strstr(r, "H[jabber:client]") != NULL && ends_with(r, "=OK"), "encoding='UTF-8' declared");
	free(r);
	r = run("<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>");
	ok(strstr(r, "H[-]") != NULL, "no content namespace declared: reported as none");
	free(r);
	r = run(HDR "<message><body>\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80</body></message>");
	ok(strstr(r, "<body>\xe4\xbd\xa0\xe5\xa5\xbd \xf0\x9f\x98\x80</body>") != NULL, "UTF-8 text kept");
	free(r);
}

static void
test_restricted(void)
{
	expect_end(HDR "<!-- hi -->", "=FAILED restricted-xml", "comment between stanzas");
	expect_end(HDR "<message><!-- hi --></message>", "=FAILED restricted-xml", "comment in a stanza");
	expect_end("<!-- hi -->" HDR, "=FAILED restricted-xml", "comment before the header");
	expect_end(HDR "<?foo bar?>", "=FAILED restricted-xml", "processing instruction");
	expect_end("<?xml version='1.0'?><?xml-stylesheet href='x'?>" HDR0, "=FAILED restricted-xml",
	    "processing instruction before the header");
	expect_end("<?xml version='1.0'?><!DOCTYPE stream:stream>" HDR0, "=FAILED restricted-xml",
	    "DOCTYPE");
	expect_end("<?xml version='1.0'?><!DOCTYPE s [<!ENTITY x 'y'>]>" HDR0,
	    "=FAILED restricted-xml", "internal subset with an entity declaration");
	expect_end("<!DOCTYPE s SYSTEM 'file:///etc/passwd'>" HDR0,
	    "=FAILED restricted-xml", "external DTD");
	expect_end(HDR "<message><body>&foo;</body></message>", "=FAILED restricted-xml",
	    "undeclared entity reference in text");
	expect_end(HDR "<message a='&foo;'/>", "=FAILED restricted-xml",
	    "undeclared entity reference in an attribute");
	expect_end(HDR "<message><body>&amp;&lt;&gt;&apos;&quot;&#65;&#x42;</body></message>", "=OK",
	    "the five predefined entities and character references are fine");

	/* Billion laughs: must fail at once, not expand. */
	const char *laughs = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol 'lol'>"
	    "<!ENTITY lol1 '&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;'>"
	    "<!ENTITY lol2 '&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;'>"
	    "<!ENTITY lol3 '&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;'>"
	    "<!ENTITY lol9 '&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;'>]>"
	    "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><m>&lol9;</m>";
	expect_end(laughs, "=FAILED restricted-xml", "billion laughs refused as restricted XML");
	ok(split_invariant("laughs", laughs, strlen(laughs), NULL), "billion laughs: same for every split");
}

static void
test_not_well_formed(void)
{
	char *r;

	expect_end(HDR "<message></presence>", "=FAILED not-well-formed", "mismatched end tag");
	expect_end(HDR "<message a='1' a='2'/>", "=FAILED not-well-formed", "duplicate attribute");
	expect_end(HDR "<message a=1/>", "=FAILED not-well-formed", "unquoted attribute");
	expect_end(HDR "<message><body>a < b</body></message>", "=FAILED not-well-formed", "raw <");
	expect_end(HDR "<message><body>\x01</body></message>", "=FAILED not-well-formed", "control character");
	expect_end(HDR "<message><body>&#0;</body></message>", "=FAILED not-well-formed", "&#0;");
	expect_end(HDR "<message><body>\xc3\x28</body></message>", "=FAILED not-well-formed",
	    "invalid continuation byte");
	expect_end(HDR "<message><body>\xc0\xaf</body></message>", "=FAILED not-well-formed",
	    "overlong encoding");
	expect_end(HDR "<message><body>\xed\xa0\x80</body></message>", "=FAILED not-well-formed",
	    "UTF-8 encoded surrogate");
	expect_end(HDR "<message><body>\xf4\x90\x80\x80</body></message>", "=FAILED not-well-formed",
	    "code point above U+10FFFF");
	expect_end(HDR "<message><body>\xff</body></message>", "=FAILED not-well-formed", "0xFF byte");
	expect_end(HDR "<message t='\xe4\xbd'/>", "=FAILED not-well-formed", "truncated sequence in an attribute");
	expect_end(HDR "<message><body>\xef\xbf\xbe</body></message>", "=FAILED not-well-formed",
	    "U+FFFE is not an XML character");
	expect_end("\xfe\xff\x00<\x00s", "=FAILED not-well-formed", "UTF-16 with BOM");
	r = run_steps("<\0s\0t\0", 6, 0, NULL);
	ok(ends_with(r, "=FAILED not-well-formed"), "UTF-16 without BOM");
	free(r);
	expect_end("GET / HTTP/1.1\r\nHost: x\r\n\r\n", "=FAILED not-well-formed", "HTTP request");
	expect_end(HDR "<message><body>a & b</body></message><presence/>", "=FAILED not-well-formed",
	    "a bare '&' in text fails at once (libxml2 alone waits for a ';')");
	expect_end(HDR "<message><body>a &<x/></body></message>", "=FAILED not-well-formed",
	    "'&' followed by a tag");
	expect_end(HDR "<message><body>a &am", "=OK", "a reference cut by the read is still waited for");
	{
		const char *amp = HDR "<m>ok</m><message><body>a & b</body></message>";

		ok(split_invariant("bare &", amp, strlen(amp), NULL), "bare '&': same for every split");
	}
	expect_end(HDR "<a:b/>", "=FAILED bad-namespace-prefix", "undeclared prefix");
	expect_end("<stream:stream xmlns:stream='urn:wrong'>", "=FAILED invalid-namespace",
	    "wrong streams namespace");
	expect_end("<stream xmlns='jabber:client'>", "=FAILED invalid-namespace", "unprefixed root in jabber:client");
	expect_end("<stream:features xmlns:stream='http://etherx.jabber.org/streams'>",
	    "=FAILED bad-format", "root is not <stream/>");
	expect_end("<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream "
	    "xmlns:stream='http://etherx.jabber.org/streams'>", "=FAILED unsupported-encoding",
	    "an encoding other than UTF-8");
	expect_end(HDR "</stream:stream><message/>", "C\n=CLOSED", "bytes after the close are ignored");
}

static void
test_limits(void)
{
	struct sb_xml_limits lim = { 100, 4, 3 };
	char in[4096], *r;
	size_t hl = strlen(HDR);

	/* <message><body>...</body></message> of exactly 100 bytes, then 101. */
	for (int extra = 0; extra <= 1; extra++) {
		int fill = 100 - (int)strlen("<message><body></body></message>") + extra;

		snprintf(in, sizeof(in), HDR "<message><body>%0*d</body></message>", fill, 0);
		r = run_steps(in, strlen(in), 0, &lim);
		if (extra == 0)
			ok(ends_with(r, "=OK"), "a stanza of exactly max_stanza bytes passes");
		else
			ok(ends_with(r, "=FAILED policy-violation"), "one byte more is a policy violation");
		free(r);
		ok(split_invariant(extra ? "101 bytes" : "100 bytes", in, strlen(in), &lim),
		    "stanza limit (%d): same for every split", 100 + extra);
	}
	/* Exactly at the limit, with whitespace and non-ASCII text around: every split. */
	snprintf(in, sizeof(in), HDR " \n\t<message><body>%068d</body></message>\r\n"
	    "<message><body>%068d</body></message>\xc3\xa9\xc3\xa9<message><body>%068d</body></message>",
	    1, 2, 3);
	r = run_steps(in, strlen(in), 0, &lim);
	ok(ends_with(r, "=OK") && strstr(r, "%068d") == NULL, "three stanzas at the limit");
	free(r);
	ok(split_invariant("at the limit", in, strlen(in), &lim), "at the limit: same for every split");
	/* Whitespace between stanzas does not count. */
	memcpy(in, HDR, hl);
	memset(in + hl, ' ', 2000);
	strcpy(in + hl + 2000, "<presence/>");
	r = run_steps(in, strlen(in), 1, &lim);
	ok(strstr(r, "S:<presence/>") && ends_with(r, "=OK"), "whitespace keepalives do not count");
	free(r);
	r = run_steps(in, strlen(in), 0, &lim);
	ok(strstr(r, "S:<presence/>") && ends_with(r, "=OK"), "whitespace keepalives in one piece");
	free(r);
	/* A huge start tag that never ends is stopped without buffering it all. */
	{
		size_t big = 1 << 20;
		char *h = malloc(big);

		memcpy(h, HDR "<message a='", hl + 12);
		memset(h + hl + 12, 'x', big - hl - 12);
		r = run_steps(h, big, 0, &lim);
		ok(ends_with(r, "=FAILED policy-violation"), "unterminated huge start tag");
		free(r);
		free(h);
	}
	expect_end(HDR "<a><b><c><d/></c></b></a>", "=OK", "depth 4 passes (default limits)");
	r = run_steps(HDR "<a><b><c><d/></c></b></a>", strlen(HDR "<a><b><c><d/></c></b></a>"), 0, &lim);
	ok(ends_with(r, "=OK"), "depth 4 with max_depth 4");
	free(r);
	snprintf(in, sizeof(in), HDR "<a><b><c><d><e/></d></c></b></a>");
	r = run_steps(in, strlen(in), 0, &lim);
	ok(ends_with(r, "=FAILED policy-violation"), "depth 5 with max_depth 4");
	free(r);
	snprintf(in, sizeof(in), HDR "<a x='1' y='2' z='3'/>");
	r = run_steps(in, strlen(in), 0, &lim);
	ok(ends_with(r, "=OK"), "3 attributes with max_attrs 3");
	free(r);
	snprintf(in, sizeof(in), HDR "<a x='1' y='2' xmlns:p='u' z='3'/>");
	r = run_steps(in, strlen(in), 0, &lim);
	ok(ends_with(r, "=FAILED policy-violation"), "namespace declarations count as attributes");
	free(r);
}

static void
test_splits(void)
{
	static const char *const streams[] = {
		HDR "<message to='a@b' type='chat'><body>hi &amp; &#x263A; \xe2\x98\xba</body></message>"
		    "\n <presence><show>away</show><status>x\r\ny</status></presence>"
		    "<iq type='set' id='1'><query xmlns='jabber:iq:roster'><item jid='x@y' name='&lt;'/>"
		    "</query></iq></stream:stream>",
		HDR "<message><body>ok</body></message><message><!-- no --></message>",
		HDR "<message><body>ok</body></message><message><body>\xc3</body></message>",
		HDR "<message><body><![CDATA[a]]b]]></body></message><x xmlns='urn:x'><![CDATA[]]></x>",
		"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'>"
		    "<db:verify id='1'>k</db:verify><db:result/>",
		HDR "<message a='1'/><message a='2' a='3'/>",
		HDR "<message>&bogus;</message>",
	};

	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++) {
		char name[16];

		snprintf(name, sizeof(name), "stream %zu", i);
		ok(split_invariant(name, streams[i], strlen(streams[i]), NULL),
		    "stream %zu: same stanzas for every split", i);
	}
}

static void
test_stop_restart(void)
{
	struct transcript t;
	enum sb_xml_status st;
	static const char tls[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03<binary>";
	char in[512];
	size_t n;

	/* STARTTLS: the bytes after <starttls/> are not XML; the caller gets them. */
	tr_init(&t, NULL);
	t.stop_on = "starttls";
	n = (size_t)snprintf(in, sizeof(in), HDR "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
	memcpy(in + n, tls, sizeof(tls) - 1);
	n += sizeof(tls) - 1;
	st = sb_xml_stream_feed(t.s, in, n);
	is_int(st, SB_XML_STOPPED, "a callback stops the parse");
	is_mem(sb_buf_data(sb_xml_stream_leftover(t.s)), sb_buf_len(sb_xml_stream_leftover(t.s)),
	    tls, sizeof(tls) - 1, "the bytes after the stop are left over, untouched");
	sb_buf_clear(sb_xml_stream_leftover(t.s));
	sb_xml_stream_restart(t.s);
	st = sb_xml_stream_feed(t.s, HDR "<presence/>", strlen(HDR "<presence/>"));
	is_int(st, SB_XML_OK, "after restart a new stream parses");
	ok(ends_with(sb_buf_data(&t.out), "H[jabber:client] to=example.com version=1.0\nS:<presence/>\n"),
	    "new header and stanza after the restart");
	tr_free(&t);

	/* Stop then continue without restart: the stream goes on. */
	tr_init(&t, NULL);
	t.stop_on = "a";
	st = sb_xml_stream_feed(t.s, HDR "<a/><b/>", strlen(HDR "<a/><b/>"));
	is_int(st, SB_XML_STOPPED, "stopped after <a/>");
	st = sb_xml_stream_feed(t.s, "<c/>", 4);
	is_int(st, SB_XML_OK, "feeding again continues");
	ok(ends_with(sb_buf_data(&t.out), "S:<a/>\nS:<b/>\nS:<c/>\n"), "leftover parsed before new bytes");
	tr_free(&t);

	/* SASL success with the new header pipelined in the same read. */
	tr_init(&t, NULL);
	t.restart_on = "auth";
	snprintf(in, sizeof(in), "%s<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>%s<iq/>", HDR, HDR);
	st = sb_xml_stream_feed(t.s, in, strlen(in));
	is_int(st, SB_XML_OK, "restart from a callback continues with the rest");
	ok(ends_with(sb_buf_data(&t.out), "S:<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>\n"
	    "H[jabber:client] to=example.com version=1.0\nS:<iq/>\n"), "second header and stanza");
	tr_free(&t);

	/* Restart outside a callback keeps bytes libxml2 had not parsed yet. */
	tr_init(&t, NULL);
	snprintf(in, sizeof(in), "%s<auth/><stream:str", HDR);
	sb_xml_stream_feed(t.s, in, strlen(in));
	sb_xml_stream_restart(t.s);
	st = sb_xml_stream_feed(t.s, HDR0 + 11, strlen(HDR0 + 11));
	is_int(st, SB_XML_OK, "restart between reads");
	ok(ends_with(sb_buf_data(&t.out), "S:<auth/>\nH[jabber:client] to=example.com version=1.0\n"),
	    "a header split across the restart");
	tr_free(&t);
}

static void
test_hibernate(void)
{
	struct transcript t;
	enum sb_xml_status st;
	const char *h = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
	    "xmlns='jabber:server' xmlns:db='jabber:server:dialback'>";

	tr_init(&t, NULL);
	ok(sb_xml_stream_hibernate(t.s) != 0, "cannot hibernate before the header");
	sb_xml_stream_feed(t.s, h, strlen(h));
	ok(sb_xml_stream_hibernate(t.s) == 0, "hibernate after the header");
	st = sb_xml_stream_feed(t.s, "<db:result from='a'>k</db:result>  ", 35);
	is_int(st, SB_XML_OK, "wakes up on new bytes");
	ok(strstr(sb_buf_data(&t.out), "S:<result xmlns='jabber:server:dialback' from='a'>k</result>") != NULL,
	    "header prefixes still bound after waking up");
	ok(sb_xml_stream_hibernate(t.s) == 0, "hibernate with only whitespace pending");
	sb_xml_stream_feed(t.s, "<![CDATA[ab", 11);
	ok(sb_xml_stream_hibernate(t.s) != 0, "cannot hibernate inside a CDATA section between stanzas");
	sb_xml_stream_feed(t.s, "<x/>]]>", 7);
	sb_xml_stream_feed(t.s, "<message><bo", 12);
	ok(sb_xml_stream_hibernate(t.s) != 0, "cannot hibernate inside a stanza");
	sb_xml_stream_feed(t.s, "dy>x</body></message></stream:stream>", 37);
	ok(ends_with(sb_buf_data(&t.out), "S:<message xmlns='jabber:server'><body>x</body></message>\nC\n"),
	    "stanza completes and the stream closes");
	tr_free(&t);

	/* Offsets survive hibernation: the limit still counts exactly. */
	struct sb_xml_limits lim = { 20, 8, 8 };

	tr_init(&t, &lim);
	sb_xml_stream_feed(t.s, HDR, strlen(HDR));
	sb_xml_stream_hibernate(t.s);
	st = sb_xml_stream_feed(t.s, "<m>0123456789ab</m>", 19);
	is_int(st, SB_XML_OK, "19 bytes under a 20-byte limit after hibernation");
	sb_xml_stream_hibernate(t.s);
	st = sb_xml_stream_feed(t.s, "<m>0123456789abcd</m>", 21);
	is_int(st, SB_XML_FAILED, "21 bytes over a 20-byte limit after hibernation");
	tr_free(&t);
}

static void
test_take_arena(void)
{
	struct transcript t;

	tr_init(&t, NULL);
	t.take = 1;
	sb_xml_stream_feed(t.s, HDR "<message id='1'><body>kept</body></message><presence/>",
	    strlen(HDR "<message id='1'><body>kept</body></message><presence/>"));
	ok(t.last != NULL && strcmp(t.last->e.name, "presence") == 0, "last taken stanza");
	tr_free(&t);

	tr_init(&t, NULL);
	t.take = 1;
	sb_xml_stream_feed(t.s, HDR "<message id='1'><body>kept</body></message>",
	    strlen(HDR "<message id='1'><body>kept</body></message>"));
	sb_xml_stream_feed(t.s, "<x/>", 0);
	is_str(sb_xml_attr(t.last, "id"), "1", "a taken stanza outlives the parse");
	is_str(sb_xml_child_text(NULL, t.last, NULL, "body"), "kept", "its text too");
	tr_free(&t);
}

static void
test_shallow(void)
{
	const char *in = HDR "<message  to=\"a@b\"\tid='1' ><body>hi &amp; <b>x</b></body>"
	    "<x xmlns='urn:x' a='1'><deep><deeper/></deep></x></message >\n "
	    "<route xmlns='urn:switchboard:route:0' to='j@example.com' from='c2s1'> "
	    "<message from='j@example.com/r'><body>in</body></message>\n</route>"
	    "<presence/>";
	struct transcript t;
	char *r;

	shallow_mode = 1;
	r = run(in);
	is_str(r, "H[jabber:client] to=example.com version=1.0\n"
	    "S:<message to='a@b' id='1'><body/><x xmlns='urn:x' a='1'/></message>\n"
	    "R:<message  to=\"a@b\"\tid='1' ><body>hi &amp; <b>x</b></body>"
	    "<x xmlns='urn:x' a='1'><deep><deeper/></deep></x></message >\n"
	    "K:<body>hi &amp; <b>x</b></body>\n"
	    "S:<route xmlns='urn:switchboard:route:0' to='j@example.com' from='c2s1'>"
	    "<message from='j@example.com/r'/></route>\n"
	    "R:<route xmlns='urn:switchboard:route:0' to='j@example.com' from='c2s1'> "
	    "<message from='j@example.com/r'><body>in</body></message>\n</route>\n"
	    "K:<message from='j@example.com/r'><body>in</body></message>\n"
	    "S:<presence/>\nR:<presence/>\n=OK",
	    "shallow: top level and its children only; the bytes as they came; the first child's bytes");
	free(r);
	ok(split_invariant("shallow", in, strlen(in), NULL), "shallow: same bytes for every split");

	r = run("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' "
	    "xmlns:db='jabber:server:dialback'><db:result from='a'>k<x/></db:result>");
	ok(strstr(r, "S:<result xmlns='jabber:server:dialback' from='a'>k<x xmlns='jabber:server'/>"
	    "</result>") != NULL &&
	    strstr(r, "R:") == NULL, "a header with its own prefixes: full trees, no raw bytes");
	free(r);

	tr_init(&t, NULL);
	sb_xml_stream_feed(t.s, HDR, strlen(HDR));
	sb_xml_stream_hibernate(t.s);
	sb_xml_stream_feed(t.s, " <m a='1'>x</m>", 15);
	sb_xml_stream_hibernate(t.s);
	sb_xml_stream_feed(t.s, "<m a='2'/>", 10);
	ok(ends_with(sb_buf_data(&t.out), "R:<m a='1'>x</m>\nS:<m a='2'/>\nR:<m a='2'/>\n"),
	    "raw bytes right after hibernation");
	tr_free(&t);

	tr_init(&t, NULL);
	t.restart_on = "auth";
	r = HDR "<auth>x</auth>" HDR "<iq id='7'/>";
	sb_xml_stream_feed(t.s, r, strlen(r));
	ok(ends_with(sb_buf_data(&t.out), "R:<auth>x</auth>\nH[jabber:client] to=example.com "
	    "version=1.0\nS:<iq id='7'/>\nR:<iq id='7'/>\n"), "raw bytes across a restart");
	tr_free(&t);
	shallow_mode = 0;
}

int
main(void)
{
	test_valid();
	test_restricted();
	test_not_well_formed();
	test_limits();
	test_splits();
	test_stop_restart();
	test_hibernate();
	test_take_arena();
	test_shallow();
	return done_testing();
}
