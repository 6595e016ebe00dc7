/*
 * uidl.h — the ledger of UIDLs already delivered (or deliberately left on
 * the server), per account: STATE_DIR/ACCOUNT.uidl.
 *
 * The file is a list of records "UIDL FIRST_SEEN FLAGS CHECK\n" appended
 * and fsync'd in groups (uidl_commit), and rewritten atomically
 * (file_replace) when pruning.  A torn or garbage last record is ignored.
 * A UIDL is data, never a path.  Only UIDLs of 1..70 bytes in 0x21..0x7e
 * are accepted (RFC 1939).  The set lives in an array with an
 * open-addressing index, sized at load and grown by doubling up to the cap
 * (UIDL_MAX), which it reports when hit ("more than 65536 UIDLs in the
 * ledger", EX_UNAVAILABLE).  Only a prune's rewrite allocates besides
 * (one buffer for the new file, freed before it returns).
 *
 * Records are marked (r->mark = 1) when loaded or put; a caller walking a
 * complete listing calls uidl_clear_marks(), marks what the server still
 * has, then uidl_prune().  A record updated by uidl_put (new flags, older
 * first_seen) is appended again at the next commit; on load a later record
 * for the same UIDL ORs its flags in and keeps the oldest first_seen.
 */
#ifndef UIDL_H
#define UIDL_H

#include "tern.h"

#define UIDL_LEN_MAX	70
#define UIDL_MAX	65536		/* UIDLs remembered per account */

enum {
	UIDL_F_DELIVERED = 1,		/* delivered locally */
	UIDL_F_TOOBIG = 2,		/* over max_size: left, logged once */
	UIDL_F_DELETED = 4		/* DELE acknowledged */
};

struct uidl_rec {
	char uidl[UIDL_LEN_MAX + 1];
	long long first_seen;		/* unix time */
	int flags;
	int mark;			/* in the current listing */
	int pend;			/* to append at the next commit */
};

struct uidl_db {
	char path[CONF_STR_MAX + 64];
	struct uidl_rec *rec;		/* cap entries, allocated at load */
	int cap, n;
	int *slot;			/* open-addressing index into rec */
	int nslot;
	int pending;			/* records added since last commit */
	int dirty;			/* needs a rewrite (prune) */
	int torn;			/* file ends in a partial record */
	int bad;			/* bad records skipped at load */
};

/* 1 when s[0..n) is an acceptable UIDL, else 0. */
int uidl_valid(const char *s, size_t n);

/* Load STATE_DIR/ACCOUNT.uidl (absent = empty).  Torn tail ignored (and
 * cut off by a newline at the next commit); bad records skipped and
 * counted in db->bad.  EX_IOERR when unreadable, EX_UNAVAILABLE over the
 * cap, EX_SOFTWARE on allocation failure. */
int uidl_load(struct uidl_db *db, const char *state_dir, const char *account,
    struct err *e);
void uidl_free(struct uidl_db *db);

/* The record for `uidl`, or NULL. */
struct uidl_rec *uidl_find(struct uidl_db *db, const char *uidl);

/* Add or update a record in memory (flags are OR-ed in); -1 and e set
 * when the cap is hit. */
int uidl_put(struct uidl_db *db, const char *uidl, long long first_seen,
    int flags, struct err *e);

/* Append the records put since the last commit and fsync the file (and
 * its directory when the file is new); a rewrite when a prune's rewrite
 * failed.  EX_IOERR / EX_CANTCREAT naming the path. */
int uidl_commit(struct uidl_db *db, struct err *e);

/* Forget UIDLs not marked (r->mark) in a complete server listing, and
 * rewrite the file atomically when anything was dropped. */
void uidl_clear_marks(struct uidl_db *db);
int uidl_prune(struct uidl_db *db, struct err *e);

#endif
