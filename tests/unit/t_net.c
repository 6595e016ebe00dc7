/*
 * t_net.c — address text, the RFC 8305 race (a black-holed first address
 * loses to a second one started NET_RACE_MS later; a refused first
 * address hands over at once), failure words and classes, the connect
 * timeout, and loop_run's deadline.  Only 127.0.0.1 is used; a listener
 * whose accept queue is full stands in for a host that does not answer.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "t.h"
#include "loop.h"
#include "net.h"

static int
listener(int backlog, int *port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(fd, backlog) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
		perror("listener");
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A port nobody listens on. */
static int
closed_port(void)
{
	int port, fd = listener(1, &port);

	close(fd);
	return port;
}

/* A listener that answers no SYN: its queue is filled by clients that
 * connected (and are never accepted) until a new connect stays pending. */
static int
blackhole(int *port, int *fill, int nfill)
{
	struct sockaddr_in sa;
	int fd = listener(0, port), i;

	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons(*port);
	for (i = 0; i < nfill; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&sa, sizeof sa);
	}
	usleep(50000);
	return fd;
}

static void
add_try(struct net *n, int port)
{
	struct sockaddr_in *sa = (struct sockaddr_in *)&n->try[n->ntry].sa;

	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa->sin_port = htons(port);
	n->try[n->ntry].salen = sizeof *sa;
	n->try[n->ntry].fd = -1;
	snprintf(n->try[n->ntry].text, sizeof n->try[0].text, "127.0.0.1:%d",
	    port);
	n->ntry++;
}

static void
new_net(struct net *n, int port)
{
	int i;

	memset(n, 0, sizeof *n);
	snprintf(n->host, sizeof n->host, "test.invalid");
	n->port = port;
	n->fd = -1;
	n->win = -1;
	for (i = 0; i < NET_ADDRS_MAX; i++)
		n->try[i].fd = -1;
}

/* The loop slot driving one struct net. */
struct drive {
	struct net *n;
	struct err e;
	int result;
	int aborted;
	long long t_end;
};

static int
d_prepare(void *arg, struct pollfd *pfd, int max, long long *wake)
{
	struct drive *d = arg;

	return net_prepare(d->n, pfd, max, wake);
}

static int
d_dispatch(void *arg, const struct pollfd *pfd, int npfd, long long now)
{
	struct drive *d = arg;

	d->result = net_dispatch(d->n, pfd, npfd, now, &d->e);
	d->t_end = now;
	return d->result != 0;
}

static void
d_abort(void *arg, long long now)
{
	struct drive *d = arg;

	d->aborted = 1;
	net_timeout(d->n, now, 1, &d->e);
}

static const struct loop_ops d_ops = { d_prepare, d_dispatch, d_abort };

static int
drive(struct net *n, struct drive *d, long long ms)
{
	struct loop_slot slot;
	struct pollfd pfd[LOOP_SLOT_FDS];
	struct err e;
	long long t0 = loop_now();
	int r;

	memset(d, 0, sizeof *d);
	err_clear(&d->e);
	err_clear(&e);
	d->n = n;
	d->result = net_start(n, t0, &d->e);
	if (d->result != 0)
		return 0;
	slot.ops = &d_ops;
	slot.arg = d;
	slot.busy = 1;
	r = loop_run(&slot, 1, pfd, t0 + ms, &e);
	d->t_end -= t0;
	return r;
}

static void
test_resolve(void)
{
	struct net n;
	struct err e;

	err_clear(&e);
	T_EQ_INT(net_resolve(&n, "127.0.0.1", 995, loop_now(), &e), 0,
	    "resolve v4 literal");
	T_EQ_INT(n.ntry, 1, "v4 literal: one address");
	T_EQ_STR(n.try[0].text, "127.0.0.1:995", "v4 address text");
	err_clear(&e);
	T_EQ_INT(net_resolve(&n, "::1", 110, loop_now(), &e), 0,
	    "resolve v6 literal");
	T_EQ_STR(n.try[0].text, "[::1]:110", "v6 address text");
}

static void
test_race(void)
{
	struct net n;
	struct drive d;
	int bport, gport, fill[4], bfd, gfd, i, r, afd;

	bfd = blackhole(&bport, fill, 4);
	gfd = listener(8, &gport);

	/* black hole first: the second address starts 250 ms later, wins */
	new_net(&n, 0);
	add_try(&n, bport);
	add_try(&n, gport);
	r = drive(&n, &d, 5000);
	T_EQ_INT(r, 0, "race: loop ends before its deadline");
	T_EQ_INT(d.result, 1, "race: connected");
	T_EQ_INT(n.win, 1, "race: second address won");
	/* not before the delay, and not after the first one gave up */
	T_OK(d.t_end >= NET_RACE_MS && d.t_end < NET_RACE_MS + 2000,
	    "race: second attempt after the attempt delay");
	T_EQ_INT(n.try[0].res, NET_ABANDONED, "race: first abandoned");
	T_EQ_INT(n.try[0].fd, -1, "race: loser closed");
	afd = net_take(&n);
	T_OK(afd >= 0 && n.fd == -1, "race: socket handed over");
	close(afd);

	/* refused first: no waiting for the delay */
	new_net(&n, 0);
	add_try(&n, closed_port());
	add_try(&n, gport);
	drive(&n, &d, 3000);
	T_EQ_INT(d.result, 1, "refused first: connected");
	T_EQ_INT(n.try[0].res, NET_REFUSED, "refused first: first refused");
	T_OK(d.t_end < NET_RACE_MS, "refused first: next at once");
	close(net_take(&n));

	/* every address refused: a connection failure, in words */
	new_net(&n, 4242);
	add_try(&n, closed_port());
	add_try(&n, closed_port());
	drive(&n, &d, 3000);
	T_EQ_INT(d.result, -1, "all refused: failed");
	T_EQ_INT(n.fail, NET_FAIL_CONNECT, "all refused: counts");
	T_EQ_STR(d.e.msg, "connect test.invalid port 4242: connection "
	    "refused (every address)", "all refused: words");

	/* nobody answers: the deadline ends it as a timeout */
	new_net(&n, 4243);
	add_try(&n, bport);
	r = drive(&n, &d, 400);
	T_EQ_INT(r, 1, "timeout: loop deadline");
	T_EQ_INT(d.aborted, 1, "timeout: slot aborted");
	T_EQ_INT(n.try[0].res, NET_TIMEOUT, "timeout: attempt timed out");
	T_EQ_INT(n.fail, NET_FAIL_CONNECT, "timeout: counts");
	T_EQ_STR(d.e.msg, "connect test.invalid port 4243: timed out after "
	    "1 s (1 of 1 addresses tried)", "timeout: words");
	net_abort(&n, loop_now());

	for (i = 0; i < 4; i++)
		close(fill[i]);
	close(bfd);
	close(gfd);
}

static void
test_offline(void)
{
	struct net n;
	struct err e;

	/* every address unreachable: this device is offline, temporary */
	new_net(&n, 995);
	add_try(&n, 1);
	add_try(&n, 2);
	n.next = 2;
	n.try[0].res = NET_UNREACH;
	n.try[0].errnum = ENETUNREACH;
	n.try[1].res = NET_UNREACH;
	n.try[1].errnum = EHOSTUNREACH;
	err_clear(&e);
	T_EQ_INT(net_dispatch(&n, NULL, 0, loop_now(), &e), -1,
	    "unreachable: failed");
	T_EQ_INT(n.fail, NET_FAIL_OFFLINE, "unreachable: offline");
	{
		char want[192];

		snprintf(want, sizeof want, "connect test.invalid port 995: "
		    "127.0.0.1:1 %s; 127.0.0.1:2 %s (offline?)",
		    strerror(ENETUNREACH), strerror(EHOSTUNREACH));
		T_EQ_STR(e.msg, want, "unreachable: words");
	}
	/* one refused among unreachable ones: a real failure */
	new_net(&n, 995);
	add_try(&n, 1);
	add_try(&n, 2);
	n.next = 2;
	n.try[0].res = NET_UNREACH;
	n.try[0].errnum = ENETUNREACH;
	n.try[1].res = NET_REFUSED;
	n.try[1].errnum = ECONNREFUSED;
	err_clear(&e);
	net_dispatch(&n, NULL, 0, loop_now(), &e);
	T_EQ_INT(n.fail, NET_FAIL_CONNECT, "unreachable+refused: counts");
}

int
main(void)
{
	test_resolve();
	test_race();
	test_offline();
	T_DONE();
}
