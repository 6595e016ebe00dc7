/*
 * t_msg.c — the sendmail command line, address checks, RFC 5322 address
 * lists, and the streaming pass over a message: exact spooled bytes and
 * added headers, fed whole and in 1- and 7-byte pieces.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"
#include "t.h"

static struct envelope env;
static struct msg m;

/* ---- msg_args ---- */

#define BAD(ex)	ex, 0, 0, "", "", "", 0

static void
t_args(void)
{
	static const struct {
		const char *argv[8];
		int ex, t, from_set;
		const char *from, *name, *account;
		int nrcpt;
	} v[] = {
		{ { "a@b.example" }, 0, 0, 0, "", "", "", 1 },
		{ { "-t" }, 0, 1, 0, "", "", "", 0 },
		{ { "-t", "-i" }, 0, 1, 0, "", "", "", 0 },
		{ { "-ti" }, 0, 1, 0, "", "", "", 0 },
		{ { "-it" }, 0, 1, 0, "", "", "", 0 },
		{ { "-oi", "-t" }, 0, 1, 0, "", "", "", 0 },
		{ { "-i", "a@b.example", "c@d.example" }, 0, 0, 0, "", "", "",
		    2 },
		{ { "-f", "x@y.example", "a@b.example" }, 0, 0, 1,
		    "x@y.example", "", "", 1 },
		{ { "-fx@y.example", "a@b.example" }, 0, 0, 1, "x@y.example",
		    "", "", 1 },
		{ { "-f", "<x@y.example>", "a@b.example" }, 0, 0, 1,
		    "x@y.example", "", "", 1 },
		{ { "-f", "<>", "a@b.example" }, 0, 0, 1, "", "", "", 1 },
		{ { "-f", "", "a@b.example" }, 0, 0, 1, "", "", "", 1 },
		{ { "-F", "Jo Doe", "a@b.example" }, 0, 0, 0, "", "Jo Doe", "",
		    1 },
		{ { "-FJo", "a@b.example" }, 0, 0, 0, "", "Jo", "", 1 },
		{ { "-a", "work", "a@b.example" }, 0, 0, 0, "", "", "work", 1 },
		{ { "-awork", "-t" }, 0, 1, 0, "", "", "work", 0 },
		{ { "-tawork" }, 0, 1, 0, "", "", "work", 0 },
		{ { "-oem", "-odb", "-B8BITMIME", "a@b.example" }, 0, 0, 0, "",
		    "", "", 1 },
		{ { "-B", "8BITMIME", "-o", "x", "a@b.example" }, 0, 0, 0, "",
		    "", "", 1 },
		{ { "--", "-x@b.example" }, 0, 0, 0, "", "", "", 1 },
		{ { "-t", "--" }, 0, 1, 0, "", "", "", 0 },
		{ { "a@b.example", "-t" }, 0, 0, 0, "", "", "", 2 },
		{ { "-x", "a@b.example" }, BAD(EX_USAGE) },
		{ { "-v", "a@b.example" }, BAD(EX_USAGE) },
		{ { "-bs" }, BAD(EX_USAGE) },
		{ { "-", "a@b.example" }, BAD(EX_USAGE) },
		{ { "-tx" }, BAD(EX_USAGE) },
		{ { "-f" }, BAD(EX_USAGE) },
		{ { "-t", "-a" }, BAD(EX_USAGE) },
		{ { NULL }, BAD(EX_USAGE) },
		{ { "-i" }, BAD(EX_USAGE) },
		{ { "--" }, BAD(EX_USAGE) },
		{ { "-f", "a b@c.example", "x@y.example" },
		    BAD(EX_DATAERR) },
		{ { "-f", "a@b\r\nRCPT TO:<x@y>", "x@y.example" },
		    BAD(EX_DATAERR) },
		{ { "-f", "no-domain", "x@y.example" }, BAD(EX_DATAERR) },
		{ { "-F", "a\nBcc: x@y", "x@y.example" }, BAD(EX_DATAERR) },
		{ { "-F", "bad \xff utf8", "x@y.example" },
		    BAD(EX_DATAERR) },
		{ { "-a", "an-account-name-longer-than-32-bytes", "x@y" },
		    BAD(EX_USAGE) },
	};
	struct msg_opts o;
	struct err e;
	char *argv[10], name[160];
	size_t i;
	int argc, ok, r;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		argv[0] = "sendmail";
		for (argc = 1; v[i].argv[argc - 1] != NULL; argc++)
			argv[argc] = (char *)v[i].argv[argc - 1];
		argv[argc] = NULL;
		err_clear(&e);
		r = msg_args(&o, argc, argv, &e);
		if (v[i].ex != 0)
			ok = r < 0 && e.ex == v[i].ex;
		else
			ok = r == 0 && o.t == v[i].t &&
			    o.from_set == v[i].from_set &&
			    strcmp(o.from, v[i].from) == 0 &&
			    strcmp(o.name, v[i].name) == 0 &&
			    strcmp(o.account, v[i].account) == 0 &&
			    o.nrcpt == v[i].nrcpt;
		snprintf(name, sizeof name, "args #%zu (%.20s %.20s): %.80s", i,
		    v[i].argv[0] ? v[i].argv[0] : "", v[i].argv[0] &&
		    v[i].argv[1] ? v[i].argv[1] : "", r < 0 ? e.msg : "ok");
		T_OK(ok, name);
	}
}

/* ---- addresses ---- */

static void
t_addr_check(void)
{
	static char l65[80], l64[80], a254[300], a255[300];
	static const struct {
		const char *a;
		size_t n;		/* 0 = strlen */
		int ok, utf8;
	} v[] = {
		{ "a@b.example", 0, 1, 0 },
		{ "first.last+tag@sub.b.example", 0, 1, 0 },
		{ "\"quoted\"@b.example", 0, 1, 0 },
		{ "a@[192.0.2.1]", 0, 1, 0 },
		{ "postmaster", 0, 1, 0 },
		{ "PostMaster", 0, 1, 0 },
		{ "j\xc3\xb6rg@b\xc3\xa4r.example", 0, 1, 1 },
		{ "root", 0, 0, 0 },
		{ "@b.example", 0, 0, 0 },
		{ "a@", 0, 0, 0 },
		{ "", 0, 0, 0 },
		{ "a b@c.example", 0, 0, 0 },
		{ "a\t@c.example", 0, 0, 0 },
		{ "a<b@c.example", 0, 0, 0 },
		{ "a>b@c.example", 0, 0, 0 },
		{ "a@c.example\r", 0, 0, 0 },
		{ "a@c.example\n", 0, 0, 0 },
		{ "a\x7f@c.example", 0, 0, 0 },
		{ "a@c.example\0x", 13, 0, 0 },
		{ "a@b@c.example", 0, 0, 0 },
		{ "\xff@c.example", 0, 0, 0 },
		{ "\xc3@c.example", 0, 0, 0 },
		{ "\xc0\x80@c.example", 0, 0, 0 },
		{ "\xed\xa0\x80@c.example", 0, 0, 0 },
	};
	struct err e;
	char name[96];
	size_t i;
	int utf8, r;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		utf8 = 0;
		err_clear(&e);
		r = msg_addr_check(v[i].a, v[i].n ? v[i].n : strlen(v[i].a),
		    &utf8, &e);
		snprintf(name, sizeof name, "address check #%zu", i);
		T_OK(v[i].ok ? r == 0 && utf8 == v[i].utf8 :
		    r < 0 && e.ex == EX_DATAERR, name);
	}
	/* RFC 5321 lengths: local part 64, path 256 (address 254). */
	memset(l64, 'l', 64);
	strcpy(l64 + 64, "@b.example");
	memset(l65, 'l', 65);
	strcpy(l65 + 65, "@b.example");
	memset(a254, 'd', 254);
	a254[0] = 'a';
	a254[1] = '@';
	memset(a255, 'd', 255);
	a255[0] = 'a';
	a255[1] = '@';
	utf8 = 0;
	err_clear(&e);
	T_OK(msg_addr_check(l64, strlen(l64), &utf8, &e) == 0,
	    "local part of 64 bytes");
	T_OK(msg_addr_check(l65, strlen(l65), &utf8, &e) < 0 &&
	    e.ex == EX_DATAERR, "local part of 65 bytes refused");
	err_clear(&e);
	T_OK(msg_addr_check(a254, 254, &utf8, &e) == 0, "address of 254");
	T_OK(msg_addr_check(a255, 255, &utf8, &e) < 0 && e.ex == EX_DATAERR,
	    "address of 255 refused (path over 256)");
}

static const char *
rcpts(char *buf, size_t cap)
{
	size_t o = 0;
	int i;

	buf[0] = '\0';
	for (i = 0; i < env.nrcpt && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? "," : "",
		    msg_rcpt(&env, i));
	return buf;
}

static void
t_addr_list(void)
{
	static const struct {
		const char *in, *want;	/* want NULL: EX_DATAERR */
	} v[] = {
		{ "a@b.example", "a@b.example" },
		{ "A <a@b.example>, c@d.example", "a@b.example,c@d.example" },
		{ "\"Doe, John\" <j@d.example>, x@y.example",
		    "j@d.example,x@y.example" },
		{ "grp: a@b.example, c@d.example;, e@f.example",
		    "a@b.example,c@d.example,e@f.example" },
		{ "undisclosed-recipients:;", "" },
		{ "a@b.example (Comment, with comma), c@d.example",
		    "a@b.example,c@d.example" },
		{ "(c) a@b.example", "a@b.example" },
		{ "x <a@b.example> (y), <c@d.example>",
		    "a@b.example,c@d.example" },
		{ "<@r1.example,@r2.example:a@b.example>", "a@b.example" },
		{ "a@[192.0.2.1]", "a@[192.0.2.1]" },
		{ "Jo (nested (comment) here) <j@d.example>", "j@d.example" },
		{ "\"q\\\"x\" <a@b.example>", "a@b.example" },
		{ ",, a@b.example ,,", "a@b.example" },
		{ "a@b.example, a@b.example", "a@b.example" },
		{ "a(x)@b.example", "a@b.example" },
		{ "=?UTF-8?B?SsO2cmc=?= <j@d.example>", "j@d.example" },
		{ "\"a\"@b.example", "\"a\"@b.example" },
		{ "  ", "" },
		{ "John Smith", NULL },
		{ "John Smith <a@b.example", NULL },
		{ "a@b.example>", NULL },
		{ "\"unterminated <a@b.example>", NULL },
		{ "a@b.example (unterminated", NULL },
		{ "<a b@c.example>", NULL },
		{ "root", NULL },
		{ "<a@b.example; c@d.example>", NULL },
	};
	struct addrlist al;
	struct err e;
	char got[512], name[96];
	size_t i;
	int r;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		memset(&env, 0, sizeof env);
		msg_al_init(&al);
		err_clear(&e);
		r = msg_al_feed(&al, &env, v[i].in, strlen(v[i].in), &e);
		if (r == 0)
			r = msg_al_end(&al, &env, &e);
		snprintf(name, sizeof name, "address list #%zu", i);
		if (v[i].want == NULL)
			T_OK(r < 0 && e.ex == EX_DATAERR, name);
		else
			T_OK(r == 0 && strcmp(rcpts(got, sizeof got),
			    v[i].want) == 0, name);
	}
}

static void
t_rcpt_limits(void)
{
	struct err e;
	char a[64];
	int i, r = 0;

	memset(&env, 0, sizeof env);
	err_clear(&e);
	for (i = 0; i < MSG_RCPT_MAX && r == 0; i++) {
		snprintf(a, sizeof a, "u%d@b.example", i);
		r = msg_add_rcpt(&env, a, strlen(a), &e);
	}
	T_OK(r == 0 && env.nrcpt == MSG_RCPT_MAX, "1000 recipients fit");
	T_OK(msg_add_rcpt(&env, "one@more.example", 16, &e) < 0 &&
	    e.ex == EX_DATAERR && strstr(e.msg, "1000") != NULL,
	    "recipient 1001 refused");
	err_clear(&e);
	T_OK(msg_add_rcpt(&env, "u5@b.example", 12, &e) == 0 &&
	    env.nrcpt == MSG_RCPT_MAX,
	    "a duplicate is dropped, even when full");
}

/* ---- the streaming pass ---- */

static char spool[1 << 16];
static size_t spoollen;
static long fail_after = -1;	/* sink fails once this much is spooled */

static int
sink(void *ctx, const char *buf, size_t n, struct err *e)
{
	(void)ctx;
	if (fail_after >= 0 && spoollen + n > (size_t)fail_after)
		return err_set(e, EX_CANTCREAT, "spool: write: No space left "
		    "on device");
	if (spoollen + n <= sizeof spool)
		memcpy(spool + spoollen, buf, n);
	spoollen += n;
	return 0;
}

#define FAILS(ex)	ex, NULL, NULL, NULL, NULL, 0
#define NOW	1795137600LL
#define ID	"1795137600.42.0.deadbeef"
#define DATE	"Date: Fri, 20 Nov 2026 01:20:00 +0000\n"
#define MID	"Message-ID: <" ID "@example.com>\n"
#define FROM	"From: me@example.com\n"

struct mcase {
	const char *name;
	const char *argv[4];
	const char *in;
	size_t inlen;		/* 0 = strlen */
	const char *acct_from;	/* NULL = me@example.com */
	int ex;
	const char *spool, *head, *rcpts, *from;
	int flags;
};

static const struct mcase cases[] = {
	{ "-t: Bcc removed with its continuation", { "-t" },
	    "From: Me <me@example.com>\nTo: A <a@b.example>, c@d.example\n"
	    "Bcc: secret@e.example,\n  other@f.example\nSubject: hi\n"
	    "Date: Fri, 20 Nov 2026 01:00:00 +0000\n"
	    "Message-ID: <x@example.com>\n\nbody\nBcc: not-a-header@x\n", 0,
	    NULL, 0,
	    "From: Me <me@example.com>\nTo: A <a@b.example>, c@d.example\n"
	    "Subject: hi\nDate: Fri, 20 Nov 2026 01:00:00 +0000\n"
	    "Message-ID: <x@example.com>\n\nbody\nBcc: not-a-header@x\n", "",
	    "a@b.example,c@d.example,secret@e.example,other@f.example",
	    "me@example.com", 0 },
	{ "-t, CRLF", { "-t" },
	    "To: a@b.example\r\nBcc: s@e.example,\r\n\to@f.example\r\n"
	    "Subject: hi\r\n\r\nbody\r\n", 0, NULL, 0,
	    "To: a@b.example\r\nSubject: hi\r\n\r\nbody\r\n",
	    "Date: Fri, 20 Nov 2026 01:20:00 +0000\r\n"
	    "Message-ID: <" ID "@example.com>\r\nFrom: me@example.com\r\n",
	    "a@b.example,s@e.example,o@f.example", "me@example.com", 0 },
	{ "Date, Message-ID, From added", { "a@b.example" },
	    "Subject: hi\n\nbody\n", 0, NULL, 0, "Subject: hi\n\nbody\n",
	    DATE MID FROM, "a@b.example", "me@example.com", 0 },
	{ "present headers are kept, none added", { "a@b.example" },
	    "from: x@y.example\nDATE: whenever\nmessage-id: <1@y>\n\nb\n", 0,
	    NULL, 0, "from: x@y.example\nDATE: whenever\nmessage-id: <1@y>\n"
	    "\nb\n", "", "a@b.example", "me@example.com", 0 },
	{ "-F plain name", { "-F", "Jo Doe", "a@b.example" },
	    "Subject: s\n\nb\n", 0, NULL, 0, "Subject: s\n\nb\n",
	    DATE MID "From: Jo Doe <me@example.com>\n", "a@b.example",
	    "me@example.com", 0 },
	{ "-F name with a comma is quoted", { "-F", "Doe, \"Jo\"",
	    "a@b.example" }, "Subject: s\n\nb\n", 0, NULL, 0,
	    "Subject: s\n\nb\n",
	    DATE MID "From: \"Doe, \\\"Jo\\\"\" <me@example.com>\n",
	    "a@b.example", "me@example.com", 0 },
	{ "-F non-ASCII name is encoded", { "-F", "J\xc3\xb6rg M\xc3\xbcller",
	    "a@b.example" }, "Subject: s\n\nb\n", 0, NULL, 0,
	    "Subject: s\n\nb\n", DATE MID
	    "From: =?UTF-8?B?SsO2cmcgTcO8bGxlcg==?= <me@example.com>\n",
	    "a@b.example", "me@example.com", 0 },
	{ "-f sets the envelope and the added From", { "-f",
	    "other@x.example", "a@b.example" }, "Subject: s\n\nb\n", 0, NULL,
	    0, "Subject: s\n\nb\n", DATE "Message-ID: <" ID "@x.example>\n"
	    "From: other@x.example\n", "a@b.example", "other@x.example", 0 },
	{ "-f <>: null sender, From from the account", { "-f", "<>",
	    "a@b.example" }, "Subject: s\n\nb\n", 0, NULL, 0,
	    "Subject: s\n\nb\n", DATE MID FROM, "a@b.example", "", 0 },
	{ "no header block", { "a@b.example" }, "hello world\n", 0, NULL, 0,
	    "\nhello world\n", DATE MID FROM, "a@b.example", "me@example.com",
	    0 },
	{ "empty message", { "a@b.example" }, "", 0, NULL, 0, "",
	    DATE MID FROM, "a@b.example", "me@example.com", 0 },
	{ "a non-header line ends the header block", { "a@b.example" },
	    "Subject: x\nhello\n", 0, NULL, 0, "Subject: x\n\nhello\n",
	    DATE MID FROM, "a@b.example", "me@example.com", 0 },
	{ "CRLF: the inserted blank line is CRLF", { "a@b.example" },
	    "Subject: x\r\nhello\r\n", 0, NULL, 0,
	    "Subject: x\r\n\r\nhello\r\n",
	    "Date: Fri, 20 Nov 2026 01:20:00 +0000\r\n"
	    "Message-ID: <" ID "@example.com>\r\nFrom: me@example.com\r\n",
	    "a@b.example", "me@example.com", 0 },
	{ "mbox From_ line is body", { "a@b.example" },
	    "From me@example.com Fri Nov 20\nSubject: x\n\nb\n", 0, NULL, 0,
	    "\nFrom me@example.com Fri Nov 20\nSubject: x\n\nb\n",
	    DATE MID FROM, "a@b.example", "me@example.com", 0 },
	{ "names are case-insensitive, space before colon", { "-t" },
	    "TO : a@b.example\nbcc:x@y.example\nCC:c@d.example\n"
	    "from: me@example.com\nDATE: x\nmessage-id: <a@b>\n\nb", 0, NULL,
	    0, "TO : a@b.example\nCC:c@d.example\nfrom: me@example.com\n"
	    "DATE: x\nmessage-id: <a@b>\n\nb", "",
	    "a@b.example,x@y.example,c@d.example", "me@example.com", 0 },
	{ "Bcc removed without -t, not a recipient", { "a@b.example" },
	    "Bcc: x@y.example\nSubject: s\n\nb\n", 0, NULL, 0,
	    "Subject: s\n\nb\n", DATE MID FROM, "a@b.example",
	    "me@example.com", 0 },
	{ "Bcc last, folded with a tab", { "-t" },
	    "To: a@b.example\nBcc: x@y.example,\n\tz@w.example\n\nbody\n", 0,
	    NULL, 0, "To: a@b.example\n\nbody\n", DATE MID FROM,
	    "a@b.example,x@y.example,z@w.example", "me@example.com", 0 },
	{ "empty Bcc", { "-t" }, "Bcc:\nTo: a@b.example\n\nb", 0, NULL, 0,
	    "To: a@b.example\n\nb", DATE MID FROM, "a@b.example",
	    "me@example.com", 0 },
	{ "folded To with a quoted comma", { "-t" },
	    "To: \"Doe,\n John\" <j@d.example>,\n (comment) k@e.example\n\nb",
	    0, NULL, 0,
	    "To: \"Doe,\n John\" <j@d.example>,\n (comment) k@e.example\n\nb",
	    DATE MID FROM, "j@d.example,k@e.example", "me@example.com", 0 },
	{ "-t and arguments", { "-t", "z@z.example" },
	    "To: a@b.example\n\n", 0, NULL, 0, "To: a@b.example\n\n",
	    DATE MID FROM, "z@z.example,a@b.example", "me@example.com", 0 },
	{ "-t groups", { "-t" },
	    "To: team: a@b.example, c@d.example;, e@f.example\n"
	    "Cc: undisclosed-recipients:;\n\n", 0, NULL, 0,
	    "To: team: a@b.example, c@d.example;, e@f.example\n"
	    "Cc: undisclosed-recipients:;\n\n", DATE MID FROM,
	    "a@b.example,c@d.example,e@f.example", "me@example.com", 0 },
	{ "-t duplicates once", { "-t" },
	    "To: a@b.example\nCc: A <a@b.example>\n\n", 0, NULL, 0,
	    "To: a@b.example\nCc: A <a@b.example>\n\n", DATE MID FROM,
	    "a@b.example", "me@example.com", 0 },
	{ "8-bit body", { "a@b.example" }, "Subject: x\n\ncaf\xc3\xa9\n", 0,
	    NULL, 0, "Subject: x\n\ncaf\xc3\xa9\n", DATE MID FROM,
	    "a@b.example", "me@example.com", ENV_8BIT },
	{ "8-bit only in a dropped Bcc", { "a@b.example" },
	    "Bcc: j\xc3\xb6rg@x.example\nTo: a@b.example\n\nb", 0, NULL, 0,
	    "To: a@b.example\n\nb", DATE MID FROM, "a@b.example",
	    "me@example.com", 0 },
	{ "-t non-ASCII recipient", { "-t" },
	    "To: j\xc3\xb6rg@x.example\n\nb", 0, NULL, 0,
	    "To: j\xc3\xb6rg@x.example\n\nb", DATE MID FROM,
	    "j\xc3\xb6rg@x.example", "me@example.com", ENV_8BIT | ENV_UTF8 },
	{ "NUL in the body passes", { "a@b.example" }, "S: x\n\na\0b\n", 9,
	    NULL, 0, "S: x\n\na\0b\n", DATE MID FROM, "a@b.example",
	    "me@example.com", 0 },
	{ "a field name over MSG_FIELD_MAX passes", { "a@b.example" },
	    "X-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaa: v\nDate: d\n\nb\n", 0, NULL, 0,
	    "X-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaa: v\nDate: d\n\nb\n", MID FROM,
	    "a@b.example", "me@example.com", 0 },
	{ "a name without colon at the end of input", { "a@b.example" },
	    "Subject", 0, NULL, 0, "\nSubject", DATE MID FROM, "a@b.example",
	    "me@example.com", 0 },
	{ "leading white space is not a header", { "a@b.example" },
	    " leading\nSubject: x\n\n", 0, NULL, 0,
	    "\n leading\nSubject: x\n\n", DATE MID FROM, "a@b.example",
	    "me@example.com", 0 },
	{ "a lone CR at the start of a line", { "a@b.example" },
	    "Subject: x\r\n\rX\n", 0, NULL, 0, "Subject: x\r\n\r\n\rX\n",
	    "Date: Fri, 20 Nov 2026 01:20:00 +0000\r\n"
	    "Message-ID: <" ID "@example.com>\r\nFrom: me@example.com\r\n",
	    "a@b.example", "me@example.com", 0 },
	{ "a list in one argument", { "a@b.example, Name <c@d.example>" },
	    "S: x\n\n", 0, NULL, 0, "S: x\n\n", DATE MID FROM,
	    "a@b.example,c@d.example", "me@example.com", 0 },
	{ "-t: no recipients", { "-t" }, "Subject: x\n\n", 0, NULL,
	    FAILS(EX_DATAERR) },
	{ "-t: a bare name", { "-t" }, "To: John Smith\n\n", 0, NULL,
	    FAILS(EX_DATAERR) },
	{ "-t: two @", { "-t" }, "To: <a@b@c.example>\n\n", 0, NULL,
	    FAILS(EX_DATAERR) },
	{ "-t: CR inside an address", { "-t" }, "To: <a\r@b.example>\n\n",
	    0, NULL, FAILS(EX_DATAERR) },
	{ "-t: over-long address", { "-t" }, "To: <"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@"
	    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd."
	    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd."
	    "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd."
	    "example>\n\n", 0, NULL, FAILS(EX_DATAERR) },
	{ "bad argument recipient", { "root" }, "S: x\n\n", 0, NULL,
	    FAILS(EX_DATAERR) },
	{ "no sender configured", { "a@b.example" }, "S: x\n\n", 0, "",
	    FAILS(EX_CONFIG) },
	{ "bad account address", { "a@b.example" }, "S: x\n\n", 0,
	    "not an address", FAILS(EX_DATAERR) },
};

/* Run one case fed in `chunk`-byte pieces; NULL or what went wrong. */
static const char *
run(const struct mcase *c, size_t chunk, char *why, size_t cap)
{
	struct msg_opts o;
	struct err e;
	char *argv[6], got[1024];
	size_t n, off, k;
	int argc, r;

	argv[0] = "sendmail";
	for (argc = 1; argc < 5 && c->argv[argc - 1] != NULL; argc++)
		argv[argc] = (char *)c->argv[argc - 1];
	argv[argc] = NULL;
	err_clear(&e);
	spoollen = 0;
	r = msg_args(&o, argc, argv, &e);
	if (r == 0)
		r = msg_begin(&m, &o, &env, "work", c->acct_from ?
		    c->acct_from : "me@example.com", sink, NULL, &e);
	n = c->inlen ? c->inlen : strlen(c->in);
	for (off = 0; r == 0 && off < n; off += k) {
		k = n - off < chunk ? n - off : chunk;
		r = msg_feed(&m, c->in + off, k, &e);
	}
	if (r == 0)
		r = msg_finish(&m, NOW, ID, &e);
	if (c->ex != 0) {
		if (r == 0 || e.ex != c->ex) {
			snprintf(why, cap, "want error %d, got %d (%s)", c->ex,
			    e.ex, e.msg);
			return why;
		}
		return NULL;
	}
	if (r != 0) {
		snprintf(why, cap, "error %d: %s", e.ex, e.msg);
		return why;
	}
	if (spoollen != strlen(c->spool) + (c->inlen ? c->inlen -
	    strlen(c->in) : 0) || memcmp(spool, c->spool, spoollen) != 0) {
		snprintf(why, cap, "spooled \"%.*s\"", (int)(spoollen < 1000 ?
		    spoollen : 1000), spool);
		return why;
	}
	if (strcmp(env.head, c->head) != 0 || env.headlen != strlen(c->head)) {
		snprintf(why, cap, "head \"%.1000s\"", env.head);
		return why;
	}
	if (strcmp(rcpts(got, sizeof got), c->rcpts) != 0) {
		snprintf(why, cap, "recipients \"%s\"", got);
		return why;
	}
	if (strcmp(env.from, c->from) != 0 || env.flags != c->flags ||
	    env.size != (long long)(env.headlen + spoollen) ||
	    env.created != NOW || strcmp(env.account, "work") != 0) {
		snprintf(why, cap, "from \"%s\" flags %d size %lld", env.from,
		    env.flags, env.size);
		return why;
	}
	return NULL;
}

static void
t_stream(void)
{
	static const size_t chunks[] = { 1 << 20, 1, 7 };
	char name[160], why[2048];
	const char *r;
	size_t i, c;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		for (c = 0; c < 3; c++) {
			r = run(&cases[i], chunks[c], why, sizeof why);
			snprintf(name, sizeof name, "message \"%s\" in %s",
			    cases[i].name, c == 0 ? "one read" : c == 1 ?
			    "1-byte reads" : "7-byte reads");
			if (r != NULL) {
				printf("FAIL %s: %s\n", name, r);
				t_failed++;
			} else
				printf("PASS %s\n", name);
		}
}

static void
t_date(void)
{
	static const struct {
		long long t;
		const char *want;
	} v[] = {
		{ 0, "Thu, 01 Jan 1970 00:00:00 +0000" },
		{ 951782400, "Tue, 29 Feb 2000 00:00:00 +0000" },
		{ NOW, "Fri, 20 Nov 2026 01:20:00 +0000" },
	};
	char buf[40];
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		msg_date(v[i].t, buf, sizeof buf);
		T_EQ_STR(buf, v[i].want, "RFC 5322 date");
	}
}

/* A large message from an fd: streamed through a fixed buffer; a sink
 * error stops it with the sink's code. */
static void
t_read_fd(void)
{
	char tmpl[] = "/tmp/t_msg.XXXXXX", path[64], line[100];
	struct msg_opts o;
	struct err e;
	char *argv[] = { "sendmail", "a@b.example", NULL };
	long long total = 0;
	int fd, i, r;

	T_OK(mkdtemp(tmpl) != NULL, "temp dir");
	snprintf(path, sizeof path, "%s/in", tmpl);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	memcpy(line, "Subject: big\n\n", 14);
	T_OK(write(fd, line, 14) == 14, "write header");
	total = 14;
	memset(line, 'x', sizeof line);
	line[99] = '\n';
	for (i = 0; i < 30000; i++)
		if (write(fd, line, 100) == 100)
			total += 100;
	close(fd);

	err_clear(&e);
	msg_args(&o, 2, argv, &e);
	spoollen = 0;
	fd = open(path, O_RDONLY);
	r = msg_begin(&m, &o, &env, "work", "me@example.com", sink, NULL, &e);
	if (r == 0)
		r = msg_read(&m, fd, &e);
	if (r == 0)
		r = msg_finish(&m, NOW, ID, &e);
	close(fd);
	T_OK(r == 0 && (long long)spoollen == total &&
	    env.size == total + (long long)env.headlen,
	    "3 MB message read from an fd");

	fail_after = 100000;
	spoollen = 0;
	err_clear(&e);
	fd = open(path, O_RDONLY);
	r = msg_begin(&m, &o, &env, "work", "me@example.com", sink, NULL, &e);
	if (r == 0)
		r = msg_read(&m, fd, &e);
	close(fd);
	fail_after = -1;
	T_OK(r < 0 && e.ex == EX_CANTCREAT, "sink error stops the read");
	unlink(path);
	rmdir(tmpl);

	err_clear(&e);
	T_OK(msg_read(&m, -1, &e) < 0 && e.ex == EX_IOERR,
	    "read error is EX_IOERR");
}

int
main(void)
{
	t_args();
	t_addr_check();
	t_addr_list();
	t_rcpt_limits();
	t_stream();
	t_date();
	t_read_fd();
	T_DONE();
}
