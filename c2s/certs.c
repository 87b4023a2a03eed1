/*
 * certs.c: TLS contexts made from the configuration's domains. main.c
 * makes them at start-up (an error is fatal there), reload.c on SIGHUP
 * (an error keeps the running configuration), so both load certificates
 * the same way and report the same errors.
 */
#include <stdio.h>

#include "c2s.h"
#include "tls.h"

struct sb_tls_ctx *
c2s_tls_context(const struct c2s_conf *conf, const char *alpn, char *err, size_t errlen)
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
	if (alpn != NULL && sb_tls_ctx_set_alpn(ctx, alpn) == -1) {
		snprintf(err, errlen, "TLS: ALPN '%s' refused", alpn);
		goto fail;
	}
	return ctx;
fail:
	sb_tls_ctx_unref(ctx);
	return NULL;
}
