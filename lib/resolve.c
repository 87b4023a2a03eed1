/*
 * resolve.c: SRV, AAAA and A lookups for s2s on c-ares inside the libuv
 * loop (see resolve.h for what the caller gets).
 *
 * The glue: c-ares says through its socket-state callback which sockets
 * to watch; each gets a uv_poll whose events go to ares_process_fd(). One
 * uv_timer is armed for ares_timeout() after every call into c-ares.
 * c-ares closes its sockets when no lookup is left, so an idle resolver
 * has no active handle and does not keep the loop alive.
 *
 * A query has two stages, each a batch of lookups in parallel counted by
 * 'pending': the two SRV lookups, then AAAA and A for each distinct target
 * host. When the count drops to zero the stage is judged. A finished query
 * waits on the resolver's done list for a zero timer that runs the
 * callbacks: c-ares may answer from inside ares_query() (a bad name, no
 * memory), which would be from inside our API.
 *
 * Cancelling only marks a query; it is freed when its last lookup returns,
 * or when the done list reaches it. ares_destroy() in sb_resolver_free()
 * returns every lookup still out, with ARES_EDESTRUCTION.
 */
#include <sys/random.h>

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ares.h>

#include "hash.h"
#include "log.h"
#include "resolve.h"
#include "xmalloc.h"

/* Records taken from one SRV answer; a larger answer is cut (unordered). */
#define MAX_SRV_PER_SERVICE	64

enum { LK_SRV, LK_AAAA, LK_A };
enum { STAGE_SRV, STAGE_ADDR, STAGE_DONE };

/* The argument of one c-ares lookup: which query and what for. */
struct lookup {
	struct sb_resolve_query	*q;
	int			 kind;	/* LK_* */
	size_t			 index;	/* service (LK_SRV) or host */
};

/* One SRV service and its answer. */
struct service {
	struct lookup	 lk;
	const char	*prefix;	/* "_xmpps-server._tcp." */
	int		 direct_tls;
	int		 status;	/* of the lookup, ARES_ENODATA when nothing usable */
	int		 dot;		/* a lone "." target: decidedly not offered */
	struct sb_srv	*recs;		/* usable records; targets owned */
	size_t		 nrecs;
};

/* A distinct target host and what its AAAA and A lookups found. */
struct host {
	char		*name;
	struct lookup	 lk6, lk4;
	int		 st6, st4;	/* ares status of each lookup */
	char		 ip6[SB_RESOLVE_MAX_ADDRS][46];
	char		 ip4[SB_RESOLVE_MAX_ADDRS][46];
	int		 n6, n4;
};

struct target {
	size_t		 host;		/* index into q->hosts */
	int		 port;
	int		 direct_tls;
};

struct sb_resolve_query {
	struct sb_resolver	*r;
	struct sb_resolve_query	*prev, *next;	/* r->queries: not yet freed */
	struct sb_resolve_query	*done_next;	/* r->done */
	int			 listed;	/* on r->queries */
	sb_resolve_cb		*cb;
	void			*arg;
	char			*domain;
	int			 default_port;
	int			 stage;
	int			 pending;	/* lookups out in c-ares */
	int			 cancelled;
	struct service		 svc[2];	/* xmpps first: it wins weight-0 ties */
	struct host		*hosts;
	size_t			 nhosts;
	struct target		 targets[SB_RESOLVE_MAX_TARGETS];
	size_t			 ntargets;
	/* The outcome, for the callback. */
	enum sb_resolve_status	 status;
	int			 srv;
	struct sb_resolve_addr	*addrs;
	size_t			 naddrs;
	char			 error[320];
};

/* One socket c-ares asked us to watch. */
struct sock {
	uv_poll_t		 poll;
	struct sb_resolver	*r;
	struct sock		*next;
	ares_socket_t		 fd;
};

struct sb_resolver {
	uv_loop_t		*loop;
	ares_channel		 channel;
	uv_timer_t		 timer;		/* ares_timeout() */
	uv_timer_t		 deliver;	/* zero timer for the done list */
	struct sock		*socks;
	struct sb_resolve_query	*queries;	/* every query not yet freed */
	struct sb_resolve_query	*done, *done_tail;	/* finished, to deliver */
	int			 handles;	/* open; the memory goes with the last */
	int			 freed;
};

/* Resolvers alive in the process: ares_library_init() once for all. */
static int lib_users;

static void	 on_answer(void *, int, int, unsigned char *, int);
static void	 on_timer(uv_timer_t *);
static void	 deliver(uv_timer_t *);

/* --- loop glue --- */

static void
handle_closed(uv_handle_t *h)
{
	struct sb_resolver *r = h->data;

	if (--r->handles == 0)
		free(r);
}

static void
sock_closed(uv_handle_t *h)
{
	struct sock *s = (struct sock *)h;
	struct sb_resolver *r = s->r;

	free(s);
	if (--r->handles == 0)
		free(r);
}

/* Keep the timer armed for c-ares' next deadline; stopped when idle. */
static void
schedule(struct sb_resolver *r)
{
	struct timeval tv, *tvp;
	uint64_t ms;

	if (r->freed)
		return;
	tvp = ares_timeout(r->channel, NULL, &tv);
	if (tvp == NULL) {
		uv_timer_stop(&r->timer);
		return;
	}
	/* Rounded up: a timer due a little early only wakes us for nothing. */
	ms = (uint64_t)tvp->tv_sec * 1000 + ((uint64_t)tvp->tv_usec + 999) / 1000;
	uv_timer_start(&r->timer, on_timer, ms, 0);
}

static void
on_timer(uv_timer_t *t)
{
	struct sb_resolver *r = t->data;

	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	schedule(r);
}

static void
on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *s = (struct sock *)p;
	struct sb_resolver *r = s->r;
	ares_socket_t rfd = ARES_SOCKET_BAD, wfd = ARES_SOCKET_BAD;

	/* On a poll error let c-ares try both ways and see the error itself. */
	if (status < 0 || (events & UV_READABLE))
		rfd = s->fd;
	if (status < 0 || (events & UV_WRITABLE))
		wfd = s->fd;
	ares_process_fd(r->channel, rfd, wfd);
	schedule(r);
}

static void
close_sock(struct sb_resolver *r, struct sock *s)
{
	struct sock **pp;

	for (pp = &r->socks; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	uv_close((uv_handle_t *)&s->poll, sock_closed);
}

/*
 * c-ares' socket-state callback: watch fd for what it asks, or stop (it
 * is about to close fd). Stopping at once matters: c-ares may open a new
 * socket with the same number before the old handle's close completes.
 */
static void
sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct sb_resolver *r = data;
	struct sock *s;
	int err;

	for (s = r->socks; s != NULL && s->fd != fd; s = s->next)
		;
	if (!readable && !writable) {
		if (s != NULL)
			close_sock(r, s);
		return;
	}
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		if ((err = uv_poll_init_socket(r->loop, &s->poll, fd)) != 0) {
			/* The lookup on it will time out. */
			log_warn("resolver: cannot watch DNS socket %d: %s", (int)fd,
			    uv_strerror(err));
			free(s);
			return;
		}
		s->r = r;
		s->fd = fd;
		s->next = r->socks;
		r->socks = s;
		r->handles++;
	}
	uv_poll_start(&s->poll, (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0),
	    on_poll);
}

/* --- resolvers --- */

struct sb_resolver *
sb_resolver_new(uv_loop_t *loop, const struct sb_resolve_conf *conf, char *err, size_t errlen)
{
	struct ares_options opts;
	struct sb_resolver *r;
	int rc;

	if (lib_users == 0 && (rc = ares_library_init(ARES_LIB_INIT_ALL)) != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		return NULL;
	}
	lib_users++;
	r = xcalloc(1, sizeof(*r));
	r->loop = loop;
	memset(&opts, 0, sizeof(opts));
	opts.sock_state_cb = sock_state;
	opts.sock_state_cb_data = r;
	opts.timeout = conf != NULL && conf->timeout_ms ? (int)conf->timeout_ms : 2000;
	opts.tries = conf != NULL && conf->tries ? (int)conf->tries : 2;
	opts.lookups = (char *)"b";	/* DNS only, never /etc/hosts */
	rc = ares_init_options(&r->channel, &opts, ARES_OPT_SOCK_STATE_CB |
	    ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(rc));
		goto fail;
	}
	if (conf != NULL && conf->servers != NULL &&
	    (rc = ares_set_servers_ports_csv(r->channel, conf->servers)) != ARES_SUCCESS) {
		snprintf(err, errlen, "DNS servers \"%s\": %s", conf->servers,
		    ares_strerror(rc));
		ares_destroy(r->channel);
		goto fail;
	}
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	uv_timer_init(loop, &r->deliver);
	r->deliver.data = r;
	r->handles = 2;
	return r;

fail:
	free(r);
	if (--lib_users == 0)
		ares_library_cleanup();
	return NULL;
}

static void	 query_free(struct sb_resolve_query *);

void
sb_resolver_free(struct sb_resolver *r)
{
	struct sb_resolve_query *q;

	if (r == NULL || r->freed)
		return;
	r->freed = 1;
	for (q = r->queries; q != NULL; q = q->next)
		q->cancelled = 1;
	/* Finished queries have no lookup out. */
	while ((q = r->done) != NULL) {
		r->done = q->done_next;
		query_free(q);
	}
	r->done_tail = NULL;
	/* Every lookup still out comes back now, and its query goes with it. */
	ares_destroy(r->channel);
	r->channel = NULL;
	while ((q = r->queries) != NULL) {
		log_error("resolver: query for %s outlived its channel", q->domain);
		query_free(q);
	}
	if (--lib_users == 0)
		ares_library_cleanup();
	/* c-ares closed its sockets and told sock_state(); any left go too. */
	while (r->socks != NULL)
		close_sock(r, r->socks);
	uv_close((uv_handle_t *)&r->timer, handle_closed);
	uv_close((uv_handle_t *)&r->deliver, handle_closed);
}

/* --- SRV ordering (RFC 2782) --- */

uint32_t
sb_resolve_random(void *unused)
{
	static _Thread_local uint32_t buf[32];
	static _Thread_local size_t left;
	static _Thread_local uint64_t fallback;

	if (left == 0) {
		if (getrandom(buf, sizeof(buf), GRND_NONBLOCK) != (ssize_t)sizeof(buf)) {
			/* Only balancing depends on it: the clock will do. */
			for (size_t i = 0; i < 32; i++)
				buf[i] = (uint32_t)sb_hash_mix(uv_hrtime() + ++fallback);
		}
		left = 32;
	}
	return buf[--left];
}

void
sb_resolve_srv_order(struct sb_srv *recs, size_t n, uint32_t (*rnd)(void *), void *rnd_arg)
{
	struct sb_srv tmp;
	size_t i, j, k, start, end;
	uint64_t sum, lo, pick, run;
	int zero;

	/*
	 * Stable sort by priority, weight-0 records first within one: the
	 * list the RFC's selection runs over. Insertion sort: n is small.
	 */
	for (i = 1; i < n; i++) {
		tmp = recs[i];
		for (j = i; j > 0 && (recs[j - 1].priority > tmp.priority ||
		    (recs[j - 1].priority == tmp.priority &&
		    recs[j - 1].weight > 0 && tmp.weight <= 0)); j--)
			recs[j] = recs[j - 1];
		recs[j] = tmp;
	}
	for (start = 0; start < n; start = end) {
		for (end = start; end < n && recs[end].priority == recs[start].priority; end++)
			;
		/* Choose the record for place i from [i, end). */
		for (i = start; i + 1 < end; i++) {
			sum = 0;
			zero = 0;
			for (k = i; k < end; k++) {
				if (recs[k].weight > 0)
					sum += (uint64_t)recs[k].weight;
				else
					zero = 1;
			}
			if (sum == 0)
				continue;	/* all weight 0: keep the order */
			lo = zero ? 0 : 1;
			pick = lo + rnd(rnd_arg) % (sum - lo + 1);
			run = 0;
			for (k = i; k < end; k++) {
				if (recs[k].weight > 0)
					run += (uint64_t)recs[k].weight;
				if (run >= pick)
					break;
			}
			/* Move it to place i; the others keep their order. */
			tmp = recs[k];
			memmove(&recs[i + 1], &recs[i], (k - i) * sizeof(*recs));
			recs[i] = tmp;
		}
	}
}

/* --- queries --- */

static int
is_temporary(int status)
{
	switch (status) {
	case ARES_SUCCESS:
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
	case ARES_EBADNAME:
		return 0;
	default:
		return 1;
	}
}

static const char *
status_text(int status)
{
	switch (status) {
	case ARES_ENOTFOUND:	return "no such domain";
	case ARES_ENODATA:	return "no records";
	case ARES_ETIMEOUT:	return "timeout";
	case ARES_ESERVFAIL:	return "server failure";
	case ARES_EREFUSED:	return "query refused";
	case ARES_ECONNREFUSED:	return "no DNS server reachable";
	case ARES_EBADNAME:	return "not a valid domain name";
	default:		return ares_strerror(status);
	}
}

/* "." (c-ares strips the trailing dot, so the root comes as ""). */
static int
is_root(const char *name)
{
	return name[0] == '\0' || strcmp(name, ".") == 0;
}

/* Off r->queries, the list sb_resolver_free() cleans up. */
static void
query_unlink(struct sb_resolve_query *q)
{
	if (!q->listed)
		return;
	q->listed = 0;
	if (q->prev != NULL)
		q->prev->next = q->next;
	else
		q->r->queries = q->next;
	if (q->next != NULL)
		q->next->prev = q->prev;
}

static void
query_free(struct sb_resolve_query *q)
{
	query_unlink(q);
	for (int i = 0; i < 2; i++) {
		for (size_t j = 0; j < q->svc[i].nrecs; j++)
			free((char *)q->svc[i].recs[j].target);
		free(q->svc[i].recs);
	}
	for (size_t i = 0; i < q->nhosts; i++)
		free(q->hosts[i].name);
	free(q->hosts);
	free(q->addrs);
	free(q->domain);
	free(q);
}

/* The outcome is known: deliver it from the loop. */
static void __attribute__((format(printf, 3, 4)))
finish(struct sb_resolve_query *q, enum sb_resolve_status st, const char *fmt, ...)
{
	struct sb_resolver *r = q->r;
	va_list ap;

	q->stage = STAGE_DONE;
	q->status = st;
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(q->error, sizeof(q->error), fmt, ap);
		va_end(ap);
	}
	q->done_next = NULL;
	if (r->done_tail != NULL)
		r->done_tail->done_next = q;
	else
		r->done = q;
	r->done_tail = q;
	if (!uv_is_active((uv_handle_t *)&r->deliver))
		uv_timer_start(&r->deliver, deliver, 0, 0);
}

static void
deliver(uv_timer_t *t)
{
	struct sb_resolver *r = t->data;
	struct sb_resolve_query *q, *last = r->done_tail;
	struct sb_resolve_result res;
	int was_last = 0;

	/* Queries finished by the callbacks wait for the next round. */
	while (!was_last && !r->freed && (q = r->done) != NULL) {
		r->done = q->done_next;
		if (r->done == NULL)
			r->done_tail = NULL;
		was_last = q == last;
		if (q->cancelled) {
			query_free(q);
			continue;
		}
		/* So that freeing the resolver in the callback spares it. */
		query_unlink(q);
		q->cancelled = 1;	/* a cancel from the callback is a no-op */
		res.addrs = q->addrs;
		res.naddrs = q->naddrs;
		res.srv = q->srv;
		if (q->status == SB_RESOLVE_OK)
			q->cb(q->arg, q->status, &res, NULL);
		else
			q->cb(q->arg, q->status, NULL, q->error);
		query_free(q);
	}
}

static void
srv_answer(struct service *svc, int status, const unsigned char *abuf, int alen)
{
	struct ares_srv_reply *replies = NULL, *rep;
	size_t n = 0;

	if (status == ARES_SUCCESS)
		status = ares_parse_srv_reply(abuf, alen, &replies);
	if (status == ARES_SUCCESS && replies == NULL)
		status = ARES_ENODATA;	/* e.g. only a CNAME */
	svc->status = status;
	if (status != ARES_SUCCESS)
		return;
	if (replies->next == NULL && is_root(replies->host)) {
		svc->dot = 1;
		ares_free_data(replies);
		return;
	}
	for (rep = replies; rep != NULL; rep = rep->next)
		n++;
	if (n > MAX_SRV_PER_SERVICE)
		n = MAX_SRV_PER_SERVICE;
	svc->recs = xcalloc(n, sizeof(*svc->recs));
	for (rep = replies; rep != NULL && svc->nrecs < n; rep = rep->next) {
		/* A "." among other records, or port 0, leads nowhere. */
		if (is_root(rep->host) || rep->port == 0)
			continue;
		svc->recs[svc->nrecs++] = (struct sb_srv){
			.target = xstrdup(rep->host),
			.port = rep->port,
			.priority = rep->priority,
			.weight = rep->weight,
			.direct_tls = svc->direct_tls,
		};
	}
	ares_free_data(replies);
	if (svc->nrecs == 0)
		svc->status = ARES_ENODATA;
}

static void
addr_answer(struct host *h, int kind, int status, const unsigned char *abuf, int alen)
{
	struct ares_addr6ttl a6[SB_RESOLVE_MAX_ADDRS];
	struct ares_addrttl a4[SB_RESOLVE_MAX_ADDRS];
	int n = SB_RESOLVE_MAX_ADDRS;

	if (kind == LK_AAAA) {
		if (status == ARES_SUCCESS)
			status = ares_parse_aaaa_reply(abuf, alen, NULL, a6, &n);
		if (status == ARES_SUCCESS && n == 0)
			status = ARES_ENODATA;
		h->st6 = status;
		for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
			if (inet_ntop(AF_INET6, &a6[i].ip6addr, h->ip6[h->n6], 46) != NULL)
				h->n6++;
		}
	} else {
		if (status == ARES_SUCCESS)
			status = ares_parse_a_reply(abuf, alen, NULL, a4, &n);
		if (status == ARES_SUCCESS && n == 0)
			status = ARES_ENODATA;
		h->st4 = status;
		for (int i = 0; status == ARES_SUCCESS && i < n; i++) {
			if (inet_ntop(AF_INET, &a4[i].ipaddr, h->ip4[h->n4], 46) != NULL)
				h->n4++;
		}
	}
}

static void
add_target(struct sb_resolve_query *q, const char *name, int port, int direct_tls)
{
	size_t i;

	for (i = 0; i < q->nhosts && strcasecmp(q->hosts[i].name, name) != 0; i++)
		;
	if (i == q->nhosts)
		q->hosts[q->nhosts++].name = xstrdup(name);
	q->targets[q->ntargets++] = (struct target){ i, port, direct_tls };
}

/* Stage two: AAAA and A for every host, all at once. */
static void
start_addr(struct sb_resolve_query *q)
{
	ares_channel ch = q->r->channel;
	struct host *h;

	q->stage = STAGE_ADDR;
	/* Counted before asking: c-ares may answer from inside ares_query(). */
	q->pending = (int)(2 * q->nhosts);
	for (size_t i = 0; i < q->nhosts; i++) {
		h = &q->hosts[i];
		h->lk6 = (struct lookup){ q, LK_AAAA, i };
		h->lk4 = (struct lookup){ q, LK_A, i };
		ares_query(ch, h->name, ns_c_in, ns_t_aaaa, on_answer, &h->lk6);
		ares_query(ch, h->name, ns_c_in, ns_t_a, on_answer, &h->lk4);
	}
}

/* Both SRV answers are in: records, no service, a failure or the fallback. */
static void
srv_done(struct sb_resolve_query *q)
{
	struct sb_srv recs[2 * MAX_SRV_PER_SERVICE];
	size_t n = 0;
	int i;

	for (i = 0; i < 2; i++) {
		if (q->svc[i].nrecs > 0)
			memcpy(&recs[n], q->svc[i].recs, q->svc[i].nrecs * sizeof(*recs));
		n += q->svc[i].nrecs;
	}
	if (n > 0) {
		sb_resolve_srv_order(recs, n, sb_resolve_random, NULL);
		if (n > SB_RESOLVE_MAX_TARGETS)
			n = SB_RESOLVE_MAX_TARGETS;
		q->srv = 1;
		q->hosts = xcalloc(n, sizeof(*q->hosts));
		for (size_t k = 0; k < n; k++)
			add_target(q, recs[k].target, recs[k].port, recs[k].direct_tls);
		start_addr(q);
		return;
	}
	/* _xmpp-server (the classic service) explains a failure best. */
	for (i = 1; i >= 0; i--) {
		if (is_temporary(q->svc[i].status)) {
			finish(q, SB_RESOLVE_TEMPORARY, "%s%s: %s", q->svc[i].prefix,
			    q->domain, status_text(q->svc[i].status));
			return;
		}
	}
	if (q->svc[0].dot || q->svc[1].dot) {
		finish(q, SB_RESOLVE_NOT_FOUND,
		    "%s: server-to-server service decidedly not offered (SRV target \".\")",
		    q->domain);
		return;
	}
	/* No SRV records at all: the domain itself (RFC 6120 3.2.2). */
	q->hosts = xcalloc(1, sizeof(*q->hosts));
	add_target(q, q->domain, q->default_port, 0);
	start_addr(q);
}

/* Why a host has no address; *temporary says whether it may come back. */
static const char *
host_failure(const struct host *h, int *temporary)
{
	*temporary = 1;
	if (is_temporary(h->st6))
		return status_text(h->st6);
	if (is_temporary(h->st4))
		return status_text(h->st4);
	*temporary = 0;
	if (h->st6 == ARES_ENOTFOUND || h->st4 == ARES_ENOTFOUND)
		return "no such domain";
	if (h->st6 == ARES_EBADNAME || h->st4 == ARES_EBADNAME)
		return status_text(ARES_EBADNAME);
	return "no address records";
}

static int
listed(const struct sb_resolve_query *q, const char *ip, const struct target *t)
{
	for (size_t i = 0; i < q->naddrs; i++) {
		if (q->addrs[i].port == t->port && q->addrs[i].direct_tls == t->direct_tls &&
		    strcmp(q->addrs[i].ip, ip) == 0)
			return 1;
	}
	return 0;
}

/* Every address lookup is in: the flat list in target order. */
static void
addr_done(struct sb_resolve_query *q)
{
	const struct host *h, *failed = NULL;
	const char *ip, *why = NULL, *w;
	int temporary = 0, t_tmp;

	q->addrs = xcalloc(q->ntargets * SB_RESOLVE_MAX_ADDRS, sizeof(*q->addrs));
	for (size_t i = 0; i < q->ntargets; i++) {
		const struct target *t = &q->targets[i];
		int i6 = 0, i4 = 0, six = 1;

		h = &q->hosts[t->host];
		/* IPv6 and IPv4 alternate, IPv6 first (RFC 8305 section 4). */
		for (int k = 0; k < SB_RESOLVE_MAX_ADDRS && (i6 < h->n6 || i4 < h->n4); k++) {
			if ((six && i6 < h->n6) || i4 >= h->n4)
				ip = h->ip6[i6++];
			else
				ip = h->ip4[i4++];
			six = !six;
			if (listed(q, ip, t))
				continue;
			snprintf(q->addrs[q->naddrs].ip, sizeof(q->addrs[q->naddrs].ip), "%s", ip);
			q->addrs[q->naddrs].port = t->port;
			q->addrs[q->naddrs].direct_tls = t->direct_tls;
			q->addrs[q->naddrs].host = h->name;
			q->naddrs++;
		}
		if (h->n6 + h->n4 > 0)
			continue;
		/* The first temporary failure explains best; else the first. */
		w = host_failure(h, &t_tmp);
		if (failed == NULL || (t_tmp && !temporary)) {
			failed = h;
			why = w;
			temporary = t_tmp;
		}
	}
	if (q->naddrs > 0) {
		log_debug("resolve %s: %zu address%s from %s", q->domain, q->naddrs,
		    q->naddrs == 1 ? "" : "es", q->srv ? "SRV" : "A/AAAA");
		finish(q, SB_RESOLVE_OK, NULL);
	} else if (q->nhosts == 1) {
		finish(q, temporary ? SB_RESOLVE_TEMPORARY : SB_RESOLVE_NOT_FOUND, "%s: %s",
		    failed->name, why);
	} else {
		finish(q, temporary ? SB_RESOLVE_TEMPORARY : SB_RESOLVE_NOT_FOUND,
		    "%s: none of %zu SRV targets has an address (%s: %s)", q->domain,
		    q->nhosts, failed->name, why);
	}
}

static void
on_answer(void *arg, int status, int timeouts, unsigned char *abuf, int alen)
{
	struct lookup *lk = arg;
	struct sb_resolve_query *q = lk->q;

	q->pending--;
	if (status == ARES_EDESTRUCTION || status == ARES_ECANCELLED)
		q->cancelled = 1;
	if (q->cancelled) {
		if (q->pending == 0)
			query_free(q);
		return;
	}
	if (lk->kind == LK_SRV)
		srv_answer(&q->svc[lk->index], status, abuf, alen);
	else
		addr_answer(&q->hosts[lk->index], lk->kind, status, abuf, alen);
	if (q->pending > 0)
		return;
	if (q->stage == STAGE_SRV)
		srv_done(q);
	else
		addr_done(q);
}

/* An IP literal ("192.0.2.1", "[2001:db8::1]", "2001:db8::1") needs no DNS. */
static int
ip_literal(struct sb_resolve_query *q)
{
	char buf[64];
	unsigned char bin[sizeof(struct in6_addr)];
	const char *d = q->domain;
	size_t len = strlen(d);
	int af;

	if (len >= sizeof(buf))
		return 0;
	if (d[0] == '[' && len > 2 && d[len - 1] == ']') {
		memcpy(buf, d + 1, len - 2);
		buf[len - 2] = '\0';
		af = AF_INET6;
	} else {
		memcpy(buf, d, len + 1);
		af = strchr(buf, ':') != NULL ? AF_INET6 : AF_INET;
	}
	if (inet_pton(af, buf, bin) != 1)
		return 0;
	q->addrs = xcalloc(1, sizeof(*q->addrs));
	inet_ntop(af, bin, q->addrs[0].ip, sizeof(q->addrs[0].ip));
	q->addrs[0].port = q->default_port;
	q->addrs[0].host = q->domain;
	q->naddrs = 1;
	finish(q, SB_RESOLVE_OK, NULL);
	return 1;
}

/* Not worth asking DNS: empty, too long, or bytes no A-label has. */
static int
bad_domain(const char *d)
{
	size_t len = strlen(d);

	if (len == 0 || len > 253 || d[0] == '.')
		return 1;
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)d[i] <= ' ' || (unsigned char)d[i] >= 0x7f)
			return 1;
	}
	return 0;
}

struct sb_resolve_query *
sb_resolve_xmpp_server(struct sb_resolver *r, const char *domain, int default_port,
    sb_resolve_cb *cb, void *arg)
{
	static const char *const prefixes[2] = { "_xmpps-server._tcp.", "_xmpp-server._tcp." };
	struct sb_resolve_query *q;
	char name[300];

	q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->cb = cb;
	q->arg = arg;
	q->domain = xstrdup(domain != NULL ? domain : "");
	q->default_port = default_port;
	q->next = r->queries;
	if (r->queries != NULL)
		r->queries->prev = q;
	r->queries = q;
	q->listed = 1;
	if (ip_literal(q))
		return q;
	if (bad_domain(q->domain)) {
		finish(q, SB_RESOLVE_NOT_FOUND, "\"%s\": not a valid domain name", q->domain);
		return q;
	}
	q->stage = STAGE_SRV;
	q->pending = 2;
	for (int i = 0; i < 2; i++) {
		q->svc[i].lk = (struct lookup){ q, LK_SRV, (size_t)i };
		q->svc[i].prefix = prefixes[i];
		q->svc[i].direct_tls = i == 0;
		snprintf(name, sizeof(name), "%s%s", prefixes[i], q->domain);
		ares_query(r->channel, name, ns_c_in, ns_t_srv, on_answer, &q->svc[i].lk);
	}
	schedule(r);
	return q;
}

void
sb_resolve_cancel(struct sb_resolve_query *q)
{
	if (q != NULL)
		q->cancelled = 1;
}
