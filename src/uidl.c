/*
 * uidl.c — the seen-UIDL ledger: load, look up, append, compact.
 *
 * One line per record, "UIDL FIRST_SEEN FLAGS CHECK\n", where CHECK is the
 * FNV-1a 32 hash of "UIDL FIRST_SEEN FLAGS" in 8 hex digits: appends can
 * be torn by a crash, and a record that does not check out is skipped, so
 * a half-written tail or a garbled line costs at most that record (its
 * message is fetched again; none is lost).  Loading reads the file through
 * a fixed buffer; records go into an array indexed by an open-addressing
 * hash table, both grown by doubling but never past UIDL_MAX records.
 * The UIDL string is only ever compared and written into the ledger: it
 * is never part of a path or a command.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "uidl.h"

#define UIDL_LINE_MAX	128	/* one record, newline included */
#define UIDL_CAP_MIN	1024	/* records allocated at load */

static uint32_t
fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 16777619u;
	}
	return h;
}

int
uidl_valid(const char *s, size_t n)
{
	size_t i;

	if (n < 1 || n > UIDL_LEN_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* The index slot holding `uidl`, or the empty slot where it would go.
 * nslot is a power of two at least twice cap, so a free slot exists. */
static int
slot_of(const struct uidl_db *db, const char *uidl, size_t n)
{
	int i, mask = db->nslot - 1;

	i = (int)(fnv1a(uidl, n) & (uint32_t)mask);
	while (db->slot[i] >= 0) {
		const struct uidl_rec *r = &db->rec[db->slot[i]];

		if (strncmp(r->uidl, uidl, n) == 0 && r->uidl[n] == '\0')
			break;
		i = (i + 1) & mask;
	}
	return i;
}

static void
reindex(struct uidl_db *db)
{
	int i;

	for (i = 0; i < db->nslot; i++)
		db->slot[i] = -1;
	for (i = 0; i < db->n; i++)
		db->slot[slot_of(db, db->rec[i].uidl,
		    strlen(db->rec[i].uidl))] = i;
}

static int
grow(struct uidl_db *db, struct err *e)
{
	struct uidl_rec *rec;
	int cap, *slot;

	if (db->cap >= UIDL_MAX)
		return err_set(e, EX_UNAVAILABLE,
		    "%s: more than %d UIDLs in the ledger", db->path,
		    UIDL_MAX);
	cap = db->cap > 0 ? db->cap * 2 : UIDL_CAP_MIN;
	if (cap > UIDL_MAX)
		cap = UIDL_MAX;
	if ((slot = malloc(2 * (size_t)cap * sizeof *slot)) == NULL)
		return err_set(e, EX_SOFTWARE, "%s: out of memory", db->path);
	if ((rec = realloc(db->rec, (size_t)cap * sizeof *rec)) == NULL) {
		free(slot);
		return err_set(e, EX_SOFTWARE, "%s: out of memory", db->path);
	}
	free(db->slot);
	db->rec = rec;
	db->slot = slot;
	db->cap = cap;
	db->nslot = 2 * cap;
	reindex(db);
	return 0;
}

/* Add or merge one record; `pend` says whether a change must be
 * appended at the next commit (not for records read from the file). */
static int
put(struct uidl_db *db, const char *uidl, size_t n, long long first_seen,
    int flags, int pend, struct err *e)
{
	struct uidl_rec *r;
	int i;

	i = slot_of(db, uidl, n);
	if (db->slot[i] >= 0) {
		r = &db->rec[db->slot[i]];
		r->mark = 1;
		if ((r->flags | flags) == r->flags &&
		    first_seen >= r->first_seen)
			return 0;
		r->flags |= flags;
		if (first_seen < r->first_seen)
			r->first_seen = first_seen;
	} else {
		if (db->n == db->cap) {
			if (grow(db, e) < 0)
				return -1;
			i = slot_of(db, uidl, n);
		}
		r = &db->rec[db->n];
		memcpy(r->uidl, uidl, n);
		r->uidl[n] = '\0';
		r->first_seen = first_seen;
		r->flags = flags;
		r->mark = 1;
		r->pend = 0;
		db->slot[i] = db->n++;
	}
	if (pend && !r->pend) {
		r->pend = 1;
		db->pending++;
	}
	return 0;
}

/* A run of 1..max decimal digits. */
static int
digits(const char *s, size_t n, size_t max, long long *out)
{
	long long v = 0;
	size_t i;

	if (n < 1 || n > max)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

/* Check and add the record l[0..n) (no newline); -1 when it is bad. */
static int
parse(struct uidl_db *db, const char *l, size_t n, struct err *e)
{
	size_t sp[3], k = 0, i;
	uint32_t check = 0;
	long long first, flags;
	int d;

	for (i = 0; i < n; i++)
		if (l[i] == ' ') {
			if (k == 3)
				return 1;
			sp[k++] = i;
		}
	if (k != 3 || n - sp[2] - 1 != 8)
		return 1;
	for (i = sp[2] + 1; i < n; i++) {
		if (l[i] >= '0' && l[i] <= '9')
			d = l[i] - '0';
		else if (l[i] >= 'a' && l[i] <= 'f')
			d = l[i] - 'a' + 10;
		else if (l[i] >= 'A' && l[i] <= 'F')
			d = l[i] - 'A' + 10;
		else
			return 1;
		check = check << 4 | (uint32_t)d;
	}
	if (check != fnv1a(l, sp[2]) ||
	    !uidl_valid(l, sp[0]) ||
	    digits(l + sp[0] + 1, sp[1] - sp[0] - 1, 18, &first) < 0 ||
	    digits(l + sp[1] + 1, sp[2] - sp[1] - 1, 9, &flags) < 0)
		return 1;
	return put(db, l, sp[0], first, (int)flags, 0, e);
}

int
uidl_load(struct uidl_db *db, const char *state_dir, const char *account,
    struct err *e)
{
	char buf[4096], line[UIDL_LINE_MAX];
	size_t ll = 0;
	ssize_t r, i;
	int fd, skip = 0, rc;

	memset(db, 0, sizeof *db);
	if ((size_t)snprintf(db->path, sizeof db->path, "%s/%s.uidl",
	    state_dir, account) >= sizeof db->path)
		return err_set(e, EX_CONFIG, "%s/%s.uidl: path too long",
		    state_dir, account);
	if (grow(db, e) < 0)
		return -1;
	if ((fd = open(db->path, O_RDONLY | O_CLOEXEC)) < 0) {
		if (errno == ENOENT)
			return 0;
		err_set(e, EX_IOERR, "%s: %s", db->path, strerror(errno));
		uidl_free(db);
		return -1;
	}
	for (;;) {
		r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(e, EX_IOERR, "%s: read: %s", db->path,
			    strerror(errno));
			close(fd);
			uidl_free(db);
			return -1;
		}
		if (r == 0)
			break;
		for (i = 0; i < r; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof line)
					line[ll++] = buf[i];
				else
					skip = 1;
				continue;
			}
			/* An empty line: the newline that closed a torn
			 * tail (see uidl_commit). */
			if (ll == 0 && !skip)
				continue;
			rc = skip ? 1 : parse(db, line, ll, e);
			if (rc < 0) {
				close(fd);
				uidl_free(db);
				return -1;
			}
			db->bad += rc;
			ll = 0;
			skip = 0;
		}
	}
	close(fd);
	/* A last line without its newline is a torn append. */
	db->torn = ll > 0 || skip;
	return 0;
}

void
uidl_free(struct uidl_db *db)
{
	free(db->rec);
	free(db->slot);
	db->rec = NULL;
	db->slot = NULL;
	db->cap = db->n = db->nslot = db->pending = 0;
}

struct uidl_rec *
uidl_find(struct uidl_db *db, const char *uidl)
{
	size_t n = strnlen(uidl, UIDL_LEN_MAX + 1);
	int i;

	if (db->nslot == 0 || !uidl_valid(uidl, n))
		return NULL;
	i = slot_of(db, uidl, n);
	return db->slot[i] >= 0 ? &db->rec[db->slot[i]] : NULL;
}

int
uidl_put(struct uidl_db *db, const char *uidl, long long first_seen,
    int flags, struct err *e)
{
	size_t n = strnlen(uidl, UIDL_LEN_MAX + 1);

	if (!uidl_valid(uidl, n))
		return err_set(e, EX_PROTOCOL, "invalid UIDL");
	/* Keep the record within what parse() reads back. */
	if (first_seen < 0)
		first_seen = 0;
	if (first_seen > 999999999999999999LL)
		first_seen = 999999999999999999LL;
	flags &= 0xffff;
	if (db->nslot == 0 && grow(db, e) < 0)
		return -1;
	return put(db, uidl, n, first_seen, flags, 1, e);
}

/* One record line into out (at least UIDL_LINE_MAX bytes); its length. */
static size_t
fmt(const struct uidl_rec *r, char *out)
{
	int n;

	n = snprintf(out, UIDL_LINE_MAX, "%s %lld %d", r->uidl,
	    r->first_seen, r->flags);
	n += snprintf(out + n, UIDL_LINE_MAX - (size_t)n, " %08lx\n",
	    (unsigned long)fnv1a(out, (size_t)n));
	return (size_t)n;
}

static void
committed(struct uidl_db *db)
{
	int i;

	for (i = 0; i < db->n; i++)
		db->rec[i].pend = 0;
	db->pending = 0;
	db->torn = 0;
}

/*
 * The whole ledger through file_replace: one buffer of at most
 * UIDL_MAX * UIDL_LINE_MAX bytes (8 MiB), freed at once.
 */
static int
rewrite(struct uidl_db *db, struct err *e)
{
	size_t len = 0;
	char *buf;
	int i, r;

	if ((buf = malloc((size_t)db->n * UIDL_LINE_MAX + 1)) == NULL)
		return err_set(e, EX_SOFTWARE, "%s: out of memory", db->path);
	for (i = 0; i < db->n; i++)
		len += fmt(&db->rec[i], buf + len);
	r = file_replace(db->path, buf, len, e);
	free(buf);
	if (r < 0)
		return -1;
	db->dirty = 0;
	committed(db);
	return 0;
}

static int
dir_of(const char *path, char *dir, size_t cap)
{
	const char *s = strrchr(path, '/');
	size_t n;

	if (s == NULL) {
		snprintf(dir, cap, ".");
		return 0;
	}
	n = s == path ? 1 : (size_t)(s - path);
	if (n >= cap)
		return -1;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

int
uidl_commit(struct uidl_db *db, struct err *e)
{
	char buf[8192], dir[sizeof db->path];
	size_t len = 0;
	int fd, i, created = 0;

	if (db->dirty)
		return rewrite(db, e);
	if (db->pending == 0)
		return 0;
	fd = open(db->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT) {
		fd = open(db->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
		    O_CLOEXEC, 0600);
		created = fd >= 0;
	}
	if (fd < 0)
		return err_set(e, errno == ENOSPC || errno == EIO ?
		    EX_IOERR : EX_CANTCREAT, "%s: %s", db->path,
		    strerror(errno));
	/* Close a torn last line so that the first new record stands on
	 * its own line; the fragment stays one bad record. */
	if (db->torn)
		buf[len++] = '\n';
	for (i = 0; i < db->n; i++) {
		if (!db->rec[i].pend)
			continue;
		if (sizeof buf - len < UIDL_LINE_MAX) {
			if (file_write_all(fd, buf, len) < 0)
				goto fail;
			len = 0;
		}
		len += fmt(&db->rec[i], buf + len);
	}
	if (file_write_all(fd, buf, len) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	if (created) {
		if (dir_of(db->path, dir, sizeof dir) < 0 ||
		    file_fsync_dir(dir, e) < 0)
			return err_set(e, EX_IOERR, "%s: cannot sync directory",
			    db->path);
	}
	committed(db);
	return 0;
fail:
	err_set(e, EX_IOERR, "%s: write: %s", db->path, strerror(errno));
	if (fd >= 0)
		close(fd);
	db->torn = 1;	/* a part may have been written: end it first */
	return -1;
}

void
uidl_clear_marks(struct uidl_db *db)
{
	int i;

	for (i = 0; i < db->n; i++)
		db->rec[i].mark = 0;
}

int
uidl_prune(struct uidl_db *db, struct err *e)
{
	int i, j, pending = 0;

	for (i = j = 0; i < db->n; i++) {
		if (!db->rec[i].mark)
			continue;
		pending += db->rec[i].pend;
		db->rec[j++] = db->rec[i];
	}
	if (j == db->n && !db->dirty)
		return 0;
	db->n = j;
	db->pending = pending;
	db->dirty = 1;
	reindex(db);
	return rewrite(db, e);
}
