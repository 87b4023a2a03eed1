/*
 * jid.c: libFuzzer target for JID parsing (lib/jid.c) and PRECIS
 * (lib/precis.c).
 *
 * Arbitrary bytes go through sb_jid_parse(), through sb_jid_prepare() as
 * each kind of part, and through every PRECIS profile. Whatever is
 * accepted must be a fixed point (preparing the output again gives the
 * same bytes), well-formed UTF-8 within the length limits, and must
 * format, compare, copy and rebuild consistently. A violation aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "jid.h"
#include "precis.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(x) do {							\
	if (!(x)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #x); \
		abort();						\
	}								\
} while (0)

static void
check_shape(const struct sb_jid *j)
{
	size_t n;

	CHECK(j->str[j->len] == '\0' && strlen(j->str) == j->len);
	CHECK(sb_precis_utf8_valid(j->str, j->len));
	CHECK(j->domain_len >= 1 && j->domain_len <= SB_JID_PART_MAX);
	CHECK(j->local_len <= SB_JID_PART_MAX && j->resource_len <= SB_JID_PART_MAX);
	CHECK((size_t)j->len == j->local_len + (j->local_len > 0) + j->domain_len +
	    (j->resource_len > 0) + j->resource_len);
	if (j->local_len > 0)
		CHECK(j->str[j->local_len] == '@');
	if (j->resource_len > 0)
		CHECK(j->str[j->len - j->resource_len - 1] == '/');
	CHECK(memchr(sb_jid_domain(j, &n), '@', n) == NULL);
	CHECK(memchr(sb_jid_domain(j, &n), '/', n) == NULL);
	CHECK(sb_jid_is_bare(j) == (j->resource_len == 0));
	CHECK(sb_jid_is_domain(j) == (j->local_len == 0 && j->resource_len == 0));
}

/* Each part, prepared on its own, must come back unchanged. */
static void
check_parts_fixed(const struct sb_jid *j)
{
	char out[SB_JID_PART_BUFSIZE];
	const char *s, *err;
	size_t n, m;

	if ((s = sb_jid_local(j, &n)) != NULL) {
		CHECK(sb_jid_prepare(SB_JID_LOCAL, s, n, out, sizeof(out), &m, &err) == 0);
		CHECK(m == n && memcmp(out, s, n) == 0);
	}
	s = sb_jid_domain(j, &n);
	CHECK(sb_jid_prepare(SB_JID_DOMAIN, s, n, out, sizeof(out), &m, &err) == 0);
	CHECK(m == n && memcmp(out, s, n) == 0);
	if ((s = sb_jid_resource(j, &n)) != NULL) {
		CHECK(sb_jid_prepare(SB_JID_RESOURCE, s, n, out, sizeof(out), &m, &err) == 0);
		CHECK(m == n && memcmp(out, s, n) == 0);
	}
}

static void
check_api(const struct sb_jid *j)
{
	char buf[SB_JID_BUFSIZE], small[SB_JID_BUFSIZE];
	struct sb_jid j2, bare, copy;
	struct sb_arena a;
	const char *err, *l, *d, *r;
	size_t ln, dn, rn;

	/* Idempotence of the whole JID. */
	CHECK(sb_jid_parse(&j2, buf, sizeof(buf), j->str, j->len, &err) == 0);
	CHECK(j2.len == j->len && strcmp(j2.str, j->str) == 0);
	CHECK(j2.local_len == j->local_len && j2.resource_len == j->resource_len);
	CHECK(sb_jid_eq(j, &j2) && sb_jid_eq_bare(j, &j2) && sb_jid_cmp(&j2, j) == 0);

	/* Formatting, snprintf style. */
	CHECK(sb_jid_format(j, small, sizeof(small)) == j->len && strcmp(small, j->str) == 0);
	CHECK(sb_jid_format_bare(j, small, sizeof(small)) == sb_jid_bare_len(j));
	CHECK(strlen(small) == sb_jid_bare_len(j) && memcmp(small, j->str, strlen(small)) == 0);
	CHECK(sb_jid_format(j, small, 1) == j->len && small[0] == '\0');

	/* A buffer of exactly the right size works, one byte less does not. */
	CHECK(sb_jid_parse(&j2, small, (size_t)j->len + 1, j->str, j->len, &err) == 0);
	CHECK(strcmp(j2.str, j->str) == 0);
	CHECK(sb_jid_parse(&j2, small, j->len, j->str, j->len, &err) == -1);

	/* Rebuilding from the parts gives the same JID. */
	l = sb_jid_local(j, &ln);
	d = sb_jid_domain(j, &dn);
	r = sb_jid_resource(j, &rn);
	CHECK(sb_jid_build(&j2, buf, sizeof(buf), l, ln, d, dn, r, rn, &err) == 0);
	CHECK(sb_jid_eq(&j2, j));

	/* Arena copies. */
	sb_arena_init(&a, 0);
	CHECK(sb_jid_parse_arena(&j2, &a, j->str, j->len, &err) == 0 && sb_jid_eq(&j2, j));
	sb_jid_bare_arena(&bare, &a, j);
	CHECK(sb_jid_is_bare(&bare) && sb_jid_eq_bare(&bare, j));
	CHECK(bare.str[bare.len] == '\0' && bare.len == sb_jid_bare_len(j));
	CHECK(sb_jid_is_bare(j) ? sb_jid_cmp(&bare, j) == 0 : sb_jid_cmp(&bare, j) < 0);
	sb_jid_copy_arena(&copy, &a, j);
	CHECK(sb_jid_eq(&copy, j));
	sb_arena_free(&a);
}

/* Any part preparation that succeeds must be a fixed point. */
static void
check_prepare(enum sb_jid_part part, const char *s, size_t n)
{
	char out[SB_JID_PART_BUFSIZE], again[SB_JID_PART_BUFSIZE];
	const char *err = NULL;
	size_t m, k;

	if (sb_jid_prepare(part, s, n, out, sizeof(out), &m, &err) != 0) {
		CHECK(err != NULL);
		return;
	}
	CHECK(m >= 1 && m <= SB_JID_PART_MAX && out[m] == '\0' && strlen(out) == m);
	CHECK(sb_precis_utf8_valid(out, m));
	CHECK(sb_jid_prepare(part, out, m, again, sizeof(again), &k, &err) == 0);
	CHECK(k == m && memcmp(out, again, m) == 0);
}

static void
check_precis(enum sb_precis_profile p, const char *s, size_t n)
{
	char out[SB_JID_PART_BUFSIZE], again[SB_JID_PART_BUFSIZE];
	size_t m, k;

	if (sb_precis_enforce(p, s, n, out, sizeof(out), &m) != SB_PRECIS_OK)
		return;
	CHECK(m >= 1 && m < sizeof(out) && out[m] == '\0');
	CHECK(sb_precis_utf8_valid(out, m));
	CHECK(sb_precis_enforce(p, out, m, again, sizeof(again), &k) == SB_PRECIS_OK);
	CHECK(k == m && memcmp(out, again, m) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *err = NULL;
	char buf[SB_JID_BUFSIZE];
	struct sb_jid j;

	if (sb_jid_parse(&j, buf, sizeof(buf), s, size, &err) == 0) {
		check_shape(&j);
		check_parts_fixed(&j);
		check_api(&j);
	} else
		CHECK(err != NULL && j.len == 0 && j.str[0] == '\0');
	check_prepare(SB_JID_LOCAL, s, size);
	check_prepare(SB_JID_DOMAIN, s, size);
	check_prepare(SB_JID_RESOURCE, s, size);
	check_precis(SB_PRECIS_USERNAME_CASEMAPPED, s, size);
	check_precis(SB_PRECIS_USERNAME_CASEPRESERVED, s, size);
	check_precis(SB_PRECIS_OPAQUESTRING, s, size);
	return 0;
}
