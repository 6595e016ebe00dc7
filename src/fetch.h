/*
 * fetch.h — the fetch driver: `tern fetch`, `tern test` (POP3 side) and
 * `tern diag`.
 *
 * fetch_run() serves the named accounts (or every enabled account with a
 * pop3_host) as jobs of conn.c: one poll() loop with up to main.parallel
 * session slots, allocated once; each slot holds a connection's
 * transport (net.c, tls.c), its POP3 session (pop3.c) and its buffers.
 * A slot that ends an account takes the next one.  Trust anchors are
 * read once per run per CA file, and only when an account without pins
 * needs them.
 *
 * Per account: state (state.h) and UIDL ledger (uidl.h) are loaded; a
 * disabled service is skipped and logged; the session runs connect →
 * TLS (implicit, or after STLS) → POP3, reconnecting when pop3 asks; a
 * complete listing lets the ledger be pruned.  `timeout` seconds without
 * a byte moving ends a connection ("no progress for N s"); `deadline`
 * seconds end the run: sessions in flight are cut (what was not
 * committed is neither delivered nor deleted) and accounts not yet
 * started fail with "deadline reached".
 *
 * Outcomes (SPEC §3, §5) — exit code and counters — are settled by
 * policy.c (auto-disable at the thresholds, re-enable on a config change,
 * the per-service lock, state written only when it changes):
 *   ok              0;  counters reset
 *   auth refused    77; auth_failures + 1
 *   connection      75 (or pop3's 69); conn_failures + 1 once per run,
 *                   after `retries` extra attempts with backoff 1 s, 2 s,
 *                   4 s…: no such host, refused, timed out, untrusted
 *                   certificate, name mismatch, garbage, STARTTLS refused
 *                   or injected
 *   temporary       75; counters kept: offline, certificate dates (the
 *                   clock), [IN-USE]/[LOGIN-DELAY]/[SYS/TEMP], a stall or
 *                   cut after login, the deadline
 *   local           73/74 (78, 69: configuration, policy); counters kept
 * A disabled service is skipped without traffic; the run exits 69 for it
 * only when no other account ran.
 * Events: `fetch … result=ok new= bytes= deleted= ms=` or `result=fail
 * error=…`; `auth … result=fail failures=N/MAX error=…`; `connect …
 * result=fail error=…`; `tls … result=fail error=… fingerprint=…`;
 * `disabled … reason=…` for a skipped service.  TEST and DIAG touch no
 * state and write no events: TEST prints one line per account, DIAG
 * prints every step (addresses and times, TLS version and suite, the
 * certificate chain, the dialog with credentials as <redacted>, the auth
 * method) on stdout in plain ASCII.
 */
#ifndef FETCH_H
#define FETCH_H

#include "tern.h"
#include "conn.h"

struct conf;

enum fetch_mode {
	FETCH_FETCH = CONN_RUN,
	FETCH_TEST = CONN_TEST,
	FETCH_DIAG = CONN_DIAG
};

/* Run `mode` for the accounts names[0..nnames) (every enabled one with a
 * pop3_host when nnames is 0).  Returns the worst exit code (ex_worst). */
int fetch_run(struct conf *c, char **names, int nnames, int mode);

/* Add the POP3 jobs of those accounts to r (for `tern run`, `test`,
 * `diag`, which serve POP3 and SMTP in one loop).  In r->mode CONN_RUN a
 * named account without pop3_host is EX_USAGE and one that is off is
 * skipped (69 unless another job runs); in test and diag both are left
 * to the SMTP side.  0, or the exit code after saying why. */
int fetch_plan(struct conn_run *r, char **names, int nnames);

#endif
