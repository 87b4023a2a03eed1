/*
 * sasl_plain.c: PLAIN (RFC 4616), only inside TLS, checked against the
 * stored SCRAM secret: SaltedPassword is computed with PBKDF2 from the
 * prepared password (PRECIS OpaqueString) and the stored salt and
 * iterations, on libuv's thread pool because it costs about a millisecond,
 * and the StoredKey and ServerKey it gives are compared with the stored
 * ones in constant time.
 *
 * Not through cyrus-sasl: its PLAIN plugin checks passwords synchronously
 * (sasl_checkpass from inside the step), which would run PBKDF2 on the
 * loop; and there is nothing else in PLAIN for cyrus to do.
 *
 * An unknown account costs the same PBKDF2 (on a fake secret) and fails
 * the same way as a wrong password. The password lives from decoding to
 * the end of the hashing, then its buffers are wiped.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "log.h"
#include "precis.h"
#include "sasl_priv.h"
#include "xmalloc.h"

static void
wipe_free(char *p, size_t len)
{
	if (p != NULL) {
		gnutls_memset(p, 0, len);
		free(p);
	}
}

/* Runs on a pool thread: only s->password and s->secret are touched. */
static void
plain_work(uv_work_t *w)
{
	struct c2s_sasl *s = w->data;
	const struct sb_scram_secret *k = &s->secret;
	size_t hlen = sb_scram_hash_len(k->hash);
	unsigned char salted[SB_SCRAM_MAX_HASH], client_key[SB_SCRAM_MAX_HASH];
	unsigned char stored_key[SB_SCRAM_MAX_HASH], server_key[SB_SCRAM_MAX_HASH];
	int ok;

	ok = sb_scram_salted_password(k->hash, s->password, s->password_len, k->salt,
	    k->salt_len, k->iterations, salted) == 0;
	sb_scram_client_key(k->hash, salted, client_key);
	sb_scram_stored_key(k->hash, client_key, stored_key);
	sb_scram_server_key(k->hash, salted, server_key);
	/* Both compared, always: no early exit tells which one differed. */
	ok &= sb_scram_memeq(stored_key, k->stored_key, hlen);
	ok &= sb_scram_memeq(server_key, k->server_key, hlen);
	s->password_ok = ok && s->known;
	gnutls_memset(salted, 0, sizeof(salted));
	gnutls_memset(client_key, 0, sizeof(client_key));
	gnutls_memset(stored_key, 0, sizeof(stored_key));
	gnutls_memset(server_key, 0, sizeof(server_key));
}

static void
plain_after(uv_work_t *w, int status)
{
	struct c2s_sasl *s = w->data;

	wipe_free(s->password, SB_JID_PART_BUFSIZE);
	s->password = NULL;
	if (c2s_sasl_release(s))
		return;
	if (status != 0) {
		c2s_sasl_answer_failure(s, "temporary-auth-failure", "hashing cancelled");
	} else if (!s->password_ok) {
		log_debug("sasl: %s: PLAIN: %s", s->account,
		    s->known ? "wrong password" : "unknown account");
		c2s_sasl_answer_failure(s, "not-authorized", NULL);
	} else if (s->disabled) {
		c2s_sasl_answer_failure(s, "account-disabled", "this account is disabled");
	} else {
		c2s_sasl_answer_success(s, "", 0);
	}
}

/* The account is loaded: hash the password on the pool. */
static void
plain_hash(struct c2s_sasl *s)
{
	s->state = ST_HASHING;
	s->pending = 1;
	s->work.data = s;
	if (uv_queue_work(s->ctx->loop, &s->work, plain_work, plain_after) != 0) {
		s->pending = 0;
		c2s_sasl_answer_failure(s, "temporary-auth-failure", "cannot hash now");
	}
}

/* authzid NUL authcid NUL passwd: pointers into msg, -1 unless exactly so. */
static int
plain_split(const char *msg, size_t len, const char **authzid, const char **authcid,
    const char **passwd, size_t *passwd_len)
{
	const char *nul1 = memchr(msg, '\0', len), *nul2;

	if (nul1 == NULL)
		return -1;
	nul2 = memchr(nul1 + 1, '\0', len - (size_t)(nul1 + 1 - msg));
	if (nul2 == NULL || nul2 == nul1 + 1 || nul2 + 1 == msg + len ||
	    memchr(nul2 + 1, '\0', len - (size_t)(nul2 + 1 - msg)) != NULL)
		return -1;
	*authzid = msg;
	*authcid = nul1 + 1;
	*passwd = nul2 + 1;
	*passwd_len = len - (size_t)(nul2 + 1 - msg);
	return 0;
}

/* Prepare the password into s->password: 0, or -1 when it is not a valid one. */
static int
plain_password(struct c2s_sasl *s, const char *pw, size_t len)
{
	char *buf = xmalloc(SB_JID_PART_BUFSIZE);
	size_t outlen;

	if (sb_precis_enforce(SB_PRECIS_OPAQUESTRING, pw, len, buf, SB_JID_PART_BUFSIZE,
	    &outlen) != SB_PRECIS_OK) {
		wipe_free(buf, SB_JID_PART_BUFSIZE);
		return -1;
	}
	s->password = buf;
	s->password_len = outlen;
	return 0;
}

/* The one PLAIN message: parse, prepare, check the authzid, load the account. */
void
c2s_sasl_plain_message(struct c2s_sasl *s, const char *b64)
{
	const char *authzid, *authcid, *pw, *condition = NULL;
	size_t pwlen, len;
	char *msg;

	if (c2s_sasl_decode(s, b64, &msg, &len) == -1)
		return;
	if (len > C2S_SASL_MAX_MSG || plain_split(msg, len, &authzid, &authcid, &pw, &pwlen) == -1)
		condition = "malformed-request";
	else if (c2s_sasl_set_user(s, authcid, strlen(authcid)) == -1 ||
	    plain_password(s, pw, pwlen) == -1)
		condition = "not-authorized";
	else if (c2s_sasl_check_authzid(s, authzid) == -1)
		condition = "invalid-authzid";
	wipe_free(msg, len);
	if (condition != NULL) {
		log_debug("sasl: %s: PLAIN: %s", s->account ? s->account : s->domain, condition);
		c2s_sasl_answer_failure(s, condition, NULL);	/* cleanup wipes the password */
		return;
	}
	c2s_sasl_lookup(s, plain_hash);
}

void
c2s_sasl_plain_cleanup(struct c2s_sasl *s)
{
	/* While hashing, the pool thread reads the password: plain_after frees it. */
	if (s->pending)
		return;
	if (s->password != NULL) {
		wipe_free(s->password, SB_JID_PART_BUFSIZE);
		s->password = NULL;
	}
}
