/*
 * login.c: a load generator's client login pieces (see login.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "login.h"
#include "ns.h"

void
bench_send_header(struct sb_conn *conn, const char *domain)
{
	char hdr[512];
	int n;

	n = snprintf(hdr, sizeof(hdr), "<?xml version='1.0'?><stream:stream xmlns='"
	    SB_NS_CLIENT "' xmlns:stream='" SB_NS_STREAMS "' to='%s' version='1.0'>", domain);
	sb_conn_write(conn, hdr, (size_t)n);
}

void
bench_send_sasl(struct sb_conn *conn, const char *name, const char *mech, const char *data,
    size_t len)
{
	struct sb_buf out = SB_BUF_INIT;

	sb_buf_printf(&out, "<%s xmlns='" SB_NS_XMPP_SASL "'", name);
	if (mech != NULL)
		sb_buf_printf(&out, " mechanism='%s'", mech);
	sb_buf_append_char(&out, '>');
	sb_base64_encode_buf(&out, data, len);
	sb_buf_printf(&out, "</%s>", name);
	sb_conn_write(conn, sb_buf_data(&out), sb_buf_len(&out));
	sb_buf_free(&out);
}

int
bench_decode_text(struct sb_arena *scratch, const struct sb_xml_node *el, char *out,
    size_t cap)
{
	size_t len, n;
	const char *t = sb_xml_text(scratch, el, &len);

	if (sb_base64_decode(t, len, out, cap - 1, &n) == -1)
		return -1;
	out[n] = '\0';
	return 0;
}

int
bench_scram_first(struct bench_scram *sc, struct sb_conn *conn, struct sb_arena *scratch,
    const struct sb_xml_node *features, const char *user)
{
	const char *mech = sb_scram_mech_name(sc->hash, 0);
	struct sb_xml_node *m = sb_xml_child(features, SB_NS_XMPP_SASL, "mechanisms"), *c;
	char first[128];
	int n;

	if (m == NULL)
		return -1;
	SB_XML_FOREACH_CHILD(c, m) {
		if (strcmp(sb_xml_text(scratch, c, NULL), mech) != 0)
			continue;
		sb_scram_nonce(sc->nonce, sizeof(sc->nonce));
		/* gs2 header "n,,": no channel binding, no authzid. */
		n = snprintf(first, sizeof(first), "n,,n=%s,r=%s", user, sc->nonce);
		sb_buf_clear(&sc->auth_msg);
		sb_buf_append(&sc->auth_msg, first + 3, (size_t)n - 3);
		bench_send_sasl(conn, "auth", mech, first, (size_t)n);
		return 0;
	}
	return -1;
}

int
bench_scram_challenge(struct bench_scram *sc, struct sb_arena *scratch,
    const struct sb_xml_node *el, char *sf, size_t sf_cap, unsigned char *salt,
    size_t salt_cap, size_t *salt_len, unsigned *iterations)
{
	const char *salt_b64, *it;

	if (bench_decode_text(scratch, el, sf, sf_cap) == -1 ||
	    strncmp(sf, "r=", 2) != 0 || strncmp(sf + 2, sc->nonce, strlen(sc->nonce)) != 0 ||
	    (salt_b64 = strstr(sf, ",s=")) == NULL || (it = strstr(sf, ",i=")) == NULL)
		return -1;
	salt_b64 += 3;
	if (sb_base64_decode(salt_b64, strcspn(salt_b64, ","), salt, salt_cap, salt_len) == -1)
		return -1;
	*iterations = (unsigned)atoi(it + 3);
	return 0;
}

void
bench_scram_final(struct bench_scram *sc, struct sb_conn *conn, const char *sf,
    const unsigned char *salted)
{
	const char *r = sf + 2;
	char final[512], b64[2 * SB_SCRAM_MAX_HASH];
	unsigned char proof[SB_SCRAM_MAX_HASH];
	int n;

	/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
	n = snprintf(final, sizeof(final), "c=biws,r=%.*s", (int)strcspn(r, ","), r);
	sb_buf_printf(&sc->auth_msg, ",%s,%s", sf, final);
	sb_scram_client_proof(sc->hash, salted, sb_buf_data(&sc->auth_msg),
	    sb_buf_len(&sc->auth_msg), proof);
	sb_base64_encode(proof, sb_scram_hash_len(sc->hash), b64);
	n += snprintf(final + n, sizeof(final) - (size_t)n, ",p=%s", b64);
	bench_send_sasl(conn, "response", NULL, final, (size_t)n);
}

int
bench_scram_success(struct bench_scram *sc, struct sb_arena *scratch,
    const struct sb_xml_node *el, const unsigned char *salted)
{
	char sfinal[256];
	unsigned char sig[SB_SCRAM_MAX_HASH];
	size_t len;

	if (bench_decode_text(scratch, el, sfinal, sizeof(sfinal)) == -1 ||
	    strncmp(sfinal, "v=", 2) != 0 ||
	    sb_base64_decode(sfinal + 2, strlen(sfinal + 2), sig, sizeof(sig), &len) == -1 ||
	    sb_scram_check_server_signature(sc->hash, salted, sb_buf_data(&sc->auth_msg),
	    sb_buf_len(&sc->auth_msg), sig, len) != 0)
		return -1;
	return 0;
}
