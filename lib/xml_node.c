/*
 * xml_node.c: building, reading, copying and comparing stanza trees
 * (see xml.h). Everything is allocated from the caller's arena.
 */
#include <string.h>

#include "xml.h"

static int
str_eq(const char *a, const char *b)
{
	if (a == b)
		return 1;
	if (a == NULL || b == NULL)
		return 0;
	return strcmp(a, b) == 0;
}

struct sb_xml_node *
sb_xml_new(struct sb_arena *a, const char *ns, const char *name)
{
	struct sb_xml_node *n = sb_arena_zalloc(a, sizeof(*n));

	n->type = SB_XML_ELEMENT;
	n->e.ns = ns != NULL ? sb_arena_strdup(a, ns) : NULL;
	n->e.name = sb_arena_strdup(a, name);
	return n;
}

void
sb_xml_append(struct sb_xml_node *parent, struct sb_xml_node *child)
{
	child->parent = parent;
	child->next = NULL;
	if (parent->e.last != NULL)
		parent->e.last->next = child;
	else
		parent->e.children = child;
	parent->e.last = child;
}

struct sb_xml_node *
sb_xml_add(struct sb_arena *a, struct sb_xml_node *parent, const char *ns, const char *name)
{
	struct sb_xml_node *n = sb_arena_zalloc(a, sizeof(*n));

	n->type = SB_XML_ELEMENT;
	n->e.ns = ns != NULL ? sb_arena_strdup(a, ns) : parent->e.ns;
	n->e.name = sb_arena_strdup(a, name);
	sb_xml_append(parent, n);
	return n;
}

void
sb_xml_add_text(struct sb_arena *a, struct sb_xml_node *parent, const char *text, size_t len)
{
	struct sb_xml_node *last = parent->e.last;
	char *data;

	if (len == 0)
		return;
	if (last != NULL && last->type == SB_XML_TEXT) {
		/* Grows in place when the text is the newest allocation. */
		data = sb_arena_grow(a, last->t.data, last->t.len + 1, last->t.len + len + 1);
		memcpy(data + last->t.len, text, len);
		last->t.data = data;
		last->t.len += len;
		data[last->t.len] = '\0';
		return;
	}
	last = sb_arena_alloc(a, sizeof(*last));
	last->type = SB_XML_TEXT;
	last->t.data = sb_arena_strndup(a, text, len);
	last->t.len = len;
	sb_xml_append(parent, last);
}

void
sb_xml_set_attr_ns(struct sb_arena *a, struct sb_xml_node *e, const char *ns,
    const char *name, const char *value)
{
	struct sb_xml_attr **pp, *at;

	for (pp = &e->e.attrs; (at = *pp) != NULL; pp = &at->next) {
		if (str_eq(at->ns, ns) && strcmp(at->name, name) == 0) {
			if (value == NULL)
				*pp = at->next;
			else
				at->value = sb_arena_strdup(a, value);
			return;
		}
	}
	if (value == NULL)
		return;
	at = sb_arena_alloc(a, sizeof(*at));
	at->next = NULL;
	at->ns = ns != NULL ? sb_arena_strdup(a, ns) : NULL;
	at->name = sb_arena_strdup(a, name);
	at->value = sb_arena_strdup(a, value);
	*pp = at;
}

void
sb_xml_set_attr(struct sb_arena *a, struct sb_xml_node *e, const char *name, const char *value)
{
	sb_xml_set_attr_ns(a, e, NULL, name, value);
}

void
sb_xml_remove(struct sb_xml_node *n)
{
	struct sb_xml_node *p = n->parent, **pp, *prev = NULL;

	if (p == NULL)
		return;
	for (pp = &p->e.children; *pp != NULL; prev = *pp, pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			if (p->e.last == n)
				p->e.last = prev;
			break;
		}
	}
	n->parent = NULL;
	n->next = NULL;
}

struct sb_xml_node *
sb_xml_copy(struct sb_arena *a, const struct sb_xml_node *n)
{
	struct sb_xml_node *c = sb_arena_alloc(a, sizeof(*c));
	struct sb_xml_attr **tail;
	const struct sb_xml_attr *at;
	const struct sb_xml_node *child;

	c->next = NULL;
	c->parent = NULL;
	c->type = n->type;
	if (n->type == SB_XML_TEXT) {
		c->t.data = sb_arena_strndup(a, n->t.data, n->t.len);
		c->t.len = n->t.len;
		return c;
	}
	c->e.ns = n->e.ns != NULL ? sb_arena_strdup(a, n->e.ns) : NULL;
	c->e.name = sb_arena_strdup(a, n->e.name);
	c->e.attrs = NULL;
	c->e.children = c->e.last = NULL;
	tail = &c->e.attrs;
	for (at = n->e.attrs; at != NULL; at = at->next) {
		struct sb_xml_attr *ca = sb_arena_alloc(a, sizeof(*ca));

		ca->next = NULL;
		ca->ns = at->ns != NULL ? sb_arena_strdup(a, at->ns) : NULL;
		ca->name = sb_arena_strdup(a, at->name);
		ca->value = sb_arena_strdup(a, at->value);
		*tail = ca;
		tail = &ca->next;
	}
	for (child = n->e.children; child != NULL; child = child->next)
		sb_xml_append(c, sb_xml_copy(a, child));
	return c;
}

size_t
sb_xml_copy_size(const struct sb_xml_node *n)
{
	size_t size = sb_arena_round(sizeof(*n));

	if (n->type == SB_XML_TEXT)
		return size + sb_arena_round(n->t.len + 1);
	if (n->e.ns != NULL)
		size += sb_arena_round(strlen(n->e.ns) + 1);
	size += sb_arena_round(strlen(n->e.name) + 1);
	for (const struct sb_xml_attr *at = n->e.attrs; at != NULL; at = at->next) {
		size += sb_arena_round(sizeof(*at));
		if (at->ns != NULL)
			size += sb_arena_round(strlen(at->ns) + 1);
		size += sb_arena_round(strlen(at->name) + 1);
		size += sb_arena_round(strlen(at->value) + 1);
	}
	for (const struct sb_xml_node *c = n->e.children; c != NULL; c = c->next)
		size += sb_xml_copy_size(c);
	return size;
}

const char *
sb_xml_attr_ns(const struct sb_xml_node *e, const char *ns, const char *name)
{
	const struct sb_xml_attr *at;

	for (at = e->e.attrs; at != NULL; at = at->next)
		if (str_eq(at->ns, ns) && strcmp(at->name, name) == 0)
			return at->value;
	return NULL;
}

const char *
sb_xml_attr(const struct sb_xml_node *e, const char *name)
{
	const struct sb_xml_attr *at;

	for (at = e->e.attrs; at != NULL; at = at->next)
		if (at->ns == NULL && strcmp(at->name, name) == 0)
			return at->value;
	return NULL;
}

int
sb_xml_attr_count(const struct sb_xml_node *e)
{
	const struct sb_xml_attr *at;
	int n = 0;

	for (at = e->e.attrs; at != NULL; at = at->next)
		n++;
	return n;
}

int
sb_xml_is(const struct sb_xml_node *e, const char *ns, const char *name)
{
	return e != NULL && e->type == SB_XML_ELEMENT &&
	    (name == NULL || strcmp(e->e.name, name) == 0) &&
	    (ns == NULL || str_eq(e->e.ns, ns));
}

struct sb_xml_node *
sb_xml_next(const struct sb_xml_node *after, const char *ns, const char *name)
{
	struct sb_xml_node *c;

	for (c = after->next; c != NULL; c = c->next)
		if (sb_xml_is(c, ns, name))
			return c;
	return NULL;
}

struct sb_xml_node *
sb_xml_child(const struct sb_xml_node *e, const char *ns, const char *name)
{
	struct sb_xml_node *c;

	for (c = e->e.children; c != NULL; c = c->next)
		if (sb_xml_is(c, ns, name))
			return c;
	return NULL;
}

int
sb_xml_child_count(const struct sb_xml_node *e)
{
	const struct sb_xml_node *c;
	int n = 0;

	SB_XML_FOREACH_CHILD(c, e)
		n++;
	return n;
}

const char *
sb_xml_text(struct sb_arena *a, const struct sb_xml_node *e, size_t *lenp)
{
	const struct sb_xml_node *c, *only = NULL;
	size_t len = 0, n = 0;
	char *out;

	for (c = e->e.children; c != NULL; c = c->next) {
		if (c->type == SB_XML_TEXT) {
			only = c;
			len += c->t.len;
			n++;
		}
	}
	if (n <= 1) {
		if (lenp != NULL)
			*lenp = len;
		return only != NULL ? only->t.data : "";
	}
	out = sb_arena_alloc(a, len + 1);
	len = 0;
	for (c = e->e.children; c != NULL; c = c->next) {
		if (c->type == SB_XML_TEXT) {
			memcpy(out + len, c->t.data, c->t.len);
			len += c->t.len;
		}
	}
	out[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return out;
}

const char *
sb_xml_child_text(struct sb_arena *a, const struct sb_xml_node *e, const char *ns,
    const char *name)
{
	const struct sb_xml_node *c = sb_xml_child(e, ns, name);

	return c != NULL ? sb_xml_text(a, c, NULL) : NULL;
}

static int
attrs_subset(const struct sb_xml_node *a, const struct sb_xml_node *b)
{
	const struct sb_xml_attr *at;

	for (at = a->e.attrs; at != NULL; at = at->next) {
		const char *v = sb_xml_attr_ns(b, at->ns, at->name);

		if (v == NULL || strcmp(v, at->value) != 0)
			return 0;
	}
	return 1;
}

int
sb_xml_equal(const struct sb_xml_node *a, const struct sb_xml_node *b)
{
	const struct sb_xml_node *ca, *cb;

	if (a->type != b->type)
		return 0;
	if (a->type == SB_XML_TEXT)
		return a->t.len == b->t.len && memcmp(a->t.data, b->t.data, a->t.len) == 0;
	if (!str_eq(a->e.ns, b->e.ns) || strcmp(a->e.name, b->e.name) != 0)
		return 0;
	if (sb_xml_attr_count(a) != sb_xml_attr_count(b) || !attrs_subset(a, b))
		return 0;
	for (ca = a->e.children, cb = b->e.children; ca != NULL && cb != NULL;
	    ca = ca->next, cb = cb->next)
		if (!sb_xml_equal(ca, cb))
			return 0;
	return ca == NULL && cb == NULL;
}
