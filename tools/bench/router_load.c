/*
 * router_load.c: forwarding benchmark for the router. Not a test.
 *
 *   router_load PORT SECRET ROUTER_PID [COUNT]
 *
 * Connects two XEP-0114 components to the router on 127.0.0.1:PORT,
 * a.bench and b.bench (both with SECRET), and sends COUNT ~200-byte
 * message stanzas from a.bench to users of b.bench as fast as the router
 * takes them; a second thread reads them on b.bench. Prints the rate and
 * the router's CPU time per stanza, read from /proc/ROUTER_PID/stat, which
 * is what one core of router can forward: 1 / (CPU time per stanza).
 *
 * The components do no XML parsing (the receiver counts end tags), so the
 * router is the only thing measured. tools/bench/router.sh starts a router
 * for it; `make bench` runs that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "common/procstat.h"

#define STANZA_BODY	"Wherefore art thou, Romeo? Deny thy father and refuse thy name; " \
	"or I will no longer be a Capulet."
#define USERS		1000

static long count = 500000;

static void
die(const char *what)
{
	fprintf(stderr, "router_load: %s: %s\n", what, errno ? strerror(errno) : "failed");
	exit(1);
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		p += w;
		n -= (size_t)w;
	}
}

/* Read until 'needle' has been seen; returns what was read (NUL-terminated). */
static void
read_until(int fd, const char *needle, char *buf, size_t cap)
{
	size_t len = 0;

	buf[0] = '\0';
	while (strstr(buf, needle) == NULL) {
		ssize_t r;

		if (len + 1 >= cap)
			die("answer too long");
		r = read(fd, buf + len, cap - 1 - len);
		if (r <= 0) {
			fprintf(stderr, "router_load: got so far: %s\n", buf);
			die("read during the handshake");
		}
		len += (size_t)r;
		buf[len] = '\0';
	}
}

/* XEP-0114: stream, the router's id, hex SHA-1(id + secret). */
static int
component(int port, const char *name, const char *secret)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char buf[4096], digest_in[512], hex[41];
	unsigned char digest[20];
	const char *id, *end;
	int fd;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect to the router");
	snprintf(buf, sizeof(buf), "<stream:stream xmlns='jabber:component:accept' "
	    "xmlns:stream='http://etherx.jabber.org/streams' to='%s'>", name);
	write_all(fd, buf, strlen(buf));
	read_until(fd, ">", buf, sizeof(buf));
	if ((id = strstr(buf, " id=")) == NULL)
		die("no stream id from the router");
	id += 5;
	end = strchr(id, id[-1]);
	snprintf(digest_in, sizeof(digest_in), "%.*s%s", (int)(end - id), id, secret);
	gnutls_hash_fast(GNUTLS_DIG_SHA1, digest_in, strlen(digest_in), digest);
	for (int i = 0; i < 20; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	snprintf(buf, sizeof(buf), "<handshake>%s</handshake>", hex);
	write_all(fd, buf, strlen(buf));
	read_until(fd, "<handshake/>", buf, sizeof(buf));
	return fd;
}

static double received_at;

/* Count "</message>" across reads (a tag may be split between two). */
static void *
receiver(void *arg)
{
	int fd = *(int *)arg;
	static char buf[1 << 16];
	const char tag[] = "</message>";
	size_t keep = 0;
	long seen = 0;

	while (seen < count) {
		ssize_t r = read(fd, buf + keep, sizeof(buf) - keep - 1);
		char *p;

		if (r <= 0)
			die("read on b.bench (the router closed it?)");
		r += (ssize_t)keep;
		buf[r] = '\0';
		for (p = buf; (p = strstr(p, tag)) != NULL; p += sizeof(tag) - 1)
			seen++;
		keep = r >= (ssize_t)sizeof(tag) ? sizeof(tag) - 1 : (size_t)r;
		memmove(buf, buf + r - (ssize_t)keep, keep);
	}
	received_at = now();
	return NULL;
}

/* utime + stime of the router, in seconds. */
static double
cpu_of(long pid)
{
	double cpu = bench_cpu_of(pid);

	if (cpu < 0)
		die("reading the router's /proc stat");
	return cpu;
}

int
main(int argc, char **argv)
{
	static char batch[1 << 16];
	size_t blen = 0, slen = 0;
	int a, b, port;
	long pid, sent = 0, per_batch = 0;
	double t0, cpu0;
	pthread_t th;

	if (argc < 4) {
		fprintf(stderr, "usage: router_load PORT SECRET ROUTER_PID [COUNT]\n");
		return 2;
	}
	port = atoi(argv[1]);
	pid = atol(argv[3]);
	if (argc > 4)
		count = atol(argv[4]);
	a = component(port, "a.bench", argv[2]);
	b = component(port, "b.bench", argv[2]);
	/* A batch of stanzas to users spread over b.bench, written again and again. */
	for (int i = 0; blen + 512 < sizeof(batch); i++) {
		int n = snprintf(batch + blen, sizeof(batch) - blen,
		    "<message to='user%d@b.bench' from='user%d@a.bench/r' type='chat' id='m%06d'>"
		    "<body>" STANZA_BODY "</body></message>", i % USERS, i % USERS, i);

		slen = (size_t)n;
		blen += (size_t)n;
		per_batch++;
	}
	pthread_create(&th, NULL, receiver, &b);
	cpu0 = cpu_of(pid);
	t0 = now();
	while (sent < count) {
		long n = count - sent < per_batch ? count - sent : per_batch;
		size_t bytes = n == per_batch ? blen : 0;

		if (bytes == 0) {
			/* The last, partial batch: whole stanzas only. */
			const char *p = batch;

			for (long i = 0; i < n; i++)
				p = strstr(p, "</message>") + 10;
			bytes = (size_t)(p - batch);
		}
		write_all(a, batch, bytes);
		sent += n;
	}
	pthread_join(th, NULL);
	{
		double wall = received_at - t0, cpu = cpu_of(pid) - cpu0;

		printf("router_load: %ld message stanzas of ~%zu bytes, a.bench -> b.bench\n",
		    count, slen);
		printf("  forwarded              %9.0f stanzas/s (wall clock, load generator on the other core)\n",
		    (double)count / wall);
		printf("  router CPU per stanza  %9.2f us  (%.0f stanzas/s per core)\n",
		    cpu / (double)count * 1e6, (double)count / cpu);
	}
	close(a);
	close(b);
	return 0;
}
