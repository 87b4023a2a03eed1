/*
 * bound.c: what an authenticated client sends, before and after its
 * resource is bound (RFC 6120 section 7, RFC 6121 appendix E):
 *
 *   not bound   only the bind IQ; anything else is a stanza before binding,
 *               which RFC 6120 7.1 answers with <not-authorized/>
 *   starting    the bind went to sm (<session action='start'/>); what the
 *               client sends meanwhile waits here, in order, and is handled
 *               as soon as sm says 'started' (or, if sm says 'failed', as
 *               if the client were not bound)
 *   active      a second bind: <not-allowed/>; the session IQ: a result;
 *               a reply to our ping: taken here; every other stanza gets
 *               'from' set to the session's full JID and goes to sm
 *
 * Only message, presence and iq in jabber:client are stanzas; any other
 * first-level element ends the stream with <unsupported-stanza-type/>.
 */
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "c2s.h"
#include "jid.h"
#include "ns.h"

/* Stanzas a client may send between its bind request and 'started'. */
#define QUEUE_MAX	1000
/* A reply to our ping carries an id that starts so. */
#define PING_PREFIX	"sb-ping-"

struct queued {
	struct queued		*next;
	struct sb_xml_node	*st;
};

/* --- replies --- */

static void
reply_error(struct client *cl, const struct sb_xml_node *st, enum sb_stanza_err cond,
    const char *text)
{
	struct sb_xml_node *r = sb_stanza_error_reply(&cl->c2s->scratch, st, cond, text);

	if (r == NULL)
		return;		/* errors are not answered */
	sb_xml_set_attr(&cl->c2s->scratch, r, "from", NULL);
	if (cl->jid != NULL && cl->sess == SESS_ACTIVE)
		sb_xml_set_attr(&cl->c2s->scratch, r, "to", cl->jid);
	else
		sb_xml_set_attr(&cl->c2s->scratch, r, "to", NULL);
	if (sb_xml_attr(st, "to") != NULL)
		sb_xml_set_attr(&cl->c2s->scratch, r, "from", sb_xml_attr(st, "to"));
	client_send_node(cl, r);
}

static int
is_iq_set_with(const struct sb_xml_node *st, const char *ns, const char *name)
{
	return sb_xml_is(st, SB_NS_CLIENT, "iq") && strcmp(sb_stanza_type(st), "set") == 0 &&
	    sb_xml_child(st, ns, name) != NULL;
}

/* --- the queue while sm starts the session --- */

static void
enqueue(struct client *cl, const struct sb_xml_node *st)
{
	struct queued *q;

	if (cl->nqueued >= QUEUE_MAX ||
	    sb_arena_size(&cl->qarena) > cl->c2s->conf->write_buffer) {
		client_error(cl, SB_LOG_WARN, SB_STERR_POLICY_VIOLATION, 0,
		    "%zu stanzas sent before the session started", cl->nqueued);
		return;
	}
	q = sb_arena_alloc(&cl->qarena, sizeof(*q));
	q->next = NULL;
	q->st = sb_xml_copy(&cl->qarena, st);
	if (cl->queue_tail != NULL)
		cl->queue_tail->next = q;
	else
		cl->queue = q;
	cl->queue_tail = q;
	cl->nqueued++;
}

void
bound_queue_free(struct client *cl)
{
	sb_arena_free(&cl->qarena);
	sb_arena_init(&cl->qarena, 0);
	cl->queue = cl->queue_tail = NULL;
	cl->nqueued = 0;
}

/*
 * Handle what waited, in order, as if it arrived now. The list is taken
 * first: handling may queue again (a new bind after a failed one).
 */
static void
replay(struct client *cl)
{
	struct sb_arena a = cl->qarena;
	struct queued *q = cl->queue;

	sb_arena_init(&cl->qarena, 0);
	cl->queue = cl->queue_tail = NULL;
	cl->nqueued = 0;
	for (; q != NULL && cl->state != CL_CLOSING; q = q->next) {
		bound_element(cl, q->st);
		sb_arena_reset(&cl->c2s->scratch);
	}
	sb_arena_free(&a);
}

/* --- binding --- */

/* A resource for a client that asked for none: 16 letters and digits. */
static void
make_resource(char *out, size_t n)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char rnd[16];

	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
		fatal("gnutls_rnd failed");
	for (size_t i = 0; i < sizeof(rnd) && i + 1 < n; i++)
		out[i] = alphabet[rnd[i] % (sizeof(alphabet) - 1)];
	out[n - 1 < sizeof(rnd) ? n - 1 : sizeof(rnd)] = '\0';
}

static void
bind_resource(struct client *cl, struct sb_xml_node *iq)
{
	const struct sb_xml_node *b = sb_xml_child(iq, SB_NS_XMPP_BIND, "bind");
	const char *res = sb_xml_child_text(&cl->c2s->scratch, b, SB_NS_XMPP_BIND, "resource");
	const char *id = sb_xml_attr(iq, "id"), *why;
	char gen[17];
	struct sb_jid j;

	if (id == NULL) {
		client_error(cl, SB_LOG_INFO, SB_STERR_INVALID_XML, 0, "bind request without an id");
		return;
	}
	if (res == NULL || *res == '\0') {
		make_resource(gen, sizeof(gen));
		res = gen;
	}
	if (sb_jid_build_arena(&j, &cl->arena, cl->user, strlen(cl->user), cl->domain->name,
	    strlen(cl->domain->name), res, strlen(res), &why) == -1) {
		client_log(cl, SB_LOG_INFO, "bind: resource refused: %s", why);
		reply_error(cl, iq, SB_SERR_BAD_REQUEST, why);
		return;
	}
	cl->jid = j.str;
	cl->bare_len = sb_jid_bare_len(&j);
	cl->bind_id = sb_arena_strdup(&cl->arena, id);
	session_start(cl);
}

void
bound_started(struct client *cl, const char *jid)
{
	struct sb_buf *b = &cl->c2s->out;
	struct sb_jid j;
	char buf[SB_JID_BUFSIZE];

	/* sm may have chosen the resource; the bare JID stays ours. */
	if (jid != NULL && sb_jid_parse(&j, buf, sizeof(buf), jid, strlen(jid), NULL) == 0 &&
	    !sb_jid_is_bare(&j) && sb_jid_bare_len(&j) == cl->bare_len &&
	    memcmp(j.str, cl->jid, cl->bare_len) == 0 && strcmp(j.str, cl->jid) != 0) {
		struct sb_jid copy;

		sb_jid_copy_arena(&copy, &cl->arena, &j);
		cl->jid = copy.str;
	}
	cl->sess = SESS_ACTIVE;
	client_bound(cl);
	client_log(cl, SB_LOG_INFO, "bound");
	if (cl->legacy) {
		/* XEP-0078: the login IQ gets an empty result. */
		c2s_iq_result(cl, cl->bind_id, NULL);
		replay(cl);
		return;
	}
	sb_buf_clear(b);
	sb_buf_append_str(b, "<iq type='result' id='");
	sb_xml_escape_attr(b, cl->bind_id, strlen(cl->bind_id));
	sb_buf_append_str(b, "'><bind xmlns='" SB_NS_XMPP_BIND "'><jid>");
	sb_xml_escape_text(b, cl->jid, strlen(cl->jid));
	sb_buf_append_str(b, "</jid></bind></iq>");
	client_send(cl, sb_buf_data(b), sb_buf_len(b));
	sb_buf_clear(b);
	replay(cl);
}

void
bound_failed(struct client *cl, enum sb_stanza_err cond, const char *text)
{
	struct sb_arena *a = &cl->c2s->scratch;
	struct sb_xml_node *iq = sb_xml_new(a, SB_NS_CLIENT, "iq");

	client_log(cl, SB_LOG_INFO, "bind failed: %s%s%s", sb_stanza_err_name(cond),
	    text != NULL ? ": " : "", text != NULL ? text : "");
	sb_xml_set_attr(a, iq, "type", "set");
	sb_xml_set_attr(a, iq, "id", cl->bind_id != NULL ? cl->bind_id : "");
	cl->jid = NULL;
	cl->bind_id = NULL;
	reply_error(cl, iq, cond, text);
	sb_arena_reset(a);
	if (cl->legacy) {
		/* XEP-0078: not logged in after all; the client may try again. */
		cl->legacy = 0;
		cl->authed = 0;
		cl->user = NULL;
	}
	replay(cl);
}

/* --- pings (XEP-0199) --- */

void
bound_ping(struct client *cl)
{
	struct sb_buf *b = &cl->c2s->out;

	sb_buf_clear(b);
	sb_buf_printf(b, "<iq type='get' id='" PING_PREFIX "%llx' from='",
	    (unsigned long long)++cl->ping_seq);
	sb_xml_escape_attr(b, cl->domain->name, strlen(cl->domain->name));
	sb_buf_append_str(b, "' to='");
	sb_xml_escape_attr(b, cl->jid, strlen(cl->jid));
	sb_buf_append_str(b, "'><ping xmlns='" SB_NS_PING "'/></iq>");
	cl->ping_out = 1;
	client_send(cl, sb_buf_data(b), sb_buf_len(b));
	sb_buf_clear(b);
}

int
bound_is_pong(struct client *cl, const struct sb_xml_node *st)
{
	const char *type = sb_stanza_type(st), *id = sb_xml_attr(st, "id");
	const char *to = sb_xml_attr(st, "to");

	if (strcmp(type, "result") != 0 && strcmp(type, "error") != 0)
		return 0;
	if (id == NULL || strncmp(id, PING_PREFIX, strlen(PING_PREFIX)) != 0)
		return 0;
	if (to != NULL && c2s_conf_domain(cl->c2s->conf, to) != cl->domain)
		return 0;
	cl->ping_out = 0;
	return 1;
}

/* --- stanzas --- */

/* Stamp 'from', check 'to', and hand the stanza to sm. */
static void
forward(struct client *cl, struct sb_xml_node *st)
{
	struct sb_arena *a = &cl->c2s->scratch;
	const char *to = sb_xml_attr(st, "to"), *why;
	struct sb_jid tj;

	/* RFC 6120 8.1.2.1: the server sets 'from' to the full JID, whatever the client put. */
	sb_xml_set_attr(a, st, "from", cl->jid);
	if (to != NULL) {
		if (sb_jid_parse_arena(&tj, a, to, strlen(to), &why) == -1) {
			reply_error(cl, st, SB_SERR_JID_MALFORMED, why);
			return;
		}
		sb_xml_set_attr(a, st, "to", tj.str);
	}
	if (session_forward(cl, st) == -1)
		reply_error(cl, st, SB_SERR_RESOURCE_CONSTRAINT, "the server is busy");
}

/* RFC 6120 8.2.3: an id, a known type, and one payload in a request. */
static const char *
iq_invalid(const struct sb_xml_node *iq)
{
	const char *type = sb_stanza_type(iq);

	if (sb_xml_attr(iq, "id") == NULL)
		return "an IQ needs an id";
	if (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)
		return sb_xml_child_count(iq) == 1 ? NULL : "an IQ request has exactly one child";
	if (strcmp(type, "result") == 0 || strcmp(type, "error") == 0)
		return NULL;
	return "an IQ's type is get, set, result or error";
}

static void
active(struct client *cl, struct sb_xml_node *st)
{
	const char *why;

	if (sb_stanza_kind(st) == SB_STANZA_IQ) {
		if (bound_is_pong(cl, st))
			return;
		if ((why = iq_invalid(st)) != NULL) {
			reply_error(cl, st, SB_SERR_BAD_REQUEST, why);
			return;
		}
		if (is_iq_set_with(st, SB_NS_XMPP_BIND, "bind")) {
			reply_error(cl, st, SB_SERR_NOT_ALLOWED, "a resource is already bound");
			return;
		}
		if (is_iq_set_with(st, SB_NS_XMPP_SESSION, "session")) {
			struct sb_xml_node *r = sb_stanza_iq_result(&cl->c2s->scratch, st);

			sb_xml_set_attr(&cl->c2s->scratch, r, "to", NULL);
			sb_xml_set_attr(&cl->c2s->scratch, r, "from", NULL);
			client_send_node(cl, r);
			return;
		}
		/* XEP-0077 password change and cancel (register.c). */
		if (register_bound(cl, st))
			return;
	}
	forward(cl, st);
}

void
bound_element(struct client *cl, struct sb_xml_node *st)
{
	if (st->e.ns == NULL || strcmp(st->e.ns, SB_NS_CLIENT) != 0 ||
	    sb_stanza_kind(st) == SB_STANZA_OTHER) {
		client_error(cl, SB_LOG_INFO, SB_STERR_UNSUPPORTED_STANZA_TYPE, 0,
		    "<%s xmlns='%s'/>", st->e.name, st->e.ns != NULL ? st->e.ns : "");
		return;
	}
	cl->in++;
	cl->c2s->stanzas_in++;
	switch (cl->sess) {
	case SESS_NONE:
		if (is_iq_set_with(st, SB_NS_XMPP_BIND, "bind"))
			bind_resource(cl, st);
		else
			client_error(cl, SB_LOG_INFO, SB_STERR_NOT_AUTHORIZED, 0,
			    "<%s/> before resource binding", st->e.name);
		break;
	case SESS_STARTING:
		enqueue(cl, st);
		break;
	case SESS_ACTIVE:
		active(cl, st);
		break;
	}
}
