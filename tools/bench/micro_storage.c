/*
 * micro_storage.c: storage benchmark. Not a test: it prints figures.
 *
 *   micro_storage sqlite:PATH | pgsql:CONNINFO   (default: sqlite in a temporary directory)
 *
 * On a fresh database (migrated here) with 1000 accounts:
 *   - credential lookups (ACCOUNT_GET) per second, 1000 in flight;
 *   - offline-message cycles per second: store, fetch, delete for one user,
 *     1000 users cycling at once (each cycle is three requests).
 * Wall-clock time: the database works on other threads or in another process.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "storage.h"

#define USERS		1000
#define LOOKUPS		200000
#define CYCLES		30000

static uv_loop_t loop;
static struct sb_store *st;
static char names[USERS][16];
static long issued, completed, failures;
static long target;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
check(const struct sb_store_result *r)
{
	if (r->err != SB_STORE_OK && failures++ < 5)
		fprintf(stderr, "micro_storage: %s: %s\n", sb_store_err_name(r->err), r->errmsg);
}

static void
wait_until(long *counter, long want)
{
	while (*counter < want)
		uv_run(&loop, UV_RUN_ONCE);
}

/* --- setup --- */

static long setup_done;

static void
setup_cb(const struct sb_store_result *r, void *arg)
{
	check(r);
	setup_done++;
}

static void
setup(void)
{
	static unsigned char salt[16], key[32];
	struct sb_db_value p[11];

	sb_store_migrate(st, setup_cb, NULL);
	wait_until(&setup_done, 1);
	for (int i = 0; i < USERS; i++) {
		snprintf(names[i], sizeof(names[i]), "user%d", i);
		p[0] = sb_db_text("bench.example");
		p[1] = sb_db_text(names[i]);
		p[2] = sb_db_int(1);
		p[3] = sb_db_blob(salt, 16);
		p[4] = sb_db_int(4096);
		p[5] = sb_db_blob(key, 20);
		p[6] = sb_db_blob(key, 20);
		p[7] = sb_db_blob(salt, 16);
		p[8] = sb_db_int(4096);
		p[9] = sb_db_blob(key, 32);
		p[10] = sb_db_blob(key, 32);
		sb_store_query(st, SB_Q_ACCOUNT_CREATE, p, setup_cb, NULL);
	}
	wait_until(&setup_done, 1 + USERS);
}

/* --- credential lookups: each completion issues the next --- */

static void lookup_next(long slot);

static void
lookup_cb(const struct sb_store_result *r, void *arg)
{
	check(r);
	completed++;
	lookup_next((long)(intptr_t)arg);
}

static void
lookup_next(long slot)
{
	struct sb_db_value p[2];

	if (issued >= target)
		return;
	p[0] = sb_db_text("bench.example");
	p[1] = sb_db_text(names[issued++ % USERS]);
	sb_store_query(st, SB_Q_ACCOUNT_GET, p, lookup_cb, (void *)(intptr_t)slot);
}

static void
bench_lookups(void)
{
	double t0;

	issued = completed = 0;
	target = LOOKUPS;
	t0 = now();
	for (long i = 0; i < USERS; i++)
		lookup_next(i);
	wait_until(&completed, target);
	printf("  credential lookups      %9.0f /s   (%d in flight)\n",
	    (double)target / (now() - t0), USERS);
}

/* --- offline cycles: store, fetch, delete up to what was fetched --- */

struct user_cycle {
	int	 user;
	int	 step;
	int64_t	 last_id;
};

static struct user_cycle cycles[USERS];
static long cycles_done;

static void cycle_step(struct user_cycle *c);

static void
cycle_cb(const struct sb_store_result *r, void *arg)
{
	struct user_cycle *c = arg;

	check(r);
	if (c->step == 1 && r->nrows > 0)
		c->last_id = sb_store_int(r, r->nrows - 1, 0);
	c->step = (c->step + 1) % 3;
	if (c->step == 0)
		cycles_done++;
	cycle_step(c);
}

static void
cycle_step(struct user_cycle *c)
{
	struct sb_db_value p[4];

	if (c->step == 0 && issued >= target)
		return;
	p[0] = sb_db_text("bench.example");
	p[1] = sb_db_text(names[c->user]);
	switch (c->step) {
	case 0:
		issued++;
		p[2] = sb_db_int(1700000000);
		p[3] = sb_db_text("<message from='a@bench.example/r' to='user@bench.example' "
		    "type='chat' id='x1'><body>Offline for a while; this waits for you.</body>"
		    "<delay xmlns='urn:xmpp:delay' from='bench.example' stamp='2026-11-21T14:00:00Z'/>"
		    "</message>");
		sb_store_query(st, SB_Q_OFFLINE_STORE, p, cycle_cb, c);
		break;
	case 1:
		sb_store_query(st, SB_Q_OFFLINE_FETCH, p, cycle_cb, c);
		break;
	default:
		p[2] = sb_db_int(c->last_id);
		sb_store_query(st, SB_Q_OFFLINE_DELETE, p, cycle_cb, c);
		break;
	}
}

static void
bench_offline(void)
{
	double t0;

	issued = cycles_done = 0;
	target = CYCLES;
	t0 = now();
	for (int i = 0; i < USERS; i++) {
		cycles[i] = (struct user_cycle){ .user = i };
		cycle_step(&cycles[i]);
	}
	wait_until(&cycles_done, target);
	printf("  offline store+fetch+delete %6.0f cycles/s (%d users at once)\n",
	    (double)target / (now() - t0), USERS);
}

static int closed;

static void
on_closed(void *arg)
{
	closed = 1;
}

int
main(int argc, char **argv)
{
	const char *spec = argc > 1 ? argv[1] : "";
	struct sb_store_conf conf = { .pool = 4, .timeout_ms = 30000 };
	char dir[] = "/tmp/sb-bench-XXXXXX", path[64], err[256];

	sb_log_open("micro_storage", 0, SB_LOG_WARN);
	uv_loop_init(&loop);
	if (strncmp(spec, "pgsql:", 6) == 0) {
		conf.driver = SB_STORE_PGSQL;
		conf.pg_conninfo = (char *)spec + 6;
	} else {
		if (mkdtemp(dir) == NULL)
			return 1;
		snprintf(path, sizeof(path), "%s/bench.db", dir);
		conf.driver = SB_STORE_SQLITE;
		conf.sqlite_path = strncmp(spec, "sqlite:", 7) == 0 ? (char *)spec + 7 : path;
	}
	if ((st = sb_store_open(&loop, &conf, err, sizeof(err))) == NULL) {
		fprintf(stderr, "micro_storage: %s\n", err);
		return 1;
	}
	printf("micro_storage: %s, pool %d\n", sb_store_driver_name(st), conf.pool);
	setup();
	bench_lookups();
	bench_offline();
	if (failures > 0)
		printf("  %ld requests failed\n", failures);
	sb_store_close(st, on_closed, NULL);
	while (!closed)
		uv_run(&loop, UV_RUN_ONCE);
	uv_loop_close(&loop);
	if (conf.driver == SB_STORE_SQLITE && conf.sqlite_path == path) {
		char cmd[96];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "micro_storage: could not remove %s\n", dir);
	}
	return failures > 0;
}
