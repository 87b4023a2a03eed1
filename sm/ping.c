/*
 * ping.c: XMPP ping (XEP-0199) answered by the server: to one of our
 * domains, and from a client to its own bare JID or with no 'to', which
 * XEP-0199 section 4.2 says the server answers. A ping to someone else's
 * bare JID is not answered for them (the core says service-unavailable):
 * it would tell a stranger the account exists.
 */
#include "iqutil.h"

static int
get_ping(struct sm_stanza *s, struct sb_xml_node *payload)
{
	sm_reply_result(s, NULL);
	return SM_DONE;
}

static const struct sm_iq_handler ping_iqs[] = {
	{ SB_NS_PING, "ping", SM_IQ_SERVER | SM_IQ_SELF, get_ping, NULL },
	{ NULL },
};

static const char *const ping_features[] = { SB_NS_PING, NULL };

const struct sm_module sm_mod_ping = {
	.name = "ping",
	.iqs = ping_iqs,
	.server_features = ping_features,
};
