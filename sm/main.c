/*
 * main.c: the session manager process. It reads sm.xml and the storage
 * section of switchboard.xml, opens the store (refusing a schema it does
 * not know), connects to the router and binds the served domains, and runs
 * the loop until a signal says otherwise:
 *
 *   SIGINT, SIGTERM   every session ends (contacts get unavailable, c2s is
 *                     told <system-shutdown/>), then exit 0
 *   SIGUSR1           log the counters and write the status file
 *   SIGHUP            read sm.xml again (reload.c): limits, version, contact
 *                     addresses, log level at once; domains, the router link
 *                     and the status file wait for a restart; a file that
 *                     does not load changes nothing
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "complink.h"
#include "config.h"
#include "conn.h"
#include "rendezvous.h"
#include "sm.h"
#include "xmalloc.h"

static void
open_store(struct sm *sm)
{
	char err[1024];

	if (sb_store_open_file(sm->loop, sm->storage_path, &sm->store_conf, &sm->store, err,
	    sizeof(err)) == -1)
		fatal("%s", err);
}

static void
connect_router(struct sm *sm)
{
	const struct sm_conf *conf = sm->conf;
	struct sb_complink_bind *binds = xcalloc(conf->ndomains, sizeof(*binds));
	struct sb_complink_conf lc = {
		.router_addr = conf->router_addr,
		.router_port = conf->router_port,
		.name = conf->name,
		.secret = conf->secret,
		.binds = binds,
		.nbinds = conf->ndomains,
	};
	static const struct sb_complink_cb cb = {
		.up = sm_link_up,
		.down = sm_link_down,
		.stanza = sm_link_stanza,
		.announce = sm_link_announce,
	};
	char err[512];

	for (size_t i = 0; i < conf->ndomains; i++) {
		binds[i].name = conf->domains[i].name;
		binds[i].share = conf->domains[i].share;
	}
	sm->name_hash = sb_rendezvous_hash(conf->name, strlen(conf->name));
	sm->link = sb_complink_new(sm->loop, &lc, &cb, sm, err, sizeof(err));
	free(binds);
	if (sm->link == NULL)
		fatal("%s", err);
}

static void
store_closed(void *arg)
{
	struct sm *sm = arg;

	sm->store = NULL;
}

static int
kick(struct sb_hmap_node *n, void *arg)
{
	sm_session_kick(SB_HMAP_ENTRY(n, struct sm_session, hn), "system-shutdown");
	return 0;
}

static void
stop(void *arg)
{
	struct sm *sm = arg;

	log_notice("shutting down: ending %zu sessions", sm->nsessions);
	sm->stopping = 1;
	sb_status_stop(sm->status);
	sm->status = NULL;
	sb_hmap_each(&sm->sessions, kick, sm);
	sm_run_ready(sm);
	sb_complink_close(sm->link);
	sm->link = NULL;
	sb_store_close(sm->store, store_closed, sm);
	sb_loop_shutdown(sm->loop);
}

static void
reload(void *arg)
{
	sm_reload(arg);
}

static void
report(void *arg)
{
	struct sm *sm = arg;

	log_notice("counters: %zu users loaded, %zu sessions; stanzas handled %llu, sent %llu, "
	    "local %llu, stored offline %llu, bounced %llu", sm->users.count, sm->nsessions,
	    (unsigned long long)sm->n_in, (unsigned long long)sm->n_out,
	    (unsigned long long)sm->n_local, (unsigned long long)sm->n_offline,
	    (unsigned long long)sm->n_bounced);
	sb_status_write(sm->status);
}

static void
status_lines(struct sb_buf *b, void *arg)
{
	const struct sm *sm = arg;

	sb_buf_printf(b, "sessions %zu\nusers-loaded %zu\nstanzas-in %llu\nstanzas-out %llu\n"
	    "stanzas-local %llu\nstored-offline %llu\nbounced %llu\nrouter %s\n",
	    sm->nsessions, sm->users.count, (unsigned long long)sm->n_in,
	    (unsigned long long)sm->n_out, (unsigned long long)sm->n_local,
	    (unsigned long long)sm->n_offline, (unsigned long long)sm->n_bounced,
	    sm->link != NULL && sb_complink_is_up(sm->link) ? "up" : "down");
}

int
main(int argc, char **argv)
{
	struct sm sm = {
		.loop = uv_default_loop(),
		.proc = { .name = "sm", .flags = SB_PROC_SHARED, .stop = stop, .reload = reload,
		    .report = report },
	};
	char err[2048];
	int rc;

	sm.proc.arg = &sm;
	sb_proc_init(&sm.proc, argc, argv);
	sm.conf_path = sm.proc.conf_path;
	sm.storage_path = sm.proc.shared_path;
	if ((sm.conf = sm_conf_load(sm.conf_path, err, sizeof(err))) == NULL)
		fatal("%s", err);
	sb_proc_checked(&sm.proc);
	sb_log_set_level((enum sb_log_level)sm.conf->log_level);
	sm.started = sm_now();
	sb_arena_init(&sm.in, 0);
	sb_arena_init(&sm.scratch, 0);
	sb_hmap_init(&sm.users);
	sb_hmap_init(&sm.sessions);
	for (size_t i = 0; i < sm_nmodules; i++)
		if (sm_modules[i]->init != NULL)
			sm_modules[i]->init(&sm);

	open_store(&sm);
	connect_router(&sm);
	if (sm.conf->status_path != NULL)
		sm.status = sb_status_start(sm.loop, "sm", sm.conf->status_path, sm.conf->status_ms,
		    status_lines, &sm);
	sb_proc_signals(&sm.proc, sm.loop);
	log_notice("started with %s: %zu domains, storage %s", sm.conf_path, sm.conf->ndomains,
	    sb_store_driver_name(sm.store));
	uv_run(sm.loop, UV_RUN_DEFAULT);

	sm_users_free(&sm);
	for (size_t i = 0; i < sm_nmodules; i++)
		if (sm_modules[i]->fini != NULL)
			sm_modules[i]->fini(&sm);
	sb_hmap_free(&sm.users);
	sb_hmap_free(&sm.sessions);
	sb_store_conf_free(&sm.store_conf);
	sm_conf_free(sm.conf);
	sb_arena_free(&sm.in);
	sb_arena_free(&sm.scratch);
	sb_buf_free(&sm.out);
	sb_proc_free(&sm.proc);
	if ((rc = uv_loop_close(sm.loop)) != 0)
		log_error("the loop still has handles open: %s", uv_strerror(rc));
	log_notice("stopped");
	return rc == 0 ? 0 : 1;
}
