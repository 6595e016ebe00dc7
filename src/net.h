/*
 * net.h — resolve a host and connect to it without blocking.
 *
 * net_resolve() calls getaddrinfo (AF_UNSPEC, SOCK_STREAM).  getaddrinfo
 * blocks, and there is no portable non-blocking resolver in libc; it is
 * therefore called once per connection, before any socket of that
 * session exists, and is bounded by the resolver's own timeouts
 * (resolv.conf), not by tern's `timeout`.  The addresses are ordered as
 * RFC 8305 says: families interleaved, starting with the family
 * getaddrinfo put first (RFC 6724 order, normally IPv6).
 *
 * Connecting races the addresses: an attempt starts, and the next one
 * starts NET_RACE_MS later without waiting for the first to fail (at once
 * when it fails); the first to connect wins and the others are closed.
 * The winner gets TCP_NODELAY.  Every attempt is kept with its result and
 * time for `tern diag`.
 *
 * Failure classes (n->fail):
 *   NET_FAIL_OFFLINE  temporary, never counts toward a disable: the
 *                     resolver cannot answer now (EAI_AGAIN…), or every
 *                     address was unreachable (no route, network down);
 *   NET_FAIL_CONNECT  counts as a connection failure: the host does not
 *                     exist (EAI_NONAME), refused, timed out.
 */
#ifndef NET_H
#define NET_H

#include <poll.h>
#include <sys/socket.h>
#include "tern.h"

#define NET_ADDRS_MAX	8	/* resolved addresses tried per connection */
#define NET_RACE_MS	250	/* RFC 8305 connection attempt delay */
#define NET_ADDR_TEXT	48	/* "[2001:db8::1]:995" */

enum net_res {
	NET_NOT_TRIED, NET_PENDING, NET_CONNECTED, NET_REFUSED,
	NET_UNREACH, NET_TIMEOUT, NET_ERROR, NET_ABANDONED
};

enum net_fail { NET_FAIL_NONE, NET_FAIL_OFFLINE, NET_FAIL_CONNECT };

struct net_try {
	struct sockaddr_storage sa;
	socklen_t salen;
	int fd;				/* -1 unless pending */
	int res;			/* enum net_res */
	int errnum;			/* errno of a failure */
	long long t_start, t_end;	/* monotonic ms */
	char text[NET_ADDR_TEXT];	/* address and port */
};

struct net {
	char host[CONF_STR_MAX];
	int port;
	struct net_try try[NET_ADDRS_MAX];
	int ntry;
	int naddr;			/* resolved, before the cap */
	int next;			/* next address to start */
	long long t0;			/* connect phase start */
	long long next_at;		/* when to start try[next] */
	long long resolve_ms;		/* time getaddrinfo took */
	int fd;				/* connected socket, -1 */
	int win;			/* index of the winner, -1 */
	int fail;			/* enum net_fail */
	int pidx[NET_ADDRS_MAX];	/* pollfd index -> try index */
	int npoll;
};

/* Resolve host:port (blocking; see above).  now is monotonic ms. */
int net_resolve(struct net *n, const char *host, int port, long long now,
    struct err *e);
/* Start the first attempt. */
int net_start(struct net *n, long long now, struct err *e);
/* Fill pfd (up to max) for the pending attempts; *wake is lowered to
 * when the next attempt is due.  Returns the count. */
int net_prepare(struct net *n, struct pollfd *pfd, int max, long long *wake);
/* After poll: 1 connected (n->fd), 0 pending, -1 all failed (e set). */
int net_dispatch(struct net *n, const struct pollfd *pfd, int npfd,
    long long now, struct err *e);
/* Give up (timeout): pending attempts become NET_TIMEOUT; e set. */
void net_timeout(struct net *n, long long now, int seconds, struct err *e);
/* Close every socket net still owns (not the one taken by net_take). */
void net_abort(struct net *n, long long now);
/* Hand the connected socket over to the caller. */
int net_take(struct net *n);
const char *net_res_name(int res);

#endif
