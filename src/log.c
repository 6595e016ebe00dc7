/*
 * log.c — the event log of SPEC §4, console messages and the -v trace.
 *
 * An event line is built in the caller's struct logline and leaves in one
 * write(2) on a descriptor opened with O_APPEND, so that lines from two
 * tern processes (a cron `run` and a `send` from a script) interleave
 * whole, never mixed.  A pair that does not fit is dropped whole, and so is
 * everything after it: a reader sees the line cut between pairs and marked
 * `trunc=1`, never a value cut in the middle of its quotes.
 *
 * Rotation is one generation: when the next line would take FILE over
 * log_max_size, FILE becomes FILE.1 (replacing the old one) and a new FILE
 * is started.  Before renaming, we check that FILE is still the file our
 * descriptor points to; if another process rotated first, we follow the
 * new FILE instead of rotating its fresh file away.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "file.h"
#include "log.h"

#define STAMP_LEN	20		/* 2026-11-22T01:20:00Z */
#define TRUNC		" trunc=1"
#define TRUNC_LEN	(sizeof TRUNC - 1)
#define LINE_ROOM	(LOG_LINE_MAX - 1)	/* the '\n' always fits */

static int log_fd = -1;
static char log_path[CONF_STR_MAX];
static long long log_max;
static int log_syslog;
static int sys_fd = -1;		/* datagram socket to /dev/log */

static void to_syslog(const char *, size_t);
static int log_warned;			/* a log write failed; said so */
static int log_verb = LOG_NORMAL;

static void
say(const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	size_t len = sizeof "tern: " - 1;
	int n;

	memcpy(buf, "tern: ", len);
	n = vsnprintf(buf + len, sizeof buf - len - 1, fmt, ap);
	if (n > 0)
		len += (size_t)n < sizeof buf - len - 2 ?
		    (size_t)n : sizeof buf - len - 2;
	buf[len++] = '\n';
	(void)file_write_all(2, buf, len);
}

void
log_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list ap;

	if (log_verb < LOG_NORMAL)
		return;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	if (log_verb < LOG_TRACE)
		return;
	va_start(ap, fmt);
	say(fmt, ap);
	va_end(ap);
}

void
log_set_verbosity(int v)
{
	log_verb = v;
}

int
log_verbosity(void)
{
	return log_verb;
}

long long
log_now(void)
{
#ifdef TERN_TEST
	const char *s = getenv("TERN_TEST_NOW");

	if (s != NULL && *s != '\0')
		return strtoll(s, NULL, 10);
#endif
	return (long long)time(NULL);
}

static void
put_digits(char *p, int v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/*
 * Days since 1970-01-01 to a civil date, after Howard Hinnant's
 * days_from_civil inverse: no time_t, no time zone, no table.  The stamp
 * has four year digits, so t is clamped to 1970..9999.
 */
void
log_time(long long t, char *buf)
{
	long long days, secs, z, era, doe, yoe, doy, mp, y, m, d;

	if (t < 0)
		t = 0;
	if (t > 253402300799LL)		/* 9999-12-31T23:59:59Z */
		t = 253402300799LL;
	days = t / 86400;
	secs = t % 86400;
	z = days + 719468;
	era = z / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;

	memcpy(buf, "0000-00-00T00:00:00Z", STAMP_LEN + 1);
	put_digits(buf, (int)y, 4);
	put_digits(buf + 5, (int)m, 2);
	put_digits(buf + 8, (int)d, 2);
	put_digits(buf + 11, (int)(secs / 3600), 2);
	put_digits(buf + 14, (int)(secs / 60 % 60), 2);
	put_digits(buf + 17, (int)(secs % 60), 2);
}

/* One byte as it appears inside double quotes; returns its length. */
static size_t
esc1(unsigned char c, char *u)
{
	static const char hex[] = "0123456789ABCDEF";

	if (c == '"' || c == '\\') {
		u[0] = '\\';
		u[1] = (char)c;
		return 2;
	}
	if (c < 0x20 || c > 0x7e) {
		u[0] = '\\';
		u[1] = 'x';
		u[2] = hex[c >> 4];
		u[3] = hex[c & 15];
		return 4;
	}
	u[0] = (char)c;
	return 1;
}

size_t
log_escape(char *dst, size_t cap, const char *src, size_t n)
{
	size_t len, i, k;
	char u[4];

	if (cap == 0)
		return 0;
	len = strnlen(dst, cap);
	if (len == cap)
		len = cap - 1;		/* not terminated: keep what fits */
	for (i = 0; i < n; i++) {
		k = esc1((unsigned char)src[i], u);
		if (k > cap - 1 - len)
			break;		/* never half an escape */
		memcpy(dst + len, u, k);
		len += k;
	}
	dst[len] = '\0';
	return len;
}

static int
is_bare(const char *s, size_t n)
{
	size_t i;
	unsigned char c;

	if (n == 0)
		return 0;
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\' || c == '=')
			return 0;
	}
	return 1;
}

static void
put_pair(struct logline *l, const char *key, const char *val, size_t n)
{
	size_t klen = strlen(key), need, i, k;
	int bare;
	char u[4];

	if (val == NULL)
		n = 0;
	if (l->full || l->len > LINE_ROOM) {
		l->full = 1;
		return;
	}
	bare = is_bare(val, n);
	need = 1 + klen + 1 + (bare ? n : 2);
	if (!bare)
		for (i = 0; i < n; i++)
			need += esc1((unsigned char)val[i], u);
	if (need > LINE_ROOM - l->len) {
		l->full = 1;
		return;
	}
	l->buf[l->len++] = ' ';
	memcpy(l->buf + l->len, key, klen);
	l->len += klen;
	l->buf[l->len++] = '=';
	if (bare) {
		memcpy(l->buf + l->len, val, n);
		l->len += n;
		return;
	}
	l->buf[l->len++] = '"';
	for (i = 0; i < n; i++) {
		k = esc1((unsigned char)val[i], u);
		memcpy(l->buf + l->len, u, k);
		l->len += k;
	}
	l->buf[l->len++] = '"';
}

void
log_begin(struct logline *l, const char *event)
{
	size_t n = strlen(event);

	l->full = 0;
	log_time(log_now(), l->buf);
	l->buf[STAMP_LEN] = ' ';
	l->len = STAMP_LEN + 1;
	if (n > LINE_ROOM - l->len) {
		n = LINE_ROOM - l->len;
		l->full = 1;
	}
	memcpy(l->buf + l->len, event, n);
	l->len += n;
}

void
log_str(struct logline *l, const char *key, const char *val)
{
	put_pair(l, key, val, val != NULL ? strlen(val) : 0);
}

void
log_mem(struct logline *l, const char *key, const char *val, size_t n)
{
	put_pair(l, key, val, n);
}

void
log_int(struct logline *l, const char *key, long long v)
{
	char tmp[24];
	int n;

	n = snprintf(tmp, sizeof tmp, "%lld", v);
	put_pair(l, key, tmp, (size_t)n);
}

/*
 * Make room for " trunc=1" by dropping whole pairs from the end.  The line
 * is ours, so it can be walked: stamp, space, event word, then pairs
 * " key=value" where a quoted value ends at the first '"' that is not
 * escaped.  cut is the last pair boundary that leaves room.
 */
static void
mark_trunc(struct logline *l)
{
	size_t pos, cut, limit = LINE_ROOM - TRUNC_LEN;

	if (l->len > limit) {
		cut = limit;	/* only if the event word itself is huge */
		pos = STAMP_LEN + 1;
		while (pos < l->len && l->buf[pos] != ' ')
			pos++;
		while (pos <= limit) {
			cut = pos;
			if (pos >= l->len)
				break;
			pos++;				/* the space */
			while (pos < l->len && l->buf[pos] != '=')
				pos++;			/* the key */
			if (++pos < l->len && l->buf[pos] == '"') {
				for (pos++; pos < l->len &&
				    l->buf[pos] != '"'; pos++)
					if (l->buf[pos] == '\\')
						pos++;
				pos++;			/* closing quote */
			} else {
				while (pos < l->len && l->buf[pos] != ' ')
					pos++;
			}
		}
		l->len = cut;
	}
	memcpy(l->buf + l->len, TRUNC, TRUNC_LEN);
	l->len += TRUNC_LEN;
}

static int
open_log(void)
{
	int fd;

	do
		fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0640);
	while (fd < 0 && errno == EINTR);
	return fd;
}

/* Say once per log_open that the log cannot be written. */
static void
log_failed(const char *what, const char *why)
{
	if (log_warned)
		return;
	log_warned = 1;
	log_warn("%s: %s: %s", log_path, what, why);
}

static void
rotate(size_t len)
{
	struct stat fs, ps;
	char old[sizeof log_path + 2];
	int fd;

	if (log_max <= 0 || fstat(log_fd, &fs) != 0)
		return;
	if (fs.st_size == 0 ||
	    (unsigned long long)fs.st_size + len <=
	    (unsigned long long)log_max)
		return;
	if (stat(log_path, &ps) == 0 && ps.st_dev == fs.st_dev &&
	    ps.st_ino == fs.st_ino) {
		if (snprintf(old, sizeof old, "%s.1", log_path) < 0)
			return;
		if (rename(log_path, old) != 0) {
			log_failed("rotate", strerror(errno));
			return;
		}
	}
	/* Rotated, by us or by someone else: start on the new FILE. */
	fd = open_log();
	if (fd < 0) {
		log_failed("cannot open", strerror(errno));
		return;		/* keep writing where we were */
	}
	close(log_fd);
	log_fd = fd;
}

void
log_end(struct logline *l)
{
	ssize_t n;

	if (l->len > LINE_ROOM) {
		l->len = LINE_ROOM;
		l->full = 1;
	}
	if (l->full)
		mark_trunc(l);
	l->buf[l->len++] = '\n';

	if (log_fd >= 0) {
		rotate(l->len);
		do
			n = write(log_fd, l->buf, l->len);
		while (n < 0 && errno == EINTR);
		/* One write or none: a retried tail could land after
		 * another process's line. */
		if (n < 0)
			log_failed("write", strerror(errno));
		else if ((size_t)n != l->len)
			log_failed("write", "short write");
	}
	if (log_syslog && l->len >= STAMP_LEN + 2)
		to_syslog(l->buf + STAMP_LEN + 1, l->len - STAMP_LEN - 2);
}

/*
 * Syslog without libc's syslog(): musl's pulls in strftime and the time
 * zone code (8 KB) for a time stamp that syslogd adds anyway.  One
 * datagram "<22>tern[PID]: MESSAGE" (facility mail, level info) to
 * /dev/log, as OpenWrt's logd, busybox syslogd and rsyslog accept it.
 * A missing or full syslog loses the line, never blocks.
 */
static void
to_syslog(const char *msg, size_t n)
{
	struct sockaddr_un sa;
	char buf[LOG_LINE_MAX + 32];
	int k;

	if (sys_fd < 0) {
		sys_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC |
		    SOCK_NONBLOCK, 0);
		if (sys_fd < 0)
			return;
		memset(&sa, 0, sizeof sa);
		sa.sun_family = AF_UNIX;
		memcpy(sa.sun_path, "/dev/log", sizeof "/dev/log");
		if (connect(sys_fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
			close(sys_fd);
			sys_fd = -1;
			return;
		}
	}
	k = snprintf(buf, sizeof buf, "<22>tern[%ld]: ", (long)getpid());
	if (k < 0 || (size_t)k >= sizeof buf)
		return;
	if (n > sizeof buf - (size_t)k)
		n = sizeof buf - (size_t)k;
	memcpy(buf + k, msg, n);
	(void)send(sys_fd, buf, (size_t)k + n, MSG_NOSIGNAL);
}

void
log_close(void)
{
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	log_path[0] = '\0';
	if (sys_fd >= 0)
		close(sys_fd);
	sys_fd = -1;
	log_syslog = 0;
}

int
log_open(const struct conf_main *m, struct err *e)
{
	size_t n;
	int saved;

	log_close();
	log_max = m->log_max_size;
	log_warned = 0;
	if (m->syslog)
		log_syslog = 1;
	n = strnlen(m->log, sizeof m->log);
	if (n == 0)
		return 0;
	if (n >= sizeof log_path)
		return err_set(e, EX_CANTCREAT, "%.*s: cannot open: %s",
		    (int)n, m->log, strerror(ENAMETOOLONG));
	memcpy(log_path, m->log, n);
	log_path[n] = '\0';
	log_fd = open_log();
	if (log_fd < 0) {
		saved = errno;
		log_path[0] = '\0';
		return err_set(e, EX_CANTCREAT, "%s: cannot open: %s", m->log,
		    strerror(saved));
	}
	return 0;
}

/* One byte as the trace shows it. */
static size_t
trace1(unsigned char c, char *u)
{
	if (c == '\\') {
		u[0] = u[1] = '\\';
		return 2;
	}
	if (c < 0x20 || c > 0x7e)
		return esc1(c, u);
	u[0] = (char)c;
	return 1;
}

void
log_trace(const char *who, const char *dir, const char *buf, size_t n)
{
	char out[LOG_LINE_MAX], u[4];
	const char *nl;
	size_t start, end, shown, i, k, o;
	int r;

	if (log_verb < LOG_TRACE)
		return;
	for (start = 0; start < n; start = end) {
		nl = memchr(buf + start, '\n', n - start);
		end = nl != NULL ? (size_t)(nl - buf) + 1 : n;
		shown = end;
		if (shown - start >= 2 && buf[shown - 1] == '\n' &&
		    buf[shown - 2] == '\r')
			shown -= 2;	/* the protocol's own line end */
		r = snprintf(out, sizeof out, "%s %s ", who, dir);
		o = r < 0 ? 0 : (size_t)r < sizeof out ? (size_t)r :
		    sizeof out - 1;
		/* A long line goes out in pieces; the '\n' always fits. */
		for (i = start; i < shown; i++) {
			k = trace1((unsigned char)buf[i], u);
			if (k > sizeof out - 1 - o) {
				(void)file_write_all(2, out, o);
				o = 0;
			}
			memcpy(out + o, u, k);
			o += k;
		}
		out[o++] = '\n';
		(void)file_write_all(2, out, o);
	}
}
