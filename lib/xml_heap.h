/*
 * xml_heap.h: libxml2's memory, kept apart from the rest of the process.
 *
 * c2s frees the parser of a client that has been silent a while (see
 * sb_xml_stream_hibernate()), so that an idle session costs its TLS state
 * and little more. From malloc's heap that freed memory could rarely go
 * back to the kernel: a parser's small blocks lay between blocks that live
 * as long as the session, so the holes they left held no whole page. The
 * heap here gives libxml2 spans of memory that hold nothing else; when the
 * last block of a span is freed, the span's pages can be given back.
 *
 * sb_xml_heap_init() installs it (xmlMemSetup); lib/config.c and
 * lib/xml_stream.c call it before libxml2 allocates anything. It is not
 * used, and libxml2 keeps malloc, in sanitizer builds (ASan then checks
 * libxml2's blocks too), when the address range cannot be reserved, or
 * when the environment says SB_XML_HEAP=off (for valgrind and for A/B
 * measurements). Blocks freed through it that malloc made, from before it
 * was installed, go back to free().
 *
 * Thread safe (a mutex): storage threads may parse too.
 */
#ifndef SB_XML_HEAP_H
#define SB_XML_HEAP_H

#include <stddef.h>

struct sb_xml_heap_stats {
	int	 on;		/* installed */
	size_t	 in_use;	/* bytes in blocks handed out (rounded to their class) */
	size_t	 resident;	/* bytes in spans that hold blocks or wait, empty, for reuse */
	size_t	 released;	/* bytes in spans given back, kept as address space */
};

/* Install the heap once; later calls do nothing. */
void	 sb_xml_heap_init(void);
/* Give the empty spans kept for reuse back to the kernel; the bytes given back. */
size_t	 sb_xml_heap_trim(void);
void	 sb_xml_heap_stats(struct sb_xml_heap_stats *st);

#endif
