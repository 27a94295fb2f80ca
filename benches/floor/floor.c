/*
 * The C floor of benches/footprint.rs (issue 14): the least a supervisor has to do to keep N
 * children running, so upkeep's figures can be read against it in the same run.
 *
 * usage: floor N PROGRAM [ARG...]
 *
 * Starts N copies of PROGRAM with posix_spawn and starts a copy again as soon as one exits:
 * SIGCHLD is blocked and taken with sigwaitinfo, then every exited child is reaped with a
 * waitpid(WNOHANG) loop (several exits may share one SIGCHLD). No polling, no timer: idle it
 * sleeps in sigwaitinfo. SIGTERM or SIGINT stops it: each child gets SIGTERM and is reaped
 * before the floor exits, so it leaves no process behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static char **child_argv;
static posix_spawnattr_t attr;

/* One child; -1 when it cannot be started (said on stderr, the slot stays empty). */
static pid_t spawn_one(void)
{
	pid_t pid;
	int err = posix_spawn(&pid, child_argv[0], NULL, &attr, child_argv, environ);
	if (err != 0) {
		fprintf(stderr, "floor: cannot start %s: %s\n", child_argv[0], strerror(err));
		return -1;
	}
	return pid;
}

int main(int argc, char **argv)
{
	if (argc < 3 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: floor N PROGRAM [ARG...]\n");
		return 64;
	}
	int n = atoi(argv[1]);
	child_argv = argv + 2;
	pid_t *kids = calloc((size_t)n, sizeof *kids);
	if (kids == NULL) {
		perror("floor: calloc");
		return 71;
	}

	sigset_t waited;
	sigemptyset(&waited);
	sigaddset(&waited, SIGCHLD);
	sigaddset(&waited, SIGTERM);
	sigaddset(&waited, SIGINT);
	sigprocmask(SIG_BLOCK, &waited, NULL);

	/* The children must not inherit the blocked mask: a child blocking SIGTERM outlives stop. */
	sigset_t none;
	sigemptyset(&none);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &waited);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

	for (int i = 0; i < n; i++)
		kids[i] = spawn_one();

	for (;;) {
		int sig = sigwaitinfo(&waited, NULL);
		if (sig < 0)
			continue; /* EINTR */
		if (sig != SIGCHLD)
			break;
		pid_t pid;
		while ((pid = waitpid(-1, NULL, WNOHANG)) > 0) {
			for (int i = 0; i < n; i++) {
				if (kids[i] == pid) {
					kids[i] = spawn_one();
					break;
				}
			}
		}
	}

	for (int i = 0; i < n; i++)
		if (kids[i] > 0)
			kill(kids[i], SIGTERM);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	free(kids);
	return 0;
}
