/*
 * rendezvous.h: the weights of rendezvous (highest-random-weight) hashing,
 * shared by the router, which picks the holder of a shared name for each
 * stanza, and by sm, which must know which of its shards owns a user.
 * Both must compute the same numbers, so they live here only.
 *
 * The key is the target's canonical bare JID, a holder is named by its
 * link's weight name (its first name; "name#2" for a second link under one
 * shared name). The heaviest holder wins.
 */
#ifndef SB_RENDEZVOUS_H
#define SB_RENDEZVOUS_H

#include <stddef.h>
#include <stdint.h>

/* 64-bit FNV-1a of a key or a holder name. */
static inline uint64_t
sb_rendezvous_hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The weight of a holder for a key: splitmix64's finalizer of their mix. */
static inline uint64_t
sb_rendezvous_weight(uint64_t key_hash, uint64_t holder_hash)
{
	uint64_t x = key_hash ^ holder_hash;

	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
