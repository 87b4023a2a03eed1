/*
 * reload.c: SIGHUP. c2s.xml is read again and, when it loads and every
 * certificate in it loads, it replaces the running configuration:
 *
 *   certificates   new TLS contexts for STARTTLS and for each direct TLS
 *                  listener; new handshakes use them, established TLS
 *                  sessions keep the context they started with (a session
 *                  holds a reference, tls.h)
 *   domains        a new domain is served to new streams; the clients of a
 *                  removed domain get <host-gone/> (RFC 6120 4.9.3.8) and
 *                  are closed; the others are pointed at the new entry of
 *                  their domain, so <registration/> and <legacy-auth/>
 *                  apply at once
 *   limits         read where they are used: at once for rates, auth
 *                  failures and connections per address; for new
 *                  connections where a connection took them when it came
 *                  (stanza size, login time, write buffer, ping interval)
 *   log level      at once
 *
 * The router link, the listeners (address, port, TLS mode) and the status
 * file cannot change under a running process: the new configuration gets
 * the running values and a warning says they take effect at the next
 * start. A file that does not load, or a certificate that does not, is
 * logged and changes nothing.
 *
 * Memory: clients point into the configuration (cl->domain). Before the
 * old configuration is freed each client is pointed at its domain in the
 * new one, or, for a removed domain, at a copy in its own arena that lives
 * until the client is gone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "reload.h"
#include "tls.h"
#include "xmalloc.h"

/* What the reload made, before it is swapped in. */
struct c2s_tls_set {
	struct sb_tls_ctx	*starttls;
	struct sb_tls_ctx	**direct;	/* per listener, NULL for STARTTLS ones */
	size_t			 n;
};

/* An ALPN change alone is taken: the direct TLS contexts are made anew. */
static int
same_listens(const void *old, const void *conf)
{
	const struct c2s_conf *a = old, *b = conf;

	if (a->nlistens != b->nlistens)
		return 0;
	for (size_t i = 0; i < a->nlistens; i++)
		if (a->listens[i].port != b->listens[i].port ||
		    a->listens[i].tls != b->listens[i].tls ||
		    strcmp(a->listens[i].address, b->listens[i].address) != 0)
			return 0;
	return 1;
}

static void
keep_listens(const void *running, void *loaded, struct sb_arena *arena)
{
	const struct c2s_conf *old = running;
	struct c2s_conf *conf = loaded;

	conf->nlistens = old->nlistens;
	conf->listens = sb_arena_zalloc(arena, old->nlistens * sizeof(*conf->listens));
	for (size_t i = 0; i < old->nlistens; i++) {
		conf->listens[i] = old->listens[i];
		conf->listens[i].address = sb_arena_strdup(arena, old->listens[i].address);
		if (old->listens[i].alpn != NULL)
			conf->listens[i].alpn = sb_arena_strdup(arena, old->listens[i].alpn);
	}
}

/* What a running c2s cannot change: a new configuration gets the running values. */
static const struct sb_keep restart_only[] = {
	SB_KEEP_ROUTER(struct c2s_conf),
	SB_KEEP_FN("<listen>", same_listens, keep_listens),
	SB_KEEP_STATUS(struct c2s_conf),
};

static void
tls_set_free(struct c2s_tls_set *set)
{
	sb_tls_ctx_unref(set->starttls);
	for (size_t i = 0; i < set->n; i++)
		sb_tls_ctx_unref(set->direct[i]);
	free(set->direct);
}

/* Every context the configuration needs, or -1 (err says why) and nothing. */
static int
tls_set_make(const struct c2s_conf *conf, struct c2s_tls_set *set, char *err, size_t errlen)
{
	*set = (struct c2s_tls_set){ .n = conf->nlistens };
	set->direct = xcalloc(conf->nlistens, sizeof(*set->direct));
	if ((set->starttls = c2s_tls_context(conf, NULL, err, errlen)) == NULL)
		goto fail;
	for (size_t i = 0; i < conf->nlistens; i++)
		if (conf->listens[i].tls == C2S_LISTEN_DIRECT_TLS &&
		    (set->direct[i] = c2s_tls_context(conf, conf->listens[i].alpn, err,
		    errlen)) == NULL)
			goto fail;
	return 0;
fail:
	tls_set_free(set);
	return -1;
}

/* New handshakes use the new contexts; set's references move to c2s and the listeners. */
static void
tls_set_swap(struct c2s *c2s, struct c2s_tls_set *set)
{
	sb_tls_ctx_unref(c2s->tls);
	c2s->tls = set->starttls;
	for (size_t i = 0; i < set->n; i++) {
		if (c2s->tls_direct[i] != NULL) {
			sb_listener_replace_tls(c2s->loop, c2s->tls_direct[i], set->direct[i]);
			sb_tls_ctx_unref(c2s->tls_direct[i]);
		}
		c2s->tls_direct[i] = set->direct[i];
	}
	free(set->direct);
}

static const struct c2s_domain *
find_domain(const struct c2s_conf *conf, const char *canonical)
{
	for (size_t i = 0; i < conf->ndomains; i++)
		if (strcmp(conf->domains[i].name, canonical) == 0)
			return &conf->domains[i];
	return NULL;
}

/* A removed domain, for a client that goes: a copy that lives in the client's arena. */
static const struct c2s_domain *
keep_domain(struct client *cl)
{
	struct c2s_domain *d = sb_arena_zalloc(&cl->arena, sizeof(*d));

	d->name = sb_arena_strdup(&cl->arena, cl->domain->name);
	d->registration = cl->domain->registration;
	d->legacy_auth = cl->domain->legacy_auth;
	return d;
}

/* Point every client at conf; the clients of removed domains get <host-gone/>. */
static size_t
repoint_clients(struct c2s *c2s, const struct c2s_conf *conf)
{
	size_t gone = 0;

	for (struct client *cl = c2s->clients; cl != NULL; cl = cl->next) {
		const struct c2s_domain *d;

		if (cl->domain == NULL)
			continue;
		if ((d = find_domain(conf, cl->domain->name)) != NULL) {
			cl->domain = d;
			continue;
		}
		cl->domain = keep_domain(cl);
		if (cl->state == CL_CLOSING)
			continue;
		client_error(cl, SB_LOG_INFO, SB_STERR_HOST_GONE, 0,
		    "domain %s is no longer served here (reload)", cl->domain->name);
		gone++;
	}
	return gone;
}

/* Domains of a that b does not have. */
static size_t
count_missing(const struct c2s_conf *a, const struct c2s_conf *b)
{
	size_t n = 0;

	for (size_t i = 0; i < a->ndomains; i++)
		if (find_domain(b, a->domains[i].name) == NULL)
			n++;
	return n;
}

void
c2s_reload(struct c2s *c2s)
{
	struct c2s_conf *conf, *old = c2s->conf;
	struct c2s_tls_set set;
	char err[2048], restart[128] = "";
	size_t added, removed, gone;

	if (c2s->stopping)
		return;
	if ((conf = c2s_conf_load(c2s->conf_path, err, sizeof(err))) == NULL) {
		log_error("reload: %s; the running configuration stays", err);
		return;
	}
	sb_keep_running(old, conf, &conf->arena, restart_only, SB_KEEP_N(restart_only), restart,
	    sizeof(restart));
	if (tls_set_make(conf, &set, err, sizeof(err)) == -1) {
		log_error("reload: %s; the running configuration stays", err);
		c2s_conf_free(conf);
		return;
	}
	sb_log_set_level((enum sb_log_level)conf->log_level);
	if (restart[0] != '\0')
		log_warn("reload: changes to %s take effect at the next start", restart);
	tls_set_swap(c2s, &set);
	added = count_missing(conf, old);
	removed = count_missing(old, conf);
	c2s->conf = conf;
	gone = repoint_clients(c2s, conf);
	c2s_conf_free(old);
	log_notice("reloaded %s: %zu domains (%zu added, %zu removed; %zu clients closed), "
	    "certificates loaded again", conf->path, conf->ndomains, added, removed, gone);
}
