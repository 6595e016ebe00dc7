/*
 * pop3.c — the POP3 session state machine (RFC 1939, 2449, 2595, 5034).
 *
 * Commands go through one ring of commands in flight: a command is
 * queued into p->out and its expected reply into p->q, and every reply
 * line is handled by the state of the oldest entry (p->state).  In the
 * AUTHORIZATION state one command is in flight at a time; in the
 * TRANSACTION state up to POP3_PIPE_MAX when the server offers
 * PIPELINING, else one.  pump() decides what to send next from the
 * listing table: DELEs that became allowed, then RETRs, then QUIT.
 *
 * A message goes M_WANT → M_SENT (RETR queued) → M_COMMITTED (complete
 * in tmp/, not yet synced) → M_DURABLE (after dlv_sync and the ledger
 * commit of its group); only then may it be DELE'd.  An error is
 * recorded once (first wins): protocol garbage ends the session at once;
 * anything else sets `failing`, drains what is in flight and sends QUIT,
 * which commits only DELEs of durable messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "log.h"
#include "pop3.h"
#include "sasl.h"

enum { M_NONE, M_WANT, M_SENT, M_COMMITTED, M_DURABLE, M_FAILED };
enum { D_NO, D_WANT, D_SENT, D_OK, D_ERR };
enum { R_OK, R_ERR, R_CONT, R_BAD };	/* kinds of reply line */

#define STEP_CANCEL	100		/* SASL exchange being cancelled */

#define STR_(x)		#x
#define STR(x)		STR_(x)
#define TOO_MANY	"server lists more than " STR(UIDL_MAX) \
			" messages (UIDL_MAX)"

static const char *const state_names[POP3_ST_COUNT] = {
	"none", "greeting", "capa", "stls", "tls", "user", "pass", "apop",
	"auth", "uidl", "list", "retr", "dele", "quit", "idle", "done"
};

static void pump(struct pop3 *);

const char *
pop3_state_name(int state)
{
	if (state < 0 || state >= POP3_ST_COUNT)
		return "?";
	return state_names[state];
}

/* ---- errors ---- */

/* Record the first failure: its class and a message made of `what` and
 * the server's line, escaped and capped (server text is data). */
static void
failure(struct pop3 *p, int cls, int ex, const char *what, const char *l,
    size_t len)
{
	char msg[sizeof p->err.msg];

	p->failing = 1;
	if (p->err.ex != 0)
		return;
	msg[0] = '\0';
	if (what != NULL)
		snprintf(msg, sizeof msg, l != NULL ? "%s: " : "%s", what);
	if (l != NULL)
		log_escape(msg, sizeof msg, l, len);
	err_set(&p->err, ex, "%s", msg);
	p->fail = cls;
}

/* Adopt an error reported by another module (delivery, ledger, secret). */
static void
take(struct pop3 *p, int cls, const struct err *e)
{
	p->failing = 1;
	if (p->err.ex != 0)
		return;
	p->err = *e;
	p->fail = cls;
}

static int flush(struct pop3 *, int);

/* The session is over now, without QUIT: keep what is delivered. */
static void
finish(struct pop3 *p)
{
	struct err e = { 0, "" };

	if (p->inbody && !p->discard)
		dlv_abort(&p->dlv);
	p->inbody = 0;
	flush(p, 0);
	if (p->db != NULL && p->db->pending > 0 &&
	    uidl_commit(p->db, &e) < 0)
		take(p, POP3_FAIL_LOCAL, &e);
	p->done = 1;
	p->nq = 0;
	p->state = POP3_ST_DONE;
	p->group_due = 0;
}

static void
fail_now(struct pop3 *p, int cls, int ex, const char *what, const char *l,
    size_t len)
{
	failure(p, cls, ex, what, l, len);
	finish(p);
}

static void
garbage(struct pop3 *p, const char *l, size_t len)
{
	fail_now(p, POP3_FAIL_CONNECT, EX_TEMPFAIL, "garbage from server", l,
	    len);
}

/* ---- the output queue and the ring of commands in flight ---- */

/* Wipe a credential once the transport has taken it. */
static void
wipe(struct pop3 *p)
{
	if (p->secret_len > 0 && p->outlen <= p->secret_off) {
		explicit_bzero(p->out + p->secret_off, p->secret_len);
		p->secret_off = p->secret_len = 0;
	}
}

static void
push(struct pop3 *p, int st, int msg)
{
	struct pop3_cmd *c = &p->q[(p->qhead + p->nq) % POP3_PIPE_MAX];

	c->st = (unsigned char)st;
	c->msg = msg;
	if (p->nq++ == 0)
		p->state = st;
}

static void
pop(struct pop3 *p)
{
	p->qhead = (p->qhead + 1) % POP3_PIPE_MAX;
	p->nq--;
	p->state = p->nq > 0 ? p->q[p->qhead].st : POP3_ST_IDLE;
}

static int
cmd(struct pop3 *p, int st, int msg, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Queue one command line and the reply it expects. */
static int
cmd(struct pop3 *p, int st, int msg, const char *fmt, ...)
{
	size_t room;
	va_list ap;
	int n;

	wipe(p);
	room = sizeof p->out - p->outlen;
	va_start(ap, fmt);
	n = vsnprintf(p->out + p->outlen, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n + 2 >= room || p->nq == POP3_PIPE_MAX) {
		fail_now(p, POP3_FAIL_LOCAL, EX_SOFTWARE,
		    "command does not fit the output buffer (POP3_OUT_MAX)",
		    NULL, 0);
		return -1;
	}
	p->outlen += (size_t)n;
	memcpy(p->out + p->outlen, "\r\n", 2);
	p->outlen += 2;
	push(p, st, msg);
	return 0;
}

/*
 * A command carrying a credential: sec_begin() queues `prefix` and says
 * where the caller may write the rest of the line (cap includes a NUL);
 * sec_end() closes the line, expects a reply for state st and records
 * which bytes are secret (from `from` on; -1 = none) for the -v trace.
 */
static char *
sec_begin(struct pop3 *p, const char *prefix, size_t *cap)
{
	size_t n = strlen(prefix), room;

	wipe(p);
	room = sizeof p->out - p->outlen;
	if (n + 3 > room || p->nq == POP3_PIPE_MAX)
		return NULL;
	memcpy(p->out + p->outlen, prefix, n);
	*cap = room - n - 2;
	return p->out + p->outlen + n;
}

static int
sec_end(struct pop3 *p, int st, const char *prefix, long len, long from)
{
	size_t n = strlen(prefix);

	if (len < 0) {
		explicit_bzero(p->out + p->outlen, sizeof p->out - p->outlen);
		return -1;
	}
	if (from >= 0) {
		p->secret_off = p->outlen + n + (size_t)from;
		p->secret_len = (size_t)(len - from);
	}
	p->outlen += n + (size_t)len;
	memcpy(p->out + p->outlen, "\r\n", 2);
	p->outlen += 2;
	push(p, st, -1);
	return 0;
}

/* ---- reply lines ---- */

static int
kind(const char *l)
{
	if (strncasecmp(l, "+OK", 3) == 0 && (l[3] == '\0' || l[3] == ' '))
		return R_OK;
	if (strncasecmp(l, "-ERR", 4) == 0 && (l[4] == '\0' || l[4] == ' '))
		return R_ERR;
	if (l[0] == '+' && (l[1] == '\0' || l[1] == ' '))
		return R_CONT;
	return R_BAD;
}

/* s starts with the response code `code`, ended by ']' or a sub-code. */
static int
code_is(const char *s, const char *code)
{
	size_t n = strlen(code);

	return strncasecmp(s, code, n) == 0 && (s[n] == ']' || s[n] == '/');
}

/* The class of a "-ERR [CODE] text" reply (RFC 2449, RFC 3206). */
static int
err_class(const char *l, int dflt)
{
	const char *s = l + 4;

	while (*s == ' ')
		s++;
	if (*s++ != '[')
		return dflt;
	if (code_is(s, "IN-USE") || code_is(s, "LOGIN-DELAY") ||
	    code_is(s, "SYS/TEMP"))
		return POP3_FAIL_TEMP;
	if (code_is(s, "AUTH"))
		return POP3_FAIL_AUTH;
	if (code_is(s, "SYS/PERM"))
		return POP3_FAIL_CONNECT;
	return dflt;
}

static int
ex_of(int cls)
{
	switch (cls) {
	case POP3_FAIL_AUTH:
		return EX_NOPERM;
	case POP3_FAIL_TEMP:
	case POP3_FAIL_CONNECT:
		return EX_TEMPFAIL;
	}
	return EX_SOFTWARE;
}

/* A word of a CAPA line, case-insensitively. */
static int
word_is(const char *s, const char *w)
{
	size_t n = strlen(w);

	return strncasecmp(s, w, n) == 0 && (s[n] == '\0' || s[n] == ' ');
}

/* Decimal digits at *s (1..19 of them, value ≤ max); advances *s. */
static int
number(const char **s, unsigned long long max, unsigned long long *v)
{
	const char *q = *s;
	unsigned long long x = 0;

	while (*q >= '0' && *q <= '9' && q - *s < 19)
		x = x * 10 + (unsigned long long)(*q++ - '0');
	if (q == *s || (*q >= '0' && *q <= '9') || x > max)
		return -1;
	*s = q;
	*v = x;
	return 0;
}

/* ---- states: enter ---- */

static void
pop3_enter(struct pop3 *p, int st)
{
	switch (st) {
	case POP3_ST_CAPA:
		cmd(p, st, -1, "CAPA");
		break;
	case POP3_ST_STLS:
		cmd(p, st, -1, "STLS");
		break;
	case POP3_ST_UIDL:
		cmd(p, st, -1, "UIDL");
		break;
	case POP3_ST_LIST:
		cmd(p, st, -1, "LIST");
		break;
	case POP3_ST_QUIT:
		if (cmd(p, st, -1, "QUIT") == 0)
			p->quit_sent = 1;
		break;
	}
}

static void
caps_clear(struct pop3 *p)
{
	p->cap_capa = p->cap_pipelining = p->cap_uidl = 0;
	p->cap_stls = p->cap_top = p->cap_user = 0;
	p->cap_sasl = 0;
}

static void
capa_line(struct pop3 *p, const char *l)
{
	static const struct {
		const char *name;
		int mech;
	} sasl[] = {
		{ "PLAIN", AUTH_PLAIN }, { "LOGIN", AUTH_LOGIN },
		{ "CRAM-MD5", AUTH_CRAM_MD5 }, { "XOAUTH2", AUTH_XOAUTH2 }
	};
	size_t i;

	if (word_is(l, "PIPELINING"))
		p->cap_pipelining = 1;
	else if (word_is(l, "UIDL"))
		p->cap_uidl = 1;
	else if (word_is(l, "STLS"))
		p->cap_stls = 1;
	else if (word_is(l, "TOP"))
		p->cap_top = 1;
	else if (word_is(l, "USER"))
		p->cap_user = 1;
	else if (word_is(l, "SASL")) {
		for (l += 4; *l != '\0'; ) {
			while (*l == ' ')
				l++;
			for (i = 0; i < sizeof sasl / sizeof sasl[0]; i++)
				if (word_is(l, sasl[i].name))
					p->cap_sasl |= 1u << sasl[i].mech;
			while (*l != '\0' && *l != ' ')
				l++;
		}
	}
}

/* ---- authentication ---- */

static const char *
mech_name(int m)
{
	switch (m) {
	case AUTH_USER:
		return "USER";
	case AUTH_APOP:
		return "APOP";
	case AUTH_PLAIN:
		return "PLAIN";
	case AUTH_LOGIN:
		return "LOGIN";
	case AUTH_CRAM_MD5:
		return "CRAM-MD5";
	case AUTH_XOAUTH2:
		return "XOAUTH2";
	}
	return "auto";
}

/* The mechanism to use, or -1 with the failure recorded.  `auto` takes
 * the strongest of XOAUTH2 (with a token source), PLAIN, LOGIN, USER,
 * and never APOP or CRAM-MD5 (SPEC §3). */
static int
choose(struct pop3 *p)
{
	const struct server *s = &p->acct->pop3;
	int m = s->auth, user_ok = p->cap_user || !p->cap_capa;
	char what[64];

	if (m == AUTH_AUTO) {
		if ((p->cap_sasl & 1u << AUTH_XOAUTH2) &&
		    (s->oauth_token_cmd[0] != '\0' ||
		    s->oauth_token_file[0] != '\0'))
			return AUTH_XOAUTH2;
		if (p->cap_sasl & 1u << AUTH_PLAIN)
			return AUTH_PLAIN;
		if (p->cap_sasl & 1u << AUTH_LOGIN)
			return AUTH_LOGIN;
		if (user_ok)
			return AUTH_USER;
		failure(p, POP3_FAIL_CONNECT, EX_UNAVAILABLE,
		    "server offers no method auth 'auto' may use "
		    "(XOAUTH2, PLAIN, LOGIN, USER)", NULL, 0);
		return -1;
	}
	if (m == AUTH_USER ? user_ok : m == AUTH_APOP ? p->apop_ts[0] != '\0' :
	    (p->cap_sasl & 1u << m) != 0)
		return m;
	snprintf(what, sizeof what, "server does not offer %s%s",
	    m == AUTH_USER || m == AUTH_APOP ? "" : "AUTH ", mech_name(m));
	failure(p, POP3_FAIL_CONNECT, EX_UNAVAILABLE, what, NULL, 0);
	return -1;
}

/* The login name: "recent:" + user in Gmail's recent mode. */
static int
login_name(struct pop3 *p, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s%s", p->acct->recent ? "recent:" : "",
	    p->acct->pop3.user);
	if (strpbrk(buf, "\r\n") != NULL) {
		failure(p, POP3_FAIL_LOCAL, EX_CONFIG,
		    "user name contains a line break", NULL, 0);
		return -1;
	}
	return 0;
}

/* The password (token = 0) or OAuth token into buf[POP3_SECRET_MAX]. */
static int
secret(struct pop3 *p, int token, char *buf)
{
	struct err e = { 0, "" };

	if (secret_get(&p->acct->pop3, token, buf, POP3_SECRET_MAX,
	    p->conf->main.timeout, &e) < 0) {
		take(p, POP3_FAIL_LOCAL, &e);
		return -1;
	}
	if (strpbrk(buf, "\r\n") != NULL) {
		explicit_bzero(buf, POP3_SECRET_MAX);
		failure(p, POP3_FAIL_LOCAL, EX_CONFIG, token ?
		    "oauth token contains a line break" :
		    "password contains a line break", NULL, 0);
		return -1;
	}
	return 0;
}

/*
 * Queue prefix + the credential line of the current mechanism at `step`
 * (the PASS argument, APOP's "user digest", or a SASL response; l is the
 * server's challenge line), expecting a reply for state st.
 */
static void
sec_line(struct pop3 *p, int st, const char *prefix, int step,
    const char *l)
{
	char user[CONF_STR_MAX + 8], sec[POP3_SECRET_MAX], hex[33], *o;
	size_t cap;
	long n = -1, from = 0;

	if (login_name(p, user, sizeof user) < 0)
		return;
	if ((o = sec_begin(p, prefix, &cap)) == NULL) {
		fail_now(p, POP3_FAIL_LOCAL, EX_SOFTWARE,
		    "command does not fit the output buffer (POP3_OUT_MAX)",
		    NULL, 0);
		return;
	}
	if (p->mech == AUTH_LOGIN && step == 0) {
		n = b64_encode(user, strlen(user), o, cap);
		from = -1;		/* the user name is no secret */
	} else if (secret(p, p->mech == AUTH_XOAUTH2, sec) < 0)
		return;
	else switch (p->mech) {
	case AUTH_USER:
		n = (long)snprintf(o, cap, "%s", sec);
		break;
	case AUTH_APOP:
		if (apop_digest(p->apop_ts, sec, hex) < 0)
			break;
		n = (long)snprintf(o, cap, "%s %s", user, hex);
		from = n - 32;		/* only the digest is secret */
		explicit_bzero(hex, sizeof hex);
		break;
	case AUTH_PLAIN:
		n = sasl_plain(user, sec, o, cap);
		break;
	case AUTH_LOGIN:
		n = b64_encode(sec, strlen(sec), o, cap);
		break;
	case AUTH_CRAM_MD5:
		l++;
		while (*l == ' ')
			l++;
		n = sasl_cram_md5(user, sec, l, o, cap);
		break;
	case AUTH_XOAUTH2:
		n = sasl_xoauth2(user, sec, o, cap);
		break;
	}
	explicit_bzero(sec, sizeof sec);
	if (n >= (long)cap)
		n = -1;
	if (sec_end(p, st, prefix, n, from) < 0)
		failure(p, POP3_FAIL_LOCAL, EX_CONFIG, p->mech ==
		    AUTH_CRAM_MD5 ? "cannot answer the CRAM-MD5 challenge" :
		    "credentials too long for one command line", NULL, 0);
}

static void
auth_start(struct pop3 *p)
{
	char user[CONF_STR_MAX + 8];
	int mech;

	if (!p->tls_on && !p->acct->allow_plaintext_auth) {
		failure(p, POP3_FAIL_LOCAL, EX_CONFIG,
		    "refusing to send credentials without TLS "
		    "(set allow_plaintext_auth)", NULL, 0);
		return;
	}
	if ((mech = choose(p)) < 0)
		return;
	p->mech = mech;
	p->auth_step = 0;
	switch (p->mech) {
	case AUTH_USER:
		if (login_name(p, user, sizeof user) == 0)
			cmd(p, POP3_ST_USER, -1, "USER %s", user);
		break;
	case AUTH_APOP:
		sec_line(p, POP3_ST_APOP, "APOP ", 0, NULL);
		break;
	case AUTH_PLAIN:
		/* initial response (RFC 5034); a "+" asks for it again */
		sec_line(p, POP3_ST_AUTH, "AUTH PLAIN ", 0, NULL);
		p->auth_step = 1;
		break;
	default:
		cmd(p, POP3_ST_AUTH, -1, "AUTH %s", mech_name(p->mech));
		break;
	}
}

static void
auth_failed(struct pop3 *p, const char *l, size_t len)
{
	int cls = err_class(l, POP3_FAIL_AUTH);

	failure(p, cls, cls == POP3_FAIL_CONNECT ? EX_UNAVAILABLE :
	    ex_of(cls), NULL, l, len);
}

static void
authenticated(struct pop3 *p)
{
	if (p->probe || p->db == NULL) {
		pop3_enter(p, POP3_ST_QUIT);
		return;
	}
	pop3_enter(p, POP3_ST_UIDL);
	if (p->cap_pipelining)
		pop3_enter(p, POP3_ST_LIST);
}

/* A "+ challenge" during AUTH: the next line of the exchange. */
static void
auth_cont(struct pop3 *p, const char *l, size_t len)
{
	int step = p->auth_step;

	if (step == STEP_CANCEL) {
		garbage(p, l, len);
		return;
	}
	p->auth_step++;
	if ((p->mech == AUTH_PLAIN && step == 1) ||
	    (p->mech == AUTH_LOGIN && step <= 1) ||
	    (p->mech == AUTH_CRAM_MD5 && step == 0) ||
	    (p->mech == AUTH_XOAUTH2 && step == 0)) {
		sec_line(p, POP3_ST_AUTH, "", step, l);
		return;
	}
	/* Anything more is a refusal in disguise (XOAUTH2 sends its error
	 * as a challenge and wants an empty answer); otherwise cancel. */
	p->auth_step = STEP_CANCEL;
	cmd(p, POP3_ST_AUTH, -1, "%s", p->mech == AUTH_XOAUTH2 ? "" : "*");
}

/* ---- the listing ---- */

static void
uidl_line(struct pop3 *p, const char *l, size_t len)
{
	char uidl[UIDL_LEN_MAX + 1];
	unsigned long long num;
	struct err e = { 0, "" };
	struct uidl_rec *r;
	struct pop3_msg *m;
	const char *s = l, *u;
	size_t n;

	if (number(&s, 0xffffffffu, &num) < 0 || num == 0 || *s != ' ')
		goto bad;
	while (*s == ' ')
		s++;
	for (u = s; *s != '\0' && *s != ' '; s++)
		;
	n = (size_t)(s - u);
	while (*s == ' ')
		s++;
	if (*s != '\0' || !uidl_valid(u, n) || num <= p->lastnum)
		goto bad;
	p->lastnum = (unsigned int)num;
	if (p->nouidl)
		return;
	memcpy(uidl, u, n);
	uidl[n] = '\0';
	r = uidl_find(p->db, uidl);
	if (r != NULL && r->mark) {
		/* The same UIDL twice: UIDLs cannot tell messages apart. */
		if (p->acct->keep) {
			failure(p, POP3_FAIL_LOCAL, EX_UNAVAILABLE,
			    "server lists duplicate UIDLs; keep needs unique "
			    "ones", NULL, 0);
			return;
		}
		p->nouidl = 1;
		p->nmsg = 0;
		return;
	}
	if (p->nmsg == p->capmsg) {
		failure(p, POP3_FAIL_LOCAL, EX_UNAVAILABLE, TOO_MANY, NULL, 0);
		return;
	}
	if (r == NULL) {
		/* A new UIDL enters the ledger not delivered; its
		 * first_seen dates delete_after_days. */
		if (uidl_put(p->db, uidl, p->now, 0, &e) < 0 ||
		    (r = uidl_find(p->db, uidl)) == NULL) {
			if (e.ex == 0)
				err_set(&e, EX_SOFTWARE,
				    "UIDL ledger lost a record");
			take(p, POP3_FAIL_LOCAL, &e);
			return;
		}
	}
	r->mark = 1;
	m = &p->msg[p->nmsg++];
	m->num = (unsigned int)num;
	m->rec = (int)(r - p->db->rec);
	m->size = -1;
	return;
bad:
	fail_now(p, POP3_FAIL_CONNECT, EX_TEMPFAIL, "bad UIDL listing", l,
	    len);
}

static void
list_line(struct pop3 *p, const char *l, size_t len)
{
	unsigned long long num, size;
	struct pop3_msg *m;
	const char *s = l;

	if (number(&s, 0xffffffffu, &num) < 0 || num == 0 || *s != ' ')
		goto bad;
	while (*s == ' ')
		s++;
	/* RFC 1939 lets more information follow the size */
	if (number(&s, 999999999999999999ULL, &size) < 0 ||
	    (*s != '\0' && *s != ' ') || num <= p->lastnum)
		goto bad;
	p->lastnum = (unsigned int)num;
	if (p->nouidl) {
		if (p->nmsg == p->capmsg) {
			failure(p, POP3_FAIL_LOCAL, EX_UNAVAILABLE, TOO_MANY,
			    NULL, 0);
			return;
		}
		m = &p->msg[p->nmsg++];
		m->num = (unsigned int)num;
		m->rec = -1;
		m->size = (long long)size;
		return;
	}
	while (p->list_pos < p->nmsg && p->msg[p->list_pos].num < num)
		p->list_pos++;
	if (p->list_pos < p->nmsg && p->msg[p->list_pos].num == num)
		p->msg[p->list_pos].size = (long long)size;
	return;
bad:
	fail_now(p, POP3_FAIL_CONNECT, EX_TEMPFAIL, "bad LIST listing", l,
	    len);
}

static int
should_delete(const struct pop3 *p, const struct pop3_msg *m)
{
	const struct uidl_rec *r;

	if (!p->acct->keep)
		return 1;
	if (p->acct->delete_after_days <= 0 || m->rec < 0)
		return 0;
	r = &p->db->rec[m->rec];
	/* a clock before first_seen says nothing about age */
	return p->now >= r->first_seen && p->now - r->first_seen >=
	    (long long)p->acct->delete_after_days * 86400;
}

/* Both listings are in: decide what to fetch and what to delete. */
static void
select_msgs(struct pop3 *p)
{
	const struct account *a = p->acct;
	char uidl[UIDL_LEN_MAX + 1];
	struct err e = { 0, "" };
	struct uidl_rec *r;
	struct pop3_msg *m;
	int i, limit, nwant = 0;

	limit = a->max_messages > 0 ? a->max_messages : 0x7fffffff;
	if (p->nouidl && limit > POP3_RECONNECT_EVERY)
		limit = POP3_RECONNECT_EVERY;
	p->n_later = 0;
	for (i = 0; i < p->nmsg; i++) {
		m = &p->msg[i];
		m->want = 0;
		m->dele = D_NO;
		m->st = M_NONE;
		r = m->rec >= 0 ? &p->db->rec[m->rec] : NULL;
		if (r != NULL && (r->flags & UIDL_F_DELIVERED)) {
			/* delivered earlier: kept, or due for deletion
			 * (also when an earlier QUIT never came) */
			if (should_delete(p, m))
				m->dele = D_WANT;
			continue;
		}
		if (r != NULL && (r->flags & UIDL_F_TOOBIG))
			continue;
		if (a->max_size > 0 && m->size > a->max_size) {
			if (r != NULL) {
				memcpy(uidl, r->uidl, sizeof uidl);
				if (uidl_put(p->db, uidl, p->now,
				    UIDL_F_TOOBIG, &e) < 0) {
					take(p, POP3_FAIL_LOCAL, &e);
					return;
				}
			}
			p->n_toobig++;
			continue;
		}
		if (nwant >= limit) {
			p->n_later++;
			continue;
		}
		m->want = 1;
		m->st = M_WANT;
		nwant++;
	}
	p->selected = 1;
}

static void
listing_done(struct pop3 *p)
{
	if (p->failing || !p->uidl_done || !p->list_done)
		return;
	select_msgs(p);
}

static void
no_uidl(struct pop3 *p, const char *l, size_t len)
{
	if (p->acct->keep) {
		failure(p, POP3_FAIL_LOCAL, EX_UNAVAILABLE,
		    "server has no UIDL; keep needs it", l, len);
		return;
	}
	p->nouidl = 1;
	p->nmsg = 0;
}

/* ---- retrieval and the group commit ---- */

/*
 * Make the group durable: fsync the directories (dlv_sync), then record
 * the UIDLs and fsync the ledger; only then may its messages be DELE'd
 * (when `dele`).  Returns -1 with the failure recorded.
 */
static int
flush(struct pop3 *p, int dele)
{
	struct err e = { 0, "" };
	char uidl[UIDL_LEN_MAX + 1];
	struct pop3_msg *m;
	int i, n;

	if (p->g_n == 0)
		return 0;
	p->g_n = 0;
	p->group_due = 0;
	if (dlv_sync(&p->dlv, &e) < 0) {
		take(p, POP3_FAIL_LOCAL, &e);
		return -1;
	}
	for (i = p->g_first, n = 0; i <= p->g_last; i++) {
		m = &p->msg[i];
		if (m->st != M_COMMITTED)
			continue;
		m->st = M_DURABLE;
		n++;
		if (m->rec < 0)
			continue;
		memcpy(uidl, p->db->rec[m->rec].uidl, sizeof uidl);
		if (uidl_put(p->db, uidl, p->now, UIDL_F_DELIVERED, &e) < 0)
			dele = 0;
	}
	p->n_new += n;
	p->n_bytes += p->g_bytes;
	p->g_bytes = 0;
	if (e.ex == 0 && p->db != NULL)
		uidl_commit(p->db, &e);
	if (e.ex != 0) {
		take(p, POP3_FAIL_LOCAL, &e);
		return -1;
	}
	if (!dele)
		return 0;
	for (i = p->g_first; i <= p->g_last; i++) {
		m = &p->msg[i];
		if (m->st == M_DURABLE && m->dele == D_NO &&
		    should_delete(p, m))
			m->dele = D_WANT;
	}
	return 0;
}

static void
retr_start(struct pop3 *p)
{
	struct err e = { 0, "" };

	p->cur = p->q[p->qhead].msg;
	p->inbody = 1;
	body_reset(&p->body);
	p->discard = p->failing;
	if (!p->discard && dlv_begin(&p->dlv, &e) < 0) {
		take(p, POP3_FAIL_LOCAL, &e);
		p->discard = 1;
	}
}

static void
retr_end(struct pop3 *p)
{
	struct err e = { 0, "" };
	struct pop3_msg *m = &p->msg[p->cur];

	pop(p);
	p->nretr--;
	p->inbody = 0;
	if (p->discard) {
		p->discard = 0;
		m->st = M_FAILED;
		return;
	}
	if (dlv_commit(&p->dlv, p->conf->main.timeout, &e) < 0) {
		take(p, POP3_FAIL_LOCAL, &e);
		m->st = M_FAILED;
		return;
	}
	m->st = M_COMMITTED;
	if (p->g_n++ == 0) {
		p->g_first = p->cur;
		p->group_t0 = p->now_ms;
		p->group_due = p->now_ms + POP3_GROUP_MS;
	}
	p->g_last = p->cur;
	p->g_bytes += p->dlv.size;
	if (p->g_n >= POP3_GROUP_MSGS || p->g_bytes >= POP3_GROUP_BYTES)
		flush(p, 1);
}

/* Body bytes of the RETR in progress; returns how many were used. */
static size_t
body_in(struct pop3 *p, const char *in, size_t n)
{
	struct err e = { 0, "" };
	size_t k, outn;

	if (n > sizeof p->bodybuf)
		n = sizeof p->bodybuf;
	k = body_decode(&p->body, in, n, p->bodybuf, &outn);
	if (outn > 0 && !p->discard &&
	    dlv_write(&p->dlv, p->bodybuf, outn, &e) < 0) {
		/* dlv_write removed the tmp file; drain the rest */
		take(p, POP3_FAIL_LOCAL, &e);
		p->discard = 1;
	}
	if (p->body.done)
		retr_end(p);
	return k;
}

static int
next_retr(struct pop3 *p)
{
	struct pop3_msg *m;

	while (p->retr_next < p->nmsg && p->msg[p->retr_next].st != M_WANT)
		p->retr_next++;
	if (p->retr_next >= p->nmsg)
		return 0;
	m = &p->msg[p->retr_next];
	if (cmd(p, POP3_ST_RETR, p->retr_next, "RETR %u", m->num) < 0)
		return 0;
	m->st = M_SENT;
	p->retr_next++;
	p->nretr++;
	return 1;
}

/* DELEs go out in listing order, each once every message before it is
 * settled (not wanted, durable or failed). */
static int
next_dele(struct pop3 *p)
{
	struct pop3_msg *m;

	for (; p->dele_next < p->nmsg; p->dele_next++) {
		m = &p->msg[p->dele_next];
		if (m->dele == D_WANT) {
			if (cmd(p, POP3_ST_DELE, p->dele_next, "DELE %u",
			    m->num) < 0)
				return 0;
			m->dele = D_SENT;
			p->dele_next++;
			return 1;
		}
		if (m->st == M_WANT || m->st == M_SENT || m->st == M_COMMITTED)
			return 0;
	}
	return 0;
}

static void
quit(struct pop3 *p)
{
	struct err e = { 0, "" };

	if (p->quit_sent)
		return;
	flush(p, 0);
	if (p->db != NULL && p->db->pending > 0 &&
	    uidl_commit(p->db, &e) < 0)
		take(p, POP3_FAIL_LOCAL, &e);
	pop3_enter(p, POP3_ST_QUIT);
}

/* Queue what may go now: the QUIT of a failed session; else DELEs that
 * became allowed, RETRs, the last group commit and QUIT. */
static void
pump(struct pop3 *p)
{
	int limit = p->cap_pipelining ? POP3_PIPE_MAX : 1;

	/* Refill the pipeline by halves, not a command per reply: one TLS
	 * record and one server wake-up carry many commands. */
	if (limit > 1 && p->nq > limit / 2 && !p->failing)
		return;
	while (!p->done && !p->quit_sent && p->nq < limit) {
		if (p->failing) {
			quit(p);
			return;
		}
		if (!p->selected)
			return;
		if (next_dele(p) || next_retr(p))
			continue;
		if (p->nretr > 0 || p->inbody)
			return;
		if (p->g_n > 0) {
			flush(p, 1);
			continue;
		}
		quit(p);
	}
}

/* ---- replies ---- */

static void
greeting(struct pop3 *p, const char *l, size_t len)
{
	const char *lt, *gt, *c;
	int k = kind(l), cls;

	if (k == R_ERR) {
		cls = err_class(l, POP3_FAIL_CONNECT);
		fail_now(p, cls, cls == POP3_FAIL_TEMP ? EX_TEMPFAIL :
		    EX_UNAVAILABLE, "server refused the connection", l, len);
		return;
	}
	if (k != R_OK) {
		garbage(p, l, len);
		return;
	}
	/* The APOP timestamp: "<" printable, no space ">" (RFC 1939). */
	p->apop_ts[0] = '\0';
	if ((lt = strchr(l, '<')) != NULL && (gt = strchr(lt, '>')) != NULL &&
	    (size_t)(gt - lt) + 1 < sizeof p->apop_ts) {
		for (c = lt + 1; c < gt; c++)
			if (*c < 0x21 || *c > 0x7e || *c == '<')
				break;
		if (c == gt) {
			memcpy(p->apop_ts, lt, (size_t)(gt - lt) + 1);
			p->apop_ts[gt - lt + 1] = '\0';
		}
	}
	pop3_enter(p, POP3_ST_CAPA);
}

static void
after_capa(struct pop3 *p)
{
	if (p->acct->pop3.tls == TLS_STARTTLS && !p->tls_on) {
		if (!p->cap_stls) {
			failure(p, POP3_FAIL_CONNECT, EX_UNAVAILABLE,
			    "server does not offer STLS", NULL, 0);
			return;
		}
		pop3_enter(p, POP3_ST_STLS);
		return;
	}
	auth_start(p);
}

/* The end (".") of a multi-line reply. */
static void
multi_end(struct pop3 *p)
{
	int st = p->state;

	p->multi = 0;
	pop(p);
	if (p->failing)
		return;
	switch (st) {
	case POP3_ST_CAPA:
		after_capa(p);
		break;
	case POP3_ST_UIDL:
		p->uidl_done = 1;
		p->listed_all = !p->nouidl;
		if (!p->cap_pipelining)
			pop3_enter(p, POP3_ST_LIST);
		break;
	case POP3_ST_LIST:
		p->list_done = 1;
		listing_done(p);
		break;
	}
}

static void
multi_line(struct pop3 *p, const char *l, size_t len)
{
	if (l[0] == '.') {
		if (len == 1) {
			multi_end(p);
			return;
		}
		l++;		/* dot-stuffing */
		len--;
	}
	if (p->failing)
		return;
	switch (p->state) {
	case POP3_ST_CAPA:
		capa_line(p, l);
		break;
	case POP3_ST_UIDL:
		uidl_line(p, l, len);
		break;
	case POP3_ST_LIST:
		list_line(p, l, len);
		break;
	}
}

static void
pop3_reply(struct pop3 *p, const char *l, size_t len)
{
	struct pop3_msg *m;
	int k;

	if (p->multi) {
		multi_line(p, l, len);
		return;
	}
	if (p->state == POP3_ST_GREETING) {
		greeting(p, l, len);
		return;
	}
	k = kind(l);
	if (p->nq == 0 || k == R_BAD ||
	    (k == R_CONT && p->state != POP3_ST_AUTH)) {
		garbage(p, l, len);
		return;
	}
	m = p->q[p->qhead].msg >= 0 ? &p->msg[p->q[p->qhead].msg] : NULL;
	switch (p->state) {
	case POP3_ST_CAPA:
		if (k == R_OK) {
			caps_clear(p);
			p->cap_capa = 1;
			p->multi = 1;
			return;
		}
		pop(p);
		caps_clear(p);		/* no CAPA: assume nothing */
		if (!p->failing)
			after_capa(p);
		break;
	case POP3_ST_STLS:
		pop(p);
		if (p->failing)
			break;
		if (k == R_OK) {
			p->want_tls = 1;
			p->state = POP3_ST_TLS;
		} else
			failure(p, POP3_FAIL_CONNECT, EX_TEMPFAIL,
			    "STLS refused", l, len);
		break;
	case POP3_ST_USER:
		pop(p);
		if (p->failing)
			break;
		if (k == R_OK)
			sec_line(p, POP3_ST_PASS, "PASS ", 0, NULL);
		else
			auth_failed(p, l, len);
		break;
	case POP3_ST_PASS:
	case POP3_ST_APOP:
	case POP3_ST_AUTH:
		pop(p);
		if (p->failing)
			break;
		if (k == R_OK)
			authenticated(p);
		else if (k == R_ERR)
			auth_failed(p, l, len);
		else
			auth_cont(p, l, len);
		break;
	case POP3_ST_UIDL:
		if (k == R_OK) {
			if (!p->failing) {
				uidl_clear_marks(p->db);
				p->nmsg = 0;
				p->lastnum = 0;
			}
			p->multi = 1;
			return;
		}
		pop(p);
		if (p->failing)
			break;
		no_uidl(p, l, len);
		p->uidl_done = 1;
		if (!p->failing && !p->cap_pipelining)
			pop3_enter(p, POP3_ST_LIST);
		break;
	case POP3_ST_LIST:
		if (k == R_OK) {
			p->list_pos = 0;
			p->lastnum = 0;
			p->multi = 1;
			return;
		}
		pop(p);
		if (!p->failing)
			failure(p, POP3_FAIL_CONNECT, EX_TEMPFAIL,
			    "LIST refused", l, len);
		break;
	case POP3_ST_RETR:
		if (k == R_OK) {
			retr_start(p);
			return;
		}
		pop(p);
		p->nretr--;
		m->st = M_FAILED;
		p->n_skipped++;
		break;
	case POP3_ST_DELE:
		pop(p);
		if (k == R_OK) {
			m->dele = D_OK;
			p->n_dele_ok++;
		} else {
			m->dele = D_ERR;
			p->n_dele_err++;
		}
		break;
	case POP3_ST_QUIT:
		pop(p);
		if (k == R_OK) {
			/* UPDATE state: the DELEs are done now */
			p->n_deleted += p->n_dele_ok;
			if (p->nouidl && !p->failing && p->n_later > 0 &&
			    p->acct->max_messages == 0 && p->n_dele_ok > 0)
				p->reconnect = 1;
		} else
			failure(p, POP3_FAIL_TEMP, EX_TEMPFAIL,
			    "QUIT failed, nothing deleted", l, len);
		p->done = 1;
		p->state = POP3_ST_DONE;
		break;
	default:
		garbage(p, l, len);
		break;
	}
}

/* ---- the transport's entry points ---- */

int
pop3_init(struct pop3 *p, const struct conf *c, const struct account *a,
    struct uidl_db *db, struct err *e)
{
	memset(p, 0, sizeof *p);
	p->conf = c;
	p->acct = a;
	p->db = db;
	p->capmsg = UIDL_MAX;
	p->msg = malloc((size_t)p->capmsg * sizeof *p->msg);
	if (p->msg == NULL)
		return err_set(e, EX_SOFTWARE, "out of memory for a listing "
		    "of %d messages", UIDL_MAX);
	/* Without a ledger the session only probes (tern test, diag):
	 * nothing will be delivered, so no Maildir is made either. */
	p->dlv.fd = -1;
	if (db != NULL && dlv_init(&p->dlv, c, a, e) < 0) {
		free(p->msg);
		p->msg = NULL;
		return -1;
	}
	p->now = log_now();
	p->state = POP3_ST_NONE;
	p->cur = -1;
	return 0;
}

void
pop3_free(struct pop3 *p)
{
	if (p->inbody && !p->discard)
		dlv_abort(&p->dlv);
	p->inbody = 0;
	if (p->msg != NULL)	/* dlv_init ran: what no flush made durable */
		dlv_drop(&p->dlv);
	explicit_bzero(p->out, sizeof p->out);
	p->outlen = p->secret_off = p->secret_len = 0;
	free(p->msg);
	p->msg = NULL;
}

void
pop3_start(struct pop3 *p)
{
	if (p->inbody && !p->discard)
		dlv_abort(&p->dlv);
	explicit_bzero(p->out, sizeof p->out);
	p->outlen = p->secret_off = p->secret_len = 0;
	line_next(&p->lb);
	body_reset(&p->body);
	p->want_tls = p->injected = p->done = 0;
	p->tls_on = p->acct->pop3.tls == TLS_IMPLICIT;
	p->fail = POP3_OK;
	err_clear(&p->err);
	p->reconnect = 0;
	caps_clear(p);
	p->apop_ts[0] = '\0';
	p->mech = AUTH_AUTO;
	p->auth_step = 0;
	p->qhead = p->nq = 0;
	p->multi = p->inbody = p->discard = p->failing = p->quit_sent = 0;
	p->nmsg = 0;
	p->uidl_done = p->list_done = p->nouidl = p->listed_all = 0;
	p->selected = p->list_pos = 0;
	p->lastnum = 0;
	p->cur = -1;
	p->retr_next = p->dele_next = p->nretr = 0;
	p->g_n = p->g_first = p->g_last = 0;
	p->g_bytes = 0;
	p->group_due = 0;
	p->n_dele_ok = p->n_dele_err = 0;
	p->state = POP3_ST_GREETING;
}

int
pop3_input(struct pop3 *p, const char *buf, size_t n)
{
	const char *lf;
	size_t off = 0, k;
	long r;

	wipe(p);
	while (off < n && !p->done) {
		if (p->want_tls) {
			/* Anything after the STLS go-ahead was sent before
			 * the handshake: a man in the middle's injection. */
			p->injected = 1;
			fail_now(p, POP3_FAIL_CONNECT, EX_TEMPFAIL,
			    "bytes after STLS go-ahead (STARTTLS injection?)",
			    NULL, 0);
			break;
		}
		if (p->inbody) {
			off += body_in(p, buf + off, n - off);
			continue;
		}
		r = line_feed(&p->lb, buf + off, n - off);
		if (r < 0) {
			lf = memchr(buf + off, '\n', n - off);
			k = lf != NULL ? (size_t)(lf - (buf + off)) : n - off;
			fail_now(p, POP3_FAIL_CONNECT, EX_TEMPFAIL,
			    memchr(buf + off, '\0', k) != NULL ?
			    "NUL byte in a server reply" :
			    "server reply line longer than 1024 bytes "
			    "(REPLY_LINE_MAX)", NULL, 0);
			break;
		}
		off += (size_t)r;
		if (p->lb.ready) {
			pop3_reply(p, p->lb.buf, p->lb.len);
			line_next(&p->lb);
		}
	}
	pump(p);
	return p->done && p->fail != POP3_OK ? -1 : 0;
}

void
pop3_tls_ready(struct pop3 *p)
{
	if (p->done || !p->want_tls)
		return;
	p->want_tls = 0;
	p->tls_on = 1;
	caps_clear(p);		/* what was said in plaintext is void */
	pop3_enter(p, POP3_ST_CAPA);
}

void
pop3_eof(struct pop3 *p)
{
	if (p->done)
		return;
	wipe(p);
	fail_now(p, POP3_FAIL_CONNECT, EX_TEMPFAIL, p->inbody ?
	    "connection closed during RETR" : p->state == POP3_ST_QUIT ?
	    "connection closed before the QUIT reply" :
	    "connection closed by server", NULL, 0);
}

void
pop3_tick(struct pop3 *p, long long now_ms)
{
	p->now_ms = now_ms;
	if (p->done || p->g_n == 0 || now_ms < p->group_due)
		return;
	wipe(p);
	flush(p, !p->failing);
	pump(p);
}
