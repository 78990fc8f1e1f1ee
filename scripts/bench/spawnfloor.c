/*
 * The spawn floor of the benchmark: the least work a supervisor must do to
 * run N services. It posix_spawn()s N copies of a command, prints how long
 * that took, then waits for SIGTERM (or SIGINT/SIGHUP), sends SIGTERM to
 * every child and reaps them all before it exits 0.
 *
 *   spawnfloor N COMMAND [ARG...]        e.g. spawnfloor 1000 sleep 100000
 *
 * bench.py builds it with `cc -O2` and runs it like any supervisor, so its
 * startup, RSS and shutdown are measured by the same code as the others'.
 * glibc's posix_spawn returns once the child has exec'd, so when the last
 * call returns all N children exist.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s N COMMAND [ARG...]\n", argv[0]);
        return 2;
    }
    long n = strtol(argv[1], NULL, 10);
    if (n <= 0) {
        fprintf(stderr, "spawnfloor: N must be a positive number, got %s\n", argv[1]);
        return 2;
    }
    pid_t *pids = calloc((size_t)n, sizeof *pids);
    if (!pids) {
        perror("spawnfloor: calloc");
        return 1;
    }

    /* Block the stop signals before spawning, so one arriving early is kept
     * for sigwait; the children get an empty mask and default handlers. */
    sigset_t stop, empty;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGHUP);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &stop, NULL);

    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setsigmask(&attr, &empty);
    posix_spawnattr_setsigdefault(&attr, &stop);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

    double t0 = now_ms();
    long spawned = 0;
    for (long i = 0; i < n; i++) {
        int err = posix_spawnp(&pids[i], argv[2], NULL, &attr, &argv[2], environ);
        if (err) {
            fprintf(stderr, "spawnfloor: posix_spawnp %s: %s\n", argv[2], strerror(err));
            break;
        }
        spawned++;
    }
    double t1 = now_ms();
    printf("spawned %ld of %ld in %.2f ms\n", spawned, n, t1 - t0);
    fflush(stdout);

    int sig = 0;
    if (spawned == n)
        sigwait(&stop, &sig);
    for (long i = 0; i < spawned; i++)
        kill(pids[i], SIGTERM);
    while (wait(NULL) > 0 || errno == EINTR) {
    }
    return spawned == n ? 0 : 1;
}
