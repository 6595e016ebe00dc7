/*
 * send.h — the SMTP driver: `tern send` (and `sendmail`), `tern flush`,
 * `tern queue`, and the SMTP jobs of `tern run`, `test` and `diag`.
 *
 * Sessions are conn.c jobs (one poll() loop, main.parallel slots, the
 * same policy, retries, timeout, deadline and trace as fetch); this file
 * plugs smtp.c into them and moves messages through queue.c.  One
 * connection per account carries every message that is due for it, one
 * after the other; test and diag connect, say EHLO, STARTTLS and AUTH,
 * and QUIT without sending anything.
 *
 * send: the message on stdin is queued first (msg.c, queue.c: nothing is
 * sent that is not durably queued), then sent at once over one
 * connection of its account (-a ACCOUNT, else the first enabled account
 * with an smtp_host, else the first with one: an account that is off
 * only queues).  Exit codes: 0 when it was sent, and also when it
 * stays queued for a temporary reason (network, 4xx, deadline; logged
 * `queue … result=deferred`) or because the service is disabled, locked
 * or the account off (`queue … result=queued reason=…`); 69 when the
 * server refused it for good (moved to failed/) or cannot serve this
 * configuration (no STARTTLS, no usable AUTH); 77 when it refused the
 * credentials (the message stays queued); 64/65/73/74/78 for the command
 * line, the message, the queue, the configuration.
 *
 * flush: every queued message that is due (its backoff of 5 min, then
 * doubling up to 3 h, has passed, or its queue_lifetime is over, which
 * moves it to failed/), at most SEND_BATCH_MAX per run, oldest first.  A
 * session that fails before a message was tried defers that message too
 * (one more attempt, the session's error as its last error), unless the
 * run's deadline stopped it.  A damaged queue file is moved to corrupt/.
 * Exit code per account: the session's (as fetch: 77, 75, 69…), else 69
 * when a message failed for good, 75 when one was deferred, else 0.
 *
 * Events (SPEC §4), per message:
 *   send account=A service=smtp result=ok id=ID rcpts=N bytes=B ms=T
 *   send account=A service=smtp result=fail id=ID rcpts=N failed=F
 *	bytes=B ms=T error="550 5.1.1 …"	(moved to failed/)
 *   queue account=A id=ID result=deferred attempts=N next=TIME error=…
 *   queue account=A id=ID result=expired error=…	(moved to failed/)
 *   queue account=A id=ID result=queued rcpts=N bytes=B reason=disabled|
 *	locked|off|state		(send: not tried now)
 *   queue id=ID result=corrupt error=…	(moved to corrupt/)
 * rcpts: recipients the server has taken; bytes: the message with the
 * header fields tern added; ms: since the connection began.  Per session
 * failure, besides policy's `auth`/`connect` and conn's `tls` lines:
 *   send account=A service=smtp result=fail sent=N deferred=D failed=F
 *	ms=T error=…
 */
#ifndef SEND_H
#define SEND_H

#include "tern.h"

struct conf;
struct conn_run;

#define SEND_BATCH_MAX	1024	/* queued messages one flush considers */

/* `tern send [SENDMAIL-FLAGS] [RCPT…]`; argv[0] is "send" or the name
 * tern was called by ("sendmail"). */
int send_main(struct conf *c, int argc, char **argv);

/* `tern flush [ACCOUNT…]`. */
int send_flush(struct conf *c, char **names, int nnames);

/* Add the SMTP jobs of the named accounts (all enabled ones with an
 * smtp_host when nnames is 0) to r: in CONN_RUN mode those with due
 * messages (flush, `tern run`), in test and diag every one.  0, or the
 * exit code after saying why (an unknown account, one without
 * smtp_host in CONN_RUN mode: 64; the queue unreadable: 74). */
int send_plan(struct conn_run *r, char **names, int nnames);

/* `tern queue`: one entry per queued message on stdout, 80 columns. */
int send_queue(struct conf *c);

/* For `tern status`: the messages queued for each account (counts[i] for
 * c->acct[i], CONF_ACCOUNTS_MAX entries).  The total (damaged files and
 * other accounts' messages included), or -1 after saying why. */
int send_queued(struct conf *c, int *counts);

#endif
