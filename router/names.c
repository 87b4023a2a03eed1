/*
 * names.c: the routing table: canonical domain -> the links holding it.
 *
 * Every stanza costs one lookup here, so the table is open addressing with
 * linear probing over a power-of-two array of entry pointers, kept at most
 * half full, keyed by a 64-bit FNV-1a hash of the canonical domain (domains
 * are already lower case, so bytes compare as they are). Lookups never
 * allocate.
 *
 * Several holders of one (shared) name are chosen by rendezvous hashing:
 * each holder's weight for a key (the target's bare JID) is a mix of the
 * key's hash and the hash of the holder's first name, and the heaviest
 * wins. A holder that joins takes over only the keys it now weighs most
 * for, and one that leaves gives away only its own; nobody else moves.
 */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "rendezvous.h"
#include "router.h"
#include "xmalloc.h"

#define MIN_SLOTS	16

void
names_init(struct names *t)
{
	memset(t, 0, sizeof(*t));
	t->slots = xcalloc(MIN_SLOTS, sizeof(*t->slots));
	t->mask = MIN_SLOTS - 1;
	t->def.str = xstrdup("(default route)");
	t->def.len = (uint32_t)strlen(t->def.str);
}

static void
entry_free(struct name *n)
{
	free(n->holders);
	free(n->str);
	free(n);
}

void
names_free(struct names *t)
{
	for (uint32_t i = 0; i <= t->mask; i++)
		if (t->slots[i] != NULL)
			entry_free(t->slots[i]);
	free(t->slots);
	free(t->def.holders);
	free(t->def.str);
	memset(t, 0, sizeof(*t));
}

struct name *
names_find(const struct names *t, const char *s, size_t len)
{
	uint64_t h = sb_fnv1a(s, len);
	struct name *n;

	for (uint32_t i = (uint32_t)sb_hash_mix(h) & t->mask;; i = (i + 1) & t->mask) {
		if ((n = t->slots[i]) == NULL)
			return NULL;
		if (n->hash == h && n->len == len && memcmp(n->str, s, len) == 0)
			return n;
	}
}

static void
slot_insert(struct name **slots, uint32_t mask, struct name *n)
{
	uint32_t i = (uint32_t)sb_hash_mix(n->hash) & mask;

	while (slots[i] != NULL)
		i = (i + 1) & mask;
	slots[i] = n;
}

static void
resize(struct names *t, uint32_t cap)
{
	struct name **slots = xcalloc(cap, sizeof(*slots));

	for (uint32_t i = 0; i <= t->mask; i++)
		if (t->slots[i] != NULL)
			slot_insert(slots, cap - 1, t->slots[i]);
	free(t->slots);
	t->slots = slots;
	t->mask = cap - 1;
}

struct name *
names_get(struct names *t, const char *s, size_t len)
{
	struct name *n = names_find(t, s, len);

	if (n != NULL)
		return n;
	if ((t->count + 1) * 2 > t->mask + 1)
		resize(t, (t->mask + 1) * 2);
	n = xcalloc(1, sizeof(*n));
	n->str = xstrndup(s, len);
	n->len = (uint32_t)len;
	n->hash = sb_fnv1a(s, len);
	slot_insert(t->slots, t->mask, n);
	t->count++;
	return n;
}

/* Backward-shift deletion: later entries of the probe run move up, no tombstones. */
static void
slot_delete(struct names *t, struct name *n)
{
	uint32_t i = (uint32_t)sb_hash_mix(n->hash) & t->mask, j, k;

	while (t->slots[i] != n)
		i = (i + 1) & t->mask;
	t->slots[i] = NULL;
	for (j = (i + 1) & t->mask; t->slots[j] != NULL; j = (j + 1) & t->mask) {
		k = (uint32_t)sb_hash_mix(t->slots[j]->hash) & t->mask;
		/* Move the entry at j unless its home k lies cyclically in (i, j]. */
		if (i <= j ? (k <= i || k > j) : (k <= i && k > j)) {
			t->slots[i] = t->slots[j];
			t->slots[j] = NULL;
			i = j;
		}
	}
	t->count--;
	entry_free(n);
}

void
names_configure(struct names *t, const struct router_conf *conf)
{
	struct name *n;
	uint32_t i;

	for (i = 0; i <= t->mask; i++) {
		if ((n = t->slots[i]) != NULL) {
			n->configured = 0;
			n->share = 0;
			n->comp = NULL;
		}
	}
	for (size_t k = 0; k < conf->nnames; k++) {
		const struct router_confname *cn = &conf->names[k];

		n = names_get(t, cn->name, strlen(cn->name));
		n->configured = 1;
		n->share = cn->share ? 1 : 0;
		n->comp = cn->comp;
	}
	/* Names gone from the file stay while links hold them. */
	for (i = 0; i <= t->mask;) {
		n = t->slots[i];
		if (n != NULL && !n->configured && n->nholders == 0)
			slot_delete(t, n);	/* may shift another entry into i */
		else
			i++;
	}
}

void
names_add_holder(struct name *n, struct link *l)
{
	if (n->nholders == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 2;
		n->holders = xrealloc(n->holders, n->cap * sizeof(*n->holders));
	}
	n->holders[n->nholders++] = l;
}

void
names_remove_holder(struct names *t, struct name *n, struct link *l)
{
	for (uint32_t i = 0; i < n->nholders; i++) {
		if (n->holders[i] == l) {
			/* Order does not matter: rendezvous weights do not depend on it. */
			n->holders[i] = n->holders[--n->nholders];
			break;
		}
	}
	if (n != &t->def && n->nholders == 0 && !n->configured)
		slot_delete(t, n);
}

int
names_held_by(const struct name *n, const struct link *l)
{
	for (uint32_t i = 0; i < n->nholders; i++)
		if (n->holders[i] == l)
			return 1;
	return 0;
}

struct link *
names_pick(const struct name *n, const char *key, size_t keylen)
{
	struct link *best;
	uint64_t hk, w, bw;

	if (n->nholders == 1)
		return n->holders[0];
	hk = sb_rendezvous_hash(key, keylen);
	best = n->holders[0];
	bw = sb_rendezvous_weight(hk, best->name_hash);
	for (uint32_t i = 1; i < n->nholders; i++) {
		struct link *l = n->holders[i];

		w = sb_rendezvous_weight(hk, l->name_hash);
		/* Links of one name weigh the same: the oldest wins, whatever the order. */
		if (w > bw || (w == bw && l->serial < best->serial)) {
			best = l;
			bw = w;
		}
	}
	return best;
}
