/*
 * tls.c — the transport: BearSSL's engine over a non-blocking socket, or
 * plain bytes.  See tls.h for the contract.
 *
 * The engine rules followed here (toolchain notes §4): re-read the state
 * after every ack, flush or close; CLOSED is exclusive and carries the
 * error; drain RECVAPP before polling; never ack 0 bytes; X.509 failures
 * end the engine without an alert, so the socket is closed by us; BearSSL
 * cannot be told about a transport error or EOF, so those are kept here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tls.h"

/* ChaCha20 first: the routers have no AES instructions, and there
 * constant-time AES is several times slower than ChaCha20. */
static const uint16_t suites[] = {
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
};

#ifdef __x86_64__
/* With AES-NI and PCLMULQDQ, AES-GCM is the fastest by far (a 50 MB
 * message: a few ms of crypto instead of 0.3 s). */
static const uint16_t suites_aesni[] = {
	BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
};
#endif

static const struct {
	uint16_t id;
	const char *name;
} suite_names[] = {
	{ BR_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	  "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256" },
	{ BR_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	  "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	  "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" },
	{ BR_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	  "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" },
	{ BR_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	  "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" },
};

void
tls_attach(struct tls *t, int fd)
{
	t->fd = fd;
	t->on = 0;
	t->eof = 0;
	t->closing = 0;
	t->closed = 0;
	t->fail = TLS_FAIL_NONE;
	t->brerr = 0;
	t->rx = 0;
	t->tx = 0;
	t->ioff = 0;
	t->ilen = 0;
	t->olen = 0;
	t->host[0] = '\0';
	t->fp[0] = '\0';
}

static int
is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	    inet_pton(AF_INET6, host, a) == 1;
}

/* Extra entropy on top of BearSSL's /dev/urandom (or RDRAND) seeding:
 * cheap, and early-boot routers are short of it. */
static void
add_entropy(br_ssl_engine_context *eng)
{
	unsigned char seed[TLS_ENTROPY];
	size_t got = 0;
	ssize_t r;
	int fd;

	while (got < sizeof seed) {
		r = getrandom(seed + got, sizeof seed - got, GRND_NONBLOCK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	if (got < sizeof seed) {
		fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			r = read(fd, seed + got, sizeof seed - got);
			if (r > 0)
				got += (size_t)r;
			close(fd);
		}
	}
	if (got > 0)
		br_ssl_engine_inject_entropy(eng, seed, got);
	explicit_bzero(seed, sizeof seed);
}

int
tls_start(struct tls *t, const char *host, const struct x509_store *store,
    const unsigned char (*pin)[32], int npin, long long now,
    struct err *e)
{
	static const br_hash_class *hashes[] = {
		&br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable,
		&br_sha384_vtable, &br_sha512_vtable
	};
	br_ssl_engine_context *eng = &t->sc.eng;
	size_t i;

	if (t->on || t->fd < 0)
		return err_set(e, EX_SOFTWARE, "TLS started twice");
	/* STARTTLS: nothing may be in flight either way */
	if (t->olen > 0)
		return err_set(e, EX_SOFTWARE, "unsent plaintext before TLS");
	/* after plaintext traffic, this is a STARTTLS */
	if ((t->rx > 0 || t->tx > 0) && tls_pending_input(t) > 0) {
		t->fail = TLS_FAIL_TLS;
		return err_set(e, EX_TEMPFAIL, "server sent data after the "
		    "STARTTLS go-ahead: session aborted");
	}
	if (strlen(host) >= sizeof t->host || strlen(host) > 255)
		return err_set(e, EX_CONFIG, "host name too long for TLS");
	snprintf(t->host, sizeof t->host, "%s", host);
	x509_check_init(&t->xc, store, t->host, pin, npin, now);

	br_ssl_client_zero(&t->sc);
	br_ssl_engine_set_versions(eng, BR_TLS12, BR_TLS12);
	br_ssl_engine_set_suites(eng, suites, sizeof suites / sizeof suites[0]);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_ssl_engine_set_hash(eng, br_sha1_ID + (int)i, hashes[i]);
	br_ssl_engine_set_prf_sha256(eng, &br_tls12_sha256_prf);
	br_ssl_engine_set_prf_sha384(eng, &br_tls12_sha384_prf);
	br_ssl_engine_set_ec(eng, &x509_ec);
	br_ssl_engine_set_rsavrfy(eng, X509_RSA_VRFY);
	br_ssl_engine_set_ecdsa(eng, br_ecdsa_i31_vrfy_asn1);
	br_ssl_engine_set_gcm(eng, &br_sslrec_in_gcm_vtable,
	    &br_sslrec_out_gcm_vtable);
	br_ssl_engine_set_chapol(eng, &br_sslrec_in_chapol_vtable,
	    &br_sslrec_out_chapol_vtable);
	br_ssl_engine_set_poly1305(eng, br_poly1305_ctmul_run);
#if UINTPTR_MAX > 0xffffffffu
	br_ssl_engine_set_aes_ctr(eng, &br_aes_ct64_ctr_vtable);
	br_ssl_engine_set_ghash(eng, br_ghash_ctmul64);
#else
	br_ssl_engine_set_aes_ctr(eng, &br_aes_ct_ctr_vtable);
	br_ssl_engine_set_ghash(eng, br_ghash_ctmul);
#endif
	br_ssl_engine_set_chacha20(eng, br_chacha20_ct_run);
#ifdef __x86_64__
	{
		const br_block_ctr_class *ni = br_aes_x86ni_ctr_get_vtable();
		br_ghash clmul = br_ghash_pclmul_get();

		if (ni != NULL && clmul != 0) {
			br_ssl_engine_set_aes_ctr(eng, ni);
			br_ssl_engine_set_ghash(eng, clmul);
			br_ssl_engine_set_suites(eng, suites_aesni,
			    sizeof suites_aesni / sizeof suites_aesni[0]);
		}
	}
#endif
	br_ssl_engine_set_x509(eng, x509_check_class(&t->xc));
	br_ssl_engine_add_flags(eng, BR_OPT_NO_RENEGOTIATION);
	br_ssl_engine_set_buffers_bidi(eng, t->ibuf, sizeof t->ibuf, t->obuf,
	    sizeof t->obuf);
	/* a bad buffer size is reported here and then forgotten by reset */
	if (br_ssl_engine_last_error(eng) != 0)
		return err_set(e, EX_SOFTWARE, "TLS buffers rejected (%d)",
		    br_ssl_engine_last_error(eng));
	add_entropy(eng);
	if (!br_ssl_client_reset(&t->sc, is_ip_literal(t->host) ? NULL :
	    t->host, 0)) {
		t->fail = TLS_FAIL_TLS;
		return err_set(e, EX_SOFTWARE, "TLS setup failed (%d)",
		    br_ssl_engine_last_error(eng));
	}
	t->ioff = 0;
	t->ilen = 0;
	t->on = 1;
	return 0;
}

short
tls_events(const struct tls *t)
{
	unsigned st;
	short ev = 0;

	if (t->fd < 0 || t->fail != TLS_FAIL_NONE)
		return 0;
	if (!t->on) {
		if (!t->eof && !t->closing &&
		    t->ioff + t->ilen < sizeof t->ibuf)
			ev |= POLLIN;
		if (t->olen > 0)
			ev |= POLLOUT;
		return ev;
	}
	st = br_ssl_engine_current_state(&t->sc.eng);
	if (st & BR_SSL_CLOSED)
		return 0;
	if (st & BR_SSL_SENDREC)
		ev |= POLLOUT;
	if ((st & BR_SSL_RECVREC) && !t->eof)
		ev |= POLLIN;
	return ev;
}

static long
net_error(struct tls *t, const char *op, struct err *e)
{
	t->fail = TLS_FAIL_NET;
	return err_set(e, EX_TEMPFAIL, "%s: %s", op, strerror(errno));
}

static long
plain_io(struct tls *t, short revents, struct err *e)
{
	ssize_t n;
	long moved = 0;

	if (t->olen > 0) {
		n = send(t->fd, t->obuf, t->olen, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			memmove(t->obuf, t->obuf + n, t->olen - (size_t)n);
			t->olen -= (size_t)n;
			t->tx += n;
			moved += n;
		} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return net_error(t, "send", e);
	}
	if ((revents & (POLLIN | POLLHUP | POLLERR)) && !t->eof) {
		if (t->ioff > 0) {
			memmove(t->ibuf, t->ibuf + t->ioff, t->ilen);
			t->ioff = 0;
		}
		if (t->ilen == sizeof t->ibuf)
			return moved;
		n = recv(t->fd, t->ibuf + t->ilen, sizeof t->ibuf - t->ilen,
		    MSG_DONTWAIT);
		if (n > 0) {
			t->ilen += (size_t)n;
			t->rx += n;
			moved += n;
		} else if (n == 0)
			t->eof = 1;
		else if (errno != EAGAIN && errno != EWOULDBLOCK &&
		    errno != EINTR)
			return net_error(t, "recv", e);
	}
	return moved;
}

/* The engine stopped with error err: words into e, the class into fail. */
static long
engine_failed(struct tls *t, int err, struct err *e)
{
	char words[sizeof e->msg];

	if (err >= BR_ERR_X509_OK && err < 64) {
		/* end_chain's own code is the precise one */
		if (t->xc.result != 0)
			err = (int)t->xc.result;
		t->brerr = err;
		x509_explain(&t->xc, err, words, sizeof words);
		x509_leaf_fingerprint(&t->xc, t->fp);
		t->fail = x509_temporary(err) ? TLS_FAIL_CLOCK : TLS_FAIL_CERT;
		return err_set(e, EX_TEMPFAIL, "%s", words);
	}
	t->brerr = err;
	tls_strerror(err, words, sizeof words);
	t->fail = TLS_FAIL_TLS;
	return err_set(e, EX_TEMPFAIL, "%s", words);
}

long
tls_io(struct tls *t, short revents, struct err *e)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	unsigned char *buf;
	unsigned st;
	size_t len;
	ssize_t n;
	long moved = 0, step;
	int readable;

	if (t->fd < 0 || t->fail != TLS_FAIL_NONE)
		return 0;
	if (!t->on)
		return plain_io(t, revents, e);
	readable = (revents & (POLLIN | POLLHUP | POLLERR)) != 0;
	for (;;) {
		st = br_ssl_engine_current_state(eng);
		if (st & BR_SSL_CLOSED) {
			if (br_ssl_engine_last_error(eng) != BR_ERR_OK)
				return engine_failed(t,
				    br_ssl_engine_last_error(eng), e);
			t->closed = 1;
			return moved;
		}
		step = 0;
		if (st & BR_SSL_SENDREC) {
			buf = br_ssl_engine_sendrec_buf(eng, &len);
			n = send(t->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n > 0) {
				br_ssl_engine_sendrec_ack(eng, (size_t)n);
				t->tx += n;
				step += n;
			} else if (n < 0 && errno != EAGAIN &&
			    errno != EWOULDBLOCK && errno != EINTR)
				return net_error(t, "send", e);
			/* an ack can change the state */
			st = br_ssl_engine_current_state(eng);
			if (st & BR_SSL_CLOSED)
				continue;
		}
		if ((st & BR_SSL_RECVREC) && readable && !t->eof) {
			buf = br_ssl_engine_recvrec_buf(eng, &len);
			n = recv(t->fd, buf, len, MSG_DONTWAIT);
			if (n > 0) {
				br_ssl_engine_recvrec_ack(eng, (size_t)n);
				t->rx += n;
				step += n;
			} else if (n == 0)
				t->eof = 1;
			else if (errno == EAGAIN || errno == EWOULDBLOCK)
				readable = 0;
			else if (errno != EINTR)
				return net_error(t, "recv", e);
		}
		if (step == 0)
			break;
		moved += step;
	}
	return moved;
}

size_t
tls_read(struct tls *t, void *buf, size_t cap)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	unsigned char *p;
	size_t len;

	if (t->fd < 0 || cap == 0)
		return 0;
	if (!t->on) {
		len = t->ilen < cap ? t->ilen : cap;
		memcpy(buf, t->ibuf + t->ioff, len);
		t->ioff += len;
		t->ilen -= len;
		if (t->ilen == 0)
			t->ioff = 0;
		return len;
	}
	if (!(br_ssl_engine_current_state(eng) & BR_SSL_RECVAPP))
		return 0;
	p = br_ssl_engine_recvapp_buf(eng, &len);
	if (p == NULL || len == 0)
		return 0;
	if (len > cap)
		len = cap;
	memcpy(buf, p, len);
	br_ssl_engine_recvapp_ack(eng, len);
	return len;
}

size_t
tls_write(struct tls *t, const void *buf, size_t n)
{
	br_ssl_engine_context *eng = &t->sc.eng;
	const unsigned char *src = buf;
	unsigned char *p;
	size_t len, done = 0;

	if (t->fd < 0 || t->closing || t->fail != TLS_FAIL_NONE)
		return 0;
	if (!t->on) {
		len = sizeof t->obuf - t->olen;
		if (len > n)
			len = n;
		memcpy(t->obuf + t->olen, src, len);
		t->olen += len;
		return len;
	}
	while (done < n &&
	    (br_ssl_engine_current_state(eng) & BR_SSL_SENDAPP)) {
		p = br_ssl_engine_sendapp_buf(eng, &len);
		if (p == NULL || len == 0)
			break;
		if (len > n - done)
			len = n - done;
		memcpy(p, src + done, len);
		br_ssl_engine_sendapp_ack(eng, len);
		done += len;
		/* a full record: seal it so the next part gets a buffer */
		if (done < n)
			br_ssl_engine_flush(eng, 0);
	}
	/* without a flush the batch waits for a full record */
	if (done > 0)
		br_ssl_engine_flush(eng, 0);
	return done;
}

int
tls_ready(const struct tls *t)
{
	if (t->fd < 0 || t->fail != TLS_FAIL_NONE || t->closing)
		return 0;
	if (!t->on)
		return 1;
	/* the engine offers application data only after the handshake */
	return (br_ssl_engine_current_state(&t->sc.eng) &
	    (BR_SSL_SENDAPP | BR_SSL_RECVAPP)) != 0;
}

int
tls_readable(const struct tls *t)
{
	if (t->fd < 0)
		return 0;
	if (!t->on)
		return t->ilen > 0;
	return (br_ssl_engine_current_state(&t->sc.eng) &
	    BR_SSL_RECVAPP) != 0;
}

int
tls_eof(const struct tls *t)
{
	if (t->fd < 0)
		return 1;
	if (tls_readable(t))
		return 0;
	if (t->eof)
		return 1;
	return t->on && (br_ssl_engine_current_state(&t->sc.eng) &
	    BR_SSL_CLOSED) != 0;
}

int
tls_truncated(const struct tls *t)
{
	return t->on && t->eof && !t->closed &&
	    !(br_ssl_engine_current_state(&t->sc.eng) & BR_SSL_CLOSED);
}

size_t
tls_unsent(const struct tls *t)
{
	size_t len = 0;

	if (t->fd < 0)
		return 0;
	if (!t->on)
		return t->olen;
	if (br_ssl_engine_current_state(&t->sc.eng) & BR_SSL_SENDREC)
		br_ssl_engine_sendrec_buf(&t->sc.eng, &len);
	return len;
}

size_t
tls_pending_input(const struct tls *t)
{
	char c;

	if (t->fd < 0)
		return 0;
	if (t->ilen > 0)
		return t->ilen;
	/* bytes already in the socket that poll() has not reported yet */
	return recv(t->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0 ? 1 : 0;
}

void
tls_close(struct tls *t)
{
	if (t->closing || t->fd < 0)
		return;
	t->closing = 1;
	if (t->on && !(br_ssl_engine_current_state(&t->sc.eng) &
	    BR_SSL_CLOSED))
		br_ssl_engine_close(&t->sc.eng);
}

int
tls_done(const struct tls *t)
{
	if (t->fd < 0 || t->fail != TLS_FAIL_NONE || t->eof)
		return 1;
	if (!t->on)
		return t->closing && t->olen == 0;
	return t->closed || (br_ssl_engine_current_state(&t->sc.eng) &
	    BR_SSL_CLOSED) != 0;
}

void
tls_detach(struct tls *t)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->on = 0;
}

const char *
tls_version_name(const struct tls *t)
{
	if (!t->on)
		return "none";
	switch (br_ssl_engine_get_version(&t->sc.eng)) {
	case BR_TLS12:
		return "TLS 1.2";
	case BR_TLS11:
		return "TLS 1.1";
	case BR_TLS10:
		return "TLS 1.0";
	default:
		return "unknown";
	}
}

const char *
tls_suite_name(const struct tls *t)
{
	size_t i;

	if (!t->on)
		return "none";
	for (i = 0; i < sizeof suite_names / sizeof suite_names[0]; i++)
		if (suite_names[i].id == t->sc.eng.session.cipher_suite)
			return suite_names[i].name;
	return "unknown";
}

const char *
tls_curve_name(const struct tls *t)
{
	if (!t->on)
		return "none";
	switch (br_ssl_engine_get_ecdhe_curve(
	    (br_ssl_engine_context *)&t->sc.eng)) {
	case BR_EC_secp256r1:
		return "secp256r1";
	case BR_EC_secp384r1:
		return "secp384r1";
	case BR_EC_secp521r1:
		return "secp521r1";
	case BR_EC_curve25519:
		return "x25519";
	default:
		return "unknown";
	}
}

static const char *
alert_name(int a)
{
	switch (a) {
	case 0: return "close_notify";
	case 10: return "unexpected_message";
	case 20: return "bad_record_mac";
	case 22: return "record_overflow";
	case 40: return "handshake_failure";
	case 42: return "bad_certificate";
	case 43: return "unsupported_certificate";
	case 44: return "certificate_revoked";
	case 45: return "certificate_expired";
	case 46: return "certificate_unknown";
	case 47: return "illegal_parameter";
	case 48: return "unknown_ca";
	case 49: return "access_denied";
	case 50: return "decode_error";
	case 51: return "decrypt_error";
	case 70: return "protocol_version";
	case 71: return "insufficient_security";
	case 80: return "internal_error";
	case 86: return "inappropriate_fallback";
	case 90: return "user_canceled";
	case 100: return "no_renegotiation";
	case 109: return "missing_extension";
	case 110: return "unsupported_extension";
	case 112: return "unrecognized_name";
	default: return "unknown alert";
	}
}

void
tls_strerror(int err, char *buf, size_t cap)
{
	const char *w;

	if (err == BR_ERR_BAD_VERSION) {
		snprintf(buf, cap, "server does not answer in TLS 1.2 records "
		    "(not TLS on this port?)");
		return;
	}
	if (err == BR_ERR_UNSUPPORTED_VERSION ||
	    err == BR_ERR_RECV_FATAL_ALERT + 70) {
		snprintf(buf, cap, "server offers no TLS 1.2 (BearSSL has no "
		    "TLS 1.3)");
		return;
	}
	if (err == BR_ERR_RECV_FATAL_ALERT + 40) {
		snprintf(buf, cap, "server refused the handshake (alert "
		    "handshake_failure: no common cipher suite or curve?)");
		return;
	}
	if (err >= BR_ERR_RECV_FATAL_ALERT && err < BR_ERR_SEND_FATAL_ALERT) {
		snprintf(buf, cap, "server sent TLS alert %d (%s)",
		    err - BR_ERR_RECV_FATAL_ALERT,
		    alert_name(err - BR_ERR_RECV_FATAL_ALERT));
		return;
	}
	if (err >= BR_ERR_SEND_FATAL_ALERT) {
		snprintf(buf, cap, "TLS alert %d (%s) sent to the server",
		    err - BR_ERR_SEND_FATAL_ALERT,
		    alert_name(err - BR_ERR_SEND_FATAL_ALERT));
		return;
	}
	switch (err) {
	case BR_ERR_BAD_PARAM: w = "bad TLS parameter"; break;
	case BR_ERR_BAD_STATE: w = "TLS engine in a bad state"; break;
	case BR_ERR_BAD_LENGTH: w = "TLS record of a bad length"; break;
	case BR_ERR_TOO_LARGE: w = "TLS record too large (server ignored "
	    "max_fragment_length?)"; break;
	case BR_ERR_BAD_MAC: w = "TLS record failed its integrity check";
	    break;
	case BR_ERR_NO_RANDOM: w = "no random source for TLS"; break;
	case BR_ERR_UNKNOWN_TYPE: w = "unknown TLS record type (not a TLS "
	    "server?)"; break;
	case BR_ERR_UNEXPECTED: w = "unexpected TLS message"; break;
	case BR_ERR_BAD_CCS: w = "bad ChangeCipherSpec"; break;
	case BR_ERR_BAD_ALERT: w = "bad TLS alert"; break;
	case BR_ERR_BAD_HANDSHAKE: w = "bad TLS handshake message"; break;
	case BR_ERR_OVERSIZED_ID: w = "oversized TLS session ID"; break;
	case BR_ERR_BAD_CIPHER_SUITE: w = "server chose a cipher suite we "
	    "did not offer"; break;
	case BR_ERR_BAD_COMPRESSION: w = "server chose compression"; break;
	case BR_ERR_BAD_FRAGLEN: w = "bad max_fragment_length answer"; break;
	case BR_ERR_BAD_SECRENEG: w = "bad secure renegotiation"; break;
	case BR_ERR_EXTRA_EXTENSION: w = "server sent an extension we did "
	    "not ask for"; break;
	case BR_ERR_BAD_SNI: w = "bad server name (SNI)"; break;
	case BR_ERR_BAD_HELLO_DONE: w = "bad ServerHelloDone"; break;
	case BR_ERR_LIMIT_EXCEEDED: w = "TLS limit exceeded"; break;
	case BR_ERR_BAD_FINISHED: w = "bad TLS Finished message"; break;
	case BR_ERR_RESUME_MISMATCH: w = "TLS session resumption mismatch";
	    break;
	case BR_ERR_INVALID_ALGORITHM: w = "server used an algorithm we did "
	    "not offer"; break;
	case BR_ERR_BAD_SIGNATURE: w = "bad server key exchange signature";
	    break;
	case BR_ERR_WRONG_KEY_USAGE: w = "server key usage does not allow "
	    "this cipher suite"; break;
	case BR_ERR_NO_CLIENT_AUTH: w = "server requires a client "
	    "certificate"; break;
	case BR_ERR_IO: w = "TLS I/O error"; break;
	default: w = NULL; break;
	}
	if (w != NULL)
		snprintf(buf, cap, "%s", w);
	else
		snprintf(buf, cap, "TLS error %d", err);
}
