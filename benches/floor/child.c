/*
 * The child both supervisors of benches/footprint.rs keep running (issue 14).
 *
 * usage: child FIFO
 *
 * First thing on start it takes CLOCK_MONOTONIC and writes one 16-byte record, its pid and that
 * time in nanoseconds (two native-endian int64), to FIFO; then it sleeps in pause() until a
 * signal ends it. The bench holds the FIFO open for reading and writing, so the open never
 * blocks and never fails with ENXIO; a record is far below PIPE_BUF, so each write is atomic and
 * records of many children never interleave. The timestamp is the child's own: a restart is
 * "kill -> the replacement runs", not "kill -> the supervisor says so".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

struct record {
	int64_t pid;
	int64_t monotonic_ns;
};

int main(int argc, char **argv)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (argc != 2) {
		fprintf(stderr, "usage: child FIFO\n");
		return 64;
	}
	struct record r = {
		.pid = getpid(),
		.monotonic_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec,
	};
	int fd = open(argv[1], O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 || write(fd, &r, sizeof r) != (ssize_t)sizeof r)
		perror("child: cannot report to the bench");
	if (fd >= 0)
		close(fd);
	for (;;)
		pause();
}
