/*
 * tap.h: the Test Anything Protocol for C unit tests, run by prove.
 *
 * Each t/unit/NAME.c is one test program: it calls the checks below and
 * returns done_testing(), which prints the plan and exits non-zero when a
 * check failed. Checks print the expression and the values on failure.
 */
#ifndef SB_TAP_H
#define SB_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int tap_run, tap_failed;

static inline int __attribute__((format(printf, 2, 3)))
ok(int pass, const char *fmt, ...)
{
	va_list ap;

	tap_run++;
	if (!pass)
		tap_failed++;
	printf("%sok %d - ", pass ? "" : "not ", tap_run);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return pass;
}

static inline void __attribute__((format(printf, 1, 2)))
diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

#define is_int(got, want, ...) do {					\
	long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);	\
	if (!ok(tap_g_ == tap_w_, __VA_ARGS__))				\
		diag("  %s: got %lld, want %lld", #got, tap_g_, tap_w_);	\
} while (0)

#define is_str(got, want, ...) do {					\
	const char *tap_g_ = (got), *tap_w_ = (want);			\
	int tap_p_ = (tap_g_ == NULL && tap_w_ == NULL) ||		\
	    (tap_g_ != NULL && tap_w_ != NULL && strcmp(tap_g_, tap_w_) == 0); \
	if (!ok(tap_p_, __VA_ARGS__))					\
		diag("  %s: got '%s', want '%s'", #got,			\
		    tap_g_ ? tap_g_ : "(null)", tap_w_ ? tap_w_ : "(null)"); \
} while (0)

#define is_mem(got, glen, want, wlen, ...) do {				\
	const void *tap_g_ = (got), *tap_w_ = (want);			\
	size_t tap_gl_ = (glen), tap_wl_ = (wlen);			\
	if (!ok(tap_gl_ == tap_wl_ && memcmp(tap_g_, tap_w_, tap_gl_) == 0, __VA_ARGS__)) \
		diag("  %s: got '%.*s' (%zu), want '%.*s' (%zu)", #got,	\
		    (int)tap_gl_, (const char *)tap_g_, tap_gl_,		\
		    (int)tap_wl_, (const char *)tap_w_, tap_wl_);		\
} while (0)

static inline int
done_testing(void)
{
	printf("1..%d\n", tap_run);
	if (tap_failed)
		diag("failed %d of %d", tap_failed, tap_run);
	fflush(stdout);
	return tap_failed ? 1 : (tap_run == 0 ? 1 : 0);
}

#endif
