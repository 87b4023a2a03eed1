/*
 * timer.c: timers over uv_timer_t, deadlines and posted work (see timer.h).
 *
 * Deadlines live in per-loop lists, one per (length, callback) pair, each
 * in start order, so the head of a list is the next to expire in it. One
 * uv_timer per loop is armed for the earliest head; restarting a deadline
 * only moves it to the tail of its list and never touches the timer (a
 * timer that fires early finds nothing due and re-arms itself).
 *
 * Posted work is an array of (entry, callback) run by one uv_prepare per
 * loop; an entry knows its index, so cancelling is a swap with the last.
 */
#include <stdlib.h>

#include "timer.h"
#include "xmalloc.h"

struct sb_timer {
	uv_timer_t	 uv;	/* first: a handle pointer is the timer */
	sb_timer_cb	*cb;
	void		*arg;
	unsigned	 once:1;
};

struct dl_list {
	uint32_t		 ms;
	sb_deadline_cb		*cb;
	struct sb_deadline	*head, *tail;
};

struct posted {
	struct sb_post		*p;
	sb_post_cb		*cb;
};

/* What a loop needs for deadlines and posted work. */
struct per_loop {
	struct per_loop		*next;
	uv_loop_t		*loop;
	uv_timer_t		 timer;
	uint64_t		 due;	/* when the timer fires; 0 when idle */
	struct dl_list		*lists;
	uint32_t		 nlists;
	uv_prepare_t		 prepare;
	struct posted		*posts;
	uint32_t		 nposts, posts_cap;
	int			 open_handles;
};

static struct per_loop *per_loops;
/* uv handle data of our timers: tells them apart in uv_walk(). */
static const char timer_tag;

static void
on_fire(uv_timer_t *h)
{
	struct sb_timer *t = (struct sb_timer *)h;

	t->cb(t, t->arg);
	if (t->once)
		sb_timer_free(t);
}

struct sb_timer *
sb_timer_new(uv_loop_t *loop, sb_timer_cb *cb, void *arg)
{
	struct sb_timer *t = xcalloc(1, sizeof(*t));

	uv_timer_init(loop, &t->uv);
	t->uv.data = (void *)&timer_tag;
	t->cb = cb;
	t->arg = arg;
	return t;
}

void
sb_timer_start(struct sb_timer *t, uint64_t ms, uint64_t repeat_ms)
{
	if (!uv_is_closing((uv_handle_t *)&t->uv))
		uv_timer_start(&t->uv, on_fire, ms, repeat_ms);
}

void
sb_timer_stop(struct sb_timer *t)
{
	uv_timer_stop(&t->uv);
}

int
sb_timer_pending(const struct sb_timer *t)
{
	return uv_is_active((const uv_handle_t *)&t->uv);
}

static void
on_close(uv_handle_t *h)
{
	free(h);
}

void
sb_timer_free(struct sb_timer *t)
{
	if (uv_is_closing((uv_handle_t *)&t->uv))
		return;		/* a once-timer freed inside its callback */
	uv_close((uv_handle_t *)&t->uv, on_close);
}

struct sb_timer *
sb_timer_once(uv_loop_t *loop, uint64_t ms, sb_timer_cb *cb, void *arg)
{
	struct sb_timer *t = sb_timer_new(loop, cb, arg);

	t->once = 1;
	sb_timer_start(t, ms, 0);
	return t;
}

struct sb_timer *
sb_timer_every(uv_loop_t *loop, uint64_t ms, sb_timer_cb *cb, void *arg)
{
	struct sb_timer *t = sb_timer_new(loop, cb, arg);

	sb_timer_start(t, ms, ms);
	return t;
}

/* --- deadlines --- */

static struct per_loop *
loop_find(const uv_loop_t *loop)
{
	struct per_loop *dl;

	for (dl = per_loops; dl != NULL && dl->loop != loop; dl = dl->next)
		;
	return dl;
}

static struct per_loop *
loop_get(uv_loop_t *loop)
{
	struct per_loop *dl = loop_find(loop);

	if (dl != NULL)
		return dl;
	dl = xcalloc(1, sizeof(*dl));
	dl->loop = loop;
	uv_timer_init(loop, &dl->timer);
	uv_prepare_init(loop, &dl->prepare);
	dl->timer.data = dl;
	dl->prepare.data = dl;
	dl->open_handles = 2;
	dl->next = per_loops;
	per_loops = dl;
	return dl;
}

static void	 on_deadlines(uv_timer_t *);

static void
dl_arm(struct per_loop *dl, uint64_t due)
{
	uint64_t now = uv_now(dl->loop);

	if (dl->due != 0 && dl->due <= due)
		return;
	dl->due = due;
	uv_timer_start(&dl->timer, on_deadlines, due > now ? due - now : 0, 0);
}

static void
dl_unlink(struct dl_list *l, struct sb_deadline *d)
{
	if (d->prev != NULL)
		d->prev->next = d->next;
	else
		l->head = d->next;
	if (d->next != NULL)
		d->next->prev = d->prev;
	else
		l->tail = d->prev;
	d->prev = d->next = NULL;
}

static void
dl_append(struct dl_list *l, struct sb_deadline *d, uint64_t now)
{
	d->start = now;
	d->prev = l->tail;
	d->next = NULL;
	if (l->tail != NULL)
		l->tail->next = d;
	else
		l->head = d;
	l->tail = d;
}

void
sb_deadline_stop(uv_loop_t *loop, struct sb_deadline *d)
{
	struct per_loop *dl;

	if (d->list == 0 || (dl = loop_find(loop)) == NULL)
		return;
	dl_unlink(&dl->lists[d->list - 1], d);
	d->list = 0;
}

void
sb_deadline_start(uv_loop_t *loop, struct sb_deadline *d, uint32_t ms, sb_deadline_cb *cb)
{
	struct per_loop *dl = loop_get(loop);
	uint32_t i;

	sb_deadline_stop(loop, d);
	for (i = 0; i < dl->nlists; i++)
		if (dl->lists[i].ms == ms && dl->lists[i].cb == cb)
			break;
	if (i == dl->nlists) {
		dl->lists = xrealloc(dl->lists, (i + 1) * sizeof(*dl->lists));
		dl->lists[i] = (struct dl_list){ ms, cb, NULL, NULL };
		dl->nlists++;
	}
	d->list = i + 1;
	dl_append(&dl->lists[i], d, uv_now(loop));
	dl_arm(dl, d->start + ms);
}

void
sb_deadline_touch(uv_loop_t *loop, struct sb_deadline *d)
{
	struct dl_list *l;
	struct per_loop *dl;

	if (d->list == 0 || (dl = loop_find(loop)) == NULL)
		return;
	l = &dl->lists[d->list - 1];
	if (l->tail == d) {
		d->start = uv_now(loop);	/* already last in start order */
		return;
	}
	dl_unlink(l, d);
	dl_append(l, d, uv_now(loop));
}

static void
on_deadlines(uv_timer_t *h)
{
	struct per_loop *dl = h->data;
	uint64_t now = uv_now(dl->loop), due = 0;
	struct sb_deadline *d;
	uint32_t i;

	dl->due = 0;
	for (i = 0; i < dl->nlists; i++) {
		/* Index each time: a callback may add lists (realloc). */
		while ((d = dl->lists[i].head) != NULL && d->start + dl->lists[i].ms <= now) {
			dl_unlink(&dl->lists[i], d);
			d->list = 0;
			dl->lists[i].cb(d);
		}
	}
	for (i = 0; i < dl->nlists; i++) {
		d = dl->lists[i].head;
		if (d != NULL && (due == 0 || d->start + dl->lists[i].ms < due))
			due = d->start + dl->lists[i].ms;
	}
	if (due != 0)
		dl_arm(dl, due);
}

/* --- posted work --- */

static void
on_prepare(uv_prepare_t *h)
{
	struct per_loop *dl = h->data;
	struct posted e;

	/* Callbacks may post more (or the same entry again): run until empty. */
	while (dl->nposts > 0) {
		e = dl->posts[--dl->nposts];
		e.p->index = 0;
		e.cb(e.p);
	}
	uv_prepare_stop(&dl->prepare);
}

void
sb_post(uv_loop_t *loop, struct sb_post *p, sb_post_cb *cb)
{
	struct per_loop *dl;

	if (p->index != 0)
		return;
	dl = loop_get(loop);
	if (dl->nposts == dl->posts_cap) {
		dl->posts_cap = dl->posts_cap ? dl->posts_cap * 2 : 64;
		dl->posts = xrealloc(dl->posts, dl->posts_cap * sizeof(*dl->posts));
	}
	dl->posts[dl->nposts++] = (struct posted){ p, cb };
	p->index = dl->nposts;
	if (dl->nposts == 1)
		uv_prepare_start(&dl->prepare, on_prepare);
}

void
sb_post_cancel(uv_loop_t *loop, struct sb_post *p)
{
	struct per_loop *dl;
	struct posted last;

	if (p->index == 0 || (dl = loop_find(loop)) == NULL)
		return;
	last = dl->posts[--dl->nposts];
	if (last.p != p) {
		dl->posts[p->index - 1] = last;
		last.p->index = p->index;
	}
	p->index = 0;
}

static void
dl_closed(uv_handle_t *h)
{
	struct per_loop *dl = h->data;

	if (--dl->open_handles > 0)
		return;
	free(dl->lists);
	free(dl->posts);
	free(dl);
}

static void
close_walk(uv_handle_t *h, void *arg)
{
	if (h->data == &timer_tag)
		sb_timer_free((struct sb_timer *)h);
}

void
sb_timer_close_all(uv_loop_t *loop)
{
	struct per_loop *dl, **pp;

	uv_walk(loop, close_walk, NULL);
	for (pp = &per_loops; (dl = *pp) != NULL; pp = &dl->next) {
		if (dl->loop == loop) {
			*pp = dl->next;
			uv_close((uv_handle_t *)&dl->timer, dl_closed);
			uv_close((uv_handle_t *)&dl->prepare, dl_closed);
			break;
		}
	}
}
