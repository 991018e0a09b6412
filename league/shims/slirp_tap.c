/* libslirp 4.7 (Debian libslirp-dev) answering on a TAP device.
 *
 * libslirp is bytes in, bytes out: Ethernet frames from the "guest" go to slirp_input,
 * and slirp hands its answers to the send_packet callback. Here the guest network is the
 * TAP device and slirp's virtual host (vhost) is the stack under test. restricted=1: slirp
 * opens no host sockets (no NAT to the outside), so it only answers for itself.
 *
 * usage: slirp-tap DEV [IPV4 [IPV6]]   (defaults 172.16.0.2 in 172.16.0.0/24, fd00:16::2/64)
 */
#include <arpa/inet.h>
#include <poll.h>
#include <time.h>
#include "tun.h"

#include <slirp/libslirp.h>

static int tap_fd = -1;

static ssize_t send_packet(const void *buf, size_t len, void *opaque)
{
    (void)opaque;
    return write(tap_fd, buf, len);
}

static void guest_error(const char *msg, void *opaque)
{
    (void)opaque;
    fprintf(stderr, "slirp-tap: guest error: %s\n", msg);
}

static int64_t clock_get_ns(void *opaque)
{
    struct timespec ts;
    (void)opaque;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One timer is enough: slirp 4.7 arms only the IPv6 router-advertisement timer. */
struct timer {
    SlirpTimerCb cb;
    void *cb_opaque;
    int64_t expire_ms; /* -1: not armed */
};
static struct timer the_timer = {NULL, NULL, -1};

static void *timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
    (void)opaque;
    the_timer.cb = cb;
    the_timer.cb_opaque = cb_opaque;
    the_timer.expire_ms = -1;
    return &the_timer;
}

static void timer_free(void *timer, void *opaque)
{
    (void)opaque;
    ((struct timer *)timer)->expire_ms = -1;
}

static void timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    ((struct timer *)timer)->expire_ms = expire_ms;
}

static void register_poll_fd(int fd, void *opaque) { (void)fd; (void)opaque; }
static void unregister_poll_fd(int fd, void *opaque) { (void)fd; (void)opaque; }
static void notify(void *opaque) { (void)opaque; }

/* restricted=1 leaves slirp no sockets of its own to poll; it still asks, and gets none. */
static int add_poll(int fd, int events, void *opaque)
{
    (void)fd; (void)events; (void)opaque;
    return -1;
}

static int get_revents(int idx, void *opaque)
{
    (void)idx; (void)opaque;
    return 0;
}

int main(int argc, char **argv)
{
    static const SlirpCb callbacks = {
        .send_packet = send_packet,
        .guest_error = guest_error,
        .clock_get_ns = clock_get_ns,
        .timer_new = timer_new,
        .timer_free = timer_free,
        .timer_mod = timer_mod,
        .register_poll_fd = register_poll_fd,
        .unregister_poll_fd = unregister_poll_fd,
        .notify = notify,
    };
    SlirpConfig cfg;
    static uint8_t buf[65536];
    const char *v4 = argc > 2 ? argv[2] : "172.16.0.2";
    const char *v6 = argc > 3 ? argv[3] : "fd00:16::2";

    if (argc < 2) {
        fprintf(stderr, "usage: slirp-tap DEV [IPV4 [IPV6]]\n");
        return 2;
    }
    memset(&cfg, 0, sizeof cfg);
    cfg.version = 4;
    cfg.restricted = 1;
    cfg.in_enabled = true;
    cfg.in6_enabled = true;
    cfg.disable_dns = true;
    cfg.disable_dhcp = true;
    if (inet_pton(AF_INET, v4, &cfg.vhost) != 1 || inet_pton(AF_INET6, v6, &cfg.vhost6) != 1) {
        fprintf(stderr, "slirp-tap: bad address\n");
        return 2;
    }
    cfg.vnetmask.s_addr = htonl(0xffffff00);
    cfg.vnetwork.s_addr = cfg.vhost.s_addr & cfg.vnetmask.s_addr;
    /* slirp insists on a DHCP range and name server inside the network, even unused. */
    cfg.vdhcp_start.s_addr = cfg.vnetwork.s_addr | htonl(15);
    cfg.vnameserver.s_addr = cfg.vnetwork.s_addr | htonl(3);
    cfg.vprefix_addr6 = cfg.vhost6;
    memset(&cfg.vprefix_addr6.s6_addr[8], 0, 8);
    cfg.vprefix_len = 64;
    cfg.vnameserver6 = cfg.vprefix_addr6;
    cfg.vnameserver6.s6_addr[15] = 3;
    cfg.vhostname = "league";

    tap_fd = league_open_tun(argv[1], 1);
    Slirp *slirp = slirp_new(&cfg, &callbacks, NULL);
    if (slirp == NULL) {
        fprintf(stderr, "slirp-tap: slirp_new failed\n");
        return 1;
    }
    fprintf(stderr, "slirp-tap: libslirp %s answers on %s as %s, %s (restricted)\n",
            slirp_version_string(), argv[1], v4, v6);
    for (;;) {
        uint32_t timeout = 100; /* ms: slirp's fragment and TCP timers run from the poll */
        struct pollfd pfd = {.fd = tap_fd, .events = POLLIN};
        slirp_pollfds_fill(slirp, &timeout, add_poll, NULL);
        int ready = poll(&pfd, 1, (int)timeout);
        slirp_pollfds_poll(slirp, ready < 0, get_revents, NULL);
        if (the_timer.expire_ms >= 0 && clock_get_ns(NULL) / 1000000 >= the_timer.expire_ms) {
            the_timer.expire_ms = -1;
            the_timer.cb(the_timer.cb_opaque);
        }
        if (ready > 0 && (pfd.revents & POLLIN)) {
            ssize_t n = read(tap_fd, buf, sizeof buf);
            if (n > 0)
                slirp_input(slirp, buf, (int)n);
        }
    }
}
