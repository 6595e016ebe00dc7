/*
 * t_uidl.c — the UIDL ledger: validity, load/put/commit/reload with exact
 * file bytes, merging of repeated records, a torn tail at every byte
 * offset, bad records in the middle, the cap, and prune's rewrite.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "uidl.h"
#include "t.h"

static char tdir[64];
static char lpath[128];		/* TDIR/acct.uidl */

/* The three records of the reference ledger, each "UIDL FS FL CHECK\n"
 * with the check computed independently (FNV-1a 32). */
#define R1 "abc 1700000000 1 9615fb1a\n"
#define R2 "../../x 1700000001 5 704c68f3\n"
#define R3 "ZZ 5 2 5cf301c8\n"

static void
put_file(const void *buf, size_t n)
{
	int fd;

	fd = open(lpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, n) != (ssize_t)n) {
		perror(lpath);
		exit(1);
	}
	close(fd);
}

static size_t
get_file(char *buf, size_t cap)
{
	ssize_t n;
	int fd;

	if ((fd = open(lpath, O_RDONLY)) < 0)
		return (size_t)-1;
	n = read(fd, buf, cap - 1);
	close(fd);
	if (n < 0)
		return (size_t)-1;
	buf[n] = '\0';
	return (size_t)n;
}

static int
entries(const char *dir)
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

static void
test_valid(void)
{
	static const struct {
		const char *s;
		int len;	/* -1: strlen */
		int want;
	} v[] = {
		{ "a", -1, 1 }, { "../../x", -1, 1 }, { "~!", -1, 1 },
		{ "/etc/passwd", -1, 1 }, { "a b", -1, 0 }, { "", -1, 0 },
		{ "a\x01", -1, 0 }, { "a\x7f", -1, 0 }, { "a\t", -1, 0 },
		{ "a\x80", -1, 0 }, { "a\nb", -1, 0 }, { "a\0b", 3, 0 },
	};
	char s[80], name[64];
	size_t i;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(name, sizeof name, "uidl_valid #%zu", i);
		T_EQ_INT(uidl_valid(v[i].s, v[i].len < 0 ? strlen(v[i].s) :
		    (size_t)v[i].len), v[i].want, name);
	}
	memset(s, 'u', sizeof s);
	T_EQ_INT(uidl_valid(s, 70), 1, "uidl_valid 70 chars");
	T_EQ_INT(uidl_valid(s, 71), 0, "uidl_valid 71 chars");
}

static void
test_basic(void)
{
	struct uidl_db db;
	struct uidl_rec *r;
	struct err e;
	char buf[4096], u71[72];

	unlink(lpath);
	err_clear(&e);
	T_EQ_INT(uidl_load(&db, tdir, "acct", &e), 0, "load absent");
	T_EQ_INT(db.n, 0, "load absent: empty");
	T_EQ_STR(db.path, lpath, "ledger path");
	T_OK(uidl_find(&db, "abc") == NULL, "find in empty");
	T_EQ_INT(uidl_put(&db, "abc", 1700000000, UIDL_F_DELIVERED, &e), 0,
	    "put abc");
	T_EQ_INT(uidl_put(&db, "../../x", 1700000001,
	    UIDL_F_DELIVERED | UIDL_F_DELETED, &e), 0, "put ../../x");
	T_EQ_INT(uidl_put(&db, "ZZ", 5, UIDL_F_TOOBIG, &e), 0, "put ZZ");
	T_EQ_INT(db.pending, 3, "3 pending");
	T_EQ_INT(uidl_put(&db, "abc", 1700000009, UIDL_F_DELIVERED, &e), 0,
	    "put abc again");
	T_EQ_INT(db.pending, 3, "unchanged put adds nothing");

	T_EQ_INT(uidl_put(&db, "a b", 1, 1, &e), -1, "put rejects \"a b\"");
	T_EQ_INT(e.ex, EX_PROTOCOL, "put invalid: EX_PROTOCOL");
	err_clear(&e);
	T_EQ_INT(uidl_put(&db, "", 1, 1, &e), -1, "put rejects \"\"");
	err_clear(&e);
	memset(u71, 'u', 71);
	u71[71] = '\0';
	T_EQ_INT(uidl_put(&db, u71, 1, 1, &e), -1, "put rejects 71 chars");
	err_clear(&e);
	T_EQ_INT(uidl_put(&db, "a\x01", 1, 1, &e), -1,
	    "put rejects control byte");
	err_clear(&e);
	T_OK(uidl_find(&db, u71) == NULL, "find 71 chars: NULL");
	T_EQ_INT(db.n, 3, "invalid puts added nothing");

	T_EQ_INT(uidl_commit(&db, &e), 0, "commit");
	T_EQ_INT(db.pending, 0, "nothing pending after commit");
	get_file(buf, sizeof buf);
	T_EQ_STR(buf, R1 R2 R3, "file bytes after commit");
	T_EQ_INT(uidl_commit(&db, &e), 0, "empty commit");
	get_file(buf, sizeof buf);
	T_EQ_STR(buf, R1 R2 R3, "empty commit writes nothing");
	/* The UIDL "../../x" is data: the directory holds only the ledger. */
	T_EQ_INT(entries(tdir), 1, "no path made from a UIDL");
	uidl_free(&db);

	T_EQ_INT(uidl_load(&db, tdir, "acct", &e), 0, "reload");
	T_EQ_INT(db.n, 3, "reload: 3 records");
	T_EQ_INT(db.bad, 0, "reload: none bad");
	T_EQ_INT(db.torn, 0, "reload: not torn");
	r = uidl_find(&db, "../../x");
	T_OK(r != NULL, "reload: ../../x found");
	if (r != NULL) {
		T_EQ_INT(r->first_seen, 1700000001, "../../x first_seen");
		T_EQ_INT(r->flags, 5, "../../x flags");
		T_EQ_INT(r->mark, 1, "loaded records are marked");
	}
	r = uidl_find(&db, "ZZ");
	T_OK(r != NULL && r->flags == UIDL_F_TOOBIG && r->first_seen == 5,
	    "reload: ZZ");
	T_OK(uidl_find(&db, "zz") == NULL, "UIDLs are case-sensitive");

	/* An update (flag OR, older first_seen) is appended again. */
	T_EQ_INT(uidl_put(&db, "ZZ", 3, UIDL_F_DELETED, &e), 0, "update ZZ");
	T_EQ_INT(db.pending, 1, "update pending");
	r = uidl_find(&db, "ZZ");
	T_OK(r != NULL && r->flags == 6 && r->first_seen == 3,
	    "update in memory");
	T_EQ_INT(uidl_commit(&db, &e), 0, "commit update");
	get_file(buf, sizeof buf);
	T_EQ_STR(buf, R1 R2 R3 "ZZ 3 6 3a219bbe\n", "update appended");
	uidl_free(&db);
	T_EQ_INT(uidl_load(&db, tdir, "acct", &e), 0, "reload after update");
	T_EQ_INT(db.n, 3, "still 3 records");
	r = uidl_find(&db, "ZZ");
	T_OK(r != NULL && r->flags == 6 && r->first_seen == 3,
	    "update merged on load");
	uidl_free(&db);

	/* A later record with a newer first_seen keeps the older one. */
	put_file(R3 "ZZ 9 1 a4589e15\n", strlen(R3) + 16);
	T_EQ_INT(uidl_load(&db, tdir, "acct", &e), 0, "load merge");
	r = uidl_find(&db, "ZZ");
	T_OK(r != NULL && r->first_seen == 5 && r->flags == 3,
	    "merge: oldest first_seen, flags OR-ed");
	T_EQ_INT(db.bad, 0, "merge: none bad");
	uidl_free(&db);
}

static void
test_torn(void)
{
	static const char full[] = R1 R2 R3;
	size_t k, n = strlen(full), lines;
	struct uidl_db db;
	struct err e;
	char name[64];
	int ok_n = 1, ok_torn = 1, ok_bad = 1, ok_rc = 1;

	for (k = 0; k <= n; k++) {
		put_file(full, k);
		err_clear(&e);
		if (uidl_load(&db, tdir, "acct", &e) != 0)
			ok_rc = 0;
		lines = (k >= strlen(R1)) + (k >= strlen(R1 R2)) +
		    (k >= strlen(R1 R2 R3));
		if ((size_t)db.n != lines) {
			printf("torn at %zu: %d records, want %zu\n", k, db.n,
			    lines);
			ok_n = 0;
		}
		if (db.torn != (k != 0 && k != strlen(R1) &&
		    k != strlen(R1 R2) && k != n))
			ok_torn = 0;
		if (db.bad != 0)
			ok_bad = 0;
		if (lines >= 1 && uidl_find(&db, "abc") == NULL)
			ok_n = 0;
		if (lines < 2 && uidl_find(&db, "../../x") != NULL)
			ok_n = 0;
		uidl_free(&db);
	}
	T_OK(ok_rc, "torn tail: every offset loads");
	T_OK(ok_n, "torn tail: exactly the complete records");
	T_OK(ok_torn, "torn tail: flagged");
	T_OK(ok_bad, "torn tail: not counted bad");

	/* After a torn load, the next commit starts on a new line: the new
	 * record survives, the fragment is one bad line. */
	for (k = strlen(R1) + 1; k < strlen(R1 R2) - 1; k += 7) {
		put_file(full, k);
		err_clear(&e);
		uidl_load(&db, tdir, "acct", &e);
		uidl_put(&db, "new1", 42, 1, &e);
		snprintf(name, sizeof name, "torn %zu: commit", k);
		T_EQ_INT(uidl_commit(&db, &e), 0, name);
		uidl_free(&db);
		uidl_load(&db, tdir, "acct", &e);
		snprintf(name, sizeof name, "torn %zu: new record kept", k);
		T_OK(uidl_find(&db, "new1") != NULL &&
		    uidl_find(&db, "abc") != NULL && db.n == 2, name);
		snprintf(name, sizeof name, "torn %zu: fragment bad", k);
		T_EQ_INT(db.bad, 1, name);
		uidl_free(&db);
	}
}

static void
test_bad(void)
{
	static const struct {
		const char *name;
		const char *mid;	/* between R1 and R3 */
		size_t len;		/* 0: strlen */
	} v[] = {
		{ "bad check", "../../x 1700000001 5 704c68f4\n", 0 },
		{ "flags changed", "../../x 1700000001 7 704c68f3\n", 0 },
		{ "check short", "../../x 1700000001 5 704c68f\n", 0 },
		{ "extra field", "a 1 1 1 00000000\n", 0 },
		{ "missing field", "a 1 5cf301c8\n", 0 },
		{ "invalid uidl", "a\x01 1 1 00000000\n", 0 },
		{ "garbage", "\x00\xff\x01 binary junk\n", 16 },
		{ "long line", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    " 1 1 00000000\n", 0 },
		{ "non-digit time", "ZZ 5x 2 5cf301c8\n", 0 },
	};
	char buf[512], name[80];
	struct uidl_db db;
	struct err e;
	size_t i, n;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		n = v[i].len ? v[i].len : strlen(v[i].mid);
		memcpy(buf, R1, strlen(R1));
		memcpy(buf + strlen(R1), v[i].mid, n);
		memcpy(buf + strlen(R1) + n, R3, strlen(R3));
		put_file(buf, strlen(R1) + n + strlen(R3));
		err_clear(&e);
		snprintf(name, sizeof name, "%s: loads", v[i].name);
		T_EQ_INT(uidl_load(&db, tdir, "acct", &e), 0, name);
		snprintf(name, sizeof name, "%s: neighbours kept", v[i].name);
		T_OK(db.n == 2 && uidl_find(&db, "abc") != NULL &&
		    uidl_find(&db, "ZZ") != NULL, name);
		snprintf(name, sizeof name, "%s: counted", v[i].name);
		T_EQ_INT(db.bad, 1, name);
		uidl_free(&db);
	}
}

static void
test_prune(void)
{
	static const char full[] = R1 R2 R3;
	struct uidl_db db;
	struct uidl_rec *r;
	struct stat st0, st1;
	struct err e;
	char buf[4096];

	put_file(full, strlen(full));
	err_clear(&e);
	uidl_load(&db, tdir, "acct", &e);

	/* Everything still listed: nothing is rewritten. */
	stat(lpath, &st0);
	uidl_clear_marks(&db);
	uidl_find(&db, "abc")->mark = 1;
	uidl_find(&db, "../../x")->mark = 1;
	uidl_find(&db, "ZZ")->mark = 1;
	T_EQ_INT(uidl_prune(&db, &e), 0, "prune nothing");
	stat(lpath, &st1);
	T_OK(st0.st_ino == st1.st_ino, "prune nothing: file untouched");

	/* "../../x" left the server: dropped and the file rewritten. */
	uidl_clear_marks(&db);
	uidl_find(&db, "abc")->mark = 1;
	uidl_find(&db, "ZZ")->mark = 1;
	uidl_put(&db, "fresh", 77, 1, &e);	/* put marks it */
	T_EQ_INT(uidl_prune(&db, &e), 0, "prune");
	T_EQ_INT(db.n, 3, "prune: 3 left");
	T_OK(uidl_find(&db, "../../x") == NULL, "prune: dropped");
	r = uidl_find(&db, "fresh");
	T_OK(r != NULL && r->first_seen == 77, "prune: fresh kept");
	T_EQ_INT(db.pending, 0, "prune wrote the pending record");
	get_file(buf, sizeof buf);
	T_EQ_STR(buf, R1 R3 "fresh 77 1 30f62b80\n", "prune: file bytes");
	T_EQ_INT(entries(tdir), 1, "prune: no temp file left");
	uidl_free(&db);
	uidl_load(&db, tdir, "acct", &e);
	T_EQ_INT(db.n, 3, "prune: reload");
	uidl_clear_marks(&db);
	T_EQ_INT(uidl_prune(&db, &e), 0, "prune all");
	get_file(buf, sizeof buf);
	T_EQ_STR(buf, "", "prune all: empty file");
	uidl_free(&db);
}

static void
test_cap(void)
{
	struct uidl_db db;
	struct err e;
	char u[32];
	int i, ok = 1;

	unlink(lpath);
	err_clear(&e);
	uidl_load(&db, tdir, "acct", &e);
	for (i = 0; i < UIDL_MAX; i++) {
		snprintf(u, sizeof u, "uidl-%d", i);
		if (uidl_put(&db, u, i, 1, &e) != 0)
			ok = 0;
	}
	T_OK(ok, "cap: 65536 puts");
	T_EQ_INT(db.n, UIDL_MAX, "cap: n");
	T_EQ_INT(uidl_put(&db, "one-more", 1, 1, &e), -1, "cap: over");
	T_EQ_INT(e.ex, EX_UNAVAILABLE, "cap: EX_UNAVAILABLE");
	T_OK(strstr(e.msg, "more than 65536 UIDLs in the ledger") != NULL,
	    "cap: message");
	err_clear(&e);
	T_EQ_INT(uidl_put(&db, "uidl-7", 1, 2, &e), 0,
	    "cap: update still works");
	T_EQ_INT(uidl_commit(&db, &e), 0, "cap: commit");
	uidl_free(&db);
	T_EQ_INT(uidl_load(&db, tdir, "acct", &e), 0, "cap: reload");
	T_EQ_INT(db.n, UIDL_MAX, "cap: reload n");
	ok = 1;
	for (i = 0; i < UIDL_MAX; i += 997) {
		snprintf(u, sizeof u, "uidl-%d", i);
		if (uidl_find(&db, u) == NULL)
			ok = 0;
	}
	T_OK(ok, "cap: reload finds");
	T_OK(uidl_find(&db, "uidl-7") != NULL &&
	    uidl_find(&db, "uidl-7")->flags == 3 &&
	    uidl_find(&db, "uidl-7")->first_seen == 1, "cap: merged update");
	uidl_free(&db);
}

static void
test_errors(void)
{
	struct uidl_db db;
	struct err e;
	char want[192];

	err_clear(&e);
	T_EQ_INT(uidl_load(&db, "/nonexistent-tern-dir", "acct", &e), 0,
	    "load in missing dir: empty");
	uidl_put(&db, "a", 1, 1, &e);
	T_EQ_INT(uidl_commit(&db, &e), -1, "commit in missing dir");
	T_EQ_INT(e.ex, EX_CANTCREAT, "commit error: EX_CANTCREAT");
	snprintf(want, sizeof want, "%s",
	    "/nonexistent-tern-dir/acct.uidl: No such file or directory");
	T_EQ_STR(e.msg, want, "commit error names the path");
	T_EQ_INT(db.pending, 1, "commit error: still pending");
	uidl_free(&db);
}

int
main(void)
{
	snprintf(tdir, sizeof tdir, "/tmp/t_uidl.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(lpath, sizeof lpath, "%s/acct.uidl", tdir);
	test_valid();
	test_basic();
	test_torn();
	test_bad();
	test_prune();
	test_cap();
	test_errors();
	unlink(lpath);
	if (rmdir(tdir) != 0)
		printf("FAIL cleanup %s\n", tdir);
	T_DONE();
}
