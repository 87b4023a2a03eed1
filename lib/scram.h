/*
 * scram.h: the cryptography of SCRAM (RFC 5802, RFC 7677), shared by c2s,
 * the tools that create accounts, the benchmark client and the tests.
 *
 *   SaltedPassword  = PBKDF2(HMAC-H, password, salt, i)
 *   ClientKey       = HMAC(SaltedPassword, "Client Key")
 *   StoredKey       = H(ClientKey)
 *   ServerKey       = HMAC(SaltedPassword, "Server Key")
 *   ClientSignature = HMAC(StoredKey, AuthMessage)
 *   ClientProof     = ClientKey XOR ClientSignature
 *   ServerSignature = HMAC(ServerKey, AuthMessage)
 *
 * The server stores {salt, i, StoredKey, ServerKey} (struct sb_scram_secret)
 * and never the password. Message parsing (gs2 header, attributes) belongs
 * to the SASL code; this module only computes and compares.
 *
 * Passwords: every function taking a password takes PREPARED bytes. The
 * caller must first normalize the password with SASLprep (RFC 4013) or
 * PRECIS OpaqueString (RFC 8265), as RFC 5802 2.2 and RFC 7677 require,
 * and pass the UTF-8 result; this module hashes the bytes it is given.
 */
#ifndef SB_SCRAM_H
#define SB_SCRAM_H

#include <stddef.h>

enum sb_scram_hash {
	SB_SCRAM_SHA1,		/* SCRAM-SHA-1, RFC 5802 */
	SB_SCRAM_SHA256,	/* SCRAM-SHA-256, RFC 7677 */
	SB_SCRAM_SHA512,	/* SCRAM-SHA-512 (draft-melnikov-scram-sha-512) */
};

#define SB_SCRAM_NHASH			3
#define SB_SCRAM_MAX_HASH		64	/* bytes of the largest digest */
#define SB_SCRAM_DEFAULT_ITERATIONS	4096	/* RFC 7677 minimum for SHA-256 */
#define SB_SCRAM_SALT_LEN		16	/* bytes of a new random salt */
#define SB_SCRAM_SALT_MAX		64	/* largest salt a secret can hold */
#define SB_SCRAM_NONCE_LEN		24	/* characters of a default nonce */

/* What the server stores for one account and one hash. */
struct sb_scram_secret {
	enum sb_scram_hash	 hash;
	unsigned		 iterations;
	size_t			 salt_len;
	unsigned char		 salt[SB_SCRAM_SALT_MAX];
	unsigned char		 stored_key[SB_SCRAM_MAX_HASH];
	unsigned char		 server_key[SB_SCRAM_MAX_HASH];
};

/* Digest length in bytes (20, 32, 64). */
size_t	 sb_scram_hash_len(enum sb_scram_hash hash);
/* "SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", ... */
const char *sb_scram_mech_name(enum sb_scram_hash hash, int plus);
/* Mechanism name to hash and -PLUS flag: 0, or -1 when not a SCRAM name. */
int	 sb_scram_mech_parse(const char *name, enum sb_scram_hash *hash, int *plus);

/* --- building blocks (out has sb_scram_hash_len() bytes) --- */

/* PBKDF2. 0, or -1 on a gnutls failure (iterations 0, oversize salt). */
int	 sb_scram_salted_password(enum sb_scram_hash hash,
	     const void *prepared_password, size_t password_len,
	     const void *salt, size_t salt_len, unsigned iterations,
	     unsigned char *out);
void	 sb_scram_client_key(enum sb_scram_hash hash, const unsigned char *salted,
	     unsigned char *out);
void	 sb_scram_server_key(enum sb_scram_hash hash, const unsigned char *salted,
	     unsigned char *out);
void	 sb_scram_stored_key(enum sb_scram_hash hash, const unsigned char *client_key,
	     unsigned char *out);

/* --- the server's side --- */

/*
 * Compute the stored secret for a password with a new random salt.
 * iterations 0 means SB_SCRAM_DEFAULT_ITERATIONS. 0, or -1 on failure.
 */
int	 sb_scram_secret_make(enum sb_scram_hash hash, const void *prepared_password,
	     size_t password_len, unsigned iterations, struct sb_scram_secret *out);
/* The same with a given salt (imports, tests). */
int	 sb_scram_secret_from_password(enum sb_scram_hash hash,
	     const void *prepared_password, size_t password_len,
	     const void *salt, size_t salt_len, unsigned iterations,
	     struct sb_scram_secret *out);
/*
 * Check a ClientProof (decoded from the client-final-message's p=) against
 * the stored secret and the AuthMessage. 0 when valid, -1 otherwise. The
 * comparison takes the same time whatever the proof.
 */
int	 sb_scram_verify_proof(const struct sb_scram_secret *secret,
	     const void *auth_message, size_t auth_len,
	     const unsigned char *proof, size_t proof_len);
/* ServerSignature for the server-final-message's v= (hash_len bytes). */
void	 sb_scram_server_signature(const struct sb_scram_secret *secret,
	     const void *auth_message, size_t auth_len, unsigned char *out);

/* --- the client's side (tools, tests, the benchmark client) --- */

/* ClientProof from SaltedPassword and AuthMessage. */
void	 sb_scram_client_proof(enum sb_scram_hash hash, const unsigned char *salted,
	     const void *auth_message, size_t auth_len, unsigned char *proof);
/* Check the server's v= value: 0 when it proves the server knew ServerKey. */
int	 sb_scram_check_server_signature(enum sb_scram_hash hash,
	     const unsigned char *salted, const void *auth_message, size_t auth_len,
	     const unsigned char *signature, size_t signature_len);

/* --- shared --- */

/*
 * A random nonce of size - 1 printable characters (base64 alphabet, so no
 * ',' and nothing that needs escaping) and a NUL. size 0 writes nothing.
 */
int	 sb_scram_nonce(char *out, size_t size);
/* Compare without an early exit: 1 when equal. */
int	 sb_scram_memeq(const void *a, const void *b, size_t len);

#endif
