/*
 * t_sasl.c — base64 (RFC 4648 vectors, strict decoding), PLAIN, XOAUTH2,
 * CRAM-MD5 (RFC 2195 example), APOP (RFC 1939 example) and the secret
 * sources: literal, file, command (output, failure, timeout).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "sasl.h"
#include "t.h"

static char tdir[64];

static void
put_file(const char *name, const void *buf, size_t n, char *path,
    size_t cap)
{
	int fd;

	snprintf(path, cap, "%s/%s", tdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, buf, n) != (ssize_t)n) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static long long
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_b64(void)
{
	static const struct {
		const char *plain, *enc;
	} v[] = {	/* RFC 4648 §10 */
		{ "", "" }, { "f", "Zg==" }, { "fo", "Zm8=" },
		{ "foo", "Zm9v" }, { "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
	};
	static const char *const bad[] = {
		"Zg=", "Zg", "Z===", "====", "Zg==Zg==", "Zm8=Zm9v", "Zg=a",
		"=Zg=", "Zm9v\n", "Zm 9v", " Zm9v", "Zm9v*A==", "Zh==",
		"Zm9=", "Zm9vYmF\r", "Zm\0v",
	};
	unsigned char bin[256], back[256];
	char out[64], name[64];
	size_t i;
	long n;

	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		snprintf(name, sizeof name, "b64_encode \"%s\" length",
		    v[i].plain);
		n = b64_encode(v[i].plain, strlen(v[i].plain), out,
		    sizeof out);
		T_EQ_INT(n, strlen(v[i].enc), name);
		snprintf(name, sizeof name, "b64_encode \"%s\"", v[i].plain);
		T_EQ_STR(out, v[i].enc, name);
		snprintf(name, sizeof name, "b64_decode \"%s\" length",
		    v[i].enc);
		memset(back, 0, sizeof back);
		n = b64_decode(v[i].enc, strlen(v[i].enc), back, sizeof back);
		T_EQ_INT(n, strlen(v[i].plain), name);
		snprintf(name, sizeof name, "b64_decode \"%s\"", v[i].enc);
		T_OK(memcmp(back, v[i].plain, strlen(v[i].plain)) == 0, name);
	}
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t len = strlen(bad[i]);

		if (strcmp(bad[i], "Zm") == 0)
			len = 4;	/* "Zm\0v": NUL inside */
		snprintf(name, sizeof name, "b64_decode rejects #%zu", i);
		T_EQ_INT(b64_decode(bad[i], len, back, sizeof back), -1,
		    name);
	}

	/* Capacity: 4 chars need 5 bytes (NUL); 6 bytes decode into 6. */
	T_EQ_INT(b64_encode("foo", 3, out, 4), -1, "b64_encode cap short");
	T_EQ_INT(b64_encode("foo", 3, out, 5), 4, "b64_encode cap exact");
	T_EQ_INT(b64_encode("", 0, out, 0), -1, "b64_encode cap 0");
	T_EQ_INT(b64_decode("Zm9vYmFy", 8, back, 5), -1,
	    "b64_decode cap short");
	T_EQ_INT(b64_decode("Zm9vYmFy", 8, back, 6), 6,
	    "b64_decode cap exact");
	T_EQ_INT(b64_decode("Zm9vYg==", 8, back, 4), 4,
	    "b64_decode padded cap exact");

	/* Every byte value round-trips. */
	for (i = 0; i < sizeof bin; i++)
		bin[i] = (unsigned char)i;
	{
		char big[400];

		n = b64_encode(bin, sizeof bin, big, sizeof big);
		T_EQ_INT(n, 344, "b64 all bytes encode");
		T_EQ_INT(b64_decode(big, (size_t)n, back, sizeof back), 256,
		    "b64 all bytes decode");
		T_OK(memcmp(bin, back, sizeof bin) == 0, "b64 all bytes same");
	}
}

static void
test_mechs(void)
{
	char out[256], hex[33];
	long n;

	n = sasl_plain("tim", "tanstaaf", out, sizeof out);
	T_EQ_STR(out, "AHRpbQB0YW5zdGFhZg==", "plain");
	T_EQ_INT(n, 20, "plain length");
	T_EQ_INT(sasl_plain("tim", "tanstaaf", out, 20), -1,
	    "plain cap short");
	T_EQ_STR(out, "", "plain cap short leaves nothing");

	/* Google's documented XOAUTH2 example. */
	n = sasl_xoauth2("someuser@example.com",
	    "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg", out, sizeof out);
	T_EQ_STR(out, "dXNlcj1zb21ldXNlckBleGFtcGxlLmNvbQFhdXRoPUJlYXJlciB5YT"
	    "I5LnZGOWRmdDRxbVRjMk52YjNSbGNrQmhkSFJoZG1semRHRXVZMjl0Q2cBAQ==",
	    "xoauth2");
	T_EQ_INT(n, (long)strlen(out), "xoauth2 length");
	T_EQ_INT(sasl_xoauth2("a\1b", "tok", out, sizeof out), -1,
	    "xoauth2 rejects \\1 in user");
	T_EQ_INT(sasl_xoauth2("a", "t\1k", out, sizeof out), -1,
	    "xoauth2 rejects \\1 in token");

	/* RFC 2195 §2. */
	n = sasl_cram_md5("tim", "tanstaaftanstaaf",
	    "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
	    out, sizeof out);
	T_EQ_STR(out, "dGltIGI5MTNhNjAyYzdlZGE3YTQ5NWI0ZTZlNzMzNGQzODkw",
	    "cram-md5 rfc2195");
	T_EQ_INT(n, 48, "cram-md5 length");
	T_EQ_INT(sasl_cram_md5("tim", "x", "not base64!", out, sizeof out),
	    -1, "cram-md5 bad challenge");
	T_EQ_INT(sasl_cram_md5("tim", "x", "", out, sizeof out), -1,
	    "cram-md5 empty challenge");
	T_EQ_INT(sasl_cram_md5("tim", "tanstaaftanstaaf",
	    "PDE4OTYuNjk3MTcwOTUyQHBvc3RvZmZpY2UucmVzdG9uLm1jaS5uZXQ+",
	    out, 48), -1, "cram-md5 cap short");

	/* RFC 1939 §7. */
	T_EQ_INT(apop_digest("<1896.697170952@dbc.mtview.ca.us>", "tanstaaf",
	    hex), 0, "apop rc");
	T_EQ_STR(hex, "c4c9334bac560ecc979e58001b3e22fb", "apop rfc1939");
	T_EQ_INT(apop_digest("1896.697170952@dbc", "x", hex), -1,
	    "apop needs brackets");
	T_EQ_INT(apop_digest("<a\r\n>", "x", hex), -1, "apop rejects CRLF");
	T_EQ_INT(apop_digest("<", "x", hex), -1, "apop rejects \"<\"");
}

struct sec_case {
	const char *name;
	const char *password, *file_content, *cmd;
	int token;
	int timeout;
	int want_rc, want_ex;
	const char *want;	/* secret, or a substring of e.msg */
};

static void
run_case(const struct sec_case *c, size_t file_len)
{
	struct server s;
	struct err e;
	char out[64], path[128], name[512];
	long long t0;
	int rc;

	memset(&s, 0, sizeof s);
	err_clear(&e);
	if (c->password != NULL)
		snprintf(s.password, sizeof s.password, "%s", c->password);
	if (c->file_content != NULL) {
		put_file("secret", c->file_content, file_len, path,
		    sizeof path);
		if (c->token)
			snprintf(s.oauth_token_file,
			    sizeof s.oauth_token_file, "%s", path);
		else
			snprintf(s.password_file, sizeof s.password_file,
			    "%s", path);
	}
	if (c->cmd != NULL) {
		if (c->token)
			snprintf(s.oauth_token_cmd, sizeof s.oauth_token_cmd,
			    "%s", c->cmd);
		else
			snprintf(s.password_cmd, sizeof s.password_cmd, "%s",
			    c->cmd);
	}
	memset(out, 'X', sizeof out);
	t0 = mono_ms();
	rc = secret_get(&s, c->token, out, sizeof out, c->timeout, &e);
	snprintf(name, sizeof name, "secret %s: rc", c->name);
	T_EQ_INT(rc, c->want_rc, name);
	snprintf(name, sizeof name, "secret %s: ex", c->name);
	T_EQ_INT(e.ex, c->want_ex, name);
	if (rc == 0) {
		snprintf(name, sizeof name, "secret %s: value", c->name);
		T_EQ_STR(out, c->want, name);
	} else {
		snprintf(name, sizeof name, "secret %s: message \"%s\"",
		    c->name, e.msg);
		T_OK(strstr(e.msg, c->want) != NULL, name);
		snprintf(name, sizeof name, "secret %s: out wiped", c->name);
		T_OK(out[0] == '\0', name);
		snprintf(name, sizeof name, "secret %s: no secret in msg",
		    c->name);
		T_OK(strstr(e.msg, "hunter2") == NULL, name);
	}
	snprintf(name, sizeof name, "secret %s: bounded time", c->name);
	T_OK(mono_ms() - t0 < 4000, name);
}

static void
test_secret(void)
{
	static const struct sec_case cases[] = {
		{ "literal", "pa ss", NULL, NULL, 0, 5, 0, 0, "pa ss" },
		{ "literal wins over cmd", "lit", NULL, "echo cmd", 0, 5,
		    0, 0, "lit" },
		{ "file first line", NULL, "hunter2\nsecond\n", NULL, 0, 5,
		    0, 0, "hunter2" },
		{ "file CRLF", NULL, "hunter2\r\n", NULL, 0, 5, 0, 0,
		    "hunter2" },
		{ "file no newline", NULL, "hunter2", NULL, 0, 5, 0, 0,
		    "hunter2" },
		{ "file empty", NULL, "", NULL, 0, 5, -1, EX_CONFIG,
		    "empty" },
		{ "file empty line", NULL, "\nhunter2\n", NULL, 0, 5, -1,
		    EX_CONFIG, "empty" },
		{ "file CR inside", NULL, "hun\rter2\n", NULL, 0, 5, -1,
		    EX_CONFIG, "CR or NUL" },
		{ "file too long", NULL,
		    "hunter2hunter2hunter2hunter2hunter2hunter2hunter2hunter2"
		    "hunter2hunter2\n", NULL, 0, 5, -1, EX_CONFIG,
		    "longer than 62 bytes" },
		{ "token file", NULL, "hunter2tok\n", NULL, 1, 5, 0, 0,
		    "hunter2tok" },
		{ "cmd first line", NULL, NULL,
		    "printf 'hunter2\\nsecond\\n'", 0, 5, 0, 0, "hunter2" },
		{ "cmd drains a lot", NULL, NULL,
		    "echo hunter2; head -c 300000 /dev/zero", 0, 5, 0, 0,
		    "hunter2" },
		{ "cmd no newline", NULL, NULL, "printf hunter2", 0, 5, 0, 0,
		    "hunter2" },
		{ "cmd exit 3", NULL, NULL, "echo hunter2; exit 3", 0, 5, -1,
		    EX_TEMPFAIL, "password_cmd exited with status 3" },
		{ "cmd not found", NULL, NULL, "/nonexistent/cmd", 0, 5, -1,
		    EX_TEMPFAIL, "password_cmd exited with status 127" },
		{ "cmd timeout", NULL, NULL, "sleep 5", 0, 1, -1,
		    EX_TEMPFAIL, "password_cmd timed out after 1 s" },
		{ "cmd timeout after output", NULL, NULL,
		    "echo hunter2; sleep 5", 0, 1, -1, EX_TEMPFAIL,
		    "password_cmd timed out" },
		{ "cmd killed", NULL, NULL, "kill -9 $$", 0, 5, -1,
		    EX_TEMPFAIL, "password_cmd killed by signal 9" },
		{ "cmd prints nothing", NULL, NULL, "true", 0, 5, -1,
		    EX_TEMPFAIL, "password_cmd printed nothing" },
		{ "cmd too long", NULL, NULL,
		    "head -c 100 /dev/zero | tr '\\0' a", 0, 5, -1,
		    EX_CONFIG, "longer than 62 bytes" },
		{ "oauth cmd", NULL, NULL, "echo tok-123", 1, 5, 0, 0,
		    "tok-123" },
		{ "oauth cmd fails", NULL, NULL, "exit 1", 1, 5, -1,
		    EX_TEMPFAIL, "oauth_token_cmd exited with status 1" },
		{ "none", NULL, NULL, NULL, 0, 5, -1, EX_CONFIG,
		    "no password configured" },
		{ "token none", "pw", NULL, NULL, 1, 5, -1, EX_CONFIG,
		    "no oauth token source configured" },
	};
	struct server s;
	struct err e;
	char out[64], path[128], msg[160];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i], cases[i].file_content != NULL ?
		    strlen(cases[i].file_content) : 0);

	/* A NUL byte in the file is refused. */
	{
		static const struct sec_case nul = { "file NUL", NULL,
		    "hun\0ter2\n", NULL, 0, 5, -1, EX_CONFIG, "CR or NUL" };

		run_case(&nul, 9);
	}

	/* A descriptor of ours without O_CLOEXEC does not reach the
	 * command. */
	{
		char cmd[96];
		int fd = open("/dev/null", O_RDONLY);

		snprintf(cmd, sizeof cmd,
		    "test -e /proc/self/fd/%d && echo leaked || echo closed",
		    fd);
		memset(&s, 0, sizeof s);
		snprintf(s.password_cmd, sizeof s.password_cmd, "%s", cmd);
		err_clear(&e);
		secret_get(&s, 0, out, sizeof out, 5, &e);
		T_EQ_STR(out, "closed", "secret cmd: our descriptors closed");
		close(fd);
	}

	/* A missing file: EX_CONFIG naming the path and the reason. */
	memset(&s, 0, sizeof s);
	err_clear(&e);
	snprintf(path, sizeof path, "%s/missing", tdir);
	snprintf(s.password_file, sizeof s.password_file, "%s", path);
	T_EQ_INT(secret_get(&s, 0, out, sizeof out, 5, &e), -1,
	    "secret missing file rc");
	T_EQ_INT(e.ex, EX_CONFIG, "secret missing file ex");
	snprintf(msg, sizeof msg, "%s: cannot read: %s", path,
	    strerror(ENOENT));
	T_EQ_STR(e.msg, msg, "secret missing file message");
}

int
main(void)
{
	snprintf(tdir, sizeof tdir, "/tmp/t_sasl.XXXXXX");
	if (mkdtemp(tdir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_b64();
	test_mechs();
	test_secret();
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
		if (system(cmd) != 0)
			printf("FAIL cleanup %s\n", tdir);
	}
	T_DONE();
}
