/*
 * reload.h: the settings a running process cannot change on SIGHUP.
 *
 * A process that reloads its configuration names the fields that only a
 * restart can change (the router link, the status file, ...) in a table of
 * groups: entries with the same 'what' ("<router>") standing together.
 * sb_keep_running() gives the new configuration the running values of
 * every group that changed and names the group in a list, for the one
 * warning "reload: changes to <router>, <listen> take effect at the next
 * start". What a field cannot say (arrays of listeners or domains) is a
 * group of one entry with the process's own functions.
 */
#ifndef SB_RELOAD_H
#define SB_RELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "arena.h"

enum sb_keep_type {
	SB_KEEP_STR,		/* const char *, NULL allowed */
	SB_KEEP_INT,		/* int */
	SB_KEEP_I64,		/* int64_t */
	SB_KEEP_FN,		/* the process compares and keeps */
};

struct sb_keep {
	const char		*what;	/* the group's name in the warning: "<router>" */
	enum sb_keep_type	 type;
	size_t			 off;	/* offsetof the field in the configuration */
	/* SB_KEEP_FN, a group of its own: 1 when old and conf agree ... */
	int			(*same)(const void *old, const void *conf);
	/* ... and, when they do not, conf gets old's values (NULL: named only). */
	void			(*keep)(const void *old, void *conf, struct sb_arena *arena);
};

/* A field: its type picks the kind; a type not listed does not compile. */
#define SB_KEEP(what_, st, member)						\
	{ .what = (what_), .type = _Generic(((st *)0)->member,			\
	    const char *: SB_KEEP_STR, int: SB_KEEP_INT, int64_t: SB_KEEP_I64),	\
	  .off = offsetof(st, member) }
#define SB_KEEP_FN(what_, same_, keep_)						\
	{ .what = (what_), .type = SB_KEEP_FN, .same = (same_), .keep = (keep_) }

/* Every process's <router> link and <status> file, under the same field names. */
#define SB_KEEP_ROUTER(st)							\
	SB_KEEP("<router>", st, router_addr), SB_KEEP("<router>", st, router_port), \
	SB_KEEP("<router>", st, name), SB_KEEP("<router>", st, secret)
#define SB_KEEP_STATUS(st)							\
	SB_KEEP("<status>", st, status_path), SB_KEEP("<status>", st, status_ms)

#define SB_KEEP_N(table)	(sizeof(table) / sizeof((table)[0]))

/*
 * For each group of keep[0..n) in which conf differs from old: every field
 * of the group in conf gets old's value (strings copied into arena, conf's
 * own memory; SB_KEEP_FN: its keep function), and the group's what is
 * added to list (size bytes, NUL-terminated, ", " between names), in table
 * order. Groups that are the same are left as they are.
 */
void	 sb_keep_running(const void *old, void *conf, struct sb_arena *arena,
	     const struct sb_keep *keep, size_t n, char *list, size_t size);
/* Strings equal, or both NULL. */
int	 sb_keep_same_str(const char *a, const char *b);

#endif
