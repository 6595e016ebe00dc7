/*
 * fetch.c — the fetch driver: POP3 sessions plugged into conn.c, and
 * which accounts a fetch serves.  See fetch.h for the contract.
 *
 * conn.c owns the connections (connect, TLS, the loop, retries, the
 * trace); this file owns what is POP3's: the UIDL ledger, the session,
 * how its failures map to outcomes, and the fetch event.
 */
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "conn.h"
#include "fetch.h"
#include "file.h"
#include "log.h"
#include "pop3.h"
#include "state.h"
#include "uidl.h"

/* fetch's part of a session slot */
struct fslot {
	struct pop3 p;
	int p_init;
	struct uidl_db db;
	int db_loaded;
	size_t sent;			/* bytes of p.out handed over */
	int auth_seen;
};

static int
auth_state(int st)
{
	return st == POP3_ST_USER || st == POP3_ST_PASS ||
	    st == POP3_ST_APOP || st == POP3_ST_AUTH;
}

/* ---- the session's hooks ------------------------------------------------ */

static int
f_setup(struct conn *c)
{
	struct fslot *f = c->ps;
	struct conn_run *r = c->run;
	struct err e = { 0, "" };

	f->p_init = f->db_loaded = 0;
	f->sent = 0;
	f->auth_seen = 0;
	if (r->mode == CONN_RUN) {
		/* the ledger is appended to in state_dir: it must exist */
		if (file_mkdirs(r->c->main.state_dir, 0700, &e) < 0) {
			conn_fail(c, CONN_LOCAL, CONN_EV_NONE, e.ex, e.msg);
			return -1;
		}
		if (uidl_load(&f->db, r->c->main.state_dir, c->a->name,
		    &e) < 0) {
			conn_fail(c, CONN_LOCAL, CONN_EV_NONE, e.ex, e.msg);
			return -1;
		}
		f->db_loaded = 1;
	}
	if (pop3_init(&f->p, r->c, c->a, f->db_loaded ? &f->db : NULL,
	    &e) < 0) {
		conn_fail(c, CONN_LOCAL, CONN_EV_NONE, e.ex, e.msg);
		return -1;
	}
	f->p_init = 1;
	f->p.probe = r->mode != CONN_RUN;
	return 0;
}

static void
f_start(struct conn *c)
{
	struct fslot *f = c->ps;

	f->sent = 0;
	pop3_start(&f->p);
}

static void
f_input(struct conn *c, const char *buf, size_t n)
{
	struct fslot *f = c->ps;
	struct pop3 *p = &f->p;

	if (auth_state(p->state))
		f->auth_seen = 1;
	pop3_input(p, buf, n);
	if (f->auth_seen && !c->authed && p->fail == POP3_OK &&
	    !auth_state(p->state))
		c->authed = 1;
}

static void
f_tls_ready(struct conn *c)
{
	pop3_tls_ready(&((struct fslot *)c->ps)->p);
}

static void
f_eof(struct conn *c)
{
	pop3_eof(&((struct fslot *)c->ps)->p);
}

/* The connection is cut: let pop3 settle what it delivered. */
static void
f_cut(struct conn *c)
{
	struct fslot *f = c->ps;

	if (f->p_init && !f->p.done)
		pop3_eof(&f->p);
}

static void
f_tick(struct conn *c, long long now)
{
	pop3_tick(&((struct fslot *)c->ps)->p, now);
}

static void
f_view(struct conn *c, struct conn_view *v)
{
	struct fslot *f = c->ps;
	const struct pop3 *p = &f->p;
	size_t so = p->secret_off, se = p->secret_off + p->secret_len;

	memset(v, 0, sizeof *v);
	v->out = p->out + f->sent;
	v->outlen = p->outlen - f->sent;
	if (p->secret_len > 0 && se > f->sent) {
		v->secret_off = so > f->sent ? so - f->sent : 0;
		v->secret_len = se - (so > f->sent ? so : f->sent);
	}
	v->quiet_in = p->inbody;
	v->want_tls = p->want_tls;
	v->done = p->done;
	v->due = p->group_due;
	v->state = pop3_state_name(p->state);
}

static void
f_took(struct conn *c, size_t n)
{
	struct fslot *f = c->ps;

	f->sent += n;
	if (f->sent == f->p.outlen) {
		f->p.outlen = 0;
		f->sent = 0;
	}
}

static int
f_again(struct conn *c)
{
	struct fslot *f = c->ps;

	return f->p_init && f->p.reconnect && f->p.fail == POP3_OK;
}

/* ---- the end of an account ---------------------------------------------- */

static void
say_caps(struct conn *c)
{
	struct fslot *f = c->ps;
	const struct pop3 *p = &f->p;
	static const int mechs[] = { AUTH_PLAIN, AUTH_LOGIN, AUTH_CRAM_MD5,
	    AUTH_XOAUTH2 };
	char buf[160];
	size_t i, len;

	if (c->run->mode != CONN_DIAG || !c->started || !f->p_init ||
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
	conn_say(c, "capabilities:%s%s", buf[0] == ' ' || buf[0] == '\0' ? ""
	    : " ", buf);
	if (p->mech != AUTH_AUTO)
		conn_say(c, "auth method: %s (configured: %s)",
		    conf_auth_name(p->mech), conf_auth_name(c->a->pop3.auth));
}

static void
report(struct conn *c, int outcome, const char *msg, long long ms)
{
	struct fslot *f = c->ps;
	const struct account *a = c->a;
	const struct pop3 *p = &f->p;
	struct logline l;

	if (c->run->mode != CONN_RUN) {
		say_caps(c);
		conn_report_probe(c, outcome, msg, ms, f->p_init ?
		    conf_auth_name(p->mech) : "");
		return;
	}
	/* `auth` and `connect` failures were logged, with their counts, by
	 * policy_end() */
	conn_log_tls(c, outcome, msg);
	conn_log_head(c, &l, "fetch");
	log_str(&l, "result", outcome == CONN_OK ? "ok" : "fail");
	if (f->p_init) {
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
	if (outcome != CONN_OK)
		log_str(&l, "error", msg);
	log_end(&l);
	if (outcome != CONN_OK)
		conn_log_error(c, msg);
	else
		log_info("%s: pop3: %d new, %lld bytes, %d deleted, %lld ms",
		    a->name, p->n_new, p->n_bytes, p->n_deleted, ms);
}

static int
f_end(struct conn *c, long long now)
{
	struct fslot *f = c->ps;
	struct err e = { 0, "" };
	const char *msg = "";
	int outcome = CONN_OK, ex;

	if (c->e.ex != 0) {
		outcome = c->outcome;
		msg = c->e.msg;
	} else if (f->p_init && f->p.fail != POP3_OK) {
		switch (f->p.fail) {
		case POP3_FAIL_AUTH:
			outcome = CONN_AUTH;
			break;
		case POP3_FAIL_TEMP:
			outcome = CONN_TEMP;
			break;
		case POP3_FAIL_LOCAL:
			outcome = CONN_LOCAL;
			break;
		default:
			outcome = CONN_CONNECT;
			break;
		}
		msg = f->p.err.msg;
	} else if (f->p_init && !f->p.done) {
		outcome = CONN_TEMP;
		msg = "session ended early";
	}
	/* a complete listing says which UIDLs the server no longer has */
	if (c->run->mode == CONN_RUN && f->db_loaded && f->p_init &&
	    f->p.listed_all && uidl_prune(&f->db, &e) < 0 &&
	    outcome == CONN_OK) {
		conn_fail(c, CONN_LOCAL, CONN_EV_NONE, e.ex, e.msg);
		outcome = CONN_LOCAL;
		msg = c->e.msg;
	}
	ex = conn_ex(c, outcome, f->p_init ? f->p.err.ex : 0);
	conn_policy(c, outcome, msg, f->p_init && (f->p.n_new > 0 ||
	    f->p.n_deleted > 0 || f->p.n_toobig > 0), ex);
	report(c, outcome, msg, now - c->t0);
	if (f->p_init)
		pop3_free(&f->p);
	if (f->db_loaded)
		uidl_free(&f->db);
	f->p_init = f->db_loaded = 0;
	return ex;
}

static void
f_unstarted(struct conn_run *r, const struct account *a, const char *msg)
{
	(void)r;
	conn_log_unstarted("fetch", a, SVC_POP3, msg);
}

static const struct conn_proto fetch_proto = {
	SVC_POP3, "STLS", sizeof(struct fslot),
	f_setup, f_start, f_input, f_tls_ready, f_eof, f_cut, f_tick, f_view,
	f_took, f_again, f_end, f_unstarted
};

/* ---- which accounts ----------------------------------------------------- */

int
fetch_plan(struct conn_run *r, char **names, int nnames)
{
	struct conf *c = r->c;
	struct account *a;
	int i, j;

	for (i = 0; i < nnames; i++) {
		switch (conn_named(r, names[i], SVC_POP3, &a)) {
		case -1:
			return EX_USAGE;
		case 0:
			continue;
		}
		for (j = 0; j < r->njob; j++)
			if (r->job[j].a == a && r->job[j].p == &fetch_proto)
				break;
		if (j == r->njob)
			conn_add(r, a, &fetch_proto);
	}
	if (nnames == 0)
		for (i = 0; i < c->nacct; i++)
			if (c->acct[i].enabled && c->acct[i].pop3.host[0])
				conn_add(r, &c->acct[i], &fetch_proto);
	return 0;
}

int
fetch_run(struct conf *c, char **names, int nnames, int mode)
{
	struct conn_run *r;
	struct account *a;
	int ex;

	if (mode == FETCH_DIAG) {
		if (nnames != 1) {
			log_error("usage: tern diag ACCOUNT");
			return EX_USAGE;
		}
		a = conf_account(c, names[0]);
		if (a != NULL && a->pop3.host[0] == '\0') {
			log_error("account '%s' has no pop3_host", names[0]);
			return EX_USAGE;
		}
	}
	r = conn_begin(c, mode);
	if ((ex = fetch_plan(r, names, nnames)) != 0)
		return ex;
	return conn_go(r);
}
