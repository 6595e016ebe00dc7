/*
 * file.c — the one durable-write helper (temp file, fsync, rename, fsync
 * directory) and the small file utilities every module shares.
 *
 * Every error message starts with the path it is about, so that a user
 * reading "tern: /etc/tern/work.pop3: cannot create: Read-only file system"
 * knows what to fix without a trace.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"

int
file_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			/* Not expected of a regular file; do not spin. */
			errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Copy the directory part of `path` into dir (cap bytes): "a/b" gives "a",
 * "/b" gives "/", "b" gives ".".  -1 when it does not fit.
 */
static int
dir_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		if (cap < 2)
			return -1;
		memcpy(dir, ".", 2);
		return 0;
	}
	n = (size_t)(slash - path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0)
		n = 1;		/* the root directory */
	if (n >= cap)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

int
file_fsync_dir(const char *dir, struct err *e)
{
	int fd, r, saved;

	do
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return err_set(e, EX_IOERR, "%s: cannot open directory: %s",
		    dir, strerror(errno));
	r = fsync(fd);
	saved = errno;
	close(fd);
	/*
	 * EINVAL means this file system cannot sync a directory at all
	 * (some FUSE and network mounts); there is nothing better to do,
	 * and refusing every write there would help nobody.
	 */
	if (r != 0 && saved != EINVAL)
		return err_set(e, EX_IOERR, "%s: fsync: %s", dir,
		    strerror(saved));
	return 0;
}

int
file_replace(const char *path, const void *buf, size_t len, struct err *e)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	int fd, n, saved, tries;

	n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp || dir_of(path, dir, sizeof dir))
		return err_set(e, EX_CANTCREAT, "%s: cannot create: %s", path,
		    strerror(ENAMETOOLONG));

	/*
	 * The temp name carries our pid, so an existing one can only be
	 * left over from a crashed process that had the same pid: it is
	 * garbage, remove it and try once more.
	 */
	for (tries = 0;; tries++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno == EEXIST && tries == 0 && unlink(tmp) == 0)
			continue;
		return err_set(e, EX_CANTCREAT, "%s: cannot create: %s", path,
		    strerror(errno));
	}

	if (file_write_all(fd, buf, len) != 0) {
		saved = errno;
		err_set(e, EX_IOERR, "%s: write: %s", path, strerror(saved));
		goto fail;
	}
	if (fsync(fd) != 0) {
		saved = errno;
		err_set(e, EX_IOERR, "%s: fsync: %s", path, strerror(saved));
		goto fail;
	}
	/* close() can report a deferred write error (NFS): check it. */
	if (close(fd) != 0) {
		fd = -1;
		saved = errno;
		err_set(e, EX_IOERR, "%s: close: %s", path, strerror(saved));
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		saved = errno;
		err_set(e, EX_IOERR, "%s: rename: %s", path, strerror(saved));
		goto fail;
	}
	/* The new contents are in place; make the name durable too. */
	return file_fsync_dir(dir, e);

fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return -1;
}

/* Is `p` an existing directory? */
static int
is_dir(const char *p)
{
	struct stat sb;

	return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int
file_mkdirs(const char *path, int mode, struct err *e)
{
	char buf[PATH_MAX], parent[PATH_MAX];
	size_t len, i;
	int saved;

	len = strlen(path);
	if (len == 0)
		return err_set(e, EX_CANTCREAT,
		    "(empty path): cannot create directory: %s",
		    strerror(ENOENT));
	if (len >= sizeof buf)
		return err_set(e, EX_CANTCREAT,
		    "%s: cannot create directory: %s", path,
		    strerror(ENAMETOOLONG));
	/* the common case: there already (one stat, not a walk) */
	if (is_dir(path))
		return 0;
	memcpy(buf, path, len + 1);

	/*
	 * Walk the components left to right; i stops at the end of each
	 * one (at a '/' or at the end of the string).  Repeated and
	 * trailing slashes give empty components, which are skipped.
	 */
	for (i = 1; i <= len; i++) {
		if (i < len && buf[i] != '/')
			continue;
		if (buf[i - 1] == '/')
			continue;
		buf[i] = '\0';
		if (mkdir(buf, (mode_t)mode) == 0) {
			/* Make the new entry durable in its parent. */
			if (dir_of(buf, parent, sizeof parent) == 0 &&
			    file_fsync_dir(parent, e) != 0)
				return -1;
		} else {
			saved = errno;
			/* EEXIST, but also EACCES/EROFS on a path that
			 * exists already: only a directory is fine. */
			if (!is_dir(buf)) {
				if (saved == EEXIST)
					saved = ENOTDIR;
				return err_set(e, EX_CANTCREAT,
				    "%s: cannot create directory: %s", buf,
				    strerror(saved));
			}
		}
		if (i < len)
			buf[i] = '/';
	}
	return 0;
}

long
file_read(const char *path, char *buf, size_t cap, int missing_ok,
    struct err *e)
{
	size_t len = 0;
	ssize_t n;
	char extra;
	int fd, saved;

	if (cap == 0 || cap > LONG_MAX)
		return err_set(e, EX_SOFTWARE, "%s: read: bad buffer size",
		    path);
	do
		fd = open(path, O_RDONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		saved = errno;
		if (saved == ENOENT && missing_ok)
			return -1;
		err_set(e, EX_IOERR, "%s: cannot open: %s", path,
		    strerror(saved));
		errno = saved;
		return -1;
	}
	for (;;) {
		if (len < cap - 1)
			n = read(fd, buf + len, cap - 1 - len);
		else
			n = read(fd, &extra, 1);	/* is there more? */
		if (n < 0) {
			if (errno == EINTR)
				continue;
			saved = errno;
			close(fd);
			err_set(e, EX_IOERR, "%s: read: %s", path,
			    strerror(saved));
			errno = saved;
			return -1;
		}
		if (n == 0)
			break;
		if (len == cap - 1) {
			close(fd);
			buf[len] = '\0';
			err_set(e, EX_IOERR, "%s: larger than %zu bytes", path,
			    cap - 1);
			errno = EFBIG;
			return -1;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	return (long)len;
}

void
file_writeback(int fd, long long *done, long long size, long long every)
{
	if (size - *done < every)
		return;
	(void)sync_file_range(fd, *done, size - *done,
	    SYNC_FILE_RANGE_WRITE);
	*done = size;
}
