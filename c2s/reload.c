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
#include "tls.h"
#include "xmalloc.h"

/* What the reload made, before it is swapped in. */
struct c2s_tls_set {
	struct sb_tls_ctx	*starttls;
	struct sb_tls_ctx	**direct;	/* per listener, NULL for STARTTLS ones */
	size_t			 n;
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
same_listens(const struct c2s_conf *a, const struct c2s_conf *b)
{
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
keep_listens(const struct c2s_conf *old, struct c2s_conf *conf)
{
	conf->nlistens = old->nlistens;
	conf->listens = sb_arena_zalloc(&conf->arena, old->nlistens * sizeof(*conf->listens));
	for (size_t i = 0; i < old->nlistens; i++) {
		conf->listens[i] = old->listens[i];
		conf->listens[i].address = dup_str(&conf->arena, old->listens[i].address);
		conf->listens[i].alpn = dup_str(&conf->arena, old->listens[i].alpn);
	}
}

/*
 * The settings a running process cannot change: conf gets the running
 * values (copied into its arena), and their names go to list.
 */
static void
keep_running(const struct c2s_conf *old, struct c2s_conf *conf, char *list, size_t size)
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
	/* An ALPN change alone is taken: the direct TLS contexts are made anew. */
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

/* A server context with every domain's certificate (SNI chooses), as main.c makes them. */
static struct sb_tls_ctx *
tls_context(const struct c2s_conf *conf, const char *alpn, char *err, size_t errlen)
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
	if ((set->starttls = tls_context(conf, NULL, err, errlen)) == NULL)
		goto fail;
	for (size_t i = 0; i < conf->nlistens; i++)
		if (conf->listens[i].tls == C2S_LISTEN_DIRECT_TLS &&
		    (set->direct[i] = tls_context(conf, conf->listens[i].alpn, err,
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
	keep_running(old, conf, restart, sizeof(restart));
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
