/*
 * xml_write.c: serializing stanza trees (see xml.h).
 *
 * Escaping runs over a byte-class table and copies runs of plain bytes at
 * once. Text escapes '>' too, so "]]>" can never appear; CR, and in
 * attributes TAB and LF, are written as character references so that the
 * receiving parser's normalization gives back exactly what we had.
 */
#include <string.h>

#include "ns.h"
#include "xml.h"

enum { PLAIN = 0, ESC_TEXT = 1, ESC_ATTR = 2, BAD = 4 };

/* Which bytes need escaping where. */
static const unsigned char byte_class[256] = {
	[0x00 ... 0x08] = BAD,
	['\t'] = ESC_ATTR,
	['\n'] = ESC_ATTR,
	[0x0b ... 0x0c] = BAD,
	['\r'] = ESC_TEXT | ESC_ATTR,
	[0x0e ... 0x1f] = BAD,
	['&'] = ESC_TEXT | ESC_ATTR,
	['<'] = ESC_TEXT | ESC_ATTR,
	['>'] = ESC_TEXT | ESC_ATTR,
	['\''] = ESC_ATTR,
	['"'] = ESC_ATTR,
};

static const char *
escape_of(unsigned char c)
{
	switch (c) {
	case '&':	return "&amp;";
	case '<':	return "&lt;";
	case '>':	return "&gt;";
	case '\'':	return "&apos;";
	case '"':	return "&quot;";
	case '\t':	return "&#9;";
	case '\n':	return "&#10;";
	case '\r':	return "&#13;";
	default:	return "\xef\xbf\xbd";	/* U+FFFD for what XML cannot carry */
	}
}

static void
escape(struct sb_buf *out, const char *s, size_t len, unsigned mask)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len, *run = p;

	for (; p < end; p++) {
		if ((byte_class[*p] & mask) == 0)
			continue;
		if (p > run)
			sb_buf_append(out, run, (size_t)(p - run));
		sb_buf_append_str(out, escape_of(*p));
		run = p + 1;
	}
	if (p > run)
		sb_buf_append(out, run, (size_t)(p - run));
}

void
sb_xml_escape_text(struct sb_buf *out, const char *s, size_t len)
{
	escape(out, s, len, ESC_TEXT | BAD);
}

void
sb_xml_escape_attr(struct sb_buf *out, const char *s, size_t len)
{
	escape(out, s, len, ESC_ATTR | BAD);
}

void
sb_xml_write_attr(struct sb_buf *out, const char *name, const char *value)
{
	if (value == NULL)
		return;
	sb_buf_printf(out, " %s='", name);
	sb_xml_escape_attr(out, value, strlen(value));
	sb_buf_append_char(out, '\'');
}

static int
same_ns(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return a == b || strcmp(a, b) == 0;
}

static void
write_attr_value(struct sb_buf *out, const char *v)
{
	sb_buf_append_str(out, "='");
	sb_xml_escape_attr(out, v, strlen(v));
	sb_buf_append_char(out, '\'');
}

/*
 * Attributes in a namespace get a prefix: xml: for the XML namespace, else
 * a generated one declared on this element.
 */
static void
write_attrs(struct sb_buf *out, const struct sb_xml_node *e)
{
	const struct sb_xml_attr *at;
	int gen = 0;

	for (at = e->e.attrs; at != NULL; at = at->next) {
		sb_buf_append_char(out, ' ');
		if (at->ns == NULL) {
			sb_buf_append_str(out, at->name);
		} else if (strcmp(at->ns, SB_NS_XML) == 0) {
			sb_buf_printf(out, "xml:%s", at->name);
		} else {
			sb_buf_printf(out, "xmlns:a%d='", gen);
			sb_xml_escape_attr(out, at->ns, strlen(at->ns));
			sb_buf_printf(out, "' a%d:%s", gen, at->name);
			gen++;
		}
		write_attr_value(out, at->value);
	}
}

static void
write_element(struct sb_buf *out, const struct sb_xml_node *e, const char *scope_ns, int top)
{
	const struct sb_xml_node *c;
	int stream_el = e->e.ns != NULL && strcmp(e->e.ns, SB_NS_STREAMS) == 0;
	const char *inner_ns = scope_ns;

	sb_buf_append_char(out, '<');
	if (stream_el) {
		/* stream:features, stream:error: the prefix the stream header binds. */
		sb_buf_printf(out, "stream:%s", e->e.name);
		if (!top) {
			sb_buf_append_str(out, " xmlns:stream='" SB_NS_STREAMS "'");
		}
	} else {
		sb_buf_append_str(out, e->e.name);
		if (!same_ns(e->e.ns, scope_ns)) {
			sb_buf_append_str(out, " xmlns='");
			if (e->e.ns != NULL)
				sb_xml_escape_attr(out, e->e.ns, strlen(e->e.ns));
			sb_buf_append_char(out, '\'');
		}
		inner_ns = e->e.ns;
	}
	write_attrs(out, e);
	if (e->e.children == NULL) {
		sb_buf_append_str(out, "/>");
		return;
	}
	sb_buf_append_char(out, '>');
	for (c = e->e.children; c != NULL; c = c->next) {
		if (c->type == SB_XML_TEXT)
			sb_xml_escape_text(out, c->t.data, c->t.len);
		else
			write_element(out, c, inner_ns, 0);
	}
	sb_buf_append_str(out, "</");
	if (stream_el)
		sb_buf_append_str(out, "stream:");
	sb_buf_append_str(out, e->e.name);
	sb_buf_append_char(out, '>');
}

void
sb_xml_write(struct sb_buf *out, const struct sb_xml_node *e, const char *default_ns)
{
	if (e->type == SB_XML_TEXT) {
		sb_xml_escape_text(out, e->t.data, e->t.len);
		return;
	}
	write_element(out, e, default_ns, 1);
}
