/*
 * reload.c: SIGHUP. s2s.xml is read again and, when it loads and every
 * certificate, the trust file and the DNS settings in it load, it
 * replaces the running configuration:
 *
 *   certificates, trust, TLS priority   new server contexts (STARTTLS and
 *                  every direct TLS listener) and new client contexts per
 *                  local domain; new streams use them, established streams
 *                  keep theirs (a TLS session holds a reference, tls.h)
 *   domains        the local domains with a certificate, for new streams
 *   policies       the default and per remote domain, for new streams and
 *                  for each new stanza to a route (a stream already
 *                  authenticated stays up)
 *   <host/>        static addresses, for new outgoing streams
 *   <dns/>         a new resolver; a lookup under way is asked again there
 *   <dialback/>    the secret, for keys made from now on
 *   limits, <tls require/bidi>   where they are read: new streams, new
 *                  stanzas (the router link keeps its stanza size)
 *   log level      at once
 *
 * The router link, the listeners (address, port, TLS mode) and the status
 * file cannot change under a running process: the new configuration gets
 * the running values and a warning says they take effect at the next
 * start. Nothing changes when the file, a certificate, the trust file or
 * the DNS servers do not load.
 *
 * Memory: the per-domain client contexts point at the configuration's
 * domains; they are made anew with it and swapped together. Streams and
 * routes keep their own copies of names, never pointers into the
 * configuration.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s2s.h"
#include "xmalloc.h"

/* What the reload made, before it is swapped in. */
struct s2s_made {
	struct sb_tls_ctx	*server, *direct;
	struct s2s_local_tls	*local;		/* ndomains + 1, as s2s->local_tls */
	size_t			 nlocal;
	struct sb_resolver	*resolver;	/* NULL: the DNS settings did not change */
};

static int
same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static const char *
dup_str(struct sb_arena *a, const char *s)
{
	return s != NULL ? sb_arena_strdup(a, s) : NULL;
}

/* Append what to the list of settings that wait for a restart. */
static void
note(char *list, size_t size, const char *what)
{
	size_t len = strlen(list);

	snprintf(list + len, size - len, "%s%s", len > 0 ? ", " : "", what);
}

static int
same_listens(const struct s2s_conf *a, const struct s2s_conf *b)
{
	if (a->nlistens != b->nlistens)
		return 0;
	for (size_t i = 0; i < a->nlistens; i++)
		if (a->listens[i].port != b->listens[i].port ||
		    a->listens[i].direct_tls != b->listens[i].direct_tls ||
		    strcmp(a->listens[i].address, b->listens[i].address) != 0)
			return 0;
	return 1;
}

static void
keep_listens(const struct s2s_conf *old, struct s2s_conf *conf)
{
	conf->nlistens = old->nlistens;
	conf->listens = sb_arena_zalloc(&conf->arena, old->nlistens * sizeof(*conf->listens));
	for (size_t i = 0; i < old->nlistens; i++) {
		conf->listens[i] = old->listens[i];
		conf->listens[i].address = dup_str(&conf->arena, old->listens[i].address);
	}
}

/*
 * The settings a running process cannot change: conf gets the running
 * values (copied into its arena), and their names go to list. The router
 * secret stays too, so a dialback secret derived from it does not move.
 */
static void
keep_running(const struct s2s_conf *old, struct s2s_conf *conf, char *list, size_t size)
{
	if (!same_str(old->router_addr, conf->router_addr) ||
	    old->router_port != conf->router_port || !same_str(old->name, conf->name) ||
	    !same_str(old->secret, conf->secret)) {
		note(list, size, "<router>");
		conf->router_addr = dup_str(&conf->arena, old->router_addr);
		conf->router_port = old->router_port;
		conf->name = dup_str(&conf->arena, old->name);
		conf->secret = dup_str(&conf->arena, old->secret);
	}
	if (!same_listens(old, conf)) {
		note(list, size, "<listen>");
		keep_listens(old, conf);
	}
	if (!same_str(old->status_path, conf->status_path) || old->status_ms != conf->status_ms) {
		note(list, size, "<status>");
		conf->status_path = dup_str(&conf->arena, old->status_path);
		conf->status_ms = old->status_ms;
	}
}

/* The incoming side: every domain's certificate, trust for SASL EXTERNAL (main.c's). */
static struct sb_tls_ctx *
server_context(const struct s2s_conf *conf, const char *alpn, char *err, size_t errlen)
{
	struct sb_tls_ctx *ctx;
	char why[512];

	if ((ctx = sb_tls_ctx_server(conf->tls_priority, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "TLS: %s", why);
		return NULL;
	}
	for (size_t i = 0; i < conf->ndomains; i++)
		if (sb_tls_ctx_add_cert(ctx, conf->domains[i].cert, conf->domains[i].key,
		    why, sizeof(why)) == -1) {
			snprintf(err, errlen, "domain %s: %s", conf->domains[i].name, why);
			goto fail;
		}
	if (sb_tls_ctx_set_trust(ctx, conf->ca_file, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "TLS trust: %s", why);
		goto fail;
	}
	sb_tls_ctx_request_client_cert(ctx, 1);
	if (alpn != NULL && sb_tls_ctx_set_alpn(ctx, alpn) == -1) {
		snprintf(err, errlen, "TLS: ALPN '%s' refused", alpn);
		goto fail;
	}
	return ctx;
fail:
	sb_tls_ctx_unref(ctx);
	return NULL;
}

/* The outgoing side for one local domain (d NULL: no certificate of our own). */
static struct sb_tls_ctx *
client_context(const struct s2s_conf *conf, const struct s2s_domain *d, const char *alpn,
    char *err, size_t errlen)
{
	struct sb_tls_ctx *ctx;
	char why[512];

	if ((ctx = sb_tls_ctx_client(conf->tls_priority, conf->ca_file, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "TLS: %s", why);
		return NULL;
	}
	if (d != NULL && sb_tls_ctx_add_cert(ctx, d->cert, d->key, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "domain %s: %s", d->name, why);
		sb_tls_ctx_unref(ctx);
		return NULL;
	}
	if (alpn != NULL && sb_tls_ctx_set_alpn(ctx, alpn) == -1) {
		snprintf(err, errlen, "TLS: ALPN '%s' refused", alpn);
		sb_tls_ctx_unref(ctx);
		return NULL;
	}
	return ctx;
}

static void
local_tls_free(struct s2s_local_tls *local, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sb_tls_ctx_unref(local[i].starttls);
		sb_tls_ctx_unref(local[i].direct);
	}
	free(local);
}

static void
made_free(struct s2s_made *m)
{
	sb_tls_ctx_unref(m->server);
	sb_tls_ctx_unref(m->direct);
	local_tls_free(m->local, m->nlocal);
	if (m->resolver != NULL)
		sb_resolver_free(m->resolver);
}

/* One client context pair per domain and an anonymous one, as main.c's tls_contexts(). */
static int
make_local_tls(const struct s2s_conf *conf, struct s2s_made *m, char *err, size_t errlen)
{
	m->nlocal = conf->ndomains + 1;
	m->local = xcalloc(m->nlocal, sizeof(*m->local));
	for (size_t i = 0; i < m->nlocal; i++) {
		const struct s2s_domain *d = i < conf->ndomains ? &conf->domains[i] : NULL;

		m->local[i].domain = d;
		if ((m->local[i].starttls = client_context(conf, d, NULL, err, errlen)) == NULL ||
		    (m->local[i].direct = client_context(conf, d, "xmpp-server", err,
		    errlen)) == NULL)
			return -1;
	}
	return 0;
}

/* A new resolver only when the DNS settings changed. */
static int
make_resolver(struct s2s *s2s, const struct s2s_conf *conf, struct s2s_made *m, char *err,
    size_t errlen)
{
	const struct s2s_conf *old = s2s->conf;
	struct sb_resolve_conf rc = {
		.servers = conf->dns_servers,
		.timeout_ms = (unsigned)conf->dns_timeout_ms,
	};
	char why[256];

	if (same_str(old->dns_servers, conf->dns_servers) &&
	    old->dns_timeout_ms == conf->dns_timeout_ms)
		return 0;
	if ((m->resolver = sb_resolver_new(s2s->loop, &rc, why, sizeof(why))) == NULL) {
		snprintf(err, errlen, "DNS: %s", why);
		return -1;
	}
	return 0;
}

/* Everything the configuration needs, or -1 (err says why) and nothing. */
static int
made_make(struct s2s *s2s, const struct s2s_conf *conf, struct s2s_made *m, char *err,
    size_t errlen)
{
	*m = (struct s2s_made){ 0 };
	if ((m->server = server_context(conf, NULL, err, errlen)) == NULL ||
	    (m->direct = server_context(conf, "xmpp-server", err, errlen)) == NULL ||
	    make_local_tls(conf, m, err, errlen) == -1 ||
	    make_resolver(s2s, conf, m, err, errlen) == -1) {
		made_free(m);
		return -1;
	}
	return 0;
}

/* Lookups under way move to the new resolver before the old one goes. */
static void
swap_resolver(struct s2s *s2s, struct sb_resolver *resolver)
{
	struct sb_resolver *old = s2s->resolver;
	struct s2s_stream *st, *next;

	s2s->resolver = resolver;
	for (st = s2s->streams; st != NULL; st = next) {
		next = st->next;
		if (st->out)
			out_requery(st);
	}
	sb_resolver_free(old);
}

/* New streams use what m holds; its references move to s2s and the listeners. */
static void
made_swap(struct s2s *s2s, struct s2s_made *m)
{
	sb_tls_ctx_unref(s2s->tls_server);
	s2s->tls_server = m->server;
	sb_listener_replace_tls(s2s->loop, s2s->tls_direct, m->direct);
	sb_tls_ctx_unref(s2s->tls_direct);
	s2s->tls_direct = m->direct;
	local_tls_free(s2s->local_tls, s2s->conf->ndomains + 1);
	s2s->local_tls = m->local;
	if (m->resolver != NULL)
		swap_resolver(s2s, m->resolver);
}

void
s2s_reload(struct s2s *s2s)
{
	struct s2s_conf *conf, *old = s2s->conf;
	struct s2s_made m;
	char err[2048], restart[128] = "";
	int dns;

	if (s2s->stopping)
		return;
	if ((conf = s2s_conf_load(s2s->conf_path, err, sizeof(err))) == NULL) {
		log_error("reload: %s; the running configuration stays", err);
		return;
	}
	keep_running(old, conf, restart, sizeof(restart));
	if (made_make(s2s, conf, &m, err, sizeof(err)) == -1) {
		log_error("reload: %s; the running configuration stays", err);
		s2s_conf_free(conf);
		return;
	}
	sb_log_set_level((enum sb_log_level)conf->log_level);
	if (restart[0] != '\0')
		log_warn("reload: changes to %s take effect at the next start", restart);
	dns = m.resolver != NULL;
	made_swap(s2s, &m);
	s2s->conf = conf;
	s2s_conf_free(old);
	dialback_init(s2s);
	log_notice("reloaded %s: %zu domains, policy %s with %zu exceptions, %zu static hosts, "
	    "certificates loaded again%s", conf->path, conf->ndomains,
	    conf->policy == S2S_POLICY_REQUIRE_CERT ? "require-cert" :
	    conf->policy == S2S_POLICY_DIALBACK ? "dialback" : "deny", conf->nremotes,
	    conf->nhosts, dns ? ", new DNS resolver" : "");
}
