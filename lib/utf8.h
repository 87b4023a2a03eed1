/*
 * utf8.h: streaming UTF-8 validation (RFC 3629): no overlong forms, no
 * surrogates, nothing above U+10FFFF. The state carries across calls, so a
 * character split between two reads is validated as one.
 */
#ifndef SB_UTF8_H
#define SB_UTF8_H

#include <stddef.h>
#include <stdint.h>

struct sb_utf8 {
	uint8_t	 need;	/* continuation bytes still expected */
	uint8_t	 lo, hi;	/* allowed range of the next continuation byte */
};

#define SB_UTF8_INIT	{ 0, 0x80, 0xbf }

/*
 * Scan n bytes. Returns n when they are valid so far (a character may be
 * left incomplete, see st->need), else the offset of the first byte that
 * makes the input invalid.
 */
size_t	 sb_utf8_scan(struct sb_utf8 *st, const void *p, size_t n);
/* Whole-string check: valid and complete. */
int	 sb_utf8_valid(const void *p, size_t n);

#endif
