/*
 * base64.c: tests for lib/base64.c: RFC 4648 section 10 vectors both ways,
 * and the strict decoder's refusals (SASL accepts one encoding only).
 */
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "tap.h"

static const struct {
	char plain[8], enc[12];	/* arrays: gcc's null-argument check stays quiet */
} vectors[] = {
	{ "", "" },
	{ "f", "Zg==" },
	{ "fo", "Zm8=" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" },
	{ "fooba", "Zm9vYmE=" },
	{ "foobar", "Zm9vYmFy" },
};

/* Each must be refused; the comment says why. */
static const struct {
	const char *in;
	size_t len;		/* 0: strlen */
	const char *why;
} bad[] = {
	{ "Zg=", 0, "length not a multiple of 4" },
	{ "Zg", 0, "missing padding" },
	{ "Zm9vY", 0, "dangling character" },
	{ "Zm9v\n", 0, "trailing newline" },
	{ " Zm9v", 0, "leading space" },
	{ "Zm9v Zg==", 0, "space between groups" },
	{ "Zm 9", 0, "space inside a group" },
	{ "Zh==", 0, "non-zero bits after one byte" },
	{ "Zm9=", 0, "non-zero bits after two bytes" },
	{ "Z===", 0, "three padding characters" },
	{ "====", 0, "padding only" },
	{ "=Zm9", 0, "padding first" },
	{ "Zm=v", 0, "padding inside the last group" },
	{ "Zg==Zg==", 0, "padding in the middle" },
	{ "Zm9v====", 0, "a group of padding" },
	{ "Zm8==", 0, "extra padding" },
	{ "Zm9v*A==", 0, "character outside the alphabet" },
	{ "Zm9-", 0, "base64url character" },
	{ "Zm9_", 0, "base64url character" },
	{ "Zm\xc3\xa9", 0, "non-ASCII bytes" },
	{ "Zm9v\0AAA", 8, "NUL inside" },
	{ "=", 0, "XMPP's empty response marker is not base64" },
};

static void
test_vectors(void)
{
	char enc[64];
	unsigned char dec[64];
	size_t n, len;

	for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
		const char *p = vectors[i].plain, *e = vectors[i].enc;

		n = sb_base64_encode(p, strlen(p), enc);
		ok(strcmp(enc, e) == 0, "encode '%s' to '%s' (got '%s')", p, e, enc);
		ok(n == strlen(e) && sb_base64_encoded_len(strlen(p)) == n,
		    "encoded length of '%s' is %zu", p, n);
		ok(sb_base64_decode(e, strlen(e), dec, sizeof dec, &len) == 0 &&
		    len == strlen(p) && memcmp(dec, p, len) == 0, "decode '%s'", e);
		is_int(sb_base64_decoded_len(e, strlen(e)), strlen(p),
		    "decoded length of '%s'", e);
	}
}

static void
test_refusals(void)
{
	unsigned char dec[64];
	size_t len;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n = bad[i].len ? bad[i].len : strlen(bad[i].in);

		is_int(sb_base64_decode(bad[i].in, n, dec, sizeof dec, &len), -1,
		    "refuse: %s", bad[i].why);
	}
	ok(sb_base64_decode("Zm9vYmFy", 8, dec, 5, &len) == -1,
	    "refuse when the output does not fit");
	ok(sb_base64_decode("Zm9vYmFy", 8, dec, 6, &len) == 0 && len == 6,
	    "exact output room is enough");
	is_int(sb_base64_decoded_len("Zg=", 3), (size_t)-1, "decoded_len refuses odd lengths");
	is_int(sb_base64_decoded_max(8), 6, "decoded_max");
}

/* Every length and every byte value survive the round trip. */
static void
test_roundtrip(void)
{
	unsigned char in[300], dec[300];
	char enc[401];
	size_t len;
	int good = 1;

	srand(42);
	for (size_t n = 0; n <= sizeof in; n++) {
		for (size_t i = 0; i < n; i++)
			in[i] = n % 2 ? (unsigned char)i : (unsigned char)rand();
		sb_base64_encode(in, n, enc);
		if (sb_base64_decode(enc, strlen(enc), dec, sizeof dec, &len) != 0 ||
		    len != n || memcmp(in, dec, n) != 0)
			good = 0;
	}
	ok(good, "round trip of 0..300 bytes, all byte values");
}

static void
test_buf(void)
{
	struct sb_buf b = SB_BUF_INIT;

	sb_buf_append_str(&b, "auth:");
	sb_base64_encode_buf(&b, "foobar", 6);
	sb_base64_encode_buf(&b, "f", 1);
	is_str(sb_buf_data(&b), "auth:Zm9vYmFyZg==", "encode appends to a buffer");
	sb_buf_free(&b);
}

int
main(void)
{
	test_vectors();
	test_refusals();
	test_roundtrip();
	test_buf();
	return done_testing();
}
