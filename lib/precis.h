/*
 * precis.h: PRECIS string preparation (RFC 8264, profiles from RFC 8265)
 * for the parts of a JID that are not domain names, and for anything else
 * that needs usernames or opaque strings (SASL, for instance).
 *
 * What is implemented
 *   - The derived-property algorithm of RFC 8264 section 8 over the
 *     categories of section 9 (LetterDigits, Exceptions, BackwardCompatible,
 *     JoinControl, OldHangulJamo, Unassigned, ASCII7, Controls,
 *     PrecisIgnorableProperties, Spaces, Symbols, Punctuation, HasCompat,
 *     OtherLetterDigits) for both string classes, IdentifierClass and
 *     FreeformClass, and the CONTEXTJ/CONTEXTO rules of RFC 5892 appendix A.
 *   - The profiles UsernameCaseMapped, UsernameCasePreserved (RFC 8265
 *     section 3) and OpaqueString (section 4), with their width mapping,
 *     additional (space) mapping, case mapping, NFC and the Bidi Rule of
 *     RFC 5893, in the order RFC 8265 gives: width mapping, class check
 *     ("preparation"), then the other rules ("enforcement").
 *   - The result is checked against the string class once more and the
 *     rules are applied again until the output is stable (at most three
 *     extra rounds, as RFC 8266 section 2.1 asks of nicknames): the output
 *     of sb_precis_enforce() is always a fixed point of it.
 *
 * Unicode version and approximations (said plainly)
 *   - Character properties, normalization and case data come from
 *     libunistring. The version in Debian 12 (1.0) implements Unicode
 *     14.0.0 (its NEWS says so, and U+0870, new in 14.0, is assigned here
 *     while U+11F00, new in 15.0, is not). PRECIS is defined on whatever
 *     version the implementation has; nothing here pins one, so a
 *     libunistring upgrade turns some unassigned (rejected) code points
 *     into allowed ones, and in rare cases a property change in Unicode can
 *     move a code point between categories. Stored JIDs prepared under an
 *     older version stay valid in the common case, not by guarantee.
 *   - Domainparts do not use these tables: libidn2 2.3.3 has its own
 *     (IDNA tables from Unicode 12, UTS #46 mapping from Unicode 14), so a
 *     letter new in Unicode 13 or 14 is accepted in a localpart but refused
 *     in a domainpart.
 *   - OldHangulJamo (Hangul_Syllable_Type L, V or T) is not exposed by
 *     libunistring; it is taken as the assigned code points of the blocks
 *     U+1100..U+11FF, U+A960..U+A97F and U+D7B0..U+D7FF, which in Unicode
 *     14 are exactly the L, V and T jamo.
 *   - HasCompat is computed per code point as NFKC(cp) != cp, exactly as
 *     RFC 8264 section 9.17 defines it (only code points with a
 *     decomposition mapping are normalized, the rest cannot change).
 *   - Case mapping is Unicode full lower-case mapping without context:
 *     uc_tolower() plus the one unconditional multi-code-point mapping
 *     (U+0130 -> "i" U+0307). The conditional Final_Sigma rule is not
 *     applied, so CAPITAL SIGMA always becomes U+03C3; RFC 7622 section 3.5
 *     says the PRECIS mapping does not treat final sigma specially, and
 *     Go's x/text/secure/precis makes the same choice.
 *   - The BackwardCompatible category is empty, as RFC 8264 defines it.
 *
 * Limits: at most SB_PRECIS_MAX_CP code points are accepted. A longer input
 * cannot give a result of 1023 bytes or less (normalization composes at
 * most four code points into one), which is all XMPP ever needs.
 */
#ifndef SB_PRECIS_H
#define SB_PRECIS_H

#include <stddef.h>
#include <stdint.h>

#define SB_PRECIS_MAX_CP	4096

enum sb_precis_class {
	SB_PRECIS_IDENTIFIER,		/* IdentifierClass, RFC 8264 section 4.2 */
	SB_PRECIS_FREEFORM,		/* FreeformClass, RFC 8264 section 4.3 */
};

/* Derived property values of RFC 8264 section 8, resolved for one class. */
enum sb_precis_prop {
	SB_PRECIS_PVALID,
	SB_PRECIS_CONTEXTJ,
	SB_PRECIS_CONTEXTO,
	SB_PRECIS_DISALLOWED,
	SB_PRECIS_UNASSIGNED,
};

enum sb_precis_profile {
	SB_PRECIS_USERNAME_CASEMAPPED,		/* RFC 8265 section 3.3 */
	SB_PRECIS_USERNAME_CASEPRESERVED,	/* RFC 8265 section 3.4 */
	SB_PRECIS_OPAQUESTRING,			/* RFC 8265 section 4.2 */
};

enum sb_precis_error {
	SB_PRECIS_OK = 0,
	SB_PRECIS_EEMPTY,	/* empty input or output */
	SB_PRECIS_EUTF8,	/* not well-formed UTF-8 */
	SB_PRECIS_EDISALLOWED,	/* a code point the class disallows */
	SB_PRECIS_EUNASSIGNED,	/* a code point Unicode does not assign (here) */
	SB_PRECIS_ECONTEXT,	/* CONTEXTJ/CONTEXTO rule not satisfied */
	SB_PRECIS_EBIDI,	/* Bidi Rule (RFC 5893) violated */
	SB_PRECIS_ETOOLONG,	/* result does not fit the output buffer */
	SB_PRECIS_EUNSTABLE,	/* rules did not reach a fixed point */
	SB_PRECIS_ENOMEM,	/* libunistring could not allocate */
};

/*
 * Enforce a profile on len bytes at s (any bytes; need not be
 * NUL-terminated). On SB_PRECIS_OK the result is in out, NUL-terminated,
 * its length (without the NUL) in *outlen, and at most size - 1 bytes.
 * Never reads outside s[0..len) nor writes outside out[0..size).
 */
enum sb_precis_error sb_precis_enforce(enum sb_precis_profile profile,
	    const char *s, size_t len, char *out, size_t size, size_t *outlen);

/* Short English text for an error code ("disallowed code point"). */
const char	*sb_precis_strerror(enum sb_precis_error e);

/* The derived property of one code point in one string class. */
enum sb_precis_prop sb_precis_property(uint32_t cp, enum sb_precis_class cls);

/*
 * 1 when len bytes at s are well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), else 0.
 */
int		 sb_precis_utf8_valid(const char *s, size_t len);

#endif
