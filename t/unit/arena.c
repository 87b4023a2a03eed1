/*
 * arena.c: tests for lib/arena.c and lib/buf.c, the allocators everything
 * else stands on.
 */
#include <stdint.h>
#include <string.h>

#include "arena.h"
#include "buf.h"
#include "tap.h"

static int cleanup_order[4], cleanup_n;

static void
note_cleanup(void *arg)
{
	cleanup_order[cleanup_n++] = (int)(intptr_t)arg;
}

static void
test_arena(void)
{
	struct sb_arena a;
	char *s, *big, *g;
	int aligned = 1;

	sb_arena_init(&a, 0);
	for (int i = 0; i < 1000; i++) {
		void *p = sb_arena_alloc(&a, (size_t)(i % 37) + 1);

		if ((uintptr_t)p % 8 != 0)
			aligned = 0;
		memset(p, 0xab, (size_t)(i % 37) + 1);
	}
	ok(aligned, "allocations are 8-byte aligned");
	s = sb_arena_strdup(&a, "hello");
	is_str(s, "hello", "strdup");
	s = sb_arena_printf(&a, "%s-%d", "x", 42);
	is_str(s, "x-42", "printf");
	big = sb_arena_alloc(&a, 100000);
	memset(big, 1, 100000);
	ok(sb_arena_size(&a) >= 100000, "big allocation accounted (%zu)", sb_arena_size(&a));

	g = sb_arena_alloc(&a, 4);
	memcpy(g, "abcd", 4);
	g = sb_arena_grow(&a, g, 4, 8);
	memcpy(g + 4, "efgh", 4);
	g = sb_arena_grow(&a, g, 8, 5000);
	ok(memcmp(g, "abcdefgh", 8) == 0, "grow keeps contents");

	sb_arena_cleanup(&a, note_cleanup, (void *)1);
	sb_arena_cleanup(&a, note_cleanup, (void *)2);
	sb_arena_reset(&a);
	is_int(cleanup_n, 2, "reset runs cleanups");
	ok(cleanup_order[0] == 2 && cleanup_order[1] == 1, "cleanups run newest first");
	ok(sb_arena_size(&a) <= 16384, "reset keeps one small block (%zu)", sb_arena_size(&a));
	s = sb_arena_strdup(&a, "again");
	is_str(s, "again", "usable after reset");
	sb_arena_free(&a);
	is_int(sb_arena_size(&a), 0, "free releases everything");
}

static void
test_buf(void)
{
	struct sb_buf b = SB_BUF_INIT;

	is_int(sb_buf_len(&b), 0, "empty buffer");
	is_str(sb_buf_data(&b), "", "empty buffer reads as empty string");
	sb_buf_append_str(&b, "hello ");
	sb_buf_printf(&b, "%s %d", "world", 7);
	is_str(sb_buf_data(&b), "hello world 7", "append and printf");
	sb_buf_consume(&b, 6);
	is_str(sb_buf_data(&b), "world 7", "consume from the front");
	for (int i = 0; i < 10000; i++)
		sb_buf_append_char(&b, 'x');
	is_int(sb_buf_len(&b), 7 + 10000, "growth");
	sb_buf_printf(&b, "%0500d", 1);
	is_int(sb_buf_len(&b), 7 + 10000 + 500, "printf longer than the first guess");
	sb_buf_clear(&b);
	is_int(sb_buf_len(&b), 0, "clear");
	sb_buf_free(&b);
	ok(b.base == NULL, "free releases memory");
}

int
main(void)
{
	test_arena();
	test_buf();
	return done_testing();
}
