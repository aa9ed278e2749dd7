/* sysprobe NR...: call each raw syscall number with all-zero arguments and
 * print "NR ERRNONAME" (or "NR ok").  Used with numbers whose zero-argument
 * call is harmless: clone3 (435) with size 0 is EINVAL when it is allowed,
 * and a number no kernel has is ENOSYS when it is allowed.  What a seccomp
 * filter answers instead is what the tests look at. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *name(int e)
{
    switch (e) {
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case EFAULT: return "EFAULT";
    case EXDEV: return "EXDEV";
    default: return strerror(e);
    }
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        long nr = atol(argv[i]);
        errno = 0;
        long r = syscall(nr, 0, 0, 0, 0, 0, 0);
        if (r < 0)
            printf("%ld %s\n", nr, name(errno));
        else
            printf("%ld ok\n", nr);
    }
    return 0;
}
