/*
 * conf.c — the configuration file of SPEC §2 (contract in conf.h).
 *
 * Two parts.  The tokenizer splits a line into words the way libuci does:
 * unquoted words (a backslash takes the next byte literally),
 * 'single-quoted' (no escapes), "double-quoted" (a backslash takes the next
 * byte), parts that touch join into one word, a '#' outside quotes ends the
 * line and a ';' outside quotes ends a statement.  Unlike libuci, a quote
 * or a backslash cannot continue onto the next line: that is an error, so
 * that the line buffer stays fixed.
 *
 * The schema is one table, SCHEMA below: section, key, type, field, default,
 * limits, flags.  The same rows give the parser its offsets, the defaults
 * (parsed by the same code as the user's values) and conf_keys[] for the
 * manual.  As in uci, an option set to '' counts as not set: a typed key
 * gets its default back; a string key holds '' (which for `log` means no
 * log file).  After the whole file is read, each account is checked and
 * its derived settings are resolved (user, ports, TLS, smtp credentials).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "conf.h"

enum { S_tern, S_account, S_filter };

enum {
	T_string, T_path, T_host, T_bool, T_uint, T_port, T_size,
	T_duration, T_tls, T_auth, T_pin
};

/* Type names shown in conf_keys[]. */
#define TN_string	"string"
#define TN_path		"path"
#define TN_host		"host"
#define TN_bool		"bool"
#define TN_uint		"uint"
#define TN_port		"port"
#define TN_size		"size"
#define TN_duration	"duration"
#define TN_tls		"enum"
#define TN_auth		"enum"
#define TN_pin		"pin"

#define ST_tern		struct conf_main
#define ST_account	struct account
#define ST_filter	struct filter

#define F_LIST		0x01	/* `list KEY`, never `option KEY` */
#define F_NONEMPTY	0x02	/* '' is an error */
#define F_DERIVED	0x04	/* def describes a value resolved after load */
#define F_REQUIRED	0x08	/* the section is incomplete without it */
#define F_FOLDER	0x10	/* a Maildir++ folder name */
#define F_HEADER	0x20	/* a header field name */

#define DAY	86400LL
#define WEEK	(7 * DAY)

/* section, key, type, field, default, min, max, flags */
#define SCHEMA(X) \
X(tern, log, path, log, "/var/log/tern.log", 0, 0, 0) \
X(tern, log_max_size, size, log_max_size, "256k", 0, LLONG_MAX, 0) \
X(tern, syslog, bool, syslog, "0", 0, 0, 0) \
X(tern, state_dir, path, state_dir, "/etc/tern", 0, 0, F_NONEMPTY) \
X(tern, spool_dir, path, spool_dir, "/var/spool/tern", 0, 0, F_NONEMPTY) \
X(tern, ca_file, path, ca_file, "/etc/ssl/certs/ca-certificates.crt", \
    0, 0, F_NONEMPTY) \
X(tern, timeout, duration, timeout, "60", 1, 3600, 0) \
X(tern, deadline, duration, deadline, "300", 1, DAY, 0) \
X(tern, parallel, uint, parallel, "4", 1, 16, 0) \
X(tern, queue_lifetime, duration, queue_lifetime, "5d", 1, 365 * DAY, 0) \
X(account, enabled, bool, enabled, "1", 0, 0, 0) \
X(account, email, string, email, "", 0, 0, 0) \
X(account, user, string, pop3.user, "(email)", 0, 0, F_DERIVED) \
X(account, password, string, pop3.password, "", 0, 0, 0) \
X(account, password_file, path, pop3.password_file, "", 0, 0, 0) \
X(account, password_cmd, string, pop3.password_cmd, "", 0, 0, 0) \
X(account, auth, auth, pop3.auth, "auto", 0, 0, 0) \
X(account, oauth_token_cmd, string, pop3.oauth_token_cmd, "", 0, 0, 0) \
X(account, oauth_token_file, path, pop3.oauth_token_file, "", 0, 0, 0) \
X(account, pop3_host, host, pop3.host, "", 0, 0, 0) \
X(account, pop3_port, port, pop3.port, \
    "(995; 110 with pop3_tls starttls or none)", 1, 65535, F_DERIVED) \
X(account, pop3_tls, tls, pop3.tls, "implicit", 0, 0, 0) \
X(account, keep, bool, keep, "1", 0, 0, 0) \
X(account, delete_after_days, uint, delete_after_days, "0", 0, 36500, 0) \
X(account, recent, bool, recent, "0", 0, 0, 0) \
X(account, max_messages, uint, max_messages, "0", 0, INT_MAX, 0) \
X(account, max_size, size, max_size, "0", 0, LLONG_MAX, 0) \
X(account, maildir, path, maildir, "", 0, 0, 0) \
X(account, mda, string, mda, "", 0, 0, 0) \
X(account, smtp_host, host, smtp.host, "", 0, 0, 0) \
X(account, smtp_port, port, smtp.port, \
    "(465; 587 with smtp_tls starttls, 25 with none)", 1, 65535, F_DERIVED) \
X(account, smtp_tls, tls, smtp.tls, "implicit", 0, 0, 0) \
X(account, smtp_user, string, smtp.user, "(user)", 0, 0, F_DERIVED) \
X(account, smtp_password, string, smtp.password, "(password)", 0, 0, \
    F_DERIVED) \
X(account, smtp_password_file, path, smtp.password_file, \
    "(password_file)", 0, 0, F_DERIVED) \
X(account, smtp_password_cmd, string, smtp.password_cmd, \
    "(password_cmd)", 0, 0, F_DERIVED) \
X(account, smtp_auth, auth, smtp.auth, "(auth)", 0, 0, F_DERIVED) \
X(account, smtp_oauth_token_cmd, string, smtp.oauth_token_cmd, \
    "(oauth_token_cmd)", 0, 0, F_DERIVED) \
X(account, smtp_oauth_token_file, path, smtp.oauth_token_file, \
    "(oauth_token_file)", 0, 0, F_DERIVED) \
X(account, from, string, from, "(email)", 0, 0, F_DERIVED) \
X(account, tls_fingerprint, pin, pin, "", 0, 0, F_LIST) \
X(account, tls_ca_file, path, tls_ca_file, "(ca_file)", 0, 0, F_DERIVED) \
X(account, max_auth_failures, uint, max_auth_failures, "10", 1, 1000, 0) \
X(account, max_conn_failures, uint, max_conn_failures, "50", 1, 10000, 0) \
X(account, retries, uint, retries, "2", 0, 10, 0) \
X(account, allow_plaintext_auth, bool, allow_plaintext_auth, "0", 0, 0, 0) \
X(filter, account, string, account, "", 0, 0, 0) \
X(filter, header, string, header, "", 0, 0, F_REQUIRED | F_HEADER) \
X(filter, contains, string, contains, "", 0, 0, F_REQUIRED) \
X(filter, folder, string, folder, "", 0, 0, F_REQUIRED | F_FOLDER)

#define KENUM(s, k, t, f, d, lo, hi, fl)	K_##s##_##k,
enum { SCHEMA(KENUM) K_COUNT };

_Static_assert(K_COUNT <= 64, "a section's set keys are a 64-bit mask");

struct key {
	unsigned char sec;
	unsigned char type;
	unsigned char flags;
	const char *name;
	size_t off;
	size_t size;
	const char *def;
	long long min;
	long long max;
};

#define KROW(s, k, t, f, d, lo, hi, fl) { S_##s, T_##t, fl, #k, \
	offsetof(ST_##s, f), sizeof(((ST_##s *)0)->f), d, lo, hi },
static const struct key keys[] = { SCHEMA(KROW) };

#define KINFO(s, k, t, f, d, lo, hi, fl) { #s, #k, TN_##t, d },
const struct conf_key_info conf_keys[] = {
	SCHEMA(KINFO)
	{ NULL, NULL, NULL, NULL }
};

static const char *const sec_names[] = { "tern", "account", "filter" };
static const char *const tls_names[] = { "implicit", "starttls", "none" };
static const char *const auth_names[] = {
	"auto", "user", "apop", "plain", "login", "cram-md5", "xoauth2"
};

#define NELEM(a)	(sizeof (a) / sizeof (a)[0])
#define BIT(k)		(1ULL << (k))
#define WORDS_MAX	4	/* statement word plus up to two arguments */
#define SHOW_MAX	64	/* bytes of a user value quoted in an error */

/* The state of one conf_load. */
struct ld {
	struct conf *c;
	struct err *e;
	int line;
	int sec;			/* current section, -1 before any */
	void *base;			/* its struct */
	unsigned long long *set;	/* its keys given a non-empty value */
	unsigned long long mainset;
	unsigned long long aset[CONF_ACCOUNTS_MAX];
	unsigned long long fset[CONF_FILTERS_MAX];
	int facct_line[CONF_FILTERS_MAX];	/* line of a filter's account */
	char buf[CONF_LINE_MAX + 1];
	char words[CONF_LINE_MAX + 2];
};

/* A copy of s fit for an error message: non-printable bytes become '?'
 * and a long value is cut with "...". */
static const char *
show(char *buf, size_t cap, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++) {
		if (i + 4 >= cap && strlen(s + i) > 3) {
			memcpy(buf + i, "...", 3);
			i += 3;
			break;
		}
		buf[i] = ((unsigned char)s[i] >= 0x20 &&
		    (unsigned char)s[i] < 0x7f) ? s[i] : '?';
	}
	buf[i] = '\0';
	return buf;
}

static int
fail(struct ld *l, int line, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int
fail(struct ld *l, int line, const char *key, const char *fmt, ...)
{
	char what[160], k[SHOW_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	return err_set(l->e, EX_CONFIG, "%s:%d: %s: %s", l->c->path, line,
	    show(k, sizeof k, key), what);
}

/* fail() for a bad value: "KEY: WHAT: 'VALUE'". */
static int
badval(struct ld *l, int line, const char *key, const char *what,
    const char *v)
{
	char s[SHOW_MAX];

	return fail(l, line, key, "%s: '%s'", what, show(s, sizeof s, v));
}

/* Decimal digits at *sp, at most lim; no sign, no space. */
static int
digits(const char **sp, unsigned long long lim, unsigned long long *out)
{
	const char *s = *sp;
	unsigned long long v = 0;
	unsigned d;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (unsigned)(*s - '0');
		if (v > (lim - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*sp = s;
	*out = v;
	return 0;
}

/* A number with an optional one-letter unit from units/mult. */
static int
scaled(const char *s, const char *units, const long long *mult,
    long long *out)
{
	unsigned long long v;
	const char *u;
	long long m = 1;

	if (digits(&s, LLONG_MAX, &v) < 0)
		return -1;
	if (*s != '\0') {
		if ((u = strchr(units, *s)) == NULL || s[1] != '\0')
			return -1;
		m = mult[u - units];
	}
	if (v > (unsigned long long)(LLONG_MAX / m))
		return -1;
	*out = (long long)v * m;
	return 0;
}

int
conf_parse_size(const char *s, long long *out)
{
	static const long long m[] = {
		1024LL, 1024LL, 1024LL << 20, 1024LL << 20,
		1024LL << 10, 1024LL << 10
	};

	return scaled(s, "kKgGmM", m, out);
}

int
conf_parse_duration(const char *s, long long *out)
{
	static const long long m[] = { 1, 60, 3600, DAY, WEEK };

	return scaled(s, "smhdw", m, out);
}

int
conf_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = {
		"1", "yes", "on", "true", "enabled"
	};
	static const char *const no[] = {
		"0", "no", "off", "false", "disabled"
	};
	size_t i;

	for (i = 0; i < NELEM(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

const char *
conf_tls_name(int tls)
{
	if (tls < 0 || (size_t)tls >= NELEM(tls_names))
		return "unknown";
	return tls_names[tls];
}

const char *
conf_auth_name(int auth)
{
	if (auth < 0 || (size_t)auth >= NELEM(auth_names))
		return "unknown";
	return auth_names[auth];
}

static int
lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcasecmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

static int
hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "sha256:" and 64 hex digits, any case, optionally a ':' between bytes. */
static int
parse_pin(const char *s, unsigned char out[32])
{
	unsigned char pin[32];
	int n = 0, h;

	if (strncasecmp(s, "sha256:", 7) != 0)
		return -1;
	for (s += 7; *s != '\0'; s++) {
		if (*s == ':') {
			/* only between two bytes, never doubled */
			if (n == 0 || n % 2 != 0 || s[-1] == ':' ||
			    s[1] == '\0')
				return -1;
			continue;
		}
		if ((h = hexval((unsigned char)*s)) < 0 || n == 64)
			return -1;
		if (n % 2 == 0)
			pin[n / 2] = (unsigned char)(h << 4);
		else
			pin[n / 2] |= (unsigned char)h;
		n++;
	}
	if (n != 64)
		return -1;
	memcpy(out, pin, sizeof pin);
	return 0;
}

/* A duration for a message: the largest unit that divides it. */
static const char *
dur_text(char *buf, size_t cap, long long s)
{
	static const struct { char unit; long long n; } u[] = {
		{ 'w', WEEK }, { 'd', DAY }, { 'h', 3600 }, { 'm', 60 }
	};
	size_t i;

	for (i = 0; i < NELEM(u); i++) {
		if (s != 0 && s % u[i].n == 0) {
			snprintf(buf, cap, "%lld%c", s / u[i].n, u[i].unit);
			return buf;
		}
	}
	snprintf(buf, cap, "%llds", s);
	return buf;
}

/* All of s is printable ASCII and none of it is in `not`. */
static int
printable(const char *s, const char *not)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f ||
		    strchr(not, *s) != NULL)
			return 0;
	return 1;
}

static void
put_num(void *p, size_t size, long long v)
{
	if (size == sizeof(int))
		*(int *)p = (int)v;
	else
		*(long long *)p = v;
}

/* Parse v for key ki into base; line 0 means a default from the table. */
static int
setval(struct ld *l, int ki, void *base, const char *v, int line)
{
	const struct key *k = &keys[ki];
	char *p = (char *)base + k->off;
	char a[24], b[24], vb[SHOW_MAX];
	unsigned long long u;
	long long n;
	const char *s;
	int i;

	if (*v == '\0') {
		switch (k->type) {
		case T_string:
		case T_path:
		case T_host:
			if (k->flags & F_NONEMPTY)
				return fail(l, line, k->name,
				    "must not be empty");
			p[0] = '\0';
			return 0;
		case T_pin:
			break;
		default:
			/* uci drops an option set to '': the default holds */
			if (k->flags & F_DERIVED)
				return 0;
			return setval(l, ki, base, k->def, line);
		}
	}
	for (s = v; *s != '\0'; s++)
		if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7f)
			return fail(l, line, k->name,
			    "contains a control character");

	switch (k->type) {
	case T_host:
		for (s = v; *s != '\0'; s++)
			if (*s == ' ' || *s == '\t' || *s == '/')
				return badval(l, line, k->name,
				    "not a host name (no spaces or '/')", v);
		/* FALLTHROUGH */
	case T_string:
	case T_path:
		if (strlen(v) >= k->size)
			return fail(l, line, k->name, "longer than %zu bytes",
			    k->size - 1);
		if ((k->flags & F_FOLDER) && (v[0] == '.' ||
		    !printable(v, "/\t")))
			return badval(l, line, k->name, "not a Maildir++ folder"
			    " name (printable, no '/', no leading '.')", v);
		if ((k->flags & F_HEADER) && !printable(v, " \t:"))
			return badval(l, line, k->name,
			    "not a header field name", v);
		memcpy(p, v, strlen(v) + 1);
		return 0;
	case T_bool:
		if (conf_parse_bool(v, &i) < 0)
			return badval(l, line, k->name, "not a boolean (0/1, "
			    "yes/no, on/off, true/false, enabled/disabled)", v);
		*(int *)p = i;
		return 0;
	case T_uint:
	case T_port:
		s = v;
		if (digits(&s, (unsigned long long)k->max, &u) < 0 ||
		    *s != '\0' || u < (unsigned long long)k->min) {
			if (k->type == T_port)
				return badval(l, line, k->name,
				    "not a port number (1-65535)", v);
			return fail(l, line, k->name,
			    "not a number (%lld-%lld): '%s'", k->min, k->max,
			    show(vb, sizeof vb, v));
		}
		*(int *)p = (int)u;
		return 0;
	case T_size:
		if (conf_parse_size(v, &n) < 0)
			return badval(l, line, k->name,
			    "not a size (like 1024, 256k, 1M, 1G)", v);
		put_num(p, k->size, n);
		return 0;
	case T_duration:
		if (conf_parse_duration(v, &n) < 0)
			return badval(l, line, k->name,
			    "not a duration (like 60, 5m, 3h, 5d)", v);
		if (n < k->min || n > k->max)
			return fail(l, line, k->name,
			    "duration out of range (%s-%s): '%s'",
			    dur_text(a, sizeof a, k->min),
			    dur_text(b, sizeof b, k->max),
			    show(vb, sizeof vb, v));
		put_num(p, k->size, n);
		return 0;
	case T_tls:
		if ((i = lookup(tls_names, NELEM(tls_names), v)) < 0)
			return badval(l, line, k->name,
			    "not a TLS mode (implicit, starttls, none)", v);
		*(int *)p = i;
		return 0;
	case T_auth:
		if ((i = lookup(auth_names, NELEM(auth_names), v)) < 0)
			return badval(l, line, k->name, "not an auth method "
			    "(auto, user, apop, plain, login, cram-md5, "
			    "xoauth2)", v);
		*(int *)p = i;
		return 0;
	case T_pin: {
		struct account *acct = base;

		if (acct->npin == CONF_PINS_MAX)
			return fail(l, line, k->name, "more than %d pins",
			    CONF_PINS_MAX);
		if (parse_pin(v, acct->pin[acct->npin]) < 0)
			return badval(l, line, k->name, "not a SHA-256 pin "
			    "(sha256: and 64 hex digits)", v);
		acct->npin++;
		return 0;
	}
	}
	return fail(l, line, k->name, "key of unknown type");
}

static int
defaults(struct ld *l, int sec, void *base)
{
	int i;

	for (i = 0; i < K_COUNT; i++) {
		if (keys[i].sec != sec ||
		    (keys[i].flags & (F_DERIVED | F_LIST)) != 0)
			continue;
		if (setval(l, i, base, keys[i].def, 0) < 0)
			return -1;
	}
	return 0;
}

static int
find_key(int sec, const char *name)
{
	int i;

	for (i = 0; i < K_COUNT; i++)
		if (keys[i].sec == sec && strcmp(keys[i].name, name) == 0)
			return i;
	return -1;
}

/* A uci name: letters, digits and '_'. */
static int
uci_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int
is_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\v' ||
	    ch == '\f';
}

/*
 * Split one statement of s into words in out.  Up to WORDS_MAX words are
 * pointed to by w; *nw counts them all.  *next is the text after a ';'
 * that ends the statement, or NULL at the end of the line.  0, or -1 with
 * *why set.
 */
static int
split(const char *s, char *out, const char **w, int *nw, const char **next,
    const char **why)
{
	char *p;
	int n = 0;

	*next = NULL;
	for (;;) {
		while (is_space(*s))
			s++;
		if (*s == '\0' || *s == '#')
			break;
		if (*s == ';') {
			*next = s + 1;
			break;
		}
		p = out;
		while (*s != '\0' && !is_space(*s) && *s != '#' && *s != ';') {
			if (*s == '\'') {
				for (s++; *s != '\'' && *s != '\0'; s++)
					*out++ = *s;
				if (*s == '\0') {
					*why = "unterminated ' quote";
					return -1;
				}
				s++;
			} else if (*s == '"') {
				for (s++; *s != '"'; s++) {
					if (*s == '\\' && s[1] != '\0')
						s++;
					if (*s == '\0') {
						*why = "unterminated \" quote";
						return -1;
					}
					*out++ = *s;
				}
				s++;
			} else if (*s == '\\') {
				if (s[1] == '\0') {
					*why = "backslash at end of line";
					return -1;
				}
				*out++ = s[1];
				s += 2;
			} else
				*out++ = *s++;
		}
		*out++ = '\0';
		if (n < WORDS_MAX)
			w[n] = p;
		n++;
	}
	*nw = n;
	return 0;
}

static int
cmd_is(const char *w, const char *full)
{
	return strcmp(w, full) == 0 || (w[0] == full[0] && w[1] == '\0');
}

static int
open_section(struct ld *l, const char *type, const char *name)
{
	struct conf *c = l->c;
	struct account *a;
	struct filter *f;
	char s[SHOW_MAX];
	int i;

	for (i = 0; i < (int)NELEM(sec_names); i++)
		if (strcmp(type, sec_names[i]) == 0)
			break;
	if (i == (int)NELEM(sec_names))
		return fail(l, l->line, "config", "unknown section type '%s'",
		    show(s, sizeof s, type));
	if (name[0] != '\0' && !uci_name(name))
		return fail(l, l->line, type, "invalid section name '%s' "
		    "(letters, digits and _ only)", show(s, sizeof s, name));
	l->sec = i;
	switch (i) {
	case S_tern:
		if (c->main.line != 0)
			return fail(l, l->line, type, "more than one 'config "
			    "tern' section (first on line %d)", c->main.line);
		c->main.line = l->line;
		l->base = &c->main;
		l->set = &l->mainset;
		return 0;
	case S_account:
		if (name[0] == '\0')
			return fail(l, l->line, type, "an account needs a name:"
			    " config account 'NAME'");
		if (strlen(name) >= CONF_NAME_MAX)
			return fail(l, l->line, type, "name longer than %d "
			    "bytes", CONF_NAME_MAX - 1);
		if (conf_account(c, name) != NULL)
			return fail(l, l->line, type, "duplicate account name "
			    "'%s'", name);
		if (c->nacct == CONF_ACCOUNTS_MAX)
			return fail(l, l->line, type, "more than %d accounts",
			    CONF_ACCOUNTS_MAX);
		a = &c->acct[c->nacct];
		memcpy(a->name, name, strlen(name) + 1);
		a->line = l->line;
		l->base = a;
		l->set = &l->aset[c->nacct++];
		return defaults(l, S_account, a);
	default:
		if (c->nfilter == CONF_FILTERS_MAX)
			return fail(l, l->line, type, "more than %d filters",
			    CONF_FILTERS_MAX);
		f = &c->filter[c->nfilter];
		f->line = l->line;
		l->base = f;
		l->set = &l->fset[c->nfilter++];
		return defaults(l, S_filter, f);
	}
}

static int
set_option(struct ld *l, int list, const char *name, const char *v)
{
	int ki;

	if (l->sec < 0)
		return fail(l, l->line, name, "%s before the first 'config' "
		    "line", list ? "list" : "option");
	if ((ki = find_key(l->sec, name)) < 0)
		return fail(l, l->line, name, "unknown option in section '%s'",
		    sec_names[l->sec]);
	if (list && !(keys[ki].flags & F_LIST))
		return fail(l, l->line, name, "not a list: write 'option %s'",
		    name);
	if (!list && (keys[ki].flags & F_LIST))
		return fail(l, l->line, name, "a list: write 'list %s'", name);
	if (setval(l, ki, l->base, v, l->line) < 0)
		return -1;
	if (*v != '\0')
		*l->set |= BIT(ki);
	else
		*l->set &= ~BIT(ki);
	if (ki == K_filter_account)
		l->facct_line[l->c->nfilter - 1] = l->line;
	return 0;
}

static int
statement(struct ld *l, const char **w, int n)
{
	char s[SHOW_MAX];

	if (n == 0)
		return 0;
	if (cmd_is(w[0], "package")) {
		if (n < 2)
			return fail(l, l->line, "syntax",
			    "package without a name");
		if (n > 2)
			return fail(l, l->line, "syntax",
			    "extra text after 'package %s'",
			    show(s, sizeof s, w[1]));
		return 0;
	}
	if (cmd_is(w[0], "config")) {
		if (n < 2 || w[1][0] == '\0')
			return fail(l, l->line, "syntax",
			    "config without a section type");
		if (n > 3)
			return fail(l, l->line, "syntax",
			    "extra text after the section name");
		return open_section(l, w[1], n == 3 ? w[2] : "");
	}
	if (cmd_is(w[0], "option") || cmd_is(w[0], "list")) {
		if (n < 2 || w[1][0] == '\0')
			return fail(l, l->line, "syntax", "%s without a name",
			    w[0][0] == 'o' ? "option" : "list");
		if (n < 3)
			return fail(l, l->line, "syntax", "%s '%s' without a "
			    "value", w[0][0] == 'o' ? "option" : "list",
			    show(s, sizeof s, w[1]));
		/* The value is not shown: it may be half a password. */
		if (n > 3)
			return fail(l, l->line, "syntax", "more than one value "
			    "for '%s' (quote a value that contains spaces)",
			    show(s, sizeof s, w[1]));
		return set_option(l, w[0][0] == 'l', w[1], w[2]);
	}
	return fail(l, l->line, "syntax", "unknown statement '%s' (config, "
	    "option, list or package)", show(s, sizeof s, w[0]));
}

static int
do_line(struct ld *l, const char *s)
{
	const char *w[WORDS_MAX], *why;
	int n;

	do {
		if (split(s, l->words, w, &n, &s, &why) < 0)
			return fail(l, l->line, "syntax", "%s", why);
		if (statement(l, w, n) < 0)
			return -1;
	} while (s != NULL);
	return 0;
}

static int
count3(const char *a, const char *b, const char *c)
{
	return (a[0] != '\0') + (b[0] != '\0') + (c[0] != '\0');
}

/* Check one account and resolve what it leaves to defaults. */
static int
resolve(struct ld *l, struct account *a, unsigned long long set)
{
	struct server *p = &a->pop3, *s = &a->smtp;
	int ln = a->line;

	if (p->host[0] == '\0' && s->host[0] == '\0')
		return fail(l, ln, "account",
		    "account has no pop3_host or smtp_host");
	if (p->host[0] != '\0' && a->maildir[0] == '\0' && a->mda[0] == '\0')
		return fail(l, ln, "account", "pop3_host needs maildir or mda");
	if (a->maildir[0] != '\0' && a->mda[0] != '\0')
		return fail(l, ln, "account",
		    "only one of maildir, mda may be set");
	if (count3(p->password, p->password_file, p->password_cmd) > 1)
		return fail(l, ln, "account", "only one of password, "
		    "password_file, password_cmd may be set");
	if (count3(s->password, s->password_file, s->password_cmd) > 1)
		return fail(l, ln, "account", "only one of smtp_password, "
		    "smtp_password_file, smtp_password_cmd may be set");
	if (p->oauth_token_cmd[0] != '\0' && p->oauth_token_file[0] != '\0')
		return fail(l, ln, "account", "only one of oauth_token_cmd, "
		    "oauth_token_file may be set");
	if (s->oauth_token_cmd[0] != '\0' && s->oauth_token_file[0] != '\0')
		return fail(l, ln, "account", "only one of "
		    "smtp_oauth_token_cmd, smtp_oauth_token_file may be set");

	if (p->user[0] == '\0')
		memcpy(p->user, a->email, sizeof p->user);
	if (s->user[0] == '\0')
		memcpy(s->user, p->user, sizeof s->user);
	if (count3(s->password, s->password_file, s->password_cmd) == 0) {
		memcpy(s->password, p->password, sizeof s->password);
		memcpy(s->password_file, p->password_file,
		    sizeof s->password_file);
		memcpy(s->password_cmd, p->password_cmd,
		    sizeof s->password_cmd);
	}
	if (!(set & BIT(K_account_smtp_auth)))
		s->auth = p->auth;
	if (s->oauth_token_cmd[0] == '\0' && s->oauth_token_file[0] == '\0') {
		memcpy(s->oauth_token_cmd, p->oauth_token_cmd,
		    sizeof s->oauth_token_cmd);
		memcpy(s->oauth_token_file, p->oauth_token_file,
		    sizeof s->oauth_token_file);
	}
	if (a->from[0] == '\0')
		memcpy(a->from, a->email, sizeof a->from);
	if (a->tls_ca_file[0] == '\0')
		memcpy(a->tls_ca_file, l->c->main.ca_file,
		    sizeof a->tls_ca_file);

	/* An explicit well-known plaintext port implies STARTTLS. */
	if (!(set & BIT(K_account_pop3_tls)) &&
	    (set & BIT(K_account_pop3_port)) && p->port == 110)
		p->tls = TLS_STARTTLS;
	if (!(set & BIT(K_account_pop3_port)))
		p->port = p->tls == TLS_IMPLICIT ? 995 : 110;
	if (!(set & BIT(K_account_smtp_tls)) &&
	    (set & BIT(K_account_smtp_port)) &&
	    (s->port == 587 || s->port == 25))
		s->tls = TLS_STARTTLS;
	if (!(set & BIT(K_account_smtp_port)))
		s->port = s->tls == TLS_IMPLICIT ? 465 :
		    s->tls == TLS_STARTTLS ? 587 : 25;
	return 0;
}

static int
finish(struct ld *l)
{
	struct conf *c = l->c;
	struct filter *f;
	char s[SHOW_MAX];
	int i, k;

	for (i = 0; i < c->nacct; i++)
		if (resolve(l, &c->acct[i], l->aset[i]) < 0)
			return -1;
	for (i = 0; i < c->nfilter; i++) {
		f = &c->filter[i];
		for (k = 0; k < K_COUNT; k++)
			if (keys[k].sec == S_filter &&
			    (keys[k].flags & F_REQUIRED) &&
			    !(l->fset[i] & BIT(k)))
				return fail(l, f->line, "filter",
				    "missing option '%s'", keys[k].name);
		if (f->account[0] != '\0' &&
		    conf_account(c, f->account) == NULL)
			return fail(l, l->facct_line[i], "account",
			    "no account named '%s'",
			    show(s, sizeof s, f->account));
	}
	return 0;
}

/* Feed the file to do_line a line at a time, through a fixed buffer. */
static int
read_lines(struct ld *l, int fd)
{
	char rbuf[1024];
	size_t len = 0;
	ssize_t r, i;

	for (;;) {
		r = read(fd, rbuf, sizeof rbuf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_set(l->e, EX_CONFIG, "%s: cannot read: %s",
			    l->c->path, strerror(errno));
		if (r == 0)
			break;
		for (i = 0; i < r; i++) {
			if (rbuf[i] == '\n') {
				l->buf[len] = '\0';
				len = 0;
				l->line++;
				if (do_line(l, l->buf) < 0)
					return -1;
				continue;
			}
			if (rbuf[i] == '\0')
				return fail(l, l->line + 1, "syntax",
				    "NUL byte in line");
			if (len == CONF_LINE_MAX)
				return fail(l, l->line + 1, "syntax",
				    "line longer than %d bytes",
				    CONF_LINE_MAX);
			l->buf[len++] = rbuf[i];
		}
	}
	if (len > 0) {
		l->buf[len] = '\0';
		l->line++;
		return do_line(l, l->buf);
	}
	return 0;
}

int
conf_load(struct conf *c, const char *path, struct err *e)
{
	struct ld l;
	int fd, rc;

	memset(c, 0, sizeof *c);
	memset(&l, 0, sizeof l);
	l.c = c;
	l.e = e;
	l.sec = -1;
	if (strlen(path) >= sizeof c->path)
		return err_set(e, EX_CONFIG, "%.64s...: path longer than %zu "
		    "bytes", path, sizeof c->path - 1);
	memcpy(c->path, path, strlen(path) + 1);
	if (defaults(&l, S_tern, &c->main) < 0)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_set(e, EX_CONFIG, "%s: cannot read: %s", path,
		    strerror(errno));
	rc = read_lines(&l, fd);
	close(fd);
	if (rc < 0)
		return -1;
	return finish(&l);
}

struct account *
conf_account(struct conf *c, const char *name)
{
	int i;

	for (i = 0; i < c->nacct; i++)
		if (strcmp(c->acct[i].name, name) == 0)
			return &c->acct[i];
	return NULL;
}
