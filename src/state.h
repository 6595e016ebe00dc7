/*
 * state.h — what tern remembers per account and service between runs:
 * consecutive failure counters, last success and last error, the disable
 * reason, and fingerprints of the settings that caused a disable.
 *
 * One small text file per account and service under state_dir
 * (ACCOUNT.pop3, ACCOUNT.smtp), key=value lines ending in a checksum line,
 * rewritten only through file_replace().  A torn or garbage file is
 * reported (state_load returns 1) and treated as empty; never a crash.
 */
#ifndef STATE_H
#define STATE_H

#include "tern.h"

enum svc { SVC_POP3, SVC_SMTP, SVC_N };

enum disable_reason { DIS_NONE, DIS_AUTH, DIS_CONNECT, DIS_MANUAL };

struct state {
	int auth_failures;		/* consecutive */
	int conn_failures;		/* consecutive runs */
	long long last_success;		/* unix time, 0 = never */
	long long last_error_time;	/* unix time, 0 = none */
	char last_error[STATE_ERR_MAX];
	int disabled;			/* enum disable_reason */
	long long disabled_since;	/* unix time */
	char auth_fp[65];		/* hex fingerprint of credentials */
	char conn_fp[65];		/* hex fingerprint of host/port/tls/ca */
};

const char *state_svc_name(int svc);		/* "pop3", "smtp" */
const char *state_reason_name(int reason);	/* "", "auth", "connect", "manual" */

/* Load ACCOUNT.SVC from dir into st (zeroed first).  0 = loaded or absent,
 * 1 = torn/garbage (st is empty; e->msg says why, e->ex stays 0 — the
 * caller logs it), -1 = cannot read (e set, EX_IOERR). */
int state_load(const char *dir, const char *account, int svc,
    struct state *st, struct err *e);

/* Write it durably (file_replace); creates dir if needed. */
int state_save(const char *dir, const char *account, int svc,
    const struct state *st, struct err *e);

/* Serialise/parse, exported for tests.  state_format returns the length
 * (always < cap when cap >= STATE_FILE_MAX). */
size_t state_format(const struct state *st, char *buf, size_t cap);
int state_parse(const char *buf, size_t len, struct state *st,
    char *why, size_t whycap);

#endif
