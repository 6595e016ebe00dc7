/*
 * sasl.c — base64, the SASL initial responses (PLAIN, XOAUTH2, CRAM-MD5),
 * the APOP digest, and the secret source (password, password_file,
 * password_cmd, oauth_token_file, oauth_token_cmd).
 *
 * Encoders stream their pieces through one base64 state so that no
 * plaintext copy of a secret is made; the HMAC and MD5 contexts that saw a
 * secret are wiped before returning.  secret_get() reads only the first
 * line of a file or of a command's stdout, checks it for CR/LF/NUL (the
 * secret goes into protocol lines), and never puts it in e->msg.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bearssl.h>

#include "conf.h"
#include "sasl.h"

extern char **environ;

static const char b64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/*
 * A base64 encoder fed in pieces: three input bytes are carried between
 * pieces; any overflow of `cap` is sticky and reported by b64s_end().
 */
struct b64s {
	char *out;
	size_t cap, len;
	unsigned char c[3];
	int nc;
	int over;
};

static void
b64s_quad(struct b64s *s, const unsigned char *c, int n)
{
	unsigned long v;
	char q[4];

	v = (unsigned long)c[0] << 16;
	if (n > 1)
		v |= (unsigned long)c[1] << 8;
	if (n > 2)
		v |= c[2];
	q[0] = b64_alpha[(v >> 18) & 63];
	q[1] = b64_alpha[(v >> 12) & 63];
	q[2] = n > 1 ? b64_alpha[(v >> 6) & 63] : '=';
	q[3] = n > 2 ? b64_alpha[v & 63] : '=';
	if (s->over || s->cap - s->len < 5) {
		s->over = 1;
		return;
	}
	memcpy(s->out + s->len, q, 4);
	s->len += 4;
}

static void
b64s_put(struct b64s *s, const void *in, size_t n)
{
	const unsigned char *p = in;

	while (n > 0) {
		s->c[s->nc++] = *p++;
		n--;
		if (s->nc == 3) {
			b64s_quad(s, s->c, 3);
			s->nc = 0;
		}
	}
}

static long
b64s_end(struct b64s *s)
{
	if (s->nc > 0)
		b64s_quad(s, s->c, s->nc);
	explicit_bzero(s->c, sizeof s->c);
	s->nc = 0;
	if (s->over || s->cap == 0) {
		if (s->cap > 0)
			explicit_bzero(s->out, s->cap);
		return -1;
	}
	s->out[s->len] = '\0';
	return (long)s->len;
}

static void
b64s_init(struct b64s *s, char *out, size_t cap)
{
	memset(s, 0, sizeof *s);
	s->out = out;
	s->cap = cap;
}

long
b64_encode(const void *in, size_t n, char *out, size_t cap)
{
	struct b64s s;

	b64s_init(&s, out, cap);
	b64s_put(&s, in, n);
	return b64s_end(&s);
}

static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict RFC 4648 decoding: the length is a multiple of 4, '=' appears
 * only as the last one or two characters of the last quantum, no
 * whitespace, and the bits dropped by padding are zero (the canonical
 * encoding, §3.5).
 */
long
b64_decode(const char *in, size_t n, void *out, size_t cap)
{
	unsigned char *o = out;
	size_t i, len = 0;
	int k, v[4], pad;
	unsigned long w;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		for (k = 0; k < 4; k++) {
			if (in[i + k] == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0)
				return -1;
			if ((v[k] = b64_val((unsigned char)in[i + k])) < 0)
				return -1;
		}
		w = (unsigned long)v[0] << 18 | (unsigned long)v[1] << 12 |
		    (unsigned long)v[2] << 6 | (unsigned long)v[3];
		if ((pad == 2 && (w & 0xffff) != 0) ||
		    (pad == 1 && (w & 0xff) != 0))
			return -1;
		if (cap - len < (size_t)(3 - pad))
			return -1;
		o[len++] = (unsigned char)(w >> 16);
		if (pad < 2)
			o[len++] = (unsigned char)(w >> 8);
		if (pad < 1)
			o[len++] = (unsigned char)w;
	}
	return (long)len;
}

long
sasl_plain(const char *user, const char *pass, char *out, size_t cap)
{
	struct b64s s;

	b64s_init(&s, out, cap);
	b64s_put(&s, "", 1);
	b64s_put(&s, user, strlen(user));
	b64s_put(&s, "", 1);
	b64s_put(&s, pass, strlen(pass));
	return b64s_end(&s);
}

long
sasl_xoauth2(const char *user, const char *token, char *out, size_t cap)
{
	struct b64s s;

	/* \1 separates the fields: it may not appear inside one. */
	if (strchr(user, '\1') != NULL || strchr(token, '\1') != NULL) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	b64s_init(&s, out, cap);
	b64s_put(&s, "user=", 5);
	b64s_put(&s, user, strlen(user));
	b64s_put(&s, "\1auth=Bearer ", 13);
	b64s_put(&s, token, strlen(token));
	b64s_put(&s, "\1\1", 2);
	return b64s_end(&s);
}

static void
hex_lower(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

long
sasl_cram_md5(const char *user, const char *pass, const char *chal_b64,
    char *out, size_t cap)
{
	unsigned char chal[REPLY_LINE_MAX], mac[br_md5_SIZE];
	char hex[2 * br_md5_SIZE + 1];
	br_hmac_key_context kc;
	br_hmac_context hc;
	struct b64s s;
	long n;

	n = b64_decode(chal_b64, strlen(chal_b64), chal, sizeof chal);
	if (n <= 0) {
		if (cap > 0)
			out[0] = '\0';
		return -1;
	}
	br_hmac_key_init(&kc, &br_md5_vtable, pass, strlen(pass));
	br_hmac_init(&hc, &kc, 0);
	br_hmac_update(&hc, chal, (size_t)n);
	br_hmac_out(&hc, mac);
	hex_lower(mac, sizeof mac, hex);
	explicit_bzero(&kc, sizeof kc);
	explicit_bzero(&hc, sizeof hc);
	explicit_bzero(mac, sizeof mac);

	b64s_init(&s, out, cap);
	b64s_put(&s, user, strlen(user));
	b64s_put(&s, " ", 1);
	b64s_put(&s, hex, strlen(hex));
	explicit_bzero(hex, sizeof hex);
	return b64s_end(&s);
}

int
apop_digest(const char *timestamp, const char *pass, char hex[33])
{
	unsigned char md[br_md5_SIZE];
	br_md5_context mc;
	size_t n;

	hex[0] = '\0';
	n = strlen(timestamp);
	if (n < 2 || timestamp[0] != '<' || timestamp[n - 1] != '>' ||
	    strpbrk(timestamp, "\r\n") != NULL)
		return -1;
	br_md5_init(&mc);
	br_md5_update(&mc, timestamp, n);
	br_md5_update(&mc, pass, strlen(pass));
	br_md5_out(&mc, md);
	hex_lower(md, sizeof md, hex);
	explicit_bzero(&mc, sizeof mc);
	explicit_bzero(md, sizeof md);
	return 0;
}

/* ---- secret sources ---- */

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Strip one trailing "\r?\n" already cut off by the caller's line split,
 * then refuse what cannot go into a protocol line. */
static int
secret_check(char *out, size_t len, const char *what, struct err *e)
{
	if (len > 0 && out[len - 1] == '\r')
		out[--len] = '\0';
	if (len == 0)
		return err_set(e, EX_CONFIG, "%s: empty", what);
	if (memchr(out, '\0', len) != NULL || memchr(out, '\r', len) != NULL)
		return err_set(e, EX_CONFIG,
		    "%s: contains a CR or NUL byte", what);
	return 0;
}

static int
secret_file(const char *path, char *out, size_t cap, struct err *e)
{
	size_t len = 0;
	ssize_t r;
	char *nl = NULL;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) < 0)
		return err_set(e, EX_CONFIG, "%s: cannot read: %s", path,
		    strerror(errno));
	while (len < cap - 1) {
		r = read(fd, out + len, cap - 1 - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err_set(e, EX_CONFIG, "%s: cannot read: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		nl = memchr(out + len, '\n', (size_t)r);
		len += (size_t)r;
		if (nl != NULL)
			break;
	}
	close(fd);
	if (nl == NULL && len == cap - 1)
		return err_set(e, EX_CONFIG,
		    "%s: first line longer than %zu bytes", path, cap - 2);
	if (nl != NULL) {
		/* Wipe what was read past the first line. */
		explicit_bzero(nl, len - (size_t)(nl - out));
		len = (size_t)(nl - out);
	}
	out[len] = '\0';
	return secret_check(out, len, path, e);
}

/* In a child before execve: none of our descriptors (a lock, a socket)
 * may outlive us in the command or its children. */
static void
close_from(int lo)
{
	long fd, max = sysconf(_SC_OPEN_MAX);

	if (max < 0 || max > 4096)
		max = 4096;
	for (fd = lo; fd < max; fd++)
		close((int)fd);
}

/* Kill the command's process group, then reap it. */
static void
kill_wait(pid_t pid)
{
	int st;

	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
}

/*
 * Run `cmd` through /bin/sh -c with stdout on a pipe, stdin from
 * /dev/null and stderr inherited (so that a password manager's complaint
 * reaches the user), in its own process group so that a timeout kills its
 * children too.  The command gets tern's environment: password managers
 * need HOME, GNUPGHOME, agents' sockets and the like.  The first line goes
 * into out; the rest of the output is drained and wiped.
 */
static int
secret_cmd(const char *what, const char *cmd, char *out, size_t cap,
    int timeout_s, struct err *e)
{
	char *argv[] = { "sh", "-c", (char *)cmd, NULL };
	char junk[512];
	struct pollfd pfd;
	long long deadline;
	size_t len = 0;
	int p[2], nul, st, done = 0, eof = 0, toolong = 0, ms, pr;
	pid_t pid, w;
	ssize_t r;
	char *nl;

	if (pipe2(p, O_CLOEXEC) < 0)
		return err_set(e, EX_TEMPFAIL, "%s: pipe: %s", what,
		    strerror(errno));
	if ((nul = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		err_set(e, EX_TEMPFAIL, "/dev/null: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if ((pid = fork()) < 0) {
		err_set(e, EX_TEMPFAIL, "%s: fork: %s", what,
		    strerror(errno));
		close(p[0]);
		close(p[1]);
		close(nul);
		return -1;
	}
	if (pid == 0) {
		sigset_t ss;

		setpgid(0, 0);
		sigemptyset(&ss);
		sigprocmask(SIG_SETMASK, &ss, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (dup2(nul, 0) < 0 || dup2(p[1], 1) < 0)
			_exit(127);
		close_from(3);
		execve("/bin/sh", argv, environ);
		_exit(127);
	}
	setpgid(pid, pid);
	close(p[1]);
	close(nul);
	if (timeout_s < 1)
		timeout_s = 1;
	deadline = now_ms() + (long long)timeout_s * 1000;

	/* Read until EOF (the first line into out, the rest discarded). */
	while (!eof) {
		ms = (int)(deadline - now_ms());
		if (ms <= 0)
			break;
		pfd.fd = p[0];
		pfd.events = POLLIN;
		pr = poll(&pfd, 1, ms);
		if (pr < 0 && errno != EINTR)
			break;
		if (pr <= 0)
			continue;
		if (done)
			r = read(p[0], junk, sizeof junk);
		else
			r = read(p[0], out + len, cap - 1 - len);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0) {
			eof = 1;
			break;
		}
		if (done)
			continue;
		nl = memchr(out + len, '\n', (size_t)r);
		len += (size_t)r;
		if (nl != NULL) {
			explicit_bzero(nl, len - (size_t)(nl - out));
			len = (size_t)(nl - out);
			done = 1;
		} else if (len == cap - 1) {
			toolong = 1;
			done = 1;
		}
	}
	explicit_bzero(junk, sizeof junk);
	close(p[0]);
	out[len] = '\0';

	/* Then wait for the exit, within the same deadline. */
	for (;;) {
		w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR) {
			explicit_bzero(out, cap);
			return err_set(e, EX_TEMPFAIL, "%s: waitpid: %s", what,
			    strerror(errno));
		}
		if (!eof || now_ms() >= deadline) {
			kill_wait(pid);
			explicit_bzero(out, cap);
			return err_set(e, EX_TEMPFAIL,
			    "%s timed out after %d s", what, timeout_s);
		}
		nanosleep(&(struct timespec){ 0, 10 * 1000000 }, NULL);
	}
	if (WIFSIGNALED(st)) {
		explicit_bzero(out, cap);
		return err_set(e, EX_TEMPFAIL, "%s killed by signal %d", what,
		    WTERMSIG(st));
	}
	if (WEXITSTATUS(st) != 0) {
		explicit_bzero(out, cap);
		return err_set(e, EX_TEMPFAIL, "%s exited with status %d",
		    what, WEXITSTATUS(st));
	}
	if (toolong) {
		explicit_bzero(out, cap);
		return err_set(e, EX_CONFIG,
		    "%s: first line longer than %zu bytes", what, cap - 2);
	}
	if (len == 0)
		return err_set(e, EX_TEMPFAIL, "%s printed nothing", what);
	return secret_check(out, len, what, e);
}

int
secret_get(const struct server *s, int token, char *out, size_t cap,
    int timeout_s, struct err *e)
{
	size_t n;
	int r;

	if (cap < 2)
		return err_set(e, EX_SOFTWARE, "secret buffer too small");
	out[0] = '\0';
	if (!token && s->password[0] != '\0') {
		n = strlen(s->password);
		if (n >= cap)
			return err_set(e, EX_CONFIG,
			    "password longer than %zu bytes", cap - 1);
		memcpy(out, s->password, n + 1);
		r = secret_check(out, n, "password", e);
	} else if (!token && s->password_file[0] != '\0')
		r = secret_file(s->password_file, out, cap, e);
	else if (!token && s->password_cmd[0] != '\0')
		r = secret_cmd("password_cmd", s->password_cmd, out, cap,
		    timeout_s, e);
	else if (token && s->oauth_token_cmd[0] != '\0')
		r = secret_cmd("oauth_token_cmd", s->oauth_token_cmd, out,
		    cap, timeout_s, e);
	else if (token && s->oauth_token_file[0] != '\0')
		r = secret_file(s->oauth_token_file, out, cap, e);
	else
		return err_set(e, EX_CONFIG, token ?
		    "no oauth token source configured" :
		    "no password configured");
	if (r < 0)
		explicit_bzero(out, cap);
	return r;
}
