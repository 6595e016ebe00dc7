/*
 * msg.c — the sendmail command line, the envelope and the one streaming
 * pass over the message (see msg.h for the contract).
 *
 * The header block is scanned one byte at a time with its state in
 * struct msg, so a header may be split across reads anywhere and a folded
 * To: of any length costs no memory: only a field name (MSG_FIELD_MAX) is
 * held back, until its ':' says whether the field is a Bcc to drop.  The
 * address lists of To/Cc/Bcc go through a small RFC 5322 parser fed with
 * the unfolded value; only the address being read is kept.  After the
 * header block, bytes go to the sink in bulk.
 *
 * Date, Message-ID and From are known to be missing only at the end of
 * the header block, but belong at its top.  They are therefore not
 * written into the spool; msg_finish() puts them in env->head, which the
 * queue stores with the envelope and sends before the spooled bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "sasl.h"

#define STR(x)	#x
#define XSTR(x)	STR(x)

_Static_assert(MSG_RCPT_MAX <= 65535, "rcpt count fits the queue format");
/* The longest head msg_finish builds: Date, Message-ID with a 63-byte id
 * and a 255-byte domain, From with a fully quoted or encoded name. */
_Static_assert(39 + 12 + 63 + 1 + 255 + 3 + 6 + 2 * MSG_NAME_MAX + 2 +
    MSG_ADDR_MAX + 3 < MSG_HEAD_MAX, "added headers fit MSG_HEAD_MAX");

/* ---- addresses ---- */

/* Length of the UTF-8 sequence starting at s[0..n), 0 when invalid. */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;
	unsigned int c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4;
	else
		return 0;
	if (k > n)
		return 0;
	c = s[0] & (0x7f >> k);
	for (i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((k == 3 && c < 0x800) || (k == 4 && c < 0x10000) ||
	    (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	return k;
}

static int
bad_addr(const char *a, size_t n, const char *why, struct err *e)
{
	char shown[96];

	shown[0] = '\0';
	log_escape(shown, sizeof shown, a, n > 64 ? 64 : n);
	return err_set(e, EX_DATAERR, "bad address \"%s%s\": %s", shown,
	    n > 64 ? "..." : "", why);
}

int
msg_addr_check(const char *a, size_t n, int *utf8, struct err *e)
{
	const unsigned char *u = (const unsigned char *)a;
	const char *at = NULL;
	size_t i, k, local;

	if (n == 0)
		return err_set(e, EX_DATAERR, "empty address");
	for (i = 0; i < n; i += k) {
		k = 1;
		if (u[i] < 0x20 || u[i] == 0x7f)
			return bad_addr(a, n, "control character", e);
		if (u[i] == ' ')
			return bad_addr(a, n, "contains a space", e);
		if (u[i] == '<' || u[i] == '>')
			return bad_addr(a, n, "contains '<' or '>'", e);
		if (u[i] == '@')
			at = a + i;
		if (u[i] >= 0x80) {
			if ((k = utf8_len(u + i, n - i)) == 0)
				return bad_addr(a, n, "not valid UTF-8", e);
			*utf8 = 1;
		}
	}
	if (n > MSG_ADDR_MAX)
		return bad_addr(a, n, "longer than " XSTR(MSG_ADDR_MAX)
		    " bytes", e);
	if (at == NULL) {
		/* RFC 5321 4.1.1.3: the one address without a domain. */
		if (n == 10 && strncasecmp(a, "postmaster", 10) == 0)
			return 0;
		return bad_addr(a, n, "no @domain", e);
	}
	local = (size_t)(at - a);
	if (local == 0 || local == n - 1)
		return bad_addr(a, n, "empty local part or domain", e);
	if (local > MSG_LOCAL_MAX)
		return bad_addr(a, n, "local part longer than "
		    XSTR(MSG_LOCAL_MAX) " bytes", e);
	if (n - local - 1 > MSG_DOMAIN_MAX)
		return bad_addr(a, n, "domain longer than "
		    XSTR(MSG_DOMAIN_MAX) " bytes", e);
	/* An unquoted local part cannot hold another '@'. */
	if (a[0] != '"' && memchr(a, '@', local) != NULL)
		return bad_addr(a, n, "more than one @", e);
	return 0;
}

const char *
msg_rcpt(const struct envelope *env, int i)
{
	return env->pool + env->rcpt[i].off;
}

int
msg_add_rcpt(struct envelope *env, const char *a, size_t n, struct err *e)
{
	int utf8 = 0, i;

	if (msg_addr_check(a, n, &utf8, e) < 0)
		return -1;
	for (i = 0; i < env->nrcpt; i++)
		if (strlen(msg_rcpt(env, i)) == n &&
		    memcmp(msg_rcpt(env, i), a, n) == 0)
			return 0;
	if (env->nrcpt >= MSG_RCPT_MAX)
		return err_set(e, EX_DATAERR, "more than " XSTR(MSG_RCPT_MAX)
		    " recipients");
	if (n + 1 > sizeof env->pool - env->poollen)
		return err_set(e, EX_DATAERR, "recipient addresses longer "
		    "than " XSTR(MSG_POOL_MAX) " bytes in all");
	env->rcpt[env->nrcpt].off = (unsigned int)env->poollen;
	env->rcpt[env->nrcpt].status = RCPT_PENDING;
	env->rcpt[env->nrcpt].code = 0;
	memcpy(env->pool + env->poollen, a, n);
	env->pool[env->poollen + n] = '\0';
	env->poollen += n + 1;
	env->nrcpt++;
	if (utf8)
		env->flags |= ENV_UTF8;
	return 0;
}

/* ---- RFC 5322 address lists ---- */

enum { AL_NORMAL, AL_QUOTE, AL_QESC, AL_COMMENT, AL_CESC, AL_LITERAL };

static void
al_reset(struct addrlist *al)
{
	al->len = 0;
	al->over = 0;
	al->gap = 0;
	al->words = 0;
}

void
msg_al_init(struct addrlist *al)
{
	memset(al, 0, sizeof *al);
	al->st = AL_NORMAL;
}

static void
al_put(struct addrlist *al, char c)
{
	if (al->len < sizeof al->buf - 1)
		al->buf[al->len++] = c;
	else
		al->over = 1;
}

/* A word starts: after white space, that makes a phrase, not an address,
 * unless <…> follows (which resets everything). */
static void
al_word(struct addrlist *al)
{
	if (al->gap)
		al->words = 1;
	al->gap = 0;
}

/* One mailbox ended (',' or ';' or the end of the list). */
static int
al_mailbox(struct addrlist *al, struct envelope *env, struct err *e)
{
	int r = 0;

	if (al->len > 0 || al->over) {
		if (al->words && !al->had_angle) {
			al->buf[al->len] = '\0';
			r = bad_addr(al->buf, al->len, "not an address "
			    "(a name needs <address>)", e);
		} else if (al->over)
			r = bad_addr(al->buf, al->len, "longer than "
			    XSTR(MSG_ADDR_MAX) " bytes", e);
		else
			r = msg_add_rcpt(env, al->buf, al->len, e);
	}
	al_reset(al);
	al->had_angle = 0;
	return r;
}

int
msg_al_feed(struct addrlist *al, struct envelope *env, const char *p,
    size_t n, struct err *e)
{
	size_t i;
	char c;

	for (i = 0; i < n; i++) {
		c = p[i];
		switch (al->st) {
		case AL_QUOTE:
			al_put(al, c);
			if (c == '\\')
				al->st = AL_QESC;
			else if (c == '"')
				al->st = AL_NORMAL;
			continue;
		case AL_QESC:
			al_put(al, c);
			al->st = AL_QUOTE;
			continue;
		case AL_COMMENT:
			if (c == '\\')
				al->st = AL_CESC;
			else if (c == '(')
				al->depth++;
			else if (c == ')' && --al->depth == 0)
				al->st = al->ret;
			continue;
		case AL_CESC:
			al->st = AL_COMMENT;
			continue;
		case AL_LITERAL:
			al_put(al, c);
			if (c == ']')
				al->st = AL_NORMAL;
			continue;
		}
		/* AL_NORMAL */
		switch (c) {
		case ' ': case '\t': case '\r': case '\n':
			if (al->len > 0)
				al->gap = 1;
			break;
		case '(':
			al->ret = AL_NORMAL;
			al->depth = 1;
			al->st = AL_COMMENT;
			break;
		case '"':
			al_word(al);
			al_put(al, c);
			al->st = AL_QUOTE;
			break;
		case '[':
			al_word(al);
			al_put(al, c);
			al->st = AL_LITERAL;
			break;
		case '<':
			/* What came before was the display name. */
			al_reset(al);
			al->angle = 1;
			break;
		case '>':
			if (al->angle) {
				al->angle = 0;
				if (al->words) {
					al->buf[al->len] = '\0';
					return bad_addr(al->buf, al->len,
					    "not an address", e);
				}
				al->had_angle = 1;
			} else
				return err_set(e, EX_DATAERR, "bad address "
				    "list: '>' without '<'");
			break;
		case ',':
			if (al->angle)
				al_put(al, c);	/* obsolete route list */
			else if (al_mailbox(al, env, e) < 0)
				return -1;
			break;
		case ':':
			/* A group name, or the end of an obsolete route
			 * inside <…>: either way not part of the address. */
			al_reset(al);
			if (!al->angle)
				al->group = 1;
			break;
		case ';':
			if (al->angle)
				return err_set(e, EX_DATAERR, "bad address "
				    "list: ';' inside <…>");
			if (al_mailbox(al, env, e) < 0)
				return -1;
			al->group = 0;
			break;
		default:
			/* Text after <…> ("a <b@c> d") is ignored. */
			if (!al->had_angle) {
				al_word(al);
				al_put(al, c);
			}
			break;
		}
	}
	return 0;
}

int
msg_al_end(struct addrlist *al, struct envelope *env, struct err *e)
{
	int r;

	if (al->st != AL_NORMAL)
		r = err_set(e, EX_DATAERR, "bad address list: unterminated "
		    "%s", al->st == AL_LITERAL ? "[…]" :
		    al->st == AL_QUOTE || al->st == AL_QESC ? "quoted string" :
		    "comment");
	else if (al->angle)
		r = err_set(e, EX_DATAERR, "bad address list: '<' without "
		    "'>'");
	else
		r = al_mailbox(al, env, e);
	msg_al_init(al);
	return r;
}

/* ---- the command line ---- */

/* Set a -f value: "" and "<>" are the null sender; one pair of enclosing
 * angle brackets is dropped. */
static int
set_from(struct msg_opts *o, const char *v, struct err *e)
{
	size_t n = strlen(v);
	int utf8 = 0;

	if (n >= 2 && v[0] == '<' && v[n - 1] == '>') {
		v++;
		n -= 2;
	}
	o->from_set = 1;
	if (n == 0) {
		o->from[0] = '\0';
		return 0;
	}
	if (msg_addr_check(v, n, &utf8, e) < 0)
		return -1;
	memcpy(o->from, v, n);
	o->from[n] = '\0';
	return 0;
}

static int
set_name(struct msg_opts *o, const char *v, struct err *e)
{
	const unsigned char *u = (const unsigned char *)v;
	size_t n = strlen(v), i, k;

	if (n >= sizeof o->name)
		return err_set(e, EX_DATAERR, "-F: name longer than %zu bytes",
		    sizeof o->name - 1);
	for (i = 0; i < n; i += k) {
		k = 1;
		if (u[i] < 0x20 || u[i] == 0x7f)
			return err_set(e, EX_DATAERR, "-F: name holds a "
			    "control character");
		if (u[i] >= 0x80 && (k = utf8_len(u + i, n - i)) == 0)
			return err_set(e, EX_DATAERR, "-F: name is not valid "
			    "UTF-8");
	}
	memcpy(o->name, v, n + 1);
	return 0;
}

int
msg_args(struct msg_opts *o, int argc, char *const argv[], struct err *e)
{
	const char *a, *v;
	int i, opt;
	size_t k;

	memset(o, 0, sizeof *o);
	for (i = 1; i < argc; i++) {
		a = argv[i];
		if (a[0] != '-')
			break;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[1] == '\0')
			return err_set(e, EX_USAGE, "send: unknown option -");
		for (k = 1; a[k] != '\0'; k++) {
			opt = a[k];
			if (opt == 't') {
				o->t = 1;
				continue;
			}
			if (opt == 'i')
				continue;	/* we always read to EOF */
			if (opt != 'f' && opt != 'F' && opt != 'a' &&
			    opt != 'o' && opt != 'B')
				return err_set(e, EX_USAGE, "send: unknown "
				    "option -%c", opt >= 0x21 && opt < 0x7f ?
				    opt : '?');
			/* The value is the rest of this argument or the
			 * next one, as getopt does. */
			if (a[k + 1] != '\0')
				v = a + k + 1;
			else if (i + 1 < argc)
				v = argv[++i];
			else
				return err_set(e, EX_USAGE, "send: option -%c "
				    "needs a value", opt);
			if (opt == 'f' && set_from(o, v, e) < 0)
				return -1;
			if (opt == 'F' && set_name(o, v, e) < 0)
				return -1;
			if (opt == 'a') {
				if (strlen(v) >= sizeof o->account)
					return err_set(e, EX_USAGE, "send: -a: "
					    "account name too long");
				memcpy(o->account, v, strlen(v) + 1);
			}
			/* -o… and -B… are accepted and ignored. */
			break;
		}
	}
	o->rcpt = argv + i;
	o->nrcpt = argc - i;
	if (!o->t && o->nrcpt == 0)
		return err_set(e, EX_USAGE, "send: no recipients (give them "
		    "as arguments, or -t to take them from the message)");
	return 0;
}

/* ---- the streaming pass ---- */

int
msg_begin(struct msg *m, const struct msg_opts *o, struct envelope *env,
    const char *account, const char *acct_from, msg_sink sink, void *ctx,
    struct err *e)
{
	const char *from;
	size_t n;
	int utf8 = 0, i;

	memset(m, 0, sizeof *m);
	memset(env, 0, sizeof *env);
	m->opt = o;
	m->env = env;
	m->sink = sink;
	m->ctx = ctx;
	m->hs = HS_BOL;
	m->field = -1;
	msg_al_init(&m->al);
	if (account != NULL) {
		n = strlen(account);
		if (n >= sizeof env->account)
			return err_set(e, EX_USAGE, "account name too long");
		memcpy(env->account, account, n + 1);
	}
	if (acct_from == NULL)
		acct_from = "";
	if (!o->from_set && acct_from[0] == '\0')
		return err_set(e, EX_CONFIG, "no sender address: set option "
		    "from (or email) for account %s, or use -f", env->account);
	from = o->from_set ? o->from : acct_from;
	/* With the null sender, the account's address goes into a From:
	 * we may add: check it too. */
	if (from[0] == '\0' && acct_from[0] != '\0' &&
	    msg_addr_check(acct_from, strlen(acct_from), &utf8, e) < 0)
		return -1;
	n = strlen(from);
	if (n > 0 && msg_addr_check(from, n, &utf8, e) < 0)
		return -1;
	memcpy(env->from, from, n + 1);
	if (utf8)
		env->flags |= ENV_UTF8;
	/* The From: address when the message has none: the envelope
	 * sender, or the account's for the null sender. */
	from = n > 0 ? from : acct_from;
	memcpy(m->hdr_from, from, strlen(from) + 1);

	for (i = 0; i < o->nrcpt; i++)
		if (msg_al_feed(&m->al, env, o->rcpt[i], strlen(o->rcpt[i]),
		    e) < 0 || msg_al_end(&m->al, env, e) < 0)
			return -1;
	return 0;
}

static int
flush(struct msg *m, struct err *e)
{
	if (m->olen > 0 && m->sink(m->ctx, m->obuf, m->olen, e) < 0)
		return -1;
	m->olen = 0;
	return 0;
}

static int
emit(struct msg *m, const char *p, size_t n, struct err *e)
{
	uint64_t w, any = 0;
	size_t i = 0, k;

	/* any byte with its top bit set, a word at a time */
	if (!(m->env->flags & ENV_8BIT)) {
		for (; i + 8 <= n; i += 8) {
			memcpy(&w, p + i, 8);
			any |= w;
		}
		for (; i < n; i++)
			any |= (unsigned char)p[i];
		if (any & 0x8080808080808080ull)
			m->env->flags |= ENV_8BIT;
	}
	m->spooled += (long long)n;
	if (m->olen == 0 && n >= sizeof m->obuf)
		return m->sink(m->ctx, p, n, e);	/* no copy */
	while (n > 0) {
		k = sizeof m->obuf - m->olen;
		if (k > n)
			k = n;
		memcpy(m->obuf + m->olen, p, k);
		m->olen += k;
		p += k;
		n -= k;
		if (m->olen == sizeof m->obuf && flush(m, e) < 0)
			return -1;
	}
	return 0;
}

static const char *
eol(const struct msg *m)
{
	return m->crlf ? "\r\n" : "\n";
}

/* A field ends where the next line does not start with white space. */
static int
field_end(struct msg *m, struct err *e)
{
	int r = 0;

	if (m->addrs)
		r = msg_al_end(&m->al, m->env, e);
	m->addrs = 0;
	m->drop = 0;
	m->field = -1;
	return r;
}

/* A line that is not a header ends the header block without the blank
 * line: insert one, then pass on what was held back and the byte c
 * (c < 0: none). */
static int
body_start(struct msg *m, int c, struct err *e)
{
	char b = (char)c;

	if (field_end(m, e) < 0 || emit(m, eol(m), strlen(eol(m)), e) < 0 ||
	    emit(m, m->name, m->namelen, e) < 0 ||
	    (c >= 0 && emit(m, &b, 1, e) < 0))
		return -1;
	m->namelen = 0;
	m->hs = HS_BODY;
	return 0;
}

static const struct {
	const char *name;
	int field;
} fields[] = {
	{ "to", FLD_TO }, { "cc", FLD_CC }, { "bcc", FLD_BCC },
	{ "date", FLD_DATE }, { "message-id", FLD_MSGID },
	{ "from", FLD_FROM },
};

/* The field name in m->name is complete (its ':' just read). */
static int
field_start(struct msg *m, struct err *e)
{
	size_t n = m->namelen, i;

	while (n > 0 && (m->name[n - 1] == ' ' || m->name[n - 1] == '\t'))
		n--;
	m->field = FLD_OTHER;
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strlen(fields[i].name) == n &&
		    strncasecmp(m->name, fields[i].name, n) == 0)
			m->field = fields[i].field;
	switch (m->field) {
	case FLD_DATE:
		m->has_date = 1;
		break;
	case FLD_MSGID:
		m->has_msgid = 1;
		break;
	case FLD_FROM:
		m->has_from = 1;
		break;
	}
	/* Bcc never reaches the spool; with -t its addresses count. */
	m->drop = m->field == FLD_BCC;
	m->addrs = m->opt->t && (m->field == FLD_TO || m->field == FLD_CC ||
	    m->field == FLD_BCC);
	m->nfields++;
	m->hs = HS_VALUE;
	if (!m->drop && (emit(m, m->name, m->namelen, e) < 0 ||
	    emit(m, ":", 1, e) < 0))
		return -1;
	m->namelen = 0;
	return 0;
}

/* One byte of the header block. */
static int
hdr_byte(struct msg *m, unsigned char c, struct err *e)
{
	char b = (char)c;

	switch (m->hs) {
	case HS_BOL:
		if (c == ' ' || c == '\t') {
			if (m->field < 0)	/* nothing to continue */
				return body_start(m, c, e);
			m->hs = HS_VALUE;
			break;		/* a continuation line */
		}
		if (field_end(m, e) < 0)
			return -1;
		if (c == '\n') {
			m->hs = HS_BODY;
			return emit(m, "\n", 1, e);
		}
		if (c == '\r') {
			m->hs = HS_CR;
			return 0;
		}
		m->hs = HS_NAME;
		m->namelen = 0;
		m->name_ws = 0;
		/* FALLTHROUGH */
	case HS_NAME:
		if (c == ':' && m->namelen > 0)
			return field_start(m, e);
		if (c == ' ' || c == '\t') {
			if (m->namelen == 0)
				return body_start(m, c, e);
			m->name_ws = 1;		/* "Subject :" */
		} else if (c <= 0x20 || c >= 0x7f || c == ':' || m->name_ws)
			return body_start(m, c, e);
		m->name[m->namelen++] = b;
		if (m->namelen > MSG_FIELD_MAX) {
			/* Longer than any field we look at: pass it on as
			 * some other header (its ':' will follow). */
			m->field = FLD_OTHER;
			m->nfields++;
			m->hs = HS_VALUE;
			if (emit(m, m->name, m->namelen, e) < 0)
				return -1;
			m->namelen = 0;
		}
		return 0;
	case HS_CR:
		if (c == '\n') {
			m->hs = HS_BODY;
			return emit(m, "\r\n", 2, e);
		}
		m->name[0] = '\r';
		m->namelen = 1;
		return body_start(m, c, e);
	}

	/* HS_VALUE */
	if (!m->drop && emit(m, &b, 1, e) < 0)
		return -1;
	/* A CR is part of the line end only right before its LF; any
	 * other CR is data, and refuses an address it falls into. */
	if (m->prev_cr && c != '\n' && m->addrs &&
	    msg_al_feed(&m->al, m->env, "\r", 1, e) < 0)
		return -1;
	if (c == '\n') {
		if (!m->eol_seen) {
			m->eol_seen = 1;
			m->crlf = m->prev_cr;
		}
		m->hs = HS_BOL;
	} else if (c != '\r' && m->addrs &&
	    msg_al_feed(&m->al, m->env, &b, 1, e) < 0)
		return -1;
	m->prev_cr = c == '\r';
	return 0;
}

int
msg_feed(struct msg *m, const char *buf, size_t n, struct err *e)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (m->hs == HS_BODY)
			return emit(m, buf + i, n - i, e);
		if (hdr_byte(m, (unsigned char)buf[i], e) < 0)
			return -1;
	}
	return 0;
}

int
msg_read(struct msg *m, int fd, struct err *e)
{
	ssize_t n;

	for (;;) {
		n = read(fd, m->ibuf, sizeof m->ibuf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return err_set(e, EX_IOERR, "reading the message: %s",
			    strerror(errno));
		}
		if (n == 0)
			return 0;
		if (msg_feed(m, m->ibuf, (size_t)n, e) < 0)
			return -1;
	}
}

void
msg_date(long long t, char *buf, size_t cap)
{
	static const char days[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char mons[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug",
		"Sep", "Oct", "Nov", "Dec"
	};
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	snprintf(buf, cap, "%s, %02d %s %04d %02d:%02d:%02d +0000",
	    days[tm.tm_wday % 7], tm.tm_mday, mons[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* A bounded appender for env->head. */
static void
put(struct envelope *env, const char *s, size_t n)
{
	if (n > sizeof env->head - 1 - env->headlen)
		n = sizeof env->head - 1 - env->headlen;
	memcpy(env->head + env->headlen, s, n);
	env->headlen += n;
	env->head[env->headlen] = '\0';
}

static void
puts_(struct envelope *env, const char *s)
{
	put(env, s, strlen(s));
}

/* Is the display name all atext and spaces (no quoting needed)? */
static int
is_atoms(const char *s)
{
	static const char special[] = "!#$%&'*+-/=?^_`{|}~ ";

	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(special, *s) != NULL))
			return 0;
	return 1;
}

/* The -F name as a phrase: bare atoms, a quoted string, or for non-ASCII
 * RFC 2047 encoded words of at most 45 bytes each (75 characters), never
 * splitting a UTF-8 sequence. */
static void
put_name(struct envelope *env, const char *name)
{
	const unsigned char *u = (const unsigned char *)name;
	char b64[64];
	size_t n = strlen(name), i, j, k;
	int ascii = 1;

	for (i = 0; i < n; i++)
		if (u[i] >= 0x80)
			ascii = 0;
	if (ascii && is_atoms(name) && name[0] != ' ' && name[n - 1] != ' ') {
		puts_(env, name);
		return;
	}
	if (ascii) {
		puts_(env, "\"");
		for (i = 0; i < n; i++) {
			if (name[i] == '"' || name[i] == '\\')
				puts_(env, "\\");
			put(env, name + i, 1);
		}
		puts_(env, "\"");
		return;
	}
	for (i = 0; i < n; i = j) {
		for (j = i; j < n; j += k) {
			k = utf8_len(u + j, n - j);
			if (k == 0)
				k = 1;	/* checked by msg_args */
			if (j + k - i > 45)
				break;
		}
		if (b64_encode(name + i, j - i, b64, sizeof b64) < 0)
			return;
		if (i > 0)
			puts_(env, " ");
		puts_(env, "=?UTF-8?B?");
		puts_(env, b64);
		puts_(env, "?=");
	}
}

int
msg_finish(struct msg *m, long long now, const char *id, struct err *e)
{
	struct envelope *env = m->env;
	const char *dom, *at;
	char date[40], host[256];

	switch (m->hs) {
	case HS_BOL:
	case HS_VALUE:
		if (field_end(m, e) < 0)
			return -1;
		break;
	case HS_CR:
		if (field_end(m, e) < 0 || emit(m, "\r", 1, e) < 0)
			return -1;
		break;
	case HS_NAME:
		if (body_start(m, -1, e) < 0)
			return -1;
		break;
	}
	m->hs = HS_BODY;
	if (flush(m, e) < 0)
		return -1;
	if (env->nrcpt == 0)
		return err_set(e, EX_DATAERR, "no recipients%s",
		    m->opt->t ? " in To, Cc or Bcc" : "");

	env->headlen = 0;
	env->head[0] = '\0';
	if (!m->has_date) {
		msg_date(now, date, sizeof date);
		puts_(env, "Date: ");
		puts_(env, date);
		puts_(env, eol(m));
	}
	if (!m->has_msgid) {
		/* The sender's domain names the generator better than a
		 * router's host name, which is rarely a domain. */
		at = strrchr(m->hdr_from, '@');
		dom = at != NULL ? at + 1 : NULL;
		if (dom == NULL) {
			if (gethostname(host, sizeof host) != 0)
				host[0] = '\0';
			host[sizeof host - 1] = '\0';
			dom = host[0] != '\0' ? host : "localhost";
		}
		puts_(env, "Message-ID: <");
		puts_(env, id);
		puts_(env, "@");
		puts_(env, dom);
		puts_(env, ">");
		puts_(env, eol(m));
	}
	if (!m->has_from) {
		if (m->hdr_from[0] == '\0')
			return err_set(e, EX_DATAERR, "the message has no "
			    "From: and there is no sender address to add");
		puts_(env, "From: ");
		if (m->opt->name[0] != '\0') {
			put_name(env, m->opt->name);
			puts_(env, " <");
			puts_(env, m->hdr_from);
			puts_(env, ">");
		} else
			puts_(env, m->hdr_from);
		puts_(env, eol(m));
	}
	for (dom = env->head; *dom != '\0'; dom++)
		if ((unsigned char)*dom >= 0x80)
			env->flags |= ENV_8BIT;
	env->created = now;
	env->size = (long long)env->headlen + m->spooled;
	return 0;
}
