/*
 * micro_jid.c: micro-benchmark of JID preparation (lib/jid.c).
 * Not a test: it prints nanoseconds per parse for typical inputs, the ASCII
 * fast path and the PRECIS / IDNA slow paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jid.h"

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
bench(const char *in, long n)
{
	static char buf[SB_JID_BUFSIZE];
	struct sb_jid j;
	const char *err;
	size_t len = strlen(in);
	double t0 = now();

	for (long i = 0; i < n; i++)
		if (sb_jid_parse(&j, buf, sizeof(buf), in, len, &err) != 0)
			abort();
	printf("%-32s %8.0f ns/parse\n", in, (now() - t0) / (double)n * 1e9);
}

int
main(void)
{
	printf("micro_jid: one core (CPU time)\n");
	bench("user@example.com/resource", 2000000);
	bench("User@Example.COM/Resource", 2000000);
	bench("example.com", 2000000);
	bench("user@[2001:db8::1]/res", 500000);
	bench("fu\xc3\x9f" "ball@example.com/r", 200000);
	bench("user@\xc3\xa4\xc3\xb6\xc3\xbc.example/r", 50000);
	return 0;
}
