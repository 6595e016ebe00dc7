/*
 * fetch.c — the fetch driver: accounts → session slots → one poll() loop.
 * See fetch.h for the contract.
 *
 * A slot goes IDLE → CONNECT (net.c racing the addresses) → SESSION (the
 * transport attached; TLS handshake, then POP3) → CLOSING (close_notify,
 * bounded by TLS_CLOSE_MS) → the next connection of the same account
 * (pop3 asked to reconnect) or the account's end, where the outcome is
 * logged, counted and turned into an exit code; then the slot takes the
 * next account.  The slot's own error (transport, timeout, deadline)
 * wins over the one pop3 recorded, because pop3 only saw the effect.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "fetch.h"
#include "file.h"
#include "log.h"
#include "loop.h"
#include "net.h"
#include "policy.h"
#include "pop3.h"
#include "state.h"
#include "tls.h"
#include "uidl.h"
#include "x509.h"

enum { PH_IDLE, PH_CONNECT, PH_SESSION, PH_CLOSING, PH_BACKOFF };
enum { OUT_OK, OUT_AUTH, OUT_CONNECT, OUT_TEMP, OUT_LOCAL };
enum { EV_NONE, EV_CONNECT, EV_TLS };

struct run;

struct slot {
	struct run *run;
	int phase;
	const struct account *a;
	/* the account */
	struct policy pol;		/* state, lock, counters (policy.h) */
	int pol_on;
	int tries;			/* extra connection attempts made */
	long long retry_at;		/* monotonic ms, PH_BACKOFF */
	struct uidl_db db;
	int db_loaded;
	struct pop3 p;
	int p_init;
	const struct x509_store *store;
	long long t0;			/* monotonic ms, account start */
	int authed, auth_seen;
	int outcome;			/* OUT_*, with e */
	int event;			/* EV_*: the event the failure gets */
	struct err e;
	char fp[X509_FP_TEXT];
	int conns;
	/* the connection */
	struct net net;
	struct tls tls;
	long long progress;		/* monotonic ms, last byte moved */
	long long close_at;
	long long t_tls0;
	int started;			/* pop3_start called */
	const char *tls_version;	/* of the last handshake, for test */
	size_t sent;			/* bytes of p.out handed over */
};

struct run {
	struct conf *c;
	int mode;
	const struct account *todo[CONF_ACCOUNTS_MAX];
	int ntodo, next;
	int ex;
	int ran;			/* accounts that got past policy */
	int ex_skip;			/* 69 when a disabled one was skipped */
	struct x509_store store[CONF_ACCOUNTS_MAX];
	int nstore;
	long long timeout_ms;
	long long deadline;		/* monotonic ms, 0 = none */
	long long cert_now;		/* x509_clock() */
};

/* Scratch for one read or one redacted copy: the loop is one thread and
 * never holds either across a call into another slot. */
static char scratch[FETCH_READ];
static char redacted[POP3_OUT_MAX + 16];

static void slot_end_account(struct slot *, long long);
static void log_head(struct logline *, const char *, const struct account *);
static int slot_next(struct slot *, long long);

/* ---- output for diag and test -------------------------------------- */

static void
say(const struct slot *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
say(const struct slot *s, const char *fmt, ...)
{
	va_list ap;

	if (s->run->mode != FETCH_DIAG)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* Dialog lines for diag: one line each, escaped to plain ASCII. */
static void
say_dialog(const struct slot *s, const char *dir, const char *buf, size_t n)
{
	char esc[REPLY_LINE_MAX * 4 + 8];
	const char *nl;
	size_t start, end, shown;

	if (s->run->mode != FETCH_DIAG)
		return;
	for (start = 0; start < n; start = end) {
		nl = memchr(buf + start, '\n', n - start);
		end = nl != NULL ? (size_t)(nl - buf) + 1 : n;
		shown = end - start;
		if (shown > 0 && buf[start + shown - 1] == '\n')
			shown--;
		if (shown > 0 && buf[start + shown - 1] == '\r')
			shown--;
		if (shown > REPLY_LINE_MAX)
			shown = REPLY_LINE_MAX;
		esc[0] = '\0';
		log_escape(esc, sizeof esc, buf + start, shown);
		printf("  %s %s\n", dir, esc);
	}
}

static void
stamp(long long t, char buf[32])
{
	log_time(t, buf);
}

static void
say_chain(const struct slot *s)
{
	const struct x509_check *x = &s->tls.xc;
	char fp[X509_FP_TEXT], t1[32], t2[32];
	int i, n;

	if (s->run->mode != FETCH_DIAG)
		return;
	n = x->ncert < X509_CHAIN_MAX ? x->ncert : X509_CHAIN_MAX;
	say(s, "certificate chain: %d certificate%s", x->ncert,
	    x->ncert == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const struct x509_cert *c = &x->cert[i];

		x509_fingerprint(c->sha256, fp);
		say(s, "  [%d] subject %s", i, c->subject);
		say(s, "      issuer  %s", c->issuer);
		if (c->dated) {
			stamp(c->not_before, t1);
			stamp(c->not_after, t2);
			say(s, "      valid   %s to %s", t1, t2);
		}
		if (i == 0 && x->names[0] != '\0')
			say(s, "      names   %s", x->names);
		say(s, "      %s", fp);
	}
}

static void
say_tries(const struct slot *s)
{
	const struct net *n = &s->net;
	int i;

	for (i = 0; i < n->ntry; i++) {
		const struct net_try *t = &n->try[i];

		if (t->res == NET_NOT_TRIED)
			say(s, "  %-40s not tried", t->text);
		else if (t->res == NET_UNREACH || t->res == NET_ERROR)
			say(s, "  %-40s %s after %lld ms", t->text,
			    strerror(t->errnum), t->t_end - t->t_start);
		else
			say(s, "  %-40s %s after %lld ms", t->text,
			    net_res_name(t->res), t->t_end - t->t_start);
	}
}

static void
say_caps(const struct slot *s)
{
	const struct pop3 *p = &s->p;
	static const int mechs[] = { AUTH_PLAIN, AUTH_LOGIN, AUTH_CRAM_MD5,
	    AUTH_XOAUTH2 };
	char buf[160];
	size_t i, len;

	if (s->run->mode != FETCH_DIAG || !s->started ||
	    (!p->cap_capa && p->mech == AUTH_AUTO))
		return;
	len = (size_t)snprintf(buf, sizeof buf, "%s%s%s%s%s%s",
	    p->cap_capa ? "" : "(no CAPA)", p->cap_pipelining ?
	    " PIPELINING" : "", p->cap_uidl ? " UIDL" : "", p->cap_top ?
	    " TOP" : "", p->cap_user ? " USER" : "", p->cap_stls ? " STLS" :
	    "");
	for (i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
		if ((p->cap_sasl & 1u << mechs[i]) && len < sizeof buf)
			len += (size_t)snprintf(buf + len, sizeof buf - len,
			    " SASL:%s", conf_auth_name(mechs[i]));
	say(s, "capabilities:%s%s", buf[0] == ' ' || buf[0] == '\0' ? "" :
	    " ", buf);
	if (p->mech != AUTH_AUTO)
		say(s, "auth method: %s (configured: %s)",
		    conf_auth_name(p->mech), conf_auth_name(s->a->pop3.auth));
}

/* ---- trace ------------------------------------------------------------ */

/* out[a..b) with the credential, if it lies there, as <redacted>. */
static size_t
redact(const struct pop3 *p, size_t a, size_t b)
{
	size_t so = p->secret_off, se = p->secret_off + p->secret_len, n = 0;

	if (p->secret_len == 0 || se <= a || so >= b) {
		memcpy(redacted, p->out + a, b - a);
		return b - a;
	}
	if (so > a) {
		memcpy(redacted, p->out + a, so - a);
		n = so - a;
	}
	memcpy(redacted + n, "<redacted>", 10);
	n += 10;
	if (se < b) {
		memcpy(redacted + n, p->out + se, b - se);
		n += b - se;
	}
	return n;
}

static void
trace_out(struct slot *s, size_t a, size_t b)
{
	size_t n;

	if (log_verbosity() < LOG_TRACE && s->run->mode != FETCH_DIAG)
		return;
	n = redact(&s->p, a, b);
	log_trace(s->a->name, ">", redacted, n);
	say_dialog(s, "C:", redacted, n);
}

static void
trace_in(struct slot *s, const char *buf, size_t n)
{
	log_trace(s->a->name, "<", buf, n);
	say_dialog(s, "S:", buf, n);
}

/* ---- failures ------------------------------------------------------- */

/* Record the slot's own failure (first wins); ex 0 = EX_TEMPFAIL. */
static void
fail_ex(struct slot *s, int outcome, int event, int ex, const char *msg)
{
	if (s->e.ex != 0)
		return;
	err_set(&s->e, ex != 0 ? ex : EX_TEMPFAIL, "%s", msg);
	s->outcome = outcome;
	s->event = event;
}

static void
fail(struct slot *s, int outcome, int event, const char *msg)
{
	fail_ex(s, outcome, event, 0, msg);
}

/* The connection is cut: let pop3 settle what it delivered. */
static void
cut(struct slot *s)
{
	if (s->p_init && s->started && !s->p.done)
		pop3_eof(&s->p);
	tls_detach(&s->tls);
	net_abort(&s->net, loop_now());
}

static int
auth_state(int st)
{
	return st == POP3_ST_USER || st == POP3_ST_PASS ||
	    st == POP3_ST_APOP || st == POP3_ST_AUTH;
}

/* ---- trust anchors ------------------------------------------------------ */

static const struct x509_store *
store_for(struct run *r, const char *path, struct err *e)
{
	int i;

	for (i = 0; i < r->nstore; i++)
		if (strcmp(r->store[i].path, path) == 0)
			return &r->store[i];
	if (r->nstore == CONF_ACCOUNTS_MAX ||
	    x509_store_load(&r->store[r->nstore], path, e) < 0)
		return NULL;
	return &r->store[r->nstore++];
}

/* ---- the connection ------------------------------------------------- */

static void
drain_out(struct slot *s)
{
	struct pop3 *p = &s->p;
	size_t k;

	while (s->sent < p->outlen) {
		k = tls_write(&s->tls, p->out + s->sent, p->outlen - s->sent);
		if (k == 0)
			break;
		trace_out(s, s->sent, s->sent + k);
		s->sent += k;
	}
	if (s->sent == p->outlen) {
		p->outlen = 0;
		s->sent = 0;
	}
}

static void
say_tls(struct slot *s, long long now)
{
	s->tls_version = tls_version_name(&s->tls);
	if (s->run->mode != FETCH_DIAG)
		return;
	say(s, "TLS: %s, %s, group %s, handshake %lld ms",
	    tls_version_name(&s->tls), tls_suite_name(&s->tls),
	    tls_curve_name(&s->tls), now - s->t_tls0);
	say_chain(s);
	if (s->a->npin > 0)
		say(s, "certificate: pinned (leaf SHA-256 matches a "
		    "tls_fingerprint; CA and name not checked)");
	else
		say(s, "certificate: verified against %s (%zu anchors), "
		    "name %s", s->store->path, s->store->n, s->a->pop3.host);
}

static int
tls_begin(struct slot *s, long long now)
{
	const struct account *a = s->a;
	char msg[sizeof s->e.msg];
	struct err e = { 0, "" };

	s->t_tls0 = now;
	if (tls_start(&s->tls, a->pop3.host, s->store, a->npin > 0 ?
	    (const unsigned char (*)[32])a->pin : NULL, a->npin,
	    s->run->cert_now, &e) < 0) {
		snprintf(msg, sizeof msg, "%s", e.msg);
		fail_ex(s, OUT_CONNECT, EV_TLS, e.ex == EX_SOFTWARE ||
		    e.ex == EX_CONFIG ? e.ex : 0, msg);
		return -1;
	}
	say(s, "TLS: handshake with %s", a->pop3.host);
	return 0;
}

/* The transport reported an error (in e): class it and cut. */
static void
transport_failed(struct slot *s, const struct err *e)
{
	const struct tls *t = &s->tls;

	switch (t->fail) {
	case TLS_FAIL_CERT:
		snprintf(s->fp, sizeof s->fp, "%s", t->fp);
		fail(s, OUT_CONNECT, EV_TLS, e->msg);
		say_chain(s);
		break;
	case TLS_FAIL_CLOCK:
		snprintf(s->fp, sizeof s->fp, "%s", t->fp);
		fail(s, OUT_TEMP, EV_TLS, e->msg);
		say_chain(s);
		break;
	case TLS_FAIL_TLS:
		fail(s, s->authed ? OUT_TEMP : OUT_CONNECT, EV_TLS, e->msg);
		break;
	default:
		fail(s, s->authed ? OUT_TEMP : OUT_CONNECT,
		    s->authed ? EV_NONE : EV_CONNECT, e->msg);
		break;
	}
	cut(s);
}

/* The socket is connected: attach it; -1 when TLS cannot start. */
static int
connected(struct slot *s, long long now)
{
	const struct account *a = s->a;

	say(s, "connect: %s (%lld ms)", s->net.try[s->net.win].text,
	    now - s->net.t0);
	say_tries(s);
	tls_attach(&s->tls, net_take(&s->net));
	s->progress = now;
	s->started = 0;
	s->sent = 0;
	s->phase = PH_SESSION;
	if (a->pop3.tls == TLS_IMPLICIT) {
		if (tls_begin(s, now) < 0) {
			cut(s);
			return -1;
		}
		return 0;
	}
	s->started = 1;
	pop3_start(&s->p);
	return 0;
}

/* Resolve and start connecting; -1 when that already failed. */
static int
connect_begin(struct slot *s, long long now)
{
	const struct account *a = s->a;
	struct err e = { 0, "" };
	int r;

	s->conns++;
	say(s, "resolve: %s", a->pop3.host);
	if (net_resolve(&s->net, a->pop3.host, a->pop3.port, now, &e) < 0) {
		fail(s, s->net.fail == NET_FAIL_OFFLINE ? OUT_TEMP :
		    OUT_CONNECT, EV_CONNECT, e.msg);
		say(s, "  %s", e.msg);
		return -1;
	}
	now = loop_now();
	say(s, "  %d address%s in %lld ms%s", s->net.naddr, s->net.naddr == 1
	    ? "" : "es", s->net.resolve_ms, s->net.naddr > s->net.ntry ?
	    " (the first NET_ADDRS_MAX are tried)" : "");
	s->progress = now;
	r = net_start(&s->net, now, &e);
	if (r < 0) {
		say_tries(s);
		fail(s, s->net.fail == NET_FAIL_OFFLINE ? OUT_TEMP :
		    OUT_CONNECT, EV_CONNECT, e.msg);
		return -1;
	}
	s->phase = PH_CONNECT;
	if (r == 1 && connected(s, now) < 0)
		return -1;
	return 0;
}

/* The connection is over (cleanly or not): again, or the account ends. */
static void
connection_end(struct slot *s, long long now)
{
	long long wait;

	tls_detach(&s->tls);
	net_abort(&s->net, now);
	/* Bounded retries of a connection that never got anywhere: backoff
	 * 1 s, 2 s, 4 s … capped by `timeout` and the deadline.  The run
	 * then counts one connection failure, not one per attempt. */
	if (s->e.ex != 0 && s->outcome == OUT_CONNECT &&
	    s->event == EV_CONNECT && !s->started &&
	    s->run->mode == FETCH_FETCH && s->tries < s->a->retries) {
		wait = 1000LL << (s->tries < 20 ? s->tries : 20);
		if (wait > s->run->timeout_ms)
			wait = s->run->timeout_ms;
		if (s->run->deadline == 0 || now + wait < s->run->deadline) {
			struct logline l;

			s->tries++;
			log_head(&l, "connect", s->a);
			log_str(&l, "result", "retry");
			log_int(&l, "attempt", s->tries + 1);
			log_int(&l, "in_ms", wait);
			log_str(&l, "error", s->e.msg);
			log_end(&l);
			say(s, "retry %d of %d in %lld ms: %s", s->tries,
			    s->a->retries, wait, s->e.msg);
			err_clear(&s->e);
			s->outcome = OUT_OK;
			s->event = EV_NONE;
			s->phase = PH_BACKOFF;
			s->retry_at = now + wait;
			return;
		}
	}
	if (s->e.ex == 0 && s->p_init && s->p.reconnect &&
	    s->p.fail == POP3_OK && s->run->mode == FETCH_FETCH) {
		say(s, "reconnect: the server wants a new session");
		if (connect_begin(s, loop_now()) == 0)
			return;
	}
	slot_end_account(s, now);
}

static void
closing_begin(struct slot *s, long long now)
{
	struct err e = { 0, "" };

	drain_out(s);
	while (tls_read(&s->tls, scratch, sizeof scratch) > 0)
		;		/* after the last reply: nothing to read */
	if (s->tls.fd < 0 || s->tls.eof || s->tls.fail != TLS_FAIL_NONE) {
		connection_end(s, now);
		return;
	}
	tls_close(&s->tls);
	s->phase = PH_CLOSING;
	s->close_at = now + TLS_CLOSE_MS;
	/* plaintext, or a close_notify that went out with nothing to wait
	 * for: done now rather than at the next poll */
	if (tls_io(&s->tls, 0, &e) < 0 || tls_done(&s->tls))
		connection_end(s, now);
}

static void
starttls(struct slot *s, long long now)
{
	if (tls_pending_input(&s->tls) > 0) {
		fail(s, OUT_CONNECT, EV_TLS, "bytes after the STLS go-ahead, "
		    "before the handshake (STARTTLS injection?): aborted");
		cut(s);
		return;
	}
	if (tls_begin(s, now) < 0)
		cut(s);
}

static void
input(struct slot *s, const char *buf, size_t n)
{
	struct pop3 *p = &s->p;

	if (auth_state(p->state))
		s->auth_seen = 1;
	pop3_input(p, buf, n);
	if (s->auth_seen && !s->authed && p->fail == POP3_OK &&
	    !auth_state(p->state))
		s->authed = 1;
}

/*
 * Read what the transport holds and feed pop3; returns bytes fed.  When
 * the dialog is shown (-v, diag), pop3 gets one line at a time so that
 * reply lines are shown and message bodies are not.
 */
static size_t
feed(struct slot *s)
{
	struct pop3 *p = &s->p;
	const char *nl;
	size_t k, off, n, total = 0;
	int show = log_verbosity() >= LOG_TRACE ||
	    s->run->mode == FETCH_DIAG;

	while (!p->done && !p->want_tls) {
		k = tls_read(&s->tls, scratch, sizeof scratch);
		if (k == 0)
			break;
		for (off = 0; show && off < k && !p->done; off += n) {
			nl = memchr(scratch + off, '\n', k - off);
			n = nl != NULL ? (size_t)(nl - scratch) + 1 - off :
			    k - off;
			if (!p->inbody)
				trace_in(s, scratch + off, n);
			input(s, scratch + off, n);
		}
		if (!show)
			input(s, scratch, k);
		total += k;
		drain_out(s);
	}
	return total;
}

static void
session_io(struct slot *s, short revents, long long now)
{
	struct pop3 *p = &s->p;
	struct err e = { 0, "" };
	long moved;
	size_t fed;
	int turn;

	for (turn = 0; turn < FETCH_TURNS; turn++) {
		moved = tls_io(&s->tls, turn == 0 ? revents : POLLIN, &e);
		if (moved < 0) {
			transport_failed(s, &e);
			connection_end(s, now);
			return;
		}
		if (moved > 0)
			s->progress = now;
		if (!s->started && tls_ready(&s->tls)) {
			say_tls(s, now);
			s->started = 1;
			pop3_start(p);
		}
		if (s->started && p->want_tls && s->tls.on &&
		    tls_ready(&s->tls)) {
			say_tls(s, now);
			pop3_tls_ready(p);
		}
		fed = feed(s);
		if (!p->done && p->want_tls && !s->tls.on) {
			starttls(s, now);
			if (s->e.ex != 0) {
				connection_end(s, now);
				return;
			}
			continue;
		}
		if (s->started)
			pop3_tick(p, now);
		drain_out(s);
		if (!p->done && s->started && tls_eof(&s->tls)) {
			if (tls_truncated(&s->tls))
				say(s, "connection closed without TLS "
				    "close_notify");
			pop3_eof(p);
		}
		if (p->done || (moved == 0 && fed == 0))
			break;
	}
	/* send what was queued in the last round */
	if (tls_io(&s->tls, 0, &e) < 0) {
		transport_failed(s, &e);
		connection_end(s, now);
		return;
	}
	if (!s->started && s->tls.eof) {
		fail(s, OUT_CONNECT, EV_TLS, "connection closed by server "
		    "during the TLS handshake");
		cut(s);
		connection_end(s, now);
		return;
	}
	if (p->done)
		closing_begin(s, now);
}

/* No byte moved for `timeout` seconds. */
static void
stalled(struct slot *s, long long now)
{
	char msg[sizeof s->e.msg];
	int secs = s->run->c->main.timeout;
	struct err e = { 0, "" };

	if (s->phase == PH_CONNECT) {
		net_timeout(&s->net, now, secs, &e);
		say_tries(s);
		fail(s, OUT_CONNECT, EV_CONNECT, e.msg);
		cut(s);
		return;
	}
	if (!s->started)
		snprintf(msg, sizeof msg, "no progress for %d s during the "
		    "TLS handshake", secs);
	else
		snprintf(msg, sizeof msg, "no progress for %d s (waiting for "
		    "the %s reply)", secs, pop3_state_name(s->p.state));
	fail(s, s->authed ? OUT_TEMP : OUT_CONNECT, s->authed ? EV_NONE :
	    s->started ? EV_CONNECT : EV_TLS, msg);
	cut(s);
}

/* ---- the loop's view of a slot ------------------------------------------ */

static void
wake_at(long long *wake, long long t)
{
	if (t > 0 && (*wake == 0 || t < *wake))
		*wake = t;
}

static int
slot_prepare(void *arg, struct pollfd *pfd, int max, long long *wake)
{
	struct slot *s = arg;

	switch (s->phase) {
	case PH_CONNECT:
		wake_at(wake, s->progress + s->run->timeout_ms);
		return net_prepare(&s->net, pfd, max, wake);
	case PH_SESSION:
		wake_at(wake, s->progress + s->run->timeout_ms);
		if (s->p_init && s->started)
			wake_at(wake, s->p.group_due);
		break;
	case PH_CLOSING:
		wake_at(wake, s->close_at);
		break;
	case PH_BACKOFF:
		wake_at(wake, s->retry_at);
		return 0;
	default:
		return 0;
	}
	pfd[0].fd = s->tls.fd;
	pfd[0].events = tls_events(&s->tls);
	pfd[0].revents = 0;
	return 1;
}

static int
slot_dispatch(void *arg, const struct pollfd *pfd, int n, long long now)
{
	struct slot *s = arg;
	struct err e = { 0, "" };
	int r;

	switch (s->phase) {
	case PH_CONNECT:
		r = net_dispatch(&s->net, pfd, n, now, &e);
		if (r < 0) {
			say_tries(s);
			fail(s, s->net.fail == NET_FAIL_OFFLINE ? OUT_TEMP :
			    OUT_CONNECT, EV_CONNECT, e.msg);
			cut(s);
			connection_end(s, now);
		} else if (r == 1) {
			if (connected(s, now) < 0)
				connection_end(s, now);
		} else if (now >= s->progress + s->run->timeout_ms) {
			stalled(s, now);
			connection_end(s, now);
		}
		break;
	case PH_SESSION:
		session_io(s, n > 0 ? pfd[0].revents : 0, now);
		if (s->phase == PH_SESSION &&
		    now >= s->progress + s->run->timeout_ms) {
			stalled(s, now);
			connection_end(s, now);
		}
		break;
	case PH_BACKOFF:
		if (now >= s->retry_at && connect_begin(s, now) < 0) {
			cut(s);
			connection_end(s, now);
		}
		break;
	case PH_CLOSING:
		/* the peer's close_notify, or its EOF; data is dropped */
		if (tls_io(&s->tls, n > 0 ? pfd[0].revents : 0, &e) >= 0)
			while (tls_read(&s->tls, scratch, sizeof scratch) > 0)
				;
		if (e.ex != 0 || tls_done(&s->tls) || now >= s->close_at)
			connection_end(s, now);
		break;
	}
	if (s->phase == PH_IDLE)
		return !slot_next(s, loop_now());
	return 0;
}

static void
slot_abort(void *arg, long long now)
{
	struct slot *s = arg;
	char msg[64];

	if (s->phase == PH_IDLE)
		return;
	if (s->run->deadline > 0 && now >= s->run->deadline)
		snprintf(msg, sizeof msg, "deadline of %d s reached",
		    s->run->c->main.deadline);
	else
		snprintf(msg, sizeof msg, "poll failed");
	fail(s, OUT_TEMP, EV_NONE, msg);
	cut(s);
	slot_end_account(s, now);
}

static const struct loop_ops slot_ops = {
	slot_prepare, slot_dispatch, slot_abort
};

/* ---- the account -------------------------------------------------------- */

static int
ex_of(const struct slot *s, int outcome)
{
	switch (outcome) {
	case OUT_OK:
		return 0;
	case OUT_AUTH:
		return EX_NOPERM;
	case OUT_TEMP:
		return EX_TEMPFAIL;
	default:
		if (s->e.ex != 0)
			return s->e.ex;
		return s->p.err.ex != 0 ? s->p.err.ex : EX_TEMPFAIL;
	}
}

static void
log_head(struct logline *l, const char *event, const struct account *a)
{
	log_begin(l, event);
	log_str(l, "account", a->name);
	log_str(l, "service", "pop3");
}

static void
report(struct slot *s, int outcome, const char *msg, long long ms)
{
	const struct account *a = s->a;
	const struct pop3 *p = &s->p;
	struct logline l;

	if (s->run->mode == FETCH_TEST) {
		if (outcome == OUT_OK)
			printf("%s pop3 ok: %s port %d, %s%s%s, auth %s, "
			    "%lld ms\n", a->name, a->pop3.host, a->pop3.port,
			    conf_tls_name(a->pop3.tls), s->tls_version ? " " :
			    "", s->tls_version ? s->tls_version : "",
			    conf_auth_name(p->mech), ms);
		else
			printf("%s pop3 FAILED: %s\n", a->name, msg);
		if (s->fp[0] != '\0')
			printf("%s pop3 certificate %s\n", a->name, s->fp);
		return;
	}
	if (s->run->mode == FETCH_DIAG) {
		say_caps(s);
		if (outcome == OUT_OK)
			say(s, "result: ok (%lld ms)", ms);
		else
			say(s, "result: FAILED: %s", msg);
		if (s->fp[0] != '\0')
			say(s, "to trust this certificate: list "
			    "tls_fingerprint '%s'", s->fp);
		return;
	}
	/* `auth` and `connect` failures were logged, with their counts, by
	 * policy_end() */
	if (s->event == EV_TLS && outcome != OUT_OK) {
		log_head(&l, "tls", a);
		log_str(&l, "result", "fail");
		log_str(&l, "error", msg);
		if (s->fp[0] != '\0')
			log_str(&l, "fingerprint", s->fp);
		log_end(&l);
	}
	log_head(&l, "fetch", a);
	log_str(&l, "result", outcome == OUT_OK ? "ok" : "fail");
	if (s->p_init) {
		log_int(&l, "new", p->n_new);
		log_int(&l, "bytes", p->n_bytes);
		log_int(&l, "deleted", p->n_deleted);
		if (p->n_skipped > 0)
			log_int(&l, "skipped", p->n_skipped);
		if (p->n_toobig > 0)
			log_int(&l, "toobig", p->n_toobig);
		if (p->n_later > 0)
			log_int(&l, "later", p->n_later);
	}
	log_int(&l, "ms", ms);
	if (outcome != OUT_OK)
		log_str(&l, "error", msg);
	log_end(&l);
	if (outcome != OUT_OK) {
		log_error("%s: pop3: %s", a->name, msg);
		if (s->fp[0] != '\0')
			log_error("%s: pop3: server certificate %s", a->name,
			    s->fp);
	} else
		log_info("%s: pop3: %d new, %lld bytes, %d deleted, %lld ms",
		    a->name, p->n_new, p->n_bytes, p->n_deleted, ms);
}

static void
slot_end_account(struct slot *s, long long now)
{
	struct err e = { 0, "" };
	const char *msg = "";
	int outcome = OUT_OK, ex;

	tls_detach(&s->tls);
	net_abort(&s->net, now);
	if (s->e.ex != 0) {
		outcome = s->outcome;
		msg = s->e.msg;
	} else if (s->p_init && s->p.fail != POP3_OK) {
		switch (s->p.fail) {
		case POP3_FAIL_AUTH:
			outcome = OUT_AUTH;
			break;
		case POP3_FAIL_TEMP:
			outcome = OUT_TEMP;
			break;
		case POP3_FAIL_LOCAL:
			outcome = OUT_LOCAL;
			break;
		default:
			outcome = OUT_CONNECT;
			break;
		}
		msg = s->p.err.msg;
	} else if (s->p_init && !s->p.done) {
		outcome = OUT_TEMP;
		msg = "session ended early";
	}
	/* a complete listing says which UIDLs the server no longer has */
	if (s->run->mode == FETCH_FETCH && s->db_loaded && s->p_init &&
	    s->p.listed_all && uidl_prune(&s->db, &e) < 0 &&
	    outcome == OUT_OK) {
		fail_ex(s, OUT_LOCAL, EV_NONE, e.ex, e.msg);
		outcome = OUT_LOCAL;
		msg = s->e.msg;
	}
	ex = ex_of(s, outcome);
	if (s->pol_on) {
		static const int map[] = {
			[OUT_OK] = POLICY_OK, [OUT_AUTH] = POLICY_AUTH,
			[OUT_CONNECT] = POLICY_CONNECT, [OUT_TEMP] = POLICY_TEMP,
			[OUT_LOCAL] = POLICY_LOCAL
		};
		int po = map[outcome];

		/* a failure after a login that worked is not the server's
		 * address or our credentials: temporary */
		if (po == POLICY_CONNECT && s->authed)
			po = POLICY_TEMP;
		if (po == POLICY_LOCAL && ex == EX_CONFIG)
			po = POLICY_CONFIG;
		policy_end(&s->pol, po, msg, s->p_init && (s->p.n_new > 0 ||
		    s->p.n_deleted > 0 || s->p.n_toobig > 0), ex);
		s->pol_on = 0;
	}
	report(s, outcome, msg, now - s->t0);
	s->run->ex = ex_worst(s->run->ex, ex);
	if (s->p_init)
		pop3_free(&s->p);
	if (s->db_loaded)
		uidl_free(&s->db);
	s->p_init = s->db_loaded = 0;
	s->phase = PH_IDLE;
	if (s->run->mode == FETCH_DIAG)
		fflush(stdout);
}

/* Before any connection: a failure here ends the account at once. */
static int
account_setup(struct slot *s, long long now)
{
	struct run *r = s->run;
	const struct account *a = s->a;
	struct err e = { 0, "" };
	int rc;

	if (r->mode == FETCH_FETCH) {
		rc = policy_begin(&s->pol, r->c, a, SVC_POP3);
		if (s->pol.skipped) {
			if (rc == EX_UNAVAILABLE)
				r->ex_skip = EX_UNAVAILABLE;
			else
				r->ex = ex_worst(r->ex, rc);
			return 1;
		}
		s->pol_on = 1;
		r->ran++;
	}
	say(s, "account %s: pop3 %s port %d, tls %s, auth %s", a->name,
	    a->pop3.host, a->pop3.port, conf_tls_name(a->pop3.tls),
	    conf_auth_name(a->pop3.auth));
	if (a->pop3.tls != TLS_NONE && a->npin == 0) {
		s->store = store_for(r, a->tls_ca_file, &e);
		if (s->store == NULL) {
			fail_ex(s, OUT_LOCAL, EV_NONE, e.ex ? e.ex : EX_CONFIG,
			    e.msg);
			return -1;
		}
	}
	if (r->mode == FETCH_FETCH) {
		/* the ledger is appended to in state_dir: it must exist */
		if (file_mkdirs(r->c->main.state_dir, 0700, &e) < 0) {
			fail_ex(s, OUT_LOCAL, EV_NONE, e.ex, e.msg);
			return -1;
		}
		if (uidl_load(&s->db, r->c->main.state_dir, a->name, &e) < 0) {
			fail_ex(s, OUT_LOCAL, EV_NONE, e.ex, e.msg);
			return -1;
		}
		s->db_loaded = 1;
	}
	if (pop3_init(&s->p, r->c, a, s->db_loaded ? &s->db : NULL,
	    &e) < 0) {
		fail_ex(s, OUT_LOCAL, EV_NONE, e.ex, e.msg);
		return -1;
	}
	s->p_init = 1;
	s->p.probe = r->mode != FETCH_FETCH;
	(void)now;
	return 0;
}

/* Give the slot the next account; 0 when none is left. */
static int
slot_next(struct slot *s, long long now)
{
	struct run *r = s->run;
	int rc;

	while (r->next < r->ntodo) {
		s->a = r->todo[r->next++];
		s->t0 = now;
		s->authed = s->auth_seen = 0;
		s->outcome = OUT_OK;
		s->event = EV_NONE;
		err_clear(&s->e);
		s->fp[0] = '\0';
		s->conns = 0;
		s->tries = 0;
		s->started = 0;
		s->sent = 0;
		s->tls_version = NULL;
		s->store = NULL;
		s->tls.fd = -1;
		s->net.fd = -1;
		s->net.next = 0;
		rc = account_setup(s, now);
		if (rc == 1)
			continue;		/* disabled: skipped */
		if (rc == 0 && connect_begin(s, now) == 0) {
			if (s->phase != PH_IDLE)
				return 1;
			continue;		/* ended at once */
		}
		cut(s);
		slot_end_account(s, now);
		now = loop_now();
	}
	s->phase = PH_IDLE;
	return 0;
}

/* ---- the run ------------------------------------------------------------ */

static int
pick(struct run *r, char **names, int nnames)
{
	struct conf *c = r->c;
	struct account *a;
	int i, j;

	if (r->mode == FETCH_DIAG && nnames != 1) {
		log_error("usage: tern diag ACCOUNT");
		return EX_USAGE;
	}
	for (i = 0; i < nnames; i++) {
		a = conf_account(c, names[i]);
		if (a == NULL) {
			log_error("no account '%s' in %s", names[i], c->path);
			return EX_USAGE;
		}
		if (a->pop3.host[0] == '\0') {
			if (r->mode == FETCH_FETCH || r->mode == FETCH_DIAG) {
				log_error("account '%s' has no pop3_host",
				    names[i]);
				return EX_USAGE;
			}
			continue;
		}
		if (!a->enabled && r->mode == FETCH_FETCH) {
			log_warn("%s: account is off (enabled '0')", a->name);
			r->ex_skip = EX_UNAVAILABLE;
			continue;
		}
		for (j = 0; j < r->ntodo; j++)
			if (r->todo[j] == a)
				break;
		if (j == r->ntodo)
			r->todo[r->ntodo++] = a;
	}
	if (nnames == 0)
		for (i = 0; i < c->nacct; i++)
			if (c->acct[i].enabled && c->acct[i].pop3.host[0])
				r->todo[r->ntodo++] = &c->acct[i];
	return 0;
}

int
fetch_run(struct conf *c, char **names, int nnames, int mode)
{
	static struct run run;
	struct slot *slot;
	struct loop_slot *ls;
	struct pollfd *pfd;
	struct logline l;
	struct err e = { 0, "" };
	char t1[32], t2[32];
	long long now;
	int i, n, ex, floored, tls = 0, r;

	memset(&run, 0, sizeof run);
	run.c = c;
	run.mode = mode;
	if ((ex = pick(&run, names, nnames)) != 0)
		return ex;
	if (run.ntodo == 0)
		return ex_worst(run.ex, run.ex_skip);
	run.timeout_ms = (long long)(c->main.timeout > 0 ? c->main.timeout :
	    60) * 1000;
	for (i = 0; i < run.ntodo; i++)
		if (run.todo[i]->pop3.tls != TLS_NONE)
			tls = 1;
	run.cert_now = x509_clock(log_now(), &floored);
	if (floored && tls) {
		char msg[160];

		log_time(log_now(), t1);
		log_time(run.cert_now, t2);
		snprintf(msg, sizeof msg, "system clock %s is before the build "
		    "date %s; using the build date for certificate checks",
		    t1, t2);
		log_warn("%s", msg);
		if (mode == FETCH_FETCH) {
			log_begin(&l, "tls");
			log_str(&l, "result", "warn");
			log_str(&l, "error", msg);
			log_end(&l);
		} else if (mode == FETCH_DIAG)
			printf("warning: %s\n", msg);
	}
	n = c->main.parallel > 0 ? c->main.parallel : 1;
	if (n > run.ntodo)
		n = run.ntodo;
	slot = calloc((size_t)n, sizeof *slot);
	ls = calloc((size_t)n, sizeof *ls);
	pfd = calloc((size_t)n * LOOP_SLOT_FDS, sizeof *pfd);
	if (slot == NULL || ls == NULL || pfd == NULL) {
		log_error("out of memory for %d session slots", n);
		free(slot);
		free(ls);
		free(pfd);
		return EX_OSERR;
	}
	now = loop_now();
	if (c->main.deadline > 0)
		run.deadline = now + (long long)c->main.deadline * 1000;
	for (i = 0; i < n; i++) {
		slot[i].run = &run;
		slot[i].tls.fd = -1;
		slot[i].net.fd = -1;
		ls[i].ops = &slot_ops;
		ls[i].arg = &slot[i];
		ls[i].busy = slot_next(&slot[i], loop_now());
	}
	r = loop_run(ls, n, pfd, run.deadline, &e);
	if (r < 0)
		log_error("%s", e.msg);
	/* accounts the deadline left unstarted */
	for (; run.next < run.ntodo; run.next++) {
		const struct account *a = run.todo[run.next];
		char msg[96];

		snprintf(msg, sizeof msg, "deadline of %d s reached before "
		    "this account started", c->main.deadline);
		if (mode == FETCH_FETCH) {
			log_head(&l, "fetch", a);
			log_str(&l, "result", "fail");
			log_str(&l, "error", msg);
			log_end(&l);
			log_error("%s: pop3: %s", a->name, msg);
		} else
			printf("%s pop3 FAILED: %s\n", a->name, msg);
		run.ex = ex_worst(run.ex, EX_TEMPFAIL);
	}
	for (i = 0; i < run.nstore; i++)
		x509_store_free(&run.store[i]);
	free(slot);
	free(ls);
	free(pfd);
	fflush(stdout);
	/* a disabled service makes the run exit 69 only when nothing else
	 * ran (SPEC §3) */
	return run.ran == 0 ? ex_worst(run.ex, run.ex_skip) : run.ex;
}
