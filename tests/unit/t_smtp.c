/*
 * t_smtp.c — the SMTP session driven by scripted in-memory dialogs (each
 * fed whole, in 1-byte and in 3-byte pieces, asserting the exact bytes of
 * every command batch), and the data encoder against every smuggling
 * variant, a byte-exact table and an exhaustive small-alphabet sweep
 * checked with line.c's decoder.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "line.h"
#include "msg.h"
#include "smtp.h"
#include "t.h"

/* ---- the encoder ---- */

static size_t
enc_all(const char *in, size_t n, char *out, size_t cap, size_t inchunk,
    size_t outcap)
{
	struct smtp_enc st;
	size_t o = 0, i = 0, used, k, w;

	smtp_enc_init(&st);
	while (i < n) {
		k = n - i < inchunk ? n - i : inchunk;
		w = smtp_encode(&st, in + i, k, out + o,
		    cap - o < outcap ? cap - o : outcap, &used);
		o += w;
		i += used;
	}
	for (;;) {
		w = smtp_encode_end(&st, out + o, cap - o < outcap ? cap - o :
		    outcap);
		o += w;
		if (w > 0)
			break;
		if (outcap >= 5)
			return (size_t)-1;	/* must have fit */
		outcap = 5;
	}
	return o;
}

static int
count_term(const char *buf, size_t n)
{
	int c = 0;
	size_t i;

	for (i = 0; i + 5 <= n; i++)
		if (memcmp(buf + i, "\r\n.\r\n", 5) == 0)
			c++;
	return c;
}

#define E(i, o)	{ i, sizeof i - 1, o, sizeof o - 1 }

static const struct {
	const char *in;
	size_t inlen;
	const char *out;
	size_t outlen;
} enc_table[] = {
	E("", ".\r\n"),
	E("a", "a\r\n.\r\n"),
	E("a\n", "a\r\n.\r\n"),
	E("a\r\n", "a\r\n.\r\n"),
	E("a\r", "a\r\n.\r\n"),
	E(".", "..\r\n.\r\n"),
	E(".\n", "..\r\n.\r\n"),
	E(".\r", "..\r\n.\r\n"),
	E(".\r\n", "..\r\n.\r\n"),
	E("..x", "...x\r\n.\r\n"),
	E("a.b\n", "a.b\r\n.\r\n"),
	E("x\n..\n", "x\r\n...\r\n.\r\n"),
	/* SMTP smuggling: every way to fake an end of data */
	E("a\n.\nb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\r.\rb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\r\n.\rb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\r\n.\nb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\r.\nb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\r.\r\nb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\n.\rb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"),
	E("a\r\n.\r\n", "a\r\n..\r\n.\r\n"),
	E("\r\n.\r\n", "\r\n..\r\n.\r\n"),
	E("\n.\n", "\r\n..\r\n.\r\n"),
	E("a\r\r\n.\r\r\n", "a\r\n\r\n..\r\n\r\n.\r\n"),
	E("a\n\r.\n\r", "a\r\n\r\n..\r\n\r\n.\r\n"),
	E("a\r\n\0.\r\n", "a\r\n\0.\r\n.\r\n"),
	E("\n\n", "\r\n\r\n.\r\n"),
	E("\r\r\n", "\r\n\r\n.\r\n"),
	E("\r\n\r", "\r\n\r\n.\r\n"),
	E("Subject: hi\n\nhello\n.\n", "Subject: hi\r\n\r\nhello\r\n..\r\n"
	    ".\r\n"),
	/* runs inside lines are copied whole: longer than every out cap */
	E("abcdefghij\n.klmnop\rqrs.tu\r\n..vwxyz", "abcdefghij\r\n..klmnop"
	    "\r\nqrs.tu\r\n...vwxyz\r\n.\r\n"),
	E("x.y.z\r\n\r\nend.\n", "x.y.z\r\n\r\nend.\r\n.\r\n"),
};

static void
t_encoder_table(void)
{
	static char out[256], name[128];
	static const size_t chunks[] = { 1000, 1, 2, 3 };
	static const size_t caps[] = { 1000, 2, 3, 4 };
	size_t i, c, k, n, wl;

	for (i = 0; i < sizeof enc_table / sizeof enc_table[0]; i++) {
		const char *want = enc_table[i].out;

		wl = enc_table[i].outlen;
		for (c = 0; c < 4; c++)
			for (k = 0; k < 4; k++) {
				n = enc_all(enc_table[i].in,
				    enc_table[i].inlen, out, sizeof out,
				    chunks[c], caps[k]);
				snprintf(name, sizeof name, "encode #%zu in "
				    "%zu out %zu", i, chunks[c], caps[k]);
				T_OK(n == wl && memcmp(out, want, wl) == 0,
				    name);
			}
		/* After the DATA command's CRLF: exactly one end, last. */
		out[0] = '\r';
		out[1] = '\n';
		n = enc_all(enc_table[i].in, enc_table[i].inlen,
		    out + 2, sizeof out - 2, 1000, 1000) + 2;
		snprintf(name, sizeof name, "encode #%zu one terminator", i);
		T_OK(count_term(out, n) == 1 &&
		    memcmp(out + n - 5, "\r\n.\r\n", 5) == 0, name);
	}
}

/* Every string up to length 8 over { CR, LF, '.', 'a' }: exactly one
 * CRLF.CRLF on the wire, and line.c's decoder gives back the input with
 * its line ends made LF (and a final LF). */
static void
t_encoder_sweep(void)
{
	static const char alpha[4] = { '\r', '\n', '.', 'a' };
	static char in[16], out[64], dec[64], want[32];
	struct body b;
	size_t len, i, n, used, dn, w, k;
	long idx, total = 0, bad = 0, bad_rt = 0;
	unsigned long v;

	for (len = 0; len <= 8; len++) {
		idx = 1;
		for (i = 0; i < len; i++)
			idx *= 4;
		for (v = 0; v < (unsigned long)idx; v++) {
			unsigned long x = v;

			for (i = 0; i < len; i++, x /= 4)
				in[i] = alpha[x % 4];
			out[0] = '\r';
			out[1] = '\n';
			n = enc_all(in, len, out + 2, sizeof out - 2,
			    1 + v % 3, 2 + v % 4) + 2;
			total++;
			if (count_term(out, n) != 1 ||
			    memcmp(out + n - 5, "\r\n.\r\n", 5) != 0)
				bad++;
			/* expected decode */
			for (i = 0, w = 0; i < len; i++) {
				if (in[i] == '\n' && i > 0 &&
				    in[i - 1] == '\r')
					continue;
				want[w++] = in[i] == '\r' ? '\n' : in[i];
			}
			if (w > 0 && want[w - 1] != '\n')
				want[w++] = '\n';
			body_reset(&b);
			dn = 0;
			for (i = 2; i < n && !b.done; i += used) {
				used = body_decode(&b, out + i, n - i,
				    dec + dn, &k);
				dn += k;
			}
			if (!b.done || i != n || dn != w ||
			    memcmp(dec, want, w) != 0)
				bad_rt++;
		}
	}
	T_EQ_INT(bad, 0, "encode sweep: one terminator, at the end");
	T_EQ_INT(bad_rt, 0, "encode sweep: line.c decodes it back");
	T_OK(total == 87381, "encode sweep covered every string");
}

static void
t_reply_parse(void)
{
	static const struct {
		const char *line;
		int ok, code, last;
	} v[] = {
		{ "250 ok", 1, 250, 1 }, { "250-ok", 1, 250, 0 },
		{ "250", 1, 250, 1 }, { "220 ", 1, 220, 1 },
		{ "554 5.7.1 no", 1, 554, 1 }, { "334 ", 1, 334, 1 },
		{ "250x", 0, 0, 0 }, { "25", 0, 0, 0 }, { "", 0, 0, 0 },
		{ "600 no", 0, 0, 0 }, { "160 no", 0, 0, 0 },
		{ "2a0 no", 0, 0, 0 }, { "260 no", 0, 0, 0 },
		{ " 250 ok", 0, 0, 0 }, { "250\tok", 0, 0, 0 },
	};
	char name[64];
	size_t i;
	int code, last, r;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		code = last = -1;
		r = smtp_reply_parse(v[i].line, &code, &last);
		snprintf(name, sizeof name, "reply parse \"%s\"", v[i].line);
		T_OK(v[i].ok ? r == 0 && code == v[i].code &&
		    last == v[i].last : r < 0, name);
	}
}

static void
t_helo_name(void)
{
	static const struct {
		const char *host, *ip, *want;
	} v[] = {
		{ "router.example.net", NULL, "router.example.net" },
		{ "OpenWrt", "192.0.2.7", "[192.0.2.7]" },
		{ "OpenWrt", "2001:db8::1", "[IPv6:2001:db8::1]" },
		{ "OpenWrt", NULL, "localhost" },
		{ "localhost", NULL, "localhost" },
		{ "a-.example", "10.0.0.1", "[10.0.0.1]" },
		{ "-a.example", NULL, "localhost" },
		{ "a..b", NULL, "localhost" },
		{ "192.168.1.1", NULL, "localhost" },
		{ "x.example.", NULL, "localhost" },
		{ "bad_name.example", NULL, "localhost" },
		{ "OpenWrt", "1.2.3.4\r\nMAIL", "localhost" },
		{ "r1.lan", NULL, "r1.lan" },
	};
	char out[SMTP_HELO_MAX], name[80];
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		smtp_helo_name(v[i].host, v[i].ip, out, sizeof out);
		snprintf(name, sizeof name, "helo name %s %s", v[i].host,
		    v[i].ip ? v[i].ip : "-");
		T_EQ_STR(out, v[i].want, name);
	}
}

/* ---- dialogs ---- */

struct step {
	char op;
	const char *s;
	int n, ex;
};

struct dlg {
	const char *name;
	int tls;		/* enum tls_mode */
	int auth;		/* enum auth_mech */
	int token;		/* an OAuth token source is configured */
	int nopw;		/* no password configured */
	int plain_ok;		/* allow_plaintext_auth */
	const char *user;	/* default me@example.com */
	const char *pass;	/* default secret */
	const char *rcpts;	/* default "a@b.example,c@d.example" */
	const char *body;	/* default BODY */
	int flags;		/* ENV_* */
	struct step st[48];
};

#define S(x)	{ 'S', x, 0, 0 }	/* server sends */
#define C(x)	{ 'C', x, 0, 0 }	/* client sent this since the last C */
#define MSG	{ 'M', NULL, 0, 0 }	/* smtp_send */
#define TLS	{ 'T', NULL, 0, 0 }	/* handshake done */
#define QUIT	{ 'Q', NULL, 0, 0 }	/* smtp_quit */
#define EOFS	{ 'E', NULL, 0, 0 }	/* server closed */
#define FIN(r)	{ 'F', NULL, r, 0 }	/* smtp_finished: result */
#define NOFIN	{ 'f', NULL, 0, 0 }	/* nothing finished */
#define RC(x)	{ 'R', x, 0, 0 }	/* recipient statuses p/d/f */
#define CODES(x) { 'K', x, 0, 0 }	/* recipient reply codes */
#define STATE(x) { 'I', x, 0, 0 }	/* state name */
#define DONE(f, ex) { 'D', NULL, f, ex }	/* done, fail class, err.ex */
#define INJ	{ 'J', NULL, 0, 0 }	/* injected */
#define NOTE8	{ 'N', NULL, 0, 0 }	/* note_8bit */
#define REPLY(x) { 'P', x, 0, 0 }	/* msg_reply starts with */
#define ERR(x)	{ 'X', x, 0, 0 }	/* err.msg contains */
#define END	{ 0, NULL, 0, 0 }

#define BODY	"Subject: hi\n\nhello\n.\n"
#define BODYENC	"Subject: hi\r\n\r\nhello\r\n..\r\n.\r\n"
#define GREET	S("220 mx.example ESMTP\r\n"), C("EHLO client.example\r\n")
#define PLAIN	"AUTH PLAIN AG1lQGV4YW1wbGUuY29tAHNlY3JldA==\r\n"
#define CAPS	"250-mx.example\r\n250-AUTH PLAIN LOGIN\r\n" \
		"250-8BITMIME\r\n250 SIZE 1000000\r\n"
#define LOGIN_OK S(CAPS), C(PLAIN), S("235 2.7.0 ok\r\n"), STATE("idle")
#define PIPE	"250-mx.example\r\n250-PIPELINING\r\n250 AUTH PLAIN\r\n"
#define BYE	QUIT, C("QUIT\r\n"), S("221 bye\r\n"), DONE(SMTP_OK, 0)
#define MAIL2P	"MAIL FROM:<me@example.com>\r\n" \
		"RCPT TO:<a@b.example>\r\nRCPT TO:<c@d.example>\r\n" \
		"DATA\r\n"

static const struct dlg dialogs[] = {
	{ "plain, no pipelining", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL,
	    NULL, NULL, NULL, 0, {
	GREET, LOGIN_OK, NOFIN,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), STATE("mail"),
	S("250 2.1.0 ok\r\n"), C("RCPT TO:<a@b.example>\r\n"),
	S("250 2.1.5 ok\r\n"), C("RCPT TO:<c@d.example>\r\n"),
	S("250 2.1.5 ok\r\n"), C("DATA\r\n"), NOFIN,
	S("354 go ahead\r\n"), C(BODYENC), STATE("dot"), NOFIN,
	S("250 2.0.0 queued as X1\r\n"), FIN(SMTP_MSG_SENT), RC("dd"),
	CODES("250,250"), REPLY("250 2.0.0 queued as X1"), STATE("idle"),
	BYE, END } },

	{ "pipelining, two messages, no RSET", TLS_IMPLICIT, AUTH_AUTO, 0, 0,
	    0, NULL, NULL, NULL, NULL, 0, {
	GREET, S(PIPE), C(PLAIN), S("235 ok\r\n"),
	MSG, C(MAIL2P),
	S("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n354 go\r\n"),
	C(BODYENC), S("250 ok: queued\r\n"), FIN(SMTP_MSG_SENT), RC("df"),
	CODES("250,550"),
	MSG, C(MAIL2P), S("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"),
	C(BODYENC), S("250 ok\r\n"), FIN(SMTP_MSG_SENT), RC("dd"),
	BYE, END } },

	{ "mixed 250/550/451", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    "a@x.example,b@x.example,c@x.example", NULL, 0, {
	GREET, S(PIPE), C(PLAIN), S("235 ok\r\n"),
	MSG, C("MAIL FROM:<me@example.com>\r\nRCPT TO:<a@x.example>\r\n"
	    "RCPT TO:<b@x.example>\r\nRCPT TO:<c@x.example>\r\nDATA\r\n"),
	S("250 ok\r\n250 ok\r\n550 no\r\n451 4.7.1 later\r\n354 go\r\n"),
	C(BODYENC), S("250 ok\r\n"), FIN(SMTP_MSG_SENT), RC("dfp"),
	CODES("250,550,451"), REPLY("451 4.7.1 later"), BYE, END } },

	{ "every RCPT refused, no pipelining", TLS_IMPLICIT, AUTH_AUTO, 0, 0,
	    0, NULL, NULL, NULL, NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("550 no\r\n"),
	C("RCPT TO:<c@d.example>\r\n"), S("550 5.1.1 nobody\r\n"),
	C("RSET\r\n"), NOFIN, S("250 ok\r\n"), FIN(SMTP_MSG_PERM), RC("ff"),
	REPLY("550 5.1.1 nobody"), BYE, END } },

	{ "RCPT 451 and 550: temporary", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0,
	    NULL, NULL, NULL, NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("451 later\r\n"),
	C("RCPT TO:<c@d.example>\r\n"), S("550 no\r\n"),
	C("RSET\r\n"), S("250 ok\r\n"), FIN(SMTP_MSG_TEMP), RC("pf"),
	CODES("451,550"), BYE, END } },

	{ "every RCPT refused, pipelined, DATA 554", TLS_IMPLICIT, AUTH_AUTO,
	    0, 0, 0, NULL, NULL, NULL, NULL, 0, {
	GREET, S(PIPE), C(PLAIN), S("235 ok\r\n"),
	MSG, C(MAIL2P), S("250 ok\r\n550 no\r\n550 no\r\n"), C(""),
	S("554 5.5.1 no valid recipients\r\n"), C("RSET\r\n"),
	S("250 ok\r\n"), FIN(SMTP_MSG_PERM), RC("ff"), BYE, END } },

	{ "every RCPT refused, pipelined, DATA 354 anyway", TLS_IMPLICIT,
	    AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL, NULL, 0, {
	GREET, S(PIPE), C(PLAIN), S("235 ok\r\n"),
	MSG, C(MAIL2P), S("250 ok\r\n550 no\r\n550 no\r\n354 go\r\n"),
	C(".\r\n"), S("250 ok\r\n"), C("RSET\r\n"), S("250 ok\r\n"),
	FIN(SMTP_MSG_PERM), RC("ff"), BYE, END } },

	{ "MAIL 451", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"),
	S("451 4.3.0 try later\r\n"), C("RSET\r\n"), S("250 ok\r\n"),
	FIN(SMTP_MSG_TEMP), RC("pp"), REPLY("451 4.3.0 try later"), BYE,
	END } },

	{ "MAIL 550", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"),
	S("550 5.7.1 sender refused\r\n"), C("RSET\r\n"), S("250 ok\r\n"),
	FIN(SMTP_MSG_PERM), RC("ff"), BYE, END } },

	{ "MAIL 550 pipelined", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	GREET, S(PIPE), C(PLAIN), S("235 ok\r\n"),
	MSG, C(MAIL2P), S("550 5.7.1 sender refused\r\n503 5.5.1 x\r\n"),
	C(""), S("503 5.5.1 x\r\n503 5.5.1 x\r\n"), C("RSET\r\n"),
	S("250 ok\r\n"), FIN(SMTP_MSG_PERM), RC("ff"),
	REPLY("550 5.7.1 sender refused"), BYE, END } },

	{ "DATA 451", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    "a@b.example", NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"), C("DATA\r\n"),
	S("451 4.3.0 later\r\n"), C("RSET\r\n"), S("250 ok\r\n"),
	FIN(SMTP_MSG_TEMP), RC("p"), BYE, END } },

	{ "DATA 554", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    "a@b.example", NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"), C("DATA\r\n"),
	S("554 no\r\n"), C("RSET\r\n"), S("250 ok\r\n"),
	FIN(SMTP_MSG_PERM), RC("f"), BYE, END } },

	{ "after data 451", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    "a@b.example", NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"), C("DATA\r\n"),
	S("354 go\r\n"), C(BODYENC), S("451 4.3.0 later\r\n"),
	C("RSET\r\n"), S("250 ok\r\n"), FIN(SMTP_MSG_TEMP), RC("p"),
	CODES("451"), BYE, END } },

	{ "after data 554, then a second message", TLS_IMPLICIT, AUTH_AUTO, 0,
	    0, 0, NULL, NULL, "a@b.example", NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"), C("DATA\r\n"),
	S("354 go\r\n"), C(BODYENC), S("554 5.7.1 spam\r\n"),
	C("RSET\r\n"), S("250 ok\r\n"), FIN(SMTP_MSG_PERM), RC("f"),
	REPLY("554 5.7.1 spam"),
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"), C("DATA\r\n"),
	S("354 go\r\n"), C(BODYENC), S("250 ok\r\n"), FIN(SMTP_MSG_SENT),
	RC("d"), BYE, END } },

	{ "greeting 421", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	S("421 4.3.2 busy\r\n"), C(""), DONE(SMTP_FAIL_TEMP, EX_TEMPFAIL),
	ERR("421 4.3.2 busy"), END } },

	{ "greeting 554", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	S("554 5.7.1 go away\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	DONE(SMTP_FAIL_CONNECT, EX_UNAVAILABLE), END } },

	{ "greeting 450", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	S("450 later\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	DONE(SMTP_FAIL_TEMP, EX_TEMPFAIL), END } },

	{ "multi-line greeting", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	S("220-mx.example\r\n220-welcome\r\n220 ESMTP\r\n"),
	C("EHLO client.example\r\n"), LOGIN_OK, BYE, END } },

	{ "EHLO 500: HELO", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    "a@b.example", NULL, 0, {
	GREET, S("500 5.5.1 what?\r\n"), C("HELO client.example\r\n"),
	S("250 mx.example\r\n"), STATE("idle"),
	MSG, C("MAIL FROM:<me@example.com>\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"), C("DATA\r\n"),
	S("354 go\r\n"), C(BODYENC), S("250 ok\r\n"), FIN(SMTP_MSG_SENT),
	BYE, END } },

	{ "EHLO 502: HELO", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	GREET, S("502 no\r\n"), C("HELO client.example\r\n"),
	S("250 ok\r\n"), STATE("idle"), BYE, END } },

	{ "EHLO 550: no HELO", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	GREET, S("550 5.7.1 not you\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	DONE(SMTP_FAIL_CONNECT, EX_UNAVAILABLE), END } },

	{ "EHLO 451", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S("451 later\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	DONE(SMTP_FAIL_TEMP, EX_TEMPFAIL), END } },

	{ "HELO 550", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S("500 what\r\n"), C("HELO client.example\r\n"),
	S("550 no\r\n"), C("QUIT\r\n"), EOFS,
	DONE(SMTP_FAIL_CONNECT, EX_UNAVAILABLE), END } },

	{ "STARTTLS", TLS_STARTTLS, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S("250-mx.example\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"),
	C("STARTTLS\r\n"), S("220 2.0.0 go ahead\r\n"), C(""),
	STATE("tls"), TLS, C("EHLO client.example\r\n"),
	S("250-mx.example\r\n250 AUTH PLAIN\r\n"), C(PLAIN),
	S("235 ok\r\n"), STATE("idle"), BYE, END } },

	{ "STARTTLS not offered", TLS_STARTTLS, AUTH_AUTO, 0, 0, 0, NULL,
	    NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH PLAIN\r\n"), C("QUIT\r\n"),
	S("221 bye\r\n"), DONE(SMTP_FAIL_CONNECT, EX_UNAVAILABLE),
	ERR("STARTTLS"), END } },

	{ "STARTTLS not offered, after HELO", TLS_STARTTLS, AUTH_AUTO, 0, 0,
	    0, NULL, NULL, NULL, NULL, 0, {
	GREET, S("502 no\r\n"), C("HELO client.example\r\n"),
	S("250 ok\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	DONE(SMTP_FAIL_CONNECT, EX_UNAVAILABLE), END } },

	{ "STARTTLS 454", TLS_STARTTLS, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S("250-mx.example\r\n250 STARTTLS\r\n"), C("STARTTLS\r\n"),
	S("454 4.7.0 TLS not available\r\n"), C("QUIT\r\n"),
	S("221 bye\r\n"), DONE(SMTP_FAIL_TEMP, EX_TEMPFAIL), END } },

	{ "STARTTLS 501", TLS_STARTTLS, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S("250-mx.example\r\n250 STARTTLS\r\n"), C("STARTTLS\r\n"),
	S("501 no\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	DONE(SMTP_FAIL_CONNECT, EX_UNAVAILABLE), END } },

	{ "STARTTLS injection, same read", TLS_STARTTLS, AUTH_AUTO, 0, 0, 0,
	    NULL, NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 STARTTLS\r\n"), C("STARTTLS\r\n"),
	S("220 go ahead\r\n250-fake\r\n"), C(""), INJ,
	DONE(SMTP_FAIL_CONNECT, EX_TEMPFAIL), END } },

	{ "STARTTLS injection, next read", TLS_STARTTLS, AUTH_AUTO, 0, 0, 0,
	    NULL, NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 STARTTLS\r\n"), C("STARTTLS\r\n"),
	S("220 go ahead\r\n"), C(""), S("x"), C(""), INJ,
	DONE(SMTP_FAIL_CONNECT, EX_TEMPFAIL), END } },

	{ "plaintext: credentials withheld, 530", TLS_NONE, AUTH_AUTO, 0, 0,
	    0, NULL, NULL, "a@b.example", NULL, 0, {
	GREET, S(CAPS), C(""), STATE("idle"),
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"),
	S("530 5.7.0 Authentication required\r\n"), C("QUIT\r\n"), NOFIN,
	S("221 bye\r\n"), FIN(SMTP_MSG_TEMP), RC("p"),
	DONE(SMTP_FAIL_LOCAL, EX_CONFIG), ERR("allow_plaintext_auth"),
	END } },

	{ "plaintext with allow_plaintext_auth", TLS_NONE, AUTH_AUTO, 0, 0, 1,
	    NULL, NULL, NULL, NULL, 0, {
	GREET, LOGIN_OK, BYE, END } },

	{ "no credentials: no AUTH", TLS_IMPLICIT, AUTH_AUTO, 0, 1, 0, NULL,
	    NULL, NULL, NULL, 0, {
	GREET, S(CAPS), C(""), STATE("idle"), BYE, END } },

	{ "no AUTH offered: relay", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL,
	    NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 8BITMIME\r\n"), C(""),
	STATE("idle"), BYE, END } },

	{ "AUTH LOGIN", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH LOGIN\r\n"),
	C("AUTH LOGIN\r\n"), S("334 VXNlcm5hbWU6\r\n"),
	C("bWVAZXhhbXBsZS5jb20=\r\n"), S("334 UGFzc3dvcmQ6\r\n"),
	C("c2VjcmV0\r\n"), S("235 ok\r\n"), STATE("idle"), BYE, END } },

	{ "auto prefers PLAIN to LOGIN", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0,
	    NULL, NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH=LOGIN PLAIN\r\n"), C(PLAIN),
	S("235 ok\r\n"), BYE, END } },

	{ "named LOGIN although PLAIN is offered", TLS_IMPLICIT, AUTH_LOGIN,
	    0, 0, 0, NULL, NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH PLAIN LOGIN\r\n"),
	C("AUTH LOGIN\r\n"), S("334 VXNlcm5hbWU6\r\n"),
	C("bWVAZXhhbXBsZS5jb20=\r\n"), S("334 UGFzc3dvcmQ6\r\n"),
	C("c2VjcmV0\r\n"), S("535 5.7.8 bad\r\n"), C("QUIT\r\n"),
	S("221 bye\r\n"), DONE(SMTP_FAIL_AUTH, EX_NOPERM), END } },

	{ "XOAUTH2 refused", TLS_IMPLICIT, AUTH_AUTO, 1, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH PLAIN XOAUTH2\r\n"),
	C("AUTH XOAUTH2\r\n"), S("334 \r\n"),
	C("dXNlcj1tZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB0b2sxMjMBAQ==\r\n"),
	S("334 eyJzdGF0dXMiOiI0MDEifQ==\r\n"), C("\r\n"),
	S("535 5.7.8 bad token\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	DONE(SMTP_FAIL_AUTH, EX_NOPERM), ERR("535 5.7.8 bad token"),
	END } },

	{ "XOAUTH2", TLS_IMPLICIT, AUTH_XOAUTH2, 1, 1, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH XOAUTH2\r\n"),
	C("AUTH XOAUTH2\r\n"), S("334\r\n"),
	C("dXNlcj1tZUBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB0b2sxMjMBAQ==\r\n"),
	S("235 ok\r\n"), STATE("idle"), BYE, END } },

	{ "token configured, XOAUTH2 not offered: PLAIN", TLS_IMPLICIT,
	    AUTH_AUTO, 1, 0, 0, NULL, NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH PLAIN\r\n"), C(PLAIN),
	S("235 ok\r\n"), BYE, END } },

	{ "CRAM-MD5 when named", TLS_IMPLICIT, AUTH_CRAM_MD5, 0, 0, 0, "tim",
	    "tanstaaftanstaaf", NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH PLAIN CRAM-MD5\r\n"),
	C("AUTH CRAM-MD5\r\n"),
	S("334 PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n"),
	C("dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
	S("235 ok\r\n"), BYE, END } },

	{ "CRAM-MD5 never by auto", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL,
	    NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH CRAM-MD5\r\n"), C("QUIT\r\n"),
	S("221 bye\r\n"), DONE(SMTP_FAIL_CONNECT, EX_UNAVAILABLE),
	ERR("CRAM-MD5"), END } },

	{ "named PLAIN not offered", TLS_IMPLICIT, AUTH_PLAIN, 0, 0, 0, NULL,
	    NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250 AUTH LOGIN\r\n"), C("QUIT\r\n"),
	S("221 bye\r\n"), DONE(SMTP_FAIL_CONNECT, EX_UNAVAILABLE), END } },

	{ "AUTH 535", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S(CAPS), C(PLAIN), S("535 5.7.8 Username and Password not "
	    "accepted\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	DONE(SMTP_FAIL_AUTH, EX_NOPERM), END } },

	{ "AUTH 534", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S(CAPS), C(PLAIN), S("534-5.7.9 Application-specific\r\n"
	    "534 5.7.9 password required\r\n"), C("QUIT\r\n"), EOFS,
	DONE(SMTP_FAIL_AUTH, EX_NOPERM),
	ERR("534 5.7.9 Application-specific 5.7.9 password required"),
	END } },

	{ "AUTH 454", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, S(CAPS), C(PLAIN), S("454 4.7.0 try later\r\n"),
	C("QUIT\r\n"), S("221 bye\r\n"), DONE(SMTP_FAIL_TEMP, EX_TEMPFAIL),
	END } },

	{ "garbage greeting", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	S("HTTP/1.1 400 Bad Request\r\n"), C(""),
	DONE(SMTP_FAIL_CONNECT, EX_TEMPFAIL), END } },

	{ "reply codes change mid-reply", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0,
	    NULL, NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n251 AUTH PLAIN\r\n"), C(""),
	DONE(SMTP_FAIL_CONNECT, EX_TEMPFAIL), END } },

	{ "NUL in a reply", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	{ 'S', "220 a\0b\r\n", 9, 0 }, C(""),
	DONE(SMTP_FAIL_CONNECT, EX_TEMPFAIL), END } },

	{ "421 during RCPT", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<c@d.example>\r\n"), S("421 4.3.2 shutting down\r\n"),
	C(""), FIN(SMTP_MSG_TEMP), RC("pp"),
	DONE(SMTP_FAIL_TEMP, EX_TEMPFAIL), END } },

	{ "EOF while waiting for the data reply", TLS_IMPLICIT, AUTH_AUTO, 0,
	    0, 0, NULL, NULL, "a@b.example", NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("250 ok\r\n"),
	C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"), C("DATA\r\n"),
	S("354 go\r\n"), C(BODYENC), EOFS, FIN(SMTP_MSG_TEMP), RC("p"),
	DONE(SMTP_FAIL_CONNECT, EX_TEMPFAIL), END } },

	{ "EOF after QUIT", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL,
	    NULL, NULL, 0, {
	GREET, LOGIN_OK, QUIT, C("QUIT\r\n"), EOFS, DONE(SMTP_OK, 0),
	END } },

	{ "unexpected reply when idle", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0,
	    NULL, NULL, NULL, NULL, 0, {
	GREET, LOGIN_OK, S("250 surprise\r\n"), C(""),
	DONE(SMTP_FAIL_CONNECT, EX_TEMPFAIL), END } },

	{ "SIZE exceeded: refused unsent", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0,
	    NULL, NULL, NULL, NULL, 0, {
	GREET, S("250-mx.example\r\n250-AUTH PLAIN\r\n250 SIZE 20\r\n"),
	C(PLAIN), S("235 ok\r\n"), MSG, C(""), FIN(SMTP_MSG_PERM),
	RC("ff"), REPLY("message of 21 bytes is larger"), STATE("idle"),
	BYE, END } },

	{ "SMTPUTF8 needed, not offered", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0,
	    NULL, NULL, "j\xc3\xb6rg@b.example", NULL, ENV_UTF8, {
	GREET, LOGIN_OK, MSG, C(""), FIN(SMTP_MSG_PERM), RC("f"),
	REPLY("an address is not ASCII"), BYE, END } },

	{ "SMTPUTF8 and 8BITMIME", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL,
	    NULL, "j\xc3\xb6rg@b.example", "caf\xc3\xa9\n",
	    ENV_UTF8 | ENV_8BIT, {
	GREET, S("250-mx.example\r\n250-SMTPUTF8\r\n250-8BITMIME\r\n"
	    "250-PIPELINING\r\n250 AUTH PLAIN\r\n"), C(PLAIN),
	S("235 ok\r\n"), MSG,
	C("MAIL FROM:<me@example.com> BODY=8BITMIME SMTPUTF8\r\n"
	    "RCPT TO:<j\xc3\xb6rg@b.example>\r\nDATA\r\n"),
	S("250 ok\r\n250 ok\r\n354 go\r\n"), C("caf\xc3\xa9\r\n.\r\n"),
	S("250 ok\r\n"), FIN(SMTP_MSG_SENT), RC("d"), BYE, END } },

	{ "8-bit without 8BITMIME: sent, noted", TLS_IMPLICIT, AUTH_AUTO, 0,
	    0, 0, NULL, NULL, "a@b.example", "caf\xc3\xa9\n", ENV_8BIT, {
	GREET, S("250-mx.example\r\n250 AUTH PLAIN\r\n"), C(PLAIN),
	S("235 ok\r\n"), MSG, C("MAIL FROM:<me@example.com>\r\n"), NOTE8,
	S("250 ok\r\n"), C("RCPT TO:<a@b.example>\r\n"), S("250 ok\r\n"),
	C("DATA\r\n"), S("354 go\r\n"), C("caf\xc3\xa9\r\n.\r\n"),
	S("250 ok\r\n"), FIN(SMTP_MSG_SENT), BYE, END } },

	{ "RSET refused", TLS_IMPLICIT, AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL,
	    NULL, 0, {
	GREET, LOGIN_OK,
	MSG, C("MAIL FROM:<me@example.com> SIZE=21\r\n"), S("550 no\r\n"),
	C("RSET\r\n"), S("500 what\r\n"), C("QUIT\r\n"), S("221 bye\r\n"),
	FIN(SMTP_MSG_PERM), DONE(SMTP_FAIL_TEMP, EX_TEMPFAIL), END } },

	{ "530 pipelined: QUIT after the replies in flight", TLS_NONE,
	    AUTH_AUTO, 0, 0, 0, NULL, NULL, NULL, NULL, 0, {
	GREET, S(PIPE), C(""), MSG, C(MAIL2P),
	S("530 5.7.0 Authentication required\r\n"), C("QUIT\r\n"),
	S("503 x\r\n503 x\r\n503 x\r\n"), NOFIN, S("221 bye\r\n"),
	FIN(SMTP_MSG_TEMP), RC("pp"), DONE(SMTP_FAIL_LOCAL, EX_CONFIG),
	END } },
};

/* A message source that returns at most 5 bytes per call. */
struct memsrc {
	const char *p;
	size_t n, off;
	int fail_at;		/* return -1 once off reaches it (>0) */
};

static long
memsrc_read(void *ctx, char *buf, size_t cap)
{
	struct memsrc *m = ctx;
	size_t k = m->n - m->off;

	if (m->fail_at > 0 && m->off >= (size_t)m->fail_at)
		return -1;
	if (k > 5)
		k = 5;
	if (k > cap)
		k = cap;
	memcpy(buf, m->p + m->off, k);
	m->off += k;
	return (long)k;
}

static struct envelope env;
static struct smtp sess;
static struct account acct;
static char wire[1 << 20];
static size_t wirelen;
static int secret_calls;

static int
fake_secret(struct smtp *s, int token, char *out, size_t cap, struct err *e)
{
	const char *v = token ? "tok123" : s->srv->password;

	(void)e;
	secret_calls++;
	snprintf(out, cap, "%s", v);
	return 0;
}

/* The transport takes everything queued (smtp_consume refills). */
static void
drain(struct smtp *s, size_t take)
{
	size_t k;
	int guard;

	for (guard = 0; s->outlen > 0 && guard < 1000000; guard++) {
		k = s->outlen < take ? s->outlen : take;
		if (wirelen + k <= sizeof wire) {
			memcpy(wire + wirelen, s->out, k);
			wirelen += k;
		}
		smtp_consume(s, k);
	}
}

static void
make_env(const struct dlg *d)
{
	struct err e = { 0, "" };
	const char *r = d->rcpts ? d->rcpts : "a@b.example,c@d.example";
	const char *c;

	memset(&env, 0, sizeof env);
	strcpy(env.from, "me@example.com");
	while (*r != '\0') {
		c = strchr(r, ',');
		if (c == NULL)
			c = r + strlen(r);
		msg_add_rcpt(&env, r, (size_t)(c - r), &e);
		r = *c ? c + 1 : c;
	}
	env.flags = d->flags;
	env.size = (long long)strlen(d->body ? d->body : BODY);
}

static const char *
statuses(char *buf)
{
	int i;

	for (i = 0; i < env.nrcpt; i++)
		buf[i] = "pdfa"[env.rcpt[i].status];
	buf[i] = '\0';
	return buf;
}

static const char *
codes(char *buf, size_t cap)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < env.nrcpt; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%u", i ? "," : "",
		    env.rcpt[i].code);
	return buf;
}

/* Run one dialog; returns NULL or what went wrong first. */
static const char *
run(const struct dlg *d, size_t chunk, char *why, size_t cap)
{
	const struct step *st;
	struct err e = { 0, "" };
	struct memsrc src;
	struct envelope *fin;
	char buf[256];
	size_t off, k, n;
	int i;

	memset(&acct, 0, sizeof acct);
	strcpy(acct.name, "work");
	strcpy(acct.smtp.host, "mx.example");
	acct.smtp.tls = d->tls;
	acct.smtp.auth = d->auth;
	strcpy(acct.smtp.user, d->user ? d->user : "me@example.com");
	if (!d->nopw)
		strcpy(acct.smtp.password, d->pass ? d->pass : "secret");
	if (d->token)
		strcpy(acct.smtp.oauth_token_cmd, "echo tok123");
	acct.allow_plaintext_auth = d->plain_ok;
	smtp_init(&sess, NULL, &acct, &e);
	sess.secret = fake_secret;
	strcpy(sess.helo, "client.example");
	wirelen = 0;
	smtp_start(&sess);
	for (i = 0; d->st[i].op != 0; i++) {
		st = &d->st[i];
		switch (st->op) {
		case 'S':
			n = st->n ? (size_t)st->n : strlen(st->s);
			for (off = 0; off < n; off += k) {
				k = chunk == 0 || n - off < chunk ? n - off :
				    chunk;
				smtp_input(&sess, st->s + off, k);
				drain(&sess, sizeof sess.out);
				if (sess.done)
					break;
			}
			break;
		case 'C':
			if (wirelen != strlen(st->s) ||
			    memcmp(wire, st->s, wirelen) != 0) {
				buf[0] = '\0';
				snprintf(why, cap, "step %d: client sent "
				    "\"%.*s\" (%zu bytes)", i,
				    (int)(wirelen < 120 ? wirelen : 120), wire,
				    wirelen);
				return why;
			}
			wirelen = 0;
			break;
		case 'M':
			make_env(d);
			src.p = d->body ? d->body : BODY;
			src.n = strlen(src.p);
			src.off = 0;
			src.fail_at = 0;
			if (smtp_send(&sess, &env, memsrc_read, &src) < 0) {
				snprintf(why, cap, "step %d: smtp_send: %s", i,
				    sess.err.msg);
				return why;
			}
			drain(&sess, sizeof sess.out);
			break;
		case 'T':
			if (!sess.want_tls) {
				snprintf(why, cap, "step %d: want_tls not "
				    "set", i);
				return why;
			}
			smtp_tls_ready(&sess);
			drain(&sess, sizeof sess.out);
			break;
		case 'Q':
			smtp_quit(&sess);
			drain(&sess, sizeof sess.out);
			break;
		case 'E':
			smtp_eof(&sess);
			break;
		case 'F':
			fin = smtp_finished(&sess);
			if (fin != &env || sess.result != st->n) {
				snprintf(why, cap, "step %d: finished %p "
				    "result %d, want %d", i, (void *)fin,
				    sess.result, st->n);
				return why;
			}
			if (smtp_finished(&sess) != NULL) {
				snprintf(why, cap, "step %d: finished twice",
				    i);
				return why;
			}
			break;
		case 'f':
			if (smtp_finished(&sess) != NULL) {
				snprintf(why, cap, "step %d: finished early",
				    i);
				return why;
			}
			break;
		case 'R':
			if (strcmp(statuses(buf), st->s) != 0) {
				snprintf(why, cap, "step %d: statuses %s", i,
				    buf);
				return why;
			}
			break;
		case 'K':
			if (strcmp(codes(buf, sizeof buf), st->s) != 0) {
				snprintf(why, cap, "step %d: codes %s", i,
				    buf);
				return why;
			}
			break;
		case 'I':
			if (strcmp(smtp_state_name(sess.state), st->s) != 0) {
				snprintf(why, cap, "step %d: state %s", i,
				    smtp_state_name(sess.state));
				return why;
			}
			break;
		case 'D':
			if (!sess.done || sess.fail != st->n ||
			    sess.err.ex != st->ex) {
				snprintf(why, cap, "step %d: done %d fail %d "
				    "ex %d (%s)", i, sess.done, sess.fail,
				    sess.err.ex, sess.err.msg);
				return why;
			}
			break;
		case 'J':
			if (!sess.injected) {
				snprintf(why, cap, "step %d: not injected", i);
				return why;
			}
			break;
		case 'N':
			if (!sess.note_8bit) {
				snprintf(why, cap, "step %d: no 8-bit note", i);
				return why;
			}
			break;
		case 'P':
			if (strncmp(sess.msg_reply, st->s, strlen(st->s))) {
				snprintf(why, cap, "step %d: msg_reply \"%s\"",
				    i, sess.msg_reply);
				return why;
			}
			break;
		case 'X':
			if (strstr(sess.err.msg, st->s) == NULL) {
				snprintf(why, cap, "step %d: err \"%s\"", i,
				    sess.err.msg);
				return why;
			}
			break;
		}
	}
	if (wirelen != 0) {
		snprintf(why, cap, "at the end: client sent \"%.*s\"",
		    (int)(wirelen < 120 ? wirelen : 120), wire);
		return why;
	}
	/* No credential left behind. */
	for (k = 0; k < sizeof sess.pw; k++)
		if (sess.pw[k] != 0) {
			snprintf(why, cap, "password not wiped");
			return why;
		}
	return NULL;
}

static void
t_dialogs(void)
{
	static const size_t chunks[] = { 0, 1, 3 };
	char name[160], why[512];
	const char *r;
	size_t i, c;

	for (i = 0; i < sizeof dialogs / sizeof dialogs[0]; i++)
		for (c = 0; c < 3; c++) {
			r = run(&dialogs[i], chunks[c], why, sizeof why);
			snprintf(name, sizeof name, "dialog \"%s\" in %s",
			    dialogs[i].name, chunks[c] == 0 ? "whole reads" :
			    chunks[c] == 1 ? "1-byte reads" : "3-byte reads");
			if (r != NULL)
				printf("FAIL %s: %s\n", name, r), t_failed++;
			else
				printf("PASS %s\n", name);
		}
}

/* The credential is marked for the trace, and wiped once sent. */
static void
t_secret_marks(void)
{
	struct err e = { 0, "" };
	const char *b64 = "AG1lQGV4YW1wbGUuY29tAHNlY3JldA==";

	memset(&acct, 0, sizeof acct);
	strcpy(acct.smtp.user, "me@example.com");
	strcpy(acct.smtp.password, "secret");
	smtp_init(&sess, NULL, &acct, &e);
	sess.secret = fake_secret;
	smtp_start(&sess);
	smtp_input(&sess, "220 hi\r\n", 8);
	smtp_consume(&sess, sess.outlen);
	smtp_input(&sess, "250-x\r\n250 AUTH PLAIN\r\n", 24);
	T_OK(sess.secret_len == strlen(b64) && memcmp(sess.out +
	    sess.secret_off, b64, sess.secret_len) == 0,
	    "AUTH PLAIN: secret_off/secret_len mark the response");
	T_EQ_INT(sess.secret_off, strlen("AUTH PLAIN "),
	    "AUTH PLAIN: secret starts after the mechanism");
	smtp_consume(&sess, 13);	/* part of the secret went out */
	T_OK(sess.secret_off == 0 && sess.secret_len == strlen(b64) - 2,
	    "partial send moves the secret mark");
	smtp_consume(&sess, sess.outlen);
	T_OK(sess.secret_len == 0 && memchr(sess.out, 'A', 64) == NULL,
	    "sent secret: mark cleared and the buffer wiped");
}

/* A message larger than out: back-pressure, a transport that takes 1000
 * bytes at a time, exactly one terminator, byte-exact data. */
static void
t_big_body(void)
{
	static char body[200000], want[450000];
	struct err e = { 0, "" };
	struct memsrc src;
	struct smtp_enc st;
	size_t i, wn, used, maxout = 0, k;
	int guard;

	for (i = 0; i < sizeof body; i++)
		body[i] = "ab.\n\r"[(i * 7 + i / 13) % 5];
	smtp_enc_init(&st);
	wn = smtp_encode(&st, body, sizeof body, want, sizeof want, &used);
	wn += smtp_encode_end(&st, want + wn, sizeof want - wn);
	T_EQ_INT(used, sizeof body, "big body: reference encoding complete");

	memset(&acct, 0, sizeof acct);
	smtp_init(&sess, NULL, &acct, &e);
	smtp_start(&sess);
	smtp_input(&sess, "220 hi\r\n", 8);
	smtp_consume(&sess, sess.outlen);
	smtp_input(&sess, "250 hi\r\n", 8);
	smtp_consume(&sess, sess.outlen);
	memset(&env, 0, sizeof env);
	msg_add_rcpt(&env, "a@b.example", 11, &e);
	env.size = sizeof body;
	src.p = body;
	src.n = sizeof body;
	src.off = 0;
	src.fail_at = 0;
	smtp_send(&sess, &env, memsrc_read, &src);
	smtp_consume(&sess, sess.outlen);
	smtp_input(&sess, "250 ok\r\n", 8);
	smtp_consume(&sess, sess.outlen);
	smtp_input(&sess, "250 ok\r\n", 8);
	smtp_consume(&sess, sess.outlen);
	smtp_input(&sess, "354 go\r\n", 8);
	wirelen = 0;
	for (guard = 0; sess.outlen > 0 && guard < 100000; guard++) {
		if (sess.outlen > maxout)
			maxout = sess.outlen;
		k = sess.outlen < 1000 ? sess.outlen : 1000;
		memcpy(wire + wirelen, sess.out, k);
		wirelen += k;
		smtp_consume(&sess, k);
	}
	T_OK(maxout <= SMTP_OUT_MAX, "big body: out stays bounded");
	T_OK(wirelen == wn && memcmp(wire, want, wn) == 0,
	    "big body: the wire is the encoded message");
	T_EQ_INT(count_term(wire, wirelen), 1, "big body: one terminator");
	T_EQ_INT(sess.state, SMTP_ST_DOT, "big body: waiting for the reply");
	smtp_input(&sess, "250 ok\r\n", 8);
	T_OK(smtp_finished(&sess) == &env && sess.result == SMTP_MSG_SENT,
	    "big body: sent");
}

/* A reply while data is going out, and a failing source. */
static void
t_body_errors(void)
{
	static char body[100000];
	struct err e = { 0, "" };
	struct memsrc src;
	int pass;

	memset(body, 'x', sizeof body);
	for (pass = 0; pass < 2; pass++) {
		memset(&acct, 0, sizeof acct);
		smtp_init(&sess, NULL, &acct, &e);
		smtp_start(&sess);
		smtp_input(&sess, "220 hi\r\n", 8);
		smtp_consume(&sess, sess.outlen);
		smtp_input(&sess, "250 hi\r\n", 8);
		smtp_consume(&sess, sess.outlen);
		memset(&env, 0, sizeof env);
		msg_add_rcpt(&env, "a@b.example", 11, &e);
		env.size = sizeof body;
		src.p = body;
		src.n = sizeof body;
		src.off = 0;
		src.fail_at = pass == 0 ? 0 : 5000;
		smtp_send(&sess, &env, memsrc_read, &src);
		smtp_consume(&sess, sess.outlen);
		smtp_input(&sess, "250 ok\r\n", 8);
		smtp_consume(&sess, sess.outlen);
		smtp_input(&sess, "250 ok\r\n", 8);
		smtp_consume(&sess, sess.outlen);
		wirelen = 0;
		smtp_input(&sess, "354 go\r\n", 8);
		if (pass == 0) {
			T_EQ_INT(sess.state, SMTP_ST_BODY,
			    "reply during data: still sending");
			smtp_input(&sess, "554 stop\r\n", 10);
			T_OK(sess.done && sess.fail == SMTP_FAIL_TEMP,
			    "reply during data: session ends");
		} else {
			drain(&sess, 700);
			T_OK(sess.done && sess.fail == SMTP_FAIL_LOCAL &&
			    sess.err.ex == EX_IOERR,
			    "source error: session ends (local)");
			T_OK(wirelen < sizeof wire && count_term(wire,
			    wirelen) == 0 && memmem(wire, wirelen, ".\r\n",
			    3) == NULL, "source error: the data is never "
			    "ended");
		}
		T_OK(smtp_finished(&sess) == &env &&
		    sess.result == SMTP_MSG_TEMP && env.rcpt[0].status ==
		    RCPT_PENDING, "body error: message deferred");
	}
}

/* 1000 recipients pipelined through a 16 KB out buffer. */
static void
t_many_rcpts(void)
{
	struct err e = { 0, "" };
	struct memsrc src;
	char addr[64], line[96];
	size_t i, k, pos;
	int guard, ok = 1, mail = 0, rcpt = 0, data = 0, more;

	memset(&acct, 0, sizeof acct);
	smtp_init(&sess, NULL, &acct, &e);
	smtp_start(&sess);
	smtp_input(&sess, "220 hi\r\n", 8);
	smtp_consume(&sess, sess.outlen);
	smtp_input(&sess, "250-hi\r\n250 PIPELINING\r\n", 24);
	smtp_consume(&sess, sess.outlen);
	memset(&env, 0, sizeof env);
	for (i = 0; i < MSG_RCPT_MAX; i++) {
		snprintf(addr, sizeof addr, "user%04zu-with-a-long-local-part"
		    "@recipients.example", i);
		msg_add_rcpt(&env, addr, strlen(addr), &e);
	}
	T_EQ_INT(env.nrcpt, MSG_RCPT_MAX, "1000 recipients in the envelope");
	env.size = 2;
	src.p = "x\n";
	src.n = 2;
	src.off = 0;
	src.fail_at = 0;
	smtp_send(&sess, &env, memsrc_read, &src);
	/* The transport sends what is queued; the server answers each
	 * command line it has seen. */
	for (guard = 0; guard < 100000 && !sess.done; guard++) {
		more = 0;
		wirelen = 0;
		drain(&sess, 4096);
		for (pos = 0; pos < wirelen; pos = k + 1) {
			char *nl = memchr(wire + pos, '\n', wirelen - pos);

			if (nl == NULL)
				break;
			k = (size_t)(nl - wire);
			if (sess.state == SMTP_ST_DOT || sess.state ==
			    SMTP_ST_BODY)
				continue;
			if (memcmp(wire + pos, "MAIL", 4) == 0) {
				mail++;
				smtp_input(&sess, "250 ok\r\n", 8);
			} else if (memcmp(wire + pos, "RCPT", 4) == 0) {
				snprintf(line, sizeof line, "RCPT TO:<user%04d"
				    "-with-a-long-local-part@recipients."
				    "example>\r\n", rcpt);
				if (k + 1 - pos != strlen(line) ||
				    memcmp(wire + pos, line, strlen(line)))
					ok = 0;
				rcpt++;
				smtp_input(&sess, rcpt % 3 ? "250 ok\r\n" :
				    "452 4.5.3 too many\r\n", rcpt % 3 ? 8 :
				    20);
			} else if (memcmp(wire + pos, "DATA", 4) == 0) {
				data++;
				smtp_input(&sess, "354 go\r\n", 8);
			}
			more = 1;
		}
		if (sess.state == SMTP_ST_DOT && sess.outlen == 0) {
			smtp_input(&sess, "250 ok\r\n", 8);
			break;
		}
		if (!more && sess.outlen == 0 && sess.state != SMTP_ST_BODY)
			break;
	}
	T_OK(ok && mail == 1 && rcpt == MSG_RCPT_MAX && data == 1,
	    "1000 recipients: every RCPT sent once, in order");
	T_OK(smtp_finished(&sess) == &env && sess.result == SMTP_MSG_SENT,
	    "1000 recipients: message sent");
	for (i = 0, k = 0; i < MSG_RCPT_MAX; i++)
		if (env.rcpt[i].status != ((i + 1) % 3 ? RCPT_DONE :
		    RCPT_PENDING))
			k++;
	T_EQ_INT(k, 0, "1000 recipients: 452 ones stay pending");
}

/* Over-long reply lines and replies of too many lines. */
static void
t_bounds(void)
{
	static char line[REPLY_LINE_MAX + 8];
	struct err e = { 0, "" };
	int i;

	memset(&acct, 0, sizeof acct);
	smtp_init(&sess, NULL, &acct, &e);
	smtp_start(&sess);
	memset(line, 'x', sizeof line);
	memcpy(line, "220 ", 4);
	memcpy(line + REPLY_LINE_MAX, "\r\n", 2);
	smtp_input(&sess, line, REPLY_LINE_MAX + 2);
	T_OK(!sess.done && sess.state == SMTP_ST_EHLO,
	    "reply line of exactly REPLY_LINE_MAX bytes is fine");
	smtp_consume(&sess, sess.outlen);
	memcpy(line, "250 ", 4);
	line[REPLY_LINE_MAX] = 'x';
	memcpy(line + REPLY_LINE_MAX + 1, "\r\n", 2);
	smtp_input(&sess, line, REPLY_LINE_MAX + 3);
	T_OK(sess.done && sess.fail == SMTP_FAIL_CONNECT &&
	    strstr(sess.err.msg, "1024") != NULL,
	    "reply line over REPLY_LINE_MAX: protocol error");

	smtp_init(&sess, NULL, &acct, &e);
	smtp_start(&sess);
	for (i = 0; i < SMTP_REPLY_LINES + 1 && !sess.done; i++)
		smtp_input(&sess, "220-more\r\n", 10);
	T_OK(sess.done && sess.fail == SMTP_FAIL_CONNECT,
	    "reply of too many lines: protocol error");
}

/* smtp_send outside IDLE is refused. */
static void
t_misuse(void)
{
	struct err e = { 0, "" };
	struct memsrc src = { "x", 1, 0, 0 };

	memset(&acct, 0, sizeof acct);
	smtp_init(&sess, NULL, &acct, &e);
	smtp_start(&sess);
	memset(&env, 0, sizeof env);
	msg_add_rcpt(&env, "a@b.example", 11, &e);
	T_OK(smtp_send(&sess, &env, memsrc_read, &src) < 0 &&
	    sess.outlen == 0, "smtp_send before the greeting is refused");
}

int
main(void)
{
	t_encoder_table();
	t_encoder_sweep();
	t_reply_parse();
	t_helo_name();
	t_dialogs();
	t_secret_marks();
	t_big_body();
	t_body_errors();
	t_many_rcpts();
	t_bounds();
	t_misuse();
	T_DONE();
}
