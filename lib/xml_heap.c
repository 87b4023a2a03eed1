/*
 * xml_heap.c: libxml2's memory in spans of its own (see xml_heap.h).
 *
 * One address range is reserved at start (PROT_NONE: address space, no
 * memory) and cut, from its low end up, into SPAN-sized, SPAN-aligned
 * spans made writable as they are first needed. A span serves one size
 * class; its header is at its start, so a block's span is its address
 * rounded down, and whether a block is ours is a range check. Blocks come
 * from a span's free list, else from its untouched end (a new span's pages
 * are touched one by one as they are handed out). Requests larger than the
 * largest class go to malloc.
 *
 * A span whose last block is freed leaves its class. Up to EMPTY_KEEP of
 * them wait, resident, for the next class that needs one, so a parser
 * made and freed over and over costs no system call; any further empty
 * span is given back at once (MADV_DONTNEED: the kernel drops its pages
 * and hands zero pages back if it is used again) and its address kept on
 * a stack for reuse. sb_xml_heap_trim() gives back the waiting ones too.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <libxml/xmlmemory.h>

#include "xml_heap.h"
#include "xmalloc.h"

#define SPAN		((size_t)64 * 1024)
#define RESERVE		((size_t)16 << 30)	/* address space: 262,144 spans */
#define GRANULE		16			/* every class is a multiple: blocks 16-aligned */
#define CLASS_MAX	16384			/* larger requests go to malloc */
#define HEADER		64			/* a span's first block starts here */
#define EMPTY_KEEP	8			/* empty spans kept resident for reuse */

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED	1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define SANITIZED	1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED	0
#endif

/* Four classes per doubling above 64 bytes: a block wastes under a fifth. */
static const unsigned short sizes[] = {
	16, 32, 48, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384, 448, 512,
	640, 768, 896, 1024, 1280, 1536, 1792, 2048, 2560, 3072, 3584, 4096,
	5120, 6144, 7168, 8192, 10240, 12288, 14336, 16384,
};
#define NCLASS		(sizeof(sizes) / sizeof(sizes[0]))

struct span {
	struct span	*next;		/* in its class's list, or the empty list */
	struct span	*prev;
	char		*free;		/* freed blocks, linked through their first word */
	char		*bump;		/* blocks from here on were never handed out */
	unsigned	 used;		/* blocks handed out */
	unsigned short	 cls;
	unsigned char	 listed;	/* in its class's list: it has room */
};

_Static_assert(sizeof(struct span) <= HEADER, "span header too large");

static struct {
	pthread_mutex_t	 lock;
	int		 on;
	char		*base;		/* first span; SPAN-aligned */
	char		*top;		/* spans below here have been used */
	char		*limit;		/* end of the range */
	struct span	*avail[NCLASS];	/* spans of each class with room */
	struct span	*empty;		/* empty and resident, at most EMPTY_KEEP */
	unsigned	 nempty;
	char		**given;	/* empty spans given back, for reuse */
	size_t		 ngiven, capgiven;
	size_t		 in_use;
	size_t		 spans;		/* spans ever carved */
	unsigned char	 class_of[CLASS_MAX / GRANULE + 1];	/* by (size + 15) / 16 */
} H = { .lock = PTHREAD_MUTEX_INITIALIZER };

static inline int
ours(const void *p)
{
	return (const char *)p >= H.base && (const char *)p < H.limit;
}

static inline struct span *
span_of(const void *p)
{
	return (struct span *)((uintptr_t)p & ~(uintptr_t)(SPAN - 1));
}

static void
list_push(struct span **head, struct span *s)
{
	s->prev = NULL;
	s->next = *head;
	if (*head != NULL)
		(*head)->prev = s;
	*head = s;
}

static void
list_remove(struct span **head, struct span *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		*head = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
}

/* A span for class c: a waiting one, one given back, or a new one. NULL when none is left. */
static struct span *
span_get(unsigned c)
{
	struct span *s;

	if ((s = H.empty) != NULL) {
		list_remove(&H.empty, s);
		H.nempty--;
	} else if (H.ngiven > 0) {
		s = (struct span *)H.given[--H.ngiven];
	} else {
		if ((size_t)(H.limit - H.top) < SPAN ||
		    mprotect(H.top, SPAN, PROT_READ | PROT_WRITE) != 0)
			return NULL;
		s = (struct span *)H.top;
		H.top += SPAN;
		H.spans++;
	}
	memset(s, 0, sizeof(*s));
	s->cls = (unsigned short)c;
	s->bump = (char *)s + HEADER;
	return s;
}

static void
span_give_back(struct span *s)
{
	if (H.ngiven == H.capgiven) {
		H.capgiven = H.capgiven ? H.capgiven * 2 : 64;
		H.given = xrealloc(H.given, H.capgiven * sizeof(*H.given));
	}
	madvise(s, SPAN, MADV_DONTNEED);
	H.given[H.ngiven++] = (char *)s;
}

static void
span_emptied(struct span *s)
{
	if (H.nempty < EMPTY_KEEP) {
		list_push(&H.empty, s);
		H.nempty++;
	} else {
		span_give_back(s);
	}
}

static inline int
has_room(const struct span *s)
{
	return s->free != NULL || s->bump + sizes[s->cls] <= (const char *)s + SPAN;
}

/* --- what libxml2 calls --- */

static void *
heap_malloc(size_t n)
{
	struct span *s;
	unsigned c;
	char *p;

	if (n > CLASS_MAX)
		return malloc(n);
	c = H.class_of[(n + GRANULE - 1) / GRANULE];
	pthread_mutex_lock(&H.lock);
	if ((s = H.avail[c]) == NULL) {
		if ((s = span_get(c)) == NULL) {
			pthread_mutex_unlock(&H.lock);
			return malloc(n);
		}
		list_push(&H.avail[c], s);
		s->listed = 1;
	}
	if ((p = s->free) != NULL) {
		s->free = *(char **)p;
	} else {
		p = s->bump;
		s->bump += sizes[c];
	}
	s->used++;
	if (!has_room(s)) {
		list_remove(&H.avail[c], s);
		s->listed = 0;
	}
	H.in_use += sizes[c];
	pthread_mutex_unlock(&H.lock);
	return p;
}

static void
heap_free(void *p)
{
	struct span *s;

	if (p == NULL)
		return;
	if (!ours(p)) {
		free(p);
		return;
	}
	s = span_of(p);
	pthread_mutex_lock(&H.lock);
	*(char **)p = s->free;
	s->free = p;
	s->used--;
	H.in_use -= sizes[s->cls];
	if (s->used == 0) {
		if (s->listed)
			list_remove(&H.avail[s->cls], s);
		s->listed = 0;
		span_emptied(s);
	} else if (!s->listed) {
		list_push(&H.avail[s->cls], s);
		s->listed = 1;
	}
	pthread_mutex_unlock(&H.lock);
}

static void *
heap_realloc(void *p, size_t n)
{
	size_t have;
	void *q;

	if (p == NULL)
		return heap_malloc(n);
	if (!ours(p))
		return realloc(p, n);
	/* A block's class does not change while it is handed out: no lock needed. */
	have = sizes[span_of(p)->cls];
	if (n <= have)
		return p;
	if ((q = heap_malloc(n)) == NULL)
		return NULL;
	memcpy(q, p, have);
	heap_free(p);
	return q;
}

static char *
heap_strdup(const char *str)
{
	size_t n = strlen(str) + 1;
	char *q = heap_malloc(n);

	if (q != NULL)
		memcpy(q, str, n);
	return q;
}

/* --- setup --- */

static void
heap_install(void)
{
	const char *env = getenv("SB_XML_HEAP");
	unsigned c = 0;
	char *r;

	if (SANITIZED || (env != NULL && strcmp(env, "off") == 0))
		return;
	r = mmap(NULL, RESERVE + SPAN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	    -1, 0);
	if (r == MAP_FAILED)
		return;
	H.base = H.top = (char *)(((uintptr_t)r + SPAN - 1) & ~(uintptr_t)(SPAN - 1));
	H.limit = H.base + RESERVE;
	for (size_t g = 0; g <= CLASS_MAX / GRANULE; g++) {
		while (sizes[c] < g * GRANULE)
			c++;
		H.class_of[g] = (unsigned char)c;
	}
	if (xmlMemSetup(heap_free, heap_malloc, heap_realloc, heap_strdup) != 0) {
		munmap(r, RESERVE + SPAN);
		H.base = H.top = H.limit = NULL;
		return;
	}
	H.on = 1;
}

void
sb_xml_heap_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, heap_install);
}

size_t
sb_xml_heap_trim(void)
{
	size_t n = 0;
	struct span *s;

	pthread_mutex_lock(&H.lock);
	while ((s = H.empty) != NULL) {
		list_remove(&H.empty, s);
		span_give_back(s);
		n += SPAN;
	}
	H.nempty = 0;
	pthread_mutex_unlock(&H.lock);
	return n;
}

void
sb_xml_heap_stats(struct sb_xml_heap_stats *st)
{
	pthread_mutex_lock(&H.lock);
	st->on = H.on;
	st->in_use = H.in_use;
	st->resident = (H.spans - H.ngiven) * SPAN;
	st->released = H.ngiven * SPAN;
	pthread_mutex_unlock(&H.lock);
}
