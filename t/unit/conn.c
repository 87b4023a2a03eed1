/*
 * conn.c: tests for lib/conn.c and lib/listener.c, the connection layer.
 *
 * Everything runs in one process and one loop on 127.0.0.1 with port 0:
 * each test connects a client sb_conn to a listener and records the events
 * both ends see. Timers in here are failure guards or give a misbehaving
 * layer the chance to show itself; no check depends on them firing at a
 * particular time. TLS certificates are made at run time in a temporary
 * directory.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "tap.h"
#include "timer.h"
#include "tls.h"

#define GUARD_MS	5000
#define BIG		(4 * 1024 * 1024)
#define NPAIRS		100

struct peer;
typedef void data_fn(struct peer *, struct sb_conn *, struct sb_conn_ev *);
typedef void setup_fn(struct peer *, struct sb_conn *);

/* What one end of a connection saw, and what it does. */
struct peer {
	struct sb_conn	*c;
	struct sb_buf	 in;		/* plaintext received before TLS */
	struct sb_buf	 tls_in;	/* plaintext received over TLS */
	int		 connected, data_events, writable, tls_ready, timeouts,
			 errors, closed;
	char		 error[256], reason[256];
	int		 reason_null;
	/* behaviour */
	int		 echo, echo_paused, close_on_timeout, shutting_down_seen;
	data_fn		*on_data;
	setup_fn	*setup;
	void		(*on_tls_ready)(struct peer *, struct sb_conn *);
	/* a stream to send, paced by the high-water mark */
	const char	*src;
	size_t		 srclen, sent;
	/* test-specific scratch */
	int		 flag, paused_events, write_after_close;
	size_t		 split_rest;
};

static uv_loop_t *loop;
static struct peer *next_server;	/* the peer the next accept fills */
static int guard_fired;
static char tmpdir[] = "/tmp/sb-conn-XXXXXX";
static struct sb_tls_ctx *server_ctx, *client_ctx;

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

static void
peer_reset(struct peer *p)
{
	sb_buf_free(&p->in);
	sb_buf_free(&p->tls_in);
	memset(p, 0, sizeof(*p));
}

/* Send the rest of p->src until the queue is above the high-water mark. */
static void
pump(struct peer *p)
{
	size_t n;

	while (p->c != NULL && p->sent < p->srclen) {
		n = p->srclen - p->sent > 65536 ? 65536 : p->srclen - p->sent;
		p->sent += n;
		if (sb_conn_write(p->c, p->src + p->sent - n, n))
			break;
	}
}

static void
default_data(struct peer *p, struct sb_conn *c, struct sb_conn_ev *ev)
{
	sb_buf_append(sb_conn_tls_ready(c) ? &p->tls_in : &p->in, ev->data, ev->len);
	if (p->echo && sb_conn_write(c, ev->data, ev->len)) {
		sb_conn_pause_read(c);
		p->echo_paused = 1;
	}
}

static void
peer_handler(struct sb_conn *c, struct sb_conn_ev *ev, void *udata)
{
	struct peer *p = udata;

	switch (ev->type) {
	case SB_CONN_CONNECTED:
		p->connected++;
		pump(p);
		break;
	case SB_CONN_DATA:
		p->data_events++;
		(p->on_data ? p->on_data : default_data)(p, c, ev);
		break;
	case SB_CONN_WRITABLE:
		p->writable++;
		if (p->echo_paused) {
			p->echo_paused = 0;
			sb_conn_resume_read(c);
		}
		pump(p);
		break;
	case SB_CONN_TLS_READY:
		p->tls_ready++;
		if (p->on_tls_ready != NULL)
			p->on_tls_ready(p, c);
		break;
	case SB_CONN_TIMEOUT:
		p->timeouts++;
		if (p->close_on_timeout)
			sb_conn_close(c);
		break;
	case SB_CONN_ERROR:
		p->errors++;
		snprintf(p->error, sizeof(p->error), "%s", ev->error);
		break;
	case SB_CONN_CLOSED:
		p->closed++;
		p->reason_null = ev->error == NULL;
		snprintf(p->reason, sizeof(p->reason), "%s", ev->error ? ev->error : "");
		p->c = NULL;
		break;
	}
}

static void
accept_cb(struct sb_listener *l, struct sb_conn *c, void *arg)
{
	struct peer *p = next_server;

	if (p == NULL || p->c != NULL) {
		sb_conn_close(c);	/* nobody expects this one */
		return;
	}
	p->c = c;
	sb_conn_set_handler(c, peer_handler, p);
	if (p->setup != NULL)
		p->setup(p, c);
}

static struct sb_conn *
client_connect(struct peer *p, int port)
{
	char err[256];

	p->c = sb_conn_connect(loop, "127.0.0.1", port, GUARD_MS, peer_handler, p,
	    err, sizeof(err));
	if (p->c == NULL)
		diag("connect: %s", err);
	return p->c;
}

static char *
pattern(size_t n, unsigned seed)
{
	char *p = malloc(n);

	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (char)(seed >> 16);
	}
	return p;
}

/* --- plain TCP --- */

static void
test_echo(int port)
{
	struct peer cl = { 0 }, sv = { 0 };
	char *big = pattern(BIG, 1), want[64];

	sv.echo = 1;
	next_server = &sv;
	cl.src = big;
	cl.srclen = BIG;
	client_connect(&cl, port);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	is_str(sb_conn_peer(cl.c), want, "client's peer address string");
	RUN_UNTIL(cl.in.len >= BIG || cl.closed);
	is_int(cl.connected, 1, "echo: CONNECTED once");
	ok(sv.c != NULL && strncmp(sb_conn_peer(sv.c), "127.0.0.1:", 10) == 0,
	    "server's peer address string (%s)", sv.c ? sb_conn_peer(sv.c) : "none");
	is_int(cl.in.len, BIG, "echo: 4 MiB came back");
	ok(cl.in.len == BIG && memcmp(cl.in.base, big, BIG) == 0, "echo: bytes intact both ways");
	ok(cl.writable > 0, "echo: the client's queue went above the high-water mark "
	    "and WRITABLE paced it (%d)", cl.writable);

	sb_conn_close_after_flush(cl.c, GUARD_MS);
	RUN_UNTIL(cl.closed && sv.closed);
	is_str(sv.reason, "connection closed by peer", "server sees the client's EOF as CLOSED");
	ok(cl.closed == 1 && cl.reason_null, "graceful local close: one CLOSED, reason NULL");
	free(big);
	peer_reset(&cl);
	peer_reset(&sv);
}

static void
test_coalesce(int port)
{
	struct peer cl = { 0 }, sv = { 0 };
	static const char msg[] = "<message to='a@b'><body>hi</body></message>";
	uint64_t before;

	next_server = &sv;
	client_connect(&cl, port);
	RUN_UNTIL(cl.connected && sv.c != NULL);
	before = sb_conn_stats()->uv_writes;
	for (int i = 0; i < 1000; i++)
		sb_conn_write(cl.c, msg, sizeof(msg) - 1);
	RUN_UNTIL(sv.in.len >= 1000 * (sizeof(msg) - 1));
	is_int(sv.in.len, 1000 * (sizeof(msg) - 1), "coalesce: all 1000 stanzas arrived");
	is_int(sb_conn_stats()->uv_writes - before, 1, "coalesce: 1000 writes, one uv_write");
	sb_conn_close(cl.c);
	RUN_UNTIL(cl.closed && sv.closed);
	peer_reset(&cl);
	peer_reset(&sv);
}

/*
 * High water: the server floods a client that does not read. The kernel
 * can absorb only the server's (small) send buffer and the client's
 * initial receive window, far less than 4 MiB.
 */
static void
flood_setup(struct peer *p, struct sb_conn *c)
{
	sb_conn_set_socket_buffers(c, 4096, 0);
	sb_conn_set_watermarks(c, 16 * 1024, 64 * 1024);
	p->flag = sb_conn_write(c, p->src, p->srclen);
	p->sent = p->srclen;
}

static void
resume_cb(struct sb_timer *t, void *arg)
{
	struct peer **pp = arg;

	pp[1]->paused_events = pp[1]->writable;	/* WRITABLE before the peer read */
	/* A tiny send buffer crawls: open it for the rest. */
	sb_conn_set_socket_buffers(pp[1]->c, 1024 * 1024, 0);
	sb_conn_resume_read(pp[0]->c);
}

static void
test_high_water(int port)
{
	struct peer cl = { 0 }, sv = { 0 }, *pp[2] = { &cl, &sv };
	char *big = pattern(BIG, 2);

	sv.src = big;
	sv.srclen = BIG;
	sv.setup = flood_setup;
	next_server = &sv;
	client_connect(&cl, port);
	sb_conn_pause_read(cl.c);
	RUN_UNTIL(sv.c != NULL);
	is_int(sv.flag, 1, "high water: a 4 MiB write reports the queue above the mark");
	sb_timer_once(loop, 50, resume_cb, pp);
	RUN_UNTIL(cl.in.len >= BIG && sv.writable);
	is_int(sv.paused_events, 0, "high water: no WRITABLE while the peer does not read");
	is_int(sv.writable, 1, "high water: WRITABLE once after the peer read");
	ok(cl.in.len == BIG && memcmp(cl.in.base, big, cl.in.len) == 0,
	    "high water: the peer got every byte");
	sb_conn_close(cl.c);
	RUN_UNTIL(cl.closed && sv.closed);
	free(big);
	peer_reset(&cl);
	peer_reset(&sv);
}

/* Pause: the server takes 3 bytes of the first read, pauses, resumes later. */
static void
take3_data(struct peer *p, struct sb_conn *c, struct sb_conn_ev *ev)
{
	if (p->flag == 1)
		p->paused_events++;	/* a DATA while paused: wrong */
	if (p->flag == 0) {
		ev->used = ev->len < 3 ? ev->len : 3;
		sb_buf_append(&p->in, ev->data, ev->used);
		sb_conn_pause_read(c);
		p->flag = 1;
		return;
	}
	if (p->flag == 2) {
		p->split_rest = ev->len;	/* first DATA after resume */
		p->flag = 3;
		ok(ev->len >= 3 && memcmp(ev->data, "def", 3) == 0,
		    "pause: after resume the kept bytes come first");
	}
	sb_buf_append(&p->in, ev->data, ev->len);
}

static void
unpause_cb(struct sb_timer *t, void *arg)
{
	struct peer **pp = arg;

	sb_conn_write(pp[0]->c, "ghi", 3);
	pp[1]->flag = 2;
	sb_conn_resume_read(pp[1]->c);
}

static void
test_pause(int port)
{
	struct peer cl = { 0 }, sv = { 0 }, *pp[2] = { &cl, &sv };

	sv.on_data = take3_data;
	next_server = &sv;
	cl.src = "abcdef";
	cl.srclen = 6;
	client_connect(&cl, port);
	RUN_UNTIL(sv.flag == 1);
	sb_timer_once(loop, 20, unpause_cb, pp);
	RUN_UNTIL(sv.in.len >= 9);
	is_int(sv.paused_events, 0, "pause: no DATA while paused");
	is_mem(sv.in.base, sv.in.len, "abcdefghi", 9, "pause: bytes in order across pause/resume");
	sb_conn_close(cl.c);
	RUN_UNTIL(cl.closed && sv.closed);
	peer_reset(&cl);
	peer_reset(&sv);
}

/* used = 0: a line-framed handler leaves incomplete lines in the layer. */
static void
lines_data(struct peer *p, struct sb_conn *c, struct sb_conn_ev *ev)
{
	const char *nl = memrchr(ev->data, '\n', ev->len);

	if (nl == NULL) {
		ev->used = 0;
		p->flag++;
		return;
	}
	ev->used = (size_t)(nl - ev->data) + 1;
	sb_buf_append(&p->in, ev->data, ev->used);
	/* This DATA starts with kept bytes: closing must not free them under us. */
	if (memmem(p->in.base, p->in.len, "world\n", 6) != NULL)
		sb_conn_close_after_flush(c, GUARD_MS);
}

static void
write_cb(struct sb_timer *t, void *arg)
{
	struct peer *p = arg;

	p->sent++;
	sb_conn_write(p->c, p->sent == 1 ? "lo\nwor" : "ld\n", p->sent == 1 ? 6 : 3);
	if (p->sent == 1)
		sb_timer_once(loop, 5, write_cb, p);
}

static void
test_unconsumed(int port)
{
	struct peer cl = { 0 }, sv = { 0 };

	sv.on_data = lines_data;
	next_server = &sv;
	client_connect(&cl, port);
	sb_conn_write(cl.c, "hel", 3);
	RUN_UNTIL(sv.flag > 0);
	sb_timer_once(loop, 5, write_cb, &cl);
	RUN_UNTIL(sv.in.len >= 12);
	is_mem(sv.in.base, sv.in.len, "hello\nworld\n", 12,
	    "unconsumed input is kept and offered again with what follows");
	RUN_UNTIL(cl.closed && sv.closed);
	ok(sv.reason_null && cl.closed, "close after flush from inside DATA (%s)", cl.reason);
	peer_reset(&cl);
	peer_reset(&sv);
}

/* Close from inside DATA, then keep using the connection in that call. */
static void
close_data(struct peer *p, struct sb_conn *c, struct sb_conn_ev *ev)
{
	sb_conn_close(c);
	p->write_after_close = sb_conn_write(c, "x", 1);
	p->flag = strncmp(sb_conn_peer(c), "127.0.0.1:", 10) == 0;
	sb_conn_close(c);	/* twice is harmless */
	ev->used = 1;		/* the rest must not be offered again */
}

static void
test_close_in_callback(int port)
{
	struct peer cl = { 0 }, sv = { 0 };

	sv.on_data = close_data;
	next_server = &sv;
	client_connect(&cl, port);
	sb_conn_write(cl.c, "bye bye", 7);
	RUN_UNTIL(cl.closed && sv.closed);
	is_int(sv.data_events, 1, "close in DATA: no event after the close but CLOSED");
	ok(sv.closed == 1 && sv.reason_null, "close in DATA: one CLOSED, reason NULL");
	is_int(sv.write_after_close, 1, "close in DATA: write after close is dropped (returns 1)");
	ok(sv.flag, "close in DATA: the connection stays readable until the handler returns");
	is_int(cl.closed, 1, "close in DATA: the peer sees CLOSED (%s)", cl.reason);
	peer_reset(&cl);
	peer_reset(&sv);
}

static void
graceful_setup(struct peer *p, struct sb_conn *c)
{
	sb_conn_write(c, p->src, p->srclen);
	sb_conn_close_after_flush(c, GUARD_MS);
	p->write_after_close = sb_conn_write(c, "x", 1);
}

static void
test_graceful(int port)
{
	struct peer cl = { 0 }, sv = { 0 };
	char *big = pattern(2 * 1024 * 1024, 3);

	sv.src = big;
	sv.srclen = 2 * 1024 * 1024;
	sv.setup = graceful_setup;
	next_server = &sv;
	client_connect(&cl, port);
	RUN_UNTIL(cl.closed && sv.closed);
	ok(cl.in.len == sv.srclen && memcmp(cl.in.base, big, cl.in.len) == 0,
	    "close after flush: all %zu bytes delivered before the close", cl.in.len);
	is_str(cl.reason, "connection closed by peer", "close after flush: the peer sees EOF");
	ok(sv.closed == 1 && sv.reason_null && sv.errors == 0,
	    "close after flush: one CLOSED, no error (%s)", sv.reason);
	free(big);
	peer_reset(&cl);
	peer_reset(&sv);
}

static void
idle_setup(struct peer *p, struct sb_conn *c)
{
	sb_conn_set_timeout(c, 30);
}

static void
test_idle(int port)
{
	struct peer cl = { 0 }, sv = { 0 };

	sv.setup = idle_setup;
	sv.close_on_timeout = 1;
	next_server = &sv;
	client_connect(&cl, port);
	RUN_UNTIL(cl.closed && sv.closed);
	is_int(sv.timeouts, 1, "idle: TIMEOUT delivered once");
	ok(sv.closed == 1 && sv.reason_null, "idle: the handler closed it");
	is_str(cl.reason, "connection closed by peer", "idle: the client saw the close");
	peer_reset(&cl);
	peer_reset(&sv);
}

static void
test_errors(int port)
{
	struct peer cl = { 0 };
	struct sb_listener *l;
	char err[256], want[256];
	int closed_port;

	l = sb_listener_new(loop, "127.0.0.1", port, 0, NULL, accept_cb, NULL, err, sizeof(err));
	snprintf(want, sizeof(want), "listen 127.0.0.1:%d: address already in use", port);
	ok(l == NULL, "listen on a port in use fails");
	is_str(err, want, "listen error text");

	l = sb_listener_new(loop, "127.0.0.1", 0, 0, NULL, accept_cb, NULL, err, sizeof(err));
	closed_port = sb_listener_port(l);
	sb_listener_free(l);
	uv_run(loop, UV_RUN_NOWAIT);
	client_connect(&cl, closed_port);
	RUN_UNTIL(cl.closed);
	snprintf(want, sizeof(want), "connect 127.0.0.1:%d: connection refused", closed_port);
	is_str(cl.error, want, "connect to a closed port: ERROR text");
	ok(cl.errors == 1 && cl.closed == 1 && cl.connected == 0,
	    "connect to a closed port: ERROR then CLOSED, no CONNECTED");
	is_str(cl.reason, want, "connect to a closed port: CLOSED carries the reason");
	peer_reset(&cl);

	ok(sb_conn_connect(loop, "example.org", 5222, 0, peer_handler, &cl, err, sizeof(err)) == NULL,
	    "connect to a name is refused: DNS is elsewhere");
	is_str(err, "connect example.org port 5222: not a numeric address", "bad address text");
}

static void
test_addresses(void)
{
	struct peer cl = { 0 }, sv = { 0 };
	struct sb_listener *l;
	char err[256], want[128];
	int port;

	/* "*" is dual-stack: an IPv4 client shows as IPv4, not ::ffff:. */
	l = sb_listener_new(loop, "*", 0, 0, NULL, accept_cb, NULL, err, sizeof(err));
	ok(l != NULL, "listen on * (%s)", l ? sb_listener_name(l) : err);
	if (l == NULL)
		return;
	next_server = &sv;
	client_connect(&cl, sb_listener_port(l));
	RUN_UNTIL(sv.c != NULL && cl.connected);
	ok(sv.c != NULL && strncmp(sb_conn_peer(sv.c), "127.0.0.1:", 10) == 0,
	    "an IPv4 peer of a dual-stack listener prints as IPv4 (%s)",
	    sv.c ? sb_conn_peer(sv.c) : "none");
	sb_conn_close(cl.c);
	RUN_UNTIL(cl.closed && sv.closed);
	peer_reset(&cl);
	peer_reset(&sv);

	/* A chosen source address (load generators spread over 127.0.0.0/8). */
	next_server = &sv;
	cl.c = sb_conn_connect_from(loop, "127.0.0.7", "127.0.0.1", sb_listener_port(l),
	    GUARD_MS, peer_handler, &cl, err, sizeof(err));
	ok(cl.c != NULL, "connect from 127.0.0.7 (%s)", cl.c ? "" : err);
	RUN_UNTIL(cl.closed || (sv.c != NULL && cl.connected));
	ok(sv.c != NULL && strncmp(sb_conn_peer(sv.c), "127.0.0.7:", 10) == 0,
	    "the server sees the source address (%s)", sv.c ? sb_conn_peer(sv.c) : "none");
	if (cl.c != NULL)
		sb_conn_close(cl.c);
	RUN_UNTIL(cl.closed && (sv.closed || sv.c == NULL));
	peer_reset(&cl);
	peer_reset(&sv);
	ok(sb_conn_connect_from(loop, "::1", "127.0.0.1", sb_listener_port(l), GUARD_MS,
	    peer_handler, &cl, err, sizeof(err)) == NULL, "a source of another family is refused");
	snprintf(want, sizeof(want), "connect 127.0.0.1 port %d: source ::1 is not a numeric "
	    "address of the same family", sb_listener_port(l));
	is_str(err, want, "its error text");
	sb_listener_free(l);

	l = sb_listener_new(loop, "::1", 0, 0, NULL, accept_cb, NULL, err, sizeof(err));
	if (l == NULL) {
		ok(1, "IPv6 peer address # SKIP no IPv6 loopback here (%s)", err);
		return;
	}
	port = sb_listener_port(l);
	next_server = &sv;
	cl.c = sb_conn_connect(loop, "::1", port, GUARD_MS, peer_handler, &cl, err, sizeof(err));
	snprintf(want, sizeof(want), "[::1]:%d", port);
	is_str(cl.c ? sb_conn_peer(cl.c) : err, want, "IPv6 peer address string");
	RUN_UNTIL(cl.closed || (cl.connected && sv.c != NULL));
	if (cl.c != NULL)
		sb_conn_close(cl.c);
	RUN_UNTIL(cl.closed && (sv.closed || sv.c == NULL));
	sb_listener_free(l);
	peer_reset(&cl);
	peer_reset(&sv);
}

/* --- TLS --- */

static int
tls_setup_ctx(void)
{
	char cert[256], key[256], err[256];

	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	if (sb_tls_make_selfsigned("localhost", cert, key, err, sizeof(err)) < 0 ||
	    (server_ctx = sb_tls_ctx_server(NULL, err, sizeof(err))) == NULL ||
	    sb_tls_ctx_add_cert(server_ctx, cert, key, err, sizeof(err)) < 0 ||
	    (client_ctx = sb_tls_ctx_client(NULL, cert, err, sizeof(err))) == NULL) {
		diag("TLS setup: %s", err);
		return -1;
	}
	return 0;
}

static void
tls_cleanup(void)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/cert.pem", tmpdir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/key.pem", tmpdir);
	unlink(path);
	rmdir(tmpdir);
	if (server_ctx != NULL)
		sb_tls_ctx_unref(server_ctx);
	if (client_ctx != NULL)
		sb_tls_ctx_unref(client_ctx);
}

/* Server: plaintext until <starttls/>, then TLS from the byte after it. */
static void
starttls_server_data(struct peer *p, struct sb_conn *c, struct sb_conn_ev *ev)
{
	const char *at;

	if (sb_conn_tls(c) != NULL) {
		default_data(p, c, ev);
		return;
	}
	if ((at = memmem(ev->data, ev->len, "<starttls/>", 11)) == NULL) {
		ev->used = 0;		/* wait for the whole element */
		return;
	}
	ev->used = (size_t)(at - ev->data) + 11;
	sb_buf_append(&p->in, ev->data, ev->used);
	p->split_rest = ev->len - ev->used;
	if (p->flag)			/* the XMPP way: answer, then switch */
		sb_conn_write(c, "<proceed/>", 10);
	ok(sb_conn_starttls(c, server_ctx, NULL) == 0, "server switches to TLS");
	if (p->flag)
		sb_conn_write(c, "early", 5);	/* must wait for the handshake */
}

static void
features_setup(struct peer *p, struct sb_conn *c)
{
	sb_conn_write(c, "<features/>", 11);
}

/* Client, split case: on <features/>, send <starttls/> and TLS in one go. */
static void
eager_client_data(struct peer *p, struct sb_conn *c, struct sb_conn_ev *ev)
{
	default_data(p, c, ev);
	if (sb_conn_tls(c) == NULL && memmem(p->in.base, p->in.len, "<features/>", 11)) {
		sb_conn_write(c, "hello <starttls/>", 17);
		sb_conn_starttls(c, client_ctx, "localhost");
	}
}

/* Client, XMPP way: <starttls/>, and TLS only after <proceed/>. */
static void
polite_client_data(struct peer *p, struct sb_conn *c, struct sb_conn_ev *ev)
{
	const char *at;

	if (sb_conn_tls(c) != NULL) {
		default_data(p, c, ev);
		return;
	}
	sb_buf_append(&p->in, ev->data, ev->len);
	if (!p->flag && memmem(p->in.base, p->in.len, "<features/>", 11)) {
		p->flag = 1;
		sb_conn_write(c, "<starttls/>", 11);
	}
	if ((at = memmem(ev->data, ev->len, "<proceed/>", 10)) != NULL) {
		ev->used = (size_t)(at - ev->data) + 10;
		p->in.len -= ev->len - ev->used;
		sb_conn_starttls(c, client_ctx, "localhost");
	}
}

static void
send_after_tls(struct peer *p, struct sb_conn *c)
{
	p->sent = 0;
	pump(p);
}

static void
check_tls_exchange(struct peer *cl, struct peer *sv, const char *what, const char *early)
{
	char err[256];
	size_t off = early ? strlen(early) : 0;

	ok(cl->tls_ready == 1 && sv->tls_ready == 1, "%s: TLS_READY on both ends", what);
	ok(sv->tls_in.len == cl->srclen && memcmp(sv->tls_in.base, cl->src, cl->srclen) == 0,
	    "%s: server got %zu bytes over TLS", what, sv->tls_in.len);
	ok(cl->tls_in.len == off + cl->srclen &&
	    memcmp(cl->tls_in.base + off, cl->src, cl->srclen) == 0,
	    "%s: client got the echo over TLS (%zu bytes)", what, cl->tls_in.len);
	ok(cl->c != NULL && sb_tls_peer_verify(sb_conn_tls(cl->c), "localhost", err, sizeof(err)) == 0,
	    "%s: the client verifies the server certificate", what);
}

static void
test_starttls_split(int port)
{
	struct peer cl = { 0 }, sv = { 0 };
	char *data = pattern(300 * 1024, 4);

	sv.setup = features_setup;
	sv.on_data = starttls_server_data;
	sv.echo = 1;
	cl.on_data = eager_client_data;
	cl.on_tls_ready = send_after_tls;
	cl.src = data;
	cl.srclen = 300 * 1024;
	cl.sent = cl.srclen;	/* nothing before TLS */
	next_server = &sv;
	client_connect(&cl, port);
	RUN_UNTIL(cl.tls_in.len >= cl.srclen || cl.closed || sv.closed);
	is_mem(sv.in.base, sv.in.len, "hello <starttls/>", 17,
	    "split: plaintext before the switch point reached the protocol");
	ok(sv.split_rest > 0, "split: TLS bytes came in the same read as the last "
	    "plaintext (%zu after the switch point)", sv.split_rest);
	check_tls_exchange(&cl, &sv, "split", NULL);
	ok(sb_conn_tls(cl.c) != NULL && strcmp(sb_tls_version(sb_conn_tls(cl.c)), "TLS1.3") == 0,
	    "split: TLS 1.3 negotiated");
	sb_conn_close_after_flush(cl.c, GUARD_MS);
	RUN_UNTIL(cl.closed && sv.closed);
	is_str(sv.reason, "TLS closed by peer", "TLS: close_notify reported as CLOSED");
	free(data);
	peer_reset(&cl);
	peer_reset(&sv);
}

static void
test_starttls_proceed(int port)
{
	struct peer cl = { 0 }, sv = { 0 };
	char *data = pattern(64 * 1024, 5);

	sv.setup = features_setup;
	sv.on_data = starttls_server_data;
	sv.flag = 1;
	sv.echo = 1;
	cl.on_data = polite_client_data;
	cl.on_tls_ready = send_after_tls;
	cl.src = data;
	cl.srclen = 64 * 1024;
	cl.sent = cl.srclen;
	next_server = &sv;
	client_connect(&cl, port);
	RUN_UNTIL(cl.tls_in.len >= 5 + cl.srclen || cl.closed || sv.closed);
	is_mem(cl.in.base, cl.in.len, "<features/><proceed/>", 21,
	    "proceed: what the server wrote before the switch went out in plaintext");
	check_tls_exchange(&cl, &sv, "proceed", "early");
	ok(cl.tls_in.len >= 5 && memcmp(cl.tls_in.base, "early", 5) == 0,
	    "proceed: a write made during the handshake went out encrypted after it");
	sb_conn_close(cl.c);
	RUN_UNTIL(cl.closed && sv.closed);
	free(data);
	peer_reset(&cl);
	peer_reset(&sv);
}

static void
test_direct_tls(void)
{
	struct peer cl = { 0 }, sv = { 0 };
	struct sb_listener *l;
	char err[256];

	l = sb_listener_new(loop, "127.0.0.1", 0, 0, server_ctx, accept_cb, NULL, err, sizeof(err));
	ok(l != NULL, "direct TLS listener (%s)", l ? sb_listener_name(l) : err);
	if (l == NULL)
		return;
	sv.echo = 1;
	cl.src = "direct hello";
	cl.srclen = 12;
	next_server = &sv;
	client_connect(&cl, sb_listener_port(l));
	sb_conn_starttls(cl.c, client_ctx, "localhost");
	sb_conn_write(cl.c, cl.src, cl.srclen);	/* before CONNECTED and TLS_READY */
	cl.sent = cl.srclen;
	RUN_UNTIL(cl.tls_in.len >= cl.srclen || cl.closed || sv.closed);
	check_tls_exchange(&cl, &sv, "direct TLS", NULL);
	is_str(sv.c ? sb_tls_server_name(sb_conn_tls(sv.c)) : NULL, "localhost",
	    "direct TLS: the server saw the SNI");
	sb_conn_close(cl.c);
	RUN_UNTIL(cl.closed && sv.closed);
	sb_listener_free(l);
	peer_reset(&cl);
	peer_reset(&sv);
}

/* --- memory and shutdown --- */

/* Clients at [i], their servers at [2 * NPAIRS + i]. */
static struct peer pairs[4 * NPAIRS];

static size_t
heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static size_t
pairs_up(size_t first, size_t n, int tls)
{
	size_t done = 0;

	for (size_t i = first; i < first + n; i++)
		done += tls ? pairs[i].tls_ready && pairs[2 * NPAIRS + i].tls_ready
		    : pairs[i].connected && pairs[2 * NPAIRS + i].c != NULL;
	return done;
}

static void
test_idle_memory(int port, int tls)
{
	size_t before, after, first = tls ? NPAIRS : 0, n = tls ? NPAIRS / 2 : NPAIRS, each;

	before = heap_used();
	for (size_t i = first; i < first + n; i++) {
		next_server = &pairs[2 * NPAIRS + i];
		client_connect(&pairs[i], port);
		if (tls)
			sb_conn_starttls(pairs[i].c, client_ctx, "localhost");
		RUN_UNTIL(pairs[2 * NPAIRS + i].c != NULL);
	}
	RUN_UNTIL(pairs_up(first, n, tls) == n);
	uv_run(loop, UV_RUN_NOWAIT);
	after = heap_used();
	is_int(pairs_up(first, n, tls), n, "%zu idle %s connection pairs up", n, tls ? "TLS" : "plain");
	if (before == 0 && after == 0) {
		ok(1, "idle memory # SKIP mallinfo2 sees nothing (sanitizer allocator)");
		return;
	}
	each = (after - before) / (2 * n);
	diag("idle %s connection: %zu heap bytes each (sizeof(struct sb_conn) = %zu)",
	    tls ? "TLS" : "plain", each, sb_conn_size());
	if (tls)
		ok(each < 64 * 1024, "an idle TLS connection holds < 64 KiB of heap (%zu)", each);
	else
		ok(each < 1024, "an idle plain connection holds < 1 KiB of heap (%zu)", each);
}

int
main(void)
{
	struct sb_listener *l, *l_direct;
	char err[256];
	int port, tls_ok, closed = 0, reasons = 0;
	uv_loop_t uvloop;

	uv_loop_init(&uvloop);
	loop = &uvloop;
	l = sb_listener_new(loop, "127.0.0.1", 0, 0, NULL, accept_cb, NULL, err, sizeof(err));
	ok(l != NULL, "listen on 127.0.0.1 port 0 (%s)", l ? "" : err);
	if (l == NULL)
		return done_testing();
	port = sb_listener_port(l);
	ok(port > 0, "the bound port is known (%d)", port);
	{
		char want[64];

		snprintf(want, sizeof(want), "127.0.0.1:%d", port);
		is_str(sb_listener_name(l), want, "listener name");
	}
	test_echo(port);
	test_coalesce(port);
	test_high_water(port);
	test_pause(port);
	test_unconsumed(port);
	test_close_in_callback(port);
	test_graceful(port);
	test_idle(port);
	test_errors(port);
	test_addresses();

	tls_ok = tls_setup_ctx() == 0;
	if (tls_ok) {
		test_starttls_split(port);
		test_starttls_proceed(port);
		test_direct_tls();
	} else {
		ok(1, "STARTTLS and direct TLS # SKIP lib/tls.c cannot make a context");
	}

	test_idle_memory(port, 0);
	l_direct = tls_ok ? sb_listener_new(loop, "127.0.0.1", 0, 0, server_ctx,
	    accept_cb, NULL, err, sizeof(err)) : NULL;
	if (l_direct != NULL)
		test_idle_memory(sb_listener_port(l_direct), 1);

	/* Shutdown with connections, listeners and a timer still open. */
	sb_timer_every(loop, 1000, guard_cb, NULL);
	sb_loop_shutdown(loop);
	ok(sb_loop_stopping(loop), "shutdown: the loop says it is stopping");
	ok(sb_conn_connect(loop, "127.0.0.1", port, 0, peer_handler, &pairs[0], err,
	    sizeof(err)) == NULL, "shutdown: no new connections (%s)", err);
	uv_run(loop, UV_RUN_DEFAULT);
	for (size_t i = 0; i < 4 * NPAIRS; i++) {
		closed += pairs[i].closed;
		reasons += strcmp(pairs[i].reason, "server shutting down") == 0;
	}
	is_int(closed, l_direct != NULL ? 3 * NPAIRS : 2 * NPAIRS, "shutdown: every connection got CLOSED");
	is_int(reasons, closed, "shutdown: with the reason 'server shutting down'");
	is_int(uv_loop_close(loop), 0, "uv_loop_close() returns 0 after sb_loop_shutdown()");
	for (size_t i = 0; i < 4 * NPAIRS; i++)
		peer_reset(&pairs[i]);
	tls_cleanup();
	return done_testing();
}
