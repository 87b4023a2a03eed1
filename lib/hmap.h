/*
 * hmap.h: an intrusive hash map keyed by byte strings, for tables whose
 * entries are structs of their own (sm's users, sessions, roster items).
 *
 * The entry embeds a struct sb_hmap_node and owns its key: the map keeps
 * pointers only, allocates nothing but its slot array (at the first
 * insert), and never frees an entry. Chained, power-of-two slots, grown
 * when the count passes twice the slots; a lookup hashes the key once
 * (hash.h: FNV-1a, mixed) and compares hashes before bytes.
 *
 *	struct user { struct sb_hmap_node hn; char *bare; ... };
 *	sb_hmap_insert(&users, &u->hn, u->bare, strlen(u->bare));
 *	struct sb_hmap_node *n = sb_hmap_find(&users, key, keylen);
 *	struct user *u = n ? SB_HMAP_ENTRY(n, struct user, hn) : NULL;
 */
#ifndef SB_HMAP_H
#define SB_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct sb_hmap_node {
	struct sb_hmap_node	*next;
	uint64_t		 hash;
	const char		*key;	/* owned by the entry; must outlive its membership */
	size_t			 keylen;
};

struct sb_hmap {
	struct sb_hmap_node	**slots;
	size_t			 nslots;
	size_t			 count;
};

#define SB_HMAP_ENTRY(node, type, member) \
	((type *)(void *)((char *)(node) - offsetof(type, member)))

void	 sb_hmap_init(struct sb_hmap *m);
/* Frees the slot array only: the entries are their owners'. */
void	 sb_hmap_free(struct sb_hmap *m);
/* Insert n under key (not checked for duplicates: find first). */
void	 sb_hmap_insert(struct sb_hmap *m, struct sb_hmap_node *n, const char *key,
	     size_t keylen);
struct sb_hmap_node *sb_hmap_find(const struct sb_hmap *m, const char *key, size_t keylen);
void	 sb_hmap_remove(struct sb_hmap *m, struct sb_hmap_node *n);

/*
 * Visit every entry; fn may remove the entry it is given (and only that
 * one). Returns early when fn returns non-zero.
 */
void	 sb_hmap_each(struct sb_hmap *m, int (*fn)(struct sb_hmap_node *n, void *arg),
	     void *arg);

#endif
