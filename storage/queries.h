/*
 * queries.h: the catalogue of named queries, the only SQL callers can run.
 *
 * Each entry: the query's name, its parameter types and its result column
 * types, one letter each:
 *
 *   i  integer (64-bit)      t  text (UTF-8)      b  blob
 *
 * an upper-case letter (I, T, B) allows NULL. The SQL of query NAME is the
 * block "-- name: NAME" (lower case) in storage/sql/<dialect>.sql; the build
 * checks that every dialect has every query, and the driver checks at open
 * that each statement takes as many parameters and returns as many columns
 * as declared here. Parameters are $1, $2, ... in both dialects.
 *
 * Adding a query: a line here, a block in each dialect's file.
 */
#ifndef SB_QUERIES_H
#define SB_QUERIES_H

#define SB_QUERY_LIST(Q)						\
	/* schema bookkeeping (the migrator's own) */			\
	Q(SCHEMA_EXISTS,	"",		"i")			\
	Q(SCHEMA_VERSION,	"",		"i")			\
	Q(SCHEMA_SET_VERSION,	"i",		"")			\
	/* accounts: SCRAM secrets, never a password */		\
	Q(ACCOUNT_CREATE,	"ttibibbbibb",	"i")			\
	Q(ACCOUNT_GET,		"tt",		"iiibibbbibb")		\
	Q(ACCOUNT_SET_SECRETS,	"ttbibbbibb",	"")			\
	Q(ACCOUNT_SET_DISABLED,	"tti",		"")			\
	Q(ACCOUNT_DELETE,	"tt",		"")			\
	Q(ACCOUNT_LIST,		"t",		"tii")			\
	Q(ACCOUNT_LIST_ALL,	"",		"ttii")			\
	/* offline messages (XEP-0160) */				\
	Q(OFFLINE_STORE,	"ttit",		"i")			\
	Q(OFFLINE_FETCH,	"tt",		"iit")			\
	Q(OFFLINE_DELETE,	"tti",		"")			\
	Q(OFFLINE_COUNT,	"tt",		"i")			\
	/* sm: a user's account row when the user is loaded */		\
	Q(USER_LOAD,		"tt",		"iiii")			\
	/* sm: RFC 6121 roster (one row per item and group) */		\
	Q(ROSTER_LOAD,		"tt",		"tTiiiiT")		\
	Q(ROSTER_UPSERT,	"itTiiii",	"")			\
	Q(ROSTER_GROUPS_CLEAR,	"it",		"")			\
	Q(ROSTER_GROUP_ADD,	"itt",		"")			\
	Q(ROSTER_DELETE,	"it",		"")			\
	Q(ROSTER_REMOVED_SET,	"iti",		"")			\
	Q(ROSTER_REMOVED_CLEAR,	"it",		"")			\
	Q(ROSTER_REMOVED_SINCE,	"ii",		"ti")			\
	Q(ROSTER_SET_VERSION,	"ii",		"")			\
	/* sm: inbound subscription requests not yet answered */	\
	Q(SUBREQ_LOAD,		"tt",		"tt")			\
	Q(SUBREQ_STORE,		"itti",		"")			\
	Q(SUBREQ_DELETE,	"it",		"")			\
	/* sm: offline messages by account id, with a per-user limit */	\
	Q(OFFLINE_PUT,		"iiti",		"i")			\
	Q(OFFLINE_TAKE,		"i",		"iit")			\
	Q(OFFLINE_DROP,		"ii",		"")			\
	/* sm: vCard (XEP-0054), private XML (XEP-0049), last activity */	\
	Q(VCARD_GET,		"i",		"t")			\
	Q(VCARD_SET,		"iti",		"")			\
	Q(PRIVATE_GET,		"it",		"t")			\
	Q(PRIVATE_SET,		"itt",		"")			\
	Q(LAST_GET,		"i",		"iT")			\
	Q(LAST_SET,		"iiT",		"")

/*
 * Column order of ACCOUNT_GET: id, created, disabled, then for SHA-1 and for
 * SHA-256 in turn: salt, iterations, StoredKey, ServerKey. ACCOUNT_CREATE
 * takes domain, username, created, then the same eight secret values, and
 * ACCOUNT_SET_SECRETS domain, username and the eight.
 */
enum sb_account_col {
	SB_ACCOUNT_ID,
	SB_ACCOUNT_CREATED,
	SB_ACCOUNT_DISABLED,
	SB_ACCOUNT_SHA1_SALT,
	SB_ACCOUNT_SHA1_ITERATIONS,
	SB_ACCOUNT_SHA1_STORED_KEY,
	SB_ACCOUNT_SHA1_SERVER_KEY,
	SB_ACCOUNT_SHA256_SALT,
	SB_ACCOUNT_SHA256_ITERATIONS,
	SB_ACCOUNT_SHA256_STORED_KEY,
	SB_ACCOUNT_SHA256_SERVER_KEY,
};

/*
 * sm's queries. USER_LOAD: id, roster_version, disabled, offline messages stored. ROSTER_LOAD: jid,
 * name, subscription (0 none, 1 to, 2 from, 3 both), ask, approved,
 * version, group (NULL for an item without groups), ordered by jid.
 * ROSTER_UPSERT: account id, jid, name, subscription, ask, approved,
 * version. OFFLINE_PUT: account id, created, stanza, limit: no row when the
 * user already has limit messages stored. OFFLINE_TAKE: id, created,
 * stanza in arrival order; OFFLINE_DROP deletes those up to an id.
 */

enum sb_query {
#define SB_QUERY_ENUM(name, params, cols) SB_Q_##name,
	SB_QUERY_LIST(SB_QUERY_ENUM)
#undef SB_QUERY_ENUM
	SB_Q_COUNT
};

struct sb_query_info {
	const char	*name;		/* "account_get" */
	const char	*params;	/* type letters */
	const char	*cols;
};

extern const struct sb_query_info sb_query_info[SB_Q_COUNT];

#endif
