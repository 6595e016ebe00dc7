/*
 * queue.c — the outgoing spool (see queue.h for the layout and rules).
 *
 * A queue file is written once, in tmp/, through a hashing writer, and
 * renamed into q/ only after it is complete and fsync'd, so q/ holds only
 * whole files; the trailer check still guards against a file system that
 * loses blocks.  Validation reads the whole file once (the checksum) and
 * parses the envelope as its bytes go by, so memory does not depend on
 * the message size.  Everything that changes afterwards goes to ID.meta
 * through file_replace, so a crash leaves either the old or the new meta.
 *
 * Removal order matters for "nothing lost, at most sent again": on
 * success the message goes first, then its meta (a stray meta is
 * harmless); on failure the message is moved first (a crash then leaves
 * it in failed/ without its reason, never queued twice).
 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "queue.h"

#define ENV_MAGIC	"tern-queue 1"
#define META_VERSION	"version=1"
/* The trailer names its checksum: w64 (since 0.1.0's queue files are
 * written) or fnv, byte-wise FNV-1a, which earlier builds wrote and which
 * is still read.  FNV-1a costs a multiply per byte, w64 one per 8. */
#define TRAILER_FMT	"tern-queue-end body=%016llx env=%08x %s=%016llx\n"
#define TRAILER_LEN	(sizeof "tern-queue-end body= env= w64=\n" - 1 + \
			 16 + 8 + 16)
#define TRAILER_SUM	50	/* offset of the checksum's name */

#define FNV_INIT	0xcbf29ce484222325ULL

static uint64_t
fnv1a(uint64_t h, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* w64: each word is xor'ed into the rotated sum, then multiplied by an
 * odd constant.  Every step is a bijection of the sum, so a file that
 * differs from the original in a single word always fails the check. */
static uint64_t
w64_mix(uint64_t h, uint64_t w)
{
	return ((h << 23 | h >> 41) ^ w) * 0x9e3779b97f4a7c15ULL;
}

static void
sum_add(struct queue_sum *s, const void *buf, size_t n)
{
	const unsigned char *p = buf;
	uint64_t w;

	for (; n > 0 && s->n != 0; n--) {
		s->w |= (uint64_t)*p++ << 8 * s->n;
		if (++s->n == 8) {
			s->h = w64_mix(s->h, s->w);
			s->w = 0;
			s->n = 0;
		}
	}
	for (; n >= 8; p += 8, n -= 8) {
		memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		s->h = w64_mix(s->h, w);
	}
	for (; n > 0; n--)
		s->w |= (uint64_t)*p++ << 8 * s->n++;
}

static uint64_t
sum_end(const struct queue_sum *s)
{
	return s->n != 0 ? w64_mix(s->h, s->w) : s->h;
}

void
queue_init(struct queue *q, const char *spool_dir, long long lifetime)
{
	size_t n = strlen(spool_dir);

	memset(q->dir, 0, sizeof q->dir);
	if (n >= sizeof q->dir)
		n = sizeof q->dir - 1;
	memcpy(q->dir, spool_dir, n);
	while (n > 1 && q->dir[n - 1] == '/')
		q->dir[--n] = '\0';
	q->lifetime = lifetime;
	q->counter = 0;
}

/* spool_dir/sub[/name[suffix]] into buf; -1 when it does not fit. */
static int
qpath(const struct queue *q, char *buf, const char *sub, const char *name,
    const char *suffix, struct err *e)
{
	int n;

	if (name == NULL)
		n = snprintf(buf, QUEUE_PATH_MAX, "%s/%s", q->dir, sub);
	else
		n = snprintf(buf, QUEUE_PATH_MAX, "%s/%s/%s%s", q->dir, sub,
		    name, suffix);
	if (n < 0 || n >= QUEUE_PATH_MAX)
		return err_set(e, EX_CANTCREAT, "%s: path too long", q->dir);
	return 0;
}

/* Is `name` one of our IDs?  Digits, hex and dots, not starting with a
 * dot, no .meta or temp-file suffix. */
static int
is_id(const char *name)
{
	size_t i, n = strlen(name);

	if (n == 0 || n >= QUEUE_ID_MAX || name[0] == '.')
		return 0;
	for (i = 0; i < n; i++)
		if (!((name[i] >= '0' && name[i] <= '9') ||
		    (name[i] >= 'a' && name[i] <= 'f') || name[i] == '.'))
			return 0;
	return 1;
}

/* ---- escaping of envelope and meta values ---- */

static size_t
esc(char *out, size_t cap, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;
	unsigned char c;

	for (i = 0; i < n; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c <= 0x7e && c != '\\') {
			if (o + 1 >= cap)
				break;
			out[o++] = (char)c;
		} else if (c == '\\') {
			if (o + 2 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = '\\';
		} else {
			if (o + 4 >= cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return o;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decode in place; -1 on a malformed escape. */
static long
unesc(char *s)
{
	char *o = s, *p = s;
	int a, b;

	while (*p != '\0') {
		if (*p != '\\') {
			*o++ = *p++;
			continue;
		}
		if (p[1] == '\\') {
			*o++ = '\\';
			p += 2;
			continue;
		}
		if (p[1] != 'x' || (a = hexval(p[2])) < 0 ||
		    (b = hexval(p[3])) < 0)
			return -1;
		*o++ = (char)(a << 4 | b);
		p += 4;
	}
	*o = '\0';
	return o - s;
}

/* A decimal number that is the whole string. */
static int
num(const char *s, long long *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoll(s, &end, 10);
	return errno != 0 || *end != '\0' ? -1 : 0;
}

/* ---- enqueue ---- */

int
queue_begin(struct queue *q, struct queue_tx *tx, long long now,
    struct err *e)
{
	char dir[QUEUE_PATH_MAX];
	uint32_t rnd;
	int tries;

	tx->fd = -1;
	memset(&tx->sum, 0, sizeof tx->sum);
	tx->sum.h = FNV_INIT;
	tx->len = 0;
	tx->wb = 0;
	tx->blen = 0;
	tx->path[0] = '\0';
	if (qpath(q, dir, "tmp", NULL, NULL, e) < 0 ||
	    file_mkdirs(dir, 0700, e) < 0 ||
	    qpath(q, dir, "q", NULL, NULL, e) < 0 ||
	    file_mkdirs(dir, 0700, e) < 0)
		return -1;
	for (tries = 0; tries < 8; tries++) {
		if (getrandom(&rnd, sizeof rnd, GRND_NONBLOCK) !=
		    (ssize_t)sizeof rnd)
			rnd = (uint32_t)(now ^ (long long)q->counter << 16);
		snprintf(tx->id, sizeof tx->id, "%lld.%ld.%u.%08x", now,
		    (long)getpid(), q->counter++, (unsigned int)rnd);
		if (qpath(q, tx->path, "tmp", tx->id, "", e) < 0)
			return -1;
		tx->fd = open(tx->path, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		if (tx->fd >= 0)
			return 0;
		if (errno != EEXIST && errno != EINTR)
			break;
	}
	err_set(e, EX_CANTCREAT, "%s: cannot create: %s", tx->path,
	    strerror(errno));
	tx->path[0] = '\0';
	return -1;
}

static int
tx_flush(struct queue_tx *tx, struct err *e)
{
	if (tx->blen > 0 && file_write_all(tx->fd, tx->buf, tx->blen) != 0)
		return err_set(e, EX_CANTCREAT, "%s: write: %s", tx->path,
		    strerror(errno));
	tx->blen = 0;
	file_writeback(tx->fd, &tx->wb, tx->len, QUEUE_WRITEBACK);
	return 0;
}

/* Append bytes; `hashed` says whether the checksum covers them. */
static int
tx_put(struct queue_tx *tx, const char *buf, size_t n, int hashed,
    struct err *e)
{
	size_t k;

	if (hashed) {
		sum_add(&tx->sum, buf, n);
		tx->len += (long long)n;
	}
	if (tx->blen == 0 && n >= sizeof tx->buf) {	/* no copy */
		if (file_write_all(tx->fd, buf, n) != 0)
			return err_set(e, EX_CANTCREAT, "%s: write: %s",
			    tx->path, strerror(errno));
		return tx_flush(tx, e);		/* the write-back step */
	}
	while (n > 0) {
		k = sizeof tx->buf - tx->blen;
		if (k > n)
			k = n;
		memcpy(tx->buf + tx->blen, buf, k);
		tx->blen += k;
		buf += k;
		n -= k;
		if (tx->blen == sizeof tx->buf && tx_flush(tx, e) < 0)
			return -1;
	}
	return 0;
}

int
queue_write(void *txv, const char *buf, size_t n, struct err *e)
{
	return tx_put(txv, buf, n, 1, e);
}

/* key=escaped value\n */
static int
tx_kv(struct queue *q, struct queue_tx *tx, const char *key, const char *v,
    size_t n, struct err *e)
{
	size_t k = strlen(key);

	memcpy(q->line, key, k);
	q->line[k++] = '=';
	k += esc(q->line + k, sizeof q->line - k - 1, v, n);
	q->line[k++] = '\n';
	return tx_put(tx, q->line, k, 1, e);
}

static int
tx_num(struct queue *q, struct queue_tx *tx, const char *key, long long v,
    struct err *e)
{
	char b[24];
	int n = snprintf(b, sizeof b, "%lld", v);

	return tx_kv(q, tx, key, b, (size_t)n, e);
}

/* The file this process queued last, durable: its checksum need not be
 * checked again before it is sent (the check is for files a crash or a
 * disk may have damaged since; it reads the whole file again). */
static struct {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;		/* any write since changes it */
} wrote;

int
queue_commit(struct queue *q, struct queue_tx *tx, const struct envelope *env,
    struct err *e)
{
	char dir[QUEUE_PATH_MAX], path[QUEUE_PATH_MAX];
	char trailer[TRAILER_LEN + 1];
	long long body = tx->len, envstart;
	struct stat sb;
	int i;

	if (env->size != (long long)env->headlen + body || env->nrcpt < 1)
		return err_set(e, EX_SOFTWARE, "%s: envelope does not match "
		    "the spooled message", tx->path);
	envstart = tx->len;
	if (tx_put(tx, ENV_MAGIC "\n", sizeof ENV_MAGIC, 1, e) < 0 ||
	    tx_kv(q, tx, "account", env->account, strlen(env->account),
	    e) < 0 ||
	    tx_kv(q, tx, "from", env->from, strlen(env->from), e) < 0 ||
	    tx_num(q, tx, "created", env->created, e) < 0 ||
	    tx_num(q, tx, "flags", env->flags, e) < 0 ||
	    tx_num(q, tx, "size", env->size, e) < 0 ||
	    tx_kv(q, tx, "head", env->head, env->headlen, e) < 0)
		return -1;
	for (i = 0; i < env->nrcpt; i++)
		if (tx_kv(q, tx, "rcpt", msg_rcpt(env, i),
		    strlen(msg_rcpt(env, i)), e) < 0)
			return -1;
	snprintf(trailer, sizeof trailer, TRAILER_FMT,
	    (unsigned long long)body,
	    (unsigned int)(tx->len - envstart), "w64",
	    (unsigned long long)sum_end(&tx->sum));
	if (tx_put(tx, trailer, TRAILER_LEN, 0, e) < 0 || tx_flush(tx, e) < 0)
		return -1;
	if (fsync(tx->fd) != 0)
		return err_set(e, EX_CANTCREAT, "%s: fsync: %s", tx->path,
		    strerror(errno));
	if (close(tx->fd) != 0) {
		tx->fd = -1;
		return err_set(e, EX_CANTCREAT, "%s: close: %s", tx->path,
		    strerror(errno));
	}
	tx->fd = -1;
	wrote.ino = 0;
	if (qpath(q, path, "q", tx->id, "", e) < 0 ||
	    qpath(q, dir, "q", NULL, NULL, e) < 0)
		return -1;
	if (rename(tx->path, path) != 0)
		return err_set(e, EX_CANTCREAT, "%s: rename to %s: %s",
		    tx->path, path, strerror(errno));
	tx->path[0] = '\0';
	if (file_fsync_dir(dir, e) < 0) {
		e->ex = EX_CANTCREAT;
		return -1;
	}
	if (stat(path, &sb) == 0) {
		wrote.dev = sb.st_dev;
		wrote.ino = sb.st_ino;
		wrote.size = sb.st_size;
		wrote.mtime = sb.st_mtim;
	}
	return 0;
}

void
queue_abort(struct queue_tx *tx)
{
	if (tx->fd >= 0)
		close(tx->fd);
	tx->fd = -1;
	if (tx->path[0] != '\0')
		unlink(tx->path);
	tx->path[0] = '\0';
}

/* ---- validation ---- */

/* Parse the fixed-length trailer: 1 for a w64 sum, 0 for FNV-1a, -1 when
 * it is not a trailer. */
static int
trailer_parse(const char *t, long long *body, long long *envlen,
    uint64_t *hash)
{
	int w64 = memcmp(t + TRAILER_SUM, "w64", 3) == 0;
	unsigned long long v[3] = { 0, 0, 0 };
	static const struct {
		size_t off, len;
	} f[3] = { { 20, 16 }, { 41, 8 }, { 54, 16 } };
	char want[TRAILER_LEN + 1];
	size_t i, k;
	int d;

	for (i = 0; i < 3; i++)
		for (k = 0; k < f[i].len; k++) {
			if ((d = hexval(t[f[i].off + k])) < 0)
				return -1;
			v[i] = v[i] << 4 | (unsigned int)d;
		}
	/* The fixed text around the numbers must match exactly. */
	snprintf(want, sizeof want, TRAILER_FMT, v[0], (unsigned int)v[1],
	    w64 ? "w64" : "fnv", v[2]);
	if (memcmp(want, t, TRAILER_LEN) != 0 || v[0] > (1ULL << 62))
		return -1;
	*body = (long long)v[0];
	*envlen = (long long)v[1];
	*hash = v[2];
	return w64;
}

/* Envelope parser: one complete line at a time, in a fixed order. */
struct envp {
	int n;			/* lines parsed */
	int bad;
	const char *why;	/* the first problem */
};

static void
envbad(struct envp *p, const char *why)
{
	if (!p->bad)
		p->why = why;
	p->bad = 1;
}

static const char *const env_keys[] = {
	ENV_MAGIC, "account", "from", "created", "flags", "size", "head"
};
#define NENVKEYS	(sizeof env_keys / sizeof env_keys[0])

static void
env_line(struct envp *p, char *line, struct envelope *env,
    long long body_len)
{
	struct err e2 = { 0, "" };
	const char *key;
	char *v;
	long long x;
	long n;
	int before;

	if (p->bad)
		return;
	if (p->n++ == 0) {
		if (strcmp(line, ENV_MAGIC) != 0)
			envbad(p, "envelope does not start with \""
			    ENV_MAGIC "\"");
		return;
	}
	key = (size_t)p->n - 1 < NENVKEYS ? env_keys[p->n - 1] : "rcpt";
	v = strchr(line, '=');
	if (v == NULL || (size_t)(v - line) != strlen(key) ||
	    memcmp(line, key, strlen(key)) != 0) {
		envbad(p, "envelope line out of order");
		return;
	}
	*v++ = '\0';
	if ((n = unesc(v)) < 0) {
		envbad(p, "bad escape in the envelope");
		return;
	}
	switch (p->n - 1) {
	case 1:
		if ((size_t)n >= sizeof env->account)
			break;
		memcpy(env->account, v, (size_t)n + 1);
		return;
	case 2:
		if ((size_t)n >= sizeof env->from)
			break;
		memcpy(env->from, v, (size_t)n + 1);
		return;
	case 3:
		if (num(v, &env->created) < 0)
			break;
		return;
	case 4:
		if (num(v, &x) < 0 || x > (ENV_8BIT | ENV_UTF8))
			break;
		env->flags = (int)x;
		return;
	case 5:
		if (num(v, &env->size) < 0)
			break;
		return;
	case 6:
		if ((size_t)n >= sizeof env->head)
			break;
		memcpy(env->head, v, (size_t)n + 1);
		env->headlen = (size_t)n;
		if (env->size != (long long)env->headlen + body_len)
			envbad(p, "envelope size does not match the message");
		return;
	default:
		before = env->nrcpt;
		if (msg_add_rcpt(env, v, (size_t)n, &e2) < 0 ||
		    env->nrcpt != before + 1)
			break;
		return;
	}
	envbad(p, "bad value in the envelope");
}

/* Check the file on fd and load its envelope: 0 valid, 1 damaged (why
 * set), -1 read error (e set). */
static int
check(struct queue *q, int fd, const char *path, struct envelope *env,
    long long *body_len, long long *fsize, char *why, size_t whycap,
    struct err *e)
{
	char t[TRAILER_LEN];
	struct stat sb;
	struct envp p = { 0, 0, NULL };
	long long body, envlen, off, total;
	struct queue_sum sum = { FNV_INIT, 0, 0 };
	uint64_t want, h = FNV_INIT;
	size_t len = 0, i, start;
	ssize_t n;
	int trusted, w64;

	memset(env, 0, offsetof(struct envelope, rcpt));
	env->nrcpt = 0;
	env->poollen = 0;
	if (fstat(fd, &sb) != 0)
		return err_set(e, EX_IOERR, "%s: stat: %s", path,
		    strerror(errno));
	*fsize = (long long)sb.st_size;
	if (sb.st_size < (off_t)TRAILER_LEN) {
		snprintf(why, whycap, "shorter than its trailer (%lld bytes)",
		    (long long)sb.st_size);
		return 1;
	}
	do
		n = pread(fd, t, TRAILER_LEN, sb.st_size - (off_t)TRAILER_LEN);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return err_set(e, EX_IOERR, "%s: read: %s", path,
		    strerror(errno));
	if (n != (ssize_t)TRAILER_LEN ||
	    (w64 = trailer_parse(t, &body, &envlen, &want)) < 0) {
		snprintf(why, whycap, "no valid trailer (torn file?)");
		return 1;
	}
	total = body + envlen;
	if (total + (long long)TRAILER_LEN != (long long)sb.st_size ||
	    envlen > QUEUE_ENV_MAX) {
		snprintf(why, whycap, "lengths in the trailer do not match "
		    "the file size");
		return 1;
	}
	trusted = wrote.ino != 0 && sb.st_ino == wrote.ino &&
	    sb.st_dev == wrote.dev && sb.st_size == wrote.size &&
	    sb.st_mtim.tv_sec == wrote.mtime.tv_sec &&
	    sb.st_mtim.tv_nsec == wrote.mtime.tv_nsec;
	/* One pass: the checksum over everything, the envelope parsed
	 * line by line as its bytes go by (only the envelope for the file
	 * this process has just queued). */
	for (off = trusted ? body : 0; off < total; off += n) {
		size_t want_n = sizeof q->rbuf;

		if ((long long)want_n > total - off)
			want_n = (size_t)(total - off);
		do
			n = pread(fd, q->rbuf, want_n, off);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			return err_set(e, EX_IOERR, "%s: read: %s", path,
			    strerror(errno));
		if (n == 0) {
			snprintf(why, whycap, "shorter than its trailer says");
			return 1;
		}
		if (w64)
			sum_add(&sum, q->rbuf, (size_t)n);
		else
			h = fnv1a(h, q->rbuf, (size_t)n);
		start = off >= body ? 0 : body - off < n ?
		    (size_t)(body - off) : (size_t)n;
		for (i = start; i < (size_t)n; i++) {
			if (q->rbuf[i] != '\n') {
				if (len < QUEUE_LINE_MAX)
					q->line[len++] = q->rbuf[i];
				else
					envbad(&p, "envelope line too long");
				continue;
			}
			q->line[len] = '\0';
			if (memchr(q->line, '\0', len) != NULL)
				envbad(&p, "NUL in the envelope");
			env_line(&p, q->line, env, body);
			len = 0;
		}
	}
	if (!trusted && (w64 ? sum_end(&sum) : h) != want) {
		snprintf(why, whycap, "checksum mismatch");
		return 1;
	}
	if (len != 0)
		envbad(&p, "envelope does not end with a newline");
	if ((size_t)p.n < NENVKEYS + 1)
		envbad(&p, "envelope incomplete");
	if (p.bad) {
		snprintf(why, whycap, "%s", p.why);
		return 1;
	}
	*body_len = body;
	return 0;
}

/* ---- meta ---- */

static void
meta_defaults(struct queue_msg *h)
{
	int i;

	h->attempts = 0;
	h->next = 0;
	h->last = 0;
	h->last_error[0] = '\0';
	for (i = 0; i < h->env->nrcpt; i++) {
		h->env->rcpt[i].status = RCPT_PENDING;
		h->env->rcpt[i].code = 0;
	}
}

/* Parse q->meta (len bytes) into h; -1 when it is not valid. */
static int
meta_parse(struct queue *q, size_t len, struct queue_msg *h)
{
	char *s = q->meta, *line, *nl, *v, *tok, *sv;
	const char *ck;
	long long x;
	uint64_t want;
	size_t body;
	int field = 0, i;

	/* The last line is check=HEX of every byte before it. */
	if (len < 23 || s[len - 1] != '\n')
		return -1;
	ck = s + len - 23;
	if (ck != s && ck[-1] != '\n')
		return -1;
	if (memcmp(ck, "check=", 6) != 0)
		return -1;
	body = (size_t)(ck - s);
	want = 0;
	for (i = 0; i < 16; i++) {
		if (hexval(ck[6 + i]) < 0)
			return -1;
		want = want << 4 | (uint64_t)hexval(ck[6 + i]);
	}
	if (fnv1a(FNV_INIT, s, body) != want)
		return -1;
	s[body] = '\0';
	for (line = s; *line != '\0'; line = nl + 1, field++) {
		nl = strchr(line, '\n');
		if (nl == NULL)
			return -1;
		*nl = '\0';
		if (field == 0) {
			if (strcmp(line, META_VERSION) != 0)
				return -1;
			continue;
		}
		v = strchr(line, '=');
		if (v == NULL)
			return -1;
		*v++ = '\0';
		switch (field) {
		case 1:
			if (strcmp(line, "attempts") || num(v, &x) ||
			    x > 1000000)
				return -1;
			h->attempts = (int)x;
			break;
		case 2:
			if (strcmp(line, "next") || num(v, &h->next))
				return -1;
			break;
		case 3:
			if (strcmp(line, "last") || num(v, &h->last))
				return -1;
			break;
		case 4:
			if (strcmp(line, "error") || unesc(v) < 0 ||
			    strlen(v) >= sizeof h->last_error)
				return -1;
			memcpy(h->last_error, v, strlen(v) + 1);
			break;
		case 5:
			if (strcmp(line, "rcpt"))
				return -1;
			i = 0;
			for (tok = strtok_r(v, " ", &sv); tok != NULL;
			    tok = strtok_r(NULL, " ", &sv), i++) {
				if (i >= h->env->nrcpt || num(tok + 1, &x) ||
				    x > 999)
					return -1;
				h->env->rcpt[i].code = (unsigned short)x;
				if (tok[0] == 'p')
					h->env->rcpt[i].status = RCPT_PENDING;
				else if (tok[0] == 'd')
					h->env->rcpt[i].status = RCPT_DONE;
				else if (tok[0] == 'f')
					h->env->rcpt[i].status = RCPT_FAILED;
				else
					return -1;
			}
			if (i != h->env->nrcpt)
				return -1;
			break;
		default:
			return -1;
		}
	}
	return field == 6 ? 0 : -1;
}

/* Load spool/sub/ID.meta into h (defaults when missing or damaged). */
static int
meta_load(struct queue *q, const char *sub, struct queue_msg *h,
    struct err *e)
{
	char path[QUEUE_PATH_MAX];
	struct err e2 = { 0, "" };
	long n;

	meta_defaults(h);
	h->meta_bad = 0;
	if (qpath(q, path, sub, h->id, ".meta", e) < 0)
		return -1;
	n = file_read(path, q->meta, sizeof q->meta, 1, &e2);
	if (n < 0) {
		if (errno == ENOENT && e2.ex == 0)
			return 0;
		if (errno != EFBIG)
			return err_set(e, EX_IOERR, "%s", e2.msg);
		n = 0;		/* too large: damaged */
	}
	if (n == 0 || meta_parse(q, (size_t)n, h) < 0) {
		meta_defaults(h);
		h->meta_bad = 1;
	}
	return 0;
}

static int
meta_save(struct queue *q, const char *sub, struct queue_msg *h,
    struct err *e)
{
	char path[QUEUE_PATH_MAX], *s = q->meta;
	size_t cap = sizeof q->meta, len;
	const struct rcpt *r;
	int i, n;

	if (qpath(q, path, sub, h->id, ".meta", e) < 0)
		return -1;
	n = snprintf(s, cap, META_VERSION "\nattempts=%d\nnext=%lld\n"
	    "last=%lld\nerror=", h->attempts, h->next, h->last);
	len = (size_t)n;
	len += esc(s + len, cap - len - 8, h->last_error,
	    strlen(h->last_error));
	memcpy(s + len, "\nrcpt=", 6);
	len += 6;
	for (i = 0; i < h->env->nrcpt; i++) {
		r = &h->env->rcpt[i];
		n = snprintf(s + len, cap - len, "%s%c%u", i ? " " : "",
		    r->status == RCPT_DONE ? 'd' :
		    r->status == RCPT_FAILED ? 'f' : 'p',
		    (unsigned int)(r->code > 999 ? 0 : r->code));
		if (n < 0 || (size_t)n >= cap - len - 26)
			return err_set(e, EX_SOFTWARE, "%s: larger than %d "
			    "bytes", path, QUEUE_META_MAX);
		len += (size_t)n;
	}
	s[len++] = '\n';
	n = snprintf(s + len, cap - len, "check=%016llx\n",
	    (unsigned long long)fnv1a(FNV_INIT, s, len));
	len += (size_t)n;
	return file_replace(path, s, len, e);
}

/* ---- open, read, outcomes ---- */

/* Move q/ID (and its meta) into spool_dir/to/. */
static int
move_to(struct queue *q, const char *id, const char *to, struct err *e)
{
	char dir[QUEUE_PATH_MAX], from[QUEUE_PATH_MAX], dst[QUEUE_PATH_MAX];

	if (qpath(q, dir, to, NULL, NULL, e) < 0 ||
	    file_mkdirs(dir, 0700, e) < 0 ||
	    qpath(q, from, "q", id, "", e) < 0 ||
	    qpath(q, dst, to, id, "", e) < 0)
		return -1;
	if (rename(from, dst) != 0)
		return err_set(e, EX_IOERR, "%s: rename to %s: %s", from, dst,
		    strerror(errno));
	if (qpath(q, from, "q", id, ".meta", e) < 0 ||
	    qpath(q, dst, to, id, ".meta", e) < 0)
		return -1;
	if (rename(from, dst) != 0 && errno != ENOENT)
		return err_set(e, EX_IOERR, "%s: rename to %s: %s", from, dst,
		    strerror(errno));
	if (file_fsync_dir(dir, e) < 0 ||
	    qpath(q, dir, "q", NULL, NULL, e) < 0)
		return -1;
	return file_fsync_dir(dir, e);
}

void
queue_close(struct queue_msg *h)
{
	if (h->fd >= 0)
		close(h->fd);	/* drops the flock */
	h->fd = -1;
}

int
queue_open(struct queue *q, const char *id, long long now,
    struct queue_msg *h, struct envelope *env, struct err *e)
{
	char path[QUEUE_PATH_MAX];
	struct stat fd_sb, path_sb;
	long long fsize;
	int r;

	memset(h, 0, sizeof *h);
	h->fd = -1;
	h->env = env;
	if (!is_id(id)) {
		snprintf(h->why, sizeof h->why, "not a queue ID");
		return QUEUE_GONE;
	}
	memcpy(h->id, id, strlen(id) + 1);
	if (qpath(q, path, "q", id, "", e) < 0)
		return -1;
	h->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (h->fd < 0) {
		if (errno == ENOENT) {
			snprintf(h->why, sizeof h->why, "no such message");
			return QUEUE_GONE;
		}
		return err_set(e, EX_IOERR, "%s: cannot open: %s", path,
		    strerror(errno));
	}
	/* Two runs never send the same message at once. */
	if (flock(h->fd, LOCK_EX | LOCK_NB) != 0) {
		r = errno;
		queue_close(h);
		if (r == EWOULDBLOCK) {
			snprintf(h->why, sizeof h->why, "being sent by "
			    "another process");
			return QUEUE_BUSY;
		}
		return err_set(e, EX_IOERR, "%s: lock: %s", path,
		    strerror(r));
	}
	/* The lock is ours, but the file may have been sent (unlinked) or
	 * moved by the process that held it while we opened it. */
	if (fstat(h->fd, &fd_sb) != 0 || stat(path, &path_sb) != 0 ||
	    fd_sb.st_nlink == 0 || fd_sb.st_ino != path_sb.st_ino ||
	    fd_sb.st_dev != path_sb.st_dev) {
		queue_close(h);
		snprintf(h->why, sizeof h->why, "no such message");
		return QUEUE_GONE;
	}
	r = check(q, h->fd, path, env, &h->body_len, &fsize, h->why,
	    sizeof h->why, e);
	if (r != 0) {
		if (r > 0)
			r = move_to(q, id, "corrupt", e);
		queue_close(h);
		return r < 0 ? -1 : QUEUE_CORRUPT;
	}
	if (meta_load(q, "q", h, e) < 0) {
		queue_close(h);
		return -1;
	}
	if (q->lifetime > 0 && now - env->created >= q->lifetime) {
		snprintf(h->why, sizeof h->why, "in the queue for longer "
		    "than queue_lifetime (%llds)", q->lifetime);
		r = queue_fail(q, h, h->why, e);
		return r < 0 ? -1 : QUEUE_EXPIRED;
	}
	return QUEUE_OK;
}

long
queue_read(void *hv, char *buf, size_t cap)
{
	struct queue_msg *h = hv;
	const struct envelope *env = h->env;
	long long off;
	size_t k;
	ssize_t n;

	if (h->pos < (long long)env->headlen) {
		k = env->headlen - (size_t)h->pos;
		if (k > cap)
			k = cap;
		memcpy(buf, env->head + h->pos, k);
		h->pos += (long long)k;
		return (long)k;
	}
	off = h->pos - (long long)env->headlen;
	if (off >= h->body_len)
		return 0;
	k = cap;
	if ((long long)k > h->body_len - off)
		k = (size_t)(h->body_len - off);
	do
		n = pread(h->fd, buf, k, off);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		h->rerr = n < 0 ? errno : EIO;	/* shrank under us */
		return -1;
	}
	h->pos += n;
	return (long)n;
}

void
queue_rewind(struct queue_msg *h)
{
	h->pos = 0;
}

int
queue_due(const struct queue_msg *h, long long now)
{
	return h->next <= now;
}

int
queue_done(struct queue *q, struct queue_msg *h, struct err *e)
{
	char path[QUEUE_PATH_MAX];
	int r = 0;

	/* Unlinked while still locked, so that no other run can open it
	 * between our unlock and the unlink (see queue_open). */
	if (qpath(q, path, "q", h->id, "", e) < 0 ||
	    (unlink(path) != 0 && errno != ENOENT &&
	    err_set(e, EX_IOERR, "%s: cannot remove: %s", path,
	    strerror(errno)))) {
		queue_close(h);
		return -1;
	}
	queue_close(h);
	if (qpath(q, path, "q", h->id, ".meta", e) < 0)
		return -1;
	if (unlink(path) != 0 && errno != ENOENT)
		r = err_set(e, EX_IOERR, "%s: cannot remove: %s", path,
		    strerror(errno));
	if (qpath(q, path, "q", NULL, NULL, e) < 0 ||
	    file_fsync_dir(path, e) < 0)
		return -1;
	return r < 0 ? -1 : QUEUE_DONE;
}

static void
set_error(struct queue_msg *h, const char *reason)
{
	size_t n = reason != NULL ? strlen(reason) : 0;

	if (n >= sizeof h->last_error)
		n = sizeof h->last_error - 1;
	if (n > 0)
		memcpy(h->last_error, reason, n);
	h->last_error[n] = '\0';
}

int
queue_fail(struct queue *q, struct queue_msg *h, const char *reason,
    struct err *e)
{
	int r;

	set_error(h, reason);
	r = meta_save(q, "q", h, e) < 0 || move_to(q, h->id, "failed", e) < 0;
	queue_close(h);
	return r ? -1 : QUEUE_FAILED;
}

long long
queue_backoff(int attempts)
{
	long long d = QUEUE_RETRY_FIRST;

	while (--attempts > 0 && d < QUEUE_RETRY_MAX)
		d *= 2;
	return d < QUEUE_RETRY_MAX ? d : QUEUE_RETRY_MAX;
}

int
queue_defer(struct queue *q, struct queue_msg *h, long long now,
    const char *reason, struct err *e)
{
	char why[QUEUE_ERR_MAX];
	int i, r;

	for (i = 0; i < h->env->nrcpt; i++)
		if (h->env->rcpt[i].status == RCPT_ACCEPTED)
			h->env->rcpt[i].status = RCPT_PENDING;
	h->attempts++;
	h->last = now;
	if (q->lifetime > 0 && now - h->env->created >= q->lifetime) {
		snprintf(why, sizeof why, "queue_lifetime (%llds) over; last "
		    "error: %s", q->lifetime, reason != NULL ? reason : "");
		if (queue_fail(q, h, why, e) < 0)
			return -1;
		return QUEUE_EXPIRED;
	}
	set_error(h, reason);
	h->next = now + queue_backoff(h->attempts);
	r = meta_save(q, "q", h, e);
	queue_close(h);
	return r < 0 ? -1 : QUEUE_DEFERRED;
}

int
queue_settle(struct queue *q, struct queue_msg *h, long long now,
    const char *reason, struct err *e)
{
	int i, pending = 0, failed = 0;

	for (i = 0; i < h->env->nrcpt; i++)
		switch (h->env->rcpt[i].status) {
		case RCPT_PENDING:
		case RCPT_ACCEPTED:
			pending++;
			break;
		case RCPT_FAILED:
			failed++;
			break;
		}
	if (pending > 0)
		return queue_defer(q, h, now, reason, e);
	if (failed > 0)
		return queue_fail(q, h, reason, e);
	return queue_done(q, h, e);
}

/* ---- listing ---- */

int
queue_list(struct queue *q, int (*cb)(void *ctx,
    const struct queue_entry *qe), void *ctx, struct err *e)
{
	char dir[QUEUE_PATH_MAX], path[QUEUE_PATH_MAX];
	struct queue_entry qe;
	struct queue_msg h;
	struct dirent *d;
	DIR *dp;
	int count = 0, r, i, failed = 0;
	long long fsize;

	if (qpath(q, dir, "q", NULL, NULL, e) < 0)
		return -1;
	dp = opendir(dir);
	if (dp == NULL) {
		if (errno == ENOENT)
			return 0;
		return err_set(e, EX_IOERR, "%s: cannot open directory: %s",
		    dir, strerror(errno));
	}
	while ((errno = 0, d = readdir(dp)) != NULL) {
		if (!is_id(d->d_name))
			continue;
		memset(&h, 0, sizeof h);
		h.env = &q->env;
		memcpy(h.id, d->d_name, strlen(d->d_name) + 1);
		if (qpath(q, path, "q", h.id, "", e) < 0) {
			failed = 1;
			break;
		}
		h.fd = open(path, O_RDONLY | O_CLOEXEC);
		if (h.fd < 0) {
			if (errno == ENOENT)
				continue;	/* sent meanwhile */
			failed = err_set(e, EX_IOERR, "%s: cannot open: %s",
			    path, strerror(errno));
			break;
		}
		fsize = 0;
		r = check(q, h.fd, path, &q->env, &h.body_len, &fsize, h.why,
		    sizeof h.why, e);
		queue_close(&h);
		if (r < 0 || (r == 0 && meta_load(q, "q", &h, e) < 0)) {
			failed = 1;
			break;
		}
		memset(&qe, 0, sizeof qe);
		qe.id = h.id;
		qe.env = &q->env;
		qe.file_size = fsize;
		qe.corrupt = r;
		qe.why = r ? h.why : NULL;
		qe.attempts = h.attempts;
		qe.next = h.next;
		qe.last = h.last;
		qe.last_error = h.last_error;
		for (i = 0; r == 0 && i < q->env.nrcpt; i++)
			switch (q->env.rcpt[i].status) {
			case RCPT_DONE:
				qe.ndone++;
				break;
			case RCPT_FAILED:
				qe.nfailed++;
				break;
			default:
				qe.npending++;
			}
		count++;
		if (cb(ctx, &qe) < 0)
			break;
	}
	if (!failed && d == NULL && errno != 0)
		failed = err_set(e, EX_IOERR, "%s: read directory: %s", dir,
		    strerror(errno));
	closedir(dp);
	return failed ? -1 : count;
}
