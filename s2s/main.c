/*
 * main.c: the s2s process. It reads s2s.xml, makes the TLS contexts (one
 * for incoming streams holding every domain's certificate, one client
 * context per local domain presenting its certificate), starts the DNS
 * resolver, listens on 5269 (and any direct TLS port), connects to the
 * router as its default route, and runs the loop until a signal says
 * otherwise:
 *
 *   SIGINT, SIGTERM   every stream gets <system-shutdown/>, queued stanzas
 *                     are bounced, then exit 0
 *   SIGUSR1           log the counters and write the status file
 *   SIGHUP            read s2s.xml again (reload.c): certificates, trust,
 *                     domains, policies, static hosts, DNS, dialback secret,
 *                     limits, log level for new streams; established streams
 *                     go on; the router link, listeners and status file wait
 *                     for a restart; a file, certificate, trust file or DNS
 *                     setting that does not load changes nothing
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "complink.h"
#include "config.h"
#include "s2s.h"
#include "timer.h"

#define TICK_MS		1000

/* The contexts certs.c makes; at start-up one that does not load is fatal. */
static void
tls_contexts(struct s2s *s2s)
{
	const struct s2s_conf *conf = s2s->conf;
	char err[1024];

	/* The first loads the trust, the others share it. */
	if ((s2s->tls_server = s2s_server_context(conf, NULL, NULL, err, sizeof(err))) == NULL ||
	    (s2s->tls_direct = s2s_server_context(conf, "xmpp-server", s2s->tls_server, err,
	    sizeof(err))) == NULL ||
	    (s2s->local_tls = s2s_local_tls_new(conf, s2s->tls_server, err,
	    sizeof(err))) == NULL)
		fatal("%s", err);
}

static void
listen_all(struct s2s *s2s)
{
	const struct s2s_conf *conf = s2s->conf;
	char err[256];

	for (size_t i = 0; i < conf->nlistens; i++) {
		const struct s2s_listen *ls = &conf->listens[i];

		if (sb_listener_new(s2s->loop, ls->address, ls->port, 0,
		    ls->direct_tls ? s2s->tls_direct : NULL, in_accept, s2s, err,
		    sizeof(err)) == NULL)
			fatal("%s", err);
		log_notice("listening on %s port %d (%s)", ls->address, ls->port,
		    ls->direct_tls ? "direct TLS" : "STARTTLS");
	}
}

static void
start_resolver(struct s2s *s2s)
{
	struct sb_resolve_conf rc = {
		.servers = s2s->conf->dns_servers,
		.timeout_ms = (unsigned)s2s->conf->dns_timeout_ms,
	};
	char err[256];

	if ((s2s->resolver = sb_resolver_new(s2s->loop, &rc, err, sizeof(err))) == NULL)
		fatal("DNS: %s", err);
}

static void
connect_router(struct s2s *s2s)
{
	const struct s2s_conf *conf = s2s->conf;
	struct sb_complink_conf lc = {
		.router_addr = conf->router_addr,
		.router_port = conf->router_port,
		.name = conf->name,
		.secret = conf->secret,
		.default_route = 1,
		.max_stanza = conf->stanza_size,
	};
	static const struct sb_complink_cb cb = {
		.up = link_up,
		.down = link_down,
		.error = link_error,
		.stanza = link_stanza,
		.announce = link_announce,
	};
	char err[512];

	if ((s2s->link = sb_complink_new(s2s->loop, &lc, &cb, s2s, err, sizeof(err))) == NULL)
		fatal("%s", err);
}

static void
tick(struct sb_timer *t, void *arg)
{
	struct s2s *s2s = arg;

	dialback_expire(s2s, s2s_now_ms(s2s));
}

static void
stop(void *arg)
{
	struct s2s *s2s = arg;

	log_notice("shutting down");
	s2s->stopping = 1;
	sb_status_stop(s2s->status);
	s2s->status = NULL;
	streams_shutdown(s2s);
	routes_free(s2s);		/* queued stanzas bounce before the link goes */
	sb_complink_close(s2s->link);
	s2s->link = NULL;
	sb_resolver_free(s2s->resolver);
	s2s->resolver = NULL;
	sb_loop_shutdown(s2s->loop);
}

static void
reload(void *arg)
{
	s2s_reload(arg);
}

static void
report(void *arg)
{
	struct s2s *s2s = arg;

	streams_log_counters(s2s);
	sb_status_write(s2s->status);
}

static void
cleanup(struct s2s *s2s)
{
	sb_tls_ctx_unref(s2s->tls_server);
	sb_tls_ctx_unref(s2s->tls_direct);
	s2s_local_tls_free(s2s->local_tls, s2s->conf->ndomains + 1);
	names_free(s2s);
	sb_hmap_free(&s2s->by_id);
	sb_hmap_free(&s2s->routes);
	s2s_conf_free(s2s->conf);
	sb_arena_free(&s2s->scratch);
	sb_buf_free(&s2s->out);
}

int
main(int argc, char **argv)
{
	struct s2s s2s = {
		.loop = uv_default_loop(),
		.proc = { .name = "s2s", .stop = stop, .reload = reload, .report = report },
	};
	char err[2048];
	int rc;

	s2s.proc.arg = &s2s;
	sb_proc_init(&s2s.proc, argc, argv);
	s2s.conf_path = s2s.proc.conf_path;
	if ((s2s.conf = s2s_conf_load(s2s.conf_path, err, sizeof(err))) == NULL)
		fatal("%s", err);
	sb_proc_checked(&s2s.proc);
	sb_log_set_level((enum sb_log_level)s2s.conf->log_level);
	sb_arena_init(&s2s.scratch, 0);
	sb_hmap_init(&s2s.routes);
	sb_hmap_init(&s2s.names);
	sb_hmap_init(&s2s.by_id);
	dialback_init(&s2s);

	tls_contexts(&s2s);
	start_resolver(&s2s);
	listen_all(&s2s);
	connect_router(&s2s);
	sb_timer_every(s2s.loop, TICK_MS, tick, &s2s);
	if (s2s.conf->status_path != NULL)
		s2s.status = sb_status_start(s2s.loop, "s2s", s2s.conf->status_path,
		    s2s.conf->status_ms, streams_status, &s2s);
	sb_proc_signals(&s2s.proc, s2s.loop);
	log_notice("started with %s: %zu domains, policy %s", s2s.conf_path,
	    s2s.conf->ndomains, s2s.conf->policy == S2S_POLICY_REQUIRE_CERT ? "require-cert" :
	    s2s.conf->policy == S2S_POLICY_DIALBACK ? "dialback" : "deny");
	uv_run(s2s.loop, UV_RUN_DEFAULT);

	cleanup(&s2s);
	sb_proc_free(&s2s.proc);
	if ((rc = uv_loop_close(s2s.loop)) != 0)
		log_error("the loop still has handles open: %s", uv_strerror(rc));
	log_notice("stopped");
	return rc == 0 ? 0 : 1;
}
