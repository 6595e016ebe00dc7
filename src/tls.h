/*
 * tls.h — one transport object over a connected non-blocking socket,
 * whether TLS is on or off: BearSSL's engine driven by poll() (never the
 * blocking br_sslio), or plain bytes, behind the same calls.
 *
 *   tls_attach(fd)       plaintext on fd (the tls now owns fd)
 *   tls_start()          begin the TLS handshake on it: at once for
 *                        implicit TLS, or after a STARTTLS go-ahead
 *   tls_events()         what poll() should wait for (drain first!)
 *   tls_io(revents)      move bytes between the socket and the buffers;
 *                        returns the bytes moved (progress) or -1
 *   tls_read/tls_write   application bytes; tls_write queues a batch and
 *                        flushes it, so one pipelined batch of up to
 *                        TLS_APP_OUT bytes goes out as one record
 *   tls_close/tls_done   clean close: close_notify, pumped by the caller
 *                        for at most TLS_CLOSE_MS; then tls_detach()
 *
 * Client settings, fixed for size: TLS 1.2 only; ECDHE_ECDSA/ECDHE_RSA
 * with CHACHA20_POLY1305, then AES_128_GCM, then AES_256_GCM (AES-GCM
 * first with AES-NI); RSA with i62 on 64-bit CPUs, else i31; i31 ECDSA;
 * P-256 (m31), P-384, P-521; no renegotiation.  SNI and the hostname
 * check use the configured host (no SNI for an IP literal; the name is
 * still checked).  32 bytes from getrandom() are injected into the engine's RNG
 * on top of BearSSL's own seeding.
 *
 * Buffers: full-size input and output buffers (16709 and 16469 bytes):
 * any server record fits, a large message goes out in 16 KB records (a
 * quarter of the records, and of the server's work, of 4 KB ones), and
 * no max_fragment_length is asked for.  In plaintext
 * mode the same buffers hold raw bytes, and the bytes received but not
 * yet read are counted, so STARTTLS can refuse when anything arrived
 * after the go-ahead (tls_pending_input).
 *
 * End of input: tls_eof() once the peer has closed and every byte was
 * read.  tls_truncated() tells a TCP close without close_notify apart
 * from a clean one; the protocol decides whether it matters.
 *
 * Errors (tls_io, tls_start): e gets the words, t->fail the class:
 * TLS_FAIL_NET (socket error), TLS_FAIL_TLS (handshake or record),
 * TLS_FAIL_CERT (untrusted certificate: counts as a connection failure,
 * t->fp has its fingerprint), TLS_FAIL_CLOCK (expired or not yet valid:
 * temporary).
 */
#ifndef TLS_H
#define TLS_H

#include <stddef.h>
#include <bearssl.h>
#include "tern.h"
#include "x509.h"

#define TLS_APP_OUT	16384	/* application bytes per outgoing record */
#define TLS_IBUF	BR_SSL_BUFSIZE_INPUT
#define TLS_OBUF	(TLS_APP_OUT + 85)
#define TLS_CLOSE_MS	2000	/* wait for the peer's close_notify */
#define TLS_ENTROPY	32	/* bytes injected from getrandom() */

enum tls_fail { TLS_FAIL_NONE, TLS_FAIL_NET, TLS_FAIL_TLS, TLS_FAIL_CERT,
	TLS_FAIL_CLOCK };

struct tls {
	int fd;			/* -1 = none */
	int on;			/* TLS started on fd */
	int eof;		/* the peer closed TCP */
	int closing;		/* tls_close() called */
	int closed;		/* clean end: close_notify exchanged */
	int fail;		/* enum tls_fail */
	int brerr;		/* BearSSL's error code, 0 = none */
	long long rx, tx;	/* bytes on the wire */
	size_t ioff, ilen;	/* plaintext: unread bytes ibuf[ioff..+ilen) */
	size_t olen;		/* plaintext: unsent bytes obuf[0..olen) */
	char host[CONF_STR_MAX];
	char fp[X509_FP_TEXT];	/* leaf fingerprint after a cert failure */
	br_ssl_client_context sc;
	struct x509_check xc;
	unsigned char ibuf[TLS_IBUF];
	unsigned char obuf[TLS_OBUF];
};

void tls_attach(struct tls *t, int fd);
/* Start TLS on the attached fd.  store may be NULL when npin > 0; now is
 * the clock for certificate validity (x509_clock). */
int tls_start(struct tls *t, const char *host, const struct x509_store *store,
    const unsigned char (*pin)[32], int npin, long long now,
    struct err *e);
short tls_events(const struct tls *t);
long tls_io(struct tls *t, short revents, struct err *e);
size_t tls_read(struct tls *t, void *buf, size_t cap);
size_t tls_write(struct tls *t, const void *buf, size_t n);
int tls_ready(const struct tls *t);	/* application data can flow */
int tls_readable(const struct tls *t);	/* tls_read would return bytes */
int tls_eof(const struct tls *t);
int tls_truncated(const struct tls *t);
size_t tls_unsent(const struct tls *t);	/* queued, not yet on the wire */
/* Bytes received (or waiting in the socket) not yet read: must be 0
 * when TLS starts after a STARTTLS go-ahead. */
size_t tls_pending_input(const struct tls *t);
void tls_close(struct tls *t);
int tls_done(const struct tls *t);
void tls_detach(struct tls *t);

/* For diag and logs: "TLS 1.2", the IANA suite name, the ECDHE group. */
const char *tls_version_name(const struct tls *t);
const char *tls_suite_name(const struct tls *t);
const char *tls_curve_name(const struct tls *t);

/* Words for a BearSSL engine error that is not about the certificate. */
void tls_strerror(int err, char *buf, size_t cap);

#endif
