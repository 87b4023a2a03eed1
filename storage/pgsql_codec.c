/*
 * pgsql_codec.c: conversions for the PostgreSQL driver (see pgsql_codec.h).
 *
 * Parameters are always bound: integers as int8 and blobs as bytea in
 * binary, text in text format. Results are asked for in binary, and each
 * column is decoded by its type OID through one table. Everything here is
 * a function of its arguments: no connection, no loop.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgsql_codec.h"

/* Type OIDs (catalog/pg_type_d.h, a server header; the numbers never change). */
enum {
	OID_BOOL = 16, OID_BYTEA = 17, OID_NAME = 19, OID_INT8 = 20, OID_INT2 = 21,
	OID_INT4 = 23, OID_TEXT = 25, OID_BPCHAR = 1042, OID_VARCHAR = 1043,
};

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

char *
sb_pgsql_first_line(const char *text, char *buf, size_t len)
{
	snprintf(buf, len, "%s", text != NULL && *text != '\0' ? text : "unknown error");
	buf[strcspn(buf, "\n")] = '\0';
	return buf;
}

/* --- SQLSTATE to error class --- */

/* First match wins: exact codes before their class. */
static const struct {
	const char		*prefix;
	enum sb_store_err	 err;
} sqlstates[] = {
	{ "57014", SB_STORE_E_TIMEOUT },	/* query_canceled: statement_timeout */
	{ "57P01", SB_STORE_E_UNAVAILABLE },	/* admin_shutdown */
	{ "57P02", SB_STORE_E_UNAVAILABLE },	/* crash_shutdown */
	{ "57P03", SB_STORE_E_UNAVAILABLE },	/* cannot_connect_now */
	{ "23", SB_STORE_E_CONSTRAINT },	/* integrity constraint violation */
	{ "53", SB_STORE_E_FULL },		/* insufficient resources; 53100 disk_full */
	{ "08", SB_STORE_E_UNAVAILABLE },	/* connection exception */
};

enum sb_store_err
sb_pgsql_error(PGresult *r, int conn_bad, char *msg, size_t len)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
	char text[384];

	sb_pgsql_first_line(primary != NULL ? primary : PQresultErrorMessage(r), text,
	    sizeof(text));
	if (state == NULL) {
		/* libpq's own error: mostly a connection that went away. */
		snprintf(msg, len, "%s", text);
		return conn_bad ? SB_STORE_E_UNAVAILABLE : SB_STORE_E_INTERNAL;
	}
	snprintf(msg, len, "%s (SQLSTATE %s)", text, state);
	for (size_t i = 0; i < NELEM(sqlstates); i++)
		if (strncmp(state, sqlstates[i].prefix, strlen(sqlstates[i].prefix)) == 0)
			return sqlstates[i].err;
	return SB_STORE_E_INTERNAL;
}

/* --- parameters --- */

static const struct {
	char	 letter;
	Oid	 oid;
} param_types[] = { { 'i', OID_INT8 }, { 't', OID_TEXT }, { 'b', OID_BYTEA } };

/* Upper case (NULL allowed) has the same type. */
static Oid
param_oid(char letter)
{
	char lower = (char)(letter | 0x20);

	for (size_t i = 0; i < NELEM(param_types); i++)
		if (param_types[i].letter == lower)
			return param_types[i].oid;
	return 0;
}

/*
 * Declared at Parse, so that the server never guesses: a parameter in a
 * select list (INSERT ... SELECT $3) would otherwise be taken as text.
 */
void
sb_pgsql_param_types(enum sb_query q, struct sb_pgsql_params *pp)
{
	const char *letters = sb_query_params(q);

	/* More than fit: sb_pgsql_check_sql() has marked the query, this only keeps memory safe. */
	pp->n = (int)strlen(letters);
	if (pp->n > SB_PGSQL_MAX_PARAMS)
		pp->n = SB_PGSQL_MAX_PARAMS;
	for (int j = 0; j < pp->n; j++)
		pp->types[j] = param_oid(letters[j]);
}

void
sb_pgsql_bind(const struct sb_store_stmt *s, struct sb_pgsql_params *pp)
{
	sb_pgsql_param_types(s->q, pp);
	for (int j = 0; j < pp->n; j++) {
		const struct sb_db_value *v = &s->params[j];

		pp->lengths[j] = (int)v->len;
		pp->formats[j] = v->type != SB_DB_TEXT;
		/* storage.c copied text with a NUL, as text format needs. */
		pp->values[j] = v->p != NULL ? v->p : "";
		if (v->type == SB_DB_NULL) {
			pp->values[j] = NULL;
		} else if (v->type == SB_DB_INT) {
			for (int k = 0; k < 8; k++)
				pp->ints[j][k] = (unsigned char)((uint64_t)v->i >> (56 - 8 * k));
			pp->values[j] = (const char *)pp->ints[j];
			pp->lengths[j] = 8;
		}
	}
}

/* --- result columns --- */

/* Integers come big-endian in their type's width; text and bytea raw. */
static const struct pg_type {
	Oid		 oid;
	enum sb_db_type	 type;
	int		 size;	/* integers */
	const char	*name;
} pg_types[] = {
	{ OID_INT8, SB_DB_INT, 8, "bigint" },
	{ OID_INT4, SB_DB_INT, 4, "integer" },
	{ OID_INT2, SB_DB_INT, 2, "smallint" },
	{ OID_BOOL, SB_DB_INT, 1, "boolean" },
	{ OID_TEXT, SB_DB_TEXT, 0, "text" },
	{ OID_VARCHAR, SB_DB_TEXT, 0, "varchar" },
	{ OID_BPCHAR, SB_DB_TEXT, 0, "char" },
	{ OID_NAME, SB_DB_TEXT, 0, "name" },
	{ OID_BYTEA, SB_DB_BLOB, 0, "bytea" },
};

static const struct pg_type *
type_find(Oid oid)
{
	for (size_t i = 0; i < NELEM(pg_types); i++)
		if (pg_types[i].oid == oid)
			return &pg_types[i];
	return NULL;
}

static enum sb_db_type
letter_type(char letter)
{
	switch (letter | 0x20) {
	case 'i':	return SB_DB_INT;
	case 't':	return SB_DB_TEXT;
	default:	return SB_DB_BLOB;
	}
}

static int
decode_cell(struct sb_store_req *req, struct sb_db_value *cell, const struct pg_type *t,
    const char *p, int len)
{
	uint64_t u = 0;

	if (t->type == SB_DB_TEXT) {
		sb_store_set_text(req, cell, p, (size_t)len);
		return 0;
	}
	if (t->type == SB_DB_BLOB) {
		sb_store_set_blob(req, cell, p, (size_t)len);
		return 0;
	}
	if (len != t->size)
		return -1;
	for (int i = 0; i < len; i++)
		u = u << 8 | (unsigned char)p[i];
	/* Sign-extend from the type's width. */
	if (len < 8 && (u >> (len * 8 - 1)) & 1)
		u |= ~(uint64_t)0 << (len * 8);
	*cell = sb_db_int((int64_t)u);
	return 0;
}

/* Each column's decoder, from the result's type OIDs. */
static int
column_types(PGresult *r, enum sb_query q, const struct pg_type **types, char *msg, size_t len)
{
	size_t want = strlen(sb_query_cols(q));
	int ncols = PQnfields(r);

	if ((size_t)ncols != want) {
		snprintf(msg, len, "%s returned %d columns, the catalogue declares %zu",
		    sb_query_info[q].name, ncols, want);
		return -1;
	}
	for (int j = 0; j < ncols; j++) {
		if ((types[j] = type_find(PQftype(r, j))) == NULL) {
			snprintf(msg, len, "%s: column %d has type OID %u, which the driver "
			    "cannot decode", sb_query_info[q].name, j + 1, PQftype(r, j));
			return -1;
		}
	}
	return 0;
}

int
sb_pgsql_decode(struct sb_store_req *req, PGresult *r, enum sb_query q, char *msg, size_t len)
{
	const struct pg_type *types[64];
	int ncols = PQnfields(r), nrows = PQntuples(r);

	/* PQcmdTuples counts a SELECT's rows too: those are not changes. */
	req->res.changes = strncmp(PQcmdStatus(r), "SELECT", 6) == 0 ? 0 :
	    strtoll(PQcmdTuples(r), NULL, 10);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		return 0;
	if (ncols > (int)NELEM(types) || column_types(r, q, types, msg, len) == -1)
		return -1;
	req->res.ncols = (size_t)ncols;
	for (int i = 0; i < nrows; i++) {
		struct sb_db_value *row = sb_store_add_row(req, (size_t)ncols);

		for (int j = 0; j < ncols; j++) {
			if (PQgetisnull(r, i, j))
				row[j] = sb_db_null();
			else if (decode_cell(req, &row[j], types[j], PQgetvalue(r, i, j),
			    PQgetlength(r, i, j)) == -1) {
				snprintf(msg, len, "%s: column %d: bad %s value",
				    sb_query_info[q].name, j + 1, types[j]->name);
				return -1;
			}
		}
		if (i == nrows - 1 && ncols > 0 && row[0].type == SB_DB_INT)
			req->res.last_id = row[0].i;
	}
	return 0;
}

/* --- checks against the catalogue --- */

int
sb_pgsql_verify(PGresult *r, enum sb_query q, char *msg, size_t len)
{
	const char *params = sb_query_params(q), *cols = sb_query_cols(q);
	const char *name = sb_query_info[q].name;

	if ((size_t)PQnparams(r) != strlen(params)) {
		snprintf(msg, len, "query %s: its SQL takes %d parameters, the catalogue "
		    "declares %zu", name, PQnparams(r), strlen(params));
		return -1;
	}
	if ((size_t)PQnfields(r) != strlen(cols)) {
		snprintf(msg, len, "query %s: its SQL returns %d columns, the catalogue "
		    "declares %zu", name, PQnfields(r), strlen(cols));
		return -1;
	}
	for (int j = 0; j < PQnfields(r); j++) {
		const struct pg_type *t = type_find(PQftype(r, j));

		if (t == NULL) {
			snprintf(msg, len, "query %s: column %d (%s) has type OID %u, which the "
			    "driver cannot decode", name, j + 1, PQfname(r, j), PQftype(r, j));
			return -1;
		}
		if (t->type != letter_type(cols[j])) {
			snprintf(msg, len, "query %s: column %d (%s) is %s, the catalogue "
			    "declares '%c'", name, j + 1, PQfname(r, j), t->name, cols[j]);
			return -1;
		}
	}
	return 0;
}

/*
 * The Describe cannot see a statement that uses fewer parameters than the
 * types declared for it at Parse, so count the $N in the SQL as well
 * (outside string literals; sqlgen.sh has dropped the comments).
 */
int
sb_pgsql_check_sql(enum sb_query q, char *msg, size_t len)
{
	size_t want = strlen(sb_query_params(q));
	long max = 0;
	int quoted = 0;

	for (const char *s = sb_sql_pgsql[q]; *s != '\0'; s++) {
		if (*s == '\'')
			quoted = !quoted;
		else if (!quoted && s[0] == '$' && s[1] >= '0' && s[1] <= '9') {
			long n = strtol(s + 1, NULL, 10);

			max = n > max ? n : max;
		}
	}
	if ((size_t)max == want && want <= SB_PGSQL_MAX_PARAMS)
		return 0;
	snprintf(msg, len, "query %s: its SQL takes %ld parameters, the catalogue declares %zu",
	    sb_query_info[q].name, max, want);
	return -1;
}
