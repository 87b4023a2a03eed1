/*
 * time.c: entity time (XEP-0202) of the server: UTC now and the host's
 * offset from it, both in the XEP-0082 profiles.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iqutil.h"

/* XEP-0082 TZD "+hh:mm" / "-hh:mm" of the local zone at t (DST included). */
static void
format_tzo(int64_t t, char *buf, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;
	long off = 0;
	int h, m;

	if (localtime_r(&tt, &tm) != NULL)
		off = tm.tm_gmtoff;
	/* Real zones are within a day of UTC; keep the format even if not. */
	h = (int)(labs(off) / 3600 % 24);
	m = (int)(labs(off) % 3600 / 60);
	snprintf(buf, size, "%c%02d:%02d", off < 0 ? '-' : '+', h, m);
}

static int
get_time(struct sm_stanza *s, struct sb_xml_node *payload)
{
	struct sb_xml_node *q = sb_xml_new(s->arena, SB_NS_TIME, "time");
	int64_t now = sm_now();
	char tzo[16], utc[32];

	format_tzo(now, tzo, sizeof(tzo));
	sm_stamp(now, utc, sizeof(utc));
	sb_xml_add_text(s->arena, sb_xml_add(s->arena, q, NULL, "tzo"), tzo, strlen(tzo));
	sb_xml_add_text(s->arena, sb_xml_add(s->arena, q, NULL, "utc"), utc, strlen(utc));
	sm_reply_result(s, q);
	return SM_DONE;
}

static const struct sm_iq_handler time_iqs[] = {
	{ SB_NS_TIME, "time", SM_IQ_SERVER, get_time, NULL },
	{ NULL },
};

static const char *const time_features[] = { SB_NS_TIME, NULL };

const struct sm_module sm_mod_time = {
	.name = "time",
	.iqs = time_iqs,
	.server_features = time_features,
};
