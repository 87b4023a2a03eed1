/*
 * resolve.c: tests for lib/resolve.c, the asynchronous XMPP server
 * resolver.
 *
 * The SRV ordering is driven with fixed random numbers, then checked over
 * many runs with the real random source. The lookups go to a dnsmasq of
 * our own on 127.0.0.1 at a free port, serving made-up zones under
 * "example" (names it does not know answer NXDOMAIN); timeouts go to a
 * UDP socket that never answers. Every callback checks that it was not
 * called from inside sb_resolve_xmpp_server().
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "resolve.h"
#include "tap.h"

#define DNSMASQ		"/usr/sbin/dnsmasq"

static uv_loop_t uvloop, *loop = &uvloop;
static pid_t dnsmasq_pid;
static int in_api;		/* inside sb_resolve_xmpp_server() */
static int called_in_api;	/* callbacks that ran there: must stay 0 */

/* --- SRV ordering with a fixed random source --- */

struct fixed_rnd {
	const uint32_t	*v;
	size_t		 n, used;
};

static uint32_t
fixed(void *arg)
{
	struct fixed_rnd *f = arg;

	return f->used < f->n ? f->v[f->used++] : (f->used++, 0);
}

/* The targets in order, "a,b,c". */
static const char *
order_of(const struct sb_srv *recs, size_t n)
{
	static char buf[256];
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? "," : "", recs[i].target);
	return buf;
}

/* Order recs (copied) with the given random numbers; "targets" back. */
static const char *
order(const struct sb_srv *in, size_t n, const uint32_t *v, size_t nv, size_t *used)
{
	struct sb_srv recs[16];
	struct fixed_rnd f = { v, nv, 0 };

	memcpy(recs, in, n * sizeof(*recs));
	sb_resolve_srv_order(recs, n, fixed, &f);
	if (used != NULL)
		*used = f.used;
	return order_of(recs, n);
}

static void
test_order(void)
{
	static const struct sb_srv prio[] = {
		{ "a", 1, 20, 0, 0 }, { "b", 1, 10, 0, 0 }, { "c", 1, 30, 0, 0 }, { "d", 1, 10, 0, 0 },
	};
	/* After sorting: z alone at priority 0; a (weight 0), b, c at 1. */
	static const struct sb_srv w[] = {
		{ "b", 1, 1, 10, 0 }, { "a", 1, 1, 0, 0 }, { "c", 1, 1, 20, 0 }, { "z", 1, 0, 5, 0 },
	};
	static const struct sb_srv nz[] = { { "x", 1, 0, 1, 0 }, { "y", 1, 0, 3, 0 } };
	size_t used;

	is_str(order(prio, 4, NULL, 0, &used), "b,d,a,c",
	    "lowest priority first; all weights 0 keep their order");
	is_int(used, 0, "no random number drawn when every weight is 0");

	/* [a,b,c]: sum 30 with a weight 0, so the pick is v % 31. */
	is_str(order(w, 4, (uint32_t[]){ 15, 0 }, 2, NULL), "z,c,a,b",
	    "pick 15 of [0,30] selects c (running sums 0,10,30), then 0 of [0,10] selects a");
	is_str(order(w, 4, (uint32_t[]){ 5, 20 }, 2, NULL), "z,b,c,a",
	    "pick 5 selects b; then 20 of [0,20] selects c");
	is_str(order(w, 4, (uint32_t[]){ 0, 9 }, 2, &used), "z,a,b,c",
	    "pick 0 selects the weight-0 record (it comes first in the running sum)");
	is_int(used, 2, "one number per choice among several, none for a lone record");
	is_str(order(w, 4, (uint32_t[]){ 31 + 30, 0 }, 2, NULL), "z,c,a,b",
	    "the number is reduced into [0,sum]");
	/* Without a weight-0 record: a pick from [1,sum]. */
	is_str(order(nz, 2, (uint32_t[]){ 0 }, 1, NULL), "x,y",
	    "no weight 0: pick 1 of [1,4] selects x (weight 1)");
	is_str(order(nz, 2, (uint32_t[]){ 1 }, 1, NULL), "y,x",
	    "no weight 0: pick 2 of [1,4] selects y (weight 3)");
	is_str(order(nz, 2, (uint32_t[]){ 3 }, 1, NULL), "y,x",
	    "no weight 0: pick 4 of [1,4] selects y");
}

/* A weight-3 record comes first about three times as often as a weight-1 one. */
static void
test_order_stats(void)
{
	/* Weight 3 first: the RFC's pick 0 would favour it (4:1). */
	static const struct sb_srv in[] = { { "three", 1, 5, 3, 0 }, { "one", 1, 5, 1, 0 } };
	struct sb_srv recs[2];
	int three = 0, one = 0, zero_first = 0;
	double ratio;

	for (int i = 0; i < 20000; i++) {
		memcpy(recs, in, sizeof(recs));
		sb_resolve_srv_order(recs, 2, sb_resolve_random, NULL);
		if (strcmp(recs[0].target, "three") == 0)
			three++;
		else
			one++;
	}
	ratio = one ? (double)three / one : 0;
	ok(ratio > 2.7 && ratio < 3.3, "weight 3 first %.2f times as often as weight 1 (%d:%d)",
	    ratio, three, one);

	/* A weight-0 record beside weight 9 comes first about 1 time in 10. */
	for (int i = 0; i < 20000; i++) {
		struct sb_srv r2[2] = { { "nine", 1, 5, 9, 0 }, { "zero", 1, 5, 0, 0 } };

		sb_resolve_srv_order(r2, 2, sb_resolve_random, NULL);
		zero_first += strcmp(r2[0].target, "zero") == 0;
	}
	ok(zero_first > 1500 && zero_first < 2500,
	    "a weight-0 record keeps its small chance: first %d times in 20000", zero_first);
}

/* --- a dnsmasq of our own --- */

/* A port free for UDP and TCP on 127.0.0.1 (it may be taken again; unlikely). */
static int
free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int u, t, port = -1;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	t = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(u, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(u, (struct sockaddr *)&sin, &len) == 0 &&
	    bind(t, (struct sockaddr *)&sin, sizeof(sin)) == 0)
		port = ntohs(sin.sin_port);
	close(u);
	close(t);
	return port;
}

static int
tcp_ready(int port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0), ok_ = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0) {
		ok_ = connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0;
		close(fd);
	}
	return ok_;
}

static const char *const zone[] = {
	/* a.example: direct TLS preferred by priority, STARTTLS second. */
	"--srv-host=_xmpps-server._tcp.a.example,xs.a.example,5270,5,0",
	"--srv-host=_xmpp-server._tcp.a.example,x.a.example,5269,10,0",
	"--host-record=xs.a.example,127.0.0.2,::2",
	"--host-record=x.a.example,127.0.0.3",
	/* tie.example: same priority, weight 0: xmpps first whatever the order. */
	"--srv-host=_xmpp-server._tcp.tie.example,x.tie.example,5269,10,0",
	"--srv-host=_xmpps-server._tcp.tie.example,xs.tie.example,5270,10,0",
	"--host-record=x.tie.example,127.0.1.1",
	"--host-record=xs.tie.example,127.0.1.2",
	/* both.example: one host for both services. */
	"--srv-host=_xmpps-server._tcp.both.example,h.both.example,5270,1,0",
	"--srv-host=_xmpp-server._tcp.both.example,h.both.example,5269,2,0",
	"--host-record=h.both.example,127.0.1.3",
	/* dot.example: "." for xmpp, nothing for xmpps, an A record to ignore. */
	"--srv-host=_xmpp-server._tcp.dot.example",
	"--host-record=dot.example,127.0.0.9",
	/* dotx.example: "." for xmpps only, so xmpp's records count. */
	"--srv-host=_xmpps-server._tcp.dotx.example",
	"--srv-host=_xmpp-server._tcp.dotx.example,x.dotx.example,5269,0,0",
	"--host-record=x.dotx.example,127.0.1.4",
	/* fb.example: no SRV, addresses of its own. */
	"--host-record=fb.example,127.0.0.4,::4",
	/* skip.example: the first target does not exist. */
	"--srv-host=_xmpp-server._tcp.skip.example,gone.skip.example,5269,1,0",
	"--srv-host=_xmpp-server._tcp.skip.example,ok.skip.example,5269,2,0",
	"--host-record=ok.skip.example,127.0.0.5",
	/* dead.example: no target exists. */
	"--srv-host=_xmpp-server._tcp.dead.example,gone.dead.example,5269,1,0",
	/* noaddr.example: a name with no address at all (only a TXT). */
	"--txt-record=noaddr.example,hello",
};

static int
start_dnsmasq(int port)
{
	char *argv[128], portarg[32], userarg[64], grouparg[64];
	struct passwd *pw = getpwuid(geteuid());
	struct group *gr = getgrgid(getegid());
	size_t n = 0;
	static char cap[2][20][96], many[13][64];

	argv[n++] = DNSMASQ;
	argv[n++] = "--no-resolv";
	argv[n++] = "--no-hosts";
	argv[n++] = "--conf-file=/dev/null";
	argv[n++] = "--keep-in-foreground";
	argv[n++] = "--bind-interfaces";
	argv[n++] = "--listen-address=127.0.0.1";
	argv[n++] = "--pid-file";
	argv[n++] = "--local=/example/";
	snprintf(portarg, sizeof(portarg), "--port=%d", port);
	argv[n++] = portarg;
	/*
	 * Stay who we are: a change of user or group would clear the
	 * parent-death signal that stops dnsmasq if this test dies.
	 */
	snprintf(userarg, sizeof(userarg), "--user=%s", pw ? pw->pw_name : "root");
	snprintf(grouparg, sizeof(grouparg), "--group=%s", gr ? gr->gr_name : "root");
	argv[n++] = userarg;
	argv[n++] = grouparg;
	for (size_t i = 0; i < sizeof(zone) / sizeof(*zone); i++)
		argv[n++] = (char *)zone[i];
	/* cap.example: 20 SRV records, priority i for h<i>. */
	for (int i = 1; i <= 20; i++) {
		snprintf(cap[0][i - 1], sizeof(cap[0][0]),
		    "--srv-host=_xmpp-server._tcp.cap.example,h%d.cap.example,5269,%d,0", i, i);
		snprintf(cap[1][i - 1], sizeof(cap[1][0]),
		    "--host-record=h%d.cap.example,127.0.2.%d", i, i);
		argv[n++] = cap[0][i - 1];
		argv[n++] = cap[1][i - 1];
	}
	/* many.example: 10 IPv4 and 3 IPv6 addresses. */
	for (int i = 0; i < 13; i++) {
		if (i < 10)
			snprintf(many[i], sizeof(many[i]), "--host-record=many.example,127.0.3.%d", i + 1);
		else
			snprintf(many[i], sizeof(many[i]), "--host-record=many.example,::%d", i);
		argv[n++] = many[i];
	}
	argv[n] = NULL;

	fflush(stdout);
	if ((dnsmasq_pid = fork()) < 0)
		return -1;
	if (dnsmasq_pid == 0) {
		int fd = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fd, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execv(DNSMASQ, argv);
		_exit(127);
	}
	for (int i = 0; i < 300; i++) {
		if (tcp_ready(port))
			return 0;
		if (waitpid(dnsmasq_pid, NULL, WNOHANG) == dnsmasq_pid) {
			dnsmasq_pid = 0;
			return -1;
		}
		usleep(10000);
	}
	return -1;
}

static void
stop_dnsmasq(void)
{
	if (dnsmasq_pid > 0) {
		kill(dnsmasq_pid, SIGTERM);
		waitpid(dnsmasq_pid, NULL, 0);
		dnsmasq_pid = 0;
	}
}

static void
on_alarm(int sig)
{
	static const char msg[] = "Bail out! timed out\n";

	if (dnsmasq_pid > 0)
		kill(dnsmasq_pid, SIGKILL);
	(void)!write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

/* --- queries --- */

struct got {
	int			 calls;
	enum sb_resolve_status	 st;
	int			 srv;
	size_t			 naddrs;
	struct sb_resolve_addr	 addrs[32];
	char			 hosts[32][64];
	char			 error[256];
	struct sb_resolver	*free_me;	/* free this resolver in the callback */
	struct sb_resolve_query	*cancel_me[2];	/* cancel these in the callback */
};

static void
got_cb(void *arg, enum sb_resolve_status st, const struct sb_resolve_result *res,
    const char *error)
{
	struct got *g = arg;

	if (in_api)
		called_in_api++;
	g->calls++;
	g->st = st;
	g->error[0] = '\0';
	g->naddrs = 0;
	if (error != NULL)
		snprintf(g->error, sizeof(g->error), "%s", error);
	if (res != NULL) {
		g->srv = res->srv;
		for (size_t i = 0; i < res->naddrs && i < 32; i++) {
			g->addrs[i] = res->addrs[i];
			snprintf(g->hosts[i], sizeof(g->hosts[i]), "%s", res->addrs[i].host);
			g->addrs[i].host = g->hosts[i];
		}
		g->naddrs = res->naddrs;
	}
	for (int i = 0; i < 2; i++) {
		if (g->cancel_me[i] != NULL)
			sb_resolve_cancel(g->cancel_me[i]);
	}
	if (g->free_me != NULL)
		sb_resolver_free(g->free_me);
}

static struct sb_resolve_query *
start(struct sb_resolver *r, const char *domain, int port, struct got *g)
{
	struct sb_resolve_query *q;

	in_api = 1;
	q = sb_resolve_xmpp_server(r, domain, port, got_cb, g);
	in_api = 0;
	return q;
}

/* Resolve and wait: nothing else runs, so the loop ends with the query. */
static void
resolve(struct sb_resolver *r, const char *domain, int port, struct got *g)
{
	memset(g, 0, sizeof(*g));
	start(r, domain, port, g);
	uv_run(loop, UV_RUN_DEFAULT);
}

/* "[ip]:port/tls host" for one address, "" past the end. */
static const char *
addr(const struct got *g, size_t i)
{
	static char buf[4][160];
	static int k;
	char *b = buf[k++ % 4];

	if (i >= g->naddrs)
		return "";
	snprintf(b, sizeof(buf[0]), "%s:%d%s %s", g->addrs[i].ip, g->addrs[i].port,
	    g->addrs[i].direct_tls ? "/tls" : "", g->addrs[i].host);
	return b;
}

static void
test_srv(struct sb_resolver *r)
{
	struct got g;

	resolve(r, "a.example", 5269, &g);
	is_int(g.calls, 1, "a.example: one callback");
	is_int(g.st, SB_RESOLVE_OK, "a.example: OK");
	is_int(g.srv, 1, "a.example: SRV records used");
	is_int(g.naddrs, 3, "a.example: three addresses");
	is_str(addr(&g, 0), "::2:5270/tls xs.a.example", "xmpps target first (priority 5), IPv6 first");
	is_str(addr(&g, 1), "127.0.0.2:5270/tls xs.a.example", "then its IPv4 address");
	is_str(addr(&g, 2), "127.0.0.3:5269 x.a.example", "then the xmpp target without direct TLS");
	is_str(g.error, "", "no error text on OK");

	resolve(r, "tie.example", 5269, &g);
	is_int(g.naddrs, 2, "tie.example: two addresses");
	is_str(addr(&g, 0), "127.0.1.2:5270/tls xs.tie.example",
	    "same priority, weight 0: the xmpps record first");
	is_str(addr(&g, 1), "127.0.1.1:5269 x.tie.example", "the xmpp record second");

	resolve(r, "both.example", 5269, &g);
	is_int(g.naddrs, 2, "both.example: one host, two services, two entries");
	is_str(addr(&g, 0), "127.0.1.3:5270/tls h.both.example", "direct TLS port first");
	is_str(addr(&g, 1), "127.0.1.3:5269 h.both.example", "STARTTLS port second");

	resolve(r, "dot.example", 5269, &g);
	is_int(g.st, SB_RESOLVE_NOT_FOUND, "dot.example: \".\" target: NOT_FOUND");
	is_int(g.naddrs, 0, "dot.example: no fallback to its A record");
	ok(strstr(g.error, "not offered") != NULL, "dot.example: the error says so: %s", g.error);

	resolve(r, "dotx.example", 5269, &g);
	is_int(g.st, SB_RESOLVE_OK, "dotx.example: \".\" for xmpps only: xmpp records used");
	is_str(addr(&g, 0), "127.0.1.4:5269 x.dotx.example", "dotx.example: the xmpp target");
	is_int(g.naddrs, 1, "dotx.example: one address");

	resolve(r, "skip.example", 5269, &g);
	is_int(g.st, SB_RESOLVE_OK, "skip.example: OK although a target does not exist");
	is_int(g.naddrs, 1, "skip.example: the missing target is left out");
	is_str(addr(&g, 0), "127.0.0.5:5269 ok.skip.example", "skip.example: the other target");

	resolve(r, "dead.example", 5269, &g);
	is_int(g.st, SB_RESOLVE_NOT_FOUND, "dead.example: no target resolves: NOT_FOUND");
	ok(strstr(g.error, "gone.dead.example: no such domain") != NULL,
	    "dead.example: the error names the target: %s", g.error);

	resolve(r, "cap.example", 5269, &g);
	is_int(g.naddrs, SB_RESOLVE_MAX_TARGETS, "cap.example: 20 SRV records, 16 targets used");
	is_str(addr(&g, 0), "127.0.2.1:5269 h1.cap.example", "cap.example: priority 1 first");
	is_str(addr(&g, 15), "127.0.2.16:5269 h16.cap.example", "cap.example: priority 16 last");
}

static void
test_fallback(struct sb_resolver *r)
{
	struct got g;
	char fam[16] = "";

	resolve(r, "fb.example", 5999, &g);
	is_int(g.st, SB_RESOLVE_OK, "fb.example: no SRV: OK by A/AAAA");
	is_int(g.srv, 0, "fb.example: srv is 0");
	is_int(g.naddrs, 2, "fb.example: two addresses");
	is_str(addr(&g, 0), "::4:5999 fb.example", "fallback on default_port, IPv6 first");
	is_str(addr(&g, 1), "127.0.0.4:5999 fb.example", "then IPv4, no direct TLS");

	resolve(r, "many.example", 5269, &g);
	is_int(g.naddrs, SB_RESOLVE_MAX_ADDRS, "many.example: 13 addresses capped at 8");
	for (size_t i = 0; i < g.naddrs && i < sizeof(fam) - 1; i++)
		fam[i] = strchr(g.addrs[i].ip, ':') ? '6' : '4';
	is_str(fam, "64646444", "IPv6 and IPv4 alternate while both last");

	resolve(r, "nx.example", 5269, &g);
	is_int(g.calls, 1, "nx.example: one callback");
	is_int(g.st, SB_RESOLVE_NOT_FOUND, "nx.example: NXDOMAIN: NOT_FOUND");
	is_str(g.error, "nx.example: no such domain", "nx.example: the error text");

	resolve(r, "noaddr.example", 5269, &g);
	is_int(g.st, SB_RESOLVE_NOT_FOUND, "noaddr.example: a name without addresses: NOT_FOUND");
	is_str(g.error, "noaddr.example: no address records", "noaddr.example: the error text");

	resolve(r, "127.0.0.7", 5270, &g);
	is_int(g.st, SB_RESOLVE_OK, "an IPv4 literal resolves");
	is_str(addr(&g, 0), "127.0.0.7:5270 127.0.0.7", "to itself on default_port");
	resolve(r, "[::1]", 5269, &g);
	is_str(addr(&g, 0), "::1:5269 [::1]", "a bracketed IPv6 literal too");

	resolve(r, "", 5269, &g);
	is_int(g.st, SB_RESOLVE_NOT_FOUND, "an empty domain: NOT_FOUND");
	resolve(r, "bad domain.example", 5269, &g);
	is_int(g.st, SB_RESOLVE_NOT_FOUND, "a domain with a space: NOT_FOUND");
}

static void
test_not_inside(struct sb_resolver *r)
{
	struct got g = { 0 }, g2 = { 0 };

	/* An IP literal is answered at once, a bad name by c-ares at once. */
	start(r, "127.0.0.1", 5269, &g);
	start(r, "a.b..example", 5269, &g2);
	is_int(g.calls + g2.calls, 0, "no callback before the loop runs");
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(g.calls, 1, "the literal's callback ran from the loop");
	is_int(g2.calls, 1, "the bad name's callback ran from the loop");
	is_int(g2.st, SB_RESOLVE_NOT_FOUND, "an empty label: NOT_FOUND");
}

static void
test_cancel(struct sb_resolver *r)
{
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 }, g4 = { 0 }, g5 = { 0 };
	struct got g6 = { 0 }, g7 = { 0 };

	sb_resolve_cancel(start(r, "a.example", 5269, &g1));	/* lookups out */
	sb_resolve_cancel(start(r, "127.0.0.8", 5269, &g2));	/* finished, undelivered */
	/* The literals are delivered first, before any DNS answer is in. */
	g6.cancel_me[0] = start(r, "fb.example", 5269, &g3);
	start(r, "fb.example", 5269, &g4);
	g5.cancel_me[0] = start(r, "127.0.0.9", 5269, &g5);	/* itself */
	start(r, "127.0.0.10", 5269, &g6);
	g6.cancel_me[1] = start(r, "127.0.0.11", 5269, &g7);	/* due after g6 */
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(g1.calls, 0, "a query cancelled with lookups out never calls back");
	is_int(g2.calls, 0, "a query cancelled after its answer never calls back");
	is_int(g3.calls, 0, "a query cancelled from another's callback never calls back");
	is_int(g4.calls, 1, "the query beside them calls back");
	is_int(g4.st, SB_RESOLVE_OK, "and resolves");
	is_int(g5.calls, 1, "cancelling itself from its own callback is harmless");
	is_int(g6.calls, 1, "a callback that cancels other queries runs");
	is_int(g7.calls, 0, "a query cancelled by an earlier callback of its round never calls back");
}

/* A UDP socket on 127.0.0.1 that never answers. */
static int
silent_socket(int *port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) != 0)
		return -1;
	*port = ntohs(sin.sin_port);
	return fd;
}

static void
test_unreachable(void)
{
	struct sb_resolve_conf conf = { .timeout_ms = 100, .tries = 1 };
	struct sb_resolver *r;
	char servers[64], err[256];
	struct got g;
	int fd, port;

	fd = silent_socket(&port);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
	conf.servers = servers;
	r = sb_resolver_new(loop, &conf, err, sizeof(err));
	ok(r != NULL, "a resolver for a server that never answers");
	resolve(r, "a.example", 5269, &g);
	is_int(g.calls, 1, "silent server: one callback");
	is_int(g.st, SB_RESOLVE_TEMPORARY, "silent server: TEMPORARY");
	ok(strstr(g.error, "timeout") != NULL, "silent server: the error says timeout: %s", g.error);
	sb_resolver_free(r);

	/* The same port closed: ICMP port unreachable. */
	close(fd);
	r = sb_resolver_new(loop, &conf, err, sizeof(err));
	resolve(r, "a.example", 5269, &g);
	is_int(g.st, SB_RESOLVE_TEMPORARY, "closed port: TEMPORARY (%s)", g.error);
	sb_resolver_free(r);
	uv_run(loop, UV_RUN_DEFAULT);

	conf.servers = "not an address";
	r = sb_resolver_new(loop, &conf, err, sizeof(err));
	ok(r == NULL && strstr(err, "not an address") != NULL, "a bad server list is refused: %s",
	    err);
}

static void
test_free_pending(void)
{
	struct sb_resolve_conf conf = { .timeout_ms = 3000, .tries = 2 };
	struct sb_resolver *r;
	char servers[64], err[256];
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };
	uint64_t t0;
	int fd, port;

	fd = silent_socket(&port);
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
	conf.servers = servers;
	r = sb_resolver_new(loop, &conf, err, sizeof(err));
	start(r, "a.example", 5269, &g1);
	start(r, "fb.example", 5269, &g2);
	uv_run(loop, UV_RUN_NOWAIT);
	start(r, "127.0.0.1", 5269, &g3);	/* finished, undelivered */
	ok(uv_loop_alive(loop), "queries pending: the loop is alive");
	sb_resolver_free(r);
	uv_update_time(loop);
	t0 = uv_now(loop);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(g1.calls + g2.calls + g3.calls, 0, "freed with queries pending: no callback");
	ok(!uv_loop_alive(loop), "the loop ends after sb_resolver_free()");
	ok(uv_now(loop) - t0 < 1000, "without waiting for the DNS timeout (%llu ms)",
	    (unsigned long long)(uv_now(loop) - t0));
	close(fd);
}

static void
test_free_in_callback(const char *servers)
{
	struct sb_resolve_conf conf = { .servers = servers };
	struct sb_resolver *r;
	char err[256];
	struct got g1 = { 0 }, g2 = { 0 }, g3 = { 0 };

	r = sb_resolver_new(loop, &conf, err, sizeof(err));
	g1.free_me = r;
	start(r, "127.0.0.1", 5269, &g1);
	start(r, "127.0.0.2", 5269, &g2);
	start(r, "a.example", 5269, &g3);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(g1.calls, 1, "a callback frees the resolver");
	is_int(g2.calls + g3.calls, 0, "the other queries are dropped");
}

int
main(void)
{
	struct sb_resolve_conf conf = { 0 };
	struct sb_resolver *r, *r2;
	char servers[64], err[256];
	int port;

	if (access(DNSMASQ, X_OK) != 0) {
		printf("1..0 # SKIP dnsmasq not installed\n");
		return 0;
	}
	signal(SIGALRM, on_alarm);
	alarm(20);
	uv_loop_init(loop);

	test_order();
	test_order_stats();

	for (int i = 0; i < 20 && (port = free_port()) < 0; i++)
		;
	if (port < 0 || start_dnsmasq(port) != 0) {
		ok(0, "dnsmasq started on port %d", port);
		stop_dnsmasq();
		return done_testing();
	}
	snprintf(servers, sizeof(servers), "127.0.0.1:%d", port);
	conf.servers = servers;
	r = sb_resolver_new(loop, &conf, err, sizeof(err));
	ok(r != NULL, "resolver for dnsmasq at %s%s%s", servers, r ? "" : ": ", r ? "" : err);
	if (r == NULL) {
		stop_dnsmasq();
		return done_testing();
	}
	/* A second resolver on the loop: the library is shared. */
	r2 = sb_resolver_new(loop, &conf, err, sizeof(err));
	ok(r2 != NULL, "a second resolver on the same loop");

	test_srv(r);
	test_fallback(r2);
	test_not_inside(r);
	test_cancel(r);
	test_unreachable();
	test_free_pending();
	test_free_in_callback(servers);
	is_int(called_in_api, 0, "no callback ever ran inside sb_resolve_xmpp_server()");

	sb_resolver_free(r);
	sb_resolver_free(r2);
	uv_run(loop, UV_RUN_DEFAULT);
	is_int(uv_loop_close(loop), 0, "uv_loop_close() returns 0 after sb_resolver_free()");
	stop_dnsmasq();
	return done_testing();
}
