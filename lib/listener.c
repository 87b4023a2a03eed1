/*
 * listener.c: listening sockets, and the numeric address helpers that
 * listeners and outgoing connections share (see conn.h).
 *
 * A listener accepts with sb_conn_accept() and hands the new connection to
 * its accept callback, which sets the connection's handler. Accept errors
 * (EMFILE, ...) are logged and the listener keeps going: libuv retries.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "tls.h"
#include "xmalloc.h"

#define DEFAULT_BACKLOG	511

struct sb_listener {
	uv_tcp_t		 tcp;	/* first: a handle pointer is the listener */
	sb_accept_cb		*cb;
	void			*arg;
	struct sb_tls_ctx	*tls;
	int			 port;
	char			 name[SB_ADDR_STRLEN];
};

/* uv handle data of our listeners: tells them apart in uv_walk(). */
static const char listener_tag;

int
sb_addr_parse(const char *ip, int port, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (ip == NULL || port < 0 || port > 65535)
		return -1;
	if (uv_ip4_addr(ip, port, (struct sockaddr_in *)ss) == 0)
		return 0;
	if (uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss) == 0)
		return 0;
	return -1;
}

const char *
sb_addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%d", ip, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d. */
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip, sizeof(ip));
		snprintf(buf, len, "%s:%d", ip, ntohs(sin6->sin6_port));
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%d", ip, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "?");
	}
	return buf;
}

static void
on_connection(uv_stream_t *server, int status)
{
	struct sb_listener *l = (struct sb_listener *)server;
	struct sb_conn *c;
	char err[256];

	if (status < 0) {
		log_warn("accept on %s: %s", l->name, uv_strerror(status));
		return;
	}
	if ((c = sb_conn_accept(server, l->tls, err, sizeof(err))) == NULL) {
		log_warn("on %s: %s", l->name, err);
		return;
	}
	l->cb(l, c, l->arg);
}

static void
on_listener_close(uv_handle_t *h)
{
	struct sb_listener *l = (struct sb_listener *)h;

	if (l->tls != NULL)
		sb_tls_ctx_unref(l->tls);
	free(l);
}

static void
name_of(char *buf, size_t len, const char *addr, int port)
{
	if (strchr(addr, ':') != NULL)
		snprintf(buf, len, "[%s]:%d", addr, port);
	else
		snprintf(buf, len, "%s:%d", addr, port);
}

/* Bind and listen one socket; the listener is closed again on failure. */
static struct sb_listener *
try_listen(uv_loop_t *loop, const struct sockaddr *sa, unsigned flags,
    int backlog, int *error)
{
	struct sb_listener *l = xcalloc(1, sizeof(*l));
	int r;

	uv_tcp_init(loop, &l->tcp);
	l->tcp.data = (void *)&listener_tag;
	/* libuv reports EADDRINUSE from bind() only at listen(). */
	if ((r = uv_tcp_bind(&l->tcp, sa, flags)) == 0)
		r = uv_listen((uv_stream_t *)&l->tcp, backlog, on_connection);
	if (r < 0) {
		*error = r;
		uv_close((uv_handle_t *)&l->tcp, on_listener_close);
		return NULL;
	}
	return l;
}

struct sb_listener *
sb_listener_new(uv_loop_t *loop, const char *addr, int port, int backlog,
    struct sb_tls_ctx *tls, sb_accept_cb *cb, void *arg, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sb_listener *l;
	char name[SB_ADDR_STRLEN];
	int r = 0, any = strcmp(addr, "*") == 0, sslen = sizeof(ss);

	name_of(name, sizeof(name), addr, port);
	if (backlog <= 0)
		backlog = DEFAULT_BACKLOG;
	if (sb_loop_stopping(loop)) {
		snprintf(err, errlen, "listen %s: shutting down", name);
		return NULL;
	}
	if (sb_addr_parse(any ? "::" : addr, port, &ss) == -1) {
		snprintf(err, errlen, "listen %s: not a numeric address", name);
		return NULL;
	}
	l = try_listen(loop, (struct sockaddr *)&ss,
	    any ? 0 : ss.ss_family == AF_INET6 ? UV_TCP_IPV6ONLY : 0, backlog, &r);
	if (l == NULL && any && r == UV_EAFNOSUPPORT) {
		/* No IPv6 on this host: every address means every IPv4 one. */
		sb_addr_parse("0.0.0.0", port, &ss);
		l = try_listen(loop, (struct sockaddr *)&ss, 0, backlog, &r);
	}
	if (l == NULL) {
		snprintf(err, errlen, "listen %s: %s", name, uv_strerror(r));
		return NULL;
	}
	l->cb = cb;
	l->arg = arg;
	if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&ss, &sslen) == 0)
		l->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	name_of(l->name, sizeof(l->name), addr, l->port);
	if (tls != NULL) {
		sb_tls_ctx_ref(tls);
		l->tls = tls;
	}
	return l;
}

int
sb_listener_port(const struct sb_listener *l)
{
	return l->port;
}

const char *
sb_listener_name(const struct sb_listener *l)
{
	return l->name;
}

struct replace_tls {
	struct sb_tls_ctx	*old, *tls;
	int			 n;
};

static void
replace_walk(uv_handle_t *h, void *arg)
{
	struct sb_listener *l = (struct sb_listener *)h;
	struct replace_tls *r = arg;

	if (h->data != &listener_tag || l->tls != r->old || uv_is_closing(h))
		return;
	sb_tls_ctx_ref(r->tls);
	sb_tls_ctx_unref(l->tls);
	l->tls = r->tls;
	r->n++;
}

int
sb_listener_replace_tls(uv_loop_t *loop, struct sb_tls_ctx *old, struct sb_tls_ctx *tls)
{
	struct replace_tls r = { old, tls, 0 };

	if (old == NULL || tls == NULL)
		return 0;
	uv_walk(loop, replace_walk, &r);
	return r.n;
}

void
sb_listener_free(struct sb_listener *l)
{
	if (!uv_is_closing((uv_handle_t *)&l->tcp))
		uv_close((uv_handle_t *)&l->tcp, on_listener_close);
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	if (h->data == &listener_tag)
		sb_listener_free((struct sb_listener *)h);
}

void
sb_listener_close_all(uv_loop_t *loop)
{
	uv_walk(loop, close_walk, NULL);
}
