/*
 * log.h — the event log of SPEC §4 and the -v protocol trace.
 *
 * An event line is built in a fixed buffer: time (UTC, ISO 8601), the event
 * word, then key=value pairs.  A value is written bare when it is all
 * printable ASCII without space, '"', '\\' or '='; otherwise in double
 * quotes with '"' and '\\' escaped; any byte outside 0x20..0x7e becomes
 * \xNN (upper-case hex); an empty value is "".  A pair that does not fit
 * in LOG_LINE_MAX (newline included) is dropped with every pair after it,
 * and the line ends in " trunc=1" (whole pairs are removed to make room
 * for it), so a line is never cut inside a value.  The event word and the
 * keys are the caller's constants and are not escaped.  The line goes to
 * the log file (O_APPEND, one write(2)), rotated to FILE.1 when over
 * log_max_size, and to syslog (facility mail, without the stamp) when
 * enabled.  TERN_TEST builds take the time from $TERN_TEST_NOW.
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>
#include "tern.h"

struct conf_main;

enum { LOG_QUIET = 0, LOG_NORMAL = 1, LOG_TRACE = 2 };

struct logline {
	char buf[LOG_LINE_MAX];
	size_t len;
	int full;			/* a pair did not fit */
};

/* Open the log file (O_APPEND, mode 0640) and syslog per m; log '' means
 * no file.  On failure e is set (EX_CANTCREAT, "FILE: cannot open: …") and
 * events still go to syslog when it is on.  Calling it again closes what
 * the previous call opened. */
int log_open(const struct conf_main *m, struct err *e);
void log_close(void);
void log_set_verbosity(int v);		/* LOG_QUIET, LOG_NORMAL, LOG_TRACE */
int log_verbosity(void);

void log_begin(struct logline *l, const char *event);
void log_str(struct logline *l, const char *key, const char *val);
void log_mem(struct logline *l, const char *key, const char *val, size_t n);
void log_int(struct logline *l, const char *key, long long v);
void log_end(struct logline *l);	/* time was set by log_begin */

/* Format unix time t as 2026-11-22T01:20:00Z into buf (>= 21 bytes);
 * t is clamped to 1970..9999.  No time zone is involved. */
void log_time(long long t, char *buf);

/* Append an escaped copy of src[0..n) to dst (cap bytes, NUL-terminated);
 * returns the new length of dst.  The escaping is that of a quoted value,
 * without the quotes; what does not fit is left out, never half an escape.
 * Used for every server string shown. */
size_t log_escape(char *dst, size_t cap, const char *src, size_t n);

/* Messages for the person at the console, on stderr:
 * errors always, warnings unless -q, info with -v. */
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* -v protocol trace: dir is "<" (from server) or ">" (to server); one
 * "WHO DIR TEXT" line on stderr per line of buf, a final CR LF not shown,
 * '\\' doubled, any other byte outside 0x20..0x7e as \xNN (so a bare LF
 * shows as \x0A).  Callers pass redacted text for credentials. */
void log_trace(const char *who, const char *dir, const char *buf, size_t n);

/* Wall clock for stamps; TERN_TEST builds honour $TERN_TEST_NOW. */
long long log_now(void);

#endif
