/*
 * parent.c: msg_load's parent process (main.c): it forks the workers,
 * tells them when to go, measure and stop, reads the server processes'
 * CPU and memory from /proc at those moments, and prints the report; in
 * idle mode (-I) it measures memory per session.
 */
#include "msg_load.h"

#include "../common/procstat.h"

/* --- the parent: processes, time, the report --- */

struct proc {
	long		 pid;
	int		 cmd_fd, st_fd;
	int		 clients;		/* a worker's */
	double		 cpu0, cpu1;
	long		 rss0, rss1, hwm;	/* after the logins, at the end, VmHWM */
	long		 rss_empty;		/* before the first login */
	long		 win0, win_max;		/* the window's start, its maximum */
};

static void
sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
tell(struct proc *w, int n, char cmd)
{
	for (int i = 0; i < n; i++)
		if (write(w[i].cmd_fd, &cmd, 1) != 1)
			die("worker %ld: cannot write to it", w[i].pid);
}

static void
kill_workers(struct proc *w, int n)
{
	for (int i = 0; i < n; i++)
		kill((pid_t)w[i].pid, SIGKILL);
	for (int i = 0; i < n; i++)
		waitpid((pid_t)w[i].pid, NULL, 0);
}

/* Read len bytes from each worker's status pipe within timeout_s. -1 when one fails. */
static int
gather(struct proc *w, int n, void *out, size_t len, double timeout_s)
{
	double deadline = now() + timeout_s;

	for (int i = 0; i < n; i++) {
		char *p = (char *)out + (size_t)i * len;
		size_t got = 0;

		while (got < len) {
			struct pollfd pfd = { .fd = w[i].st_fd, .events = POLLIN };
			double left = deadline - now();
			ssize_t k;

			if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0) {
				fprintf(stderr, "msg_load: worker %ld: no answer in %.0f s\n",
				    w[i].pid, timeout_s);
				return -1;
			}
			if ((k = read(w[i].st_fd, p + got, len - got)) <= 0) {
				fprintf(stderr, "msg_load: worker %ld failed\n", w[i].pid);
				return -1;
			}
			got += (size_t)k;
		}
	}
	return 0;
}

static void
merge(struct result *into, const struct result *r)
{
	into->sent += r->sent;
	into->delivered += r->delivered;
	into->bounced += r->bounced;
	into->m_sent += r->m_sent;
	into->m_delivered += r->m_delivered;
	into->out_of_order += r->out_of_order;
	into->other += r->other;
	into->connected += r->connected;
	into->disconnected += r->disconnected;
	into->behind += r->behind;
	into->pings += r->pings;
	if (r->lat_max_us > into->lat_max_us)
		into->lat_max_us = r->lat_max_us;
	for (int i = 0; i < HIST_N; i++)
		into->hist[i] += r->hist[i];
	if (r->drain_s > into->drain_s)
		into->drain_s = r->drain_s;
	into->drained = into->drained && r->drained;
	for (int i = 0; i < r->nreasons; i++)
		add_reason(into, r->reasons[i].text, r->reasons[i].count);
}

static double
percentile_ms(const uint64_t *hist, double q)
{
	uint64_t n = 0, want, seen = 0;

	for (int i = 0; i < HIST_N; i++)
		n += hist[i];
	if (n == 0)
		return 0;
	want = (uint64_t)(q * (double)n);
	if ((double)want < q * (double)n || want == 0)
		want++;
	for (int i = 0; i < HIST_N; i++)
		if ((seen += hist[i]) >= want)
			return hist_value(i) / 1000.0;
	return 0;
}

struct run {
	const struct options	*o;
	struct proc		 srv[MAX_PROCS];
	struct proc		*workers;
	double			 t_start, t_ready, t_measure, t_end;
	double			 machine;
	int			 gone;		/* a server process died */
	struct result		 r;
	long			 hold_min, hold_max;	/* -I: summed RSS over the hold */
	int			 hold_samples;
	long			 sum0;		/* summed RSS at the window's start */
	long			 low0, low1;	/* its lowest in the first, last FLAT_SPAN_S */
	long			 gen_kb;	/* the workers' RSS at the end */
};

static void
report(struct run *x)
{
	const struct options *o = x->o;
	struct result *r = &x->r;
	double wall = x->t_end - x->t_measure, srv = 0, gen = 0;
	double m = r->m_delivered > 0 ? (double)r->m_delivered : 1;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t lost = r->sent - r->delivered - r->bounced;
	int size = snprintf(NULL, 0, "<message to='bench%d@%s' type='chat' id='%d'><body>"
	    "</body></message>", o->users, rcv_domain(o), 1000000) + o->body;

	for (int i = 0; i < o->nprocs; i++)
		srv += x->srv[i].cpu1 - x->srv[i].cpu0;
	for (int i = 0; i < o->jobs; i++)
		gen += x->workers[i].cpu1 - x->workers[i].cpu0;
	printf("msg_load: %d clients (%d sender -> receiver pairs) in %d process%s, "
	    "logged in with %s in %.1f s\n", o->users, o->users / 2, o->jobs,
	    o->jobs > 1 ? "es" : "", sb_scram_mech_name(o->hash, 0), x->t_ready - x->t_start);
	if (o->nports > 1 || o->sources > 0)
		printf("  over %d c2s port%s, from %d source address%s\n", o->nports,
		    o->nports > 1 ? "s" : "", o->sources > 0 ? o->sources : 1,
		    o->sources > 1 ? "es" : "");
	if (o->domain2 != NULL)
		printf("  across federation: senders on %s (c2s port %d), receivers on %s "
		    "(c2s port %d)\n", o->domain, o->ports[0], o->domain2,
		    o->c2s_port2 != 0 ? o->c2s_port2 : o->ports[0]);
	printf("  chat messages to the bare JID of about %d bytes, %d in flight per pair; "
	    "%.0f s measured after %.0f s warm-up\n", size, o->window, wall, o->warmup);
	printf("  delivered/s              %9.0f  (%llu delivered, %llu sent in the window)\n",
	    (double)r->m_delivered / wall, (unsigned long long)r->m_delivered,
	    (unsigned long long)r->m_sent);
	printf("  latency p50 / p90 / p99  %9.2f / %.2f / %.2f ms, max %.2f ms  "
	    "(send to delivery)\n", percentile_ms(r->hist, 0.50), percentile_ms(r->hist, 0.90),
	    percentile_ms(r->hist, 0.99), (double)r->lat_max_us / 1000.0);
	if (o->rate > 0)
		printf("  paced                    %9.0f /s offered, %.0f /s sent in the window; "
		    "behind %llu times (a pair's turn with %d in flight)\n", o->rate,
		    (double)r->m_sent / wall, (unsigned long long)r->behind, o->window);
	printf("  whole run                %9llu sent, %llu delivered, %llu bounced, %llu lost, "
	    "%llu out of order  (%s in %.2f s)\n", (unsigned long long)r->sent,
	    (unsigned long long)r->delivered, (unsigned long long)r->bounced,
	    (unsigned long long)lost, (unsigned long long)r->out_of_order,
	    r->drained ? "drained" : "NOT drained", r->drain_s);
	for (int i = 0; i < r->nreasons; i++)
		printf("    %8llu  %s\n", (unsigned long long)r->reasons[i].count,
		    r->reasons[i].text);
	if (r->disconnected > 0)
		printf("  clients disconnected     %9llu  (after their login; above by reason)\n",
		    (unsigned long long)r->disconnected);
	if (x->gone || r->m_delivered == 0) {
		printf("  server CPU and memory    not measured: %s\n", x->gone ?
		    "a server process died" : "nothing was delivered");
		return;
	}
	printf("  server CPU per message   %9.1f us  (", srv / m * 1e6);
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %.1f", i ? " + " : "", o->proc_name[i],
		    (x->srv[i].cpu1 - x->srv[i].cpu0) / m * 1e6);
	printf(")\n  server CPU use           %9.0f %%   (", srv / wall * 100);
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %.0f %%", i ? ", " : "", o->proc_name[i],
		    (x->srv[i].cpu1 - x->srv[i].cpu0) / wall * 100);
	printf(" of one core)\n  share of the server CPU  ");
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %.0f %%", i ? ", " : "      ", o->proc_name[i],
		    srv > 0 ? (x->srv[i].cpu1 - x->srv[i].cpu0) / srv * 100 : 0);
	printf("\n  RSS after logins -> end  ");
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %ld -> %ld KiB", i ? ", " : "      ", o->proc_name[i],
		    x->srv[i].rss0, x->srv[i].rss1);
	printf("\n  peak RSS (VmHWM)         ");
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %ld KiB", i ? ", " : "      ", o->proc_name[i], x->srv[i].hwm);
	printf("\n  load generator CPU       %9.1f us per message  (%.0f %% of one core); it "
	    "shares the %ld cores with the server\n", gen / m * 1e6, gen / wall * 100, ncpu);
	printf("  load generator RSS       %9ld KiB  (%.1f KiB per client)\n", x->gen_kb,
	    (double)x->gen_kb / o->users);
	printf("  machine busy             %9.0f %%   of %ld cores; not ours: %.0f %% of one "
	    "core\n", x->machine / wall * 100 / (double)ncpu, ncpu,
	    x->machine > srv + gen ? (x->machine - srv - gen) / wall * 100 : 0);
}

/* CPU (and at the end memory) of everyone; a server process that died is said so. */
static void
snapshot(struct run *x, int end)
{
	const struct options *o = x->o;

	for (int i = 0; i < o->nprocs; i++) {
		struct proc *p = &x->srv[i];
		double cpu = bench_cpu_of(p->pid);

		if (cpu < 0 && !x->gone) {
			fprintf(stderr, "msg_load: %s (process %ld) is gone\n", o->proc_name[i],
			    p->pid);
			x->gone = 1;
		}
		if (end) {
			p->cpu1 = cpu;
			p->rss1 = bench_status_kb(p->pid, "VmRSS");
			p->hwm = bench_status_kb(p->pid, "VmHWM");
		} else {
			p->cpu0 = cpu;
		}
	}
	for (int i = 0; i < o->jobs; i++) {
		if (end)
			x->workers[i].cpu1 = bench_cpu_of(x->workers[i].pid);
		else
			x->workers[i].cpu0 = bench_cpu_of(x->workers[i].pid);
	}
	if (end)
		x->machine = bench_cpu_machine() - x->machine;
	else
		x->machine = bench_cpu_machine();
}

static void
start_workers(struct run *x)
{
	const struct options *o = x->o;
	int npairs = o->users / 2, first = 0;

	x->workers = xcalloc((size_t)o->jobs, sizeof(*x->workers));
	for (int i = 0; i < o->jobs; i++) {
		int cmd[2], st[2], n = npairs / o->jobs + (i < npairs % o->jobs);
		pid_t pid;

		if (pipe(cmd) == -1 || pipe(st) == -1)
			die("pipe: %s", strerror(errno));
		fflush(NULL);
		if ((pid = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			close(cmd[1]);
			close(st[0]);
			for (int k = 0; k < i; k++) {
				close(x->workers[k].cmd_fd);
				close(x->workers[k].st_fd);
			}
			exit(worker_main(o, first, n, cmd[0], st[1]));
		}
		close(cmd[0]);
		close(st[1]);
		x->workers[i] = (struct proc){ .pid = pid, .cmd_fd = cmd[1], .st_fd = st[0],
		    .clients = 2 * n };
		first += n;
	}
}

/* --- the parent: the logins, the window, memory --- */

/*
 * The login phase: each worker writes MSG_PROGRESS for every PROGRESS_STEP
 * of its clients logged in and MSG_READY once all are; with -i the count
 * so far is printed every interval. -1 when a worker fails (it has said
 * why) or the phase takes longer than -L.
 */
static int
wait_logins(struct run *x)
{
	const struct options *o = x->o;
	struct pollfd *pfd = xcalloc((size_t)o->jobs, sizeof(*pfd));
	long *in = xcalloc((size_t)o->jobs, sizeof(*in)), sum = 0;
	double deadline = x->t_start + o->login_max;
	double next = o->interval > 0 ? x->t_start + o->interval : deadline;
	int ready = 0, status = 0;

	for (int i = 0; i < o->jobs; i++)
		pfd[i] = (struct pollfd){ .fd = x->workers[i].st_fd, .events = POLLIN };
	while (ready < o->jobs && status == 0) {
		double t = now(), until = next < deadline ? next : deadline;

		if (t >= deadline) {
			fprintf(stderr, "msg_load: the logins took longer than %.0f s (-L): %ld of "
			    "%d clients logged in\n", o->login_max, sum, o->users);
			status = -1;
			break;
		}
		if (t >= next) {
			printf("  logging in %7.0f s  %ld of %d clients\n", t - x->t_start, sum,
			    o->users);
			next += o->interval;
			continue;
		}
		if (poll(pfd, (nfds_t)o->jobs, (int)((until - t) * 1000) + 1) == -1 &&
		    errno != EINTR)
			die("poll: %s", strerror(errno));
		for (int i = 0; i < o->jobs && status == 0; i++) {
			char buf[256];
			ssize_t n;

			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			if ((n = read(pfd[i].fd, buf, sizeof(buf))) <= 0) {
				fprintf(stderr, "msg_load: worker %ld failed during the logins\n",
				    x->workers[i].pid);
				status = -1;
			}
			for (ssize_t k = 0; k < n; k++) {
				sum -= in[i];
				in[i] = buf[k] == MSG_READY ? x->workers[i].clients :
				    in[i] + PROGRESS_STEP;
				sum += in[i];
				if (buf[k] == MSG_READY) {
					pfd[i].fd = -1;
					ready++;
				}
			}
		}
	}
	free(pfd);
	free(in);
	return status;
}

/* The ends of the window whose lows the verdict compares: FLAT_SPAN_S, a third of shorter ones. */
static double
flat_span(const struct options *o)
{
	return o->seconds / 3 < FLAT_SPAN_S ? o->seconds / 3 : FLAT_SPAN_S;
}

/*
 * One reading of the server's VmRSS: each process's maximum, the summed
 * minimum and maximum, the summed lows of the window's ends, one sample
 * more. The sum, or -1 when a process is gone (said once).
 */
static long
sample_rss(struct run *x)
{
	double t = now(), span = flat_span(x->o);
	long sum = 0, kb;

	for (int i = 0; i < x->o->nprocs; i++) {
		if ((kb = bench_status_kb(x->srv[i].pid, "VmRSS")) < 0) {
			if (!x->gone)
				fprintf(stderr, "msg_load: %s (process %ld) is gone\n",
				    x->o->proc_name[i], x->srv[i].pid);
			x->gone = 1;
			return -1;
		}
		if (kb > x->srv[i].win_max)
			x->srv[i].win_max = kb;
		sum += kb;
	}
	if (x->hold_samples == 0 || sum < x->hold_min)
		x->hold_min = sum;
	if (sum > x->hold_max)
		x->hold_max = sum;
	x->hold_samples++;
	if (t <= x->t_measure + span && (x->low0 == 0 || sum < x->low0))
		x->low0 = sum;
	if (t >= x->t_measure + x->o->seconds - span && (x->low1 == 0 || sum < x->low1))
		x->low1 = sum;
	return sum;
}

/* The workers' VmRSS summed, in KiB. */
static long
gen_rss(const struct run *x)
{
	long sum = 0, kb;

	for (int i = 0; i < x->o->jobs; i++)
		if ((kb = bench_status_kb(x->workers[i].pid, "VmRSS")) > 0)
			sum += kb;
	return sum;
}

/* Errors of a message run: every message not delivered, every surprise. */
static uint64_t
msg_errors(const struct run *x)
{
	const struct result *r = &x->r;

	return r->sent - r->delivered + r->out_of_order + r->other + r->disconnected +
	    (uint64_t)x->gone;
}

/* CMD_INTERVAL: one line for the interval since *t_iv, which then moves on. */
static int
print_interval(struct run *x, double *t_iv, long rss)
{
	const struct options *o = x->o;
	struct interval *iv = xcalloc((size_t)o->jobs, sizeof(*iv)), sum = { 0 };
	double t = now();

	tell(x->workers, o->jobs, CMD_INTERVAL);
	if (gather(x->workers, o->jobs, iv, sizeof(*iv), 10) == -1) {
		free(iv);
		return -1;
	}
	for (int i = 0; i < o->jobs; i++) {
		sum.sent += iv[i].sent;
		sum.delivered += iv[i].delivered;
		sum.behind += iv[i].behind;
		sum.errors += iv[i].errors;
		for (int k = 0; k < HIST_N; k++)
			sum.hist[k] += iv[i].hist[k];
	}
	free(iv);
	printf("  %6.0f s  %8.0f msg/s  p50 %8.2f ms  p99 %8.2f ms  errors %llu  server RSS "
	    "%ld KiB", t - x->t_measure, (double)sum.delivered / (t - *t_iv),
	    percentile_ms(sum.hist, 0.50), percentile_ms(sum.hist, 0.99),
	    (unsigned long long)sum.errors, rss);
	if (o->rate > 0)
		printf("  behind %llu", (unsigned long long)sum.behind);
	printf("\n");
	*t_iv = t;
	return 0;
}

/*
 * The measured window: the server's RSS every second, the first reading
 * its start; with -i a line per interval (and one for a shorter last
 * one). A server process that goes away ends the window at once. -1 when
 * a worker does not answer.
 */
static int
hold_window(struct run *x)
{
	const struct options *o = x->o;
	double t_stop = x->t_measure + o->seconds, t_iv = x->t_measure;
	double t_next = o->interval > 0 ? t_iv + o->interval : t_stop + 1;
	long sum;

	if ((x->sum0 = sum = sample_rss(x)) < 0)
		return 0;
	for (int i = 0; i < o->nprocs; i++)
		x->srv[i].win0 = x->srv[i].win_max;
	if (o->interval > 0)
		printf("msg_load: measuring %.0f s; every %.0f s: messages delivered a second, "
		    "their latency, the errors so far, the server's summed RSS\n", o->seconds,
		    o->interval);
	for (double t; (t = now()) < t_stop; ) {
		double wake = t + 1 < t_stop ? t + 1 : t_stop;

		if (t_next < wake)
			wake = t_next;
		if (wake > t)
			sleep_s(wake - t);
		if ((sum = sample_rss(x)) < 0)
			return 0;
		if (now() >= t_next - 0.01) {
			if (print_interval(x, &t_iv, sum) == -1)
				return -1;
			t_next += o->interval;
		}
	}
	if (o->interval > 0 && now() - t_iv >= 1)
		return print_interval(x, &t_iv, sum);
	return 0;
}

/* Which reading of a process's RSS. */
enum rss_at { AT_EMPTY, AT_LOGGED_IN, AT_END, AT_PEAK, AT_WINDOW };

static long
rss_at(const struct proc *p, enum rss_at at)
{
	switch (at) {
	case AT_EMPTY:		return p->rss_empty;
	case AT_LOGGED_IN:	return p->rss0;
	case AT_END:		return p->rss1;
	case AT_PEAK:		return p->hwm;
	case AT_WINDOW:		return p->win0;
	}
	return -1;
}

/* (RSS at - RSS before the logins) / sessions, per process and summed: "a + b = sum". */
static void
print_per_session(const struct run *x, enum rss_at at)
{
	const struct options *o = x->o;
	long sum = 0;

	for (int i = 0; i < o->nprocs; i++) {
		long d = rss_at(&x->srv[i], at) - x->srv[i].rss_empty;

		sum += d;
		printf("%s%s %.1f", i ? " + " : "", o->proc_name[i], (double)d / o->users);
	}
	printf(" = %.1f KiB\n", (double)sum / o->users);
}

/* The bound on the summed drift: FLAT_PCT of the start or FLAT_MIN_KIB, the larger. */
static long
flat_bound(long start)
{
	long pct = (long)((double)start * FLAT_PCT / 100);

	return pct > FLAT_MIN_KIB ? pct : FLAT_MIN_KIB;
}

static double
pct_of(long part, long whole)
{
	return whole > 0 ? (double)part * 100 / (double)whole : 0;
}

/* Memory is flat when the lows of the window's ends are within the bound (the header). */
static int
flat(const struct run *x)
{
	return x->low1 - x->low0 <= flat_bound(x->low0);
}

/* The window's memory: start, end, maximum and drift per process and summed; the verdict. */
static void
report_memory(const struct run *x)
{
	const struct options *o = x->o;
	long end = 0, max, bound = flat_bound(x->low0);
	int w = 3;

	for (int i = 0; i < o->nprocs; i++) {
		end += x->srv[i].rss1;
		if ((int)strlen(o->proc_name[i]) > w)
			w = (int)strlen(o->proc_name[i]);
	}
	max = x->hold_max > end ? x->hold_max : end;
	printf("  server RSS in the window start / end / max KiB, drift = end - start  "
	    "(read %d times, once a second)\n", x->hold_samples + 1);
	for (int i = 0; i < o->nprocs; i++) {
		const struct proc *p = &x->srv[i];

		printf("    %-*s %10ld / %10ld / %10ld  %+ld KiB (%+.2f %%)\n", w,
		    o->proc_name[i], p->win0, p->rss1, p->win_max > p->rss1 ? p->win_max :
		    p->rss1, p->rss1 - p->win0, pct_of(p->rss1 - p->win0, p->win0));
	}
	printf("    %-*s %10ld / %10ld / %10ld  %+ld KiB (%+.2f %%)\n", w, "sum", x->sum0, end,
	    max, end - x->sum0, pct_of(end - x->sum0, x->sum0));
	printf("  lowest sum, first / last %.0f s  %ld / %ld KiB  %+ld KiB (%+.2f %%)\n",
	    flat_span(o), x->low0, x->low1, x->low1 - x->low0, pct_of(x->low1 - x->low0,
	    x->low0));
	printf("  memory                   %s: the lows moved %+ld KiB, %s %ld KiB (%.0f %% or "
	    "%d MiB, whichever is larger)\n", flat(x) ? "flat" : "NOT FLAT", x->low1 - x->low0,
	    flat(x) ? "within" : "over", bound, FLAT_PCT, FLAT_MIN_KIB / 1024);
	printf("  KiB per session          ");
	print_per_session(x, AT_WINDOW);
}

/* The last line, for scripts (main.c's header comment). */
static void
report_line(const struct run *x)
{
	const struct options *o = x->o;
	const struct result *r = &x->r;
	double wall = x->t_end - x->t_measure, cpu = 0;
	long end = 0, empty = 0, drift;

	for (int i = 0; i < o->nprocs; i++) {
		end += x->srv[i].rss1;
		empty += x->srv[i].rss_empty;
		cpu += x->srv[i].cpu1 - x->srv[i].cpu0;
	}
	drift = end - x->sum0;
	if (wall <= 0)
		wall = 1;
	printf("messages: sessions=%d rate=%.0f p50_ms=%.2f p99_ms=%.2f errors=%llu lost=%llu "
	    "behind=%llu rss_start_kib=%ld rss_end_kib=%ld rss_max_kib=%ld drift_kib=%ld "
	    "drift_pct=%.2f low_start_kib=%ld low_end_kib=%ld flat=%s per_session_kib=%.1f "
	    "gen_rss_kib=%ld login_s=%.1f server_cpu_pct=%.0f\n", o->users,
	    (double)r->m_delivered / wall,
	    percentile_ms(r->hist, 0.50), percentile_ms(r->hist, 0.99),
	    (unsigned long long)msg_errors(x),
	    (unsigned long long)(r->sent - r->delivered - r->bounced),
	    (unsigned long long)r->behind, x->sum0, end, x->hold_max > end ? x->hold_max : end,
	    drift, pct_of(drift, x->sum0), x->low0, x->low1, x->gone ? "unknown" : flat(x) ?
	    "yes" : "no", (double)(x->sum0 - empty) / o->users, x->gen_kb,
	    x->t_ready - x->t_start, cpu / wall * 100);
}

static int run_idle(struct run *x);

int
run(const struct options *o)
{
	struct run x = { .o = o, .r = { .drained = 1 } };
	struct result *rs;
	uint64_t lost;

	for (int i = 0; i < o->nprocs; i++) {
		x.srv[i].pid = o->proc_pid[i];
		if (bench_cpu_of(o->proc_pid[i]) < 0)		/* fail now, not after the logins */
			die("%s: no process %ld", o->proc_name[i], o->proc_pid[i]);
	}
	if (o->idle)
		return run_idle(&x);
	for (int i = 0; i < o->nprocs; i++)
		x.srv[i].rss_empty = bench_status_kb(x.srv[i].pid, "VmRSS");
	x.t_start = now();
	start_workers(&x);
	/* Logins: PBKDF2 per account on the client side, about 1 ms each. */
	if (wait_logins(&x) == -1) {
		kill_workers(x.workers, o->jobs);
		return 1;
	}
	x.t_ready = now();
	for (int i = 0; i < o->nprocs; i++)
		x.srv[i].rss0 = bench_status_kb(x.srv[i].pid, "VmRSS");
	if (o->interval > 0)
		printf("msg_load: %d clients logged in in %.1f s; %.0f s of warm-up\n", o->users,
		    x.t_ready - x.t_start, o->warmup);
	tell(x.workers, o->jobs, CMD_GO);
	sleep_s(o->warmup);
	snapshot(&x, 0);
	x.t_measure = now();
	tell(x.workers, o->jobs, CMD_MEASURE);
	if (hold_window(&x) == -1) {
		kill_workers(x.workers, o->jobs);
		return 1;
	}
	x.gen_kb = gen_rss(&x);
	tell(x.workers, o->jobs, CMD_STOP);
	x.t_end = now();
	snapshot(&x, 1);

	rs = xcalloc((size_t)o->jobs, sizeof(*rs));
	if (gather(x.workers, o->jobs, rs, sizeof(*rs), DRAIN_MAX_S + 5) == -1) {
		kill_workers(x.workers, o->jobs);
		return 1;
	}
	for (int i = 0; i < o->jobs; i++)
		merge(&x.r, &rs[i]);
	free(rs);
	report(&x);
	if (!x.gone && x.r.m_delivered > 0)
		report_memory(&x);
	report_line(&x);
	/* The workers close their streams and go. */
	for (int i = 0; i < o->jobs; i++) {
		int status;

		close(x.workers[i].cmd_fd);
		close(x.workers[i].st_fd);
		if (waitpid((pid_t)x.workers[i].pid, &status, 0) == -1 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fprintf(stderr, "msg_load: worker %ld did not end well\n",
			    x.workers[i].pid);
	}
	free(x.workers);
	lost = x.r.sent - x.r.delivered - x.r.bounced;
	if (x.gone || x.r.m_delivered == 0 || lost > 0 || x.r.bounced > 0 ||
	    x.r.out_of_order > 0 || x.r.other > 0 || x.r.disconnected > 0 || !x.r.drained) {
		fprintf(stderr, "msg_load: FAILED: %s\n", x.gone ? "a server process died" :
		    x.r.m_delivered == 0 ? "nothing delivered in the window" :
		    "messages lost, bounced, out of order or unexpected, or clients "
		    "disconnected (above)");
		return 1;
	}
	return 0;
}

/* --- idle (-I): memory per session --- */

static void
print_rss(const char *label, const struct run *x, enum rss_at at)
{
	const struct options *o = x->o;
	long sum = 0;

	printf("  %-25s", label);
	for (int i = 0; i < o->nprocs; i++) {
		long kb = rss_at(&x->srv[i], at);

		sum += kb;
		printf("%s%s %ld", i ? ", " : "", o->proc_name[i], kb);
	}
	if (at == AT_PEAK)
		printf(" KiB\n");
	else
		printf("; sum %ld KiB\n", sum);
}

static uint64_t
idle_errors(const struct run *x)
{
	const struct result *r = &x->r;

	return (uint64_t)x->o->users - (r->connected < (uint64_t)x->o->users ?
	    r->connected : (uint64_t)x->o->users) + r->other;
}

static void
report_idle(const struct run *x)
{
	const struct options *o = x->o;
	const struct result *r = &x->r;
	long empty = 0, loaded = 0, end = 0;
	double hold = x->t_end - x->t_measure, cpu = 0;

	for (int i = 0; i < o->nprocs; i++) {
		empty += x->srv[i].rss_empty;
		loaded += x->srv[i].rss0;
		end += x->srv[i].rss1;
		cpu += x->srv[i].cpu1 - x->srv[i].cpu0;
	}
	printf("msg_load: %d idle sessions in %d process%s, logged in with %s in %.1f s; "
	    "measured %.0f s after the last login, then held %.0f s\n", o->users, o->jobs,
	    o->jobs > 1 ? "es" : "", sb_scram_mech_name(o->hash, 0), x->t_ready - x->t_start,
	    o->warmup, hold);
	print_rss("RSS of the empty server", x, AT_EMPTY);
	print_rss("RSS with the sessions", x, AT_LOGGED_IN);
	print_rss("RSS at the end", x, AT_END);
	print_rss("peak RSS (VmHWM)", x, AT_PEAK);
	printf("  RSS over the hold        sum %ld .. %ld KiB  (%d samples, one a second; "
	    "end - start %+ld KiB)\n", x->hold_min, x->hold_max, x->hold_samples, end - loaded);
	printf("  KiB per session          ");
	print_per_session(x, AT_LOGGED_IN);
	printf("    at the end             ");
	print_per_session(x, AT_END);
	printf("  server CPU over the hold %9.1f ms  (", cpu * 1000);
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s %.1f", i ? ", " : "", o->proc_name[i],
		    (x->srv[i].cpu1 - x->srv[i].cpu0) * 1000);
	printf(")\n  sessions at the end      %9llu of %d connected; %llu server pings "
	    "answered, %llu unexpected stanzas\n", (unsigned long long)r->connected, o->users,
	    (unsigned long long)r->pings, (unsigned long long)r->other);
	for (int i = 0; i < r->nreasons; i++)
		printf("    %8llu  %s\n", (unsigned long long)r->reasons[i].count,
		    r->reasons[i].text);
	printf("  load generator RSS       %9ld KiB  (%.1f KiB per client; not measured, it "
	    "shares the machine)\n", x->gen_kb, (double)x->gen_kb / o->users);
	if (x->gone)
		printf("  server memory            not measured: a server process died\n");
	printf("idle: sessions=%d empty_kib=%ld loaded_kib=%ld end_kib=%ld per_session_kib=%.1f "
	    "errors=%llu per_process_kib=", o->users, empty, loaded, end,
	    (double)(loaded - empty) / o->users,
	    (unsigned long long)(idle_errors(x) + (uint64_t)x->gone));
	for (int i = 0; i < o->nprocs; i++)
		printf("%s%s:%.1f", i ? "," : "", o->proc_name[i],
		    (double)(x->srv[i].rss0 - x->srv[i].rss_empty) / o->users);
	printf("\n");
}

/*
 * The empty server's RSS, the logins, -w SECONDS to settle, the RSS with
 * the sessions, then the hold: the RSS each second, the last one the end.
 * The workers then say how many of their clients are still logged in.
 */
static int
run_idle(struct run *x)
{
	const struct options *o = x->o;
	struct result *rs;
	double t_stop;
	int status = 0;

	for (int i = 0; i < o->nprocs; i++)
		if ((x->srv[i].rss_empty = bench_status_kb(x->srv[i].pid, "VmRSS")) < 0)
			die("%s: cannot read the VmRSS of process %ld", o->proc_name[i],
			    x->srv[i].pid);
	x->t_start = now();
	start_workers(x);
	if (wait_logins(x) == -1) {
		kill_workers(x->workers, o->jobs);
		return 1;
	}
	x->t_ready = now();
	sleep_s(o->warmup);
	for (int i = 0; i < o->nprocs; i++)
		x->srv[i].rss0 = bench_status_kb(x->srv[i].pid, "VmRSS");
	snapshot(x, 0);
	x->t_measure = now();
	t_stop = x->t_measure + o->seconds;
	for (double t; sample_rss(x) >= 0 && (t = now()) < t_stop; )
		sleep_s(t_stop - t < 1 ? t_stop - t : 1);
	x->t_end = now();
	snapshot(x, 1);
	x->gen_kb = gen_rss(x);
	for (int i = 0; i < o->nprocs; i++)
		if (x->srv[i].rss0 < 0 || x->srv[i].rss1 < 0)
			x->gone = 1;
	tell(x->workers, o->jobs, CMD_STOP);

	rs = xcalloc((size_t)o->jobs, sizeof(*rs));
	if (gather(x->workers, o->jobs, rs, sizeof(*rs), DRAIN_MAX_S + 5) == -1) {
		kill_workers(x->workers, o->jobs);
		return 1;
	}
	for (int i = 0; i < o->jobs; i++)
		merge(&x->r, &rs[i]);
	free(rs);
	report_idle(x);
	for (int i = 0; i < o->jobs; i++) {
		int st;

		close(x->workers[i].cmd_fd);
		close(x->workers[i].st_fd);
		if (waitpid((pid_t)x->workers[i].pid, &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			fprintf(stderr, "msg_load: worker %ld did not end well\n",
			    x->workers[i].pid);
	}
	free(x->workers);
	if (x->gone || idle_errors(x) > 0) {
		fprintf(stderr, "msg_load: FAILED: %s\n", x->gone ? "a server process died" :
		    "sessions lost or stanzas nobody expected (above)");
		status = 1;
	}
	return status;
}

