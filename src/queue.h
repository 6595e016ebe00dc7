/*
 * queue.h — the outgoing spool under main.spool_dir (SPEC §3: an outgoing
 * message leaves the queue only after the server's final 2xx to the data).
 *
 * Layout:
 *	spool_dir/tmp/ID	being written by `tern send`; never sent
 *	spool_dir/q/ID		queued messages
 *	spool_dir/q/ID.meta	attempts, next try, last error, recipients
 *	spool_dir/failed/ID	given up (permanent failure, lifetime
 *				over), kept with its .meta holding why
 *	spool_dir/corrupt/ID	a damaged file, moved aside, never sent
 *
 * A queue file is self-validating:
 *	the message bytes (as msg.c spooled them)
 *	the envelope: text lines "key=value" (account, from, created, flags,
 *	    size, the header lines to send first, one rcpt= per recipient)
 *	a fixed-length trailer: the two lengths and a 64-bit checksum of
 *	    everything before it, named in it: w64 (words; written now) or
 *	    fnv (FNV-1a over bytes; files of earlier builds, still read)
 * The envelope comes after the message because with -t it is known only
 * once the header block has been read; writing it last avoids a copy.
 * A sender reads the trailer and envelope, then streams the message from
 * the start in chunks (queue_read).  A file whose trailer, lengths,
 * checksum or envelope do not add up is moved to corrupt/ by queue_open.
 *
 * The queue file is never rewritten: what changes (attempts, next try,
 * last error, each recipient's status and last reply code) lives in
 * ID.meta, replaced atomically with file_replace and closed by its own
 * check line.  A missing .meta means "never tried".  Retries back off:
 * 5 minutes after the first failure, doubling, at most 3 hours apart;
 * once queue_lifetime has passed since the message was queued, the next
 * deferral (or queue_open) moves it to failed/ instead.
 *
 * Every error names its path.  EX_CANTCREAT when the spool cannot be
 * written (enqueue), EX_IOERR when a queued file cannot be read, moved or
 * removed.
 */
#ifndef QUEUE_H
#define QUEUE_H

#include <stdint.h>
#include "tern.h"
#include "msg.h"

#define QUEUE_ID_MAX		64	/* an ID, NUL included */
#define QUEUE_WRITEBACK		(1L << 20)	/* write-back started every */
#define QUEUE_PATH_MAX		(CONF_STR_MAX + 96)
#define QUEUE_META_MAX		8192	/* one .meta file */
#define QUEUE_ERR_MAX		256	/* last error kept in .meta */
#define QUEUE_LINE_MAX		(4 * MSG_HEAD_MAX + 16)	/* one line */
#define QUEUE_ENV_MAX		(4 * MSG_POOL_MAX + 8 * MSG_RCPT_MAX + \
				 QUEUE_LINE_MAX + 1024)	/* envelope bytes,
				   every address byte escaped at worst */
#define QUEUE_RETRY_FIRST	300	/* seconds: the first retry … */
#define QUEUE_RETRY_MAX		10800	/* doubling up to 3 hours */

struct queue {
	char dir[CONF_STR_MAX];		/* spool_dir */
	long long lifetime;		/* seconds */
	unsigned int counter;		/* for IDs */
	char meta[QUEUE_META_MAX + 1];	/* .meta scratch */
	char line[QUEUE_LINE_MAX + 1];	/* envelope line scratch */
	char rbuf[8192];		/* read / write scratch */
	struct envelope env;		/* queue_list scratch */
};

/* The queue file's checksum, fed in pieces of any length: 64-bit words
 * (little-endian), the last one zero-padded (queue.c). */
struct queue_sum {
	uint64_t h;
	uint64_t w;			/* the word being filled */
	unsigned int n;			/* bytes in w */
};

/* An enqueue in progress: tmp/ID open for writing. */
struct queue_tx {
	int fd;
	char id[QUEUE_ID_MAX];
	char path[QUEUE_PATH_MAX];
	struct queue_sum sum;
	long long len;
	long long wb;			/* write-back started at this len */
	size_t blen;			/* staged in buf */
	char buf[4096];
};

/* A queued message opened for sending. */
struct queue_msg {
	int fd;				/* -1 when closed */
	char id[QUEUE_ID_MAX];
	struct envelope *env;		/* the caller's */
	long long body_len;		/* spooled bytes after env->head */
	long long pos;			/* queue_read position */
	int attempts;
	long long next, last;		/* next try, last try (unix) */
	char last_error[QUEUE_ERR_MAX];
	int meta_bad;			/* .meta was damaged and ignored */
	int rerr;			/* errno of a failed queue_read */
	char why[192];			/* CORRUPT/BUSY/EXPIRED: why */
};

/* What queue_open and the settle functions return (besides -1). */
enum {
	QUEUE_OK,		/* opened */
	QUEUE_CORRUPT,		/* damaged: moved to corrupt/ (h->why) */
	QUEUE_BUSY,		/* another process has it open */
	QUEUE_GONE,		/* no such message (sent meanwhile) */
	QUEUE_EXPIRED,		/* lifetime over: moved to failed/ */
	QUEUE_DONE,		/* sent: removed */
	QUEUE_FAILED,		/* moved to failed/ */
	QUEUE_DEFERRED		/* kept for a later try */
};

/* One entry for `tern queue`. */
struct queue_entry {
	const char *id;
	const struct envelope *env;	/* valid during the callback only */
	long long file_size;
	int attempts;
	int npending, ndone, nfailed;
	long long next, last;
	const char *last_error;
	int corrupt;			/* the file does not validate */
	const char *why;		/* …because */
};

/* Set up; touches nothing on disk. */
void queue_init(struct queue *q, const char *spool_dir, long long lifetime);

/* Enqueue: begin creates spool_dir/tmp/ID (and the directories); write is
 * the msg_sink for msg.c; commit appends the envelope and trailer, fsyncs,
 * renames into q/ and fsyncs the directory.  On any error, abort. */
int queue_begin(struct queue *q, struct queue_tx *tx, long long now,
    struct err *e);
int queue_write(void *tx, const char *buf, size_t n, struct err *e);
int queue_commit(struct queue *q, struct queue_tx *tx,
    const struct envelope *env, struct err *e);
void queue_abort(struct queue_tx *tx);

/* Validate q/ID and load its envelope into env and its .meta into h (the
 * recipients' statuses go into env).  QUEUE_OK (h open, locked, positioned
 * at the start of the message), QUEUE_CORRUPT, QUEUE_BUSY, QUEUE_GONE,
 * QUEUE_EXPIRED, or -1 with e set. */
int queue_open(struct queue *q, const char *id, long long now,
    struct queue_msg *h, struct envelope *env, struct err *e);
/* The message to send: env->head, then the spooled bytes.  A source for
 * smtp.h: bytes read, 0 at the end, -1 on error (h->rerr). */
long queue_read(void *h, char *buf, size_t cap);
void queue_rewind(struct queue_msg *h);
/* Due for a try at `now`? */
int queue_due(const struct queue_msg *h, long long now);
void queue_close(struct queue_msg *h);

/* Outcomes; each closes h.  done: remove (after the final 2xx).  fail:
 * record `reason` and move to failed/.  defer: one more attempt, `reason`
 * as the last error, next try by the backoff; QUEUE_EXPIRED (moved to
 * failed/) once the lifetime is over, else QUEUE_DEFERRED.  settle: by
 * the recipients' statuses in h->env — any still pending (or accepted
 * without a final reply): defer; else any failed: fail; else done.
 * Returns QUEUE_DONE, QUEUE_FAILED, QUEUE_DEFERRED, QUEUE_EXPIRED or -1. */
int queue_done(struct queue *q, struct queue_msg *h, struct err *e);
int queue_fail(struct queue *q, struct queue_msg *h, const char *reason,
    struct err *e);
int queue_defer(struct queue *q, struct queue_msg *h, long long now,
    const char *reason, struct err *e);
int queue_settle(struct queue *q, struct queue_msg *h, long long now,
    const char *reason, struct err *e);

/* Seconds until the next try after `attempts` failed ones (≥ 1). */
long long queue_backoff(int attempts);

/* Call cb for every message in q/ (directory order; no locks taken,
 * nothing moved).  cb returns 0 to go on, -1 to stop.  Returns the count
 * of entries, or -1 with e set.  A missing spool is an empty queue. */
int queue_list(struct queue *q, int (*cb)(void *ctx,
    const struct queue_entry *qe), void *ctx, struct err *e);

#endif
