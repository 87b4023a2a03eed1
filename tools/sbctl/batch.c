/*
 * batch.c: adduser --batch, many accounts from "JID PASSWORD" lines on
 * stdin.
 *
 * The costly part is PBKDF2 (two secrets of 4096 iterations, about a
 * millisecond per account), so each account goes through a pipeline:
 *
 *   read + parse (loop thread) -> secrets (libuv thread pool) -> INSERT (store)
 *
 * with up to BATCH_INFLIGHT accounts between reading and stored, at most
 * hash_max of them hashing at once (one per core) and the rest queued for a
 * thread or waiting for the database. Hashing the next accounts thus
 * overlaps the inserts of the earlier ones, and the database sees many
 * inserts at once (the pgsql driver spreads them over its connections).
 *
 * A bad line or an existing account is reported with its line number and
 * the import goes on; a database failure (unreachable, not writable)
 * stops reading, because every further line would fail the same way.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sbctl.h"
#include "xmalloc.h"

#define BATCH_INFLIGHT	256	/* accounts read and not yet stored */
#define BATCH_HASH_MAX	4	/* threads of libuv's pool (drivers have their own) */

struct job {
	struct job		*next;		/* the queue for a hashing thread */
	struct batch		*b;
	uv_work_t		 work;
	unsigned long		 line;
	struct sbctl_user	 user;
	char			 password[SBCTL_PASSWORD_MAX + 1];	/* prepared */
	size_t			 password_len;
	struct sbctl_secrets	 sec;
	int			 hash_err;
};

struct batch {
	struct sbctl	*ctx;
	FILE		*in;
	char		*buf;		/* getline's */
	size_t		 bufcap;
	unsigned long	 line;
	int		 eof;
	int		 stop;		/* a database failure: read no more */
	unsigned	 inflight;	/* jobs alive */
	unsigned	 hashing;	/* jobs on the thread pool */
	unsigned	 hash_max;
	struct job	*head, *tail;	/* parsed, waiting for a thread */
	unsigned long	 added, failed;
	int64_t		 now;		/* "created" of every account of this import */
};

static void batch_pump(struct batch *b);

static void
line_error(unsigned long line, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "sbctl: stdin:LINE: reason": the line number is what the admin needs. */
static void
line_error(unsigned long line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sbctl: stdin:%lu: ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
job_finish(struct job *job, int added)
{
	struct batch *b = job->b;

	if (added)
		b->added++;
	else
		b->failed++;
	explicit_bzero(job, sizeof(*job));
	free(job);
	b->inflight--;
}

/* --- parsing --- */

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* A job for one line, or NULL for a line skipped (comment, blank) or bad (reported). */
static struct job *
parse_line(struct batch *b, char *s, size_t len)
{
	char why[SB_JID_BUFSIZE + 128];
	size_t jid_start = 0, jid_end, pw;
	struct job *job;

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	while (jid_start < len && is_blank(s[jid_start]))
		jid_start++;
	if (jid_start == len || s[jid_start] == '#')
		return NULL;
	for (jid_end = jid_start; jid_end < len && !is_blank(s[jid_end]); jid_end++)
		;
	if (jid_end == len) {
		line_error(b->line, "no password (expected \"JID PASSWORD\")");
		b->failed++;
		return NULL;
	}
	for (pw = jid_end; pw < len && is_blank(s[pw]); pw++)
		;
	job = xcalloc(1, sizeof(*job));
	job->b = b;
	job->line = b->line;
	if (sbctl_user_parse(&job->user, s + jid_start, jid_end - jid_start, why, sizeof(why)) == -1 ||
	    sbctl_password_prepare(s + pw, len - pw, job->password, &job->password_len,
	    why, sizeof(why)) == -1) {
		line_error(b->line, "%s", why);
		b->failed++;
		explicit_bzero(job, sizeof(*job));
		free(job);
		return NULL;
	}
	return job;
}

/*
 * Read lines until BATCH_INFLIGHT accounts are in the pipeline or input
 * ends. stdin is read with plain blocking reads: the loop has nothing else
 * to serve meanwhile, and finished inserts simply wait for the next turn.
 */
static void
batch_read(struct batch *b)
{
	struct job *job;
	ssize_t n;

	while (!b->eof && !b->stop && b->inflight < BATCH_INFLIGHT) {
		if ((n = getline(&b->buf, &b->bufcap, b->in)) == -1) {
			if (ferror(b->in)) {
				sbctl_err(b->ctx, "cannot read stdin: %s", strerror(errno));
				b->failed++;
			}
			b->eof = 1;
			break;
		}
		b->line++;
		if ((job = parse_line(b, b->buf, (size_t)n)) == NULL)
			continue;
		b->inflight++;
		if (b->tail != NULL)
			b->tail->next = job;
		else
			b->head = job;
		b->tail = job;
	}
	if (b->buf != NULL)
		explicit_bzero(b->buf, b->bufcap);
}

/* --- hashing (thread pool) and storing (loop thread) --- */

static void
hash_work(uv_work_t *w)
{
	struct job *job = w->data;

	job->hash_err = sbctl_secrets_make(&job->sec, job->password, job->password_len);
	explicit_bzero(job->password, sizeof(job->password));
}

static void
insert_done(const struct sb_store_result *r, void *arg)
{
	struct job *job = arg;
	struct batch *b = job->b;

	if (r->err == SB_STORE_E_CONSTRAINT) {
		line_error(job->line, "%s: account exists", job->user.jid.str);
	} else if (r->err != SB_STORE_OK && !b->stop) {
		b->stop = 1;
		line_error(job->line, "%s: not added: %s", job->user.jid.str, r->errmsg);
		sbctl_store_error(b->ctx, "stopped reading stdin", r->err, r->errmsg);
	}
	job_finish(job, r->err == SB_STORE_OK);
	batch_pump(b);
}

static void
hash_done(uv_work_t *w, int status)
{
	struct job *job = w->data;
	struct batch *b = job->b;
	struct sb_db_value p[11];

	b->hashing--;
	if (job->hash_err != 0 || b->stop) {
		if (job->hash_err != 0)
			line_error(job->line, "internal: cannot compute the SCRAM secrets");
		job_finish(job, 0);
		batch_pump(b);
		return;
	}
	sbctl_user_key(&job->user, p);
	p[2] = sb_db_int(b->now);
	sbctl_secrets_params(&job->sec, &p[3]);
	/* The callback may run before this returns: job is not touched after. */
	sb_store_query(b->ctx->st, SB_Q_ACCOUNT_CREATE, p, insert_done, job);
	batch_pump(b);
}

static void
batch_hash(struct batch *b)
{
	while (b->head != NULL && b->hashing < b->hash_max) {
		struct job *job = b->head;

		if ((b->head = job->next) == NULL)
			b->tail = NULL;
		job->next = NULL;
		if (b->stop) {
			job_finish(job, 0);
			continue;
		}
		job->work.data = job;
		b->hashing++;
		uv_queue_work(&b->ctx->loop, &job->work, hash_work, hash_done);
	}
}

static void
batch_pump(struct batch *b)
{
	batch_read(b);
	batch_hash(b);
}

int
sbctl_adduser_batch(struct sbctl *ctx, int argc, char **argv)
{
	struct batch b = { .ctx = ctx, .in = stdin, .now = (int64_t)time(NULL) };
	unsigned cores = uv_available_parallelism();

	b.hash_max = cores < 1 ? 1 : cores > BATCH_HASH_MAX ? BATCH_HASH_MAX : cores;
	if (isatty(fileno(stdin)))
		fputs("sbctl: reading \"JID PASSWORD\" lines from the terminal (they echo); "
		    "end with Ctrl-D\n", stderr);
	batch_pump(&b);
	while (b.inflight > 0)
		uv_run(&ctx->loop, UV_RUN_ONCE);
	free(b.buf);
	printf("added %lu account%s (%lu failed)\n", b.added, b.added == 1 ? "" : "s", b.failed);
	return b.failed == 0 && !b.stop ? SBCTL_OK : SBCTL_FAIL;
}
