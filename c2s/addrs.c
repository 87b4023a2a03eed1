/*
 * addrs.c: how many connections each remote address holds, so that one
 * address cannot take every slot (<connections-per-address>).
 *
 * A hash map (lib/hmap.h) keyed by the address text without its port; an
 * entry exists while the address has a connection.
 */
#include <stdlib.h>
#include <string.h>

#include "c2s.h"
#include "xmalloc.h"

struct c2s_addr {
	struct sb_hmap_node	 hn;
	int			 count;
	char			 key[];		/* "1.2.3.4", "[::1]" */
};

/* The address part of "1.2.3.4:5" or "[::1]:5": everything before the last ':'. */
static size_t
key_len(const char *peer)
{
	const char *colon = strrchr(peer, ':');

	return colon != NULL ? (size_t)(colon - peer) : strlen(peer);
}

void
c2s_addrs_init(struct c2s_addrs *t)
{
	sb_hmap_init(&t->map);
}

static int
free_one(struct sb_hmap_node *n, void *arg)
{
	free(SB_HMAP_ENTRY(n, struct c2s_addr, hn));
	return 0;
}

void
c2s_addrs_free(struct c2s_addrs *t)
{
	sb_hmap_each(&t->map, free_one, NULL);
	sb_hmap_free(&t->map);
}

static struct c2s_addr *
find(const struct c2s_addrs *t, const char *peer)
{
	struct sb_hmap_node *n = sb_hmap_find(&t->map, peer, key_len(peer));

	return n != NULL ? SB_HMAP_ENTRY(n, struct c2s_addr, hn) : NULL;
}

struct c2s_addr *
c2s_addrs_take(struct c2s_addrs *t, const char *peer, int limit)
{
	struct c2s_addr *a = find(t, peer);
	size_t len;

	if (a != NULL) {
		if (limit > 0 && a->count >= limit)
			return NULL;
		a->count++;
		return a;
	}
	len = key_len(peer);
	a = xmalloc(sizeof(*a) + len + 1);
	a->count = 1;
	memcpy(a->key, peer, len);
	a->key[len] = '\0';
	sb_hmap_insert(&t->map, &a->hn, a->key, len);
	return a;
}

void
c2s_addrs_release(struct c2s_addrs *t, struct c2s_addr *a)
{
	if (a == NULL || --a->count > 0)
		return;
	sb_hmap_remove(&t->map, &a->hn);
	free(a);
}

int
c2s_addrs_count(const struct c2s_addrs *t, const char *peer)
{
	const struct c2s_addr *a = find(t, peer);

	return a != NULL ? a->count : 0;
}

const char *
c2s_addr_name(const struct c2s_addr *a)
{
	return a->key;
}
