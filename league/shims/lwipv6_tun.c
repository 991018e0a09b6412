/* LWIPv6 1.5a (Debian liblwipv6-dev) answering on a TUN device.
 *
 * LWIPv6 runs its own threads and opens the TUN device itself (lwip_add_tunif with the
 * device name); this program only creates a stack, gives the interface its addresses
 * (IPv4 addresses are IPv4-mapped IPv6 in LWIPv6's API) and waits.
 *
 * usage: lwipv6-tun DEV [IPV4 [IPV6]]   (defaults 172.16.0.2/24, fd00:16::2/64, fe80::2)
 */
#include <arpa/inet.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <lwipv6.h>

static int parse_addr(const char *text, struct ip_addr *addr)
{
    struct in_addr v4;
    struct in6_addr v6;
    if (inet_pton(AF_INET, text, &v4) == 1) {
        addr->addr[0] = 0;
        addr->addr[1] = 0;
        addr->addr[2] = IP64_PREFIX;
        addr->addr[3] = v4.s_addr;
        return 1;
    }
    if (inet_pton(AF_INET6, text, &v6) == 1) {
        memcpy(addr->addr, v6.s6_addr, 16);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct ip_addr v4, v4mask, global6, local6, mask64;
    const char *v4text = argc > 2 ? argv[2] : "172.16.0.2";
    const char *v6text = argc > 3 ? argv[3] : "fd00:16::2";

    if (argc < 2) {
        fprintf(stderr, "usage: lwipv6-tun DEV [IPV4 [IPV6]]\n");
        return 2;
    }
    if (!parse_addr(v4text, &v4) || !parse_addr(v6text, &global6)
        || !parse_addr("fe80::2", &local6)) {
        fprintf(stderr, "lwipv6-tun: bad address\n");
        return 2;
    }
    IP64_MASKADDR(&v4mask, 255, 255, 255, 0);
    IP6_ADDR(&mask64, 0xffff, 0xffff, 0xffff, 0xffff, 0, 0, 0, 0);

    struct stack *stack = lwip_stack_new();
    if (stack == NULL) {
        fprintf(stderr, "lwipv6-tun: lwip_stack_new failed\n");
        return 1;
    }
    struct netif *netif = lwip_add_tunif(stack, argv[1], NETIF_STD_FLAGS);
    if (netif == NULL) {
        fprintf(stderr, "lwipv6-tun: cannot open TUN device %s\n", argv[1]);
        return 1;
    }
    if (lwip_add_addr(netif, &v4, &v4mask) < 0 || lwip_add_addr(netif, &global6, &mask64) < 0
        || lwip_add_addr(netif, &local6, &mask64) < 0) {
        fprintf(stderr, "lwipv6-tun: cannot add the addresses\n");
        return 1;
    }
    /* The corpus's peers sit outside the interface's subnets (10.x.y.z, fd00:16::a:...):
     * default routes out of the one interface (a TUN needs no next-hop resolution). */
    struct ip_addr any4, any4mask, gw4, any6, gw6;
    IP64_ADDR(&any4, 0, 0, 0, 0);
    IP64_MASKADDR(&any4mask, 0, 0, 0, 0);
    IP64_ADDR(&gw4, 172, 16, 0, 1);
    memset(&any6, 0, sizeof any6);
    parse_addr("fd00:16::1", &gw6);
    if (lwip_add_route(stack, &any4, &any4mask, &gw4, netif, 0) < 0
        || lwip_add_route(stack, &any6, &any6, &gw6, netif, 0) < 0) {
        fprintf(stderr, "lwipv6-tun: cannot add the default routes\n");
        return 1;
    }
    lwip_ifup(netif);
    fprintf(stderr, "lwipv6-tun: LWIPv6 answers on %s as %s, %s, fe80::2\n", argv[1],
            v4text, v6text);
    for (;;)
        pause();
}
