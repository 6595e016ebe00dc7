/*
 * maildir.h — local delivery of one fetched message, durably: into a
 * Maildir (tmp/ → fsync → link or rename into new/) or to an MDA (a
 * command run through /bin/sh -c with the message on stdin; exit 0 =
 * delivered).  Filters (SPEC §2 `config filter`: first match wins) pick a
 * Maildir++ folder (.Folder, created on demand) from the headers as they
 * stream past.
 *
 * Group commit: dlv_commit() closes the complete message in tmp/ and
 * queues it (at most DLV_PENDING_MAX); dlv_sync() makes the whole group
 * durable with one syncfs() of the Maildir's file system (and an
 * fdatasync of each file, cheap after it, so that a write-back error is
 * seen on every kernel), only then links each file into its new/, and
 * fsyncs every directory touched since the last sync.  So an fsync costs
 * a group, not a message, and nothing incomplete ever stands in new/.  A
 * message counts as delivered (UIDL record, DELE) only after the
 * dlv_sync() that follows its commit.  For an MDA, dlv_commit() returns
 * only after the MDA exited 0, so the message is delivered at that point.
 *
 * Input to dlv_write() is the message with LF line ends (the POP3 body
 * decoder has already undone dot-stuffing and CRLF).  Memory is fixed.
 *
 * Files: the tmp file is MAILDIR/tmp/NAME (or STATE_DIR/tmp/NAME for an
 * MDA), NAME = "SECS.M<usec>P<pid>Q<n>.HOST"; the delivered file is
 * DIR/new/NAME,S=SIZE where DIR is MAILDIR, or MAILDIR/.FOLDER for a
 * filter match (a '/' in the folder becomes '.', as Maildir++ nests;
 * "INBOX" is MAILDIR itself).  A new folder gets tmp, new, cur and the
 * empty "maildirfolder" file, and its entry in MAILDIR is synced too.
 *
 * Filters: each complete (unfolded) header is tested against the filters
 * that apply to the account (filter.account '' or the account's name):
 * the header name is compared case-insensitively and `contains` is a
 * case-insensitive substring of the value.  Only the header block is
 * scanned, each header line truncated to DLV_HDR_LINE_MAX bytes for
 * matching only.  First match wins in configuration order: the filter
 * with the lowest index that matches any header is chosen, whatever the
 * order of the headers in the message.
 *
 * MDA: /bin/sh -c MDA with stdin the spooled message, stdout on
 * /dev/null, stderr inherited (its complaints reach the user), in its own
 * process group (a timeout kills it and its children), with an
 * environment of PATH, HOME, TERN_ACCOUNT=name and, for a filter match,
 * TERN_FOLDER=folder.  Exit 0 = delivered; any other status, a signal or
 * the timeout is EX_TEMPFAIL and the message stays on the server.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>
#include "tern.h"

struct conf;
struct account;

#define DLV_TMP_STALE_S		(36 * 3600)	/* tmp/ files older: dead */
#define DLV_SWEEP_MAX		1000	/* tmp/ entries looked at per run */
#define DLV_SYNC_DIRS_MAX	8	/* distinct folders between syncs */
#define DLV_HDR_LINE_MAX	998	/* header line kept for filter matching */
#define DLV_PENDING_MAX		64	/* committed, waiting for dlv_sync */
#define DLV_NAME_MAX		128	/* unique base name */
#define DLV_WRITEBACK		(1L << 20)	/* write-back started every */

/* A message complete in tmp/, not yet durable, not yet in new/. */
struct dlv_pend {
	char name[DLV_NAME_MAX];	/* in MAILDIR/tmp */
	int fd;				/* still open: fdatasync at sync */
	int dir;			/* its new/ in dirty[] */
	long long size;
};

struct dlv {
	const struct conf *conf;
	const struct account *acct;
	int fd;				/* tmp file (maildir) or spool (mda) */
	char tmppath[CONF_STR_MAX + 64];
	char name[DLV_NAME_MAX];	/* unique base name */
	long long size;			/* bytes written */
	long long wb_done;		/* write-back started up to here */
	/* header scan, for filters */
	int in_body;
	int bol;			/* at the start of a header line */
	char hdr[DLV_HDR_LINE_MAX + 1];
	size_t hdrlen;
	int filter;			/* index of the matching filter, -1 */
	/* directories to fsync at the next dlv_sync */
	char dirty[DLV_SYNC_DIRS_MAX][CONF_STR_MAX + 16];
	int ndirty;
	struct dlv_pend pend[DLV_PENDING_MAX];
	int npend;
	char delivered[CONF_STR_MAX + 192];	/* final path, for logs */
};

/* Prepare d for account a (once per session); checks that the Maildir
 * exists or can be created (tmp, new, cur), or for an MDA creates
 * STATE_DIR/tmp.  EX_CANTCREAT / EX_IOERR (EX_CONFIG when the account has
 * neither maildir nor mda). */
int dlv_init(struct dlv *d, const struct conf *c, const struct account *a,
    struct err *e);

/* Start one message: create its tmp file. */
int dlv_begin(struct dlv *d, struct err *e);

/* Append message bytes (LF line ends), any chunking.  On a write error
 * (EX_IOERR) the tmp file is already removed. */
int dlv_write(struct dlv *d, const void *buf, size_t n, struct err *e);

/* End the message: close it and queue it for the next dlv_sync, its
 * folder chosen and created (dlv_sync first when DLV_PENDING_MAX are
 * queued); or run the MDA and wait for it, bounded by timeout_s.  On error
 * nothing is left in new/ and the tmp file is removed. */
int dlv_commit(struct dlv *d, int timeout_s, struct err *e);

/* Drop the message in progress (tmp file removed). */
void dlv_abort(struct dlv *d);

/* Make every message committed since the last call durable and move it
 * into new/ (d->delivered names the last one), then fsync every directory
 * touched (dlv_commit also calls it when DLV_SYNC_DIRS_MAX distinct
 * directories are dirty).  On error the messages not yet in new/ are
 * removed from tmp/ (they will be fetched again): new/ holds only
 * complete files, some of the group perhaps. */
int dlv_sync(struct dlv *d, struct err *e);

/* Forget the queued messages without delivering them (tmp files
 * removed); for a session torn down without its last dlv_sync. */
void dlv_drop(struct dlv *d);

#endif
