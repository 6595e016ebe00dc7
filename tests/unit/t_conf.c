/*
 * t_conf.c — conf.c: the UCI tokenizer, every value type, the defaults of
 * every key, the account resolution rules and the exact error messages.
 * Config files are written into a mkdtemp directory under /tmp.
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "t.h"

static char dir[64];
static char path[128];
static struct conf c;
static struct err e;

/* Write n bytes as the config file and load it. */
static int
load_n(const char *text, size_t n)
{
	FILE *f;

	if ((f = fopen(path, "w")) == NULL) {
		perror(path);
		exit(2);
	}
	fwrite(text, 1, n, f);
	fclose(f);
	err_clear(&e);
	return conf_load(&c, path, &e);
}

static int
load(const char *text)
{
	return load_n(text, strlen(text));
}

/* The message conf_load must give: "PATH:" then tail. */
static const char *
want(const char *tail)
{
	static char buf[512];

	snprintf(buf, sizeof buf, "%s:%s", path, tail);
	return buf;
}

static void
check_err(const char *name, const char *text, const char *tail)
{
	char n[160];
	int rc;

	rc = load(text);
	snprintf(n, sizeof n, "%s rc", name);
	T_EQ_INT(rc, -1, n);
	snprintf(n, sizeof n, "%s ex", name);
	T_EQ_INT(e.ex, EX_CONFIG, n);
	snprintf(n, sizeof n, "%s msg", name);
	T_EQ_STR(e.msg, want(tail), n);
}

static void
check_ok(const char *name, const char *text)
{
	char n[160];
	int rc;

	rc = load(text);
	snprintf(n, sizeof n, "%s loads", name);
	T_EQ_STR(rc == 0 ? "" : e.msg, "", n);
}

/* --- pure parsers ------------------------------------------------------ */

static void
t_parsers(void)
{
	static const struct { const char *s; int ok; long long v; } sz[] = {
		{ "0", 1, 0 }, { "12", 1, 12 }, { "256k", 1, 262144 },
		{ "1K", 1, 1024 }, { "1m", 1, 1048576 }, { "1M", 1, 1048576 },
		{ "2g", 1, 2147483648LL }, { "1G", 1, 1073741824 },
		{ "007", 1, 7 },
		{ "9223372036854775807", 1, LLONG_MAX },
		{ "8589934591G", 1, 8589934591LL * 1073741824LL },
		{ "9223372036854775808", 0, 0 }, { "8589934592G", 0, 0 },
		{ "", 0, 0 }, { "-1", 0, 0 }, { "+1", 0, 0 }, { " 1", 0, 0 },
		{ "1 ", 0, 0 }, { "1kk", 0, 0 }, { "k", 0, 0 },
		{ "1.5k", 0, 0 },
		{ "10kb", 0, 0 }, { "1t", 0, 0 }, { "1s", 0, 0 },
	};
	static const struct { const char *s; int ok; long long v; } du[] = {
		{ "0", 1, 0 }, { "60", 1, 60 }, { "1s", 1, 1 },
		{ "5m", 1, 300 },
		{ "3h", 1, 10800 }, { "5d", 1, 432000 }, { "1w", 1, 604800 },
		{ "15250284452471w", 1, 15250284452471LL * 604800 },
		{ "15250284452472w", 0, 0 }, { "9223372036854775808", 0, 0 },
		{ "", 0, 0 }, { "-5", 0, 0 }, { "5x", 0, 0 }, { "5mm", 0, 0 },
		{ "m", 0, 0 }, { "5M", 0, 0 }, { "soon", 0, 0 },
		{ "1 h", 0, 0 },
	};
	static const struct { const char *s; int ok; int v; } bo[] = {
		{ "0", 1, 0 }, { "1", 1, 1 }, { "yes", 1, 1 }, { "no", 1, 0 },
		{ "on", 1, 1 }, { "off", 1, 0 }, { "true", 1, 1 },
		{ "false", 1, 0 }, { "enabled", 1, 1 }, { "disabled", 1, 0 },
		{ "", 0, 0 }, { "2", 0, 0 }, { "yess", 0, 0 }, { " 1", 0, 0 },
		{ "-1", 0, 0 }, { "1x", 0, 0 },
	};
	char n[96];
	long long v;
	size_t i;
	int b, rc;

	for (i = 0; i < sizeof sz / sizeof sz[0]; i++) {
		v = -7;
		rc = conf_parse_size(sz[i].s, &v);
		snprintf(n, sizeof n, "size '%s'", sz[i].s);
		T_EQ_INT(rc, sz[i].ok ? 0 : -1, n);
		if (sz[i].ok)
			T_EQ_INT(v, sz[i].v, n);
	}
	for (i = 0; i < sizeof du / sizeof du[0]; i++) {
		v = -7;
		rc = conf_parse_duration(du[i].s, &v);
		snprintf(n, sizeof n, "duration '%s'", du[i].s);
		T_EQ_INT(rc, du[i].ok ? 0 : -1, n);
		if (du[i].ok)
			T_EQ_INT(v, du[i].v, n);
	}
	for (i = 0; i < sizeof bo / sizeof bo[0]; i++) {
		b = -7;
		rc = conf_parse_bool(bo[i].s, &b);
		snprintf(n, sizeof n, "bool '%s'", bo[i].s);
		T_EQ_INT(rc, bo[i].ok ? 0 : -1, n);
		if (bo[i].ok)
			T_EQ_INT(b, bo[i].v, n);
	}
	T_EQ_STR(conf_tls_name(TLS_IMPLICIT), "implicit", "tls name 0");
	T_EQ_STR(conf_tls_name(TLS_STARTTLS), "starttls", "tls name 1");
	T_EQ_STR(conf_tls_name(TLS_NONE), "none", "tls name 2");
	T_EQ_STR(conf_tls_name(3), "unknown", "tls name 3");
	T_EQ_STR(conf_tls_name(-1), "unknown", "tls name -1");
	T_EQ_STR(conf_auth_name(AUTH_AUTO), "auto", "auth name auto");
	T_EQ_STR(conf_auth_name(AUTH_USER), "user", "auth name user");
	T_EQ_STR(conf_auth_name(AUTH_APOP), "apop", "auth name apop");
	T_EQ_STR(conf_auth_name(AUTH_PLAIN), "plain", "auth name plain");
	T_EQ_STR(conf_auth_name(AUTH_LOGIN), "login", "auth name login");
	T_EQ_STR(conf_auth_name(AUTH_CRAM_MD5), "cram-md5", "auth name cram");
	T_EQ_STR(conf_auth_name(AUTH_XOAUTH2), "xoauth2", "auth name xoauth2");
	T_EQ_STR(conf_auth_name(7), "unknown", "auth name 7");
}

/* --- tokenizer ----------------------------------------------------------- */

static void
t_tokenizer(void)
{
	/* Each line is line 3 of an account section; a good one sets
	 * `email` to val, a bad one fails with err. */
	static const struct {
		const char *line, *val, *err;
	} tk[] = {
		{ "option email plain", "plain", NULL },
		{ "option email 'single quoted'", "single quoted", NULL },
		{ "option email \"double quoted\"", "double quoted", NULL },
		{ "option email 'it'\\''s'", "it's", NULL },
		{ "option email \"a\\\"b\\\\c\"", "a\"b\\c", NULL },
		{ "option email \"a\\nb\"", "anb", NULL },
		{ "option email 'a\\nb'", "a\\nb", NULL },
		{ "option email 'a\\'", "a\\", NULL },
		{ "option email a\\ b", "a b", NULL },
		{ "option email a\\'b", "a'b", NULL },
		{ "option email a'b c'd\"e f\"", "ab cde f", NULL },
		{ "option email '\"'\"'\"", "\"'", NULL },
		{ "option email 'x' # comment", "x", NULL },
		{ "option email 'x'# comment", "x", NULL },
		{ "option email x#y", "x", NULL },
		{ "option email 'x#y'", "x#y", NULL },
		{ "option email \"x#y\"", "x#y", NULL },
		{ "option email \\#x", "#x", NULL },
		{ "option email 'a;b'", "a;b", NULL },
		{ "option email a;", "a", NULL },
		{ "option email 'x'; option email 'y'", "y", NULL },
		{ "option email 'tab\there'", "tab\there", NULL },
		{ " \t  option\temail\t 'x'  \t", "x", NULL },
		{ "option email 'x'\r", "x", NULL },
		{ "o email short", "short", NULL },
		{ "option email ''", "", NULL },
		{ "option email \"\"", "", NULL },
		{ "option 'email' x", "x", NULL },
		{ "# option email x", "", NULL },
		{ "", "", NULL },
		{ "option email 'abc", NULL,
		    "3: syntax: unterminated ' quote" },
		{ "option email \"abc", NULL,
		    "3: syntax: unterminated \" quote" },
		{ "option email \"abc\\\"", NULL,
		    "3: syntax: unterminated \" quote" },
		{ "option email 'x'y'", NULL,
		    "3: syntax: unterminated ' quote" },
		{ "option email abc\\", NULL,
		    "3: syntax: backslash at end of line" },
		{ "option email", NULL,
		    "3: syntax: option 'email' without a value" },
		{ "option email # x", NULL,
		    "3: syntax: option 'email' without a value" },
		{ "list email", NULL,
		    "3: syntax: list 'email' without a value" },
		{ "option", NULL, "3: syntax: option without a name" },
		{ "option '' x", NULL, "3: syntax: option without a name" },
		{ "option email a b", NULL, "3: syntax: more than one value for"
		    " 'email' (quote a value that contains spaces)" },
		{ "option email 'a'b c", NULL, "3: syntax: more than one value "
		    "for 'email' (quote a value that contains spaces)" },
		{ "opt email x", NULL, "3: syntax: unknown statement 'opt' "
		    "(config, option, list or package)" },
		{ "email x", NULL, "3: syntax: unknown statement 'email' "
		    "(config, option, list or package)" },
		{ "option email 'a\001b'", NULL,
		    "3: email: contains a control character" },
		{ "option email 'a\177b'", NULL,
		    "3: email: contains a control character" },
		{ "option email x; bogus", NULL, "3: syntax: unknown statement "
		    "'bogus' (config, option, list or package)" },
	};
	char text[512], n[128];
	size_t i;

	for (i = 0; i < sizeof tk / sizeof tk[0]; i++) {
		snprintf(text, sizeof text, "config account 'a'\n"
		    "\toption smtp_host 'h'\n%s\n", tk[i].line);
		snprintf(n, sizeof n, "token %zu [%s]", i, tk[i].line);
		if (tk[i].err != NULL) {
			check_err(n, text, tk[i].err);
			continue;
		}
		check_ok(n, text);
		T_EQ_STR(c.acct[0].email, tk[i].val, n);
	}

	/* Several statements on one line, and the last line without '\n'. */
	check_ok("semicolons", "config tern main; option parallel 3; "
	    "config account a; option smtp_host h\n\toption email e");
	T_EQ_INT(c.main.parallel, 3, "semicolons parallel");
	T_EQ_INT(c.nacct, 1, "semicolons nacct");
	T_EQ_STR(c.acct[0].smtp.host, "h", "semicolons smtp_host");
	T_EQ_STR(c.acct[0].email, "e", "no final newline");

	/* CRLF line ends. */
	check_ok("crlf", "config tern 'main'\r\n\toption parallel 5\r\n"
	    "config account 'a'\r\n\toption smtp_host 'h'\r\n");
	T_EQ_INT(c.main.parallel, 5, "crlf parallel");
	T_EQ_STR(c.acct[0].smtp.host, "h", "crlf smtp_host");

	/* Statement words as libuci spells them, and `package`. */
	check_ok("short words", "p tern\nc tern main\no parallel 2\n"
	    "c account a\no smtp_host h\nl tls_fingerprint 'sha256:"
	    "0000000000000000000000000000000000000000000000000000000000000000'"
	    "\n");
	T_EQ_INT(c.main.parallel, 2, "short words parallel");
	T_EQ_INT(c.acct[0].npin, 1, "short words pin");
	check_ok("package", "package tern\nconfig tern\n");
	T_EQ_INT(c.main.line, 2, "package main.line");
	check_err("package without name", "package\n",
	    "1: syntax: package without a name");
	check_err("package extra", "package tern x\n",
	    "1: syntax: extra text after 'package tern'");
}

/* --- every value type ---------------------------------------------------- */

enum {
	V_LOG, V_LOGMAX, V_SYSLOG, V_STATE, V_TIMEOUT, V_DEADLINE,
	V_PARALLEL, V_QLIFE, V_ENABLED, V_EMAIL, V_POP3HOST, V_POP3PORT,
	V_POP3TLS, V_AUTH, V_KEEP, V_DAD, V_MAXMSG, V_MAXSIZE, V_RETRIES,
	V_MAF, V_MCF, V_SMTPTLS, V_NPIN
};

static long long
num(int v)
{
	struct account *a = &c.acct[0];

	switch (v) {
	case V_LOGMAX:		return c.main.log_max_size;
	case V_SYSLOG:		return c.main.syslog;
	case V_TIMEOUT:		return c.main.timeout;
	case V_DEADLINE:	return c.main.deadline;
	case V_PARALLEL:	return c.main.parallel;
	case V_QLIFE:		return c.main.queue_lifetime;
	case V_ENABLED:		return a->enabled;
	case V_POP3PORT:	return a->pop3.port;
	case V_POP3TLS:		return a->pop3.tls;
	case V_AUTH:		return a->pop3.auth;
	case V_KEEP:		return a->keep;
	case V_DAD:		return a->delete_after_days;
	case V_MAXMSG:		return a->max_messages;
	case V_MAXSIZE:		return a->max_size;
	case V_RETRIES:		return a->retries;
	case V_MAF:		return a->max_auth_failures;
	case V_MCF:		return a->max_conn_failures;
	case V_SMTPTLS:		return a->smtp.tls;
	case V_NPIN:		return a->npin;
	}
	return -99;
}

static const char *
str(int v)
{
	switch (v) {
	case V_LOG:		return c.main.log;
	case V_STATE:		return c.main.state_dir;
	case V_EMAIL:		return c.acct[0].email;
	case V_POP3HOST:	return c.acct[0].pop3.host;
	}
	return "?";
}

#define PIN64 "00112233445566778899aabbccddeeff" \
	"00112233445566778899AABBCCDDEEFF"
#define PINC "00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff:" \
	"00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF"

static void
t_values(void)
{
	/* tern: lines go on line 2 of `config tern`; account: on line 4 of
	 * an account with pop3_host and maildir. */
	static const struct {
		int acct;
		const char *lines;
		int field;
		long long n;
		const char *s;
		const char *err;
	} vc[] = {
		/* bool */
		{ 0, "option syslog 'yes'", V_SYSLOG, 1, NULL, NULL },
		{ 0, "option syslog 'on'", V_SYSLOG, 1, NULL, NULL },
		{ 0, "option syslog 'true'", V_SYSLOG, 1, NULL, NULL },
		{ 0, "option syslog 'enabled'", V_SYSLOG, 1, NULL, NULL },
		{ 0, "option syslog '1'", V_SYSLOG, 1, NULL, NULL },
		{ 1, "option keep 'no'", V_KEEP, 0, NULL, NULL },
		{ 1, "option keep 'off'", V_KEEP, 0, NULL, NULL },
		{ 1, "option keep 'false'", V_KEEP, 0, NULL, NULL },
		{ 1, "option keep 'disabled'", V_KEEP, 0, NULL, NULL },
		{ 1, "option enabled '0'", V_ENABLED, 0, NULL, NULL },
		{ 0, "option syslog '2'", 0, 0, NULL, "2: syslog: not a boolean"
		    " (0/1, yes/no, on/off, true/false, enabled/disabled): "
		    "'2'" },
		{ 1, "option keep 'nope'", 0, 0, NULL, "4: keep: not a boolean"
		    " (0/1, yes/no, on/off, true/false, enabled/disabled): "
		    "'nope'" },
		/* uint */
		{ 0, "option parallel '16'", V_PARALLEL, 16, NULL, NULL },
		{ 0, "option parallel '1'", V_PARALLEL, 1, NULL, NULL },
		{ 0, "option parallel '0'", 0, 0, NULL,
		    "2: parallel: not a number (1-16): '0'" },
		{ 0, "option parallel '17'", 0, 0, NULL,
		    "2: parallel: not a number (1-16): '17'" },
		{ 0, "option parallel '-1'", 0, 0, NULL,
		    "2: parallel: not a number (1-16): '-1'" },
		{ 0, "option parallel '+4'", 0, 0, NULL,
		    "2: parallel: not a number (1-16): '+4'" },
		{ 0, "option parallel '4x'", 0, 0, NULL,
		    "2: parallel: not a number (1-16): '4x'" },
		{ 1, "option retries '0'", V_RETRIES, 0, NULL, NULL },
		{ 1, "option retries '10'", V_RETRIES, 10, NULL, NULL },
		{ 1, "option retries '11'", 0, 0, NULL,
		    "4: retries: not a number (0-10): '11'" },
		{ 1, "option max_auth_failures '1000'", V_MAF, 1000, NULL,
		    NULL },
		{ 1, "option max_auth_failures '1001'", 0, 0, NULL,
		    "4: max_auth_failures: not a number (1-1000): '1001'" },
		{ 1, "option max_auth_failures '0'", 0, 0, NULL,
		    "4: max_auth_failures: not a number (1-1000): '0'" },
		{ 1, "option max_conn_failures '10000'", V_MCF, 10000, NULL,
		    NULL },
		{ 1, "option max_conn_failures '10001'", 0, 0, NULL,
		    "4: max_conn_failures: not a number (1-10000): '10001'" },
		{ 1, "option delete_after_days '30'", V_DAD, 30, NULL, NULL },
		{ 1, "option max_messages '2147483647'", V_MAXMSG, INT_MAX,
		    NULL, NULL },
		{ 1, "option max_messages '99999999999999999999'", 0, 0, NULL,
		    "4: max_messages: not a number (0-2147483647): "
		    "'99999999999999999999'" },
		/* port */
		{ 1, "option pop3_port '1'", V_POP3PORT, 1, NULL, NULL },
		{ 1, "option pop3_port '65535'", V_POP3PORT, 65535, NULL,
		    NULL },
		{ 1, "option pop3_port '99999'", 0, 0, NULL,
		    "4: pop3_port: not a port number (1-65535): '99999'" },
		{ 1, "option pop3_port '65536'", 0, 0, NULL,
		    "4: pop3_port: not a port number (1-65535): '65536'" },
		{ 1, "option pop3_port '0'", 0, 0, NULL,
		    "4: pop3_port: not a port number (1-65535): '0'" },
		{ 1, "option pop3_port 'pop3s'", 0, 0, NULL,
		    "4: pop3_port: not a port number (1-65535): 'pop3s'" },
		{ 1, "option pop3_port '\3779'", 0, 0, NULL,
		    "4: pop3_port: not a port number (1-65535): '?9'" },
		{ 1, "option smtp_port '1234567890123456789012345678901234567"
		    "89012345678901234567890123456789'", 0, 0, NULL,
		    "4: smtp_port: not a port number (1-65535): '1234567890123"
		    "45678901234567890123456789012345678901234567890...'" },
		/* size */
		{ 0, "option log_max_size '256k'", V_LOGMAX, 262144, NULL,
		    NULL },
		{ 0, "option log_max_size '1M'", V_LOGMAX, 1048576, NULL,
		    NULL },
		{ 0, "option log_max_size 12", V_LOGMAX, 12, NULL, NULL },
		{ 1, "option max_size '2g'", V_MAXSIZE, 2147483648LL, NULL,
		    NULL },
		{ 0, "option log_max_size '1.5M'", 0, 0, NULL,
		    "2: log_max_size: not a size (like 1024, 256k, 1M, 1G): "
		    "'1.5M'" },
		{ 1, "option max_size '10kb'", 0, 0, NULL,
		    "4: max_size: not a size (like 1024, 256k, 1M, 1G): "
		    "'10kb'" },
		{ 1, "option max_size '-1'", 0, 0, NULL,
		    "4: max_size: not a size (like 1024, 256k, 1M, 1G): '-1'" },
		/* duration */
		{ 0, "option timeout '5m'", V_TIMEOUT, 300, NULL, NULL },
		{ 0, "option timeout '1h'", V_TIMEOUT, 3600, NULL, NULL },
		{ 0, "option timeout '1s'", V_TIMEOUT, 1, NULL, NULL },
		{ 0, "option timeout 'soon'", 0, 0, NULL, "2: timeout: not a "
		    "duration (like 60, 5m, 3h, 5d): 'soon'" },
		{ 0, "option timeout '3601'", 0, 0, NULL,
		    "2: timeout: duration out of range (1s-1h): '3601'" },
		{ 0, "option timeout '0'", 0, 0, NULL,
		    "2: timeout: duration out of range (1s-1h): '0'" },
		{ 0, "option deadline '1d'", V_DEADLINE, 86400, NULL, NULL },
		{ 0, "option deadline '25h'", 0, 0, NULL,
		    "2: deadline: duration out of range (1s-1d): '25h'" },
		{ 0, "option queue_lifetime '1w'", V_QLIFE, 604800, NULL,
		    NULL },
		{ 0, "option queue_lifetime '366d'", 0, 0, NULL,
		    "2: queue_lifetime: duration out of range (1s-365d): "
		    "'366d'" },
		/* enums */
		{ 1, "option pop3_tls 'starttls'", V_POP3TLS, TLS_STARTTLS,
		    NULL, NULL },
		{ 1, "option pop3_tls 'none'", V_POP3TLS, TLS_NONE, NULL,
		    NULL },
		{ 1, "option pop3_tls 'implicit'", V_POP3TLS, TLS_IMPLICIT,
		    NULL, NULL },
		{ 1, "option pop3_tls 'ssl'", 0, 0, NULL, "4: pop3_tls: not a "
		    "TLS mode (implicit, starttls, none): 'ssl'" },
		{ 1, "option smtp_tls ''; option smtp_tls 'tls'", 0, 0, NULL,
		    "4: smtp_tls: not a TLS mode (implicit, starttls, none): "
		    "'tls'" },
		{ 1, "option auth 'auto'", V_AUTH, AUTH_AUTO, NULL, NULL },
		{ 1, "option auth 'user'", V_AUTH, AUTH_USER, NULL, NULL },
		{ 1, "option auth 'apop'", V_AUTH, AUTH_APOP, NULL, NULL },
		{ 1, "option auth 'plain'", V_AUTH, AUTH_PLAIN, NULL, NULL },
		{ 1, "option auth 'login'", V_AUTH, AUTH_LOGIN, NULL, NULL },
		{ 1, "option auth 'cram-md5'", V_AUTH, AUTH_CRAM_MD5, NULL,
		    NULL },
		{ 1, "option auth 'xoauth2'", V_AUTH, AUTH_XOAUTH2, NULL,
		    NULL },
		{ 1, "option auth 'md5'", 0, 0, NULL, "4: auth: not an auth "
		    "method (auto, user, apop, plain, login, cram-md5, "
		    "xoauth2): 'md5'" },
		/* pin */
		{ 1, "list tls_fingerprint 'sha256:" PIN64 "'", V_NPIN, 1,
		    NULL, NULL },
		{ 1, "list tls_fingerprint 'SHA256:" PINC "'", V_NPIN, 1,
		    NULL, NULL },
		{ 1, "list tls_fingerprint 'sha1:" PIN64 "'", 0, 0, NULL,
		    "4: tls_fingerprint: not a SHA-256 pin (sha256: and 64 hex "
		    "digits): 'sha1:00112233445566778899aabbccddeeff0011223344"
		    "5566778899AAB...'" },
		{ 1, "list tls_fingerprint 'sha256:" PIN64 "0'", 0, 0, NULL,
		    "4: tls_fingerprint: not a SHA-256 pin (sha256: and 64 hex "
		    "digits): 'sha256:00112233445566778899aabbccddeeff00112233"
		    "445566778899A...'" },
		{ 1, "list tls_fingerprint 'sha256:abcd'", 0, 0, NULL,
		    "4: tls_fingerprint: not a SHA-256 pin (sha256: and 64 hex "
		    "digits): 'sha256:abcd'" },
		{ 1, "list tls_fingerprint 'sha256:AB:CD:'", 0, 0, NULL,
		    "4: tls_fingerprint: not a SHA-256 pin (sha256: and 64 hex "
		    "digits): 'sha256:AB:CD:'" },
		{ 1, "list tls_fingerprint 'sha256:A:BCD'", 0, 0, NULL,
		    "4: tls_fingerprint: not a SHA-256 pin (sha256: and 64 hex "
		    "digits): 'sha256:A:BCD'" },
		{ 1, "list tls_fingerprint ''", 0, 0, NULL,
		    "4: tls_fingerprint: not a SHA-256 pin (sha256: and 64 hex "
		    "digits): ''" },
		{ 1, "list tls_fingerprint 'sha256:" PINC "'\n"
		    "list tls_fingerprint 'sha256:" PINC "'\n"
		    "list tls_fingerprint 'sha256:" PINC "'\n"
		    "list tls_fingerprint 'sha256:" PINC "'", V_NPIN, 4, NULL,
		    NULL },
		{ 1, "list tls_fingerprint 'sha256:" PINC "'\n"
		    "list tls_fingerprint 'sha256:" PINC "'\n"
		    "list tls_fingerprint 'sha256:" PINC "'\n"
		    "list tls_fingerprint 'sha256:" PINC "'\n"
		    "list tls_fingerprint 'sha256:" PINC "'", 0, 0, NULL,
		    "8: tls_fingerprint: more than 4 pins" },
		{ 1, "option tls_fingerprint 'sha256:" PIN64 "'", 0, 0, NULL,
		    "4: tls_fingerprint: a list: write 'list "
		    "tls_fingerprint'" },
		{ 1, "list email 'x'", 0, 0, NULL,
		    "4: email: not a list: write 'option email'" },
		/* host */
		{ 1, "option pop3_host 'mail.example.com'", V_POP3HOST, 0,
		    "mail.example.com", NULL },
		{ 1, "option pop3_host '::1'", V_POP3HOST, 0, "::1", NULL },
		{ 1, "option pop3_host 'a b'", 0, 0, NULL, "4: pop3_host: not "
		    "a host name (no spaces or '/'): 'a b'" },
		{ 1, "option pop3_host 'a/b'", 0, 0, NULL, "4: pop3_host: not "
		    "a host name (no spaces or '/'): 'a/b'" },
		{ 1, "option pop3_host 'a\tb'", 0, 0, NULL, "4: pop3_host: not "
		    "a host name (no spaces or '/'): 'a?b'" },
		{ 1, "option pop3_host 'a\nb'", 0, 0, NULL,
		    "4: syntax: unterminated ' quote" },
		/* path and string */
		{ 0, "option log ''", V_LOG, 0, "", NULL },
		{ 0, "option log '/tmp/x.log'", V_LOG, 0, "/tmp/x.log", NULL },
		{ 0, "option state_dir ''", 0, 0, NULL,
		    "2: state_dir: must not be empty" },
		{ 0, "option state_dir '/x'", V_STATE, 0, "/x", NULL },
		{ 1, "option email 'a'\noption email 'b'", V_EMAIL, 0, "b",
		    NULL },
		/* an option set to '' is not set: the default holds */
		{ 0, "option timeout 5\noption timeout ''", V_TIMEOUT, 60, NULL,
		    NULL },
		{ 1, "option keep 0\noption keep \"\"", V_KEEP, 1, NULL, NULL },
		{ 1, "option pop3_port ''", V_POP3PORT, 995, NULL, NULL },
	};
	char text[1024], n[160];
	size_t i;

	for (i = 0; i < sizeof vc / sizeof vc[0]; i++) {
		if (vc[i].acct)
			snprintf(text, sizeof text, "config account 'a'\n"
			    "\toption pop3_host 'p'\n\toption maildir '/m'\n"
			    "%s\n", vc[i].lines);
		else
			snprintf(text, sizeof text, "config tern 'main'\n"
			    "%s\n", vc[i].lines);
		snprintf(n, sizeof n, "value %zu [%.100s]", i, vc[i].lines);
		if (vc[i].err != NULL) {
			check_err(n, text, vc[i].err);
			continue;
		}
		check_ok(n, text);
		if (vc[i].s != NULL)
			T_EQ_STR(str(vc[i].field), vc[i].s, n);
		else
			T_EQ_INT(num(vc[i].field), vc[i].n, n);
	}

	/* Pins are stored as 32 raw bytes, whatever the spelling. */
	{
		static const unsigned char raw[32] = {
			0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
			0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
			0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
			0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
		};

		check_ok("pins", "config account a\noption smtp_host h\n"
		    "list tls_fingerprint 'sha256:" PIN64 "'\n"
		    "list tls_fingerprint sha256:" PINC "\n");
		T_EQ_INT(c.acct[0].npin, 2, "pins count");
		T_OK(memcmp(c.acct[0].pin[0], raw, 32) == 0, "pin 0 bytes");
		T_OK(memcmp(c.acct[0].pin[1], raw, 32) == 0, "pin 1 bytes");
	}

	/* String length limits: 255 bytes fit, 256 do not; names 31. */
	{
		char v[300], t[600];

		memset(v, 'x', 255);
		v[255] = '\0';
		snprintf(t, sizeof t, "config account a\noption smtp_host h\n"
		    "option email '%s'\n", v);
		check_ok("email 255", t);
		T_EQ_INT(strlen(c.acct[0].email), 255, "email 255 kept");
		snprintf(t, sizeof t, "config account a\noption smtp_host h\n"
		    "option email '%sy'\n", v);
		check_err("email 256", t, "3: email: longer than 255 bytes");

		memset(v, 'n', 31);
		v[31] = '\0';
		snprintf(t, sizeof t, "config account %s\noption smtp_host h"
		    "\n", v);
		check_ok("name 31", t);
		T_EQ_STR(c.acct[0].name, v, "name 31 kept");
		snprintf(t, sizeof t, "config account %sn\noption smtp_host h"
		    "\n", v);
		check_err("name 32", t, "1: account: name longer than 31 "
		    "bytes");
		snprintf(t, sizeof t, "config account a\noption smtp_host h\n"
		    "config filter\noption account '%sn'\noption header From\n"
		    "option contains x\noption folder F\n", v);
		check_err("filter account 32", t,
		    "4: account: longer than 31 bytes");
	}
}

/* --- defaults ------------------------------------------------------------ */

static void
t_defaults(void)
{
	static const struct conf_key_info want_keys[] = {
		{ "tern", "log", "path", "/var/log/tern.log" },
		{ "tern", "log_max_size", "size", "256k" },
		{ "tern", "syslog", "bool", "0" },
		{ "tern", "state_dir", "path", "/etc/tern" },
		{ "tern", "spool_dir", "path", "/var/spool/tern" },
		{ "tern", "ca_file", "path",
		    "/etc/ssl/certs/ca-certificates.crt" },
		{ "tern", "timeout", "duration", "60" },
		{ "tern", "deadline", "duration", "300" },
		{ "tern", "parallel", "uint", "4" },
		{ "tern", "queue_lifetime", "duration", "5d" },
		{ "account", "enabled", "bool", "1" },
		{ "account", "email", "string", "" },
		{ "account", "user", "string", "(email)" },
		{ "account", "password", "string", "" },
		{ "account", "password_file", "path", "" },
		{ "account", "password_cmd", "string", "" },
		{ "account", "auth", "enum", "auto" },
		{ "account", "oauth_token_cmd", "string", "" },
		{ "account", "oauth_token_file", "path", "" },
		{ "account", "pop3_host", "host", "" },
		{ "account", "pop3_port", "port",
		    "(995; 110 with pop3_tls starttls or none)" },
		{ "account", "pop3_tls", "enum", "implicit" },
		{ "account", "keep", "bool", "1" },
		{ "account", "delete_after_days", "uint", "0" },
		{ "account", "recent", "bool", "0" },
		{ "account", "max_messages", "uint", "0" },
		{ "account", "max_size", "size", "0" },
		{ "account", "maildir", "path", "" },
		{ "account", "mda", "string", "" },
		{ "account", "smtp_host", "host", "" },
		{ "account", "smtp_port", "port",
		    "(465; 587 with smtp_tls starttls, 25 with none)" },
		{ "account", "smtp_tls", "enum", "implicit" },
		{ "account", "smtp_user", "string", "(user)" },
		{ "account", "smtp_password", "string", "(password)" },
		{ "account", "smtp_password_file", "path", "(password_file)" },
		{ "account", "smtp_password_cmd", "string", "(password_cmd)" },
		{ "account", "smtp_auth", "enum", "(auth)" },
		{ "account", "smtp_oauth_token_cmd", "string",
		    "(oauth_token_cmd)" },
		{ "account", "smtp_oauth_token_file", "path",
		    "(oauth_token_file)" },
		{ "account", "from", "string", "(email)" },
		{ "account", "tls_fingerprint", "pin", "" },
		{ "account", "tls_ca_file", "path", "(ca_file)" },
		{ "account", "max_auth_failures", "uint", "10" },
		{ "account", "max_conn_failures", "uint", "50" },
		{ "account", "retries", "uint", "2" },
		{ "account", "allow_plaintext_auth", "bool", "0" },
		{ "filter", "account", "string", "" },
		{ "filter", "header", "string", "" },
		{ "filter", "contains", "string", "" },
		{ "filter", "folder", "string", "" },
	};
	const size_t nwant = sizeof want_keys / sizeof want_keys[0];
	struct account *a;
	char n[96];
	size_t i;

	for (i = 0; conf_keys[i].key != NULL && i < nwant; i++) {
		snprintf(n, sizeof n, "conf_keys %s.%s", want_keys[i].section,
		    want_keys[i].key);
		T_EQ_STR(conf_keys[i].section, want_keys[i].section, n);
		T_EQ_STR(conf_keys[i].key, want_keys[i].key, n);
		T_EQ_STR(conf_keys[i].type, want_keys[i].type, n);
		T_EQ_STR(conf_keys[i].def, want_keys[i].def, n);
	}
	T_EQ_INT(i, nwant, "conf_keys count");
	T_OK(conf_keys[i].key == NULL, "conf_keys ends with NULL");

	/* An empty file: the main defaults, no account. */
	check_ok("empty file", "");
	T_EQ_INT(c.main.line, 0, "empty main.line");
	T_EQ_INT(c.nacct, 0, "empty nacct");
	T_EQ_INT(c.nfilter, 0, "empty nfilter");
	T_EQ_STR(c.path, path, "path kept");
	T_EQ_STR(c.main.log, "/var/log/tern.log", "default log");
	T_EQ_INT(c.main.log_max_size, 262144, "default log_max_size");
	T_EQ_INT(c.main.syslog, 0, "default syslog");
	T_EQ_STR(c.main.state_dir, "/etc/tern", "default state_dir");
	T_EQ_STR(c.main.spool_dir, "/var/spool/tern", "default spool_dir");
	T_EQ_STR(c.main.ca_file, "/etc/ssl/certs/ca-certificates.crt",
	    "default ca_file");
	T_EQ_INT(c.main.timeout, 60, "default timeout");
	T_EQ_INT(c.main.deadline, 300, "default deadline");
	T_EQ_INT(c.main.parallel, 4, "default parallel");
	T_EQ_INT(c.main.queue_lifetime, 5 * 86400, "default queue_lifetime");

	/* The smallest account. */
	check_ok("minimal account", "config account 'a'\n"
	    "\toption pop3_host 'pop.example.com'\n"
	    "\toption maildir '/m'\n");
	a = &c.acct[0];
	T_EQ_INT(c.nacct, 1, "minimal nacct");
	T_EQ_STR(a->name, "a", "minimal name");
	T_EQ_INT(a->line, 1, "minimal line");
	T_EQ_INT(a->enabled, 1, "default enabled");
	T_EQ_STR(a->email, "", "default email");
	T_EQ_STR(a->pop3.user, "", "default user");
	T_EQ_STR(a->pop3.password, "", "default password");
	T_EQ_STR(a->pop3.password_file, "", "default password_file");
	T_EQ_STR(a->pop3.password_cmd, "", "default password_cmd");
	T_EQ_INT(a->pop3.auth, AUTH_AUTO, "default auth");
	T_EQ_STR(a->pop3.oauth_token_cmd, "", "default oauth_token_cmd");
	T_EQ_STR(a->pop3.oauth_token_file, "", "default oauth_token_file");
	T_EQ_STR(a->pop3.host, "pop.example.com", "pop3_host");
	T_EQ_INT(a->pop3.port, 995, "default pop3_port");
	T_EQ_INT(a->pop3.tls, TLS_IMPLICIT, "default pop3_tls");
	T_EQ_INT(a->keep, 1, "default keep");
	T_EQ_INT(a->delete_after_days, 0, "default delete_after_days");
	T_EQ_INT(a->recent, 0, "default recent");
	T_EQ_INT(a->max_messages, 0, "default max_messages");
	T_EQ_INT(a->max_size, 0, "default max_size");
	T_EQ_STR(a->maildir, "/m", "maildir");
	T_EQ_STR(a->mda, "", "default mda");
	T_EQ_STR(a->smtp.host, "", "default smtp_host");
	T_EQ_INT(a->smtp.port, 465, "default smtp_port");
	T_EQ_INT(a->smtp.tls, TLS_IMPLICIT, "default smtp_tls");
	T_EQ_STR(a->smtp.user, "", "default smtp_user");
	T_EQ_STR(a->smtp.password, "", "default smtp_password");
	T_EQ_STR(a->smtp.password_file, "", "default smtp_password_file");
	T_EQ_STR(a->smtp.password_cmd, "", "default smtp_password_cmd");
	T_EQ_INT(a->smtp.auth, AUTH_AUTO, "default smtp_auth");
	T_EQ_STR(a->smtp.oauth_token_cmd, "", "default smtp_oauth_token_cmd");
	T_EQ_STR(a->smtp.oauth_token_file, "",
	    "default smtp_oauth_token_file");
	T_EQ_STR(a->from, "", "default from");
	T_EQ_INT(a->npin, 0, "default tls_fingerprint");
	T_EQ_STR(a->tls_ca_file, "/etc/ssl/certs/ca-certificates.crt",
	    "default tls_ca_file");
	T_EQ_INT(a->max_auth_failures, 10, "default max_auth_failures");
	T_EQ_INT(a->max_conn_failures, 50, "default max_conn_failures");
	T_EQ_INT(a->retries, 2, "default retries");
	T_EQ_INT(a->allow_plaintext_auth, 0, "default allow_plaintext_auth");

	/* A filter with only the required keys: every account. */
	check_ok("minimal filter", "config account 'a'\n"
	    "\toption smtp_host 'h'\n"
	    "config filter\n"
	    "\toption header 'From'\n"
	    "\toption contains 'me'\n"
	    "\toption folder 'Sent'\n");
	T_EQ_INT(c.nfilter, 1, "filter count");
	T_EQ_INT(c.filter[0].line, 3, "filter line");
	T_EQ_STR(c.filter[0].account, "", "default filter account");
	T_EQ_STR(c.filter[0].header, "From", "filter header");
	T_EQ_STR(c.filter[0].contains, "me", "filter contains");
	T_EQ_STR(c.filter[0].folder, "Sent", "filter folder");

	/* conf_load clears what a previous load left. */
	check_ok("reload", "config tern\n");
	T_EQ_INT(c.nacct, 0, "reload clears accounts");
	T_EQ_INT(c.nfilter, 0, "reload clears filters");
	T_EQ_INT(c.main.line, 1, "reload main.line");
}

/* --- resolution ---------------------------------------------------------- */

static void
t_resolve(void)
{
	static const struct {
		const char *lines;
		int pport, ptls, sport, stls;
	} pt[] = {
		{ "", 995, TLS_IMPLICIT, 465, TLS_IMPLICIT },
		{ "option pop3_tls starttls", 110, TLS_STARTTLS, 465,
		    TLS_IMPLICIT },
		{ "option pop3_tls none", 110, TLS_NONE, 465, TLS_IMPLICIT },
		{ "option pop3_port 110", 110, TLS_STARTTLS, 465,
		    TLS_IMPLICIT },
		{ "option pop3_port 110\noption pop3_tls implicit", 110,
		    TLS_IMPLICIT, 465, TLS_IMPLICIT },
		{ "option pop3_port 110\noption pop3_tls none", 110, TLS_NONE,
		    465, TLS_IMPLICIT },
		{ "option pop3_port 995", 995, TLS_IMPLICIT, 465,
		    TLS_IMPLICIT },
		{ "option pop3_port 1110", 1110, TLS_IMPLICIT, 465,
		    TLS_IMPLICIT },
		{ "option pop3_port 1110\noption pop3_tls starttls", 1110,
		    TLS_STARTTLS, 465, TLS_IMPLICIT },
		{ "option smtp_tls starttls", 995, TLS_IMPLICIT, 587,
		    TLS_STARTTLS },
		{ "option smtp_tls none", 995, TLS_IMPLICIT, 25, TLS_NONE },
		{ "option smtp_port 587", 995, TLS_IMPLICIT, 587,
		    TLS_STARTTLS },
		{ "option smtp_port 25", 995, TLS_IMPLICIT, 25, TLS_STARTTLS },
		{ "option smtp_port 25\noption smtp_tls none", 995,
		    TLS_IMPLICIT, 25, TLS_NONE },
		{ "option smtp_port 587\noption smtp_tls implicit", 995,
		    TLS_IMPLICIT, 587, TLS_IMPLICIT },
		{ "option smtp_port 465", 995, TLS_IMPLICIT, 465,
		    TLS_IMPLICIT },
		{ "option smtp_port 2525", 995, TLS_IMPLICIT, 2525,
		    TLS_IMPLICIT },
		{ "option smtp_port 2525\noption smtp_tls starttls", 995,
		    TLS_IMPLICIT, 2525, TLS_STARTTLS },
		{ "option smtp_port 587\noption smtp_port ''", 995,
		    TLS_IMPLICIT, 465, TLS_IMPLICIT },
	};
	/* Credentials: each case lists the account's lines and the
	 * resolved pop3.user, smtp.user, smtp password/file/cmd, smtp.auth,
	 * smtp oauth cmd/file, from. */
	static const struct {
		const char *lines;
		const char *puser, *suser, *spw, *spwf, *spwc;
		int sauth;
		const char *soc, *sof, *from;
	} cr[] = {
		{ "", "", "", "", "", "", AUTH_AUTO, "", "", "" },
		{ "option email me@x", "me@x", "me@x", "", "", "", AUTH_AUTO,
		    "", "", "me@x" },
		{ "option email me@x\noption user u", "u", "u", "", "", "",
		    AUTH_AUTO, "", "", "me@x" },
		{ "option email me@x\noption smtp_user s", "me@x", "s", "", "",
		    "", AUTH_AUTO, "", "", "me@x" },
		{ "option user u\noption smtp_user ''", "u", "u", "", "", "",
		    AUTH_AUTO, "", "", "" },
		{ "option password pw", "", "", "pw", "", "", AUTH_AUTO, "",
		    "", "" },
		{ "option password_file /pf", "", "", "", "/pf", "", AUTH_AUTO,
		    "", "", "" },
		{ "option password_cmd 'pass x'", "", "", "", "", "pass x",
		    AUTH_AUTO, "", "", "" },
		{ "option password pw\noption smtp_password_file /spf", "", "",
		    "", "/spf", "", AUTH_AUTO, "", "", "" },
		{ "option password_cmd c\noption smtp_password sp", "", "",
		    "sp", "", "", AUTH_AUTO, "", "", "" },
		{ "option password pw\noption smtp_password ''", "", "", "pw",
		    "", "", AUTH_AUTO, "", "", "" },
		{ "option auth plain", "", "", "", "", "", AUTH_PLAIN, "", "",
		    "" },
		{ "option auth plain\noption smtp_auth login", "", "", "", "",
		    "", AUTH_LOGIN, "", "", "" },
		{ "option auth apop\noption smtp_auth auto", "", "", "", "", "",
		    AUTH_AUTO, "", "", "" },
		{ "option auth plain\noption smtp_auth ''", "", "", "", "", "",
		    AUTH_PLAIN, "", "", "" },
		{ "option oauth_token_cmd tok", "", "", "", "", "", AUTH_AUTO,
		    "tok", "", "" },
		{ "option oauth_token_file /t", "", "", "", "", "", AUTH_AUTO,
		    "", "/t", "" },
		{ "option oauth_token_cmd tok\noption smtp_oauth_token_file /s",
		    "", "", "", "", "", AUTH_AUTO, "", "/s", "" },
		{ "option email me@x\noption from other@x", "me@x", "me@x", "",
		    "", "", AUTH_AUTO, "", "", "other@x" },
	};
	char text[512], n[160];
	struct account *a;
	size_t i;

	for (i = 0; i < sizeof pt / sizeof pt[0]; i++) {
		snprintf(text, sizeof text, "config account a\n"
		    "option pop3_host p\noption maildir /m\n"
		    "option smtp_host s\n%s\n", pt[i].lines);
		snprintf(n, sizeof n, "ports %zu [%s]", i, pt[i].lines);
		check_ok(n, text);
		a = &c.acct[0];
		T_EQ_INT(a->pop3.port, pt[i].pport, n);
		T_EQ_INT(a->pop3.tls, pt[i].ptls, n);
		T_EQ_INT(a->smtp.port, pt[i].sport, n);
		T_EQ_INT(a->smtp.tls, pt[i].stls, n);
	}
	for (i = 0; i < sizeof cr / sizeof cr[0]; i++) {
		snprintf(text, sizeof text, "config account a\n"
		    "option pop3_host p\noption maildir /m\n"
		    "option smtp_host s\n%s\n", cr[i].lines);
		snprintf(n, sizeof n, "creds %zu [%s]", i, cr[i].lines);
		check_ok(n, text);
		a = &c.acct[0];
		T_EQ_STR(a->pop3.user, cr[i].puser, n);
		T_EQ_STR(a->smtp.user, cr[i].suser, n);
		T_EQ_STR(a->smtp.password, cr[i].spw, n);
		T_EQ_STR(a->smtp.password_file, cr[i].spwf, n);
		T_EQ_STR(a->smtp.password_cmd, cr[i].spwc, n);
		T_EQ_INT(a->smtp.auth, cr[i].sauth, n);
		T_EQ_STR(a->smtp.oauth_token_cmd, cr[i].soc, n);
		T_EQ_STR(a->smtp.oauth_token_file, cr[i].sof, n);
		T_EQ_STR(a->from, cr[i].from, n);
	}

	/* tls_ca_file: else main.ca_file, even when `config tern` comes
	 * after the account. */
	check_ok("ca after", "config account a\noption smtp_host s\n"
	    "config account b\noption smtp_host s\noption tls_ca_file /b\n"
	    "config tern main\noption ca_file /ca\n");
	T_EQ_STR(c.acct[0].tls_ca_file, "/ca", "tls_ca_file from main");
	T_EQ_STR(c.acct[1].tls_ca_file, "/b", "tls_ca_file own");
	T_EQ_INT(c.main.line, 6, "main.line");

	/* A filter may name an account defined after it; conf_account. */
	check_ok("filter before account", "config filter\n"
	    "option account work\noption header Subject\n"
	    "option contains '[list]'\noption folder 'Lists.tern'\n"
	    "config account home\noption smtp_host s\n"
	    "config account work\noption smtp_host s\n");
	T_EQ_STR(c.filter[0].account, "work", "filter account");
	T_EQ_STR(c.filter[0].folder, "Lists.tern", "filter folder");
	T_OK(conf_account(&c, "work") == &c.acct[1], "conf_account work");
	T_OK(conf_account(&c, "home") == &c.acct[0], "conf_account home");
	T_OK(conf_account(&c, "nobody") == NULL, "conf_account nobody");
	T_OK(conf_account(&c, "") == NULL, "conf_account empty");

	/* Accounts and filters up to their limits. */
	{
		char big[8192];
		size_t len = 0;
		int k;

		for (k = 0; k < CONF_ACCOUNTS_MAX; k++)
			len += (size_t)snprintf(big + len, sizeof big - len,
			    "config account a%d\noption smtp_host s\n", k);
		for (k = 0; k < CONF_FILTERS_MAX; k++)
			len += (size_t)snprintf(big + len, sizeof big - len,
			    "config filter\noption header h\n"
			    "option contains c\noption folder f\n");
		check_ok("limits", big);
		T_EQ_INT(c.nacct, CONF_ACCOUNTS_MAX, "16 accounts");
		T_EQ_INT(c.nfilter, CONF_FILTERS_MAX, "32 filters");
		snprintf(big + len, sizeof big - len, "config filter\n");
		check_err("33 filters", big, "161: filter: more than 32 "
		    "filters");
		len = 0;
		for (k = 0; k <= CONF_ACCOUNTS_MAX; k++)
			len += (size_t)snprintf(big + len, sizeof big - len,
			    "config account a%d\noption smtp_host s\n", k);
		check_err("17 accounts", big, "33: account: more than 16 "
		    "accounts");
	}
}

/* --- error messages ------------------------------------------------------ */

static void
t_errors(void)
{
	static const struct { const char *name, *text, *err; } ec[] = {
		{ "unknown section",
		    "config tern main\n\n# x\n\nconfig acount 'x'\n",
		    "5: config: unknown section type 'acount'" },
		{ "unknown option",
		    "config account a\noption smtp_host h\n"
		    "option frobnicate 1\n",
		    "3: frobnicate: unknown option in section 'account'" },
		{ "option of another section",
		    "config tern\noption pop3_host h\n",
		    "2: pop3_host: unknown option in section 'tern'" },
		{ "filter option in account",
		    "config account a\noption folder h\n",
		    "2: folder: unknown option in section 'account'" },
		{ "unknown option escaped",
		    "config tern\noption 'fr\377ob' 1\n",
		    "2: fr?ob: unknown option in section 'tern'" },
		{ "option before config", "option log /x\n",
		    "1: log: option before the first 'config' line" },
		{ "list before config", "\nlist tls_fingerprint x\n",
		    "2: tls_fingerprint: list before the first 'config' line" },
		{ "duplicate account",
		    "config account work\noption smtp_host h\n"
		    "config account home\noption smtp_host h\n\n\n\n\n"
		    "config account 'work'\n",
		    "9: account: duplicate account name 'work'" },
		{ "anonymous account", "config account\noption smtp_host h\n",
		    "1: account: an account needs a name: config account "
		    "'NAME'" },
		{ "anonymous account ''",
		    "config account ''\noption smtp_host h\n",
		    "1: account: an account needs a name: config account "
		    "'NAME'" },
		{ "bad section name", "config account 'my-mail'\n",
		    "1: account: invalid section name 'my-mail' (letters, "
		    "digits and _ only)" },
		{ "bad filter name", "config filter 'a b'\n",
		    "1: filter: invalid section name 'a b' (letters, digits "
		    "and _ only)" },
		{ "config without type", "config\n",
		    "1: syntax: config without a section type" },
		{ "config extra", "config account a b\n",
		    "1: syntax: extra text after the section name" },
		{ "two tern sections",
		    "config tern main\n\nconfig tern other\n",
		    "3: tern: more than one 'config tern' section (first on "
		    "line 1)" },
		{ "no host", "config account a\noption email me@x\n",
		    "1: account: account has no pop3_host or smtp_host" },
		{ "no host, second account",
		    "config account a\noption smtp_host h\n"
		    "config account b\noption enabled 0\n",
		    "3: account: account has no pop3_host or smtp_host" },
		{ "pop3 without maildir", "config account a\noption pop3_host "
		    "h\n",
		    "1: account: pop3_host needs maildir or mda" },
		{ "maildir and mda", "config account a\noption smtp_host h\n"
		    "option maildir /m\noption mda 'procmail'\n",
		    "1: account: only one of maildir, mda may be set" },
		{ "two passwords", "config account a\noption smtp_host h\n"
		    "option password x\noption password_cmd y\n",
		    "1: account: only one of password, password_file, "
		    "password_cmd may be set" },
		{ "two password files", "config account a\noption smtp_host h"
		    "\noption password_file x\noption password_cmd y\n",
		    "1: account: only one of password, password_file, "
		    "password_cmd may be set" },
		{ "two smtp passwords", "config account a\n"
		    "option smtp_host h\noption smtp_password x\n"
		    "option smtp_password_file y\n",
		    "1: account: only one of smtp_password, "
		    "smtp_password_file, smtp_password_cmd may be set" },
		{ "two oauth", "config account a\noption smtp_host h\n"
		    "option oauth_token_cmd x\noption oauth_token_file y\n",
		    "1: account: only one of oauth_token_cmd, "
		    "oauth_token_file may be set" },
		{ "two smtp oauth", "config account a\noption smtp_host h\n"
		    "option smtp_oauth_token_cmd x\n"
		    "option smtp_oauth_token_file y\n",
		    "1: account: only one of smtp_oauth_token_cmd, "
		    "smtp_oauth_token_file may be set" },
		{ "filter unknown account",
		    "config account a\noption smtp_host h\nconfig filter\n"
		    "option header From\noption account 'wrok'\n"
		    "option contains x\noption folder F\n",
		    "5: account: no account named 'wrok'" },
		{ "filter missing header",
		    "config account a\noption smtp_host h\nconfig filter\n"
		    "option contains x\noption folder F\n",
		    "3: filter: missing option 'header'" },
		{ "filter missing contains",
		    "config filter f1\noption header From\noption folder F\n",
		    "1: filter: missing option 'contains'" },
		{ "filter missing folder",
		    "config filter\noption header From\noption contains x\n"
		    "option folder ''\n",
		    "1: filter: missing option 'folder'" },
		{ "folder with slash",
		    "config filter\noption folder 'a/b'\n",
		    "2: folder: not a Maildir++ folder name (printable, no '/',"
		    " no leading '.'): 'a/b'" },
		{ "folder dotdot",
		    "config filter\noption folder '..'\n",
		    "2: folder: not a Maildir++ folder name (printable, no '/',"
		    " no leading '.'): '..'" },
		{ "folder leading dot",
		    "config filter\noption folder '.Sent'\n",
		    "2: folder: not a Maildir++ folder name (printable, no '/',"
		    " no leading '.'): '.Sent'" },
		{ "folder not printable",
		    "config filter\noption folder 'Entw\303\274rfe'\n",
		    "2: folder: not a Maildir++ folder name (printable, no '/',"
		    " no leading '.'): 'Entw??rfe'" },
		{ "header with colon",
		    "config filter\noption header 'From:'\n",
		    "2: header: not a header field name: 'From:'" },
		{ "header with space",
		    "config filter\noption header 'Reply To'\n",
		    "2: header: not a header field name: 'Reply To'" },
		{ "nul byte", NULL, "2: syntax: NUL byte in line" },
	};
	char n[128];
	size_t i;

	for (i = 0; i < sizeof ec / sizeof ec[0]; i++) {
		snprintf(n, sizeof n, "error %s", ec[i].name);
		if (ec[i].text != NULL) {
			check_err(n, ec[i].text, ec[i].err);
			continue;
		}
		load_n("config tern\noption log 'a\0b'\n", 29);
		T_EQ_INT(e.ex, EX_CONFIG, n);
		T_EQ_STR(e.msg, want(ec[i].err), n);
	}

	/* The message never shows a value that may be part of a secret. */
	check_err("password extra word", "config account a\n"
	    "option password my secret\n", "2: syntax: more than one value "
	    "for 'password' (quote a value that contains spaces)");
	T_OK(strstr(e.msg, "secret") == NULL, "secret not shown");
	check_err("password unterminated", "config account a\n"
	    "option password 'secret\n", "2: syntax: unterminated ' quote");
	T_OK(strstr(e.msg, "secret") == NULL, "secret not shown 2");

	/* Line length: CONF_LINE_MAX bytes fit, one more does not. */
	{
		char big[3 * CONF_LINE_MAX];
		size_t k;

		strcpy(big, "config tern\n#");
		k = strlen(big);
		memset(big + k, 'x', CONF_LINE_MAX - 1);
		k += CONF_LINE_MAX - 1;
		strcpy(big + k, "\noption parallel 3\n");
		check_ok("line of 1024", big);
		T_EQ_INT(c.main.parallel, 3, "after line of 1024");

		strcpy(big, "config tern\n\toption log '");
		k = strlen(big);
		memset(big + k, 'x', CONF_LINE_MAX);
		k += CONF_LINE_MAX;
		strcpy(big + k, "'\n");
		check_err("line of 1025+", big,
		    "2: syntax: line longer than 1024 bytes");

		/* the same with no final newline */
		strcpy(big, "config tern\n#");
		k = strlen(big);
		memset(big + k, 'x', CONF_LINE_MAX);
		big[k + CONF_LINE_MAX] = '\0';
		check_err("line of 1025 at EOF", big,
		    "2: syntax: line longer than 1024 bytes");
	}

	/* Files that cannot be read. */
	{
		char p[160];

		snprintf(p, sizeof p, "%s/missing", dir);
		err_clear(&e);
		T_EQ_INT(conf_load(&c, p, &e), -1, "missing file rc");
		T_EQ_INT(e.ex, EX_CONFIG, "missing file ex");
		snprintf(p, sizeof p, "%s/missing: cannot read: No such file "
		    "or directory", dir);
		T_EQ_STR(e.msg, p, "missing file msg");

		err_clear(&e);
		T_EQ_INT(conf_load(&c, dir, &e), -1, "directory rc");
		snprintf(p, sizeof p, "%s: cannot read: Is a directory", dir);
		T_EQ_STR(e.msg, p, "directory msg");
		T_EQ_INT(e.ex, EX_CONFIG, "directory ex");
	}

	/* A previous error is kept (sticky). */
	err_clear(&e);
	err_set(&e, EX_USAGE, "first");
	{
		FILE *f = fopen(path, "w");

		fputs("config bogus\n", f);
		fclose(f);
	}
	T_EQ_INT(conf_load(&c, path, &e), -1, "sticky rc");
	T_EQ_STR(e.msg, "first", "sticky msg");
	T_EQ_INT(e.ex, EX_USAGE, "sticky ex");
}

/* --- SPEC §2's example --------------------------------------------------- */

static const char spec_example[] =
"config tern 'main'\n"
"\toption log '/var/log/tern.log'        # append-only event log\n"
"\toption log_max_size '256k'            # then one rotation to .1\n"
"\toption syslog '0'                     # also send events to syslog\n"
"\toption state_dir '/etc/tern'          # counters, UIDLs: must survive "
"reboot\n"
"\toption spool_dir '/var/spool/tern'    # outgoing queue\n"
"\toption ca_file '/etc/ssl/certs/ca-certificates.crt'\n"
"\toption timeout '60'                   # seconds without progress on a "
"connection\n"
"\toption deadline '300'                 # seconds for a whole run, then "
"stop cleanly\n"
"\toption parallel '4'                   # accounts served at once in one "
"poll() loop\n"
"\toption queue_lifetime '5d'            # then a queued message fails "
"(kept, not lost)\n"
"\n"
"config account 'work'\n"
"\toption enabled '1'\n"
"\toption email 'me@example.com'         # default user and sender\n"
"\toption user 'me@example.com'\n"
"\toption password 'secret'              # or password_file / password_cmd"
" (one of)\n"
"\toption auth 'auto'                    # auto|user|apop|plain|login|"
"cram-md5|xoauth2\n"
"\toption oauth_token_cmd 'get-token work' # XOAUTH2 access token (or "
"oauth_token_file)\n"
"\toption pop3_host 'poppro.zoho.com'\n"
"\toption pop3_port '995'\n"
"\toption pop3_tls 'implicit'            # implicit (default) | starttls |"
" none\n"
"\toption keep '1'                       # leave messages on the server "
"(UIDL tracking)\n"
"\toption delete_after_days '0'          # with keep: delete from server "
"after N days\n"
"\toption recent '0'                     # Gmail recent mode: log in as "
"recent:USER\n"
"\toption max_messages '0'               # per run, 0 = no limit (fetch in"
" batches)\n"
"\toption max_size '0'                   # larger messages are left on the"
" server, logged\n"
"\toption maildir '/mnt/usb/mail/work'   # or: option mda 'cmd' (message "
"on stdin)\n"
"\toption smtp_host 'smtp.zoho.com'\n"
"\toption smtp_port '465'\n"
"\toption smtp_tls 'implicit'            # implicit (465) | starttls (587)"
" | none (25)\n"
"\toption smtp_user ''                   # default: user (likewise "
"smtp_password…)\n"
"\toption from 'me@example.com'          # default envelope sender: email"
"\n"
"\tlist tls_fingerprint 'sha256:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:"
"67:89:AB:CD:EF:01:23:45:67:89:AB:CD:EF:01:23:45:67:89' # pin\n"
"\toption tls_ca_file ''                 # default: main.ca_file\n"
"\toption max_auth_failures '10'         # consecutive, then auto-disable\n"
"\toption max_conn_failures '50'         # consecutive, then auto-disable\n"
"\toption retries '2'                    # extra connection attempts "
"within one run\n"
"\n"
"config filter\n"
"\toption account 'work'                 # optional: default all accounts"
"\n"
"\toption header 'From'\n"
"\toption contains 'me@example.com'      # case-insensitive substring\n"
"\toption folder 'Sent'                  # Maildir++ folder .Sent\n";

static void
t_example(void)
{
	static const unsigned char pin[32] = {
		0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
		0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
		0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89,
		0xab, 0xcd, 0xef, 0x01, 0x23, 0x45, 0x67, 0x89
	};
	struct account *a;

	check_ok("spec example", spec_example);
	T_EQ_INT(c.main.line, 1, "ex main.line");
	T_EQ_STR(c.main.log, "/var/log/tern.log", "ex log");
	T_EQ_INT(c.main.log_max_size, 262144, "ex log_max_size");
	T_EQ_INT(c.main.syslog, 0, "ex syslog");
	T_EQ_STR(c.main.state_dir, "/etc/tern", "ex state_dir");
	T_EQ_STR(c.main.spool_dir, "/var/spool/tern", "ex spool_dir");
	T_EQ_STR(c.main.ca_file, "/etc/ssl/certs/ca-certificates.crt",
	    "ex ca_file");
	T_EQ_INT(c.main.timeout, 60, "ex timeout");
	T_EQ_INT(c.main.deadline, 300, "ex deadline");
	T_EQ_INT(c.main.parallel, 4, "ex parallel");
	T_EQ_INT(c.main.queue_lifetime, 432000, "ex queue_lifetime");
	T_EQ_INT(c.nacct, 1, "ex nacct");
	a = conf_account(&c, "work");
	T_OK(a != NULL, "ex account work");
	if (a == NULL)
		return;
	T_EQ_INT(a->line, 13, "ex account line");
	T_EQ_INT(a->enabled, 1, "ex enabled");
	T_EQ_STR(a->email, "me@example.com", "ex email");
	T_EQ_STR(a->pop3.user, "me@example.com", "ex user");
	T_EQ_STR(a->pop3.password, "secret", "ex password");
	T_EQ_INT(a->pop3.auth, AUTH_AUTO, "ex auth");
	T_EQ_STR(a->pop3.oauth_token_cmd, "get-token work", "ex oauth cmd");
	T_EQ_STR(a->pop3.host, "poppro.zoho.com", "ex pop3_host");
	T_EQ_INT(a->pop3.port, 995, "ex pop3_port");
	T_EQ_INT(a->pop3.tls, TLS_IMPLICIT, "ex pop3_tls");
	T_EQ_INT(a->keep, 1, "ex keep");
	T_EQ_INT(a->delete_after_days, 0, "ex delete_after_days");
	T_EQ_INT(a->recent, 0, "ex recent");
	T_EQ_INT(a->max_messages, 0, "ex max_messages");
	T_EQ_INT(a->max_size, 0, "ex max_size");
	T_EQ_STR(a->maildir, "/mnt/usb/mail/work", "ex maildir");
	T_EQ_STR(a->mda, "", "ex mda");
	T_EQ_STR(a->smtp.host, "smtp.zoho.com", "ex smtp_host");
	T_EQ_INT(a->smtp.port, 465, "ex smtp_port");
	T_EQ_INT(a->smtp.tls, TLS_IMPLICIT, "ex smtp_tls");
	T_EQ_STR(a->smtp.user, "me@example.com", "ex smtp user");
	T_EQ_STR(a->smtp.password, "secret", "ex smtp password");
	T_EQ_INT(a->smtp.auth, AUTH_AUTO, "ex smtp auth");
	T_EQ_STR(a->smtp.oauth_token_cmd, "get-token work",
	    "ex smtp oauth cmd");
	T_EQ_STR(a->from, "me@example.com", "ex from");
	T_EQ_INT(a->npin, 1, "ex npin");
	T_OK(memcmp(a->pin[0], pin, 32) == 0, "ex pin bytes");
	T_EQ_STR(a->tls_ca_file, "/etc/ssl/certs/ca-certificates.crt",
	    "ex tls_ca_file");
	T_EQ_INT(a->max_auth_failures, 10, "ex max_auth_failures");
	T_EQ_INT(a->max_conn_failures, 50, "ex max_conn_failures");
	T_EQ_INT(a->retries, 2, "ex retries");
	T_EQ_INT(a->allow_plaintext_auth, 0, "ex allow_plaintext_auth");
	T_EQ_INT(c.nfilter, 1, "ex nfilter");
	T_EQ_INT(c.filter[0].line, 40, "ex filter line");
	T_EQ_STR(c.filter[0].account, "work", "ex filter account");
	T_EQ_STR(c.filter[0].header, "From", "ex filter header");
	T_EQ_STR(c.filter[0].contains, "me@example.com", "ex filter contains");
	T_EQ_STR(c.filter[0].folder, "Sent", "ex filter folder");
}

int
main(void)
{
	snprintf(dir, sizeof dir, "/tmp/t_conf.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(path, sizeof path, "%s/conf", dir);

	t_parsers();
	t_tokenizer();
	t_values();
	t_defaults();
	t_resolve();
	t_errors();
	t_example();

	unlink(path);
	rmdir(dir);
	T_DONE();
}
