/*
 * commands.c: the router commands an internal link sends in
 * urn:switchboard:component:0, and their answers:
 *
 *   <bind name='localhost' id='b1'/>     -> <bound name='localhost' id='b1'/>
 *   <bind default='yes' id='b2'/>        -> <bound default='yes' id='b2'/>
 *   <unbind name='localhost' id='b3'/>   -> <unbound name='localhost' id='b3'/>
 *   <unbind default='yes' id='b4'/>      -> <unbound default='yes' id='b4'/>
 *   any of them failing                  -> <bind-error name='..' id='..' condition='..'/>
 *
 * Conditions: not-allowed (a plain component, a name router.xml does not
 * let this link bind, the default route without default-route='yes',
 * unbinding the link's own first name), conflict (held by another link and
 * not shared), bad-request (no name, a name that is not a domain, default
 * that is not a boolean, unbinding what the link does not hold). Binding
 * what the link already holds is answered <bound/> again. Permissions are
 * read from the running configuration, so a reload applies to the next
 * command.
 */
#include <string.h>

#include "config.h"
#include "jid.h"
#include "ns.h"
#include "router.h"

static void
answer(struct link *l, const char *what, const struct sb_xml_node *cmd, const char *name,
    int dflt, const char *cond)
{
	struct sb_buf *b = &l->r->out;

	sb_buf_clear(b);
	sb_buf_printf(b, "<%s xmlns='" SB_NS_COMPONENT "'", what);
	sb_xml_write_attr(b, "name", name);
	if (dflt)
		sb_buf_append_str(b, " default='yes'");
	sb_xml_write_attr(b, "id", sb_xml_attr(cmd, "id"));
	sb_xml_write_attr(b, "condition", cond);
	sb_buf_append_str(b, "/>");
	link_send(l, sb_buf_data(b), sb_buf_len(b));
	sb_buf_clear(b);
}

static void
refuse(struct link *l, const struct sb_xml_node *cmd, const char *name, int dflt,
    const char *cond, const char *why)
{
	link_log(l, SB_LOG_INFO, "<%s%s%s%s/> refused: %s: %s", cmd->e.name,
	    name != NULL ? " name='" : "", name != NULL ? name : "", name != NULL ? "'" : "",
	    cond, why);
	answer(l, "bind-error", cmd, name, dflt, cond);
}

/*
 * What a command names: *dflt for the default route, else the canonical
 * name in buf. -1 when it has been refused already.
 */
static int
target(struct link *l, const struct sb_xml_node *cmd, char *buf, size_t size, int *dflt)
{
	const char *raw = sb_xml_attr(cmd, "name"), *d = sb_xml_attr(cmd, "default"), *why;
	size_t len;

	*dflt = 0;
	if (!l->internal) {
		refuse(l, cmd, raw, 0, "not-allowed", "router commands are for internal links");
		return -1;
	}
	if (d != NULL && sb_config_parse_bool(d, dflt) == -1) {
		refuse(l, cmd, raw, 0, "bad-request", "'default' is not yes or no");
		return -1;
	}
	if (*dflt && raw != NULL) {
		refuse(l, cmd, raw, 1, "bad-request", "both 'name' and 'default'");
		return -1;
	}
	if (*dflt)
		return 0;
	if (raw == NULL) {
		refuse(l, cmd, NULL, 0, "bad-request", "no 'name'");
		return -1;
	}
	if (sb_jid_prepare(SB_JID_DOMAIN, raw, strlen(raw), buf, size, &len, &why) == -1) {
		refuse(l, cmd, raw, 0, "bad-request", why);
		return -1;
	}
	return 0;
}

static void
bind_default(struct link *l, const struct sb_xml_node *cmd)
{
	const struct router_component *comp = link_component(l);

	if (comp == NULL || !comp->default_route) {
		refuse(l, cmd, NULL, 1, "not-allowed", "router.xml does not say default-route='yes'");
		return;
	}
	if (!l->is_default) {
		names_add_holder(&l->r->names.def, l);
		l->is_default = 1;
		announce(l->r, l, "bound", NULL);
		link_log(l, SB_LOG_NOTICE, "is a default route");
	}
	answer(l, "bound", cmd, NULL, 1, NULL);
}

void
command_bind(struct link *l, struct sb_xml_node *cmd)
{
	char name[SB_JID_PART_BUFSIZE];
	struct name *n;
	int dflt;

	if (target(l, cmd, name, sizeof(name), &dflt) == -1)
		return;
	if (dflt) {
		bind_default(l, cmd);
		return;
	}
	if (!router_conf_may_bind(link_component(l), name)) {
		refuse(l, cmd, name, 0, "not-allowed", "router.xml does not list it");
		return;
	}
	n = names_get(&l->r->names, name, strlen(name));
	if (!names_held_by(n, l)) {
		if (n->nholders > 0 && !n->share) {
			refuse(l, cmd, name, 0, "conflict", "held by another link and not shared");
			return;
		}
		link_bind(l, n);
		link_log(l, SB_LOG_INFO, "bound '%s'", name);
	}
	answer(l, "bound", cmd, name, 0, NULL);
}

void
command_unbind(struct link *l, struct sb_xml_node *cmd)
{
	char name[SB_JID_PART_BUFSIZE];
	struct name *n;
	int dflt;

	if (target(l, cmd, name, sizeof(name), &dflt) == -1)
		return;
	if (dflt) {
		if (!l->is_default) {
			refuse(l, cmd, NULL, 1, "bad-request", "not a default route");
			return;
		}
		names_remove_holder(&l->r->names, &l->r->names.def, l);
		l->is_default = 0;
		announce(l->r, l, "unbound", NULL);
		link_log(l, SB_LOG_NOTICE, "is no longer a default route");
		answer(l, "unbound", cmd, NULL, 1, NULL);
		return;
	}
	n = names_find(&l->r->names, name, strlen(name));
	if (n == NULL || !names_held_by(n, l)) {
		refuse(l, cmd, name, 0, "bad-request", "not bound by this link");
		return;
	}
	if (n == l->names[0]) {
		refuse(l, cmd, name, 0, "not-allowed", "the link's own name");
		return;
	}
	link_unbind(l, n);
	link_log(l, SB_LOG_INFO, "unbound '%s'", name);
	answer(l, "unbound", cmd, name, 0, NULL);
}
