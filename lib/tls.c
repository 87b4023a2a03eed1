/*
 * tls.c: TLS sessions on gnutls over memory buffers (see tls.h).
 *
 * gnutls reads ciphertext from tls->in through pull() and writes it to
 * tls->out through push(); nothing here knows about sockets or the loop.
 *
 * Certificates are loaded by us, not by gnutls_certificate_set_x509_key_file,
 * and handed to gnutls by a retrieve callback. Two reasons: gnutls 3.7 picks
 * a server certificate by comparing the SNI with strcmp (no case folding, no
 * wildcards), and a client would only send its certificate when the server's
 * CA list names its issuer. The callback passes our own pcerts without
 * copying, so choosing a certificate costs no allocation per handshake.
 *
 * Hot path notes: the priority cache, the credentials and the session ticket
 * key live in the context and are shared by every session; a session is one
 * calloc plus gnutls's own state.
 *
 * The peer's certificate identity (RFC 6125 as XMPP profiles it), behind
 * sb_tls_peer_verify() and sb_tls_peer_verify_xmpp(), is checked in
 * tls_ident.c; struct sb_tls and the error helpers both files use are in
 * tls_priv.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "tls.h"
#include "tls_priv.h"
#include "xmalloc.h"

#define MAX_CHAIN	16	/* certificates in one chain file */
#define CB_MAX		64	/* largest channel binding (SHA-512) */
#define EXPORTER_LABEL	"EXPORTER-Channel-Binding"	/* RFC 9266 */
#define EXPORTER_LEN	32
#define IN_KEEP_MAX	0	/* input buffer kept when empty: none, idle costs nothing */

struct sb_tls_cert {
	gnutls_pcert_st		 pcerts[MAX_CHAIN];
	unsigned		 npcerts;
	gnutls_privkey_t	 key;
	gnutls_pk_algorithm_t	 pk;
	char			**names;	/* dNSNames (or the CN), lower case */
	unsigned		 nnames;
	unsigned char		 end_point[CB_MAX];	/* tls-server-end-point */
	size_t			 end_point_len;		/* 0: undefined for this cert */
};

struct sb_tls_ctx {
	int			 refs;
	int			 server;
	int			 verify;	/* client: fail the handshake on a bad cert */
	int			 request_cert;	/* server: ask for a client certificate */
	gnutls_certificate_credentials_t cred;
	struct sb_tls_ctx	*cred_from;	/* whose cred this is, when not ours */
	gnutls_priority_t	 prio;
	gnutls_datum_t		 ticket_key;	/* server: session ticket key */
	struct sb_tls_cert	**certs;	/* each its own allocation: gnutls keeps pointers */
	unsigned		 ncerts;
	char			 alpn[MAX_NAME];	/* "" when not set */
};

/* --- small helpers --- */

/*
 * RFC 6125 6.4: case-insensitive, a wildcard only as the whole leftmost
 * label and matching exactly one label. A trailing dot on the SNI is ignored.
 */
static int
name_matches(const char *pattern, const char *name)
{
	size_t plen, nlen = strlen(name);
	const char *dot;

	if (nlen > 0 && name[nlen - 1] == '.')
		nlen--;
	if (pattern[0] == '*' && pattern[1] == '.') {
		dot = memchr(name, '.', nlen);
		if (dot == NULL || dot == name)
			return 0;
		pattern++;
		nlen -= (size_t)(dot - name);
		name = dot;
	}
	plen = strlen(pattern);
	return plen == nlen && strncasecmp(pattern, name, nlen) == 0;
}

/* --- certificates --- */

static void
cert_free(struct sb_tls_cert *c)
{
	for (unsigned i = 0; i < c->npcerts; i++)
		gnutls_pcert_deinit(&c->pcerts[i]);
	if (c->key != NULL)
		gnutls_privkey_deinit(c->key);
	for (unsigned i = 0; i < c->nnames; i++)
		free(c->names[i]);
	free(c->names);
	free(c);
}

static void
cert_add_name(struct sb_tls_cert *c, const char *name, size_t len)
{
	c->names = xrealloc(c->names, (c->nnames + 1) * sizeof *c->names);
	c->names[c->nnames] = xstrndup(name, len);
	lower(c->names[c->nnames++]);
}

/* The names a client may ask for: the dNSName SANs, else the CN (RFC 6125). */
static int
cert_load_names(struct sb_tls_cert *c, gnutls_x509_crt_t crt)
{
	char buf[MAX_NAME];
	size_t len;
	unsigned type;
	int ret;

	for (unsigned i = 0;; i++) {
		len = sizeof buf;
		ret = gnutls_x509_crt_get_subject_alt_name2(crt, i, buf, &len, &type, NULL);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER)
			continue;
		if (ret < 0)
			return ret;
		if (type == GNUTLS_SAN_DNSNAME)
			cert_add_name(c, buf, len);
	}
	if (c->nnames > 0)
		return 0;
	len = sizeof buf;
	ret = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, buf, &len);
	if (ret == 0)
		cert_add_name(c, buf, len);
	return 0;
}

/*
 * RFC 5929 4.1: hash the DER certificate with the hash of its signature
 * algorithm, SHA-256 when that is MD5 or SHA-1. Undefined (-1) for
 * signatures without exactly one hash.
 */
static int
end_point_hash(const gnutls_datum_t *der, unsigned char *out, size_t *len)
{
	gnutls_x509_crt_t crt;
	gnutls_digest_algorithm_t dig;
	int sign, ret;

	if (gnutls_x509_crt_init(&crt) < 0)
		return -1;
	ret = gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER);
	sign = ret < 0 ? ret : gnutls_x509_crt_get_signature_algorithm(crt);
	gnutls_x509_crt_deinit(crt);
	if (sign <= 0)
		return -1;
	dig = gnutls_sign_get_hash_algorithm((gnutls_sign_algorithm_t)sign);
	if (dig == GNUTLS_DIG_MD5 || dig == GNUTLS_DIG_SHA1)
		dig = GNUTLS_DIG_SHA256;
	if (dig == GNUTLS_DIG_UNKNOWN || dig == GNUTLS_DIG_NULL ||
	    dig == GNUTLS_DIG_MD5_SHA1 || (size_t)gnutls_hash_get_len(dig) > *len)
		return -1;
	if (gnutls_hash_fast(dig, der->data, der->size, out) < 0)
		return -1;
	*len = (size_t)gnutls_hash_get_len(dig);
	return 0;
}

/* The key must be the certificate's: compare the public key ids. */
static int
cert_key_matches(struct sb_tls_cert *c)
{
	unsigned char id1[64], id2[64];
	size_t len1 = sizeof id1, len2 = sizeof id2;
	gnutls_pubkey_t pub;
	int ret;

	if (gnutls_pubkey_init(&pub) < 0)
		return 0;
	ret = gnutls_pubkey_import_privkey(pub, c->key, 0, 0);
	if (ret == 0)
		ret = gnutls_pubkey_get_key_id(pub, GNUTLS_KEYID_USE_SHA256, id1, &len1);
	gnutls_pubkey_deinit(pub);
	if (ret < 0 || gnutls_pubkey_get_key_id(c->pcerts[0].pubkey,
	    GNUTLS_KEYID_USE_SHA256, id2, &len2) < 0)
		return 0;
	return len1 == len2 && memcmp(id1, id2, len1) == 0;
}

static int
cert_load_chain(struct sb_tls_cert *c, const char *certfile, char *err, size_t errlen)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t data;
	int ret;

	if ((ret = gnutls_load_file(certfile, &data)) < 0)
		return gtls_err(err, errlen, certfile, ret);
	c->npcerts = MAX_CHAIN;
	ret = gnutls_pcert_list_import_x509_raw(c->pcerts, &c->npcerts, &data,
	    GNUTLS_X509_FMT_PEM, 0);
	gnutls_free(data.data);
	if (ret < 0) {
		c->npcerts = 0;
		return gtls_err(err, errlen, certfile, ret);
	}
	c->pk = (gnutls_pk_algorithm_t)gnutls_pubkey_get_pk_algorithm(c->pcerts[0].pubkey, NULL);
	if ((ret = gnutls_x509_crt_init(&crt)) < 0)
		return gtls_err(err, errlen, certfile, ret);
	ret = gnutls_x509_crt_import(crt, &c->pcerts[0].cert, GNUTLS_X509_FMT_DER);
	if (ret == 0)
		ret = cert_load_names(c, crt);
	gnutls_x509_crt_deinit(crt);
	if (ret < 0)
		return gtls_err(err, errlen, certfile, ret);
	c->end_point_len = sizeof c->end_point;
	if (end_point_hash(&c->pcerts[0].cert, c->end_point, &c->end_point_len) < 0)
		c->end_point_len = 0;
	return 0;
}

static int
cert_load_key(struct sb_tls_cert *c, const char *keyfile, char *err, size_t errlen)
{
	gnutls_datum_t data;
	int ret;

	if ((ret = gnutls_load_file(keyfile, &data)) < 0)
		return gtls_err(err, errlen, keyfile, ret);
	ret = gnutls_privkey_init(&c->key);
	if (ret == 0)
		ret = gnutls_privkey_import_x509_raw(c->key, &data, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_memset(data.data, 0, data.size);
	gnutls_free(data.data);
	if (ret < 0)
		return gtls_err(err, errlen, keyfile, ret);
	return 0;
}

/* --- certificate selection --- */

/* Whether the peer's signature_algorithms allow a key of this type. */
static int
peer_accepts_pk(gnutls_session_t s, gnutls_pk_algorithm_t pk)
{
	gnutls_sign_algorithm_t sign;
	size_t i;

	for (i = 0; gnutls_sign_algorithm_get_requested(s, i, &sign) == 0; i++)
		if (gnutls_sign_supports_pk_algorithm(sign, pk))
			return 1;
	return i == 0;	/* no list sent: anything goes */
}

/*
 * The first certificate whose names match the SNI and whose key type the
 * client accepts; else the first the client accepts; else the first.
 */
static int
cert_select(const struct sb_tls_ctx *ctx, gnutls_session_t s, const char *sni)
{
	int fallback = -1;

	if (ctx->ncerts <= 1)
		return ctx->ncerts == 1 ? 0 : -1;
	for (unsigned i = 0; i < ctx->ncerts; i++) {
		const struct sb_tls_cert *c = ctx->certs[i];

		if (!peer_accepts_pk(s, c->pk))
			continue;
		if (fallback < 0)
			fallback = (int)i;
		for (unsigned j = 0; sni[0] != '\0' && j < c->nnames; j++)
			if (name_matches(c->names[j], sni))
				return (int)i;
	}
	return fallback >= 0 ? fallback : 0;
}

static void
read_sni(struct sb_tls *tls)
{
	char name[MAX_NAME];
	size_t len = sizeof name - 1;
	unsigned type;

	free(tls->name);
	tls->name = NULL;
	if (gnutls_server_name_get(tls->s, name, &len, &type, 0) == 0 &&
	    type == GNUTLS_NAME_DNS && len > 0)
		tls->name = xstrndup(name, len);
}

static int
retrieve_cert(gnutls_session_t s, const struct gnutls_cert_retr_st *info,
    gnutls_pcert_st **certs, unsigned int *ncerts, gnutls_ocsp_data_st **ocsp,
    unsigned int *nocsp, gnutls_privkey_t *key, unsigned int *flags)
{
	struct sb_tls *tls = gnutls_session_get_ptr(s);
	struct sb_tls_ctx *ctx = tls->ctx;
	int idx = 0;

	*ncerts = 0;
	*nocsp = 0;
	*flags = 0;	/* ours to keep: gnutls must not free them */
	if (ctx->ncerts == 0)
		return 0;
	if (ctx->server) {
		read_sni(tls);
		idx = cert_select(ctx, s, tls->name != NULL ? tls->name : "");
		tls->cert_idx = idx;
	}
	*certs = ctx->certs[idx]->pcerts;
	*ncerts = ctx->certs[idx]->npcerts;
	*key = ctx->certs[idx]->key;
	return 0;
}

/* --- contexts --- */

/* from non-NULL: use its credentials (its trust) rather than new ones. */
static struct sb_tls_ctx *
ctx_new(int server, const char *priority, struct sb_tls_ctx *from, char *err, size_t errlen)
{
	struct sb_tls_ctx *ctx = xcalloc(1, sizeof *ctx);
	const char *errpos = NULL;
	int ret;

	ctx->refs = 1;
	ctx->server = server;
	if (from != NULL) {
		/* The retrieve callback finds the certificates through the session's context. */
		sb_tls_ctx_ref(from);
		ctx->cred_from = from;
		ctx->cred = from->cred;
	} else if ((ret = gnutls_certificate_allocate_credentials(&ctx->cred)) < 0) {
		gtls_err(err, errlen, "credentials", ret);
		goto fail;
	} else {
		gnutls_certificate_set_retrieve_function3(ctx->cred, retrieve_cert);
	}
	if (priority == NULL)
		priority = server ? SB_TLS_SERVER_PRIORITY : SB_TLS_DEFAULT_PRIORITY;
	ret = gnutls_priority_init2(&ctx->prio, priority, &errpos, 0);
	if (ret < 0) {
		seterr(err, errlen, "priority '%s' at '%s': %s", priority,
		    errpos ? errpos : "", gnutls_strerror(ret));
		goto fail;
	}
	return ctx;
fail:
	sb_tls_ctx_unref(ctx);
	return NULL;
}

/* What a server context needs beyond ctx_new(); NULL (ctx released) on failure. */
static struct sb_tls_ctx *
server_init(struct sb_tls_ctx *ctx, char *err, size_t errlen)
{
	int ret;

	if (ctx == NULL)
		return NULL;
	/* One key per context: a reload makes a new context and a new key. */
	if ((ret = gnutls_session_ticket_key_generate(&ctx->ticket_key)) < 0) {
		gtls_err(err, errlen, "session ticket key", ret);
		sb_tls_ctx_unref(ctx);
		return NULL;
	}
	/* For DHE-RSA with TLS 1.2 clients that lack RFC 7919 groups (harmless when shared). */
	gnutls_certificate_set_known_dh_params(ctx->cred, GNUTLS_SEC_PARAM_HIGH);
	return ctx;
}

struct sb_tls_ctx *
sb_tls_ctx_server(const char *priority, char *err, size_t errlen)
{
	return server_init(ctx_new(1, priority, NULL, err, errlen), err, errlen);
}

struct sb_tls_ctx *
sb_tls_ctx_sharing_trust(struct sb_tls_ctx *from, int server, const char *priority,
    char *err, size_t errlen)
{
	struct sb_tls_ctx *ctx = ctx_new(server, priority, from, err, errlen);

	return server ? server_init(ctx, err, errlen) : ctx;
}

struct sb_tls_ctx *
sb_tls_ctx_client(const char *priority, const char *cafile, char *err, size_t errlen)
{
	struct sb_tls_ctx *ctx = ctx_new(0, priority, NULL, err, errlen);

	if (ctx == NULL)
		return NULL;
	if (sb_tls_ctx_set_trust(ctx, cafile, err, errlen) < 0) {
		sb_tls_ctx_unref(ctx);
		return NULL;
	}
	return ctx;
}

int
sb_tls_ctx_set_trust(struct sb_tls_ctx *ctx, const char *cafile, char *err, size_t errlen)
{
	int ret;

	if (ctx->cred_from != NULL) {
		seterr(err, errlen, "trust: this context shares another's");
		return -1;
	}
	if (cafile != NULL)
		ret = gnutls_certificate_set_x509_trust_file(ctx->cred, cafile,
		    GNUTLS_X509_FMT_PEM);
	else
		ret = gnutls_certificate_set_x509_system_trust(ctx->cred);
	if (ret < 0)
		return gtls_err(err, errlen, cafile ? cafile : "system trust", ret);
	if (ret == 0 && cafile != NULL) {
		seterr(err, errlen, "%s: no certificates found", cafile);
		return -1;
	}
	return 0;
}

int
sb_tls_ctx_add_cert(struct sb_tls_ctx *ctx, const char *certfile,
    const char *keyfile, char *err, size_t errlen)
{
	struct sb_tls_cert *c = xcalloc(1, sizeof *c);

	if (cert_load_chain(c, certfile, err, errlen) < 0 ||
	    cert_load_key(c, keyfile, err, errlen) < 0)
		goto fail;
	if (!cert_key_matches(c)) {
		seterr(err, errlen, "%s: key does not belong to certificate %s",
		    keyfile, certfile);
		goto fail;
	}
	ctx->certs = xrealloc(ctx->certs, (ctx->ncerts + 1) * sizeof *ctx->certs);
	ctx->certs[ctx->ncerts++] = c;
	return 0;
fail:
	cert_free(c);
	return -1;
}

int
sb_tls_ctx_set_alpn(struct sb_tls_ctx *ctx, const char *protocol)
{
	size_t len = protocol ? strlen(protocol) : 0;

	if (len >= sizeof ctx->alpn)
		return -1;
	memcpy(ctx->alpn, protocol ? protocol : "", len + 1);
	return 0;
}

void
sb_tls_ctx_set_verify(struct sb_tls_ctx *ctx, int on)
{
	ctx->verify = on;
}

void
sb_tls_ctx_request_client_cert(struct sb_tls_ctx *ctx, int on)
{
	ctx->request_cert = on;
}

void
sb_tls_ctx_ref(struct sb_tls_ctx *ctx)
{
	ctx->refs++;
}

void
sb_tls_ctx_unref(struct sb_tls_ctx *ctx)
{
	if (ctx == NULL || --ctx->refs > 0)
		return;
	for (unsigned i = 0; i < ctx->ncerts; i++)
		cert_free(ctx->certs[i]);
	free(ctx->certs);
	if (ctx->cred_from != NULL)
		sb_tls_ctx_unref(ctx->cred_from);
	else if (ctx->cred != NULL)
		gnutls_certificate_free_credentials(ctx->cred);
	if (ctx->prio != NULL)
		gnutls_priority_deinit(ctx->prio);
	if (ctx->ticket_key.data != NULL) {
		gnutls_memset(ctx->ticket_key.data, 0, ctx->ticket_key.size);
		gnutls_free(ctx->ticket_key.data);
	}
	free(ctx);
}

/* --- transport: memory buffers --- */

static ssize_t
push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	struct sb_tls *tls = p;

	sb_buf_append(&tls->out, data, len);
	return (ssize_t)len;
}

static ssize_t
pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	struct sb_tls *tls = p;
	size_t n = sb_buf_len(&tls->in);

	if (n == 0) {
		gnutls_transport_set_errno(tls->s, EAGAIN);
		return -1;
	}
	if (n > len)
		n = len;
	memcpy(data, sb_buf_data(&tls->in), n);
	sb_buf_consume(&tls->in, n);
	return (ssize_t)n;
}

/* Never waits: data is either fed already or not (sessions are GNUTLS_NONBLOCK). */
static int
pull_timeout(gnutls_transport_ptr_t p, unsigned int ms)
{
	struct sb_tls *tls = p;

	return sb_buf_len(&tls->in) > 0;
}

/* --- sessions --- */

static int
is_ip_literal(const char *name)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

static int
session_setup_server(struct sb_tls *tls)
{
	struct sb_tls_ctx *ctx = tls->ctx;
	int ret;

	ret = gnutls_session_ticket_enable_server(tls->s, &ctx->ticket_key);
	if (ret < 0)
		return ret;
	if (ctx->request_cert) {
		gnutls_certificate_server_set_request(tls->s, GNUTLS_CERT_REQUEST);
		/* Peers use all sorts of issuers: don't list ours, let them send. */
		gnutls_certificate_send_x509_rdn_sequence(tls->s, 1);
	}
	return 0;
}

static int
session_setup_client(struct sb_tls *tls, const char *server_name)
{
	int ret;

	if (server_name != NULL)
		tls->name = xstrndup(server_name, strnlen(server_name, MAX_NAME - 1));
	/* Without a name, verification still checks the chain. */
	if (tls->ctx->verify)
		gnutls_session_set_verify_cert(tls->s, tls->name, 0);
	if (server_name == NULL)
		return 0;
	/* RFC 6066 3: literal IP addresses are not sent as SNI. */
	if (is_ip_literal(server_name))
		return 0;
	ret = gnutls_server_name_set(tls->s, GNUTLS_NAME_DNS, server_name,
	    strlen(server_name));
	return ret < 0 ? ret : 0;
}

static int
session_setup(struct sb_tls *tls, const char *server_name)
{
	struct sb_tls_ctx *ctx = tls->ctx;
	gnutls_datum_t alpn;
	int ret;

	gnutls_session_set_ptr(tls->s, tls);
	gnutls_transport_set_ptr(tls->s, tls);
	gnutls_transport_set_push_function(tls->s, push);
	gnutls_transport_set_pull_function(tls->s, pull);
	gnutls_transport_set_pull_timeout_function(tls->s, pull_timeout);
	if ((ret = gnutls_priority_set(tls->s, ctx->prio)) < 0 ||
	    (ret = gnutls_credentials_set(tls->s, GNUTLS_CRD_CERTIFICATE, ctx->cred)) < 0)
		return ret;
	if (ctx->alpn[0] != '\0') {
		alpn.data = (unsigned char *)ctx->alpn;
		alpn.size = (unsigned)strlen(ctx->alpn);
		/*
		 * Server: MANDATORY in gnutls 3.7 fails only when the client
		 * offers ALPN without ours (RFC 7301 3.2), not when it offers none.
		 */
		ret = gnutls_alpn_set_protocols(tls->s, &alpn, 1,
		    ctx->server ? GNUTLS_ALPN_MANDATORY : 0);
		if (ret < 0)
			return ret;
	}
	return ctx->server ? session_setup_server(tls) :
	    session_setup_client(tls, server_name);
}

struct sb_tls *
sb_tls_new(struct sb_tls_ctx *ctx, const char *server_name)
{
	struct sb_tls *tls = xcalloc(1, sizeof *tls);
	unsigned flags = GNUTLS_NONBLOCK | (ctx->server ?
	    GNUTLS_SERVER | GNUTLS_NO_AUTO_SEND_TICKET : GNUTLS_CLIENT);

	tls->ctx = ctx;
	tls->cert_idx = -1;
	sb_tls_ctx_ref(ctx);
	if (gnutls_init(&tls->s, flags) < 0) {
		tls->s = NULL;
		sb_tls_free(tls);
		return NULL;
	}
	if (session_setup(tls, server_name) < 0) {
		sb_tls_free(tls);
		return NULL;
	}
	return tls;
}

void
sb_tls_free(struct sb_tls *tls)
{
	if (tls == NULL)
		return;
	if (tls->s != NULL)
		gnutls_deinit(tls->s);
	sb_buf_free(&tls->in);
	sb_buf_free(&tls->out);
	sb_tls_ctx_unref(tls->ctx);
	free(tls->name);
	free(tls->err);
	free(tls);
}

void
sb_tls_feed(struct sb_tls *tls, const void *data, size_t len)
{
	if (tls->state != ST_FAILED)
		sb_buf_append(&tls->in, data, len);
}

struct sb_buf *
sb_tls_output(struct sb_tls *tls)
{
	return &tls->out;
}

const char *
sb_tls_error(const struct sb_tls *tls)
{
	return tls->err != NULL ? tls->err : "";
}

/* Remember why the session failed (kept until it is freed). */
static void __attribute__((format(printf, 2, 3)))
set_err(struct sb_tls *tls, const char *fmt, ...)
{
	char text[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	free(tls->err);
	tls->err = xstrdup(text);
}

/*
 * A fatal error: remember why, queue the alert the peer should get, and
 * refuse everything from now on.
 */
static int
fail(struct sb_tls *tls, const char *what, int ret)
{
	gnutls_datum_t status;

	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		set_err(tls, "%s: peer sent alert: %s", what,
		    gnutls_alert_get_name(gnutls_alert_get(tls->s)));
	} else if (ret == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR &&
	    gnutls_certificate_verification_status_print(
	    gnutls_session_get_verify_cert_status(tls->s), GNUTLS_CRT_X509,
	    &status, 0) == 0) {
		set_err(tls, "%s: %s", what, status.data);
		gnutls_free(status.data);
	} else {
		set_err(tls, "%s: %s", what, gnutls_strerror(ret));
	}
	if (ret != GNUTLS_E_FATAL_ALERT_RECEIVED)
		gnutls_alert_send_appropriate(tls->s, ret);
	tls->state = ST_FAILED;
	return SB_TLS_ERROR;
}

static void
handshake_finished(struct sb_tls *tls)
{
	gnutls_datum_t proto;

	tls->state = ST_OPEN;
	if (tls->ctx->server) {
		read_sni(tls);
		/*
		 * gnutls sends two TLS 1.3 tickets by default; an XMPP client
		 * keeps one connection, so one ticket saves work per login.
		 * A failure only costs the client its next resumption.
		 */
		if (gnutls_protocol_get_version(tls->s) == GNUTLS_TLS1_3)
			gnutls_session_ticket_send(tls->s, 1, 0);
	}
	tls->alpn_ok = tls->ctx->alpn[0] != '\0' &&
	    gnutls_alpn_get_selected_protocol(tls->s, &proto) == 0 &&
	    proto.size == strlen(tls->ctx->alpn) &&
	    memcmp(proto.data, tls->ctx->alpn, proto.size) == 0;
}

int
sb_tls_handshake(struct sb_tls *tls)
{
	int ret;

	switch (tls->state) {
	case ST_OPEN:
		return SB_TLS_OK;
	case ST_CLOSED:
		return SB_TLS_CLOSED;
	case ST_FAILED:
		return SB_TLS_ERROR;
	case ST_HANDSHAKE:
		break;
	}
	do {
		ret = gnutls_handshake(tls->s);
	} while (ret < 0 && ret != GNUTLS_E_AGAIN && !gnutls_error_is_fatal(ret));
	if (ret == GNUTLS_E_AGAIN)
		return SB_TLS_AGAIN;
	if (ret < 0)
		return fail(tls, "TLS handshake", ret);
	handshake_finished(tls);
	return SB_TLS_OK;
}

int
sb_tls_handshake_done(const struct sb_tls *tls)
{
	return tls->state == ST_OPEN || tls->state == ST_CLOSED;
}

/*
 * Returns OK when plaintext was appended, AGAIN when the records fed so far
 * held none (all consumed, more input needed), CLOSED on close_notify (the
 * plaintext that came before it is in out), ERROR when fatal. Drives the
 * handshake first if it is not complete.
 */
int
sb_tls_read(struct sb_tls *tls, struct sb_buf *out)
{
	int got = 0, ret;
	ssize_t n;
	size_t avail, left = (size_t)-1;
	char *p;

	if (tls->state != ST_OPEN) {
		ret = sb_tls_handshake(tls);
		if (ret != SB_TLS_OK)
			return ret;
	}
	for (;;) {
		p = sb_buf_space(out, 16384, &avail);
		n = gnutls_record_recv(tls->s, p, avail);
		if (n > 0) {
			sb_buf_commit(out, (size_t)n);
			got = 1;
		} else if (n == 0) {
			tls->state = ST_CLOSED;
			return SB_TLS_CLOSED;
		} else if (n == GNUTLS_E_AGAIN) {
			/*
			 * Also returned after a TLS 1.3 post-handshake message
			 * (session ticket, key update): go on while gnutls
			 * still takes bytes from the input.
			 */
			if (sb_buf_len(&tls->in) == 0 || sb_buf_len(&tls->in) == left)
				break;
			left = sb_buf_len(&tls->in);
		} else if (n == GNUTLS_E_REHANDSHAKE) {
			/* TLS 1.2 renegotiation is not offered: say so, go on. */
			gnutls_alert_send(tls->s, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
		} else if (gnutls_error_is_fatal((int)n)) {
			return fail(tls, "TLS read", (int)n);
		}
	}
	/* An idle connection should not keep the memory of a past burst. */
	if (sb_buf_len(&tls->in) == 0 && tls->in.cap > IN_KEEP_MAX)
		sb_buf_free(&tls->in);
	return got ? SB_TLS_OK : SB_TLS_AGAIN;
}

int
sb_tls_write(struct sb_tls *tls, const void *data, size_t len)
{
	const char *p = data;
	ssize_t n;

	if (tls->state != ST_OPEN || tls->sent_bye) {
		if (tls->state != ST_FAILED)
			set_err(tls, "TLS write: %s",
			    tls->state == ST_CLOSED ? "the peer closed TLS" :
			    tls->sent_bye ? "session closed" : "handshake not complete");
		return SB_TLS_ERROR;
	}
	while (len > 0) {
		n = gnutls_record_send(tls->s, p, len);
		if (n == GNUTLS_E_INTERRUPTED || n == GNUTLS_E_AGAIN)
			continue;	/* cannot happen with push(); be safe */
		if (n < 0)
			return fail(tls, "TLS write", (int)n);
		p += n;
		len -= (size_t)n;
	}
	return SB_TLS_OK;
}

int
sb_tls_bye(struct sb_tls *tls)
{
	int ret;

	if (tls->state == ST_FAILED)
		return SB_TLS_ERROR;
	if (tls->sent_bye)
		return SB_TLS_OK;
	tls->sent_bye = 1;
	/* SHUT_WR: queue close_notify without waiting for the peer's. */
	ret = gnutls_bye(tls->s, GNUTLS_SHUT_WR);
	if (ret < 0 && ret != GNUTLS_E_AGAIN)
		return fail(tls, "TLS close", ret);
	return SB_TLS_OK;
}

/* --- what the session negotiated --- */

const char *
sb_tls_server_name(const struct sb_tls *tls)
{
	return tls->name;
}

const char *
sb_tls_alpn(const struct sb_tls *tls)
{
	return tls->alpn_ok ? tls->ctx->alpn : NULL;
}

const char *
sb_tls_version(const struct sb_tls *tls)
{
	if (!sb_tls_handshake_done(tls))
		return NULL;
	return gnutls_protocol_get_name(gnutls_protocol_get_version(tls->s));
}

int
sb_tls_is_tls13(const struct sb_tls *tls)
{
	return sb_tls_handshake_done(tls) &&
	    gnutls_protocol_get_version(tls->s) == GNUTLS_TLS1_3;
}

int
sb_tls_resumed(const struct sb_tls *tls)
{
	return sb_tls_handshake_done(tls) && gnutls_session_is_resumed(tls->s);
}

/* --- channel binding --- */

static int
cb_exporter(const struct sb_tls *tls, unsigned char *out, size_t *len)
{
	/* RFC 9266 is for TLS 1.3; TLS 1.2 would need EMS and is not offered. */
	if (!sb_tls_is_tls13(tls) || *len < EXPORTER_LEN)
		return -1;
	if (gnutls_prf_rfc5705(tls->s, strlen(EXPORTER_LABEL), EXPORTER_LABEL,
	    0, "", EXPORTER_LEN, (char *)out) < 0)
		return -1;
	*len = EXPORTER_LEN;
	return 0;
}

static int
cb_unique(const struct sb_tls *tls, unsigned char *out, size_t *len)
{
	gnutls_datum_t d;
	int ok;

	if (sb_tls_is_tls13(tls))
		return -1;
	if (gnutls_session_channel_binding(tls->s, GNUTLS_CB_TLS_UNIQUE, &d) < 0)
		return -1;
	ok = d.size <= *len;
	if (ok) {
		memcpy(out, d.data, d.size);
		*len = d.size;
	}
	gnutls_free(d.data);
	return ok ? 0 : -1;
}

/*
 * The server answers from the hash computed when the certificate was
 * loaded. A resumed session selected no certificate: the original one is
 * found again by the same rule (SNI, key type), as RFC 5929 asks for the
 * certificate of the original handshake.
 */
static int
cb_server_end_point(const struct sb_tls *tls, unsigned char *out, size_t *len)
{
	const struct sb_tls_cert *c;
	const gnutls_datum_t *der;
	unsigned n = 0;
	int idx;

	if (!tls->ctx->server) {
		der = gnutls_certificate_get_peers(tls->s, &n);
		return der == NULL || n == 0 ? -1 : end_point_hash(&der[0], out, len);
	}
	idx = tls->cert_idx >= 0 ? tls->cert_idx :
	    cert_select(tls->ctx, tls->s, tls->name != NULL ? tls->name : "");
	if (idx < 0)
		return -1;
	c = tls->ctx->certs[idx];
	if (c->end_point_len == 0 || c->end_point_len > *len)
		return -1;
	memcpy(out, c->end_point, c->end_point_len);
	*len = c->end_point_len;
	return 0;
}

static int (*const cb_funcs[])(const struct sb_tls *, unsigned char *, size_t *) = {
	[SB_TLS_CB_EXPORTER] = cb_exporter,
	[SB_TLS_CB_SERVER_END_POINT] = cb_server_end_point,
	[SB_TLS_CB_UNIQUE] = cb_unique,
};

int
sb_tls_channel_binding(const struct sb_tls *tls, enum sb_tls_cb_type type,
    unsigned char *out, size_t *len)
{
	if (!sb_tls_handshake_done(tls) || (unsigned)type >=
	    sizeof cb_funcs / sizeof cb_funcs[0])
		return -1;
	return cb_funcs[type](tls, out, len);
}

/* --- peer certificates (the identity checks are in tls_ident.c) --- */

int
sb_tls_peer_has_cert(const struct sb_tls *tls)
{
	unsigned n = 0;

	return sb_tls_handshake_done(tls) &&
	    gnutls_certificate_get_peers(tls->s, &n) != NULL && n > 0;
}

/* --- resumption (client) --- */

int
sb_tls_session_data(const struct sb_tls *tls, struct sb_buf *out)
{
	gnutls_datum_t d;

	if (tls->ctx->server || !sb_tls_handshake_done(tls))
		return -1;
	/* TLS 1.3 tickets come after the handshake; without one there is nothing. */
	if (sb_tls_is_tls13(tls) &&
	    !(gnutls_session_get_flags(tls->s) & GNUTLS_SFLAGS_SESSION_TICKET))
		return -1;
	if (gnutls_session_get_data2(tls->s, &d) < 0)
		return -1;
	sb_buf_append(out, d.data, d.size);
	gnutls_free(d.data);
	return 0;
}

int
sb_tls_session_resume(struct sb_tls *tls, const void *data, size_t len)
{
	if (tls->ctx->server || tls->state != ST_HANDSHAKE)
		return -1;
	return gnutls_session_set_data(tls->s, data, len) < 0 ? -1 : 0;
}

/* --- self-signed certificates --- */

/* Write through a temporary file and rename, so a crash leaves no half file. */
static int
write_file(const char *path, const gnutls_datum_t *d, mode_t mode, char *err, size_t errlen)
{
	char tmp[4096];
	ssize_t n;
	size_t off = 0;
	int fd;

	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
		seterr(err, errlen, "%s: path too long", path);
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0 || fchmod(fd, mode) < 0)
		goto fail;
	while (off < d->size) {
		n = write(fd, d->data + off, d->size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto fail;
	return 0;
fail:
	seterr(err, errlen, "%s: %s", tmp, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

static int
selfsigned_fill(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *domain)
{
	unsigned char serial[16], keyid[64];
	size_t idlen = sizeof keyid;
	time_t now = time(NULL);
	int ret;

	if ((ret = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial)) < 0)
		return ret;
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);	/* positive, 16 bytes */
	if ((ret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (ret = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
	    /* An hour back: peers with slightly slow clocks accept it at once. */
	    (ret = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (ret = gnutls_x509_crt_set_expiration_time(crt, now + 3653L * 86400)) < 0 ||
	    (ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	    domain, (unsigned)strlen(domain))) < 0 ||
	    (ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME,
	    domain, (unsigned)strlen(domain), GNUTLS_FSAN_SET)) < 0 ||
	    (ret = gnutls_x509_crt_set_key(crt, key)) < 0 ||
	    (ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT, 0)) < 0 ||
	    (ret = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, keyid, &idlen)) < 0 ||
	    (ret = gnutls_x509_crt_set_subject_key_id(crt, keyid, idlen)) < 0)
		return ret;
	return gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
}

int
sb_tls_make_selfsigned(const char *domain, const char *certfile,
    const char *keyfile, char *err, size_t errlen)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t keypem = { NULL, 0 }, crtpem = { NULL, 0 };
	int ret, rc = -1;

	if ((ret = gnutls_x509_privkey_init(&key)) < 0 ||
	    (ret = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0)) < 0 ||
	    (ret = gnutls_x509_crt_init(&crt)) < 0 ||
	    (ret = selfsigned_fill(crt, key, domain)) < 0 ||
	    (ret = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
	    GNUTLS_PKCS_PLAIN, &keypem)) < 0 ||
	    (ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &crtpem)) < 0) {
		gtls_err(err, errlen, "self-signed certificate", ret);
		goto out;
	}
	/* The key first: a certificate file never exists without its key. */
	if (write_file(keyfile, &keypem, 0600, err, errlen) == 0 &&
	    write_file(certfile, &crtpem, 0644, err, errlen) == 0)
		rc = 0;
out:
	if (keypem.data != NULL) {
		gnutls_memset(keypem.data, 0, keypem.size);
		gnutls_free(keypem.data);
	}
	gnutls_free(crtpem.data);
	if (crt != NULL)
		gnutls_x509_crt_deinit(crt);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	return rc;
}
