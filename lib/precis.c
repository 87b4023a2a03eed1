/*
 * precis.c: PRECIS (RFC 8264) derived properties, the UsernameCaseMapped,
 * UsernameCasePreserved and OpaqueString profiles (RFC 8265), the
 * contextual rules of RFC 5892 appendix A and the Bidi Rule of RFC 5893,
 * on top of libunistring's character data. See precis.h for the Unicode
 * version and the approximations.
 *
 * Strings are decoded once into arrays of code points (one heap block per
 * call); each rule maps one array into another. Nothing here is on the
 * fast path of JID preparation: jid.c handles ASCII itself and calls in
 * only when a part has a byte >= 0x80.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>

#include "precis.h"

/* What a profile does, in the order of RFC 8264 section 7. */
struct profile {
	enum sb_precis_class	 cls;
	bool			 width;		/* fullwidth/halfwidth to decomposition */
	bool			 spaces;	/* non-ASCII Zs to U+0020 */
	bool			 lower;		/* toLowerCase */
	bool			 bidi;		/* RFC 5893 on strings with RTL */
};

static const struct profile profiles[] = {
	[SB_PRECIS_USERNAME_CASEMAPPED] =	{ SB_PRECIS_IDENTIFIER, true, false, true, true },
	[SB_PRECIS_USERNAME_CASEPRESERVED] =	{ SB_PRECIS_IDENTIFIER, true, false, false, true },
	[SB_PRECIS_OPAQUESTRING] =		{ SB_PRECIS_FREEFORM, false, true, false, false },
};

static const char *const errors[] = {
	[SB_PRECIS_OK] =		"ok",
	[SB_PRECIS_EEMPTY] =		"empty string",
	[SB_PRECIS_EUTF8] =		"invalid UTF-8",
	[SB_PRECIS_EDISALLOWED] =	"disallowed code point",
	[SB_PRECIS_EUNASSIGNED] =	"unassigned code point",
	[SB_PRECIS_ECONTEXT] =		"contextual rule not satisfied",
	[SB_PRECIS_EBIDI] =		"bidi rule violated",
	[SB_PRECIS_ETOOLONG] =		"too long",
	[SB_PRECIS_EUNSTABLE] =		"preparation does not reach a fixed point",
	[SB_PRECIS_ENOMEM] =		"out of memory",
};

/* RFC 5892 section 2.6, which RFC 8264 section 9.6 reuses unchanged. */
static const struct exception {
	uint32_t		 lo, hi;
	enum sb_precis_prop	 prop;
} exceptions[] = {
	{ 0x00B7, 0x00B7, SB_PRECIS_CONTEXTO },	/* MIDDLE DOT */
	{ 0x00DF, 0x00DF, SB_PRECIS_PVALID },	/* SHARP S */
	{ 0x0375, 0x0375, SB_PRECIS_CONTEXTO },	/* GREEK LOWER NUMERAL SIGN */
	{ 0x03C2, 0x03C2, SB_PRECIS_PVALID },	/* FINAL SIGMA */
	{ 0x05F3, 0x05F4, SB_PRECIS_CONTEXTO },	/* HEBREW GERESH, GERSHAYIM */
	{ 0x0640, 0x0640, SB_PRECIS_DISALLOWED },	/* ARABIC TATWEEL */
	{ 0x0660, 0x0669, SB_PRECIS_CONTEXTO },	/* ARABIC-INDIC DIGITS */
	{ 0x06F0, 0x06F9, SB_PRECIS_CONTEXTO },	/* EXTENDED ARABIC-INDIC DIGITS */
	{ 0x06FD, 0x06FE, SB_PRECIS_PVALID },	/* ARABIC SIGN SINDHI AMPERSAND... */
	{ 0x07FA, 0x07FA, SB_PRECIS_DISALLOWED },	/* NKO LAJANYALAN */
	{ 0x0F0B, 0x0F0B, SB_PRECIS_PVALID },	/* TIBETAN MARK INTERSYLLABIC TSHEG */
	{ 0x3007, 0x3007, SB_PRECIS_PVALID },	/* IDEOGRAPHIC NUMBER ZERO */
	{ 0x302E, 0x302F, SB_PRECIS_DISALLOWED },	/* HANGUL TONE MARKS */
	{ 0x3031, 0x3035, SB_PRECIS_DISALLOWED },	/* VERTICAL KANA REPEAT MARKS */
	{ 0x303B, 0x303B, SB_PRECIS_DISALLOWED },	/* VERTICAL IDEOGRAPHIC ITERATION */
	{ 0x30FB, 0x30FB, SB_PRECIS_CONTEXTO },	/* KATAKANA MIDDLE DOT */
};

/* Hangul_Syllable_Type L, V and T live in these blocks and nowhere else. */
static const struct { uint32_t lo, hi; } old_hangul_jamo[] = {
	{ 0x1100, 0x11FF }, { 0xA960, 0xA97F }, { 0xD7B0, 0xD7FF },
};

#define CAT(x)	UC_CATEGORY_MASK_##x
#define LETTER_DIGITS	(CAT(Ll) | CAT(Lu) | CAT(Lo) | CAT(Nd) | CAT(Lm) | CAT(Mn) | CAT(Mc))
#define OTHER_LETTER_DIGITS (CAT(Lt) | CAT(Nl) | CAT(No) | CAT(Me))
#define SYMBOLS		(CAT(Sm) | CAT(Sc) | CAT(Sk) | CAT(So))
#define PUNCTUATION	(CAT(Pc) | CAT(Pd) | CAT(Ps) | CAT(Pe) | CAT(Pi) | CAT(Pf) | CAT(Po))

/* Working storage for one application of the rules. */
struct cpbuf {
	uint32_t	 cp[SB_PRECIS_MAX_CP];
	size_t		 n;
};

const char *
sb_precis_strerror(enum sb_precis_error e)
{
	if ((size_t)e >= sizeof(errors) / sizeof(errors[0]))
		return "unknown PRECIS error";
	return errors[e];
}

/*
 * Decode strict UTF-8 (RFC 3629 section 4). The second byte's range
 * depends on the first, which is what rules out overlong forms, surrogates
 * and values above U+10FFFF.
 */
static size_t
utf8_decode1(const unsigned char *s, size_t len, uint32_t *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xBF;
	size_t need;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		need = 1;
		*cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		need = 2;
		*cp = c & 0x0F;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		need = 3;
		*cp = c & 0x07;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (len < need + 1 || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 1; i <= need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3F);
	}
	return need + 1;
}

int
sb_precis_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp;
	size_t i = 0, k;

	while (i < len) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_decode1(p + i, len - i, &cp)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

static enum sb_precis_error
decode(const char *s, size_t len, struct cpbuf *b)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	b->n = 0;
	while (i < len) {
		if (b->n == SB_PRECIS_MAX_CP)
			return SB_PRECIS_ETOOLONG;
		if ((k = utf8_decode1(p + i, len - i, &b->cp[b->n])) == 0)
			return SB_PRECIS_EUTF8;
		b->n++;
		i += k;
	}
	return SB_PRECIS_OK;
}

static enum sb_precis_error
encode(const struct cpbuf *b, char *out, size_t size, size_t *outlen)
{
	unsigned char *o = (unsigned char *)out;
	size_t j = 0;

	for (size_t i = 0; i < b->n; i++) {
		uint32_t c = b->cp[i];
		size_t k = c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;

		if (j + k >= size)
			return SB_PRECIS_ETOOLONG;
		switch (k) {
		case 1:
			o[j] = (unsigned char)c;
			break;
		case 2:
			o[j] = (unsigned char)(0xC0 | c >> 6);
			o[j + 1] = (unsigned char)(0x80 | (c & 0x3F));
			break;
		case 3:
			o[j] = (unsigned char)(0xE0 | c >> 12);
			o[j + 1] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
			o[j + 2] = (unsigned char)(0x80 | (c & 0x3F));
			break;
		default:
			o[j] = (unsigned char)(0xF0 | c >> 18);
			o[j + 1] = (unsigned char)(0x80 | (c >> 12 & 0x3F));
			o[j + 2] = (unsigned char)(0x80 | (c >> 6 & 0x3F));
			o[j + 3] = (unsigned char)(0x80 | (c & 0x3F));
			break;
		}
		j += k;
	}
	out[j] = '\0';
	*outlen = j;
	return SB_PRECIS_OK;
}

/* ---- derived properties (RFC 8264 sections 8 and 9) ---- */

static const struct exception *
find_exception(uint32_t cp)
{
	if (cp < exceptions[0].lo || cp > 0x30FB)
		return NULL;
	for (size_t i = 0; i < sizeof(exceptions) / sizeof(exceptions[0]); i++)
		if (cp >= exceptions[i].lo && cp <= exceptions[i].hi)
			return &exceptions[i];
	return NULL;
}

static bool
is_old_hangul_jamo(uint32_t cp)
{
	for (size_t i = 0; i < sizeof(old_hangul_jamo) / sizeof(old_hangul_jamo[0]); i++)
		if (cp >= old_hangul_jamo[i].lo && cp <= old_hangul_jamo[i].hi)
			return true;
	return false;
}

/* HasCompat (RFC 8264 section 9.17): toNFKC(cp) != cp. */
static bool
has_compat(uint32_t cp)
{
	uint32_t d[UC_DECOMPOSITION_MAX_LENGTH], buf[UC_DECOMPOSITION_MAX_LENGTH * 4];
	size_t n = sizeof(buf) / sizeof(buf[0]);
	uint32_t *r;
	int tag;
	bool changed;

	/* Without a decomposition mapping, no normalization form changes it. */
	if (uc_decomposition(cp, &tag, d) < 0)
		return false;
	r = u32_normalize(UNINORM_NFKC, &cp, 1, buf, &n);
	if (r == NULL)
		return true;	/* cannot tell: treat it as a compatibility character */
	changed = n != 1 || r[0] != cp;
	if (r != buf)
		free(r);
	return changed;
}

static uint32_t
category(uint32_t cp)
{
	return uc_general_category(cp).bitmask;
}

/*
 * The classes differ only in the categories RFC 8264 marks "ID_DIS or
 * FREE_PVAL": DISALLOWED for identifiers, PVALID for free-form strings.
 */
enum sb_precis_prop
sb_precis_property(uint32_t cp, enum sb_precis_class cls)
{
	enum sb_precis_prop id_dis_free_pval = cls == SB_PRECIS_FREEFORM ?
	    SB_PRECIS_PVALID : SB_PRECIS_DISALLOWED;
	const struct exception *e;
	uint32_t cat;

	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		return SB_PRECIS_DISALLOWED;
	if ((e = find_exception(cp)) != NULL)
		return e->prop;
	/* BackwardCompatible (RFC 8264 section 9.7) is empty. */
	cat = category(cp);
	if (cat == CAT(Cn) && !uc_is_property_not_a_character(cp))
		return SB_PRECIS_UNASSIGNED;
	if (cp >= 0x21 && cp <= 0x7E)
		return SB_PRECIS_PVALID;			/* ASCII7 */
	if (uc_is_property_join_control(cp))
		return SB_PRECIS_CONTEXTJ;
	if (is_old_hangul_jamo(cp))
		return SB_PRECIS_DISALLOWED;
	if (uc_is_property_default_ignorable_code_point(cp) ||
	    uc_is_property_not_a_character(cp))
		return SB_PRECIS_DISALLOWED;			/* PrecisIgnorableProperties */
	if (cat == CAT(Cc))
		return SB_PRECIS_DISALLOWED;			/* Controls */
	if (has_compat(cp))
		return id_dis_free_pval;
	if (cat & LETTER_DIGITS)
		return SB_PRECIS_PVALID;
	if (cat & (OTHER_LETTER_DIGITS | CAT(Zs) | SYMBOLS | PUNCTUATION))
		return id_dis_free_pval;
	return SB_PRECIS_DISALLOWED;
}

static enum sb_precis_error
check_class(const struct cpbuf *b, enum sb_precis_class cls)
{
	for (size_t i = 0; i < b->n; i++) {
		uint32_t c = b->cp[i];

		if (c >= 0x21 && c <= 0x7E)
			continue;
		switch (sb_precis_property(c, cls)) {
		case SB_PRECIS_DISALLOWED:
			return SB_PRECIS_EDISALLOWED;
		case SB_PRECIS_UNASSIGNED:
			return SB_PRECIS_EUNASSIGNED;
		default:
			break;
		}
	}
	return SB_PRECIS_OK;
}

/* ---- contextual rules (RFC 5892 appendix A) ---- */

static bool
script_is(uint32_t cp, const char *name)
{
	const uc_script_t *s = uc_script(cp);

	return s != NULL && strcmp(s->name, name) == 0;
}

static bool
virama_before(const struct cpbuf *b, size_t i)
{
	return i > 0 && uc_combining_class(b->cp[i - 1]) == UC_CCC_VR;
}

/* A.1: after a virama, or inside (L|D) T* ZWNJ T* (R|D). */
static bool
rule_zwnj(const struct cpbuf *b, size_t i)
{
	size_t j;
	int jt;

	if (virama_before(b, i))
		return true;
	for (j = i; j > 0 && (jt = uc_joining_type(b->cp[j - 1])) == UC_JOINING_TYPE_T; j--)
		;
	if (j == 0 || (jt != UC_JOINING_TYPE_L && jt != UC_JOINING_TYPE_D))
		return false;
	for (j = i + 1; j < b->n && (jt = uc_joining_type(b->cp[j])) == UC_JOINING_TYPE_T; j++)
		;
	return j < b->n && (jt == UC_JOINING_TYPE_R || jt == UC_JOINING_TYPE_D);
}

static bool
has_in_range(const struct cpbuf *b, uint32_t lo, uint32_t hi)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->cp[i] >= lo && b->cp[i] <= hi)
			return true;
	return false;
}

static bool
rule_katakana_middle_dot(const struct cpbuf *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->cp[i] != 0x30FB && (script_is(b->cp[i], "Hiragana") ||
		    script_is(b->cp[i], "Katakana") || script_is(b->cp[i], "Han")))
			return true;
	return false;
}

static bool
context_ok(const struct cpbuf *b, size_t i)
{
	uint32_t c = b->cp[i];

	switch (c) {
	case 0x200C:
		return rule_zwnj(b, i);
	case 0x200D:
		return virama_before(b, i);
	case 0x00B7:
		return i > 0 && i + 1 < b->n && b->cp[i - 1] == 'l' && b->cp[i + 1] == 'l';
	case 0x0375:
		return i + 1 < b->n && script_is(b->cp[i + 1], "Greek");
	case 0x05F3:
	case 0x05F4:
		return i > 0 && script_is(b->cp[i - 1], "Hebrew");
	case 0x30FB:
		return rule_katakana_middle_dot(b);
	}
	if (c >= 0x0660 && c <= 0x0669)
		return !has_in_range(b, 0x06F0, 0x06F9);
	if (c >= 0x06F0 && c <= 0x06F9)
		return !has_in_range(b, 0x0660, 0x0669);
	return false;	/* CONTEXTJ/CONTEXTO without a rule */
}

static enum sb_precis_error
check_context(const struct cpbuf *b, enum sb_precis_class cls)
{
	for (size_t i = 0; i < b->n; i++) {
		enum sb_precis_prop p;

		if (b->cp[i] < 0xB7)
			continue;
		p = sb_precis_property(b->cp[i], cls);
		if ((p == SB_PRECIS_CONTEXTJ || p == SB_PRECIS_CONTEXTO) && !context_ok(b, i))
			return SB_PRECIS_ECONTEXT;
	}
	return SB_PRECIS_OK;
}

/* ---- the Bidi Rule (RFC 5893 section 2) ---- */

#define BIDI(x)	(1u << UC_BIDI_##x)

static unsigned
bidi_bit(uint32_t cp)
{
	return 1u << uc_bidi_class(cp);
}

/*
 * Only strings with an R, AL or AN code point are checked, as RFC 8265
 * says. Such a string is an "RTL label" when it starts with R or AL; when
 * it starts with anything else, condition 1 or 5 fails anyway.
 */
static enum sb_precis_error
check_bidi(const struct cpbuf *b)
{
	const unsigned rtl_allowed = BIDI(R) | BIDI(AL) | BIDI(AN) | BIDI(EN) |
	    BIDI(ES) | BIDI(CS) | BIDI(ET) | BIDI(ON) | BIDI(BN) | BIDI(NSM);
	const unsigned rtl_end = BIDI(R) | BIDI(AL) | BIDI(EN) | BIDI(AN);
	unsigned seen = 0;
	size_t last;

	for (size_t i = 0; i < b->n; i++)
		seen |= bidi_bit(b->cp[i]);
	if (!(seen & (BIDI(R) | BIDI(AL) | BIDI(AN))))
		return SB_PRECIS_OK;
	if (!(bidi_bit(b->cp[0]) & (BIDI(R) | BIDI(AL))))
		return SB_PRECIS_EBIDI;				/* 1 (and 5) */
	if (seen & ~rtl_allowed)
		return SB_PRECIS_EBIDI;				/* 2 */
	for (last = b->n; last > 0 && bidi_bit(b->cp[last - 1]) == BIDI(NSM); last--)
		;
	if (last == 0 || !(bidi_bit(b->cp[last - 1]) & rtl_end))
		return SB_PRECIS_EBIDI;				/* 3 */
	if ((seen & BIDI(EN)) && (seen & BIDI(AN)))
		return SB_PRECIS_EBIDI;				/* 4 */
	return SB_PRECIS_OK;
}

/* ---- mappings ---- */

/* Width Mapping Rule: <wide> and <narrow> decompositions, one code point each. */
static void
map_width(struct cpbuf *b)
{
	uint32_t d[UC_DECOMPOSITION_MAX_LENGTH];
	int tag;

	for (size_t i = 0; i < b->n; i++) {
		if (b->cp[i] < 0x3000)
			continue;	/* the first <wide> character is U+3000 */
		if (uc_decomposition(b->cp[i], &tag, d) == 1 &&
		    (tag == UC_DECOMP_WIDE || tag == UC_DECOMP_NARROW))
			b->cp[i] = d[0];
	}
}

/* OpaqueString's Additional Mapping Rule: non-ASCII spaces become U+0020. */
static void
map_spaces(struct cpbuf *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->cp[i] >= 0x80 && category(b->cp[i]) == CAT(Zs))
			b->cp[i] = ' ';
}

/*
 * Full lower-case mapping without context (see precis.h): U+0130 is the
 * only unconditional mapping to more than one code point.
 */
static enum sb_precis_error
map_lower(const struct cpbuf *in, struct cpbuf *out)
{
	out->n = 0;
	for (size_t i = 0; i < in->n; i++) {
		uint32_t c = in->cp[i];

		if (out->n + 2 > SB_PRECIS_MAX_CP)
			return SB_PRECIS_ETOOLONG;
		if (c == 0x0130) {
			out->cp[out->n++] = 'i';
			out->cp[out->n++] = 0x0307;
		} else
			out->cp[out->n++] = c < 0x80 ? (c >= 'A' && c <= 'Z' ? c + 32 : c) :
			    uc_tolower(c);
	}
	return SB_PRECIS_OK;
}

static enum sb_precis_error
map_nfc(const struct cpbuf *in, struct cpbuf *out)
{
	size_t n = SB_PRECIS_MAX_CP;
	uint32_t *r;

	r = u32_normalize(UNINORM_NFC, in->cp, in->n, out->cp, &n);
	if (r == NULL)
		return SB_PRECIS_ENOMEM;
	if (r != out->cp) {
		/* Did not fit: longer than any result we could accept. */
		free(r);
		return SB_PRECIS_ETOOLONG;
	}
	out->n = n;
	return SB_PRECIS_OK;
}

/*
 * One application of a profile's rules: a (input) becomes the result in a;
 * b is scratch. Preparation (width mapping, class check) first, then
 * enforcement, then the class and contextual checks on the result.
 */
static enum sb_precis_error
apply(const struct profile *p, struct cpbuf *a, struct cpbuf *b)
{
	enum sb_precis_error e;

	if (a->n == 0)
		return SB_PRECIS_EEMPTY;
	if (p->width)
		map_width(a);
	if ((e = check_class(a, p->cls)) != SB_PRECIS_OK)
		return e;
	if (p->spaces)
		map_spaces(a);
	if (p->lower) {
		if ((e = map_lower(a, b)) != SB_PRECIS_OK)
			return e;
		if ((e = map_nfc(b, a)) != SB_PRECIS_OK)
			return e;
	} else {
		if ((e = map_nfc(a, b)) != SB_PRECIS_OK)
			return e;
		memcpy(a->cp, b->cp, b->n * sizeof(b->cp[0]));
		a->n = b->n;
	}
	if ((e = check_class(a, p->cls)) != SB_PRECIS_OK)
		return e;
	if ((e = check_context(a, p->cls)) != SB_PRECIS_OK)
		return e;
	if (p->bidi && (e = check_bidi(a)) != SB_PRECIS_OK)
		return e;
	return a->n == 0 ? SB_PRECIS_EEMPTY : SB_PRECIS_OK;
}

static bool
same(const struct cpbuf *x, const struct cpbuf *y)
{
	return x->n == y->n && memcmp(x->cp, y->cp, x->n * sizeof(x->cp[0])) == 0;
}

struct work {
	struct cpbuf	 cur, next, scratch;
};

enum sb_precis_error
sb_precis_enforce(enum sb_precis_profile profile, const char *s, size_t len,
    char *out, size_t size, size_t *outlen)
{
	const struct profile *p;
	struct work *w;
	enum sb_precis_error e;
	int round;

	if ((size_t)profile >= sizeof(profiles) / sizeof(profiles[0]) || size == 0)
		return SB_PRECIS_ETOOLONG;
	p = &profiles[profile];
	if (len == 0)
		return SB_PRECIS_EEMPTY;
	/* 48 KiB: too much for a stack frame that may sit in a small thread stack. */
	if ((w = malloc(sizeof(*w))) == NULL)
		return SB_PRECIS_ENOMEM;
	if ((e = decode(s, len, &w->cur)) != SB_PRECIS_OK)
		goto done;
	if ((e = apply(p, &w->cur, &w->scratch)) != SB_PRECIS_OK)
		goto done;
	/* Re-apply until the output is a fixed point: 3 extra rounds at most. */
	for (round = 0; round < 3; round++) {
		memcpy(w->next.cp, w->cur.cp, w->cur.n * sizeof(w->cur.cp[0]));
		w->next.n = w->cur.n;
		if ((e = apply(p, &w->next, &w->scratch)) != SB_PRECIS_OK)
			goto done;
		if (same(&w->next, &w->cur))
			break;
		memcpy(w->cur.cp, w->next.cp, w->next.n * sizeof(w->next.cp[0]));
		w->cur.n = w->next.n;
	}
	if (round == 3) {
		e = SB_PRECIS_EUNSTABLE;
		goto done;
	}
	e = encode(&w->cur, out, size, outlen);
done:
	free(w);
	return e;
}
