/*
 * reload.c: the restart-only settings of a reloaded configuration keep
 * their running values (lib/reload.h), on a configuration shaped like the
 * processes' ones.
 */
#include <stdint.h>
#include <string.h>

#include "reload.h"
#include "tap.h"

struct conf {
	struct sb_arena	 arena;
	const char	*status_path;
	int64_t		 status_ms;
	const char	*name;
	const char	*secret;
	const char	*router_addr;
	int		 router_port;
	int		 log_level;	/* not in the table: may change */
	int		 listens[2];	/* what a field cannot say: the process's own group */
};

static int kept;		/* keep_listens() calls */

static int
same_listens(const void *old, const void *conf)
{
	const struct conf *a = old, *b = conf;

	return memcmp(a->listens, b->listens, sizeof(a->listens)) == 0;
}

static void
keep_listens(const void *old, void *conf, struct sb_arena *arena)
{
	memcpy(((struct conf *)conf)->listens, ((const struct conf *)old)->listens,
	    sizeof(((struct conf *)conf)->listens));
	kept++;
}

static const struct sb_keep named_only[] = {
	SB_KEEP_FN("<domain>", same_listens, NULL),
};

static const struct sb_keep keep[] = {
	SB_KEEP_ROUTER(struct conf),
	SB_KEEP_FN("<listen>", same_listens, keep_listens),
	SB_KEEP_STATUS(struct conf),
};

/* The running configuration's strings, overwritten after a test to show none is shared. */
static char old_addr[32], old_name[32], old_secret[32], old_status[32];

static struct conf
running(void)
{
	strcpy(old_addr, "127.0.0.1");
	strcpy(old_name, "c2s1");
	strcpy(old_secret, "s3cret");
	strcpy(old_status, "/run/c2s.status");
	return (struct conf){ .status_path = old_status, .status_ms = 5000, .name = old_name,
	    .secret = old_secret, .router_addr = old_addr, .router_port = 5347, .log_level = 3,
	    .listens = { 5222, 5223 } };
}

/* A new configuration equal to the running one, with its own strings. */
static struct conf
loaded(void)
{
	struct conf c = { .status_path = "/run/c2s.status", .status_ms = 5000, .name = "c2s1",
	    .secret = "s3cret", .router_addr = "127.0.0.1", .router_port = 5347,
	    .log_level = 3, .listens = { 5222, 5223 } };

	sb_arena_init(&c.arena, 0);
	return c;
}

static void
keep_running(const struct conf *old, struct conf *conf, char *list, size_t size)
{
	list[0] = '\0';
	kept = 0;
	sb_keep_running(old, conf, &conf->arena, keep, SB_KEEP_N(keep), list, size);
}

static void
scribble_old(void)
{
	memset(old_addr, 'x', sizeof(old_addr) - 1);
	memset(old_name, 'x', sizeof(old_name) - 1);
	memset(old_secret, 'x', sizeof(old_secret) - 1);
	memset(old_status, 'x', sizeof(old_status) - 1);
}

static void
nothing_differs(void)
{
	struct conf old = running(), conf = loaded(), before = conf;
	char list[128];

	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "", "nothing differs: nothing is named");
	ok(conf.router_addr == before.router_addr && conf.router_port == before.router_port &&
	    conf.name == before.name && conf.secret == before.secret &&
	    conf.status_path == before.status_path && conf.status_ms == before.status_ms,
	    "nothing differs: conf keeps its own values");
	is_int((long long)sb_arena_size(&conf.arena), 0, "nothing differs: nothing allocated");
	is_int(kept, 0, "nothing differs: the process's own group is not kept");
	sb_arena_free(&conf.arena);
}

static void
one_string_differs(void)
{
	struct conf old = running(), conf = loaded();
	char list[128];

	conf.secret = "new secret";
	conf.log_level = 6;
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<router>", "a new router secret: <router> is named once");
	ok(conf.secret != old.secret && conf.router_addr != old.router_addr &&
	    conf.name != old.name, "the running strings are copies, not the old pointers");
	scribble_old();
	is_str(conf.secret, "s3cret", "conf gets the running secret");
	is_str(conf.name, "c2s1", "and the rest of the group: name");
	is_str(conf.router_addr, "127.0.0.1", "router address");
	is_int(conf.router_port, 5347, "router port");
	is_str(conf.status_path, "/run/c2s.status", "another group stays conf's own");
	is_int(conf.log_level, 6, "a field not in the table stays conf's own");
	sb_arena_free(&conf.arena);
}

static void
numbers_differ(void)
{
	struct conf old = running(), conf = loaded();
	char list[128];

	conf.router_port = 5348;
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<router>", "a new router port (int): <router> is named");
	is_int(conf.router_port, 5347, "conf gets the running port");
	sb_arena_free(&conf.arena);

	conf = loaded();
	conf.status_ms = 1000;
	conf.status_path = "/run/other.status";
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<status>", "a new status interval (int64_t): <status> is named");
	is_int(conf.status_ms, 5000, "conf gets the running interval");
	is_str(conf.status_path, "/run/c2s.status", "and the running status file");
	sb_arena_free(&conf.arena);
}

static void
two_groups(void)
{
	struct conf old = running(), conf = loaded();
	char list[128];

	conf.router_addr = "10.0.0.1";
	conf.name = "c2s2";
	conf.status_ms = 1000;
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<router>, <status>", "two groups: each named once, in table order");
	scribble_old();
	is_str(conf.router_addr, "127.0.0.1", "conf gets the running router address");
	is_str(conf.name, "c2s1", "and name");
	is_int(conf.status_ms, 5000, "and status interval");
	sb_arena_free(&conf.arena);
}

static void
null_strings(void)
{
	struct conf old = running(), conf = loaded();
	char list[128];

	old.status_path = NULL;
	conf.status_path = NULL;
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "", "NULL on both sides is the same");

	conf.status_path = "/run/c2s.status";
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<status>", "NULL running, a string new: <status> is named");
	ok(conf.status_path == NULL, "conf gets NULL");

	old = running();
	conf.status_path = NULL;
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<status>", "a string running, NULL new: <status> is named");
	ok(conf.status_path != NULL && conf.status_path != old.status_path,
	    "conf gets a copy of the running string");
	scribble_old();
	is_str(conf.status_path, "/run/c2s.status", "with its value");
	sb_arena_free(&conf.arena);
}

static void
own_group(void)
{
	struct conf old = running(), conf = loaded();
	char list[128];

	conf.listens[1] = 5224;
	conf.status_ms = 1000;
	conf.secret = "new secret";
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<router>, <listen>, <status>",
	    "the process's own group is named in table order");
	is_int(kept, 1, "its keep function ran once");
	is_int(conf.listens[1], 5223, "and conf has the running value");
	sb_arena_free(&conf.arena);

	conf = loaded();
	conf.listens[0] = 1;
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<listen>", "the process's own group alone");
	is_int(kept, 1, "kept");

	/* sm's domains: named here, moved by the process itself. */
	conf.listens[0] = 1;
	list[0] = '\0';
	kept = 0;
	sb_keep_running(&old, &conf, &conf.arena, named_only, SB_KEEP_N(named_only), list,
	    sizeof(list));
	is_str(list, "<domain>", "a group without a keep function is named");
	is_int(conf.listens[0], 1, "and conf is left as it is");
	sb_arena_free(&conf.arena);
}

static void
short_list(void)
{
	struct conf old = running(), conf = loaded();
	char list[12];

	conf.router_port = 1;
	conf.listens[0] = 1;
	conf.status_ms = 1;
	keep_running(&old, &conf, list, sizeof(list));
	is_str(list, "<router>, <", "a list too short is cut, never overrun");
	is_int(conf.status_ms, 5000, "and every group is still kept");
	sb_arena_free(&conf.arena);
}

int
main(void)
{
	nothing_differs();
	one_string_differs();
	numbers_differ();
	two_groups();
	null_strings();
	own_group();
	short_list();
	return done_testing();
}
