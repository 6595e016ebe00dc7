/*
 * loop.h — one poll() loop over session slots (libubox style: each slot
 * says which fds it waits on and when its next timer is due; the loop
 * sleeps until the earliest of them).
 *
 * The slots are allocated once by the caller; a slot is busy while it has
 * work.  Per turn the loop asks every busy slot to prepare (fill its
 * pollfds, at most LOOP_SLOT_FDS, and lower *wake to its next timer),
 * polls, then lets every busy slot dispatch; a slot returning nonzero
 * from dispatch is idle from then on (the caller may give it more work
 * first: a slot stays busy as long as dispatch returns 0).
 *
 * Time is CLOCK_MONOTONIC milliseconds everywhere (loop_now).  At the
 * run deadline every busy slot is told to abort (it must end its session
 * at once, without waiting for the peer) and the loop returns 1.
 */
#ifndef LOOP_H
#define LOOP_H

#include <poll.h>
#include "tern.h"

#define LOOP_SLOT_FDS	8	/* pollfds one slot may use (= NET_ADDRS_MAX) */

struct loop_ops {
	/* Fill pfd[0..max) and return the count (0 is fine: a timer only);
	 * set *wake (0 = none) to the next due time. */
	int (*prepare)(void *arg, struct pollfd *pfd, int max,
	    long long *wake);
	/* Act on the poll result (revents may all be 0: a timer or a poll
	 * interrupted).  Return nonzero when the slot has no more work. */
	int (*dispatch)(void *arg, const struct pollfd *pfd, int n,
	    long long now);
	/* The run deadline passed: stop now. */
	void (*abort)(void *arg, long long now);
};

struct loop_slot {
	const struct loop_ops *ops;
	void *arg;
	int busy;
	int pfd0, npfd;			/* this turn's pollfds */
};

long long loop_now(void);

/* Run until no slot is busy (0) or until deadline (monotonic ms, 0 =
 * none) has passed (1).  pfd must hold nslot * LOOP_SLOT_FDS entries.
 * -1 when poll() itself fails (every busy slot aborted, e set). */
int loop_run(struct loop_slot *slot, int nslot, struct pollfd *pfd,
    long long deadline, struct err *e);

#endif
