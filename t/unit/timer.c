/*
 * timer.c: tests for lib/timer.c (timers, deadlines, posted work) and
 * lib/signals.c.
 *
 * Delays are a few milliseconds; the checks count callbacks, never time.
 * Signals are sent with raise(), which libuv turns into a loop callback.
 */
#include <signal.h>
#include <string.h>

#include "conn.h"
#include "signals.h"
#include "tap.h"
#include "timer.h"

static uv_loop_t uvloop, *loop = &uvloop;
static int once_fired, repeat_fired, cancelled_fired, self_freed, restarted;
static int signals_seen[NSIG], last_signum;
static struct sb_timer *repeat_t;

static void
count_cb(struct sb_timer *t, void *arg)
{
	(*(int *)arg)++;
}

static void
repeat_cb(struct sb_timer *t, void *arg)
{
	if (++repeat_fired == 3)
		sb_timer_free(t);	/* inside its own callback */
}

/* A reusable timer restarted from its own callback, then freed. */
static void
restart_cb(struct sb_timer *t, void *arg)
{
	if (++restarted < 2)
		sb_timer_start(t, 1, 0);
	else
		sb_timer_free(t);
}

/* A one-shot freed in its own callback: the layer must not free it twice. */
static void
self_free_cb(struct sb_timer *t, void *arg)
{
	self_freed++;
	sb_timer_free(t);
}

static void
test_timers(void)
{
	struct sb_timer *t, *stopped;
	int stopped_fired = 0;

	sb_timer_once(loop, 1, count_cb, &once_fired);
	repeat_t = sb_timer_every(loop, 1, repeat_cb, NULL);
	t = sb_timer_once(loop, 2, count_cb, &cancelled_fired);
	ok(sb_timer_pending(t), "a started timer is pending");
	sb_timer_free(t);		/* cancel before it fires */
	stopped = sb_timer_new(loop, count_cb, &stopped_fired);
	sb_timer_start(stopped, 1, 0);
	sb_timer_stop(stopped);
	ok(!sb_timer_pending(stopped), "a stopped timer is not pending");
	sb_timer_once(loop, 1, self_free_cb, NULL);
	t = sb_timer_new(loop, restart_cb, NULL);
	sb_timer_start(t, 1, 0);
	/* With no other handles the loop runs until every timer is done. */
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(once_fired, 1, "one-shot fires once");
	is_int(repeat_fired, 3, "repeating timer fires until freed in its callback");
	is_int(cancelled_fired, 0, "a cancelled timer never fires");
	is_int(stopped_fired, 0, "a stopped timer never fires");
	is_int(self_freed, 1, "a one-shot may free itself in its callback");
	is_int(restarted, 2, "a timer restarted from its callback fires again");
	sb_timer_free(stopped);
}

/* --- deadlines --- */

static struct sb_deadline dl_a, dl_b, dl_c, dl_again;
static int dl_order[8], dl_n, again_fired;

static void
dl_cb(struct sb_deadline *d)
{
	if (dl_n < 8)
		dl_order[dl_n++] = d == &dl_a ? 'a' : d == &dl_b ? 'b' : 'c';
}

static void
dl_again_cb(struct sb_deadline *d)
{
	ok(d->list == 0, "a deadline is stopped when its callback runs");
	if (++again_fired < 2)
		sb_deadline_start(loop, d, 1, dl_again_cb);
}

static void
test_deadlines(void)
{
	sb_deadline_start(loop, &dl_a, 5, dl_cb);
	sb_deadline_start(loop, &dl_b, 5, dl_cb);
	sb_deadline_start(loop, &dl_c, 10, dl_cb);
	sb_deadline_touch(loop, &dl_a);		/* counts from now: still fires */
	sb_deadline_stop(loop, &dl_b);
	sb_deadline_start(loop, &dl_again, 1, dl_again_cb);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(dl_n, 2, "two of three deadlines fired (one was stopped)");
	ok(dl_order[0] == 'a' && dl_order[1] == 'c', "shorter deadline first, stopped one never");
	is_int(again_fired, 2, "a deadline restarted from its callback fires again");
}

/* --- posted work --- */

static struct sb_post post_a, post_b, post_c;
static int post_a_runs, post_b_runs, post_c_runs;

static void
post_cb(struct sb_post *p)
{
	if (p == &post_a) {
		post_a_runs++;
		sb_post(loop, &post_c, post_cb);	/* runs in the same pass */
	} else if (p == &post_b) {
		post_b_runs++;
	} else {
		post_c_runs++;
	}
}

static void
test_posts(void)
{
	for (int i = 0; i < 3; i++)
		sb_post(loop, &post_a, post_cb);
	sb_post(loop, &post_b, post_cb);
	sb_post_cancel(loop, &post_b);
	uv_run(loop, UV_RUN_NOWAIT);
	is_int(post_a_runs, 1, "posted three times in one iteration, run once");
	is_int(post_b_runs, 0, "a cancelled post never runs");
	is_int(post_c_runs, 1, "work posted by posted work runs in the same pass");
}

static void
signal_cb(struct sb_signal *s, int signum, void *arg)
{
	signals_seen[signum]++;
	last_signum = signum;
	if (arg != NULL)
		sb_timer_free(arg);	/* the guard: nothing else keeps the loop */
}

static void
test_signals(void)
{
	struct sigaction sa;
	struct sb_signal *s;
	struct sb_timer *guard;
	int guard_fired = 0;

	ok(sb_signals_init(loop, signal_cb, NULL) == 0, "standard signal handlers installed");
	sigaction(SIGPIPE, NULL, &sa);
	ok(sa.sa_handler == SIG_IGN, "SIGPIPE is ignored");

	raise(SIGHUP);
	guard = sb_timer_once(loop, 5000, count_cb, &guard_fired);
	while (!signals_seen[SIGHUP] && !guard_fired)
		uv_run(loop, UV_RUN_ONCE);
	is_int(signals_seen[SIGHUP], 1, "SIGHUP delivered to the handler from the loop");
	if (!guard_fired)
		sb_timer_free(guard);

	guard = sb_timer_once(loop, 5000, count_cb, &guard_fired);
	s = sb_signal_on(loop, SIGUSR2, signal_cb, guard);
	ok(s != NULL, "a handler for one signal");
	raise(SIGUSR2);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(last_signum, SIGUSR2, "SIGUSR2 delivered with its number");
	is_int(guard_fired, 0, "delivered before the guard timer");
	sb_signal_free(s);

	raise(SIGUSR1);
	guard = sb_timer_once(loop, 5000, count_cb, &guard_fired);
	while (!signals_seen[SIGUSR1] && !guard_fired)
		uv_run(loop, UV_RUN_ONCE);
	is_int(signals_seen[SIGUSR1], 1, "SIGUSR1 delivered");
	if (!guard_fired)
		sb_timer_free(guard);
}

int
main(void)
{
	uv_loop_init(loop);
	test_timers();
	test_deadlines();
	test_posts();
	test_signals();
	/* Leave a timer and the signal handlers open: shutdown closes them. */
	sb_timer_every(loop, 1000, count_cb, &once_fired);
	sb_loop_shutdown(loop);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(uv_loop_close(loop), 0, "uv_loop_close() returns 0 after sb_loop_shutdown()");
	return done_testing();
}
