/*
 * queries.c: the catalogue's table of names and types (see queries.h).
 */
#include "queries.h"

const struct sb_query_info sb_query_info[SB_Q_COUNT] = {
#define SB_QUERY_INFO(name_, params_, cols_) \
	[SB_Q_##name_] = { .name = #name_, .params = params_, .cols = cols_ },
	SB_QUERY_LIST(SB_QUERY_INFO)
#undef SB_QUERY_INFO
};
