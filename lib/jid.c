/*
 * jid.c: JID parsing and preparation (RFC 7622). See jid.h for the rules
 * and the canonical form.
 *
 * Each part has an ASCII fast path that handles the common case with one
 * table lookup per byte; a part with a byte >= 0x80 (or a domain with an
 * "xn--" label) goes to PRECIS (precis.c) or to libidn2. Both paths end
 * in the same canonical form, which the fuzzer (t/fuzz/jid.c) checks by
 * preparing every output again.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "arena.h"
#include "jid.h"
#include "precis.h"

/*
 * Longest input accepted for one part. Preparation shrinks a string by
 * less than a factor of four: the worst case is a fullwidth letter with two
 * combining marks (7 bytes) that width mapping and NFC turn into one 2-byte
 * letter ("\uff55\u0308\u0304" -> "\u01d6"), so nothing longer can give
 * 1023 bytes or less.
 */
#define PART_INPUT_MAX	(4 * SB_JID_PART_MAX)
#define DNS_NAME_MAX	253	/* without the final dot (RFC 1034) */
#define DNS_LABEL_MAX	63

/*
 * ASCII maps for the fast paths: each byte maps to its canonical form, or
 * to 0 when the part cannot contain it. Rows are 32 bytes, 0x00 to 0x7f.
 */
#define X	"\0"
#define X8	X X X X X X X X
#define X32	X8 X8 X8 X8

/* UsernameCaseMapped on ASCII, minus RFC 7622's " & ' / : < > @. */
static const char local_ascii[] =
	X32
	X "!" X "#$%" X X "()*+,-." X "0123456789" X ";" X "=" X "?"
	X "abcdefghijklmnopqrstuvwxyz[\\]^_"
	"`abcdefghijklmnopqrstuvwxyz{|}~" X;

/* LDH (STD3) and the label separator; UTS #46 lower-cases A-Z. */
static const char domain_ascii[] =
	X32
	X X X X X X X X X X X X X "-." X "0123456789" X X X X X X
	X "abcdefghijklmnopqrstuvwxyz" X X X X X
	X "abcdefghijklmnopqrstuvwxyz" X X X X X;

_Static_assert(sizeof(local_ascii) == 129, "local_ascii covers ASCII");
_Static_assert(sizeof(domain_ascii) == 129, "domain_ascii covers ASCII");

#define PRECIS_ERRORS(part) {						\
	[SB_PRECIS_OK] =		"ok",					\
	[SB_PRECIS_EEMPTY] =		"empty " part,				\
	[SB_PRECIS_EUTF8] =		"invalid UTF-8 in " part,		\
	[SB_PRECIS_EDISALLOWED] =	"disallowed character in " part,	\
	[SB_PRECIS_EUNASSIGNED] =	"unassigned code point in " part,	\
	[SB_PRECIS_ECONTEXT] =		"contextual rule not satisfied in " part, \
	[SB_PRECIS_EBIDI] =		"bidi rule violated in " part,		\
	[SB_PRECIS_ETOOLONG] =		part " too long",			\
	[SB_PRECIS_EUNSTABLE] =		part " preparation does not converge",	\
	[SB_PRECIS_ENOMEM] =		"out of memory preparing " part,	\
}

static const char *const local_errors[] = PRECIS_ERRORS("localpart");
static const char *const resource_errors[] = PRECIS_ERRORS("resourcepart");

/* libidn2's verdicts in our words; anything else is "invalid". */
static const struct {
	int		 rc;
	const char	*text;
} idn2_errors[] = {
	{ IDN2_ENCODING_ERROR,		"invalid UTF-8 in domainpart" },
	{ IDN2_DISALLOWED,		"disallowed character in domainpart" },
	{ IDN2_UNASSIGNED,		"unassigned code point in domainpart" },
	{ IDN2_CONTEXTJ,		"contextual rule not satisfied in domainpart" },
	{ IDN2_CONTEXTJ_NO_RULE,	"contextual rule not satisfied in domainpart" },
	{ IDN2_CONTEXTO,		"contextual rule not satisfied in domainpart" },
	{ IDN2_CONTEXTO_NO_RULE,	"contextual rule not satisfied in domainpart" },
	{ IDN2_BIDI,			"bidi rule violated in domainpart" },
	{ IDN2_LEADING_COMBINING,	"domain label starts with a combining mark" },
	{ IDN2_2HYPHEN,			"reserved domain label (\"--\" in positions 3-4)" },
	{ IDN2_HYPHEN_STARTEND,		"hyphen at the start or end of a domain label" },
	{ IDN2_PUNYCODE_BAD_INPUT,	"invalid A-label in domainpart" },
	{ IDN2_ALABEL_ROUNDTRIP_FAILED,	"invalid A-label in domainpart" },
	{ IDN2_TOO_BIG_LABEL,		"domain label too long" },
	{ IDN2_TOO_BIG_DOMAIN,		"domainpart too long" },
};

static int
fail(const char **errp, const char *text)
{
	if (errp != NULL)
		*errp = text;
	return -1;
}

/* ---- localpart ---- */

static const char *
local_ascii_error(unsigned char c)
{
	if (c == ' ')
		return "space in localpart";
	if (c < 0x20 || c == 0x7f)
		return "control character in localpart";
	return "character not allowed in localpart (\" & ' / : < > @)";
}

/* out has SB_JID_PART_BUFSIZE bytes, as for every part preparer. */
static int
prep_local(const char *s, size_t n, char *out, size_t *outlen, const char **errp)
{
	const unsigned char *p = (const unsigned char *)s;
	enum sb_precis_error e;
	size_t i;

	if (n == 0)
		return fail(errp, "empty localpart");
	if (n > PART_INPUT_MAX)
		return fail(errp, "localpart too long");
	for (i = 0; i < n && i < SB_JID_PART_MAX && p[i] < 0x80; i++)
		if ((out[i] = local_ascii[p[i]]) == 0)
			return fail(errp, local_ascii_error(p[i]));
	if (i == n) {
		out[n] = '\0';
		*outlen = n;
		return 0;
	}
	if (i == SB_JID_PART_MAX && p[i] < 0x80)
		return fail(errp, "localpart too long");
	e = sb_precis_enforce(SB_PRECIS_USERNAME_CASEMAPPED, s, n, out,
	    SB_JID_PART_BUFSIZE, outlen);
	if (e != SB_PRECIS_OK)
		return fail(errp, local_errors[e]);
	/* PRECIS allows these ASCII characters; RFC 7622 does not. */
	for (i = 0; i < *outlen; i++)
		if ((unsigned char)out[i] < 0x80 && local_ascii[(unsigned char)out[i]] == 0)
			return fail(errp, local_ascii_error((unsigned char)out[i]));
	return 0;
}

/* ---- resourcepart ---- */

static int
prep_resource(const char *s, size_t n, char *out, size_t *outlen, const char **errp)
{
	const unsigned char *p = (const unsigned char *)s;
	enum sb_precis_error e;
	size_t i;

	if (n == 0)
		return fail(errp, "empty resourcepart");
	if (n > PART_INPUT_MAX)
		return fail(errp, "resourcepart too long");
	/* OpaqueString leaves printable ASCII, space included, as it is. */
	for (i = 0; i < n && i < SB_JID_PART_MAX && p[i] < 0x80; i++) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return fail(errp, "control character in resourcepart");
		out[i] = (char)p[i];
	}
	if (i == n) {
		out[n] = '\0';
		*outlen = n;
		return 0;
	}
	if (i == SB_JID_PART_MAX && p[i] < 0x80)
		return fail(errp, "resourcepart too long");
	e = sb_precis_enforce(SB_PRECIS_OPAQUESTRING, s, n, out, SB_JID_PART_BUFSIZE, outlen);
	if (e != SB_PRECIS_OK)
		return fail(errp, resource_errors[e]);
	return 0;
}

/* ---- domainpart ---- */

/*
 * DNS and STD3 rules on a lower-case ASCII (A-label form) name: labels of
 * 1..63 letters, digits and hyphens, no hyphen at either end, "--" in
 * positions 3-4 only in an A-label ("xn--"). Reports whether there is an
 * A-label and whether the last label is all digits.
 */
static int
check_ldh(const char *d, size_t n, bool *alabel, bool *numeric_tld, const char **errp)
{
	size_t start = 0;
	bool digits = true;

	*alabel = false;
	if (n > DNS_NAME_MAX)
		return fail(errp, "domainpart too long");
	for (size_t i = 0; i <= n; i++) {
		const char *l = d + start;
		size_t len = i - start;

		if (i < n && d[i] != '.') {
			if (!((d[i] >= 'a' && d[i] <= 'z') || d[i] == '-' ||
			    (d[i] >= '0' && d[i] <= '9')))
				return fail(errp, "invalid character in domainpart");
			digits = digits && d[i] >= '0' && d[i] <= '9';
			continue;
		}
		if (len == 0)
			return fail(errp, "empty label in domainpart");
		if (len > DNS_LABEL_MAX)
			return fail(errp, "domain label too long");
		if (l[0] == '-' || l[len - 1] == '-')
			return fail(errp, "hyphen at the start or end of a domain label");
		if (len >= 4 && l[2] == '-' && l[3] == '-') {
			if (l[0] != 'x' || l[1] != 'n')
				return fail(errp, "reserved domain label (\"--\" in positions 3-4)");
			*alabel = true;
		}
		*numeric_tld = digits;
		digits = true;
		start = i + 1;
	}
	return 0;
}

/*
 * A name whose last label is all digits could be read as an address, so
 * it has to be one: a dotted quad that inet_pton accepts (no leading zeros,
 * no short forms). Its canonical form is inet_ntop's, i.e. itself.
 */
static int
check_ipv4(const char *d, size_t n, const char **errp)
{
	char tmp[INET_ADDRSTRLEN];
	struct in_addr a;

	if (n >= sizeof(tmp))
		return fail(errp, "numeric domainpart is not an IPv4 address");
	memcpy(tmp, d, n);
	tmp[n] = '\0';
	if (inet_pton(AF_INET, tmp, &a) != 1)
		return fail(errp, "numeric domainpart is not an IPv4 address");
	return 0;
}

/* "[v6 address]", normalized by inet_ntop: lower case, "::" compression. */
static int
prep_ipv6(const char *s, size_t n, char *out, size_t *outlen, const char **errp)
{
	char tmp[INET6_ADDRSTRLEN];
	struct in6_addr a;
	size_t k;

	if (n < 3 || s[n - 1] != ']' || n - 2 >= sizeof(tmp))
		return fail(errp, "invalid IPv6 literal in domainpart");
	memcpy(tmp, s + 1, n - 2);
	tmp[n - 2] = '\0';
	if (strlen(tmp) != n - 2 || inet_pton(AF_INET6, tmp, &a) != 1)
		return fail(errp, "invalid IPv6 literal in domainpart");
	out[0] = '[';
	if (inet_ntop(AF_INET6, &a, out + 1, INET6_ADDRSTRLEN) == NULL)
		return fail(errp, "invalid IPv6 literal in domainpart");
	k = strlen(out);
	out[k++] = ']';
	out[k] = '\0';
	*outlen = k;
	return 0;
}

/*
 * ASCII names without A-labels: 0 done, -1 invalid, 1 when the name needs
 * IDNA after all (a byte >= 0x80 or an "xn--" label).
 */
static int
prep_domain_ascii(const char *s, size_t n, char *out, size_t *outlen, const char **errp)
{
	const unsigned char *p = (const unsigned char *)s;
	bool alabel, numeric;

	for (size_t i = 0; i < n; i++) {
		if (p[i] >= 0x80)
			return 1;
		/* 254 ASCII bytes stay 254 bytes whatever follows them. */
		if (i == DNS_NAME_MAX)
			return fail(errp, "domainpart too long");
		if ((out[i] = domain_ascii[p[i]]) == 0)
			return fail(errp, "invalid character in domainpart");
	}
	if (check_ldh(out, n, &alabel, &numeric, errp) != 0)
		return -1;
	if (alabel)
		return 1;
	if (numeric && check_ipv4(out, n, errp) != 0)
		return -1;
	out[n] = '\0';
	*outlen = n;
	return 0;
}

static const char *
idn2_error(int rc)
{
	for (size_t i = 0; i < sizeof(idn2_errors) / sizeof(idn2_errors[0]); i++)
		if (idn2_errors[i].rc == rc)
			return idn2_errors[i].text;
	return "invalid internationalized domainpart";
}

/* Does the U-form u look up to exactly the A-label form a? */
static bool
same_lookup(const char *u, const char *a)
{
	char *again = NULL;
	bool same;

	same = idn2_lookup_u8((const uint8_t *)u, (uint8_t **)&again,
	    IDN2_NONTRANSITIONAL) == IDN2_OK && strcmp(again, a) == 0;
	idn2_free(again);
	return same;
}

/*
 * The slow path: UTS #46 mapping and IDNA2008 checks by libidn2 into the
 * A-label form (which has to pass check_ldh: libidn2 lets "_" through, and
 * with IDN2_USE_STD3_ASCII_RULES it silently drops disallowed ASCII, so
 * "a b.com" would become "ab.com"; hence no STD3 flag and our own check),
 * then back to U-labels for the canonical form.
 */
static int
prep_domain_idna(const char *s, size_t n, char *out, size_t *outlen, const char **errp)
{
	char in[PART_INPUT_MAX + 1], *a = NULL, *u = NULL;
	bool alabel, numeric;
	size_t alen, ulen;
	int rc, ret = -1;

	if (!sb_precis_utf8_valid(s, n))
		return fail(errp, "invalid UTF-8 in domainpart");
	if (memchr(s, '\0', n) != NULL)
		return fail(errp, "control character in domainpart");
	memcpy(in, s, n);
	in[n] = '\0';
	/* Non-transitional: "ß" stays "ß" (IDNA2008), as browsers do. */
	if ((rc = idn2_lookup_u8((const uint8_t *)in, (uint8_t **)&a,
	    IDN2_NONTRANSITIONAL)) != IDN2_OK)
		return fail(errp, idn2_error(rc));
	alen = strlen(a);
	/* A mapped separator ("example.com\u3002") may end it now. */
	if (alen > 0 && a[alen - 1] == '.')
		a[--alen] = '\0';
	if (alen == 0) {
		fail(errp, "empty domainpart");
		goto out;
	}
	if (check_ldh(a, alen, &alabel, &numeric, errp) != 0)
		goto out;
	if (numeric && check_ipv4(a, alen, errp) != 0)
		goto out;
	if (!alabel) {
		memcpy(out, a, alen + 1);
		*outlen = alen;
		ret = 0;
		goto out;
	}
	if ((rc = idn2_to_unicode_8z8z(a, &u, 0)) != IDN2_OK) {
		fail(errp, idn2_error(rc));
		goto out;
	}
	/*
	 * libidn2 passes some A-labels whose U-label IDNA2008 disallows
	 * ("xn--xnk" is U+3238, which UTS #46 maps to "(\u52b4)"). Only a
	 * U-form that looks up to the same A-labels is canonical, and only
	 * that makes preparing the output again give the output.
	 */
	if (!same_lookup(u, a)) {
		fail(errp, "invalid A-label in domainpart");
		goto out;
	}
	if ((ulen = strlen(u)) > SB_JID_PART_MAX) {
		fail(errp, "domainpart too long");
		goto out;
	}
	memcpy(out, u, ulen + 1);
	*outlen = ulen;
	ret = 0;
out:
	idn2_free(a);
	idn2_free(u);
	return ret;
}

static int
prep_domain(const char *s, size_t n, char *out, size_t *outlen, const char **errp)
{
	int r;

	/* RFC 7622 section 3.2: the final dot goes before anything else. */
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0)
		return fail(errp, "empty domainpart");
	if (n > PART_INPUT_MAX)
		return fail(errp, "domainpart too long");
	if (s[0] == '[')
		return prep_ipv6(s, n, out, outlen, errp);
	if ((r = prep_domain_ascii(s, n, out, outlen, errp)) <= 0)
		return r;
	return prep_domain_idna(s, n, out, outlen, errp);
}

/* ---- whole JIDs ---- */

typedef int prep_fn(const char *, size_t, char *, size_t *, const char **);

static prep_fn *const preparers[] = {
	[SB_JID_LOCAL] = prep_local,
	[SB_JID_DOMAIN] = prep_domain,
	[SB_JID_RESOURCE] = prep_resource,
};

/* A part as given; s == NULL means absent. */
struct span {
	const char	*s;
	size_t		 len;
};

static void
clear(struct sb_jid *jid)
{
	*jid = (struct sb_jid){ .str = "" };
}

/*
 * Prepare the three parts into "local@domain/resource". Each part gets a
 * full SB_JID_PART_BUFSIZE of room, so a buffer of SB_JID_BUFSIZE bytes is
 * written in place; a smaller one gets a copy from the stack.
 */
static int
assemble(struct sb_jid *jid, char *buf, size_t size, const struct span *local,
    const struct span *domain, const struct span *resource, const char **errp)
{
	char scratch[SB_JID_BUFSIZE], *o = size >= SB_JID_BUFSIZE ? buf : scratch;
	size_t pos = 0, n;

	clear(jid);
	if (local->s != NULL) {
		if (prep_local(local->s, local->len, o, &n, errp) != 0)
			return -1;
		jid->local_len = (uint16_t)n;
		pos = n;
		o[pos++] = '@';
	}
	if (prep_domain(domain->s, domain->len, o + pos, &n, errp) != 0)
		return -1;
	jid->domain_len = (uint16_t)n;
	pos += n;
	if (resource->s != NULL) {
		o[pos++] = '/';
		if (prep_resource(resource->s, resource->len, o + pos, &n, errp) != 0)
			return -1;
		jid->resource_len = (uint16_t)n;
		pos += n;
	}
	if (o == scratch) {
		if (pos >= size)
			return fail(errp, "JID buffer too small");
		memcpy(buf, scratch, pos + 1);
	}
	jid->str = buf;
	jid->len = (uint16_t)pos;
	return 0;
}

/* RFC 7622 section 3.2: split at the first '/', then at the first '@'. */
static void
split(const char *s, size_t len, struct span *local, struct span *domain,
    struct span *resource)
{
	const char *slash = memchr(s, '/', len);
	size_t head = slash != NULL ? (size_t)(slash - s) : len;
	const char *at = memchr(s, '@', head);

	*local = (struct span){ NULL, 0 };
	*resource = (struct span){ NULL, 0 };
	if (at != NULL)
		*local = (struct span){ s, (size_t)(at - s) };
	domain->s = at != NULL ? at + 1 : s;
	domain->len = head - (size_t)(domain->s - s);
	if (slash != NULL)
		*resource = (struct span){ slash + 1, len - head - 1 };
}

int
sb_jid_parse(struct sb_jid *jid, char *buf, size_t size, const char *s, size_t len,
    const char **errp)
{
	struct span local, domain, resource;

	if (s == NULL)
		len = 0;
	split(s != NULL ? s : "", len, &local, &domain, &resource);
	if (assemble(jid, buf, size, &local, &domain, &resource, errp) != 0) {
		clear(jid);
		return -1;
	}
	return 0;
}

int
sb_jid_parse_arena(struct sb_jid *jid, struct sb_arena *a, const char *s, size_t len,
    const char **errp)
{
	char buf[SB_JID_BUFSIZE];

	if (sb_jid_parse(jid, buf, sizeof(buf), s, len, errp) != 0)
		return -1;
	jid->str = sb_arena_memdup(a, buf, (size_t)jid->len + 1);
	return 0;
}

int
sb_jid_build(struct sb_jid *jid, char *buf, size_t size, const char *local,
    size_t local_len, const char *domain, size_t domain_len, const char *resource,
    size_t resource_len, const char **errp)
{
	struct span l = { local, local_len }, r = { resource, resource_len };
	struct span d = { domain != NULL ? domain : "", domain != NULL ? domain_len : 0 };

	if (assemble(jid, buf, size, &l, &d, &r, errp) != 0) {
		clear(jid);
		return -1;
	}
	return 0;
}

int
sb_jid_build_arena(struct sb_jid *jid, struct sb_arena *a, const char *local,
    size_t local_len, const char *domain, size_t domain_len, const char *resource,
    size_t resource_len, const char **errp)
{
	char buf[SB_JID_BUFSIZE];

	if (sb_jid_build(jid, buf, sizeof(buf), local, local_len, domain, domain_len,
	    resource, resource_len, errp) != 0)
		return -1;
	jid->str = sb_arena_memdup(a, buf, (size_t)jid->len + 1);
	return 0;
}

int
sb_jid_prepare(enum sb_jid_part part, const char *s, size_t len, char *out,
    size_t size, size_t *outlen, const char **errp)
{
	char scratch[SB_JID_PART_BUFSIZE], *o = size >= sizeof(scratch) ? out : scratch;
	size_t n;

	if ((size_t)part >= sizeof(preparers) / sizeof(preparers[0]))
		return fail(errp, "no such JID part");
	if (preparers[part](s != NULL ? s : "", s != NULL ? len : 0, o, &n, errp) != 0)
		return -1;
	if (o == scratch) {
		if (n >= size)
			return fail(errp, "JID part buffer too small");
		memcpy(out, scratch, n + 1);
	}
	*outlen = n;
	return 0;
}

int
sb_jid_prepare_arena(enum sb_jid_part part, struct sb_arena *a, const char *s,
    size_t len, const char **out, size_t *outlen, const char **errp)
{
	char buf[SB_JID_PART_BUFSIZE];

	if (sb_jid_prepare(part, s, len, buf, sizeof(buf), outlen, errp) != 0)
		return -1;
	*out = sb_arena_memdup(a, buf, *outlen + 1);
	return 0;
}

/* ---- copies, formatting, comparison ---- */

void
sb_jid_copy_arena(struct sb_jid *dst, struct sb_arena *a, const struct sb_jid *src)
{
	*dst = *src;
	dst->str = sb_arena_memdup(a, src->str, (size_t)src->len + 1);
}

void
sb_jid_bare_arena(struct sb_jid *dst, struct sb_arena *a, const struct sb_jid *src)
{
	size_t n = sb_jid_bare_len(src);
	char *s = sb_arena_alloc(a, n + 1);

	memcpy(s, src->str, n);
	s[n] = '\0';
	*dst = *src;
	dst->str = s;
	dst->len = (uint16_t)n;
	dst->resource_len = 0;
}

static size_t
copy_out(const char *s, size_t n, char *buf, size_t size)
{
	if (size > 0) {
		size_t k = n < size ? n : size - 1;

		memcpy(buf, s, k);
		buf[k] = '\0';
	}
	return n;
}

size_t
sb_jid_format(const struct sb_jid *jid, char *buf, size_t size)
{
	return copy_out(jid->str, jid->len, buf, size);
}

size_t
sb_jid_format_bare(const struct sb_jid *jid, char *buf, size_t size)
{
	return copy_out(jid->str, sb_jid_bare_len(jid), buf, size);
}

static int
cmp_bytes(const char *a, size_t alen, const char *b, size_t blen)
{
	int r = memcmp(a, b, alen < blen ? alen : blen);

	if (r != 0)
		return r;
	return (alen > blen) - (alen < blen);
}

int
sb_jid_cmp(const struct sb_jid *a, const struct sb_jid *b)
{
	return cmp_bytes(a->str, a->len, b->str, b->len);
}

int
sb_jid_cmp_bare(const struct sb_jid *a, const struct sb_jid *b)
{
	return cmp_bytes(a->str, sb_jid_bare_len(a), b->str, sb_jid_bare_len(b));
}
