/*
 * c2s_sasl.c: tests for c2s/sasl*.c. A SQLite store in a temporary
 * directory holds accounts made with lib/scram.c; a SCRAM and PLAIN client
 * written here on lib/scram.c drives whole negotiations in-process, with
 * real TLS sessions (client and server in this process, as t/unit/tls.c
 * does) for channel binding. Covers success and every failure condition,
 * unknown accounts that look like wrong passwords, -PLUS with tls-exporter
 * and tls-server-end-point, downgrade, authzid, PLAIN, base64, abort,
 * storage down, the stream features and throttling.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base64.h"
#include "log.h"
#include "c2s/sasl.h"
#include "c2s/sasl_priv.h"	/* to see a negotiation's state */
#include "scram.h"
#include "storage.h"
#include "tap.h"
#include "tls.h"

#define DOMAIN	"example.com"
#define PASS	"c4pulet-b4lcony"
#define TLS12	"NORMAL:-VERS-ALL:+VERS-TLS1.2"

static uv_loop_t loop;
static struct sb_store *st;
static struct c2s_sasl_ctx *ctx;
static char dir[] = "/tmp/sb-c2s-sasl-XXXXXX";
static int throttle_lines;

/* --- answers --- */

struct result {
	int			 n;		/* callbacks so far */
	enum c2s_sasl_status	 status;
	char			 data[4096];
	char			 condition[64];
	char			 username[256];
};

static void
on_answer(const struct c2s_sasl_answer *a, void *arg)
{
	struct result *r = arg;

	r->n++;
	r->status = a->status;
	snprintf(r->data, sizeof(r->data), "%s", a->data ? a->data : "");
	snprintf(r->condition, sizeof(r->condition), "%s", a->condition ? a->condition : "");
	snprintf(r->username, sizeof(r->username), "%s", a->username ? a->username : "");
}

static void
wait_n(struct result *r, int n)
{
	for (int i = 0; r->n < n && i < 100000; i++)
		uv_run(&loop, UV_RUN_ONCE);
}

/* Run the loop until nothing is pending (the store unrefs itself when idle). */
static void
drain(void)
{
	while (uv_run(&loop, UV_RUN_ONCE) != 0)
		;
}

static void
b64(const void *data, size_t len, char *out)
{
	sb_base64_encode(data, len, out);
}

/* --- the SCRAM client --- */

struct client {
	enum sb_scram_hash	 hash;
	const char		*user;		/* as sent in n= (escaped by us) */
	const char		*pass;		/* prepared */
	const char		*authzid;	/* NULL: none */
	char			 cbflag;	/* 'n', 'y', 'p' */
	const char		*cbname;
	unsigned char		 cbdata[64];
	size_t			 cblen;
	char			 nonce[32];
	char			 gs2[256];
	char			 bare[512];
	char			 auth[4096];
	unsigned char		 salted[SB_SCRAM_MAX_HASH];
	unsigned		 iterations;	/* what the server said */
	char			 salt_b64[128];
};

static void
client_init(struct client *c, enum sb_scram_hash hash, const char *user, const char *pass)
{
	memset(c, 0, sizeof(*c));
	c->hash = hash;
	c->user = user;
	c->pass = pass;
	c->cbflag = 'n';
	sb_scram_nonce(c->nonce, sizeof(c->nonce));
}

/* Take the channel binding of type t from the client's TLS session. */
static void
client_bind(struct client *c, struct sb_tls *tls, const char *name, enum sb_tls_cb_type t)
{
	c->cbflag = 'p';
	c->cbname = name;
	c->cblen = sizeof(c->cbdata);
	if (sb_tls_channel_binding(tls, t, c->cbdata, &c->cblen) == -1)
		c->cblen = 0;
}

static void
client_first(struct client *c, char *out)
{
	char msg[1024];

	if (c->cbflag == 'p')
		snprintf(c->gs2, sizeof(c->gs2), "p=%s,%s%s,", c->cbname,
		    c->authzid ? "a=" : "", c->authzid ? c->authzid : "");
	else
		snprintf(c->gs2, sizeof(c->gs2), "%c,%s%s,", c->cbflag,
		    c->authzid ? "a=" : "", c->authzid ? c->authzid : "");
	snprintf(c->bare, sizeof(c->bare), "n=%s,r=%s", c->user, c->nonce);
	snprintf(msg, sizeof(msg), "%s%s", c->gs2, c->bare);
	b64(msg, strlen(msg), out);
}

/* From the server-first-message (base64) to the client-final (base64); -1 on nonsense. */
static int
client_final(struct client *c, const char *server_b64, char *out, int corrupt_proof)
{
	char sf[1024], cbind[512], cbind_b64[700], wo_proof[1024], msg[1200], proof_b64[100];
	unsigned char salt[128], proof[SB_SCRAM_MAX_HASH];
	size_t sflen, saltlen, gl = strlen(c->gs2);
	char *r, *s, *i;

	if (sb_base64_decode(server_b64, strlen(server_b64), sf, sizeof(sf) - 1, &sflen) == -1)
		return -1;
	sf[sflen] = '\0';
	r = strstr(sf, "r=");
	s = strstr(sf, ",s=");
	i = strstr(sf, ",i=");
	if (r != sf || s == NULL || i == NULL || strncmp(sf + 2, c->nonce, strlen(c->nonce)) != 0)
		return -1;
	snprintf(c->salt_b64, sizeof(c->salt_b64), "%.*s", (int)(i - s - 3), s + 3);
	c->iterations = (unsigned)atoi(i + 3);
	if (sb_base64_decode(c->salt_b64, strlen(c->salt_b64), salt, sizeof(salt), &saltlen) == -1)
		return -1;
	if (sb_scram_salted_password(c->hash, c->pass, strlen(c->pass), salt, saltlen,
	    c->iterations, c->salted) == -1)
		return -1;
	memcpy(cbind, c->gs2, gl);
	memcpy(cbind + gl, c->cbdata, c->cblen);
	b64(cbind, gl + c->cblen, cbind_b64);
	snprintf(wo_proof, sizeof(wo_proof), "c=%s,r=%.*s", cbind_b64, (int)(s - sf - 2), sf + 2);
	snprintf(c->auth, sizeof(c->auth), "%s,%s,%s", c->bare, sf, wo_proof);
	sb_scram_client_proof(c->hash, c->salted, c->auth, strlen(c->auth), proof);
	if (corrupt_proof)
		proof[0] ^= 1;
	b64(proof, sb_scram_hash_len(c->hash), proof_b64);
	snprintf(msg, sizeof(msg), "%s,p=%s", wo_proof, proof_b64);
	b64(msg, strlen(msg), out);
	return 0;
}

/* The server's v= in <success/>: 0 when it proves the server knew ServerKey. */
static int
client_check(struct client *c, const char *success_b64)
{
	char m[256];
	unsigned char sig[SB_SCRAM_MAX_HASH];
	size_t mlen, siglen;

	if (sb_base64_decode(success_b64, strlen(success_b64), m, sizeof(m) - 1, &mlen) == -1)
		return -1;
	m[mlen] = '\0';
	if (strncmp(m, "v=", 2) != 0 ||
	    sb_base64_decode(m + 2, mlen - 2, sig, sizeof(sig), &siglen) == -1)
		return -1;
	return sb_scram_check_server_signature(c->hash, c->salted, c->auth, strlen(c->auth),
	    sig, siglen);
}

/*
 * A whole SCRAM negotiation. Returns the last answer in r and the number
 * of answers in r->n (a success or a proof failure takes two).
 */
static struct c2s_sasl *
scram_run(struct client *c, const char *mech, const struct sb_tls *tls, struct result *r,
    int corrupt_proof)
{
	char first[1500], final[2000];
	struct c2s_sasl *s;

	memset(r, 0, sizeof(*r));
	client_first(c, first);
	s = c2s_sasl_start(ctx, DOMAIN, mech, first, tls, 1, on_answer, r);
	wait_n(r, 1);
	if (r->status != C2S_SASL_CHALLENGE)
		return s;
	if (client_final(c, r->data, final, corrupt_proof) == -1) {
		diag("client: bad server-first-message '%s'", r->data);
		return s;
	}
	c2s_sasl_step(s, final);
	wait_n(r, 2);
	return s;
}

static void
scram(struct client *c, const char *mech, const struct sb_tls *tls, struct result *r,
    int corrupt_proof)
{
	c2s_sasl_free(scram_run(c, mech, tls, r, corrupt_proof));
}

/* --- accounts --- */

struct answer {
	int			 done;
	enum sb_store_err	 err;
};

static void
stored(const struct sb_store_result *r, void *arg)
{
	struct answer *a = arg;

	a->done = 1;
	a->err = r->err;
}

static void
store_wait(struct answer *a)
{
	while (!a->done)
		uv_run(&loop, UV_RUN_ONCE);
}

static int
add_account(const char *user, const char *pass, int disabled)
{
	struct sb_scram_secret k1, k2;
	struct sb_db_value p[11];
	struct answer a = { 0 };

	if (sb_scram_secret_make(SB_SCRAM_SHA1, pass, strlen(pass), 0, &k1) == -1 ||
	    sb_scram_secret_make(SB_SCRAM_SHA256, pass, strlen(pass), 0, &k2) == -1)
		return -1;
	p[0] = sb_db_text(DOMAIN);
	p[1] = sb_db_text(user);
	p[2] = sb_db_int(1700000000);
	p[3] = sb_db_blob(k1.salt, k1.salt_len);
	p[4] = sb_db_int(k1.iterations);
	p[5] = sb_db_blob(k1.stored_key, 20);
	p[6] = sb_db_blob(k1.server_key, 20);
	p[7] = sb_db_blob(k2.salt, k2.salt_len);
	p[8] = sb_db_int(k2.iterations);
	p[9] = sb_db_blob(k2.stored_key, 32);
	p[10] = sb_db_blob(k2.server_key, 32);
	sb_store_query(st, SB_Q_ACCOUNT_CREATE, p, stored, &a);
	store_wait(&a);
	if (a.err != SB_STORE_OK)
		return -1;
	if (disabled) {
		struct sb_db_value d[3] = { sb_db_text(DOMAIN), sb_db_text(user), sb_db_int(1) };

		memset(&a, 0, sizeof(a));
		sb_store_query(st, SB_Q_ACCOUNT_SET_DISABLED, d, stored, &a);
		store_wait(&a);
	}
	return a.err == SB_STORE_OK ? 0 : -1;
}

static int
open_store(void)
{
	struct sb_store_conf conf = { 0 };
	struct answer a = { 0 };
	char path[256], err[256];

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/test.db", dir);
	conf.driver = SB_STORE_SQLITE;
	conf.sqlite_path = path;
	conf.pool = 2;
	conf.timeout_ms = 10000;
	if ((st = sb_store_open(&loop, &conf, err, sizeof(err))) == NULL) {
		diag("store: %s", err);
		return -1;
	}
	sb_store_migrate(st, stored, &a);
	store_wait(&a);
	return a.err == SB_STORE_OK ? 0 : -1;
}

/* --- TLS pairs --- */

static struct sb_tls_ctx *sctx, *cctx13, *cctx12;

struct pair {
	struct sb_tls *c, *s;
};

static void
move(struct sb_tls *a, struct sb_tls *b)
{
	struct sb_buf *o = sb_tls_output(a);

	if (sb_buf_len(o) > 0) {
		sb_tls_feed(b, sb_buf_data(o), sb_buf_len(o));
		sb_buf_consume(o, sb_buf_len(o));
	}
}

static int
pair_connect(struct pair *p, struct sb_tls_ctx *cctx)
{
	struct sb_buf sink = SB_BUF_INIT;
	int rc = SB_TLS_AGAIN, rs = SB_TLS_AGAIN;

	p->c = sb_tls_new(cctx, DOMAIN);
	p->s = sb_tls_new(sctx, NULL);
	for (int i = 0; i < 10 && !(rc == SB_TLS_OK && rs == SB_TLS_OK); i++) {
		rc = sb_tls_handshake(p->c);
		move(p->c, p->s);
		rs = sb_tls_handshake(p->s);
		move(p->s, p->c);
		if (rc == SB_TLS_ERROR || rs == SB_TLS_ERROR)
			return -1;
	}
	sb_tls_read(p->c, &sink);
	sb_buf_free(&sink);
	return rc == SB_TLS_OK && rs == SB_TLS_OK ? 0 : -1;
}

static void
pair_close(struct pair *p)
{
	sb_tls_free(p->c);
	sb_tls_free(p->s);
}

static int
tls_setup(void)
{
	char cert[128], key[128], err[256];

	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	if (sb_tls_make_selfsigned(DOMAIN, cert, key, err, sizeof(err)) == -1 ||
	    (sctx = sb_tls_ctx_server(NULL, err, sizeof(err))) == NULL ||
	    sb_tls_ctx_add_cert(sctx, cert, key, err, sizeof(err)) == -1 ||
	    (cctx13 = sb_tls_ctx_client(NULL, NULL, err, sizeof(err))) == NULL ||
	    (cctx12 = sb_tls_ctx_client(TLS12, NULL, err, sizeof(err))) == NULL) {
		diag("tls: %s", err);
		return -1;
	}
	return 0;
}

/* --- the tests --- */

static void
test_features(struct pair *p13, struct pair *p12)
{
	struct sb_buf b = SB_BUF_INIT;

	c2s_sasl_features(ctx, NULL, 1, &b);
	is_str(sb_buf_data(&b), "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
	    "<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
	    "</mechanisms>",
	    "features without TLS: SCRAM only, no PLAIN, no -PLUS, no binding list");
	sb_buf_clear(&b);
	c2s_sasl_features(ctx, p12->s, 1, &b);
	is_str(sb_buf_data(&b), "<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
	    "<mechanism>SCRAM-SHA-256-PLUS</mechanism><mechanism>SCRAM-SHA-1-PLUS</mechanism>"
	    "<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism>"
	    "<mechanism>PLAIN</mechanism></mechanisms>"
	    "<sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'>"
	    "<channel-binding type='tls-server-end-point'/></sasl-channel-binding>",
	    "features on TLS 1.2: -PLUS, PLAIN, tls-server-end-point only");
	sb_buf_clear(&b);
	c2s_sasl_features(ctx, p13->s, 1, &b);
	ok(strstr(sb_buf_data(&b), "<channel-binding type='tls-exporter'/>"
	    "<channel-binding type='tls-server-end-point'/>") != NULL &&
	    strstr(sb_buf_data(&b), "<mechanism>SCRAM-SHA-256-PLUS</mechanism>") != NULL,
	    "features on TLS 1.3: tls-exporter first, then tls-server-end-point");
	sb_buf_clear(&b);
	c2s_sasl_features(ctx, p13->s, 0, &b);
	ok(strstr(sb_buf_data(&b), "PLAIN") == NULL, "no PLAIN when the config says no");
	sb_buf_free(&b);
}

static void
test_scram(void)
{
	struct client c;
	struct result r;

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(r.n == 2 && r.status == C2S_SASL_SUCCESS, "SCRAM-SHA-256: success after one challenge");
	is_int(client_check(&c, r.data), 0,
	    "SCRAM-SHA-256: the client verifies the server signature");
	is_str(r.username, "juliet", "SCRAM-SHA-256: the username is the prepared localpart");

	client_init(&c, SB_SCRAM_SHA1, "juliet", PASS);
	scram(&c, "SCRAM-SHA-1", NULL, &r, 0);
	ok(r.n == 2 && r.status == C2S_SASL_SUCCESS && client_check(&c, r.data) == 0,
	    "SCRAM-SHA-1: success, server signature verified");

	client_init(&c, SB_SCRAM_SHA256, "JuLiEt", PASS);
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(r.status == C2S_SASL_SUCCESS && strcmp(r.username, "juliet") == 0,
	    "a username in capitals is prepared (UsernameCaseMapped) to the account's");

	client_init(&c, SB_SCRAM_SHA256, "juliet", "wrong");
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(r.n == 2 && r.status == C2S_SASL_FAILURE && strcmp(r.condition, "not-authorized") == 0,
	    "wrong password: not-authorized at the proof");

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	scram(&c, "SCRAM-SHA-256", NULL, &r, 1);
	is_str(r.condition, "not-authorized", "a corrupted proof: not-authorized");
}

static void
test_unknown(void)
{
	struct client c;
	struct result r;
	char salt1[128];
	unsigned iter1;

	client_init(&c, SB_SCRAM_SHA256, "nobody", PASS);
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(r.n == 2 && r.status == C2S_SASL_FAILURE && strcmp(r.condition, "not-authorized") == 0,
	    "unknown user: a challenge, then not-authorized at the proof, like a wrong password");
	is_str(r.username, "nobody", "the failure names the user tried (for the log)");
	snprintf(salt1, sizeof(salt1), "%s", c.salt_b64);
	iter1 = c.iterations;
	ok(iter1 == SB_SCRAM_DEFAULT_ITERATIONS && strlen(salt1) == 24,
	    "unknown user: default iterations and a 16-byte salt, like a real account");
	client_init(&c, SB_SCRAM_SHA256, "nobody", PASS);
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(strcmp(c.salt_b64, salt1) == 0 && c.iterations == iter1,
	    "unknown user: the same salt on a second try");
	client_init(&c, SB_SCRAM_SHA1, "nobody", PASS);
	scram(&c, "SCRAM-SHA-1", NULL, &r, 0);
	ok(strcmp(c.salt_b64, salt1) != 0, "unknown user: another salt for SHA-1");

	client_init(&c, SB_SCRAM_SHA256, "romeo", PASS);
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	is_str(r.condition, "account-disabled",
	    "disabled account, right password: account-disabled");
	client_init(&c, SB_SCRAM_SHA256, "romeo", "wrong");
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	is_str(r.condition, "not-authorized",
	    "disabled account, wrong password: not-authorized (nothing revealed)");
}

static void
test_plus(struct pair *p13, struct pair *p12)
{
	struct client c;
	struct result r;
	struct pair other;

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	client_bind(&c, p13->c, "tls-exporter", SB_TLS_CB_EXPORTER);
	scram(&c, "SCRAM-SHA-256-PLUS", p13->s, &r, 0);
	ok(r.status == C2S_SASL_SUCCESS && client_check(&c, r.data) == 0,
	    "SCRAM-SHA-256-PLUS with tls-exporter on TLS 1.3");

	client_init(&c, SB_SCRAM_SHA1, "juliet", PASS);
	client_bind(&c, p13->c, "tls-server-end-point", SB_TLS_CB_SERVER_END_POINT);
	scram(&c, "SCRAM-SHA-1-PLUS", p13->s, &r, 0);
	ok(r.status == C2S_SASL_SUCCESS, "SCRAM-SHA-1-PLUS with tls-server-end-point on TLS 1.3");

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	client_bind(&c, p12->c, "tls-server-end-point", SB_TLS_CB_SERVER_END_POINT);
	scram(&c, "SCRAM-SHA-256-PLUS", p12->s, &r, 0);
	ok(r.status == C2S_SASL_SUCCESS, "SCRAM-SHA-256-PLUS with tls-server-end-point on TLS 1.2");

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	client_bind(&c, p12->c, "tls-unique", SB_TLS_CB_UNIQUE);
	scram(&c, "SCRAM-SHA-256-PLUS", p12->s, &r, 0);
	ok(r.n == 1 && strcmp(r.condition, "not-authorized") == 0,
	    "a binding type we do not offer (tls-unique): not-authorized at once");

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	client_bind(&c, p13->c, "tls-exporter", SB_TLS_CB_EXPORTER);
	c.cbdata[0] ^= 0xff;
	scram(&c, "SCRAM-SHA-256-PLUS", p13->s, &r, 0);
	ok(r.n == 2 && strcmp(r.condition, "not-authorized") == 0,
	    "wrong channel-binding data: not-authorized");

	if (pair_connect(&other, cctx13) == 0) {
		client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
		client_bind(&c, other.c, "tls-exporter", SB_TLS_CB_EXPORTER);
		scram(&c, "SCRAM-SHA-256-PLUS", p13->s, &r, 0);
		pair_close(&other);
	}
	is_str(r.condition, "not-authorized",
	    "tls-exporter data of another TLS session (a relayed login): not-authorized");

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	c.cbflag = 'y';
	scram(&c, "SCRAM-SHA-256", p13->s, &r, 0);
	is_str(r.condition, "not-authorized",
	    "'y' while we offer channel binding: not-authorized (downgrade)");
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	c.cbflag = 'y';
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(r.status == C2S_SASL_SUCCESS, "'y' without TLS (nothing to bind to): success");

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	scram(&c, "SCRAM-SHA-256-PLUS", p13->s, &r, 0);
	is_str(r.condition, "malformed-request", "-PLUS with gs2 flag 'n': malformed-request");
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	client_bind(&c, p13->c, "tls-exporter", SB_TLS_CB_EXPORTER);
	scram(&c, "SCRAM-SHA-256", p13->s, &r, 0);
	is_str(r.condition, "malformed-request",
	    "'p=' on a mechanism without -PLUS: malformed-request");
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	scram(&c, "SCRAM-SHA-256-PLUS", NULL, &r, 0);
	is_str(r.condition, "invalid-mechanism", "-PLUS without TLS: invalid-mechanism");
}

static void
test_authzid(void)
{
	struct client c;
	struct result r;

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	c.authzid = "Juliet@Example.COM";
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(r.status == C2S_SASL_SUCCESS, "authzid = the user's own bare JID: success");
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	c.authzid = "romeo@example.com";
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(r.n == 1 && strcmp(r.condition, "invalid-authzid") == 0,
	    "authzid of another user: invalid-authzid, before any lookup");
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	c.authzid = "juliet@example.com/balcony";
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	is_str(r.condition, "invalid-authzid", "authzid with a resource: invalid-authzid");
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	c.authzid = "juliet=40example.com";
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	is_str(r.condition, "malformed-request",
	    "a bad =XX escape in the authzid: malformed-request");
}

static struct c2s_sasl *
start(const char *mech, const char *data, const struct sb_tls *tls, struct result *r)
{
	memset(r, 0, sizeof(*r));
	return c2s_sasl_start(ctx, DOMAIN, mech, data, tls, 1, on_answer, r);
}

/* One-shot negotiation for malformed input: the first answer. */
static void
start1(const char *mech, const char *raw, const struct sb_tls *tls, struct result *r)
{
	char enc[2048];

	b64(raw, strlen(raw), enc);
	c2s_sasl_free(start(mech, enc, tls, r));
	wait_n(r, 1);
}

static void
test_malformed(struct pair *p13)
{
	struct result r;
	struct client c;
	struct c2s_sasl *s;
	char first[1500];

	c2s_sasl_free(start("SCRAM-SHA-256", "not base64!", NULL, &r));
	ok(r.n == 1 && strcmp(r.condition, "incorrect-encoding") == 0,
	    "bad base64: incorrect-encoding");
	c2s_sasl_free(start("DIGEST-MD5", "", NULL, &r));
	is_str(r.condition, "invalid-mechanism", "unknown mechanism: invalid-mechanism");
	c2s_sasl_free(start("SCRAM-SHA-512", "", NULL, &r));
	is_str(r.condition, "invalid-mechanism", "a SCRAM we do not offer: invalid-mechanism");
	c2s_sasl_free(start("SCRAM-SHA-256", "=", NULL, &r));
	is_str(r.condition, "malformed-request", "empty initial response '=': malformed-request");
	start1("SCRAM-SHA-256", "garbage", NULL, &r);
	is_str(r.condition, "malformed-request", "garbage client-first: malformed-request");
	{
		/* RFC 5802 allows no NUL; C strings downstream would cut the name short. */
		static const char nul[] = "n,,n=jul\0iet,r=abcdef";
		char enc[64];

		b64(nul, sizeof(nul) - 1, enc);
		c2s_sasl_free(start("SCRAM-SHA-256", enc, NULL, &r));
		wait_n(&r, 1);
		is_str(r.condition, "malformed-request", "a NUL in the username: malformed-request");
	}
	start1("SCRAM-SHA-256", "n,,m=ext,n=juliet,r=abcdef", NULL, &r);
	is_str(r.condition, "malformed-request", "a mandatory extension m=: malformed-request");
	start1("SCRAM-SHA-256", "n,,n=jul=2Xiet,r=abcdef", NULL, &r);
	is_str(r.condition, "malformed-request",
	    "a bad =XX escape in the username: malformed-request");
	start1("SCRAM-SHA-256", "n,,n=jul iet,r=abcdef", NULL, &r);
	is_str(r.condition, "not-authorized",
	    "a username that cannot be a localpart: not-authorized");

	/* No initial response: an empty challenge, then the first message. */
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	s = start("SCRAM-SHA-256", NULL, NULL, &r);
	ok(r.n == 1 && r.status == C2S_SASL_CHALLENGE && r.data[0] == '\0',
	    "empty <auth/>: an empty challenge");
	client_first(&c, first);
	c2s_sasl_step(s, first);
	wait_n(&r, 2);
	ok(r.status == C2S_SASL_CHALLENGE && r.data[0] != '\0', "then the server-first-message");
	c2s_sasl_step(s, "bm9uc2Vuc2U=");
	wait_n(&r, 3);
	is_str(r.condition, "malformed-request", "a client-final without c=: malformed-request");
	c2s_sasl_free(s);

	/* A nonce that is not the one the server made. */
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	client_first(&c, first);
	s = start("SCRAM-SHA-256", first, NULL, &r);
	wait_n(&r, 1);
	{
		char final[2000], dec[2000];
		size_t n;

		client_final(&c, r.data, final, 0);
		sb_base64_decode(final, strlen(final), dec, sizeof(dec) - 1, &n);
		dec[n] = '\0';
		*strstr(dec, ",p=") = '\0';
		strcat(dec, "X,p=AAAA");
		b64(dec, strlen(dec), final);
		c2s_sasl_step(s, final);
		wait_n(&r, 2);
		is_str(r.condition, "malformed-request",
		    "a wrong nonce: malformed-request (cyrus)");
	}
	c2s_sasl_free(s);
	(void)p13;
}

static void
plain(const char *msg, size_t len, const struct sb_tls *tls, struct result *r)
{
	char enc[1024];
	struct c2s_sasl *s;

	b64(msg, len, enc);
	s = start("PLAIN", enc, tls, r);
	wait_n(r, 1);
	c2s_sasl_free(s);
}

static void
test_plain(struct pair *p13)
{
	struct result r;
	struct c2s_sasl *s;
	char enc[256];

	plain("\0juliet\0" PASS, 8 + strlen(PASS), p13->s, &r);
	ok(r.status == C2S_SASL_SUCCESS && strcmp(r.username, "juliet") == 0 && r.data[0] == '\0',
	    "PLAIN over TLS: success, no additional data");
	plain("juliet@example.com\0Juliet\0" PASS, 26 + strlen(PASS), p13->s, &r);
	is_int(r.status, C2S_SASL_SUCCESS, "PLAIN with the user's own authzid");
	plain("\0juliet\0wrong", 13, p13->s, &r);
	is_str(r.condition, "not-authorized", "PLAIN, wrong password: not-authorized");
	plain("\0nobody\0" PASS, 8 + strlen(PASS), p13->s, &r);
	is_str(r.condition, "not-authorized", "PLAIN, unknown user: not-authorized");
	plain("\0romeo\0" PASS, 7 + strlen(PASS), p13->s, &r);
	is_str(r.condition, "account-disabled", "PLAIN, disabled account: account-disabled");
	plain("romeo@example.com\0juliet\0" PASS, 25 + strlen(PASS), p13->s, &r);
	is_str(r.condition, "invalid-authzid", "PLAIN, another user's authzid: invalid-authzid");
	plain("juliet\0" PASS, 7 + strlen(PASS), p13->s, &r);
	is_str(r.condition, "malformed-request", "PLAIN with one NUL: malformed-request");
	plain("\0juliet\0" PASS, 8 + strlen(PASS), NULL, &r);
	is_str(r.condition, "encryption-required", "PLAIN without TLS: encryption-required");
	memset(&r, 0, sizeof(r));
	b64("\0juliet\0" PASS, 8 + strlen(PASS), enc);
	c2s_sasl_free(c2s_sasl_start(ctx, DOMAIN, "PLAIN", enc, p13->s, 0, on_answer, &r));
	is_str(r.condition, "invalid-mechanism", "PLAIN when not allowed: invalid-mechanism");

	s = start("PLAIN", NULL, p13->s, &r);
	ok(r.status == C2S_SASL_CHALLENGE && r.data[0] == '\0',
	    "PLAIN, empty <auth/>: empty challenge");
	c2s_sasl_step(s, enc);
	wait_n(&r, 2);
	is_int(r.status, C2S_SASL_SUCCESS, "then the response: success");
	c2s_sasl_free(s);
}

static void
test_abort(struct pair *p13)
{
	struct result r;
	struct c2s_sasl *s;
	struct client c;
	char first[1500], enc[256];

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	client_first(&c, first);
	s = start("SCRAM-SHA-256", first, NULL, &r);
	wait_n(&r, 1);
	c2s_sasl_abort(s);
	ok(r.n == 2 && strcmp(r.condition, "aborted") == 0, "abort after the challenge: aborted");
	c2s_sasl_free(s);

	s = start("SCRAM-SHA-256", first, NULL, &r);
	c2s_sasl_abort(s);	/* the lookup is still on its way */
	drain();
	ok(r.n == 1 && strcmp(r.condition, "aborted") == 0,
	    "abort during the lookup: aborted, and nothing when the lookup completes");
	c2s_sasl_free(s);

	b64("\0juliet\0" PASS, 8 + strlen(PASS), enc);
	s = start("PLAIN", enc, p13->s, &r);
	c2s_sasl_free(s);	/* freed with the lookup pending */
	drain();
	is_int(r.n, 0, "free while the lookup is pending: no callback afterwards");
	s = start("PLAIN", enc, p13->s, &r);
	while (s->state == ST_LOOKUP)
		uv_run(&loop, UV_RUN_ONCE);
	ok(s->state == ST_HASHING, "PLAIN: the lookup done, PBKDF2 runs on the pool");
	c2s_sasl_free(s);
	drain();
	is_int(r.n, 0, "free while hashing: no callback afterwards");
}

static void
count_throttle(enum sb_log_level level, const char *line, void *arg)
{
	if (strstr(line, "throttled after") != NULL)
		throttle_lines++;
}

static void
test_throttle(void)
{
	struct client c;
	struct result r;
	struct c2s_sasl_answer fail = { C2S_SASL_FAILURE, "", "not-authorized", NULL, NULL, 0 };
	struct c2s_sasl_answer temp = {
		C2S_SASL_FAILURE, "", "temporary-auth-failure", NULL, NULL, 0,
	};
	struct c2s_sasl_answer win = { C2S_SASL_SUCCESS, "", NULL, NULL, "x", 0 };
	struct c2s_sasl_answer nocb = { C2S_SASL_FAILURE, "", "not-authorized", "", NULL, 1 };
	uint64_t w;

	ok(c2s_sasl_failure_counts(&fail) && !c2s_sasl_failure_counts(&temp) &&
	    !c2s_sasl_failure_counts(&win), "which answers count as failures");
	ok(!c2s_sasl_failure_counts(&nocb),
	    "a failure that tested no credentials (no shared channel binding) does not count");

	sb_log_set_sink(count_throttle, NULL);
	sb_log_set_level(SB_LOG_NOTICE);
	for (int i = 0; i < C2S_SASL_THROTTLE_AFTER; i++) {
		client_init(&c, SB_SCRAM_SHA256, "mallory", "guess");
		scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	}
	is_str(r.condition, "not-authorized", "five wrong passwords for an account");
	client_init(&c, SB_SCRAM_SHA256, "mallory", "m4llory");
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	ok(r.n == 1 && strcmp(r.condition, "temporary-auth-failure") == 0,
	    "then even the right password is refused: temporary-auth-failure, at once");
	w = c2s_sasl_throttle_check(ctx, NULL, "mallory@" DOMAIN);
	ok(w > 0 && w <= 1000, "the account waits up to 1 s (%llu ms)", (unsigned long long)w);
	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	scram(&c, "SCRAM-SHA-256", NULL, &r, 0);
	is_int(r.status, C2S_SASL_SUCCESS, "other accounts are not throttled");

	is_int(c2s_sasl_throttle_check(ctx, "192.0.2.7", NULL), 0, "a fresh address does not wait");
	for (int i = 0; i < C2S_SASL_THROTTLE_AFTER - 1; i++)
		c2s_sasl_throttle_answer(ctx, "192.0.2.7", &fail);
	c2s_sasl_throttle_answer(ctx, "192.0.2.7", &temp);
	is_int(c2s_sasl_throttle_check(ctx, "192.0.2.7", NULL), 0,
	    "four failures (and a temporary one): no wait yet");
	c2s_sasl_throttle_answer(ctx, "192.0.2.7", &fail);
	w = c2s_sasl_throttle_check(ctx, "192.0.2.7", NULL);
	ok(w > 0 && w <= 1000, "the fifth: the address waits up to 1 s (%llu ms)",
	    (unsigned long long)w);
	c2s_sasl_throttle_answer(ctx, "192.0.2.7", &fail);
	w = c2s_sasl_throttle_check(ctx, "192.0.2.7", NULL);
	ok(w > 1000 && w <= 2000, "the sixth: up to 2 s (%llu ms)", (unsigned long long)w);
	c2s_sasl_throttle_answer(ctx, "192.0.2.7", &win);
	ok(c2s_sasl_throttle_check(ctx, "192.0.2.7", NULL) > 0,
	    "a success does not wash the address clean");
	is_int(c2s_sasl_throttle_check(ctx, "192.0.2.8", NULL), 0, "other addresses do not wait");
	c2s_sasl_throttle_succeeded(ctx, NULL, "mallory@" DOMAIN);
	is_int(c2s_sasl_throttle_check(ctx, NULL, "mallory@" DOMAIN), 0,
	    "a success clears the account");
	for (int i = 0; i < 5000; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.51.%d.%d", i / 250, i % 250);
		c2s_sasl_throttle_failed(ctx, a, NULL);
	}
	ok(1, "thousands of addresses fit in the bounded table");
	c2s_sasl_throttle_config(ctx, 0, 1000, 300000, 60000);
	for (int i = 0; i < 10; i++)
		c2s_sasl_throttle_failed(ctx, "192.0.2.9", "eve@" DOMAIN);
	is_int(c2s_sasl_throttle_check(ctx, "192.0.2.9", "eve@" DOMAIN), 0,
	    "throttling configured off: no wait after ten failures");
	c2s_sasl_throttle_config(ctx, 2, 100, 250, 250);
	w = c2s_sasl_throttle_check(ctx, "192.0.2.9", NULL);
	ok(w > 0 && w <= 250, "configured: after 2 failures, waits doubling from 100 ms "
	    "up to 250 ms (%llu ms)", (unsigned long long)w);
	c2s_sasl_throttle_config(ctx, C2S_SASL_THROTTLE_AFTER, 1000, 300000, 60000);
	is_int(throttle_lines, 2,
	    "one log line when the account and when the address became throttled");
	sb_log_set_sink(NULL, NULL);
	sb_log_set_level(SB_LOG_ERROR);
}

static void
closed(void *arg)
{
	*(int *)arg = 1;
}

static void
test_storage_down(struct pair *p13)
{
	struct client c;
	struct result r;
	struct c2s_sasl *s;
	char first[1500], enc[256];
	int done = 0;

	client_init(&c, SB_SCRAM_SHA256, "juliet", PASS);
	client_first(&c, first);
	s = start("SCRAM-SHA-256", NULL, NULL, &r);	/* outlives the store's close */
	sb_store_close(st, closed, &done);
	c2s_sasl_step(s, first);
	ok(r.n == 2 && strcmp(r.condition, "temporary-auth-failure") == 0,
	    "SCRAM with the store closing: temporary-auth-failure");
	b64("\0juliet\0" PASS, 8 + strlen(PASS), enc);
	c2s_sasl_free(s);
	c2s_sasl_free(start("PLAIN", enc, p13->s, &r));
	is_str(r.condition, "temporary-auth-failure",
	    "PLAIN with the store closing: temporary-auth-failure");
	while (!done)
		uv_run(&loop, UV_RUN_ONCE);
}

int
main(void)
{
	struct pair p13, p12;
	char err[256];
	struct c2s_sasl *alive;
	struct result r;

	sb_log_open("c2s_sasl.t", 0, getenv("SB_TEST_DEBUG") ? SB_LOG_DEBUG : SB_LOG_ERROR);
	uv_loop_init(&loop);
	if (!ok(open_store() == 0, "a migrated SQLite store in %s", dir) ||
	    !ok(add_account("juliet", PASS, 0) == 0 && add_account("romeo", PASS, 1) == 0 &&
	    add_account("mallory", "m4llory", 0) == 0, "accounts with SCRAM secrets") ||
	    !ok(tls_setup() == 0 && pair_connect(&p13, cctx13) == 0 &&
	    pair_connect(&p12, cctx12) == 0, "TLS 1.3 and TLS 1.2 sessions"))
		return done_testing();
	ctx = c2s_sasl_init(&loop, st, err, sizeof(err));
	if (!ok(ctx != NULL, "c2s_sasl_init (%s)", ctx ? "" : err))
		return done_testing();
	ok(sb_tls_is_tls13(p13.s) && !sb_tls_is_tls13(p12.s),
	    "the sessions have the versions wanted");

	test_features(&p13, &p12);
	test_scram();
	test_unknown();
	test_plus(&p13, &p12);
	test_authzid();
	test_malformed(&p13);
	test_plain(&p13);
	test_abort(&p13);
	test_throttle();
	test_storage_down(&p13);

	alive = start("SCRAM-SHA-256", NULL, NULL, &r);
	c2s_sasl_ctx_free(ctx);	/* with a negotiation alive: goes with it */
	c2s_sasl_free(alive);
	pair_close(&p13);
	pair_close(&p12);
	sb_tls_ctx_unref(sctx);
	sb_tls_ctx_unref(cctx13);
	sb_tls_ctx_unref(cctx12);
	ok(uv_loop_close(&loop) == 0, "the loop closes with nothing left");
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			diag("could not remove %s", dir);
	}
	return done_testing();
}
