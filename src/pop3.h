/*
 * pop3.h — the POP3 session as a pure state machine (OpenSMTPD style:
 * pop3_enter() sends the command for a state, the reply handler is one
 * switch on the state).  It never calls read/write/connect: the transport
 * feeds it the bytes the server sent (pop3_input) and drains the bytes it
 * wants sent (p->out).  Dialog tests and fuzzers drive it without sockets.
 *
 * Transport contract (implemented by fetch.c on top of net.c/tls.c):
 *   - after connect (and, for implicit TLS, after the handshake), call
 *     pop3_start();
 *   - whenever bytes arrive, pop3_input(); then send p->out[0..p->outlen)
 *     and clear outlen (pop3 only appends to out).  pop3_tick() and
 *     pop3_tls_ready() may queue bytes too: drain out after them as well;
 *   - for -v, out[secret_off .. secret_off + secret_len) is a credential
 *     (password, SASL response, token, APOP digest): trace it as
 *     "<redacted>".  secret_len is 0 when out holds none;
 *   - when p->want_tls is set (STLS got +OK), pop3 has stopped reading:
 *     if any byte arrived after the +OK line (p->injected set, or more
 *     input is pending in the transport) the session must be aborted;
 *     otherwise start the TLS handshake on the same fd and call
 *     pop3_tls_ready() when it completes;
 *   - call pop3_tick() with the monotonic clock at least when it reaches
 *     p->group_due (non-zero while delivered messages wait for their
 *     group commit), so that a slow server does not hold them undurable;
 *   - on EOF call pop3_eof() (an error unless QUIT was answered);
 *   - when p->done is set, close.  p->fail and p->err say how it ended.
 *   - when p->reconnect is set after a successful end, connect again and
 *     call pop3_start() on the same struct: counters accumulate.
 * Delivery goes through maildir.h (dlv_*) and the UIDL ledger uidl.h.
 *
 * Rules kept here (SPEC §3): no credential before TLS unless
 * allow_plaintext_auth; STLS strict (absent/refused: no credential; bytes
 * after the go-ahead: abort; CAPA again after TLS); APOP and CRAM-MD5 only
 * when named; a message is DELE'd only after its group commit (dlv_sync,
 * then the UIDL ledger fsync'd); DELEs count only once QUIT is answered.
 *
 * Memory: fixed per session except the listing table, which is allocated
 * once at init for UIDL_MAX entries and touched only as far as the server
 * listing goes (so resident memory follows the listing; the UIDL strings
 * themselves live in the uidl_db).
 */
#ifndef POP3_H
#define POP3_H

#include <stddef.h>
#include "tern.h"
#include "line.h"
#include "maildir.h"
#include "uidl.h"

struct conf;
struct account;

#define POP3_OUT_MAX	12288	/* queued commands; an XOAUTH2 line of an
				   8 KB token in base64 fits */
#define POP3_SECRET_MAX	8192	/* password or OAuth token, NUL included */
#define POP3_BODY_BUF	16384	/* decoded body chunk passed to dlv_write */
#define POP3_PIPE_MAX	32	/* commands in flight when PIPELINING */
#define POP3_GROUP_MSGS	64	/* group commit: messages … */
#define POP3_GROUP_BYTES (4L << 20)	/* … or bytes … */
#define POP3_GROUP_MS	1000	/* … or milliseconds, whichever first */
#define POP3_RECONNECT_EVERY 50	/* keep 0 without UIDL: QUIT and reconnect */

/* How a session ended, for counters and the log (fetch.c maps these).
 * p->err.ex carries a suggested exit code: CONNECT 75, or 69 when the
 * server refuses for good (-ERR greeting, [SYS/PERM]) or lacks what the
 * configuration needs (STLS, the named auth); AUTH 77; TEMP 75; LOCAL
 * the delivery, ledger or secret source error (73/74/75/78), 78 for
 * credentials refused without TLS, 69 for policy (keep without usable
 * UIDLs, a listing over UIDL_MAX).  p->err.msg holds server text only
 * escaped (log_escape) and capped. */
enum pop3_fail {
	POP3_OK,
	POP3_FAIL_CONNECT,	/* garbage, protocol error, STARTTLS refused… */
	POP3_FAIL_AUTH,		/* -ERR to USER/PASS/AUTH/APOP, [AUTH] */
	POP3_FAIL_TEMP,		/* [IN-USE], [LOGIN-DELAY], [SYS/TEMP] */
	POP3_FAIL_LOCAL		/* cannot deliver locally: 73/74; policy */
};

/* p->state: the reply expected next (the oldest command in flight). */
enum pop3_state {
	POP3_ST_NONE,		/* before pop3_start */
	POP3_ST_GREETING,
	POP3_ST_CAPA,
	POP3_ST_STLS,
	POP3_ST_TLS,		/* waiting for the transport's handshake */
	POP3_ST_USER,
	POP3_ST_PASS,
	POP3_ST_APOP,
	POP3_ST_AUTH,		/* AUTH and its SASL exchange */
	POP3_ST_UIDL,
	POP3_ST_LIST,
	POP3_ST_RETR,
	POP3_ST_DELE,
	POP3_ST_QUIT,
	POP3_ST_IDLE,		/* transaction, nothing in flight */
	POP3_ST_DONE,
	POP3_ST_COUNT
};

struct pop3_msg {		/* one entry of the server listing */
	unsigned int num;
	int rec;		/* index into uidl_db rec, -1 = none */
	long long size;		/* from LIST, -1 = not listed */
	unsigned char want;	/* to fetch this run */
	unsigned char dele;	/* 0, or DELE to send / sent / done */
	unsigned char st;	/* retrieval progress (pop3.c) */
};

struct pop3_cmd {		/* a command in flight */
	unsigned char st;	/* enum pop3_state of its reply */
	int msg;		/* index into msg, -1 */
};

struct pop3 {
	int state;		/* enum pop3_state */
	const struct conf *conf;
	const struct account *acct;
	struct uidl_db *db;
	struct dlv dlv;
	struct linebuf lb;
	struct body body;
	char out[POP3_OUT_MAX];
	size_t outlen;
	size_t secret_off, secret_len;	/* credential bytes in out */
	int want_tls, tls_on, injected, done;
	int fail;		/* enum pop3_fail */
	struct err err;
	int reconnect;		/* QUIT sent because of the per-connection
				   cap without UIDL: connect again */
	/* capabilities (all forgotten when TLS starts) */
	int cap_capa;		/* CAPA answered +OK */
	int cap_pipelining, cap_uidl, cap_stls, cap_top, cap_user;
	unsigned int cap_sasl;	/* bit per enum auth_mech */
	char apop_ts[256];	/* <…> of the greeting, for APOP */
	int mech;		/* enum auth_mech in use */
	int auth_step;		/* SASL exchange progress */
	/* commands in flight (a ring) */
	struct pop3_cmd q[POP3_PIPE_MAX];
	int qhead, nq;
	int multi;		/* inside a multi-line reply */
	int inbody;		/* inside a RETR body */
	int discard;		/* …whose bytes are dropped */
	int failing;		/* an error is recorded: only QUIT now */
	int quit_sent;
	int probe;		/* tern test/diag: QUIT once authenticated */
	/* listing */
	struct pop3_msg *msg;	/* allocated once per session, capped */
	int nmsg, capmsg;
	int uidl_done, list_done;
	int nouidl;		/* no usable UIDL: keep 0, capped per
				   connection, nothing in the ledger */
	int listed_all;		/* a complete, valid UIDL listing: marks
				   are right, the caller may uidl_prune */
	int selected;		/* listing done, retrieval phase */
	int list_pos;		/* LIST merge cursor */
	unsigned int lastnum;	/* listings must go up */
	int cur;		/* message being retrieved */
	int retr_next, dele_next;	/* scan cursors */
	int nretr;		/* RETRs in flight */
	/* group commit: messages in new/ whose directory is not synced */
	int g_n, g_first, g_last;
	long long g_bytes;
	/* counters for the fetch log line */
	int n_new, n_deleted, n_skipped;
	long long n_bytes;
	int n_toobig;		/* newly over max_size (logged once) */
	int n_later;		/* wanted, left for a later run */
	int n_dele_ok, n_dele_err;	/* DELE answers this connection */
	long long now;		/* wall clock at start, for ages */
	long long now_ms;	/* monotonic ms, last pop3_tick */
	long long group_t0;	/* monotonic ms of the first undurable msg */
	long long group_due;	/* pop3_tick wanted by then; 0 = none */
	char bodybuf[POP3_BODY_BUF];
};

const char *pop3_state_name(int state);

/* Set up a session (allocates the listing table, prepares delivery with
 * dlv_init; p->now is set from the wall clock).  0, or -1 with e set.
 * db may be NULL for a session that only probes (tern test/diag: set
 * p->probe): it QUITs once authenticated and prepares no delivery. */
int pop3_init(struct pop3 *p, const struct conf *c, const struct account *a,
    struct uidl_db *db, struct err *e);
void pop3_free(struct pop3 *p);

/* Expect the greeting of a new connection (also after p->reconnect). */
void pop3_start(struct pop3 *p);
/* Bytes from the server.  0, or -1 once the session has failed (then
 * p->done is set). */
int pop3_input(struct pop3 *p, const char *buf, size_t n);
void pop3_tls_ready(struct pop3 *p);
void pop3_eof(struct pop3 *p);
/* Monotonic tick (ms) for the group-commit timer. */
void pop3_tick(struct pop3 *p, long long now_ms);

#endif
