/*
 * config.c: tests for lib/config.c, the loader of etc/NAME.xml: typed values
 * and their defaults, every error and what it says (file, line, value),
 * includes, ${VAR} expansion, refusal of DTDs and entities, and the
 * table-driven sb_config_apply with strict sections.
 *
 * Fixed files live in t/data/config; files that depend on the test (the
 * environment, deep include chains) are written into a mkdtemp directory.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "tap.h"

static char datadir[PATH_MAX];
static char tmpdir[] = "/tmp/sb-config-XXXXXX";
static char created[64][PATH_MAX];
static int ncreated;
static char err[1024];

/* err contains want; on failure show err. */
#define like(want, ...) do {						\
	if (!ok(strstr(err, (want)) != NULL, __VA_ARGS__))		\
		diag("  error: '%s' lacks '%s'", err, (want));		\
} while (0)

static const char *
data(const char *name)
{
	static char path[4][PATH_MAX + 64];
	static int i;

	i = (i + 1) % 4;
	snprintf(path[i], sizeof(path[i]), "%s/%s", datadir, name);
	return path[i];
}

static const char *
write_tmp(const char *name, const char *text)
{
	char *path = created[ncreated++];
	FILE *f;

	snprintf(path, PATH_MAX, "%s/%s", tmpdir, name);
	if ((f = fopen(path, "w")) == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		diag("cannot write %s", path);
	return path;
}

static struct sb_config *
load(const char *path)
{
	struct sb_config *cfg = NULL;

	err[0] = '\0';
	if (sb_config_load(&cfg, path, err, sizeof(err)) == -1)
		return NULL;
	return cfg;
}

static const struct sb_config_enum levels[] = {
	{ "error", 0 }, { "warn", 1 }, { "notice", 2 }, { "info", 3 }, { "debug", 4 },
	{ NULL, 0 }
};

static void
test_values(void)
{
	struct sb_config *cfg = load(data("good.xml"));
	const struct sb_config_node *r, *tls;
	const char *s;
	char want[PATH_MAX + 32];
	int i;
	int64_t ms;
	size_t sz;

	if (!ok(cfg != NULL, "good.xml loads")) {
		diag("  %s", err);
		return;
	}
	r = sb_config_root(cfg);
	is_str(sb_config_name(r), "c2s", "root element name");
	is_str(sb_config_attr(r, "id"), "c2s-1", "root attribute");
	ok(sb_config_attr(r, "nope") == NULL, "absent attribute is NULL");
	is_str(sb_config_file(r), data("good.xml"), "node knows its file");
	i = 0;
	ok(sb_config_get_port(r, "port", 1, &i, err, sizeof(err)) == 0 && i == 5222, "port");
	is_int(sb_config_line(sb_config_child(r, "port")), 4, "line number of <port>");
	ok(sb_config_get_int(r, "workers", 1, 1, 64, &i, err, sizeof(err)) == 0 && i == 4,
	    "integer in range");
	ok(sb_config_get_bool(r, "register", 0, &i, err, sizeof(err)) == 0 && i == 1,
	    "boolean yes");
	ok(sb_config_get_duration(r, "idle", 0, &ms, err, sizeof(err)) == 0 && ms == 300000,
	    "duration 5m is 300000 ms");
	ok(sb_config_get_duration(r, "ping", 0, &ms, err, sizeof(err)) == 0 && ms == 5400000,
	    "duration 1h30m");
	ok(sb_config_get_size(r, "max-stanza", 0, &sz, err, sizeof(err)) == 0 && sz == 65536,
	    "size 64k is 65536 bytes");
	ok(sb_config_get_enum(r, "log-level", levels, 0, &i, err, sizeof(err)) == 0 && i == 3,
	    "enum");
	sb_config_get_path(r, "pidfile", NULL, &s, err, sizeof(err));
	snprintf(want, sizeof(want), "%s/run/c2s.pid", datadir);
	is_str(s, want, "relative path made absolute from the file's directory");
	sb_config_get_path(r, "tls/certificate", NULL, &s, err, sizeof(err));
	is_str(s, "/etc/ssl/x.pem", "absolute path kept");
	sb_config_get_str(r, "secret", NULL, &s, err, sizeof(err));
	is_str(s, "a<b&c", "CDATA text");
	sb_config_get_str(r, "motd", NULL, &s, err, sizeof(err));
	is_str(s, "Hello & welcome", "text trimmed, &amp; decoded");
	ok(sb_config_get_bool(r, "tls@required", 0, &i, err, sizeof(err)) == 0 && i == 1,
	    "attribute of a child by path (tls@required)");
	tls = sb_config_find(r, "tls/key");
	ok(tls != NULL && strcmp(sb_config_text(tls), "key.pem") == 0, "find tls/key");
	is_str(sb_config_text(r), "", "element with only children has empty text");

	/* Defaults when absent. */
	i = 0;
	ok(sb_config_get_port(r, "none", 5269, &i, err, sizeof(err)) == 0 && i == 5269,
	    "default port");
	ok(sb_config_get_int(r, "none", 7, 0, 9, &i, err, sizeof(err)) == 0 && i == 7,
	    "default integer");
	ok(sb_config_get_bool(r, "none", 1, &i, err, sizeof(err)) == 0 && i == 1,
	    "default boolean");
	ok(sb_config_get_duration(r, "none", 1500, &ms, err, sizeof(err)) == 0 && ms == 1500,
	    "default duration");
	ok(sb_config_get_size(r, "none", 4096, &sz, err, sizeof(err)) == 0 && sz == 4096,
	    "default size");
	ok(sb_config_get_enum(r, "none", levels, 2, &i, err, sizeof(err)) == 0 && i == 2,
	    "default enum");
	sb_config_get_str(r, "tls@none", "dflt", &s, err, sizeof(err));
	is_str(s, "dflt", "default string for an absent attribute");
	sb_config_get_path(r, "none", "var/data", &s, err, sizeof(err));
	snprintf(want, sizeof(want), "%s/var/data", datadir);
	is_str(s, want, "default path made absolute");
	sb_config_get_str(r, "none", NULL, &s, err, sizeof(err));
	ok(s == NULL, "no default gives NULL");
	sb_config_free(cfg);
}

static void
test_navigation_and_include(void)
{
	struct sb_config *cfg = load(data("good.xml"));
	const struct sb_config_node *r, *n;
	const char *names[32];
	char want[PATH_MAX + 32];
	const char *s;
	int i = 0, port = 0, count = 0;

	if (cfg == NULL)
		return;
	r = sb_config_root(cfg);
	for (n = sb_config_child(r, "listen"); n != NULL; n = sb_config_next(n, "listen")) {
		count++;
		sb_config_get_port(n, "@port", 0, &port, err, sizeof(err));
	}
	ok(count == 2 && port == 5223, "iterate repeated <listen> (%d, last port %d)", count,
	    port);
	for (n = sb_config_child(r, NULL); n != NULL && i < 32; n = sb_config_next(n, NULL))
		names[i++] = sb_config_name(n);
	ok(i == 18 && strcmp(names[12], "listen") == 0 && strcmp(names[13], "domain") == 0 &&
	    strcmp(names[15], "inner-key") == 0 && strcmp(names[17], "last") == 0,
	    "included children spliced in place of <include> (%d children)", i);
	n = sb_config_child(r, "domain");
	is_str(n ? sb_config_text(n) : NULL, "example.org", "glob include: first file first");
	n = n ? sb_config_next(n, "domain") : NULL;
	is_str(n ? sb_config_text(n) : NULL, "example.net", "glob include: then the second");
	is_str(n ? sb_config_file(n) : NULL, data("conf.d/20-second.xml"),
	    "included node names its own file");
	is_int(n ? sb_config_line(n) : 0, 2, "and its line in that file");
	n = sb_config_child(r, "leaf-path");
	is_str(n ? sb_config_file(n) : NULL, data("sub/deeper/leaf.xml"),
	    "nested include relative to the including file");
	sb_config_get_path(r, "leaf-path", NULL, &s, err, sizeof(err));
	snprintf(want, sizeof(want), "%s/sub/deeper/data", datadir);
	is_str(s, want, "path relative to the file it was written in");
	n = sb_config_child(r, "last");
	ok(n != NULL && sb_config_next(n, NULL) == NULL, "content after includes kept in order");
	sb_config_free(cfg);
}

static void
test_include_errors(void)
{
	char name[64], text[256];
	struct sb_config *cfg;

	ok(load(data("missing-include.xml")) == NULL, "missing include fails");
	like("missing-include.xml:3: <include>: cannot read", "  names including file and line");
	like("does-not-exist.xml", "  and the missing file");
	ok(load(data("cycle-a.xml")) == NULL, "include cycle fails");
	like("cycle-b.xml:3: <include>", "  names the file and line closing the cycle");
	like("cycle", "  says it is a cycle");
	ok(load(data("self.xml")) == NULL, "self include fails");
	like("self.xml:2:", "  with file:line");

	for (int i = 0; i <= SB_CONFIG_MAX_INCLUDE + 1; i++) {
		snprintf(name, sizeof(name), "deep%d.xml", i);
		snprintf(text, sizeof(text), "<d><v%d/><include file='deep%d.xml'/></d>\n", i,
		    i + 1);
		write_tmp(name, i == SB_CONFIG_MAX_INCLUDE + 1 ? "<d/>\n" : text);
	}
	snprintf(name, sizeof(name), "%s/deep0.xml", tmpdir);
	ok(load(name) == NULL, "includes nested too deep fail");
	like("nested deeper than", "  says why");
	snprintf(name, sizeof(name), "%s/deep1.xml", tmpdir);
	cfg = load(name);
	ok(cfg != NULL, "the deepest allowed nesting loads");
	sb_config_free(cfg);
	cfg = load(write_tmp("noglob.xml", "<r><include file='none.d/*.xml'/><a/></r>\n"));
	ok(cfg != NULL && sb_config_child(sb_config_root(cfg), "a") != NULL,
	    "a pattern matching nothing is fine");
	sb_config_free(cfg);
	ok(load(write_tmp("nofile.xml", "<r>\n<include/></r>\n")) == NULL &&
	    strstr(err, "nofile.xml:2: <include>: needs file=") != NULL,
	    "include without file= fails");
}

static void
test_env(void)
{
	struct sb_config *cfg;
	const struct sb_config_node *r;
	const char *path;

	setenv("SB_T_HOST", "example.com", 1);
	setenv("SB_T_EMPTY", "", 1);
	unsetenv("SB_T_UNSET");
	cfg = load(write_tmp("env.xml",
	    "<r a='${SB_T_HOST}:5222'>\n"
	    "  <host>${SB_T_HOST}</host>\n"
	    "  <dflt>${SB_T_UNSET:-fallback}</dflt>\n"
	    "  <empty>${SB_T_EMPTY:-was-empty}</empty>\n"
	    "  <setempty>[${SB_T_EMPTY}]</setempty>\n"
	    "  <override>${SB_T_HOST:-no}</override>\n"
	    "  <nested>${SB_T_UNSET:-${SB_T_HOST}}</nested>\n"
	    "  <escape>$${SB_T_HOST} costs $$5 or 5$</escape>\n"
	    "  <secret>pa$word</secret>\n"
	    "</r>\n"));
	if (!ok(cfg != NULL, "config with ${VAR} loads")) {
		diag("  %s", err);
		return;
	}
	r = sb_config_root(cfg);
	is_str(sb_config_attr(r, "a"), "example.com:5222", "expansion in an attribute");
	is_str(sb_config_text(sb_config_child(r, "host")), "example.com", "expansion in text");
	is_str(sb_config_text(sb_config_child(r, "dflt")), "fallback", "default when unset");
	is_str(sb_config_text(sb_config_child(r, "empty")), "was-empty", "default when empty");
	is_str(sb_config_text(sb_config_child(r, "setempty")), "[]", "set but empty, no default");
	is_str(sb_config_text(sb_config_child(r, "override")), "example.com", "set wins");
	is_str(sb_config_text(sb_config_child(r, "nested")), "example.com", "nested default");
	is_str(sb_config_text(sb_config_child(r, "escape")), "${SB_T_HOST} costs $5 or 5$",
	    "$$ is a literal $");
	is_str(sb_config_text(sb_config_child(r, "secret")), "pa$word", "a lone $ is kept");
	sb_config_free(cfg);

	path = write_tmp("unset.xml", "<r>\n  <a>x</a>\n  <db pass='${SB_T_UNSET}'/>\n</r>\n");
	ok(load(path) == NULL, "unset variable fails");
	like("unset.xml:3:", "  names file and line");
	like("SB_T_UNSET is not set", "  names the variable");
	ok(load(write_tmp("unterm.xml", "<r>\n<a>${SB_T_HOST</a></r>\n")) == NULL,
	    "unterminated ${ fails");
	like("unterm.xml:2: unterminated ${", "  with file:line");
	ok(load(write_tmp("badname.xml", "<r><a>${1X}</a></r>\n")) == NULL,
	    "bad variable name fails");
	like("bad variable reference ${1X}", "  names the reference");
	setenv("SB_T_DIR", "conf.d", 1);
	cfg = load(write_tmp("envinc.xml", "<r><include file='${SB_T_DIR:-x}/one.xml'/></r>\n"));
	ok(cfg == NULL && strstr(err, "conf.d/one.xml") != NULL,
	    "variables expand in include paths");
	sb_config_free(cfg);
}

static void
test_xml_errors(void)
{
	struct sb_config *cfg;

	ok(load(data("malformed.xml")) == NULL, "malformed XML fails");
	like("malformed.xml:6: malformed XML", "  with file:line");
	ok(load(data("undefined-entity.xml")) == NULL, "undefined entity fails");
	like("undefined-entity.xml:2:", "  with file:line");
	ok(load(data("dtd.xml")) == NULL, "DTD with an entity declaration is refused");
	like("dtd.xml:2: DOCTYPE/entity declarations are not allowed",
	    "  says why, with file:line");
	ok(load(data("xxe.xml")) == NULL, "external entity (XXE) is refused");
	ok(strstr(err, "root:") == NULL && strstr(err, "DOCTYPE") != NULL,
	    "  and nothing of /etc/passwd leaks");
	ok(load(data("laughs.xml")) == NULL, "billion laughs is refused");
	ok(load(data("external-dtd.xml")) == NULL, "external DTD is refused (no network)");
	ok(load(write_tmp("empty.xml", "")) == NULL, "empty file fails");
	like("empty.xml", "  names the file");
	ok(load(data("no-such-file.xml")) == NULL, "missing top file fails");
	like("no-such-file.xml: cannot read: No such file", "  says why");
	ok(load(tmpdir) == NULL, "a directory is not a config file");
	ok(sb_config_load_string(&cfg, "mem.xml", "<r>\n<a>1</r>", 12, err, sizeof(err)) == -1 &&
	    strstr(err, "mem.xml:2: malformed XML") != NULL, "load_string reports errors too");
	ok(sb_config_load_string(&cfg, "mem.xml", "<r><a>1</a></r>", 15, err, sizeof(err)) == 0 &&
	    strcmp(sb_config_text(sb_config_child(sb_config_root(cfg), "a")), "1") == 0,
	    "load_string");
	sb_config_free(cfg);
}

static void
test_bad_values(void)
{
	struct sb_config *cfg = load(data("bad-values.xml"));
	const struct sb_config_node *r;
	char want[PATH_MAX + 64];
	const char *s;
	int i = -1;
	int64_t ms;
	size_t sz;

	if (!ok(cfg != NULL, "bad-values.xml loads (values are checked when read)"))
		return;
	r = sb_config_root(cfg);
	ok(sb_config_get_port(r, "port", 1, &i, err, sizeof(err)) == -1, "port 70000 fails");
	snprintf(want, sizeof(want), "%s:3: <port>: \"70000\" is not a port (1-65535)",
	    data("bad-values.xml"));
	is_str(err, want, "  the whole message: file:line: <port>: value and why");
	ok(sb_config_get_int(r, "workers", 1, 1, 64, &i, err, sizeof(err)) == -1,
	    "non-integer fails");
	like("bad-values.xml:4: <workers>: \"four\" is not an integer", "  message");
	ok(sb_config_get_int(r, "threads", 1, 1, 64, &i, err, sizeof(err)) == -1,
	    "integer out of range fails");
	like(":5: <threads>: \"1000\" is out of range (1-64)", "  message gives the range");
	ok(sb_config_get_bool(r, "register", 0, &i, err, sizeof(err)) == -1, "bad boolean");
	like(":6: <register>: \"maybe\" is not a boolean", "  message");
	ok(sb_config_get_duration(r, "idle", 0, &ms, err, sizeof(err)) == -1,
	    "duration without unit fails");
	like(":7: <idle>: \"30\" is not a duration", "  message");
	ok(sb_config_get_size(r, "max-stanza", 0, &sz, err, sizeof(err)) == -1, "bad size");
	like(":8: <max-stanza>: \"10X\" is not a size", "  message");
	ok(sb_config_get_enum(r, "log-level", levels, 0, &i, err, sizeof(err)) == -1,
	    "unknown enum name fails");
	like(":9: <log-level>: \"verbose\" is not one of: error, warn, notice, info, debug",
	    "  message lists the names");
	ok(sb_config_get_path(r, "pidfile", NULL, &s, err, sizeof(err)) == -1, "empty path");
	like(":10: <pidfile>: \"\" is not a path", "  message");
	ok(sb_config_get_str(r, "twice", NULL, &s, err, sizeof(err)) == -1,
	    "a single value given twice fails");
	like(":12: <twice>: given twice (first at ", "  names both places");
	ok(sb_config_get_port(r, "listen@port", 1, &i, err, sizeof(err)) == -1,
	    "bad attribute value fails");
	like(":13: <listen port>: \"0\" is not a port", "  message names the attribute");
	sb_config_free(cfg);
}

struct c2s_conf {
	int		 port;
	int		 workers;
	int		 tls_required;
	int64_t		 idle_ms;
	size_t		 max_stanza;
	int		 level;
	const char	*cert;
	const char	*name;
	int		 mode;
};

static int
parse_mode(const struct sb_config_node *n, const char *value, void *out, char *why,
    size_t whylen)
{
	if (strcmp(value, "required") != 0 && strcmp(value, "optional") != 0) {
		snprintf(why, whylen, "is not required or optional");
		return -1;
	}
	*(int *)out = value[0] == 'r';
	return 0;
}

#define F(path, type, member, ...) \
	SB_CONFIG_FIELD(path, type, struct c2s_conf, member, __VA_ARGS__)

static const struct sb_config_field c2s_fields[] = {
	F("port", SB_CONFIG_PORT, port, "5222"),
	F("workers", SB_CONFIG_INT, workers, "2", .min = 1, .max = 64),
	F("idle", SB_CONFIG_DURATION, idle_ms, "5m"),
	F("max-stanza", SB_CONFIG_SIZE, max_stanza, "64k"),
	F("log-level", SB_CONFIG_ENUM, level, "notice", .names = levels),
	F("tls@mode", SB_CONFIG_CUSTOM, mode, "optional", .parse = parse_mode),
	F("tls/certificate", SB_CONFIG_PATH, cert, NULL, .flags = SB_CONFIG_REQUIRED),
	{ .path = "listen", .type = SB_CONFIG_SECTION },
	SB_CONFIG_END
};

static void
test_apply(void)
{
	struct sb_config *cfg = load(data("strict.xml"));
	struct c2s_conf c = { .name = "untouched" };
	static const struct sb_config_field more[] = {
		F("name", SB_CONFIG_STR, name, NULL),
		F("missing", SB_CONFIG_STR, name, NULL, .flags = SB_CONFIG_REQUIRED),
		F("idle", SB_CONFIG_DURATION, idle_ms, "1s", .max = 500),
		SB_CONFIG_END
	};
	static const struct sb_config_field listen_fields[] = {
		F("@port", SB_CONFIG_PORT, port, NULL),
		SB_CONFIG_END
	};
	char want[PATH_MAX + 32];
	const struct sb_config_node *r;

	if (!ok(cfg != NULL, "strict.xml loads"))
		return;
	r = sb_config_root(cfg);
	ok(sb_config_apply(r, c2s_fields, &c, 0, err, sizeof(err)) == 0,
	    "apply without STRICT ignores unknown elements");
	is_int(c.port, 5222, "apply: value from the file");
	is_int(c.workers, 2, "apply: integer default");
	is_int(c.idle_ms, 300000, "apply: duration default");
	is_int(c.max_stanza, 65536, "apply: size default");
	is_int(c.level, 2, "apply: enum default");
	is_int(c.mode, 1, "apply: custom parser on an attribute");
	snprintf(want, sizeof(want), "%s/cert.pem", datadir);
	is_str(c.cert, want, "apply: path");
	ok(sb_config_apply(r, c2s_fields, &c, SB_CONFIG_STRICT, err, sizeof(err)) == -1,
	    "STRICT: unknown element fails");
	like("strict.xml:4: unknown element <prot> in <c2s>", "  names file, line and element");
	ok(strchr(err, '\n') == NULL, "  only the first error without ALL_ERRORS");
	ok(sb_config_apply(r, c2s_fields, &c, SB_CONFIG_STRICT | SB_CONFIG_ALL_ERRORS, err,
	    sizeof(err)) == -1, "ALL_ERRORS");
	like("strict.xml:5: <tls>: unknown attribute 'color'", "  unknown attribute reported");
	like("<prot>", "  together with the unknown element");
	ok(strstr(err, "anything") == NULL, "  SECTION content is left to its own table");
	ok(sb_config_apply(r, more, &c, SB_CONFIG_ALL_ERRORS, err, sizeof(err)) == -1,
	    "required field missing");
	like("strict.xml:2: <c2s>: missing <missing>", "  names the section and the field");
	is_str(c.name, "untouched", "absent field without default left as is");
	for (const struct sb_config_node *l = sb_config_child(r, "listen"); l;
	    l = sb_config_next(l, "listen"))
		if (sb_config_apply(l, listen_fields, &c, SB_CONFIG_STRICT, err, sizeof(err)) == -1)
			break;
	like("strict.xml:8: unknown element <anything> in <listen>",
	    "a SECTION's elements get checked by their own strict table");
	sb_config_free(cfg);

	cfg = load(write_tmp("range.xml", "<r>\n<idle>2s</idle>\n</r>\n"));
	ok(cfg && sb_config_apply(sb_config_root(cfg), more + 2, &c, 0, err, sizeof(err)) == -1,
	    "duration range in a table");
	like("range.xml:2: <idle>: \"2s\" is out of range (0-500ms)", "  printed in units");
	sb_config_free(cfg);

	cfg = load(data("good.xml"));
	ok(cfg && sb_config_errorf(sb_config_child(sb_config_root(cfg), "tls"), err, sizeof(err),
	    "cannot open %s", "x.pem") == -1, "errorf for a caller's own checks");
	like("good.xml:14: <tls>: cannot open x.pem", "  in the same format");
	sb_config_free(cfg);
}

static void
test_more_errors(void)
{
	static const struct sb_config_field bad_default[] = {
		F("workers", SB_CONFIG_INT, workers, "many"),
		SB_CONFIG_END
	};
	static const struct sb_config_field short_name[] = {
		F("name", SB_CONFIG_STR, name, NULL, .min = 1, .max = 8),
		SB_CONFIG_END
	};
	struct c2s_conf c;
	struct sb_config *cfg;
	char *big;
	int port;

	write_tmp("part.xml", "<part>\n  <port>x</port>\n</part>\n");
	cfg = load(write_tmp("main.xml", "<r>\n<include file='part.xml'/>\n<name/></r>\n"));
	ok(cfg && sb_config_get_port(sb_config_root(cfg), "port", 1, &port, err,
	    sizeof(err)) == -1, "bad value in an included file");
	like("/part.xml:2: <port>: \"x\"", "  names the included file and its line");
	ok(cfg && sb_config_apply(sb_config_root(cfg), bad_default, &c, 0, err,
	    sizeof(err)) == -1, "a bad built-in default is reported");
	like("main.xml:1: <r>: built-in default for workers \"many\" is not an integer",
	    "  as the program's fault");
	ok(cfg && sb_config_apply(sb_config_root(cfg), short_name, &c, 0, err,
	    sizeof(err)) == -1, "string length limits");
	like("main.xml:3: <name>: \"\" has 0 characters (1-8 allowed)", "  message");
	sb_config_free(cfg);
	ok(load(write_tmp("incattr.xml", "<r><include file='part.xml' optional='1'/></r>")) ==
	    NULL, "unknown attribute on <include>");
	like("incattr.xml:1: <include>: unknown attribute 'optional'", "  named");
	big = calloc(1, SB_CONFIG_MAX_FILE + 100);
	memset(big, ' ', SB_CONFIG_MAX_FILE + 50);
	memcpy(big, "<r>", 3);
	memcpy(big + SB_CONFIG_MAX_FILE + 40, "</r>", 4);
	ok(load(write_tmp("big.xml", big)) == NULL, "a file over SB_CONFIG_MAX_FILE fails");
	like("big.xml: cannot read: File too large", "  says why");
	free(big);
}

static void
test_parsers(void)
{
	int64_t ms;
	size_t sz;
	int b;

	ok(sb_config_parse_duration("500ms", &ms) == 0 && ms == 500, "500ms");
	ok(sb_config_parse_duration("2h", &ms) == 0 && ms == 7200000, "2h");
	ok(sb_config_parse_duration("1d", &ms) == 0 && ms == 86400000, "1d");
	ok(sb_config_parse_duration("0", &ms) == 0 && ms == 0, "bare 0 is a duration");
	ok(sb_config_parse_duration("-5s", &ms) == -1, "negative duration refused");
	ok(sb_config_parse_duration("5 s", &ms) == -1, "space inside refused");
	ok(sb_config_parse_duration("99999999999999999999d", &ms) == -1, "overflow refused");
	ok(sb_config_parse_size("1M", &sz) == 0 && sz == 1048576, "1M");
	ok(sb_config_parse_size("10MB", &sz) == 0 && sz == 10485760, "10MB");
	ok(sb_config_parse_size("1GiB", &sz) == 0 && sz == 1073741824, "1GiB");
	ok(sb_config_parse_size("512", &sz) == 0 && sz == 512, "plain bytes");
	ok(sb_config_parse_size("1k1k", &sz) == -1, "size is one number and one unit");
	ok(sb_config_parse_size("", &sz) == -1, "empty size refused");
	ok(sb_config_parse_bool("Off", &b) == 0 && b == 0, "Off");
	ok(sb_config_parse_bool("TRUE", &b) == 0 && b == 1, "TRUE");
	ok(sb_config_parse_bool("2", &b) == -1, "2 is no boolean");
}

static void
cleanup(void)
{
	while (ncreated > 0)
		unlink(created[--ncreated]);
	rmdir(tmpdir);
}

int
main(void)
{
	const char *src = getenv("SB_SRC");

	snprintf(datadir, sizeof(datadir), "%s/t/data/config", src ? src : ".");
	if (src == NULL && realpath("t/data/config", datadir) == NULL)
		snprintf(datadir, sizeof(datadir), "t/data/config");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_values();
	test_navigation_and_include();
	test_include_errors();
	test_env();
	test_xml_errors();
	test_bad_values();
	test_apply();
	test_more_errors();
	test_parsers();
	cleanup();
	return done_testing();
}
