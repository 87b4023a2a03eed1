/*
 * base64.h: RFC 4648 base64 (section 4 alphabet, with padding).
 *
 * The decoder is strict, as SASL (RFC 6120 6.4.2) and SCRAM need it to be:
 * it rejects characters outside the alphabet, whitespace, missing or extra
 * padding, padding in the middle, and non-zero bits in the unused tail of
 * the last group (so every byte string has exactly one accepted encoding).
 *
 * The empty string encodes to the empty string. XMPP's "=" for an empty
 * SASL response is a protocol convention the caller handles, not base64.
 */
#ifndef SB_BASE64_H
#define SB_BASE64_H

#include <stddef.h>

struct sb_buf;

/* Characters sb_base64_encode() writes for len bytes (without the NUL). */
size_t	 sb_base64_encoded_len(size_t len);
/* Upper bound of the bytes a decode of inlen characters can produce. */
size_t	 sb_base64_decoded_max(size_t inlen);
/*
 * Exact number of bytes the encoding in (inlen characters) decodes to,
 * judged from its length and padding only; (size_t)-1 when inlen is not a
 * multiple of 4 or the padding is malformed.
 */
size_t	 sb_base64_decoded_len(const char *in, size_t inlen);

/* Encode into out (sb_base64_encoded_len(len) + 1 bytes); returns the length. */
size_t	 sb_base64_encode(const void *data, size_t len, char *out);
/* Append the encoding to b. */
void	 sb_base64_encode_buf(struct sb_buf *b, const void *data, size_t len);
/*
 * Decode inlen characters into out (room for outcap bytes). 0 and *outlen
 * set, or -1 when the input is not canonical base64 or out is too small
 * (nothing useful is left in out then).
 */
int	 sb_base64_decode(const char *in, size_t inlen, void *out, size_t outcap,
	     size_t *outlen);

#endif
