/*
 * t_maildir.c — delivery into a temporary Maildir (exact bytes, the
 * unique name, nothing left in tmp/, dirty directories), header filters
 * picking Maildir++ folders (folded headers, case, configuration order,
 * body ignored, long lines), errors, and the MDA (exit 0, exit 1,
 * timeout) with `cat > FILE` to check the bytes it got.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "maildir.h"
#include "t.h"

static char tdir[64];
static char md[128];		/* TDIR/Mail */
static struct conf cf;

/* The only file in dir (its name into out), or -1 when not exactly one. */
static int
only_file(const char *dir, char *out, size_t cap)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n++ == 0)
			snprintf(out, cap, "%s", de->d_name);
	}
	closedir(d);
	return n == 1 ? 0 : -1;
}

static int
count(const char *dir)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* Does `path` hold exactly buf[0..n)? */
static int
same_bytes(const char *path, const char *buf, size_t n)
{
	static char got[70000];
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY)) < 0)
		return 0;
	r = read(fd, got, sizeof got);
	close(fd);
	return r == (ssize_t)n && memcmp(got, buf, n) == 0;
}

static int
is_dir(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A test name made of a prefix and a check. */
static const char *
N(const char *pfx, const char *what)
{
	static char nm[256];

	snprintf(nm, sizeof nm, "%s: %s", pfx, what);
	return nm;
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
rm_rf(const char *p)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", p);
	if (system(cmd) != 0)
		printf("FAIL rm -rf %s\n", p);
}

/* Deliver msg[0..n) in chunks of `chunk` bytes; the commit's rc. */
static int
deliver(struct dlv *d, const char *msg, size_t n, size_t chunk,
    struct err *e)
{
	size_t off, k;

	if (dlv_begin(d, e) < 0)
		return -1;
	for (off = 0; off < n; off += k) {
		k = n - off < chunk ? n - off : chunk;
		if (dlv_write(d, msg + off, k, e) < 0)
			return -1;
	}
	return dlv_commit(d, 30, e);
}

/* deliver(), then the group sync that puts it into new/. */
static int
deliver_now(struct dlv *d, const char *msg, size_t n, size_t chunk,
    struct err *e)
{
	if (deliver(d, msg, n, chunk, e) < 0)
		return -1;
	return dlv_sync(d, e);
}

static void
add_filter(const char *acct, const char *hdr, const char *has,
    const char *folder)
{
	struct filter *f = &cf.filter[cf.nfilter++];

	snprintf(f->account, sizeof f->account, "%s", acct);
	snprintf(f->header, sizeof f->header, "%s", hdr);
	snprintf(f->contains, sizeof f->contains, "%s", has);
	snprintf(f->folder, sizeof f->folder, "%s", folder);
}

static struct account *
setup_account(void)
{
	struct account *a = &cf.acct[0];

	memset(&cf, 0, sizeof cf);
	cf.nacct = 1;
	snprintf(cf.main.state_dir, sizeof cf.main.state_dir, "%s/state",
	    tdir);
	snprintf(a->name, sizeof a->name, "work");
	snprintf(md, sizeof md, "%s/Mail", tdir);
	snprintf(a->maildir, sizeof a->maildir, "%s", md);
	return a;
}

static void
test_plain(void)
{
	static const char msg[] =
	    "From: a@example.com\nSubject: test\n\nline one\n\nline 3\n";
	static const size_t chunks[] = { 1, 3, 16384 };
	struct account *a = setup_account();
	struct dlv d;
	struct err e;
	char name[256], p[512], want[512], t[96];
	size_t i;

	err_clear(&e);
	T_EQ_INT(dlv_init(&d, &cf, a, &e), 0, "init creates the Maildir");
	snprintf(p, sizeof p, "%s/tmp", md);
	T_OK(is_dir(p), "tmp exists");
	snprintf(p, sizeof p, "%s/new", md);
	T_OK(is_dir(p), "new exists");
	snprintf(p, sizeof p, "%s/cur", md);
	T_OK(is_dir(p), "cur exists");

	for (i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		snprintf(t, sizeof t, "chunk %zu", chunks[i]);
		T_EQ_INT(deliver(&d, msg, strlen(msg), chunks[i], &e), 0,
		    N(t, "committed"));
		T_EQ_INT(d.filter, -1, N(t, "no filter"));
		T_EQ_INT(d.size, strlen(msg), N(t, "size counted"));
		/* committed: complete in tmp/, nothing in new/ before the
		 * group's sync */
		T_EQ_INT(d.npend, 1, N(t, "queued for the sync"));
		snprintf(p, sizeof p, "%s/new", md);
		T_EQ_INT(count(p), 0, N(t, "new/ empty before the sync"));
		snprintf(p, sizeof p, "%s/tmp", md);
		T_EQ_INT(count(p), 1, N(t, "the file waits in tmp"));
		T_OK(only_file(p, name, sizeof name) == 0 &&
		    strncmp(name, d.pend[0].name, sizeof name) == 0,
		    N(t, "tmp holds the queued name"));
		snprintf(want, sizeof want, "%s/tmp/%s", md, name);
		T_OK(same_bytes(want, msg, strlen(msg)),
		    N(t, "tmp file complete"));
		T_EQ_INT(d.ndirty, 1, N(t, "one dirty dir"));
		snprintf(want, sizeof want, "%s/new", md);
		T_EQ_STR(d.dirty[0], want, N(t, "dirty is new/"));
		T_EQ_INT(dlv_sync(&d, &e), 0, N(t, "sync"));
		T_EQ_INT(d.ndirty, 0, N(t, "sync clears"));
		T_EQ_INT(d.npend, 0, N(t, "sync empties the queue"));
		snprintf(p, sizeof p, "%s/new", md);
		T_OK(only_file(p, name, sizeof name) == 0,
		    N(t, "one file in new"));
		snprintf(want, sizeof want, "%s/new/%s", md, name);
		T_EQ_STR(d.delivered, want, N(t, "delivered names the file"));
		T_OK(same_bytes(want, msg, strlen(msg)), N(t, "exact bytes"));
		snprintf(want, sizeof want, ",S=%zu", strlen(msg));
		T_OK(strlen(name) > strlen(want) && strcmp(name +
		    strlen(name) - strlen(want), want) == 0,
		    N(t, "name ends ,S=SIZE"));
		snprintf(want, sizeof want, "P%ldQ", (long)getpid());
		T_OK(strstr(name, ".M") != NULL && strstr(name, want) != NULL,
		    N(t, "name has .M<usec>P<pid>Q<n>"));
		T_OK(strchr(name, '/') == NULL && strchr(name, ':') == NULL,
		    N(t, "name has no / or :"));
		snprintf(p, sizeof p, "%s/tmp", md);
		T_EQ_INT(count(p), 0, N(t, "nothing left in tmp"));
		snprintf(p, sizeof p, "%s/new/%s", md, name);
		unlink(p);
	}

	/* Two messages, distinct names, the dirty list deduplicated. */
	deliver(&d, msg, strlen(msg), 100, &e);
	deliver(&d, "x\n", 2, 100, &e);
	T_OK(strcmp(d.pend[0].name, d.pend[1].name) != 0, "unique names");
	T_EQ_INT(d.ndirty, 1, "dirty deduplicated");
	T_EQ_INT(dlv_sync(&d, &e), 0, "two messages: one sync");
	snprintf(p, sizeof p, "%s/new", md);
	T_EQ_INT(count(p), 2, "two messages");
	snprintf(p, sizeof p, "%s/tmp", md);
	T_EQ_INT(count(p), 0, "two messages: tmp empty");

	/* Empty message. */
	T_EQ_INT(deliver_now(&d, "", 0, 1, &e), 0, "empty message");
	T_OK(same_bytes(d.delivered, "", 0), "empty message bytes");

	/* Abort leaves nothing. */
	T_EQ_INT(dlv_begin(&d, &e), 0, "begin for abort");
	dlv_write(&d, msg, 10, &e);
	dlv_abort(&d);
	snprintf(p, sizeof p, "%s/tmp", md);
	T_EQ_INT(count(p), 0, "abort: tmp empty");
	snprintf(p, sizeof p, "%s/new", md);
	T_EQ_INT(count(p), 3, "abort: nothing new");
	T_EQ_INT(e.ex, 0, "no error so far");

	/* Dropped before a sync: nothing delivered, tmp cleaned. */
	deliver(&d, msg, strlen(msg), 100, &e);
	deliver(&d, msg, strlen(msg), 100, &e);
	dlv_drop(&d);
	T_EQ_INT(d.npend, 0, "drop empties the queue");
	snprintf(p, sizeof p, "%s/tmp", md);
	T_EQ_INT(count(p), 0, "drop: tmp empty");
	snprintf(p, sizeof p, "%s/new", md);
	T_EQ_INT(count(p), 3, "drop: nothing new");

	/* new/ vanished under us: the link at the sync fails, named, tmp
	 * cleaned, the queue emptied. */
	T_EQ_INT(dlv_begin(&d, &e), 0, "begin before rmdir");
	dlv_write(&d, msg, strlen(msg), &e);
	rm_rf(p);
	T_EQ_INT(dlv_commit(&d, 30, &e), 0, "commit queues");
	T_EQ_INT(d.fd, -1, "commit: closed");
	T_EQ_INT(dlv_sync(&d, &e), -1, "sync without new/");
	T_EQ_INT(e.ex, EX_CANTCREAT, "sync error: EX_CANTCREAT");
	snprintf(want, sizeof want, "%s/new/", md);
	T_OK(strncmp(e.msg, want, strlen(want)) == 0, "error names path");
	T_OK(strstr(e.msg, "No such file or directory") != NULL,
	    "error says why");
	snprintf(p, sizeof p, "%s/tmp", md);
	T_EQ_INT(count(p), 0, "sync error: tmp removed");
	T_EQ_INT(d.npend, 0, "sync error: queue emptied");
	err_clear(&e);
	T_EQ_INT(dlv_write(&d, "x", 1, &e), -1, "write without begin");
	err_clear(&e);
	rm_rf(md);

	/* An account without maildir or mda; an impossible Maildir. */
	a->maildir[0] = '\0';
	T_EQ_INT(dlv_init(&d, &cf, a, &e), -1, "init: no destination");
	T_EQ_INT(e.ex, EX_CONFIG, "init: no destination: EX_CONFIG");
	err_clear(&e);
	snprintf(a->maildir, sizeof a->maildir, "/proc/tern-test/Mail");
	T_EQ_INT(dlv_init(&d, &cf, a, &e), -1, "init: cannot create");
	T_EQ_INT(e.ex, EX_CANTCREAT, "init: EX_CANTCREAT");
	T_OK(strstr(e.msg, "/proc/tern-test") != NULL, "init error: path");
}

struct fcase {
	const char *name;
	const char *msg;
	int want;		/* filter index, -1 = none */
	const char *dir;	/* folder dir under md, "" = md itself */
};

static void
test_filters(void)
{
	static const struct fcase v[] = {
		{ "header match", "From: The Boss <boss@Example.com>\n"
		    "Subject: hi\n\nbody\n", 3, "/.Boss" },
		{ "folded header", "Subject: hello\n world\nFrom: x\n\nb\n",
		    2, "/.Lists.Hello" },
		{ "folded with tab", "Subject: hello\n\tworld\n\nb\n", 4,
		    "/.Tab" },
		{ "folded twice", "Subject: say\n\thello\n world\n\nb\n",
		    2, "/.Lists.Hello" },
		{ "config order wins", "From: boss@example.com\n"
		    "Subject: x\nX-Spam: yes\n\nb\n", 0, "/.Spam" },
		{ "body ignored", "From: a@b\n\nX-Spam: yes\n"
		    "From: boss@example.com\nSubject: hello world\n", -1, "" },
		{ "name case-insensitive", "x-spam:YeS\n\n", 0, "/.Spam" },
		{ "name exact", "X-Spam-Flag: yes\nX-Spam : Yes\n\n", 0,
		    "/.Spam" },
		{ "name not prefix", "X-Spam-Flag: yes\n\n", -1, "" },
		{ "other account's filter", "From: x\nTo: me\n"
		    "Reply-To: other\n\n", -1, "" },
		{ "no body, no newline", "Subject: x\nX-Spam: yes", 0,
		    "/.Spam" },
		{ "header after empty line", "Subject: x\n\nX-Spam: yes\n",
		    -1, "" },
		{ "CRLF message", "X-Spam: yes\r\n\r\nbody\r\n", 0,
		    "/.Spam" },
		{ "INBOX folder", "X-List: inbox-please\n\n", 5, "" },
		{ "first filter stops scan", "X-Spam: yes\nFrom: boss@"
		    "example.com\n\n", 0, "/.Spam" },
	};
	static const size_t chunks[] = { 1, 2, 5, 16384 };
	struct account *a = setup_account();
	struct dlv d;
	struct err e;
	char p[512], t[160], want[512];
	size_t i, c;
	int n0;

	add_filter("", "X-Spam", "YES", "Spam");			/* 0 */
	add_filter("other", "Reply-To", "other", "Other");		/* 1 */
	add_filter("work", "Subject", "hello world", "Lists/Hello");	/* 2 */
	add_filter("", "from", "BOSS@example", "Boss");			/* 3 */
	add_filter("", "Subject", "hello\tworld", "Tab");		/* 4 */
	add_filter("work", "X-List", "inbox", "inbox");			/* 5 */

	err_clear(&e);
	dlv_init(&d, &cf, a, &e);
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		for (c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
			snprintf(t, sizeof t, "filter %s (chunk %zu)",
			    v[i].name, chunks[c]);
			T_EQ_INT(deliver_now(&d, v[i].msg, strlen(v[i].msg),
			    chunks[c], &e), 0, N(t, "delivered"));
			T_EQ_INT(d.filter, v[i].want, N(t, "filter"));
			snprintf(want, sizeof want, "%s%s/new/", md, v[i].dir);
			T_OK(strncmp(d.delivered, want, strlen(want)) == 0 &&
			    strchr(d.delivered + strlen(want), '/') == NULL,
			    N(t, "folder"));
			T_OK(same_bytes(d.delivered, v[i].msg,
			    strlen(v[i].msg)), N(t, "bytes"));
			unlink(d.delivered);
		}
	}

	/* A created folder is Maildir++: tmp, new, cur, maildirfolder. */
	snprintf(p, sizeof p, "%s/.Lists.Hello/tmp", md);
	T_OK(is_dir(p), "folder tmp");
	snprintf(p, sizeof p, "%s/.Lists.Hello/cur", md);
	T_OK(is_dir(p), "folder cur");
	snprintf(p, sizeof p, "%s/.Lists.Hello/maildirfolder", md);
	T_OK(access(p, F_OK) == 0, "folder maildirfolder");
	snprintf(p, sizeof p, "%s/tmp", md);
	T_EQ_INT(count(p), 0, "filters: tmp empty");
	n0 = count(md);
	T_EQ_INT(n0, 7, "filters: tmp new cur + 4 folders");
	dlv_sync(&d, &e);

	/* A new folder marks its new/, itself and the Maildir dirty. */
	cf.filter[0].folder[0] = '\0';
	snprintf(cf.filter[0].folder, sizeof cf.filter[0].folder, "Fresh");
	deliver(&d, "X-Spam: yes\n\n", 13, 100, &e);
	T_EQ_INT(d.ndirty, 3, "new folder: 3 dirty");
	snprintf(want, sizeof want, "%s/.Fresh", md);
	T_EQ_STR(d.dirty[0], want, "dirty folder");
	T_EQ_STR(d.dirty[1], md, "dirty maildir");
	snprintf(want, sizeof want, "%s/.Fresh/new", md);
	T_EQ_STR(d.dirty[2], want, "dirty folder new");
	dlv_sync(&d, &e);
	deliver(&d, "X-Spam: yes\n\n", 13, 100, &e);
	T_EQ_INT(d.ndirty, 1, "existing folder: 1 dirty");
	T_EQ_STR(d.dirty[0], want, "existing folder: its new/");

	/* More distinct folders than DLV_SYNC_DIRS_MAX between syncs: the
	 * list syncs itself and never overflows. */
	{
		int k, ok = 1;

		for (k = 0; k < 6; k++) {
			snprintf(cf.filter[0].folder,
			    sizeof cf.filter[0].folder, "Many%d", k);
			if (deliver(&d, "X-Spam: yes\n\n", 13, 100, &e) != 0 ||
			    d.ndirty > DLV_SYNC_DIRS_MAX)
				ok = 0;
		}
		T_OK(ok, "dirty list bounded");
		T_EQ_INT(e.ex, 0, "dirty list: no error");
	}

	/* A header longer than DLV_HDR_LINE_MAX: matched on its first 998
	 * bytes, written in full. */
	{
		static char big[3000];
		size_t n;

		snprintf(cf.filter[0].folder, sizeof cf.filter[0].folder,
		    "Spam");
		n = (size_t)snprintf(big, sizeof big, "Subject: ");
		memset(big + n, 'a', 1000);
		n += 1000;
		n += (size_t)snprintf(big + n, sizeof big - n,
		    " hello world\nX-Other: 1\n\nbody\n");
		T_EQ_INT(deliver_now(&d, big, n, 7, &e), 0, "long header");
		T_EQ_INT(d.filter, -1, "long header: tail not matched");
		T_OK(same_bytes(d.delivered, big, n), "long header: bytes");
		n = (size_t)snprintf(big, sizeof big, "Subject: ");
		memset(big + n, 'a', 970);
		n += 970;
		n += (size_t)snprintf(big + n, sizeof big - n,
		    " hello world%0100d\n\nbody\n", 0);
		T_EQ_INT(deliver_now(&d, big, n, 7, &e), 0,
		    "long header 2");
		T_EQ_INT(d.filter, 2, "long header: head matched");
		T_OK(same_bytes(d.delivered, big, n), "long header 2: bytes");
	}

	/* A folder name that would be the Maildir itself is refused. */
	snprintf(cf.filter[0].folder, sizeof cf.filter[0].folder, ".");
	T_EQ_INT(deliver(&d, "X-Spam: yes\n\n", 13, 100, &e), -1,
	    "folder '.' refused");
	T_EQ_INT(e.ex, EX_CONFIG, "folder '.': EX_CONFIG");
	err_clear(&e);
	snprintf(p, sizeof p, "%s/tmp", md);
	T_EQ_INT(count(p), 0, "refused: tmp empty");
	rm_rf(md);
}

static void
test_mda(void)
{
	static const char msg[] = "From: a@b\nX-Spam: yes\n\nhello\n";
	struct account *a = setup_account();
	char out[80], env[80], sp[256];
	struct dlv d;
	struct err e;
	long long t0;

	a->maildir[0] = '\0';
	snprintf(out, sizeof out, "%s/out", tdir);
	snprintf(env, sizeof env, "%s/env", tdir);
	snprintf(sp, sizeof sp, "%s/state/tmp", tdir);
	snprintf(a->mda, sizeof a->mda,
	    "printf '%%s|%%s|%%s' \"$TERN_ACCOUNT\" \"$TERN_FOLDER\" "
	    "\"${PATH:+p}\" > '%s'; cat > '%s'", env, out);
	add_filter("", "X-Spam", "yes", "Spam");
	err_clear(&e);
	T_EQ_INT(dlv_init(&d, &cf, a, &e), 0, "mda init");
	T_OK(is_dir(sp), "mda spool dir created");

	T_EQ_INT(deliver(&d, msg, strlen(msg), 5, &e), 0, "mda exit 0");
	T_OK(same_bytes(out, msg, strlen(msg)), "mda got exact bytes");
	T_OK(same_bytes(env, "work|Spam|p", 11), "mda environment");
	T_EQ_STR(d.delivered, "mda", "mda delivered");
	T_EQ_INT(count(sp), 0, "mda: spool empty");
	T_EQ_INT(d.ndirty, 0, "mda: no dirty dirs");
	T_EQ_INT(dlv_sync(&d, &e), 0, "mda: sync is a no-op");

	snprintf(a->mda, sizeof a->mda, "cat > /dev/null; exit 1");
	T_EQ_INT(deliver(&d, msg, strlen(msg), 5, &e), -1, "mda exit 1");
	T_EQ_INT(e.ex, EX_TEMPFAIL, "mda exit 1: EX_TEMPFAIL");
	T_EQ_STR(e.msg, "mda exited with status 1", "mda exit 1: message");
	T_EQ_INT(count(sp), 0, "mda exit 1: spool empty");
	err_clear(&e);

	snprintf(a->mda, sizeof a->mda, "sleep 5");
	t0 = mono_ms();
	if (dlv_begin(&d, &e) == 0 && dlv_write(&d, msg, strlen(msg), &e) == 0)
		T_EQ_INT(dlv_commit(&d, 1, &e), -1, "mda timeout");
	T_OK(mono_ms() - t0 < 3000, "mda timeout: bounded");
	T_EQ_INT(e.ex, EX_TEMPFAIL, "mda timeout: EX_TEMPFAIL");
	T_EQ_STR(e.msg, "mda timed out after 1 s", "mda timeout: message");
	T_EQ_INT(count(sp), 0, "mda timeout: spool empty");
	err_clear(&e);

	/* A descriptor of ours without O_CLOEXEC does not reach the MDA. */
	{
		int fd = open("/dev/null", O_RDONLY);

		snprintf(a->mda, sizeof a->mda,
		    "test -e /proc/self/fd/%d && exit 9; cat >/dev/null", fd);
		T_EQ_INT(deliver(&d, msg, strlen(msg), 5, &e), 0,
		    "mda: our descriptors closed");
		err_clear(&e);
		close(fd);
	}

	snprintf(a->mda, sizeof a->mda, "kill -9 $$");
	T_EQ_INT(deliver(&d, msg, strlen(msg), 5, &e), -1, "mda signal");
	T_EQ_STR(e.msg, "mda killed by signal 9", "mda signal: message");
	err_clear(&e);

	cf.main.state_dir[0] = '\0';
	T_EQ_INT(dlv_init(&d, &cf, a, &e), -1, "mda without state_dir");
	T_EQ_INT(e.ex, EX_CONFIG, "mda without state_dir: EX_CONFIG");
	err_clear(&e);
}

/* Files a killed delivery left in tmp/: removed after 36 hours. */
static void
test_sweep(void)
{
	struct account *a = setup_account();
	struct timeval tv[2];
	struct dlv d;
	struct err e;
	char stale[512], fresh[512];
	int fd;

	err_clear(&e);
	T_EQ_INT(dlv_init(&d, &cf, a, &e), 0, "sweep: init");
	snprintf(stale, sizeof stale, "%s/tmp/1.M1P1Q1.host", md);
	snprintf(fresh, sizeof fresh, "%s/tmp/2.M2P2Q2.host", md);
	fd = open(stale, O_WRONLY | O_CREAT, 0600);
	close(fd);
	fd = open(fresh, O_WRONLY | O_CREAT, 0600);
	close(fd);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= 37 * 3600;
	tv[1] = tv[0];
	utimes(stale, tv);
	tv[0].tv_sec += 2 * 3600;	/* 35 hours: still alive */
	tv[1] = tv[0];
	utimes(fresh, tv);
	T_EQ_INT(dlv_init(&d, &cf, a, &e), 0, "sweep: init again");
	T_OK(access(stale, F_OK) != 0, "sweep: 37-hour-old tmp file removed");
	T_OK(access(fresh, F_OK) == 0, "sweep: 35-hour-old tmp file kept");
	unlink(fresh);
}

int
main(void)
{
	snprintf(tdir, sizeof tdir, "/tmp/t_maildir.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_plain();
	test_filters();
	test_mda();
	test_sweep();
	rm_rf(tdir);
	T_DONE();
}
