/*
 * tern.h — named limits, the sticky error type and the exit-code ranking
 * shared by every module.
 *
 * Limits are compile-time constants so that memory is fixed whatever a
 * configuration or a server sends; each appears in the error text that
 * reports it being exceeded.  Errors: a function returns 0 or -1 and fills
 * a caller-owned struct err; the first failure wins (err_set does nothing
 * once e->ex is set).  Exit codes are sysexits and are mapped once, in
 * main.c; nothing below main() calls exit().
 */
#ifndef TERN_H
#define TERN_H

#include <stddef.h>
#include <stdint.h>
#include <sysexits.h>

#ifndef TERN_VERSION
#define TERN_VERSION "0.0.0"
#endif
#ifndef TERN_TARGET
#define TERN_TARGET "unknown"
#endif
#ifndef BEARSSL_VERSION
#define BEARSSL_VERSION "unknown"
#endif
#ifndef TERN_BUILD_DATE
#define TERN_BUILD_DATE 0LL
#endif

/* Configuration */
#define CONF_LINE_MAX		1024	/* one line of the config file */
#define CONF_STR_MAX		256	/* one string value */
#define CONF_NAME_MAX		32	/* a section name (account) */
#define CONF_ACCOUNTS_MAX	16
#define CONF_FILTERS_MAX	32
#define CONF_PINS_MAX		4	/* tls_fingerprint entries per account */

/* Log and state */
#define LOG_LINE_MAX		1024	/* one event line, newline included */
#define STATE_FILE_MAX		4096	/* one state file */
#define STATE_ERR_MAX		160	/* last_error kept in the state */

/* Protocol */
#define REPLY_LINE_MAX		1024	/* one server reply line */

struct err {
	int ex;			/* sysexits code; 0 = no error yet */
	char msg[192];
};

/* Record the first error: set e->ex and a formatted message unless an
 * error is already recorded.  Returns -1 so callers can `return err_set()`. */
int err_set(struct err *e, int ex, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void err_clear(struct err *e);

/* The more severe of two exit codes, by SPEC §5:
 * 78, 64, 65, 74, 73, 77, 69, 75, 0. */
int ex_worst(int a, int b);

#endif
