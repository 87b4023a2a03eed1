/*
 * version.c: software version (XEP-0092) of the server: the name and
 * version sm.xml gives, and the operating system only when sm.xml allows
 * it (<version os='yes'/>): XEP-0092 section 5 wants the admin able to
 * hide it, and hidden is the default.
 */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "iqutil.h"

/* "Linux 6.1.0-18-amd64", read once at start: it does not change under us. */
static char os_name[256];

static void
version_init(struct sm *sm)
{
	struct utsname u;

	if (uname(&u) == 0)
		snprintf(os_name, sizeof(os_name), "%s %s", u.sysname, u.release);
	else
		snprintf(os_name, sizeof(os_name), "unknown");
}

static void
add_text_child(struct sb_arena *a, struct sb_xml_node *q, const char *name, const char *text)
{
	sb_xml_add_text(a, sb_xml_add(a, q, NULL, name), text, strlen(text));
}

static int
get_version(struct sm_stanza *s, struct sb_xml_node *payload)
{
	const struct sm_conf *conf = s->sm->conf;
	struct sb_xml_node *q = sb_xml_new(s->arena, SB_NS_VERSION, "query");

	add_text_child(s->arena, q, "name", conf->version_name);
	add_text_child(s->arena, q, "version", conf->version_version);
	if (conf->version_show_os)
		add_text_child(s->arena, q, "os", os_name);
	sm_reply_result(s, q);
	return SM_DONE;
}

static const struct sm_iq_handler version_iqs[] = {
	{ SB_NS_VERSION, "query", SM_IQ_SERVER, get_version, NULL },
	{ NULL },
};

static const char *const version_features[] = { SB_NS_VERSION, NULL };

const struct sm_module sm_mod_version = {
	.name = "version",
	.iqs = version_iqs,
	.server_features = version_features,
	.init = version_init,
};
