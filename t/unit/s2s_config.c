/*
 * s2s_config.c: tests for s2s/config.c (s2s.xml into a struct s2s_conf)
 * and for the dialback keys of s2s/dialback.c: the shipped etc/s2s.xml
 * loads; a minimal file gets every default (port 5269, require-cert, TLS
 * required, bidi on); policies and static hosts are found by canonical
 * domain; each mistake an admin can make is an error naming it; and the
 * keys are XEP-0185's.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "s2s/s2s.h"
#include "tap.h"

static char tmpdir[] = "/tmp/sb-s2s-config-XXXXXX";
static char err[2048];

#define HEAD	"<s2s><router name='s2s1' secret='s'/>"
#define DOMAIN	"<domain name='example.org'><certificate>a.crt</certificate><key>a.key</key></domain>"

static struct s2s_conf *
load(const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/s2s.xml", tmpdir);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		diag("cannot write %s", path);
		return NULL;
	}
	err[0] = '\0';
	return s2s_conf_load(path, err, sizeof(err));
}

static void
refused(const char *text, const char *want, const char *what)
{
	struct s2s_conf *conf = load(text);

	if (!ok(conf == NULL && strstr(err, want) != NULL, "refused: %s", what))
		diag("  error: '%s', wanted '%s'", err, want);
	s2s_conf_free(conf);
}

static void
test_shipped(void)
{
	const char *src = getenv("SB_SRC");
	char path[PATH_MAX];
	struct s2s_conf *conf;

	setenv("SB_COMPONENT_SECRET", "from-the-environment", 1);
	snprintf(path, sizeof(path), "%s/etc/s2s.xml", src != NULL ? src : ".");
	conf = s2s_conf_load(path, err, sizeof(err));
	if (!ok(conf != NULL, "etc/s2s.xml loads"))
		diag("  %s", err);
	if (conf == NULL)
		return;
	is_str(conf->name, "s2s1", "its component name");
	is_int(conf->nlistens, 1, "one listener ...");
	is_int(conf->listens[0].port, 5269, "... on 5269");
	is_int(conf->policy, S2S_POLICY_REQUIRE_CERT, "certificates required");
	s2s_conf_free(conf);
}

static void
test_defaults(void)
{
	struct s2s_conf *conf = load(HEAD DOMAIN "</s2s>");

	if (!ok(conf != NULL, "a minimal file loads"))
		diag("  %s", err);
	if (conf == NULL)
		return;
	is_int(conf->nlistens, 1, "one listener by default ...");
	is_str(conf->listens[0].address, "*", "... on every address ...");
	is_int(conf->listens[0].port, 5269, "... port 5269 ...");
	is_int(conf->listens[0].direct_tls, 0, "... with STARTTLS");
	is_int(conf->require_tls, 1, "TLS required");
	is_int(conf->bidi, 1, "bidi on");
	ok(conf->ca_file == NULL, "the system trust store");
	ok(conf->dns_servers == NULL, "the system's DNS servers");
	ok(conf->dialback_secret == NULL, "the dialback secret derived from the router's");
	is_int(conf->policy, S2S_POLICY_REQUIRE_CERT, "require-cert by default");
	is_int(s2s_conf_policy(conf, "other.example"), S2S_POLICY_REQUIRE_CERT,
	    "... for any domain");
	is_int(s2s_conf_any_dialback(conf), 0, "no dialback anywhere");
	is_int(conf->idle_ms, 600000, "idle timeout 10 minutes");
	is_int(conf->queue_stanzas, 1000, "1000 stanzas queued per route");
	ok(conf->domains[0].cert[0] == '/', "the certificate path is absolute");
	s2s_conf_free(conf);
}

static void
test_policies_and_hosts(void)
{
	struct s2s_conf *conf = load(HEAD DOMAIN
	    "<listen address='127.0.0.1' port='5270' tls='direct-tls'/>"
	    "<policy default='dialback'>"
	    "<remote domain='Spam.Example' policy='deny'/>"
	    "<remote domain='strict.example' policy='require-cert'/>"
	    "</policy>"
	    "<host domain='Peer.Example' address='10.0.0.7' port='5999' tls='direct-tls'/>"
	    "<dns server='127.0.0.53:53'/>"
	    "</s2s>");
	const struct s2s_host *h;

	if (!ok(conf != NULL, "policies and hosts load"))
		diag("  %s", err);
	if (conf == NULL)
		return;
	is_int(conf->listens[0].direct_tls, 1, "a direct TLS listener");
	is_int(s2s_conf_policy(conf, "spam.example"), S2S_POLICY_DENY,
	    "a domain's policy, written in another case");
	is_int(s2s_conf_policy(conf, "strict.example"), S2S_POLICY_REQUIRE_CERT,
	    "a stricter policy for one domain");
	is_int(s2s_conf_policy(conf, "other.example"), S2S_POLICY_DIALBACK, "the default");
	is_int(s2s_conf_any_dialback(conf), 1, "dialback somewhere");
	h = s2s_conf_host(conf, "peer.example");
	ok(h != NULL, "a static host, found by canonical domain");
	if (h != NULL) {
		is_str(h->address, "10.0.0.7", "its address");
		is_int(h->port, 5999, "its port");
		is_int(h->direct_tls, 1, "direct TLS");
	}
	ok(s2s_conf_host(conf, "other.example") == NULL, "no host for others");
	is_str(conf->dns_servers, "127.0.0.53:53", "DNS servers");
	ok(s2s_conf_domain(conf, "example.org") != NULL, "our domain");
	ok(s2s_conf_domain(conf, "example.com") == NULL, "not someone else's");
	s2s_conf_free(conf);
}

static void
test_mistakes(void)
{
	refused("<c2s/>", "the root element must be <s2s>", "the wrong root");
	refused(HEAD "</s2s>", "no <domain>", "no domain");
	refused(HEAD DOMAIN DOMAIN "</s2s>", "already defined", "a domain twice");
	refused(HEAD DOMAIN "<policy default='maybe'/></s2s>", "maybe", "an unknown policy");
	refused(HEAD DOMAIN "<policy><remote domain='a.example'/></policy></s2s>", "policy",
	    "a remote without a policy");
	refused(HEAD DOMAIN "<host domain='a.example' address='peer.example.net'/></s2s>",
	    "not a numeric", "a host name as a static address");
	refused(HEAD DOMAIN "<host domain='a..example' address='10.0.0.1'/></s2s>",
	    "a..example", "a bad domain");
	refused(HEAD DOMAIN "<limits><queu>5</queu></limits></s2s>", "queu", "a misspelt limit");
	refused(HEAD DOMAIN "<dialback secret='short'/></s2s>", "secret", "a short dialback secret");
	refused("<s2s>" DOMAIN "</s2s>", "router", "no router link");
}

/*
 * XEP-0185's algorithm on the inputs of its example (secret, domains,
 * stream id); the expected key was computed independently with Python's
 * hmac and hashlib from the formula.
 */
static void
test_dialback_key(void)
{
	struct s2s_conf conf = { .dialback_secret = "s3cr3tf0rd14lb4ck" };
	struct s2s s2s = { .conf = &conf };
	char key[65], other[65];

	dialback_init(&s2s);
	dialback_key(&s2s, "example.net", "example.com", "D60000229F", key);
	is_str(key, "008c689ff366b50c63d69a3e2d2c0e0e1f8404b0118eb688a0102c87cb691bdc",
	    "HMAC-SHA256 keyed with hex SHA-256 of the secret, over 'receiving originating id'");
	dialback_key(&s2s, "example.com", "example.net", "D60000229F", other);
	ok(strcmp(key, other) != 0, "the direction matters");
	dialback_key(&s2s, "example.net", "example.com", "D60000229G", other);
	ok(strcmp(key, other) != 0, "the stream id matters");
	conf.dialback_secret = NULL;
	conf.secret = "router-secret";
	dialback_init(&s2s);
	dialback_key(&s2s, "example.net", "example.com", "D60000229F", other);
	ok(strcmp(key, other) != 0 && strlen(other) == 64,
	    "without a dialback secret, one derived from the router's");
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_shipped();
	test_defaults();
	test_policies_and_hosts();
	test_mistakes();
	test_dialback_key();
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/s2s.xml", tmpdir);
		unlink(path);
		rmdir(tmpdir);
	}
	return done_testing();
}
