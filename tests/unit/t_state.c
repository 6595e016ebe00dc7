/*
 * t_state.c — the state file: exact format, round trips, every torn and
 * damaged variant rejected, load/save through a temp dir, error texts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file.h"
#include "state.h"
#include "t.h"

static char top[64];

/* Checksums of the expected files below were computed independently
 * (Python); t_fnv builds crafted files for the rejection table. */
static const char sample_text[] =
    "version=1\n"
    "auth_failures=3\n"
    "conn_failures=0\n"
    "last_success=1795137600\n"
    "last_error_time=1795141200\n"
    "last_error=-ERR [AUTH] invalid \"x\"\\\\ \\x0A\\x09\\xC3\\xA9 a=b\n"
    "disabled=auth\n"
    "disabled_since=1795141200\n"
    "auth_fp=0123456789abcdef0123456789abcdef"
    "0123456789abcdef0123456789abcdef\n"
    "conn_fp=\n"
    "check=104eb285a7858c7e\n";

static const char zero_text[] =
    "version=1\n"
    "auth_failures=0\n"
    "conn_failures=0\n"
    "last_success=0\n"
    "last_error_time=0\n"
    "last_error=\n"
    "disabled=none\n"
    "disabled_since=0\n"
    "auth_fp=\n"
    "conn_fp=\n"
    "check=e61d634ac675f465\n";

static void
sample(struct state *st)
{
	memset(st, 0, sizeof *st);
	st->auth_failures = 3;
	st->last_success = 1795137600;
	st->last_error_time = 1795141200;
	snprintf(st->last_error, sizeof st->last_error, "%s",
	    "-ERR [AUTH] invalid \"x\"\\ \n\t\xc3\xa9 a=b");
	st->disabled = DIS_AUTH;
	st->disabled_since = 1795141200;
	snprintf(st->auth_fp, sizeof st->auth_fp, "%s%s",
	    "0123456789abcdef0123456789abcdef",
	    "0123456789abcdef0123456789abcdef");
}

static int
same(const struct state *a, const struct state *b)
{
	return a->auth_failures == b->auth_failures &&
	    a->conn_failures == b->conn_failures &&
	    a->last_success == b->last_success &&
	    a->last_error_time == b->last_error_time &&
	    strcmp(a->last_error, b->last_error) == 0 &&
	    a->disabled == b->disabled &&
	    a->disabled_since == b->disabled_since &&
	    strcmp(a->auth_fp, b->auth_fp) == 0 &&
	    strcmp(a->conn_fp, b->conn_fp) == 0;
}

static int
is_zero(const struct state *st)
{
	struct state z;

	memset(&z, 0, sizeof z);
	return same(st, &z);
}

static unsigned long long
t_fnv(const char *p, size_t n)
{
	unsigned long long h = 14695981039346656037ULL;

	while (n-- > 0) {
		h ^= (unsigned char)*p++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* body + a correct check line into buf. */
static size_t
sealed(const char *body, size_t n, char *buf, size_t cap)
{
	int r;

	memcpy(buf, body, n);
	r = snprintf(buf + n, cap - n, "check=%016llx\n", t_fnv(body, n));
	return n + (size_t)r;
}

static void
test_names(void)
{
	T_EQ_STR(state_svc_name(SVC_POP3), "pop3", "svc name pop3");
	T_EQ_STR(state_svc_name(SVC_SMTP), "smtp", "svc name smtp");
	T_EQ_STR(state_svc_name(SVC_N), "unknown", "svc name out of range");
	T_EQ_STR(state_svc_name(-1), "unknown", "svc name negative");
	T_EQ_STR(state_reason_name(DIS_NONE), "", "reason none");
	T_EQ_STR(state_reason_name(DIS_AUTH), "auth", "reason auth");
	T_EQ_STR(state_reason_name(DIS_CONNECT), "connect", "reason connect");
	T_EQ_STR(state_reason_name(DIS_MANUAL), "manual", "reason manual");
	T_EQ_STR(state_reason_name(9), "unknown", "reason out of range");
}

static void
test_format(void)
{
	char buf[STATE_FILE_MAX], small[16];
	struct state st;
	size_t n;

	sample(&st);
	n = state_format(&st, buf, sizeof buf);
	T_EQ_INT(n, strlen(sample_text), "format: length");
	T_EQ_STR(buf, sample_text, "format: exact bytes");
	memset(&st, 0, sizeof st);
	n = state_format(&st, buf, sizeof buf);
	T_EQ_STR(buf, zero_text, "format zero state: exact bytes");
	T_EQ_INT(n, strlen(zero_text), "format zero state: length");

	/* A small buffer: full length returned, output cut and ended. */
	n = state_format(&st, small, sizeof small);
	T_EQ_INT(n, strlen(zero_text), "format small buf: full length");
	T_EQ_STR(small, "version=1\nauth_", "format small buf: cut, NUL");

	/* An out-of-range reason is written as none. */
	st.disabled = 42;
	state_format(&st, buf, sizeof buf);
	T_EQ_STR(buf, zero_text, "format bad reason: none");
}

static void
fill_extremes(struct state *v, int n)
{
	int i, k;

	memset(v, 0, sizeof *v * (size_t)n);
	sample(&v[0]);
	v[1].auth_failures = INT_MAX;
	v[1].conn_failures = INT_MIN;
	v[1].last_success = LLONG_MAX;
	v[1].last_error_time = LLONG_MIN;
	v[1].disabled_since = -1;
	v[1].disabled = DIS_MANUAL;
	/* Bytes 1..159 (longest string), backslashes, high bytes. */
	for (i = 0; i < (int)sizeof v[2].last_error - 1; i++)
		v[2].last_error[i] = (char)(i % 255 + 1);
	for (i = 0; i < 64; i++) {
		v[2].auth_fp[i] = '\\';
		v[2].conn_fp[i] = (char)(0xff - i);
	}
	v[2].disabled = DIS_CONNECT;
	v[2].conn_failures = 50;
	snprintf(v[3].last_error, sizeof v[3].last_error,
	    "\\x41 is not A, \\\\ is two, = and check=0 stay");
	snprintf(v[3].conn_fp, sizeof v[3].conn_fp, "%s", "\nversion=2\n");
	for (k = 4; k < n; k++) {
		v[k].auth_failures = k;
		v[k].last_error[0] = (char)(k * 37);
		if (v[k].last_error[0] == '\0')
			v[k].last_error[0] = 'z';
		v[k].disabled = k % 4;
	}
}

static void
test_roundtrip(void)
{
	struct state v[8], got;
	char buf[STATE_FILE_MAX], why[64], msg[64];
	size_t n, i;

	fill_extremes(v, 8);
	for (i = 0; i < 8; i++) {
		n = state_format(&v[i], buf, sizeof buf);
		snprintf(msg, sizeof msg, "round trip %zu: fits", i);
		T_OK(n < sizeof buf, msg);
		snprintf(msg, sizeof msg, "round trip %zu: parses", i);
		T_EQ_INT(state_parse(buf, n, &got, why, sizeof why), 0, msg);
		snprintf(msg, sizeof msg, "round trip %zu: same state", i);
		T_OK(same(&got, &v[i]), msg);
	}
}

/*
 * Damage valid files every way a disk or a crash could: cut at every
 * length, one bit flipped at every position, a block of NULs, a block
 * lost.  Each must be rejected or give back the very same state.
 */
static void
test_torn(void)
{
	struct state v[8], got;
	char buf[STATE_FILE_MAX], bad[STATE_FILE_MAX], why[64], msg[96];
	size_t n, i, cut, bit, len, k;
	int wrong, accepted, r;

	fill_extremes(v, 8);
	for (k = 0; k < 4; k++) {
		n = state_format(&v[k], buf, sizeof buf);
		wrong = accepted = 0;
		for (cut = 0; cut < n; cut++) {
			r = state_parse(buf, cut, &got, why, sizeof why);
			if (r == 0)
				accepted++;
			if (r == 0 && !same(&got, &v[k]))
				wrong++;
			if (r != 0 && !is_zero(&got))
				wrong++;
		}
		snprintf(msg, sizeof msg,
		    "state %zu cut at each of %zu offsets: never another state",
		    k, n);
		T_EQ_INT(wrong, 0, msg);
		snprintf(msg, sizeof msg, "state %zu: every cut rejected", k);
		T_EQ_INT(accepted, 0, msg);

		wrong = 0;
		for (i = 0; i < n; i++)
			for (bit = 0; bit < 8; bit++) {
				memcpy(bad, buf, n);
				bad[i] ^= (char)(1 << bit);
				if (state_parse(bad, n, &got, why,
				    sizeof why) == 0)
					wrong++;
			}
		snprintf(msg, sizeof msg, "state %zu: every bit flip rejected",
		    k);
		T_EQ_INT(wrong, 0, msg);

		wrong = 0;
		for (len = 1; len <= 64; len *= 4)
			for (i = 0; i + len <= n; i++) {
				memcpy(bad, buf, n);
				memset(bad + i, 0, len);
				if (state_parse(bad, n, &got, why,
				    sizeof why) == 0)
					wrong++;
				memcpy(bad, buf, i);
				memcpy(bad + i, buf + i + len, n - i - len);
				if (state_parse(bad, n - len, &got, why,
				    sizeof why) == 0)
					wrong++;
			}
		snprintf(msg, sizeof msg,
		    "state %zu: zeroed or lost blocks rejected", k);
		T_EQ_INT(wrong, 0, msg);
	}
}

static void
test_reject(void)
{
	static const struct {
		const char *name;
		const char *body;	/* sealed with a good check line */
		const char *why;
	} v[] = {
		{ "version 2", "version=2\nauth_failures=0\nconn_failures=0\n"
		    "last_success=0\nlast_error_time=0\nlast_error=\n"
		    "disabled=none\ndisabled_since=0\nauth_fp=\nconn_fp=\n",
		    "unknown version 2" },
		{ "version word", "version=one\n", "bad version" },
		{ "no version", "auth_failures=0\n", "missing version" },
		{ "number word", "version=1\nauth_failures=abc\n",
		    "bad auth_failures" },
		{ "number plus", "version=1\nauth_failures=+5\n",
		    "bad auth_failures" },
		{ "number space", "version=1\nauth_failures= 5\n",
		    "bad auth_failures" },
		{ "number empty", "version=1\nauth_failures=\n",
		    "bad auth_failures" },
		{ "int overflow", "version=1\nauth_failures=2147483648\n",
		    "bad auth_failures" },
		{ "ll overflow", "version=1\nauth_failures=0\n"
		    "conn_failures=0\nlast_success=9223372036854775808\n",
		    "bad last_success" },
		{ "unknown key", "version=1\ncolour=blue\n", "unknown key" },
		{ "key out of place", "version=1\nconn_failures=0\n",
		    "missing auth_failures" },
		{ "no equals", "version=1\nauth_failures\n", "malformed line" },
		{ "missing keys", "version=1\nauth_failures=0\n",
		    "missing conn_failures" },
		{ "extra key", "version=1\nauth_failures=0\nconn_failures=0\n"
		    "last_success=0\nlast_error_time=0\nlast_error=\n"
		    "disabled=none\ndisabled_since=0\nauth_fp=\nconn_fp=\n"
		    "extra=1\n", "unknown key" },
		{ "duplicate key", "version=1\nauth_failures=0\n"
		    "conn_failures=0\nlast_success=0\nlast_error_time=0\n"
		    "last_error=\ndisabled=none\ndisabled_since=0\nauth_fp=\n"
		    "conn_fp=\nconn_fp=\n", "duplicate conn_fp" },
		{ "repeated key", "version=1\nauth_failures=0\n"
		    "auth_failures=0\n", "duplicate auth_failures" },
		{ "garbage line", "version=1\nauth_failures=0\n"
		    "conn_failures=0\nlast_success=0\nlast_error_time=0\n"
		    "last_error=\ndisabled=none\ndisabled_since=0\nauth_fp=\n"
		    "conn_fp=\nwhat\n", "unknown key" },
		{ "bad reason", "version=1\nauth_failures=0\nconn_failures=0\n"
		    "last_success=0\nlast_error_time=0\nlast_error=\n"
		    "disabled=maybe\n", "bad disabled" },
		{ "raw control byte", "version=1\nauth_failures=0\n"
		    "conn_failures=0\nlast_success=0\nlast_error_time=0\n"
		    "last_error=a\tb\n", "bad last_error" },
		{ "escaped NUL", "version=1\nauth_failures=0\n"
		    "conn_failures=0\nlast_success=0\nlast_error_time=0\n"
		    "last_error=a\\x00b\n", "bad last_error" },
		{ "bad escape", "version=1\nauth_failures=0\n"
		    "conn_failures=0\nlast_success=0\nlast_error_time=0\n"
		    "last_error=a\\nb\n", "bad last_error" },
		{ "half escape", "version=1\nauth_failures=0\n"
		    "conn_failures=0\nlast_success=0\nlast_error_time=0\n"
		    "last_error=a\\x4\n", "bad last_error" },
		{ "fp too long", "version=1\nauth_failures=0\nconn_failures=0\n"
		    "last_success=0\nlast_error_time=0\nlast_error=\n"
		    "disabled=none\ndisabled_since=0\nauth_fp="
		    "0123456789abcdef0123456789abcdef"
		    "0123456789abcdef0123456789abcdef0\n", "bad auth_fp" },
	};
	static const struct {
		const char *name;
		const char *text;	/* as is */
		const char *why;
	} raw[] = {
		{ "empty", "", "empty" },
		{ "no newline at end", "version=1", "truncated" },
		{ "no check line", "version=1\n", "no check line" },
		{ "garbage", "\x7f" "ELF\x02\x01\n", "no check line" },
		{ "check cut", "version=1\ncheck=0123\n", "no check line" },
		{ "check upper", "version=1\ncheck=0123456789ABCDEF\n",
		    "bad check line" },
		{ "check not hex", "version=1\ncheck=0123456789abcdeg\n",
		    "bad check line" },
		{ "check mismatch", "version=1\ncheck=0123456789abcdef\n",
		    "checksum mismatch" },
		{ "only check", "check=cbf29ce484222325\n", "missing version" },
	};
	static const char lower[] = "version=1\nauth_failures=0\n"
	    "conn_failures=0\nlast_success=0\nlast_error_time=0\n"
	    "last_error=\\x0a\\x5C\ndisabled=none\ndisabled_since=0\n"
	    "auth_fp=\nconn_fp=\n";
	char buf[STATE_FILE_MAX], why[64], msg[96];
	struct state st;
	size_t i, n;
	int r;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		n = sealed(v[i].body, strlen(v[i].body), buf, sizeof buf);
		memset(&st, 0x5a, sizeof st);
		why[0] = '\0';
		r = state_parse(buf, n, &st, why, sizeof why);
		snprintf(msg, sizeof msg, "reject %s", v[i].name);
		T_EQ_INT(r, -1, msg);
		snprintf(msg, sizeof msg, "reject %s: why", v[i].name);
		T_EQ_STR(why, v[i].why, msg);
		snprintf(msg, sizeof msg, "reject %s: state zeroed", v[i].name);
		T_OK(is_zero(&st), msg);
	}
	for (i = 0; i < sizeof raw / sizeof raw[0]; i++) {
		why[0] = '\0';
		r = state_parse(raw[i].text, strlen(raw[i].text), &st, why,
		    sizeof why);
		snprintf(msg, sizeof msg, "reject %s", raw[i].name);
		T_EQ_INT(r, -1, msg);
		snprintf(msg, sizeof msg, "reject %s: why", raw[i].name);
		T_EQ_STR(why, raw[i].why, msg);
	}
	/* A NUL inside the data, and no room for why at all. */
	memcpy(buf, zero_text, sizeof zero_text);
	buf[3] = '\0';
	T_EQ_INT(state_parse(buf, strlen(zero_text), &st, NULL, 0), -1,
	    "reject NUL byte, why NULL");
	/* Upper-case \xNN is what we write; lower case is read as well. */
	n = sealed(lower, strlen(lower), buf, sizeof buf);
	T_EQ_INT(state_parse(buf, n, &st, why, sizeof why), 0,
	    "lower-case escapes read");
	T_EQ_STR(st.last_error, "\n\\", "lower-case escapes: value");
}

static int
count_names(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

static void
put_file(const char *p, const char *s, size_t n)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd < 0 || write(fd, s, n) != (ssize_t)n) {
		perror(p);
		exit(2);
	}
	close(fd);
}

struct outcome {
	int r;
	struct err e;
};

/* state_save as an unprivileged user (as root: nobody). */
static struct outcome
save_unprivileged(const char *dir)
{
	struct outcome o = { -2, { 0, "" } };
	struct state st;
	int pfd[2], status;
	pid_t pid;

	if (pipe(pfd) != 0)
		return o;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		if (geteuid() == 0 && (setgid(65534) != 0 ||
		    setuid(65534) != 0))
			_exit(3);
		sample(&st);
		o.r = state_save(dir, "work", SVC_POP3, &st, &o.e);
		if (write(pfd[1], &o, sizeof o) != (ssize_t)sizeof o)
			_exit(4);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &o, sizeof o) != (ssize_t)sizeof o)
		o.r = -3;
	close(pfd[0]);
	waitpid(pid, &status, 0);
	return o;
}

static void
test_load_save(void)
{
	char dir[128], p[256], want[512], big[5000];
	struct state st, got;
	struct outcome o;
	struct stat sb;
	struct err e;
	int r;

	/* Absent: zeroed, 0, no message. */
	snprintf(dir, sizeof dir, "%s/state/sub", top);
	memset(&got, 0x5a, sizeof got);
	err_clear(&e);
	T_EQ_INT(state_load(dir, "work", SVC_POP3, &got, &e), 0,
	    "load absent (no dir)");
	T_OK(is_zero(&got) && e.ex == 0 && e.msg[0] == '\0',
	    "load absent: zeroed, no message");

	/* Save creates the directory (0700), the file is exact (0600). */
	sample(&st);
	err_clear(&e);
	T_EQ_INT(state_save(dir, "work", SVC_POP3, &st, &e), 0, "save");
	T_OK(stat(dir, &sb) == 0 && (sb.st_mode & 0777) == 0700,
	    "save: dir created 0700");
	snprintf(p, sizeof p, "%s/work.pop3", dir);
	T_OK(stat(p, &sb) == 0 && (sb.st_mode & 0777) == 0600,
	    "save: file work.pop3 0600");
	{
		char buf[STATE_FILE_MAX];

		T_EQ_INT(file_read(p, buf, sizeof buf, 0, &e),
		    (long)strlen(sample_text), "save: length");
		T_EQ_STR(buf, sample_text, "save: exact bytes");
	}
	T_EQ_INT(count_names(dir), 1, "save: no temp files left");
	memset(&got, 0, sizeof got);
	T_EQ_INT(state_load(dir, "work", SVC_POP3, &got, &e), 0, "load");
	T_OK(same(&got, &st), "load: same state");
	T_EQ_INT(state_load(dir, "work", SVC_SMTP, &got, &e), 0,
	    "load other service: absent");
	T_OK(is_zero(&got), "other service: zero");

	/* Overwrite, with a trailing slash on the directory. */
	st.conn_failures = 7;
	snprintf(want, sizeof want, "%s/", dir);
	T_EQ_INT(state_save(want, "work", SVC_SMTP, &st, &e), 0,
	    "save smtp, dir with slash");
	T_EQ_INT(state_load(dir, "work", SVC_SMTP, &got, &e), 0,
	    "load smtp");
	T_OK(same(&got, &st), "load smtp: same state");
	T_EQ_INT(count_names(dir), 2, "two files");

	/* Damaged files: 1, zeroed, "PATH: ignored: WHY", ex 0. */
	{
		static const struct {
			const char *name;
			const char *text;
			size_t len;
			const char *why;
		} dmg[] = {
			{ "garbage", "hello world\n", 12, "no check line" },
			{ "torn", sample_text, 100, "truncated" },
			{ "empty", "", 0, "empty" },
			{ "too large", NULL, 5000, "larger than 4095 bytes" },
		};
		char msg[96];
		size_t i;

		memset(big, '#', sizeof big);
		for (i = 0; i < sizeof dmg / sizeof dmg[0]; i++) {
			snprintf(p, sizeof p, "%s/bad.pop3", dir);
			put_file(p, dmg[i].text ? dmg[i].text : big,
			    dmg[i].len);
			memset(&got, 0x5a, sizeof got);
			err_clear(&e);
			r = state_load(dir, "bad", SVC_POP3, &got, &e);
			snprintf(msg, sizeof msg, "load %s: returns 1",
			    dmg[i].name);
			T_EQ_INT(r, 1, msg);
			snprintf(msg, sizeof msg, "load %s: zeroed, ex 0",
			    dmg[i].name);
			T_OK(is_zero(&got) && e.ex == 0, msg);
			snprintf(want, sizeof want, "%s: ignored: %s", p,
			    dmg[i].why);
			snprintf(msg, sizeof msg, "load %s: message",
			    dmg[i].name);
			T_EQ_STR(e.msg, want, msg);
		}
		/* An earlier error is not overwritten by the notice. */
		err_clear(&e);
		err_set(&e, EX_TEMPFAIL, "earlier");
		T_EQ_INT(state_load(dir, "bad", SVC_POP3, &got, &e), 1,
		    "load damaged after an error: 1");
		T_EQ_STR(e.msg, "earlier", "load damaged: error kept");
	}

	/* Cannot read: a directory where the file should be. */
	snprintf(p, sizeof p, "%s/dir.pop3", dir);
	mkdir(p, 0700);
	err_clear(&e);
	T_EQ_INT(state_load(dir, "dir", SVC_POP3, &got, &e), -1,
	    "load unreadable");
	T_EQ_INT(e.ex, EX_IOERR, "load unreadable: EX_IOERR");
	snprintf(want, sizeof want, "%s: read: Is a directory", p);
	T_EQ_STR(e.msg, want, "load unreadable: message");

	/* Unwritable directory. */
	snprintf(dir, sizeof dir, "%s/ro", top);
	mkdir(dir, 0555);
	chmod(dir, 0555);
	o = save_unprivileged(dir);
	T_EQ_INT(o.r, -1, "save in read-only dir");
	T_EQ_INT(o.e.ex, EX_CANTCREAT, "read-only dir: EX_CANTCREAT");
	snprintf(want, sizeof want,
	    "%s/work.pop3: cannot create: Permission denied", dir);
	T_EQ_STR(o.e.msg, want, "read-only dir: message names the file");
	snprintf(dir, sizeof dir, "%s/ro/sub", top);
	o = save_unprivileged(dir);
	T_EQ_INT(o.e.ex, EX_CANTCREAT, "save, dir not creatable");
	snprintf(want, sizeof want,
	    "%s: cannot create directory: Permission denied", dir);
	T_EQ_STR(o.e.msg, want, "dir not creatable: message");

	/* A file where the directory should be (works as root too). */
	snprintf(p, sizeof p, "%s/plain", top);
	put_file(p, "x", 1);
	snprintf(dir, sizeof dir, "%s/plain/state", top);
	err_clear(&e);
	T_EQ_INT(state_save(dir, "work", SVC_POP3, &st, &e), -1,
	    "save under a file");
	T_EQ_INT(e.ex, EX_CANTCREAT, "under a file: EX_CANTCREAT");
	snprintf(want, sizeof want,
	    "%s: cannot create directory: Not a directory", p);
	T_EQ_STR(e.msg, want, "under a file: message");
}

static void
test_names_refused(void)
{
	static const char *const bad[] = {
		"", ".", "..", "../x", ".hidden", "a/b", "/abs",
	};
	char dir[128], msg[96];
	struct state st;
	struct err e;
	size_t i;

	snprintf(dir, sizeof dir, "%s/names", top);
	memset(&st, 0, sizeof st);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err_clear(&e);
		snprintf(msg, sizeof msg, "save refuses \"%s\"", bad[i]);
		T_OK(state_save(dir, bad[i], SVC_POP3, &st, &e) == -1 &&
		    e.ex == EX_SOFTWARE, msg);
		err_clear(&e);
		snprintf(msg, sizeof msg, "load refuses \"%s\"", bad[i]);
		T_OK(state_load(dir, bad[i], SVC_POP3, &st, &e) == -1 &&
		    e.ex == EX_SOFTWARE, msg);
	}
	err_clear(&e);
	T_OK(state_save(dir, NULL, SVC_POP3, &st, &e) == -1 &&
	    e.ex == EX_SOFTWARE, "save refuses NULL name");
	err_clear(&e);
	T_OK(state_save(dir, "work", SVC_N, &st, &e) == -1 &&
	    e.ex == EX_SOFTWARE, "save refuses a bad service");
	err_clear(&e);
	T_OK(state_load("", "work", SVC_POP3, &st, &e) == -1 &&
	    e.ex == EX_SOFTWARE, "load refuses an empty dir");
	T_OK(access(dir, F_OK) != 0, "refused names: nothing created");
	err_clear(&e);
	T_EQ_INT(state_save(dir, "Work_2", SVC_SMTP, &st, &e), 0,
	    "save accepts [A-Za-z0-9_]");
}

int
main(void)
{
	char rm[256];

	umask(022);
	snprintf(top, sizeof top, "/tmp/t_state.XXXXXX");
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	chmod(top, 0755);	/* the unprivileged child must get in */
	test_names();
	test_format();
	test_roundtrip();
	test_torn();
	test_reject();
	test_load_save();
	test_names_refused();
	snprintf(rm, sizeof rm, "chmod -R u+w %s && rm -rf %s", top, top);
	if (system(rm) != 0)
		printf("# could not remove %s\n", top);
	T_DONE();
}
