/*
 * tls_priv.h: what lib/tls.c and lib/tls_ident.c share, and nothing else
 * may include. The session struct lives here because the identity checks
 * in tls_ident.c read the gnutls session of a struct sb_tls; the context
 * and its certificates stay private to tls.c.
 *
 * The helpers keep tls.c's error convention: text into the caller's
 * buffer (which may be NULL), -1 returned.
 */
#ifndef SB_TLS_PRIV_H
#define SB_TLS_PRIV_H

#include <stdarg.h>
#include <stdio.h>

#include <gnutls/gnutls.h>

#include "tls.h"

#define MAX_NAME	256	/* DNS name plus NUL */

enum tls_state {
	ST_HANDSHAKE,
	ST_OPEN,
	ST_CLOSED,	/* close_notify received */
	ST_FAILED,
};

struct sb_tls {
	gnutls_session_t	 s;
	struct sb_tls_ctx	*ctx;
	struct sb_buf		 in;		/* ciphertext fed, not yet pulled */
	struct sb_buf		 out;		/* ciphertext pushed, not yet sent */
	enum tls_state		 state;
	int			 cert_idx;	/* server: certificate chosen, -1 none */
	int			 alpn_ok;	/* our ALPN protocol was selected */
	int			 sent_bye;
	char			*name;		/* SNI sent (client) or received (server); NULL: none */
	char			*err;		/* why it failed; NULL until something did */
};

static inline void __attribute__((format(printf, 3, 4)))
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static inline int
gtls_err(char *err, size_t errlen, const char *what, int ret)
{
	seterr(err, errlen, "%s: %s", what, gnutls_strerror(ret));
	return -1;
}

static inline void
lower(char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

#endif
