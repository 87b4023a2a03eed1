/*
 * c2s_addrs.c: tests for c2s/addrs.c, the count of connections per remote
 * address: the limit, the port ignored, IPv4 and IPv6 keys kept apart,
 * entries gone with their last connection, and a table that grows.
 */
#include <stdio.h>
#include <string.h>

#include "c2s/c2s.h"
#include "tap.h"

static void
test_limit(void)
{
	struct c2s_addrs t;
	struct c2s_addr *a[4];

	c2s_addrs_init(&t);
	a[0] = c2s_addrs_take(&t, "192.0.2.1:1000", 3);
	a[1] = c2s_addrs_take(&t, "192.0.2.1:1001", 3);
	a[2] = c2s_addrs_take(&t, "192.0.2.1:1002", 3);
	ok(a[0] != NULL && a[0] == a[1] && a[1] == a[2], "one entry per address, whatever the port");
	is_str(c2s_addr_name(a[0]), "192.0.2.1", "named without its port");
	is_int(c2s_addrs_count(&t, "192.0.2.1:9"), 3, "three connections counted");
	ok(c2s_addrs_take(&t, "192.0.2.1:1003", 3) == NULL, "a fourth is refused at limit 3");
	is_int(c2s_addrs_count(&t, "192.0.2.1:9"), 3, "a refusal counts nothing");
	ok(c2s_addrs_take(&t, "192.0.2.10:1000", 3) != NULL, "192.0.2.10 is another address");
	a[3] = c2s_addrs_take(&t, "[2001:db8::1]:1000", 3);
	ok(a[3] != NULL && a[3] != a[0], "an IPv6 address has its own entry");
	is_str(c2s_addr_name(a[3]), "[2001:db8::1]", "named in brackets");
	c2s_addrs_release(&t, a[2]);
	ok(c2s_addrs_take(&t, "192.0.2.1:1004", 3) != NULL, "a place freed can be taken again");
	for (int i = 0; i < 3; i++)
		c2s_addrs_release(&t, a[0]);
	is_int(c2s_addrs_count(&t, "192.0.2.1:9"), 0, "the entry goes with its last connection");
	is_int(t.map.count, 2, "two addresses left");
	c2s_addrs_release(&t, NULL);
	ok(c2s_addrs_take(&t, "198.51.100.7:5", 0) != NULL, "limit 0: no limit");
	c2s_addrs_free(&t);
}

static void
test_many(void)
{
	struct c2s_addrs t;
	char peer[64];
	int all = 1;

	c2s_addrs_init(&t);
	for (int i = 0; i < 5000; i++) {
		snprintf(peer, sizeof(peer), "10.%d.%d.%d:5222", i >> 16, (i >> 8) & 255, i & 255);
		all &= c2s_addrs_take(&t, peer, 1) != NULL;
	}
	ok(all, "5000 addresses taken");
	ok(t.map.nslots >= 2048, "the table grew (%zu slots)", t.map.nslots);
	all = 1;
	for (int i = 0; i < 5000; i++) {
		snprintf(peer, sizeof(peer), "10.%d.%d.%d:1", i >> 16, (i >> 8) & 255, i & 255);
		all &= c2s_addrs_count(&t, peer) == 1;
		all &= c2s_addrs_take(&t, peer, 1) == NULL;
	}
	ok(all, "each still found once, and at its limit");
	c2s_addrs_free(&t);
}

int
main(void)
{
	test_limit();
	test_many();
	return done_testing();
}
