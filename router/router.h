/*
 * router.h: the router process's own types and the functions its files
 * share. The protocol is in docs/ARCHITECTURE.md ("The router protocol").
 *
 *   config.c    router.xml: listeners, limits, components and what they may bind
 *   names.c     the table name -> holders, the default route, rendezvous hashing
 *   link.c      one accepted connection: stream, handshake, errors, writing
 *   route.c     routing stanzas and envelopes, error replies, anti-spoofing
 *   commands.c  <bind/> and <unbind/> from internal links
 *   announce.c  <announce/> to internal links
 *   status.c    the status file's lines: totals and every link, for sbctl
 *   main.c      arguments, listeners, signals, the loop
 */
#ifndef ROUTER_ROUTER_H
#define ROUTER_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "arena.h"
#include "buf.h"
#include "conn.h"
#include "log.h"
#include "proc.h"
#include "stanza.h"
#include "status.h"
#include "stream.h"
#include "timer.h"
#include "xml.h"

struct sb_config;
struct link;
struct router;

/* --- config.c --- */

struct router_listen {
	const char	*address;
	int		 port;
};

/* One <component/> entry. Names are canonical domains (sb_jid_prepare). */
struct router_component {
	const char	*name;
	const char	*secret;
	int		 internal;
	int		 share;
	int		 default_route;
	const char	**binds;	/* other names it may bind */
	size_t		 nbinds;
	int		 line;
};

/* Every name router.xml mentions, with what it says about it. */
struct router_confname {
	const char			*name;
	int				 share;	/* several links may hold it */
	const struct router_component	*comp;	/* its own entry, or NULL */
};

struct router_conf {
	struct sb_config		*cfg;	/* owns the strings */
	struct sb_arena			 arena;	/* canonical names and arrays */
	const char			*path;
	struct router_listen		*listens;
	size_t				 nlistens;
	size_t				 stanza_size;
	size_t				 write_buffer;
	int64_t				 handshake_ms;
	int64_t				 stuck_ms;	/* congested this long: disconnected */
	int				 log_level;
	const char			*status_path;	/* NULL: no status file */
	int64_t				 status_ms;
	struct router_component		*comps;
	size_t				 ncomps;
	struct router_confname		*names;
	size_t				 nnames;
};

struct router_conf *router_conf_load(const char *path, char *err, size_t errlen);
void	 router_conf_free(struct router_conf *conf);
/* May comp bind name (canonical)? Its own name counts. */
int	 router_conf_may_bind(const struct router_component *comp, const char *name);
/* SIGHUP: read router.xml again; on an error the running configuration stays. */
void	 router_reload(struct router *r);

/* --- names.c --- */

/*
 * A routable name and the links holding it. Entries exist while router.xml
 * mentions the name (configured) or a link holds it.
 */
struct name {
	char				*str;	/* canonical, owned */
	uint32_t			 len;
	uint64_t			 hash;
	unsigned			 configured:1, share:1;
	const struct router_component	*comp;	/* its <component/>, or NULL */
	struct link			**holders;
	uint32_t			 nholders, cap;
};

struct names {
	struct name	**slots;	/* open addressing, linear probing */
	uint32_t	 mask;		/* capacity - 1 */
	uint32_t	 count;
	struct name	 def;		/* the default route: holders only */
};

void	 names_init(struct names *t);
void	 names_free(struct names *t);
/* The entry for a canonical domain, or NULL. Never allocates. */
struct name *names_find(const struct names *t, const char *s, size_t len);
/* Bring the table in line with a (new) configuration. */
void	 names_configure(struct names *t, const struct router_conf *conf);
/* Find or create the entry (for a name a link binds). */
struct name *names_get(struct names *t, const char *s, size_t len);
void	 names_add_holder(struct name *n, struct link *l);
/* Remove l; an entry neither configured nor held any more goes away. */
void	 names_remove_holder(struct names *t, struct name *n, struct link *l);
int	 names_held_by(const struct name *n, const struct link *l);
/* The holder for key (a bare JID) by rendezvous hashing; n has holders. */
struct link *names_pick(const struct name *n, const char *key, size_t keylen);

/* --- link.c --- */

enum link_state {
	LINK_HEADER,	/* waiting for the stream header */
	LINK_HANDSHAKE,	/* header answered, waiting for <handshake/> */
	LINK_OPEN,	/* authenticated */
	LINK_CLOSING,	/* stream ended or failed: no more input, no routing */
};

struct link {
	struct router		*r;
	struct sb_conn		*conn;
	struct sb_xml_stream	*xs;
	struct link		*prev, *next;
	enum link_state		 state;
	unsigned		 internal:1, is_default:1, header_sent:1, detached:1,
				 authed:1, congested:1;
	char			*name;		/* first name, canonical; NULL before the header */
	uint64_t		 name_hash;	/* for rendezvous hashing */
	uint32_t		 instance;	/* among open links of one (shared) name */
	uint64_t		 serial;	/* breaks ties between equal weights */
	struct name		**names;	/* names held, the first name first */
	uint32_t		 nnames, cap;
	struct sb_deadline	 dl;		/* the handshake timeout */
	struct sb_deadline	 cdl;		/* how long it may stay congested */
	char			 id[33];	/* stream id */
	int64_t			 since;		/* accepted, Unix time */
	size_t			 wlimit;	/* write-buffer bound */
	uint64_t		 in, out, bounced;
};

void	 link_accept(struct sb_listener *ls, struct sb_conn *c, void *arg);
/*
 * End the link with a stream error: logged once at level with the link's
 * name and address, names released (announced), the connection closed
 * after the error is sent. now: do not wait for the queue to drain (the
 * peer does not read).
 */
void	 link_error(struct link *l, enum sb_log_level level, enum sb_stream_err cond,
	     int now, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void	 link_log(const struct link *l, enum sb_log_level level, const char *fmt, ...)
	     __attribute__((format(printf, 3, 4)));
/*
 * Queue bytes for the link. A link whose queue passes the high-water mark
 * is congested: the router stops reading every link until it drains (see
 * link.c). One whose queue passes the write-buffer bound, or that stays
 * congested too long, is disconnected with <policy-violation/>: -1 then.
 */
int	 link_send(struct link *l, const char *data, size_t len);
/* Serialize and send an element (content namespace jabber:component:accept). */
int	 link_send_node(struct link *l, const struct sb_xml_node *e);
/* The current stanza's bytes as received, or NULL (trees only). */
const char *link_raw(const struct link *l, size_t *len);
const char *link_raw_child(const struct link *l, size_t *len);
/* Take a name / release every name (announced both ways). */
void	 link_bind(struct link *l, struct name *n);
void	 link_unbind(struct link *l, struct name *n);
void	 link_detach(struct link *l);
void	 link_log_counters(const struct link *l, enum sb_log_level level, const char *why);
/* The link's <component/> entry in the running configuration (NULL once removed). */
const struct router_component *link_component(const struct link *l);
/* Every link: end with <system-shutdown/> / log the counters (signals). */
void	 links_shutdown(struct router *r);
void	 links_log_counters(struct router *r);

/* --- route.c --- */

void	 route_stanza(struct link *l, struct sb_xml_node *st);
void	 route_envelope(struct link *l, struct sb_xml_node *env);

/* --- commands.c --- */

void	 command_bind(struct link *l, struct sb_xml_node *cmd);
void	 command_unbind(struct link *l, struct sb_xml_node *cmd);

/* --- announce.c --- */

/* Tell every other open internal link that l bound / unbound n (NULL: default route). */
void	 announce(struct router *r, const struct link *l, const char *event, const struct name *n);
/* Tell a newly open internal link about every name the others hold. */
void	 announce_snapshot(struct router *r, struct link *to);

/* --- status.c --- */

/* The router's lines of its status file (lib/status.h): totals, then one per link. */
sb_status_fn	router_status;

/* --- the process (main.c) --- */

struct router {
	uv_loop_t		*loop;
	const char		*conf_path;
	struct router_conf	*conf;
	struct names		 names;
	struct link		*links;		/* every accepted link */
	uint64_t		 serial;
	int			 ncongested;	/* links over their high-water mark */
	int			 stopping;
	struct sb_arena		 scratch;	/* error replies, reset after each */
	struct sb_buf		 out;		/* serializing, cleared after each */
	uint64_t		 routed;	/* stanzas forwarded, since start */
	uint64_t		 bounced;	/* stanzas answered with an error or dropped */
	struct sb_status	*status;	/* NULL: no status file */
	struct sb_proc		 proc;
};

#endif
