/*
 * reload.c: the restart-only settings of a reloaded configuration keep
 * their running values (reload.h). The tables say where the fields are;
 * here they are compared and copied by type.
 */
#include <stdio.h>
#include <string.h>

#include "reload.h"

int
sb_keep_same_str(const char *a, const char *b)
{
	return a == b || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* Append what to the list of settings that wait for a restart. */
static void
note(char *list, size_t size, const char *what)
{
	size_t len = strlen(list);

	snprintf(list + len, size - len, "%s%s", len > 0 ? ", " : "", what);
}

static int
same_field(const void *old, const void *conf, const struct sb_keep *k)
{
	const char *a = (const char *)old + k->off, *b = (const char *)conf + k->off;

	switch (k->type) {
	case SB_KEEP_STR:
		return sb_keep_same_str(*(const char *const *)a, *(const char *const *)b);
	case SB_KEEP_INT:
		return *(const int *)a == *(const int *)b;
	case SB_KEEP_I64:
		return *(const int64_t *)a == *(const int64_t *)b;
	case SB_KEEP_FN:
		return k->same(old, conf);
	}
	return 0;
}

static void
keep_field(const void *old, void *conf, struct sb_arena *arena, const struct sb_keep *k)
{
	const char *from = (const char *)old + k->off, *s;
	char *to = (char *)conf + k->off;

	switch (k->type) {
	case SB_KEEP_STR:
		s = *(const char *const *)from;
		*(const char **)to = s != NULL ? sb_arena_strdup(arena, s) : NULL;
		break;
	case SB_KEEP_INT:
		*(int *)to = *(const int *)from;
		break;
	case SB_KEEP_I64:
		*(int64_t *)to = *(const int64_t *)from;
		break;
	case SB_KEEP_FN:
		if (k->keep != NULL)
			k->keep(old, conf, arena);
		break;
	}
}

/* Where the group that starts at keep[i] ends: fields of one what, or one SB_KEEP_FN. */
static size_t
group_end(const struct sb_keep *keep, size_t n, size_t i)
{
	size_t end = i + 1;

	if (keep[i].type == SB_KEEP_FN)
		return end;
	while (end < n && keep[end].type != SB_KEEP_FN &&
	    strcmp(keep[end].what, keep[i].what) == 0)
		end++;
	return end;
}

void
sb_keep_running(const void *old, void *conf, struct sb_arena *arena,
    const struct sb_keep *keep, size_t n, char *list, size_t size)
{
	size_t i, j, end;

	for (i = 0; i < n; i = end) {
		end = group_end(keep, n, i);
		for (j = i; j < end && same_field(old, conf, &keep[j]); j++)
			;
		if (j == end)
			continue;
		note(list, size, keep[i].what);
		for (j = i; j < end; j++)
			keep_field(old, conf, arena, &keep[j]);
	}
}
