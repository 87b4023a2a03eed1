/*
 * jid.c: tests for lib/jid.c and lib/precis.c: the RFC 7622 examples, IDN
 * and IP-literal domainparts, PRECIS mapping and rejection in localparts
 * and resourceparts, malformed input, length limits, and the formatting,
 * comparison and arena API.
 */
#include <stdio.h>
#include <string.h>

#include "arena.h"
#include "jid.h"
#include "precis.h"
#include "tap.h"

/*
 * Parse in (len bytes) and expect the canonical form want; the result must
 * also be a fixed point (parsing it again gives it back).
 */
static void
valid_n(const char *in, size_t len, const char *want, const char *what)
{
	char buf[SB_JID_BUFSIZE], buf2[SB_JID_BUFSIZE];
	struct sb_jid j, j2;
	const char *err = NULL;

	if (sb_jid_parse(&j, buf, sizeof(buf), in, len, &err) != 0) {
		ok(0, "%s: valid", what);
		diag("  rejected: %s", err);
		return;
	}
	if (strcmp(j.str, want) != 0) {
		ok(0, "%s: canonical form", what);
		diag("  got '%s', want '%s'", j.str, want);
		return;
	}
	ok(sb_jid_parse(&j2, buf2, sizeof(buf2), j.str, j.len, &err) == 0 &&
	    sb_jid_eq(&j, &j2), "%s", what);
}

static void
valid(const char *in, const char *want, const char *what)
{
	valid_n(in, strlen(in), want, what);
}

/* Expect rejection, with an error text that mentions 'about' if given. */
static void
invalid_n(const char *in, size_t len, const char *about, const char *what)
{
	char buf[SB_JID_BUFSIZE];
	struct sb_jid j;
	const char *err = NULL;
	int rc = sb_jid_parse(&j, buf, sizeof(buf), in, len, &err);

	if (!ok(rc == -1 && err != NULL && (about == NULL || strstr(err, about) != NULL),
	    "%s: rejected", what))
		diag("  rc %d, err '%s', result '%s'", rc, err ? err : "(null)",
		    rc == 0 ? j.str : "");
}

static void
invalid(const char *in, const char *about, const char *what)
{
	invalid_n(in, strlen(in), about, what);
}

/* Prepare one part and expect want, or rejection when want is NULL. */
static void
part(enum sb_jid_part p, const char *in, const char *want, const char *what)
{
	char out[SB_JID_PART_BUFSIZE];
	size_t n = 0;
	const char *err = NULL;
	int rc = sb_jid_prepare(p, in, strlen(in), out, sizeof(out), &n, &err);

	if (want == NULL) {
		if (!ok(rc == -1 && err != NULL, "%s: rejected", what))
			diag("  got '%s'", out);
		return;
	}
	if (!ok(rc == 0 && n == strlen(want) && strcmp(out, want) == 0, "%s", what))
		diag("  rc %d, got '%s', want '%s', err '%s'", rc, rc == 0 ? out : "",
		    want, err ? err : "");
}

static void
test_rfc7622_examples(void)
{
	/* Section 3.5, table 1. */
	valid("juliet@example.com", "juliet@example.com", "ex 1: bare JID");
	valid("juliet@example.com/foo", "juliet@example.com/foo", "ex 2: full JID");
	valid("juliet@example.com/foo bar", "juliet@example.com/foo bar",
	    "ex 3: space in resourcepart");
	valid("juliet@example.com/foo@bar", "juliet@example.com/foo@bar",
	    "ex 4: @ in resourcepart");
	valid("foo\\20bar@example.com", "foo\\20bar@example.com",
	    "ex 5: escaped space in localpart");
	valid("fussball@example.com", "fussball@example.com", "ex 6");
	valid("fu\xc3\x9f" "ball@example.com", "fu\xc3\x9f" "ball@example.com",
	    "ex 7: sharp s stays");
	valid("\xcf\x80@example.com", "\xcf\x80@example.com", "ex 8: pi");
	valid("\xce\xa3@example.com/foo", "\xcf\x83@example.com/foo",
	    "ex 9: capital sigma maps to sigma");
	valid("\xcf\x83@example.com/foo", "\xcf\x83@example.com/foo", "ex 10: sigma");
	valid("\xcf\x82@example.com/foo", "\xcf\x82@example.com/foo", "ex 11: final sigma");
	valid("king@example.com/\xe2\x99\x9a", "king@example.com/\xe2\x99\x9a",
	    "ex 12: chess king in resourcepart");
	valid("example.com", "example.com", "ex 13: domainpart");
	valid("example.com/foobar", "example.com/foobar", "ex 14: domain and resource");
	valid("a.example.com/b@example.net", "a.example.com/b@example.net",
	    "ex 15: / splits before @");

	/* Section 3.5, table 2. */
	invalid("\"juliet\"@example.com", "localpart", "ex 16: quotes in localpart");
	invalid("foo bar@example.com", "space", "ex 17: space in localpart");
	/* Verified erratum 4560 removes example 18: OpaqueString allows it. */
	valid("juliet@example.com/ foo", "juliet@example.com/ foo",
	    "ex 18 (erratum 4560): leading space in resourcepart is valid");
	invalid("@example.com/", "empty", "ex 19: empty localpart and resourcepart");
	invalid("henry\xe2\x85\xa3@example.com", "localpart", "ex 20: roman numeral four");
	invalid("\xe2\x99\x9a@example.com", "localpart", "ex 21: chess king in localpart");
	invalid("juliet@", "empty domainpart", "ex 22: no domainpart");
	invalid("/foobar", "empty domainpart", "ex 23: resource without domain");
}

static void
test_domains(void)
{
	valid("example.com.", "example.com", "final dot removed");
	valid("user@Example.COM./Res", "user@example.com/Res", "upper case and final dot");
	valid("\xef\xbd\x85\xef\xbd\x98\xef\xbd\x81\xef\xbd\x8d\xef\xbd\x90\xef\xbd\x8c"
	    "\xef\xbd\x85\xef\xbc\x8e\xef\xbd\x83\xef\xbd\x8f\xef\xbd\x8d", "example.com",
	    "fullwidth domain maps to ASCII");
	valid("example\xe3\x80\x82" "com", "example.com", "ideographic full stop separates");
	valid("x@example.com\xe3\x80\x82", "x@example.com", "mapped final dot removed");
	valid("\xc3\x84\xc3\x96\xc3\x9c.example", "\xc3\xa4\xc3\xb6\xc3\xbc.example",
	    "U-label lower-cased");
	valid("xn--4ca0bs.example", "\xc3\xa4\xc3\xb6\xc3\xbc.example",
	    "A-label becomes U-label");
	valid("XN--4CA0BS.EXAMPLE.", "\xc3\xa4\xc3\xb6\xc3\xbc.example",
	    "upper-case A-label becomes U-label");
	valid("fu\xc3\x9f" "ball.de", "fu\xc3\x9f" "ball.de", "sharp s kept (non-transitional)");
	valid("xn--fuball-cta.de", "fu\xc3\x9f" "ball.de", "A-label of sharp s");
	valid("localhost", "localhost", "unqualified host name");
	valid("a-b.c0m", "a-b.c0m", "hyphen and digits");

	invalid("xn--ab-.com", NULL, "A-label ending in hyphen");
	invalid("xn--a.com", NULL, "undecodable A-label");
	invalid("xn--.com", NULL, "empty A-label");
	invalid("xn--ls8h.la", NULL, "A-label of a symbol (disallowed in IDNA2008)");
	/* Found by the fuzzer: libidn2 passes it, its U-label does not round-trip. */
	invalid("u@XN--XNK", "A-label", "A-label of a compatibility character (U+3238)");
	invalid("\xe2\x98\x83.com", "domainpart", "symbol in domain");
	invalid("ab--cd.com", "reserved", "R-LDH label that is not an A-label");
	invalid("-ab.com", "hyphen", "leading hyphen");
	invalid("ab-.com", "hyphen", "trailing hyphen");
	invalid("a_b.com", "invalid character", "underscore (STD3)");
	invalid("a b.com", "invalid character", "space in domain");
	invalid("a\xef\xbc\xbf" "b.com", "invalid character", "fullwidth underscore maps to _");
	invalid("a..b", "empty label", "empty label");
	invalid(".example.com", "empty label", "leading dot");
	invalid("example.com..", "empty label", "two final dots");
	invalid(".", "empty domainpart", "lone dot");
	invalid("a@b@example.com", "domainpart", "double @");
	invalid("1\xd7\xa9.com", "bidi", "bidi rule in a U-label");
	invalid("\xcd\xb8.com", "domainpart", "unassigned code point");
	invalid("a\xe2\x80\x8c" "b.com", "contextual", "ZWNJ without context");
}

static void
test_ip_literals(void)
{
	valid("1.2.3.4", "1.2.3.4", "IPv4");
	valid("user@192.0.2.1/r", "user@192.0.2.1/r", "IPv4 in a full JID");
	valid("1.2.3.4.", "1.2.3.4", "IPv4 with final dot");
	valid("[::1]", "[::1]", "IPv6 loopback");
	valid("[0:0:0:0:0:0:0:1]", "[::1]", "IPv6 compressed");
	valid("user@[2001:DB8:0::0:1]/res", "user@[2001:db8::1]/res", "IPv6 lower-cased");
	valid("[::FFFF:192.0.2.1]", "[::ffff:192.0.2.1]", "IPv4-mapped IPv6");
	invalid("[::1", "IPv6", "unterminated IPv6 literal");
	invalid("[]", "IPv6", "empty brackets");
	invalid("[::1%25eth0]", "IPv6", "zone identifier");
	invalid("[1.2.3.4]", "IPv6", "IPv4 in brackets");
	invalid("::1", "invalid character", "IPv6 without brackets");
	invalid("256.1.1.1", "IPv4", "octet out of range");
	invalid("1.2.3", "IPv4", "short dotted form");
	invalid("01.2.3.4", "IPv4", "leading zero");
	invalid("example.123", "IPv4", "all-digit top-level label");
}

static void
fill(char *s, size_t n, const char *unit)
{
	size_t k = strlen(unit);

	for (size_t i = 0; i + k <= n; i += k)
		memcpy(s + i, unit, k);
}

static void
test_lengths(void)
{
	char in[6000], want[6000], label[64];

	/* 1023 bytes is the limit for each part. */
	memset(in, 'a', 1023);
	memcpy(in + 1023, "@example.com", 13);
	valid(in, in, "1023-byte localpart");
	memset(in, 'a', 1024);
	memcpy(in + 1024, "@example.com", 13);
	invalid(in, "too long", "1024-byte localpart");

	memcpy(in, "example.com/", 12);
	memset(in + 12, 'r', 1023);
	in[12 + 1023] = '\0';
	valid(in, in, "1023-byte resourcepart");
	in[12 + 1023] = 'r';
	in[12 + 1024] = '\0';
	invalid(in, "too long", "1024-byte resourcepart");

	/* Bytes, not characters: e-acute is two. */
	fill(in, 1022, "\xc3\xa9");
	memcpy(in + 1022, "a@example.com", 14);
	valid(in, in, "1023-byte non-ASCII localpart");
	fill(in, 1022, "\xc3\x89");	/* E-acute, lower-cased to e-acute */
	memcpy(in + 1022, "a@example.com", 14);
	fill(want, 1022, "\xc3\xa9");
	memcpy(want + 1022, "a@example.com", 14);
	valid(in, want, "1023 bytes after case mapping");
	fill(in, 1024, "\xc3\xa9");
	memcpy(in + 1024, "@example.com", 13);
	invalid(in, "too long", "1024-byte non-ASCII localpart");
	/* Fullwidth letters are 3 bytes and map to 1: the limit is on the output. */
	fill(in, 1023 * 3, "\xef\xbd\x81");
	memcpy(in + 1023 * 3, "@example.com", 13);
	memset(want, 'a', 1023);
	memcpy(want + 1023, "@example.com", 13);
	valid(in, want, "3069-byte fullwidth localpart maps to 1023 bytes");
	/* Fullwidth u + diaeresis + macron (7 bytes) compose to one 2-byte letter. */
	fill(in, 511 * 7, "\xef\xbd\x95\xcc\x88\xcc\x84");
	memcpy(in + 511 * 7, "@example.com", 13);
	fill(want, 511 * 2, "\xc7\x96");
	memcpy(want + 511 * 2, "@example.com", 13);
	valid(in, want, "3577 input bytes compose to 1022");

	/* DNS limits on the domain: 63-byte labels, 253 bytes in all. */
	memset(label, 'l', 63);
	label[63] = '\0';
	snprintf(in, sizeof(in), "%s.com", label);
	valid(in, in, "63-byte label");
	snprintf(in, sizeof(in), "l%s.com", label);
	invalid(in, "label too long", "64-byte label");
	snprintf(in, sizeof(in), "%s.%s.%s.%.61s", label, label, label, label);
	valid(in, in, "253-byte domain");
	snprintf(in, sizeof(in), "%s.%s.%s.%.62s", label, label, label, label);
	invalid(in, "too long", "254-byte domain");
	memset(in, 'a', 5000);
	in[5000] = '\0';
	invalid(in, "too long", "5000-byte domain");

	/* The longest JID: 1023 + 1 + domain + 1 + 1023. */
	memset(in, 'a', 1023);
	in[1023] = '@';
	snprintf(in + 1024, 300, "%s.%s.%s.%.61s/", label, label, label, label);
	memset(in + 1024 + 254, 'r', 1023);
	in[1024 + 254 + 1023] = '\0';
	valid(in, in, "long JID in all three parts");
}

static void
test_localpart(void)
{
	static const char forbidden[] = "\"&'/:<>@";

	for (const char *c = forbidden; *c != '\0'; c++) {
		char s[8], name[64];

		snprintf(s, sizeof(s), "a%cb", *c);
		snprintf(name, sizeof(name), "'%c' forbidden in localpart", *c);
		part(SB_JID_LOCAL, s, NULL, name);
	}
	invalid("a:b@example.com", "localpart", "':' in a whole JID");
	invalid("a<b@example.com", "localpart", "'<' in a whole JID");
	part(SB_JID_LOCAL, "\xef\xbc\x9c" "b", NULL, "fullwidth '<' maps to '<': forbidden");
	part(SB_JID_LOCAL, "!#$%()*+,-.;=?[\\]^_`{|}~", "!#$%()*+,-.;=?[\\]^_`{|}~",
	    "other ASCII punctuation allowed");
	part(SB_JID_LOCAL, "JuLiEt", "juliet", "ASCII case mapping");
	part(SB_JID_LOCAL, "\xc3\x89LODIE", "\xc3\xa9lodie", "non-ASCII case mapping");
	part(SB_JID_LOCAL, "\xef\xbc\xaa\xef\xbd\x95\xef\xbd\x8c", "jul",
	    "fullwidth to ASCII, then lower case");
	part(SB_JID_LOCAL, "\xef\xbd\xb6\xef\xbe\x9e", "\xe3\x82\xac",
	    "halfwidth katakana + voiced mark compose");
	part(SB_JID_LOCAL, "e\xcc\x81", "\xc3\xa9", "NFC");
	part(SB_JID_LOCAL, "\xc4\xb0", "i\xcc\x87", "capital I with dot: full lower case");
	part(SB_JID_LOCAL, "\xce\xa3\xce\x91\xce\xa3", "\xcf\x83\xce\xb1\xcf\x83",
	    "no final-sigma context in case mapping");
	part(SB_JID_LOCAL, "\xe2\x84\xaa", NULL, "KELVIN SIGN (compatibility) rejected");
	part(SB_JID_LOCAL, "a b", NULL, "space");
	part(SB_JID_LOCAL, "a\xc2\xa0" "b", NULL, "no-break space");
	part(SB_JID_LOCAL, "a\tb", NULL, "tab");
	part(SB_JID_LOCAL, "a\x7f", NULL, "DEL");
	part(SB_JID_LOCAL, "a\xc2\x85", NULL, "C1 control");
	part(SB_JID_LOCAL, "a\xe2\x80\x8b" "b", NULL, "zero width space (ignorable)");
	part(SB_JID_LOCAL, "a\xef\xb7\x90", NULL, "noncharacter");
	part(SB_JID_LOCAL, "\xe1\x84\x80", NULL, "old hangul jamo");
	part(SB_JID_LOCAL, "\xea\xb0\x80", "\xea\xb0\x80", "hangul syllable");
	part(SB_JID_LOCAL, "a\xcd\xb8", NULL, "unassigned code point");
	/* libunistring has Unicode 14, libidn2's IDNA tables only 12 (see precis.h). */
	part(SB_JID_LOCAL, "\xe0\xa1\xb0", "\xe0\xa1\xb0", "Unicode 14 letter in localpart");
	invalid("\xe0\xa1\xb0.com", "unassigned", "Unicode 14 letter in domainpart");
	part(SB_JID_LOCAL, "\xee\x80\x80", NULL, "private use");
	part(SB_JID_LOCAL, "l\xc2\xb7l", "l\xc2\xb7l", "middle dot between l and l");
	part(SB_JID_LOCAL, "a\xc2\xb7" "b", NULL, "middle dot elsewhere");
	part(SB_JID_LOCAL, "\xd9\xa0\xdb\xb0", NULL, "mixed Arabic-Indic digit sets");
	part(SB_JID_LOCAL, "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d", "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d",
	    "Hebrew (RTL) localpart");
	part(SB_JID_LOCAL, "\xd7\xa9" "1", "\xd7\xa9" "1", "RTL ending in a digit");
	part(SB_JID_LOCAL, "1\xd7\xa9", NULL, "RTL starting with a digit (bidi rule 1)");
	part(SB_JID_LOCAL, "a\xd7\xa9", NULL, "LTR and RTL mixed (bidi rule)");
	part(SB_JID_LOCAL, "\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8d", 
	    "\xe0\xa4\x95\xe0\xa5\x8d\xe2\x80\x8d", "ZWJ after a virama");
	part(SB_JID_LOCAL, "a\xe2\x80\x8d", NULL, "ZWJ after a letter");
}

static void
test_resourcepart(void)
{
	part(SB_JID_RESOURCE, "Balcony", "Balcony", "no case mapping in resourcepart");
	valid("JULIET@example.com/BALCONY", "juliet@example.com/BALCONY",
	    "localpart lower-cased, resourcepart not");
	part(SB_JID_RESOURCE, "\xc3\x89LODIE", "\xc3\x89LODIE", "non-ASCII case kept");
	part(SB_JID_RESOURCE, "\xef\xbd\x86\xef\xbd\x8f", "\xef\xbd\x86\xef\xbd\x8f",
	    "no width mapping in resourcepart");
	part(SB_JID_RESOURCE, "e\xcc\x81", "\xc3\xa9", "NFC in resourcepart");
	part(SB_JID_RESOURCE, "\xe2\x84\xab", "\xc3\x85", "ANGSTROM SIGN normalizes to A-ring");
	part(SB_JID_RESOURCE, "a\xc2\xa0" "b", "a b", "no-break space maps to space");
	part(SB_JID_RESOURCE, "a\xe3\x80\x80" "b", "a b", "ideographic space maps to space");
	part(SB_JID_RESOURCE, " ", " ", "a single space");
	part(SB_JID_RESOURCE, "\xe2\x85\xa3", "\xe2\x85\xa3", "roman numeral allowed");
	part(SB_JID_RESOURCE, "/@\"&'<>:", "/@\"&'<>:", "localpart's forbidden characters allowed");
	part(SB_JID_RESOURCE, "a\nb", NULL, "newline");
	part(SB_JID_RESOURCE, "a\x7f", NULL, "DEL");
	part(SB_JID_RESOURCE, "a\xe2\x80\x8b", NULL, "zero width space");
	part(SB_JID_RESOURCE, "a\xcd\xb8", NULL, "unassigned code point");
	part(SB_JID_RESOURCE, "1\xd7\xa9", "1\xd7\xa9", "no bidi rule in resourcepart");
}

static void
test_malformed(void)
{
	static const struct {
		const char	*bytes;
		const char	*what;
	} utf8[] = {
		{ "\xc0\xaf", "overlong 2-byte" },
		{ "\xe0\x80\xaf", "overlong 3-byte" },
		{ "\xf0\x80\x80\xaf", "overlong 4-byte" },
		{ "\xed\xa0\x80", "surrogate" },
		{ "\xc3", "truncated 2-byte" },
		{ "\xe2\x82", "truncated 3-byte" },
		{ "\x80", "lone continuation byte" },
		{ "\xff", "invalid byte" },
		{ "\xf4\x90\x80\x80", "above U+10FFFF" },
	};
	char in[64], name[128];

	for (size_t i = 0; i < sizeof(utf8) / sizeof(utf8[0]); i++) {
		snprintf(in, sizeof(in), "a%s@example.com", utf8[i].bytes);
		snprintf(name, sizeof(name), "%s in localpart", utf8[i].what);
		invalid(in, "UTF-8", name);
		snprintf(in, sizeof(in), "example.com/r%s", utf8[i].bytes);
		snprintf(name, sizeof(name), "%s in resourcepart", utf8[i].what);
		invalid(in, "UTF-8", name);
		snprintf(in, sizeof(in), "a%s.example.com", utf8[i].bytes);
		snprintf(name, sizeof(name), "%s in domainpart", utf8[i].what);
		invalid(in, "UTF-8", name);
	}
	/* A truncated sequence at the very end of the input must not be read past. */
	invalid_n("example.com/\xe2\x82\xac", 14, "UTF-8", "input ends inside a sequence");

	invalid_n("ju\0liet@example.com", 19, "control", "NUL in localpart");
	invalid_n("juliet@exa\0mple.com", 19, "domainpart", "NUL in domainpart");
	invalid_n("juliet@example.com/r\0s", 22, "control", "NUL in resourcepart");
	invalid_n("j\xc3\xa9\0@example.com", 17, NULL, "NUL in non-ASCII localpart");
	invalid("ju\x01liet@example.com", "control", "control in localpart");
	invalid("juliet@example.com/r\x1b", "control", "escape in resourcepart");
	invalid("exa\x01mple.com", "domainpart", "control in domainpart");
	invalid("", "empty domainpart", "empty string");
	invalid("@", "empty", "lone @");
	invalid("/", "empty domainpart", "lone /");
	invalid("@example.com", "empty localpart", "empty localpart");
	invalid("user@", "empty domainpart", "empty domainpart");
	invalid("example.com/", "empty resourcepart", "empty resourcepart");
	invalid("user@/res", "empty domainpart", "empty domain between @ and /");
	invalid("user@example.com/", "empty resourcepart", "full JID with empty resource");
	valid("a@b/c/d@e", "a@b/c/d@e", "everything after the first / is resource");
}

static void
test_api(void)
{
	char buf[SB_JID_BUFSIZE], buf2[SB_JID_BUFSIZE], small[8], out[64];
	struct sb_jid full, bare, dom, other, copy;
	struct sb_arena a;
	const char *err, *s;
	size_t n;

	sb_arena_init(&a, 0);
	ok(sb_jid_parse(&full, buf, sizeof(buf), "Juliet@Example.com/Balcony", 26, &err) == 0,
	    "parse a full JID");
	s = sb_jid_local(&full, &n);
	is_mem(s, n, "juliet", 6, "localpart accessor");
	s = sb_jid_domain(&full, &n);
	is_mem(s, n, "example.com", 11, "domainpart accessor");
	s = sb_jid_resource(&full, &n);
	is_mem(s, n, "Balcony", 7, "resourcepart accessor");
	ok(!sb_jid_is_bare(&full) && !sb_jid_is_domain(&full), "full JID predicates");
	is_int(sb_jid_format_bare(&full, out, sizeof(out)), 18, "bare length");
	is_str(out, "juliet@example.com", "format bare");
	is_int(sb_jid_format(&full, out, sizeof(out)), 26, "full length");
	is_str(out, "juliet@example.com/Balcony", "format full");
	is_int(sb_jid_format(&full, small, sizeof(small)), 26, "format reports full length");
	is_str(small, "juliet@", "format truncates and terminates");

	ok(sb_jid_parse_arena(&bare, &a, "juliet@example.com", 18, &err) == 0 &&
	    sb_jid_is_bare(&bare) && !sb_jid_is_domain(&bare), "bare JID in an arena");
	ok(sb_jid_resource(&bare, &n) == NULL && n == 0, "no resource in a bare JID");
	ok(!sb_jid_eq(&full, &bare) && sb_jid_eq_bare(&full, &bare), "full vs bare comparison");
	ok(sb_jid_parse(&other, buf2, sizeof(buf2), "juliet@example.com/balcony", 26, &err) == 0 &&
	    !sb_jid_eq(&full, &other) && sb_jid_eq_bare(&full, &other),
	    "resources compare case-sensitively");
	ok(sb_jid_cmp(&bare, &full) < 0 && sb_jid_cmp(&full, &bare) > 0, "ordering");

	ok(sb_jid_parse_arena(&dom, &a, "EXAMPLE.com.", 12, &err) == 0 &&
	    sb_jid_is_domain(&dom) && sb_jid_local(&dom, &n) == NULL, "domain-only JID");
	s = sb_jid_domain(&dom, &n);
	is_mem(s, n, "example.com", 11, "domain accessor on a domain JID");

	sb_jid_bare_arena(&copy, &a, &full);
	ok(sb_jid_eq(&copy, &bare) && copy.str[copy.len] == '\0', "bare copy in an arena");
	sb_jid_copy_arena(&copy, &a, &full);
	ok(sb_jid_eq(&copy, &full) && copy.str != full.str, "full copy in an arena");

	ok(sb_jid_build(&other, buf2, sizeof(buf2), "JULIET", 6, "example.com", 11,
	    "Balcony", 7, &err) == 0 && sb_jid_eq(&other, &full), "build from parts");
	ok(sb_jid_build_arena(&other, &a, NULL, 0, "Example.Com", 11, NULL, 0, &err) == 0 &&
	    sb_jid_eq(&other, &dom), "build a domain JID in an arena");
	ok(sb_jid_build(&other, buf2, sizeof(buf2), "", 0, "example.com", 11, NULL, 0,
	    &err) == -1 && strstr(err, "empty localpart") != NULL, "build with an empty localpart");
	ok(sb_jid_build(&other, buf2, sizeof(buf2), "a", 1, "b@example.com", 13, NULL, 0,
	    &err) == -1, "build refuses @ in a domainpart");
	ok(sb_jid_build(&other, buf2, sizeof(buf2), NULL, 0, "example.com", 11, "a/b@c", 5,
	    &err) == 0 && strcmp(other.str, "example.com/a/b@c") == 0,
	    "build allows / and @ in a resourcepart");

	ok(sb_jid_parse(&other, small, sizeof(small), "juliet@example.com", 18, &err) == -1,
	    "buffer too small");
	ok(sb_jid_parse(&other, small, sizeof(small), "a@b.c/d", 7, &err) == 0 &&
	    strcmp(other.str, "a@b.c/d") == 0, "a small buffer that fits");

	ok(sb_jid_prepare_arena(SB_JID_DOMAIN, &a, "XN--4CA0BS.example", 18, &s, &n, &err) == 0 &&
	    strcmp(s, "\xc3\xa4\xc3\xb6\xc3\xbc.example") == 0 && n == 14,
	    "prepare a domainpart into an arena");
	ok(sb_jid_prepare(SB_JID_LOCAL, "Juliet", 6, small, 4, &n, &err) == -1,
	    "prepare into a buffer too small");
	sb_arena_free(&a);
}

static void
test_precis_properties(void)
{
	static const struct {
		uint32_t		 cp;
		enum sb_precis_prop	 id, free;
		const char		*what;
	} t[] = {
		{ 'a', SB_PRECIS_PVALID, SB_PRECIS_PVALID, "ASCII7" },
		{ ' ', SB_PRECIS_DISALLOWED, SB_PRECIS_PVALID, "space" },
		{ 0x0007, SB_PRECIS_DISALLOWED, SB_PRECIS_DISALLOWED, "control" },
		{ 0x00DF, SB_PRECIS_PVALID, SB_PRECIS_PVALID, "exception: sharp s" },
		{ 0x0640, SB_PRECIS_DISALLOWED, SB_PRECIS_DISALLOWED, "exception: tatweel" },
		{ 0x00B7, SB_PRECIS_CONTEXTO, SB_PRECIS_CONTEXTO, "exception: middle dot" },
		{ 0x200C, SB_PRECIS_CONTEXTJ, SB_PRECIS_CONTEXTJ, "join control" },
		{ 0x2163, SB_PRECIS_DISALLOWED, SB_PRECIS_PVALID, "HasCompat" },
		{ 0x265A, SB_PRECIS_DISALLOWED, SB_PRECIS_PVALID, "symbol" },
		{ 0x01C5, SB_PRECIS_DISALLOWED, SB_PRECIS_PVALID, "titlecase (Lt)" },
		{ 0x0378, SB_PRECIS_UNASSIGNED, SB_PRECIS_UNASSIGNED, "unassigned" },
		{ 0xFDD0, SB_PRECIS_DISALLOWED, SB_PRECIS_DISALLOWED, "noncharacter" },
		{ 0x1100, SB_PRECIS_DISALLOWED, SB_PRECIS_DISALLOWED, "old hangul jamo" },
		{ 0xAC00, SB_PRECIS_PVALID, SB_PRECIS_PVALID, "hangul syllable" },
		{ 0x0870, SB_PRECIS_PVALID, SB_PRECIS_PVALID, "Unicode 14 letter" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		ok(sb_precis_property(t[i].cp, SB_PRECIS_IDENTIFIER) == t[i].id &&
		    sb_precis_property(t[i].cp, SB_PRECIS_FREEFORM) == t[i].free,
		    "property of U+%04X: %s", (unsigned)t[i].cp, t[i].what);
	ok(sb_precis_utf8_valid("\xf0\x9f\x98\x80", 4) && !sb_precis_utf8_valid("\xf0\x9f\x98", 3),
	    "UTF-8 validity");
}

int
main(void)
{
	test_rfc7622_examples();
	test_domains();
	test_ip_literals();
	test_lengths();
	test_localpart();
	test_resourcepart();
	test_malformed();
	test_api();
	test_precis_properties();
	return done_testing();
}
