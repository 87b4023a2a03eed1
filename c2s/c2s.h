/*
 * c2s.h: the client connection process's own types and the functions its
 * files share. The protocol c2s speaks to sm is in docs/ARCHITECTURE.md
 * ("Sessions between c2s and sm"); the choices it leaves are written at
 * the top of session.c, the limits at the top of client.c.
 *
 *   config.c    c2s.xml: router link, listeners, served domains, limits
 *   client.c    one accepted connection: events, writing, stream errors,
 *               closing, and the limits (idle, ping, login time, rate,
 *               write buffer, connections per address)
 *   stream.c    RFC 6120 negotiation: headers, features, STARTTLS, SASL,
 *               the restart, and what each state accepts
 *   bound.c     what a client may do once authenticated: resource binding,
 *               the session IQ, pings, stanzas stamped and sent to sm
 *   session.c   the session protocol with sm over the router link
 *   register.c  XEP-0077 in-band registration, password change, cancel
 *   iqauth.c    XEP-0078 legacy (non-SASL) login inside TLS
 *   addrs.c     connections per remote address
 *   certs.c     TLS contexts made from the configuration's domains
 *   reload.c    SIGHUP: c2s.xml again, new certificates, domains, limits
 *   main.c      arguments, store, TLS, listeners, router link, signals, loop
 *
 * The SASL exchange itself is c2s/sasl.c (sasl.h).
 */
#ifndef C2S_C2S_H
#define C2S_C2S_H

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
#include "stanza.h"
#include "status.h"
#include "storage.h"
#include "stream.h"
#include "timer.h"
#include "xml.h"

/* Namespaces ns.h does not name (yet). */

struct c2s;
struct client;
struct sb_complink;
struct sb_config;
struct sb_tls_ctx;
struct c2s_sasl;
struct c2s_sasl_ctx;

/* --- config.c --- */

enum c2s_tls_mode {
	C2S_LISTEN_STARTTLS,	/* plain TCP, STARTTLS required before anything else */
	C2S_LISTEN_DIRECT_TLS,	/* TLS from the first byte (XEP-0368) */
};

struct c2s_listen {
	const char	*address;
	int		 port;
	int		 tls;		/* enum c2s_tls_mode */
	const char	*alpn;		/* direct TLS: the ALPN protocol required when offered */
};

/* A served domain. name is canonical (sb_jid_prepare of a domainpart). */
struct c2s_domain {
	const char	*name;
	const char	*cert;		/* PEM chain */
	const char	*key;		/* PEM key */
	int		 registration;	/* XEP-0077 in-band registration */
	int		 legacy_auth;	/* XEP-0078 non-SASL authentication */
};

struct c2s_conf {
	struct sb_config	*cfg;		/* owns the strings */
	struct sb_arena		 arena;		/* canonical names and arrays */
	const char		*path;
	int			 log_level;
	const char		*status_path;	/* NULL: no status file */
	int64_t			 status_ms;

	/* the router link */
	const char		*name;		/* our component name: c2s1 */
	const char		*secret;
	const char		*router_addr;
	int			 router_port;

	struct c2s_listen	*listens;
	size_t			 nlistens;
	struct c2s_domain	*domains;
	size_t			 ndomains;
	const char		*tls_priority;	/* NULL: the library's server default */

	/* limits */
	size_t			 stanza_size;
	int64_t			 login_ms;	/* connect to bound resource */
	int64_t			 idle_ms;	/* nothing read for this long: closed */
	int64_t			 ping_ms;	/* nothing read for this long: XEP-0199 ping; 0 off */
	int			 per_address;	/* connections per remote address; 0 any */
	size_t			 rate;		/* bytes per second read per connection; 0 any */
	size_t			 burst;		/* bytes a connection may read at once */
	size_t			 write_buffer;	/* unread output before a client is cut off */
	int			 auth_failures;	/* SASL failures before <policy-violation/> */
};

struct c2s_conf *c2s_conf_load(const char *path, char *err, size_t errlen);
void	 c2s_conf_free(struct c2s_conf *conf);
/* The served domain named name (any case, any form a JID domainpart may take), or NULL. */
const struct c2s_domain *c2s_conf_domain(const struct c2s_conf *conf, const char *name);

/* --- addrs.c: connections per remote address --- */

struct c2s_addr;

struct c2s_addrs {
	struct sb_hmap	 map;		/* address -> struct c2s_addr */
};

void	 c2s_addrs_init(struct c2s_addrs *t);
void	 c2s_addrs_free(struct c2s_addrs *t);
/*
 * Count one more connection from the address of peer ("1.2.3.4:5",
 * "[::1]:5"): the entry, or NULL when limit (> 0) connections are there.
 */
struct c2s_addr *c2s_addrs_take(struct c2s_addrs *t, const char *peer, int limit);
void	 c2s_addrs_release(struct c2s_addrs *t, struct c2s_addr *a);
/* The address without its port: "1.2.3.4", "[::1]" (throttling, logs). */
const char *c2s_addr_name(const struct c2s_addr *a);
/* Connections counted for the address of peer (tests, logs). */
int	 c2s_addrs_count(const struct c2s_addrs *t, const char *peer);

/* --- client.c --- */

enum client_state {
	CL_HEADER,	/* waiting for a stream header */
	CL_OPEN,	/* header answered: negotiating, or bound */
	CL_TLS,		/* <proceed/> sent, TLS handshake under way */
	CL_CLOSING,	/* stream ended or failed: no more input */
};

/* Why reading is paused; reading resumes when none is left. */
#define PAUSE_SASL	0x01	/* a SASL answer is pending */
#define PAUSE_RATE	0x02	/* over the read rate */

/* Where a session stands with sm. */
enum session_state {
	SESS_NONE,	/* not bound */
	SESS_STARTING,	/* <session action='start'/> sent, waiting for 'started' */
	SESS_ACTIVE,	/* started: stanzas flow */
};

struct queued;
struct reg_op;

struct client {
	struct c2s		*c2s;
	struct sb_conn		*conn;
	struct sb_xml_stream	*xs;
	struct client		*prev, *next;	/* every client */
	struct client		*sid_next;	/* sessions by sid */
	enum client_state	 state;
	unsigned		 direct_tls:1, tls:1, authed:1, header_sent:1,
				 starttls:1, drain:1, ping_out:1, sasl_finished:1;
	unsigned		 paused;	/* PAUSE_* */
	uint32_t		 silent_ms;	/* nothing read for this long (in ticks) */
	const struct c2s_domain	*domain;	/* the stream's 'to' */
	struct c2s_addr		*addr;		/* per-address count */
	char			 id[33];	/* stream id */

	/* SASL */
	struct c2s_sasl		*sasl;		/* the exchange under way */
	struct c2s_sasl		*sasl_done;	/* to be freed outside its callback */
	int			 sasl_wait;	/* an answer is pending */
	int			 sasl_failures;

	/* the session (bound.c, session.c), in the session arena */
	struct sb_arena		 arena;
	const char		*user;		/* prepared localpart after SASL */
	const char		*jid;		/* full JID once bound (or being bound) */
	size_t			 bare_len;	/* bytes of jid that are the bare JID */
	const char		*bind_id;	/* id of the bind IQ being answered */
	uint64_t		 sid;		/* 0: no session */
	enum session_state	 sess;
	const char		*holder;	/* sm link that started the session */
	unsigned		 legacy:1;	/* logged in with XEP-0078: no bind result */
	struct reg_op		*reg;		/* XEP-0077 work under way (register.c) */
	const char		*delete_id;	/* XEP-0077 cancel: the IQ waiting for 'deleted' */
	struct queued		*queue, *queue_tail;	/* stanzas waiting for 'started' */
	struct sb_arena		 qarena;
	size_t			 nqueued;

	/* limits */
	struct sb_deadline	 dl;		/* login time, then idle time */
	struct sb_deadline	 dl_rate;	/* end of a rate pause */
	int64_t			 tokens;	/* read-rate bucket, bytes */
	uint64_t		 refilled;	/* loop time of the last refill */
	struct sb_post		 later;		/* work outside callbacks */
	uint64_t		 ping_seq;
	uint64_t		 in, out;	/* stanzas */
};

void	 client_accept(struct sb_listener *ls, struct sb_conn *c, void *arg);
void	 client_log(const struct client *cl, enum sb_log_level level, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));
/*
 * End the stream with a stream error, logged once: header first if none
 * was sent, the session ended, the connection closed after the error has
 * been sent (now: at once, for a peer that does not read).
 */
void	 client_error(struct client *cl, enum sb_log_level level, enum sb_stream_err cond,
	     int now, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The peer closed its stream: close ours. */
void	 client_close_stream(struct client *cl);
/*
 * Write bytes / an element (content namespace jabber:client). A client
 * whose unread output passes the write-buffer bound is cut off: -1.
 */
int	 client_send(struct client *cl, const char *data, size_t len);
int	 client_send_node(struct client *cl, const struct sb_xml_node *e);
/* Reading paused for a reason / the reason gone (resumes when none is left). */
void	 client_pause(struct client *cl, unsigned why);
void	 client_resume(struct client *cl, unsigned why);
/* Run client_later() on the next loop turn: free SASL, parse what the parser kept. */
void	 client_post(struct client *cl);
/* The session is up: login time is over, the idle timeout and pings start. */
void	 client_bound(struct client *cl);
/* Every client: <system-shutdown/> (signals). */
void	 clients_shutdown(struct c2s *c2s);
void	 clients_log_counters(struct c2s *c2s);
/* malloc_trim() when idle clients released enough parsers since the last one. */
#define C2S_TRIM_MS	10000
void	 clients_trim(struct c2s *c2s);

/* --- stream.c --- */

struct sb_xml_stream *stream_new(struct client *cl);
/* Feed bytes to the parser and act on what it says (DATA, and drains). */
void	 stream_input(struct client *cl, const char *data, size_t len, size_t *used);
/* The TLS handshake finished (STARTTLS or direct TLS). */
void	 stream_tls_ready(struct client *cl);
/* A fresh random id (hex, 32 characters) into out[33]. */
/* Our stream header, from the client's domain (when known); to may be NULL. */
void	 stream_send_header(struct client *cl, const char *to);

/* --- bound.c --- */

/* A top-level element from an authenticated client (before or after bind). */
void	 bound_element(struct client *cl, struct sb_xml_node *st);
/* The bind request is answered: send the result and what waited. */
void	 bound_started(struct client *cl, const char *jid);
/* sm refused: the bind IQ gets this error and the client may try again. */
void	 bound_failed(struct client *cl, enum sb_stanza_err cond, const char *text);
/* Drop the stanzas waiting for 'started'. */
void	 bound_queue_free(struct client *cl);
/* An unsolicited reply to our ping? Then it is taken here. */
int	 bound_is_pong(struct client *cl, const struct sb_xml_node *st);
/* Send the client a XEP-0199 ping (idle). */
void	 bound_ping(struct client *cl);

/* --- session.c --- */

/* Ask sm for a session for cl->jid (the bind request). */
void	 session_start(struct client *cl);
/* Send a client stanza to sm, in an envelope with the session id. */
int	 session_forward(struct client *cl, const struct sb_xml_node *st);
/* The client goes: tell sm ('end') if it knew, forget the session. */
void	 session_end(struct client *cl);
/* The sid text of a session ("<prefix>-<hex>") into buf. */
void	 session_sid_format(const struct c2s *c2s, uint64_t sid, char *buf, size_t len);

/* XEP-0077 cancel: ask sm to delete the account (<session action='delete'/>). */
int	 session_delete(struct client *cl);

/* Router link callbacks (main.c wires them). */
void	 session_link_up(struct sb_complink *l, void *arg);
void	 session_link_down(struct sb_complink *l, const char *reason, void *arg);
void	 session_link_error(struct sb_complink *l, const char *text, void *arg);
void	 session_link_stanza(struct sb_complink *l, struct sb_xml_node *st, void *arg);
void	 session_link_announce(struct sb_complink *l, enum sb_complink_event ev, const char *name,
	     const char *holder, void *arg);
void	 sessions_init(struct c2s *c2s);
void	 sessions_free(struct c2s *c2s);

/* --- register.c: XEP-0077 --- */

/* Append the iq-register stream feature when the stream may register. */
void	 register_feature(struct client *cl, struct sb_buf *b);
/*
 * A jabber:iq:register IQ before authentication / from a bound session
 * (to the server): 1 when it was taken (answered now or later), else 0.
 */
int	 register_preauth(struct client *cl, struct sb_xml_node *st);
int	 register_bound(struct client *cl, struct sb_xml_node *st);
/* The client goes: work under way finishes without it. */
void	 register_client_gone(struct client *cl);
/* <iq type='result'/> (payload may be NULL) and <iq type='error'/> by id. */
void	 c2s_iq_result(struct client *cl, const char *id, const char *payload);
void	 c2s_iq_error(struct client *cl, const char *id, enum sb_stanza_err cond,
	     const char *text);

/* --- iqauth.c: XEP-0078 --- */

void	 iqauth_feature(struct client *cl, struct sb_buf *b);
/* A jabber:iq:auth IQ before authentication: 1 when taken, else 0. */
int	 iqauth_preauth(struct client *cl, struct sb_xml_node *st);

/* --- certs.c: TLS contexts made from the configuration's domains --- */

/*
 * A server context holding every domain's certificate (SNI chooses), with
 * alpn required when the client offers ALPN (NULL: none); or NULL and err
 * says why.
 */
struct sb_tls_ctx *c2s_tls_context(const struct c2s_conf *conf, const char *alpn, char *err,
	     size_t errlen);

/* --- reload.c --- */

/*
 * SIGHUP: read c2s.xml again and apply what can change at runtime; on any
 * error log it and keep the running configuration (reload.c says what).
 */
void	 c2s_reload(struct c2s *c2s);

/* --- the process (main.c) --- */

struct c2s {
	uv_loop_t		*loop;
	struct sb_proc		 proc;		/* command line, signals, readiness */
	struct sb_status	*status;	/* NULL: no status file */
	const char		*conf_path;
	const char		*storage_path;	/* switchboard.xml */
	struct c2s_conf		*conf;
	struct sb_store_conf	 store_conf;
	struct sb_store		*store;
	struct sb_tls_ctx	*tls;		/* STARTTLS: every domain's certificate */
	struct sb_tls_ctx	**tls_direct;	/* per listener: NULL, or with its ALPN */
	struct c2s_sasl_ctx	*sasl;
	struct sb_complink	*link;
	struct client		*clients;
	size_t			 nclients;
	struct c2s_addrs	 addrs;
	/* sessions by sid */
	struct client		**sids;
	size_t			 nsids_slots, nsessions;
	uint64_t		 next_sid;
	char			 sid_prefix[9];
	int			 stopping;
	struct sb_buf		 out;		/* serializing, cleared after each use */
	struct sb_arena		 scratch;	/* replies, reset after each use */
	uint64_t		 logins, login_failures;
	uint64_t		 stanzas_in, stanzas_out;	/* since start */
	unsigned		 hibernated;	/* parsers released since the last trim */
};

#endif
