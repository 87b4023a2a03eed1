/*
 * xml_stream.c: libFuzzer target for the stream parser (lib/xml_stream.c).
 *
 * Input: one control byte, then the stream bytes. The bytes are parsed
 * whole and again in pieces (size from the control byte), optionally
 * hibernating between pieces. Both runs must deliver the same header,
 * stanzas and close. On malformed input libxml2 may notice the error at a
 * later piece (it looks ahead for an unquoted '>' before parsing a tag), so
 * a run still waiting for input may have delivered less, never more or
 * other: its events must be a prefix of the other run's. When both fail,
 * they fail with the same condition, except that a stanza both too big and
 * malformed may be reported as either (policy-violation or the other): the
 * size is exact, but libxml2 reports text late after some errors. Every
 * stanza must survive write -> parse unchanged. Any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns.h"
#include "xml.h"

struct run {
	struct sb_buf		 out;	/* events, one line each */
	struct sb_buf		 stanzas;	/* each stanza serialized, NUL-separated */
	size_t			 nstanzas;
	enum sb_xml_status	 status;
	enum sb_xml_error	 err;
	char			 errtext[160];
	struct sb_xml_stream	*s;
	const char		*content_ns;
};

static struct sb_xml_node *reparsed;

static void
keep(void *arg, struct sb_xml_node *st)
{
	struct sb_arena *a = arg;

	reparsed = sb_xml_copy(a, st);
}

static const struct sb_xml_stream_cb reparse_cb = { NULL, keep, NULL };

/*
 * Parse one stanza's bytes under a stream header declaring content_ns; the
 * stanza, copied into a. Anything but exactly one stanza aborts.
 */
static struct sb_xml_node *
parse_one(struct sb_arena *a, const char *content_ns, const char *bytes, size_t len)
{
	struct sb_buf b = SB_BUF_INIT;
	struct sb_xml_limits big = { 1 << 24, 1 << 16, 1 << 16 };
	struct sb_xml_stream *s = sb_xml_stream_new(&reparse_cb, a, &big);

	sb_buf_append_str(&b, "<stream:stream xmlns:stream='" SB_NS_STREAMS "'");
	sb_xml_write_attr(&b, "xmlns", content_ns);
	sb_buf_append_str(&b, ">");
	sb_buf_append(&b, bytes, len);
	reparsed = NULL;
	if (sb_xml_stream_feed(s, sb_buf_data(&b), sb_buf_len(&b)) != SB_XML_OK || reparsed == NULL)
		abort();
	sb_xml_stream_free(s);
	sb_buf_free(&b);
	return reparsed;
}

/* write(stanza) parsed again in a stream with the same content namespace. */
static void
check_round_trip(const struct sb_xml_node *st, const char *content_ns)
{
	struct sb_arena a;
	struct sb_buf b = SB_BUF_INIT;

	sb_arena_init(&a, 0);
	sb_xml_write(&b, st, content_ns);
	if (!sb_xml_equal(parse_one(&a, content_ns, sb_buf_data(&b), sb_buf_len(&b)), st))
		abort();
	sb_buf_free(&b);
	sb_arena_free(&a);
}

static void
on_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	struct run *r = arg;

	r->content_ns = content_ns;
	sb_buf_append_str(&r->out, "H:");
	sb_xml_write(&r->out, hdr, NULL);
	sb_buf_printf(&r->out, "[%s]\n", content_ns ? content_ns : "");
}

static void
on_stanza(void *arg, struct sb_xml_node *st)
{
	struct run *r = arg;

	size_t before = sb_buf_len(&r->stanzas);

	sb_xml_write(&r->stanzas, st, r->content_ns);
	sb_buf_append(&r->stanzas, "", 1);
	r->nstanzas++;
	sb_buf_append_str(&r->out, "S:");
	sb_buf_append_str(&r->out, sb_buf_data(&r->stanzas) + before);
	sb_buf_append_char(&r->out, '\n');
	check_round_trip(st, r->content_ns);
}

static void
on_close(void *arg)
{
	sb_buf_append_str(&((struct run *)arg)->out, "C\n");
}

static const struct sb_xml_stream_cb cb = { on_header, on_stanza, on_close };

static void
parse(struct run *r, const uint8_t *p, size_t n, size_t step, int hibernate,
    const struct sb_xml_limits *lim)
{
	enum sb_xml_status st = SB_XML_OK;

	memset(r, 0, sizeof(*r));
	r->s = sb_xml_stream_new(&cb, r, lim);
	for (size_t off = 0; off < n && st == SB_XML_OK; off += step) {
		st = sb_xml_stream_feed(r->s, p + off, n - off < step ? n - off : step);
		if (hibernate)
			sb_xml_stream_hibernate(r->s);
	}
	r->status = st;
	r->err = sb_xml_stream_error(r->s);
	snprintf(r->errtext, sizeof(r->errtext), "%s", sb_xml_stream_error_text(r->s));
	sb_xml_stream_free(r->s);
}

static int
is_prefix(const struct sb_buf *a, const struct sb_buf *b)
{
	return sb_buf_len(a) <= sb_buf_len(b) &&
	    memcmp(sb_buf_data(a), sb_buf_data(b), sb_buf_len(a)) == 0;
}

static int
consistent(const struct run *a, const struct run *b)
{
	int same = sb_buf_len(&a->out) == sb_buf_len(&b->out) && is_prefix(&a->out, &b->out);

	if (a->status != SB_XML_OK && b->status != SB_XML_OK)
		return same && a->status == b->status && (a->err == b->err ||
		    a->err == SB_XML_ERR_POLICY_VIOLATION || b->err == SB_XML_ERR_POLICY_VIOLATION);
	if (a->status == SB_XML_OK && b->status == SB_XML_OK)
		return same;
	return a->status == SB_XML_OK ? is_prefix(&a->out, &b->out) : is_prefix(&b->out, &a->out);
}

/* --- shallow mode: raw bytes re-parse to the full tree --- */

struct shallow_run {
	struct sb_xml_stream	*s;
	const char		*content_ns;
	struct sb_buf		 raws;	/* each stanza's bytes, NUL-separated; "" when none */
	size_t			 n;
};

static void
sh_header(void *arg, const struct sb_xml_node *hdr, const char *content_ns)
{
	((struct shallow_run *)arg)->content_ns = content_ns;
}

static void
sh_stanza(void *arg, struct sb_xml_node *st)
{
	struct shallow_run *r = arg;
	const char *raw;
	size_t len;

	raw = sb_xml_stream_raw(r->s, &len);
	if (raw != NULL && memchr(raw, '\0', len) != NULL)
		abort();
	sb_buf_append(&r->raws, raw != NULL ? raw : "", raw != NULL ? len : 0);
	sb_buf_append(&r->raws, "", 1);
	r->n++;
}

static const struct sb_xml_stream_cb shallow_cb = { sh_header, sh_stanza, NULL };

/* One stanza's bytes parsed on their own, serialized. */
static void
reparse(const char *content_ns, const char *raw, struct sb_buf *out)
{
	struct sb_arena a;

	sb_arena_init(&a, 0);
	sb_xml_write(out, parse_one(&a, content_ns, raw, strlen(raw)), content_ns);
	sb_arena_free(&a);
}

/* Every stanza with raw bytes must re-parse to the full run's stanza at its place. */
static void
check_shallow(const uint8_t *p, size_t n, const struct sb_xml_limits *lim, const struct run *full)
{
	struct shallow_run r = { 0 };
	const char *raw, *want = sb_buf_data(&full->stanzas);
	struct sb_buf got = SB_BUF_INIT;

	r.s = sb_xml_stream_new(&shallow_cb, &r, lim);
	sb_xml_stream_set_shallow(r.s, 1);
	sb_xml_stream_feed(r.s, p, n);
	if (r.n != full->nstanzas)
		abort();	/* both runs see the same stanzas */
	raw = sb_buf_data(&r.raws);
	for (size_t i = 0; i < r.n; i++, raw += strlen(raw) + 1, want += strlen(want) + 1) {
		if (*raw == '\0')
			continue;
		sb_buf_clear(&got);
		reparse(r.content_ns, raw, &got);
		if (strcmp(want, sb_buf_data(&got)) != 0) {
			fprintf(stderr, "raw: %s\nreparsed: %s\nfull: %s\n", raw,
			    sb_buf_data(&got), want);
			abort();
		}
	}
	sb_xml_stream_free(r.s);
	sb_buf_free(&r.raws);
	sb_buf_free(&got);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sb_xml_limits lim = { 2048, 12, 12 };
	struct run whole, pieces;
	size_t step;
	int hibernate;

	if (size < 1)
		return 0;
	step = (data[0] & 0x3f) + 1;
	hibernate = data[0] & 0x40;
	if (data[0] & 0x80)
		lim = (struct sb_xml_limits)SB_XML_DEFAULT_LIMITS;
	data++;
	size--;
	parse(&whole, data, size, size ? size : 1, 0, &lim);
	parse(&pieces, data, size, step, hibernate, &lim);
	if (!consistent(&whole, &pieces)) {
		fprintf(stderr, "whole (%d %s: %s):\n%s\n---\npieces of %zu%s (%d %s: %s):\n%s\n",
		    whole.status, sb_xml_error_condition(whole.err), whole.errtext,
		    sb_buf_data(&whole.out), step, hibernate ? ", hibernating" : "",
		    pieces.status, sb_xml_error_condition(pieces.err), pieces.errtext,
		    sb_buf_data(&pieces.out));
		abort();
	}
	check_shallow(data, size, &lim, &whole);
	sb_buf_free(&whole.out);
	sb_buf_free(&pieces.out);
	sb_buf_free(&whole.stanzas);
	sb_buf_free(&pieces.stanzas);
	return 0;
}
