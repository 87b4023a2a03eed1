/*
 * status.c: the router's status file, for sbctl and for admins.
 *
 * When router.xml has <status file='...'/>, the router writes, every
 * interval and on SIGUSR1, one line per authenticated link with its names
 * and counters:
 *
 *   # switchboard router status
 *   pid 4121
 *   updated 1763736060
 *   link sm1 peer=127.0.0.1:50432 since=1763736001 internal=1 state=open in=12 out=40 bounced=0 names=sm1,localhost
 *
 * The snapshot is taken on the loop; the file is written on libuv's thread
 * pool (the loop never waits on the disk) under a temporary name and
 * renamed, so a reader never sees half a file. It is removed when the
 * router stops, so a file that is there belongs to a running router (or
 * one that crashed: its pid says which).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "router.h"
#include "xmalloc.h"

struct router_status {
	struct router	*r;
	char		*path;
	uv_timer_t	 timer;
	int		 timer_open;	/* until its close callback */
	int		 writing;	/* a job is on the thread pool */
	int		 again;		/* write once more when it is done */
	int		 stopping;
	int		 failed;	/* the last write failed (logged once) */
};

struct status_job {
	uv_work_t		 req;
	struct router_status	*st;
	struct sb_buf		 text;
	int			 err;	/* errno of the write, 0 when it worked */
};

static void
snapshot(struct router *r, struct sb_buf *b)
{
	sb_buf_printf(b, "# switchboard router status\npid %ld\nupdated %lld\n",
	    (long)getpid(), (long long)time(NULL));
	for (const struct link *l = r->links; l != NULL; l = l->next) {
		if (!l->authed || l->name == NULL)
			continue;
		sb_buf_printf(b, "link %s peer=%s since=%lld internal=%d state=%s "
		    "in=%llu out=%llu bounced=%llu names=", l->name,
		    l->conn != NULL ? sb_conn_peer(l->conn) : "-", (long long)l->since,
		    l->internal ? 1 : 0, l->state == LINK_OPEN ? "open" : "closing",
		    (unsigned long long)l->in, (unsigned long long)l->out,
		    (unsigned long long)l->bounced);
		for (uint32_t i = 0; i < l->nnames; i++)
			sb_buf_printf(b, "%s%s", i ? "," : "", l->names[i]->str);
		if (l->is_default)
			sb_buf_printf(b, "%s(default)", l->nnames ? "," : "");
		sb_buf_append_char(b, '\n');
	}
}

/* On the thread pool: write PATH.tmp, then rename it over PATH. */
static void
job_work(uv_work_t *req)
{
	struct status_job *j = req->data;
	char tmp[4096];
	const char *p = sb_buf_data(&j->text);
	size_t n = sb_buf_len(&j->text);
	int fd;

	snprintf(tmp, sizeof(tmp), "%s.tmp", j->st->path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		j->err = errno;
		return;
	}
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			j->err = errno;
			break;
		}
		p += w;
		n -= (size_t)w;
	}
	if (close(fd) != 0 && j->err == 0)
		j->err = errno;
	if (j->err == 0 && rename(tmp, j->st->path) != 0)
		j->err = errno;
	if (j->err != 0)
		unlink(tmp);
}

/* After stop: the last of the timer and the job in flight removes the file. */
static void
maybe_free(struct router_status *st)
{
	if (st->timer_open || st->writing)
		return;
	unlink(st->path);
	free(st->path);
	free(st);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct router_status *st = h->data;

	st->timer_open = 0;
	maybe_free(st);
}

static void
job_done(uv_work_t *req, int status)
{
	struct status_job *j = req->data;
	struct router_status *st = j->st;

	if (j->err != 0 && !st->failed)
		log_warn("status file %s: %s", st->path, strerror(j->err));
	if (j->err == 0 && st->failed)
		log_notice("status file %s: written again", st->path);
	st->failed = j->err != 0;
	sb_buf_free(&j->text);
	free(j);
	st->writing = 0;
	if (st->stopping) {
		maybe_free(st);
		return;
	}
	if (st->again) {
		st->again = 0;
		status_write(st->r);
	}
}

void
status_write(struct router *r)
{
	struct router_status *st = r->status;
	struct status_job *j;

	if (st == NULL || st->stopping)
		return;
	if (st->writing) {
		st->again = 1;
		return;
	}
	j = xcalloc(1, sizeof(*j));
	j->st = st;
	j->req.data = j;
	snapshot(r, &j->text);
	if (uv_queue_work(r->loop, &j->req, job_work, job_done) != 0) {
		sb_buf_free(&j->text);
		free(j);
		return;
	}
	st->writing = 1;
}

static void
on_timer(uv_timer_t *t)
{
	status_write(((struct router_status *)t->data)->r);
}

void
status_start(struct router *r)
{
	struct router_status *st;

	if (r->conf->status_path == NULL)
		return;
	st = xcalloc(1, sizeof(*st));
	st->r = r;
	st->path = xstrdup(r->conf->status_path);
	uv_timer_init(r->loop, &st->timer);
	st->timer.data = st;
	st->timer_open = 1;
	uv_timer_start(&st->timer, on_timer, 0, (uint64_t)r->conf->status_ms);
	r->status = st;
	log_notice("status file %s, every %lld ms", st->path, (long long)r->conf->status_ms);
}

void
status_stop(struct router *r)
{
	struct router_status *st = r->status;

	if (st == NULL)
		return;
	r->status = NULL;
	st->stopping = 1;
	uv_close((uv_handle_t *)&st->timer, on_timer_closed);
}
