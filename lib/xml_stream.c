/*
 * xml_stream.c: XMPP streams on libxml2's SAX2 push parser (see xml.h).
 *
 * libxml2 does the XML; this file builds one stanza at a time into an arena,
 * enforces RFC 6120 section 11 (restricted XML) and the caller's limits, and
 * keeps the parse independent of how the bytes were split:
 *
 *  - UTF-8 is validated here, before libxml2 sees the bytes, so invalid input
 *    fails at the same stanza whatever the split.
 *  - The stanza byte limit counts from the stanza's first '<' to its last '>'.
 *    The start is known exactly: it is where the previous stream-level event
 *    (header, stanza or whitespace) ended. The count is checked in every SAX
 *    callback, and after each piece fed (so libxml2 never buffers much more
 *    than the limit while waiting for a '>').
 *  - Stopping (STARTTLS), restarting (after SASL) and hibernating (idle
 *    connections) all work the same way: the bytes libxml2 has not parsed
 *    are copied out, the parser is freed, and the next feed builds a new one.
 *    A new parser for a stream that is already open is primed with a replay
 *    of the stream header's namespace declarations, so prefixes declared on
 *    the header keep working in later stanzas.
 */
#include <string.h>
#include <ctype.h>
#include <stdlib.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/dict.h>

#include "log.h"
#include "ns.h"
#include "utf8.h"
#include "xml.h"
#include "xmalloc.h"
#include "xml_heap.h"

/* libxml2 holds back at most this much inter-stanza text (XML_PARSER_BIG_BUFFER_SIZE). */
#define GUARD_SLACK	1024
/* Bytes handed to libxml2 per call, so the byte limit is checked often. */
#define PIECE		4096
/*
 * libxml2 interns every element and attribute name in a per-parser
 * dictionary that only grows: a peer sending new names in every stanza
 * would grow a long-lived stream without bound. Past this many names the
 * parser is rebuilt at the next stanza boundary.
 */
#define DICT_MAX	4096

enum stream_state {
	ST_HEADER,	/* waiting for the stream header */
	ST_OPEN,	/* inside the stream */
	ST_CLOSED,
	ST_FAILED,
};

struct sb_xml_stream {
	const struct sb_xml_stream_cb	*cb;
	void				*arg;
	struct sb_xml_limits		 lim;
	xmlParserCtxtPtr		 ctxt;	/* NULL while hibernating/stopped */
	enum stream_state		 state;

	/* the header's default namespace, kept until restart */
	char				*content_ns;
	struct sb_buf			 replay;	/* header namespace replay */
	int				 replaying;

	/* the stanza being built */
	struct sb_arena			 arena;
	struct sb_xml_node		*stanza;
	struct sb_xml_node		*cur;
	unsigned			 depth;	/* open elements, root included */

	/* positions, as stream offsets */
	int64_t				 base;	/* stream offset of parser offset 0 */
	uint64_t			 pushed;	/* bytes pushed into this parser */
	uint64_t			 boundary;	/* where the next stanza starts */
	int				 piece_ends_cr;

	/* shallow mode (the router): see sb_xml_stream_set_shallow() */
	int				 shallow;	/* asked for */
	int				 shallow_on;	/* in effect for this stream */
	struct sb_buf			 raw;		/* bytes pushed, from raw_base on */
	uint64_t			 raw_base;
	uint64_t			 inner_mark;	/* where the stanza's last direct content ended */
	uint64_t			 child_start, child_end;	/* its first child; 0: none */
	const char			*raw_stanza, *raw_child;	/* during the callback */
	size_t				 raw_stanza_len, raw_child_len;

	struct sb_utf8			 utf8;
	int				 in_callback;
	int				 stop;	/* stop requested by a callback */
	int				 restart;	/* restart requested */
	struct sb_buf			 leftover;

	enum sb_xml_error		 err;
	char				*errtext;	/* NULL until the stream failed */
};

static const char *const condition_names[] = {
	[SB_XML_ERR_NONE] = NULL,
	[SB_XML_ERR_NOT_WELL_FORMED] = "not-well-formed",
	[SB_XML_ERR_RESTRICTED_XML] = "restricted-xml",
	[SB_XML_ERR_POLICY_VIOLATION] = "policy-violation",
	[SB_XML_ERR_INVALID_NAMESPACE] = "invalid-namespace",
	[SB_XML_ERR_BAD_NAMESPACE_PREFIX] = "bad-namespace-prefix",
	[SB_XML_ERR_UNSUPPORTED_ENCODING] = "unsupported-encoding",
	[SB_XML_ERR_BAD_FORMAT] = "bad-format",
};

const char *
sb_xml_error_condition(enum sb_xml_error err)
{
	if ((size_t)err >= sizeof(condition_names) / sizeof(condition_names[0]))
		return "undefined-condition";
	return condition_names[err];
}

/* --- positions --- */

static uint64_t
parse_offset(const struct sb_xml_stream *s)
{
	const xmlParserInputPtr in = s->ctxt->input;

	return (uint64_t)(s->base + (int64_t)in->consumed + (in->cur - in->base));
}

static void __attribute__((format(printf, 3, 4)))
fail(struct sb_xml_stream *s, enum sb_xml_error err, const char *fmt, ...)
{
	char text[160];
	va_list ap;

	if (s->err != SB_XML_ERR_NONE)
		return;		/* the first error is the one that counts */
	s->err = err;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	s->errtext = xstrdup(text);
	if (s->ctxt != NULL)
		xmlStopParser(s->ctxt);
}

/*
 * Stream offset just past text libxml2 reports. It passes text either
 * straight from its input buffer, before moving past it, or from a copy,
 * after moving past it.
 */
static uint64_t
text_end(const struct sb_xml_stream *s, const xmlChar *ch, int len)
{
	const xmlParserInputPtr in = s->ctxt->input;

	if (ch >= in->base && ch + len <= in->end)
		return (uint64_t)(s->base + (int64_t)in->consumed + (ch + len - in->base));
	return parse_offset(s);
}

/* Stream offset just past a start tag: libxml2 reports it at its '>' or "/>". */
static uint64_t
start_tag_end(const struct sb_xml_stream *s)
{
	return parse_offset(s) + (*s->ctxt->input->cur == '>' ? 1 : 2);
}

/*
 * In a callback: is the stanza under construction over the byte limit at
 * 'end'? Positions are exact, so the same input fails at the same event
 * however it was split.
 */
static int
over_limit(struct sb_xml_stream *s, uint64_t end)
{
	if (end - s->boundary <= s->lim.max_stanza)
		return 0;
	fail(s, SB_XML_ERR_POLICY_VIOLATION, "stanza larger than %zu bytes", s->lim.max_stanza);
	return 1;
}

/* --- raw bytes (shallow mode) --- */

/* Bytes before the boundary will never be asked for again. */
static void
raw_trim(struct sb_xml_stream *s)
{
	uint64_t n;

	if (!s->shallow || s->boundary <= s->raw_base)
		return;
	n = s->boundary - s->raw_base;
	sb_buf_consume(&s->raw, n < sb_buf_len(&s->raw) ? n : sb_buf_len(&s->raw));
	s->raw_base = s->boundary;
}

/* The bytes of [from, to) as stream offsets, which the raw buffer holds. */
static const char *
raw_range(struct sb_xml_stream *s, uint64_t from, uint64_t to, size_t *len)
{
	if (from < s->raw_base || to < from || to - s->raw_base > sb_buf_len(&s->raw))
		return NULL;
	*len = (size_t)(to - from);
	return sb_buf_data(&s->raw) + (from - s->raw_base);
}

/* Start over at stream offset at (restart, hibernate): nothing before it is needed. */
static void
raw_reset(struct sb_xml_stream *s, uint64_t at)
{
	sb_buf_free(&s->raw);
	s->raw_base = at;
}

/*
 * Copy the bytes libxml2 holds but has not parsed into the leftover buffer
 * (libxml2 throws them away when halted). A chunk ending in CR has that CR
 * pushed only after parsing, so it is not in the buffer yet: add it.
 */
static void
capture_unparsed(struct sb_xml_stream *s)
{
	xmlParserInputPtr in = s->ctxt->input;

	if (in->cur < in->end)
		sb_buf_append(&s->leftover, in->cur, (size_t)(in->end - in->cur));
	if (s->piece_ends_cr && s->in_callback)
		sb_buf_append(&s->leftover, "\r", 1);
	/* The captured bytes start at a character boundary and get scanned again. */
	s->utf8 = (struct sb_utf8)SB_UTF8_INIT;
	s->base = (int64_t)parse_offset(s);	/* where the leftover starts */
	if ((uint64_t)s->base >= s->raw_base)
		sb_buf_truncate(&s->raw, (size_t)((uint64_t)s->base - s->raw_base));
}

/* Halt from inside a callback: keep the unparsed bytes, stop libxml2. */
static void
halt_in_callback(struct sb_xml_stream *s)
{
	capture_unparsed(s);
	xmlStopParser(s->ctxt);
}

/* --- building the tree --- */

static const char *
arena_name(struct sb_arena *a, const xmlChar *name)
{
	return name != NULL ? sb_arena_strdup(a, (const char *)name) : NULL;
}

static struct sb_xml_node *
build_element(struct sb_arena *a, const xmlChar *localname, const xmlChar *uri,
    int nb_attributes, const xmlChar **attributes)
{
	struct sb_xml_node *n = sb_arena_alloc(a, sizeof(*n));
	struct sb_xml_attr **tail = &n->e.attrs;

	n->next = NULL;
	n->parent = NULL;
	n->type = SB_XML_ELEMENT;
	n->e.name = arena_name(a, localname);
	n->e.ns = arena_name(a, uri);
	n->e.attrs = NULL;
	n->e.children = n->e.last = NULL;
	for (int i = 0; i < nb_attributes; i++, attributes += 5) {
		struct sb_xml_attr *at = sb_arena_alloc(a, sizeof(*at));

		at->next = NULL;
		at->name = arena_name(a, attributes[0]);
		at->ns = arena_name(a, attributes[2]);
		at->value = sb_arena_strndup(a, (const char *)attributes[3],
		    (size_t)(attributes[4] - attributes[3]));
		*tail = at;
		tail = &at->next;
	}
	return n;
}

/* The replay: "<p:stream xmlns:p='...' xmlns='...' ...>" with the header's declarations. */
static void
build_replay(struct sb_xml_stream *s, const xmlChar *prefix, int nb_namespaces,
    const xmlChar **namespaces)
{
	struct sb_buf *r = &s->replay;

	sb_buf_clear(r);
	sb_buf_append_char(r, '<');
	if (prefix != NULL)
		sb_buf_printf(r, "%s:", (const char *)prefix);
	sb_buf_append_str(r, "stream");
	for (int i = 0; i < nb_namespaces; i++) {
		const char *p = (const char *)namespaces[2 * i];
		const char *uri = (const char *)namespaces[2 * i + 1];

		if (p != NULL)
			sb_buf_printf(r, " xmlns:%s='", p);
		else
			sb_buf_append_str(r, " xmlns='");
		sb_xml_escape_attr(r, uri, strlen(uri));
		sb_buf_append_char(r, '\'');
	}
	sb_buf_append_char(r, '>');
	sb_buf_shrink(r);	/* kept for the stream's life */
}

static void
stream_header(struct sb_xml_stream *s, const xmlChar *localname, const xmlChar *prefix,
    const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
    int nb_attributes, const xmlChar **attributes)
{
	struct sb_xml_node *hdr;

	s->depth = 1;
	if (s->replaying)
		return;
	if (uri == NULL || strcmp((const char *)uri, SB_NS_STREAMS) != 0) {
		fail(s, SB_XML_ERR_INVALID_NAMESPACE, "stream root in namespace '%s'",
		    uri != NULL ? (const char *)uri : "");
		return;
	}
	if (strcmp((const char *)localname, "stream") != 0) {
		fail(s, SB_XML_ERR_BAD_FORMAT, "stream root is <%s/>", (const char *)localname);
		return;
	}
	/* The header is built in the stanza arena: it lives for the callback only. */
	hdr = build_element(&s->arena, localname, uri, nb_attributes, attributes);
	free(s->content_ns);
	s->content_ns = NULL;
	for (int i = 0; i < nb_namespaces; i++)
		if (namespaces[2 * i] == NULL) {
			free(s->content_ns);
			s->content_ns = xstrdup((const char *)namespaces[2 * i + 1]);
		}
	build_replay(s, prefix, nb_namespaces, namespaces);
	s->state = ST_OPEN;
	s->boundary = start_tag_end(s);
	/* A stanza's bytes are self-contained unless it may use a prefix of the header. */
	s->shallow_on = s->shallow;
	for (int i = 0; i < nb_namespaces; i++) {
		const xmlChar *p = namespaces[2 * i];

		if (p != NULL && (prefix == NULL || strcmp((const char *)p, (const char *)prefix) != 0))
			s->shallow_on = 0;
	}
	if (s->shallow_on)
		raw_trim(s);
	else
		raw_reset(s, 0);
	if (s->cb->header != NULL) {
		s->in_callback = 1;
		s->cb->header(s->arg, hdr, s->content_ns);
		s->in_callback = 0;
	}
	sb_arena_reset(&s->arena);
	if (s->stop || s->restart)
		halt_in_callback(s);
}

static void
sax_start(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri,
    int nb_namespaces, const xmlChar **namespaces, int nb_attributes, int nb_defaulted,
    const xmlChar **attributes)
{
	struct sb_xml_stream *s = ctx;
	struct sb_xml_node *n;

	if (s->err != SB_XML_ERR_NONE)
		return;
	if (s->depth == 0) {
		stream_header(s, localname, prefix, uri, nb_namespaces, namespaces,
		    nb_attributes, attributes);
		return;
	}
	if (s->depth > s->lim.max_depth) {
		fail(s, SB_XML_ERR_POLICY_VIOLATION, "elements nested deeper than %u",
		    s->lim.max_depth);
		return;
	}
	if ((unsigned)(nb_attributes + nb_namespaces) > s->lim.max_attrs) {
		fail(s, SB_XML_ERR_POLICY_VIOLATION, "more than %u attributes on <%s/>",
		    s->lim.max_attrs, (const char *)localname);
		return;
	}
	if (over_limit(s, start_tag_end(s)))
		return;
	if (s->depth == 1) {
		n = build_element(&s->arena, localname, uri, nb_attributes, attributes);
		s->stanza = s->cur = n;
		s->inner_mark = start_tag_end(s);
		s->child_start = s->child_end = 0;
	} else if (!s->shallow_on || s->depth == 2) {
		/* Shallow: the stanza's own children only, and where the first one starts. */
		n = build_element(&s->arena, localname, uri, nb_attributes, attributes);
		sb_xml_append(s->cur, n);
		s->cur = n;
		if (s->shallow_on && s->child_start == 0)
			s->child_start = s->inner_mark;
	}
	s->depth++;
}

static void
deliver_stanza(struct sb_xml_stream *s)
{
	struct sb_xml_node *stanza = s->stanza;

	uint64_t start = s->boundary, end = parse_offset(s);

	s->stanza = s->cur = NULL;
	s->boundary = end;
	if (s->shallow_on) {
		s->raw_stanza = raw_range(s, start, end, &s->raw_stanza_len);
		if (s->child_end != 0)
			s->raw_child = raw_range(s, s->child_start, s->child_end, &s->raw_child_len);
	}
	if (s->cb->stanza != NULL) {
		s->in_callback = 1;
		s->cb->stanza(s->arg, stanza);
		s->in_callback = 0;
	}
	s->raw_stanza = s->raw_child = NULL;
	raw_trim(s);
	sb_arena_reset(&s->arena);
	if (s->stop || s->restart)
		halt_in_callback(s);
}

static void
sax_end(void *ctx, const xmlChar *localname, const xmlChar *prefix, const xmlChar *uri)
{
	struct sb_xml_stream *s = ctx;

	if (s->err != SB_XML_ERR_NONE)
		return;
	s->depth--;
	if (s->depth == 0) {
		s->state = ST_CLOSED;
		xmlStopParser(s->ctxt);
		if (s->cb->close != NULL) {
			s->in_callback = 1;
			s->cb->close(s->arg);
			s->in_callback = 0;
		}
		return;
	}
	if (over_limit(s, parse_offset(s)))
		return;
	if (s->depth == 1) {
		deliver_stanza(s);
	} else if (!s->shallow_on) {
		s->cur = s->cur->parent;
	} else if (s->depth == 2) {
		s->cur = s->cur->parent;
		s->inner_mark = parse_offset(s);
		if (s->child_end == 0)
			s->child_end = s->inner_mark;
	}
}

static void
sax_text(void *ctx, const xmlChar *ch, int len)
{
	struct sb_xml_stream *s = ctx;

	if (s->err != SB_XML_ERR_NONE)
		return;
	if (s->depth <= 1) {
		/* Whitespace between stanzas (keepalives): the next stanza starts after it. */
		s->boundary = text_end(s, ch, len);
		raw_trim(s);
		return;
	}
	if (over_limit(s, text_end(s, ch, len)))
		return;
	if (s->shallow_on) {
		if (s->depth == 2)
			s->inner_mark = text_end(s, ch, len);
		return;
	}
	sb_xml_add_text(&s->arena, s->cur, (const char *)ch, (size_t)len);
}

/* --- RFC 6120 section 11: what a stream must not contain --- */

static void
sax_comment(void *ctx, const xmlChar *value)
{
	fail(ctx, SB_XML_ERR_RESTRICTED_XML, "XML comment");
}

static void
sax_pi(void *ctx, const xmlChar *target, const xmlChar *data)
{
	fail(ctx, SB_XML_ERR_RESTRICTED_XML, "processing instruction <?%s?>",
	    (const char *)target);
}

static void
sax_dtd(void *ctx, const xmlChar *name, const xmlChar *external_id, const xmlChar *system_id)
{
	fail(ctx, SB_XML_ERR_RESTRICTED_XML, "document type declaration");
}

static xmlEntityPtr
sax_entity(void *ctx, const xmlChar *name)
{
	/* libxml2 resolves the five predefined entities before asking. */
	fail(ctx, SB_XML_ERR_RESTRICTED_XML, "entity reference &%s;", (const char *)name);
	return NULL;
}

static void
sax_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
    const xmlChar *system_id, xmlChar *content)
{
	fail(ctx, SB_XML_ERR_RESTRICTED_XML, "entity declaration");
}

static void
sax_start_document(void *ctx)
{
	struct sb_xml_stream *s = ctx;
	const xmlChar *enc = s->ctxt->encoding != NULL ? s->ctxt->encoding :
	    s->ctxt->input->encoding;

	/* RFC 6120 section 11.6: UTF-8 only. */
	if (enc != NULL && strcasecmp((const char *)enc, "UTF-8") != 0)
		fail(s, SB_XML_ERR_UNSUPPORTED_ENCODING, "encoding '%s'", (const char *)enc);
}

static void
sax_error(void *ctx, xmlErrorPtr e)
{
	struct sb_xml_stream *s = ctx;
	char msg[120];
	size_t n;

	if (e->level == XML_ERR_WARNING || e->code == XML_ERR_USER_STOP)
		return;
	snprintf(msg, sizeof(msg), "%s", e->message != NULL ? e->message : "XML error");
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		msg[--n] = '\0';
	if (e->domain == XML_FROM_NAMESPACE && e->code == XML_NS_ERR_UNDEFINED_NAMESPACE)
		fail(s, SB_XML_ERR_BAD_NAMESPACE_PREFIX, "%s", msg);
	else if (e->code == XML_ERR_UNSUPPORTED_ENCODING)
		fail(s, SB_XML_ERR_UNSUPPORTED_ENCODING, "%s", msg);
	else
		fail(s, SB_XML_ERR_NOT_WELL_FORMED, "%s", msg);
}

static xmlSAXHandler sax = {
	.initialized = XML_SAX2_MAGIC,
	.startElementNs = sax_start,
	.endElementNs = sax_end,
	.characters = sax_text,
	.cdataBlock = sax_text,
	.ignorableWhitespace = sax_text,
	.comment = sax_comment,
	.processingInstruction = sax_pi,
	.internalSubset = sax_dtd,
	.externalSubset = sax_dtd,
	.getEntity = sax_entity,
	.getParameterEntity = sax_entity,
	.entityDecl = sax_entity_decl,
	.startDocument = sax_start_document,
	.serror = sax_error,
};

/* --- parser lifetime --- */

static int
halted(const struct sb_xml_stream *s)
{
	return s->err != SB_XML_ERR_NONE || s->stop || s->restart || s->state == ST_CLOSED;
}

/*
 * libxml2 parses a reference in text only once a ';' has arrived, so a bare
 * '&' ("a & b") would stall the stream until one comes, or until the size
 * guard fires. Before its ';' a reference holds only name characters, or
 * '#' and digits: anything else after the '&' means the text is not
 * well-formed, whatever follows.
 */
static void
check_stalled_reference(struct sb_xml_stream *s)
{
	const xmlChar *p = s->ctxt->input->cur, *end = s->ctxt->input->end;

	if (s->ctxt->instate != XML_PARSER_CONTENT || p >= end || *p != '&')
		return;
	for (p++; p < end && *p != ';'; p++) {
		if (!(isalnum(*p) || *p == '#' || *p == '_' || *p == '-' || *p == '.' ||
		    *p == ':' || *p >= 0x80)) {
			fail(s, SB_XML_ERR_NOT_WELL_FORMED, "'&' not followed by a reference");
			return;
		}
	}
}

/*
 * Push bytes and let libxml2 parse all it can. Some of its states advance
 * only a step per call (an unterminated CDATA section gives one 300-byte
 * block per call), so call again without new bytes until it stops moving:
 * its state then no longer depends on how the input was split.
 */
static void
push(struct sb_xml_stream *s, const char *p, size_t n)
{
	uint64_t before;

	s->piece_ends_cr = n > 0 && p[n - 1] == '\r';
	s->pushed += n;
	if (s->shallow && !s->replaying && (s->state == ST_HEADER || s->shallow_on))
		sb_buf_append(&s->raw, p, n);
	xmlParseChunk(s->ctxt, p, (int)n, 0);
	do {
		if (halted(s))
			return;
		before = parse_offset(s);
		xmlParseChunk(s->ctxt, NULL, 0, 0);
	} while (!halted(s) && parse_offset(s) != before);
	if (!halted(s))
		check_stalled_reference(s);
}

static void
parser_new(struct sb_xml_stream *s)
{
	s->ctxt = xmlCreatePushParserCtxt(&sax, s, NULL, 0, NULL);
	if (s->ctxt == NULL)
		fatal("libxml2: cannot create a parser");
	/*
	 * NOENT: the five predefined entities arrive decoded in attribute
	 * values (no other entity can exist: sax_entity refuses them).
	 * NONET, no DTD loading: belt and braces.
	 */
	xmlCtxtUseOptions(s->ctxt, XML_PARSE_NOENT | XML_PARSE_NONET);
	xmlSwitchEncoding(s->ctxt, XML_CHAR_ENCODING_UTF8);
	s->pushed = 0;
	if (s->state == ST_OPEN) {
		/* Rebuilding an open stream: prime with the header's declarations. */
		s->replaying = 1;
		s->depth = 0;
		s->base -= (int64_t)sb_buf_len(&s->replay);
		push(s, sb_buf_data(&s->replay), sb_buf_len(&s->replay));
		s->replaying = 0;
	} else {
		s->depth = 0;
	}
}

static void
parser_free(struct sb_xml_stream *s)
{
	if (s->ctxt == NULL)
		return;
	xmlFreeParserCtxt(s->ctxt);
	s->ctxt = NULL;
}

static void
do_restart(struct sb_xml_stream *s)
{
	s->restart = 0;
	parser_free(s);
	s->state = ST_HEADER;
	s->depth = 0;
	free(s->content_ns);
	s->content_ns = NULL;
	sb_arena_reset(&s->arena);
	s->stanza = s->cur = NULL;
	s->boundary = (uint64_t)s->base;
	s->shallow_on = 0;
	raw_reset(s, s->boundary);
}

struct sb_xml_stream *
sb_xml_stream_new(const struct sb_xml_stream_cb *cb, void *arg,
    const struct sb_xml_limits *limits)
{
	static const struct sb_xml_limits defaults = SB_XML_DEFAULT_LIMITS;
	struct sb_xml_stream *s = xcalloc(1, sizeof(*s));

	sb_xml_heap_init();
	xmlInitParser();
	/*
	 * libxml2 sizes a new parser's input buffer from this (8 KiB by
	 * default, twice the value): most stanzas are far smaller, and every
	 * connection holds one. It grows when a read needs more.
	 */
	xmlDefaultBufferSize = 1024;
	s->cb = cb;
	s->arg = arg;
	s->lim = limits != NULL ? *limits : defaults;
	s->state = ST_HEADER;
	s->utf8 = (struct sb_utf8)SB_UTF8_INIT;
	sb_arena_init(&s->arena, 0);
	return s;
}

void
sb_xml_stream_free(struct sb_xml_stream *s)
{
	if (s == NULL)
		return;
	parser_free(s);
	free(s->content_ns);
	free(s->errtext);
	sb_arena_free(&s->arena);
	sb_buf_free(&s->replay);
	sb_buf_free(&s->leftover);
	sb_buf_free(&s->raw);
	free(s);
}

/* --- feeding --- */

static enum sb_xml_status process(struct sb_xml_stream *, const char *, size_t);

/* The stream is dead: free the parser and say so. */
static enum sb_xml_status
failed(struct sb_xml_stream *s)
{
	s->state = ST_FAILED;
	parser_free(s);
	return SB_XML_FAILED;
}

static enum sb_xml_status
check_after_piece(struct sb_xml_stream *s)
{
	if (s->err != SB_XML_ERR_NONE)
		return failed(s);
	if (s->state == ST_CLOSED) {
		parser_free(s);
		return SB_XML_CLOSED;
	}
	/* libxml2 waits for a '>' before parsing a tag: bound what it may hold. */
	if (s->base + (int64_t)s->pushed - (int64_t)s->boundary >
	    (int64_t)(s->lim.max_stanza + GUARD_SLACK)) {
		fail(s, SB_XML_ERR_POLICY_VIOLATION, "stanza larger than %zu bytes",
		    s->lim.max_stanza);
		return failed(s);
	}
	return SB_XML_OK;
}

/*
 * How much of the n bytes at p to push next: at most PIECE, never past the
 * guard threshold (so that wherever the input was split, libxml2 holds the
 * same bytes when the guard fires), and only valid UTF-8 without NUL
 * (U+0000 is valid UTF-8 but never XML; libxml2 would take it as the end).
 * *bad is set when the piece stops short at an invalid byte.
 */
static size_t
next_piece(struct sb_xml_stream *s, const char *p, size_t n, int *bad)
{
	size_t piece = n < PIECE ? n : PIECE, valid;
	int64_t room = (int64_t)s->boundary + (int64_t)(s->lim.max_stanza + GUARD_SLACK) + 1 -
	    (s->base + (int64_t)s->pushed);
	const char *nul;

	if (room > 0 && (uint64_t)room < piece)
		piece = (size_t)room;
	valid = sb_utf8_scan(&s->utf8, p, piece);
	if ((nul = memchr(p, '\0', valid)) != NULL)
		valid = (size_t)(nul - p);
	*bad = valid < piece;
	return valid;
}

/* A callback halted the parser: keep what it did not parse, then stop or restart. */
static enum sb_xml_status
after_halt(struct sb_xml_stream *s, const char *p, size_t n)
{
	enum sb_xml_status st;
	struct sb_buf rest;

	parser_free(s);
	sb_buf_append(&s->leftover, p, n);
	if (s->stop) {
		s->stop = 0;
		return SB_XML_STOPPED;
	}
	/* Restart alone: go on with the new stream. */
	rest = s->leftover;
	s->leftover = (struct sb_buf)SB_BUF_INIT;
	do_restart(s);
	st = process(s, sb_buf_data(&rest), sb_buf_len(&rest));
	sb_buf_free(&rest);
	return st;
}

static enum sb_xml_status
process(struct sb_xml_stream *s, const char *p, size_t n)
{
	enum sb_xml_status st;
	size_t valid;
	int bad;

	for (;;) {
		if (s->restart)
			do_restart(s);
		if (n == 0)
			return SB_XML_OK;
		if (s->ctxt == NULL)
			parser_new(s);
		valid = next_piece(s, p, n, &bad);
		if (valid > 0)
			push(s, p, valid);
		p += valid;
		n -= valid;
		if (s->stop || (s->restart && s->err == SB_XML_ERR_NONE))
			return after_halt(s, p, n);
		if ((st = check_after_piece(s)) != SB_XML_OK)
			return st;
		if (bad) {
			uint64_t at = (uint64_t)(s->base + (int64_t)s->pushed);

			/*
			 * Let libxml2 finish what it holds first, so that an
			 * error before this point is the one reported, as it
			 * would be had the input been split elsewhere.
			 */
			xmlParseChunk(s->ctxt, NULL, 0, 1);
			fail(s, SB_XML_ERR_NOT_WELL_FORMED, "invalid UTF-8 or NUL at byte %llu",
			    (unsigned long long)at);
			return failed(s);
		}
		if (xmlDictSize(s->ctxt->dict) > DICT_MAX)
			sb_xml_stream_hibernate(s);	/* no-op inside a stanza */
	}
}

enum sb_xml_status
sb_xml_stream_feed(struct sb_xml_stream *s, const void *data, size_t len)
{
	enum sb_xml_status st;
	struct sb_buf in;

	if (s->state == ST_FAILED)
		return SB_XML_FAILED;
	if (s->state == ST_CLOSED)
		return SB_XML_CLOSED;
	if (sb_buf_len(&s->leftover) == 0)
		return process(s, data, len);
	/* Bytes kept from before a stop or restart come first. */
	in = s->leftover;
	s->leftover = (struct sb_buf)SB_BUF_INIT;
	sb_buf_append(&in, data, len);
	st = process(s, sb_buf_data(&in), sb_buf_len(&in));
	sb_buf_free(&in);
	return st;
}

void
sb_xml_stream_stop(struct sb_xml_stream *s)
{
	s->stop = 1;
}

struct sb_buf *
sb_xml_stream_leftover(struct sb_xml_stream *s)
{
	return &s->leftover;
}

void
sb_xml_stream_restart(struct sb_xml_stream *s)
{
	if (s->in_callback) {
		s->restart = 1;
		return;
	}
	/* Outside a parse: keep what libxml2 holds unparsed for the new stream. */
	if (s->ctxt != NULL)
		capture_unparsed(s);
	do_restart(s);
}

static int
all_space(const xmlChar *p, const xmlChar *end)
{
	for (; p < end; p++)
		if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
			return 0;
	return 1;
}

int
sb_xml_stream_hibernate(struct sb_xml_stream *s)
{
	xmlParserInputPtr in;

	if (s->in_callback || s->state != ST_OPEN || s->depth != 1)
		return -1;
	if (s->ctxt == NULL)
		return 0;
	/* Between stanzas, not inside a CDATA section libxml2 has begun. */
	if (s->ctxt->instate != XML_PARSER_CONTENT)
		return -1;
	in = s->ctxt->input;
	/* Unparsed whitespace between stanzas means nothing: drop it. */
	if (!all_space(in->cur, in->end))
		return -1;
	s->base += (int64_t)s->pushed;
	s->boundary = (uint64_t)s->base;
	raw_reset(s, s->boundary);
	s->utf8 = (struct sb_utf8)SB_UTF8_INIT;
	parser_free(s);
	sb_arena_free(&s->arena);
	sb_arena_init(&s->arena, 0);
	return 0;
}

void
sb_xml_stream_set_shallow(struct sb_xml_stream *s, int on)
{
	s->shallow = on;
}

const char *
sb_xml_stream_raw(const struct sb_xml_stream *s, size_t *len)
{
	*len = s->raw_stanza_len;
	return s->raw_stanza;
}

const char *
sb_xml_stream_raw_child(const struct sb_xml_stream *s, size_t *len)
{
	*len = s->raw_child_len;
	return s->raw_child;
}

void
sb_xml_stream_take_arena(struct sb_xml_stream *s, struct sb_arena *out)
{
	*out = s->arena;
	sb_arena_init(&s->arena, 0);
}

enum sb_xml_error
sb_xml_stream_error(const struct sb_xml_stream *s)
{
	return s->err;
}

const char *
sb_xml_stream_error_text(const struct sb_xml_stream *s)
{
	return s->errtext != NULL ? s->errtext : "";
}

uint64_t
sb_xml_stream_offset(const struct sb_xml_stream *s)
{
	return (uint64_t)(s->base + (int64_t)s->pushed);
}
