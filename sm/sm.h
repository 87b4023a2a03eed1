/*
 * sm.h: the session manager's types and the functions its files share.
 *
 * sm binds the local domains at the router and owns every user's IM state:
 * sessions (which c2s holds which full JID), the roster, presence, offline
 * messages and the per-account data of the XEPs it serves. The protocol
 * with c2s is in docs/ARCHITECTURE.md ("Sessions between c2s and sm").
 *
 * The work model. Every stanza is handled in the context of one *user*,
 * the local account whose state it touches: a stanza from a client session
 * is *outbound* and belongs to its sender; a stanza addressed to a local
 * account is *inbound* and belongs to its recipient. A user keeps a FIFO
 * of jobs. A job runs when the user is loaded (account row, roster,
 * pending subscription requests: users.c) and no earlier job of the user
 * is still waiting for storage; other users are never held up. A handler
 * that needs storage calls sm_suspend() and returns; its callback finishes
 * the work and calls sm_resume(), and the user's next job runs. A handler
 * that needs nothing from storage finishes at once, and in the common case
 * (the user is loaded and idle) a stanza is handled straight from the
 * router link's callback without being copied.
 *
 * Stanzas between two local users do not go back through the router when
 * this shard owns the recipient: sm_route() hands them to the recipient's
 * user directly (see route.c). With several sm shards, the owner of a bare
 * JID is the holder the router's rendezvous hashing picks (rendezvous.h);
 * sm tracks the other holders of its domains from the router's announces.
 *
 * Files:
 *   main.c      arguments, config, store, router link, signals, loop
 *   config.c    sm.xml
 *   reload.c    SIGHUP: sm.xml again (limits, version, contacts, log level)
 *   link.c      the router link: envelopes in, session commands, announces
 *   users.c     the user table, loading, the job queues, idle eviction
 *   sessions.c  start / end / replaced / delete with c2s
 *   route.c     sending: to a session, to a JID (locally or via the router),
 *               error replies
 *   dispatch.c  which handler a stanza goes to; the module table
 *   message.c   RFC 6121 section 8 message delivery
 *   offline.c   XEP-0160 offline storage and delivery
 *   roster.c, subscription.c, presence.c   RFC 6121 roster and presence
 *               (what the three share is in roster.h)
 *   disco.c, vcard.c, private.c, last.c, version.c, time.c, ping.c   the IQs
 */
#ifndef SM_SM_H
#define SM_SM_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "arena.h"
#include "buf.h"
#include "hmap.h"
#include "jid.h"
#include "log.h"
#include "proc.h"
#include "ns.h"
#include "stanza.h"
#include "status.h"
#include "storage.h"
#include "timer.h"
#include "xml.h"

struct sb_complink;
struct sb_config;
struct sm;
struct sm_user;
struct sm_session;
struct sm_job;

/* --- config.c --- */

/* A served domain. name is canonical. */
struct sm_domain {
	const char	*name;
	int		 share;		/* bound with share='yes' (sm shards) */
	/* Other sm links holding this domain now (from the router's announces). */
	char		**holders;
	uint64_t	*holder_hashes;
	size_t		 nholders;
};

/* An XEP-0157 contact address: type ("admin", "abuse", ...) and URI. */
struct sm_contact_addr {
	const char	*type;
	const char	*uri;
};

struct sm_conf {
	struct sb_config	*cfg;		/* owns the strings */
	struct sb_arena		 arena;
	const char		*path;
	int			 log_level;
	const char		*status_path;	/* NULL: no status file */
	int64_t			 status_ms;

	const char		*name;		/* our link name: sm1 */
	const char		*secret;
	const char		*router_addr;
	int			 router_port;

	struct sm_domain	*domains;
	size_t			 ndomains;

	/* limits */
	int			 offline_max;	/* offline messages per user; 0: no storage */
	int64_t			 user_idle_ms;	/* a user with no session stays loaded this long */
	int			 queue_max;	/* jobs waiting per user before stanzas bounce */
	int			 roster_max;	/* items per roster */
	size_t			 private_max;	/* bytes of one private XML element or vCard */

	/* XEP-0092: what the server says it is; show_os 0 hides the OS. */
	const char		*version_name;
	const char		*version_version;
	int			 version_show_os;

	/* XEP-0157 */
	struct sm_contact_addr	*contacts;
	size_t			 ncontacts;
};

struct sm_conf *sm_conf_load(const char *path, char *err, size_t errlen);
void	 sm_conf_free(struct sm_conf *conf);
/* The served domain named by len bytes of s (canonical), or NULL. */
struct sm_domain *sm_conf_domain(const struct sm_conf *conf, const char *s, size_t len);

/* --- reload.c --- */

/*
 * SIGHUP: read sm.xml again and apply what can change at runtime; on an
 * error log it and keep the running configuration (reload.c says what).
 */
void	 sm_reload(struct sm *sm);

/* --- the process --- */

struct sm {
	uv_loop_t		*loop;
	struct sb_proc		 proc;		/* command line, signals, readiness */
	struct sb_status	*status;	/* NULL: no status file */
	struct sm_conf		*conf;
	const char		*conf_path;
	const char		*storage_path;
	struct sb_store_conf	 store_conf;
	struct sb_store		*store;
	struct sb_complink	*link;
	uint64_t		 name_hash;	/* our rendezvous weight name */
	int64_t			 started;	/* Unix time, for uptime (XEP-0012) */
	int			 stopping;

	struct sb_hmap		 users;		/* bare JID -> struct sm_user */
	struct sb_hmap		 sessions;	/* "c2s sid" -> struct sm_session */
	size_t			 nsessions;

	/* users with a job that can run now (users.c) */
	struct sm_user		*ready, *ready_tail;
	int			 draining;

	struct sb_arena		 in;		/* the router link's current stanza */
	struct sb_arena		 scratch;	/* reset after each top-level event */
	struct sb_buf		 out;		/* serializing */

	/* counters (SIGUSR1) */
	uint64_t		 n_in, n_out, n_local, n_offline, n_bounced;
};

/* --- link.c: the router link's callbacks (complink.h) --- */

enum sb_complink_event;
void	 sm_link_stanza(struct sb_complink *l, struct sb_xml_node *st, void *arg);
void	 sm_link_announce(struct sb_complink *l, enum sb_complink_event ev, const char *name,
	     const char *holder, void *arg);
void	 sm_link_up(struct sb_complink *l, void *arg);
void	 sm_link_down(struct sb_complink *l, const char *reason, void *arg);

/* --- the roster (roster.c owns it; presence.c and subscription.c read it) --- */

/* Subscription bits, as stored (roster_items.subscription). */
#define SM_SUB_NONE	0
#define SM_SUB_TO	1	/* the user receives the contact's presence */
#define SM_SUB_FROM	2	/* the contact receives the user's presence */
#define SM_SUB_BOTH	3

struct sm_roster_item {
	struct sb_hmap_node	 hn;		/* key: jid */
	char			*jid;		/* canonical bare JID */
	char			*name;		/* NULL: none */
	char			**groups;
	size_t			 ngroups;
	unsigned		 sub:2;		/* SM_SUB_* */
	unsigned		 ask:1;		/* pending out: we asked to subscribe */
	unsigned		 approved:1;	/* pre-approved (RFC 6121 3.4) */
	unsigned		 pending_in:1;	/* pending in: the contact asked us */
	unsigned		 in_roster:1;	/* a roster item (0: only pending_in) */
	int64_t			 version;	/* roster version when it last changed */
};

struct sm_roster {
	struct sb_hmap		 items;		/* jid -> struct sm_roster_item */
	size_t			 nitems;	/* with in_roster set */
};

/* --- users.c --- */

enum sm_user_state {
	SM_USER_LOADING,	/* queries under way; jobs wait */
	SM_USER_READY,
	SM_USER_NONE,		/* no such account: inbound stanzas get the RFC's errors */
	SM_USER_FAILED,		/* storage failed: jobs get internal/wait errors */
};

struct sm_user {
	struct sb_hmap_node	 hn;		/* key: bare */
	struct sm		*sm;
	char			*bare;		/* canonical bare JID, owned */
	struct sb_jid		 jid;		/* the bare JID parsed (points into bare) */
	const char		*local;		/* NUL-terminated copies of the parts */
	const struct sm_domain	*domain;
	enum sm_user_state	 state;
	enum sb_store_err	 load_err;	/* SM_USER_FAILED: why */
	int64_t			 account_id;
	int64_t			 roster_version;
	int			 disabled;
	int			 loads;		/* load queries still out */

	struct sm_roster	 roster;
	struct sm_session	*sessions;	/* list through sess->next */
	int			 nsessions;
	int64_t			 last_seen;	/* last session ended (Unix time), 0: unknown */
	int64_t			 offline_count;	/* offline messages stored (offline.c) */

	/* jobs */
	struct sm_job		*jobs, *jobs_tail;
	int			 njobs;
	struct sm_job		*waiting;	/* suspended, holding the user */
	struct sm_user		*ready_next;
	unsigned		 on_ready:1, running:1, deleted:1, evict:1;
	struct sb_deadline	 idle;		/* eviction when nothing is left */
	int			 refs;		/* storage callbacks still to come */
};

/* The loaded (or loading) user for a local bare JID; NULL if none is cached. */
struct sm_user *sm_user_find(struct sm *sm, const char *bare, size_t len);
/* The same, creating it (and starting its load) when absent. */
struct sm_user *sm_user_get(struct sm *sm, const struct sb_jid *bare);
/* A load query finished; err is SB_STORE_OK or why it failed. */
void	 sm_user_loaded(struct sm_user *u, enum sb_store_err err);
/* Keep u allocated across a storage call made outside a job (a write). */
void	 sm_user_ref(struct sm_user *u);
void	 sm_user_unref(struct sm_user *u);
/* Re-check whether u can go (no sessions, no jobs): starts the idle clock. */
void	 sm_user_idle_check(struct sm_user *u);
/* Free every user (shutdown). */
void	 sm_users_free(struct sm *sm);
/* Run the jobs of every user that can run now. Safe to call from anywhere. */
void	 sm_run_ready(struct sm *sm);
/* Forget cached users this shard no longer owns (a shard joined). */
void	 sm_users_rehome(struct sm *sm);

/* --- a stanza being handled --- */

struct sm_stanza;
/*
 * Run s for u now when u is loaded and idle, else queue a copy (the user is
 * loaded first when needed). A full queue bounces the stanza.
 */
void	 sm_submit(struct sm_user *u, struct sm_stanza *s);
/*
 * Queue a command made by sm itself for a session of u ("end": c2s is gone,
 * "kick": end it and tell c2s with condition).
 */
void	 sm_submit_internal(struct sm_user *u, const char *c2s, const char *sid,
	     const char *action, const char *condition);
/* Make s such a command (built in a) without submitting it. */
void	 sm_command_init(struct sm_stanza *s, struct sm *sm, struct sb_arena *a,
	     const char *c2s, const char *sid, const char *action, const char *condition);

enum sm_dir {
	SM_OUT,		/* from one of the user's sessions */
	SM_IN,		/* to the user (or to the server, user NULL) */
	SM_CMD,		/* a <session/> command from c2s */
};

/* Who owns the tree of a stanza being handled (sm_suspend() needs to know). */
enum sm_arena_kind {
	SM_ARENA_OWNED,		/* an arena of the caller's that sm_suspend() may adopt */
	SM_ARENA_JOB,		/* the job's own */
	SM_ARENA_BORROWED,	/* someone else's: sm_suspend() copies the tree */
};

/* Handler results. */
#define SM_DONE		0
#define SM_WAIT		1	/* sm_suspend() was called; sm_resume() will come */

struct sm_stanza {
	struct sm		*sm;
	struct sm_user		*user;		/* NULL: to the server, no user context */
	struct sm_session	*sess;		/* SM_OUT and SM_CMD: the session, when it exists */
	enum sm_dir		 dir;
	struct sb_xml_node	*st;		/* the stanza (jabber:component:accept) */
	struct sb_arena		*arena;		/* st's arena: replies may be built in it */
	enum sb_stanza_kind	 kind;
	const char		*type;		/* "" when absent */
	struct sb_jid		 from;		/* prepared; from.len 0 when absent */
	struct sb_jid		 to;		/* prepared; for SM_OUT without 'to', the
						 * user's bare JID (RFC 6120 10.3) */
	int			 to_absent;	/* the stanza had no 'to' */
	const char		*c2s, *sid;	/* SM_OUT / SM_CMD: where it came from */
	struct sm_job		*job;		/* set once suspended or queued */
	enum sm_arena_kind	 arena_kind;
	unsigned		 internal:1;	/* SM_CMD made by sm itself, not by c2s */
	void			*data;		/* the handler's, while suspended */
};

/*
 * Keep s (and its stanza) past the handler's return: returns the stable
 * copy to pass to storage callbacks. Each sm_suspend() needs one
 * sm_resume(); the user's next job runs after the last. The tree's nodes
 * stay where they are (the arena is adopted), except for a message handed
 * over locally by sm_route(), which is copied: message.c looks its nodes up
 * again after suspending.
 */
struct sm_stanza *sm_suspend(struct sm_stanza *s);
void	 sm_resume(struct sm_stanza *s);

/* --- sessions.c --- */

struct sm_session {
	struct sb_hmap_node	 hn;		/* key: "c2s sid" */
	struct sm_user		*user;
	struct sm_session	*next;		/* the user's sessions */
	struct sb_arena		 arena;		/* the session's strings */
	const char		*key;
	const char		*c2s;		/* the c2s link holding the client */
	const char		*sid;
	struct sb_jid		 jid;		/* full JID */
	int64_t			 started;	/* Unix time */

	/* presence.c */
	int			 priority;
	unsigned		 available:1;	/* sent available presence, not yet unavailable */
	unsigned		 initial:1;	/* initial presence was sent at least once */
	unsigned		 interested:1;	/* asked for the roster: gets roster pushes */
	struct sb_arena		 pres_arena;	/* the last presence and the directed list */
	struct sb_xml_node	*presence;	/* while available: the presence broadcast;
						 * after: the unavailable one the client
						 * sent (last.c reads its status), or NULL */
	struct sm_directed	*directed;	/* JIDs sent directed presence */
};

struct sm_directed {
	struct sm_directed	*next;
	const char		*jid;		/* full or bare, canonical */
};

/* The session named by c2s and sid, or NULL. */
struct sm_session *sm_session_find(struct sm *sm, const char *c2s, const char *sid);
/* The user's session with this resource (len bytes), or NULL. */
struct sm_session *sm_session_by_resource(struct sm_user *u, const char *res, size_t len);
/* Handle a <session/> command (SM_CMD job). */
int	 sm_session_command(struct sm_stanza *s);
/* End every session held by c2s link 'c2s' (it went away). */
void	 sm_sessions_c2s_gone(struct sm *sm, const char *c2s);
/* End a session from sm's side: tell c2s 'end' with a stream error condition. */
void	 sm_session_kick(struct sm_session *sess, const char *condition);
/* Remove a session: hooks, presence, table. Does not tell c2s. */
void	 sm_session_remove(struct sm_session *sess);

/* --- route.c --- */

/* Send a stanza to one session (through its c2s). */
void	 sm_send_session(struct sm *sm, struct sm_session *sess, const struct sb_xml_node *st);
/* The same for a serialized stanza that declares its namespace; -1 when the link's queue is full. */
int	 sm_send_session_raw(struct sm *sm, struct sm_session *sess, const char *stanza);
/*
 * Send a stanza to its 'to': a local user this shard owns is handled here
 * (an inbound job for that user, or the server's handlers for one of our
 * domains), anything else goes to the router. The tree is copied when it
 * must wait, so the caller keeps ownership.
 */
void	 sm_route(struct sm *sm, struct sb_xml_node *st);
/* Build and route an error reply to s's stanza (nothing for an error). */
void	 sm_reply_error(struct sm_stanza *s, enum sb_stanza_err cond, const char *text);
/* The same for a storage failure: wait-type conditions for transient ones. */
void	 sm_reply_store_error(struct sm_stanza *s, enum sb_store_err err);
/* Route an IQ result (payload may be NULL: an empty result). */
void	 sm_reply_result(struct sm_stanza *s, struct sb_xml_node *payload);
/*
 * The storage callback of a write an IQ set waits on (arg: its suspended
 * stanza): the empty result, or the store error; then the job resumes.
 */
void	 sm_reply_stored(const struct sb_store_result *r, void *arg);
/* Does this shard own bare JID 'bare' of domain d (rendezvous with the other holders)? */
int	 sm_owns(const struct sm *sm, const struct sm_domain *d, const char *bare, size_t len);
/* Send a <session/> command to a c2s link. */
void	 sm_send_command(struct sm *sm, const char *c2s, const char *action, const char *sid,
	     const char *jid, const char *condition);

/* --- dispatch.c: the module table --- */

/* Where an IQ may be addressed for a handler to see it. */
#define SM_IQ_SERVER	0x01	/* to one of our domains */
#define SM_IQ_SELF	0x02	/* from a session to its own account (no 'to' or its bare JID) */
#define SM_IQ_ACCOUNT	0x04	/* to a user's bare JID from anyone else */
#define SM_IQ_NOUSER	0x08	/* to the bare JID of an account that does not exist;
				 * unclaimed, these get service-unavailable (RFC 6121 8.5.1) */

typedef int sm_iq_fn(struct sm_stanza *s, struct sb_xml_node *payload);

struct sm_iq_handler {
	const char	*ns;		/* the payload's namespace */
	const char	*name;		/* the payload's name, NULL: any */
	unsigned	 where;		/* SM_IQ_* */
	sm_iq_fn	*get;		/* NULL: get is refused (bad-request) */
	sm_iq_fn	*set;		/* NULL: set is refused (not-allowed) */
};

/*
 * A module: a file that adds a feature. Every member may be NULL. Hooks run
 * in the user's job context (s is the stanza that caused them) and may
 * sm_suspend(s); session_end and account_delete also run for sessions that
 * ended without a stanza (s->st may then be a <session/> command).
 */
struct sm_module {
	const char			*name;
	const struct sm_iq_handler	*iqs;		/* ends with { NULL } */
	const char *const		*server_features;	/* disco#info of a domain */
	const char *const		*account_features;	/* disco#info of a bare JID */
	void	(*init)(struct sm *sm);
	void	(*fini)(struct sm *sm);
	/* Start loading the user's data: call sm_user_loaded(u, err) once. */
	void	(*user_load)(struct sm_user *u);
	void	(*user_free)(struct sm_user *u);
	void	(*session_start)(struct sm_stanza *s, struct sm_session *sess);
	void	(*session_end)(struct sm_stanza *s, struct sm_session *sess);
	/* The session's first available presence was broadcast. */
	void	(*available)(struct sm_stanza *s, struct sm_session *sess);
	/*
	 * The session now takes messages sent to the bare JID (available
	 * with a non-negative priority): after its initial presence, or when
	 * it raises a negative priority. Offline messages go then.
	 */
	void	(*deliverable)(struct sm_stanza *s, struct sm_session *sess);
	/* The account is about to be deleted (roster: unsubscribe everyone). */
	void	(*account_delete)(struct sm_stanza *s);
};

extern const struct sm_module *const sm_modules[];
extern const size_t sm_nmodules;

/* Run one stanza or command against its user (the job is ready). */
int	 sm_dispatch(struct sm_stanza *s);
/* Handle a stanza to one of our domains (no user). */
int	 sm_dispatch_server(struct sm_stanza *s);
/* Run a hook of every module: SM_HOOK(available, s, sess). */
#define SM_HOOK(hook, ...) do {							\
	for (size_t i_ = 0; i_ < sm_nmodules; i_++)				\
		if (sm_modules[i_]->hook != NULL)				\
			sm_modules[i_]->hook(__VA_ARGS__);			\
} while (0)

/* --- the modules' entry points the core calls --- */

/* message.c */
int	 sm_message_out(struct sm_stanza *s);
int	 sm_message_in(struct sm_stanza *s);
/* presence.c (subscription types go to subscription.c from there) */
int	 sm_presence_out(struct sm_stanza *s);
int	 sm_presence_in(struct sm_stanza *s);
/* Is the user's session available with non-negative priority? Used by message.c. */
int	 sm_presence_deliverable(const struct sm_session *sess);
/* subscription.c */
int	 sm_subscription_out(struct sm_stanza *s);
int	 sm_subscription_in(struct sm_stanza *s);
/* offline.c: store a message for the user; SM_WAIT or SM_DONE (error sent). */
int	 sm_offline_store(struct sm_stanza *s);
/* roster.c */
struct sm_roster_item *sm_roster_find(struct sm_user *u, const char *jid, size_t len);
/* Free the items (users.c frees the map's slots with the user). */
void	 sm_roster_free(struct sm_roster *r);
/* disco.c: names the router announced (components), for disco#items */
void	 sm_disco_announce(struct sm *sm, int bound, const char *name, const char *holder);
/* The router link dropped: forget them (they are announced again when it is back). */
void	 sm_disco_forget(struct sm *sm);

/* --- utilities --- */

/* Unix time now. */
int64_t	 sm_now(void);
/* XEP-0082 date-time "2026-11-21T10:00:00Z" of t into buf (>= 21 bytes). */
void	 sm_stamp(int64_t t, char *buf, size_t size);

#endif
