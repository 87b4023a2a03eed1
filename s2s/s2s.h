/*
 * s2s.h: the federation process's own types and the functions its files
 * share. docs/ARCHITECTURE.md ("s2s") tells the whole story; in short:
 *
 *   config.c    s2s.xml: router link, listeners, domains and their
 *               certificates, trust, DNS, policies, static hosts, limits
 *   link.c      the router link: stanzas for remote domains in, the names
 *               served here (announces) kept as the local names
 *   route.c     one route per (local domain, remote domain) pair: the
 *               stream it uses, the bounded queue while that stream is
 *               being set up, bounces when it cannot be
 *   stream.c    what incoming and outgoing streams share: the connection,
 *               the parser, headers, features, stream errors, closing
 *   out.c       outgoing streams: DNS, connecting, STARTTLS or direct TLS,
 *               the certificate, XEP-0288 bidi, SASL EXTERNAL or dialback
 *   in.c        incoming streams on 5269: STARTTLS, SASL EXTERNAL,
 *               dialback requests, the checks on every stanza's addresses
 *   dialback.c  XEP-0220 with XEP-0185 keys: our keys, verifying the
 *               keys of others, answering verification requests
 *   certs.c     TLS contexts made from the configuration's domains
 *   reload.c    SIGHUP: s2s.xml again, new certificates, trust, policies,
 *               static hosts, DNS, limits, dialback secret
 *   main.c      arguments, TLS contexts, listeners, resolver, link, loop
 *
 * Domain names are kept in their canonical JID form (lower case,
 * Unicode); each route also keeps the A-label form for DNS and SNI.
 */
#ifndef S2S_S2S_H
#define S2S_S2S_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "arena.h"
#include "buf.h"
#include "complink.h"
#include "conn.h"
#include "hmap.h"
#include "log.h"
#include "proc.h"
#include "ns.h"
#include "resolve.h"
#include "stanza.h"
#include "status.h"
#include "stream.h"
#include "tls.h"
#include "xml.h"

struct s2s;
struct s2s_stream;
struct sb_config;

/* --- config.c --- */

/* What we ask of a remote domain before stanzas flow either way. */
enum s2s_policy {
	S2S_POLICY_REQUIRE_CERT,	/* a certificate valid for the domain (the default) */
	S2S_POLICY_DIALBACK,		/* that, or XEP-0220 dialback when it is not */
	S2S_POLICY_DENY,		/* no federation with the domain at all */
};

struct s2s_listen {
	const char	*address;
	int		 port;
	int		 direct_tls;	/* XEP-0368: TLS from the first byte */
};

/* A local domain we speak for with a certificate. */
struct s2s_domain {
	const char	*name;		/* canonical */
	const char	*cert;
	const char	*key;
};

struct s2s_remote {
	const char	*domain;	/* canonical */
	int		 policy;	/* enum s2s_policy */
};

/* A static address for a remote domain: no DNS for it. */
struct s2s_host {
	const char	*domain;	/* canonical */
	const char	*address;	/* numeric */
	int		 port;
	int		 direct_tls;
};

struct s2s_conf {
	struct sb_config	*cfg;		/* owns the strings */
	struct sb_arena		 arena;
	const char		*path;
	int			 log_level;
	const char		*status_path;	/* NULL: no status file */
	int64_t			 status_ms;

	const char		*name;		/* router link name: s2s1 */
	const char		*secret;
	const char		*router_addr;
	int			 router_port;

	struct s2s_listen	*listens;
	size_t			 nlistens;
	struct s2s_domain	*domains;
	size_t			 ndomains;
	const char		*tls_priority;
	const char		*ca_file;	/* NULL: the system trust store */
	int			 require_tls;	/* both directions */
	int			 bidi;		/* XEP-0288, both directions */

	const char		*dns_servers;	/* NULL: /etc/resolv.conf */
	int64_t			 dns_timeout_ms;
	const char		*dialback_secret; /* NULL: derived from the router secret */

	int			 policy;	/* for domains not in remotes */
	struct s2s_remote	*remotes;
	size_t			 nremotes;
	struct s2s_host		*hosts;
	size_t			 nhosts;

	int64_t			 connect_ms;	/* one TCP connect */
	int64_t			 setup_ms;	/* connected to stream ready */
	int64_t			 idle_ms;	/* no stanza either way: closed */
	int64_t			 verify_ms;	/* a dialback verification */
	int			 queue_stanzas;	/* per route while setting up */
	size_t			 queue_bytes;
	size_t			 stanza_size;
	size_t			 write_buffer;
};

struct s2s_conf *s2s_conf_load(const char *path, char *err, size_t errlen);
void	 s2s_conf_free(struct s2s_conf *conf);
const struct s2s_domain *s2s_conf_domain(const struct s2s_conf *conf, const char *name);
const struct s2s_host *s2s_conf_host(const struct s2s_conf *conf, const char *domain);
enum s2s_policy s2s_conf_policy(const struct s2s_conf *conf, const char *domain);
/* Whether dialback is allowed with some remote domain (feature offers). */
int	 s2s_conf_any_dialback(const struct s2s_conf *conf);

/* --- the process --- */

/* Per local domain: the client TLS contexts of outgoing streams. */
struct s2s_local_tls {
	const struct s2s_domain	*domain;	/* NULL: no certificate of our own */
	struct sb_tls_ctx	*starttls;
	struct sb_tls_ctx	*direct;	/* ALPN xmpp-server */
};

struct s2s_counters {
	uint64_t	 in_streams, out_streams;
	uint64_t	 stanzas_in, stanzas_out;
	uint64_t	 bounced, auth_sasl, auth_dialback, auth_failed;
};

struct s2s {
	uv_loop_t		*loop;
	struct sb_proc		 proc;		/* command line, signals, readiness */
	struct sb_status	*status;	/* NULL: no status file */
	const char		*conf_path;
	struct s2s_conf		*conf;
	struct sb_complink	*link;
	struct sb_resolver	*resolver;
	struct sb_tls_ctx	*tls_server;	/* incoming STARTTLS */
	struct sb_tls_ctx	*tls_direct;	/* incoming direct TLS */
	struct s2s_local_tls	*local_tls;	/* one per conf domain, then the anonymous one */

	struct sb_hmap		 routes;	/* "local remote" -> struct route */
	struct sb_hmap		 names;		/* names bound at the router -> struct local_name */
	struct sb_hmap		 by_id;		/* our incoming stream ids -> struct s2s_stream */
	struct s2s_stream	*streams;	/* every stream */
	unsigned char		 db_key[32];	/* XEP-0185: SHA-256 of the dialback secret */

	struct sb_buf		 out;		/* scratch for writing */
	struct sb_arena		 scratch;
	struct s2s_counters	 n;
	int			 stopping;
};

/* --- certs.c: TLS contexts made from the configuration's domains --- */

/*
 * The incoming side: every domain's certificate (SNI chooses), trust and
 * a client certificate requested for SASL EXTERNAL, alpn required when
 * offered (NULL: none); or NULL and err says why. trust NULL loads the
 * trust (<ca-file>, or the system store); else trust's is shared (loaded
 * once for all of an s2s's contexts: the system store is about 4 MB).
 */
struct sb_tls_ctx *s2s_server_context(const struct s2s_conf *conf, const char *alpn,
	     struct sb_tls_ctx *trust, char *err, size_t errlen);
/*
 * The outgoing side, as s2s->local_tls: a STARTTLS and a direct TLS client
 * context per domain presenting its certificate, then a pair without one
 * (ndomains + 1 in all), sharing trust's trust; or NULL and err says why.
 */
struct s2s_local_tls *s2s_local_tls_new(const struct s2s_conf *conf, struct sb_tls_ctx *trust,
	     char *err, size_t errlen);
/* local may be NULL. */
void	 s2s_local_tls_free(struct s2s_local_tls *local, size_t n);

/* --- reload.c --- */

/*
 * SIGHUP: read s2s.xml again and apply what can change at runtime; on any
 * error log it and keep the running configuration (reload.c says what).
 */
void	 s2s_reload(struct s2s *s2s);

/* --- link.c --- */

void	 link_up(struct sb_complink *l, void *arg);
void	 link_down(struct sb_complink *l, const char *reason, void *arg);
void	 link_error(struct sb_complink *l, const char *text, void *arg);
void	 link_stanza(struct sb_complink *l, struct sb_xml_node *st, void *arg);
void	 link_announce(struct sb_complink *l, enum sb_complink_event ev, const char *name,
	     const char *holder, void *arg);
/* A name served here: a configured domain or one bound at the router. */
int	 s2s_is_local(const struct s2s *s2s, const char *domain);
/* A stanza from a remote server, on to the router. */
void	 link_deliver(struct s2s *s2s, struct sb_xml_node *st);
void	 names_free(struct s2s *s2s);

/* --- route.c --- */

struct route;

/* Send a stanza (its tree and the arena holding it, taken) from local to remote. */
void	 route_send(struct s2s *s2s, const char *local, const char *remote,
	     struct sb_arena *arena, struct sb_xml_node *st);
/* The route for the pair, made when absent and make is set. */
struct route *route_get(struct s2s *s2s, const char *local, const char *remote, int make);
const char *route_local(const struct route *r);
const char *route_remote(const struct route *r);
const char *route_remote_ascii(const struct route *r);
/*
 * Its outgoing stream: made (and started) when there is none. NULL when
 * it failed at once: then the route may be gone (do not touch r).
 */
struct s2s_stream *route_out(struct s2s *s2s, struct route *r);
/* Streams tell their route how they are doing. */
void	 route_ready(struct s2s *s2s, struct route *r, struct s2s_stream *st);
void	 route_failed(struct s2s *s2s, struct route *r, struct s2s_stream *st,
	     enum sb_stanza_err cond, const char *why);
void	 route_detach(struct s2s *s2s, struct route *r, struct s2s_stream *st);
void	 routes_free(struct s2s *s2s);
/* An error reply to st, sent back where st came from; st is not an error. */
void	 s2s_bounce(struct s2s *s2s, struct sb_arena *a, struct sb_xml_node *st,
	     enum sb_stanza_err cond, const char *text);

/* --- stream.c --- */

enum s2s_state {
	SS_RESOLVING,		/* out: DNS */
	SS_CONNECTING,		/* out: TCP (and direct TLS) */
	SS_HEADER,		/* waiting for the peer's stream header */
	SS_OPEN,		/* header exchanged: features, negotiation */
	SS_TLS,			/* STARTTLS under way */
	SS_READY,		/* out: authenticated, stanzas flow */
	SS_CLOSING,
};

/* A dialback domain pair on an incoming stream (remote asks to send to local). */
struct s2s_pair {
	struct s2s_pair	*next;
	char		*remote;
	char		*local;
	int		 state;		/* PAIR_PENDING, PAIR_VALID */
	uint64_t	 since_ms;
};
#define PAIR_PENDING	0
#define PAIR_VALID	1

struct s2s_stream {
	struct s2s_stream	*next, *prev;
	struct s2s		*s2s;
	struct sb_conn		*conn;
	struct sb_xml_stream	*xs;
	struct sb_hmap_node	 hn;		/* in: s2s->by_id */
	int			 out;		/* 1: we opened it */
	enum s2s_state		 state;
	char			 id[SB_STREAM_ID_SIZE];	/* in: ours */
	const char		*peer_id;	/* out: the peer's (any length), in arena */
	char			*local;		/* our domain on this stream */
	char			*remote;	/* theirs (in: the header's from, may be NULL) */
	unsigned		 tls:1;		/* TLS is on */
	unsigned		 direct_tls:1;	/* TLS from the first byte */
	unsigned		 starttls:1;	/* switch to TLS after this read */
	unsigned		 header_sent:1;
	unsigned		 sasl_ok:1;	/* authenticated by SASL EXTERNAL */
	unsigned		 bidi:1;	/* XEP-0288 on */
	unsigned		 cert_checked:1;
	unsigned		 cert_ok:1;	/* the peer's certificate is valid for remote */
	unsigned		 peer_db:1;	/* out: the peer offers dialback */
	unsigned		 peer_external:1; /* out: the peer offers SASL EXTERNAL */
	unsigned		 sasl_tried:1;	/* out: EXTERNAL failed once */
	unsigned		 db_sent:1;	/* out: our db:result is out */
	unsigned		 in_id:1;	/* in: in s2s->by_id */
	unsigned		 authed:1;	/* set up: stanzas may flow (idle timeout from now) */
	struct sb_tls_ctx	*switch_ctx;	/* STARTTLS: the context and SNI to switch with */
	const char		*switch_sni;
	char			 cert_err[256];
	uint64_t		 last_ms;	/* last stanza either way */
	uint64_t		 started_ms;
	uint64_t		 stanzas_in, stanzas_out;

	/* in: dialback pairs */
	struct s2s_pair		*pairs;

	/* out */
	struct route		*route;
	struct sb_resolve_query	*query;
	struct sb_resolve_addr	*addrs;		/* copies; hosts in arena */
	size_t			 naddrs, next_addr;
	struct sb_arena		 arena;		/* per stream: addresses, names */
	enum sb_stanza_err	 fail_cond;	/* what the route bounces with on failure */
	char			 fail_why[256];
};

/* A new stream object, linked into s2s->streams. */
struct s2s_stream *stream_new(struct s2s *s2s, int out);
/* Set st->fail_why, what the route says when it bounces. */
void	 stream_why(struct s2s_stream *st, const char *fmt, ...)
	     __attribute__((format(printf, 2, 3)));
/* Free a stream that never got a connection (a connected one goes with CLOSED). */
void	 stream_discard(struct s2s_stream *st);
void	 stream_attach(struct s2s_stream *st, struct sb_conn *c);
void	 stream_log(const struct s2s_stream *st, enum sb_log_level level, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));
/* Write bytes; -1 (and the stream is failed) when the peer does not read. */
int	 stream_write(struct s2s_stream *st, const char *data, size_t len);
int	 stream_write_buf(struct s2s_stream *st, struct sb_buf *b);
/* A stanza from the router, written in jabber:server. */
int	 stream_send_stanza(struct s2s_stream *st, const struct sb_xml_node *stanza);
void	 stream_send_header(struct s2s_stream *st, const char *from, const char *to);
/* The stream error, logged at level, and the stream closed. */
void	 stream_error(struct s2s_stream *st, enum sb_log_level level, enum sb_stream_err cond,
	     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Our </stream:stream> and a graceful close. */
void	 stream_close(struct s2s_stream *st);
/* Check the peer's certificate for st->remote, once (cert_ok, cert_err). */
void	 stream_check_cert(struct s2s_stream *st);
uint64_t s2s_now_ms(const struct s2s *s2s);
/* The canonical form of a domain from the wire into out; -1 when it is not one. */
int	 s2s_domain(const char *s, char *out, size_t size);
/* The canonical domainpart of a JID string into out; -1 when absent or bad. */
int	 s2s_jid_domain(const char *jid, char *out, size_t size);
/*
 * A stanza from the peer: its 'to' and 'from' must parse (else
 * <improper-addressing/> or <invalid-from/>), 'to' must be served here
 * (<host-unknown/>) and allowed() must accept the pair of domains
 * (<invalid-from/>); then it goes to the router with canonical addresses.
 */
void	 stream_stanza_in(struct s2s_stream *st, struct sb_xml_node *el,
	     int (*allowed)(const struct s2s_stream *, const char *remote, const char *local));
/*
 * Switch to TLS after this read: set st->starttls, switch_ctx and
 * switch_sni and stop the parser; the rest of the read goes to TLS.
 */
void	 stream_starttls(struct s2s_stream *st, struct sb_tls_ctx *ctx, const char *sni);
/* Connect to a; direct TLS with tls and sni when a says so. */
int	 stream_connect(struct s2s_stream *st, const struct sb_resolve_addr *a,
	     struct sb_tls_ctx *tls, const char *sni, char *err, size_t errlen);
/* The stream is set up: the idle timeout replaces the setup timeout. */
void	 stream_set_up(struct s2s_stream *st);
void	 streams_shutdown(struct s2s *s2s);
void	 streams_log_counters(struct s2s *s2s);
/* The status file's lines (lib/status.h). */
sb_status_fn	streams_status;

/* --- in.c --- */

void	 in_accept(struct sb_listener *l, struct sb_conn *c, void *arg);
void	 in_header(struct s2s_stream *st, const struct sb_xml_node *hdr, const char *content_ns);
void	 in_element(struct s2s_stream *st, struct sb_xml_node *el);
void	 in_tls_ready(struct s2s_stream *st);
void	 in_closed(struct s2s_stream *st);
/* Whether the stream may carry stanzas from remote to local. */
int	 in_authorized(const struct s2s_stream *st, const char *remote, const char *local);
/* A dialback verification came back (dialback.c). */
void	 in_pair_result(struct s2s_stream *st, const char *remote, const char *local,
	     const char *type);

/* --- out.c --- */

void	 out_start(struct s2s *s2s, struct s2s_stream *st);
/*
 * A reload replaced s2s->resolver: a DNS query under way is asked again
 * there (the old resolver drops its queries). The stream may go (a query
 * that cannot start fails its route).
 */
void	 out_requery(struct s2s_stream *st);
void	 out_header(struct s2s_stream *st, const struct sb_xml_node *hdr, const char *content_ns);
void	 out_element(struct s2s_stream *st, struct sb_xml_node *el);
void	 out_connected(struct s2s_stream *st);
void	 out_tls_ready(struct s2s_stream *st);
void	 out_closed(struct s2s_stream *st, const char *why);
/* Whether db:verify may be written on it now (TLS done when required, header in). */
int	 out_can_verify(const struct s2s_stream *st);

/* --- dialback.c --- */

/* XEP-0185: hex HMAC-SHA256(SHA256(secret), receiving SP originating SP id). */
void	 dialback_key(const struct s2s *s2s, const char *receiving, const char *originating,
	     const char *id, char hex[65]);
void	 dialback_init(struct s2s *s2s);
/* Incoming <db:result/> with a key: verify it with the authoritative server. */
void	 dialback_request(struct s2s_stream *in, struct sb_xml_node *el);
/* Incoming <db:verify/> with a key: we are the authoritative server. */
void	 dialback_answer(struct s2s_stream *in, struct sb_xml_node *el);
/* Outgoing stream: <db:verify type=.../> came back. */
void	 dialback_verified(struct s2s_stream *out, struct sb_xml_node *el);
/* Outgoing stream ready for db:verify: send what the route holds. */
void	 dialback_flush(struct s2s *s2s, struct route *r, struct s2s_stream *out);
/* The route's outgoing stream failed: every verification waiting on it fails. */
void	 dialback_route_failed(struct s2s *s2s, struct route *r);
/* Pending verifications that waited too long. */
void	 dialback_expire(struct s2s *s2s, uint64_t now);

/* The verification requests a route keeps (route.c owns the list). */
struct s2s_verify {
	struct s2s_verify	*next;
	char			 in_id[33];	/* the incoming stream waiting */
	char			*key;
	int			 sent;
	uint64_t		 since_ms;
};
struct s2s_verify **route_verifies(struct route *r);
/* The route of an entry of s2s->routes. */
struct route *route_from_node(struct sb_hmap_node *n);

#endif
