/*
 * loop.c — the poll() loop over session slots.  See loop.h.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include "loop.h"

long long
loop_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
abort_all(struct loop_slot *slot, int nslot, long long now)
{
	int i;

	for (i = 0; i < nslot; i++)
		if (slot[i].busy) {
			slot[i].ops->abort(slot[i].arg, now);
			slot[i].busy = 0;
		}
}

int
loop_run(struct loop_slot *slot, int nslot, struct pollfd *pfd,
    long long deadline, struct err *e)
{
	long long now, wake, w, ms;
	int i, n, busy, r;

	for (;;) {
		now = loop_now();
		if (deadline > 0 && now >= deadline) {
			abort_all(slot, nslot, now);
			return 1;
		}
		wake = deadline;
		n = 0;
		busy = 0;
		for (i = 0; i < nslot; i++) {
			if (!slot[i].busy)
				continue;
			busy++;
			w = 0;
			slot[i].pfd0 = n;
			slot[i].npfd = slot[i].ops->prepare(slot[i].arg,
			    pfd + n, LOOP_SLOT_FDS, &w);
			n += slot[i].npfd;
			if (w > 0 && (wake == 0 || w < wake))
				wake = w;
		}
		if (busy == 0)
			return 0;
		if (wake == 0)
			ms = -1;
		else if (wake <= now)
			ms = 0;
		else
			ms = wake - now < INT_MAX ? wake - now : INT_MAX;
		r = poll(pfd, (nfds_t)n, (int)ms);
		if (r < 0 && errno != EINTR) {
			err_set(e, EX_OSERR, "poll: %s", strerror(errno));
			abort_all(slot, nslot, loop_now());
			return -1;
		}
		if (r < 0)
			for (i = 0; i < n; i++)
				pfd[i].revents = 0;
		now = loop_now();
		for (i = 0; i < nslot; i++) {
			if (!slot[i].busy)
				continue;
			if (slot[i].ops->dispatch(slot[i].arg,
			    pfd + slot[i].pfd0, slot[i].npfd, now) != 0)
				slot[i].busy = 0;
		}
	}
}
