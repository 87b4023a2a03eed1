/*
 * utf8.c: streaming UTF-8 validation (see utf8.h).
 *
 * The ASCII run is skipped eight bytes at a time: stanzas are mostly ASCII
 * and this check runs over every byte a peer sends.
 */
#include <string.h>

#include "utf8.h"

/* For each lead byte: continuation count and the range of the second byte. */
static int
lead(struct sb_utf8 *st, unsigned char c)
{
	st->lo = 0x80;
	st->hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		st->need = 1;
	} else if (c >= 0xe0 && c <= 0xef) {
		st->need = 2;
		if (c == 0xe0)
			st->lo = 0xa0;		/* no overlong 3-byte forms */
		else if (c == 0xed)
			st->hi = 0x9f;		/* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		st->need = 3;
		if (c == 0xf0)
			st->lo = 0x90;		/* no overlong 4-byte forms */
		else if (c == 0xf4)
			st->hi = 0x8f;		/* nothing above U+10FFFF */
	} else {
		return -1;	/* 0x80-0xc1 as lead, 0xf5-0xff */
	}
	return 0;
}

size_t
sb_utf8_scan(struct sb_utf8 *st, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t i = 0;

	while (i < n) {
		unsigned char c = p[i];

		if (st->need > 0) {
			if (c < st->lo || c > st->hi)
				return i;
			st->lo = 0x80;
			st->hi = 0xbf;
			st->need--;
			i++;
			continue;
		}
		if (c < 0x80) {
			/* Skip an ASCII run a word at a time. */
			while (i + 8 <= n) {
				uint64_t w;

				memcpy(&w, p + i, 8);
				if (w & UINT64_C(0x8080808080808080))
					break;
				i += 8;
			}
			while (i < n && p[i] < 0x80)
				i++;
			continue;
		}
		if (lead(st, c) < 0)
			return i;
		i++;
	}
	return n;
}

int
sb_utf8_valid(const void *p, size_t n)
{
	struct sb_utf8 st = SB_UTF8_INIT;

	return sb_utf8_scan(&st, p, n) == n && st.need == 0;
}
