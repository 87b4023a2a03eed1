/*
 * hmap.c: the intrusive string-keyed hash map (hmap.h).
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "hmap.h"
#include "xmalloc.h"

#define MIN_SLOTS	16

static uint64_t
key_hash(const char *key, size_t len)
{
	return sb_hash_mix(sb_fnv1a(key, len));
}

/* No slots until the first insert: many maps (an idle user's roster) stay empty. */
void
sb_hmap_init(struct sb_hmap *m)
{
	m->nslots = 0;
	m->slots = NULL;
	m->count = 0;
}

void
sb_hmap_free(struct sb_hmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->nslots = m->count = 0;
}

static void
grow(struct sb_hmap *m)
{
	size_t n = m->nslots != 0 ? m->nslots * 2 : MIN_SLOTS;
	struct sb_hmap_node **slots = xcalloc(n, sizeof(*slots));

	for (size_t i = 0; i < m->nslots; i++) {
		struct sb_hmap_node *e, *next;

		for (e = m->slots[i]; e != NULL; e = next) {
			next = e->next;
			e->next = slots[e->hash & (n - 1)];
			slots[e->hash & (n - 1)] = e;
		}
	}
	free(m->slots);
	m->slots = slots;
	m->nslots = n;
}

void
sb_hmap_insert(struct sb_hmap *m, struct sb_hmap_node *n, const char *key, size_t keylen)
{
	if (m->nslots == 0 || m->count >= 2 * m->nslots)
		grow(m);
	n->key = key;
	n->keylen = keylen;
	n->hash = key_hash(key, keylen);
	n->next = m->slots[n->hash & (m->nslots - 1)];
	m->slots[n->hash & (m->nslots - 1)] = n;
	m->count++;
}

struct sb_hmap_node *
sb_hmap_find(const struct sb_hmap *m, const char *key, size_t keylen)
{
	uint64_t h;

	if (m->nslots == 0)
		return NULL;
	h = key_hash(key, keylen);
	for (struct sb_hmap_node *e = m->slots[h & (m->nslots - 1)]; e != NULL; e = e->next)
		if (e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
			return e;
	return NULL;
}

void
sb_hmap_remove(struct sb_hmap *m, struct sb_hmap_node *n)
{
	if (m->nslots == 0)
		return;
	for (struct sb_hmap_node **pp = &m->slots[n->hash & (m->nslots - 1)]; *pp != NULL;
	    pp = &(*pp)->next) {
		if (*pp == n) {
			*pp = n->next;
			n->next = NULL;
			m->count--;
			return;
		}
	}
}

void
sb_hmap_each(struct sb_hmap *m, int (*fn)(struct sb_hmap_node *n, void *arg), void *arg)
{
	for (size_t i = 0; i < m->nslots; i++) {
		struct sb_hmap_node *e, *next;

		for (e = m->slots[i]; e != NULL; e = next) {
			next = e->next;
			if (fn(e, arg) != 0)
				return;
		}
	}
}
