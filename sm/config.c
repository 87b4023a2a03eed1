/*
 * config.c: sm.xml read into a struct sm_conf.
 *
 *   <sm>
 *     <log level='info'/>
 *     <router address='127.0.0.1' port='5347' name='sm1' secret='...'/>
 *     <domain name='localhost' share='yes'/>                one or more
 *     <limits>
 *       <offline-messages>1000</offline-messages>  <roster-items>1000</roster-items>
 *       <user-idle>5m</user-idle>  <queue>1000</queue>  <private-size>64k</private-size>
 *     </limits>
 *     <version name='switchboard' version='0.1' os='no'/>
 *     <contact type='admin' uri='xmpp:admin@localhost'/>      any number (XEP-0157)
 *   </sm>
 *
 * Every section is strict, so a misspelt element is an error. Domain names
 * are kept in canonical form. The whole file is read or nothing is.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "sm.h"
#include "xmalloc.h"

#ifndef SB_VERSION
#define SB_VERSION "0.1"
#endif

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct sm_conf, member, __VA_ARGS__)
static const struct sb_config_field root_fields[] = {
	F("log@level", SB_CONFIG_ENUM, log_level, "info", .names = sb_config_log_levels),
	F("status@file", SB_CONFIG_PATH, status_path, NULL),
	F("status@interval", SB_CONFIG_DURATION, status_ms, "5s", .min = 100, .max = 3600 * 1000),
	F("router@address", SB_CONFIG_STR, router_addr, "127.0.0.1", .min = 1),
	F("router@port", SB_CONFIG_PORT, router_port, "5347"),
	F("router@name", SB_CONFIG_STR, name, NULL, .min = 1, .max = 1023,
	    .flags = SB_CONFIG_REQUIRED),
	F("router@secret", SB_CONFIG_STR, secret, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("limits/offline-messages", SB_CONFIG_INT, offline_max, "1000",
	    .min = 0, .max = 1000000),
	F("limits/roster-items", SB_CONFIG_INT, roster_max, "1000", .min = 1, .max = 100000),
	F("limits/user-idle", SB_CONFIG_DURATION, user_idle_ms, "5m",
	    .min = 0, .max = 7 * 24 * 3600 * 1000LL),
	F("limits/queue", SB_CONFIG_INT, queue_max, "1000", .min = 10, .max = 1000000),
	F("limits/private-size", SB_CONFIG_SIZE, private_max, "64k",
	    .min = 1024, .max = 16 * 1024 * 1024),
	F("version@name", SB_CONFIG_STR, version_name, "switchboard", .min = 1, .max = 255),
	F("version@version", SB_CONFIG_STR, version_version, SB_VERSION, .min = 1, .max = 255),
	F("version@os", SB_CONFIG_BOOL, version_show_os, "no"),
	{ .path = "domain", .type = SB_CONFIG_SECTION },
	{ .path = "contact", .type = SB_CONFIG_SECTION },
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct sm_domain, member, __VA_ARGS__)
static const struct sb_config_field domain_fields[] = {
	F("@name", SB_CONFIG_STR, name, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("@share", SB_CONFIG_BOOL, share, "yes"),
	SB_CONFIG_END
};
#undef F

/* XEP-0157 address types (the serverinfo form's fields, without "-addresses"). */
static const char *const contact_types[] = {
	"abuse", "admin", "feedback", "sales", "security", "status", "support",
};

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct sm_contact_addr, member, __VA_ARGS__)
static const struct sb_config_field contact_fields[] = {
	F("@type", SB_CONFIG_STR, type, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("@uri", SB_CONFIG_STR, uri, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	SB_CONFIG_END
};
#undef F

static int
read_domains(struct sm_conf *conf, const struct sb_config_node *root, char *err, size_t errlen)
{
	if (sb_config_count(root, "domain") == 0)
		return sb_config_errorf(root, err, errlen,
		    "no <domain>: name at least one domain this server serves");
	return sb_config_domains(root, "domain", domain_fields, &conf->arena,
	    sizeof(struct sm_domain), offsetof(struct sm_domain, name),
	    (void **)&conf->domains, &conf->ndomains, err, errlen);
}

static int
read_contacts(struct sm_conf *conf, const struct sb_config_node *root, char *err,
    size_t errlen)
{
	const struct sb_config_node *n;
	size_t i = 0;

	conf->ncontacts = sb_config_count(root, "contact");
	if (conf->ncontacts == 0)
		return 0;
	conf->contacts = sb_arena_zalloc(&conf->arena, conf->ncontacts * sizeof(*conf->contacts));
	for (n = sb_config_child(root, "contact"); n != NULL; n = sb_config_next(n, "contact"),
	    i++) {
		struct sm_contact_addr *c = &conf->contacts[i];
		size_t k;

		if (sb_config_apply(n, contact_fields, c, SB_CONFIG_STRICT, err, errlen) == -1)
			return -1;
		for (k = 0; k < sizeof(contact_types) / sizeof(contact_types[0]); k++)
			if (strcmp(c->type, contact_types[k]) == 0)
				break;
		if (k == sizeof(contact_types) / sizeof(contact_types[0]))
			return sb_config_errorf(n, err, errlen, "contact type '%s' is not one of "
			    "abuse, admin, feedback, sales, security, status, support", c->type);
		if (strchr(c->uri, ':') == NULL)
			return sb_config_errorf(n, err, errlen, "contact uri '%s' is not a URI "
			    "(xmpp:, mailto:, https:, ...)", c->uri);
	}
	return 0;
}

struct sm_conf *
sm_conf_load(const char *path, char *err, size_t errlen)
{
	struct sm_conf *conf = xcalloc(1, sizeof(*conf));
	const struct sb_config_node *root;

	sb_arena_init(&conf->arena, 0);
	if (sb_config_load(&conf->cfg, path, err, errlen) == -1)
		goto fail;
	conf->path = sb_arena_strdup(&conf->arena, path);
	root = sb_config_root(conf->cfg);
	if (strcmp(sb_config_name(root), "sm") != 0) {
		sb_config_errorf(root, err, errlen, "the root element must be <sm>");
		goto fail;
	}
	if (sb_config_apply(root, root_fields, conf, SB_CONFIG_STRICT, err, errlen) == -1 ||
	    read_domains(conf, root, err, errlen) == -1 ||
	    read_contacts(conf, root, err, errlen) == -1)
		goto fail;
	return conf;
fail:
	sm_conf_free(conf);
	return NULL;
}

void
sm_conf_free(struct sm_conf *conf)
{
	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->ndomains; i++) {
		for (size_t k = 0; k < conf->domains[i].nholders; k++)
			free(conf->domains[i].holders[k]);
		free(conf->domains[i].holders);
		free(conf->domains[i].holder_hashes);
	}
	sb_config_free(conf->cfg);
	sb_arena_free(&conf->arena);
	free(conf);
}

struct sm_domain *
sm_conf_domain(const struct sm_conf *conf, const char *s, size_t len)
{
	for (size_t i = 0; i < conf->ndomains; i++)
		if (strlen(conf->domains[i].name) == len &&
		    memcmp(conf->domains[i].name, s, len) == 0)
			return &conf->domains[i];
	return NULL;
}
