/*
 * buf.h: a growable byte buffer with a read cursor.
 *
 * Writers append at the end; readers consume from the front. Consumed bytes
 * are reclaimed lazily (compaction when the front gap is large) so that
 * consume is O(1). The bytes are always followed by a NUL (not counted in
 * len) so text can be handed to C string functions without a copy.
 */
#ifndef SB_BUF_H
#define SB_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct sb_buf {
	char	*base;	/* allocation, NULL when empty and released */
	size_t	 off;	/* start of unread data */
	size_t	 len;	/* bytes of unread data at base + off */
	size_t	 cap;	/* allocated bytes at base */
};

#define SB_BUF_INIT	{ NULL, 0, 0, 0 }

static inline char *
sb_buf_data(const struct sb_buf *b)
{
	return b->base ? b->base + b->off : (char *)"";
}

static inline size_t
sb_buf_len(const struct sb_buf *b)
{
	return b->len;
}

void	 sb_buf_reserve(struct sb_buf *b, size_t extra);
void	 sb_buf_append(struct sb_buf *b, const void *data, size_t len);
void	 sb_buf_append_str(struct sb_buf *b, const char *s);
void	 sb_buf_append_char(struct sb_buf *b, char c);
void	 sb_buf_printf(struct sb_buf *b, const char *fmt, ...)
	     __attribute__((format(printf, 2, 3)));
void	 sb_buf_vprintf(struct sb_buf *b, const char *fmt, va_list ap)
	     __attribute__((format(printf, 2, 0)));
/* Space for at least 'want' bytes at the end; commit what was written. */
char	*sb_buf_space(struct sb_buf *b, size_t want, size_t *avail);
void	 sb_buf_commit(struct sb_buf *b, size_t n);
void	 sb_buf_consume(struct sb_buf *b, size_t n);
/* Keep only the first n bytes (n larger than the length changes nothing). */
void	 sb_buf_truncate(struct sb_buf *b, size_t n);
void	 sb_buf_clear(struct sb_buf *b);
/* Give back the capacity beyond the data (a buffer kept for long). */
void	 sb_buf_shrink(struct sb_buf *b);
/* Release the memory; the buffer stays usable (empty). */
void	 sb_buf_free(struct sb_buf *b);

#endif
