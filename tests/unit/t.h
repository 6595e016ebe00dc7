/*
 * t.h — the unit-test harness: each tests/unit/t_*.c is one program that
 * prints "PASS name" or "FAIL name: detail" per check and exits 0 when
 * nothing failed.  tests/run.sh counts the lines.
 */
#ifndef T_H
#define T_H

#include <stdio.h>
#include <string.h>

static int t_failed;

#define T_OK(cond, name) t_ok_((cond) != 0, name, #cond, __FILE__, __LINE__)
#define T_EQ_INT(got, want, name) \
	t_eq_int_((long long)(got), (long long)(want), name, __FILE__, __LINE__)
#define T_EQ_STR(got, want, name) \
	t_eq_str_(got, want, name, __FILE__, __LINE__)

static inline void
t_ok_(int ok, const char *name, const char *expr, const char *f, int l)
{
	if (ok)
		printf("PASS %s\n", name);
	else {
		printf("FAIL %s: %s:%d: %s\n", name, f, l, expr);
		t_failed++;
	}
}

static inline void
t_eq_int_(long long got, long long want, const char *name, const char *f,
    int l)
{
	if (got == want)
		printf("PASS %s\n", name);
	else {
		printf("FAIL %s: %s:%d: got %lld, want %lld\n", name, f, l, got,
		    want);
		t_failed++;
	}
}

static inline void
t_eq_str_(const char *got, const char *want, const char *name,
    const char *f, int l)
{
	if (got != NULL && want != NULL && strcmp(got, want) == 0)
		printf("PASS %s\n", name);
	else {
		printf("FAIL %s: %s:%d: got \"%s\", want \"%s\"\n", name, f, l,
		    got ? got : "(null)", want ? want : "(null)");
		t_failed++;
	}
}

#define T_DONE() return t_failed != 0

#endif
