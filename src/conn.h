/*
 * conn.h — the transport side that fetch (POP3) and send (SMTP) share:
 * jobs, session slots in one poll() loop, and around each protocol
 * session its connections.
 *
 * A run is a list of jobs, each one service of one account (a POP3
 * fetch, an SMTP flush, or their probes for `tern test`/`diag`), served
 * in order by up to main.parallel slots allocated once (one in diag,
 * which prints step by step); `tern run` puts its fetch and its flush
 * jobs in one list, so one loop and one deadline serve both.  Trust
 * anchors are read once per run per CA file, only when a job without
 * pins needs them.
 *
 * Per job: in CONN_RUN mode policy.c is asked first (a disabled service
 * is skipped and logged, the lock taken), then the protocol's setup; the
 * slot connects (net.c racing the addresses) → TLS (implicit, or when
 * the protocol asks after its STARTTLS/STLS go-ahead: refused when any
 * byte arrived after it) → the protocol's bytes ↔ its state machine →
 * close_notify, bounded by TLS_CLOSE_MS → again when the protocol asks
 * for a new connection, else the job's end, where the protocol reports,
 * settles the policy (conn_policy) and returns the job's exit code.
 * `timeout` seconds without a byte moving end a connection ("no
 * progress for N s"); `deadline` seconds end the run: sessions in flight
 * are cut, jobs not yet started fail with "deadline of N s reached
 * before this account started".  A connection that never got anywhere
 * (no such host, refused, timed out) is tried again `retries` times with
 * a backoff of 1 s, 2 s, 4 s… (capped by timeout and the deadline),
 * logged as `connect … result=retry attempt=N in_ms=MS error=…`.
 *
 * The slot's own error (transport, certificate, timeout, deadline) wins
 * over the protocol's, because the protocol only saw its effect.  Its
 * class (c->outcome) follows SPEC §3: untrusted certificate, name
 * mismatch, refused or timed-out connection, a cut before the login:
 * CONN_CONNECT; offline, a certificate date (the clock), anything after
 * the login: CONN_TEMP.
 *
 * Output: -v traces every line sent and received on stderr with the
 * credential the protocol marks shown as <redacted> and message data
 * left out; diag prints every step on stdout (addresses and times, TLS
 * version and suite, the certificate chain, the dialog likewise
 * redacted); test prints the protocol's lines per job, in job order.
 */
#ifndef CONN_H
#define CONN_H

#include "tern.h"
#include "net.h"
#include "policy.h"
#include "tls.h"
#include "x509.h"

struct conf;
struct account;
struct server;
struct conn;
struct conn_run;
struct logline;

enum conn_mode { CONN_RUN, CONN_TEST, CONN_DIAG };

/* How a job ended (SPEC §3), with the exit code it maps to. */
enum conn_outcome { CONN_OK, CONN_AUTH, CONN_CONNECT, CONN_TEMP, CONN_LOCAL };
/* The event a failure gets besides the protocol's own line. */
enum conn_event { CONN_EV_NONE, CONN_EV_CONNECT, CONN_EV_TLS };

#define CONN_JOBS_MAX	(2 * CONF_ACCOUNTS_MAX)	/* pop3 + smtp each */
#define CONN_READ	4096	/* bytes taken from the transport at a time */
#define CONN_TURNS	8	/* transport rounds per poll wake-up */
#define CONN_TEXT	768	/* `tern test` output of one job */

/* What the protocol session looks like now; filled by proto->view. */
struct conn_view {
	const char *out;		/* bytes to send */
	size_t outlen;
	size_t secret_off, secret_len;	/* a credential in out[] */
	int quiet_out;			/* out is message data: not traced */
	int quiet_in;			/* input is message data: not traced */
	int want_tls;			/* go-ahead received: start TLS */
	int done;			/* the session is over: close */
	long long due;			/* the protocol's timer, 0 = none */
	const char *state;		/* the reply it waits for, for errors */
};

/* A protocol plugs in with these; c->ps is its per-slot state. */
struct conn_proto {
	int svc;			/* enum svc (state.h) */
	const char *stls;		/* its STARTTLS command, for errors */
	size_t size;			/* bytes of per-slot state */
	/* The slot takes the job: 0 connect, 1 nothing to do (the job
	 * ends quietly, end is not called), -1 failed (conn_fail). */
	int (*setup)(struct conn *c);
	void (*start)(struct conn *c);	/* connected; implicit TLS: after
					   the handshake */
	void (*input)(struct conn *c, const char *buf, size_t n);
	void (*tls_ready)(struct conn *c);
	void (*eof)(struct conn *c);	/* the server closed */
	void (*cut)(struct conn *c);	/* the connection broke (c->e) */
	void (*tick)(struct conn *c, long long now);
	void (*view)(struct conn *c, struct conn_view *v);
	void (*took)(struct conn *c, size_t n);	/* out[0..n) went out */
	int (*again)(struct conn *c);	/* another connection wanted */
	/* The job is over: report, settle the policy, free; its exit
	 * code. */
	int (*end)(struct conn *c, long long now);
	/* CONN_RUN: the deadline came before the job started. */
	void (*unstarted)(struct conn_run *r, const struct account *a,
	    const char *msg);
};

struct conn_job {
	const struct account *a;
	const struct conn_proto *p;
	int first, count;		/* the protocol's items (send.c: its
					   queued messages) */
	int started, done, skipped;	/* skipped: policy said no */
	int ex;				/* its exit code */
	size_t textlen;
	char text[CONN_TEXT];		/* test output */
};

struct conn_run {
	struct conf *c;
	int mode;			/* enum conn_mode */
	struct conn_job job[CONN_JOBS_MAX];
	int njob, next;
	int printed;			/* jobs whose text went out */
	int ex;				/* worst exit code so far */
	int ran;			/* jobs that got past policy */
	int ex_skip;			/* 69 when one was skipped (off,
					   disabled): only when none ran */
	struct x509_store store[CONF_ACCOUNTS_MAX];
	int nstore;
	long long timeout_ms;
	long long deadline;		/* monotonic ms, 0 = none */
	long long cert_now;		/* x509_clock() */
};

struct conn {
	struct conn_run *run;
	struct conn_job *job;
	const struct conn_proto *p;
	const struct account *a;
	const struct server *srv;	/* the job's service of a */
	void *ps;			/* the protocol's state */
	int phase;
	/* the job */
	struct policy pol;		/* CONN_RUN: state, lock, counters */
	int pol_on;
	int tries;			/* extra connection attempts made */
	long long retry_at;		/* monotonic ms, in backoff */
	const struct x509_store *store;
	long long t0;			/* monotonic ms, job start */
	int authed;			/* the protocol logged in: a failure
					   from now on is temporary */
	int outcome;			/* enum conn_outcome, with e */
	int event;			/* enum conn_event */
	struct err e;
	int aborted;			/* stopped by the run's deadline */
	char fp[X509_FP_TEXT];		/* certificate to pin, on failure */
	int conns;
	/* the connection */
	struct net net;
	struct tls tls;
	long long progress;		/* monotonic ms, last byte moved */
	long long close_at;
	long long t_tls0;
	int started;			/* proto->start called */
	const char *tls_version;	/* of the last handshake */
};

/* A run in `mode` over c: the one run of this process (static, reset). */
struct conn_run *conn_begin(struct conf *c, int mode);
/* Add a job; its index, or -1 (more than CONN_JOBS_MAX). */
int conn_add(struct conn_run *r, const struct account *a,
    const struct conn_proto *p);
/* Put the jobs of one account next to each other, in the order of the
 * configuration (test and diag: an account's POP3, then its SMTP). */
void conn_group(struct conn_run *r);
/* Serve every job.  Returns the worst exit code (ex_worst); a skipped
 * service (69) counts only when no job ran (SPEC §3). */
int conn_go(struct conn_run *r);

/* For protocols. */
const char *conn_svc(const struct conn *c);	/* "pop3", "smtp" */
/* Record the slot's own failure (first wins); ex 0 = EX_TEMPFAIL. */
void conn_fail(struct conn *c, int outcome, int event, int ex,
    const char *msg);
/* diag: one line on stdout. */
void conn_say(const struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* test: one line of the job's output (printed in job order). */
void conn_text(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "EVENT account=A service=S" */
void conn_log_head(const struct conn *c, struct logline *l,
    const char *event);
/* The exit code of an outcome; proto_ex is the protocol's own code for
 * CONN_CONNECT and CONN_LOCAL when the slot recorded none. */
int conn_ex(const struct conn *c, int outcome, int proto_ex);
/* CONN_RUN: count the outcome (policy_end: auto-disable, the state,
 * the `auth`/`connect`/`disabled` events) and release the lock.  A
 * connection failure after the login counts as temporary. */
void conn_policy(struct conn *c, int outcome, const char *msg, int worked,
    int ex);
/* The end of a report.  test/diag: "A SVC ok: HOST port N, TLS, auth
 * AUTH, T ms" or "A SVC FAILED: msg" (and the certificate to pin), or
 * diag's result lines.  run: conn_log_tls writes the `tls … result=fail`
 * event when the failure was the certificate or the handshake, and
 * conn_log_error says msg on stderr (with the fingerprint to pin). */
void conn_report_probe(struct conn *c, int outcome, const char *msg,
    long long ms, const char *auth);
void conn_log_tls(const struct conn *c, int outcome, const char *msg);
void conn_log_error(const struct conn *c, const char *msg);

/* The failure line of a job the deadline left unstarted: `EVENT
 * account=A service=SVC result=fail error=MSG`, and on stderr. */
void conn_log_unstarted(const char *event, const struct account *a,
    int svc, const char *msg);

/* An account named on the command line, for service svc: 1 = serve it
 * (*out set), 0 = skip it (no host for svc outside a run of that
 * service, or off: then r->ex_skip says 69), -1 = a usage error, said. */
int conn_named(struct conn_run *r, const char *name, int svc,
    struct account **out);

#endif
