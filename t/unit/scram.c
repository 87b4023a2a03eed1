/*
 * scram.c: tests for lib/scram.c against the published examples: RFC 5802
 * section 5 (SCRAM-SHA-1) and RFC 7677 section 3 (SCRAM-SHA-256), user
 * "user", password "pencil". The ClientProof (p=) and ServerSignature (v=)
 * of the examples pin down every derived key; wrong proofs must fail.
 */
#include <string.h>

#include "base64.h"
#include "scram.h"
#include "tap.h"

struct example {
	const char *name;
	enum sb_scram_hash hash;
	const char *salt_b64;
	unsigned iterations;
	const char *auth_message;
	const char *proof_b64;		/* the client-final-message's p= */
	const char *signature_b64;	/* the server-final-message's v= */
};

static const struct example examples[] = {
	{
		"RFC 5802", SB_SCRAM_SHA1, "QSXCR+Q6sek8bf92", 4096,
		"n=user,r=fyko+d2lbbFgONRv9qkxdawL,"
		"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,"
		"c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
		"v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		"rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{
		"RFC 7677", SB_SCRAM_SHA256, "W22ZaJ0SNY7soEsUEjb6gQ==", 4096,
		"n=user,r=rOprNGfwEbeRWgbNEkqO,"
		"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
		"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		"dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
};

static size_t
b64(const char *s, unsigned char *out)
{
	size_t len = 0;

	if (sb_base64_decode(s, strlen(s), out, 64, &len) < 0)
		return 0;
	return len;
}

static void
test_example(const struct example *ex)
{
	unsigned char salt[64], salted[64], proof[64], want_proof[64], sig[64], want_sig[64];
	const char *am = ex->auth_message;
	size_t am_len = strlen(am), hlen = sb_scram_hash_len(ex->hash);
	size_t salt_len = b64(ex->salt_b64, salt);
	struct sb_scram_secret secret;
	char enc[100];

	is_int(b64(ex->proof_b64, want_proof), hlen, "%s: proof is %zu bytes", ex->name, hlen);
	b64(ex->signature_b64, want_sig);

	/* The client's side. */
	ok(sb_scram_salted_password(ex->hash, "pencil", 6, salt, salt_len,
	    ex->iterations, salted) == 0, "%s: SaltedPassword", ex->name);
	sb_scram_client_proof(ex->hash, salted, am, am_len, proof);
	sb_base64_encode(proof, hlen, enc);
	is_str(enc, ex->proof_b64, "%s: ClientProof", ex->name);
	ok(sb_scram_check_server_signature(ex->hash, salted, am, am_len, want_sig, hlen) == 0,
	    "%s: client accepts the server's v=", ex->name);

	/* The server's side, from the stored secret only. */
	ok(sb_scram_secret_from_password(ex->hash, "pencil", 6, salt, salt_len,
	    ex->iterations, &secret) == 0, "%s: stored secret", ex->name);
	is_int(sb_scram_verify_proof(&secret, am, am_len, want_proof, hlen), 0,
	    "%s: server accepts the example's proof", ex->name);
	sb_scram_server_signature(&secret, am, am_len, sig);
	sb_base64_encode(sig, hlen, enc);
	is_str(enc, ex->signature_b64, "%s: ServerSignature", ex->name);

	/* What must fail. */
	memcpy(proof, want_proof, hlen);
	proof[hlen - 1] ^= 0x01;
	is_int(sb_scram_verify_proof(&secret, am, am_len, proof, hlen), -1,
	    "%s: one flipped bit in the proof is rejected", ex->name);
	is_int(sb_scram_verify_proof(&secret, am, am_len, want_proof, hlen - 1), -1,
	    "%s: a short proof is rejected", ex->name);
	is_int(sb_scram_verify_proof(&secret, am, am_len - 1, want_proof, hlen), -1,
	    "%s: the proof does not fit another AuthMessage", ex->name);
	sb_scram_secret_from_password(ex->hash, "pencil2", 7, salt, salt_len,
	    ex->iterations, &secret);
	is_int(sb_scram_verify_proof(&secret, am, am_len, want_proof, hlen), -1,
	    "%s: the proof does not fit another password", ex->name);
	want_sig[0] ^= 0x80;
	is_int(sb_scram_check_server_signature(ex->hash, salted, am, am_len, want_sig, hlen),
	    -1, "%s: client rejects a wrong v=", ex->name);
}

/* A fresh secret, a client deriving its proof, a server checking it. */
static void
test_roundtrip(enum sb_scram_hash h)
{
	static const char am[] = "n=alice,r=abc,r=abcdef,s=c2FsdA==,i=4096,c=biws,r=abcdef";
	struct sb_scram_secret s1, s2;
	unsigned char salted[64], proof[64], sig[64];
	size_t hlen = sb_scram_hash_len(h);

	ok(sb_scram_secret_make(h, "s3cr\xc3\xa9t", 7, 0, &s1) == 0 &&
	    sb_scram_secret_make(h, "s3cr\xc3\xa9t", 7, 0, &s2) == 0,
	    "%s: make secrets", sb_scram_mech_name(h, 0));
	ok(s1.iterations == SB_SCRAM_DEFAULT_ITERATIONS && s1.salt_len == SB_SCRAM_SALT_LEN,
	    "%s: default iterations and salt length", sb_scram_mech_name(h, 0));
	ok(memcmp(s1.salt, s2.salt, s1.salt_len) != 0 &&
	    memcmp(s1.stored_key, s2.stored_key, hlen) != 0,
	    "%s: random salts give different secrets", sb_scram_mech_name(h, 0));
	sb_scram_salted_password(h, "s3cr\xc3\xa9t", 7, s1.salt, s1.salt_len,
	    s1.iterations, salted);
	sb_scram_client_proof(h, salted, am, strlen(am), proof);
	is_int(sb_scram_verify_proof(&s1, am, strlen(am), proof, hlen), 0,
	    "%s: client proof verifies", sb_scram_mech_name(h, 0));
	is_int(sb_scram_verify_proof(&s2, am, strlen(am), proof, hlen), -1,
	    "%s: not against another salt", sb_scram_mech_name(h, 0));
	sb_scram_server_signature(&s1, am, strlen(am), sig);
	is_int(sb_scram_check_server_signature(h, salted, am, strlen(am), sig, hlen), 0,
	    "%s: server signature verifies", sb_scram_mech_name(h, 0));
}

static void
test_names(void)
{
	enum sb_scram_hash h = SB_SCRAM_SHA1;
	int plus = -1;

	is_str(sb_scram_mech_name(SB_SCRAM_SHA256, 1), "SCRAM-SHA-256-PLUS", "mechanism name");
	ok(sb_scram_mech_parse("SCRAM-SHA-256-PLUS", &h, &plus) == 0 &&
	    h == SB_SCRAM_SHA256 && plus == 1, "parse SCRAM-SHA-256-PLUS");
	ok(sb_scram_mech_parse("SCRAM-SHA-1", &h, &plus) == 0 &&
	    h == SB_SCRAM_SHA1 && plus == 0, "parse SCRAM-SHA-1");
	is_int(sb_scram_mech_parse("SCRAM-SHA-1-plus", &h, &plus), -1,
	    "mechanism names are case-sensitive");
	is_int(sb_scram_mech_parse("PLAIN", &h, &plus), -1, "PLAIN is not SCRAM");
	is_int(sb_scram_hash_len(SB_SCRAM_SHA512), 64, "SHA-512 length");
}

static void
test_nonce(void)
{
	char a[SB_SCRAM_NONCE_LEN + 1], b[SB_SCRAM_NONCE_LEN + 1], big[301];
	int printable = 1;

	ok(sb_scram_nonce(a, sizeof a) == 0 && sb_scram_nonce(b, sizeof b) == 0, "nonces");
	is_int(strlen(a), SB_SCRAM_NONCE_LEN, "nonce length");
	ok(strcmp(a, b) != 0, "two nonces differ");
	sb_scram_nonce(big, sizeof big);
	is_int(strlen(big), 300, "long nonce length");
	for (const char *p = big; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == ',')
			printable = 0;
	ok(printable, "nonce is printable ASCII without ','");
}

static void
test_misc(void)
{
	unsigned char out[64];

	ok(sb_scram_memeq("abc", "abc", 3) && !sb_scram_memeq("abc", "abd", 3), "memeq");
	is_int(sb_scram_salted_password(SB_SCRAM_SHA256, "x", 1, "salt", 4, 0, out), -1,
	    "zero iterations are refused");
}

int
main(void)
{
	for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++)
		test_example(&examples[i]);
	for (int h = 0; h < SB_SCRAM_NHASH; h++)
		test_roundtrip((enum sb_scram_hash)h);
	test_names();
	test_nonce();
	test_misc();
	return done_testing();
}
