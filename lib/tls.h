/*
 * tls.h: TLS on gnutls over memory buffers.
 *
 * gnutls never touches a socket here: ciphertext that arrived is handed in
 * with sb_tls_feed(), ciphertext to send is taken from sb_tls_output(). This
 * lets the libuv connection (conn.h) own the socket and lets tests run a
 * client and a server against each other in one process without a network.
 *
 * A context (struct sb_tls_ctx) holds credentials and policy and is shared
 * by many sessions; it is reference counted so that a reload (SIGHUP) can
 * swap in a new context while old sessions keep the one they started with.
 *
 * Return convention of the session calls: SB_TLS_OK, SB_TLS_AGAIN (needs
 * more input from the peer), SB_TLS_CLOSED (peer sent close_notify),
 * SB_TLS_ERROR (fatal; sb_tls_error() says why, and sb_tls_output() may
 * still hold an alert worth sending before closing).
 */
#ifndef SB_TLS_H
#define SB_TLS_H

#include <stddef.h>

#include "buf.h"

struct sb_tls_ctx;
struct sb_tls;

enum sb_tls_result {
	SB_TLS_ERROR = -1,
	SB_TLS_OK = 0,
	SB_TLS_AGAIN = 1,
	SB_TLS_CLOSED = 2,
};

enum sb_tls_cb_type {
	SB_TLS_CB_EXPORTER,		/* RFC 9266 tls-exporter (TLS 1.3) */
	SB_TLS_CB_SERVER_END_POINT,	/* RFC 5929 tls-server-end-point */
	SB_TLS_CB_UNIQUE,		/* RFC 5929 tls-unique (TLS <= 1.2) */
};

/* Default priority: TLS 1.2 and 1.3 only, secure ciphers. */
#define SB_TLS_DEFAULT_PRIORITY	"SECURE256:+SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:%PROFILE_MEDIUM"

/* --- contexts --- */

/*
 * priority NULL: SB_TLS_SERVER_PRIORITY for a server context,
 * SB_TLS_DEFAULT_PRIORITY for a client one. NULL and err set on failure.
 */
struct sb_tls_ctx *sb_tls_ctx_server(const char *priority, char *err, size_t errlen);
/*
 * cafile NULL: the system trust store. verify 0 lets the handshake finish
 * with any certificate; sb_tls_peer_verify() still tells the truth.
 */
struct sb_tls_ctx *sb_tls_ctx_client(const char *priority, const char *cafile,
		    char *err, size_t errlen);
/*
 * Add a certificate chain and key (PEM files). A server context may hold
 * several: the one whose names match the client's SNI is chosen, the first
 * added is used when nothing matches. A client context uses its first as
 * the client certificate (s2s, SASL EXTERNAL).
 */
int	 sb_tls_ctx_add_cert(struct sb_tls_ctx *ctx, const char *certfile,
	     const char *keyfile, char *err, size_t errlen);
/* ALPN protocol to offer (client) or require when offered (server), e.g. "xmpp-client". */
int	 sb_tls_ctx_set_alpn(struct sb_tls_ctx *ctx, const char *protocol);
void	 sb_tls_ctx_ref(struct sb_tls_ctx *ctx);
void	 sb_tls_ctx_unref(struct sb_tls_ctx *ctx);

/* --- sessions --- */

/*
 * server_name: on a client session, the SNI to send and the name
 * sb_tls_peer_verify() checks; NULL on a server session.
 */
struct sb_tls *sb_tls_new(struct sb_tls_ctx *ctx, const char *server_name);
void	 sb_tls_free(struct sb_tls *tls);

/* Ciphertext received from the peer. */
void	 sb_tls_feed(struct sb_tls *tls, const void *data, size_t len);
/* Ciphertext waiting to be sent: send it and sb_buf_consume() what was sent. */
struct sb_buf *sb_tls_output(struct sb_tls *tls);

/* Drive the handshake: OK when complete, AGAIN while it needs input. */
int	 sb_tls_handshake(struct sb_tls *tls);
int	 sb_tls_handshake_done(const struct sb_tls *tls);
/* Decrypt all complete records fed so far, appending plaintext to out. */
int	 sb_tls_read(struct sb_tls *tls, struct sb_buf *out);
/* Encrypt plaintext into the output buffer. */
int	 sb_tls_write(struct sb_tls *tls, const void *data, size_t len);
/* Queue close_notify. */
int	 sb_tls_bye(struct sb_tls *tls);
const char *sb_tls_error(const struct sb_tls *tls);

/* --- what the session negotiated --- */

/* SNI the client asked for (server side), or NULL. */
const char *sb_tls_server_name(const struct sb_tls *tls);
/* Negotiated ALPN protocol, or NULL. */
const char *sb_tls_alpn(const struct sb_tls *tls);
/* "TLS1.3", "TLS1.2", ... */
const char *sb_tls_version(const struct sb_tls *tls);
int	 sb_tls_is_tls13(const struct sb_tls *tls);
/*
 * Channel-binding data for SASL SCRAM-*-PLUS. *len is the capacity of out
 * on entry and the length written on return. -1 if the type is not
 * available on this session (tls-exporter before TLS 1.3, tls-unique on 1.3).
 */
int	 sb_tls_channel_binding(const struct sb_tls *tls, enum sb_tls_cb_type type,
	     unsigned char *out, size_t *len);
/*
 * Check the peer's certificate chain against the context's trust and the
 * certificate's identity against domain. 0 when valid, -1 with the reason
 * in err: the chain's status ("The certificate is NOT trusted. The
 * certificate issuer is unknown.") or the names the certificate has
 * ("peer certificate is not valid for b.example (names: a.example,
 * *.c.example)"). The same as sb_tls_peer_verify_xmpp(tls, domain,
 * SB_TLS_XMPP_CLIENT, err, errlen).
 */
int	 sb_tls_peer_verify(const struct sb_tls *tls, const char *domain,
	     char *err, size_t errlen);

/* The service a peer's certificate is checked for (RFC 6120 13.7.1.2, RFC 7590 3.2). */
enum sb_tls_service {
	SB_TLS_XMPP_CLIENT,	/* client-to-server: SRV-IDs _xmpp-client, _xmpps-client */
	SB_TLS_XMPP_SERVER,	/* server-to-server: SRV-IDs _xmpp-server, _xmpps-server */
};

/*
 * Like sb_tls_peer_verify() but the identity is an XMPP domain (a JID
 * domainpart, possibly Unicode) checked with the reference identifiers
 * of the service: DNS-ID (the A-label form, wildcard allowed only as the
 * whole left-most label), SRV-ID (_xmpp-server./_xmpps-server. for
 * SERVER, _xmpp-client./_xmpps-client. for CLIENT, no wildcards), and
 * XmppAddr (id-on-xmppAddr, RFC 6120 13.7.1.4, compared as a domain).
 * CN-ID only when the certificate has no DNS-ID, SRV-ID, URI-ID or XmppAddr.
 * Works on both ends of a session: a client checking the server, and a
 * server checking the certificate a client presented (s2s incoming).
 * The key purpose (extended key usage) is not checked: s2s peers present
 * their server certificate, often serverAuth only, as clients. An IP
 * literal domain ("192.0.2.1", "[2001:db8::1]") is matched against the
 * iPAddress names.
 */
int	 sb_tls_peer_verify_xmpp(const struct sb_tls *tls, const char *domain,
	     enum sb_tls_service service, char *err, size_t errlen);
int	 sb_tls_peer_has_cert(const struct sb_tls *tls);

/* --- certificates --- */

/*
 * Write a self-signed ECDSA P-256 certificate for domain (and *.domain is not
 * added) valid for 10 years, with its key, as PEM files (key mode 0600).
 */
int	 sb_tls_make_selfsigned(const char *domain, const char *certfile,
	     const char *keyfile, char *err, size_t errlen);

/* --- additions (beyond the first contract) --- */

/*
 * A faster server policy with the same versions: forward secrecy only (no
 * static RSA key exchange), AEAD ciphers only, and the server's order
 * preferred: AES-128-GCM and ChaCha20 (SHA-256 key schedule, much cheaper
 * than SHA-384 in nettle) before AES-256-GCM, X25519 before the NIST
 * curves. X25519 and P-256 come first because clients send key shares for
 * those: a server-preferred group without a share would cost a
 * HelloRetryRequest round trip.
 */
#define SB_TLS_SERVER_PRIORITY	"SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-RSA:" \
	"-CIPHER-ALL:+AES-128-GCM:+CHACHA20-POLY1305:+AES-256-GCM:" \
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:" \
	"+GROUP-FFDHE2048:+GROUP-FFDHE3072:%SERVER_PRECEDENCE:%PROFILE_MEDIUM"

/*
 * Trust for verifying peers: cafile (PEM) or, when NULL, the system store.
 * sb_tls_ctx_client() already calls it; a server context needs it only to
 * verify client certificates (s2s, SASL EXTERNAL).
 */
int	 sb_tls_ctx_set_trust(struct sb_tls_ctx *ctx, const char *cafile,
	     char *err, size_t errlen);
/*
 * A new context, server (1) or client (0), that uses from's trust, and
 * the gnutls credentials holding it, instead of loading its own: the
 * system store costs about 4 MB a copy, and s2s makes two server contexts
 * and two client contexts per local domain. Everything else is its own
 * (certificates, ALPN, policy, ticket key). from stays alive as long as
 * the new context; sb_tls_ctx_set_trust() refuses a sharing context.
 */
struct sb_tls_ctx *sb_tls_ctx_sharing_trust(struct sb_tls_ctx *from, int server,
		    const char *priority, char *err, size_t errlen);
/* Server: ask clients for a certificate (optional for them). Default off. */
void	 sb_tls_ctx_request_client_cert(struct sb_tls_ctx *ctx, int on);
/*
 * Client: on, the handshake fails unless the server's certificate verifies
 * for the server_name given to sb_tls_new() (only the chain when that was
 * NULL). Default off: the handshake finishes with any certificate and the
 * caller asks sb_tls_peer_verify(). The name check here is gnutls's own
 * (DNS-ID, CN): it knows no SRV-ID or XmppAddr, so XMPP peers are better
 * checked with sb_tls_peer_verify_xmpp() after the handshake.
 */
void	 sb_tls_ctx_set_verify(struct sb_tls_ctx *ctx, int on);
/* Whether this session was resumed from a session ticket. */
int	 sb_tls_resumed(const struct sb_tls *tls);
/*
 * Client resumption. sb_tls_session_data() appends the data needed to
 * resume to out; -1 when there is none yet (TLS 1.3 sends its ticket after
 * the handshake: call it after sb_tls_read() has processed more input).
 * sb_tls_session_resume() offers such data on a new session, before its
 * handshake; a server that no longer knows the ticket does a full one.
 */
int	 sb_tls_session_data(const struct sb_tls *tls, struct sb_buf *out);
int	 sb_tls_session_resume(struct sb_tls *tls, const void *data, size_t len);

#endif
