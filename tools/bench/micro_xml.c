/*
 * micro_xml.c: micro-benchmark of the XML stream parser and serializer.
 * Not a test: it prints figures, it asserts nothing about speed.
 *
 *   - stanzas/s for ~200-byte message stanzas on one core, with the input
 *     read in 16 KiB, 4 KiB and one-stanza pieces (a busy link, a loaded
 *     client, an interactive client);
 *   - serializer stanzas/s;
 *   - heap held per stream: new, after the header, after a stanza, and
 *     hibernated (what an idle connection costs).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ns.h"
#include "xml.h"

#define HEADER "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " \
	"xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>"
#define STANZA "<message to='juliet@example.com/balcony' from='romeo@example.net/orchard' " \
	"type='chat' id='a1b2c3d4'><body>Wherefore art thou, Romeo? Deny thy father and refuse " \
	"thy name.</body></message>"

static long stanzas;
static struct sb_xml_node *last;

static void
count(void *arg, struct sb_xml_node *st)
{
	stanzas++;
	last = st;
}

static const struct sb_xml_stream_cb cb = { NULL, count, NULL };

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
bench_parse(const char *buf, size_t len, size_t chunk, long n, int hibernate)
{
	struct sb_xml_stream *s = sb_xml_stream_new(&cb, NULL, NULL);
	size_t hl = strlen(HEADER);
	double t0, t;

	sb_xml_stream_feed(s, buf, hl);
	stanzas = 0;
	t0 = now();
	for (size_t off = hl; off < len; off += chunk)
	{
		if (sb_xml_stream_feed(s, buf + off, len - off < chunk ? len - off : chunk) != SB_XML_OK)
			abort();
		if (hibernate && sb_xml_stream_hibernate(s) != 0)
			abort();
	}
	t = now() - t0;
	if (stanzas != n)
		abort();
	printf("parse %6zu-byte reads%s %10.0f stanzas/s  %7.1f MB/s\n", chunk,
	    hibernate ? ", hibernating after each" : "                        ",
	    (double)n / t, (double)(len - hl) / t / 1e6);
	sb_xml_stream_free(s);
}

static void
bench_write(long n)
{
	struct sb_xml_stream *s = sb_xml_stream_new(&cb, NULL, NULL);
	struct sb_buf out = SB_BUF_INIT;
	struct sb_arena a;
	struct sb_xml_node *copy;
	double t0, t;

	sb_arena_init(&a, 0);
	sb_xml_stream_feed(s, HEADER STANZA, strlen(HEADER STANZA));
	copy = sb_xml_copy(&a, last);
	t0 = now();
	for (long i = 0; i < n; i++) {
		sb_buf_clear(&out);
		sb_xml_write(&out, copy, SB_NS_CLIENT);
	}
	t = now() - t0;
	printf("write                                           %10.0f stanzas/s  (%zu bytes each)\n", (double)n / t,
	    sb_buf_len(&out));
	sb_buf_free(&out);
	sb_arena_free(&a);
	sb_xml_stream_free(s);
}

static size_t
heap_used(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static void
bench_memory(void)
{
	enum { N = 1000 };
	static struct sb_xml_stream *s[N];
	size_t base, fresh, header, stanza, hib;

	malloc_trim(0);
	base = heap_used();
	for (int i = 0; i < N; i++)
		s[i] = sb_xml_stream_new(&cb, NULL, NULL);
	fresh = heap_used();
	for (int i = 0; i < N; i++)
		sb_xml_stream_feed(s[i], HEADER, strlen(HEADER));
	header = heap_used();
	for (int i = 0; i < N; i++)
		sb_xml_stream_feed(s[i], STANZA, strlen(STANZA));
	stanza = heap_used();
	for (int i = 0; i < N; i++)
		if (sb_xml_stream_hibernate(s[i]) != 0)
			abort();
	hib = heap_used();
	printf("heap per stream: new %zu B, after header %zu B, after a stanza %zu B, "
	    "hibernated %zu B\n", (fresh - base) / N, (header - base) / N,
	    (stanza - base) / N, (hib - base) / N);
	for (int i = 0; i < N; i++)
		sb_xml_stream_free(s[i]);
}

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 500000;
	size_t hl = strlen(HEADER), sl = strlen(STANZA), len = hl + (size_t)n * sl;
	char *buf = malloc(len);

	memcpy(buf, HEADER, hl);
	for (long i = 0; i < n; i++)
		memcpy(buf + hl + (size_t)i * sl, STANZA, sl);
	printf("micro_xml: %ld message stanzas of %zu bytes, one core (CPU time)\n", n, sl);
	bench_parse(buf, len, 16384, n, 0);
	bench_parse(buf, len, 4096, n, 0);
	bench_parse(buf, len, sl, n, 0);
	bench_parse(buf, len, sl, n, 1);
	bench_write(n);
	bench_memory();
	free(buf);
	return 0;
}
