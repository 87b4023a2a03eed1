/*
 * complink.c: tests for lib/complink.c, the component link to the router.
 *
 * Everything runs in one process and one loop: a fake router (a listener on
 * 127.0.0.1 port 0 and a stream parser per accepted connection) answers the
 * header with an id, checks the handshake digest itself, answers binds,
 * sends announcements and stanzas, and drops connections when told to.
 * Backoffs and timeouts are tens of milliseconds so the whole file runs in
 * about a second; the checks look at what happened and at the delays the
 * link chose, never at how long something took. The guard timer only ends
 * a hung wait.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "buf.h"
#include "complink.h"
#include "conn.h"
#include "log.h"
#include "ns.h"
#include "stream.h"
#include "tap.h"
#include "timer.h"

#define GUARD_MS	5000

static uv_loop_t uvloop, *loop = &uvloop;
static int guard_fired;

static void
guard_cb(struct sb_timer *t, void *arg)
{
	guard_fired = 1;
}

/* Run the loop until cond holds; the guard only ends a hung test. */
#define RUN_UNTIL(cond) do {						\
	struct sb_timer *g_ = sb_timer_once(loop, GUARD_MS, guard_cb, NULL); \
	guard_fired = 0;						\
	while (!(cond) && !guard_fired)					\
		uv_run(loop, UV_RUN_ONCE);				\
	if (guard_fired)						\
		diag("guard timer fired waiting for %s", #cond);	\
	else								\
		sb_timer_free(g_);					\
} while (0)

/* --- log lines, kept for checks --- */

static struct sb_buf logbuf;

static void
log_sink(enum sb_log_level level, const char *line, void *arg)
{
	sb_buf_printf(&logbuf, "%s: %s\n", sb_log_level_name(level), line);
}

/* The first log line after offset 'from' holding both strings, or NULL. */
static const char *
log_find(size_t from, const char *a, const char *b)
{
	const char *p = sb_buf_data(&logbuf) + from, *nl;

	for (; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		if (nl == NULL)
			break;
		char line[1024];
		snprintf(line, sizeof(line), "%.*s", (int)(nl - p), p);
		if (strstr(line, a) != NULL && (b == NULL || strstr(line, b) != NULL))
			return p;
	}
	return NULL;
}

/* --- the fake router --- */

struct fconn {
	struct sb_conn		*c;
	struct sb_xml_stream	*xs;
	char			 to[128];
	char			 id[32];
	int			 authed;
};

static struct {
	struct sb_listener	*l;
	int			 port;
	const char		*secret;
	/* behaviour */
	int			 mute_handshake, mute_binds;
	const char		*refuse;	/* bind-error not-allowed for this name */
	const char		*on_auth;	/* bytes sent right after <handshake/> */
	/* what happened */
	int			 accepted, closed, auth_ok, auth_bad, closes;
	struct sb_buf		 seen;		/* binds and stanzas, one per line */
	struct fconn		*cur;		/* the latest connection */
} fr;

static void
fr_write(struct fconn *f, const char *s)
{
	sb_conn_write(f->c, s, strlen(s));
}

/* Our own digest, so a bug in the link's would not check itself. */
static void
fr_digest(const char *id, const char *secret, char hex[41])
{
	unsigned char md[20];
	char in[256];

	snprintf(in, sizeof(in), "%s%s", id, secret);
	gnutls_hash_fast(GNUTLS_DIG_SHA1, in, strlen(in), md);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

static void
fr_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	static unsigned serial;
	struct fconn *f = arg;
	struct sb_buf out = SB_BUF_INIT;
	const char *to = sb_xml_attr(hdr, "to");
	int unknown;

	snprintf(f->to, sizeof(f->to), "%s", to ? to : "");
	snprintf(f->id, sizeof(f->id), "id%08x", ++serial * 2654435761u);
	/* Like the real router: a name it does not know gets no id, then an error. */
	unknown = strcmp(f->to, "nobody") == 0;
	sb_stream_write_header(&out, &(struct sb_stream_header){
	    .content_ns = SB_NS_COMPONENT_ACCEPT, .from = f->to, .id = unknown ? NULL : f->id });
	if (unknown)
		sb_buf_append_str(&out, "<stream:error><host-unknown xmlns='" SB_NS_XMPP_STREAMS
		    "'/></stream:error></stream:stream>");
	sb_conn_write(f->c, sb_buf_data(&out), sb_buf_len(&out));
	sb_buf_free(&out);
}

static void
fr_handshake(struct fconn *f, struct sb_xml_node *st)
{
	struct sb_arena a;
	const char *got;
	char want[41];

	sb_arena_init(&a, 0);
	got = sb_xml_text(&a, st, NULL);
	fr_digest(f->id, fr.secret, want);
	if (sb_xml_is(st, SB_NS_COMPONENT_ACCEPT, "handshake") && strcmp(got, want) == 0) {
		fr.auth_ok++;
		f->authed = 1;
		if (!fr.mute_handshake)
			fr_write(f, "<handshake/>");
		if (fr.on_auth != NULL)
			fr_write(f, fr.on_auth);
	} else {
		fr.auth_bad++;
		fr_write(f, "<stream:error><not-authorized xmlns='" SB_NS_XMPP_STREAMS
		    "'/></stream:error></stream:stream>");
		sb_conn_close_after_flush(f->c, 0);
	}
	sb_arena_free(&a);
}

static void
fr_bind(struct fconn *f, struct sb_xml_node *st)
{
	const char *name = sb_xml_attr(st, "name"), *id = sb_xml_attr(st, "id");
	struct sb_buf out = SB_BUF_INIT;

	sb_buf_printf(&fr.seen, "bind");
	if (name != NULL)
		sb_buf_printf(&fr.seen, " name=%s", name);
	if (sb_xml_attr(st, "default") != NULL)
		sb_buf_printf(&fr.seen, " default=%s", sb_xml_attr(st, "default"));
	if (sb_xml_attr(st, "share") != NULL)
		sb_buf_printf(&fr.seen, " share=%s", sb_xml_attr(st, "share"));
	sb_buf_printf(&fr.seen, " id=%s\n", id ? id : "");
	if (fr.mute_binds)
		return;
	if (name != NULL && fr.refuse != NULL && strcmp(name, fr.refuse) == 0)
		sb_buf_printf(&out, "<bind-error xmlns='" SB_NS_COMPONENT "' name='%s' id='%s' "
		    "condition='not-allowed'/>", name, id);
	else if (name != NULL)
		sb_buf_printf(&out, "<bound xmlns='" SB_NS_COMPONENT "' name='%s' id='%s'/>",
		    name, id);
	else
		sb_buf_printf(&out, "<bound xmlns='" SB_NS_COMPONENT "' default='yes' id='%s'/>",
		    id);
	sb_conn_write(f->c, sb_buf_data(&out), sb_buf_len(&out));
	sb_buf_free(&out);
}

static void
fr_stanza(void *arg, struct sb_xml_node *st)
{
	struct fconn *f = arg;

	if (!f->authed)
		fr_handshake(f, st);
	else if (sb_xml_is(st, SB_NS_COMPONENT, "bind"))
		fr_bind(f, st);
	else {
		sb_xml_write(&fr.seen, st, SB_NS_COMPONENT_ACCEPT);
		sb_buf_append_char(&fr.seen, '\n');
	}
}

static void
fr_close(void *arg)
{
	struct fconn *f = arg;

	fr.closes++;
	fr_write(f, "</stream:stream>");
	sb_conn_close_after_flush(f->c, 0);
}

static const struct sb_xml_stream_cb fr_cb = { fr_header, fr_stanza, fr_close };

static void
fr_handler(struct sb_conn *c, struct sb_conn_ev *ev, void *udata)
{
	struct fconn *f = udata;

	switch (ev->type) {
	case SB_CONN_DATA:
		if (sb_xml_stream_feed(f->xs, ev->data, ev->len) == SB_XML_FAILED)
			sb_conn_close(c);
		break;
	case SB_CONN_CLOSED:
		fr.closed++;
		if (fr.cur == f)
			fr.cur = NULL;
		sb_xml_stream_free(f->xs);
		free(f);
		break;
	default:
		break;
	}
}

static void
fr_accept(struct sb_listener *l, struct sb_conn *c, void *arg)
{
	struct fconn *f = calloc(1, sizeof(*f));

	f->c = c;
	f->xs = sb_xml_stream_new(&fr_cb, f, NULL);
	fr.accepted++;
	fr.cur = f;
	sb_conn_set_handler(c, fr_handler, f);
}

static int
fr_listen(int port)
{
	char err[256];

	fr.l = sb_listener_new(loop, "127.0.0.1", port, 0, NULL, fr_accept, NULL, err,
	    sizeof(err));
	if (fr.l == NULL) {
		diag("%s", err);
		return -1;
	}
	fr.port = sb_listener_port(fr.l);
	return 0;
}

/* Reset what the fake router does and has seen. */
static void
fr_reset(void)
{
	fr.mute_handshake = fr.mute_binds = 0;
	fr.refuse = fr.on_auth = NULL;
	sb_buf_clear(&fr.seen);
}

/* --- the link's owner: records callbacks --- */

struct owner {
	int		 ups, downs, errors;
	char		 reason[256], error[512];
	unsigned	 retry_at_down;
	struct sb_buf	 stanzas, announces;
	/* behaviour */
	int		 queue_in_down, send_in_up, close_in_error, take_one;
	int		 queued_rc[3];
	size_t		 queued_after;
	struct sb_arena	 kept_arena;
	struct sb_xml_node *kept;
};

static void
o_up(struct sb_complink *l, void *arg)
{
	struct owner *o = arg;

	o->ups++;
	if (o->send_in_up)
		sb_complink_send_raw(l, "<message id='m4'/>", 18);
}

static void
o_down(struct sb_complink *l, const char *reason, void *arg)
{
	static const char *const m[] = { "<message id='m1'/>", "<message id='m2'/>",
	    "<message id='m3'/>" };
	struct owner *o = arg;

	o->downs++;
	snprintf(o->reason, sizeof(o->reason), "%s", reason);
	o->retry_at_down = sb_complink_retry_ms(l);
	if (o->queue_in_down) {
		for (int i = 0; i < 3; i++)
			o->queued_rc[i] = sb_complink_send_raw(l, m[i], strlen(m[i]));
		o->queued_after = sb_complink_queued(l);
	}
}

static void
o_error(struct sb_complink *l, const char *text, void *arg)
{
	struct owner *o = arg;

	o->errors++;
	snprintf(o->error, sizeof(o->error), "%s", text);
	if (o->close_in_error)
		sb_complink_close(l);
}

static void
o_stanza(struct sb_complink *l, struct sb_xml_node *st, void *arg)
{
	struct owner *o = arg;
	struct sb_xml_node *in = sb_complink_unwrap(st);

	if (in != NULL) {
		sb_buf_printf(&o->stanzas, "route to=%s from=%s: ", sb_xml_attr(st, "to"),
		    sb_xml_attr(st, "from"));
		sb_xml_write(&o->stanzas, in, in->e.ns);
	} else {
		sb_xml_write(&o->stanzas, st, st->e.ns);
	}
	sb_buf_append_char(&o->stanzas, '\n');
	if (o->take_one && o->kept == NULL) {
		sb_complink_take_arena(l, &o->kept_arena);
		o->kept = st;
	}
}

static void
o_announce(struct sb_complink *l, enum sb_complink_event ev, const char *name,
    const char *holder, void *arg)
{
	struct owner *o = arg;

	sb_buf_printf(&o->announces, "%s %s %s\n", ev == SB_COMPLINK_BOUND ? "bound" : "unbound",
	    name ? name : "(default)", holder);
}

static const struct sb_complink_cb owner_cb = { o_up, o_down, o_error, o_stanza, o_announce };

static void
owner_free(struct owner *o)
{
	sb_buf_free(&o->stanzas);
	sb_buf_free(&o->announces);
	if (o->kept != NULL)
		sb_arena_free(&o->kept_arena);
	memset(o, 0, sizeof(*o));
}

static struct sb_complink *
link_new(struct owner *o, struct sb_complink_conf *conf)
{
	char err[256];
	struct sb_complink *l;

	conf->router_addr = "127.0.0.1";
	if (conf->router_port == 0)
		conf->router_port = fr.port;
	l = sb_complink_new(loop, conf, &owner_cb, o, err, sizeof(err));
	if (l == NULL)
		diag("sb_complink_new: %s", err);
	return l;
}

/* --- helpers --- */

struct parsed {
	struct sb_arena		*a;
	struct sb_xml_node	*st;
};

static void
parsed_cb(void *arg, struct sb_xml_node *st)
{
	struct parsed *p = arg;

	p->st = sb_xml_copy(p->a, st);
}

/* One stanza parsed as if from a client stream (jabber:client), into a. */
static struct sb_xml_node *
parse(struct sb_arena *a, const char *xml)
{
	static const struct sb_xml_stream_cb cb = { NULL, parsed_cb, NULL };
	static const char hdr[] = "<stream:stream xmlns='jabber:client' "
	    "xmlns:stream='http://etherx.jabber.org/streams'>";
	struct parsed p = { a, NULL };
	struct sb_xml_stream *xs = sb_xml_stream_new(&cb, &p, NULL);

	sb_xml_stream_feed(xs, hdr, strlen(hdr));
	sb_xml_stream_feed(xs, xml, strlen(xml));
	sb_xml_stream_free(xs);
	return p.st;
}

/* --- the tests --- */

static void
test_pure(void)
{
	struct sb_arena a;
	struct sb_buf out = SB_BUF_INIT;
	struct sb_xml_node *msg, *env;
	struct sb_complink_conf conf = { .router_addr = "127.0.0.1", .router_port = 5347,
	    .name = "sm1", .secret = "x" };
	char hex[41], err[256];

	/* python3: hashlib.sha1(b'3BF96D32' + b'sunshine').hexdigest() */
	sb_complink_handshake_digest("3BF96D32", "sunshine", hex);
	is_str(hex, "8e2449516c688436d4ca76dad7e0c43ca1c20b18",
	    "handshake digest: hex SHA-1 of id + secret");

	sb_arena_init(&a, 0);
	msg = parse(&a, "<message to='b@example.org' id='1'><body>hi &amp; bye</body></message>");
	sb_complink_write_envelope(&out, "b@example.org", "c2s-a", msg);
	is_str(sb_buf_data(&out), "<route xmlns='urn:switchboard:route:0' to='b@example.org' "
	    "from='c2s-a'><message xmlns='jabber:component:accept' to='b@example.org' id='1'>"
	    "<body>hi &amp; bye</body></message></route>",
	    "envelope bytes: the client stanza is put in jabber:component:accept");
	env = sb_complink_wrap(&a, "b@example.org", "c2s-a", msg);
	ok(sb_xml_is(env, SB_NS_ROUTE, "route"), "wrap: a <route/> in urn:switchboard:route:0");
	is_str(sb_xml_attr(env, "to"), "b@example.org", "wrap: to");
	ok(sb_complink_unwrap(env) == msg, "unwrap gives the stanza back");
	ok(sb_complink_unwrap(msg) == NULL, "unwrap of a plain stanza: NULL");
	ok(sb_complink_unwrap(sb_xml_new(&a, SB_NS_ROUTE, "route")) == NULL,
	    "unwrap of an empty envelope: NULL");
	sb_buf_free(&out);
	sb_arena_free(&a);

	conf.name = NULL;
	ok(sb_complink_new(loop, &conf, &owner_cb, NULL, err, sizeof(err)) == NULL &&
	    strstr(err, "no name") != NULL, "new: no name refused (%s)", err);
	conf.name = "sm1";
	conf.router_addr = "localhost";
	ok(sb_complink_new(loop, &conf, &owner_cb, NULL, err, sizeof(err)) == NULL &&
	    strstr(err, "numeric") != NULL, "new: a host name is refused (%s)", err);
}

static const struct sb_complink_bind sm_binds[] = {
	{ "localhost", 1 },
	{ "example.org", 0 },
};

static const char sm_bind_lines[] =
	"bind name=localhost share=yes id=b1\n"
	"bind name=example.org id=b2\n"
	"bind default=yes id=b3\n";

/* Handshake, binds, up; stanzas both ways; announcements. */
static struct sb_complink *
test_up(struct owner *o)
{
	struct sb_complink_conf conf = { .name = "sm1", .secret = "s3cret", .binds = sm_binds,
	    .nbinds = 2, .default_route = 1, .backoff_min_ms = 20, .backoff_max_ms = 200 };
	struct sb_complink *l;
	struct sb_arena a;
	size_t mark = sb_buf_len(&logbuf);

	fr_reset();
	fr.secret = "s3cret";
	fr.on_auth = "<announce xmlns='urn:switchboard:component:0' event='bound' "
	    "name='localhost' link='c2s-a'/>";
	l = link_new(o, &conf);
	ok(l != NULL, "link made");
	ok(!sb_complink_is_up(l), "not up before the handshake");
	RUN_UNTIL(o->ups == 1);
	is_int(o->ups, 1, "up() once the binds are answered");
	is_int(fr.auth_ok, 1, "the router accepted the handshake digest");
	is_str(sb_buf_data(&fr.seen), sm_bind_lines, "binds sent in order: share, default, ids");
	ok(sb_complink_is_up(l), "sb_complink_is_up()");
	is_int(o->errors, 0, "no error");
	ok(log_find(mark, "info: complink sm1: connecting to router 127.0.0.1:", NULL) != NULL,
	    "a log line for the connect, naming the component and the router");
	ok(log_find(mark, "notice: complink sm1: up on router 127.0.0.1:", "default route") != NULL,
	    "a log line for up");
	is_str(sb_buf_data(&o->announces), "bound localhost c2s-a\n",
	    "announcement sent after the handshake delivered");

	/* component -> router */
	sb_buf_clear(&fr.seen);
	sb_arena_init(&a, 0);
	is_int(sb_complink_send(l, parse(&a, "<message from='a@localhost' to='x@example.net'>"
	    "<body>hi</body></message>")), 0, "send: 0");
	is_int(sb_complink_send_routed(l, "a@localhost", NULL, parse(&a,
	    "<presence from='x@example.net/r'/>")), 0, "send_routed: 0");
	sb_arena_free(&a);
	RUN_UNTIL(strchr(sb_buf_data(&fr.seen), '\n') != strrchr(sb_buf_data(&fr.seen), '\n'));
	is_str(sb_buf_data(&fr.seen),
	    "<message from='a@localhost' to='x@example.net'><body>hi</body></message>\n"
	    "<route xmlns='urn:switchboard:route:0' to='a@localhost' from='sm1'>"
	    "<presence xmlns='jabber:component:accept' from='x@example.net/r'/></route>\n",
	    "the router got the stanza in the content namespace and the envelope from our name");

	/* router -> component */
	o->take_one = 1;
	fr_write(fr.cur, "<message from='b@example.org' to='a@localhost'><body>yo</body></message>"
	    "<route xmlns='urn:switchboard:route:0' to='a@localhost' from='c2s-a'>"
	    "<presence xmlns='jabber:component:accept' from='a@localhost/r'/></route>"
	    "<unbound xmlns='urn:switchboard:component:0' name='nothing' id='zz'/>"
	    "<announce xmlns='urn:switchboard:component:0' event='bound' default='yes' "
	    "link='s2s1'/>"
	    "<announce xmlns='urn:switchboard:component:0' event='gone' name='x' link='y'/>"
	    "<announce xmlns='urn:switchboard:component:0' event='unbound' name='localhost' "
	    "link='c2s-a'/>");
	RUN_UNTIL(strstr(sb_buf_data(&o->announces), "unbound") != NULL);
	is_str(sb_buf_data(&o->stanzas),
	    "<message from='b@example.org' to='a@localhost'><body>yo</body></message>\n"
	    "route to=a@localhost from=c2s-a: <presence from='a@localhost/r'/>\n",
	    "stanza and envelope delivered; unwrap gives the inner stanza");
	is_str(sb_buf_data(&o->announces), "bound localhost c2s-a\nbound (default) s2s1\n"
	    "unbound localhost c2s-a\n", "announcements of the default route and of an unbind "
	    "delivered, a malformed one not; router commands are not stanzas");
	ok(o->kept != NULL && sb_xml_is(o->kept, SB_NS_COMPONENT_ACCEPT, "message") &&
	    strcmp(sb_xml_attr(o->kept, "from"), "b@example.org") == 0,
	    "a stanza whose arena was taken outlives its callback");
	return l;
}

/* The router drops us: down, queue, reconnect with backoff, flush in order. */
static void
test_reconnect(struct owner *o, struct sb_complink *l)
{
	fr_reset();
	o->queue_in_down = 1;
	o->send_in_up = 1;
	sb_conn_close(fr.cur->c);
	RUN_UNTIL(o->ups == 2);
	is_int(o->downs, 1, "down() when the router drops the connection");
	ok(o->reason[0] != '\0', "down() says why (%s)", o->reason);
	ok(o->retry_at_down >= 15 && o->retry_at_down <= 20,
	    "first reconnect after the minimum backoff with jitter (%u ms of 20)",
	    o->retry_at_down);
	ok(o->queued_rc[0] == 0 && o->queued_rc[1] == 0 && o->queued_rc[2] == 0,
	    "stanzas sent while down are accepted");
	is_int(o->queued_after, 3, "and queued");
	is_int(o->ups, 2, "up() again after the reconnect");
	is_int(fr.auth_ok, 2, "second handshake");
	RUN_UNTIL(strstr(sb_buf_data(&fr.seen), "m4") != NULL);
	is_str(sb_buf_data(&fr.seen), "bind name=localhost share=yes id=b1\n"
	    "bind name=example.org id=b2\nbind default=yes id=b3\n"
	    "<message id='m1'/>\n<message id='m2'/>\n<message id='m3'/>\n<message id='m4'/>\n",
	    "binds again, then the queue in order, then what up() sent");
	is_int(sb_complink_queued(l), 0, "queue empty after the flush");
	o->queue_in_down = o->send_in_up = 0;
}

/* Sum of the delays in "reconnecting in N ms" lines after mark, in order. */
static int
retry_delays(size_t mark, unsigned *d, int max)
{
	const char *p = sb_buf_data(&logbuf) + mark, *q;
	int n = 0;

	while (n < max && (q = strstr(p, "complink sm1: no link to router")) != NULL) {
		p = strstr(q, "reconnecting in ");
		if (p == NULL)
			break;
		d[n++] = (unsigned)strtoul(p + 16, NULL, 10);
	}
	return n;
}

/* The router goes away and comes back on the same port. */
static void
test_router_restart(struct owner *o, struct sb_complink *l)
{
	size_t mark = sb_buf_len(&logbuf);
	unsigned d[4];
	int port = fr.port, n, growing = 1;

	fr_reset();
	sb_listener_free(fr.l);
	sb_conn_close(fr.cur->c);
	RUN_UNTIL(retry_delays(mark, d, 4) == 4);
	n = retry_delays(mark, d, 4);
	is_int(o->downs, 2, "down() when the router goes away");
	for (int i = 0; i < n; i++) {
		unsigned base = i < 3 ? 40u << i : 200;	/* 20 went to the first */

		growing &= d[i] >= base - base / 4 && d[i] <= base;
	}
	ok(n == 4 && growing, "refused reconnects back off: %u %u %u %u ms (bases 40 80 160 200)",
	    d[0], d[1], d[2], d[3]);
	if (fr_listen(port) == 0) {
		RUN_UNTIL(o->ups == 3);
		is_int(o->ups, 3, "up() again once the router is back on its port");
	} else {
		ok(1, "router restart # SKIP port %d was taken meanwhile", port);
	}
	ok(sb_complink_is_up(l), "the link is up");
}

/* After up, a stream error or bad XML from the router: down and reconnect, no error(). */
static void
test_router_errors(struct owner *o)
{
	int ups = o->ups, errors = o->errors;

	fr_reset();
	fr_write(fr.cur, "<stream:error><system-shutdown xmlns='" SB_NS_XMPP_STREAMS "'/>"
	    "</stream:error></stream:stream>");
	RUN_UNTIL(o->ups == ups + 1);
	is_str(o->reason, "stream error system-shutdown", "down() after a stream error says which");
	is_int(o->errors, errors, "no error() for it: the link just reconnects");
	fr_write(fr.cur, "<message to='a@localhost'><body>hi</body></iq>");
	RUN_UNTIL(o->ups == ups + 2);
	ok(strncmp(o->reason, "bad XML from the router: not-well-formed", 40) == 0,
	    "down() after bad XML from the router (%s)", o->reason);
}

/* A wrong secret: not-authorized, logged as an error, retried at the longest backoff. */
static void
test_wrong_secret(void)
{
	struct sb_complink_conf conf = { .name = "bad1", .secret = "wrong",
	    .backoff_min_ms = 10, .backoff_max_ms = 200 };
	struct owner o = { 0 };
	struct sb_complink *l;
	size_t mark = sb_buf_len(&logbuf);
	unsigned r1, r2;

	fr_reset();
	l = link_new(&o, &conf);
	RUN_UNTIL(o.errors == 1 && sb_complink_retry_ms(l) != 0);
	ok(strstr(o.error, "not-authorized") != NULL, "error(): %s", o.error);
	ok(log_find(mark, "error: complink bad1:", "not-authorized") != NULL,
	    "logged as an error naming the component");
	r1 = sb_complink_retry_ms(l);
	ok(r1 >= 150 && r1 <= 200, "retry at the longest backoff, not the shortest (%u ms)", r1);
	RUN_UNTIL(o.errors == 2 && sb_complink_retry_ms(l) != 0);
	r2 = sb_complink_retry_ms(l);
	ok(fr.auth_bad >= 2 && r2 >= 150 && r2 <= 200, "and again at the longest (%u ms)", r2);
	is_int(o.ups + o.downs, 0, "never up, so no down either");
	sb_complink_close(l);
	owner_free(&o);

	conf.name = "nobody";
	l = link_new(&o, &conf);
	RUN_UNTIL(o.errors == 1 && sb_complink_retry_ms(l) != 0);
	ok(strstr(o.error, "host-unknown") != NULL,
	    "a header without id, then host-unknown: error() (%s)", o.error);
	r1 = sb_complink_retry_ms(l);
	ok(r1 >= 150 && r1 <= 200, "retry at the longest backoff (%u ms)", r1);
	sb_complink_close(l);
	owner_free(&o);
}

/* A refused bind: error(), not up; closing the link inside error() is safe. */
static void
test_bind_error(void)
{
	static const struct sb_complink_bind binds[] = { { "forbidden.example", 0 } };
	struct sb_complink_conf conf = { .name = "sm2", .secret = "s3cret", .binds = binds,
	    .nbinds = 1, .backoff_min_ms = 10, .backoff_max_ms = 100 };
	struct owner o = { .close_in_error = 1 };
	int closed;

	fr_reset();
	fr.refuse = "forbidden.example";
	link_new(&o, &conf);
	RUN_UNTIL(o.errors == 1);
	ok(strstr(o.error, "not-allowed") != NULL && strstr(o.error, "forbidden.example") != NULL,
	    "error() names the bind and the condition: %s", o.error);
	is_int(o.ups, 0, "not up");
	closed = fr.closed;
	RUN_UNTIL(fr.closed > closed);
	ok(fr.closed > closed, "the link closed from inside error() goes away");
	is_int(o.errors + o.downs, 1, "no callback after close");
	owner_free(&o);
}

/* Silent routers: the handshake and bind timeouts reconnect. */
static void
test_timeouts(void)
{
	static const struct sb_complink_bind binds[] = { { "localhost", 1 } };
	struct sb_complink_conf conf = { .name = "slow", .secret = "s3cret",
	    .backoff_min_ms = 10, .backoff_max_ms = 20, .handshake_timeout_ms = 30,
	    .bind_timeout_ms = 30, .binds = binds, .nbinds = 1 };
	struct owner o = { 0 };
	struct sb_complink *l;
	size_t mark = sb_buf_len(&logbuf);
	int accepted = fr.accepted;

	fr_reset();
	fr.mute_handshake = 1;
	l = link_new(&o, &conf);
	RUN_UNTIL(fr.accepted >= accepted + 2);
	ok(log_find(mark, "complink slow:", "no handshake answer within 30 ms") != NULL,
	    "no <handshake/>: timeout logged, and reconnected");
	fr.mute_handshake = 0;
	fr.mute_binds = 1;
	accepted = fr.accepted;
	RUN_UNTIL(log_find(mark, "complink slow:", "unanswered") != NULL &&
	    fr.accepted >= accepted + 2);
	ok(log_find(mark, "complink slow:", "1 bind(s) unanswered after 30 ms") != NULL,
	    "no bind answer: timeout logged, and reconnected");
	is_int(o.ups, 0, "never up");
	sb_complink_close(l);
	owner_free(&o);
}

/* No router at all: the queue's bounds, and close with a queue. */
static void
test_queue(void)
{
	struct sb_complink_conf conf = { .name = "q1", .secret = "x", .queue_max_stanzas = 3,
	    .backoff_min_ms = 10, .backoff_max_ms = 20 };
	struct owner o = { 0 };
	struct sb_complink *l, *l2;
	struct sb_listener *gone;
	char err[256], big[201];
	size_t mark = sb_buf_len(&logbuf);

	/* A port nobody listens on: take one, then let it go. */
	gone = sb_listener_new(loop, "127.0.0.1", 0, 0, NULL, fr_accept, NULL, err, sizeof(err));
	conf.router_port = gone ? sb_listener_port(gone) : 1;
	if (gone != NULL)
		sb_listener_free(gone);
	l = link_new(&o, &conf);
	is_int(sb_complink_send_raw(l, "<message id='1'/>", 17), 0, "queued 1 of 3");
	is_int(sb_complink_send_raw(l, "<message id='2'/>", 17), 0, "queued 2 of 3");
	is_int(sb_complink_send_raw(l, "<message id='3'/>", 17), 0, "queued 3 of 3");
	is_int(sb_complink_send_raw(l, "<message id='4'/>", 17), -1, "the 4th: -1, queue full");
	is_int(sb_complink_queued(l), 3, "3 stanzas queued");
	ok(log_find(mark, "warn: complink q1: queue full", NULL) != NULL, "queue full is logged");

	conf.name = "q2";
	conf.queue_max_stanzas = 0;
	conf.queue_max_bytes = 100;
	l2 = link_new(&o, &conf);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	is_int(sb_complink_send_raw(l2, big, 60), 0, "60 of 100 bytes queued");
	is_int(sb_complink_send_raw(l2, big, 41), -1, "41 more bytes: -1");
	is_int(sb_complink_send_raw(l2, big, 40), 0, "40 more: fits exactly");
	RUN_UNTIL(log_find(mark, "complink q1: no link to router", "reconnecting in") != NULL);
	ok(log_find(mark, "complink q1: no link to router", "reconnecting in") != NULL,
	    "connection refused: logged with the retry delay");
	sb_complink_close(l);
	sb_complink_close(l2);
	ok(log_find(mark, "notice: complink q1: closing the link to router 127.0.0.1:",
	    ": 3 queued stanzas (51 bytes) dropped") != NULL,
	    "close logs how many queued stanzas it dropped");
	owner_free(&o);
}

/* Graceful close of a link that is up: </stream:stream> reaches the router. */
static void
test_close(struct owner *o, struct sb_complink *l)
{
	int closes = fr.closes, closed = fr.closed, downs = o->downs;

	sb_complink_close(l);
	RUN_UNTIL(fr.closed > closed);
	is_int(fr.closes, closes + 1, "the router got </stream:stream>");
	is_int(o->downs, downs, "no down() after close");
}

/* sb_loop_shutdown() with a link up: down(), no reconnect, the loop ends. */
static void
test_shutdown(void)
{
	struct sb_complink_conf conf = { .name = "sm3", .secret = "s3cret",
	    .backoff_min_ms = 10, .backoff_max_ms = 20 };
	struct owner o = { 0 };
	struct sb_complink *l;

	fr_reset();
	l = link_new(&o, &conf);
	RUN_UNTIL(o.ups == 1);
	/* The shutdown frees sb_timers, the guard too: no RUN_UNTIL from here. */
	sb_loop_shutdown(loop);
	while (o.downs == 0 && uv_run(loop, UV_RUN_ONCE) != 0)
		;
	is_str(o.reason, "server shutting down", "shutdown: down() with the reason");
	is_int(sb_complink_retry_ms(l), 0, "shutdown: no reconnect scheduled");
	sb_complink_close(l);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(o.ups, 1, "shutdown: not up again");
	owner_free(&o);
}

int
main(void)
{
	struct owner o = { 0 };
	struct sb_complink *l;

	uv_loop_init(loop);
	sb_log_open("test", 0, SB_LOG_DEBUG);
	sb_log_set_sink(log_sink, NULL);
	test_pure();
	if (fr_listen(0) == -1) {
		ok(0, "fake router listens");
		return done_testing();
	}
	l = test_up(&o);
	test_reconnect(&o, l);
	test_router_restart(&o, l);
	test_router_errors(&o);
	test_wrong_secret();
	test_bind_error();
	test_timeouts();
	test_queue();
	test_close(&o, l);
	owner_free(&o);
	test_shutdown();
	is_int(uv_loop_close(loop), 0, "uv_loop_close() returns 0");
	sb_buf_free(&fr.seen);
	sb_buf_free(&logbuf);
	return done_testing();
}
