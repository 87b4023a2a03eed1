/*
 * config.c: c2s.xml read into a struct c2s_conf.
 *
 *   <c2s>
 *     <log level='info'/>
 *     <router address='127.0.0.1' port='5347' name='c2s1' secret='...'/>
 *     <listen address='*' port='5222' tls='starttls'/>          any number; these two
 *     <listen address='*' port='5223' tls='direct-tls' alpn='xmpp-client'/>  by default
 *     <tls priority='...'/>                                     optional
 *     <domain name='localhost'>                                 one or more
 *       <certificate>localhost.crt</certificate>
 *       <key>localhost.key</key>
 *       <registration>no</registration>
 *       <legacy-auth>no</legacy-auth>
 *     </domain>
 *     <limits>
 *       <stanza-size>64k</stanza-size> <login-timeout>30s</login-timeout>
 *       <idle-timeout>5m</idle-timeout> <ping-interval>2m</ping-interval>
 *       <connections-per-address>32</connections-per-address>
 *       <read-rate>64k</read-rate> <read-burst>256k</read-burst>
 *       <write-buffer>1M</write-buffer> <auth-failures>3</auth-failures>
 *     </limits>
 *   </c2s>
 *
 * Every section is strict, so a misspelt element is an error. Domain names
 * are kept in canonical form (sb_jid_prepare of a domainpart): a stream to
 * 'LocalHost' is a stream to 'localhost'. The whole file is read or
 * nothing is.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "config.h"
#include "jid.h"
#include "xmalloc.h"

static const struct sb_config_enum tls_modes[] = {
	{ "starttls", C2S_LISTEN_STARTTLS }, { "direct-tls", C2S_LISTEN_DIRECT_TLS },
	{ NULL, 0 }
};

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct c2s_conf, member, __VA_ARGS__)
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
	F("limits/stanza-size", SB_CONFIG_SIZE, stanza_size, "64k",
	    .min = 4096, .max = 16 * 1024 * 1024),
	F("limits/login-timeout", SB_CONFIG_DURATION, login_ms, "30s",
	    .min = 100, .max = 3600 * 1000),
	F("limits/idle-timeout", SB_CONFIG_DURATION, idle_ms, "5m",
	    .min = 100, .max = 7 * 24 * 3600 * 1000LL),
	F("limits/ping-interval", SB_CONFIG_DURATION, ping_ms, "2m",
	    .min = 0, .max = 24 * 3600 * 1000LL),
	F("limits/connections-per-address", SB_CONFIG_INT, per_address, "32",
	    .min = 0, .max = 1000000),
	F("limits/read-rate", SB_CONFIG_SIZE, rate, "64k", .min = 0, .max = 1LL << 34),
	F("limits/read-burst", SB_CONFIG_SIZE, burst, "256k", .min = 1024, .max = 1LL << 34),
	F("limits/write-buffer", SB_CONFIG_SIZE, write_buffer, "1M",
	    .min = 16 * 1024, .max = 1024LL * 1024 * 1024),
	F("limits/auth-failures", SB_CONFIG_INT, auth_failures, "3", .min = 1, .max = 100),
	{ .path = "listen", .type = SB_CONFIG_SECTION },
	{ .path = "domain", .type = SB_CONFIG_SECTION },
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct c2s_listen, member, __VA_ARGS__)
static const struct sb_config_field listen_fields[] = {
	F("@address", SB_CONFIG_STR, address, "*", .min = 1),
	F("@port", SB_CONFIG_PORT, port, NULL, .flags = SB_CONFIG_REQUIRED),
	F("@tls", SB_CONFIG_ENUM, tls, "starttls", .names = tls_modes),
	F("@alpn", SB_CONFIG_STR, alpn, "xmpp-client", .min = 1, .max = 255),
	SB_CONFIG_END
};
#undef F

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct c2s_domain, member, __VA_ARGS__)
static const struct sb_config_field domain_fields[] = {
	F("@name", SB_CONFIG_STR, name, NULL, .min = 1, .flags = SB_CONFIG_REQUIRED),
	F("certificate", SB_CONFIG_PATH, cert, NULL, .flags = SB_CONFIG_REQUIRED),
	F("key", SB_CONFIG_PATH, key, NULL, .flags = SB_CONFIG_REQUIRED),
	F("registration", SB_CONFIG_BOOL, registration, "no"),
	F("legacy-auth", SB_CONFIG_BOOL, legacy_auth, "no"),
	SB_CONFIG_END
};
#undef F

static int
read_listens(struct c2s_conf *conf, const struct sb_config_node *root, char *err, size_t errlen)
{
	const struct sb_config_node *n;
	size_t i = 0;

	conf->nlistens = sb_config_count(root, "listen");
	if (conf->nlistens == 0) {
		/* RFC 6120 port with STARTTLS, XEP-0368 port with direct TLS. */
		conf->nlistens = 2;
		conf->listens = sb_arena_zalloc(&conf->arena, 2 * sizeof(*conf->listens));
		conf->listens[0] = (struct c2s_listen){ "*", 5222, C2S_LISTEN_STARTTLS, NULL };
		conf->listens[1] = (struct c2s_listen){ "*", 5223, C2S_LISTEN_DIRECT_TLS,
		    "xmpp-client" };
		return 0;
	}
	conf->listens = sb_arena_zalloc(&conf->arena, conf->nlistens * sizeof(*conf->listens));
	for (n = sb_config_child(root, "listen"); n != NULL; n = sb_config_next(n, "listen"), i++) {
		if (sb_config_apply(n, listen_fields, &conf->listens[i], SB_CONFIG_STRICT,
		    err, errlen) == -1)
			return -1;
		if (conf->listens[i].tls != C2S_LISTEN_DIRECT_TLS) {
			if (sb_config_attr(n, "alpn") != NULL)
				return sb_config_errorf(n, err, errlen,
				    "alpn applies to tls='direct-tls' only");
			conf->listens[i].alpn = NULL;
		}
	}
	return 0;
}

static int
read_domains(struct c2s_conf *conf, const struct sb_config_node *root, char *err, size_t errlen)
{
	if (sb_config_count(root, "domain") == 0)
		return sb_config_errorf(root, err, errlen,
		    "no <domain>: name at least one domain this server serves, with its "
		    "certificate and key");
	return sb_config_domains(root, "domain", domain_fields, &conf->arena,
	    sizeof(struct c2s_domain), offsetof(struct c2s_domain, name),
	    (void **)&conf->domains, &conf->ndomains, err, errlen);
}

struct c2s_conf *
c2s_conf_load(const char *path, char *err, size_t errlen)
{
	struct c2s_conf *conf = xcalloc(1, sizeof(*conf));
	const struct sb_config_node *root;

	sb_arena_init(&conf->arena, 0);
	if (sb_config_load(&conf->cfg, path, err, errlen) == -1)
		goto fail;
	conf->path = sb_arena_strdup(&conf->arena, path);
	root = sb_config_root(conf->cfg);
	if (strcmp(sb_config_name(root), "c2s") != 0) {
		sb_config_errorf(root, err, errlen, "the root element must be <c2s>");
		goto fail;
	}
	if (sb_config_apply(root, root_fields, conf, SB_CONFIG_STRICT, err, errlen) == -1)
		goto fail;
	if (conf->ping_ms != 0 && conf->ping_ms < 1000) {
		sb_config_errorf(sb_config_find(root, "limits/ping-interval"), err, errlen,
		    "a ping interval is 0 (off) or at least 1s");
		goto fail;
	}
	if (read_listens(conf, root, err, errlen) == -1 ||
	    read_domains(conf, root, err, errlen) == -1)
		goto fail;
	return conf;
fail:
	c2s_conf_free(conf);
	return NULL;
}

void
c2s_conf_free(struct c2s_conf *conf)
{
	if (conf == NULL)
		return;
	sb_config_free(conf->cfg);
	sb_arena_free(&conf->arena);
	free(conf);
}

const struct c2s_domain *
c2s_conf_domain(const struct c2s_conf *conf, const char *name)
{
	char canon[SB_JID_PART_BUFSIZE];
	size_t len;

	if (sb_jid_prepare(SB_JID_DOMAIN, name, strlen(name), canon, sizeof(canon), &len,
	    NULL) == -1)
		return NULL;
	for (size_t i = 0; i < conf->ndomains; i++)
		if (strcmp(conf->domains[i].name, canon) == 0)
			return &conf->domains[i];
	return NULL;
}
