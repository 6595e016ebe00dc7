/*
 * main.c — argv, dispatch and the one mapping to exit codes.
 *
 * Global options come before the command (`tern [-c FILE] [-v] [-q]
 * COMMAND`).  Invoked as `sendmail`, tern behaves as `tern send`.  Every
 * command returns a sysexits code; a run over several accounts returns the
 * worst one (ex_worst).  Only commands that work are listed in --help.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tern.h"
#include "conf.h"
#include "conn.h"
#include "fetch.h"
#include "log.h"
#include "send.h"
#include "state.h"

#define DEFAULT_CONFIG	"/etc/config/tern"

static struct conf conf;	/* large: static, never on the stack */
static const char *conf_path;

struct cmd {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *args;	/* for --help; NULL = not listed */
	const char *help;
};

static int cmd_version(int, char **);
static int cmd_status(int, char **);
static int cmd_enable(int, char **);
static int cmd_disable(int, char **);
static int cmd_help(int, char **);
static int cmd_fetch(int, char **);
static int cmd_test(int, char **);
static int cmd_diag(int, char **);
static int cmd_send(int, char **);
static int cmd_flush(int, char **);
static int cmd_run(int, char **);
static int cmd_queue(int, char **);

static const struct cmd cmds[] = {
	{ "fetch", cmd_fetch, "[ACCOUNT...]",
	    "download new mail over POP3 for every enabled\n"
	    "account (or those named), deliver it locally" },
	{ "send", cmd_send, "[OPTS] [RCPT...]",
	    "read one message on stdin, send it over SMTP;\n"
	    "queued on a temporary failure (exit 0);\n"
	    "-t -f ADDR -F NAME -i -oi -a ACCOUNT;\n"
	    "also called as `sendmail`" },
	{ "flush", cmd_flush, "[ACCOUNT...]",
	    "retry the outgoing queue (what is due)" },
	{ "run", cmd_run, "",
	    "fetch, then flush: the one line for cron" },
	{ "test", cmd_test, "[ACCOUNT...]",
	    "verify incoming and outgoing settings:\n"
	    "resolve, connect, TLS, greeting, capabilities,\n"
	    "authentication; nothing is downloaded,\n"
	    "deleted or sent" },
	{ "diag", cmd_diag, "ACCOUNT",
	    "the same, step by step: addresses tried and\n"
	    "times, TLS version and cipher, certificate\n"
	    "chain, capabilities, the auth method chosen" },
	{ "status", cmd_status, "[-k]",
	    "one row per account and service: enabled or\n"
	    "disabled and why, consecutive failures, last\n"
	    "success, last error; -k: key=value lines" },
	{ "enable", cmd_enable, "ACCOUNT",
	    "clear a disable and the failure counters" },
	{ "disable", cmd_disable, "ACCOUNT",
	    "disable by hand (kept until `enable`)" },
	{ "queue", cmd_queue, "",
	    "list queued outgoing messages" },
	{ "version", cmd_version, "",
	    "version, TLS library, build target" },
	{ "help", cmd_help, NULL, NULL },
};

static void
usage(FILE *f)
{
	size_t i;
	int n;

	fprintf(f, "usage: tern [-c FILE] [-v] [-q] COMMAND [ARGS]\n\n");
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		const char *h, *nl;

		if (cmds[i].args == NULL)
			continue;
		n = fprintf(f, "  %s %s", cmds[i].name, cmds[i].args);
		/* help text in a column from 25, one line per '\n' */
		for (h = cmds[i].help; h != NULL && *h != '\0'; h = nl) {
			nl = strchr(h, '\n');
			if (nl == NULL)
				nl = h + strlen(h);
			fprintf(f, "%*s%.*s\n", n < 24 ? 24 - n : 1, "",
			    (int)(nl - h), h);
			n = 0;
			if (*nl == '\n')
				nl++;
		}
	}
	fprintf(f, "\n"
	    "  -c FILE   configuration (default: $TERN_CONFIG, else %s)\n"
	    "  -v        protocol trace on stderr; credentials shown as "
	    "<redacted>\n"
	    "  -q        errors only on stderr\n", DEFAULT_CONFIG);
}

static int
cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	usage(stdout);
	return 0;
}

static int
cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		log_error("version takes no arguments");
		return EX_USAGE;
	}
	printf("tern %s\nTLS: BearSSL %s\ntarget: %s\n", TERN_VERSION,
	    BEARSSL_VERSION, TERN_TARGET);
	return 0;
}

/* Load the configuration once; 0 or EX_CONFIG after printing why. */
static int
load_conf(void)
{
	struct err e = { 0, "" };

	if (conf_load(&conf, conf_path, &e) < 0) {
		log_error("%s", e.msg);
		return e.ex ? e.ex : EX_CONFIG;
	}
	return 0;
}

static void
open_log(void)
{
	struct err e = { 0, "" };

	if (log_open(&conf.main, &e) < 0)
		log_warn("%s", e.msg);
}

static const struct server *
service(const struct account *a, int svc)
{
	return svc == SVC_POP3 ? &a->pop3 : &a->smtp;
}

/* Load a state, warning (not failing) when the file was torn. */
static int
load_state(const struct account *a, int svc, struct state *st)
{
	struct err e = { 0, "" };
	int r;

	r = state_load(conf.main.state_dir, a->name, svc, st, &e);
	if (r == 1) {
		struct logline l;

		log_warn("%s", e.msg);
		log_begin(&l, "state");
		log_str(&l, "account", a->name);
		log_str(&l, "service", state_svc_name(svc));
		log_str(&l, "result", "ignored");
		log_str(&l, "error", e.msg);
		log_end(&l);
	} else if (r < 0) {
		log_error("%s", e.msg);
		return e.ex;
	}
	return 0;
}

static const char *
stamp(long long t, char *buf)
{
	if (t <= 0)
		return "never";
	log_time(t, buf);
	return buf;
}

static const char *
state_word(const struct account *a, const struct state *st)
{
	if (!a->enabled)
		return "off";
	return st->disabled != DIS_NONE ? "disabled" : "enabled";
}

static void
why_disabled(const struct account *a, const struct state *st, char *buf,
    size_t cap)
{
	char t[32];

	buf[0] = '\0';
	if (!a->enabled)
		snprintf(buf, cap, "off in the configuration (enabled '0')");
	else if (st->disabled == DIS_AUTH)
		snprintf(buf, cap, "disabled since %s: %d authentication "
		    "failures in a row", stamp(st->disabled_since, t),
		    st->auth_failures);
	else if (st->disabled == DIS_CONNECT)
		snprintf(buf, cap, "disabled since %s: %d runs in a row "
		    "could not connect", stamp(st->disabled_since, t),
		    st->conn_failures);
	else if (st->disabled == DIS_MANUAL)
		snprintf(buf, cap, "disabled by hand since %s (tern enable "
		    "%s)", stamp(st->disabled_since, t), a->name);
}

/* A continuation line of the status table, cut to 80 columns. */
static void
note(const char *text)
{
	char esc[256] = "";

	log_escape(esc, sizeof esc, text, strlen(text));
	printf("    %.*s%s\n", strlen(esc) > 76 ? 73 : 76, esc,
	    strlen(esc) > 76 ? "..." : "");
}

static void
kv(const char *key, const char *val, int last)
{
	char esc[STATE_ERR_MAX * 4 + 16] = "";
	const char *p;
	int bare = *val != '\0';

	for (p = val; *p != '\0'; p++)
		if (*p <= ' ' || *p > '~' || *p == '"' || *p == '\\' ||
		    *p == '=')
			bare = 0;
	if (bare)
		printf("%s=%s", key, val);
	else {
		log_escape(esc, sizeof esc, val, strlen(val));
		printf("%s=\"%s\"", key, esc);
	}
	putchar(last ? '\n' : ' ');
}

static void
kvi(const char *key, long long v)
{
	printf("%s=%lld ", key, v);
}

static void
kvt(const char *key, long long t, int last)
{
	char buf[32];

	if (t > 0)
		log_time(t, buf);
	else
		buf[0] = '\0';
	kv(key, buf, last);
}

static int
cmd_status(int argc, char **argv)
{
	struct state st;
	char why[192], t[32], fails[2][24];
	int queued[CONF_ACCOUNTS_MAX];
	int i, svc, keys = 0, ex = 0, rows = 0;

	if (argc == 2 && strcmp(argv[1], "-k") == 0)
		keys = 1;
	else if (argc != 1) {
		log_error("usage: tern status [-k]");
		return EX_USAGE;
	}
	if ((ex = load_conf()) != 0)
		return ex;
	if (send_queued(&conf, queued) < 0)
		memset(queued, 0, sizeof queued);
	if (!keys)
		printf("%-16s %-7s %-9s %-6s %-9s %s\n", "ACCOUNT", "SERVICE",
		    "STATE", "AUTH", "CONNECT", "LAST SUCCESS");
	for (i = 0; i < conf.nacct; i++) {
		const struct account *a = &conf.acct[i];

		for (svc = 0; svc < SVC_N; svc++) {
			if (service(a, svc)->host[0] == '\0')
				continue;
			ex = ex_worst(ex, load_state(a, svc, &st));
			why_disabled(a, &st, why, sizeof why);
			rows++;
			if (keys) {
				kv("account", a->name, 0);
				kv("service", state_svc_name(svc), 0);
				kv("state", state_word(a, &st), 0);
				kv("reason", a->enabled ? state_reason_name(
				    st.disabled) : "config", 0);
				kvt("disabled_since", st.disabled_since, 0);
				kvi("auth_failures", st.auth_failures);
				kvi("max_auth_failures", a->max_auth_failures);
				kvi("conn_failures", st.conn_failures);
				kvi("max_conn_failures", a->max_conn_failures);
				kvt("last_success", st.last_success, 0);
				kvt("last_error_time", st.last_error_time, 0);
				if (svc == SVC_SMTP)
					kvi("queued", queued[i]);
				kv("last_error", st.last_error, 1);
				continue;
			}
			snprintf(fails[0], sizeof fails[0], "%d/%d",
			    st.auth_failures, a->max_auth_failures);
			snprintf(fails[1], sizeof fails[1], "%d/%d",
			    st.conn_failures, a->max_conn_failures);
			printf("%-16.16s %-7s %-9s %-6s %-9s %s\n", a->name,
			    state_svc_name(svc), state_word(a, &st),
			    fails[0], fails[1], stamp(st.last_success, t));
			if (why[0] != '\0')
				note(why);
			if (svc == SVC_SMTP && queued[i] > 0) {
				snprintf(why, sizeof why, "%d message%s queued "
				    "(tern queue)", queued[i], queued[i] == 1 ?
				    "" : "s");
				note(why);
			}
			if (st.last_error[0] != '\0') {
				char line[STATE_ERR_MAX + 48];

				snprintf(line, sizeof line, "last error %s: %s",
				    stamp(st.last_error_time, t),
				    st.last_error);
				note(line);
			}
		}
	}
	if (rows == 0 && !keys)
		printf("(no accounts in %s)\n", conf.path);
	return ex;
}

/* enable/disable ACCOUNT: every service the account has. */
static int
set_disabled(int argc, char **argv, int disable)
{
	struct account *a;
	struct state st;
	struct err e = { 0, "" };
	struct logline l;
	int svc, ex;

	if (argc != 2) {
		log_error("usage: tern %s ACCOUNT", argv[0]);
		return EX_USAGE;
	}
	if ((ex = load_conf()) != 0)
		return ex;
	if ((a = conf_account(&conf, argv[1])) == NULL) {
		log_error("no account '%s' in %s", argv[1], conf.path);
		return EX_USAGE;
	}
	open_log();
	for (svc = 0; svc < SVC_N; svc++) {
		if (service(a, svc)->host[0] == '\0')
			continue;
		if ((ex = load_state(a, svc, &st)) != 0)
			return ex;
		if (disable) {
			st.disabled = DIS_MANUAL;
			st.disabled_since = log_now();
		} else {
			st.disabled = DIS_NONE;
			st.disabled_since = 0;
			st.auth_failures = 0;
			st.conn_failures = 0;
		}
		if (state_save(conf.main.state_dir, a->name, svc, &st,
		    &e) < 0) {
			log_error("%s", e.msg);
			return e.ex;
		}
		log_begin(&l, disable ? "disabled" : "enabled");
		log_str(&l, "account", a->name);
		log_str(&l, "service", state_svc_name(svc));
		log_str(&l, "reason", "manual");
		log_end(&l);
		printf("%s %s %s\n", a->name, state_svc_name(svc),
		    disable ? "disabled" : "enabled");
	}
	return 0;
}

static int
cmd_enable(int argc, char **argv)
{
	return set_disabled(argc, argv, 0);
}

static int
cmd_disable(int argc, char **argv)
{
	return set_disabled(argc, argv, 1);
}

/* fetch, test, diag: the accounts named after the command, or all. */
static int
run_fetch(int argc, char **argv, int mode)
{
	int ex;

	if ((ex = load_conf()) != 0)
		return ex;
	if (mode == FETCH_FETCH)
		open_log();
	return fetch_run(&conf, argv + 1, argc - 1, mode);
}

static int
cmd_fetch(int argc, char **argv)
{
	return run_fetch(argc, argv, FETCH_FETCH);
}

/* test, diag, run: POP3 and SMTP jobs in one loop. */
static int
run_both(char **names, int nnames, int mode)
{
	struct conn_run *r;
	int ex;

	r = conn_begin(&conf, mode);
	if ((ex = fetch_plan(r, names, nnames)) != 0 ||
	    (ex = send_plan(r, names, nnames)) != 0)
		return ex;
	if (mode != CONN_RUN)
		conn_group(r);
	return conn_go(r);
}

static int
cmd_test(int argc, char **argv)
{
	int ex;

	if ((ex = load_conf()) != 0)
		return ex;
	return run_both(argv + 1, argc - 1, CONN_TEST);
}

static int
cmd_diag(int argc, char **argv)
{
	int ex;

	if (argc != 2) {
		log_error("usage: tern diag ACCOUNT");
		return EX_USAGE;
	}
	if ((ex = load_conf()) != 0)
		return ex;
	return run_both(argv + 1, 1, CONN_DIAG);
}

static int
cmd_run(int argc, char **argv)
{
	int ex;

	(void)argv;
	if (argc != 1) {
		log_error("usage: tern run");
		return EX_USAGE;
	}
	if ((ex = load_conf()) != 0)
		return ex;
	open_log();
	return run_both(NULL, 0, CONN_RUN);
}

/* send and sendmail: argv[0] is "send" or the name tern was called by */
static int
cmd_send(int argc, char **argv)
{
	int ex;

	if ((ex = load_conf()) != 0)
		return ex;
	open_log();
	return send_main(&conf, argc, argv);
}

static int
cmd_flush(int argc, char **argv)
{
	int ex;

	if ((ex = load_conf()) != 0)
		return ex;
	open_log();
	return send_flush(&conf, argv + 1, argc - 1);
}

static int
cmd_queue(int argc, char **argv)
{
	int ex;

	(void)argv;
	if (argc != 1) {
		log_error("usage: tern queue");
		return EX_USAGE;
	}
	if ((ex = load_conf()) != 0)
		return ex;
	return send_queue(&conf);
}

static const struct cmd *
find_cmd(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

int
main(int argc, char **argv)
{
	const struct cmd *c;
	const char *base;
	int i, ex;

	base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	conf_path = getenv("TERN_CONFIG");
	if (conf_path == NULL || *conf_path == '\0')
		conf_path = DEFAULT_CONFIG;
	log_set_verbosity(LOG_NORMAL);

	if (strcmp(base, "sendmail") == 0) {
		c = find_cmd("send");
		if (c == NULL) {
			log_error("sending mail is not in this build yet");
			return EX_UNAVAILABLE;
		}
		return c->run(argc, argv);
	}

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf_path = argv[++i];
		else if (strncmp(argv[i], "-c", 2) == 0 && argv[i][2] != '\0')
			conf_path = argv[i] + 2;
		else if (strcmp(argv[i], "-v") == 0)
			log_set_verbosity(LOG_TRACE);
		else if (strcmp(argv[i], "-q") == 0)
			log_set_verbosity(LOG_QUIET);
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--version") == 0)
			return cmd_version(1, argv);
		else {
			log_error("unknown option '%s'", argv[i]);
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((c = find_cmd(argv[i])) == NULL) {
		log_error("unknown command '%s'", argv[i]);
		usage(stderr);
		return EX_USAGE;
	}
	ex = c->run(argc - i, argv + i);
	fflush(stdout);
	if (ferror(stdout) && ex == 0)
		ex = EX_IOERR;
	log_close();
	return ex;
}
