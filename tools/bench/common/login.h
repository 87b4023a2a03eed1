/*
 * login.h: the client side of an XMPP login as the load generators do it
 * (login_load, msg_load): the stream header, SASL elements, and SCRAM
 * without channel binding (RFC 5802), each step checked as a real client
 * checks it. The generators keep their own step machines; these are the
 * pieces they share.
 *
 *   bench_scram_first()    on <stream:features>: <auth> with client-first
 *   bench_scram_challenge() on <challenge>: the salt and iterations, after
 *                          checking the server kept our nonce
 *   bench_scram_final()    with SaltedPassword (computed or cached by the
 *                          caller): <response> with the proof
 *   bench_scram_success()  on <success>: the server's signature checked
 */
#ifndef BENCH_LOGIN_H
#define BENCH_LOGIN_H

#include <stddef.h>

#include "arena.h"
#include "buf.h"
#include "conn.h"
#include "scram.h"
#include "xml.h"

struct bench_scram {
	enum sb_scram_hash	 hash;
	char			 nonce[SB_SCRAM_NONCE_LEN + 1];
	struct sb_buf		 auth_msg;	/* AuthMessage, built step by step */
};

/* The stream header to domain (also after TLS and SASL). */
void	 bench_send_header(struct sb_conn *conn, const char *domain);
/* <name xmlns='urn:ietf:params:xml:ns:xmpp-sasl' [mechanism='mech']>base64(data)</name> */
void	 bench_send_sasl(struct sb_conn *conn, const char *name, const char *mech,
	     const char *data, size_t len);
/* The element's text, base64-decoded into out (NUL-ended). -1 when it is not base64. */
int	 bench_decode_text(struct sb_arena *scratch, const struct sb_xml_node *el, char *out,
	     size_t cap);

/*
 * features offers sc->hash's SCRAM mechanism (without -PLUS): send <auth>
 * for user and return 0; -1 when it is not offered.
 */
int	 bench_scram_first(struct bench_scram *sc, struct sb_conn *conn, struct sb_arena *scratch,
	     const struct sb_xml_node *features, const char *user);
/*
 * The <challenge>, decoded into sf (sf_cap bytes): -1 unless it is a
 * server-first message that kept our nonce, with a salt (into salt,
 * *salt_len) and an iteration count.
 */
int	 bench_scram_challenge(struct bench_scram *sc, struct sb_arena *scratch,
	     const struct sb_xml_node *el, char *sf, size_t sf_cap, unsigned char *salt,
	     size_t salt_cap, size_t *salt_len, unsigned *iterations);
/* <response> to server-first sf: client-final with the proof made from SaltedPassword. */
void	 bench_scram_final(struct bench_scram *sc, struct sb_conn *conn, const char *sf,
	     const unsigned char *salted);
/* The <success>: 0 when it carries the server signature SaltedPassword gives. */
int	 bench_scram_success(struct bench_scram *sc, struct sb_arena *scratch,
	     const struct sb_xml_node *el, const unsigned char *salted);

#endif
