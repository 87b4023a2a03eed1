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
#include <string.h>

#include "reload.h"
#include "s2s.h"

/* What the reload made, before it is swapped in. */
struct s2s_made {
	struct sb_tls_ctx	*server, *direct;
	struct s2s_local_tls	*local;		/* ndomains + 1, as s2s->local_tls */
	size_t			 nlocal;
	struct sb_resolver	*resolver;	/* NULL: the DNS settings did not change */
};

static int
same_listens(const void *old, const void *conf)
{
	const struct s2s_conf *a = old, *b = conf;

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
keep_listens(const void *running, void *loaded, struct sb_arena *arena)
{
	const struct s2s_conf *old = running;
	struct s2s_conf *conf = loaded;

	conf->nlistens = old->nlistens;
	conf->listens = sb_arena_zalloc(arena, old->nlistens * sizeof(*conf->listens));
	for (size_t i = 0; i < old->nlistens; i++) {
		conf->listens[i] = old->listens[i];
		conf->listens[i].address = sb_arena_strdup(arena, old->listens[i].address);
	}
}

/*
 * What a running s2s cannot change: a new configuration gets the running
 * values. The router secret stays too, so a dialback secret derived from
 * it does not move.
 */
static const struct sb_keep restart_only[] = {
	SB_KEEP_ROUTER(struct s2s_conf),
	SB_KEEP_FN("<listen>", same_listens, keep_listens),
	SB_KEEP_STATUS(struct s2s_conf),
};

static void
made_free(struct s2s_made *m)
{
	sb_tls_ctx_unref(m->server);
	sb_tls_ctx_unref(m->direct);
	s2s_local_tls_free(m->local, m->nlocal);
	if (m->resolver != NULL)
		sb_resolver_free(m->resolver);
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

	if (sb_keep_same_str(old->dns_servers, conf->dns_servers) &&
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
	*m = (struct s2s_made){ .nlocal = conf->ndomains + 1 };
	/* The trust is loaded again, once, and shared as at start-up. */
	if ((m->server = s2s_server_context(conf, NULL, NULL, err, errlen)) == NULL ||
	    (m->direct = s2s_server_context(conf, "xmpp-server", m->server, err,
	    errlen)) == NULL ||
	    (m->local = s2s_local_tls_new(conf, m->server, err, errlen)) == NULL ||
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
	s2s_local_tls_free(s2s->local_tls, s2s->conf->ndomains + 1);
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
	sb_keep_running(old, conf, &conf->arena, restart_only, SB_KEEP_N(restart_only), restart,
	    sizeof(restart));
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
