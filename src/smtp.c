/*
 * smtp.c — the SMTP client session (see smtp.h for the contract).
 *
 * s->state is the reply expected next.  Sending and receiving are two
 * cursors over the transaction "MAIL, RCPT…, DATA": s->snd is the next
 * command to queue, s->rcv_i the recipient whose reply comes next, and
 * s->inflight the commands not yet answered.  Without PIPELINING a
 * command is queued only when nothing is in flight; with it, as many as
 * out holds.  Replies arrive in order, so the recipients between the two
 * cursors are exactly those sent and not yet answered, all still
 * RCPT_PENDING: both cursors can find the next one by scanning for that
 * status.
 *
 * Server text is escaped (log_escape) as soon as it is kept, so errors
 * and the log never carry raw bytes from the network.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "sasl.h"
#include "smtp.h"

enum { C_NONE, C_MAIL, C_RCPT, C_DATA };

static const char *const state_names[SMTP_ST_COUNT] = {
	"none", "greeting", "ehlo", "helo", "starttls", "tls", "auth",
	"idle", "mail", "rcpt", "data", "body", "dot", "rset", "quit", "done"
};

const char *
smtp_state_name(int state)
{
	if (state < 0 || state >= SMTP_ST_COUNT)
		return "unknown";
	return state_names[state];
}

/* ---- pure parts ---- */

void
smtp_enc_init(struct smtp_enc *st)
{
	st->bol = 1;
	st->cr = 0;
}

size_t
smtp_encode(struct smtp_enc *st, const char *in, size_t n, char *out,
    size_t cap, size_t *consumed)
{
	const char *lf, *cr;
	size_t i, o = 0, k;
	char c;

	for (i = 0; i < n; i++) {
		c = in[i];
		/* Inside a line: the run up to the next CR or LF is copied
		 * as it is (no dot can need stuffing there). */
		if (!st->bol && !st->cr && c != '\r' && c != '\n') {
			if (o == cap)
				break;
			k = n - i < cap - o ? n - i : cap - o;
			if ((lf = memchr(in + i, '\n', k)) != NULL)
				k = (size_t)(lf - (in + i));
			if ((cr = memchr(in + i, '\r', k)) != NULL)
				k = (size_t)(cr - (in + i));
			memcpy(out + o, in + i, k);
			o += k;
			i += k - 1;
			if (cap - o < 2) {
				i++;
				break;
			}
			continue;
		}
		/* The LF of a CRLF: its CRLF is out already. */
		if (c == '\n' && st->cr) {
			st->cr = 0;
			continue;
		}
		if (cap - o < 2)
			break;
		st->cr = c == '\r';
		if (c == '\r' || c == '\n') {
			/* CRLF, bare CR and bare LF all end a line. */
			out[o++] = '\r';
			out[o++] = '\n';
			st->bol = 1;
			continue;
		}
		/* Dot-stuffing after the normalisation, so that no line
		 * ending of any kind can put a lone "." on the wire. */
		if (c == '.' && st->bol)
			out[o++] = '.';
		out[o++] = c;
		st->bol = 0;
	}
	*consumed = i;
	return o;
}

size_t
smtp_encode_end(struct smtp_enc *st, char *out, size_t cap)
{
	size_t o = 0;

	if (cap < (st->bol ? 3u : 5u))
		return 0;
	if (!st->bol) {
		out[o++] = '\r';
		out[o++] = '\n';
	}
	memcpy(out + o, ".\r\n", 3);
	st->bol = 1;
	st->cr = 0;
	return o + 3;
}

int
smtp_reply_parse(const char *line, int *code, int *last)
{
	if (line[0] < '2' || line[0] > '5' || line[1] < '0' ||
	    line[1] > '5' || line[2] < '0' || line[2] > '9')
		return -1;
	if (line[3] != '\0' && line[3] != ' ' && line[3] != '-')
		return -1;
	*code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + line[2] - '0';
	*last = line[3] != '-';
	return 0;
}

/* A name with dots, made of letters, digits and inner hyphens, labels of
 * 1 to 63, not all digits at the end (then it is an address). */
static int
is_domain(const char *h)
{
	size_t n = strlen(h), i, label = 0;
	int dots = 0, alpha_last = 0;

	if (n == 0 || n > 253 || h[0] == '.' || h[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		char c = h[i];

		if (c == '.') {
			if (label == 0 || h[i - 1] == '-')
				return 0;
			dots++;
			label = 0;
			alpha_last = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-'))
			return 0;
		if (c == '-' && label == 0)
			return 0;
		if (!(c >= '0' && c <= '9'))
			alpha_last = 1;
		if (++label > 63)
			return 0;
	}
	return dots > 0 && h[n - 1] != '-' && alpha_last;
}

void
smtp_helo_name(const char *hostname, const char *ip, char *out, size_t cap)
{
	if (hostname != NULL && is_domain(hostname))
		snprintf(out, cap, "%s", hostname);
	else if (ip != NULL && ip[0] != '\0' && strspn(ip,
	    "0123456789abcdefABCDEF.:") == strlen(ip))
		snprintf(out, cap, strchr(ip, ':') != NULL ? "[IPv6:%s]" :
		    "[%s]", ip);
	else
		snprintf(out, cap, "localhost");
}

/* ---- set-up ---- */

static int
default_secret(struct smtp *s, int token, char *out, size_t cap,
    struct err *e)
{
	return secret_get(s->srv, token, out, cap, s->timeout, e);
}

int
smtp_init(struct smtp *s, const struct conf *c, const struct account *a,
    struct err *e)
{
	char host[256];

	(void)e;
	memset(s, 0, sizeof *s);
	s->acct = a;
	s->srv = &a->smtp;
	s->timeout = c != NULL ? c->main.timeout : 60;
	s->secret = default_secret;
	s->tls_on = a->smtp.tls == TLS_IMPLICIT;
	s->mail_ok = -1;
	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	smtp_helo_name(host, NULL, s->helo, sizeof s->helo);
	line_next(&s->lb);
	return 0;
}

void
smtp_set_local(struct smtp *s, const char *ip)
{
	char host[256];

	if (gethostname(host, sizeof host) != 0)
		host[0] = '\0';
	host[sizeof host - 1] = '\0';
	smtp_helo_name(host, ip, s->helo, sizeof s->helo);
}

/* ---- output ---- */

/* Queue a command; `secret` marks [soff, soff+slen) of it as a
 * credential.  Commands are short and sent in lock-step except pipelined
 * ones, which check the room first, so not fitting is a bug. */
static int
queue_cmd(struct smtp *s, const char *cmd, size_t n)
{
	if (n > sizeof s->out - s->outlen) {
		err_set(&s->err, EX_SOFTWARE, "command longer than the "
		    "output buffer (%d bytes)", SMTP_OUT_MAX);
		return -1;
	}
	memcpy(s->out + s->outlen, cmd, n);
	s->outlen += n;
	return 0;
}

static int
cmdf(struct smtp *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
cmdf(struct smtp *s, const char *fmt, ...)
{
	char buf[SMTP_HELO_MAX + 64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof buf)
		return err_set(&s->err, EX_SOFTWARE, "command too long");
	return queue_cmd(s, buf, (size_t)n);
}

void
smtp_consume(struct smtp *s, size_t n)
{
	size_t end;

	if (n > s->outlen)
		n = s->outlen;
	if (n == 0) {
		smtp_pump(s);
		return;
	}
	memmove(s->out, s->out + n, s->outlen - n);
	s->outlen -= n;
	if (s->secret_len > 0) {
		end = s->secret_off + s->secret_len;
		if (n >= end)
			s->secret_off = s->secret_len = 0;
		else if (n > s->secret_off) {
			s->secret_len = end - n;
			s->secret_off = 0;
		} else
			s->secret_off -= n;
		/* The moved-from bytes may hold the credential. */
		explicit_bzero(s->out + s->outlen, n);
	}
	smtp_pump(s);
}

/* ---- failures ---- */

/* Keep `text` as the reply of the current message.  It is s->reply or
 * s->err.msg, whose server text is escaped already: escaping it again
 * would show \" in the log and on stderr. */
static void
msg_note(struct smtp *s, const char *text)
{
	snprintf(s->msg_reply, sizeof s->msg_reply, "%s", text);
}

/* The message's outcome is known: set it and the recipients that were
 * waiting for it.  TEMP: accepted ones go back to pending; PERM: every
 * recipient of this attempt fails. */
static void
msg_outcome(struct smtp *s, int result)
{
	struct envelope *env = s->env;
	int i;

	if (env == NULL || s->result != SMTP_MSG_NONE)
		return;
	s->result = result;
	s->finished = 1;
	for (i = 0; i < env->nrcpt; i++)
		if (env->rcpt[i].status == RCPT_ACCEPTED)
			env->rcpt[i].status = result == SMTP_MSG_SENT ?
			    RCPT_DONE : result == SMTP_MSG_PERM ?
			    RCPT_FAILED : RCPT_PENDING;
	/* Refused before any RCPT counted (SIZE, MAIL): every recipient
	 * fails, but only in smtp_finished(): replies still in flight are
	 * matched to the recipients still pending. */
	s->perm_all = result == SMTP_MSG_PERM && s->mail_ok != 1;
	if (result == SMTP_MSG_SENT)
		s->n_sent++;
	else if (result == SMTP_MSG_TEMP)
		s->n_temp++;
	else
		s->n_perm++;
}

/* Forget the password or token kept for a SASL exchange. */
static void
wipe(struct smtp *s)
{
	explicit_bzero(s->pw, sizeof s->pw);
}

static void
record(struct smtp *s, int fail, int ex, const char *fmt, va_list ap)
{
	char msg[sizeof s->err.msg];

	vsnprintf(msg, sizeof msg, fmt, ap);
	if (s->fail == SMTP_OK)
		s->fail = fail;
	err_set(&s->err, ex, "%s", msg);
	wipe(s);
	if (s->env != NULL && s->result == SMTP_MSG_NONE) {
		msg_note(s, s->err.msg);
		msg_outcome(s, SMTP_MSG_TEMP);
	}
}

/* A failure that ends the session at once: the server cannot be talked
 * to any more (garbage, injection, 421, closed). */
static int
fail_now(struct smtp *s, int fail, int ex, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail_now(struct smtp *s, int fail, int ex, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(s, fail, ex, fmt, ap);
	va_end(ap);
	s->state = SMTP_ST_DONE;
	s->done = 1;
	return -1;
}

/* A failure after a well-formed reply: say QUIT politely. */
static int
fail_quit(struct smtp *s, int fail, int ex, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail_quit(struct smtp *s, int fail, int ex, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(s, fail, ex, fmt, ap);
	va_end(ap);
	/* Bytes already queued stay: they may be pipelined commands whose
	 * replies are counted in s->inflight. */
	if (queue_cmd(s, "QUIT\r\n", 6) < 0) {
		s->state = SMTP_ST_DONE;
		s->done = 1;
		return -1;
	}
	s->state = SMTP_ST_QUIT;
	return -1;
}

void
smtp_abort(struct smtp *s, int fail, int ex, const char *why)
{
	if (s->done)
		return;
	fail_now(s, fail, ex, "%s", why);
}

/* ---- the session ---- */

static void
enter_ehlo(struct smtp *s)
{
	s->esmtp = s->cap_starttls = s->cap_pipelining = 0;
	s->cap_8bitmime = s->cap_smtputf8 = s->cap_size_set = 0;
	s->cap_size = 0;
	s->cap_auth = 0;
	s->state = SMTP_ST_EHLO;
	cmdf(s, "EHLO %s\r\n", s->helo);
}

void
smtp_start(struct smtp *s)
{
	line_next(&s->lb);
	s->state = SMTP_ST_GREETING;
}

void
smtp_tls_ready(struct smtp *s)
{
	if (s->state != SMTP_ST_TLS || s->done)
		return;
	s->want_tls = 0;
	s->tls_on = 1;
	line_next(&s->lb);
	enter_ehlo(s);
}

static const char *const mech_names[] = {
	[AUTH_PLAIN] = "PLAIN", [AUTH_LOGIN] = "LOGIN",
	[AUTH_CRAM_MD5] = "CRAM-MD5", [AUTH_XOAUTH2] = "XOAUTH2"
};
#define NMECH	(sizeof mech_names / sizeof mech_names[0])

/* One EHLO line after the first: a capability. */
static void
capability(struct smtp *s, const char *t)
{
	size_t n = strcspn(t, " =");
	const char *p;
	char *end;
	size_t i, k;
	long long v;

	if (n == 8 && strncasecmp(t, "STARTTLS", 8) == 0)
		s->cap_starttls = 1;
	else if (n == 10 && strncasecmp(t, "PIPELINING", 10) == 0)
		s->cap_pipelining = 1;
	else if (n == 8 && strncasecmp(t, "8BITMIME", 8) == 0)
		s->cap_8bitmime = 1;
	else if (n == 8 && strncasecmp(t, "SMTPUTF8", 8) == 0)
		s->cap_smtputf8 = 1;
	else if (n == 4 && strncasecmp(t, "SIZE", 4) == 0) {
		s->cap_size_set = 1;
		s->cap_size = 0;
		if (t[4] == ' ') {
			v = strtoll(t + 5, &end, 10);
			if (end != t + 5 && v > 0)
				s->cap_size = v;
		}
	} else if (n == 4 && strncasecmp(t, "AUTH", 4) == 0) {
		/* "AUTH PLAIN LOGIN", or the old "AUTH=PLAIN LOGIN" */
		for (p = t + 4; *p != '\0'; p += k) {
			p += strspn(p, " =");
			k = strcspn(p, " ");
			for (i = 0; i < NMECH; i++)
				if (mech_names[i] != NULL &&
				    strlen(mech_names[i]) == k &&
				    strncasecmp(p, mech_names[i], k) == 0)
					s->cap_auth |= 1u << i;
		}
	}
}

static void
offered(struct smtp *s, char *buf, size_t cap)
{
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < NMECH; i++)
		if (mech_names[i] != NULL && (s->cap_auth & 1u << i))
			snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s",
			    buf[0] ? " " : "", mech_names[i]);
	if (buf[0] == '\0')
		snprintf(buf, cap, "none");
}

static void enter_idle(struct smtp *);

/* Queue "AUTH …" (or its next step) with a credential built by f into
 * out; the credential is marked for the trace. */
static int
auth_line(struct smtp *s, const char *prefix, long (*f)(struct smtp *,
    char *, size_t))
{
	size_t room, plen = strlen(prefix);
	long n;

	room = sizeof s->out - s->outlen;
	if (plen + 3 > room)
		return fail_now(s, SMTP_FAIL_LOCAL, EX_SOFTWARE, "output "
		    "buffer full at AUTH");
	memcpy(s->out + s->outlen, prefix, plen);
	n = f(s, s->out + s->outlen + plen, room - plen - 2);
	if (n < 0) {
		explicit_bzero(s->out + s->outlen, room);
		return fail_quit(s, SMTP_FAIL_LOCAL, EX_CONFIG, "credential "
		    "too long for AUTH %s", mech_names[s->mech]);
	}
	s->secret_off = s->outlen + plen;
	s->secret_len = (size_t)n;
	memcpy(s->out + s->outlen + plen + (size_t)n, "\r\n", 2);
	s->outlen += plen + (size_t)n + 2;
	return 0;
}

static long
resp_plain(struct smtp *s, char *out, size_t cap)
{
	return sasl_plain(s->srv->user, s->pw, out, cap);
}

static long
resp_xoauth2(struct smtp *s, char *out, size_t cap)
{
	return sasl_xoauth2(s->srv->user, s->pw, out, cap);
}

static long
resp_login_pass(struct smtp *s, char *out, size_t cap)
{
	return b64_encode(s->pw, strlen(s->pw), out, cap);
}

/* The 334 challenge: the raw text of the reply line. */
static long
resp_cram(struct smtp *s, char *out, size_t cap)
{
	return sasl_cram_md5(s->srv->user, s->pw, s->rtext, out, cap);
}

static int
has_password(const struct server *v)
{
	return v->password[0] != '\0' || v->password_file[0] != '\0' ||
	    v->password_cmd[0] != '\0';
}

static int
has_token(const struct server *v)
{
	return v->oauth_token_cmd[0] != '\0' ||
	    v->oauth_token_file[0] != '\0';
}

/* After the last EHLO: authenticate if there is anything to send. */
static int
auth_begin(struct smtp *s)
{
	const struct server *v = s->srv;
	char list[64];
	struct err e2 = { 0, "" };
	int want = v->auth, pw = has_password(v), tok = has_token(v);

	if (!pw && !tok) {
		enter_idle(s);
		return 0;
	}
	if (!s->tls_on && !s->acct->allow_plaintext_auth) {
		/* SPEC §3: nothing secret over plaintext. */
		s->withheld = 1;
		enter_idle(s);
		return 0;
	}
	if (want == AUTH_USER || want == AUTH_APOP)	/* POP3 words */
		want = AUTH_AUTO;
	offered(s, list, sizeof list);
	if (want == AUTH_AUTO) {
		if (s->cap_auth == 0) {
			enter_idle(s);	/* a relay that wants no AUTH */
			return 0;
		}
		if (tok && (s->cap_auth & 1u << AUTH_XOAUTH2))
			want = AUTH_XOAUTH2;
		else if (pw && (s->cap_auth & 1u << AUTH_PLAIN))
			want = AUTH_PLAIN;
		else if (pw && (s->cap_auth & 1u << AUTH_LOGIN))
			want = AUTH_LOGIN;
		else
			return fail_quit(s, SMTP_FAIL_CONNECT, EX_UNAVAILABLE,
			    "no usable AUTH mechanism (server offers: %s)",
			    list);
	} else if (!(s->cap_auth & 1u << want))
		return fail_quit(s, SMTP_FAIL_CONNECT, EX_UNAVAILABLE,
		    "server does not offer AUTH %s (offers: %s)",
		    mech_names[want], list);
	if (want == AUTH_XOAUTH2 ? !tok : !pw)
		return fail_quit(s, SMTP_FAIL_LOCAL, EX_CONFIG, "auth %s "
		    "needs %s", conf_auth_name(want), want == AUTH_XOAUTH2 ?
		    "oauth_token_cmd or oauth_token_file" :
		    "a password (password, password_file or password_cmd)");
	s->mech = want;
	s->auth_step = 0;
	s->state = SMTP_ST_AUTH;
	if (s->secret(s, want == AUTH_XOAUTH2, s->pw, sizeof s->pw,
	    &e2) < 0) {
		wipe(s);
		return fail_quit(s, SMTP_FAIL_LOCAL,
		    e2.ex ? e2.ex : EX_CONFIG, "%s", e2.msg);
	}
	switch (want) {
	case AUTH_PLAIN:
		return auth_line(s, "AUTH PLAIN ", resp_plain);
	case AUTH_LOGIN:
		return cmdf(s, "AUTH LOGIN\r\n");
	default:
		return cmdf(s, "AUTH %s\r\n", mech_names[want]);
	}
}

static int
auth_reply(struct smtp *s, int code)
{
	char ubuf[SMTP_HELO_MAX * 2];

	if (code / 100 == 2) {
		wipe(s);
		s->authed = 1;
		enter_idle(s);
		return 0;
	}
	if (code == 334) {
		s->auth_step++;
		switch (s->mech) {
		case AUTH_LOGIN:
			if (s->auth_step == 1) {
				/* The user name is not a secret. */
				if (b64_encode(s->srv->user,
				    strlen(s->srv->user), ubuf,
				    sizeof ubuf) < 0)
					return fail_quit(s, SMTP_FAIL_LOCAL,
					    EX_CONFIG, "user name too long");
				return cmdf(s, "%s\r\n", ubuf);
			}
			if (s->auth_step == 2)
				return auth_line(s, "", resp_login_pass);
			break;
		case AUTH_XOAUTH2:
			if (s->auth_step == 1)
				return auth_line(s, "", resp_xoauth2);
			if (s->auth_step == 2) {
				/* The error details (base64 JSON): answer
				 * with an empty line to get the 5xx. */
				wipe(s);
				return cmdf(s, "\r\n");
			}
			break;
		case AUTH_CRAM_MD5:
			if (s->auth_step == 1)
				return auth_line(s, "", resp_cram);
			break;
		}
		return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL,
		    "unexpected challenge in AUTH %s: %s",
		    mech_names[s->mech], s->reply);
	}
	wipe(s);
	if (code / 100 == 4)
		return fail_quit(s, SMTP_FAIL_TEMP, EX_TEMPFAIL, "AUTH %s "
		    "failed temporarily: %s", mech_names[s->mech], s->reply);
	if (code / 100 == 5)
		return fail_quit(s, SMTP_FAIL_AUTH, EX_NOPERM, "AUTH %s "
		    "refused: %s", mech_names[s->mech], s->reply);
	return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL, "unexpected "
	    "reply to AUTH: %s", s->reply);
}

static int
after_ehlo(struct smtp *s)
{
	if (s->srv->tls == TLS_STARTTLS && !s->tls_on) {
		if (!s->cap_starttls)
			return fail_quit(s, SMTP_FAIL_CONNECT, EX_UNAVAILABLE,
			    "server does not offer STARTTLS (smtp_tls "
			    "starttls)");
		s->state = SMTP_ST_STARTTLS;
		return cmdf(s, "STARTTLS\r\n");
	}
	return auth_begin(s);
}

static void
enter_idle(struct smtp *s)
{
	s->state = SMTP_ST_IDLE;
}

static int
next_pending(const struct envelope *env, int from)
{
	int i;

	for (i = from; i < env->nrcpt; i++)
		if (env->rcpt[i].status == RCPT_PENDING)
			return i;
	return -1;
}

int
smtp_send(struct smtp *s, struct envelope *env, smtp_source src, void *ctx)
{
	if (s->state != SMTP_ST_IDLE || s->env != NULL || s->done)
		return err_set(&s->err, EX_SOFTWARE, "smtp_send in state %s",
		    smtp_state_name(s->state));
	s->env = env;
	s->src = src;
	s->src_ctx = ctx;
	s->result = SMTP_MSG_NONE;
	s->finished = 0;
	s->perm_all = 0;
	s->msg_reply[0] = '\0';
	s->note_8bit = 0;
	s->mail_ok = -1;
	s->naccepted = s->ntemp = s->nfailed = 0;
	s->inflight = 0;
	s->sent_upto = 0;
	s->data_sent = 0;
	s->dot_abort = 0;
	s->chunk_off = s->chunk_len = 0;
	s->src_eof = 0;
	smtp_enc_init(&s->enc);
	if (next_pending(env, 0) < 0) {
		msg_note(s, "no recipient left to send to");
		msg_outcome(s, SMTP_MSG_SENT);
		return 0;
	}
	/* Refusals known before a byte is sent. */
	if (s->cap_size > 0 && env->size > s->cap_size) {
		char t[128];

		snprintf(t, sizeof t, "message of %lld bytes is larger than "
		    "the server's limit of %lld bytes (SIZE)", env->size,
		    s->cap_size);
		msg_note(s, t);
		msg_outcome(s, SMTP_MSG_PERM);
		return 0;
	}
	if ((env->flags & ENV_UTF8) && !s->cap_smtputf8) {
		msg_note(s, "an address is not ASCII and the server does not "
		    "offer SMTPUTF8");
		msg_outcome(s, SMTP_MSG_PERM);
		return 0;
	}
	if ((env->flags & ENV_8BIT) && !s->cap_8bitmime)
		s->note_8bit = 1;	/* sent anyway, as most clients do */
	s->state = SMTP_ST_MAIL;
	s->snd = C_MAIL;
	s->rcv_i = -1;
	smtp_pump(s);
	return 0;
}

struct envelope *
smtp_finished(struct smtp *s)
{
	struct envelope *env = s->env;

	int i;

	if (env == NULL || !s->finished ||
	    (s->state != SMTP_ST_IDLE && !s->done))
		return NULL;
	for (i = 0; s->perm_all && i < env->nrcpt; i++)
		if (env->rcpt[i].status == RCPT_PENDING)
			env->rcpt[i].status = RCPT_FAILED;
	s->env = NULL;
	s->finished = 0;
	return env;
}

void
smtp_quit(struct smtp *s)
{
	if (s->done || s->state == SMTP_ST_QUIT)
		return;
	if (s->state != SMTP_ST_IDLE) {
		fail_now(s, SMTP_FAIL_LOCAL, EX_SOFTWARE, "smtp_quit in state "
		    "%s", smtp_state_name(s->state));
		return;
	}
	s->state = SMTP_ST_QUIT;
	queue_cmd(s, "QUIT\r\n", 6);
}

/* Queue the next transaction command; 0 when out has no room. */
static int
send_one(struct smtp *s)
{
	const struct envelope *env = s->env;
	char cmd[MSG_ADDR_MAX + 96];
	int n = 0, next;

	switch (s->snd) {
	case C_MAIL:
		n = snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>", env->from);
		if (s->cap_size_set)
			n += snprintf(cmd + n, sizeof cmd - (size_t)n,
			    " SIZE=%lld", env->size);
		if ((env->flags & ENV_8BIT) && s->cap_8bitmime)
			n += snprintf(cmd + n, sizeof cmd - (size_t)n,
			    " BODY=8BITMIME");
		if (env->flags & ENV_UTF8)
			n += snprintf(cmd + n, sizeof cmd - (size_t)n,
			    " SMTPUTF8");
		n += snprintf(cmd + n, sizeof cmd - (size_t)n, "\r\n");
		break;
	case C_RCPT:
		n = snprintf(cmd, sizeof cmd, "RCPT TO:<%s>\r\n",
		    msg_rcpt(env, s->snd_i));
		break;
	case C_DATA:
		n = snprintf(cmd, sizeof cmd, "DATA\r\n");
		break;
	}
	if ((size_t)n > sizeof s->out - s->outlen)
		return 0;
	queue_cmd(s, cmd, (size_t)n);
	s->inflight++;
	if (s->snd == C_RCPT)
		s->sent_upto = s->snd_i + 1;
	if (s->snd == C_DATA)
		s->data_sent = 1;
	switch (s->snd) {
	case C_MAIL:
	case C_RCPT:
		next = next_pending(env, s->snd == C_MAIL ? 0 : s->snd_i + 1);
		s->snd = next < 0 ? C_DATA : C_RCPT;
		s->snd_i = next;
		break;
	case C_DATA:
		s->snd = C_NONE;
		break;
	}
	return 1;
}

/* Encode message data into out as far as it has room. */
static void
body_fill(struct smtp *s)
{
	size_t w, used;
	long r;

	while (s->state == SMTP_ST_BODY) {
		if (s->chunk_off == s->chunk_len && !s->src_eof) {
			r = s->src(s->src_ctx, s->chunk, sizeof s->chunk);
			if (r < 0 || (size_t)r > sizeof s->chunk) {
				/* Never end the data: the server must not
				 * take a truncated message. */
				fail_now(s, SMTP_FAIL_LOCAL, EX_IOERR,
				    "cannot read the queued message");
				return;
			}
			if (r == 0)
				s->src_eof = 1;
			s->chunk_off = 0;
			s->chunk_len = (size_t)r;
			s->n_bytes += r;
		}
		if (s->chunk_off < s->chunk_len) {
			w = smtp_encode(&s->enc, s->chunk + s->chunk_off,
			    s->chunk_len - s->chunk_off, s->out + s->outlen,
			    sizeof s->out - s->outlen, &used);
			s->outlen += w;
			s->chunk_off += used;
			if (used == 0)
				return;		/* out is full */
			continue;
		}
		w = smtp_encode_end(&s->enc, s->out + s->outlen,
		    sizeof s->out - s->outlen);
		if (w == 0)
			return;
		s->outlen += w;
		s->state = SMTP_ST_DOT;
	}
}

void
smtp_pump(struct smtp *s)
{
	if (s->done)
		return;
	if (s->state == SMTP_ST_MAIL || s->state == SMTP_ST_RCPT ||
	    s->state == SMTP_ST_DATA)
		while (s->snd != C_NONE &&
		    (s->cap_pipelining || s->inflight == 0) && send_one(s))
			;
	if (s->state == SMTP_ST_BODY)
		body_fill(s);
}

static void
enter_rset(struct smtp *s)
{
	s->snd = C_NONE;
	s->state = SMTP_ST_RSET;
	queue_cmd(s, "RSET\r\n", 6);
}

/* After a reply to MAIL or RCPT: end the transaction when nothing is in
 * flight and nothing useful is left to send, else show what comes. */
static void
txn_check(struct smtp *s)
{
	if (s->inflight == 0 && s->mail_ok == 0) {
		enter_rset(s);
		return;
	}
	if (s->inflight == 0 && s->snd == C_DATA && s->naccepted == 0) {
		/* Every RCPT answered, none accepted: no DATA. */
		msg_outcome(s, s->ntemp > 0 ? SMTP_MSG_TEMP : SMTP_MSG_PERM);
		enter_rset(s);
		return;
	}
	s->state = s->snd == C_RCPT || (next_pending(s->env, s->rcv_i + 1) >=
	    0 && next_pending(s->env, s->rcv_i + 1) < s->sent_upto) ?
	    SMTP_ST_RCPT : SMTP_ST_DATA;
}

static int
mail_reply(struct smtp *s, int code)
{
	if (code / 100 == 2)
		s->mail_ok = 1;
	else {
		s->mail_ok = 0;
		s->snd = C_NONE;	/* send nothing more */
		msg_note(s, s->reply);
		if (code == 530 && !s->authed) {
			/* "Authentication required": the configuration, not
			 * the message; keep it queued. */
			msg_outcome(s, SMTP_MSG_TEMP);
			return fail_quit(s, SMTP_FAIL_LOCAL, EX_CONFIG,
			    "server requires authentication%s: %s",
			    s->withheld ? " (credentials are sent over a "
			    "plaintext connection only with "
			    "allow_plaintext_auth)" : "", s->reply);
		}
		msg_outcome(s, code / 100 == 4 ? SMTP_MSG_TEMP :
		    SMTP_MSG_PERM);
	}
	txn_check(s);
	return 0;
}

static int
rcpt_reply(struct smtp *s, int code)
{
	struct rcpt *r = &s->env->rcpt[s->rcv_i];

	/* After a refused MAIL the answers (503…) say nothing about the
	 * recipients: they stay pending or failed as MAIL decided. */
	if (s->mail_ok == 1) {
		r->code = (unsigned short)code;
		if (code / 100 == 2) {
			r->status = RCPT_ACCEPTED;
			s->naccepted++;
		} else {
			/* 4xx stays pending for the next try. */
			if (code / 100 == 5) {
				r->status = RCPT_FAILED;
				s->nfailed++;
			} else
				s->ntemp++;
			msg_note(s, s->reply);
		}
	}
	txn_check(s);
	return 0;
}

static int
data_reply(struct smtp *s, int code)
{
	if (code == 354) {
		if (s->mail_ok == 1 && s->naccepted > 0) {
			s->state = SMTP_ST_BODY;
			body_fill(s);
			return 0;
		}
		/* Pipelined DATA went out although nobody was accepted,
		 * and the server wants data anyway: end it empty. */
		if (s->result == SMTP_MSG_NONE)
			msg_outcome(s, s->ntemp > 0 ? SMTP_MSG_TEMP :
			    SMTP_MSG_PERM);
		s->dot_abort = 1;
		s->state = SMTP_ST_DOT;
		queue_cmd(s, ".\r\n", 3);
		return 0;
	}
	if (s->result == SMTP_MSG_NONE) {
		/* Nobody accepted: the last refused RCPT's reply (noted
		 * by rcpt_reply) says why, not the pipelined DATA's 503. */
		if (s->naccepted == 0)
			msg_outcome(s, s->ntemp > 0 ? SMTP_MSG_TEMP :
			    SMTP_MSG_PERM);
		else {
			msg_note(s, s->reply);
			msg_outcome(s, code / 100 == 5 ? SMTP_MSG_PERM :
			    SMTP_MSG_TEMP);
		}
	}
	enter_rset(s);
	return 0;
}

/* A reply during the transaction: to MAIL, to the next RCPT sent, or to
 * DATA, in the order they were sent. */
static int
txn_reply(struct smtp *s, int code)
{
	int j;

	if (s->inflight == 0)
		return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL,
		    "unexpected reply: %s", s->reply);
	s->inflight--;
	if (s->mail_ok < 0)
		return mail_reply(s, code);
	/* Recipients still pending below sent_upto were sent and not yet
	 * answered: replies come in that order. */
	j = next_pending(s->env, s->rcv_i + 1);
	if (j >= 0 && j < s->sent_upto) {
		s->rcv_i = j;
		return rcpt_reply(s, code);
	}
	return data_reply(s, code);
}

static int
dot_reply(struct smtp *s, int code)
{
	int i;

	if (s->dot_abort) {
		enter_rset(s);
		return 0;
	}
	/* Keep a refused recipient's reply as the one to log, unless the
	 * data itself failed. */
	if (code / 100 != 2 || s->ntemp + s->nfailed == 0)
		msg_note(s, s->reply);
	for (i = 0; i < s->env->nrcpt; i++)
		if (s->env->rcpt[i].status == RCPT_ACCEPTED)
			s->env->rcpt[i].code = (unsigned short)code;
	if (code / 100 == 2) {
		msg_outcome(s, SMTP_MSG_SENT);
		enter_idle(s);
		return 0;
	}
	msg_outcome(s, code / 100 == 5 ? SMTP_MSG_PERM : SMTP_MSG_TEMP);
	enter_rset(s);
	return 0;
}

/* A complete reply with code `code` (its text in s->reply). */
static int
reply(struct smtp *s, int code)
{
	int cls = code / 100;

	if (code == 421 && s->state != SMTP_ST_QUIT)
		return fail_now(s, SMTP_FAIL_TEMP, EX_TEMPFAIL, "server "
		    "closing the connection: %s", s->reply);
	switch (s->state) {
	case SMTP_ST_GREETING:
		if (cls == 2) {
			enter_ehlo(s);
			return 0;
		}
		if (cls == 4)
			return fail_quit(s, SMTP_FAIL_TEMP, EX_TEMPFAIL,
			    "greeting: %s", s->reply);
		return fail_quit(s, SMTP_FAIL_CONNECT, EX_UNAVAILABLE,
		    "server refuses service: %s", s->reply);
	case SMTP_ST_EHLO:
		if (cls == 2) {
			s->esmtp = 1;
			return after_ehlo(s);
		}
		if (code == 500 || code == 502) {
			s->state = SMTP_ST_HELO;
			return cmdf(s, "HELO %s\r\n", s->helo);
		}
		/* FALLTHROUGH */
	case SMTP_ST_HELO:
		if (cls == 2)
			return after_ehlo(s);
		if (cls == 4)
			return fail_quit(s, SMTP_FAIL_TEMP, EX_TEMPFAIL,
			    "%s refused: %s", s->state == SMTP_ST_EHLO ?
			    "EHLO" : "HELO", s->reply);
		return fail_quit(s, SMTP_FAIL_CONNECT, EX_UNAVAILABLE,
		    "%s refused: %s", s->state == SMTP_ST_EHLO ? "EHLO" :
		    "HELO", s->reply);
	case SMTP_ST_STARTTLS:
		if (code == 220) {
			s->want_tls = 1;
			s->state = SMTP_ST_TLS;
			return 0;
		}
		if (cls == 4)
			return fail_quit(s, SMTP_FAIL_TEMP, EX_TEMPFAIL,
			    "STARTTLS refused: %s", s->reply);
		return fail_quit(s, SMTP_FAIL_CONNECT, EX_UNAVAILABLE,
		    "STARTTLS refused: %s", s->reply);
	case SMTP_ST_AUTH:
		return auth_reply(s, code);
	case SMTP_ST_MAIL:
	case SMTP_ST_RCPT:
	case SMTP_ST_DATA:
		return txn_reply(s, code);
	case SMTP_ST_DOT:
		return dot_reply(s, code);
	case SMTP_ST_RSET:
		if (cls != 2)
			return fail_quit(s, SMTP_FAIL_TEMP, EX_TEMPFAIL,
			    "RSET refused: %s", s->reply);
		enter_idle(s);
		return 0;
	case SMTP_ST_QUIT:
		if (s->inflight > 0) {
			s->inflight--;	/* pipelined before the failure */
			return 0;
		}
		s->state = SMTP_ST_DONE;
		s->done = 1;
		return 0;
	}
	return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL, "unexpected reply "
	    "in state %s: %s", smtp_state_name(s->state), s->reply);
}

/* One reply line. */
static int
reply_line(struct smtp *s, const char *line)
{
	int code, last;
	size_t n;

	if (smtp_reply_parse(line, &code, &last) < 0) {
		s->reply[0] = '\0';
		log_escape(s->reply, sizeof s->reply, line, strlen(line));
		return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL, "not an "
		    "SMTP reply: \"%s\"", s->reply);
	}
	if (s->rlines == 0) {
		s->rcode = code;
		s->reply[0] = '\0';
		log_escape(s->reply, sizeof s->reply, line, 3);
	} else if (code != s->rcode)
		return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL, "reply "
		    "lines with different codes: %d then %d", s->rcode, code);
	if (++s->rlines > SMTP_REPLY_LINES)
		return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL, "reply "
		    "longer than %d lines", SMTP_REPLY_LINES);
	n = strlen(line);
	if (n > 4) {
		size_t k = strlen(s->reply);

		if (k + 1 < sizeof s->reply) {
			s->reply[k] = ' ';
			s->reply[k + 1] = '\0';
		}
		log_escape(s->reply, sizeof s->reply, line + 4, n - 4);
		if (s->state == SMTP_ST_EHLO && s->rlines > 1 && code == 250)
			capability(s, line + 4);
	}
	if (!last)
		return 0;
	s->rlines = 0;
	s->rtext = n > 4 ? line + 4 : "";
	return reply(s, code);
}

int
smtp_input(struct smtp *s, const char *buf, size_t n)
{
	long k;

	if (s->done)
		return -1;
	if (n > 0 && s->want_tls) {
		s->injected = 1;
		return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL, "server "
		    "sent data after the STARTTLS go-ahead");
	}
	if (n > 0 && s->state == SMTP_ST_BODY)
		return fail_now(s, SMTP_FAIL_TEMP, EX_TEMPFAIL, "server "
		    "replied while the message was being sent");
	while (n > 0) {
		k = line_feed(&s->lb, buf, n);
		if (k < 0)
			return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL,
			    "reply line longer than %d bytes or with a NUL",
			    REPLY_LINE_MAX);
		buf += k;
		n -= (size_t)k;
		if (!s->lb.ready)
			break;
		reply_line(s, s->lb.buf);
		line_next(&s->lb);
		if (s->done)
			return s->fail == SMTP_OK ? 0 : -1;
		if (s->want_tls && n > 0) {
			s->injected = 1;
			return fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL,
			    "server sent data after the STARTTLS go-ahead");
		}
	}
	smtp_pump(s);
	return s->done && s->fail != SMTP_OK ? -1 : 0;
}

void
smtp_eof(struct smtp *s)
{
	if (s->done)
		return;
	if (s->state == SMTP_ST_QUIT) {
		s->state = SMTP_ST_DONE;
		s->done = 1;
		return;
	}
	fail_now(s, SMTP_FAIL_CONNECT, EX_TEMPFAIL, "connection closed by "
	    "the server (in state %s)", smtp_state_name(s->state));
}
