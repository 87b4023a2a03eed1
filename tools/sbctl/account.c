/*
 * account.c: turning what an admin types into what the accounts table
 * holds: a user JID into its canonical username and domain, a password
 * into SCRAM secrets. Shared by the single-account verbs and the batch
 * import (whose worker threads call sbctl_secrets_make).
 */
#include <stdio.h>
#include <string.h>

#include "precis.h"
#include "sbctl.h"

int
sbctl_user_parse(struct sbctl_user *u, const char *s, size_t len, char *why, size_t whylen)
{
	const char *jerr = NULL;

	if (sb_jid_parse(&u->jid, u->buf, sizeof(u->buf), s, len, &jerr) == -1) {
		snprintf(why, whylen, "'%.*s' is not a valid JID: %s", (int)len, s, jerr);
		return -1;
	}
	/* Accounts are bare JIDs with a name: "example.com" or "a@b/c" is a typo. */
	if (u->jid.local_len == 0 || u->jid.resource_len != 0) {
		snprintf(why, whylen, "'%.*s' is not a user JID (name@domain)", (int)len, s);
		return -1;
	}
	return 0;
}

void
sbctl_user_key(const struct sbctl_user *u, struct sb_db_value key[2])
{
	size_t ulen, dlen;
	const char *user = sb_jid_local(&u->jid, &ulen);
	const char *domain = sb_jid_domain(&u->jid, &dlen);

	key[0] = sb_db_textn(domain, dlen);
	key[1] = sb_db_textn(user, ulen);
}

int
sbctl_password_prepare(const char *s, size_t len, char *out, size_t *outlen,
    char *why, size_t whylen)
{
	enum sb_precis_error e;

	if (len == 0) {
		snprintf(why, whylen, "empty password");
		return -1;
	}
	e = sb_precis_enforce(SB_PRECIS_OPAQUESTRING, s, len, out, SBCTL_PASSWORD_MAX + 1, outlen);
	if (e == SB_PRECIS_ETOOLONG) {
		snprintf(why, whylen, "password too long (at most %d bytes)", SBCTL_PASSWORD_MAX);
		return -1;
	}
	if (e != SB_PRECIS_OK) {
		/* Never echo the password itself, not even a refused one. */
		snprintf(why, whylen, "password refused: %s", sb_precis_strerror(e));
		return -1;
	}
	return 0;
}

int
sbctl_secrets_make(struct sbctl_secrets *s, const char *prepared, size_t len)
{
	if (sb_scram_secret_make(SB_SCRAM_SHA1, prepared, len, SB_SCRAM_DEFAULT_ITERATIONS,
	    &s->sha1) == -1)
		return -1;
	return sb_scram_secret_make(SB_SCRAM_SHA256, prepared, len, SB_SCRAM_DEFAULT_ITERATIONS,
	    &s->sha256);
}

static void
secret_params(const struct sb_scram_secret *sec, struct sb_db_value out[4])
{
	size_t hlen = sb_scram_hash_len(sec->hash);

	out[0] = sb_db_blob(sec->salt, sec->salt_len);
	out[1] = sb_db_int(sec->iterations);
	out[2] = sb_db_blob(sec->stored_key, hlen);
	out[3] = sb_db_blob(sec->server_key, hlen);
}

void
sbctl_secrets_params(const struct sbctl_secrets *s, struct sb_db_value out[8])
{
	secret_params(&s->sha1, &out[0]);
	secret_params(&s->sha256, &out[4]);
}
