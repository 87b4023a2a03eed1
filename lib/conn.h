/*
 * conn.h: connections, listeners and the loop glue over libuv.
 *
 * A connection (struct sb_conn) owns its socket, its write queue and, once
 * TLS is on, its TLS session. Protocol code never touches any of them: it
 * writes plaintext with sb_conn_write() and receives a small vocabulary of
 * events through one handler per connection, a switch over ev->type:
 *
 *   CONNECTED  an outgoing connection is established
 *   DATA       plaintext arrived (ev->data, ev->len); see "used" below
 *   WRITABLE   the write queue drained to the low-water mark after a write
 *              had reported it above the high-water mark
 *   TLS_READY  the TLS handshake finished
 *   TIMEOUT    nothing was read for the idle timeout (and again after each
 *              further period); the protocol decides what to do
 *   ERROR      something failed (ev->error); the layer closes the connection
 *              itself. Not delivered once the protocol has closed it.
 *   CLOSED     always the last event, exactly once per connection, delivered
 *              from libuv's close callback: free the protocol's state (udata)
 *              here. ev->error says why: NULL when the protocol closed it,
 *              else "connection closed by peer" (EOF), "TLS closed by peer"
 *              (close_notify), "server shutting down", or the text of the
 *              preceding ERROR. The connection's memory is freed when the
 *              handler returns. A peer's EOF or close_notify is not reported
 *              before: the layer sends what is queued and closes by itself.
 *
 * No event is ever delivered from inside a call into this layer, only from
 * libuv callbacks; so a handler may write to, start TLS on or close any
 * connection, its own included, and go on using it until it returns.
 *
 * DATA and the switch point: ev->used is preset to ev->len; a handler that
 * stops early sets it to the number of bytes it took. The rest
 *   - goes to the TLS session if the handler called sb_conn_starttls();
 *   - waits for sb_conn_resume_read() if the handler paused reading;
 *   - waits for more bytes and comes again in front of them if the handler
 *     took nothing (a frame not yet complete);
 *   - is offered again at once otherwise.
 * So a protocol that sees <starttls/> and the peer's first TLS bytes in one
 * read sets used to the end of the element and calls sb_conn_starttls();
 * the layer does the rest. Unconsumed input is capped (SB_CONN_MAX_PENDING).
 *
 * Writes are coalesced: everything written in one loop iteration leaves in
 * one uv_write() (one writev) just before the loop polls again.
 *
 * Closing: after sb_conn_close() or sb_conn_close_after_flush() the
 * handler gets no event but CLOSED, and the memory stays valid until CLOSED
 * has been delivered. Calls on a closing connection are harmless no-ops
 * (writes are dropped).
 *
 * Memory: there is no per-connection read buffer (reads land in one 64 KiB
 * buffer per loop and are handed to the handler at once); the write queue
 * and the buffer of unconsumed input exist only while they hold bytes; the
 * timeouts need no timer handle each. An idle plain connection is one
 * allocation of sb_conn_size() bytes (about 400, the uv_tcp_t included);
 * TLS adds the session of tls.h (about 12 KB, mostly gnutls).
 *
 * The first connection sets SIGPIPE to ignored (libuv writes with write(2);
 * a peer's reset must come back as an error, not kill the process).
 */
#ifndef SB_CONN_H
#define SB_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <uv.h>

struct sb_tls;
struct sb_tls_ctx;
struct sb_conn;
struct sb_listener;

enum sb_conn_event {
	SB_CONN_CONNECTED,
	SB_CONN_DATA,
	SB_CONN_WRITABLE,
	SB_CONN_TLS_READY,
	SB_CONN_TIMEOUT,
	SB_CONN_ERROR,
	SB_CONN_CLOSED,
};

struct sb_conn_ev {
	enum sb_conn_event	 type;
	const char		*data;	/* DATA: plaintext, valid during the call */
	size_t			 len;
	size_t			 used;	/* DATA: bytes taken; preset to len */
	const char		*error;	/* ERROR: what failed; CLOSED: why */
};

typedef void sb_conn_handler(struct sb_conn *c, struct sb_conn_ev *ev, void *udata);
typedef void sb_accept_cb(struct sb_listener *l, struct sb_conn *c, void *arg);

/* Default watermarks of the write queue, in bytes. */
#define SB_CONN_HIGH_WATER	(128 * 1024)
#define SB_CONN_LOW_WATER	(32 * 1024)
/* Input a handler may leave unconsumed before the connection fails. */
#define SB_CONN_MAX_PENDING	(1024 * 1024)
/* How long sb_loop_shutdown() lets a connection flush its queue. */
#define SB_CONN_SHUTDOWN_FLUSH_MS	2000
/* Room for "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535". */
#define SB_ADDR_STRLEN		48

/* --- connections --- */

/*
 * Set the handler and its udata and start reading. An accept callback must
 * call this (or sb_conn_close()) before it returns.
 */
void	 sb_conn_set_handler(struct sb_conn *c, sb_conn_handler *handler, void *udata);
void	*sb_conn_udata(const struct sb_conn *c);

/*
 * Queue plaintext (encrypted on the way out when TLS is on). Returns 1 when
 * the queue is now above the high-water mark: stop producing until
 * WRITABLE. Also 1 (and the bytes are dropped) on a closing connection.
 */
int	 sb_conn_write(struct sb_conn *c, const void *data, size_t len);
/* Bytes queued and not yet handed to the kernel. */
size_t	 sb_conn_queued(const struct sb_conn *c);
void	 sb_conn_set_watermarks(struct sb_conn *c, size_t low, size_t high);

/*
 * Switch to TLS now: bytes written so far go out in plaintext first, bytes
 * read from here on (including the unconsumed rest of the current DATA) go
 * through TLS. server_name NULL makes the server side; a name makes the
 * client side (SNI and the name sb_tls_peer_verify() checks). Writes made
 * before TLS_READY wait for the handshake. Called on a fresh outgoing
 * connection before CONNECTED it gives direct TLS (XEP-0368).
 * -1 when TLS is already on or the connection is closing.
 */
int	 sb_conn_starttls(struct sb_conn *c, struct sb_tls_ctx *ctx, const char *server_name);
/* The TLS session (for peer_verify, channel binding, ...) or NULL. */
struct sb_tls *sb_conn_tls(const struct sb_conn *c);
int	 sb_conn_tls_ready(const struct sb_conn *c);

/*
 * Stop and restart reading. While paused, the idle timeout does not run and
 * unconsumed input is kept; resume delivers it on the next loop iteration.
 */
void	 sb_conn_pause_read(struct sb_conn *c);
void	 sb_conn_resume_read(struct sb_conn *c);

/* TIMEOUT after ms without reading anything; 0 turns it off. */
void	 sb_conn_set_timeout(struct sb_conn *c, unsigned ms);

/*
 * Kernel socket buffer sizes (0 leaves one as it is). Connections have
 * TCP_NODELAY set: writes are coalesced here, Nagle would only add delay.
 */
int	 sb_conn_set_socket_buffers(struct sb_conn *c, int sndbuf, int rcvbuf);

/* "127.0.0.1:50432", "[::1]:5222": fixed at accept/connect, for log lines. */
const char *sb_conn_peer(const struct sb_conn *c);

/* Close now: queued bytes get one non-blocking attempt, then the socket goes. */
void	 sb_conn_close(struct sb_conn *c);
/*
 * Close gracefully: stop delivering input, send what is queued (and TLS
 * close_notify), then FIN, then wait for the peer's EOF so that nothing we
 * sent is lost to a reset; give up and close after timeout_ms (0: the
 * shutdown default).
 */
void	 sb_conn_close_after_flush(struct sb_conn *c, unsigned timeout_ms);

/*
 * Connect to a numeric address (DNS is elsewhere). NULL with err on a bad
 * address or during shutdown; otherwise CONNECTED, or ERROR ("connect
 * 127.0.0.1:5269: connection refused", "... timed out") and CLOSED, follow.
 * Writes made before CONNECTED are sent once connected.
 */
struct sb_conn *sb_conn_connect(uv_loop_t *loop, const char *ip, int port,
	    unsigned timeout_ms, sb_conn_handler *handler, void *udata,
	    char *err, size_t errlen);
/*
 * The same from the local address source (numeric, same family; its port
 * is still chosen at connect time, per destination: IP_BIND_ADDRESS_NO_PORT).
 * Load generators spread their clients over 127.0.0.0/8 with it so the
 * ephemeral ports of one source do not run out.
 */
struct sb_conn *sb_conn_connect_from(uv_loop_t *loop, const char *source, const char *ip,
	    int port, unsigned timeout_ms, sb_conn_handler *handler, void *udata,
	    char *err, size_t errlen);

/*
 * Accept one pending connection from a libuv server stream (listener.c
 * uses it). tls non-NULL starts a server TLS session at once (direct TLS).
 * Reading starts with sb_conn_set_handler().
 */
struct sb_conn *sb_conn_accept(uv_stream_t *server, struct sb_tls_ctx *tls,
	    char *err, size_t errlen);

/* --- listeners (listener.c) --- */

/*
 * Listen on addr:port. addr "*" means every address, IPv4 and IPv6 (one
 * dual-stack socket, or IPv4 only on a host without IPv6); a literal binds
 * just that address ("::" is IPv6 only, so "0.0.0.0" can be bound beside
 * it). port 0 picks a free port (see sb_listener_port()). backlog 0 means
 * 511. tls non-NULL makes a direct TLS listener (XEP-0368); the listener
 * keeps a reference. SO_REUSEADDR is set (libuv does it on every bind).
 * NULL with err ("listen 127.0.0.1:5222: address already in use") on failure.
 */
struct sb_listener *sb_listener_new(uv_loop_t *loop, const char *addr, int port,
	    int backlog, struct sb_tls_ctx *tls, sb_accept_cb *cb, void *arg,
	    char *err, size_t errlen);
int	 sb_listener_port(const struct sb_listener *l);
/* "127.0.0.1:5222", "[::]:5223", "*:5222" */
const char *sb_listener_name(const struct sb_listener *l);
/*
 * A reload with renewed certificates: every direct TLS listener of loop
 * that holds old holds tls from now on (a reference each, old's dropped);
 * connections accepted before keep the context they started with. Returns
 * how many listeners changed. Lets a process swap contexts without
 * keeping its listeners.
 */
int	 sb_listener_replace_tls(uv_loop_t *loop, struct sb_tls_ctx *old,
	     struct sb_tls_ctx *tls);
/* Stop listening; the memory goes with the close callback. */
void	 sb_listener_free(struct sb_listener *l);
void	 sb_listener_close_all(uv_loop_t *loop);

/* Numeric IPv4/IPv6 address and port to a sockaddr. -1 when not numeric. */
int	 sb_addr_parse(const char *ip, int port, struct sockaddr_storage *ss);
/* "1.2.3.4:5", "[::1]:5"; IPv4-mapped IPv6 addresses print as IPv4. */
const char *sb_addr_format(const struct sockaddr *sa, char *buf, size_t len);

/* --- the loop --- */

/*
 * Close every connection (letting each flush for up to
 * SB_CONN_SHUTDOWN_FLUSH_MS), every listener and, once the last connection
 * has delivered CLOSED, every timer (timer.h) and signal handler
 * (signals.h) and this layer's own handles. Run the loop until it returns
 * afterwards: uv_loop_close() then returns 0, provided the caller's own
 * libuv handles are closed too. Timers still held by their owners when the
 * last connection is gone are freed here: do not touch them afterwards.
 * During shutdown sb_conn_connect() and sb_listener_new() fail.
 */
void	 sb_loop_shutdown(uv_loop_t *loop);
/* 1 from sb_loop_shutdown() until the last connection has gone. */
int	 sb_loop_stopping(uv_loop_t *loop);

/* Counters for tests and benchmarks (process-wide). */
struct sb_conn_stats {
	uint64_t	 uv_writes;	/* uv_write() calls: one per flush */
	uint64_t	 reads;		/* read callbacks with data */
	uint64_t	 conns;		/* connections created */
};
const struct sb_conn_stats *sb_conn_stats(void);
/* sizeof(struct sb_conn), for memory accounting. */
size_t	 sb_conn_size(void);

#endif
