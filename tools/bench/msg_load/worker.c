/*
 * worker.c: one worker process of msg_load (main.c): its clients log in
 * (STARTTLS, SCRAM, bind, presence), then exchange messages, paced or in
 * a closed loop, or stay idle; the parent steers it over a pipe and gets
 * its counters back.
 */
#include "msg_load.h"

#include "../common/login.h"

/* --- one worker: clients and pairs --- */

enum step {
	ST_IDLE,
	ST_CONNECT,		/* waiting for CONNECTED */
	ST_FEATURES_TLS,	/* <stream:features> offering <starttls/> */
	ST_PROCEED,		/* <proceed/> */
	ST_HANDSHAKE,		/* waiting for TLS_READY */
	ST_FEATURES_SASL,	/* <stream:features> with our mechanism */
	ST_CHALLENGE,		/* SCRAM server-first-message */
	ST_SUCCESS,		/* SCRAM server-final-message */
	ST_FEATURES_BIND,	/* <stream:features> with <bind/> */
	ST_BOUND,		/* the bind result */
	ST_PROBE,		/* presence sent: waiting for our message to ourselves */
	ST_FEDPROBE,		/* sender with -D: waiting for DOMAIN2's answer to a ping */
	ST_RUN,			/* logged in and available */
	ST_CLOSING,		/* our </stream:stream> sent */
	ST_FAILED,		/* failure counted: waiting for CLOSED */
	ST_GONE,		/* closed */
};

static const char *step_names[] = {
	"idle", "connect", "features (TLS)", "proceed", "TLS handshake", "features (SASL)",
	"challenge", "success", "features (bind)", "bind", "probe", "ping to DOMAIN2", "run",
	"closing", "failed", "gone",
};

struct worker;
struct pair;

struct client {
	struct worker		*w;
	struct pair		*pair;
	int			 account;	/* N of benchN */
	int			 sender;
	enum step		 step;
	struct sb_conn		*conn;
	struct sb_xml_stream	*xs;
	struct bench_scram	 scram;
	unsigned char		 salted[SB_SCRAM_MAX_HASH];
};

struct pair {
	struct client		 snd, rcv;
	uint64_t		 sent, delivered, bounced;
	uint64_t		 expect;	/* the next sequence number due at the receiver */
	double			*t_sent;	/* send times, by sequence number % window */
};

struct worker {
	const struct options	*o;
	uv_loop_t		*loop;
	int			 cmd_fd, st_fd;
	uv_poll_t		 cmd;
	struct sb_tls_ctx	*tls;
	struct sb_timer		*ticker;
	struct sb_timer		*pacer;		/* -r */
	struct pair		*pairs;
	int			 npairs, first;	/* pairs first .. first + npairs - 1 */
	int			 nclients, next_login, logging_in, ready, open;
	int			 turn;		/* -r: the pair whose turn is next */
	double			 rate, credit, t_paced;	/* -r: this worker's share */
	enum phase		 phase;
	double			 t_drain, t_close;
	char			 body[4096];
	struct result		 r;
	struct interval		 iv;
	struct sb_arena		 scratch;
};

typedef int step_fn(struct client *c, struct sb_xml_node *el);

static step_fn on_features_tls, on_proceed, on_features_sasl, on_challenge, on_success,
    on_features_bind, on_bound;

static const struct {
	enum step	 step;
	const char	*ns, *name;
	step_fn		*fn;
} steps[] = {
	{ ST_FEATURES_TLS,	SB_NS_STREAMS,		"features",	on_features_tls },
	{ ST_PROCEED,		SB_NS_XMPP_TLS,		"proceed",	on_proceed },
	{ ST_FEATURES_SASL,	SB_NS_STREAMS,		"features",	on_features_sasl },
	{ ST_CHALLENGE,		SB_NS_XMPP_SASL,	"challenge",	on_challenge },
	{ ST_SUCCESS,		SB_NS_XMPP_SASL,	"success",	on_success },
	{ ST_FEATURES_BIND,	SB_NS_STREAMS,		"features",	on_features_bind },
	{ ST_BOUND,		SB_NS_CLIENT,		"iq",		on_bound },
};

static void login_next(struct worker *w);
static void fail(struct client *c, const char *what);


/* The domain and c2s port a client logs in to: the receivers' differ with -D and -P. */

static const char *
client_domain(const struct client *c)
{
	return c->sender ? c->w->o->domain : rcv_domain(c->w->o);
}

/* Client i is account bench(i+1): the senders are the even i, their receivers i + 1. */
static int
client_port(const struct client *c)
{
	const struct options *o = c->w->o;

	if (!c->sender && o->c2s_port2 != 0)
		return o->c2s_port2;
	return o->ports[(c->account - 1) % o->nports];
}

/* --- the login, as login_load.c does it --- */

static void
send_str(struct client *c, const char *str)
{
	sb_conn_write(c->conn, str, strlen(str));
}

static void
send_header(struct client *c)
{
	bench_send_header(c->conn, client_domain(c));
}

static int
on_features_tls(struct client *c, struct sb_xml_node *el)
{
	if (sb_xml_child(el, SB_NS_XMPP_TLS, "starttls") == NULL)
		return -1;
	send_str(c, "<starttls xmlns='" SB_NS_XMPP_TLS "'/>");
	return ST_PROCEED;
}

/* What follows <proceed/> is TLS: the DATA handler gives it to the layer. */
static int
on_proceed(struct client *c, struct sb_xml_node *el)
{
	(void)el;
	sb_xml_stream_stop(c->xs);
	return ST_HANDSHAKE;
}

static int
on_features_sasl(struct client *c, struct sb_xml_node *el)
{
	char user[32];

	snprintf(user, sizeof(user), "bench%d", c->account);
	c->scram.hash = c->w->o->hash;
	if (bench_scram_first(&c->scram, c->conn, &c->w->scratch, el, user) == -1)
		return -1;
	return ST_CHALLENGE;
}

/* Every account logs in once, so its PBKDF2 runs here, in the login phase. */
static int
on_challenge(struct client *c, struct sb_xml_node *el)
{
	char sf[512];
	unsigned char salt[SB_SCRAM_SALT_MAX];
	size_t salt_len;
	unsigned iterations;

	if (bench_scram_challenge(&c->scram, &c->w->scratch, el, sf, sizeof(sf), salt,
	    sizeof(salt), &salt_len, &iterations) == -1 ||
	    sb_scram_salted_password(c->scram.hash, PASSWORD, strlen(PASSWORD), salt, salt_len,
	    iterations, c->salted) == -1)
		return -1;
	bench_scram_final(&c->scram, c->conn, sf, c->salted);
	return ST_SUCCESS;
}

/* The server must prove it knew ServerKey (v=), then the stream restarts. */
static int
on_success(struct client *c, struct sb_xml_node *el)
{
	if (bench_scram_success(&c->scram, &c->w->scratch, el, c->salted) == -1)
		return -1;
	sb_buf_free(&c->scram.auth_msg);
	sb_xml_stream_restart(c->xs);
	send_header(c);
	return ST_FEATURES_BIND;
}

static int
on_features_bind(struct client *c, struct sb_xml_node *el)
{
	if (sb_xml_child(el, SB_NS_XMPP_BIND, "bind") == NULL)
		return -1;
	send_str(c, "<iq type='set' id='bind1'><bind xmlns='" SB_NS_XMPP_BIND
	    "'><resource>" RESOURCE "</resource></bind></iq>");
	return ST_BOUND;
}

/*
 * Bound: initial presence, then a message to our own bare JID. sm runs a
 * user's stanzas in order, so it comes back only once the presence made
 * the session available (or, had it been stored offline, when the
 * presence delivers it).
 */
static int
on_bound(struct client *c, struct sb_xml_node *el)
{
	const char *type = sb_xml_attr(el, "type"), *id = sb_xml_attr(el, "id");
	char probe[256];

	if (id == NULL || strcmp(id, "bind1") != 0 || type == NULL || strcmp(type, "result") != 0)
		return -1;
	snprintf(probe, sizeof(probe), "<presence/><message to='bench%d@%s' type='chat' "
	    "id='probe'><body>probe</body></message>", c->account, client_domain(c));
	send_str(c, probe);
	return ST_PROBE;
}

/* --- messages --- */

static void
send_message(struct worker *w, struct pair *p)
{
	char buf[sizeof(w->body) + 256];
	int n;

	n = snprintf(buf, sizeof(buf), "<message to='bench%d@%s' type='chat' id='%llu'>"
	    "<body>%s</body></message>", p->rcv.account, rcv_domain(w->o),
	    (unsigned long long)p->sent, w->body);
	p->t_sent[p->sent % (uint64_t)w->o->window] = now();
	p->sent++;
	w->r.sent++;
	if (w->phase == MEASURE) {
		w->r.m_sent++;
		w->iv.sent++;
	}
	sb_conn_write(p->snd.conn, buf, (size_t)n);
}

static int
window_full(const struct worker *w, const struct pair *p)
{
	return p->sent - p->delivered - p->bounced >= (uint64_t)w->o->window;
}

/* The closed loop: each delivery (or bounce) lets the sender send one more. */
static void
fill_window(struct worker *w, struct pair *p)
{
	if (w->o->rate > 0 || (w->phase != WARMUP && w->phase != MEASURE))
		return;
	if (p->snd.step != ST_RUN || p->rcv.step != ST_RUN)
		return;
	while (!window_full(w, p))
		send_message(w, p);
}

/*
 * -r, every PACE_MS: the messages due since the last call, one per pair in
 * turn. At most 100 ms' worth is made up after a stall, so a busy
 * generator offers less (the report shows what was sent) instead of bursts.
 */
static void
pace(struct sb_timer *t, void *arg)
{
	struct worker *w = arg;
	double n = now();

	(void)t;
	if (w->phase != WARMUP && w->phase != MEASURE) {
		w->t_paced = n;
		return;
	}
	w->credit += w->rate * (n - w->t_paced);
	w->t_paced = n;
	if (w->credit > w->rate / 10)
		w->credit = w->rate / 10;
	for (int tries = 0; w->credit >= 1 && tries < w->npairs; tries++) {
		struct pair *p = &w->pairs[w->turn];

		w->turn = (w->turn + 1) % w->npairs;
		w->credit -= 1;
		if (p->snd.step != ST_RUN || p->rcv.step != ST_RUN)
			continue;	/* a pair that lost a client: counted as an error */
		if (!window_full(w, p)) {
			send_message(w, p);
		} else {
			w->r.behind++;
			if (w->phase == MEASURE)
				w->iv.behind++;
		}
	}
}

static void
delivered(struct client *c, struct sb_xml_node *el)
{
	struct worker *w = c->w;
	struct pair *p = c->pair;
	const char *id = sb_xml_attr(el, "id");
	char *end;
	unsigned long long seq;
	uint64_t us;

	if (id == NULL || (seq = strtoull(id, &end, 10), *end != '\0') || seq >= p->sent) {
		w->r.other++;
		count_reason(&w->r, "receiver: a message with id '%.40s'", id ? id : "");
		return;
	}
	if (seq != p->expect) {
		w->r.out_of_order++;
		count_reason(&w->r, "receiver: message %llu where %llu was due", seq,
		    (unsigned long long)p->expect);
	}
	p->expect = seq + 1;
	p->delivered++;
	w->r.delivered++;
	if (w->phase == MEASURE) {
		us = (uint64_t)((now() - p->t_sent[seq % (uint64_t)w->o->window]) * 1e6);
		w->r.m_delivered++;
		w->r.hist[hist_index(us)]++;
		w->iv.delivered++;
		w->iv.hist[hist_index(us)]++;
		if (us > w->r.lat_max_us)
			w->r.lat_max_us = us;
	}
	fill_window(w, p);
}

/* The defined condition of an error stanza, "?" when there is none. */
static const char *
error_condition(struct sb_xml_node *el)
{
	struct sb_xml_node *e = sb_xml_child(el, SB_NS_CLIENT, "error"), *x;

	if (e != NULL)
		SB_XML_FOREACH_CHILD(x, e)
			if (x->e.ns != NULL && strcmp(x->e.ns, SB_NS_XMPP_STANZAS) == 0 &&
			    strcmp(x->e.name, "text") != 0)
				return x->e.name;
	return "?";
}

/* A message that came back to its sender as an error: counted by condition. */
static void
bounced(struct client *c, struct sb_xml_node *el)
{
	const char *cond = error_condition(el);

	c->pair->bounced++;
	c->w->r.bounced++;
	count_reason(&c->w->r, "sender: message bounced: %s", cond);
	fill_window(c->w, c->pair);
}

/* A client logged in and available: the next login starts. */
static void
client_ready(struct client *c)
{
	struct worker *w = c->w;
	char r = MSG_READY;

	c->step = ST_RUN;
	sb_conn_set_timeout(c->conn, 0);
	w->logging_in--;
	w->ready++;
	if (w->ready == w->nclients)
		w->phase = IDLE;
	else if (w->ready % PROGRESS_STEP == 0)
		r = MSG_PROGRESS;
	else
		r = 0;
	if (r != 0 && write(w->st_fd, &r, 1) != 1)
		die("cannot write to the parent");
	login_next(w);
}

/*
 * Our message to ourselves came back: ready, except a sender across
 * federation, which first pings the receivers' domain, so that the
 * server-to-server stream is up before the burst.
 */
static void
probed(struct client *c)
{
	char ping[256];

	if (!c->sender || c->w->o->domain2 == NULL) {
		client_ready(c);
		return;
	}
	snprintf(ping, sizeof(ping), "<iq to='%s' type='get' id='fedprobe'><ping xmlns='"
	    SB_NS_PING "'/></iq>", c->w->o->domain2);
	send_str(c, ping);
	c->step = ST_FEDPROBE;
}

/* Stanzas after the bind: the probe, messages, errors, pings. */
static void
run_stanza(struct client *c, struct sb_xml_node *el)
{
	const char *type = sb_stanza_type(el), *id = sb_xml_attr(el, "id");
	char reply[256];

	if (sb_xml_is(el, SB_NS_CLIENT, "message")) {
		if (strcmp(type, "error") == 0)
			bounced(c, el);
		else if (id != NULL && strcmp(id, "probe") == 0 && c->step == ST_PROBE)
			probed(c);
		else if (!c->sender && c->step == ST_RUN)
			delivered(c, el);
		else {
			if (c->w->o->idle)
				c->w->r.other++;	/* nothing is sent: no message is due */
			count_reason(&c->w->r, "%s: an unexpected message (id '%.40s')",
			    c->w->o->idle ? "client" : c->sender ? "sender" : "receiver",
			    id ? id : "");
		}
		return;
	}
	if (sb_xml_is(el, SB_NS_CLIENT, "presence"))
		return;		/* our own presence, when sm echoes it */
	if (sb_xml_is(el, SB_NS_CLIENT, "iq") && c->step == ST_FEDPROBE && id != NULL &&
	    strcmp(id, "fedprobe") == 0) {
		if (strcmp(type, "result") == 0) {
			client_ready(c);
		} else {
			snprintf(reply, sizeof(reply), "the ping to %s: %s", rcv_domain(c->w->o),
			    error_condition(el));
			fail(c, reply);
		}
		return;
	}
	if (sb_xml_is(el, SB_NS_CLIENT, "iq") && id != NULL &&
	    (strcmp(type, "get") == 0 || strcmp(type, "set") == 0)) {
		/*
		 * A server pings idle clients; anything else is refused, as a
		 * client would. The answer goes back to the asker ('from'), as a
		 * server that matches answers by address (ejabberd) needs.
		 */
		const char *from = sb_xml_attr(el, "from");
		int ping = sb_xml_child(el, SB_NS_PING, "ping") != NULL;
		struct sb_buf out = SB_BUF_INIT;

		sb_buf_printf(&out, "<iq type='%s'", ping ? "result" : "error");
		sb_xml_write_attr(&out, "to", from);
		sb_xml_write_attr(&out, "id", id);
		if (ping)
			sb_buf_append_str(&out, "/>");
		else
			sb_buf_append_str(&out, "><error type='cancel'><service-unavailable "
			    "xmlns='" SB_NS_XMPP_STANZAS "'/></error></iq>");
		sb_conn_write(c->conn, sb_buf_data(&out), sb_buf_len(&out));
		sb_buf_free(&out);
		c->w->r.pings += ping;
		return;
	}
	c->w->r.other++;
	count_reason(&c->w->r, "unexpected <%s type='%s'/>", el->e.name, type);
}

/* --- one client: the XML stream --- */

/*
 * During the login a failure is fatal: the benchmark needs every client.
 * Later it is counted, and the pair's messages still in flight are lost.
 */
static void
fail(struct client *c, const char *what)
{
	if (c->step == ST_FAILED)
		return;
	if (c->step <= ST_FEDPROBE)
		die("bench%d: %s: %s", c->account, step_names[c->step], what);
	count_reason(&c->w->r, "%s: %s: %s", c->w->o->idle ? "client" : c->sender ? "sender" :
	    "receiver", step_names[c->step], what);
	if (c->step == ST_RUN)
		c->w->r.disconnected++;
	c->step = ST_FAILED;
	sb_conn_close(c->conn);
}

static void
xs_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	(void)arg;
	(void)hdr;
	(void)content_ns;
}

static void
xs_stanza(void *arg, struct sb_xml_node *el)
{
	struct client *c = arg;
	char what[96];

	if (sb_xml_is(el, SB_NS_STREAMS, "error") || sb_xml_is(el, SB_NS_XMPP_SASL, "failure")) {
		struct sb_xml_node *x = sb_xml_child(el, NULL, NULL);

		snprintf(what, sizeof(what), "<%s/> <%s/>", el->e.name, x ? x->e.name : "");
		fail(c, what);
		return;
	}
	if (c->step >= ST_PROBE) {
		run_stanza(c, el);
		sb_arena_reset(&c->w->scratch);
		return;
	}
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		int next;

		if (steps[i].step != c->step || !sb_xml_is(el, steps[i].ns, steps[i].name))
			continue;
		if ((next = steps[i].fn(c, el)) == -1) {
			snprintf(what, sizeof(what), "<%s/> not as expected", el->e.name);
			fail(c, what);
		} else {
			c->step = (enum step)next;
		}
		sb_arena_reset(&c->w->scratch);
		return;
	}
	snprintf(what, sizeof(what), "unexpected <%s/>", el->e.name);
	fail(c, what);
}

static void
xs_close(void *arg)
{
	struct client *c = arg;

	if (c->step != ST_CLOSING)
		fail(c, "the server closed the stream");
}

static const struct sb_xml_stream_cb xs_cb = { xs_header, xs_stanza, xs_close };

/* After <proceed/>: the rest of this read is the server's first TLS bytes. */
static void
switch_to_tls(struct client *c, struct sb_conn_ev *ev)
{
	struct sb_buf *rest = sb_xml_stream_leftover(c->xs);

	ev->used = ev->len - sb_buf_len(rest);
	sb_buf_clear(rest);
	sb_xml_stream_restart(c->xs);
	if (sb_conn_starttls(c->conn, c->w->tls, client_domain(c)) == -1)
		fail(c, "cannot start TLS");
}

static void
on_data(struct client *c, struct sb_conn_ev *ev)
{
	enum sb_xml_status st = sb_xml_stream_feed(c->xs, ev->data, ev->len);

	/* A restart after <success/> stops the parse: what followed is parsed now. */
	while (st == SB_XML_STOPPED && c->step != ST_HANDSHAKE &&
	    sb_buf_len(sb_xml_stream_leftover(c->xs)) > 0)
		st = sb_xml_stream_feed(c->xs, "", 0);
	switch (st) {
	case SB_XML_OK:
	case SB_XML_CLOSED:
		break;
	case SB_XML_STOPPED:
		if (c->step == ST_HANDSHAKE)
			switch_to_tls(c, ev);
		break;
	case SB_XML_FAILED:
		fail(c, sb_xml_stream_error_text(c->xs));
		break;
	}
	/* Idle or paced, a client reads now and then: its parser waits unallocated. */
	if (c->step == ST_RUN && (c->w->o->idle || c->w->o->rate > 0))
		sb_xml_stream_hibernate(c->xs);
}

static void
on_conn(struct sb_conn *conn, struct sb_conn_ev *ev, void *udata)
{
	struct client *c = udata;

	(void)conn;
	switch (ev->type) {
	case SB_CONN_CONNECTED:
		c->step = ST_FEATURES_TLS;
		send_header(c);
		break;
	case SB_CONN_DATA:
		on_data(c, ev);
		break;
	case SB_CONN_TLS_READY:
		c->step = ST_FEATURES_SASL;
		send_header(c);
		break;
	case SB_CONN_TIMEOUT:
		fail(c, "timeout");
		break;
	case SB_CONN_ERROR:
		fail(c, ev->error);
		break;
	case SB_CONN_WRITABLE:
		break;
	case SB_CONN_CLOSED:
		if (c->step != ST_CLOSING && c->step != ST_FAILED)
			fail(c, ev->error ? ev->error : "closed");
		sb_xml_stream_free(c->xs);
		c->xs = NULL;
		c->conn = NULL;
		c->step = ST_GONE;
		c->w->open--;
		break;
	}
}

static void
client_start(struct worker *w, struct client *c)
{
	struct sb_xml_limits lim = SB_XML_DEFAULT_LIMITS;
	char err[256], src[32];

	c->step = ST_CONNECT;
	c->xs = sb_xml_stream_new(&xs_cb, c, &lim);
	/* -S: 127.0.0.2 on, one source address after the other. */
	if (w->o->sources > 0)
		snprintf(src, sizeof(src), "127.0.0.%d", 2 + (c->account - 1) % w->o->sources);
	c->conn = sb_conn_connect_from(w->loop, w->o->sources > 0 ? src : NULL, "127.0.0.1",
	    client_port(c), IO_TIMEOUT_MS, on_conn, c, err, sizeof(err));
	if (c->conn == NULL)
		die("bench%d: %s", c->account, err);
	sb_conn_set_timeout(c->conn, IO_TIMEOUT_MS);
	w->open++;
	w->logging_in++;
}

/* Receivers first, so that every receiver is there before its sender. */
static struct client *
client_at(struct worker *w, int i)
{
	return i < w->npairs ? &w->pairs[i].rcv : &w->pairs[i - w->npairs].snd;
}

static void
login_next(struct worker *w)
{
	while (w->logging_in < w->o->logins && w->next_login < w->nclients)
		client_start(w, client_at(w, w->next_login++));
}

/* --- one worker: phases --- */

static void
close_all(struct worker *w)
{
	w->phase = CLOSING;
	w->t_close = now();
	for (int i = 0; i < w->nclients; i++) {
		struct client *c = client_at(w, i);

		if (c->conn == NULL || c->step == ST_FAILED)
			continue;
		c->step = ST_CLOSING;
		send_str(c, "</stream:stream>");
		sb_conn_close_after_flush(c->conn, CLOSE_MAX_S * 1000);
	}
}

static int
in_flight(const struct worker *w)
{
	uint64_t n = 0;

	for (int i = 0; i < w->npairs; i++) {
		const struct pair *p = &w->pairs[i];

		/* A pair whose connection went is lost, not in flight. */
		if (p->snd.step == ST_RUN && p->rcv.step == ST_RUN)
			n += p->sent - p->delivered - p->bounced;
	}
	return n > 0;
}

static void
finish(struct worker *w)
{
	sb_timer_free(w->ticker);
	w->ticker = NULL;
	if (w->pacer != NULL)
		sb_timer_free(w->pacer);
	w->pacer = NULL;
	uv_poll_stop(&w->cmd);
	uv_close((uv_handle_t *)&w->cmd, NULL);
	sb_loop_shutdown(w->loop);
}

/* Blocking: the parent is reading it. */
static void
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	ssize_t k;

	for (; len > 0; p += k, len -= (size_t)k)
		if ((k = write(fd, p, len)) <= 0)
			die("cannot write to the parent");
}

/* Every 20 ms: the end of the drain, the end of the closing. */
static void
tick(struct sb_timer *t, void *arg)
{
	struct worker *w = arg;
	double n = now();

	(void)t;
	if (w->phase == DRAIN && (!in_flight(w) || n - w->t_drain > DRAIN_MAX_S)) {
		w->r.drain_s = n - w->t_drain;
		w->r.drained = !in_flight(w);
		for (int i = 0; i < w->nclients; i++)
			w->r.connected += client_at(w, i)->step == ST_RUN;
		write_all(w->st_fd, &w->r, sizeof(w->r));
		close_all(w);
	} else if (w->phase == CLOSING && (w->open == 0 || n - w->t_close > CLOSE_MAX_S + 2)) {
		finish(w);
	}
}

/* CMD_INTERVAL: this interval's counts and the errors so far; the next interval starts. */
static void
send_interval(struct worker *w)
{
	w->iv.errors = w->r.bounced + w->r.out_of_order + w->r.other + w->r.disconnected;
	write_all(w->st_fd, &w->iv, sizeof(w->iv));
	memset(&w->iv, 0, sizeof(w->iv));
}

static void
on_command(uv_poll_t *h, int status, int events)
{
	struct worker *w = h->data;
	char buf[16];
	ssize_t n = read(w->cmd_fd, buf, sizeof(buf));

	(void)status;
	(void)events;
	if (n == 0 && w->phase == CLOSING) {
		uv_poll_stop(&w->cmd);	/* the parent has our result and waits for us */
		return;
	}
	if (n == 0)
		die("the parent went away");
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		die("reading commands: %s", strerror(errno));
	}
	for (ssize_t i = 0; i < n; i++) {
		switch (buf[i]) {
		case CMD_GO:
			w->phase = WARMUP;
			for (int k = 0; k < w->npairs; k++)
				fill_window(w, &w->pairs[k]);
			break;
		case CMD_MEASURE:
			w->phase = MEASURE;
			break;
		case CMD_STOP:
			w->phase = DRAIN;
			w->t_drain = now();
			break;
		case CMD_INTERVAL:
			send_interval(w);
			break;
		}
	}
}

static void
make_body(char *out, size_t cap, int len)
{
	size_t n = sizeof(BODY_TEXT) - 1;

	if ((size_t)len >= cap)
		len = (int)cap - 1;
	for (int i = 0; i < len; i++)
		out[i] = BODY_TEXT[(size_t)i % n];
	out[len] = '\0';
}

int
worker_main(const struct options *o, int first, int npairs, int cmd_fd, int st_fd)
{
	struct worker w = {
		.o = o, .loop = uv_default_loop(), .cmd_fd = cmd_fd, .st_fd = st_fd,
		.first = first, .npairs = npairs, .nclients = 2 * npairs, .phase = LOGIN,
	};
	char err[256];

	sb_log_open("msg_load", 0, SB_LOG_WARN);
	make_body(w.body, sizeof(w.body), o->body);
	w.pairs = xcalloc((size_t)npairs, sizeof(*w.pairs));
	for (int i = 0; i < npairs; i++) {
		struct pair *p = &w.pairs[i];

		if (!o->idle)
			p->t_sent = xcalloc((size_t)o->window, sizeof(*p->t_sent));
		p->snd = (struct client){ .w = &w, .pair = p, .sender = 1,
		    .account = 2 * (first + i) + 1 };
		p->rcv = (struct client){ .w = &w, .pair = p, .account = 2 * (first + i) + 2 };
	}
	/* No CA file: verification is off (self-signed), the trust store is never used. */
	if ((w.tls = sb_tls_ctx_client(o->priority, NULL, err, sizeof(err))) == NULL)
		die("TLS: %s", err);
	sb_arena_init(&w.scratch, 0);
	uv_poll_init(w.loop, &w.cmd, cmd_fd);
	w.cmd.data = &w;
	uv_poll_start(&w.cmd, UV_READABLE, on_command);
	w.ticker = sb_timer_every(w.loop, 20, tick, &w);
	if (o->rate > 0) {
		/* This worker's share of the rate: its share of the pairs. */
		w.rate = o->rate * npairs / (o->users / 2);
		w.t_paced = now();
		w.pacer = sb_timer_every(w.loop, PACE_MS, pace, &w);
	}
	login_next(&w);
	uv_run(w.loop, UV_RUN_DEFAULT);

	for (int i = 0; i < npairs; i++) {
		free(w.pairs[i].t_sent);
		sb_buf_free(&w.pairs[i].snd.scram.auth_msg);
		sb_buf_free(&w.pairs[i].rcv.scram.auth_msg);
	}
	free(w.pairs);
	sb_tls_ctx_unref(w.tls);
	sb_arena_free(&w.scratch);
	if (uv_loop_close(w.loop) != 0)
		fprintf(stderr, "msg_load: the loop still has handles open\n");
	return 0;
}

