/*
 * sasl_scram.c: SCRAM-SHA-1 and SCRAM-SHA-256, with and without -PLUS
 * (RFC 5802, RFC 7677, channel bindings of RFC 5929 and RFC 9266), run by
 * cyrus-sasl's SCRAM plugin.
 *
 * cyrus asks for a user's secrets synchronously, from inside
 * sasl_server_start(), through an auxprop plugin; our storage answers
 * later. So the client-first-message is parsed here first, just enough to
 * know the user, the authzid and the channel-binding choice; the account
 * is loaded (sasl.c); only then is cyrus started, and our auxprop plugin
 * hands it the secret already in memory, as the RFC 3112 authPassword
 * value "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>" that
 * the plugin knows how to read. The negotiation is found from the
 * sasl_conn_t through the context of its SASL_CB_CANON_USER callback.
 *
 * What cyrus does not do, done here before it runs: refuse 'p=' on a
 * mechanism without -PLUS and 'n'/'y' on one with it (cyrus ignores the
 * -PLUS suffix), fail 'y' when we offer channel binding (downgrade, RFC
 * 5802 section 6; cyrus would only say so after the proof), choose the
 * binding data by the type the client named (cyrus holds one binding per
 * connection), check the c= binding in the client-final-message so that a
 * mismatch is not-authorized (cyrus says "bad protocol"), prepare the
 * username with PRECIS, and check the authzid against the XMPP rules.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>	/* needs sasl.h first */

#include "base64.h"
#include "log.h"
#include "sasl_priv.h"
#include "xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define AUXPROP_NAME	"switchboard"
#define PROP_SECRET	"*authPassword"		/* '*': a property of the authid */
/* cyrus stores callbacks as int (*)(void); void (*)(void) is the cast gcc allows. */
#define CY_CB(f)	((sasl_callback_ft)(void (*)(void))(f))

/* --- cyrus, once per process --- */

/* Everything cyrus would read from a config file, answered here. */
static const struct {
	const char	*name;
	const char	*value;
} options[] = {
	{ "auxprop_plugin",	AUXPROP_NAME },
	{ "mech_list",		"SCRAM-SHA-256 SCRAM-SHA-1" },
	{ "canon_user_plugin",	"INTERNAL" },
};

static int
cy_getopt(void *context, const char *plugin, const char *option, const char **result,
    unsigned *len)
{
	for (size_t i = 0; i < NELEM(options); i++) {
		if (strcmp(options[i].name, option) == 0) {
			*result = options[i].value;
			if (len != NULL)
				*len = (unsigned)strlen(options[i].value);
			return SASL_OK;
		}
	}
	return SASL_FAIL;
}

/* cyrus logs every failed proof: ours to the debug log, not its syslog. */
static int
cy_log(void *context, int level, const char *message)
{
	sb_log(level <= SASL_LOG_ERR ? SB_LOG_WARN : SB_LOG_DEBUG, "sasl: cyrus: %s", message);
	return SASL_OK;
}

/* Load the SCRAM plugin only, and no configuration file at all. */
static int
cy_verifyfile(void *context, const char *file, sasl_verify_type_t type)
{
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	if (type == SASL_VRFY_PLUGIN && strncmp(base, "libscram.", 9) == 0)
		return SASL_OK;
	return SASL_CONTINUE;
}

static const sasl_callback_t global_cbs[] = {
	{ SASL_CB_GETOPT, CY_CB(cy_getopt), NULL },
	{ SASL_CB_LOG, CY_CB(cy_log), NULL },
	{ SASL_CB_VERIFYFILE, CY_CB(cy_verifyfile), NULL },
	{ SASL_CB_LIST_END, NULL, NULL },
};

static int cy_canon_user(sasl_conn_t *conn, void *context, const char *in, unsigned inlen,
    unsigned flags, const char *user_realm, char *out, unsigned out_max, unsigned *out_len);

/*
 * The auxprop plugin: serves the secret the negotiation preloaded. Only
 * authid properties ('*'-prefixed) are ours; the authzid lookup has
 * nothing to add.
 */
static int
cy_auxprop_lookup(void *glob, sasl_server_params_t *sparams, unsigned flags, const char *user,
    unsigned ulen)
{
	const sasl_utils_t *u = sparams->utils;
	sasl_callback_ft proc = NULL;
	void *context = NULL;
	struct c2s_sasl *s;
	const struct propval *pv;

	if (flags & SASL_AUXPROP_AUTHZID)
		return SASL_OK;
	if (u->getcallback(u->conn, SASL_CB_CANON_USER, &proc, &context) != SASL_OK ||
	    proc != CY_CB(cy_canon_user) || context == NULL)
		return SASL_NOUSER;
	s = context;
	if (s->authpassword == NULL || ulen != strlen(s->user) || memcmp(user, s->user, ulen) != 0)
		return SASL_NOUSER;
	for (pv = u->prop_get(sparams->propctx); pv != NULL && pv->name != NULL; pv++)
		if (strcmp(pv->name, PROP_SECRET) == 0)
			u->prop_set(sparams->propctx, pv->name, s->authpassword,
			    (unsigned)strlen(s->authpassword));
	return SASL_OK;
}

static sasl_auxprop_plug_t auxprop_plug = {
	.auxprop_lookup = cy_auxprop_lookup,
	.name = AUXPROP_NAME,
};

static int
cy_auxprop_init(const sasl_utils_t *utils, int max_version, int *out_version,
    sasl_auxprop_plug_t **plug, const char *plugname)
{
	*out_version = SASL_AUXPROP_PLUG_VERSION;
	*plug = &auxprop_plug;
	return SASL_OK;
}

static unsigned cyrus_refs;

int
c2s_sasl_scram_global_init(char *err, size_t errlen)
{
	int r;

	if (cyrus_refs++ > 0)
		return 0;
	if ((r = sasl_server_init(global_cbs, "switchboard")) != SASL_OK ||
	    (r = sasl_auxprop_add_plugin(AUXPROP_NAME, cy_auxprop_init)) != SASL_OK) {
		snprintf(err, errlen, "sasl: cyrus-sasl initialization failed: %s",
		    sasl_errstring(r, NULL, NULL));
		sasl_server_done();
		cyrus_refs = 0;
		return -1;
	}
	return 0;
}

void
c2s_sasl_scram_global_done(void)
{
	if (cyrus_refs > 0 && --cyrus_refs == 0)
		sasl_server_done();
}

/* --- parsing the client-first-message (RFC 5802 section 7) --- */

struct cursor {
	const char	*p;
	const char	*end;
};

/* The text up to the next ',' (or the end); the cursor moves past it. */
static size_t
field(struct cursor *c, const char **start)
{
	const char *comma = memchr(c->p, ',', (size_t)(c->end - c->p));
	const char *stop = comma ? comma : c->end;
	size_t len = (size_t)(stop - c->p);

	*start = c->p;
	c->p = comma ? comma + 1 : c->end;
	return len;
}

/* saslname: "=2C" is ',' and "=3D" is '='; any other '=' is an error. */
static char *
saslname_decode(const char *in, size_t len)
{
	char *out = xmalloc(len + 1), *o = out;

	for (size_t i = 0; i < len; i++) {
		if (in[i] != '=') {
			*o++ = in[i];
		} else if (len - i >= 3 && memcmp(in + i, "=2C", 3) == 0) {
			*o++ = ',';
			i += 2;
		} else if (len - i >= 3 && memcmp(in + i, "=3D", 3) == 0) {
			*o++ = '=';
			i += 2;
		} else {
			free(out);
			return NULL;
		}
	}
	*o = '\0';
	return out;
}

static int
cbname_valid(const char *s, size_t len)
{
	static const char extra[] = ".-";

	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || (ch != 0 && strchr(extra, ch) != NULL)))
			return 0;
	}
	return 1;
}

/* printable = %x21-2B / %x2D-7E: anything visible but ','. */
static int
nonce_valid(const char *s, size_t len)
{
	if (len == 0)
		return 0;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return 0;
	return 1;
}

static int
parse_gs2(struct cursor *c, const char *msg, struct scram_first *f, const char **why)
{
	const char *v;
	size_t len = field(c, &v);

	if (len == 1 && (v[0] == 'n' || v[0] == 'y')) {
		f->cbflag = v[0];
	} else if (len > 2 && v[0] == 'p' && v[1] == '=' && cbname_valid(v + 2, len - 2)) {
		f->cbflag = 'p';
		f->cbname = v + 2;
		f->cbname_len = len - 2;
	} else {
		*why = "bad channel-binding flag";
		return -1;
	}
	len = field(c, &v);
	if (c->p == c->end || (len > 0 && (len < 3 || v[0] != 'a' || v[1] != '='))) {
		*why = "bad gs2 header";
		return -1;
	}
	if (len > 0 && (f->authzid = saslname_decode(v + 2, len - 2)) == NULL) {
		*why = "bad authzid encoding";
		return -1;
	}
	f->gs2_len = (size_t)(c->p - msg);
	return 0;
}

static int
parse_bare(struct cursor *c, struct scram_first *f, const char **why)
{
	const char *v;
	size_t len = field(c, &v);

	if (len >= 2 && v[0] == 'm' && v[1] == '=') {
		*why = "mandatory extension not supported";
		return -1;
	}
	if (len < 3 || v[0] != 'n' || v[1] != '=' ||
	    (f->user = saslname_decode(v + 2, len - 2)) == NULL) {
		*why = "bad username";
		return -1;
	}
	len = field(c, &v);
	if (len < 3 || v[0] != 'r' || v[1] != '=' || !nonce_valid(v + 2, len - 2)) {
		*why = "bad nonce";
		return -1;
	}
	return 0;	/* extensions after the nonce are allowed and ignored */
}

/*
 * Parse a client-first-message (len bytes, no NUL inside). 0 with f filled
 * (f->authzid and f->user allocated: the caller frees them), or -1 with
 * *why set and nothing allocated.
 */
int
c2s_sasl_scram_parse_first(const char *msg, size_t len, struct scram_first *f,
    const char **why)
{
	struct cursor c = { msg, msg + len };

	memset(f, 0, sizeof(*f));
	/* RFC 5802: no NUL anywhere (and C strings downstream would cut at one). */
	if (memchr(msg, '\0', len) != NULL) {
		*why = "NUL in the client-first-message";
		return -1;
	}
	if (parse_gs2(&c, msg, f, why) == -1 || parse_bare(&c, f, why) == -1) {
		free(f->authzid);
		free(f->user);
		memset(f, 0, sizeof(*f));
		return -1;
	}
	if (f->authzid == NULL)
		f->authzid = xstrdup("");
	return 0;
}

/* --- the negotiation --- */

/* cyrus result codes to RFC 6120 conditions; anything else is ours to fix. */
static const struct {
	int		 code;
	const char	*condition;
} cy_conditions[] = {
	{ SASL_BADAUTH,		"not-authorized" },
	{ SASL_BADBINDING,	"not-authorized" },
	{ SASL_NOUSER,		"not-authorized" },
	{ SASL_TRANS,		"not-authorized" },
	{ SASL_BADPROT,		"malformed-request" },
	{ SASL_BADPARAM,	"malformed-request" },
	{ SASL_NOAUTHZ,		"invalid-authzid" },
	{ SASL_NOMECH,		"invalid-mechanism" },
	{ SASL_TOOWEAK,		"mechanism-too-weak" },
	{ SASL_ENCRYPT,		"encryption-required" },
	{ SASL_EXPIRED,		"credentials-expired" },
	{ SASL_DISABLED,	"account-disabled" },
};

static void
cy_failure(struct c2s_sasl *s, int code)
{
	const char *condition = "temporary-auth-failure";

	for (size_t i = 0; i < NELEM(cy_conditions); i++)
		if (cy_conditions[i].code == code)
			condition = cy_conditions[i].condition;
	log_debug("sasl: %s: %s: %s: %s", s->account, s->mech->name, condition,
	    s->conn ? sasl_errdetail(s->conn) : sasl_errstring(code, NULL, NULL));
	if (strcmp(condition, "temporary-auth-failure") == 0 && code != SASL_UNAVAIL)
		log_warn("sasl: %s: cyrus-sasl failed: %s", s->account,
		    s->conn ? sasl_errdetail(s->conn) : sasl_errstring(code, NULL, NULL));
	c2s_sasl_answer_failure(s, condition, NULL);
}

/*
 * cyrus canonicalizes the username it parsed itself (n=, not prepared):
 * it becomes our prepared one. The authzid, checked already, too.
 */
static int
cy_canon_user(sasl_conn_t *conn, void *context, const char *in, unsigned inlen,
    unsigned flags, const char *user_realm, char *out, unsigned out_max, unsigned *out_len)
{
	struct c2s_sasl *s = context;
	size_t ulen = strlen(s->user);

	if ((flags & SASL_CU_AUTHID) &&
	    (inlen != strlen(s->raw_user) || memcmp(in, s->raw_user, inlen) != 0))
		return SASL_BADPROT;
	if (ulen >= out_max)
		return SASL_BUFOVER;
	memcpy(out, s->user, ulen + 1);
	*out_len = (unsigned)ulen;
	return SASL_OK;
}

static void
make_authpassword(struct c2s_sasl *s)
{
	const struct sb_scram_secret *k = &s->secret;
	size_t hlen = sb_scram_hash_len(k->hash);
	struct sb_buf b = SB_BUF_INIT;

	sb_buf_printf(&b, "%s$%u:", sb_scram_mech_name(k->hash, 0), k->iterations);
	sb_base64_encode_buf(&b, k->salt, k->salt_len);
	sb_buf_append_char(&b, '$');
	sb_base64_encode_buf(&b, k->stored_key, hlen);
	sb_buf_append_char(&b, ':');
	sb_base64_encode_buf(&b, k->server_key, hlen);
	s->authpassword = xstrdup(sb_buf_data(&b));
	gnutls_memset(b.base, 0, b.cap);
	sb_buf_free(&b);
}

static void
drop_authpassword(struct c2s_sasl *s)
{
	if (s->authpassword != NULL) {
		gnutls_memset(s->authpassword, 0, strlen(s->authpassword));
		free(s->authpassword);
		s->authpassword = NULL;
	}
}

/* The account is loaded: run cyrus on the client-first-message. */
static void
cy_start(struct c2s_sasl *s)
{
	const char *out;
	unsigned outlen;
	int r;

	s->conn_cbs[0] = (sasl_callback_t){ SASL_CB_CANON_USER, CY_CB(cy_canon_user), s };
	s->conn_cbs[1] = (sasl_callback_t){ SASL_CB_LIST_END, NULL, NULL };
	r = sasl_server_new("xmpp", s->domain, NULL, NULL, NULL, s->conn_cbs,
	    SASL_SUCCESS_DATA, &s->conn);
	if (r == SASL_OK && s->cbname != NULL)
		r = sasl_setprop(s->conn, SASL_CHANNEL_BINDING, &s->sasl_cb);
	if (r != SASL_OK) {
		cy_failure(s, r);
		return;
	}
	make_authpassword(s);
	r = sasl_server_start(s->conn, sb_scram_mech_name(s->mech->hash, 0), s->first,
	    (unsigned)s->first_len, &out, &outlen);
	drop_authpassword(s);	/* cyrus has decoded its keys */
	if (r != SASL_CONTINUE) {
		cy_failure(s, r);
		return;
	}
	s->state = ST_WAIT_FINAL;
	c2s_sasl_answer_challenge(s, out, outlen);
}

/*
 * The mechanism's name and the gs2 flag must agree (RFC 5802 section 6).
 * A client and server that share no channel binding fail with *untested
 * set: no credential was looked at, so it counts against no one, and a
 * client may go on to a mechanism they do share (a slixmpp that knows
 * only tls-unique, which TLS 1.3 lacks, ends up at PLAIN).
 */
static const char *
check_cbflag(struct c2s_sasl *s, const struct scram_first *f, const char **condition,
    int *untested)
{
	const struct c2s_sasl_cbtype *t;
	size_t len;

	*condition = "malformed-request";
	if (s->mech->plus && f->cbflag != 'p')
		return "-PLUS without channel binding";
	if (!s->mech->plus && f->cbflag == 'p')
		return "channel binding without -PLUS";
	*condition = "not-authorized";
	*untested = 1;
	if (f->cbflag == 'y' && c2s_sasl_offers_plus(s->tls))
		return "the client thinks we offer no channel binding (a downgrade, or a "
		    "client that knows none of the types we offer)";
	if (f->cbflag != 'p') {
		*untested = 0;
		return NULL;
	}
	t = c2s_sasl_cbtype_find(f->cbname, f->cbname_len);
	if (t == NULL || c2s_sasl_cb_data(s->tls, t, s->cbdata, &len) == -1)
		return "channel-binding type not offered on this connection";
	*untested = 0;
	s->cbname = xstrdup(t->name);
	s->sasl_cb = (sasl_channel_binding_t){ s->cbname, 1, len, s->cbdata };
	return NULL;
}

/* Keep what cyrus and the final check will need; takes msg and f's strings. */
static void
keep_first(struct c2s_sasl *s, char *msg, size_t len, struct scram_first *f)
{
	s->first = msg;
	s->first_len = len;
	s->raw_user = f->user;
	s->gs2 = xmemdup(msg, f->gs2_len);
	s->gs2_len = f->gs2_len;
	free(f->authzid);
}

/* The client-first-message: parse, check, then load the account. */
void
c2s_sasl_scram_message(struct c2s_sasl *s, const char *b64)
{
	struct scram_first f;
	const char *why, *condition;
	int untested = 0;
	char *msg;
	size_t len;

	if (c2s_sasl_decode(s, b64, &msg, &len) == -1)
		return;
	why = len == 0 ? "empty message" : len > C2S_SASL_MAX_MSG ? "too long" :
	    memchr(msg, '\0', len) != NULL ? "NUL in message" : NULL;
	if (why != NULL || c2s_sasl_scram_parse_first(msg, len, &f, &why) == -1) {
		log_debug("sasl: %s: %s: malformed client-first-message: %s", s->domain,
		    s->mech->name, why);
		free(msg);
		c2s_sasl_answer_failure(s, "malformed-request", NULL);
		return;
	}
	/* The username first, so that every later failure names it in the log. */
	if (c2s_sasl_set_user(s, f.user, strlen(f.user)) == -1) {
		condition = "not-authorized";
		why = "invalid username";
	} else if ((why = check_cbflag(s, &f, &condition, &untested)) == NULL &&
	    c2s_sasl_check_authzid(s, f.authzid) == -1) {
		condition = "invalid-authzid";
		why = "authzid is not the user's bare JID";
	}
	if (why != NULL) {
		log_debug("sasl: %s: %s: %s: %s", s->account ? s->account : s->domain,
		    s->mech->name, condition, why);
		free(f.authzid);
		free(f.user);
		free(msg);
		if (untested)
			c2s_sasl_answer_untested(s, condition, why);
		else
			c2s_sasl_answer_failure(s, condition, NULL);
		return;
	}
	keep_first(s, msg, len, &f);
	c2s_sasl_lookup(s, cy_start);
}

/*
 * The c= of a client-final-message must be the gs2 header followed by the
 * binding data when 'p' (RFC 5802 section 7). NULL when it is, else the
 * condition: a missing or undecodable c= is malformed, a different one a
 * failed binding.
 */
static const char *
binding_check(const struct c2s_sasl *s, const char *msg, size_t len)
{
	struct cursor c = { msg, msg + len };
	const char *v;
	size_t vlen = field(&c, &v), want = s->gs2_len + (s->cbname ? s->sasl_cb.len : 0);
	unsigned char got[C2S_SASL_MAX_MSG];
	size_t got_len;

	if (vlen < 2 || v[0] != 'c' || v[1] != '=' ||
	    sb_base64_decode(v + 2, vlen - 2, got, sizeof(got), &got_len) == -1)
		return "malformed-request";
	if (got_len != want || memcmp(got, s->gs2, s->gs2_len) != 0 || (s->cbname != NULL &&
	    !sb_scram_memeq(got + s->gs2_len, s->cbdata, s->sasl_cb.len)))
		return "not-authorized";
	return NULL;
}

/* The client-final-message: cyrus checks the nonce and the proof. */
void
c2s_sasl_scram_final(struct c2s_sasl *s, const char *b64)
{
	const char *out, *condition;
	unsigned outlen;
	char *msg;
	size_t len;
	int r;

	if (c2s_sasl_decode(s, b64, &msg, &len) == -1)
		return;
	if (len > C2S_SASL_MAX_MSG || memchr(msg, '\0', len) != NULL) {
		free(msg);
		c2s_sasl_answer_failure(s, "malformed-request", NULL);
		return;
	}
	if ((condition = binding_check(s, msg, len)) != NULL) {
		free(msg);
		log_debug("sasl: %s: %s: %s: bad channel binding", s->account,
		    s->mech->name, condition);
		c2s_sasl_answer_failure(s, condition, NULL);
		return;
	}
	r = sasl_server_step(s->conn, msg, (unsigned)len, &out, &outlen);
	free(msg);
	if (r != SASL_OK)
		cy_failure(s, r);
	else if (!s->known)	/* cannot happen: nobody knows the fake keys */
		c2s_sasl_answer_failure(s, "not-authorized", NULL);
	else if (s->disabled)
		c2s_sasl_answer_failure(s, "account-disabled", "this account is disabled");
	else
		c2s_sasl_answer_success(s, out, outlen);
}

void
c2s_sasl_scram_cleanup(struct c2s_sasl *s)
{
	if (s->conn != NULL)
		sasl_dispose(&s->conn);
	drop_authpassword(s);
	free(s->first);
	free(s->raw_user);
	free(s->gs2);
	free(s->cbname);
	s->first = s->raw_user = s->gs2 = s->cbname = NULL;
	s->sasl_cb.name = NULL;
}
