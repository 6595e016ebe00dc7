/*
 * x509.h — server certificates: trust anchors from a CA file, the checking
 * x509 class handed to BearSSL, SHA-256 pins, the clock rule and the words
 * for a failure.
 *
 * Trust anchors (x509_store) are read once per run from a PEM bundle,
 * streamed through br_pem_decoder in small chunks; names and keys are
 * copied into one arena allocation.  Only "CERTIFICATE" and "X509
 * CERTIFICATE" objects are used; a certificate BearSSL cannot decode (an
 * Ed25519 root, say) is skipped and counted.
 *
 * x509_check is a br_x509_class of its own wrapped around br_x509_minimal.
 * As the server's chain streams past it keeps, for every certificate (up
 * to X509_CHAIN_MAX), the SHA-256 of the DER, subject and issuer as text
 * and the validity dates, and for the leaf the names it holds (SAN
 * dNSName/iPAddress and CN).  Without pins it forwards to x509_minimal,
 * always with the configured host name as the name to check (so an IP
 * literal, for which tls.c sends no SNI, is still checked).  With pins the
 * chain is accepted iff the leaf's SHA-256 equals one of them: CA, name
 * and dates are not checked, the leaf's own key is used.
 *
 * Remembered signatures: a certificate's ECDSA signature, checked once,
 * is remembered (a SHA-256 of curve, key, hash and signature: a pure
 * function's input, so a remembered "valid" is as good as checking
 * again) and kept in STATE_DIR/tls-memo between runs, the last
 * X509_MEMO_MAX of them.  A poll or a send to the same server then skips
 * the costliest step of its handshake: a P-384 verification is about 3 ms
 * on a PC and tens of ms on a router's MIPS core (the Let's Encrypt and
 * the tests' intermediates are P-384).  RSA signatures are cheap to check
 * and are always checked.  A damaged key only misses; the file is
 * written only when a signature was added.
 *
 * Error classes: x509_temporary() is true for failures that a wrong clock
 * explains (expired, not yet valid): they never count toward an automatic
 * disable.  Everything else (untrusted, self-signed, unknown issuer, name
 * mismatch, pin mismatch, broken chain) is a connection failure.
 */
#ifndef X509_H
#define X509_H

#include <stddef.h>
#include <bearssl.h>
#include "tern.h"

#define X509_CHAIN_MAX	8	/* certificates of a server chain described */
#define X509_DN_TEXT	160	/* subject or issuer as text, NUL included */
#define X509_IP_TEXT	40	/* an IP as text: 8 × 4 hex + 7 colons */
#define X509_NAMES_TEXT	256	/* the leaf's names as text, NUL included */
#define X509_CERT_BUF	8192	/* leading bytes of a certificate kept for
				   reading names; a longer one is described
				   from this much */
#define X509_FP_TEXT	104	/* "sha256:AB:…:EF" with NUL */
#define X509_PEM_CHUNK	1024	/* CA file read size */
#define X509_MIN_RSA_BITS 2048	/* smaller RSA keys are "weak" */
#define X509_CA_FILE_MAX (16L << 20)	/* largest CA file read */
#define X509_MEMO_MAX	16	/* remembered certificate signatures */
#define X509_MEMO_FILE	"tls-memo"	/* in state_dir */

/* Error code returned by end_chain when pins are set and none matches. */
/* P-256 (m31), P-384 and P-521 (i31): the curves of TLS and certificates */
extern const br_ec_impl x509_ec;

/* RSA signatures (certificates, key exchange): 62-bit limbs where the
 * CPU multiplies 64 by 64 bits, three times faster than 31-bit ones. */
#if defined(__x86_64__) || defined(__aarch64__)
#define X509_RSA_VRFY	br_rsa_i62_pkcs1_vrfy
#else
#define X509_RSA_VRFY	br_rsa_i31_pkcs1_vrfy
#endif

#define X509_ERR_PIN	(BR_ERR_X509_NOT_TRUSTED)

struct x509_store {
	char path[CONF_STR_MAX];
	br_x509_trust_anchor *ta;	/* in arena */
	size_t n;
	size_t skipped;			/* certificates BearSSL could not use */
	void *arena;			/* the one allocation */
	size_t arena_used;		/* bytes of it holding anchor data */
};

/* Read PATH into s.  Errors (EX_CONFIG): "PATH: cannot read CA file: …",
 * "PATH: no certificate in CA file", "PATH: bad PEM data in CA file". */
int x509_store_load(struct x509_store *s, const char *path, struct err *e);
void x509_store_free(struct x509_store *s);

struct x509_cert {		/* one certificate of the server's chain */
	unsigned char sha256[32];
	char subject[X509_DN_TEXT];
	char issuer[X509_DN_TEXT];
	long long not_before;		/* unix time; valid only if dated */
	long long not_after;
	int dated;			/* BearSSL decoded the validity */
	int self_issued;		/* issuer DN == subject DN */
	int is_ca;
	unsigned long len;		/* DER length */
};

struct x509_check {
	const br_x509_class *vtable;	/* first: BearSSL sees this */
	br_x509_minimal_context mc;
	br_x509_decoder_context dc;
	br_sha256_context sha;
	const struct x509_store *store;
	const char *host;		/* the configured host */
	const unsigned char (*pin)[32];
	int npin;
	long long now;			/* clock used for validity */
	/* what the chain held */
	struct x509_cert cert[X509_CHAIN_MAX];
	int ncert;			/* certificates seen, may exceed MAX */
	char names[X509_NAMES_TEXT];	/* the leaf's names */
	unsigned char buf[X509_CERT_BUF];
	size_t buflen;
	unsigned long certlen;
	br_x509_pkey leaf_key;		/* pinned mode: the leaf's key */
	unsigned char leaf_key_data[BR_X509_BUFSIZE_KEY];
	int leaf_key_ok;
	int pin_matched;
	unsigned result;		/* what end_chain returned */
};

/* Prepare x for one handshake.  store may be NULL when npin > 0.  now is
 * the clock for validity checks (see x509_clock). */
void x509_check_init(struct x509_check *x, const struct x509_store *store,
    const char *host, const unsigned char (*pin)[32], int npin,
    long long now);

/* The class pointer to give br_ssl_engine_set_x509(). */
const br_x509_class **x509_check_class(struct x509_check *x);

/* Load the remembered signatures from STATE_DIR/tls-memo (a missing or
 * unreadable file: none); x509_memo_save() writes them back when the run
 * added one (file_replace; EX_IOERR / EX_CANTCREAT naming the path). */
void x509_memo_load(const char *state_dir);
int x509_memo_save(struct err *e);
#ifdef TERN_TEST
extern int x509_memo_hits;		/* signatures found remembered */
#endif

/* Words for a certificate failure (engine error code err, 32..63 or
 * X509_ERR_PIN) into buf: "certificate expired on …", "unknown issuer
 * CN=…", "name mismatch: certificate is for a, b; not HOST", … */
void x509_explain(const struct x509_check *x, int err, char *buf,
    size_t cap);

/* 1 when err is explained by the clock (expired / not yet valid). */
int x509_temporary(int err);

/* The leaf's fingerprint as text, "" when no certificate was seen. */
void x509_leaf_fingerprint(const struct x509_check *x,
    char out[X509_FP_TEXT]);

/* "sha256:AB:CD:…" of a digest; out holds X509_FP_TEXT bytes. */
void x509_fingerprint(const unsigned char h[32], char out[X509_FP_TEXT]);

/* The clock rule: wall clock `wall` (unix time), or TERN_BUILD_DATE when
 * the wall clock is before it; *floored says which. */
long long x509_clock(long long wall, int *floored);

/* Unix time from BearSSL's (days since 0000-01-01, seconds in day). */
long long x509_unix_time(unsigned long days, unsigned long secs);

/* Describe a DER Name as "CN=…, O=…, C=…" (RFC 4514 order; non-ASCII
 * bytes as \xNN), bounded by cap.  Returns -1 on malformed DER. */
int x509_dn_text(const unsigned char *dn, size_t len, char *buf,
    size_t cap);

/* Read certificate DER der[0..len) (len may be a prefix of the whole):
 * subject/issuer text, self-issued flag and the leaf names list.  Any of
 * the outputs may be NULL.  Returns -1 when nothing could be read. */
int x509_cert_text(const unsigned char *der, size_t len, char *subject,
    char *issuer, size_t dncap, int *self_issued, char *names,
    size_t namescap);

#endif
