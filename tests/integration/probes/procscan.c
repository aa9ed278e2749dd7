/* procscan: the attacker of issue 19, run inside a container with CAP_SYS_PTRACE.
 *
 * Until the file STOP exists (or SECONDS have passed, a safety net) it walks
 * /proc again and again and, for every process but itself and pid 1, tries
 * what such a container can do with a process it sees:
 *   root    /proc/N/root/DECOY exists (DECOY is a file only the host has)
 *   cwd     /proc/N/cwd/CWDMARK exists (a file in the exec caller's cwd)
 *   fd      /proc/N/fd/K opens as a directory or regular file (fds 0-2 are the
 *           process's own stdio, given on purpose, and only checked for being
 *           directories), or as a pipe (K >= 3): a way to the runtime or the host
 *   exe     /proc/N/exe opens for writing (CVE-2019-5736)
 *   environ /proc/N/environ holds ENVMARK (set in the runtime's environment)
 *   caps    /proc/N/status shows effective or permitted capabilities outside
 *           ALLOWED (hex): a process that would hand a tracer more than the
 *           container's own processes have
 * Each finding is printed once per (kind, pid): "LEAK kind pid detail".  At the
 * end: "scanned N" (processes examined that were not ours), so that a scan that
 * saw nothing cannot pass for a clean one.
 *
 * usage: procscan STOP SECONDS DECOY CWDMARK ENVMARK ALLOWED
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char seen[4096][8];

static void leak(const char *kind, int pid, const char *detail)
{
    int slot = pid % 4096, k = kind[0] + kind[1];
    for (int i = 0; i < 8; i++) {
        if (seen[slot][i] == (char)k)
            return;
        if (!seen[slot][i]) {
            seen[slot][i] = (char)k;
            break;
        }
    }
    printf("LEAK %s %d %s\n", kind, pid, detail);
    fflush(stdout);
}

static unsigned long long capfield(const char *status, const char *name)
{
    const char *p = strstr(status, name);
    return p ? strtoull(p + strlen(name) + 1, NULL, 16) : 0;
}

int main(int argc, char **argv)
{
    if (argc != 7) {
        fprintf(stderr, "usage: procscan STOP SECONDS DECOY CWDMARK ENVMARK ALLOWED\n");
        return 2;
    }
    const char *stop = argv[1];
    double seconds = atof(argv[2]);
    const char *decoy = argv[3], *cwdmark = argv[4], *envmark = argv[5];
    unsigned long long allowed = strtoull(argv[6], NULL, 16);
    int self = getpid();
    long scanned = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char path[512], buf[8192], link[512];
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 > seconds)
            break;
        if (access(stop, F_OK) == 0)
            break;
        DIR *d = opendir("/proc");
        if (!d)
            return 3;
        struct dirent *e;
        while ((e = readdir(d))) {
            int pid = atoi(e->d_name);
            if (pid <= 1 || pid == self)
                continue;
            scanned++;
            snprintf(path, sizeof path, "/proc/%d/root%s", pid, decoy);
            if (access(path, F_OK) == 0)
                leak("root", pid, decoy);
            snprintf(path, sizeof path, "/proc/%d/cwd/%s", pid, cwdmark);
            if (access(path, F_OK) == 0)
                leak("cwd", pid, cwdmark);
            snprintf(path, sizeof path, "/proc/%d/exe", pid);
            int w = open(path, O_WRONLY | O_CLOEXEC);
            if (w >= 0) {
                close(w);
                leak("exe", pid, "opened for writing");
            }
            snprintf(path, sizeof path, "/proc/%d/environ", pid);
            int f = open(path, O_RDONLY | O_CLOEXEC);
            if (f >= 0) {
                ssize_t n = read(f, buf, sizeof buf - 1);
                close(f);
                if (n > 0 && memmem(buf, n, envmark, strlen(envmark)))
                    leak("environ", pid, envmark);
            }
            snprintf(path, sizeof path, "/proc/%d/status", pid);
            f = open(path, O_RDONLY | O_CLOEXEC);
            if (f >= 0) {
                ssize_t n = read(f, buf, sizeof buf - 1);
                close(f);
                if (n > 0) {
                    buf[n] = 0;
                    unsigned long long eff = capfield(buf, "CapEff:"), prm = capfield(buf, "CapPrm:");
                    if ((eff | prm) & ~allowed) {
                        snprintf(link, sizeof link, "CapEff=%llx CapPrm=%llx", eff, prm);
                        leak("caps", pid, link);
                    }
                }
            }
            snprintf(path, sizeof path, "/proc/%d/fd", pid);
            DIR *fds = opendir(path);
            if (!fds)
                continue;
            struct dirent *fe;
            while ((fe = readdir(fds))) {
                if (fe->d_name[0] == '.')
                    continue;
                int fd = atoi(fe->d_name);
                char fdpath[600];
                snprintf(fdpath, sizeof fdpath, "/proc/%d/fd/%d", pid, fd);
                struct stat st;
                if (stat(fdpath, &st) != 0)
                    continue;
                int bad = S_ISDIR(st.st_mode) || (fd >= 3 && (S_ISREG(st.st_mode) || S_ISFIFO(st.st_mode)));
                if (!bad)
                    continue;
                /* opening it is what the attack needs; a pipe is opened without blocking */
                int o = open(fdpath, (S_ISDIR(st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDWR | O_NONBLOCK) | O_CLOEXEC);
                if (o < 0 && S_ISREG(st.st_mode))
                    o = open(fdpath, O_RDONLY | O_CLOEXEC);
                if (o < 0)
                    continue;
                close(o);
                ssize_t n = readlink(fdpath, link, sizeof link - 1);
                link[n > 0 ? n : 0] = 0;
                char detail[700];
                snprintf(detail, sizeof detail, "fd %d -> %s", fd, link);
                leak("fd", pid, detail);
            }
            closedir(fds);
        }
        closedir(d);
    }
    printf("scanned %ld\n", scanned);
    return 0;
}
