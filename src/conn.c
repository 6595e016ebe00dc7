/*
 * conn.c — jobs → session slots → one poll() loop, and the connections
 * of a job.  See conn.h for the contract.
 *
 * A slot goes IDLE → CONNECT (net.c racing the addresses) → SESSION (the
 * transport attached; TLS handshake, then the protocol) → CLOSING
 * (close_notify, bounded by TLS_CLOSE_MS) → the next connection of the
 * same job (the protocol asked to reconnect, or a retry after BACKOFF)
 * or the job's end; then the slot takes the next job.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "state.h"

enum { PH_IDLE, PH_CONNECT, PH_SESSION, PH_CLOSING, PH_BACKOFF };

#define TRACE_MAX	(TLS_OBUF + 16)

/* Scratch for one read or one redacted copy: the loop is one thread and
 * never holds either across a call into another slot. */
static char scratch[CONN_READ];
static char redacted[TRACE_MAX];

static struct conn_run the_run;

static void end_job(struct conn *, long long);
static int slot_next(struct conn *, long long);

const char *
conn_svc(const struct conn *c)
{
	return state_svc_name(c->p->svc);
}

/* ---- output for diag and test ------------------------------------------ */

void
conn_say(const struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->run->mode != CONN_DIAG)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

#define say conn_say

void
conn_text(struct conn *c, const char *fmt, ...)
{
	struct conn_job *j = c->job;
	va_list ap;
	int n;

	if (j->textlen + 1 >= sizeof j->text)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->text + j->textlen, sizeof j->text - j->textlen - 1,
	    fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	j->textlen += (size_t)n;
	if (j->textlen > sizeof j->text - 2)
		j->textlen = sizeof j->text - 2;
	j->text[j->textlen++] = '\n';
	j->text[j->textlen] = '\0';
}

/* Print the test output of the jobs that are over, in job order. */
static void
text_flush(struct conn_run *r, int all)
{
	while (r->printed < r->njob &&
	    (all || r->job[r->printed].done || r->job[r->printed].skipped)) {
		fputs(r->job[r->printed].text, stdout);
		r->printed++;
	}
	fflush(stdout);
}

/* Dialog lines for diag: one line each, escaped to plain ASCII. */
static void
say_dialog(const struct conn *c, const char *dir, const char *buf, size_t n)
{
	char esc[REPLY_LINE_MAX * 4 + 8];
	const char *nl;
	size_t start, end, shown;

	if (c->run->mode != CONN_DIAG)
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
say_chain(const struct conn *c)
{
	const struct x509_check *x = &c->tls.xc;
	char fp[X509_FP_TEXT], t1[32], t2[32];
	int i, n;

	if (c->run->mode != CONN_DIAG)
		return;
	n = x->ncert < X509_CHAIN_MAX ? x->ncert : X509_CHAIN_MAX;
	say(c, "certificate chain: %d certificate%s", x->ncert,
	    x->ncert == 1 ? "" : "s");
	for (i = 0; i < n; i++) {
		const struct x509_cert *ct = &x->cert[i];

		x509_fingerprint(ct->sha256, fp);
		say(c, "  [%d] subject %s", i, ct->subject);
		say(c, "      issuer  %s", ct->issuer);
		if (ct->dated) {
			log_time(ct->not_before, t1);
			log_time(ct->not_after, t2);
			say(c, "      valid   %s to %s", t1, t2);
		}
		if (i == 0 && x->names[0] != '\0')
			say(c, "      names   %s", x->names);
		say(c, "      %s", fp);
	}
}

static void
say_tries(const struct conn *c)
{
	const struct net *n = &c->net;
	int i;

	for (i = 0; i < n->ntry; i++) {
		const struct net_try *t = &n->try[i];

		if (t->res == NET_NOT_TRIED)
			say(c, "  %-40s not tried", t->text);
		else if (t->res == NET_UNREACH || t->res == NET_ERROR)
			say(c, "  %-40s %s after %lld ms", t->text,
			    strerror(t->errnum), t->t_end - t->t_start);
		else
			say(c, "  %-40s %s after %lld ms", t->text,
			    net_res_name(t->res), t->t_end - t->t_start);
	}
}

/* ---- trace ------------------------------------------------------------ */

/* v->out[0..b) with the credential, if it lies there, as <redacted>. */
static size_t
redact(const struct conn_view *v, size_t b)
{
	size_t so = v->secret_off, se = v->secret_off + v->secret_len, n = 0;

	if (b > sizeof redacted - 16)
		b = sizeof redacted - 16;
	if (v->secret_len == 0 || so >= b) {
		memcpy(redacted, v->out, b);
		return b;
	}
	if (so > 0) {
		memcpy(redacted, v->out, so);
		n = so;
	}
	memcpy(redacted + n, "<redacted>", 10);
	n += 10;
	if (se < b) {
		memcpy(redacted + n, v->out + se, b - se);
		n += b - se;
	}
	return n;
}

static void
trace_out(struct conn *c, const struct conn_view *v, size_t k)
{
	size_t n;

	if (v->quiet_out || (log_verbosity() < LOG_TRACE &&
	    c->run->mode != CONN_DIAG))
		return;
	n = redact(v, k);
	log_trace(c->a->name, ">", redacted, n);
	say_dialog(c, "C:", redacted, n);
}

static void
trace_in(struct conn *c, const char *buf, size_t n)
{
	log_trace(c->a->name, "<", buf, n);
	say_dialog(c, "S:", buf, n);
}

/* ---- failures ------------------------------------------------------- */

void
conn_fail(struct conn *c, int outcome, int event, int ex, const char *msg)
{
	if (c->e.ex != 0)
		return;
	err_set(&c->e, ex != 0 ? ex : EX_TEMPFAIL, "%s", msg);
	c->outcome = outcome;
	c->event = event;
}

static void
fail(struct conn *c, int outcome, int event, const char *msg)
{
	conn_fail(c, outcome, event, 0, msg);
}

/* The connection is cut: let the protocol settle what it did. */
static void
cut(struct conn *c)
{
	if (c->started)
		c->p->cut(c);
	tls_detach(&c->tls);
	net_abort(&c->net, loop_now());
}

/* ---- trust anchors ------------------------------------------------------ */

static const struct x509_store *
store_for(struct conn_run *r, const char *path, struct err *e)
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
drain_out(struct conn *c)
{
	struct conn_view v;
	size_t k;

	for (;;) {
		c->p->view(c, &v);
		if (v.outlen == 0)
			break;
		k = tls_write(&c->tls, v.out, v.outlen);
		if (k == 0)
			break;
		trace_out(c, &v, k);
		c->p->took(c, k);
	}
}

static void
say_tls(struct conn *c, long long now)
{
	c->tls_version = tls_version_name(&c->tls);
	if (c->run->mode != CONN_DIAG)
		return;
	say(c, "TLS: %s, %s, group %s, handshake %lld ms",
	    tls_version_name(&c->tls), tls_suite_name(&c->tls),
	    tls_curve_name(&c->tls), now - c->t_tls0);
	say_chain(c);
	if (c->a->npin > 0)
		say(c, "certificate: pinned (leaf SHA-256 matches a "
		    "tls_fingerprint; CA and name not checked)");
	else
		say(c, "certificate: verified against %s (%zu anchors), "
		    "name %s", c->store->path, c->store->n, c->srv->host);
}

static int
tls_begin(struct conn *c, long long now)
{
	const struct account *a = c->a;
	char msg[sizeof c->e.msg];
	struct err e = { 0, "" };

	c->t_tls0 = now;
	if (tls_start(&c->tls, c->srv->host, c->store, a->npin > 0 ?
	    (const unsigned char (*)[32])a->pin : NULL, a->npin,
	    c->run->cert_now, &e) < 0) {
		snprintf(msg, sizeof msg, "%s", e.msg);
		conn_fail(c, CONN_CONNECT, CONN_EV_TLS, e.ex == EX_SOFTWARE ||
		    e.ex == EX_CONFIG ? e.ex : 0, msg);
		return -1;
	}
	say(c, "TLS: handshake with %s", c->srv->host);
	return 0;
}

/* The transport reported an error (in e): class it and cut. */
static void
transport_failed(struct conn *c, const struct err *e)
{
	const struct tls *t = &c->tls;

	switch (t->fail) {
	case TLS_FAIL_CERT:
		snprintf(c->fp, sizeof c->fp, "%s", t->fp);
		fail(c, CONN_CONNECT, CONN_EV_TLS, e->msg);
		say_chain(c);
		break;
	case TLS_FAIL_CLOCK:
		snprintf(c->fp, sizeof c->fp, "%s", t->fp);
		fail(c, CONN_TEMP, CONN_EV_TLS, e->msg);
		say_chain(c);
		break;
	case TLS_FAIL_TLS:
		fail(c, c->authed ? CONN_TEMP : CONN_CONNECT, CONN_EV_TLS,
		    e->msg);
		break;
	default:
		fail(c, c->authed ? CONN_TEMP : CONN_CONNECT,
		    c->authed ? CONN_EV_NONE : CONN_EV_CONNECT, e->msg);
		break;
	}
	cut(c);
}

/* The socket is connected: attach it; -1 when TLS cannot start. */
static int
connected(struct conn *c, long long now)
{
	say(c, "connect: %s (%lld ms)", c->net.try[c->net.win].text,
	    now - c->net.t0);
	say_tries(c);
	tls_attach(&c->tls, net_take(&c->net));
	c->progress = now;
	c->started = 0;
	c->phase = PH_SESSION;
	if (c->srv->tls == TLS_IMPLICIT) {
		if (tls_begin(c, now) < 0) {
			cut(c);
			return -1;
		}
		return 0;
	}
	c->started = 1;
	c->p->start(c);
	return 0;
}

/* Resolve and start connecting; -1 when that already failed. */
static int
connect_begin(struct conn *c, long long now)
{
	const struct server *v = c->srv;
	struct err e = { 0, "" };
	int r;

	c->conns++;
	say(c, "resolve: %s", v->host);
	if (net_resolve(&c->net, v->host, v->port, now, &e) < 0) {
		fail(c, c->net.fail == NET_FAIL_OFFLINE ? CONN_TEMP :
		    CONN_CONNECT, CONN_EV_CONNECT, e.msg);
		say(c, "  %s", e.msg);
		return -1;
	}
	now = loop_now();
	say(c, "  %d address%s in %lld ms%s", c->net.naddr, c->net.naddr == 1
	    ? "" : "es", c->net.resolve_ms, c->net.naddr > c->net.ntry ?
	    " (the first NET_ADDRS_MAX are tried)" : "");
	c->progress = now;
	r = net_start(&c->net, now, &e);
	if (r < 0) {
		say_tries(c);
		fail(c, c->net.fail == NET_FAIL_OFFLINE ? CONN_TEMP :
		    CONN_CONNECT, CONN_EV_CONNECT, e.msg);
		return -1;
	}
	c->phase = PH_CONNECT;
	if (r == 1 && connected(c, now) < 0)
		return -1;
	return 0;
}

void
conn_log_head(const struct conn *c, struct logline *l, const char *event)
{
	log_begin(l, event);
	log_str(l, "account", c->a->name);
	log_str(l, "service", conn_svc(c));
}

/* The connection is over (cleanly or not): again, or the job ends. */
static void
connection_end(struct conn *c, long long now)
{
	long long wait;

	tls_detach(&c->tls);
	net_abort(&c->net, now);
	/* Bounded retries of a connection that never got anywhere: backoff
	 * 1 s, 2 s, 4 s … capped by `timeout` and the deadline.  The run
	 * then counts one connection failure, not one per attempt. */
	if (c->e.ex != 0 && c->outcome == CONN_CONNECT &&
	    c->event == CONN_EV_CONNECT && !c->started &&
	    c->run->mode == CONN_RUN && c->tries < c->a->retries) {
		wait = 1000LL << (c->tries < 20 ? c->tries : 20);
		if (wait > c->run->timeout_ms)
			wait = c->run->timeout_ms;
		if (c->run->deadline == 0 || now + wait < c->run->deadline) {
			struct logline l;

			c->tries++;
			conn_log_head(c, &l, "connect");
			log_str(&l, "result", "retry");
			log_int(&l, "attempt", c->tries + 1);
			log_int(&l, "in_ms", wait);
			log_str(&l, "error", c->e.msg);
			log_end(&l);
			say(c, "retry %d of %d in %lld ms: %s", c->tries,
			    c->a->retries, wait, c->e.msg);
			err_clear(&c->e);
			c->outcome = CONN_OK;
			c->event = CONN_EV_NONE;
			c->phase = PH_BACKOFF;
			c->retry_at = now + wait;
			return;
		}
	}
	if (c->e.ex == 0 && c->run->mode == CONN_RUN && c->p->again != NULL &&
	    c->p->again(c)) {
		say(c, "reconnect: the server wants a new session");
		if (connect_begin(c, loop_now()) == 0)
			return;
	}
	end_job(c, now);
}

static void
closing_begin(struct conn *c, long long now)
{
	struct err e = { 0, "" };

	drain_out(c);
	while (tls_read(&c->tls, scratch, sizeof scratch) > 0)
		;		/* after the last reply: nothing to read */
	if (c->tls.fd < 0 || c->tls.eof || c->tls.fail != TLS_FAIL_NONE) {
		connection_end(c, now);
		return;
	}
	tls_close(&c->tls);
	c->phase = PH_CLOSING;
	c->close_at = now + TLS_CLOSE_MS;
	/* plaintext, or a close_notify that went out with nothing to wait
	 * for: done now rather than at the next poll */
	if (tls_io(&c->tls, 0, &e) < 0 || tls_done(&c->tls))
		connection_end(c, now);
}

static void
starttls(struct conn *c, long long now)
{
	char msg[128];

	if (tls_pending_input(&c->tls) > 0) {
		snprintf(msg, sizeof msg, "bytes after the %s go-ahead, "
		    "before the handshake (STARTTLS injection?): aborted",
		    c->p->stls);
		fail(c, CONN_CONNECT, CONN_EV_TLS, msg);
		cut(c);
		return;
	}
	if (tls_begin(c, now) < 0)
		cut(c);
}

/*
 * Read what the transport holds and feed the protocol; returns bytes
 * fed.  When the dialog is shown (-v, diag), the protocol gets one line
 * at a time so that reply lines are shown and message data is not.
 */
static size_t
feed(struct conn *c)
{
	const struct conn_proto *p = c->p;
	struct conn_view v;
	const char *nl;
	size_t k, off, n, total = 0;
	int show = log_verbosity() >= LOG_TRACE ||
	    c->run->mode == CONN_DIAG;

	for (;;) {
		p->view(c, &v);
		if (v.done || v.want_tls)
			break;
		k = tls_read(&c->tls, scratch, sizeof scratch);
		if (k == 0)
			break;
		for (off = 0; show && off < k; off += n) {
			p->view(c, &v);
			if (v.done)
				break;
			nl = memchr(scratch + off, '\n', k - off);
			n = nl != NULL ? (size_t)(nl - scratch) + 1 - off :
			    k - off;
			if (!v.quiet_in)
				trace_in(c, scratch + off, n);
			p->input(c, scratch + off, n);
		}
		if (!show)
			p->input(c, scratch, k);
		total += k;
		drain_out(c);
	}
	return total;
}

static void
session_io(struct conn *c, short revents, long long now)
{
	const struct conn_proto *p = c->p;
	struct conn_view v;
	struct err e = { 0, "" };
	long moved;
	size_t fed;
	int turn;

	for (turn = 0; turn < CONN_TURNS; turn++) {
		moved = tls_io(&c->tls, turn == 0 ? revents : POLLIN, &e);
		if (moved < 0) {
			transport_failed(c, &e);
			connection_end(c, now);
			return;
		}
		if (moved > 0)
			c->progress = now;
		if (!c->started && tls_ready(&c->tls)) {
			say_tls(c, now);
			c->started = 1;
			p->start(c);
		}
		p->view(c, &v);
		if (c->started && v.want_tls && c->tls.on &&
		    tls_ready(&c->tls)) {
			say_tls(c, now);
			p->tls_ready(c);
		}
		fed = feed(c);
		p->view(c, &v);
		if (!v.done && v.want_tls && !c->tls.on) {
			starttls(c, now);
			if (c->e.ex != 0) {
				connection_end(c, now);
				return;
			}
			continue;
		}
		if (c->started && p->tick != NULL)
			p->tick(c, now);
		drain_out(c);
		p->view(c, &v);
		if (!v.done && c->started && tls_eof(&c->tls)) {
			if (tls_truncated(&c->tls))
				say(c, "connection closed without TLS "
				    "close_notify");
			p->eof(c);
			p->view(c, &v);
		}
		if (v.done || (moved == 0 && fed == 0))
			break;
	}
	/* send what was queued in the last round */
	if (tls_io(&c->tls, 0, &e) < 0) {
		transport_failed(c, &e);
		connection_end(c, now);
		return;
	}
	if (!c->started && c->tls.eof) {
		fail(c, CONN_CONNECT, CONN_EV_TLS, "connection closed by "
		    "server during the TLS handshake");
		cut(c);
		connection_end(c, now);
		return;
	}
	p->view(c, &v);
	if (v.done)
		closing_begin(c, now);
}

/* No byte moved for `timeout` seconds. */
static void
stalled(struct conn *c, long long now)
{
	char msg[sizeof c->e.msg];
	int secs = c->run->c->main.timeout;
	struct conn_view v;
	struct err e = { 0, "" };

	if (c->phase == PH_CONNECT) {
		net_timeout(&c->net, now, secs, &e);
		say_tries(c);
		fail(c, CONN_CONNECT, CONN_EV_CONNECT, e.msg);
		cut(c);
		return;
	}
	if (!c->started)
		snprintf(msg, sizeof msg, "no progress for %d s during the "
		    "TLS handshake", secs);
	else {
		c->p->view(c, &v);
		snprintf(msg, sizeof msg, "no progress for %d s (waiting for "
		    "the %s reply)", secs, v.state);
	}
	fail(c, c->authed ? CONN_TEMP : CONN_CONNECT, c->authed ?
	    CONN_EV_NONE : c->started ? CONN_EV_CONNECT : CONN_EV_TLS, msg);
	cut(c);
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
	struct conn *c = arg;
	struct conn_view v;

	switch (c->phase) {
	case PH_CONNECT:
		wake_at(wake, c->progress + c->run->timeout_ms);
		return net_prepare(&c->net, pfd, max, wake);
	case PH_SESSION:
		wake_at(wake, c->progress + c->run->timeout_ms);
		if (c->started) {
			c->p->view(c, &v);
			wake_at(wake, v.due);
		}
		break;
	case PH_CLOSING:
		wake_at(wake, c->close_at);
		break;
	case PH_BACKOFF:
		wake_at(wake, c->retry_at);
		return 0;
	default:
		return 0;
	}
	pfd[0].fd = c->tls.fd;
	pfd[0].events = tls_events(&c->tls);
	pfd[0].revents = 0;
	/* The protocol has more to send (message data) than the transport
	 * took: come back when the socket can take more. */
	if (c->phase == PH_SESSION && c->started && tls_ready(&c->tls)) {
		c->p->view(c, &v);
		if (v.outlen > 0)
			pfd[0].events |= POLLOUT;
	}
	return 1;
}

static int
slot_dispatch(void *arg, const struct pollfd *pfd, int n, long long now)
{
	struct conn *c = arg;
	struct err e = { 0, "" };
	int r;

	switch (c->phase) {
	case PH_CONNECT:
		r = net_dispatch(&c->net, pfd, n, now, &e);
		if (r < 0) {
			say_tries(c);
			fail(c, c->net.fail == NET_FAIL_OFFLINE ? CONN_TEMP :
			    CONN_CONNECT, CONN_EV_CONNECT, e.msg);
			cut(c);
			connection_end(c, now);
		} else if (r == 1) {
			if (connected(c, now) < 0)
				connection_end(c, now);
		} else if (now >= c->progress + c->run->timeout_ms) {
			stalled(c, now);
			connection_end(c, now);
		}
		break;
	case PH_SESSION:
		session_io(c, n > 0 ? pfd[0].revents : 0, now);
		if (c->phase == PH_SESSION &&
		    now >= c->progress + c->run->timeout_ms) {
			stalled(c, now);
			connection_end(c, now);
		}
		break;
	case PH_BACKOFF:
		if (now >= c->retry_at && connect_begin(c, now) < 0) {
			cut(c);
			connection_end(c, now);
		}
		break;
	case PH_CLOSING:
		/* the peer's close_notify, or its EOF; data is dropped */
		if (tls_io(&c->tls, n > 0 ? pfd[0].revents : 0, &e) >= 0)
			while (tls_read(&c->tls, scratch, sizeof scratch) > 0)
				;
		if (e.ex != 0 || tls_done(&c->tls) || now >= c->close_at)
			connection_end(c, now);
		break;
	}
	if (c->phase == PH_IDLE)
		return !slot_next(c, loop_now());
	return 0;
}

static void
slot_abort(void *arg, long long now)
{
	struct conn *c = arg;
	char msg[64];

	if (c->phase == PH_IDLE)
		return;
	if (c->run->deadline > 0 && now >= c->run->deadline)
		snprintf(msg, sizeof msg, "deadline of %d s reached",
		    c->run->c->main.deadline);
	else
		snprintf(msg, sizeof msg, "poll failed");
	fail(c, CONN_TEMP, CONN_EV_NONE, msg);
	c->aborted = 1;
	cut(c);
	end_job(c, now);
}

static const struct loop_ops slot_ops = {
	slot_prepare, slot_dispatch, slot_abort
};

/* ---- the job ------------------------------------------------------------ */

int
conn_ex(const struct conn *c, int outcome, int proto_ex)
{
	switch (outcome) {
	case CONN_OK:
		return 0;
	case CONN_AUTH:
		return EX_NOPERM;
	case CONN_TEMP:
		return EX_TEMPFAIL;
	default:
		if (c->e.ex != 0)
			return c->e.ex;
		return proto_ex != 0 ? proto_ex : EX_TEMPFAIL;
	}
}

void
conn_policy(struct conn *c, int outcome, const char *msg, int worked, int ex)
{
	static const int map[] = {
		[CONN_OK] = POLICY_OK, [CONN_AUTH] = POLICY_AUTH,
		[CONN_CONNECT] = POLICY_CONNECT, [CONN_TEMP] = POLICY_TEMP,
		[CONN_LOCAL] = POLICY_LOCAL
	};
	int po;

	if (!c->pol_on)
		return;
	po = map[outcome];
	/* a failure after a login that worked is not the server's address
	 * or our credentials: temporary */
	if (po == POLICY_CONNECT && c->authed)
		po = POLICY_TEMP;
	if (po == POLICY_LOCAL && ex == EX_CONFIG)
		po = POLICY_CONFIG;
	policy_end(&c->pol, po, msg, worked, ex);
	c->pol_on = 0;
}

void
conn_report_probe(struct conn *c, int outcome, const char *msg, long long ms,
    const char *auth)
{
	const struct account *a = c->a;
	const struct server *v = c->srv;

	if (c->run->mode == CONN_TEST) {
		if (outcome == CONN_OK)
			conn_text(c, "%s %s ok: %s port %d, %s%s%s, auth %s, "
			    "%lld ms", a->name, conn_svc(c), v->host, v->port,
			    conf_tls_name(v->tls), c->tls_version ? " " : "",
			    c->tls_version ? c->tls_version : "", auth, ms);
		else
			conn_text(c, "%s %s FAILED: %s", a->name, conn_svc(c),
			    msg);
		if (c->fp[0] != '\0')
			conn_text(c, "%s %s certificate %s", a->name,
			    conn_svc(c), c->fp);
		return;
	}
	if (outcome == CONN_OK)
		say(c, "result: ok (%lld ms)", ms);
	else
		say(c, "result: FAILED: %s", msg);
	if (c->fp[0] != '\0')
		say(c, "to trust this certificate: list tls_fingerprint '%s'",
		    c->fp);
}

void
conn_log_tls(const struct conn *c, int outcome, const char *msg)
{
	struct logline l;

	if (c->event != CONN_EV_TLS || outcome == CONN_OK)
		return;
	conn_log_head(c, &l, "tls");
	log_str(&l, "result", "fail");
	log_str(&l, "error", msg);
	if (c->fp[0] != '\0')
		log_str(&l, "fingerprint", c->fp);
	log_end(&l);
}

void
conn_log_error(const struct conn *c, const char *msg)
{
	log_error("%s: %s: %s", c->a->name, conn_svc(c), msg);
	if (c->fp[0] != '\0')
		log_error("%s: %s: server certificate %s", c->a->name,
		    conn_svc(c), c->fp);
}

static void
end_job(struct conn *c, long long now)
{
	struct conn_run *r = c->run;
	int ex;

	tls_detach(&c->tls);
	net_abort(&c->net, now);
	ex = c->p->end(c, now);
	if (c->pol_on) {
		policy_release(&c->pol);
		c->pol_on = 0;
	}
	c->job->ex = ex;
	c->job->done = 1;
	r->ex = ex_worst(r->ex, ex);
	c->phase = PH_IDLE;
	if (r->mode == CONN_TEST)
		text_flush(r, 0);
	if (r->mode == CONN_DIAG)
		fflush(stdout);
}

/* Before any connection: 0 connect, 1 skipped or nothing to do, -1 the
 * job failed already (c->e). */
static int
job_setup(struct conn *c)
{
	struct conn_run *r = c->run;
	const struct account *a = c->a;
	const struct server *v = c->srv;
	struct err e = { 0, "" };
	int rc;

	if (r->mode == CONN_RUN) {
		rc = policy_begin(&c->pol, r->c, a, c->p->svc);
		if (c->pol.skipped) {
			c->job->skipped = 1;
			c->job->ex = rc;
			if (rc == EX_UNAVAILABLE)
				r->ex_skip = EX_UNAVAILABLE;
			else
				r->ex = ex_worst(r->ex, rc);
			return 1;
		}
		c->pol_on = 1;
		r->ran++;
	}
	if (r->mode == CONN_DIAG && c->job != &r->job[0])
		say(c, "%s", "");
	say(c, "account %s: %s %s port %d, tls %s, auth %s", a->name,
	    conn_svc(c), v->host, v->port, conf_tls_name(v->tls),
	    conf_auth_name(v->auth));
	if (v->tls != TLS_NONE && a->npin == 0) {
		c->store = store_for(r, a->tls_ca_file, &e);
		if (c->store == NULL) {
			conn_fail(c, CONN_LOCAL, CONN_EV_NONE, e.ex ? e.ex :
			    EX_CONFIG, e.msg);
			return -1;
		}
	}
	rc = c->p->setup(c);
	if (rc == 1) {
		if (c->pol_on)
			policy_release(&c->pol);
		c->pol_on = 0;
		c->job->done = 1;
		r->ex = ex_worst(r->ex, c->job->ex);
	}
	return rc;
}

/* Give the slot the next job; 0 when none is left. */
static int
slot_next(struct conn *c, long long now)
{
	struct conn_run *r = c->run;
	int rc;

	while (r->next < r->njob) {
		c->job = &r->job[r->next++];
		c->job->started = 1;
		c->p = c->job->p;
		c->a = c->job->a;
		c->srv = c->p->svc == SVC_POP3 ? &c->a->pop3 : &c->a->smtp;
		c->t0 = now;
		c->authed = 0;
		c->outcome = CONN_OK;
		c->event = CONN_EV_NONE;
		err_clear(&c->e);
		c->aborted = 0;
		c->fp[0] = '\0';
		c->conns = 0;
		c->tries = 0;
		c->started = 0;
		c->tls_version = NULL;
		c->store = NULL;
		c->tls.fd = -1;
		c->net.fd = -1;
		c->net.next = 0;
		memset(c->ps, 0, c->p->size);
		rc = job_setup(c);
		if (rc == 1) {
			if (r->mode == CONN_TEST)
				text_flush(r, 0);
			continue;		/* skipped */
		}
		if (rc == 0 && connect_begin(c, now) == 0) {
			if (c->phase != PH_IDLE)
				return 1;
			continue;		/* ended at once */
		}
		cut(c);
		/* now again: resolving may have blocked for seconds */
		now = loop_now();
		end_job(c, now);
	}
	c->phase = PH_IDLE;
	return 0;
}

/* ---- the run ------------------------------------------------------------ */

struct conn_run *
conn_begin(struct conf *c, int mode)
{
	memset(&the_run, 0, sizeof the_run);
	the_run.c = c;
	the_run.mode = mode;
	return &the_run;
}

int
conn_add(struct conn_run *r, const struct account *a,
    const struct conn_proto *p)
{
	struct conn_job *j;

	if (r->njob == CONN_JOBS_MAX)
		return -1;
	j = &r->job[r->njob];
	memset(j, 0, sizeof *j);
	j->a = a;
	j->p = p;
	return r->njob++;
}

void
conn_group(struct conn_run *r)
{
	struct conn_job t;
	int i, j;

	/* insertion sort: stable, and there are at most CONN_JOBS_MAX */
	for (i = 1; i < r->njob; i++) {
		t = r->job[i];
		for (j = i; j > 0 && r->job[j - 1].a > t.a; j--)
			r->job[j] = r->job[j - 1];
		r->job[j] = t;
	}
}

/* The clock is before the build date: say so once per run. */
static void
clock_warning(struct conn_run *r)
{
	struct logline l;
	char t1[32], t2[32], msg[160];
	int i, floored, tls = 0;

	for (i = 0; i < r->njob; i++)
		if ((r->job[i].p->svc == SVC_POP3 ? r->job[i].a->pop3.tls :
		    r->job[i].a->smtp.tls) != TLS_NONE)
			tls = 1;
	r->cert_now = x509_clock(log_now(), &floored);
	if (!floored || !tls)
		return;
	log_time(log_now(), t1);
	log_time(r->cert_now, t2);
	snprintf(msg, sizeof msg, "system clock %s is before the build "
	    "date %s; using the build date for certificate checks", t1, t2);
	log_warn("%s", msg);
	if (r->mode == CONN_RUN) {
		log_begin(&l, "tls");
		log_str(&l, "result", "warn");
		log_str(&l, "error", msg);
		log_end(&l);
	} else if (r->mode == CONN_DIAG)
		printf("warning: %s\n", msg);
}

int
conn_go(struct conn_run *r)
{
	struct conf *c = r->c;
	struct conn *slot;
	struct loop_slot *ls;
	struct pollfd *pfd;
	unsigned char *ps;
	struct err e = { 0, "" };
	size_t size = 1;
	long long now;
	int i, n, rc;

	if (r->njob == 0)
		return ex_worst(r->ex, r->ex_skip);
	r->timeout_ms = (long long)(c->main.timeout > 0 ? c->main.timeout :
	    60) * 1000;
	clock_warning(r);
	x509_memo_load(c->main.state_dir);
	n = c->main.parallel > 0 && r->mode != CONN_DIAG ? c->main.parallel :
	    1;
	if (n > r->njob)
		n = r->njob;
	for (i = 0; i < r->njob; i++)
		if (r->job[i].p->size > size)
			size = r->job[i].p->size;
	size = (size + 15) & ~(size_t)15;
	slot = calloc((size_t)n, sizeof *slot);
	ls = calloc((size_t)n, sizeof *ls);
	pfd = calloc((size_t)n * LOOP_SLOT_FDS, sizeof *pfd);
	ps = calloc((size_t)n, size);
	if (slot == NULL || ls == NULL || pfd == NULL || ps == NULL) {
		log_error("out of memory for %d session slots", n);
		free(slot);
		free(ls);
		free(pfd);
		free(ps);
		return EX_OSERR;
	}
	now = loop_now();
	if (c->main.deadline > 0)
		r->deadline = now + (long long)c->main.deadline * 1000;
	for (i = 0; i < n; i++) {
		slot[i].run = r;
		slot[i].ps = ps + (size_t)i * size;
		slot[i].tls.fd = -1;
		slot[i].net.fd = -1;
		ls[i].ops = &slot_ops;
		ls[i].arg = &slot[i];
		ls[i].busy = slot_next(&slot[i], loop_now());
	}
	rc = loop_run(ls, n, pfd, r->deadline, &e);
	if (rc < 0)
		log_error("%s", e.msg);
	/* best effort: without the memo the next run only checks again */
	if (r->mode == CONN_RUN) {
		struct err me = { 0, "" };

		(void)x509_memo_save(&me);
	}
	if (rc == 1 && r->mode == CONN_RUN) {
		struct logline l;

		/* the sessions in flight were cut (what was not committed is
		 * neither delivered nor deleted, nor removed from the queue) */
		log_begin(&l, "deadline");
		log_str(&l, "result", "reached");
		log_int(&l, "seconds", c->main.deadline);
		log_int(&l, "unstarted", r->njob - r->next);
		log_end(&l);
		log_warn("deadline of %d s reached: the run stopped",
		    c->main.deadline);
	}
	/* jobs the deadline left unstarted */
	for (; r->next < r->njob; r->next++) {
		struct conn_job *j = &r->job[r->next];
		char msg[96];

		snprintf(msg, sizeof msg, "deadline of %d s reached before "
		    "this account started", c->main.deadline);
		if (r->mode == CONN_RUN)
			j->p->unstarted(r, j->a, msg);
		else if (r->mode == CONN_TEST)
			snprintf(j->text, sizeof j->text, "%s %s FAILED: %s\n",
			    j->a->name, state_svc_name(j->p->svc), msg);
		else
			printf("%s %s FAILED: %s\n", j->a->name,
			    state_svc_name(j->p->svc), msg);
		j->ex = EX_TEMPFAIL;
		r->ex = ex_worst(r->ex, EX_TEMPFAIL);
	}
	for (i = 0; i < r->nstore; i++)
		x509_store_free(&r->store[i]);
	r->nstore = 0;
	free(slot);
	free(ls);
	free(pfd);
	free(ps);
	if (r->mode == CONN_TEST)
		text_flush(r, 1);
	fflush(stdout);
	/* a disabled service makes the run exit 69 only when nothing else
	 * ran (SPEC §3) */
	return r->ran == 0 ? ex_worst(r->ex, r->ex_skip) : r->ex;
}

void
conn_log_unstarted(const char *event, const struct account *a, int svc,
    const char *msg)
{
	struct logline l;

	log_begin(&l, event);
	log_str(&l, "account", a->name);
	log_str(&l, "service", state_svc_name(svc));
	log_str(&l, "result", "fail");
	log_str(&l, "error", msg);
	log_end(&l);
	log_error("%s: %s: %s", a->name, state_svc_name(svc), msg);
}

int
conn_named(struct conn_run *r, const char *name, int svc,
    struct account **out)
{
	struct account *a = conf_account(r->c, name);
	const struct server *v;

	if (a == NULL) {
		log_error("no account '%s' in %s", name, r->c->path);
		return -1;
	}
	v = svc == SVC_POP3 ? &a->pop3 : &a->smtp;
	if (v->host[0] == '\0') {
		if (r->mode != CONN_RUN)
			return 0;
		log_error("account '%s' has no %s_host", name,
		    state_svc_name(svc));
		return -1;
	}
	if (!a->enabled && r->mode == CONN_RUN) {
		log_warn("%s: account is off (enabled '0')", a->name);
		r->ex_skip = EX_UNAVAILABLE;
		return 0;
	}
	*out = a;
	return 1;
}
