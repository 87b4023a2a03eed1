/*
 * arena.h: region allocator. Everything allocated from an arena is freed at
 * once by sb_arena_reset() or sb_arena_free(); cleanup callbacks registered
 * on the arena run first, newest first, so objects owned by other libraries
 * (gnutls, SASL, libpq) can ride on an arena's lifetime.
 *
 * Stanzas are built in one arena each; sessions keep their own.
 */
#ifndef SB_ARENA_H
#define SB_ARENA_H

#include <stddef.h>

struct sb_arena_block;
struct sb_arena_cleanup;

struct sb_arena {
	struct sb_arena_block	*head;		/* current block, newest first */
	struct sb_arena_cleanup	*cleanups;
	size_t			 block_size;	/* size of the next ordinary block */
	size_t			 total;		/* bytes held in blocks */
	void			*last;		/* most recent allocation, for grow */
	size_t			 last_size;
};

/* What an allocation of n bytes takes from a block (to size a block exactly). */
static inline size_t
sb_arena_round(size_t n)
{
	return ((n ? n : 1) + 7) & ~(size_t)7;
}

/* block_size 0 picks the default (1 KiB first block, doubling up to 16 KiB). */
void	 sb_arena_init(struct sb_arena *a, size_t block_size);
void	*sb_arena_alloc(struct sb_arena *a, size_t size);	/* 8-byte aligned */
void	*sb_arena_zalloc(struct sb_arena *a, size_t size);
char	*sb_arena_strdup(struct sb_arena *a, const char *s);
char	*sb_arena_strndup(struct sb_arena *a, const char *s, size_t n);
void	*sb_arena_memdup(struct sb_arena *a, const void *p, size_t n);
char	*sb_arena_printf(struct sb_arena *a, const char *fmt, ...)
	     __attribute__((format(printf, 2, 3)));
/*
 * Grow the most recent allocation p (old_size bytes) to new_size, in place
 * when it is the last thing in its block, else by copying. Contents kept.
 */
void	*sb_arena_grow(struct sb_arena *a, void *p, size_t old_size, size_t new_size);
void	 sb_arena_cleanup(struct sb_arena *a, void (*fn)(void *), void *arg);
/* Run cleanups and free every block but the first, which is kept for reuse. */
void	 sb_arena_reset(struct sb_arena *a);
/* Run cleanups and free everything. The arena may be initialized again. */
void	 sb_arena_free(struct sb_arena *a);
/* Bytes held in blocks (for memory accounting). */
size_t	 sb_arena_size(const struct sb_arena *a);

#endif
