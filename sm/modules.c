/*
 * modules.c: the module table. A feature is a file defining one struct
 * sm_module (sm.h) and a line here; the order is the order hooks run in
 * and disco features are listed in.
 */
#include "sm.h"

extern const struct sm_module sm_mod_roster;
extern const struct sm_module sm_mod_presence;
extern const struct sm_module sm_mod_subscription;
extern const struct sm_module sm_mod_offline;
extern const struct sm_module sm_mod_disco;
extern const struct sm_module sm_mod_vcard;
extern const struct sm_module sm_mod_private;
extern const struct sm_module sm_mod_last;
extern const struct sm_module sm_mod_version;
extern const struct sm_module sm_mod_time;
extern const struct sm_module sm_mod_ping;

const struct sm_module *const sm_modules[] = {
	&sm_mod_roster,
	&sm_mod_subscription,
	&sm_mod_presence,
	&sm_mod_offline,
	&sm_mod_disco,
	&sm_mod_vcard,
	&sm_mod_private,
	&sm_mod_last,
	&sm_mod_version,
	&sm_mod_time,
	&sm_mod_ping,
};

const size_t sm_nmodules = sizeof(sm_modules) / sizeof(sm_modules[0]);
