/*
 * policy.c — auto-disable, re-enable, locks and failure counters around
 * one service of one account (see policy.h for the rules).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <bearssl.h>

#include "conf.h"
#include "file.h"
#include "log.h"
#include "policy.h"

#define KEY_LEN		32
#define TEMP_REWRITE_S	3600	/* rewrite an unchanged temp error hourly */

static const struct server *
server_of(const struct account *a, int svc)
{
	return svc == SVC_POP3 ? &a->pop3 : &a->smtp;
}

/* The fingerprint key, STATE_DIR/.key: read it, or (create != 0) make it.
 * 0 = have it, 1 = absent, -1 = error. */
static int
get_key(const char *dir, unsigned char *key, int create, struct err *e)
{
	char path[CONF_STR_MAX + 8];
	char buf[KEY_LEN + 1];
	long n;
	int fd;

	snprintf(path, sizeof path, "%s/.key", dir);
	n = file_read(path, buf, sizeof buf, 1, e);
	if (n == KEY_LEN) {
		memcpy(key, buf, KEY_LEN);
		explicit_bzero(buf, sizeof buf);
		return 0;
	}
	if (n >= 0 || errno != ENOENT) {
		if (n >= 0)
			err_set(e, EX_IOERR, "%s: not a %d-byte key", path,
			    KEY_LEN);
		if (!create)
			return -1;
	}
	if (!create)
		return 1;
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) < 0 ||
	    read(fd, key, KEY_LEN) != KEY_LEN) {
		if (fd >= 0)
			close(fd);
		return err_set(e, EX_IOERR, "/dev/urandom: %s",
		    strerror(errno));
	}
	close(fd);
	if (file_mkdirs(dir, 0700, e) < 0 ||
	    file_replace(path, key, KEY_LEN, e) < 0)
		return -1;
	return 0;
}

static void
feed(br_hmac_context *h, const char *name, const char *val)
{
	br_hmac_update(h, name, strlen(name) + 1);
	br_hmac_update(h, val, strlen(val) + 1);
}

/* The first line of a secret file, hashed in; a missing file hashes as
 * "(unreadable)" so that creating it counts as a change. */
static void
feed_file(br_hmac_context *h, const char *name, const char *path)
{
	char buf[4096];
	struct err e = { 0, "" };
	long n;

	if (path[0] == '\0')
		return;
	n = file_read(path, buf, sizeof buf, 1, &e);
	if (n < 0)
		feed(h, name, "(unreadable)");
	else {
		buf[strcspn(buf, "\r\n")] = '\0';
		feed(h, name, buf);
	}
	explicit_bzero(buf, sizeof buf);
}

static void
hex(const unsigned char *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
fingerprints(const struct conf *c, const struct account *a, int svc,
    const unsigned char *key, char *auth_fp, char *conn_fp)
{
	const struct server *s = server_of(a, svc);
	br_hmac_key_context kc;
	br_hmac_context h;
	unsigned char out[32];
	char num[32];
	int i;

	br_hmac_key_init(&kc, &br_sha256_vtable, key, KEY_LEN);

	br_hmac_init(&h, &kc, 0);
	feed(&h, "user", s->user);
	feed(&h, "password", s->password);
	feed(&h, "password_file", s->password_file);
	feed_file(&h, "password_file content", s->password_file);
	feed(&h, "password_cmd", s->password_cmd);
	feed(&h, "auth", conf_auth_name(s->auth));
	feed(&h, "oauth_token_cmd", s->oauth_token_cmd);
	feed(&h, "oauth_token_file", s->oauth_token_file);
	feed_file(&h, "oauth_token_file content", s->oauth_token_file);
	if (svc == SVC_POP3)
		feed(&h, "recent", a->recent ? "1" : "0");
	br_hmac_out(&h, out);
	hex(out, sizeof out, auth_fp);

	br_hmac_init(&h, &kc, 0);
	feed(&h, "host", s->host);
	snprintf(num, sizeof num, "%d", s->port);
	feed(&h, "port", num);
	feed(&h, "tls", conf_tls_name(s->tls));
	feed(&h, "ca_file", a->tls_ca_file);
	for (i = 0; i < a->npin; i++)
		br_hmac_update(&h, a->pin[i], sizeof a->pin[i]);
	(void)c;
	br_hmac_out(&h, out);
	hex(out, sizeof out, conn_fp);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&h, sizeof h);
	return 0;
}

int
policy_fingerprints(const struct conf *c, const struct account *a, int svc,
    char *auth_fp, char *conn_fp, struct err *e)
{
	unsigned char key[KEY_LEN];
	int r;

	if ((r = get_key(c->main.state_dir, key, 1, e)) < 0)
		return -1;
	fingerprints(c, a, svc, key, auth_fp, conn_fp);
	explicit_bzero(key, sizeof key);
	return 0;
}

static void
log_head(struct logline *l, const char *event, const struct policy *p)
{
	log_begin(l, event);
	log_str(l, "account", p->acct->name);
	log_str(l, "service", state_svc_name(p->svc));
}

static int
save(struct policy *p)
{
	struct err e = { 0, "" };

	if (memcmp(&p->st, &p->st0, sizeof p->st) == 0)
		return 0;
	if (state_save(p->conf->main.state_dir, p->acct->name, p->svc, &p->st,
	    &e) < 0) {
		log_error("%s", e.msg);
		return e.ex;
	}
	p->st0 = p->st;
	return 0;
}

/* FNV-1a 32 of the state directory, so two configurations with the same
 * account names do not share locks. */
static unsigned int
dir_hash(const char *s)
{
	unsigned int h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static int
lock(struct policy *p)
{
	char path[CONF_STR_MAX + 96];
	struct logline l;
	const char *svc = state_svc_name(p->svc);

	snprintf(path, sizeof path, "/var/lock/tern-%08x-%s.%s.lock",
	    dir_hash(p->conf->main.state_dir), p->acct->name, svc);
	p->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (p->lockfd < 0) {
		struct err e = { 0, "" };

		if (file_mkdirs(p->conf->main.state_dir, 0700, &e) < 0) {
			log_error("%s", e.msg);
			return e.ex;
		}
		snprintf(path, sizeof path, "%s/%s.%s.lock",
		    p->conf->main.state_dir, p->acct->name, svc);
		p->lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (p->lockfd < 0) {
			log_error("%s: cannot create lock: %s", path,
			    strerror(errno));
			return EX_CANTCREAT;
		}
	}
	if (flock(p->lockfd, LOCK_EX | LOCK_NB) == 0)
		return 0;
	log_head(&l, "lock", p);
	log_str(&l, "result", "busy");
	log_str(&l, "error", "another tern run holds the lock; skipped");
	log_end(&l);
	log_warn("%s %s: another tern run is working on it; skipped",
	    p->acct->name, svc);
	close(p->lockfd);
	p->lockfd = -1;
	p->skipped = 1;
	return -1;
}

int
policy_begin(struct policy *p, const struct conf *c, const struct account *a,
    int svc)
{
	struct err e = { 0, "" };
	struct logline l;
	unsigned char key[KEY_LEN];
	char afp[65], cfp[65];
	int r, ex;

	memset(p, 0, sizeof *p);
	p->conf = c;
	p->acct = a;
	p->svc = svc;
	p->lockfd = -1;
	r = state_load(c->main.state_dir, a->name, svc, &p->st, &e);
	if (r < 0) {
		log_error("%s", e.msg);
		p->skipped = 1;
		return e.ex;
	}
	if (r == 1) {
		log_warn("%s", e.msg);
		log_head(&l, "state", p);
		log_str(&l, "result", "ignored");
		log_str(&l, "error", e.msg);
		log_end(&l);
	}
	p->st0 = p->st;

	/* Re-enable when what caused the disable was edited. */
	if ((p->st.disabled == DIS_AUTH || p->st.disabled == DIS_CONNECT) &&
	    get_key(c->main.state_dir, key, 0, &e) == 0) {
		fingerprints(c, a, svc, key, afp, cfp);
		explicit_bzero(key, sizeof key);
		if ((p->st.disabled == DIS_AUTH &&
		    strcmp(afp, p->st.auth_fp) != 0) ||
		    (p->st.disabled == DIS_CONNECT &&
		    strcmp(cfp, p->st.conn_fp) != 0)) {
			p->st.disabled = DIS_NONE;
			p->st.disabled_since = 0;
			p->st.auth_failures = 0;
			p->st.conn_failures = 0;
			log_head(&l, "enabled", p);
			log_str(&l, "reason", "config-changed");
			log_end(&l);
			if ((ex = save(p)) != 0) {
				p->skipped = 1;
				return ex;
			}
		}
	}
	if (p->st.disabled != DIS_NONE) {
		log_head(&l, "disabled", p);
		log_str(&l, "reason", state_reason_name(p->st.disabled));
		if (p->st.disabled == DIS_AUTH)
			log_int(&l, "failures", p->st.auth_failures);
		else if (p->st.disabled == DIS_CONNECT)
			log_int(&l, "failures", p->st.conn_failures);
		log_str(&l, "action", "skip");
		log_end(&l);
		log_warn("%s %s: disabled (%s); `tern enable %s` or fix the "
		    "settings", a->name, state_svc_name(svc),
		    state_reason_name(p->st.disabled), a->name);
		p->skipped = 1;
		return EX_UNAVAILABLE;
	}
	if ((ex = lock(p)) != 0)
		return ex < 0 ? 0 : ex;
	return 0;
}

void
policy_release(struct policy *p)
{
	if (p->lockfd >= 0) {
		close(p->lockfd);
		p->lockfd = -1;
	}
}

static void
set_error(struct policy *p, const char *error, long long now)
{
	snprintf(p->st.last_error, sizeof p->st.last_error, "%s",
	    error ? error : "unknown error");
	p->st.last_error_time = now;
}

static void
disable(struct policy *p, int reason, int failures, long long now)
{
	struct err e = { 0, "" };
	struct logline l;

	p->st.disabled = reason;
	p->st.disabled_since = now;
	if (policy_fingerprints(p->conf, p->acct, p->svc, p->st.auth_fp,
	    p->st.conn_fp, &e) < 0) {
		/* Without a key the service stays disabled until `enable`. */
		log_warn("%s", e.msg);
		p->st.auth_fp[0] = p->st.conn_fp[0] = '\0';
	}
	log_head(&l, "disabled", p);
	log_str(&l, "reason", state_reason_name(reason));
	log_int(&l, "failures", failures);
	log_end(&l);
	log_error("%s %s: disabled after %d %s failures in a row",
	    p->acct->name, state_svc_name(p->svc), failures,
	    reason == DIS_AUTH ? "authentication" : "connection");
}

static void
log_fail(struct policy *p, const char *event, const char *result,
    int n, int max, const char *error)
{
	struct logline l;
	char f[32];

	log_head(&l, event, p);
	log_str(&l, "result", result);
	if (max > 0) {
		snprintf(f, sizeof f, "%d/%d", n, max);
		log_str(&l, "failures", f);
	}
	log_str(&l, "error", error ? error : "unknown error");
	log_end(&l);
}

int
policy_end(struct policy *p, int outcome, const char *error, int worked,
    int ex_local)
{
	const struct account *a = p->acct;
	long long now = log_now();
	int ex = 0, r;

	switch (outcome) {
	case POLICY_OK:
		p->st.auth_failures = 0;
		p->st.conn_failures = 0;
		if (worked || p->st.last_success == 0 ||
		    memcmp(&p->st, &p->st0, sizeof p->st) != 0)
			p->st.last_success = now;
		break;
	case POLICY_AUTH:
		p->st.auth_failures++;
		set_error(p, error, now);
		log_fail(p, "auth", "fail", p->st.auth_failures,
		    a->max_auth_failures, error);
		if (p->st.auth_failures >= a->max_auth_failures)
			disable(p, DIS_AUTH, p->st.auth_failures, now);
		ex = EX_NOPERM;
		break;
	case POLICY_CONNECT:
		p->st.conn_failures++;
		set_error(p, error, now);
		log_fail(p, "connect", "fail", p->st.conn_failures,
		    a->max_conn_failures, error);
		if (p->st.conn_failures >= a->max_conn_failures)
			disable(p, DIS_CONNECT, p->st.conn_failures, now);
		ex = EX_TEMPFAIL;
		break;
	default:	/* POLICY_TEMP, POLICY_LOCAL, POLICY_CONFIG */
		if (strcmp(p->st.last_error, error ? error : "unknown error")
		    != 0 || now - p->st.last_error_time >= TEMP_REWRITE_S ||
		    now < p->st.last_error_time)
			set_error(p, error, now);
		ex = outcome == POLICY_TEMP ? EX_TEMPFAIL :
		    outcome == POLICY_CONFIG ? EX_CONFIG :
		    (ex_local ? ex_local : EX_IOERR);
		break;
	}
	r = save(p);
	policy_release(p);
	return r != 0 ? ex_worst(ex, r) : ex;
}
