/*
 * x509.c — trust anchors, the checking x509 class, pins, the clock rule
 * and failure words.  See x509.h for the contract.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "x509.h"

/* Days from 0000-01-01 to 1970-01-01 in BearSSL's proleptic calendar. */
#define DAYS_TO_EPOCH	719528

/* ---- small helpers ---------------------------------------------------- */

/* A bounded text buffer: bytes outside 0x20..0x7e are written as \xNN;
 * what does not fit is dropped and the text ends in "...". */
struct sbuf {
	char *b;
	size_t cap, len;
	int full;
};

static void
sb_init(struct sbuf *s, char *b, size_t cap)
{
	s->b = b;
	s->cap = cap;
	s->len = 0;
	s->full = 0;
	if (cap > 0)
		b[0] = '\0';
}

static void
sb_raw(struct sbuf *s, const char *p, size_t n)
{
	if (s->full || s->cap == 0)
		return;
	if (n >= s->cap - s->len) {
		s->full = 1;
		if (s->cap >= 4) {
			size_t at = s->len < s->cap - 4 ? s->len : s->cap - 4;

			memcpy(s->b + at, "...", 4);
			s->len = at + 3;
		}
		return;
	}
	memcpy(s->b + s->len, p, n);
	s->len += n;
	s->b[s->len] = '\0';
}

static void
sb_str(struct sbuf *s, const char *str)
{
	sb_raw(s, str, strlen(str));
}

static void
sb_esc(struct sbuf *s, const unsigned char *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char t[4];
	size_t i, run;

	for (i = 0; i < n; i += run) {
		if (p[i] >= 0x20 && p[i] <= 0x7e && p[i] != '\\') {
			for (run = 1; i + run < n && p[i + run] >= 0x20 &&
			    p[i + run] <= 0x7e && p[i + run] != '\\'; run++)
				;
			sb_raw(s, (const char *)p + i, run);
		} else {
			t[0] = '\\';
			t[1] = 'x';
			t[2] = hex[p[i] >> 4];
			t[3] = hex[p[i] & 15];
			sb_raw(s, t, 4);
			run = 1;
		}
	}
}

static void
sb_num(struct sbuf *s, unsigned long v)
{
	char t[24];
	size_t i = sizeof t;

	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	sb_raw(s, t + i, sizeof t - i);
}

/* ---- DER ---------------------------------------------------------------- */

struct der {
	const unsigned char *p;
	size_t n;
};

/* Take one element off the front of d: its tag and its value.  With
 * clamp, a value running past the end of d is cut to what is there (the
 * outer levels of a certificate longer than X509_CERT_BUF). */
static int
der_get(struct der *d, int *tag, struct der *v, int clamp)
{
	size_t len, i, k;

	if (d->n < 2)
		return -1;
	*tag = d->p[0];
	if ((*tag & 0x1f) == 0x1f)
		return -1;		/* multi-byte tags: not in X.509 */
	len = d->p[1];
	i = 2;
	if (len & 0x80) {
		k = len & 0x7f;
		if (k == 0 || k > 4 || d->n < 2 + k)
			return -1;
		for (len = 0; k > 0; k--)
			len = (len << 8) | d->p[i++];
	}
	if (len > d->n - i) {
		if (!clamp)
			return -1;
		len = d->n - i;
	}
	v->p = d->p + i;
	v->n = len;
	d->p += i + len;
	d->n -= i + len;
	return 0;
}

static const struct {
	const char *name;
	unsigned char len;
	unsigned char oid[10];
} attr_names[] = {
	{ "CN", 3, { 0x55, 0x04, 0x03 } },
	{ "serialNumber", 3, { 0x55, 0x04, 0x05 } },
	{ "C", 3, { 0x55, 0x04, 0x06 } },
	{ "L", 3, { 0x55, 0x04, 0x07 } },
	{ "ST", 3, { 0x55, 0x04, 0x08 } },
	{ "STREET", 3, { 0x55, 0x04, 0x09 } },
	{ "O", 3, { 0x55, 0x04, 0x0a } },
	{ "OU", 3, { 0x55, 0x04, 0x0b } },
	{ "emailAddress", 9,
	  { 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01 } },
	{ "DC", 10,
	  { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19 } },
	{ "UID", 10,
	  { 0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01 } },
};

static void
oid_text(struct sbuf *s, const struct der *oid)
{
	unsigned long arc, x;
	size_t i;
	int first;

	for (i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++)
		if (oid->n == attr_names[i].len &&
		    memcmp(oid->p, attr_names[i].oid, oid->n) == 0) {
			sb_str(s, attr_names[i].name);
			return;
		}
	/* dotted decimal; an arc over 2^28 is shown cut, never overflows */
	if (oid->n == 0) {
		sb_str(s, "?");
		return;
	}
	for (i = 0, arc = 0, first = 1; i < oid->n; i++) {
		arc = ((arc & 0x1fffffUL) << 7) | (oid->p[i] & 0x7f);
		if (oid->p[i] & 0x80)
			continue;
		if (first) {
			x = arc < 80 ? arc / 40 : 2;
			sb_num(s, x);
			sb_str(s, ".");
			sb_num(s, arc - x * 40);
			first = 0;
		} else {
			sb_str(s, ".");
			sb_num(s, arc);
		}
		arc = 0;
	}
}

/* A directory string value: BMPString as its low bytes, others as
 * bytes; anything outside printable ASCII is escaped by sb_esc. */
static void
value_text(struct sbuf *s, int tag, const struct der *v)
{
	unsigned char c;
	size_t i;

	if (tag == 0x1e) {
		for (i = 0; i + 1 < v->n; i += 2) {
			c = v->p[i] == 0 ? v->p[i + 1] : '?';
			sb_esc(s, &c, 1);
		}
		return;
	}
	sb_esc(s, v->p, v->n);
}

#define DN_RDNS_MAX	16

int
x509_dn_text(const unsigned char *dn, size_t len, char *buf, size_t cap)
{
	struct der d = { dn, len }, rdn[DN_RDNS_MAX], set, atv, oid, val;
	struct sbuf s;
	int n, i, tag, first;

	sb_init(&s, buf, cap);
	if (der_get(&d, &tag, &set, 0) < 0 || tag != 0x30 || d.n != 0)
		return -1;
	d = set;
	for (n = 0; d.n > 0; ) {
		if (der_get(&d, &tag, &set, 0) < 0 || tag != 0x31)
			return -1;
		if (n < DN_RDNS_MAX)
			rdn[n++] = set;
	}
	for (i = n - 1; i >= 0; i--) {
		set = rdn[i];
		for (first = 1; set.n > 0; first = 0) {
			if (der_get(&set, &tag, &atv, 0) < 0 || tag != 0x30 ||
			    der_get(&atv, &tag, &oid, 0) < 0 || tag != 0x06 ||
			    der_get(&atv, &tag, &val, 0) < 0)
				return -1;
			if (!first)
				sb_str(&s, "+");
			else if (i != n - 1)
				sb_str(&s, ", ");
			oid_text(&s, &oid);
			sb_str(&s, "=");
			value_text(&s, tag, &val);
		}
	}
	return 0;
}

/* The last CN of a DER Name, or an empty value. */
static void
dn_cn(const unsigned char *dn, size_t len, struct der *cn)
{
	struct der d = { dn, len }, set, atv, oid, val;
	int tag;

	cn->p = NULL;
	cn->n = 0;
	if (der_get(&d, &tag, &set, 0) < 0 || tag != 0x30)
		return;
	d = set;
	while (d.n > 0 && der_get(&d, &tag, &set, 0) == 0 && tag == 0x31)
		while (set.n > 0 && der_get(&set, &tag, &atv, 0) == 0 &&
		    der_get(&atv, &tag, &oid, 0) == 0 &&
		    der_get(&atv, &tag, &val, 0) == 0)
			if (oid.n == 3 && memcmp(oid.p, "\x55\x04\x03", 3) == 0)
				*cn = val;
}

static void
ip_text(struct sbuf *s, const struct der *v)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;
	char t[5];

	if (v->n == 4) {
		for (i = 0; i < 4; i++) {
			if (i > 0)
				sb_str(s, ".");
			sb_num(s, v->p[i]);
		}
	} else if (v->n == 16) {
		for (i = 0; i < 16; i += 2) {
			if (i > 0)
				sb_str(s, ":");
			t[0] = hex[v->p[i] >> 4];
			t[1] = hex[v->p[i] & 15];
			t[2] = hex[v->p[i + 1] >> 4];
			t[3] = hex[v->p[i + 1] & 15];
			sb_raw(s, t, 4);
		}
	} else
		sb_str(s, "?");
}

/* The host as ip_text() writes an iPAddress SAN ("192.0.2.1", or eight
 * 4-digit groups for IPv6), into out[X509_IP_TEXT]; 0 when host is an IP
 * literal, -1 otherwise. */
static int
ip_canon(const char *host, char *out)
{
	unsigned char a[16];
	struct sbuf s;
	struct der d = { a, 0 };

	if (inet_pton(AF_INET, host, a) == 1)
		d.n = 4;
	else if (inet_pton(AF_INET6, host, a) == 1)
		d.n = 16;
	else
		return -1;
	sb_init(&s, out, X509_IP_TEXT);
	ip_text(&s, &d);
	return 0;
}

/* Append the SAN names found in the extensions block ext (the content of
 * the [3] element) to s; returns how many were added. */
static int
san_names(struct sbuf *s, struct der ext, int count)
{
	struct der exts, e, oid, val, san, gn;
	int tag;

	if (der_get(&ext, &tag, &exts, 0) < 0 || tag != 0x30)
		return count;
	while (exts.n > 0) {
		if (der_get(&exts, &tag, &e, 0) < 0 || tag != 0x30 ||
		    der_get(&e, &tag, &oid, 0) < 0 || tag != 0x06)
			return count;
		if (oid.n != 3 || memcmp(oid.p, "\x55\x1d\x11", 3) != 0)
			continue;
		if (der_get(&e, &tag, &val, 0) < 0)
			return count;
		if (tag == 0x01 && der_get(&e, &tag, &val, 0) < 0)
			return count;
		if (tag != 0x04 || der_get(&val, &tag, &san, 0) < 0 ||
		    tag != 0x30)
			return count;
		while (san.n > 0 && der_get(&san, &tag, &gn, 0) == 0) {
			if (tag != 0x82 && tag != 0x87)
				continue;
			if (count++ > 0)
				sb_str(s, ", ");
			if (tag == 0x82)
				sb_esc(s, gn.p, gn.n);
			else
				ip_text(s, &gn);
		}
	}
	return count;
}

/* 1 when `one` is one of the ", "-separated entries of list (case does
 * not matter in host names). */
static int
name_listed(const char *list, const char *one)
{
	size_t n = strlen(one);
	const char *p = list, *q;

	while (*p != '\0') {
		q = strstr(p, ", ");
		if (q == NULL)
			q = p + strlen(p);
		if ((size_t)(q - p) == n && strncasecmp(p, one, n) == 0)
			return 1;
		p = *q != '\0' ? q + 2 : q;
	}
	return 0;
}

int
x509_cert_text(const unsigned char *der, size_t len, char *subject,
    char *issuer, size_t dncap, int *self_issued, char *names,
    size_t namescap)
{
	struct der d = { der, len }, cert, tbs, el, iss, sub, cn;
	struct sbuf s;
	int tag, count;

	if (subject != NULL && dncap > 0)
		subject[0] = '\0';
	if (issuer != NULL && dncap > 0)
		issuer[0] = '\0';
	if (names != NULL && namescap > 0)
		names[0] = '\0';
	if (self_issued != NULL)
		*self_issued = 0;
	if (der_get(&d, &tag, &cert, 1) < 0 || tag != 0x30 ||
	    der_get(&cert, &tag, &tbs, 1) < 0 || tag != 0x30 ||
	    der_get(&tbs, &tag, &el, 0) < 0)
		return -1;
	if (tag == 0xa0 && der_get(&tbs, &tag, &el, 0) < 0)
		return -1;
	if (tag != 0x02 ||				/* serial */
	    der_get(&tbs, &tag, &el, 0) < 0 || tag != 0x30)	/* sigalg */
		return -1;
	iss.p = tbs.p;		/* names are kept whole, with their tag */
	if (der_get(&tbs, &tag, &el, 0) < 0 || tag != 0x30)
		return -1;
	iss.n = (size_t)(tbs.p - iss.p);
	if (issuer != NULL)
		x509_dn_text(iss.p, iss.n, issuer, dncap);
	if (der_get(&tbs, &tag, &el, 0) < 0 || tag != 0x30)	/* validity */
		return 0;
	sub.p = tbs.p;
	if (der_get(&tbs, &tag, &el, 0) < 0 || tag != 0x30)
		return 0;
	sub.n = (size_t)(tbs.p - sub.p);
	if (subject != NULL)
		x509_dn_text(sub.p, sub.n, subject, dncap);
	if (self_issued != NULL)
		*self_issued = iss.n == sub.n && memcmp(iss.p, sub.p,
		    iss.n) == 0;
	if (names == NULL)
		return 0;
	sb_init(&s, names, namescap);
	count = 0;
	if (der_get(&tbs, &tag, &el, 0) == 0 && tag == 0x30)	/* spki */
		while (tbs.n > 0 && der_get(&tbs, &tag, &el, 0) == 0)
			if (tag == 0xa3)
				count = san_names(&s, el, count);
	dn_cn(sub.p, sub.n, &cn);
	if (cn.n > 0) {
		char one[X509_NAMES_TEXT];
		struct sbuf c;

		/* add the CN unless a SAN already says the same */
		sb_init(&c, one, sizeof one);
		sb_esc(&c, cn.p, cn.n);
		if (!name_listed(names, one)) {
			if (count++ > 0)
				sb_str(&s, ", ");
			sb_str(&s, one);
		}
	}
	return 0;
}

/* ---- trust anchors ------------------------------------------------------ */

/* The smallest PEM certificate object takes more than this many bytes of
 * the file, so file size / X509_PEM_MIN bounds the anchor count. */
#define X509_PEM_MIN	64

struct loader {
	struct x509_store *s;
	br_x509_decoder_context dc;
	unsigned char *data;		/* arena part for names and keys */
	size_t cap, used, mark;		/* mark: start of the current cert */
	size_t maxta;
	int overflow;
	int in_cert;
};

static void *
ld_take(struct loader *l, const void *p, size_t n)
{
	unsigned char *d;

	if (n > l->cap - l->used) {
		l->overflow = 1;
		return NULL;
	}
	d = l->data + l->used;
	memcpy(d, p, n);
	l->used += n;
	return d;
}

static void
ld_dn(void *ctx, const void *buf, size_t len)
{
	ld_take(ctx, buf, len);
}

static void
ld_der(void *ctx, const void *buf, size_t len)
{
	struct loader *l = ctx;

	br_x509_decoder_push(&l->dc, buf, len);
}

static void
ld_begin(struct loader *l, const char *name)
{
	l->in_cert = strcmp(name, "CERTIFICATE") == 0 ||
	    strcmp(name, "X509 CERTIFICATE") == 0;
	if (!l->in_cert)
		return;
	l->mark = l->used;
	l->overflow = 0;
	br_x509_decoder_init(&l->dc, ld_dn, l);
}

/* One certificate decoded: make it an anchor, its DN already copied to
 * data[mark..used), its key copied now. */
static void
ld_end(struct loader *l)
{
	struct x509_store *s = l->s;
	br_x509_trust_anchor *ta;
	const br_x509_pkey *pk;

	if (!l->in_cert)
		return;
	l->in_cert = 0;
	pk = br_x509_decoder_get_pkey(&l->dc);
	if (pk == NULL || l->overflow || s->n >= l->maxta) {
		l->used = l->mark;
		s->skipped++;
		return;
	}
	ta = &s->ta[s->n];
	memset(ta, 0, sizeof *ta);
	ta->dn.data = l->data + l->mark;
	ta->dn.len = l->used - l->mark;
	ta->flags = br_x509_decoder_isCA(&l->dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = ld_take(l, pk->key.rsa.n,
		    pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = ld_take(l, pk->key.rsa.e,
		    pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
	} else {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = ld_take(l, pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
	}
	if (l->overflow) {
		l->used = l->mark;
		s->skipped++;
		return;
	}
	s->n++;
}

/* Push bytes through the PEM decoder, acting on its events. */
static int
ld_push(struct loader *l, br_pem_decoder_context *pc, const unsigned char *p,
    size_t n)
{
	size_t k;

	while (n > 0) {
		k = br_pem_decoder_push(pc, p, n);
		p += k;
		n -= k;
		switch (br_pem_decoder_event(pc)) {
		case BR_PEM_BEGIN_OBJ:
			ld_begin(l, br_pem_decoder_name(pc));
			br_pem_decoder_setdest(pc, l->in_cert ? ld_der : NULL,
			    l);
			break;
		case BR_PEM_END_OBJ:
			ld_end(l);
			break;
		case BR_PEM_ERROR:
			return -1;
		}
	}
	return 0;
}

int
x509_store_load(struct x509_store *s, const char *path, struct err *e)
{
	br_pem_decoder_context pc;
	struct loader l;
	struct stat sb;
	unsigned char chunk[X509_PEM_CHUNK];
	size_t left, want;
	ssize_t r;
	int fd, rc = -1;

	memset(s, 0, sizeof *s);
	snprintf(s->path, sizeof s->path, "%s", path);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(e, EX_CONFIG, "%s: cannot read CA file: %s",
		    path, strerror(errno));
	if (fstat(fd, &sb) < 0) {
		err_set(e, EX_CONFIG, "%s: cannot read CA file: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_size <= 0 ||
	    sb.st_size > X509_CA_FILE_MAX) {
		err_set(e, EX_CONFIG, "%s: cannot read CA file: %s", path,
		    !S_ISREG(sb.st_mode) ? "not a regular file" :
		    sb.st_size <= 0 ? "empty file" :
		    "larger than X509_CA_FILE_MAX (16 MB)");
		close(fd);
		return -1;
	}
	/*
	 * One arena: the anchor table in front, then names and keys.  Both
	 * are bounded by the file size (DER is shorter than its base64, a
	 * name and a key are parts of the DER), so nothing is reallocated;
	 * the untouched tail of a large allocation costs address space only.
	 */
	memset(&l, 0, sizeof l);
	l.s = s;
	l.maxta = (size_t)sb.st_size / X509_PEM_MIN + 1;
	l.cap = (size_t)sb.st_size;
	s->arena = malloc(l.maxta * sizeof *s->ta + l.cap);
	if (s->arena == NULL) {
		close(fd);
		return err_set(e, EX_OSERR, "%s: cannot read CA file: out of "
		    "memory", path);
	}
	s->ta = s->arena;
	l.data = (unsigned char *)s->arena + l.maxta * sizeof *s->ta;
	br_pem_decoder_init(&pc);
	for (left = (size_t)sb.st_size; left > 0; left -= (size_t)r) {
		want = left < sizeof chunk ? left : sizeof chunk;
		r = read(fd, chunk, want);
		if (r < 0 && errno == EINTR) {
			r = 0;
			continue;
		}
		if (r < 0) {
			err_set(e, EX_CONFIG, "%s: cannot read CA file: %s",
			    path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		if (ld_push(&l, &pc, chunk, (size_t)r) < 0)
			goto bad;
	}
	/* the decoder needs a line end after the last END line */
	if (ld_push(&l, &pc, (const unsigned char *)"\n", 1) < 0)
		goto bad;
	if (s->n == 0) {
		err_set(e, EX_CONFIG, "%s: no certificate in CA file", path);
		goto out;
	}
	s->arena_used = l.maxta * sizeof *s->ta + l.used;
	rc = 0;
	goto out;
bad:
	err_set(e, EX_CONFIG, "%s: bad PEM data in CA file", path);
out:
	close(fd);
	if (rc < 0)
		x509_store_free(s);
	return rc;
}

void
x509_store_free(struct x509_store *s)
{
	free(s->arena);
	s->arena = NULL;
	s->ta = NULL;
	s->n = 0;
}

/* ---- elliptic curves ----------------------------------------------------- */

/*
 * The curves TLS servers use for ECDHE and certificates: P-256 with the
 * fast constant-time m31 code, P-384 and P-521 with the generic i31 code.
 * BearSSL's br_ec_all_m31 also carries Curve25519 (5 KB); every mail
 * server offers P-256, so on a 250 KB budget X25519 is left out (Exim's
 * GnuTLS picks P-256 even when a client offers X25519 first).
 */
static const br_ec_impl *
ec_for(int curve)
{
	return curve == BR_EC_secp256r1 ? &br_ec_p256_m31 : &br_ec_prime_i31;
}

static const unsigned char *
ec_generator(int curve, size_t *len)
{
	return ec_for(curve)->generator(curve, len);
}

static const unsigned char *
ec_order(int curve, size_t *len)
{
	return ec_for(curve)->order(curve, len);
}

static size_t
ec_xoff(int curve, size_t *len)
{
	return ec_for(curve)->xoff(curve, len);
}

static uint32_t
ec_mul(unsigned char *g, size_t glen, const unsigned char *x, size_t xlen,
    int curve)
{
	return ec_for(curve)->mul(g, glen, x, xlen, curve);
}

static size_t
ec_mulgen(unsigned char *r, const unsigned char *x, size_t xlen, int curve)
{
	return ec_for(curve)->mulgen(r, x, xlen, curve);
}

static uint32_t
ec_muladd(unsigned char *a, const unsigned char *b, size_t len,
    const unsigned char *x, size_t xlen, const unsigned char *y, size_t ylen,
    int curve)
{
	return ec_for(curve)->muladd(a, b, len, x, xlen, y, ylen, curve);
}

const br_ec_impl x509_ec = {
	(uint32_t)1 << BR_EC_secp256r1 | (uint32_t)1 << BR_EC_secp384r1 |
	    (uint32_t)1 << BR_EC_secp521r1,
	ec_generator, ec_order, ec_xoff, ec_mul, ec_mulgen, ec_muladd
};

/* ---- remembered signatures (x509.h) -------------------------------------- */

#ifdef TERN_TEST
int x509_memo_hits;
#endif

static struct {
	unsigned char key[X509_MEMO_MAX][32];
	int n, next, dirty;
	char path[CONF_STR_MAX + 16];
} memo;

static void
memo_part(br_sha256_context *h, const void *p, size_t len)
{
	unsigned char l[4];

	l[0] = (unsigned char)(len >> 24);
	l[1] = (unsigned char)(len >> 16);
	l[2] = (unsigned char)(len >> 8);
	l[3] = (unsigned char)len;
	br_sha256_update(h, l, 4);
	br_sha256_update(h, p, len);
}

static int
memo_has(const unsigned char key[32])
{
	int i;

	for (i = 0; i < memo.n; i++)
		if (memcmp(memo.key[i], key, 32) == 0)
			return 1;
	return 0;
}

static void
memo_add(const unsigned char key[32])
{
	memcpy(memo.key[memo.next], key, 32);
	memo.next = (memo.next + 1) % X509_MEMO_MAX;
	if (memo.n < X509_MEMO_MAX)
		memo.n++;
	memo.dirty = 1;
}

/* br_ecdsa_vrfy for x509_minimal: remembered, else checked. */
static uint32_t
memo_ecdsa(const br_ec_impl *impl, const void *hash, size_t hash_len,
    const br_ec_public_key *pk, const void *sig, size_t sig_len)
{
	br_sha256_context h;
	unsigned char key[32], curve = (unsigned char)pk->curve;
	uint32_t r;

	br_sha256_init(&h);
	memo_part(&h, &curve, 1);
	memo_part(&h, pk->q, pk->qlen);
	memo_part(&h, hash, hash_len);
	memo_part(&h, sig, sig_len);
	br_sha256_out(&h, key);
	if (memo_has(key)) {
#ifdef TERN_TEST
		x509_memo_hits++;
#endif
		return 1;
	}
	r = br_ecdsa_i31_vrfy_asn1(impl, hash, hash_len, pk, sig, sig_len);
	if (r == 1)
		memo_add(key);
	return r;
}

#define MEMO_MAGIC	"tern-tls-memo 1\n"	/* then 32-byte keys */

void
x509_memo_load(const char *state_dir)
{
	unsigned char buf[sizeof MEMO_MAGIC - 1 + X509_MEMO_MAX * 32];
	ssize_t n;
	int fd, i;

	memo.n = memo.next = memo.dirty = 0;
	memo.path[0] = '\0';
	if (state_dir == NULL || state_dir[0] == '\0' ||
	    (size_t)snprintf(memo.path, sizeof memo.path, "%s/%s", state_dir,
	    X509_MEMO_FILE) >= sizeof memo.path) {
		memo.path[0] = '\0';
		return;
	}
	if ((fd = open(memo.path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return;
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < (ssize_t)sizeof MEMO_MAGIC - 1 ||
	    memcmp(buf, MEMO_MAGIC, sizeof MEMO_MAGIC - 1) != 0)
		return;
	/* whole keys only: a torn tail is dropped */
	n = (n - (ssize_t)sizeof MEMO_MAGIC + 1) / 32;
	for (i = 0; i < n; i++)
		memo_add(buf + sizeof MEMO_MAGIC - 1 + 32 * i);
	memo.dirty = 0;
}

int
x509_memo_save(struct err *e)
{
	unsigned char buf[sizeof MEMO_MAGIC - 1 + X509_MEMO_MAX * 32];
	size_t len = sizeof MEMO_MAGIC - 1;
	int k;

	if (!memo.dirty || memo.path[0] == '\0')
		return 0;
	memo.dirty = 0;
	memcpy(buf, MEMO_MAGIC, len);
	/* oldest first, so that a reload keeps the ring's order */
	for (k = 0; k < memo.n; k++, len += 32)
		memcpy(buf + len, memo.key[(memo.next - memo.n + k +
		    X509_MEMO_MAX) % X509_MEMO_MAX], 32);
	return file_replace(memo.path, buf, len, e);
}

/* ---- the checking class ------------------------------------------------- */

#define XC(ctx)	((struct x509_check *)(void *)(ctx))

static void
xc_start_chain(const br_x509_class **ctx, const char *server_name)
{
	struct x509_check *x = XC(ctx);

	char ip[X509_IP_TEXT];

	(void)server_name;	/* NULL for an IP literal: we check host */
	x->ncert = 0;
	x->names[0] = '\0';
	x->leaf_key_ok = 0;
	x->pin_matched = 0;
	x->result = 0;
	/* x509_minimal matches DNS names only: an IP host is matched
	 * against the leaf's iPAddress names in xc_end_chain instead */
	if (x->npin == 0)
		x->mc.vtable->start_chain(&x->mc.vtable,
		    ip_canon(x->host, ip) == 0 ? NULL : x->host);
}

static void
xc_start_cert(const br_x509_class **ctx, uint32_t length)
{
	struct x509_check *x = XC(ctx);

	x->certlen = length;
	x->buflen = 0;
	br_sha256_init(&x->sha);
	br_x509_decoder_init(&x->dc, NULL, NULL);
	if (x->npin == 0)
		x->mc.vtable->start_cert(&x->mc.vtable, length);
}

static void
xc_append(const br_x509_class **ctx, const unsigned char *buf, size_t len)
{
	struct x509_check *x = XC(ctx);
	size_t k;

	br_sha256_update(&x->sha, buf, len);
	k = sizeof x->buf - x->buflen;
	if (k > len)
		k = len;
	memcpy(x->buf + x->buflen, buf, k);
	x->buflen += k;
	br_x509_decoder_push(&x->dc, buf, len);
	if (x->npin == 0)
		x->mc.vtable->append(&x->mc.vtable, buf, len);
}

static void
copy_key(struct x509_check *x, const br_x509_pkey *pk)
{
	unsigned char *d = x->leaf_key_data;

	/* BR_X509_BUFSIZE_KEY holds any key the decoder returns */
	x->leaf_key = *pk;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		memcpy(d, pk->key.rsa.n, pk->key.rsa.nlen);
		x->leaf_key.key.rsa.n = d;
		memcpy(d + pk->key.rsa.nlen, pk->key.rsa.e, pk->key.rsa.elen);
		x->leaf_key.key.rsa.e = d + pk->key.rsa.nlen;
	} else {
		memcpy(d, pk->key.ec.q, pk->key.ec.qlen);
		x->leaf_key.key.ec.q = d;
	}
	x->leaf_key_ok = 1;
}

static void
xc_end_cert(const br_x509_class **ctx)
{
	struct x509_check *x = XC(ctx);
	struct x509_cert *c;
	const br_x509_pkey *pk;

	if (x->npin == 0)
		x->mc.vtable->end_cert(&x->mc.vtable);
	if (x->ncert < X509_CHAIN_MAX) {
		c = &x->cert[x->ncert];
		memset(c, 0, sizeof *c);
		br_sha256_out(&x->sha, c->sha256);
		c->len = x->certlen;
		x509_cert_text(x->buf, x->buflen, c->subject, c->issuer,
		    sizeof c->subject, &c->self_issued,
		    x->ncert == 0 ? x->names : NULL, sizeof x->names);
		if (br_x509_decoder_last_error(&x->dc) == 0) {
			/* validity has no accessor in BearSSL 0.6; the
			 * fields are in the public struct */
			c->dated = 1;
			c->not_before = x509_unix_time(x->dc.notbefore_days,
			    x->dc.notbefore_seconds);
			c->not_after = x509_unix_time(x->dc.notafter_days,
			    x->dc.notafter_seconds);
			c->is_ca = br_x509_decoder_isCA(&x->dc);
			pk = br_x509_decoder_get_pkey(&x->dc);
			if (x->ncert == 0 && pk != NULL)
				copy_key(x, pk);
		}
	}
	x->ncert++;
}

static unsigned
xc_end_chain(const br_x509_class **ctx)
{
	struct x509_check *x = XC(ctx);
	int i;

	if (x->npin == 0) {
		char ip[X509_IP_TEXT];

		x->result = x->mc.vtable->end_chain(&x->mc.vtable);
		if (x->result == 0 && ip_canon(x->host, ip) == 0 &&
		    !name_listed(x->names, ip))
			x->result = BR_ERR_X509_BAD_SERVER_NAME;
		return x->result;
	}
	if (x->ncert == 0)
		return x->result = BR_ERR_X509_EMPTY_CHAIN;
	for (i = 0; i < x->npin; i++)
		if (memcmp(x->pin[i], x->cert[0].sha256, 32) == 0)
			x->pin_matched = 1;
	if (!x->pin_matched)
		return x->result = X509_ERR_PIN;
	if (!x->leaf_key_ok)
		return x->result = BR_ERR_X509_UNSUPPORTED;
	return x->result = 0;
}

static const br_x509_pkey *
xc_get_pkey(const br_x509_class *const *ctx, unsigned *usages)
{
	struct x509_check *x = XC(ctx);

	if (x->npin == 0)
		return x->mc.vtable->get_pkey(&x->mc.vtable, usages);
	if (!x->pin_matched || !x->leaf_key_ok)
		return NULL;
	if (usages != NULL)
		*usages = BR_KEYTYPE_KEYX | BR_KEYTYPE_SIGN;
	return &x->leaf_key;
}

static const br_x509_class xc_vtable = {
	sizeof(struct x509_check),
	xc_start_chain,
	xc_start_cert,
	xc_append,
	xc_end_cert,
	xc_end_chain,
	xc_get_pkey
};

void
x509_check_init(struct x509_check *x, const struct x509_store *store,
    const char *host, const unsigned char (*pin)[32], int npin,
    long long now)
{
	static const br_hash_class *hashes[] = {
		&br_sha1_vtable, &br_sha224_vtable, &br_sha256_vtable,
		&br_sha384_vtable, &br_sha512_vtable
	};
	size_t i;

	memset(x, 0, sizeof *x);
	x->vtable = &xc_vtable;
	x->store = store;
	x->host = host;
	x->pin = pin;
	x->npin = npin;
	x->now = now;
	br_x509_minimal_init(&x->mc, &br_sha256_vtable,
	    store != NULL ? store->ta : NULL, store != NULL ? store->n : 0);
	for (i = 0; i < sizeof hashes / sizeof hashes[0]; i++)
		br_x509_minimal_set_hash(&x->mc, br_sha1_ID + (int)i,
		    hashes[i]);
	br_x509_minimal_set_rsa(&x->mc, X509_RSA_VRFY);
	br_x509_minimal_set_ecdsa(&x->mc, &x509_ec, memo_ecdsa);
	br_x509_minimal_set_minrsa(&x->mc, X509_MIN_RSA_BITS / 8);
	/* after init, which clears it: days since 0000-01-01, seconds */
	br_x509_minimal_set_time(&x->mc, (uint32_t)(now / 86400 +
	    DAYS_TO_EPOCH), (uint32_t)(now % 86400));
}

const br_x509_class **
x509_check_class(struct x509_check *x)
{
	return &x->vtable;
}

/* ---- words -------------------------------------------------------------- */

long long
x509_unix_time(unsigned long days, unsigned long secs)
{
	return ((long long)days - DAYS_TO_EPOCH) * 86400 + (long long)secs;
}

long long
x509_clock(long long wall, int *floored)
{
	*floored = wall < (long long)TERN_BUILD_DATE;
	return *floored ? (long long)TERN_BUILD_DATE : wall;
}

void
x509_fingerprint(const unsigned char h[32], char out[X509_FP_TEXT])
{
	static const char hex[] = "0123456789ABCDEF";
	char *p;
	int i;

	memcpy(out, "sha256:", 7);
	p = out + 7;
	for (i = 0; i < 32; i++) {
		if (i > 0)
			*p++ = ':';
		*p++ = hex[h[i] >> 4];
		*p++ = hex[h[i] & 15];
	}
	*p = '\0';
}

void
x509_leaf_fingerprint(const struct x509_check *x, char out[X509_FP_TEXT])
{
	if (x->ncert == 0)
		out[0] = '\0';
	else
		x509_fingerprint(x->cert[0].sha256, out);
}

int
x509_temporary(int err)
{
	return err == BR_ERR_X509_EXPIRED || err == BR_ERR_X509_TIME_UNKNOWN;
}

/* UTC ISO 8601 of unix time t (civil-from-days, H. Hinnant). */
static void
iso_time(long long t, char buf[24])
{
	long long z, era, doe, yoe, y, doy, mp, d, m, s;

	s = t % 86400;
	z = t / 86400;
	if (s < 0) {
		s += 86400;
		z--;
	}
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	if (m <= 2)
		y++;
	if (y < 0 || y > 9999) {
		snprintf(buf, 24, "(year out of range)");
		return;
	}
	snprintf(buf, 24, "%04d-%02d-%02dT%02d:%02d:%02dZ", (int)y, (int)m,
	    (int)d, (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
}

/* Which certificate is outside its validity at x->now: its index, or -1;
 * *late is set when it expired, clear when it is not yet valid. */
static int
bad_dates(const struct x509_check *x, int *late)
{
	int i, n = x->ncert < X509_CHAIN_MAX ? x->ncert : X509_CHAIN_MAX;

	for (i = 0; i < n; i++) {
		if (!x->cert[i].dated)
			continue;
		if (x->now > x->cert[i].not_after) {
			*late = 1;
			return i;
		}
		if (x->now < x->cert[i].not_before) {
			*late = 0;
			return i;
		}
	}
	return -1;
}

void
x509_explain(const struct x509_check *x, int err, char *buf, size_t cap)
{
	char t1[24], t2[24];
	const struct x509_cert *c;
	int i, late, last;

	last = (x->ncert < X509_CHAIN_MAX ? x->ncert : X509_CHAIN_MAX) - 1;
	if (x->npin > 0 && err == X509_ERR_PIN && x->ncert > 0) {
		snprintf(buf, cap, "certificate does not match the pinned "
		    "fingerprint");
		return;
	}
	switch (err) {
	case BR_ERR_X509_EXPIRED:
		i = bad_dates(x, &late);
		iso_time(x->now, t2);
		if (i < 0) {
			snprintf(buf, cap, "certificate expired or not yet "
			    "valid (clock %s)", t2);
			return;
		}
		c = &x->cert[i];
		iso_time(late ? c->not_after : c->not_before, t1);
		snprintf(buf, cap, "certificate%s%s %s %s (system clock %s)",
		    i == 0 ? "" : " of ", i == 0 ? "" : c->subject,
		    late ? "expired on" : "not valid before", t1, t2);
		return;
	case BR_ERR_X509_TIME_UNKNOWN:
		snprintf(buf, cap, "certificate validity cannot be checked: "
		    "no clock");
		return;
	case BR_ERR_X509_NOT_TRUSTED:
		if (last < 0)
			snprintf(buf, cap, "certificate not trusted");
		else if (last == 0 && x->cert[0].self_issued)
			snprintf(buf, cap, "self-signed certificate %s",
			    x->cert[0].subject);
		else
			snprintf(buf, cap, "unknown issuer %s",
			    x->cert[last].issuer);
		return;
	case BR_ERR_X509_BAD_SERVER_NAME:
		snprintf(buf, cap, "name mismatch: certificate is for %s; "
		    "not %s", x->names[0] != '\0' ? x->names : "no name",
		    x->host);
		return;
	case BR_ERR_X509_DN_MISMATCH:
		snprintf(buf, cap, "certificate chain out of order");
		return;
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		snprintf(buf, cap, "weak key in the certificate chain (RSA "
		    "below %d bits)", X509_MIN_RSA_BITS);
		return;
	case BR_ERR_X509_NOT_CA:
		snprintf(buf, cap, "an issuing certificate is not a CA");
		return;
	case BR_ERR_X509_FORBIDDEN_KEY_USAGE:
		snprintf(buf, cap, "certificate key usage forbids TLS "
		    "server use");
		return;
	case BR_ERR_X509_CRITICAL_EXTENSION:
		snprintf(buf, cap, "certificate has an unsupported critical "
		    "extension");
		return;
	case BR_ERR_X509_UNSUPPORTED:
		snprintf(buf, cap, "unsupported certificate algorithm (such "
		    "as Ed25519 or RSA-PSS)");
		return;
	case BR_ERR_X509_BAD_SIGNATURE:
		snprintf(buf, cap, "bad certificate signature");
		return;
	case BR_ERR_X509_WRONG_KEY_TYPE:
		snprintf(buf, cap, "certificate key type does not match "
		    "the cipher suite");
		return;
	case BR_ERR_X509_LIMIT_EXCEEDED:
		snprintf(buf, cap, "certificate chain too long or too large");
		return;
	case BR_ERR_X509_EMPTY_CHAIN:
		snprintf(buf, cap, "server sent no certificate");
		return;
	default:
		snprintf(buf, cap, "malformed certificate (BearSSL error %d)",
		    err);
		return;
	}
}
