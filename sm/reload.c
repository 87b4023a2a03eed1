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
#include <string.h>

#include "reload.h"
#include "sm.h"

static int
same_domains(const void *old, const void *conf)
{
	const struct sm_conf *a = old, *b = conf;

	if (a->ndomains != b->ndomains)
		return 0;
	for (size_t i = 0; i < a->ndomains; i++)
		if (a->domains[i].share != b->domains[i].share ||
		    strcmp(a->domains[i].name, b->domains[i].name) != 0)
			return 0;
	return 1;
}

/*
 * What a running sm cannot change: a new configuration gets the running
 * values. The domains are only named here: move_domains() moves them
 * whether they changed or not, for the holders they carry.
 */
static const struct sb_keep restart_only[] = {
	SB_KEEP_ROUTER(struct sm_conf),
	SB_KEEP_FN("<domain>", same_domains, NULL),
	SB_KEEP_STATUS(struct sm_conf),
};

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
	sb_keep_running(old, conf, &conf->arena, restart_only, SB_KEEP_N(restart_only), restart,
	    sizeof(restart));
	move_domains(old, conf);
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
