/*
 * component.c: the router's external components as sbctl manages them
 * (component add, del, list).
 *
 * add and del write and remove one file per component in components.d/
 * beside router.xml, which router.xml splices in with an <include/> of
 * every .xml file there (COMP_INCLUDE below):
 *
 *   <components><component name='muc.example.org' secret='...'/></components>
 *
 * so router.xml itself is never rewritten and its comments stay the
 * admin's. Components written in router.xml (switchboard's own processes,
 * or an admin's by hand) count for add and list but are left alone by del.
 * Names are compared in the router's canonical form (sb_jid_prepare of a
 * domainpart), which also names the file.
 *
 * After a change the running router gets SIGHUP and reloads its
 * components (router/config.c). It is found through its status file
 * (lib/status.h: a "pid N" line) and signalled only when that pid is a
 * live sb-router, so a file left by a crash never signals a stranger.
 * list reads the same file to say which components are connected.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "buf.h"
#include "config.h"
#include "jid.h"
#include "sbctl.h"
#include "utf8.h"
#include "xmalloc.h"

#define COMP_DIR	"components.d"
#define COMP_INCLUDE	"<include file='" COMP_DIR "/*.xml'/>"
#define SECRET_BYTES	24			/* a generated secret: 48 hex digits */
#define SECRET_HEX	(2 * SECRET_BYTES + 1)
#define SECRET_MAX	1023			/* bytes of a secret given by the admin */
#define STATUS_MAX	(4 * 1024 * 1024)	/* read at most this much of a status file */

/* router.xml as loaded now, and the directory sbctl manages beside it. */
struct comp_router {
	const char		*xml;	/* the launcher's router process's file, absolute */
	char			*dir;	/* DIR/components.d */
	struct sb_config	*cfg;
};

/* What the router's status file says. */
struct comp_status {
	const char	*path;	/* <status file>, NULL when router.xml has none */
	pid_t		 pid;	/* a live sb-router, else 0 */
	int		 fresh;	/* written within a few intervals: its links are current */
	char		*text;
};

/* How an attribute value is written so that the config loader reads it back unchanged. */
static const struct {
	char		 c;
	const char	*as;
} attr_escapes[] = {
	{ '&', "&amp;" },
	{ '<', "&lt;" },
	{ '>', "&gt;" },
	{ '\'', "&apos;" },
	{ '"', "&quot;" },
	{ '$', "$$" },		/* config.h: ${VAR} expands, $$ is a literal $ */
};

/* The attributes list shows as flags, in this order. */
static const char *const comp_flags[] = { "share", "default-route" };

/* Where a running router's name shows: its comm, or the first word of its command line. */
static const char *const proc_names[] = { "comm", "cmdline" };

/* --- router.xml --- */

static int
router_load(const struct sbctl *ctx, struct comp_router *r)
{
	char err[2048];

	sb_config_free(r->cfg);
	if (sb_config_load(&r->cfg, r->xml, err, sizeof(err)) == -1) {
		sbctl_err(ctx, "%s", err);
		return -1;
	}
	return 0;
}

/* The launcher's router process and its file, loaded. 0, or -1 after a message. */
static int
router_open(const struct sbctl *ctx, struct comp_router *r)
{
	const struct sbctl_launcher *L = &ctx->launcher;

	for (size_t i = 0; i < L->nprocs; i++) {
		if (strcmp(L->procs[i].prog->name, "router") == 0) {
			r->xml = L->procs[i].config;
			r->dir = sb_config_sibling(r->xml, COMP_DIR);
			return router_load(ctx, r);
		}
	}
	sbctl_err(ctx, "%s: no process runs the router: <launcher> needs a <process "
	    "name='router'/>", L->switchboard);
	return -1;
}

static void
router_close(struct comp_router *r)
{
	sb_config_free(r->cfg);
	free(r->dir);
}

/* The canonical form of a node's name attribute into out (SB_JID_PART_BUFSIZE bytes). */
static int
node_name(const struct sbctl *ctx, const struct sb_config_node *n, char *out)
{
	const char *raw = sb_config_attr(n, "name"), *why = "name='...' is missing";
	char err[1024];
	size_t len;

	if (raw != NULL && sb_jid_prepare(SB_JID_DOMAIN, raw, strlen(raw), out,
	    SB_JID_PART_BUFSIZE, &len, &why) == 0)
		return 0;
	sb_config_errorf(n, err, sizeof(err), "name \"%s\": %s", raw ? raw : "", why);
	sbctl_err(ctx, "%s", err);
	return -1;
}

/*
 * The element of router.xml that names name: a <component/>, or a <bind/>
 * inside one (*found NULL: none). 0, or -1 after a message.
 */
static int
comp_find(const struct sbctl *ctx, const struct comp_router *r, const char *name,
    const struct sb_config_node **found)
{
	const struct sb_config_node *root = sb_config_root(r->cfg), *c, *b;
	char got[SB_JID_PART_BUFSIZE];

	*found = NULL;
	for (c = sb_config_child(root, "component"); c != NULL;
	    c = sb_config_next(c, "component")) {
		if (node_name(ctx, c, got) == -1)
			return -1;
		if (strcmp(got, name) == 0) {
			*found = c;
			return 0;
		}
		for (b = sb_config_child(c, "bind"); b != NULL; b = sb_config_next(b, "bind")) {
			if (node_name(ctx, b, got) == -1)
				return -1;
			if (strcmp(got, name) == 0) {
				*found = b;
				return 0;
			}
		}
	}
	return 0;
}

static const char *
node_what(const struct sb_config_node *n)
{
	return strcmp(sb_config_name(n), "bind") == 0 ? "a name a component binds" : "a component";
}

static int
same_file(const char *a, const char *b)
{
	struct stat sa, sb;

	return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
	    sa.st_ino == sb.st_ino;
}

/* Where components connect: router.xml's first <listen/>, or the router's default. */
static int
listen_addr(const struct sbctl *ctx, const struct comp_router *r, char *addr, size_t size,
    int *port)
{
	const struct sb_config_node *l = sb_config_child(sb_config_root(r->cfg), "listen");
	const char *a = "127.0.0.1";
	char err[1024];

	*port = 5347;
	if (l != NULL && (sb_config_get_str(l, "@address", a, &a, err, sizeof(err)) == -1 ||
	    sb_config_get_port(l, "@port", *port, port, err, sizeof(err)) == -1)) {
		sbctl_err(ctx, "%s", err);
		return -1;
	}
	snprintf(addr, size, "%s", strcmp(a, "*") == 0 ? "this host" : a);
	return 0;
}

/* --- arguments --- */

/* NAME as the router will compare it, into out (SB_JID_PART_BUFSIZE bytes). */
static int
name_arg(const struct sbctl *ctx, const char *arg, char *out)
{
	const char *why;
	struct in_addr a;
	size_t len;

	if (sb_jid_prepare(SB_JID_DOMAIN, arg, strlen(arg), out, SB_JID_PART_BUFSIZE, &len,
	    &why) == -1) {
		sbctl_err(ctx, "'%s' is not a domain name: %s", arg, why);
		return -1;
	}
	if (out[0] == '[' || inet_pton(AF_INET, out, &a) == 1) {
		sbctl_err(ctx, "'%s' is an address: a component's name is a domain name", arg);
		return -1;
	}
	/* It names the file NAME.xml. */
	if (len + sizeof(".xml") > NAME_MAX + 1) {
		sbctl_err(ctx, "'%s' is too long for a file name", arg);
		return -1;
	}
	return 0;
}

static int
secret_check(const struct sbctl *ctx, const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > SECRET_MAX) {
		sbctl_err(ctx, "a secret has 1 to %d bytes", SECRET_MAX);
		return -1;
	}
	if (!sb_utf8_valid(s, len)) {
		sbctl_err(ctx, "the secret is not valid UTF-8");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f) {
			/* XML turns tabs and newlines into spaces; shells lose spaces. */
			sbctl_err(ctx, "the secret has white space or control characters: "
			    "use printable characters only (or leave it out to get a random one)");
			return -1;
		}
	}
	return 0;
}

static int
secret_make(const struct sbctl *ctx, char out[SECRET_HEX])
{
	unsigned char raw[SECRET_BYTES];

	if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof(raw)) != 0) {
		sbctl_err(ctx, "internal: no random bytes for the secret");
		return -1;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	explicit_bzero(raw, sizeof(raw));
	return 0;
}

/* --- the component's file --- */

static void
attr_append(struct sb_buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		size_t i;

		for (i = 0; i < sizeof(attr_escapes) / sizeof(attr_escapes[0]); i++)
			if (attr_escapes[i].c == *s)
				break;
		if (i < sizeof(attr_escapes) / sizeof(attr_escapes[0]))
			sb_buf_append_str(b, attr_escapes[i].as);
		else
			sb_buf_append_char(b, *s);
	}
}

static void
comp_text(struct sb_buf *b, const char *name, const char *secret)
{
	/* Not the name in the comment: a name may hold "--", which ends XML comments. */
	sb_buf_append_str(b, "<?xml version='1.0'?>\n"
	    "<!-- Written by `sbctl component add`; `sbctl component del NAME` removes it. -->\n"
	    "<components>\n  <component name='");
	attr_append(b, name);
	sb_buf_append_str(b, "' secret='");
	attr_append(b, secret);
	sb_buf_append_str(b, "'/>\n</components>\n");
}

static int
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t k = write(fd, p, n);

		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/*
 * The file holds a secret: 0600. Written by root, it gets the owner of
 * its directory (components.d), so a router running as the user that
 * directory belongs to can still read it (docs/OPERATING.md).
 */
static int
file_protect(int fd, const char *like)
{
	struct stat sb;

	if (fchmod(fd, 0600) == -1)
		return -1;
	if (geteuid() != 0 || stat(like, &sb) == -1)
		return 0;
	return fchown(fd, sb.st_uid, sb.st_gid);
}

/* The rename is durable once the directory is synced too. */
static void
dir_sync(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd != -1) {
		fsync(fd);
		close(fd);
	}
}

/* text into path, all or nothing: a temporary file renamed into place. */
static int
file_write(const struct sbctl *ctx, const struct comp_router *r, const char *path,
    const struct sb_buf *text)
{
	char *tmp = xasprintf("%s/.sbctl-XXXXXX", r->dir);	/* the include's glob skips it */
	int fd, e = 0;

	if (mkdir(r->dir, 0755) == -1 && errno != EEXIST) {
		sbctl_err(ctx, "cannot create %s: %s", r->dir, strerror(errno));
		free(tmp);
		return -1;
	}
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1) {
		sbctl_err(ctx, "cannot write in %s: %s", r->dir, strerror(errno));
		free(tmp);
		return -1;
	}
	if (file_protect(fd, r->dir) == -1 ||
	    write_all(fd, sb_buf_data(text), sb_buf_len(text)) == -1 || fsync(fd) == -1)
		e = errno;
	if (close(fd) == -1 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) == -1)
		e = errno;
	if (e != 0) {
		sbctl_err(ctx, "cannot write %s: %s", path, strerror(e));
		unlink(tmp);
	} else {
		dir_sync(r->dir);
	}
	free(tmp);
	return e == 0 ? 0 : -1;
}

/* --- the running router --- */

static const char *
line_next(const char *p)
{
	const char *nl = strchr(p, '\n');

	return nl != NULL ? nl + 1 : p + strlen(p);
}

/* The number on the status file's "key N" line, or -1. */
static long long
status_value(const char *text, const char *key)
{
	size_t n = strlen(key);

	for (const char *p = text; *p != '\0'; p = line_next(p))
		if (strncmp(p, key, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/* A small file as a string, allocated (up to its first NUL); NULL when unreadable. */
static char *
read_text(const char *path, size_t max)
{
	struct sb_buf b = SB_BUF_INIT;
	char chunk[4096], *s;
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL)
		return NULL;
	while (sb_buf_len(&b) < max && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		sb_buf_append(&b, chunk, n);
	fclose(f);
	s = xstrdup(sb_buf_data(&b));
	sb_buf_free(&b);
	return s;
}

/* Is pid alive and sb-router? (A stale status file may name any process by now.) */
static int
is_router(long long pid)
{
	char path[64], *s, *base;
	int yes = 0;

	if (pid <= 1 || pid > INT_MAX || (kill((pid_t)pid, 0) == -1 && errno != EPERM))
		return 0;
	for (size_t i = 0; !yes && i < sizeof(proc_names) / sizeof(proc_names[0]); i++) {
		snprintf(path, sizeof(path), "/proc/%lld/%s", pid, proc_names[i]);
		if ((s = read_text(path, 4096)) == NULL)
			continue;
		s[strcspn(s, "\n")] = '\0';
		base = strrchr(s, '/') != NULL ? strrchr(s, '/') + 1 : s;
		yes = strcmp(base, "sb-router") == 0;
		free(s);
	}
	return yes;
}

/* router.xml's <status/> and what its file says now. 0, or -1 after a message. */
static int
status_read(const struct sbctl *ctx, const struct comp_router *r, struct comp_status *st)
{
	const struct sb_config_node *root = sb_config_root(r->cfg);
	int64_t interval_ms;
	long long pid;
	char err[1024];

	memset(st, 0, sizeof(*st));
	if (sb_config_get_path(root, "status@file", NULL, &st->path, err, sizeof(err)) == -1 ||
	    sb_config_get_duration(root, "status@interval", 5000, &interval_ms, err,
	    sizeof(err)) == -1) {
		sbctl_err(ctx, "%s", err);
		return -1;
	}
	if (st->path == NULL || (st->text = read_text(st->path, STATUS_MAX)) == NULL)
		return 0;
	if (!is_router(pid = status_value(st->text, "pid")))
		return 0;
	st->pid = (pid_t)pid;
	/* It is rewritten every interval: a few missed ones, and its links are out of date. */
	st->fresh = status_value(st->text, "updated") >=
	    (long long)time(NULL) - 2 * interval_ms / 1000 - 2;
	return 0;
}

/* Open links under name in the status file's "link NAME ... state=open ..." lines. */
static int
links_open(const char *text, const char *name)
{
	size_t n = strlen(name);
	int count = 0;

	for (const char *p = text; *p != '\0'; p = line_next(p)) {
		const char *end = line_next(p);

		if (strncmp(p, "link ", 5) == 0 && strncmp(p + 5, name, n) == 0 &&
		    p[5 + n] == ' ' && memmem(p, (size_t)(end - p), " state=open ", 12) != NULL)
			count++;
	}
	return count;
}

/*
 * Tell a running router to read router.xml again, and say on stdout when
 * the change takes effect (now: what it means once the router was told).
 * 0, or -1 after a message when the router runs but could not be told.
 */
static int
router_reload(const struct sbctl *ctx, const struct comp_router *r, const char *now)
{
	struct comp_status st;
	int rc = 0;

	if (status_read(ctx, r, &st) == -1)
		return -1;
	if (st.path == NULL) {
		printf("%s has no <status file/>, so sbctl cannot find the router: if it runs, "
		    "send it SIGHUP (`sbctl reload`)\n", r->xml);
	} else if (st.pid == 0) {
		printf("the router is not running: this takes effect when it starts\n");
	} else if (kill(st.pid, SIGHUP) == -1) {
		sbctl_err(ctx, "cannot tell the router (pid %ld) to reload: %s; send it SIGHUP "
		    "as its user (or `sbctl reload`)", (long)st.pid, strerror(errno));
		rc = -1;
	} else {
		printf("the router (pid %ld) reloads %s now (SIGHUP): %s\n", (long)st.pid, r->xml,
		    now);
	}
	free(st.text);
	return rc;
}

/* --- the verbs --- */

static char *
comp_path(const struct comp_router *r, const char *name)
{
	return xasprintf("%s/%s.xml", r->dir, name);
}

/* A name router.xml already has cannot be added: 0 when free, -1 after a message. */
static int
name_free(const struct sbctl *ctx, const struct comp_router *r, const char *name,
    const char *path)
{
	const struct sb_config_node *n;

	if (comp_find(ctx, r, name, &n) == -1)
		return -1;
	if (n != NULL) {
		sbctl_err(ctx, "%s is already %s at %s:%d%s", name, node_what(n),
		    sb_config_file(n), sb_config_line(n), same_file(sb_config_file(n), path) ?
		    " (`sbctl component del` removes it)" : "");
		return -1;
	}
	if (access(path, F_OK) == 0) {
		sbctl_err(ctx, "%s exists already, though router.xml does not load it: "
		    "`sbctl component del %s` removes it", path, name);
		return -1;
	}
	return 0;
}

/*
 * router.xml read again must have the new component from its file, with
 * the secret as given. 0, or -1 after a message (the caller removes the file).
 */
static int
comp_verify(const struct sbctl *ctx, struct comp_router *r, const char *name,
    const char *path, const char *secret)
{
	const struct sb_config_node *n;
	const char *got;

	if (router_load(ctx, r) == -1 || comp_find(ctx, r, name, &n) == -1)
		return -1;
	if (n == NULL || !same_file(sb_config_file(n), path)) {
		sbctl_err(ctx, "%s does not include %s/: add the line\n    %s\ninside <router> "
		    "in %s (where the components are), then run this again", r->xml, r->dir,
		    COMP_INCLUDE, r->xml);
		return -1;
	}
	if ((got = sb_config_attr(n, "secret")) == NULL || strcmp(got, secret) != 0) {
		sbctl_err(ctx, "internal: %s does not read back as written", path);
		return -1;
	}
	return 0;
}

int
sbctl_component_add(struct sbctl *ctx, int argc, char **argv)
{
	struct comp_router r = { 0 };
	struct sb_buf text = SB_BUF_INIT;
	char name[SB_JID_PART_BUFSIZE], made[SECRET_HEX] = "", addr[256], *path = NULL;
	const char *secret = argc > 1 ? argv[1] : made;
	int port, rc = SBCTL_FAIL;

	if (name_arg(ctx, argv[0], name) == -1 || (argc > 1 && secret_check(ctx, secret) == -1))
		return SBCTL_FAIL;
	if (router_open(ctx, &r) == -1 || listen_addr(ctx, &r, addr, sizeof(addr), &port) == -1)
		goto out;
	path = comp_path(&r, name);
	if (name_free(ctx, &r, name, path) == -1 || (argc == 1 && secret_make(ctx, made) == -1))
		goto out;
	comp_text(&text, name, secret);
	if (file_write(ctx, &r, path, &text) == -1)
		goto out;
	if (comp_verify(ctx, &r, name, path, secret) == -1) {
		unlink(path);
		goto out;
	}
	printf("added component %s in %s; it connects to %s port %d as %s with the secret "
	    "on the last line\n", name, path, addr, port, name);
	rc = router_reload(ctx, &r, "it can connect") == 0 ? SBCTL_OK : SBCTL_FAIL;
	/* Last, alone, even when the reload failed: the file is there and uses it. */
	printf("%s\n", secret);
out:
	explicit_bzero(made, sizeof(made));
	if (sb_buf_len(&text) > 0)
		explicit_bzero(sb_buf_data(&text), sb_buf_len(&text));
	sb_buf_free(&text);
	free(path);
	router_close(&r);
	return rc;
}

int
sbctl_component_del(struct sbctl *ctx, int argc, char **argv)
{
	struct comp_router r = { 0 };
	const struct sb_config_node *n;
	char name[SB_JID_PART_BUFSIZE], *path = NULL, *now = NULL;
	int rc = SBCTL_FAIL;

	if (name_arg(ctx, argv[0], name) == -1)
		return SBCTL_FAIL;
	if (router_open(ctx, &r) == -1 || comp_find(ctx, &r, name, &n) == -1)
		goto out;
	path = comp_path(&r, name);
	if (n != NULL && !same_file(sb_config_file(n), path)) {
		sbctl_err(ctx, "%s is %s at %s:%d, not one `sbctl component add` made: edit "
		    "that file (del removes only the files in %s/)", name, node_what(n),
		    sb_config_file(n), sb_config_line(n), r.dir);
		goto out;
	}
	if (unlink(path) == -1) {
		if (errno == ENOENT)
			sbctl_err(ctx, "no component %s (`sbctl component list` shows them)", name);
		else
			sbctl_err(ctx, "cannot remove %s: %s", path, strerror(errno));
		goto out;
	}
	dir_sync(r.dir);
	printf("removed component %s (%s)%s\n", name, path,
	    n == NULL ? "; router.xml did not load it" : "");
	now = xasprintf("new connections as %s are refused; a link already up stays until it "
	    "disconnects", name);
	if (router_load(ctx, &r) == 0 && router_reload(ctx, &r, now) == 0)
		rc = SBCTL_OK;
out:
	free(now);
	free(path);
	router_close(&r);
	return rc;
}

/* "yes", "yes(2)" (links sharing it), "no", or "unknown" when the status file cannot tell. */
static const char *
connected(const struct comp_status *st, const char *name, char *buf, size_t size)
{
	int k;

	if (st->path == NULL || (st->pid != 0 && !st->fresh))
		return "unknown";
	if (st->pid == 0 || (k = links_open(st->text, name)) == 0)
		return "no";
	if (k == 1)
		return "yes";
	snprintf(buf, size, "yes(%d)", k);
	return buf;
}

/* Kind and flags of a component node: 0, or -1 after a message. */
static int
comp_describe(const struct sbctl *ctx, const struct sb_config_node *c, int *internal,
    char *flags, size_t size)
{
	char err[1024];
	size_t len = 0;
	int v;

	if (sb_config_get_bool(c, "@internal", 0, internal, err, sizeof(err)) == -1)
		goto fail;
	flags[0] = '\0';
	for (size_t i = 0; i < sizeof(comp_flags) / sizeof(comp_flags[0]); i++) {
		char attr[32];

		snprintf(attr, sizeof(attr), "@%s", comp_flags[i]);
		if (sb_config_get_bool(c, attr, 0, &v, err, sizeof(err)) == -1)
			goto fail;
		if (v)
			len += (size_t)snprintf(flags + len, size - len, "%s%s", len ? "," : "",
			    comp_flags[i]);
	}
	if (len == 0)
		snprintf(flags, size, "-");
	return 0;
fail:
	sbctl_err(ctx, "%s", err);
	return -1;
}

/* The widest canonical name, for the first column; -1 after a message. */
static int
name_width(const struct sbctl *ctx, const struct sb_config_node *root)
{
	char name[SB_JID_PART_BUFSIZE];
	int w = 4;

	for (const struct sb_config_node *c = sb_config_child(root, "component"); c != NULL;
	    c = sb_config_next(c, "component")) {
		if (node_name(ctx, c, name) == -1)
			return -1;
		if ((int)strlen(name) > w)
			w = (int)strlen(name);
	}
	return w;
}

int
sbctl_component_list(struct sbctl *ctx, int argc, char **argv)
{
	struct comp_router r = { 0 };
	struct comp_status st = { 0 };
	const struct sb_config_node *root, *c;
	char name[SB_JID_PART_BUFSIZE], flags[64], buf[32];
	int w, internal, rc = SBCTL_FAIL;

	if (router_open(ctx, &r) == -1 || status_read(ctx, &r, &st) == -1)
		goto out;
	root = sb_config_root(r.cfg);
	if ((w = name_width(ctx, root)) == -1)
		goto out;
	printf("%-*s  %-8s  %-19s  %-9s  %s\n", w, "NAME", "KIND", "FLAGS", "CONNECTED",
	    "DEFINED");
	for (c = sb_config_child(root, "component"); c != NULL;
	    c = sb_config_next(c, "component")) {
		if (node_name(ctx, c, name) == -1 ||
		    comp_describe(ctx, c, &internal, flags, sizeof(flags)) == -1)
			goto out;
		printf("%-*s  %-8s  %-19s  %-9s  %s:%d\n", w, name,
		    internal ? "internal" : "external", flags,
		    connected(&st, name, buf, sizeof(buf)), sb_config_file(c), sb_config_line(c));
	}
	rc = SBCTL_OK;
out:
	free(st.text);
	router_close(&r);
	return rc;
}
