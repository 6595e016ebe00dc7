/*
 * err.c — the sticky error and the exit-code ranking (SPEC §5).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tern.h"

int
err_set(struct err *e, int ex, const char *fmt, ...)
{
	va_list ap;

	if (e == NULL || e->ex != 0)
		return -1;
	e->ex = ex ? ex : EX_SOFTWARE;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return -1;
}

void
err_clear(struct err *e)
{
	e->ex = 0;
	e->msg[0] = '\0';
}

static int
rank(int ex)
{
	static const int order[] = {
		EX_CONFIG, EX_USAGE, EX_DATAERR, EX_IOERR, EX_CANTCREAT,
		EX_NOPERM, EX_UNAVAILABLE, EX_TEMPFAIL
	};
	size_t i;

	if (ex == 0)
		return 0;
	for (i = 0; i < sizeof order / sizeof order[0]; i++)
		if (order[i] == ex)
			return 100 - (int)i;
	return 50;	/* anything else (EX_SOFTWARE…) sits above temporary */
}

int
ex_worst(int a, int b)
{
	return rank(a) >= rank(b) ? a : b;
}
