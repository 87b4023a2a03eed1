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
#include "signals.h"

static const char *const default_configs[] = {
	"etc/router.xml",
	"/usr/local/etc/switchboard/router.xml",
};

static void
usage(void)
{
	fprintf(stderr, "usage: sb-router [-f] [-c router.xml]\n");
	exit(2);
}

static const char *
find_config(void)
{
	for (size_t i = 0; i < sizeof(default_configs) / sizeof(default_configs[0]); i++)
		if (access(default_configs[i], R_OK) == 0)
			return default_configs[i];
	return default_configs[sizeof(default_configs) / sizeof(default_configs[0]) - 1];
}

static void
stop(struct router *r)
{
	log_notice("shutting down");
	status_stop(r);
	links_shutdown(r);
}

static void
report(struct router *r)
{
	links_log_counters(r);
	status_write(r);
}

static const struct {
	int	 signum;
	void	(*fn)(struct router *);
} signal_actions[] = {
	{ SIGINT, stop },
	{ SIGTERM, stop },
	{ SIGHUP, router_reload },
	{ SIGUSR1, report },
};

static void
on_signal(struct sb_signal *s, int signum, void *arg)
{
	struct router *r = arg;

	if (r->stopping)
		return;
	for (size_t i = 0; i < sizeof(signal_actions) / sizeof(signal_actions[0]); i++)
		if (signal_actions[i].signum == signum)
			signal_actions[i].fn(r);
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
	struct router r = { .loop = uv_default_loop() };
	char err[2048];
	int ch, rc;

	while ((ch = getopt(argc, argv, "c:fh")) != -1) {
		switch (ch) {
		case 'c':
			r.conf_path = optarg;
			break;
		case 'f':		/* the foreground is the only mode for now */
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	if (r.conf_path == NULL)
		r.conf_path = find_config();

	sb_log_open("router", 0, SB_LOG_INFO);
	if ((r.conf = router_conf_load(r.conf_path, err, sizeof(err))) == NULL)
		fatal("%s", err);
	sb_log_set_level((enum sb_log_level)r.conf->log_level);
	names_init(&r.names);
	names_configure(&r.names, r.conf);
	sb_arena_init(&r.scratch, 0);

	listen_all(&r);
	status_start(&r);
	if (sb_signals_init(r.loop, on_signal, &r) == -1)
		fatal("cannot install signal handlers");
	log_notice("started with %s: %zu components", r.conf_path, r.conf->ncomps);
	uv_run(r.loop, UV_RUN_DEFAULT);

	names_free(&r.names);
	router_conf_free(r.conf);
	sb_arena_free(&r.scratch);
	sb_buf_free(&r.out);
	if ((rc = uv_loop_close(r.loop)) != 0)
		log_error("the loop still has handles open: %s", uv_strerror(rc));
	log_notice("stopped");
	return rc == 0 ? 0 : 1;
}
