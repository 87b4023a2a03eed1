/*
 * tls.c: tests for lib/tls.c. A client and a server session live in this
 * one process and talk by moving sb_tls_output() of one into sb_tls_feed()
 * of the other; certificates are made with sb_tls_make_selfsigned() in a
 * temporary directory. Covers TLS 1.3 and 1.2, SNI, ALPN, channel binding,
 * peer verification, resumption, close_notify and garbage input. The XMPP
 * identity checks (DNS-ID, SRV-ID, XmppAddr, CN-ID, IDN, malformed
 * otherNames, mutual TLS as s2s uses it) run on certificates that a test
 * CA made here with gnutls signs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "buf.h"
#include "tap.h"
#include "tls.h"

#define ALPN	"xmpp-client"
#define TLS12	"NORMAL:-VERS-ALL:+VERS-TLS1.2"

static char dir[] = "/tmp/sb-tls-test-XXXXXX";
static char path_buf[8][4200];
static int npaths;
static char err[256];

static const char *
path(const char *name)
{
	char *p = path_buf[npaths++ % 8];

	snprintf(p, sizeof path_buf[0], "%s/%s", dir, name);
	return p;
}

/* Move what a has to send into b. */
static void
move(struct sb_tls *a, struct sb_tls *b)
{
	struct sb_buf *o = sb_tls_output(a);

	if (sb_buf_len(o) > 0) {
		sb_tls_feed(b, sb_buf_data(o), sb_buf_len(o));
		sb_buf_consume(o, sb_buf_len(o));
	}
}

/* Run both handshakes to the end: 0, or -1 when either side failed. */
static int
handshake(struct sb_tls *c, struct sb_tls *s)
{
	int rc = SB_TLS_AGAIN, rs = SB_TLS_AGAIN;

	for (int i = 0; i < 10; i++) {
		rc = sb_tls_handshake(c);
		move(c, s);
		rs = sb_tls_handshake(s);
		move(s, c);
		if (rc == SB_TLS_ERROR || rs == SB_TLS_ERROR) {
			/* Let the alert arrive: the other side learns why. */
			sb_tls_handshake(c);
			move(c, s);
			sb_tls_handshake(s);
			return -1;
		}
		if (rc == SB_TLS_OK && rs == SB_TLS_OK)
			return 0;
	}
	return -1;
}

/* Plaintext from 'from' to 'to': sb_tls_write, move, sb_tls_read. */
static int
send_recv(struct sb_tls *from, struct sb_tls *to, const void *data, size_t len,
    struct sb_buf *got)
{
	int r;

	if (sb_tls_write(from, data, len) != SB_TLS_OK)
		return -1;
	move(from, to);
	r = sb_tls_read(to, got);
	move(to, from);	/* tickets, alerts */
	return r;
}

struct pair {
	struct sb_tls *c, *s;
};

static int
connect_pair(struct pair *p, struct sb_tls_ctx *cctx, struct sb_tls_ctx *sctx,
    const char *sni)
{
	struct sb_buf sink = SB_BUF_INIT;

	p->c = sb_tls_new(cctx, sni);
	p->s = sb_tls_new(sctx, NULL);
	if (p->c == NULL || p->s == NULL || handshake(p->c, p->s) < 0)
		return -1;
	/* The client takes in what came after the handshake (TLS 1.3 tickets). */
	sb_tls_read(p->c, &sink);
	sb_buf_free(&sink);
	return 0;
}

static void
close_pair(struct pair *p)
{
	sb_tls_free(p->c);
	sb_tls_free(p->s);
	p->c = p->s = NULL;
}

/* SHA-256 of the first certificate in a PEM file, for tls-server-end-point. */
static void
cert_sha256(const char *file, unsigned char *out)
{
	gnutls_datum_t pem, der;

	memset(out, 0, 32);
	if (gnutls_load_file(file, &pem) < 0)
		return;
	if (gnutls_pem_base64_decode2("CERTIFICATE", &pem, &der) == 0) {
		gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, out);
		gnutls_free(der.data);
	}
	gnutls_free(pem.data);
}

static int
cat_files(const char *out, const char *a, const char *b)
{
	char cmd[9000];

	snprintf(cmd, sizeof cmd, "cat '%s' '%s' > '%s'", a, b, out);
	return system(cmd);
}

static void
make_certs(void)
{
	struct stat st;

	ok(mkdtemp(dir) != NULL, "temporary directory %s", dir);
	ok(sb_tls_make_selfsigned("a.example", path("a.crt"), path("a.key"), err, sizeof err) == 0,
	    "self-signed a.example (%s)", err);
	ok(sb_tls_make_selfsigned("b.example", path("b.crt"), path("b.key"), err, sizeof err) == 0,
	    "self-signed b.example (%s)", err);
	ok(sb_tls_make_selfsigned("c.example", path("c.crt"), path("c.key"), err, sizeof err) == 0,
	    "self-signed c.example (%s)", err);
	ok(stat(path("a.key"), &st) == 0 && (st.st_mode & 0777) == 0600, "key file mode 0600");
	ok(access(path("a.key.tmp"), F_OK) != 0, "no temporary file left");
	cat_files(path("ca.pem"), path("a.crt"), path("b.crt"));
}

static void
test_ctx_errors(void)
{
	struct sb_tls_ctx *ctx;

	ctx = sb_tls_ctx_server("NORMAL:+NOSUCHTHING", err, sizeof err);
	ok(ctx == NULL && strstr(err, "NOSUCHTHING") != NULL, "bad priority refused: %s", err);
	ctx = sb_tls_ctx_server(NULL, err, sizeof err);
	ok(ctx != NULL, "server context with the default priority");
	ok(sb_tls_ctx_add_cert(ctx, path("a.crt"), path("b.key"), err, sizeof err) == -1 &&
	    strstr(err, "does not belong") != NULL, "mismatched key refused: %s", err);
	ok(sb_tls_ctx_add_cert(ctx, path("nonexistent.crt"), path("a.key"), err, sizeof err) == -1,
	    "missing file refused: %s", err);
	sb_tls_ctx_unref(ctx);
	ctx = sb_tls_ctx_client(NULL, path("nonexistent.pem"), err, sizeof err);
	ok(ctx == NULL, "missing CA file refused: %s", err);
}

static void
test_tls13(struct sb_tls_ctx *cctx, struct sb_tls_ctx *sctx)
{
	struct pair p;
	struct sb_buf got = SB_BUF_INIT;
	unsigned char cb1[64], cb2[64], want[32];
	size_t l1 = sizeof cb1, l2 = sizeof cb2;

	if (!ok(connect_pair(&p, cctx, sctx, "a.example") == 0, "TLS 1.3 handshake"))
		diag("server: %s", p.s ? sb_tls_error(p.s) : "no session");
	ok(sb_tls_handshake_done(p.c) && sb_tls_handshake_done(p.s), "both sides done");
	is_str(sb_tls_version(p.c), "TLS1.3", "client version");
	ok(sb_tls_is_tls13(p.s), "server says TLS 1.3");
	is_str(sb_tls_server_name(p.s), "a.example", "server sees the SNI");
	is_str(sb_tls_alpn(p.c), ALPN, "client negotiated ALPN");
	is_str(sb_tls_alpn(p.s), ALPN, "server negotiated ALPN");
	ok(!sb_tls_resumed(p.c), "first session is not resumed");

	ok(sb_tls_channel_binding(p.c, SB_TLS_CB_EXPORTER, cb1, &l1) == 0 &&
	    sb_tls_channel_binding(p.s, SB_TLS_CB_EXPORTER, cb2, &l2) == 0,
	    "tls-exporter available");
	is_mem(cb1, l1, cb2, l2, "tls-exporter equal on both sides");
	is_int(l1, 32, "tls-exporter is 32 bytes");
	l1 = l2 = sizeof cb1;
	ok(sb_tls_channel_binding(p.c, SB_TLS_CB_SERVER_END_POINT, cb1, &l1) == 0 &&
	    sb_tls_channel_binding(p.s, SB_TLS_CB_SERVER_END_POINT, cb2, &l2) == 0,
	    "tls-server-end-point available");
	is_mem(cb1, l1, cb2, l2, "tls-server-end-point equal on both sides");
	cert_sha256(path("a.crt"), want);
	is_mem(cb1, l1, want, 32, "tls-server-end-point is SHA-256 of the certificate");
	l1 = sizeof cb1;
	is_int(sb_tls_channel_binding(p.c, SB_TLS_CB_UNIQUE, cb1, &l1), -1,
	    "tls-unique unavailable on TLS 1.3 (client)");
	is_int(sb_tls_channel_binding(p.s, SB_TLS_CB_UNIQUE, cb1, &l1), -1,
	    "tls-unique unavailable on TLS 1.3 (server)");
	l1 = 16;
	is_int(sb_tls_channel_binding(p.c, SB_TLS_CB_EXPORTER, cb1, &l1), -1,
	    "tls-exporter refuses a short buffer");

	ok(sb_tls_peer_has_cert(p.c) && !sb_tls_peer_has_cert(p.s),
	    "client has the server's certificate, server has none");
	ok(sb_tls_peer_verify(p.c, "a.example", err, sizeof err) == 0,
	    "peer verify against the CA file (%s)", err);
	ok(sb_tls_peer_verify(p.c, "b.example", err, sizeof err) == -1 &&
	    strstr(err, "not valid for b.example") != NULL, "wrong name fails: %s", err);
	ok(sb_tls_peer_verify(p.s, "a.example", err, sizeof err) == -1,
	    "server: no client certificate to verify: %s", err);

	is_int(send_recv(p.c, p.s, "<stream:stream>", 15, &got), SB_TLS_OK, "client to server");
	is_str(sb_buf_data(&got), "<stream:stream>", "server reads the client's bytes");
	sb_buf_clear(&got);
	is_int(send_recv(p.s, p.c, "<features/>", 11, &got), SB_TLS_OK, "server to client");
	is_str(sb_buf_data(&got), "<features/>", "client reads the server's bytes");
	sb_buf_clear(&got);
	is_int(sb_tls_read(p.s, &got), SB_TLS_AGAIN, "read with nothing fed: AGAIN");

	ok(sb_tls_write(p.c, "last", 4) == SB_TLS_OK && sb_tls_bye(p.c) == SB_TLS_OK,
	    "client writes and closes");
	move(p.c, p.s);
	is_int(sb_tls_read(p.s, &got), SB_TLS_CLOSED, "close_notify gives CLOSED");
	is_str(sb_buf_data(&got), "last", "data before close_notify is delivered");
	is_int(sb_tls_write(p.c, "x", 1), SB_TLS_ERROR, "no writing after bye");
	sb_buf_free(&got);
	close_pair(&p);
}

/* 1 MB each way, in odd-sized writes, fed in odd-sized pieces. */
static int
bulk(struct sb_tls *from, struct sb_tls *to)
{
	size_t total = 1 << 20, sent = 0, chunk = 7777, piece = 3001;
	struct sb_buf got = SB_BUF_INIT;
	unsigned char *data = malloc(total);
	struct sb_buf *o = sb_tls_output(from);
	int good = 1;

	for (size_t i = 0; i < total; i++)
		data[i] = (unsigned char)(i * 31 + (i >> 11));
	while (sent < total && good) {
		size_t n = total - sent < chunk ? total - sent : chunk;

		good = sb_tls_write(from, data + sent, n) == SB_TLS_OK;
		sent += n;
		while (sb_buf_len(o) > 0 && good) {
			size_t m = sb_buf_len(o) < piece ? sb_buf_len(o) : piece;

			sb_tls_feed(to, sb_buf_data(o), m);
			sb_buf_consume(o, m);
			good = sb_tls_read(to, &got) != SB_TLS_ERROR;
		}
	}
	good = good && sb_buf_len(&got) == total && memcmp(sb_buf_data(&got), data, total) == 0;
	sb_buf_free(&got);
	free(data);
	return good;
}

static void
test_bulk(struct sb_tls_ctx *cctx, struct sb_tls_ctx *sctx)
{
	struct pair p;

	connect_pair(&p, cctx, sctx, "a.example");
	ok(bulk(p.c, p.s), "1 MB client to server");
	ok(bulk(p.s, p.c), "1 MB server to client");
	close_pair(&p);
}

static void
test_sni(struct sb_tls_ctx *cctx, struct sb_tls_ctx *sctx)
{
	static const struct {
		const char *sni, *cert;
	} cases[] = {
		{ "b.example", "b.example" },
		{ "B.Example", "b.example" },
		{ "a.example", "a.example" },
		{ "c.example", "a.example" },	/* no match: the first added */
		{ NULL, "a.example" },
	};
	struct pair p;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		connect_pair(&p, cctx, sctx, cases[i].sni);
		ok(sb_tls_peer_verify(p.c, cases[i].cert, err, sizeof err) == 0,
		    "SNI %s gets the certificate of %s (%s)",
		    cases[i].sni ? cases[i].sni : "(none)", cases[i].cert, err);
		close_pair(&p);
	}
}

/* A wildcard certificate (made with certtool) serves one label below it. */
static void
test_wildcard(struct sb_tls_ctx *cctx)
{
	static const char tmpl[] = "cn = \"w.example\"\ndns_name = \"*.w.example\"\n"
	    "expiration_days = 30\nsigning_key\ntls_www_server\n";
	static const struct {
		const char *sni, *cert;
	} cases[] = {
		{ "conf.w.example", "conf.w.example" },
		{ "CONF.W.example", "conf.w.example" },
		{ "w.example", "a.example" },		/* the wildcard needs a label */
		{ "x.conf.w.example", "a.example" },	/* and only one */
	};
	struct sb_tls_ctx *sctx, *wctx;
	char cmd[9000];
	FILE *f;
	struct pair p;

	f = fopen(path("w.tmpl"), "w");
	fputs(tmpl, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "certtool --generate-privkey --key-type ecdsa --outfile '%s' "
	    ">/dev/null 2>&1 && certtool --generate-self-signed --load-privkey '%s' "
	    "--template '%s' --outfile '%s' >/dev/null 2>&1", path("w.key"), path("w.key"),
	    path("w.tmpl"), path("w.crt"));
	if (system(cmd) != 0) {
		ok(1, "# SKIP certtool not available");
		return;
	}
	sctx = sb_tls_ctx_server(NULL, err, sizeof err);
	sb_tls_ctx_add_cert(sctx, path("a.crt"), path("a.key"), err, sizeof err);
	ok(sb_tls_ctx_add_cert(sctx, path("w.crt"), path("w.key"), err, sizeof err) == 0,
	    "add the wildcard certificate (%s)", err);
	wctx = sb_tls_ctx_client(NULL, path("ca.pem"), err, sizeof err);
	sb_tls_ctx_set_trust(wctx, path("w.crt"), err, sizeof err);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		connect_pair(&p, wctx, sctx, cases[i].sni);
		ok(sb_tls_peer_verify(p.c, cases[i].cert, err, sizeof err) == 0,
		    "SNI %s gets the certificate valid for %s (%s)", cases[i].sni,
		    cases[i].cert, err);
		close_pair(&p);
	}
	sb_tls_ctx_unref(wctx);
	sb_tls_ctx_unref(sctx);
}

static void
test_tls12(struct sb_tls_ctx *sctx)
{
	struct sb_tls_ctx *cctx = sb_tls_ctx_client(TLS12, path("ca.pem"), err, sizeof err);
	unsigned char cb1[64], cb2[64];
	size_t l1 = sizeof cb1, l2 = sizeof cb2;
	struct sb_buf got = SB_BUF_INIT;
	struct pair p;

	sb_tls_ctx_set_alpn(cctx, ALPN);
	ok(connect_pair(&p, cctx, sctx, "b.example") == 0, "TLS 1.2 handshake");
	is_str(sb_tls_version(p.s), "TLS1.2", "server version");
	ok(!sb_tls_is_tls13(p.c), "client: not TLS 1.3");
	is_str(sb_tls_alpn(p.s), ALPN, "ALPN on TLS 1.2");
	ok(sb_tls_channel_binding(p.c, SB_TLS_CB_UNIQUE, cb1, &l1) == 0 &&
	    sb_tls_channel_binding(p.s, SB_TLS_CB_UNIQUE, cb2, &l2) == 0, "tls-unique available");
	ok(l1 == 12 && l1 == l2 && memcmp(cb1, cb2, l1) == 0, "tls-unique equal (12 bytes)");
	l1 = l2 = sizeof cb1;
	ok(sb_tls_channel_binding(p.c, SB_TLS_CB_SERVER_END_POINT, cb1, &l1) == 0 &&
	    sb_tls_channel_binding(p.s, SB_TLS_CB_SERVER_END_POINT, cb2, &l2) == 0 &&
	    l1 == l2 && memcmp(cb1, cb2, l1) == 0, "tls-server-end-point equal on TLS 1.2");
	l1 = sizeof cb1;
	is_int(sb_tls_channel_binding(p.c, SB_TLS_CB_EXPORTER, cb1, &l1), -1,
	    "tls-exporter unavailable on TLS 1.2");
	is_int(send_recv(p.c, p.s, "hello", 5, &got), SB_TLS_OK, "data on TLS 1.2");
	is_str(sb_buf_data(&got), "hello", "server reads it");
	sb_buf_free(&got);
	ok(bulk(p.s, p.c), "1 MB on TLS 1.2");
	close_pair(&p);
	sb_tls_ctx_unref(cctx);
}

static void
test_alpn(struct sb_tls_ctx *sctx)
{
	struct sb_tls_ctx *cctx = sb_tls_ctx_client(NULL, path("ca.pem"), err, sizeof err);
	struct pair p;

	ok(connect_pair(&p, cctx, sctx, "a.example") == 0 && sb_tls_alpn(p.s) == NULL,
	    "client without ALPN is accepted, nothing negotiated");
	close_pair(&p);
	sb_tls_ctx_set_alpn(cctx, "xmpp-server");
	ok(connect_pair(&p, cctx, sctx, "a.example") == -1, "client with only other ALPN fails");
	ok(strstr(sb_tls_error(p.s), "application protocol") != NULL,
	    "server says why: %s", sb_tls_error(p.s));
	ok(strstr(sb_tls_error(p.c), "alert") != NULL &&
	    strstr(sb_tls_error(p.c), "application protocol") != NULL,
	    "client got the no_application_protocol alert: %s", sb_tls_error(p.c));
	close_pair(&p);
	sb_tls_ctx_unref(cctx);
}

static void
test_verify(struct sb_tls_ctx *sctx)
{
	struct sb_tls_ctx *other = sb_tls_ctx_client(NULL, path("c.crt"), err, sizeof err);
	struct pair p;

	connect_pair(&p, other, sctx, "a.example");
	ok(sb_tls_handshake_done(p.c), "verify off: handshake ends with an unknown issuer");
	ok(sb_tls_peer_verify(p.c, "a.example", err, sizeof err) == -1,
	    "unknown issuer fails: %s", err);
	close_pair(&p);
	sb_tls_ctx_set_verify(other, 1);
	ok(connect_pair(&p, other, sctx, "a.example") == -1, "verify on: handshake fails");
	ok(strstr(sb_tls_error(p.c), "signer") != NULL || strstr(sb_tls_error(p.c), "issuer") != NULL,
	    "and says why: %s", sb_tls_error(p.c));
	close_pair(&p);
	sb_tls_ctx_unref(other);

	other = sb_tls_ctx_client(NULL, path("ca.pem"), err, sizeof err);
	sb_tls_ctx_set_verify(other, 1);
	ok(connect_pair(&p, other, sctx, "b.example") == 0, "verify on, trusted: handshake ends");
	close_pair(&p);
	ok(connect_pair(&p, other, sctx, "c.example") == -1,
	    "verify on, trusted cert with the wrong name: fails");
	close_pair(&p);
	ok(connect_pair(&p, other, sctx, NULL) == 0, "verify on without a name: chain only");
	close_pair(&p);
	sb_tls_ctx_unref(other);
}

/*
 * s2s style, trust loaded once: a server context loads it, a second server
 * context and a client context share it, and the first is released before
 * they are used.
 */
static void
test_shared_trust(void)
{
	struct sb_tls_ctx *owner = sb_tls_ctx_server(NULL, err, sizeof err);
	struct sb_tls_ctx *sctx, *cctx;
	struct pair p;

	ok(sb_tls_ctx_set_trust(owner, path("ca.pem"), err, sizeof err) == 0, "owner's trust");
	sctx = sb_tls_ctx_sharing_trust(owner, 1, NULL, err, sizeof err);
	cctx = sb_tls_ctx_sharing_trust(owner, 0, NULL, err, sizeof err);
	ok(sctx != NULL && cctx != NULL, "two contexts share it");
	ok(sb_tls_ctx_set_trust(cctx, path("ca.pem"), err, sizeof err) == -1,
	    "a sharing context cannot load trust of its own: %s", err);
	sb_tls_ctx_unref(owner);
	sb_tls_ctx_add_cert(sctx, path("a.crt"), path("a.key"), err, sizeof err);
	sb_tls_ctx_request_client_cert(sctx, 1);
	sb_tls_ctx_add_cert(cctx, path("b.crt"), path("b.key"), err, sizeof err);
	sb_tls_ctx_set_verify(cctx, 1);
	ok(connect_pair(&p, cctx, sctx, "a.example") == 0,
	    "the client verifies the server with the shared trust, the owner released");
	err[0] = '\0';
	ok(sb_tls_peer_verify(p.s, "b.example", err, sizeof err) == 0,
	    "the server verifies the client's certificate with it %s", err);
	ok(sb_tls_server_name(p.s) != NULL && strcmp(sb_tls_server_name(p.s), "a.example") == 0,
	    "each context keeps its own certificates (SNI a.example)");
	close_pair(&p);
	sb_tls_ctx_unref(sctx);
	sb_tls_ctx_unref(cctx);
}

/* s2s style: the server asks, the client shows its first certificate. */
static void
test_client_cert(void)
{
	struct sb_tls_ctx *sctx = sb_tls_ctx_server(NULL, err, sizeof err);
	struct sb_tls_ctx *cctx = sb_tls_ctx_client(NULL, path("ca.pem"), err, sizeof err);
	struct pair p;

	sb_tls_ctx_add_cert(sctx, path("a.crt"), path("a.key"), err, sizeof err);
	ok(sb_tls_ctx_set_trust(sctx, path("ca.pem"), err, sizeof err) == 0, "server trust");
	sb_tls_ctx_request_client_cert(sctx, 1);
	sb_tls_ctx_add_cert(cctx, path("b.crt"), path("b.key"), err, sizeof err);
	ok(connect_pair(&p, cctx, sctx, "a.example") == 0, "handshake with a client certificate");
	ok(sb_tls_peer_has_cert(p.s), "server has the client's certificate");
	ok(sb_tls_peer_verify(p.s, "b.example", err, sizeof err) == 0,
	    "server verifies the client as b.example (%s)", err);
	close_pair(&p);
	sb_tls_ctx_unref(sctx);
	sb_tls_ctx_unref(cctx);
}

static void
test_resume(struct sb_tls_ctx *cctx, struct sb_tls_ctx *sctx, const char *label)
{
	struct sb_buf data = SB_BUF_INIT, got = SB_BUF_INIT;
	unsigned char cb1[64], cb2[64];
	size_t l1 = sizeof cb1, l2 = sizeof cb2;
	struct pair p;

	connect_pair(&p, cctx, sctx, "b.example");
	ok(sb_tls_session_data(p.c, &data) == 0 && sb_buf_len(&data) > 0,
	    "%s: client has resumption data", label);
	is_int(sb_tls_session_data(p.s, &data), -1, "%s: not on the server", label);
	close_pair(&p);

	p.c = sb_tls_new(cctx, "b.example");
	p.s = sb_tls_new(sctx, NULL);
	ok(sb_tls_session_resume(p.c, sb_buf_data(&data), sb_buf_len(&data)) == 0,
	    "%s: offer the ticket", label);
	ok(handshake(p.c, p.s) == 0, "%s: resumed handshake", label);
	ok(sb_tls_resumed(p.c) && sb_tls_resumed(p.s), "%s: both sides resumed", label);
	ok(sb_tls_channel_binding(p.c, SB_TLS_CB_SERVER_END_POINT, cb1, &l1) == 0 &&
	    sb_tls_channel_binding(p.s, SB_TLS_CB_SERVER_END_POINT, cb2, &l2) == 0 &&
	    l1 == l2 && memcmp(cb1, cb2, l1) == 0,
	    "%s: tls-server-end-point equal after resumption", label);
	is_int(send_recv(p.c, p.s, "again", 5, &got), SB_TLS_OK, "%s: data after resumption", label);
	close_pair(&p);
	sb_buf_free(&data);
	sb_buf_free(&got);
}

static void
test_garbage(struct sb_tls_ctx *cctx, struct sb_tls_ctx *sctx)
{
	static const char http[] = "GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";
	unsigned char record[5 + 64] = { 0x17, 0x03, 0x03, 0x00, 64 };
	struct sb_buf got = SB_BUF_INIT;
	struct sb_tls *s = sb_tls_new(sctx, NULL);
	struct pair p;

	sb_tls_feed(s, http, sizeof http - 1);
	is_int(sb_tls_handshake(s), SB_TLS_ERROR, "plaintext HTTP instead of a hello: ERROR");
	ok(sb_tls_error(s)[0] != '\0', "with a reason: %s", sb_tls_error(s));
	is_int(sb_tls_handshake(s), SB_TLS_ERROR, "and stays failed");
	is_int(sb_tls_write(s, "x", 1), SB_TLS_ERROR, "no writing on a failed session");
	sb_tls_free(s);

	s = sb_tls_new(sctx, NULL);
	is_int(sb_tls_write(s, "x", 1), SB_TLS_ERROR, "no writing before the handshake");
	sb_tls_free(s);

	connect_pair(&p, cctx, sctx, "a.example");
	for (size_t i = 5; i < sizeof record; i++)
		record[i] = (unsigned char)(i * 37);
	sb_tls_feed(p.s, record, sizeof record);
	is_int(sb_tls_read(p.s, &got), SB_TLS_ERROR, "forged application record: ERROR");
	ok(sb_buf_len(sb_tls_output(p.s)) > 0, "an alert is queued for the peer");
	move(p.s, p.c);
	is_int(sb_tls_read(p.c, &got), SB_TLS_ERROR, "the peer fails on the alert");
	diag("client: %s", sb_tls_error(p.c));
	close_pair(&p);
	sb_buf_free(&got);
}

/* The recommended server policy talks to default and TLS 1.2 clients alike. */
static void
test_server_priority(struct sb_tls_ctx *cctx)
{
	struct sb_tls_ctx *sctx = sb_tls_ctx_server(SB_TLS_SERVER_PRIORITY, err, sizeof err);
	struct sb_tls_ctx *c12 = sb_tls_ctx_client(TLS12, path("ca.pem"), err, sizeof err);
	struct sb_buf data = SB_BUF_INIT;
	struct pair p;

	ok(sctx != NULL, "SB_TLS_SERVER_PRIORITY parses (%s)", err);
	sb_tls_ctx_add_cert(sctx, path("a.crt"), path("a.key"), err, sizeof err);
	ok(connect_pair(&p, cctx, sctx, "a.example") == 0 && sb_tls_is_tls13(p.s),
	    "server policy: TLS 1.3 handshake");
	ok(sb_tls_session_data(p.c, &data) == 0, "server policy: a ticket arrives");
	close_pair(&p);
	ok(connect_pair(&p, c12, sctx, "a.example") == 0 && !sb_tls_is_tls13(p.s),
	    "server policy: TLS 1.2 handshake");
	close_pair(&p);
	sb_buf_free(&data);
	sb_tls_ctx_unref(c12);
	sb_tls_ctx_unref(sctx);
}

/* Sessions keep their context alive after the owner drops it (reload). */
static void
test_refcount(void)
{
	struct sb_tls_ctx *sctx = sb_tls_ctx_server(NULL, err, sizeof err);
	struct sb_tls_ctx *cctx = sb_tls_ctx_client(NULL, path("ca.pem"), err, sizeof err);
	struct sb_buf got = SB_BUF_INIT;
	struct pair p;

	sb_tls_ctx_add_cert(sctx, path("a.crt"), path("a.key"), err, sizeof err);
	p.c = sb_tls_new(cctx, "a.example");
	p.s = sb_tls_new(sctx, NULL);
	sb_tls_ctx_unref(sctx);
	sb_tls_ctx_unref(cctx);
	ok(handshake(p.c, p.s) == 0, "handshake after the contexts were released");
	is_int(send_recv(p.c, p.s, "ok", 2, &got), SB_TLS_OK, "and data");
	close_pair(&p);
	sb_buf_free(&got);
}

/* --- certificate identity (RFC 6125 for XMPP), with certificates from a test CA --- */

#define OID_SRV		"1.3.6.1.5.5.7.8.7"
#define OID_XMPP	"1.3.6.1.5.5.7.8.5"
#define KP_SERVER	GNUTLS_KP_TLS_WWW_SERVER
#define SRV		SB_TLS_XMPP_SERVER
#define CLI		SB_TLS_XMPP_CLIENT

static gnutls_x509_crt_t ca_crt;
static gnutls_x509_privkey_t ca_key;
static unsigned char serial_no;

/* A leaf certificate: each field NULL (or all NULLs) when absent. */
struct leaf {
	const char	*name;		/* written to NAME.crt and NAME.key */
	const char	*cn;		/* subject CN */
	const char	*cn2;		/* a second CN */
	const char	*dns[3];	/* dNSName SANs */
	const char	*srv[3];	/* SRV-IDs, encoded as IA5String here */
	const char	*xmpp[2];	/* XmppAddrs, UTF8String by gnutls */
	const char	*uri;
	const char	*raw_oid;	/* one otherName with the raw DER value raw */
	const char	*raw;
	size_t		 rawlen;
	const char	*eku;		/* the only key purpose; NULL: no EKU */
	int		 self_signed;	/* not by the test CA */
};

#define RAW(oid, s)	.raw_oid = (oid), .raw = (s), .rawlen = sizeof(s) - 1

static const struct leaf leaves[] = {
	{ "dns", .dns = { "d.example" } },
	{ "wild", .dns = { "*.example.org", "*.example", "f*.example.net" } },
	{ "srv", .cn = "n.example", .srv = { "_xmpp-server.s.example",
	    "_xmpps-server.t.example", "_xmpp-server.*.w.example" } },
	{ "srvc", .srv = { "_xmpp-client.c.example", "_XMPPS-Client.d.example" } },
	{ "xmpp", .cn = "z.example", .xmpp = { "x.example", "user@y.example" } },
	{ "cn", .cn = "c.example" },
	{ "cn2", .cn = "c.example", .cn2 = "c2.example" },
	{ "cndns", .cn = "c.example", .dns = { "other.example" } },
	{ "idn", .dns = { "xn--bcher-kva.example" }, .xmpp = { "m\xc3\xbcnchen.example" } },
	{ "uri", .cn = "u.example", .uri = "xmpp:u.example" },
	{ "self", .dns = { "self.example" }, .self_signed = 1 },
	/* Client certificates for mutual TLS, the way s2s peers have them. */
	{ "peer", .srv = { "_xmpp-server.a.example" }, .eku = KP_SERVER },
	{ "peerdns", .dns = { "a.example" }, .eku = KP_SERVER },
	{ "peerself", .dns = { "a.example" }, .eku = KP_SERVER, .self_signed = 1 },
	/*
	 * otherName values that would name b.example if read leniently; the
	 * CN b.example is ignored since they are there. gnutls loads them
	 * (an empty IA5String is even well-formed).
	 */
	{ "bad-tag", .cn = "b.example", RAW(OID_SRV, "\x0c\x16_xmpp-server.b.example") },
	{ "bad-nul", .cn = "b.example", RAW(OID_SRV, "\x16\x1c_xmpp-server.b.example\0.evil") },
	{ "bad-len", .cn = "b.example", RAW(OID_SRV, "\x16\x81\x16_xmpp-server.b.example") },
	{ "bad-len2", .cn = "b.example", RAW(OID_SRV, "\x16\x82\x00\x16_xmpp-server.b.example") },
	{ "bad-ia5", .cn = "b.example", RAW(OID_SRV, "\x16\x17_xmpp-server.b.example\xff") },
	{ "bad-cons", .cn = "b.example", RAW(OID_SRV, "\x36\x18\x16\x16_xmpp-server.b.example") },
	{ "bad-empty", .cn = "b.example", RAW(OID_SRV, "\x16\x00") },
	{ "bad-xtag", .cn = "b.example", RAW(OID_XMPP, "\x16\x09" "b.example") },
	{ "bad-utf8", .cn = "b.example", RAW(OID_XMPP, "\x0c\x0a" "b.example\xff") },
	/* These gnutls refuses to load at all (ASN.1 DER errors). */
	{ "bad-trunc", .cn = "b.example", RAW(OID_SRV, "\x16\x30_xmpp-server.b.example") },
	{ "bad-indef", .cn = "b.example", RAW(OID_SRV, "\x16\x80_xmpp-server.b.example\0\0") },
	{ "bad-huge", .cn = "b.example", RAW(OID_SRV, "\x16\x84\xff\xff\xff\xff_xmpp-server") },
};

#define NLEAVES	(sizeof leaves / sizeof leaves[0])

static int
write_pem_file(const char *file, const gnutls_datum_t *d)
{
	FILE *f = fopen(file, "w");
	int ok_ = f != NULL && fwrite(d->data, 1, d->size, f) == d->size;

	if (f != NULL && fclose(f) != 0)
		ok_ = 0;
	return ok_ ? 0 : -1;
}

/* What every certificate here has: serial, 30 days, the key, the CN. */
static int
crt_basics(gnutls_x509_crt_t crt, gnutls_x509_privkey_t key, const char *cn)
{
	unsigned char serial[2] = { 0x10, ++serial_no };
	time_t now = time(NULL);
	int ret;

	if ((ret = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (ret = gnutls_x509_crt_set_serial(crt, serial, sizeof serial)) < 0 ||
	    (ret = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (ret = gnutls_x509_crt_set_expiration_time(crt, now + 30 * 86400)) < 0 ||
	    (ret = gnutls_x509_crt_set_key(crt, key)) < 0)
		return ret;
	if (cn != NULL)
		ret = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
		    cn, (unsigned)strlen(cn));
	return ret;
}

static int
new_key(gnutls_x509_privkey_t *key)
{
	int ret = gnutls_x509_privkey_init(key);

	return ret < 0 ? ret : gnutls_x509_privkey_generate(*key, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
}

/* The test CA, written to ca-test.pem for the trust of both sides. */
static int
make_ca(void)
{
	gnutls_datum_t pem;
	int ret;

	if ((ret = new_key(&ca_key)) < 0 || (ret = gnutls_x509_crt_init(&ca_crt)) < 0 ||
	    (ret = crt_basics(ca_crt, ca_key, "switchboard test CA")) < 0 ||
	    (ret = gnutls_x509_crt_set_basic_constraints(ca_crt, 1, 0)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_usage(ca_crt, GNUTLS_KEY_KEY_CERT_SIGN)) < 0 ||
	    (ret = gnutls_x509_crt_sign2(ca_crt, ca_crt, ca_key, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (ret = gnutls_x509_crt_export2(ca_crt, GNUTLS_X509_FMT_PEM, &pem)) < 0)
		return ret;
	ret = write_pem_file(path("ca-test.pem"), &pem);
	gnutls_free(pem.data);
	return ret;
}

/* An IA5String, DER, for the SRV-IDs (shorter than 128 bytes here). */
static unsigned
ia5(const char *s, unsigned char *out)
{
	size_t len = strlen(s);

	out[0] = 0x16;
	out[1] = (unsigned char)len;
	memcpy(out + 2, s, len);
	return (unsigned)len + 2;
}

static int
leaf_sans(gnutls_x509_crt_t crt, const struct leaf *l)
{
	unsigned char der[130];
	int ret = 0;

	for (size_t i = 0; ret >= 0 && i < 3 && l->dns[i] != NULL; i++)
		ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, l->dns[i],
		    (unsigned)strlen(l->dns[i]), GNUTLS_FSAN_APPEND);
	for (size_t i = 0; ret >= 0 && i < 3 && l->srv[i] != NULL; i++)
		ret = gnutls_x509_crt_set_subject_alt_othername(crt, OID_SRV, der,
		    ia5(l->srv[i], der), GNUTLS_FSAN_APPEND);
	for (size_t i = 0; ret >= 0 && i < 2 && l->xmpp[i] != NULL; i++)
		ret = gnutls_x509_crt_set_subject_alt_othername(crt, OID_XMPP, l->xmpp[i],
		    (unsigned)strlen(l->xmpp[i]), GNUTLS_FSAN_APPEND | GNUTLS_FSAN_ENCODE_UTF8_STRING);
	if (ret >= 0 && l->uri != NULL)
		ret = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_URI, l->uri,
		    (unsigned)strlen(l->uri), GNUTLS_FSAN_APPEND);
	if (ret >= 0 && l->raw_oid != NULL)
		ret = gnutls_x509_crt_set_subject_alt_othername(crt, l->raw_oid, l->raw,
		    (unsigned)l->rawlen, GNUTLS_FSAN_APPEND);
	return ret;
}

static int
make_leaf(const struct leaf *l)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t crtpem = { NULL, 0 }, keypem = { NULL, 0 };
	char name[64];
	int ret;

	if ((ret = new_key(&key)) < 0 || (ret = gnutls_x509_crt_init(&crt)) < 0 ||
	    (ret = crt_basics(crt, key, l->cn)) < 0 ||
	    (l->cn2 != NULL && (ret = gnutls_x509_crt_set_dn_by_oid(crt,
	    GNUTLS_OID_X520_COMMON_NAME, 0, l->cn2, (unsigned)strlen(l->cn2))) < 0) ||
	    (ret = gnutls_x509_crt_set_basic_constraints(crt, 0, -1)) < 0 ||
	    (ret = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE)) < 0 ||
	    (ret = leaf_sans(crt, l)) < 0 ||
	    (l->eku != NULL && (ret = gnutls_x509_crt_set_key_purpose_oid(crt, l->eku, 0)) < 0) ||
	    (ret = gnutls_x509_crt_sign2(crt, l->self_signed ? crt : ca_crt,
	    l->self_signed ? key : ca_key, GNUTLS_DIG_SHA256, 0)) < 0 ||
	    (ret = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &crtpem)) < 0 ||
	    (ret = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
	    GNUTLS_PKCS_PLAIN, &keypem)) < 0)
		goto out;
	snprintf(name, sizeof name, "%s.crt", l->name);
	ret = write_pem_file(path(name), &crtpem);
	snprintf(name, sizeof name, "%s.key", l->name);
	if (ret == 0)
		ret = write_pem_file(path(name), &keypem);
out:
	gnutls_free(crtpem.data);
	gnutls_free(keypem.data);
	gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(key);
	return ret;
}

static void
make_test_ca(void)
{
	int ret = make_ca();

	ok(ret == 0, "test CA made (%s)", ret < 0 ? gnutls_strerror(ret) : "ok");
	for (size_t i = 0; i < NLEAVES; i++) {
		ret = make_leaf(&leaves[i]);
		ok(ret == 0, "certificate %s made (%s)", leaves[i].name,
		    ret < 0 ? gnutls_strerror(ret) : "ok");
	}
}

/* A server with the certificate NAME (NULL: none), or NULL when it will not load. */
static struct sb_tls_ctx *
server_with(const char *name)
{
	struct sb_tls_ctx *ctx = sb_tls_ctx_server(NULL, err, sizeof err);
	char crt[64], key[64];

	snprintf(crt, sizeof crt, "%s.crt", name);
	snprintf(key, sizeof key, "%s.key", name);
	if (ctx != NULL && sb_tls_ctx_add_cert(ctx, path(crt), path(key), err, sizeof err) < 0) {
		sb_tls_ctx_unref(ctx);
		return NULL;
	}
	return ctx;
}

static const struct {
	const char		*leaf, *domain;
	enum sb_tls_service	 service;
	const char		*err;	/* NULL: valid; else in the error text */
} name_cases[] = {
	/* DNS-ID: any case, both services; the names in the error. */
	{ "dns", "d.example", CLI, NULL },
	{ "dns", "d.example", SRV, NULL },
	{ "dns", "D.Example.", SRV, NULL },
	{ "dns", "e.example", CLI, "not valid for e.example (names: d.example)" },
	{ "dns", "x.d.example", SRV, "not valid for x.d.example" },
	/* Wildcards: one whole left-most label, not right under the TLD, not partial. */
	{ "wild", "a.example.org", CLI, NULL },
	{ "wild", "A.Example.ORG", SRV, NULL },
	{ "wild", "example.org", CLI, "(names: *.example.org, *.example, f*.example.net)" },
	{ "wild", "a.b.example.org", CLI, "not valid for a.b.example.org" },
	{ "wild", "a.example", CLI, "not valid for a.example" },
	{ "wild", "foo.example.net", CLI, "not valid for foo.example.net" },
	/* SRV-ID: only for its service; no wildcards; the CN is out. */
	{ "srv", "s.example", SRV, NULL },
	{ "srv", "s.example", CLI, "not valid for s.example (names: SRV-ID _xmpp-server.s.example," },
	{ "srv", "S.EXAMPLE", SRV, NULL },
	{ "srv", "t.example", SRV, NULL },
	{ "srv", "t.example", CLI, "SRV-ID _xmpps-server.t.example" },
	{ "srv", "x.s.example", SRV, "not valid for x.s.example" },
	{ "srv", "a.w.example", SRV, "SRV-ID _xmpp-server.*.w.example" },
	{ "srv", "n.example", SRV, "not valid for n.example (names: SRV-ID _xmpp-server.s.example" },
	{ "srvc", "c.example", CLI, NULL },
	{ "srvc", "c.example", SRV, "SRV-ID _xmpp-client.c.example" },
	{ "srvc", "d.example", CLI, NULL },
	{ "srvc", "d.example", SRV, "not valid for d.example" },
	/* XmppAddr: a bare domain, both services; the CN is out. */
	{ "xmpp", "x.example", SRV, NULL },
	{ "xmpp", "x.example", CLI, NULL },
	{ "xmpp", "y.example", SRV, "XmppAddr user@y.example" },
	{ "xmpp", "z.example", SRV, "not valid for z.example (names: XmppAddr x.example" },
	/* CN-ID: only without any of those. */
	{ "cn", "c.example", CLI, NULL },
	{ "cn", "C.EXAMPLE", SRV, NULL },
	{ "cn", "d.example", CLI, "not valid for d.example (names: CN c.example)" },
	{ "cn2", "c.example", CLI, "(names: CN c.example, CN (more than one))" },
	{ "cn2", "c2.example", CLI, "not valid for c2.example" },
	{ "cndns", "c.example", CLI, "not valid for c.example (names: other.example)" },
	{ "cndns", "other.example", CLI, NULL },
	{ "uri", "u.example", CLI, "(names: URI xmpp:u.example)" },
	/* IDN: U-labels in the reference and in an XmppAddr, A-labels in DNS-IDs. */
	{ "idn", "b\xc3\xbc" "cher.example", SRV, NULL },
	{ "idn", "B\xc3\x9c" "CHER.example", CLI, NULL },
	{ "idn", "xn--bcher-kva.example", CLI, NULL },
	{ "idn", "bucher.example", CLI, "not valid for bucher.example" },
	{ "idn", "m\xc3\xbcnchen.example", SRV, NULL },
	{ "idn", "xn--mnchen-3ya.example", SRV, NULL },
	{ "idn", "a b.example", SRV, "not a domain name" },
	{ "idn", "b\xff.example", SRV, "not a domain name" },
	/* Malformed otherNames: not matched, listed as such, and the CN is out. */
	{ "bad-tag", "b.example", SRV, "(names: SRV-ID (malformed))" },
	{ "bad-nul", "b.example", SRV, "(names: SRV-ID (malformed))" },
	{ "bad-len", "b.example", SRV, "(names: SRV-ID (malformed))" },
	{ "bad-len2", "b.example", SRV, "(names: SRV-ID (malformed))" },
	{ "bad-ia5", "b.example", SRV, "(names: SRV-ID (malformed))" },
	{ "bad-cons", "b.example", SRV, "(names: SRV-ID (malformed))" },
	{ "bad-empty", "b.example", SRV, "(names: SRV-ID (empty))" },
	{ "bad-xtag", "b.example", SRV, "(names: XmppAddr (malformed))" },
	{ "bad-utf8", "b.example", SRV, "(names: XmppAddr b.example?)" },
};

static void
test_names(void)
{
	struct sb_tls_ctx *cctx = sb_tls_ctx_client(NULL, path("ca-test.pem"), err, sizeof err);
	struct sb_tls_ctx *sctx = NULL;
	const char *leaf = "";
	struct pair p = { NULL, NULL };
	int r, connected = 0;

	for (size_t i = 0; i < sizeof name_cases / sizeof name_cases[0]; i++) {
		if (strcmp(leaf, name_cases[i].leaf) != 0) {
			close_pair(&p);
			sb_tls_ctx_unref(sctx);
			leaf = name_cases[i].leaf;
			sctx = server_with(leaf);
			connected = sctx != NULL && connect_pair(&p, cctx, sctx, NULL) == 0;
			if (!connected)
				diag("certificate %s: %s", leaf, sctx ? sb_tls_error(p.c) : err);
		}
		err[0] = '\0';
		r = connected ? sb_tls_peer_verify_xmpp(p.c, name_cases[i].domain,
		    name_cases[i].service, err, sizeof err) : -2;
		if (name_cases[i].err == NULL)
			ok(r == 0, "%s: valid for %s as %s (%s)", leaf, name_cases[i].domain,
			    name_cases[i].service == SRV ? "server" : "client", err);
		else
			ok(r == -1 && strstr(err, name_cases[i].err) != NULL,
			    "%s: not valid for %s as %s: %s", leaf, name_cases[i].domain,
			    name_cases[i].service == SRV ? "server" : "client", err);
	}
	close_pair(&p);
	sb_tls_ctx_unref(sctx);

	/* sb_tls_peer_verify is the client service. */
	sctx = server_with("srvc");
	connect_pair(&p, cctx, sctx, NULL);
	err[0] = '\0';
	ok(sb_tls_peer_verify(p.c, "c.example", err, sizeof err) == 0,
	    "sb_tls_peer_verify takes _xmpp-client SRV-IDs (%s)", err);
	close_pair(&p);
	sb_tls_ctx_unref(sctx);
	sctx = server_with("srv");
	connect_pair(&p, cctx, sctx, NULL);
	ok(sb_tls_peer_verify(p.c, "s.example", err, sizeof err) == -1,
	    "sb_tls_peer_verify refuses _xmpp-server SRV-IDs: %s", err);
	close_pair(&p);
	sb_tls_ctx_unref(sctx);

	/* Untrusted: the chain's reason, whatever the names. */
	sctx = server_with("self");
	connect_pair(&p, cctx, sctx, NULL);
	ok(sb_tls_peer_verify_xmpp(p.c, "self.example", SRV, err, sizeof err) == -1 &&
	    strstr(err, "NOT trusted") != NULL && strstr(err, "issuer is unknown") != NULL,
	    "self-signed certificate: %s", err);
	close_pair(&p);
	sb_tls_ctx_unref(sctx);

	/* gnutls itself refuses otherNames that are not even BER. */
	for (size_t i = 0; i < NLEAVES; i++) {
		if (strcmp(leaves[i].name, "bad-trunc") != 0 && strcmp(leaves[i].name,
		    "bad-indef") != 0 && strcmp(leaves[i].name, "bad-huge") != 0)
			continue;
		sctx = server_with(leaves[i].name);
		ok(sctx == NULL, "%s: gnutls does not load it: %s", leaves[i].name, err);
		sb_tls_ctx_unref(sctx);
	}
	sb_tls_ctx_unref(cctx);
}

/*
 * s2s incoming: the server asks for a certificate, the client presents
 * its server certificate (serverAuth only), the server checks it for the
 * domain the client claims.
 */
static void
test_mutual(void)
{
	static const struct {
		const char		*leaf, *domain;
		enum sb_tls_service	 service;
		const char		*err;
		const char		*priority;	/* the client's */
	} cases[] = {
		{ "peer", "a.example", SRV, NULL, NULL },
		{ "peer", "a.example", SRV, NULL, TLS12 },
		{ "peer", "a.example", CLI, "not valid for a.example (names: SRV-ID _xmpp-server.a.example)", NULL },
		{ "peer", "b.example", SRV, "not valid for b.example", NULL },
		{ "peerdns", "a.example", SRV, NULL, NULL },
		{ "peerdns", "b.example", SRV, "not valid for b.example (names: a.example)", NULL },
		{ "peerself", "a.example", SRV, "issuer is unknown", NULL },
	};
	struct sb_tls_ctx *sctx = server_with("dns");
	struct sb_tls_ctx *cctx;
	struct pair p;
	char crt[64], key[64];
	int r;

	err[0] = '\0';
	ok(sctx != NULL && sb_tls_ctx_set_trust(sctx, path("ca-test.pem"), err, sizeof err) == 0,
	    "server trusts the test CA (%s)", err);
	sb_tls_ctx_request_client_cert(sctx, 1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cctx = sb_tls_ctx_client(cases[i].priority, path("ca-test.pem"), err, sizeof err);
		snprintf(crt, sizeof crt, "%s.crt", cases[i].leaf);
		snprintf(key, sizeof key, "%s.key", cases[i].leaf);
		sb_tls_ctx_add_cert(cctx, path(crt), path(key), err, sizeof err);
		r = connect_pair(&p, cctx, sctx, "d.example");
		ok(r == 0 && sb_tls_peer_has_cert(p.s), "%s: the client presents its certificate (%s)",
		    cases[i].leaf, sb_tls_version(p.s));
		err[0] = '\0';
		ok(sb_tls_peer_verify_xmpp(p.c, "d.example", SRV, err, sizeof err) == 0,
		    "%s: and the client verifies the server (%s)", cases[i].leaf, err);
		err[0] = '\0';
		if (cases[i].err == NULL)
			ok(sb_tls_peer_verify_xmpp(p.s, cases[i].domain, cases[i].service,
			    err, sizeof err) == 0, "%s: server verifies the client as %s (%s)",
			    cases[i].leaf, cases[i].domain, err);
		else
			ok(sb_tls_peer_verify_xmpp(p.s, cases[i].domain, cases[i].service,
			    err, sizeof err) == -1 && strstr(err, cases[i].err) != NULL,
			    "%s: server refuses the client as %s: %s", cases[i].leaf,
			    cases[i].domain, err);
		close_pair(&p);
		sb_tls_ctx_unref(cctx);
	}
	sb_tls_ctx_unref(sctx);
}

static void
cleanup_test_ca(void)
{
	char name[64];

	for (size_t i = 0; i < NLEAVES; i++) {
		snprintf(name, sizeof name, "%s.crt", leaves[i].name);
		unlink(path(name));
		snprintf(name, sizeof name, "%s.key", leaves[i].name);
		unlink(path(name));
	}
	unlink(path("ca-test.pem"));
	gnutls_x509_crt_deinit(ca_crt);
	gnutls_x509_privkey_deinit(ca_key);
}

static void
cleanup(void)
{
	static const char *files[] = {
		"a.crt", "a.key", "b.crt", "b.key", "c.crt", "c.key", "ca.pem",
		"w.crt", "w.key", "w.tmpl",
	};

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
		unlink(path(files[i]));
	cleanup_test_ca();
	ok(rmdir(dir) == 0, "temporary directory removed");
}

int
main(void)
{
	struct sb_tls_ctx *sctx, *cctx, *c12;

	make_certs();
	test_ctx_errors();

	sctx = sb_tls_ctx_server(NULL, err, sizeof err);
	ok(sb_tls_ctx_add_cert(sctx, path("a.crt"), path("a.key"), err, sizeof err) == 0 &&
	    sb_tls_ctx_add_cert(sctx, path("b.crt"), path("b.key"), err, sizeof err) == 0,
	    "server context with two certificates (%s)", err);
	sb_tls_ctx_set_alpn(sctx, ALPN);
	cctx = sb_tls_ctx_client(NULL, path("ca.pem"), err, sizeof err);
	ok(cctx != NULL, "client context (%s)", err);
	sb_tls_ctx_set_alpn(cctx, ALPN);

	test_tls13(cctx, sctx);
	test_bulk(cctx, sctx);
	test_sni(cctx, sctx);
	test_wildcard(cctx);
	test_tls12(sctx);
	test_alpn(sctx);
	test_verify(sctx);
	test_client_cert();
	test_shared_trust();
	test_resume(cctx, sctx, "TLS 1.3");
	c12 = sb_tls_ctx_client(TLS12, path("ca.pem"), err, sizeof err);
	test_resume(c12, sctx, "TLS 1.2");
	sb_tls_ctx_unref(c12);
	test_garbage(cctx, sctx);
	test_server_priority(cctx);
	test_refcount();
	make_test_ca();
	test_names();
	test_mutual();

	sb_tls_ctx_unref(cctx);
	sb_tls_ctx_unref(sctx);
	cleanup();
	gnutls_global_deinit();
	return done_testing();
}
