/*
 * addrs.c: how many connections each remote address holds, so that one
 * address cannot take every slot (<connections-per-address>).
 *
 * A chained hash keyed by the address text without its port; an entry
 * exists while the address has a connection. The table doubles when it
 * holds twice as many entries as slots and never shrinks.
 */
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "xmalloc.h"

struct c2s_addr {
	struct c2s_addr	*next;
	uint64_t	 hash;
	int		 count;
	char		 key[];		/* "1.2.3.4", "[::1]" */
};

#define INITIAL_SLOTS	64

/* The address part of "1.2.3.4:5" or "[::1]:5": everything before the last ':'. */
static size_t
key_len(const char *peer)
{
	const char *colon = strrchr(peer, ':');

	return colon != NULL ? (size_t)(colon - peer) : strlen(peer);
}

/* FNV-1a: the keys are short and come from the kernel, not from peers. */
static uint64_t
key_hash(const char *s, size_t len)
{
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

void
c2s_addrs_init(struct c2s_addrs *t)
{
	t->nslots = INITIAL_SLOTS;
	t->slots = xcalloc(t->nslots, sizeof(*t->slots));
	t->count = 0;
}

void
c2s_addrs_free(struct c2s_addrs *t)
{
	for (size_t i = 0; i < t->nslots; i++) {
		struct c2s_addr *a = t->slots[i], *next;

		for (; a != NULL; a = next) {
			next = a->next;
			free(a);
		}
	}
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

static struct c2s_addr *
find(const struct c2s_addrs *t, const char *key, size_t len, uint64_t h)
{
	for (struct c2s_addr *a = t->slots[h & (t->nslots - 1)]; a != NULL; a = a->next)
		if (a->hash == h && strlen(a->key) == len && memcmp(a->key, key, len) == 0)
			return a;
	return NULL;
}

static void
grow(struct c2s_addrs *t)
{
	size_t n = t->nslots * 2;
	struct c2s_addr **slots = xcalloc(n, sizeof(*slots));

	for (size_t i = 0; i < t->nslots; i++) {
		struct c2s_addr *a = t->slots[i], *next;

		for (; a != NULL; a = next) {
			next = a->next;
			a->next = slots[a->hash & (n - 1)];
			slots[a->hash & (n - 1)] = a;
		}
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = n;
}

struct c2s_addr *
c2s_addrs_take(struct c2s_addrs *t, const char *peer, int limit)
{
	size_t len = key_len(peer);
	uint64_t h = key_hash(peer, len);
	struct c2s_addr *a = find(t, peer, len, h);

	if (a != NULL) {
		if (limit > 0 && a->count >= limit)
			return NULL;
		a->count++;
		return a;
	}
	if (t->count >= 2 * t->nslots)
		grow(t);
	a = xmalloc(sizeof(*a) + len + 1);
	a->hash = h;
	a->count = 1;
	memcpy(a->key, peer, len);
	a->key[len] = '\0';
	a->next = t->slots[h & (t->nslots - 1)];
	t->slots[h & (t->nslots - 1)] = a;
	t->count++;
	return a;
}

void
c2s_addrs_release(struct c2s_addrs *t, struct c2s_addr *a)
{
	struct c2s_addr **pp;

	if (a == NULL || --a->count > 0)
		return;
	for (pp = &t->slots[a->hash & (t->nslots - 1)]; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			t->count--;
			free(a);
			return;
		}
	}
}

int
c2s_addrs_count(const struct c2s_addrs *t, const char *peer)
{
	size_t len = key_len(peer);
	const struct c2s_addr *a = find(t, peer, len, key_hash(peer, len));

	return a != NULL ? a->count : 0;
}

const char *
c2s_addr_name(const struct c2s_addr *a)
{
	return a->key;
}
