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

#include "hash.h"

/* The hash of a key or a holder name. */
static inline uint64_t
sb_rendezvous_hash(const char *s, size_t len)
{
	return sb_fnv1a(s, len);
}

/* The weight of a holder for a key: the two hashes mixed. */
static inline uint64_t
sb_rendezvous_weight(uint64_t key_hash, uint64_t holder_hash)
{
	return sb_hash_mix(key_hash ^ holder_hash);
}

#endif
