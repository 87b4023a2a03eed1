/*
 * dialback.c: Server Dialback (XEP-0220) with the keys of XEP-0185.
 *
 * We are the originating server on our outgoing streams (out.c sends
 * <db:result/> with our key), the receiving server on incoming streams
 * (a <db:result/> with a key is checked here: with the authoritative
 * server of its domain, by <db:verify/> on our outgoing stream for the
 * same pair), and the authoritative server for our own domains (a
 * <db:verify/> is answered here).
 *
 * Keys: HMAC-SHA256 keyed with the hex SHA-256 of the dialback secret,
 * over "receiving originating stream-id", in hex. The secret is
 * <dialback secret='...'/> or, by default, derived from the router link
 * secret, so every s2s instance of one deployment makes the same keys and
 * any of them can answer for another.
 *
 * A key arriving on a stream whose TLS certificate is already valid for
 * the claimed domain needs no verification: it is valid at once (the
 * certificate proves more than dialback can). Under the require-cert
 * policy a domain without such a certificate is refused.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "jid.h"
#include "s2s.h"
#include "xmalloc.h"

static void
hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

void
dialback_init(struct s2s *s2s)
{
	static const char label[] = "switchboard s2s dialback: ";
	const char *secret = s2s->conf->dialback_secret;
	struct sb_buf b = SB_BUF_INIT;

	if (secret == NULL) {
		sb_buf_append_str(&b, label);
		sb_buf_append_str(&b, s2s->conf->secret);
	} else {
		sb_buf_append_str(&b, secret);
	}
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, sb_buf_data(&b), sb_buf_len(&b), s2s->db_key) < 0)
		fatal("SHA-256 failed");
	gnutls_memset(sb_buf_data(&b), 0, sb_buf_len(&b));
	sb_buf_free(&b);
}

void
dialback_key(const struct s2s *s2s, const char *receiving, const char *originating,
    const char *id, char out[65])
{
	unsigned char mac[32];
	char keyhex[65];
	struct sb_buf b = SB_BUF_INIT;

	hex(s2s->db_key, sizeof(s2s->db_key), keyhex);
	sb_buf_printf(&b, "%s %s %s", receiving, originating, id);
	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, keyhex, 64, sb_buf_data(&b), sb_buf_len(&b),
	    mac) < 0)
		fatal("HMAC-SHA256 failed");
	sb_buf_free(&b);
	hex(mac, sizeof(mac), out);
}

/* Constant time: the key is a secret until it has been compared. */
static int
keys_equal(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned char d = la != lb;

	for (size_t i = 0; i < la && i < lb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* <db:result type='error'/> for a request we refuse outright. */
static void
result_error(struct s2s_stream *in, const char *local, const char *remote, const char *cond,
    const char *text)
{
	struct sb_buf *b = &in->s2s->out;

	sb_buf_clear(b);
	sb_buf_append_str(b, "<db:result");
	sb_xml_write_attr(b, "from", local);
	sb_xml_write_attr(b, "to", remote);
	sb_buf_printf(b, " type='error'><error type='cancel'><%s xmlns='" SB_NS_XMPP_STANZAS "'/>",
	    cond);
	if (text != NULL) {
		sb_buf_append_str(b, "<text xmlns='" SB_NS_XMPP_STANZAS "'>");
		sb_xml_escape_text(b, text, strlen(text));
		sb_buf_append_str(b, "</text>");
	}
	sb_buf_append_str(b, "</error></db:result>");
	stream_write_buf(in, b);
}

void
dialback_request(struct s2s_stream *in, struct sb_xml_node *el)
{
	struct s2s *s2s = in->s2s;
	char remote[SB_JID_PART_BUFSIZE], local[SB_JID_PART_BUFSIZE], why[300];
	const char *key = sb_xml_text(&s2s->scratch, el, NULL);
	struct s2s_pair *p;
	struct s2s_verify *v;
	struct s2s_stream *out;
	struct route *r;
	enum s2s_policy policy;
	int cert_ok;

	if (s2s_domain(sb_xml_attr(el, "from"), remote, sizeof(remote)) == -1) {
		stream_error(in, SB_LOG_INFO, SB_STERR_INVALID_FROM, "db:result: 'from' is not a domain");
		return;
	}
	if (s2s_domain(sb_xml_attr(el, "to"), local, sizeof(local)) == -1 ||
	    !s2s_is_local(s2s, local)) {
		result_error(in, sb_xml_attr(el, "to") != NULL ? sb_xml_attr(el, "to") : "",
		    remote, "item-not-found", "not a domain served here");
		return;
	}
	if (*key == '\0' || strlen(key) > 1024) {
		stream_error(in, SB_LOG_INFO, SB_STERR_BAD_FORMAT, "db:result without a usable key");
		return;
	}
	for (p = in->pairs; p != NULL; p = p->next)
		if (strcmp(p->remote, remote) == 0 && strcmp(p->local, local) == 0)
			break;
	if (p != NULL) {
		/* Asked again: a valid pair stays valid; a pending one waits for its answer. */
		if (p->state == PAIR_VALID) {
			p->state = PAIR_PENDING;
			in_pair_result(in, remote, local, "valid");
		}
		return;
	}
	policy = s2s_conf_policy(s2s->conf, remote);
	if (policy == S2S_POLICY_DENY) {
		result_error(in, local, remote, "not-allowed", "federation is not allowed");
		return;
	}
	cert_ok = 0;
	if (in->conn != NULL && sb_conn_tls(in->conn) != NULL &&
	    sb_tls_handshake_done(sb_conn_tls(in->conn)))
		cert_ok = sb_tls_peer_verify_xmpp(sb_conn_tls(in->conn), remote,
		    SB_TLS_XMPP_SERVER, why, sizeof(why)) == 0;
	else
		snprintf(why, sizeof(why), "no TLS");
	if (!cert_ok && policy == S2S_POLICY_REQUIRE_CERT) {
		s2s->n.auth_failed++;
		stream_log(in, SB_LOG_INFO, "dialback for %s refused: a valid certificate is "
		    "required (%s)", remote, why);
		result_error(in, local, remote, "not-authorized",
		    "a certificate valid for the domain is required");
		return;
	}
	p = xcalloc(1, sizeof(*p));
	p->remote = xstrdup(remote);
	p->local = xstrdup(local);
	p->state = PAIR_PENDING;
	p->since_ms = s2s_now_ms(s2s);
	p->next = in->pairs;
	in->pairs = p;
	if (cert_ok) {
		in_pair_result(in, remote, local, "valid");
		return;
	}
	/* Ask the authoritative server, on our stream to it for the same pair. */
	stream_log(in, SB_LOG_DEBUG, "dialback for %s: asking its authoritative server", remote);
	r = route_get(s2s, local, remote, 1);
	v = xcalloc(1, sizeof(*v));
	snprintf(v->in_id, sizeof(v->in_id), "%s", in->id);
	v->key = xstrdup(key);
	v->since_ms = s2s_now_ms(s2s);
	v->next = *route_verifies(r);
	*route_verifies(r) = v;
	if ((out = route_out(s2s, r)) != NULL && out_can_verify(out))
		dialback_flush(s2s, r, out);
}

void
dialback_flush(struct s2s *s2s, struct route *r, struct s2s_stream *out)
{
	struct sb_buf *b = &s2s->out;

	for (struct s2s_verify *v = *route_verifies(r); v != NULL; v = v->next) {
		if (v->sent)
			continue;
		sb_buf_clear(b);
		sb_buf_append_str(b, "<db:verify");
		sb_xml_write_attr(b, "from", route_local(r));
		sb_xml_write_attr(b, "to", route_remote(r));
		sb_xml_write_attr(b, "id", v->in_id);
		sb_buf_append_char(b, '>');
		sb_xml_escape_text(b, v->key, strlen(v->key));
		sb_buf_append_str(b, "</db:verify>");
		v->sent = 1;
		if (stream_write_buf(out, b) == -1)
			return;
	}
}

/* The incoming stream waiting for v, answered with type. */
static void
answer(struct s2s *s2s, struct route *r, struct s2s_verify *v, const char *type)
{
	struct sb_hmap_node *n = sb_hmap_find(&s2s->by_id, v->in_id, strlen(v->in_id));

	if (n != NULL)
		in_pair_result(SB_HMAP_ENTRY(n, struct s2s_stream, hn), route_remote(r),
		    route_local(r), type);
}

void
dialback_verified(struct s2s_stream *out, struct sb_xml_node *el)
{
	struct s2s *s2s = out->s2s;
	const char *id = sb_xml_attr(el, "id"), *type = sb_xml_attr(el, "type");
	struct s2s_verify **vp, *v;
	struct route *r = out->route;

	if (r == NULL || id == NULL || type == NULL) {
		stream_error(out, SB_LOG_INFO, SB_STERR_BAD_FORMAT, "db:verify answer without id or type");
		return;
	}
	for (vp = route_verifies(r); (v = *vp) != NULL; vp = &v->next)
		if (v->sent && strcmp(v->in_id, id) == 0)
			break;
	if (v == NULL) {
		stream_log(out, SB_LOG_INFO, "a db:verify answer for stream %s we did not ask about",
		    id);
		return;
	}
	*vp = v->next;
	stream_log(out, SB_LOG_DEBUG, "dialback verification for stream %s: %s", id, type);
	answer(s2s, r, v, strcmp(type, "valid") == 0 ? "valid" :
	    strcmp(type, "invalid") == 0 ? "invalid" : "error");
	free(v->key);
	free(v);
}

void
dialback_answer(struct s2s_stream *in, struct sb_xml_node *el)
{
	struct s2s *s2s = in->s2s;
	char receiving[SB_JID_PART_BUFSIZE], originating[SB_JID_PART_BUFSIZE], expect[65];
	const char *id = sb_xml_attr(el, "id"), *key = sb_xml_text(&s2s->scratch, el, NULL);
	struct sb_buf *b = &s2s->out;
	int valid;

	if (s2s_domain(sb_xml_attr(el, "from"), receiving, sizeof(receiving)) == -1 ||
	    s2s_domain(sb_xml_attr(el, "to"), originating, sizeof(originating)) == -1 ||
	    id == NULL || *id == '\0') {
		stream_error(in, SB_LOG_INFO, SB_STERR_BAD_FORMAT,
		    "db:verify without usable from, to and id");
		return;
	}
	valid = 0;
	if (s2s_is_local(s2s, originating)) {
		dialback_key(s2s, receiving, originating, id, expect);
		valid = keys_equal(key, expect);
	}
	stream_log(in, SB_LOG_DEBUG, "verified a key for %s -> %s: %s", originating, receiving,
	    valid ? "valid" : "invalid");
	sb_buf_clear(b);
	sb_buf_append_str(b, "<db:verify");
	sb_xml_write_attr(b, "from", originating);
	sb_xml_write_attr(b, "to", receiving);
	sb_xml_write_attr(b, "id", id);
	sb_buf_printf(b, " type='%s'/>", valid ? "valid" : "invalid");
	stream_write_buf(in, b);
}

void
dialback_route_failed(struct s2s *s2s, struct route *r)
{
	while (*route_verifies(r) != NULL) {
		struct s2s_verify *v = *route_verifies(r);

		*route_verifies(r) = v->next;
		answer(s2s, r, v, "error");
		free(v->key);
		free(v);
	}
}

static int
expire_route(struct sb_hmap_node *n, void *arg)
{
	struct s2s *s2s = ((void **)arg)[0];
	uint64_t now = *(uint64_t *)((void **)arg)[1];
	struct route *r = route_from_node(n);
	struct s2s_verify **vp = route_verifies(r), *v;

	while ((v = *vp) != NULL) {
		if (now - v->since_ms < (uint64_t)s2s->conf->verify_ms) {
			vp = &v->next;
			continue;
		}
		*vp = v->next;
		answer(s2s, r, v, "error");
		free(v->key);
		free(v);
	}
	return 0;
}

void
dialback_expire(struct s2s *s2s, uint64_t now)
{
	void *arg[2] = { s2s, &now };

	sb_hmap_each(&s2s->routes, expire_route, arg);
}
