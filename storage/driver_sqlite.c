/*
 * driver_sqlite.c: the SQLite storage driver (see driver.h), the embedded
 * default store: its threads, its queues and its side of the loop. What
 * runs on a connection is in sqlite_run.c.
 *
 * The loop thread never touches the database. open() starts one writer
 * thread and conf.pool reader threads, each with a connection of its own
 * (opened at its first request) and its own prepared statements. submit()
 * queues a request for the readers when it is a single statement already
 * known to be read-only (sqlite3_stmt_readonly, learnt when a connection
 * first prepared the query), for the writer otherwise; the workers are
 * woken once per loop iteration, so that a burst of requests is queued
 * whole. A reader takes a share of its queue, the writer all of its queue
 * (one group commit). Workers build the results in each request's own
 * arena and put the finished requests on a done list; a uv_async wakes the
 * loop, which completes them (sb_store_done / sb_store_fail). A request
 * belongs to one thread at a time and changes hands under a lock.
 *
 * Readers read WAL snapshots and never wait for the writer; the writer
 * waits for other processes (sbctl) up to conf.sqlite_busy_ms.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "driver.h"
#include "log.h"
#include "sqlite_int.h"
#include "xmalloc.h"

extern const struct sb_migration sb_migrations_sqlite[];
extern const size_t sb_migrations_sqlite_count;

#define READ_BATCH	64	/* requests a reader takes at once, at most */

struct queue {
	struct sb_store_req	*head, *tail;
	size_t			 len;
};

struct worker {
	struct lite		*ds;
	uv_thread_t		 tid;
	int			 reader;
	struct sb_sqlite_conn	*conn;		/* the thread's own */
	struct sb_store_req	**reqs;		/* the batch as an array */
	size_t			 reqs_cap;
};

/* The driver's state (st->driver_state). */
struct lite {
	struct sb_store	*st;
	char		*path;
	int64_t		 busy_ms;	/* from st->conf, for the workers */
	int64_t		 timeout_ms;

	uv_mutex_t	 qlock;		/* the two queues, the sleepers, closing */
	uv_cond_t	 rcond, wcond;
	struct queue	 rq, wq;
	int		 rsleeping, wsleeping;
	int		 closing;	/* written by the loop thread only */

	uv_mutex_t	 dlock;		/* done and exited */
	struct queue	 done;
	int		 exited;

	uv_async_t	 async;		/* done has requests, or a worker left */
	uv_idle_t	 kick;		/* wakes the workers once per loop iteration */
	int		 kick_armed;
	int		 nhandles;	/* open libuv handles, for the last close */
	size_t		 pending;	/* submitted, not completed (loop thread) */
	int		 finishing;

	atomic_int	 not_wal;	/* a connection could not switch to WAL */
	int		 warned_wal;
	_Atomic unsigned char readonly[SB_Q_COUNT];	/* 1: the query only reads */

	int		 nworkers;	/* workers[0] writes, the others read */
	struct worker	 workers[];
};

/* --- queues --- */

static void
queue_push(struct queue *q, struct sb_store_req *req)
{
	req->next = NULL;
	if (q->tail != NULL)
		q->tail->next = req;
	else
		q->head = req;
	q->tail = req;
	q->len++;
}

static struct sb_store_req *
queue_pop(struct queue *q)
{
	struct sb_store_req *req = q->head;

	if (req == NULL)
		return NULL;
	q->head = req->next;
	if (q->head == NULL)
		q->tail = NULL;
	q->len--;
	req->next = NULL;
	return req;
}

/* Move all of src to the end of dst. */
static void
queue_append(struct queue *dst, struct queue *src)
{
	if (src->head == NULL)
		return;
	if (dst->tail != NULL)
		dst->tail->next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	dst->len += src->len;
	*src = (struct queue){ 0 };
}

/* --- worker threads --- */

/* Wait for reads: 0 with a batch, -1 when closing and nothing is left. */
static int
take_reads(struct lite *ds, struct queue *batch)
{
	size_t n;

	*batch = (struct queue){ 0 };
	uv_mutex_lock(&ds->qlock);
	while (ds->rq.head == NULL && !ds->closing) {
		ds->rsleeping++;
		uv_cond_wait(&ds->rcond, &ds->qlock);
		ds->rsleeping--;
	}
	/* A fair share, so that the other readers get some of a burst. */
	n = ds->rq.len / (size_t)(ds->nworkers - 1);
	n = n < 1 ? 1 : n > READ_BATCH ? READ_BATCH : n;
	while (n-- > 0 && ds->rq.head != NULL)
		queue_push(batch, queue_pop(&ds->rq));
	if (ds->rq.head != NULL && ds->rsleeping > 0)
		uv_cond_signal(&ds->rcond);
	uv_mutex_unlock(&ds->qlock);
	return batch->head != NULL ? 0 : -1;
}

/* Wait for writes, then take them all: one group commit. */
static int
take_writes(struct lite *ds, struct queue *batch)
{
	uv_mutex_lock(&ds->qlock);
	while (ds->wq.head == NULL && !ds->closing) {
		ds->wsleeping = 1;
		uv_cond_wait(&ds->wcond, &ds->qlock);
		ds->wsleeping = 0;
	}
	*batch = ds->wq;
	ds->wq = (struct queue){ 0 };
	uv_mutex_unlock(&ds->qlock);
	return batch->head != NULL ? 0 : -1;
}

/* The batch as an array for sqlite_run.c; the list itself stays as it is. */
static size_t
batch_array(struct worker *w, const struct queue *batch)
{
	size_t n = 0;

	if (batch->len > w->reqs_cap) {
		w->reqs_cap = batch->len * 2;
		w->reqs = xrealloc(w->reqs, w->reqs_cap * sizeof(*w->reqs));
	}
	for (struct sb_store_req *req = batch->head; req != NULL; req = req->next)
		w->reqs[n++] = req;
	return n;
}

static void
post_done(struct lite *ds, struct queue *batch)
{
	uv_mutex_lock(&ds->dlock);
	queue_append(&ds->done, batch);
	uv_mutex_unlock(&ds->dlock);
	uv_async_send(&ds->async);
}

static void
worker_main(void *arg)
{
	struct worker *w = arg;
	struct lite *ds = w->ds;
	struct queue batch;
	size_t n;

	w->conn = sb_sqlite_conn_new(ds->path, ds->busy_ms, ds->timeout_ms, w->reader,
	    ds->readonly, &ds->not_wal);
	while ((w->reader ? take_reads(ds, &batch) : take_writes(ds, &batch)) == 0) {
		n = batch_array(w, &batch);
		if (w->reader)
			sb_sqlite_run_reads(w->conn, w->reqs, n);
		else
			sb_sqlite_run_writes(w->conn, w->reqs, n);
		post_done(ds, &batch);
	}
	sb_sqlite_conn_free(w->conn);
	free(w->reqs);
	uv_mutex_lock(&ds->dlock);
	ds->exited++;
	uv_mutex_unlock(&ds->dlock);
	uv_async_send(&ds->async);
}

/* --- the loop thread --- */

static void
complete(struct lite *ds, struct sb_store_req *req)
{
	/* Like a libuv request: the store keeps the loop alive only while busy. */
	if (--ds->pending == 0 && !ds->closing)
		uv_unref((uv_handle_t *)&ds->async);
	if (req->res.err != SB_STORE_OK)
		sb_store_fail(req, req->res.err, "%s", req->res.errmsg);
	else
		sb_store_done(req);
}

static void
state_free(struct lite *ds)
{
	uv_mutex_destroy(&ds->qlock);
	uv_mutex_destroy(&ds->dlock);
	uv_cond_destroy(&ds->rcond);
	uv_cond_destroy(&ds->wcond);
	free(ds->path);
	free(ds);
}

static void
on_handle_closed(uv_handle_t *h)
{
	struct lite *ds = h->data;
	struct sb_store *st = ds->st;

	if (--ds->nhandles > 0)
		return;
	state_free(ds);
	if (st != NULL)
		sb_store_closed(st);
}

static void
close_handles(struct lite *ds)
{
	uv_close((uv_handle_t *)&ds->async, on_handle_closed);
	uv_close((uv_handle_t *)&ds->kick, on_handle_closed);
}

/* After close(): once every worker is gone and every request delivered, release. */
static void
maybe_finish(struct lite *ds)
{
	int idle;

	uv_mutex_lock(&ds->dlock);
	idle = ds->exited == ds->nworkers && ds->done.head == NULL;
	uv_mutex_unlock(&ds->dlock);
	if (!idle || ds->finishing)
		return;
	ds->finishing = 1;
	for (int i = 0; i < ds->nworkers; i++)
		uv_thread_join(&ds->workers[i].tid);
	close_handles(ds);
}

static void
on_async(uv_async_t *h)
{
	struct lite *ds = h->data;
	struct sb_store_req *req;
	struct queue q;

	uv_mutex_lock(&ds->dlock);
	q = ds->done;
	ds->done = (struct queue){ 0 };
	uv_mutex_unlock(&ds->dlock);
	while ((req = queue_pop(&q)) != NULL)
		complete(ds, req);
	if (atomic_load(&ds->not_wal) && !ds->warned_wal) {
		ds->warned_wal = 1;
		log_warn("storage (sqlite): %s: cannot use WAL journal mode; readers will wait "
		    "for the writer", ds->path);
	}
	if (ds->closing)
		maybe_finish(ds);
}

/*
 * Wake the workers for what this loop iteration submitted. Waking the
 * writer at the first request of a burst would make it commit that one
 * alone (an fsync for one request) while the rest wait, and a reader
 * would take its share of a queue of one.
 */
static void
on_kick(uv_idle_t *h)
{
	struct lite *ds = h->data;

	uv_idle_stop(h);
	ds->kick_armed = 0;
	uv_mutex_lock(&ds->qlock);
	if (ds->rq.len >= (size_t)ds->rsleeping)
		uv_cond_broadcast(&ds->rcond);
	else
		for (size_t i = 0; i < ds->rq.len; i++)
			uv_cond_signal(&ds->rcond);
	if (ds->wq.head != NULL && ds->wsleeping)
		uv_cond_signal(&ds->wcond);
	uv_mutex_unlock(&ds->qlock);
}

/* --- the driver --- */

static int
check_path(const char *path, char *err, size_t errlen)
{
	const char *slash;
	struct stat sb;
	char *dir;
	int ok;

	if (path == NULL || *path == '\0' || strcmp(path, ":memory:") == 0) {
		snprintf(err, errlen, "the sqlite driver needs the path of a database file");
		return -1;
	}
	slash = strrchr(path, '/');
	dir = slash == NULL ? xstrdup(".") :
	    xstrndup(path, slash == path ? 1 : (size_t)(slash - path));
	ok = stat(dir, &sb) == 0 && S_ISDIR(sb.st_mode);
	if (!ok)
		snprintf(err, errlen, "%s: directory %s does not exist", path, dir);
	free(dir);
	return ok ? 0 : -1;
}

/*
 * Create the database file if it is missing (sbctl db init relies on it),
 * readable by its owner only: it holds SCRAM secrets, and SQLite gives the
 * -wal and -shm files the same mode.
 */
static int
create_file(const char *path, char *err, size_t errlen)
{
	struct stat sb;
	int fd;

	if (stat(path, &sb) == 0) {
		if (S_ISREG(sb.st_mode))
			return 0;
		snprintf(err, errlen, "%s: not a regular file", path);
		return -1;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
		return -1;
	}
	if (fd != -1)
		close(fd);
	return 0;
}

static int
check_sqlite(char *err, size_t errlen)
{
	/*
	 * Memory statistics cost a global mutex on every SQLite allocation,
	 * shared by all the workers, and nothing reads them. This only works
	 * before SQLite initializes: a second store leaves it as it is.
	 */
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
	if (!sqlite3_threadsafe()) {
		snprintf(err, errlen, "this SQLite library is built without thread support");
		return -1;
	}
	return 0;
}

static struct lite *
state_new(struct sb_store *st)
{
	int nworkers = 1 + (st->conf.pool > 0 ? st->conf.pool : 1);
	struct lite *ds = xcalloc(1, sizeof(*ds) + (size_t)nworkers * sizeof(ds->workers[0]));

	ds->path = xstrdup(st->conf.sqlite_path);
	ds->busy_ms = st->conf.sqlite_busy_ms;
	ds->timeout_ms = st->conf.timeout_ms;
	ds->nworkers = nworkers;
	uv_mutex_init(&ds->qlock);
	uv_mutex_init(&ds->dlock);
	uv_cond_init(&ds->rcond);
	uv_cond_init(&ds->wcond);
	uv_async_init(st->loop, &ds->async, on_async);
	uv_idle_init(st->loop, &ds->kick);
	ds->async.data = ds->kick.data = ds;
	ds->nhandles = 2;
	uv_unref((uv_handle_t *)&ds->async);
	uv_unref((uv_handle_t *)&ds->kick);
	for (int i = 0; i < nworkers; i++) {
		ds->workers[i].ds = ds;
		ds->workers[i].reader = i > 0;
	}
	return ds;
}

/* Stop the first n workers (they have had no work) after a failed start. */
static void
stop_workers(struct lite *ds, int n)
{
	uv_mutex_lock(&ds->qlock);
	ds->closing = 1;
	uv_cond_broadcast(&ds->rcond);
	uv_cond_broadcast(&ds->wcond);
	uv_mutex_unlock(&ds->qlock);
	for (int i = 0; i < n; i++)
		uv_thread_join(&ds->workers[i].tid);
}

static int
sqlite_open(struct sb_store *st, char *err, size_t errlen)
{
	const char *path = st->conf.sqlite_path;
	struct lite *ds;
	int rc;

	if (check_sqlite(err, errlen) == -1 || check_path(path, err, errlen) == -1 ||
	    create_file(path, err, errlen) == -1)
		return -1;
	ds = state_new(st);
	ds->st = st;
	for (int i = 0; i < ds->nworkers; i++) {
		struct worker *w = &ds->workers[i];

		if ((rc = uv_thread_create(&w->tid, worker_main, w)) != 0) {
			snprintf(err, errlen, "sqlite: cannot start a thread: %s", uv_strerror(rc));
			stop_workers(ds, i);
			/* st is freed on return; ds when its handles have closed. */
			ds->st = NULL;
			close_handles(ds);
			return -1;
		}
	}
	st->driver_state = ds;
	return 0;
}

static int
is_read(struct lite *ds, const struct sb_store_req *req)
{
	return req->script == NULL && !req->txn && req->nstmts == 1 &&
	    atomic_load_explicit(&ds->readonly[req->stmts[0].q], memory_order_relaxed);
}

static void
sqlite_submit(struct sb_store *st, struct sb_store_req *req)
{
	struct lite *ds = st->driver_state;

	if (ds->pending++ == 0)
		uv_ref((uv_handle_t *)&ds->async);
	uv_mutex_lock(&ds->qlock);
	queue_push(is_read(ds, req) ? &ds->rq : &ds->wq, req);
	uv_mutex_unlock(&ds->qlock);
	if (!ds->kick_armed) {
		ds->kick_armed = 1;
		uv_idle_start(&ds->kick, on_kick);
	}
}

/* Queued work still runs, callbacks included; then the workers leave. */
static void
sqlite_close(struct sb_store *st)
{
	struct lite *ds = st->driver_state;

	uv_ref((uv_handle_t *)&ds->async);
	uv_mutex_lock(&ds->qlock);
	ds->closing = 1;
	uv_cond_broadcast(&ds->rcond);
	uv_cond_broadcast(&ds->wcond);
	uv_mutex_unlock(&ds->qlock);
}

const struct sb_driver sb_driver_sqlite = {
	.name = "sqlite",
	.sql = sb_sql_sqlite,
	.migrations = sb_migrations_sqlite,
	.nmigrations = &sb_migrations_sqlite_count,
	.open = sqlite_open,
	.submit = sqlite_submit,
	.close = sqlite_close,
};
