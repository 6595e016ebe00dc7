/*
 * t_log.c — event lines byte for byte (SPEC §4), value escaping,
 * truncation, rotation, O_APPEND across processes, console messages and
 * the -v trace.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "file.h"
#include "log.h"
#include "t.h"

#define NOW		"1795137600"
#define STAMP		"2026-11-20T01:20:00Z"

static char top[64];
static char big[1 << 20];

static const char *
slurp(const char *p)
{
	struct err e = { 0, "" };

	if (file_read(p, big, sizeof big, 0, &e) < 0)
		return "(unreadable)";
	return big;
}

static void
conf_for(struct conf_main *m, const char *rel, long long max)
{
	memset(m, 0, sizeof *m);
	if (rel != NULL)
		snprintf(m->log, sizeof m->log, "%s/%s", top, rel);
	m->log_max_size = max;
}

/* The part of an event line after "STAMP event", NUL-terminated. */
static const char *
pairs(struct logline *l, const char *event)
{
	static char out[LOG_LINE_MAX + 1];
	size_t skip = sizeof STAMP + strlen(event);

	if (l->len < skip)
		return "(short)";
	memcpy(out, l->buf + skip, l->len - skip);
	out[l->len - skip] = '\0';
	return out;
}

static void
test_values(void)
{
	static const struct {
		const char *val;
		size_t n;
		const char *want;
	} v[] = {
		{ "abc", 3, " k=abc" },
		{ "user@example.com", 16, " k=user@example.com" },
		{ "!#$%&'()*+,-./:;<>?@[]^_`{|}~", 29,
		    " k=!#$%&'()*+,-./:;<>?@[]^_`{|}~" },
		{ "a b", 3, " k=\"a b\"" },
		{ " ", 1, " k=\" \"" },
		{ "say \"hi\"", 8, " k=\"say \\\"hi\\\"\"" },
		{ "a\\b", 3, " k=\"a\\\\b\"" },
		{ "a=b", 3, " k=\"a=b\"" },
		{ "=", 1, " k=\"=\"" },
		{ "", 0, " k=\"\"" },
		{ "ok\r\n", 4, " k=\"ok\\x0D\\x0A\"" },
		{ "\xff", 1, " k=\"\\xFF\"" },
		{ "a\0b", 3, " k=\"a\\x00b\"" },
		{ "\t", 1, " k=\"\\x09\"" },
		{ "\x7f", 1, " k=\"\\x7F\"" },
		{ "caf\xc3\xa9", 5, " k=\"caf\\xC3\\xA9\"" },
		{ "-ERR [AUTH] invalid credentials", 31,
		    " k=\"-ERR [AUTH] invalid credentials\"" },
	};
	static const struct {
		long long v;
		const char *want;
	} iv[] = {
		{ 0, " n=0" },
		{ -5, " n=-5" },
		{ LLONG_MAX, " n=9223372036854775807" },
		{ LLONG_MIN, " n=-9223372036854775808" },
	};
	struct logline l;
	char msg[96];
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		log_begin(&l, "ev");
		log_mem(&l, "k", v[i].val, v[i].n);
		snprintf(msg, sizeof msg, "value %zu (%s)", i, v[i].want);
		T_EQ_STR(pairs(&l, "ev"), v[i].want, msg);
		/* log_str gives the same when there is no NUL inside. */
		if (memchr(v[i].val, '\0', v[i].n) == NULL) {
			log_begin(&l, "ev");
			log_str(&l, "k", v[i].val);
			snprintf(msg, sizeof msg, "log_str value %zu", i);
			T_EQ_STR(pairs(&l, "ev"), v[i].want, msg);
		}
	}
	log_begin(&l, "ev");
	log_str(&l, "k", NULL);
	T_EQ_STR(pairs(&l, "ev"), " k=\"\"", "log_str NULL is empty");
	for (i = 0; i < sizeof iv / sizeof iv[0]; i++) {
		log_begin(&l, "ev");
		log_int(&l, "n", iv[i].v);
		snprintf(msg, sizeof msg, "log_int %s", iv[i].want);
		T_EQ_STR(pairs(&l, "ev"), iv[i].want, msg);
	}
}

static void
test_escape(void)
{
	static const struct {
		const char *pre;
		size_t cap;
		const char *src;
		size_t n;
		const char *want;
	} v[] = {
		{ "", 64, "plain", 5, "plain" },
		{ "", 64, "a\"b\\c", 5, "a\\\"b\\\\c" },
		{ "", 64, "\r\n\0\xff", 4, "\\x0D\\x0A\\x00\\xFF" },
		{ "pre:", 64, "x y=z", 5, "pre:x y=z" },
		{ "", 4, "abcdef", 6, "abc" },
		{ "", 4, "\n", 1, "" },
		{ "", 5, "a\n", 2, "a" },
		{ "", 6, "a\nb", 3, "a\\x0A" },
		{ "", 3, "\"x", 2, "\\\"" },
		{ "", 1, "abc", 3, "" },
		{ "ab", 3, "c", 1, "ab" },
	};
	char dst[64], msg[96];
	size_t i, r;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		memset(dst, '#', sizeof dst);
		snprintf(dst, sizeof dst, "%s", v[i].pre);
		r = log_escape(dst, v[i].cap, v[i].src, v[i].n);
		snprintf(msg, sizeof msg, "escape %zu: bytes", i);
		T_EQ_STR(dst, v[i].want, msg);
		snprintf(msg, sizeof msg, "escape %zu: length", i);
		T_EQ_INT(r, strlen(v[i].want), msg);
		snprintf(msg, sizeof msg, "escape %zu: nothing past cap", i);
		T_OK(v[i].cap >= sizeof dst || dst[v[i].cap] == '#' ||
		    strlen(v[i].pre) >= v[i].cap, msg);
	}
	memset(dst, '#', sizeof dst);
	T_EQ_INT(log_escape(dst, 0, "x", 1), 0, "escape cap 0: 0");
	T_OK(dst[0] == '#', "escape cap 0: untouched");
	memset(dst, 'X', 4);
	T_EQ_INT(log_escape(dst, 4, "y", 1), 3, "escape unterminated dst");
	T_OK(memcmp(dst, "XXX", 4) == 0, "unterminated dst: cut and ended");
}

static void
test_time(void)
{
	static const struct {
		long long t;
		const char *want;
	} v[] = {
		{ 0, "1970-01-01T00:00:00Z" },
		{ 1795137600, STAMP },
		{ 1795310400, "2026-11-22T01:20:00Z" },
		{ 951782400, "2000-02-29T00:00:00Z" },
		{ 951868799, "2000-02-29T23:59:59Z" },
		{ 4107542399LL, "2100-02-28T23:59:59Z" },
		{ 4107542400LL, "2100-03-01T00:00:00Z" },
		{ 2147483648LL, "2038-01-19T03:14:08Z" },
		{ -1, "1970-01-01T00:00:00Z" },
		{ 253402300799LL, "9999-12-31T23:59:59Z" },
		{ LLONG_MAX, "9999-12-31T23:59:59Z" },
	};
	char buf[32], want[32];
	struct tm tm;
	time_t tt;
	long long t;
	size_t i;
	int bad = 0;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		memset(buf, '#', sizeof buf);
		log_time(v[i].t, buf);
		T_EQ_STR(buf, v[i].want, v[i].want);
	}
	/* Agree with the C library over 1970..2400, odd steps. */
	for (t = 0; t < 13569465600LL; t += 86400 * 3 + 3607) {
		tt = (time_t)t;
		gmtime_r(&tt, &tm);
		strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%SZ", &tm);
		log_time(t, buf);
		if (strcmp(buf, want) != 0 && bad++ < 3)
			printf("# %lld: %s != %s\n", t, buf, want);
	}
	T_EQ_INT(bad, 0, "log_time agrees with gmtime_r 1970..2400");
}

static void
test_lines(void)
{
	static const char want[] =
	    STAMP " fetch account=work service=pop3 result=ok new=3"
	    " bytes=48213 deleted=0 ms=820\n"
	    STAMP " auth account=work service=pop3 result=fail"
	    " failures=4/10 error=\"-ERR [AUTH] invalid credentials\"\n"
	    STAMP " disabled account=work service=pop3 reason=auth"
	    " failures=10\n";
	struct conf_main m;
	struct logline l;
	struct stat sb;
	struct err e = { 0, "" };
	char p[512], link[256], want_path[256];
	int fd, flags, found = 0;

	conf_for(&m, "events.log", 0);
	T_EQ_INT(log_open(&m, &e), 0, "log_open");
	T_EQ_INT(log_now(), 1795137600, "log_now honours TERN_TEST_NOW");

	log_begin(&l, "fetch");
	log_str(&l, "account", "work");
	log_str(&l, "service", "pop3");
	log_str(&l, "result", "ok");
	log_int(&l, "new", 3);
	log_int(&l, "bytes", 48213);
	log_int(&l, "deleted", 0);
	log_int(&l, "ms", 820);
	log_end(&l);
	log_begin(&l, "auth");
	log_str(&l, "account", "work");
	log_str(&l, "service", "pop3");
	log_str(&l, "result", "fail");
	log_str(&l, "failures", "4/10");
	log_str(&l, "error", "-ERR [AUTH] invalid credentials");
	log_end(&l);
	log_begin(&l, "disabled");
	log_str(&l, "account", "work");
	log_str(&l, "service", "pop3");
	log_str(&l, "reason", "auth");
	log_int(&l, "failures", 10);
	log_end(&l);

	/* The descriptor: append-only, close-on-exec; the file 0640. */
	snprintf(want_path, sizeof want_path, "%s", m.log);
	for (fd = 3; fd < 256; fd++) {
		char proc[64];
		ssize_t n;

		snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
		n = readlink(proc, link, sizeof link - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (strcmp(link, want_path) != 0)
			continue;
		found++;
		flags = fcntl(fd, F_GETFL);
		T_OK((flags & O_APPEND) && (flags & O_ACCMODE) == O_WRONLY,
		    "log fd: O_WRONLY|O_APPEND");
		T_OK(fcntl(fd, F_GETFD) & FD_CLOEXEC, "log fd: close-on-exec");
	}
	T_EQ_INT(found, 1, "one descriptor on the log");
	log_close();
	T_EQ_STR(slurp(m.log), want, "SPEC §4 lines, exact bytes");
	T_OK(stat(m.log, &sb) == 0 && (sb.st_mode & 0777) == 0640,
	    "log file mode 0640");

	/* Re-opening appends; the same open twice does not leak. */
	T_EQ_INT(log_open(&m, &e), 0, "log_open again");
	T_EQ_INT(log_open(&m, &e), 0, "log_open a third time");
	log_begin(&l, "lock");
	log_end(&l);
	log_close();
	snprintf(p, sizeof p, "%s" STAMP " lock\n", want);
	T_EQ_STR(slurp(m.log), p, "reopen appends");
}

static int
count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n++;
	closedir(d);
	return n;
}

static void
test_open(void)
{
	struct conf_main m, m2;
	struct logline l;
	struct err e;
	char want[512], p[256];
	int before, i;

	/* No file configured: events go nowhere, nothing is created. */
	conf_for(&m, NULL, 0);
	err_clear(&e);
	T_EQ_INT(log_open(&m, &e), 0, "log '' opens");
	log_begin(&l, "fetch");
	log_str(&l, "result", "ok");
	log_end(&l);
	T_EQ_STR(pairs(&l, "fetch"), " result=ok\n", "log '': line built");

	/* A file that cannot be created. */
	conf_for(&m, "no/such/dir/tern.log", 0);
	err_clear(&e);
	T_EQ_INT(log_open(&m, &e), -1, "log in missing dir");
	T_EQ_INT(e.ex, EX_CANTCREAT, "missing dir: EX_CANTCREAT");
	snprintf(want, sizeof want,
	    "%s: cannot open: No such file or directory", m.log);
	T_EQ_STR(e.msg, want, "missing dir: message");
	log_begin(&l, "fetch");
	log_end(&l);
	T_OK(l.len > 0 && l.buf[l.len - 1] == '\n', "still logs nowhere");

	/* Switching files closes the previous one. */
	before = count_fds();
	conf_for(&m, "a.log", 0);
	conf_for(&m2, "b.log", 0);
	for (i = 0; i < 50; i++) {
		log_open(i % 2 ? &m2 : &m, &e);
		log_begin(&l, i % 2 ? "b" : "a");
		log_end(&l);
	}
	T_EQ_INT(count_fds(), before + 1, "50 log_open: one descriptor");
	log_close();
	T_EQ_INT(count_fds(), before, "log_close: none");
	snprintf(p, sizeof p, "%s/a.log", top);
	T_EQ_INT(strlen(slurp(p)), 25 * (sizeof STAMP + 2), "a.log: 25 lines");
	snprintf(p, sizeof p, "%s/b.log", top);
	T_EQ_INT(strlen(slurp(p)), 25 * (sizeof STAMP + 2), "b.log: 25 lines");

	/* syslog on, file off: opens and closes cleanly.  No event is
	 * sent, so a test run leaves nothing in the system's log. */
	conf_for(&m, NULL, 0);
	m.syslog = 1;
	err_clear(&e);
	T_EQ_INT(log_open(&m, &e), 0, "log_open with syslog");
	log_close();
}

static void
test_trunc(void)
{
	static char val[4096], expect[8192];
	struct logline l;
	size_t base = sizeof STAMP + 2, i, n, pad;	/* "STAMP ev" */
	int nl, ok;

	/* Exactly full: no marker. */
	memset(val, 'v', sizeof val);
	log_begin(&l, "ev");
	log_mem(&l, "k", val, LOG_LINE_MAX - 1 - base - 3);
	log_end(&l);
	T_EQ_INT(l.len, LOG_LINE_MAX, "exact fit: LOG_LINE_MAX bytes");
	T_OK(l.buf[l.len - 1] == '\n' && !l.full &&
	    memmem(l.buf, l.len, "trunc", 5) == NULL, "exact fit: no trunc");

	/* One byte more: the pair is dropped. */
	log_begin(&l, "ev");
	log_mem(&l, "k", val, LOG_LINE_MAX - 1 - base - 2);
	T_OK(l.full, "one byte over: full");
	log_end(&l);
	T_EQ_STR(pairs(&l, "ev"), " trunc=1\n", "one byte over: trunc=1");

	/* Less than 8 bytes left: whole pairs go to make room. */
	log_begin(&l, "ev");
	log_str(&l, "a", "x");
	log_mem(&l, "b", val, LOG_LINE_MAX - 4 - (base + 4) - 3);
	T_EQ_INT(l.len, LOG_LINE_MAX - 4, "3 bytes left");
	log_str(&l, "c", "y");
	log_end(&l);
	T_EQ_STR(pairs(&l, "ev"), " a=x trunc=1\n", "no room: pair dropped");

	/* The same with a quoted value full of spaces, quotes and '='. */
	log_begin(&l, "ev");
	log_str(&l, "a", "x");
	n = (size_t)snprintf(val, sizeof val, "say \"hi\" a=b \\ q=\" ");
	expect[0] = '\0';
	pad = LOG_LINE_MAX - 4 - (base + 4) - 3 - 2 -
	    log_escape(expect, sizeof expect, val, n);
	memset(val + n, 'p', pad);
	log_mem(&l, "b", val, n + pad);
	T_EQ_INT(l.len, LOG_LINE_MAX - 4, "quoted: 3 bytes left");
	log_int(&l, "c", 1);
	log_end(&l);
	T_EQ_STR(pairs(&l, "ev"), " a=x trunc=1\n",
	    "quoted value: cut between pairs");

	/* Once full, later pairs are dropped too (a cut, not holes). */
	memset(val, 'v', sizeof val);
	log_begin(&l, "ev");
	log_str(&l, "a", "x");
	log_mem(&l, "big", val, 2000);
	log_str(&l, "b", "y");
	log_end(&l);
	T_EQ_STR(pairs(&l, "ev"), " a=x trunc=1\n", "after full: dropped");

	/* Many small pairs: a prefix of them, cut at a boundary. */
	log_begin(&l, "ev");
	expect[0] = '\0';
	n = 0;
	for (i = 0; i < 400; i++) {
		char k[16], vv[16];

		snprintf(k, sizeof k, "k%zu", i);
		snprintf(vv, sizeof vv, i % 3 ? "v%zu" : "v %zu", i);
		log_str(&l, k, vv);
		n += (size_t)snprintf(expect + n, sizeof expect - n,
		    i % 3 ? " %s=%s" : " %s=\"%s\"", k, vv);
	}
	log_end(&l);
	nl = 0;
	for (i = 0; i < l.len; i++)
		nl += l.buf[i] == '\n';
	T_OK(l.len <= LOG_LINE_MAX && nl == 1 && l.buf[l.len - 1] == '\n',
	    "many pairs: one line within LOG_LINE_MAX");
	n = l.len - base - 9;		/* the pairs before " trunc=1\n" */
	ok = memcmp(l.buf + l.len - 9, " trunc=1\n", 9) == 0 &&
	    memcmp(l.buf + base, expect, n) == 0 && expect[n] == ' ';
	T_OK(ok, "many pairs: a whole-pair prefix, then trunc=1");
	T_OK(l.len > LOG_LINE_MAX - 20, "many pairs: line used");

	/* An absurd event word. */
	val[2000] = '\0';
	log_begin(&l, val);
	log_end(&l);
	T_EQ_INT(l.len, LOG_LINE_MAX, "huge event: LOG_LINE_MAX");
	T_OK(memcmp(l.buf, STAMP " vvv", sizeof STAMP + 3) == 0 &&
	    memcmp(l.buf + l.len - 9, " trunc=1\n", 9) == 0,
	    "huge event: stamp, cut, trunc=1");
}

static void
line_to(const char *event, const char *pad)
{
	struct logline l;

	log_begin(&l, event);
	log_str(&l, "pad", pad);
	log_end(&l);
}

static void
test_rotate(void)
{
	char pad[48], p[300], p1[300], want[256];
	struct conf_main m;
	struct err e = { 0, "" };
	size_t one;

	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	/* "STAMP e1 pad=xxx\n" */
	one = sizeof STAMP + 2 + 5 + strlen(pad) + 1;

	conf_for(&m, "rot.log", (long long)(one + one / 2));
	snprintf(p, sizeof p, "%s", m.log);
	snprintf(p1, sizeof p1, "%s.1", m.log);
	log_open(&m, &e);
	line_to("e1", pad);
	T_EQ_INT(strlen(slurp(p)), one, "rotate: first line");
	T_OK(access(p1, F_OK) != 0, "rotate: no .1 yet");
	line_to("e2", pad);
	snprintf(want, sizeof want, STAMP " e1 pad=%s\n", pad);
	T_EQ_STR(slurp(p1), want, "rotate: FILE.1 holds the old line");
	snprintf(want, sizeof want, STAMP " e2 pad=%s\n", pad);
	T_EQ_STR(slurp(p), want, "rotate: FILE holds only the new line");
	line_to("e3", pad);
	T_EQ_STR(slurp(p1), want, "rotate again: FILE.1 replaced");
	snprintf(want, sizeof want, STAMP " e3 pad=%s\n", pad);
	T_EQ_STR(slurp(p), want, "rotate again: FILE new");

	/* Someone else rotated first: follow, do not rotate their file. */
	if (rename(p, p1) != 0 || file_replace(p, "other\n", 6, &e) != 0)
		printf("# setup failed\n");
	line_to("e4", pad);
	T_EQ_STR(slurp(p1), want, "foreign rotation: FILE.1 kept");
	snprintf(want, sizeof want, "other\n" STAMP " e4 pad=%s\n", pad);
	T_EQ_STR(slurp(p), want, "foreign rotation: appended to new FILE");
	log_close();

	/* log_max_size 0: never rotate. */
	conf_for(&m, "norot.log", 0);
	log_open(&m, &e);
	line_to("e1", pad);
	line_to("e2", pad);
	line_to("e3", pad);
	log_close();
	T_EQ_INT(strlen(slurp(m.log)), 3 * one, "max 0: no rotation");
	snprintf(p1, sizeof p1, "%s.1", m.log);
	T_OK(access(p1, F_OK) != 0, "max 0: no FILE.1");

	/* A single line larger than the limit still goes out. */
	conf_for(&m, "tiny.log", 10);
	log_open(&m, &e);
	line_to("e1", pad);
	log_close();
	T_EQ_INT(strlen(slurp(m.log)), one, "line over the limit: written");
}

/* Two processes, two descriptors, O_APPEND: only whole lines. */
static void
test_append(void)
{
	enum { N = 400 };
	struct conf_main m;
	struct logline l;
	struct err e = { 0, "" };
	char pad[300], want[512], *p, *nl;
	static char seen[2][N];
	int i, who, k, st, bad = 0, lines = 0;
	pid_t pid;

	memset(pad, 'z', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	conf_for(&m, "two.log", 0);
	pid = fork();
	who = pid == 0;
	log_open(&m, &e);
	for (i = 0; i < N; i++) {
		log_begin(&l, "queue");
		log_str(&l, "who", who ? "child" : "parent");
		log_int(&l, "n", i);
		log_str(&l, "pad", pad);
		log_end(&l);
	}
	log_close();
	if (pid == 0)
		_exit(0);
	waitpid(pid, &st, 0);

	memset(seen, 0, sizeof seen);
	p = (char *)slurp(m.log);
	while ((nl = strchr(p, '\n')) != NULL) {
		*nl = '\0';
		lines++;
		for (who = 0; who < 2; who++) {
			k = sscanf(p, STAMP " queue who=%*[a-z] n=%d", &i);
			snprintf(want, sizeof want, STAMP
			    " queue who=%s n=%d pad=%s",
			    who ? "child" : "parent", k == 1 ? i : -1, pad);
			if (k == 1 && i >= 0 && i < N &&
			    strcmp(p, want) == 0) {
				seen[who][i]++;
				break;
			}
		}
		if (who == 2)
			bad++;
		p = nl + 1;
	}
	T_EQ_INT(*p, '\0', "two writers: file ends with a newline");
	T_EQ_INT(bad, 0, "two writers: every line whole");
	T_EQ_INT(lines, 2 * N, "two writers: every line there");
	for (who = 0, k = 0; who < 2; who++)
		for (i = 0; i < N; i++)
			k += seen[who][i] != 1;
	T_EQ_INT(k, 0, "two writers: each line exactly once");
}

/* stderr into a file while fn runs; returns what was written. */
static int saved_err = -1;

static void
cap_start(void)
{
	char p[256];
	int fd;

	snprintf(p, sizeof p, "%s/stderr", top);
	fflush(stderr);
	saved_err = dup(2);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
}

static const char *
cap_end(void)
{
	char p[256];

	dup2(saved_err, 2);
	close(saved_err);
	snprintf(p, sizeof p, "%s/stderr", top);
	return slurp(p);
}

static void
test_console(void)
{
	static const struct {
		int verb;
		const char *want;
	} v[] = {
		{ LOG_QUIET, "tern: e 1\n" },
		{ LOG_NORMAL, "tern: e 1\ntern: w 2\n" },
		{ LOG_TRACE, "tern: e 1\ntern: w 2\ntern: i 3\n" },
	};
	static char longmsg[3000];
	char msg[64];
	const char *got;
	size_t i;

	T_EQ_INT(log_verbosity(), LOG_NORMAL, "default verbosity normal");
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		log_set_verbosity(v[i].verb);
		T_EQ_INT(log_verbosity(), v[i].verb, "verbosity set");
		cap_start();
		log_error("e %d", 1);
		log_warn("w %d", 2);
		log_info("i %d", 3);
		got = cap_end();
		snprintf(msg, sizeof msg, "console at verbosity %d",
		    v[i].verb);
		T_EQ_STR(got, v[i].want, msg);
	}
	memset(longmsg, 'm', sizeof longmsg - 1);
	cap_start();
	log_error("%s", longmsg);
	got = cap_end();
	T_EQ_INT(strlen(got), LOG_LINE_MAX - 1, "long message: bounded");
	T_OK(strncmp(got, "tern: mmm", 9) == 0 &&
	    got[strlen(got) - 1] == '\n', "long message: one line");
	log_set_verbosity(LOG_NORMAL);
}

static void
test_trace(void)
{
	static const struct {
		const char *in;
		size_t n;
		const char *want;
	} v[] = {
#define S(x)	x, sizeof x - 1
		{ S("+OK ready\r\n"), "s < +OK ready\n" },
		{ S("+OK 2 messages\r\n1 120\r\n.\r\n"),
		    "s < +OK 2 messages\ns < 1 120\ns < .\n" },
		{ S("bare\nlf"), "s < bare\\x0A\ns < lf\n" },
		{ S("cr\r"), "s < cr\\x0D\n" },
		{ S("\x01\tq\"\\\xff\r\n"), "s < \\x01\\x09q\"\\\\\\xFF\n" },
		{ S("\r\n"), "s < \n" },
		{ S("a\0b\r\n"), "s < a\\x00b\n" },
		{ S(""), "" },
#undef S
	};
	static char in[3000], want[4000];
	const char *got;
	char msg[64];
	size_t i;

	log_set_verbosity(LOG_NORMAL);
	cap_start();
	log_trace("s", "<", "+OK\r\n", 5);
	T_EQ_STR(cap_end(), "", "no trace without -v");

	log_set_verbosity(LOG_TRACE);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		cap_start();
		log_trace("s", "<", v[i].in, v[i].n);
		got = cap_end();
		snprintf(msg, sizeof msg, "trace %zu", i);
		T_EQ_STR(got, v[i].want, msg);
	}
	/* A line longer than the buffer: every byte still shown. */
	memset(in, 'L', sizeof in);
	memcpy(in + sizeof in - 2, "\r\n", 2);
	snprintf(want, sizeof want, "work/pop3 > %.*s\n",
	    (int)sizeof in - 2, in);
	cap_start();
	log_trace("work/pop3", ">", in, sizeof in);
	T_EQ_STR(cap_end(), want, "trace long line: whole");
	log_set_verbosity(LOG_NORMAL);
}

/* A log that cannot be written is said once on stderr, not per line. */
static void
test_write_fail(void)
{
	struct conf_main m;
	struct rlimit old, rl;
	struct err e = { 0, "" };
	char want[512], got[512];
	void (*prev)(int);
	int pfd[2];
	ssize_t n;

	conf_for(&m, "full.log", 0);
	log_open(&m, &e);
	line_to("e1", "x");
	prev = signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	rl = old;
	rl.rlim_cur = 10;
	setrlimit(RLIMIT_FSIZE, &rl);
	/* stderr into a pipe: the size limit would cut a file. */
	fflush(stderr);
	saved_err = dup(2);
	if (pipe(pfd) != 0)
		return;
	dup2(pfd[1], 2);
	close(pfd[1]);
	line_to("e2", "x");
	line_to("e3", "x");
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, prev);
	dup2(saved_err, 2);
	close(saved_err);
	n = read(pfd[0], got, sizeof got - 1);
	got[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	snprintf(want, sizeof want, "tern: %s: write: File too large\n",
	    m.log);
	T_EQ_STR(got, want, "write failure: said once on stderr");
	log_close();
	T_EQ_STR(slurp(m.log), STAMP " e1 pad=x\n",
	    "write failure: earlier line intact");
}

int
main(void)
{
	char rm[256];

	umask(022);
	setenv("TERN_TEST_NOW", NOW, 1);
	snprintf(top, sizeof top, "/tmp/t_log.XXXXXX");
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	test_console();
	test_values();
	test_escape();
	test_time();
	test_lines();
	test_open();
	test_trunc();
	test_rotate();
	test_append();
	test_trace();
	test_write_fail();
	snprintf(rm, sizeof rm, "rm -rf %s", top);
	if (system(rm) != 0)
		printf("# could not remove %s\n", top);
	T_DONE();
}
