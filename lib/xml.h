/*
 * xml.h: XML trees for stanzas, and the stream parser and serializer.
 *
 * A stanza is a small tree of elements and text built in one arena
 * (arena.h): nodes, names and values all live there and go away together.
 * Names are stored as (namespace URI, local name) pairs; prefixes from the
 * wire are not kept. Attribute values and text are unescaped, NUL-terminated
 * UTF-8. Adjacent text is merged, so an element has at most one text node
 * between two child elements.
 *
 * The stream parser (sb_xml_stream_*) turns bytes into a stream header and
 * one stanza tree at a time, enforcing RFC 6120 restricted XML and limits.
 * The serializer (sb_xml_write*) writes trees back with escaping and the
 * namespace declarations they need.
 */
#ifndef SB_XML_H
#define SB_XML_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"
#include "buf.h"

enum sb_xml_type {
	SB_XML_ELEMENT,
	SB_XML_TEXT,
};

struct sb_xml_attr {
	struct sb_xml_attr	*next;
	const char		*ns;	/* NULL for an unqualified attribute */
	const char		*name;
	const char		*value;
};

struct sb_xml_node {
	struct sb_xml_node	*next;		/* next sibling */
	struct sb_xml_node	*parent;
	enum sb_xml_type	 type;
	union {
		struct {
			const char		*ns;	/* NULL: no namespace */
			const char		*name;
			struct sb_xml_attr	*attrs;
			struct sb_xml_node	*children;
			struct sb_xml_node	*last;
		} e;
		struct {
			char		*data;
			size_t		 len;
		} t;
	};
};

/* --- building --- */

struct sb_xml_node *sb_xml_new(struct sb_arena *a, const char *ns, const char *name);
/* New element appended to parent; ns NULL means the parent's namespace. */
struct sb_xml_node *sb_xml_add(struct sb_arena *a, struct sb_xml_node *parent,
		    const char *ns, const char *name);
void	 sb_xml_append(struct sb_xml_node *parent, struct sb_xml_node *child);
/* Append text (merged with a text node that ends the children). */
void	 sb_xml_add_text(struct sb_arena *a, struct sb_xml_node *parent,
	     const char *text, size_t len);
/* Set (replace or add) an attribute; the value is copied. NULL value deletes. */
void	 sb_xml_set_attr(struct sb_arena *a, struct sb_xml_node *e,
	     const char *name, const char *value);
void	 sb_xml_set_attr_ns(struct sb_arena *a, struct sb_xml_node *e,
	     const char *ns, const char *name, const char *value);
/* Unlink a node from its parent. */
void	 sb_xml_remove(struct sb_xml_node *n);
/* Deep copy into another (or the same) arena. */
struct sb_xml_node *sb_xml_copy(struct sb_arena *a, const struct sb_xml_node *n);
/* The arena bytes sb_xml_copy(n) takes: an arena for the copy alone, sized exactly. */
size_t	 sb_xml_copy_size(const struct sb_xml_node *n);

/* --- reading --- */

const char *sb_xml_attr(const struct sb_xml_node *e, const char *name);
const char *sb_xml_attr_ns(const struct sb_xml_node *e, const char *ns, const char *name);
int	 sb_xml_attr_count(const struct sb_xml_node *e);
/* Is e the element {ns}name? (ns NULL matches any namespace.) */
int	 sb_xml_is(const struct sb_xml_node *e, const char *ns, const char *name);
/* First child element matching ns and name (either may be NULL for any). */
struct sb_xml_node *sb_xml_child(const struct sb_xml_node *e, const char *ns,
		    const char *name);
/* Next sibling element after 'after' matching ns and name. */
struct sb_xml_node *sb_xml_next(const struct sb_xml_node *after, const char *ns,
		    const char *name);
int	 sb_xml_child_count(const struct sb_xml_node *e);
/*
 * Text content of e: its direct text children joined. Returns "" when there
 * is none. Only allocates (from a) when the text is split by child elements.
 */
const char *sb_xml_text(struct sb_arena *a, const struct sb_xml_node *e, size_t *len);
/* Text of the first child {ns}name, or NULL when there is no such child. */
const char *sb_xml_child_text(struct sb_arena *a, const struct sb_xml_node *e,
	     const char *ns, const char *name);
/* Deep equality: names, namespaces, attributes (any order), text. */
int	 sb_xml_equal(const struct sb_xml_node *a, const struct sb_xml_node *b);

#define SB_XML_FOREACH_CHILD(child, elem) \
	for ((child) = (elem)->e.children; (child) != NULL; (child) = (child)->next) \
		if ((child)->type == SB_XML_ELEMENT)

/* --- serializing --- */

/*
 * Write e to out. default_ns is the default namespace in scope where e is
 * written (the stream's content namespace, e.g. "jabber:client"); elements
 * in another namespace get an xmlns declaration. Elements in the streams
 * namespace are written with the "stream:" prefix, which the stream header
 * binds. Text and attribute values are escaped; characters XML cannot carry
 * (C0 controls other than tab, LF and CR) are written as U+FFFD.
 */
void	 sb_xml_write(struct sb_buf *out, const struct sb_xml_node *e, const char *default_ns);
/* Escape text for element content / for an attribute value in '...'. */
void	 sb_xml_escape_text(struct sb_buf *out, const char *s, size_t len);
void	 sb_xml_escape_attr(struct sb_buf *out, const char *s, size_t len);
/* " name='value'" with the value escaped; nothing when value is NULL. */
void	 sb_xml_write_attr(struct sb_buf *out, const char *name, const char *value);

/* --- the stream parser --- */

/* Stream errors a parser can raise (RFC 6120 section 4.9.3 conditions). */
enum sb_xml_error {
	SB_XML_ERR_NONE,
	SB_XML_ERR_NOT_WELL_FORMED,	/* malformed XML, invalid UTF-8 */
	SB_XML_ERR_RESTRICTED_XML,	/* DTD, entity, comment, PI */
	SB_XML_ERR_POLICY_VIOLATION,	/* a limit was exceeded */
	SB_XML_ERR_INVALID_NAMESPACE,	/* root is not {streams}stream */
	SB_XML_ERR_BAD_NAMESPACE_PREFIX,/* an undeclared prefix */
	SB_XML_ERR_UNSUPPORTED_ENCODING,/* encoding other than UTF-8 declared */
	SB_XML_ERR_BAD_FORMAT,		/* not a stream at all */
};

/* Result of sb_xml_stream_feed(). */
enum sb_xml_status {
	SB_XML_OK,		/* all bytes taken; more may come */
	SB_XML_STOPPED,		/* a callback called sb_xml_stream_stop() */
	SB_XML_CLOSED,		/* the peer closed the stream (</stream:stream>) */
	SB_XML_FAILED,		/* a stream error: see sb_xml_stream_error() */
};

struct sb_xml_limits {
	size_t	 max_stanza;	/* bytes from a stanza's '<' to its last '>' */
	unsigned max_depth;	/* element depth inside a stanza (stanza = 1) */
	unsigned max_attrs;	/* attributes + namespace declarations per element */
};

#define SB_XML_DEFAULT_LIMITS	{ 65536, 32, 64 }

struct sb_xml_stream;

struct sb_xml_stream_cb {
	/*
	 * The stream header arrived. hdr is the root element {streams}stream
	 * with its attributes (to, from, id, version, xml:lang); its ns is the
	 * streams namespace. content_ns is the default namespace it declared
	 * (NULL if none). hdr lives for the callback only (copy what is
	 * kept); content_ns stays valid until the next restart or free.
	 */
	void	(*header)(void *arg, const struct sb_xml_node *hdr, const char *content_ns);
	/*
	 * One complete stanza (any child of the root). It lives in the
	 * stream's stanza arena, reset after this returns, unless the callback
	 * calls sb_xml_stream_take_arena().
	 */
	void	(*stanza)(void *arg, struct sb_xml_node *stanza);
	/* </stream:stream> received. */
	void	(*close)(void *arg);
};

struct sb_xml_stream *sb_xml_stream_new(const struct sb_xml_stream_cb *cb, void *arg,
		    const struct sb_xml_limits *limits);
void	 sb_xml_stream_free(struct sb_xml_stream *s);
/*
 * Parse bytes. Callbacks run from inside. Bytes left unparsed when a callback
 * stops the stream are kept: sb_xml_stream_leftover() gives them (STARTTLS
 * hands them to TLS), or the next feed parses them first (after a restart).
 * Once FAILED or CLOSED, further feeds return the same status.
 */
enum sb_xml_status sb_xml_stream_feed(struct sb_xml_stream *s, const void *data, size_t len);
/* From a callback: stop parsing after the current event. */
void	 sb_xml_stream_stop(struct sb_xml_stream *s);
/* Unparsed bytes after a stop; the caller may consume them. */
struct sb_buf *sb_xml_stream_leftover(struct sb_xml_stream *s);
/*
 * Expect a new stream header (after STARTTLS or SASL success). Keeps the
 * leftover bytes, which the next feed parses first. May be called from a
 * callback, which also stops the current parse.
 */
void	 sb_xml_stream_restart(struct sb_xml_stream *s);
/*
 * Release the libxml2 parser while the stream is between stanzas; it is
 * rebuilt when bytes arrive. Returns 0 if released, -1 if the stream is in
 * the middle of something (nothing changes then).
 */
int	 sb_xml_stream_hibernate(struct sb_xml_stream *s);
/*
 * Shallow mode, for the router: each stanza is delivered as its top-level
 * element and that element's child elements, with their attributes but
 * nothing below them and no text (a <route/> envelope's inner stanza shows
 * as its child); and the stanza's bytes exactly as they arrived are
 * available during the stanza callback, so they can be forwarded without
 * serializing a tree. A stream whose header declares namespace prefixes
 * other than the streams prefix cannot give self-contained bytes (a stanza
 * may use them): shallow mode then builds full trees and sb_xml_stream_raw()
 * returns NULL. Set it before the header arrives.
 */
void	 sb_xml_stream_set_shallow(struct sb_xml_stream *s, int on);
/* During the stanza callback: the stanza's bytes, or NULL (see above). */
const char *sb_xml_stream_raw(const struct sb_xml_stream *s, size_t *len);
/* During the stanza callback: the bytes of the stanza's first child element, or NULL. */
const char *sb_xml_stream_raw_child(const struct sb_xml_stream *s, size_t *len);
/* Take ownership of the arena holding the current stanza (from the stanza callback). */
void	 sb_xml_stream_take_arena(struct sb_xml_stream *s, struct sb_arena *out);
enum sb_xml_error sb_xml_stream_error(const struct sb_xml_stream *s);
/* Human-readable reason for the error, for the log and the <text/>. */
const char *sb_xml_stream_error_text(const struct sb_xml_stream *s);
/* The RFC 6120 condition element name for an error, e.g. "not-well-formed". */
const char *sb_xml_error_condition(enum sb_xml_error err);
/* Bytes of stream parsed so far (for logs and limits). */
uint64_t sb_xml_stream_offset(const struct sb_xml_stream *s);

#endif
