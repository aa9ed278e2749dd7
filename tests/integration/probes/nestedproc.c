/* nestedproc: can a container process mount a procfs of its own?
 *
 *   nestedproc DIR
 *
 * Unshares a user, mount and pid namespace (as `unshare -Urmpf` would; no
 * uid/gid maps: they are not needed to mount, and a container's root without
 * CAP_SETFCAP may not map itself), forks, and mounts a new procfs on DIR.
 * The kernel allows that only while the mount namespace holds a fully
 * visible procfs (mount_too_revealing in fs/namespace.c): the container's
 * own /proc has masked paths, so only a host's /proc left beneath the root
 * (--no-pivot) lets it through.  Prints "mounted" or "refused: <why>", exit 0;
 * exit 2 with a message when the probe itself failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: nestedproc DIR\n");
        return 2;
    }
    if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID) < 0) {
        fprintf(stderr, "nestedproc: unshare: %s\n", strerror(errno));
        return 2;
    }
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "nestedproc: fork: %s\n", strerror(errno));
        return 2;
    }
    if (pid == 0) {
        if (mount("proc", argv[1], "proc", 0, NULL) == 0)
            printf("mounted\n");
        else
            printf("refused: %s\n", strerror(errno));
        fflush(stdout);
        _exit(0);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
        return 2;
    return WEXITSTATUS(status);
}
