/*
 * base64.c: RFC 4648 base64 with a strict decoder (see base64.h).
 */
#include <stdint.h>

#include "base64.h"
#include "buf.h"

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Character to 6-bit value; 0xff for anything outside the alphabet ('=' too). */
static const uint8_t values[256] = {
#define X 0xff
#define ROW16 X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X
	ROW16, ROW16,						/* 0x00-0x1f */
	X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,	/* ' '-'/' */
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X, /* '0'-'?' */
	X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,	/* '@'-'O' */
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X, /* 'P'-'_' */
	X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* '`'-'o' */
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X, /* 'p'-0x7f */
	ROW16, ROW16, ROW16, ROW16, ROW16, ROW16, ROW16, ROW16,	/* 0x80-0xff */
#undef ROW16
#undef X
};

size_t
sb_base64_encoded_len(size_t len)
{
	return (len + 2) / 3 * 4;
}

size_t
sb_base64_decoded_max(size_t inlen)
{
	return inlen / 4 * 3;
}

size_t
sb_base64_decoded_len(const char *in, size_t inlen)
{
	size_t pad = 0;

	if (inlen % 4 != 0)
		return (size_t)-1;
	if (inlen == 0)
		return 0;
	if (in[inlen - 1] == '=')
		pad = in[inlen - 2] == '=' ? 2 : 1;
	if (pad == 2 && in[inlen - 3] == '=')
		return (size_t)-1;
	return inlen / 4 * 3 - pad;
}

size_t
sb_base64_encode(const void *data, size_t len, char *out)
{
	const unsigned char *p = data;
	char *o = out;
	uint32_t v;

	for (; len >= 3; p += 3, len -= 3) {
		v = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (len > 0) {
		v = (uint32_t)p[0] << 16 | (len == 2 ? (uint32_t)p[1] << 8 : 0);
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = len == 2 ? alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	*o = '\0';
	return (size_t)(o - out);
}

void
sb_base64_encode_buf(struct sb_buf *b, const void *data, size_t len)
{
	size_t n = sb_base64_encoded_len(len);
	char *p = sb_buf_space(b, n + 1, NULL);

	sb_buf_commit(b, sb_base64_encode(data, len, p));
}

/*
 * The last group: 2 or 3 characters before the padding. The bits that fall
 * off the end must be zero, else two encodings would decode alike.
 */
static int
decode_tail(const unsigned char *in, size_t nchars, unsigned char *o)
{
	uint32_t a = values[in[0]], b = values[in[1]];
	uint32_t c = nchars == 3 ? values[in[2]] : 0;

	if ((a | b | c) > 63)
		return -1;
	if (nchars == 2 && (b & 0x0f) != 0)
		return -1;
	if (nchars == 3 && (c & 0x03) != 0)
		return -1;
	o[0] = (unsigned char)(a << 2 | b >> 4);
	if (nchars == 3)
		o[1] = (unsigned char)(b << 4 | c >> 2);
	return 0;
}

int
sb_base64_decode(const char *in, size_t inlen, void *out, size_t outcap, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	unsigned char *o = out;
	size_t n = sb_base64_decoded_len(in, inlen), full, tail;
	uint32_t a, b, c, d;

	if (n == (size_t)-1 || n > outcap)
		return -1;
	/* Groups without padding; a last group with padding is the tail. */
	tail = n % 3 == 0 ? 0 : n % 3 + 1;
	full = (inlen - (tail ? 4 : 0)) / 4;
	for (size_t i = 0; i < full; i++, p += 4) {
		a = values[p[0]], b = values[p[1]], c = values[p[2]], d = values[p[3]];
		if ((a | b | c | d) > 63)
			return -1;
		*o++ = (unsigned char)(a << 2 | b >> 4);
		*o++ = (unsigned char)(b << 4 | c >> 2);
		*o++ = (unsigned char)(c << 6 | d);
	}
	if (tail > 0 && decode_tail(p, tail, o) < 0)
		return -1;
	*outlen = n;
	return 0;
}
