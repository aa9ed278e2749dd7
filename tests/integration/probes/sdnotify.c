/* sdnotify: send one sd_notify(3) datagram to $NOTIFY_SOCKET (busybox-static
 * has no systemd-notify).
 *
 *   sdnotify MESSAGE   MESSAGE as it is ("\n" in it separates KEY=VALUE
 *                      lines, as the shell gives it); exit 0 once sent,
 *                      1 if sendto failed, 2 without NOTIFY_SOCKET
 *
 * For the NOTIFY_SOCKET tests: the container's READY= goes to the socket the
 * runtime binds in its notify directory, mounted at /run/notify.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

int main(int argc, char **argv)
{
    const char *path = getenv("NOTIFY_SOCKET");
    if (!path || argc != 2) {
        fprintf(stderr, "usage: NOTIFY_SOCKET=PATH sdnotify MESSAGE\n");
        return 2;
    }
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    strncpy(addr.sun_path, path, sizeof addr.sun_path - 1);
    if (fd < 0 || sendto(fd, argv[1], strlen(argv[1]), 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("sdnotify: sendto");
        return 1;
    }
    return 0;
}
