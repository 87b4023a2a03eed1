/*
 * stream.h: writing the stream itself: the header, stream features'
 * frame, stream errors and the close (RFC 6120 section 4).
 */
#ifndef SB_STREAM_H
#define SB_STREAM_H

#include "buf.h"
#include "xml.h"

/* RFC 6120 section 4.9.3, in its order. */
enum sb_stream_err {
	SB_STERR_BAD_FORMAT,
	SB_STERR_BAD_NAMESPACE_PREFIX,
	SB_STERR_CONFLICT,
	SB_STERR_CONNECTION_TIMEOUT,
	SB_STERR_HOST_GONE,
	SB_STERR_HOST_UNKNOWN,
	SB_STERR_IMPROPER_ADDRESSING,
	SB_STERR_INTERNAL_SERVER_ERROR,
	SB_STERR_INVALID_FROM,
	SB_STERR_INVALID_NAMESPACE,
	SB_STERR_INVALID_XML,
	SB_STERR_NOT_AUTHORIZED,
	SB_STERR_NOT_WELL_FORMED,
	SB_STERR_POLICY_VIOLATION,
	SB_STERR_REMOTE_CONNECTION_FAILED,
	SB_STERR_RESET,
	SB_STERR_RESOURCE_CONSTRAINT,
	SB_STERR_RESTRICTED_XML,
	SB_STERR_SEE_OTHER_HOST,
	SB_STERR_SYSTEM_SHUTDOWN,
	SB_STERR_UNDEFINED_CONDITION,
	SB_STERR_UNSUPPORTED_ENCODING,
	SB_STERR_UNSUPPORTED_FEATURE,
	SB_STERR_UNSUPPORTED_STANZA_TYPE,
	SB_STERR_UNSUPPORTED_VERSION,
	SB_STERR_COUNT
};

struct sb_stream_header {
	const char	*content_ns;	/* jabber:client, jabber:server, ... */
	const char	*from;
	const char	*to;
	const char	*id;
	const char	*version;	/* "1.0"; NULL leaves it out */
	const char	*lang;		/* xml:lang; NULL leaves it out */
	const char	*extra_ns;	/* e.g. " xmlns:db='jabber:server:dialback'", or NULL */
};

const char *sb_stream_err_name(enum sb_stream_err cond);
int	 sb_stream_err_parse(const char *name, enum sb_stream_err *out);
/* The stream error a parser failure calls for. */
enum sb_stream_err sb_stream_err_from_xml(enum sb_xml_error err);

/* A random stream id: 32 lower-case hex digits and the NUL (SB_STREAM_ID_SIZE bytes). */
#define SB_STREAM_ID_SIZE	33
void	 sb_stream_make_id(char *out);
/* RFC 6120 4.7.5: a 'version' of "major.minor" with major 1 or more. */
int	 sb_stream_version_ok(const char *version);

/* "<?xml version='1.0'?><stream:stream ...>" with escaped attribute values. */
void	 sb_stream_write_header(struct sb_buf *out, const struct sb_stream_header *h);
/* "<stream:error>...</stream:error></stream:stream>"; text may be NULL. */
void	 sb_stream_write_error(struct sb_buf *out, enum sb_stream_err cond, const char *text);
void	 sb_stream_write_close(struct sb_buf *out);

#endif
