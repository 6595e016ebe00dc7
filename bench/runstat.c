/*
 * runstat — run a command and print what it cost, the same way for every
 * client that bench/fetch compares:
 *
 *	wall_s cpu_s own_kb tree_kb exit
 *
 * wall_s	monotonic time from fork to the last wait4
 * cpu_s	user + system time of the command and every descendant it
 *		waited for (wait4's rusage)
 * own_kb	VmHWM of the command's own process, read from
 *		/proc/PID/status at its exit (a PTRACE_O_TRACEEXIT stop, while
 *		its memory still exists), so a helper such as fetchmail's MDA
 *		is not counted in
 * tree_kb	the largest peak in the tree: ru_maxrss from wait4 (the command
 *		and its waited-for descendants), at least own_kb.  The forked
 *		child's image before exec counts in ru_maxrss: build runstat
 *		static with musl (about 0.1 MB) so that it does not hide small
 *		clients
 * exit		the exit status, or 128+N for a signal
 *
 * usage: runstat [-o FILE] -- COMMAND [ARG...]   (the line goes to FILE,
 * else to stderr; the command's stdin, stdout and stderr are untouched)
 * build: musl-gcc -static -O2 -o runstat runstat.c (or cc)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long
hwm_kb(pid_t pid)
{
	char path[64], line[256];
	FILE *f;
	long kb = -1;

	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmHWM:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

int
main(int argc, char **argv)
{
	const char *out = NULL;
	struct rusage ru;
	double t0, t1;
	long own = -1;
	pid_t pid;
	int i = 1, st, code, sig;
	FILE *f;

	if (i + 1 < argc && strcmp(argv[i], "-o") == 0) {
		out = argv[i + 1];
		i += 2;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc) {
		fprintf(stderr, "usage: runstat [-o FILE] -- COMMAND "
		    "[ARG...]\n");
		return 2;
	}
	t0 = now();
	pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return 2;
	}
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(126);
		execvp(argv[i], argv + i);
		fprintf(stderr, "runstat: %s: %s\n", argv[i], strerror(errno));
		_exit(127);
	}
	/* the first stop is the exec's SIGTRAP */
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) {
		fprintf(stderr, "runstat: the command did not start\n");
		return 2;
	}
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_TRACEEXIT |
	    PTRACE_O_EXITKILL));
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	for (;;) {
		if (wait4(pid, &st, 0, &ru) < 0) {
			if (errno == EINTR)
				continue;
			perror("runstat: wait4");
			return 2;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if (sig == SIGTRAP && (st >> 16) == PTRACE_EVENT_EXIT) {
			own = hwm_kb(pid);
			sig = 0;
		} else if (sig == SIGTRAP)
			sig = 0;
		/* pass every other signal on (SIGCHLD, SIGPIPE, …) */
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
	}
	t1 = now();
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	f = out != NULL ? fopen(out, "w") : stderr;
	if (f == NULL) {
		perror(out);
		return 2;
	}
	fprintf(f, "%.4f %.4f %ld %ld %d\n", t1 - t0,
	    ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6, own,
	    ru.ru_maxrss > own ? ru.ru_maxrss : own, code);
	if (f != stderr)
		fclose(f);
	return code;
}
