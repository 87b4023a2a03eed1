/*
 * sasl_throttle.c: bounded tables of recent login failures, one per kind
 * of key (client address, account), for the throttling that sasl.h
 * describes.
 *
 * A table is set-associative: a key's keyed hash picks a set of WAYS
 * slots; a new key takes an empty slot or evicts the one whose last
 * failure is oldest. Memory is fixed (SETS * WAYS entries of 24 bytes),
 * every operation is O(WAYS), and no key string is stored. The hash is
 * keyed (HMAC with a random per-table key) so that nobody can aim many
 * keys at one set to push a victim's entry out.
 */
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "log.h"
#include "sasl_priv.h"
#include "xmalloc.h"

#define SETS		512
#define WAYS		8
#define FORGET_MS	(15 * 60 * 1000)	/* an entry this old is gone */

struct entry {
	uint64_t	 key;		/* 0: empty */
	uint64_t	 last;		/* loop time of the last failure */
	uint32_t	 failures;
};

struct c2s_sasl_tbl {
	const char	*what;		/* "address", "account": for the log */
	unsigned	 after;		/* failures before the first wait; 0: never */
	uint64_t	 base_ms;	/* the first wait */
	uint64_t	 max_ms;	/* the longest */
	unsigned char	 hkey[32];
	struct entry	 e[SETS * WAYS];
};

struct c2s_sasl_tbl *
c2s_sasl_tbl_new(const char *what, uint64_t max_ms)
{
	struct c2s_sasl_tbl *t = xcalloc(1, sizeof(*t));

	t->what = what;
	c2s_sasl_tbl_config(t, C2S_SASL_THROTTLE_AFTER, 1000, max_ms);
	if (gnutls_rnd(GNUTLS_RND_NONCE, t->hkey, sizeof(t->hkey)) < 0)
		fatal("sasl: no random bytes for the throttle tables");
	return t;
}

void
c2s_sasl_tbl_config(struct c2s_sasl_tbl *t, unsigned after, uint64_t base_ms, uint64_t max_ms)
{
	t->after = after;
	t->base_ms = base_ms > 0 ? base_ms : 1;
	t->max_ms = max_ms > t->base_ms ? max_ms : t->base_ms;
}

void
c2s_sasl_tbl_free(struct c2s_sasl_tbl *t)
{
	free(t);
}

static uint64_t
key_hash(const struct c2s_sasl_tbl *t, const char *key)
{
	unsigned char mac[32];
	uint64_t h;

	gnutls_hmac_fast(GNUTLS_MAC_SHA256, t->hkey, sizeof(t->hkey), key, strlen(key), mac);
	memcpy(&h, mac, sizeof(h));
	return h ? h : 1;
}

/* The key's entry, or NULL; create takes a slot for it when missing. */
static struct entry *
find(struct c2s_sasl_tbl *t, const char *key, uint64_t now, int create)
{
	uint64_t h = key_hash(t, key);
	struct entry *set = &t->e[(h % SETS) * WAYS], *victim = &set[0];

	for (int i = 0; i < WAYS; i++) {
		if (set[i].key != 0 && now > set[i].last + FORGET_MS)
			memset(&set[i], 0, sizeof(set[i]));
		if (set[i].key == h)
			return &set[i];
	}
	if (!create)
		return NULL;
	for (int i = 0; i < WAYS; i++) {
		if (set[i].key == 0 || set[i].last < victim->last)
			victim = &set[i];
		if (set[i].key == 0)
			break;
	}
	memset(victim, 0, sizeof(*victim));
	victim->key = h;
	return victim;
}

/* The wait after n failures: 0 below the threshold, then doubling to max. */
static uint64_t
delay(const struct c2s_sasl_tbl *t, uint32_t n)
{
	uint64_t d = t->base_ms;

	if (t->after == 0 || n < t->after)
		return 0;
	for (uint32_t i = t->after; i < n && d < t->max_ms; i++)
		d = d > t->max_ms / 2 ? t->max_ms : d * 2;
	return d < t->max_ms ? d : t->max_ms;
}

uint64_t
c2s_sasl_tbl_wait(struct c2s_sasl_tbl *t, const char *key, uint64_t now)
{
	struct entry *e = find(t, key, now, 0);
	uint64_t until;

	if (e == NULL)
		return 0;
	until = e->last + delay(t, e->failures);
	return until > now ? until - now : 0;
}

void
c2s_sasl_tbl_fail(struct c2s_sasl_tbl *t, const char *key, uint64_t now)
{
	struct entry *e = find(t, key, now, 1);

	if (e->failures < UINT32_MAX)
		e->failures++;
	e->last = now;
	if (t->after > 0 && e->failures == t->after)
		log_notice("sasl: %s %s throttled after %u failed logins (waits %llu ms, doubling "
		    "up to %llu ms)", t->what, key, e->failures, (unsigned long long)t->base_ms,
		    (unsigned long long)t->max_ms);
}

void
c2s_sasl_tbl_clear(struct c2s_sasl_tbl *t, const char *key, uint64_t now)
{
	struct entry *e = find(t, key, now, 0);

	if (e != NULL)
		memset(e, 0, sizeof(*e));
}
