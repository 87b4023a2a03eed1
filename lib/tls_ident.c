/*
 * tls_ident.c: the peer's certificate identity, the name check behind
 * sb_tls_peer_verify_xmpp() and sb_tls_peer_verify() (see tls.h).
 *
 * RFC 6125 as RFC 6120 13.7.1.2 and RFC 7590 profile it. The reference
 * identifier is the domain in A-label form. The certificate presents
 * DNS-IDs (dNSName), SRV-IDs (otherName id-on-dnsSRV, RFC 4985, an
 * IA5String "_service.domain") and XmppAddrs (otherName id-on-xmppAddr,
 * a UTF8String); its CN counts only when it presents none of those and no
 * URI (RFC 6125 6.4.4). When nothing matches, the error text lists the
 * names the certificate presents.
 *
 * The names are read raw with gnutls_subject_alt_names_get() and the
 * otherName values decoded here: gnutls_x509_crt_get_subject_alt_name2()
 * decodes XmppAddr itself, and SRV-IDs too in Debian's 3.7.9-2+deb12u7 (a
 * backport from 3.8.13, leniently: it takes non-minimal DER lengths and
 * bytes >= 0x80 in an IA5String) but not in upstream 3.7.9. Decoding both
 * ourselves gives one strict behaviour on every build.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>
#include <idn2.h>

#include "tls.h"
#include "tls_priv.h"

#define OID_SAN		"2.5.29.17"
#define OID_XMPPADDR	"1.3.6.1.5.5.7.8.5"	/* RFC 6120 13.7.1.4 */
#define OID_DNSSRV	"1.3.6.1.5.5.7.8.7"	/* RFC 4985 */
#define DER_UTF8STRING	0x0c
#define DER_IA5STRING	0x16
#define LABEL_MAX	63
#define SHOWN_MAX	6	/* presented names listed in an error text */
#define SHOWN_LEN	64	/* bytes of each, at most */

struct ref_id {
	char			 name[MAX_NAME];	/* A-labels, lower case, no final dot */
	size_t			 len;
	enum sb_tls_service	 service;
};

/* The names the certificate presents, for the error text. */
struct presented {
	char		 text[SHOWN_MAX * (SHOWN_LEN + 20) + 8];
	size_t		 len;
	unsigned	 count;
	int		 san_ids;	/* has a DNS-, SRV-, URI-ID or XmppAddr: no CN-ID */
};

/* SRV-ID service names of each service (RFC 6120 13.7.1.2.1, RFC 7590 3.2). */
static const char *const srv_services[][2] = {
	[SB_TLS_XMPP_CLIENT] = { "_xmpp-client", "_xmpps-client" },
	[SB_TLS_XMPP_SERVER] = { "_xmpp-server", "_xmpps-server" },
};

/* n bytes of a (any case) equal to b (lower case)? NULs compare as bytes. */
static int
ascii_caseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = a[i] >= 'A' && a[i] <= 'Z' ? (char)(a[i] - 'A' + 'a') : a[i];

		if (c != b[i])
			return 0;
	}
	return 1;
}

/* Lower-case letters, digits and hyphens, in dot-separated labels of 1..63. */
static int
is_ldh_name(const char *s, size_t len)
{
	size_t label = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (label == 0)
				return 0;
			label = 0;
		} else if ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-') {
			if (++label > LABEL_MAX)
				return 0;
		} else {
			return 0;
		}
	}
	return label > 0;
}

/*
 * A domain (UTF-8 with U-labels or A-labels, any case, one final dot
 * allowed) into its A-label form in out (MAX_NAME bytes): its length, or
 * -1 when it is not a DNS name. The mapping is jid.c's: UTS #46,
 * non-transitional.
 */
static int
to_alabel(const char *s, size_t len, char *out)
{
	char in[4 * MAX_NAME], *a = NULL;
	size_t n = len;
	int ascii = 1;

	if (len > 0 && s[len - 1] == '.')
		n = --len;
	if (len == 0 || len >= sizeof in || memchr(s, '\0', len) != NULL)
		return -1;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			ascii = 0;
	if (ascii) {
		if (len >= MAX_NAME)
			return -1;
		memcpy(out, s, len);
	} else {
		memcpy(in, s, len);
		in[len] = '\0';
		if (idn2_lookup_u8((const uint8_t *)in, (uint8_t **)&a,
		    IDN2_NONTRANSITIONAL) != IDN2_OK)
			return -1;
		n = strlen(a);
		if (n > 0 && a[n - 1] == '.')	/* a mapped full stop: "example\u3002" */
			n--;
		if (n < MAX_NAME)
			memcpy(out, a, n);
		idn2_free(a);
		if (n >= MAX_NAME)
			return -1;
	}
	out[n] = '\0';
	lower(out);
	return is_ldh_name(out, n) ? (int)n : -1;
}

/*
 * The value of an otherName as gnutls hands it over is one DER TLV from
 * the peer. Accept only the expected primitive string type, with a
 * definite length in its shortest form that covers exactly the rest of
 * the value, and no NUL inside (an IA5String: ASCII only). The bytes are
 * set in *val and *vlen.
 */
static int
der_string(const unsigned char *p, size_t len, unsigned char tag,
    const unsigned char **val, size_t *vlen)
{
	size_t n, l = 0, hdr;

	if (p == NULL || len < 2 || p[0] != tag)
		return -1;
	if (p[1] < 0x80) {
		l = p[1];
		hdr = 2;
	} else {
		/* 0x80 is BER's indefinite length; more than 4 bytes, > 4 GB. */
		n = p[1] & 0x7f;
		if (n == 0 || n > 4 || n > len - 2 || p[2] == 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			l = l << 8 | p[2 + i];
		if (l < 0x80)
			return -1;
		hdr = 2 + n;
	}
	if (l != len - hdr || memchr(p + hdr, '\0', l) != NULL)
		return -1;
	for (size_t i = 0; tag == DER_IA5STRING && i < l; i++)
		if (p[hdr + i] >= 0x80)
			return -1;
	*val = p + hdr;
	*vlen = l;
	return 0;
}

/*
 * DNS-ID and CN-ID (RFC 6125 6.4.3, as RFC 9525 tightened it): a wildcard
 * only as the whole left-most label, standing for exactly one label, and
 * not right under a top-level domain ("*.example" matches nothing).
 */
static int
dns_id_matches(const char *id, size_t len, const struct ref_id *ref)
{
	const char *name = ref->name, *dot;
	size_t nlen = ref->len;

	if (len > 0 && id[len - 1] == '.')
		len--;
	if (len > 2 && id[0] == '*' && id[1] == '.') {
		id++;
		len--;
		if (memchr(id + 1, '.', len - 1) == NULL ||
		    (dot = memchr(name, '.', nlen)) == NULL)
			return 0;
		nlen -= (size_t)(dot - name);
		name = dot;
	}
	return len == nlen && memchr(id, '*', len) == NULL && ascii_caseeq(id, name, len);
}

/* SRV-ID "_service.domain": a service name of ref's service, the domain exactly. */
static int
srv_id_matches(const char *v, size_t len, const struct ref_id *ref)
{
	const char *dot = memchr(v, '.', len);
	size_t slen;

	if (len > 0 && v[len - 1] == '.')
		len--;
	if (dot == NULL || dot >= v + len)
		return 0;
	slen = (size_t)(dot - v);
	for (size_t i = 0; i < 2; i++) {
		const char *svc = srv_services[ref->service][i];

		if (strlen(svc) == slen && ascii_caseeq(v, svc, slen))
			return len - slen - 1 == ref->len &&
			    ascii_caseeq(dot + 1, ref->name, ref->len);
	}
	return 0;
}

/*
 * An XmppAddr names a server only as a bare domain (RFC 6120 13.7.1.4);
 * being UTF-8 it may hold U-labels, so it is compared in A-label form.
 */
static int
xmpp_addr_matches(const char *v, size_t len, const struct ref_id *ref)
{
	char a[MAX_NAME];
	int n;

	if (memchr(v, '@', len) != NULL || memchr(v, '/', len) != NULL)
		return 0;
	n = to_alabel(v, len, a);
	return n >= 0 && (size_t)n == ref->len && memcmp(a, ref->name, ref->len) == 0;
}

static const struct {
	const char	*oid;
	unsigned char	 tag;
	const char	*kind;		/* in error texts */
	int		(*matches)(const char *, size_t, const struct ref_id *);
} othernames[] = {
	{ OID_DNSSRV,	DER_IA5STRING,	"SRV-ID ",	srv_id_matches },
	{ OID_XMPPADDR,	DER_UTF8STRING,	"XmppAddr ",	xmpp_addr_matches },
};

/* Append to the error text: printable ASCII, anything else as '?'. */
static void
shown_put(struct presented *pr, const char *s, size_t len)
{
	for (size_t i = 0; i < len && pr->len + 1 < sizeof pr->text; i++) {
		unsigned char c = (unsigned char)s[i];

		pr->text[pr->len++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	pr->text[pr->len] = '\0';
}

static void
presented_add(struct presented *pr, const char *kind, const void *name, size_t len)
{
	if (pr->count++ >= SHOWN_MAX)
		return;
	if (pr->count > 1)
		shown_put(pr, ", ", 2);
	shown_put(pr, kind, strlen(kind));
	if (len == 0)
		shown_put(pr, "(empty)", 7);
	shown_put(pr, name, len < SHOWN_LEN ? len : SHOWN_LEN);
	if (len > SHOWN_LEN)
		shown_put(pr, "...", 3);
}

static int
oid_is(const gnutls_datum_t *oid, const char *want)
{
	size_t n = strlen(want);

	return oid->data != NULL && (oid->size == n ||
	    (oid->size == n + 1 && oid->data[n] == '\0')) && memcmp(oid->data, want, n) == 0;
}

/* One subjectAltName: does it match ref? Notes what it presents in pr. */
static int
san_matches(const struct ref_id *ref, unsigned type, const gnutls_datum_t *san,
    const gnutls_datum_t *oid, struct presented *pr)
{
	const unsigned char *v;
	size_t vlen;

	switch (type) {
	case GNUTLS_SAN_DNSNAME:
		pr->san_ids = 1;
		presented_add(pr, "", san->data, san->size);
		return dns_id_matches((const char *)san->data, san->size, ref);
	case GNUTLS_SAN_URI:
		/* XMPP has no URI-ID, but one still rules out the CN. */
		pr->san_ids = 1;
		presented_add(pr, "URI ", san->data, san->size);
		return 0;
	case GNUTLS_SAN_OTHERNAME:
		for (size_t i = 0; i < sizeof othernames / sizeof othernames[0]; i++) {
			if (!oid_is(oid, othernames[i].oid))
				continue;
			pr->san_ids = 1;
			if (der_string(san->data, san->size, othernames[i].tag, &v, &vlen) < 0) {
				presented_add(pr, othernames[i].kind, "(malformed)", 11);
				return 0;
			}
			presented_add(pr, othernames[i].kind, v, vlen);
			return othernames[i].matches((const char *)v, vlen, ref);
		}
		return 0;
	default:
		return 0;
	}
}

/* 1 when a subjectAltName matches, 0 when none does, -1 (err set) on error. */
static int
sans_match(gnutls_x509_crt_t crt, const struct ref_id *ref, struct presented *pr,
    char *err, size_t errlen)
{
	gnutls_subject_alt_names_t sans = NULL;
	gnutls_datum_t ext = { NULL, 0 }, san, oid;
	unsigned type, critical;
	int ret, match = 0;

	ret = gnutls_x509_crt_get_extension_by_oid2(crt, OID_SAN, 0, &ext, &critical);
	if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return 0;
	if (ret < 0 || (ret = gnutls_subject_alt_names_init(&sans)) < 0 ||
	    (ret = gnutls_x509_ext_import_subject_alt_names(&ext, sans, 0)) < 0)
		goto fail;
	for (unsigned i = 0; match == 0; i++) {
		ret = gnutls_subject_alt_names_get(sans, i, &type, &san, &oid);
		if (ret == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (ret < 0)
			goto fail;
		match = san_matches(ref, type, &san, &oid, pr);
	}
	goto out;
fail:
	gtls_err(err, errlen, "peer certificate subjectAltName", ret);
	match = -1;
out:
	if (sans != NULL)
		gnutls_subject_alt_names_deinit(sans);
	gnutls_free(ext.data);
	return match;
}

/* CN-ID, only from a subject with exactly one CN (as gnutls does too). */
static int
cn_matches(gnutls_x509_crt_t crt, const struct ref_id *ref, struct presented *pr)
{
	char cn[MAX_NAME], more[2];
	size_t len = sizeof cn, mlen = sizeof more;
	int ret;

	ret = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &len);
	if (ret == GNUTLS_E_SHORT_MEMORY_BUFFER)
		presented_add(pr, "CN ", "(too long)", 10);
	if (ret < 0 || len >= sizeof cn)
		return 0;
	presented_add(pr, "CN ", cn, len);
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 1, 0,
	    more, &mlen) != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		presented_add(pr, "CN ", "(more than one)", 15);
		return 0;
	}
	return dns_id_matches(cn, len, ref);
}

/* An IP literal ("192.0.2.1", "[2001:db8::1]") into addr: its length, or 0. */
static unsigned
ip_literal(const char *domain, unsigned char addr[16])
{
	char buf[64];
	size_t n = strlen(domain);

	if (inet_pton(AF_INET, domain, addr) == 1)
		return 4;
	if (n < 2 || n - 2 >= sizeof buf || domain[0] != '[' || domain[n - 1] != ']')
		return inet_pton(AF_INET6, domain, addr) == 1 ? 16 : 0;
	memcpy(buf, domain + 1, n - 2);
	buf[n - 2] = '\0';
	return inet_pton(AF_INET6, buf, addr) == 1 ? 16 : 0;
}

static int
peer_check_name(const struct sb_tls *tls, const char *domain,
    enum sb_tls_service service, char *err, size_t errlen)
{
	struct presented pr = { .len = 0 };
	struct ref_id ref = { .service = service };
	unsigned char addr[16];
	const gnutls_datum_t *der;
	gnutls_x509_crt_t crt;
	unsigned n = 0, iplen = ip_literal(domain, addr);
	int ret, match = 0;

	if (iplen == 0) {
		if ((ret = to_alabel(domain, strlen(domain), ref.name)) < 0) {
			seterr(err, errlen, "not a domain name: %s", domain);
			return -1;
		}
		ref.len = (size_t)ret;
	}
	der = gnutls_certificate_get_peers(tls->s, &n);
	if (gnutls_x509_crt_init(&crt) < 0)
		return gtls_err(err, errlen, "certificate", GNUTLS_E_MEMORY_ERROR);
	if ((ret = gnutls_x509_crt_import(crt, &der[0], GNUTLS_X509_FMT_DER)) < 0) {
		gtls_err(err, errlen, "peer certificate", ret);
		match = -1;
	} else if (iplen > 0) {
		/* XMPP has no rules for IP literals: the iPAddress SANs, as before. */
		match = gnutls_x509_crt_check_ip(crt, addr, iplen, 0) != 0;
	} else {
		match = sans_match(crt, &ref, &pr, err, errlen);
		if (match == 0 && !pr.san_ids)
			match = cn_matches(crt, &ref, &pr);
	}
	gnutls_x509_crt_deinit(crt);
	if (match < 0)
		return -1;
	if (match == 0 && iplen > 0) {
		seterr(err, errlen, "peer certificate is not valid for %s", domain);
		return -1;
	}
	if (match == 0) {
		if (pr.count > SHOWN_MAX)
			shown_put(&pr, ", ...", 5);
		seterr(err, errlen, "peer certificate is not valid for %s (%s%s)", domain,
		    pr.count > 0 ? "names: " : "no names", pr.text);
		return -1;
	}
	return 0;
}

int
sb_tls_peer_verify_xmpp(const struct sb_tls *tls, const char *domain,
    enum sb_tls_service service, char *err, size_t errlen)
{
	gnutls_datum_t text;
	unsigned status;
	size_t n;
	int ret;

	if ((unsigned)service >= sizeof srv_services / sizeof srv_services[0] ||
	    domain == NULL) {
		seterr(err, errlen, "peer verification: no domain or unknown service");
		return -1;
	}
	if (!sb_tls_handshake_done(tls)) {
		seterr(err, errlen, "handshake not complete");
		return -1;
	}
	if (!sb_tls_peer_has_cert(tls)) {
		seterr(err, errlen, "peer sent no certificate");
		return -1;
	}
	if (gnutls_certificate_type_get2(tls->s, GNUTLS_CTYPE_PEERS) != GNUTLS_CRT_X509) {
		seterr(err, errlen, "peer certificate is not X.509");
		return -1;
	}
	/*
	 * The chain only: no key purpose is asked for, so a server's
	 * certificate (serverAuth only) is accepted as an s2s client's.
	 */
	if ((ret = gnutls_certificate_verify_peers2(tls->s, &status)) < 0)
		return gtls_err(err, errlen, "certificate verification", ret);
	if (status != 0) {
		ret = gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &text, 0);
		if (ret < 0)
			return gtls_err(err, errlen, "certificate verification", ret);
		/* gnutls ends each sentence with a space, the last one too. */
		for (n = strlen((char *)text.data); n > 0 && text.data[n - 1] == ' '; n--)
			text.data[n - 1] = '\0';
		seterr(err, errlen, "%s", text.data);
		gnutls_free(text.data);
		return -1;
	}
	return peer_check_name(tls, domain, service, err, errlen);
}

int
sb_tls_peer_verify(const struct sb_tls *tls, const char *domain, char *err, size_t errlen)
{
	return sb_tls_peer_verify_xmpp(tls, domain, SB_TLS_XMPP_CLIENT, err, errlen);
}
