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
#include <stdint.h>

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
	int			 untested;	/* FAILURE before any credential was looked
						 * at (channel binding): counts against no one */
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

/* --- additions (beyond the first contract) --- */

/*
 * The answer's username is also set on FAILURE once the client's username
 * was parsed and prepared (for the log line), else NULL.
 *
 * The callback may run before c2s_sasl_start() returns; the negotiation
 * stays valid until c2s_sasl_free() in every case. c2s_sasl_ctx_free() may
 * be called with negotiations still alive or pending: the context is
 * released with the last of them.
 */

/*
 * Unknown accounts get a fake but stable salt, derived with a keyed hash
 * from the username and a secret that is random per process. Several c2s
 * processes in front of one database should share a secret (from the
 * configuration: 16 random bytes or more), or a client could tell an
 * unknown user by asking two of them.
 */
void	 c2s_sasl_set_fake_secret(struct c2s_sasl_ctx *ctx, const void *secret, size_t len);

/*
 * Throttling of failed logins, per client address and per account, in two
 * bounded tables (least recently failed entries are forgotten first, and
 * any entry 15 minutes after its last failure). After
 * C2S_SASL_THROTTLE_AFTER failures, each further attempt must wait
 * 1 s, 2 s, 4 s, ... from the last failure, at most 60 s for an account and
 * 5 minutes for an address. A line is logged (notice) when an address or
 * an account starts being throttled. A success clears an account's
 * failures but not an address's (one valid account must not wash its
 * address clean between guesses): those age out.
 *
 * Division of work:
 *   - accounts: this module does it all. Once it knows the username it
 *     answers temporary-auth-failure ("too many failed attempts") while the
 *     account must wait, records a failed proof or password (not-authorized)
 *     and clears the account's entry on success. A throttled account is
 *     refused without looking at the password, so guesses stay useless.
 *   - addresses: the stream code. Before c2s_sasl_start():
 *       ms = c2s_sasl_throttle_check(ctx, addr, NULL);
 *     and when ms > 0 either wait that long before starting (reading stays
 *     paused) or answer <temporary-auth-failure/> itself. When the answer
 *     comes: c2s_sasl_throttle_answer(ctx, addr, answer).
 *   addr is the client's IP address without the port (an IPv6 client may be
 *   given as its /64 prefix); account is a bare JID (localpart@domain).
 *
 * check: milliseconds before the next attempt may proceed (the larger wait
 * of the two keys; either may be NULL), 0 when it may proceed now.
 */
#define C2S_SASL_THROTTLE_AFTER	5
uint64_t c2s_sasl_throttle_check(struct c2s_sasl_ctx *ctx, const char *addr, const char *account);
void	 c2s_sasl_throttle_failed(struct c2s_sasl_ctx *ctx, const char *addr, const char *account);
void	 c2s_sasl_throttle_succeeded(struct c2s_sasl_ctx *ctx, const char *addr,
	     const char *account);
/*
 * Record an answer against addr: a FAILURE that c2s_sasl_failure_counts()
 * counts is a failure, a SUCCESS a success; anything else changes nothing.
 */
void	 c2s_sasl_throttle_answer(struct c2s_sasl_ctx *ctx, const char *addr,
	     const struct c2s_sasl_answer *a);
/*
 * 1 when a is a FAILURE that tells of wrong credentials or a broken
 * exchange (not-authorized, invalid-authzid, malformed-request,
 * incorrect-encoding); 0 for the rest (aborted, temporary-auth-failure,
 * invalid-mechanism, encryption-required, account-disabled: the password
 * was right) and for a failure that tested no credentials (a->untested:
 * a client and server that share no channel binding), which must not
 * count against anyone.
 */
int	 c2s_sasl_failure_counts(const struct c2s_sasl_answer *a);
/*
 * Change the policy (configuration, tests): the failures before the first
 * wait (0 turns throttling off), the first wait, and the longest wait for
 * an address and for an account. Defaults: C2S_SASL_THROTTLE_AFTER, 1000,
 * 300000 and 60000 ms. Entries already in the tables keep their counts.
 */
void	 c2s_sasl_throttle_config(struct c2s_sasl_ctx *ctx, unsigned after, uint64_t base_ms,
	     uint64_t addr_max_ms, uint64_t account_max_ms);

#endif
