/*
 * state.c — per account and service memory between runs (see state.h).
 *
 * The file is text so that a person can read it on a router with `cat`:
 *
 *	version=1
 *	auth_failures=0
 *	conn_failures=2
 *	last_success=1795137600
 *	last_error_time=1795141200
 *	last_error=connect: Connection refused
 *	disabled=none
 *	disabled_since=0
 *	auth_fp=3f2a…
 *	conn_fp=77c1…
 *	check=a1b2c3d4e5f60718
 *
 * Keys come in this fixed order, every one of them, each line ends in
 * '\n', and the last line is an FNV-1a 64-bit hash of every byte before
 * it.  file_replace() already makes a torn file unlikely; the check line
 * catches the rest (a file system that lost a block, a hand edit gone
 * wrong) so that a damaged file is reported and ignored instead of being
 * read as some other state.  String values escape '\\' and every byte
 * outside 0x20..0x7e as \xNN, so each value stays on its line.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "file.h"
#include "state.h"

#define STATE_VERSION	1

enum ftype { F_VERSION, F_INT, F_LL, F_STR, F_REASON };

static const struct field {
	const char *key;
	enum ftype type;
	size_t off;
	size_t size;
} fields[] = {
	{ "version", F_VERSION, 0, 0 },
	{ "auth_failures", F_INT, offsetof(struct state, auth_failures), 0 },
	{ "conn_failures", F_INT, offsetof(struct state, conn_failures), 0 },
	{ "last_success", F_LL, offsetof(struct state, last_success), 0 },
	{ "last_error_time", F_LL, offsetof(struct state, last_error_time),
	    0 },
	{ "last_error", F_STR, offsetof(struct state, last_error),
	    sizeof ((struct state *)0)->last_error },
	{ "disabled", F_REASON, offsetof(struct state, disabled), 0 },
	{ "disabled_since", F_LL, offsetof(struct state, disabled_since), 0 },
	{ "auth_fp", F_STR, offsetof(struct state, auth_fp),
	    sizeof ((struct state *)0)->auth_fp },
	{ "conn_fp", F_STR, offsetof(struct state, conn_fp),
	    sizeof ((struct state *)0)->conn_fp },
};
#define NFIELDS	(sizeof fields / sizeof fields[0])

#define CHECK_KEY	"check="
#define CHECK_LEN	(sizeof CHECK_KEY - 1 + 16)	/* without '\n' */

/*
 * The longest file state_format() can write: every key with its longest
 * value (numbers with sign, strings with every byte as \xNN).  It must fit
 * in STATE_FILE_MAX with room for the NUL, which state_format promises.
 */
#define KEYLEN(k)	(sizeof k "=\n" - 1)
#define STATE_FORMAT_BOUND						\
	(KEYLEN("version") + 11 + 2 * (KEYLEN("auth_failures") + 11) +	\
	 KEYLEN("last_success") + 20 + KEYLEN("last_error_time") + 20 +	\
	 KEYLEN("last_error") + 4 * (STATE_ERR_MAX - 1) +		\
	 KEYLEN("disabled") + 7 + KEYLEN("disabled_since") + 20 +	\
	 2 * (KEYLEN("auth_fp") + 4 * 64) + CHECK_LEN + 1)
_Static_assert(STATE_FORMAT_BOUND < STATE_FILE_MAX,
    "a state file must fit in STATE_FILE_MAX");

static const char *const svc_names[SVC_N] = { "pop3", "smtp" };
static const char *const reason_names[] = { "", "auth", "connect", "manual" };
/* In the file, DIS_NONE is spelled out so that no value is empty. */
static const char *const reason_words[] = {
	"none", "auth", "connect", "manual"
};
#define NREASONS	(sizeof reason_names / sizeof reason_names[0])

const char *
state_svc_name(int svc)
{
	if (svc < 0 || svc >= SVC_N)
		return "unknown";
	return svc_names[svc];
}

const char *
state_reason_name(int reason)
{
	if (reason < 0 || (size_t)reason >= NREASONS)
		return "unknown";
	return reason_names[reason];
}

static uint64_t
fnv1a(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* A bounded appender: bytes that do not fit are counted, not written. */
struct out {
	char *buf;
	size_t cap;
	size_t len;
};

static void
put(struct out *o, const char *s, size_t n)
{
	size_t room = o->len < o->cap ? o->cap - o->len : 0;

	memcpy(o->buf + o->len, s, n < room ? n : room);
	o->len += n;
}

static void
put_line_num(struct out *o, const char *key, long long v)
{
	char tmp[64];
	int n;

	n = snprintf(tmp, sizeof tmp, "%s=%lld\n", key, v);
	put(o, tmp, (size_t)n);
}

static void
put_line_str(struct out *o, const char *key, const char *s, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i, n = strnlen(s, size);
	unsigned char c;
	char esc[4];

	put(o, key, strlen(key));
	put(o, "=", 1);
	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c == '\\') {
			put(o, "\\\\", 2);
		} else if (c < 0x20 || c > 0x7e) {
			esc[0] = '\\';
			esc[1] = 'x';
			esc[2] = hex[c >> 4];
			esc[3] = hex[c & 15];
			put(o, esc, 4);
		} else
			put(o, s + i, 1);
	}
	put(o, "\n", 1);
}

size_t
state_format(const struct state *st, char *buf, size_t cap)
{
	char tmp[STATE_FILE_MAX];
	struct out o = { tmp, sizeof tmp, 0 };
	const struct field *f;
	const char *base = (const char *)st;
	char check[CHECK_LEN + 2];
	size_t i, n;
	int r;

	for (i = 0; i < NFIELDS; i++) {
		f = &fields[i];
		switch (f->type) {
		case F_VERSION:
			put_line_num(&o, f->key, STATE_VERSION);
			break;
		case F_INT:
			put_line_num(&o, f->key, *(const int *)(base + f->off));
			break;
		case F_LL:
			put_line_num(&o, f->key,
			    *(const long long *)(base + f->off));
			break;
		case F_STR:
			put_line_str(&o, f->key, base + f->off, f->size);
			break;
		case F_REASON:
			r = *(const int *)(base + f->off);
			if (r < 0 || (size_t)r >= NREASONS)
				r = DIS_NONE;
			put(&o, f->key, strlen(f->key));
			put(&o, "=", 1);
			put(&o, reason_words[r], strlen(reason_words[r]));
			put(&o, "\n", 1);
			break;
		}
	}
	/* STATE_FORMAT_BOUND guarantees o.len < sizeof tmp here. */
	snprintf(check, sizeof check, CHECK_KEY "%016llx\n",
	    (unsigned long long)fnv1a(tmp, o.len));
	put(&o, check, CHECK_LEN + 1);

	if (cap > 0) {
		n = o.len < cap ? o.len : cap - 1;
		memcpy(buf, tmp, n);
		buf[n] = '\0';
	}
	return o.len;
}

static int
reject(char *why, size_t whycap, const char *reason)
{
	if (why != NULL && whycap > 0)
		snprintf(why, whycap, "%s", reason);
	return -1;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A decimal number with an optional '-', within lo..hi. */
static int
parse_num(const char *p, size_t n, long long lo, long long hi,
    long long *out)
{
	unsigned long long v = 0, lim = LLONG_MAX;
	unsigned d;
	size_t i = 0;
	int neg = 0;
	long long r;

	if (n > 0 && p[0] == '-') {
		neg = 1;
		i = 1;
		lim = (unsigned long long)LLONG_MAX + 1;
	}
	if (i == n)
		return -1;
	for (; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		d = (unsigned)(p[i] - '0');
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (!neg)
		r = (long long)v;
	else if (v == (unsigned long long)LLONG_MAX + 1)
		r = LLONG_MIN;
	else
		r = -(long long)v;
	if (r < lo || r > hi)
		return -1;
	*out = r;
	return 0;
}

/* Undo put_line_str's escaping into dst (cap bytes, NUL-terminated). */
static int
parse_str(const char *p, size_t n, char *dst, size_t cap)
{
	size_t i, o = 0;
	int c, h, l;

	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if (c == '\\') {
			if (i + 1 < n && p[i + 1] == '\\') {
				i++;
			} else if (i + 3 < n && p[i + 1] == 'x' &&
			    (h = hexval((unsigned char)p[i + 2])) >= 0 &&
			    (l = hexval((unsigned char)p[i + 3])) >= 0) {
				c = h << 4 | l;
				if (c == 0)
					return -1;
				i += 3;
			} else
				return -1;
		} else if (c < 0x20 || c > 0x7e)
			return -1;
		if (o + 1 >= cap)
			return -1;
		dst[o++] = (char)c;
	}
	dst[o] = '\0';
	return 0;
}

/*
 * Why the line with key[0..n) is not the expected field `want` (NULL:
 * past the last field): a key met before is a duplicate, a key of a later
 * field means want is missing, anything else is unknown.
 */
static int
misplaced(const char *key, size_t n, const struct field *want, char *why,
    size_t whycap)
{
	char reason[64];
	size_t i;

	for (i = 0; i < NFIELDS; i++)
		if (strlen(fields[i].key) == n &&
		    memcmp(fields[i].key, key, n) == 0)
			break;
	if (i == NFIELDS)
		return reject(why, whycap, "unknown key");
	if (want == NULL || &fields[i] < want)
		snprintf(reason, sizeof reason, "duplicate %s", fields[i].key);
	else
		snprintf(reason, sizeof reason, "missing %s", want->key);
	return reject(why, whycap, reason);
}

int
state_parse(const char *buf, size_t len, struct state *st, char *why,
    size_t whycap)
{
	struct state s;
	char *base = (char *)&s;
	const struct field *f;
	const char *p, *end, *nl, *eq;
	char reason[64];
	size_t body, i, r;
	long long v;
	uint64_t want;
	int d;

	memset(st, 0, sizeof *st);
	memset(&s, 0, sizeof s);
	if (len == 0)
		return reject(why, whycap, "empty");
	if (buf[len - 1] != '\n')
		return reject(why, whycap, "truncated");

	/* The last line is the check line; body is everything before it. */
	body = len - 1;
	while (body > 0 && buf[body - 1] != '\n')
		body--;
	p = buf + body;
	if (len - 1 - body != CHECK_LEN ||
	    memcmp(p, CHECK_KEY, sizeof CHECK_KEY - 1) != 0)
		return reject(why, whycap, "no check line");
	want = 0;
	for (i = sizeof CHECK_KEY - 1; i < CHECK_LEN; i++) {
		d = hexval((unsigned char)p[i]);
		if (d < 0 || (p[i] >= 'A' && p[i] <= 'F'))
			return reject(why, whycap, "bad check line");
		want = want << 4 | (unsigned)d;
	}
	if (fnv1a(buf, body) != want)
		return reject(why, whycap, "checksum mismatch");

	/* Then every key, in the order state_format writes them. */
	p = buf;
	end = buf + body;
	for (i = 0; i < NFIELDS; i++) {
		f = &fields[i];
		if (p == end) {
			snprintf(reason, sizeof reason, "missing %s", f->key);
			return reject(why, whycap, reason);
		}
		nl = memchr(p, '\n', (size_t)(end - p));	/* found */
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq == NULL)
			return reject(why, whycap, "malformed line");
		if ((size_t)(eq - p) != strlen(f->key) ||
		    memcmp(p, f->key, strlen(f->key)) != 0)
			return misplaced(p, (size_t)(eq - p), f, why, whycap);
		eq++;
		switch (f->type) {
		case F_VERSION:
			if (parse_num(eq, (size_t)(nl - eq), 0, INT_MAX, &v))
				return reject(why, whycap, "bad version");
			if (v != STATE_VERSION) {
				snprintf(reason, sizeof reason,
				    "unknown version %lld", v);
				return reject(why, whycap, reason);
			}
			break;
		case F_INT:
		case F_LL:
			if (parse_num(eq, (size_t)(nl - eq),
			    f->type == F_INT ? INT_MIN : LLONG_MIN,
			    f->type == F_INT ? INT_MAX : LLONG_MAX, &v)) {
				snprintf(reason, sizeof reason, "bad %s",
				    f->key);
				return reject(why, whycap, reason);
			}
			if (f->type == F_INT)
				*(int *)(base + f->off) = (int)v;
			else
				*(long long *)(base + f->off) = v;
			break;
		case F_STR:
			if (parse_str(eq, (size_t)(nl - eq), base + f->off,
			    f->size)) {
				snprintf(reason, sizeof reason, "bad %s",
				    f->key);
				return reject(why, whycap, reason);
			}
			break;
		case F_REASON:
			for (r = 0; r < NREASONS; r++)
				if (strlen(reason_words[r]) ==
				    (size_t)(nl - eq) &&
				    memcmp(eq, reason_words[r],
				    (size_t)(nl - eq)) == 0)
					break;
			if (r == NREASONS)
				return reject(why, whycap, "bad disabled");
			*(int *)(base + f->off) = (int)r;
			break;
		}
		p = nl + 1;
	}
	if (p != end) {
		eq = memchr(p, '=', (size_t)(end - p));
		return misplaced(p, eq != NULL ? (size_t)(eq - p) : 0, NULL,
		    why, whycap);
	}
	*st = s;
	return 0;
}

/*
 * DIR/ACCOUNT.SVC into path.  The account name comes from the
 * configuration, which allows only [A-Za-z0-9_]; refuse anything that
 * could leave dir or hide a file anyway, in case a caller forgets.
 */
static int
state_path(const char *dir, const char *account, int svc, char *path,
    size_t cap, struct err *e)
{
	size_t dlen;
	int n;

	if (svc < 0 || svc >= SVC_N)
		return err_set(e, EX_SOFTWARE, "state: bad service %d", svc);
	if (account == NULL || account[0] == '\0' || account[0] == '.' ||
	    strchr(account, '/') != NULL)
		return err_set(e, EX_SOFTWARE,
		    "state: bad account name \"%.*s\"", CONF_NAME_MAX,
		    account ? account : "");
	if (dir == NULL || dir[0] == '\0')
		return err_set(e, EX_SOFTWARE, "state: no state directory");
	dlen = strlen(dir);
	while (dlen > 1 && dir[dlen - 1] == '/')
		dlen--;
	if (dlen > INT_MAX)
		dlen = INT_MAX;
	n = snprintf(path, cap, "%.*s%s%s.%s", (int)dlen, dir,
	    dir[dlen - 1] == '/' ? "" : "/", account, svc_names[svc]);
	if (n < 0 || (size_t)n >= cap)
		return err_set(e, EX_SOFTWARE, "%s: path too long", dir);
	return 0;
}

/*
 * Report a file that was ignored, without making it an error.  A path too
 * long for the message loses its head, not the reason.
 */
static void
ignored(struct err *e, const char *path, const char *why)
{
	size_t plen = strlen(path), room;
	int n;

	if (e->ex != 0)
		return;
	n = snprintf(e->msg, sizeof e->msg, "%s: ignored: %s", path, why);
	if (n >= 0 && (size_t)n < sizeof e->msg)
		return;
	room = sizeof e->msg - 1 - (sizeof "...: ignored: " - 1) -
	    strnlen(why, sizeof e->msg / 2);
	if (room < plen)
		path += plen - room;
	n = snprintf(e->msg, sizeof e->msg, "...%s: ignored: %s", path, why);
	(void)n;	/* why is short: whatever is cut is its tail */
}

int
state_load(const char *dir, const char *account, int svc, struct state *st,
    struct err *e)
{
	char path[PATH_MAX], buf[STATE_FILE_MAX], why[64];
	struct err re = { 0, "" };
	long n;

	memset(st, 0, sizeof *st);
	if (state_path(dir, account, svc, path, sizeof path, e) != 0)
		return -1;
	n = file_read(path, buf, sizeof buf, 1, &re);
	if (n < 0) {
		if (re.ex == 0 && errno == ENOENT)
			return 0;
		if (errno == EFBIG) {
			snprintf(why, sizeof why, "larger than %d bytes",
			    STATE_FILE_MAX - 1);
			ignored(e, path, why);
			return 1;
		}
		return err_set(e, EX_IOERR, "%s", re.msg);
	}
	if (state_parse(buf, (size_t)n, st, why, sizeof why) != 0) {
		ignored(e, path, why);
		return 1;
	}
	return 0;
}

int
state_save(const char *dir, const char *account, int svc,
    const struct state *st, struct err *e)
{
	char path[PATH_MAX], buf[STATE_FILE_MAX];
	size_t len;

	if (state_path(dir, account, svc, path, sizeof path, e) != 0)
		return -1;
	if (file_mkdirs(dir, 0700, e) != 0)
		return -1;
	len = state_format(st, buf, sizeof buf);
	return file_replace(path, buf, len, e);
}
