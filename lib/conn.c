/*
 * conn.c: connections over libuv (see conn.h for the contract).
 *
 * Per loop there is one small state: a 64 KiB read buffer shared by every
 * connection (read callbacks consume it synchronously) and the count of
 * connections that shutdown waits for. A connection written to posts its
 * flush (timer.h), so everything written in one loop iteration leaves in
 * one uv_write. Idle, connect and close timeouts are deadlines (timer.h):
 * O(1) to push back on every read, and no uv_timer_t per connection.
 *
 * A connection is OPEN, CONNECTING, FLUSHING (closing gracefully: input is
 * discarded, the queue drains, then FIN, then the peer's EOF or the bound)
 * or CLOSING (uv_close() called). Events are never delivered from inside a
 * call into this layer, only from libuv callbacks, so a handler may close
 * or write to any connection, its own included.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "buf.h"
#include "conn.h"
#include "signals.h"
#include "timer.h"
#include "tls.h"
#include "xmalloc.h"

#define READ_BUF_SIZE	(64 * 1024)
/* A peer that sent EOF gets this long to take what is still queued. */
#define EOF_FLUSH_MS	5000
/* Buffers above this are released after a write rather than reused. */
#define KEEP_BUF_MAX	(64 * 1024)

enum conn_state {
	ST_CONNECTING,
	ST_OPEN,
	ST_FLUSHING,
	ST_CLOSING,
};

/* The write queue: allocated while it holds bytes, freed when drained. */
struct wqueue {
	uv_write_t	 req;
	struct sb_buf	 plain;		/* TLS: plaintext waiting for encryption */
	struct sb_buf	 out;		/* wire bytes not yet given to libuv */
	struct sb_buf	 inflight;	/* wire bytes of the running uv_write */
	int		 writing;
};

struct sb_conn {
	uv_tcp_t	 tcp;		/* first: a handle pointer is the conn */
	sb_conn_handler	*handler;
	void		*udata;
	struct sb_tls	*tls;
	struct wqueue	*wq;
	struct sb_buf	*pending;	/* input the handler left, when any */
	char		*reason;	/* why it closed, for CLOSED */
	struct sb_deadline dl;		/* idle, connect or close timeout */
	uint32_t	 low, high;	/* write queue watermarks */
	uint32_t	 idle_ms;	/* TIMEOUT after this; 0 none */
	struct sb_post	 post;		/* flush and kick before the next poll */
	uint8_t		 state;
	unsigned	 reading:1, paused:1, above_high:1, tls_ready:1,
			 tls_switch:1, in_deliver:1, kick:1, eof:1, linger:1,
			 shut:1, bye:1;
	char		 peer[SB_ADDR_STRLEN];
};

struct loop_state {
	struct loop_state *next;
	uv_loop_t	*loop;
	char		*rbuf;
	int		 rbuf_busy;
	struct sb_buf	 plain;		/* decrypted input on its way to a handler */
	size_t		 nconns;
	int		 stopping;
};

static struct loop_state *states;
static struct sb_conn_stats stats;
/* uv handle data of our connections: tells them apart in uv_walk(). */
static const char conn_tag;

static void	 flush(struct sb_conn *);
static void	 close_now(struct sb_conn *, const char *);
static void	 conn_error(struct sb_conn *, const char *, ...)
		     __attribute__((format(printf, 2, 3)));
static void	 tls_input(struct sb_conn *);
static void	 begin_flush(struct sb_conn *, unsigned, int, const char *);

static void
emit(struct sb_conn *c, struct sb_conn_ev *ev)
{
	if (c->handler != NULL)
		c->handler(c, ev, c->udata);
}

/* --- per-loop state --- */

static struct loop_state *
state_find(const uv_loop_t *loop)
{
	struct loop_state *st;

	for (st = states; st != NULL; st = st->next)
		if (st->loop == loop)
			return st;
	return NULL;
}

static struct loop_state *
state_get(uv_loop_t *loop)
{
	struct loop_state *st = state_find(loop);

	if (st != NULL)
		return st;
	/* libuv writes with write(2): a peer's reset must not kill us. */
	sb_signals_ignore_sigpipe();
	st = xcalloc(1, sizeof(*st));
	st->loop = loop;
	st->next = states;
	states = st;
	return st;
}

static struct loop_state *
conn_st(const struct sb_conn *c)
{
	return state_find(c->tcp.loop);
}

static void
state_free(struct loop_state *st)
{
	struct loop_state **pp;

	for (pp = &states; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	}
	free(st->rbuf);
	sb_buf_free(&st->plain);
	free(st);
}

/* The last connection is gone: close what connections could still use. */
static void
phase2(struct loop_state *st)
{
	sb_timer_close_all(st->loop);
	sb_signals_close_all(st->loop);
	state_free(st);
}

/* --- posted work: input kept for later, and the write flush --- */

static void	 input_again(struct sb_conn *);

static void
service(struct sb_post *p)
{
	struct sb_conn *c = (struct sb_conn *)((char *)p - offsetof(struct sb_conn, post));

	if (c->kick) {
		c->kick = 0;
		input_again(c);
	}
	flush(c);
}

/* Flush (and kick) c just before the loop polls again. */
static void
schedule(struct sb_conn *c)
{
	if (c->state != ST_CLOSING)
		sb_post(c->tcp.loop, &c->post, service);
}

/* --- timeouts: idle, connect and close, one deadline per connection --- */

static void	 expire(struct sb_deadline *);

/* Start (or with 0 stop) the connection's deadline ms from now. */
static void
deadline(struct sb_conn *c, uint32_t ms)
{
	if (ms == 0 || c->state == ST_CLOSING)
		sb_deadline_stop(c->tcp.loop, &c->dl);
	else
		sb_deadline_start(c->tcp.loop, &c->dl, ms, expire);
}

static void
expire(struct sb_deadline *d)
{
	struct sb_conn *c = (struct sb_conn *)((char *)d - offsetof(struct sb_conn, dl));
	struct sb_conn_ev ev = { .type = SB_CONN_TIMEOUT };

	switch (c->state) {
	case ST_CONNECTING:
		conn_error(c, "connect %s: timed out", c->peer);
		break;
	case ST_OPEN:
		deadline(c, c->idle_ms);	/* again after another period */
		emit(c, &ev);
		break;
	case ST_FLUSHING:
		close_now(c, "timed out while closing");
		break;
	}
}

/* --- creating and freeing --- */

static struct sb_conn *
conn_new(uv_loop_t *loop)
{
	struct loop_state *st = state_get(loop);
	struct sb_conn *c = xcalloc(1, sizeof(*c));

	uv_tcp_init(loop, &c->tcp);
	c->tcp.data = (void *)&conn_tag;
	c->low = SB_CONN_LOW_WATER;
	c->high = SB_CONN_HIGH_WATER;
	snprintf(c->peer, sizeof(c->peer), "?");
	st->nconns++;
	stats.conns++;
	return c;
}

static void
wq_free(struct wqueue *wq)
{
	sb_buf_free(&wq->plain);
	sb_buf_free(&wq->out);
	sb_buf_free(&wq->inflight);
	free(wq);
}

static void
pending_drop(struct sb_conn *c)
{
	if (c->pending == NULL)
		return;
	sb_buf_free(c->pending);
	free(c->pending);
	c->pending = NULL;
}

static void
on_close(uv_handle_t *h)
{
	struct sb_conn *c = (struct sb_conn *)h;
	struct loop_state *st = conn_st(c);
	struct sb_conn_ev ev = { .type = SB_CONN_CLOSED, .error = c->reason };

	emit(c, &ev);
	if (c->tls != NULL)
		sb_tls_free(c->tls);
	if (c->wq != NULL)
		wq_free(c->wq);
	pending_drop(c);
	free(c->reason);
	free(c);
	if (--st->nconns == 0 && st->stopping)
		phase2(st);
}

static void
set_reason(struct sb_conn *c, const char *reason)
{
	if (reason != NULL && c->reason == NULL)
		c->reason = xstrdup(reason);
}

/* --- writing --- */

static struct wqueue *
wq_get(struct sb_conn *c)
{
	if (c->wq == NULL)
		c->wq = xcalloc(1, sizeof(*c->wq));
	return c->wq;
}

size_t
sb_conn_queued(const struct sb_conn *c)
{
	size_t n = 0;

	/* Of the running write, only what the kernel has not taken counts. */
	if (c->wq != NULL)
		n = c->wq->plain.len + c->wq->out.len + c->tcp.write_queue_size;
	if (c->tls != NULL)
		n += sb_buf_len(sb_tls_output(c->tls));
	return n;
}

/* Encrypt queued plaintext and move TLS output to the wire queue. */
static int
tls_encrypt(struct sb_conn *c)
{
	struct wqueue *wq = c->wq;
	struct sb_buf *o, tmp;

	if (wq != NULL && wq->plain.len > 0 && c->tls_ready) {
		if (sb_tls_write(c->tls, sb_buf_data(&wq->plain), wq->plain.len) == SB_TLS_ERROR) {
			conn_error(c, "%s", sb_tls_error(c->tls));
			return -1;
		}
		sb_buf_free(&wq->plain);
	}
	if (c->state == ST_FLUSHING && c->tls_ready && !c->bye) {
		c->bye = 1;
		sb_tls_bye(c->tls);
	}
	o = sb_tls_output(c->tls);
	if (o->len == 0)
		return 0;
	wq = wq_get(c);
	if (wq->out.len == 0) {
		/* Take the ciphertext buffer instead of copying it. */
		tmp = wq->out;
		wq->out = *o;
		*o = tmp;
	} else {
		sb_buf_append(&wq->out, sb_buf_data(o), o->len);
	}
	sb_buf_free(o);
	return 0;
}

static void
wq_release_if_empty(struct sb_conn *c)
{
	struct wqueue *wq = c->wq;

	if (wq != NULL && !wq->writing && wq->plain.len == 0 &&
	    wq->out.len == 0 && wq->inflight.len == 0) {
		wq_free(wq);
		c->wq = NULL;
	}
}

static void	 flush_done(struct sb_conn *);

static void
on_write(uv_write_t *req, int status)
{
	struct sb_conn *c = (struct sb_conn *)req->handle;
	struct wqueue *wq = (struct wqueue *)req;
	struct sb_conn_ev ev = { .type = SB_CONN_WRITABLE };

	wq->writing = 0;
	if (c->state == ST_CLOSING)
		return;		/* cancelled; on_close frees the queue */
	if (status < 0) {
		conn_error(c, "write: %s", uv_strerror(status));
		return;
	}
	if (wq->inflight.cap > KEEP_BUF_MAX)
		sb_buf_free(&wq->inflight);
	else
		sb_buf_clear(&wq->inflight);
	flush(c);
	if (c->state == ST_OPEN && c->above_high && sb_conn_queued(c) <= c->low) {
		c->above_high = 0;
		emit(c, &ev);
	}
}

/* Hand the queue to libuv: one uv_write for everything written so far. */
static void
flush(struct sb_conn *c)
{
	struct wqueue *wq;
	struct sb_buf tmp;
	uv_buf_t b;
	int r;

	if (c->state == ST_CONNECTING || c->state == ST_CLOSING)
		return;
	if (c->tls != NULL && tls_encrypt(c) == -1)
		return;
	wq = c->wq;
	if (wq != NULL && !wq->writing && wq->out.len > 0) {
		tmp = wq->inflight;
		wq->inflight = wq->out;
		wq->out = tmp;
		b = uv_buf_init(sb_buf_data(&wq->inflight), (unsigned)wq->inflight.len);
		stats.uv_writes++;
		r = uv_write(&wq->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
		if (r < 0) {
			conn_error(c, "write: %s", uv_strerror(r));
			return;
		}
		wq->writing = 1;
		return;
	}
	wq_release_if_empty(c);
	if (c->wq == NULL && c->state == ST_FLUSHING)
		flush_done(c);
}

int
sb_conn_write(struct sb_conn *c, const void *data, size_t len)
{
	struct wqueue *wq;

	if (c->state == ST_FLUSHING || c->state == ST_CLOSING)
		return 1;
	if (len == 0)
		return sb_conn_queued(c) > c->high;
	wq = wq_get(c);
	sb_buf_append(c->tls != NULL ? &wq->plain : &wq->out, data, len);
	schedule(c);
	if (sb_conn_queued(c) > c->high) {
		c->above_high = 1;
		return 1;
	}
	return 0;
}

void
sb_conn_set_watermarks(struct sb_conn *c, size_t low, size_t high)
{
	c->high = high > UINT32_MAX ? UINT32_MAX : (uint32_t)high;
	c->low = low > c->high ? c->high : (uint32_t)low;
}

/* --- reading --- */

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct loop_state *st = conn_st((struct sb_conn *)h);

	/* Reads are never nested, so the shared buffer is always free here. */
	if (!st->rbuf_busy) {
		if (st->rbuf == NULL)
			st->rbuf = xmalloc(READ_BUF_SIZE);
		st->rbuf_busy = 1;
		*buf = uv_buf_init(st->rbuf, READ_BUF_SIZE);
	} else {
		*buf = uv_buf_init(xmalloc(READ_BUF_SIZE), READ_BUF_SIZE);
	}
}

static void
stash(struct sb_conn *c, const char *data, size_t len)
{
	if (len == 0)
		return;
	if (c->pending == NULL)
		c->pending = xcalloc(1, sizeof(*c->pending));
	sb_buf_append(c->pending, data, len);
}

/*
 * Give plaintext to the handler, after what it left last time. Its
 * ev->used says where it stopped; the rest goes to TLS when it switched,
 * waits when it paused or took nothing, and is offered again otherwise.
 */
static void
deliver(struct sb_conn *c, const char *data, size_t len)
{
	struct sb_conn_ev ev;
	int from_pending = c->pending != NULL;
	size_t used;

	if (from_pending)
		sb_buf_append(c->pending, data, len);
	c->in_deliver = 1;
	for (;;) {
		if (from_pending) {
			data = sb_buf_data(c->pending);
			len = sb_buf_len(c->pending);
		}
		if (len == 0 || c->paused || c->state != ST_OPEN)
			break;
		ev = (struct sb_conn_ev){ SB_CONN_DATA, data, len, len, NULL };
		emit(c, &ev);
		used = ev.used < len ? ev.used : len;
		if (from_pending)
			sb_buf_consume(c->pending, used);
		data += used;
		len -= used;
		if (c->state != ST_OPEN)
			break;
		if (c->tls_switch) {
			c->tls_switch = 0;
			if (from_pending)
				sb_tls_feed(c->tls, sb_buf_data(c->pending), c->pending->len);
			else if (len > 0)
				sb_tls_feed(c->tls, data, len);
			pending_drop(c);
			from_pending = 0;
			len = 0;
			break;
		}
		if (used == 0)
			break;
	}
	c->in_deliver = 0;
	if (c->state != ST_OPEN) {
		pending_drop(c);
		return;
	}
	if (!from_pending)
		stash(c, data, len);
	if (c->pending != NULL && c->pending->len == 0)
		pending_drop(c);
	else if (c->pending != NULL && c->pending->len > SB_CONN_MAX_PENDING)
		conn_error(c, "more than %d bytes of input left unconsumed",
		    SB_CONN_MAX_PENDING);
}

static void
tls_input(struct sb_conn *c)
{
	struct loop_state *st = conn_st(c);
	struct sb_conn_ev ev = { .type = SB_CONN_TLS_READY };
	struct sb_buf plain;
	int r;

	if (!c->tls_ready) {
		r = sb_tls_handshake(c->tls);
		schedule(c);		/* handshake output, if any */
		if (r == SB_TLS_ERROR) {
			conn_error(c, "%s", sb_tls_error(c->tls));
			return;
		}
		if (r == SB_TLS_CLOSED)
			close_now(c, "TLS closed by peer");
		if (r != SB_TLS_OK)
			return;
		c->tls_ready = 1;
		emit(c, &ev);
		if (c->state != ST_OPEN)
			return;
	}
	if (c->paused)
		return;		/* ciphertext waits inside the session */
	/* Borrow the loop's buffer; a nested use would find it empty. */
	plain = st->plain;
	st->plain = (struct sb_buf)SB_BUF_INIT;
	r = sb_tls_read(c->tls, &plain);
	if (plain.len > 0)
		deliver(c, sb_buf_data(&plain), plain.len);
	sb_buf_clear(&plain);
	if (st->plain.base == NULL && plain.cap <= KEEP_BUF_MAX)
		st->plain = plain;
	else
		sb_buf_free(&plain);
	if (c->state != ST_OPEN)
		return;
	if (sb_buf_len(sb_tls_output(c->tls)) > 0)
		schedule(c);
	if (r == SB_TLS_CLOSED)		/* close_notify: like EOF */
		begin_flush(c, EOF_FLUSH_MS, 0, "TLS closed by peer");
	else if (r == SB_TLS_ERROR)
		conn_error(c, "%s", sb_tls_error(c->tls));
}

static void	 peer_closed(struct sb_conn *);

static void
on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct sb_conn *c = (struct sb_conn *)s;
	struct loop_state *st = conn_st(c);

	if (n > 0 && c->state == ST_OPEN) {
		stats.reads++;
		sb_deadline_touch(c->tcp.loop, &c->dl);
		if (c->tls != NULL) {
			sb_tls_feed(c->tls, buf->base, (size_t)n);
			tls_input(c);
		} else {
			deliver(c, buf->base, (size_t)n);
			if (c->tls != NULL && c->state == ST_OPEN)
				tls_input(c);	/* switched inside this read */
		}
	} else if (n == UV_EOF) {
		peer_closed(c);
	} else if (n < 0 && c->state == ST_OPEN) {
		conn_error(c, "read: %s", uv_strerror((int)n));
	} else if (n < 0) {
		close_now(c, NULL);
	}
	if (buf->base == st->rbuf)
		st->rbuf_busy = 0;
	else
		free(buf->base);
}

static void
read_start(struct sb_conn *c)
{
	if (c->reading || c->eof || c->state == ST_CONNECTING || c->state == ST_CLOSING)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) == 0)
		c->reading = 1;
}

static void
read_stop(struct sb_conn *c)
{
	if (!c->reading)
		return;
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = 0;
}

/* Deliver what waited while paused, or drive TLS after starttls/connect. */
static void
input_again(struct sb_conn *c)
{
	if (c->state != ST_OPEN)
		return;
	if (c->pending != NULL && !c->paused)
		deliver(c, NULL, 0);
	if (c->tls != NULL && c->state == ST_OPEN)
		tls_input(c);
}

void
sb_conn_pause_read(struct sb_conn *c)
{
	if (c->state == ST_FLUSHING || c->state == ST_CLOSING)
		return;		/* closing connections read until EOF */
	c->paused = 1;
	read_stop(c);
	if (c->state == ST_OPEN)
		deadline(c, 0);
}

void
sb_conn_resume_read(struct sb_conn *c)
{
	if (!c->paused)
		return;
	c->paused = 0;
	if (c->state != ST_OPEN)
		return;
	read_start(c);
	deadline(c, c->idle_ms);
	if (c->pending != NULL || c->tls != NULL) {
		c->kick = 1;
		schedule(c);
	}
}

/* --- closing --- */

/* One non-blocking attempt at what is queued, close_notify included. */
static void
send_last(struct sb_conn *c)
{
	struct wqueue *wq;
	struct sb_buf *o;
	uv_buf_t b;

	if (c->tls != NULL) {
		wq = c->wq;
		if (c->tls_ready && wq != NULL && wq->plain.len > 0)
			sb_tls_write(c->tls, sb_buf_data(&wq->plain), wq->plain.len);
		if (c->tls_ready && !c->bye) {
			c->bye = 1;
			sb_tls_bye(c->tls);
		}
		o = sb_tls_output(c->tls);
		if (o->len > 0)
			sb_buf_append(&wq_get(c)->out, sb_buf_data(o), o->len);
	}
	wq = c->wq;
	if (wq == NULL || wq->writing || wq->out.len == 0)
		return;
	b = uv_buf_init(sb_buf_data(&wq->out), (unsigned)wq->out.len);
	(void)uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
}

static void
close_now(struct sb_conn *c, const char *reason)
{
	if (c->state == ST_CLOSING)
		return;
	set_reason(c, reason);
	if (c->state != ST_CONNECTING)
		send_last(c);
	c->state = ST_CLOSING;
	c->reading = 0;
	sb_deadline_stop(c->tcp.loop, &c->dl);
	sb_post_cancel(c->tcp.loop, &c->post);
	uv_close((uv_handle_t *)&c->tcp, on_close);
}

static void
conn_error(struct sb_conn *c, const char *fmt, ...)
{
	struct sb_conn_ev ev = { .type = SB_CONN_ERROR };
	char msg[256];
	va_list ap;

	if (c->state == ST_CLOSING)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_reason(c, msg);
	if (c->state == ST_OPEN || c->state == ST_CONNECTING) {
		ev.error = msg;
		emit(c, &ev);
	}
	close_now(c, msg);
}

static void
on_shutdown(uv_shutdown_t *req, int status)
{
	struct sb_conn *c = (struct sb_conn *)req->handle;

	free(req);
	if (status < 0 && status != UV_ECANCELED)
		close_now(c, NULL);
}

/* The queue is empty on a closing connection: FIN, then wait for EOF. */
static void
flush_done(struct sb_conn *c)
{
	uv_shutdown_t *req;

	if (c->eof || !c->linger) {
		close_now(c, NULL);
		return;
	}
	if (c->shut)
		return;
	c->shut = 1;
	req = xmalloc(sizeof(*req));
	if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
		free(req);
		close_now(c, NULL);
	}
}

static void
begin_flush(struct sb_conn *c, unsigned ms, int linger, const char *reason)
{
	if (c->state == ST_CONNECTING) {
		close_now(c, reason);
		return;
	}
	if (c->state != ST_OPEN)
		return;
	set_reason(c, reason);
	c->state = ST_FLUSHING;
	c->linger = linger ? 1 : 0;
	c->kick = 0;
	if (!c->in_deliver)
		pending_drop(c);	/* else deliver() may be reading it */
	if (c->tls != NULL && !c->tls_ready && c->wq != NULL)
		sb_buf_free(&c->wq->plain);	/* can never be encrypted */
	read_start(c);		/* input is discarded, but EOF must be seen */
	deadline(c, ms ? ms : SB_CONN_SHUTDOWN_FLUSH_MS);
	schedule(c);		/* flush from the loop, after this callback */
}

static void
peer_closed(struct sb_conn *c)
{
	c->eof = 1;
	read_stop(c);
	if (c->state == ST_OPEN)
		begin_flush(c, EOF_FLUSH_MS, 0, "connection closed by peer");
	else if (c->state == ST_FLUSHING)
		schedule(c);		/* flush() closes once the queue is out */
	else if (c->state == ST_CONNECTING)
		close_now(c, "connection closed by peer");
}

void
sb_conn_close(struct sb_conn *c)
{
	close_now(c, NULL);
}

void
sb_conn_close_after_flush(struct sb_conn *c, unsigned timeout_ms)
{
	begin_flush(c, timeout_ms, 1, NULL);
}

/* --- TLS --- */

int
sb_conn_starttls(struct sb_conn *c, struct sb_tls_ctx *ctx, const char *server_name)
{
	if (c->tls != NULL || (c->state != ST_OPEN && c->state != ST_CONNECTING))
		return -1;
	if ((c->tls = sb_tls_new(ctx, server_name)) == NULL)
		return -1;
	if (c->in_deliver) {
		c->tls_switch = 1;	/* deliver() feeds the rest of the read */
	} else if (c->pending != NULL) {
		sb_tls_feed(c->tls, sb_buf_data(c->pending), c->pending->len);
		pending_drop(c);
	}
	c->kick = 1;			/* drive the handshake from the loop */
	schedule(c);
	return 0;
}

struct sb_tls *
sb_conn_tls(const struct sb_conn *c)
{
	return c->tls;
}

int
sb_conn_tls_ready(const struct sb_conn *c)
{
	return c->tls_ready;
}

/* --- setup and accessors --- */

void
sb_conn_set_handler(struct sb_conn *c, sb_conn_handler *handler, void *udata)
{
	c->handler = handler;
	c->udata = udata;
	if (c->state == ST_OPEN && !c->paused)
		read_start(c);
}

void *
sb_conn_udata(const struct sb_conn *c)
{
	return c->udata;
}

void
sb_conn_set_timeout(struct sb_conn *c, unsigned ms)
{
	c->idle_ms = ms;
	if (c->state == ST_OPEN && !c->paused)
		deadline(c, ms);
}

int
sb_conn_set_socket_buffers(struct sb_conn *c, int sndbuf, int rcvbuf)
{
	int r = 0;

	if (sndbuf > 0 && uv_send_buffer_size((uv_handle_t *)&c->tcp, &sndbuf) < 0)
		r = -1;
	if (rcvbuf > 0 && uv_recv_buffer_size((uv_handle_t *)&c->tcp, &rcvbuf) < 0)
		r = -1;
	return r;
}

const char *
sb_conn_peer(const struct sb_conn *c)
{
	return c->peer;
}

/* Close a connection nobody has seen: no events at all. */
static void
close_quiet(struct sb_conn *c)
{
	c->handler = NULL;
	close_now(c, NULL);
}

struct sb_conn *
sb_conn_accept(uv_stream_t *server, struct sb_tls_ctx *tls, char *err, size_t errlen)
{
	struct sb_conn *c = conn_new(server->loop);
	struct sockaddr_storage ss;
	int r, sslen = sizeof(ss);

	c->state = ST_OPEN;
	if ((r = uv_accept(server, (uv_stream_t *)&c->tcp)) < 0) {
		snprintf(err, errlen, "accept: %s", uv_strerror(r));
		close_quiet(c);
		return NULL;
	}
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0)
		sb_addr_format((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	if (sb_loop_stopping(server->loop)) {
		snprintf(err, errlen, "accept %s: shutting down", c->peer);
		close_quiet(c);
		return NULL;
	}
	uv_tcp_nodelay(&c->tcp, 1);
	if (tls != NULL && (c->tls = sb_tls_new(tls, NULL)) == NULL) {
		snprintf(err, errlen, "accept %s: cannot start TLS", c->peer);
		close_quiet(c);
		return NULL;
	}
	return c;
}

static void
on_connect(uv_connect_t *req, int status)
{
	struct sb_conn *c = (struct sb_conn *)req->handle;
	struct sb_conn_ev ev = { .type = SB_CONN_CONNECTED };

	free(req);
	if (c->state != ST_CONNECTING)
		return;		/* closed meanwhile (status is ECANCELED) */
	if (status < 0) {
		conn_error(c, "connect %s: %s", c->peer, uv_strerror(status));
		return;
	}
	c->state = ST_OPEN;
	uv_tcp_nodelay(&c->tcp, 1);
	deadline(c, c->paused ? 0 : c->idle_ms);
	if (!c->paused)
		read_start(c);
	emit(c, &ev);
	if (c->state != ST_OPEN)
		return;
	c->kick = 1;		/* TLS started before connecting, queued writes */
	schedule(c);
}

/* A socket bound to src (port 0, chosen at connect time), opened in c's handle. */
static int
bind_source(struct sb_conn *c, const struct sockaddr_storage *src)
{
	socklen_t len = src->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
	    sizeof(struct sockaddr_in);
	int fd, one = 1, r;

	if ((fd = socket(src->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return uv_translate_sys_error(errno);
	/* Best effort: without it the port is chosen at bind time, per source. */
	(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)src, len) == -1) {
		r = uv_translate_sys_error(errno);
		close(fd);
		return r;
	}
	if ((r = uv_tcp_open(&c->tcp, fd)) < 0)
		close(fd);
	return r;
}

struct sb_conn *
sb_conn_connect(uv_loop_t *loop, const char *ip, int port, unsigned timeout_ms,
    sb_conn_handler *handler, void *udata, char *err, size_t errlen)
{
	return sb_conn_connect_from(loop, NULL, ip, port, timeout_ms, handler, udata, err,
	    errlen);
}

struct sb_conn *
sb_conn_connect_from(uv_loop_t *loop, const char *source, const char *ip, int port,
    unsigned timeout_ms, sb_conn_handler *handler, void *udata, char *err, size_t errlen)
{
	struct sockaddr_storage ss, src;
	struct sb_conn *c;
	uv_connect_t *req;
	int r;

	if (sb_addr_parse(ip, port, &ss) == -1) {
		snprintf(err, errlen, "connect %s port %d: not a numeric address", ip, port);
		return NULL;
	}
	if (source != NULL && (sb_addr_parse(source, 0, &src) == -1 ||
	    src.ss_family != ss.ss_family)) {
		snprintf(err, errlen, "connect %s port %d: source %s is not a numeric address "
		    "of the same family", ip, port, source);
		return NULL;
	}
	if (sb_loop_stopping(loop)) {
		snprintf(err, errlen, "connect %s port %d: shutting down", ip, port);
		return NULL;
	}
	c = conn_new(loop);
	c->state = ST_CONNECTING;
	sb_addr_format((struct sockaddr *)&ss, c->peer, sizeof(c->peer));
	if (source != NULL && (r = bind_source(c, &src)) < 0) {
		snprintf(err, errlen, "connect %s from %s: %s", c->peer, source, uv_strerror(r));
		close_quiet(c);
		return NULL;
	}
	req = xmalloc(sizeof(*req));
	if ((r = uv_tcp_connect(req, &c->tcp, (struct sockaddr *)&ss, on_connect)) < 0) {
		free(req);
		snprintf(err, errlen, "connect %s: %s", c->peer, uv_strerror(r));
		close_quiet(c);
		return NULL;
	}
	c->handler = handler;
	c->udata = udata;
	deadline(c, timeout_ms);
	return c;
}

/* --- the loop --- */

int
sb_loop_stopping(uv_loop_t *loop)
{
	struct loop_state *st = state_find(loop);

	return st != NULL && st->stopping;
}

static void
shutdown_walk(uv_handle_t *h, void *arg)
{
	struct sb_conn *c = (struct sb_conn *)h;

	if (h->data != &conn_tag || uv_is_closing(h))
		return;
	if (c->state == ST_FLUSHING) {
		c->linger = 0;	/* do not wait for the peer's EOF any more */
		schedule(c);
	} else {
		begin_flush(c, SB_CONN_SHUTDOWN_FLUSH_MS, 0, "server shutting down");
	}
}

void
sb_loop_shutdown(uv_loop_t *loop)
{
	struct loop_state *st = state_get(loop);

	st->stopping = 1;
	sb_listener_close_all(loop);
	uv_walk(loop, shutdown_walk, NULL);
	if (st->nconns == 0)
		phase2(st);
}

const struct sb_conn_stats *
sb_conn_stats(void)
{
	return &stats;
}

size_t
sb_conn_size(void)
{
	return sizeof(struct sb_conn);
}
