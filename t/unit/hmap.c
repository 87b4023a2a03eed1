/*
 * hmap.c: the intrusive string-keyed hash map (lib/hmap.h) and the
 * rendezvous weights (lib/rendezvous.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "rendezvous.h"
#include "tap.h"

struct entry {
	struct sb_hmap_node	 hn;
	char			 key[32];
	int			 value;
};

static int
count_and_remove_odd(struct sb_hmap_node *n, void *arg)
{
	struct entry *e = SB_HMAP_ENTRY(n, struct entry, hn);
	struct sb_hmap *m = arg;

	if (e->value % 2 == 1)
		sb_hmap_remove(m, n);
	return 0;
}

static int
stop_at_first(struct sb_hmap_node *n, void *arg)
{
	(*(int *)arg)++;
	return 1;
}

int
main(void)
{
	enum { N = 5000 };
	struct entry *es = calloc(N, sizeof(*es));
	struct sb_hmap m;
	struct sb_hmap_node *n;
	int bad = 0, visits = 0;

	sb_hmap_init(&m);
	ok(sb_hmap_find(&m, "x", 1) == NULL, "an empty map finds nothing");
	for (int i = 0; i < N; i++) {
		snprintf(es[i].key, sizeof(es[i].key), "user%d@example.org", i);
		es[i].value = i;
		sb_hmap_insert(&m, &es[i].hn, es[i].key, strlen(es[i].key));
	}
	is_int((long long)m.count, N, "%d entries counted", N);
	ok(m.nslots >= N / 2, "the table grew (%zu slots)", m.nslots);
	for (int i = 0; i < N; i++) {
		n = sb_hmap_find(&m, es[i].key, strlen(es[i].key));
		if (n == NULL || SB_HMAP_ENTRY(n, struct entry, hn)->value != i)
			bad++;
	}
	is_int(bad, 0, "every entry is found under its key after growing");
	ok(sb_hmap_find(&m, "user1@example.or", 16) == NULL, "a prefix of a key is not the key");
	ok(sb_hmap_find(&m, "user1@example.orgx", 18) == NULL, "a longer key is not the key");
	/* Keys are bytes with a length: NUL inside is fine. */
	{
		struct entry z = { .value = -1 };

		memcpy(z.key, "a\0b", 3);
		sb_hmap_insert(&m, &z.hn, z.key, 3);
		n = sb_hmap_find(&m, "a\0b", 3);
		ok(n == &z.hn, "a key with a NUL inside is found by its length");
		ok(sb_hmap_find(&m, "a", 1) == NULL, "and not by its first byte");
		sb_hmap_remove(&m, &z.hn);
	}
	sb_hmap_each(&m, count_and_remove_odd, &m);
	is_int((long long)m.count, N / 2, "each() may remove the entry it visits");
	bad = 0;
	for (int i = 0; i < N; i++)
		if ((sb_hmap_find(&m, es[i].key, strlen(es[i].key)) != NULL) != (i % 2 == 0))
			bad++;
	is_int(bad, 0, "exactly the removed entries are gone");
	sb_hmap_each(&m, stop_at_first, &visits);
	is_int(visits, 1, "each() stops when the callback says so");
	sb_hmap_free(&m);
	free(es);

	/* Rendezvous: the weights the router and sm must agree on. */
	is_int((long long)sb_rendezvous_hash("", 0), (long long)0xcbf29ce484222325ULL,
	    "FNV-1a of nothing is the offset basis");
	is_int((long long)sb_rendezvous_hash("a", 1), (long long)0xaf63dc4c8601ec8cULL,
	    "FNV-1a of 'a' is the published value");
	{
		uint64_t h1 = sb_rendezvous_hash("sm1", 3), h2 = sb_rendezvous_hash("sm2", 3);
		int one = 0;

		for (int i = 0; i < 2000; i++) {
			char k[32];
			uint64_t kh;

			snprintf(k, sizeof(k), "u%d@localhost", i);
			kh = sb_rendezvous_hash(k, strlen(k));
			if (sb_rendezvous_weight(kh, h1) > sb_rendezvous_weight(kh, h2))
				one++;
		}
		ok(one > 800 && one < 1200, "two holders split 2000 keys evenly (%d/2000)", one);
	}
	return done_testing();
}
