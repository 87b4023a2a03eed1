/*
 * stream.c: stream headers, stream errors and the close (see stream.h).
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "log.h"
#include "ns.h"
#include "stream.h"

static const char *const stream_conditions[SB_STERR_COUNT] = {
	[SB_STERR_BAD_FORMAT] = "bad-format",
	[SB_STERR_BAD_NAMESPACE_PREFIX] = "bad-namespace-prefix",
	[SB_STERR_CONFLICT] = "conflict",
	[SB_STERR_CONNECTION_TIMEOUT] = "connection-timeout",
	[SB_STERR_HOST_GONE] = "host-gone",
	[SB_STERR_HOST_UNKNOWN] = "host-unknown",
	[SB_STERR_IMPROPER_ADDRESSING] = "improper-addressing",
	[SB_STERR_INTERNAL_SERVER_ERROR] = "internal-server-error",
	[SB_STERR_INVALID_FROM] = "invalid-from",
	[SB_STERR_INVALID_NAMESPACE] = "invalid-namespace",
	[SB_STERR_INVALID_XML] = "invalid-xml",
	[SB_STERR_NOT_AUTHORIZED] = "not-authorized",
	[SB_STERR_NOT_WELL_FORMED] = "not-well-formed",
	[SB_STERR_POLICY_VIOLATION] = "policy-violation",
	[SB_STERR_REMOTE_CONNECTION_FAILED] = "remote-connection-failed",
	[SB_STERR_RESET] = "reset",
	[SB_STERR_RESOURCE_CONSTRAINT] = "resource-constraint",
	[SB_STERR_RESTRICTED_XML] = "restricted-xml",
	[SB_STERR_SEE_OTHER_HOST] = "see-other-host",
	[SB_STERR_SYSTEM_SHUTDOWN] = "system-shutdown",
	[SB_STERR_UNDEFINED_CONDITION] = "undefined-condition",
	[SB_STERR_UNSUPPORTED_ENCODING] = "unsupported-encoding",
	[SB_STERR_UNSUPPORTED_FEATURE] = "unsupported-feature",
	[SB_STERR_UNSUPPORTED_STANZA_TYPE] = "unsupported-stanza-type",
	[SB_STERR_UNSUPPORTED_VERSION] = "unsupported-version",
};

/* Parser failures and the stream error each one calls for. */
static const enum sb_stream_err from_xml[] = {
	[SB_XML_ERR_NONE] = SB_STERR_UNDEFINED_CONDITION,
	[SB_XML_ERR_NOT_WELL_FORMED] = SB_STERR_NOT_WELL_FORMED,
	[SB_XML_ERR_RESTRICTED_XML] = SB_STERR_RESTRICTED_XML,
	[SB_XML_ERR_POLICY_VIOLATION] = SB_STERR_POLICY_VIOLATION,
	[SB_XML_ERR_INVALID_NAMESPACE] = SB_STERR_INVALID_NAMESPACE,
	[SB_XML_ERR_BAD_NAMESPACE_PREFIX] = SB_STERR_BAD_NAMESPACE_PREFIX,
	[SB_XML_ERR_UNSUPPORTED_ENCODING] = SB_STERR_UNSUPPORTED_ENCODING,
	[SB_XML_ERR_BAD_FORMAT] = SB_STERR_BAD_FORMAT,
};

const char *
sb_stream_err_name(enum sb_stream_err cond)
{
	return (unsigned)cond < SB_STERR_COUNT ? stream_conditions[cond] : "undefined-condition";
}

int
sb_stream_err_parse(const char *name, enum sb_stream_err *out)
{
	for (int i = 0; i < SB_STERR_COUNT; i++) {
		if (strcmp(stream_conditions[i], name) == 0) {
			*out = (enum sb_stream_err)i;
			return 0;
		}
	}
	return -1;
}

enum sb_stream_err
sb_stream_err_from_xml(enum sb_xml_error err)
{
	if ((size_t)err >= sizeof(from_xml) / sizeof(from_xml[0]))
		return SB_STERR_UNDEFINED_CONDITION;
	return from_xml[err];
}

void
sb_stream_write_header(struct sb_buf *out, const struct sb_stream_header *h)
{
	sb_buf_append_str(out, "<?xml version='1.0'?><stream:stream");
	sb_xml_write_attr(out, "xmlns", h->content_ns);
	sb_buf_append_str(out, " xmlns:stream='" SB_NS_STREAMS "'");
	if (h->extra_ns != NULL)
		sb_buf_append_str(out, h->extra_ns);
	sb_xml_write_attr(out, "from", h->from);
	sb_xml_write_attr(out, "to", h->to);
	sb_xml_write_attr(out, "id", h->id);
	sb_xml_write_attr(out, "version", h->version);
	sb_xml_write_attr(out, "xml:lang", h->lang);
	sb_buf_append_char(out, '>');
}

void
sb_stream_write_error(struct sb_buf *out, enum sb_stream_err cond, const char *text)
{
	sb_buf_printf(out, "<stream:error><%s xmlns='" SB_NS_XMPP_STREAMS "'/>",
	    sb_stream_err_name(cond));
	if (text != NULL && *text != '\0') {
		sb_buf_append_str(out, "<text xmlns='" SB_NS_XMPP_STREAMS "' xml:lang='en'>");
		sb_xml_escape_text(out, text, strlen(text));
		sb_buf_append_str(out, "</text>");
	}
	sb_buf_append_str(out, "</stream:error>");
	sb_stream_write_close(out);
}

void
sb_stream_write_close(struct sb_buf *out)
{
	sb_buf_append_str(out, "</stream:stream>");
}

void
sb_stream_make_id(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[(SB_STREAM_ID_SIZE - 1) / 2];

	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof(rnd)) < 0)
		fatal("gnutls_rnd failed");
	for (size_t i = 0; i < sizeof(rnd); i++) {
		out[2 * i] = hex[rnd[i] >> 4];
		out[2 * i + 1] = hex[rnd[i] & 15];
	}
	out[2 * sizeof(rnd)] = '\0';
}

int
sb_stream_version_ok(const char *v)
{
	char *end;
	unsigned long major;

	if (v == NULL || *v < '0' || *v > '9')
		return 0;
	major = strtoul(v, &end, 10);
	if (*end != '.' || end[1] < '0' || end[1] > '9')
		return 0;
	strtoul(end + 1, &end, 10);
	return *end == '\0' && major >= 1;
}
