/*
 * route.c: one route per (local domain, remote domain) pair. A route
 * knows the streams that can carry its stanzas, our outgoing stream and,
 * with XEP-0288, an incoming stream authenticated for the reverse pair,
 * and holds what cannot go yet:
 *
 *   - stanzas, in order, while no stream is ready: at most
 *     <queue/> stanzas and <queue-size/> bytes (arena sizes); one more is
 *     bounced at once with <resource-constraint/>
 *   - dialback verifications (dialback.c) waiting for the outgoing stream
 *
 * When the outgoing stream fails before it is ready, every queued stanza
 * is bounced to its sender with the stream's condition
 * (remote-server-not-found or remote-server-timeout) and a text saying
 * why; errors are never bounced (sb_stanza_bounce), they are dropped and
 * logged. A route with no stream, no queue and no verification is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>

#include "complink.h"
#include "jid.h"
#include "s2s.h"
#include "xmalloc.h"

struct qent {
	struct qent		*next;
	struct sb_arena		 arena;
	struct sb_xml_node	*st;
	size_t			 size;
};

struct route {
	struct sb_hmap_node	 hn;
	char			*key;		/* "local remote" */
	const char		*local;		/* in key */
	const char		*remote;	/* in key */
	char			*remote_ascii;	/* A-labels, for DNS and SNI */
	struct s2s_stream	*out;
	struct s2s_stream	*bidi;
	struct qent		*qhead, **qtail;
	size_t			 qlen, qbytes;
	struct s2s_verify	*verifies;
	int			 hold;		/* calls under way that use it: not freed */
};

const char *
route_local(const struct route *r)
{
	return r->local;
}

const char *
route_remote(const struct route *r)
{
	return r->remote;
}

const char *
route_remote_ascii(const struct route *r)
{
	return r->remote_ascii;
}

struct route *
route_from_node(struct sb_hmap_node *n)
{
	return SB_HMAP_ENTRY(n, struct route, hn);
}

struct s2s_verify **
route_verifies(struct route *r)
{
	return &r->verifies;
}

struct route *
route_get(struct s2s *s2s, const char *local, const char *remote, int make)
{
	size_t llen = strlen(local), rlen = strlen(remote);
	char key[2 * SB_JID_PART_BUFSIZE + 1];
	struct sb_hmap_node *n;
	struct route *r;
	char *ascii;

	if (llen + 1 + rlen >= sizeof(key))
		return NULL;
	memcpy(key, local, llen);
	key[llen] = ' ';
	memcpy(key + llen + 1, remote, rlen + 1);
	if ((n = sb_hmap_find(&s2s->routes, key, llen + 1 + rlen)) != NULL)
		return SB_HMAP_ENTRY(n, struct route, hn);
	if (!make)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->key = xstrdup(key);
	r->local = xstrndup(key, llen);
	r->remote = r->key + llen + 1;
	if (idn2_to_ascii_8z(remote, &ascii, IDN2_NONTRANSITIONAL) == IDN2_OK) {
		r->remote_ascii = xstrdup(ascii);
		idn2_free(ascii);
	} else {
		r->remote_ascii = xstrdup(remote);
	}
	r->qtail = &r->qhead;
	sb_hmap_insert(&s2s->routes, &r->hn, r->key, llen + 1 + rlen);
	return r;
}

static void
route_free(struct s2s *s2s, struct route *r)
{
	sb_hmap_remove(&s2s->routes, &r->hn);
	free((char *)r->local);
	free(r->key);
	free(r->remote_ascii);
	free(r);
}

/* Free the route when nothing needs it any more. */
static void
route_gc(struct s2s *s2s, struct route *r)
{
	if (r->hold == 0 && r->out == NULL && r->bidi == NULL && r->qhead == NULL && r->verifies == NULL)
		route_free(s2s, r);
}

static struct s2s_stream *
ready_stream(const struct route *r)
{
	if (r->out != NULL && r->out->state == SS_READY)
		return r->out;
	if (r->bidi != NULL && r->bidi->state != SS_CLOSING)
		return r->bidi;
	return NULL;
}

struct s2s_stream *
route_out(struct s2s *s2s, struct route *r)
{
	struct s2s_stream *st;

	if (r->out != NULL)
		return r->out;
	st = r->out = stream_new(s2s, 1);
	st->route = r;
	st->local = xstrdup(r->local);
	st->remote = xstrdup(r->remote);
	r->hold++;
	out_start(s2s, st);
	r->hold--;
	if (r->out != NULL)
		return r->out;
	/* It failed at once: what waited was bounced, and the route may be gone. */
	route_gc(s2s, r);
	return NULL;
}

/* --- bouncing --- */

void
s2s_bounce(struct s2s *s2s, struct sb_arena *a, struct sb_xml_node *st,
    enum sb_stanza_err cond, const char *text)
{
	const char *to = sb_xml_attr(st, "to"), *from = sb_xml_attr(st, "from");

	if (sb_stanza_bounce(a, st, cond, text) == -1) {
		log_info("dropped an error stanza from %s to %s: %s",
		    from != NULL ? from : "?", to != NULL ? to : "?", text);
		return;
	}
	s2s->n.bounced++;
	if (sb_complink_send(s2s->link, st) == -1)
		log_warn("bounce to %s lost: the router link queue is full",
		    from != NULL ? from : "?");
}

static void
bounce_queue(struct s2s *s2s, struct route *r, enum sb_stanza_err cond, const char *why)
{
	size_t n = r->qlen;

	while (r->qhead != NULL) {
		struct qent *q = r->qhead;

		r->qhead = q->next;
		s2s_bounce(s2s, &q->arena, q->st, cond, why);
		sb_arena_free(&q->arena);
		free(q);
	}
	r->qtail = &r->qhead;
	r->qlen = r->qbytes = 0;
	if (n > 0)
		log_info("route %s -> %s: %zu stanzas bounced (%s): %s", r->local, r->remote, n,
		    sb_stanza_err_name(cond), why);
}

/* --- sending --- */

void
route_send(struct s2s *s2s, const char *local, const char *remote, struct sb_arena *arena,
    struct sb_xml_node *st)
{
	const struct s2s_conf *conf = s2s->conf;
	struct s2s_stream *out;
	struct route *r;
	struct qent *q;
	char why[256];

	if (s2s_conf_policy(conf, remote) == S2S_POLICY_DENY) {
		snprintf(why, sizeof(why), "federation with %s is not allowed here", remote);
		s2s_bounce(s2s, arena, st, SB_SERR_REMOTE_SERVER_NOT_FOUND, why);
		sb_arena_free(arena);
		return;
	}
	if ((r = route_get(s2s, local, remote, 1)) == NULL) {
		s2s_bounce(s2s, arena, st, SB_SERR_REMOTE_SERVER_NOT_FOUND, "domain names too long");
		sb_arena_free(arena);
		return;
	}
	if ((out = ready_stream(r)) != NULL && r->qhead == NULL) {
		stream_send_stanza(out, st);
		sb_arena_free(arena);
		return;
	}
	if (r->qlen >= (size_t)conf->queue_stanzas ||
	    r->qbytes + sb_arena_size(arena) > conf->queue_bytes) {
		snprintf(why, sizeof(why), "too many stanzas waiting for %s", remote);
		s2s_bounce(s2s, arena, st, SB_SERR_RESOURCE_CONSTRAINT, why);
		sb_arena_free(arena);
		return;
	}
	q = xcalloc(1, sizeof(*q));
	q->arena = *arena;
	q->st = st;
	q->size = sb_arena_size(arena);
	*r->qtail = q;
	r->qtail = &q->next;
	r->qlen++;
	r->qbytes += q->size;
	if (r->out == NULL && r->bidi == NULL)
		route_out(s2s, r);
}

void
route_ready(struct s2s *s2s, struct route *r, struct s2s_stream *st)
{
	if (st->out) {
		r->out = st;
	} else if (r->bidi == NULL) {
		r->bidi = st;
		stream_log(st, SB_LOG_DEBUG, "carries stanzas to %s too (bidi)", r->remote);
	}
	while (r->qhead != NULL && st->state != SS_CLOSING) {
		struct qent *q = r->qhead;

		r->qhead = q->next;
		stream_send_stanza(st, q->st);
		sb_arena_free(&q->arena);
		free(q);
		r->qlen--;
	}
	if (r->qhead == NULL) {
		r->qtail = &r->qhead;
		r->qlen = r->qbytes = 0;
	}
}

void
route_failed(struct s2s *s2s, struct route *r, struct s2s_stream *st, enum sb_stanza_err cond,
    const char *why)
{
	struct s2s_stream *other;

	if (r->out == st)
		r->out = NULL;
	if (r->bidi == st)
		r->bidi = NULL;
	st->route = NULL;
	dialback_route_failed(s2s, r);
	if ((other = ready_stream(r)) != NULL)
		route_ready(s2s, r, other);
	else
		bounce_queue(s2s, r, cond, why != NULL && *why != '\0' ? why :
		    "the remote server cannot be reached");
	route_gc(s2s, r);
}

void
route_detach(struct s2s *s2s, struct route *r, struct s2s_stream *st)
{
	if (r->out == st) {
		r->out = NULL;
		st->route = NULL;
	}
	if (r->bidi == st)
		r->bidi = NULL;
	/* Something still waits: a new stream for it. */
	if ((r->qhead != NULL || r->verifies != NULL) && ready_stream(r) == NULL &&
	    r->out == NULL && !s2s->stopping) {
		route_out(s2s, r);	/* frees the route itself when it fails */
		return;
	}
	route_gc(s2s, r);
}

static int
free_one(struct sb_hmap_node *n, void *arg)
{
	struct s2s *s2s = arg;
	struct route *r = SB_HMAP_ENTRY(n, struct route, hn);

	bounce_queue(s2s, r, SB_SERR_REMOTE_SERVER_TIMEOUT, "the server is shutting down");
	while (r->verifies != NULL) {
		struct s2s_verify *v = r->verifies;

		r->verifies = v->next;
		free(v->key);
		free(v);
	}
	if (r->out != NULL)
		r->out->route = NULL;
	route_free(s2s, r);
	return 0;
}

void
routes_free(struct s2s *s2s)
{
	sb_hmap_each(&s2s->routes, free_one, s2s);
}
