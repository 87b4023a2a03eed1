/*
 * buf.c: growable byte buffer (see buf.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "xmalloc.h"

#define SB_BUF_MIN	256

static void
compact(struct sb_buf *b)
{
	if (b->off == 0)
		return;
	memmove(b->base, b->base + b->off, b->len + 1);
	b->off = 0;
}

void
sb_buf_reserve(struct sb_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1;	/* + NUL */
	size_t cap;

	if (b->off + need <= b->cap)
		return;
	/* Moving the live bytes down is cheaper than growing when half is gap. */
	if (need <= b->cap && b->off >= b->cap / 2) {
		compact(b);
		return;
	}
	compact(b);
	cap = b->cap ? b->cap : SB_BUF_MIN;
	while (cap < need)
		cap *= 2;
	b->base = xrealloc(b->base, cap);
	b->cap = cap;
}

char *
sb_buf_space(struct sb_buf *b, size_t want, size_t *avail)
{
	sb_buf_reserve(b, want);
	if (avail != NULL)
		*avail = b->cap - b->off - b->len - 1;
	return b->base + b->off + b->len;
}

void
sb_buf_commit(struct sb_buf *b, size_t n)
{
	b->len += n;
	b->base[b->off + b->len] = '\0';
}

void
sb_buf_append(struct sb_buf *b, const void *data, size_t len)
{
	if (len == 0 && b->base != NULL)
		return;
	sb_buf_reserve(b, len);
	memcpy(b->base + b->off + b->len, data, len);
	sb_buf_commit(b, len);
}

void
sb_buf_append_str(struct sb_buf *b, const char *s)
{
	sb_buf_append(b, s, strlen(s));
}

void
sb_buf_append_char(struct sb_buf *b, char c)
{
	sb_buf_append(b, &c, 1);
}

void
sb_buf_vprintf(struct sb_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	size_t avail;
	char *p;
	int n;

	va_copy(ap2, ap);
	p = sb_buf_space(b, 64, &avail);
	n = vsnprintf(p, avail + 1, fmt, ap);
	if (n >= 0 && (size_t)n > avail) {
		p = sb_buf_space(b, (size_t)n, &avail);
		n = vsnprintf(p, avail + 1, fmt, ap2);
	}
	va_end(ap2);
	if (n > 0)
		sb_buf_commit(b, (size_t)n);
	else
		b->base[b->off + b->len] = '\0';
}

void
sb_buf_printf(struct sb_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sb_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

void
sb_buf_consume(struct sb_buf *b, size_t n)
{
	if (n >= b->len) {
		b->off = 0;
		b->len = 0;
	} else {
		b->off += n;
		b->len -= n;
	}
	if (b->base != NULL)
		b->base[b->off + b->len] = '\0';
}

void
sb_buf_truncate(struct sb_buf *b, size_t n)
{
	if (n >= b->len)
		return;
	b->len = n;
	b->base[b->off + n] = '\0';
}

void
sb_buf_clear(struct sb_buf *b)
{
	sb_buf_consume(b, b->len);
}

void
sb_buf_shrink(struct sb_buf *b)
{
	if (b->base == NULL || b->len + 1 == b->cap)
		return;
	if (b->len == 0) {
		sb_buf_free(b);
		return;
	}
	compact(b);
	b->base = xrealloc(b->base, b->len + 1);
	b->cap = b->len + 1;
}

void
sb_buf_free(struct sb_buf *b)
{
	free(b->base);
	b->base = NULL;
	b->off = b->len = b->cap = 0;
}
