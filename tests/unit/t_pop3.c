/*
 * t_pop3.c — scripted POP3 dialogs against the state machine, without
 * sockets: the server's bytes go in through pop3_input (whole, one byte
 * at a time, and in 7-byte chunks), the exact bytes the client queues are
 * compared after every step, then the outcome, the Maildir and the UIDL
 * ledger are checked.  Every DELE the client sends is checked against the
 * ledger on disk: its message must already be recorded as delivered.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "pop3.h"
#include "sasl.h"
#include "t.h"

#define NOW	1700000000LL
#define DAY	86400LL

enum { A_END, A_FEED, A_TLS, A_EOF, A_TICK, A_CALL };

struct step {
	int act;
	const char *s;		/* server bytes (A_FEED) */
	const char *c;		/* exact client bytes queued after it */
	long long arg;		/* A_TICK: monotonic ms */
	void (*fn)(const char *);	/* A_CALL: a check in between */
};

#define SV(s, c)	{ A_FEED, s, c, 0, NULL }
#define TLSREADY(c)	{ A_TLS, NULL, c, 0, NULL }
#define EOFS(c)		{ A_EOF, NULL, c, 0, NULL }
#define TICK(ms, c)	{ A_TICK, NULL, c, ms, NULL }
#define CALL(f)		{ A_CALL, NULL, "", 0, f }
#define END		{ A_END, NULL, NULL, 0, NULL }

struct dialog {
	const char *name;
	void (*cfg)(struct account *);
	void (*pre)(void);		/* before the ledger is loaded */
	const struct step *steps;
	int fail;			/* expected p.fail, -1: not over */
	int ex;				/* expected err.ex */
	const char *msg;		/* expected err.msg, NULL = any */
	void (*post)(const char *name);
};

static struct {
	char dir[64];
	char md[128];
	struct conf c;
	struct account *a;
	struct uidl_db db;
	struct pop3 p;
	int mode;			/* 0 whole, 1 bytes, 2 chunks of 7 */
	char sent[1 << 20];		/* client bytes since the last step */
	size_t sentlen;
	char trace[1 << 20];		/* all client bytes, redacted */
	size_t tracelen;
	int bad_dele;			/* DELE before the ledger said so */
	int nodb;			/* pop3_init without a ledger */
} F;

/* ---- fixture ---- */

static int
rm1(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rmtree(const char *dir)
{
	nftw(dir, rm1, 16, FTW_DEPTH | FTW_PHYS);
}

static void
ledger_put(const char *uidl, long long first_seen, int flags)
{
	struct uidl_db db;
	struct err e = { 0, "" };

	if (uidl_load(&db, F.dir, "acct", &e) < 0 ||
	    uidl_put(&db, uidl, first_seen, flags, &e) < 0 ||
	    uidl_commit(&db, &e) < 0)
		printf("FAIL ledger_put %s: %s\n", uidl, e.msg);
	uidl_free(&db);
}

/* Flags of uidl in the ledger on disk, -1 when absent. */
static int
ledger_flags(const char *uidl)
{
	struct uidl_db db;
	struct uidl_rec *r;
	struct err e = { 0, "" };
	int f = -1;

	if (uidl_load(&db, F.dir, "acct", &e) < 0)
		return -2;
	if ((r = uidl_find(&db, uidl)) != NULL)
		f = r->flags;
	uidl_free(&db);
	return f;
}

static int
fx_open(const struct dialog *d, int mode)
{
	struct err e = { 0, "" };
	struct account *a;

	memset(&F.c, 0, sizeof F.c);
	snprintf(F.dir, sizeof F.dir, "/tmp/t_pop3.XXXXXX");
	if (mkdtemp(F.dir) == NULL)
		return -1;
	snprintf(F.md, sizeof F.md, "%s/Maildir", F.dir);
	F.c.main.timeout = 10;
	snprintf(F.c.main.state_dir, sizeof F.c.main.state_dir, "%s", F.dir);
	F.c.nacct = 1;
	a = F.a = &F.c.acct[0];
	snprintf(a->name, sizeof a->name, "acct");
	a->enabled = 1;
	snprintf(a->pop3.host, sizeof a->pop3.host, "pop.example");
	a->pop3.port = 995;
	a->pop3.tls = TLS_IMPLICIT;
	snprintf(a->pop3.user, sizeof a->pop3.user, "me");
	snprintf(a->pop3.password, sizeof a->pop3.password, "secret");
	a->pop3.auth = AUTH_AUTO;
	snprintf(a->maildir, sizeof a->maildir, "%s", F.md);
	if (d != NULL && d->cfg != NULL)
		d->cfg(a);
	if (d != NULL && d->pre != NULL)
		d->pre();
	if (uidl_load(&F.db, F.dir, "acct", &e) < 0 ||
	    pop3_init(&F.p, &F.c, a, F.nodb ? NULL : &F.db, &e) < 0) {
		printf("FAIL fixture: %s\n", e.msg);
		return -1;
	}
	F.p.now = NOW;
	F.mode = mode;
	F.sentlen = F.tracelen = 0;
	F.bad_dele = 0;
	pop3_start(&F.p);
	return 0;
}

static void
fx_close(void)
{
	pop3_free(&F.p);
	uidl_free(&F.db);
	rmtree(F.dir);
}

/* Every "DELE n" must name a message the ledger on disk has delivered
 * (or, without UIDLs, one that is in new/ already). */
static void
check_deles(const char *s, size_t n)
{
	const char *q = s, *end = s + n;
	unsigned int num;
	int i;

	while (q < end && (q = memmem(q, (size_t)(end - q), "DELE ", 5))) {
		num = (unsigned int)strtoul(q + 5, NULL, 10);
		q += 5;
		for (i = 0; i < F.p.nmsg; i++)
			if (F.p.msg[i].num == num)
				break;
		if (i == F.p.nmsg) {
			F.bad_dele++;
			continue;
		}
		if (F.p.msg[i].rec >= 0 && !(ledger_flags(
		    F.db.rec[F.p.msg[i].rec].uidl) & UIDL_F_DELIVERED))
			F.bad_dele++;
	}
}

/* What the transport does after each call: take out, trace it with the
 * credential redacted, clear outlen. */
static void
drain(void)
{
	struct pop3 *p = &F.p;
	size_t n = p->outlen;

	check_deles(p->out, n);
	memcpy(F.sent + F.sentlen, p->out, n);
	F.sentlen += n;
	F.sent[F.sentlen] = '\0';
	if (p->secret_len > 0 && p->secret_off + p->secret_len <= n) {
		memcpy(F.trace + F.tracelen, p->out, p->secret_off);
		F.tracelen += p->secret_off;
		memcpy(F.trace + F.tracelen, "<redacted>", 10);
		F.tracelen += 10;
		memcpy(F.trace + F.tracelen, p->out + p->secret_off +
		    p->secret_len, n - p->secret_off - p->secret_len);
		F.tracelen += n - p->secret_off - p->secret_len;
	} else {
		memcpy(F.trace + F.tracelen, p->out, n);
		F.tracelen += n;
	}
	F.trace[F.tracelen] = '\0';
	p->outlen = 0;
}

static void
feed(const char *s, size_t n)
{
	size_t off = 0, k;

	while (off < n) {
		k = F.mode == 0 ? n - off : F.mode == 1 ? 1 : 7;
		if (k > n - off)
			k = n - off;
		pop3_input(&F.p, s + off, k);
		drain();
		off += k;
	}
}

static void
expect_sent(const char *name, int i, const char *want)
{
	char nm[160], got[600];
	size_t n = strlen(want);

	snprintf(nm, sizeof nm, "%s step %d", name, i);
	if (F.sentlen == n && memcmp(F.sent, want, n) == 0)
		T_OK(1, nm);
	else {
		snprintf(got, sizeof got, "%.*s", (int)(F.sentlen < 500 ?
		    F.sentlen : 500), F.sent);
		T_EQ_STR(got, want, nm);
	}
	F.sentlen = 0;
}

static void
run_steps(const char *name, const struct step *st)
{
	int i;

	for (i = 0; st[i].act != A_END; i++) {
		switch (st[i].act) {
		case A_FEED:
			feed(st[i].s, strlen(st[i].s));
			break;
		case A_TLS:
			pop3_tls_ready(&F.p);
			drain();
			break;
		case A_EOF:
			pop3_eof(&F.p);
			drain();
			break;
		case A_TICK:
			pop3_tick(&F.p, st[i].arg);
			drain();
			break;
		case A_CALL:
			st[i].fn(name);
			break;
		}
		expect_sent(name, i, st[i].c);
	}
}

static void
run_dialog(const struct dialog *d)
{
	static const char *const modes[] = { "whole", "bytes", "chunks" };
	char name[160];
	int mode;

	for (mode = 0; mode < 3; mode++) {
		snprintf(name, sizeof name, "%s [%s]", d->name, modes[mode]);
		if (fx_open(d, mode) < 0) {
			T_OK(0, name);
			continue;
		}
		run_steps(name, d->steps);
		if (d->fail >= 0) {
			T_OK(F.p.done, name);
			T_EQ_INT(F.p.fail, d->fail, name);
		}
		if (d->fail > POP3_OK)
			T_EQ_INT(F.p.err.ex, d->ex, name);
		else
			T_EQ_STR(F.p.err.msg, "", name);
		if (d->msg != NULL)
			T_EQ_STR(F.p.err.msg, d->msg, name);
		T_EQ_INT(F.bad_dele, 0, name);
		if (d->post != NULL)
			d->post(name);
		fx_close();
	}
}

/* ---- Maildir inspection ---- */

static int
count_dir(const char *sub)
{
	char path[256];
	struct dirent *de;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", F.md, sub);
	if ((dp = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(dp);
	return n;
}

/* How many files in new/ hold exactly want[0..n). */
static int
files_with(const char *want, size_t n)
{
	static char buf[1 << 17];
	char path[512];
	struct dirent *de;
	DIR *dp;
	ssize_t r;
	int fd, count = 0;

	snprintf(path, sizeof path, "%s/new", F.md);
	if ((dp = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/new/%s", F.md, de->d_name);
		if ((fd = open(path, O_RDONLY)) < 0)
			continue;
		r = read(fd, buf, sizeof buf);
		close(fd);
		if (r == (ssize_t)n && memcmp(buf, want, n) == 0)
			count++;
	}
	closedir(dp);
	return count;
}

/* ---- dialog fragments ---- */

#define GREET	"+OK ready <1896.697170952@dbc.mtview.ca.us>\r\n"
#define CAPA_U	"+OK\r\nUSER\r\nUIDL\r\n.\r\n"
#define CAPA_P	"+OK\r\nUSER\r\nUIDL\r\nPIPELINING\r\n.\r\n"
#define MSG1	"Subject: one\r\n\r\nhello\r\n"
#define FILE1	"Subject: one\n\nhello\n"
#define MSG2	"Subject: two\r\n\r\n..dot\r\nbye\r\n"
#define FILE2	"Subject: two\n\n.dot\nbye\n"
#define RETR1	"+OK 21 octets\r\n" MSG1 ".\r\n"
#define RETR2	"+OK\r\n" MSG2 ".\r\n"
#define UIDL12	"+OK\r\n1 uid-1\r\n2 uid-2\r\n.\r\n"
#define LIST12	"+OK 2 messages\r\n1 21\r\n2 30\r\n.\r\n"

/* greeting, CAPA, USER/PASS up to the UIDL command */
#define LOGIN_U \
	SV(GREET, "CAPA\r\n"), \
	SV(CAPA_U, "USER me\r\n"), \
	SV("+OK\r\n", "PASS secret\r\n"), \
	SV("+OK logged in\r\n", "UIDL\r\n")
#define LOGIN_P \
	SV(GREET, "CAPA\r\n"), \
	SV(CAPA_P, "USER me\r\n"), \
	SV("+OK\r\n", "PASS secret\r\n"), \
	SV("+OK logged in\r\n", "UIDL\r\nLIST\r\n")

static void cfg_keep(struct account *a) { a->keep = 1; }
static void cfg_plain_tls(struct account *a) { a->pop3.tls = TLS_NONE; }
static void
cfg_plain_ok(struct account *a)
{
	a->pop3.tls = TLS_NONE;
	a->allow_plaintext_auth = 1;
}
static void cfg_stls(struct account *a) { a->pop3.tls = TLS_STARTTLS; }
static void cfg_recent(struct account *a) { a->recent = 1; }
static void cfg_cram(struct account *a)
{
	a->pop3.auth = AUTH_CRAM_MD5;
	snprintf(a->pop3.user, sizeof a->pop3.user, "tim");
	snprintf(a->pop3.password, sizeof a->pop3.password,
	    "tanstaaftanstaaf");
}
static void cfg_apop(struct account *a)
{
	a->pop3.auth = AUTH_APOP;
	snprintf(a->pop3.user, sizeof a->pop3.user, "mrose");
	snprintf(a->pop3.password, sizeof a->pop3.password, "tanstaaf");
}
static void cfg_apop_auto(struct account *a)
{
	cfg_apop(a);
	a->pop3.auth = AUTH_AUTO;
}
static void cfg_named_plain(struct account *a) { a->pop3.auth = AUTH_PLAIN; }
static void cfg_oauth(struct account *a)
{
	snprintf(a->pop3.oauth_token_file, sizeof a->pop3.oauth_token_file,
	    "%s/token", F.dir);
}
static void cfg_max1(struct account *a) { a->keep = 1; a->max_messages = 1; }
static void cfg_maxsize(struct account *a) { a->keep = 1; a->max_size = 25; }
static void cfg_days(struct account *a)
{
	a->keep = 1;
	a->delete_after_days = 7;
}

static void
pre_token(void)
{
	char path[128];
	FILE *fp;

	snprintf(path, sizeof path, "%s/token", F.dir);
	if ((fp = fopen(path, "w")) != NULL) {
		fputs("tok123\n", fp);
		fclose(fp);
	}
}

/* ---- post-checks ---- */

static void
post_two(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: maildir", name);
	T_EQ_INT(count_dir("new"), 2, nm);
	T_EQ_INT(count_dir("tmp"), 0, nm);
	T_EQ_INT(files_with(FILE1, sizeof FILE1 - 1), 1, nm);
	T_EQ_INT(files_with(FILE2, sizeof FILE2 - 1), 1, nm);
	snprintf(nm, sizeof nm, "%s: ledger", name);
	T_EQ_INT(ledger_flags("uid-1"), UIDL_F_DELIVERED, nm);
	T_EQ_INT(ledger_flags("uid-2"), UIDL_F_DELIVERED, nm);
	snprintf(nm, sizeof nm, "%s: counters", name);
	T_EQ_INT(F.p.n_new, 2, nm);
	T_EQ_INT(F.p.n_bytes, sizeof FILE1 - 1 + sizeof FILE2 - 1, nm);
	T_OK(F.p.listed_all, nm);
}

static void
post_two_deleted(const char *name)
{
	char nm[200];

	post_two(name);
	snprintf(nm, sizeof nm, "%s: deleted", name);
	T_EQ_INT(F.p.n_deleted, 2, nm);
}

static void
post_two_kept(const char *name)
{
	char nm[200];

	post_two(name);
	snprintf(nm, sizeof nm, "%s: kept", name);
	T_EQ_INT(F.p.n_deleted, 0, nm);
}

static void
post_trace_pass(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: trace", name);
	T_OK(strstr(F.trace, "PASS <redacted>\r\n") != NULL, nm);
	T_OK(strstr(F.trace, "secret") == NULL, nm);
}

static void
post_trace_plain(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: trace", name);
	T_OK(strstr(F.trace, "AUTH PLAIN <redacted>\r\n") != NULL, nm);
	T_OK(strstr(F.trace, "AG1lAHNlY3JldA==") == NULL, nm);
}

static void
post_trace_login(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: trace", name);
	T_OK(strstr(F.trace, "AUTH LOGIN\r\nbWU=\r\n<redacted>\r\n") !=
	    NULL, nm);
}

static void
post_trace_apop(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: trace", name);
	T_OK(strstr(F.trace, "APOP mrose <redacted>\r\n") != NULL, nm);
}

/* nothing delivered, nothing listed as deleted */
static void
post_nothing(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: nothing delivered", name);
	T_OK(count_dir("new") == 0 && count_dir("tmp") == 0, nm);
	T_EQ_INT(F.p.n_new, 0, nm);
	T_EQ_INT(F.p.n_deleted, 0, nm);
}

static void
post_no_credential(const char *name)
{
	char nm[200];

	post_nothing(name);
	snprintf(nm, sizeof nm, "%s: no credential", name);
	T_OK(strstr(F.trace, "USER") == NULL && strstr(F.trace, "PASS") ==
	    NULL && strstr(F.trace, "AUTH") == NULL &&
	    strstr(F.trace, "APOP") == NULL, nm);
}

static void
post_want_tls(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: want_tls", name);
	T_OK(F.p.want_tls && !F.p.tls_on && !F.p.injected && !F.p.done, nm);
	pop3_tls_ready(&F.p);
	drain();
	snprintf(nm, sizeof nm, "%s: after tls", name);
	T_OK(F.p.tls_on && !F.p.want_tls, nm);
}

static void
post_injected(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: injected", name);
	T_OK(F.p.injected, nm);
	post_no_credential(name);
}

static void
post_keep_days(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: days", name);
	T_EQ_INT(F.p.n_new, 2, nm);
	T_EQ_INT(F.p.n_deleted, 2, nm);
	T_EQ_INT(ledger_flags("new-old"), UIDL_F_DELIVERED, nm);
	T_EQ_INT(ledger_flags("fresh"), UIDL_F_DELIVERED, nm);
	T_EQ_INT(ledger_flags("old"), UIDL_F_DELIVERED, nm);
	T_EQ_INT(files_with(FILE1, sizeof FILE1 - 1), 2, nm);
}

static void
pre_days(void)
{
	ledger_put("old", NOW - 8 * DAY, UIDL_F_DELIVERED);
	ledger_put("young", NOW - 1 * DAY, UIDL_F_DELIVERED);
	ledger_put("future", NOW + 1000, UIDL_F_DELIVERED);
	ledger_put("new-old", NOW - 10 * DAY, 0);
}

static void
post_max1(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: max_messages", name);
	T_EQ_INT(F.p.n_new, 1, nm);
	T_EQ_INT(F.p.n_later, 2, nm);
	T_EQ_INT(ledger_flags("uid-1"), UIDL_F_DELIVERED, nm);
	T_EQ_INT(ledger_flags("uid-2"), 0, nm);
	T_EQ_INT(ledger_flags("uid-3"), 0, nm);
}

static void
post_maxsize(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: max_size", name);
	T_EQ_INT(F.p.n_new, 1, nm);
	T_EQ_INT(F.p.n_toobig, 1, nm);
	T_EQ_INT(ledger_flags("uid-1"), UIDL_F_DELIVERED, nm);
	T_EQ_INT(ledger_flags("uid-2"), UIDL_F_TOOBIG, nm);
}

static void
pre_toobig(void)
{
	ledger_put("uid-2", NOW - DAY, UIDL_F_TOOBIG);
}

static void
post_toobig_again(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: logged once", name);
	T_EQ_INT(F.p.n_toobig, 0, nm);
	T_EQ_INT(F.p.n_new, 1, nm);
}

static void
post_dotdot(const char *name)
{
	char nm[200], path[256];
	struct stat st;

	snprintf(nm, sizeof nm, "%s: uidl is data", name);
	T_EQ_INT(count_dir("new"), 1, nm);
	T_EQ_INT(ledger_flags("../../x"), UIDL_F_DELIVERED, nm);
	snprintf(path, sizeof path, "%s/../../x", F.md);
	T_OK(stat(path, &st) < 0, nm);
	snprintf(path, sizeof path, "%s/new/../../x", F.md);
	T_OK(stat(path, &st) < 0, nm);
}

static void
post_skip(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: skipped", name);
	T_EQ_INT(F.p.n_skipped, 1, nm);
	T_EQ_INT(F.p.n_new, 1, nm);
	T_EQ_INT(F.p.n_deleted, 1, nm);
	T_EQ_INT(ledger_flags("uid-1"), 0, nm);
	T_EQ_INT(ledger_flags("uid-2"), UIDL_F_DELIVERED, nm);
}

static void
post_dele_err(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: dele err", name);
	T_EQ_INT(F.p.n_dele_err, 1, nm);
	T_EQ_INT(F.p.n_deleted, 1, nm);
	T_EQ_INT(F.p.n_new, 2, nm);
}

static void
post_eof_retr(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: eof", name);
	T_EQ_INT(count_dir("new"), 0, nm);
	T_EQ_INT(count_dir("tmp"), 0, nm);
	T_EQ_INT(ledger_flags("uid-1"), 0, nm);
	T_OK(strstr(F.trace, "DELE") == NULL, nm);
}

static void
post_eof_second(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: first kept", name);
	T_EQ_INT(count_dir("new"), 1, nm);
	T_EQ_INT(count_dir("tmp"), 0, nm);
	T_EQ_INT(files_with(FILE1, sizeof FILE1 - 1), 1, nm);
	T_EQ_INT(ledger_flags("uid-1"), UIDL_F_DELIVERED, nm);
	T_EQ_INT(ledger_flags("uid-2"), 0, nm);
	T_OK(strstr(F.trace, "DELE") == NULL, nm);
	T_EQ_INT(F.p.n_deleted, 0, nm);
}

static void
post_quit_eof(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: not deleted", name);
	T_EQ_INT(F.p.n_deleted, 0, nm);
	T_EQ_INT(F.p.n_dele_ok, 2, nm);
	T_EQ_INT(F.p.n_new, 2, nm);
}

static void
post_keep_again(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: nothing new", name);
	T_EQ_INT(F.p.n_new, 0, nm);
	T_EQ_INT(count_dir("new"), 0, nm);
	T_OK(F.p.listed_all, nm);
}

static void
pre_delivered12(void)
{
	ledger_put("uid-1", NOW - DAY, UIDL_F_DELIVERED);
	ledger_put("uid-2", NOW - DAY, UIDL_F_DELIVERED);
}

static void
post_probe(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: probe", name);
	T_OK(strstr(F.trace, "UIDL\r\n") == NULL, nm);
}

static void
post_nouidl_dup(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: fallback", name);
	T_OK(F.p.nouidl && !F.p.listed_all, nm);
	T_EQ_INT(F.p.n_new, 2, nm);
	T_EQ_INT(F.p.n_deleted, 2, nm);
	T_EQ_INT(F.p.reconnect, 0, nm);
}

/* ---- the dialogs ---- */

static const struct step d_user[] = {
	LOGIN_U,
	SV(UIDL12, "LIST\r\n"),
	SV(LIST12, "RETR 1\r\n"),
	SV(RETR1, "RETR 2\r\n"),
	SV(RETR2, "DELE 1\r\n"),
	SV("+OK\r\n", "DELE 2\r\n"),
	SV("+OK\r\n", "QUIT\r\n"),
	SV("+OK bye\r\n", ""),
	END
};

static const struct step d_pipe[] = {
	LOGIN_P,
	SV(UIDL12 LIST12, "RETR 1\r\nRETR 2\r\n"),
	SV(RETR1, ""),
	SV(RETR2, "DELE 1\r\nDELE 2\r\nQUIT\r\n"),
	SV("+OK\r\n+OK\r\n+OK bye\r\n", ""),
	END
};

/* one read holds all the bodies */
static const struct step d_pipe_one[] = {
	LOGIN_P,
	SV(UIDL12 LIST12, "RETR 1\r\nRETR 2\r\n"),
	SV(RETR1 RETR2, "DELE 1\r\nDELE 2\r\nQUIT\r\n"),
	SV("+OK\r\n+OK\r\n+OK bye\r\n", ""),
	END
};

static const struct step d_keep[] = {
	LOGIN_P,
	SV(UIDL12 LIST12, "RETR 1\r\nRETR 2\r\n"),
	SV(RETR1 RETR2, "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_keep_again[] = {
	LOGIN_U,
	SV(UIDL12, "LIST\r\n"),
	SV(LIST12, "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

/* delivered earlier, keep 0, still on the server: DELE without RETR */
static const struct step d_redele[] = {
	LOGIN_U,
	SV(UIDL12, "LIST\r\n"),
	SV(LIST12, "DELE 1\r\n"),
	SV("+OK\r\n", "DELE 2\r\n"),
	SV("+OK\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_plain[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL PLAIN LOGIN\r\nUSER\r\n.\r\n",
	    "AUTH PLAIN AG1lAHNlY3JldA==\r\n"),
	SV("+OK\r\n", "UIDL\r\n"),
	SV("+OK\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_plain_cont[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL PLAIN\r\n.\r\n", "AUTH PLAIN AG1lAHNlY3JldA==\r\n"),
	SV("+ \r\n", "AG1lAHNlY3JldA==\r\n"),
	SV("+OK\r\n", "UIDL\r\n"),
	SV("+OK\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_login[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL LOGIN\r\nUSER\r\n.\r\n", "AUTH LOGIN\r\n"),
	SV("+ VXNlcm5hbWU6\r\n", "bWU=\r\n"),
	SV("+ UGFzc3dvcmQ6\r\n", "c2VjcmV0\r\n"),
	SV("+OK\r\n", "UIDL\r\n"),
	SV("+OK\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_xoauth2[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL PLAIN XOAUTH2\r\n.\r\n", "AUTH XOAUTH2\r\n"),
	SV("+\r\n", "dXNlcj1tZQFhdXRoPUJlYXJlciB0b2sxMjMBAQ==\r\n"),
	SV("+OK\r\n", "UIDL\r\n"),
	SV("+OK\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_xoauth2_err[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL XOAUTH2\r\n.\r\n", "AUTH XOAUTH2\r\n"),
	SV("+ \r\n", "dXNlcj1tZQFhdXRoPUJlYXJlciB0b2sxMjMBAQ==\r\n"),
	SV("+ eyJzdGF0dXMiOiI0MDEifQ==\r\n", "\r\n"),
	SV("-ERR [AUTH] invalid token\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

/* auto without a token source: PLAIN, not XOAUTH2 */
static const struct step d_xoauth2_notoken[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL XOAUTH2 PLAIN\r\n.\r\n",
	    "AUTH PLAIN AG1lAHNlY3JldA==\r\n"),
	SV("-ERR nope\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_cram[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL CRAM-MD5 PLAIN\r\n.\r\n", "AUTH CRAM-MD5\r\n"),
	SV("+ PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+\r\n",
	    "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw\r\n"),
	SV("+OK\r\n", "UIDL\r\n"),
	SV("+OK\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_cram_absent[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL PLAIN\r\nUSER\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_apop[] = {
	SV("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
	    "CAPA\r\n"),
	SV("-ERR unknown command\r\n",
	    "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"),
	SV("+OK maildrop has 0 messages\r\n", "UIDL\r\n"),
	SV("+OK\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_apop_nots[] = {
	SV("+OK POP3 server ready\r\n", "CAPA\r\n"),
	SV("-ERR unknown command\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

/* auto with an APOP timestamp and no CAPA: USER/PASS, never APOP */
static const struct step d_auto_noapop[] = {
	SV("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
	    "CAPA\r\n"),
	SV("-ERR what?\r\n", "USER mrose\r\n"),
	SV("+OK\r\n", "PASS tanstaaf\r\n"),
	SV("-ERR [AUTH] no\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

/* auto with only CRAM-MD5 (and APOP) offered: refuse, send nothing */
static const struct step d_auto_nocram[] = {
	SV("+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
	    "CAPA\r\n"),
	SV("+OK\r\nSASL CRAM-MD5\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_named_absent[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nUSER\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_recent[] = {
	SV(GREET, "CAPA\r\n"),
	SV(CAPA_U, "USER recent:me\r\n"),
	SV("+OK\r\n", "PASS secret\r\n"),
	SV("+OK\r\n", "UIDL\r\n"),
	SV("+OK\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_recent_plain[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSASL PLAIN\r\n.\r\n",
	    "AUTH PLAIN AHJlY2VudDptZQBzZWNyZXQ=\r\n"),
	SV("-ERR [AUTH] no\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

/* STLS: capabilities asked again after TLS, the old ones forgotten */
static const struct step d_stls[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSTLS\r\nPIPELINING\r\nSASL PLAIN\r\n.\r\n", "STLS\r\n"),
	SV("+OK begin TLS\r\n", ""),
	TLSREADY("CAPA\r\n"),
	SV("+OK\r\nUSER\r\n.\r\n", "USER me\r\n"),
	SV("+OK\r\n", "PASS secret\r\n"),
	SV("+OK\r\n", "UIDL\r\n"),
	SV(UIDL12, "LIST\r\n"),
	SV(LIST12, "RETR 1\r\n"),
	SV(RETR1, "RETR 2\r\n"),
	SV(RETR2, "DELE 1\r\n"),
	SV("+OK\r\n", "DELE 2\r\n"),
	SV("+OK\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_stls_wait[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSTLS\r\n.\r\n", "STLS\r\n"),
	SV("+OK begin TLS\r\n", ""),
	END
};

static const struct step d_stls_inject[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSTLS\r\n.\r\n", "STLS\r\n"),
	SV("+OK begin TLS\r\n+OK\r\n", ""),
	END
};

static const struct step d_stls_inject_later[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSTLS\r\n.\r\n", "STLS\r\n"),
	SV("+OK begin TLS\r\n", ""),
	SV("+", ""),
	TLSREADY(""),
	END
};

static const struct step d_stls_absent[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_stls_nocapa[] = {
	SV(GREET, "CAPA\r\n"),
	SV("-ERR no\r\n", "QUIT\r\n"),
	EOFS(""),
	END
};

static const struct step d_stls_refused[] = {
	SV(GREET, "CAPA\r\n"),
	SV("+OK\r\nSTLS\r\n.\r\n", "STLS\r\n"),
	SV("-ERR not now\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_plaintext[] = {
	SV(GREET, "CAPA\r\n"),
	SV(CAPA_U, "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_plaintext_ok[] = {
	SV(GREET, "CAPA\r\n"),
	SV(CAPA_U, "USER me\r\n"),
	SV("+OK\r\n", "PASS secret\r\n"),
	SV("+OK\r\n", "UIDL\r\n"),
	SV("+OK\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

#define PASS_ERR(name, line, cls, ex) \
static const struct step name[] = { \
	SV(GREET, "CAPA\r\n"), \
	SV(CAPA_U, "USER me\r\n"), \
	SV("+OK\r\n", "PASS secret\r\n"), \
	SV(line "\r\n", "QUIT\r\n"), \
	SV("+OK\r\n", ""), \
	END \
}
PASS_ERR(d_inuse, "-ERR [IN-USE] mailbox locked", POP3_FAIL_TEMP, 75);
PASS_ERR(d_delay, "-ERR [LOGIN-DELAY] wait", POP3_FAIL_TEMP, 75);
PASS_ERR(d_systemp, "-ERR [SYS/TEMP] try later", POP3_FAIL_TEMP, 75);
PASS_ERR(d_authcode, "-ERR [AUTH] invalid credentials", POP3_FAIL_AUTH,
    77);
PASS_ERR(d_plainerr, "-ERR bad password", POP3_FAIL_AUTH, 77);
PASS_ERR(d_sysperm, "-ERR [SYS/PERM] account closed",
    POP3_FAIL_CONNECT, 69);
PASS_ERR(d_escaped, "-ERR \x1b[31mred\x7f \"q\"", POP3_FAIL_AUTH, 77);

static const struct step d_user_err[] = {
	SV(GREET, "CAPA\r\n"),
	SV(CAPA_U, "USER me\r\n"),
	SV("-ERR [IN-USE] busy\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_user_err_auth[] = {
	SV(GREET, "CAPA\r\n"),
	SV(CAPA_U, "USER me\r\n"),
	SV("-ERR no such user\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_max1[] = {
	LOGIN_U,
	SV("+OK\r\n1 uid-1\r\n2 uid-2\r\n3 uid-3\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n1 21\r\n2 30\r\n3 30\r\n.\r\n", "RETR 1\r\n"),
	SV(RETR1, "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_maxsize[] = {
	LOGIN_U,
	SV(UIDL12, "LIST\r\n"),
	SV("+OK\r\n1 21 extra info\r\n2 30\r\n.\r\n", "RETR 1\r\n"),
	SV(RETR1, "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_days[] = {
	LOGIN_U,
	SV("+OK\r\n1 old\r\n2 young\r\n3 future\r\n4 new-old\r\n"
	    "5 fresh\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n1 5\r\n2 5\r\n3 5\r\n4 21\r\n5 21\r\n.\r\n",
	    "DELE 1\r\n"),
	SV("+OK\r\n", "RETR 4\r\n"),
	SV(RETR1, "RETR 5\r\n"),
	SV(RETR1, "DELE 4\r\n"),
	SV("+OK\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_dotdot[] = {
	LOGIN_U,
	SV("+OK\r\n1 ../../x\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n1 21\r\n.\r\n", "RETR 1\r\n"),
	SV(RETR1, "DELE 1\r\n"),
	SV("+OK\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_dup_keep[] = {
	LOGIN_U,
	SV("+OK\r\n1 same\r\n2 same\r\n.\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_dup_nokeep[] = {
	LOGIN_U,
	SV("+OK\r\n1 same\r\n2 same\r\n.\r\n", "LIST\r\n"),
	SV(LIST12, "RETR 1\r\n"),
	SV(RETR1, "RETR 2\r\n"),
	SV(RETR2, "DELE 1\r\n"),
	SV("+OK\r\n", "DELE 2\r\n"),
	SV("+OK\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_nouidl_keep[] = {
	LOGIN_P,
	SV("-ERR no UIDL here\r\n", "QUIT\r\n"),
	SV(LIST12 "+OK\r\n", ""),
	END
};

static const struct step d_bad_uidl[] = {
	LOGIN_U,
	SV("+OK\r\n1 uid-1\r\n2 has space\r\n.\r\n", ""),
	END
};

static const struct step d_bad_uidl_num[] = {
	LOGIN_U,
	SV("+OK\r\nx uid-1\r\n.\r\n", ""),
	END
};

static const struct step d_bad_uidl_order[] = {
	LOGIN_U,
	SV("+OK\r\n2 uid-2\r\n1 uid-1\r\n.\r\n", ""),
	END
};

static const struct step d_bad_uidl_long[] = {
	LOGIN_U,
	SV("+OK\r\n1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n.\r\n", ""),
	END
};

static const struct step d_garbage[] = {
	SV("HELLO THERE\r\n", ""),
	END
};

static const struct step d_greet_err[] = {
	SV("-ERR go away\r\n", ""),
	END
};

static const struct step d_greet_temp[] = {
	SV("-ERR [SYS/TEMP] overloaded\r\n", ""),
	END
};

static const struct step d_garbage_reply[] = {
	SV(GREET, "CAPA\r\n"),
	SV(CAPA_U, "USER me\r\n"),
	SV("* OK IMAP4 ready\r\n", ""),
	END
};

static const struct step d_eof_retr[] = {
	LOGIN_U,
	SV("+OK\r\n1 uid-1\r\n.\r\n", "LIST\r\n"),
	SV("+OK\r\n1 21\r\n.\r\n", "RETR 1\r\n"),
	SV("+OK\r\nSubject: one\r\n\r\nhel", ""),
	EOFS(""),
	END
};

static const struct step d_eof_second[] = {
	LOGIN_P,
	SV(UIDL12 LIST12, "RETR 1\r\nRETR 2\r\n"),
	SV(RETR1 "+OK\r\nSubject: two\r\n", ""),
	EOFS(""),
	END
};

static const struct step d_eof_quit[] = {
	LOGIN_P,
	SV(UIDL12 LIST12, "RETR 1\r\nRETR 2\r\n"),
	SV(RETR1 RETR2, "DELE 1\r\nDELE 2\r\nQUIT\r\n"),
	SV("+OK\r\n+OK\r\n", ""),
	EOFS(""),
	END
};

static const struct step d_quit_err[] = {
	LOGIN_P,
	SV(UIDL12 LIST12, "RETR 1\r\nRETR 2\r\n"),
	SV(RETR1 RETR2, "DELE 1\r\nDELE 2\r\nQUIT\r\n"),
	SV("+OK\r\n+OK\r\n-ERR some deleted messages not removed\r\n", ""),
	END
};

static const struct step d_retr_err[] = {
	LOGIN_U,
	SV(UIDL12, "LIST\r\n"),
	SV(LIST12, "RETR 1\r\n"),
	SV("-ERR no such message\r\n", "RETR 2\r\n"),
	SV(RETR2, "DELE 2\r\n"),
	SV("+OK\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct step d_dele_err[] = {
	LOGIN_P,
	SV(UIDL12 LIST12, "RETR 1\r\nRETR 2\r\n"),
	SV(RETR1 RETR2, "DELE 1\r\nDELE 2\r\nQUIT\r\n"),
	SV("-ERR locked\r\n+OK\r\n+OK\r\n", ""),
	END
};

static void
mid_tick_before(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: not yet durable", name);
	T_EQ_INT(F.p.n_new, 0, nm);
	T_EQ_INT(F.p.group_due, 6000, nm);
	T_OK(ledger_flags("uid-1") < UIDL_F_DELIVERED, nm);
}

static void
mid_tick_after(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: durable by the timer", name);
	T_EQ_INT(F.p.n_new, 1, nm);
	T_EQ_INT(F.p.group_due, 0, nm);
	T_EQ_INT(ledger_flags("uid-1"), UIDL_F_DELIVERED, nm);
}

/* the group timer: message 1 becomes durable while 2 is still coming */
static const struct step d_tick[] = {
	LOGIN_U,
	SV(UIDL12, "LIST\r\n"),
	SV(LIST12, "RETR 1\r\n"),
	TICK(5000, ""),
	SV(RETR1, "RETR 2\r\n"),
	TICK(5999, ""),
	CALL(mid_tick_before),
	TICK(6000, ""),
	CALL(mid_tick_after),
	SV(RETR2, "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static void
post_tick(const char *name)
{
	char nm[200];

	snprintf(nm, sizeof nm, "%s: tick", name);
	T_EQ_INT(F.p.n_new, 2, nm);
	T_EQ_INT(F.p.group_due, 0, nm);
}

static const struct step d_probe[] = {
	SV(GREET, "CAPA\r\n"),
	SV(CAPA_U, "USER me\r\n"),
	SV("+OK\r\n", "PASS secret\r\n"),
	SV("+OK\r\n", "QUIT\r\n"),
	SV("+OK\r\n", ""),
	END
};

static const struct dialog dialogs[] = {
	{ "user/pass", NULL, NULL, d_user, POP3_OK, 0, NULL,
	    post_two_deleted },
	{ "user/pass trace", NULL, NULL, d_user, POP3_OK, 0, NULL,
	    post_trace_pass },
	{ "pipelined", NULL, NULL, d_pipe, POP3_OK, 0, NULL,
	    post_two_deleted },
	{ "pipelined one read", NULL, NULL, d_pipe_one, POP3_OK, 0, NULL,
	    post_two_deleted },
	{ "keep", cfg_keep, NULL, d_keep, POP3_OK, 0, NULL, post_two_kept },
	{ "keep, seen before", cfg_keep, pre_delivered12, d_keep_again,
	    POP3_OK, 0, NULL, post_keep_again },
	{ "delivered, keep 0: DELE again", NULL, pre_delivered12, d_redele,
	    POP3_OK, 0, NULL, NULL },
	{ "plain", NULL, NULL, d_plain, POP3_OK, 0, NULL, post_trace_plain },
	{ "plain continuation", NULL, NULL, d_plain_cont, POP3_OK, 0, NULL,
	    NULL },
	{ "login", NULL, NULL, d_login, POP3_OK, 0, NULL, post_trace_login },
	{ "xoauth2", cfg_oauth, pre_token, d_xoauth2, POP3_OK, 0, NULL,
	    NULL },
	{ "xoauth2 error challenge", cfg_oauth, pre_token, d_xoauth2_err,
	    POP3_FAIL_AUTH, 77, "-ERR [AUTH] invalid token", NULL },
	{ "auto without token: plain", NULL, NULL, d_xoauth2_notoken,
	    POP3_FAIL_AUTH, 77, "-ERR nope", NULL },
	{ "cram-md5 named", cfg_cram, NULL, d_cram, POP3_OK, 0, NULL, NULL },
	{ "cram-md5 named, absent", cfg_cram, NULL, d_cram_absent,
	    POP3_FAIL_CONNECT, 69, "server does not offer AUTH CRAM-MD5",
	    post_no_credential },
	{ "apop named", cfg_apop, NULL, d_apop, POP3_OK, 0, NULL,
	    post_trace_apop },
	{ "apop named, no timestamp", cfg_apop, NULL, d_apop_nots,
	    POP3_FAIL_CONNECT, 69, "server does not offer APOP",
	    post_no_credential },
	{ "auto never apop", cfg_apop_auto, NULL, d_auto_noapop,
	    POP3_FAIL_AUTH, 77, "-ERR [AUTH] no", NULL },
	{ "auto never cram-md5", cfg_apop_auto, NULL, d_auto_nocram,
	    POP3_FAIL_CONNECT, 69, NULL, post_no_credential },
	{ "named plain absent", cfg_named_plain, NULL, d_named_absent,
	    POP3_FAIL_CONNECT, 69, "server does not offer AUTH PLAIN",
	    post_no_credential },
	{ "recent", cfg_recent, NULL, d_recent, POP3_OK, 0, NULL, NULL },
	{ "recent plain", cfg_recent, NULL, d_recent_plain, POP3_FAIL_AUTH,
	    77, NULL, NULL },
	{ "stls", cfg_stls, NULL, d_stls, POP3_OK, 0, NULL, post_two_deleted },
	{ "stls go-ahead", cfg_stls, NULL, d_stls_wait, -1, 0, NULL,
	    post_want_tls },
	{ "stls injection", cfg_stls, NULL, d_stls_inject, POP3_FAIL_CONNECT,
	    75, "bytes after STLS go-ahead (STARTTLS injection?)",
	    post_injected },
	{ "stls injection later", cfg_stls, NULL, d_stls_inject_later,
	    POP3_FAIL_CONNECT, 75, NULL, post_injected },
	{ "stls absent", cfg_stls, NULL, d_stls_absent, POP3_FAIL_CONNECT, 69,
	    "server does not offer STLS", post_no_credential },
	{ "stls no capa", cfg_stls, NULL, d_stls_nocapa, POP3_FAIL_CONNECT,
	    69, "server does not offer STLS", post_no_credential },
	{ "stls refused", cfg_stls, NULL, d_stls_refused, POP3_FAIL_CONNECT,
	    75, "STLS refused: -ERR not now", post_no_credential },
	{ "plaintext refused", cfg_plain_tls, NULL, d_plaintext,
	    POP3_FAIL_LOCAL, 78, "refusing to send credentials without TLS "
	    "(set allow_plaintext_auth)", post_no_credential },
	{ "plaintext allowed", cfg_plain_ok, NULL, d_plaintext_ok, POP3_OK,
	    0, NULL, NULL },
	{ "[IN-USE]", NULL, NULL, d_inuse, POP3_FAIL_TEMP, 75,
	    "-ERR [IN-USE] mailbox locked", post_nothing },
	{ "[LOGIN-DELAY]", NULL, NULL, d_delay, POP3_FAIL_TEMP, 75, NULL,
	    NULL },
	{ "[SYS/TEMP]", NULL, NULL, d_systemp, POP3_FAIL_TEMP, 75, NULL,
	    NULL },
	{ "[AUTH]", NULL, NULL, d_authcode, POP3_FAIL_AUTH, 77,
	    "-ERR [AUTH] invalid credentials", NULL },
	{ "plain -ERR", NULL, NULL, d_plainerr, POP3_FAIL_AUTH, 77,
	    "-ERR bad password", NULL },
	{ "[SYS/PERM]", NULL, NULL, d_sysperm, POP3_FAIL_CONNECT, 69, NULL,
	    NULL },
	{ "server text escaped", NULL, NULL, d_escaped, POP3_FAIL_AUTH, 77,
	    "-ERR \\x1B[31mred\\x7F \\\"q\\\"", NULL },
	{ "USER -ERR [IN-USE]", NULL, NULL, d_user_err, POP3_FAIL_TEMP, 75,
	    NULL, NULL },
	{ "USER -ERR", NULL, NULL, d_user_err_auth, POP3_FAIL_AUTH, 77,
	    "-ERR no such user", NULL },
	{ "max_messages", cfg_max1, NULL, d_max1, POP3_OK, 0, NULL,
	    post_max1 },
	{ "max_size", cfg_maxsize, NULL, d_maxsize, POP3_OK, 0, NULL,
	    post_maxsize },
	{ "max_size logged once", cfg_maxsize, pre_toobig, d_maxsize,
	    POP3_OK, 0, NULL, post_toobig_again },
	{ "delete_after_days", cfg_days, pre_days, d_days, POP3_OK, 0, NULL,
	    post_keep_days },
	{ "uidl ../../x is data", NULL, NULL, d_dotdot, POP3_OK, 0, NULL,
	    post_dotdot },
	{ "duplicate uidl, keep", cfg_keep, NULL, d_dup_keep, POP3_FAIL_LOCAL,
	    69, "server lists duplicate UIDLs; keep needs unique ones",
	    post_nothing },
	{ "duplicate uidl, keep 0", NULL, NULL, d_dup_nokeep, POP3_OK, 0,
	    NULL, post_nouidl_dup },
	{ "no uidl, keep", cfg_keep, NULL, d_nouidl_keep, POP3_FAIL_LOCAL, 69,
	    "server has no UIDL; keep needs it: -ERR no UIDL here",
	    post_nothing },
	{ "bad uidl", NULL, NULL, d_bad_uidl, POP3_FAIL_CONNECT, 75,
	    "bad UIDL listing: 2 has space", post_nothing },
	{ "bad uidl number", NULL, NULL, d_bad_uidl_num, POP3_FAIL_CONNECT,
	    75, NULL, post_nothing },
	{ "bad uidl order", NULL, NULL, d_bad_uidl_order, POP3_FAIL_CONNECT,
	    75, NULL, post_nothing },
	{ "uidl too long", NULL, NULL, d_bad_uidl_long, POP3_FAIL_CONNECT,
	    75, NULL, post_nothing },
	{ "garbage greeting", NULL, NULL, d_garbage, POP3_FAIL_CONNECT, 75,
	    "garbage from server: HELLO THERE", NULL },
	{ "-ERR greeting", NULL, NULL, d_greet_err, POP3_FAIL_CONNECT, 69,
	    "server refused the connection: -ERR go away", NULL },
	{ "-ERR [SYS/TEMP] greeting", NULL, NULL, d_greet_temp,
	    POP3_FAIL_TEMP, 75, NULL, NULL },
	{ "garbage reply", NULL, NULL, d_garbage_reply, POP3_FAIL_CONNECT, 75,
	    "garbage from server: * OK IMAP4 ready", post_nothing },
	{ "eof mid-RETR", NULL, NULL, d_eof_retr, POP3_FAIL_CONNECT, 75,
	    "connection closed during RETR", post_eof_retr },
	{ "eof mid-RETR, one delivered", NULL, NULL, d_eof_second,
	    POP3_FAIL_CONNECT, 75, "connection closed during RETR",
	    post_eof_second },
	{ "eof before QUIT reply", NULL, NULL, d_eof_quit, POP3_FAIL_CONNECT,
	    75, "connection closed before the QUIT reply", post_quit_eof },
	{ "QUIT -ERR", NULL, NULL, d_quit_err, POP3_FAIL_TEMP, 75, NULL,
	    post_quit_eof },
	{ "RETR -ERR", NULL, NULL, d_retr_err, POP3_OK, 0, NULL, post_skip },
	{ "DELE -ERR", NULL, NULL, d_dele_err, POP3_OK, 0, NULL,
	    post_dele_err },
	{ "group timer", cfg_keep, NULL, d_tick, POP3_OK, 0, NULL,
	    post_tick },
};

/* ---- tests that need more than a table row ---- */

/* A reply line one byte over REPLY_LINE_MAX, and one at it. */
static void
test_long_line(void)
{
	static char line[REPLY_LINE_MAX + 16];
	int mode;

	for (mode = 0; mode < 3; mode++) {
		fx_open(NULL, mode);
		memset(line, 'x', sizeof line);
		memcpy(line, "+OK ", 4);
		memcpy(line + REPLY_LINE_MAX, "\r\n", 3);
		feed(line, strlen(line));
		T_EQ_STR(F.sent, "CAPA\r\n", "line at max accepted");
		F.sentlen = 0;
		F.sent[0] = '\0';
		memset(line, 'x', sizeof line);
		memcpy(line, "+OK\r\n", 5);
		memcpy(line + 5 + REPLY_LINE_MAX + 1, "\r\n", 3);
		feed(line, strlen(line));
		T_OK(F.p.done && F.p.fail == POP3_FAIL_CONNECT,
		    "line over max");
		T_EQ_STR(F.p.err.msg, "server reply line longer than 1024 "
		    "bytes (REPLY_LINE_MAX)", "line over max message");
		fx_close();
	}
	fx_open(NULL, 0);
	feed("+OK\0\r\n", 6);
	T_EQ_STR(F.p.err.msg, "NUL byte in a server reply", "nul in reply");
	fx_close();
}

/* Dot-stuffing, long lines, a lone CR and a bare LF, byte-exact. */
static void
test_body_exact(void)
{
	static char srv[40000], want[40000];
	size_t n = 0, w = 0;
	int mode, i;

	n += (size_t)sprintf(srv + n, "+OK\r\n");
	w += (size_t)sprintf(want + w, "X-A: 1\n\n");
	n += (size_t)sprintf(srv + n, "X-A: 1\r\n\r\n");
	n += (size_t)sprintf(srv + n, "..leading dot\r\n...two\r\n.\r\r\n");
	w += (size_t)sprintf(want + w, ".leading dot\n..two\n\r\n");
	for (i = 0; i < 30000; i++) {
		srv[n++] = (char)('a' + i % 26);
		want[w++] = (char)('a' + i % 26);
	}
	n += (size_t)sprintf(srv + n, "\r\nlone\rcr\r\nbare\nlf\r\n.\r\n");
	w += (size_t)sprintf(want + w, "\nlone\rcr\nbare\nlf\n");

	for (mode = 0; mode < 3; mode++) {
		static const struct step login[] = {
			LOGIN_U,
			SV("+OK\r\n1 big\r\n.\r\n", "LIST\r\n"),
			SV("+OK\r\n1 30100\r\n.\r\n", "RETR 1\r\n"),
			END
		};

		fx_open(NULL, mode);
		run_steps("body exact", login);
		feed(srv, n);
		T_EQ_STR(F.sent, "DELE 1\r\n", "body exact dele");
		T_EQ_INT(files_with(want, w), 1, "body exact file");
		T_EQ_INT(F.p.n_bytes, w, "body exact bytes");
		fx_close();
	}
}

/*
 * A scripted server for the long dialogs: feed `first`, then answer every
 * command the client sent with a canned reply, until the session ends.
 * The whole client side stays in F.trace.
 */
static void
serve(const char *first, const char *uidl, const char *list,
    const char *body)
{
	static char cmds[1 << 16], reply[1 << 20];
	const char *r;
	char *l, *e;
	size_t rn = 0;
	int guard;

	F.sentlen = 0;
	feed(first, strlen(first));
	for (guard = 0; guard < 1000 && !F.p.done && F.sentlen > 0;
	    guard++) {
		memcpy(cmds, F.sent, F.sentlen);
		cmds[F.sentlen] = '\0';
		F.sentlen = 0;
		rn = 0;
		for (l = cmds; (e = strstr(l, "\r\n")) != NULL; l = e + 2) {
			*e = '\0';
			r = strcmp(l, "UIDL") == 0 ? uidl :
			    strcmp(l, "LIST") == 0 ? list :
			    strncmp(l, "RETR ", 5) == 0 ? body : "+OK\r\n";
			rn += (size_t)snprintf(reply + rn, sizeof reply - rn,
			    "%s", r);
		}
		feed(reply, rn);
	}
}

/* Without UIDL, keep 0: 50 messages per connection, then reconnect. */
static void
test_reconnect(void)
{
	static const struct step login[] = {
		SV(GREET, "CAPA\r\n"),
		SV(CAPA_P, "USER me\r\n"),
		SV("+OK\r\n", "PASS secret\r\n"),
		END
	};
	static char list[4096], want[8192];
	size_t ln = 0, wn = 0;
	const char *t;
	int i, mode;

	ln += (size_t)sprintf(list, "+OK\r\n");
	for (i = 1; i <= 52; i++)
		ln += (size_t)sprintf(list + ln, "%d 21\r\n", i);
	ln += (size_t)sprintf(list + ln, ".\r\n");
	wn += (size_t)sprintf(want, "UIDL\r\nLIST\r\n");
	for (i = 1; i <= 50; i++)
		wn += (size_t)sprintf(want + wn, "RETR %d\r\n", i);
	for (i = 1; i <= 50; i++)
		wn += (size_t)sprintf(want + wn, "DELE %d\r\n", i);
	wn += (size_t)sprintf(want + wn, "QUIT\r\n");

	for (mode = 0; mode < 3; mode++) {
		fx_open(NULL, mode);
		run_steps("reconnect", login);
		serve("+OK\r\n", "-ERR no UIDL\r\n", list, RETR1);
		t = strstr(F.trace, "UIDL\r\n");
		T_OK(t != NULL && strcmp(t, want) == 0,
		    "reconnect: exact commands");
		T_OK(F.p.done && F.p.fail == POP3_OK, "reconnect: ok");
		T_EQ_INT(F.p.reconnect, 1, "reconnect: flag");
		T_EQ_INT(F.p.n_new, 50, "reconnect: new");
		T_EQ_INT(F.p.n_deleted, 50, "reconnect: deleted");
		T_EQ_INT(F.p.n_later, 2, "reconnect: later");
		T_EQ_INT(count_dir("new"), 50, "reconnect: maildir");
		T_EQ_INT(F.db.n, 0, "reconnect: nothing in the ledger");

		/* the next connection, on the same struct */
		pop3_start(&F.p);
		F.tracelen = 0;
		run_steps("reconnect again", login);
		serve("+OK\r\n", "-ERR no UIDL\r\n",
		    "+OK\r\n1 21\r\n2 21\r\n.\r\n", RETR1);
		T_EQ_STR(F.trace, "CAPA\r\nUSER me\r\nPASS <redacted>\r\n"
		    "UIDL\r\nLIST\r\nRETR 1\r\nRETR 2\r\nDELE 1\r\nDELE 2\r\n"
		    "QUIT\r\n", "reconnect: second dialog");
		T_OK(F.p.done && F.p.fail == POP3_OK && !F.p.reconnect,
		    "reconnect: second done");
		T_EQ_INT(F.p.n_new, 52, "reconnect: counters accumulate");
		T_EQ_INT(F.p.n_deleted, 52, "reconnect: deleted accumulate");
		fx_close();
	}
}

/* Group commit by count: 70 messages pipelined; DELEs of the first 64
 * go out once they are durable. */
static void
test_group(void)
{
	static const struct step login[] = {
		SV(GREET, "CAPA\r\n"),
		SV(CAPA_P, "USER me\r\n"),
		SV("+OK\r\n", "PASS secret\r\n"),
		END
	};
	static char uidl[4096], list[4096];
	size_t un = 0, ln = 0;
	char *d, *r64, *r65;
	int i, mode;

	un += (size_t)sprintf(uidl, "+OK\r\n");
	ln += (size_t)sprintf(list, "+OK\r\n");
	for (i = 1; i <= 70; i++) {
		un += (size_t)sprintf(uidl + un, "%d u%d\r\n", i, i);
		ln += (size_t)sprintf(list + ln, "%d 21\r\n", i);
	}
	un += (size_t)sprintf(uidl + un, ".\r\n");
	ln += (size_t)sprintf(list + ln, ".\r\n");
	for (mode = 0; mode < 3; mode++) {
		fx_open(NULL, mode);
		run_steps("group", login);
		serve("+OK\r\n", uidl, list, RETR1);
		d = strstr(F.trace, "DELE 1\r\n");
		r64 = strstr(F.trace, "RETR 64\r\n");
		r65 = strstr(F.trace, "RETR 65\r\n");
		/* whole reads: 32 bodies at once, so the first group is
		 * complete before RETR 65 can be queued */
		T_OK(d != NULL && r64 != NULL && r65 != NULL && d > r64 &&
		    (mode != 0 || d < r65), "group: DELE after 64 RETRs");
		T_OK(strstr(F.trace, "DELE 70\r\nQUIT\r\n") != NULL,
		    "group: last group then QUIT");
		T_EQ_INT(F.bad_dele, 0, "group: DELE only when durable");
		T_OK(F.p.done && F.p.fail == POP3_OK, "group: ok");
		T_EQ_INT(F.p.n_new, 70, "group: new");
		T_EQ_INT(F.p.n_deleted, 70, "group: deleted");
		T_EQ_INT(count_dir("new"), 70, "group: maildir");
		fx_close();
	}
}

/* A listing longer than UIDL_MAX: said so, drained, QUIT. */
static void
test_listing_cap(void)
{
	static const struct step login[] = {
		SV(GREET, "CAPA\r\n"),
		SV(CAPA_U, "USER me\r\n"),
		SV("+OK\r\n", "PASS secret\r\n"),
		SV("+OK\r\n", "UIDL\r\n"),
		END
	};
	static char buf[1 << 16];
	size_t n = 0;
	int i;

	fx_open(NULL, 0);
	F.a->keep = 1;
	run_steps("listing cap", login);
	n = (size_t)sprintf(buf, "+OK\r\n");
	for (i = 1; i <= UIDL_MAX + 5; i++) {
		n += (size_t)sprintf(buf + n, "%d u%d\r\n", i, i);
		if (n > sizeof buf - 64) {
			feed(buf, n);
			n = 0;
		}
	}
	n += (size_t)sprintf(buf + n, ".\r\n");
	feed(buf, n);
	T_EQ_STR(F.sent, "QUIT\r\n", "listing cap: QUIT");
	T_OK(F.p.fail == POP3_FAIL_LOCAL && F.p.err.ex == EX_UNAVAILABLE,
	    "listing cap: class");
	T_EQ_STR(F.p.err.msg, "server lists more than 65536 messages "
	    "(UIDL_MAX)", "listing cap: message");
	T_EQ_INT(F.p.nmsg, UIDL_MAX, "listing cap: table full");
	feed("+OK\r\n", 5);
	T_OK(F.p.done, "listing cap: done");
	fx_close();
}

/* The XOAUTH2 line of a 7000-byte token fits in one command. */
static void
test_big_token(void)
{
	static char tok[7002], line[POP3_OUT_MAX];
	static const struct step st[] = {
		SV(GREET, "CAPA\r\n"),
		SV("+OK\r\nSASL XOAUTH2\r\n.\r\n", "AUTH XOAUTH2\r\n"),
		END
	};
	char path[128];
	FILE *fp;
	long n;

	fx_open(NULL, 0);
	memset(tok, 'T', 7000);
	tok[7000] = '\0';
	snprintf(path, sizeof path, "%s/token", F.dir);
	fp = fopen(path, "w");
	fputs(tok, fp);
	fputs("\n", fp);
	fclose(fp);
	snprintf(F.a->pop3.oauth_token_file,
	    sizeof F.a->pop3.oauth_token_file, "%s", path);
	run_steps("big token", st);
	feed("+\r\n", 3);
	n = sasl_xoauth2("me", tok, line, sizeof line);
	T_OK(n > 9000, "big token encoded");
	T_OK(F.sentlen == (size_t)n + 2 && memcmp(F.sent, line, (size_t)n) ==
	    0, "big token line");
	T_EQ_INT(F.p.secret_len, n, "big token is secret");
	fx_close();
}

/* The credential in out is wiped once the transport has taken it. */
static void
test_wipe(void)
{
	static const struct step st[] = {
		SV(GREET, "CAPA\r\n"),
		SV(CAPA_U, "USER me\r\n"),
		SV("+OK\r\n", "PASS secret\r\n"),
		END
	};
	size_t off;

	fx_open(NULL, 0);
	run_steps("wipe", st);
	off = F.p.secret_off;
	T_EQ_INT(F.p.secret_len, 6, "wipe: range");
	T_OK(memcmp(F.p.out + off, "secret", 6) == 0, "wipe: before");
	feed("+OK\r\n", 5);
	T_OK(memcmp(F.p.out + off, "secret", 6) != 0, "wipe: after");
	T_EQ_INT(F.p.secret_len, 0, "wipe: cleared");
	fx_close();
}

/* Delivery fails (new/ is a file): found at the group's sync, after
 * the last RETR; LOCAL with the delivery's code, QUIT without DELE,
 * nothing recorded. */
static void
test_local_fail(void)
{
	static const struct step st[] = {
		LOGIN_U,
		SV(UIDL12, "LIST\r\n"),
		SV(LIST12, "RETR 1\r\n"),
		SV(RETR1, "RETR 2\r\n"),
		SV(RETR2, "QUIT\r\n"),
		SV("+OK\r\n", ""),
		END
	};
	char path[256];
	int fd;

	fx_open(NULL, 0);
	snprintf(path, sizeof path, "%s/new", F.md);
	rmdir(path);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	run_steps("local fail", st);
	T_OK(F.p.done && F.p.fail == POP3_FAIL_LOCAL, "local fail: class");
	T_OK(F.p.err.ex == EX_CANTCREAT || F.p.err.ex == EX_IOERR,
	    "local fail: 73/74");
	T_OK(strstr(F.trace, "DELE") == NULL, "local fail: no DELE");
	T_EQ_INT(count_dir("tmp"), 0, "local fail: tmp clean");
	T_EQ_INT(ledger_flags("uid-1"), 0, "local fail: not recorded");
	T_EQ_INT(ledger_flags("uid-2"), 0, "local fail: 2 not recorded");
	fx_close();
}

static void
test_probe(void)
{
	int mode;

	for (mode = 0; mode < 3; mode++) {
		fx_open(NULL, mode);
		F.p.probe = 1;
		run_steps("probe", d_probe);
		T_OK(F.p.done && F.p.fail == POP3_OK, "probe: ok");
		post_probe("probe");
		fx_close();
	}
	/* without a ledger (tern test): no Maildir made, QUIT after auth */
	F.nodb = 1;
	fx_open(NULL, 0);
	T_EQ_INT(count_dir("new"), -1, "probe without ledger: no maildir");
	run_steps("probe without ledger", d_probe);
	T_OK(F.p.done && F.p.fail == POP3_OK, "probe without ledger: ok");
	fx_close();
	F.nodb = 0;
}

static void
test_names(void)
{
	T_EQ_STR(pop3_state_name(POP3_ST_GREETING), "greeting", "name");
	T_EQ_STR(pop3_state_name(POP3_ST_RETR), "retr", "name retr");
	T_EQ_STR(pop3_state_name(POP3_ST_DONE), "done", "name done");
	T_EQ_STR(pop3_state_name(-1), "?", "name out of range");
	T_EQ_STR(pop3_state_name(POP3_ST_COUNT), "?", "name count");
}

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof dialogs / sizeof dialogs[0]; i++)
		run_dialog(&dialogs[i]);
	test_long_line();
	test_body_exact();
	test_reconnect();
	test_group();
	test_listing_cap();
	test_big_token();
	test_wipe();
	test_local_fail();
	test_probe();
	test_names();
	T_DONE();
}
