/*
 * certs.c: TLS contexts made from the configuration's domains. main.c
 * makes them at start-up (an error is fatal there), reload.c on SIGHUP
 * (an error keeps the running configuration), so both load certificates
 * and trust the same way and report the same errors.
 */
#include <stdio.h>
#include <stdlib.h>

#include "s2s.h"
#include "xmalloc.h"

/* The last step of either side: ctx with alpn required (NULL: none), or ctx released. */
static struct sb_tls_ctx *
with_alpn(struct sb_tls_ctx *ctx, const char *alpn, char *err, size_t errlen)
{
	if (alpn != NULL && sb_tls_ctx_set_alpn(ctx, alpn) == -1) {
		snprintf(err, errlen, "TLS: ALPN '%s' refused", alpn);
		sb_tls_ctx_unref(ctx);
		return NULL;
	}
	return ctx;
}

struct sb_tls_ctx *
s2s_server_context(const struct s2s_conf *conf, const char *alpn, struct sb_tls_ctx *trust,
    char *err, size_t errlen)
{
	struct sb_tls_ctx *ctx;
	char why[512];

	ctx = trust != NULL ? sb_tls_ctx_sharing_trust(trust, 1, conf->tls_priority, why,
	    sizeof(why)) : sb_tls_ctx_server(conf->tls_priority, why, sizeof(why));
	if (ctx == NULL) {
		snprintf(err, errlen, "TLS: %s", why);
		return NULL;
	}
	for (size_t i = 0; i < conf->ndomains; i++)
		if (sb_tls_ctx_add_cert(ctx, conf->domains[i].cert, conf->domains[i].key,
		    why, sizeof(why)) == -1) {
			snprintf(err, errlen, "domain %s: %s", conf->domains[i].name, why);
			goto fail;
		}
	/* Peers authenticate with their certificates (SASL EXTERNAL). */
	if (trust == NULL && sb_tls_ctx_set_trust(ctx, conf->ca_file, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "TLS trust: %s", why);
		goto fail;
	}
	sb_tls_ctx_request_client_cert(ctx, 1);
	return with_alpn(ctx, alpn, err, errlen);
fail:
	sb_tls_ctx_unref(ctx);
	return NULL;
}

/* The outgoing side for one local domain (d NULL: no certificate of our own). */
static struct sb_tls_ctx *
client_context(const struct s2s_conf *conf, const struct s2s_domain *d, const char *alpn,
    struct sb_tls_ctx *trust, char *err, size_t errlen)
{
	struct sb_tls_ctx *ctx;
	char why[512];

	ctx = trust != NULL ? sb_tls_ctx_sharing_trust(trust, 0, conf->tls_priority, why,
	    sizeof(why)) : sb_tls_ctx_client(conf->tls_priority, conf->ca_file, why, sizeof(why));
	if (ctx == NULL) {
		snprintf(err, errlen, "TLS: %s", why);
		return NULL;
	}
	if (d != NULL && sb_tls_ctx_add_cert(ctx, d->cert, d->key, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "domain %s: %s", d->name, why);
		sb_tls_ctx_unref(ctx);
		return NULL;
	}
	return with_alpn(ctx, alpn, err, errlen);
}

struct s2s_local_tls *
s2s_local_tls_new(const struct s2s_conf *conf, struct sb_tls_ctx *trust, char *err,
    size_t errlen)
{
	size_t n = conf->ndomains + 1;
	struct s2s_local_tls *local = xcalloc(n, sizeof(*local));

	for (size_t i = 0; i < n; i++) {
		const struct s2s_domain *d = i < conf->ndomains ? &conf->domains[i] : NULL;

		local[i].domain = d;
		if ((local[i].starttls = client_context(conf, d, NULL, trust, err,
		    errlen)) == NULL ||
		    (local[i].direct = client_context(conf, d, "xmpp-server", trust, err,
		    errlen)) == NULL) {
			s2s_local_tls_free(local, n);
			return NULL;
		}
	}
	return local;
}

void
s2s_local_tls_free(struct s2s_local_tls *local, size_t n)
{
	if (local == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		sb_tls_ctx_unref(local[i].starttls);
		sb_tls_ctx_unref(local[i].direct);
	}
	free(local);
}
