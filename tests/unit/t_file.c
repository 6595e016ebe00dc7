/*
 * t_file.c — file_replace, file_fsync_dir, file_mkdirs, file_read,
 * file_write_all: exact contents, exact error texts, no leftovers.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "file.h"
#include "t.h"

static char top[64];

static void
path(char *buf, size_t cap, const char *rel)
{
	snprintf(buf, cap, "%s/%s", top, rel);
}

static void
put_file(const char *p, const char *s)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) {
		perror(p);
		exit(2);
	}
	close(fd);
}

/* The whole file as a string ("" when missing), for comparisons. */
static const char *
slurp(const char *p)
{
	static char buf[65536];
	ssize_t n;
	int fd = open(p, O_RDONLY);

	buf[0] = '\0';
	if (fd < 0)
		return "(missing)";
	n = read(fd, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	return buf;
}

/* How many names in dir start with prefix. */
static int
count_entries(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	closedir(d);
	return n;
}

/*
 * Run fn in a child that cannot override permissions (as root, drop to
 * nobody), and bring back its return value and error.
 */
struct outcome {
	int r;
	struct err e;
};

static struct outcome
unprivileged(int (*fn)(const char *, struct err *), const char *arg)
{
	struct outcome o = { -2, { 0, "" } };
	int pfd[2], st;
	pid_t pid;

	if (pipe(pfd) != 0)
		return o;
	pid = fork();
	if (pid == 0) {
		close(pfd[0]);
		if (geteuid() == 0 && (setgid(65534) != 0 ||
		    setuid(65534) != 0))
			_exit(3);
		o.r = fn(arg, &o.e);
		if (write(pfd[1], &o, sizeof o) != (ssize_t)sizeof o)
			_exit(4);
		_exit(0);
	}
	close(pfd[1]);
	if (read(pfd[0], &o, sizeof o) != (ssize_t)sizeof o)
		o.r = -3;
	close(pfd[0]);
	waitpid(pid, &st, 0);
	return o;
}

static int
replace_hello(const char *p, struct err *e)
{
	return file_replace(p, "hello", 5, e);
}

static int
mkdirs_0700(const char *p, struct err *e)
{
	return file_mkdirs(p, 0700, e);
}

static void
test_replace_ok(void)
{
	static const struct {
		const char *name;
		const char *before;	/* NULL: no file yet */
		const char *data;
		size_t len;
	} v[] = {
		{ "new file", NULL, "hello\n", 6 },
		{ "replace", "old contents that are longer\n", "new\n", 4 },
		{ "empty", "x", "", 0 },
		{ "binary", NULL, "a\0b\r\n\xff", 6 },
	};
	char p[256], msg[128], got[64];
	struct stat sb;
	struct err e;
	size_t i;
	long n;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(msg, sizeof msg, "a%zu", i);
		path(p, sizeof p, msg);
		if (v[i].before)
			put_file(p, v[i].before);
		err_clear(&e);
		snprintf(msg, sizeof msg, "replace %s: returns 0", v[i].name);
		T_EQ_INT(file_replace(p, v[i].data, v[i].len, &e), 0, msg);
		snprintf(msg, sizeof msg, "replace %s: no error", v[i].name);
		T_EQ_INT(e.ex, 0, msg);
		n = file_read(p, got, sizeof got, 0, &e);
		snprintf(msg, sizeof msg, "replace %s: exact bytes", v[i].name);
		T_OK(n == (long)v[i].len &&
		    memcmp(got, v[i].data, v[i].len) == 0, msg);
		snprintf(msg, sizeof msg, "replace %s: mode 0600", v[i].name);
		T_OK(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 0600, msg);
	}
	T_EQ_INT(count_entries(top, "a"), (int)(sizeof v / sizeof v[0]),
	    "replace: only the targets in the directory");
	T_EQ_INT(count_entries(top, "a0.tmp"), 0, "replace: no temp left");
}

static void
test_replace_stale_temp(void)
{
	char p[256], tmp[300];
	struct err e = { 0, "" };

	path(p, sizeof p, "stale");
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
	put_file(tmp, "left by a crashed process with our pid");
	T_EQ_INT(file_replace(p, "fresh", 5, &e), 0,
	    "replace over a stale temp of our pid");
	T_EQ_STR(slurp(p), "fresh", "stale temp: content");
	T_OK(access(tmp, F_OK) != 0, "stale temp: gone");
}

static void
test_replace_fail(void)
{
	static char longp[5000];
	char p[256], want[512], ro[256], tmp[300];
	struct outcome o;
	struct rlimit old, rl;
	struct err e;
	void (*prev)(int);

	/* The directory does not exist. */
	path(p, sizeof p, "nodir/f");
	err_clear(&e);
	T_EQ_INT(file_replace(p, "x", 1, &e), -1, "replace in missing dir");
	T_EQ_INT(e.ex, EX_CANTCREAT, "missing dir: EX_CANTCREAT");
	snprintf(want, sizeof want,
	    "%s: cannot create: No such file or directory", p);
	T_EQ_STR(e.msg, want, "missing dir: message names the path");

	/* A directory we may not write in. */
	path(ro, sizeof ro, "ro");
	mkdir(ro, 0555);
	chmod(ro, 0555);
	path(p, sizeof p, "ro/f");
	o = unprivileged(replace_hello, p);
	T_EQ_INT(o.r, -1, "replace in read-only dir");
	T_EQ_INT(o.e.ex, EX_CANTCREAT, "read-only dir: EX_CANTCREAT");
	snprintf(want, sizeof want, "%s: cannot create: Permission denied",
	    p);
	T_EQ_STR(o.e.msg, want, "read-only dir: message");
	T_EQ_INT(count_entries(ro, ""), 2, "read-only dir: still empty");

	/* rename fails: the target is a directory. */
	path(p, sizeof p, "isdir");
	mkdir(p, 0700);
	err_clear(&e);
	T_EQ_INT(file_replace(p, "x", 1, &e), -1, "replace a directory");
	T_EQ_INT(e.ex, EX_IOERR, "rename failure: EX_IOERR");
	snprintf(want, sizeof want, "%s: rename: Is a directory", p);
	T_EQ_STR(e.msg, want, "rename failure: message");
	T_EQ_INT(count_entries(top, "isdir.tmp"), 0,
	    "rename failure: temp removed");

	/* write fails: a file size limit stands in for a full disk. */
	path(p, sizeof p, "big");
	put_file(p, "old");
	prev = signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	rl = old;
	rl.rlim_cur = 2;
	setrlimit(RLIMIT_FSIZE, &rl);
	err_clear(&e);
	T_EQ_INT(file_replace(p, "0123456789", 10, &e), -1,
	    "replace over the size limit");
	setrlimit(RLIMIT_FSIZE, &old);
	signal(SIGXFSZ, prev);
	T_EQ_INT(e.ex, EX_IOERR, "write failure: EX_IOERR");
	snprintf(want, sizeof want, "%s: write: File too large", p);
	T_EQ_STR(e.msg, want, "write failure: message");
	T_EQ_STR(slurp(p), "old", "write failure: old contents kept");
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld", p, (long)getpid());
	T_OK(access(tmp, F_OK) != 0, "write failure: temp removed");

	/* The first error wins. */
	path(p, sizeof p, "nodir/f");
	err_clear(&e);
	err_set(&e, EX_TEMPFAIL, "earlier");
	T_EQ_INT(file_replace(p, "x", 1, &e), -1, "sticky: still fails");
	T_OK(e.ex == EX_TEMPFAIL && strcmp(e.msg, "earlier") == 0,
	    "sticky: first error kept");

	/* An over-long path. */
	memset(longp, 'a', sizeof longp - 1);
	longp[0] = '/';
	err_clear(&e);
	T_EQ_INT(file_replace(longp, "x", 1, &e), -1, "over-long path fails");
	T_EQ_INT(e.ex, EX_CANTCREAT, "over-long path: EX_CANTCREAT");
}

static void
test_fsync_dir(void)
{
	char p[256], want[512];
	struct err e = { 0, "" };

	T_EQ_INT(file_fsync_dir(top, &e), 0, "fsync dir");
	path(p, sizeof p, "missing");
	T_EQ_INT(file_fsync_dir(p, &e), -1, "fsync missing dir");
	T_EQ_INT(e.ex, EX_IOERR, "fsync missing dir: EX_IOERR");
	snprintf(want, sizeof want,
	    "%s: cannot open directory: No such file or directory", p);
	T_EQ_STR(e.msg, want, "fsync missing dir: message");
}

static void
test_mkdirs(void)
{
	static const struct {
		const char *rel;	/* under top */
		const char *check;	/* a directory that must exist */
	} ok[] = {
		{ "m/a/b/c", "m/a/b/c" },
		{ "m/a/b/c", "m/a/b/c" },		/* exists: fine */
		{ "m/x//y///z/", "m/x/y/z" },
		{ "m", "m" },
	};
	char p[256], c[256], want[512], msg[128];
	struct stat sb;
	struct outcome o;
	struct err e;
	size_t i;

	umask(022);
	for (i = 0; i < sizeof ok / sizeof ok[0]; i++) {
		path(p, sizeof p, ok[i].rel);
		path(c, sizeof c, ok[i].check);
		err_clear(&e);
		snprintf(msg, sizeof msg, "mkdirs %s", ok[i].rel);
		T_OK(file_mkdirs(p, 0750, &e) == 0 && e.ex == 0 &&
		    stat(c, &sb) == 0 && S_ISDIR(sb.st_mode), msg);
	}
	path(p, sizeof p, "m/a/b");
	T_OK(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 0750,
	    "mkdirs: mode of created parts");

	/* Relative paths. */
	if (chdir(top) == 0) {
		err_clear(&e);
		T_EQ_INT(file_mkdirs("rel/one", 0700, &e), 0,
		    "mkdirs relative");
		T_OK(stat("rel/one", &sb) == 0 && S_ISDIR(sb.st_mode),
		    "mkdirs relative: exists");
		T_EQ_INT(chdir("/"), 0, "back to /");
	}
	T_EQ_INT(file_mkdirs("/", 0700, &e), 0, "mkdirs /");

	/* A file in the way, in the middle and at the end. */
	path(p, sizeof p, "m/file");
	put_file(p, "x");
	path(p, sizeof p, "m/file/sub");
	path(c, sizeof c, "m/file");
	err_clear(&e);
	T_EQ_INT(file_mkdirs(p, 0700, &e), -1, "mkdirs through a file");
	T_EQ_INT(e.ex, EX_CANTCREAT, "through a file: EX_CANTCREAT");
	snprintf(want, sizeof want,
	    "%s: cannot create directory: Not a directory", c);
	T_EQ_STR(e.msg, want, "through a file: message names the file");
	err_clear(&e);
	T_EQ_INT(file_mkdirs(c, 0700, &e), -1, "mkdirs onto a file");
	T_EQ_STR(e.msg, want, "onto a file: message");

	err_clear(&e);
	T_EQ_INT(file_mkdirs("", 0700, &e), -1, "mkdirs empty path");
	T_EQ_INT(e.ex, EX_CANTCREAT, "empty path: EX_CANTCREAT");

	/* No permission. */
	path(p, sizeof p, "ro/sub/dir");
	o = unprivileged(mkdirs_0700, p);
	path(c, sizeof c, "ro/sub");
	snprintf(want, sizeof want,
	    "%s: cannot create directory: Permission denied", c);
	T_OK(o.r == -1 && o.e.ex == EX_CANTCREAT, "mkdirs in read-only dir");
	T_EQ_STR(o.e.msg, want, "mkdirs in read-only dir: message");
}

static void
test_read(void)
{
	char p[256], want[512], buf[8];
	struct err e;
	long n;

	path(p, sizeof p, "r7");
	put_file(p, "1234567");
	err_clear(&e);
	n = file_read(p, buf, sizeof buf, 0, &e);
	T_EQ_INT(n, 7, "read exactly cap-1 bytes");
	T_EQ_STR(buf, "1234567", "read: content, NUL-terminated");

	path(p, sizeof p, "r8");
	put_file(p, "12345678");
	err_clear(&e);
	errno = 0;
	n = file_read(p, buf, sizeof buf, 0, &e);
	T_EQ_INT(n, -1, "read cap bytes: refused");
	T_EQ_INT(errno, EFBIG, "too large: errno EFBIG");
	T_EQ_INT(e.ex, EX_IOERR, "too large: EX_IOERR");
	snprintf(want, sizeof want, "%s: larger than 7 bytes", p);
	T_EQ_STR(e.msg, want, "too large: message");

	path(p, sizeof p, "r0");
	put_file(p, "");
	err_clear(&e);
	T_EQ_INT(file_read(p, buf, sizeof buf, 0, &e), 0, "read empty file");
	T_EQ_STR(buf, "", "empty file: empty string");

	path(p, sizeof p, "nothere");
	err_clear(&e);
	errno = 0;
	T_EQ_INT(file_read(p, buf, sizeof buf, 1, &e), -1,
	    "missing, missing_ok");
	T_EQ_INT(errno, ENOENT, "missing_ok: errno ENOENT");
	T_OK(e.ex == 0 && e.msg[0] == '\0', "missing_ok: e untouched");
	T_EQ_INT(file_read(p, buf, sizeof buf, 0, &e), -1, "missing");
	T_EQ_INT(e.ex, EX_IOERR, "missing: EX_IOERR");
	snprintf(want, sizeof want,
	    "%s: cannot open: No such file or directory", p);
	T_EQ_STR(e.msg, want, "missing: message");

	err_clear(&e);
	T_EQ_INT(file_read(top, buf, sizeof buf, 0, &e), -1,
	    "read a directory");
	snprintf(want, sizeof want, "%s: read: Is a directory", top);
	T_EQ_STR(e.msg, want, "read a directory: message");

	err_clear(&e);
	T_EQ_INT(file_read(p, buf, 0, 0, &e), -1, "read with cap 0");
	T_EQ_INT(e.ex, EX_SOFTWARE, "cap 0: EX_SOFTWARE");
}

static volatile sig_atomic_t alarms;

static void
on_alarm(int sig)
{
	(void)sig;
	alarms++;
}

static void
test_write_all(void)
{
	enum { N = 1 << 20 };
	static char data[N];
	struct sigaction sa, oldsa;
	struct itimerval it, off;
	char chunk[4096];
	int pfd[2], st, ok;
	size_t i, got;
	ssize_t r;
	pid_t pid;

	for (i = 0; i < N; i++)
		data[i] = (char)(i * 7 + i / 4096);
	if (pipe(pfd) != 0)
		return;
	pid = fork();
	if (pid == 0) {
		/* A slow reader, so the writer blocks and is interrupted. */
		close(pfd[1]);
		got = 0;
		ok = 1;
		while ((r = read(pfd[0], chunk, sizeof chunk)) != 0) {
			if (r < 0) {
				if (errno == EINTR)
					continue;
				_exit(2);
			}
			if (got + (size_t)r > N ||
			    memcmp(chunk, data + got, (size_t)r) != 0)
				ok = 0;
			got += (size_t)r;
			if (got % (64 * 1024) < sizeof chunk)
				usleep(1000);
		}
		_exit(ok && got == N ? 0 : 1);
	}
	close(pfd[0]);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_alarm;	/* no SA_RESTART: EINTR, short writes */
	sigaction(SIGALRM, &sa, &oldsa);
	memset(&it, 0, sizeof it);
	it.it_interval.tv_usec = 500;
	it.it_value.tv_usec = 500;
	setitimer(ITIMER_REAL, &it, NULL);
	ok = file_write_all(pfd[1], data, N);
	memset(&off, 0, sizeof off);
	setitimer(ITIMER_REAL, &off, NULL);
	sigaction(SIGALRM, &oldsa, NULL);
	close(pfd[1]);
	waitpid(pid, &st, 0);
	T_EQ_INT(ok, 0, "write_all 1 MiB through a pipe under signals");
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "write_all: reader got every byte in order");
	printf("# %d signals during write_all\n", (int)alarms);

	/* A reader that went away. */
	if (pipe(pfd) != 0)
		return;
	close(pfd[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	T_EQ_INT(file_write_all(pfd[1], "x", 1), -1, "write_all to EPIPE");
	T_EQ_INT(errno, EPIPE, "write_all: errno kept");
	close(pfd[1]);
	T_EQ_INT(file_write_all(1, "", 0), 0, "write_all nothing");
}

int
main(void)
{
	char rm[256];

	snprintf(top, sizeof top, "/tmp/t_file.XXXXXX");
	if (mkdtemp(top) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	chmod(top, 0755);	/* the unprivileged child must get in */
	test_replace_ok();
	test_replace_stale_temp();
	test_replace_fail();
	test_fsync_dir();
	test_mkdirs();
	test_read();
	test_write_all();
	snprintf(rm, sizeof rm, "chmod -R u+w %s && rm -rf %s", top, top);
	if (system(rm) != 0)
		printf("# could not remove %s\n", top);
	T_DONE();
}
