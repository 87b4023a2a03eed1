/*
 * jid.h: XMPP addresses (JIDs) per RFC 7622: parsing, preparation of each
 * part into one canonical form, formatting and comparison.
 *
 *   localpart     PRECIS UsernameCaseMapped (RFC 8265 section 3.3), minus
 *                 the characters RFC 7622 section 3.3.1 forbids: " & ' / : < > @
 *   domainpart    IDNA2008 with UTS #46 mapping (non-transitional), an IPv4
 *                 address, or an IPv6 address in brackets
 *   resourcepart  PRECIS OpaqueString (RFC 8265 section 4.2)
 *
 * Every part is 1..1023 bytes after preparation (SB_JID_PART_MAX). Two JIDs
 * are equal when their canonical strings are equal byte for byte.
 *
 * Canonical domainpart: U-labels, lower case, UTF-8. RFC 7622 section
 * 3.2.1 says a prepared domainpart consists of NR-LDH labels and U-labels
 * and that "each A-label MUST be converted to a U-label"; XMPP carries
 * UTF-8 anyway, and the U-label form is what users and other servers
 * write. So "XN--4CA0BS.Example." and "ÄÖÜ.example" both become
 * "äöü.example". The A-label form is for DNS only: s2s converts with
 * idn2_lookup_u8() when it resolves a name. The domain is still checked
 * against DNS rules in its A-label form: labels of 1..63 bytes, at most 253
 * bytes in all, letters/digits/hyphen only (STD3), no hyphen at either end
 * of a label, no "--" in positions 3-4 except in a valid A-label. One final
 * dot is removed first ("example.com." is "example.com"). A name whose last
 * label is all digits must be an IPv4 address ("256.1.1.1" is refused, so
 * is "1.2.3"). IPv6 literals are normalized by inet_pton/inet_ntop
 * ("[0:0::1]" is "[::1]"); zone identifiers and IPvFuture are refused.
 *
 * Fast path: a part that is all ASCII never reaches libidn2 or
 * libunistring. ASCII localparts are lower-cased here, ASCII resourceparts
 * copied, ASCII domains lower-cased and checked label by label; only bytes
 * >= 0x80 or an "xn--" label take the slow path. Parsing never allocates
 * on the fast path.
 *
 * Memory: struct sb_jid does not own its string. The functions that fill
 * one take either a caller buffer (SB_JID_BUFSIZE bytes always suffice;
 * a stack buffer for a JID that is used and forgotten) or an arena (the
 * string lives as long as the arena: a stanza's or a session's).
 *
 * Errors: functions return 0 or -1; on -1, *errp (when errp is not NULL)
 * points to a short static English text such as "empty localpart", fit
 * for a log line or a <jid-malformed/> text, and the output is unusable.
 * Input is bytes and a length, not necessarily NUL-terminated, possibly
 * invalid UTF-8; nothing is read past s[len - 1].
 */
#ifndef SB_JID_H
#define SB_JID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sb_arena;

#define SB_JID_PART_MAX		1023				/* bytes, RFC 7622 */
#define SB_JID_PART_BUFSIZE	(SB_JID_PART_MAX + 1)
#define SB_JID_MAX		(3 * SB_JID_PART_MAX + 2)	/* with '@' and '/' */
#define SB_JID_BUFSIZE		(SB_JID_MAX + 1)

enum sb_jid_part {
	SB_JID_LOCAL,
	SB_JID_DOMAIN,
	SB_JID_RESOURCE,
};

/*
 * A prepared JID: str is the canonical "local@domain/resource" (local@ and
 * /resource only when present), NUL-terminated, len bytes long. The parts
 * are slices of str; only the last one is followed by the NUL.
 */
struct sb_jid {
	const char	*str;
	uint16_t	 len;
	uint16_t	 local_len;	/* 0: no localpart */
	uint16_t	 domain_len;	/* never 0 in a prepared JID */
	uint16_t	 resource_len;	/* 0: no resourcepart */
};

/* Parse and prepare a JID string into buf (size bytes). */
int	 sb_jid_parse(struct sb_jid *jid, char *buf, size_t size,
	    const char *s, size_t len, const char **errp);
/* The same, with the string allocated in a (exactly len + 1 bytes). */
int	 sb_jid_parse_arena(struct sb_jid *jid, struct sb_arena *a,
	    const char *s, size_t len, const char **errp);

/*
 * Build a JID from separate parts (config, storage, tools, resource
 * binding); local and resource may be NULL for "absent" (an empty but
 * non-NULL part is an error, like "user@" is).
 */
int	 sb_jid_build(struct sb_jid *jid, char *buf, size_t size,
	    const char *local, size_t local_len, const char *domain, size_t domain_len,
	    const char *resource, size_t resource_len, const char **errp);
int	 sb_jid_build_arena(struct sb_jid *jid, struct sb_arena *a,
	    const char *local, size_t local_len, const char *domain, size_t domain_len,
	    const char *resource, size_t resource_len, const char **errp);

/*
 * Prepare a single part into out (size bytes; SB_JID_PART_BUFSIZE always
 * suffices), NUL-terminated; *outlen gets its length.
 */
int	 sb_jid_prepare(enum sb_jid_part part, const char *s, size_t len,
	    char *out, size_t size, size_t *outlen, const char **errp);
int	 sb_jid_prepare_arena(enum sb_jid_part part, struct sb_arena *a,
	    const char *s, size_t len, const char **out, size_t *outlen,
	    const char **errp);

/* Copies that outlive the source: the full JID, or its bare JID. */
void	 sb_jid_copy_arena(struct sb_jid *dst, struct sb_arena *a,
	    const struct sb_jid *src);
void	 sb_jid_bare_arena(struct sb_jid *dst, struct sb_arena *a,
	    const struct sb_jid *src);

/*
 * Write the full or bare JID into buf like snprintf: always NUL-terminated
 * when size > 0, returns the length the whole string needs.
 */
size_t	 sb_jid_format(const struct sb_jid *jid, char *buf, size_t size);
size_t	 sb_jid_format_bare(const struct sb_jid *jid, char *buf, size_t size);

/* Total orders (<0, 0, >0) on the full and on the bare JID. */
int	 sb_jid_cmp(const struct sb_jid *a, const struct sb_jid *b);
int	 sb_jid_cmp_bare(const struct sb_jid *a, const struct sb_jid *b);

static inline bool
sb_jid_eq(const struct sb_jid *a, const struct sb_jid *b)
{
	return sb_jid_cmp(a, b) == 0;
}

static inline bool
sb_jid_eq_bare(const struct sb_jid *a, const struct sb_jid *b)
{
	return sb_jid_cmp_bare(a, b) == 0;
}

/* Part accessors: a pointer into jid->str and a length; NULL when absent. */
static inline const char *
sb_jid_local(const struct sb_jid *jid, size_t *len)
{
	*len = jid->local_len;
	return jid->local_len ? jid->str : NULL;
}

static inline const char *
sb_jid_domain(const struct sb_jid *jid, size_t *len)
{
	*len = jid->domain_len;
	return jid->str + (jid->local_len ? jid->local_len + 1 : 0);
}

static inline const char *
sb_jid_resource(const struct sb_jid *jid, size_t *len)
{
	*len = jid->resource_len;
	return jid->resource_len ? jid->str + jid->len - jid->resource_len : NULL;
}

/* Length of the bare JID, which is always a prefix of str. */
static inline size_t
sb_jid_bare_len(const struct sb_jid *jid)
{
	return jid->resource_len ? (size_t)jid->len - jid->resource_len - 1 : jid->len;
}

/* No resourcepart: localpart@domainpart or domainpart. */
static inline bool
sb_jid_is_bare(const struct sb_jid *jid)
{
	return jid->resource_len == 0;
}

/* A domainpart alone: a server or a component. */
static inline bool
sb_jid_is_domain(const struct sb_jid *jid)
{
	return jid->local_len == 0 && jid->resource_len == 0;
}

#endif
