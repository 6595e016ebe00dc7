/*
 * file.h — the one durable-write helper and small file utilities.
 *
 * file_replace() is how every module makes a file durable: write a temp
 * file in the same directory, fsync it, rename it over the target, fsync
 * the directory.  A crash at any instant leaves the old contents or the
 * new, never a mix.  Every error names its path.
 */
#ifndef FILE_H
#define FILE_H

#include <stddef.h>
#include "tern.h"

/* Atomically and durably replace `path` with buf[0..len). Mode 0600.
 * Errors: EX_CANTCREAT (cannot create), EX_IOERR (write/fsync/rename). */
int file_replace(const char *path, const void *buf, size_t len,
    struct err *e);

/* fsync the directory `dir`.  Errors: EX_IOERR. */
int file_fsync_dir(const char *dir, struct err *e);

/* mkdir -p with `mode` (less the umask) for the parts it creates; parts
 * that exist already are fine if they are directories.  Each directory it
 * creates is made durable in its parent.  Errors: EX_CANTCREAT, naming the
 * component that failed ("/a/b: cannot create directory: Not a directory"). */
int file_mkdirs(const char *path, int mode, struct err *e);

/* Read at most cap-1 bytes of `path` into buf, NUL-terminated; returns the
 * length, -1 with e set on error; a missing file gives -1 with errno ENOENT
 * and e untouched when `missing_ok` is set.  A file larger than cap-1 bytes
 * is refused: -1, errno EFBIG, "PATH: larger than N bytes".  Errors:
 * EX_IOERR (errno is kept for the caller). */
long file_read(const char *path, char *buf, size_t cap, int missing_ok,
    struct err *e);

/* write(2) all of buf, retrying on EINTR and short writes. */
int file_write_all(int fd, const void *buf, size_t len);

/* A large file being written: once `every` bytes have piled up past
 * *done, start their write-back (sync_file_range), so that the fsync at
 * the end finds little left to write; *done moves to size. */
void file_writeback(int fd, long long *done, long long size,
    long long every);

#endif
