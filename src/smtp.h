/*
 * smtp.h — the SMTP client session as a pure state machine (OpenSMTPD
 * style: entering a state queues its command, the reply handler is one
 * switch on the state).  It never calls read/write/connect: the transport
 * feeds it the bytes the server sent (smtp_input) and sends the bytes it
 * queues (s->out).  Dialog tests and fuzzers drive it without sockets.
 *
 * Transport contract (the flush/send driver on top of net.c/tls.c):
 *   - after connect (and, for implicit TLS, after the handshake), call
 *     smtp_start();
 *   - whenever bytes arrive, smtp_input();
 *   - send s->out[0..s->outlen) and call smtp_consume(s, n) with the
 *     number of bytes the transport took (all or part); smtp_consume
 *     refills out (pipelined commands, message data), so keep sending
 *     while outlen > 0.  Every call below may queue bytes: check outlen
 *     after each.  out never holds more than SMTP_OUT_MAX bytes: that is
 *     the back-pressure, and memory does not depend on the message size;
 *   - for -v, out[secret_off .. secret_off + secret_len) is a credential
 *     (SASL response, password, token): trace it as "<redacted>".
 *     secret_len is 0 when out holds none.  While s->state is
 *     SMTP_ST_BODY or SMTP_ST_DOT, out holds message data;
 *   - when s->want_tls is set (STARTTLS got 220), smtp has stopped
 *     reading: if any byte arrived after the 220 line (s->injected set,
 *     or tls_pending_input() > 0) call smtp_abort(); otherwise start the
 *     TLS handshake on the same fd and call smtp_tls_ready() when it
 *     completes (EHLO is sent again; capabilities are forgotten);
 *   - when s->state is SMTP_ST_IDLE the session is ready for a message:
 *     open one (queue_open) and call smtp_send() with the queue_read
 *     source, or call smtp_quit();
 *   - after every call, smtp_finished() returns the envelope of a message
 *     whose outcome is known (once): s->result (enum smtp_result) and
 *     s->msg_reply say what happened, each recipient's status and reply
 *     code are in the envelope; queue_settle() then does the right thing.
 *     A message whose session dies before the final reply ends as
 *     SMTP_MSG_TEMP (it may have been delivered: it will be sent again);
 *   - on a timeout or a transport error call smtp_abort(); on EOF call
 *     smtp_eof() (an error unless QUIT was sent);
 *   - when s->done is set, close: s->fail and s->err say how the session
 *     ended.  Message outcomes are separate: a session can end OK with
 *     messages refused, or fail after some were sent.
 *
 * The message source (smtp_send): src(ctx, buf, cap) returns the bytes
 * read (≤ cap), 0 at the end, -1 on error.  It is read in SMTP_CHUNK
 * pieces as out has room and encoded on the way (smtp_encode: CR, LF and
 * CRLF all become CRLF, then a '.' starting a line is doubled, a final
 * CRLF is ensured and ".\r\n" ends the data), so no input can end the
 * data early: the wire holds exactly one CRLF "." CRLF per message.  A
 * source error aborts the session without ending the data, so a
 * truncated message is never delivered.
 *
 * Rules kept here (SPEC §3): no credential unless TLS is on or
 * allow_plaintext_auth; STARTTLS strict (not offered or refused: end the
 * session before any credential; bytes after the go-ahead: abort; EHLO
 * again after TLS); CRAM-MD5 only when named; auto picks XOAUTH2 (when a
 * token source is configured and offered), then PLAIN, then LOGIN.  HELO
 * only when EHLO gets 500 or 502.  A message larger than the server's
 * SIZE, or with a non-ASCII address for a server without SMTPUTF8, fails
 * permanently without being sent; an 8-bit message for a server without
 * 8BITMIME is sent anyway (s->note_8bit).  With PIPELINING, MAIL, every
 * RCPT and DATA go in one batch (as far as out holds them).  RSET after a
 * failed transaction, not after a successful one.
 *
 * Errors (s->fail, with a suggested exit code in s->err.ex):
 *   SMTP_FAIL_CONNECT  garbage, protocol error, over-long reply line,
 *                      unexpected close (75); a 5xx greeting or EHLO, or
 *                      a server that lacks what the configuration needs:
 *                      STARTTLS, an AUTH mechanism (69);
 *   SMTP_FAIL_AUTH     5xx to AUTH (77);
 *   SMTP_FAIL_TEMP     421 anywhere, 4xx to the greeting, EHLO, STARTTLS
 *                      or AUTH, a timeout (75);
 *   SMTP_FAIL_LOCAL    no credential (secret_get's error), the server
 *                      wants AUTH that the configuration does not allow
 *                      (78), the message source failed (74).
 */
#ifndef SMTP_H
#define SMTP_H

#include <stddef.h>
#include "tern.h"
#include "line.h"
#include "msg.h"

struct conf;
struct account;
struct server;

#define SMTP_OUT_MAX	16384	/* queued bytes: commands, a pipelined
				   batch, encoded message data */
#define SMTP_SECRET_MAX	8192	/* password or token, NUL included */
#define SMTP_CHUNK	4096	/* message bytes read from the source */
#define SMTP_REPLY_TEXT	256	/* reply kept for errors, the log */
#define SMTP_REPLY_LINES 100	/* lines in one multi-line reply */
#define SMTP_HELO_MAX	256	/* the EHLO argument */

enum smtp_fail {
	SMTP_OK,
	SMTP_FAIL_CONNECT,
	SMTP_FAIL_AUTH,
	SMTP_FAIL_TEMP,
	SMTP_FAIL_LOCAL
};

/* The outcome of one message. */
enum smtp_result {
	SMTP_MSG_NONE,		/* in progress */
	SMTP_MSG_SENT,		/* data got 2xx (see the recipients) */
	SMTP_MSG_TEMP,		/* try again later */
	SMTP_MSG_PERM		/* refused: do not try again */
};

/* s->state: the reply expected next. */
enum smtp_state {
	SMTP_ST_NONE,		/* before smtp_start */
	SMTP_ST_GREETING,
	SMTP_ST_EHLO,
	SMTP_ST_HELO,
	SMTP_ST_STARTTLS,
	SMTP_ST_TLS,		/* waiting for the transport's handshake */
	SMTP_ST_AUTH,		/* AUTH and its SASL exchange */
	SMTP_ST_IDLE,		/* nothing in flight: smtp_send or quit */
	SMTP_ST_MAIL,		/* then RCPT, DATA: maybe pipelined */
	SMTP_ST_RCPT,
	SMTP_ST_DATA,
	SMTP_ST_BODY,		/* sending the message data */
	SMTP_ST_DOT,		/* waiting for the reply to the data */
	SMTP_ST_RSET,
	SMTP_ST_QUIT,
	SMTP_ST_DONE,
	SMTP_ST_COUNT
};

/* The data encoder's state, kept across chunks. */
struct smtp_enc {
	int bol;		/* at the start of a line */
	int cr;			/* the last input byte was CR */
};

typedef long (*smtp_source)(void *ctx, char *buf, size_t cap);

struct smtp {
	int state;		/* enum smtp_state */
	const struct account *acct;
	const struct server *srv;
	int timeout;		/* seconds, for password_cmd */
	/* Where credentials come from: secret_get() unless a test sets
	 * its own.  token: the OAuth token instead of the password. */
	int (*secret)(struct smtp *s, int token, char *out, size_t cap,
	    struct err *e);
	char helo[SMTP_HELO_MAX];
	struct linebuf lb;
	char out[SMTP_OUT_MAX];
	size_t outlen;
	size_t secret_off, secret_len;	/* credential bytes in out */
	int want_tls, tls_on, injected, done;
	int fail;		/* enum smtp_fail */
	struct err err;
	/* the reply being read */
	int rcode, rlines;
	char reply[SMTP_REPLY_TEXT];	/* escaped, lines joined */
	const char *rtext;	/* raw text of its last line, while handled */
	/* capabilities of the last EHLO */
	int esmtp, cap_starttls, cap_pipelining, cap_8bitmime;
	int cap_smtputf8, cap_size_set;
	long long cap_size;	/* SIZE limit, 0 = none given */
	unsigned int cap_auth;	/* bit per enum auth_mech */
	/* authentication */
	int mech;		/* enum auth_mech in use */
	int auth_step;
	int authed;
	int withheld;		/* credentials not sent: plaintext */
	char pw[SMTP_SECRET_MAX];	/* during a LOGIN/CRAM exchange */
	/* the message */
	struct envelope *env;
	smtp_source src;
	void *src_ctx;
	int result;		/* enum smtp_result */
	int finished;		/* outcome known, not yet taken */
	int perm_all;		/* …and every pending recipient fails */
	char msg_reply[SMTP_REPLY_TEXT];	/* the deciding reply */
	int note_8bit;		/* sent 8-bit without 8BITMIME */
	int snd, snd_i;		/* next command to send (kind, rcpt) */
	int sent_upto;		/* pending rcpts below this were sent */
	int data_sent;
	int rcv_i;		/* rcpt whose reply was read last */
	int inflight;		/* commands sent, reply not yet read */
	int mail_ok;		/* -1 not yet, 0 refused, 1 accepted */
	int naccepted, ntemp, nfailed;
	int dot_abort;		/* 354 with nobody accepted: "." sent */
	struct smtp_enc enc;
	size_t chunk_off, chunk_len;
	int src_eof;
	char chunk[SMTP_CHUNK];
	/* for the log */
	int n_sent, n_temp, n_perm;
	long long n_bytes;	/* message bytes read from sources */
};

const char *smtp_state_name(int state);

/* Set up a session for account a (its smtp settings); the EHLO name is
 * the host name when it looks like a domain, else "localhost". */
int smtp_init(struct smtp *s, const struct conf *c, const struct account *a,
    struct err *e);
/* The local address of the connection ("192.0.2.1", "2001:db8::1"): used
 * as an address literal in EHLO when the host name is not a domain. */
void smtp_set_local(struct smtp *s, const char *ip);

void smtp_start(struct smtp *s);		/* expect the greeting */
/* Bytes from the server.  0, or -1 once the session has failed and
 * ended (s->done). */
int smtp_input(struct smtp *s, const char *buf, size_t n);
/* The transport took out[0..n). */
void smtp_consume(struct smtp *s, size_t n);
/* Refill out; called by smtp_consume and smtp_input, harmless anytime. */
void smtp_pump(struct smtp *s);
void smtp_tls_ready(struct smtp *s);
void smtp_eof(struct smtp *s);
/* End the session now (timeout, transport or TLS error); the message in
 * flight, if any, becomes SMTP_MSG_TEMP. */
void smtp_abort(struct smtp *s, int fail, int ex, const char *why);

/* Start sending a message to the recipients of env that are still
 * RCPT_PENDING (only in SMTP_ST_IDLE).  0, or -1 (EX_SOFTWARE: misuse). */
int smtp_send(struct smtp *s, struct envelope *env, smtp_source src,
    void *ctx);
/* The envelope whose outcome is known, once; NULL if none. */
struct envelope *smtp_finished(struct smtp *s);
void smtp_quit(struct smtp *s);

/* Pure parts, exported for tests. */
void smtp_enc_init(struct smtp_enc *st);
/* Encode in[0..n) into out (cap bytes): returns bytes written, sets
 * *consumed (it stops when fewer than 2 bytes of room are left). */
size_t smtp_encode(struct smtp_enc *st, const char *in, size_t n, char *out,
    size_t cap, size_t *consumed);
/* The end of the data: CRLF if needed, then ".\r\n".  Returns the bytes
 * written, 0 when cap is too small (5 bytes always suffice). */
size_t smtp_encode_end(struct smtp_enc *st, char *out, size_t cap);
/* Parse a reply line: 0 with *code and *last set, or -1 when it is not
 * "NNN", "NNN text" or "NNN-text" with a valid code. */
int smtp_reply_parse(const char *line, int *code, int *last);
/* The EHLO argument: hostname if it looks like a domain, else an address
 * literal of ip ("[192.0.2.1]", "[IPv6:2001:db8::1]"), else "localhost". */
void smtp_helo_name(const char *hostname, const char *ip, char *out,
    size_t cap);

#endif
