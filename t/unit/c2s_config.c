/*
 * c2s_config.c: tests for c2s/config.c, c2s.xml into a struct c2s_conf:
 * the shipped etc/c2s.xml loads; a minimal file gets every default (the
 * two listeners, the limits, registration and legacy auth off); domains
 * are canonical and found in any case; paths are taken from the file's
 * directory; and each mistake an admin can make is an error naming it.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c2s/c2s.h"
#include "tap.h"

static char tmpdir[] = "/tmp/sb-c2s-config-XXXXXX";
static char err[2048];

#define HEAD	"<c2s><router name='c2s1' secret='s'/>"
#define DOMAIN	"<domain name='localhost'><certificate>a.crt</certificate><key>a.key</key></domain>"

static struct c2s_conf *
load(const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/c2s.xml", tmpdir);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
		diag("cannot write %s", path);
		return NULL;
	}
	err[0] = '\0';
	return c2s_conf_load(path, err, sizeof(err));
}

/* The file is refused with an error containing want. */
static void
refused(const char *text, const char *want, const char *what)
{
	struct c2s_conf *conf = load(text);

	if (!ok(conf == NULL && strstr(err, want) != NULL, "refused: %s", what))
		diag("  error: '%s', wanted '%s'", err, want);
	c2s_conf_free(conf);
}

static void
test_shipped(void)
{
	const char *src = getenv("SB_SRC");
	char path[PATH_MAX];
	struct c2s_conf *conf;

	setenv("SB_COMPONENT_SECRET", "from-the-environment", 1);
	snprintf(path, sizeof(path), "%s/etc/c2s.xml", src != NULL ? src : ".");
	conf = c2s_conf_load(path, err, sizeof(err));
	if (!ok(conf != NULL, "etc/c2s.xml loads"))
		diag("  %s", err);
	if (conf == NULL)
		return;
	is_str(conf->name, "c2s1", "its component name");
	is_str(conf->secret, "from-the-environment", "the secret from SB_COMPONENT_SECRET");
	is_int(conf->nlistens, 2, "two listeners");
	is_int(conf->listens[0].port, 5222, "5222 ...");
	is_int(conf->listens[0].tls, C2S_LISTEN_STARTTLS, "... with STARTTLS");
	is_int(conf->listens[1].port, 5223, "5223 ...");
	is_int(conf->listens[1].tls, C2S_LISTEN_DIRECT_TLS, "... with direct TLS");
	is_str(conf->listens[1].alpn, "xmpp-client", "... and ALPN xmpp-client");
	is_int(conf->ndomains, 1, "one domain");
	is_str(conf->domains[0].name, "localhost", "localhost");
	ok(conf->domains[0].cert[0] == '/', "its certificate path is absolute");
	is_int(conf->domains[0].registration, 0, "registration off");
	is_int(conf->domains[0].legacy_auth, 0, "legacy auth off");
	c2s_conf_free(conf);
}

static void
test_defaults(void)
{
	struct c2s_conf *conf = load(HEAD
	    "<domain name='LocalHost'><certificate>certs/a.crt</certificate><key>a.key</key></domain>"
	    "<domain name='Example.ORG.'><certificate>/etc/b.crt</certificate><key>b.key</key>"
	    "<registration>yes</registration></domain></c2s>");
	char want[PATH_MAX + 32];

	if (!ok(conf != NULL, "a minimal file loads"))
		diag("  %s", err);
	if (conf == NULL)
		return;
	is_str(conf->router_addr, "127.0.0.1", "router on 127.0.0.1 ...");
	is_int(conf->router_port, 5347, "... port 5347");
	is_int(conf->log_level, SB_LOG_INFO, "log level info");
	ok(conf->tls_priority == NULL, "the library's TLS priority");
	is_int(conf->nlistens, 2, "default listeners: two");
	is_str(conf->listens[0].address, "*", "every address");
	is_int(conf->listens[0].port, 5222, "5222 STARTTLS");
	ok(conf->listens[0].alpn == NULL, "no ALPN on the STARTTLS listener");
	is_int(conf->listens[1].port, 5223, "5223 direct TLS");
	is_str(conf->listens[1].alpn, "xmpp-client", "with ALPN xmpp-client");
	is_int(conf->stanza_size, 64 * 1024, "stanza size 64k");
	is_int(conf->login_ms, 30000, "login timeout 30s");
	is_int(conf->idle_ms, 300000, "idle timeout 5m");
	is_int(conf->ping_ms, 120000, "ping interval 2m");
	is_int(conf->per_address, 32, "32 connections per address");
	is_int(conf->rate, 64 * 1024, "read rate 64k/s");
	is_int(conf->burst, 256 * 1024, "burst 256k");
	is_int(conf->write_buffer, 1024 * 1024, "write buffer 1M");
	is_int(conf->auth_failures, 3, "3 SASL failures");
	is_int(conf->ndomains, 2, "two domains");
	is_str(conf->domains[0].name, "localhost", "domain names are canonical");
	is_str(conf->domains[1].name, "example.org", "... without the final dot");
	snprintf(want, sizeof(want), "%s/certs/a.crt", tmpdir);
	is_str(conf->domains[0].cert, want, "a relative path is taken from the file's directory");
	is_str(conf->domains[1].cert, "/etc/b.crt", "an absolute path stays");
	is_int(conf->domains[1].registration, 1, "registration per domain");
	ok(c2s_conf_domain(conf, "LOCALHOST") == &conf->domains[0], "lookup in any case");
	ok(c2s_conf_domain(conf, "example.org.") == &conf->domains[1], "lookup with a final dot");
	ok(c2s_conf_domain(conf, "other.example") == NULL, "an unknown domain is not found");
	ok(c2s_conf_domain(conf, "bad domain") == NULL, "nor is a malformed one");
	c2s_conf_free(conf);
}

static void
test_values(void)
{
	struct c2s_conf *conf = load(HEAD
	    "<log level='debug'/>"
	    "<listen address='127.0.0.1' port='15222'/>"
	    "<listen address='::1' port='15223' tls='direct-tls' alpn='xmpp-test'/>"
	    "<tls priority='NORMAL'/>"
	    DOMAIN
	    "<limits><stanza-size>16k</stanza-size><login-timeout>5s</login-timeout>"
	    "<idle-timeout>1h</idle-timeout><ping-interval>0</ping-interval>"
	    "<connections-per-address>0</connections-per-address><read-rate>0</read-rate>"
	    "<read-burst>1M</read-burst><write-buffer>64k</write-buffer>"
	    "<auth-failures>5</auth-failures></limits></c2s>");

	if (!ok(conf != NULL, "a file with every setting loads"))
		diag("  %s", err);
	if (conf == NULL)
		return;
	is_int(conf->log_level, SB_LOG_DEBUG, "log level");
	is_int(conf->nlistens, 2, "two listeners given");
	is_str(conf->listens[0].address, "127.0.0.1", "address");
	is_int(conf->listens[0].tls, C2S_LISTEN_STARTTLS, "tls defaults to starttls");
	is_str(conf->listens[1].alpn, "xmpp-test", "alpn");
	is_str(conf->tls_priority, "NORMAL", "TLS priority");
	is_int(conf->stanza_size, 16384, "stanza size");
	is_int(conf->login_ms, 5000, "login timeout");
	is_int(conf->idle_ms, 3600000, "idle timeout");
	is_int(conf->ping_ms, 0, "pings off");
	is_int(conf->per_address, 0, "no per-address limit");
	is_int(conf->rate, 0, "no rate limit");
	is_int(conf->write_buffer, 65536, "write buffer");
	is_int(conf->auth_failures, 5, "SASL failures");
	c2s_conf_free(conf);
}

static void
test_errors(void)
{
	refused("<c2s><router secret='s'/>" DOMAIN "</c2s>", "name", "no component name");
	refused("<c2s><router name='c2s1'/>" DOMAIN "</c2s>", "secret", "no secret");
	refused(HEAD "</c2s>", "no <domain>", "no domain");
	refused(HEAD DOMAIN "<domain name='LOCALHOST'><certificate>b</certificate><key>b</key>"
	    "</domain></c2s>", "already defined", "the same domain twice");
	refused(HEAD "<domain name='a b'><certificate>b</certificate><key>b</key></domain></c2s>",
	    "domain \"a b\"", "a malformed domain");
	refused(HEAD "<domain name='x.org'><key>b</key></domain></c2s>", "certificate",
	    "a domain without certificate");
	refused(HEAD DOMAIN "<limts/></c2s>", "limts", "a misspelt element");
	refused(HEAD DOMAIN "<listen port='5222' tls='ssl'/></c2s>", "ssl", "an unknown TLS mode");
	refused(HEAD DOMAIN "<listen port='5222' alpn='x'/></c2s>", "direct-tls",
	    "alpn on a STARTTLS listener");
	refused(HEAD DOMAIN "<listen address='*'/></c2s>", "port", "a listener without port");
	refused(HEAD DOMAIN "<limits><ping-interval>500ms</ping-interval></limits></c2s>",
	    "at least 1s", "a ping interval under a second");
	refused(HEAD DOMAIN "<limits><stanza-size>100</stanza-size></limits></c2s>",
	    "stanza-size", "a stanza size too small");
	refused("<router/>", "<c2s>", "another root element");
}

int
main(void)
{
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_shipped();
	test_defaults();
	test_values();
	test_errors();
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/c2s.xml", tmpdir);
		unlink(path);
		rmdir(tmpdir);
	}
	return done_testing();
}
