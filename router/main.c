/*
 * main.c: the router process. It reads router.xml, listens for component
 * links, and forwards stanzas between them by domain until a signal says
 * otherwise:
 *
 *   SIGINT, SIGTERM   every link gets <system-shutdown/>, then exit 0
 *   SIGHUP            read router.xml again (components, secrets, limits)
 *   SIGUSR1           log every link's counters and write the status file
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "router.h"

static void
stop(void *arg)
{
	struct router *r = arg;

	log_notice("shutting down");
	sb_status_stop(r->status);
	r->status = NULL;
	links_shutdown(r);
}

static void
reload(void *arg)
{
	router_reload(arg);
}

static void
report(void *arg)
{
	struct router *r = arg;

	links_log_counters(r);
	sb_status_write(r->status);
}

static void
listen_all(struct router *r)
{
	char err[256];

	for (size_t i = 0; i < r->conf->nlistens; i++) {
		const struct router_listen *ls = &r->conf->listens[i];

		if (sb_listener_new(r->loop, ls->address, ls->port, 0, NULL, link_accept, r,
		    err, sizeof(err)) == NULL)
			fatal("%s", err);
		log_notice("listening on %s port %d", ls->address, ls->port);
	}
}

int
main(int argc, char **argv)
{
	struct router r = {
		.loop = uv_default_loop(),
		.proc = { .name = "router", .stop = stop, .reload = reload, .report = report },
	};
	char err[2048];
	int rc;

	r.proc.arg = &r;
	sb_proc_init(&r.proc, argc, argv);
	r.conf_path = r.proc.conf_path;
	if ((r.conf = router_conf_load(r.conf_path, err, sizeof(err))) == NULL)
		fatal("%s", err);
	sb_proc_checked(&r.proc);
	sb_log_set_level((enum sb_log_level)r.conf->log_level);
	names_init(&r.names);
	names_configure(&r.names, r.conf);
	sb_arena_init(&r.scratch, 0);

	listen_all(&r);
	if (r.conf->status_path != NULL)
		r.status = sb_status_start(r.loop, "router", r.conf->status_path,
		    r.conf->status_ms, router_status, &r);
	sb_proc_signals(&r.proc, r.loop);
	log_notice("started with %s: %zu components", r.conf_path, r.conf->ncomps);
	sb_proc_ready(&r.proc);
	uv_run(r.loop, UV_RUN_DEFAULT);

	names_free(&r.names);
	router_conf_free(r.conf);
	sb_arena_free(&r.scratch);
	sb_buf_free(&r.out);
	sb_proc_free(&r.proc);
	if ((rc = uv_loop_close(r.loop)) != 0)
		log_error("the loop still has handles open: %s", uv_strerror(rc));
	log_notice("stopped");
	return rc == 0 ? 0 : 1;
}
