/*
 * msg_load: one-to-one message throughput through the whole server
 * (client -> c2s -> router -> sm -> router -> c2s -> client), or across
 * federation with -D and -P (client -> c2s1 -> router1 -> sm1 -> router1 ->
 * s2s1 -> s2s2 -> router2 -> sm2 -> router2 -> c2s2 -> client). Not a test.
 *
 *   msg_load [options] C2S_PORT[,C2S_PORT...] NAME=PID...
 *     -I           idle: log in and send nothing; measure the server's memory per
 *                  session (below). -W, -b and -r do not apply then
 *     -d DOMAIN    the served domain (localhost); with -D, the senders'
 *     -D DOMAIN2   the receivers' domain, served by another server: the
 *                  receivers log in there as benchN@DOMAIN2 and the
 *                  senders address them there (default: DOMAIN)
 *     -P PORT2     the c2s port of DOMAIN2's server (default: C2S_PORT)
 *     -u USERS     client connections (200), even: accounts bench1..benchUSERS,
 *                  password "bench"; bench(2i-1) sends to bench(2i)
 *     -W WINDOW    messages in flight per pair (32)
 *     -b BYTES     body size (100)
 *     -t SECONDS   measured time (10), after a warm-up of -w SECONDS (2); with -I
 *                  the sessions are held -t SECONDS after -w SECONDS to settle (3)
 *     -r RATE      paced: RATE messages a second in all, each pair in turn,
 *                  instead of the closed loop (below); -W caps what a pair has
 *                  in flight
 *     -i SECONDS   a line every SECONDS of the measured window (and of the
 *                  login phase): rate, latency, errors, server RSS (below)
 *     -j JOBS      worker processes sharing the pairs (1)
 *     -n LOGINS    logins in flight per worker (50)
 *     -L SECONDS   the login phase's limit (60 + USERS / 100)
 *     -S COUNT     source addresses: client i binds 127.0.0.(2 + i % COUNT),
 *                  COUNT up to 253 (default: none bound, 127.0.0.1)
 *     -1           SCRAM-SHA-1 instead of SCRAM-SHA-256
 *     -p PRIORITY  the client's gnutls priority string (CLIENT_PRIORITY)
 *   C2S_PORT     one port, or several c2s processes' ports: client i (account
 *                  bench(i+1)) connects to the (i % n)-th, so with two or more
 *                  a sender and its receiver are on different c2s processes
 *                  and every message crosses the router twice
 *   NAME=PID       the server processes whose CPU and memory are measured
 *                  (router=123 c2s=456 sm=789), read from /proc/PID; up to
 *                  MAX_PROCS of them
 *
 * Every client logs in for real, as login_load.c does (STARTTLS, SCRAM
 * without channel binding, bind), sends initial presence (sm delivers
 * only to available resources) and then a chat message to itself, whose
 * return proves the presence was handled. With -D, each sender then
 * pings DOMAIN2 (XEP-0199, answered by its sm) and waits for the result:
 * the first ones set up the server-to-server stream, so it is up before
 * the burst (a remote domain's queue while its stream is set up is
 * small: s2s's <queue/>, 1000 stanzas by default). Once every client of every
 * worker is there, the senders send chat messages to their receiver's
 * bare JID, keeping WINDOW of them in flight per pair: each delivery lets
 * the sender send one more. The message's id is its sequence number;
 * the receiver checks the order and measures the latency from the send
 * time the pair keeps for each message in flight. After the measured time
 * the senders stop and the workers wait until every message has arrived
 * (or DRAIN_MAX_S), so "lost" is exact: sent - delivered - bounced.
 *
 * The parent process only keeps time: it forks the workers, tells them
 * "go" (warm-up), "measure" and "stop" over pipes, and reads at those
 * moments the CPU time (utime + stime of /proc/PID/stat) of the server
 * processes and of its workers, so a figure per delivered message is the
 * server's CPU in the window divided by the messages delivered in it.
 * The workers send back their counters and a latency histogram
 * (log-linear, 1/16 precision), which merge across processes. More than
 * one worker is needed only past the descriptor limit of one process
 * (about 20,000 connections here): every worker competes with the server
 * for the same cores, and the report says how much CPU they took.
 *
 * Reading the figures. The load is a closed loop, so the window decides
 * what is measured: with -W 1 every message is a TLS record and a system
 * call of its own on both client connections (the cost of sparse real
 * traffic, c2s's share dominates); with the default 32 the messages
 * travel in batches (one read, one record, one write for many), the
 * processes take turns on the batches and none of them is saturated
 * (latency = in flight / rate). pairs x window is also the burst sent at
 * "go": past about 30,000 messages in flight (fewer with a slower sm) the
 * router's queue to sm or c2s can exceed its write-buffer bound (4 MiB)
 * and the link is dropped, since nothing pushes back yet
 * (docs/ARCHITECTURE.md).
 *
 * Paced (-r). A closed loop saturates the server by construction: with
 * many pairs the latency is only what is in flight over the rate. With -r
 * the senders offer a fixed rate instead, as people typing do: every
 * PACE_MS each worker sends the messages then due at its share of RATE,
 * one per pair in turn, so a pair sends every PAIRS / RATE seconds. A pair
 * that still has WINDOW messages in flight when its turn comes skips it,
 * counted as "behind": the server does not keep up with the offered rate.
 * The latency is then what a message takes at that load. The clients'
 * XML parsers are released between reads (as in idle mode), so a client
 * costs the generator little more than its TLS session.
 *
 * Long runs. Every second of the measured window the parent reads the
 * VmRSS of the server processes; it reports per process and summed the
 * RSS at the start of the window (after the warm-up), at the end and the
 * maximum, and the drift (end - start). The verdict: memory is flat when
 * the lowest summed RSS of the window's last FLAT_SPAN_S (150 s, a third
 * of a shorter window) exceeds the lowest of its first FLAT_SPAN_S by at
 * most FLAT_PCT (2 %) of the latter or FLAT_MIN_KIB (16 MiB), whichever
 * is larger. Why the lows and not the two end points: memory swings with
 * what the server does periodically (c2s wakes a silent client's parser
 * for each ping, every <ping-interval>, 2 minutes by default, and gives
 * the pages back later), so one reading may fall on a crest; a span
 * longer than that cycle holds a trough, and a leak lifts the troughs
 * too (at 100,000 sessions the sum swings by about 65 MiB, 3 %, with
 * that cycle). Why these bounds: after the warm-up, buffers and allocator
 * arenas have grown to what the traffic needs, so what still grows is
 * what the traffic leaves behind. At 100,000 sessions (a server of about
 * 1.9 GiB) 2 % is about 0.4 KiB per session, and a leak of 10 bytes per
 * message over a 10-minute run at 8,000 messages/s (4.8 million
 * messages, 46 MiB) is caught; the 16 MiB floor is for small servers,
 * where one malloc arena growing by a few MiB is not a leak. The verdict does not
 * change the exit status; scripts read flat= in the last line.
 *
 * With -i SECONDS a line per interval shows the messages/s delivered in
 * it, p50 and p99 of those messages, the errors so far (bounced, out of
 * order, unexpected stanzas, clients disconnected) and the summed server
 * RSS; -i also prints the login phase's progress. The last line sums the
 * run up for scripts (on one line):
 *   messages: sessions=N rate=R p50_ms=A p99_ms=B errors=E lost=L behind=K
 *   rss_start_kib=S rss_end_kib=T rss_max_kib=M drift_kib=D drift_pct=P
 *   low_start_kib=L0 low_end_kib=L1 flat=yes|no per_session_kib=Q
 *   gen_rss_kib=G login_s=T server_cpu_pct=C
 * where errors counts every message not delivered and every surprise,
 * the lows are those the verdict compares, per_session_kib is (RSS at the
 * start of the window - RSS before the first login) / USERS, gen_rss_kib
 * the workers' RSS at the end, login_s the time from the first connection
 * to the last client ready and server_cpu_pct the server processes' CPU
 * over the window, in % of one core.
 *
 * Many clients. A connection's ephemeral port (32768-60999) must be
 * unique per source and destination, so from 127.0.0.1 at most about
 * 28,000 clients reach one c2s port; -S spreads the clients over source
 * addresses of 127.0.0.0/8 (never any other) with sb_conn_connect_from().
 * A worker holds at most its descriptor limit of
 * connections (about 20,000 here): use -j. A login that fails (timeout
 * IO_TIMEOUT_MS per step, a stream error) ends the run with the account,
 * the step and the reason; the whole login phase has -L SECONDS.
 *
 * Idle (-I): every client logs in as above (presence and the message to
 * itself included: its return says sm has made the session available),
 * then nobody sends anything. The parent reads the summed VmRSS (of
 * /proc/PID/status) of the server processes before the first client
 * connects (the empty server), -w SECONDS after the last login (the
 * sessions) and each second of the -t SECONDS hold, the last one the end
 * figure. Per session is (RSS with the sessions - RSS empty) / USERS, per
 * process and summed, in KiB. A server may ping idle clients (XEP-0199):
 * the clients answer, as real clients do. At the end every session must
 * still be connected: each one that is not, and each stanza nobody
 * expected, counts as an error. The last line sums it up for scripts:
 *   idle: sessions=N empty_kib=A loaded_kib=B end_kib=C per_session_kib=D
 *   errors=E per_process_kib=NAME:D1,NAME:D2,...  (on one line)
 * The generator's own memory, not measured but on the same machine, is
 * kept low: an idle client's XML parser is released (it is rebuilt for a
 * ping), and its TLS session is most of what stays.
 *
 * tools/bench/messages.sh sets up the server and runs it; tools/bench/idle.sh
 * runs the idle mode and tools/bench/scale.sh the 100,000-session run.
 * msg_load.h lists the program's files: this one holds the options, main()
 * and the helpers the worker and the parent share.
 */

#include "msg_load.h"

double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The receivers' domain: DOMAIN2 with -D, else DOMAIN. */
const char *
rcv_domain(const struct options *o)
{
	return o->domain2 != NULL ? o->domain2 : o->domain;
}

void
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "msg_load[%ld]: ", (long)getpid());
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Anything unexpected is counted by reason; the last row collects the overflow. */
void
count_reason(struct result *r, const char *fmt, ...)
{
	char text[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	add_reason(r, text, 1);
}

void
add_reason(struct result *r, const char *text, uint64_t count)
{
	int i;

	for (i = 0; i < r->nreasons; i++)
		if (strcmp(r->reasons[i].text, text) == 0)
			break;
	if (i == r->nreasons) {
		if (r->nreasons == MAX_REASONS)
			i--;
		else
			snprintf(r->reasons[r->nreasons++].text, sizeof(r->reasons[0].text),
			    "%s", text);
	}
	r->reasons[i].count += count;
}

int
hist_index(uint64_t us)
{
	int msb, i;

	if (us < 32)
		return (int)us;
	msb = 63 - __builtin_clzll(us);
	i = 32 + (msb - 5) * 16 + (int)((us >> (msb - 4)) & 15);
	return i < HIST_N ? i : HIST_N - 1;
}

/* The middle of bucket i, in microseconds. (No libm: the Makefile does not link it.) */
double
hist_value(int i)
{
	int e;

	if (i < 32)
		return i;
	e = (i - 32) / 16 + 1;
	return (double)((uint64_t)(16 + (i - 32) % 16) << e) + (double)(1ULL << (e - 1));
}

/* --- set-up --- */

static void
usage(void)
{
	fprintf(stderr, "usage: msg_load [-1I] [-d domain] [-D domain2] [-P c2s_port2] [-u users] "
	    "[-W window]\n"
	    "                [-b bytes] [-r rate] [-t seconds] [-w warmup] [-i interval]\n"
	    "                [-j jobs] [-n logins] [-L login_seconds] [-S sources] "
	    "[-p priority]\n"
	    "                C2S_PORT[,C2S_PORT...] NAME=PID...\n");
	exit(2);
}

static void
parse_args(struct options *o, int argc, char **argv)
{
	int ch, warmup = 0;
	char *port, *end;

	while ((ch = getopt(argc, argv, "1b:d:D:i:Ij:L:n:p:P:r:S:t:u:w:W:")) != -1) {
		switch (ch) {
		case '1': o->hash = SB_SCRAM_SHA1; break;
		case 'I': o->idle = 1; break;
		case 'b': o->body = atoi(optarg); break;
		case 'd': o->domain = optarg; break;
		case 'D': o->domain2 = optarg; break;
		case 'i': o->interval = atof(optarg); break;
		case 'j': o->jobs = atoi(optarg); break;
		case 'L': o->login_max = atof(optarg); break;
		case 'n': o->logins = atoi(optarg); break;
		case 'p': o->priority = optarg; break;
		case 'P': o->c2s_port2 = atoi(optarg); break;
		case 'r': o->rate = atof(optarg); break;
		case 'S': o->sources = atoi(optarg); break;
		case 't': o->seconds = atof(optarg); break;
		case 'u': o->users = atoi(optarg); break;
		case 'w': o->warmup = atof(optarg); warmup = 1; break;
		case 'W': o->window = atoi(optarg); break;
		default: usage();
		}
	}
	if (argc - optind < 1 || argc - optind > MAX_PROCS + 1 || o->users < 2 ||
	    o->users % 2 != 0 || o->window < 1 || o->body < 0 || o->body > 4000 ||
	    o->jobs < 1 || o->jobs > o->users / 2 || o->logins < 1 || o->seconds <= 0 ||
	    o->warmup < 0 || o->c2s_port2 < 0 || o->rate < 0 || o->interval < 0 ||
	    o->login_max < 0 || o->sources < 0 || o->sources > MAX_SOURCES)
		usage();
	if (!warmup)		/* not given: a warm-up, or with -I time to settle */
		o->warmup = o->idle ? 3 : 2;
	if (o->login_max == 0)
		o->login_max = 60 + o->users / 100.0;
	for (port = argv[optind++]; ; port = end + 1) {
		long n = strtol(port, &end, 10);

		if (end == port || n < 1 || n > 65535 || (*end != ',' && *end != '\0') ||
		    o->nports == MAX_PORTS)
			usage();
		o->ports[o->nports++] = (int)n;
		if (*end == '\0')
			break;
	}
	for (; optind < argc; optind++) {
		char *eq = strchr(argv[optind], '=');

		if (eq == NULL || eq == argv[optind])
			usage();
		*eq = '\0';
		o->proc_name[o->nprocs] = argv[optind];
		o->proc_pid[o->nprocs++] = atol(eq + 1);
	}
}

/* Each worker holds its share of the connections: raise the descriptor limit. */
static void
raise_nofile(const struct options *o)
{
	struct rlimit rl;
	int most = 2 * ((o->users / 2 + o->jobs - 1) / o->jobs);	/* the largest share */
	rlim_t need = (rlim_t)(most + 2 + 64);

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < need) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (rl.rlim_cur < need)
		die("%d connections per process need %lu descriptors, the limit is %lu: "
		    "use more processes (-j)", most, (unsigned long)need,
		    (unsigned long)rl.rlim_cur);
}

int
main(int argc, char **argv)
{
	struct options o = {
		.domain = "localhost", .priority = CLIENT_PRIORITY, .users = 200, .window = 32,
		.body = 100, .jobs = 1, .logins = 50, .seconds = 10,
		.hash = SB_SCRAM_SHA256,
	};

	parse_args(&o, argc, argv);
	raise_nofile(&o);
	setvbuf(stdout, NULL, _IOLBF, 0);
	return run(&o);
}
