/*
 * scram.c: SCRAM key derivation, proofs and signatures on gnutls's HMAC,
 * hash and PBKDF2 (see scram.h for the formulas and the password contract).
 */
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "base64.h"
#include "log.h"
#include "scram.h"

static const struct scram_algo {
	const char		*mech;	/* SASL mechanism name without -PLUS */
	gnutls_mac_algorithm_t	 mac;
	gnutls_digest_algorithm_t dig;
	size_t			 len;
} algos[SB_SCRAM_NHASH] = {
	[SB_SCRAM_SHA1] = { "SCRAM-SHA-1", GNUTLS_MAC_SHA1, GNUTLS_DIG_SHA1, 20 },
	[SB_SCRAM_SHA256] = { "SCRAM-SHA-256", GNUTLS_MAC_SHA256, GNUTLS_DIG_SHA256, 32 },
	[SB_SCRAM_SHA512] = { "SCRAM-SHA-512", GNUTLS_MAC_SHA512, GNUTLS_DIG_SHA512, 64 },
};

static const char *const plus_names[SB_SCRAM_NHASH] = {
	[SB_SCRAM_SHA1] = "SCRAM-SHA-1-PLUS",
	[SB_SCRAM_SHA256] = "SCRAM-SHA-256-PLUS",
	[SB_SCRAM_SHA512] = "SCRAM-SHA-512-PLUS",
};

/*
 * HMAC and hashing over in-memory inputs only fail when gnutls itself is
 * broken (FIPS self-test failure, no memory): not something to recover from.
 */
static void
hmac(enum sb_scram_hash h, const void *key, size_t keylen, const void *text,
    size_t textlen, unsigned char *out)
{
	if (gnutls_hmac_fast(algos[h].mac, key, keylen, text, textlen, out) < 0)
		fatal("scram: HMAC %s failed", algos[h].mech);
}

static void
hash(enum sb_scram_hash h, const void *data, size_t len, unsigned char *out)
{
	if (gnutls_hash_fast(algos[h].dig, data, len, out) < 0)
		fatal("scram: hash %s failed", algos[h].mech);
}

size_t
sb_scram_hash_len(enum sb_scram_hash h)
{
	return algos[h].len;
}

const char *
sb_scram_mech_name(enum sb_scram_hash h, int plus)
{
	return plus ? plus_names[h] : algos[h].mech;
}

int
sb_scram_mech_parse(const char *name, enum sb_scram_hash *h, int *plus)
{
	for (int i = 0; i < SB_SCRAM_NHASH; i++) {
		if (strcmp(name, algos[i].mech) == 0 || strcmp(name, plus_names[i]) == 0) {
			*h = (enum sb_scram_hash)i;
			*plus = strcmp(name, plus_names[i]) == 0;
			return 0;
		}
	}
	return -1;
}

int
sb_scram_salted_password(enum sb_scram_hash h, const void *password, size_t password_len,
    const void *salt, size_t salt_len, unsigned iterations, unsigned char *out)
{
	gnutls_datum_t key = { (unsigned char *)password, (unsigned)password_len };
	gnutls_datum_t s = { (unsigned char *)salt, (unsigned)salt_len };

	if (iterations == 0)
		return -1;
	/* gnutls_pbkdf2 keeps the HMAC key schedule across rounds (nettle). */
	return gnutls_pbkdf2(algos[h].mac, &key, &s, iterations, out, algos[h].len) < 0 ?
	    -1 : 0;
}

void
sb_scram_client_key(enum sb_scram_hash h, const unsigned char *salted, unsigned char *out)
{
	hmac(h, salted, algos[h].len, "Client Key", 10, out);
}

void
sb_scram_server_key(enum sb_scram_hash h, const unsigned char *salted, unsigned char *out)
{
	hmac(h, salted, algos[h].len, "Server Key", 10, out);
}

void
sb_scram_stored_key(enum sb_scram_hash h, const unsigned char *client_key, unsigned char *out)
{
	hash(h, client_key, algos[h].len, out);
}

int
sb_scram_secret_from_password(enum sb_scram_hash h, const void *password,
    size_t password_len, const void *salt, size_t salt_len, unsigned iterations,
    struct sb_scram_secret *out)
{
	unsigned char salted[SB_SCRAM_MAX_HASH], client_key[SB_SCRAM_MAX_HASH];

	if (salt_len > sizeof out->salt)
		return -1;
	if (iterations == 0)
		iterations = SB_SCRAM_DEFAULT_ITERATIONS;
	memset(out, 0, sizeof *out);
	out->hash = h;
	out->iterations = iterations;
	out->salt_len = salt_len;
	memcpy(out->salt, salt, salt_len);
	if (sb_scram_salted_password(h, password, password_len, salt, salt_len,
	    iterations, salted) < 0)
		return -1;
	sb_scram_client_key(h, salted, client_key);
	sb_scram_stored_key(h, client_key, out->stored_key);
	sb_scram_server_key(h, salted, out->server_key);
	gnutls_memset(salted, 0, sizeof salted);
	gnutls_memset(client_key, 0, sizeof client_key);
	return 0;
}

int
sb_scram_secret_make(enum sb_scram_hash h, const void *password, size_t password_len,
    unsigned iterations, struct sb_scram_secret *out)
{
	unsigned char salt[SB_SCRAM_SALT_LEN];

	if (gnutls_rnd(GNUTLS_RND_NONCE, salt, sizeof salt) < 0)
		return -1;
	return sb_scram_secret_from_password(h, password, password_len, salt,
	    sizeof salt, iterations, out);
}

/*
 * ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); the proof is
 * good when H(ClientKey) is the StoredKey.
 */
int
sb_scram_verify_proof(const struct sb_scram_secret *secret, const void *auth_message,
    size_t auth_len, const unsigned char *proof, size_t proof_len)
{
	enum sb_scram_hash h = secret->hash;
	unsigned char key[SB_SCRAM_MAX_HASH], stored[SB_SCRAM_MAX_HASH];
	size_t len = algos[h].len;
	int ok;

	if (proof_len != len)
		return -1;
	hmac(h, secret->stored_key, len, auth_message, auth_len, key);
	for (size_t i = 0; i < len; i++)
		key[i] ^= proof[i];
	hash(h, key, len, stored);
	ok = sb_scram_memeq(stored, secret->stored_key, len);
	gnutls_memset(key, 0, sizeof key);
	return ok ? 0 : -1;
}

void
sb_scram_server_signature(const struct sb_scram_secret *secret, const void *auth_message,
    size_t auth_len, unsigned char *out)
{
	hmac(secret->hash, secret->server_key, algos[secret->hash].len,
	    auth_message, auth_len, out);
}

void
sb_scram_client_proof(enum sb_scram_hash h, const unsigned char *salted,
    const void *auth_message, size_t auth_len, unsigned char *proof)
{
	unsigned char client_key[SB_SCRAM_MAX_HASH], stored[SB_SCRAM_MAX_HASH];
	unsigned char sig[SB_SCRAM_MAX_HASH];
	size_t len = algos[h].len;

	sb_scram_client_key(h, salted, client_key);
	sb_scram_stored_key(h, client_key, stored);
	hmac(h, stored, len, auth_message, auth_len, sig);
	for (size_t i = 0; i < len; i++)
		proof[i] = client_key[i] ^ sig[i];
	gnutls_memset(client_key, 0, sizeof client_key);
}

int
sb_scram_check_server_signature(enum sb_scram_hash h, const unsigned char *salted,
    const void *auth_message, size_t auth_len, const unsigned char *signature,
    size_t signature_len)
{
	unsigned char server_key[SB_SCRAM_MAX_HASH], want[SB_SCRAM_MAX_HASH];
	size_t len = algos[h].len;

	if (signature_len != len)
		return -1;
	sb_scram_server_key(h, salted, server_key);
	hmac(h, server_key, len, auth_message, auth_len, want);
	gnutls_memset(server_key, 0, sizeof server_key);
	return sb_scram_memeq(want, signature, len) ? 0 : -1;
}

int
sb_scram_nonce(char *out, size_t size)
{
	unsigned char raw[96];
	char enc[132];	/* sb_base64_encoded_len(96) + 1 */
	size_t n;

	if (size == 0)
		return 0;
	/* Each base64 character carries 6 random bits: 3 bytes per 4 characters. */
	for (n = 0; n < size - 1;) {
		size_t want = size - 1 - n, raw_len = (want + 3) / 4 * 3;

		if (raw_len > sizeof raw)
			raw_len = sizeof raw;
		if (gnutls_rnd(GNUTLS_RND_NONCE, raw, raw_len) < 0)
			return -1;
		sb_base64_encode(raw, raw_len, enc);
		want = want < raw_len / 3 * 4 ? want : raw_len / 3 * 4;
		memcpy(out + n, enc, want);
		n += want;
	}
	out[n] = '\0';
	return 0;
}

int
sb_scram_memeq(const void *a, const void *b, size_t len)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char diff = 0;

	for (size_t i = 0; i < len; i++)
		diff |= x[i] ^ y[i];
	return diff == 0;
}
