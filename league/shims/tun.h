/* Open (or create) the TUN device NAME without packet information (IFF_NO_PI), bring
 * it up and return its file descriptor; print one line and exit 1 on failure. Shared by
 * the C shims of the league. */
#ifndef LEAGUE_TUN_H
#define LEAGUE_TUN_H

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int league_open_tun(const char *name, int tap)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR);
    if (fd < 0) {
        perror("league shim: open /dev/net/tun");
        exit(1);
    }
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = (tap ? IFF_TAP : IFF_TUN) | IFF_NO_PI;
    strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        fprintf(stderr, "league shim: TUNSETIFF %s: %s\n", name, strerror(errno));
        exit(1);
    }
    /* The device must be up for the kernel side to inject into it. */
    int sock = socket(AF_INET, SOCK_DGRAM, 0);
    if (sock >= 0 && ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0)
            fprintf(stderr, "league shim: cannot bring %s up: %s\n", name, strerror(errno));
    }
    if (sock >= 0)
        close(sock);
    return fd;
}

#endif
