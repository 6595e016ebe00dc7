/*
 * msg.h — an outgoing message as `tern send` / `sendmail` receives it
 * (SPEC §1): the sendmail command line, the envelope, and the one pass
 * over the message on stdin that spools it.
 *
 * msg_args() parses the sendmail flags.  msg_begin() validates the sender
 * and the recipients of the command line into an envelope before a byte
 * of the message is read.  msg_feed() (or msg_read() on an fd) then
 * streams the message to a sink in fixed chunks, so memory does not grow
 * with its size: it scans the header block (To/Cc/Bcc with -t, Date,
 * Message-ID, From), drops every Bcc field with its continuation lines,
 * and notes 8-bit bytes.  msg_finish() ends the pass: it checks the
 * recipients found with -t and builds the header lines to add in front of
 * the message (Date, Message-ID and From, each only when missing) into
 * env->head.  The message itself is spooled as it came (line endings are
 * left alone; smtp.c normalises them to CRLF on the wire), except that a
 * blank line is inserted where a line that is not a header ends the
 * header block without one.  The full message is env->head followed by
 * the spooled bytes.
 *
 * Addresses (envelope sender, every recipient) are refused with
 * EX_DATAERR before anything is queued when they hold a control byte,
 * a space, '<' or '>', are not local@domain (or "postmaster"), are not
 * valid UTF-8, or exceed RFC 5321's lengths (local part 64, domain 255,
 * path 256, so an address of at most 254 bytes).  Errors: EX_USAGE
 * (command line), EX_DATAERR (message or address), EX_CONFIG (no sender
 * configured), and whatever the sink reports.
 */
#ifndef MSG_H
#define MSG_H

#include <stddef.h>
#include "tern.h"

#define MSG_ADDR_MAX	254	/* one address: a path of 256 with <> */
#define MSG_LOCAL_MAX	64	/* its local part */
#define MSG_DOMAIN_MAX	255	/* its domain */
#define MSG_RCPT_MAX	1000	/* recipients of one message */
#define MSG_POOL_MAX	65536	/* bytes of all its recipients */
#define MSG_NAME_MAX	256	/* -F display name */
#define MSG_HEAD_MAX	2048	/* header lines added in front */
#define MSG_FIELD_MAX	128	/* a header field name we look at */
#define MSG_CHUNK	8192	/* staging for the header block's bytes */
#define MSG_READ	65536	/* read size; body runs go to the sink whole */

enum rcpt_status {
	RCPT_PENDING,		/* not yet delivered: send it (again) */
	RCPT_DONE,		/* the server took the message for it */
	RCPT_FAILED,		/* refused permanently */
	RCPT_ACCEPTED		/* RCPT got 2xx, data not yet answered */
};

#define ENV_8BIT	0x1	/* bytes >= 0x80 in the message */
#define ENV_UTF8	0x2	/* an address is not ASCII: needs SMTPUTF8 */

struct rcpt {
	unsigned int off;	/* address: env->pool + off, NUL-terminated */
	unsigned short code;	/* last reply to it, 0 = none yet */
	unsigned char status;	/* enum rcpt_status */
};

/* The envelope: about 74 KB, so callers keep it static or allocate it
 * once, never on the stack. */
struct envelope {
	char account[CONF_NAME_MAX];
	char from[MSG_ADDR_MAX + 1];	/* '' = null reverse-path <> */
	long long created;		/* unix time */
	int flags;			/* ENV_8BIT, ENV_UTF8 */
	long long size;			/* headlen + spooled bytes */
	char head[MSG_HEAD_MAX];	/* lines to send before the spool */
	size_t headlen;
	int nrcpt;
	struct rcpt rcpt[MSG_RCPT_MAX];
	char pool[MSG_POOL_MAX];
	size_t poollen;
};

/* The sendmail command line. */
struct msg_opts {
	int t;				/* -t */
	int from_set;			/* -f given ('' = null sender) */
	char from[MSG_ADDR_MAX + 1];
	char name[MSG_NAME_MAX];	/* -F, '' = none */
	char account[CONF_NAME_MAX];	/* -a, '' = default account */
	char *const *rcpt;		/* the remaining arguments */
	int nrcpt;
};

/* Parse argv[1..argc) (argv[0] is "send" or "sendmail"): -t, -f ADDR,
 * -fADDR, -F NAME, -i, -oi, -a ACCOUNT, "--"; other -o… and -B… are
 * ignored; t and i may be grouped (-ti).  Everything else starting with
 * '-' is EX_USAGE, as is no recipient without -t.  -f and -F are checked
 * here (EX_DATAERR).  o->rcpt points into argv. */
int msg_args(struct msg_opts *o, int argc, char *const argv[],
    struct err *e);

/* A sink for the spooled bytes: 0, or -1 with e set. */
typedef int (*msg_sink)(void *ctx, const char *buf, size_t n,
    struct err *e);

enum { HS_BOL, HS_CR, HS_NAME, HS_VALUE, HS_BODY };
enum { FLD_OTHER, FLD_TO, FLD_CC, FLD_BCC, FLD_DATE, FLD_MSGID, FLD_FROM };

/* Address-list parser state (RFC 5322 mailbox lists and groups), fed one
 * byte at a time so that a folded field of any length costs nothing. */
struct addrlist {
	int st;				/* normal, quote, comment… */
	int ret;			/* state to return to from a comment */
	int depth;			/* comment nesting */
	int angle;			/* inside <…> */
	int had_angle;			/* this mailbox had its <…> */
	int gap;			/* white space after some text */
	int words;			/* text after a gap: a bare phrase */
	int group;			/* inside "name: …;" */
	int over;			/* the address did not fit */
	size_t len;
	char buf[MSG_ADDR_MAX + 2];
};

struct msg {
	const struct msg_opts *opt;
	struct envelope *env;
	msg_sink sink;
	void *ctx;
	/* header scanner */
	int hs;				/* HS_* */
	int field;			/* FLD_* of the current field */
	int drop;			/* inside a Bcc field: not spooled */
	int addrs;			/* feed it to the list parser */
	int crlf;			/* the first line ended in CRLF */
	int eol_seen;
	int prev_cr;			/* the last header byte was CR */
	int nfields;			/* header fields seen */
	int name_ws;			/* white space after the name */
	int has_date, has_msgid, has_from;
	size_t namelen;
	char name[MSG_FIELD_MAX + 2];	/* held until its ':' */
	struct addrlist al;
	char hdr_from[MSG_ADDR_MAX + 1];	/* for an added From: */
	/* output */
	long long spooled;
	size_t olen;
	char obuf[MSG_CHUNK];
	char ibuf[MSG_READ];		/* msg_read */
};

/* Record the sender (-f, else acct_from) and the command-line recipients
 * in env, which is cleared first.  EX_DATAERR for a bad address,
 * EX_CONFIG when there is no sender at all. */
int msg_begin(struct msg *m, const struct msg_opts *o, struct envelope *env,
    const char *account, const char *acct_from, msg_sink sink, void *ctx,
    struct err *e);
/* Stream n bytes of the message through the scanner to the sink. */
int msg_feed(struct msg *m, const char *buf, size_t n, struct err *e);
/* Read fd to its end in MSG_READ reads, feeding them.  EX_IOERR. */
int msg_read(struct msg *m, int fd, struct err *e);
/* End of the message: flush the sink, check that there are recipients,
 * build env->head (Date from `now`, Message-ID <id@domain of the sender>,
 * From from the sender and -F) and env->size, env->created. */
int msg_finish(struct msg *m, long long now, const char *id, struct err *e);

/* Envelope helpers. */
const char *msg_rcpt(const struct envelope *env, int i);
/* Check an address (see above); sets *utf8 when it is not ASCII. */
int msg_addr_check(const char *a, size_t n, int *utf8, struct err *e);
/* Check and append a recipient; an exact duplicate is dropped. */
int msg_add_rcpt(struct envelope *env, const char *a, size_t n,
    struct err *e);

/* Address-list parser: feed bytes (no CR/LF), then end; every complete
 * address goes to msg_add_rcpt(env, …). */
void msg_al_init(struct addrlist *al);
int msg_al_feed(struct addrlist *al, struct envelope *env, const char *p,
    size_t n, struct err *e);
int msg_al_end(struct addrlist *al, struct envelope *env, struct err *e);

/* RFC 5322 date in UTC: "Sun, 22 Nov 2026 01:20:00 +0000" (buf >= 32). */
void msg_date(long long t, char *buf, size_t cap);

#endif
