/*
 * send.c — the SMTP driver: smtp.c sessions plugged into conn.c, the
 * queue moved through them, and the send, flush and queue commands.
 * See send.h for the contract.
 *
 * A slot holds one SMTP session and at most one open queued message (its
 * flock held) at a time.  step() is the driver: after every call into
 * smtp it takes the outcome of a finished message (queue_settle: done,
 * failed or deferred, logged), and when the session is idle it opens the
 * job's next due message and hands it over, or says QUIT.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conf.h"
#include "conn.h"
#include "log.h"
#include "loop.h"
#include "msg.h"
#include "queue.h"
#include "send.h"
#include "smtp.h"
#include "state.h"

#define SEND_ODD_MAX	32	/* damaged or orphaned files handled per run */

/* A queued message a flush means to send. */
struct item {
	char id[QUEUE_ID_MAX];
	long long created;
	const struct account *a;
	int result;			/* 0, or QUEUE_DONE… as settled */
};

/* send's part of a session slot */
struct sslot {
	struct smtp s;
	int s_init;
	struct envelope env;		/* of the open message */
	struct queue_msg h;
	int cur;			/* item open (h), -1 = none */
	int next, end;			/* items still to open */
	int n_sent, n_failed, n_deferred, n_expired;
	int ex;				/* worst of the messages' codes */
};

/* The spool (large: static), and what this run means to send.  The
 * queue's envelope scratch holds the message `tern send` reads. */
static struct queue queue;
static struct item items[SEND_BATCH_MAX];
static int nitems;
static int single;		/* tern send: one message, queued already */

static void step(struct conn *);

/* ---- messages ----------------------------------------------------------- */

static int
count_rcpt(const struct envelope *env, int status)
{
	int i, n = 0;

	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].status == status)
			n++;
	return n;
}

static void
queue_head(struct logline *l, const struct account *a, const char *id,
    const char *result)
{
	log_begin(l, "queue");
	if (a != NULL)
		log_str(l, "account", a->name);
	log_str(l, "id", id);
	log_str(l, "result", result);
}

/* A message was deferred or expired (h has its new .meta): log it. */
static void
log_later(const struct conn *c, struct sslot *S, int r)
{
	struct logline l;
	char t[32];

	if (r == QUEUE_EXPIRED) {
		S->n_expired++;
		S->ex = ex_worst(S->ex, EX_UNAVAILABLE);
		queue_head(&l, c->a, S->h.id, "expired");
		log_str(&l, "error", S->h.last_error);
		log_end(&l);
		log_error("%s: smtp: message %s given up: %s", c->a->name,
		    S->h.id, S->h.last_error);
		return;
	}
	S->n_deferred++;
	S->ex = ex_worst(S->ex, EX_TEMPFAIL);
	log_time(S->h.next, t);
	queue_head(&l, c->a, S->h.id, "deferred");
	log_int(&l, "attempts", S->h.attempts);
	log_str(&l, "next", t);
	log_str(&l, "error", S->h.last_error);
	log_end(&l);
	log_warn("%s: smtp: message %s stays queued (next try %s): %s",
	    c->a->name, S->h.id, t, S->h.last_error);
}

static void
queue_failed(const struct conn *c, struct sslot *S, const char *id,
    const struct err *e)
{
	struct logline l;

	S->ex = ex_worst(S->ex, e->ex ? e->ex : EX_IOERR);
	queue_head(&l, c->a, id, "error");
	log_str(&l, "error", e->msg);
	log_end(&l);
	log_error("%s", e->msg);
}

/* smtp is done with the open message: settle it and log the outcome. */
static void
settle(struct conn *c)
{
	struct sslot *S = c->ps;
	struct envelope *env = &S->env;
	struct err e = { 0, "" };
	struct logline l;
	char id[QUEUE_ID_MAX], reason[SMTP_REPLY_TEXT];
	int r, done, failed;
	long long ms = loop_now() - c->t0;

	memcpy(id, S->h.id, sizeof id);
	snprintf(reason, sizeof reason, "%s", S->s.msg_reply[0] ? S->s.msg_reply
	    : "no reply");
	done = count_rcpt(env, RCPT_DONE);
	failed = count_rcpt(env, RCPT_FAILED);
	/* Sent now to the last pending recipients, but one was refused by
	 * an earlier attempt: the message fails for that one, not for the
	 * 250 this attempt got. */
	if (S->s.result == SMTP_MSG_SENT && S->s.nfailed == 0 && failed > 0)
		for (r = 0; r < env->nrcpt; r++)
			if (env->rcpt[r].status == RCPT_FAILED) {
				snprintf(reason, sizeof reason, "<%s> refused "
				    "by an earlier attempt: %u",
				    env->pool + env->rcpt[r].off,
				    (unsigned)env->rcpt[r].code);
				break;
			}
	r = queue_settle(&queue, &S->h, log_now(), reason, &e);
	items[S->cur].result = r;
	S->cur = -1;
	switch (r) {
	case QUEUE_DONE:
	case QUEUE_FAILED:
		conn_log_head(c, &l, "send");
		log_str(&l, "result", r == QUEUE_DONE ? "ok" : "fail");
		log_str(&l, "id", id);
		log_int(&l, "rcpts", done);
		if (r == QUEUE_FAILED)
			log_int(&l, "failed", failed);
		log_int(&l, "bytes", env->size);
		log_int(&l, "ms", ms);
		if (r == QUEUE_FAILED)
			log_str(&l, "error", reason);
		log_end(&l);
		if (r == QUEUE_DONE) {
			S->n_sent++;
			log_info("%s: smtp: sent %s to %d recipient%s, %lld "
			    "bytes, %lld ms", c->a->name, id, done, done == 1 ?
			    "" : "s", env->size, ms);
		} else {
			S->n_failed++;
			S->ex = ex_worst(S->ex, EX_UNAVAILABLE);
			log_error("%s: smtp: message %s refused (moved to "
			    "failed/): %s", c->a->name, id, reason);
		}
		break;
	case QUEUE_DEFERRED:
	case QUEUE_EXPIRED:
		log_later(c, S, r);
		break;
	default:
		queue_failed(c, S, id, &e);
		break;
	}
}

/* Open the job's next message that is due; 1 when one is open. */
static int
open_next(struct conn *c)
{
	struct sslot *S = c->ps;
	struct err e = { 0, "" };
	struct logline l;
	long long now = log_now();
	int i, r;

	while (S->next < S->end) {
		i = S->next++;
		r = queue_open(&queue, items[i].id, now, &S->h, &S->env, &e);
		items[i].result = r;
		switch (r) {
		case QUEUE_OK:
			/* another run may have tried it since the listing */
			if (!queue_due(&S->h, now)) {
				queue_close(&S->h);
				items[i].result = 0;
				continue;
			}
			S->cur = i;
			return 1;
		case QUEUE_CORRUPT:
			queue_head(&l, c->a, items[i].id, "corrupt");
			log_str(&l, "error", S->h.why);
			log_end(&l);
			log_error("%s: queued message %s is damaged (moved to "
			    "corrupt/): %s", c->a->name, items[i].id,
			    S->h.why);
			S->ex = ex_worst(S->ex, EX_IOERR);
			break;
		case QUEUE_EXPIRED:
			log_later(c, S, r);
			break;
		case QUEUE_BUSY:
		case QUEUE_GONE:
			break;
		default:
			queue_failed(c, S, items[i].id, &e);
			err_clear(&e);
			break;
		}
	}
	return 0;
}

/* A message the session could not try: one more attempt, the session's
 * error as the reason (so the backoff and the lifetime apply). */
static void
defer_open(struct conn *c, const char *why)
{
	struct sslot *S = c->ps;
	struct err e = { 0, "" };
	char id[QUEUE_ID_MAX];
	int r;

	memcpy(id, S->h.id, sizeof id);
	r = queue_defer(&queue, &S->h, log_now(), why, &e);
	items[S->cur].result = r;
	S->cur = -1;
	if (r < 0)
		queue_failed(c, S, id, &e);
	else
		log_later(c, S, r);
}

/* ---- the session's hooks ------------------------------------------------ */

static int
s_setup(struct conn *c)
{
	struct sslot *S = c->ps;
	struct err e = { 0, "" };

	S->s_init = 0;
	S->cur = -1;
	S->next = c->job->first;
	S->end = c->job->first + c->job->count;
	S->n_sent = S->n_failed = S->n_deferred = S->n_expired = 0;
	S->ex = 0;
	if (smtp_init(&S->s, c->run->c, c->a, &e) < 0) {
		conn_fail(c, CONN_LOCAL, CONN_EV_NONE, e.ex, e.msg);
		return -1;
	}
	S->s_init = 1;
	/* nothing due after all (sent or tried by another run meanwhile):
	 * no connection */
	if (c->run->mode == CONN_RUN && !open_next(c)) {
		c->job->ex = S->ex;
		return 1;
	}
	return 0;
}

static void
s_start(struct conn *c)
{
	struct sslot *S = c->ps;
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	char ip[INET6_ADDRSTRLEN];
	const void *addr = NULL;

	/* the local address: EHLO's argument when the host name is not a
	 * domain (OpenWrt's "OpenWrt") */
	if (getsockname(c->tls.fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET)
			addr = &((struct sockaddr_in *)&ss)->sin_addr;
		else if (ss.ss_family == AF_INET6)
			addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	}
	if (addr != NULL && inet_ntop(ss.ss_family, addr, ip, sizeof ip))
		smtp_set_local(&S->s, ip);
	smtp_start(&S->s);
}

static void
s_input(struct conn *c, const char *buf, size_t n)
{
	struct sslot *S = c->ps;

	smtp_input(&S->s, buf, n);
	/* ready for mail (logged in, or no login needed): a failure from
	 * now on is not about the server's address or our credentials */
	if (S->s.state == SMTP_ST_IDLE || S->s.authed)
		c->authed = 1;
	step(c);
}

static void
s_tls_ready(struct conn *c)
{
	smtp_tls_ready(&((struct sslot *)c->ps)->s);
}

static void
s_eof(struct conn *c)
{
	smtp_eof(&((struct sslot *)c->ps)->s);
	step(c);
}

static void
s_cut(struct conn *c)
{
	struct sslot *S = c->ps;

	if (S->s_init && !S->s.done)
		smtp_abort(&S->s, SMTP_FAIL_TEMP, EX_TEMPFAIL, c->e.ex != 0 ?
		    c->e.msg : "connection lost");
	step(c);
}

static void
s_tick(struct conn *c, long long now)
{
	(void)now;
	step(c);
}

static void
s_view(struct conn *c, struct conn_view *v)
{
	const struct smtp *s = &((struct sslot *)c->ps)->s;

	memset(v, 0, sizeof *v);
	v->out = s->out;
	v->outlen = s->outlen;
	v->secret_off = s->secret_off;
	v->secret_len = s->secret_len;
	v->quiet_out = s->state == SMTP_ST_BODY || s->state == SMTP_ST_DOT;
	v->want_tls = s->want_tls;
	v->done = s->done;
	v->state = smtp_state_name(s->state);
}

static void
s_took(struct conn *c, size_t n)
{
	smtp_consume(&((struct sslot *)c->ps)->s, n);
	step(c);
}

static void
step(struct conn *c)
{
	struct sslot *S = c->ps;
	struct smtp *s = &S->s;
	struct err e = { 0, "" };

	if (!S->s_init)
		return;
	for (;;) {
		if (smtp_finished(s) != NULL && S->cur >= 0)
			settle(c);
		if (s->done || s->state != SMTP_ST_IDLE)
			return;
		if (c->run->mode != CONN_RUN || (S->cur < 0 &&
		    !open_next(c))) {
			smtp_quit(s);
			return;
		}
		if (smtp_send(s, &S->env, queue_read, &S->h) < 0) {
			/* smtp_send refuses only outside IDLE: a bug */
			snprintf(e.msg, sizeof e.msg, "%s", s->err.msg);
			smtp_abort(s, SMTP_FAIL_LOCAL, EX_SOFTWARE, e.msg);
		}
	}
}

/* ---- the end of an account ---------------------------------------------- */

static void
say_caps(struct conn *c)
{
	const struct smtp *s = &((struct sslot *)c->ps)->s;
	static const int mechs[] = { AUTH_PLAIN, AUTH_LOGIN, AUTH_CRAM_MD5,
	    AUTH_XOAUTH2 };
	char buf[200];
	size_t i, len = 0;

	if (c->run->mode != CONN_DIAG || !c->started || !s->esmtp)
		return;
	buf[0] = '\0';
	if (s->cap_size_set)
		len += (size_t)snprintf(buf + len, sizeof buf - len,
		    " SIZE %lld", s->cap_size);
	len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%s%s%s",
	    s->cap_pipelining ? " PIPELINING" : "", s->cap_8bitmime ?
	    " 8BITMIME" : "", s->cap_smtputf8 ? " SMTPUTF8" : "",
	    s->cap_starttls ? " STARTTLS" : "");
	for (i = 0; i < sizeof mechs / sizeof mechs[0]; i++)
		if ((s->cap_auth & 1u << mechs[i]) && len < sizeof buf)
			len += (size_t)snprintf(buf + len, sizeof buf - len,
			    " AUTH:%s", conf_auth_name(mechs[i]));
	conn_say(c, "capabilities:%s", buf[0] != '\0' ? buf : " (none)");
	if (s->authed)
		conn_say(c, "auth method: %s (configured: %s)",
		    conf_auth_name(s->mech), conf_auth_name(c->a->smtp.auth));
	else if (s->withheld)
		conn_say(c, "auth: credentials withheld on a connection "
		    "without TLS (allow_plaintext_auth '0')");
	else
		conn_say(c, "auth: none");
}

static const char *
auth_word(const struct smtp *s)
{
	if (s->authed)
		return conf_auth_name(s->mech);
	return s->withheld ? "withheld (no TLS)" : "none";
}

static void
report(struct conn *c, int outcome, const char *msg, long long ms, int ex)
{
	struct sslot *S = c->ps;
	struct logline l;

	if (c->run->mode != CONN_RUN) {
		if (S->s_init)
			say_caps(c);
		conn_report_probe(c, outcome, msg, ms, auth_word(&S->s));
		return;
	}
	if (outcome == CONN_OK)
		return;			/* each message was logged */
	conn_log_tls(c, outcome, msg);
	conn_log_head(c, &l, "send");
	log_str(&l, "result", "fail");
	log_int(&l, "sent", S->n_sent);
	log_int(&l, "deferred", S->n_deferred);
	log_int(&l, "failed", S->n_failed);
	log_int(&l, "ms", ms);
	log_str(&l, "error", msg);
	log_end(&l);
	/* `send` succeeded in queueing: a temporary failure is news, not an
	 * error (cron mails a script's stderr) */
	if (single && ex == EX_TEMPFAIL)
		log_warn("%s: smtp: %s", c->a->name, msg);
	else
		conn_log_error(c, msg);
}

static int
s_end(struct conn *c, long long now)
{
	struct sslot *S = c->ps;
	const char *msg = "";
	int outcome = CONN_OK, ex, untried;

	if (S->s_init && smtp_finished(&S->s) != NULL && S->cur >= 0)
		settle(c);
	if (c->e.ex != 0) {
		outcome = c->outcome;
		msg = c->e.msg;
	} else if (S->s_init && S->s.fail != SMTP_OK) {
		switch (S->s.fail) {
		case SMTP_FAIL_AUTH:
			outcome = CONN_AUTH;
			break;
		case SMTP_FAIL_TEMP:
			outcome = CONN_TEMP;
			break;
		case SMTP_FAIL_LOCAL:
			outcome = CONN_LOCAL;
			break;
		default:
			outcome = CONN_CONNECT;
			break;
		}
		msg = S->s.err.msg;
	} else if (S->s_init && !S->s.done) {
		outcome = CONN_TEMP;
		msg = "session ended early";
	}
	ex = conn_ex(c, outcome, S->s_init ? S->s.err.ex : 0);
	conn_policy(c, outcome, msg, S->n_sent > 0, ex);
	/* Messages the session did not get to: tried in vain, so the
	 * backoff applies — unless the run's deadline stopped us. */
	untried = outcome != CONN_OK && outcome != CONN_LOCAL && !c->aborted;
	if (S->cur >= 0) {
		if (untried)
			defer_open(c, msg);
		else {
			queue_close(&S->h);
			items[S->cur].result = 0;
			S->cur = -1;
		}
	}
	while (untried && open_next(c))
		defer_open(c, msg);
	report(c, outcome, msg, now - c->t0, ex);
	S->s_init = 0;
	return ex_worst(ex, S->ex);
}

static void
s_unstarted(struct conn_run *r, const struct account *a, const char *msg)
{
	(void)r;
	conn_log_unstarted("send", a, SVC_SMTP, msg);
}

static const struct conn_proto send_proto = {
	SVC_SMTP, "STARTTLS", sizeof(struct sslot),
	s_setup, s_start, s_input, s_tls_ready, s_eof, s_cut, s_tick, s_view,
	s_took, NULL, s_end, s_unstarted
};

/* ---- which messages, which accounts ------------------------------------- */

struct plan {
	struct conf *c;
	long long now;
	unsigned char want[CONF_ACCOUNTS_MAX];
	int over;			/* due, but over SEND_BATCH_MAX */
	int nodd;
	char odd[SEND_ODD_MAX][QUEUE_ID_MAX];	/* damaged, orphaned */
};

static int
expired(const struct plan *p, long long created)
{
	return p->c->main.queue_lifetime > 0 &&
	    p->now - created >= p->c->main.queue_lifetime;
}

static int
plan_one(void *ctx, const struct queue_entry *qe)
{
	struct plan *p = ctx;
	struct account *a;
	struct item *it;

	if (qe->corrupt) {
		if (p->nodd < SEND_ODD_MAX)
			snprintf(p->odd[p->nodd++], QUEUE_ID_MAX, "%s",
			    qe->id);
		return 0;
	}
	a = conf_account(p->c, qe->env->account);
	if (a == NULL) {
		log_warn("queued message %s is for account '%s', which is "
		    "not in %s", qe->id, qe->env->account, p->c->path);
		if (expired(p, qe->env->created) && p->nodd < SEND_ODD_MAX)
			snprintf(p->odd[p->nodd++], QUEUE_ID_MAX, "%s",
			    qe->id);
		return 0;
	}
	if (!p->want[a - p->c->acct] ||
	    (qe->next > p->now && !expired(p, qe->env->created)))
		return 0;
	if (nitems == SEND_BATCH_MAX) {
		p->over++;
		return 0;
	}
	it = &items[nitems++];
	snprintf(it->id, sizeof it->id, "%s", qe->id);
	it->created = qe->env->created;
	it->a = a;
	it->result = 0;
	return 0;
}

static int
item_cmp(const void *x, const void *y)
{
	const struct item *a = x, *b = y;

	if (a->a != b->a)
		return a->a < b->a ? -1 : 1;
	if (a->created != b->created)
		return a->created < b->created ? -1 : 1;
	return strcmp(a->id, b->id);
}

/* Damaged files go to corrupt/; orphans past their lifetime to failed/. */
static int
plan_odd(struct plan *p)
{
	struct queue_msg h;
	struct logline l;
	struct err e = { 0, "" };
	int i, r, ex = 0;

	for (i = 0; i < p->nodd; i++) {
		r = queue_open(&queue, p->odd[i], p->now, &h, &queue.env, &e);
		switch (r) {
		case QUEUE_OK:
			queue_close(&h);
			break;
		case QUEUE_CORRUPT:
			queue_head(&l, NULL, p->odd[i], "corrupt");
			log_str(&l, "error", h.why);
			log_end(&l);
			log_error("queued message %s is damaged (moved to "
			    "corrupt/): %s", p->odd[i], h.why);
			ex = ex_worst(ex, EX_IOERR);
			break;
		case QUEUE_EXPIRED:
			queue_head(&l, NULL, p->odd[i], "expired");
			log_str(&l, "error", h.last_error);
			log_end(&l);
			log_error("queued message %s given up: %s", p->odd[i],
			    h.last_error);
			ex = ex_worst(ex, EX_UNAVAILABLE);
			break;
		case QUEUE_BUSY:
		case QUEUE_GONE:
			break;
		default:
			log_error("%s", e.msg);
			ex = ex_worst(ex, e.ex);
			err_clear(&e);
			break;
		}
	}
	return ex;
}

int
send_plan(struct conn_run *r, char **names, int nnames)
{
	static struct plan p;
	struct conf *c = r->c;
	struct account *a;
	struct err e = { 0, "" };
	int i, j, n;

	memset(&p, 0, sizeof p);
	p.c = c;
	p.now = log_now();
	for (i = 0; i < nnames; i++) {
		switch (conn_named(r, names[i], SVC_SMTP, &a)) {
		case -1:
			return EX_USAGE;
		case 0:
			continue;
		}
		p.want[a - c->acct] = 1;
	}
	if (nnames == 0)
		for (i = 0; i < c->nacct; i++)
			p.want[i] = c->acct[i].enabled &&
			    c->acct[i].smtp.host[0] != '\0';
	if (r->mode != CONN_RUN) {
		for (i = 0; i < c->nacct; i++)
			if (p.want[i])
				conn_add(r, &c->acct[i], &send_proto);
		return 0;
	}
	queue_init(&queue, c->main.spool_dir, c->main.queue_lifetime);
	nitems = 0;
	if (queue_list(&queue, plan_one, &p, &e) < 0) {
		log_error("%s", e.msg);
		return e.ex ? e.ex : EX_IOERR;
	}
	r->ex = ex_worst(r->ex, plan_odd(&p));
	if (p.over > 0)
		log_warn("%d more queued message%s due: sent by a later run "
		    "(at most %d per run)", p.over, p.over == 1 ? " is" :
		    "s are", SEND_BATCH_MAX);
	qsort(items, (size_t)nitems, sizeof items[0], item_cmp);
	for (i = 0; i < nitems; i = j) {
		for (j = i; j < nitems && items[j].a == items[i].a; j++)
			;
		n = conn_add(r, items[i].a, &send_proto);
		if (n < 0)
			break;
		r->job[n].first = i;
		r->job[n].count = j - i;
	}
	return 0;
}

int
send_flush(struct conf *c, char **names, int nnames)
{
	struct conn_run *r = conn_begin(c, CONN_RUN);
	int ex;

	if ((ex = send_plan(r, names, nnames)) != 0)
		return ex;
	return conn_go(r);
}

/* ---- tern send ---------------------------------------------------------- */

/* -a, else the first enabled account with an smtp_host, else the first
 * with one. */
static const struct account *
send_account(struct conf *c, const char *name)
{
	struct account *a;
	int i;

	if (name[0] != '\0') {
		if ((a = conf_account(c, name)) == NULL) {
			log_error("send: no account '%s' in %s", name,
			    c->path);
			return NULL;
		}
		if (a->smtp.host[0] == '\0') {
			log_error("send: account '%s' has no smtp_host",
			    name);
			return NULL;
		}
		return a;
	}
	for (i = 0; i < c->nacct; i++)
		if (c->acct[i].enabled && c->acct[i].smtp.host[0] != '\0')
			return &c->acct[i];
	for (i = 0; i < c->nacct; i++)
		if (c->acct[i].smtp.host[0] != '\0')
			return &c->acct[i];
	log_error("send: no account with an smtp_host in %s", c->path);
	return NULL;
}

/* The message stays queued without a try now. */
static void
left_queued(const struct account *a, const char *id,
    const struct envelope *env, const char *reason)
{
	struct logline l;

	queue_head(&l, a, id, "queued");
	log_int(&l, "rcpts", env->nrcpt);
	log_int(&l, "bytes", env->size);
	log_str(&l, "reason", reason);
	log_end(&l);
	log_warn("%s: message %s queued, not sent now (%s)", a->name, id,
	    reason);
}

int
send_main(struct conf *c, int argc, char **argv)
{
	static struct msg m;
	static struct queue_tx tx;
	struct envelope *env = &queue.env;
	struct msg_opts o;
	struct err e = { 0, "" };
	const struct account *a;
	struct conn_run *r;
	struct conn_job *j;
	long long now;
	int ex;

	if (msg_args(&o, argc, argv, &e) < 0) {
		log_error("%s", e.msg);
		return e.ex;
	}
	if ((a = send_account(c, o.account)) == NULL)
		return o.account[0] != '\0' ? EX_USAGE : EX_CONFIG;
	queue_init(&queue, c->main.spool_dir, c->main.queue_lifetime);
	now = log_now();
	if (msg_begin(&m, &o, env, a->name, a->from, queue_write, &tx,
	    &e) < 0) {
		log_error("send: %s", e.msg);
		return e.ex;
	}
	if (queue_begin(&queue, &tx, now, &e) < 0) {
		log_error("send: %s", e.msg);
		return e.ex;
	}
	if (msg_read(&m, 0, &e) < 0 || msg_finish(&m, now, tx.id, &e) < 0 ||
	    queue_commit(&queue, &tx, env, &e) < 0) {
		queue_abort(&tx);
		log_error("send: %s", e.msg);
		return e.ex;
	}
	if (!a->enabled) {
		left_queued(a, tx.id, env, "off");
		return 0;
	}
	/* now over one connection */
	snprintf(items[0].id, sizeof items[0].id, "%s", tx.id);
	items[0].created = env->created;
	items[0].a = a;
	items[0].result = 0;
	nitems = 1;
	single = 1;
	r = conn_begin(c, CONN_RUN);
	conn_add(r, a, &send_proto);
	j = &r->job[0];
	j->first = 0;
	j->count = 1;
	ex = conn_go(r);
	if (j->skipped) {
		left_queued(a, tx.id, env, j->ex == EX_UNAVAILABLE ?
		    "disabled" : j->ex == 0 ? "locked" : "state");
		return j->ex == EX_UNAVAILABLE ? 0 : j->ex;
	}
	switch (items[0].result) {
	case QUEUE_DONE:
		return 0;
	case QUEUE_FAILED:
	case QUEUE_EXPIRED:
		return EX_UNAVAILABLE;
	}
	/* still queued: a temporary failure is no failure of `send` */
	return ex == EX_TEMPFAIL ? 0 : ex;
}

/* ---- tern queue --------------------------------------------------------- */

/* A duration for `tern queue`: ages round down, waits (up != 0) round up,
 * so a retry due in 4 min 59 s reads "5m", not "4m". */
static void
span(long long s, int up, char *buf, size_t cap)
{
	long long d;

	if (s < 0)
		s = 0;
	d = s < 120 ? 1 : s < 120 * 60 ? 60 : s < 48 * 3600 ? 3600 : 86400;
	snprintf(buf, cap, "%lld%c", (s + (up ? d - 1 : 0)) / d,
	    d == 1 ? 's' : d == 60 ? 'm' : d == 3600 ? 'h' : 'd');
}

static void
bytes(long long n, char *buf, size_t cap)
{
	if (n < 10000)
		snprintf(buf, cap, "%lld", n);
	else if (n < 10000LL * 1024)
		snprintf(buf, cap, "%lldK", (n + 1023) / 1024);
	else
		snprintf(buf, cap, "%lldM", (n + (1 << 20) - 1) >> 20);
}

/* An indented line, escaped and cut to 80 columns. */
static void
qnote(const char *head, const char *text)
{
	char esc[512] = "";
	size_t room = 76 - strlen(head);

	log_escape(esc, sizeof esc, text, strlen(text));
	if (strlen(esc) > room)
		printf("    %s%.*s...\n", head, (int)(room - 3), esc);
	else
		printf("    %s%s\n", head, esc);
}

struct qlist {
	long long now;
	int n;
};

static int
list_one(void *ctx, const struct queue_entry *qe)
{
	struct qlist *ql = ctx;
	const struct envelope *env = qe->env;
	char age[24], size[24], next[24], line[512], t[32];
	size_t len = 0;
	int i;

	if (ql->n++ == 0)
		printf("%-28s %-10s %5s %6s %4s %5s %5s\n", "ID", "ACCOUNT",
		    "AGE", "SIZE", "RCPT", "TRIES", "NEXT");
	if (qe->corrupt) {
		printf("%-28s %s\n", qe->id, "(damaged: moved aside by the "
		    "next flush)");
		qnote("", qe->why != NULL ? qe->why : "");
		return 0;
	}
	span(ql->now - env->created, 0, age, sizeof age);
	bytes(env->size, size, sizeof size);
	if (qe->next <= ql->now)
		snprintf(next, sizeof next, "now");
	else
		span(qe->next - ql->now, 1, next, sizeof next);
	printf("%-28s %-10.10s %5s %6s %4d %5d %5s\n", qe->id, env->account,
	    age, size, qe->npending, qe->attempts, next);
	line[0] = '\0';
	for (i = 0; i < env->nrcpt && len + 2 < sizeof line; i++) {
		if (env->rcpt[i].status == RCPT_DONE ||
		    env->rcpt[i].status == RCPT_FAILED)
			continue;
		len += (size_t)snprintf(line + len, sizeof line - len, "%s%s",
		    len > 0 ? ", " : "", msg_rcpt(env, i));
	}
	if (len >= sizeof line)
		len = sizeof line - 1;
	if (qe->ndone > 0 || qe->nfailed > 0)
		snprintf(line + len, sizeof line - len, " (%d delivered, %d "
		    "refused)", qe->ndone, qe->nfailed);
	qnote("to: ", line);
	if (qe->last_error != NULL && qe->last_error[0] != '\0') {
		log_time(qe->last, t);
		snprintf(line, sizeof line, "%s: %s", t, qe->last_error);
		qnote("last error ", line);
	}
	return 0;
}

int
send_queue(struct conf *c)
{
	struct qlist ql = { 0, 0 };
	struct err e = { 0, "" };

	ql.now = log_now();
	queue_init(&queue, c->main.spool_dir, c->main.queue_lifetime);
	if (queue_list(&queue, list_one, &ql, &e) < 0) {
		log_error("%s", e.msg);
		return e.ex ? e.ex : EX_IOERR;
	}
	if (ql.n == 0)
		printf("(no queued messages in %s)\n", c->main.spool_dir);
	return 0;
}

struct qcount {
	struct conf *c;
	int *counts;
};

static int
count_one(void *ctx, const struct queue_entry *qe)
{
	struct qcount *qc = ctx;
	struct account *a;

	if (!qe->corrupt && (a = conf_account(qc->c, qe->env->account)))
		qc->counts[a - qc->c->acct]++;
	return 0;
}

int
send_queued(struct conf *c, int *counts)
{
	struct qcount qc;
	struct err e = { 0, "" };
	int n;

	memset(counts, 0, CONF_ACCOUNTS_MAX * sizeof *counts);
	qc.c = c;
	qc.counts = counts;
	queue_init(&queue, c->main.spool_dir, c->main.queue_lifetime);
	if ((n = queue_list(&queue, count_one, &qc, &e)) < 0)
		log_error("%s", e.msg);
	return n;
}
