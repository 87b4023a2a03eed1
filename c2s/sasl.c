/*
 * sasl.c: SASL for client streams (see sasl.h for the contract and
 * docs/ARCHITECTURE.md for the design). This file holds what every
 * mechanism shares: the context, the mechanisms and channel-binding types
 * we offer, the stream features, dispatching <auth/> and <response/> to
 * the mechanism, the answers, and the account lookup that must happen
 * before any secret is needed. SCRAM is in sasl_scram.c (through
 * cyrus-sasl), PLAIN in sasl_plain.c, throttling in sasl_throttle.c.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "base64.h"
#include "log.h"
#include "ns.h"
#include "sasl_priv.h"
#include "storage.h"
#include "xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

/* Offered in this order: strongest first, PLAIN last. */
static const struct c2s_sasl_mech mechs[] = {
	{ "SCRAM-SHA-256-PLUS",	C2S_SASL_SCRAM, SB_SCRAM_SHA256, 1 },
	{ "SCRAM-SHA-1-PLUS",	C2S_SASL_SCRAM, SB_SCRAM_SHA1, 1 },
	{ "SCRAM-SHA-256",	C2S_SASL_SCRAM, SB_SCRAM_SHA256, 0 },
	{ "SCRAM-SHA-1",	C2S_SASL_SCRAM, SB_SCRAM_SHA1, 0 },
	{ "PLAIN",		C2S_SASL_PLAIN, SB_SCRAM_SHA256, 0 },
};

/*
 * Channel-binding types offered, best first. tls-unique (RFC 5929) is left
 * out: it does not exist on TLS 1.3 and on TLS 1.2 it is only safe with the
 * extended master secret; tls-server-end-point covers TLS 1.2 clients.
 */
static const struct c2s_sasl_cbtype cbtypes[] = {
	{ "tls-exporter",		SB_TLS_CB_EXPORTER },
	{ "tls-server-end-point",	SB_TLS_CB_SERVER_END_POINT },
};

/*
 * RFC 6120 6.5 conditions and whether a failure with one counts against
 * the address and the account (c2s_sasl_failure_counts()).
 */
static const struct {
	const char	*name;
	int		 counts;
} conditions[] = {
	{ "not-authorized",		1 },
	{ "invalid-authzid",		1 },
	{ "malformed-request",		1 },
	{ "incorrect-encoding",		1 },
	{ "aborted",			0 },
	{ "account-disabled",		0 },
	{ "credentials-expired",	0 },
	{ "encryption-required",	0 },
	{ "invalid-mechanism",		0 },
	{ "mechanism-too-weak",		0 },
	{ "temporary-auth-failure",	0 },
};

/* --- mechanisms and channel bindings --- */

int
c2s_sasl_cb_data(const struct sb_tls *tls, const struct c2s_sasl_cbtype *t, unsigned char *out,
    size_t *len)
{
	*len = C2S_SASL_CB_MAX;
	return tls != NULL && sb_tls_channel_binding(tls, t->type, out, len) == 0 ? 0 : -1;
}

static int
cbtype_available(const struct sb_tls *tls, const struct c2s_sasl_cbtype *t)
{
	unsigned char data[C2S_SASL_CB_MAX];
	size_t len;

	return c2s_sasl_cb_data(tls, t, data, &len) == 0;
}

int
c2s_sasl_offers_plus(const struct sb_tls *tls)
{
	for (size_t i = 0; i < NELEM(cbtypes); i++)
		if (cbtype_available(tls, &cbtypes[i]))
			return 1;
	return 0;
}

const struct c2s_sasl_cbtype *
c2s_sasl_cbtype_find(const char *name, size_t len)
{
	for (size_t i = 0; i < NELEM(cbtypes); i++)
		if (strlen(cbtypes[i].name) == len && memcmp(cbtypes[i].name, name, len) == 0)
			return &cbtypes[i];
	return NULL;
}

static int
is_plain_without_tls(const struct c2s_sasl_mech *m, const struct sb_tls *tls, int allow_plain)
{
	return m->kind == C2S_SASL_PLAIN && tls == NULL;
}

static int
is_plain_not_allowed(const struct c2s_sasl_mech *m, const struct sb_tls *tls, int allow_plain)
{
	return m->kind == C2S_SASL_PLAIN && !allow_plain;
}

static int
is_plus_without_binding(const struct c2s_sasl_mech *m, const struct sb_tls *tls, int allow_plain)
{
	return m->plus && !c2s_sasl_offers_plus(tls);
}

/* Why a known mechanism is not offered on a stream; the first that applies wins. */
static const struct {
	int		(*applies)(const struct c2s_sasl_mech *m, const struct sb_tls *tls,
			    int allow_plain);
	const char	*condition;
	const char	*text;
} refusals[] = {
	{ is_plain_without_tls,	"encryption-required",	"PLAIN needs TLS" },
	{ is_plain_not_allowed,	"invalid-mechanism",	"PLAIN is not offered" },
	{ is_plus_without_binding, "invalid-mechanism",	"no channel binding on this stream" },
};

static int
refusal(const struct c2s_sasl_mech *m, const struct sb_tls *tls, int allow_plain)
{
	for (size_t i = 0; i < NELEM(refusals); i++)
		if (refusals[i].applies(m, tls, allow_plain))
			return (int)i;
	return -1;
}

static const struct c2s_sasl_mech *
mech_find(const char *name)
{
	for (size_t i = 0; name != NULL && i < NELEM(mechs); i++)
		if (strcmp(mechs[i].name, name) == 0)
			return &mechs[i];
	return NULL;
}

void
c2s_sasl_features(struct c2s_sasl_ctx *ctx, const struct sb_tls *tls, int allow_plain,
    struct sb_buf *out)
{
	size_t mark;

	sb_buf_append_str(out, "<mechanisms xmlns='" SB_NS_XMPP_SASL "'>");
	for (size_t i = 0; i < NELEM(mechs); i++)
		if (refusal(&mechs[i], tls, allow_plain) < 0)
			sb_buf_printf(out, "<mechanism>%s</mechanism>", mechs[i].name);
	sb_buf_append_str(out, "</mechanisms>");
	if (tls == NULL)
		return;
	mark = sb_buf_len(out);
	sb_buf_append_str(out, "<sasl-channel-binding xmlns='" SB_NS_SASL_CB "'>");
	for (size_t i = 0; i < NELEM(cbtypes); i++)
		if (cbtype_available(tls, &cbtypes[i]))
			sb_buf_printf(out, "<channel-binding type='%s'/>", cbtypes[i].name);
	if (!c2s_sasl_offers_plus(tls))
		sb_buf_truncate(out, mark);	/* an empty list says nothing */
	else
		sb_buf_append_str(out, "</sasl-channel-binding>");
}

/* --- the context --- */

struct c2s_sasl_ctx *
c2s_sasl_init(uv_loop_t *loop, struct sb_store *store, char *err, size_t errlen)
{
	struct c2s_sasl_ctx *ctx;

	if (c2s_sasl_scram_global_init(err, errlen) == -1)
		return NULL;
	ctx = xcalloc(1, sizeof(*ctx));
	ctx->loop = loop;
	ctx->store = store;
	if (gnutls_rnd(GNUTLS_RND_KEY, ctx->fake_secret, sizeof(ctx->fake_secret)) < 0) {
		snprintf(err, errlen, "sasl: no random bytes for the fake-salt secret");
		free(ctx);
		c2s_sasl_scram_global_done();
		return NULL;
	}
	ctx->by_addr = c2s_sasl_tbl_new("address", 300 * 1000);
	ctx->by_account = c2s_sasl_tbl_new("account", 60 * 1000);
	return ctx;
}

static void
ctx_destroy(struct c2s_sasl_ctx *ctx)
{
	c2s_sasl_tbl_free(ctx->by_addr);
	c2s_sasl_tbl_free(ctx->by_account);
	gnutls_memset(ctx->fake_secret, 0, sizeof(ctx->fake_secret));
	free(ctx);
	c2s_sasl_scram_global_done();
}

void
c2s_sasl_ctx_free(struct c2s_sasl_ctx *ctx)
{
	if (ctx == NULL)
		return;
	if (ctx->nsasl > 0)
		ctx->dying = 1;
	else
		ctx_destroy(ctx);
}

void
c2s_sasl_set_fake_secret(struct c2s_sasl_ctx *ctx, const void *secret, size_t len)
{
	/* Condensed to a fixed-size key, so any length works the same. */
	gnutls_hash_fast(GNUTLS_DIG_SHA256, secret, len, ctx->fake_secret);
}

/* --- answers: each is the last thing its caller does (the callback may free s) --- */

static void
answer(struct c2s_sasl *s, enum c2s_sasl_status status, const char *condition,
    const char *text, int untested)
{
	struct c2s_sasl_answer a = {
		status, sb_buf_data(&s->out), condition, text, s->user, untested,
	};

	if (status != C2S_SASL_CHALLENGE) {
		s->state = ST_DONE;
		c2s_sasl_scram_cleanup(s);
		c2s_sasl_plain_cleanup(s);
	}
	s->cb(&a, s->arg);
}

static void
set_data(struct c2s_sasl *s, const void *data, size_t len)
{
	sb_buf_clear(&s->out);
	sb_base64_encode_buf(&s->out, data, len);
}

void
c2s_sasl_answer_challenge(struct c2s_sasl *s, const void *data, size_t len)
{
	set_data(s, data, len);
	answer(s, C2S_SASL_CHALLENGE, NULL, NULL, 0);
}

void
c2s_sasl_answer_success(struct c2s_sasl *s, const void *data, size_t len)
{
	set_data(s, data, len);
	if (s->account != NULL)
		c2s_sasl_tbl_clear(s->ctx->by_account, s->account, uv_now(s->ctx->loop));
	log_debug("sasl: %s: %s succeeded", s->account, s->mech->name);
	answer(s, C2S_SASL_SUCCESS, NULL, NULL, 0);
}

static int
condition_counts(const char *condition)
{
	for (size_t i = 0; i < NELEM(conditions); i++)
		if (strcmp(conditions[i].name, condition) == 0)
			return conditions[i].counts;
	return 0;
}

/*
 * text goes to the client's <text/>: it never tells an unknown account
 * from a wrong password (both are not-authorized with no text); the log
 * line at debug level says which. Only a failed proof or password (the
 * states where credentials were checked) counts against the account.
 */
void
c2s_sasl_answer_failure(struct c2s_sasl *s, const char *condition, const char *text)
{
	sb_buf_clear(&s->out);
	if (s->account != NULL && strcmp(condition, "not-authorized") == 0 &&
	    (s->state == ST_WAIT_FINAL || s->state == ST_HASHING))
		c2s_sasl_tbl_fail(s->ctx->by_account, s->account, uv_now(s->ctx->loop));
	answer(s, C2S_SASL_FAILURE, condition, text, 0);
}

void
c2s_sasl_answer_untested(struct c2s_sasl *s, const char *condition, const char *text)
{
	sb_buf_clear(&s->out);
	answer(s, C2S_SASL_FAILURE, condition, text, 1);
}

static void
failure_logged(struct c2s_sasl *s, const char *condition, const char *why)
{
	log_debug("sasl: %s: %s: %s: %s", s->account ? s->account : s->domain,
	    s->mech->name, condition, why);
	c2s_sasl_answer_failure(s, condition, NULL);
}

/* --- helpers for the mechanisms --- */

/*
 * Decode a response's base64 into a new NUL-terminated buffer. "" (an
 * empty element) and "=" (RFC 6120 6.4.2) are both an empty message. On
 * -1 the failure has been answered and the caller must return.
 */
int
c2s_sasl_decode(struct c2s_sasl *s, const char *b64, char **out, size_t *outlen)
{
	size_t inlen = b64 ? strlen(b64) : 0, cap;

	*out = NULL;
	if (inlen == 1 && b64[0] == '=')
		inlen = 0;
	if (inlen > C2S_SASL_MAX_B64) {
		c2s_sasl_answer_failure(s, "malformed-request", "response too long");
		return -1;
	}
	cap = sb_base64_decoded_max(inlen) + 1;
	*out = xmalloc(cap);
	if (sb_base64_decode(b64, inlen, *out, cap - 1, outlen) == -1) {
		free(*out);
		*out = NULL;
		c2s_sasl_answer_failure(s, "incorrect-encoding", "invalid base64");
		return -1;
	}
	(*out)[*outlen] = '\0';
	return 0;
}

/* Prepare the client's username (a localpart); -1 when it cannot be one. */
int
c2s_sasl_set_user(struct c2s_sasl *s, const char *raw, size_t len)
{
	char user[SB_JID_PART_BUFSIZE];
	size_t ulen;
	const char *why;

	if (sb_jid_prepare(SB_JID_LOCAL, raw, len, user, sizeof(user), &ulen, &why) == -1) {
		log_debug("sasl: %s: %s: username refused: %s", s->domain, s->mech->name, why);
		return -1;
	}
	s->user = xstrdup(user);
	s->account = xmalloc(ulen + strlen(s->domain) + 2);
	sprintf(s->account, "%s@%s", user, s->domain);
	return 0;
}

/* The authzid must be empty or the user's own bare JID: 0, else -1. */
int
c2s_sasl_check_authzid(struct c2s_sasl *s, const char *authzid)
{
	char buf[SB_JID_BUFSIZE];
	struct sb_jid jid;

	if (authzid[0] == '\0')
		return 0;
	if (sb_jid_parse(&jid, buf, sizeof(buf), authzid, strlen(authzid), NULL) == -1)
		return -1;
	return sb_jid_is_bare(&jid) && strcmp(jid.str, s->account) == 0 ? 0 : -1;
}

/*
 * The stored secret for one hash from an ACCOUNT_GET row; -1 when the
 * account has none usable for it.
 */
static int
row_secret(const struct sb_store_result *r, enum sb_scram_hash hash,
    struct sb_scram_secret *sec)
{
	size_t base = hash == SB_SCRAM_SHA1 ? SB_ACCOUNT_SHA1_SALT : SB_ACCOUNT_SHA256_SALT;
	const struct sb_db_value *salt = sb_store_cell(r, 0, base);
	const struct sb_db_value *iter = sb_store_cell(r, 0, base + 1);
	const struct sb_db_value *stored = sb_store_cell(r, 0, base + 2);
	const struct sb_db_value *server = sb_store_cell(r, 0, base + 3);
	size_t hlen = sb_scram_hash_len(hash);

	if (salt->type != SB_DB_BLOB || salt->len == 0 || salt->len > SB_SCRAM_SALT_MAX ||
	    iter->type != SB_DB_INT || iter->i < 1 || iter->i > 100000000 ||
	    stored->type != SB_DB_BLOB || stored->len != hlen ||
	    server->type != SB_DB_BLOB || server->len != hlen)
		return -1;
	sec->hash = hash;
	sec->iterations = (unsigned)iter->i;
	sec->salt_len = salt->len;
	memcpy(sec->salt, salt->p, salt->len);
	memcpy(sec->stored_key, stored->p, hlen);
	memcpy(sec->server_key, server->p, hlen);
	return 0;
}

/*
 * A secret for an account that does not exist: the salt is stable (a keyed
 * hash of the hash name and the account) so that asking twice shows the
 * same salt, as a real account would; the keys match no password anyone
 * knows. Iterations are the default every new account gets.
 */
static void
fake_secret(struct c2s_sasl *s, enum sb_scram_hash hash, struct sb_scram_secret *sec)
{
	unsigned char mac[64];
	const char *hname = sb_scram_mech_name(hash, 0);
	size_t hlen = sb_scram_hash_len(hash), alen = strlen(s->account);
	char *in = xmalloc(strlen(hname) + alen + 2);

	memcpy(in, hname, strlen(hname) + 1);
	memcpy(in + strlen(hname) + 1, s->account, alen);
	gnutls_hmac_fast(GNUTLS_MAC_SHA512, s->ctx->fake_secret, sizeof(s->ctx->fake_secret),
	    in, strlen(hname) + 1 + alen, mac);
	free(in);
	memset(sec, 0, sizeof(*sec));
	sec->hash = hash;
	sec->iterations = SB_SCRAM_DEFAULT_ITERATIONS;
	sec->salt_len = SB_SCRAM_SALT_LEN;
	memcpy(sec->salt, mac, SB_SCRAM_SALT_LEN);
	/* SHA-1 and SHA-256 keys fit in the 48 bytes after the salt. */
	memcpy(sec->stored_key, mac + SB_SCRAM_SALT_LEN, hlen);
	memcpy(sec->server_key, mac + SB_SCRAM_SALT_LEN, hlen);
	gnutls_memset(mac, 0, sizeof(mac));
}

/* PLAIN takes the SHA-256 secret, or the SHA-1 one when that is all there is. */
static void
take_secret(struct c2s_sasl *s, const struct sb_store_result *r)
{
	enum sb_scram_hash hash = s->mech->hash;

	s->known = 0;
	if (r->nrows == 1) {
		s->disabled = sb_store_int(r, 0, SB_ACCOUNT_DISABLED) != 0;
		s->known = row_secret(r, hash, &s->secret) == 0;
		if (!s->known && s->mech->kind == C2S_SASL_PLAIN) {
			hash = SB_SCRAM_SHA1;
			s->known = row_secret(r, hash, &s->secret) == 0;
		}
		if (!s->known)
			log_warn("sasl: %s: no usable %s secret stored", s->account,
			    sb_scram_mech_name(s->mech->hash, 0));
	}
	if (!s->known)
		fake_secret(s, s->mech->hash, &s->secret);
}

/*
 * Called when a pending lookup or hashing completes: 1 when the caller
 * must stop (the owner freed s meanwhile, or it was aborted), else 0.
 */
int
c2s_sasl_release(struct c2s_sasl *s)
{
	s->pending = 0;
	if (s->dead) {
		c2s_sasl_free(s);
		return 1;
	}
	return s->state == ST_DONE;
}

struct lookup {
	struct c2s_sasl	*s;
	void		(*then)(struct c2s_sasl *s);
};

static void
on_account(const struct sb_store_result *r, void *arg)
{
	struct lookup *l = arg;
	struct c2s_sasl *s = l->s;
	void (*then)(struct c2s_sasl *) = l->then;

	free(l);
	if (c2s_sasl_release(s))
		return;
	if (r->err != SB_STORE_OK) {
		failure_logged(s, "temporary-auth-failure", sb_store_err_name(r->err));
		return;
	}
	take_secret(s, r);
	log_debug("sasl: %s: %s", s->account,
	    !s->known ? "unknown account: fake secret" : s->disabled ? "disabled" : "found");
	then(s);
}

/*
 * Load the account's secrets, then run then(s) (possibly before this
 * returns: a closing store answers at once). A throttled account is
 * refused here, before anything looks at its credentials.
 */
void
c2s_sasl_lookup(struct c2s_sasl *s, void (*then)(struct c2s_sasl *s))
{
	struct sb_db_value key[2] = { sb_db_text(s->domain), sb_db_text(s->user) };
	struct lookup *l;

	if (c2s_sasl_tbl_wait(s->ctx->by_account, s->account, uv_now(s->ctx->loop)) > 0) {
		log_debug("sasl: %s: throttled", s->account);
		c2s_sasl_answer_failure(s, "temporary-auth-failure",
		    "too many failed attempts; try again later");
		return;
	}
	l = xmalloc(sizeof(*l));
	l->s = s;
	l->then = then;
	s->state = ST_LOOKUP;
	s->pending = 1;
	sb_store_query(s->ctx->store, SB_Q_ACCOUNT_GET, key, on_account, l);
}

/* --- negotiations --- */

/* What a client message does in each state, per mechanism kind. */
static void (*const handlers[][2])(struct c2s_sasl *s, const char *b64) = {
	[ST_WAIT_FIRST] = {
		[C2S_SASL_SCRAM] = c2s_sasl_scram_message,
		[C2S_SASL_PLAIN] = c2s_sasl_plain_message,
	},
	[ST_WAIT_FINAL] = {
		[C2S_SASL_SCRAM] = c2s_sasl_scram_final,
	},
};

static void
dispatch(struct c2s_sasl *s, const char *b64)
{
	void (*h)(struct c2s_sasl *, const char *) = NULL;

	if ((size_t)s->state < NELEM(handlers))
		h = handlers[s->state][s->mech->kind];
	if (h == NULL) {
		if (s->pending)
			log_error("sasl: a response came while the last one was still pending");
		c2s_sasl_answer_failure(s, "malformed-request", "unexpected response");
		return;
	}
	h(s, b64);
}

struct c2s_sasl *
c2s_sasl_start(struct c2s_sasl_ctx *ctx, const char *domain, const char *mech,
    const char *data, const struct sb_tls *tls, int allow_plain, c2s_sasl_cb *cb, void *arg)
{
	struct c2s_sasl *s = xcalloc(1, sizeof(*s));
	static const struct c2s_sasl_mech unknown = {
		"(unknown)", C2S_SASL_SCRAM, SB_SCRAM_SHA256, 0,
	};
	int r;

	s->ctx = ctx;
	ctx->nsasl++;
	s->domain = xstrdup(domain);
	s->tls = tls;
	s->cb = cb;
	s->arg = arg;
	s->state = ST_WAIT_FIRST;
	s->mech = mech_find(mech);
	if (s->mech == NULL) {
		s->mech = &unknown;
		c2s_sasl_answer_failure(s, "invalid-mechanism", "unknown mechanism");
	} else if ((r = refusal(s->mech, tls, allow_plain)) >= 0) {
		c2s_sasl_answer_failure(s, refusals[r].condition, refusals[r].text);
	} else if (data == NULL) {
		/* No initial response: an empty challenge asks for it. */
		c2s_sasl_answer_challenge(s, "", 0);
	} else {
		dispatch(s, data);
	}
	return s;
}

void
c2s_sasl_step(struct c2s_sasl *s, const char *data)
{
	dispatch(s, data != NULL ? data : "");
}

void
c2s_sasl_abort(struct c2s_sasl *s)
{
	/* A lookup or hashing in flight finds ST_DONE and answers nothing. */
	answer(s, C2S_SASL_FAILURE, "aborted", NULL, 0);
}

void
c2s_sasl_free(struct c2s_sasl *s)
{
	struct c2s_sasl_ctx *ctx;

	if (s == NULL)
		return;
	if (s->pending) {
		s->dead = 1;
		s->state = ST_DONE;
		return;
	}
	ctx = s->ctx;
	c2s_sasl_scram_cleanup(s);
	c2s_sasl_plain_cleanup(s);
	gnutls_memset(&s->secret, 0, sizeof(s->secret));
	free(s->domain);
	free(s->user);
	free(s->account);
	sb_buf_free(&s->out);
	free(s);
	if (--ctx->nsasl == 0 && ctx->dying)
		ctx_destroy(ctx);
}

/* --- throttling, the parts the stream uses --- */

void
c2s_sasl_throttle_config(struct c2s_sasl_ctx *ctx, unsigned after, uint64_t base_ms,
    uint64_t addr_max_ms, uint64_t account_max_ms)
{
	c2s_sasl_tbl_config(ctx->by_addr, after, base_ms, addr_max_ms);
	c2s_sasl_tbl_config(ctx->by_account, after, base_ms, account_max_ms);
}

uint64_t
c2s_sasl_throttle_check(struct c2s_sasl_ctx *ctx, const char *addr, const char *account)
{
	uint64_t now = uv_now(ctx->loop), a = 0, b = 0;

	if (addr != NULL)
		a = c2s_sasl_tbl_wait(ctx->by_addr, addr, now);
	if (account != NULL)
		b = c2s_sasl_tbl_wait(ctx->by_account, account, now);
	return a > b ? a : b;
}

void
c2s_sasl_throttle_failed(struct c2s_sasl_ctx *ctx, const char *addr, const char *account)
{
	uint64_t now = uv_now(ctx->loop);

	if (addr != NULL)
		c2s_sasl_tbl_fail(ctx->by_addr, addr, now);
	if (account != NULL)
		c2s_sasl_tbl_fail(ctx->by_account, account, now);
}

/*
 * A success clears the account's failures (its owner got in) but not the
 * address's: otherwise an attacker holding one valid account could wash
 * its address clean between guesses. Address entries age out instead.
 */
void
c2s_sasl_throttle_succeeded(struct c2s_sasl_ctx *ctx, const char *addr, const char *account)
{
	if (account != NULL)
		c2s_sasl_tbl_clear(ctx->by_account, account, uv_now(ctx->loop));
}

int
c2s_sasl_failure_counts(const struct c2s_sasl_answer *a)
{
	return a->status == C2S_SASL_FAILURE && a->condition != NULL && !a->untested &&
	    condition_counts(a->condition);
}

void
c2s_sasl_throttle_answer(struct c2s_sasl_ctx *ctx, const char *addr,
    const struct c2s_sasl_answer *a)
{
	if (c2s_sasl_failure_counts(a))
		c2s_sasl_throttle_failed(ctx, addr, NULL);
	else if (a->status == C2S_SASL_SUCCESS)
		c2s_sasl_throttle_succeeded(ctx, addr, NULL);
}
