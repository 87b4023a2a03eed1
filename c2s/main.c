/*
 * main.c: the c2s process. It reads c2s.xml and the storage section of
 * switchboard.xml, loads every served domain's certificate, listens for
 * clients (STARTTLS and direct TLS), connects to the router, and runs the
 * loop until a signal says otherwise:
 *
 *   SIGINT, SIGTERM   every client gets <system-shutdown/>, sm is told
 *                     each session ended, then exit 0
 *   SIGUSR1           log the counters (connections, sessions, logins) and
 *                     write the status file
 *   SIGHUP            read c2s.xml again (reload.c): certificates for new
 *                     handshakes, domains (clients of a removed one get
 *                     <host-gone/>), per-domain options, limits, log level;
 *                     the router link, listeners and status file wait for a
 *                     restart; a file or certificate that does not load
 *                     changes nothing
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "c2s.h"
#include "complink.h"
#include "config.h"
#include "sasl.h"
#include "timer.h"
#include "tls.h"
#include "xmalloc.h"

static void
open_store(struct c2s *c2s)
{
	char err[1024];

	if (sb_store_open_file(c2s->loop, c2s->storage_path, &c2s->store_conf, &c2s->store, err,
	    sizeof(err)) == -1)
		fatal("%s", err);
}

/* One context per TLS policy (certs.c); at start-up one that does not load is fatal. */
static struct sb_tls_ctx *
tls_context(struct c2s *c2s, const char *alpn)
{
	struct sb_tls_ctx *ctx;
	char err[1024];

	if ((ctx = c2s_tls_context(c2s->conf, alpn, err, sizeof(err))) == NULL)
		fatal("%s", err);
	return ctx;
}

/*
 * Unknown accounts get fake SCRAM salts derived from a secret (sasl.h).
 * Every c2s in front of one database must derive the same ones, so the
 * secret comes from what they all share: the component secret.
 */
static void
sasl_fake_secret(struct c2s *c2s)
{
	static const char label[] = "switchboard c2s: fake SCRAM salts: ";
	unsigned char key[32];
	struct sb_buf b = SB_BUF_INIT;

	sb_buf_append_str(&b, label);
	sb_buf_append_str(&b, c2s->conf->secret);
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, sb_buf_data(&b), sb_buf_len(&b), key) < 0)
		fatal("SHA-256 failed");
	c2s_sasl_set_fake_secret(c2s->sasl, key, sizeof(key));
	gnutls_memset(key, 0, sizeof(key));
	gnutls_memset(sb_buf_data(&b), 0, sb_buf_len(&b));
	sb_buf_free(&b);
}

static void
listen_all(struct c2s *c2s)
{
	const struct c2s_conf *conf = c2s->conf;
	char err[256];

	c2s->tls = tls_context(c2s, NULL);
	c2s->tls_direct = xcalloc(conf->nlistens, sizeof(*c2s->tls_direct));
	for (size_t i = 0; i < conf->nlistens; i++) {
		const struct c2s_listen *ls = &conf->listens[i];
		struct sb_tls_ctx *ctx = NULL;

		if (ls->tls == C2S_LISTEN_DIRECT_TLS)
			ctx = c2s->tls_direct[i] = tls_context(c2s, ls->alpn);
		if (sb_listener_new(c2s->loop, ls->address, ls->port, 0, ctx, client_accept, c2s,
		    err, sizeof(err)) == NULL)
			fatal("%s", err);
		log_notice("listening on %s port %d (%s)", ls->address, ls->port,
		    ls->tls == C2S_LISTEN_DIRECT_TLS ? "direct TLS" : "STARTTLS");
	}
}

static void
connect_router(struct c2s *c2s)
{
	const struct c2s_conf *conf = c2s->conf;
	struct sb_complink_conf lc = {
		.router_addr = conf->router_addr,
		.router_port = conf->router_port,
		.name = conf->name,
		.secret = conf->secret,
	};
	static const struct sb_complink_cb cb = {
		.up = session_link_up,
		.down = session_link_down,
		.error = session_link_error,
		.stanza = session_link_stanza,
		.announce = session_link_announce,
	};
	char err[512];

	if ((c2s->link = sb_complink_new(c2s->loop, &lc, &cb, c2s, err, sizeof(err))) == NULL)
		fatal("%s", err);
}

static void
store_closed(void *arg)
{
	struct c2s *c2s = arg;

	c2s->store = NULL;
}

static void
stop(void *arg)
{
	struct c2s *c2s = arg;

	log_notice("shutting down");
	c2s->stopping = 1;
	sb_status_stop(c2s->status);
	c2s->status = NULL;
	clients_shutdown(c2s);		/* each session's 'end' goes out first */
	sb_complink_close(c2s->link);
	c2s->link = NULL;
	sb_store_close(c2s->store, store_closed, c2s);
	sb_loop_shutdown(c2s->loop);
}

static void
reload(void *arg)
{
	c2s_reload(arg);
}

static void
trim_tick(struct sb_timer *t, void *arg)
{
	clients_trim(arg);
}

static void
report(void *arg)
{
	struct c2s *c2s = arg;

	clients_log_counters(c2s);
	sb_status_write(c2s->status);
}

static void
status_lines(struct sb_buf *b, void *arg)
{
	const struct c2s *c2s = arg;

	sb_buf_printf(b, "connections %zu\nsessions %zu\nlogins %llu\nlogin-failures %llu\n"
	    "stanzas-in %llu\nstanzas-out %llu\nrouter %s\n", c2s->nclients, c2s->nsessions,
	    (unsigned long long)c2s->logins, (unsigned long long)c2s->login_failures,
	    (unsigned long long)c2s->stanzas_in, (unsigned long long)c2s->stanzas_out,
	    c2s->link != NULL && sb_complink_is_up(c2s->link) ? "up" : "down");
}

static void
cleanup(struct c2s *c2s)
{
	c2s_sasl_ctx_free(c2s->sasl);
	sb_tls_ctx_unref(c2s->tls);
	for (size_t i = 0; i < c2s->conf->nlistens; i++)
		if (c2s->tls_direct[i] != NULL)
			sb_tls_ctx_unref(c2s->tls_direct[i]);
	free(c2s->tls_direct);
	sessions_free(c2s);
	c2s_addrs_free(&c2s->addrs);
	sb_store_conf_free(&c2s->store_conf);
	c2s_conf_free(c2s->conf);
	sb_arena_free(&c2s->scratch);
	sb_buf_free(&c2s->out);
}

int
main(int argc, char **argv)
{
	struct c2s c2s = {
		.loop = uv_default_loop(),
		.proc = { .name = "c2s", .flags = SB_PROC_SHARED, .stop = stop, .reload = reload,
		    .report = report },
	};
	char err[2048];
	int rc;

	c2s.proc.arg = &c2s;
	sb_proc_init(&c2s.proc, argc, argv);
	c2s.conf_path = c2s.proc.conf_path;
	c2s.storage_path = c2s.proc.shared_path;
	if ((c2s.conf = c2s_conf_load(c2s.conf_path, err, sizeof(err))) == NULL)
		fatal("%s", err);
	sb_proc_checked(&c2s.proc);
	sb_log_set_level((enum sb_log_level)c2s.conf->log_level);
	sb_arena_init(&c2s.scratch, 0);
	c2s_addrs_init(&c2s.addrs);
	sessions_init(&c2s);

	open_store(&c2s);
	if ((c2s.sasl = c2s_sasl_init(c2s.loop, c2s.store, err, sizeof(err))) == NULL)
		fatal("SASL: %s", err);
	sasl_fake_secret(&c2s);
	listen_all(&c2s);
	connect_router(&c2s);
	sb_timer_every(c2s.loop, C2S_TRIM_MS, trim_tick, &c2s);
	if (c2s.conf->status_path != NULL)
		c2s.status = sb_status_start(c2s.loop, "c2s", c2s.conf->status_path,
		    c2s.conf->status_ms, status_lines, &c2s);
	sb_proc_signals(&c2s.proc, c2s.loop);
	log_notice("started with %s: %zu domains, storage %s", c2s.conf_path,
	    c2s.conf->ndomains, sb_store_driver_name(c2s.store));
	uv_run(c2s.loop, UV_RUN_DEFAULT);

	cleanup(&c2s);
	sb_proc_free(&c2s.proc);
	if ((rc = uv_loop_close(c2s.loop)) != 0)
		log_error("the loop still has handles open: %s", uv_strerror(rc));
	log_notice("stopped");
	return rc == 0 ? 0 : 1;
}
