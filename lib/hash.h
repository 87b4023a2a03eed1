/*
 * hash.h: the 64-bit hash every table in switchboard uses: FNV-1a over the
 * bytes, and splitmix64's finalizer where the low bits must be well mixed
 * (FNV alone spreads short keys poorly there). The router's name table,
 * lib/hmap.c and the rendezvous weights (rendezvous.h) all use these two.
 */
#ifndef SB_HASH_H
#define SB_HASH_H

#include <stddef.h>
#include <stdint.h>

static inline uint64_t
sb_fnv1a(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static inline uint64_t
sb_hash_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

#endif
