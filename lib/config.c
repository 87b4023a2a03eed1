/*
 * config.c: the configuration loader (see config.h).
 *
 * Each file is parsed by libxml2 into a document that lives only while it
 * is copied into our own tree in the config's arena. Includes are spliced
 * and ${VAR} expanded during that copy, so readers see one plain tree and
 * never libxml2.
 *
 * The parser is stopped by a SAX hook as soon as it meets <!DOCTYPE, so no
 * entity can ever be declared, let alone expanded or fetched: XXE and
 * "billion laughs" are impossible by construction, not by option flags.
 */
#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>	/* xmlCreateMemoryParserCtxt */
#include <libxml/tree.h>
#include <libxml/xmlversion.h>

#include "arena.h"
#include "buf.h"
#include "config.h"
#include "jid.h"
#include "log.h"
#include "xmalloc.h"
#include "xml_heap.h"

const struct sb_config_enum sb_config_log_levels[] = {
	{ "error", SB_LOG_ERROR }, { "warn", SB_LOG_WARN }, { "notice", SB_LOG_NOTICE },
	{ "info", SB_LOG_INFO }, { "debug", SB_LOG_DEBUG }, { NULL, 0 }
};

/* libxml2 2.12 made the error passed to hooks const. */
#if LIBXML_VERSION >= 21200
#define XML_ERROR_CONST	const
#else
#define XML_ERROR_CONST
#endif

#define PARSE_OPTIONS	(XML_PARSE_NONET | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES | \
			 XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
#define MAX_VAR_NESTING	8	/* ${A:-${B:-...}} */
#define MAX_PATH_KEY	256	/* longest field path the strict check builds */
#define WHY_LEN		256	/* what is wrong with a value */

struct src {			/* one file that contributed nodes */
	const char		*name;	/* as given or as included, for messages */
	const char		*dir;	/* absolute, for relative includes and paths */
	struct sb_config	*cfg;
};

struct attr {
	const char	*name, *value;
	struct attr	*next;
};

struct sb_config_node {
	const char		*name;
	const char		*text;
	int			 line;
	const struct src	*src;
	struct attr		*attrs;
	struct sb_config_node	*children, *last, *next;
};

struct sb_config {
	struct sb_arena		 arena;
	struct sb_config_node	*root;
};

/* A file being loaded. The chain up to the top file finds include cycles. */
struct frame {
	struct sb_config	*cfg;
	char			*err;
	size_t			 errlen;
	const struct src	*src;
	const char		*real;	/* realpath; NULL for text from memory */
	const struct frame	*up;	/* the including file */
	int			 depth;
};

/* A value found by a path: the node it belongs to, attribute or text. */
struct value {
	const struct sb_config_field	*f;
	const struct sb_config_node	*node;
	const char			*attr;	/* attribute name, NULL for text */
	const char			*text;
	int				 is_default; /* text is f->def */
};

static int copy_children(const struct frame *, xmlNode *, struct sb_config_node *);

/* Message into err, after "file:line: " when file is given; returns -1. */
static int __attribute__((format(printf, 5, 0)))
vfail(char *err, size_t errlen, const char *file, int line, const char *fmt, va_list ap)
{
	int k = 0;

	if (err != NULL && errlen > 0 && file != NULL)
		k = snprintf(err, errlen, "%s:%d: ", file, line);
	if (err != NULL && errlen > 0 && k >= 0 && (size_t)k < errlen)
		vsnprintf(err + k, errlen - (size_t)k, fmt, ap);
	return -1;
}

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(err, errlen, NULL, 0, fmt, ap);
	va_end(ap);
	return -1;
}

/* A loading error at a line of the file being loaded. */
static int __attribute__((format(printf, 3, 4)))
ferr(const struct frame *fr, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfail(fr->err, fr->errlen, fr->src->name, line, fmt, ap);
	va_end(ap);
	return -1;
}

/* ---- ${VAR} expansion ---- */

/* Offset of the '}' closing the "${" at s, or -1. Braces nest for defaults. */
static long
closing_brace(const char *s, size_t n)
{
	int depth = 0;

	for (size_t i = 1; i < n; i++) {
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}' && --depth == 0)
			return (long)i;
	}
	return -1;
}

static int expand(const struct frame *, int, const char *, size_t, struct sb_buf *, int);

/* The inside of one ${...}: NAME or NAME:-default. */
static int
expand_var(const struct frame *fr, int line, const char *s, size_t n, struct sb_buf *out,
    int nesting)
{
	char name[128];
	const char *v;
	size_t k = 0;

	while (k < n && (isalnum((unsigned char)s[k]) || s[k] == '_'))
		k++;
	if (k == 0 || k >= sizeof(name) || isdigit((unsigned char)s[0]) ||
	    (k < n && (n - k < 2 || s[k] != ':' || s[k + 1] != '-')))
		return ferr(fr, line, "bad variable reference ${%.*s} (write ${NAME} or "
		    "${NAME:-default})", (int)n, s);
	memcpy(name, s, k);
	name[k] = '\0';
	v = getenv(name);
	if (k == n && v == NULL)
		return ferr(fr, line, "environment variable %s is not set (write "
		    "${%s:-default} for a default)", name, name);
	if (k == n || (v != NULL && *v != '\0')) {
		sb_buf_append_str(out, v);
		return 0;
	}
	if (nesting >= MAX_VAR_NESTING)
		return ferr(fr, line, "${%s:-...} nested too deeply", name);
	return expand(fr, line, s + k + 2, n - k - 2, out, nesting + 1);
}

/* $$ is a literal $; ${...} expands; any other $ stays as it is. */
static int
expand(const struct frame *fr, int line, const char *s, size_t n, struct sb_buf *out,
    int nesting)
{
	size_t i = 0;
	long end;

	while (i < n) {
		if (s[i] == '$' && i + 1 < n && s[i + 1] == '$') {
			sb_buf_append_char(out, '$');
			i += 2;
		} else if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
			if ((end = closing_brace(s + i, n - i)) < 0)
				return ferr(fr, line, "unterminated ${ in \"%.*s\"",
				    (int)(n - i > 60 ? 60 : n - i), s + i);
			if (expand_var(fr, line, s + i + 2, (size_t)end - 2, out, nesting) == -1)
				return -1;
			i += (size_t)end + 1;
		} else {
			line += s[i] == '\n';
			sb_buf_append_char(out, s[i++]);
		}
	}
	return 0;
}

/* Expanded copy in the arena, trimmed of surrounding white space if asked. */
static const char *
expand_str(const struct frame *fr, int line, const char *s, int trim)
{
	struct sb_buf b = SB_BUF_INIT;
	const char *r = NULL;
	size_t n;

	for (; trim && isspace((unsigned char)*s); s++)
		line += *s == '\n';
	for (n = strlen(s); trim && n > 0 && isspace((unsigned char)s[n - 1]); n--)
		;
	if (memchr(s, '$', n) == NULL)
		return sb_arena_strndup(&fr->cfg->arena, s, n);
	if (expand(fr, line, s, n, &b, 0) == 0)
		r = sb_arena_strndup(&fr->cfg->arena, sb_buf_data(&b), sb_buf_len(&b));
	sb_buf_free(&b);
	return r;
}

/* ---- files and paths ---- */

/* dir/rel without doubling the slash when dir is "/". */
static char *
join(struct sb_arena *a, const char *dir, const char *rel)
{
	size_t n = strlen(dir);

	return sb_arena_printf(a, "%s%s%s", dir, n > 0 && dir[n - 1] == '/' ? "" : "/", rel);
}

/* The directory of path, made absolute from the working directory. */
static const char *
dir_of(struct sb_arena *a, const char *path)
{
	const char *slash = strrchr(path, '/');
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return slash == path ? "/" : sb_arena_strndup(a, path, (size_t)(slash - path));
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		strcpy(cwd, ".");
	if (slash == NULL)
		return sb_arena_strdup(a, cwd);
	return sb_arena_printf(a, "%s/%.*s", cwd, (int)(slash - path), path);
}

static const struct src *
new_src(struct sb_config *cfg, const char *name, const char *path)
{
	struct src *s = sb_arena_zalloc(&cfg->arena, sizeof(*s));

	s->name = sb_arena_strdup(&cfg->arena, name);
	s->dir = dir_of(&cfg->arena, path);
	s->cfg = cfg;
	return s;
}

/* Whole file into b, refusing more than SB_CONFIG_MAX_FILE; errno on failure. */
static int
read_file(const char *path, struct sb_buf *b)
{
	FILE *f = fopen(path, "rb");
	size_t avail, got;
	char *p;
	int e;

	if (f == NULL)
		return -1;
	do {
		p = sb_buf_space(b, 8192, &avail);
		got = fread(p, 1, avail, f);
		sb_buf_commit(b, got);
	} while (got > 0 && sb_buf_len(b) <= SB_CONFIG_MAX_FILE);
	e = ferror(f) ? errno : sb_buf_len(b) > SB_CONFIG_MAX_FILE ? EFBIG : 0;
	fclose(f);
	errno = e;
	return e ? -1 : 0;
}

/* ---- XML ---- */

/* What the SAX hooks saw while one document was parsed. */
struct parse_state {
	int	 dtd_line;	/* where a DOCTYPE or entity declaration began */
	int	 err_line;	/* the first error, which explains best */
	char	 err[200];
};

/* SAX hook for <!DOCTYPE and entity declarations: note the line, stop. */
static void
reject_dtd(void *ctx, const xmlChar *name, const xmlChar *ext, const xmlChar *sys)
{
	xmlParserCtxt *ctxt = ctx;
	struct parse_state *ps = ctxt->_private;

	if (ps->dtd_line == 0)
		ps->dtd_line = ctxt->input != NULL && ctxt->input->line > 0 ? ctxt->input->line : 1;
	xmlStopParser(ctxt);
}

static void
reject_entity(void *ctx, const xmlChar *name, int type, const xmlChar *pub,
    const xmlChar *sys, xmlChar *content)
{
	reject_dtd(ctx, name, pub, sys);
}

/* Structured error hook: libxml2 keeps only the last error, often a consequence. */
static void
note_error(void *ctx, XML_ERROR_CONST xmlError *e)
{
	struct parse_state *ps = ((xmlParserCtxt *)ctx)->_private;
	const char *m = e->message != NULL ? e->message : "";

	if (ps->err_line != 0 || e->level < XML_ERR_ERROR)
		return;
	ps->err_line = e->line > 0 ? e->line : 1;
	snprintf(ps->err, sizeof(ps->err), "%.*s", (int)strcspn(m, "\n"), m);
}

/* The document, or NULL with the first error (or the refused DTD) explained. */
static xmlDoc *
parse_xml(const struct frame *fr, const char *data, size_t len)
{
	struct parse_state ps = { 0, 0, "" };
	xmlParserCtxt *ctxt;
	xmlDoc *doc;

	if (len == 0 || len > INT_MAX ||
	    (ctxt = xmlCreateMemoryParserCtxt(data, (int)len)) == NULL) {
		fail(fr->err, fr->errlen, "%s: empty file (no root element)", fr->src->name);
		return NULL;
	}
	xmlCtxtUseOptions(ctxt, PARSE_OPTIONS);
	ctxt->sax->internalSubset = reject_dtd;
	ctxt->sax->externalSubset = reject_dtd;
	ctxt->sax->entityDecl = reject_entity;
	ctxt->sax->serror = note_error;
	ctxt->_private = &ps;
	xmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	xmlFreeParserCtxt(ctxt);
	if (ps.dtd_line != 0)
		ferr(fr, ps.dtd_line, "DOCTYPE/entity declarations are not allowed in "
		    "config files");
	else if (ps.err_line != 0 || doc == NULL || xmlDocGetRootElement(doc) == NULL)
		ferr(fr, ps.err_line ? ps.err_line : 1, "malformed XML: %s",
		    ps.err_line ? ps.err : "no root element");
	else
		return doc;
	xmlFreeDoc(doc);
	return NULL;
}

/* ---- building the tree ---- */

/* An attribute's value, entity references resolved, expanded, in the arena. */
static const char *
copy_attr_value(const struct frame *fr, int line, xmlAttr *a, int trim)
{
	char *v = (char *)xmlNodeListGetString(a->doc, a->children, 1);
	const char *r = expand_str(fr, line, v != NULL ? v : "", trim);

	xmlFree(v);
	return r;
}

static int
copy_attrs(const struct frame *fr, xmlNode *x, struct sb_config_node *n)
{
	struct attr **tail = &n->attrs;

	for (xmlAttr *a = x->properties; a != NULL; a = a->next) {
		struct attr *at = sb_arena_zalloc(&fr->cfg->arena, sizeof(*at));

		at->name = sb_arena_strdup(&fr->cfg->arena, (const char *)a->name);
		if ((at->value = copy_attr_value(fr, n->line, a, 0)) == NULL)
			return -1;
		*tail = at;
		tail = &at->next;
	}
	return 0;
}

/* The element's own text (its text and CDATA children), trimmed and expanded. */
static int
copy_text(const struct frame *fr, xmlNode *x, struct sb_config_node *n)
{
	struct sb_buf raw = SB_BUF_INIT;
	int line = 0;

	for (xmlNode *c = x->children; c != NULL; c = c->next) {
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) &&
		    c->content != NULL) {
			if (line == 0)
				line = (int)xmlGetLineNo(c);
			sb_buf_append_str(&raw, (const char *)c->content);
		}
	}
	n->text = expand_str(fr, line > 0 ? line : n->line, sb_buf_data(&raw), 1);
	sb_buf_free(&raw);
	return n->text != NULL ? 0 : -1;
}

static struct sb_config_node *
copy_element(const struct frame *fr, xmlNode *x)
{
	struct sb_config_node *n = sb_arena_zalloc(&fr->cfg->arena, sizeof(*n));

	n->name = sb_arena_strdup(&fr->cfg->arena, (const char *)x->name);
	n->line = (int)xmlGetLineNo(x);
	n->src = fr->src;
	if (copy_attrs(fr, x, n) == -1 || copy_text(fr, x, n) == -1 ||
	    copy_children(fr, x, n) == -1)
		return NULL;
	return n;
}

/* ---- includes ---- */

/* How an included file is named in messages: next to its includer's name. */
static const char *
display_name(const struct frame *fr, const char *rel)
{
	const char *slash = strrchr(fr->src->name, '/');

	if (rel[0] == '/' || slash == NULL)
		return rel;
	return sb_arena_printf(&fr->cfg->arena, "%.*s%s", (int)(slash - fr->src->name + 1),
	    fr->src->name, rel);
}

/* Splice the root's children of the file at abs under parent. */
static int
include_file(const struct frame *fr, int line, const char *display, const char *abs,
    struct sb_config_node *parent)
{
	struct sb_buf data = SB_BUF_INIT;
	struct frame child = *fr;
	char *real = realpath(abs, NULL);
	xmlDoc *doc = NULL;
	int r = -1;

	for (const struct frame *up = fr; real != NULL && up != NULL; up = up->up)
		if (up->real != NULL && strcmp(up->real, real) == 0) {
			ferr(fr, line, "<include>: %s is already being included (include cycle)",
			    display);
			goto out;
		}
	if (real == NULL || read_file(real, &data) == -1) {
		ferr(fr, line, "<include>: cannot read %s: %s", display, strerror(errno));
		goto out;
	}
	child.src = new_src(fr->cfg, display, abs);
	child.real = real;
	child.up = fr;
	child.depth = fr->depth + 1;
	if ((doc = parse_xml(&child, sb_buf_data(&data), sb_buf_len(&data))) != NULL)
		r = copy_children(&child, xmlDocGetRootElement(doc), parent);
out:
	xmlFreeDoc(doc);
	sb_buf_free(&data);
	free(real);
	return r;
}

/* A missing directory matches nothing; an unreadable one must not hide files. */
static int
glob_error(const char *path, int e)
{
	return e != ENOENT && e != ENOTDIR;
}

/* A pattern may match nothing (an empty conf.d); matches come sorted. */
static int
include_glob(const struct frame *fr, int line, const char *file,
    struct sb_config_node *parent)
{
	const char *dir = fr->src->dir, *pattern = file[0] == '/' ? file :
	    join(&fr->cfg->arena, dir, file);
	size_t dlen = strlen(dir);
	glob_t g;
	int r = glob(pattern, 0, glob_error, &g);

	if (r == GLOB_NOMATCH)
		return 0;
	if (r != 0)
		return ferr(fr, line, "<include>: cannot read %s (unreadable directory)", file);
	for (size_t i = 0; r == 0 && i < g.gl_pathc; i++) {
		const char *m = g.gl_pathv[i], *rel = m;

		if (file[0] != '/' && strncmp(m, dir, dlen) == 0)
			rel = m + dlen + (m[dlen] == '/');
		r = include_file(fr, line, display_name(fr, rel), m, parent);
	}
	globfree(&g);
	return r;
}

static int
do_include(const struct frame *fr, xmlNode *x, struct sb_config_node *parent)
{
	int line = (int)xmlGetLineNo(x);
	const char *file = NULL;

	for (xmlAttr *a = x->properties; a != NULL; a = a->next) {
		if (strcmp((const char *)a->name, "file") != 0)
			return ferr(fr, line, "<include>: unknown attribute '%s'",
			    (const char *)a->name);
		if ((file = copy_attr_value(fr, line, a, 1)) == NULL)
			return -1;
	}
	if (file == NULL || *file == '\0')
		return ferr(fr, line, "<include>: needs file='path'");
	if (fr->depth >= SB_CONFIG_MAX_INCLUDE)
		return ferr(fr, line, "<include>: includes nested deeper than %d",
		    SB_CONFIG_MAX_INCLUDE);
	if (strpbrk(file, "*?[") != NULL)
		return include_glob(fr, line, file, parent);
	return include_file(fr, line, display_name(fr, file),
	    file[0] == '/' ? file : join(&fr->cfg->arena, fr->src->dir, file), parent);
}

/* Element children of x, in order, with includes spliced in. */
static int
copy_children(const struct frame *fr, xmlNode *x, struct sb_config_node *parent)
{
	for (xmlNode *c = x->children; c != NULL; c = c->next) {
		struct sb_config_node *n;

		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, "include") == 0) {
			if (do_include(fr, c, parent) == -1)
				return -1;
			continue;
		}
		if ((n = copy_element(fr, c)) == NULL)
			return -1;
		*(parent->last ? &parent->last->next : &parent->children) = n;
		parent->last = n;
	}
	return 0;
}

/* ---- loading ---- */

static int
load_top(struct sb_config **cfgp, const char *name, const char *real, const char *text,
    size_t len, char *err, size_t errlen)
{
	struct sb_config *cfg = xcalloc(1, sizeof(*cfg));
	struct frame fr = { cfg, err, errlen, NULL, real, NULL, 0 };
	xmlDoc *doc;

	sb_xml_heap_init();
	xmlInitParser();
	sb_arena_init(&cfg->arena, 0);
	fr.src = new_src(cfg, name, name);
	if ((doc = parse_xml(&fr, text, len)) != NULL) {
		cfg->root = copy_element(&fr, xmlDocGetRootElement(doc));
		xmlFreeDoc(doc);
	}
	if (cfg->root == NULL) {
		sb_config_free(cfg);
		return -1;
	}
	*cfgp = cfg;
	return 0;
}

int
sb_config_load(struct sb_config **cfgp, const char *path, char *err, size_t errlen)
{
	struct sb_buf data = SB_BUF_INIT;
	char *real = realpath(path, NULL);
	int r = -1;

	*cfgp = NULL;
	if (real == NULL || read_file(real, &data) == -1)
		fail(err, errlen, "%s: cannot read: %s", path, strerror(errno));
	else
		r = load_top(cfgp, path, real, sb_buf_data(&data), sb_buf_len(&data), err, errlen);
	sb_buf_free(&data);
	free(real);
	return r;
}

int
sb_config_load_string(struct sb_config **cfgp, const char *name, const char *text,
    size_t len, char *err, size_t errlen)
{
	*cfgp = NULL;
	return load_top(cfgp, name, NULL, text, len, err, errlen);
}

void
sb_config_free(struct sb_config *cfg)
{
	if (cfg == NULL)
		return;
	sb_arena_free(&cfg->arena);
	free(cfg);
}

/* ---- navigation ---- */

const struct sb_config_node *
sb_config_root(const struct sb_config *cfg)
{
	return cfg->root;
}

/* First element at or after n named name[0..len), any when name is NULL. */
static const struct sb_config_node *
match_from(const struct sb_config_node *n, const char *name, size_t len)
{
	for (; n != NULL; n = n->next)
		if (name == NULL || (strncmp(n->name, name, len) == 0 && n->name[len] == '\0'))
			return n;
	return NULL;
}

const struct sb_config_node *
sb_config_child(const struct sb_config_node *n, const char *name)
{
	return match_from(n->children, name, name ? strlen(name) : 0);
}

const struct sb_config_node *
sb_config_next(const struct sb_config_node *n, const char *name)
{
	return match_from(n->next, name, name ? strlen(name) : 0);
}

const struct sb_config_node *
sb_config_find(const struct sb_config_node *n, const char *path)
{
	const char *p = path;

	while (n != NULL && *p != '\0' && *p != '@' && strcmp(p, ".") != 0) {
		size_t len = strcspn(p, "/@");

		n = match_from(n->children, p, len);
		p += len + (p[len] == '/');
	}
	return n;
}

const char *
sb_config_name(const struct sb_config_node *n)
{
	return n->name;
}

const char *
sb_config_text(const struct sb_config_node *n)
{
	return n->text;
}

const char *
sb_config_attr(const struct sb_config_node *n, const char *name)
{
	for (const struct attr *a = n->attrs; a != NULL; a = a->next)
		if (strcmp(a->name, name) == 0)
			return a->value;
	return NULL;
}

const char *
sb_config_file(const struct sb_config_node *n)
{
	return n->src->name;
}

int
sb_config_line(const struct sb_config_node *n)
{
	return n->line;
}

int
sb_config_errorf(const struct sb_config_node *n, char *err, size_t errlen,
    const char *fmt, ...)
{
	char what[WHY_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fail(err, errlen, "%s:%d: <%s>: %s", n->src->name, n->line, n->name, what);
}

/*
 * Walk path below n. 0: found (v filled); 1: absent; -1: an element on the
 * way is given twice, which for a single value is a mistake worth naming.
 */
static int
lookup(const struct sb_config_node *n, struct value *v, char *err, size_t errlen)
{
	const char *p = v->f->path;

	while (*p != '\0' && *p != '@' && strcmp(p, ".") != 0) {
		size_t len = strcspn(p, "/@");
		const struct sb_config_node *c = match_from(n->children, p, len), *dup;

		if (c == NULL)
			return 1;
		if ((dup = match_from(c->next, p, len)) != NULL)
			return fail(err, errlen, "%s:%d: <%s>: given twice (first at %s:%d)",
			    dup->src->name, dup->line, dup->name, c->src->name, c->line);
		n = c;
		p += len + (p[len] == '/');
	}
	v->node = n;
	v->attr = *p == '@' ? p + 1 : NULL;
	v->text = v->attr ? sb_config_attr(n, v->attr) : n->text;
	return v->text != NULL ? 0 : 1;
}

/* ---- value syntaxes ---- */

struct unit {
	const char	*name;
	uint64_t	 mult;
};

/* Largest first, so that formatting picks the biggest exact unit. */
static const struct unit duration_units[] = {
	{ "d", 86400000 }, { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 },
	{ NULL, 0 }
};

static const struct unit size_units[] = {
	{ "T", 1ULL << 40 }, { "TB", 1ULL << 40 }, { "TiB", 1ULL << 40 },
	{ "G", 1ULL << 30 }, { "GB", 1ULL << 30 }, { "GiB", 1ULL << 30 },
	{ "M", 1ULL << 20 }, { "MB", 1ULL << 20 }, { "MiB", 1ULL << 20 },
	{ "k", 1ULL << 10 }, { "kB", 1ULL << 10 }, { "KiB", 1ULL << 10 },
	{ "", 1 }, { "B", 1 }, { NULL, 0 }
};

static const struct sb_config_enum bool_names[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
	{ "on", 1 }, { "off", 0 }, { "1", 1 }, { "0", 0 }, { NULL, 0 }
};

static uint64_t
unit_mult(const struct unit *u, const char *s, size_t len)
{
	for (; u->name != NULL; u++)
		if (strlen(u->name) == len && strncasecmp(u->name, s, len) == 0)
			return u->mult;
	return 0;
}

static const char *
unit_format(const struct unit *u, uint64_t v, char *buf, size_t len)
{
	while (u->name != NULL && (v == 0 || v % u->mult != 0))
		u++;
	snprintf(buf, len, "%llu%s", (unsigned long long)(u->name ? v / u->mult : v),
	    u->name ? u->name : "");
	return buf;
}

/* A number and a unit, repeated if asked ("1h30m"); the sum goes to *out. */
static int
parse_units(const char *s, const struct unit *units, int repeat, uint64_t max, uint64_t *out)
{
	uint64_t total = 0, mult;
	unsigned long long num;
	char *end;
	size_t ulen;

	do {
		if (!isdigit((unsigned char)*s))
			return -1;
		errno = 0;
		num = strtoull(s, &end, 10);
		for (ulen = 0; isalpha((unsigned char)end[ulen]); ulen++)
			;
		if (errno != 0 || (mult = unit_mult(units, end, ulen)) == 0 ||
		    num > (max - total) / mult)
			return -1;
		total += num * mult;
		s = end + ulen;
	} while (repeat && *s != '\0');
	*out = total;
	return *s == '\0' ? 0 : -1;
}

int
sb_config_parse_duration(const char *s, int64_t *ms)
{
	uint64_t v = 0;

	if (strcmp(s, "0") != 0 && parse_units(s, duration_units, 1, INT64_MAX, &v) == -1)
		return -1;
	*ms = (int64_t)v;
	return 0;
}

int
sb_config_parse_size(const char *s, size_t *bytes)
{
	uint64_t v;

	if (parse_units(s, size_units, 0, SIZE_MAX, &v) == -1)
		return -1;
	*bytes = (size_t)v;
	return 0;
}

static const struct sb_config_enum *
enum_find(const struct sb_config_enum *names, const char *s)
{
	for (; names != NULL && names->name != NULL; names++)
		if (strcasecmp(names->name, s) == 0)
			return names;
	return NULL;
}

int
sb_config_parse_bool(const char *s, int *out)
{
	const struct sb_config_enum *e = enum_find(bool_names, s);

	if (e == NULL)
		return -1;
	*out = e->value;
	return 0;
}

/* ---- typed values: one parser per type; why (WHY_LEN) says what is wrong ---- */

typedef int type_fn(const struct value *v, void *out, char *why);

static int
t_str(const struct value *v, void *out, char *why)
{
	long long len = (long long)strlen(v->text), min = v->f->min, max = v->f->max;

	if ((min > 0 && len < min) || (max > 0 && len > max))
		return fail(why, WHY_LEN, "has %lld characters (%lld-%lld allowed)", len, min,
		    max > 0 ? max : LLONG_MAX);
	*(const char **)out = v->text;
	return 0;
}

/* An int in [min, max]: the field's range, or any int when both are 0. */
static int
int_in(const char *s, long long min, long long max, int *out)
{
	long long n;
	char *end;

	if (min == 0 && max == 0) {
		min = INT_MIN;
		max = INT_MAX;
	}
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || isspace((unsigned char)*s))
		return -1;
	if (n < min || n > max || n < INT_MIN || n > INT_MAX)
		return -2;
	*out = (int)n;
	return 0;
}

static int
t_int(const struct value *v, void *out, char *why)
{
	switch (int_in(v->text, v->f->min, v->f->max, out)) {
	case -1:
		return fail(why, WHY_LEN, "is not an integer");
	case -2:
		return fail(why, WHY_LEN, "is out of range (%lld-%lld)", v->f->min, v->f->max);
	}
	return 0;
}

static int
t_port(const struct value *v, void *out, char *why)
{
	if (int_in(v->text, 1, 65535, out) != 0)
		return fail(why, WHY_LEN, "is not a port (1-65535)");
	return 0;
}

static int
t_bool(const struct value *v, void *out, char *why)
{
	if (sb_config_parse_bool(v->text, out) == -1)
		return fail(why, WHY_LEN, "is not a boolean (yes/no, true/false, on/off, 1/0)");
	return 0;
}

/* The range check shared by durations and sizes, printed in their units. */
static int
unit_range(const struct unit *units, uint64_t n, const struct sb_config_field *f, char *why)
{
	char lo[32], hi[32];

	if ((f->min == 0 && f->max == 0) ||
	    (n >= (uint64_t)f->min && (f->max == 0 || n <= (uint64_t)f->max)))
		return 0;
	unit_format(units, (uint64_t)f->min, lo, sizeof(lo));
	if (f->max == 0)
		return fail(why, WHY_LEN, "is out of range (at least %s)", lo);
	return fail(why, WHY_LEN, "is out of range (%s-%s)", lo,
	    unit_format(units, (uint64_t)f->max, hi, sizeof(hi)));
}

static int
t_duration(const struct value *v, void *out, char *why)
{
	int64_t ms;

	if (sb_config_parse_duration(v->text, &ms) == -1)
		return fail(why, WHY_LEN, "is not a duration (e.g. 500ms, 30s, 5m, 2h, 1d)");
	if (unit_range(duration_units, (uint64_t)ms, v->f, why) == -1)
		return -1;
	*(int64_t *)out = ms;
	return 0;
}

static int
t_size(const struct value *v, void *out, char *why)
{
	size_t n;

	if (sb_config_parse_size(v->text, &n) == -1)
		return fail(why, WHY_LEN, "is not a size (e.g. 512, 64k, 10M, 1G)");
	if (unit_range(size_units, n, v->f, why) == -1)
		return -1;
	*(size_t *)out = n;
	return 0;
}

static int
t_enum(const struct value *v, void *out, char *why)
{
	const struct sb_config_enum *names = v->f->names, *e = enum_find(names, v->text);
	size_t k;

	if (e != NULL) {
		*(int *)out = e->value;
		return 0;
	}
	k = (size_t)snprintf(why, WHY_LEN, "is not one of:");
	for (e = names; e != NULL && e->name != NULL && k < WHY_LEN; e++)
		k += (size_t)snprintf(why + k, WHY_LEN - k, "%s %s", e == names ? "" : ",",
		    e->name);
	return -1;
}

static int
t_path(const struct value *v, void *out, char *why)
{
	const struct src *src = v->node->src;

	if (v->text[0] == '\0')
		return fail(why, WHY_LEN, "is not a path (empty)");
	*(const char **)out = v->text[0] == '/' ? v->text :
	    join(&src->cfg->arena, src->dir, v->text);
	return 0;
}

static int
t_custom(const struct value *v, void *out, char *why)
{
	if (v->f->parse == NULL)
		return fail(why, WHY_LEN, "has no parser (CUSTOM field without .parse)");
	fail(why, WHY_LEN, "is not valid");	/* in case the parser gives no reason */
	return v->f->parse(v->node, v->text, out, why, WHY_LEN);
}

static type_fn *const type_parsers[] = {
	[SB_CONFIG_STR] = t_str,
	[SB_CONFIG_INT] = t_int,
	[SB_CONFIG_PORT] = t_port,
	[SB_CONFIG_BOOL] = t_bool,
	[SB_CONFIG_DURATION] = t_duration,
	[SB_CONFIG_SIZE] = t_size,
	[SB_CONFIG_ENUM] = t_enum,
	[SB_CONFIG_PATH] = t_path,
	[SB_CONFIG_CUSTOM] = t_custom,
};

int
sb_config_get(const struct sb_config_node *n, const struct sb_config_field *f, void *out,
    char *err, size_t errlen)
{
	struct value v = { .f = f };
	char why[WHY_LEN];
	int r;

	if ((size_t)f->type >= sizeof(type_parsers) / sizeof(type_parsers[0]))
		return f->type == SB_CONFIG_SECTION ? 0 :
		    fail(err, errlen, "%s: unknown config type %d", f->path, (int)f->type);
	if ((r = lookup(n, &v, err, errlen)) == -1)
		return -1;
	if (r == 1 && (f->flags & SB_CONFIG_REQUIRED))
		return sb_config_errorf(n, err, errlen, strchr(f->path, '@') ? "missing %s" :
		    "missing <%s>", f->path);
	if (r == 1 && f->def == NULL)
		return 0;
	if (r == 1)
		v = (struct value){ .f = f, .node = n, .text = f->def, .is_default = 1 };
	if (type_parsers[f->type](&v, out, why) == 0)
		return 0;
	if (v.is_default)
		return sb_config_errorf(n, err, errlen, "built-in default for %s \"%s\" %s",
		    f->path, f->def, why);
	/* file:line: <name> or <name attr>: "value" why; long values are cut. */
	return fail(err, errlen, "%s:%d: <%s%s%s>: \"%.*s%s\" %s", v.node->src->name,
	    v.node->line, v.node->name, v.attr ? " " : "", v.attr ? v.attr : "", 77, v.text,
	    strlen(v.text) > 77 ? "..." : "", why);
}

/* ---- typed getters: the default is a value, there is no text to parse ---- */

#define GETTER(TYPE, ...) do {							\
	struct sb_config_field f_ = { .path = path, .type = (TYPE), __VA_ARGS__ };	\
	*out = def;								\
	return sb_config_get(n, &f_, out, err, errlen);				\
} while (0)

int
sb_config_get_str(const struct sb_config_node *n, const char *path, const char *def,
    const char **out, char *err, size_t errlen)
{
	GETTER(SB_CONFIG_STR, .def = NULL);
}

int
sb_config_get_int(const struct sb_config_node *n, const char *path, int def, int min,
    int max, int *out, char *err, size_t errlen)
{
	GETTER(SB_CONFIG_INT, .min = min, .max = max);
}

int
sb_config_get_port(const struct sb_config_node *n, const char *path, int def, int *out,
    char *err, size_t errlen)
{
	GETTER(SB_CONFIG_PORT, .def = NULL);
}

int
sb_config_get_bool(const struct sb_config_node *n, const char *path, int def, int *out,
    char *err, size_t errlen)
{
	GETTER(SB_CONFIG_BOOL, .def = NULL);
}

int
sb_config_get_duration(const struct sb_config_node *n, const char *path, int64_t def,
    int64_t *out, char *err, size_t errlen)
{
	GETTER(SB_CONFIG_DURATION, .def = NULL);
}

int
sb_config_get_size(const struct sb_config_node *n, const char *path, size_t def,
    size_t *out, char *err, size_t errlen)
{
	GETTER(SB_CONFIG_SIZE, .def = NULL);
}

int
sb_config_get_enum(const struct sb_config_node *n, const char *path,
    const struct sb_config_enum *names, int def, int *out, char *err, size_t errlen)
{
	GETTER(SB_CONFIG_ENUM, .names = names);
}

int
sb_config_get_path(const struct sb_config_node *n, const char *path, const char *def,
    const char **out, char *err, size_t errlen)
{
	/* The default goes through t_path too, so that it is made absolute. */
	struct sb_config_field f = { .path = path, .type = SB_CONFIG_PATH, .def = def };

	*out = NULL;
	return sb_config_get(n, &f, out, err, errlen);
}

/* ---- tables ---- */

struct errs {
	char	*buf;
	size_t	 len;
	int	 count;
	int	 all;
};

/* Keep the first error, or every one (one per line) when asked to. */
static void
errs_add(struct errs *e, const char *msg)
{
	size_t used;

	if ((e->count++ > 0 && !e->all) || e->buf == NULL || e->len == 0)
		return;
	used = strlen(e->buf);
	if (used + 1 < e->len)
		snprintf(e->buf + used, e->len - used, "%s%s", used ? "\n" : "", msg);
}

/*
 * How a strict section knows key (a path to an element, "tls/certificate",
 * or to an attribute, "tls@mode"): 0 unknown, 1 a SECTION (its content is
 * someone else's business), 2 a value or on the way to one.
 */
static int
known(const struct sb_config_field *fields, const char *key)
{
	size_t len = strlen(key);
	int r = 0;

	for (const struct sb_config_field *f = fields; f->path != NULL; f++) {
		if (strcmp(f->path, key) == 0)
			return f->type == SB_CONFIG_SECTION ? 1 : 2;
		if (strncmp(f->path, key, len) == 0 && (f->path[len] == '/' || f->path[len] == '@'))
			r = 2;
	}
	return r;
}

/* Every attribute and element below n must be named by a field. */
static void
strict_check(const struct sb_config_node *n, const char *prefix,
    const struct sb_config_field *fields, struct errs *e)
{
	char key[MAX_PATH_KEY], msg[512];

	for (const struct attr *a = n->attrs; a != NULL && (e->all || !e->count); a = a->next) {
		snprintf(key, sizeof(key), "%s@%s", prefix, a->name);
		if (known(fields, key) != 2) {
			snprintf(msg, sizeof(msg), "%s:%d: <%s>: unknown attribute '%s'",
			    n->src->name, n->line, n->name, a->name);
			errs_add(e, msg);
		}
	}
	for (const struct sb_config_node *c = n->children; c && (e->all || !e->count);
	    c = c->next) {
		int k = snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "/" : "", c->name);

		switch ((size_t)k < sizeof(key) ? known(fields, key) : 0) {
		case 0:
			snprintf(msg, sizeof(msg), "%s:%d: unknown element <%s> in <%s>",
			    c->src->name, c->line, c->name, n->name);
			errs_add(e, msg);
			break;
		case 2:
			strict_check(c, key, fields, e);
			break;
		}
	}
}

int
sb_config_apply(const struct sb_config_node *n, const struct sb_config_field *fields,
    void *base, unsigned flags, char *err, size_t errlen)
{
	struct errs e = { err, errlen, 0, (flags & SB_CONFIG_ALL_ERRORS) != 0 };
	char msg[512];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	for (const struct sb_config_field *f = fields; f->path != NULL; f++) {
		if (sb_config_get(n, f, (char *)base + f->offset, msg, sizeof(msg)) == -1) {
			errs_add(&e, msg);
			if (!e.all)
				return -1;
		}
	}
	if (flags & SB_CONFIG_STRICT)
		strict_check(n, "", fields, &e);
	return e.count > 0 ? -1 : 0;
}

const char *
sb_config_default_path(const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return paths[n - 1];
}

char *
sb_config_sibling(const char *path, const char *name)
{
	const char *slash = strrchr(path, '/');
	size_t dlen = slash != NULL ? (size_t)(slash - path) : 1;
	char *out = xmalloc(dlen + 1 + strlen(name) + 1);

	if (slash != NULL)
		memcpy(out, path, dlen);
	else
		out[0] = '.';
	out[dlen] = '/';
	strcpy(out + dlen + 1, name);
	return out;
}

size_t
sb_config_count(const struct sb_config_node *n, const char *name)
{
	size_t k = 0;

	for (const struct sb_config_node *c = sb_config_child(n, name); c != NULL;
	    c = sb_config_next(c, name))
		k++;
	return k;
}

/* ---- lists of sections ---- */

int
sb_config_apply_all(const struct sb_config_node *parent, const char *name,
    const struct sb_config_field *fields, struct sb_arena *arena, size_t size,
    void **arrayp, size_t *countp, char *err, size_t errlen)
{
	const struct sb_config_node *n;
	char *array;
	size_t i = 0;

	*countp = parent != NULL ? sb_config_count(parent, name) : 0;
	*arrayp = array = sb_arena_zalloc(arena, (*countp + 1) * size);
	if (parent == NULL)
		return 0;
	for (n = sb_config_child(parent, name); n != NULL; n = sb_config_next(n, name), i++)
		if (sb_config_apply(n, fields, array + i * size, SB_CONFIG_STRICT, err,
		    errlen) == -1)
			return -1;
	return 0;
}

int
sb_config_domain_canon(const struct sb_config_node *n, struct sb_arena *arena,
    const char **name, char *err, size_t errlen)
{
	const char *canon, *why;
	size_t len;

	if (sb_jid_prepare_arena(SB_JID_DOMAIN, arena, *name, strlen(*name), &canon, &len,
	    &why) == -1)
		return sb_config_errorf(n, err, errlen, "domain \"%s\": %s", *name, why);
	*name = canon;
	return 0;
}

int
sb_config_domains(const struct sb_config_node *parent, const char *name,
    const struct sb_config_field *fields, struct sb_arena *arena, size_t size,
    size_t name_off, void **arrayp, size_t *countp, char *err, size_t errlen)
{
	const struct sb_config_node *n;
	char *array;
	size_t i = 0;

	*countp = parent != NULL ? sb_config_count(parent, name) : 0;
	*arrayp = array = sb_arena_zalloc(arena, (*countp + 1) * size);
	if (parent == NULL)
		return 0;
	for (n = sb_config_child(parent, name); n != NULL; n = sb_config_next(n, name), i++) {
		const char **dom = (const char **)(array + i * size + name_off);

		if (sb_config_apply(n, fields, array + i * size, SB_CONFIG_STRICT, err,
		    errlen) == -1 || sb_config_domain_canon(n, arena, dom, err, errlen) == -1)
			return -1;
		for (size_t k = 0; k < i; k++)
			if (strcmp(*(const char **)(array + k * size + name_off), *dom) == 0)
				return sb_config_errorf(n, err, errlen,
				    "domain '%s' is already defined", *dom);
	}
	return 0;
}
