/*
 * maildir.c — durable local delivery: Maildir (tmp/ → fsync → link into
 * new/, directories fsync'd in groups) or an MDA, and the header filters
 * that pick a Maildir++ folder while the message streams past.
 *
 * The message is written through to the tmp file as it arrives (the
 * caller buffers), so memory is one header line whatever the message
 * size.  The move into new/ is link() then unlink(): it never replaces an
 * existing file; rename() is the fallback for file systems without hard
 * links (vfat).  Server data never becomes a path: names are made here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "file.h"
#include "maildir.h"

#define DLV_HOST_MAX	32	/* host part of a unique name, escaped */

static unsigned long dlv_seq;	/* the Q part: unique within the process */

/* Failures of write/fsync/space are I/O errors; the rest (permissions,
 * missing or read-only directories) are "cannot create". */
static int
ex_of(int err)
{
	return err == ENOSPC || err == EIO || err == EDQUOT ?
	    EX_IOERR : EX_CANTCREAT;
}

static int
is_maildir(const struct dlv *d)
{
	return d->acct->maildir[0] != '\0';
}

/* The host name for unique names: '/' and ':' are escaped as the Maildir
 * convention says (\057, \072); other unusual bytes become '_'. */
static void
host_part(char *out, size_t cap)
{
	struct utsname u;
	const char *s;
	size_t n = 0;

	s = uname(&u) == 0 && u.nodename[0] != '\0' ? u.nodename :
	    "localhost";
	for (; *s != '\0'; s++) {
		const char *rep = *s == '/' ? "\\057" : *s == ':' ? "\\072" :
		    NULL;
		size_t k = rep != NULL ? 4 : 1;

		if (n + k >= cap)
			break;
		if (rep != NULL)
			memcpy(out + n, rep, 4);
		else
			out[n] = (unsigned char)*s < 0x21 ||
			    (unsigned char)*s > 0x7e ? '_' : *s;
		n += k;
	}
	out[n] = '\0';
}

static void
mkname(char *out, size_t cap)
{
	/* host and pid do not change during a run: two system calls fewer
	 * per message */
	static char host[DLV_HOST_MAX + 1];
	static long pid;
	struct timespec ts;

	if (pid == 0) {
		pid = (long)getpid();
		host_part(host, sizeof host);
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, cap, "%lld.M%ldP%ldQ%lu.%s", (long long)ts.tv_sec,
	    ts.tv_nsec / 1000, pid, ++dlv_seq, host);
}

/* Where tmp files go: MAILDIR/tmp, or STATE_DIR/tmp for an MDA. */
static int
tmpdir(const struct dlv *d, char *out, size_t cap, struct err *e)
{
	const char *base = is_maildir(d) ? d->acct->maildir :
	    d->conf->main.state_dir;

	if ((size_t)snprintf(out, cap, "%s/tmp", base) >= cap)
		return err_set(e, EX_CANTCREAT, "%s/tmp: path too long",
		    base);
	return 0;
}

/*
 * A delivery killed between create and rename leaves its file in tmp/.
 * As the Maildir convention says, a file there untouched for 36 hours is
 * dead: remove it, so power cuts on a router do not slowly fill a small
 * disk.  A clock behind the file's time removes nothing.  Bounded per run.
 */
static void
sweep_tmp(const char *tmp)
{
	char p[CONF_STR_MAX + 300];
	struct dirent *de;
	struct stat st;
	time_t now = time(NULL);
	int seen = 0;
	DIR *dir;

	if ((dir = opendir(tmp)) == NULL)
		return;
	while ((de = readdir(dir)) != NULL && seen++ < DLV_SWEEP_MAX) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(p, sizeof p, "%s/%s", tmp, de->d_name) >=
		    sizeof p)
			continue;
		if (lstat(p, &st) == 0 && S_ISREG(st.st_mode) &&
		    st.st_mtime < now - DLV_TMP_STALE_S)
			unlink(p);
	}
	closedir(dir);
}

int
dlv_init(struct dlv *d, const struct conf *c, const struct account *a,
    struct err *e)
{
	static const char *const sub[] = { "tmp", "cur", "new" };
	char p[CONF_STR_MAX + 16];
	size_t i;

	memset(d, 0, sizeof *d);
	d->conf = c;
	d->acct = a;
	d->fd = -1;
	d->filter = -1;
	if (!is_maildir(d)) {
		if (a->mda[0] == '\0')
			return err_set(e, EX_CONFIG,
			    "account %s: no maildir or mda", a->name);
		if (c->main.state_dir[0] == '\0')
			return err_set(e, EX_CONFIG,
			    "account %s: mda needs a state_dir", a->name);
		if (tmpdir(d, p, sizeof p, e) < 0)
			return -1;
		if (file_mkdirs(p, 0700, e) < 0)
			return -1;
		sweep_tmp(p);
		return 0;
	}
	/* file_mkdirs makes each directory it creates durable. */
	for (i = 0; i < sizeof sub / sizeof sub[0]; i++) {
		if ((size_t)snprintf(p, sizeof p, "%s/%s", a->maildir,
		    sub[i]) >= sizeof p)
			return err_set(e, EX_CANTCREAT, "%s: path too long",
			    a->maildir);
		if (file_mkdirs(p, 0700, e) < 0)
			return -1;
	}
	snprintf(p, sizeof p, "%s/tmp", a->maildir);
	sweep_tmp(p);
	return 0;
}

int
dlv_begin(struct dlv *d, struct err *e)
{
	char dir[CONF_STR_MAX + 16];
	int tries;

	if (d->fd >= 0 || d->tmppath[0] != '\0')
		dlv_abort(d);
	d->size = 0;
	d->wb_done = 0;
	d->in_body = 0;
	d->bol = 1;
	d->hdrlen = 0;
	d->filter = -1;
	d->delivered[0] = '\0';
	if (tmpdir(d, dir, sizeof dir, e) < 0)
		return -1;
	for (tries = 0; tries < 4; tries++) {
		mkname(d->name, sizeof d->name);
		if ((size_t)snprintf(d->tmppath, sizeof d->tmppath, "%s/%s",
		    dir, d->name) >= sizeof d->tmppath) {
			d->tmppath[0] = '\0';
			return err_set(e, EX_CANTCREAT, "%s: path too long",
			    dir);
		}
		d->fd = open(d->tmppath, O_WRONLY | O_CREAT | O_EXCL |
		    O_CLOEXEC | O_NOCTTY, 0600);
		if (d->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	err_set(e, ex_of(errno), "%s: %s", d->tmppath, strerror(errno));
	d->tmppath[0] = '\0';
	return -1;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* Case-insensitive (ASCII) substring test of needle in h[0..n). */
static int
contains(const char *h, size_t n, const char *needle)
{
	size_t m = strlen(needle), i, j;

	if (m > n)
		return 0;
	for (i = 0; i + m <= n; i++) {
		for (j = 0; j < m; j++)
			if (lower((unsigned char)h[i + j]) !=
			    lower((unsigned char)needle[j]))
				break;
		if (j == m)
			return 1;
	}
	return 0;
}

/* Test the header in d->hdr against the filters ranked before the
 * current match; then start a new header. */
static void
hdr_done(struct dlv *d)
{
	const struct conf *c = d->conf;
	const char *h = d->hdr, *colon;
	size_t namelen, i, k;
	int f, last;

	if (d->hdrlen == 0 || c == NULL)
		return;
	colon = memchr(h, ':', d->hdrlen);
	if (colon == NULL)
		goto out;
	namelen = (size_t)(colon - h);
	/* "Subject :" is the obsolete syntax of RFC 5322 §4.5. */
	while (namelen > 0 && (h[namelen - 1] == ' ' || h[namelen - 1] == '\t'))
		namelen--;
	last = d->filter >= 0 ? d->filter : c->nfilter;
	for (f = 0; f < last; f++) {
		const struct filter *fl = &c->filter[f];

		if (fl->account[0] != '\0' &&
		    strcmp(fl->account, d->acct->name) != 0)
			continue;
		if (strlen(fl->header) != namelen)
			continue;
		for (k = 0; k < namelen; k++)
			if (lower((unsigned char)h[k]) !=
			    lower((unsigned char)fl->header[k]))
				break;
		if (k != namelen)
			continue;
		i = (size_t)(colon + 1 - h);
		if (contains(h + i, d->hdrlen - i, fl->contains)) {
			d->filter = f;
			break;
		}
	}
out:
	d->hdrlen = 0;
}

/*
 * Feed the header scanner: physical lines are assembled into d->hdr (a
 * line starting with SP or HT continues the previous header, RFC 5322
 * unfolding), and each complete header is tested; the empty line ends
 * the scan.  CRs are ignored, so a stray CRLF message scans the same.
 */
static void
scan(struct dlv *d, const char *p, size_t n)
{
	size_t i;
	char ch;

	for (i = 0; i < n && !d->in_body; i++) {
		ch = p[i];
		if (ch == '\r')
			continue;
		if (d->bol) {
			if (ch == '\n') {
				hdr_done(d);
				d->in_body = 1;
				break;
			}
			if (ch != ' ' && ch != '\t')
				hdr_done(d);
			d->bol = 0;
		} else if (ch == '\n') {
			d->bol = 1;
			continue;
		}
		if (d->hdrlen < DLV_HDR_LINE_MAX)
			d->hdr[d->hdrlen++] = ch;
	}
	/* Nothing can beat the first filter: stop looking. */
	if (d->filter == 0)
		d->in_body = 1;
}

int
dlv_write(struct dlv *d, const void *buf, size_t n, struct err *e)
{
	if (d->fd < 0)
		return err_set(e, EX_SOFTWARE, "delivery: no message begun");
	if (file_write_all(d->fd, buf, n) < 0) {
		err_set(e, EX_IOERR, "%s: write: %s", d->tmppath,
		    strerror(errno));
		dlv_abort(d);
		return -1;
	}
	d->size += (long long)n;
	/* the group's sync finds little left to write */
	file_writeback(d->fd, &d->wb_done, d->size, DLV_WRITEBACK);
	if (!d->in_body)
		scan(d, buf, n);
	return 0;
}

/* Remember `dir` for the next dlv_sync (sync now when the list is full);
 * its index in d->dirty, or -1. */
static int
dirty_add(struct dlv *d, const char *dir, struct err *e)
{
	int i;

	for (i = 0; i < d->ndirty; i++)
		if (strcmp(d->dirty[i], dir) == 0)
			return i;
	if (d->ndirty == DLV_SYNC_DIRS_MAX && dlv_sync(d, e) < 0)
		return -1;
	if ((size_t)snprintf(d->dirty[d->ndirty], sizeof d->dirty[0], "%s",
	    dir) >= sizeof d->dirty[0])
		return err_set(e, EX_CANTCREAT, "%s: path too long", dir);
	return d->ndirty++;
}

static int
mkdir_ok(const char *p, struct err *e)
{
	if (mkdir(p, 0700) < 0 && errno != EEXIST)
		return err_set(e, ex_of(errno), "%s: %s", p, strerror(errno));
	return 0;
}

/*
 * The Maildir++ folder for filter `f`: MAILDIR/.NAME with '/' in the
 * folder name turned into '.'.  Created on demand with tmp, cur, the
 * "maildirfolder" marker and, last, new: a folder whose new/ exists is
 * complete.  Every directory whose entries changed is marked dirty.
 */
static int
folder_dir(struct dlv *d, int f, char *dir, size_t cap, struct err *e)
{
	const char *name = d->conf->filter[f].folder, *md = d->acct->maildir;
	char p[CONF_STR_MAX + 32];
	struct stat st;
	size_t n, i;
	int fd;

	if (strcasecmp(name, "INBOX") == 0) {
		snprintf(dir, cap, "%s", md);
		return 0;
	}
	if (name[0] == '\0' || strcmp(name, ".") == 0)
		return err_set(e, EX_CONFIG, "filter folder '%s' is invalid",
		    name);
	n = (size_t)snprintf(dir, cap, "%s/.%s", md, name);
	if (n >= cap || n + 16 >= sizeof p)
		return err_set(e, EX_CANTCREAT, "%s/.%s: path too long", md,
		    name);
	for (i = strlen(md) + 2; i < n; i++)
		if (dir[i] == '/')
			dir[i] = '.';
	snprintf(p, sizeof p, "%s/new", dir);
	if (stat(p, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	if (mkdir_ok(dir, e) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/tmp", dir);
	if (mkdir_ok(p, e) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/cur", dir);
	if (mkdir_ok(p, e) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/maildirfolder", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0)
		return err_set(e, ex_of(errno), "%s: %s", p, strerror(errno));
	close(fd);
	snprintf(p, sizeof p, "%s/new", dir);
	if (mkdir_ok(p, e) < 0)
		return -1;
	if (dirty_add(d, dir, e) < 0 || dirty_add(d, md, e) < 0)
		return -1;
	return 0;
}

/*
 * The tmp file is complete: queue it for DIR/new of its folder.  new/
 * joins the dirty list first, so that at dlv_sync only the link itself
 * can fail.
 */
static int
queue_new(struct dlv *d, struct err *e)
{
	char dir[sizeof d->dirty[0]], newdir[sizeof d->dirty[0]];
	struct dlv_pend *q;
	int k;

	if (d->npend == DLV_PENDING_MAX && dlv_sync(d, e) < 0)
		return -1;
	if (d->filter >= 0) {
		if (folder_dir(d, d->filter, dir, sizeof dir, e) < 0)
			return -1;
	} else
		snprintf(dir, sizeof dir, "%s", d->acct->maildir);
	if ((size_t)snprintf(newdir, sizeof newdir, "%s/new", dir) >=
	    sizeof newdir)
		return err_set(e, EX_CANTCREAT, "%s/new: path too long", dir);
	/* the final name must fit too: checked now, not after the sync */
	if (strlen(newdir) + strlen(d->name) + 24 >= sizeof d->delivered)
		return err_set(e, EX_CANTCREAT, "%s: path too long", newdir);
	if ((k = dirty_add(d, newdir, e)) < 0)
		return -1;
	q = &d->pend[d->npend++];
	memcpy(q->name, d->name, sizeof q->name);
	q->fd = d->fd;
	q->dir = k;
	q->size = d->size;
	d->fd = -1;
	d->tmppath[0] = '\0';
	return 0;
}

/* Link the durable tmp/NAME into its new/ as NAME,S=SIZE (a fresh name
 * if that exists), then drop tmp/NAME. */
static int
link_new(struct dlv *d, const struct dlv_pend *q, struct err *e)
{
	char tmp[CONF_STR_MAX + DLV_NAME_MAX + 8], name[DLV_NAME_MAX];
	int tries, err;

	snprintf(tmp, sizeof tmp, "%s/tmp/%s", d->acct->maildir, q->name);
	memcpy(name, q->name, sizeof name);
	for (tries = 0;; tries++) {
		snprintf(d->delivered, sizeof d->delivered, "%s/%s,S=%lld",
		    d->dirty[q->dir], name, q->size);
		if (link(tmp, d->delivered) == 0) {
			unlink(tmp);
			return 0;
		}
		err = errno;
		if (err == EEXIST && tries < 3) {
			mkname(name, sizeof name);
			continue;
		}
		/* No hard links here (vfat, some FUSE): rename instead. */
		if (err == EPERM || err == ENOTSUP || err == EOPNOTSUPP ||
		    err == EXDEV || err == ENOSYS) {
			if (rename(tmp, d->delivered) == 0)
				return 0;
			err = errno;
		}
		err_set(e, ex_of(err), "%s: %s", d->delivered, strerror(err));
		d->delivered[0] = '\0';
		unlink(tmp);
		return -1;
	}
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* In a child before execve: no descriptor of ours (a lock, a socket
 * opened without O_CLOEXEC) may outlive us in the MDA or its children. */
static void
close_from(int lo)
{
	long fd, max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 4096)
		max = 4096;
	for (fd = lo; fd < max; fd++)
		close((int)fd);
}

/* Run the MDA on the spooled message and wait for it, bounded. */
static int
run_mda(struct dlv *d, int timeout_s, struct err *e)
{
	char ev_path[1024], ev_home[CONF_STR_MAX + 8];
	char ev_acct[CONF_NAME_MAX + 16], ev_folder[CONF_STR_MAX + 16];
	char *argv[] = { "sh", "-c", (char *)d->acct->mda, NULL };
	char *envp[5];
	const char *s;
	long long deadline;
	int in, nul, st, k = 0;
	pid_t pid, w;

	s = getenv("PATH");
	if (s == NULL || (size_t)snprintf(ev_path, sizeof ev_path, "PATH=%s",
	    s) >= sizeof ev_path)
		snprintf(ev_path, sizeof ev_path,
		    "PATH=/usr/sbin:/usr/bin:/sbin:/bin");
	envp[k++] = ev_path;
	if ((s = getenv("HOME")) != NULL && (size_t)snprintf(ev_home,
	    sizeof ev_home, "HOME=%s", s) < sizeof ev_home)
		envp[k++] = ev_home;
	snprintf(ev_acct, sizeof ev_acct, "TERN_ACCOUNT=%s", d->acct->name);
	envp[k++] = ev_acct;
	if (d->filter >= 0) {
		snprintf(ev_folder, sizeof ev_folder, "TERN_FOLDER=%s",
		    d->conf->filter[d->filter].folder);
		envp[k++] = ev_folder;
	}
	envp[k] = NULL;

	if ((in = open(d->tmppath, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return err_set(e, EX_IOERR, "%s: %s", d->tmppath,
		    strerror(errno));
	if ((nul = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0) {
		err_set(e, EX_IOERR, "/dev/null: %s", strerror(errno));
		close(in);
		return -1;
	}
	if ((pid = fork()) < 0) {
		err_set(e, EX_TEMPFAIL, "mda: fork: %s", strerror(errno));
		close(in);
		close(nul);
		return -1;
	}
	if (pid == 0) {
		sigset_t ss;

		setpgid(0, 0);
		sigemptyset(&ss);
		sigprocmask(SIG_SETMASK, &ss, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(in, 0) < 0 || dup2(nul, 1) < 0)
			_exit(127);
		close_from(3);
		execve("/bin/sh", argv, envp);
		_exit(127);
	}
	setpgid(pid, pid);
	close(in);
	close(nul);
	if (timeout_s < 1)
		timeout_s = 1;
	deadline = now_ms() + (long long)timeout_s * 1000;
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return err_set(e, EX_TEMPFAIL, "mda: waitpid: %s",
			    strerror(errno));
		if (now_ms() >= deadline) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
				;
			return err_set(e, EX_TEMPFAIL,
			    "mda timed out after %d s", timeout_s);
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
	}
	if (WIFSIGNALED(st))
		return err_set(e, EX_TEMPFAIL, "mda killed by signal %d",
		    WTERMSIG(st));
	if (WEXITSTATUS(st) != 0)
		return err_set(e, EX_TEMPFAIL, "mda exited with status %d",
		    WEXITSTATUS(st));
	snprintf(d->delivered, sizeof d->delivered, "mda");
	return 0;
}

int
dlv_commit(struct dlv *d, int timeout_s, struct err *e)
{
	int fd = d->fd;

	if (fd < 0)
		return err_set(e, EX_SOFTWARE, "delivery: no message begun");
	if (!d->in_body)
		hdr_done(d);
	if (is_maildir(d)) {
		if (queue_new(d, e) < 0)
			goto fail;
		return 0;
	}
	d->fd = -1;
	if (close(fd) < 0) {
		err_set(e, EX_IOERR, "%s: close: %s", d->tmppath,
		    strerror(errno));
		goto fail;
	}
	if (run_mda(d, timeout_s, e) < 0)
		goto fail;
	unlink(d->tmppath);
	d->tmppath[0] = '\0';
	return 0;
fail:
	dlv_abort(d);
	return -1;
}

void
dlv_abort(struct dlv *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->tmppath[0] != '\0')
		unlink(d->tmppath);
	d->tmppath[0] = '\0';
}

/* Close and remove the queued files from pend[from] on. */
static void
drop_from(struct dlv *d, int from)
{
	char tmp[CONF_STR_MAX + DLV_NAME_MAX + 8];
	int i;

	for (i = from; i < d->npend; i++) {
		if (d->pend[i].fd >= 0)
			close(d->pend[i].fd);
		snprintf(tmp, sizeof tmp, "%s/tmp/%s", d->acct->maildir,
		    d->pend[i].name);
		unlink(tmp);
	}
	d->npend = 0;
}

void
dlv_drop(struct dlv *d)
{
	drop_from(d, 0);
}

/*
 * The queued files durable: one syncfs() writes the whole group (on
 * ext4 one journal commit where an fsync each would be one commit per
 * message); then an fdatasync of each file finds nothing left to write
 * but reports a write-back error, which syncfs() does not before Linux
 * 5.8.  Without syncfs (ENOSYS, a filter), the fdatasyncs do the work.
 */
static int
sync_files(struct dlv *d, struct err *e)
{
	struct dlv_pend *q;
	int i;

	(void)syncfs(d->pend[0].fd);
	for (i = 0; i < d->npend; i++) {
		q = &d->pend[i];
		if (fdatasync(q->fd) < 0 && errno != EINVAL)
			return err_set(e, EX_IOERR, "%s/tmp/%s: fsync: %s",
			    d->acct->maildir, q->name, strerror(errno));
		if (close(q->fd) < 0) {
			q->fd = -1;
			return err_set(e, EX_IOERR, "%s/tmp/%s: close: %s",
			    d->acct->maildir, q->name, strerror(errno));
		}
		q->fd = -1;
	}
	return 0;
}

int
dlv_sync(struct dlv *d, struct err *e)
{
	int i, rc = 0;

	if (d->npend > 0) {
		if (sync_files(d, e) < 0) {
			drop_from(d, 0);
			d->ndirty = 0;
			return -1;
		}
		for (i = 0; i < d->npend; i++)
			if (link_new(d, &d->pend[i], e) < 0) {
				drop_from(d, i + 1);
				rc = -1;
				break;
			}
		d->npend = 0;
	}
	/* what was linked before a failure is synced all the same */
	for (i = 0; i < d->ndirty; i++)
		if (file_fsync_dir(d->dirty[i], e) < 0)
			rc = -1;
	d->ndirty = 0;
	return rc;
}
