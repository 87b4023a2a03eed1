/*
 * reload.c: SIGHUP. sm.xml is read again and, when it loads, replaces the
 * running configuration:
 *
 *   limits         offline messages, roster items, queue, private size at
 *                  once; user-idle for users that become idle from now on
 *   <version/>     XEP-0092 answers at once
 *   <contact/>     XEP-0157 addresses in the server's disco#info at once
 *   log level      at once
 *
 * The served domains are bound at the router when the link comes up, and
 * the link (complink.h) cannot bind or unbind later; so <domain/> changes
 * (names, share), like the router link itself and the status file, take
 * effect at the next start: the new configuration gets the running values
 * and a warning says so. A file that does not load is logged and changes
 * nothing.
 *
 * Memory: users point at their domain (u->domain), and each domain holds
 * the other holders the router announced. The running domain list moves
 * into the new configuration (holders included) and every user is pointed
 * at its entry there before the old configuration is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sm.h"

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
same_domains(const struct sm_conf *a, const struct sm_conf *b)
{
	if (a->ndomains != b->ndomains)
		return 0;
	for (size_t i = 0; i < a->ndomains; i++)
		if (a->domains[i].share != b->domains[i].share ||
		    strcmp(a->domains[i].name, b->domains[i].name) != 0)
			return 0;
	return 1;
}

/* The running domains, with the holders the router announced, move from old to conf. */
static void
move_domains(struct sm_conf *old, struct sm_conf *conf)
{
	conf->ndomains = old->ndomains;
	conf->domains = sb_arena_zalloc(&conf->arena, old->ndomains * sizeof(*conf->domains));
	for (size_t i = 0; i < old->ndomains; i++) {
		struct sm_domain *d = &old->domains[i];

		conf->domains[i] = *d;
		conf->domains[i].name = sb_arena_strdup(&conf->arena, d->name);
		d->holders = NULL;
		d->holder_hashes = NULL;
		d->nholders = 0;
	}
}

/*
 * The settings a running process cannot change: conf gets the running
 * values (copied into its arena, the domains moved), and their names go
 * to list.
 */
static void
keep_running(struct sm_conf *old, struct sm_conf *conf, char *list, size_t size)
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
	if (!same_domains(old, conf))
		note(list, size, "<domain>");
	move_domains(old, conf);
	if (!same_str(old->status_path, conf->status_path) || old->status_ms != conf->status_ms) {
		note(list, size, "<status>");
		conf->status_path = dup_str(&conf->arena, old->status_path);
		conf->status_ms = old->status_ms;
	}
}

struct repoint {
	const struct sm_conf	*old, *conf;
};

static int
repoint_user(struct sb_hmap_node *n, void *arg)
{
	struct sm_user *u = SB_HMAP_ENTRY(n, struct sm_user, hn);
	const struct repoint *r = arg;

	if (u->domain != NULL)
		u->domain = &r->conf->domains[u->domain - r->old->domains];
	return 0;
}

void
sm_reload(struct sm *sm)
{
	struct sm_conf *conf, *old = sm->conf;
	struct repoint r;
	char err[2048], restart[128] = "";

	if (sm->stopping)
		return;
	if ((conf = sm_conf_load(sm->conf_path, err, sizeof(err))) == NULL) {
		log_error("reload: %s; the running configuration stays", err);
		return;
	}
	keep_running(old, conf, restart, sizeof(restart));
	sb_log_set_level((enum sb_log_level)conf->log_level);
	if (restart[0] != '\0')
		log_warn("reload: changes to %s take effect at the next start", restart);
	r = (struct repoint){ old, conf };
	sb_hmap_each(&sm->users, repoint_user, &r);
	sm->conf = conf;
	sm_conf_free(old);
	log_notice("reloaded %s: %zu domains, %zu contact addresses, version '%s %s', limits: "
	    "offline %d, roster %d, queue %d", conf->path, conf->ndomains, conf->ncontacts,
	    conf->version_name, conf->version_version, conf->offline_max, conf->roster_max,
	    conf->queue_max);
}
