/* lwIP 2.1.3 (Debian liblwip-dev) answering on a TUN device.
 *
 * Our own driver rather than Debian's packaged tapif, which copies frames into a fixed
 * buffer (overflowing the heap on frames over ~600 bytes) and never sets NETIF_FLAG_MLD6.
 * A TUN carries bare IP packets, so the netif has no Ethernet: lwIP's tcpip_input hands
 * them to ip_input, and ip4/ip6 output go straight to the device.
 *
 * usage: lwip-tun DEV [IPV4 [IPV6]]   (defaults 172.16.0.2/24, fd00:16::2/64, fe80::2)
 */
#include <errno.h>
#include "tun.h"

#include "lwip/init.h"
#include "lwip/ip_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcpip.h"

static int tun_fd = -1;

/* Called in the tcpip thread with a complete packet (LWIP_NETIF_TX_SINGLE_PBUF). */
static err_t write_packet(struct pbuf *p)
{
    static unsigned char buf[65535];
    u16_t len = pbuf_copy_partial(p, buf, sizeof buf, 0);
    if (write(tun_fd, buf, len) < 0)
        return ERR_IF;
    return ERR_OK;
}

static err_t output_ip4(struct netif *netif, struct pbuf *p, const ip4_addr_t *next_hop)
{
    (void)netif; (void)next_hop;
    return write_packet(p);
}

static err_t output_ip6(struct netif *netif, struct pbuf *p, const ip6_addr_t *next_hop)
{
    (void)netif; (void)next_hop;
    return write_packet(p);
}

static err_t tun_netif_init(struct netif *netif)
{
    netif->name[0] = 't';
    netif->name[1] = 'n';
    netif->mtu = 1500;
    netif->mtu6 = 1500;
    netif->output = output_ip4;
    netif->output_ip6 = output_ip6;
    /* No ETHARP/ETHERNET flag: tcpip_input then passes packets to ip_input. */
    netif->flags = NETIF_FLAG_UP | NETIF_FLAG_LINK_UP | NETIF_FLAG_MLD6;
    return ERR_OK;
}

int main(int argc, char **argv)
{
    static struct netif netif;
    ip4_addr_t addr, mask, gw;
    ip6_addr_t global6, local6;
    const char *v4 = argc > 2 ? argv[2] : "172.16.0.2";
    const char *v6 = argc > 3 ? argv[3] : "fd00:16::2";
    static unsigned char buf[65535];

    if (argc < 2) {
        fprintf(stderr, "usage: lwip-tun DEV [IPV4 [IPV6]]\n");
        return 2;
    }
    if (!ip4addr_aton(v4, &addr) || !ip6addr_aton(v6, &global6)
        || !ip6addr_aton("fe80::2", &local6)) {
        fprintf(stderr, "lwip-tun: bad address\n");
        return 2;
    }
    tun_fd = league_open_tun(argv[1], 0);
    tcpip_init(NULL, NULL);
    IP4_ADDR(&mask, 255, 255, 255, 0);
    ip4_addr_set_zero(&gw);

    LOCK_TCPIP_CORE();
    netif_add(&netif, &addr, &mask, &gw, NULL, tun_netif_init, tcpip_input);
    ip6_addr_assign_zone(&local6, IP6_UNICAST, &netif);
    netif_ip6_addr_set(&netif, 0, &local6);
    netif_ip6_addr_set_state(&netif, 0, IP6_ADDR_PREFERRED);
    netif_ip6_addr_set(&netif, 1, &global6);
    netif_ip6_addr_set_state(&netif, 1, IP6_ADDR_PREFERRED);
    netif_set_default(&netif);
    netif_set_up(&netif);
    netif_set_link_up(&netif);
    UNLOCK_TCPIP_CORE();

    fprintf(stderr, "lwip-tun: lwIP %s answers on %s as %s, %s, fe80::2\n",
            LWIP_VERSION_STRING, argv[1], v4, v6);
    for (;;) {
        ssize_t n = read(tun_fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("lwip-tun: read");
            return 1;
        }
        if (n == 0)
            continue;
        /* PBUF_RAM (one contiguous buffer), not PBUF_POOL: with Debian's build a chain of
         * pool pbufs for a packet over ~600 bytes corrupts the heap ("malloc(): corrupted
         * top size", found by hand with ping -s 600), which is what its tapif does. */
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
        if (p == NULL)
            continue;
        pbuf_take(p, buf, (u16_t)n);
        if (netif.input(p, &netif) != ERR_OK)
            pbuf_free(p);
    }
}
