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
 *
 * Loop mode, for one process per message without a shell loop's own
 * processes in the figures:
 *
 *	runstat [-o FILE] [-t SECONDS] -d DIR -- COMMAND [ARG...]
 *
 * runs COMMAND once for each DIR/m*.eml in name order, with that file as
 * its stdin, each run killed after SECONDS (default 600; it then counts
 * as failed), and prints one line for all of them:
 *
 *	wall_s cpu_s own_kb tree_kb nbad
 *
 * wall from the first fork to the last exit, cpu summed, own_kb and
 * tree_kb the largest of any run, nbad the runs that did not exit 0.
 * build: musl-gcc -static -O2 -o runstat runstat.c (or cc)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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

static int timeout_s = 600;
static pid_t child;

static void
on_alarm(int sig)
{
	(void)sig;
	if (child > 0)
		kill(child, SIGKILL);
}

/* Run argv once (stdin from `in` unless NULL): 0, or -1 if it did not
 * start; *code, *cpu, *own, *tree are its figures. */
static int
run1(char **argv, const char *in, int *code, double *cpu, long *own,
    long *tree)
{
	struct rusage ru;
	pid_t pid;
	int st, sig, fd;

	*own = -1;
	pid = fork();
	if (pid < 0) {
		perror("runstat: fork");
		return -1;
	}
	if (pid == 0) {
		if (in != NULL) {
			if ((fd = open(in, O_RDONLY)) < 0 || dup2(fd, 0) < 0) {
				perror(in);
				_exit(127);
			}
			close(fd);
		}
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr, "runstat: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	child = pid;
	/* the first stop is the exec's SIGTRAP */
	if (waitpid(pid, &st, 0) < 0 || !WIFSTOPPED(st)) {
		fprintf(stderr, "runstat: the command did not start\n");
		return -1;
	}
	ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)(PTRACE_O_TRACEEXIT |
	    PTRACE_O_EXITKILL));
	alarm((unsigned int)timeout_s);
	ptrace(PTRACE_CONT, pid, NULL, NULL);
	for (;;) {
		if (wait4(pid, &st, 0, &ru) < 0) {
			if (errno == EINTR)
				continue;
			perror("runstat: wait4");
			return -1;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st))
			break;
		if (!WIFSTOPPED(st))
			continue;
		sig = WSTOPSIG(st);
		if (sig == SIGTRAP && (st >> 16) == PTRACE_EVENT_EXIT) {
			*own = hwm_kb(pid);
			sig = 0;
		} else if (sig == SIGTRAP)
			sig = 0;
		/* pass every other signal on (SIGCHLD, SIGPIPE, …) */
		ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
	}
	alarm(0);
	child = 0;
	*code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	*cpu = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	*tree = ru.ru_maxrss > *own ? ru.ru_maxrss : *own;
	return 0;
}

static int
is_msg(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] == 'm' && n > 4 &&
	    strcmp(d->d_name + n - 4, ".eml") == 0;
}

int
main(int argc, char **argv)
{
	const char *out = NULL, *dir = NULL;
	struct dirent **names = NULL;
	char path[4096];
	double t0, t1, cpu, sum = 0;
	long own, tree, maxown = -1, maxtree = -1;
	int i = 1, k, n = 1, code = 0, bad = 0;
	FILE *f;

	while (i + 1 < argc && argv[i][0] == '-' && argv[i][1] != '-') {
		if (strcmp(argv[i], "-o") == 0)
			out = argv[i + 1];
		else if (strcmp(argv[i], "-d") == 0)
			dir = argv[i + 1];
		else if (strcmp(argv[i], "-t") == 0)
			timeout_s = atoi(argv[i + 1]);
		else
			break;
		i += 2;
	}
	if (i < argc && strcmp(argv[i], "--") == 0)
		i++;
	if (i >= argc || timeout_s <= 0) {
		fprintf(stderr, "usage: runstat [-o FILE] [-t SECONDS] "
		    "[-d DIR] -- COMMAND [ARG...]\n");
		return 2;
	}
	signal(SIGALRM, on_alarm);
	if (dir != NULL && (n = scandir(dir, &names, is_msg, alphasort)) < 0) {
		perror(dir);
		return 2;
	}
	t0 = now();
	for (k = 0; k < n; k++) {
		if (dir != NULL)
			snprintf(path, sizeof path, "%s/%s", dir,
			    names[k]->d_name);
		if (run1(argv + i, dir != NULL ? path : NULL, &code, &cpu,
		    &own, &tree) < 0)
			return 2;
		sum += cpu;
		if (own > maxown)
			maxown = own;
		if (tree > maxtree)
			maxtree = tree;
		bad += code != 0;
	}
	t1 = now();
	f = out != NULL ? fopen(out, "w") : stderr;
	if (f == NULL) {
		perror(out);
		return 2;
	}
	/* the last field: runs that failed (loop mode), else the exit */
	fprintf(f, "%.4f %.4f %ld %ld %d\n", t1 - t0, sum, maxown, maxtree,
	    dir != NULL ? bad : code);
	if (f != stderr)
		fclose(f);
	return dir != NULL ? bad != 0 : code;
}
