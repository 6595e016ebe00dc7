/*
 * policy.h — the rules of SPEC §3 around one service (pop3 or smtp) of one
 * account in one run: skip it when disabled, enable it again when the
 * settings that caused the disable were edited, take its lock, and after
 * the session count the outcome, disable at the thresholds and log.
 *
 * What counts: POLICY_AUTH (refused credentials) toward max_auth_failures;
 * POLICY_CONNECT (refused, timed out, unreachable host, untrusted
 * certificate or wrong name, garbage) toward max_conn_failures; a success
 * resets both.  POLICY_TEMP (offline, DNS failing, a clock that makes a
 * certificate look expired, [IN-USE], [LOGIN-DELAY], [SYS/TEMP], 4xx) and
 * POLICY_LOCAL (our own disk) change no counter.  The state file is
 * written only when something in it changed, so an idle run writes
 * nothing under state_dir.
 *
 * Fingerprints: a keyed hash (HMAC-SHA256 with a random key kept in
 * STATE_DIR/.key, made when first needed) of the credentials — user, the
 * password or its source (and the content of a password_file or
 * oauth_token_file), the auth method, the OAuth token source — and of the
 * connection settings — host, port, TLS mode, CA file, pins.  They are
 * stored when a service is disabled; a run that finds them different
 * enables it again.  The secret itself is never stored.
 */
#ifndef POLICY_H
#define POLICY_H

#include "tern.h"
#include "state.h"

struct conf;
struct account;

enum policy_outcome {
	POLICY_OK,
	POLICY_AUTH,
	POLICY_CONNECT,
	POLICY_TEMP,
	POLICY_LOCAL,
	POLICY_CONFIG
};

struct policy {
	const struct conf *conf;
	const struct account *acct;
	int svc;			/* enum svc */
	struct state st;		/* as loaded (and updated) */
	struct state st0;		/* as loaded, to see changes */
	int lockfd;
	int skipped;			/* begin said: do not run */
};

/* Before any network traffic.  Returns 0 when the service should run;
 * otherwise p->skipped is set and the return value is the run's exit code
 * for it: EX_UNAVAILABLE (disabled; logged), 0 (another run holds the
 * lock; logged as `lock`), or EX_IOERR/EX_CANTCREAT (state unreadable). */
int policy_begin(struct policy *p, const struct conf *c,
    const struct account *a, int svc);

/* After the session: count `outcome`, disable at a threshold, save the
 * state if it changed, log `auth`/`connect`/`disabled` lines, release the
 * lock.  `error` is the text for last_error (NULL on success).  `worked`:
 * the run fetched, deleted or sent something, so last_success is worth a
 * state write (an idle success writes nothing unless it resets counters).
 * A temporary or local error is written when its text changed or the last
 * one is over an hour old, so an offline router does not wear its flash.
 * Returns the exit code for the outcome (0, 77, 75, 78, or ex_local for
 * POLICY_LOCAL). */
int policy_end(struct policy *p, int outcome, const char *error,
    int worked, int ex_local);

/* Release the lock without counting (a skipped or aborted service). */
void policy_release(struct policy *p);

/* Hex fingerprints of the current settings (65 bytes each); 0 or -1. */
int policy_fingerprints(const struct conf *c, const struct account *a,
    int svc, char *auth_fp, char *conn_fp, struct err *e);

#endif
