/*
 * t_policy.c — auto-disable, re-enable on config change, locks, counters
 * and flash wear (SPEC §3), without a network.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"
#include "policy.h"
#include "t.h"

static struct conf c;
static char dir[64], logpath[128];

static void
setup(void)
{
	struct account *a = &c.acct[0];
	struct err e = { 0, "" };

	memset(&c, 0, sizeof c);
	snprintf(c.main.state_dir, sizeof c.main.state_dir, "%s/state", dir);
	snprintf(c.main.log, sizeof c.main.log, "%s", logpath);
	c.nacct = 1;
	snprintf(a->name, sizeof a->name, "work");
	a->enabled = 1;
	snprintf(a->pop3.host, sizeof a->pop3.host, "pop.example.com");
	a->pop3.port = 995;
	snprintf(a->pop3.user, sizeof a->pop3.user, "me");
	snprintf(a->pop3.password, sizeof a->pop3.password, "old");
	a->max_auth_failures = 10;
	a->max_conn_failures = 3;
	log_open(&c.main, &e);
}

/* The log since the last call, without time stamps. */
static const char *
newlog(void)
{
	static char buf[8192];
	static long off;
	FILE *f = fopen(logpath, "r");
	char line[1024];
	size_t n = 0;

	buf[0] = '\0';
	if (f == NULL)
		return buf;
	fseek(f, off, SEEK_SET);
	while (fgets(line, sizeof line, f) != NULL) {
		const char *p = strchr(line, ' ');

		p = p ? p + 1 : line;
		n += snprintf(buf + n, sizeof buf - n, "%s", p);
	}
	off = ftell(f);
	fclose(f);
	return buf;
}

static int
run(int outcome, const char *error)
{
	struct policy p;
	int ex;

	if ((ex = policy_begin(&p, &c, &c.acct[0], SVC_POP3)) != 0 ||
	    p.skipped)
		return ex;
	return policy_end(&p, outcome, error, 0, 0);
}

static void
test_auth_disable(void)
{
	char name[64];
	int i;

	for (i = 1; i <= 9; i++) {
		snprintf(name, sizeof name, "auth failure %d exits 77", i);
		T_EQ_INT(run(POLICY_AUTH, "-ERR [AUTH] invalid"), EX_NOPERM,
		    name);
	}
	T_OK(strstr(newlog(), "auth account=work service=pop3 result=fail "
	    "failures=9/10 error=\"-ERR [AUTH] invalid\"\n") != NULL,
	    "auth failures counted in the log");
	T_EQ_INT(run(POLICY_AUTH, "-ERR [AUTH] invalid"), EX_NOPERM,
	    "10th auth failure");
	T_EQ_STR(newlog(), "auth account=work service=pop3 result=fail "
	    "failures=10/10 error=\"-ERR [AUTH] invalid\"\n"
	    "disabled account=work service=pop3 reason=auth failures=10\n",
	    "10th failure disables");
	T_EQ_INT(run(POLICY_OK, NULL), EX_UNAVAILABLE, "11th run skipped");
	T_EQ_STR(newlog(), "disabled account=work service=pop3 reason=auth "
	    "failures=10 action=skip\n", "skip logged each run");
	/* an unrelated edit does not re-enable */
	c.acct[0].pop3.port = 1995;
	T_EQ_INT(run(POLICY_OK, NULL), EX_UNAVAILABLE,
	    "port change keeps an auth disable");
	newlog();
	snprintf(c.acct[0].pop3.password, sizeof c.acct[0].pop3.password,
	    "new");
	T_EQ_INT(run(POLICY_OK, NULL), 0, "password change re-enables");
	T_EQ_STR(newlog(), "enabled account=work service=pop3 "
	    "reason=config-changed\n", "enabled logged");
}

static void
test_conn_disable(void)
{
	T_EQ_INT(run(POLICY_CONNECT, "connection refused"), EX_TEMPFAIL,
	    "connect failure 1");
	T_EQ_INT(run(POLICY_TEMP, "no route to any address"), EX_TEMPFAIL,
	    "temporary failure does not count");
	T_EQ_INT(run(POLICY_CONNECT, "connection refused"), EX_TEMPFAIL,
	    "connect failure 2");
	T_EQ_INT(run(POLICY_CONNECT, "connection refused"), EX_TEMPFAIL,
	    "connect failure 3");
	T_OK(strstr(newlog(), "connect account=work service=pop3 "
	    "result=fail failures=1/3 error=\"connection refused\"\n"
	    "connect account=work service=pop3 result=fail failures=2/3 ")
	    != NULL, "temporary failure not counted");
	T_EQ_INT(run(POLICY_OK, NULL), EX_UNAVAILABLE, "conn disabled");
	snprintf(c.acct[0].pop3.password, sizeof c.acct[0].pop3.password,
	    "other");
	T_EQ_INT(run(POLICY_OK, NULL), EX_UNAVAILABLE,
	    "password change keeps a connect disable");
	c.acct[0].pop3.port = 2995;
	newlog();
	T_EQ_INT(run(POLICY_OK, NULL), 0, "port change re-enables");
	T_OK(strstr(newlog(), "enabled account=work service=pop3 "
	    "reason=config-changed") != NULL, "enabled after port change");
}

static void
test_success_resets_and_idle(void)
{
	char path[300];
	struct stat a, b;

	T_EQ_INT(run(POLICY_AUTH, "-ERR no"), EX_NOPERM, "one failure");
	T_EQ_INT(run(POLICY_OK, NULL), 0, "success");
	snprintf(path, sizeof path, "%s/work.pop3", c.main.state_dir);
	T_OK(stat(path, &a) == 0, "state exists");
	sleep(1);
	T_EQ_INT(run(POLICY_OK, NULL), 0, "idle success");
	T_OK(stat(path, &b) == 0 && a.st_mtime == b.st_mtime &&
	    a.st_ino == b.st_ino, "idle success writes no state");
	T_EQ_INT(run(POLICY_TEMP, "offline"), EX_TEMPFAIL, "temp 1");
	stat(path, &a);
	sleep(1);
	T_EQ_INT(run(POLICY_TEMP, "offline"), EX_TEMPFAIL, "temp 2");
	stat(path, &b);
	T_OK(a.st_mtime == b.st_mtime && a.st_ino == b.st_ino,
	    "same temporary error is not rewritten within the hour");
}

static void
test_lock(void)
{
	struct policy p, q;
	int pid, st, ex;

	T_EQ_INT(policy_begin(&p, &c, &c.acct[0], SVC_POP3), 0, "lock taken");
	pid = fork();
	if (pid == 0) {
		ex = policy_begin(&q, &c, &c.acct[0], SVC_POP3);
		_exit(ex == 0 && q.skipped ? 0 : 1);
	}
	waitpid(pid, &st, 0);
	T_OK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "second run skips a locked service with exit 0");
	T_OK(strstr(newlog(), "lock account=work service=pop3 result=busy ")
	    != NULL, "lock logged");
	policy_end(&p, POLICY_OK, NULL, 0, 0);
	T_EQ_INT(policy_begin(&q, &c, &c.acct[0], SVC_POP3), 0,
	    "lock free after end");
	T_EQ_INT(q.skipped, 0, "not skipped");
	policy_release(&q);
}

int
main(void)
{
	char tmpl[] = "/tmp/t_policy.XXXXXX";

	if (mkdtemp(tmpl) == NULL)
		return 1;
	snprintf(dir, sizeof dir, "%s", tmpl);
	snprintf(logpath, sizeof logpath, "%s/tern.log", dir);
	log_set_verbosity(LOG_QUIET);
	setup();
	test_auth_disable();
	test_conn_disable();
	test_success_resets_and_idle();
	test_lock();
	{
		char cmd[128];

		snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	T_DONE();
}
