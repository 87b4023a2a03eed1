/*
 * complink.h: the link every internal process (c2s, sm, s2s, muc) keeps to
 * the router: a XEP-0114 component stream with switchboard's extensions
 * (docs/ARCHITECTURE.md, "The router protocol").
 *
 * The link connects, opens the stream under its name, does the handshake,
 * binds its extra names (and the default route) and only then is UP. It
 * reconnects on its own with backoff when the router goes away, and does
 * it all again. What the process sends while the link is not UP waits in a
 * bounded queue and leaves, in order, as soon as the link is UP again.
 *
 * Callbacks (any may be NULL), all from libuv callbacks, never from inside
 * a call into this module:
 *
 *   up        setup finished: every bind answered 'bound'. Queued stanzas
 *             have just been written, so what up() sends comes after them.
 *   down      a link that was up is gone (reason for the log); one down()
 *             for every up(). The link reconnects by itself.
 *   error     the router refused us: a bind-error, or a stream error before
 *             the link is up (<not-authorized/> for a wrong secret). Logged
 *             as an error. Refusals of the configuration (not-authorized,
 *             host-unknown, conflict, any bind-error) are retried at the
 *             longest backoff only, so a misconfigured process does not
 *             hammer the router.
 *   stanza    a stanza or an envelope from the router. The tree lives until
 *             the callback returns, unless it takes the arena with
 *             sb_complink_take_arena(). Use sb_complink_unwrap() for
 *             envelopes.
 *   announce  <announce/>: a name was bound or unbound by the link whose
 *             first name is 'holder'; name NULL is the default route.
 *
 * Namespaces: the stream's content namespace is jabber:component:accept.
 * sb_complink_send() writes a stanza as if its own namespace (jabber:client
 * for a tree parsed from a client) were the link's, so the router sees a
 * component stanza; received trees are in jabber:component:accept: write
 * them to another stream with sb_xml_write(out, st, st->e.ns).
 *
 * The link's timer is a libuv handle of its own: call sb_complink_close()
 * before or right after sb_loop_shutdown() so the loop can end. A link sees
 * the shutdown (its connection closes with "server shutting down") and does
 * not reconnect then.
 */
#ifndef SB_COMPLINK_H
#define SB_COMPLINK_H

#include <stddef.h>

#include <uv.h>

#include "arena.h"
#include "buf.h"
#include "xml.h"

struct sb_complink;

/* A name to bind after the handshake. */
struct sb_complink_bind {
	const char	*name;
	int		 share;		/* ask to share it with other links */
};

/* Zero means the default for every number. Strings are copied. */
struct sb_complink_conf {
	const char	*router_addr;		/* numeric IPv4 or IPv6 address */
	int		 router_port;
	const char	*name;			/* the stream's 'to': our first name */
	const char	*secret;
	const struct sb_complink_bind *binds;	/* more names to bind */
	size_t		 nbinds;
	int		 default_route;		/* ask to be the route for unknown domains */
	unsigned	 backoff_min_ms;	/* 100: first reconnect delay, doubling */
	unsigned	 backoff_max_ms;	/* 5000 */
	size_t		 queue_max_stanzas;	/* 10000: kept while not up */
	size_t		 queue_max_bytes;	/* 16 MiB */
	unsigned	 connect_timeout_ms;	/* 5000 */
	unsigned	 handshake_timeout_ms;	/* 10000: header and <handshake/> */
	unsigned	 bind_timeout_ms;	/* 10000: all bind answers */
	size_t		 max_stanza;		/* 1 MiB: largest stanza we read */
};

#define SB_COMPLINK_BACKOFF_MIN_MS	100
#define SB_COMPLINK_BACKOFF_MAX_MS	5000
#define SB_COMPLINK_QUEUE_STANZAS	10000
#define SB_COMPLINK_QUEUE_BYTES		(16 * 1024 * 1024)
#define SB_COMPLINK_CONNECT_TIMEOUT_MS	5000
#define SB_COMPLINK_SETUP_TIMEOUT_MS	10000
#define SB_COMPLINK_MAX_STANZA		(1024 * 1024)

enum sb_complink_event {
	SB_COMPLINK_BOUND,
	SB_COMPLINK_UNBOUND,
};

struct sb_complink_cb {
	void	(*up)(struct sb_complink *l, void *arg);
	void	(*down)(struct sb_complink *l, const char *reason, void *arg);
	void	(*error)(struct sb_complink *l, const char *text, void *arg);
	void	(*stanza)(struct sb_complink *l, struct sb_xml_node *st, void *arg);
	void	(*announce)(struct sb_complink *l, enum sb_complink_event ev,
		    const char *name, const char *holder, void *arg);
};

/*
 * Make a link and start connecting. NULL with err when the configuration
 * is unusable (no name or secret, not a numeric address, bad port).
 */
struct sb_complink *sb_complink_new(uv_loop_t *loop, const struct sb_complink_conf *conf,
		    const struct sb_complink_cb *cb, void *arg, char *err, size_t errlen);
/*
 * Close the stream gracefully and free the link (memory goes once libuv
 * has closed its handles). Queued stanzas are dropped, with a log line. No
 * callback runs afterwards. Safe from inside a callback.
 */
void	 sb_complink_close(struct sb_complink *l);

/*
 * Send a stanza (or a <route/> envelope tree). While the link is not up it
 * is queued. 0 when written or queued; -1 when the queue is full or the
 * link is closing: the caller decides (usually an error reply upstream).
 */
int	 sb_complink_send(struct sb_complink *l, const struct sb_xml_node *st);
/* The same for bytes already serialized: one stanza or envelope. */
int	 sb_complink_send_raw(struct sb_complink *l, const char *bytes, size_t len);
/* Send st in an envelope to 'to', from 'from' (NULL: the link's name). */
int	 sb_complink_send_routed(struct sb_complink *l, const char *to, const char *from,
	     const struct sb_xml_node *st);

/*
 * The opening tag of an envelope: to is tolen bytes (need not end in NUL,
 * e.g. the bare part of a full JID); from and sid are left out when NULL.
 */
void	 sb_complink_write_envelope_open(struct sb_buf *out, const char *to, size_t tolen,
	     const char *from, const char *sid);
/* Envelopes: <route xmlns='urn:switchboard:route:0' to='..' from='..'>st</route> */
void	 sb_complink_write_envelope(struct sb_buf *out, const char *to, const char *from,
	     const struct sb_xml_node *st);
/* A tree: st is moved under a new envelope in a (unlinked from any parent). */
struct sb_xml_node *sb_complink_wrap(struct sb_arena *a, const char *to, const char *from,
		    struct sb_xml_node *st);
/* The stanza inside an envelope, or NULL when n is not an envelope or is empty. */
struct sb_xml_node *sb_complink_unwrap(const struct sb_xml_node *n);

/*
 * The XEP-0114 handshake: lower-case hex SHA-1 of id + secret, NUL-ended
 * (the router checks what a component sends with the same function).
 */
void	 sb_complink_handshake_digest(const char *id, const char *secret, char hex[41]);

/* From the stanza callback: keep the tree (its arena goes to out). */
void	 sb_complink_take_arena(struct sb_complink *l, struct sb_arena *out);

int	 sb_complink_is_up(const struct sb_complink *l);
const char *sb_complink_name(const struct sb_complink *l);
/* Stanzas waiting for the link to be up. */
size_t	 sb_complink_queued(const struct sb_complink *l);
/* The delay of the reconnect now scheduled, 0 when none is. */
unsigned sb_complink_retry_ms(const struct sb_complink *l);

#endif
