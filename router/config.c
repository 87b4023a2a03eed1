/*
 * config.c: router.xml read into a struct router_conf.
 *
 *   <router>
 *     <log level='info'/>
 *     <listen address='127.0.0.1' port='5347'/>        any number; this one by default
 *     <limits>
 *       <stanza-size>256k</stanza-size>
 *       <write-buffer>4M</write-buffer>
 *       <handshake-timeout>10s</handshake-timeout>
 *     </limits>
 *     <component name='sm1' secret='...' internal='yes' share='no' default-route='no'>
 *       <bind name='localhost' share='yes'/>
 *     </component>
 *   </router>
 *
 * Every name is stored in its canonical form (sb_jid_prepare of a
 * domainpart), so "LocalHost" in the file and "localhost" in a stream
 * header are the same name. A name is shared when any entry naming it says
 * share='yes' (a <bind/> without share takes its component's). The whole
 * file is read or nothing is: a reload that fails keeps the old one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jid.h"
#include "router.h"
#include "xmalloc.h"

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct router_conf, member, __VA_ARGS__)
static const struct sb_config_field root_fields[] = {
	F("log@level", SB_CONFIG_ENUM, log_level, "info", .names = sb_config_log_levels),
	F("limits/stanza-size", SB_CONFIG_SIZE, stanza_size, "256k",
	    .min = 1024, .max = 64 * 1024 * 1024),
	F("limits/write-buffer", SB_CONFIG_SIZE, write_buffer, "4M",
	    .min = 4096, .max = 1024LL * 1024 * 1024),
	F("limits/stuck-timeout", SB_CONFIG_DURATION, stuck_ms, "30s",
	    .min = 100, .max = 3600 * 1000),
	F("limits/handshake-timeout", SB_CONFIG_DURATION, handshake_ms, "10s",
	    .min = 100, .max = 3600 * 1000),
	F("status@file", SB_CONFIG_PATH, status_path, NULL),
	F("status@interval", SB_CONFIG_DURATION, status_ms, "5s", .min = 100, .max = 3600 * 1000),
	{ .path = "listen", .type = SB_CONFIG_SECTION },
	{ .path = "component", .type = SB_CONFIG_SECTION },
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct router_listen, member, __VA_ARGS__)
static const struct sb_config_field listen_fields[] = {
	F("@address", SB_CONFIG_STR, address, "127.0.0.1", .min = 1),
	F("@port", SB_CONFIG_PORT, port, "5347"),
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct router_component, member, __VA_ARGS__)
static const struct sb_config_field component_fields[] = {
	F("@name", SB_CONFIG_STR, name, NULL, .flags = SB_CONFIG_REQUIRED),
	F("@secret", SB_CONFIG_STR, secret, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("@internal", SB_CONFIG_BOOL, internal, "no"),
	F("@share", SB_CONFIG_BOOL, share, "no"),
	F("@default-route", SB_CONFIG_BOOL, default_route, "no"),
	{ .path = "bind", .type = SB_CONFIG_SECTION },
	SB_CONFIG_END
};
#undef F

struct bind_entry {
	const char	*name;
	int		 share;
};

/* share is read by hand: absent means "as the component says". */
static const struct sb_config_field bind_fields[] = {
	SB_CONFIG_FIELD("@name", SB_CONFIG_STR, struct bind_entry, name, NULL,
	    .flags = SB_CONFIG_REQUIRED),
	SB_CONFIG_FIELD("@share", SB_CONFIG_BOOL, struct bind_entry, share, NULL),
	SB_CONFIG_END
};

/* The canonical form of a name from the file, into the conf's arena. */
static const char *
canonical(struct router_conf *conf, const struct sb_config_node *n, const char *raw,
    char *err, size_t errlen)
{
	const char *out, *why;
	size_t len;

	if (sb_jid_prepare_arena(SB_JID_DOMAIN, &conf->arena, raw, strlen(raw), &out, &len,
	    &why) == -1) {
		sb_config_errorf(n, err, errlen, "name \"%s\": %s", raw, why);
		return NULL;
	}
	return out;
}

/* Record what an entry says about a name; the first mention decides comp. */
static void
note_name(struct router_conf *conf, size_t *cap, const char *name, int share,
    const struct router_component *comp)
{
	for (size_t i = 0; i < conf->nnames; i++) {
		if (strcmp(conf->names[i].name, name) == 0) {
			conf->names[i].share |= share;
			if (comp != NULL)
				conf->names[i].comp = comp;
			return;
		}
	}
	if (conf->nnames == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		conf->names = xrealloc(conf->names, *cap * sizeof(*conf->names));
	}
	conf->names[conf->nnames++] = (struct router_confname){ name, share, comp };
}

static int
read_component(struct router_conf *conf, const struct sb_config_node *n,
    struct router_component *comp, char *err, size_t errlen)
{
	const struct sb_config_node *b;
	size_t k = 0;

	memset(comp, 0, sizeof(*comp));
	if (sb_config_apply(n, component_fields, comp, SB_CONFIG_STRICT, err, errlen) == -1)
		return -1;
	comp->line = sb_config_line(n);
	if (comp->default_route && !comp->internal)
		return sb_config_errorf(n, err, errlen,
		    "default-route='yes' needs internal='yes' (it is asked for with a router command)");
	if ((comp->name = canonical(conf, n, comp->name, err, errlen)) == NULL)
		return -1;
	for (size_t i = 0; i < (size_t)(comp - conf->comps); i++)
		if (strcmp(conf->comps[i].name, comp->name) == 0)
			return sb_config_errorf(n, err, errlen,
			    "component '%s' is already defined at line %d", comp->name,
			    conf->comps[i].line);
	comp->nbinds = sb_config_count(n, "bind");
	comp->binds = sb_arena_zalloc(&conf->arena, (comp->nbinds + 1) * sizeof(char *));
	for (b = sb_config_child(n, "bind"); b != NULL; b = sb_config_next(b, "bind")) {
		struct bind_entry be = { NULL, 0 };

		if (sb_config_apply(b, bind_fields, &be, SB_CONFIG_STRICT, err, errlen) == -1)
			return -1;
		if ((comp->binds[k++] = canonical(conf, b, be.name, err, errlen)) == NULL)
			return -1;
	}
	return 0;
}

/* Second pass, once every component is known: the share flag of each name. */
static void
collect_names(struct router_conf *conf)
{
	const struct sb_config_node *root = sb_config_root(conf->cfg), *n, *b;
	size_t cap = 0, i = 0, k;

	for (i = 0; i < conf->ncomps; i++)
		note_name(conf, &cap, conf->comps[i].name, conf->comps[i].share, &conf->comps[i]);
	i = 0;
	for (n = sb_config_child(root, "component"); n != NULL; n = sb_config_next(n, "component")) {
		const struct router_component *comp = &conf->comps[i++];

		k = 0;
		for (b = sb_config_child(n, "bind"); b != NULL; b = sb_config_next(b, "bind")) {
			const char *s = sb_config_attr(b, "share");
			int share = comp->share;

			if (s != NULL)
				sb_config_parse_bool(s, &share);	/* checked by apply */
			note_name(conf, &cap, comp->binds[k++], share, NULL);
		}
	}
}

struct router_conf *
router_conf_load(const char *path, char *err, size_t errlen)
{
	struct router_conf *conf = xcalloc(1, sizeof(*conf));
	const struct sb_config_node *root, *n;
	size_t i;

	sb_arena_init(&conf->arena, 0);
	if (sb_config_load(&conf->cfg, path, err, errlen) == -1)
		goto fail;
	conf->path = sb_arena_strdup(&conf->arena, path);
	root = sb_config_root(conf->cfg);
	if (strcmp(sb_config_name(root), "router") != 0) {
		sb_config_errorf(root, err, errlen, "the root element must be <router>");
		goto fail;
	}
	if (sb_config_apply(root, root_fields, conf, SB_CONFIG_STRICT, err, errlen) == -1)
		goto fail;

	conf->nlistens = sb_config_count(root, "listen");
	if (conf->nlistens == 0) {
		conf->nlistens = 1;
		conf->listens = sb_arena_zalloc(&conf->arena, sizeof(*conf->listens));
		conf->listens[0] = (struct router_listen){ "127.0.0.1", 5347 };
	} else {
		conf->listens = sb_arena_zalloc(&conf->arena,
		    conf->nlistens * sizeof(*conf->listens));
		i = 0;
		for (n = sb_config_child(root, "listen"); n != NULL; n = sb_config_next(n, "listen"))
			if (sb_config_apply(n, listen_fields, &conf->listens[i++], SB_CONFIG_STRICT,
			    err, errlen) == -1)
				goto fail;
	}

	conf->ncomps = sb_config_count(root, "component");
	conf->comps = sb_arena_zalloc(&conf->arena, (conf->ncomps + 1) * sizeof(*conf->comps));
	i = 0;
	for (n = sb_config_child(root, "component"); n != NULL; n = sb_config_next(n, "component"))
		if (read_component(conf, n, &conf->comps[i++], err, errlen) == -1)
			goto fail;
	collect_names(conf);
	return conf;
fail:
	router_conf_free(conf);
	return NULL;
}

void
router_conf_free(struct router_conf *conf)
{
	if (conf == NULL)
		return;
	sb_config_free(conf->cfg);
	sb_arena_free(&conf->arena);
	free(conf->names);
	free(conf);
}

int
router_conf_may_bind(const struct router_component *comp, const char *name)
{
	if (comp == NULL)
		return 0;
	if (strcmp(comp->name, name) == 0)
		return 1;
	for (size_t i = 0; i < comp->nbinds; i++)
		if (strcmp(comp->binds[i], name) == 0)
			return 1;
	return 0;
}

static int
same_listeners(const struct router_conf *a, const struct router_conf *b)
{
	if (a->nlistens != b->nlistens)
		return 0;
	for (size_t i = 0; i < a->nlistens; i++)
		if (a->listens[i].port != b->listens[i].port ||
		    strcmp(a->listens[i].address, b->listens[i].address) != 0)
			return 0;
	return 1;
}

void
router_reload(struct router *r)
{
	struct router_conf *conf;
	char err[2048];

	if ((conf = router_conf_load(r->conf_path, err, sizeof(err))) == NULL) {
		log_error("reload: %s; the running configuration stays", err);
		return;
	}
	if (!same_listeners(r->conf, conf))
		log_warn("reload: <listen> changes take effect at the next start");
	/* Links keep the names they hold; new handshakes and binds see the new file. */
	names_configure(&r->names, conf);
	router_conf_free(r->conf);
	r->conf = conf;
	sb_log_set_level((enum sb_log_level)conf->log_level);
	log_notice("reloaded %s: %zu components", conf->path, conf->ncomps);
}
