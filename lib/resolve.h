/*
 * resolve.h: asynchronous DNS for server-to-server connections: where to
 * connect for an XMPP domain (RFC 6120 section 3.2, RFC 2782, XEP-0368),
 * as a list of numeric addresses in the order to try them.
 *
 * c-ares does the DNS, inside the caller's libuv loop: one uv_poll per
 * socket c-ares opens (its socket-state callback says which) and one
 * uv_timer for its retransmissions. Nothing blocks and no thread or
 * process is involved. Only DNS is asked: /etc/hosts is not read (that
 * would be a file read on the loop for every lookup).
 *
 * sb_resolve_xmpp_server() asks, in parallel, for the SRV records of
 * _xmpps-server._tcp.DOMAIN (direct TLS, XEP-0368) and
 * _xmpp-server._tcp.DOMAIN (STARTTLS), then:
 *
 *   - records from either service: both sets are mixed into one and
 *     ordered by RFC 2782 (sb_resolve_srv_order()); where records of
 *     weight 0 of both kinds share a priority, the xmpps ones come first
 *     (XEP-0368 mixes the two and lets us prefer one kind on a tie:
 *     direct TLS saves round trips). One service failing temporarily
 *     does not matter when the other gave records. At most
 *     SB_RESOLVE_MAX_TARGETS records are used.
 *   - a lone record with target "." says the service is decidedly not
 *     offered: that service contributes nothing, and there is no A/AAAA
 *     fallback (RFC 6120 3.2.1, XEP-0368).
 *   - both services absent (NXDOMAIN or no SRV records): the domain's own
 *     AAAA/A records on default_port, without direct TLS (RFC 6120 3.2.2).
 *   - nothing usable and a temporary failure (timeout, SERVFAIL, refused,
 *     no server reachable): SB_RESOLVE_TEMPORARY; nothing usable
 *     otherwise: SB_RESOLVE_NOT_FOUND.
 *
 * Every target's AAAA and A records are then asked for in parallel. The
 * address list follows the target order; within a target, IPv6 and IPv4
 * addresses alternate, IPv6 first (as RFC 8305 interleaves them), at most
 * SB_RESOLVE_MAX_ADDRS per target, and an address already listed with the
 * same port and TLS mode is not listed again. Targets without an address
 * are left out; if none has one, the status says why (TEMPORARY when any
 * failed temporarily). A domain that is an IP literal ("192.0.2.1",
 * "[2001:db8::1]") gives that address on default_port without DNS.
 * When SRV records were used (res->srv), a caller whose connections to
 * every address fail must not fall back to the domain's own A/AAAA
 * records (RFC 6120 3.2.1). Answers are not cached here (c-ares 1.18 has
 * no cache): the system's recursive resolver is expected to cache.
 *
 * The callback runs exactly once for each query not cancelled, always
 * from a libuv callback, never from inside a call into this module. It
 * may start queries, cancel others and free the resolver.
 *
 * Shutdown: sb_resolver_free() drops pending queries (their callbacks never
 * run) and closes the resolver's handles; their memory goes in libuv's
 * close callbacks. Call it before or during sb_loop_shutdown() (conn.h) so
 * that the loop can end and uv_loop_close() returns 0.
 */
#ifndef SB_RESOLVE_H
#define SB_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

struct sb_resolver;
struct sb_resolve_query;

/* SRV records used at most per query (both services together). */
#define SB_RESOLVE_MAX_TARGETS	16
/* Addresses used at most per target. */
#define SB_RESOLVE_MAX_ADDRS	8

/* Zero means the default for every number. Strings are copied. */
struct sb_resolve_conf {
	const char	*servers;	/* c-ares csv "127.0.0.53:53,[::1]:53";
					   NULL: the system's /etc/resolv.conf */
	unsigned	 timeout_ms;	/* 2000: per try (c-ares doubles it for
					   each round over the servers) */
	unsigned	 tries;		/* 2 */
};

struct sb_resolve_addr {
	char		 ip[46];	/* numeric, for sb_conn_connect() */
	int		 port;
	int		 direct_tls;	/* 1: from an _xmpps-server SRV record
					   (XEP-0368): TLS from the first byte */
	const char	*host;		/* the SRV target (or the domain itself on
					   fallback), for log lines */
};

struct sb_resolve_result {
	const struct sb_resolve_addr *addrs;	/* in the order to try them */
	size_t		 naddrs;		/* > 0 on OK */
	int		 srv;		/* 1 when SRV records were used, 0 on the
					   A/AAAA fallback (or an IP literal) */
};

enum sb_resolve_status {
	SB_RESOLVE_OK,
	SB_RESOLVE_NOT_FOUND,	/* NXDOMAIN, no address at all, or the service is
				   decidedly not offered (SRV target ".") */
	SB_RESOLVE_TEMPORARY,	/* timeout, SERVFAIL, refused, no server reachable */
};

/*
 * res and everything it points to is valid only during the call; res is
 * NULL unless st is OK. error is a reason for log lines on NOT_FOUND and
 * TEMPORARY ("_xmpp-server._tcp.b.example: timeout", "b.example: no such
 * domain"), NULL on OK.
 */
typedef void sb_resolve_cb(void *arg, enum sb_resolve_status st,
	    const struct sb_resolve_result *res, const char *error);

/*
 * A resolver for one loop; several may share a loop. NULL with err on a
 * bad server list or when c-ares cannot start (no usable resolv.conf is
 * not an error: c-ares then asks 127.0.0.1).
 */
struct sb_resolver *sb_resolver_new(uv_loop_t *loop, const struct sb_resolve_conf *conf,
	    char *err, size_t errlen);
/* Drop pending queries (callbacks never run) and close; see above. */
void	 sb_resolver_free(struct sb_resolver *r);

/*
 * Where to connect for the XMPP domain (ASCII, A-labels); default_port is
 * for the A/AAAA fallback (5269). The query handle is valid until its
 * callback returns or it is cancelled. Never NULL: even a bad domain is
 * answered through the callback (NOT_FOUND).
 */
struct sb_resolve_query *sb_resolve_xmpp_server(struct sb_resolver *r, const char *domain,
	    int default_port, sb_resolve_cb *cb, void *arg);
/*
 * The callback will not run. Harmless from inside the query's own
 * callback; the handle must not be used afterwards.
 */
void	 sb_resolve_cancel(struct sb_resolve_query *q);

/* --- the ordering, exposed for tests --- */

struct sb_srv {
	const char	*target;
	int		 port, priority, weight, direct_tls;
};

/*
 * Order SRV records in place as RFC 2782 says: lowest priority first;
 * within a priority, repeated weighted random selection, with the records
 * of weight 0 first in the running sum (so they come out in their input
 * order, and a priority whose weights are all 0 keeps its input order).
 * rnd returns uniform 32-bit numbers; a number in [0, sum] picks the
 * first record whose running sum reaches it. When a priority has no
 * record of weight 0 the number is taken from [1, sum] instead: the RFC's
 * 0 exists to give weight-0 records their small chance, and without them
 * it would only favour the first record; so the chances stay exactly
 * proportional to the weights.
 */
void	 sb_resolve_srv_order(struct sb_srv *recs, size_t n,
	    uint32_t (*rnd)(void *), void *rnd_arg);
/* The process's random source (getrandom(2)), for sb_resolve_srv_order(). */
uint32_t sb_resolve_random(void *unused);

#endif
