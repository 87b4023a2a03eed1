/*
 * users.c: the users sm holds in memory, their loading, and their job
 * queues (the work model is described at the top of sm.h).
 *
 * A user is created by the first stanza or command for a local bare JID
 * and loaded at once: USER_LOAD here and each module's user_load hook
 * (roster, pending subscription requests), all in flight together. Jobs
 * that arrive meanwhile wait in the user's FIFO. When the user can run
 * (loaded, no job suspended, not already running), a stanza is handled at
 * once from the caller's stack and nothing is copied; otherwise a job is
 * made with its own arena and a copy of the tree, and runs later from the
 * ready list, which sm_run_ready() drains after each event.
 *
 * A user with no session and no work left stays loaded for
 * <user-idle/> (so presence and messages to offline users do not reload the
 * roster each time) and is then freed. A user whose account does not exist
 * or whose load failed is freed as soon as its queue is empty, so an
 * account created a moment later (sbctl, registration) is seen at once.
 */
#include <stdlib.h>
#include <string.h>

#include "complink.h"
#include "sm.h"
#include "xmalloc.h"

struct sm_job {
	struct sm_job		*next;
	struct sm_stanza	 s;
	struct sb_arena		 arena;
	int			 holds;		/* sm_suspend() calls not yet resumed */
};

static void	user_idle_expired(struct sb_deadline *d);

/* --- the table --- */

struct sm_user *
sm_user_find(struct sm *sm, const char *bare, size_t len)
{
	struct sb_hmap_node *n = sb_hmap_find(&sm->users, bare, len);

	return n != NULL ? SB_HMAP_ENTRY(n, struct sm_user, hn) : NULL;
}

static void
load_done(const struct sb_store_result *r, void *arg)
{
	struct sm_user *u = arg;

	if (r->err == SB_STORE_OK) {
		if (r->nrows == 0) {
			u->state = SM_USER_NONE;
		} else {
			u->account_id = sb_store_int(r, 0, 0);
			u->roster_version = sb_store_int(r, 0, 1);
			u->disabled = sb_store_int(r, 0, 2) != 0;
			u->offline_count = sb_store_int(r, 0, 3);
		}
	}
	sm_user_loaded(u, r->err);
	sm_run_ready(u->sm);
}

struct sm_user *
sm_user_get(struct sm *sm, const struct sb_jid *bare)
{
	size_t blen = sb_jid_bare_len(bare), llen, dlen;
	struct sm_user *u;
	const char *dom;
	struct sb_db_value p[2];

	if ((u = sm_user_find(sm, bare->str, blen)) != NULL)
		return u;
	u = xcalloc(1, sizeof(*u));
	u->sm = sm;
	u->bare = xstrndup(bare->str, blen);
	u->jid = *bare;
	u->jid.str = u->bare;
	u->jid.len = (uint16_t)blen;
	u->jid.resource_len = 0;
	sb_jid_local(&u->jid, &llen);
	u->local = xstrndup(u->bare, llen);
	dom = sb_jid_domain(&u->jid, &dlen);
	u->domain = sm_conf_domain(sm->conf, dom, dlen);
	u->state = SM_USER_LOADING;
	sb_hmap_init(&u->roster.items);
	sb_hmap_insert(&sm->users, &u->hn, u->bare, blen);

	/* Every load query goes out now; the user is ready when all are back. */
	u->loads = 1;
	for (size_t i = 0; i < sm_nmodules; i++)
		if (sm_modules[i]->user_load != NULL)
			u->loads++;
	p[0] = sb_db_text(u->domain->name);
	p[1] = sb_db_text(u->local);
	sb_store_query(sm->store, SB_Q_USER_LOAD, p, load_done, u);
	for (size_t i = 0; i < sm_nmodules; i++)
		if (sm_modules[i]->user_load != NULL)
			sm_modules[i]->user_load(u);
	return u;
}

static void
ready_push(struct sm_user *u)
{
	struct sm *sm = u->sm;

	if (u->on_ready || u->jobs == NULL || u->waiting != NULL || u->running ||
	    u->state == SM_USER_LOADING)
		return;
	u->on_ready = 1;
	u->ready_next = NULL;
	if (sm->ready_tail != NULL)
		sm->ready_tail->ready_next = u;
	else
		sm->ready = u;
	sm->ready_tail = u;
}

void
sm_user_loaded(struct sm_user *u, enum sb_store_err err)
{
	if (err != SB_STORE_OK && u->load_err == SB_STORE_OK)
		u->load_err = err;
	if (--u->loads > 0)
		return;
	if (u->load_err != SB_STORE_OK) {
		log_warn("user %s: loading failed (%s): its stanzas get errors",
		    u->bare, sb_store_err_name(u->load_err));
		u->state = SM_USER_FAILED;
	} else if (u->state == SM_USER_LOADING) {
		u->state = SM_USER_READY;
	}
	if (u->state != SM_USER_READY)
		sm_roster_free(&u->roster);
	ready_push(u);
	sm_user_idle_check(u);
}

void
sm_user_ref(struct sm_user *u)
{
	u->refs++;
}

void
sm_user_unref(struct sm_user *u)
{
	if (--u->refs == 0)
		sm_user_idle_check(u);
}

static int
user_busy(const struct sm_user *u)
{
	return u->nsessions > 0 || u->jobs != NULL || u->waiting != NULL || u->running ||
	    u->loads > 0 || u->refs > 0 || u->on_ready;
}

void
sm_user_idle_check(struct sm_user *u)
{
	struct sm *sm = u->sm;
	int64_t ms;

	if (sm->stopping)
		return;		/* the loop's timers are closed: everything goes at exit */
	if (user_busy(u)) {
		sb_deadline_stop(sm->loop, &u->idle);
		return;
	}
	/* Unknown and failed users go at once, so a retry loads them again. */
	ms = u->state == SM_USER_READY && !u->deleted && !u->evict ? sm->conf->user_idle_ms : 0;
	sb_deadline_start(sm->loop, &u->idle, ms > 0 ? (uint32_t)ms : 1, user_idle_expired);
}

static void
user_free(struct sm_user *u)
{
	struct sm *sm = u->sm;

	sb_deadline_stop(sm->loop, &u->idle);
	for (size_t i = 0; i < sm_nmodules; i++)
		if (sm_modules[i]->user_free != NULL)
			sm_modules[i]->user_free(u);
	sm_roster_free(&u->roster);
	sb_hmap_free(&u->roster.items);
	sb_hmap_remove(&sm->users, &u->hn);
	free((char *)u->local);
	free(u->bare);
	free(u);
}

static void
user_idle_expired(struct sb_deadline *d)
{
	struct sm_user *u = (struct sm_user *)(void *)((char *)d - offsetof(struct sm_user, idle));

	if (!user_busy(u))
		user_free(u);
}

/* --- jobs --- */

static void
job_free(struct sm_job *j)
{
	sb_arena_free(&j->arena);
	free(j);
}

/* A job holding s, with the tree in the job's arena (adopted or copied). */
static struct sm_job *
job_make(struct sm_stanza *s)
{
	struct sm_job *j = xcalloc(1, sizeof(*j));
	int copy = 0;

	switch (s->arena_kind) {
	case SM_ARENA_OWNED:
		j->arena = *s->arena;
		sb_arena_init(s->arena, 0);
		break;
	default:
		sb_arena_init(&j->arena, 0);
		copy = 1;
		break;
	}
	j->s = *s;
	j->s.arena = &j->arena;
	j->s.arena_kind = SM_ARENA_JOB;
	j->s.job = j;
	if (copy) {
		j->s.st = sb_xml_copy(&j->arena, s->st);
		j->s.type = sb_stanza_type(j->s.st);
	}
	/* The JIDs may point into a caller's buffers: give them to the job. */
	if (s->from.len > 0)
		sb_jid_copy_arena(&j->s.from, &j->arena, &s->from);
	if (s->to.len > 0)
		sb_jid_copy_arena(&j->s.to, &j->arena, &s->to);
	if (s->c2s != NULL)
		j->s.c2s = sb_arena_strdup(&j->arena, s->c2s);
	if (s->sid != NULL)
		j->s.sid = sb_arena_strdup(&j->arena, s->sid);
	return j;
}

struct sm_stanza *
sm_suspend(struct sm_stanza *s)
{
	struct sm_job *j = s->job;

	if (j == NULL) {
		j = job_make(s);
		s->job = j;	/* a second suspend of the caller's copy finds it */
	}
	j->holds++;
	if (s->user != NULL)
		s->user->waiting = j;
	return &j->s;
}

void
sm_resume(struct sm_stanza *s)
{
	struct sm_job *j = s->job;
	struct sm_user *u = s->user;
	struct sm *sm = s->sm;		/* s is the job's: gone with it */

	if (--j->holds > 0)
		return;
	if (u != NULL && u->waiting == j)
		u->waiting = NULL;
	job_free(j);
	if (u != NULL) {
		ready_push(u);
		sm_user_idle_check(u);
	}
	sm_run_ready(sm);
}

/* Run one stanza against its user. */
static void
run(struct sm_user *u, struct sm_stanza *s)
{
	u->running = 1;
	s->user->sm->n_in++;
	sm_dispatch(s);
	u->running = 0;
}

void
sm_submit(struct sm_user *u, struct sm_stanza *s)
{
	struct sm_job *j;

	s->user = u;
	if (u->state != SM_USER_LOADING && u->jobs == NULL && u->waiting == NULL && !u->running) {
		run(u, s);
		ready_push(u);
		sm_user_idle_check(u);
		return;
	}
	if (u->njobs >= s->sm->conf->queue_max && s->dir != SM_CMD) {
		log_warn("user %s: %d stanzas waiting: <%s/> from %s refused", u->bare, u->njobs,
		    s->st->e.name, s->from.len ? s->from.str : "-");
		sm_reply_error(s, SB_SERR_RESOURCE_CONSTRAINT, "too many stanzas waiting");
		return;
	}
	j = job_make(s);
	if (u->jobs_tail != NULL)
		u->jobs_tail->next = j;
	else
		u->jobs = j;
	u->jobs_tail = j;
	u->njobs++;
	sb_deadline_stop(s->sm->loop, &u->idle);
	ready_push(u);
}

void
sm_command_init(struct sm_stanza *s, struct sm *sm, struct sb_arena *a, const char *c2s,
    const char *sid, const char *action, const char *condition)
{
	*s = (struct sm_stanza){
		.sm = sm,
		.dir = SM_CMD,
		.arena = a,
		.arena_kind = SM_ARENA_OWNED,
		.type = "",
		.c2s = c2s,
		.sid = sid,
		.internal = 1,
	};
	s->st = sb_xml_new(a, SB_NS_SESSION, "session");
	sb_xml_set_attr(a, s->st, "action", action);
	sb_xml_set_attr(a, s->st, "sid", sid);
	if (condition != NULL)
		sb_xml_set_attr(a, s->st, "condition", condition);
}

void
sm_submit_internal(struct sm_user *u, const char *c2s, const char *sid, const char *action,
    const char *condition)
{
	struct sb_arena a;
	struct sm_stanza s;

	sb_arena_init(&a, 0);
	sm_command_init(&s, u->sm, &a, c2s, sid, action, condition);
	sm_submit(u, &s);
	sb_arena_free(&a);
}

/* Run the next job of u; 0 when u cannot run one now. */
static int
run_next(struct sm_user *u)
{
	struct sm_job *j = u->jobs;

	if (j == NULL || u->waiting != NULL || u->running || u->state == SM_USER_LOADING)
		return 0;
	u->jobs = j->next;
	if (u->jobs == NULL)
		u->jobs_tail = NULL;
	u->njobs--;
	j->next = NULL;
	j->s.user = u;
	if (j->s.dir != SM_IN && j->s.c2s != NULL && j->s.sid != NULL)
		j->s.sess = sm_session_find(u->sm, j->s.c2s, j->s.sid);
	run(u, &j->s);
	if (j->holds == 0)
		job_free(j);
	return 1;
}

void
sm_run_ready(struct sm *sm)
{
	struct sm_user *u;

	if (sm->draining)
		return;
	sm->draining = 1;
	while ((u = sm->ready) != NULL) {
		sm->ready = u->ready_next;
		if (sm->ready == NULL)
			sm->ready_tail = NULL;
		u->on_ready = 0;
		/* A few jobs per turn, so one busy user cannot starve the others. */
		for (int n = 0; n < 16 && run_next(u); n++)
			;
		ready_push(u);
		sm_user_idle_check(u);
	}
	sm->draining = 0;
}

/* --- shards --- */

static int
rehome_one(struct sb_hmap_node *n, void *arg)
{
	struct sm_user *u = SB_HMAP_ENTRY(n, struct sm_user, hn);
	struct sm *sm = arg;

	if (u->domain == NULL || sm_owns(sm, u->domain, u->bare, strlen(u->bare)))
		return 0;
	/*
	 * The router now sends this user's stanzas to another shard: end
	 * the sessions here (their clients log in again and land there),
	 * and let the cached state go, since the other shard may change it.
	 */
	for (struct sm_session *s = u->sessions, *next; s != NULL; s = next) {
		next = s->next;		/* the kick may run (and free s) at once */
		sm_submit_internal(u, s->c2s, s->sid, "kick", "reset");
	}
	u->evict = 1;		/* not kept for user-idle once its work is done */
	sm_user_idle_check(u);
	return 0;
}

void
sm_users_rehome(struct sm *sm)
{
	sb_hmap_each(&sm->users, rehome_one, sm);
	sm_run_ready(sm);
}

static int
free_one(struct sb_hmap_node *n, void *arg)
{
	struct sm_user *u = SB_HMAP_ENTRY(n, struct sm_user, hn);
	struct sm_job *j, *next;

	for (j = u->jobs; j != NULL; j = next) {
		next = j->next;
		job_free(j);
	}
	u->jobs = NULL;
	while (u->sessions != NULL) {
		struct sm_session *s = u->sessions;

		u->sessions = s->next;
		sb_hmap_remove(&u->sm->sessions, &s->hn);
		sb_arena_free(&s->pres_arena);
		sb_arena_free(&s->arena);
		free(s);
	}
	user_free(u);
	return 0;
}

void
sm_users_free(struct sm *sm)
{
	sb_hmap_each(&sm->users, free_one, sm);
	sm->ready = sm->ready_tail = NULL;
}
