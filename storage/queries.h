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
	Q(OFFLINE_COUNT,	"tt",		"i")

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
