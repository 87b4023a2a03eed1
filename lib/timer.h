/*
 * timer.h: work for later on the loop: timers over uv_timer_t with a
 * callback and an argument, deadlines (timeouts for very many objects) and
 * posted work (run once before the loop next polls).
 *
 * A timer made with sb_timer_new() belongs to its caller: start, stop and
 * restart it as often as needed, and sb_timer_free() it (also from inside
 * its own callback). sb_timer_once() makes a one-shot timer that frees
 * itself after its callback returns; sb_timer_free() before that cancels
 * it. The memory goes with libuv's close callback, so freeing is always
 * safe inside callbacks.
 *
 * sb_loop_shutdown() (conn.h) frees the timers still open once the last
 * connection has gone, through sb_timer_close_all().
 */
#ifndef SB_TIMER_H
#define SB_TIMER_H

#include <stdint.h>

#include <uv.h>

struct sb_timer;

typedef void sb_timer_cb(struct sb_timer *t, void *arg);

struct sb_timer *sb_timer_new(uv_loop_t *loop, sb_timer_cb *cb, void *arg);
/* Fire after ms, then every repeat_ms (0: once). Restarts a running timer. */
void	 sb_timer_start(struct sb_timer *t, uint64_t ms, uint64_t repeat_ms);
void	 sb_timer_stop(struct sb_timer *t);
/* 1 while started and not yet fired (one-shot) or stopped. */
int	 sb_timer_pending(const struct sb_timer *t);
/* Stop and release. */
void	 sb_timer_free(struct sb_timer *t);

/* One-shot that frees itself after its callback: do not use it after that. */
struct sb_timer *sb_timer_once(uv_loop_t *loop, uint64_t ms, sb_timer_cb *cb, void *arg);
/* sb_timer_new() + sb_timer_start(t, ms, ms). */
struct sb_timer *sb_timer_every(uv_loop_t *loop, uint64_t ms, sb_timer_cb *cb, void *arg);

/*
 * Deadlines: timeouts for many objects (idle, connect and close timeouts
 * of 100k connections) with few distinct lengths. A deadline is embedded
 * in its owner and costs no handle: deadlines of one length and callback
 * form one list in start order, and one uv_timer per loop serves all the
 * lists, so starting, restarting and stopping are O(1). A deadline that
 * fires is stopped before its callback runs; the callback may restart it.
 */
struct sb_deadline {
	struct sb_deadline	*prev, *next;
	uint64_t		 start;	/* loop time it counts from */
	uint32_t		 list;	/* list index + 1; 0 when stopped */
};

typedef void sb_deadline_cb(struct sb_deadline *d);

/* cb(d) once, ms (> 0) from now; restarts a running deadline. */
void	 sb_deadline_start(uv_loop_t *loop, struct sb_deadline *d, uint32_t ms,
	     sb_deadline_cb *cb);
/* Count a running deadline from now again, with its length and callback. */
void	 sb_deadline_touch(uv_loop_t *loop, struct sb_deadline *d);
void	 sb_deadline_stop(uv_loop_t *loop, struct sb_deadline *d);

/*
 * Posted work: cb(p) runs once before the loop next waits for I/O (in a
 * uv_prepare callback, after this iteration's timers and callbacks and the
 * previous one's I/O), so work posted many times in one iteration runs
 * once: the connection layer flushes its write queues this way. Posting
 * a posted entry does nothing; entries posted while the queue runs run in
 * the same pass. No particular order. Embedded in the owner, O(1).
 */
struct sb_post {
	uint32_t	 index;	/* place in the loop's queue + 1; 0 when idle */
};

typedef void sb_post_cb(struct sb_post *p);

void	 sb_post(uv_loop_t *loop, struct sb_post *p, sb_post_cb *cb);
void	 sb_post_cancel(uv_loop_t *loop, struct sb_post *p);

/*
 * Free every timer of the loop and close what serves deadlines and posted
 * work (sb_loop_shutdown() calls this once the connections are gone;
 * deadlines and posts still pending then never run).
 */
void	 sb_timer_close_all(uv_loop_t *loop);

#endif
