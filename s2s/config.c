/*
 * config.c: s2s.xml read into a struct s2s_conf.
 *
 *   <s2s>
 *     <log level='info'/>
 *     <router address='127.0.0.1' port='5347' name='s2s1' secret='...'/>
 *     <listen address='*' port='5269'/>                 any number; this one by default
 *     <listen address='*' port='5270' tls='direct-tls'/> XEP-0368
 *     <domain name='example.org'>                       one or more
 *       <certificate>example.org.crt</certificate> <key>example.org.key</key>
 *     </domain>
 *     <tls priority='...' ca-file='...' require='yes' bidi='yes'/>
 *     <dns server='127.0.0.53' timeout='5s'/>
 *     <dialback secret='...'/>
 *     <policy default='require-cert'>                   require-cert | dialback | deny
 *       <remote domain='old.example' policy='dialback'/>
 *     </policy>
 *     <host domain='peer.example' address='10.0.0.2' port='5269' tls='starttls'/>
 *     <limits> <connect-timeout/> <setup-timeout/> <idle-timeout/>
 *       <verify-timeout/> <queue/> <queue-size/> <stanza-size/> <write-buffer/>
 *     </limits>
 *   </s2s>
 *
 * Every section is strict. Domain names are kept in canonical form, so a
 * policy for 'Old.Example' applies to stanzas for 'old.example'.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "jid.h"
#include "s2s.h"
#include "xmalloc.h"

static const struct sb_config_enum tls_modes[] = {
	{ "starttls", 0 }, { "direct-tls", 1 }, { NULL, 0 }
};

static const struct sb_config_enum policy_names[] = {
	{ "require-cert", S2S_POLICY_REQUIRE_CERT }, { "dialback", S2S_POLICY_DIALBACK },
	{ "deny", S2S_POLICY_DENY }, { NULL, 0 }
};

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct s2s_conf, member, __VA_ARGS__)
static const struct sb_config_field root_fields[] = {
	F("log@level", SB_CONFIG_ENUM, log_level, "info", .names = sb_config_log_levels),
	F("status@file", SB_CONFIG_PATH, status_path, NULL),
	F("status@interval", SB_CONFIG_DURATION, status_ms, "5s", .min = 100, .max = 3600 * 1000),
	F("router@address", SB_CONFIG_STR, router_addr, "127.0.0.1", .min = 1),
	F("router@port", SB_CONFIG_PORT, router_port, "5347"),
	F("router@name", SB_CONFIG_STR, name, NULL, .min = 1, .max = 1023,
	    .flags = SB_CONFIG_REQUIRED),
	F("router@secret", SB_CONFIG_STR, secret, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("tls@priority", SB_CONFIG_STR, tls_priority, NULL, .min = 1),
	F("tls@ca-file", SB_CONFIG_PATH, ca_file, NULL),
	F("tls@require", SB_CONFIG_BOOL, require_tls, "yes"),
	F("tls@bidi", SB_CONFIG_BOOL, bidi, "yes"),
	F("dns@server", SB_CONFIG_STR, dns_servers, NULL, .min = 1),
	F("dns@timeout", SB_CONFIG_DURATION, dns_timeout_ms, "5s", .min = 100, .max = 60000),
	F("dialback@secret", SB_CONFIG_STR, dialback_secret, NULL, .min = 16),
	F("policy@default", SB_CONFIG_ENUM, policy, "require-cert", .names = policy_names),
	F("limits/connect-timeout", SB_CONFIG_DURATION, connect_ms, "10s",
	    .min = 100, .max = 600000),
	F("limits/setup-timeout", SB_CONFIG_DURATION, setup_ms, "30s",
	    .min = 100, .max = 600000),
	F("limits/idle-timeout", SB_CONFIG_DURATION, idle_ms, "10m",
	    .min = 1000, .max = 7 * 24 * 3600 * 1000LL),
	F("limits/verify-timeout", SB_CONFIG_DURATION, verify_ms, "30s",
	    .min = 100, .max = 600000),
	F("limits/queue", SB_CONFIG_INT, queue_stanzas, "1000", .min = 1, .max = 1000000),
	F("limits/queue-size", SB_CONFIG_SIZE, queue_bytes, "4M",
	    .min = 1024, .max = 1024LL * 1024 * 1024),
	F("limits/stanza-size", SB_CONFIG_SIZE, stanza_size, "256k",
	    .min = 4096, .max = 16 * 1024 * 1024),
	F("limits/write-buffer", SB_CONFIG_SIZE, write_buffer, "4M",
	    .min = 64 * 1024, .max = 1024LL * 1024 * 1024),
	{ .path = "listen", .type = SB_CONFIG_SECTION },
	{ .path = "domain", .type = SB_CONFIG_SECTION },
	{ .path = "policy/remote", .type = SB_CONFIG_SECTION },
	{ .path = "host", .type = SB_CONFIG_SECTION },
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct s2s_listen, member, __VA_ARGS__)
static const struct sb_config_field listen_fields[] = {
	F("@address", SB_CONFIG_STR, address, "*", .min = 1),
	F("@port", SB_CONFIG_PORT, port, NULL, .flags = SB_CONFIG_REQUIRED),
	F("@tls", SB_CONFIG_ENUM, direct_tls, "starttls", .names = tls_modes),
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct s2s_domain, member, __VA_ARGS__)
static const struct sb_config_field domain_fields[] = {
	F("@name", SB_CONFIG_STR, name, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("certificate", SB_CONFIG_PATH, cert, NULL, .flags = SB_CONFIG_REQUIRED),
	F("key", SB_CONFIG_PATH, key, NULL, .flags = SB_CONFIG_REQUIRED),
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct s2s_remote, member, __VA_ARGS__)
static const struct sb_config_field remote_fields[] = {
	F("@domain", SB_CONFIG_STR, domain, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("@policy", SB_CONFIG_ENUM, policy, NULL, .names = policy_names,
	    .flags = SB_CONFIG_REQUIRED),
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct s2s_host, member, __VA_ARGS__)
static const struct sb_config_field host_fields[] = {
	F("@domain", SB_CONFIG_STR, domain, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("@address", SB_CONFIG_STR, address, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("@port", SB_CONFIG_PORT, port, "5269"),
	F("@tls", SB_CONFIG_ENUM, direct_tls, "starttls", .names = tls_modes),
	SB_CONFIG_END
};
#undef F

/* The n-th <name> child, for error messages after sb_config_apply_all. */
static const struct sb_config_node *
nth(const struct sb_config_node *parent, const char *name, size_t i)
{
	const struct sb_config_node *n = sb_config_child(parent, name);

	while (i-- > 0 && n != NULL)
		n = sb_config_next(n, name);
	return n;
}

static int
read_sections(struct s2s_conf *conf, const struct sb_config_node *root, char *err,
    size_t errlen)
{
	const struct sb_config_node *policy = sb_config_child(root, "policy");
	struct sockaddr_storage ss;

	if (sb_config_apply_all(root, "listen", listen_fields, &conf->arena,
	    sizeof(struct s2s_listen), (void **)&conf->listens, &conf->nlistens, err,
	    errlen) == -1 ||
	    sb_config_domains(root, "domain", domain_fields, &conf->arena,
	    sizeof(struct s2s_domain), offsetof(struct s2s_domain, name),
	    (void **)&conf->domains, &conf->ndomains, err, errlen) == -1 ||
	    sb_config_apply_all(policy, "remote", remote_fields, &conf->arena,
	    sizeof(struct s2s_remote), (void **)&conf->remotes, &conf->nremotes, err,
	    errlen) == -1 ||
	    sb_config_apply_all(root, "host", host_fields, &conf->arena,
	    sizeof(struct s2s_host), (void **)&conf->hosts, &conf->nhosts, err,
	    errlen) == -1)
		return -1;
	if (conf->nlistens == 0) {
		conf->nlistens = 1;
		conf->listens[0] = (struct s2s_listen){ "*", 5269, 0 };
	}
	if (conf->ndomains == 0)
		return sb_config_errorf(root, err, errlen,
		    "no <domain>: name at least one domain this server serves, with its "
		    "certificate and key");
	for (size_t i = 0; i < conf->nremotes; i++)
		if (sb_config_domain_canon(nth(policy, "remote", i), &conf->arena,
		    &conf->remotes[i].domain, err, errlen) == -1)
			return -1;
	for (size_t i = 0; i < conf->nhosts; i++) {
		const struct sb_config_node *n = nth(root, "host", i);

		if (sb_config_domain_canon(n, &conf->arena, &conf->hosts[i].domain, err,
		    errlen) == -1)
			return -1;
		if (sb_addr_parse(conf->hosts[i].address, conf->hosts[i].port, &ss) == -1)
			return sb_config_errorf(n, err, errlen,
			    "address \"%s\" is not a numeric IPv4 or IPv6 address",
			    conf->hosts[i].address);
	}
	return 0;
}

struct s2s_conf *
s2s_conf_load(const char *path, char *err, size_t errlen)
{
	struct s2s_conf *conf = xcalloc(1, sizeof(*conf));
	const struct sb_config_node *root;

	sb_arena_init(&conf->arena, 0);
	if (sb_config_load(&conf->cfg, path, err, errlen) == -1)
		goto fail;
	conf->path = sb_arena_strdup(&conf->arena, path);
	root = sb_config_root(conf->cfg);
	if (strcmp(sb_config_name(root), "s2s") != 0) {
		sb_config_errorf(root, err, errlen, "the root element must be <s2s>");
		goto fail;
	}
	if (sb_config_apply(root, root_fields, conf, SB_CONFIG_STRICT, err, errlen) == -1 ||
	    read_sections(conf, root, err, errlen) == -1)
		goto fail;
	return conf;
fail:
	s2s_conf_free(conf);
	return NULL;
}

void
s2s_conf_free(struct s2s_conf *conf)
{
	if (conf == NULL)
		return;
	sb_config_free(conf->cfg);
	sb_arena_free(&conf->arena);
	free(conf);
}

const struct s2s_domain *
s2s_conf_domain(const struct s2s_conf *conf, const char *name)
{
	for (size_t i = 0; i < conf->ndomains; i++)
		if (strcmp(conf->domains[i].name, name) == 0)
			return &conf->domains[i];
	return NULL;
}

const struct s2s_host *
s2s_conf_host(const struct s2s_conf *conf, const char *domain)
{
	for (size_t i = 0; i < conf->nhosts; i++)
		if (strcmp(conf->hosts[i].domain, domain) == 0)
			return &conf->hosts[i];
	return NULL;
}

enum s2s_policy
s2s_conf_policy(const struct s2s_conf *conf, const char *domain)
{
	if (domain != NULL)
		for (size_t i = 0; i < conf->nremotes; i++)
			if (strcmp(conf->remotes[i].domain, domain) == 0)
				return (enum s2s_policy)conf->remotes[i].policy;
	return (enum s2s_policy)conf->policy;
}

int
s2s_conf_any_dialback(const struct s2s_conf *conf)
{
	if (conf->policy == S2S_POLICY_DIALBACK)
		return 1;
	for (size_t i = 0; i < conf->nremotes; i++)
		if (conf->remotes[i].policy == S2S_POLICY_DIALBACK)
			return 1;
	return 0;
}
