/*
 * ns.h: protocol constants, named once: XML namespaces of RFC 6120/6121,
 * the XEPs switchboard speaks, and its own internal namespaces.
 */
#ifndef SB_NS_H
#define SB_NS_H

/* XML itself */
#define SB_NS_XML		"http://www.w3.org/XML/1998/namespace"
#define SB_NS_XMLNS		"http://www.w3.org/2000/xmlns/"

/* RFC 6120: streams and their content */
#define SB_NS_STREAMS		"http://etherx.jabber.org/streams"
#define SB_NS_CLIENT		"jabber:client"
#define SB_NS_SERVER		"jabber:server"
#define SB_NS_COMPONENT_ACCEPT	"jabber:component:accept"
#define SB_NS_XMPP_STREAMS	"urn:ietf:params:xml:ns:xmpp-streams"
#define SB_NS_XMPP_STANZAS	"urn:ietf:params:xml:ns:xmpp-stanzas"
#define SB_NS_XMPP_TLS		"urn:ietf:params:xml:ns:xmpp-tls"
#define SB_NS_XMPP_SASL		"urn:ietf:params:xml:ns:xmpp-sasl"
#define SB_NS_XMPP_BIND		"urn:ietf:params:xml:ns:xmpp-bind"
#define SB_NS_XMPP_SESSION	"urn:ietf:params:xml:ns:xmpp-session"
#define SB_NS_DIALBACK		"jabber:server:dialback"
#define SB_NS_FEATURE_DIALBACK	"urn:xmpp:features:dialback"		/* XEP-0220 */
#define SB_NS_BIDI		"urn:xmpp:bidi"				/* XEP-0288 */
#define SB_NS_FEATURE_BIDI	"urn:xmpp:features:bidi"		/* XEP-0288 */

/* RFC 6121 */
#define SB_NS_ROSTER		"jabber:iq:roster"

/* XEPs */
#define SB_NS_FEATURE_ROSTERVER	"urn:xmpp:features:rosterver"		/* XEP-0237 */
#define SB_NS_FEATURE_PREAPPROVAL "urn:xmpp:features:pre-approval"	/* RFC 6121 3.4 */
#define SB_NS_DISCO_INFO	"http://jabber.org/protocol/disco#info"	/* XEP-0030 */
#define SB_NS_DISCO_ITEMS	"http://jabber.org/protocol/disco#items"	/* XEP-0030 */
#define SB_NS_DATA		"jabber:x:data"				/* XEP-0004 */
#define SB_NS_SERVERINFO	"http://jabber.org/network/serverinfo"	/* XEP-0157 */
#define SB_NS_VCARD		"vcard-temp"				/* XEP-0054 */
#define SB_NS_PRIVATE		"jabber:iq:private"			/* XEP-0049 */
#define SB_NS_LAST		"jabber:iq:last"			/* XEP-0012 */
#define SB_NS_VERSION		"jabber:iq:version"			/* XEP-0092 */
#define SB_NS_TIME		"urn:xmpp:time"				/* XEP-0202 */
#define SB_NS_DELAY		"urn:xmpp:delay"			/* XEP-0203 */
#define SB_NS_PING		"urn:xmpp:ping"				/* XEP-0199 */
#define SB_NS_SASL_CB		"urn:xmpp:sasl-cb:0"			/* XEP-0440 */
#define SB_NS_REGISTER		"jabber:iq:register"			/* XEP-0077 */
#define SB_NS_FEATURE_REGISTER	"http://jabber.org/features/iq-register"	/* XEP-0077 */
#define SB_NS_IQAUTH		"jabber:iq:auth"			/* XEP-0078 */
#define SB_NS_FEATURE_IQAUTH	"http://jabber.org/features/iq-auth"	/* XEP-0078 */

/* switchboard's internal protocol between router, c2s, sm and s2s */
#define SB_NS_ROUTE		"urn:switchboard:route:0"
#define SB_NS_COMPONENT		"urn:switchboard:component:0"
#define SB_NS_SESSION		"urn:switchboard:session:0"

#endif
