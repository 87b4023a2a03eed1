/*
 * arena.c: region allocator (see arena.h).
 *
 * Blocks are chained newest first. An allocation too big for a block gets a
 * block of its own, inserted behind the current one so the current block's
 * free space is not wasted.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "xmalloc.h"

#define ARENA_FIRST	1024
#define ARENA_MAX	16384
#define ALIGN		8

struct sb_arena_block {
	struct sb_arena_block	*next;
	size_t			 size;	/* usable bytes in data[] */
	size_t			 used;
	int			 big;	/* holds one oversized allocation */
	_Alignas(ALIGN) unsigned char data[];
};

struct sb_arena_cleanup {
	struct sb_arena_cleanup	*next;
	void			(*fn)(void *);
	void			*arg;
};

void
sb_arena_init(struct sb_arena *a, size_t block_size)
{
	memset(a, 0, sizeof(*a));
	a->block_size = block_size ? block_size : ARENA_FIRST;
}

static struct sb_arena_block *
block_new(struct sb_arena *a, size_t size)
{
	struct sb_arena_block *b = xmalloc(sizeof(*b) + size);

	b->next = NULL;
	b->size = size;
	b->used = 0;
	b->big = 0;
	a->total += size;
	return b;
}

void *
sb_arena_alloc(struct sb_arena *a, size_t size)
{
	struct sb_arena_block *b = a->head;
	size_t need = sb_arena_round(size);
	void *p;

	if (b == NULL || b->size - b->used < need) {
		if (need > a->block_size / 2 && b != NULL && b->size - b->used >= 64) {
			/* Big request: own block, behind the current one. */
			struct sb_arena_block *big = block_new(a, need);

			big->big = 1;
			big->next = b->next;
			b->next = big;
			big->used = need;
			a->last = big->data;
			a->last_size = need;
			return big->data;
		}
		size_t bsize = a->block_size;

		while (bsize < need)
			bsize *= 2;
		b = block_new(a, bsize);
		b->next = a->head;
		a->head = b;
		if (a->block_size < ARENA_MAX)
			a->block_size *= 2;
	}
	p = b->data + b->used;
	b->used += need;
	a->last = p;
	a->last_size = need;
	return p;
}

void *
sb_arena_zalloc(struct sb_arena *a, size_t size)
{
	void *p = sb_arena_alloc(a, size);

	memset(p, 0, size);
	return p;
}

void *
sb_arena_memdup(struct sb_arena *a, const void *src, size_t n)
{
	void *p = sb_arena_alloc(a, n);

	memcpy(p, src, n);
	return p;
}

char *
sb_arena_strndup(struct sb_arena *a, const char *s, size_t n)
{
	char *p = sb_arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
sb_arena_strdup(struct sb_arena *a, const char *s)
{
	return sb_arena_strndup(a, s, strlen(s));
}

char *
sb_arena_printf(struct sb_arena *a, const char *fmt, ...)
{
	va_list ap;
	char small[128];
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return sb_arena_strdup(a, "");
	p = sb_arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof(small)) {
		memcpy(p, small, (size_t)n + 1);
	} else {
		va_start(ap, fmt);
		vsnprintf(p, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	return p;
}

void *
sb_arena_grow(struct sb_arena *a, void *p, size_t old_size, size_t new_size)
{
	struct sb_arena_block *b = a->head;
	size_t need = sb_arena_round(new_size);
	void *q;

	if (p != NULL && p == a->last && b != NULL &&
	    (unsigned char *)p >= b->data && (unsigned char *)p < b->data + b->used &&
	    (size_t)((unsigned char *)p - b->data) + need <= b->size) {
		b->used = (size_t)((unsigned char *)p - b->data) + need;
		a->last_size = need;
		return p;
	}
	q = sb_arena_alloc(a, new_size);
	if (p != NULL && old_size > 0)
		memcpy(q, p, old_size < new_size ? old_size : new_size);
	return q;
}

void
sb_arena_cleanup(struct sb_arena *a, void (*fn)(void *), void *arg)
{
	struct sb_arena_cleanup *c = sb_arena_alloc(a, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanups;
	a->cleanups = c;
}

static void
run_cleanups(struct sb_arena *a)
{
	/* A cleanup may register another; loop until none is left. */
	while (a->cleanups != NULL) {
		struct sb_arena_cleanup *c = a->cleanups;

		a->cleanups = c->next;
		c->fn(c->arg);
	}
}

void
sb_arena_reset(struct sb_arena *a)
{
	struct sb_arena_block *b, *keep;

	run_cleanups(a);
	/* Keep the oldest ordinary block: the smallest, which most stanzas fit. */
	keep = NULL;
	for (b = a->head; b != NULL; b = b->next)
		if (!b->big)
			keep = b;
	for (b = a->head; b != NULL; ) {
		struct sb_arena_block *next = b->next;

		if (b != keep) {
			a->total -= b->size;
			free(b);
		}
		b = next;
	}
	if (keep != NULL)
		keep->next = NULL;
	a->head = keep;
	if (keep != NULL) {
		keep->used = 0;
		a->block_size = keep->size * 2 < ARENA_MAX ? keep->size * 2 : ARENA_MAX;
	}
	a->last = NULL;
	a->last_size = 0;
}

void
sb_arena_free(struct sb_arena *a)
{
	struct sb_arena_block *b;

	run_cleanups(a);
	while ((b = a->head) != NULL) {
		a->head = b->next;
		free(b);
	}
	a->total = 0;
	a->last = NULL;
	a->last_size = 0;
}

size_t
sb_arena_size(const struct sb_arena *a)
{
	return a->total;
}
