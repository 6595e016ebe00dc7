/*
 * t_x509.c — trust anchors from PEM, the checking x509 class (CA, name,
 * dates, self-signed, unknown issuer, chain order, pins), failure words,
 * fingerprints and the clock rule.  The certificates are fixed test
 * vectors (EC P-256, made once with `openssl ca`), so every expected
 * string is exact.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t.h"
#include "x509.h"

/* Root "O=Tern Test, CN=Tern Test Root", 2020..2040; leaf "mail.test"
 * (SAN mail.test, localhost, 127.0.0.1) issued by it, 2024..2030; a
 * self-signed "self.test" 2024..2030; an RSA-2048 root "CN=RSA Root". */
static const char pem_ca[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBjDCCATKgAwIBAgICEAAwCgYIKoZIzj0EAwIwLTEXMBUGA1UEAwwOVGVybiBU\n"
	"ZXN0IFJvb3QxEjAQBgNVBAoMCVRlcm4gVGVzdDAeFw0yMDAxMDEwMDAwMDBaFw00\n"
	"MDAxMDEwMDAwMDBaMC0xFzAVBgNVBAMMDlRlcm4gVGVzdCBSb290MRIwEAYDVQQK\n"
	"DAlUZXJuIFRlc3QwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNCAARHs49YLsZPoJaU\n"
	"TZa06r0Yw/AI5ybw/7vtuoXxzak8dQxZtEWgnc3BYr5tPVgBBfzXp3dYPBg8djjm\n"
	"owm2FkRKo0IwQDAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAdBgNV\n"
	"HQ4EFgQUEVPB3Mj6rZXD8Gh0kO3gNAMJ77gwCgYIKoZIzj0EAwIDSAAwRQIhAMDf\n"
	"dglGzZHATtwLU5zAaqYVPJonhg75j9MAQez0gtEtAiAon6ue8MR119bHFa/mA4vo\n"
	"CQi8mmjLXadcRLoacZ0IsQ==\n"
	"-----END CERTIFICATE-----\n"
;
static const char pem_leaf[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIB4DCCAYagAwIBAgICEAEwCgYIKoZIzj0EAwIwLTEXMBUGA1UEAwwOVGVybiBU\n"
	"ZXN0IFJvb3QxEjAQBgNVBAoMCVRlcm4gVGVzdDAeFw0yNDAxMDEwMDAwMDBaFw0z\n"
	"MDAxMDEwMDAwMDBaMCgxEjAQBgNVBAMMCW1haWwudGVzdDESMBAGA1UECgwJVGVy\n"
	"biBUZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEkMIKchISjYmmAf9AB04H\n"
	"/+I1eZiwKMOLeTWLNQj3UMLct9yj+rXskxHCPAcQBUEK/YlZ8PRkimPsDFLhJ7cw\n"
	"o6OBmjCBlzAJBgNVHRMEAjAAMA4GA1UdDwEB/wQEAwIHgDATBgNVHSUEDDAKBggr\n"
	"BgEFBQcDATAlBgNVHREEHjAcggltYWlsLnRlc3SCCWxvY2FsaG9zdIcEfwAAATAd\n"
	"BgNVHQ4EFgQUzWo3oWDAJ6TAOlpuISgWSd/c3I4wHwYDVR0jBBgwFoAUEVPB3Mj6\n"
	"rZXD8Gh0kO3gNAMJ77gwCgYIKoZIzj0EAwIDSAAwRQIgSN4rxh0J3xOaeH4D/pQd\n"
	"LU6+/fxNNmIvOQodm2DWMvcCIQCci1KIiOxU776cetACNb8a+Wfcd15T1RV9WUY6\n"
	"rrV6Vg==\n"
	"-----END CERTIFICATE-----\n"
;
static const char pem_self[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIBWjCCAQCgAwIBAgICEAIwCgYIKoZIzj0EAwIwFDESMBAGA1UEAwwJc2VsZi50\n"
	"ZXN0MB4XDTI0MDEwMTAwMDAwMFoXDTMwMDEwMTAwMDAwMFowFDESMBAGA1UEAwwJ\n"
	"c2VsZi50ZXN0MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEtW+BYhvWHSe1Yz9/\n"
	"be+RVmaoOkDFkSZdDMrovy3ZQ6uYnZfJNyqYvPYS94cUTsY01VR5zAQ2pki7KPKD\n"
	"B4uAGqNCMEAwCQYDVR0TBAIwADAUBgNVHREEDTALgglzZWxmLnRlc3QwHQYDVR0O\n"
	"BBYEFKRaDH+RPazG/XTCtyFMABXrI6xJMAoGCCqGSM49BAMCA0gAMEUCIQC4vfW1\n"
	"u7Hs4UVlHaOSlois7y/RGi8fj8psA1KCIpqrSwIgRBxZ1ATJ9Nz9Kpg7n8QVtULl\n"
	"iKvFtWwYXyRDc9XcEx0=\n"
	"-----END CERTIFICATE-----\n"
;
static const char pem_rsa[] =
	"-----BEGIN CERTIFICATE-----\n"
	"MIIDITCCAgmgAwIBAgIUCJ775RSldxKE8DRyF8WRVQJkliQwDQYJKoZIhvcNAQEL\n"
	"BQAwIDELMAkGA1UEBhMCREUxETAPBgNVBAMMCFJTQSBSb290MB4XDTI2MTEyMjAz\n"
	"MDk1MVoXDTM2MTExOTAzMDk1MVowIDELMAkGA1UEBhMCREUxETAPBgNVBAMMCFJT\n"
	"QSBSb290MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqBtnK1OCf+NS\n"
	"lA0M5IQQnkkM3HQqGxH5MiVMbK+R0xFvpE9HM8kRfxhh7D2Rb8i8FEVYpMMCcDPk\n"
	"KhLAh6HyH8odMaGvyLyFmEuFrJeXztcnr/qXYUDLYEDbVQb13YbMnRftW0qrsyQa\n"
	"9m/6xf7ENqyxQorSpeMAVTj8flBhc+WaGPyrNW21b1/+KJDg5R15wJ6HX5WdSHSV\n"
	"4ErUFm2J5fsowTDcVUNl8JLkokMQw+LTr5WZPBX9oyhxKCdMfFkTRnZHmVLv9F7D\n"
	"JwsYdohLi3nZqFsJxvtOICToAHXkXGvYVee27Nd1L7AzP+YRcPrbSBAwmWk/TWP3\n"
	"vZoC8HeNdQIDAQABo1MwUTAdBgNVHQ4EFgQUQHr+ry1duZnlICk9KbWWz0i65FUw\n"
	"HwYDVR0jBBgwFoAUQHr+ry1duZnlICk9KbWWz0i65FUwDwYDVR0TAQH/BAUwAwEB\n"
	"/zANBgkqhkiG9w0BAQsFAAOCAQEAFRCTMCYWDu156hfq0Rv3wpvPrmh54SBu1Z6h\n"
	"JD+Aebqu1c8Om3nGpwQ3kwo6abOlqb4rGX0PanoxGKh992CsDgvXTufv2YJg/1HQ\n"
	"aqYRWSa0e67ou2AqbRRx7b2SgzSPzgYCrCFQeS5rFMvMTv5N0K005m5RPP7np0o7\n"
	"knLmiBTbzY3uBvyLky2W9CPaQcrFEA3f1/H28pgvIsSuJGyBPSqJ535J4xc9YfM8\n"
	"tD+tRxynwZg60R4j5coVskUfNeU4OUvCofLhmrECZZXJwVP6QUx6wt/0Mecd6T6Q\n"
	"BbAUjPuJM4f1q/G2QvxF/0y7GKpLgWT62uTGP9aFuOWmr0ykHg==\n"
	"-----END CERTIFICATE-----\n"
;

static const char *leaf_fp = "sha256:F7:AE:9B:9D:A3:E7:3F:68:F9:65:37:58:C7:"
    "97:68:CC:4F:13:94:62:F5:AB:01:03:AB:27:3A:7B:AD:E3:E8:75";

#define T_2023_06_01	1685577600LL
#define T_2026_01_01	1767225600LL
#define T_2031_01_01	1924992000LL

static char tmpdir[64];

static void
der_add(void *ctx, const void *buf, size_t len)
{
	unsigned char **pp = ctx;

	memcpy(pp[0], buf, len);
	pp[0] += len;
}

/* First PEM object of pem as DER into der; returns its length. */
static size_t
pem_der(const char *pem, unsigned char *der, size_t cap)
{
	br_pem_decoder_context pc;
	unsigned char *p[1] = { der };
	size_t n = strlen(pem), k;

	(void)cap;
	br_pem_decoder_init(&pc);
	while (n > 0) {
		k = br_pem_decoder_push(&pc, pem, n);
		pem += k;
		n -= k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			br_pem_decoder_setdest(&pc, der_add, p);
			break;
		case BR_PEM_END_OBJ:
			return (size_t)(p[0] - der);
		}
	}
	return 0;
}

static void
put_file(const char *name, const char *text, char *path, size_t cap)
{
	int fd;

	snprintf(path, cap, "%s/%s", tmpdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror(path);
	close(fd);
}

static void
test_fingerprint(void)
{
	unsigned char h[32];
	char fp[X509_FP_TEXT];
	int i;

	for (i = 0; i < 32; i++)
		h[i] = (unsigned char)(i * 17 + 1);
	x509_fingerprint(h, fp);
	T_EQ_STR(fp, "sha256:01:12:23:34:45:56:67:78:89:9A:AB:BC:CD:DE:EF:"
	    "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:10",
	    "fingerprint format");
	T_EQ_INT(strlen(fp), 102, "fingerprint length");
}

static void
test_clock(void)
{
	long long bd;
	int fl = -1;

	T_EQ_INT(x509_unix_time(719528, 0), 0, "unix time epoch");
	T_EQ_INT(x509_unix_time(719529, 5), 86405, "unix time day 1");
	T_EQ_INT(x509_unix_time(719528 + 20454, 0), T_2026_01_01,
	    "unix time 2026");
	/* the build date x509.c was compiled with: any time before it
	 * gives it back (objects may be older than this test) */
	bd = x509_clock(0, &fl);
	T_OK(bd > 0 && fl == 1, "build date known and used for time 0");
	T_EQ_INT(x509_clock(bd + 100, &fl), bd + 100,
	    "clock after build date");
	T_EQ_INT(fl, 0, "clock after build date not floored");
	T_EQ_INT(x509_clock(bd - 1, &fl), bd,
	    "clock before build date uses build date");
	T_EQ_INT(fl, 1, "clock before build date floored");
}

static void
test_dn_text(void)
{
	/* RDNs: C=DE, {O=A+OU=B}, 1.2.3.4=x, CN="caf\xc3\xa9" (UTF8) */
	static const unsigned char dn[] = {
		0x30, 0x3f,
		0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06,
		    0x13, 0x02, 'D', 'E',
		0x31, 0x14, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0a,
		    0x0c, 0x01, 'A',
		    0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x0b, 0x0c, 0x01, 'B',
		0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x2a, 0x03, 0x04,
		    0x0c, 0x01, 'x',
		0x31, 0x0e, 0x30, 0x0c, 0x06, 0x03, 0x55, 0x04, 0x03,
		    0x0c, 0x05, 'c', 'a', 'f', 0xc3, 0xa9,
	};
	char buf[X509_DN_TEXT], small[16];

	T_EQ_INT(x509_dn_text(dn, sizeof dn, buf, sizeof buf), 0,
	    "dn text ok");
	T_EQ_STR(buf, "CN=caf\\xc3\\xa9, 1.2.3.4=x, O=A+OU=B, C=DE",
	    "dn text order, escapes, multi-valued RDN, unknown OID");
	x509_dn_text(dn, sizeof dn, small, sizeof small);
	T_EQ_STR(small, "CN=caf\\xc3\\x...", "dn text bounded");
	T_EQ_INT(x509_dn_text(dn, sizeof dn - 1, buf, sizeof buf), -1,
	    "dn text truncated DER rejected");
}

static void
test_cert_text(void)
{
	unsigned char der[2048];
	char sub[X509_DN_TEXT], iss[X509_DN_TEXT], names[X509_NAMES_TEXT];
	size_t n;
	int self = -1;

	n = pem_der(pem_leaf, der, sizeof der);
	T_OK(n > 300, "leaf decoded from PEM");
	T_EQ_INT(x509_cert_text(der, n, sub, iss, sizeof sub, &self, names,
	    sizeof names), 0, "leaf text");
	T_EQ_STR(sub, "O=Tern Test, CN=mail.test", "leaf subject");
	T_EQ_STR(iss, "O=Tern Test, CN=Tern Test Root", "leaf issuer");
	T_EQ_INT(self, 0, "leaf not self-issued");
	T_EQ_STR(names, "mail.test, localhost, 127.0.0.1", "leaf names");
	/* the first 200 bytes still hold the issuer and subject */
	T_EQ_INT(x509_cert_text(der, 200, sub, iss, sizeof sub, &self, names,
	    sizeof names), 0, "leaf prefix text");
	T_EQ_STR(iss, "O=Tern Test, CN=Tern Test Root", "prefix issuer");
	T_EQ_STR(names, "mail.test", "prefix names: the CN only");
	n = pem_der(pem_self, der, sizeof der);
	x509_cert_text(der, n, sub, iss, sizeof sub, &self, names,
	    sizeof names);
	T_EQ_INT(self, 1, "self-signed is self-issued");
	T_EQ_STR(names, "self.test", "self names: SAN equal to CN once");
	T_EQ_INT(x509_cert_text(der, 1, sub, iss, sizeof sub, &self, names,
	    sizeof names), -1, "one byte is nothing");
}

static void
test_store(void)
{
	struct x509_store s;
	struct err e;
	char path[128], want[256], bundle[8192], dn[X509_DN_TEXT];

	snprintf(bundle, sizeof bundle, "# a comment line\n%s"
	    "-----BEGIN PUBLIC THING-----\nAAAA\n-----END PUBLIC THING-----\n"
	    "text between\n%s", pem_ca, pem_rsa);
	/* no newline after the last END line: the loader adds one */
	bundle[strlen(bundle) - 1] = '\0';
	put_file("bundle.pem", bundle, path, sizeof path);
	err_clear(&e);
	T_EQ_INT(x509_store_load(&s, path, &e), 0, "bundle loads");
	T_EQ_INT(s.n, 2, "bundle: two anchors");
	T_EQ_INT(s.skipped, 0, "bundle: none skipped");
	if (s.n == 2) {
		T_EQ_INT(s.ta[0].flags, BR_X509_TA_CA, "ec root is a CA");
		T_EQ_INT(s.ta[0].pkey.key_type, BR_KEYTYPE_EC, "ec key");
		T_EQ_INT(s.ta[0].pkey.key.ec.qlen, 65, "ec point length");
		x509_dn_text(s.ta[0].dn.data, s.ta[0].dn.len, dn, sizeof dn);
		T_EQ_STR(dn, "O=Tern Test, CN=Tern Test Root", "ec root dn");
		T_EQ_INT(s.ta[1].pkey.key_type, BR_KEYTYPE_RSA, "rsa key");
		T_EQ_INT(s.ta[1].pkey.key.rsa.nlen, 256, "rsa modulus");
		x509_dn_text(s.ta[1].dn.data, s.ta[1].dn.len, dn, sizeof dn);
		T_EQ_STR(dn, "CN=RSA Root, C=DE", "rsa root dn");
		T_OK((unsigned char *)s.ta[1].pkey.key.rsa.n >
		    (unsigned char *)s.arena && (unsigned char *)
		    s.ta[1].pkey.key.rsa.n < (unsigned char *)s.arena +
		    s.arena_used, "key copied into the arena");
	}
	x509_store_free(&s);

	put_file("empty.pem", "", path, sizeof path);
	err_clear(&e);
	T_EQ_INT(x509_store_load(&s, path, &e), -1, "empty file fails");
	snprintf(want, sizeof want, "%s: cannot read CA file: empty file",
	    path);
	T_EQ_STR(e.msg, want, "empty file message");
	T_EQ_INT(e.ex, EX_CONFIG, "empty file is a config error");

	snprintf(path, sizeof path, "%s/missing.pem", tmpdir);
	err_clear(&e);
	T_EQ_INT(x509_store_load(&s, path, &e), -1, "missing file fails");
	snprintf(want, sizeof want, "%s: cannot read CA file: %s", path,
	    strerror(ENOENT));
	T_EQ_STR(e.msg, want, "missing file message");

	put_file("nocert.pem", "just text\n-----BEGIN X-----\nAAAA\n"
	    "-----END X-----\n", path, sizeof path);
	err_clear(&e);
	T_EQ_INT(x509_store_load(&s, path, &e), -1, "no certificate fails");
	snprintf(want, sizeof want, "%s: no certificate in CA file", path);
	T_EQ_STR(e.msg, want, "no certificate message");

	put_file("garbage.pem", "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n"
	    "-----END CERTIFICATE-----\n", path, sizeof path);
	err_clear(&e);
	T_EQ_INT(x509_store_load(&s, path, &e), -1, "undecodable cert fails");
	snprintf(want, sizeof want, "%s: no certificate in CA file", path);
	T_EQ_STR(e.msg, want, "undecodable cert is skipped");

	put_file("bad.pem", "-----BEGIN CERTIFICATE-----\nAA*A\n"
	    "-----END CERTIFICATE-----\n", path, sizeof path);
	err_clear(&e);
	T_EQ_INT(x509_store_load(&s, path, &e), -1, "bad base64 fails");
	snprintf(want, sizeof want, "%s: bad PEM data in CA file", path);
	T_EQ_STR(e.msg, want, "bad base64 message");
}

struct chain_case {
	const char *name;
	const char *chain[2];		/* PEM, leaf first */
	int store;			/* 0 none, 1 ec root, 2 rsa root */
	const char *host;
	long long now;
	int pin;			/* 0 none, 1 the leaf's, 2 another */
	int want;			/* end_chain result */
	const char *words;		/* x509_explain, "" for success */
};

static const struct chain_case chain_cases[] = {
	{ "chain ok", { pem_leaf, NULL }, 1, "mail.test", T_2026_01_01, 0, 0,
	  "" },
	{ "chain ok, other SAN, any case", { pem_leaf, NULL }, 1,
	  "LocalHost", T_2026_01_01, 0, 0, "" },
	{ "name mismatch", { pem_leaf, NULL }, 1, "other.test", T_2026_01_01,
	  0, BR_ERR_X509_BAD_SERVER_NAME, "name mismatch: certificate is for "
	  "mail.test, localhost, 127.0.0.1; not other.test" },
	{ "expired", { pem_leaf, NULL }, 1, "mail.test", T_2031_01_01, 0,
	  BR_ERR_X509_EXPIRED, "certificate expired on 2030-01-01T00:00:00Z "
	  "(system clock 2031-01-01T00:00:00Z)" },
	{ "not yet valid", { pem_leaf, NULL }, 1, "mail.test", T_2023_06_01,
	  0, BR_ERR_X509_EXPIRED, "certificate not valid before "
	  "2024-01-01T00:00:00Z (system clock 2023-06-01T00:00:00Z)" },
	{ "unknown issuer", { pem_leaf, NULL }, 2, "mail.test", T_2026_01_01,
	  0, BR_ERR_X509_NOT_TRUSTED,
	  "unknown issuer O=Tern Test, CN=Tern Test Root" },
	{ "self-signed", { pem_self, NULL }, 1, "self.test", T_2026_01_01, 0,
	  BR_ERR_X509_NOT_TRUSTED, "self-signed certificate CN=self.test" },
	{ "chain out of order", { pem_leaf, pem_self }, 2, "mail.test",
	  T_2026_01_01, 0, BR_ERR_X509_DN_MISMATCH,
	  "certificate chain out of order" },
	{ "pin matches: no CA, name or date check", { pem_leaf, NULL }, 0,
	  "other.test", T_2031_01_01, 1, 0, "" },
	{ "pin differs", { pem_leaf, NULL }, 1, "mail.test", T_2026_01_01, 2,
	  X509_ERR_PIN, "certificate does not match the pinned fingerprint" },
};

static void
run_chain(const struct chain_case *cc, struct x509_store *ec,
    struct x509_store *rsa)
{
	static struct x509_check x;
	static unsigned char der[2048];
	unsigned char pins[2][32];
	const br_x509_class **vt;
	const br_x509_pkey *pk;
	char words[256], name[128], fp[X509_FP_TEXT];
	unsigned r, usages = 0;
	size_t n, i, k;
	int c;

	memcpy(pins[0], "\x01\x02", 2);
	memset(pins[0] + 2, 0, 30);
	memcpy(pins[1], "\xf7\xae\x9b\x9d\xa3\xe7\x3f\x68\xf9\x65\x37\x58"
	    "\xc7\x97\x68\xcc\x4f\x13\x94\x62\xf5\xab\x01\x03\xab\x27\x3a\x7b"
	    "\xad\xe3\xe8\x75", 32);
	x509_check_init(&x, cc->store == 1 ? ec : cc->store == 2 ? rsa : NULL,
	    cc->host, cc->pin == 1 ? (const unsigned char (*)[32])pins :
	    cc->pin == 2 ? (const unsigned char (*)[32])pins : NULL,
	    cc->pin == 1 ? 2 : cc->pin == 2 ? 1 : 0, cc->now);
	vt = x509_check_class(&x);
	(*vt)->start_chain(vt, NULL);
	for (c = 0; c < 2 && cc->chain[c] != NULL; c++) {
		n = pem_der(cc->chain[c], der, sizeof der);
		(*vt)->start_cert(vt, (uint32_t)n);
		/* odd-sized pieces, as records would cut it */
		for (i = 0; i < n; i += k) {
			k = n - i < 37 ? n - i : 37;
			(*vt)->append(vt, der + i, k);
		}
		(*vt)->end_cert(vt);
	}
	r = (*vt)->end_chain(vt);
	snprintf(name, sizeof name, "%s: result", cc->name);
	T_EQ_INT(r, cc->want, name);
	if (r == 0) {
		pk = (*vt)->get_pkey((const br_x509_class *const *)vt,
		    &usages);
		snprintf(name, sizeof name, "%s: key", cc->name);
		T_OK(pk != NULL && pk->key_type == BR_KEYTYPE_EC &&
		    pk->key.ec.qlen == 65, name);
		words[0] = '\0';
	} else
		x509_explain(&x, (int)r, words, sizeof words);
	snprintf(name, sizeof name, "%s: words", cc->name);
	T_EQ_STR(words, cc->words, name);
	x509_leaf_fingerprint(&x, fp);
	snprintf(name, sizeof name, "%s: leaf fingerprint", cc->name);
	T_EQ_STR(fp, cc->chain[0] == pem_leaf ? leaf_fp : fp, name);
}

static long
file_size(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

/* The remembered signatures: kept across runs, used, bounded, and a
 * damaged file only misses. */
static void
test_memo(struct x509_store *ec, struct x509_store *rsa)
{
	static unsigned char big[16 + 20 * 32];
	char dir[128], p[256];
	struct err e;
	int h0;
	FILE *f;

	snprintf(dir, sizeof dir, "%s/memo", tmpdir);
	mkdir(dir, 0700);
	x509_memo_load(dir);
	err_clear(&e);
	T_EQ_INT(x509_memo_save(&e), 0, "memo: nothing to save");
	T_EQ_INT(file_size(dir, X509_MEMO_FILE), -1, "memo: no file yet");
	h0 = x509_memo_hits;
	run_chain(&chain_cases[0], ec, rsa);
	T_EQ_INT(x509_memo_hits, h0, "memo: first check is a miss");
	T_EQ_INT(x509_memo_save(&e), 0, "memo: saved");
	T_EQ_INT(file_size(dir, X509_MEMO_FILE), 16 + 32,
	    "memo: magic and one key");

	/* the next run: remembered, and nothing new to write */
	x509_memo_load(dir);
	run_chain(&chain_cases[0], ec, rsa);
	T_EQ_INT(x509_memo_hits, h0 + 1, "memo: second check is a hit");
	snprintf(p, sizeof p, "%s/%s", dir, X509_MEMO_FILE);
	unlink(p);
	T_EQ_INT(x509_memo_save(&e), 0, "memo: clean save");
	T_EQ_INT(file_size(dir, X509_MEMO_FILE), -1,
	    "memo: not written when nothing was added");
	/* a remembered signature changes no other check: the expired and
	 * the wrong-name cases fail as before */
	run_chain(&chain_cases[3], ec, rsa);
	run_chain(&chain_cases[2], ec, rsa);

	/* a torn tail and a bad magic: misses, never an error */
	f = fopen(p, "wb");
	fwrite("tern-tls-memo 1\n", 1, 16, f);
	fwrite(big, 1, 20, f);
	fclose(f);
	x509_memo_load(dir);
	run_chain(&chain_cases[0], ec, rsa);
	T_EQ_INT(x509_memo_hits, h0 + 1, "memo: torn key ignored");
	f = fopen(p, "wb");
	fwrite("tern-tls-memo 2\n", 1, 16, f);
	fclose(f);
	x509_memo_load(dir);
	run_chain(&chain_cases[0], ec, rsa);
	T_EQ_INT(x509_memo_hits, h0 + 1, "memo: other version ignored");

	/* 20 keys on file: 16 kept, and the added one is last */
	memcpy(big, "tern-tls-memo 1\n", 16);
	memset(big + 16, 0x5a, sizeof big - 16);
	for (h0 = 0; h0 < 20; h0++)
		big[16 + 32 * h0] = (unsigned char)h0;
	f = fopen(p, "wb");
	fwrite(big, 1, sizeof big, f);
	fclose(f);
	x509_memo_load(dir);
	h0 = x509_memo_hits;
	run_chain(&chain_cases[0], ec, rsa);
	T_EQ_INT(x509_memo_save(&e), 0, "memo: full ring saved");
	T_EQ_INT(file_size(dir, X509_MEMO_FILE), 16 + 16 * 32,
	    "memo: bounded to X509_MEMO_MAX");
	x509_memo_load(dir);
	run_chain(&chain_cases[0], ec, rsa);
	T_EQ_INT(x509_memo_hits, h0 + 1, "memo: newest kept in the ring");
	x509_memo_load(NULL);
}

static void
test_chains(void)
{
	struct x509_store ec, rsa;
	struct err e;
	char path[128];
	size_t i;

	put_file("ec.pem", pem_ca, path, sizeof path);
	err_clear(&e);
	x509_store_load(&ec, path, &e);
	put_file("rsa.pem", pem_rsa, path, sizeof path);
	x509_store_load(&rsa, path, &e);
	T_EQ_INT(e.ex, 0, "stores load");
	x509_memo_load(NULL);
	for (i = 0; i < sizeof chain_cases / sizeof chain_cases[0]; i++)
		run_chain(&chain_cases[i], &ec, &rsa);
	test_memo(&ec, &rsa);
	T_EQ_INT(x509_temporary(BR_ERR_X509_EXPIRED), 1, "expired temporary");
	T_EQ_INT(x509_temporary(BR_ERR_X509_NOT_TRUSTED), 0,
	    "untrusted counts");
	T_EQ_INT(x509_temporary(BR_ERR_X509_BAD_SERVER_NAME), 0,
	    "name mismatch counts");
	x509_store_free(&ec);
	x509_store_free(&rsa);
}

int
main(void)
{
	char cmd[128];

	snprintf(tmpdir, sizeof tmpdir, "/tmp/t_x509.XXXXXX");
	if (mkdtemp(tmpdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_fingerprint();
	test_clock();
	test_dn_text();
	test_cert_text();
	test_store();
	test_chains();
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		printf("FAIL cleanup: %s\n", cmd);
	T_DONE();
}
