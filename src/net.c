/*
 * net.c — getaddrinfo, then non-blocking connects raced over the
 * addresses (RFC 8305).  See net.h for the contract.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "loop.h"
#include "net.h"

const char *
net_res_name(int res)
{
	switch (res) {
	case NET_NOT_TRIED:
		return "not tried";
	case NET_PENDING:
		return "connecting";
	case NET_CONNECTED:
		return "connected";
	case NET_REFUSED:
		return "connection refused";
	case NET_UNREACH:
		return "unreachable";
	case NET_TIMEOUT:
		return "timed out";
	case NET_ABANDONED:
		return "abandoned (another address won)";
	default:
		return "error";
	}
}

static void
addr_text(struct net_try *t, int port)
{
	char a[INET6_ADDRSTRLEN];
	const void *p;

	if (t->sa.ss_family == AF_INET6)
		p = &((struct sockaddr_in6 *)&t->sa)->sin6_addr;
	else
		p = &((struct sockaddr_in *)&t->sa)->sin_addr;
	if (inet_ntop(t->sa.ss_family, p, a, sizeof a) == NULL)
		snprintf(a, sizeof a, "?");
	snprintf(t->text, sizeof t->text, t->sa.ss_family == AF_INET6 ?
	    "[%s]:%d" : "%s:%d", a, port);
}

int
net_resolve(struct net *n, const char *host, int port, long long now,
    struct err *e)
{
	struct addrinfo hints, *res, *ai;
	struct addrinfo *fam[2][NET_ADDRS_MAX];
	int nfam[2] = { 0, 0 }, first = -1, r, i, k;
	char portstr[8];

	memset(n, 0, sizeof *n);
	snprintf(n->host, sizeof n->host, "%s", host);
	n->port = port;
	n->fd = -1;
	n->win = -1;
	for (i = 0; i < NET_ADDRS_MAX; i++)
		n->try[i].fd = -1;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof portstr, "%d", port);
	r = getaddrinfo(host, portstr, &hints, &res);
	n->resolve_ms = loop_now() - now;
	if (r != 0) {
		switch (r) {
		case EAI_NONAME:
#ifdef EAI_NODATA
		case EAI_NODATA:
#endif
			n->fail = NET_FAIL_CONNECT;
			return err_set(e, EX_TEMPFAIL, "%s: no such host",
			    host);
		case EAI_AGAIN:
		case EAI_FAIL:
			n->fail = NET_FAIL_OFFLINE;
			return err_set(e, EX_TEMPFAIL, "%s: cannot resolve "
			    "now (%s): offline?", host, gai_strerror(r));
		case EAI_SYSTEM:
			n->fail = NET_FAIL_OFFLINE;
			return err_set(e, EX_TEMPFAIL, "%s: cannot resolve: "
			    "%s", host, strerror(errno));
		default:
			n->fail = NET_FAIL_CONNECT;
			return err_set(e, EX_TEMPFAIL, "%s: cannot resolve: "
			    "%s", host, gai_strerror(r));
		}
	}
	/* RFC 8305 §4: interleave the families, the first one first */
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (ai->ai_addrlen > sizeof n->try[0].sa)
			continue;
		if (first < 0)
			first = ai->ai_family;
		k = ai->ai_family == first ? 0 : 1;
		n->naddr++;
		if (nfam[k] < NET_ADDRS_MAX)
			fam[k][nfam[k]++] = ai;
	}
	for (i = 0; n->ntry < NET_ADDRS_MAX &&
	    (i < nfam[0] || i < nfam[1]); i++)
		for (k = 0; k < 2; k++) {
			if (i >= nfam[k] || n->ntry >= NET_ADDRS_MAX)
				continue;
			ai = fam[k][i];
			memcpy(&n->try[n->ntry].sa, ai->ai_addr,
			    ai->ai_addrlen);
			n->try[n->ntry].salen = ai->ai_addrlen;
			addr_text(&n->try[n->ntry], port);
			n->ntry++;
		}
	freeaddrinfo(res);
	if (n->ntry == 0) {
		n->fail = NET_FAIL_CONNECT;
		return err_set(e, EX_TEMPFAIL, "%s: no IPv4 or IPv6 address",
		    host);
	}
	return 0;
}

static int
res_of_errno(int errnum)
{
	switch (errnum) {
	case ECONNREFUSED:
		return NET_REFUSED;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case ENETDOWN:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
		return NET_UNREACH;
	case ETIMEDOUT:
		return NET_TIMEOUT;
	default:
		return NET_ERROR;
	}
}

static void
try_end(struct net_try *t, int res, int errnum, long long now)
{
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	t->res = res;
	t->errnum = errnum;
	t->t_end = now;
}

/* Start try[n->next]: pending, connected, or failed at once. */
static void
try_start(struct net *n, long long now)
{
	struct net_try *t = &n->try[n->next++];
	int one = 1;

	t->t_start = now;
	t->fd = socket(t->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0);
	if (t->fd < 0) {
		try_end(t, res_of_errno(errno), errno, now);
		return;
	}
	setsockopt(t->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(t->fd, (struct sockaddr *)&t->sa, t->salen) == 0) {
		t->res = NET_CONNECTED;
		t->t_end = now;
		return;
	}
	if (errno == EINPROGRESS || errno == EINTR) {
		t->res = NET_PENDING;
		return;
	}
	try_end(t, res_of_errno(errno), errno, now);
}

static int
pending(const struct net *n)
{
	int i, c = 0;

	for (i = 0; i < n->next; i++)
		if (n->try[i].res == NET_PENDING)
			c++;
	return c;
}

static int
winner(struct net *n, long long now)
{
	int i;

	for (i = 0; i < n->next; i++)
		if (n->try[i].res == NET_CONNECTED)
			break;
	if (i == n->next)
		return 0;
	n->win = i;
	n->fd = n->try[i].fd;
	n->try[i].fd = -1;
	for (i = 0; i < n->next; i++)
		if (n->try[i].res == NET_PENDING)
			try_end(&n->try[i], NET_ABANDONED, 0, now);
	return 1;
}

/* Start attempts until one is pending or connected, or none is left. */
static void
start_more(struct net *n, long long now)
{
	while (n->next < n->ntry) {
		try_start(n, now);
		if (n->try[n->next - 1].res == NET_PENDING ||
		    n->try[n->next - 1].res == NET_CONNECTED)
			break;
	}
	n->next_at = now + NET_RACE_MS;
}

/* All attempts failed: the words and the class. */
static int
all_failed(struct net *n, struct err *e)
{
	char why[160];
	size_t len = 0;
	int i, same = 1, unreach = 1;

	for (i = 0; i < n->ntry; i++) {
		if (n->try[i].res != NET_UNREACH)
			unreach = 0;
		if (n->try[i].res != n->try[0].res ||
		    n->try[i].errnum != n->try[0].errnum)
			same = 0;
	}
	n->fail = unreach ? NET_FAIL_OFFLINE : NET_FAIL_CONNECT;
	why[0] = '\0';
	for (i = 0; i < n->ntry && len < sizeof why; i++) {
		const struct net_try *t = &n->try[i];
		const char *w = t->res == NET_UNREACH || t->res == NET_ERROR ?
		    strerror(t->errnum) : net_res_name(t->res);

		if (same) {
			snprintf(why, sizeof why, "%s%s", w, n->ntry > 1 ?
			    " (every address)" : "");
			break;
		}
		len += (size_t)snprintf(why + len, sizeof why - len, "%s%s %s",
		    i > 0 ? "; " : "", t->text, w);
	}
	return err_set(e, EX_TEMPFAIL, "connect %s port %d: %s%s", n->host,
	    n->port, why, unreach ? " (offline?)" : "");
}

int
net_start(struct net *n, long long now, struct err *e)
{
	n->t0 = now;
	start_more(n, now);
	if (winner(n, now))
		return 1;
	if (pending(n) == 0)
		return all_failed(n, e);
	return 0;
}

int
net_prepare(struct net *n, struct pollfd *pfd, int max, long long *wake)
{
	int i;

	n->npoll = 0;
	for (i = 0; i < n->next && n->npoll < max; i++) {
		if (n->try[i].res != NET_PENDING)
			continue;
		pfd[n->npoll].fd = n->try[i].fd;
		pfd[n->npoll].events = POLLOUT;
		pfd[n->npoll].revents = 0;
		n->pidx[n->npoll++] = i;
	}
	if (n->next < n->ntry && (*wake == 0 || n->next_at < *wake))
		*wake = n->next_at;
	return n->npoll;
}

int
net_dispatch(struct net *n, const struct pollfd *pfd, int npfd,
    long long now, struct err *e)
{
	struct net_try *t;
	int i, soerr;

	for (i = 0; i < npfd && i < n->npoll; i++) {
		t = &n->try[n->pidx[i]];
		if (pfd[i].revents == 0 || t->res != NET_PENDING)
			continue;
		/* The outcome of a non-blocking connect: asking connect()
		 * again answers EISCONN or the pending error.  (SO_ERROR
		 * says the same, but qemu-user passes its errno through
		 * untranslated, which breaks the emulated MIPS tests.) */
		if (connect(t->fd, (struct sockaddr *)&t->sa, t->salen) == 0 ||
		    errno == EISCONN)
			soerr = 0;
		else if (errno == EALREADY || errno == EINPROGRESS ||
		    errno == EINTR)
			continue;
		else
			soerr = errno;
		if (soerr == 0 && (pfd[i].revents & POLLOUT)) {
			t->res = NET_CONNECTED;
			t->t_end = now;
		} else
			try_end(t, res_of_errno(soerr ? soerr : ECONNREFUSED),
			    soerr ? soerr : ECONNREFUSED, now);
	}
	n->npoll = 0;
	if (winner(n, now))
		return 1;
	/* the next address: when its delay is up or nothing is pending */
	if (n->next < n->ntry && (now >= n->next_at || pending(n) == 0)) {
		start_more(n, now);
		if (winner(n, now))
			return 1;
	}
	if (pending(n) == 0 && n->next >= n->ntry)
		return all_failed(n, e);
	return 0;
}

void
net_timeout(struct net *n, long long now, int seconds, struct err *e)
{
	int i, tried = n->next;

	for (i = 0; i < n->next; i++)
		if (n->try[i].res == NET_PENDING)
			try_end(&n->try[i], NET_TIMEOUT, ETIMEDOUT, now);
	n->fail = NET_FAIL_CONNECT;
	err_set(e, EX_TEMPFAIL, "connect %s port %d: timed out after %d s "
	    "(%d of %d addresses tried)", n->host, n->port, seconds, tried,
	    n->ntry);
}

void
net_abort(struct net *n, long long now)
{
	int i;

	for (i = 0; i < n->next; i++)
		if (n->try[i].res == NET_PENDING)
			try_end(&n->try[i], NET_ABANDONED, 0, now);
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

int
net_take(struct net *n)
{
	int fd = n->fd;

	n->fd = -1;
	return fd;
}
