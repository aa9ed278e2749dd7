/* flockprobe: hold a file lock, or try to take one (busybox-static has no flock).
 *
 *   flockprobe hold PATH   take flock(LOCK_EX) on PATH (created), print "locked",
 *                          then sleep until killed, the lock held
 *   flockprobe try PATH    flock(LOCK_EX|LOCK_NB): exit 0 if it was free,
 *                          1 if someone holds it, 2 on any other error
 *
 * For the checkpoint tests: a lock held across checkpoint and restore
 * (--file-locks) must still be held by the restored process.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "hold") && strcmp(argv[1], "try"))) {
        fprintf(stderr, "usage: flockprobe hold|try PATH\n");
        return 2;
    }
    int fd = open(argv[2], O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        fprintf(stderr, "flockprobe: open %s: %s\n", argv[2], strerror(errno));
        return 2;
    }
    if (!strcmp(argv[1], "try")) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0)
            return 0;
        return errno == EWOULDBLOCK ? 1 : 2;
    }
    if (flock(fd, LOCK_EX) < 0) {
        fprintf(stderr, "flockprobe: flock: %s\n", strerror(errno));
        return 2;
    }
    printf("locked\n");
    fflush(stdout);
    for (;;)
        pause();
}
