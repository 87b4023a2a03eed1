/*
 * status.c: the status file (see status.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "status.h"
#include "xmalloc.h"

struct sb_status {
	uv_loop_t	*loop;
	char		*process;
	char		*path;
	sb_status_fn	*fn;
	void		*arg;
	time_t		 started;
	uv_timer_t	 timer;
	int		 timer_open;	/* until its close callback */
	int		 writing;	/* a job is on the thread pool */
	int		 again;		/* write once more when it is done */
	int		 stopping;
	int		 failed;	/* the last write failed (logged once) */
};

struct status_job {
	uv_work_t		 req;
	struct sb_status	*st;
	struct sb_buf		 text;
	int			 err;	/* errno of the write, 0 when it worked */
};

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
maybe_free(struct sb_status *st)
{
	if (st->timer_open || st->writing)
		return;
	unlink(st->path);
	free(st->process);
	free(st->path);
	free(st);
}

static void
on_timer_closed(uv_handle_t *h)
{
	struct sb_status *st = h->data;

	st->timer_open = 0;
	maybe_free(st);
}

static void
job_done(uv_work_t *req, int status)
{
	struct status_job *j = req->data;
	struct sb_status *st = j->st;

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
		sb_status_write(st);
	}
}

void
sb_status_write(struct sb_status *st)
{
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
	sb_buf_printf(&j->text, "# switchboard %s status\nprocess %s\npid %ld\nstarted %lld\n"
	    "updated %lld\n", st->process, st->process, (long)getpid(), (long long)st->started,
	    (long long)time(NULL));
	st->fn(&j->text, st->arg);
	if (uv_queue_work(st->loop, &j->req, job_work, job_done) != 0) {
		sb_buf_free(&j->text);
		free(j);
		return;
	}
	st->writing = 1;
}

static void
on_timer(uv_timer_t *t)
{
	sb_status_write(t->data);
}

struct sb_status *
sb_status_start(uv_loop_t *loop, const char *process, const char *path, int64_t interval_ms,
    sb_status_fn *fn, void *arg)
{
	struct sb_status *st = xcalloc(1, sizeof(*st));

	st->loop = loop;
	st->process = xstrdup(process);
	st->path = xstrdup(path);
	st->fn = fn;
	st->arg = arg;
	st->started = time(NULL);
	uv_timer_init(loop, &st->timer);
	st->timer.data = st;
	st->timer_open = 1;
	uv_timer_start(&st->timer, on_timer, 0, (uint64_t)interval_ms);
	/* The process does not stay up for its status file. */
	uv_unref((uv_handle_t *)&st->timer);
	log_notice("status file %s, every %lld ms", st->path, (long long)interval_ms);
	return st;
}

void
sb_status_stop(struct sb_status *st)
{
	if (st == NULL)
		return;
	st->stopping = 1;
	uv_close((uv_handle_t *)&st->timer, on_timer_closed);
}
