/*
 * t_queue.c — the spool: enqueue (exact file bytes), open and stream,
 * list, done, fail, defer with exact backoff times, per-recipient status
 * kept in .meta, lifetime expiry, locks, and a queue file torn or with a
 * byte changed at every offset (always detected and moved to corrupt/).
 * Everything lives under a mkdtemp directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"
#include "queue.h"
#include "t.h"

#define NOW	1795137600LL
#define DAY	86400LL

static struct queue q;
static struct envelope env, env2;
static struct msg m;
static char top[64], spool[128];

static long
slurp(const char *path, char *buf, size_t cap)
{
	long n = 0, k;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((k = read(fd, buf + n, cap - (size_t)n)) > 0)
		n += k;
	close(fd);
	return n;
}

static int
spit(const char *path, const char *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int ok;

	if (fd < 0)
		return -1;
	ok = write(fd, buf, n) == (ssize_t)n;
	close(fd);
	return ok ? 0 : -1;
}

/* Entries in spool/sub, "." and ".." aside. */
static int
count(const char *sub)
{
	char path[256];
	struct dirent *d;
	DIR *dp;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", spool, sub);
	if ((dp = opendir(path)) == NULL)
		return 0;
	while ((d = readdir(dp)) != NULL)
		if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, ".."))
			n++;
	closedir(dp);
	return n;
}

static int
exists(const char *sub, const char *id, const char *suffix)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof path, "%s/%s/%s%s", spool, sub, id, suffix);
	return stat(path, &sb) == 0;
}

static uint64_t
fnv(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* The w64 checksum as queue.h describes it, a byte at a time. */
static uint64_t
w64(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL, w = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		w |= (uint64_t)(unsigned char)p[i] << 8 * (i % 8);
		if (i % 8 == 7 || i == n - 1) {
			h = ((h << 23 | h >> 41) ^ w) * 0x9e3779b97f4a7c15ULL;
			w = 0;
		}
	}
	return h;
}

/* Enqueue `text` for rcpts (argv style) the way `tern send` will. */
static int
enqueue(const char *text, char *const *argv, int argc, long long now,
    char *id, struct err *e)
{
	struct queue_tx tx;
	struct msg_opts o;

	if (msg_args(&o, argc, argv, e) < 0 ||
	    queue_begin(&q, &tx, now, e) < 0)
		return -1;
	if (msg_begin(&m, &o, &env, "work", "me@example.com", queue_write,
	    &tx, e) < 0 || msg_feed(&m, text, strlen(text), e) < 0 ||
	    msg_finish(&m, now, tx.id, e) < 0 ||
	    queue_commit(&q, &tx, &env, e) < 0) {
		queue_abort(&tx);
		return -1;
	}
	strcpy(id, tx.id);
	return 0;
}

static char *rcpt2[] = { "sendmail", "a@b.example", "c@d.example", NULL };

static void
t_enqueue_exact(void)
{
	static char file[8192], want[8192];
	char id[QUEUE_ID_MAX], path[256];
	const char *body = "Subject: hi\n\nhello\n";
	struct err e = { 0, "" };
	size_t w;
	long n;
	int r;

	r = enqueue(body, rcpt2, 3, NOW, id, &e);
	T_OK(r == 0, "enqueue");
	if (r != 0) {
		printf("# %s\n", e.msg);
		return;
	}
	T_OK(strncmp(id, "1795137600.", 11) == 0, "ID starts with the time");
	T_EQ_INT(count("tmp"), 0, "enqueue: nothing left in tmp/");
	T_EQ_INT(count("q"), 1, "enqueue: one file in q/");
	T_OK(!exists("q", id, ".meta"), "enqueue: no .meta yet");
	snprintf(path, sizeof path, "%s/q/%s", spool, id);
	n = slurp(path, file, sizeof file);
	w = (size_t)snprintf(want, sizeof want, "%s"
	    "tern-queue 1\n"
	    "account=work\n"
	    "from=me@example.com\n"
	    "created=1795137600\n"
	    "flags=0\n"
	    "size=%lld\n"
	    "head=Date: Fri, 20 Nov 2026 01:20:00 +0000\\x0aMessage-ID: <%s"
	    "@example.com>\\x0aFrom: me@example.com\\x0a\n"
	    "rcpt=a@b.example\n"
	    "rcpt=c@d.example\n", body, env.size, id);
	w += (size_t)snprintf(want + w, sizeof want - w,
	    "tern-queue-end body=%016zx env=%08zx w64=%016llx\n",
	    strlen(body), w - strlen(body),
	    (unsigned long long)w64(want, w));
	T_OK(n == (long)w && memcmp(file, want, w) == 0,
	    "queue file: message, envelope, trailer, byte for byte");
	T_OK(strlen(id) < QUEUE_ID_MAX, "ID fits QUEUE_ID_MAX");
	snprintf(path, sizeof path, "%s/q/%s", spool, id);
	unlink(path);
}

static void
t_open_read(void)
{
	static char got[4096];
	char id[QUEUE_ID_MAX], buf[7];
	const char *body = "Subject: x\r\n\r\n.dot\r\n";
	struct queue_msg h;
	struct err e = { 0, "" };
	size_t n = 0;
	long k;
	int r;

	enqueue(body, rcpt2, 3, NOW, id, &e);
	r = queue_open(&q, id, NOW + 60, &h, &env2, &e);
	T_EQ_INT(r, QUEUE_OK, "open");
	T_OK(strcmp(env2.from, "me@example.com") == 0 && env2.nrcpt == 2 &&
	    strcmp(msg_rcpt(&env2, 1), "c@d.example") == 0 &&
	    env2.created == NOW && env2.size == env.size &&
	    strcmp(env2.head, env.head) == 0 &&
	    strcmp(env2.account, "work") == 0, "open: envelope round trip");
	T_OK(h.attempts == 0 && h.next == 0 && queue_due(&h, NOW),
	    "open: never tried, due");
	while ((k = queue_read(&h, buf, sizeof buf)) > 0 &&
	    n + (size_t)k < sizeof got) {
		memcpy(got + n, buf, (size_t)k);
		n += (size_t)k;
	}
	T_OK(k == 0 && n == env.headlen + strlen(body) &&
	    memcmp(got, env.head, env.headlen) == 0 &&
	    memcmp(got + env.headlen, body, strlen(body)) == 0,
	    "queue_read: head, then the message, in 7-byte reads");
	queue_rewind(&h);
	T_OK(queue_read(&h, buf, 1) == 1 && buf[0] == 'D',
	    "queue_rewind starts over");
	T_EQ_INT(queue_done(&q, &h, &e), QUEUE_DONE, "done");
	T_OK(!exists("q", id, "") && !exists("q", id, ".meta"),
	    "done: message removed");
}

static void
t_backoff(void)
{
	static const long long want[] = {
		300, 600, 1200, 2400, 4800, 9600, 10800, 10800, 10800
	};
	char name[64];
	int i;

	for (i = 0; i < 9; i++) {
		snprintf(name, sizeof name, "backoff after %d attempts", i + 1);
		T_EQ_INT(queue_backoff(i + 1), want[i], name);
	}
	T_EQ_INT(queue_backoff(1000), 10800, "backoff after 1000 attempts");
}

static void
t_defer_meta(void)
{
	static char meta[1024];
	char id[QUEUE_ID_MAX], path[256];
	struct queue_msg h;
	struct err e = { 0, "" };
	long long t = NOW;
	long long delays[] = { 300, 600, 1200, 2400, 4800, 9600, 10800 };
	int i, r, ok = 1;

	enqueue("S: x\n\nb\n", rcpt2, 3, NOW, id, &e);
	for (i = 0; i < 7; i++) {
		r = queue_open(&q, id, t, &h, &env2, &e);
		if (r != QUEUE_OK || h.attempts != i)
			ok = 0;
		if (i == 0) {
			env2.rcpt[0].status = RCPT_DONE;
			env2.rcpt[0].code = 250;
			env2.rcpt[1].code = 451;
		}
		r = queue_defer(&q, &h, t, "451 4.7.1 try \"later\"\\", &e);
		if (r != QUEUE_DEFERRED || h.next != t + delays[i])
			ok = 0;
		t = h.next;
	}
	T_OK(ok, "defer: attempts count, next try 5m, 10m … 3h later");
	r = queue_open(&q, id, t, &h, &env2, &e);
	T_OK(r == QUEUE_OK && h.attempts == 7 && h.last == t - 10800 &&
	    strcmp(h.last_error, "451 4.7.1 try \"later\"\\") == 0,
	    "defer: attempts, last try and last error kept");
	T_OK(env2.rcpt[0].status == RCPT_DONE && env2.rcpt[0].code == 250 &&
	    env2.rcpt[1].status == RCPT_PENDING && env2.rcpt[1].code == 451,
	    "defer: per-recipient status and code kept");
	T_OK(!queue_due(&h, t - 1) && queue_due(&h, t),
	    "due only from the next try");
	queue_close(&h);
	snprintf(path, sizeof path, "%s/q/%s.meta", spool, id);
	r = (int)slurp(path, meta, sizeof meta - 1);
	meta[r > 0 ? r : 0] = '\0';
	T_OK(strncmp(meta, "version=1\nattempts=7\n", 21) == 0 &&
	    strstr(meta, "\nerror=451 4.7.1 try \"later\"\\\\\n") != NULL &&
	    strstr(meta, "\nrcpt=d250 p451\ncheck=") != NULL,
	    "meta file: readable key=value lines");

	/* settle: all recipients done now → removed */
	r = queue_open(&q, id, t, &h, &env2, &e);
	env2.rcpt[1].status = RCPT_ACCEPTED;
	T_EQ_INT(queue_settle(&q, &h, t, "x", &e), QUEUE_DEFERRED,
	    "settle: accepted without a final reply is still pending");
	r = queue_open(&q, id, t, &h, &env2, &e);
	env2.rcpt[1].status = RCPT_DONE;
	T_EQ_INT(queue_settle(&q, &h, t, "250 ok", &e), QUEUE_DONE,
	    "settle: every recipient done: removed");
	T_OK(!exists("q", id, "") && !exists("q", id, ".meta"),
	    "settle: message and meta gone");
}

static void
t_fail(void)
{
	static char meta[1024];
	char id[QUEUE_ID_MAX], path[256];
	struct queue_msg h;
	struct err e = { 0, "" };
	long n;
	int r;

	enqueue("S: x\n\nb\n", rcpt2, 3, NOW, id, &e);
	r = queue_open(&q, id, NOW, &h, &env2, &e);
	env2.rcpt[0].status = RCPT_DONE;
	env2.rcpt[0].code = 250;
	env2.rcpt[1].status = RCPT_FAILED;
	env2.rcpt[1].code = 550;
	r = queue_settle(&q, &h, NOW, "550 5.1.1 no such user", &e);
	T_EQ_INT(r, QUEUE_FAILED, "settle: one failed, none pending: failed/");
	T_OK(!exists("q", id, "") && !exists("q", id, ".meta") &&
	    exists("failed", id, "") && exists("failed", id, ".meta"),
	    "fail: message and meta moved to failed/");
	snprintf(path, sizeof path, "%s/failed/%s.meta", spool, id);
	n = slurp(path, meta, sizeof meta - 1);
	meta[n > 0 ? n : 0] = '\0';
	T_OK(strstr(meta, "\nerror=550 5.1.1 no such user\n") != NULL &&
	    strstr(meta, "\nrcpt=d250 f550\n") != NULL,
	    "fail: the server's reply is recorded");

	enqueue("S: x\n\nb\n", rcpt2, 3, NOW, id, &e);
	queue_open(&q, id, NOW, &h, &env2, &e);
	T_EQ_INT(queue_fail(&q, &h, "552 too big", &e), QUEUE_FAILED,
	    "queue_fail");
	T_OK(exists("failed", id, ""), "queue_fail: in failed/");
}

static void
t_lifetime(void)
{
	static char meta[1024];
	char id[QUEUE_ID_MAX], path[256];
	struct queue_msg h;
	struct err e = { 0, "" };
	long n;
	int r;

	/* Deferred after the lifetime: failed, with the reason. */
	enqueue("S: x\n\nb\n", rcpt2, 3, NOW, id, &e);
	r = queue_open(&q, id, NOW + 5 * DAY - 1, &h, &env2, &e);
	T_EQ_INT(r, QUEUE_OK, "open just before the lifetime ends");
	r = queue_defer(&q, &h, NOW + 5 * DAY, "451 later", &e);
	T_EQ_INT(r, QUEUE_EXPIRED, "defer at the lifetime: expired");
	T_OK(exists("failed", id, "") && !exists("q", id, ""),
	    "expired: moved to failed/");
	snprintf(path, sizeof path, "%s/failed/%s.meta", spool, id);
	n = slurp(path, meta, sizeof meta - 1);
	meta[n > 0 ? n : 0] = '\0';
	T_OK(strstr(meta, "queue_lifetime (432000s) over; last error: "
	    "451 later") != NULL && strstr(meta, "attempts=1\n") != NULL,
	    "expired: the reason names the lifetime and the last error");

	/* Opened after the lifetime: failed without a try. */
	enqueue("S: x\n\nb\n", rcpt2, 3, NOW, id, &e);
	r = queue_open(&q, id, NOW + 5 * DAY, &h, &env2, &e);
	T_EQ_INT(r, QUEUE_EXPIRED, "open after the lifetime: expired");
	T_OK(exists("failed", id, "") && !exists("q", id, "") &&
	    h.fd < 0, "open after the lifetime: in failed/, closed");
}

static void
t_busy_gone(void)
{
	char id[QUEUE_ID_MAX];
	struct queue_msg h, h2;
	struct err e = { 0, "" };

	enqueue("S: x\n\nb\n", rcpt2, 3, NOW, id, &e);
	T_EQ_INT(queue_open(&q, id, NOW, &h, &env2, &e), QUEUE_OK, "open");
	T_EQ_INT(queue_open(&q, id, NOW, &h2, &env, &e), QUEUE_BUSY,
	    "second open of the same message: busy");
	queue_close(&h);
	T_EQ_INT(queue_open(&q, id, NOW, &h, &env2, &e), QUEUE_OK,
	    "open again after close");
	queue_done(&q, &h, &e);
	T_EQ_INT(queue_open(&q, id, NOW, &h, &env2, &e), QUEUE_GONE,
	    "open a sent message: gone");
	T_EQ_INT(queue_open(&q, "../../etc/passwd", NOW, &h, &env2, &e),
	    QUEUE_GONE, "a path is not an ID");
	T_EQ_INT(e.ex, 0, "no error recorded for those");
}

/* A short read while sending (the file shrank): -1, never a short body. */
static void
t_read_error(void)
{
	char id[QUEUE_ID_MAX], path[256], buf[64];
	struct queue_msg h;
	struct err e = { 0, "" };
	long k;

	enqueue("S: x\n\nbody\n", rcpt2, 3, NOW, id, &e);
	queue_open(&q, id, NOW, &h, &env2, &e);
	snprintf(path, sizeof path, "%s/q/%s", spool, id);
	T_OK(truncate(path, 3) == 0, "truncate under the reader");
	while ((k = queue_read(&h, buf, sizeof buf)) > 0)
		;
	T_OK(k < 0 && h.rerr == EIO, "queue_read: -1 when the file shrank");
	queue_close(&h);
	unlink(path);
}

/* The meta file damaged: ignored (the message is tried again). */
static void
t_bad_meta(void)
{
	char id[QUEUE_ID_MAX], path[256];
	struct queue_msg h;
	struct err e = { 0, "" };

	enqueue("S: x\n\nb\n", rcpt2, 3, NOW, id, &e);
	queue_open(&q, id, NOW, &h, &env2, &e);
	queue_defer(&q, &h, NOW, "451", &e);
	snprintf(path, sizeof path, "%s/q/%s.meta", spool, id);
	spit(path, "version=1\nattempts=99\n", 22);
	T_EQ_INT(queue_open(&q, id, NOW, &h, &env2, &e), QUEUE_OK,
	    "open with a damaged meta");
	T_OK(h.meta_bad && h.attempts == 0 && env2.rcpt[0].status ==
	    RCPT_PENDING, "damaged meta: ignored, all pending");
	queue_done(&q, &h, &e);
}

/* Cut the file at every length, and change each byte: always detected,
 * moved to corrupt/, never opened for sending. */
static void
t_torn(void)
{
	static char file[4096], bad[4096];
	char id[QUEUE_ID_MAX], path[256], cpath[256];
	struct queue_msg h;
	struct err e = { 0, "" };
	long n, k;
	int r, torn_ok = 1, flip_ok = 1;

	enqueue("Subject: torn\n\nline one\nline two\n", rcpt2, 3, NOW, id,
	    &e);
	snprintf(path, sizeof path, "%s/q/%s", spool, id);
	snprintf(cpath, sizeof cpath, "%s/corrupt/%s", spool, id);
	n = slurp(path, file, sizeof file);
	unlink(path);
	T_OK(n > 300, "a queue file to tear");
	for (k = 0; k < n; k++) {
		spit(path, file, (size_t)k);
		r = queue_open(&q, id, NOW, &h, &env2, &e);
		if (r != QUEUE_CORRUPT || exists("q", id, "") ||
		    !exists("corrupt", id, "") || e.ex != 0)
			torn_ok = 0;
		unlink(cpath);
	}
	T_OK(torn_ok, "torn at every offset: detected, moved to corrupt/");
	for (k = 0; k < n; k++) {
		memcpy(bad, file, (size_t)n);
		bad[k] ^= 0x20;
		spit(path, bad, (size_t)n);
		/* never the mtime of the file this process queued (its
		 * checksum is trusted): an inode reused within one clock
		 * tick must not pass for it */
		utimensat(AT_FDCWD, path, (const struct timespec[2]){
		    { 0, UTIME_OMIT }, { 1577836800, 0 } }, 0);
		r = queue_open(&q, id, NOW, &h, &env2, &e);
		if (r != QUEUE_CORRUPT || !exists("corrupt", id, ""))
			flip_ok = 0;
		unlink(cpath);
	}
	T_OK(flip_ok, "a byte changed at every offset: detected");
	spit(path, file, (size_t)n);
	T_EQ_INT(queue_open(&q, id, NOW, &h, &env2, &e), QUEUE_OK,
	    "the intact file still opens");
	queue_close(&h);
	/* queue_list reports a damaged file and leaves it in place. */
	spit(path, file, (size_t)n - 1);
}

/* A file with an FNV-1a trailer, as builds before w64 wrote them, is
 * still read and still checked; an unknown checksum name is damage. */
static void
t_fnv_file(void)
{
	static char file[4096], bad[4096];
	char id[QUEUE_ID_MAX], path[256], cpath[256], t[24];
	struct queue_msg h;
	struct err e = { 0, "" };
	const char *body = "Subject: old\n\nfrom an older tern\n";
	long n, k, tr, tr2;
	int flip_ok = 1;

	enqueue(body, rcpt2, 3, NOW, id, &e);
	snprintf(path, sizeof path, "%s/q/%s", spool, id);
	snprintf(cpath, sizeof cpath, "%s/corrupt/%s", spool, id);
	n = slurp(path, file, sizeof file);
	tr = n - 71;		/* the trailer: 71 bytes */
	T_OK(n > 71 && memcmp(file + tr + 50, "w64=", 4) == 0,
	    "new files carry a w64 sum");
	memcpy(file + tr + 50, "fnv=", 4);
	snprintf(t, sizeof t, "%016llx",
	    (unsigned long long)fnv(file, (size_t)tr));
	memcpy(file + tr + 54, t, 16);
	spit(path, file, (size_t)n);
	utimensat(AT_FDCWD, path, (const struct timespec[2]){
	    { 0, UTIME_OMIT }, { 1577836800, 0 } }, 0);
	T_EQ_INT(queue_open(&q, id, NOW, &h, &env2, &e), QUEUE_OK,
	    "an FNV-1a file opens");
	for (k = 0, tr2 = 1; k < (long)sizeof bad && tr2 > 0; k += tr2)
		tr2 = queue_read(&h, bad + k, sizeof bad - (size_t)k);
	T_OK(tr2 == 0 && k == (long)(env2.headlen + strlen(body)) &&
	    memcmp(bad + env2.headlen, body, strlen(body)) == 0,
	    "an FNV-1a file: its message is read");
	queue_close(&h);
	for (k = 0; k < tr; k++) {
		memcpy(bad, file, (size_t)n);
		bad[k] ^= 0x01;
		spit(path, bad, (size_t)n);
		utimensat(AT_FDCWD, path, (const struct timespec[2]){
		    { 0, UTIME_OMIT }, { 1577836800, 0 } }, 0);
		if (queue_open(&q, id, NOW, &h, &env2, &e) != QUEUE_CORRUPT)
			flip_ok = 0;
		unlink(cpath);
	}
	T_OK(flip_ok, "an FNV-1a file: a bit changed anywhere: detected");
	memcpy(file + tr + 50, "xyz=", 4);
	spit(path, file, (size_t)n);
	T_EQ_INT(queue_open(&q, id, NOW, &h, &env2, &e), QUEUE_CORRUPT,
	    "an unknown checksum name: corrupt");
	unlink(cpath);
}

struct seen {
	int n, corrupt;
	int pending, attempts;
	long long size;
	char id[QUEUE_ID_MAX];
	char first[64];
};

static int
list_cb(void *ctx, const struct queue_entry *qe)
{
	struct seen *s = ctx;

	s->n++;
	if (qe->corrupt) {
		s->corrupt++;
		return 0;
	}
	s->pending += qe->npending;
	s->attempts += qe->attempts;
	s->size = qe->env->size;
	snprintf(s->id, sizeof s->id, "%s", qe->id);
	snprintf(s->first, sizeof s->first, "%s", msg_rcpt(qe->env, 0));
	return 0;
}

static void
t_list(void)
{
	char id[QUEUE_ID_MAX], path[256];
	struct seen s;
	struct err e = { 0, "" };
	struct queue_msg h;
	int r;

	/* t_torn left one damaged file in q/. */
	memset(&s, 0, sizeof s);
	r = queue_list(&q, list_cb, &s, &e);
	T_OK(r == 1 && s.n == 1 && s.corrupt == 1,
	    "list: a damaged file is reported as corrupt");
	T_EQ_INT(count("q"), 1, "list: it is left in place");
	snprintf(path, sizeof path, "%s/q", spool);
	{
		DIR *dp = opendir(path);
		struct dirent *d;

		while (dp != NULL && (d = readdir(dp)) != NULL)
			if (d->d_name[0] != '.') {
				char p2[600];

				snprintf(p2, sizeof p2, "%s/%s", path,
				    d->d_name);
				unlink(p2);
			}
		if (dp != NULL)
			closedir(dp);
	}
	enqueue("S: x\n\nb\n", rcpt2, 3, NOW, id, &e);
	queue_open(&q, id, NOW, &h, &env2, &e);
	queue_defer(&q, &h, NOW, "451", &e);
	/* Strays that are not ours are skipped. */
	snprintf(path, sizeof path, "%s/q/README", spool);
	spit(path, "x", 1);
	snprintf(path, sizeof path, "%s/q/%s.meta.tmp.123", spool, id);
	spit(path, "x", 1);
	snprintf(path, sizeof path, "%s/q/.hidden", spool);
	spit(path, "x", 1);
	memset(&s, 0, sizeof s);
	r = queue_list(&q, list_cb, &s, &e);
	T_OK(r == 1 && s.n == 1 && s.corrupt == 0 && s.pending == 2 &&
	    s.attempts == 1 && strcmp(s.id, id) == 0 &&
	    strcmp(s.first, "a@b.example") == 0 && s.size == env.size,
	    "list: id, recipients, attempts, size");

	queue_init(&q, "/nonexistent/tern-spool", 5 * DAY);
	memset(&s, 0, sizeof s);
	T_EQ_INT(queue_list(&q, list_cb, &s, &e), 0,
	    "list: no spool is an empty queue");
	queue_init(&q, spool, 5 * DAY);
}

/* 1000 non-ASCII recipients survive the round trip. */
static void
t_many(void)
{
	static char *argv[MSG_RCPT_MAX + 2];
	static char addrs[MSG_RCPT_MAX][48];
	char id[QUEUE_ID_MAX];
	struct queue_msg h;
	struct err e = { 0, "" };
	int i, ok = 1, r;

	argv[0] = "sendmail";
	for (i = 0; i < MSG_RCPT_MAX; i++) {
		snprintf(addrs[i], sizeof addrs[i], "j\xc3\xb6rg%d@b.example",
		    i);
		argv[i + 1] = addrs[i];
	}
	argv[MSG_RCPT_MAX + 1] = NULL;
	r = enqueue("S: x\n\nb\n", argv, MSG_RCPT_MAX + 1, NOW, id, &e);
	T_OK(r == 0 && (env.flags & ENV_UTF8), "enqueue 1000 recipients");
	r = queue_open(&q, id, NOW, &h, &env2, &e);
	for (i = 0; i < MSG_RCPT_MAX; i++)
		if (strcmp(msg_rcpt(&env2, i), addrs[i]) != 0)
			ok = 0;
	T_OK(r == QUEUE_OK && ok && env2.nrcpt == MSG_RCPT_MAX &&
	    (env2.flags & ENV_UTF8), "1000 recipients round trip");
	for (i = 0; i < MSG_RCPT_MAX; i++) {
		env2.rcpt[i].status = i % 2 ? RCPT_DONE : RCPT_PENDING;
		env2.rcpt[i].code = i % 2 ? 250 : 452;
	}
	T_EQ_INT(queue_defer(&q, &h, NOW, "452 too many", &e),
	    QUEUE_DEFERRED, "defer with 1000 statuses");
	r = queue_open(&q, id, NOW, &h, &env2, &e);
	for (i = 0, ok = !h.meta_bad; i < MSG_RCPT_MAX; i++)
		if (env2.rcpt[i].status != (i % 2 ? RCPT_DONE : RCPT_PENDING))
			ok = 0;
	T_OK(r == QUEUE_OK && ok, "1000 statuses round trip");
	queue_done(&q, &h, &e);
}

static void
t_cantcreate(void)
{
	char path[256];
	struct queue_tx tx;
	struct err e = { 0, "" };

	snprintf(path, sizeof path, "%s/file", top);
	spit(path, "x", 1);
	snprintf(path, sizeof path, "%s/file/spool", top);
	queue_init(&q, path, 5 * DAY);
	T_OK(queue_begin(&q, &tx, NOW, &e) < 0 && e.ex == EX_CANTCREAT &&
	    strstr(e.msg, "/file") != NULL,
	    "spool cannot be created: 73, naming the path");
	queue_init(&q, spool, 5 * DAY);

	/* Abort leaves nothing behind. */
	err_clear(&e);
	T_OK(queue_begin(&q, &tx, NOW, &e) == 0, "begin");
	queue_write(&tx, "abc", 3, &e);
	queue_abort(&tx);
	T_EQ_INT(count("tmp"), 0, "abort: tmp/ empty");
}

int
main(void)
{
	char cmd[128];

	snprintf(top, sizeof top, "/tmp/t_queue.XXXXXX");
	if (mkdtemp(top) == NULL) {
		printf("FAIL mkdtemp\n");
		return 1;
	}
	snprintf(spool, sizeof spool, "%s/spool", top);
	queue_init(&q, spool, 5 * DAY);
	t_enqueue_exact();
	t_open_read();
	t_backoff();
	t_defer_meta();
	t_fail();
	t_lifetime();
	t_busy_gone();
	t_read_error();
	t_bad_meta();
	t_torn();
	t_fnv_file();
	t_list();
	t_many();
	t_cantcreate();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", top);
	if (system(cmd) != 0)
		printf("# could not remove %s\n", top);
	T_DONE();
}
