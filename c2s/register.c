/*
 * register.c: XEP-0077 in-band registration for the domains whose
 * <registration>yes</registration> is set, and only inside TLS (stream.c
 * accepts nothing but STARTTLS before it):
 *
 *   before SASL  get: the fields (instructions, username, password);
 *                set with username and password: the account is created
 *                (the client then logs in with SASL as usual)
 *   bound        get: <registered/> and the username; set with username
 *                and password: a password change for the user's own
 *                account (new salts); set with <remove/>: sm deletes the
 *                account (<session action='delete'/>), and on its
 *                'deleted' the IQ gets its result and the stream ends
 *                with <not-authorized/> (session.c)
 *
 * The username is prepared as a JID localpart, the password with PRECIS
 * OpaqueString. The SCRAM-SHA-1 and SCRAM-SHA-256 secrets (PBKDF2, about a
 * millisecond each) are made on libuv's thread pool, then storage runs
 * ACCOUNT_CREATE or ACCOUNT_SET_SECRETS. One operation per client at a
 * time; an operation outlives a client that goes (it finishes silently).
 *
 * Where the XEP leaves a choice:
 *  - Registration off: a get or set before SASL gets <service-unavailable/>
 *    (XEP-0077 3.1); from a bound session a get gets <service-unavailable/>
 *    and a password change or <remove/> <not-allowed/> (the error tables
 *    of 3.2 and 3.3).
 *  - Missing username or password: <not-acceptable/>; a username that is
 *    not a valid localpart: <jid-malformed/>; an empty or invalid password:
 *    <not-acceptable/>; the account exists: <conflict/>.
 *  - A password change naming another username: <not-allowed/>.
 *  - <remove/> before SASL: <registration-required/>.
 *  - Storage failures: <resource-constraint/> (type wait) when transient,
 *    else <internal-server-error/>.
 *  - At most REG_PER_ADDR accounts per client address in REG_WINDOW_MS
 *    (attempts that reach storage count); more get <resource-constraint/>.
 *    The table is small and bounded: the oldest entry gives way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/gnutls.h>

#include "c2s.h"
#include "jid.h"
#include "ns.h"
#include "precis.h"
#include "scram.h"
#include "xmalloc.h"

#define REG_PER_ADDR	10
#define REG_WINDOW_MS	(60 * 60 * 1000)
#define REG_TABLE	256

enum reg_kind {
	REG_CREATE,
	REG_PASSWORD,
};

struct reg_op {
	struct client		*cl;		/* NULL once the client went */
	struct c2s		*c2s;
	enum reg_kind		 kind;
	char			*domain;
	char			*user;
	char			*id;		/* of the IQ to answer */
	char			*password;	/* prepared; wiped after hashing */
	size_t			 password_len;
	int			 hashed;	/* both secrets made */
	struct sb_scram_secret	 sha1, sha256;
	uv_work_t		 work;
};

/* --- registrations per address --- */

struct reg_count {
	char		 addr[64];
	unsigned	 n;
	uint64_t	 since;
};

static struct reg_count reg_counts[REG_TABLE];

/* May addr create one more account now? Counts it when it may. */
static int
reg_count_take(uv_loop_t *loop, const char *addr)
{
	uint64_t now = uv_now(loop);
	struct reg_count *e = NULL, *oldest = &reg_counts[0];

	for (size_t i = 0; i < REG_TABLE; i++) {
		struct reg_count *r = &reg_counts[i];

		if (r->addr[0] != '\0' && strcmp(r->addr, addr) == 0) {
			e = r;
			break;
		}
		if (r->addr[0] == '\0' || r->since < oldest->since)
			oldest = r;
	}
	if (e == NULL || now - e->since >= REG_WINDOW_MS) {
		if (e == NULL)
			e = oldest;
		snprintf(e->addr, sizeof(e->addr), "%s", addr);
		e->n = 0;
		e->since = now;
	}
	if (e->n >= REG_PER_ADDR)
		return 0;
	e->n++;
	return 1;
}

/* --- replies --- */

static void
iq_open(struct client *cl, struct sb_buf *b, const char *type, const char *id)
{
	sb_buf_printf(b, "<iq type='%s' id='", type);
	sb_xml_escape_attr(b, id, strlen(id));
	sb_buf_append_char(b, '\'');
	if (cl->sess == SESS_ACTIVE && cl->jid != NULL) {
		sb_buf_append_str(b, " to='");
		sb_xml_escape_attr(b, cl->jid, strlen(cl->jid));
		sb_buf_append_char(b, '\'');
	}
}

void
c2s_iq_result(struct client *cl, const char *id, const char *payload)
{
	struct sb_buf b = SB_BUF_INIT;

	iq_open(cl, &b, "result", id);
	if (payload == NULL) {
		sb_buf_append_str(&b, "/>");
	} else {
		sb_buf_append_char(&b, '>');
		sb_buf_append_str(&b, payload);
		sb_buf_append_str(&b, "</iq>");
	}
	client_send(cl, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
}

void
c2s_iq_error(struct client *cl, const char *id, enum sb_stanza_err cond, const char *text)
{
	struct sb_buf b = SB_BUF_INIT;

	iq_open(cl, &b, "error", id);
	sb_buf_printf(&b, "><error type='%s'><%s xmlns='" SB_NS_XMPP_STANZAS "'/>",
	    sb_stanza_err_type(cond), sb_stanza_err_name(cond));
	if (text != NULL) {
		sb_buf_append_str(&b, "<text xmlns='" SB_NS_XMPP_STANZAS "' xml:lang='en'>");
		sb_xml_escape_text(&b, text, strlen(text));
		sb_buf_append_str(&b, "</text>");
	}
	sb_buf_append_str(&b, "</error></iq>");
	client_send(cl, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
}

/* --- the operation --- */

static void
op_free(struct reg_op *op)
{
	if (op->password != NULL) {
		gnutls_memset(op->password, 0, SB_JID_PART_BUFSIZE);
		free(op->password);
	}
	gnutls_memset(&op->sha1, 0, sizeof(op->sha1));
	gnutls_memset(&op->sha256, 0, sizeof(op->sha256));
	free(op->domain);
	free(op->user);
	free(op->id);
	free(op);
}

/* The answer is sent: the client may start another operation. */
static struct client *
op_done(struct reg_op *op)
{
	struct client *cl = op->cl;

	if (cl != NULL)
		cl->reg = NULL;
	op_free(op);
	return cl;
}

void
register_client_gone(struct client *cl)
{
	if (cl->reg != NULL) {
		cl->reg->cl = NULL;
		cl->reg = NULL;
	}
}

static void
stored(const struct sb_store_result *r, void *arg)
{
	struct reg_op *op = arg;
	struct client *cl = op->cl;
	const char *id = op->id;

	if (cl == NULL || cl->state == CL_CLOSING) {
		op_done(op);
		return;
	}
	if (r->err == SB_STORE_OK && (op->kind == REG_CREATE || r->changes > 0)) {
		client_log(cl, SB_LOG_INFO, "%s@%s: %s", op->user, op->domain,
		    op->kind == REG_CREATE ? "account registered" : "password changed");
		c2s_iq_result(cl, id, NULL);
	} else if (r->err == SB_STORE_OK) {
		c2s_iq_error(cl, id, SB_SERR_ITEM_NOT_FOUND, "the account is gone");
	} else if (r->err == SB_STORE_E_CONSTRAINT && op->kind == REG_CREATE) {
		client_log(cl, SB_LOG_INFO, "registration of %s@%s refused: it exists", op->user,
		    op->domain);
		c2s_iq_error(cl, id, SB_SERR_CONFLICT, "that username is taken");
	} else if (sb_store_err_is_transient(r->err)) {
		c2s_iq_error(cl, id, SB_SERR_RESOURCE_CONSTRAINT, "storage is busy; try again");
	} else {
		c2s_iq_error(cl, id, SB_SERR_INTERNAL_SERVER_ERROR, NULL);
	}
	op_done(op);
}

/* Runs on a pool thread: touches only the password and the secrets. */
static void
hash_work(uv_work_t *w)
{
	struct reg_op *op = w->data;

	op->hashed = sb_scram_secret_make(SB_SCRAM_SHA1, op->password, op->password_len, 0,
	    &op->sha1) == 0 && sb_scram_secret_make(SB_SCRAM_SHA256, op->password,
	    op->password_len, 0, &op->sha256) == 0;
}

static void
hash_after(uv_work_t *w, int status)
{
	struct reg_op *op = w->data;
	struct sb_db_value p[11], *v = p;

	gnutls_memset(op->password, 0, SB_JID_PART_BUFSIZE);
	free(op->password);
	op->password = NULL;
	if (op->cl == NULL) {
		op_done(op);
		return;
	}
	if (status != 0 || !op->hashed) {
		c2s_iq_error(op->cl, op->id, SB_SERR_INTERNAL_SERVER_ERROR, "cannot hash now");
		op_done(op);
		return;
	}
	*v++ = sb_db_text(op->domain);
	*v++ = sb_db_text(op->user);
	if (op->kind == REG_CREATE)
		*v++ = sb_db_int((int64_t)time(NULL));
	*v++ = sb_db_blob(op->sha1.salt, op->sha1.salt_len);
	*v++ = sb_db_int(op->sha1.iterations);
	*v++ = sb_db_blob(op->sha1.stored_key, sb_scram_hash_len(SB_SCRAM_SHA1));
	*v++ = sb_db_blob(op->sha1.server_key, sb_scram_hash_len(SB_SCRAM_SHA1));
	*v++ = sb_db_blob(op->sha256.salt, op->sha256.salt_len);
	*v++ = sb_db_int(op->sha256.iterations);
	*v++ = sb_db_blob(op->sha256.stored_key, sb_scram_hash_len(SB_SCRAM_SHA256));
	*v++ = sb_db_blob(op->sha256.server_key, sb_scram_hash_len(SB_SCRAM_SHA256));
	sb_store_query(op->c2s->store, op->kind == REG_CREATE ? SB_Q_ACCOUNT_CREATE :
	    SB_Q_ACCOUNT_SET_SECRETS, p, stored, op);
}

/*
 * Prepare the password and start hashing, then storage. The IQ is answered
 * later (or now on an error).
 */
static void
op_start(struct client *cl, enum reg_kind kind, const char *id, const char *user,
    const char *pw)
{
	struct reg_op *op;
	char *buf = xmalloc(SB_JID_PART_BUFSIZE);
	size_t len;

	if (sb_precis_enforce(SB_PRECIS_OPAQUESTRING, pw, strlen(pw), buf, SB_JID_PART_BUFSIZE,
	    &len) != SB_PRECIS_OK) {
		gnutls_memset(buf, 0, SB_JID_PART_BUFSIZE);
		free(buf);
		c2s_iq_error(cl, id, SB_SERR_NOT_ACCEPTABLE, "the password is not acceptable");
		return;
	}
	if (kind == REG_CREATE && !reg_count_take(cl->c2s->loop, c2s_addr_name(cl->addr))) {
		gnutls_memset(buf, 0, SB_JID_PART_BUFSIZE);
		free(buf);
		client_log(cl, SB_LOG_NOTICE, "registration refused: %d accounts from this address "
		    "within the hour", REG_PER_ADDR);
		c2s_iq_error(cl, id, SB_SERR_RESOURCE_CONSTRAINT,
		    "too many registrations from this address; try again later");
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->cl = cl;
	op->c2s = cl->c2s;
	op->kind = kind;
	op->domain = xstrdup(cl->domain->name);
	op->user = xstrdup(user);
	op->id = xstrdup(id);
	op->password = buf;
	op->password_len = len;
	op->work.data = op;
	cl->reg = op;
	if (uv_queue_work(cl->c2s->loop, &op->work, hash_work, hash_after) != 0) {
		c2s_iq_error(cl, id, SB_SERR_INTERNAL_SERVER_ERROR, "cannot hash now");
		op_done(op);
	}
}

/* --- the IQs --- */

/* The query of a jabber:iq:register IQ, or NULL. */
static const struct sb_xml_node *
reg_query(const struct sb_xml_node *st)
{
	if (!sb_xml_is(st, SB_NS_CLIENT, "iq"))
		return NULL;
	return sb_xml_child(st, SB_NS_REGISTER, "query");
}

/* 0 and the IQ's id, or -1 after answering a malformed request. */
static int
reg_check(struct client *cl, const struct sb_xml_node *st, const char **idp)
{
	const char *id = sb_xml_attr(st, "id"), *type = sb_stanza_type(st);

	if (id == NULL) {
		client_error(cl, SB_LOG_INFO, SB_STERR_INVALID_XML, 0, "an IQ without an id");
		return -1;
	}
	*idp = id;
	if (strcmp(type, "get") != 0 && strcmp(type, "set") != 0) {
		if (strcmp(type, "error") != 0)
			c2s_iq_error(cl, id, SB_SERR_BAD_REQUEST, "a get or a set is expected");
		return -1;
	}
	if (sb_xml_child_count(st) != 1) {
		c2s_iq_error(cl, id, SB_SERR_BAD_REQUEST, "an IQ request has exactly one child");
		return -1;
	}
	if (cl->reg != NULL || cl->delete_id != NULL) {
		c2s_iq_error(cl, id, SB_SERR_RESOURCE_CONSTRAINT, "a request is under way");
		return -1;
	}
	return 0;
}

/* username and password of a set, the username prepared; -1 after answering. */
static int
reg_fields(struct client *cl, const struct sb_xml_node *q, const char *id, const char **user,
    const char **pw)
{
	struct sb_arena *a = &cl->c2s->scratch;
	const char *u = sb_xml_child_text(a, q, SB_NS_REGISTER, "username"), *why;
	size_t len;

	*pw = sb_xml_child_text(a, q, SB_NS_REGISTER, "password");
	if (u == NULL || *u == '\0' || *pw == NULL) {
		c2s_iq_error(cl, id, SB_SERR_NOT_ACCEPTABLE, "a username and a password are required");
		return -1;
	}
	if (**pw == '\0') {
		c2s_iq_error(cl, id, SB_SERR_NOT_ACCEPTABLE, "the password is empty");
		return -1;
	}
	if (sb_jid_prepare_arena(SB_JID_LOCAL, a, u, strlen(u), user, &len, &why) == -1) {
		c2s_iq_error(cl, id, SB_SERR_JID_MALFORMED, why);
		return -1;
	}
	return 0;
}

void
register_feature(struct client *cl, struct sb_buf *b)
{
	if (cl->tls && cl->domain != NULL && cl->domain->registration)
		sb_buf_append_str(b, "<register xmlns='" SB_NS_FEATURE_REGISTER "'/>");
}

int
register_preauth(struct client *cl, struct sb_xml_node *st)
{
	const struct sb_xml_node *q = reg_query(st);
	const char *id, *user, *pw;

	if (q == NULL)
		return 0;
	if (reg_check(cl, st, &id) == -1)
		return 1;
	if (!cl->domain->registration) {
		c2s_iq_error(cl, id, SB_SERR_SERVICE_UNAVAILABLE, NULL);
		return 1;
	}
	if (strcmp(sb_stanza_type(st), "get") == 0) {
		c2s_iq_result(cl, id, "<query xmlns='" SB_NS_REGISTER "'><instructions>"
		    "Choose a username and password for use with this server.</instructions>"
		    "<username/><password/></query>");
		return 1;
	}
	if (sb_xml_child(q, SB_NS_REGISTER, "remove") != NULL) {
		c2s_iq_error(cl, id, SB_SERR_REGISTRATION_REQUIRED, "log in first");
		return 1;
	}
	if (reg_fields(cl, q, id, &user, &pw) == -1)
		return 1;
	op_start(cl, REG_CREATE, id, user, pw);
	return 1;
}

int
register_bound(struct client *cl, struct sb_xml_node *st)
{
	const struct sb_xml_node *q = reg_query(st);
	const char *id, *user, *pw, *to = sb_xml_attr(st, "to");
	struct sb_buf b = SB_BUF_INIT;
	int get;

	/* Only requests for the server: registrations with services go to sm. */
	if (q == NULL || (to != NULL && c2s_conf_domain(cl->c2s->conf, to) != cl->domain) ||
	    (strcmp(sb_stanza_type(st), "get") != 0 && strcmp(sb_stanza_type(st), "set") != 0))
		return 0;
	if (reg_check(cl, st, &id) == -1)
		return 1;
	get = strcmp(sb_stanza_type(st), "get") == 0;
	if (!cl->domain->registration) {
		c2s_iq_error(cl, id, get ? SB_SERR_SERVICE_UNAVAILABLE : SB_SERR_NOT_ALLOWED, NULL);
		return 1;
	}
	if (get) {
		sb_buf_append_str(&b, "<query xmlns='" SB_NS_REGISTER "'><registered/><username>");
		sb_xml_escape_text(&b, cl->user, strlen(cl->user));
		sb_buf_append_str(&b, "</username></query>");
		c2s_iq_result(cl, id, sb_buf_data(&b));
		sb_buf_free(&b);
		return 1;
	}
	if (sb_xml_child(q, SB_NS_REGISTER, "remove") != NULL) {
		if (sb_xml_child_count(q) != 1) {
			c2s_iq_error(cl, id, SB_SERR_BAD_REQUEST, "<remove/> comes alone");
			return 1;
		}
		cl->delete_id = sb_arena_strdup(&cl->arena, id);
		if (session_delete(cl) == -1) {
			cl->delete_id = NULL;
			c2s_iq_error(cl, id, SB_SERR_RESOURCE_CONSTRAINT, "the server is busy");
		}
		return 1;
	}
	if (reg_fields(cl, q, id, &user, &pw) == -1)
		return 1;
	if (strcmp(user, cl->user) != 0) {
		c2s_iq_error(cl, id, SB_SERR_NOT_ALLOWED, "only your own password can be changed");
		return 1;
	}
	op_start(cl, REG_PASSWORD, id, user, pw);
	return 1;
}
