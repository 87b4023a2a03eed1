/*
 * xmalloc.h: allocation that cannot fail.
 *
 * Out of memory is not a condition switchboard recovers from: these wrappers
 * log and abort instead of returning NULL, so callers never check.
 */
#ifndef SB_XMALLOC_H
#define SB_XMALLOC_H

#include <stddef.h>

void	*xmalloc(size_t size);
void	*xcalloc(size_t n, size_t size);
void	*xrealloc(void *ptr, size_t size);
char	*xstrdup(const char *s);
char	*xstrndup(const char *s, size_t n);
void	*xmemdup(const void *p, size_t n);
/* printf into a new string. */
char	*xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
