/*
 * pgsql_codec.h: the PostgreSQL driver's conversions, apart from its
 * connection handling (driver_pgsql.c): parameters out in libpq's arrays,
 * result rows in as sb_db_values, SQLSTATEs as error classes, and the
 * checks of the SQL against the query catalogue.
 */
#ifndef SB_PGSQL_CODEC_H
#define SB_PGSQL_CODEC_H

#include <stddef.h>

#include <libpq-fe.h>

#include "driver.h"

#define SB_PGSQL_MAX_PARAMS	32

extern const char *const sb_sql_pgsql[SB_Q_COUNT];

/* A statement's parameters as libpq takes them; ints point into the struct. */
struct sb_pgsql_params {
	int		 n;
	const char	*values[SB_PGSQL_MAX_PARAMS];
	int		 lengths[SB_PGSQL_MAX_PARAMS];
	int		 formats[SB_PGSQL_MAX_PARAMS];
	Oid		 types[SB_PGSQL_MAX_PARAMS];
	unsigned char	 ints[SB_PGSQL_MAX_PARAMS][8];
};

/* The query's parameter types (from the catalogue letters), for Parse. */
void	 sb_pgsql_param_types(enum sb_query q, struct sb_pgsql_params *pp);
/* Types and values: integers and blobs binary, text as text, never spliced. */
void	 sb_pgsql_bind(const struct sb_store_stmt *s, struct sb_pgsql_params *pp);

/*
 * The rows of a statement's result into req->res (changes, rows, last_id).
 * -1 with msg when the result does not fit the query's catalogue entry.
 */
int	 sb_pgsql_decode(struct sb_store_req *req, PGresult *r, enum sb_query q,
	     char *msg, size_t len);

/* Does a Describe of the prepared query match the catalogue? -1 with msg if not. */
int	 sb_pgsql_verify(PGresult *describe, enum sb_query q, char *msg, size_t len);
/* Does the query's SQL take as many $N as the catalogue declares? -1 with msg if not. */
int	 sb_pgsql_check_sql(enum sb_query q, char *msg, size_t len);

/* The error class of an error result, and "message (SQLSTATE xxxxx)" in msg. */
enum sb_store_err sb_pgsql_error(PGresult *r, int conn_bad, char *msg, size_t len);

/* The first line of a libpq message (they end with a newline, some run on). */
char	*sb_pgsql_first_line(const char *text, char *buf, size_t len);

#endif
