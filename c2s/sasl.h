/*
 * sasl.h: SASL for client streams (RFC 6120 section 6), through cyrus-sasl.
 *
 * The stream code (c2s/stream.c) never sees cyrus-sasl: it asks which
 * mechanisms to offer, starts a negotiation with the client's <auth/>,
 * passes each <response/> on, and gets back, through a callback, what to
 * send: a challenge, success (with additional data), or a failure with its
 * RFC 6120 6.5 condition. The callback may come at once or later: the
 * account's SCRAM secrets come from storage (asynchronous) and PLAIN's
 * PBKDF2 runs on libuv's thread pool; the stream must not read the next
 * SASL element meanwhile (it pauses reading).
 *
 * Credentials are the SCRAM secrets in storage (salt, iterations, StoredKey,
 * ServerKey for SHA-1 and SHA-256), never a password: see
 * docs/ARCHITECTURE.md for how cyrus-sasl is fed them.
 *
 * All data in and out is base64 as it appears in the XML ("" for an empty
 * element, "=" for an empty initial response, as RFC 6120 6.4.2 says).
 */
#ifndef C2S_SASL_H
#define C2S_SASL_H

#include <stddef.h>

#include <uv.h>

#include "buf.h"

struct sb_store;
struct sb_tls;
struct c2s_sasl_ctx;
struct c2s_sasl;

/* Per process: the store for secrets, the loop for the thread pool. */
struct c2s_sasl_ctx *c2s_sasl_init(uv_loop_t *loop, struct sb_store *store,
		    char *err, size_t errlen);
void	 c2s_sasl_ctx_free(struct c2s_sasl_ctx *ctx);

/*
 * Append <mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>...</mechanisms>
 * for a stream: SCRAM-SHA-256 and SCRAM-SHA-1 always; their -PLUS variants
 * when tls is not NULL and a channel binding is available on it; PLAIN only
 * when tls is not NULL (and allow_plain). Also appends the XEP-0440
 * <sasl-channel-binding xmlns='urn:xmpp:sasl-cb:0'/> element listing the
 * channel-binding types the session offers (tls-exporter on TLS 1.3,
 * tls-server-end-point), when tls is not NULL.
 */
void	 c2s_sasl_features(struct c2s_sasl_ctx *ctx, const struct sb_tls *tls, int allow_plain,
	     struct sb_buf *out);

enum c2s_sasl_status {
	C2S_SASL_CHALLENGE,	/* send <challenge>data</challenge>, wait for <response/> */
	C2S_SASL_SUCCESS,	/* send <success>data</success>; jid is the authenticated user */
	C2S_SASL_FAILURE,	/* send <failure><condition/><text/></failure> */
};

struct c2s_sasl_answer {
	enum c2s_sasl_status	 status;
	const char		*data;		/* base64, "" for none */
	const char		*condition;	/* FAILURE: e.g. "not-authorized" */
	const char		*text;		/* FAILURE: for the log and <text/>, or NULL */
	const char		*username;	/* SUCCESS: the prepared localpart */
};

typedef void c2s_sasl_cb(const struct c2s_sasl_answer *a, void *arg);

/*
 * Start a negotiation for domain (canonical) with mechanism mech and the
 * <auth/> element's content (NULL when the element was empty). tls: the
 * session's TLS (for -PLUS and PLAIN), or NULL. The callback runs once per
 * start/step, possibly before this returns. Unknown or unoffered mechanism:
 * FAILURE invalid-mechanism; bad base64: incorrect-encoding.
 */
struct c2s_sasl *c2s_sasl_start(struct c2s_sasl_ctx *ctx, const char *domain, const char *mech,
		    const char *data, const struct sb_tls *tls, int allow_plain,
		    c2s_sasl_cb *cb, void *arg);
/* The client's <response/> content. */
void	 c2s_sasl_step(struct c2s_sasl *s, const char *data);
/* <abort/>: FAILURE aborted comes through the callback. */
void	 c2s_sasl_abort(struct c2s_sasl *s);
/* Free; a pending lookup or hashing still completes but its callback is not run. */
void	 c2s_sasl_free(struct c2s_sasl *s);

#endif
